//! UDP header view (RFC 768).

use crate::bytes;
use crate::error::WireError;

/// Header length.
pub const HEADER_LEN: usize = 8;

/// Field offsets (RFC 768).
pub mod field {
    use std::ops::Range;
    /// Source port.
    pub const SRC_PORT: Range<usize> = 0..2;
    /// Destination port.
    pub const DST_PORT: Range<usize> = 2..4;
    /// Length, header included.
    pub const LENGTH: Range<usize> = 4..6;
    /// Checksum (0 = none, IPv4 only).
    pub const CHECKSUM: Range<usize> = 6..8;
}

/// A view of a UDP datagram. Both constructors prove the header is present and
/// `len() >= 8`; [`UdpPacket::new_checked`] also proves `len()` bytes are present.
#[derive(Debug, Clone)]
pub struct UdpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> UdpPacket<T> {
    /// A complete datagram (`len()` bytes present; extra bytes ignored).
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let u = Self::new_checked_header(buffer)?;
        if usize::from(u.len()) > u.buffer.as_ref().len() {
            return Err(WireError::UdpHeaderLength);
        }
        Ok(u)
    }

    /// Only the header present, as in a first fragment.
    pub fn new_checked_header(buffer: T) -> Result<Self, WireError> {
        if buffer.as_ref().len() < HEADER_LEN {
            return Err(WireError::UdpHeaderLength);
        }
        let u = UdpPacket { buffer };
        if usize::from(u.len()) < HEADER_LEN {
            return Err(WireError::UdpHeaderLength);
        }
        Ok(u)
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Source port.
    pub fn src_port(&self) -> u16 {
        bytes::be16(self.buffer.as_ref(), field::SRC_PORT.start)
    }

    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        bytes::be16(self.buffer.as_ref(), field::DST_PORT.start)
    }

    /// Length field (header included).
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> u16 {
        bytes::be16(self.buffer.as_ref(), field::LENGTH.start)
    }

    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        bytes::be16(self.buffer.as_ref(), field::CHECKSUM.start)
    }

    /// Payload up to the length field, or to the end of the buffer if that comes first.
    pub fn payload(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        let end = usize::from(self.len()).min(b.len());
        &b[HEADER_LEN..end]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> UdpPacket<T> {
    /// Sets the source port (checksum not updated).
    pub fn set_src_port(&mut self, p: u16) {
        bytes::set_be16(self.buffer.as_mut(), field::SRC_PORT.start, p);
    }

    /// Sets the destination port (checksum not updated).
    pub fn set_dst_port(&mut self, p: u16) {
        bytes::set_be16(self.buffer.as_mut(), field::DST_PORT.start, p);
    }

    /// Sets the checksum field.
    pub fn set_checksum(&mut self, c: u16) {
        bytes::set_be16(self.buffer.as_mut(), field::CHECKSUM.start, c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_checks() {
        let mut h = [0u8; 12];
        assert_eq!(
            UdpPacket::new_checked(&h[..7]).unwrap_err(),
            WireError::UdpHeaderLength
        );
        h[5] = 7;
        assert_eq!(
            UdpPacket::new_checked(&h[..]).unwrap_err(),
            WireError::UdpHeaderLength
        );
        h[5] = 13;
        assert_eq!(
            UdpPacket::new_checked(&h[..]).unwrap_err(),
            WireError::UdpHeaderLength
        );
        assert_eq!(
            UdpPacket::new_checked_header(&h[..])
                .unwrap()
                .payload()
                .len(),
            4
        );
        h[5] = 10;
        assert_eq!(UdpPacket::new_checked(&h[..]).unwrap().payload().len(), 2);
    }
}

//! TCP header view (RFC 9293 §3.1).

use crate::bytes;
use crate::error::WireError;

/// Header length without options.
pub const MIN_HEADER_LEN: usize = 20;

/// FIN flag.
pub const FIN: u8 = 0x01;
/// SYN flag.
pub const SYN: u8 = 0x02;
/// RST flag.
pub const RST: u8 = 0x04;
/// PSH flag.
pub const PSH: u8 = 0x08;
/// ACK flag.
pub const ACK: u8 = 0x10;
/// URG flag.
pub const URG: u8 = 0x20;
/// ECE flag (RFC 3168).
pub const ECE: u8 = 0x40;
/// CWR flag (RFC 3168).
pub const CWR: u8 = 0x80;

/// Field offsets (RFC 9293 §3.1).
pub mod field {
    use std::ops::Range;
    /// Source port.
    pub const SRC_PORT: Range<usize> = 0..2;
    /// Destination port.
    pub const DST_PORT: Range<usize> = 2..4;
    /// Sequence number.
    pub const SEQ: Range<usize> = 4..8;
    /// Acknowledgment number.
    pub const ACK: Range<usize> = 8..12;
    /// Data offset (high nibble, 32-bit words).
    pub const DATA_OFF: usize = 12;
    /// Flags (CWR … FIN).
    pub const FLAGS: usize = 13;
    /// Window.
    pub const WINDOW: Range<usize> = 14..16;
    /// Checksum.
    pub const CHECKSUM: Range<usize> = 16..18;
    /// Urgent pointer.
    pub const URGENT: Range<usize> = 18..20;
}

/// A view of a TCP segment; `new_checked` proves the header with its options is present.
#[derive(Debug, Clone)]
pub struct TcpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> TcpPacket<T> {
    /// Checks the fixed header is present and the data offset is within 5..=len/4.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        if b.len() < MIN_HEADER_LEN {
            return Err(WireError::TcpHeaderLength);
        }
        let hl = usize::from(b[field::DATA_OFF] >> 4) * 4;
        if hl < MIN_HEADER_LEN || hl > b.len() {
            return Err(WireError::TcpHeaderLength);
        }
        Ok(TcpPacket { buffer })
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

    /// Sequence number.
    pub fn seq_number(&self) -> u32 {
        bytes::be32(self.buffer.as_ref(), field::SEQ.start)
    }

    /// Acknowledgment number.
    pub fn ack_number(&self) -> u32 {
        bytes::be32(self.buffer.as_ref(), field::ACK.start)
    }

    /// Header length in bytes, options included.
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::DATA_OFF] >> 4) * 4
    }

    /// Flags byte (see the flag constants).
    pub fn flags(&self) -> u8 {
        self.buffer.as_ref()[field::FLAGS]
    }

    /// Window.
    pub fn window(&self) -> u16 {
        bytes::be16(self.buffer.as_ref(), field::WINDOW.start)
    }

    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        bytes::be16(self.buffer.as_ref(), field::CHECKSUM.start)
    }

    /// Urgent pointer.
    pub fn urgent(&self) -> u16 {
        bytes::be16(self.buffer.as_ref(), field::URGENT.start)
    }

    /// Options bytes.
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[MIN_HEADER_LEN..self.header_len()]
    }

    /// Bytes after the header (to the end of the buffer).
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TcpPacket<T> {
    /// Sets the source port (checksum not updated).
    pub fn set_src_port(&mut self, p: u16) {
        bytes::set_be16(self.buffer.as_mut(), field::SRC_PORT.start, p);
    }

    /// Sets the destination port (checksum not updated).
    pub fn set_dst_port(&mut self, p: u16) {
        bytes::set_be16(self.buffer.as_mut(), field::DST_PORT.start, p);
    }

    /// Sets the sequence number (checksum not updated).
    pub fn set_seq_number(&mut self, v: u32) {
        bytes::set_be32(self.buffer.as_mut(), field::SEQ.start, v);
    }

    /// Sets the acknowledgment number (checksum not updated).
    pub fn set_ack_number(&mut self, v: u32) {
        bytes::set_be32(self.buffer.as_mut(), field::ACK.start, v);
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
    fn header_length_checks() {
        let mut h = [0u8; 24];
        assert_eq!(
            TcpPacket::new_checked(&h[..19]).unwrap_err(),
            WireError::TcpHeaderLength
        );
        h[12] = 0x40;
        assert_eq!(
            TcpPacket::new_checked(&h[..]).unwrap_err(),
            WireError::TcpHeaderLength
        );
        h[12] = 0x70;
        assert_eq!(
            TcpPacket::new_checked(&h[..]).unwrap_err(),
            WireError::TcpHeaderLength
        );
        h[12] = 0x60;
        let t = TcpPacket::new_checked(&h[..]).unwrap();
        assert_eq!(t.options().len(), 4);
        assert!(t.payload().is_empty());
    }
}

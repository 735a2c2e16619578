//! GRE header view: version 0 (RFC 2784 with the RFC 2890 key and sequence extensions)
//! and version 1, the enhanced GRE of PPTP (RFC 2637 §4.1).

use crate::bytes;
use crate::checksum;
use crate::error::WireError;

/// Fixed part: flags/version and protocol type.
pub const BASE_LEN: usize = 4;

/// Checksum present (RFC 2784 §2.1).
pub const FLAG_C: u16 = 0x8000;
/// Routing present (RFC 1701; reserved in RFC 2784). When set the checksum/offset word is
/// present too; the routing list itself is not walked.
pub const FLAG_R: u16 = 0x4000;
/// Key present (RFC 2890 §2; always set in version 1).
pub const FLAG_K: u16 = 0x2000;
/// Sequence number present (RFC 2890 §2).
pub const FLAG_S: u16 = 0x1000;
/// Acknowledgment number present (version 1 only, RFC 2637 §4.1).
pub const FLAG_A: u16 = 0x0080;
/// Version mask.
pub const VERSION_MASK: u16 = 0x0007;

/// PPP, the payload protocol of enhanced GRE (RFC 2637 §4.1).
pub const PROTOCOL_PPP: u16 = 0x880b;

/// Field offsets of the fixed part; the optional words follow in the order checksum
/// (+ reserved/offset), key, sequence, acknowledgment.
pub mod field {
    use std::ops::Range;
    /// Flags and version.
    pub const FLAGS_VERSION: Range<usize> = 0..2;
    /// Protocol type (an ethertype).
    pub const PROTOCOL: Range<usize> = 2..4;
}

/// A view of a GRE packet; `new_checked` proves the version is 0 or 1 and every optional
/// word announced by the flags is present.
#[derive(Debug, Clone)]
pub struct GrePacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> GrePacket<T> {
    /// Checks version and header length.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        if b.len() < BASE_LEN {
            return Err(WireError::GreTruncated);
        }
        let g = GrePacket { buffer };
        if g.version() > 1 {
            return Err(WireError::GreVersion {
                version: g.version(),
            });
        }
        if g.header_len() > g.buffer.as_ref().len() {
            return Err(WireError::GreTruncated);
        }
        Ok(g)
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Flags and version word.
    pub fn flags(&self) -> u16 {
        bytes::be16(self.buffer.as_ref(), field::FLAGS_VERSION.start)
    }

    /// Version (0 or 1 after the checks).
    pub fn version(&self) -> u8 {
        (self.flags() & VERSION_MASK) as u8
    }

    /// Protocol type.
    pub fn protocol(&self) -> u16 {
        bytes::be16(self.buffer.as_ref(), field::PROTOCOL.start)
    }

    fn has_checksum_word(&self) -> bool {
        self.flags() & (FLAG_C | FLAG_R) != 0
    }

    /// Offset of the key word, if present.
    pub fn key_offset(&self) -> Option<usize> {
        (self.flags() & FLAG_K != 0).then(|| BASE_LEN + 4 * usize::from(self.has_checksum_word()))
    }

    fn seq_offset(&self) -> usize {
        let f = self.flags();
        BASE_LEN + 4 * usize::from(self.has_checksum_word()) + 4 * usize::from(f & FLAG_K != 0)
    }

    fn ack_present(&self) -> bool {
        self.version() == 1 && self.flags() & FLAG_A != 0
    }

    /// Header length: 4 plus 4 for each optional word present.
    pub fn header_len(&self) -> usize {
        let f = self.flags();
        self.seq_offset() + 4 * usize::from(f & FLAG_S != 0) + 4 * usize::from(self.ack_present())
    }

    /// Checksum field, if the C bit is set.
    pub fn checksum(&self) -> Option<u16> {
        (self.flags() & FLAG_C != 0).then(|| bytes::be16(self.buffer.as_ref(), BASE_LEN))
    }

    /// Key field (version 1: payload length << 16 | call id), if present.
    pub fn key(&self) -> Option<u32> {
        self.key_offset()
            .map(|o| bytes::be32(self.buffer.as_ref(), o))
    }

    /// Version 1 call id (low half of the key).
    pub fn call_id(&self) -> Option<u16> {
        if self.version() != 1 {
            return None;
        }
        self.key().map(|k| k as u16)
    }

    /// Sequence number, if present.
    pub fn seq(&self) -> Option<u32> {
        (self.flags() & FLAG_S != 0).then(|| bytes::be32(self.buffer.as_ref(), self.seq_offset()))
    }

    /// Version 1 acknowledgment number, if present.
    pub fn ack(&self) -> Option<u32> {
        let off = self.seq_offset() + 4 * usize::from(self.flags() & FLAG_S != 0);
        self.ack_present()
            .then(|| bytes::be32(self.buffer.as_ref(), off))
    }

    /// True if there is no checksum or it verifies over header and payload (RFC 2784 §2.5).
    pub fn verify_checksum(&self) -> bool {
        self.checksum().is_none() || checksum::is_valid_sum(checksum::sum(self.buffer.as_ref(), 0))
    }

    /// Bytes after the header.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_header() {
        // K, S, A set; version 1; PPP; payload len 0x0010, call id 0x4242; seq 7; ack 6.
        let h = [
            0x30, 0x81, 0x88, 0x0b, 0x00, 0x10, 0x42, 0x42, 0, 0, 0, 7, 0, 0, 0, 6,
        ];
        let g = GrePacket::new_checked(&h[..]).unwrap();
        assert_eq!(g.version(), 1);
        assert_eq!(g.header_len(), 16);
        assert_eq!(g.key(), Some(0x0010_4242));
        assert_eq!(g.call_id(), Some(0x4242));
        assert_eq!(g.seq(), Some(7));
        assert_eq!(g.ack(), Some(6));
        assert_eq!(
            GrePacket::new_checked(&h[..15]).unwrap_err(),
            WireError::GreTruncated
        );
        let bad = [0x00, 0x02, 0x08, 0x00];
        assert_eq!(
            GrePacket::new_checked(&bad[..]).unwrap_err(),
            WireError::GreVersion { version: 2 }
        );
    }
}

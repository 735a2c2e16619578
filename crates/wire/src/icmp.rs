//! ICMP (RFC 792) and ICMPv6 (RFC 4443) header view and message classification.
//!
//! Both share the first 8 bytes: type, code, checksum, then 4 type-specific bytes
//! (identifier and sequence for queries, unused/MTU/pointer for errors, after which an
//! error quotes the offending packet).

use crate::bytes;
use crate::error::WireError;

/// Header length (including the 4 type-specific bytes).
pub const HEADER_LEN: usize = 8;

/// Field offsets.
pub mod field {
    use std::ops::Range;
    /// Type.
    pub const TYPE: usize = 0;
    /// Code.
    pub const CODE: usize = 1;
    /// Checksum (ICMPv4: over the message; ICMPv6: also a pseudo header, RFC 4443 §2.3).
    pub const CHECKSUM: Range<usize> = 2..4;
    /// Query identifier.
    pub const IDENT: Range<usize> = 4..6;
    /// Query sequence number.
    pub const SEQ: Range<usize> = 6..8;
    /// Type-specific 4 bytes.
    pub const REST: Range<usize> = 4..8;
}

/// ICMPv4 message types (RFC 792, RFC 950).
pub mod v4 {
    /// Echo reply.
    pub const ECHO_REPLY: u8 = 0;
    /// Destination unreachable.
    pub const DEST_UNREACH: u8 = 3;
    /// Source quench (deprecated by RFC 6633, still an error).
    pub const SOURCE_QUENCH: u8 = 4;
    /// Redirect.
    pub const REDIRECT: u8 = 5;
    /// Echo request.
    pub const ECHO_REQUEST: u8 = 8;
    /// Time exceeded.
    pub const TIME_EXCEEDED: u8 = 11;
    /// Parameter problem.
    pub const PARAM_PROBLEM: u8 = 12;
    /// Timestamp request.
    pub const TIMESTAMP: u8 = 13;
    /// Timestamp reply.
    pub const TIMESTAMP_REPLY: u8 = 14;
    /// Information request.
    pub const INFO_REQUEST: u8 = 15;
    /// Information reply.
    pub const INFO_REPLY: u8 = 16;
    /// Address mask request (RFC 950).
    pub const ADDR_MASK_REQUEST: u8 = 17;
    /// Address mask reply (RFC 950).
    pub const ADDR_MASK_REPLY: u8 = 18;
    /// Destination unreachable code: communication administratively prohibited (RFC 1812 §5.2.7.1).
    pub const CODE_ADMIN_PROHIBITED: u8 = 13;
}

/// ICMPv6 message types (RFC 4443).
pub mod v6 {
    /// Destination unreachable.
    pub const DEST_UNREACH: u8 = 1;
    /// Packet too big.
    pub const PACKET_TOO_BIG: u8 = 2;
    /// Time exceeded.
    pub const TIME_EXCEEDED: u8 = 3;
    /// Parameter problem.
    pub const PARAM_PROBLEM: u8 = 4;
    /// Echo request.
    pub const ECHO_REQUEST: u8 = 128;
    /// Echo reply.
    pub const ECHO_REPLY: u8 = 129;
    /// Destination unreachable code: administratively prohibited.
    pub const CODE_ADMIN_PROHIBITED: u8 = 1;
}

/// What role a message type plays for a stateful firewall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IcmpClass {
    /// A query request carrying an identifier (starts a session).
    Request,
    /// The reply to a [`IcmpClass::Request`] with the same identifier.
    Reply,
    /// An error quoting the packet that caused it.
    Error,
    /// Anything else (router/neighbor discovery, MLD, unknown types).
    Other,
}

/// Classifies an ICMPv4 type (RFC 792, RFC 950; RFC 1812 §4.3.2.7 for which are errors).
pub fn classify_v4(icmp_type: u8) -> IcmpClass {
    use v4::*;
    match icmp_type {
        ECHO_REQUEST | TIMESTAMP | INFO_REQUEST | ADDR_MASK_REQUEST => IcmpClass::Request,
        ECHO_REPLY | TIMESTAMP_REPLY | INFO_REPLY | ADDR_MASK_REPLY => IcmpClass::Reply,
        DEST_UNREACH | SOURCE_QUENCH | REDIRECT | TIME_EXCEEDED | PARAM_PROBLEM => IcmpClass::Error,
        _ => IcmpClass::Other,
    }
}

/// Classifies an ICMPv6 type (RFC 4443 §2.1). Unknown types below 128 are errors by
/// number but their body is unknown, so they classify as `Other`; see
/// [`is_v6_error_type`].
pub fn classify_v6(icmp_type: u8) -> IcmpClass {
    use v6::*;
    match icmp_type {
        ECHO_REQUEST => IcmpClass::Request,
        ECHO_REPLY => IcmpClass::Reply,
        DEST_UNREACH | PACKET_TOO_BIG | TIME_EXCEEDED | PARAM_PROBLEM => IcmpClass::Error,
        _ => IcmpClass::Other,
    }
}

/// ICMPv6 types 0..=127 are error messages (RFC 4443 §2.1).
pub fn is_v6_error_type(icmp_type: u8) -> bool {
    icmp_type < 128
}

/// A view of an ICMP or ICMPv6 message; `new_checked` proves the 8-byte header present.
#[derive(Debug, Clone)]
pub struct IcmpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> IcmpPacket<T> {
    /// Checks the 8-byte header is present.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        if buffer.as_ref().len() < HEADER_LEN {
            return Err(WireError::IcmpTruncated);
        }
        Ok(IcmpPacket { buffer })
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Message type.
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[field::TYPE]
    }

    /// Code.
    pub fn code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }

    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        bytes::be16(self.buffer.as_ref(), field::CHECKSUM.start)
    }

    /// Query identifier (meaningful for queries only).
    pub fn ident(&self) -> u16 {
        bytes::be16(self.buffer.as_ref(), field::IDENT.start)
    }

    /// Query sequence number (meaningful for queries only).
    pub fn seq(&self) -> u16 {
        bytes::be16(self.buffer.as_ref(), field::SEQ.start)
    }

    /// The 4 type-specific bytes as a big-endian word.
    pub fn rest_of_header(&self) -> u32 {
        bytes::be32(self.buffer.as_ref(), 4)
    }

    /// Bytes after the 8-byte header (the quoted packet for errors).
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> IcmpPacket<T> {
    /// Sets the query identifier (checksum not updated).
    pub fn set_ident(&mut self, id: u16) {
        bytes::set_be16(self.buffer.as_mut(), field::IDENT.start, id);
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
    fn classification() {
        assert_eq!(classify_v4(8), IcmpClass::Request);
        assert_eq!(classify_v4(0), IcmpClass::Reply);
        assert_eq!(classify_v4(3), IcmpClass::Error);
        assert_eq!(classify_v4(9), IcmpClass::Other);
        assert_eq!(classify_v6(128), IcmpClass::Request);
        assert_eq!(classify_v6(2), IcmpClass::Error);
        assert_eq!(classify_v6(135), IcmpClass::Other);
        assert!(IcmpPacket::new_checked(&[0u8; 7][..]).is_err());
        let m = [8u8, 0, 0xaa, 0xbb, 0x12, 0x34, 0, 1, 0xff];
        let p = IcmpPacket::new_checked(&m[..]).unwrap();
        assert_eq!(
            (p.msg_type(), p.ident(), p.seq(), p.payload()),
            (8, 0x1234, 1, &[0xff][..])
        );
    }
}

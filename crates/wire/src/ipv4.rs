//! IPv4 header view (RFC 791 §3.1), options allowed.

use std::net::Ipv4Addr;

use crate::bytes;
use crate::checksum;
use crate::error::WireError;

/// Header length without options.
pub const MIN_HEADER_LEN: usize = 20;

/// Field offsets (RFC 791 §3.1).
pub mod field {
    use std::ops::Range;
    /// Version (high nibble) and IHL (low nibble, 32-bit words).
    pub const VER_IHL: usize = 0;
    /// DSCP and ECN (former TOS).
    pub const TOS: usize = 1;
    /// Total length, header included.
    pub const LENGTH: Range<usize> = 2..4;
    /// Identification.
    pub const IDENT: Range<usize> = 4..6;
    /// Flags (3 bits) and fragment offset (13 bits, 8-byte units).
    pub const FLG_OFF: Range<usize> = 6..8;
    /// Time to live.
    pub const TTL: usize = 8;
    /// Protocol.
    pub const PROTOCOL: usize = 9;
    /// Header checksum.
    pub const CHECKSUM: Range<usize> = 10..12;
    /// Source address.
    pub const SRC: Range<usize> = 12..16;
    /// Destination address.
    pub const DST: Range<usize> = 16..20;
}

/// Don't-fragment flag in the flags/offset word.
pub const FLAG_DF: u16 = 0x4000;
/// More-fragments flag in the flags/offset word.
pub const FLAG_MF: u16 = 0x2000;
/// Fragment offset mask in the flags/offset word.
pub const OFFSET_MASK: u16 = 0x1fff;

/// A view of an IPv4 packet.
///
/// Both constructors prove `header_len() <= buffer length` and `total_len() >= header_len()`;
/// [`Ipv4Packet::new_checked`] also proves the whole datagram (`total_len()`) is present.
#[derive(Debug, Clone)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// A complete datagram: header and `total_len` bytes present (extra bytes, e.g.
    /// Ethernet padding, are ignored by [`Ipv4Packet::payload`]).
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let p = Self::new_checked_header(buffer)?;
        if usize::from(p.total_len()) > p.buffer.as_ref().len() {
            return Err(WireError::IpTotalLength);
        }
        Ok(p)
    }

    /// Only the header (with options) present, as in the quote of an ICMP error; the
    /// payload may be cut short.
    pub fn new_checked_header(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        let first = *b.first().ok_or(WireError::IpTruncated)?;
        if first >> 4 != 4 {
            return Err(WireError::IpVersion {
                version: first >> 4,
            });
        }
        if b.len() < MIN_HEADER_LEN {
            return Err(WireError::IpTruncated);
        }
        let hl = usize::from(first & 0x0f) * 4;
        if hl < MIN_HEADER_LEN {
            return Err(WireError::IpHeaderLength);
        }
        if hl > b.len() {
            return Err(WireError::IpTruncated);
        }
        let p = Ipv4Packet { buffer };
        if usize::from(p.total_len()) < hl {
            return Err(WireError::IpTotalLength);
        }
        Ok(p)
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Version nibble (always 4 after the checks).
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_IHL] >> 4
    }

    /// Header length in bytes, options included.
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::VER_IHL] & 0x0f) * 4
    }

    /// DSCP/ECN byte.
    pub fn tos(&self) -> u8 {
        self.buffer.as_ref()[field::TOS]
    }

    /// Total length field.
    pub fn total_len(&self) -> u16 {
        bytes::be16(self.buffer.as_ref(), field::LENGTH.start)
    }

    /// Identification field.
    pub fn ident(&self) -> u16 {
        bytes::be16(self.buffer.as_ref(), field::IDENT.start)
    }

    /// DF flag.
    pub fn dont_frag(&self) -> bool {
        bytes::be16(self.buffer.as_ref(), field::FLG_OFF.start) & FLAG_DF != 0
    }

    /// MF flag.
    pub fn more_frags(&self) -> bool {
        bytes::be16(self.buffer.as_ref(), field::FLG_OFF.start) & FLAG_MF != 0
    }

    /// Fragment offset in bytes.
    pub fn frag_offset(&self) -> u16 {
        (bytes::be16(self.buffer.as_ref(), field::FLG_OFF.start) & OFFSET_MASK) << 3
    }

    /// True if this is a fragment (MF set or nonzero offset).
    pub fn is_fragment(&self) -> bool {
        self.more_frags() || self.frag_offset() != 0
    }

    /// Time to live.
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }

    /// Protocol number.
    pub fn protocol(&self) -> u8 {
        self.buffer.as_ref()[field::PROTOCOL]
    }

    /// Header checksum field.
    pub fn checksum(&self) -> u16 {
        bytes::be16(self.buffer.as_ref(), field::CHECKSUM.start)
    }

    /// Source address.
    pub fn src_addr(&self) -> Ipv4Addr {
        let b = self.buffer.as_ref();
        Ipv4Addr::new(b[12], b[13], b[14], b[15])
    }

    /// Destination address.
    pub fn dst_addr(&self) -> Ipv4Addr {
        let b = self.buffer.as_ref();
        Ipv4Addr::new(b[16], b[17], b[18], b[19])
    }

    /// The header bytes, options included.
    pub fn header(&self) -> &[u8] {
        &self.buffer.as_ref()[..self.header_len()]
    }

    /// Options bytes (empty when IHL is 5).
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[MIN_HEADER_LEN..self.header_len()]
    }

    /// True if the header checksum verifies (RFC 791 §3.1, computed per RFC 1071).
    pub fn verify_checksum(&self) -> bool {
        checksum::is_valid_sum(checksum::sum(self.header(), 0))
    }

    /// Payload up to the total length, or to the end of the buffer if that comes first.
    pub fn payload(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        let end = usize::from(self.total_len()).min(b.len());
        &b[self.header_len()..end]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    /// Sets the TTL (checksum not updated).
    pub fn set_ttl(&mut self, ttl: u8) {
        self.buffer.as_mut()[field::TTL] = ttl;
    }

    /// Sets the checksum field.
    pub fn set_checksum(&mut self, c: u16) {
        bytes::set_be16(self.buffer.as_mut(), field::CHECKSUM.start, c);
    }

    /// Sets the source address (checksum not updated).
    pub fn set_src_addr(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&a.octets());
    }

    /// Sets the destination address (checksum not updated).
    pub fn set_dst_addr(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&a.octets());
    }

    /// Recomputes the header checksum from scratch.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let c = checksum::compute(self.header());
        self.set_checksum(c);
    }
}

/// Writes a 20-byte header without options into `out[..20]` with a correct checksum.
/// Returns `None` if `out` is shorter than 20 bytes.
#[allow(clippy::too_many_arguments)]
pub fn emit_header(
    out: &mut [u8],
    tos: u8,
    total_len: u16,
    ident: u16,
    flags_offset: u16,
    ttl: u8,
    protocol: u8,
    src: Ipv4Addr,
    dst: Ipv4Addr,
) -> Option<()> {
    let h = out.get_mut(..MIN_HEADER_LEN)?;
    h[0] = 0x45;
    h[1] = tos;
    h[2..4].copy_from_slice(&total_len.to_be_bytes());
    h[4..6].copy_from_slice(&ident.to_be_bytes());
    h[6..8].copy_from_slice(&flags_offset.to_be_bytes());
    h[8] = ttl;
    h[9] = protocol;
    h[10..12].copy_from_slice(&[0, 0]);
    h[12..16].copy_from_slice(&src.octets());
    h[16..20].copy_from_slice(&dst.octets());
    let c = checksum::compute(h);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    Some(())
}

/// The options of an IPv4 header (RFC 791 §3.1 "Options"): each option's type octet, in
/// order. End of Option List (type 0) ends the list; No Operation (type 1) is one octet and
/// skipped; every other option has a length octet counting the type and length octets. An
/// option whose length is below 2 or runs past `options` yields [`WireError::IpOption`]
/// and ends the iteration.
pub fn options(options: &[u8]) -> OptionTypes<'_> {
    OptionTypes {
        inner: options_bytes(options),
    }
}

/// Option type octet of End of Option List (RFC 791 §3.1).
pub const OPTION_EOL: u8 = 0;
/// Option type octet of No Operation (RFC 791 §3.1).
pub const OPTION_NOP: u8 = 1;

/// Option number of Loose Source and Record Route (RFC 791 §3.1).
pub const OPTION_NUMBER_LSRR: u8 = 3;
/// Option number of Strict Source and Record Route (RFC 791 §3.1).
pub const OPTION_NUMBER_SSRR: u8 = 9;

/// The option number of a type octet: its low five bits (after the copied flag and the
/// two class bits, RFC 791 §3.1).
pub const fn option_number(option_type: u8) -> u8 {
    option_type & 0x1f
}

/// Iterator of [`options`].
#[derive(Debug, Clone)]
pub struct OptionTypes<'a> {
    inner: Options<'a>,
}

impl Iterator for OptionTypes<'_> {
    type Item = Result<u8, WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(self.inner.next()?.map(|o| o[0]))
    }
}

/// The options of an IPv4 header as in [`options`], each as its whole bytes (type,
/// length, data), for the callers that read an option's data.
pub fn options_bytes(options: &[u8]) -> Options<'_> {
    Options { rest: options }
}

/// Iterator of [`options_bytes`]; every item is at least two bytes long.
#[derive(Debug, Clone)]
pub struct Options<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Options<'a> {
    type Item = Result<&'a [u8], WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (&t, after) = self.rest.split_first()?;
            match t {
                OPTION_EOL => {
                    self.rest = &[];
                    return None;
                }
                OPTION_NOP => self.rest = after,
                _ => {
                    let len = after.first().map_or(0, |&l| usize::from(l));
                    if len < 2 || len > self.rest.len() {
                        self.rest = &[];
                        return Some(Err(WireError::IpOption));
                    }
                    let (opt, rest) = self.rest.split_at(len);
                    self.rest = rest;
                    return Some(Ok(opt));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_in_order() {
        assert_eq!(
            Ipv4Packet::new_checked(&[][..]).unwrap_err(),
            WireError::IpTruncated
        );
        assert_eq!(
            Ipv4Packet::new_checked(&[0x60u8; 40][..]).unwrap_err(),
            WireError::IpVersion { version: 6 }
        );
        assert_eq!(
            Ipv4Packet::new_checked(&[0x45u8; 19][..]).unwrap_err(),
            WireError::IpTruncated
        );
        let mut h = [0u8; 24];
        h[0] = 0x44;
        assert_eq!(
            Ipv4Packet::new_checked(&h[..]).unwrap_err(),
            WireError::IpHeaderLength
        );
        h[0] = 0x46;
        h[3] = 20;
        assert_eq!(
            Ipv4Packet::new_checked(&h[..]).unwrap_err(),
            WireError::IpTotalLength
        );
        h[3] = 28;
        assert_eq!(
            Ipv4Packet::new_checked(&h[..]).unwrap_err(),
            WireError::IpTotalLength
        );
        let p = Ipv4Packet::new_checked_header(&h[..]).unwrap();
        assert_eq!(p.payload(), &[] as &[u8]);
        h[3] = 24;
        let p = Ipv4Packet::new_checked(&h[..]).unwrap();
        assert_eq!(p.options().len(), 4);
    }

    /// (option bytes, the types yielded, ends malformed).
    #[test]
    fn option_types_in_order_and_malformed_ones() {
        let cases: &[(&[u8], &[u8], bool)] = &[
            (&[], &[], false),
            (&[1, 1, 1, 1], &[], false),
            // Router alert (RFC 2113: type 148, length 4), then end of list and garbage.
            (&[148, 4, 0, 0, 0, 0xff, 0xff, 0xff], &[148], false),
            // Record route (type 7, length 7, pointer 4, one slot) then NOP, timestamp.
            (&[7, 7, 4, 0, 0, 0, 0, 1, 68, 4, 5, 0], &[7, 68], false),
            (&[131, 1, 0, 0], &[], true),
            (&[131, 0], &[], true),
            (&[7, 9, 4, 0], &[], true),
            (&[1, 130], &[], true),
            (&[148, 4, 0, 0, 7, 12, 4, 0], &[148], true),
        ];
        for &(bytes, types, malformed) in cases {
            let got: Vec<_> = options(bytes).collect();
            let ok: Vec<u8> = got.iter().filter_map(|r| r.ok()).collect();
            assert_eq!(ok, types, "{bytes:?}");
            assert_eq!(
                got.last() == Some(&Err(WireError::IpOption)),
                malformed,
                "{bytes:?}"
            );
        }
        assert_eq!(option_number(131), 3);
        assert_eq!(option_number(68), 4);
        assert_eq!(option_number(148), 20);
    }

    #[test]
    fn emit_then_verify() {
        let mut b = [0u8; 20];
        emit_header(
            &mut b,
            0,
            20,
            1,
            FLAG_DF,
            64,
            6,
            [10, 0, 0, 1].into(),
            [10, 0, 0, 2].into(),
        )
        .unwrap();
        let p = Ipv4Packet::new_checked(&b[..]).unwrap();
        assert!(p.verify_checksum());
        assert!(p.dont_frag());
        assert!(!p.is_fragment());
    }
}

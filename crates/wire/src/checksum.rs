//! Internet checksum: full computation (RFC 1071) and incremental update (RFC 1624).
//!
//! Partial sums are `u32` values already folded to 16 bits, so they compose with
//! [`combine`] and finish with [`finish`]. A checksum field verifies when the sum over
//! the covered bytes (checksum field included) folds to `0xffff` ([`is_valid_sum`]).

use std::net::{Ipv4Addr, Ipv6Addr};

/// Folds a wide one's-complement sum to 16 bits (end-around carry, RFC 1071 §4.1).
#[inline]
pub fn fold(mut sum: u64) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// Adds `data` as big-endian 16-bit words to the partial sum `acc` (RFC 1071 §4.1).
///
/// An odd trailing byte counts as the high byte of a word padded with zero, so `data`
/// must start at an even offset of the checksummed region for the result to be right.
pub fn sum(data: &[u8], acc: u32) -> u32 {
    let mut s = u64::from(acc);
    // Summing 32-bit words into a 64-bit accumulator is the same one's-complement sum
    // (2^16 ≡ 1 mod 0xffff) with a quarter of the additions; no overflow below 2^32 bytes.
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_be_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        s += (w >> 32) + (w & 0xffff_ffff);
    }
    let mut words = chunks.remainder().chunks_exact(2);
    for w in &mut words {
        s += u64::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [b] = words.remainder() {
        s += u64::from(*b) << 8;
    }
    u32::from(fold(s))
}

/// Combines two partial sums.
#[inline]
pub fn combine(a: u32, b: u32) -> u32 {
    u32::from(fold(u64::from(a) + u64::from(b)))
}

/// Turns a partial sum into the value to store in a checksum field.
#[inline]
pub fn finish(acc: u32) -> u16 {
    !fold(u64::from(acc))
}

/// True if a partial sum taken over a region *including* its checksum field verifies.
#[inline]
pub fn is_valid_sum(acc: u32) -> bool {
    fold(u64::from(acc)) == 0xffff
}

/// RFC 1071 checksum of `data` (the value to store in a zeroed checksum field).
pub fn compute(data: &[u8]) -> u16 {
    finish(sum(data, 0))
}

/// Partial sum of the IPv4 pseudo header (RFC 793 §3.1 / RFC 9293 §3.1, RFC 768).
pub fn pseudo_header_v4(src: &Ipv4Addr, dst: &Ipv4Addr, proto: u8, len: u16) -> u32 {
    let s = sum(&src.octets(), 0);
    let s = sum(&dst.octets(), s);
    combine(s, u32::from(proto) + u32::from(len))
}

/// Partial sum of the IPv6 pseudo header (RFC 8200 §8.1); `len` is the upper-layer length.
pub fn pseudo_header_v6(src: &Ipv6Addr, dst: &Ipv6Addr, proto: u8, len: u32) -> u32 {
    let s = sum(&src.octets(), 0);
    let s = sum(&dst.octets(), s);
    let s = combine(s, (len >> 16) + (len & 0xffff));
    combine(s, u32::from(proto))
}

/// RFC 1624 eqn. 3: `HC' = ~(~HC + ~m + m')` for one 16-bit word changing from `old`
/// to `new`. Eqn. 3 (not eqn. 2) so that the result never becomes `-0` spuriously.
#[inline]
pub fn update16(old_csum: u16, old: u16, new: u16) -> u16 {
    let s = u64::from(!old_csum) + u64::from(!old) + u64::from(new);
    !fold(s)
}

/// [`update16`] for a 32-bit field (two adjacent, even-aligned words).
#[inline]
pub fn update32(old_csum: u16, old: u32, new: u32) -> u16 {
    let s = u64::from(!old_csum)
        + u64::from(!(old >> 16) as u16)
        + u64::from(!(old as u16))
        + u64::from(new >> 16)
        + u64::from(new & 0xffff);
    !fold(s)
}

/// [`update16`] for a run of bytes changing from `old` to `new` (addresses, ports).
///
/// Both runs must start at the same even offset of the checksummed region; they are
/// normally of equal length (a shorter one counts as zero-padded).
pub fn update_bytes(old_csum: u16, old: &[u8], new: &[u8]) -> u16 {
    let s = u64::from(!old_csum) + u64::from(!(sum(old, 0) as u16)) + u64::from(sum(new, 0));
    !fold(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3 example: 00 01 f2 03 f4 f5 f6 f7 sums to 0xddf2.
        let d = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(sum(&d, 0), 0xddf2);
        assert_eq!(compute(&d), !0xddf2);
    }

    #[test]
    fn odd_length_pads_low_byte() {
        assert_eq!(sum(&[0x12, 0x34, 0x56], 0), 0x1234 + 0x5600);
        // Same sum whether the 8-byte fast path is taken or not.
        let d: Vec<u8> = (0u8..=250).collect();
        let naive = d
            .chunks(2)
            .map(|c| u64::from(c[0]) << 8 | u64::from(*c.get(1).unwrap_or(&0)))
            .sum::<u64>();
        assert_eq!(sum(&d, 0), u32::from(fold(naive)));
    }

    #[test]
    fn incremental_matches_full() {
        let mut d = [
            0x45u8, 0, 0, 0x54, 0x12, 0x34, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        let c = compute(&d);
        d[10..12].copy_from_slice(&c.to_be_bytes());
        let old = [d[12], d[13], d[14], d[15]];
        let new = [192, 168, 1, 77];
        d[12..16].copy_from_slice(&new);
        let inc = update_bytes(c, &old, &new);
        d[10..12].copy_from_slice(&[0, 0]);
        assert_eq!(inc, compute(&d));
        assert_eq!(
            update32(c, u32::from_be_bytes(old), u32::from_be_bytes(new)),
            inc
        );
    }

    #[test]
    fn update16_rfc1624_example() {
        // RFC 1624 §4: HC = 0xdd2f, m = 0x5555 -> m' = 0x3285 gives HC' = 0x0000.
        assert_eq!(update16(0xdd2f, 0x5555, 0x3285), 0x0000);
    }
}

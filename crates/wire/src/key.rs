//! The flow key: the one definition of "which flow is this packet", used by the session
//! table, the owner (shard) function and, ported, the XDP steering program.
//!
//! Port conventions, chosen so that `reversed(forward key) == reply key` for every
//! protocol:
//! - TCP, UDP, SCTP: the real source and destination ports.
//! - ICMP / ICMPv6 *queries* (echo, timestamp, information, address mask; ICMPv6 echo
//!   128/129): a request has `src_port = identifier, dst_port = 0`, a reply has
//!   `src_port = 0, dst_port = identifier`.
//! - ICMP errors: ports 0 in the outer key; [`crate::parse::InnerPacket`] carries the key
//!   of the quoted packet as it was sent.
//! - GRE and every other protocol, and non-first fragments: ports 0 (a 3-tuple).
//! - Enhanced GRE (version 1, PPTP) has a second key, the *call key* ([`FlowKey::gre_call`],
//!   [`crate::Parsed::call_key`]): the 3-tuple with the call id of the GRE key (the
//!   receiver's Call ID, RFC 2637 §4.1) as `dst_port` and [`GRE_CALL_MARK`] as `src_port`,
//!   so that no call key equals a 3-tuple (call id 0 included). A packet carries only
//!   the receiver's id, so the call key of a reply is not the reverse of the forward one:
//!   sessions keyed by call id (the PPTP ALG's, under port translation) hold both keys
//!   explicitly, and the engine looks a version 1 packet up by its call key first, then by
//!   the 3-tuple (every other GRE session). The owner function hashes GRE on the 3-tuple.
//! - ESP has a second key too, the *SPI key* ([`FlowKey::esp_spi`],
//!   [`crate::parse::second_key`]): the 3-tuple with the SPI's halves as ports (never
//!   both 0: SPI 0 is not sent, RFC 4303 §2.1). The IKE ALG keys the inbound ESP of an
//!   inside host behind NAPT by it; it is looked up before the 3-tuple.
//! - A DS-Lite flow (RFC 6333) arrives as IPv4 in IPv6 from a B4; the AFTR tells apart
//!   B4s that use the same private IPv4 address (§7), so its inside key is the *softwire
//!   key* ([`FlowKey::softwire`]): the B4's IPv6 address as source, and as destination
//!   an address of the discard-only prefix `100::/64` (RFC 6666) whose low 64 bits are
//!   the inner source and destination IPv4 addresses; ports and protocol are the inner
//!   packet's. Its reply (the translated IPv4 flow) is an ordinary key.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Addresses, ports and IP protocol of a packet (see the module doc for the port
/// conventions). Both addresses are of the same family for keys made by the parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct FlowKey {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Source port (or ICMP query identifier of a request).
    pub src_port: u16,
    /// Destination port (or ICMP query identifier of a reply).
    pub dst_port: u16,
    /// IP protocol number.
    pub proto: u8,
}

/// Two or three words for the hasher instead of a field at a time (the derived `Hash`
/// feeds each address's discriminant and octets separately): an IPv4 key is one word of
/// addresses and one of ports and protocol. Equal keys write equal words (`Eq` compares
/// the same fields).
impl std::hash::Hash for FlowKey {
    #[inline]
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        match (self.src, self.dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                h.write_u64((u64::from(s.to_bits()) << 32) | u64::from(d.to_bits()));
            }
            (s, d) => {
                let bits = |a: IpAddr| match a {
                    IpAddr::V4(a) => u128::from(a.to_bits()) | (1 << 127),
                    IpAddr::V6(a) => a.to_bits(),
                };
                h.write_u128(bits(s));
                h.write_u128(bits(d));
            }
        }
        h.write_u64(
            (u64::from(self.src_port) << 24)
                | (u64::from(self.dst_port) << 8)
                | u64::from(self.proto),
        );
    }
}

/// The source port of a GRE call key: a parsed GRE key has source port 0, so a call key
/// never equals one.
pub const GRE_CALL_MARK: u16 = 1;

/// FNV-1a 32-bit offset basis.
pub const FNV_OFFSET: u32 = 0x811c_9dc5;
/// FNV-1a 32-bit prime.
pub const FNV_PRIME: u32 = 0x0100_0193;

/// Bytes of one encoded endpoint: 16 address bytes + 2 port bytes.
const ENDPOINT_LEN: usize = 18;

fn endpoint(addr: &IpAddr, port: u16) -> [u8; ENDPOINT_LEN] {
    let a = match addr {
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
        IpAddr::V6(a) => a.octets(),
    };
    let mut e = [0u8; ENDPOINT_LEN];
    e[..16].copy_from_slice(&a);
    e[16..].copy_from_slice(&port.to_be_bytes());
    e
}

impl FlowKey {
    /// A key from its parts.
    pub fn new(src: IpAddr, dst: IpAddr, src_port: u16, dst_port: u16, proto: u8) -> Self {
        FlowKey {
            src,
            dst,
            src_port,
            dst_port,
            proto,
        }
    }

    /// The call key of an enhanced GRE packet from `src` to `dst` whose GRE key carries
    /// call id `call` (see the module doc).
    pub fn gre_call(src: IpAddr, dst: IpAddr, call: u16) -> Self {
        FlowKey::new(src, dst, GRE_CALL_MARK, call, crate::proto::GRE)
    }

    /// The SPI key of an ESP packet from `src` to `dst` with SPI `spi` (see the module
    /// doc).
    pub fn esp_spi(src: IpAddr, dst: IpAddr, spi: u32) -> Self {
        FlowKey::new(src, dst, (spi >> 16) as u16, spi as u16, crate::proto::ESP)
    }

    /// The softwire key of inner IPv4 flow `inner` from B4 `b4` (see the module doc).
    pub fn softwire(b4: Ipv6Addr, inner: &FlowKey) -> Self {
        let v4 = |a: IpAddr| match a {
            IpAddr::V4(a) => a,
            IpAddr::V6(_) => Ipv4Addr::UNSPECIFIED,
        };
        let (s, d) = (v4(inner.src).octets(), v4(inner.dst).octets());
        let mut o = [0u8; 16];
        o[..2].copy_from_slice(&[0x01, 0x00]);
        o[8..12].copy_from_slice(&s);
        o[12..].copy_from_slice(&d);
        FlowKey {
            src: IpAddr::V6(b4),
            dst: IpAddr::V6(Ipv6Addr::from(o)),
            ..*inner
        }
    }

    /// The inner IPv4 key of a softwire key (see [`FlowKey::softwire`]); `None` for a key
    /// that is not one.
    pub fn softwire_inner(&self) -> Option<FlowKey> {
        let IpAddr::V6(d) = self.dst else {
            return None;
        };
        let o = d.octets();
        if !self.src.is_ipv6() || o[..8] != [0x01, 0, 0, 0, 0, 0, 0, 0] {
            return None;
        }
        let v4 = |b: &[u8]| IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]));
        Some(FlowKey {
            src: v4(&o[8..12]),
            dst: v4(&o[12..]),
            ..*self
        })
    }

    /// The 3-tuple of a GRE or ESP key (ports 0), as the packet's parse and the owner
    /// function see it; other keys unchanged.
    pub fn tuple3(&self) -> FlowKey {
        if self.proto == crate::proto::GRE || self.proto == crate::proto::ESP {
            FlowKey {
                src_port: 0,
                dst_port: 0,
                ..*self
            }
        } else {
            *self
        }
    }

    /// The key of the other direction: addresses and ports swapped.
    pub fn reversed(&self) -> FlowKey {
        FlowKey {
            src: self.dst,
            dst: self.src,
            src_port: self.dst_port,
            dst_port: self.src_port,
            proto: self.proto,
        }
    }

    /// True if the key is IPv4 (by its source address).
    pub fn is_v4(&self) -> bool {
        self.src.is_ipv4()
    }

    /// A hash equal for a key and its reverse, used to pick the owner shard of flows
    /// that are not NATed. Fully specified so that the XDP program computes the same
    /// value:
    ///
    /// 1. Encode each endpoint as 18 bytes: the address as 16 bytes (IPv4 as the
    ///    IPv4-mapped IPv6 address `::ffff:a.b.c.d`, i.e. 10 zero bytes, `ff ff`, then the
    ///    4 address bytes), followed by the port in network byte order.
    /// 2. Let `lo` be the lexicographically smaller (memcmp) of the two 18-byte
    ///    endpoints and `hi` the other.
    /// 3. FNV-1a 32 over the 37 bytes `lo ‖ hi ‖ proto`: `h = 0x811c9dc5`, then for each
    ///    byte `h = (h ^ byte) * 0x01000193` (wrapping).
    /// 4. Finalize with murmur3's fmix32 so the low bits (used for `hash % shards`) mix:
    ///    `h ^= h >> 16; h *= 0x85ebca6b; h ^= h >> 13; h *= 0xc2b2ae35; h ^= h >> 16`
    ///    (wrapping multiplications).
    pub fn symmetric_hash(&self) -> u32 {
        let a = endpoint(&self.src, self.src_port);
        let b = endpoint(&self.dst, self.dst_port);
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        let mut h = FNV_OFFSET;
        for &byte in lo
            .iter()
            .chain(hi.iter())
            .chain(std::iter::once(&self.proto))
        {
            h = (h ^ u32::from(byte)).wrapping_mul(FNV_PRIME);
        }
        fmix32(h)
    }
}

/// murmur3's 32-bit finalizer.
#[inline]
pub fn fmix32(mut h: u32) -> u32 {
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^= h >> 16;
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(s: &str, d: &str, sp: u16, dp: u16, p: u8) -> FlowKey {
        FlowKey::new(s.parse().unwrap(), d.parse().unwrap(), sp, dp, p)
    }

    #[test]
    fn reversed_swaps() {
        let a = k("10.0.0.2", "203.0.113.2", 40000, 80, 6);
        assert_eq!(a.reversed(), k("203.0.113.2", "10.0.0.2", 80, 40000, 6));
        assert_eq!(a.reversed().reversed(), a);
    }

    #[test]
    fn softwire_keys_carry_the_b4_and_the_inner_addresses() {
        let inner = k("192.0.0.2", "203.0.113.2", 40000, 80, 6);
        let b4: Ipv6Addr = "2001:db8:10::2".parse().unwrap();
        let s = FlowKey::softwire(b4, &inner);
        assert_eq!(
            s,
            k("2001:db8:10::2", "100::c000:2:cb00:7102", 40000, 80, 6)
        );
        let other = FlowKey::softwire("2001:db8:10::3".parse().unwrap(), &inner);
        assert_ne!(s, other);
        assert_eq!(s.softwire_inner(), Some(inner));
        assert_eq!(inner.softwire_inner(), None);
        assert_eq!(
            k("2001:db8::1", "2001:db8::2", 1, 2, 6).softwire_inner(),
            None
        );
    }

    #[test]
    fn gre_call_keys() {
        let c = FlowKey::gre_call(
            "10.0.0.2".parse().unwrap(),
            "198.51.100.7".parse().unwrap(),
            9,
        );
        assert_eq!((c.src_port, c.dst_port, c.proto), (GRE_CALL_MARK, 9, 47));
        assert_ne!(FlowKey::gre_call(c.src, c.dst, 0), c.tuple3());
        assert_eq!(c.tuple3(), k("10.0.0.2", "198.51.100.7", 0, 0, 47));
        let t = k("10.0.0.2", "198.51.100.7", 40000, 80, 6);
        assert_eq!(t.tuple3(), t);
    }

    /// Fixed vectors for the BPF port to check against (computed independently from
    /// the algorithm in the doc comment).
    #[test]
    fn hash_vectors() {
        let v = [
            (k("10.0.0.2", "203.0.113.2", 40000, 80, 6), 0x7cff_4e0fu32),
            (k("2001:db8::1", "2001:db8::2", 5353, 53, 17), 0x0def_f221),
            (k("10.0.0.2", "10.0.0.1", 0, 0, 47), 0xa59f_5e97),
        ];
        for (key, want) in v {
            assert_eq!(key.symmetric_hash(), key.reversed().symmetric_hash());
            assert_eq!(key.symmetric_hash(), want, "{key:?}");
        }
    }
}

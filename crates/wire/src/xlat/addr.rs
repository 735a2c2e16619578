//! IPv4-embedded IPv6 addresses (RFC 6052 §2.2): the NAT64 prefix and the algorithm
//! that places an IPv4 address in it and takes it back out.

use std::net::{Ipv4Addr, Ipv6Addr};

use thiserror::Error;

/// Why a prefix cannot carry IPv4 addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Error)]
pub enum PrefixError {
    /// Only 32, 40, 48, 56, 64 and 96 are allowed (RFC 6052 §2.2).
    #[error("NAT64 prefix length must be 32, 40, 48, 56, 64 or 96, not {0}")]
    Length(u8),
    /// Bits 64 to 71 (the "u" octet) must be zero (RFC 6052 §2.2); a /96 prefix covers them.
    #[error("NAT64 prefix has a nonzero u octet (bits 64 to 71)")]
    UOctet,
}

/// Octet of the address that RFC 6052 §2.2 reserves ("u", bits 64 to 71).
const U_OCTET: usize = 8;

/// A prefix IPv4 addresses are embedded in, with its bits past the length cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Nat64Prefix {
    octets: [u8; 16],
    len: u8,
}

/// The well-known prefix 64:ff9b::/96 (RFC 6052 §2.1).
pub const WELL_KNOWN_PREFIX: Nat64Prefix = Nat64Prefix {
    octets: [0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    len: 96,
};

impl Nat64Prefix {
    /// The prefix `addr/len`; bits of `addr` past `len` are ignored.
    pub fn new(addr: Ipv6Addr, len: u8) -> Result<Self, PrefixError> {
        if !matches!(len, 32 | 40 | 48 | 56 | 64 | 96) {
            return Err(PrefixError::Length(len));
        }
        let mut octets = addr.octets();
        octets[usize::from(len / 8)..].fill(0);
        if octets[U_OCTET] != 0 {
            return Err(PrefixError::UOctet);
        }
        Ok(Nat64Prefix { octets, len })
    }

    /// The prefix address (bits past the length zero).
    pub fn addr(&self) -> Ipv6Addr {
        Ipv6Addr::from(self.octets)
    }

    /// The prefix length.
    pub fn len(&self) -> u8 {
        self.len
    }

    /// Always false: a prefix is at least 32 bits long (for clippy's `len` rule).
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Octet positions of the four IPv4 octets: from the end of the prefix on, the u octet
    /// skipped (RFC 6052 §2.2, Figure 1).
    fn positions(&self) -> [usize; 4] {
        let mut pos = [0; 4];
        let mut at = usize::from(self.len / 8);
        for p in &mut pos {
            if at == U_OCTET {
                at += 1;
            }
            *p = at;
            at += 1;
        }
        pos
    }

    /// The IPv4-embedded IPv6 address of `v4`; the suffix is zero (RFC 6052 §2.2).
    pub fn embed(&self, v4: Ipv4Addr) -> Ipv6Addr {
        let mut o = self.octets;
        for (p, b) in self.positions().into_iter().zip(v4.octets()) {
            o[p] = b;
        }
        Ipv6Addr::from(o)
    }

    /// True if `a` starts with this prefix.
    pub fn contains(&self, a: Ipv6Addr) -> bool {
        let n = usize::from(self.len / 8);
        a.octets()[..n] == self.octets[..n]
    }

    /// The IPv4 address embedded in `a`, or `None` if `a` is not under this prefix.
    /// The u octet and the suffix are not checked: RFC 6052 §2.2 has the decoder ignore them.
    pub fn extract(&self, a: Ipv6Addr) -> Option<Ipv4Addr> {
        if !self.contains(a) {
            return None;
        }
        let o = a.octets();
        let [p0, p1, p2, p3] = self.positions();
        Some(Ipv4Addr::new(o[p0], o[p1], o[p2], o[p3]))
    }
}

impl std::fmt::Display for Nat64Prefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr(), self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// RFC 6052 §2.4, Table 1: 192.0.2.33 embedded in 2001:db8:122:344::/len.
    #[test]
    fn rfc6052_section_2_4_table_1() {
        let v4 = Ipv4Addr::new(192, 0, 2, 33);
        let rows: [(u8, &str, &str); 6] = [
            (32, "2001:db8::", "2001:db8:c000:221::"),
            (40, "2001:db8:100::", "2001:db8:1c0:2:21::"),
            (48, "2001:db8:122::", "2001:db8:122:c000:2:2100::"),
            (56, "2001:db8:122:300::", "2001:db8:122:3c0:0:221::"),
            (64, "2001:db8:122:344::", "2001:db8:122:344:c0:2:2100:0"),
            (96, "2001:db8:122:344::", "2001:db8:122:344::192.0.2.33"),
        ];
        for (len, prefix, want) in rows {
            let p = Nat64Prefix::new(prefix.parse().unwrap(), len).unwrap();
            let want: Ipv6Addr = want.parse().unwrap();
            assert_eq!(p.embed(v4), want, "/{len}");
            assert_eq!(p.extract(want), Some(v4), "/{len}");
        }
    }

    #[test]
    fn rfc6052_section_2_1_well_known_prefix() {
        let a: Ipv6Addr = "64:ff9b::192.0.2.33".parse().unwrap();
        assert_eq!(WELL_KNOWN_PREFIX.embed(Ipv4Addr::new(192, 0, 2, 33)), a);
        assert_eq!(WELL_KNOWN_PREFIX.to_string(), "64:ff9b::/96");
        assert_eq!(
            Nat64Prefix::new("64:ff9b::".parse().unwrap(), 96),
            Ok(WELL_KNOWN_PREFIX)
        );
        assert_eq!(
            WELL_KNOWN_PREFIX.extract("2001:db8::1".parse().unwrap()),
            None
        );
    }

    #[test]
    fn rfc6052_section_2_2_bad_prefixes() {
        let a: Ipv6Addr = "2001:db8::".parse().unwrap();
        for len in [0, 24, 33, 63, 80, 95, 97, 128, 255] {
            assert_eq!(Nat64Prefix::new(a, len), Err(PrefixError::Length(len)));
        }
        let u: Ipv6Addr = "2001:db8:0:0:ff00::".parse().unwrap();
        assert_eq!(Nat64Prefix::new(u, 96), Err(PrefixError::UOctet));
        // The same bits past a shorter length are ignored, not an error.
        assert_eq!(Nat64Prefix::new(u, 64).unwrap().addr(), a);
    }

    proptest! {
        #[test]
        fn embed_then_extract(o in any::<[u8; 16]>(), v4 in any::<u32>(), i in 0usize..6) {
            let len = [32u8, 40, 48, 56, 64, 96][i];
            let mut o = o;
            o[U_OCTET] = 0;
            let p = Nat64Prefix::new(Ipv6Addr::from(o), len).unwrap();
            let a = p.embed(Ipv4Addr::from(v4));
            prop_assert!(p.contains(a));
            prop_assert_eq!(a.octets()[U_OCTET], 0);
            prop_assert_eq!(p.extract(a), Some(Ipv4Addr::from(v4)));
        }
    }
}

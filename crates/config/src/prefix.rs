//! IPv4/IPv6 prefixes as written in configuration (`10.0.0.1/24`).

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// An address with a prefix length. `addr` keeps the host bits as written (an interface
/// address `10.0.0.1/24` is a `Prefix` too); `network()` clears them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Prefix {
    /// The address as written (host bits kept).
    pub addr: IpAddr,
    /// The prefix length (0-32 or 0-128).
    pub len: u8,
}

impl Prefix {
    /// Builds a prefix; `None` when `len` is longer than the address.
    pub fn new(addr: IpAddr, len: u8) -> Option<Self> {
        let max = if addr.is_ipv4() { 32 } else { 128 };
        (len <= max).then_some(Prefix { addr, len })
    }

    /// A host route (/32 or /128).
    pub fn host(addr: IpAddr) -> Self {
        let len = if addr.is_ipv4() { 32 } else { 128 };
        Prefix { addr, len }
    }

    /// The longest length for its family (32 or 128).
    pub fn max_len(&self) -> u8 {
        if self.addr.is_ipv4() {
            32
        } else {
            128
        }
    }

    /// The prefix with host bits cleared.
    pub fn network(&self) -> Prefix {
        Prefix {
            addr: mask(self.addr, self.len),
            len: self.len,
        }
    }

    /// True when `ip` (same family) lies inside the prefix.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_)) => {
                mask(self.addr, self.len) == mask(ip, self.len)
            }
            _ => false,
        }
    }
}

fn mask(addr: IpAddr, len: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let bits = u32::from(a);
            let m = if len == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(len.min(32)))
            };
            IpAddr::V4((bits & m).into())
        }
        IpAddr::V6(a) => {
            let bits = u128::from(a);
            let m = if len == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(len.min(128)))
            };
            IpAddr::V6((bits & m).into())
        }
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// Error for a malformed prefix string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid prefix '{0}'")]
pub struct PrefixParseError(pub String);

impl FromStr for Prefix {
    type Err = PrefixParseError;
    /// `A` (host) or `A/len`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || PrefixParseError(s.to_string());
        match s.split_once('/') {
            None => s.parse::<IpAddr>().map(Prefix::host).map_err(|_| err()),
            Some((a, l)) => {
                let addr: IpAddr = a.parse().map_err(|_| err())?;
                if l.is_empty() || !l.bytes().all(|b| b.is_ascii_digit()) || l.len() > 3 {
                    return Err(err());
                }
                let len: u8 = l.parse().map_err(|_| err())?;
                Prefix::new(addr, len).ok_or_else(err)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contains_and_network() {
        let p: Prefix = "10.0.0.1/24".parse().unwrap();
        assert!(p.contains("10.0.0.200".parse().unwrap()));
        assert!(!p.contains("10.0.1.1".parse().unwrap()));
        assert_eq!(p.network().to_string(), "10.0.0.0/24");
        let z: Prefix = "0.0.0.0/0".parse().unwrap();
        assert!(z.contains("8.8.8.8".parse().unwrap()));
        assert!(!z.contains("::1".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<Prefix>().is_err());
        assert!("2001:db8::/129".parse::<Prefix>().is_err());
        assert!("2001:db8::/32"
            .parse::<Prefix>()
            .unwrap()
            .contains("2001:db8::5".parse().unwrap()));
    }
}

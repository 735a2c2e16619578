//! Deterministic NAPT44 (Junos: "Deterministic NAT", "Understanding Deterministic NAPT
//! Algorithm"): the public address and port block of every subscriber of a rule's source
//! range is a pure function of the configuration, and so is its inverse.
//!
//! With `Pr_Offset = host - first usable host` and `Pr_Port_Offset = Pr_Offset ×
//! block-size`, the subscriber's public address is pool address `Pr_Port_Offset / P` and
//! its block starts at `low + Pr_Port_Offset % P`, `P` being the ports of the pool's range
//! (64 512 for the usual 1024–65535). The block size must divide `P`, so no block spans two
//! addresses: address `a`, block `b` is subscriber `a × (P / block-size) + b`.

use std::net::{IpAddr, Ipv4Addr};

use crate::Prefix;

/// The deterministic mapping of one source range onto one pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DetMap {
    /// The source range (its network address).
    pub from: Prefix,
    /// The first subscriber (the range's network address, or the one after it).
    pub first_host: u32,
    /// Subscribers of the range.
    pub hosts: u32,
    /// Addresses of the pool.
    pub pool_addresses: u32,
    /// The pool's first port.
    pub low: u16,
    /// Ports per subscriber.
    pub block_size: u16,
    /// Blocks per pool address (`P / block_size`).
    pub blocks_per_address: u32,
}

impl DetMap {
    /// The mapping of source prefix `from` (its network and broadcast addresses left out
    /// when it is shorter than /31, unless `include_boundary`) onto a pool of
    /// `pool_addresses` addresses with ports `low..=high` in blocks of `block_size` (0:
    /// as large as the subscribers allow: Junos's `P / ceil(hosts / addresses)`, lowered to
    /// a divisor of `P`). `Err` says why the configuration cannot be mapped.
    pub fn new(
        from: Prefix,
        include_boundary: bool,
        pool_addresses: u64,
        (low, high): (u16, u16),
        block_size: u16,
    ) -> Result<DetMap, String> {
        let IpAddr::V4(net) = from.network().addr else {
            return Err(format!("source-address {from} is not IPv4"));
        };
        let len = u32::from(from.len.min(32));
        let size = 1u64 << (32 - len);
        let trim = len < 31 && !include_boundary;
        let hosts = if trim { size - 2 } else { size };
        let first_host = u32::from(net) + u32::from(trim);
        let ports = u64::from(high) - u64::from(low) + 1;
        if pool_addresses == 0 {
            return Err("the pool has no address".into());
        }
        let block = if block_size == 0 {
            // Junos's int(P / ceil(hosts / addresses)), down to a divisor of P.
            let mut b = ports / hosts.div_ceil(pool_addresses);
            while b > 1 && ports % b != 0 {
                b -= 1;
            }
            b
        } else {
            u64::from(block_size)
        };
        if block == 0 || block > ports {
            return Err(format!(
                "block-size {block} does not fit the port range {low}-{high} ({ports} ports)"
            ));
        }
        if ports % block != 0 {
            return Err(format!(
                "block-size {block} does not divide the port range {low}-{high} ({ports} ports): a block would span two addresses"
            ));
        }
        let per_address = ports / block;
        let capacity = per_address * pool_addresses;
        if hosts > capacity {
            return Err(format!(
                "source-address {from} has {hosts} subscribers but the pool holds only {capacity} blocks of {block} ports ({pool_addresses} addresses × {per_address})"
            ));
        }
        Ok(DetMap {
            from: from.network(),
            first_host,
            hosts: hosts as u32,
            pool_addresses: pool_addresses as u32,
            low,
            block_size: block as u16,
            blocks_per_address: per_address as u32,
        })
    }

    /// Subscriber `host` → (pool address index, first port of its block).
    pub fn forward(&self, host: Ipv4Addr) -> Option<(u32, u16)> {
        let off = u32::from(host).checked_sub(self.first_host)?;
        if off >= self.hosts {
            return None;
        }
        let address = off / self.blocks_per_address;
        let block = off % self.blocks_per_address;
        let first = u32::from(self.low) + block * u32::from(self.block_size);
        Some((address, first as u16))
    }

    /// Pool address index `address` and port `port` → the subscriber whose block holds it.
    pub fn reverse(&self, address: u32, port: u16) -> Option<Ipv4Addr> {
        if address >= self.pool_addresses || port < self.low {
            return None;
        }
        let block = u32::from(port - self.low) / u32::from(self.block_size);
        if block >= self.blocks_per_address {
            return None;
        }
        let off = address * self.blocks_per_address + block;
        (off < self.hosts).then(|| Ipv4Addr::from(self.first_host + off))
    }

    /// The last port of the block starting at `first`.
    pub fn last_port(&self, first: u16) -> u16 {
        first + (self.block_size - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Prefix {
        s.parse().unwrap()
    }

    /// Blocks of 2016 over 1024–65535: 32 per address.
    #[test]
    fn junos_layout() {
        let m = DetMap::new(p("10.1.0.0/24"), false, 16, (1024, 65535), 2016).unwrap();
        assert_eq!(m.blocks_per_address, 32);
        assert_eq!(m.forward("10.1.0.0".parse().unwrap()), None);
        assert_eq!(m.forward("10.1.0.1".parse().unwrap()), Some((0, 1024)));
        assert_eq!(m.forward("10.1.0.2".parse().unwrap()), Some((0, 3040)));
        assert_eq!(m.forward("10.1.0.33".parse().unwrap()), Some((1, 1024)));
        assert_eq!(m.forward("10.1.0.255".parse().unwrap()), None);
        assert_eq!(m.reverse(1, 1100), Some("10.1.0.33".parse().unwrap()));
    }

    #[test]
    fn refusals() {
        let e = |from, n, range, b| DetMap::new(p(from), false, n, range, b).unwrap_err();
        assert!(e("10.0.0.0/16", 2, (1024, 65535), 256).contains("65534 subscribers"));
        assert!(e("10.0.0.0/24", 2, (1024, 65535), 1000).contains("does not divide"));
        assert!(e("10.0.0.0/24", 2, (1024, 1100), 100).contains("does not fit"));
        // Automatic size: 254 subscribers on 2 addresses need 127 blocks per address:
        // 64512 / 127 = 507, lowered to the divisor 504 (128 blocks).
        let m = DetMap::new(p("10.0.0.0/24"), false, 2, (1024, 65535), 0).unwrap();
        assert_eq!((m.block_size, m.blocks_per_address), (504, 128));
    }
}

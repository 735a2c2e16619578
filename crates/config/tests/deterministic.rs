//! Deterministic NAPT44's mapping (Junos: "Understanding Deterministic NAPT Algorithm"):
//! properties over random source ranges, pools and block sizes.

use std::collections::HashSet;
use std::net::Ipv4Addr;

use mspic_config::deterministic::DetMap;
use mspic_config::Prefix;
use proptest::prelude::*;

/// Divisors of the ports of 1024–65535 (64 512 = 2^10 · 63) and of 2000–2999 (1000).
const BLOCKS_64512: [u16; 8] = [1, 63, 64, 126, 256, 1008, 2016, 64512];
const BLOCKS_1000: [u16; 6] = [1, 8, 40, 125, 500, 1000];

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// The reverse lookup inverts the forward one for every subscriber of the range, no
    /// two subscribers share a block, every block lies in the port range, and addresses
    /// and ports outside every block map to nobody.
    #[test]
    fn reverse_inverts_forward(
        net in any::<u32>(),
        len in 20u8..=32,
        boundary in any::<bool>(),
        addresses in 1u64..64,
        wide in any::<bool>(),
        pick in 0usize..8,
    ) {
        let (range, block) = if wide {
            ((1024, 65535), BLOCKS_64512[pick])
        } else {
            ((2000, 2999), BLOCKS_1000[pick % BLOCKS_1000.len()])
        };
        let from = Prefix::new(Ipv4Addr::from(net).into(), len).unwrap().network();
        let Ok(m) = DetMap::new(from, boundary, addresses, range, block) else {
            return Ok(()); // too many subscribers for the pool: refused at commit
        };
        let std::net::IpAddr::V4(base) = from.addr else { unreachable!() };
        let size = 1u64 << (32 - u32::from(len));
        let mut blocks = HashSet::new();
        for i in 0..size {
            let h = Ipv4Addr::from(u32::from(base) + i as u32);
            let boundary_host = len < 31 && !boundary && (i == 0 || i == size - 1);
            match m.forward(h) {
                None => prop_assert!(boundary_host, "{h} has no block"),
                Some((a, first)) => {
                    prop_assert!(!boundary_host, "{h} is a boundary address");
                    prop_assert!(u64::from(a) < addresses);
                    prop_assert!(first >= range.0 && m.last_port(first) <= range.1);
                    prop_assert!(blocks.insert((a, first)), "block shared");
                    prop_assert_eq!(m.reverse(a, first), Some(h));
                    prop_assert_eq!(m.reverse(a, m.last_port(first)), Some(h));
                }
            }
        }
        prop_assert_eq!(m.reverse(addresses as u32, range.0), None);
        prop_assert_eq!(m.reverse(0, range.0 - 1), None);
    }
}

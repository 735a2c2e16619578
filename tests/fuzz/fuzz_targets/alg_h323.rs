//! The H.323 parsers (TPKT, Q.931 with its information elements, RAS message type, PER
//! transport addresses) on any input: never panic, and what they locate lies within it.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mspic_alg::h323;

fuzz_target!(|data: &[u8]| {
    if let Ok((len, r)) = h323::tpkt(data) {
        assert!(len <= data.len() && r.end == len);
        if let Ok(q) = h323::q931(&data[r.clone()]) {
            if let Some(u) = q.uuie {
                assert!(u.end <= r.len());
            }
        }
    }
    let _ = h323::q931(data);
    let _ = h323::ras_type(data);
    let (a, n) = h323::transport_addresses::<8>(data, std::net::Ipv4Addr::new(10, 0, 0, 2));
    for (_, r) in &a[..n] {
        assert!(r.end <= data.len());
    }
});

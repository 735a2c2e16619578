//! The SQLNet ALG's parsers on any TNS packet and connect descriptor: never panic, and
//! what they locate lies within the input.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mspic_alg::sqlnet;

fuzz_target!(|data: &[u8]| {
    let _ = sqlnet::header(data);
    if let Ok(r) = sqlnet::redirect_data(data) {
        assert!(r.end <= data.len());
    }
    if let Ok((a, n)) = sqlnet::addresses(data) {
        for x in a[..n].iter().flatten() {
            assert!(x.host_at.end <= data.len() && x.port != 0);
        }
    }
});

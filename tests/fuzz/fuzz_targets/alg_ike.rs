//! The IKE header parser on any datagram: never panics, and a parsed header's message
//! is the whole datagram.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mspic_alg::ike;

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = ike::parse(data) {
        assert!(data.len() >= 28 && (1..=2).contains(&h.major));
    }
});

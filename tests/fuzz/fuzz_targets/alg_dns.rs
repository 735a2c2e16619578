//! The DNS ALG's header parser on any datagram.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if mspic_alg::dns::parse_header(data).is_ok() {
        assert!(data.len() >= 12);
    }
});

//! The PPTP control message parser on any segment: never panics, and a parsed message's
//! length lies within the input.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mspic_alg::pptp;

fuzz_target!(|data: &[u8]| {
    if let Ok((len, _)) = pptp::parse(data) {
        assert!(len >= 12 && len <= data.len());
    }
});

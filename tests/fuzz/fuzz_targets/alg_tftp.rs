//! The TFTP ALG's request parser on any datagram.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((op, name, mode)) = mspic_alg::tftp::parse_request(data) {
        assert!(op == 1 || op == 2);
        assert!(!name.is_empty() && !mode.is_empty());
    }
});

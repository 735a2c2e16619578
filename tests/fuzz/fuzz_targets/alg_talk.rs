//! The talk ALG's control-message parser on any datagram, in both layouts.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mspic_alg::talk;

fuzz_target!(|data: &[u8]| {
    for l in [talk::NTALK, talk::OTALK] {
        if talk::parse(data, l).is_ok() {
            assert!(data.len() >= l.len);
        }
    }
});

//! The rsh ALG's stderr-port parser on any first segment.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(Some((port, digits))) = mspic_alg::rsh::parse_stderr_port(data) {
        assert!(digits <= 5 && digits < data.len());
        assert!(port == 0 || digits > 0);
    }
});

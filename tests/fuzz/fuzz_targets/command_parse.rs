//! Any command line at the operator CLI, run against an empty engine.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else { return };
    let _ = mspic_control::parse_request(line);
    let mut b = mspic_control::SnapshotBackend::default();
    let _ = mspic_control::execute(line, &mut b);
});

//! Any bytes as a capture file.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = mspic_offline::pcap::Reader::new(data) {
        for rec in r.take(10_000) {
            if rec.is_err() {
                break;
            }
        }
    }
});

//! The RTSP ALG's parsers on any segment and any Transport value: never panic, and what
//! they locate lies within the input.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mspic_alg::rtsp;

fuzz_target!(|data: &[u8]| {
    if let Ok(Some(rtsp::Unit::Message { headers, end })) = rtsp::parse(data) {
        assert!(headers.end <= data.len() && headers.end <= end);
    }
    if let Ok((specs, n)) = rtsp::transport(data, 0..data.len()) {
        assert!(n <= rtsp::MAX_SPECS);
        for s in &specs[..n] {
            for (_, r) in [&s.client_port, &s.server_port].into_iter().flatten() {
                assert!(r.end <= data.len());
            }
        }
    }
});

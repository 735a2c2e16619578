//! The SDP parser (SIP bodies) on any body: never panics, and every field it locates lies
//! within the body.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mspic_alg::sdp;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = sdp::parse(data) {
        assert!(s.n_media <= sdp::MAX_MEDIA);
        for a in [&s.origin, &s.conn].into_iter().flatten() {
            assert!(a.at.end <= data.len());
        }
        for m in s.media() {
            assert!(m.port_at.end <= m.end && m.end <= data.len());
        }
    }
});

//! The SIP ALG's message parser on any datagram or stream segment: never panics, and every
//! range it gives lies within the message, in order.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mspic_alg::sip;

fuzz_target!(|data: &[u8]| {
    for stream in [false, true] {
        if let Ok(Some(m)) = sip::parse(data, stream) {
            assert!(m.uri.end <= m.headers.start);
            assert!(m.headers.end <= m.body.start && m.body.end <= data.len());
            if let Some(cl) = &m.content_length {
                assert!(cl.start >= m.headers.start && cl.end <= m.headers.end);
            }
            for h in sip::headers(data, m.headers.clone()) {
                assert!(h.name.end <= h.value.start && h.value.end <= m.headers.end);
                for t in sip::addr_tokens(data, h.value.clone()) {
                    assert!(t.at.start >= h.value.start && t.at.end <= h.value.end);
                }
            }
        }
    }
});

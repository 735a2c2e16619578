//! The DCE RPC endpoint mapper parsers on any PDU and any tower: never panic, and what
//! they locate lies within the input.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mspic_alg::dcerpc;

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = dcerpc::header(data) {
        assert!(h.frag_len >= 16);
        let end = h.frag_len.min(data.len());
        let _ = dcerpc::epm_contexts(&data[..end], &h);
        if let Ok((eps, n)) = dcerpc::map_response(data, h.le, 24.min(end), end) {
            for ep in eps[..n].iter().flatten() {
                assert!(ep.ip_at + 4 <= end);
            }
        }
    }
    if let Ok(Some(ep)) = dcerpc::tower(data, 0) {
        assert!(ep.ip_at + 4 <= data.len());
    }
});

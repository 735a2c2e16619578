//! The Sun RPC portmapper parsers on any message and universal address: never panic, and
//! what parses formats back to the same address.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mspic_alg::rpc;

fuzz_target!(|data: &[u8]| {
    if let Ok(rpc::Msg::Reply { results, .. }) = rpc::parse(data) {
        assert!(results <= data.len());
    }
    if let Ok((a, p)) = rpc::parse_uaddr(data) {
        assert_eq!(rpc::parse_uaddr(rpc::format_uaddr(a, p).as_bytes()), Ok((a, p)));
    }
});

//! The FTP ALG's parsers on any argument text: never panic, and what parses formats back
//! to text that parses to the same endpoint.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mspic_alg::ftp;

fuzz_target!(|data: &[u8]| {
    if let Ok((a, p)) = ftp::parse_port(data) {
        assert_eq!(
            ftp::parse_port(ftp::format_port(a, p).as_bytes()),
            Ok((a, p))
        );
    }
    if let Ok((ep, d)) = ftp::parse_eprt(data) {
        assert_eq!(
            ftp::parse_eprt(ftp::format_eprt(d, ep).as_bytes()),
            Ok((ep, d))
        );
    }
    if let Ok((_, _, r)) = ftp::parse_227(data) {
        assert!(r.end <= data.len());
    }
    let _ = ftp::parse_229(data);
});

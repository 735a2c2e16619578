//! Any bytes from a NETCONF client, cut into two pushes, in both framings; then the same
//! bytes through a whole session after a base:1.1 hello (XML parsing and RPC dispatch).
#![no_main]
use libfuzzer_sys::fuzz_target;
use mspic_netconf::{Daemon, Framing, Identity, Session};

struct Null;
impl Daemon for Null {
    fn command(&mut self, line: &str) -> Result<String, String> {
        Err(format!("error: {line}"))
    }
    fn check(&mut self, _: &str, _: &str) -> Result<String, String> {
        Ok(String::new())
    }
    fn commit(&mut self, _: &str, _: &str) -> Result<String, String> {
        Ok(String::new())
    }
    fn lock(&mut self) -> Result<(), String> {
        Ok(())
    }
    fn unlock(&mut self) -> Result<(), String> {
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    let cut = data.first().map_or(0, |b| *b as usize).min(data.len());
    for framing in [Framing::EndOfMessage, Framing::Chunked] {
        let mut d = mspic_netconf::Decoder::with_limit(4096);
        d.set_framing(framing);
        for part in [&data[..cut], &data[cut..]] {
            d.push(part);
            while let Ok(Some(m)) = d.next_message() {
                assert!(m.len() <= 4096);
            }
            assert!(d.pending() <= 4096 + data.len());
        }
        let _ = d.finish();
    }
    let id = Identity {
        hostname: "fuzz".into(),
        version: "0".into(),
        session_id: 1,
    };
    let mut s = Session::new(Null, id);
    s.receive(
        std::time::Duration::ZERO,
        b"<hello><capabilities><capability>urn:ietf:params:netconf:base:1.1</capability>\
          </capabilities></hello>]]>]]>",
    );
    s.receive(std::time::Duration::ZERO, data);
    s.end_of_input();
});

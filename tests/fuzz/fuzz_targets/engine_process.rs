//! Any sequence of frames through a shard running the testbed configuration (NAPT and
//! stateful firewall), on any interface, with time moving on.
#![no_main]
use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use mspic_flow::{Frame, IfIndex, Policy, Shard, ShardConfig, Time};

const CONFIG: &str = include_str!("../../../docs/examples/testbed.conf");

fn policy() -> Arc<Policy> {
    static P: OnceLock<Arc<Policy>> = OnceLock::new();
    P.get_or_init(|| {
        let c = mspic_config::parse(CONFIG, "testbed.conf").expect("example parses");
        Arc::new(Policy::compile(&c).expect("example compiles"))
    })
    .clone()
}

fuzz_target!(|data: &[u8]| {
    let mut shard = Shard::new(ShardConfig { prealloc: 16, ..ShardConfig::default() }, policy());
    let mut buf = vec![0u8; 4096];
    let mut now = Time::from_secs(1);
    // Records: [ingress, time step, len, bytes…]
    let mut rest = data;
    while rest.len() >= 3 {
        let (ingress, step, len) = (rest[0] % 3, rest[1], usize::from(rest[2]));
        rest = &rest[3..];
        let n = len.min(rest.len());
        buf[..n].copy_from_slice(&rest[..n]);
        rest = &rest[n..];
        now = Time(now.0 + u64::from(step) * 100_000_000);
        shard.handle_timeout(now);
        let mut f = Frame::new(&mut buf, n);
        let _ = shard.process(now, IfIndex(u16::from(ingress)), &mut f);
    }
    shard.check_consistency().expect("consistent");
});

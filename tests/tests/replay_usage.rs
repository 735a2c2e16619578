//! `show services service-sets memory-usage` and `cpu-usage` of a replay: UDP exchanges
//! from several subscribers through the testbed's service set, with 1 and 3 workers.
//! Memory is the live sessions' state (each session's slab entry and index entries) summed
//! over the workers, so it follows the session count up and back to zero when they expire;
//! replay measures no worker time, so cpu-usage shows 0.00 and no System/Idle rows.

use std::sync::Arc;
use std::time::Duration;

use mspic_offline::replay::{Replay, ReplayOptions};
use mspic_tests::{Gen, Host, Sides, Trace};

fn memory_row(r: &mut Replay) -> (String, u64) {
    let text = mspic_control::execute("show services service-sets memory-usage service-set ss", r)
        .unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    let w: Vec<&str> = lines[1].split_whitespace().collect();
    (format!("{} {}", w[0], w[1]), w[2].parse().unwrap())
}

#[test]
fn memory_follows_the_sessions_and_cpu_is_not_measured_offline() {
    let mut g = Gen::new(9);
    let mut t = Trace::new();
    for i in 0..5u8 {
        g.udp_exchange(
            &mut t,
            &Host::inside([10, 0, 0, 2 + i]),
            &Host::remote([198, 51, 100, 20]),
            40_000,
            53,
            Duration::from_millis(10 * u64::from(i)),
            1,
            40,
            80,
            Duration::from_millis(10),
            Sides::ClientOnly,
        );
    }
    let conf = mspic_tests::live::repo_file("docs/examples/testbed.conf");
    let cfg = mspic_config::parse(&conf, "testbed.conf").unwrap();
    let policy = Arc::new(mspic_flow::Policy::compile(&cfg).unwrap());
    let per = mspic_flow::Shard::bytes_per_session();
    for workers in [1, 3] {
        let opts = ReplayOptions {
            workers,
            respond: true,
            ..ReplayOptions::default()
        };
        let mut r = Replay::new(Arc::clone(&policy), &opts).unwrap();
        let mut last = 0;
        for f in t.frames() {
            last = (t.epoch() + f.ts).as_nanos() as u64;
            r.process(last, &f.data);
        }
        let sessions: u32 = r.shards().iter().map(|s| s.live_per_service_set()[0]).sum();
        assert_eq!(sessions, 5, "{workers} workers");
        assert_eq!(memory_row(&mut r), ("ms-1/1/0 ss".into(), 5 * per));
        let cpu = mspic_control::execute("show services service-sets cpu-usage", &mut r).unwrap();
        assert_eq!(
            cpu,
            format!(
                "{:<15}{:<30}{:>19}\n{:<15}{:<30}{:>19}\n",
                "Interface", "Service Set", "CPU Utilization", "ms-1/1/0", "ss", "0.00 %"
            ),
            "{workers} workers"
        );
        // Past the UDP timeout every session is gone, and so is their memory.
        r.advance(mspic_flow::Time(last + 600_000_000_000));
        assert_eq!(memory_row(&mut r).1, 0, "{workers} workers");
    }
}

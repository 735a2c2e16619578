//! `show interfaces ms-1/1/0 extensive` after a replay: the services interface's packet
//! and byte counters equal the frames replayed through it (the capture's, and with the
//! responder its replies), its drops the frames the engine dropped, through 1 and 3
//! workers; clearing the firewall statistics leaves them; the NETCONF `<get-interface-information>` RPC answers with the same XML.

use std::sync::Arc;
use std::time::Duration;

use mspic_control::{execute_with, ExecuteOptions};
use mspic_offline::replay::{Replay, ReplayOptions};
use mspic_tests::{Gen, Host, Sides, Trace};

/// Client-only TCP and UDP conversations from the inside through the testbed's service
/// set, and SYNs to a destination without a route (dropped).
fn capture() -> (Trace, usize) {
    let mut g = Gen::new(14);
    let mut t = Trace::new();
    for i in 0..3u8 {
        g.tcp_conversation(
            &mut t,
            &Host::inside([10, 0, 0, 2 + i]),
            &Host::remote([198, 51, 100, 20 + i]),
            40_000 + u16::from(i),
            80,
            Duration::from_millis(30 * u64::from(i)),
            300,
            1500,
            Sides::ClientOnly,
        );
    }
    g.udp_exchange(
        &mut t,
        &Host::inside([10, 0, 0, 9]),
        &Host::remote([198, 51, 100, 40]),
        5000,
        9000,
        Duration::from_millis(200),
        4,
        100,
        100,
        Duration::from_millis(10),
        Sides::ClientOnly,
    );
    let unroutable = g.tcp_syn_only(
        &mut t,
        &Host::inside([10, 0, 0, 7]),
        &Host::remote([192, 0, 2, 50]),
        41_000,
        443,
        Duration::from_millis(300),
        2,
    );
    (t, unroutable.client.frames as usize)
}

/// The four counters and the input drops of the extensive text.
fn counters(text: &str) -> [u64; 5] {
    let value = |label: &str| -> u64 {
        let line = text
            .lines()
            .find(|l| l.starts_with(label))
            .unwrap_or_else(|| panic!("{label} in {text}"));
        let v = line[label.len()..].split_whitespace().next().unwrap();
        v.parse().unwrap()
    };
    let drops = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Errors: 0, Drops: "))
        .and_then(|r| r.split(',').next())
        .unwrap_or_else(|| panic!("drops in {text}"));
    [
        value("   Input  bytes  :"),
        value("   Output bytes  :"),
        value("   Input  packets:"),
        value("   Output packets:"),
        drops.parse().unwrap(),
    ]
}

#[test]
fn counters_equal_the_frames_replayed() {
    let (t, unroutable) = capture();
    assert_eq!(unroutable, 2, "two SYN attempts");
    let text = mspic_tests::live::repo_file("docs/examples/testbed.conf");
    let cfg = mspic_config::parse(&text, "testbed.conf").unwrap();
    let options = ExecuteOptions::for_config(&cfg);
    let policy = Arc::new(mspic_flow::Policy::compile(&cfg).unwrap());
    for (workers, respond) in [(1, false), (3, false), (1, true), (3, true)] {
        let opts = ReplayOptions {
            workers,
            respond,
            ..ReplayOptions::default()
        };
        let mut r = Replay::new(Arc::clone(&policy), &opts).unwrap();
        let (mut out_packets, mut out_bytes) = (0u64, 0u64);
        for f in t.frames() {
            for o in r.process((t.epoch() + f.ts).as_nanos() as u64, &f.data) {
                out_packets += 1;
                out_bytes += o.frame.len() as u64;
            }
        }
        let show = |r: &mut Replay, cmd: &str| execute_with(cmd, r, &options).unwrap();
        let [in_b, out_b, in_p, out_p, drops] =
            counters(&show(&mut r, "show interfaces ms-1/1/0 extensive"));
        let what = format!("{workers} workers, respond {respond}");
        let c = &r.counters;
        assert_eq!(in_p, c.frames_in, "{what}");
        assert_eq!(out_p, out_packets, "{what}");
        assert_eq!(out_p, c.forwarded + c.replies, "{what}");
        assert_eq!(out_b, out_bytes, "{what}");
        assert_eq!(drops, c.dropped, "{what}");
        assert_eq!(drops, unroutable as u64, "{what}");
        if respond {
            assert!(c.responses > 0, "{what}");
        } else {
            let captured: u64 = t.frames().iter().map(|f| f.data.len() as u64).sum();
            assert_eq!(in_p, t.frames().len() as u64, "{what}");
            assert_eq!(in_b, captured, "{what}");
        }

        // Interface counters are not firewall counters: clearing those leaves them.
        show(&mut r, "clear services stateful-firewall statistics");
        assert_eq!(
            counters(&show(&mut r, "show interfaces ms-1/1/0 extensive")),
            [in_b, out_b, in_p, out_p, drops],
            "{what}"
        );

        // The NETCONF RPC names the same command and answers with the same XML.
        let rpc = mspic_control::rpc::by_rpc("get-interface-information").unwrap();
        let line = rpc
            .command_line([("interface-name", "ms-1/1/0"), ("extensive", "")])
            .unwrap();
        let xml = show(&mut r, &format!("{line} | display xml"));
        assert!(
            xml.contains(&format!("<input-packets>{in_p}</input-packets>")),
            "{xml}"
        );
        assert_eq!(
            xml,
            show(&mut r, "show interfaces ms-1/1/0 extensive | display xml")
        );
    }
}

//! Offline replay of a generated capture through a firewall whose terms name a multi-term
//! application and an `except` prefix list: each UDP session takes the timeout of the
//! first term of the application that fits it (DNS: its own term, not the catch-all UDP
//! term after it), and the client excluded by `except` falls to the next firewall term
//! (the services interface's timeout).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use mspic_flow::{FlowDirection, SessionFilter};
use mspic_offline::replay::{Replay, ReplayOptions};
use mspic_tests::mixed::client_addr;
use mspic_tests::{mixed_client_traffic, Conversation, Proto, Sides};

fn repo_file(rel: &str) -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    std::fs::read_to_string(root.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// firewall-only.conf with a term `udp-apps` (before `allow`) for every client but the
/// second, naming a three-term application.
fn config() -> String {
    let excluded = client_addr(1);
    repo_file("docs/examples/firewall-only.conf")
        .replace(
            "applications {",
            "policy-options { prefix-list excluded { EXCLUDED/32; } }
applications {
    application udp-apps {
        term web { protocol tcp; destination-port 80; inactivity-timeout 300; }
        term dns { protocol udp; destination-port 53; inactivity-timeout 40; }
        term any-udp { protocol udp; inactivity-timeout 90; }
    }",
        )
        .replace(
            "            term allow {",
            "            term udp-apps {
                from { source-prefix-list excluded except; applications udp-apps; }
                then { accept; }
            }
            term allow {",
        )
        .replace("EXCLUDED", &excluded.to_string())
}

/// The timeout the I flow of `c`'s session shows, if the session is live.
fn timeout_of(r: &mut Replay, c: &Conversation) -> Option<u32> {
    let t = &c.tuple;
    let f = SessionFilter {
        source_prefix: Some(mspic_config::Prefix::host(t.src)),
        protocol: Some(17),
        ..SessionFilter::default()
    };
    mspic_control::Backend::sessions(r, &f)
        .into_iter()
        .map(|s| s.flows[0].clone())
        .find(|i| {
            i.direction == FlowDirection::I
                && i.src.port == Some(t.sport)
                && i.dst.port == Some(t.dport)
        })
        .map(|i| i.timeout)
}

#[test]
fn udp_sessions_take_the_first_fitting_term_and_except_falls_through() {
    let text = config();
    let cfg = mspic_config::parse(&text, "apps.conf").unwrap_or_else(|e| panic!("{e}\n{text}"));
    let policy = Arc::new(mspic_flow::Policy::compile(&cfg).unwrap());
    let mut r = Replay::new(policy, &ReplayOptions::default()).unwrap();
    let (trace, summary) = mixed_client_traffic(11, 3, Duration::from_secs(40), Sides::Both);
    let excluded = IpAddr::V4(client_addr(1));
    let mut seen = [0usize; 3];
    let frames = trace.frames();
    for (i, f) in frames.iter().enumerate() {
        r.process((trace.epoch() + f.ts).as_nanos() as u64, &f.data);
        if frames.get(i + 1).is_some_and(|n| n.ts == f.ts) {
            continue;
        }
        for c in summary.conversations.iter().filter(|c| c.last == f.ts) {
            if c.tuple.proto != Proto::Udp
                || c.label == "tftp-rrq"
                || c.label.starts_with("inbound")
            {
                continue;
            }
            let Some(got) = timeout_of(&mut r, c) else {
                continue;
            };
            let (want, k) = match (c.tuple.src == excluded, c.tuple.dport) {
                (true, _) => (30, 0),
                (false, 53) => (40, 1),
                (false, _) => (90, 2),
            };
            assert_eq!(got, want, "{} {:?}", c.label, c.tuple);
            seen[k] += 1;
        }
    }
    assert!(seen.iter().all(|&n| n > 0), "every case seen: {seen:?}");
}

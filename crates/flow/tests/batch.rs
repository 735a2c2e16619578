//! `Shard::process_batch` against `Shard::process`: two shards with the same policy, one
//! fed frame by frame, the other a batch at a time, give the same verdicts and frames and
//! end in the same state, on random traffic (replies, TCP phases, malformed frames, NAT).

mod common;

use common::*;
use mspic_flow::{Frame, IfIndex, Shard, ShardConfig, Verdict};
use proptest::prelude::*;

const NAT: &str = r#"
interfaces {
    ge-0/0/0 { unit 0 { family inet { service { input { service-set ss; } output { service-set ss; } } address 10.0.0.1/24; } } }
    ge-0/0/1 { unit 0 { family inet { address 203.0.113.1/24; } } }
    ms-1/1/0 { services-options { inactivity-timeout 10; } unit 0 { family inet; } }
}
routing-options { static { route 198.51.100.0/24 next-hop 203.0.113.2; } }
services {
    stateful-firewall {
        rule r { match-direction input; term t1 { from { source-address { 10.0.0.0/24; } } then { accept; } } }
    }
    nat {
        pool public { address 203.0.113.128/25; port { automatic; } }
        rule n { match-direction input; term t1 { from { source-address { 10.0.0.0/24; } } then { translated { source-pool public; translation-type { napt-44; } } } } }
    }
    service-set ss { stateful-firewall-rules r; nat-rules n; interface-service { service-interface ms-1/1/0; } }
}
"#;

/// One generated frame: what kind, endpoints, a byte to corrupt.
type Step = (u8, u16, u16, u16, Option<(usize, u8)>);

fn frame(step: &Step, sent: &[Vec<u8>]) -> (IfIndex, Vec<u8>) {
    let &(kind, a, b, pick, flip) = step;
    let sport = 1000 + a;
    let host = format!("10.0.0.{}", 2 + b);
    let (ingress, mut f) = match kind {
        0 => (0, udp(&host, sport, "198.51.100.7", 53, b"q")),
        1 => (1, udp("198.51.100.7", 53, &host, sport, b"a")),
        2 => (0, tcp(&host, sport, "198.51.100.7", 80, "S", 1, 0, b"")),
        3 => (1, tcp("198.51.100.7", 80, &host, sport, "SA", 1, 2, b"")),
        4 => (0, tcp(&host, sport, "198.51.100.7", 80, "FA", 2, 2, b"x")),
        5 => (0, ping(&host, "198.51.100.7", sport, 1, false)),
        6 => (
            1,
            port_unreachable(
                "198.51.100.7",
                &host,
                &udp(&host, sport, "198.51.100.7", 53, b"q"),
            ),
        ),
        // A reply to a frame forwarded earlier (after NAT: to the pool address).
        _ if !sent.is_empty() => (1, mirror(&sent[pick as usize % sent.len()])),
        _ => (0, udp(&host, sport, "198.51.100.8", 53, b"q")),
    };
    if let Some((i, v)) = flip {
        if i < f.len() {
            f[i] ^= v;
        }
    }
    (IfIndex(ingress), f)
}

fn step() -> impl Strategy<Value = Step> {
    (
        0u8..9,
        0u16..6,
        0u16..4,
        any::<u16>(),
        prop::option::weighted(0.1, (0usize..80, 1u8..=255)),
    )
}

fn run(text: &str, batches: Vec<(Vec<Step>, u64)>) -> Result<(), TestCaseError> {
    let cfg = ShardConfig {
        prealloc: 8,
        lookahead_min_sessions: 0,
        ..ShardConfig::default()
    };
    let mut one = Harness::with(text, cfg);
    let mut many = Harness::with(text, cfg);
    let mut sent: Vec<Vec<u8>> = Vec::new();
    let mut bufs = vec![vec![0u8; 2048]; 80];
    let mut verdicts = vec![Verdict::Local; 80];
    for (steps, dt) in batches {
        let input: Vec<(IfIndex, Vec<u8>)> = steps.iter().map(|s| frame(s, &sent)).collect();
        // Frame by frame.
        let mut expect = Vec::new();
        for (ingress, f) in &input {
            let mut buf = vec![0u8; 2048];
            buf[..f.len()].copy_from_slice(f);
            let mut fr = Frame::new(&mut buf, f.len());
            let v = one.shard.process(one.now, *ingress, &mut fr);
            expect.push((v, fr.bytes().to_vec()));
        }
        // As one batch.
        let n = input.len();
        let mut frames: Vec<(IfIndex, Frame)> = bufs
            .iter_mut()
            .zip(&input)
            .map(|(buf, (ingress, f))| {
                buf[..f.len()].copy_from_slice(f);
                (*ingress, Frame::new(buf, f.len()))
            })
            .collect();
        many.shard
            .process_batch(many.now, &mut frames, &mut verdicts[..n]);
        for (i, (v, bytes)) in expect.iter().enumerate() {
            prop_assert_eq!(*v, verdicts[i], "frame {} of the batch", i);
            prop_assert_eq!(
                bytes.as_slice(),
                frames[i].1.bytes(),
                "frame {} of the batch",
                i
            );
            // Uncorrupted UDP and TCP frames from the inside can be answered.
            let (kind, .., flip) = steps[i];
            if matches!(v, Verdict::Forward { .. }) && matches!(kind, 0 | 2 | 4) && flip.is_none() {
                sent.push(bytes.clone());
            }
        }
        one.shard.check_consistency().map_err(TestCaseError::fail)?;
        many.shard
            .check_consistency()
            .map_err(TestCaseError::fail)?;
        prop_assert_eq!(one.sessions(), many.sessions());
        prop_assert_eq!(one.shard.sfw_statistics(), many.shard.sfw_statistics());
        prop_assert_eq!(&one.shard.nat_state().stats, &many.shard.nat_state().stats);
        one.advance_ms(dt);
        many.advance_ms(dt);
    }
    Ok(())
}

fn batches() -> impl Strategy<Value = Vec<(Vec<Step>, u64)>> {
    prop::collection::vec((prop::collection::vec(step(), 0..80), 0u64..6_000), 1..8)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn batch_matches_one_by_one_firewall(b in batches()) {
        run(&config(ACCEPT_INSIDE, "inactivity-timeout 10; open-timeout 4; close-timeout 4;"), b)?;
    }

    #[test]
    fn batch_matches_one_by_one_napt(b in batches()) {
        run(NAT, b)?;
    }
}

/// The default threshold: a small table takes the one-by-one path, with the same result.
#[test]
fn small_table_batch_is_one_by_one() {
    let mut h = Harness::new(&config(ACCEPT_INSIDE, ""));
    let f = udp("10.0.0.2", 1000, "198.51.100.7", 53, b"q");
    let mut bufs = [vec![0u8; 256], vec![0u8; 256]];
    let mut frames: Vec<(IfIndex, Frame)> = bufs
        .iter_mut()
        .map(|b| {
            b[..f.len()].copy_from_slice(&f);
            (IfIndex(0), Frame::new(b, f.len()))
        })
        .collect();
    let mut v = [Verdict::Local; 2];
    h.shard.process_batch(h.now, &mut frames, &mut v);
    assert!(matches!(v[0], Verdict::Forward { .. }), "{:?}", v[0]);
    assert_eq!(v[0], v[1]);
    assert_eq!(h.sessions()[0].flows[0].frames, 2);
    let _ = Shard::process_batch;
}

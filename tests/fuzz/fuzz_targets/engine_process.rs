//! Any sequence of frames (up to jumbo size) through 1 to 4 shards running the testbed
//! configuration (NAPT, stateful firewall, every ALG), on any interface, with time moving
//! on. Frames go to the shard the owner function names and every shard message (ALG
//! pinholes and their end) is delivered to every shard, as the workers' handoff does; a
//! forwarded frame may come back in on its egress interface (the far end's traffic).
//! Frames run one by one or in batches with the look-ahead on. Every shard stays
//! consistent.
//!
//! Input: `[shards-1 (2 bits) | batch (1 bit) | loop back (1 bit) | checksums (1 bit)]`, then
//! records `[ingress, time step (x 10 ms), length (u16 LE), bytes…]`.
#![no_main]
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use mspic_flow::{Frame, IfIndex, Policy, SessionFilter, Shard, ShardConfig, Time, Verdict, BATCH};
use mspic_wire::parse::Fragment;

const CONFIG: &str = include_str!("../../../docs/examples/testbed.conf");
/// The largest frame fed in: a 9 KiB jumbo frame.
const MAX_FRAME: usize = 9216;
/// Room past a frame for replies and ALG rewrites.
const ROOM: usize = 2048;

fn policy() -> Arc<Policy> {
    static P: OnceLock<Arc<Policy>> = OnceLock::new();
    P.get_or_init(|| {
        let c = mspic_config::parse(CONFIG, "testbed.conf").expect("example parses");
        Arc::new(Policy::compile(&c).expect("example compiles"))
    })
    .clone()
}

struct Engine {
    policy: Arc<Policy>,
    shards: Vec<Shard>,
    frag_owner: HashMap<(std::net::IpAddr, std::net::IpAddr, u32), u32>,
}

impl Engine {
    fn owner(&mut self, data: &[u8]) -> usize {
        let n = self.shards.len() as u32;
        let Ok(p) = mspic_wire::parse_frame(data) else {
            return 0;
        };
        let o = match p.fragment {
            Fragment::Later { id } => self
                .frag_owner
                .get(&(p.key.src, p.key.dst, id))
                .copied()
                .unwrap_or(0),
            Fragment::First { id } => {
                let o = mspic_flow::owner::owner(&p, n, &self.policy.nat);
                self.frag_owner.insert((p.key.src, p.key.dst, id), o);
                o
            }
            Fragment::None => mspic_flow::owner::owner(&p, n, &self.policy.nat),
        };
        assert!(o < n, "owner {o} of {n} shards");
        o as usize
    }

    /// Delivers the messages of shard `k` to every shard, itself included.
    fn handoff(&mut self, k: usize) {
        let msgs: Vec<_> = self.shards[k].drain_outbox().collect();
        for m in msgs {
            for s in &mut self.shards {
                s.deliver(m.clone());
            }
        }
    }

    fn tick(&mut self, now: Time) {
        for s in &mut self.shards {
            if s.poll_timeout().is_some_and(|t| t <= now) {
                s.handle_timeout(now);
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, mut rest)) = data.split_first() else {
        return;
    };
    let count = u32::from(flags & 3) + 1;
    let (batch, loop_back, checksums) = (flags & 4 != 0, flags & 8 != 0, flags & 16 != 0);
    let policy = policy();
    let ifaces = policy.interfaces.len().max(1);
    let shards = (0..count)
        .map(|i| {
            Shard::with_algs(
                ShardConfig {
                    index: i,
                    count,
                    prealloc: 16,
                    verify_checksums: checksums,
                    lookahead_min_sessions: if batch { 0 } else { usize::MAX },
                    ..ShardConfig::default()
                },
                Arc::clone(&policy),
                mspic_alg::registry(),
            )
        })
        .collect();
    let mut e = Engine {
        policy,
        shards,
        frag_owner: HashMap::new(),
    };
    let mut now = Time::from_secs(1);
    // Frames waiting to run: (shard, ingress, bytes).
    let mut queue: Vec<(usize, IfIndex, Vec<u8>)> = Vec::new();
    while rest.len() >= 4 {
        let ingress = IfIndex(u16::from(rest[0]) % ifaces as u16);
        let step = u64::from(rest[1]);
        let len = usize::from(u16::from_le_bytes([rest[2], rest[3]])).min(MAX_FRAME);
        rest = &rest[4..];
        let n = len.min(rest.len());
        let frame = rest[..n].to_vec();
        rest = &rest[n..];
        if step > 0 {
            run(&mut e, now, &mut queue, loop_back);
            now = Time(now.0 + step * 10_000_000);
            e.tick(now);
        }
        let k = e.owner(&frame);
        queue.push((k, ingress, frame));
        if !batch || queue.len() >= BATCH {
            run(&mut e, now, &mut queue, loop_back);
        }
    }
    run(&mut e, now, &mut queue, loop_back);
    let mut out = Vec::new();
    for s in &e.shards {
        s.check_consistency().expect("consistent");
        s.sessions(&SessionFilter::default(), &mut out);
        let _ = s.sfw_statistics();
    }
    let later = Time(now.0 + 3_600_000_000_000);
    e.tick(later);
    for s in &mut e.shards {
        let _ = s.clear(&SessionFilter::default(), later);
        s.check_consistency().expect("consistent after clear");
    }
});

/// Runs the queued frames, per shard in one batch each, handing messages off after each
/// shard; forwarded frames come back in on their egress interface once when `loop_back`.
fn run(e: &mut Engine, now: Time, queue: &mut Vec<(usize, IfIndex, Vec<u8>)>, loop_back: bool) {
    let mut again = Vec::new();
    for k in 0..e.shards.len() {
        let mine: Vec<_> = queue.iter().filter(|q| q.0 == k).collect();
        if mine.is_empty() {
            continue;
        }
        let mut bufs: Vec<Vec<u8>> = mine
            .iter()
            .map(|(_, _, f)| {
                let mut b = f.clone();
                b.resize(f.len() + ROOM, 0);
                b
            })
            .collect();
        let lens: Vec<usize> = mine.iter().map(|q| q.2.len()).collect();
        let ingress: Vec<IfIndex> = mine.iter().map(|q| q.1).collect();
        let mut frames: Vec<(IfIndex, Frame<'_>)> = bufs
            .iter_mut()
            .zip(&lens)
            .zip(&ingress)
            .map(|((b, &len), &i)| (i, Frame::new(b, len)))
            .collect();
        let mut verdicts = vec![Verdict::NotIp; frames.len()];
        e.shards[k].process_batch(now, &mut frames, &mut verdicts);
        let sent: Vec<(IfIndex, Vec<u8>)> = frames
            .iter()
            .zip(&verdicts)
            .filter_map(|((_, f), v)| match v {
                Verdict::Forward { egress, .. } => Some((*egress, f.bytes().to_vec())),
                _ => None,
            })
            .collect();
        drop(frames);
        e.handoff(k);
        if loop_back {
            again.extend(sent);
        }
    }
    queue.clear();
    for (egress, f) in again {
        let k = e.owner(&f);
        queue.push((k, egress, f));
    }
    if !queue.is_empty() {
        // Once: what comes back is not looped again.
        run(e, now, queue, false);
    }
}

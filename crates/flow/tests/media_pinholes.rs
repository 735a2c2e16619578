//! Media pinholes of the initiator's host under NAPT (`AlgContext::expect_media_*`), with a
//! toy ALG in virtual time: an RTP/RTCP pair on an even pool port and the next one, media
//! from any host admitted to it, the agent's own media leaving through the same mapping,
//! an unused reservation given back when its pinholes expire, labels closing part of a
//! parent's children, a session kept past its inactivity timeout; and the pool's pairs
//! (`NatState::reserve_port_pair`). Expected frames are built here from addresses and
//! ports, not by the engine.

mod common;

use std::sync::Arc;

use common::*;
use mspic_config::AppProtocol;
use mspic_flow::alg::{AlgContext, AlgError, AlgPacket, AlgRegistry, AlgSession, AlgVerdict};
use mspic_flow::session::Dir;
use mspic_flow::{
    DropReason, Frame, IfIndex, Policy, Shard, ShardConfig, Time, Verdict, FLAG_ALG_CHILD, FLAG_NAT,
};
use mspic_wire::{proto, FlowKey};

const C: &str = "10.0.0.2";
const S: &str = "198.51.100.7";
const P: &str = "203.0.113.128";
/// How long the toy's media pinholes wait.
const LIFETIME: u32 = 5;

/// Inside payloads: `media <port> [<label>]` expects the RTP/RTCP pair of the agent's
/// `<port>` (labelled) and writes the told ports in its place (`<rtp> <rtcp>`);
/// `close <label>` closes what carries the label; `keep <secs>` keeps the session.
struct Media;

impl AlgSession for Media {
    fn on_packet(
        &mut self,
        ctx: &mut AlgContext<'_>,
        pkt: &mut AlgPacket<'_>,
    ) -> Result<AlgVerdict, AlgError> {
        let text = String::from_utf8_lossy(pkt.payload()).into_owned();
        let words: Vec<u64> = text
            .split_whitespace()
            .skip(1)
            .filter_map(|w| w.parse().ok())
            .collect();
        match (ctx.dir, text.split_whitespace().next(), &words[..]) {
            (Dir::I, Some("media"), [port, rest @ ..]) => {
                ctx.label_pinholes(rest.first().copied().unwrap_or(0));
                let agent = (ctx.initiator().0, *port as u16);
                let (rtp, rtcp) =
                    ctx.expect_media_pair_at_initiator(proto::UDP, agent, LIFETIME)?;
                let len = pkt.payload().len();
                pkt.splice(0..len, format!("{} {}", rtp.1, rtcp.1).as_bytes())?;
            }
            (Dir::I, Some("close"), [label]) => ctx.close_label(*label),
            (Dir::I, Some("keep"), [secs]) => {
                ctx.keep_session_until(Time(ctx.now.0 + secs * 1_000_000_000));
            }
            _ => {}
        }
        Ok(AlgVerdict::Forward)
    }
}

struct Registry;

impl AlgRegistry for Registry {
    fn create(
        &self,
        p: AppProtocol,
        _: &FlowKey,
        _: &mspic_flow::alg::AlgParams,
    ) -> Option<(Box<dyn AlgSession>, [bool; 2])> {
        (p == AppProtocol::Sip).then(|| (Box::new(Media) as Box<dyn AlgSession>, [true, true]))
    }
}

/// The testbed with napt-44 from 203.0.113.128/25 and the SIP application on the inside.
fn napt_sip() -> String {
    let cfg = config(
        "term sip { from { source-address { 10.0.0.0/24; } applications junos-sip; } then { accept; } }",
        "",
    )
    .replace(
        "    service-set ss {\n        stateful-firewall-rules r;",
        "    nat { pool p { address 203.0.113.128/25; port { automatic; } }\n          rule n { match-direction input; term t { from { source-address { 10.0.0.0/24; } } then { translated { source-pool p; translation-type { napt-44; } } } } } }\n    service-set ss {\n        stateful-firewall-rules r;\n        nat-rules n;",
    );
    assert!(cfg.contains("nat-rules n;"));
    cfg
}

struct Pic {
    shard: Shard,
    policy: Arc<Policy>,
    now: Time,
}

impl Pic {
    fn new() -> Pic {
        let c = mspic_config::parse(&napt_sip(), "t").unwrap();
        let policy = Arc::new(Policy::compile(&c).unwrap());
        let shard = Shard::with_algs(
            ShardConfig::default(),
            Arc::clone(&policy),
            Arc::new(Registry),
        );
        Pic {
            shard,
            policy,
            now: Time::from_secs(100),
        }
    }

    fn send(&mut self, f: &[u8]) -> (Verdict, Vec<u8>) {
        let src = mspic_wire::parse_frame(f).unwrap().key.src;
        let ingress = match self.policy.routes.lookup(src) {
            mspic_flow::route::RouteResult::Forward { egress, .. } => egress,
            other => panic!("no route back to {src}: {other:?}"),
        };
        let mut buf = vec![0u8; 2048];
        buf[..f.len()].copy_from_slice(f);
        let mut fr = Frame::new(&mut buf, f.len());
        let v = self.shard.process(self.now, IfIndex(ingress.0), &mut fr);
        let out = fr.bytes().to_vec();
        let msgs: Vec<_> = self.shard.drain_outbox().collect();
        for m in msgs {
            self.shard.deliver(m);
        }
        self.shard.check_consistency().unwrap();
        (v, out)
    }

    /// Sends a frame that must be forwarded exactly as `want` (TTL 63, MACs rewritten).
    fn pass(&mut self, f: &[u8], want: Vec<u8>) {
        let (v, out) = self.send(f);
        assert!(matches!(v, Verdict::Forward { .. }), "{v:?}");
        assert_eq!(out, with_macs(want, f));
        assert!(checksums_ok(&out));
    }

    fn ports_in_use(&self) -> u64 {
        self.shard.nat_state().pool_stats(0).unwrap().ports_in_use
    }

    fn advance_secs(&mut self, s: u64) {
        self.now = Time(self.now.0 + s * 1_000_000_000);
        self.shard.handle_timeout(self.now);
    }
}

fn out(src: (&str, u16), dst: (&str, u16), payload: &[u8]) -> Vec<u8> {
    udp_ttl(src.0, src.1, dst.0, dst.1, payload, 63)
}

#[test]
fn a_pair_on_an_even_pool_port_admits_media_both_ways() {
    let mut pic = Pic::new();
    // The signalling takes 1024; the pair skips the odd 1025 and takes 1026/1027.
    pic.pass(
        &udp(C, 5060, S, 5060, b"media 49170"),
        out((P, 1024), (S, 5060), b"1026 1027"),
    );
    assert_eq!(pic.ports_in_use(), 3);
    // The agent sends RTP first, to a media server the signalling never named: it leaves
    // from the told port, and the answers come back through the same child.
    let media = "198.51.100.9";
    pic.pass(
        &udp(C, 49170, media, 4000, b"rtp"),
        out((P, 1026), (media, 4000), b"rtp"),
    );
    pic.pass(
        &udp(media, 4000, P, 1026, b"rtp"),
        out((media, 4000), (C, 49170), b"rtp"),
    );
    // RTCP from another host reaches the agent's RTP port + 1.
    pic.pass(
        &udp("198.51.100.20", 4001, P, 1027, b"rtcp"),
        out(("198.51.100.20", 4001), (C, 49171), b"rtcp"),
    );
    let s = pic.shard_sessions();
    assert_eq!(s.len(), 3, "{s:?}");
    for child in &s[1..] {
        assert_eq!(
            (child.flags, child.parent, child.alg),
            (
                FLAG_ALG_CHILD | FLAG_NAT,
                Some(s[0].id),
                Some(AppProtocol::Sip)
            )
        );
    }
    // The children hold the reserved ports: nothing new was allocated for them.
    assert_eq!(pic.ports_in_use(), 3);
    // A pool port nobody was told stays closed.
    let (v, _) = pic.send(&udp(media, 4000, P, 1028, b"rtp"));
    assert_eq!(v, Verdict::Drop(DropReason::NatNoSession));
}

#[test]
fn an_unused_pair_goes_back_to_the_pool_when_its_pinholes_expire() {
    let mut pic = Pic::new();
    pic.pass(
        &udp(C, 5060, S, 5060, b"media 40000"),
        out((P, 1024), (S, 5060), b"1026 1027"),
    );
    assert_eq!(pic.ports_in_use(), 3);
    pic.advance_secs(u64::from(LIFETIME) - 1);
    assert_eq!(
        pic.ports_in_use(),
        3,
        "released before the pinholes expired"
    );
    pic.advance_secs(2);
    assert_eq!(pic.ports_in_use(), 1, "the pair was not given back");
    let (v, _) = pic.send(&udp(S, 4000, P, 1026, b"rtp"));
    assert_eq!(v, Verdict::Drop(DropReason::NatNoSession));
    // The next offer gets a pair again.
    pic.pass(
        &udp(C, 5060, S, 5060, b"media 40002"),
        out((P, 1024), (S, 5060), b"1028 1029"),
    );
}

impl Pic {
    fn shard_sessions(&self) -> Vec<mspic_flow::SessionSnapshot> {
        let mut v = Vec::new();
        self.shard.sessions(&Default::default(), &mut v);
        v.sort_by_key(|s| s.id);
        v
    }
}

#[test]
fn closing_a_label_takes_its_children_and_pinholes_and_no_others() {
    let mut pic = Pic::new();
    pic.pass(
        &udp(C, 5060, S, 5060, b"media 40000 7"),
        out((P, 1024), (S, 5060), b"1026 1027"),
    );
    pic.pass(
        &udp(C, 5060, S, 5060, b"media 41000 8"),
        out((P, 1024), (S, 5060), b"1028 1029"),
    );
    pic.pass(
        &udp(S, 4000, P, 1026, b"rtp"),
        out((S, 4000), (C, 40000), b"rtp"),
    );
    pic.pass(
        &udp(S, 4100, P, 1028, b"rtp"),
        out((S, 4100), (C, 41000), b"rtp"),
    );
    assert_eq!(pic.ports_in_use(), 5);
    pic.pass(
        &udp(C, 5060, S, 5060, b"close 7"),
        out((P, 1024), (S, 5060), b"close 7"),
    );
    // Label 7's child (1026) and unused pinhole (1027) are gone, their ports given back.
    let s = pic.shard_sessions();
    assert_eq!(s.len(), 2, "{s:?}");
    assert_eq!(s[1].flows[0].src.port, Some(4100));
    assert_eq!(pic.ports_in_use(), 3);
    for port in [1026, 1027] {
        let (v, _) = pic.send(&udp(S, 4000, P, port, b"rtp"));
        assert_eq!(v, Verdict::Drop(DropReason::NatNoSession), "{port}");
    }
    pic.pass(
        &udp(S, 4101, P, 1029, b"rtcp"),
        out((S, 4101), (C, 41001), b"rtcp"),
    );
}

#[test]
fn a_kept_session_outlives_its_inactivity_timeout_until_then() {
    let mut pic = Pic::new();
    pic.pass(
        &udp(C, 5060, S, 5060, b"keep 500"),
        out((P, 1024), (S, 5060), b"keep 500"),
    );
    let idle = pic.shard_sessions()[0].flows[0].timeout;
    assert!(u64::from(idle) < 400, "idle timeout {idle}");
    pic.advance_secs(400);
    assert_eq!(pic.shard_sessions().len(), 1);
    pic.pass(
        &udp(S, 5060, P, 1024, b"late"),
        out((S, 5060), (C, 5060), b"late"),
    );
    // Past the kept time and idle since the last packet: gone, with its mapping.
    pic.advance_secs(u64::from(idle) + 101);
    assert!(pic.shard_sessions().is_empty());
    assert_eq!(pic.ports_in_use(), 0);
}

#[test]
fn pairs_come_from_fresh_ports_then_from_released_ones() {
    let text = napt_sip().replace(
        "address 203.0.113.128/25; port { automatic; }",
        "address 203.0.113.128/32; port { range low 1024 high 1031; }",
    );
    assert!(text.contains("high 1031"));
    let c = mspic_config::parse(&text, "t").unwrap();
    let policy = Policy::compile(&c).unwrap();
    let p = &policy.nat;
    let mut st = mspic_flow::nat::NatState::new(p, 0, 1);
    let ep = (ip(C), 40000);
    let ports = |a: &(mspic_flow::nat::Allocation, mspic_flow::nat::Allocation)| {
        (a.0.port.unwrap(), a.1.port.unwrap())
    };
    let single = st.reserve_port(p, 0, 0, proto::UDP, ep).unwrap();
    assert_eq!(single.port, Some(1024));
    // Fresh ports in order; the odd 1025 is skipped (kept for single ports).
    let mut pairs = Vec::new();
    for want in [(1026, 1027), (1028, 1029), (1030, 1031)] {
        let pair = st.reserve_port_pair(p, 0, 0, proto::UDP, ep).unwrap();
        assert_eq!(ports(&pair), want);
        pairs.push(pair);
    }
    assert!(st.reserve_port_pair(p, 0, 0, proto::UDP, ep).is_none());
    assert_eq!(st.pool_stats(0).unwrap().ports_in_use, 7);
    // A released pair is found again in the free list; the lone odd port stays single.
    let (rtp, rtcp) = pairs.remove(1);
    st.release_alloc(p, &rtcp, 0);
    st.release_alloc(p, &rtp, 0);
    let again = st.reserve_port_pair(p, 0, 0, proto::UDP, ep).unwrap();
    assert_eq!(ports(&again), (1028, 1029));
    assert!(st.reserve_port_pair(p, 0, 0, proto::UDP, ep).is_none());
    let last = st.reserve_port(p, 0, 0, proto::UDP, ep).unwrap();
    assert_eq!(last.port, Some(1025));
    assert_eq!(st.pool_stats(0).unwrap().ports_in_use, 8);
}

#[test]
fn no_pair_where_the_shard_ports_are_not_consecutive() {
    let c = mspic_config::parse(&napt_sip(), "t").unwrap();
    let policy = Policy::compile(&c).unwrap();
    let p = &policy.nat;
    // Two shards own alternate ports.
    let mut st = mspic_flow::nat::NatState::new(p, 1, 2);
    assert!(st
        .reserve_port_pair(p, 0, 0, proto::UDP, (ip(C), 40000))
        .is_none());
    assert_eq!(st.pool_stats(0).map_or(0, |s| s.ports_in_use), 0);
}

proptest::proptest! {
    /// Any mix of single ports, pairs and releases on a small pool: no port is handed out
    /// twice, a pair is an even port and the next, and the pool counts what is out.
    #[test]
    fn pool_ports_and_pairs_never_overlap(
        ops in proptest::collection::vec((0u8..3, proptest::num::usize::ANY), 1..80)
    ) {
        let text = napt_sip().replace(
            "address 203.0.113.128/25; port { automatic; }",
            "address 203.0.113.128/32; port { range low 1024 high 1043; }",
        );
        let c = mspic_config::parse(&text, "t").unwrap();
        let policy = Policy::compile(&c).unwrap();
        let p = &policy.nat;
        let mut st = mspic_flow::nat::NatState::new(p, 0, 1);
        let ep = (ip(C), 40000);
        let mut out: Vec<mspic_flow::nat::Allocation> = Vec::new();
        for (op, pick) in ops {
            match op {
                0 => {
                    if let Some(a) = st.reserve_port(p, 0, 0, proto::UDP, ep) {
                        out.push(a);
                    }
                }
                1 => {
                    if let Some((a, b)) = st.reserve_port_pair(p, 0, 0, proto::UDP, ep) {
                        let (x, y) = (a.port.unwrap(), b.port.unwrap());
                        proptest::prop_assert!(x % 2 == 0 && y == x + 1, "{x} {y}");
                        out.push(a);
                        out.push(b);
                    }
                }
                _ => {
                    if !out.is_empty() {
                        let a = out.swap_remove(pick % out.len());
                        st.release_alloc(p, &a, 0);
                    }
                }
            }
            let mut ports: Vec<u16> = out.iter().map(|a| a.port.unwrap()).collect();
            ports.sort_unstable();
            let n = ports.len();
            ports.dedup();
            proptest::prop_assert_eq!(ports.len(), n, "a port handed out twice");
            proptest::prop_assert!(ports.iter().all(|&x| (1024..=1043).contains(&x)));
            let in_use = st.pool_stats(0).map_or(0, |s| s.ports_in_use);
            proptest::prop_assert_eq!(in_use, n as u64);
        }
    }
}

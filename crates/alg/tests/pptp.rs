//! PPTP through a shard: a call set up on the control connection admits its enhanced GRE
//! data both ways as children (without port translation as 3-tuple sessions; under NAPT
//! with the PNS Call ID translated, as one session keyed by call id); hostile control
//! messages are refused.

mod common;

use common::*;
use etherparse::{IpNumber, PacketBuilder};
use mspic_config::AppProtocol;
use mspic_flow::{DropReason, Verdict, FLAG_ALG_CHILD, FLAG_ALG_PARENT, FLAG_NAT};

const C: &str = "10.0.0.2";
const S: &str = "198.51.100.7";

/// A control message of type `t` (its fixed length `len`) with the fields after the
/// header.
fn ctrl(t: u16, len: usize, fields: &[u8]) -> Vec<u8> {
    let mut v = (len as u16).to_be_bytes().to_vec();
    v.extend_from_slice(&[0, 1, 0x1a, 0x2b, 0x3c, 0x4d]);
    v.extend_from_slice(&t.to_be_bytes());
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(fields);
    v.resize(len, 0);
    v
}

fn ocrq(call_id: u16) -> Vec<u8> {
    ctrl(7, 168, &call_id.to_be_bytes())
}

fn ocrp(call_id: u16, peer: u16, result: u8) -> Vec<u8> {
    ctrl(
        8,
        32,
        &[call_id.to_be_bytes(), peer.to_be_bytes()]
            .concat()
            .into_iter()
            .chain([result])
            .collect::<Vec<_>>(),
    )
}

/// An enhanced GRE packet (RFC 2637 §4.1: K and S bits, version 1, PPP) to Call ID `cid`.
fn gre(src: &str, dst: &str, cid: u16, ttl: u8) -> Vec<u8> {
    let payload = b"\xff\x03ppp";
    let mut g = vec![0x30, 0x01, 0x88, 0x0b];
    g.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    g.extend_from_slice(&cid.to_be_bytes());
    g.extend_from_slice(&1u32.to_be_bytes());
    g.extend_from_slice(payload);
    let (s, d) = (v4(src), v4(dst));
    let macs = if s.octets()[0] == 10 {
        ([2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 1, 0])
    } else {
        ([2, 0, 0, 0, 0, 0x22], [2, 0, 0, 0, 1, 1])
    };
    let mut out = Vec::new();
    PacketBuilder::ethernet2(macs.0, macs.1)
        .ipv4(s.octets(), d.octets(), ttl)
        .write(&mut out, IpNumber(47), &g)
        .unwrap();
    out
}

fn control(cfg: &str, to: (&str, u16)) -> (Cluster, u32, u32) {
    let mut c = Cluster::one(cfg);
    c.pass(&tcp((C, 40000), (S, 1723), "S", 100, 0, b""));
    c.pass(&tcp((S, 1723), to, "SA", 500, 101, b""));
    (c, 101, 501)
}

#[test]
fn an_outgoing_call_admits_its_gre_both_ways() {
    let (mut c, cs, ss) = control(&config("", ""), (C, 40000));
    let q = ocrq(0x4001);
    c.pass(&tcp((C, 40000), (S, 1723), "PA", cs, ss, &q));
    let r = ocrp(0x0777, 0x4001, 1);
    let f = tcp((S, 1723), (C, 40000), "PA", ss, cs + q.len() as u32, &r);
    assert_eq!(
        c.pass(&f),
        tcp_out((S, 1723), (C, 40000), "PA", ss, cs + q.len() as u32, &r, &f)
    );
    // GRE from the PAC to the PNS's Call ID, then the PNS's to the PAC's.
    let g = gre(S, C, 0x4001, 64);
    assert_eq!(c.pass(&g), with_macs(gre(S, C, 0x4001, 63), &g));
    let g = gre(C, S, 0x0777, 64);
    assert_eq!(c.pass(&g), with_macs(gre(C, S, 0x0777, 63), &g));
    let s = c.sessions();
    assert_eq!(s.len(), 2);
    assert_eq!(s[0].flags, FLAG_ALG_PARENT);
    assert_eq!(
        (s[1].flags, s[1].alg, s[1].parent),
        (FLAG_ALG_CHILD, Some(AppProtocol::Pptp), Some(s[0].id))
    );
}

#[test]
fn a_refused_call_opens_nothing() {
    let (mut c, cs, ss) = control(&config("", ""), (C, 40000));
    let q = ocrq(1);
    c.pass(&tcp((C, 40000), (S, 1723), "PA", cs, ss, &q));
    c.pass(&tcp(
        (S, 1723),
        (C, 40000),
        "PA",
        ss,
        cs + q.len() as u32,
        &ocrp(2, 1, 3),
    ));
    assert_eq!(c.stats().alg.pinholes_created, 0);
    assert_eq!(c.sessions()[0].flags, FLAG_ALG_PARENT);
}

#[test]
fn hostile_control_messages_are_refused_and_counted() {
    let (mut c, cs, ss) = control(&config("", ""), (C, 40000));
    let mut bad_len = ocrq(1);
    bad_len[1] = 100;
    let mut bad_magic = ocrq(1);
    bad_magic[7] = 0;
    let bad: Vec<Vec<u8>> = vec![
        bad_len,
        bad_magic,
        b"garbage garbage".to_vec(),
        ctrl(99, 16, &[]),
    ];
    for (i, m) in bad.iter().enumerate() {
        let (v, _) = c.send(&tcp((C, 40000), (S, 1723), "PA", cs, ss, m));
        assert_eq!(v, Verdict::Drop(DropReason::Alg), "message {i}");
    }
    assert_eq!(c.stats().alg.malformed, bad.len() as u64);
    let (v, _) = c.send(&tcp((C, 40000), (S, 1723), "PA", cs, ss, &ocrq(1)[..50]));
    assert_eq!(v, Verdict::Drop(DropReason::Alg));
    assert_eq!(c.stats().alg.partial_lines, 1);
}

/// Any other control message of type `t` whose first Call ID field (offset 12) is `id`.
fn msg(t: u16, id: u16) -> Vec<u8> {
    let len = match t {
        9 => 220,
        10 => 24,
        11 => 28,
        12 => 16,
        13 => 148,
        14 => 40,
        15 => 24,
        _ => panic!("type {t}"),
    };
    ctrl(t, len, &id.to_be_bytes())
}

fn icrp(call_id: u16, peer: u16, result: u8) -> Vec<u8> {
    ctrl(
        10,
        24,
        &[&call_id.to_be_bytes()[..], &peer.to_be_bytes(), &[result]].concat(),
    )
}

/// The public endpoint (address, port) a frame left from.
fn source_of(frame: &[u8]) -> (String, u16) {
    let p = mspic_wire::parse_frame(frame).unwrap();
    (p.key.src.to_string(), p.key.src_port)
}

/// One PNS's control connection through the cluster: its inside endpoint, its public
/// one, and the next sequence numbers of both sides.
struct Pns {
    inside: (&'static str, u16),
    public: (String, u16),
    cs: u32,
    ss: u32,
}

impl Pns {
    fn connect(c: &mut Cluster, inside: (&'static str, u16)) -> Self {
        let syn = c.pass(&tcp(inside, (S, 1723), "S", 100, 0, b""));
        let public = source_of(&syn);
        let to = (public.0.as_str(), public.1);
        c.pass(&tcp((S, 1723), to, "SA", 500, 101, b""));
        Pns {
            inside,
            public,
            cs: 101,
            ss: 501,
        }
    }

    /// The PNS sends `m`; it must leave as `want` (to the PAC, from the public endpoint).
    fn send_to_pac(&mut self, c: &mut Cluster, m: &[u8], want: &[u8]) {
        let f = tcp(self.inside, (S, 1723), "PA", self.cs, self.ss, m);
        let to = (self.public.0.as_str(), self.public.1);
        let expect = tcp_out(to, (S, 1723), "PA", self.cs, self.ss, want, &f);
        assert_eq!(c.pass(&f), expect, "PNS {:?}: {m:02x?}", self.inside);
        self.cs += m.len() as u32;
    }

    /// The PAC sends `m`; it must reach the PNS as `want`.
    fn recv_from_pac(&mut self, c: &mut Cluster, m: &[u8], want: &[u8]) {
        let to = (self.public.0.as_str(), self.public.1);
        let f = tcp((S, 1723), to, "PA", self.ss, self.cs, m);
        let expect = tcp_out((S, 1723), self.inside, "PA", self.ss, self.cs, want, &f);
        assert_eq!(c.pass(&f), expect, "PAC to {:?}: {m:02x?}", self.inside);
        self.ss += m.len() as u32;
    }
}

/// Two PNSs behind one NAPT address pick the same Call ID for a call to one PAC: the
/// second is told another, every Call ID field (RFC 2637 §2) is translated or written
/// back, and each call's GRE reaches its own PNS with its own Call ID, with 1 to 4 shards.
#[test]
fn napt_translates_colliding_call_ids_and_keys_gre_by_call() {
    for n in 1..=4u32 {
        let mut c = Cluster::new(&napt(), n);
        let mut a = Pns::connect(&mut c, (C, 40000));
        let mut b = Pns::connect(&mut c, ("10.0.0.3", 40001));
        assert_eq!(a.public.0, b.public.0, "one public address");
        // Outgoing calls, both with Call ID 0x4001.
        let ta = told(n, a.public.1, 0x4001, &[]);
        let tb = told(n, b.public.1, 0x4001, &[ta]);
        if n == 1 {
            assert_eq!((ta, tb), (0x4001, 0x4002));
        }
        a.send_to_pac(&mut c, &ocrq(0x4001), &ocrq(ta));
        b.send_to_pac(&mut c, &ocrq(0x4001), &ocrq(tb));
        // Table: message as sent → as it must arrive (built independently).
        let rows: Vec<(bool, Vec<u8>, Vec<u8>)> = vec![
            (false, ocrp(0x0900, tb, 1), ocrp(0x0900, 0x4001, 1)),
            (true, msg(15, 0x0900), msg(15, 0x0900)),
            (false, msg(14, tb), msg(14, 0x4001)),
            (false, msg(15, tb), msg(15, 0x4001)),
        ];
        for (to_pac, sent, want) in &rows {
            if *to_pac {
                b.send_to_pac(&mut c, sent, want);
            } else {
                b.recv_from_pac(&mut c, sent, want);
            }
        }
        a.recv_from_pac(&mut c, &ocrp(0x0800, ta, 1), &ocrp(0x0800, 0x4001, 1));
        // GRE: each PNS to its PAC Call ID leaves from the public address, the PAC's to
        // each translated id reaches its PNS with 0x4001; either side may send first.
        let pubaddr = a.public.0.clone();
        let pubaddr = pubaddr.as_str();
        for _ in 0..2 {
            let g = gre(S, pubaddr, tb, 64);
            assert_eq!(c.pass(&g), with_macs(gre(S, "10.0.0.3", 0x4001, 63), &g));
            let g = gre("10.0.0.3", S, 0x0900, 64);
            assert_eq!(c.pass(&g), with_macs(gre(pubaddr, S, 0x0900, 63), &g));
            let g = gre(C, S, 0x0800, 64);
            assert_eq!(c.pass(&g), with_macs(gre(pubaddr, S, 0x0800, 63), &g));
            let g = gre(S, pubaddr, ta, 64);
            assert_eq!(c.pass(&g), with_macs(gre(S, C, 0x4001, 63), &g));
        }
        let s = c.sessions();
        let children: Vec<_> = s.iter().filter(|s| s.flags & FLAG_ALG_CHILD != 0).collect();
        assert_eq!(children.len(), 2, "{n} shards: {s:#?}");
        for ch in &children {
            assert_eq!(ch.flags, FLAG_ALG_CHILD | FLAG_NAT);
            assert_eq!(ch.flows[0].protocol, 47);
            assert_eq!(ch.flows.iter().map(|f| f.frames).sum::<u64>(), 4);
        }
        // Call-Clear-Request carries the told id; Call-Disconnect-Notify the PAC's, and it
        // ends the call's GRE.
        b.send_to_pac(&mut c, &msg(12, 0x4001), &msg(12, tb));
        b.recv_from_pac(&mut c, &msg(13, 0x0900), &msg(13, 0x0900));
        let left: Vec<_> = c
            .sessions()
            .into_iter()
            .filter(|s| s.flags & FLAG_ALG_CHILD != 0)
            .collect();
        assert_eq!(left.len(), 1, "{n} shards");
        let (v, _) = c.send(&gre(S, pubaddr, tb, 64));
        assert!(matches!(v, Verdict::Drop(_)), "{v:?}");
        assert!(c.steer.len() <= 2, "{:?}", c.steer);
    }
}

/// What a PNS's `wanted` Call ID becomes when its control connection left from pool
/// port `port` among `n` shards: the connection is on shard `port % n` (the owner of
/// its pool port), which translates to its own ids (`id % n` = its index): the first of
/// them from `wanted` on that is not `taken`.
fn told(n: u32, port: u16, wanted: u16, taken: &[u16]) -> u16 {
    let shard = u32::from(port) % n;
    (wanted..)
        .find(|id| u32::from(*id) % n == shard && !taken.contains(id))
        .unwrap()
}

/// An incoming call (the PAC calls in) under NAPT: the PNS's Call ID in its
/// Incoming-Call-Reply is translated and written back in Incoming-Call-Connected.
#[test]
fn napt_translates_incoming_call_ids() {
    let mut c = Cluster::one(&napt());
    let mut a = Pns::connect(&mut c, (C, 40000));
    let mut b = Pns::connect(&mut c, ("10.0.0.3", 40001));
    a.send_to_pac(&mut c, &ocrq(7), &ocrq(7));
    b.recv_from_pac(&mut c, &msg(9, 0x0901), &msg(9, 0x0901));
    b.send_to_pac(&mut c, &icrp(7, 0x0901, 1), &icrp(8, 0x0901, 1));
    b.recv_from_pac(&mut c, &msg(11, 8), &msg(11, 7));
    let g = gre(S, &b.public.0, 8, 64);
    assert_eq!(c.pass(&g), with_macs(gre(S, "10.0.0.3", 7, 63), &g));
    assert_eq!(c.stats().alg.pinholes_created, 1);
}

/// pptpd numbers its calls from 0: one PNS with two calls, the PAC's Call IDs 0 and 128,
/// under NAPT. The GRE to call 128 is its own call's, not the call-0 session's (a call
/// key never equals the GRE 3-tuple).
#[test]
fn a_pac_call_id_0_is_a_call_like_any_other() {
    for n in [1, 2, 3] {
        let mut c = Cluster::new(&napt(), n);
        let mut a = Pns::connect(&mut c, (C, 40000));
        let pubaddr = a.public.0.clone();
        let t1 = told(n, a.public.1, 5, &[]);
        let t2 = told(n, a.public.1, 6, &[t1]);
        a.send_to_pac(&mut c, &ocrq(5), &ocrq(t1));
        a.recv_from_pac(&mut c, &ocrp(0, t1, 1), &ocrp(0, 5, 1));
        a.send_to_pac(&mut c, &ocrq(6), &ocrq(t2));
        a.recv_from_pac(&mut c, &ocrp(128, t2, 1), &ocrp(128, 6, 1));
        for (pac, told, pns) in [(0, t1, 5), (128, t2, 6), (128, t2, 6)] {
            let g = gre(C, S, pac, 64);
            assert_eq!(c.pass(&g), with_macs(gre(&pubaddr, S, pac, 63), &g));
            let g = gre(S, &pubaddr, told, 64);
            assert_eq!(c.pass(&g), with_macs(gre(S, C, pns, 63), &g));
        }
        let mut frames: Vec<Vec<u64>> = c
            .sessions()
            .iter()
            .filter(|s| s.flags & FLAG_ALG_CHILD != 0)
            .map(|s| s.flows.iter().map(|f| f.frames).collect())
            .collect();
        frames.sort();
        assert_eq!(frames, vec![vec![1, 1], vec![2, 2]], "{n} shards");
    }
}

/// Under NAPT a Call ID that cannot be translated is an ALG error, counted: a control
/// connection tracks at most `MAX_CALLS` calls, and the search for a free id gives up
/// after `CallIds::MAX_PROBES` tries.
#[test]
fn an_exhausted_call_id_search_is_counted() {
    use mspic_alg::pptp::MAX_CALLS;
    use mspic_flow::alg::CallIds;
    let mut c = Cluster::one(&napt());
    let per = MAX_CALLS as u32;
    let conns = CallIds::MAX_PROBES / per;
    let mut seen = std::collections::HashSet::new();
    for i in 0..conns {
        let mut a = Pns::connect(&mut c, (C, 20_000 + i as u16));
        // Each connection's PNS numbers its calls 0x4001, 0x4002, …: all collide.
        for j in 0..per {
            let f = tcp(
                a.inside,
                (S, 1723),
                "PA",
                a.cs,
                a.ss,
                &ocrq(0x4001 + j as u16),
            );
            let out = c.pass(&f);
            let p = mspic_wire::parse_frame(&out).unwrap();
            let id = u16::from_be_bytes([out[p.payload_offset + 12], out[p.payload_offset + 13]]);
            assert!(seen.insert(id), "{id:#x} told twice");
            a.cs += 168;
        }
        if i == 0 {
            // One more call than a connection tracks.
            let f = tcp(a.inside, (S, 1723), "PA", a.cs, a.ss, &ocrq(0x5000));
            assert_eq!(c.send(&f).0, Verdict::Drop(DropReason::Alg));
            assert_eq!(c.stats().alg.nat_exhausted, 1);
        }
    }
    assert_eq!(seen.len() as u32, CallIds::MAX_PROBES);
    let mut a = Pns::connect(&mut c, (C, 30_000));
    let f = tcp(a.inside, (S, 1723), "PA", a.cs, a.ss, &ocrq(0x4001));
    assert_eq!(c.send(&f).0, Verdict::Drop(DropReason::Alg));
    assert_eq!(c.stats().alg.nat_exhausted, 2);
    // Another wanted id is outside the searched window: free.
    a.send_to_pac(&mut c, &ocrq(0x9000), &ocrq(0x9000));
}

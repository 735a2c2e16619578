//! The worker loop driven in virtual time over an in-memory UMEM: NAT through the
//! testbed policy with ARP resolution on both sides, handoff between two workers,
//! neighbor broadcast, chunked session listings, and frame accounting after each.

use std::collections::VecDeque;
use std::net::Ipv4Addr;

use crossbeam::channel::{bounded, unbounded, Sender};
use mspic_flow::alg::NoAlgs;

use super::*;
use crate::l2::{arp_reply, arp_request, parse_arp};
use crate::xsk::{FrameBook, Place};
use mspic_wire::nd::{self, Nd, NdOp};

const CAP: usize = 2048 - 256;
const PIN: Mac = [0x02, 0, 0, 0, 0, 0x01];
const POUT: Mac = [0x02, 0, 0, 0, 0, 0x02];
const CLIENT: Mac = [0x0a, 0, 0, 0, 0, 0x02];
const SERVER: Mac = [0x0a, 0, 0, 0, 0, 0x03];

/// A frame of [`MemIo`].
#[derive(Debug)]
struct MemFrame {
    idx: u32,
    len: usize,
}

/// An in-memory stand-in for a worker's UMEM and sockets, with the same bookkeeping.
struct MemIo {
    ports: usize,
    data: Vec<Vec<u8>>,
    meta: Vec<[u8; META_LEN]>,
    book: FrameBook,
    /// Frames "received by the kernel", per port.
    rxq: Vec<VecDeque<(u32, usize)>>,
    pending: Vec<(usize, u32, usize)>,
    sent: Vec<(usize, Vec<u8>)>,
}

impl MemIo {
    fn new(frames: u32, ports: usize) -> Self {
        MemIo {
            ports,
            data: vec![vec![0u8; CAP]; frames as usize],
            meta: vec![[0; META_LEN]; frames as usize],
            book: FrameBook::new(frames, ports),
            rxq: vec![VecDeque::new(); ports],
            pending: Vec::new(),
            sent: Vec::new(),
        }
    }

    /// A frame arrives on `port` with steering metadata `meta` (None: no metadata).
    fn inject(&mut self, port: usize, bytes: &[u8], meta: Option<SteerMeta>) {
        let idx = self
            .book
            .alloc(Place::Fill(port as u16))
            .expect("a free frame to receive into");
        self.data[idx as usize][..bytes.len()].copy_from_slice(bytes);
        let m = meta.unwrap_or_default();
        let mut b = [0u8; META_LEN];
        for (i, v) in [m.owner, m.l3_off, m.l4_off, m.flags].iter().enumerate() {
            b[2 * i..2 * i + 2].copy_from_slice(&v.to_ne_bytes());
        }
        self.meta[idx as usize] = b;
        self.rxq[port].push_back((idx, bytes.len()));
    }

    fn take_sent(&mut self) -> Vec<(usize, Vec<u8>)> {
        std::mem::take(&mut self.sent)
    }
}

impl FrameIo for MemIo {
    type Frame = MemFrame;
    fn port_count(&self) -> usize {
        self.ports
    }
    fn refill(&mut self) {}
    fn rx(&mut self, port: usize, max: usize, out: &mut Vec<MemFrame>) -> usize {
        let mut n = 0;
        while n < max {
            let Some((idx, len)) = self.rxq[port].pop_front() else {
                break;
            };
            assert!(self.book.moved(idx, Place::Fill(port as u16), Place::Held));
            out.push(MemFrame { idx, len });
            n += 1;
        }
        n
    }
    fn alloc(&mut self) -> Option<MemFrame> {
        self.book
            .alloc(Place::Held)
            .map(|idx| MemFrame { idx, len: 0 })
    }
    fn free(&mut self, f: MemFrame) {
        self.book.release(f.idx, Place::Held);
    }
    fn frame_len(f: &MemFrame) -> usize {
        f.len
    }
    fn set_frame_len(f: &mut MemFrame, len: usize) {
        f.len = len;
    }
    fn buf(&mut self, f: &MemFrame) -> &mut [u8] {
        &mut self.data[f.idx as usize]
    }
    fn bufs<'a>(&'a mut self, frames: &[MemFrame], out: &mut [&'a mut [u8]]) {
        for f in frames {
            assert_eq!(self.book.place(f.idx), Some(Place::Held));
        }
        for (idx, d) in self.data.iter_mut().enumerate() {
            let mut at = frames
                .iter()
                .enumerate()
                .filter(|(_, f)| f.idx as usize == idx);
            if let Some((i, _)) = at.next() {
                assert!(at.next().is_none(), "frame {idx} twice in a batch");
                out[i] = d;
            }
        }
    }
    fn meta(&self, f: &MemFrame) -> [u8; META_LEN] {
        self.meta[f.idx as usize]
    }
    fn tx(&mut self, port: usize, f: MemFrame) {
        assert!(self
            .book
            .moved(f.idx, Place::Held, Place::TxPending(port as u16)));
        self.pending.push((port, f.idx, f.len));
    }
    fn flush(&mut self) -> bool {
        for (port, idx, len) in std::mem::take(&mut self.pending) {
            let p = port as u16;
            assert!(self
                .book
                .moved(idx, Place::TxPending(p), Place::TxKernel(p)));
            self.sent
                .push((port, self.data[idx as usize][..len].to_vec()));
            self.book.release(idx, Place::TxKernel(p));
        }
        false
    }
    fn wait(&mut self, _timeout_ms: i32, _wake_fd: Option<RawFd>) {}
    fn accounting(&self) -> FrameAccounting {
        self.book.accounting().clone()
    }
    fn check_accounting(&self) -> Result<(), String> {
        self.book.check()
    }
    fn xsk_counters(&self, _kernel: bool) -> XskCounters {
        XskCounters::default()
    }
}

fn policy() -> Arc<Policy> {
    let text = include_str!("../../../../docs/examples/testbed.conf");
    let cfg = mspic_config::parse(text, "testbed.conf").expect("testbed config parses");
    Arc::new(Policy::compile(&cfg).expect("compiles"))
}

fn ports() -> Vec<PortInfo> {
    vec![
        PortInfo {
            name: "ge-0/0/0".into(),
            ingress: IfIndex(0),
            mac: PIN,
        },
        PortInfo {
            name: "ge-0/0/1".into(),
            ingress: IfIndex(1),
            mac: POUT,
        },
    ]
}

struct Rig {
    workers: Vec<Worker<MemIo>>,
    control: Vec<Sender<Control>>,
}

fn rig(n: usize, chunk: usize) -> Rig {
    rig_with(n, chunk, policy())
}

fn rig_with(n: usize, chunk: usize, policy: Arc<Policy>) -> Rig {
    let handoff = Arc::new(Handoff::new(n, 64, CAP));
    let mut workers = Vec::new();
    let mut control = Vec::new();
    for i in 0..n {
        let (tx, rx) = unbounded();
        control.push(tx);
        let cfg = WorkerConfig {
            index: i,
            workers: n,
            ports: ports(),
            shard: ShardConfig {
                index: i as u32,
                count: n as u32,
                capacity: 1 << 16,
                prealloc: 64,
                verify_checksums: true,
                // The worker's batches take the look-ahead path even with few sessions.
                lookahead_min_sessions: 0,
            },
            l2: L2Config::default(),
            batch: 64,
            chunk,
            idle_poll_ms: 10,
        };
        workers.push(Worker::new(
            cfg,
            MemIo::new(256, 2),
            Arc::clone(&policy),
            Arc::new(NoAlgs),
            Arc::clone(&handoff),
            None,
            rx,
            Arc::new(Mutex::new(WorkerStats::default())),
        ));
    }
    Rig { workers, control }
}

impl Rig {
    /// Turns every worker's loop until none has work.
    fn settle(&mut self, now: Time) {
        for _ in 0..1000 {
            let mut any = false;
            for w in &mut self.workers {
                any |= w.poll_once(now);
            }
            if !any {
                return;
            }
        }
        panic!("workers never settled");
    }

    fn ask<T>(&mut self, w: usize, now: Time, make: impl FnOnce(Sender<T>) -> Control) -> T {
        let (tx, rx) = bounded(1);
        self.control[w].send(make(tx)).unwrap();
        for _ in 0..10_000 {
            self.workers[w].poll_once(now);
            if let Ok(v) = rx.try_recv() {
                return v;
            }
        }
        panic!("worker {w} did not answer");
    }

    fn sessions(&mut self, now: Time) -> Vec<SessionSnapshot> {
        let mut all = Vec::new();
        for w in 0..self.workers.len() {
            all.extend(self.ask(w, now, |reply| Control::Sessions {
                filter: SessionFilter::default(),
                reply,
            }));
        }
        all
    }

    fn check(&mut self, now: Time) {
        for w in 0..self.workers.len() {
            let r = self.ask(w, now, |reply| Control::Check { reply });
            assert_eq!(r, Ok(()), "worker {w}");
        }
    }
}

fn udp(
    src_mac: Mac,
    dst_mac: Mac,
    src: &str,
    dst: &str,
    sp: u16,
    dp: u16,
    payload: &[u8],
) -> Vec<u8> {
    let s: Ipv4Addr = src.parse().unwrap();
    let d: Ipv4Addr = dst.parse().unwrap();
    let b = etherparse::PacketBuilder::ethernet2(src_mac, dst_mac)
        .ipv4(s.octets(), d.octets(), 64)
        .udp(sp, dp);
    let mut out = Vec::new();
    b.write(&mut out, payload).unwrap();
    out
}

fn tcp_ack(src: &str, dst: &str) -> Vec<u8> {
    let s: Ipv4Addr = src.parse().unwrap();
    let d: Ipv4Addr = dst.parse().unwrap();
    let b = etherparse::PacketBuilder::ethernet2(CLIENT, PIN)
        .ipv4(s.octets(), d.octets(), 64)
        .tcp(40000, 80, 1, 1000)
        .ack(1);
    let mut out = Vec::new();
    b.write(&mut out, &[]).unwrap();
    out
}

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

/// Parses an IPv4/UDP frame: (dst mac, src mac, src, dst, sport, dport).
fn udp_fields(f: &[u8]) -> (Mac, Mac, Ipv4Addr, Ipv4Addr, u16, u16) {
    let p = mspic_wire::parse_frame(f).expect("sent frame parses");
    assert!(mspic_wire::parse::l4_checksum_ok(f, &p), "checksum");
    let (IpAddr::V4(s), IpAddr::V4(d)) = (p.key.src, p.key.dst) else {
        panic!("v4")
    };
    (
        f[0..6].try_into().unwrap(),
        f[6..12].try_into().unwrap(),
        s,
        d,
        p.key.src_port,
        p.key.dst_port,
    )
}

#[test]
fn nat_with_arp_on_both_sides() {
    let mut r = rig(1, 1024);
    let t = Time::from_secs(1);
    // The client asks for its gateway; we answer.
    r.workers[0].io_mut().inject(
        0,
        &arp_request(CLIENT, ip("10.0.0.2"), ip("10.0.0.1")),
        None,
    );
    r.settle(t);
    let sent = r.workers[0].io_mut().take_sent();
    assert_eq!(sent.len(), 1);
    let (op, sha, spa, tha, tpa) = parse_arp(&sent[0].1).unwrap();
    assert_eq!(
        (sent[0].0, op, sha, spa, tha, tpa),
        (0, 2, PIN, ip("10.0.0.1"), CLIENT, ip("10.0.0.2"))
    );
    // A datagram to the server: held while we resolve the server.
    let out = udp(CLIENT, PIN, "10.0.0.2", "203.0.113.2", 5000, 7, b"ping");
    r.workers[0].io_mut().inject(0, &out, None);
    r.settle(t);
    let sent = r.workers[0].io_mut().take_sent();
    assert_eq!(sent.len(), 1, "only the ARP request: {sent:?}");
    let (op, sha, spa, _, tpa) = parse_arp(&sent[0].1).unwrap();
    assert_eq!(
        (sent[0].0, op, sha, spa, tpa),
        (1, 1, POUT, ip("203.0.113.1"), ip("203.0.113.2"))
    );
    // The server answers: the datagram leaves translated, with the right MACs.
    r.workers[0].io_mut().inject(
        1,
        &arp_reply(SERVER, ip("203.0.113.2"), POUT, ip("203.0.113.1")),
        None,
    );
    r.settle(t);
    let sent = r.workers[0].io_mut().take_sent();
    assert_eq!(sent.len(), 1);
    let (dmac, smac, s, d, sp, dp) = udp_fields(&sent[0].1);
    assert_eq!(
        (sent[0].0, dmac, smac, d, dp),
        (1, SERVER, POUT, ip("203.0.113.2"), 7)
    );
    let pool: mspic_config::Prefix = "203.0.113.128/25".parse().unwrap();
    assert!(pool.contains(IpAddr::V4(s)), "source {s} is a pool address");
    // The server asks for the pool address; we answer on its port.
    r.workers[0]
        .io_mut()
        .inject(1, &arp_request(SERVER, ip("203.0.113.2"), s), None);
    r.settle(t);
    let sent = r.workers[0].io_mut().take_sent();
    let (op, sha, spa, ..) = parse_arp(&sent[0].1).unwrap();
    assert_eq!((sent[0].0, op, sha, spa), (1, 2, POUT, s));
    // The reply comes back to the client (already resolved from its request).
    let back = udp(SERVER, POUT, "203.0.113.2", &s.to_string(), 7, sp, b"pong");
    r.workers[0].io_mut().inject(1, &back, None);
    r.settle(t);
    let sent = r.workers[0].io_mut().take_sent();
    assert_eq!(sent.len(), 1);
    let (dmac, smac, s2, d2, sp2, dp2) = udp_fields(&sent[0].1);
    assert_eq!(
        (sent[0].0, dmac, smac, s2, d2, sp2, dp2),
        (0, CLIENT, PIN, ip("203.0.113.2"), ip("10.0.0.2"), 7, 5000)
    );
    let sessions = r.sessions(t);
    assert_eq!(sessions.len(), 1);
    assert_eq!(
        sessions[0]
            .flows
            .iter()
            .map(|f| f.frames)
            .collect::<Vec<_>>(),
        vec![1, 1]
    );
    let st = r.workers[0].stats();
    assert_eq!((st.forwarded, st.rx, st.handoff_out), (2, 5, 0));
    assert_eq!(r.workers[0].l2().counters.arp_replies_sent, 2);
    r.check(t);
}

#[test]
fn unknown_flows_are_dropped_and_counted() {
    let mut r = rig(1, 1024);
    let t = Time::from_secs(1);
    // A TCP segment without SYN matches no session: counted, dropped, frame recycled.
    r.workers[0]
        .io_mut()
        .inject(0, &tcp_ack("10.0.0.2", "203.0.113.2"), None);
    r.settle(t);
    assert!(r.workers[0].io_mut().take_sent().is_empty());
    assert_eq!(
        r.workers[0].stats().drops,
        vec![(DropReason::TcpNonSynFirst, 1)]
    );
    // Inbound to a pool address without a session: dropped too.
    let inb = udp(SERVER, POUT, "203.0.113.2", "203.0.113.200", 7, 4000, b"x");
    r.workers[0].io_mut().inject(1, &inb, None);
    r.settle(t);
    assert_eq!(r.workers[0].stats().dropped(), 2);
    assert_eq!(r.workers[0].io().accounting().free, 256);
    r.check(t);
}

#[test]
fn handoff_to_the_owner_and_neighbors_shared() {
    let mut r = rig(2, 1024);
    let t = Time::from_secs(1);
    let meta = |owner: u16| {
        Some(SteerMeta {
            owner,
            l3_off: 14,
            l4_off: 34,
            flags: flags::IPV4 | flags::L4,
        })
    };
    let arp_meta = Some(SteerMeta {
        owner: 0,
        l3_off: 14,
        l4_off: 0,
        flags: flags::ARP,
    });
    // Worker 0 learns both neighbors (from ARP arriving on its queue); worker 1 is told.
    r.workers[0].io_mut().inject(
        0,
        &arp_request(CLIENT, ip("10.0.0.2"), ip("10.0.0.1")),
        arp_meta,
    );
    r.workers[0].io_mut().inject(
        1,
        &arp_request(SERVER, ip("203.0.113.2"), ip("203.0.113.1")),
        arp_meta,
    );
    r.settle(t);
    assert_eq!(
        r.workers[0].io_mut().take_sent().len(),
        2,
        "two ARP replies"
    );
    assert_eq!(r.workers[1].l2().neighbor(0, ip("10.0.0.2")), Some(CLIENT));
    assert_eq!(
        r.workers[1].l2().neighbor(1, ip("203.0.113.2")),
        Some(SERVER)
    );
    // A flow received by worker 0 but owned by worker 1 is processed and sent by 1.
    let out = udp(CLIENT, PIN, "10.0.0.2", "203.0.113.2", 5001, 7, b"hi");
    r.workers[0].io_mut().inject(0, &out, meta(1));
    r.settle(t);
    assert!(r.workers[0].io_mut().take_sent().is_empty());
    let sent = r.workers[1].io_mut().take_sent();
    assert_eq!(sent.len(), 1);
    let (dmac, _, s, ..) = udp_fields(&sent[0].1);
    assert_eq!(dmac, SERVER);
    assert_eq!(r.workers[0].stats().handoff_out, 1);
    assert_eq!(r.workers[1].stats().handoff_in, 1);
    // The session lives on worker 1 only.
    assert_eq!(r.workers[0].shard().session_count(), 0);
    assert_eq!(r.workers[1].shard().session_count(), 1);
    // Frames without metadata get their owner computed here: the reply to the pool
    // address, received by worker 0, belongs to worker 1 (the pool port's owner).
    let sp = udp_fields(&sent[0].1).4;
    let back = udp(SERVER, POUT, "203.0.113.2", &s.to_string(), 7, sp, b"ho");
    r.workers[0].io_mut().inject(1, &back, None);
    r.settle(t);
    let sent = r.workers[1].io_mut().take_sent();
    assert_eq!(sent.len(), 1, "delivered by the owner");
    assert_eq!(udp_fields(&sent[0].1).3, ip("10.0.0.2"));
    assert_eq!(r.workers[0].stats().no_meta, 1);
    let sessions = r.sessions(t);
    assert_eq!(sessions.len(), 1);
    assert_eq!(
        sessions[0]
            .flows
            .iter()
            .map(|f| f.frames)
            .collect::<Vec<_>>(),
        vec![1, 1]
    );
    r.check(t);
}

#[test]
fn a_full_handoff_ring_drops_and_counts() {
    let policy = policy();
    let handoff = Arc::new(Handoff::new(2, 2, CAP));
    let (_tx, rx) = unbounded();
    let cfg = WorkerConfig {
        index: 0,
        workers: 2,
        ports: ports(),
        shard: ShardConfig {
            index: 0,
            count: 2,
            ..ShardConfig::default()
        },
        l2: L2Config::default(),
        batch: 64,
        chunk: 64,
        idle_poll_ms: 10,
    };
    let mut w = Worker::new(
        cfg,
        MemIo::new(64, 2),
        policy,
        Arc::new(NoAlgs),
        Arc::clone(&handoff),
        None,
        rx,
        Arc::new(Mutex::new(WorkerStats::default())),
    );
    let meta = Some(SteerMeta {
        owner: 1,
        l3_off: 14,
        l4_off: 34,
        flags: flags::IPV4 | flags::L4,
    });
    for i in 0..5 {
        let f = udp(CLIENT, PIN, "10.0.0.2", "203.0.113.2", 6000 + i, 7, b"x");
        w.io_mut().inject(0, &f, meta);
    }
    w.poll_once(Time(1));
    assert_eq!(w.stats().handoff_out, 2);
    assert_eq!(w.stats().handoff_drop_full, 3);
    assert_eq!(handoff.queued(0, 1), 2);
    assert_eq!(w.io().accounting().free, 64, "every frame recycled");
    w.io().check_accounting().unwrap();
}

#[test]
fn session_listing_is_answered_in_chunks_while_forwarding_continues() {
    let mut r = rig(1, 4);
    let t = Time::from_secs(1);
    let w = &mut r.workers[0];
    w.io_mut().inject(
        0,
        &arp_request(CLIENT, ip("10.0.0.2"), ip("10.0.0.1")),
        None,
    );
    w.io_mut().inject(
        1,
        &arp_request(SERVER, ip("203.0.113.2"), ip("203.0.113.1")),
        None,
    );
    r.settle(t);
    for i in 0..40u16 {
        let f = udp(CLIENT, PIN, "10.0.0.2", "203.0.113.2", 7000 + i, 53, b"q");
        r.workers[0].io_mut().inject(0, &f, None);
    }
    r.settle(t);
    assert_eq!(r.workers[0].shard().session_count(), 40);
    let _ = r.workers[0].io_mut().take_sent();
    let (tx, rx) = bounded(1);
    r.control[0]
        .send(Control::Sessions {
            filter: SessionFilter::default(),
            reply: tx,
        })
        .unwrap();
    let mut turns = 0;
    let answer = loop {
        // Traffic keeps flowing between chunks.
        let f = udp(CLIENT, PIN, "10.0.0.2", "203.0.113.2", 7000, 53, b"q");
        r.workers[0].io_mut().inject(0, &f, None);
        r.workers[0].poll_once(t);
        turns += 1;
        assert_eq!(r.workers[0].io_mut().take_sent().len(), 1, "forwarded");
        if let Ok(a) = rx.try_recv() {
            break a;
        }
        assert!(turns < 100);
    };
    assert_eq!(answer.len(), 40);
    assert!(
        turns >= 10,
        "40 sessions in chunks of 4 slots: {turns} turns"
    );
    let mut ids: Vec<u64> = answer.iter().map(|s| s.id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 40, "each session once");
    r.check(t);
}

#[test]
fn reload_keeps_sessions() {
    let mut r = rig(1, 64);
    let t = Time::from_secs(1);
    r.workers[0].io_mut().inject(
        1,
        &arp_request(SERVER, ip("203.0.113.2"), ip("203.0.113.1")),
        None,
    );
    let f = udp(CLIENT, PIN, "10.0.0.2", "203.0.113.2", 7100, 53, b"q");
    r.workers[0].io_mut().inject(0, &f, None);
    r.settle(t);
    assert_eq!(r.workers[0].shard().session_count(), 1);
    let p = policy();
    r.ask(0, t, |reply| Control::SetPolicy {
        policy: p,
        ingress: vec![IfIndex(0), IfIndex(1)],
        reply,
    });
    assert_eq!(r.workers[0].shard().session_count(), 1);
    assert_eq!(r.sessions(t).len(), 1);
}

#[test]
fn idle_sessions_expire_on_the_worker_clock() {
    let mut r = rig(1, 64);
    r.workers[0].io_mut().inject(
        1,
        &arp_request(SERVER, ip("203.0.113.2"), ip("203.0.113.1")),
        None,
    );
    let f = udp(CLIENT, PIN, "10.0.0.2", "203.0.113.2", 7200, 53, b"q");
    r.workers[0].io_mut().inject(0, &f, None);
    r.settle(Time::from_secs(1));
    assert_eq!(r.workers[0].shard().session_count(), 1);
    // testbed.conf: inactivity-timeout 30.
    r.settle(Time::from_secs(40));
    assert_eq!(r.workers[0].shard().session_count(), 0);
    r.check(Time::from_secs(40));
}

#[test]
fn echo_to_an_interface_address_of_a_port_without_services() {
    let mut r = rig(1, 64);
    let t = Time::from_secs(1);
    r.workers[0].io_mut().inject(
        1,
        &arp_request(SERVER, ip("203.0.113.2"), ip("203.0.113.1")),
        None,
    );
    r.settle(t);
    let _ = r.workers[0].io_mut().take_sent();
    let b = etherparse::PacketBuilder::ethernet2(SERVER, POUT)
        .ipv4([203, 0, 113, 2], [203, 0, 113, 1], 64)
        .icmpv4_echo_request(9, 1);
    let mut f = Vec::new();
    b.write(&mut f, b"abcd").unwrap();
    r.workers[0].io_mut().inject(1, &f, None);
    r.settle(t);
    let sent = r.workers[0].io_mut().take_sent();
    assert_eq!(sent.len(), 1);
    let p = mspic_wire::parse_frame(&sent[0].1).unwrap();
    assert_eq!(p.key.dst, IpAddr::V4(ip("203.0.113.2")));
    assert_eq!(sent[0].1[p.l4_offset], 0, "echo reply");
    assert_eq!(&sent[0].1[0..6], &SERVER);
    assert_eq!(r.workers[0].stats().echo_replies, 1);
    r.check(t);
}

fn dual_stack_policy() -> Arc<Policy> {
    let text = include_str!("../../../../docs/examples/testbed-dual-stack.conf");
    let cfg = mspic_config::parse(text, "testbed-dual-stack.conf").expect("parses");
    Arc::new(Policy::compile(&cfg).expect("compiles"))
}

fn nd_frame(eth_src: Mac, eth_dst: Mac, m: Nd) -> Vec<u8> {
    let mut b = vec![0u8; nd::MAX_FRAME_LEN];
    let n = m.write(eth_src, eth_dst, &mut b).unwrap();
    b.truncate(n);
    b
}

fn icmpv6(src: &str, dst: &str, hop: u8, ty: etherparse::Icmpv6Type) -> Vec<u8> {
    let s: std::net::Ipv6Addr = src.parse().unwrap();
    let d: std::net::Ipv6Addr = dst.parse().unwrap();
    let mut out = Vec::new();
    etherparse::PacketBuilder::ethernet2(CLIENT, nd::multicast_mac(d))
        .ipv6(s.octets(), d.octets(), hop)
        .icmpv6(ty)
        .write(&mut out, &[0; 20])
        .unwrap();
    out
}

/// IPv6 through the dual-stack firewall: the PIC answers the client's solicitation,
/// resolves the server with a multicast solicitation, and keeps router discovery and MLD
/// away from the engine (RFC 4861, RFC 3810): the forwarded datagram is the only session.
#[test]
fn ipv6_with_neighbor_discovery() {
    let mut r = rig_with(1, 1024, dual_stack_policy());
    let t = Time::from_secs(1);
    let v6 = |s: &str| -> std::net::Ipv6Addr { s.parse().unwrap() };
    let (client, gw, server) = (
        v6("2001:db8:10::2"),
        v6("2001:db8:10::1"),
        v6("2001:db8:ff::2"),
    );
    let ns = Nd {
        op: NdOp::Solicitation,
        src: client,
        dst: nd::solicited_node(gw),
        target: gw,
        lladdr: Some(CLIENT),
    };
    r.workers[0]
        .io_mut()
        .inject(0, &nd_frame(CLIENT, nd::multicast_mac(ns.dst), ns), None);
    // Router solicitation and an MLDv2 report: kept, counted, unanswered.
    let rs = etherparse::Icmpv6Type::RouterSolicitation;
    let mld = etherparse::Icmpv6Type::Unknown {
        type_u8: 143,
        code_u8: 0,
        bytes5to8: [0; 4],
    };
    r.workers[0]
        .io_mut()
        .inject(0, &icmpv6("fe80::8:0:0:2", "ff02::2", 255, rs), None);
    r.workers[0]
        .io_mut()
        .inject(0, &icmpv6("fe80::8:0:0:2", "ff02::16", 1, mld), None);
    r.settle(t);
    let sent = r.workers[0].io_mut().take_sent();
    assert_eq!(sent.len(), 1, "{sent:?}");
    let na = Nd::parse(&sent[0].1).expect("an advertisement");
    assert_eq!(
        (sent[0].0, na.dst, na.target, na.lladdr),
        (0, client, gw, Some(PIN))
    );
    assert_eq!(&sent[0].1[0..6], &CLIENT);
    // A datagram to the server waits for its resolution.
    let mut dgram = Vec::new();
    etherparse::PacketBuilder::ethernet2(CLIENT, PIN)
        .ipv6(client.octets(), server.octets(), 64)
        .udp(5000, 7)
        .write(&mut dgram, b"ping")
        .unwrap();
    r.workers[0].io_mut().inject(0, &dgram, None);
    r.settle(t);
    let sent = r.workers[0].io_mut().take_sent();
    assert_eq!(sent.len(), 1, "only the solicitation: {sent:?}");
    let sol = Nd::parse(&sent[0].1).expect("a solicitation");
    assert_eq!(
        (sent[0].0, sol.op, sol.dst, sol.target),
        (1, NdOp::Solicitation, nd::solicited_node(server), server)
    );
    assert_eq!(&sent[0].1[0..6], &nd::multicast_mac(sol.dst));
    let adv = Nd {
        op: NdOp::Advertisement {
            router: false,
            solicited: true,
            override_: true,
        },
        src: server,
        dst: sol.src,
        target: server,
        lladdr: Some(SERVER),
    };
    r.workers[0]
        .io_mut()
        .inject(1, &nd_frame(SERVER, POUT, adv), None);
    r.settle(t);
    let sent = r.workers[0].io_mut().take_sent();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(
        (sent[0].0, &sent[0].1[0..6], &sent[0].1[6..12]),
        (1, &SERVER[..], &POUT[..])
    );
    assert_eq!(r.sessions(t).len(), 1, "the datagram only");
    let st = r.workers[0].stats();
    assert_eq!(
        st.ipv6_local,
        Ipv6LocalCounters {
            nd: 2,
            router: 1,
            mld: 1,
            ..Default::default()
        }
    );
    assert_eq!((st.processed, st.forwarded), (1, 1));
    r.check(t);
}

/// A neighbor learned from ND by one worker reaches the others (as ARP's do).
#[test]
fn ipv6_neighbors_are_shared_between_workers() {
    let mut r = rig_with(2, 1024, dual_stack_policy());
    let t = Time::from_secs(1);
    let client: std::net::Ipv6Addr = "2001:db8:10::2".parse().unwrap();
    let gw: std::net::Ipv6Addr = "2001:db8:10::1".parse().unwrap();
    let ns = Nd {
        op: NdOp::Solicitation,
        src: client,
        dst: nd::solicited_node(gw),
        target: gw,
        lladdr: Some(CLIENT),
    };
    r.workers[1]
        .io_mut()
        .inject(0, &nd_frame(CLIENT, nd::multicast_mac(ns.dst), ns), None);
    r.settle(t);
    assert_eq!(
        r.workers[1].io_mut().take_sent().len(),
        1,
        "the advertisement"
    );
    for w in 0..2 {
        assert_eq!(
            r.workers[w].l2().neighbor(0, client),
            Some(CLIENT),
            "worker {w}"
        );
    }
    assert_eq!(r.workers[0].l2().counters.learned_remote, 1);
    r.check(t);
}

//! Conversation builders: seeded, with explicit start times, appending to a [`Trace`].
//!
//! # Timing model
//!
//! The trace is what the PIC sees, so every timestamp is "arrival at the router". A host
//! on a port is [`Gen::inside_delay`] or [`Gen::outside_delay`] away (one way): a frame
//! from the client seen at `t` is answered by the server at `t + 2 × outside_delay`, and
//! back-to-back frames of one sender are [`Gen::spacing`] apart.
//!
//! # TCP model
//!
//! Three-way handshake with MSS 1460 (no window scaling, window 64240), data in MSS-sized
//! segments, PSH on the last segment of each send. The sender sends in rounds (10 segments,
//! doubling, at most one window), the receiver acknowledges every second segment and the
//! last one of a round, and the next round starts once the sender has seen the last ACK.
//! Sequence and acknowledgment numbers are exact; `FIN` counts one sequence number.
//!
//! # Determinism
//!
//! Everything random (initial sequence numbers, IP identifications, DNS ids and answers)
//! comes from one SplitMix64 stream seeded by [`Gen::new`]. Server packets are built, and
//! draw from the stream, even when [`Sides::ClientOnly`] leaves them out, so the client
//! frames of a `ClientOnly` trace are byte-identical to those of the `Both` trace made
//! with the same seed and calls.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use etherparse::{
    ip_number, IpHeaders, Ipv4Header, Ipv6Header, PacketBuilder, TcpHeader, TcpOptionElement,
};

use crate::host::{Host, Port};
use crate::rng::Rng;
use crate::summary::{Conversation, FiveTuple, Proto};
use crate::trace::{Frame, Trace};

/// Which sides of a conversation go into the trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Sides {
    /// Client and server frames (a two-sided capture).
    Both,
    /// Only the client's frames; a responder is expected to answer at replay time.
    ClientOnly,
}

impl Sides {
    /// Does this mode emit the frames of `peer`?
    pub fn emits(self, peer: Peer) -> bool {
        matches!((self, peer), (Sides::Both, _) | (_, Peer::Client))
    }
}

/// One end of a conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Peer {
    /// The initiator.
    Client,
    /// The responder.
    Server,
}

impl Peer {
    /// The other end.
    pub fn other(self) -> Peer {
        match self {
            Peer::Client => Peer::Server,
            Peer::Server => Peer::Client,
        }
    }

    fn idx(self) -> usize {
        match self {
            Peer::Client => 0,
            Peer::Server => 1,
        }
    }
}

/// Transport part of a packet to build.
enum L4 {
    Tcp(Box<TcpHeader>),
    Udp { sport: u16, dport: u16 },
    Echo { request: bool, id: u16, seq: u16 },
}

struct Built {
    data: Vec<u8>,
    ip_len: usize,
    payload_len: usize,
}

/// The traffic generator: a seeded random stream plus timing and TCP parameters.
#[derive(Clone, Debug)]
pub struct Gen {
    rng: Rng,
    ip_ids: HashMap<IpAddr, u16>,
    /// One-way delay between the router and hosts on `ge-0/0/0` (default 250 µs).
    pub inside_delay: Duration,
    /// One-way delay between the router and hosts on `ge-0/0/1` (default 10 ms).
    pub outside_delay: Duration,
    /// Gap between back-to-back frames of one sender (default 20 µs).
    pub spacing: Duration,
    /// TCP maximum segment size (default 1460).
    pub mss: u16,
    /// TCP window advertised by both ends, unscaled (default 64240).
    pub window: u16,
    /// IPv4 TTL / IPv6 hop limit of every packet (default 64).
    pub ttl: u8,
}

impl Gen {
    /// A generator whose output is fixed by `seed`.
    pub fn new(seed: u64) -> Gen {
        Gen {
            rng: Rng::new(seed),
            ip_ids: HashMap::new(),
            inside_delay: Duration::from_micros(250),
            outside_delay: Duration::from_millis(10),
            spacing: Duration::from_micros(20),
            mss: 1460,
            window: 64240,
            ttl: 64,
        }
    }

    /// The random stream (for callers that schedule traffic from the same seed).
    pub fn rng(&mut self) -> &mut Rng {
        &mut self.rng
    }

    /// One-way delay between the router and `host`.
    pub fn delay(&self, host: &Host) -> Duration {
        match host.port {
            Port::Inside => self.inside_delay,
            Port::Outside => self.outside_delay,
        }
    }

    /// Round-trip time between the router and `host`.
    pub fn rtt(&self, host: &Host) -> Duration {
        2 * self.delay(host)
    }

    fn next_ip_id(&mut self, ip: IpAddr) -> u16 {
        let rng = &mut self.rng;
        let id = self
            .ip_ids
            .entry(ip)
            .or_insert_with(|| rng.next_u64() as u16);
        *id = id.wrapping_add(1);
        *id
    }

    fn build(&mut self, src: &Host, dst: &Host, l4: L4, payload: &[u8]) -> Built {
        let ip = match (src.ip, dst.ip) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                // Protocol and lengths are filled in by the builder.
                let mut h = Ipv4Header::new(0, self.ttl, ip_number::UDP, s.octets(), d.octets())
                    .expect("zero payload length");
                h.identification = self.next_ip_id(src.ip);
                h.dont_fragment = matches!(l4, L4::Tcp(_));
                IpHeaders::Ipv4(h, Default::default())
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => IpHeaders::Ipv6(
                Ipv6Header {
                    hop_limit: self.ttl,
                    source: s.octets(),
                    destination: d.octets(),
                    ..Default::default()
                },
                Default::default(),
            ),
            (s, d) => panic!("cannot build a packet from {s} to {d}: address families differ"),
        };
        let v4 = src.ip.is_ipv4();
        let step = PacketBuilder::ethernet2(src.mac, src.port.router_mac()).ip(ip);
        let mut data = Vec::with_capacity(14 + 60 + 60 + payload.len());
        let res = match l4 {
            L4::Tcp(h) => step.tcp_header(*h).write(&mut data, payload),
            L4::Udp { sport, dport } => step.udp(sport, dport).write(&mut data, payload),
            L4::Echo { request, id, seq } => match (v4, request) {
                (true, true) => step.icmpv4_echo_request(id, seq).write(&mut data, payload),
                (true, false) => step.icmpv4_echo_reply(id, seq).write(&mut data, payload),
                (false, true) => step.icmpv6_echo_request(id, seq).write(&mut data, payload),
                (false, false) => step.icmpv6_echo_reply(id, seq).write(&mut data, payload),
            },
        };
        res.expect("packet fits and serializes");
        Built {
            ip_len: data.len() - 14,
            payload_len: payload.len(),
            data,
        }
    }

    /// Builds one packet and appends it to `trace` if `sides` emits `from`.
    #[allow(clippy::too_many_arguments)]
    fn emit(
        &mut self,
        trace: &mut Trace,
        rec: &mut Conversation,
        from: Peer,
        src: &Host,
        dst: &Host,
        ts: Duration,
        l4: L4,
        payload: &[u8],
    ) {
        let b = self.build(src, dst, l4, payload);
        if rec.sides.emits(from) {
            rec.count(from, ts, b.data.len(), b.ip_len, b.payload_len);
            trace.push_unsorted(Frame {
                ts,
                port: src.port,
                data: b.data,
            });
        }
    }

    fn max_udp_payload(host: &Host) -> usize {
        if host.ip.is_ipv4() {
            1500 - 20 - 8
        } else {
            1500 - 40 - 8
        }
    }

    // ---------------------------------------------------------------- TCP

    /// Opens a TCP connection: SYN at `start`, SYN-ACK, ACK. Continue with
    /// [`Gen::tcp_send`], [`Gen::tcp_close`] / [`Gen::tcp_reset`], then
    /// [`TcpConn::finish`] for the summary record.
    #[allow(clippy::too_many_arguments)]
    pub fn tcp_connect(
        &mut self,
        trace: &mut Trace,
        client: &Host,
        server: &Host,
        cport: u16,
        sport: u16,
        start: Duration,
        sides: Sides,
    ) -> TcpConn {
        let c_isn = self.rng.next_u32();
        let s_isn = self.rng.next_u32();
        let tuple = FiveTuple {
            proto: Proto::Tcp,
            src: client.ip,
            dst: server.ip,
            sport: cport,
            dport: sport,
        };
        let mut conn = TcpConn {
            client: *client,
            server: *server,
            cport,
            sport,
            isn: [c_isn, s_isn],
            next: [c_isn, s_isn],
            now: start,
            last_from: None,
            fin: [false; 2],
            reset: false,
            rec: Conversation::new("tcp", tuple, client.port, server.port, sides),
        };
        let mss = [TcpOptionElement::MaximumSegmentSize(self.mss)];

        let mut syn = conn.header(Peer::Client, self.window);
        syn.syn = true;
        syn.ack = false;
        syn.acknowledgment_number = 0;
        syn.set_options(&mss).expect("MSS option fits");
        self.emit_tcp(trace, &mut conn, Peer::Client, start, syn, &[]);
        conn.next[0] = c_isn.wrapping_add(1);

        let t = start + self.rtt(server);
        let mut syn_ack = conn.header(Peer::Server, self.window);
        syn_ack.syn = true;
        syn_ack.set_options(&mss).expect("MSS option fits");
        self.emit_tcp(trace, &mut conn, Peer::Server, t, syn_ack, &[]);
        conn.next[1] = s_isn.wrapping_add(1);

        let t = t + self.rtt(client);
        let ack = conn.header(Peer::Client, self.window);
        self.emit_tcp(trace, &mut conn, Peer::Client, t, ack, &[]);
        conn.now = t;
        conn.last_from = Some(Peer::Client);
        trace.settle();
        conn
    }

    fn emit_tcp(
        &mut self,
        trace: &mut Trace,
        conn: &mut TcpConn,
        from: Peer,
        ts: Duration,
        h: TcpHeader,
        payload: &[u8],
    ) {
        let (src, dst) = (*conn.host(from), *conn.host(from.other()));
        self.emit(
            trace,
            &mut conn.rec,
            from,
            &src,
            &dst,
            ts,
            L4::Tcp(Box::new(h)),
            payload,
        );
    }

    /// When `peer` acts next: right after its own last frame, or one round trip after the
    /// other side's last frame (it has to see it first).
    fn turn(&self, conn: &TcpConn, peer: Peer) -> Duration {
        match conn.last_from {
            None => conn.now,
            Some(p) if p == peer => conn.now + self.spacing,
            Some(_) => conn.now + self.rtt(conn.host(peer)),
        }
    }

    /// `from` sends `data` (segmented, acknowledged by the other side).
    pub fn tcp_send(&mut self, trace: &mut Trace, conn: &mut TcpConn, from: Peer, data: &[u8]) {
        assert!(
            !conn.fin[from.idx()] && !conn.reset,
            "tcp_send on a closed direction"
        );
        if data.is_empty() {
            return;
        }
        let to = from.other();
        let mss = usize::from(self.mss);
        let window_segs = (usize::from(self.window) / mss).max(1);
        let mut cwnd = 10usize;
        let mut t = self.turn(conn, from);
        let mut off = 0;
        let mut last_ack = t;
        while off < data.len() {
            let round = cwnd.min(window_segs);
            let mut unacked = 0;
            for i in 0..round {
                if off >= data.len() {
                    break;
                }
                let len = mss.min(data.len() - off);
                let last = off + len == data.len();
                let mut h = conn.header(from, self.window);
                h.psh = last;
                self.emit_tcp(trace, conn, from, t, h, &data[off..off + len]);
                let sent_at = t;
                t += self.spacing;
                conn.advance(from, len);
                off += len;
                unacked += 1;
                if unacked == 2 || last || i + 1 == round {
                    let ack_at = sent_at + self.rtt(conn.host(to));
                    let h = conn.header(to, self.window);
                    self.emit_tcp(trace, conn, to, ack_at, h, &[]);
                    last_ack = last_ack.max(ack_at);
                    unacked = 0;
                }
            }
            cwnd *= 2;
            t = last_ack + self.rtt(conn.host(from));
        }
        conn.now = last_ack;
        conn.last_from = Some(to);
        trace.settle();
    }

    /// `from` sends `len` bytes of filler data.
    pub fn tcp_send_bytes(
        &mut self,
        trace: &mut Trace,
        conn: &mut TcpConn,
        from: Peer,
        len: usize,
    ) {
        let data = filler(len, conn.rec.tuple.sport as u8);
        self.tcp_send(trace, conn, from, &data);
    }

    /// Orderly close started by `first`: FIN/ACK, FIN/ACK from the other side, final ACK.
    pub fn tcp_close(&mut self, trace: &mut Trace, conn: &mut TcpConn, first: Peer) {
        assert!(
            !conn.fin[0] && !conn.fin[1] && !conn.reset,
            "tcp_close on a closing connection"
        );
        let second = first.other();
        let t = self.turn(conn, first);
        let mut h = conn.header(first, self.window);
        h.fin = true;
        self.emit_tcp(trace, conn, first, t, h, &[]);
        conn.advance(first, 1);

        let t = t + self.rtt(conn.host(second));
        let mut h = conn.header(second, self.window);
        h.fin = true;
        self.emit_tcp(trace, conn, second, t, h, &[]);
        conn.advance(second, 1);

        let t = t + self.rtt(conn.host(first));
        let h = conn.header(first, self.window);
        self.emit_tcp(trace, conn, first, t, h, &[]);
        conn.fin = [true; 2];
        conn.now = t;
        conn.last_from = Some(first);
        trace.settle();
    }

    /// `from` aborts the connection with RST/ACK.
    pub fn tcp_reset(&mut self, trace: &mut Trace, conn: &mut TcpConn, from: Peer) {
        let t = self.turn(conn, from);
        let mut h = conn.header(from, 0);
        h.rst = true;
        self.emit_tcp(trace, conn, from, t, h, &[]);
        conn.reset = true;
        conn.now = t;
        conn.last_from = Some(from);
        trace.settle();
    }

    /// A whole TCP conversation: handshake, `request_bytes` from the client, acknowledged,
    /// `response_bytes` from the server, acknowledged, then FIN/ACK both ways (client first)
    /// and the final ACK. With server port 80 the payloads look like HTTP/1.1.
    #[allow(clippy::too_many_arguments)]
    pub fn tcp_conversation(
        &mut self,
        trace: &mut Trace,
        client: &Host,
        server: &Host,
        cport: u16,
        sport: u16,
        start: Duration,
        request_bytes: usize,
        response_bytes: usize,
        sides: Sides,
    ) -> Conversation {
        let mut conn = self.tcp_connect(trace, client, server, cport, sport, start, sides);
        let http = sport == 80 || sport == 8080;
        let (req, resp) = if http {
            (
                http_request(request_bytes, server.ip, u64::from(cport)),
                http_response(response_bytes),
            )
        } else {
            (
                filler(request_bytes, cport as u8),
                filler(response_bytes, sport as u8),
            )
        };
        self.tcp_send(trace, &mut conn, Peer::Client, &req);
        self.tcp_send(trace, &mut conn, Peer::Server, &resp);
        self.tcp_close(trace, &mut conn, Peer::Client);
        conn.finish().labeled(if http { "http" } else { "tcp" })
    }

    /// A SYN that gets no answer, retransmitted `attempts - 1` times with the usual
    /// doubling back-off (1 s, 2 s, 4 s, …), same initial sequence number every time.
    #[allow(clippy::too_many_arguments)]
    pub fn tcp_syn_only(
        &mut self,
        trace: &mut Trace,
        client: &Host,
        server: &Host,
        cport: u16,
        sport: u16,
        start: Duration,
        attempts: u32,
    ) -> Conversation {
        let isn = self.rng.next_u32();
        let tuple = FiveTuple {
            proto: Proto::Tcp,
            src: client.ip,
            dst: server.ip,
            sport: cport,
            dport: sport,
        };
        let mut rec = Conversation::new(
            "tcp-syn",
            tuple,
            client.port,
            server.port,
            Sides::ClientOnly,
        );
        let mut t = start;
        let mut backoff = Duration::from_secs(1);
        for _ in 0..attempts.max(1) {
            let mut h = TcpHeader::new(cport, sport, isn, self.window);
            h.syn = true;
            h.set_options(&[TcpOptionElement::MaximumSegmentSize(self.mss)])
                .expect("MSS option fits");
            self.emit(
                trace,
                &mut rec,
                Peer::Client,
                client,
                server,
                t,
                L4::Tcp(Box::new(h)),
                &[],
            );
            t += backoff;
            backoff *= 2;
        }
        trace.settle();
        rec
    }

    // ---------------------------------------------------------------- UDP

    /// `n_requests` datagrams of `req_len` bytes from the client, `gap` apart from `start`,
    /// each answered by one datagram of `resp_len` bytes one round trip later.
    #[allow(clippy::too_many_arguments)]
    pub fn udp_exchange(
        &mut self,
        trace: &mut Trace,
        client: &Host,
        server: &Host,
        cport: u16,
        sport: u16,
        start: Duration,
        n_requests: u32,
        req_len: usize,
        resp_len: usize,
        gap: Duration,
        sides: Sides,
    ) -> Conversation {
        assert!(
            req_len <= Self::max_udp_payload(client) && resp_len <= Self::max_udp_payload(server),
            "UDP payload larger than one 1500-byte packet (no fragmentation)"
        );
        let tuple = FiveTuple {
            proto: Proto::Udp,
            src: client.ip,
            dst: server.ip,
            sport: cport,
            dport: sport,
        };
        let mut rec = Conversation::new("udp", tuple, client.port, server.port, sides);
        let req = filler(req_len, cport as u8);
        let resp = filler(resp_len, sport as u8);
        for i in 0..n_requests {
            let t = start + gap * i;
            let l4 = L4::Udp {
                sport: cport,
                dport: sport,
            };
            self.emit(trace, &mut rec, Peer::Client, client, server, t, l4, &req);
            let l4 = L4::Udp {
                sport,
                dport: cport,
            };
            let t = t + self.rtt(server);
            self.emit(trace, &mut rec, Peer::Server, server, client, t, l4, &resp);
        }
        trace.settle();
        rec
    }

    /// `count` copies of `payload` from the client, `gap` apart, never answered.
    #[allow(clippy::too_many_arguments)]
    pub fn udp_one_way(
        &mut self,
        trace: &mut Trace,
        client: &Host,
        server: &Host,
        cport: u16,
        sport: u16,
        start: Duration,
        count: u32,
        payload: &[u8],
        gap: Duration,
    ) -> Conversation {
        assert!(
            payload.len() <= Self::max_udp_payload(client),
            "UDP payload larger than one 1500-byte packet (no fragmentation)"
        );
        let tuple = FiveTuple {
            proto: Proto::Udp,
            src: client.ip,
            dst: server.ip,
            sport: cport,
            dport: sport,
        };
        let mut rec = Conversation::new(
            "udp-one-way",
            tuple,
            client.port,
            server.port,
            Sides::ClientOnly,
        );
        for i in 0..count {
            let l4 = L4::Udp {
                sport: cport,
                dport: sport,
            };
            let t = start + gap * i;
            self.emit(
                trace,
                &mut rec,
                Peer::Client,
                client,
                server,
                t,
                l4,
                payload,
            );
        }
        trace.settle();
        rec
    }

    /// DNS lookups from `client:cport` to `server:53`: one well-formed A query per name,
    /// `gap` apart, each answered one round trip later with one A record.
    #[allow(clippy::too_many_arguments)]
    pub fn dns_lookup(
        &mut self,
        trace: &mut Trace,
        client: &Host,
        server: &Host,
        cport: u16,
        start: Duration,
        names: &[&str],
        gap: Duration,
        sides: Sides,
    ) -> Conversation {
        let tuple = FiveTuple {
            proto: Proto::Udp,
            src: client.ip,
            dst: server.ip,
            sport: cport,
            dport: 53,
        };
        let mut rec = Conversation::new("dns", tuple, client.port, server.port, sides);
        for (i, name) in names.iter().enumerate() {
            let id = self.rng.next_u64() as u16;
            let answer = [198, 51, 100, self.rng.range(1, 255) as u8];
            let (query, response) = dns_messages(id, name, answer);
            let t = start + gap * i as u32;
            let l4 = L4::Udp {
                sport: cport,
                dport: 53,
            };
            self.emit(trace, &mut rec, Peer::Client, client, server, t, l4, &query);
            let l4 = L4::Udp {
                sport: 53,
                dport: cport,
            };
            let t = t + self.rtt(server);
            self.emit(
                trace,
                &mut rec,
                Peer::Server,
                server,
                client,
                t,
                l4,
                &response,
            );
        }
        trace.settle();
        rec
    }

    // ---------------------------------------------------------------- ICMP

    /// `count` echo requests (identifier `id`, sequence 1, 2, …, 56 data bytes like Linux
    /// `ping`), `gap` apart, each answered one round trip later. ICMPv6 for IPv6 hosts.
    #[allow(clippy::too_many_arguments)]
    pub fn icmp_echo(
        &mut self,
        trace: &mut Trace,
        client: &Host,
        server: &Host,
        id: u16,
        start: Duration,
        count: u16,
        gap: Duration,
        sides: Sides,
    ) -> Conversation {
        let proto = if client.ip.is_ipv4() {
            Proto::Icmp
        } else {
            Proto::Icmpv6
        };
        let tuple = FiveTuple {
            proto,
            src: client.ip,
            dst: server.ip,
            sport: id,
            dport: id,
        };
        let mut rec = Conversation::new("icmp", tuple, client.port, server.port, sides);
        for seq in 1..=count {
            let t = start + gap * u32::from(seq - 1);
            let data = ping_data(t);
            let l4 = L4::Echo {
                request: true,
                id,
                seq,
            };
            self.emit(trace, &mut rec, Peer::Client, client, server, t, l4, &data);
            let l4 = L4::Echo {
                request: false,
                id,
                seq,
            };
            let t = t + self.rtt(server);
            self.emit(trace, &mut rec, Peer::Server, server, client, t, l4, &data);
        }
        trace.settle();
        rec
    }
}

/// An open (or closed) TCP connection being generated.
#[derive(Clone, Debug)]
pub struct TcpConn {
    client: Host,
    server: Host,
    cport: u16,
    sport: u16,
    isn: [u32; 2],
    next: [u32; 2],
    now: Duration,
    last_from: Option<Peer>,
    fin: [bool; 2],
    reset: bool,
    rec: Conversation,
}

impl TcpConn {
    /// Timestamp of the connection's last frame (emitted or not).
    pub fn now(&self) -> Duration {
        self.now
    }

    /// Lets `d` pass; the next action starts exactly at the new [`TcpConn::now`].
    pub fn wait(&mut self, d: Duration) {
        self.now += d;
        self.last_from = None;
    }

    /// Initial sequence number chosen for `peer`.
    pub fn isn(&self, peer: Peer) -> u32 {
        self.isn[peer.idx()]
    }

    /// The next sequence number `peer` will send.
    pub fn next_seq(&self, peer: Peer) -> u32 {
        self.next[peer.idx()]
    }

    /// The record so far.
    pub fn conversation(&self) -> &Conversation {
        &self.rec
    }

    /// The summary record of the connection (label `tcp` unless changed).
    pub fn finish(self) -> Conversation {
        self.rec
    }

    fn host(&self, peer: Peer) -> &Host {
        match peer {
            Peer::Client => &self.client,
            Peer::Server => &self.server,
        }
    }

    fn advance(&mut self, peer: Peer, n: usize) {
        let i = peer.idx();
        self.next[i] = self.next[i].wrapping_add(n as u32);
    }

    /// A header from `peer` with its current sequence number and an ACK of everything the
    /// other side sent.
    fn header(&self, peer: Peer, window: u16) -> TcpHeader {
        let (sp, dp) = match peer {
            Peer::Client => (self.cport, self.sport),
            Peer::Server => (self.sport, self.cport),
        };
        let mut h = TcpHeader::new(sp, dp, self.next[peer.idx()], window);
        h.ack = true;
        h.acknowledgment_number = self.next[peer.other().idx()];
        h
    }
}

/// `len` bytes of printable, deterministic filler (`tag` varies the pattern).
pub fn filler(len: usize, tag: u8) -> Vec<u8> {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..len)
        .map(|i| ALPHABET[(i + usize::from(tag)) % ALPHABET.len()])
        .collect()
}

/// An HTTP/1.1 GET of exactly `len` bytes (padded in the query string; truncated when
/// `len` is shorter than the minimal request).
pub fn http_request(len: usize, host: IpAddr, n: u64) -> Vec<u8> {
    let build = |pad: usize| {
        format!(
            "GET /files/{n}.bin?p={} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: mspic-gen/1\r\nAccept: */*\r\n\r\n",
            "x".repeat(pad)
        )
        .into_bytes()
    };
    let mut req = build(0);
    if req.len() < len {
        req = build(len - req.len());
    }
    req.truncate(len);
    req
}

/// An HTTP/1.1 200 response of exactly `len` bytes (header plus filler body).
pub fn http_response(len: usize) -> Vec<u8> {
    let head = |body: usize| {
        format!("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {body}\r\n\r\n")
    };
    let mut body = len.saturating_sub(head(len).len());
    // Shrinking the body can shorten the Content-Length digits; settle on a fixed point.
    while head(body).len() + body < len {
        body += 1;
    }
    let mut out = head(body).into_bytes();
    out.extend(filler(body, 7));
    out.truncate(len);
    out
}

/// A DNS query for `name` (type A, class IN, recursion desired) and its response with
/// one A record (RFC 1035 §4.1).
pub fn dns_messages(id: u16, name: &str, answer: [u8; 4]) -> (Vec<u8>, Vec<u8>) {
    let mut question = Vec::new();
    for label in name.trim_end_matches('.').split('.') {
        question.push(label.len() as u8);
        question.extend_from_slice(label.as_bytes());
    }
    question.push(0);
    question.extend_from_slice(&[0, 1, 0, 1]); // QTYPE A, QCLASS IN

    let mut query = Vec::new();
    query.extend_from_slice(&id.to_be_bytes());
    query.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]); // RD, QDCOUNT 1
    query.extend_from_slice(&question);

    let mut resp = Vec::new();
    resp.extend_from_slice(&id.to_be_bytes());
    resp.extend_from_slice(&[0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]); // QR RD RA, 1 Q, 1 A
    resp.extend_from_slice(&question);
    resp.extend_from_slice(&[0xC0, 0x0C, 0, 1, 0, 1]); // name pointer to the question, A, IN
    resp.extend_from_slice(&300u32.to_be_bytes()); // TTL
    resp.extend_from_slice(&[0, 4]);
    resp.extend_from_slice(&answer);
    (query, resp)
}

/// A TFTP read request (RFC 1350) for `file` in octet mode.
pub fn tftp_rrq(file: &str) -> Vec<u8> {
    let mut v = vec![0, 1];
    v.extend_from_slice(file.as_bytes());
    v.push(0);
    v.extend_from_slice(b"octet");
    v.push(0);
    v
}

/// The first bytes an rsh client writes (BSD `rcmd(3)`, `rshd(8)`):
/// the port of its stderr socket in decimal (0: none), the local and remote user names and
/// the command, each ended by a NUL.
pub fn rsh_command(stderr_port: u16, local_user: &str, remote_user: &str, cmd: &str) -> Vec<u8> {
    let mut v = Vec::new();
    for field in [&stderr_port.to_string()[..], local_user, remote_user, cmd] {
        v.extend_from_slice(field.as_bytes());
        v.push(0);
    }
    v
}

/// ntalk control message types (4.3BSD `protocols/talkd.h`).
pub const NTALK_LEAVE_INVITE: u8 = 0;
pub const NTALK_ANNOUNCE: u8 = 3;

/// An ntalk version-1 CTL_MSG (4.3BSD `protocols/talkd.h`, 84 bytes): `vers type answer pad
/// id_num addr ctl_addr pid l_name[12] r_name[12] r_tty[16]`, the socket addresses as
/// `osockaddr` (family 2 in network order, port, IPv4 address, 8 zero bytes). `addr` is where
/// the caller accepts the callee's TCP connection, `ctl_addr` the caller's UDP socket.
pub fn ntalk_ctl_msg(
    kind: u8,
    id: u32,
    addr: std::net::SocketAddrV4,
    ctl_addr: std::net::SocketAddrV4,
    caller: &str,
    callee: &str,
) -> Vec<u8> {
    let sockaddr = |a: std::net::SocketAddrV4| {
        let mut b = vec![0, 2];
        b.extend_from_slice(&a.port().to_be_bytes());
        b.extend_from_slice(&a.ip().octets());
        b.extend_from_slice(&[0; 8]);
        b
    };
    let name = |n: &str, len: usize| {
        let mut b = n.as_bytes()[..n.len().min(len - 1)].to_vec();
        b.resize(len, 0);
        b
    };
    let mut v = vec![1, kind, 0, 0];
    v.extend_from_slice(&id.to_be_bytes());
    v.extend(sockaddr(addr));
    v.extend(sockaddr(ctl_addr));
    v.extend_from_slice(&4242u32.to_be_bytes()); // pid
    v.extend(name(caller, 12));
    v.extend(name(callee, 12));
    v.extend(name("", 16)); // r_tty: any
    v
}

/// An SNMPv2c GetRequest for sysDescr.0 with community `public` (RFC 3416, BER).
pub fn snmp_get_request(request_id: u32) -> Vec<u8> {
    let mut v = vec![
        0x30, 0x29, // SEQUENCE, 41 bytes
        0x02, 0x01, 0x01, // version: v2c
        0x04, 0x06, b'p', b'u', b'b', b'l', b'i', b'c', // community
        0xA0, 0x1C, // GetRequest-PDU, 28 bytes
        0x02, 0x04, // request-id
    ];
    v.extend_from_slice(&request_id.to_be_bytes());
    v.extend_from_slice(&[
        0x02, 0x01, 0x00, // error-status
        0x02, 0x01, 0x00, // error-index
        0x30, 0x0E, 0x30, 0x0C, // variable bindings, one binding
        0x06, 0x08, 0x2B, 0x06, 0x01, 0x02, 0x01, 0x01, 0x01, 0x00, // 1.3.6.1.2.1.1.1.0
        0x05, 0x00, // NULL
    ]);
    v
}

/// 56 bytes of echo data as Linux `ping` sends: a timeval, then 0x10, 0x11, ….
fn ping_data(t: Duration) -> Vec<u8> {
    let mut v = Vec::with_capacity(56);
    v.extend_from_slice(&t.as_secs().to_le_bytes());
    v.extend((0x10u8..).take(48));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_lengths_are_exact() {
        let host: IpAddr = "203.0.113.10".parse().unwrap();
        for len in [0, 1, 10, 80, 81, 200, 1000] {
            assert_eq!(http_request(len, host, 1).len(), len);
        }
        for len in [
            0, 5, 60, 90, 99, 100, 101, 1000, 9_999, 10_000, 10_001, 123_456,
        ] {
            let r = http_response(len);
            assert_eq!(r.len(), len);
            if len >= 100 {
                let text = String::from_utf8_lossy(&r);
                let (head, body) = text.split_once("\r\n\r\n").unwrap();
                let cl: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("Content-Length: "))
                    .unwrap()
                    .parse()
                    .unwrap();
                assert_eq!(cl, body.len(), "len {len}");
            }
        }
    }

    #[test]
    fn dns_message_layout() {
        let (q, r) = dns_messages(0x1234, "www.example.net", [198, 51, 100, 7]);
        assert_eq!(&q[..4], &[0x12, 0x34, 0x01, 0x00]);
        assert_eq!(q.len(), 12 + 17 + 4);
        assert_eq!(r.len(), q.len() + 16);
        assert_eq!(&r[r.len() - 4..], &[198, 51, 100, 7]);
    }

    #[test]
    fn rsh_and_ntalk_layouts() {
        assert_eq!(rsh_command(1022, "me", "you", "ls"), b"1022\0me\0you\0ls\0");
        let a = "10.0.0.2:40200".parse().unwrap();
        let c = "10.0.0.2:40100".parse().unwrap();
        let m = ntalk_ctl_msg(NTALK_ANNOUNCE, 7, a, c, "alice", "bob");
        assert_eq!(m.len(), 84);
        assert_eq!(&m[..8], &[1, 3, 0, 0, 0, 0, 0, 7]);
        assert_eq!(&m[8..16], &[0, 2, 0x9d, 0x08, 10, 0, 0, 2]);
        assert_eq!(&m[24..32], &[0, 2, 0x9c, 0xa4, 10, 0, 0, 2]);
        assert_eq!(&m[44..50], b"alice\0");
    }
}

//! The FTP ALG in `mspic replay`: a generated capture of an FTP client (PORT and EPRT
//! commands on its control connection) replayed with the built-in responder through
//! napt-44, on 1 and 3 shards. The commands leave rewritten to the pool address and port,
//! later segments have their sequence numbers shifted by the length change and the
//! responder's acknowledgments are shifted back, every checksum holds, and the PIC shows the
//! control session as an FTP parent with its pinholes counted. The same with secured and
//! deterministic port block allocation: the ports the ALG reserves come from the
//! subscriber's block.
//!
//! DNS, rsh and talk through the same napt-44: a UDP DNS session closes on the response that
//! matches its query id (and only then), or on its timeout; rsh's stderr port is rewritten
//! to a pool port and the server's connection back to it becomes a child session; an ntalk
//! invitation's addresses name the pool and the callee's TCP connection is admitted.
//!
//! PPTP through the same napt-44: two PNSs behind the one pool address pick the same Call
//! ID for calls to one PAC; the PAC (played by the test from what it receives) sees two
//! distinct Call IDs, and each call's enhanced GRE flows both ways, keyed by call id.
//!
//! IKE with ESP (ike-esp-nat) through the same napt-44: two inside hosts negotiate with
//! one gateway in turn, and the gateway's ESP to the one public address reaches each by
//! its SPI.
//!
//! FTP under twice NAT (twice-napt-44, twice-basic-nat-44): PORT and 227 rewritten so that
//! each side sees the other's translated address, and both data connections admitted.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use mspic_flow::Time;
use mspic_offline::replay::{Output, Replay, ReplayOptions};
use mspic_tests::check::checksums_valid;
use mspic_tests::gen::{dns_messages, ntalk_ctl_msg, rsh_command, NTALK_ANNOUNCE};
use mspic_tests::live::{counter, frames, sessions};
use mspic_tests::{Gen, Host, Peer, Sides, Trace};
use mspic_wire::parse::L4;

const CONFIG: &str = r#"
interfaces {
    ge-0/0/0 { unit 0 { family inet {
        service { input { service-set ss; } output { service-set ss; } }
        address 10.0.0.1/24;
    } } }
    ge-0/0/1 { unit 0 { family inet { address 203.0.113.1/24; } } }
    ms-1/1/0 { unit 0 { family inet; } }
}
routing-options { static { route 198.51.100.0/24 next-hop 203.0.113.2; } }
applications {
    application ike { application-protocol ike-esp-nat; protocol udp; destination-port 500; }
}
services {
    stateful-firewall {
        rule r {
            match-direction input;
            term alg { from { applications [ junos-ftp junos-dns-udp junos-rsh junos-ntalk junos-pptp ike ]; } then { accept; } }
            term rest { then { accept; } }
        }
    }
    nat {
        pool p { address 203.0.113.128/25; port { automatic; } }
        rule n {
            match-direction input;
            term t {
                from { source-address { 10.0.0.0/24; } }
                then { translated { source-pool p; translation-type { napt-44; } } }
            }
        }
    }
    service-set ss {
        stateful-firewall-rules r;
        nat-rules n;
        interface-service { service-interface ms-1/1/0; }
    }
}
"#;

const PORT: &[u8] = b"PORT 10,0,0,2,156,65\r\n";
const EPRT: &[u8] = b"EPRT |1|10.0.0.2|40002|\r\n";

/// The client's side of a control connection: USER, PORT, EPRT, QUIT.
fn capture() -> (Trace, u32) {
    let mut g = Gen::new(11);
    let mut t = Trace::new();
    let client = Host::inside([10, 0, 0, 2]);
    let server = Host::remote([198, 51, 100, 7]);
    let mut c = g.tcp_connect(
        &mut t,
        &client,
        &server,
        40_000,
        21,
        Duration::ZERO,
        Sides::ClientOnly,
    );
    let isn = c.isn(Peer::Client);
    for line in [&b"USER anonymous\r\n"[..], PORT, EPRT, b"QUIT\r\n"] {
        g.tcp_send(&mut t, &mut c, Peer::Client, line);
    }
    (t, isn)
}

/// (seq, ack, payload) of a TCP frame.
fn tcp(frame: &[u8]) -> (u32, u32, Vec<u8>) {
    let p = mspic_wire::parse_frame(frame).unwrap();
    assert!(matches!(p.l4, L4::Tcp { .. }));
    let l4 = p.l4_offset;
    let seq = u32::from_be_bytes(frame[l4 + 4..l4 + 8].try_into().unwrap());
    let ack = u32::from_be_bytes(frame[l4 + 8..l4 + 12].try_into().unwrap());
    let hl = usize::from(frame[l4 + 12] >> 4) * 4;
    (
        seq,
        ack,
        frame[l4 + hl..p.l4_offset + hl + p.payload_len].to_vec(),
    )
}

/// The pool endpoint written in a rewritten `PORT h1,h2,h3,h4,p1,p2` line.
fn port_endpoint(line: &[u8]) -> (Ipv4Addr, u16) {
    let s = std::str::from_utf8(line).unwrap();
    let n: Vec<u16> = s
        .trim_start_matches("PORT ")
        .trim_end()
        .split(',')
        .map(|x| x.parse().unwrap())
        .collect();
    assert_eq!(n.len(), 6, "{s}");
    let a = Ipv4Addr::new(n[0] as u8, n[1] as u8, n[2] as u8, n[3] as u8);
    (a, n[4] * 256 + n[5])
}

/// The pool's `port` statement and block size: plain napt-44, secured and deterministic
/// port block allocation.
const POOLS: [(&str, &str, u16); 3] = [
    ("port { automatic; }", "napt-44", 0),
    (
        "port { automatic; secured-port-block-allocation block-size 256; }",
        "napt-44",
        256,
    ),
    (
        "port { automatic; deterministic-port-block-allocation block-size 2016; }",
        "deterministic-napt44",
        2016,
    ),
];

#[test]
fn ftp_commands_are_rewritten_with_sequence_correction() {
    for (workers, (port_stmt, ttype, block)) in
        [1, 3].into_iter().flat_map(|w| POOLS.map(|p| (w, p)))
    {
        let text = CONFIG
            .replace("port { automatic; }", port_stmt)
            .replace("napt-44;", &format!("{ttype};"));
        let cfg = mspic_config::parse(&text, "replay-alg.conf").unwrap();
        let policy = Arc::new(mspic_flow::Policy::compile(&cfg).unwrap());
        let opts = ReplayOptions {
            workers,
            respond: true,
            ..Default::default()
        };
        let mut r = Replay::new(policy, &opts).unwrap();
        let (trace, isn) = capture();
        let (mut out, mut back) = (Vec::new(), Vec::new());
        let mut control_port = None;
        for f in trace.frames() {
            for o in r.process((trace.epoch() + f.ts).as_nanos() as u64, &f.data) {
                assert!(checksums_valid(&o.frame), "bad checksum ({workers} shards)");
                let p = mspic_wire::parse_frame(&o.frame).unwrap();
                if p.key.dst == Ipv4Addr::new(198, 51, 100, 7) {
                    control_port.get_or_insert(p.key.src_port);
                    out.push(tcp(&o.frame));
                } else {
                    back.push(tcp(&o.frame));
                }
            }
        }
        // What the server received: the commands, PORT and EPRT naming the pool.
        let sent: Vec<&(u32, u32, Vec<u8>)> = out.iter().filter(|s| !s.2.is_empty()).collect();
        assert_eq!(sent.len(), 4, "{workers} shards: {out:?}");
        let (pool, port) = port_endpoint(&sent[1].2);
        assert_eq!(pool.octets()[..3], [203, 0, 113], "PORT names {pool}");
        assert!(pool.octets()[3] >= 128 && port >= 1024, "{pool}:{port}");
        if block > 0 {
            // The data port is in the block of the control connection's port.
            let b = |p: u16| (p - 1024) / block;
            assert_eq!(b(port), b(control_port.unwrap()), "{ttype} {port}");
        }
        let eprt = String::from_utf8(sent[2].2.clone()).unwrap();
        assert!(
            eprt.starts_with(&format!("EPRT |1|{pool}|")) && eprt.ends_with("|\r\n"),
            "{eprt}"
        );
        // RFC 793 sequence space: each segment starts where the rewritten previous one ended.
        let user_len = b"USER anonymous\r\n".len() as u32;
        assert_eq!(sent[0].0, isn.wrapping_add(1));
        for w in sent.windows(2) {
            assert_eq!(w[1].0, w[0].0.wrapping_add(w[0].2.len() as u32), "{out:?}");
        }
        let delta = (sent[1].2.len() + sent[2].2.len()) as i64 - (PORT.len() + EPRT.len()) as i64;
        assert_ne!(delta, 0, "the rewrite changed no length: nothing tested");
        // The client sees acknowledgments in its own numbering: the last one covers QUIT.
        let client_end = isn
            .wrapping_add(1)
            .wrapping_add(user_len + (PORT.len() + EPRT.len() + 6) as u32);
        let last_ack = back.last().map(|s| s.1).unwrap();
        assert_eq!(last_ack, client_end, "{workers} shards: acks {back:?}");

        let text = mspic_control::execute("show services sessions", &mut r).unwrap();
        assert!(text.contains("ALG: ftp, Flags: 0x2080"), "{text}");
        assert!(text.contains(" Watch "), "{text}");
        let stats = mspic_control::execute(
            "show services stateful-firewall statistics extensive",
            &mut r,
        )
        .unwrap();
        let created = stats
            .lines()
            .find(|l| l.contains("Created"))
            .unwrap_or_else(|| panic!("{stats}"));
        assert!(created.contains("Created: 2"), "{workers} shards: {stats}");
    }
}

const SERVER: [u8; 4] = [198, 51, 100, 7];
const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

/// A replay of [`CONFIG`] (napt-44) on `workers` shards; `respond`: with the built-in
/// responder (it answers TCP as a peer would; a UDP echo is no DNS or talk answer).
fn replay(workers: u32, respond: bool) -> Replay {
    let cfg = mspic_config::parse(CONFIG, "replay-alg.conf").unwrap();
    let policy = Arc::new(mspic_flow::Policy::compile(&cfg).unwrap());
    let opts = ReplayOptions {
        workers,
        respond,
        ..Default::default()
    };
    Replay::new(policy, &opts).unwrap()
}

/// Runs every frame of `t` (or the first `n`) through `r`; what left, checksums checked.
fn play(r: &mut Replay, t: &Trace, n: usize) -> Vec<Output> {
    let mut out = Vec::new();
    for f in t.frames().iter().take(n) {
        for o in r.process((t.epoch() + f.ts).as_nanos() as u64, &f.data) {
            assert!(checksums_valid(&o.frame), "bad checksum");
            out.push(o);
        }
    }
    out
}

fn show(r: &mut Replay, command: &str) -> String {
    mspic_control::execute(command, r).unwrap()
}

fn closed_by_response(r: &mut Replay) -> u64 {
    let stats = show(r, "show services stateful-firewall statistics extensive");
    counter(&stats, "Sessions closed by response")
}

/// Sessions of `show services sessions` with a flow to or from `port`.
fn sessions_on(r: &mut Replay, port: u16) -> usize {
    let text = show(r, "show services sessions");
    let p = format!(":{port} ");
    sessions(&text)
        .iter()
        .filter(|s| s.1.contains(&p) || s.2.contains(&p))
        .count()
}

/// (source, destination) endpoints of a frame.
fn endpoints(frame: &[u8]) -> ((Ipv4Addr, u16), (Ipv4Addr, u16)) {
    let k = mspic_wire::parse_frame(frame).unwrap().key;
    let v4 = |a: std::net::IpAddr| match a {
        std::net::IpAddr::V4(a) => a,
        a => panic!("{a} is not IPv4"),
    };
    ((v4(k.src), k.src_port), (v4(k.dst), k.dst_port))
}

/// The UDP payload of a frame.
fn udp_payload(frame: &[u8]) -> Vec<u8> {
    let p = mspic_wire::parse_frame(frame).unwrap();
    assert!(matches!(p.l4, L4::Udp), "not UDP");
    frame[p.payload_offset..p.payload_offset + p.payload_len].to_vec()
}

/// Is `a` in the pool 203.0.113.128/25?
fn in_pool(a: Ipv4Addr) -> bool {
    a.octets()[..3] == [203, 0, 113] && a.octets()[3] >= 128
}

/// One UDP datagram from `from:sport` to `to:dport` at `at`.
#[allow(clippy::too_many_arguments)]
fn datagram(
    g: &mut Gen,
    from: &Host,
    sport: u16,
    to: &Host,
    dport: u16,
    at: Duration,
    payload: &[u8],
) -> Trace {
    let mut t = Trace::new();
    g.udp_one_way(
        &mut t,
        from,
        to,
        sport,
        dport,
        at,
        1,
        payload,
        Duration::ZERO,
    );
    t
}

/// A DNS query through napt-44, then the server's answers to the translated endpoint: one
/// with another query id (forwarded, the session stays), then the matching one (forwarded,
/// the session closes and is counted).
#[test]
fn dns_session_closes_on_the_response_with_its_query_id() {
    for workers in [1, 3] {
        let mut r = replay(workers, false);
        let mut g = Gen::new(21);
        let (client, server) = (Host::inside(CLIENT), Host::remote(SERVER));
        let (query, answer) = dns_messages(0x1111, "a.example.test", [198, 51, 100, 9]);
        let (_, other) = dns_messages(0x2222, "a.example.test", [198, 51, 100, 9]);
        let t = datagram(&mut g, &client, 40_053, &server, 53, Duration::ZERO, &query);
        let out = play(&mut r, &t, usize::MAX);
        assert_eq!(out.len(), 1, "{workers} shards: the query is forwarded");
        let (seen, to) = endpoints(&out[0].frame);
        assert!(in_pool(seen.0), "{seen:?}");
        assert_eq!(to, (Ipv4Addr::from(SERVER), 53));
        assert_eq!(udp_payload(&out[0].frame), query);
        assert_eq!(sessions_on(&mut r, 53), 1);
        assert_eq!(closed_by_response(&mut r), 0);

        let pool = Host::outside(seen.0);
        for (at, reply, open) in [(20, &other, 1), (30, &answer, 0)] {
            let ms = Duration::from_millis(at);
            let t = datagram(&mut g, &server, 53, &pool, seen.1, ms, reply);
            let out = play(&mut r, &t, usize::MAX);
            assert_eq!(out.len(), 1, "{workers} shards: the response is forwarded");
            assert_eq!(endpoints(&out[0].frame).1, (CLIENT, 40_053));
            assert_eq!(&udp_payload(&out[0].frame), reply);
            assert_eq!(
                sessions_on(&mut r, 53),
                open,
                "{workers} shards, at {at} ms"
            );
            assert_eq!(closed_by_response(&mut r), 1 - open as u64);
        }
    }
}

/// A query never answered: its session stays until the UDP inactivity timeout (30 s,
/// the `services-options` default) and then goes without being counted as closed by a
/// response.
#[test]
fn dns_query_without_response_closes_on_its_timeout() {
    for workers in [1, 3] {
        let mut r = replay(workers, false);
        let mut g = Gen::new(22);
        let (client, server) = (Host::inside(CLIENT), Host::remote(SERVER));
        let (query, _) = dns_messages(0x3333, "b.example.test", [198, 51, 100, 9]);
        let t = datagram(&mut g, &client, 40_054, &server, 53, Duration::ZERO, &query);
        assert_eq!(play(&mut r, &t, usize::MAX).len(), 1);
        let sent = t.epoch() + t.frames()[0].ts;
        let at = |s: u64| Time((sent + Duration::from_secs(s)).as_nanos() as u64);
        r.advance(at(29));
        assert_eq!(
            sessions_on(&mut r, 53),
            1,
            "{workers} shards: gone before 30 s"
        );
        r.advance(at(31));
        assert_eq!(sessions_on(&mut r, 53), 0, "{workers} shards: still there");
        assert_eq!(closed_by_response(&mut r), 0);
    }
}

/// The session headers of `show services sessions` whose flows name both endpoints, as
/// (header, I flow, O flow).
fn session_between(r: &mut Replay, a: &str, b: &str) -> Vec<(String, String, String)> {
    let text = show(r, "show services sessions");
    sessions(&text)
        .into_iter()
        .filter(|s| {
            let both = format!("{}\n{}", s.1, s.2);
            both.contains(a) && both.contains(b)
        })
        .collect()
}

/// The flags of a `Session: …, Flags: 0x…` header.
fn flags(header: &str) -> u32 {
    let f = header.split("Flags: 0x").nth(1).unwrap();
    u32::from_str_radix(f.split(',').next().unwrap(), 16).unwrap()
}

/// rsh through napt-44 with the responder as the server: the stderr port in the client's
/// first bytes is rewritten to a pool port (the rest unchanged, later segments shifted by
/// the length change), and the server's connection from its reserved port to that pool port
/// reaches the client's stderr socket as a child session (`0x0800`) of the rsh parent
/// (`0x2000`).
#[test]
fn rsh_stderr_connection_is_a_child_under_napt() {
    for workers in [1, 3] {
        let mut r = replay(workers, true);
        let mut g = Gen::new(31);
        let (client, server) = (Host::inside(CLIENT), Host::remote(SERVER));
        let mut t = Trace::new();
        let zero = Duration::ZERO;
        let mut c = g.tcp_connect(&mut t, &client, &server, 1023, 514, zero, Sides::ClientOnly);
        let cmd = rsh_command(1022, "alice", "alice", "ls /missing");
        g.tcp_send(&mut t, &mut c, Peer::Client, &cmd);
        g.tcp_send(&mut t, &mut c, Peer::Client, b"input\n");
        let out = play(&mut r, &t, usize::MAX);
        let to_server: Vec<_> = out
            .iter()
            .filter(|o| endpoints(&o.frame).1 == (Ipv4Addr::from(SERVER), 514))
            .collect();
        let pool = endpoints(&to_server[0].frame).0 .0;
        assert!(in_pool(pool), "{pool}");
        let data: Vec<_> = to_server
            .iter()
            .map(|o| tcp(&o.frame))
            .filter(|s| !s.2.is_empty())
            .collect();
        assert_eq!(data.len(), 2, "{workers} shards: {data:?}");
        // `PORT\0alice\0alice\0ls /missing\0` with the pool port instead of 1022.
        let nul = data[0].2.iter().position(|&b| b == 0).unwrap();
        let told: u16 = std::str::from_utf8(&data[0].2[..nul])
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(&data[0].2[nul..], &cmd[4..], "{workers} shards");
        assert_eq!(data[1].0, data[0].0.wrapping_add(data[0].2.len() as u32));
        assert_eq!(data[1].2, b"input\n");

        // rshd connects back from a reserved port to the port it was told.
        let mut back = Trace::new();
        let at = t.end() + Duration::from_millis(5);
        let pool_host = Host::outside(pool);
        g.tcp_connect(
            &mut back,
            &server,
            &pool_host,
            1021,
            told,
            at,
            Sides::ClientOnly,
        );
        let out = play(&mut r, &back, 1);
        assert_eq!(out.len(), 1, "{workers} shards: the stderr SYN is dropped");
        assert_eq!(
            endpoints(&out[0].frame),
            ((Ipv4Addr::from(SERVER), 1021), (CLIENT, 1022)),
            "{workers} shards"
        );
        let child = session_between(&mut r, "198.51.100.7:1021", "10.0.0.2:1022");
        assert_eq!(child.len(), 1, "{}", show(&mut r, "show services sessions"));
        assert!(child[0].0.contains("ALG: rsh"), "{child:?}");
        assert_ne!(flags(&child[0].0) & 0x0800, 0, "not a child: {child:?}");
        // Its outside flow is the server's connection to the pool port.
        let o = format!("198.51.100.7:1021  ->  {pool}:{told}");
        assert!(
            child[0].1.contains(&o) || child[0].2.contains(&o),
            "{child:?}"
        );
        let parent = session_between(&mut r, "10.0.0.2:1023", "198.51.100.7:514");
        assert_eq!(parent.len(), 1);
        assert_ne!(flags(&parent[0].0) & 0x2000, 0, "not a parent: {parent:?}");
    }
}

/// An ntalk invitation (ANNOUNCE to the callee's talkd on UDP 518) through napt-44: `addr`
/// names the pool endpoint of a reserved port, `ctl_addr` the translated source of the
/// datagram itself, the rest of the message is unchanged; the callee's TCP connection to
/// `addr` is admitted to the caller's listening socket as a child session.
#[test]
fn talk_invitation_addresses_rewritten_and_connection_admitted() {
    for workers in [1, 3] {
        let mut r = replay(workers, false);
        let mut g = Gen::new(41);
        let (client, server) = (Host::inside(CLIENT), Host::remote(SERVER));
        let listen = std::net::SocketAddrV4::new(CLIENT, 40_200);
        let ctl = std::net::SocketAddrV4::new(CLIENT, 40_100);
        let msg = ntalk_ctl_msg(NTALK_ANNOUNCE, 1, listen, ctl, "alice", "bob");
        let t = datagram(&mut g, &client, 40_100, &server, 518, Duration::ZERO, &msg);
        let out = play(&mut r, &t, usize::MAX);
        assert_eq!(out.len(), 1, "{workers} shards");
        let (seen, _) = endpoints(&out[0].frame);
        assert!(in_pool(seen.0), "{seen:?}");
        let m = udp_payload(&out[0].frame);
        assert_eq!(m.len(), msg.len());
        let sockaddr = |b: &[u8]| {
            assert_eq!(&b[..2], &[0, 2]);
            let a = Ipv4Addr::new(b[4], b[5], b[6], b[7]);
            (a, u16::from_be_bytes([b[2], b[3]]))
        };
        let addr = sockaddr(&m[8..24]);
        assert_eq!(addr.0, seen.0, "{workers} shards: addr {addr:?}");
        assert_eq!(sockaddr(&m[24..40]), seen, "{workers} shards: ctl_addr");
        assert_eq!((&m[..8], &m[40..]), (&msg[..8], &msg[40..]));

        // The callee connects to the address in the invitation.
        let mut call = Trace::new();
        let at = Duration::from_millis(30);
        let pool_host = Host::outside(addr.0);
        g.tcp_connect(
            &mut call,
            &server,
            &pool_host,
            40_300,
            addr.1,
            at,
            Sides::ClientOnly,
        );
        let out = play(&mut r, &call, 1);
        assert_eq!(
            out.len(),
            1,
            "{workers} shards: the invitation's SYN is dropped"
        );
        assert_eq!(
            endpoints(&out[0].frame),
            ((Ipv4Addr::from(SERVER), 40_300), (CLIENT, 40_200))
        );
        let child = session_between(&mut r, "198.51.100.7:40300", "10.0.0.2:40200");
        assert_eq!(child.len(), 1, "{}", show(&mut r, "show services sessions"));
        assert_ne!(flags(&child[0].0) & 0x0800, 0, "not a child: {child:?}");
    }
}

/// A public FTP server 10.0.0.10 behind destination NAT (outside clients reach it at
/// 203.0.113.10) with the client's address translated too (`TTYPE`: twice-napt-44 or
/// twice-basic-nat-44, from the pool 203.0.113.128/25 with `PORTS`). The service set is on
/// the outside interface; the responder plays the server.
const TWICE: &str = r#"
interfaces {
    ge-0/0/0 { unit 0 { family inet { address 10.0.0.1/24; } } }
    ge-0/0/1 { unit 0 { family inet {
        service { input { service-set pub; } output { service-set pub; } }
        address 203.0.113.1/24;
    } } }
    ms-1/1/0 { unit 0 { family inet; } }
}
routing-options { static { route 198.51.100.0/24 next-hop 203.0.113.2; } }
services {
    stateful-firewall {
        rule r { match-direction input; term ftp { from { applications junos-ftp; } then { accept; } } }
    }
    nat {
        pool web { address 10.0.0.10/32; }
        pool public { address 203.0.113.128/25; PORTS }
        rule twice {
            match-direction input;
            term t {
                from { source-address { 198.51.100.0/25; } destination-address { 203.0.113.10/32; } }
                then { translated { destination-pool web; source-pool public; translation-type { TTYPE; } } }
            }
        }
    }
    service-set pub { stateful-firewall-rules r; nat-rules twice; interface-service { service-interface ms-1/1/0; } }
}
"#;

/// A TCP segment with PSH and ACK from `src` to `dst`, as `from` sends it.
fn segment(
    from: &Host,
    src: (Ipv4Addr, u16),
    dst: (Ipv4Addr, u16),
    seq_ack: (u32, u32),
    payload: &[u8],
) -> Vec<u8> {
    let mut out = Vec::new();
    etherparse::PacketBuilder::ethernet2(from.mac, from.port.router_mac())
        .ipv4(src.0.octets(), dst.0.octets(), 64)
        .tcp(src.1, dst.1, seq_ack.0, 64240)
        .psh()
        .ack(seq_ack.1)
        .write(&mut out, payload)
        .unwrap();
    out
}

/// FTP under twice NAT, replayed: the client's PORT reaches the server naming the client's
/// pool endpoint and the server's connection back from port 20 reaches the client from the
/// public address; the server's 227 reaches the client naming the public address and the
/// client's data connection to it reaches the server's real address from the pool.
#[test]
fn ftp_port_and_pasv_under_twice_nat() {
    let public = Ipv4Addr::new(203, 0, 113, 10);
    let real = Ipv4Addr::new(10, 0, 0, 10);
    let x = Ipv4Addr::from(SERVER);
    for (ttype, ports) in [
        ("twice-napt-44", "port { automatic; }"),
        ("twice-basic-nat-44", ""),
    ] {
        let text = TWICE.replace("TTYPE", ttype).replace("PORTS", ports);
        let cfg = mspic_config::parse(&text, "twice.conf").unwrap();
        let policy = Arc::new(mspic_flow::Policy::compile(&cfg).unwrap());
        let opts = ReplayOptions {
            respond: true,
            ..Default::default()
        };
        let mut r = Replay::new(policy, &opts).unwrap();
        let mut g = Gen::new(51);
        let (client, server) = (Host::remote(SERVER), Host::outside(public));
        let mut t = Trace::new();
        let zero = Duration::ZERO;
        let mut c = g.tcp_connect(&mut t, &client, &server, 6000, 21, zero, Sides::ClientOnly);
        g.tcp_send(
            &mut t,
            &mut c,
            Peer::Client,
            b"PORT 198,51,100,7,23,113\r\n",
        );
        let out = play(&mut r, &t, usize::MAX);
        let to_server: Vec<_> = out
            .iter()
            .filter(|o| endpoints(&o.frame).1 == (real, 21))
            .collect();
        let seen = endpoints(&to_server[0].frame).0;
        assert!(in_pool(seen.0), "{ttype}: the server sees {seen:?}");
        let port_line = to_server
            .iter()
            .map(|o| tcp(&o.frame))
            .find(|s| !s.2.is_empty())
            .unwrap();
        let told = port_endpoint(&port_line.2);
        assert_eq!(
            told.0,
            seen.0,
            "{ttype}: {:?}",
            String::from_utf8_lossy(&port_line.2)
        );
        if ttype == "twice-basic-nat-44" {
            assert_eq!(
                (seen.1, told.1),
                (6000, 23 * 256 + 113),
                "{ttype}: ports are kept"
            );
        }
        // Active: the server connects from port 20 to what the PORT named.
        let server_host = Host::inside(real);
        let syn = {
            let mut b = Trace::new();
            let at = t.end() + Duration::from_millis(1);
            g.tcp_connect(
                &mut b,
                &server_host,
                &Host::outside(told.0),
                20,
                told.1,
                at,
                Sides::ClientOnly,
            );
            b
        };
        let out = play(&mut r, &syn, 1);
        assert_eq!(
            out.len(),
            1,
            "{ttype}: the active data connection is dropped"
        );
        assert_eq!(
            endpoints(&out[0].frame),
            ((public, 20), (x, 23 * 256 + 113)),
            "{ttype}"
        );

        // Passive: the server's 227 names its real address.
        let mut t2 = Trace::new();
        g.tcp_send(&mut t2, &mut c, Peer::Client, b"PASV\r\n");
        let out = play(&mut r, &t2, usize::MAX);
        let pasv = out
            .iter()
            .find(|o| endpoints(&o.frame).1 == (real, 21))
            .map(|o| tcp(&o.frame))
            .unwrap();
        assert_eq!(pasv.2, b"PASV\r\n");
        // The responder's acknowledgment of PASV carries the server's next sequence number.
        let ack = out
            .iter()
            .rev()
            .find(|o| endpoints(&o.frame).1 == (x, 6000))
            .unwrap();
        let server_seq = tcp(&ack.frame).0;
        let reply = b"227 Entering Passive Mode (10,0,0,10,195,80)\r\n";
        let seq_ack = (server_seq, pasv.0.wrapping_add(pasv.2.len() as u32));
        let frame = segment(&server_host, (real, 21), seen, seq_ack, reply);
        let at = (t2.epoch() + t2.end() + Duration::from_millis(1)).as_nanos() as u64;
        let out = r.process(at, &frame);
        assert_eq!(out.len(), 1, "{ttype}: the 227 is dropped");
        assert!(checksums_valid(&out[0].frame));
        assert_eq!(
            endpoints(&out[0].frame),
            ((public, 21), (x, 6000)),
            "{ttype}"
        );
        let got = tcp(&out[0].frame).2;
        assert_eq!(
            got,
            b"227 Entering Passive Mode (203,0,113,10,195,80)\r\n",
            "{ttype}: {}",
            String::from_utf8_lossy(&got)
        );
        // The client connects to the public address it was given: the server sees it from
        // the pool, at its real address.
        let mut d = Trace::new();
        let at = t2.end() + Duration::from_millis(2);
        g.tcp_connect(
            &mut d,
            &client,
            &server,
            6001,
            195 * 256 + 80,
            at,
            Sides::ClientOnly,
        );
        let out = play(&mut r, &d, 1);
        // The SYN, then the server's SYN-ACK (from the responder) back to the client.
        assert_eq!(
            out.len(),
            2,
            "{ttype}: the passive data connection is dropped"
        );
        let (from, to) = endpoints(&out[0].frame);
        assert!(in_pool(from.0), "{ttype}: {from:?}");
        assert_eq!(to, (real, 195 * 256 + 80), "{ttype}");
        let back = endpoints(&out[1].frame);
        assert_eq!(back, ((public, 195 * 256 + 80), (x, 6001)), "{ttype}");
        let text = show(&mut r, "show services sessions");
        let children = sessions(&text)
            .iter()
            .filter(|s| flags(&s.0) & 0x0800 != 0)
            .count();
        assert_eq!(children, 2, "{ttype}: {text}");
    }
}

const PAC: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);

/// A frame as `from` sends it to `to`: TCP (`tcp`: ports, seq, ack, payload) or enhanced
/// GRE to call id `gre` (RFC 2637 §4.1: K and S set, version 1, PPP).
fn pptp_frame(
    from: &Host,
    to: Ipv4Addr,
    tcp: Option<(u16, u16, u32, u32, &[u8])>,
    gre: Option<u16>,
) -> Vec<u8> {
    let std::net::IpAddr::V4(src) = from.ip else {
        panic!("IPv4 only")
    };
    let b = etherparse::PacketBuilder::ethernet2(from.mac, from.port.router_mac()).ipv4(
        src.octets(),
        to.octets(),
        64,
    );
    let mut out = Vec::new();
    match (tcp, gre) {
        (Some((sp, dp, seq, ack, payload)), None) => {
            let b = b.tcp(sp, dp, seq, 64240);
            let b = if seq == 1000 || seq == 5000 {
                if ack == 0 {
                    b.syn()
                } else {
                    b.syn().ack(ack)
                }
            } else {
                b.ack(ack).psh()
            };
            b.write(&mut out, payload).unwrap();
        }
        (None, Some(call)) => {
            let ppp = b"\xff\x03\xc0\x21\x09\x01\x00\x08\x00\x00\x00\x00";
            let mut g = vec![0x30, 0x01, 0x88, 0x0b];
            g.extend_from_slice(&(ppp.len() as u16).to_be_bytes());
            g.extend_from_slice(&call.to_be_bytes());
            g.extend_from_slice(&1u32.to_be_bytes());
            g.extend_from_slice(ppp);
            b.write(&mut out, etherparse::IpNumber(47), &g).unwrap();
        }
        _ => unreachable!(),
    }
    out
}

/// A PPTP control message of type `t` (length `len`) with its fields after the header.
fn pptp_ctrl(t: u16, len: usize, fields: &[u8]) -> Vec<u8> {
    let mut v = (len as u16).to_be_bytes().to_vec();
    v.extend_from_slice(&[0, 1, 0x1a, 0x2b, 0x3c, 0x4d]);
    v.extend_from_slice(&t.to_be_bytes());
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(fields);
    v.resize(len, 0);
    v
}

/// The GRE call id of a frame, if it is enhanced GRE.
fn gre_call(frame: &[u8]) -> Option<u16> {
    match mspic_wire::parse_frame(frame).unwrap().l4 {
        L4::Gre {
            version: 1,
            key: Some(k),
            ..
        } => Some(k as u16),
        _ => None,
    }
}

#[test]
fn pptp_two_pns_with_one_call_id_behind_one_address() {
    for workers in [1, 2, 3, 4] {
        let mut r = replay(workers, false);
        let mut ts = 1_000_000_000u64;
        let mut all = Vec::new();
        let mut run = |r: &mut Replay, f: Vec<u8>| {
            ts += 1_000_000;
            let out: Vec<Output> = r.process(ts, &f);
            for o in &out {
                assert!(checksums_valid(&o.frame), "{workers} shards: bad checksum");
            }
            all.extend(out.iter().map(|o| o.frame.clone()));
            out
        };
        let pac = Host::remote(PAC);
        let pns = [Host::inside([10, 0, 0, 2]), Host::inside([10, 0, 0, 3])];
        let mut public = Vec::new();
        for (i, h) in pns.iter().enumerate() {
            let port = 40_000 + i as u16;
            let out = run(
                &mut r,
                pptp_frame(h, PAC, Some((port, 1723, 1000, 0, b"")), None),
            );
            assert_eq!(out.len(), 1, "{workers} shards: SYN");
            let (src, _) = endpoints(&out[0].frame);
            assert!(in_pool(src.0), "{src:?}");
            public.push(src);
            let out = run(
                &mut r,
                pptp_frame(&pac, src.0, Some((1723, src.1, 5000, 1001, b"")), None),
            );
            assert_eq!(out.len(), 1, "{workers} shards: SYN-ACK");
        }
        assert_eq!(public[0].0, public[1].0, "one pool address");
        // Both PNSs ask for a call with Call ID 0x4001.
        let ocrq = pptp_ctrl(7, 168, &0x4001u16.to_be_bytes());
        let mut told = Vec::new();
        for (i, h) in pns.iter().enumerate() {
            let f = Some((40_000 + i as u16, 1723, 1001, 5001, &ocrq[..]));
            let out = run(&mut r, pptp_frame(h, PAC, f, None));
            assert_eq!(out.len(), 1);
            let (_, _, payload) = tcp(&out[0].frame);
            assert_eq!(payload.len(), ocrq.len());
            told.push(u16::from_be_bytes([payload[12], payload[13]]));
        }
        assert_ne!(
            told[0], told[1],
            "{workers} shards: the PAC must see two Call IDs"
        );
        // The PAC answers each with its own Call ID and the one it was told.
        let pac_ids = [0x0800u16, 0x0900];
        for i in 0..2 {
            let fields = [pac_ids[i].to_be_bytes(), told[i].to_be_bytes()].concat();
            let ocrp = pptp_ctrl(8, 32, &[&fields[..], &[1]].concat());
            let f = Some((1723, public[i].1, 5001, 1001 + 168, &ocrp[..]));
            let out = run(&mut r, pptp_frame(&pac, public[i].0, f, None));
            assert_eq!(out.len(), 1);
            assert_eq!(
                endpoints(&out[0].frame).1 .0,
                match pns[i].ip {
                    std::net::IpAddr::V4(a) => a,
                    _ => unreachable!(),
                }
            );
            let (_, _, payload) = tcp(&out[0].frame);
            assert_eq!(
                &payload[12..16],
                &[&fields[..2], &[0x40, 0x01]].concat()[..]
            );
        }
        // GRE both ways, three packets each, the PAC's first for one call and the PNS's
        // first for the other.
        for round in 0..3 {
            for i in [0usize, 1] {
                let to_pns = pptp_frame(&pac, public[i].0, None, Some(told[i]));
                let to_pac = pptp_frame(&pns[i], PAC, None, Some(pac_ids[i]));
                let order = if (i + round) % 2 == 0 {
                    [to_pns, to_pac]
                } else {
                    [to_pac, to_pns]
                };
                for f in order {
                    let inbound = endpoints(&f).1 .0 != PAC;
                    let out = run(&mut r, f);
                    assert_eq!(out.len(), 1, "{workers} shards, call {i}, round {round}");
                    let ((src, _), (dst, _)) = endpoints(&out[0].frame);
                    let call = gre_call(&out[0].frame);
                    if inbound {
                        assert_eq!(std::net::IpAddr::V4(dst), pns[i].ip);
                        assert_eq!(call, Some(0x4001), "{workers} shards");
                    } else {
                        assert_eq!((src, dst, call), (public[i].0, PAC, Some(pac_ids[i])));
                    }
                }
            }
        }
        // Nothing from the inside address, and the PAC saw each Call ID once.
        let mut seen = Vec::new();
        for f in &all {
            let ((src, _), (dst, _)) = endpoints(f);
            if dst == PAC {
                assert!(in_pool(src), "{workers} shards: {src} leaked");
                if let Ok(p) = mspic_wire::parse_frame(f) {
                    let pl = &f[p.payload_offset..p.payload_offset + p.payload_len];
                    if p.key.proto == 6 && pl.len() == 168 {
                        seen.push(u16::from_be_bytes([pl[12], pl[13]]));
                    }
                }
            }
        }
        seen.sort_unstable();
        let mut want = told.clone();
        want.sort_unstable();
        assert_eq!(seen, want, "{workers} shards");
        let text = show(&mut r, "show services sessions");
        let gre: Vec<_> = sessions(&text)
            .into_iter()
            .filter(|s| s.1.starts_with("GRE"))
            .collect();
        assert_eq!(gre.len(), 2, "{workers} shards: {text}");
        for s in &gre {
            assert!(s.0.contains("ALG: pptp"), "{text}");
            assert_eq!(frames(&s.1) + frames(&s.2), 6, "{text}");
        }
        // The Call IDs replaced, and the PAC's 3 GRE packets of each such call restored.
        let replaced = told.iter().filter(|&&t| t != 0x4001).count();
        assert!(replaced >= 1, "{workers} shards: {told:?}");
        let stats = show(&mut r, "show services nat statistics");
        let line = |n: usize, what: &str| format!("  nat-gre-call-id-{what}: {n}\n");
        assert!(stats.contains(&line(replaced, "translations")), "{stats}");
        assert!(
            stats.contains(&line(3 * replaced, "restorations")),
            "{stats}"
        );
    }
}

/// A frame from `from` to `to`: UDP between `ports` with `payload`, or (`ports` None)
/// ESP with SPI `spi`.
fn ike_frame(from: &Host, to: Ipv4Addr, ports: Option<(u16, u16)>, payload: &[u8]) -> Vec<u8> {
    let std::net::IpAddr::V4(src) = from.ip else {
        panic!("IPv4 only")
    };
    let b = etherparse::PacketBuilder::ethernet2(from.mac, from.port.router_mac()).ipv4(
        src.octets(),
        to.octets(),
        64,
    );
    let mut out = Vec::new();
    match ports {
        Some((sp, dp)) => b.udp(sp, dp).write(&mut out, payload).unwrap(),
        None => b
            .write(&mut out, etherparse::IpNumber(50), payload)
            .unwrap(),
    }
    out
}

/// An IKEv2 message (RFC 7296 §3.1): exchange `x`, response flag when `response`.
fn ike_message(ispi: u64, rspi: u64, x: u8, response: bool) -> Vec<u8> {
    let mut v = ispi.to_be_bytes().to_vec();
    v.extend_from_slice(&rspi.to_be_bytes());
    v.extend_from_slice(&[33, 0x20, x, if response { 0x20 } else { 0x08 }, 0, 0, 0, 1]);
    v.extend_from_slice(&36u32.to_be_bytes());
    v.extend_from_slice(b"payloads");
    v
}

/// An ESP packet's payload: SPI, sequence number, ciphertext.
fn esp_payload(spi: u32) -> Vec<u8> {
    let mut v = spi.to_be_bytes().to_vec();
    v.extend_from_slice(&1u32.to_be_bytes());
    v.extend_from_slice(b"ciphertext");
    v
}

/// The SPI of an ESP frame.
fn spi_of(frame: &[u8]) -> u32 {
    let p = mspic_wire::parse_frame(frame).unwrap();
    assert_eq!(p.key.proto, 50);
    u32::from_be_bytes(frame[p.l4_offset..p.l4_offset + 4].try_into().unwrap())
}

#[test]
fn ike_esp_of_two_hosts_behind_one_address_paired_by_spi() {
    let gw_ip = Ipv4Addr::new(198, 51, 100, 9);
    for workers in [1, 2, 3, 4] {
        let mut r = replay(workers, false);
        let mut ts = 1_000_000_000u64;
        let mut run = |r: &mut Replay, f: Vec<u8>| {
            ts += 1_000_000;
            let out: Vec<Output> = r.process(ts, &f);
            for o in &out {
                assert!(checksums_valid(&o.frame), "{workers} shards: bad checksum");
            }
            out
        };
        let gw = Host::remote(gw_ip);
        let hosts = [Host::inside([10, 0, 0, 2]), Host::inside([10, 0, 0, 3])];
        let (spi_in, spi_out) = ([0x1111u32, 0x2222], [0xa0a0u32, 0xb0b0]);
        let mut public = None;
        for (i, h) in hosts.iter().enumerate() {
            // IKE_SA_INIT and IKE_AUTH, both answered.
            let ispi = 7 + i as u64;
            let out = run(
                &mut r,
                ike_frame(h, gw_ip, Some((500, 500)), &ike_message(ispi, 0, 34, false)),
            );
            assert_eq!(out.len(), 1);
            let (src, _) = endpoints(&out[0].frame);
            assert!(in_pool(src.0));
            assert_eq!(*public.get_or_insert(src.0), src.0, "one public address");
            for (x, resp) in [(34, true), (35, false), (35, true)] {
                let f = if resp {
                    ike_frame(
                        &gw,
                        src.0,
                        Some((500, src.1)),
                        &ike_message(ispi, 9, x, true),
                    )
                } else {
                    ike_frame(h, gw_ip, Some((500, 500)), &ike_message(ispi, 9, x, false))
                };
                assert_eq!(run(&mut r, f).len(), 1);
            }
            // The first host sends ESP first, the gateway the second's.
            let out_f = ike_frame(h, gw_ip, None, &esp_payload(spi_out[i]));
            let in_f = ike_frame(&gw, src.0, None, &esp_payload(spi_in[i]));
            let order = if i == 0 { [out_f, in_f] } else { [in_f, out_f] };
            for f in order {
                let out = run(&mut r, f);
                assert_eq!(out.len(), 1, "{workers} shards, host {i}");
            }
        }
        let public = public.unwrap();
        for _ in 0..3 {
            for (i, h) in hosts.iter().enumerate() {
                let out = run(
                    &mut r,
                    ike_frame(&gw, public, None, &esp_payload(spi_in[i])),
                );
                assert_eq!(out.len(), 1, "{workers} shards");
                let (_, (dst, _)) = endpoints(&out[0].frame);
                assert_eq!(std::net::IpAddr::V4(dst), h.ip, "{workers} shards");
                assert_eq!(spi_of(&out[0].frame), spi_in[i]);
                let out = run(&mut r, ike_frame(h, gw_ip, None, &esp_payload(spi_out[i])));
                assert_eq!(out.len(), 1);
                let ((src, _), (dst, _)) = endpoints(&out[0].frame);
                assert_eq!(
                    (src, dst, spi_of(&out[0].frame)),
                    (public, gw_ip, spi_out[i])
                );
            }
        }
        let text = show(&mut r, "show services sessions");
        let esp: Vec<_> = sessions(&text)
            .into_iter()
            .filter(|s| s.1.trim_start().starts_with("50 ") || s.1.starts_with("ESP"))
            .collect();
        assert_eq!(esp.len(), 2, "{workers} shards: {text}");
        for s in &esp {
            assert!(s.0.contains("ALG: ike-esp-nat"), "{text}");
            assert_eq!(frames(&s.1) + frames(&s.2), 8, "{text}");
        }
    }
}

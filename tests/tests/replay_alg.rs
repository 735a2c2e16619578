//! The FTP ALG in `mspic replay`: a generated capture of an FTP client (PORT and EPRT
//! commands on its control connection) replayed with the built-in responder through
//! napt-44, on 1 and 3 shards. The commands leave rewritten to the pool address and port,
//! later segments have their sequence numbers shifted by the length change and the
//! responder's acknowledgments are shifted back, every checksum holds, and the PIC shows the
//! control session as an FTP parent with its pinholes counted. The same with secured and
//! deterministic port block allocation: the ports the ALG reserves come from the
//! subscriber's block.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use mspic_offline::replay::{Replay, ReplayOptions};
use mspic_tests::check::checksums_valid;
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
services {
    stateful-firewall {
        rule r {
            match-direction input;
            term alg { from { applications junos-ftp; } then { accept; } }
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

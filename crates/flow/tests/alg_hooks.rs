//! The ALG hook points with a toy ALG (no real protocol): a session whose term names an
//! application with `application-protocol ftp` gets the ALG, its flows are Watch, a payload
//! rewrite goes out with valid checksums, and a pinhole admits a child session (flag
//! 0x0800) without running the rules.

mod common;

use std::sync::Arc;

use common::*;
use mspic_config::AppProtocol;
use mspic_flow::alg::{
    AlgContext, AlgError, AlgPacket, AlgRegistry, AlgSession, AlgVerdict, PinholeSpec,
};
use mspic_flow::{FlowState, Frame, IfIndex, Policy, Shard, ShardConfig, Verdict};
use mspic_wire::FlowKey;

/// On a client payload "OPEN <port>", opens a pinhole server → client:<port> and
/// upper-cases the payload in place (same length).
struct Toy;

impl AlgSession for Toy {
    fn on_packet(
        &mut self,
        ctx: &mut AlgContext<'_>,
        pkt: &mut AlgPacket<'_>,
    ) -> Result<AlgVerdict, AlgError> {
        let text = std::str::from_utf8(pkt.payload())
            .map_err(|_| AlgError::Malformed("toy"))?
            .to_string();
        if let Some(port) = text
            .strip_prefix("open ")
            .and_then(|s| s.trim().parse::<u16>().ok())
        {
            let k = ctx.keys[0];
            ctx.open_pinhole(PinholeSpec {
                protocol: 6,
                src: Some(k.dst),
                src_port: None,
                dst: k.src,
                dst_port: port,
                lifetime_secs: 30,
            });
            let upper = text.to_ascii_uppercase();
            pkt.splice(0..text.len(), upper.as_bytes())?;
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
        (p == AppProtocol::Ftp).then(|| (Box::new(Toy) as Box<dyn AlgSession>, [true, false]))
    }
}

#[test]
fn watch_rewrite_and_pinhole_child() {
    let text = config(
        "term ftp { from { source-address { 10.0.0.0/24; } applications junos-ftp; } then { accept; } }",
        "",
    );
    let c = mspic_config::parse(&text, "t").unwrap();
    let policy = Arc::new(Policy::compile(&c).unwrap());
    let mut shard = Shard::with_algs(ShardConfig::default(), policy, Arc::new(Registry));
    let now = mspic_flow::Time::from_secs(5);
    let send = |shard: &mut Shard, ingress: u16, f: &[u8]| {
        let mut buf = vec![0u8; 2048];
        buf[..f.len()].copy_from_slice(f);
        let mut fr = Frame::new(&mut buf, f.len());
        let v = shard.process(now, IfIndex(ingress), &mut fr);
        let out = fr.bytes().to_vec();
        let msgs: Vec<_> = shard.drain_outbox().collect();
        for m in msgs {
            shard.deliver(m);
        }
        (v, out)
    };
    send(
        &mut shard,
        0,
        &tcp("10.0.0.2", 40000, "198.51.100.7", 21, "S", 1, 0, b""),
    );
    send(
        &mut shard,
        1,
        &tcp("198.51.100.7", 21, "10.0.0.2", 40000, "SA", 9, 2, b""),
    );
    let (v, out) = send(
        &mut shard,
        0,
        &tcp(
            "10.0.0.2",
            40000,
            "198.51.100.7",
            21,
            "PA",
            2,
            10,
            b"open 5001",
        ),
    );
    assert!(matches!(v, Verdict::Forward { .. }));
    assert!(out.ends_with(b"OPEN 5001"), "payload rewritten");
    assert!(checksums_ok(&out));
    // The server connects back through the pinhole: no rule accepts this direction, yet it
    // passes as a child session.
    let (v, _) = send(
        &mut shard,
        1,
        &tcp("198.51.100.7", 20, "10.0.0.2", 5001, "S", 1, 0, b""),
    );
    assert!(matches!(v, Verdict::Forward { .. }), "{v:?}");
    let mut s = Vec::new();
    shard.sessions(&Default::default(), &mut s);
    s.sort_by_key(|s| s.id);
    assert_eq!(s.len(), 2);
    assert_eq!(s[0].alg, Some(AppProtocol::Ftp));
    assert_eq!(s[0].flags, mspic_flow::FLAG_ALG_PARENT);
    assert_eq!(
        (s[0].flows[0].state, s[0].flows[1].state),
        (FlowState::Watch, FlowState::Forward)
    );
    assert_eq!(s[1].flags, mspic_flow::FLAG_ALG_CHILD);
    assert_eq!(s[1].alg, Some(AppProtocol::Ftp));
    assert_eq!(s[1].flows[0].dst.port, Some(5001));
    // The pinhole is used up: a second connection to the same port is a stranger.
    let (v, _) = send(
        &mut shard,
        1,
        &tcp("198.51.100.7", 20, "10.0.0.2", 5001, "S", 1, 0, b""),
    );
    assert!(
        matches!(v, Verdict::Forward { .. }),
        "same tuple: the child session"
    );
    let (v, _) = send(
        &mut shard,
        1,
        &tcp("198.51.100.7", 21, "10.0.0.2", 5001, "S", 1, 0, b""),
    );
    assert!(!matches!(v, Verdict::Forward { .. }), "{v:?}");
}

/// `AlgPacket::splice` against frames built and checked independently (etherparse): the
/// payload grows and shrinks with the IP length, UDP length and checksums fixed, and a
/// rewrite that does not fit the buffer is refused.
mod splice {
    use super::*;
    use mspic_flow::alg::AlgPacket;

    fn splice(
        frame: &[u8],
        capacity: usize,
        range: std::ops::Range<usize>,
        new: &[u8],
    ) -> Result<Vec<u8>, AlgError> {
        let mut buf = vec![0u8; capacity];
        buf[..frame.len()].copy_from_slice(frame);
        let parsed = mspic_wire::parse_frame(frame).unwrap();
        let mut len = frame.len();
        let mut pkt = AlgPacket::new(&mut buf, &mut len, &parsed);
        let cut = range.len();
        pkt.splice(range, new)?;
        assert_eq!(pkt.payload().len(), parsed.payload_len + new.len() - cut);
        assert_eq!(pkt.delta(), new.len() as i64 - cut as i64);
        buf.truncate(len);
        Ok(buf)
    }

    #[test]
    fn grows_and_shrinks_tcp_and_udp() {
        let t = tcp(
            "10.0.0.2",
            1,
            "198.51.100.7",
            21,
            "PA",
            7,
            9,
            b"PORT abcd\r\n",
        );
        let out = splice(&t, 2048, 5..9, b"longer-text").unwrap();
        let want = tcp(
            "10.0.0.2",
            1,
            "198.51.100.7",
            21,
            "PA",
            7,
            9,
            b"PORT longer-text\r\n",
        );
        assert_eq!(out, want);
        assert!(checksums_ok(&out));
        let out = splice(&t, 2048, 5..9, b"").unwrap();
        assert_eq!(
            out,
            tcp("10.0.0.2", 1, "198.51.100.7", 21, "PA", 7, 9, b"PORT \r\n")
        );
        let u = udp("10.0.0.2", 1, "198.51.100.7", 53, b"xxxxabcdyy");
        let out = splice(&u, 2048, 4..8, b"z").unwrap();
        assert_eq!(out, udp("10.0.0.2", 1, "198.51.100.7", 53, b"xxxxzyy"));
        // "No checksum" stays zero (RFC 768).
        let out = splice(&zero_udp_checksum(u.clone()), 2048, 4..8, b"z").unwrap();
        assert_eq!(
            out,
            zero_udp_checksum(udp("10.0.0.2", 1, "198.51.100.7", 53, b"xxxxzyy"))
        );
    }

    #[test]
    fn no_room_and_bad_ranges_are_refused() {
        let t = tcp(
            "10.0.0.2",
            1,
            "198.51.100.7",
            21,
            "PA",
            7,
            9,
            b"PORT abcd\r\n",
        );
        assert_eq!(
            splice(&t, t.len() + 3, 5..9, b"longer-text"),
            Err(AlgError::NoRoom)
        );
        assert!(splice(&t, t.len(), 5..9, b"same").is_ok());
        assert!(matches!(
            splice(&t, 2048, 5..99, b"x"),
            Err(AlgError::Malformed(_))
        ));
    }
}

/// A logged parent's children are logged too: the data connection an ALG admits opens
/// and closes with the parent's ALG as its application (Junos JSERVICES_SESSION_OPEN).
#[test]
fn children_of_a_logged_parent_are_logged() {
    let text = config(
        "term ftp { from { source-address { 10.0.0.0/24; } applications junos-ftp; } then { accept; syslog; } }",
        "",
    )
    .replace(
        "    service-set ss {\n",
        "    service-set ss {\n        syslog { host 192.0.2.9 { class { session-logs open; } } }\n",
    );
    let c = mspic_config::parse(&text, "t").unwrap();
    let policy = Arc::new(Policy::compile(&c).unwrap());
    let mut shard = Shard::with_algs(
        ShardConfig::default(),
        Arc::clone(&policy),
        Arc::new(Registry),
    );
    let now = mspic_flow::Time::from_secs(5);
    let mut send = |ingress: u16, f: &[u8]| {
        let mut buf = vec![0u8; 2048];
        buf[..f.len()].copy_from_slice(f);
        let mut fr = Frame::new(&mut buf, f.len());
        shard.process(now, IfIndex(ingress), &mut fr);
        let msgs: Vec<_> = shard.drain_outbox().collect();
        for m in msgs {
            shard.deliver(m);
        }
    };
    send(
        0,
        &tcp("10.0.0.2", 40000, "198.51.100.7", 21, "S", 1, 0, b""),
    );
    send(
        1,
        &tcp("198.51.100.7", 21, "10.0.0.2", 40000, "SA", 9, 2, b""),
    );
    send(
        0,
        &tcp(
            "10.0.0.2",
            40000,
            "198.51.100.7",
            21,
            "PA",
            2,
            10,
            b"open 5001",
        ),
    );
    send(
        1,
        &tcp("198.51.100.7", 20, "10.0.0.2", 5001, "S", 1, 0, b""),
    );
    let lines: Vec<String> = shard
        .drain_logs()
        .map(|e| {
            let mut s = String::new();
            mspic_flow::syslog::message(&mut s, &*policy, &e);
            s
        })
        .collect();
    assert_eq!(
        lines,
        [
            "JSERVICES_SESSION_OPEN: application:ftp, ge-0/0/0.0 10.0.0.2:40000 -> 198.51.100.7:21 (TCP)",
            "JSERVICES_SESSION_OPEN: application:ftp, ge-0/0/1.0 198.51.100.7:20 -> 10.0.0.2:5001 (TCP)",
        ]
    );
}

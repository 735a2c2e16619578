//! RTSP through a shard: the client's ports rewritten under NAPT (with the sequence
//! correction), RTP/RTCP admitted through the pinholes, interleaved mode untouched, bodies
//! running over several segments, hostile messages refused.

mod common;

use common::*;
use mspic_config::AppProtocol;
use mspic_flow::{DropReason, Verdict, FLAG_ALG_CHILD, FLAG_ALG_PARENT, FLAG_NAT};

const C: &str = "10.0.0.2";
const S: &str = "198.51.100.7";
const P: &str = "203.0.113.128";

fn setup(transport: &str, cseq: u32) -> Vec<u8> {
    format!(
        "SETUP rtsp://{S}/media/track1 RTSP/1.0\r\nCSeq: {cseq}\r\nTransport: {transport}\r\n\r\n"
    )
    .into_bytes()
}

fn reply(transport: &str, cseq: u32) -> Vec<u8> {
    format!(
        "RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nSession: 12345678\r\nTransport: {transport}\r\n\r\n"
    )
    .into_bytes()
}

/// A connection from C:40000 to S:554, set up; returns the cluster.
fn connected(cfg: &str) -> Cluster {
    let mut c = Cluster::one(cfg);
    c.pass(&tcp((C, 40000), (S, 554), "S", 100, 0, b""));
    let to = if cfg.contains("snat") {
        (P, 1024)
    } else {
        (C, 40000)
    };
    c.pass(&tcp((S, 554), to, "SA", 500, 101, b""));
    c
}

#[test]
fn setup_under_napt_rewrites_the_client_ports_and_admits_the_media() {
    let mut c = connected(&napt());
    let req = setup("RTP/AVP;unicast;client_port=50000-50001", 3);
    let f = tcp((C, 40000), (S, 554), "PA", 101, 501, &req);
    let want = setup("RTP/AVP;unicast;client_port=1024-1025", 3);
    assert_eq!(
        c.pass(&f),
        tcp_out((P, 1024), (S, 554), "PA", 101, 501, &want, &f)
    );
    // The reply names the mapped ports; the client reads its own, and the server's ack is
    // brought back to the client's numbering.
    let rep = reply(
        "RTP/AVP;unicast;client_port=1024-1025;server_port=6256-6257",
        3,
    );
    let f = tcp(
        (S, 554),
        (P, 1024),
        "PA",
        501,
        101 + want.len() as u32,
        &rep,
    );
    let back = reply(
        "RTP/AVP;unicast;client_port=50000-50001;server_port=6256-6257",
        3,
    );
    let out = c.pass(&f);
    let (p, seq, ack, _) = tcp_parts(&out);
    assert_eq!((p, seq, ack), (back.clone(), 501, 101 + req.len() as u32));
    // RTP and RTCP from the server reach the client's ports; the client answers.
    let rtp = udp((S, 6256), (P, 1024), b"\x80rtp");
    assert_eq!(
        c.pass(&rtp),
        udp_out((S, 6256), (C, 50000), b"\x80rtp", &rtp)
    );
    let rtcp = udp((S, 6257), (P, 1025), b"\x80\xc8sr");
    assert_eq!(
        c.pass(&rtcp),
        udp_out((S, 6257), (C, 50001), b"\x80\xc8sr", &rtcp)
    );
    let rr = udp((C, 50001), (S, 6257), b"\x80\xc9rr");
    assert_eq!(
        c.pass(&rr),
        udp_out((P, 1025), (S, 6257), b"\x80\xc9rr", &rr)
    );
    let s = c.sessions();
    assert_eq!(s.len(), 3);
    assert_eq!(s[0].flags, FLAG_ALG_PARENT | FLAG_NAT);
    for ch in &s[1..] {
        assert_eq!(ch.flags, FLAG_ALG_CHILD | FLAG_NAT);
        assert_eq!(
            (ch.alg, ch.parent),
            (Some(AppProtocol::Rtsp), Some(s[0].id))
        );
    }
    // A retransmitted SETUP is rewritten the same way and opens nothing new.
    let created = c.stats().alg.pinholes_created;
    let f = tcp(
        (C, 40000),
        (S, 554),
        "PA",
        101,
        501 + back.len() as u32,
        &req,
    );
    let (p, _, _, _) = tcp_parts(&c.pass(&f));
    assert_eq!(p, want);
    assert_eq!(c.stats().alg.pinholes_created, created);
}

/// The client sends first from its RTP port to the server's (GStreamer's `rtspsrc` does,
/// to open its own firewall): it leaves from the pool port the server was told, and the
/// server's RTP to that port then reaches it, in the same child session.
#[test]
fn a_client_sending_first_keeps_the_told_port() {
    let mut c = connected(&napt());
    let req = setup("RTP/AVP;unicast;client_port=50000-50001", 3);
    let want = setup("RTP/AVP;unicast;client_port=1024-1025", 3);
    c.pass(&tcp((C, 40000), (S, 554), "PA", 101, 501, &req));
    let rep = reply(
        "RTP/AVP;unicast;client_port=1024-1025;server_port=6256-6257",
        3,
    );
    let ack = 101 + want.len() as u32;
    c.pass(&tcp((S, 554), (P, 1024), "PA", 501, ack, &rep));
    let punch = udp((C, 50000), (S, 6256), b"\xce\xfa\xed\xfe");
    assert_eq!(
        c.pass(&punch),
        udp_out((P, 1024), (S, 6256), b"\xce\xfa\xed\xfe", &punch)
    );
    let rtp = udp((S, 6256), (P, 1024), b"\x80rtp");
    assert_eq!(
        c.pass(&rtp),
        udp_out((S, 6256), (C, 50000), b"\x80rtp", &rtp)
    );
    let s = c.sessions();
    assert_eq!(s.len(), 2, "{s:?}");
    assert_eq!(s[1].flags, FLAG_ALG_CHILD | FLAG_NAT);
}

#[test]
fn without_nat_the_ports_stay_and_the_media_is_admitted() {
    let mut c = connected(&config("", ""));
    let req = setup("RTP/AVP;unicast;client_port=50000-50001", 3);
    let f = tcp((C, 40000), (S, 554), "PA", 101, 501, &req);
    assert_eq!(
        c.pass(&f),
        tcp_out((C, 40000), (S, 554), "PA", 101, 501, &req, &f)
    );
    let rtp = udp((S, 6256), (C, 50000), b"rtp");
    c.pass(&rtp);
    assert_eq!(c.sessions()[1].flags, FLAG_ALG_CHILD);
}

#[test]
fn interleaved_transport_and_data_pass_untouched() {
    let mut c = connected(&napt());
    let req = setup("RTP/AVP/TCP;unicast;interleaved=0-1", 3);
    let f = tcp((C, 40000), (S, 554), "PA", 101, 501, &req);
    assert_eq!(
        c.pass(&f),
        tcp_out((P, 1024), (S, 554), "PA", 101, 501, &req, &f)
    );
    // Interleaved frames, then a message in the same segment: the message is still seen.
    let mut seg = b"$\x00\x00\x04abcd$\x01\x00\x02xy".to_vec();
    let rep = reply("RTP/AVP/TCP;unicast;interleaved=0-1", 3);
    seg.extend_from_slice(&rep);
    let f = tcp((S, 554), (P, 1024), "PA", 501, 101 + req.len() as u32, &seg);
    let (p, _, _, _) = tcp_parts(&c.pass(&f));
    assert_eq!(p, seg);
    let next = 101 + req.len() as u32;
    let req2 = setup("RTP/AVP;unicast;client_port=50000-50001", 4);
    let (p, _, _, _) = tcp_parts(&c.pass(&tcp((C, 40000), (S, 554), "PA", next, 501, &req2)));
    assert_eq!(p, setup("RTP/AVP;unicast;client_port=1024-1025", 4));
    assert_eq!(c.sessions().len(), 1);
}

#[test]
fn a_body_over_several_segments_passes_and_the_next_message_is_inspected() {
    let mut c = connected(&napt());
    let sdp = "v=0\r\n".repeat(400);
    let head = format!(
        "RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n",
        sdp.len()
    );
    let whole = [head.as_bytes(), sdp.as_bytes()].concat();
    let (a, b) = whole.split_at(1000);
    c.pass(&tcp((S, 554), (P, 1024), "PA", 501, 101, a));
    c.pass(&tcp((S, 554), (P, 1024), "PA", 501 + 1000, 101, b));
    // After the body: a reply with a Transport header, rewritten back.
    let req = setup("RTP/AVP;unicast;client_port=50000-50001", 3);
    let s1 = 501 + whole.len() as u32;
    c.pass(&tcp((C, 40000), (S, 554), "PA", 101, s1, &req));
    let rep = reply(
        "RTP/AVP;unicast;client_port=1024-1025;server_port=6256-6257",
        3,
    );
    let (p, _, _, _) = tcp_parts(&c.pass(&tcp((S, 554), (P, 1024), "PA", s1, 99, &rep)));
    assert_eq!(
        p,
        reply(
            "RTP/AVP;unicast;client_port=50000-50001;server_port=6256-6257",
            3
        )
    );
}

#[test]
fn hostile_messages_are_refused_and_counted() {
    let mut c = connected(&napt());
    let mut long = b"SETUP rtsp://s/a RTSP/1.0\r\nX: ".to_vec();
    long.resize(10_000, b'a');
    long.extend_from_slice(b"\r\n\r\n");
    let bad: Vec<Vec<u8>> = vec![
        long,
        b"\xff\xfe garbage\r\n\r\n".to_vec(),
        setup("RTP/AVP;unicast;client_port=99999-100000", 3),
        setup("RTP/AVP;unicast;client_port=0", 3),
        setup("a,b,c,d,e", 3),
        b"SETUP rtsp://s/a RTSP/1.0\r\nContent-Length: 99999999999\r\n\r\n".to_vec(),
    ];
    for (i, m) in bad.iter().enumerate() {
        let (v, _) = c.send(&tcp((C, 40000), (S, 554), "PA", 101, 501, m));
        assert_eq!(v, Verdict::Drop(DropReason::Alg), "message {i}");
    }
    assert_eq!(c.stats().alg.malformed, bad.len() as u64);
    // A head cut by the segment's end waits for the retransmission.
    let (v, _) = c.send(&tcp(
        (C, 40000),
        (S, 554),
        "PA",
        101,
        501,
        b"SETUP rtsp://s/a RTSP/1.0\r\nTrans",
    ));
    assert_eq!(v, Verdict::Drop(DropReason::Alg));
    assert_eq!(c.stats().alg.partial_lines, 1);
    // Media sent to another host is refused.
    let m = setup(
        "RTP/AVP;unicast;destination=10.0.0.9;client_port=5000-5001",
        3,
    );
    let (v, _) = c.send(&tcp((C, 40000), (S, 554), "PA", 101, 501, &m));
    assert_eq!(v, Verdict::Drop(DropReason::Alg));
    assert_eq!(c.stats().alg.third_host, 1);
    // The client's own destination is rewritten.
    let m = setup(
        "RTP/AVP;unicast;destination=10.0.0.2;client_port=5000-5001",
        3,
    );
    let (p, _, _, _) = tcp_parts(&c.pass(&tcp((C, 40000), (S, 554), "PA", 101, 501, &m)));
    assert_eq!(
        p,
        setup(
            "RTP/AVP;unicast;destination=203.0.113.128;client_port=1024-1025",
            3
        )
    );
}

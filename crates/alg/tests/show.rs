//! What the operator sees of an active FTP transfer and SIP call through napt-44: the engine's own
//! sessions and counters rendered by the control plane (`show services sessions`,
//! `show services alg conversations`, `show services stateful-firewall statistics`).

mod common;

use common::*;
use mspic_control::{execute, SnapshotBackend};

const C: &str = "10.0.0.2";
const S: &str = "198.51.100.7";
const P: &str = "203.0.113.128";

fn show(c: &Cluster, cmd: &str) -> String {
    let mut sfw = Vec::new();
    for s in &c.shards {
        sfw.extend(s.sfw_statistics());
    }
    let mut b = SnapshotBackend {
        sessions: c.sessions(),
        sfw,
    };
    execute(cmd, &mut b).unwrap_or_else(|e| panic!("{cmd}: {e}"))
}

#[test]
fn active_ftp_transfer_as_the_operator_sees_it() {
    let mut c = Cluster::one(&napt());
    c.pass(&tcp((C, 40000), (S, 21), "S", 100, 0, b""));
    c.pass(&tcp((S, 21), (P, 1024), "SA", 500, 101, b""));
    c.pass(&tcp(
        (C, 40000),
        (S, 21),
        "PA",
        101,
        501,
        b"PORT 10,0,0,2,156,65\r\n",
    ));
    c.pass(&tcp((S, 20), (P, 1025), "S", 9000, 0, b""));
    c.pass(&tcp((C, 40001), (S, 20), "SA", 7000, 9001, b""));
    let sessions = show(&c, "show services sessions");
    assert_eq!(
        sessions,
        "\
ms-1/1/0
Session: 2, ALG: ftp, Flags: 0x0880, IP Action: no, Offload: no, Asymmetric: no
TCP       198.51.100.7:20    ->  203.0.113.128:1025  Forward  O               1
TCP           10.0.0.2:40001 ->   198.51.100.7:20    Forward  I               1
Session: 1, ALG: ftp, Flags: 0x2080, IP Action: no, Offload: no, Asymmetric: no
TCP           10.0.0.2:40000 ->   198.51.100.7:21    Watch    I               2
TCP       198.51.100.7:21    ->  203.0.113.128:1024  Watch    O               1
"
    );
    let conv = show(&c, "show services alg conversations");
    assert_eq!(
        conv,
        "\
Interface name: ms-1/1/0
ALG : FTP ALG, State : active
Number of conversations: 1
Parent session status: active
Parent session : 1, protocol: TCP
Forward Flow : {10.0.0.2:40000 -> 198.51.100.7:21}
Reverse Flow : {198.51.100.7:21 -> 203.0.113.128:1024}
Child session : 2, protocol: TCP
Forward Flow : {10.0.0.2:40001 -> 198.51.100.7:20}
Reverse Flow : {198.51.100.7:20 -> 203.0.113.128:1025}
"
    );
    // The child's translation is described from the client's side, as the parent's is.
    let ext = show(&c, "show services sessions extensive");
    assert!(
        ext.contains(
            "Session: 2, ALG: ftp, Flags: 0x0880, IP Action: no, Offload: no, Asymmetric: no\n\
             NAT PLugin Data:\n  NAT Action:   Translation Type - NAPT-44\n    \
             NAT source        10.0.0.2:40001   ->   203.0.113.128:1025\n"
        ),
        "{ext}"
    );
    let stats = show(&c, "show services stateful-firewall statistics extensive");
    assert!(
        stats.contains("  ALG pinholes:\n    Created: 1, Used: 1\n"),
        "{stats}"
    );
    assert!(
        stats.contains("    Segments with a length change: 1\n"),
        "{stats}"
    );
}

#[test]
fn active_sip_call_as_the_operator_sees_it() {
    let mut c = Cluster::one(&napt());
    let sdp = |a: &str, port: u16| {
        format!("v=0\r\no=- 1 1 IN IP4 {a}\r\ns=-\r\nc=IN IP4 {a}\r\nt=0 0\r\nm=audio {port} RTP/AVP 0\r\n")
    };
    let msg = |start: &str, via: &str, me: &str, cseq: &str, body: &str| {
        format!(
            "{start}\r\nVia: SIP/2.0/UDP {via};branch=z9hG4bK1\r\nFrom: <sip:alice@{me}>;tag=1\r\nTo: <sip:bob@{S}>\r\nCall-ID: 1@{me}\r\nCSeq: {cseq}\r\nContact: <sip:alice@{via}>\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    };
    c.pass(&udp(
        (C, 5060),
        (S, 5060),
        &msg(
            &format!("INVITE sip:bob@{S} SIP/2.0"),
            C,
            C,
            "1 INVITE",
            &sdp(C, 49170),
        ),
    ));
    let pub_ep = format!("{P}:1024");
    c.pass(&udp(
        (S, 5060),
        (P, 1024),
        &msg("SIP/2.0 200 OK", &pub_ep, P, "1 INVITE", &sdp(S, 3456)),
    ));
    c.pass(&udp((S, 3456), (P, 1026), b"rtp"));
    c.pass(&udp((C, 49170), (S, 3456), b"rtp"));
    let sessions = show(&c, "show services sessions");
    assert_eq!(
        sessions,
        "\
ms-1/1/0
Session: 2, ALG: sip, Flags: 0x0880, IP Action: no, Offload: no, Asymmetric: no
UDP       198.51.100.7:3456  ->  203.0.113.128:1026  Forward  O               1
UDP           10.0.0.2:49170 ->   198.51.100.7:3456  Forward  I               1
Session: 1, ALG: sip, Flags: 0x2080, IP Action: no, Offload: no, Asymmetric: no
UDP           10.0.0.2:5060  ->   198.51.100.7:5060  Watch    I               1
UDP       198.51.100.7:5060  ->  203.0.113.128:1024  Watch    O               1
"
    );
    let conv = show(&c, "show services alg conversations");
    assert_eq!(
        conv,
        "\
Interface name: ms-1/1/0
ALG : SIP ALG, State : active
Number of conversations: 1
Parent session status: active
Parent session : 1, protocol: UDP
Forward Flow : {10.0.0.2:5060 -> 198.51.100.7:5060}
Reverse Flow : {198.51.100.7:5060 -> 203.0.113.128:1024}
Child session : 2, protocol: UDP
Forward Flow : {10.0.0.2:49170 -> 198.51.100.7:3456}
Reverse Flow : {198.51.100.7:3456 -> 203.0.113.128:1026}
"
    );
}

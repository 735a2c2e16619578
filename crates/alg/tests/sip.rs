//! SIP through a shard: headers and SDP rewritten under NAPT, media pinholes both ways, the
//! call's end closing the session and its media, registration, TCP, hostile messages.
//! Expected messages are written out here from templates (independent of the ALG's code).

mod common;

use common::*;
use mspic_config::AppProtocol;
use mspic_flow::{DropReason, Verdict, FLAG_ALG_CHILD, FLAG_ALG_PARENT, FLAG_NAT};

const C: &str = "10.0.0.2";
const S: &str = "198.51.100.7";
const P: &str = "203.0.113.128";

/// The SDP of an agent at `addr` with one audio stream on `port` (and extra lines).
fn sdp(addr: &str, port: u16, extra: &str) -> String {
    format!(
        "v=0\r\no=user 2890844526 2890844526 IN IP4 {addr}\r\ns=-\r\nc=IN IP4 {addr}\r\nt=0 0\r\nm=audio {port} RTP/AVP 0\r\n{extra}a=rtpmap:0 PCMU/8000\r\n"
    )
}

/// A message: start line, headers (with Call-ID host `cid`), optional SDP body.
fn msg(start: &str, headers: &[String], body: &str) -> Vec<u8> {
    let mut m = format!("{start}\r\n");
    for h in headers {
        m.push_str(h);
        m.push_str("\r\n");
    }
    if !body.is_empty() {
        m.push_str("Content-Type: application/sdp\r\n");
    }
    m.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    m.into_bytes()
}

/// The INVITE of alice at `me` (`me_port`: written after the address when not 5060).
fn invite(me: &str, contact: &str, media: &str, port: u16) -> Vec<u8> {
    msg(
        &format!("INVITE sip:bob@{S} SIP/2.0"),
        &[
            format!("Via: SIP/2.0/UDP {contact};branch=z9hG4bK776asdhds"),
            "Max-Forwards: 70".into(),
            format!("To: Bob <sip:bob@{S}>"),
            format!("From: Alice <sip:alice@{me}>;tag=1928301774"),
            format!("Call-ID: a84b4c76e66710@{me}"),
            "CSeq: 314159 INVITE".into(),
            format!("Contact: <sip:alice@{contact}>"),
        ],
        &sdp(media, port, ""),
    )
}

/// A response of bob for `method` (to alice at `me`, Via sent-by `via`).
fn response(code: &str, method: &str, me: &str, via: &str, body: &str) -> Vec<u8> {
    msg(
        &format!("SIP/2.0 {code}"),
        &[
            format!("Via: SIP/2.0/UDP {via};branch=z9hG4bK776asdhds"),
            format!("To: Bob <sip:bob@{S}>;tag=a6c85cf"),
            format!("From: Alice <sip:alice@{me}>;tag=1928301774"),
            format!("Call-ID: a84b4c76e66710@{me}"),
            format!("CSeq: 314159 {method}"),
            format!("Contact: <sip:bob@{S}>"),
        ],
        body,
    )
}

fn request(method: &str, me: &str, via: &str, cseq: u32) -> Vec<u8> {
    msg(
        &format!("{method} sip:bob@{S} SIP/2.0"),
        &[
            format!("Via: SIP/2.0/UDP {via};branch=z9hG4bK{cseq}"),
            format!("To: Bob <sip:bob@{S}>;tag=a6c85cf"),
            format!("From: Alice <sip:alice@{me}>;tag=1928301774"),
            format!("Call-ID: a84b4c76e66710@{me}"),
            format!("CSeq: {cseq} {method}"),
        ],
        "",
    )
}

fn no_inside_address(frame: &[u8]) {
    let text = String::from_utf8_lossy(frame);
    assert!(!text.contains("10.0.0."), "inside address leaks: {text}");
}

#[test]
fn a_call_under_napt_rewrites_signalling_and_sdp_and_admits_media_both_ways() {
    let mut c = Cluster::one(&napt());
    // INVITE: the agent's endpoint is the session's mapping (implied port 5060 written
    // out), the media ports reserved as a pair: RTP even, RTCP the next (RFC 3550 §11).
    let f = udp((C, 5060), (S, 5060), &invite(C, C, C, 49170));
    let out = c.pass(&f);
    let want = invite(P, &format!("{P}:1024"), P, 1026);
    assert_eq!(out, udp_out((P, 1024), (S, 5060), &want, &f));
    no_inside_address(&out);
    // 180 and 200 with bob's SDP: the reverse rewrite, pinholes towards bob's media.
    let ringing = udp(
        (S, 5060),
        (P, 1024),
        &response("180 Ringing", "INVITE", P, &format!("{P}:1024"), ""),
    );
    assert_eq!(
        c.pass(&ringing),
        udp_out(
            (S, 5060),
            (C, 5060),
            &response("180 Ringing", "INVITE", C, &format!("{C}:5060"), ""),
            &ringing
        )
    );
    let ok = response(
        "200 OK",
        "INVITE",
        P,
        &format!("{P}:1024"),
        &sdp(S, 3456, ""),
    );
    let f = udp((S, 5060), (P, 1024), &ok);
    let want = response(
        "200 OK",
        "INVITE",
        C,
        &format!("{C}:5060"),
        &sdp(S, 3456, ""),
    );
    assert_eq!(c.pass(&f), udp_out((S, 5060), (C, 5060), &want, &f));
    let ack = udp((C, 5060), (S, 5060), &request("ACK", C, C, 314159));
    assert_eq!(
        c.pass(&ack),
        udp_out(
            (P, 1024),
            (S, 5060),
            &request("ACK", P, &format!("{P}:1024"), 314159),
            &ack
        )
    );
    // Bob's RTP and RTCP reach alice's ports through the pinholes; hers go back alike.
    let rtp = udp((S, 3456), (P, 1026), b"\x80\x00rtp");
    assert_eq!(
        c.pass(&rtp),
        udp_out((S, 3456), (C, 49170), b"\x80\x00rtp", &rtp)
    );
    let back = udp((C, 49170), (S, 3456), b"\x80\x00rtp");
    assert_eq!(
        c.pass(&back),
        udp_out((P, 1026), (S, 3456), b"\x80\x00rtp", &back)
    );
    let rtcp = udp((S, 3457), (P, 1027), b"\x80\xc8rtcp");
    assert_eq!(
        c.pass(&rtcp),
        udp_out((S, 3457), (C, 49171), b"\x80\xc8rtcp", &rtcp)
    );
    let s = c.sessions();
    assert_eq!(s.len(), 3);
    assert_eq!(s[0].flags, FLAG_ALG_PARENT | FLAG_NAT);
    for child in &s[1..] {
        assert_eq!(child.flags, FLAG_ALG_CHILD | FLAG_NAT);
        assert_eq!(
            (child.alg, child.parent),
            (Some(AppProtocol::Sip), Some(s[0].id))
        );
    }
    // BYE and its 200: the call is over, the session closes with its media.
    c.pass(&udp((C, 5060), (S, 5060), &request("BYE", C, C, 314160)));
    assert_eq!(c.sessions().len(), 3);
    let bye_ok = udp(
        (S, 5060),
        (P, 1024),
        &response("200 OK", "BYE", P, &format!("{P}:1024"), ""),
    );
    c.pass(&bye_ok);
    assert!(c.sessions().is_empty(), "{:?}", c.sessions());
    assert_eq!(c.stats().alg.closed_by_response, 1);
}

/// `msg` as the message of another call (another Call-ID of the same length).
fn other_call(msg: &[u8]) -> Vec<u8> {
    String::from_utf8(msg.to_vec())
        .unwrap()
        .replace("a84b4c76e66710", "b99c5d87f77821")
        .into_bytes()
}

#[test]
fn the_end_of_one_call_closes_its_media_and_no_other() {
    let mut c = Cluster::one(&napt());
    let pub_ep = format!("{P}:1024");
    // Call A offers 49170 (told 1026/1027), call B 49180 (told 1028/1029).
    c.pass(&udp((C, 5060), (S, 5060), &invite(C, C, C, 49170)));
    let ok_a = response("200 OK", "INVITE", P, &pub_ep, &sdp(S, 3456, ""));
    c.pass(&udp((S, 5060), (P, 1024), &ok_a));
    c.pass(&udp((C, 5060), (S, 5060), &request("ACK", C, C, 314159)));
    let f = udp((C, 5060), (S, 5060), &other_call(&invite(C, C, C, 49180)));
    let want = other_call(&invite(P, &pub_ep, P, 1028));
    assert_eq!(c.pass(&f), udp_out((P, 1024), (S, 5060), &want, &f));
    let ok_b = other_call(&response("200 OK", "INVITE", P, &pub_ep, &sdp(S, 3460, "")));
    c.pass(&udp((S, 5060), (P, 1024), &ok_b));
    c.pass(&udp((S, 3456), (P, 1026), b"rtp-a"));
    c.pass(&udp((S, 3460), (P, 1028), b"rtp-b"));
    assert_eq!(c.sessions().len(), 3);
    // A ends: its RTP child and its unused RTCP pinhole go, B's media stays.
    c.pass(&udp((C, 5060), (S, 5060), &request("BYE", C, C, 314160)));
    let bye_ok = response("200 OK", "BYE", P, &pub_ep, "");
    c.pass(&udp((S, 5060), (P, 1024), &bye_ok));
    let s = c.sessions();
    assert_eq!(s.len(), 2, "{s:?}");
    assert_eq!(s[1].flows[0].src.port, Some(3460), "{s:?}");
    let rtcp_a = udp((S, 3457), (P, 1027), b"rtcp-a");
    assert_eq!(c.send(&rtcp_a).0, Verdict::Drop(DropReason::NatNoSession));
    let rtp_a = udp((S, 3456), (P, 1026), b"rtp-a");
    assert_eq!(c.send(&rtp_a).0, Verdict::Drop(DropReason::NatNoSession));
    let rtcp_b = udp((S, 3461), (P, 1029), b"rtcp-b");
    assert_eq!(
        c.pass(&rtcp_b),
        udp_out((S, 3461), (C, 49181), b"rtcp-b", &rtcp_b)
    );
    assert!(c.stats().alg.closed_with_parent >= 2);
}

#[test]
fn a_rejected_reinvite_keeps_the_call_and_a_rejected_invite_ends_it() {
    let mut c = Cluster::one(&napt());
    let pub_ep = format!("{P}:1024");
    c.pass(&udp((C, 5060), (S, 5060), &invite(C, C, C, 49170)));
    let ok = response("200 OK", "INVITE", P, &pub_ep, &sdp(S, 3456, ""));
    c.pass(&udp((S, 5060), (P, 1024), &ok));
    c.pass(&udp((C, 5060), (S, 5060), &request("ACK", C, C, 314159)));
    c.pass(&udp((S, 3456), (P, 1026), b"rtp"));
    // A re-INVITE (same Call-ID) refused with 488: the media stays.
    c.pass(&udp((C, 5060), (S, 5060), &invite(C, C, C, 49170)));
    let refused = response("488 Not Acceptable Here", "INVITE", P, &pub_ep, "");
    c.pass(&udp((S, 5060), (P, 1024), &refused));
    assert_eq!(c.sessions().len(), 2);
    let rtcp = udp((S, 3457), (P, 1027), b"rtcp");
    assert_eq!(
        c.pass(&rtcp),
        udp_out((S, 3457), (C, 49171), b"rtcp", &rtcp)
    );
    // Another call refused before any answer: its pinholes go at once.
    let f = udp((C, 5060), (S, 5060), &other_call(&invite(C, C, C, 49180)));
    c.pass(&f);
    let busy = other_call(&response("486 Busy Here", "INVITE", P, &pub_ep, ""));
    c.pass(&udp((S, 5060), (P, 1024), &busy));
    let late = udp((S, 3460), (P, 1028), b"rtp");
    assert_eq!(c.send(&late).0, Verdict::Drop(DropReason::NatNoSession));
    assert_eq!(c.sessions().len(), 3);
}

#[test]
fn outside_media_opens_pinholes_from_the_agent() {
    let mut c = Cluster::one(&napt());
    c.pass(&udp((C, 5060), (S, 5060), &invite(C, C, C, 49170)));
    let ok = response(
        "200 OK",
        "INVITE",
        P,
        &format!("{P}:1024"),
        &sdp("198.51.100.9", 4000, ""),
    );
    c.pass(&udp((S, 5060), (P, 1024), &ok));
    // Alice sends first, to the media server bob named: a child of the call.
    c.pass(&udp((C, 49170), ("198.51.100.9", 4000), b"rtp"));
    let s = c.sessions();
    assert_eq!(s.len(), 2);
    assert_eq!(
        (s[1].flags & FLAG_ALG_CHILD, s[1].parent),
        (FLAG_ALG_CHILD, Some(s[0].id))
    );
}

#[test]
fn the_agent_sending_first_uses_the_mapping_its_offer_named() {
    let mut c = Cluster::one(&napt());
    c.pass(&udp((C, 5060), (S, 5060), &invite(C, C, C, 49170)));
    // The answer names a media server other than the SIP server.
    let ok = response(
        "200 OK",
        "INVITE",
        P,
        &format!("{P}:1024"),
        &sdp("198.51.100.9", 4000, ""),
    );
    c.pass(&udp((S, 5060), (P, 1024), &ok));
    // Alice's RTP and RTCP leave from the pool ports her offer named (1026, 1027).
    let rtp = udp((C, 49170), ("198.51.100.9", 4000), b"\x80\x00rtp");
    assert_eq!(
        c.pass(&rtp),
        udp_out((P, 1026), ("198.51.100.9", 4000), b"\x80\x00rtp", &rtp)
    );
    let rtcp = udp((C, 49171), ("198.51.100.9", 4001), b"\x80\xc8rtcp");
    assert_eq!(
        c.pass(&rtcp),
        udp_out((P, 1027), ("198.51.100.9", 4001), b"\x80\xc8rtcp", &rtcp)
    );
    // The media server's answers come back through the same children.
    let back = udp(("198.51.100.9", 4000), (P, 1026), b"\x80\x00rtp");
    assert_eq!(
        c.pass(&back),
        udp_out(("198.51.100.9", 4000), (C, 49170), b"\x80\x00rtp", &back)
    );
    let s = c.sessions();
    assert_eq!(s.len(), 3, "{s:?}");
    for child in &s[1..] {
        assert_eq!(
            (child.flags, child.parent),
            (FLAG_ALG_CHILD | FLAG_NAT, Some(s[0].id))
        );
    }
}

#[test]
fn media_from_another_host_than_the_sip_server_reaches_the_agent() {
    let mut c = Cluster::one(&napt());
    c.pass(&udp((C, 5060), (S, 5060), &invite(C, C, C, 49170)));
    // A media gateway the signalling never named sends to the offered port first.
    let rtp = udp(("198.51.100.20", 30000), (P, 1026), b"\x80\x00rtp");
    assert_eq!(
        c.pass(&rtp),
        udp_out(("198.51.100.20", 30000), (C, 49170), b"\x80\x00rtp", &rtp)
    );
    // Another port of the pool stays closed.
    let stray = udp(("198.51.100.20", 30000), (P, 1028), b"\x80\x00rtp");
    assert_eq!(c.send(&stray).0, Verdict::Drop(DropReason::NatNoSession));
}

#[test]
fn without_nat_nothing_changes_and_media_is_admitted() {
    let mut c = Cluster::one(&config("", ""));
    let inv = invite(C, C, C, 49170);
    let f = udp((C, 5060), (S, 5060), &inv);
    assert_eq!(c.pass(&f), udp_out((C, 5060), (S, 5060), &inv, &f));
    let rtp = udp((S, 3456), (C, 49170), b"rtp");
    assert_eq!(c.pass(&rtp), udp_out((S, 3456), (C, 49170), b"rtp", &rtp));
    let rtcp = udp((S, 3457), (C, 49171), b"rtcp");
    c.pass(&rtcp);
    assert_eq!(c.sessions().len(), 3);
    // A port that was not announced stays closed.
    let (v, _) = c.send(&udp((S, 3456), (C, 49172), b"rtp"));
    assert!(matches!(v, Verdict::Drop(_)), "{v:?}");
}

#[test]
fn rtcp_elsewhere_than_rtp_plus_one_gets_an_rtcp_attribute() {
    // Two shards own alternate ports: the RTCP reservation is not RTP + 1.
    let mut c = Cluster::new(&napt(), 2);
    let out = c.pass(&udp((C, 5060), (S, 5060), &invite(C, C, C, 49170)));
    let (_, payload) = split_udp(&out);
    let text = String::from_utf8(payload).unwrap();
    let port = |key: &str| -> u16 {
        let at = text.find(key).unwrap_or_else(|| panic!("{key} in {text}")) + key.len();
        text[at..]
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let (rtp, rtcp) = (port("m=audio "), port("a=rtcp:"));
    assert_ne!(rtcp, rtp + 1);
    let body = &text[text.find("\r\n\r\n").unwrap() + 4..];
    assert_eq!(port("Content-Length: ") as usize, body.len());
    assert!(body.ends_with(&format!("a=rtpmap:0 PCMU/8000\r\na=rtcp:{rtcp}\r\n")));
    no_inside_address(&out);
    let f = udp((S, 3457), (P, rtcp), b"rtcp");
    assert_eq!(c.pass(&f), udp_out((S, 3457), (C, 49171), b"rtcp", &f));
    let f = udp((S, 3456), (P, rtp), b"rtp");
    assert_eq!(c.pass(&f), udp_out((S, 3456), (C, 49170), b"rtp", &f));
}

#[test]
fn registration_opens_the_contact_to_the_registrar() {
    let mut c = Cluster::one(&napt());
    let reg = |me: &str, contact: &str| {
        msg(
            &format!("REGISTER sip:{S} SIP/2.0"),
            &[
                format!("Via: SIP/2.0/UDP {contact};branch=z9hG4bKnashds7"),
                format!("To: Alice <sip:alice@{S}>"),
                format!("From: Alice <sip:alice@{S}>;tag=456248"),
                format!("Call-ID: 843817637684230@{me}"),
                "CSeq: 1826 REGISTER".into(),
                format!("Contact: <sip:alice@{contact}>;expires=600"),
            ],
            "",
        )
    };
    let f = udp((C, 5060), (S, 5060), &reg(C, C));
    let want = reg(P, &format!("{P}:1024"));
    assert_eq!(c.pass(&f), udp_out((P, 1024), (S, 5060), &want, &f));
    let ok = |contact: &str| {
        msg(
            "SIP/2.0 200 OK",
            &[
                format!("Via: SIP/2.0/UDP {contact};branch=z9hG4bKnashds7"),
                format!("To: Alice <sip:alice@{S}>;tag=37GkEhwl6"),
                format!("From: Alice <sip:alice@{S}>;tag=456248"),
                "Call-ID: 843817637684230@198.51.100.7".into(),
                "CSeq: 1826 REGISTER".into(),
                format!("Contact: <sip:alice@{contact}>;expires=300"),
            ],
            "",
        )
    };
    let f = udp((S, 5060), (P, 1024), &ok(&format!("{P}:1024")));
    assert_eq!(
        c.pass(&f),
        udp_out((S, 5060), (C, 5060), &ok(&format!("{C}:5060")), &f)
    );
    // The registrar's INVITE from another port reaches the contact.
    let inv = request("INVITE", S, "198.51.100.7:5070", 1);
    let f = udp((S, 5070), (P, 1024), &inv);
    assert_eq!(c.pass(&f), udp_out((S, 5070), (C, 5060), &inv, &f));
    let s = c.sessions();
    assert_eq!(s.len(), 2);
    assert_eq!(s[1].parent, Some(s[0].id));
}

#[test]
fn a_registration_keeps_the_mapping_past_the_inactivity_timeout_until_it_expires() {
    let mut c = Cluster::one(&napt());
    let reg = msg(
        &format!("REGISTER sip:{S} SIP/2.0"),
        &[
            format!("Via: SIP/2.0/UDP {C};branch=z9hG4bKr"),
            format!("Call-ID: reg@{C}"),
            "CSeq: 1 REGISTER".into(),
            format!("Contact: <sip:alice@{C}>"),
        ],
        "",
    );
    c.pass(&udp((C, 5060), (S, 5060), &reg));
    let ok = msg(
        "SIP/2.0 200 OK",
        &[
            format!("Via: SIP/2.0/UDP {P}:1024;branch=z9hG4bKr"),
            format!("Call-ID: reg@{P}"),
            "CSeq: 1 REGISTER".into(),
            format!("Contact: <sip:alice@{P}:1024>;expires=300"),
        ],
        "",
    );
    c.pass(&udp((S, 5060), (P, 1024), &ok));
    // Silence far past the inactivity timeout: the registrar's request still reaches the
    // contact through the same mapping.
    c.advance_secs(200);
    assert_eq!(c.sessions().len(), 1);
    let inv = request("INVITE", S, "198.51.100.7:5060", 1);
    let f = udp((S, 5060), (P, 1024), &inv);
    assert_eq!(c.pass(&f), udp_out((S, 5060), (C, 5060), &inv, &f));
    // Once the binding expired (and the session idled out), the mapping is gone.
    c.advance_secs(301);
    assert!(c.sessions().is_empty(), "{:?}", c.sessions());
    assert_eq!(c.send(&f).0, Verdict::Drop(DropReason::NatNoSession));
}

#[test]
fn a_contact_on_another_port_gets_its_own_mapping() {
    let mut c = Cluster::one(&napt());
    let m = |me: &str, contact: &str| {
        msg(
            &format!("OPTIONS sip:{S} SIP/2.0"),
            &[
                format!("Via: SIP/2.0/UDP {me};branch=z9hG4bK1"),
                format!("Call-ID: x@{S}"),
                "CSeq: 1 OPTIONS".into(),
                format!("Contact: <sip:alice@{contact};transport=udp>"),
            ],
            "",
        )
    };
    let f = udp((C, 5060), (S, 5060), &m(C, "10.0.0.2:5062"));
    let want = m(&format!("{P}:1024"), "203.0.113.128:1025");
    assert_eq!(c.pass(&f), udp_out((P, 1024), (S, 5060), &want, &f));
    let f = udp((S, 6000), (P, 1025), b"INVITE");
    assert_eq!(c.pass(&f), udp_out((S, 6000), (C, 5062), b"INVITE", &f));
}

#[test]
fn sip_over_tcp_corrects_sequence_numbers() {
    let mut c = Cluster::one(&napt());
    c.pass(&tcp((C, 40000), (S, 5060), "S", 100, 0, b""));
    c.pass(&tcp((S, 5060), (P, 1024), "SA", 500, 101, b""));
    let inv = invite(C, "10.0.0.2:40000", C, 49170);
    let f = tcp((C, 40000), (S, 5060), "PA", 101, 501, &inv);
    // UDP ports are a class of their own: the media take the first ones.
    let want = invite(P, &format!("{P}:1024"), P, 1024);
    let out = c.pass(&f);
    assert_eq!(
        out,
        tcp_out((P, 1024), (S, 5060), "PA", 101, 501, &want, &f)
    );
    let delta = want.len() as u32 - inv.len() as u32;
    // The server acknowledges the longer message; the client sees its own numbers.
    let ack = tcp((S, 5060), (P, 1024), "A", 501, 101 + want.len() as u32, b"");
    let (_, _, a, _) = tcp_parts(&c.pass(&ack));
    assert_eq!(a, 101 + inv.len() as u32);
    // The next client segment is shifted, and a retransmission is rewritten alike.
    let f = tcp((C, 40000), (S, 5060), "PA", 101, 501, &inv);
    assert_eq!(c.pass(&f), out);
    let bye = request("BYE", C, "10.0.0.2:40000", 2);
    let f = tcp(
        (C, 40000),
        (S, 5060),
        "PA",
        101 + inv.len() as u32,
        501,
        &bye,
    );
    let (p, seq, _, _) = tcp_parts(&c.pass(&f));
    assert_eq!(seq, 101 + inv.len() as u32 + delta);
    assert_eq!(p, request("BYE", P, &format!("{P}:1024"), 2));
    // A message cut by the segment's end is refused (retransmitted whole).
    let cut = &bye[..40];
    let seq2 = 101 + (inv.len() + bye.len()) as u32;
    let (v, _) = c.send(&tcp((C, 40000), (S, 5060), "PA", seq2, 501, cut));
    assert_eq!(v, Verdict::Drop(DropReason::Alg));
    assert_eq!(c.stats().alg.partial_lines, 1);
    // Over TCP the call's end does not close the connection.
    let ok = response("200 OK", "BYE", P, &format!("{P}:1024"), "");
    c.pass(&tcp((S, 5060), (P, 1024), "PA", 501, seq2 + delta, &ok));
    assert_eq!(c.sessions().len(), 1);
}

#[test]
fn hostile_messages_are_refused_and_counted() {
    let mut c = Cluster::one(&napt());
    let mut long = b"OPTIONS sip:x SIP/2.0\r\nX: ".to_vec();
    long.resize(10_000, b'a');
    long.extend_from_slice(b"\r\nCSeq: 1 OPTIONS\r\nCall-ID: a\r\n\r\n");
    let mut many = b"OPTIONS sip:x SIP/2.0\r\nCSeq: 1 OPTIONS\r\nCall-ID: a\r\n".to_vec();
    for _ in 0..200 {
        many.extend_from_slice(b"X: y\r\n");
    }
    many.extend_from_slice(b"\r\n");
    let bad: Vec<Vec<u8>> = vec![
        b"\x00\x01garbage\xff".to_vec(),
        long,
        many,
        b"OPTIONS sip:x SIP/2.0\r\nCall-ID: a\r\n\r\n".to_vec(),
        b"OPTIONS sip:x SIP/2.0\r\nCSeq: 1 OPTIONS\r\n\r\n".to_vec(),
        b"OPTIONS sip:x SIP/2.0\r\nCSeq: 1 OPTIONS\r\nCall-ID: a\r\nContent-Length: 99999999999\r\n\r\n".to_vec(),
        b"OPTIONS sip:x SIP/2.0\r\nCSeq: 1 OPTIONS\r\nCall-ID: a\r\nContent-Length: 100\r\n\r\nshort".to_vec(),
        msg(
            "INVITE sip:x SIP/2.0",
            &["CSeq: 1 INVITE".into(), "Call-ID: b".into()],
            &format!("v=0\r\nc=IN IP4 {C}\r\nm=audio 99999 RTP/AVP 0\r\n"),
        ),
        b"INVITE sip:x SIP/2.0\r\nCSeq: 1 INVITE\r\nCall-ID: a\r\nContent-Type: application/sdp\r\n\r\nnot sdp".to_vec(),
    ];
    for (i, m) in bad.iter().enumerate() {
        let (v, _) = c.send(&udp((C, 5060), (S, 5060), m));
        assert_eq!(v, Verdict::Drop(DropReason::Alg), "message {i}");
    }
    assert_eq!(c.stats().alg.malformed, bad.len() as u64);
    // Keep-alives pass.
    c.pass(&udp((C, 5060), (S, 5060), b"\r\n\r\n"));
}

/// The UDP payload of a frame.
fn split_udp(frame: &[u8]) -> ((), Vec<u8>) {
    let p = etherparse::SlicedPacket::from_ethernet(frame).unwrap();
    let Some(etherparse::TransportSlice::Udp(u)) = p.transport else {
        panic!("not UDP")
    };
    ((), u.payload().to_vec())
}

/// The port written in `m=audio` of a forwarded frame's SDP, and the session's public
/// endpoint from its UDP header.
fn media_port(frame: &[u8]) -> u16 {
    let (_, p) = split_udp(frame);
    let text = String::from_utf8(p).unwrap();
    let at = text.find("m=audio ").unwrap() + 8;
    text[at..].split(' ').next().unwrap().parse().unwrap()
}

#[test]
fn a_call_works_with_several_shards() {
    for n in [2, 3, 4] {
        for cport in [5060u16, 5070, 5081] {
            let mut c = Cluster::new(&napt(), n);
            let me = format!("{C}:{cport}");
            let out = c.pass(&udp((C, cport), (S, 5060), &invite(C, &me, C, 40000)));
            let pp = u16::from_be_bytes([out[34], out[35]]);
            let rtp = media_port(&out);
            let pub_ep = format!("{P}:{pp}");
            let ok = response("200 OK", "INVITE", P, &pub_ep, &sdp(S, 3456, ""));
            let f = udp((S, 5060), (P, pp), &ok);
            let want = response("200 OK", "INVITE", C, &me, &sdp(S, 3456, ""));
            assert_eq!(
                c.pass(&f),
                udp_out((S, 5060), (C, cport), &want, &f),
                "{n} shards"
            );
            c.pass(&udp((C, cport), (S, 5060), &request("ACK", C, &me, 314159)));
            // Media both ways, the far side first, then the agent.
            let f = udp((S, 3456), (P, rtp), b"rtp");
            assert_eq!(
                c.pass(&f),
                udp_out((S, 3456), (C, 40000), b"rtp", &f),
                "{n} shards"
            );
            let f = udp((C, 40000), (S, 3456), b"rtp");
            assert_eq!(
                c.pass(&f),
                udp_out((P, rtp), (S, 3456), b"rtp", &f),
                "{n} shards"
            );
            c.pass(&udp((C, cport), (S, 5060), &request("BYE", C, &me, 314160)));
            let bye_ok = response("200 OK", "BYE", P, &pub_ep, "");
            c.pass(&udp((S, 5060), (P, pp), &bye_ok));
            assert!(c.sessions().is_empty(), "{n} shards: {:?}", c.sessions());
        }
    }
}

#[test]
fn the_agent_sending_first_keeps_its_mapping_on_any_shard() {
    let media = "198.51.100.9";
    for n in [2, 3, 4] {
        for aport in [40000u16, 40010, 40020, 40030] {
            let mut c = Cluster::new(&napt(), n);
            let out = c.pass(&udp((C, 5060), (S, 5060), &invite(C, C, C, aport)));
            let pp = u16::from_be_bytes([out[34], out[35]]);
            let rtp = media_port(&out);
            let pub_ep = format!("{P}:{pp}");
            let ok = response("200 OK", "INVITE", P, &pub_ep, &sdp(media, 4000, ""));
            c.pass(&udp((S, 5060), (P, pp), &ok));
            // The agent's RTP leaves from the port its offer named, whichever shard it
            // lands on, and the media server's answers come back to it.
            let f = udp((C, aport), (media, 4000), b"rtp");
            let ctx = format!("{n} shards, agent port {aport}");
            assert_eq!(
                c.pass(&f),
                udp_out((P, rtp), (media, 4000), b"rtp", &f),
                "{ctx}"
            );
            let f = udp((media, 4000), (P, rtp), b"rtp");
            assert_eq!(
                c.pass(&f),
                udp_out((media, 4000), (C, aport), b"rtp", &f),
                "{ctx}"
            );
            let f = udp((C, aport), (media, 4000), b"rtp2");
            assert_eq!(
                c.pass(&f),
                udp_out((P, rtp), (media, 4000), b"rtp2", &f),
                "{ctx}"
            );
            // The call's end gives every port back, the lent one included.
            c.pass(&udp((C, 5060), (S, 5060), &request("BYE", C, C, 314160)));
            let bye_ok = response("200 OK", "BYE", P, &pub_ep, "");
            c.pass(&udp((S, 5060), (P, pp), &bye_ok));
            assert!(c.sessions().is_empty(), "{ctx}: {:?}", c.sessions());
            c.deliver(); // what the other shards said while closing (Unsteer)
            let in_use: u64 = c
                .shards
                .iter()
                .map(|s| s.nat_state().pool_stats(0).unwrap().ports_in_use)
                .sum();
            assert_eq!(in_use, 0, "{ctx}");
        }
    }
}

#[test]
fn a_retransmitted_invite_is_rewritten_alike_without_new_pinholes() {
    let mut c = Cluster::one(&napt());
    let f = udp((C, 5060), (S, 5060), &invite(C, C, C, 49170));
    let first = c.pass(&f);
    let opened = c.stats().alg.pinholes_created;
    assert_eq!(opened, 2);
    assert_eq!(c.pass(&f), first);
    assert_eq!(c.stats().alg.pinholes_created, opened);
}

#[test]
fn a_current_registration_keeps_the_session_after_the_last_call() {
    let mut c = Cluster::one(&napt());
    let reg = msg(
        &format!("REGISTER sip:{S} SIP/2.0"),
        &[
            format!("Via: SIP/2.0/UDP {C};branch=z9hG4bKr"),
            format!("Call-ID: reg@{C}"),
            "CSeq: 1 REGISTER".into(),
            format!("Contact: <sip:alice@{C}>"),
            "Expires: 600".into(),
        ],
        "",
    );
    c.pass(&udp((C, 5060), (S, 5060), &reg));
    let ok = msg(
        "SIP/2.0 200 OK",
        &[
            format!("Via: SIP/2.0/UDP {P}:1024;branch=z9hG4bKr"),
            format!("Call-ID: reg@{P}"),
            "CSeq: 1 REGISTER".into(),
            format!("Contact: <sip:alice@{P}:1024>;expires=600"),
        ],
        "",
    );
    c.pass(&udp((S, 5060), (P, 1024), &ok));
    c.pass(&udp((C, 5060), (S, 5060), &invite(C, C, C, 49170)));
    let ok = response(
        "200 OK",
        "INVITE",
        P,
        &format!("{P}:1024"),
        &sdp(S, 3456, ""),
    );
    c.pass(&udp((S, 5060), (P, 1024), &ok));
    c.pass(&udp((C, 5060), (S, 5060), &request("BYE", C, C, 314160)));
    c.pass(&udp(
        (S, 5060),
        (P, 1024),
        &response("200 OK", "BYE", P, &format!("{P}:1024"), ""),
    ));
    assert_eq!(c.sessions().len(), 1);
    assert_eq!(c.stats().alg.closed_by_response, 0);
}

#[test]
fn a_server_behind_destination_nat_is_seen_at_its_public_address() {
    let (x, pubv, srv) = ("198.51.100.7", "203.0.113.10", "10.0.0.10");
    let mut c = Cluster::one(&dnat_config("junos-sip"));
    let inv = |to: &str| {
        msg(
            &format!("INVITE sip:bob@{to} SIP/2.0"),
            &[
                format!("Via: SIP/2.0/UDP {x}:5060;branch=z9hG4bK1"),
                format!("To: <sip:bob@{to}>"),
                format!("From: <sip:carol@{x}>;tag=1"),
                "Call-ID: c1@198.51.100.7".into(),
                "CSeq: 1 INVITE".into(),
                format!("Contact: <sip:carol@{x}>"),
            ],
            &sdp(x, 4000, ""),
        )
    };
    let f = udp((x, 5060), (pubv, 5060), &inv(pubv));
    assert_eq!(c.pass(&f), udp_out((x, 5060), (srv, 5060), &inv(srv), &f));
    let ok = |me: &str| {
        msg(
            "SIP/2.0 200 OK",
            &[
                format!("Via: SIP/2.0/UDP {x}:5060;branch=z9hG4bK1"),
                format!("To: <sip:bob@{me}>;tag=2"),
                format!("From: <sip:carol@{x}>;tag=1"),
                "Call-ID: c1@198.51.100.7".into(),
                "CSeq: 1 INVITE".into(),
                format!("Contact: <sip:bob@{me}>"),
            ],
            &sdp(me, 5000, ""),
        )
    };
    let f = udp((srv, 5060), (x, 5060), &ok(srv));
    assert_eq!(c.pass(&f), udp_out((pubv, 5060), (x, 5060), &ok(pubv), &f));
    // The caller's media reaches the server through its public address, and back.
    let f = udp((x, 4000), (pubv, 5000), b"rtp");
    assert_eq!(c.pass(&f), udp_out((x, 4000), (srv, 5000), b"rtp", &f));
    let f = udp((srv, 5000), (x, 4000), b"rtp");
    assert_eq!(c.pass(&f), udp_out((pubv, 5000), (x, 4000), b"rtp", &f));
    let s = c.sessions();
    assert_eq!(s.len(), 2);
    assert_eq!(s[1].parent, Some(s[0].id));
}

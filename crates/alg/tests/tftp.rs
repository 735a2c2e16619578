//! TFTP: the request opens the pinhole for the server's answer from its new port; the
//! transfer is a child session translated with the request's own mapping.

mod common;

use common::*;
use mspic_config::AppProtocol;
use mspic_flow::{DropReason, Verdict, FLAG_ALG_CHILD, FLAG_NAT};

const C: &str = "10.0.0.2";
const S: &str = "198.51.100.7";
const P: &str = "203.0.113.128";

#[test]
fn read_request_admits_the_transfer_as_a_child_under_napt() {
    let mut c = Cluster::one(&napt());
    let rrq = udp((C, 3000), (S, 69), b"\0\x01file.bin\0octet\0");
    assert_eq!(
        c.pass(&rrq),
        udp_out((P, 1024), (S, 69), b"\0\x01file.bin\0octet\0", &rrq)
    );
    // The server answers from its own new port to the client's translated endpoint.
    let data = udp((S, 4711), (P, 1024), b"\0\x03\0\x01hello");
    assert_eq!(
        c.pass(&data),
        udp_out((S, 4711), (C, 3000), b"\0\x03\0\x01hello", &data)
    );
    let ack = udp((C, 3000), (S, 4711), b"\0\x04\0\x01");
    assert_eq!(
        c.pass(&ack),
        udp_out((P, 1024), (S, 4711), b"\0\x04\0\x01", &ack)
    );
    let s = c.sessions();
    assert_eq!(s.len(), 2);
    assert_eq!(s[1].flags, FLAG_ALG_CHILD | FLAG_NAT);
    assert_eq!(
        (s[1].alg, s[1].parent),
        (Some(AppProtocol::Tftp), Some(s[0].id))
    );
    // The request's session stays while its transfer runs, though it sees no packet.
    for _ in 0..4 {
        c.advance_secs(20);
        c.pass(&ack);
    }
    assert_eq!(c.sessions().len(), 2);
    // Once the transfer is idle, both go.
    c.advance_secs(31);
    c.advance_secs(31);
    assert!(c.sessions().is_empty());
}

#[test]
fn write_request_without_nat() {
    let mut c = Cluster::one(&config("", ""));
    c.pass(&udp((C, 3001), (S, 69), b"\0\x02up.txt\0netascii\0"));
    c.pass(&udp((S, 5000), (C, 3001), b"\0\x04\0\0"));
    assert_eq!(c.sessions()[1].flags, FLAG_ALG_CHILD);
}

#[test]
fn other_hosts_and_bad_requests_are_refused() {
    let mut c = Cluster::one(&napt());
    for bad in [
        &b"\0\x03file\0octet\0"[..],
        b"\0\x01file\0octet",
        b"\0\x01\0octet\0",
        b"\x01",
    ] {
        let (v, _) = c.send(&udp((C, 3002), (S, 69), bad));
        assert_eq!(v, Verdict::Drop(DropReason::Alg));
    }
    assert_eq!(c.stats().alg.malformed, 4);
    c.pass(&udp((C, 3003), (S, 69), b"\0\x01f\0octet\0"));
    // The pinhole expects the server's address only.
    let (v, _) = c.send(&udp(("198.51.100.8", 5000), (P, 1025), b"\0\x03\0\x01x"));
    assert_eq!(v, Verdict::Drop(DropReason::NatNoSession));
}

#[test]
fn the_transfer_works_with_several_shards() {
    for n in [2, 3, 4] {
        for cport in 3000..3008u16 {
            let mut c = Cluster::new(&napt(), n);
            let out = c.pass(&udp((C, cport), (S, 69), b"\0\x01f\0octet\0"));
            let pp = u16::from_be_bytes([out[34], out[35]]);
            let data = udp((S, 4711), (P, pp), b"\0\x03\0\x01x");
            assert_eq!(
                c.pass(&data),
                udp_out((S, 4711), (C, cport), b"\0\x03\0\x01x", &data)
            );
            let ack = udp((C, cport), (S, 4711), b"\0\x04\0\x01");
            assert_eq!(
                c.pass(&ack),
                udp_out((P, pp), (S, 4711), b"\0\x04\0\x01", &ack),
                "{n} shards"
            );
        }
    }
}

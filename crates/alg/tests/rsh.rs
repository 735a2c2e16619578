//! rsh/rexec: the client's stderr port opens a server → client pinhole and is rewritten
//! under NAPT (its length may change: sequence numbers follow).

mod common;

use common::*;
use mspic_config::AppProtocol;
use mspic_flow::{DropReason, Verdict, FLAG_ALG_CHILD, FLAG_NAT};

const C: &str = "10.0.0.2";
const S: &str = "198.51.100.7";
const P: &str = "203.0.113.128";

fn open(c: &mut Cluster, port: u16) {
    c.pass(&tcp((C, 1022), (S, port), "S", 100, 0, b""));
    c.pass(&tcp((S, port), (P, 1024), "SA", 500, 101, b""));
    c.pass(&tcp((C, 1022), (S, port), "A", 101, 501, b""));
}

#[test]
fn stderr_port_rewritten_with_length_change_and_child_admitted() {
    let mut c = Cluster::one(&napt());
    open(&mut c, 514);
    let first = tcp(
        (C, 1022),
        (S, 514),
        "PA",
        101,
        501,
        b"523\0alice\0alice\0ls\0",
    );
    let want = tcp_out(
        (P, 1024),
        (S, 514),
        "PA",
        101,
        501,
        b"1025\0alice\0alice\0ls\0",
        &first,
    );
    assert_eq!(c.pass(&first), want);
    assert_eq!(c.pass(&first), want, "a retransmission is rewritten alike");
    let ack = tcp((S, 514), (P, 1024), "A", 501, 121, b"");
    assert_eq!(
        c.pass(&ack),
        tcp_out((S, 514), (C, 1022), "A", 501, 120, b"", &ack)
    );
    let syn = tcp((S, 1023), (P, 1025), "S", 9000, 0, b"");
    assert_eq!(
        c.pass(&syn),
        tcp_out((S, 1023), (C, 523), "S", 9000, 0, b"", &syn)
    );
    let s = c.sessions();
    assert_eq!(
        (s[1].flags, s[1].alg),
        (FLAG_ALG_CHILD | FLAG_NAT, Some(AppProtocol::Rsh))
    );
    assert_eq!(c.stats().alg.pinholes_created, 1);
}

#[test]
fn rexec_uses_the_same_alg_and_zero_means_no_stderr() {
    let mut c = Cluster::one(&napt());
    open(&mut c, 512);
    let first = tcp((C, 1022), (S, 512), "PA", 101, 501, b"0\0bob\0pw\0ls\0");
    assert_eq!(tcp_parts(&c.pass(&first)).0, b"0\0bob\0pw\0ls\0");
    assert_eq!(c.sessions()[0].alg, Some(AppProtocol::Exec));
    assert_eq!(c.stats().alg.pinholes_created, 0);
}

#[test]
fn bad_ports_are_refused() {
    for bad in [&b"99999\0a\0b\0c\0"[..], b"12a\0", b"1234567"] {
        let mut c = Cluster::one(&napt());
        open(&mut c, 514);
        let (v, _) = c.send(&tcp((C, 1022), (S, 514), "PA", 101, 501, bad));
        assert_eq!(v, Verdict::Drop(DropReason::Alg));
        assert_eq!(c.stats().alg.malformed, 1);
    }
}

#[test]
fn with_preserve_range_the_stderr_port_stays_reserved() {
    // rshd only accepts a stderr port in 512–1023: a pool that preserves the range keeps
    // it there.
    let pool = "pool public { address 203.0.113.128/25; port { range low 512 high 65535; preserve-range; } }";
    let mut c = Cluster::one(&config(pool, &snat_term("napt-44")));
    c.pass(&tcp((C, 1022), (S, 514), "S", 100, 0, b""));
    let pp = c.sessions()[0].flows[1].dst.port.unwrap();
    assert!((512..1024).contains(&pp), "control port {pp}");
    c.pass(&tcp((S, 514), (P, pp), "SA", 500, 101, b""));
    let out = c.pass(&tcp(
        (C, 1022),
        (S, 514),
        "PA",
        101,
        501,
        b"1021\0alice\0alice\0ls\0",
    ));
    let payload = tcp_parts(&out).0;
    let digits = payload.iter().position(|&b| b == 0).unwrap();
    let port: u16 = std::str::from_utf8(&payload[..digits])
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (512..1024).contains(&port) && port != pp,
        "stderr port {port}"
    );
    let syn = tcp((S, 1023), (P, port), "S", 1, 0, b"");
    assert_eq!(
        c.pass(&syn),
        tcp_out((S, 1023), (C, 1021), "S", 1, 0, b"", &syn)
    );
}

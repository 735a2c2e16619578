//! Next-hop style service sets: a static route to the inside unit services traffic in the
//! input direction (NAPT to the pool, then routed on towards the server), replies are
//! translated back, a route to the outside unit services new flows from outside in the
//! output direction, and routes to units no set uses are refused.

mod common;

use common::*;
use mspic_flow::route::RouteError;
use mspic_flow::{DropReason, IfIndex, Policy, PolicyError, Verdict};

/// The CGNAT shape: the client's traffic to 198.51.100.0/24 is routed to the inside unit,
/// 192.0.2.10 (a public address of an inside server) to the outside unit; the default
/// route leads out by ge-0/0/1. `input_term` is the input rule's only term.
fn nh_config(input_term: &str) -> String {
    format!(
        r#"
interfaces {{
    ge-0/0/0 {{ unit 0 {{ family inet {{ address 10.0.0.1/24; }} }} }}
    ge-0/0/1 {{ unit 0 {{ family inet {{ address 203.0.113.1/24; }} }} }}
    ms-1/1/0 {{
        unit 0 {{ family inet; }}
        unit 1 {{ family inet; service-domain inside; }}
        unit 2 {{ family inet; service-domain outside; }}
    }}
}}
routing-options {{
    static {{
        route 198.51.100.0/24 next-hop ms-1/1/0.1;
        route 192.0.2.10/32 next-hop ms-1/1/0.2;
        route 0.0.0.0/0 next-hop 203.0.113.2;
    }}
}}
services {{
    stateful-firewall {{
        rule from-inside {{ match-direction input; {input_term} }}
        rule from-outside {{
            match-direction output;
            term web {{ from {{ destination-address {{ 192.0.2.10/32; }} }} then {{ accept; }} }}
        }}
    }}
    nat {{
        pool public {{ address 203.0.113.128/25; port {{ automatic; }} }}
        pool web {{ address 10.0.0.80/32; }}
        rule snat {{
            match-direction input;
            term t1 {{
                from {{ source-address {{ 10.0.0.0/24; }} }}
                then {{ translated {{ source-pool public; translation-type {{ napt-44; }} }} }}
            }}
        }}
        rule dnat {{
            match-direction output;
            term t1 {{
                from {{ destination-address {{ 192.0.2.10/32; }} }}
                then {{ translated {{ destination-pool web; translation-type {{ dnat-44; }} }} }}
            }}
        }}
    }}
    service-set cgn {{
        stateful-firewall-rules [ from-inside from-outside ];
        nat-rules [ snat dnat ];
        next-hop-service {{
            inside-service-interface ms-1/1/0.1;
            outside-service-interface ms-1/1/0.2;
        }}
    }}
}}
"#
    )
}

const ACCEPT_ALL: &str = "term all { then { accept; } }";
const GE0: IfIndex = IfIndex(0);
const GE1: IfIndex = IfIndex(1);

/// Source address and port of an IPv4/TCP frame.
fn tcp_src(frame: &[u8]) -> (std::net::Ipv4Addr, u16) {
    let p = etherparse::SlicedPacket::from_ethernet(frame).unwrap();
    let Some(etherparse::NetSlice::Ipv4(ip)) = p.net else {
        panic!("not IPv4")
    };
    let Some(etherparse::TransportSlice::Tcp(t)) = p.transport else {
        panic!("not TCP")
    };
    (ip.header().source_addr(), t.source_port())
}

#[test]
fn inside_traffic_is_translated_routed_on_and_its_replies_come_back() {
    let mut h = Harness::new(&nh_config(ACCEPT_INSIDE));
    let syn = tcp("10.0.0.5", 40000, "198.51.100.7", 80, "S", 1, 0, b"");
    let (v, out) = h.send(&syn);
    assert_eq!(
        v,
        Verdict::Forward {
            egress: GE1,
            next_hop: ip("203.0.113.2")
        },
        "routed on past the service set by the default route"
    );
    let (addr, port) = tcp_src(&out);
    assert!(
        (128..=255).contains(&addr.octets()[3]) && addr.octets()[..3] == [203, 0, 113],
        "source {addr} is not in the pool"
    );
    let expected = tcp_ttl(
        &addr.to_string(),
        port,
        "198.51.100.7",
        80,
        "S",
        1,
        0,
        b"",
        63,
    );
    assert_eq!(
        out,
        with_macs(expected, &syn),
        "only the source is translated"
    );

    let synack = tcp("198.51.100.7", 80, &addr.to_string(), port, "SA", 7, 2, b"");
    let (v, back) = h.send(&synack);
    assert_eq!(
        v,
        Verdict::Forward {
            egress: GE0,
            next_hop: ip("10.0.0.5")
        }
    );
    let expected = tcp_ttl("198.51.100.7", 80, "10.0.0.5", 40000, "SA", 7, 2, b"", 63);
    assert_eq!(
        back,
        with_macs(expected, &synack),
        "the reply is translated back"
    );
    assert!(checksums_ok(&back));

    let s = h.sessions();
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].service_set, "cgn");
    assert_eq!(s[0].interface, "ms-1/1/0");
    let nat = s[0].nat.as_ref().expect("the session is translated");
    let src = nat.source.expect("source translation");
    assert_eq!(src.original.addr, ip("10.0.0.5"));
    assert_eq!(src.translated.addr, std::net::IpAddr::V4(addr));
    assert_eq!(src.translated.port, Some(port));
    assert_eq!(s[0].flows[0].frames, 1);
    assert_eq!(s[0].flows[1].frames, 1);
}

#[test]
fn a_reply_arriving_on_another_interface_still_finds_its_session() {
    let mut h = Harness::new(&nh_config(ACCEPT_INSIDE));
    let (_, out) = h.send(&tcp("10.0.0.5", 40001, "198.51.100.7", 80, "S", 1, 0, b""));
    let (addr, port) = tcp_src(&out);
    let synack = tcp("198.51.100.7", 80, &addr.to_string(), port, "SA", 7, 2, b"");
    let (v, _) = h.send_on(GE0, &synack);
    assert_eq!(
        v,
        Verdict::Forward {
            egress: GE0,
            next_hop: ip("10.0.0.5")
        }
    );
}

#[test]
fn input_rules_see_only_the_inside_leg() {
    // The input rule would accept anything; the only output term accepts 192.0.2.10.
    let mut h = Harness::new(&nh_config(ACCEPT_ALL).replace(
        "192.0.2.10/32 next-hop ms-1/1/0.2",
        "192.0.2.0/24 next-hop ms-1/1/0.2",
    ));
    let (v, _) = h.send(&tcp("198.51.100.7", 5555, "192.0.2.11", 80, "S", 1, 0, b""));
    assert_eq!(
        v,
        Verdict::Drop(DropReason::RuleDiscard),
        "routed to the outside unit: output direction, where no term matches"
    );
    assert_eq!(h.sessions()[0].service_set, "cgn");
}

#[test]
fn traffic_routed_to_the_outside_unit_is_serviced_in_the_output_direction() {
    let mut h = Harness::new(&nh_config(ACCEPT_INSIDE));
    let syn = tcp("198.51.100.7", 5555, "192.0.2.10", 80, "S", 1, 0, b"");
    let (v, out) = h.send(&syn);
    assert_eq!(
        v,
        Verdict::Forward {
            egress: GE0,
            next_hop: ip("10.0.0.80")
        },
        "destination translated by the output rule, then routed to the inside server"
    );
    let expected = tcp_ttl("198.51.100.7", 5555, "10.0.0.80", 80, "S", 1, 0, b"", 63);
    assert_eq!(out, with_macs(expected, &syn));
    let synack = tcp("10.0.0.80", 80, "198.51.100.7", 5555, "SA", 7, 2, b"");
    let (v, back) = h.send(&synack);
    assert_eq!(
        v,
        Verdict::Forward {
            egress: GE1,
            next_hop: ip("203.0.113.2")
        }
    );
    let expected = tcp_ttl("192.0.2.10", 80, "198.51.100.7", 5555, "SA", 7, 2, b"", 63);
    assert_eq!(back, with_macs(expected, &synack));
}

#[test]
fn traffic_not_routed_into_the_set_is_plain_routing() {
    let mut h = Harness::new(&nh_config(ACCEPT_INSIDE));
    let (v, out) = h.send(&tcp("10.0.0.5", 40002, "203.0.113.50", 80, "S", 1, 0, b""));
    assert_eq!(
        v,
        Verdict::Forward {
            egress: GE1,
            next_hop: ip("203.0.113.50")
        }
    );
    assert_eq!(tcp_src(&out), (v4("10.0.0.5"), 40002), "not translated");
    assert!(h.sessions().is_empty());
}

#[test]
fn sessions_time_out_in_virtual_time() {
    let mut h = Harness::new(&nh_config(ACCEPT_INSIDE));
    h.send(&udp("10.0.0.5", 5353, "198.51.100.7", 53, b"q"));
    assert_eq!(h.sessions().len(), 1);
    h.advance_ms(29_000);
    assert_eq!(h.sessions().len(), 1);
    h.advance_ms(2_000);
    assert!(h.sessions().is_empty(), "30 s default inactivity timeout");
}

#[test]
fn a_route_to_a_unit_no_next_hop_set_uses_is_refused() {
    let text = nh_config(ACCEPT_INSIDE).replace(
        "route 192.0.2.10/32 next-hop ms-1/1/0.2;",
        "route 192.0.2.10/32 next-hop ms-1/1/0.0;",
    );
    let c = mspic_config::parse(&text, "t.conf").unwrap();
    let e = Policy::compile(&c).unwrap_err();
    assert!(
        matches!(&e, PolicyError::Route(RouteError::UnknownInterface { name, .. }) if name == "ms-1/1/0.0"),
        "{e}"
    );
}

/// An IPv6 TCP segment built by etherparse.
fn tcp6(src: &str, sport: u16, dst: &str, dport: u16, syn_ack: bool) -> Vec<u8> {
    let (s, d): (std::net::Ipv6Addr, std::net::Ipv6Addr) =
        (src.parse().unwrap(), dst.parse().unwrap());
    let b = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 1, 0])
        .ipv6(s.octets(), d.octets(), 64)
        .tcp(sport, dport, 1, 64240)
        .syn();
    let b = if syn_ack { b.ack(2) } else { b };
    let mut out = Vec::new();
    b.write(&mut out, b"").unwrap();
    out
}

#[test]
fn a_route_in_inet6_leads_into_the_set_too() {
    let text = r#"
interfaces {
    ge-0/0/0 { unit 0 { family inet6 { address 2001:db8:1::1/64; } } }
    ge-0/0/1 { unit 0 { family inet6 { address 2001:db8:2::1/64; } } }
    ms-1/1/0 {
        unit 1 { family inet6; service-domain inside; }
        unit 2 { family inet6; service-domain outside; }
    }
}
routing-options {
    rib inet6.0 {
        static {
            route 2001:db8:100::/48 next-hop ms-1/1/0.1;
            route ::/0 next-hop 2001:db8:2::2;
        }
    }
}
services {
    stateful-firewall {
        rule r {
            match-direction input;
            term t { from { source-address { 2001:db8:1::/64; } } then { accept; } }
        }
    }
    service-set v6 {
        stateful-firewall-rules r;
        next-hop-service { inside-service-interface ms-1/1/0.1; outside-service-interface ms-1/1/0.2; }
    }
}
"#;
    let mut h = Harness::new(text);
    let syn = tcp6("2001:db8:1::5", 40000, "2001:db8:100::7", 80, false);
    let (v, _) = h.send_on(GE0, &syn);
    assert_eq!(
        v,
        Verdict::Forward {
            egress: GE1,
            next_hop: ip("2001:db8:2::2")
        }
    );
    let (v, _) = h.send_on(
        GE1,
        &tcp6("2001:db8:100::7", 80, "2001:db8:1::5", 40000, true),
    );
    assert_eq!(
        v,
        Verdict::Forward {
            egress: GE0,
            next_hop: ip("2001:db8:1::5")
        }
    );
    let s = h.sessions();
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].service_set, "v6");
    assert_eq!((s[0].flows[0].frames, s[0].flows[1].frames), (1, 1));
    // From a host outside the set's input rules: the set's firewall discards it.
    let (v, _) = h.send_on(
        GE0,
        &tcp6("2001:db8:9::5", 40001, "2001:db8:100::7", 80, false),
    );
    assert_eq!(v, Verdict::Drop(DropReason::RuleDiscard));
}

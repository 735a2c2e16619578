//! Packet in → packet out: every expected packet is built independently with etherparse
//! (its own header writers and checksums), then compared byte for byte.

mod hostile;
mod icmp;
mod ip;

use std::net::{Ipv4Addr, Ipv6Addr};

use etherparse::{
    IpDscp, IpEcn, IpFragOffset, IpHeaders, IpNumber, Ipv4Extensions, Ipv4Header, Ipv6Extensions,
    Ipv6FlowLabel, Ipv6FragmentHeader, Ipv6Header, Ipv6RawExtHeader, Ipv6RoutingExtensions,
    PacketBuilder,
};

use super::*;

const CLIENT6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);
const ROUTER6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xffff, 0, 0, 0, 0, 1);
const SERVER4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);
const ROUTER4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const POOL: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 130);
const PARAMS: Params = Params {
    ipv4_ident: 0x4242,
    ipv4_mtu: 1500,
    ipv6_mtu: 1500,
};

fn server6() -> Ipv6Addr {
    WELL_KNOWN_PREFIX.embed(SERVER4)
}

fn router4_as_6() -> Ipv6Addr {
    WELL_KNOWN_PREFIX.embed(ROUTER4)
}

/// The session client6:40000 → server:80 behind POOL:1024, outbound.
fn out_rw() -> Rewrite<Ipv4Addr> {
    Rewrite {
        outer: Endpoints {
            src_port: Some(1024),
            icmp_id: Some(1024),
            ..Endpoints::addrs(POOL, SERVER4)
        },
        inner: None,
    }
}

/// The same session, inbound.
fn in_rw() -> Rewrite<Ipv6Addr> {
    Rewrite {
        outer: Endpoints {
            dst_port: Some(40000),
            icmp_id: Some(40000),
            ..Endpoints::addrs(server6(), CLIENT6)
        },
        inner: None,
    }
}

fn ip6(src: Ipv6Addr, dst: Ipv6Addr, tc: u8, hop: u8, exts: Ipv6Extensions) -> IpHeaders {
    let h = Ipv6Header {
        traffic_class: tc,
        flow_label: Ipv6FlowLabel::ZERO,
        payload_length: 0,
        next_header: IpNumber::TCP,
        hop_limit: hop,
        source: src.octets(),
        destination: dst.octets(),
    };
    IpHeaders::Ipv6(h, exts)
}

fn ip4(src: Ipv4Addr, dst: Ipv4Addr, tos: u8, ttl: u8, ident: u16, flags: u16) -> IpHeaders {
    let mut h = Ipv4Header::new(0, ttl, IpNumber::TCP, src.octets(), dst.octets()).unwrap();
    h.dscp = IpDscp::try_new(tos >> 2).unwrap();
    h.ecn = IpEcn::try_new(tos & 3).unwrap();
    h.identification = ident;
    h.dont_fragment = flags & 0x4000 != 0;
    h.more_fragments = flags & 0x2000 != 0;
    h.fragment_offset = IpFragOffset::try_new(flags & 0x1fff).unwrap();
    IpHeaders::Ipv4(h, Ipv4Extensions::default())
}

fn frag6(id: u32, offset_bytes: u16, more: bool) -> Ipv6Extensions {
    Ipv6Extensions {
        fragment: Some(Ipv6FragmentHeader::new(
            IpNumber::TCP,
            IpFragOffset::try_new(offset_bytes / 8).unwrap(),
            more,
            id,
        )),
        ..Default::default()
    }
}

/// Transport of a built packet.
#[derive(Debug, Clone, Copy)]
enum T {
    Tcp(u16, u16),
    Udp(u16, u16),
    /// ICMP/ICMPv6 echo request (`true`) or reply, identifier, sequence.
    Echo(bool, u16, u16),
    /// Any ICMP/ICMPv6 message: type, code, the 4 type-specific octets.
    Icmp(u8, u8, [u8; 4]),
    /// No transport header (a later fragment): the protocol number.
    Raw(u8),
}

fn build(ip: IpHeaders, t: T, payload: &[u8]) -> Vec<u8> {
    let v6 = matches!(ip, IpHeaders::Ipv6(..));
    let b = PacketBuilder::ip(ip);
    let mut out = Vec::new();
    let r = match (t, v6) {
        (T::Tcp(s, d), _) => b.tcp(s, d, 0x0102_0304, 1000).write(&mut out, payload),
        (T::Udp(s, d), _) => b.udp(s, d).write(&mut out, payload),
        (T::Echo(true, id, seq), true) => b.icmpv6_echo_request(id, seq).write(&mut out, payload),
        (T::Echo(false, id, seq), true) => b.icmpv6_echo_reply(id, seq).write(&mut out, payload),
        (T::Echo(true, id, seq), false) => b.icmpv4_echo_request(id, seq).write(&mut out, payload),
        (T::Echo(false, id, seq), false) => b.icmpv4_echo_reply(id, seq).write(&mut out, payload),
        (T::Icmp(ty, c, r), true) => b.icmpv6_raw(ty, c, r).write(&mut out, payload),
        (T::Icmp(ty, c, r), false) => b.icmpv4_raw(ty, c, r).write(&mut out, payload),
        (T::Raw(p), _) => b.write(&mut out, IpNumber(p), payload),
    };
    r.unwrap();
    out
}

fn to4(input: &[u8], rw: &Rewrite<Ipv4Addr>) -> Result<Vec<u8>, XlatError> {
    let mut out = [0u8; 2048];
    let n = ipv6_to_ipv4(input, &mut out, rw, &PARAMS)?;
    Ok(out[..n].to_vec())
}

fn to6(input: &[u8], rw: &Rewrite<Ipv6Addr>) -> Result<Vec<u8>, XlatError> {
    let mut out = [0u8; 2048];
    let n = ipv4_to_ipv6(input, &mut out, rw, &PARAMS)?;
    Ok(out[..n].to_vec())
}

const DATA: &[u8] = b"GET / HTTP/1.1\r\nHost: example\r\n\r\n";

/// An inbound packet of the session as the IPv4 server sends it, and as IPv6.
fn inbound_pair() -> (Vec<u8>, Vec<u8>) {
    let v4 = build(ip4(SERVER4, POOL, 0, 60, 0x4242, 0), T::Tcp(80, 1024), DATA);
    let v6 = build(
        ip6(server6(), CLIENT6, 0, 60, Default::default()),
        T::Tcp(80, 40000),
        DATA,
    );
    (v4, v6)
}

/// An outbound packet of the session as the IPv6 client sends it, and as IPv4.
fn outbound_pair() -> (Vec<u8>, Vec<u8>) {
    let v6 = build(
        ip6(CLIENT6, server6(), 0, 63, Default::default()),
        T::Tcp(40000, 80),
        DATA,
    );
    let v4 = build(ip4(POOL, SERVER4, 0, 63, 0x4242, 0), T::Tcp(1024, 80), DATA);
    (v6, v4)
}

/// An IPv6 router's error about an inbound packet, toward the server.
fn error_rw_6to4() -> Rewrite<Ipv4Addr> {
    Rewrite {
        outer: Endpoints::addrs(POOL, SERVER4),
        inner: Some(Endpoints {
            dst_port: Some(1024),
            icmp_id: Some(1024),
            ..Endpoints::addrs(SERVER4, POOL)
        }),
    }
}

/// An IPv4 router's error about an outbound packet, toward the client.
fn error_rw_4to6() -> Rewrite<Ipv6Addr> {
    Rewrite {
        outer: Endpoints::addrs(router4_as_6(), CLIENT6),
        inner: Some(Endpoints {
            src_port: Some(40000),
            icmp_id: Some(40000),
            ..Endpoints::addrs(CLIENT6, server6())
        }),
    }
}

/// (type, code, rest) in → (type, code, rest) out, or why it is dropped.
type ErrorRow = ((u8, u8, [u8; 4]), Result<(u8, u8, [u8; 4]), Untranslatable>);

//! Frames built with etherparse (an independent implementation) for the property and
//! builder tests.

use std::net::IpAddr;

use etherparse::{IpHeaders, PacketBuilder, PacketBuilderStep, VlanId};

pub const MAC_A: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0a];
pub const MAC_B: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0b];

#[derive(Debug, Clone, Copy)]
pub enum Spec {
    Tcp {
        sp: u16,
        dp: u16,
        seq: u32,
        ack: Option<u32>,
        flags: u8,
    },
    Udp {
        sp: u16,
        dp: u16,
    },
    Echo {
        request: bool,
        id: u16,
        seq: u16,
    },
}

fn ip_step(vlan: Option<u16>, src: IpAddr, dst: IpAddr) -> PacketBuilderStep<IpHeaders> {
    let e = PacketBuilder::ethernet2(MAC_A, MAC_B);
    match (vlan, src, dst) {
        (None, IpAddr::V4(s), IpAddr::V4(d)) => e.ipv4(s.octets(), d.octets(), 64),
        (None, IpAddr::V6(s), IpAddr::V6(d)) => e.ipv6(s.octets(), d.octets(), 64),
        (Some(v), IpAddr::V4(s), IpAddr::V4(d)) => {
            e.single_vlan(VlanId::try_new(v).unwrap())
                .ipv4(s.octets(), d.octets(), 64)
        }
        (Some(v), IpAddr::V6(s), IpAddr::V6(d)) => {
            e.single_vlan(VlanId::try_new(v).unwrap())
                .ipv6(s.octets(), d.octets(), 64)
        }
        _ => panic!("mixed families"),
    }
}

/// An Ethernet frame with correct checksums.
pub fn frame(vlan: Option<u16>, src: IpAddr, dst: IpAddr, spec: Spec, payload: &[u8]) -> Vec<u8> {
    let ip = ip_step(vlan, src, dst);
    let mut v = Vec::new();
    match spec {
        Spec::Tcp {
            sp,
            dp,
            seq,
            ack,
            flags,
        } => {
            let mut t = ip.tcp(sp, dp, seq, 1000);
            if flags & 0x01 != 0 {
                t = t.fin();
            }
            if flags & 0x02 != 0 {
                t = t.syn();
            }
            if flags & 0x04 != 0 {
                t = t.rst();
            }
            if flags & 0x08 != 0 {
                t = t.psh();
            }
            if let Some(a) = ack {
                t = t.ack(a);
            }
            t.write(&mut v, payload).unwrap();
        }
        Spec::Udp { sp, dp } => ip.udp(sp, dp).write(&mut v, payload).unwrap(),
        Spec::Echo { request, id, seq } => match (src, request) {
            (IpAddr::V4(_), true) => ip
                .icmpv4_echo_request(id, seq)
                .write(&mut v, payload)
                .unwrap(),
            (IpAddr::V4(_), false) => ip
                .icmpv4_echo_reply(id, seq)
                .write(&mut v, payload)
                .unwrap(),
            (IpAddr::V6(_), true) => ip
                .icmpv6_echo_request(id, seq)
                .write(&mut v, payload)
                .unwrap(),
            (IpAddr::V6(_), false) => ip
                .icmpv6_echo_reply(id, seq)
                .write(&mut v, payload)
                .unwrap(),
        },
    }
    v
}

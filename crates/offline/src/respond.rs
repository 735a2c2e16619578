//! The built-in responder of `mspic replay --respond`: the far end of every conversation, so a
//! capture of one side is enough for NAT round trips.
//!
//! For a frame the engine sent towards a host, the responder builds the mirror reply:
//! addresses, ports and MACs swapped; a TCP SYN gets a SYN-ACK, data an ACK, a FIN a FIN-ACK
//! (RFC 9293 §3.5 and §3.6 from the peer's side); a UDP datagram is echoed back; an ICMP or
//! ICMPv6 echo request gets its echo reply. Pure ACKs and resets get nothing. The replies are
//! ordinary input to the engine.

use std::collections::HashMap;
use std::net::IpAddr;

use mspic_wire::checksum;
use mspic_wire::parse::{IpVersion, Parsed, L4};
use mspic_wire::tcp::{ACK, FIN, RST, SYN};
use mspic_wire::{parse_frame, proto, FlowKey};

/// Sequence state of the responder's side of each TCP connection.
#[derive(Debug, Default)]
pub struct Responder {
    /// Keyed by the reply's flow key: the next sequence number the responder sends.
    tcp: HashMap<FlowKey, u32>,
    pub replies: u64,
}

const TTL: u8 = 64;

impl Responder {
    pub fn new() -> Self {
        Self::default()
    }

    /// The reply to `frame`, written into `out`; `None` when the frame gets no answer.
    pub fn respond(&mut self, frame: &[u8], out: &mut Vec<u8>) -> Option<()> {
        let p = parse_frame(frame).ok()?;
        if p.fragment != mspic_wire::Fragment::None {
            return None;
        }
        let payload = frame.get(p.payload_offset..p.payload_offset + p.payload_len)?;
        let k = p.key;
        out.clear();
        // Ethernet: swap the addresses, keep the ethertype (and tag).
        out.extend_from_slice(frame.get(6..12)?);
        out.extend_from_slice(frame.get(0..6)?);
        out.extend_from_slice(frame.get(12..p.l3_offset)?);
        let l3 = out.len();
        match p.l4 {
            L4::Udp => {
                let mut l4 = Vec::with_capacity(8 + payload.len());
                l4.extend_from_slice(&k.dst_port.to_be_bytes());
                l4.extend_from_slice(&k.src_port.to_be_bytes());
                l4.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
                l4.extend_from_slice(&[0, 0]);
                l4.extend_from_slice(payload);
                finish(out, l3, &p, proto::UDP, l4, 6);
            }
            L4::Tcp { flags, seq, .. } => {
                if flags & RST != 0 {
                    self.tcp.remove(&k.reversed());
                    return None;
                }
                let seg_len = p.payload_len as u32
                    + u32::from(flags & SYN != 0)
                    + u32::from(flags & FIN != 0);
                if seg_len == 0 {
                    return None; // a pure ACK needs no answer
                }
                let rk = k.reversed();
                let isn = rk.symmetric_hash().wrapping_mul(2_654_435_761);
                let mut reply_flags = ACK;
                let my_seq = if flags & SYN != 0 {
                    reply_flags |= SYN;
                    self.tcp.insert(rk, isn.wrapping_add(1));
                    isn
                } else {
                    *self.tcp.entry(rk).or_insert(isn.wrapping_add(1))
                };
                if flags & FIN != 0 {
                    reply_flags |= FIN;
                    self.tcp.insert(rk, my_seq.wrapping_add(1));
                }
                let mut l4 = Vec::with_capacity(20);
                l4.extend_from_slice(&k.dst_port.to_be_bytes());
                l4.extend_from_slice(&k.src_port.to_be_bytes());
                l4.extend_from_slice(&my_seq.to_be_bytes());
                l4.extend_from_slice(&seq.wrapping_add(seg_len).to_be_bytes());
                l4.push(5 << 4);
                l4.push(reply_flags);
                l4.extend_from_slice(&65535u16.to_be_bytes());
                l4.extend_from_slice(&[0, 0, 0, 0]);
                finish(out, l3, &p, proto::TCP, l4, 16);
            }
            L4::IcmpQuery { icmp_type, .. } if icmp_type == 8 || icmp_type == 128 => {
                let icmp = frame.get(p.l4_offset..p.payload_offset + p.payload_len)?;
                let mut l4 = icmp.to_vec();
                l4[0] = if icmp_type == 8 { 0 } else { 129 };
                l4[2] = 0;
                l4[3] = 0;
                let nh = if icmp_type == 8 {
                    proto::ICMP
                } else {
                    proto::ICMPV6
                };
                finish(out, l3, &p, nh, l4, 2);
            }
            _ => return None,
        }
        self.replies += 1;
        Some(())
    }
}

/// Appends the IP header (addresses swapped) and `l4`, fixing lengths and checksums;
/// `csum_at` is the offset of the L4 checksum within `l4`.
fn finish(out: &mut Vec<u8>, l3: usize, p: &Parsed, nh: u8, mut l4: Vec<u8>, csum_at: usize) {
    let (src, dst) = (p.key.dst, p.key.src);
    match (p.version, src, dst) {
        (IpVersion::V4, IpAddr::V4(s), IpAddr::V4(d)) => {
            let total = (20 + l4.len()) as u16;
            let mut h = [0u8; 20];
            h[0] = 0x45;
            h[2..4].copy_from_slice(&total.to_be_bytes());
            h[6] = 0x40; // DF
            h[8] = TTL;
            h[9] = nh;
            h[12..16].copy_from_slice(&s.octets());
            h[16..20].copy_from_slice(&d.octets());
            let c = checksum::compute(&h);
            h[10..12].copy_from_slice(&c.to_be_bytes());
            if nh != proto::ICMP {
                let ps = checksum::pseudo_header_v4(&s, &d, nh, l4.len() as u16);
                let c = checksum::finish(checksum::sum(&l4, ps));
                let c = if c == 0 && nh == proto::UDP {
                    0xffff
                } else {
                    c
                };
                l4[csum_at..csum_at + 2].copy_from_slice(&c.to_be_bytes());
            } else {
                let c = checksum::compute(&l4);
                l4[csum_at..csum_at + 2].copy_from_slice(&c.to_be_bytes());
            }
            out.truncate(l3);
            out.extend_from_slice(&h);
        }
        (_, IpAddr::V6(s), IpAddr::V6(d)) => {
            let mut h = [0u8; 40];
            h[0] = 0x60;
            h[4..6].copy_from_slice(&(l4.len() as u16).to_be_bytes());
            h[6] = nh;
            h[7] = TTL;
            h[8..24].copy_from_slice(&s.octets());
            h[24..40].copy_from_slice(&d.octets());
            let ps = checksum::pseudo_header_v6(&s, &d, nh, l4.len() as u32);
            let c = checksum::finish(checksum::sum(&l4, ps));
            let c = if c == 0 { 0xffff } else { c };
            l4[csum_at..csum_at + 2].copy_from_slice(&c.to_be_bytes());
            out.truncate(l3);
            out.extend_from_slice(&h);
        }
        _ => return,
    }
    out.extend_from_slice(&l4);
    while out.len() < 60 {
        out.push(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{PacketBuilder, SlicedPacket, TransportSlice};

    fn tcp(flags: &str, seq: u32, payload: &[u8]) -> Vec<u8> {
        let mut b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4([203, 0, 113, 128], [198, 51, 100, 7], 63)
            .tcp(1024, 80, seq, 1000);
        for f in flags.chars() {
            b = match f {
                'S' => b.syn(),
                'A' => b.ack(5),
                'F' => b.fin(),
                'R' => b.rst(),
                _ => b,
            };
        }
        let mut v = Vec::new();
        b.write(&mut v, payload).unwrap();
        v
    }

    fn parse(f: &[u8]) -> (SlicedPacket<'_>, bool) {
        let ok = mspic_wire::parse::l4_checksum_ok(f, &parse_frame(f).unwrap());
        (SlicedPacket::from_ethernet(f).unwrap(), ok)
    }

    #[test]
    fn tcp_handshake_data_and_fin() {
        let mut r = Responder::new();
        let mut out = Vec::new();
        r.respond(&tcp("S", 100, b""), &mut out).unwrap();
        let o = out.clone();
        let (p, ok) = parse(&o);
        assert!(ok);
        assert_eq!(&out[..6], &[2, 0, 0, 0, 0, 1]);
        let Some(TransportSlice::Tcp(t)) = p.transport else {
            panic!()
        };
        assert!(t.syn() && t.ack());
        assert_eq!((t.source_port(), t.destination_port()), (80, 1024));
        assert_eq!(t.acknowledgment_number(), 101);
        let isn = t.sequence_number();
        assert!(r.respond(&tcp("A", 101, b""), &mut out).is_none());
        r.respond(&tcp("A", 101, b"hello"), &mut out).unwrap();
        let o = out.clone();
        let (p, ok) = parse(&o);
        assert!(ok);
        let Some(TransportSlice::Tcp(t)) = p.transport else {
            panic!()
        };
        assert!(t.ack() && !t.syn() && !t.fin());
        assert_eq!(
            (t.sequence_number(), t.acknowledgment_number()),
            (isn + 1, 106)
        );
        r.respond(&tcp("FA", 106, b""), &mut out).unwrap();
        let o = out.clone();
        let (p, _) = parse(&o);
        let Some(TransportSlice::Tcp(t)) = p.transport else {
            panic!()
        };
        assert!(t.fin() && t.ack());
        assert_eq!(t.acknowledgment_number(), 107);
        assert!(r.respond(&tcp("R", 107, b""), &mut out).is_none());
    }

    #[test]
    fn udp_and_ping_mirrored() {
        let mut r = Responder::new();
        let mut out = Vec::new();
        let b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4([203, 0, 113, 128], [198, 51, 100, 7], 63)
            .udp(1024, 53);
        let mut f = Vec::new();
        b.write(&mut f, b"query").unwrap();
        r.respond(&f, &mut out).unwrap();
        let o = out.clone();
        let (p, ok) = parse(&o);
        assert!(ok);
        let Some(TransportSlice::Udp(u)) = p.transport else {
            panic!()
        };
        assert_eq!(
            (u.source_port(), u.destination_port(), u.payload()),
            (53, 1024, &b"query"[..])
        );
        let b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4([203, 0, 113, 128], [198, 51, 100, 7], 63)
            .icmpv4_echo_request(9, 3);
        let mut f = Vec::new();
        b.write(&mut f, b"abcdefgh").unwrap();
        r.respond(&f, &mut out).unwrap();
        let o = out.clone();
        let (p, ok) = parse(&o);
        assert!(ok);
        let Some(TransportSlice::Icmpv4(i)) = p.transport else {
            panic!()
        };
        assert!(
            matches!(i.icmp_type(), etherparse::Icmpv4Type::EchoReply(e) if e.id == 9 && e.seq == 3)
        );
    }
}

//! ARP for IPv4 over Ethernet (RFC 826): a checked view of an untagged ARP frame and the
//! builder of requests and replies (60-byte frames, zero padded).

use std::net::Ipv4Addr;

use crate::bytes;
use crate::ethernet::{ETHERTYPE_ARP, ETHERTYPE_IPV4, HEADER_LEN, MIN_FRAME_LEN};

/// Ethernet header + ARP for IPv4 over Ethernet.
pub const FRAME_LEN: usize = HEADER_LEN + 28;
/// `ar$op` of a request.
pub const OP_REQUEST: u16 = 1;
/// `ar$op` of a reply.
pub const OP_REPLY: u16 = 2;

/// An Ethernet address.
pub type Mac = [u8; 6];

/// Field offsets in an untagged Ethernet frame (RFC 826 "Packet format").
pub mod field {
    /// Hardware type (1, Ethernet).
    pub const HTYPE: usize = 14;
    /// Protocol type (0x0800, IPv4).
    pub const PTYPE: usize = 16;
    /// Hardware address length (6).
    pub const HLEN: usize = 18;
    /// Protocol address length (4).
    pub const PLEN: usize = 19;
    /// Opcode.
    pub const OPER: usize = 20;
    /// Sender hardware address.
    pub const SHA: usize = 22;
    /// Sender protocol address.
    pub const SPA: usize = 28;
    /// Target hardware address.
    pub const THA: usize = 32;
    /// Target protocol address.
    pub const TPA: usize = 38;
}

/// The fields of an ARP packet for IPv4 over Ethernet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arp {
    /// [`OP_REQUEST`], [`OP_REPLY`] or another opcode.
    pub op: u16,
    /// Sender hardware address.
    pub sha: Mac,
    /// Sender protocol address.
    pub spa: Ipv4Addr,
    /// Target hardware address.
    pub tha: Mac,
    /// Target protocol address.
    pub tpa: Ipv4Addr,
}

fn mac_at(f: &[u8], at: usize) -> Mac {
    [f[at], f[at + 1], f[at + 2], f[at + 3], f[at + 4], f[at + 5]]
}

fn ipv4_at(f: &[u8], at: usize) -> Ipv4Addr {
    Ipv4Addr::new(f[at], f[at + 1], f[at + 2], f[at + 3])
}

impl Arp {
    /// The ARP packet of an untagged Ethernet frame, if it is one for IPv4 over Ethernet
    /// (hardware type 1, protocol 0x0800, lengths 6 and 4); `None` otherwise.
    pub fn parse(f: &[u8]) -> Option<Arp> {
        if f.len() < FRAME_LEN
            || bytes::be16(f, 12) != ETHERTYPE_ARP
            || bytes::be16(f, field::HTYPE) != 1
            || bytes::be16(f, field::PTYPE) != ETHERTYPE_IPV4
            || f[field::HLEN] != 6
            || f[field::PLEN] != 4
        {
            return None;
        }
        Some(Arp {
            op: bytes::be16(f, field::OPER),
            sha: mac_at(f, field::SHA),
            spa: ipv4_at(f, field::SPA),
            tha: mac_at(f, field::THA),
            tpa: ipv4_at(f, field::TPA),
        })
    }

    /// Writes this packet as a frame to `eth_dst` from `sha` into `buf[..60]`, zero padded;
    /// returns the frame length, or `None` when `buf` is shorter than 60 bytes.
    pub fn write(&self, eth_dst: Mac, buf: &mut [u8]) -> Option<usize> {
        let buf = buf.get_mut(..MIN_FRAME_LEN)?;
        buf.fill(0);
        buf[0..6].copy_from_slice(&eth_dst);
        buf[6..12].copy_from_slice(&self.sha);
        bytes::set_be16(buf, 12, ETHERTYPE_ARP);
        bytes::set_be16(buf, field::HTYPE, 1);
        bytes::set_be16(buf, field::PTYPE, ETHERTYPE_IPV4);
        buf[field::HLEN] = 6;
        buf[field::PLEN] = 4;
        bytes::set_be16(buf, field::OPER, self.op);
        buf[field::SHA..field::SHA + 6].copy_from_slice(&self.sha);
        buf[field::SPA..field::SPA + 4].copy_from_slice(&self.spa.octets());
        buf[field::THA..field::THA + 6].copy_from_slice(&self.tha);
        buf[field::TPA..field::TPA + 4].copy_from_slice(&self.tpa.octets());
        Some(MIN_FRAME_LEN)
    }

    /// The reply to this request from `our_mac` (RFC 826 "Packet Reception": swap sender
    /// and target, fill in our hardware address, opcode reply).
    pub fn reply(&self, our_mac: Mac) -> Arp {
        Arp {
            op: OP_REPLY,
            sha: our_mac,
            spa: self.tpa,
            tha: self.sha,
            tpa: self.spa,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_then_parse_and_reply() {
        let req = Arp {
            op: OP_REQUEST,
            sha: [2, 0, 0, 0, 0, 1],
            spa: Ipv4Addr::new(10, 0, 0, 2),
            tha: [0; 6],
            tpa: Ipv4Addr::new(10, 0, 0, 1),
        };
        let mut b = [0xeeu8; 64];
        assert_eq!(req.write([0xff; 6], &mut b), Some(60));
        assert_eq!(&b[0..6], &[0xff; 6]);
        assert_eq!(&b[12..14], &[0x08, 0x06]);
        assert!(b[FRAME_LEN..60].iter().all(|&x| x == 0), "padding");
        assert_eq!(Arp::parse(&b[..60]), Some(req));
        let rep = req.reply([2, 0, 0, 0, 0, 9]);
        assert_eq!(
            (rep.op, rep.spa, rep.tpa, rep.tha),
            (OP_REPLY, req.tpa, req.spa, req.sha)
        );
        assert_eq!(req.write([0; 6], &mut [0u8; 59]), None);
    }

    #[test]
    fn parse_refuses_other_hardware_and_short_frames() {
        let mut b = [0u8; 60];
        let a = Arp {
            op: OP_REPLY,
            sha: [2; 6],
            spa: Ipv4Addr::LOCALHOST,
            tha: [3; 6],
            tpa: Ipv4Addr::LOCALHOST,
        };
        a.write([3; 6], &mut b).unwrap();
        assert!(Arp::parse(&b[..FRAME_LEN - 1]).is_none());
        let mut other = b;
        other[field::HLEN] = 8;
        assert!(Arp::parse(&other).is_none());
        let mut ipv6 = b;
        ipv6[field::PTYPE] = 0x86;
        assert!(Arp::parse(&ipv6).is_none());
    }
}

//! The frames of the end-to-end benchmark: what the generator sends, how the receiver
//! recognizes them, and the ARP answers the receiver gives in place of the server's kernel.
//!
//! Every benchmark frame is Ethernet + IPv4 + UDP with correct checksums, and carries in its
//! payload a marker: [`MAGIC`], a run nonce (frames of an earlier run are not counted), the
//! phase (warm-up or measured) and the flow number. Address translation leaves the payload
//! alone, so the receiver can tell flows apart after NAT.

use std::net::Ipv4Addr;

use anyhow::{bail, Result};
use etherparse::PacketBuilder;

/// First payload bytes of every benchmark frame.
pub const MAGIC: [u8; 4] = *b"MSPB";
/// Payload bytes the marker takes: magic, nonce (4), phase (1), flow (2).
pub const MARKER_LEN: usize = 11;
/// Ethernet (14) + IPv4 (20) + UDP (8).
pub const HEADERS_LEN: usize = 42;
/// Bytes of the Ethernet FCS, counted in `--size` (as RFC 2544 counts frame sizes) but not
/// written to the device: veth carries no FCS.
pub const FCS_LEN: usize = 4;
/// Smallest and largest `--size` (Ethernet frames with FCS, 1500-byte MTU).
pub const MIN_SIZE: usize = 64;
pub const MAX_SIZE: usize = 1518;
/// Source port of flow 0; flow `f` uses `BASE_SPORT + f`.
pub const BASE_SPORT: u16 = 10_000;
/// Destination port of every flow.
pub const DPORT: u16 = 9_000;
/// Most flows (source ports 10000..=59999).
pub const MAX_FLOWS: usize = 50_000;

const ETH_IPV4: u16 = 0x0800;
const ETH_ARP: u16 = 0x0806;

/// The phase a frame belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Sent before the measurement, until every flow has made it through once.
    Warm = 0,
    /// The measured burst.
    Blast = 1,
}

/// Addresses of the client side of the benchmark.
#[derive(Debug, Clone, Copy)]
pub struct Endpoints {
    pub src_mac: [u8; 6],
    /// The next hop's MAC (the PIC's `pin`), so that it accepts the frames.
    pub dst_mac: [u8; 6],
    pub src_ip: Ipv4Addr,
    pub dst_ip: Ipv4Addr,
}

/// One prebuilt frame per flow and phase.
#[derive(Debug, Clone)]
pub struct Templates {
    pub warm: Vec<Vec<u8>>,
    pub blast: Vec<Vec<u8>>,
}

/// Builds one frame of `size` bytes (FCS included, see [`FCS_LEN`]) for `flow`.
pub fn frame(ep: &Endpoints, size: usize, nonce: u32, phase: Phase, flow: u16) -> Result<Vec<u8>> {
    if !(MIN_SIZE..=MAX_SIZE).contains(&size) {
        bail!("frame size {size} is outside {MIN_SIZE}..={MAX_SIZE}");
    }
    if usize::from(flow) >= MAX_FLOWS {
        bail!("flow {flow} is out of range (at most {MAX_FLOWS} flows)");
    }
    let payload_len = size - FCS_LEN - HEADERS_LEN;
    let mut payload = vec![0u8; payload_len];
    payload[..4].copy_from_slice(&MAGIC);
    payload[4..8].copy_from_slice(&nonce.to_be_bytes());
    payload[8] = phase as u8;
    payload[9..11].copy_from_slice(&flow.to_be_bytes());
    let builder = PacketBuilder::ethernet2(ep.src_mac, ep.dst_mac)
        .ipv4(ep.src_ip.octets(), ep.dst_ip.octets(), 64)
        .udp(BASE_SPORT + flow, DPORT);
    let mut out = Vec::with_capacity(builder.size(payload_len));
    builder.write(&mut out, &payload)?;
    debug_assert_eq!(out.len(), size - FCS_LEN);
    Ok(out)
}

/// Distinct new connections [`connection`] can make: source ports 10000..=59999 of the
/// client hosts 10.0.0.2..=10.0.0.254.
pub const MAX_CONNECTIONS: u64 = MAX_FLOWS as u64 * 253;

/// Rewrites a copy of flow 0's measured frame (`template`, already in `buf`) into the first
/// frame of new connection `i` (< [`MAX_CONNECTIONS`]): source 10.0.0.(2 + i / 50000),
/// port 10000 + i % 50000, both checksums updated incrementally (RFC 1624 eqn. 3).
pub fn connection(buf: &mut [u8], i: u64) {
    let host = 2 + (i / MAX_FLOWS as u64 % 253) as u8;
    let port = BASE_SPORT + (i % MAX_FLOWS as u64) as u16;
    let (ip, udp) = (14, 14 + 20);
    let old_host = buf[ip + 15];
    let old_port = be16(buf, udp);
    buf[ip + 15] = host;
    buf[udp..udp + 2].copy_from_slice(&port.to_be_bytes());
    // The host byte is the low byte of the address's last 16-bit word.
    let (old_w, new_w) = (u16::from(old_host), u16::from(host));
    let ip_sum = adjust(be16(buf, ip + 10), &[(old_w, new_w)]);
    buf[ip + 10..ip + 12].copy_from_slice(&ip_sum.to_be_bytes());
    let udp_sum = adjust(be16(buf, udp + 6), &[(old_w, new_w), (old_port, port)]);
    // A computed UDP checksum of 0 is sent as all ones (RFC 768).
    let udp_sum = if udp_sum == 0 { 0xffff } else { udp_sum };
    buf[udp + 6..udp + 8].copy_from_slice(&udp_sum.to_be_bytes());
}

/// RFC 1624 eqn. 3: the checksum after 16-bit words change from `old` to `new`.
fn adjust(sum: u16, changes: &[(u16, u16)]) -> u16 {
    let mut acc = u32::from(!sum);
    for &(old, new) in changes {
        acc += u32::from(!old) + u32::from(new);
    }
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// The frames of `flows` flows, both phases.
pub fn templates(ep: &Endpoints, size: usize, nonce: u32, flows: usize) -> Result<Templates> {
    if flows == 0 || flows > MAX_FLOWS {
        bail!("--flows must be between 1 and {MAX_FLOWS}");
    }
    let build = |phase| {
        (0..flows)
            .map(|f| frame(ep, size, nonce, phase, f as u16))
            .collect::<Result<Vec<_>>>()
    };
    Ok(Templates {
        warm: build(Phase::Warm)?,
        blast: build(Phase::Blast)?,
    })
}

/// What the receiver made of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// A benchmark frame of this run.
    Bench {
        phase: Phase,
        flow: u16,
        /// IPv4 header and UDP checksums are right.
        checksums_ok: bool,
        /// The source address is still the client's (not translated).
        untranslated: bool,
    },
    /// An ARP request for our address: the reply was written into the buffer.
    ArpAnswered { len: usize },
    /// Anything else (other traffic, other runs, malformed).
    Other,
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// One's-complement sum of `data` (16-bit big-endian words), folded.
fn sum16(mut acc: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        acc += u32::from(*last) << 8;
    }
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc
}

/// Are the IPv4 header checksum and the UDP checksum (zero: none) of this packet right?
fn ipv4_udp_checksums_ok(ip: &[u8], ihl: usize, udp: &[u8]) -> bool {
    if sum16(0, &ip[..ihl]) != 0xffff {
        return false;
    }
    if be16(udp, 6) == 0 {
        return true;
    }
    let mut acc = sum16(0, &ip[12..20]);
    acc += 17 + udp.len() as u32;
    sum16(acc, udp) == 0xffff
}

/// Classifies a received frame. `buf[..len]` is the frame; an ARP request for `my_ip` is
/// answered in place (`buf` must hold at least 42 bytes) with `my_mac`.
pub fn inspect(
    buf: &mut [u8],
    len: usize,
    nonce: u32,
    client_ip: Ipv4Addr,
    my_mac: [u8; 6],
    my_ip: Ipv4Addr,
) -> Seen {
    let len = len.min(buf.len());
    if len < 14 {
        return Seen::Other;
    }
    match be16(buf, 12) {
        ETH_ARP => answer_arp(buf, len, my_mac, my_ip),
        ETH_IPV4 => {
            let f = &buf[..len];
            let ip = &f[14..];
            if ip.len() < 20 || ip[0] >> 4 != 4 {
                return Seen::Other;
            }
            let ihl = usize::from(ip[0] & 0x0f) * 4;
            let total = usize::from(be16(ip, 2));
            if ihl < 20 || total < ihl + 8 || total > ip.len() || ip[9] != 17 {
                return Seen::Other;
            }
            let udp = &ip[ihl..total];
            let payload = &udp[8..];
            if usize::from(be16(udp, 4)) != udp.len()
                || payload.len() < MARKER_LEN
                || payload[..4] != MAGIC
                || u32::from_be_bytes([payload[4], payload[5], payload[6], payload[7]]) != nonce
            {
                return Seen::Other;
            }
            let phase = match payload[8] {
                0 => Phase::Warm,
                1 => Phase::Blast,
                _ => return Seen::Other,
            };
            Seen::Bench {
                phase,
                flow: be16(payload, 9),
                checksums_ok: ipv4_udp_checksums_ok(ip, ihl, udp),
                untranslated: ip[12..16] == client_ip.octets(),
            }
        }
        _ => Seen::Other,
    }
}

/// Answers an ARP request (Ethernet, IPv4) for `my_ip` in place (RFC 826).
fn answer_arp(buf: &mut [u8], len: usize, my_mac: [u8; 6], my_ip: Ipv4Addr) -> Seen {
    const ARP_LEN: usize = 14 + 28;
    if len < ARP_LEN || buf.len() < ARP_LEN {
        return Seen::Other;
    }
    let a = 14;
    // htype 1 (Ethernet), ptype IPv4, hlen 6, plen 4, op 1 (request).
    if be16(buf, a) != 1
        || be16(buf, a + 2) != ETH_IPV4
        || buf[a + 4] != 6
        || buf[a + 5] != 4
        || be16(buf, a + 6) != 1
        || buf[a + 24..a + 28] != my_ip.octets()
    {
        return Seen::Other;
    }
    let mut sha = [0u8; 6];
    sha.copy_from_slice(&buf[a + 8..a + 14]);
    let mut spa = [0u8; 4];
    spa.copy_from_slice(&buf[a + 14..a + 18]);
    buf[0..6].copy_from_slice(&sha);
    buf[6..12].copy_from_slice(&my_mac);
    buf[a + 6..a + 8].copy_from_slice(&2u16.to_be_bytes());
    buf[a + 8..a + 14].copy_from_slice(&my_mac);
    buf[a + 14..a + 18].copy_from_slice(&my_ip.octets());
    buf[a + 18..a + 24].copy_from_slice(&sha);
    buf[a + 24..a + 28].copy_from_slice(&spa);
    Seen::ArpAnswered { len: ARP_LEN }
}

/// Parses `aa:bb:cc:dd:ee:ff`.
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = s.split(':');
    for b in &mut mac {
        *b = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A rewritten frame is what building the new connection's frame from scratch gives.
    #[test]
    fn connection_frames_match_frames_built_from_scratch() {
        let ep = |src: Ipv4Addr| Endpoints {
            src_mac: [2, 0, 0, 0, 0, 1],
            dst_mac: [2, 0, 0, 0, 0, 2],
            src_ip: src,
            dst_ip: Ipv4Addr::new(198, 51, 100, 7),
        };
        let template = frame(&ep(Ipv4Addr::new(10, 0, 0, 2)), 64, 7, Phase::Blast, 0).unwrap();
        for i in [0u64, 1, 49_999, 50_000, 123_457, MAX_CONNECTIONS - 1] {
            let mut buf = template.clone();
            connection(&mut buf, i);
            let host = 2 + (i / MAX_FLOWS as u64) as u8;
            let port = (i % MAX_FLOWS as u64) as u16;
            let mut want = frame(
                &ep(Ipv4Addr::new(10, 0, 0, host)),
                64,
                7,
                Phase::Blast,
                port,
            )
            .unwrap();
            // The marker keeps flow 0; the checksums are checked on their own.
            want[14 + 20 + 8 + 9..14 + 20 + 8 + 11].copy_from_slice(&[0, 0]);
            want[24..26].copy_from_slice(&buf[24..26]);
            want[40..42].copy_from_slice(&buf[40..42]);
            assert!(
                ipv4_udp_checksums_ok(&buf[14..], 20, &buf[34..]),
                "connection {i}"
            );
            assert_eq!(buf, want, "connection {i}");
        }
    }

    const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
    const ME: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 2);
    const MY_MAC: [u8; 6] = [2, 0, 0, 0, 0, 9];

    fn ep() -> Endpoints {
        Endpoints {
            src_mac: [2, 0, 0, 0, 0, 1],
            dst_mac: [2, 0, 0, 0, 0, 2],
            src_ip: CLIENT,
            dst_ip: Ipv4Addr::new(198, 51, 100, 7),
        }
    }

    fn look(f: &mut [u8], nonce: u32) -> Seen {
        let len = f.len();
        inspect(f, len, nonce, CLIENT, MY_MAC, ME)
    }

    #[test]
    fn frames_have_the_size_and_checksums_etherparse_expects() {
        for size in [64, 65, 128, 1518] {
            let f = frame(&ep(), size, 7, Phase::Blast, 3).unwrap();
            assert_eq!(f.len(), size - FCS_LEN);
            let p = etherparse::SlicedPacket::from_ethernet(&f).unwrap();
            let Some(etherparse::NetSlice::Ipv4(ip)) = p.net else {
                panic!("not IPv4")
            };
            let hdr = ip.header().to_header();
            assert_eq!(hdr.header_checksum, hdr.calc_header_checksum());
            let Some(etherparse::TransportSlice::Udp(udp)) = p.transport else {
                panic!("not UDP")
            };
            assert_eq!(udp.source_port(), BASE_SPORT + 3);
            let want = udp
                .to_header()
                .calc_checksum_ipv4(&hdr, udp.payload())
                .unwrap();
            assert_eq!(udp.checksum(), want);
        }
        assert!(frame(&ep(), 63, 7, Phase::Blast, 0).is_err());
        assert!(frame(&ep(), 1519, 7, Phase::Blast, 0).is_err());
    }

    #[test]
    fn the_receiver_recognizes_phase_flow_and_checksums() {
        let mut f = frame(&ep(), 64, 7, Phase::Warm, 5).unwrap();
        assert_eq!(
            look(&mut f, 7),
            Seen::Bench {
                phase: Phase::Warm,
                flow: 5,
                checksums_ok: true,
                untranslated: true
            }
        );
        // Another run's frame.
        assert_eq!(look(&mut f, 8), Seen::Other);
        // Source NAT with a correct incremental checksum update (RFC 1624) is fine; a
        // rewrite that forgets the UDP checksum is not.
        let mut nat = f.clone();
        let old = u32::from_be_bytes([nat[26], nat[27], nat[28], nat[29]]);
        let new: u32 = u32::from(Ipv4Addr::new(203, 0, 113, 130));
        nat[26..30].copy_from_slice(&new.to_be_bytes());
        let fix = |c: u16| {
            let mut s = u32::from(!c);
            s += (!old >> 16) + (!old & 0xffff) + (new >> 16) + (new & 0xffff);
            while s > 0xffff {
                s = (s & 0xffff) + (s >> 16);
            }
            !(s as u16)
        };
        let ipc = fix(be16(&nat, 24));
        nat[24..26].copy_from_slice(&ipc.to_be_bytes());
        let mut broken = nat.clone();
        let udpc = fix(be16(&nat, 40));
        nat[40..42].copy_from_slice(&udpc.to_be_bytes());
        assert_eq!(
            look(&mut nat, 7),
            Seen::Bench {
                phase: Phase::Warm,
                flow: 5,
                checksums_ok: true,
                untranslated: false
            }
        );
        assert!(matches!(
            look(&mut broken, 7),
            Seen::Bench {
                checksums_ok: false,
                ..
            }
        ));
    }

    #[test]
    fn arp_requests_for_our_address_are_answered() {
        let mut req = vec![0u8; 60];
        req[0..6].copy_from_slice(&[0xff; 6]);
        req[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 4]);
        req[12..14].copy_from_slice(&ETH_ARP.to_be_bytes());
        req[14..22].copy_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
        req[22..28].copy_from_slice(&[2, 0, 0, 0, 0, 4]);
        req[28..32].copy_from_slice(&[203, 0, 113, 1]);
        req[38..42].copy_from_slice(&ME.octets());
        let mut other = req.clone();
        other[38..42].copy_from_slice(&[203, 0, 113, 3]);
        assert_eq!(look(&mut other, 7), Seen::Other);
        assert_eq!(look(&mut req, 7), Seen::ArpAnswered { len: 42 });
        let p = etherparse::SlicedPacket::from_ethernet(&req[..42]).unwrap();
        let Some(etherparse::NetSlice::Arp(arp)) = p.net else {
            panic!("not ARP")
        };
        assert_eq!(arp.operation(), etherparse::ArpOperation::REPLY);
        assert_eq!(arp.sender_hw_addr(), MY_MAC);
        assert_eq!(arp.sender_protocol_addr(), ME.octets());
        assert_eq!(arp.target_hw_addr(), [2, 0, 0, 0, 0, 4]);
        assert_eq!(arp.target_protocol_addr(), [203, 0, 113, 1]);
        assert_eq!(&req[0..6], &[2, 0, 0, 0, 0, 4]);
    }

    #[test]
    fn macs_parse() {
        assert_eq!(
            parse_mac("02:0a:ff:00:01:10"),
            Some([2, 0x0a, 0xff, 0, 1, 0x10])
        );
        assert_eq!(parse_mac("02:0a:ff:00:01"), None);
        assert_eq!(parse_mac("02:0a:ff:00:01:10:11"), None);
        assert_eq!(parse_mac("zz:0a:ff:00:01:10"), None);
    }
}

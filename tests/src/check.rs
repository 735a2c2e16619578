//! Checks on frames an engine produced, written from scratch (RFC 1071 sums) so they are
//! independent of the engine's own checksum code.

/// One's-complement sum of `data` (16-bit big-endian words, odd byte padded) onto `acc`.
pub fn ones_sum(data: &[u8], mut acc: u32) -> u16 {
    for c in data.chunks(2) {
        acc += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
        while acc > 0xffff {
            acc = (acc & 0xffff) + (acc >> 16);
        }
    }
    acc as u16
}

/// True when the IPv4 header checksum and the TCP/UDP/ICMP checksum of an untagged
/// Ethernet/IPv4 frame verify (a UDP checksum of 0 means "none" and passes). Other frames
/// pass unchecked.
pub fn checksums_valid(frame: &[u8]) -> bool {
    if frame.len() < 34 || frame[12..14] != [0x08, 0x00] {
        return true;
    }
    let ip = &frame[14..];
    let ihl = usize::from(ip[0] & 15) * 4;
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    if ihl < 20 || total < ihl || total > ip.len() {
        return false;
    }
    if ones_sum(&ip[..ihl], 0) != 0xffff {
        return false;
    }
    let l4 = &ip[ihl..total];
    let mut pseudo = 0u32;
    for c in ip[12..20].chunks(2) {
        pseudo += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    pseudo += u32::from(ip[9]) + l4.len() as u32;
    match ip[9] {
        6 => ones_sum(l4, pseudo) == 0xffff,
        17 => (l4.len() >= 8 && l4[6] == 0 && l4[7] == 0) || ones_sum(l4, pseudo) == 0xffff,
        1 => ones_sum(l4, 0) == 0xffff,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_a_flipped_bit() {
        let b = etherparse::PacketBuilder::ethernet2([2; 6], [4; 6])
            .ipv4([10, 0, 0, 2], [10, 0, 0, 3], 64)
            .udp(1000, 2000);
        let mut f = Vec::new();
        b.write(&mut f, b"hello").unwrap();
        assert!(checksums_valid(&f));
        let n = f.len();
        f[n - 1] ^= 1;
        assert!(!checksums_valid(&f));
    }
}

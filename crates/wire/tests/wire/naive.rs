//! An independent, deliberately simple checksum checker: walks a frame with its own
//! minimal parser and recomputes every checksum from scratch (RFC 1071: sum of 16-bit
//! words, end-around carry). Shares no code with the crate under test.

fn be16(b: &[u8], off: usize) -> usize {
    (usize::from(b[off]) << 8) | usize::from(b[off + 1])
}

/// Sum of big-endian 16-bit words of the concatenation of `parts` (each even-length
/// except possibly the last), folded to 16 bits.
pub fn fold_sum(parts: &[&[u8]]) -> u16 {
    let mut all = Vec::new();
    for p in parts {
        all.extend_from_slice(p);
    }
    if all.len() % 2 == 1 {
        all.push(0);
    }
    let mut s: u64 = 0;
    for w in all.chunks(2) {
        s += (u64::from(w[0]) << 8) | u64::from(w[1]);
    }
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    s as u16
}

/// The checksum to store for these bytes (their checksum field zeroed).
pub fn checksum(parts: &[&[u8]]) -> u16 {
    !fold_sum(parts)
}

fn ok(parts: &[&[u8]]) -> bool {
    fold_sum(parts) == 0xffff
}

/// Verifies every checksum in the frame; returns the names of those verified.
pub fn verify_frame(f: &[u8]) -> Result<Vec<&'static str>, String> {
    let mut done = Vec::new();
    let (mut et, mut l3) = (be16(f, 12), 14);
    if et == 0x8100 {
        et = be16(f, 16);
        l3 = 18;
    }
    assert!(et == 0x0800 || et == 0x86dd, "not IP");
    verify_ip(&f[l3..], &mut done, false)?;
    Ok(done)
}

fn verify_ip(ip: &[u8], done: &mut Vec<&'static str>, quoted: bool) -> Result<(), String> {
    let v4 = ip[0] >> 4 == 4;
    let (proto, hl, total, frag, pseudo_addrs) = if v4 {
        let hl = usize::from(ip[0] & 15) * 4;
        if !ok(&[&ip[..hl]]) {
            return Err(format!(
                "{}IPv4 header checksum",
                if quoted { "quoted " } else { "" }
            ));
        }
        done.push(if quoted { "quoted ipv4" } else { "ipv4" });
        let frag = be16(ip, 6) & 0x3fff != 0;
        (ip[9], hl, be16(ip, 2), frag, ip[12..20].to_vec())
    } else {
        let mut nh = ip[6];
        let mut off = 40;
        let mut frag = false;
        loop {
            match nh {
                0 | 43 | 60 => {
                    let len = (usize::from(ip[off + 1]) + 1) * 8;
                    nh = ip[off];
                    off += len;
                }
                44 => {
                    frag = true;
                    nh = ip[off];
                    off += 8;
                }
                _ => break,
            }
        }
        (nh, off, 40 + be16(ip, 4), frag, ip[8..40].to_vec())
    };
    if frag || total > ip.len() {
        // The checksum covers bytes that are not here.
        return Ok(());
    }
    let l4 = &ip[hl..total];
    let pseudo = |proto: u8, len: usize| -> Vec<u8> {
        let mut p = pseudo_addrs.clone();
        if v4 {
            p.extend_from_slice(&[0, proto, (len >> 8) as u8, len as u8]);
        } else {
            p.extend_from_slice(&(len as u32).to_be_bytes());
            p.extend_from_slice(&[0, 0, 0, proto]);
        }
        p
    };
    let pre = if quoted { "quoted " } else { "" };
    match (proto, v4) {
        (6, _) => {
            if !ok(&[&pseudo(6, l4.len()), l4]) {
                return Err(format!("{pre}TCP checksum"));
            }
            done.push(if quoted { "quoted tcp" } else { "tcp" });
        }
        (17, _) => {
            let ulen = be16(l4, 4);
            if be16(l4, 6) == 0 {
                if !v4 {
                    return Err(format!("{pre}UDP over IPv6 with checksum 0"));
                }
                done.push(if quoted {
                    "quoted udp (none)"
                } else {
                    "udp (none)"
                });
            } else {
                if !ok(&[&pseudo(17, ulen), &l4[..ulen]]) {
                    return Err(format!("{pre}UDP checksum"));
                }
                done.push(if quoted { "quoted udp" } else { "udp" });
            }
        }
        (1, true) => {
            if !ok(&[l4]) {
                return Err(format!("{pre}ICMP checksum"));
            }
            done.push(if quoted { "quoted icmp" } else { "icmp" });
            if matches!(l4[0], 3 | 4 | 5 | 11 | 12) {
                verify_ip(&l4[8..], done, true)?;
            }
        }
        (58, false) => {
            if !ok(&[&pseudo(58, l4.len()), l4]) {
                return Err(format!("{pre}ICMPv6 checksum"));
            }
            done.push(if quoted { "quoted icmpv6" } else { "icmpv6" });
            if l4[0] < 128 {
                verify_ip(&l4[8..], done, true)?;
            }
        }
        (47, _) if be16(l4, 0) & 0x8000 != 0 => {
            if !ok(&[l4]) {
                return Err(format!("{pre}GRE checksum"));
            }
            done.push("gre");
        }
        _ => {}
    }
    Ok(())
}

/// Fails the test with a readable diff if two frames differ.
pub fn assert_frames_eq(name: &str, got: &[u8], want: &[u8]) {
    if got == want {
        return;
    }
    let mut msg = format!(
        "{name}: frames differ (got {} bytes, want {})\n",
        got.len(),
        want.len()
    );
    for i in 0..got.len().max(want.len()) {
        let g = got.get(i);
        let w = want.get(i);
        if g != w {
            msg += &format!("  byte {i:3}: got {g:02x?} want {w:02x?}\n");
        }
    }
    panic!("{msg}");
}

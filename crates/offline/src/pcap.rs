//! Reading pcap and pcapng captures from memory, with errors that name the byte offset.
//!
//! Classic pcap (both byte orders, microsecond and nanosecond magic) and pcapng (Section
//! Header, Interface Description with `if_tsresol`, Enhanced/Simple/obsolete Packet blocks;
//! other blocks are skipped). Only Ethernet link types are accepted: the engine works on
//! Ethernet frames. Writing uses `pcap-file`.
//!
//! Every length is checked before it is used: a record or block shorter than its header,
//! a length that is not a multiple of 4 or runs past the end of the file, a trailer that
//! differs from the header, a captured length over the snapshot length, the original length
//! or [`MAX_FRAME`], an option that runs past its block. Each is a [`PcapError`] naming the
//! byte offset of the record, block or field; the reader never panics and never hands out
//! bytes of one block as part of another's frame. The reasons this reader is not
//! `pcap-file`'s are in docs/architecture.md ("Capture reader").

use std::fmt;

/// One captured frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// Nanoseconds since the Unix epoch.
    pub ts_nanos: u64,
    pub data: &'a [u8],
    /// Byte offset of the record in the file.
    pub offset: usize,
}

/// A malformed capture: what is wrong and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PcapError {
    /// Byte offset (from the start of the file) of the record, block or field at fault.
    pub offset: usize,
    pub message: String,
}

impl fmt::Display for PcapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at byte offset {}: {}", self.offset, self.message)
    }
}

fn err<T>(offset: usize, message: impl Into<String>) -> Result<T, PcapError> {
    Err(PcapError {
        offset,
        message: message.into(),
    })
}

const LINKTYPE_ETHERNET: u32 = 1;
const PCAP_MAGIC_US: u32 = 0xa1b2_c3d4;
const PCAP_MAGIC_NS: u32 = 0xa1b2_3c4d;
const PCAPNG_SHB: u32 = 0x0a0d_0d0a;
const PCAPNG_BOM: u32 = 0x1a2b_3c4d;
const BT_IDB: u32 = 1;
const BT_PB: u32 = 2;
const BT_SPB: u32 = 3;
const BT_EPB: u32 = 6;
/// Bytes of a classic pcap file header.
const PCAP_HEADER: usize = 24;
/// Bytes of a classic pcap record header.
const PCAP_RECORD_HEADER: usize = 16;
/// Bytes of a pcapng block's type, length and trailing length.
const BLOCK_OVERHEAD: usize = 12;
/// The largest captured frame accepted: anything longer is a corrupt length, not a frame
/// (the largest jumbo frame is 9 KiB; libpcap's own limit is 256 KiB).
pub const MAX_FRAME: usize = 256 * 1024;

/// Is `head` (the first bytes of a file, at least 4 when the file has them) the start of a
/// pcap or pcapng file? Lets a caller refuse a file before reading all of it.
pub fn check_magic(head: &[u8]) -> Result<(), PcapError> {
    let Some(m) = head.first_chunk::<4>() else {
        return err(0, "file too short for a pcap or pcapng header");
    };
    let (le, be) = (u32::from_le_bytes(*m), u32::from_be_bytes(*m));
    if le == PCAPNG_SHB
        || [PCAP_MAGIC_US, PCAP_MAGIC_NS]
            .iter()
            .any(|&x| x == le || x == be)
    {
        Ok(())
    } else {
        err(0, format!("not a pcap or pcapng file (magic {le:#010x})"))
    }
}

#[derive(Debug, Clone, Copy)]
enum Format {
    Pcap { nanos: bool, snaplen: u32 },
    PcapNg,
}

/// A pcapng interface: what its packets need.
#[derive(Debug, Clone, Copy)]
struct Iface {
    link: u32,
    /// Timestamp units per second (`if_tsresol`; microseconds by default).
    units: u64,
    /// 0: no limit.
    snaplen: u32,
}

/// Iterator over the frames of a capture held in memory. After the first error it ends.
#[derive(Debug)]
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    format: Format,
    /// pcapng: the interfaces of the current section.
    ifaces: Vec<Iface>,
    big: bool,
    done: bool,
}

/// Rounds `n` up to a multiple of 4.
fn pad4(n: usize) -> usize {
    n.div_ceil(4) * 4
}

impl<'a> Reader<'a> {
    /// Checks the file header.
    pub fn new(data: &'a [u8]) -> Result<Self, PcapError> {
        check_magic(data)?;
        let m_le = u32::from_le_bytes([data[0], data[1], data[2], data[3]]);
        let mut r = Reader {
            data,
            pos: 0,
            format: Format::PcapNg,
            ifaces: Vec::new(),
            big: false,
            done: false,
        };
        if m_le == PCAPNG_SHB {
            return Ok(r);
        }
        r.big = m_le != PCAP_MAGIC_US && m_le != PCAP_MAGIC_NS;
        let nanos = if r.big {
            u32::from_be_bytes([data[0], data[1], data[2], data[3]]) == PCAP_MAGIC_NS
        } else {
            m_le == PCAP_MAGIC_NS
        };
        if data.len() < PCAP_HEADER {
            return err(
                0,
                format!(
                    "truncated pcap file header: {PCAP_HEADER} bytes needed, {} present",
                    data.len()
                ),
            );
        }
        let major = r.u16_at(4)?;
        if major != 2 {
            return err(4, format!("pcap version {major} is not supported (2 is)"));
        }
        let snaplen = r.u32_at(16)?;
        let link = r.u32_at(20)? & 0x0fff_ffff;
        if link != LINKTYPE_ETHERNET {
            return err(20, format!("link type {link} is not Ethernet (1)"));
        }
        r.format = Format::Pcap { nanos, snaplen };
        r.pos = PCAP_HEADER;
        Ok(r)
    }

    fn bytes<const N: usize>(&self, off: usize) -> Result<[u8; N], PcapError> {
        match off
            .checked_add(N)
            .and_then(|end| self.data.get(off..end))
            .and_then(|b| b.first_chunk::<N>())
        {
            Some(b) => Ok(*b),
            None => err(off, format!("truncated field: {N} bytes needed")),
        }
    }

    fn u32_at(&self, off: usize) -> Result<u32, PcapError> {
        let b = self.bytes::<4>(off)?;
        Ok(if self.big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }

    fn u16_at(&self, off: usize) -> Result<u16, PcapError> {
        let b = self.bytes::<2>(off)?;
        Ok(if self.big {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    }

    /// Checks a captured length against the frame limit, the snapshot length and the
    /// original length; `at` is the offset of the captured-length field.
    fn check_caplen(at: usize, cap: usize, snaplen: u32, orig: u32) -> Result<(), PcapError> {
        if cap > MAX_FRAME {
            return err(
                at,
                format!("captured length {cap} exceeds the {MAX_FRAME}-byte limit of a frame"),
            );
        }
        if snaplen != 0 && cap > snaplen as usize {
            return err(
                at,
                format!("captured length {cap} exceeds the snapshot length {snaplen}"),
            );
        }
        if cap > orig as usize {
            return err(
                at,
                format!("captured length {cap} exceeds the original length {orig}"),
            );
        }
        Ok(())
    }

    fn next_pcap(&mut self, nanos: bool, snaplen: u32) -> Result<Option<Record<'a>>, PcapError> {
        let off = self.pos;
        let left = self.data.len() - off;
        if left == 0 {
            return Ok(None);
        }
        if left < PCAP_RECORD_HEADER {
            return err(
                off,
                format!(
                    "truncated record header: {PCAP_RECORD_HEADER} bytes needed, {left} present"
                ),
            );
        }
        let (sec, frac) = (self.u32_at(off)?, self.u32_at(off + 4)?);
        let (incl, orig) = (self.u32_at(off + 8)? as usize, self.u32_at(off + 12)?);
        Self::check_caplen(off + 8, incl, snaplen, orig)?;
        let start = off + PCAP_RECORD_HEADER;
        if incl > left - PCAP_RECORD_HEADER {
            return err(
                off,
                format!(
                    "truncated record: {incl} bytes announced, {} present",
                    left - PCAP_RECORD_HEADER
                ),
            );
        }
        self.pos = start + incl;
        let frac = u64::from(frac) * if nanos { 1 } else { 1000 };
        Ok(Some(Record {
            ts_nanos: u64::from(sec) * 1_000_000_000 + frac,
            data: &self.data[start..start + incl],
            offset: off,
        }))
    }

    /// The interface a packet block names, with Ethernet checked.
    fn iface(&self, off: usize, id: usize) -> Result<Iface, PcapError> {
        let Some(&i) = self.ifaces.get(id) else {
            return err(off, format!("packet for undeclared interface {id}"));
        };
        if i.link != LINKTYPE_ETHERNET {
            return err(off, format!("link type {} is not Ethernet (1)", i.link));
        }
        Ok(i)
    }

    /// Reads an Interface Description Block's body (`body` within the file).
    fn interface(&self, off: usize, body: std::ops::Range<usize>) -> Result<Iface, PcapError> {
        if body.len() < 8 {
            return err(
                off,
                format!(
                    "interface description block of {} bytes is shorter than its 20-byte minimum",
                    body.len() + BLOCK_OVERHEAD
                ),
            );
        }
        let link = u32::from(self.u16_at(body.start)?);
        let snaplen = self.u32_at(body.start + 4)?;
        let mut units = 1_000_000u64;
        // Options: code (2), length (2), value padded to 4; code 0 ends them.
        let mut o = body.start + 8;
        while body.end - o >= 4 {
            let code = self.u16_at(o)?;
            let olen = usize::from(self.u16_at(o + 2)?);
            if code == 0 {
                break;
            }
            if olen > body.end - o - 4 {
                return err(
                    o,
                    format!("option {code} of {olen} bytes runs past the end of its block"),
                );
            }
            if code == 9 {
                if olen != 1 {
                    return err(o, format!("if_tsresol of {olen} bytes (1 expected)"));
                }
                let v = self.bytes::<1>(o + 4)?[0];
                let exp = u32::from(v & 0x7f);
                let u = if v & 0x80 == 0 {
                    10u64.checked_pow(exp)
                } else {
                    2u64.checked_pow(exp)
                };
                units = match u {
                    Some(u) => u,
                    None => return err(o, format!("unsupported if_tsresol {v:#04x}")),
                };
            }
            o += (4 + pad4(olen)).min(body.end - o);
        }
        Ok(Iface {
            link,
            units,
            snaplen,
        })
    }

    fn next_pcapng(&mut self) -> Result<Option<Record<'a>>, PcapError> {
        loop {
            let off = self.pos;
            let left = self.data.len() - off;
            if left == 0 {
                return Ok(None);
            }
            if left < BLOCK_OVERHEAD {
                return err(
                    off,
                    format!(
                        "truncated block header: {BLOCK_OVERHEAD} bytes needed, {left} present"
                    ),
                );
            }
            let raw_type = u32::from_le_bytes(self.bytes::<4>(off)?);
            if raw_type == PCAPNG_SHB {
                // Byte order comes from the section header's byte-order magic.
                let bom = u32::from_le_bytes(self.bytes::<4>(off + 8)?);
                self.big = match bom {
                    PCAPNG_BOM => false,
                    x if x.swap_bytes() == PCAPNG_BOM => true,
                    _ => return err(off + 8, format!("bad pcapng byte-order magic {bom:#010x}")),
                };
                self.ifaces.clear();
            }
            let btype = self.u32_at(off)?;
            let len = self.u32_at(off + 4)? as usize;
            if len < BLOCK_OVERHEAD {
                return err(
                    off,
                    format!("block length {len} is shorter than the {BLOCK_OVERHEAD}-byte block header and trailer"),
                );
            }
            if !len.is_multiple_of(4) {
                return err(off, format!("block length {len} is not a multiple of 4"));
            }
            if len > left {
                return err(
                    off,
                    format!("truncated block: {len} bytes announced, {left} present"),
                );
            }
            let trailer = self.u32_at(off + len - 4)?;
            if trailer as usize != len {
                return err(
                    off + len - 4,
                    format!("block trailer length {trailer} differs from the block length {len}"),
                );
            }
            self.pos = off + len;
            let body = off + 8..off + len - 4;
            match btype {
                PCAPNG_SHB => {
                    if body.len() < 16 {
                        return err(
                            off,
                            format!(
                                "section header block of {len} bytes is shorter than its 28-byte minimum"
                            ),
                        );
                    }
                    let major = self.u16_at(body.start + 4)?;
                    if major != 1 {
                        return err(
                            body.start + 4,
                            format!("pcapng version {major} is not supported (1 is)"),
                        );
                    }
                }
                BT_IDB => {
                    let iface = self.interface(off, body)?;
                    self.ifaces.push(iface);
                }
                BT_EPB | BT_PB => {
                    if body.len() < 20 {
                        return err(
                            off,
                            format!(
                                "packet block of {len} bytes is shorter than its 32-byte minimum"
                            ),
                        );
                    }
                    let id = if btype == BT_EPB {
                        self.u32_at(body.start)? as usize
                    } else {
                        usize::from(self.u16_at(body.start)?)
                    };
                    let iface = self.iface(off, id)?;
                    let ts = (u64::from(self.u32_at(body.start + 4)?) << 32)
                        | u64::from(self.u32_at(body.start + 8)?);
                    let cap = self.u32_at(body.start + 12)? as usize;
                    let orig = self.u32_at(body.start + 16)?;
                    Self::check_caplen(body.start + 12, cap, iface.snaplen, orig)?;
                    let dstart = body.start + 20;
                    if pad4(cap) > body.end - dstart {
                        return err(
                            off,
                            format!(
                                "packet data of {cap} bytes runs past the end of its block ({} bytes left)",
                                body.end - dstart
                            ),
                        );
                    }
                    let nanos = u128::from(ts) * 1_000_000_000 / u128::from(iface.units);
                    let Ok(ts_nanos) = u64::try_from(nanos) else {
                        return err(body.start + 4, "timestamp beyond the year 2554");
                    };
                    return Ok(Some(Record {
                        ts_nanos,
                        data: &self.data[dstart..dstart + cap],
                        offset: off,
                    }));
                }
                BT_SPB => {
                    if body.is_empty() {
                        return err(
                            off,
                            format!("simple packet block of {len} bytes is shorter than its 16-byte minimum"),
                        );
                    }
                    let iface = self.iface(off, 0)?;
                    let orig = self.u32_at(body.start)?;
                    let dstart = body.start + 4;
                    let avail = body.end - dstart;
                    // The captured length is the original length cut to the snapshot length.
                    let cap = match iface.snaplen {
                        0 => orig as usize,
                        s => orig.min(s) as usize,
                    };
                    if cap > MAX_FRAME {
                        return err(
                            body.start,
                            format!("captured length {cap} exceeds the {MAX_FRAME}-byte limit of a frame"),
                        );
                    }
                    if pad4(cap) != avail {
                        return err(
                            off,
                            format!("simple packet block holds {avail} bytes of data for a {cap}-byte packet"),
                        );
                    }
                    // Simple packet blocks carry no timestamp.
                    return Ok(Some(Record {
                        ts_nanos: 0,
                        data: &self.data[dstart..dstart + cap],
                        offset: off,
                    }));
                }
                _ => {}
            }
        }
    }
}

impl<'a> Iterator for Reader<'a> {
    type Item = Result<Record<'a>, PcapError>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let r = match self.format {
            Format::Pcap { nanos, snaplen } => self.next_pcap(nanos, snaplen),
            Format::PcapNg => self.next_pcapng(),
        };
        match r {
            Ok(Some(rec)) => Some(Ok(rec)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pcap_le(records: &[(u32, u32, &[u8])]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&PCAP_MAGIC_US.to_le_bytes());
        v.extend_from_slice(&2u16.to_le_bytes());
        v.extend_from_slice(&4u16.to_le_bytes());
        v.extend_from_slice(&[0; 8]);
        v.extend_from_slice(&65535u32.to_le_bytes());
        v.extend_from_slice(&1u32.to_le_bytes());
        for (s, us, d) in records {
            v.extend_from_slice(&s.to_le_bytes());
            v.extend_from_slice(&us.to_le_bytes());
            v.extend_from_slice(&(d.len() as u32).to_le_bytes());
            v.extend_from_slice(&(d.len() as u32).to_le_bytes());
            v.extend_from_slice(d);
        }
        v
    }

    #[test]
    fn reads_classic_pcap() {
        let f = pcap_le(&[(10, 5, &[1, 2, 3]), (11, 0, &[4])]);
        let recs: Vec<_> = Reader::new(&f).unwrap().collect::<Result<_, _>>().unwrap();
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].ts_nanos, 10_000_005_000);
        assert_eq!(recs[0].data, &[1, 2, 3]);
        assert_eq!(recs[1].offset, 24 + 16 + 3);
    }

    #[test]
    fn truncated_record_names_offset() {
        let mut f = pcap_le(&[(10, 5, &[1, 2, 3]), (11, 0, &[4, 5, 6, 7])]);
        f.truncate(f.len() - 2);
        let e = Reader::new(&f)
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap_err();
        assert_eq!(e.offset, 43);
        assert!(e.to_string().contains("truncated record"), "{e}");
    }

    #[test]
    fn rejects_garbage_and_non_ethernet() {
        assert!(Reader::new(b"hello world").is_err());
        let mut f = pcap_le(&[]);
        f[20] = 101;
        assert!(Reader::new(&f)
            .unwrap_err()
            .to_string()
            .contains("not Ethernet"));
    }

    fn block(t: u32, body: &[u8]) -> Vec<u8> {
        let len = 12 + body.len().div_ceil(4) * 4;
        let mut v = Vec::new();
        v.extend_from_slice(&t.to_le_bytes());
        v.extend_from_slice(&(len as u32).to_le_bytes());
        v.extend_from_slice(body);
        v.resize(8 + body.len().div_ceil(4) * 4, 0);
        v.extend_from_slice(&(len as u32).to_le_bytes());
        v
    }

    #[test]
    fn reads_pcapng_with_tsresol() {
        let mut f = Vec::new();
        let mut shb = Vec::new();
        shb.extend_from_slice(&PCAPNG_BOM.to_le_bytes());
        shb.extend_from_slice(&1u16.to_le_bytes());
        shb.extend_from_slice(&0u16.to_le_bytes());
        shb.extend_from_slice(&u64::MAX.to_le_bytes());
        f.extend(block(PCAPNG_SHB, &shb));
        let mut idb = Vec::new();
        idb.extend_from_slice(&1u16.to_le_bytes());
        idb.extend_from_slice(&0u16.to_le_bytes());
        idb.extend_from_slice(&0u32.to_le_bytes());
        idb.extend_from_slice(&9u16.to_le_bytes()); // if_tsresol
        idb.extend_from_slice(&1u16.to_le_bytes());
        idb.extend_from_slice(&[9, 0, 0, 0]); // 10^-9
        idb.extend_from_slice(&[0, 0, 0, 0]);
        f.extend(block(BT_IDB, &idb));
        let ts: u64 = 1_500_000_000_123;
        let mut epb = Vec::new();
        epb.extend_from_slice(&0u32.to_le_bytes());
        epb.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
        epb.extend_from_slice(&(ts as u32).to_le_bytes());
        epb.extend_from_slice(&3u32.to_le_bytes());
        epb.extend_from_slice(&3u32.to_le_bytes());
        epb.extend_from_slice(&[7, 8, 9]);
        f.extend(block(BT_EPB, &epb));
        let recs: Vec<_> = Reader::new(&f).unwrap().collect::<Result<_, _>>().unwrap();
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].ts_nanos, ts);
        assert_eq!(recs[0].data, &[7, 8, 9]);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            if let Ok(r) = Reader::new(&data) {
                for _ in r.take(1000) {}
            }
        }
    }
}

//! Reading pcap and pcapng captures from memory, with errors that name the byte offset.
//!
//! Classic pcap (both byte orders, microsecond and nanosecond magic) and pcapng (Section
//! Header, Interface Description with `if_tsresol`, Enhanced/Simple/obsolete Packet blocks;
//! other blocks are skipped). Only Ethernet link types are accepted: the engine works on
//! Ethernet frames. Writing uses `pcap-file`.

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
/// Records larger than this are corrupt, not jumbo frames.
const MAX_RECORD: usize = 256 * 1024;

#[derive(Debug, Clone, Copy)]
enum Format {
    Pcap { nanos: bool },
    PcapNg,
}

/// Iterator over the frames of a capture held in memory.
#[derive(Debug)]
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    format: Format,
    /// pcapng: per interface (link type, timestamp units per second, snaplen).
    ifaces: Vec<(u32, u64)>,
    big: bool,
    done: bool,
}

impl<'a> Reader<'a> {
    /// Checks the file header.
    pub fn new(data: &'a [u8]) -> Result<Self, PcapError> {
        if data.len() < 4 {
            return err(0, "file too short for a pcap or pcapng header");
        }
        let m_le = u32::from_le_bytes([data[0], data[1], data[2], data[3]]);
        let m_be = u32::from_be_bytes([data[0], data[1], data[2], data[3]]);
        let mut r = Reader {
            data,
            pos: 0,
            format: Format::PcapNg,
            ifaces: Vec::new(),
            big: false,
            done: false,
        };
        if m_le == PCAPNG_SHB {
            r.format = Format::PcapNg;
            return Ok(r);
        }
        let (big, nanos) = match (m_le, m_be) {
            (PCAP_MAGIC_US, _) => (false, false),
            (PCAP_MAGIC_NS, _) => (false, true),
            (_, PCAP_MAGIC_US) => (true, false),
            (_, PCAP_MAGIC_NS) => (true, true),
            _ => return err(0, format!("not a pcap or pcapng file (magic {m_le:#010x})")),
        };
        if data.len() < 24 {
            return err(0, "truncated pcap file header (24 bytes expected)");
        }
        r.big = big;
        r.format = Format::Pcap { nanos };
        let link = r.u32_at(20).unwrap_or(0) & 0x0fff_ffff;
        if link != LINKTYPE_ETHERNET {
            return err(20, format!("link type {link} is not Ethernet (1)"));
        }
        r.pos = 24;
        Ok(r)
    }

    fn u32_at(&self, off: usize) -> Option<u32> {
        let b = self.data.get(off..off + 4)?;
        let a = [b[0], b[1], b[2], b[3]];
        Some(if self.big {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        })
    }

    fn u16_at(&self, off: usize) -> Option<u16> {
        let b = self.data.get(off..off + 2)?;
        Some(if self.big {
            u16::from_be_bytes([b[0], b[1]])
        } else {
            u16::from_le_bytes([b[0], b[1]])
        })
    }

    fn next_pcap(&mut self, nanos: bool) -> Option<Result<Record<'a>, PcapError>> {
        let off = self.pos;
        if off == self.data.len() {
            return None;
        }
        if self.data.len() - off < 16 {
            return Some(err(off, "truncated record header (16 bytes expected)"));
        }
        let (sec, frac, incl) = (
            self.u32_at(off)?,
            self.u32_at(off + 4)?,
            self.u32_at(off + 8)? as usize,
        );
        if incl > MAX_RECORD {
            return Some(err(off, format!("record length {incl} is implausible")));
        }
        let start = off + 16;
        let Some(data) = self.data.get(start..start + incl) else {
            return Some(err(
                off,
                format!(
                    "truncated record: {incl} bytes announced, {} present",
                    self.data.len() - start
                ),
            ));
        };
        self.pos = start + incl;
        let ts = u64::from(sec) * 1_000_000_000
            + if nanos {
                u64::from(frac)
            } else {
                u64::from(frac) * 1000
            };
        Some(Ok(Record {
            ts_nanos: ts,
            data,
            offset: off,
        }))
    }

    fn next_pcapng(&mut self) -> Option<Result<Record<'a>, PcapError>> {
        loop {
            let off = self.pos;
            if off == self.data.len() {
                return None;
            }
            if self.data.len() - off < 12 {
                return Some(err(off, "truncated pcapng block header"));
            }
            let raw_type = u32::from_le_bytes(self.data[off..off + 4].try_into().ok()?);
            if raw_type == PCAPNG_SHB {
                // Byte order comes from the section header's byte-order magic.
                let bom = u32::from_le_bytes(self.data[off + 8..off + 12].try_into().ok()?);
                self.big = match bom {
                    PCAPNG_BOM => false,
                    x if x.swap_bytes() == PCAPNG_BOM => true,
                    _ => return Some(err(off + 8, "bad pcapng byte-order magic")),
                };
                self.ifaces.clear();
            }
            let btype = self.u32_at(off)?;
            let len = self.u32_at(off + 4)? as usize;
            if len < 12 || !len.is_multiple_of(4) || len > MAX_RECORD + 64 {
                return Some(err(off, format!("bad pcapng block length {len}")));
            }
            if self.data.len() - off < len {
                return Some(err(
                    off,
                    format!(
                        "truncated pcapng block: {len} bytes announced, {} present",
                        self.data.len() - off
                    ),
                ));
            }
            if self.u32_at(off + len - 4) != Some(len as u32) {
                return Some(err(off + len - 4, "pcapng block trailer length mismatch"));
            }
            self.pos = off + len;
            let body = off + 8..off + len - 4;
            match btype {
                BT_IDB => {
                    if body.len() < 8 {
                        return Some(err(off, "truncated interface description block"));
                    }
                    let link = u32::from(self.u16_at(body.start)?);
                    let mut units = 1_000_000u64;
                    // Options: code(2) len(2) value(padded to 4).
                    let mut o = body.start + 8;
                    while o + 4 <= body.end {
                        let code = self.u16_at(o)?;
                        let olen = self.u16_at(o + 2)? as usize;
                        if code == 0 {
                            break;
                        }
                        if code == 9 && olen >= 1 {
                            let v = *self.data.get(o + 4)?;
                            let exp = u32::from(v & 0x7f);
                            units = if v & 0x80 == 0 {
                                10u64.checked_pow(exp).unwrap_or(0)
                            } else {
                                2u64.checked_pow(exp).unwrap_or(0)
                            };
                            if units == 0 {
                                return Some(err(o, "unsupported if_tsresol"));
                            }
                        }
                        o += 4 + olen.div_ceil(4) * 4;
                    }
                    self.ifaces.push((link, units));
                }
                BT_EPB | BT_PB => {
                    if body.len() < 20 {
                        return Some(err(off, "truncated packet block"));
                    }
                    let iface = if btype == BT_EPB {
                        self.u32_at(body.start)? as usize
                    } else {
                        usize::from(self.u16_at(body.start)?)
                    };
                    let Some(&(link, units)) = self.ifaces.get(iface) else {
                        return Some(err(off, format!("packet for undeclared interface {iface}")));
                    };
                    if link != LINKTYPE_ETHERNET {
                        return Some(err(off, format!("link type {link} is not Ethernet (1)")));
                    }
                    let ts = (u64::from(self.u32_at(body.start + 4)?) << 32)
                        | u64::from(self.u32_at(body.start + 8)?);
                    let cap = self.u32_at(body.start + 12)? as usize;
                    let dstart = body.start + 20;
                    if dstart + cap > body.end {
                        return Some(err(off, "packet block data exceeds the block"));
                    }
                    let ts_nanos = (u128::from(ts) * 1_000_000_000 / u128::from(units)) as u64;
                    return Some(Ok(Record {
                        ts_nanos,
                        data: &self.data[dstart..dstart + cap],
                        offset: off,
                    }));
                }
                BT_SPB => {
                    let Some(&(link, _)) = self.ifaces.first() else {
                        return Some(err(off, "simple packet block before any interface"));
                    };
                    if link != LINKTYPE_ETHERNET {
                        return Some(err(off, format!("link type {link} is not Ethernet (1)")));
                    }
                    let orig = self.u32_at(body.start)? as usize;
                    let dstart = body.start + 4;
                    let cap = orig.min(body.end - dstart);
                    // Simple packet blocks carry no timestamp.
                    return Some(Ok(Record {
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
            Format::Pcap { nanos, .. } => self.next_pcap(nanos),
            Format::PcapNg => self.next_pcapng(),
        };
        if matches!(r, Some(Err(_)) | None) {
            self.done = true;
        }
        r
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

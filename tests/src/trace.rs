//! A time-ordered list of Ethernet frames and its pcap / pcapng encodings.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::Path;
use std::time::Duration;

use pcap_file::pcap::{PcapHeader, PcapPacket, PcapReader, PcapWriter};
use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::{Block, PcapNgReader, PcapNgWriter};
use pcap_file::{DataLink, Endianness, PcapError, TsResolution};

use crate::host::Port;

/// Wall-clock time that trace time 0 maps to in written files: 2025-01-01T00:00:00Z.
pub const DEFAULT_EPOCH: Duration = Duration::from_secs(1_735_689_600);

/// Snap length written in file headers.
const SNAPLEN: u32 = 65_535;

/// One Ethernet frame as it arrives at the PIC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Time since the start of the trace.
    pub ts: Duration,
    /// The router port the frame arrives on.
    pub port: Port,
    /// The whole Ethernet II frame, without FCS.
    pub data: Vec<u8>,
}

/// Frames sorted by timestamp (frames with equal timestamps keep the order they were
/// added in). File timestamps are [`Trace::epoch`] + [`Frame::ts`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trace {
    frames: Vec<Frame>,
    epoch: Duration,
}

impl Default for Trace {
    fn default() -> Self {
        Trace::new()
    }
}

impl Trace {
    /// An empty trace starting at [`DEFAULT_EPOCH`].
    pub fn new() -> Trace {
        Trace::with_epoch(DEFAULT_EPOCH)
    }

    /// An empty trace whose time 0 is written as `epoch` (time since 1970-01-01 UTC).
    pub fn with_epoch(epoch: Duration) -> Trace {
        Trace {
            frames: Vec::new(),
            epoch,
        }
    }

    /// The wall-clock time of trace time 0.
    pub fn epoch(&self) -> Duration {
        self.epoch
    }

    /// The frames in time order.
    pub fn frames(&self) -> &[Frame] {
        &self.frames
    }

    /// Takes the frames out, in time order.
    pub fn into_frames(self) -> Vec<Frame> {
        self.frames
    }

    /// Number of frames.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// No frames?
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Timestamp of the last frame (zero for an empty trace).
    pub fn end(&self) -> Duration {
        self.frames.last().map_or(Duration::ZERO, |f| f.ts)
    }

    /// Inserts one frame at its place in time (after frames with the same timestamp).
    pub fn push(&mut self, frame: Frame) {
        let at = self.frames.partition_point(|f| f.ts <= frame.ts);
        self.frames.insert(at, frame);
    }

    /// Adds all frames of `other` (its epoch is ignored).
    pub fn merge(&mut self, other: Trace) {
        self.frames.extend(other.frames);
        self.settle();
    }

    /// Appends without keeping the order; [`Trace::settle`] must follow.
    pub(crate) fn push_unsorted(&mut self, frame: Frame) {
        self.frames.push(frame);
    }

    /// Restores time order after `push_unsorted` (a stable sort, linear on sorted runs).
    pub(crate) fn settle(&mut self) {
        self.frames.sort_by_key(|f| f.ts);
    }

    /// Writes a classic pcap file (LINKTYPE_ETHERNET, microsecond timestamps, native byte
    /// order) — the format every tool reads.
    pub fn write_pcap(&self, path: impl AsRef<Path>) -> io::Result<()> {
        self.write_pcap_with(path, TsResolution::MicroSecond)
    }

    /// Writes a pcap file with nanosecond timestamps.
    pub fn write_pcap_ns(&self, path: impl AsRef<Path>) -> io::Result<()> {
        self.write_pcap_with(path, TsResolution::NanoSecond)
    }

    fn write_pcap_with(&self, path: impl AsRef<Path>, res: TsResolution) -> io::Result<()> {
        let mut out = BufWriter::new(File::create(path)?);
        self.write_pcap_to(&mut out, res)?;
        out.flush()
    }

    /// Writes a classic pcap stream to `w`.
    pub fn write_pcap_to<W: Write>(&self, w: W, res: TsResolution) -> io::Result<()> {
        let header = PcapHeader {
            snaplen: SNAPLEN,
            datalink: DataLink::ETHERNET,
            ts_resolution: res,
            endianness: Endianness::native(),
            ..PcapHeader::default()
        };
        let mut writer = PcapWriter::with_header(w, header).map_err(pcap_err)?;
        for f in &self.frames {
            let ts = self.epoch + f.ts;
            let ts = match res {
                TsResolution::MicroSecond => Duration::from_micros(ts.as_micros() as u64),
                TsResolution::NanoSecond => ts,
            };
            writer
                .write_packet(&PcapPacket::new(ts, f.data.len() as u32, &f.data))
                .map_err(pcap_err)?;
        }
        Ok(())
    }

    /// Writes a pcapng file with two interfaces, `ge-0/0/0` (id 0) and `ge-0/0/1` (id 1);
    /// every frame is recorded on the interface it arrives on. Timestamps in nanoseconds
    /// (`if_tsresol` = 9).
    pub fn write_pcapng(&self, path: impl AsRef<Path>) -> io::Result<()> {
        let mut out = BufWriter::new(File::create(path)?);
        self.write_pcapng_to(&mut out)?;
        out.flush()
    }

    /// Writes a pcapng stream to `w`.
    pub fn write_pcapng_to<W: Write>(&self, w: W) -> io::Result<()> {
        let mut writer = PcapNgWriter::new(w).map_err(pcap_err)?;
        for port in [Port::Inside, Port::Outside] {
            let idb = InterfaceDescriptionBlock {
                linktype: DataLink::ETHERNET,
                snaplen: SNAPLEN,
                options: vec![
                    InterfaceDescriptionOption::IfName(Cow::Borrowed(port.junos_name())),
                    // pcap-file writes enhanced packet timestamps in nanoseconds.
                    InterfaceDescriptionOption::IfTsResol(9),
                ],
            };
            writer.write_pcapng_block(idb).map_err(pcap_err)?;
        }
        for f in &self.frames {
            let epb = EnhancedPacketBlock {
                interface_id: f.port.index(),
                timestamp: self.epoch + f.ts,
                original_len: f.data.len() as u32,
                data: Cow::Borrowed(&f.data),
                options: vec![],
            };
            writer.write_pcapng_block(epb).map_err(pcap_err)?;
        }
        Ok(())
    }
}

fn pcap_err(e: PcapError) -> io::Error {
    match e {
        PcapError::IoError(e) => e,
        other => io::Error::new(io::ErrorKind::InvalidData, other),
    }
}

/// A frame read back from a capture file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CapturedFrame {
    /// Absolute timestamp (since 1970-01-01 UTC) as stored in the file.
    pub ts: Duration,
    /// pcapng interface id (always 0 for classic pcap).
    pub interface: u32,
    /// Captured bytes.
    pub data: Vec<u8>,
}

/// The content of a pcap or pcapng file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Capture {
    /// Interface names (`if_name`; empty when absent). One unnamed entry for classic pcap.
    pub interfaces: Vec<String>,
    /// Frames in file order.
    pub frames: Vec<CapturedFrame>,
}

impl Capture {
    /// Frames recorded on the interface called `name`.
    pub fn on_interface<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a CapturedFrame> {
        let id = self.interfaces.iter().position(|n| n == name);
        self.frames
            .iter()
            .filter(move |f| Some(f.interface as usize) == id)
    }
}

/// Reads a classic pcap or a pcapng file (told apart by the magic number). Only Ethernet
/// link types are expected, but the bytes are returned whatever the link type.
pub fn read_capture(path: impl AsRef<Path>) -> io::Result<Capture> {
    let mut bytes = Vec::new();
    BufReader::new(File::open(path)?).read_to_end(&mut bytes)?;
    read_capture_bytes(&bytes)
}

/// [`read_capture`] on bytes in memory.
pub fn read_capture_bytes(bytes: &[u8]) -> io::Result<Capture> {
    const PCAPNG_MAGIC: [u8; 4] = [0x0A, 0x0D, 0x0D, 0x0A];
    if bytes.len() >= 4 && bytes[..4] == PCAPNG_MAGIC {
        read_pcapng(bytes)
    } else {
        read_pcap(bytes)
    }
}

fn read_pcap(bytes: &[u8]) -> io::Result<Capture> {
    let mut reader = PcapReader::new(bytes).map_err(pcap_err)?;
    let mut cap = Capture {
        interfaces: vec![String::new()],
        frames: Vec::new(),
    };
    while let Some(pkt) = reader.next_packet() {
        let pkt = pkt.map_err(pcap_err)?;
        cap.frames.push(CapturedFrame {
            ts: pkt.timestamp,
            interface: 0,
            data: pkt.data.into_owned(),
        });
    }
    Ok(cap)
}

fn read_pcapng(bytes: &[u8]) -> io::Result<Capture> {
    let mut reader = PcapNgReader::new(bytes).map_err(pcap_err)?;
    let mut cap = Capture::default();
    // Timestamp units per interface, as 10^-exp seconds (pcapng default: microseconds).
    let mut units: Vec<u8> = Vec::new();
    while let Some(block) = reader.next_block() {
        match block.map_err(pcap_err)? {
            Block::SectionHeader(_) => {
                cap.interfaces.clear();
                units.clear();
            }
            Block::InterfaceDescription(idb) => {
                let mut name = String::new();
                let mut exp = 6u8;
                for opt in &idb.options {
                    match opt {
                        InterfaceDescriptionOption::IfName(n) => name = n.to_string(),
                        InterfaceDescriptionOption::IfTsResol(r) if r & 0x80 == 0 => exp = *r,
                        _ => {}
                    }
                }
                cap.interfaces.push(name);
                units.push(exp);
            }
            Block::EnhancedPacket(epb) => {
                // The reader hands back the raw 64-bit timestamp as a count of nanoseconds.
                let raw = epb.timestamp.as_nanos();
                let exp = units.get(epb.interface_id as usize).copied().unwrap_or(6);
                let nanos = if exp <= 9 {
                    raw * 10u128.pow(9 - u32::from(exp))
                } else {
                    raw / 10u128.pow(u32::from(exp) - 9)
                };
                cap.frames.push(CapturedFrame {
                    ts: Duration::from_nanos(nanos as u64),
                    interface: epb.interface_id,
                    data: epb.data.into_owned(),
                });
            }
            Block::SimplePacket(spb) => cap.frames.push(CapturedFrame {
                ts: Duration::ZERO,
                interface: 0,
                data: spb.data.into_owned(),
            }),
            _ => {}
        }
    }
    Ok(cap)
}

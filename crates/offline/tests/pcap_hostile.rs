//! Hostile captures: every malformed length of pcap and pcapng is an error naming the byte
//! offset, never a panic and never a frame made of another block's bytes. The same table
//! run through `pcap-file` 2's readers pins down why the engine keeps its own reader
//! (docs/architecture.md, "Capture reader").

use std::panic::{catch_unwind, AssertUnwindSafe};

use mspic_offline::pcap::{Reader, MAX_FRAME};

const PCAP_US: u32 = 0xa1b2_c3d4;
const SHB: u32 = 0x0a0d_0d0a;
const IDB: u32 = 1;
const SPB: u32 = 3;
const EPB: u32 = 6;

fn pcap_header(snaplen: u32) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&PCAP_US.to_le_bytes());
    v.extend_from_slice(&2u16.to_le_bytes());
    v.extend_from_slice(&4u16.to_le_bytes());
    v.extend_from_slice(&[0; 8]);
    v.extend_from_slice(&snaplen.to_le_bytes());
    v.extend_from_slice(&1u32.to_le_bytes());
    v
}

/// A pcap record header with the given captured and original lengths, then `data`.
fn record(ts: (u32, u32), incl: u32, orig: u32, data: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    for x in [ts.0, ts.1, incl, orig] {
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.extend_from_slice(data);
    v
}

fn pcap(snaplen: u32, records: &[Vec<u8>]) -> Vec<u8> {
    let mut v = pcap_header(snaplen);
    for r in records {
        v.extend_from_slice(r);
    }
    v
}

/// A pcapng block with explicit header and trailer lengths.
fn raw_block(t: u32, len: u32, body: &[u8], trailer: u32) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&t.to_le_bytes());
    v.extend_from_slice(&len.to_le_bytes());
    v.extend_from_slice(body);
    v.extend_from_slice(&trailer.to_le_bytes());
    v
}

/// A well-formed pcapng block (body padded to 4).
fn block(t: u32, body: &[u8]) -> Vec<u8> {
    let mut b = body.to_vec();
    b.resize(body.len().div_ceil(4) * 4, 0);
    let len = (b.len() + 12) as u32;
    raw_block(t, len, &b, len)
}

fn shb_body() -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&0x1a2b_3c4du32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&0u16.to_le_bytes());
    b.extend_from_slice(&u64::MAX.to_le_bytes());
    b
}

/// Section header (28 bytes).
fn shb() -> Vec<u8> {
    block(SHB, &shb_body())
}

/// Interface description: Ethernet, `snaplen`, options as (code, value).
fn idb(snaplen: u32, opts: &[(u16, &[u8])]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&0u16.to_le_bytes());
    b.extend_from_slice(&snaplen.to_le_bytes());
    for (code, val) in opts {
        b.extend_from_slice(&code.to_le_bytes());
        b.extend_from_slice(&(val.len() as u16).to_le_bytes());
        b.extend_from_slice(val);
        b.resize(b.len().div_ceil(4) * 4, 0);
    }
    if !opts.is_empty() {
        b.extend_from_slice(&[0; 4]);
    }
    block(IDB, &b)
}

/// Enhanced packet body: interface, raw timestamp, captured-length field, original length, data.
fn epb_body(iface: u32, ts: u64, cap: u32, orig: u32, data: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    for x in [iface, (ts >> 32) as u32, ts as u32, cap, orig] {
        b.extend_from_slice(&x.to_le_bytes());
    }
    b.extend_from_slice(data);
    b
}

fn epb(iface: u32, ts: u64, data: &[u8]) -> Vec<u8> {
    block(
        EPB,
        &epb_body(iface, ts, data.len() as u32, data.len() as u32, data),
    )
}

fn spb(orig: u32, data: &[u8]) -> Vec<u8> {
    let mut b = orig.to_le_bytes().to_vec();
    b.extend_from_slice(data);
    block(SPB, &b)
}

fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

/// What reading a capture gives: frames (timestamp, bytes) up to the first error.
#[derive(Debug)]
enum Want {
    /// Every frame read, no error.
    Frames(Frames),
    /// These frames, then an error at `offset` whose text contains `text`.
    Error {
        frames: usize,
        offset: usize,
        text: &'static str,
    },
}

fn frame(n: usize, fill: u8) -> Vec<u8> {
    vec![fill; n]
}

/// (name, file, what the reader must give).
fn table() -> Vec<(&'static str, Vec<u8>, Want)> {
    use Want::*;
    let e = |frames, offset, text| Error {
        frames,
        offset,
        text,
    };
    let f60 = frame(60, 0xaa);
    let mut shb_bad_bom = shb();
    shb_bad_bom[8..12].copy_from_slice(&[1, 2, 3, 4]);
    let mut shb_v2 = shb();
    shb_v2[12..14].copy_from_slice(&2u16.to_le_bytes());
    let mut pcap_v3 = pcap_header(65535);
    pcap_v3[4..6].copy_from_slice(&3u16.to_le_bytes());
    let mut be = Vec::new();
    be.extend_from_slice(&PCAP_US.to_be_bytes());
    be.extend_from_slice(&2u16.to_be_bytes());
    be.extend_from_slice(&4u16.to_be_bytes());
    be.extend_from_slice(&[0; 8]);
    be.extend_from_slice(&65535u32.to_be_bytes());
    be.extend_from_slice(&1u32.to_be_bytes());
    for x in [7u32, 9, 60, 60] {
        be.extend_from_slice(&x.to_be_bytes());
    }
    be.extend_from_slice(&f60);
    vec![
        // Classic pcap.
        ("empty file", vec![], e(0, 0, "too short")),
        ("three bytes", vec![0xd4, 0xc3, 0xb2], e(0, 0, "too short")),
        (
            "bad magic",
            b"GIF89a and more bytes here".to_vec(),
            e(0, 0, "not a pcap or pcapng file"),
        ),
        ("zeros", vec![0; 64], e(0, 0, "not a pcap or pcapng file")),
        (
            "truncated file header",
            pcap_header(65535)[..20].to_vec(),
            e(0, 0, "truncated pcap file header"),
        ),
        ("pcap version 3", pcap_v3, e(0, 4, "pcap version 3")),
        (
            "truncated record header",
            cat(&[pcap_header(65535), vec![0; 10]]),
            e(0, 24, "truncated record header"),
        ),
        (
            "captured length wraps",
            pcap(65535, &[record((1, 0), u32::MAX, u32::MAX, &f60)]),
            e(0, 32, "limit of a frame"),
        ),
        (
            "1 GB claimed",
            pcap(0, &[record((1, 0), 1 << 30, 1 << 30, &f60)]),
            e(0, 32, "limit of a frame"),
        ),
        (
            "record runs past the end",
            pcap(65535, &[record((1, 0), 100, 100, &f60)]),
            e(0, 24, "truncated record: 100 bytes announced, 60 present"),
        ),
        (
            "captured length over the snapshot length",
            pcap(64, &[record((1, 0), 100, 100, &frame(100, 1))]),
            e(0, 32, "exceeds the snapshot length 64"),
        ),
        (
            "captured length over the original length",
            pcap(65535, &[record((1, 0), 60, 50, &f60)]),
            e(0, 32, "exceeds the original length 50"),
        ),
        (
            "second record bad after a good one",
            pcap(
                65535,
                &[record((1, 0), 60, 60, &f60), record((2, 0), 61, 61, &f60)],
            ),
            e(1, 24 + 76, "truncated record"),
        ),
        (
            "zero-length record",
            pcap(65535, &[record((1, 5), 0, 0, &[])]),
            Frames(vec![(1_000_005_000, vec![])]),
        ),
        (
            "snaplen-truncated capture (tcpdump -s 64)",
            pcap(64, &[record((3, 0), 64, 1514, &frame(64, 7))]),
            Frames(vec![(3_000_000_000, frame(64, 7))]),
        ),
        (
            "big-endian pcap",
            be,
            Frames(vec![(7_000_009_000, f60.clone())]),
        ),
        // pcapng: block framing.
        (
            "truncated block header",
            shb()[..8].to_vec(),
            e(0, 0, "truncated block header"),
        ),
        (
            "bad byte-order magic",
            shb_bad_bom,
            e(0, 8, "byte-order magic"),
        ),
        (
            "block length 0",
            raw_block(SHB, 0, &shb_body(), 0),
            e(0, 0, "shorter than the 12-byte"),
        ),
        (
            "block length not a multiple of 4",
            raw_block(SHB, 29, &shb_body(), 29),
            e(0, 0, "not a multiple of 4"),
        ),
        (
            "block length wraps",
            raw_block(SHB, 0xffff_fffc, &shb_body(), 0xffff_fffc),
            e(
                0,
                0,
                "truncated block: 4294967292 bytes announced, 28 present",
            ),
        ),
        (
            "trailer differs",
            raw_block(SHB, 28, &shb_body(), 32),
            e(0, 24, "trailer length 32 differs"),
        ),
        (
            "empty section header",
            block(SHB, &[0x4d, 0x3c, 0x2b, 0x1a]),
            e(0, 0, "section header block of 16 bytes"),
        ),
        ("pcapng version 2", shb_v2, e(0, 12, "pcapng version 2")),
        (
            "1 GB interface block",
            cat(&[shb(), raw_block(IDB, 1 << 30, &[0; 8], 1 << 30)]),
            e(
                0,
                28,
                "truncated block: 1073741824 bytes announced, 20 present",
            ),
        ),
        (
            "zero-body unknown block is skipped",
            cat(&[
                shb(),
                idb(0, &[]),
                raw_block(0x0bad, 12, &[], 12),
                epb(0, 5, &f60),
            ]),
            Frames(vec![(5_000, f60.clone())]),
        ),
        // pcapng: packets.
        (
            "packet block with no body",
            cat(&[shb(), idb(0, &[]), raw_block(EPB, 12, &[], 12)]),
            e(0, 48, "packet block of 12 bytes"),
        ),
        (
            "packet data runs past its block",
            cat(&[
                shb(),
                idb(0, &[]),
                block(EPB, &epb_body(0, 1, 100, 100, &f60[..8])),
                epb(0, 2, &f60),
            ]),
            e(
                0,
                48,
                "packet data of 100 bytes runs past the end of its block (8 bytes left)",
            ),
        ),
        (
            "packet captured length wraps",
            cat(&[
                shb(),
                idb(0, &[]),
                block(EPB, &epb_body(0, 1, u32::MAX, u32::MAX, &f60)),
            ]),
            e(0, 68, "limit of a frame"),
        ),
        (
            "packet captured length over the snapshot length",
            cat(&[shb(), idb(32, &[]), epb(0, 1, &f60)]),
            e(0, 68, "exceeds the snapshot length 32"),
        ),
        (
            "packet captured length over the original length",
            cat(&[
                shb(),
                idb(0, &[]),
                block(EPB, &epb_body(0, 1, 60, 40, &f60)),
            ]),
            e(0, 68, "exceeds the original length 40"),
        ),
        (
            "packet for an undeclared interface",
            cat(&[shb(), idb(0, &[]), epb(3, 1, &f60)]),
            e(0, 48, "undeclared interface 3"),
        ),
        (
            "interface option runs past its block",
            cat(&[shb(), {
                let mut b = idb(0, &[(2, b"eth0")]);
                b[18..20].copy_from_slice(&200u16.to_le_bytes()); // if_name length
                b
            }]),
            e(
                0,
                44,
                "option 2 of 200 bytes runs past the end of its block",
            ),
        ),
        (
            "if_tsresol of the wrong size",
            cat(&[shb(), idb(0, &[(9, &[6, 0])])]),
            e(0, 44, "if_tsresol of 2 bytes"),
        ),
        (
            "simple packet block holding more than its packet",
            cat(&[shb(), idb(0, &[]), spb(4, &f60)]),
            e(0, 48, "holds 60 bytes of data for a 4-byte packet"),
        ),
        (
            "timestamps in microseconds (default) and nanoseconds",
            cat(&[
                shb(),
                idb(0, &[]),
                idb(0, &[(9, &[9])]),
                epb(0, 1_500_000, &f60),
                epb(1, 1_500_000, &f60),
            ]),
            Frames(vec![(1_500_000_000, f60.clone()), (1_500_000, f60.clone())]),
        ),
        (
            "non-UTF-8 packet comment",
            cat(&[
                shb(),
                idb(0, &[]),
                block(EPB, &{
                    let mut b = epb_body(0, 9, 60, 60, &f60);
                    b.extend_from_slice(&[1, 0, 2, 0, 0xff, 0xfe, 0, 0, 0, 0, 0, 0]);
                    b
                }),
            ]),
            Frames(vec![(9_000, f60.clone())]),
        ),
        (
            "simple packet cut to the snapshot length",
            cat(&[shb(), idb(62, &[]), spb(1514, &frame(62, 3))]),
            Frames(vec![(0, frame(62, 3))]),
        ),
    ]
}

/// Frames read: (timestamp in nanoseconds, bytes).
type Frames = Vec<(u64, Vec<u8>)>;

fn read_ours(data: &[u8]) -> (Frames, Option<(usize, String)>) {
    let mut frames = Vec::new();
    let reader = match Reader::new(data) {
        Ok(r) => r,
        Err(e) => return (frames, Some((e.offset, e.to_string()))),
    };
    for rec in reader.take(1000) {
        match rec {
            Ok(r) => frames.push((r.ts_nanos, r.data.to_vec())),
            Err(e) => return (frames, Some((e.offset, e.to_string()))),
        }
    }
    (frames, None)
}

#[test]
fn hostile_captures_are_refused_with_the_offset() {
    let mut failures = Vec::new();
    for (name, data, want) in table() {
        let got = catch_unwind(|| read_ours(&data));
        let Ok((frames, error)) = got else {
            failures.push(format!("{name}: panicked"));
            continue;
        };
        match (&want, &error) {
            (Want::Frames(w), None) if *w == frames => {}
            (
                Want::Error {
                    frames: n,
                    offset,
                    text,
                },
                Some((off, msg)),
            ) if *n == frames.len() && offset == off && msg.contains(text) => {
                assert!(
                    msg.starts_with(&format!("at byte offset {off}: ")),
                    "{name}: {msg}"
                );
            }
            _ => failures.push(format!(
                "{name}: want {want:?}, got {} frames and {error:?}",
                frames.len()
            )),
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn frames_never_include_bytes_of_the_next_block() {
    // The first packet block claims 64 bytes but holds 8; the next block's bytes must not
    // become the rest of its frame.
    let data = cat(&[
        shb(),
        idb(0, &[]),
        block(EPB, &epb_body(0, 1, 64, 64, &[1; 8])),
        epb(0, 2, &[2; 60]),
    ]);
    let (frames, error) = read_ours(&data);
    assert!(frames.is_empty());
    assert_eq!(error.unwrap().0, 48);
}

#[test]
fn every_truncation_of_a_valid_capture_is_an_error_or_a_prefix() {
    let f = |n: u8| frame(60 + usize::from(n), n);
    let files = [
        pcap(
            65535,
            &[record((1, 0), 60, 60, &f(0)), record((2, 0), 61, 61, &f(1))],
        ),
        cat(&[
            shb(),
            idb(0, &[(9, &[9])]),
            epb(0, 7, &f(0)),
            spb(61, &f(1)),
        ]),
    ];
    for file in files {
        let (all, e) = read_ours(&file);
        assert_eq!((all.len(), e), (2, None));
        for cut in 0..file.len() {
            let (frames, error) = read_ours(&file[..cut]);
            // A cut at a record boundary is a shorter valid file; anywhere else an error.
            assert!(frames.len() <= all.len() && frames[..] == all[..frames.len()]);
            if let Some((off, _)) = error {
                assert!(off <= cut, "cut {cut}: offset {off}");
            }
        }
    }
}

#[test]
fn frames_up_to_the_limit_are_read() {
    let big = frame(MAX_FRAME, 9);
    let file = pcap(
        0,
        &[record((1, 0), MAX_FRAME as u32, MAX_FRAME as u32, &big)],
    );
    let (frames, e) = read_ours(&file);
    assert_eq!(e, None);
    assert_eq!(frames[0].1.len(), MAX_FRAME);
}

// ---- pcap-file 2, on the same table ----

/// Outcome of reading with pcap-file's slice parsers (no allocation, the remainder gives
/// the offset): frames up to the first error, and the error text.
fn read_pcap_file(data: &[u8]) -> (Frames, Option<String>) {
    use pcap_file::pcap::PcapParser;
    use pcap_file::pcapng::{Block, PcapNgParser};
    let mut frames = Vec::new();
    if data.starts_with(&SHB.to_le_bytes()) {
        let (mut rest, mut p) = match PcapNgParser::new(data) {
            Ok(x) => x,
            Err(e) => return (frames, Some(e.to_string())),
        };
        while !rest.is_empty() {
            match p.next_block(rest) {
                Ok((r, block)) => {
                    rest = r;
                    match block {
                        Block::EnhancedPacket(b) => {
                            frames.push((b.timestamp.as_nanos() as u64, b.data.to_vec()))
                        }
                        Block::SimplePacket(b) => frames.push((0, b.data.to_vec())),
                        _ => {}
                    }
                }
                Err(e) => return (frames, Some(e.to_string())),
            }
        }
    } else {
        let (mut rest, p) = match PcapParser::new(data) {
            Ok(x) => x,
            Err(e) => return (frames, Some(e.to_string())),
        };
        while !rest.is_empty() {
            match p.next_packet(rest) {
                Ok((r, pkt)) => {
                    rest = r;
                    frames.push((pkt.timestamp.as_nanos() as u64, pkt.data.to_vec()));
                }
                Err(e) => return (frames, Some(e.to_string())),
            }
        }
    }
    (frames, None)
}

/// What pcap-file 2 does with the table: it never panics on it, but it refuses valid
/// snaplen-truncated captures, reads pcapng timestamps without `if_tsresol`, hands out the
/// padding of simple packet blocks as frame bytes, accepts captured lengths over the
/// snapshot or original length in pcapng, and its errors carry no offset. Were it to
/// change, this test says so and the choice in docs/architecture.md is to be revisited.
#[test]
fn pcap_file_2_on_the_same_table() {
    let mut report = Vec::new();
    for (name, data, want) in table() {
        let got = catch_unwind(AssertUnwindSafe(|| read_pcap_file(&data)));
        let Ok((frames, error)) = got else {
            report.push((name, "panic".to_string()));
            continue;
        };
        let verdict = match (&want, &error) {
            (Want::Frames(w), None) if *w == frames => "same".to_string(),
            (Want::Frames(_), None) => format!(
                "different frames: {:?}",
                frames.iter().map(|f| (f.0, f.1.len())).collect::<Vec<_>>()
            ),
            (Want::Frames(_), Some(e)) => format!("refused a valid file: {e}"),
            (Want::Error { .. }, None) => format!("accepted: {} frames", frames.len()),
            (Want::Error { .. }, Some(e)) => format!("error: {e}"),
        };
        report.push((name, verdict));
    }
    for (name, v) in &report {
        println!("{name:<55} {v}");
    }
    let verdict = |n: &str| {
        report
            .iter()
            .find(|(name, _)| *name == n)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    };
    assert!(report.iter().all(|(_, v)| v != "panic"));
    assert!(
        verdict("snaplen-truncated capture (tcpdump -s 64)").starts_with("refused a valid file")
    );
    assert!(
        verdict("timestamps in microseconds (default) and nanoseconds")
            .starts_with("different frames")
    );
    assert!(verdict("simple packet cut to the snapshot length").starts_with("different frames"));
    assert!(verdict("packet captured length over the snapshot length").starts_with("accepted"));
    assert!(verdict("packet captured length over the original length").starts_with("accepted"));
    assert!(verdict("packet for an undeclared interface").starts_with("accepted"));
    assert!(verdict("non-UTF-8 packet comment").starts_with("refused a valid file"));
    // Wrapping and 1 GB lengths are "Need more bytes", like a file cut short; no error
    // names where it is.
    assert!(verdict("1 GB claimed").starts_with("error: Need more bytes"));
    assert!(report
        .iter()
        .filter_map(|(_, v)| v.strip_prefix("error: "))
        .all(|e| !e.contains("offset")));
}

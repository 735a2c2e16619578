//! The files the tools are given (configurations, captures), read with a size limit that
//! is checked while reading: `/dev/zero`, a FIFO that never ends or a huge file is an
//! error as soon as the limit is passed, not after all of it is in memory.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use mspic_control::protocol::{MAX_COMMIT, MAX_NAME};

use crate::io_error_text;

/// The largest configuration file: what still fits in a `request commit` with the longest
/// file name (16 MiB less 4 KiB), so every configuration the daemon loads can be committed.
pub const MAX_CONFIG: u64 = (MAX_COMMIT - 2 - MAX_NAME) as u64;

/// The largest capture file (1 GiB): replay holds the capture in memory.
pub const MAX_CAPTURE: u64 = 1 << 30;

/// Why a file could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputError {
    /// It cannot be opened or read, or it is over its limit: one line.
    Unreadable(String),
    /// Its content is not what it should be: diagnostics, `file:line:col: error: …`.
    Invalid(String),
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputError::Unreadable(s) | InputError::Invalid(s) => f.write_str(s),
        }
    }
}

impl std::error::Error for InputError {}

/// Reads at most `max` bytes from `r` into `buf` (after what it holds); `Ok(false)` when
/// there was more.
fn read_at_most(r: impl Read, max: u64, buf: &mut Vec<u8>) -> io::Result<bool> {
    let had = buf.len() as u64;
    r.take(max.saturating_sub(had).saturating_add(1))
        .read_to_end(buf)?;
    Ok(buf.len() as u64 <= max)
}

fn open(path: &Path, what: &str) -> Result<File, InputError> {
    File::open(path).map_err(|e| read_error(path, what, &e))
}

fn too_large(path: &Path, what: &str, max: u64) -> InputError {
    InputError::Unreadable(format!(
        "{what} {} is larger than {max} bytes, the limit; not read",
        path.display()
    ))
}

/// `cannot read configuration FILE: why`; captures are not named as such
/// (`cannot read FILE: why`).
fn read_error(path: &Path, what: &str, e: &io::Error) -> InputError {
    let what = if what == "capture" { "" } else { what };
    InputError::Unreadable(format!(
        "cannot read {what}{}{}: {}",
        if what.is_empty() { "" } else { " " },
        path.display(),
        io_error_text(e)
    ))
}

/// Reads the file at `path`, at most `max` bytes.
pub fn read_bounded(path: &Path, max: u64, what: &str) -> Result<Vec<u8>, InputError> {
    let f = open(path, what)?;
    let mut buf = Vec::new();
    match read_at_most(f, max, &mut buf) {
        Ok(true) => Ok(buf),
        Ok(false) => Err(too_large(path, what, max)),
        Err(e) => Err(read_error(path, what, &e)),
    }
}

/// `text` as a configuration's text, or `NAME:LINE:COL: error: invalid UTF-8` at the first
/// byte that is not UTF-8 (lines from 1, columns in characters from 1, as the
/// configuration's other diagnostics).
pub fn config_text(bytes: Vec<u8>, name: &str) -> Result<String, InputError> {
    String::from_utf8(bytes).map_err(|e| {
        let why = mspic_config::text_of(e.as_bytes(), name).err();
        InputError::Invalid(why.map(|w| w.to_string()).unwrap_or_default())
    })
}

/// Reads a configuration file: at most [`MAX_CONFIG`] bytes of UTF-8.
pub fn read_config(path: &Path) -> Result<String, InputError> {
    let bytes = read_bounded(path, MAX_CONFIG, "configuration")?;
    config_text(bytes, &path.display().to_string())
}

/// Reads a capture file: its first bytes must be a pcap or pcapng magic (so that garbage is
/// refused before the rest is read), then at most [`MAX_CAPTURE`] bytes in all.
pub fn read_capture(path: &Path) -> Result<Vec<u8>, InputError> {
    read_capture_limited(path, MAX_CAPTURE)
}

/// [`read_capture`] with another limit.
pub fn read_capture_limited(path: &Path, max: u64) -> Result<Vec<u8>, InputError> {
    let what = "capture";
    let mut f = open(path, what)?;
    let mut buf = Vec::new();
    if let Err(e) = (&mut f).take(4).read_to_end(&mut buf) {
        return Err(read_error(path, what, &e));
    }
    if let Err(e) = mspic_offline::pcap::check_magic(&buf) {
        return Err(InputError::Invalid(format!(
            "{}: not a usable capture: {e}",
            path.display()
        )));
    }
    match read_at_most(f, max, &mut buf) {
        Ok(true) => Ok(buf),
        Ok(false) => Err(too_large(path, what, max)),
        Err(e) => Err(read_error(path, what, &e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn invalid_utf8_is_located_by_line_and_column() {
        let cases: [(&[u8], &str); 5] = [
            (b"\xff", "c.conf:1:1: error: invalid UTF-8"),
            (b"abc\xc3", "c.conf:1:4: error: invalid UTF-8"),
            (b"a\nb\n  x\xfe y", "c.conf:3:4: error: invalid UTF-8"),
            (
                b"\xc3\xa9\n\xc3\xb1\xc3\xa9\x80",
                "c.conf:2:3: error: invalid UTF-8",
            ),
            (b"line\r\n\xed\xa0\x80", "c.conf:2:1: error: invalid UTF-8"),
        ];
        for (bytes, want) in cases {
            assert_eq!(
                config_text(bytes.to_vec(), "c.conf"),
                Err(InputError::Invalid(want.to_string()))
            );
        }
        assert_eq!(config_text(b"ok\n".to_vec(), "c.conf").unwrap(), "ok\n");
    }

    #[test]
    fn limits_are_checked_while_reading() {
        let t = Instant::now();
        let e = read_bounded(Path::new("/dev/zero"), 1 << 20, "configuration").unwrap_err();
        assert_eq!(
            e.to_string(),
            "configuration /dev/zero is larger than 1048576 bytes, the limit; not read"
        );
        let e = read_capture(Path::new("/dev/zero")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("/dev/zero: not a usable capture: at byte offset 0: not a pcap"),
            "{e}"
        );
        assert!(t.elapsed() < Duration::from_secs(1));

        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.pcap");
        let mut data = 0xa1b2_c3d4u32.to_le_bytes().to_vec();
        data.resize(100, 0);
        std::fs::write(&p, &data).unwrap();
        assert_eq!(read_capture_limited(&p, 100).unwrap(), data);
        let e = read_capture_limited(&p, 99).unwrap_err();
        assert!(
            e.to_string()
                .ends_with("is larger than 99 bytes, the limit; not read"),
            "{e}"
        );
        assert_eq!(read_bounded(&p, 100, "x").unwrap().len(), 100);
        assert!(read_bounded(&p, 99, "x").is_err());
        let e = read_config(&dir.path().join("missing.conf")).unwrap_err();
        assert!(
            e.to_string()
                .ends_with("missing.conf: No such file or directory"),
            "{e}"
        );
    }
}

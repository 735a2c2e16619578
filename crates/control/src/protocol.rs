//! The control-socket protocol between `mspic` (the operator CLI) and `mspicd` (the daemon).
//!
//! Sans-IO: this module turns requests and responses into bytes and bytes back into them;
//! the binaries own the sockets, timeouts and threads. Both sides use these definitions, so
//! they cannot drift apart.
//!
//! # Framing
//!
//! Every message is a sequence of frames. A frame is an 8-byte header and a payload:
//!
//! ```text
//! offset 0  2 bytes  magic "MS"
//!        2  1 byte   protocol version (VERSION, 1)
//!        3  1 byte   kind (below)
//!        4  4 bytes  payload length, big-endian
//!        8  …        payload
//! ```
//!
//! Requests (client → daemon), one frame each:
//!
//! | kind | name    | payload                                                    | limit |
//! |------|---------|------------------------------------------------------------|-------|
//! | 0x01 | ping    | the client's name and version, UTF-8 (may be empty)        | 256 B |
//! | 0x02 | command | one operational command line, UTF-8 (`show services …`)    | 64 KiB |
//! | 0x03 | commit  | u16 BE name length, the file name, the configuration text  | 16 MiB |
//!
//! Responses (daemon → client): zero or more `text` frames (0x81, at most
//! [`MAX_CHUNK`] bytes each) whose payloads concatenate to the answer, then one `done`
//! frame (0x82, empty) when the request succeeded, or one `error` frame (0x83, the error
//! text, UTF-8) when it did not. Text sent before an error frame is part of the answer too.
//! A response may be as long as [`MAX_RESPONSE`] (a million sessions of `extensive` text or
//! XML fit); the client can print each chunk as it arrives.
//!
//! A connection carries requests one after the other, each answered before the next one
//! is read. A frame with a bad magic, an unknown version or kind, an oversized length or a
//! malformed payload is a [`ProtocolError`]: the daemon answers it with an `error` frame
//! (the error's text) and closes the connection, since the framing can no longer be
//! trusted.
//!
//! ```
//! use mspic_control::protocol::{Request, RequestDecoder, Response, ResponseDecoder, ResponseEvent};
//!
//! // Client side: encode a request.
//! let bytes = Request::Command("show services sessions".into()).encode();
//! // Daemon side: bytes arrive in pieces.
//! let mut dec = RequestDecoder::new();
//! dec.push(&bytes[..5]);
//! assert_eq!(dec.decode().unwrap(), None);
//! dec.push(&bytes[5..]);
//! assert_eq!(dec.decode().unwrap(), Some(Request::Command("show services sessions".into())));
//!
//! // Daemon side: answer it.
//! let mut wire = Vec::new();
//! for (header, body) in Response::Ok("ms-1/1/0\n").frames() {
//!     wire.extend_from_slice(&header);
//!     wire.extend_from_slice(body);
//! }
//! // Client side: read the answer.
//! let mut dec = ResponseDecoder::new();
//! dec.push(&wire);
//! assert_eq!(dec.decode().unwrap(), Some(ResponseEvent::Text(b"ms-1/1/0\n".to_vec())));
//! assert_eq!(dec.decode().unwrap(), Some(ResponseEvent::Done));
//! ```

use std::fmt;

/// Frame magic, the first two bytes of every frame.
pub const MAGIC: [u8; 2] = *b"MS";
/// The protocol version this module speaks.
pub const VERSION: u8 = 1;
/// Bytes in a frame header.
pub const HEADER_LEN: usize = 8;

/// Largest ping payload.
pub const MAX_PING: usize = 256;
/// Largest command line.
pub const MAX_COMMAND: usize = 64 * 1024;
/// Largest commit payload (name and configuration text).
pub const MAX_COMMIT: usize = 16 * 1024 * 1024;
/// Largest file name in a commit.
pub const MAX_NAME: usize = 4096;
/// Largest request payload of any kind.
pub const MAX_REQUEST: usize = MAX_COMMIT;
/// Largest payload of one response frame (text chunk or error text).
pub const MAX_CHUNK: usize = 1024 * 1024;
/// Largest response, all text frames together (16 GiB).
pub const MAX_RESPONSE: u64 = 16 << 30;

/// Frame kinds.
pub mod kind {
    pub const PING: u8 = 0x01;
    pub const COMMAND: u8 = 0x02;
    pub const COMMIT: u8 = 0x03;
    pub const TEXT: u8 = 0x81;
    pub const DONE: u8 = 0x82;
    pub const ERROR: u8 = 0x83;
}

/// Why bytes could not be decoded. `Display` is the text the daemon sends back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// The frame does not start with [`MAGIC`]: not an mspic peer.
    #[error("not an mspic control message (bad magic {0:02x?})")]
    BadMagic([u8; 2]),
    /// A version this side does not speak.
    #[error("protocol version {got} is not supported (this side speaks version {VERSION})")]
    Version { got: u8 },
    /// A kind that is not valid in this direction.
    #[error("unknown message kind 0x{0:02x}")]
    UnknownKind(u8),
    /// The header announces more bytes than the kind allows.
    #[error("{what} of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        what: &'static str,
        len: u64,
        max: u64,
    },
    /// The payload does not have the kind's layout.
    #[error("malformed {0}")]
    Malformed(&'static str),
    /// A commit's configuration text is not UTF-8: where the first bad byte is (line and
    /// column from 1, columns in characters, as configuration diagnostics count them).
    #[error("malformed commit (configuration not UTF-8 at line {line}, column {col})")]
    CommitNotUtf8 { line: usize, col: usize },
    /// The connection ended in the middle of a frame.
    #[error("connection closed in the middle of a message ({0} bytes pending)")]
    Truncated(usize),
}

/// A request from the CLI to the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Is the daemon there? The payload names the client (`mspic 0.1.0`).
    Ping(String),
    /// An operational command line (`show services sessions | display xml`).
    Command(String),
    /// Replace the configuration: `name` is the file name used in diagnostics.
    Commit { name: String, text: String },
}

impl Request {
    /// The frame kind of this request.
    pub fn kind(&self) -> u8 {
        match self {
            Request::Ping(_) => kind::PING,
            Request::Command(_) => kind::COMMAND,
            Request::Commit { .. } => kind::COMMIT,
        }
    }

    /// Encodes the request as one frame. Fails when a field exceeds its limit.
    pub fn try_encode(&self) -> Result<Vec<u8>, ProtocolError> {
        let payload: Vec<u8> = match self {
            Request::Ping(s) | Request::Command(s) => s.as_bytes().to_vec(),
            Request::Commit { name, text } => {
                if name.len() > MAX_NAME {
                    return Err(ProtocolError::TooLarge {
                        what: "file name",
                        len: name.len() as u64,
                        max: MAX_NAME as u64,
                    });
                }
                let mut p = Vec::with_capacity(2 + name.len() + text.len());
                p.extend_from_slice(&(name.len() as u16).to_be_bytes());
                p.extend_from_slice(name.as_bytes());
                p.extend_from_slice(text.as_bytes());
                p
            }
        };
        let k = self.kind();
        let max = request_limit(k).unwrap_or(0);
        if payload.len() > max {
            return Err(ProtocolError::TooLarge {
                what: request_name(k),
                len: payload.len() as u64,
                max: max as u64,
            });
        }
        let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
        out.extend_from_slice(&header(k, payload.len()));
        out.extend_from_slice(&payload);
        Ok(out)
    }

    /// Encodes the request as one frame.
    ///
    /// # Panics
    /// When a field exceeds its limit; use [`Request::try_encode`] for untrusted sizes.
    pub fn encode(&self) -> Vec<u8> {
        self.try_encode()
            .unwrap_or_else(|e| panic!("request cannot be encoded: {e}"))
    }

    fn from_frame(k: u8, payload: &[u8]) -> Result<Request, ProtocolError> {
        let text = |p: &[u8], what: &'static str| {
            std::str::from_utf8(p)
                .map(str::to_string)
                .map_err(|_| ProtocolError::Malformed(what))
        };
        match k {
            kind::PING => Ok(Request::Ping(text(payload, "ping (not UTF-8)")?)),
            kind::COMMAND => Ok(Request::Command(text(payload, "command (not UTF-8)")?)),
            kind::COMMIT => {
                let Some((len, rest)) = payload.split_first_chunk::<2>() else {
                    return Err(ProtocolError::Malformed("commit (no file name length)"));
                };
                let len = u16::from_be_bytes(*len) as usize;
                if len > MAX_NAME || len > rest.len() {
                    return Err(ProtocolError::Malformed(
                        "commit (file name longer than the message)",
                    ));
                }
                let (name, body) = rest.split_at(len);
                let name = text(name, "commit (file name not UTF-8)")?;
                let text = std::str::from_utf8(body).map_err(|e| {
                    let (line, col) = line_col(&body[..e.valid_up_to()]);
                    ProtocolError::CommitNotUtf8 { line, col }
                })?;
                Ok(Request::Commit {
                    name,
                    text: text.to_string(),
                })
            }
            other => Err(ProtocolError::UnknownKind(other)),
        }
    }
}

/// The line and column (from 1, columns in characters) just after `valid`, a UTF-8 prefix.
fn line_col(valid: &[u8]) -> (usize, usize) {
    let prefix = std::str::from_utf8(valid).unwrap_or_default();
    let line = prefix.matches('\n').count() + 1;
    let col = prefix.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

fn request_limit(k: u8) -> Option<usize> {
    match k {
        kind::PING => Some(MAX_PING),
        kind::COMMAND => Some(MAX_COMMAND),
        kind::COMMIT => Some(MAX_COMMIT),
        _ => None,
    }
}

fn request_name(k: u8) -> &'static str {
    match k {
        kind::PING => "ping",
        kind::COMMAND => "command",
        kind::COMMIT => "commit",
        _ => "request",
    }
}

fn response_limit(k: u8) -> Option<usize> {
    match k {
        kind::TEXT | kind::ERROR => Some(MAX_CHUNK),
        kind::DONE => Some(0),
        _ => None,
    }
}

/// The header of a frame of kind `k` with `len` payload bytes.
pub fn header(k: u8, len: usize) -> [u8; HEADER_LEN] {
    let len = u32::try_from(len).expect("frame payloads are limited far below 4 GiB");
    let l = len.to_be_bytes();
    [MAGIC[0], MAGIC[1], VERSION, k, l[0], l[1], l[2], l[3]]
}

/// Splits bytes into frames, checking each header as soon as it is complete.
#[derive(Debug, Default)]
struct FrameDecoder {
    buf: Vec<u8>,
    /// Bytes of `buf` already consumed.
    start: usize,
}

impl FrameDecoder {
    fn push(&mut self, data: &[u8]) {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        self.buf.extend_from_slice(data);
    }

    fn pending(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The next complete frame, `None` if more bytes are needed. `limit` gives the largest
    /// payload of a kind, `None` for kinds not valid here.
    fn next(
        &mut self,
        limit: impl Fn(u8) -> Option<usize>,
        name: impl Fn(u8) -> &'static str,
    ) -> Result<Option<(u8, &[u8])>, ProtocolError> {
        let avail = &self.buf[self.start..];
        // Check the magic and version as soon as they arrive, so garbage is refused
        // without waiting for a full header.
        if !avail.is_empty() && avail[0] != MAGIC[0] {
            return Err(ProtocolError::BadMagic([
                avail[0],
                avail.get(1).copied().unwrap_or(0),
            ]));
        }
        if avail.len() >= 2 && avail[1] != MAGIC[1] {
            return Err(ProtocolError::BadMagic([avail[0], avail[1]]));
        }
        if avail.len() >= 3 && avail[2] != VERSION {
            return Err(ProtocolError::Version { got: avail[2] });
        }
        if avail.len() < HEADER_LEN {
            return Ok(None);
        }
        let k = avail[3];
        let len = u32::from_be_bytes([avail[4], avail[5], avail[6], avail[7]]) as usize;
        let Some(max) = limit(k) else {
            return Err(ProtocolError::UnknownKind(k));
        };
        if len > max {
            return Err(ProtocolError::TooLarge {
                what: name(k),
                len: len as u64,
                max: max as u64,
            });
        }
        if avail.len() < HEADER_LEN + len {
            return Ok(None);
        }
        let from = self.start + HEADER_LEN;
        self.start = from + len;
        Ok(Some((k, &self.buf[from..from + len])))
    }

    fn compact(&mut self) {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
    }

    /// Gives back the memory of consumed frames beyond a small buffer, so that a large
    /// request is not held twice (its bytes here and its decoded copy) while it is served.
    fn release(&mut self) {
        const KEEP: usize = 64 * 1024;
        if self.buf.capacity() > KEEP {
            self.compact();
            self.buf.shrink_to(KEEP);
        }
    }
}

/// Daemon side: bytes from a client → [`Request`]s.
#[derive(Debug, Default)]
pub struct RequestDecoder {
    frames: FrameDecoder,
}

impl RequestDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends bytes read from the connection.
    pub fn push(&mut self, data: &[u8]) {
        self.frames.compact();
        self.frames.push(data);
    }

    /// Bytes received and not yet decoded.
    pub fn pending(&self) -> usize {
        self.frames.pending()
    }

    /// The next complete request, `None` if more bytes are needed. After an error the
    /// connection should be answered with the error and closed.
    pub fn decode(&mut self) -> Result<Option<Request>, ProtocolError> {
        let request = match self.frames.next(request_limit, request_name)? {
            None => return Ok(None),
            Some((k, payload)) => Request::from_frame(k, payload)?,
        };
        self.frames.release();
        Ok(Some(request))
    }

    /// The connection ended: an error if a request was left unfinished.
    pub fn finish(&self) -> Result<(), ProtocolError> {
        match self.pending() {
            0 => Ok(()),
            n => Err(ProtocolError::Truncated(n)),
        }
    }
}

/// A complete answer, as the daemon sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Response<'a> {
    /// The request succeeded; the text is the answer (possibly empty).
    Ok(&'a str),
    /// The request failed; the text is the error (`error: syntax error: foo`).
    Error(&'a str),
}

impl<'a> Response<'a> {
    /// The frames of this response as (header, payload) pairs: write both of each, in
    /// order. Text is cut into chunks of at most [`MAX_CHUNK`] bytes (on UTF-8 character
    /// boundaries); an error text longer than one chunk is shortened.
    pub fn frames(&self) -> ResponseFrames<'a> {
        match *self {
            Response::Ok(text) => ResponseFrames {
                rest: text.as_bytes(),
                end: Some((kind::DONE, &[])),
            },
            Response::Error(text) => {
                let cut = floor_char_boundary(text, MAX_CHUNK);
                ResponseFrames {
                    rest: &[],
                    end: Some((kind::ERROR, &text.as_bytes()[..cut])),
                }
            }
        }
    }

    /// The whole response as bytes (tests, small answers).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (h, body) in self.frames() {
            out.extend_from_slice(&h);
            out.extend_from_slice(body);
        }
        out
    }
}

fn floor_char_boundary(s: &str, max: usize) -> usize {
    if s.len() <= max {
        return s.len();
    }
    let mut i = max;
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Iterator over the frames of a [`Response`].
#[derive(Debug, Clone)]
pub struct ResponseFrames<'a> {
    rest: &'a [u8],
    end: Option<(u8, &'a [u8])>,
}

impl<'a> Iterator for ResponseFrames<'a> {
    type Item = ([u8; HEADER_LEN], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if !self.rest.is_empty() {
            let mut n = self.rest.len().min(MAX_CHUNK);
            // Keep UTF-8 sequences whole so every chunk is text on its own.
            while n < self.rest.len() && n > 0 && (self.rest[n] & 0xc0) == 0x80 {
                n -= 1;
            }
            if n == 0 {
                n = self.rest.len().min(MAX_CHUNK);
            }
            let (chunk, rest) = self.rest.split_at(n);
            self.rest = rest;
            return Some((header(kind::TEXT, chunk.len()), chunk));
        }
        let (k, body) = self.end.take()?;
        Some((header(k, body.len()), body))
    }
}

/// What the client reads, piece by piece.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseEvent {
    /// More of the answer's text.
    Text(Vec<u8>),
    /// The request succeeded; the answer is complete.
    Done,
    /// The request failed with this text; the answer is complete.
    Error(String),
}

/// Client side: bytes from the daemon → [`ResponseEvent`]s.
#[derive(Debug, Default)]
pub struct ResponseDecoder {
    frames: FrameDecoder,
    /// Text bytes of the current response so far.
    total: u64,
}

impl ResponseDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends bytes read from the connection.
    pub fn push(&mut self, data: &[u8]) {
        self.frames.compact();
        self.frames.push(data);
    }

    /// Bytes received and not yet decoded.
    pub fn pending(&self) -> usize {
        self.frames.pending()
    }

    /// The next event, `None` if more bytes are needed.
    pub fn decode(&mut self) -> Result<Option<ResponseEvent>, ProtocolError> {
        let Some((k, payload)) = self.frames.next(response_limit, response_name)? else {
            return Ok(None);
        };
        match k {
            kind::TEXT => {
                self.total += payload.len() as u64;
                if self.total > MAX_RESPONSE {
                    return Err(ProtocolError::TooLarge {
                        what: "response",
                        len: self.total,
                        max: MAX_RESPONSE,
                    });
                }
                Ok(Some(ResponseEvent::Text(payload.to_vec())))
            }
            kind::DONE => {
                self.total = 0;
                Ok(Some(ResponseEvent::Done))
            }
            kind::ERROR => {
                self.total = 0;
                let text = std::str::from_utf8(payload)
                    .map_err(|_| ProtocolError::Malformed("error text (not UTF-8)"))?;
                Ok(Some(ResponseEvent::Error(text.to_string())))
            }
            other => Err(ProtocolError::UnknownKind(other)),
        }
    }

    /// The connection ended: an error if a frame was left unfinished.
    pub fn finish(&self) -> Result<(), ProtocolError> {
        match self.pending() {
            0 => Ok(()),
            n => Err(ProtocolError::Truncated(n)),
        }
    }
}

fn response_name(k: u8) -> &'static str {
    match k {
        kind::TEXT => "text chunk",
        kind::ERROR => "error text",
        _ => "response frame",
    }
}

impl fmt::Display for Request {
    /// A one-line description for logs (never the whole configuration).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Request::Ping(who) if who.is_empty() => write!(f, "ping"),
            Request::Ping(who) => write!(f, "ping from {who}"),
            Request::Command(line) => write!(f, "command '{line}'"),
            Request::Commit { name, text } => {
                write!(f, "commit of {name} ({} bytes)", text.len())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode_all_requests(bytes: &[u8]) -> Vec<Result<Request, ProtocolError>> {
        let mut d = RequestDecoder::new();
        d.push(bytes);
        let mut out = Vec::new();
        loop {
            match d.decode() {
                Ok(Some(r)) => out.push(Ok(r)),
                Ok(None) => break,
                Err(e) => {
                    out.push(Err(e));
                    break;
                }
            }
        }
        out
    }

    fn decode_response(bytes: &[u8]) -> (Vec<u8>, Option<Result<(), String>>) {
        let mut d = ResponseDecoder::new();
        d.push(bytes);
        let mut text = Vec::new();
        while let Some(ev) = d.decode().unwrap() {
            match ev {
                ResponseEvent::Text(t) => text.extend(t),
                ResponseEvent::Done => return (text, Some(Ok(()))),
                ResponseEvent::Error(e) => return (text, Some(Err(e))),
            }
        }
        (text, None)
    }

    #[test]
    fn header_layout() {
        let b = Request::Command("show".into()).encode();
        assert_eq!(b, b"MS\x01\x02\x00\x00\x00\x04show");
        let b = Request::Commit {
            name: "a.conf".into(),
            text: "x;".into(),
        }
        .encode();
        assert_eq!(b, b"MS\x01\x03\x00\x00\x00\x0a\x00\x06a.confx;");
        assert_eq!(Response::Ok("").encode(), b"MS\x01\x82\x00\x00\x00\x00");
        assert_eq!(
            Response::Error("error: x").encode(),
            b"MS\x01\x83\x00\x00\x00\x08error: x"
        );
    }

    #[test]
    fn requests_round_trip_byte_by_byte() {
        let reqs = [
            Request::Ping("mspic 0.1.0".into()),
            Request::Command("show services sessions | display xml".into()),
            Request::Commit {
                name: "/etc/mspic/é.conf".into(),
                text: "interfaces { }\n".into(),
            },
        ];
        let wire: Vec<u8> = reqs.iter().flat_map(Request::encode).collect();
        let mut d = RequestDecoder::new();
        let mut got = Vec::new();
        for b in &wire {
            d.push(std::slice::from_ref(b));
            while let Some(r) = d.decode().unwrap() {
                got.push(r);
            }
        }
        assert_eq!(got, reqs);
        assert_eq!(d.finish(), Ok(()));
    }

    #[test]
    fn garbage_is_refused_at_once() {
        assert_eq!(
            decode_all_requests(b"GET / HTTP/1.1\r\n"),
            vec![Err(ProtocolError::BadMagic(*b"GE"))]
        );
        assert_eq!(
            decode_all_requests(b"M"),
            Vec::<Result<Request, ProtocolError>>::new()
        );
        assert_eq!(
            decode_all_requests(b"MX"),
            vec![Err(ProtocolError::BadMagic(*b"MX"))]
        );
        assert_eq!(
            decode_all_requests(b"MS\x02"),
            vec![Err(ProtocolError::Version { got: 2 })]
        );
        assert_eq!(
            decode_all_requests(b"MS\x01\x81\x00\x00\x00\x00"),
            vec![Err(ProtocolError::UnknownKind(0x81))]
        );
    }

    #[test]
    fn oversized_requests_are_refused_from_the_header() {
        let mut h = header(kind::COMMAND, 0).to_vec();
        h[4..8].copy_from_slice(&((MAX_COMMAND + 1) as u32).to_be_bytes());
        let e = decode_all_requests(&h).pop().unwrap().unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "command of {} bytes exceeds the limit of {MAX_COMMAND} bytes",
                MAX_COMMAND + 1
            )
        );
        let big = Request::Command("x".repeat(MAX_COMMAND + 1));
        assert!(big.try_encode().is_err());
    }

    #[test]
    fn malformed_payloads() {
        let mut b = header(kind::COMMAND, 2).to_vec();
        b.extend_from_slice(&[0xff, 0xfe]);
        assert_eq!(
            decode_all_requests(&b),
            vec![Err(ProtocolError::Malformed("command (not UTF-8)"))]
        );
        let mut b = header(kind::COMMIT, 1).to_vec();
        b.push(0);
        assert_eq!(
            decode_all_requests(&b),
            vec![Err(ProtocolError::Malformed(
                "commit (no file name length)"
            ))]
        );
        let mut b = header(kind::COMMIT, 12).to_vec();
        b.extend_from_slice(b"\x00\x01ca\n\xc3\xa9\xc3\xa9\xff\nb");
        assert_eq!(
            decode_all_requests(&b),
            vec![Err(ProtocolError::CommitNotUtf8 { line: 2, col: 3 })]
        );
        assert_eq!(
            ProtocolError::CommitNotUtf8 { line: 2, col: 3 }.to_string(),
            "malformed commit (configuration not UTF-8 at line 2, column 3)"
        );
        let mut b = header(kind::COMMIT, 3).to_vec();
        b.extend_from_slice(&[0, 9, b'a']);
        assert!(matches!(
            decode_all_requests(&b)[0],
            Err(ProtocolError::Malformed(_))
        ));
    }

    #[test]
    fn truncated_request() {
        let b = Request::Command("show services".into()).encode();
        let mut d = RequestDecoder::new();
        d.push(&b[..b.len() - 1]);
        assert_eq!(d.decode(), Ok(None));
        assert_eq!(d.finish(), Err(ProtocolError::Truncated(b.len() - 1)));
    }

    #[test]
    fn large_answers_are_chunked() {
        let text = "é".repeat(MAX_CHUNK); // 2 MiB, two-byte characters
        let frames: Vec<_> = Response::Ok(&text).frames().collect();
        assert_eq!(frames.len(), 3);
        assert!(frames.iter().all(|(_, b)| b.len() <= MAX_CHUNK));
        assert!(std::str::from_utf8(frames[0].1).is_ok());
        let (got, end) = decode_response(&Response::Ok(&text).encode());
        assert_eq!(got, text.as_bytes());
        assert_eq!(end, Some(Ok(())));
    }

    #[test]
    fn errors_and_empty_answers() {
        assert_eq!(
            decode_response(&Response::Ok("").encode()),
            (vec![], Some(Ok(())))
        );
        assert_eq!(
            decode_response(&Response::Error("error: syntax error: foo").encode()),
            (vec![], Some(Err("error: syntax error: foo".into())))
        );
        let long = "x".repeat(MAX_CHUNK + 10);
        let (_, end) = decode_response(&Response::Error(&long).encode());
        assert_eq!(end.unwrap().unwrap_err().len(), MAX_CHUNK);
    }

    #[test]
    fn responses_refuse_request_kinds() {
        let mut d = ResponseDecoder::new();
        d.push(&Request::Ping(String::new()).encode());
        assert_eq!(d.decode(), Err(ProtocolError::UnknownKind(kind::PING)));
    }

    fn arb_request() -> impl Strategy<Value = Request> {
        prop_oneof![
            ".{0,40}".prop_map(Request::Ping),
            ".{0,200}".prop_map(Request::Command),
            (".{0,60}", ".{0,400}").prop_map(|(name, text)| Request::Commit { name, text }),
        ]
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic_the_request_decoder(
            chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..8)
        ) {
            let mut d = RequestDecoder::new();
            for c in &chunks {
                d.push(c);
                loop {
                    match d.decode() {
                        Ok(Some(_)) => continue,
                        Ok(None) => break,
                        Err(e) => { let _ = e.to_string(); break; }
                    }
                }
            }
            let _ = d.finish();
        }

        #[test]
        fn arbitrary_bytes_after_a_valid_header_never_panic(
            k in any::<u8>(), len in 0u32..300, body in proptest::collection::vec(any::<u8>(), 0..300)
        ) {
            let mut b = header(0, 0).to_vec();
            b[3] = k;
            b[4..8].copy_from_slice(&len.to_be_bytes());
            b.extend(body);
            let _ = decode_all_requests(&b);
            let mut d = ResponseDecoder::new();
            d.push(&b);
            while let Ok(Some(_)) = d.decode() {}
        }

        #[test]
        fn arbitrary_bytes_never_panic_the_response_decoder(
            bytes in proptest::collection::vec(any::<u8>(), 0..512)
        ) {
            let mut d = ResponseDecoder::new();
            d.push(&bytes);
            while let Ok(Some(_)) = d.decode() {}
        }

        #[test]
        fn requests_round_trip_in_any_split(reqs in proptest::collection::vec(arb_request(), 1..4), cut in any::<usize>()) {
            let wire: Vec<u8> = reqs.iter().flat_map(Request::encode).collect();
            let cut = cut % (wire.len() + 1);
            let mut d = RequestDecoder::new();
            let mut got = Vec::new();
            for part in [&wire[..cut], &wire[cut..]] {
                d.push(part);
                while let Some(r) = d.decode().unwrap() {
                    got.push(r);
                }
            }
            prop_assert_eq!(got, reqs);
        }

        #[test]
        fn answers_round_trip(text in ".{0,300}", error in proptest::bool::ANY) {
            let r = if error { Response::Error(&text) } else { Response::Ok(&text) };
            let (got, end) = decode_response(&r.encode());
            if error {
                prop_assert!(got.is_empty());
                prop_assert_eq!(end, Some(Err(text.clone())));
            } else {
                prop_assert_eq!(got, text.as_bytes().to_vec());
                prop_assert_eq!(end, Some(Ok(())));
            }
        }
    }
}

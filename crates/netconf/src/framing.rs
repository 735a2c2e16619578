//! RFC 6242 message framing: end-of-message (`]]>]]>`, base:1.0) and chunked (base:1.1).
//!
//! The decoder is fed bytes as they arrive and yields whole messages. It never holds more
//! than [`MAX_MESSAGE`] bytes of a message (plus the bytes of the last `push`): a message
//! that would grow past it is refused as soon as that is known (a chunk header announcing
//! too much, or an end-of-message stream without its delimiter), before its bytes are kept.
//! After an error the decoder stays failed: the session must end, since the framing can no
//! longer be trusted.

/// The largest message accepted, in bytes.
pub const MAX_MESSAGE: usize = 16 * 1024 * 1024;

/// The end-of-message delimiter of base:1.0.
pub const EOM: &[u8] = b"]]>]]>";

/// Largest chunk size RFC 6242 allows.
pub const MAX_CHUNK_SIZE: u64 = 4_294_967_295;

/// Which framing is in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Framing {
    /// `]]>]]>` after each message (base:1.0, and always for `<hello>`).
    #[default]
    EndOfMessage,
    /// `\n#SIZE\n` chunks ended by `\n##\n` (base:1.1).
    Chunked,
}

/// Why the byte stream is not a valid sequence of messages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    /// A message longer than [`MAX_MESSAGE`].
    #[error("message longer than the limit of {max} bytes")]
    TooLarge { max: usize },
    /// Bytes that are not a chunk header where one must be.
    #[error("malformed chunk header: {0}")]
    BadChunk(&'static str),
    /// The stream ended inside a message.
    #[error("connection closed in the middle of a message ({0} bytes pending)")]
    Truncated(usize),
    /// An earlier error ended the stream.
    #[error("framing failed earlier")]
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Before `\n#`: `at` bytes of it seen.
    Start { at: u8 },
    /// After `\n#`: the size digits so far (`None`: none yet), or `#` for the end marker.
    Size { size: Option<u64>, digits: u8 },
    /// `\n##` seen: expecting the final `\n`.
    EndMarker,
    /// Inside a chunk: bytes still to read.
    Data { left: u64 },
}

/// Bytes in → messages out.
#[derive(Debug)]
pub struct Decoder {
    framing: Framing,
    /// Bytes received and not yet consumed.
    buf: Vec<u8>,
    /// End-of-message framing: bytes of `buf` already searched for the delimiter.
    scanned: usize,
    /// Chunked framing: the message so far and where the parser is.
    message: Vec<u8>,
    chunk: Chunk,
    failed: bool,
    max: usize,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder {
    pub fn new() -> Self {
        Self::with_limit(MAX_MESSAGE)
    }

    /// A decoder refusing messages longer than `max` bytes.
    pub fn with_limit(max: usize) -> Self {
        Decoder {
            framing: Framing::EndOfMessage,
            buf: Vec::new(),
            scanned: 0,
            message: Vec::new(),
            chunk: Chunk::Start { at: 0 },
            failed: false,
            max,
        }
    }

    pub fn framing(&self) -> Framing {
        self.framing
    }

    /// Switches framing between messages (after the `<hello>` exchange).
    pub fn set_framing(&mut self, framing: Framing) {
        self.framing = framing;
        self.scanned = 0;
        self.chunk = Chunk::Start { at: 0 };
        self.message.clear();
    }

    /// Appends bytes read from the peer. Call [`Decoder::next_message`] until it returns
    /// `None` after each push, so the buffer stays bounded.
    pub fn push(&mut self, data: &[u8]) {
        if !self.failed {
            self.buf.extend_from_slice(data);
        }
    }

    /// Bytes held: received and not yet part of a returned message.
    pub fn pending(&self) -> usize {
        self.buf.len() + self.message.len()
    }

    fn fail(&mut self, e: FramingError) -> FramingError {
        self.failed = true;
        self.buf = Vec::new();
        self.message = Vec::new();
        e
    }

    /// The next whole message, `None` when more bytes are needed.
    pub fn next_message(&mut self) -> Result<Option<Vec<u8>>, FramingError> {
        if self.failed {
            return Err(FramingError::Failed);
        }
        let r = match self.framing {
            Framing::EndOfMessage => self.next_eom(),
            Framing::Chunked => self.next_chunked(),
        };
        r.map_err(|e| self.fail(e))
    }

    fn next_eom(&mut self) -> Result<Option<Vec<u8>>, FramingError> {
        let from = self.scanned.saturating_sub(EOM.len() - 1);
        if let Some(i) = find(&self.buf[from..], EOM) {
            let end = from + i;
            if end > self.max {
                return Err(FramingError::TooLarge { max: self.max });
            }
            let msg = self.buf[..end].to_vec();
            self.buf.drain(..end + EOM.len());
            self.scanned = 0;
            return Ok(Some(msg));
        }
        self.scanned = self.buf.len();
        if self.buf.len() > self.max + EOM.len() {
            return Err(FramingError::TooLarge { max: self.max });
        }
        Ok(None)
    }

    fn next_chunked(&mut self) -> Result<Option<Vec<u8>>, FramingError> {
        let mut i = 0;
        let result = loop {
            if let Chunk::Data { left } = self.chunk {
                let avail = self.buf.len() - i;
                let take = (left.min(avail as u64)) as usize;
                self.message.extend_from_slice(&self.buf[i..i + take]);
                i += take;
                let left = left - take as u64;
                self.chunk = if left == 0 {
                    Chunk::Start { at: 0 }
                } else {
                    Chunk::Data { left }
                };
                if left > 0 {
                    break Ok(None);
                }
                continue;
            }
            let Some(&b) = self.buf.get(i) else {
                break Ok(None);
            };
            i += 1;
            match self.chunk {
                Chunk::Start { at: 0 } => {
                    if b != b'\n' {
                        break Err(FramingError::BadChunk("expected a newline"));
                    }
                    self.chunk = Chunk::Start { at: 1 };
                }
                Chunk::Start { .. } => {
                    if b != b'#' {
                        break Err(FramingError::BadChunk("expected '#'"));
                    }
                    self.chunk = Chunk::Size {
                        size: None,
                        digits: 0,
                    };
                }
                Chunk::Size { size: None, .. } if b == b'#' => {
                    if self.message.is_empty() {
                        break Err(FramingError::BadChunk("end of chunks before any chunk"));
                    }
                    self.chunk = Chunk::EndMarker;
                }
                Chunk::Size { size, digits } if b.is_ascii_digit() => {
                    if size.is_none() && b == b'0' {
                        break Err(FramingError::BadChunk("chunk size starts with 0"));
                    }
                    if digits >= 10 {
                        break Err(FramingError::BadChunk("chunk size too long"));
                    }
                    let s = size.unwrap_or(0) * 10 + u64::from(b - b'0');
                    if s > MAX_CHUNK_SIZE {
                        break Err(FramingError::BadChunk("chunk size above 4294967295"));
                    }
                    self.chunk = Chunk::Size {
                        size: Some(s),
                        digits: digits + 1,
                    };
                }
                Chunk::Size { size: Some(s), .. } if b == b'\n' => {
                    if self.message.len() as u64 + s > self.max as u64 {
                        break Err(FramingError::TooLarge { max: self.max });
                    }
                    self.chunk = Chunk::Data { left: s };
                }
                Chunk::Size { .. } => break Err(FramingError::BadChunk("bad chunk size")),
                Chunk::EndMarker => {
                    if b != b'\n' {
                        break Err(FramingError::BadChunk("expected a newline after '##'"));
                    }
                    self.chunk = Chunk::Start { at: 0 };
                    break Ok(Some(std::mem::take(&mut self.message)));
                }
                Chunk::Data { .. } => unreachable!("handled above"),
            }
        };
        self.buf.drain(..i);
        result
    }

    /// The peer closed the stream: an error if a message was left unfinished.
    pub fn finish(&self) -> Result<(), FramingError> {
        if self.failed {
            return Ok(());
        }
        let pending = match self.framing {
            // Whitespace between messages is not a message.
            Framing::EndOfMessage => {
                if self.buf.iter().all(u8::is_ascii_whitespace) {
                    0
                } else {
                    self.buf.len()
                }
            }
            Framing::Chunked => {
                if self.message.is_empty()
                    && self.buf.is_empty()
                    && self.chunk == (Chunk::Start { at: 0 })
                {
                    0
                } else {
                    self.pending().max(1)
                }
            }
        };
        match pending {
            0 => Ok(()),
            n => Err(FramingError::Truncated(n)),
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// `message` framed for sending.
pub fn encode(framing: Framing, message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 32);
    match framing {
        Framing::EndOfMessage => {
            out.extend_from_slice(message);
            out.extend_from_slice(EOM);
        }
        Framing::Chunked => {
            // Chunks of at most 1 MiB; an empty message has no chunk, which RFC 6242 does
            // not allow, so it is sent as one newline.
            let body: &[u8] = if message.is_empty() { b"\n" } else { message };
            for c in body.chunks(1 << 20) {
                out.extend_from_slice(format!("\n#{}\n", c.len()).as_bytes());
                out.extend_from_slice(c);
            }
            out.extend_from_slice(b"\n##\n");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(d: &mut Decoder) -> Result<Vec<Vec<u8>>, FramingError> {
        let mut v = Vec::new();
        while let Some(m) = d.next_message()? {
            v.push(m);
        }
        Ok(v)
    }

    #[test]
    fn end_of_message_split_anywhere() {
        let wire = b"<a/>]]>]]><b/>]]>]]>";
        for cut in 0..wire.len() {
            let mut d = Decoder::new();
            d.push(&wire[..cut]);
            let mut got = all(&mut d).unwrap();
            d.push(&wire[cut..]);
            got.extend(all(&mut d).unwrap());
            assert_eq!(got, vec![b"<a/>".to_vec(), b"<b/>".to_vec()], "cut {cut}");
            assert_eq!(d.finish(), Ok(()));
        }
    }

    #[test]
    fn chunked_split_anywhere() {
        let wire = b"\n#4\n<rpc\n#3\n/>x\n##\n\n#2\nab\n##\n";
        for cut in 0..wire.len() {
            let mut d = Decoder::new();
            d.set_framing(Framing::Chunked);
            d.push(&wire[..cut]);
            let mut got = all(&mut d).unwrap();
            d.push(&wire[cut..]);
            got.extend(all(&mut d).unwrap());
            assert_eq!(got, vec![b"<rpc/>x".to_vec(), b"ab".to_vec()], "cut {cut}");
            assert_eq!(d.finish(), Ok(()));
        }
    }

    #[test]
    fn roundtrip() {
        for f in [Framing::EndOfMessage, Framing::Chunked] {
            let mut d = Decoder::new();
            d.set_framing(f);
            d.push(&encode(f, b"<rpc message-id=\"1\"/>"));
            assert_eq!(
                all(&mut d).unwrap(),
                vec![b"<rpc message-id=\"1\"/>".to_vec()]
            );
        }
    }

    #[test]
    fn bad_chunks() {
        for (wire, e) in [
            (
                &b"#4\nabcd"[..],
                "malformed chunk header: expected a newline",
            ),
            (
                b"\n#0\n",
                "malformed chunk header: chunk size starts with 0",
            ),
            (b"\n#x\n", "malformed chunk header: bad chunk size"),
            (
                b"\n##\n",
                "malformed chunk header: end of chunks before any chunk",
            ),
            (
                b"\n#10000000000000\n",
                "malformed chunk header: chunk size too long",
            ),
            (
                b"\n#4294967296\n",
                "malformed chunk header: chunk size above 4294967295",
            ),
            (b"\n#17\n", "message longer than the limit of 16 bytes"),
        ] {
            let mut d = Decoder::with_limit(16);
            d.set_framing(Framing::Chunked);
            d.push(wire);
            assert_eq!(all(&mut d).unwrap_err().to_string(), e);
            assert_eq!(d.next_message(), Err(FramingError::Failed));
            assert_eq!(d.pending(), 0);
        }
    }

    #[test]
    fn limits_and_truncation() {
        let mut d = Decoder::with_limit(16);
        d.push(&[b'x'; 30]);
        assert_eq!(all(&mut d), Err(FramingError::TooLarge { max: 16 }));

        let mut d = Decoder::with_limit(16);
        d.set_framing(Framing::Chunked);
        d.push(b"\n#10\nabcdefghij\n#7\n");
        assert_eq!(all(&mut d), Err(FramingError::TooLarge { max: 16 }));

        let mut d = Decoder::new();
        d.set_framing(Framing::Chunked);
        d.push(b"\n#10\nabc");
        assert_eq!(all(&mut d).unwrap(), Vec::<Vec<u8>>::new());
        assert_eq!(d.finish(), Err(FramingError::Truncated(3)));
    }
}

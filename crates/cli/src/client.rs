//! The CLI side of the control socket: send one request, stream the answer.

use std::fmt;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use mspic_control::protocol::{ProtocolError, Request, ResponseDecoder, ResponseEvent};

use crate::io_error_text;

/// How long the client waits for the daemon to say anything (between chunks).
pub const READ_TIMEOUT: Duration = Duration::from_secs(120);

/// Why a request got no answer.
#[derive(Debug)]
pub enum ClientError {
    /// No daemon on the socket.
    Unreachable { path: PathBuf, error: io::Error },
    /// The connection broke, timed out or carried garbage.
    Connection { path: PathBuf, message: String },
    /// The request is too large to send.
    Request(ProtocolError),
    /// Writing the answer to our own output failed (other than a closed pipe).
    Output(io::Error),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Unreachable { path, error } => write!(
                f,
                "cannot reach mspicd at {} ({}); start it with: mspicd --config FILE",
                path.display(),
                io_error_text(error)
            ),
            ClientError::Connection { path, message } => {
                write!(
                    f,
                    "connection to mspicd at {} failed: {message}",
                    path.display()
                )
            }
            ClientError::Request(e) => write!(f, "cannot send the request: {e}"),
            ClientError::Output(e) => write!(f, "cannot write the answer: {}", io_error_text(e)),
        }
    }
}

impl std::error::Error for ClientError {}

/// How a request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Success: the answer was written to the output.
    Ok,
    /// The daemon refused the request with this text (`error: …`); any text before it was
    /// written to the output.
    Error(String),
    /// Our output was closed (`mspic show … | head`): the rest was not read.
    OutputClosed,
}

/// A connection to mspicd.
#[derive(Debug)]
pub struct Client {
    stream: UnixStream,
    path: PathBuf,
    decoder: ResponseDecoder,
}

impl Client {
    /// Connects to the daemon's socket.
    pub fn connect(path: &Path) -> Result<Client, ClientError> {
        let stream = UnixStream::connect(path).map_err(|error| ClientError::Unreachable {
            path: path.to_path_buf(),
            error,
        })?;
        let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
        let _ = stream.set_write_timeout(Some(READ_TIMEOUT));
        Ok(Client {
            stream,
            path: path.to_path_buf(),
            decoder: ResponseDecoder::new(),
        })
    }

    fn broken(&self, message: impl Into<String>) -> ClientError {
        ClientError::Connection {
            path: self.path.clone(),
            message: message.into(),
        }
    }

    /// Sends `request` and writes the answer's text to `out` as it arrives.
    pub fn request(
        &mut self,
        request: &Request,
        out: &mut dyn Write,
    ) -> Result<Outcome, ClientError> {
        let bytes = request.try_encode().map_err(ClientError::Request)?;
        // A daemon that refuses the connection (too many clients) writes why and closes it,
        // possibly before the request is sent: then the write fails but the reason is
        // there to read.
        let write_error = match self.stream.write_all(&bytes) {
            Ok(()) => None,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
                ) =>
            {
                Some(e)
            }
            Err(e) => return Err(self.broken(io_error_text(&e))),
        };
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            loop {
                match self.decoder.decode() {
                    Ok(None) => break,
                    Ok(Some(ResponseEvent::Text(t))) => {
                        if let Err(e) = out.write_all(&t) {
                            return if e.kind() == io::ErrorKind::BrokenPipe {
                                Ok(Outcome::OutputClosed)
                            } else {
                                Err(ClientError::Output(e))
                            };
                        }
                    }
                    Ok(Some(ResponseEvent::Done)) => {
                        return match out.flush() {
                            Ok(()) => Ok(Outcome::Ok),
                            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                                Ok(Outcome::OutputClosed)
                            }
                            Err(e) => Err(ClientError::Output(e)),
                        };
                    }
                    Ok(Some(ResponseEvent::Error(text))) => {
                        let _ = out.flush();
                        return Ok(Outcome::Error(text));
                    }
                    Err(e) => return Err(self.broken(format!("bad answer: {e}"))),
                }
            }
            let n = match self.stream.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(
                        self.broken(format!("no answer within {} s", READ_TIMEOUT.as_secs()))
                    )
                }
                Err(e) => {
                    let e = write_error.as_ref().unwrap_or(&e);
                    return Err(self.broken(io_error_text(e)));
                }
            };
            if n == 0 {
                return Err(match &write_error {
                    Some(e) => self.broken(io_error_text(e)),
                    None => self.broken("mspicd closed the connection before answering"),
                });
            }
            self.decoder.push(&buf[..n]);
        }
    }

    /// Sends `request` and collects the whole answer: `Ok(text)` or `Err(error text)`.
    pub fn request_text(
        &mut self,
        request: &Request,
    ) -> Result<Result<String, String>, ClientError> {
        let mut out = Vec::new();
        match self.request(request, &mut out)? {
            Outcome::Ok | Outcome::OutputClosed => {
                Ok(Ok(String::from_utf8_lossy(&out).into_owned()))
            }
            Outcome::Error(e) => {
                let mut text = String::from_utf8_lossy(&out).into_owned();
                text.push_str(&e);
                Ok(Err(text))
            }
        }
    }
}

/// The commit request for the file at `path` (its name as given is used in diagnostics).
pub fn commit_request(path: &Path) -> Result<Request, String> {
    let text = crate::input::read_config(path).map_err(|e| e.to_string())?;
    Ok(Request::Commit {
        name: path.display().to_string(),
        text,
    })
}

/// The ping request naming this client.
pub fn ping_request() -> Request {
    Request::Ping(format!("mspic {}", env!("CARGO_PKG_VERSION")))
}

/// Writes `text` and a newline unless it ends with one.
pub fn write_line(out: &mut dyn Write, text: &str) -> io::Result<()> {
    out.write_all(text.as_bytes())?;
    if !text.ends_with('\n') {
        out.write_all(b"\n")?;
    }
    Ok(())
}

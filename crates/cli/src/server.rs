//! The daemon's control socket: binding it safely, and one thread per connection that
//! decodes requests ([`mspic_control::protocol`]), hands them to the control thread as
//! [`Job`]s and streams the answers back.

use std::io::{self, BufWriter, ErrorKind, Read, Write};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mspic_control::protocol::{Request, RequestDecoder, Response};

use crate::engine::LoadedConfig;
use crate::io_error_text;

/// Mode of a socket directory the daemon creates.
pub const DIR_MODE: u32 = 0o750;
/// Mode of the socket file.
pub const SOCKET_MODE: u32 = 0o660;

/// The listening control socket. The file is removed by [`ControlSocket::remove`] (only
/// while it is still the one this daemon bound).
#[derive(Debug)]
pub struct ControlSocket {
    listener: UnixListener,
    path: PathBuf,
    /// (device, inode) of the socket file this daemon created.
    id: (u64, u64),
}

impl ControlSocket {
    /// Binds `path`: creates its directory (mode 0750) when missing, replaces a stale
    /// socket file that no daemon answers on, refuses when a daemon does answer or when
    /// the path is something else than a socket. The socket gets mode 0660.
    pub fn bind(path: &Path) -> Result<ControlSocket, String> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if !dir.exists() {
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(DIR_MODE)
                    .create(dir)
                    .map_err(|e| {
                        format!(
                            "cannot create socket directory {}: {}",
                            dir.display(),
                            io_error_text(&e)
                        )
                    })?;
            }
        }
        match std::fs::symlink_metadata(path) {
            Ok(meta) => {
                if !meta.file_type().is_socket() {
                    return Err(format!(
                        "{} exists and is not a socket; remove it or choose another --socket",
                        path.display()
                    ));
                }
                match UnixStream::connect(path) {
                    Ok(_) => {
                        return Err(format!(
                            "another mspicd is already serving {} (stop it first, or choose another --socket)",
                            path.display()
                        ))
                    }
                    Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
                        tracing::info!("removing stale socket {}", path.display());
                        std::fs::remove_file(path).map_err(|e| {
                            format!(
                                "cannot remove stale socket {}: {}",
                                path.display(),
                                io_error_text(&e)
                            )
                        })?;
                    }
                    Err(e) => {
                        return Err(format!(
                            "cannot check the existing socket {}: {}",
                            path.display(),
                            io_error_text(&e)
                        ))
                    }
                }
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => {
                return Err(format!(
                    "cannot use socket path {}: {}",
                    path.display(),
                    io_error_text(&e)
                ))
            }
        }
        let listener = UnixListener::bind(path)
            .map_err(|e| format!("cannot listen on {}: {}", path.display(), io_error_text(&e)))?;
        let meta = std::fs::metadata(path)
            .and_then(|m| {
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(SOCKET_MODE))
                    .map(|()| m)
            })
            .map_err(|e| {
                let _ = std::fs::remove_file(path);
                format!(
                    "cannot set the mode of {}: {}",
                    path.display(),
                    io_error_text(&e)
                )
            })?;
        Ok(ControlSocket {
            listener,
            path: path.to_path_buf(),
            id: (meta.dev(), meta.ino()),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A second handle on the listening socket (for the accept thread).
    pub fn listener(&self) -> io::Result<UnixListener> {
        self.listener.try_clone()
    }

    /// Removes the socket file if it is still the one this daemon bound.
    pub fn remove(&self) {
        if let Ok(m) = std::fs::symlink_metadata(&self.path) {
            if (m.dev(), m.ino()) == self.id {
                if let Err(e) = std::fs::remove_file(&self.path) {
                    tracing::warn!(
                        "cannot remove {}: {}",
                        self.path.display(),
                        io_error_text(&e)
                    );
                }
            }
        }
    }
}

/// The answer to a request: the text to print, or the error text.
pub type Reply = Result<String, String>;

/// A request for the control thread, with where to send the answer.
#[derive(Debug)]
pub enum Job {
    /// An operational command line.
    Command {
        line: String,
        reply: mpsc::Sender<Reply>,
    },
    /// A configuration that parsed and compiled, to install.
    Commit {
        config: Box<LoadedConfig>,
        /// Warning lines to print before `commit complete`.
        warnings: Vec<String>,
        reply: mpsc::Sender<Reply>,
    },
    /// Status of the daemon.
    Ping {
        client: String,
        reply: mpsc::Sender<Reply>,
    },
}

/// Limits of the connection handling.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// A request must arrive whole within this time (counted from when the server starts
    /// waiting for it); a client that takes longer is disconnected.
    pub request_timeout: Duration,
    /// A client that does not read its answer for this long is disconnected.
    pub write_timeout: Duration,
    /// Connections served at once; more are refused with an error.
    pub max_connections: usize,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            request_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(30),
            max_connections: 64,
        }
    }
}

/// Counters of the control socket.
#[derive(Debug, Default)]
pub struct ServerStats {
    /// Requests decoded and answered.
    pub requests: AtomicU64,
    /// Requests refused as malformed, oversized, truncated or too slow.
    pub bad_requests: AtomicU64,
    /// Connections refused because too many were open.
    pub refused_connections: AtomicU64,
    /// Connections open now.
    pub active: AtomicUsize,
}

/// How connection threads reach the control thread; returns false when it is gone.
pub type Submit = Arc<dyn Fn(Job) -> bool + Send + Sync>;

/// Accepts connections on `listener` forever, one thread each.
pub fn accept_loop(
    listener: UnixListener,
    submit: Submit,
    stats: Arc<ServerStats>,
    options: ServerOptions,
) {
    for conn in listener.incoming() {
        let stream = match conn {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("accept failed: {}", io_error_text(&e));
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        if stats.active.fetch_add(1, Ordering::SeqCst) >= options.max_connections {
            stats.active.fetch_sub(1, Ordering::SeqCst);
            stats.refused_connections.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                "refusing a connection: {} already open",
                options.max_connections
            );
            let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
            let _ = write_response(
                &stream,
                Response::Error("error: too many connections to mspicd, try again"),
            );
            continue;
        }
        let (submit, stats, options) = (Arc::clone(&submit), Arc::clone(&stats), options.clone());
        let spawned = std::thread::Builder::new()
            .name("mspicd-conn".into())
            .spawn(move || {
                serve_connection(stream, &submit, &stats, &options);
                stats.active.fetch_sub(1, Ordering::SeqCst);
            });
        if let Err(e) = spawned {
            tracing::error!("cannot start a connection thread: {e}");
        }
    }
}

/// Why a connection stopped before a complete request.
enum ReadOutcome {
    Request(Request),
    /// The client closed or went idle between requests: nothing to answer.
    Closed,
    /// A bad request: counted, answered with this text, connection closed.
    Bad(String),
}

fn read_request(
    stream: &mut UnixStream,
    decoder: &mut RequestDecoder,
    timeout: Duration,
) -> ReadOutcome {
    let deadline = Instant::now() + timeout;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match decoder.decode() {
            Ok(Some(r)) => return ReadOutcome::Request(r),
            Ok(None) => {}
            Err(e) => return ReadOutcome::Bad(format!("error: bad request: {e}")),
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return if decoder.pending() > 0 {
                ReadOutcome::Bad(format!(
                    "error: bad request: not complete after {} s",
                    timeout.as_secs_f64()
                ))
            } else {
                ReadOutcome::Closed
            };
        }
        if stream.set_read_timeout(Some(left)).is_err() {
            return ReadOutcome::Closed;
        }
        match stream.read(&mut buf) {
            Ok(0) => {
                return match decoder.finish() {
                    Ok(()) => ReadOutcome::Closed,
                    Err(e) => ReadOutcome::Bad(format!("error: bad request: {e}")),
                }
            }
            Ok(n) => decoder.push(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) => {}
            Err(_) => return ReadOutcome::Closed,
        }
    }
}

fn serve_connection(
    mut stream: UnixStream,
    submit: &Submit,
    stats: &ServerStats,
    options: &ServerOptions,
) {
    let _ = stream.set_write_timeout(Some(options.write_timeout));
    let mut decoder = RequestDecoder::new();
    loop {
        let request = match read_request(&mut stream, &mut decoder, options.request_timeout) {
            ReadOutcome::Request(r) => r,
            ReadOutcome::Closed => return,
            ReadOutcome::Bad(text) => {
                stats.bad_requests.fetch_add(1, Ordering::Relaxed);
                tracing::warn!("control socket: {}", text.trim_start_matches("error: "));
                let _ = write_response(&stream, Response::Error(&text));
                return;
            }
        };
        stats.requests.fetch_add(1, Ordering::Relaxed);
        tracing::debug!("control socket: {request}");
        let reply = answer(request, submit);
        let response = match &reply {
            Ok(text) => Response::Ok(text),
            Err(text) => Response::Error(text),
        };
        if let Err(e) = write_response(&stream, response) {
            tracing::debug!("control socket: client went away: {}", io_error_text(&e));
            return;
        }
    }
}

/// Runs one request: commits are parsed here, the rest is the control thread's.
fn answer(request: Request, submit: &Submit) -> Reply {
    let (tx, rx) = mpsc::channel();
    let job = match request {
        Request::Ping(client) => Job::Ping { client, reply: tx },
        Request::Command(line) => Job::Command { line, reply: tx },
        Request::Commit { name, text } => match LoadedConfig::from_text(&text, &name) {
            Ok(config) => {
                let warnings = config.warnings();
                Job::Commit {
                    config: Box::new(config),
                    warnings,
                    reply: tx,
                }
            }
            Err(errors) => {
                tracing::warn!("commit of {name} refused:\n{errors}");
                return Err(format!("{errors}\nerror: configuration check-out failed"));
            }
        },
    };
    if !submit(job) {
        return Err("error: mspicd is shutting down".to_string());
    }
    rx.recv()
        .unwrap_or_else(|_| Err("error: mspicd is shutting down".to_string()))
}

/// Writes every frame of `response`.
pub fn write_response(stream: &UnixStream, response: Response<'_>) -> io::Result<()> {
    let mut w = BufWriter::with_capacity(64 * 1024, stream);
    for (header, body) in response.frames() {
        w.write_all(&header)?;
        w.write_all(body)?;
    }
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mspic_control::protocol::{ResponseDecoder, ResponseEvent};

    /// A server whose control thread answers every command with its own line.
    fn echo_server(max_connections: usize) -> (tempfile::TempDir, ControlSocket, Arc<ServerStats>) {
        let dir = tempfile::tempdir().unwrap();
        let socket = ControlSocket::bind(&dir.path().join("sub").join("s.sock")).unwrap();
        let stats = Arc::new(ServerStats::default());
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::spawn(move || {
            for job in rx {
                match job {
                    Job::Command { line, reply } => {
                        let _ = reply.send(Ok(format!("{line}\n")));
                    }
                    Job::Ping { reply, .. } | Job::Commit { reply, .. } => {
                        let _ = reply.send(Ok(String::new()));
                    }
                }
            }
        });
        let tx = std::sync::Mutex::new(tx);
        let submit: Submit = Arc::new(move |job| tx.lock().unwrap().send(job).is_ok());
        let listener = socket.listener().unwrap();
        let options = ServerOptions {
            request_timeout: Duration::from_secs(3),
            max_connections,
            ..ServerOptions::default()
        };
        let st = Arc::clone(&stats);
        std::thread::spawn(move || accept_loop(listener, submit, st, options));
        (dir, socket, stats)
    }

    fn ask(stream: &mut UnixStream, line: &str) -> Vec<ResponseEvent> {
        stream
            .write_all(&Request::Command(line.into()).encode())
            .unwrap();
        read_events(stream, 2)
    }

    fn read_events(stream: &mut UnixStream, want: usize) -> Vec<ResponseEvent> {
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut d = ResponseDecoder::new();
        let mut events = Vec::new();
        let mut buf = [0u8; 4096];
        while events.len() < want {
            let n = stream.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            d.push(&buf[..n]);
            while let Some(e) = d.decode().unwrap() {
                events.push(e);
            }
        }
        events
    }

    #[test]
    fn connections_beyond_the_limit_are_refused() {
        let (_dir, socket, stats) = echo_server(1);
        let mut first = UnixStream::connect(socket.path()).unwrap();
        assert_eq!(
            ask(&mut first, "show a"),
            vec![
                ResponseEvent::Text(b"show a\n".to_vec()),
                ResponseEvent::Done
            ]
        );
        let mut second = UnixStream::connect(socket.path()).unwrap();
        assert_eq!(
            read_events(&mut second, 1),
            vec![ResponseEvent::Error(
                "error: too many connections to mspicd, try again".into()
            )]
        );
        assert_eq!(stats.refused_connections.load(Ordering::Relaxed), 1);
        // Once the first one is gone, a new one is served.
        drop(first);
        let deadline = Instant::now() + Duration::from_secs(10);
        while stats.active.load(Ordering::SeqCst) != 0 {
            assert!(Instant::now() < deadline);
            std::thread::sleep(Duration::from_millis(10));
        }
        let mut third = UnixStream::connect(socket.path()).unwrap();
        assert_eq!(
            ask(&mut third, "show b"),
            vec![
                ResponseEvent::Text(b"show b\n".to_vec()),
                ResponseEvent::Done
            ]
        );
        assert_eq!(stats.requests.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn bind_makes_the_directory_and_cleans_up_only_its_own_socket() {
        let (dir, socket, _stats) = echo_server(4);
        let sub = dir.path().join("sub");
        assert_eq!(
            std::fs::metadata(&sub).unwrap().permissions().mode() & 0o777,
            DIR_MODE
        );
        // Something else at the path: not ours to remove.
        std::fs::remove_file(socket.path()).unwrap();
        std::fs::write(socket.path(), b"x").unwrap();
        socket.remove();
        assert!(socket.path().exists());
        // Not a socket: refused.
        let e = ControlSocket::bind(socket.path()).unwrap_err();
        assert!(
            e.ends_with("exists and is not a socket; remove it or choose another --socket"),
            "{e}"
        );
    }
}

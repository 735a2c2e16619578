//! The daemon's control socket: binding it safely, and one thread per connection that
//! decodes requests ([`mspic_control::protocol`]), hands them to the control thread as
//! [`Job`]s and streams the answers back.
//!
//! Under load ([`ServerOptions`]): a request has a deadline from its first byte; idle
//! connections time out; connections that have not sent a whole request have their own
//! limit, beyond which the oldest idle one is closed for the newcomer; when every
//! connection is busy answering, a new one is refused with an error frame it can read.

use std::collections::HashMap;
use std::io::{self, BufWriter, ErrorKind, Read, Write};
use std::net::Shutdown;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
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
///
/// A connection is *idle* until the first byte of a request arrives, *reading* until the
/// request is whole, then *busy* until its answer is written. Idle and reading connections
/// are *pending*: they have not sent a whole request.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// A request must arrive whole within this time from its first byte, however the bytes
    /// trickle in; a client that takes longer gets an error and is disconnected.
    pub request_timeout: Duration,
    /// A connection with no byte of a request for this long is closed.
    pub idle_timeout: Duration,
    /// A client that does not read its answer for this long is disconnected.
    pub write_timeout: Duration,
    /// Connections served at once. When every one is busy, more are refused with an error.
    pub max_connections: usize,
    /// Pending connections at once. A new connection beyond it closes the oldest idle one
    /// (else the oldest reading one) with an error, so that clients holding connections
    /// open without sending requests cannot lock out those that do.
    pub max_pending: usize,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            request_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(30),
            max_connections: 64,
            max_pending: 16,
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
    /// Connections refused because every connection was busy.
    pub refused_connections: AtomicU64,
    /// Pending connections closed to make room for a new one.
    pub evicted_connections: AtomicU64,
    /// Connections open now.
    pub active: AtomicUsize,
    /// Connections open now that have not sent a whole request.
    pub pending: AtomicUsize,
}

/// The text a client refused for load reads.
pub const REFUSED: &str = "error: too many connections to mspicd, try again";
/// The text a pending connection closed to make room reads.
pub const EVICTED: &str =
    "error: mspicd closed this connection, which had not sent a whole request, to serve others";

/// How connection threads reach the control thread; returns false when it is gone.
pub type Submit = Arc<dyn Fn(Job) -> bool + Send + Sync>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    /// No byte of a request yet (evicted first).
    Idle,
    /// Part of a request.
    Reading,
    /// A whole request, being answered (never evicted).
    Busy,
}

#[derive(Debug)]
struct Slot {
    /// A second handle, to close the connection from the accept thread.
    stream: UnixStream,
    phase: Phase,
    /// When the connection entered `phase`.
    since: Instant,
    /// Evicted: its thread is on its way out.
    closing: bool,
}

/// Every open connection, shared by the accept thread and the connection threads.
#[derive(Debug)]
struct Registry {
    next_id: u64,
    slots: HashMap<u64, Slot>,
    stats: Arc<ServerStats>,
}

type Shared = Arc<Mutex<Registry>>;

fn lock(r: &Shared) -> std::sync::MutexGuard<'_, Registry> {
    r.lock().unwrap_or_else(|e| e.into_inner())
}

/// What the accept thread does with a new connection.
enum Admit {
    /// Serve it as connection `id`; close `evict` (a pending connection) first.
    Serve { id: u64, evict: Option<UnixStream> },
    /// Every connection is busy: refuse it.
    Refuse,
}

impl Registry {
    /// Updates [`ServerStats::pending`] after a change.
    fn publish(&self) {
        let pending = self
            .slots
            .values()
            .filter(|s| !s.closing && s.phase != Phase::Busy)
            .count();
        self.stats.pending.store(pending, Ordering::SeqCst);
    }

    fn admit(&mut self, stream: &UnixStream, options: &ServerOptions) -> Admit {
        let live = self.slots.values().filter(|s| !s.closing);
        let (mut total, mut pending) = (0, 0);
        for s in live {
            total += 1;
            pending += usize::from(s.phase != Phase::Busy);
        }
        let mut evict = None;
        if total >= options.max_connections || pending >= options.max_pending.max(1) {
            // The oldest idle connection, else the oldest reading one.
            let victim = self
                .slots
                .iter()
                .filter(|(_, s)| !s.closing && s.phase != Phase::Busy)
                .min_by_key(|(id, s)| (s.phase, s.since, **id))
                .map(|(id, _)| *id);
            match victim {
                Some(v) => {
                    let slot = self.slots.get_mut(&v).expect("victim is registered");
                    slot.closing = true;
                    evict = slot.stream.try_clone().ok();
                }
                None if total >= options.max_connections => {
                    self.publish();
                    return Admit::Refuse;
                }
                None => {}
            }
        }
        let Ok(handle) = stream.try_clone() else {
            return Admit::Refuse;
        };
        let id = self.next_id;
        self.next_id += 1;
        self.slots.insert(
            id,
            Slot {
                stream: handle,
                phase: Phase::Idle,
                since: Instant::now(),
                closing: false,
            },
        );
        self.publish();
        Admit::Serve { id, evict }
    }
}

/// Sends `text` as an error frame without waiting on the client, then closes the
/// connection both ways; the client reads the text before the end of the stream.
fn close_with(stream: &UnixStream, text: &str) {
    let _ = stream.set_write_timeout(Some(Duration::from_millis(20)));
    let _ = write_response(stream, Response::Error(text));
    let _ = stream.shutdown(Shutdown::Both);
}

/// One connection's view of the registry.
struct Conn {
    id: u64,
    registry: Shared,
}

impl Conn {
    /// Enters `phase`; false when the connection is being closed (then nothing more is
    /// to be done on it: a request read whole is not run).
    fn set(&self, phase: Phase) -> bool {
        let mut r = lock(&self.registry);
        match r.slots.get_mut(&self.id) {
            Some(s) if !s.closing => {
                if s.phase != phase {
                    s.phase = phase;
                    s.since = Instant::now();
                    r.publish();
                }
                true
            }
            _ => false,
        }
    }

    fn closing(&self) -> bool {
        lock(&self.registry)
            .slots
            .get(&self.id)
            .is_none_or(|s| s.closing)
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        let mut r = lock(&self.registry);
        r.slots.remove(&self.id);
        r.publish();
    }
}

/// Accepts connections on `listener` forever, one thread each.
pub fn accept_loop(
    listener: UnixListener,
    submit: Submit,
    stats: Arc<ServerStats>,
    options: ServerOptions,
) {
    let registry: Shared = Arc::new(Mutex::new(Registry {
        next_id: 0,
        slots: HashMap::new(),
        stats: Arc::clone(&stats),
    }));
    for conn in listener.incoming() {
        let stream = match conn {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("accept failed: {}", io_error_text(&e));
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        let admit = lock(&registry).admit(&stream, &options);
        let id = match admit {
            Admit::Refuse => {
                stats.refused_connections.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    "refusing a connection: all {} connections are busy",
                    options.max_connections
                );
                close_with(&stream, REFUSED);
                continue;
            }
            Admit::Serve { id, evict } => {
                if let Some(old) = evict {
                    stats.evicted_connections.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!("closing the oldest pending connection for a new one");
                    close_with(&old, EVICTED);
                }
                id
            }
        };
        let conn = Conn {
            id,
            registry: Arc::clone(&registry),
        };
        stats.active.fetch_add(1, Ordering::SeqCst);
        let (sub, st, opts) = (Arc::clone(&submit), Arc::clone(&stats), options.clone());
        let spawned = std::thread::Builder::new()
            .name("mspicd-conn".into())
            .spawn(move || {
                serve_connection(stream, &conn, &sub, &st, &opts);
                drop(conn);
                st.active.fetch_sub(1, Ordering::SeqCst);
            });
        if let Err(e) = spawned {
            // The closure, and with it the connection and its slot, is dropped.
            stats.active.fetch_sub(1, Ordering::SeqCst);
            tracing::error!("cannot start a connection thread: {e}");
        }
    }
}

/// Why a connection stopped before a complete request.
enum ReadOutcome {
    Request(Request),
    /// The client closed, went idle for too long or was evicted: nothing to answer.
    Closed,
    /// A bad request: counted, answered with this text, connection closed.
    Bad(String),
}

fn read_request(
    stream: &mut UnixStream,
    decoder: &mut RequestDecoder,
    conn: &Conn,
    options: &ServerOptions,
) -> ReadOutcome {
    // Idle until the first byte; from then on the request has `request_timeout`.
    let mut deadline = None;
    let idle_until = Instant::now() + options.idle_timeout;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if decoder.pending() > 0 && deadline.is_none() {
            if !conn.set(Phase::Reading) {
                return ReadOutcome::Closed;
            }
            deadline = Some(Instant::now() + options.request_timeout);
        }
        match decoder.decode() {
            Ok(Some(r)) => return ReadOutcome::Request(r),
            Ok(None) => {}
            Err(e) => return ReadOutcome::Bad(format!("error: bad request: {e}")),
        }
        let left = deadline
            .unwrap_or(idle_until)
            .saturating_duration_since(Instant::now());
        if left.is_zero() {
            return if deadline.is_some() {
                ReadOutcome::Bad(format!(
                    "error: bad request: not complete within {} s of its first byte",
                    options.request_timeout.as_secs_f64()
                ))
            } else {
                tracing::debug!(
                    "control socket: closing a connection idle for {:?}",
                    options.idle_timeout
                );
                ReadOutcome::Closed
            };
        }
        if stream.set_read_timeout(Some(left)).is_err() {
            return ReadOutcome::Closed;
        }
        match stream.read(&mut buf) {
            Ok(0) if conn.closing() => return ReadOutcome::Closed,
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
    conn: &Conn,
    submit: &Submit,
    stats: &ServerStats,
    options: &ServerOptions,
) {
    let _ = stream.set_write_timeout(Some(options.write_timeout));
    let mut decoder = RequestDecoder::new();
    loop {
        if !conn.set(Phase::Idle) {
            return;
        }
        let request = match read_request(&mut stream, &mut decoder, conn, options) {
            ReadOutcome::Request(r) => r,
            ReadOutcome::Closed => return,
            ReadOutcome::Bad(_) if conn.closing() => return,
            ReadOutcome::Bad(text) => {
                stats.bad_requests.fetch_add(1, Ordering::Relaxed);
                tracing::warn!("control socket: {}", text.trim_start_matches("error: "));
                let _ = write_response(&stream, Response::Error(&text));
                return;
            }
        };
        if !conn.set(Phase::Busy) {
            return;
        }
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
    use crate::client::{Client, Outcome};
    use mspic_control::protocol::{ResponseDecoder, ResponseEvent};

    struct Server {
        _dir: tempfile::TempDir,
        socket: ControlSocket,
        stats: Arc<ServerStats>,
        /// Says when the control thread holds a `hold` command.
        holding: mpsc::Receiver<()>,
        /// Lets the held command go.
        release: mpsc::Sender<()>,
    }

    /// A server whose control thread answers every command with its own line; `hold`
    /// waits for `release` first.
    fn server(options: ServerOptions) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let socket = ControlSocket::bind(&dir.path().join("sub").join("s.sock")).unwrap();
        let stats = Arc::new(ServerStats::default());
        let (tx, rx) = mpsc::channel::<Job>();
        let (holding_tx, holding) = mpsc::channel();
        let (release, release_rx) = mpsc::channel::<()>();
        std::thread::spawn(move || {
            for job in rx {
                match job {
                    Job::Command { line, reply } => {
                        if line == "hold" {
                            let _ = holding_tx.send(());
                            let _ = release_rx.recv();
                        }
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
        let st = Arc::clone(&stats);
        std::thread::spawn(move || accept_loop(listener, submit, st, options));
        Server {
            _dir: dir,
            socket,
            stats,
            holding,
            release,
        }
    }

    fn options(max_connections: usize, max_pending: usize) -> ServerOptions {
        ServerOptions {
            request_timeout: Duration::from_secs(3),
            max_connections,
            max_pending,
            ..ServerOptions::default()
        }
    }

    fn ask(stream: &mut UnixStream, line: &str) -> Vec<ResponseEvent> {
        stream
            .write_all(&Request::Command(line.into()).encode())
            .unwrap();
        read_events(stream, 2)
    }

    fn answer_of(line: &str) -> Vec<ResponseEvent> {
        vec![
            ResponseEvent::Text(format!("{line}\n").into_bytes()),
            ResponseEvent::Done,
        ]
    }

    /// Reads until `want` events or the end of the stream (10 s at most).
    fn read_events(stream: &mut UnixStream, want: usize) -> Vec<ResponseEvent> {
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut d = ResponseDecoder::new();
        let mut events = Vec::new();
        let mut buf = [0u8; 4096];
        while events.len() < want {
            let n = stream.read(&mut buf).unwrap_or(0);
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

    /// Waits (10 s at most) until `f` holds.
    fn wait_for(what: &str, f: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !f() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn when_every_connection_is_busy_a_newcomer_reads_why_it_is_refused() {
        let s = server(options(1, 1));
        let path = s.socket.path().to_path_buf();
        let held = std::thread::spawn(move || {
            let mut a = UnixStream::connect(path).unwrap();
            ask(&mut a, "hold")
        });
        s.holding.recv_timeout(Duration::from_secs(10)).unwrap();
        // Connected, then refused and closed before the request is written: the write
        // fails, and the client still reads the daemon's reason.
        let mut b = Client::connect(s.socket.path()).unwrap();
        wait_for("the refusal", || {
            s.stats.refused_connections.load(Ordering::Relaxed) == 1
        });
        let mut out = Vec::new();
        match b.request(&Request::Command("show b".into()), &mut out) {
            Ok(Outcome::Error(e)) => assert_eq!(e, REFUSED),
            other => panic!("{other:?}"),
        }
        s.release.send(()).unwrap();
        assert_eq!(held.join().unwrap(), answer_of("hold"));
        wait_for("a to go", || s.stats.active.load(Ordering::SeqCst) == 0);
        let mut c = UnixStream::connect(s.socket.path()).unwrap();
        assert_eq!(ask(&mut c, "show c"), answer_of("show c"));
    }

    #[test]
    fn the_oldest_idle_connection_is_closed_for_a_newcomer() {
        let s = server(options(8, 2));
        let mut a = UnixStream::connect(s.socket.path()).unwrap();
        wait_for("a", || s.stats.active.load(Ordering::SeqCst) == 1);
        let mut b = UnixStream::connect(s.socket.path()).unwrap();
        wait_for("b", || s.stats.active.load(Ordering::SeqCst) == 2);
        // b has started a request: it is older than nothing, but idle ones go first.
        b.write_all(b"MS").unwrap();
        let mut c = UnixStream::connect(s.socket.path()).unwrap();
        wait_for("the eviction", || {
            s.stats.evicted_connections.load(Ordering::Relaxed) == 1
        });
        assert_eq!(
            read_events(&mut a, 2),
            vec![ResponseEvent::Error(EVICTED.into())]
        );
        assert_eq!(s.stats.evicted_connections.load(Ordering::Relaxed), 1);
        assert_eq!(ask(&mut c, "show c"), answer_of("show c"));
        // c idle again (b is reading).
        wait_for("c idle", || s.stats.pending.load(Ordering::SeqCst) == 2);
        // The rest of b's request, then another.
        let req = Request::Command("show b".into()).encode();
        b.write_all(&req[2..]).unwrap();
        assert_eq!(read_events(&mut b, 2), answer_of("show b"));
        assert_eq!(ask(&mut b, "show b2"), answer_of("show b2"));
        wait_for("b idle", || s.stats.pending.load(Ordering::SeqCst) == 2);
        // Two pending again (b and c idle): d closes c, idle for the longest.
        let _d = UnixStream::connect(s.socket.path()).unwrap();
        assert_eq!(
            read_events(&mut c, 2),
            vec![ResponseEvent::Error(EVICTED.into())]
        );
        assert_eq!(ask(&mut b, "show b3"), answer_of("show b3"));
        assert_eq!(s.stats.evicted_connections.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn a_request_has_its_deadline_from_its_first_byte() {
        let timeout = Duration::from_millis(300);
        let s = server(ServerOptions {
            request_timeout: timeout,
            ..options(8, 8)
        });
        let mut a = UnixStream::connect(s.socket.path()).unwrap();
        // Idle for longer than a request may take: still open.
        std::thread::sleep(timeout * 2);
        assert_eq!(ask(&mut a, "show a"), answer_of("show a"));
        // Then a request trickling in a byte every 20 ms: cut off 300 ms after its first
        // byte, though bytes keep coming.
        let req = Request::Command("x".repeat(200)).encode();
        let first = Instant::now();
        a.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        let mut d = ResponseDecoder::new();
        let mut buf = [0u8; 1024];
        let mut events = Vec::new();
        for byte in &req {
            let _ = a.write_all(std::slice::from_ref(byte));
            if let Ok(n @ 1..) = a.read(&mut buf) {
                d.push(&buf[..n]);
                while let Ok(Some(e)) = d.decode() {
                    events.push(e);
                }
            }
            if !events.is_empty() {
                break;
            }
        }
        let took = first.elapsed();
        assert_eq!(
            events,
            vec![ResponseEvent::Error(
                "error: bad request: not complete within 0.3 s of its first byte".into()
            )]
        );
        assert!(took >= timeout && took < timeout * 4, "{took:?}");
        assert_eq!(s.stats.bad_requests.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn idle_connections_time_out() {
        let s = server(ServerOptions {
            idle_timeout: Duration::from_millis(200),
            ..options(8, 8)
        });
        let mut a = UnixStream::connect(s.socket.path()).unwrap();
        let t = Instant::now();
        assert_eq!(read_events(&mut a, 1), vec![]);
        assert!(t.elapsed() >= Duration::from_millis(200));
        wait_for("the thread to end", || {
            s.stats.active.load(Ordering::SeqCst) == 0
        });
    }

    #[test]
    fn bind_makes_the_directory_and_cleans_up_only_its_own_socket() {
        let s = server(options(4, 4));
        let socket = &s.socket;
        let sub = socket.path().parent().unwrap();
        assert_eq!(
            std::fs::metadata(sub).unwrap().permissions().mode() & 0o777,
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

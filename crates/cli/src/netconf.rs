//! `mspic netconf`: a NETCONF server on stdin/stdout (an OpenSSH subsystem), answering
//! through mspicd's control socket. The protocol is [`mspic_netconf`]; this module owns
//! the I/O, the connections to mspicd and the configuration lock file.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError};
use std::time::Instant;

use mspic_control::protocol::Request;
use mspic_netconf::{Daemon, Identity, Session, Timeouts};

use crate::client::Client;
use crate::engine::LoadedConfig;

/// mspicd over its control socket, one connection per request.
pub struct SocketDaemon {
    socket: PathBuf,
    lock: PathBuf,
    holds_lock: bool,
}

impl SocketDaemon {
    pub fn new(socket: &Path) -> Self {
        let mut lock = socket.as_os_str().to_owned();
        lock.push(".netconf-lock");
        SocketDaemon {
            socket: socket.to_path_buf(),
            lock: PathBuf::from(lock),
            holds_lock: false,
        }
    }

    fn ask(&self, request: &Request) -> Result<String, String> {
        let mut c = Client::connect(&self.socket).map_err(|e| format!("error: {e}"))?;
        c.request_text(request).map_err(|e| format!("error: {e}"))?
    }
}

impl Daemon for SocketDaemon {
    fn command(&mut self, line: &str) -> Result<String, String> {
        self.ask(&Request::Command(line.to_string()))
    }

    fn check(&mut self, name: &str, text: &str) -> Result<String, String> {
        LoadedConfig::from_text(text, name)
            .map(|_| "configuration check succeeds\n".to_string())
            .map_err(|e| format!("{e}\nerror: configuration check-out failed"))
    }

    fn commit(&mut self, name: &str, text: &str) -> Result<String, String> {
        self.ask(&Request::Commit {
            name: name.to_string(),
            text: text.to_string(),
        })
    }

    fn lock(&mut self) -> Result<(), String> {
        let me = std::process::id();
        for _ in 0..2 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&self.lock)
            {
                Ok(mut f) => {
                    let _ = writeln!(f, "{me}");
                    self.holds_lock = true;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    let holder = std::fs::read_to_string(&self.lock).unwrap_or_default();
                    let pid: Option<u32> = holder.trim().parse().ok();
                    let alive = pid.is_some_and(|p| Path::new(&format!("/proc/{p}")).exists());
                    if alive {
                        return Err(format!(
                            "configuration database locked by another NETCONF session (process {})",
                            pid.unwrap_or(0)
                        ));
                    }
                    // The holder is gone: a stale lock.
                    let _ = std::fs::remove_file(&self.lock);
                }
                Err(e) => {
                    return Err(format!(
                        "cannot take the lock {}: {}",
                        self.lock.display(),
                        crate::io_error_text(&e)
                    ))
                }
            }
        }
        Err("configuration database lock is contended, try again".into())
    }

    fn unlock(&mut self) -> Result<(), String> {
        if self.holds_lock {
            self.holds_lock = false;
            let holder = std::fs::read_to_string(&self.lock).unwrap_or_default();
            if holder.trim() == std::process::id().to_string() {
                std::fs::remove_file(&self.lock)
                    .map_err(|e| format!("cannot remove the lock: {}", crate::io_error_text(&e)))?;
            }
        }
        Ok(())
    }
}

impl Drop for SocketDaemon {
    fn drop(&mut self) {
        let _ = self.unlock();
    }
}

/// Serves one NETCONF session on `input`/`output` with the time limits `timeouts`.
/// Returns the session's counters and why it ended with an error (`None` after
/// `<close-session>` or a clean end of input).
///
/// A thread reads `input` (a blocking stdin) and hands its bytes over a bounded channel,
/// so this loop can wait for them no longer than the session's deadline.
pub fn serve(
    daemon: impl Daemon,
    input: impl Read + Send + 'static,
    output: &mut dyn Write,
    timeouts: Timeouts,
) -> io::Result<(mspic_netconf::Stats, Option<String>)> {
    let identity = Identity {
        hostname: crate::sys::hostname(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        session_id: std::process::id(),
    };
    let start = Instant::now();
    let mut session = Session::new(daemon, identity);
    session.set_timeouts(timeouts);
    output.write_all(&session.hello())?;
    output.flush()?;
    let bytes = spawn_reader(input);
    while let Some(deadline) = session.deadline() {
        let wait = deadline.saturating_sub(start.elapsed());
        let (out, ended) = match bytes.recv_timeout(wait) {
            Ok(Ok(data)) if !data.is_empty() => (session.receive(start.elapsed(), &data), false),
            Ok(Ok(_)) | Err(RecvTimeoutError::Disconnected) => (session.end_of_input(), true),
            Ok(Err(e)) => return Err(e),
            Err(RecvTimeoutError::Timeout) => (session.tick(start.elapsed()), false),
        };
        output.write_all(&out)?;
        output.flush()?;
        if ended {
            break;
        }
    }
    let reason = session
        .end_reason()
        .filter(|r| *r != "the client closed the connection")
        .map(str::to_string);
    Ok((session.stats(), reason))
}

/// Reads `input` on a thread: each read's bytes, an empty vector at its end. At most
/// four reads wait in the channel, so a client writing faster than the session answers
/// is held back by the pipe rather than buffered here.
fn spawn_reader(mut input: impl Read + Send + 'static) -> Receiver<io::Result<Vec<u8>>> {
    let (tx, rx) = sync_channel(4);
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let r = match input.read(&mut buf) {
                Ok(n) => Ok(buf[..n].to_vec()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => Err(e),
            };
            let last = !matches!(&r, Ok(d) if !d.is_empty());
            if tx.send(r).is_err() || last {
                return;
            }
        }
    });
    rx
}

/// `mspic netconf`.
pub fn run(socket: &Path, timeouts: Timeouts) -> ExitCode {
    let daemon = SocketDaemon::new(socket);
    let mut stdout = io::stdout().lock();
    match serve(daemon, io::stdin(), &mut stdout, timeouts) {
        Ok((_, None)) => ExitCode::SUCCESS,
        Ok((stats, Some(reason))) => {
            eprintln!(
                "mspic netconf: session ended: {reason} ({} rpcs, {} rpc errors, {} malformed messages, {} framing errors, {} timeouts)",
                stats.rpcs, stats.rpc_errors, stats.malformed, stats.framing_errors, stats.timeouts
            );
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("mspic netconf: {}", crate::io_error_text(&e));
            ExitCode::FAILURE
        }
    }
}

//! The mspic binaries' shared code: the daemon `mspicd` ([`daemon`], [`server`],
//! [`engine`]) and the operator CLI `mspic` talking to it ([`client`], [`interactive`]).
//! The protocol between them is [`mspic_control::protocol`]; the text they print comes
//! from one renderer, [`mspic_control::execute`], run inside the daemon.
//!
//! # Running
//!
//! ```text
//! mspicd --config FILE [--socket PATH] [--workers N] [--queues N] [--xdp-mode native|skb]
//!        [--umem-frames N] [--frame-size BYTES] [--pin-cpus] [--request-timeout SECONDS]
//! mspicd --offline --config FILE [--socket PATH] [--workers N]
//!        [--replay-pcap CAPTURE [--replay-respond]]
//!
//! mspic [--socket PATH] show services sessions [extensive] [filters] ["|" display xml|json]
//! mspic [--socket PATH] clear services sessions [filters]
//! mspic [--socket PATH] request commit FILE
//! mspic [--socket PATH] cli            (interactive; or commands on stdin, one a line)
//! mspic [--socket PATH] ping
//! ```
//!
//! The socket defaults to [`DEFAULT_SOCKET`] (`MSPIC_SOCKET` overrides it for both).
//! The daemon creates its directory with mode 0750 and the socket with mode 0660, replaces
//! a stale socket file that no daemon answers on and refuses to start when one does.
//!
//! `--offline` runs the daemon with no dataplane: no device is touched and no privilege is
//! needed. The engine then holds the sessions of `--replay-pcap` (replayed at start as
//! `mspic replay` does, with the clock stopped at the last frame so nothing expires), or
//! none. Use it to load a capture and inspect it with `mspic cli`, to try configurations,
//! and in tests of the socket, CLI and reload paths.
//!
//! # Reloading
//!
//! `mspic request commit FILE` sends the file's text; SIGHUP re-reads `--config FILE`.
//! Either way the text is parsed, validated and compiled first: a configuration with
//! errors is refused with its `file:line:col` errors (sent back to the client, or logged
//! for SIGHUP) and the running one stays. A good one is installed by
//! [`engine::Engine::reload`]: the live engine keeps its sessions (re-attached to the
//! service sets of the same name); the offline engine replays its capture again under
//! the new configuration. A commit lasts until the next SIGHUP or restart, which read
//! `--config FILE` again.
//!
//! SIGTERM and SIGINT stop the engine (detaching from the devices), remove the socket
//! and exit 0; a second one exits at once.

#![forbid(unsafe_code)]

pub mod client;
pub mod daemon;
pub mod engine;
pub mod input;
pub mod interactive;
#[cfg(feature = "live")]
pub mod live;
pub mod netconf;
pub mod server;
pub mod sys;

/// Where `mspicd` listens and `mspic` connects unless told otherwise (`--socket`,
/// `MSPIC_SOCKET`).
pub const DEFAULT_SOCKET: &str = "/run/mspic/mspicd.sock";

/// The environment variable that overrides [`DEFAULT_SOCKET`] for both binaries.
pub const SOCKET_ENV: &str = "MSPIC_SOCKET";

/// An I/O error as a short phrase: `No such file or directory`, without the
/// `(os error 2)` that `Display` appends.
pub fn io_error_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(i) if s.ends_with(')') => s[..i].to_string(),
        _ => s,
    }
}

//! The mspic binaries' shared code: the daemon `mspicd` ([`daemon`], [`server`],
//! [`engine`]) and the operator CLI `mspic` talking to it ([`client`], [`interactive`]).
//! The protocol between them is [`mspic_control::protocol`]; the text they print comes
//! from one renderer, [`mspic_control::execute`], run inside the daemon.

pub mod client;
pub mod daemon;
pub mod engine;
pub mod interactive;
#[cfg(feature = "live")]
pub mod live;
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

//! NETCONF for mspic, sans-IO: RFC 6242 framing ([`framing`]), messages read into element
//! trees ([`xml`]), and a [`Session`] that answers RFC 6241 and Junos RPCs over a
//! [`Daemon`] (mspicd's control socket, in `mspic netconf`).
//!
//! What a session answers:
//! - `<command format="text|xml|json">` with any command mspicd knows (pipes included),
//!   `| display xml rpc` and `show version`;
//! - the Junos RPC of each `show services …` / `clear services sessions` / `show
//!   interfaces` command ([`mspic_control::rpc`]), with the XML of `| display xml`
//!   (`get-interface-information` with an `interface-name` pattern such as `ms-*` too);
//! - `<get-configuration>` (xml, text, set; a subtree), `<get-config>`, `<lock>`/`<unlock>`
//!   (and `<lock-configuration>`), `<load-configuration>` (text, set, xml) and
//!   `<edit-config>` into this session's candidate, `<commit-configuration>` (`<check/>`),
//!   `<commit>`, `<validate>`, `<discard-changes>`;
//! - what Junos automation asks when it connects (`get-software-information`,
//!   `get-route-engine-information`, `get-chassis-inventory`),
//!   describing the emulator as it is; RPCs of things an MS-PIC emulator does not have
//!   (virtual chassis, clusters, files) get an `<rpc-error>`;
//! - `<close-session>`; anything else an `<rpc-error>` (`operation-not-supported`).
//!
//! Bad input never panics nor grows memory without bound: messages are limited to
//! [`framing::MAX_MESSAGE`] bytes, elements to [`xml::MAX_DEPTH`] levels, DTDs are refused.
//! A framing error or a message that is not XML ends the session (after an `<rpc-error>`
//! when the framing still allows one); every such error is counted in [`Stats`]. A message
//! not whole within [`Timeouts::message`] of its first byte, or no message for
//! [`Timeouts::idle`], ends the session too; the caller passes `now` and waits no longer
//! than [`Session::deadline`].
//!
//! ```
//! use mspic_netconf::{framing, Daemon, Identity, Session};
//!
//! struct Fake;
//! impl Daemon for Fake {
//!     fn command(&mut self, line: &str) -> Result<String, String> { Ok(format!("{line}\n")) }
//!     fn check(&mut self, _: &str, _: &str) -> Result<String, String> { Ok(String::new()) }
//!     fn commit(&mut self, _: &str, _: &str) -> Result<String, String> { Ok(String::new()) }
//!     fn lock(&mut self) -> Result<(), String> { Ok(()) }
//!     fn unlock(&mut self) -> Result<(), String> { Ok(()) }
//! }
//!
//! let id = Identity { hostname: "pic".into(), version: "0.1.0".into(), session_id: 7 };
//! let mut s = Session::new(Fake, id);
//! assert!(String::from_utf8(s.hello()).unwrap().contains("<session-id>7</session-id>"));
//! let hello = "<hello xmlns=\"urn:ietf:params:xml:ns:netconf:base:1.0\"><capabilities>\
//!     <capability>urn:ietf:params:netconf:base:1.0</capability></capabilities></hello>]]>]]>";
//! let now = std::time::Duration::ZERO;
//! assert!(s.receive(now, hello.as_bytes()).is_empty());
//! let out = s.receive(now, b"<rpc message-id=\"1\"><command format=\"text\">show services sessions</command></rpc>]]>]]>");
//! let out = String::from_utf8(out).unwrap();
//! assert!(out.contains("message-id=\"1\""));
//! assert!(out.contains("<output>\nshow services sessions\n</output>"));
//! ```

#![forbid(unsafe_code)]

pub mod config;
pub mod framing;
pub mod session;
pub mod timers;
pub mod xml;

pub use framing::{Decoder, Framing, FramingError, MAX_MESSAGE};
pub use session::{Daemon, Identity, RpcError, Session, Stats};
pub use timers::{Expired, Timeouts};

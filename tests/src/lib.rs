//! Deterministic traffic and the network-namespace testbed for mspic tests and demos.
//!
//! Frames are built with `etherparse`'s `PacketBuilder` — deliberately not with the
//! engine's own wire code, so that the engine is never tested against input it made
//! itself — and written as pcap or pcapng with `pcap-file`. All IPv4 header, TCP, UDP
//! and ICMP checksums are computed by the builder and correct.
//!
//! ```
//! use std::time::Duration;
//! use mspic_tests::{Gen, Host, Sides, Trace};
//!
//! let client = Host::inside([10, 0, 0, 2]);
//! let server = Host::outside([203, 0, 113, 10]);
//! let mut g = Gen::new(1);
//! let mut trace = Trace::new();
//! let conv = g.tcp_conversation(
//!     &mut trace, &client, &server, 40_000, 80, Duration::ZERO, 300, 5_000, Sides::Both,
//! );
//! assert_eq!(conv.frames() as usize, trace.len());
//! # let dir = std::env::temp_dir().join(format!("mspic-doc-{}.pcap", std::process::id()));
//! trace.write_pcap(&dir).unwrap();
//! # std::fs::remove_file(&dir).unwrap();
//! ```
//!
//! See [`host`] for the address and MAC scheme, [`gen`] for the timing and TCP model,
//! and [`mixed_client_traffic`] for the demo's traffic mix.

#![forbid(unsafe_code)]

pub mod check;
pub mod gen;
pub mod host;
pub mod live;
pub mod mixed;
pub mod rng;
pub mod ssh;
pub mod summary;
pub mod testbed;
pub mod trace;

pub use gen::{Gen, Peer, Sides, TcpConn};
pub use host::{
    fmt_mac, host_mac, Host, Port, OUTSIDE_GATEWAY, ROUTER_IP_INSIDE, ROUTER_IP_OUTSIDE,
    ROUTER_MAC_INSIDE, ROUTER_MAC_OUTSIDE,
};
pub use mixed::mixed_client_traffic;
pub use rng::Rng;
pub use summary::{Conversation, Counters, FiveTuple, Proto, Summary};
pub use trace::{
    read_capture, read_capture_bytes, Capture, CapturedFrame, Frame, Trace, DEFAULT_EPOCH,
};

#[cfg(test)]
mod gen_tests;

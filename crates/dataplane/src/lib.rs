//! Where packets meet the engine: offline replay of captures, and the live dataplane (XDP
//! steering into AF_XDP sockets, per-queue workers, L2). The only crate that does I/O and
//! the only one with `unsafe` code.

pub mod answers;
pub mod handoff;
pub mod l2;
pub mod pcap;
pub mod replay;
pub mod respond;
pub mod runtime;
pub mod worker;
pub mod xdp;
pub mod xsk;

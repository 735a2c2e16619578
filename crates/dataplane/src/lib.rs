//! The live dataplane: XDP steering into AF_XDP sockets, per-queue workers, L2. The only
//! crate with `unsafe` code. The offline driver (captures, replay, answer merging) is
//! `mspic-offline`, which builds without the BPF toolchain.

#![deny(clippy::undocumented_unsafe_blocks)]

pub use mspic_offline::answers;
pub mod cpu;
pub mod handoff;
pub mod l2;
pub mod netdev;
pub mod runtime;
pub mod syslog;
pub mod worker;
pub mod xdp;
pub mod xsk;

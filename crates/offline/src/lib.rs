//! The offline driver: captures in and out ([`pcap`]), every frame through the same shards
//! the daemon runs ([`replay`]), the far end of each conversation ([`respond`]), and the
//! per-shard answer merging that offline replay and the live runtime share ([`answers`]).
//!
//! Pure Rust: it needs no kernel headers, no BPF toolchain and no C library, so `mspic
//! check` and `mspic replay` build wherever Rust does.

#![forbid(unsafe_code)]

pub mod answers;
pub mod pcap;
pub mod replay;
pub mod respond;

//! Sans-IO services core: per-shard session table, timers, stateful firewall, NAT.
//!
//! Nothing here reads a clock or touches a socket: every entry point takes `now`.

pub mod snapshot;
pub mod time;

pub use snapshot::*;
pub use time::Time;

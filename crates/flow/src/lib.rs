//! Sans-IO services core: per-shard session table, timers, stateful firewall, NAT and the
//! hooks ALGs plug into.
//!
//! Nothing here reads a clock or touches a socket: every entry point takes `now`, so tests
//! drive shards in virtual time.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod addr_set;
pub mod alg;
pub mod dir;
mod index;
pub mod ip_options;
pub mod matching;
pub mod nat;
pub mod nexthop;
pub mod owner;
pub mod policy;
pub mod route;
pub mod seqadj;
pub mod session;
pub mod shard;
pub mod snapshot;
pub mod syslog;
pub mod table;
pub mod tcp;
pub mod time;
pub mod timer;
pub mod token_bucket;

pub use policy::{Policy, PolicyError};
pub use route::IfIndex;
pub use shard::{DropReason, Frame, Shard, ShardConfig, ShardMessage, Verdict, BATCH};
pub use snapshot::*;
pub use time::Time;

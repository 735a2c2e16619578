//! Stateless IP/ICMP translation between IPv6 and IPv4 (RFC 7915), the packet core of
//! stateful NAT64 (RFC 6146): the stateful layer picks the addresses, ports and ICMP
//! identifiers, this module rewrites one packet into a caller-provided buffer.

pub mod addr;

pub use addr::{Nat64Prefix, PrefixError, WELL_KNOWN_PREFIX};

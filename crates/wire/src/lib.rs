//! Packet views and in-place rewrites for the per-packet hot path.
//!
//! Everything here works on borrowed byte slices: parsing never copies or allocates,
//! rewrites patch the frame in place and fix checksums incrementally (RFC 1624), and
//! reply builders write into a caller-provided buffer. Every function returns an error
//! instead of panicking on malformed input, and the crate contains no `unsafe`.
//!
//! Layout follows smoltcp's `wire` module: one view type per header
//! (`Packet<T: AsRef<[u8]>>`) whose `new_checked` constructor proves every accessor
//! in bounds, with field offsets as named constants.
//!
//! Entry points used by the flow engine:
//! - [`parse::parse_frame`]: Ethernet (+ one 802.1Q tag) → IPv4/IPv6 → L4, into [`Parsed`];
//! - [`rewrite`]: NAT address/port/id rewrites, TTL decrement, MAC rewrite, ICMP error
//!   payload translation (RFC 5508);
//! - [`build`]: TCP RST and ICMP error replies;
//! - [`xlat`]: IPv6 ↔ IPv4 translation of one packet into another buffer (RFC 7915).
//!
//! ```
//! use mspic_wire::{parse_frame, rewrite, WireError, L4};
//!
//! /// Source NAPT of one TCP/UDP frame, in place.
//! fn snat(frame: &mut [u8]) -> Result<(), WireError> {
//!     let p = parse_frame(frame)?;
//!     if let L4::Tcp { .. } | L4::Udp = p.l4 {
//!         rewrite::set_src_addr(frame, &p, "203.0.113.130".parse().unwrap())?;
//!         rewrite::set_src_port(frame, &p, 1024)?;
//!     }
//!     rewrite::decrement_ttl(frame, &p)?;
//!     Ok(())
//! }
//! # let _ = snat;
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod arp;
pub mod build;
mod bytes;
pub mod checksum;
pub mod error;
pub mod ethernet;
pub mod fragment;
pub mod gre;
pub mod icmp;
pub mod ipv4;
pub mod ipv6;
pub mod key;
pub mod nd;
pub mod parse;
pub mod proto;
pub mod reassembly;
pub mod rewrite;
pub mod tcp;
pub mod udp;
pub mod xlat;

pub use build::IcmpErrorKind;
pub use error::{ErrorClass, NoReplyReason, WireError};
pub use key::FlowKey;
pub use parse::{parse_frame, Fragment, InnerPacket, IpVersion, Parsed, L4};

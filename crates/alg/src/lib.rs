//! Application-level gateways: one module per protocol, all behind one [`Registry`] that
//! implements [`mspic_flow::alg::AlgRegistry`]. Build shards with
//! `Shard::with_algs(cfg, policy, mspic_alg::registry())`.
//!
//! Which ALG a session gets is the `application-protocol` of the application its rule
//! term matched (see `mspic_flow::policy`); the registry maps that protocol (and the
//! session's transport) to a plugin:
//!
//! | application-protocol | transport | plugin | watched flows |
//! |---|---|---|---|
//! | `ftp` | TCP | [`ftp`] (RFC 959, RFC 2428) | both |
//! | `tftp` | UDP | [`tftp`] (RFC 1350) | I |
//! | `dns` | UDP | [`dns`] | both |
//! | `rsh`, `shell`, `exec` | TCP | [`rsh`] (stderr port) | both |
//! | `talk` | UDP | [`talk`] (talk 517, ntalk 518) | I |
//! | `sip` | UDP, TCP | [`sip`] (RFC 3261, SDP RFC 4566) | both |
//! | `rtsp` | TCP | [`rtsp`] (RFC 2326) | both |
//! | `rpc-portmap` | UDP, TCP | [`rpc`] (RFC 5531, RFC 1833 GETPORT/GETADDR) | both |
//! | `dce-rpc-portmap` | TCP | [`dcerpc`] (C706 endpoint mapper `ept_map`) | both |
//! | `sqlnet` | TCP | [`sqlnet`] (TNS redirect) | both |
//! | `pptp` | TCP | [`pptp`] (RFC 2637 control; GRE pinholes, under NAPT the PNS Call ID translated and the GRE keyed by call id) | both |
//! | `ike-esp-nat` | UDP | [`ike`] (RFC 7296, RFC 2409; ESP pinholes, under NAPT ESP paired by SPI) | both |
//! | `icmp`, `icmpv6` | ICMP, ICMPv6 | [`icmp`] (queries only, no rewrite) | both |
//!
//! [`h323`] holds the H.225.0 parsers (TPKT, Q.931, RAS) without a plugin yet. Every other
//! protocol (`login`, TCP DNS…) is named on the session and forwarded without
//! inspection. The parsers never panic: bad input is an [`AlgError`], counted and
//! dropped by the engine.
//!
//! What a driver of shards built with this registry does (replay and live workers):
//! - after `process`/`process_batch`, `handle_timeout` and `clear`, drain every shard's
//!   `drain_outbox()` and `deliver` each message to every shard, the sender included
//!   (pinholes, their use, the end of a parent);
//! - apply `ShardMessage::Steer { key, shard }` / `Unsteer { key }`: frames whose arrival
//!   key is steered go to that shard instead of the owner function's (an enhanced GRE
//!   frame's call key is looked up first: `mspic_flow::owner::steered`);
//! - give frames tailroom (`Frame::buf` longer than the frame): a rewrite may grow the
//!   payload, and `Frame::len` is the length to send.

#![forbid(unsafe_code)]

use std::sync::Arc;

use mspic_config::AppProtocol;
use mspic_flow::alg::{AlgError, AlgParams, AlgRegistry, AlgSession};
use mspic_wire::{proto, FlowKey};

pub mod dcerpc;
pub mod dns;
pub mod ftp;
pub mod h323;
pub mod icmp;
pub mod ike;
pub mod line;
pub mod pptp;
pub mod rpc;
pub mod rsh;
pub mod rtsp;
pub mod sdp;
pub mod sip;
pub mod sqlnet;
pub mod talk;
pub mod tftp;

/// Seconds an expected child flow waits for its first packet.
pub const PINHOLE_LIFETIME_SECS: u32 = 120;

/// The registry of every ALG in this crate.
#[derive(Debug, Default, Clone, Copy)]
pub struct Registry;

/// The registry, ready for `Shard::with_algs`.
pub fn registry() -> Arc<dyn AlgRegistry> {
    Arc::new(Registry)
}

impl AlgRegistry for Registry {
    /// `rpc` and `dce-rpc` sessions to the portmapper (111) or the endpoint mapper (135)
    /// get the mapper ALG too: their application's `rpc-program-number` / `uuid` limit the
    /// pinholes it opens.
    fn create(
        &self,
        p: AppProtocol,
        first: &FlowKey,
        params: &AlgParams,
    ) -> Option<(Box<dyn AlgSession>, [bool; 2])> {
        use AppProtocol as P;
        let tcp = first.proto == proto::TCP;
        let udp = first.proto == proto::UDP;
        let to = |port: u16| first.dst_port == port;
        let (alg, watch): (Box<dyn AlgSession>, [bool; 2]) = match p {
            P::Ftp if tcp => (Box::new(ftp::Ftp::default()), [true, true]),
            P::Tftp if udp => (Box::new(tftp::Tftp::default()), [true, false]),
            P::Dns if udp => (Box::new(dns::Dns::default()), [true, true]),
            P::Rsh | P::Shell | P::Exec if tcp => (Box::new(rsh::Rsh::default()), [true, true]),
            P::Talk if udp => (Box::new(talk::Talk::new(first.dst_port)), [true, false]),
            P::Sip if tcp || udp => (Box::new(sip::Sip::new(first.proto)), [true, true]),
            P::Rtsp if tcp => (Box::new(rtsp::Rtsp::default()), [true, true]),
            P::RpcPortmap if tcp || udp => (
                Box::new(rpc::Portmap::new(first.proto, params.clone())),
                [true, true],
            ),
            P::Rpc if (tcp || udp) && to(rpc::PMAP_PORT) => (
                Box::new(rpc::Portmap::new(first.proto, params.clone())),
                [true, true],
            ),
            P::DceRpcPortmap if tcp => (Box::new(dcerpc::Epm::new(params.clone())), [true, true]),
            P::DceRpc if tcp && to(dcerpc::EPM_PORT) => {
                (Box::new(dcerpc::Epm::new(params.clone())), [true, true])
            }
            P::Sqlnet if tcp => (Box::new(sqlnet::Sqlnet::default()), [true, true]),
            P::Pptp if tcp => (Box::new(pptp::Pptp::default()), [true, true]),
            P::IkeEspNat if udp => (Box::new(ike::Ike::default()), [true, true]),
            P::Icmp if first.proto == proto::ICMP => (Box::new(icmp::Icmp), [true, true]),
            P::Icmpv6 if first.proto == proto::ICMPV6 => (Box::new(icmp::Icmp), [true, true]),
            _ => return None,
        };
        Some((alg, watch))
    }
}

/// A decimal number of at most `max_digits` digits and at most `max` (no sign, no
/// spaces): oversized numbers are errors, not wrap-arounds.
pub fn parse_decimal(
    s: &[u8],
    max_digits: usize,
    max: u32,
    what: &'static str,
) -> Result<u32, AlgError> {
    if s.is_empty() || s.len() > max_digits || !s.iter().all(u8::is_ascii_digit) {
        return Err(AlgError::Malformed(what));
    }
    let v = s
        .iter()
        .fold(0u64, |acc, &d| acc * 10 + u64::from(d - b'0'));
    if v > u64::from(max) {
        return Err(AlgError::Malformed(what));
    }
    Ok(v as u32)
}

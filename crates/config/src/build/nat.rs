//! `services nat`: pools (addresses, ranges, ports), rules whose terms translate or not,
//! and rule sets; checks that each translation type has the pools and prefixes it needs.

use std::net::{IpAddr, Ipv4Addr};

use super::applications::AppNames;
use super::cursor::Cur;
use super::diag::{Diags, R};
use super::draft::{Leaf, Unique};
use super::rules::{conditions, finish_rule_sets, rule_set, rule_term, FromD, RuleD, TermD};
use super::values::{ipv4, name, port_value, prefix, u32_in, uint};
use super::Builder;
use crate::lexer::{Pos, Tok};
use crate::model::*;

/// What a pool's `port` statement chose.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum PortKind {
    Automatic,
    Range(u16, u16),
}

/// A NAT pool; `port_pos` is where `port` was first written (even if incomplete).
pub(super) struct PoolD {
    pub(super) name: String,
    pub(super) pos: Pos,
    pub(super) addresses: Vec<Prefix>,
    pub(super) ranges: Vec<(Ipv4Addr, Ipv4Addr)>,
    pub(super) members: usize,
    /// Addresses its members hold (a member overlapping another counts again, as the
    /// emulator expands each member).
    pub(super) size: u64,
    pub(super) port: Leaf<PortKind>,
    pub(super) port_pos: Option<Pos>,
    pub(super) random: bool,
    pub(super) parity: bool,
    pub(super) preserve_range: bool,
    pub(super) round_robin: bool,
    pub(super) mapping_timeout: Leaf<u32>,
    /// `ei-mapping-timeout`: replaces `mapping-timeout` for endpoint-independent mappings.
    pub(super) ei_mapping_timeout: Leaf<u32>,
    /// `app-mapping-timeout`: replaces `mapping-timeout` for paired-pooling mappings.
    pub(super) app_mapping_timeout: Leaf<u32>,
    /// `port secured-port-block-allocation …`, where it was first written.
    pub(super) pba: Option<PbaD>,
    /// `port deterministic-port-block-allocation …`, where it was first written.
    pub(super) det: Option<DetD>,
}

/// `port deterministic-port-block-allocation [block-size B] [include-boundary-addresses]`.
pub(super) struct DetD {
    pub(super) pos: Pos,
    pub(super) block_size: Leaf<u16>,
    pub(super) boundary: bool,
}

/// `port secured-port-block-allocation { block-size B; max-blocks-per-address M;
/// active-block-timeout T; }` of a pool.
pub(super) struct PbaD {
    pub(super) pos: Pos,
    pub(super) block_size: Leaf<u16>,
    pub(super) max_blocks: Leaf<u16>,
    pub(super) timeout: Leaf<u32>,
    pub(super) interim: Leaf<u32>,
}

/// `then translated …` of a NAT term.
#[derive(Default)]
pub(super) struct TranslatedD {
    pub(super) spool: Leaf<String>,
    pub(super) dpool: Leaf<String>,
    pub(super) sprefix: Leaf<Prefix>,
    pub(super) dprefix: Leaf<Prefix>,
    pub(super) ttype: Leaf<TranslationType>,
    pub(super) paired: bool,
    pub(super) eim: bool,
    pub(super) eif: bool,
}

/// `then …` of a NAT term.
#[derive(Default)]
pub(super) struct NatThenD {
    /// `true`: `then translated`; `false`: `then no-translation`.
    pub(super) kind: Leaf<bool>,
    pub(super) translated: TranslatedD,
    pub(super) syslog: bool,
    /// `port-forwarding-mappings NAME`.
    pub(super) port_forwarding: Leaf<String>,
}

/// `services nat port-forwarding NAME`: (destined, translated, where) port pairs.
pub(super) struct PortFwdD {
    pub(super) name: String,
    pub(super) pos: Pos,
    pub(super) mappings: Vec<(u16, u16, Pos)>,
}

/// A NAT rule.
pub(super) type NatRuleD = RuleD<NatThenD>;

/// Forbidden NAT pool members (checked by overlap), with their description.
const POOL_FORBIDDEN: [(u32, u32, &str); 5] = [
    (
        0xffff_ffff,
        0xffff_ffff,
        "the broadcast address 255.255.255.255",
    ),
    (0, 0, "the unspecified address 0.0.0.0"),
    (0x7f00_0000, 0x7fff_ffff, "loopback 127.0.0.0/8"),
    (0xe000_0000, 0xefff_ffff, "multicast 224.0.0.0/4"),
    (0xf000_0000, 0xffff_ffff, "class E 240.0.0.0/4"),
];

/// What forbidden block `lo..=hi` (addresses as numbers) overlaps, if any.
fn pool_forbidden(lo: u32, hi: u32) -> Option<&'static str> {
    POOL_FORBIDDEN
        .iter()
        .find(|(a, b, _)| lo <= *b && *a <= hi)
        .map(|(_, _, what)| *what)
}

const TRANSLATED: &[&str] = &[
    "source-pool",
    "destination-pool",
    "source-prefix",
    "destination-prefix",
    "translation-type",
    "address-pooling",
    "mapping-type",
    "filtering-type",
];

const TRANSLATED_IGNORED: &[&str] = &[
    "overload-pool",
    "overload-prefix",
    "dns-alg-pool",
    "dns-alg-prefix",
    "use-dns-map-for-destination-translation",
    "secure-nat-mapping",
];

/// Junos translation types that mspic does not implement (rejected, not ignored).
const TRANSLATION_UNSUPPORTED: &[&str] = &[
    "basic-nat-pt",
    "basic-nat66",
    "deterministic-napt64",
    "dnat-64",
    "napt-66",
    "napt-pt",
    "stateful-nat464",
];

/// Most addresses and ranges one pool may list.
const MAX_POOL_MEMBERS: usize = 32;
/// Most addresses one pool may hold (a /16): the emulator lays out state per address.
const MAX_POOL_ADDRESSES: u64 = 1 << 16;

impl Builder {
    pub(super) fn nat(&mut self, d: &mut Diags, c: &mut Cur) -> R<()> {
        let Some((k, _)) = c.kw(
            d,
            &["pool", "rule", "rule-set", "port-forwarding"],
            &[
                "traceoptions",
                "ipv6-multicast-interfaces",
                "allow-overlapping-nat-pools",
                "nat-options",
            ],
        )?
        else {
            return Ok(());
        };
        match k {
            "rule-set" => rule_set(&mut self.nat_rule_sets, d, c),
            "pool" => self.pool(d, c),
            "port-forwarding" => self.port_forwarding(d, c),
            _ => self.nat_rule(d, c),
        }
    }

    fn pool(&mut self, d: &mut Diags, c: &mut Cur) -> R<()> {
        let (n, t) = c.parse(d, "pool name", name("pool name"))?;
        let pool = self.pools.entry(n.clone(), || PoolD {
            name: n.clone(),
            pos: t.pos,
            addresses: Default::default(),
            ranges: Default::default(),
            members: 0,
            size: 0,
            port: Leaf::default(),
            port_pos: None,
            random: false,
            parity: false,
            preserve_range: false,
            round_robin: false,
            mapping_timeout: Leaf::default(),
            ei_mapping_timeout: Leaf::default(),
            app_mapping_timeout: Leaf::default(),
            pba: None,
            det: None,
        });
        // Ignoring a cap on the ports one pool address hands out would translate more
        // sessions than the router does: refused, not ignored.
        c.refuse(
            d,
            &[(
                "limit-ports-per-address",
                "mspic does not cap the ports of a pool address",
            )],
        )?;
        let Some((k, kpos)) = c.kw(
            d,
            &[
                "address",
                "address-range",
                "port",
                "address-allocation",
                "mapping-timeout",
                "ei-mapping-timeout",
                "app-mapping-timeout",
            ],
            &["snmp-trap-thresholds", "pgcp", "ipv6-prefix-length"],
        )?
        else {
            return Ok(());
        };
        match k {
            "address" => pool_address(pool, d, c),
            "address-range" => pool_address_range(pool, d, c),
            "address-allocation" => {
                c.need_kw(d, &["round-robin"], &[])?;
                c.end(d)?;
                pool.round_robin = true;
                Ok(())
            }
            // Junos: "mapping-timeout", "ei-mapping-timeout" and "app-mapping-timeout
            // (Services NAT)", 120 through 86,400 seconds.
            "mapping-timeout" | "ei-mapping-timeout" | "app-mapping-timeout" => {
                let (stmt, leaf) = match k {
                    "mapping-timeout" => ("mapping-timeout", &mut pool.mapping_timeout),
                    "ei-mapping-timeout" => ("ei-mapping-timeout", &mut pool.ei_mapping_timeout),
                    _ => ("app-mapping-timeout", &mut pool.app_mapping_timeout),
                };
                let (v, t) = c.parse(d, stmt, u32_in(120, 86400, stmt))?;
                c.end(d)?;
                leaf.set(d, stmt, v, t.pos, &t.text)
            }
            _ => {
                if pool.port_pos.is_none() {
                    pool.port_pos = Some(kpos);
                }
                pool_port(pool, d, c)
            }
        }
    }

    /// `port-forwarding NAME destined-port D translated-port T`: a destined port maps to
    /// one translated port (a repeated identical pair is one pair).
    fn port_forwarding(&mut self, d: &mut Diags, c: &mut Cur) -> R<()> {
        let (n, t) = c.parse(
            d,
            "port-forwarding map name",
            name("port-forwarding map name"),
        )?;
        let map = self.port_fwd.entry(n.clone(), || PortFwdD {
            name: n.clone(),
            pos: t.pos,
            mappings: Vec::new(),
        });
        if c.kw(d, &["destined-port"], &[])?.is_none() {
            return Ok(());
        }
        let (dst, dt) = c.parse(d, "destined port", nonzero_port)?;
        c.need_kw(d, &["translated-port"], &[])?;
        let (to, _) = c.parse(d, "translated port", nonzero_port)?;
        c.end(d)?;
        match map.mappings.iter().find(|m| m.0 == dst) {
            Some(&(_, old, _)) if old != to => Err(d.error(
                dt.pos,
                format!(
                    "port-forwarding '{}': destined-port {dst} is already translated to {old}",
                    map.name
                ),
            )),
            Some(_) => Ok(()),
            None => {
                map.mappings.push((dst, to, dt.pos));
                Ok(())
            }
        }
    }

    fn nat_rule(&mut self, d: &mut Diags, c: &mut Cur) -> R<()> {
        let Some(term) = rule_term(&mut self.nat_rules, true, d, c)? else {
            return Ok(());
        };
        let term = &mut term.then;
        let Some((k, kpos)) = c.kw(
            d,
            &[
                "translated",
                "no-translation",
                "syslog",
                "port-forwarding-mappings",
            ],
            &[],
        )?
        else {
            return Ok(());
        };
        match k {
            "syslog" => {
                term.syslog = true;
                c.end(d)
            }
            "port-forwarding-mappings" => {
                let t = c.val(d, "port-forwarding map name")?;
                c.end(d)?;
                term.port_forwarding
                    .set(d, k, t.text.clone(), t.pos, &t.text)
            }
            "no-translation" => {
                c.end(d)?;
                term.kind.set(d, "then", false, kpos, "no-translation")
            }
            _ => {
                term.kind.set(d, "then", true, kpos, "translated")?;
                translated(&mut term.translated, d, c)
            }
        }
    }
}

/// Counts one more address or range of `pool`, `t` holding `size` addresses: at most
/// [`MAX_POOL_MEMBERS`] members and [`MAX_POOL_ADDRESSES`] addresses.
fn add_member(pool: &mut PoolD, d: &mut Diags, t: &Tok, size: u64) -> R<()> {
    pool.members += 1;
    if pool.members > MAX_POOL_MEMBERS {
        return Err(d.error(
            t.pos,
            format!(
                "nat pool '{}' has more than {MAX_POOL_MEMBERS} addresses and ranges",
                pool.name
            ),
        ));
    }
    pool.size += size;
    if pool.size > MAX_POOL_ADDRESSES {
        return Err(d.error(
            t.pos,
            format!(
                "nat pool '{}' is too large: '{}' brings it to {} addresses (at most {MAX_POOL_ADDRESSES} per pool)",
                pool.name, t.text, pool.size
            ),
        ));
    }
    Ok(())
}

/// `address A[/L]` of a pool (IPv4, no forbidden block).
fn pool_address(pool: &mut PoolD, d: &mut Diags, c: &mut Cur) -> R<()> {
    let (p, t) = c.parse(d, "pool address", prefix)?;
    c.end(d)?;
    let IpAddr::V4(a) = p.addr else {
        return Err(d.error(
            t.pos,
            format!(
                "invalid NAT pool address '{}' (mspic implements NAT44: expected an IPv4 address or prefix)",
                t.text
            ),
        ));
    };
    let host_bits = if p.len == 0 {
        u32::MAX
    } else {
        !(u32::MAX << (32 - p.len))
    };
    let net = u32::from(a) & !host_bits;
    if let Some(what) = pool_forbidden(net, net | host_bits) {
        return Err(d.error(
            t.pos,
            format!(
                "invalid NAT pool address '{}': it covers {what}, which cannot be a pool member",
                t.text
            ),
        ));
    }
    if !pool.addresses.contains(&p) {
        add_member(pool, d, t, u64::from(host_bits) + 1)?;
        pool.addresses.push(p);
    }
    Ok(())
}

/// `address-range low A high B` of a pool.
fn pool_address_range(pool: &mut PoolD, d: &mut Diags, c: &mut Cur) -> R<()> {
    c.need_kw(d, &["low"], &[])?;
    let (low, lt) = c.parse(d, "low address", ipv4)?;
    c.need_kw(d, &["high"], &[])?;
    let (high, ht) = c.parse(d, "high address", ipv4)?;
    c.end(d)?;
    if low > high {
        return Err(d.error(
            lt.pos,
            format!(
                "invalid address-range: low {} is above high {}",
                lt.text, ht.text
            ),
        ));
    }
    if let Some(what) = pool_forbidden(low.into(), high.into()) {
        return Err(d.error(
            lt.pos,
            format!(
                "invalid NAT pool address-range {}-{}: it covers {what}, which cannot be a pool member",
                lt.text, ht.text
            ),
        ));
    }
    if !pool.ranges.contains(&(low, high)) {
        let size = u64::from(u32::from(high) - u32::from(low)) + 1;
        add_member(pool, d, lt, size)?;
        pool.ranges.push((low, high));
    }
    Ok(())
}

/// `port automatic|range …|preserve-parity|preserve-range` of a pool.
fn pool_port(pool: &mut PoolD, d: &mut Diags, c: &mut Cur) -> R<()> {
    let Some((k, kpos)) = c.kw(
        d,
        &[
            "automatic",
            "range",
            "preserve-parity",
            "preserve-range",
            "secured-port-block-allocation",
            "deterministic-port-block-allocation",
        ],
        &[],
    )?
    else {
        return Ok(());
    };
    match k {
        "secured-port-block-allocation" => pool_pba(pool, d, c, kpos),
        "deterministic-port-block-allocation" => pool_det(pool, d, c, kpos),
        "preserve-parity" => {
            c.end(d)?;
            pool.parity = true;
            Ok(())
        }
        "preserve-range" => {
            c.end(d)?;
            pool.preserve_range = true;
            Ok(())
        }
        "automatic" => {
            pool.port
                .set(d, "port", PortKind::Automatic, kpos, "automatic")?;
            if let Some((m, _)) = c.kw(d, &["sequential", "random-allocation"], &[])? {
                c.end(d)?;
                if m == "random-allocation" {
                    pool.random = true;
                }
            }
            Ok(())
        }
        _ => pool_port_range(pool, d, c),
    }
}

/// `secured-port-block-allocation [block-size B] [max-blocks-per-address M]
/// [active-block-timeout T]` of a pool's `port` (Junos: "secured-port-block-allocation
/// (Services NAT)": block-size 1–60 000, max blocks 1–512, timeout 0 or at least 120 s;
/// older releases spell the limit `max-blocks-per-user`).
fn pool_pba(pool: &mut PoolD, d: &mut Diags, c: &mut Cur, kpos: Pos) -> R<()> {
    let pba = pool.pba.get_or_insert_with(|| PbaD {
        pos: kpos,
        block_size: Leaf::default(),
        max_blocks: Leaf::default(),
        timeout: Leaf::default(),
        interim: Leaf::default(),
    });
    while let Some((k, _)) = c.kw(
        d,
        &[
            "block-size",
            "max-blocks-per-address",
            "max-blocks-per-user",
            "active-block-timeout",
            "interim-logging-interval",
        ],
        &[],
    )? {
        match k {
            "block-size" => {
                let (v, t) = c.parse(d, "block-size", |s| uint(s, "block-size", 1, 60000))?;
                pba.block_size.set(d, k, v as u16, t.pos, &t.text)?;
            }
            "interim-logging-interval" => {
                let (v, t) = c.parse(d, k, |s| uint(s, "interim-logging-interval", 0, 86400))?;
                pba.interim.set(d, k, v as u32, t.pos, &t.text)?;
            }
            "active-block-timeout" => {
                let (v, t) = c.parse(d, "active-block-timeout", |s| {
                    match uint(s, "active-block-timeout", 0, 86400)? {
                        v @ (0 | 120..) => Ok(v),
                        _ => Err(format!(
                            "invalid active-block-timeout '{s}' (expected 0, for no timeout, or 120..86400 seconds)"
                        )),
                    }
                })?;
                pba.timeout.set(d, k, v as u32, t.pos, &t.text)?;
            }
            _ => {
                let (v, t) = c.parse(d, k, |s| uint(s, "max-blocks-per-address", 1, 512))?;
                pba.max_blocks
                    .set(d, "max-blocks-per-address", v as u16, t.pos, &t.text)?;
            }
        }
    }
    Ok(())
}

/// `deterministic-port-block-allocation [block-size B] [include-boundary-addresses]` of
/// a pool's `port` (Junos: "port (Services NAT)": block-size 0–64 512, 0 computing it).
fn pool_det(pool: &mut PoolD, d: &mut Diags, c: &mut Cur, kpos: Pos) -> R<()> {
    let det = pool.det.get_or_insert_with(|| DetD {
        pos: kpos,
        block_size: Leaf::default(),
        boundary: false,
    });
    while let Some((k, _)) = c.kw(d, &["block-size", "include-boundary-addresses"], &[])? {
        if k == "include-boundary-addresses" {
            det.boundary = true;
        } else {
            let (v, t) = c.parse(d, "block-size", |s| uint(s, "block-size", 0, 64512))?;
            det.block_size.set(d, k, v as u16, t.pos, &t.text)?;
        }
    }
    Ok(())
}

/// `port range low L high H [random-allocation]` of a pool.
fn pool_port_range(pool: &mut PoolD, d: &mut Diags, c: &mut Cur) -> R<()> {
    c.need_kw(d, &["low"], &[])?;
    let (low, lt) = c.parse(d, "low port", |s| uint(s, "port", 0, 65535))?;
    c.need_kw(d, &["high"], &[])?;
    let (high, ht) = c.parse(d, "high port", |s| uint(s, "port", 0, 65535))?;
    let problem = if low > high {
        Some(format!("low {} is above high {}", lt.text, ht.text))
    } else if low == 0 {
        Some("port 0 cannot be allocated (expected a low port of 1 or more)".to_string())
    } else {
        None
    };
    if let Some(problem) = problem {
        return Err(d.error(
            lt.pos,
            format!("nat pool '{}': invalid port range: {problem}", pool.name),
        ));
    }
    let text = format!("range low {} high {}", lt.text, ht.text);
    pool.port.set(
        d,
        "port",
        PortKind::Range(low as u16, high as u16),
        lt.pos,
        &text,
    )?;
    if c.kw(d, &["random-allocation"], &[])?.is_some() {
        pool.random = true;
    }
    c.end(d)
}

/// A statement under `then translated` of a NAT term.
fn translated(tr: &mut TranslatedD, d: &mut Diags, c: &mut Cur) -> R<()> {
    let Some((k, _)) = c.kw(d, TRANSLATED, TRANSLATED_IGNORED)? else {
        return Ok(());
    };
    match k {
        "source-pool" | "destination-pool" => {
            let t = c.val(d, "pool name")?;
            c.end(d)?;
            let leaf = if k == "source-pool" {
                &mut tr.spool
            } else {
                &mut tr.dpool
            };
            leaf.set(d, k, t.text.clone(), t.pos, &t.text)
        }
        "source-prefix" | "destination-prefix" => {
            let (p, t) = c.parse(d, "prefix", prefix)?;
            c.end(d)?;
            let leaf = if k == "source-prefix" {
                &mut tr.sprefix
            } else {
                &mut tr.dprefix
            };
            leaf.set(d, k, p, t.pos, &t.text)
        }
        "translation-type" => {
            let (tt, t) = c.parse(d, "translation type", translation_type)?;
            c.end(d)?;
            tr.ttype.set(d, "translation-type", tt, t.pos, &t.text)
        }
        "address-pooling" => {
            c.need_kw(d, &["paired"], &[])?;
            c.end(d)?;
            tr.paired = true;
            Ok(())
        }
        "mapping-type" => {
            c.need_kw(d, &["endpoint-independent"], &[])?;
            c.end(d)?;
            tr.eim = true;
            Ok(())
        }
        _ => {
            c.need_kw(d, &["endpoint-independent"], &[])?;
            tr.eif = true;
            c.end_or_ignore(d, &["prefix-list"])
        }
    }
}

/// A port number or name other than 0.
fn nonzero_port(s: &str) -> Result<u16, String> {
    match port_value(s)? {
        0 => Err("port 0 cannot be forwarded (expected 1-65535)".to_string()),
        p => Ok(p),
    }
}

/// A translation type mspic implements; the others are named as unsupported.
fn translation_type(s: &str) -> Result<TranslationType, String> {
    if let Some(tt) = TranslationType::from_keyword(s) {
        return Ok(tt);
    }
    let all: Vec<&str> = TranslationType::ALL.iter().map(|t| t.keyword()).collect();
    if TRANSLATION_UNSUPPORTED.contains(&s) {
        Err(format!(
            "translation-type '{s}' is not supported by mspic (supported: {})",
            all.join(", ")
        ))
    } else {
        Err(format!(
            "unknown translation-type '{s}' (expected one of: {})",
            all.join(", ")
        ))
    }
}

/// What secured port block allocation refuses (Junos: "Secured Port Block Allocation
/// Configuration Guidelines": no parity or range preservation; blocks of one size from
/// one contiguous range), reported at `pos`.
fn check_pba(d: &mut Diags, p: &PoolD, pos: Pos, b: SecuredPortBlock, port: Option<PoolPort>) {
    // A `port` without automatic or range is reported on its own.
    let Some(pp) = port else { return };
    let r = pp.range();
    let ports = u32::from(r.high) - u32::from(r.low) + 1;
    let problem = if u32::from(b.block_size) > ports {
        format!(
            "block-size {} is larger than the port range {}-{} ({ports} ports)",
            b.block_size, r.low, r.high
        )
    } else if p.parity || p.preserve_range {
        "cannot be combined with preserve-parity or preserve-range".to_string()
    } else {
        return;
    };
    d.error(
        pos,
        format!(
            "nat pool '{}': secured-port-block-allocation {problem}",
            p.name
        ),
    );
}

impl Builder {
    /// Checks each pool has members and a complete `port`; adds the pools to the model.
    pub(super) fn finish_pools(&self, d: &mut Diags, cfg: &mut Config) {
        for p in &self.pools {
            let bad_pool = self.tainted(&format!("services nat pool {}", p.name));
            if p.addresses.is_empty() && p.ranges.is_empty() && !bad_pool {
                d.error(
                    p.pos,
                    format!("nat pool '{}' has no address or address-range", p.name),
                );
            }
            let port = match p.port.get() {
                None => {
                    if let (Some(pos), false) = (p.port_pos, bad_pool) {
                        d.error(
                            pos,
                            format!(
                                "nat pool '{}': port needs 'automatic' or 'range low L high H'",
                                p.name
                            ),
                        );
                    }
                    None
                }
                Some(PortKind::Automatic) => Some(PoolPort::Automatic { random: p.random }),
                Some(PortKind::Range(low, high)) => Some(PoolPort::Range {
                    low,
                    high,
                    random: p.random,
                }),
            };
            let port_block = p.pba.as_ref().map(|b| SecuredPortBlock {
                block_size: b
                    .block_size
                    .get()
                    .unwrap_or(SecuredPortBlock::DEFAULT_BLOCK_SIZE),
                max_blocks: b
                    .max_blocks
                    .get()
                    .unwrap_or(SecuredPortBlock::DEFAULT_MAX_BLOCKS),
                active_timeout: b.timeout.get().unwrap_or(0),
                interim_logging_interval: b.interim.get(),
            });
            if let (Some(b), Some(pba)) = (port_block, &p.pba) {
                check_pba(d, p, pba.pos, b, port);
            }
            let deterministic = p.det.as_ref().map(|x| DeterministicBlocks {
                block_size: x
                    .block_size
                    .get()
                    .unwrap_or(DeterministicBlocks::DEFAULT_BLOCK_SIZE),
                include_boundary_addresses: x.boundary,
            });
            if let (Some(x), true) = (&p.det, p.pba.is_some() || p.parity || p.preserve_range) {
                d.error(
                    x.pos,
                    format!(
                        "nat pool '{}': deterministic-port-block-allocation cannot be combined with secured-port-block-allocation, preserve-parity or preserve-range",
                        p.name
                    ),
                );
            }
            cfg.nat_pools.push(NatPool {
                name: p.name.clone(),
                addresses: p.addresses.clone(),
                address_ranges: p.ranges.clone(),
                port,
                preserve_parity: p.parity,
                preserve_range: p.preserve_range,
                address_allocation_round_robin: p.round_robin,
                mapping_timeout: p.mapping_timeout.get(),
                ei_mapping_timeout: p.ei_mapping_timeout.get(),
                app_mapping_timeout: p.app_mapping_timeout.get(),
                port_block,
                deterministic,
            });
        }
    }

    /// Adds the port-forwarding maps to the model; a map without a mapping is an error.
    pub(super) fn finish_port_forwarding(&self, d: &mut Diags, cfg: &mut Config) {
        for m in self.port_fwd.iter() {
            let bad = self.tainted(&format!("services nat port-forwarding {}", m.name));
            if m.mappings.is_empty() && !bad {
                d.error(
                    m.pos,
                    format!(
                        "port-forwarding '{}' has no 'destined-port D translated-port T'",
                        m.name
                    ),
                );
            }
            cfg.nat_port_forwarding.push(PortForwarding {
                name: m.name.clone(),
                mappings: m.mappings.iter().map(|&(a, b, _)| (a, b)).collect(),
            });
        }
    }

    /// Checks NAT rules (direction, actions, pools, references) and rule sets; adds them
    /// to the model.
    pub(super) fn finish_nat_rules(&self, known: &AppNames, d: &mut Diags, cfg: &mut Config) {
        for r in &self.nat_rules {
            let dir = r.dir.get();
            if dir.is_none() && !self.tainted(&format!("services nat rule {}", r.name)) {
                d.error(
                    r.pos,
                    format!(
                        "nat rule '{}' has no match-direction (expected input or output)",
                        r.name
                    ),
                );
            }
            let mut terms = Vec::new();
            for t in &r.terms {
                self.check_from(known, d, &t.from);
                if let Some(then) = self.nat_then(d, r, t) {
                    terms.push(NatTerm {
                        name: t.name.clone(),
                        from: conditions(&t.from),
                        then,
                        syslog: t.then.syslog,
                    });
                }
            }
            if let Some(dir) = dir {
                cfg.nat_rules.push(NatRule {
                    name: r.name.clone(),
                    match_direction: dir,
                    terms,
                });
            }
        }
        cfg.nat_rule_sets = finish_rule_sets(d, &self.nat_rule_sets, &self.nat_rules, "nat");
        self.check_deterministic_pools_once(d);
    }

    /// A deterministic pool maps one source range: a second term mapping another range
    /// onto it would give two subscribers the same block; and a subscriber has one block,
    /// so two deterministic source ranges may not overlap.
    fn check_deterministic_pools_once(&self, d: &mut Diags) {
        let mut seen: Vec<(String, Option<Prefix>)> = Vec::new();
        for t in self.nat_rules.iter().flat_map(|r| r.terms.iter()) {
            let tr = &t.then.translated;
            if tr.ttype.get() != Some(TranslationType::DeterministicNapt44) {
                continue;
            }
            let Some(n) = tr.spool.get() else { continue };
            let from = t.from.src.iter().find_map(|m| match m {
                AddressMatch::Prefix {
                    prefix,
                    except: false,
                } => Some(prefix.network()),
                _ => None,
            });
            let pos = tr.ttype.pos().unwrap_or(t.pos);
            let overlap = seen.iter().find_map(|(_, o)| match (o, from) {
                (Some(o), Some(f)) if *o != f && (o.contains(f.addr) || f.contains(o.addr)) => {
                    Some(*o)
                }
                _ => None,
            });
            if seen.iter().any(|(x, o)| *x == n && *o != from) {
                d.error(
                    pos,
                    format!("source-pool '{n}' is already used by another deterministic-napt44 term (each subscriber range needs a pool of its own)"),
                );
            } else if let (Some(o), Some(f)) = (overlap, from) {
                d.error(
                    pos,
                    format!("deterministic-napt44 source range {f} overlaps {o} of another deterministic-napt44 term"),
                );
            }
            seen.push((n, from));
        }
    }

    /// `port-forwarding-mappings` names a map and comes with a translation that rewrites
    /// the destination: Junos forwards ports only for dnat-44 and twice-napt-44.
    fn check_port_forwarding(&self, d: &mut Diags, then: &NatThenD, tt: TranslationType) {
        let (Some(name), Some(pos)) = (then.port_forwarding.get(), then.port_forwarding.pos())
        else {
            return;
        };
        if !self.port_fwd.contains(&name) {
            d.error(pos, format!("port-forwarding '{name}' is not defined"));
        } else if !matches!(tt, TranslationType::Dnat44 | TranslationType::TwiceNapt44) {
            d.error(
                pos,
                format!(
                    "port-forwarding-mappings works with translation-type dnat-44 or twice-napt-44, not {}",
                    tt.keyword()
                ),
            );
        }
    }

    /// The action of term `t` of rule `r`, or `None` (and an error unless the term had
    /// one already) when it is missing or incomplete.
    fn nat_then(&self, d: &mut Diags, r: &NatRuleD, t: &TermD<NatThenD>) -> Option<NatThen> {
        let bad_term = self.tainted(&format!("services nat rule {} term {}", r.name, t.name));
        match t.then.kind.get() {
            None | Some(true) if bad_term => None,
            None => {
                d.error(
                    t.pos,
                    format!(
                        "term '{}' of nat rule '{}' has no action (expected then translated or then no-translation)",
                        t.name, r.name
                    ),
                );
                None
            }
            Some(false) => {
                if let Some(pos) = t.then.port_forwarding.pos() {
                    d.error(
                        pos,
                        "port-forwarding-mappings needs 'then translated' (dnat-44 or twice-napt-44), not no-translation",
                    );
                }
                Some(NatThen::NoTranslation)
            }
            Some(true) => {
                let tr = &t.then.translated;
                let Some(tt) = tr.ttype.get() else {
                    d.error(
                        t.then.kind.pos().unwrap_or(t.pos),
                        format!(
                            "term '{}' of nat rule '{}': translated has no translation-type",
                            t.name, r.name
                        ),
                    );
                    return None;
                };
                let tpos = tr.ttype.pos().unwrap_or(t.pos);
                let before = d.errors.len();
                self.check_translated(d, tr, tt, tpos);
                // One mistake at a time: what a mapping maps from is checked once what it
                // maps to is complete.
                if d.errors.len() == before {
                    self.check_mapping(d, tr, tt, tpos, &t.from);
                }
                self.check_port_forwarding(d, &t.then, tt);
                Some(NatThen::Translated(Translated {
                    source_pool: tr.spool.get(),
                    destination_pool: tr.dpool.get(),
                    source_prefix: tr.sprefix.get(),
                    destination_prefix: tr.dprefix.get(),
                    translation_type: tt,
                    address_pooling_paired: tr.paired,
                    mapping_type_eim: tr.eim,
                    filtering_type_eif: tr.eif,
                    port_forwarding_mappings: t.then.port_forwarding.get(),
                }))
            }
        }
    }

    /// Checks `then translated`: pools named exist, and translation type `tt` (written at
    /// `tpos`) has the pools or prefixes it needs.
    fn check_translated(&self, d: &mut Diags, tr: &TranslatedD, tt: TranslationType, tpos: Pos) {
        let mut pool_ok = true;
        for (leaf, what) in [(&tr.spool, "source-pool"), (&tr.dpool, "destination-pool")] {
            if let Some((n, pos, _)) = &leaf.v {
                if !self.pools.contains(n) {
                    d.error(*pos, format!("{what} '{n}' is not a defined nat pool"));
                    pool_ok = false;
                }
            }
        }
        let spool = tr.spool.get();
        let has_src = spool.is_some() || tr.sprefix.v.is_some();
        let has_dst = tr.dpool.v.is_some() || tr.dprefix.v.is_some();
        let kw = tt.keyword();
        let need = |d: &mut Diags, ok: bool, what: &str| {
            if !ok {
                d.error(tpos, format!("translation-type {kw} requires {what}"));
            }
        };
        let napt_port = |d: &mut Diags| {
            if let Some(n) = &spool {
                if pool_ok {
                    if let Some(p) = self.pools.get(n) {
                        if p.port.v.is_none() && p.port_pos.is_none() {
                            d.error(
                                tpos,
                                format!("translation-type {kw} requires source-pool '{n}' to have a 'port' statement"),
                            );
                        }
                    }
                }
            } else {
                d.error(
                    tpos,
                    format!("translation-type {kw} requires a source-pool with a 'port' statement"),
                );
            }
        };
        const SRC: &str = "a source-pool or a source-prefix";
        const DST: &str = "a destination-pool or a destination-prefix";
        match tt {
            TranslationType::Napt44 => napt_port(d),
            TranslationType::DynamicNat44 => need(d, spool.is_some(), "a source-pool"),
            TranslationType::BasicNat44 => need(d, has_src, SRC),
            TranslationType::Dnat44 => need(d, has_dst, DST),
            TranslationType::TwiceNapt44 => {
                napt_port(d);
                need(d, has_dst, DST);
            }
            TranslationType::TwiceBasicNat44 => {
                need(d, has_src, SRC);
                need(d, has_dst, DST);
            }
            TranslationType::TwiceDynamicNat44 => {
                need(d, spool.is_some(), "a source-pool");
                need(d, has_dst, DST);
            }
            TranslationType::DeterministicNapt44 => napt_port(d),
            TranslationType::StatefulNat64 => {
                napt_port(d);
                self.check_nat64(d, tr, tpos);
            }
        }
        // A deterministic pool serves deterministic-napt44 alone, and it alone.
        let det_pool = spool
            .as_ref()
            .and_then(|n| self.pools.get(n))
            .map(|p| p.det.is_some());
        let det = tt == TranslationType::DeterministicNapt44;
        if let (Some(has), Some(n)) = (det_pool, &spool) {
            if has != det {
                d.error(
                    tpos,
                    if det {
                        format!("translation-type {kw} requires source-pool '{n}' to have 'port deterministic-port-block-allocation'")
                    } else {
                        format!("translation-type {kw} cannot use source-pool '{n}': its ports are deterministic-port-block-allocation (translation-type deterministic-napt44 only)")
                    },
                );
            }
        }
    }
}

impl Builder {
    /// `stateful-nat64` (RFC 6146): an IPv4 source pool with ports and an IPv6
    /// `destination-prefix` of an RFC 6052 §2.2 length (none: the well-known
    /// 64:ff9b::/96); what mspic does not implement for it is refused by name.
    fn check_nat64(&self, d: &mut Diags, tr: &TranslatedD, tpos: Pos) {
        const KW: &str = "translation-type stateful-nat64";
        if let Some((p, pos, _)) = &tr.dprefix.v {
            let u_octet = match p.addr {
                std::net::IpAddr::V6(a) => a.octets()[8],
                std::net::IpAddr::V4(_) => 0,
            };
            if !p.addr.is_ipv6() || !matches!(p.len, 32 | 40 | 48 | 56 | 64 | 96) {
                d.error(
                    *pos,
                    format!("{KW}: destination-prefix {p} must be an IPv6 prefix of length 32, 40, 48, 56, 64 or 96 (RFC 6052)"),
                );
            } else if u_octet != 0 {
                // RFC 6052 §2.2: bits 64 to 71 of the address are zero.
                d.error(
                    *pos,
                    format!("{KW}: destination-prefix {p} has bits 64 to 71 set (RFC 6052 §2.2: they must be zero)"),
                );
            }
        }
        let refuse = |d: &mut Diags, on: bool, pos: Option<Pos>, what: &str| {
            if on {
                d.error(
                    pos.unwrap_or(tpos),
                    format!("{KW} with {what} is not supported by mspic"),
                );
            }
        };
        refuse(
            d,
            tr.dpool.v.is_some(),
            tr.dpool.pos(),
            "a destination-pool (use destination-prefix)",
        );
        refuse(
            d,
            tr.sprefix.v.is_some(),
            tr.sprefix.pos(),
            "a source-prefix",
        );
        refuse(d, tr.paired, None, "address-pooling paired");
        refuse(d, tr.eim, None, "mapping-type endpoint-independent");
        refuse(d, tr.eif, None, "filtering-type endpoint-independent");
        let pool = tr.spool.get().and_then(|n| self.pools.get(&n));
        refuse(
            d,
            pool.is_some_and(|p| p.pba.is_some()),
            None,
            "a source-pool of secured-port-block-allocation",
        );
    }

    /// What the engine needs to map from: a static source mapping (basic NAT) needs a
    /// `source-address` prefix no larger than what it maps to, a static destination
    /// mapping a `destination-address` prefix, and dynamic NAT without ports an
    /// address-only pool. `tt` is written at `tpos`.
    fn check_mapping(
        &self,
        d: &mut Diags,
        tr: &TranslatedD,
        tt: TranslationType,
        tpos: Pos,
        from: &FromD,
    ) {
        use TranslationType as T;
        let kw = tt.keyword();
        let first = |v: &Unique<AddressMatch>| {
            v.iter().find_map(|m| match m {
                AddressMatch::Prefix {
                    prefix,
                    except: false,
                } => Some(*prefix),
                _ => None,
            })
        };
        let spool = tr.spool.v.as_ref().and_then(|(n, _, _)| self.pools.get(n));
        if matches!(tt, T::BasicNat44 | T::TwiceBasicNat44) {
            let Some(p) = first(&from.src) else {
                d.error(
                    tpos,
                    format!("translation-type {kw} requires a source-address prefix in 'from' to map from"),
                );
                return;
            };
            // As many addresses to map to as the prefix holds (IPv4 lengths).
            let n = 1u64 << (32 - u32::from(p.len.min(32)));
            let m = match (spool, tr.sprefix.get()) {
                (Some(pool), _) => pool.size,
                (None, Some(pre)) if pre.addr.is_ipv4() => {
                    (1u64 << (32 - u32::from(pre.len))).min(MAX_POOL_ADDRESSES)
                }
                _ => 0,
            };
            if m < n {
                d.error(
                    tpos,
                    format!("translation-type {kw}: source-address {p} has {n} addresses but the translated range only {m}"),
                );
            }
        }
        let static_dst = matches!(
            tt,
            T::Dnat44 | T::TwiceBasicNat44 | T::TwiceNapt44 | T::TwiceDynamicNat44
        );
        if static_dst && first(&from.dst).is_none() {
            d.error(
                tpos,
                format!("translation-type {kw} requires a destination-address prefix in 'from' to map from"),
            );
        }
        if tt == T::DeterministicNapt44 {
            check_deterministic(d, kw, tpos, first(&from.src), spool);
        }
        if matches!(tt, T::DynamicNat44 | T::TwiceDynamicNat44) {
            if let Some(pool) = spool.filter(|p| p.port.v.is_some()) {
                d.error(
                    tpos,
                    format!(
                        "translation-type {kw} requires source-pool '{}' to be address-only (no 'port' statement)",
                        pool.name
                    ),
                );
            }
        }
    }
}

/// Deterministic NAPT maps the term's first `source-address` prefix onto `pool`'s blocks:
/// every subscriber must get a block, and blocks must tile the port range
/// ([`crate::deterministic::DetMap::new`] says why not).
fn check_deterministic(
    d: &mut Diags,
    kw: &str,
    tpos: Pos,
    from: Option<Prefix>,
    pool: Option<&PoolD>,
) {
    let Some(from) = from else {
        d.error(
            tpos,
            format!("translation-type {kw} requires a source-address prefix in 'from' to map from"),
        );
        return;
    };
    let (Some(pool), Some(det)) = (pool, pool.and_then(|p| p.det.as_ref())) else {
        return; // reported by check_translated
    };
    let range = match pool.port.get() {
        Some(PortKind::Range(lo, hi)) => (lo, hi),
        Some(PortKind::Automatic) => (PoolPort::AUTOMATIC_LOW, PoolPort::AUTOMATIC_HIGH),
        None => return,
    };
    let block = det
        .block_size
        .get()
        .unwrap_or(DeterministicBlocks::DEFAULT_BLOCK_SIZE);
    if let Err(why) = crate::deterministic::DetMap::new(from, det.boundary, pool.size, range, block)
    {
        d.error(
            tpos,
            format!(
                "translation-type {kw} with source-pool '{}': {why}",
                pool.name
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_pool_blocks() {
        let a = |s: &str| u32::from(s.parse::<Ipv4Addr>().unwrap());
        assert_eq!(pool_forbidden(a("1.2.3.4"), a("1.2.3.4")), None);
        assert_eq!(
            pool_forbidden(a("223.255.255.255"), a("223.255.255.255")),
            None
        );
        assert!(pool_forbidden(a("126.0.0.0"), a("127.0.0.0")).is_some());
        assert!(pool_forbidden(a("224.0.0.0"), a("224.0.0.0")).is_some());
        assert!(pool_forbidden(0, 0).is_some());
    }
}

//! `routing-options`: static routes, IPv4 under `static` and IPv6 under `rib inet6.0
//! static`, each with one next hop (an address, an interface, `discard` or `reject`);
//! `routing-instances` only as far as refusing interfaces in them.

use std::collections::HashSet;
use std::net::IpAddr;

use super::cursor::Cur;
use super::diag::{Diags, R};
use super::draft::{Leaf, Ref};
use super::interfaces::{interface_kind, split_unit};
use super::values::prefix;
use super::Builder;
use crate::lexer::{Pos, Tok};
use crate::model::*;
use crate::tree::Word;

/// A static route; `nh_ref` is its next-hop interface, checked once all are read.
pub(super) struct RouteD {
    pub(super) prefix: Prefix,
    pub(super) pos: Pos,
    pub(super) next_hop: Leaf<NextHop>,
    pub(super) nh_ref: Option<Ref>,
}

const ROUTING_IGNORED: &[&str] = &[
    "aggregate",
    "autonomous-system",
    "confederation",
    "dynamic-tunnels",
    "forwarding-table",
    "generate",
    "graceful-restart",
    "instance-export",
    "instance-import",
    "interface-routes",
    "martians",
    "maximum-paths",
    "maximum-prefixes",
    "multicast",
    "multipath",
    "nonstop-routing",
    "options",
    "resolution",
    "rib-groups",
    "route-distinguisher-id",
    "router-id",
    "traceoptions",
];

const ROUTE_IGNORED: &[&str] = &[
    "preference",
    "metric",
    "tag",
    "no-readvertise",
    "readvertise",
    "install",
    "no-install",
    "retain",
    "no-retain",
    "active",
    "passive",
    "resolve",
    "no-resolve",
    "community",
    "as-path",
    "qualified-next-hop",
    "bfd-liveness-detection",
    "lsp-next-hop",
];

impl Builder {
    pub(super) fn routing_options(&mut self, d: &mut Diags, c: &mut Cur) -> R<()> {
        let Some((k, _)) = c.kw(d, &["static", "rib"], ROUTING_IGNORED)? else {
            return Ok(());
        };
        let mut in_v6 = false;
        if k == "rib" {
            let t = c.val(d, "routing table name")?;
            in_v6 = t.text == "inet6.0";
            if !matches!(t.text.as_str(), "inet.0" | "inet6.0") {
                let stmt = c.consumed(c.i);
                d.warn_once(
                    stmt.clone(),
                    t.pos,
                    format!("ignoring unsupported statement '{stmt}'"),
                );
                return Ok(());
            }
            let Some(_) = c.kw(d, &["static"], ROUTING_IGNORED)? else {
                return Ok(());
            };
        }
        let Some(_) = c.kw(d, &["route"], &["defaults", "rib-group"])? else {
            return Ok(());
        };
        let (p, t) = c.parse(d, "route prefix", prefix)?;
        if p.addr.is_ipv6() != in_v6 {
            return Err(d.error(
                t.pos,
                if in_v6 {
                    format!("route {} is not an IPv6 prefix (routing table inet6.0)", t.text)
                } else {
                    format!("route {} is an IPv6 prefix (write it under 'routing-options rib inet6.0 static')", t.text)
                },
            ));
        }
        let route = self.routes.entry(p, || RouteD {
            prefix: p,
            pos: t.pos,
            next_hop: Leaf::default(),
            nh_ref: None,
        });
        let Some((k, kpos)) = c.kw(d, &["next-hop", "discard", "reject"], ROUTE_IGNORED)? else {
            return Ok(());
        };
        match k {
            "discard" | "reject" => {
                c.end(d)?;
                let nh = if k == "discard" {
                    NextHop::Discard
                } else {
                    NextHop::Reject
                };
                route.next_hop.set(d, "next-hop", nh, kpos, k)
            }
            _ => next_hop(route, kpos, d, c),
        }
    }

    /// Checks every route has a next hop, on a connected subnet or an existing interface (the
    /// emulator resolves next hops once, not recursively); adds the routes to the model.
    pub(super) fn finish_routes(&self, d: &mut Diags, cfg: &mut Config) {
        let connected = Connected::of(cfg);
        for r in &self.routes {
            let Some(nh) = r.next_hop.get() else {
                if self.tainted(&format!("routing-options static route {}", r.prefix))
                    || self.tainted(&format!(
                        "routing-options rib inet6.0 static route {}",
                        r.prefix
                    ))
                {
                    continue;
                }
                d.error(
                    r.pos,
                    format!(
                        "route {} has no next-hop (expected next-hop, discard or reject)",
                        r.prefix
                    ),
                );
                continue;
            };
            if let Some(nr) = &r.nh_ref {
                self.check_if_ref(d, nr, "next-hop", false);
            }
            if let NextHop::Address(a) = nh {
                if !connected.covers(a) {
                    d.error(
                        r.next_hop.pos().unwrap_or(r.pos),
                        format!(
                            "route {}: next-hop {a} is not on a connected subnet (no interface address covers it)",
                            r.prefix
                        ),
                    );
                }
            }
            cfg.static_routes.push(StaticRoute {
                prefix: r.prefix,
                next_hop: nh,
            });
        }
    }
}

/// `routing-instances NAME …`. mspic routes in inet.0 and inet6.0 only: an instance with
/// interfaces would route their traffic by another table (where the CGNAT design keeps
/// the route into the inside unit of a next-hop service set), so its `interface` is
/// refused; the rest of an instance cannot reach an interface and is ignored.
pub(super) fn routing_instance(d: &mut Diags, c: &mut Cur) -> R<()> {
    let name = c.val(d, "routing instance name")?;
    if let Some(Word::Atom(t)) = c.w.get(c.i) {
        if t.text == "interface" {
            return Err(d.error(
                t.pos,
                format!(
                    "routing instance '{}': interfaces in routing instances are not supported (mspic routes in inet.0 and inet6.0 only)",
                    name.text
                ),
            ));
        }
    }
    let stmt = format!("routing-instances {}", name.text);
    d.warn_once(
        stmt.clone(),
        name.pos,
        format!("ignoring unsupported statement '{stmt}'"),
    );
    Ok(())
}

/// `next-hop A|IFL` (one only) of `route`.
fn next_hop(route: &mut RouteD, kpos: Pos, d: &mut Diags, c: &mut Cur) -> R<()> {
    let toks = c.vals(d, "next-hop address or interface")?;
    c.end(d)?;
    if toks.len() > 1 {
        return Err(d.error(
            toks[1].pos,
            format!(
                "route {}: more than one next-hop is not supported (found '{}')",
                route.prefix, toks[1].text
            ),
        ));
    }
    let Some(t) = toks.first() else {
        return Err(d.error(
            kpos,
            "missing next-hop address or interface after 'next-hop'",
        ));
    };
    let nh = match t.text.parse::<IpAddr>() {
        Ok(a) => {
            if a.is_ipv4() != route.prefix.addr.is_ipv4() {
                return Err(d.error(
                    t.pos,
                    format!(
                        "next-hop '{}' is not of the same address family as route {}",
                        t.text, route.prefix
                    ),
                ));
            }
            NextHop::Address(a)
        }
        Err(_) => {
            route.nh_ref = Some(next_hop_interface(t, d)?);
            NextHop::Interface(t.text.clone())
        }
    };
    route.next_hop.set(d, "next-hop", nh, t.pos, &t.text)
}

/// A next hop that is not an address: it must look like `NAME[.UNIT]`.
fn next_hop_interface(t: &Tok, d: &mut Diags) -> R<Ref> {
    let (n, _) = split_unit(&t.text).map_err(|m| d.error(t.pos, m))?;
    if interface_kind(n).is_err() || !n.contains(|c: char| c.is_ascii_digit()) {
        return Err(d.error(
            t.pos,
            format!(
                "invalid next-hop '{}' (expected an address or an interface name such as ms-1/1/0.1)",
                t.text
            ),
        ));
    }
    Ok(Ref {
        name: t.text.clone(),
        pos: t.pos,
    })
}

/// The subnets of the interfaces' addresses, grouped by length, so that whether one
/// covers an address costs a lookup per distinct length rather than a scan.
struct Connected {
    /// Distinct prefix lengths, per family.
    lens: HashSet<(bool, u8)>,
    networks: HashSet<Prefix>,
}

impl Connected {
    /// From the interfaces already in the model.
    fn of(cfg: &Config) -> Self {
        let mut c = Connected {
            lens: HashSet::new(),
            networks: HashSet::new(),
        };
        let families = cfg
            .interfaces
            .iter()
            .flat_map(|i| &i.units)
            .flat_map(|u| [&u.inet, &u.inet6])
            .flatten();
        for p in families.flat_map(|f| &f.addresses) {
            c.lens.insert((p.addr.is_ipv4(), p.len));
            c.networks.insert(p.network());
        }
        c
    }

    fn covers(&self, a: IpAddr) -> bool {
        self.lens.iter().any(|&(v4, len)| {
            v4 == a.is_ipv4()
                && Prefix::new(a, len).is_some_and(|p| self.networks.contains(&p.network()))
        })
    }
}

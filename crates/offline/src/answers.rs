//! Turning per-shard state into the control plane's answers. Offline replay and the live
//! runtime both gather one [`ShardReport`] per shard and merge them here, so the two print
//! the same thing for the same state.

use std::net::IpAddr;

use mspic_control::{
    DetNatBlock, DetNatQuery, NatAddressMapping, NatMapping, NatMappingsSummary, NatPoolInfo,
    NatStatistics, PortBlockInfo, ServiceSetCpuUsage, ServiceSetMemoryUsage, ServiceSetsSummary,
};
use mspic_flow::nat::{NatStats, NatSummary};
use mspic_flow::{Policy, SfwStats, Shard};

/// Everything the non-session show commands need from one shard.
#[derive(Debug, Clone, Default)]
pub struct ShardReport {
    pub sfw: Vec<(String, SfwStats)>,
    pub nat: NatSummary,
    /// Live sessions per services interface.
    pub sessions: Vec<u32>,
    /// Live sessions per service set.
    pub sessions_per_set: Vec<u32>,
    /// Sessions the shard can hold.
    pub capacity: u64,
    /// Share of its time the shard's worker spent working since the last report (the
    /// live dataplane fills it in; offline there is no worker).
    pub cpu_percent: Option<f64>,
    /// Per service set, the share of the worker's time spent processing its frames since
    /// the last report, in percent (live only, like `cpu_percent`).
    pub cpu_per_set: Option<Vec<f64>>,
    /// `tcp-mss` counters per service set (index as in `Policy::service_sets`).
    pub tcp_mss: Vec<mspic_flow::TcpMssStats>,
}

impl ShardReport {
    pub fn of(shard: &Shard) -> Self {
        ShardReport {
            sfw: shard.sfw_statistics(),
            nat: shard.nat_state().summary(),
            sessions: shard.live_per_service_iface().to_vec(),
            sessions_per_set: shard.live_per_service_set().to_vec(),
            capacity: shard.config().capacity as u64,
            cpu_percent: None,
            cpu_per_set: None,
            tcp_mss: shard.tcp_mss_statistics().to_vec(),
        }
    }
}

/// `show services service-sets summary`, per services interface: the service sets
/// configured on it, the memory its sessions take (and its share of the memory the
/// session tables can grow to), the memory of its compiled rules (same denominator), and
/// the mean CPU use of the workers (0 offline).
pub fn service_sets_summary(p: &Policy, reports: &[ShardReport]) -> Vec<ServiceSetsSummary> {
    let per = Shard::bytes_per_session();
    let budget: u64 = reports.iter().map(|r| r.capacity * per).sum::<u64>().max(1);
    let cpus: Vec<f64> = reports.iter().filter_map(|r| r.cpu_percent).collect();
    let cpu = if cpus.is_empty() {
        0.0
    } else {
        cpus.iter().sum::<f64>() / cpus.len() as f64
    };
    p.service_ifaces
        .iter()
        .enumerate()
        .map(|(i, si)| {
            let sessions: u64 = reports
                .iter()
                .map(|r| u64::from(r.sessions.get(i).copied().unwrap_or(0)))
                .sum();
            let bytes = sessions * per;
            let policy = p.approx_bytes(i as u16);
            ServiceSetsSummary {
                interface: si.name.clone(),
                service_sets_configured: p
                    .service_sets
                    .iter()
                    .filter(|s| s.service_iface as usize == i)
                    .count() as u64,
                bytes_used: bytes,
                percent_bytes_used: 100.0 * bytes as f64 / budget as f64,
                policy_bytes_used: policy,
                percent_policy_bytes_used: 100.0 * policy as f64 / budget as f64,
                cpu_utilization_percent: cpu,
            }
        })
        .collect()
}

/// `show services service-sets memory-usage`: per service set, the bytes its live
/// sessions take (slab entry and index entries, [`Shard::bytes_per_session`]) over all
/// shards.
pub fn service_sets_memory_usage(
    p: &Policy,
    reports: &[ShardReport],
) -> Vec<ServiceSetMemoryUsage> {
    let per = Shard::bytes_per_session();
    p.service_sets
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let sessions: u64 = reports
                .iter()
                .map(|r| u64::from(r.sessions_per_set.get(i).copied().unwrap_or(0)))
                .sum();
            ServiceSetMemoryUsage {
                interface: iface_name(p, s.service_iface),
                service_set: s.name.clone(),
                bytes: sessions * per,
            }
        })
        .collect()
}

/// `show services service-sets cpu-usage`: per service set, the mean over the workers of
/// the share of their time spent on its frames; then, per services interface, `System`
/// (the workers' busy time not spent in a service set: receiving, sending, handing off,
/// timers) and `Idle`. The workers serve every services interface, so those two rows are
/// the same on each. Offline no worker time is measured: the service sets show 0.00 and
/// there are no `System` and `Idle` rows.
pub fn service_sets_cpu_usage(p: &Policy, reports: &[ShardReport]) -> Vec<ServiceSetCpuUsage> {
    let measured: Vec<(f64, &[f64])> = reports
        .iter()
        .filter_map(|r| Some((r.cpu_percent?, r.cpu_per_set.as_deref()?)))
        .collect();
    let n = measured.len().max(1) as f64;
    let set_pct: Vec<f64> = (0..p.service_sets.len())
        .map(|i| {
            // A fold from +0.0: an empty f64 sum is -0.0, which would print as "-0.00".
            let shares = measured
                .iter()
                .map(|(_, s)| s.get(i).copied().unwrap_or(0.0));
            shares.fold(0.0, |a, b| a + b) / n
        })
        .collect();
    let busy = measured.iter().fold(0.0, |a, (b, _)| a + b) / n;
    let system = (busy - set_pct.iter().fold(0.0, |a, b| a + b)).max(0.0);
    let mut rows = Vec::new();
    for (k, si) in p.service_ifaces.iter().enumerate() {
        let row = |name: &str, percent: f64| ServiceSetCpuUsage {
            interface: si.name.clone(),
            service_set: name.to_string(),
            percent,
        };
        for (i, s) in p.service_sets.iter().enumerate() {
            if usize::from(s.service_iface) == k {
                rows.push(row(&s.name, set_pct[i]));
            }
        }
        if !measured.is_empty() {
            rows.push(row("System", system));
            rows.push(row("Idle", (100.0 - busy).max(0.0)));
        }
    }
    rows
}

fn iface_name(p: &Policy, iface: u16) -> String {
    p.service_ifaces
        .get(usize::from(iface))
        .map(|x| x.name.clone())
        .unwrap_or_default()
}

/// Stateful-firewall counters summed over shards, per services interface.
pub fn sfw_statistics(reports: &[ShardReport]) -> Vec<(String, SfwStats)> {
    let mut merged: Vec<(String, SfwStats)> = Vec::new();
    for (name, st) in reports.iter().flat_map(|r| &r.sfw) {
        match merged.iter_mut().find(|(n, _)| n == name) {
            Some((_, m)) => m.merge(st),
            None => merged.push((name.clone(), st.clone())),
        }
    }
    merged
}

/// The name of NAT pool `pool` (empty if the policy has no such pool).
fn pool_name(p: &Policy, pool: u16) -> String {
    p.nat
        .pools
        .get(usize::from(pool))
        .map(|x| x.name.clone())
        .unwrap_or_default()
}

fn set_names(p: &Policy, set: u16) -> (String, String) {
    p.service_sets
        .get(set as usize)
        .map(|s| {
            let iface = p
                .service_ifaces
                .get(s.service_iface as usize)
                .map(|i| i.name.clone())
                .unwrap_or_default();
            (iface, s.name.clone())
        })
        .unwrap_or_default()
}

/// `show services nat pool`: one row per (pool, service set using it). Counters are summed
/// over shards; `Max ports in use` is the sum of each shard's maximum (an upper bound of
/// the true maximum, since shards peak at different times).
pub fn nat_pools(p: &Policy, reports: &[ShardReport], name: Option<&str>) -> Vec<NatPoolInfo> {
    let mut out = Vec::new();
    for (i, pool) in p.nat.pools.iter().enumerate() {
        if name.is_some_and(|n| n != pool.name) {
            continue;
        }
        let mut sum = mspic_flow::nat::PoolStats::default();
        for r in reports {
            if let Some(s) = r.nat.pools.get(i) {
                sum.ports_in_use += s.ports_in_use;
                sum.max_ports_in_use += s.max_ports_in_use;
                sum.addrs_in_use += s.addrs_in_use;
                sum.out_of_port_errors += s.out_of_port_errors;
                sum.out_of_address_errors += s.out_of_address_errors;
                sum.port_blocks_in_use += s.port_blocks_in_use;
                sum.max_port_blocks_used += s.max_port_blocks_used;
                sum.port_block_allocation_errors += s.port_block_allocation_errors;
                sum.port_blocks_limit_exceeded_errors += s.port_blocks_limit_exceeded_errors;
                sum.pool_users += s.pool_users;
                sum.detnat_subscriber_exceeded_port_limits +=
                    s.detnat_subscriber_exceeded_port_limits;
            }
        }
        let port_blocks = port_block_info(p, i, &sum);
        let ranges = pool
            .ranges
            .iter()
            .map(|(lo, hi)| format!("{lo}-{hi}"))
            .collect::<Vec<_>>();
        let port_range = pool.ports.map(|(lo, hi)| format!("{lo}-{hi}"));
        let total = pool.addrs.len() as u64;
        let mut users: Vec<(u16, mspic_config::TranslationType)> = pool.users.clone();
        users.dedup();
        if users.is_empty() {
            continue; // a pool no rule uses has no service set to show it under
        }
        for (set, kind) in users {
            let (interface, service_set) = set_names(p, set);
            out.push(NatPoolInfo {
                interface,
                service_set,
                pool: pool.name.clone(),
                translation_type: kind.show_name().to_string(),
                address_ranges: ranges.clone(),
                port_range: port_range.clone(),
                addresses_in_use: sum.addrs_in_use,
                available_addresses: total.saturating_sub(sum.addrs_in_use),
                ports_in_use: sum.ports_in_use,
                max_ports_in_use: sum.max_ports_in_use,
                out_of_address_errors: sum.out_of_address_errors,
                out_of_port_errors: sum.out_of_port_errors,
                port_blocks: port_blocks.clone(),
            });
        }
    }
    out
}

/// `show services nat deterministic-nat …`: computed from the configuration alone (the
/// mapping is a pure function of it), for every service set a deterministic term serves.
pub fn detnat(p: &Policy, q: DetNatQuery) -> Vec<DetNatBlock> {
    let mut out = Vec::new();
    for &(pool, m) in &p.nat.deterministic {
        let Some(prt) = p.nat.pools.get(usize::from(pool)) else {
            continue;
        };
        let found = match q {
            DetNatQuery::Host(IpAddr::V4(h)) => m.forward(h).map(|(a, first)| (h, a, first)),
            DetNatQuery::NatPort(IpAddr::V4(a), port) => {
                prt.addrs.iter().position(|&x| x == a).and_then(|ai| {
                    let h = m.reverse(ai as u32, port)?;
                    m.forward(h).map(|(a, first)| (h, a, first))
                })
            }
            _ => None,
        };
        let Some((host, ai, first)) = found else {
            continue;
        };
        let mut sets: Vec<u16> = prt
            .users
            .iter()
            .filter(|(_, k)| *k == mspic_config::TranslationType::DeterministicNapt44)
            .map(|(s, _)| *s)
            .collect();
        sets.dedup();
        for set in sets {
            let (interface, service_set) = set_names(p, set);
            out.push(DetNatBlock {
                interface,
                service_set,
                pool: prt.name.clone(),
                internal: IpAddr::V4(host),
                nat_ip: IpAddr::V4(prt.addrs[ai as usize]),
                port_low: first,
                port_high: m.last_port(first),
            });
        }
    }
    out
}

/// The port block fields of pool `i` (secured or deterministic port block allocation),
/// with its counters `sum` over the shards.
fn port_block_info(
    p: &Policy,
    i: usize,
    sum: &mspic_flow::nat::PoolStats,
) -> Option<PortBlockInfo> {
    let pool = p.nat.pools.get(i)?;
    let block = pool.block_size()?;
    let det = p
        .nat
        .deterministic
        .iter()
        .find(|(x, _)| usize::from(*x) == i);
    let per_address = match det {
        Some((_, m)) => u64::from(m.blocks_per_address),
        None => u64::from(pool.blocks_per_address()),
    };
    let blocks = per_address * pool.addrs.len() as u64;
    Some(PortBlockInfo {
        deterministic: det.is_some(),
        block_size: u64::from(block),
        max_blocks_per_address: pool.pba.map_or(1, |b| u64::from(b.max_blocks)),
        active_block_timeout: pool.pba.map_or(0, |b| u64::from(b.active_timeout)),
        effective_port_blocks: blocks,
        effective_ports: blocks * u64::from(block),
        blocks_in_use: sum.port_blocks_in_use,
        max_blocks_used: sum.max_port_blocks_used,
        allocation_errors: sum.port_block_allocation_errors,
        limit_exceeded_errors: sum.port_blocks_limit_exceeded_errors,
        pool_users: sum.pool_users,
        detnat_subscriber_exceeded_port_limits: sum.detnat_subscriber_exceeded_port_limits,
    })
}

/// `show services nat mappings summary`, per services interface.
pub fn nat_mappings_summary(p: &Policy, reports: &[ShardReport]) -> Vec<NatMappingsSummary> {
    p.service_ifaces
        .iter()
        .enumerate()
        .map(|(i, si)| {
            let in_iface = |set: u16| {
                p.service_sets
                    .get(set as usize)
                    .is_some_and(|s| s.service_iface as usize == i)
            };
            let mut row = NatMappingsSummary {
                interface: si.name.clone(),
                ..Default::default()
            };
            for r in reports {
                // Address mappings are per internal host; they are charged to the first
                // services interface (pools are not tied to one interface).
                if i == 0 {
                    row.address_mappings += r.nat.address_mappings;
                }
                for m in r.nat.mappings.iter().filter(|m| in_iface(m.set)) {
                    row.eim_port_mappings += 1;
                    row.eif_filters += u64::from(m.eif);
                }
            }
            row
        })
        .collect()
}

/// `show services nat mappings detail|brief`.
pub fn nat_mappings(p: &Policy, reports: &[ShardReport]) -> Vec<NatMapping> {
    reports
        .iter()
        .flat_map(|r| &r.nat.mappings)
        .map(|m| {
            let (interface, service_set) = set_names(p, m.set);
            NatMapping {
                interface,
                service_set,
                pool: pool_name(p, m.pool),
                protocol: m.protocol,
                internal_address: m.internal,
                internal_port: m.internal_port,
                external_address: m.external.into(),
                external_port: m.external_port,
                session_count: u64::from(m.sessions),
            }
        })
        .collect()
}

/// `show services nat mappings address-pooling-paired` (and the address mappings of
/// `detail` and `brief`).
pub fn nat_address_mappings(p: &Policy, reports: &[ShardReport]) -> Vec<NatAddressMapping> {
    reports
        .iter()
        .flat_map(|r| &r.nat.paired)
        .map(|m| {
            let (interface, service_set) = set_names(p, m.set);
            NatAddressMapping {
                interface,
                service_set,
                pool: pool_name(p, m.pool),
                internal_address: m.internal,
                external_address: m.external.into(),
                ports_in_use: u64::from(m.ports),
            }
        })
        .collect()
}

/// Whether `clear services nat statistics [interface I]` clears the NAT counters: they are
/// shown under the first services interface only ([`nat_statistics`]), so with an
/// interface named, only when it is that one.
pub fn nat_statistics_under(p: &Policy, interface: Option<&str>) -> bool {
    match interface {
        None => true,
        Some(i) => p.service_ifaces.first().is_some_and(|s| s.name == i),
    }
}

/// `show services nat statistics`: the counters under their XML names, per services
/// interface (NAT counters are kept per shard, not per interface: they are shown under the
/// first services interface).
pub fn nat_statistics(p: &Policy, reports: &[ShardReport]) -> Vec<NatStatistics> {
    let mut s = NatStats::default();
    for r in reports {
        s.merge(&r.nat.stats);
    }
    let out_of_ports: u64 = reports
        .iter()
        .flat_map(|r| &r.nat.pools)
        .map(|x| x.out_of_port_errors)
        .sum();
    let out_of_addrs: u64 = reports
        .iter()
        .flat_map(|r| &r.nat.pools)
        .map(|x| x.out_of_address_errors)
        .sum();
    let types = mspic_config::TranslationType::ALL;
    let mut counters: Vec<(String, u64)> = vec![
        ("nat-total-session-create".into(), s.sessions_translated),
        ("nat-map-allocation-successes".into(), s.sessions_translated),
        ("nat-map-allocation-failures".into(), s.allocation_failures),
        ("nat-out-of-port-errors".into(), out_of_ports),
        ("nat-out-of-address-errors".into(), out_of_addrs),
        ("nat-eim-mapping-created".into(), s.eim_mappings_created),
        ("nat-eim-mapping-reused".into(), s.eim_mappings_reused),
        ("nat-eif-sessions-created".into(), s.eif_sessions_created),
        (
            "nat-icmp-error-translations".into(),
            s.icmp_error_translations,
        ),
        (
            "nat-pool-session-not-found-drops".into(),
            s.pool_no_session_drops,
        ),
        ("nat-total-pkts-translated".into(), s.packets_translated),
        (
            "nat-gre-call-id-translations".into(),
            s.gre_call_id_translations,
        ),
        (
            "nat-gre-call-id-restorations".into(),
            s.gre_call_id_restorations,
        ),
        // mspic's name: packets of NAT64 sessions the RFC 7915 translator refused.
        ("nat64-untranslatable-drops".into(), s.nat64_untranslatable),
        // IPv4 packets sent as IPv6 fragments (RFC 7915 §4), and fragments not sent.
        ("nat64-ipv6-fragmented-packets".into(), s.nat64_fragmented),
        ("nat64-ipv6-fragment-drops".into(), s.nat64_fragment_drops),
    ];
    for (t, n) in types.iter().zip(s.by_type) {
        counters.push((format!("nat-{}-sessions", t.keyword()), n));
    }
    p.service_ifaces
        .iter()
        .take(1)
        .map(|si| NatStatistics {
            interface: si.name.clone(),
            counters: counters.clone(),
        })
        .collect()
}

/// `show services service-sets statistics syslog`: every service set under its services
/// interface, with `counts(set index, set name)` = (sent, dropped).
pub fn syslog_statistics(
    policy: &Policy,
    mut counts: impl FnMut(usize, &str) -> (u64, u64),
) -> Vec<mspic_control::SyslogStatistics> {
    let mut rows: Vec<mspic_control::SyslogStatistics> = Vec::new();
    for (i, ss) in policy.service_sets.iter().enumerate() {
        let iface = policy
            .service_ifaces
            .get(ss.service_iface as usize)
            .map_or_else(String::new, |s| s.name.clone());
        let rate_limit = policy
            .service_ifaces
            .get(ss.service_iface as usize)
            .and_then(|s| s.syslog_rate_limit)
            .unwrap_or(0);
        let (sent, dropped) = counts(i, &ss.name);
        let entry = (ss.name.clone(), sent, dropped);
        match rows.iter_mut().find(|r| r.interface == iface) {
            Some(r) => r.service_sets.push(entry),
            None => rows.push(mspic_control::SyslogStatistics {
                interface: iface,
                rate_limit,
                service_sets: vec![entry],
            }),
        }
    }
    rows
}

/// `show services service-sets statistics tcp-mss`: each service set with `tcp-mss`, its
/// SYNs seen and lowered summed over the shards.
pub fn tcp_mss_statistics(
    p: &Policy,
    reports: &[ShardReport],
) -> Vec<mspic_control::TcpMssStatistics> {
    p.service_sets
        .iter()
        .enumerate()
        .filter(|(_, ss)| ss.tcp_mss.is_some())
        .map(|(i, ss)| {
            let (mut syn_received, mut syn_modified) = (0, 0);
            for c in reports.iter().filter_map(|r| r.tcp_mss.get(i)) {
                syn_received += c.syn_received;
                syn_modified += c.syn_modified;
            }
            mspic_control::TcpMssStatistics {
                interface: p
                    .service_ifaces
                    .get(usize::from(ss.service_iface))
                    .map(|s| s.name.clone())
                    .unwrap_or_default(),
                service_set: ss.name.clone(),
                syn_received,
                syn_modified,
            }
        })
        .collect()
}

//! What the control plane asks the engine. The replay engine implements [`Backend`] over its
//! in-process shards, the daemon over its shard channels; [`SnapshotBackend`] holds plain
//! data (tests, offline rendering).
//!
//! Backends return raw per-shard answers: any order, possibly several entries for the same
//! (interface, service set). The control plane filters `limit`, merges, sorts and renders.

use mspic_flow::{SessionCount, SessionFilter, SessionSnapshot, SfwStats};

/// Sessions removed by `clear services sessions` on one (interface, service set): a row of
/// the count table that the command prints.
pub type ClearedSessions = crate::render::counts::CountRow;

/// Why a backend could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// This backend has no data for the command (yet).
    #[error("not supported by this backend")]
    Unsupported,
    /// The backend failed (a shard did not answer, …); the text is shown to the user.
    #[error("{0}")]
    Failed(String),
}

/// One NAT pool as `show services nat pool` shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NatPoolInfo {
    pub interface: String,
    pub service_set: String,
    pub pool: String,
    /// `NAPT-44`, `DYNAMIC NAT44`, … (`TranslationType::show_name`).
    pub translation_type: String,
    /// `low-high` address ranges.
    pub address_ranges: Vec<String>,
    /// `low-high`, `None` for address-only pools.
    pub port_range: Option<String>,
    pub addresses_in_use: u64,
    pub available_addresses: u64,
    pub ports_in_use: u64,
    pub max_ports_in_use: u64,
    pub out_of_address_errors: u64,
    pub out_of_port_errors: u64,
    /// Secured port block allocation, for pools that use it.
    pub port_blocks: Option<PortBlockInfo>,
}

/// What a deterministic NAT query asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DetNatQuery {
    /// The block of this internal host (`nat-port-block`).
    Host(std::net::IpAddr),
    /// The internal host of this NAT address and port (`internal-host`).
    NatPort(std::net::IpAddr, u16),
}

/// One subscriber's deterministic port block (`service-detnat-information`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetNatBlock {
    pub interface: String,
    pub service_set: String,
    pub pool: String,
    /// `detnat-internal-host`.
    pub internal: std::net::IpAddr,
    /// `detnat-nat-ip`.
    pub nat_ip: std::net::IpAddr,
    /// `detnat-nat-port-low`.
    pub port_low: u16,
    /// `detnat-nat-port-high`.
    pub port_high: u16,
}

/// The port block part of `show services nat pool detail` (pools with
/// `secured-port-block-allocation`); XML names as Junos's `service-nat-pool`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PortBlockInfo {
    /// Deterministic port block allocation (else secured).
    pub deterministic: bool,
    /// `port-block-size`.
    pub block_size: u64,
    /// `max-blocks-per-address`.
    pub max_blocks_per_address: u64,
    /// `active-block-timeout` (s, 0: none).
    pub active_block_timeout: u64,
    /// `effective-port-blocks`: blocks the pool holds (whole blocks per address).
    pub effective_port_blocks: u64,
    /// `effective-ports`: ports in those blocks.
    pub effective_ports: u64,
    /// `port-blocks-in-use`.
    pub blocks_in_use: u64,
    /// `max-port-blocks-used`.
    pub max_blocks_used: u64,
    /// `port-block-allocation-errors`.
    pub allocation_errors: u64,
    /// `port-blocks-limit-exceeded-errors`.
    pub limit_exceeded_errors: u64,
    /// `pool-users`: subscribers holding blocks.
    pub pool_users: u64,
    /// `detnat-subscriber-exceeded-port-limits` (deterministic).
    pub detnat_subscriber_exceeded_port_limits: u64,
}

/// `show services nat mappings summary`, per services interface.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NatMappingsSummary {
    pub interface: String,
    pub address_mappings: u64,
    pub eim_port_mappings: u64,
    pub eif_filters: u64,
}

/// One endpoint-independent mapping (`show services nat mappings detail`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatMapping {
    pub interface: String,
    pub service_set: String,
    pub pool: String,
    /// IP protocol number.
    pub protocol: u8,
    pub internal_address: std::net::IpAddr,
    pub internal_port: u16,
    pub external_address: std::net::IpAddr,
    pub external_port: u16,
    pub session_count: u64,
}

/// One paired-pooling address mapping (`show services nat mappings
/// address-pooling-paired`): a subscriber and the pool address all its sessions share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatAddressMapping {
    pub interface: String,
    pub service_set: String,
    pub pool: String,
    pub internal_address: std::net::IpAddr,
    pub external_address: std::net::IpAddr,
    /// Ports the subscriber holds on the address (0: idle, kept for the pool's
    /// `app-mapping-timeout`).
    pub ports_in_use: u64,
}

/// `show services nat statistics` of one services interface.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NatStatistics {
    pub interface: String,
    /// `(xml-name, value)` pairs in display order (`nat-total-session-create`, …).
    pub counters: Vec<(String, u64)>,
}

/// `show services service-sets summary`, per services interface.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServiceSetsSummary {
    pub interface: String,
    pub service_sets_configured: u64,
    pub bytes_used: u64,
    pub percent_bytes_used: f64,
    pub policy_bytes_used: u64,
    pub percent_policy_bytes_used: f64,
    pub cpu_utilization_percent: f64,
}

/// One row of `show services service-sets cpu-usage`: a service set, or one of the
/// categories `System` (the workers' other work) and `Idle`, on a services interface.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServiceSetCpuUsage {
    pub interface: String,
    pub service_set: String,
    /// Share of the workers' time, in percent.
    pub percent: f64,
}

/// One row of `show services service-sets memory-usage`: the bytes of session state a
/// service set holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceSetMemoryUsage {
    pub interface: String,
    pub service_set: String,
    pub bytes: u64,
}

/// `show services service-sets statistics syslog`, per services interface: the logs its
/// service sets sent to their syslog hosts and the logs dropped (a full log ring, a
/// failed send).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyslogStatistics {
    pub interface: String,
    /// The interface's `syslog message-rate-limit` (lines per second; 0: none).
    pub rate_limit: u32,
    /// Per service set on the interface: (name, sent, dropped).
    pub service_sets: Vec<(String, u64, u64)>,
}

/// `show services service-sets statistics tcp-mss`: per service set with `tcp-mss`, the
/// TCP SYNs seen and those whose MSS option was lowered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TcpMssStatistics {
    pub interface: String,
    pub service_set: String,
    pub syn_received: u64,
    pub syn_modified: u64,
}

/// The engine as the control plane sees it. Only the session and statistics queries are
/// required; the others default to [`BackendError::Unsupported`] so implementors can grow.
pub trait Backend {
    /// Every session that matches `filter`, in any order. `limit` may be ignored: the control
    /// plane sorts and then applies it. A shard that wants to send less may keep its first
    /// `limit` sessions in display order ([`crate::sort_sessions`]), never an arbitrary subset.
    fn sessions(&mut self, filter: &SessionFilter) -> Vec<SessionSnapshot>;

    /// Removes the sessions that match `filter` (at most `filter.limit` in total when set) and
    /// reports how many per (interface, service set); entries may repeat (one per shard).
    fn clear_sessions(&mut self, filter: &SessionFilter) -> Vec<ClearedSessions>;

    /// Sessions and flows that match `filter` (`limit` ignored) per (interface, service
    /// set); entries may repeat (one per shard). By default counted from the snapshots of
    /// [`Self::sessions`]; an engine with a large table counts without them.
    fn session_counts(&mut self, filter: &SessionFilter) -> Vec<SessionCount> {
        let mut out: Vec<SessionCount> = Vec::new();
        for s in self.sessions(filter).iter().filter(|s| filter.matches(s)) {
            let flows = s.flows.len() as u64;
            match out
                .iter_mut()
                .find(|c| c.interface == s.interface && c.service_set == s.service_set)
            {
                Some(c) => {
                    c.sessions += 1;
                    c.flows += flows;
                }
                None => out.push(SessionCount {
                    interface: s.interface.clone(),
                    service_set: s.service_set.clone(),
                    sessions: 1,
                    flows,
                }),
            }
        }
        out
    }

    /// Stateful-firewall counters per services interface (entries for the same interface are
    /// added together).
    fn sfw_statistics(&mut self) -> Vec<(String, SfwStats)>;

    /// NAT pools, all or the one named.
    fn nat_pools(&mut self, name: Option<&str>) -> Result<Vec<NatPoolInfo>, BackendError> {
        let _ = name;
        Err(BackendError::Unsupported)
    }

    /// Deterministic NAT: the blocks that answer `q` (computed from the configuration).
    fn detnat(&mut self, q: DetNatQuery) -> Result<Vec<DetNatBlock>, BackendError> {
        let _ = q;
        Err(BackendError::Unsupported)
    }

    /// NAT mapping counts per services interface.
    fn nat_mappings_summary(&mut self) -> Result<Vec<NatMappingsSummary>, BackendError> {
        Err(BackendError::Unsupported)
    }

    /// Every endpoint-independent mapping.
    fn nat_mappings(&mut self) -> Result<Vec<NatMapping>, BackendError> {
        Err(BackendError::Unsupported)
    }

    /// Every paired-pooling address mapping.
    fn nat_address_mappings(&mut self) -> Result<Vec<NatAddressMapping>, BackendError> {
        Err(BackendError::Unsupported)
    }

    /// `clear services stateful-firewall statistics`: zeroes the firewall counters of
    /// services interface `interface` (of every one when `None`) in every shard.
    fn clear_sfw_statistics(&mut self, interface: Option<&str>) -> Result<(), BackendError> {
        let _ = interface;
        Err(BackendError::Unsupported)
    }

    /// `clear services nat statistics`: zeroes the counters `show services nat statistics`
    /// shows under `interface` (all when `None`) in every shard; what is in use now (ports,
    /// addresses, mappings) stays.
    fn clear_nat_statistics(&mut self, interface: Option<&str>) -> Result<(), BackendError> {
        let _ = interface;
        Err(BackendError::Unsupported)
    }

    /// `clear services softwire statistics`: zeroes the DS-Lite counters of services
    /// interface `interface` (of every one when `None`) in every shard.
    fn clear_softwire_statistics(&mut self, interface: Option<&str>) -> Result<(), BackendError> {
        let _ = interface;
        Err(BackendError::Unsupported)
    }

    /// NAT counters per services interface.
    fn nat_statistics(&mut self) -> Result<Vec<NatStatistics>, BackendError> {
        Err(BackendError::Unsupported)
    }

    /// Service-set resource usage per services interface.
    fn service_sets_summary(&mut self) -> Result<Vec<ServiceSetsSummary>, BackendError> {
        Err(BackendError::Unsupported)
    }

    /// CPU use per service set, with the `System` and `Idle` rows where they are measured.
    fn service_sets_cpu_usage(&mut self) -> Result<Vec<ServiceSetCpuUsage>, BackendError> {
        Err(BackendError::Unsupported)
    }

    /// Memory of the session state per service set.
    fn service_sets_memory_usage(&mut self) -> Result<Vec<ServiceSetMemoryUsage>, BackendError> {
        Err(BackendError::Unsupported)
    }

    /// Syslog counters per services interface.
    fn syslog_statistics(&mut self) -> Result<Vec<SyslogStatistics>, BackendError> {
        Err(BackendError::Unsupported)
    }

    /// `tcp-mss` counters per service set.
    fn tcp_mss_statistics(&mut self) -> Result<Vec<TcpMssStatistics>, BackendError> {
        Err(BackendError::Unsupported)
    }
}

/// A backend over plain data: answers from a list of sessions and counters, and clears by
/// removing from the list.
#[derive(Debug, Clone, Default)]
pub struct SnapshotBackend {
    pub sessions: Vec<SessionSnapshot>,
    pub sfw: Vec<(String, SfwStats)>,
}

impl SnapshotBackend {
    pub fn new(sessions: Vec<SessionSnapshot>) -> Self {
        SnapshotBackend {
            sessions,
            sfw: Vec::new(),
        }
    }
}

impl Backend for SnapshotBackend {
    fn sessions(&mut self, filter: &SessionFilter) -> Vec<SessionSnapshot> {
        self.sessions
            .iter()
            .filter(|s| filter.matches(s))
            .cloned()
            .collect()
    }

    fn clear_sessions(&mut self, filter: &SessionFilter) -> Vec<ClearedSessions> {
        let mut out: Vec<ClearedSessions> = Vec::new();
        let mut left = filter.limit.unwrap_or(usize::MAX);
        self.sessions.retain(|s| {
            if left == 0 || !filter.matches(s) {
                return true;
            }
            left -= 1;
            match out
                .iter_mut()
                .find(|c| c.interface == s.interface && c.service_set == s.service_set)
            {
                Some(c) => c.count += 1,
                None => out.push(ClearedSessions {
                    interface: s.interface.clone(),
                    service_set: s.service_set.clone(),
                    count: 1,
                }),
            }
            false
        });
        out
    }

    fn sfw_statistics(&mut self) -> Vec<(String, SfwStats)> {
        self.sfw.clone()
    }

    fn clear_sfw_statistics(&mut self, interface: Option<&str>) -> Result<(), BackendError> {
        for (name, st) in &mut self.sfw {
            if interface.is_none_or(|i| i == name) {
                // Interface traffic is not a firewall counter: it stays, as in the shards.
                *st = SfwStats {
                    traffic: std::mem::take(&mut st.traffic),
                    ..SfwStats::default()
                };
            }
        }
        Ok(())
    }
}

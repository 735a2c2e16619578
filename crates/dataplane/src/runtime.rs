//! The live dataplane as the daemon uses it: [`Runtime::start`] loads and attaches the XDP
//! steering program, opens one AF_XDP socket per (port, queue) over one UMEM per queue,
//! and runs one [`crate::worker`] thread per queue; [`Runtime::backend`] answers the
//! control plane by asking every worker; [`Runtime::reload`] applies a new configuration
//! without dropping sessions; [`Runtime::stop`] stops the workers and detaches.
//!
//! Threads and rings:
//!
//! ```text
//!  port p, queue q ──XDP (owner in metadata)──► socket(p,q) ─┐ UMEM q
//!                                                             ▼
//!  worker q: rx ─ owner q? ─ yes ─► shard q ─► L2 ─► tx socket(egress,q)
//!                  │ no                 ▲
//!                  ▼                    │ frame copied into UMEM q
//!             handoff ring q→o ──► worker o ... (and o→q)
//!  workers ◄── message rings (pinholes, neighbors) ──► workers
//!  control ──channel per worker──► one bounded step per loop ──► reply channel
//! ```

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::syslog::{LogRing, Logger, SyslogCounters};
use std::time::{Duration, Instant};

use crossbeam::channel::{bounded, unbounded, Receiver, RecvTimeoutError, Sender};
use mspic_control::{
    Backend, BackendError, ClearedSessions, NatAddressMapping, NatMapping, NatMappingsSummary,
    NatPoolInfo, NatStatistics, ServiceSetsSummary,
};
use mspic_flow::alg::AlgRegistry;
use mspic_flow::{
    IfIndex, Policy, SessionCount, SessionFilter, SessionSnapshot, SfwStats, ShardConfig,
};

use crate::answers::{self, ShardReport};
use crate::cpu::{allowed_cpus, pin_to_cpu};
use crate::handoff::{Handoff, Wakers};
use crate::l2::{L2Config, Mac};
use crate::netdev::{self, NetdevStats};
use crate::worker::{ClearStatistics, Control, PortInfo, Worker, WorkerConfig, WorkerStats};
use crate::xdp::{self, SteerConfig, SteerCounters, XdpError, XdpLink, XdpMode, XdpProgram};
use crate::xsk::{QueueXsk, UmemSpec, XskError, XDP_HEADROOM};

/// One PIC port: a Junos interface backed by a Linux netdev.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortConfig {
    /// Junos name (`ge-0/0/0`).
    pub name: String,
    /// Linux netdev (`pin`).
    pub netdev: String,
    /// Logical interface frames received on this port arrive on.
    pub ingress: IfIndex,
}

/// What to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeConfig {
    pub ports: Vec<PortConfig>,
    /// Receive queues used on every port (queues `0..queues`).
    pub queues: u32,
    /// Worker threads; one per queue (must equal `queues`).
    pub workers: u32,
    pub xdp_mode: XdpMode,
    /// UMEM frames per worker.
    pub umem_frames: u32,
    /// Bytes per UMEM frame (power of two, 2048..=65536).
    pub frame_size: u32,
    /// Pin each worker to a CPU (round-robin over the CPUs this process may use).
    pub pin_cpus: bool,
}

/// Less common knobs, with defaults suited to the daemon.
#[derive(Clone)]
pub struct RuntimeTuning {
    /// Sessions each shard holds at most.
    pub session_capacity: usize,
    /// Sessions preallocated per shard.
    pub session_prealloc: usize,
    /// Verify L4 checksums (bad ones are counted and dropped).
    pub verify_checksums: bool,
    /// Frames per handoff ring (per pair of workers).
    pub handoff_depth: usize,
    /// Frames received per socket per loop.
    pub batch: usize,
    /// Session slots looked at per loop while answering a listing.
    pub chunk: usize,
    /// Longest sleep of an idle worker (ms).
    pub idle_poll_ms: i32,
    /// How long the control plane waits for a worker's answer.
    pub control_timeout: Duration,
    pub l2: L2Config,
    pub algs: Arc<dyn AlgRegistry>,
}

impl Default for RuntimeTuning {
    fn default() -> Self {
        RuntimeTuning {
            session_capacity: 1 << 20,
            session_prealloc: 1 << 12,
            verify_checksums: true,
            handoff_depth: 1024,
            batch: 64,
            chunk: 1024,
            idle_poll_ms: 100,
            control_timeout: Duration::from_secs(10),
            l2: L2Config::default(),
            algs: mspic_alg::registry(),
        }
    }
}

impl std::fmt::Debug for RuntimeTuning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeTuning")
            .field("session_capacity", &self.session_capacity)
            .field("session_prealloc", &self.session_prealloc)
            .field("verify_checksums", &self.verify_checksums)
            .field("handoff_depth", &self.handoff_depth)
            .field("batch", &self.batch)
            .field("chunk", &self.chunk)
            .field("idle_poll_ms", &self.idle_poll_ms)
            .field("control_timeout", &self.control_timeout)
            .field("l2", &self.l2)
            .finish_non_exhaustive()
    }
}

/// Why the dataplane could not start or do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum DataplaneError {
    #[error("invalid dataplane configuration: {0}")]
    Config(String),
    #[error("port {port}: no network device named {netdev:?} in this network namespace")]
    NoSuchNetdev { port: String, netdev: String },
    #[error("this kernel cannot run the dataplane: {0}")]
    Unsupported(String),
    #[error(transparent)]
    Xdp(#[from] XdpError),
    #[error(transparent)]
    Xsk(#[from] XskError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("worker {0} did not start within {1:?}")]
    StartTimeout(usize, Duration),
    #[error("worker {worker} did not answer within {timeout:?} (it may be stuck or overloaded)")]
    Timeout { worker: usize, timeout: Duration },
    #[error("worker {0} has stopped")]
    WorkerGone(usize),
    #[error("worker {0} panicked")]
    WorkerPanicked(usize),
    #[error("worker {worker}: inconsistent state: {msg}")]
    Inconsistent { worker: usize, msg: String },
}

impl From<DataplaneError> for BackendError {
    fn from(e: DataplaneError) -> Self {
        BackendError::Failed(e.to_string())
    }
}

/// Counters of the whole runtime.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuntimeCounters {
    /// Per worker (index = queue).
    pub workers: Vec<WorkerStats>,
    /// The XDP program's counters (`None` if they could not be read).
    pub steering: Option<SteerCounters>,
    /// The kernel's counters of each port's netdev since the program was attached.
    pub netdevs: Vec<PortNetdev>,
}

/// The kernel's view of one port's netdev.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PortNetdev {
    pub netdev: String,
    /// Counted since the XDP program was attached; `None` if sysfs could not be read
    /// (or shows another network namespace).
    pub stats: Option<NetdevStats>,
}

impl RuntimeCounters {
    /// Every worker's counters added together.
    pub fn total(&self) -> WorkerStats {
        let mut t = WorkerStats::default();
        for w in &self.workers {
            t.merge(w);
        }
        t
    }
}

struct WorkerHandle {
    thread: Option<JoinHandle<()>>,
    stats: Arc<Mutex<WorkerStats>>,
}

/// What the backend needs to reach the workers (shared with [`RuntimeBackend`]s).
struct Shared {
    controls: Vec<Sender<Control>>,
    wakers: Arc<Wakers>,
    policy: Arc<Mutex<Arc<Policy>>>,
    /// The workers' log rings and what the logger thread sent.
    log_rings: Vec<Arc<LogRing>>,
    syslog: Arc<Mutex<SyslogCounters>>,
    timeout: Duration,
    last_error: Mutex<Option<String>>,
}

impl Shared {
    /// Sends one request per worker (`make(worker, reply)`), wakes them, and collects
    /// every answer within the timeout.
    fn fan_out<T>(
        &self,
        make: impl Fn(usize, Sender<T>) -> Control,
    ) -> Result<Vec<T>, DataplaneError> {
        let deadline = Instant::now() + self.timeout;
        let mut waits: Vec<Receiver<T>> = Vec::with_capacity(self.controls.len());
        for (w, c) in self.controls.iter().enumerate() {
            let (tx, rx) = bounded(1);
            c.send(make(w, tx))
                .map_err(|_| DataplaneError::WorkerGone(w))?;
            self.wakers.wake_always(w);
            waits.push(rx);
        }
        let mut out = Vec::with_capacity(waits.len());
        for (w, rx) in waits.into_iter().enumerate() {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(v) => out.push(v),
                Err(RecvTimeoutError::Timeout) => {
                    return Err(DataplaneError::Timeout {
                        worker: w,
                        timeout: self.timeout,
                    })
                }
                Err(RecvTimeoutError::Disconnected) => return Err(DataplaneError::WorkerGone(w)),
            }
        }
        Ok(out)
    }

    fn note<T: Default>(&self, r: Result<T, DataplaneError>) -> T {
        match r {
            Ok(v) => v,
            Err(e) => {
                tracing::error!("dataplane: {e}");
                if let Ok(mut l) = self.last_error.lock() {
                    *l = Some(e.to_string());
                }
                T::default()
            }
        }
    }
}

/// The control plane's view of a running [`Runtime`]: every request goes to every worker
/// and the answers are merged as offline replay merges its shards'. Cheap to clone.
#[derive(Clone)]
pub struct RuntimeBackend {
    shared: Arc<Shared>,
}

impl RuntimeBackend {
    /// Every matching session of every worker, or why some worker did not answer.
    pub fn try_sessions(
        &self,
        filter: &SessionFilter,
    ) -> Result<Vec<SessionSnapshot>, DataplaneError> {
        let per = self.shared.fan_out(|_, reply| Control::Sessions {
            filter: filter.clone(),
            reply,
        })?;
        Ok(per.into_iter().flatten().collect())
    }

    /// Sessions and flows per (interface, service set) from every worker.
    pub fn try_session_counts(
        &self,
        filter: &SessionFilter,
    ) -> Result<Vec<SessionCount>, DataplaneError> {
        let per = self.shared.fan_out(|_, reply| Control::Counts {
            filter: filter.clone(),
            reply,
        })?;
        Ok(per.into_iter().flatten().collect())
    }

    pub fn try_clear(
        &self,
        filter: &SessionFilter,
    ) -> Result<Vec<ClearedSessions>, DataplaneError> {
        let per = self.shared.fan_out(|_, reply| Control::Clear {
            filter: filter.clone(),
            reply,
        })?;
        Ok(per
            .into_iter()
            .flatten()
            .map(|(interface, service_set, count)| ClearedSessions {
                interface,
                service_set,
                count,
            })
            .collect())
    }

    /// Zeroes counters in every worker (`clear services … statistics`).
    pub fn try_clear_statistics(&self, what: &ClearStatistics) -> Result<(), DataplaneError> {
        self.shared
            .fan_out(|_, reply| Control::ClearStatistics {
                what: what.clone(),
                reply,
            })
            .map(|_| ())
    }

    /// One report per worker (firewall and NAT counters).
    pub fn try_reports(&self) -> Result<Vec<ShardReport>, DataplaneError> {
        self.shared.fan_out(|_, reply| Control::Report { reply })
    }

    /// Checks every worker's frame accounting and shard consistency.
    pub fn check(&self) -> Result<(), DataplaneError> {
        for (w, r) in self
            .shared
            .fan_out(|_, reply| Control::Check { reply })?
            .into_iter()
            .enumerate()
        {
            r.map_err(|msg| DataplaneError::Inconsistent { worker: w, msg })?;
        }
        Ok(())
    }

    /// The error of the last request made through the [`Backend`] methods that cannot
    /// return one (sessions, clear, statistics), if any; cleared by this call.
    pub fn take_error(&self) -> Option<String> {
        self.shared.last_error.lock().ok()?.take()
    }

    fn policy(&self) -> Arc<Policy> {
        self.shared
            .policy
            .lock()
            .map(|p| Arc::clone(&p))
            .unwrap_or_default()
    }

    fn reports(&self) -> Result<Vec<ShardReport>, BackendError> {
        self.try_reports().map_err(BackendError::from)
    }
}

impl Backend for RuntimeBackend {
    fn sessions(&mut self, filter: &SessionFilter) -> Vec<SessionSnapshot> {
        self.shared.note(self.try_sessions(filter))
    }

    fn clear_sessions(&mut self, filter: &SessionFilter) -> Vec<ClearedSessions> {
        self.shared.note(self.try_clear(filter))
    }

    fn session_counts(&mut self, filter: &SessionFilter) -> Vec<SessionCount> {
        self.shared.note(self.try_session_counts(filter))
    }

    fn sfw_statistics(&mut self) -> Vec<(String, SfwStats)> {
        let r = self.try_reports().map(|r| answers::sfw_statistics(&r));
        self.shared.note(r)
    }

    fn nat_pools(&mut self, name: Option<&str>) -> Result<Vec<NatPoolInfo>, BackendError> {
        Ok(answers::nat_pools(&self.policy(), &self.reports()?, name))
    }

    fn detnat(
        &mut self,
        q: mspic_control::DetNatQuery,
    ) -> Result<Vec<mspic_control::DetNatBlock>, BackendError> {
        Ok(answers::detnat(&self.policy(), q))
    }

    fn nat_mappings_summary(&mut self) -> Result<Vec<NatMappingsSummary>, BackendError> {
        Ok(answers::nat_mappings_summary(
            &self.policy(),
            &self.reports()?,
        ))
    }

    fn nat_mappings(&mut self) -> Result<Vec<NatMapping>, BackendError> {
        Ok(answers::nat_mappings(&self.policy(), &self.reports()?))
    }

    fn nat_address_mappings(&mut self) -> Result<Vec<NatAddressMapping>, BackendError> {
        Ok(answers::nat_address_mappings(
            &self.policy(),
            &self.reports()?,
        ))
    }

    fn clear_sfw_statistics(&mut self, interface: Option<&str>) -> Result<(), BackendError> {
        let what = ClearStatistics::Sfw(interface.map(str::to_string));
        Ok(self.try_clear_statistics(&what)?)
    }

    fn clear_softwire_statistics(&mut self, interface: Option<&str>) -> Result<(), BackendError> {
        let what = ClearStatistics::Softwire(interface.map(str::to_string));
        Ok(self.try_clear_statistics(&what)?)
    }

    fn clear_nat_statistics(&mut self, interface: Option<&str>) -> Result<(), BackendError> {
        if answers::nat_statistics_under(&self.policy(), interface) {
            self.try_clear_statistics(&ClearStatistics::Nat)?;
        }
        Ok(())
    }

    fn nat_statistics(&mut self) -> Result<Vec<NatStatistics>, BackendError> {
        Ok(answers::nat_statistics(&self.policy(), &self.reports()?))
    }

    /// Sent: lines the logger thread sent (or logged, `host local`); dropped: events a
    /// full ring dropped plus lines that could not be sent.
    fn syslog_statistics(&mut self) -> Result<Vec<mspic_control::SyslogStatistics>, BackendError> {
        let c = self
            .shared
            .syslog
            .lock()
            .map(|c| c.clone())
            .unwrap_or_default();
        let rings = &self.shared.log_rings;
        Ok(mspic_offline::answers::syslog_statistics(
            &self.policy(),
            |i, name| {
                let lost: u64 = rings.iter().map(|r| r.dropped(i)).sum();
                let failed = c.send_errors.get(name).copied().unwrap_or(0);
                let limited = c.rate_limited.get(name).copied().unwrap_or(0);
                (
                    c.sent.get(name).copied().unwrap_or(0),
                    lost + failed + limited,
                )
            },
        ))
    }

    fn service_sets_summary(&mut self) -> Result<Vec<ServiceSetsSummary>, BackendError> {
        Ok(answers::service_sets_summary(
            &self.policy(),
            &self.reports()?,
        ))
    }

    fn tcp_mss_statistics(&mut self) -> Result<Vec<mspic_control::TcpMssStatistics>, BackendError> {
        Ok(answers::tcp_mss_statistics(
            &self.policy(),
            &self.reports()?,
        ))
    }

    fn service_sets_cpu_usage(
        &mut self,
    ) -> Result<Vec<mspic_control::ServiceSetCpuUsage>, BackendError> {
        Ok(answers::service_sets_cpu_usage(
            &self.policy(),
            &self.reports()?,
        ))
    }

    fn service_sets_memory_usage(
        &mut self,
    ) -> Result<Vec<mspic_control::ServiceSetMemoryUsage>, BackendError> {
        Ok(answers::service_sets_memory_usage(
            &self.policy(),
            &self.reports()?,
        ))
    }
}

#[derive(Debug, Clone)]
struct PortState {
    cfg: PortConfig,
    ifindex: u32,
    mac: Mac,
    /// The kernel's counters of the netdev just before the program was attached (what
    /// [`RuntimeCounters::netdevs`] counts from).
    baseline: Option<NetdevStats>,
}

/// The running dataplane.
pub struct Runtime {
    shared: Arc<Shared>,
    workers: Vec<WorkerHandle>,
    /// The logger thread (joined after the workers, so it sends what they left).
    logger: Option<JoinHandle<()>>,
    stop: Arc<AtomicBool>,
    // Links before the program: detach, then unload.
    links: Vec<XdpLink>,
    xdp: Mutex<XdpProgram>,
    ports: Vec<PortState>,
    n_workers: u32,
}

/// How long a worker may take to set up its UMEM and sockets.
const START_TIMEOUT: Duration = Duration::from_secs(30);

impl Runtime {
    /// Starts the dataplane with [`RuntimeTuning::default`].
    pub fn start(policy: Arc<Policy>, cfg: RuntimeConfig) -> Result<Runtime, DataplaneError> {
        Self::start_with(policy, cfg, RuntimeTuning::default())
    }

    /// Removes a stale steering program from every port, loads and attaches the XDP
    /// program (bpf_links), creates the sockets and starts the workers.
    pub fn start_with(
        policy: Arc<Policy>,
        cfg: RuntimeConfig,
        tuning: RuntimeTuning,
    ) -> Result<Runtime, DataplaneError> {
        validate(&policy, &cfg)?;
        if let Some(why) = xdp::kernel_lacks_feature() {
            return Err(DataplaneError::Unsupported(why));
        }
        let spec = UmemSpec {
            frames: cfg.umem_frames,
            frame_size: cfg.frame_size,
        };
        spec.validate()?;
        let mut ports = Vec::with_capacity(cfg.ports.len());
        for p in &cfg.ports {
            let ifindex = xdp::ifindex(&p.netdev).map_err(|_| DataplaneError::NoSuchNetdev {
                port: p.name.clone(),
                netdev: p.netdev.clone(),
            })?;
            let mac = crate::netdev::mac(&p.netdev).map_err(|source| DataplaneError::Io {
                what: format!("reading the MAC address of {}", p.netdev),
                source,
            })?;
            let room = cfg.frame_size as usize - XDP_HEADROOM;
            if let Ok(mtu) = crate::netdev::mtu(&p.netdev) {
                // Ethernet header and one VLAN tag on top of the MTU.
                if mtu as usize + 18 > room {
                    tracing::warn!(
                        "{}: MTU {mtu} does not fit a {}-byte UMEM frame ({room} bytes of \
                         data): longer frames are dropped by the kernel; use a larger frame size",
                        p.netdev,
                        cfg.frame_size
                    );
                }
            }
            ports.push(PortState {
                cfg: p.clone(),
                ifindex,
                mac,
                baseline: None,
            });
        }
        for p in &ports {
            if xdp::remove_stale(p.ifindex)? {
                tracing::warn!(
                    "removed a stale {} program from {}",
                    xdp::PROG_NAME,
                    p.cfg.netdev
                );
            }
        }
        let n = cfg.workers as usize;
        let mut prog = XdpProgram::load(&SteerConfig::from_policy(&policy, cfg.workers))?;
        for (i, p) in ports.iter().enumerate() {
            prog.set_port(p.ifindex, i as u32)?;
        }
        let handoff = Arc::new(Handoff::new(
            n,
            tuning.handoff_depth,
            cfg.frame_size as usize - XDP_HEADROOM,
        ));
        let wakers = Arc::new(Wakers::new(n).map_err(|source| DataplaneError::Io {
            what: "creating eventfds".into(),
            source,
        })?);
        let stop = Arc::new(AtomicBool::new(false));
        let epoch = Instant::now();
        let epoch_wall = std::time::SystemTime::now();
        let log_rings: Vec<Arc<LogRing>> = (0..n).map(|_| Arc::new(LogRing::default())).collect();
        let cpus = allowed_cpus();
        let mut l2 = tuning.l2;
        // Frames waiting for ARP must not starve the UMEM: at most an eighth of it.
        let per_hop = l2.pending_per_hop.max(1);
        l2.max_incomplete = l2
            .max_incomplete
            .min((cfg.umem_frames as usize / 8 / per_hop).max(1));
        let infos: Vec<PortInfo> = ports
            .iter()
            .map(|p| PortInfo {
                name: p.cfg.name.clone(),
                ingress: p.cfg.ingress,
                mac: p.mac,
            })
            .collect();
        let netdevs: Vec<String> = ports.iter().map(|p| p.cfg.netdev.clone()).collect();
        let mut controls = Vec::with_capacity(n);
        let mut handles = Vec::with_capacity(n);
        let mut ready = Vec::with_capacity(n);
        for i in 0..n {
            let (ctl_tx, ctl_rx) = unbounded();
            let (ready_tx, ready_rx) = bounded(1);
            controls.push(ctl_tx);
            ready.push(ready_rx);
            let stats = Arc::new(Mutex::new(WorkerStats {
                worker: i,
                ..WorkerStats::default()
            }));
            let wcfg = WorkerConfig {
                index: i,
                workers: n,
                ports: infos.clone(),
                shard: ShardConfig {
                    index: i as u32,
                    count: n as u32,
                    capacity: tuning.session_capacity,
                    prealloc: tuning.session_prealloc,
                    verify_checksums: tuning.verify_checksums,
                    ..ShardConfig::default()
                },
                l2,
                batch: tuning.batch.max(1),
                chunk: tuning.chunk.max(1),
                idle_poll_ms: tuning.idle_poll_ms,
            };
            let cpu = (cfg.pin_cpus && !cpus.is_empty()).then(|| cpus[i % cpus.len()]);
            let ctx = WorkerStart {
                cfg: wcfg,
                spec,
                netdevs: netdevs.clone(),
                policy: Arc::clone(&policy),
                algs: Arc::clone(&tuning.algs),
                handoff: Arc::clone(&handoff),
                wakers: Arc::clone(&wakers),
                control: ctl_rx,
                stats: Arc::clone(&stats),
                stop: Arc::clone(&stop),
                epoch,
                cpu,
                ready: ready_tx,
                log_ring: Arc::clone(&log_rings[i]),
            };
            let thread = std::thread::Builder::new()
                .name(format!("mspic-worker-{i}"))
                .spawn(move || ctx.run())
                .map_err(|source| DataplaneError::Io {
                    what: format!("starting worker thread {i}"),
                    source,
                })?;
            handles.push(WorkerHandle {
                thread: Some(thread),
                stats,
            });
        }
        let policy_cell = Arc::new(Mutex::new(Arc::clone(&policy)));
        let syslog = Arc::new(Mutex::new(SyslogCounters::default()));
        let logger = Logger {
            rings: log_rings.clone(),
            policy: Arc::clone(&policy_cell),
            epoch: epoch_wall,
            counters: Arc::clone(&syslog),
            stop: Arc::clone(&stop),
        };
        let logger = std::thread::Builder::new()
            .name("mspic-logger".into())
            .spawn(move || logger.run())
            .map_err(|source| DataplaneError::Io {
                what: "starting the logger thread".into(),
                source,
            })?;
        let shared = Arc::new(Shared {
            controls,
            wakers,
            policy: policy_cell,
            log_rings,
            syslog,
            timeout: tuning.control_timeout,
            last_error: Mutex::new(None),
        });
        let mut rt = Runtime {
            shared,
            workers: handles,
            logger: Some(logger),
            stop,
            links: Vec::new(),
            xdp: Mutex::new(prog),
            ports,
            n_workers: cfg.workers,
        };
        // From here on, dropping `rt` stops the workers and detaches.
        let mut fds = Vec::with_capacity(n);
        for (i, r) in ready.iter().enumerate() {
            match r.recv_timeout(START_TIMEOUT) {
                Ok(Ok(f)) => fds.push(f),
                Ok(Err(e)) => return Err(e.into()),
                Err(RecvTimeoutError::Timeout) => {
                    return Err(DataplaneError::StartTimeout(i, START_TIMEOUT))
                }
                Err(RecvTimeoutError::Disconnected) => return Err(DataplaneError::WorkerGone(i)),
            }
        }
        {
            let mut prog = rt.xdp.lock().map_err(|_| poisoned())?;
            for (queue, f) in fds.iter().enumerate() {
                for (port, &fd) in f.iter().enumerate() {
                    prog.register_xsk(port as u32, queue as u32, fd)?;
                }
            }
            for p in &mut rt.ports {
                p.baseline = netdev::stats(&p.cfg.netdev);
                let link = prog.attach(p.ifindex, cfg.xdp_mode)?;
                rt.links.push(link);
            }
        }
        tracing::info!(
            "dataplane running: {} ports, {} workers, {} mode, {} x {}-byte UMEM frames per worker",
            rt.ports.len(),
            n,
            cfg.xdp_mode,
            cfg.umem_frames,
            cfg.frame_size
        );
        Ok(rt)
    }

    /// The control plane's handle (a clone shares everything).
    pub fn backend(&self) -> RuntimeBackend {
        RuntimeBackend {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Applies a new configuration: every shard keeps its sessions
    /// ([`mspic_flow::Shard::set_policy`]), then the XDP maps are updated.
    pub fn reload(&self, policy: Arc<Policy>) -> Result<(), DataplaneError> {
        let mut ingress = Vec::with_capacity(self.ports.len());
        for p in &self.ports {
            ingress.push(policy.interface_by_name(&p.cfg.name).ok_or_else(|| {
                DataplaneError::Config(format!(
                    "port {} is not an interface of the new configuration",
                    p.cfg.name
                ))
            })?);
        }
        self.shared.fan_out(|_, reply| Control::SetPolicy {
            policy: Arc::clone(&policy),
            ingress: ingress.clone(),
            reply,
        })?;
        self.xdp
            .lock()
            .map_err(|_| poisoned())?
            .update(&SteerConfig::from_policy(&policy, self.n_workers))?;
        if let Ok(mut p) = self.shared.policy.lock() {
            *p = policy;
        }
        Ok(())
    }

    /// Counters of every worker (published about once a millisecond) and of the XDP
    /// program.
    pub fn counters(&self) -> RuntimeCounters {
        RuntimeCounters {
            workers: self
                .workers
                .iter()
                .map(|w| w.stats.lock().map(|s| s.clone()).unwrap_or_default())
                .collect(),
            steering: self.xdp.lock().ok().and_then(|p| p.counters().ok()),
            netdevs: self
                .ports
                .iter()
                .map(|p| PortNetdev {
                    netdev: p.cfg.netdev.clone(),
                    stats: p
                        .baseline
                        .zip(netdev::stats(&p.cfg.netdev))
                        .map(|(base, now)| now.since(&base)),
                })
                .collect(),
        }
    }

    /// Netdev, ifindex and MAC address of each port.
    pub fn ports(&self) -> Vec<(PortConfig, u32, Mac)> {
        self.ports
            .iter()
            .map(|p| (p.cfg.clone(), p.ifindex, p.mac))
            .collect()
    }

    /// Stops the workers, detaches the program from every port and waits for the threads.
    pub fn stop(mut self) -> Result<(), DataplaneError> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), DataplaneError> {
        self.stop.store(true, Ordering::SeqCst);
        for w in 0..self.workers.len() {
            self.shared.wakers.wake_always(w);
        }
        let mut result = Ok(());
        for (i, w) in self.workers.iter_mut().enumerate() {
            if let Some(t) = w.thread.take() {
                if t.join().is_err() && result.is_ok() {
                    result = Err(DataplaneError::WorkerPanicked(i));
                }
            }
        }
        if let Some(t) = self.logger.take() {
            if t.join().is_err() && result.is_ok() {
                result = Err(DataplaneError::Config("the logger thread panicked".into()));
            }
        }
        self.links.clear();
        result
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

fn poisoned() -> DataplaneError {
    DataplaneError::Config("the XDP program lock is poisoned (a thread panicked)".into())
}

fn validate(policy: &Policy, cfg: &RuntimeConfig) -> Result<(), DataplaneError> {
    let bad = |m: String| Err(DataplaneError::Config(m));
    if cfg.ports.is_empty() {
        return bad("no ports".into());
    }
    if cfg.ports.len() > xdp::MAX_PORTS as usize {
        return bad(format!("at most {} ports", xdp::MAX_PORTS));
    }
    if cfg.queues == 0 || cfg.queues > xdp::MAX_QUEUES {
        return bad(format!(
            "queues must be between 1 and {}, not {}",
            xdp::MAX_QUEUES,
            cfg.queues
        ));
    }
    if cfg.workers != cfg.queues {
        return bad(format!(
            "workers ({}) must equal queues ({}): each worker serves one queue",
            cfg.workers, cfg.queues
        ));
    }
    for (i, p) in cfg.ports.iter().enumerate() {
        if cfg.ports[..i].iter().any(|q| q.netdev == p.netdev) {
            return bad(format!("netdev {} is used by two ports", p.netdev));
        }
        if cfg.ports[..i].iter().any(|q| q.name == p.name) {
            return bad(format!("port {} is configured twice", p.name));
        }
        if policy.interface(p.ingress).is_none() {
            return bad(format!(
                "port {}: ingress interface index {} is not in the configuration",
                p.name, p.ingress.0
            ));
        }
    }
    Ok(())
}

/// Everything a worker thread needs; it builds its sockets and worker itself (a UMEM
/// stays on the thread that uses it).
struct WorkerStart {
    cfg: WorkerConfig,
    spec: UmemSpec,
    netdevs: Vec<String>,
    policy: Arc<Policy>,
    algs: Arc<dyn AlgRegistry>,
    handoff: Arc<Handoff>,
    wakers: Arc<Wakers>,
    control: Receiver<Control>,
    stats: Arc<Mutex<WorkerStats>>,
    stop: Arc<AtomicBool>,
    epoch: Instant,
    cpu: Option<usize>,
    ready: Sender<Result<Vec<std::os::fd::RawFd>, XskError>>,
    log_ring: Arc<LogRing>,
}

impl WorkerStart {
    fn run(self) {
        let i = self.cfg.index;
        if let Some(cpu) = self.cpu {
            if let Err(e) = pin_to_cpu(cpu) {
                tracing::warn!("worker {i}: cannot pin to CPU {cpu}: {e}");
            }
        }
        let xsk = match QueueXsk::open(self.spec, &self.netdevs, i as u32) {
            Ok(x) => x,
            Err(e) => {
                let _ = self.ready.send(Err(e));
                return;
            }
        };
        if self.ready.send(Ok(xsk.fds())).is_err() {
            return;
        }
        let worker = Worker::new(
            self.cfg,
            xsk,
            self.policy,
            self.algs,
            self.handoff,
            Some(self.wakers),
            self.control,
            self.stats,
        )
        .with_log_ring(self.log_ring);
        worker.run(&self.stop, self.epoch);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Arc<Policy> {
        let text = include_str!("../../../docs/examples/testbed.conf");
        let cfg = mspic_config::parse(text, "testbed.conf").expect("testbed config parses");
        Arc::new(Policy::compile(&cfg).expect("compiles"))
    }

    fn cfg() -> RuntimeConfig {
        RuntimeConfig {
            ports: vec![
                PortConfig {
                    name: "ge-0/0/0".into(),
                    netdev: "pin".into(),
                    ingress: IfIndex(0),
                },
                PortConfig {
                    name: "ge-0/0/1".into(),
                    netdev: "pout".into(),
                    ingress: IfIndex(1),
                },
            ],
            queues: 1,
            workers: 1,
            xdp_mode: XdpMode::Native,
            umem_frames: 1024,
            frame_size: 2048,
            pin_cpus: false,
        }
    }

    #[test]
    fn configuration_errors_are_clear() {
        let p = policy();
        let cases: Vec<(RuntimeConfig, &str)> = vec![
            (
                RuntimeConfig {
                    workers: 2,
                    ..cfg()
                },
                "workers (2) must equal queues (1)",
            ),
            (
                RuntimeConfig {
                    queues: 0,
                    workers: 0,
                    ..cfg()
                },
                "queues must be between 1 and 64",
            ),
            (
                RuntimeConfig {
                    ports: vec![],
                    ..cfg()
                },
                "no ports",
            ),
            (
                {
                    let mut c = cfg();
                    c.ports[1].netdev = "pin".into();
                    c
                },
                "netdev pin is used by two ports",
            ),
            (
                {
                    let mut c = cfg();
                    c.ports[1].ingress = IfIndex(9);
                    c
                },
                "ingress interface index 9",
            ),
        ];
        for (c, want) in cases {
            let e = validate(&p, &c).unwrap_err().to_string();
            assert!(e.contains(want), "{e:?} should say {want:?}");
        }
        assert!(validate(&p, &cfg()).is_ok());
    }

    #[test]
    fn a_missing_netdev_is_named() {
        let mut c = cfg();
        c.ports[0].netdev = "mspic-nonexistent0".into();
        match Runtime::start(policy(), c) {
            Err(e @ DataplaneError::NoSuchNetdev { .. }) => {
                assert!(e.to_string().contains("mspic-nonexistent0"), "{e}");
                assert!(e.to_string().contains("ge-0/0/0"), "{e}");
            }
            // Only a kernel without XDP answers before looking at the netdevs.
            Err(DataplaneError::Unsupported(_)) => {}
            Err(e) => panic!("unexpected error: {e}"),
            Ok(_) => panic!("started without a netdev"),
        }
    }

    #[test]
    fn handles_cross_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Runtime>();
        send_sync::<RuntimeBackend>();
    }

    #[test]
    fn memlock_error_has_a_hint() {
        let e = XskError::Memlock {
            bytes: 1 << 24,
            source: std::io::Error::from_raw_os_error(libc::ENOBUFS),
        };
        let s = DataplaneError::from(e).to_string();
        assert!(s.contains("RLIMIT_MEMLOCK"), "{s}");
        assert!(s.contains("CAP_IPC_LOCK"), "{s}");
    }
}

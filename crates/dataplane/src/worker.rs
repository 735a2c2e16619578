//! One worker per receive queue: it owns that queue's UMEM and sockets, one shard of the
//! session table, and an L2 instance, and runs this loop:
//!
//! 1. top up the fill rings; receive a batch from every port's socket;
//! 2. for each frame read the steering metadata: the owner shard is this worker → keep it
//!    for the batch; another worker → copy it into the handoff ring to that worker and
//!    recycle the frame; the kept frames go through [`Shard::process_batch`] together
//!    (up to [`BATCH`] at a time), in place in their UMEM frames, so the session lookups
//!    of the batch overlap their cache misses;
//! 3. take frames from the other workers' handoff rings (copied into a free frame of this
//!    UMEM) and process them the same way, a batch at a time;
//! 4. verdicts: `Forward`/`Reply` → L2 (next-hop MAC, may wait for ARP) → TX on the
//!    egress port's socket of this queue (same UMEM, no copy); `Drop` → recycle;
//!    `NotIp` (ARP) → L2 responder/resolver; `Local` → ICMP echo reply, else drop;
//!    IPv6 frames the PIC handles itself never reach the shard: neighbor discovery goes to
//!    L2 in the receiving worker (like ARP), MLD, router discovery, link-local and multicast
//!    destinations and the PIC's own addresses are counted and freed;
//! 5. broadcast pinholes and learned neighbors to the other workers; run the shard and
//!    L2 timers; send (kicking until the TX rings are empty); serve one bounded step of
//!    a control request (a session listing is answered a chunk of slots at a time);
//! 6. when nothing happened, sleep in `poll` on the sockets and an eventfd until a frame,
//!    a handoff, a control request or the next timer.
//!
//! The packet logic is written against [`FrameIo`], implemented by
//! [`crate::xsk::QueueXsk`] and, in the tests, by an in-memory UMEM, so the whole loop runs
//! in unit tests without sockets.

use std::net::IpAddr;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crossbeam::channel::{Receiver, Sender};
use mspic_flow::alg::AlgRegistry;
use mspic_flow::owner::FragmentOwners;
use mspic_flow::route::RouteResult;
use mspic_flow::{
    DropReason, Frame, IfIndex, Policy, SessionCount, SessionFilter, SessionSnapshot, Shard,
    ShardConfig, ShardMessage, Time, Verdict, BATCH,
};
use mspic_wire::parse::Fragment;

use crate::answers::ShardReport;
use crate::handoff::{Handoff, HandoffError, HandoffFrame, Wakers, WorkerMessage};
use crate::l2::{ArpAction, Egress, L2Config, L2Counters, L2Output, Mac, PortSpec, L2};
use crate::xdp::{flags, SteerMeta};
use crate::xsk::{FrameAccounting, QueueXsk, UmemFrame, XskCounters, META_LEN};
use mspic_wire::nd::Ipv6Local;

/// Frame storage and sockets of one worker, as the loop uses them.
pub trait FrameIo {
    /// A frame held by the worker.
    type Frame;
    fn port_count(&self) -> usize;
    /// Gives free frames to the kernel for receiving.
    fn refill(&mut self);
    /// Receives up to `max` frames from `port` into `out`.
    fn rx(&mut self, port: usize, max: usize, out: &mut Vec<Self::Frame>) -> usize;
    /// A free frame (for a handoff copy or an ARP request).
    fn alloc(&mut self) -> Option<Self::Frame>;
    fn free(&mut self, f: Self::Frame);
    fn frame_len(f: &Self::Frame) -> usize;
    fn set_frame_len(f: &mut Self::Frame, len: usize);
    /// The frame's buffer: contents and tailroom.
    fn buf(&mut self, f: &Self::Frame) -> &mut [u8];
    /// The buffers of several distinct held frames at once, `out[i]` for `frames[i]` (for
    /// a batch through the shard).
    fn bufs<'a>(&'a mut self, frames: &[Self::Frame], out: &mut [&'a mut [u8]]);
    /// The steering metadata before the frame.
    fn meta(&self, f: &Self::Frame) -> [u8; META_LEN];
    /// Queues a frame for sending on `port`.
    fn tx(&mut self, port: usize, f: Self::Frame);
    /// Sends what is queued; true when frames are still waiting.
    fn flush(&mut self) -> bool;
    /// Sleeps until there is something to receive, `wake_fd` is readable, or the timeout.
    fn wait(&mut self, timeout_ms: i32, wake_fd: Option<RawFd>);
    fn accounting(&self) -> FrameAccounting;
    fn check_accounting(&self) -> Result<(), String>;
    /// Socket counters; `kernel`: also read the kernel's socket statistics (syscalls).
    fn xsk_counters(&self, kernel: bool) -> XskCounters;
}

impl FrameIo for QueueXsk {
    type Frame = UmemFrame;
    fn port_count(&self) -> usize {
        QueueXsk::port_count(self)
    }
    fn refill(&mut self) {
        QueueXsk::refill(self)
    }
    fn rx(&mut self, port: usize, max: usize, out: &mut Vec<UmemFrame>) -> usize {
        QueueXsk::rx(self, port, max, out)
    }
    fn alloc(&mut self) -> Option<UmemFrame> {
        QueueXsk::alloc(self)
    }
    fn free(&mut self, f: UmemFrame) {
        QueueXsk::free(self, f)
    }
    fn frame_len(f: &UmemFrame) -> usize {
        f.len as usize
    }
    fn set_frame_len(f: &mut UmemFrame, len: usize) {
        f.len = len as u32;
    }
    fn buf(&mut self, f: &UmemFrame) -> &mut [u8] {
        QueueXsk::buf(self, f)
    }
    fn bufs<'a>(&'a mut self, frames: &[UmemFrame], out: &mut [&'a mut [u8]]) {
        QueueXsk::bufs(self, frames, out)
    }
    fn meta(&self, f: &UmemFrame) -> [u8; META_LEN] {
        QueueXsk::meta(self, f)
    }
    fn tx(&mut self, port: usize, f: UmemFrame) {
        QueueXsk::tx(self, port, f)
    }
    fn flush(&mut self) -> bool {
        QueueXsk::flush(self)
    }
    fn wait(&mut self, timeout_ms: i32, wake_fd: Option<RawFd>) {
        QueueXsk::wait(self, timeout_ms, wake_fd)
    }
    fn accounting(&self) -> FrameAccounting {
        self.book().accounting().clone()
    }
    fn check_accounting(&self) -> Result<(), String> {
        QueueXsk::check_accounting(self)
    }
    fn xsk_counters(&self, kernel: bool) -> XskCounters {
        if kernel {
            self.counters_now()
        } else {
            self.counters.clone()
        }
    }
}

/// A port as a worker sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortInfo {
    /// Junos name (`ge-0/0/0`).
    pub name: String,
    /// Logical interface frames received on it arrive on.
    pub ingress: IfIndex,
    pub mac: Mac,
}

/// Static parameters of a worker.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub index: usize,
    pub workers: usize,
    pub ports: Vec<PortInfo>,
    pub shard: ShardConfig,
    pub l2: L2Config,
    /// Frames received per socket per loop.
    pub batch: usize,
    /// Session slots looked at per loop while answering a session listing.
    pub chunk: usize,
    /// Longest sleep when idle (ms).
    pub idle_poll_ms: i32,
}

/// A request from the control plane to one worker.
#[derive(Debug)]
pub enum Control {
    Sessions {
        filter: SessionFilter,
        reply: Sender<Vec<SessionSnapshot>>,
    },
    /// Sessions and flows per (interface, service set), counted without snapshots.
    Counts {
        filter: SessionFilter,
        reply: Sender<Vec<SessionCount>>,
    },
    Clear {
        filter: SessionFilter,
        reply: Sender<Vec<(String, String, u64)>>,
    },
    Report {
        reply: Sender<ShardReport>,
    },
    /// `clear services … statistics`: zero the shard's counters.
    ClearStatistics {
        what: ClearStatistics,
        reply: Sender<()>,
    },
    /// A new configuration, with each port's ingress interface in it.
    SetPolicy {
        policy: Arc<Policy>,
        ingress: Vec<IfIndex>,
        reply: Sender<()>,
    },
    /// Frame accounting and shard consistency (tests, diagnostics).
    Check {
        reply: Sender<Result<(), String>>,
    },
}

/// Which counters [`Control::ClearStatistics`] zeroes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClearStatistics {
    /// The firewall counters of one services interface, or of all.
    Sfw(Option<String>),
    /// The NAT counters.
    Nat,
    /// The DS-Lite counters of one services interface, or of all.
    Softwire(Option<String>),
}

/// Counters of one worker (a snapshot, published about once a millisecond).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkerStats {
    pub worker: usize,
    /// Time spent asleep waiting for work (ns).
    pub idle_ns: u64,
    /// Frames received from this worker's sockets.
    pub rx: u64,
    /// Frames handed to the sockets for sending (forwarded, replies, ARP).
    pub tx: u64,
    /// Frames processed by this worker's shard (received here or handed over).
    pub processed: u64,
    pub forwarded: u64,
    /// Replies built by the engine (TCP RST, ICMP errors).
    pub replies: u64,
    /// Frames the engine made on its timers (`tcp-tickles` keep-alives) and sent.
    pub generated: u64,
    /// Those dropped for want of a free frame.
    pub generated_dropped: u64,
    pub local: u64,
    pub echo_replies: u64,
    pub not_ip: u64,
    /// IPv6 frames consumed before the shard (RFC 4861, RFC 3810, RFC 4291 §2.5.6).
    pub ipv6_local: Ipv6LocalCounters,
    /// Engine drops by reason.
    pub drops: Vec<(DropReason, u64)>,
    /// Frames copied to another worker.
    pub handoff_out: u64,
    /// Frames received from another worker.
    pub handoff_in: u64,
    /// Handoffs dropped: the ring to the owner was full.
    pub handoff_drop_full: u64,
    /// Handoffs dropped: the frame was longer than a slot.
    pub handoff_drop_too_long: u64,
    /// Handed-over frames dropped for want of a free frame here.
    pub handoff_in_no_frame: u64,
    /// Longest time a handed-over frame waited (ns).
    pub handoff_max_delay_ns: u64,
    pub messages_out: u64,
    pub messages_in: u64,
    pub message_drops: u64,
    /// ARP requests not sent for want of a free frame.
    pub arp_no_frame: u64,
    /// Steering metadata named a shard that does not exist (processed here instead).
    pub bad_owner: u64,
    /// Frames without steering metadata (owner computed here).
    pub no_meta: u64,
    /// Control requests served.
    pub control: u64,
    pub sessions: u64,
    pub arp: L2Counters,
    pub xsk: XskCounters,
    pub frames: FrameAccounting,
}

impl WorkerStats {
    fn count_drop(&mut self, r: DropReason) {
        match self.drops.iter_mut().find(|(d, _)| *d == r) {
            Some((_, c)) => *c += 1,
            None => self.drops.push((r, 1)),
        }
    }

    /// Adds `o` to `self` (frame accounting included; `worker` is kept).
    pub fn merge(&mut self, o: &WorkerStats) {
        self.rx += o.rx;
        self.tx += o.tx;
        self.processed += o.processed;
        self.forwarded += o.forwarded;
        self.replies += o.replies;
        self.generated += o.generated;
        self.generated_dropped += o.generated_dropped;
        self.local += o.local;
        self.echo_replies += o.echo_replies;
        self.not_ip += o.not_ip;
        self.ipv6_local.merge(&o.ipv6_local);
        for &(r, c) in &o.drops {
            match self.drops.iter_mut().find(|(d, _)| *d == r) {
                Some((_, n)) => *n += c,
                None => self.drops.push((r, c)),
            }
        }
        self.idle_ns += o.idle_ns;
        self.handoff_out += o.handoff_out;
        self.handoff_in += o.handoff_in;
        self.handoff_drop_full += o.handoff_drop_full;
        self.handoff_drop_too_long += o.handoff_drop_too_long;
        self.handoff_in_no_frame += o.handoff_in_no_frame;
        self.handoff_max_delay_ns = self.handoff_max_delay_ns.max(o.handoff_max_delay_ns);
        self.messages_out += o.messages_out;
        self.messages_in += o.messages_in;
        self.message_drops += o.message_drops;
        self.arp_no_frame += o.arp_no_frame;
        self.bad_owner += o.bad_owner;
        self.no_meta += o.no_meta;
        self.control += o.control;
        self.sessions += o.sessions;
        self.arp.merge(&o.arp);
        self.xsk.merge(&o.xsk);
        self.frames.merge(&o.frames);
    }

    /// Engine drops summed over reasons.
    pub fn dropped(&self) -> u64 {
        self.drops.iter().map(|(_, c)| c).sum()
    }
}

/// IPv6 frames the PIC handled itself, by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ipv6LocalCounters {
    /// Neighbor solicitations and advertisements (given to L2).
    pub nd: u64,
    /// Router solicitations and advertisements, redirects.
    pub router: u64,
    /// MLD queries and reports.
    pub mld: u64,
    /// Other packets to link-local or multicast destinations, or from link-local sources.
    pub link_scope: u64,
    /// Packets to the PIC's own addresses.
    pub to_pic: u64,
}

impl Ipv6LocalCounters {
    fn count(&mut self, k: Ipv6Local) {
        match k {
            Ipv6Local::Neighbor => self.nd += 1,
            Ipv6Local::Router => self.router += 1,
            Ipv6Local::Mld => self.mld += 1,
            Ipv6Local::LinkScope => self.link_scope += 1,
        }
    }

    /// Adds `o` to `self`.
    pub fn merge(&mut self, o: &Ipv6LocalCounters) {
        self.nd += o.nd;
        self.router += o.router;
        self.mld += o.mld;
        self.link_scope += o.link_scope;
        self.to_pic += o.to_pic;
    }

    /// All of them.
    pub fn total(&self) -> u64 {
        self.nd + self.router + self.mld + self.link_scope + self.to_pic
    }
}

/// A session listing or count in progress, a chunk of slots per control step.
struct SessionsJob {
    filter: SessionFilter,
    cursor: usize,
    out: JobOut,
}

/// What a [`SessionsJob`] gathers and where it goes when done.
enum JobOut {
    Sessions(Vec<SessionSnapshot>, Sender<Vec<SessionSnapshot>>),
    /// Sessions and flows by service set index.
    Counts(Vec<(u64, u64)>, Sender<Vec<SessionCount>>),
}

/// One worker: its frames, shard, L2 and rings.
pub struct Worker<IO: FrameIo> {
    cfg: WorkerConfig,
    io: IO,
    shard: Shard,
    l2: L2<IO::Frame>,
    policy: Arc<Policy>,
    handoff: Arc<Handoff>,
    wakers: Option<Arc<Wakers>>,
    control: Receiver<Control>,
    job: Option<SessionsJob>,
    stats: WorkerStats,
    published: Arc<Mutex<WorkerStats>>,
    last_publish: Time,
    frag_owner: FragmentOwners,
    /// ALG children whose inside side hashes away from their shard: arrival key → shard.
    steer: std::collections::HashMap<mspic_wire::FlowKey, u32>,
    rxbuf: Vec<IO::Frame>,
    /// Keep-alives from the shard on their way out (kept for its allocation).
    generated: Vec<mspic_flow::shard::Generated>,
    /// Frames this worker owns, waiting to go through the shard as one batch, with their
    /// port and ingress interface.
    batch: Vec<IO::Frame>,
    batch_meta: Vec<(usize, IfIndex)>,
    outbox: Vec<ShardMessage>,
    /// Workers sent something this loop (to wake).
    notify: Vec<bool>,
    /// The last flush left frames waiting for the kernel.
    tx_backlog: bool,
    /// Last full frame-accounting check (debug builds, once a second).
    last_check: Time,
    /// Last read of the kernel's socket statistics (every 100 ms at most).
    kernel_stats_at: Time,
    /// (time, idle_ns, shard_ns) at the last report, for the CPU share.
    cpu_mark: (Time, u64, u64),
    /// Time spent inside the shard's batch processing (ns): one clock read before and
    /// after each batch, none per frame.
    shard_ns: u64,
    /// The shard's frames per service set at the last report.
    cpu_frames: Vec<u64>,
    /// Where the shard's log events go (`None`: they stay in the shard's buffer, which
    /// drops and counts when full).
    log_ring: Option<Arc<crate::syslog::LogRing>>,
}

impl<IO: FrameIo> Worker<IO> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        cfg: WorkerConfig,
        io: IO,
        policy: Arc<Policy>,
        algs: Arc<dyn AlgRegistry>,
        handoff: Arc<Handoff>,
        wakers: Option<Arc<Wakers>>,
        control: Receiver<Control>,
        published: Arc<Mutex<WorkerStats>>,
    ) -> Self {
        let shard = Shard::with_algs(cfg.shard, Arc::clone(&policy), algs);
        let specs: Vec<PortSpec> = cfg
            .ports
            .iter()
            .map(|p| PortSpec {
                name: p.name.clone(),
                mac: p.mac,
            })
            .collect();
        let l2 = L2::new(cfg.l2, Arc::clone(&policy), &specs);
        let stats = WorkerStats {
            worker: cfg.index,
            ..WorkerStats::default()
        };
        Worker {
            rxbuf: Vec::with_capacity(cfg.batch),
            generated: Vec::new(),
            batch: Vec::with_capacity(BATCH),
            batch_meta: Vec::with_capacity(BATCH),
            notify: vec![false; cfg.workers],
            shard,
            l2,
            policy,
            handoff,
            wakers,
            control,
            job: None,
            stats,
            published,
            last_publish: Time::ZERO,
            frag_owner: FragmentOwners::default(),
            steer: std::collections::HashMap::new(),
            outbox: Vec::new(),
            tx_backlog: false,
            last_check: Time::ZERO,
            kernel_stats_at: Time::ZERO,
            cpu_mark: (Time::ZERO, 0, 0),
            shard_ns: 0,
            cpu_frames: Vec::new(),
            log_ring: None,
            io,
            cfg,
        }
    }

    /// Sends the shard's log events to `ring` (the logger thread's side).
    pub fn with_log_ring(mut self, ring: Arc<crate::syslog::LogRing>) -> Self {
        self.log_ring = Some(ring);
        self
    }

    pub fn shard(&self) -> &Shard {
        &self.shard
    }

    pub fn l2(&self) -> &L2<IO::Frame> {
        &self.l2
    }

    pub fn io(&self) -> &IO {
        &self.io
    }

    pub fn io_mut(&mut self) -> &mut IO {
        &mut self.io
    }

    pub fn stats(&self) -> &WorkerStats {
        &self.stats
    }

    /// Runs until `stop` is set. `start` is the epoch of the shards' clock (shared by
    /// every worker so that handoff timestamps compare).
    pub fn run(mut self, stop: &AtomicBool, start: Instant) {
        let clock = || Time(u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX));
        while !stop.load(Ordering::Relaxed) {
            let now = clock();
            if !self.poll_once(now) {
                self.idle(now);
            }
        }
        self.publish(clock(), true);
    }

    /// One turn of the loop at `now`. Returns true when there was work (or a listing is
    /// being answered), false when the worker may sleep (briefly, if the kernel has not
    /// taken every frame to send yet).
    pub fn poll_once(&mut self, now: Time) -> bool {
        let mut work = false;
        let mut rx = std::mem::take(&mut self.rxbuf);
        for port in 0..self.io.port_count() {
            // Top up before every batch: a fill ring that runs dry drops in the kernel.
            self.io.refill();
            let n = self.io.rx(port, self.cfg.batch, &mut rx);
            work |= n > 0;
            self.stats.rx += n as u64;
            for f in rx.drain(..) {
                self.on_rx(now, port, f);
            }
            self.flush_batch(now);
        }
        self.io.refill();
        self.rxbuf = rx;
        work |= self.handoff_in(now);
        if self.shard.has_generated() {
            // The other fragments of packets cut for their link.
            self.send_generated(now);
        }
        work |= self.messages_in(now);
        self.broadcast_outbox();
        if self.shard.poll_timeout().is_some_and(|t| t <= now) {
            self.shard.handle_timeout(now);
            // Ended ALG parents tell the other shards now, not at the next packet.
            self.outbox.extend(self.shard.drain_outbox());
            self.send_generated(now);
        }
        if self.l2.poll_timeout().is_some_and(|t| t <= now) {
            self.l2.handle_timeout(now);
            self.drain_l2();
        }
        self.wake_peers();
        self.tx_backlog = self.io.flush();
        if cfg!(debug_assertions) && now.0.saturating_sub(self.last_check.0) >= 1_000_000_000 {
            self.last_check = now;
            if let Err(e) = self.io.check_accounting() {
                panic!("worker {}: frame accounting: {e}", self.cfg.index);
            }
        }
        work |= self.control_step(now);
        if let Some(r) = &self.log_ring {
            r.take_from(&mut self.shard);
        }
        self.publish(now, false);
        work || self.job.is_some()
    }

    /// Sleeps until a frame, a handoff, a control request or the next timer.
    fn idle(&mut self, now: Time) {
        let me = self.cfg.index;
        if let Some(w) = &self.wakers {
            w.prepare_sleep(me);
        }
        if self.handoff.has_work_for(me) || !self.control.is_empty() {
            if let Some(w) = &self.wakers {
                w.awake(me);
            }
            return;
        }
        self.publish(now, true);
        // Frames the kernel would not take yet (device busy): retry soon, without spinning.
        let mut timeout = if self.tx_backlog {
            1
        } else {
            i64::from(self.cfg.idle_poll_ms.max(1))
        };
        for d in [self.shard.poll_timeout(), self.l2.poll_timeout()]
            .into_iter()
            .flatten()
        {
            let ms = d.0.saturating_sub(now.0).div_ceil(1_000_000);
            timeout = timeout.min(ms as i64);
        }
        let fd = self.wakers.as_ref().map(|w| w.fd(me));
        let asleep = std::time::Instant::now();
        self.io.wait(timeout as i32, fd);
        self.stats.idle_ns += asleep.elapsed().as_nanos() as u64;
        if let Some(w) = &self.wakers {
            w.awake(me);
        }
    }

    fn publish(&mut self, now: Time, force: bool) {
        if !force && now.0.saturating_sub(self.last_publish.0) < 1_000_000 {
            return;
        }
        self.last_publish = now;
        self.stats.sessions = self.shard.session_count() as u64;
        self.stats.arp = self.l2.counters.clone();
        let kernel = force || now.0.saturating_sub(self.kernel_stats_at.0) >= 100_000_000;
        if kernel {
            self.kernel_stats_at = now;
        }
        let mut xsk = self.io.xsk_counters(kernel);
        if !kernel {
            // Keep the last kernel figures until they are read again.
            xsk.kernel_rx_dropped = self.stats.xsk.kernel_rx_dropped;
            xsk.kernel_rx_ring_full = self.stats.xsk.kernel_rx_ring_full;
            xsk.kernel_fill_empty = self.stats.xsk.kernel_fill_empty;
            xsk.kernel_tx_invalid = self.stats.xsk.kernel_tx_invalid;
        }
        self.stats.xsk = xsk;
        self.stats.frames = self.io.accounting();
        if let Ok(mut p) = self.published.try_lock() {
            p.clone_from(&self.stats);
        }
    }

    /// The owner shard of a received frame.
    fn owner_of(&mut self, f: &IO::Frame) -> usize {
        let me = self.cfg.index;
        let n = self.cfg.workers;
        if n <= 1 {
            return me;
        }
        let meta = SteerMeta::from_bytes(self.io.meta(f));
        let len = IO::frame_len(f);
        if meta.flags == 0 {
            // No steering metadata: compute the owner here, as the kernel would have.
            self.stats.no_meta += 1;
            let buf = &self.io.buf(f)[..len];
            let Ok(p) = mspic_wire::parse_frame(buf) else {
                return me;
            };
            let unknown = me as u32;
            return self
                .frag_owner
                .route(&p, n as u32, &self.policy.nat, unknown) as usize;
        }
        if meta.has(flags::ARP) || meta.has(flags::PARSE_ERROR) {
            return me;
        }
        if meta.has(flags::LATER_FRAG) || meta.has(flags::FIRST_FRAG) {
            let buf = &self.io.buf(f)[..len];
            if let Ok(p) = mspic_wire::parse_frame(buf) {
                let (src, dst) = (p.key.src, p.key.dst);
                match p.fragment {
                    Fragment::Later { .. } => {
                        let unknown = me as u32;
                        let o = self
                            .frag_owner
                            .later(&p, n as u32, &self.policy.nat, unknown);
                        return if (o as usize) < n { o as usize } else { me };
                    }
                    Fragment::First { id } => {
                        self.frag_owner
                            .remember(src, dst, id, u32::from(meta.owner))
                    }
                    Fragment::None => {}
                }
            }
        }
        let o = usize::from(meta.owner);
        if o >= n {
            self.stats.bad_owner += 1;
            return me;
        }
        o
    }

    /// The shard an ALG child asked for this frame's key (`ShardMessage::Steer`), if any.
    /// The key is parsed only while some child is steered: none is, most of the time.
    fn steered_owner(&mut self, f: &IO::Frame) -> Option<usize> {
        if self.steer.is_empty() {
            return None;
        }
        let len = IO::frame_len(f);
        let p = mspic_wire::parse_frame(&self.io.buf(f)[..len]).ok()?;
        mspic_flow::owner::steered(&self.steer, &p)
            .map(|s| s as usize)
            .filter(|&s| s < self.cfg.workers)
    }

    /// Applies a steering message (from this shard or another) to the table above.
    fn apply_steer(&mut self, m: &ShardMessage) {
        match m {
            ShardMessage::Steer { key, shard } if self.steer.len() < STEER_MAX => {
                self.steer.insert(*key, *shard);
            }
            ShardMessage::Unsteer { key } => {
                self.steer.remove(key);
            }
            _ => {}
        }
    }

    fn on_rx(&mut self, now: Time, port: usize, f: IO::Frame) {
        let Some(f) = self.ipv6_local(now, port, f) else {
            return;
        };
        let me = self.cfg.index;
        let owner = self.steered_owner(&f).unwrap_or_else(|| self.owner_of(&f));
        let ingress = self.cfg.ports[port].ingress;
        if owner == me {
            self.enqueue(now, port, ingress, f);
            return;
        }
        let len = IO::frame_len(&f);
        let bytes = &self.io.buf(&f)[..len];
        match self
            .handoff
            .send(me, owner, ingress, port as u16, now, bytes)
        {
            Ok(()) => {
                self.stats.handoff_out += 1;
                self.notify[owner] = true;
            }
            Err(HandoffError::TooLong) => self.stats.handoff_drop_too_long += 1,
            Err(_) => self.stats.handoff_drop_full += 1,
        }
        self.io.free(f);
    }

    /// Consumes an IPv6 frame the PIC handles itself (neighbor discovery goes to L2 here,
    /// in the receiving worker, as ARP does); gives every other frame back.
    fn ipv6_local(&mut self, now: Time, port: usize, f: IO::Frame) -> Option<IO::Frame> {
        let len = IO::frame_len(&f);
        let buf = &self.io.buf(&f)[..len];
        // `Some(None)`: to one of our addresses.
        let kind = match mspic_wire::nd::classify_local(buf) {
            Some(k) => Some(Some(k)),
            None => ipv6_dst(buf)
                .filter(|&d| self.l2.has_ipv6() && self.l2.is_local(IpAddr::V6(d)))
                .map(|_| None),
        };
        let Some(kind) = kind else {
            return Some(f);
        };
        match kind {
            Some(k) => self.stats.ipv6_local.count(k),
            None => self.stats.ipv6_local.to_pic += 1,
        }
        if kind == Some(Ipv6Local::Neighbor) {
            self.l2_input(now, port, f, true);
        } else {
            self.io.free(f);
        }
        None
    }

    /// Hands up to `batch` items from each peer's ring (`recv(handoff, from, me)`) to
    /// `take`; returns whether any came. The one loop over the peers' rings.
    fn drain_peers<T>(
        &mut self,
        recv: fn(&Handoff, usize, usize) -> Option<T>,
        mut take: impl FnMut(&mut Self, usize, T),
    ) -> bool {
        let (me, handoff) = (self.cfg.index, Arc::clone(&self.handoff));
        let mut work = false;
        for from in peers(me, self.cfg.workers) {
            for _ in 0..self.cfg.batch {
                let Some(item) = recv(&handoff, from, me) else {
                    break;
                };
                work = true;
                take(self, from, item);
            }
        }
        work
    }

    fn handoff_in(&mut self, now: Time) -> bool {
        let work = self.drain_peers(Handoff::recv, |w, from, slot| w.frame_in(now, from, slot));
        self.flush_batch(now);
        work
    }

    /// One frame handed over by worker `from`, copied into a frame of ours.
    fn frame_in(&mut self, now: Time, from: usize, slot: Box<HandoffFrame>) {
        let me = self.cfg.index;
        self.stats.handoff_in += 1;
        let delay = now.0.saturating_sub(slot.received.0);
        self.stats.handoff_max_delay_ns = self.stats.handoff_max_delay_ns.max(delay);
        let Some(mut f) = self.io.alloc() else {
            self.stats.handoff_in_no_frame += 1;
            self.handoff.recycle(from, me, slot);
            return;
        };
        let bytes = slot.bytes();
        let buf = self.io.buf(&f);
        let n = bytes.len().min(buf.len());
        buf[..n].copy_from_slice(&bytes[..n]);
        IO::set_frame_len(&mut f, n);
        let (port, ingress) = (usize::from(slot.port), slot.ingress);
        self.handoff.recycle(from, me, slot);
        let port = port.min(self.cfg.ports.len().saturating_sub(1));
        self.enqueue(now, port, ingress, f);
    }

    fn messages_in(&mut self, now: Time) -> bool {
        self.drain_peers(Handoff::recv_message, |w, _, m| {
            w.stats.messages_in += 1;
            match m {
                WorkerMessage::Shard(m) => {
                    w.apply_steer(&m);
                    w.shard.deliver(m);
                }
                WorkerMessage::Neighbor { port, ip, mac } => {
                    w.l2.learn_remote(now, port, ip, mac);
                    w.drain_l2();
                }
            }
        })
    }

    fn broadcast(&mut self, m: WorkerMessage) {
        let me = self.cfg.index;
        for to in peers(me, self.cfg.workers) {
            if self.handoff.send_message(me, to, m.clone()) {
                self.stats.messages_out += 1;
                self.notify[to] = true;
            } else {
                self.stats.message_drops += 1;
            }
        }
    }

    fn broadcast_outbox(&mut self) {
        if self.outbox.is_empty() {
            return;
        }
        let msgs = std::mem::take(&mut self.outbox);
        for m in &msgs {
            self.broadcast(WorkerMessage::Shard(m.clone()));
        }
        for m in msgs {
            self.apply_steer(&m);
            self.shard.deliver(m);
        }
    }

    fn wake_peers(&mut self) {
        for (w, n) in self.notify.iter_mut().enumerate() {
            if std::mem::take(n) {
                if let Some(wk) = &self.wakers {
                    wk.wake(w);
                }
            }
        }
    }

    /// Queues a frame this worker owns for the next batch through the shard (run when
    /// [`BATCH`] are waiting, and by [`Self::flush_batch`]).
    fn enqueue(&mut self, now: Time, port: usize, ingress: IfIndex, f: IO::Frame) {
        self.batch.push(f);
        self.batch_meta.push((port, ingress));
        if self.batch.len() >= BATCH {
            self.flush_batch(now);
        }
    }

    /// Runs the queued frames through the shard as one batch and acts on the verdicts.
    /// The CPU shares since the previous report: busy = wall time minus time asleep;
    /// the time inside the shard split over the service sets by the frames each was
    /// charged with (`show services service-sets cpu-usage`).
    fn cpu_shares(&mut self, now: Time, report: &mut ShardReport) {
        let (t0, idle0, shard0) = self.cpu_mark;
        let wall = now.0.saturating_sub(t0.0);
        let frames = self.shard.frames_per_service_set();
        if wall > 0 {
            let idle = self.stats.idle_ns.saturating_sub(idle0).min(wall);
            report.cpu_percent = Some(100.0 * (wall - idle) as f64 / wall as f64);
            // A commit resets the shard's counts (and may change the sets): start over.
            let prev = |i: usize| match self.cpu_frames.len() == frames.len() {
                true => self.cpu_frames[i],
                false => 0,
            };
            let delta: Vec<u64> = (0..frames.len())
                .map(|i| frames[i].saturating_sub(prev(i)))
                .collect();
            let total = delta.iter().sum::<u64>().max(1) as f64;
            let in_shard = self.shard_ns.saturating_sub(shard0).min(wall - idle) as f64;
            let pct = 100.0 * in_shard / wall as f64;
            report.cpu_per_set = Some(delta.iter().map(|&d| pct * d as f64 / total).collect());
        }
        self.cpu_frames = frames.to_vec();
        self.cpu_mark = (now, self.stats.idle_ns, self.shard_ns);
    }

    fn flush_batch(&mut self, now: Time) {
        let n = self.batch.len();
        if n == 0 {
            return;
        }
        let mut verdicts = [Verdict::Local; BATCH];
        let mut lens = [0usize; BATCH];
        {
            let mut bufs: [&mut [u8]; BATCH] = std::array::from_fn(|_| Default::default());
            self.io.bufs(&self.batch, &mut bufs[..n]);
            let mut frames: [(IfIndex, Frame); BATCH] =
                std::array::from_fn(|_| (IfIndex(0), Frame::new(Default::default(), 0)));
            for (i, buf) in bufs.into_iter().take(n).enumerate() {
                frames[i] = (
                    self.batch_meta[i].1,
                    Frame::new(buf, IO::frame_len(&self.batch[i])),
                );
            }
            let t0 = Instant::now();
            self.shard
                .process_batch(now, &mut frames[..n], &mut verdicts[..n]);
            self.shard_ns += t0.elapsed().as_nanos() as u64;
            for (len, (_, f)) in lens.iter_mut().zip(&frames[..n]) {
                *len = f.len;
            }
        }
        self.stats.processed += n as u64;
        self.outbox.extend(self.shard.drain_outbox());
        let mut batch = std::mem::take(&mut self.batch);
        for (i, mut f) in batch.drain(..).enumerate() {
            IO::set_frame_len(&mut f, lens[i]);
            let port = self.batch_meta[i].0;
            self.act(now, port, f, verdicts[i]);
        }
        self.batch = batch;
        self.batch_meta.clear();
    }

    /// Sends, answers or drops a frame the shard has processed.
    fn act(&mut self, now: Time, port: usize, f: IO::Frame, verdict: Verdict) {
        match verdict {
            Verdict::Forward { egress, next_hop } => {
                self.stats.forwarded += 1;
                self.egress(now, egress, next_hop, f);
            }
            Verdict::Reply { egress, next_hop } => {
                self.stats.replies += 1;
                self.egress(now, egress, next_hop, f);
            }
            Verdict::Drop(r) => {
                self.stats.count_drop(r);
                self.io.free(f);
            }
            Verdict::Local => {
                self.stats.local += 1;
                self.local(now, f);
            }
            Verdict::NotIp => {
                self.stats.not_ip += 1;
                self.arp(now, port, f);
            }
        }
    }

    /// A packet for one of our addresses: ICMP echo requests are answered.
    fn local(&mut self, now: Time, f: IO::Frame) {
        let len = IO::frame_len(&f);
        let buf = self.io.buf(&f);
        let to = mspic_wire::build::icmp_echo_reply(buf, len);
        let route = to
            .filter(|a| !self.policy.nat.pool_addrs.contains_key(a))
            .map(|a| self.policy.routes.lookup(IpAddr::V4(a)));
        match route {
            Some(RouteResult::Forward { egress, next_hop }) => {
                self.stats.echo_replies += 1;
                self.egress(now, egress, next_hop, f);
            }
            _ => self.io.free(f),
        }
    }

    fn arp(&mut self, now: Time, port: usize, f: IO::Frame) {
        self.l2_input(now, port, f, false);
    }

    /// An ARP (`nd` false) or neighbor discovery frame for L2; its answer goes back out of
    /// the port it came in on.
    fn l2_input(&mut self, now: Time, port: usize, mut f: IO::Frame, nd: bool) {
        let len = IO::frame_len(&f);
        let buf = self.io.buf(&f);
        let action = if nd {
            self.l2.nd_input(now, port as u16, buf, len)
        } else {
            self.l2.arp_input(now, port as u16, buf, len)
        };
        match action {
            ArpAction::Reply { len } => {
                IO::set_frame_len(&mut f, len);
                self.stats.tx += 1;
                self.io.tx(port, f);
            }
            ArpAction::Consumed => self.io.free(f),
        }
        self.drain_l2();
    }

    /// Sends the frames the shard made on its timers (keep-alives), each in a free frame;
    /// with none free, the rest are counted and dropped.
    fn send_generated(&mut self, now: Time) {
        let mut generated = std::mem::take(&mut self.generated);
        generated.extend(self.shard.drain_generated());
        for g in generated.drain(..) {
            let Some(mut f) = self.io.alloc() else {
                self.stats.generated_dropped += 1;
                continue;
            };
            let buf = self.io.buf(&f);
            let Some(dst) = buf.get_mut(..g.len) else {
                self.stats.generated_dropped += 1;
                self.io.free(f);
                continue;
            };
            dst.copy_from_slice(g.bytes());
            IO::set_frame_len(&mut f, g.len);
            self.stats.generated += 1;
            self.egress(now, g.egress, g.next_hop, f);
        }
        self.generated = generated;
    }

    fn egress(&mut self, now: Time, egress: IfIndex, next_hop: IpAddr, f: IO::Frame) {
        match self.l2.output(now, egress, next_hop, f) {
            Egress::Send {
                port,
                dst,
                src,
                frame,
            } => self.send(usize::from(port), dst, src, frame),
            Egress::Queued => {}
            Egress::Drop { frame, .. } => self.io.free(frame),
        }
        self.drain_l2();
    }

    fn send(&mut self, port: usize, dst: Mac, src: Mac, f: IO::Frame) {
        let buf = self.io.buf(&f);
        if buf.len() >= 12 {
            buf[0..6].copy_from_slice(&dst);
            buf[6..12].copy_from_slice(&src);
        }
        self.stats.tx += 1;
        self.io.tx(port, f);
    }

    fn drain_l2(&mut self) {
        while let Some(o) = self.l2.poll_output() {
            match o {
                L2Output::Send {
                    port,
                    dst,
                    src,
                    frame,
                } => self.send(usize::from(port), dst, src, frame),
                L2Output::Drop { frame, .. } => self.io.free(frame),
                L2Output::Request { port, packet } => match self.io.alloc() {
                    Some(mut f) => {
                        let buf = self.io.buf(&f);
                        buf[..packet.len()].copy_from_slice(&packet);
                        IO::set_frame_len(&mut f, packet.len());
                        self.stats.tx += 1;
                        self.io.tx(usize::from(port), f);
                    }
                    None => self.stats.arp_no_frame += 1,
                },
                L2Output::Learned { port, ip, mac } => {
                    self.broadcast(WorkerMessage::Neighbor { port, ip, mac })
                }
            }
        }
    }

    /// One bounded step of control work. True if anything was done.
    fn control_step(&mut self, now: Time) -> bool {
        if let Some(job) = &mut self.job {
            let (f, at, n) = (&job.filter, job.cursor, self.cfg.chunk);
            let next = match &mut job.out {
                JobOut::Sessions(out, _) => self.shard.sessions_chunk(f, at, n, out),
                JobOut::Counts(per_set, _) => self.shard.session_counts_chunk(f, at, n, per_set),
            };
            match next {
                Some(c) => job.cursor = c,
                None => match self.job.take().map(|j| j.out) {
                    Some(JobOut::Sessions(out, reply)) => {
                        let _ = reply.send(out);
                    }
                    Some(JobOut::Counts(per_set, reply)) => {
                        let _ = reply.send(self.shard.named_counts(&per_set));
                    }
                    None => {}
                },
            }
            return true;
        }
        let Ok(req) = self.control.try_recv() else {
            return false;
        };
        self.stats.control += 1;
        match req {
            Control::Sessions { filter, reply } => {
                self.shard.advance_clock(now);
                self.job = Some(SessionsJob {
                    filter,
                    cursor: 0,
                    out: JobOut::Sessions(Vec::new(), reply),
                });
            }
            Control::Counts { filter, reply } => {
                self.job = Some(SessionsJob {
                    filter,
                    cursor: 0,
                    out: JobOut::Counts(Vec::new(), reply),
                });
            }
            Control::Clear { filter, reply } => {
                let _ = reply.send(self.shard.clear(&filter, now));
                self.outbox.extend(self.shard.drain_outbox());
            }
            Control::ClearStatistics { what, reply } => {
                match what {
                    ClearStatistics::Sfw(iface) => {
                        self.shard.clear_sfw_statistics(iface.as_deref())
                    }
                    ClearStatistics::Nat => self.shard.clear_nat_statistics(),
                    ClearStatistics::Softwire(iface) => {
                        self.shard.clear_softwire_statistics(iface.as_deref())
                    }
                }
                let _ = reply.send(());
            }
            Control::Report { reply } => {
                let mut report = ShardReport::of(&self.shard);
                self.cpu_shares(now, &mut report);
                let _ = reply.send(report);
            }
            Control::SetPolicy {
                policy,
                ingress,
                reply,
            } => {
                for (p, i) in self.cfg.ports.iter_mut().zip(ingress) {
                    p.ingress = i;
                }
                self.shard.set_policy(Arc::clone(&policy), now);
                self.l2.set_policy(Arc::clone(&policy));
                self.policy = policy;
                let _ = reply.send(());
            }
            Control::Check { reply } => {
                let r = self
                    .io
                    .check_accounting()
                    .and_then(|()| self.shard.check_consistency());
                let _ = reply.send(r);
            }
        }
        true
    }
}

/// The destination of an untagged or single-tagged IPv6 frame.
fn ipv6_dst(f: &[u8]) -> Option<std::net::Ipv6Addr> {
    let l3 = match f.get(12..14)? {
        [0x86, 0xdd] => 14,
        [0x81, 0x00] if f.get(16..18)? == [0x86, 0xdd] => 18,
        _ => return None,
    };
    let d: [u8; 16] = f.get(l3 + 24..l3 + 40)?.try_into().ok()?;
    Some(d.into())
}

/// Steered keys remembered at most (one per live ALG child started from outside).
const STEER_MAX: usize = 65_536;

/// The other workers of `workers`, seen from worker `me`.
fn peers(me: usize, workers: usize) -> impl Iterator<Item = usize> {
    (0..workers).filter(move |&w| w != me)
}

#[cfg(test)]
mod tests;

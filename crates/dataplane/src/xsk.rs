//! AF_XDP sockets of one worker: one UMEM per queue, shared by one socket per port bound to
//! that queue (bind flags 0, as the kernel requires for a shared UMEM; veth runs them in
//! copy mode).
//!
//! Every UMEM frame is in exactly one place at any time, tracked per frame by
//! [`FrameBook`]:
//!
//! ```text
//!   free ──refill──► fill ring of port p ──rx──► held by the worker ──tx──► tx pending
//!    ▲                (kernel: fill + rx ring)      │    ▲                  (userspace)
//!    │                                              │    └─alloc (handoff copy, ARP)   │
//!    ├──────────────── free (drop, consumed) ◄──────┘                                  ▼
//!    └──────────── completion of port p ◄── kernel: tx ring + completion ring ◄─submit─┘
//! ```
//!
//! The sum over places is constant; [`FrameBook::check`] proves it (and that the per-frame
//! places agree with the counters), and debug builds assert every transition.
//!
//! Copy-mode TX sends at most 32 frames per `sendto`, so [`QueueXsk::flush`] keeps kicking
//! while the TX ring has frames and the kernel makes progress, draining completions in
//! between (the kernel stops sending when the completion ring has no room).

use std::io;
use std::os::fd::{AsRawFd, RawFd};

use xsk_rs::config::{
    BindFlags, FrameSize, LibxdpFlags, QueueSize, SocketConfig, UmemConfig, XdpFlags,
};
use xsk_rs::{CompQueue, FillQueue, FrameDesc, RxQueue, TxQueue, Umem};

/// Bytes of XDP metadata the steering program writes just before each frame.
pub const META_LEN: usize = 8;
/// Headroom the kernel leaves before every received frame (`XDP_PACKET_HEADROOM`).
pub const XDP_HEADROOM: usize = 256;

/// Size of one worker's UMEM and rings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UmemSpec {
    /// Frames in the UMEM.
    pub frames: u32,
    /// Bytes per frame, a power of two, at least 2048 (the data area is this minus
    /// [`XDP_HEADROOM`]).
    pub frame_size: u32,
}

impl UmemSpec {
    /// Descriptors per ring (fill, completion, rx, tx): a power of two, at most 2048.
    pub fn ring_size(&self) -> u32 {
        self.frames.next_power_of_two().clamp(64, 2048)
    }

    /// Frames each port's fill ring is kept topped up to: three quarters of the UMEM are
    /// given to the kernel for receiving (bursts are absorbed there), the rest stays for
    /// frames in flight (handoff copies, frames waiting for ARP, TX).
    pub fn fill_target(&self, ports: usize) -> u32 {
        (self.frames / 4 * 3 / ports.max(1) as u32).clamp(1, self.ring_size())
    }

    /// Bytes of locked memory the UMEM needs.
    pub fn bytes(&self) -> u64 {
        u64::from(self.frames) * u64::from(self.frame_size)
    }

    pub fn validate(&self) -> Result<(), XskError> {
        if !self.frame_size.is_power_of_two() || !(2048..=65536).contains(&self.frame_size) {
            return Err(XskError::Config(format!(
                "frame size {} must be a power of two between 2048 and 65536",
                self.frame_size
            )));
        }
        if self.frames < 64 {
            return Err(XskError::Config(format!(
                "{} UMEM frames is too few (at least 64)",
                self.frames
            )));
        }
        Ok(())
    }
}

/// Why a UMEM or socket could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum XskError {
    #[error("{0}")]
    Config(String),
    #[error(
        "cannot register a {bytes}-byte UMEM: {source}. The UMEM is locked memory: \
         RLIMIT_MEMLOCK (ulimit -l, {limit}) is too small for it; run as root with \
         CAP_IPC_LOCK, or use fewer/smaller frames (umem frames x frame size)",
        limit = memlock_limit()
    )]
    Memlock { bytes: u64, source: io::Error },
    #[error("cannot create the UMEM: {0}")]
    Umem(String),
    #[error(
        "cannot create an AF_XDP socket on {netdev} queue {queue}: permission denied \
         (needs CAP_NET_RAW and CAP_NET_ADMIN, e.g. run as root)"
    )]
    Permission { netdev: String, queue: u32 },
    #[error("cannot create an AF_XDP socket on {netdev} queue {queue}: no such device or queue (check the netdev name and that it has at least {need} rx queues: `ethtool -l {netdev}`, or for veth `ip link add ... numrxqueues N numtxqueues N`)", need = queue + 1)]
    NoQueue { netdev: String, queue: u32 },
    #[error("cannot create an AF_XDP socket on {netdev} queue {queue}: the queue is busy (another AF_XDP socket, maybe a daemon still running, is bound to it)")]
    Busy { netdev: String, queue: u32 },
    #[error("cannot create an AF_XDP socket on {netdev} queue {queue}: {source}")]
    Socket {
        netdev: String,
        queue: u32,
        source: io::Error,
    },
}

/// RLIMIT_MEMLOCK of this process, for messages.
fn memlock_limit() -> String {
    use nix::sys::resource::{getrlimit, Resource, RLIM_INFINITY};
    match getrlimit(Resource::RLIMIT_MEMLOCK) {
        Err(_) => "unknown".into(),
        Ok((cur, _)) if cur == RLIM_INFINITY => "unlimited".into(),
        Ok((cur, _)) => format!("{cur} bytes"),
    }
}

fn os_error(e: &(dyn std::error::Error + 'static)) -> Option<io::Error> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cur {
        if let Some(io) = c.downcast_ref::<io::Error>() {
            return io.raw_os_error().map(io::Error::from_raw_os_error);
        }
        cur = c.source();
    }
    None
}

/// Where a frame is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    Free,
    /// Given to the kernel for receiving on a port (fill ring, or received and waiting in
    /// the rx ring).
    Fill(u16),
    /// Held by the worker (being processed, waiting for ARP, in a handoff copy, …).
    Held,
    /// Waiting in userspace for room in a port's TX ring.
    TxPending(u16),
    /// Given to the kernel for sending on a port (tx ring, being sent, or completed and
    /// waiting in the completion ring).
    TxKernel(u16),
}

/// How many frames are where.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FrameAccounting {
    pub total: u32,
    pub free: u32,
    /// Per port: fill ring + rx ring.
    pub fill: Vec<u32>,
    pub held: u32,
    pub tx_pending: Vec<u32>,
    /// Per port: tx ring + in flight + completion ring.
    pub tx_kernel: Vec<u32>,
}

impl FrameAccounting {
    /// Adds `o` to `self` (per-port lists are added element by element).
    pub fn merge(&mut self, o: &FrameAccounting) {
        let add = |a: &mut Vec<u32>, b: &[u32]| {
            if a.len() < b.len() {
                a.resize(b.len(), 0);
            }
            for (x, y) in a.iter_mut().zip(b) {
                *x += y;
            }
        };
        self.total += o.total;
        self.free += o.free;
        self.held += o.held;
        add(&mut self.fill, &o.fill);
        add(&mut self.tx_pending, &o.tx_pending);
        add(&mut self.tx_kernel, &o.tx_kernel);
    }

    /// Sum over every place (equals `total` when the books balance).
    pub fn sum(&self) -> u32 {
        self.free
            + self.held
            + self.fill.iter().sum::<u32>()
            + self.tx_pending.iter().sum::<u32>()
            + self.tx_kernel.iter().sum::<u32>()
    }
}

/// Frame bookkeeping of one UMEM: the place of every frame, counters per place, the free
/// list. Pure (no kernel), so it is tested on its own.
#[derive(Debug)]
pub struct FrameBook {
    place: Vec<Place>,
    free: Vec<u32>,
    acc: FrameAccounting,
    /// Transitions from a place the frame was not in (a bug or a bogus kernel address).
    pub violations: u64,
}

impl FrameBook {
    pub fn new(frames: u32, ports: usize) -> Self {
        FrameBook {
            place: vec![Place::Free; frames as usize],
            // Popped from the end: hand out low frames first.
            free: (0..frames).rev().collect(),
            acc: FrameAccounting {
                total: frames,
                free: frames,
                fill: vec![0; ports],
                held: 0,
                tx_pending: vec![0; ports],
                tx_kernel: vec![0; ports],
            },
            violations: 0,
        }
    }

    pub fn accounting(&self) -> &FrameAccounting {
        &self.acc
    }

    pub fn place(&self, idx: u32) -> Option<Place> {
        self.place.get(idx as usize).copied()
    }

    pub fn free_count(&self) -> u32 {
        self.acc.free
    }

    fn counter(&mut self, p: Place) -> &mut u32 {
        match p {
            Place::Free => &mut self.acc.free,
            Place::Held => &mut self.acc.held,
            Place::Fill(i) => &mut self.acc.fill[i as usize],
            Place::TxPending(i) => &mut self.acc.tx_pending[i as usize],
            Place::TxKernel(i) => &mut self.acc.tx_kernel[i as usize],
        }
    }

    /// Moves frame `idx` from `from` to `to`. A frame that is not where it should be is
    /// counted and left alone (false).
    pub fn moved(&mut self, idx: u32, from: Place, to: Place) -> bool {
        let Some(&cur) = self.place.get(idx as usize) else {
            self.violations += 1;
            debug_assert!(false, "frame {idx} out of range");
            return false;
        };
        if cur != from {
            self.violations += 1;
            debug_assert!(
                false,
                "frame {idx} is {cur:?}, expected {from:?} (to {to:?})"
            );
            return false;
        }
        self.place[idx as usize] = to;
        *self.counter(from) -= 1;
        *self.counter(to) += 1;
        true
    }

    /// Takes a frame off the free list into `to`.
    pub fn alloc(&mut self, to: Place) -> Option<u32> {
        let idx = self.free.pop()?;
        if self.moved(idx, Place::Free, to) {
            Some(idx)
        } else {
            None
        }
    }

    /// Puts a frame on the free list.
    pub fn release(&mut self, idx: u32, from: Place) {
        if self.moved(idx, from, Place::Free) {
            self.free.push(idx);
        }
    }

    /// Proves the books: counters sum to the total, match the per-frame places, and the
    /// free list holds exactly the free frames, once each.
    pub fn check(&self) -> Result<(), String> {
        if self.acc.sum() != self.acc.total {
            return Err(format!(
                "frames by place sum to {} of {}: {:?}",
                self.acc.sum(),
                self.acc.total,
                self.acc
            ));
        }
        let ports = self.acc.fill.len();
        let mut recount = FrameAccounting {
            total: self.acc.total,
            fill: vec![0; ports],
            tx_pending: vec![0; ports],
            tx_kernel: vec![0; ports],
            ..Default::default()
        };
        for p in &self.place {
            match *p {
                Place::Free => recount.free += 1,
                Place::Held => recount.held += 1,
                Place::Fill(i) => recount.fill[i as usize] += 1,
                Place::TxPending(i) => recount.tx_pending[i as usize] += 1,
                Place::TxKernel(i) => recount.tx_kernel[i as usize] += 1,
            }
        }
        if recount != self.acc {
            return Err(format!(
                "counters {:?} disagree with frame places {recount:?}",
                self.acc
            ));
        }
        if self.free.len() != self.acc.free as usize {
            return Err(format!(
                "free list holds {} frames, {} are free",
                self.free.len(),
                self.acc.free
            ));
        }
        let mut seen = vec![false; self.place.len()];
        for &i in &self.free {
            if self.place[i as usize] != Place::Free
                || std::mem::replace(&mut seen[i as usize], true)
            {
                return Err(format!(
                    "frame {i} is on the free list twice or is not free"
                ));
            }
        }
        Ok(())
    }
}

/// A frame held by the worker: its UMEM index and the length of its contents. Not `Copy`:
/// it must go back through [`QueueXsk::free`] or [`QueueXsk::tx`].
#[derive(Debug, PartialEq, Eq)]
pub struct UmemFrame {
    idx: u32,
    pub len: u32,
}

impl UmemFrame {
    pub fn index(&self) -> u32 {
        self.idx
    }
}

/// Counters of one worker's sockets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct XskCounters {
    pub rx_frames: u64,
    pub tx_frames: u64,
    pub completed: u64,
    pub tx_kicks: u64,
    /// Kicks that returned an error other than "try again".
    pub tx_kick_errors: u64,
    /// Frames dropped because the TX path was backed up.
    pub tx_dropped: u64,
    /// RX batches that found the fill ring low.
    pub fill_short: u64,
    pub alloc_failures: u64,
    /// Kernel socket statistics (XDP_STATISTICS), summed over ports: frames dropped
    /// because the rx ring was full or the fill ring empty, and invalid descriptors.
    pub kernel_rx_dropped: u64,
    pub kernel_rx_ring_full: u64,
    pub kernel_fill_empty: u64,
    pub kernel_tx_invalid: u64,
}

impl XskCounters {
    /// Adds `o` to `self`.
    pub fn merge(&mut self, o: &XskCounters) {
        self.rx_frames += o.rx_frames;
        self.tx_frames += o.tx_frames;
        self.completed += o.completed;
        self.tx_kicks += o.tx_kicks;
        self.tx_kick_errors += o.tx_kick_errors;
        self.tx_dropped += o.tx_dropped;
        self.fill_short += o.fill_short;
        self.alloc_failures += o.alloc_failures;
        self.kernel_rx_dropped += o.kernel_rx_dropped;
        self.kernel_rx_ring_full += o.kernel_rx_ring_full;
        self.kernel_fill_empty += o.kernel_fill_empty;
        self.kernel_tx_invalid += o.kernel_tx_invalid;
    }
}

struct Port {
    netdev: String,
    rx: RxQueue,
    tx: TxQueue,
    fill: FillQueue,
    comp: CompQueue,
    fd: RawFd,
    /// Frames waiting for room in the TX ring.
    pending: Vec<FrameDesc>,
}

/// One worker's UMEM and its sockets (one per port, all bound to the same queue).
pub struct QueueXsk {
    // Declared first so that the sockets (and their rings) go before the UMEM.
    ports: Vec<Port>,
    umem: Umem,
    /// Start of the UMEM mapping.
    base: *mut u8,
    frame_size: usize,
    /// Offset of the packet data in a frame.
    data_off: usize,
    descs: Vec<FrameDesc>,
    book: FrameBook,
    spec: UmemSpec,
    queue: u32,
    scratch: Vec<FrameDesc>,
    pollfds: Vec<libc::pollfd>,
    pub counters: XskCounters,
}

/// Frames taken from the TX path per port before new ones are dropped.
const MAX_TX_PENDING: usize = 4096;
/// How long a busy queue is retried when binding.
const BUSY_RETRY: std::time::Duration = std::time::Duration::from_secs(3);
/// `sendto` calls per port per flush at most.
const MAX_KICKS: usize = 64;

impl QueueXsk {
    /// Creates the UMEM and binds one socket per netdev on `queue`. No XDP program is
    /// loaded here: the caller steers frames into the sockets ([`Self::fds`]).
    pub fn open(spec: UmemSpec, netdevs: &[String], queue: u32) -> Result<Self, XskError> {
        spec.validate()?;
        if netdevs.is_empty() || netdevs.len() > usize::from(u16::MAX) {
            return Err(XskError::Config("a worker needs 1 to 65535 ports".into()));
        }
        let ring = QueueSize::new(spec.ring_size()).map_err(|e| XskError::Config(e.to_string()))?;
        let ucfg = UmemConfig::builder()
            .frame_size(
                FrameSize::new(spec.frame_size).map_err(|e| XskError::Config(e.to_string()))?,
            )
            .fill_queue_size(ring)
            .comp_queue_size(ring)
            .frame_headroom(0)
            .build()
            .map_err(|e| XskError::Config(e.to_string()))?;
        let frames = std::num::NonZeroU32::new(spec.frames)
            .ok_or_else(|| XskError::Config("no UMEM frames".into()))?;
        let (umem, descs) = Umem::new(ucfg, frames, false).map_err(|e| match os_error(&e) {
            Some(io)
                if matches!(
                    io.raw_os_error(),
                    Some(libc::ENOBUFS) | Some(libc::ENOMEM) | Some(libc::EPERM)
                ) =>
            {
                XskError::Memlock {
                    bytes: spec.bytes(),
                    source: io,
                }
            }
            Some(io) => XskError::Umem(format!("{e}: {io}")),
            None => XskError::Umem(e.to_string()),
        })?;
        let mut probe = FrameDesc::default();
        // SAFETY: a default descriptor has address 0, the start of the first frame of this
        // UMEM, which nothing (no socket exists yet) can be using; only its address is
        // taken, no reference outlives this statement.
        let base = unsafe { umem.data_mut(&mut probe).as_mut_ptr() };
        let data_off = descs.first().map(|d| d.addr()).unwrap_or(XDP_HEADROOM);
        debug_assert!(data_off >= META_LEN);
        let scfg = SocketConfig::builder()
            .rx_queue_size(ring)
            .tx_queue_size(ring)
            .libxdp_flags(LibxdpFlags::XSK_LIBXDP_FLAGS_INHIBIT_PROG_LOAD)
            .xdp_flags(XdpFlags::empty())
            .bind_flags(BindFlags::empty())
            .build();
        let mut ports = Vec::with_capacity(netdevs.len());
        for netdev in netdevs {
            let ifname = netdev
                .parse()
                .map_err(|_| XskError::Config(format!("bad netdev name {netdev:?}")))?;
            // The kernel releases a closed socket's hold on its queue from a work queue,
            // so a queue freed a moment ago (a restart) can still be busy: retry briefly.
            let deadline = std::time::Instant::now() + BUSY_RETRY;
            let created = loop {
                // SAFETY: each (netdev, queue) pair gets one socket: the runtime gives
                // every worker its own queue and every port its own netdev (checked by
                // the caller).
                let r = unsafe { xsk_rs::Socket::new(scfg, &umem, &ifname, queue) };
                let busy = r
                    .as_ref()
                    .err()
                    .and_then(|e| os_error(e))
                    .and_then(|e| e.raw_os_error())
                    == Some(libc::EBUSY);
                if !busy || std::time::Instant::now() >= deadline {
                    break r;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            };
            let (tx, rx, fq_cq) = created.map_err(|e| {
                let io = os_error(&e);
                match io.as_ref().and_then(io::Error::raw_os_error) {
                    Some(libc::EPERM) | Some(libc::EACCES) => XskError::Permission {
                        netdev: netdev.clone(),
                        queue,
                    },
                    Some(libc::ENODEV) | Some(libc::ENXIO) | Some(libc::EINVAL) => {
                        XskError::NoQueue {
                            netdev: netdev.clone(),
                            queue,
                        }
                    }
                    Some(libc::EBUSY) => XskError::Busy {
                        netdev: netdev.clone(),
                        queue,
                    },
                    Some(libc::ENOBUFS) | Some(libc::ENOMEM) => XskError::Memlock {
                        bytes: spec.bytes(),
                        source: io.unwrap_or_else(|| io::Error::from_raw_os_error(libc::ENOBUFS)),
                    },
                    _ => XskError::Socket {
                        netdev: netdev.clone(),
                        queue,
                        source: io.unwrap_or_else(|| io::Error::other(e.to_string())),
                    },
                }
            })?;
            let Some((fill, comp)) = fq_cq else {
                return Err(XskError::Config(format!(
                    "netdev {netdev} is used by two ports"
                )));
            };
            let fd = rx.fd().as_raw_fd();
            ports.push(Port {
                netdev: netdev.clone(),
                rx,
                tx,
                fill,
                comp,
                fd,
                pending: Vec::new(),
            });
        }
        let n = ports.len();
        Ok(QueueXsk {
            ports,
            umem,
            base,
            frame_size: spec.frame_size as usize,
            data_off,
            descs,
            book: FrameBook::new(spec.frames, n),
            spec,
            queue,
            scratch: vec![FrameDesc::default(); spec.ring_size() as usize],
            pollfds: Vec::with_capacity(n + 1),
            counters: XskCounters::default(),
        })
    }

    pub fn queue(&self) -> u32 {
        self.queue
    }

    pub fn port_count(&self) -> usize {
        self.ports.len()
    }

    pub fn netdev(&self, port: usize) -> &str {
        &self.ports[port].netdev
    }

    /// Socket descriptors, one per port (for the XSKMAP and for `poll`).
    pub fn fds(&self) -> Vec<RawFd> {
        self.ports.iter().map(|p| p.fd).collect()
    }

    /// Bytes available to a frame's contents (the data area, tailroom included).
    pub fn capacity(&self) -> usize {
        self.frame_size - self.data_off
    }

    pub fn book(&self) -> &FrameBook {
        &self.book
    }

    /// Proves the frame books balance.
    pub fn check_accounting(&self) -> Result<(), String> {
        self.book.check()
    }

    fn frame_ptr(&self, idx: u32) -> *mut u8 {
        // SAFETY: `idx` < frames (every index comes from the book), so the offset stays
        // inside the UMEM mapping of frames * frame_size bytes that `base` starts.
        unsafe {
            self.base
                .add(idx as usize * self.frame_size + self.data_off)
        }
    }

    /// The data area of a held frame (its contents are `[..frame.len]`; the rest is
    /// tailroom for replies and ALG growth).
    pub fn buf(&mut self, frame: &UmemFrame) -> &mut [u8] {
        debug_assert_eq!(self.book.place(frame.idx), Some(Place::Held));
        let cap = self.capacity();
        // SAFETY: the frame is held by the worker (it is in no ring the kernel reads or
        // writes), lies inside the UMEM mapping, and `&mut self` makes this the only
        // reference to it for the borrow's lifetime.
        unsafe { std::slice::from_raw_parts_mut(self.frame_ptr(frame.idx), cap) }
    }

    /// The buffers of several held frames at once: `out[i]` for `frames[i]`.
    pub fn bufs<'a>(&'a mut self, frames: &[UmemFrame], out: &mut [&'a mut [u8]]) {
        debug_assert!(frames
            .iter()
            .all(|f| self.book.place(f.idx) == Some(Place::Held)));
        debug_assert!(frames
            .iter()
            .enumerate()
            .all(|(i, f)| frames[..i].iter().all(|g| g.idx != f.idx)));
        let cap = self.capacity();
        for (f, o) in frames.iter().zip(out.iter_mut()) {
            // SAFETY: the frame is held by the worker (in no ring the kernel reads or
            // writes) and lies inside the UMEM mapping; distinct `UmemFrame`s name distinct
            // frames (the book hands an index out once until it comes back, and the type is
            // neither `Copy` nor `Clone`), so these slices do not overlap one another; and
            // `&mut self` keeps every other reference to the UMEM away for `'a`.
            *o = unsafe { std::slice::from_raw_parts_mut(self.frame_ptr(f.idx), cap) };
        }
    }

    /// The XDP metadata bytes just before a held frame.
    pub fn meta(&self, frame: &UmemFrame) -> [u8; META_LEN] {
        let mut m = [0u8; META_LEN];
        // SAFETY: the metadata sits in the frame's own headroom (data_off >= META_LEN), in
        // the UMEM mapping; the frame is held, so the kernel is not writing it.
        unsafe {
            std::ptr::copy_nonoverlapping(
                self.frame_ptr(frame.idx).sub(META_LEN),
                m.as_mut_ptr(),
                META_LEN,
            )
        };
        m
    }

    /// Frames on the free list.
    pub fn free_frames(&self) -> u32 {
        self.book.free_count()
    }

    /// Takes a free frame (for a handoff copy or a generated frame).
    pub fn alloc(&mut self) -> Option<UmemFrame> {
        match self.book.alloc(Place::Held) {
            Some(idx) => Some(UmemFrame { idx, len: 0 }),
            None => {
                self.counters.alloc_failures += 1;
                None
            }
        }
    }

    /// Returns a held frame to the free list.
    pub fn free(&mut self, frame: UmemFrame) {
        self.book.release(frame.idx, Place::Held);
    }

    /// Tops up every port's fill ring from the free list. Each frame's metadata area is
    /// cleared first, so a frame without steering metadata reads as flags 0.
    pub fn refill(&mut self) {
        let target = self.spec.fill_target(self.ports.len());
        for p in 0..self.ports.len() {
            let have = self.book.acc.fill[p];
            if have >= target {
                continue;
            }
            let want = (target - have).min(self.book.free_count()) as usize;
            let mut n = 0;
            while n < want {
                let Some(&idx) = self.book.free.last() else {
                    break;
                };
                // SAFETY: a free frame is in no ring; the 8 bytes before its data are
                // inside its own headroom in the UMEM mapping.
                unsafe { std::ptr::write_bytes(self.frame_ptr(idx).sub(META_LEN), 0, META_LEN) };
                self.scratch[n] = self.descs[idx as usize];
                self.book.free.pop();
                n += 1;
            }
            if n == 0 {
                continue;
            }
            // SAFETY: the descriptors are canonical frames of this UMEM taken off the free
            // list: no one uses them until the kernel hands them back on the rx ring.
            let done = unsafe { self.ports[p].fill.produce(&self.scratch[..n]) };
            for i in 0..n {
                let idx = self.index_of(self.scratch[i].addr());
                if i < done {
                    self.book.moved(idx, Place::Free, Place::Fill(p as u16));
                } else {
                    self.book.free.push(idx);
                }
            }
        }
    }

    fn index_of(&self, addr: usize) -> u32 {
        (addr / self.frame_size) as u32
    }

    /// Receives up to `max` frames from port `port` into `out`.
    pub fn rx(&mut self, port: usize, max: usize, out: &mut Vec<UmemFrame>) -> usize {
        let max = max.min(self.scratch.len());
        // SAFETY: descriptors from the rx ring name frames the kernel has finished with
        // and gives back to us; they were ours (given through the fill ring).
        let n = unsafe { self.ports[port].rx.consume(&mut self.scratch[..max]) };
        for i in 0..n {
            let d = self.scratch[i];
            let idx = self.index_of(d.addr());
            if !self.book.moved(idx, Place::Fill(port as u16), Place::Held) {
                continue;
            }
            let mut len = d.lengths().data();
            let off = d.addr() - idx as usize * self.frame_size;
            if off != self.data_off {
                // Not where the kernel puts frames in copy mode: move the contents to
                // the canonical offset, so every held frame starts at `data_off`.
                len = len.min(self.capacity());
                // SAFETY: both ranges are inside this frame (off + len <= frame_size as
                // the kernel validated the descriptor); `copy` allows overlap.
                unsafe {
                    let src = self.base.add(idx as usize * self.frame_size + off);
                    std::ptr::copy(src, self.frame_ptr(idx), len);
                }
            }
            out.push(UmemFrame {
                idx,
                len: len as u32,
            });
        }
        self.counters.rx_frames += n as u64;
        if n > 0 && self.book.acc.fill[port] < self.spec.fill_target(self.ports.len()) / 4 {
            self.counters.fill_short += 1;
        }
        n
    }

    /// Queues a held frame for sending on `port` (sent by the next [`Self::flush`]).
    pub fn tx(&mut self, port: usize, frame: UmemFrame) {
        if port >= self.ports.len() || self.ports[port].pending.len() >= MAX_TX_PENDING {
            self.counters.tx_dropped += 1;
            self.free(frame);
            return;
        }
        let mut d = self.descs[frame.idx as usize];
        let len = (frame.len as usize).min(self.capacity());
        // SAFETY: the frame is held by us; the view only sets the descriptor's length and
        // is dropped at once.
        unsafe { self.umem.data_mut(&mut d).cursor().set_pos(len) };
        if self
            .book
            .moved(frame.idx, Place::Held, Place::TxPending(port as u16))
        {
            self.ports[port].pending.push(d);
        }
    }

    /// Frames waiting in userspace for TX ring room.
    pub fn tx_pending(&self) -> usize {
        self.ports.iter().map(|p| p.pending.len()).sum()
    }

    /// Drains every port's completion ring to the free list.
    pub fn complete(&mut self) -> usize {
        let mut total = 0;
        for p in 0..self.ports.len() {
            total += self.complete_port(p);
        }
        total
    }

    fn complete_port(&mut self, p: usize) -> usize {
        let mut total = 0;
        loop {
            // SAFETY: the completion ring returns addresses of frames we submitted for TX;
            // the kernel is done with them.
            let n = unsafe { self.ports[p].comp.consume(&mut self.scratch) };
            for i in 0..n {
                let idx = self.index_of(self.scratch[i].addr());
                self.book.release(idx, Place::TxKernel(p as u16));
            }
            total += n;
            if n < self.scratch.len() {
                break;
            }
        }
        self.counters.completed += total as u64;
        total
    }

    /// Submits pending frames to the TX rings and kicks the kernel until the rings are
    /// empty or it stops making progress; drains completions. Returns true when frames
    /// are still waiting (call again soon).
    pub fn flush(&mut self) -> bool {
        let mut busy = false;
        let ring = self.spec.ring_size();
        for p in 0..self.ports.len() {
            self.complete_port(p);
            if !self.ports[p].pending.is_empty() {
                let port = &mut self.ports[p];
                // SAFETY: pending descriptors are frames we hold for TX, with lengths
                // within their frame; the kernel owns them until they complete.
                let n = unsafe { port.tx.produce(&port.pending) };
                for d in port.pending.drain(..n) {
                    let idx = (d.addr() / self.frame_size) as u32;
                    self.book
                        .moved(idx, Place::TxPending(p as u16), Place::TxKernel(p as u16));
                }
                self.counters.tx_frames += n as u64;
            }
            let mut kicks = 0;
            loop {
                let in_ring = ring - self.ports[p].tx.nb_free_exact();
                if in_ring == 0 || kicks >= MAX_KICKS {
                    break;
                }
                kicks += 1;
                self.counters.tx_kicks += 1;
                if self.ports[p].tx.wakeup().is_err() {
                    self.counters.tx_kick_errors += 1;
                    break;
                }
                self.complete_port(p);
                let after = ring - self.ports[p].tx.nb_free_exact();
                if after >= in_ring {
                    // No progress (device busy): try again on the next loop.
                    break;
                }
            }
            busy |=
                ring - self.ports[p].tx.nb_free_exact() > 0 || !self.ports[p].pending.is_empty();
        }
        busy
    }

    /// Blocks until a socket has frames to receive, `wake_fd` is readable, or
    /// `timeout_ms` passes (-1: no timeout).
    ///
    /// `libc::poll` on a reused `pollfd` array rather than `nix::poll`: nix's `PollFd`
    /// borrows each descriptor as a `BorrowedFd` for the array's lifetime, which the
    /// sockets (owned by their rings) and the caller's raw wake fd cannot lend here
    /// without rebuilding the array, an allocation per wait.
    pub fn wait(&mut self, timeout_ms: i32, wake_fd: Option<RawFd>) {
        self.pollfds.clear();
        let fds = self.ports.iter().map(|p| p.fd).chain(wake_fd);
        self.pollfds.extend(fds.map(|fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        }));
        // SAFETY: `pollfds` is a live array of `len` initialized pollfd structs.
        let _ = unsafe {
            libc::poll(
                self.pollfds.as_mut_ptr(),
                self.pollfds.len() as libc::nfds_t,
                timeout_ms,
            )
        };
    }

    /// Counters, with the kernel's socket statistics read now.
    pub fn counters_now(&self) -> XskCounters {
        let mut c = self.counters.clone();
        for p in &self.ports {
            if let Ok(st) = p.rx.fd().xdp_statistics() {
                c.kernel_rx_dropped += st.rx_dropped();
                c.kernel_rx_ring_full += st.rx_ring_full();
                c.kernel_fill_empty += st.rx_fill_ring_empty_descs();
                c.kernel_tx_invalid += st.tx_invalid_descs();
            }
        }
        c
    }

    /// Frames in each port's rx ring right now (informational: the kernel moves them).
    pub fn rx_ring_frames(&mut self) -> Vec<u32> {
        self.ports
            .iter_mut()
            .map(|p| p.rx.nb_avail_exact())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_sizes() {
        let s = UmemSpec {
            frames: 1024,
            frame_size: 2048,
        };
        assert_eq!(s.ring_size(), 1024);
        assert_eq!(s.fill_target(2), 384);
        assert_eq!(s.bytes(), 2 << 20);
        assert!(s.validate().is_ok());
        let big = UmemSpec {
            frames: 100_000,
            frame_size: 4096,
        };
        assert_eq!(big.ring_size(), 2048);
        assert_eq!(big.fill_target(1), 2048);
        assert!(UmemSpec {
            frames: 1024,
            frame_size: 3000
        }
        .validate()
        .is_err());
        assert!(UmemSpec {
            frames: 8,
            frame_size: 2048
        }
        .validate()
        .is_err());
    }

    #[test]
    fn frames_move_between_places_and_the_books_balance() {
        let mut b = FrameBook::new(16, 2);
        b.check().unwrap();
        // Fill both ports.
        let mut filled = Vec::new();
        for i in 0..8 {
            let port = (i % 2) as u16;
            let idx = b.alloc(Place::Fill(port)).unwrap();
            filled.push((idx, port));
        }
        b.check().unwrap();
        assert_eq!(b.accounting().fill, vec![4, 4]);
        // Receive three, forward two, drop one.
        let rx: Vec<_> = filled.drain(..3).collect();
        for &(idx, port) in &rx {
            assert!(b.moved(idx, Place::Fill(port), Place::Held));
        }
        assert!(b.moved(rx[0].0, Place::Held, Place::TxPending(1)));
        assert!(b.moved(rx[1].0, Place::Held, Place::TxPending(0)));
        b.release(rx[2].0, Place::Held);
        b.check().unwrap();
        // Submit and complete.
        assert!(b.moved(rx[0].0, Place::TxPending(1), Place::TxKernel(1)));
        b.check().unwrap();
        assert_eq!(b.accounting().tx_kernel, vec![0, 1]);
        b.release(rx[0].0, Place::TxKernel(1));
        let acc = b.accounting().clone();
        assert_eq!(acc.sum(), 16);
        assert_eq!(acc.tx_pending, vec![1, 0]);
        assert_eq!(acc.free, 16 - 5 - 1);
        b.check().unwrap();
    }

    #[test]
    fn exhaustion_and_return() {
        let mut b = FrameBook::new(4, 1);
        let got: Vec<_> = std::iter::from_fn(|| b.alloc(Place::Held)).collect();
        assert_eq!(got.len(), 4);
        assert_eq!(b.alloc(Place::Held), None);
        for i in got {
            b.release(i, Place::Held);
        }
        b.check().unwrap();
        assert_eq!(b.free_count(), 4);
    }

    #[test]
    #[cfg_attr(debug_assertions, should_panic(expected = "expected"))]
    fn a_frame_in_the_wrong_place_is_caught() {
        let mut b = FrameBook::new(4, 1);
        let i = b.alloc(Place::Held).unwrap();
        // Completing a frame that was never sent.
        b.release(i, Place::TxKernel(0));
        assert_eq!(b.violations, 1);
        b.check().unwrap();
    }
}

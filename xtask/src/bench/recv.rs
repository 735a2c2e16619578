//! The AF_XDP receiver on the server's veth (`sv0`): the steering program of
//! `mspic_dataplane::xdp` with one shard redirects every frame of every queue to this
//! receiver's sockets (one per queue), which count the benchmark frames and answer ARP
//! for the server's address (ARP is redirected too, so the server's kernel never sees it).
//!
//! It runs on its own thread in the server namespace until stopped; counters the
//! benchmark watches while it runs are atomics in [`Shared`].

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use mspic_dataplane::xdp::{self, SteerConfig, XdpMode, XdpProgram};
use mspic_dataplane::xsk::{QueueXsk, UmemFrame, UmemSpec};

use super::netns;
use super::traffic::{inspect, Phase, Seen};

/// UMEM of each queue's socket: 4096 frames of 2 KiB (8 MiB of locked memory); the fill
/// ring gets 2048 of them.
const SPEC: UmemSpec = UmemSpec {
    frames: 4096,
    frame_size: 2048,
};
/// Frames taken from an rx ring per call.
const RX_BATCH: usize = 256;

/// What the receiver needs to know.
#[derive(Debug, Clone)]
pub struct RecvConfig {
    pub ns: String,
    pub dev: String,
    pub queues: u32,
    pub nonce: u32,
    pub flows: usize,
    /// The client's address (a frame still carrying it was not translated).
    pub client_ip: Ipv4Addr,
    /// The server's address and MAC, for ARP answers.
    pub my_ip: Ipv4Addr,
    pub my_mac: [u8; 6],
}

/// Counters visible while the receiver runs.
#[derive(Debug, Default)]
pub struct Shared {
    stop: AtomicBool,
    /// Distinct flows whose warm-up frame arrived.
    pub warm_flows: AtomicU64,
    /// Measured frames received.
    pub blast: AtomicU64,
}

/// The receiver's totals.
#[derive(Debug, Clone, Default)]
pub struct Received {
    pub blast: u64,
    pub warm: u64,
    pub first_blast: Option<Instant>,
    pub last_blast: Option<Instant>,
    /// Benchmark frames with a wrong IPv4 or UDP checksum.
    pub bad_checksum: u64,
    /// Benchmark frames whose source address was not translated.
    pub untranslated: u64,
    /// Frames that were not benchmark frames of this run (nor ARP requests we answered).
    pub other: u64,
    pub arp_answered: u64,
    /// Frames the kernel dropped at the receiver's sockets (rx ring full, fill ring empty).
    pub socket_drops: u64,
    /// The scheduling the receiver thread got (see [`RT_PRIORITY`]).
    pub priority: &'static str,
}

/// A running receiver thread.
pub struct Receiver {
    pub shared: Arc<Shared>,
    thread: Option<thread::JoinHandle<Result<Received>>>,
}

impl Receiver {
    /// Starts the receiver; returns once the program is attached and the sockets are
    /// bound.
    pub fn start(cfg: RecvConfig) -> Result<Receiver> {
        let shared = Arc::new(Shared::default());
        let (ready_tx, ready_rx) = mpsc::channel::<Result<()>>();
        let sh = shared.clone();
        let thread = thread::Builder::new()
            .name("bench-recv".into())
            .spawn(move || run(cfg, sh, ready_tx))
            .context("starting the receiver thread")?;
        let mut r = Receiver {
            shared,
            thread: Some(thread),
        };
        let ready = ready_rx.recv_timeout(Duration::from_secs(20));
        match ready {
            Ok(Ok(())) => Ok(r),
            Ok(Err(e)) => {
                r.stop().ok();
                Err(e)
            }
            Err(_) => match r.stop() {
                Err(e) => Err(e),
                Ok(_) => Err(anyhow!("the receiver did not start")),
            },
        }
    }

    /// Stops the receiver and returns its totals.
    pub fn stop(&mut self) -> Result<Received> {
        self.shared.stop.store(true, Ordering::Relaxed);
        match self.thread.take() {
            Some(t) => t
                .join()
                .map_err(|_| anyhow!("the receiver thread panicked"))?,
            None => Err(anyhow!("the receiver was already stopped")),
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if self.thread.is_some() {
            let _ = self.stop();
        }
    }
}

fn setup(cfg: &RecvConfig) -> Result<(XdpProgram, xdp::XdpLink, Vec<QueueXsk>)> {
    netns::enter(&cfg.ns)?;
    let ifindex = xdp::ifindex(&cfg.dev)?;
    let socks = (0..cfg.queues)
        .map(|q| {
            QueueXsk::open(SPEC, std::slice::from_ref(&cfg.dev), q)
                .with_context(|| format!("AF_XDP socket on {} queue {q}", cfg.dev))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut prog = XdpProgram::load(&SteerConfig {
        shards: 1,
        ..Default::default()
    })?;
    prog.set_port(ifindex, 0)?;
    for (q, s) in socks.iter().enumerate() {
        prog.register_xsk(0, q as u32, s.fds()[0])?;
    }
    let link = prog.attach(ifindex, XdpMode::Native)?;
    Ok((prog, link, socks))
}

/// Real-time (SCHED_FIFO) priority of the receiver thread. The receiver is the measuring
/// instrument and must not be what limits the measurement; with fewer cores than busy
/// threads (generator, forwarder, receiver) the normal scheduler lets its rx rings
/// overflow. It sleeps in `poll` whenever its rings are empty and needs little CPU per
/// frame, so the priority takes from the others only the time it needs (and the kernel's
/// real-time throttling bounds it in any case).
pub const RT_PRIORITY: u32 = 10;

/// Gives the calling thread [`RT_PRIORITY`] (`chrt` on its thread id), or failing that a
/// nice value of -10; best effort. Returns what it did.
fn raise_priority() -> &'static str {
    let tid = nix::unistd::gettid().to_string();
    let quiet = |program: &str, args: &[&str]| {
        std::process::Command::new(program)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if quiet("chrt", &["-f", "-p", &RT_PRIORITY.to_string(), &tid]) {
        "SCHED_FIFO"
    } else if quiet("renice", &["-n", "-10", "-p", &tid]) {
        "nice -10"
    } else {
        "normal priority"
    }
}

fn run(cfg: RecvConfig, shared: Arc<Shared>, ready: mpsc::Sender<Result<()>>) -> Result<Received> {
    let (_prog, _link, mut socks) = match setup(&cfg) {
        Ok(s) => s,
        Err(e) => {
            let _ = ready.send(Err(e));
            return Ok(Received::default());
        }
    };
    for s in &mut socks {
        s.refill();
    }
    let priority = raise_priority();
    let _ = ready.send(Ok(()));
    let mut tot = Received {
        priority,
        ..Received::default()
    };
    let mut warm_seen = vec![false; cfg.flows];
    let mut frames: Vec<UmemFrame> = Vec::with_capacity(RX_BATCH);
    let mut turn = 0usize;
    while !shared.stop.load(Ordering::Relaxed) {
        let mut got = 0;
        for s in socks.iter_mut() {
            s.refill();
            let n = s.rx(0, RX_BATCH, &mut frames);
            if n == 0 {
                continue;
            }
            got += n;
            let now = Instant::now();
            let mut blast = 0;
            let mut answered = false;
            for mut fr in frames.drain(..) {
                let len = fr.len as usize;
                match inspect(
                    s.buf(&fr),
                    len,
                    cfg.nonce,
                    cfg.client_ip,
                    cfg.my_mac,
                    cfg.my_ip,
                ) {
                    Seen::Bench {
                        phase,
                        flow,
                        checksums_ok,
                        untranslated,
                    } => {
                        tot.bad_checksum += u64::from(!checksums_ok);
                        tot.untranslated += u64::from(untranslated);
                        match phase {
                            Phase::Blast => blast += 1,
                            Phase::Warm => {
                                tot.warm += 1;
                                if let Some(seen) = warm_seen.get_mut(usize::from(flow)) {
                                    if !std::mem::replace(seen, true) {
                                        shared.warm_flows.fetch_add(1, Ordering::Relaxed);
                                    }
                                }
                            }
                        }
                        s.free(fr);
                    }
                    Seen::ArpAnswered { len } => {
                        tot.arp_answered += 1;
                        fr.len = len as u32;
                        s.tx(0, fr);
                        answered = true;
                    }
                    Seen::Other => {
                        tot.other += 1;
                        s.free(fr);
                    }
                }
            }
            if answered {
                s.flush();
            }
            if blast > 0 {
                tot.blast += blast;
                tot.first_blast.get_or_insert(now);
                tot.last_blast = Some(now);
                shared.blast.fetch_add(blast, Ordering::Relaxed);
            }
        }
        if got == 0 {
            // Nothing anywhere: sleep in poll on one socket (in turn) for at most 1 ms,
            // so that the receiver leaves the CPUs to the path it measures.
            turn = (turn + 1) % socks.len();
            let s = &mut socks[turn];
            s.flush();
            s.wait(1, None);
        }
    }
    for s in &socks {
        let c = s.counters_now();
        tot.socket_drops += c.kernel_rx_dropped + c.kernel_rx_ring_full;
    }
    Ok(tot)
}

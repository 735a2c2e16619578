//! The AF_XDP traffic generator: one AF_XDP socket per queue of the client's veth (`cl0`),
//! transmitting prebuilt frames as fast as copy-mode TX takes them.
//!
//! Flow `f` is sent on queue `f % queues` (on veth the peer receives a frame on the queue
//! it was sent on, so the PIC sees the flows spread over its queues). The generator runs
//! on its own thread, in the client namespace, and obeys [`Command`]s.

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use mspic_dataplane::xsk::{QueueXsk, UmemSpec};

use super::netns;
use super::traffic::{self, Templates};

/// UMEM of each queue's socket: 2048 frames of 2 KiB (4 MiB of locked memory).
const SPEC: UmemSpec = UmemSpec {
    frames: 2048,
    frame_size: 2048,
};
/// Frames queued per socket before each flush (a TX ring holds 2048).
const BATCH: usize = 512;
/// A paced send may run this many frames ahead of its schedule (one flush's worth): the
/// burst a pacing by whole batches allows.
const PACE_BURST: u64 = 32;

/// What the generator is asked to do.
pub enum Command {
    /// Send one warm-up frame of every flow; answers when the kernel completed them.
    Warm,
    /// Send `packets` measured frames, round robin over the flows, stopping at `deadline`;
    /// at most `rate` frames a second when given (as fast as TX takes them when not).
    Blast {
        packets: u64,
        rate: Option<f64>,
        deadline: Instant,
    },
    /// Send one frame of each new connection `first..first + count` (flow 0's measured
    /// frame from another source address and port, [`traffic::connection`]), connection
    /// `i` on queue `i % queues`, paced as `Blast`.
    Connections {
        first: u64,
        count: u64,
        rate: Option<f64>,
        deadline: Instant,
    },
}

/// The answer to a [`Command`].
#[derive(Debug, Clone, Copy)]
pub struct Sent {
    /// Frames the kernel took and completed.
    pub frames: u64,
    /// When the first frame was handed to the kernel.
    pub first: Instant,
    /// When the last frame was completed.
    pub last: Instant,
    /// The deadline stopped it before every frame was sent.
    pub timed_out: bool,
}

/// A running generator thread.
pub struct Generator {
    cmd: Option<mpsc::Sender<Command>>,
    done: mpsc::Receiver<Result<Sent>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Generator {
    /// Starts the generator in namespace `ns` on `dev` with `queues` sockets; returns once
    /// the sockets are bound.
    pub fn start(ns: &str, dev: &str, queues: u32, templates: Templates) -> Result<Generator> {
        let (cmd_tx, cmd_rx) = mpsc::channel::<Command>();
        let (done_tx, done_rx) = mpsc::channel::<Result<Sent>>();
        let (ns, dev) = (ns.to_string(), dev.to_string());
        let thread = thread::Builder::new()
            .name("bench-gen".into())
            .spawn(move || {
                let socks = netns::enter(&ns).and_then(|()| {
                    (0..queues)
                        .map(|q| {
                            QueueXsk::open(SPEC, std::slice::from_ref(&dev), q)
                                .with_context(|| format!("AF_XDP socket on {dev} queue {q}"))
                        })
                        .collect::<Result<Vec<_>>>()
                });
                let mut g = match socks {
                    Ok(socks) => {
                        let _ = done_tx.send(Ok(Sent {
                            frames: 0,
                            first: Instant::now(),
                            last: Instant::now(),
                            timed_out: false,
                        }));
                        Tx::new(socks, templates)
                    }
                    Err(e) => {
                        let _ = done_tx.send(Err(e));
                        return;
                    }
                };
                while let Ok(c) = cmd_rx.recv() {
                    let r = match c {
                        Command::Warm => {
                            g.send(&Plan::warm(&g), Instant::now() + Duration::from_secs(2))
                        }
                        Command::Blast {
                            packets,
                            rate,
                            deadline,
                        } => g.send(&Plan::blast(&g, packets, rate), deadline),
                        Command::Connections {
                            first,
                            count,
                            rate,
                            deadline,
                        } => g.send(&Plan::connections(&g, first, count, rate), deadline),
                    };
                    if done_tx.send(Ok(r)).is_err() {
                        break;
                    }
                }
            })
            .context("starting the generator thread")?;
        let g = Generator {
            cmd: Some(cmd_tx),
            done: done_rx,
            thread: Some(thread),
        };
        g.answer(Duration::from_secs(10))
            .context("the generator did not start")?;
        Ok(g)
    }

    fn answer(&self, timeout: Duration) -> Result<Sent> {
        match self.done.recv_timeout(timeout) {
            Ok(r) => r,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                Err(anyhow!("no answer from the generator in {timeout:?}"))
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(anyhow!("the generator stopped")),
        }
    }

    /// Sends one warm-up frame per flow.
    pub fn warm(&self) -> Result<Sent> {
        self.command(Command::Warm, Duration::from_secs(5))
    }

    /// Sends the measured frames, at `rate` frames a second when given; returns when they
    /// are all sent or `deadline` passed.
    pub fn blast(&self, packets: u64, rate: Option<f64>, deadline: Instant) -> Result<Sent> {
        let wait = deadline.saturating_duration_since(Instant::now()) + Duration::from_secs(5);
        let c = Command::Blast {
            packets,
            rate,
            deadline,
        };
        self.command(c, wait)
    }

    /// Sends the first frame of `count` new connections from `first` on, at `rate` frames a
    /// second when given.
    pub fn connections(
        &self,
        first: u64,
        count: u64,
        rate: Option<f64>,
        deadline: Instant,
    ) -> Result<Sent> {
        let wait = deadline.saturating_duration_since(Instant::now()) + Duration::from_secs(5);
        let c = Command::Connections {
            first,
            count,
            rate,
            deadline,
        };
        self.command(c, wait)
    }

    fn command(&self, c: Command, timeout: Duration) -> Result<Sent> {
        self.cmd
            .as_ref()
            .ok_or_else(|| anyhow!("the generator stopped"))?
            .send(c)
            .map_err(|_| anyhow!("the generator stopped"))?;
        self.answer(timeout)
    }
}

impl Drop for Generator {
    fn drop(&mut self) {
        // Closing the command channel ends the thread after its current command (each is
        // bounded by a deadline).
        self.cmd.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Which frames each queue sends: `count[q]` frames, cycling through `flows[q]` (or new
/// connections); all queues together at most `rate` frames a second when given.
struct Plan {
    frames: Frames,
    count: Vec<u64>,
    rate: Option<f64>,
}

/// What a plan sends.
#[derive(Clone, Copy)]
enum Frames {
    Warm,
    Blast,
    /// New connections from this index on.
    Connections(u64),
}

impl Plan {
    fn warm(g: &Tx) -> Plan {
        Plan {
            frames: Frames::Warm,
            count: g.flows.iter().map(|f| f.len() as u64).collect(),
            rate: None,
        }
    }

    /// Packet `i` of `packets` belongs to flow `i % flows`, sent on queue `flow % queues`.
    fn blast(g: &Tx, packets: u64, rate: Option<f64>) -> Plan {
        let flows = g.templates.blast.len() as u64;
        let q = g.socks.len() as u64;
        let mut count = vec![0u64; g.socks.len()];
        let (rounds, rest) = (packets / flows, packets % flows);
        for f in 0..flows {
            count[(f % q) as usize] += rounds + u64::from(f < rest);
        }
        Plan {
            frames: Frames::Blast,
            count,
            rate,
        }
    }

    /// Connection `first + k` goes on queue `k % queues`.
    fn connections(g: &Tx, first: u64, n: u64, rate: Option<f64>) -> Plan {
        let q = g.socks.len() as u64;
        let count = (0..q).map(|i| n / q + u64::from(i < n % q)).collect();
        Plan {
            frames: Frames::Connections(first),
            count,
            rate,
        }
    }
}

struct Tx {
    socks: Vec<QueueXsk>,
    templates: Templates,
    /// Flows of each queue.
    flows: Vec<Vec<usize>>,
}

impl Tx {
    fn new(socks: Vec<QueueXsk>, templates: Templates) -> Tx {
        let q = socks.len();
        let mut flows = vec![Vec::new(); q];
        for f in 0..templates.blast.len() {
            flows[f % q].push(f);
        }
        Tx {
            socks,
            templates,
            flows,
        }
    }

    fn send(&mut self, plan: &Plan, deadline: Instant) -> Sent {
        let q = self.socks.len();
        let mut left = plan.count.clone();
        let mut cursor = vec![0usize; q];
        let base: Vec<u64> = self.socks.iter().map(|s| s.counters.completed).collect();
        let frames = match plan.frames {
            Frames::Warm => &self.templates.warm,
            Frames::Blast | Frames::Connections(_) => &self.templates.blast,
        };
        let mut made = vec![0u64; q];
        let mut first = None;
        let mut timed_out = false;
        let start = Instant::now();
        let mut queued = 0u64;
        loop {
            let mut busy = false;
            for i in 0..q {
                // Paced: no more frames than the schedule allows by now, plus a burst.
                let room = plan.rate.map_or(u64::MAX, |r| {
                    let due = (r * start.elapsed().as_secs_f64()) as u64 + PACE_BURST;
                    due.saturating_sub(queued)
                });
                let s = &mut self.socks[i];
                let mut n = 0u64;
                while left[i] > 0 && s.tx_pending() < BATCH && n < room {
                    let Some(mut fr) = s.alloc() else { break };
                    let len = match plan.frames {
                        Frames::Connections(from) => {
                            let t = &frames[0];
                            let buf = &mut s.buf(&fr)[..t.len()];
                            buf.copy_from_slice(t);
                            traffic::connection(buf, from + i as u64 + made[i] * q as u64);
                            made[i] += 1;
                            t.len()
                        }
                        Frames::Warm | Frames::Blast => {
                            let flows = &self.flows[i];
                            let t = &frames[flows[cursor[i]]];
                            cursor[i] = (cursor[i] + 1) % flows.len();
                            s.buf(&fr)[..t.len()].copy_from_slice(t);
                            t.len()
                        }
                    };
                    fr.len = len as u32;
                    s.tx(0, fr);
                    left[i] -= 1;
                    n += 1;
                }
                queued += n;
                if first.is_none() && s.tx_pending() > 0 {
                    first = Some(Instant::now());
                }
                busy |= s.flush();
                busy |= left[i] > 0 || s.counters.completed < s.counters.tx_frames;
            }
            if !busy {
                break;
            }
            if Instant::now() >= deadline {
                timed_out = true;
                break;
            }
        }
        let last = Instant::now();
        let frames = self
            .socks
            .iter()
            .zip(&base)
            .map(|(s, c)| s.counters.completed - c)
            .sum();
        Sent {
            frames,
            first: first.unwrap_or(last),
            last,
            timed_out,
        }
    }
}

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
use super::traffic::Templates;

/// UMEM of each queue's socket: 2048 frames of 2 KiB (4 MiB of locked memory).
const SPEC: UmemSpec = UmemSpec {
    frames: 2048,
    frame_size: 2048,
};
/// Frames queued per socket before each flush (a TX ring holds 2048).
const BATCH: usize = 512;

/// What the generator is asked to do.
pub enum Command {
    /// Send one warm-up frame of every flow; answers when the kernel completed them.
    Warm,
    /// Send `packets` measured frames, round robin over the flows, stopping at `deadline`.
    Blast { packets: u64, deadline: Instant },
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
                        Command::Blast { packets, deadline } => {
                            g.send(&Plan::blast(&g, packets), deadline)
                        }
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

    /// Sends the measured frames; returns when they are all sent or `deadline` passed.
    pub fn blast(&self, packets: u64, deadline: Instant) -> Result<Sent> {
        let wait = deadline.saturating_duration_since(Instant::now()) + Duration::from_secs(5);
        self.command(Command::Blast { packets, deadline }, wait)
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

/// Which frames each queue sends: `count[q]` frames, cycling through `flows[q]`.
struct Plan {
    blast: bool,
    count: Vec<u64>,
}

impl Plan {
    fn warm(g: &Tx) -> Plan {
        Plan {
            blast: false,
            count: g.flows.iter().map(|f| f.len() as u64).collect(),
        }
    }

    /// Packet `i` of `packets` belongs to flow `i % flows`, sent on queue `flow % queues`.
    fn blast(g: &Tx, packets: u64) -> Plan {
        let flows = g.templates.blast.len() as u64;
        let q = g.socks.len() as u64;
        let mut count = vec![0u64; g.socks.len()];
        let (rounds, rest) = (packets / flows, packets % flows);
        for f in 0..flows {
            count[(f % q) as usize] += rounds + u64::from(f < rest);
        }
        Plan { blast: true, count }
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
        let frames = if plan.blast {
            &self.templates.blast
        } else {
            &self.templates.warm
        };
        let mut first = None;
        let mut timed_out = false;
        loop {
            let mut busy = false;
            for i in 0..q {
                let s = &mut self.socks[i];
                while left[i] > 0 && s.tx_pending() < BATCH {
                    let Some(mut fr) = s.alloc() else { break };
                    let flows = &self.flows[i];
                    let t = &frames[flows[cursor[i]]];
                    cursor[i] = (cursor[i] + 1) % flows.len();
                    s.buf(&fr)[..t.len()].copy_from_slice(t);
                    fr.len = t.len() as u32;
                    s.tx(0, fr);
                    left[i] -= 1;
                }
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

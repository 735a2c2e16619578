//! Session, NAT and firewall logs off the packet path: each worker moves the events its
//! shard made into its own bounded lock-free ring (a full ring drops and counts); one
//! logger thread formats them ([`mspic_flow::syslog::format`]) and sends each line as
//! one UDP datagram to every `syslog host` of the event's service set that takes it, from
//! the daemon's network namespace (the PIC's), through the kernel's routing there.
//! `host local` lines go to the daemon's own log, as the routing engine's log would
//! take them.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crossbeam::queue::ArrayQueue;
use mspic_config::{SyslogHost, SyslogTarget};
use mspic_flow::syslog::{for_each_line, LogEvent, RateLimiter};
use mspic_flow::{Policy, Shard, Time};

/// Events a worker's ring holds before it drops.
pub const RING_EVENTS: usize = 16_384;

/// Service sets counted one by one in a ring's drop counters; later ones share the last.
const DROP_SLOTS: usize = 256;

/// How long the logger sleeps when every ring is empty.
const IDLE: Duration = Duration::from_millis(5);

/// One worker's ring towards the logger.
pub struct LogRing {
    q: ArrayQueue<LogEvent>,
    /// Events dropped because the ring was full, by service set index.
    dropped: Box<[AtomicU64]>,
    /// Events the shard itself dropped (its buffer filled between two drains).
    shard_dropped: AtomicU64,
}

impl Default for LogRing {
    fn default() -> Self {
        LogRing::new(RING_EVENTS)
    }
}

impl LogRing {
    /// A ring of `cap` events.
    pub fn new(cap: usize) -> LogRing {
        LogRing {
            q: ArrayQueue::new(cap.max(1)),
            dropped: (0..DROP_SLOTS).map(|_| AtomicU64::new(0)).collect(),
            shard_dropped: AtomicU64::new(0),
        }
    }

    /// Moves the events `shard` made into the ring (worker side: no lock, no allocation).
    pub fn take_from(&self, shard: &mut Shard) {
        for e in shard.drain_logs() {
            self.push(e);
        }
        let (_, lost) = shard.log_counts();
        self.shard_dropped.store(lost, Ordering::Relaxed);
    }

    /// Queues `e`, or counts it dropped when the ring is full.
    pub fn push(&self, e: LogEvent) {
        if self.q.push(e).is_err() {
            let i = (e.set as usize).min(DROP_SLOTS - 1);
            self.dropped[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Events the worker's shard dropped before they reached the ring.
    pub fn shard_dropped(&self) -> u64 {
        self.shard_dropped.load(Ordering::Relaxed)
    }

    /// Events dropped for service set `set` (ring full).
    pub fn dropped(&self, set: usize) -> u64 {
        self.dropped[set.min(DROP_SLOTS - 1)].load(Ordering::Relaxed)
    }
}

/// What the logger did, per service set name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyslogCounters {
    /// Lines sent (or written to the daemon's log for `host local`), per service set.
    pub sent: HashMap<String, u64>,
    /// Lines that could not be sent (socket errors), per service set.
    pub send_errors: HashMap<String, u64>,
    /// Lines the interface's `message-rate-limit` held back, per service set.
    pub rate_limited: HashMap<String, u64>,
}

/// Everything the logger thread needs.
pub struct Logger {
    pub rings: Vec<Arc<LogRing>>,
    /// The policy in force (the runtime swaps it on commit).
    pub policy: Arc<Mutex<Arc<Policy>>>,
    /// Wall-clock time of the workers' clock zero (their `Time` counts from it).
    pub epoch: SystemTime,
    pub counters: Arc<Mutex<SyslogCounters>>,
    pub stop: Arc<AtomicBool>,
}

impl Logger {
    /// Runs until `stop`, then sends what is left.
    pub fn run(self) {
        let mut out = Sender::default();
        let mut limiter = RateLimiter::default();
        let mut batch = Vec::new();
        loop {
            let stopping = self.stop.load(Ordering::Relaxed);
            for r in &self.rings {
                while let Some(e) = r.q.pop() {
                    batch.push(e);
                }
            }
            if batch.is_empty() {
                if stopping {
                    return;
                }
                std::thread::sleep(IDLE);
                continue;
            }
            batch.sort_by_key(|e| e.time);
            let policy = self
                .policy
                .lock()
                .map(|p| Arc::clone(&p))
                .unwrap_or_default();
            let mut c = self.counters.lock().map(|c| c.clone()).unwrap_or_default();
            for e in batch.drain(..) {
                self.send(&policy, e, (&mut out, &mut limiter), &mut c);
            }
            if let Ok(mut shared) = self.counters.lock() {
                *shared = c;
            }
        }
    }

    fn send(
        &self,
        p: &Policy,
        mut e: LogEvent,
        (out, limiter): (&mut Sender, &mut RateLimiter),
        c: &mut SyslogCounters,
    ) {
        e.time = wall_time(self.epoch, e.time);
        let set = p
            .service_sets
            .get(e.set as usize)
            .map_or_else(String::new, |s| s.name.clone());
        let mut buf = String::new();
        for_each_line(p, &e, &mut buf, limiter, |h, line| {
            let m = match line {
                None => &mut c.rate_limited,
                Some(l) if out.send(h, l) => &mut c.sent,
                Some(_) => &mut c.send_errors,
            };
            *m.entry(set.clone()).or_default() += 1;
        });
    }
}

/// A worker time (since the workers' clock zero) as Unix time.
fn wall_time(epoch: SystemTime, t: Time) -> Time {
    let base = epoch
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    Time(base.saturating_add(t.0))
}

/// UDP sockets by source address (`None`: the kernel picks), made on first use.
#[derive(Default)]
struct Sender {
    sockets: HashMap<(Option<IpAddr>, bool), UdpSocket>,
    warned: bool,
}

impl Sender {
    /// Sends `line` to `h`; false when it could not be sent.
    fn send(&mut self, h: &SyslogHost, line: &str) -> bool {
        let addr = match h.host {
            SyslogTarget::Local => {
                tracing::info!(target: "mspic::syslog", "{line}");
                return true;
            }
            SyslogTarget::Address(a) => a,
        };
        let port = h.port.unwrap_or(SyslogHost::DEFAULT_PORT);
        let key = (h.source_address, addr.is_ipv6());
        let sock = match self.sockets.entry(key) {
            std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => match bind(key.0, key.1) {
                Ok(s) => v.insert(s),
                Err(e) => return self.failed(&format!("cannot open a socket for {addr}: {e}")),
            },
        };
        match sock.send_to(line.as_bytes(), SocketAddr::new(addr, port)) {
            Ok(_) => true,
            Err(e) => self.failed(&format!("cannot send to {addr}:{port}: {e}")),
        }
    }

    /// Logs the first failure (the counters keep the rest).
    fn failed(&mut self, why: &str) -> bool {
        if !self.warned {
            self.warned = true;
            tracing::warn!("syslog: {why} (further failures are only counted)");
        }
        false
    }
}

fn bind(source: Option<IpAddr>, v6: bool) -> std::io::Result<UdpSocket> {
    let any = if v6 {
        IpAddr::V6(Ipv6Addr::UNSPECIFIED)
    } else {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    };
    UdpSocket::bind(SocketAddr::new(source.unwrap_or(any), 0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mspic_flow::syslog::LogKind;
    use mspic_wire::FlowKey;

    fn event(set: u16) -> LogEvent {
        let key = FlowKey {
            src: "10.0.0.5".parse().unwrap(),
            dst: "198.51.100.21".parse().unwrap(),
            src_port: 41671,
            dst_port: 80,
            proto: 6,
        };
        let mut e = LogEvent::new(Time(2_000_000_000), LogKind::SessionOpen, set, key);
        e.ingress = 0;
        e.nat_src = Some(("203.0.113.128".parse().unwrap(), 1024));
        e
    }

    #[test]
    fn a_full_ring_drops_and_counts_per_service_set() {
        let r = LogRing::new(2);
        for _ in 0..5 {
            r.push(event(1));
        }
        r.push(event(0));
        assert_eq!((r.dropped(0), r.dropped(1)), (1, 3));
        assert_eq!(std::iter::from_fn(|| r.q.pop()).count(), 2);
    }

    /// The logger thread sends one datagram per line to the host, stamped with the wall
    /// time of the workers' clock zero plus the event's time.
    #[test]
    fn the_logger_sends_each_line_as_one_datagram() {
        let collector = UdpSocket::bind("127.0.0.1:0").unwrap();
        collector
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let port = collector.local_addr().unwrap().port();
        let text = format!(
            "interfaces {{ ge-0/0/0 {{ unit 0 {{ family inet {{ service {{ input {{ service-set ss; }} }} address 10.0.0.1/24; }} }} }}
                 ms-1/1/0 {{ unit 0 {{ family inet; }} }} }}
             services {{ service-set ss {{ syslog {{ host 127.0.0.1 {{ port {port}; }} }}
                 interface-service {{ service-interface ms-1/1/0; }} }} }}"
        );
        let cfg = mspic_config::parse(&text, "t.conf").unwrap();
        let policy = Arc::new(Policy::compile(&cfg).unwrap());
        let ring = Arc::new(LogRing::new(8));
        ring.push(event(0));
        let stop = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(Mutex::new(SyslogCounters::default()));
        let logger = Logger {
            rings: vec![Arc::clone(&ring)],
            policy: Arc::new(Mutex::new(policy)),
            epoch: UNIX_EPOCH + Duration::from_secs(1_798_765_430),
            counters: Arc::clone(&counters),
            stop: Arc::clone(&stop),
        };
        let t = std::thread::spawn(move || logger.run());
        let mut buf = [0u8; 512];
        let n = collector.recv(&mut buf).unwrap();
        stop.store(true, Ordering::Relaxed);
        t.join().unwrap();
        assert_eq!(
            std::str::from_utf8(&buf[..n]).unwrap(),
            "<30>2027-01-01 01:03:52: {ss}[jservices-nat]: JSERVICES_SESSION_OPEN: application:none, ge-0/0/0.0 10.0.0.5:41671 [203.0.113.128:1024] -> 198.51.100.21:80 (TCP)"
        );
        assert_eq!(counters.lock().unwrap().sent.get("ss"), Some(&1));
    }
}

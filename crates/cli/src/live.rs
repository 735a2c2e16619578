//! The live engine: [`mspic_dataplane::runtime::Runtime`] (XDP steering into AF_XDP
//! sockets, one worker per receive queue, each owning a shard of the sessions) behind the
//! daemon's [`Engine`] trait. [`runtime_config`] is the one place the daemon's
//! configuration becomes a [`RuntimeConfig`].

use std::sync::Arc;

use mspic_control::Backend;
use mspic_dataplane::runtime::{
    PortConfig, Runtime, RuntimeBackend, RuntimeConfig, RuntimeCounters, RuntimeTuning,
};
use mspic_dataplane::worker::WorkerStats;
use mspic_dataplane::xdp::XdpMode;

use crate::daemon::{LiveOptions, XdpModeArg};
use crate::engine::{Engine, LoadedConfig, PortSpec};

/// The runtime configuration for `config` (its `emulator interface NAME device NETDEV`
/// statements become the ports, each receiving on the interface NAME) and the daemon's
/// options.
pub fn runtime_config(config: &LoadedConfig, options: &LiveOptions) -> RuntimeConfig {
    RuntimeConfig {
        ports: config
            .ports
            .iter()
            .map(|p| PortConfig {
                name: p.name.clone(),
                netdev: p.netdev.clone(),
                ingress: p.ingress,
            })
            .collect(),
        queues: options.queues,
        workers: options.workers,
        xdp_mode: match options.xdp_mode {
            XdpModeArg::Native => XdpMode::Native,
            XdpModeArg::Skb => XdpMode::Skb,
        },
        umem_frames: options.umem_frames,
        frame_size: options.frame_size,
        pin_cpus: options.pin_cpus,
    }
}

/// The running dataplane.
pub struct LiveEngine {
    runtime: Runtime,
    backend: RuntimeBackend,
    ports: Vec<PortSpec>,
    options: LiveOptions,
}

/// Starts the dataplane for `config`. The error is the dataplane's own one-line message
/// (missing device or queue, missing privilege, XDP attach failure, UMEM ENOBUFS with
/// the memlock hint, …).
pub fn start(config: &LoadedConfig, options: &LiveOptions) -> Result<Box<dyn Engine>, String> {
    let tuning = RuntimeTuning {
        handoff_depth: options.handoff_depth as usize,
        ..RuntimeTuning::default()
    };
    let runtime = Runtime::start_with(
        Arc::clone(&config.policy),
        runtime_config(config, options),
        tuning,
    )
    .map_err(|e| e.to_string())?;
    let backend = runtime.backend();
    Ok(Box::new(LiveEngine {
        runtime,
        backend,
        ports: config.ports.clone(),
        options: options.clone(),
    }))
}

/// The (interface, device) pairs of the ports: what a reload cannot change.
fn port_names(ports: &[PortSpec]) -> Vec<(&str, &str)> {
    ports
        .iter()
        .map(|p| (p.name.as_str(), p.netdev.as_str()))
        .collect()
}

impl Engine for LiveEngine {
    fn backend(&mut self) -> &mut dyn Backend {
        &mut self.backend
    }

    fn reload(&mut self, new: &LoadedConfig) -> Result<(), String> {
        if port_names(&new.ports) != port_names(&self.ports) {
            return Err(
                "the emulator interfaces (or their devices) differ from the running ones; restart mspicd to change them"
                    .to_string(),
            );
        }
        self.runtime
            .reload(Arc::clone(&new.policy))
            .map_err(|e| e.to_string())?;
        self.ports = new.ports.clone();
        Ok(())
    }

    fn stop(self: Box<Self>) -> Result<(), String> {
        let LiveEngine {
            runtime, backend, ..
        } = *self;
        drop(backend);
        runtime.stop().map_err(|e| e.to_string())
    }

    fn describe(&self) -> String {
        let o = &self.options;
        let ports: Vec<String> = self
            .ports
            .iter()
            .map(|p| format!("{} on {}", p.name, p.netdev))
            .collect();
        format!(
            "xdp {} mode, {} worker{}, {} queue{}, ports {}",
            match o.xdp_mode {
                XdpModeArg::Native => "native",
                XdpModeArg::Skb => "skb",
            },
            o.workers,
            if o.workers == 1 { "" } else { "s" },
            o.queues,
            if o.queues == 1 { "" } else { "s" },
            ports.join(", ")
        )
    }

    fn take_error(&mut self) -> Option<String> {
        self.backend.take_error()
    }

    fn status(&self) -> Vec<String> {
        let mut lines = status_lines(&self.runtime.counters());
        // Proves every UMEM frame is in exactly one place (asks every worker).
        lines.push(match self.backend.check() {
            Ok(()) => "frame accounting: balanced".to_string(),
            Err(e) => format!("frame accounting: ERROR {e}"),
        });
        lines
    }
}

/// The counter lines of `mspic ping` for the live engine (the last one, the frame
/// accounting check, is added by [`LiveEngine::status`]).
pub fn status_lines(c: &RuntimeCounters) -> Vec<String> {
    let t = c.total();
    let engine: u64 = t.drops.iter().map(|(_, n)| n).sum();
    let handoff = t.handoff_drop_full + t.handoff_drop_too_long + t.handoff_in_no_frame;
    let a = &t.arp;
    let l2 = a.drops();
    let mut lines = vec![format!(
        "frames: {} received, {} sent, {} forwarded, {} replies, {} dropped ({engine} by the engine, {handoff} at handoff, {l2} waiting for a next hop), {} handed to another worker",
        t.rx,
        t.tx,
        t.forwarded,
        t.replies,
        engine + handoff + l2,
        t.handoff_out
    )];
    lines.push(format!("sessions: {}", t.sessions));
    lines.push(format!(
        "shards: {} processed, {} to the PIC's addresses ({} echo replies), {} ARP frames; {} IPv6 frames kept by the PIC; {} TCP keep-alives sent ({} without a free frame)",
        t.processed, t.local, t.echo_replies, t.not_ip, t.ipv6_local.total(), t.generated, t.generated_dropped
    ));
    let v6 = &t.ipv6_local;
    lines.push(format!(
        "ipv6 kept: {} neighbor discovery, {} router discovery, {} MLD, {} link-local or multicast, {} to the PIC's addresses",
        v6.nd, v6.router, v6.mld, v6.link_scope, v6.to_pic
    ));
    lines.push(format!(
        "arp: {} requests in, {} replies in, {} ignored, {} replies sent, {} requests sent, {} rate limited",
        a.arp_requests_in,
        a.arp_replies_in,
        a.arp_ignored,
        a.arp_replies_sent,
        a.arp_requests_sent,
        a.arp_rate_limited
    ));
    lines.push(format!(
        "nd: {} solicitations in, {} advertisements in, {} ignored, {} advertisements sent, {} solicitations sent, {} rate limited",
        a.nd_solicitations_in,
        a.nd_advertisements_in,
        a.nd_ignored,
        a.nd_advertisements_sent,
        a.nd_solicitations_sent,
        a.nd_rate_limited
    ));
    lines.push(format!(
        "neighbors: {} learned, {} learned from other workers, {} aged, {} frames waited for resolution",
        a.learned, a.learned_remote, a.aged, a.queued
    ));
    let mut drops = t.drops.clone();
    drops.sort_by(|a, b| {
        b.1.cmp(&a.1)
            .then_with(|| format!("{:?}", a.0).cmp(&format!("{:?}", b.0)))
    });
    if !drops.is_empty() {
        let by: Vec<String> = drops.iter().map(|(r, n)| format!("{r:?} {n}")).collect();
        lines.push(format!("engine drops: {}", by.join(", ")));
    }
    lines.push(format!(
        "handoff: {} out, {} in, {} dropped for a full ring, {} too long, {} for want of a free frame; longest wait {} us",
        t.handoff_out,
        t.handoff_in,
        t.handoff_drop_full,
        t.handoff_drop_too_long,
        t.handoff_in_no_frame,
        t.handoff_max_delay_ns / 1000
    ));
    let f = &t.frames;
    let fill: u32 = f.fill.iter().sum();
    let pending: u32 = f.tx_pending.iter().sum();
    let sending: u32 = f.tx_kernel.iter().sum();
    lines.push(format!(
        "umem: {} frames, {} free, {} receiving, {} held, {} waiting to send, {} sending, {} in use",
        f.total,
        f.free,
        fill,
        f.held,
        pending,
        sending,
        f.held + pending + sending
    ));
    let x = &t.xsk;
    lines.push(format!(
        "sockets: kernel {} rx dropped, {} rx ring full, {} fill ring empty; {} tx dropped, {} frame allocation failures, {} ARP requests without a frame; kernel {} invalid tx descriptors",
        x.kernel_rx_dropped,
        x.kernel_rx_ring_full,
        x.kernel_fill_empty,
        x.tx_dropped,
        x.alloc_failures,
        t.arp_no_frame,
        x.kernel_tx_invalid
    ));
    if let Some(s) = &c.steering {
        lines.push(format!(
            "steering: {} seen, {} redirected, {} malformed, {} passed to the kernel",
            s.rx,
            s.redirected,
            s.parse_error,
            s.pass_no_socket + s.pass_no_port + s.pass_bad_queue + s.pass_other + s.meta_fail
        ));
    }
    lines.extend(accounting_lines(c, &t));
    lines
}

/// Every frame that reached the PIC's netdevs, by what became of it, and what became of
/// the frames handed to the sockets for sending; each identity with its difference, which
/// is 0 once the traffic has stopped (frames in flight make it positive meanwhile).
fn accounting_lines(c: &RuntimeCounters, t: &WorkerStats) -> Vec<String> {
    let mut lines = Vec::new();
    for n in &c.netdevs {
        lines.push(match &n.stats {
            Some(s) => format!(
                "netdev {}: {} frames received, {} rx dropped, {} rx missed, {} rx errors; {} frames sent, {} tx dropped, {} tx errors (kernel counters since start)",
                n.netdev,
                s.rx_packets,
                s.rx_dropped,
                s.rx_missed,
                s.rx_errors,
                s.tx_packets,
                s.tx_dropped,
                s.tx_errors
            ),
            None => format!("netdev {}: kernel counters unavailable", n.netdev),
        });
    }
    let x = &t.xsk;
    let f = &t.frames;
    let engine = t.dropped();
    let handoff = t.handoff_drop_full + t.handoff_drop_too_long + t.handoff_in_no_frame;
    let kernel = x.kernel_rx_dropped + x.kernel_rx_ring_full;
    if let Some(s) = &c.steering {
        let passed =
            s.pass_no_socket + s.pass_no_port + s.pass_bad_queue + s.pass_other + s.meta_fail;
        let fates = t.forwarded
            + t.replies
            + t.local
            + t.not_ip
            + t.ipv6_local.total()
            + passed
            + kernel
            + handoff
            + engine;
        lines.push(format!(
            "balance: {} frames seen = {} forwarded + {} replies + {} to the PIC's addresses + {} ARP + {} IPv6 kept + {} passed to the kernel + {} dropped by the kernel before a worker + {} dropped at handoff + {} dropped by the engine; difference {}",
            s.rx,
            t.forwarded,
            t.replies,
            t.local,
            t.not_ip,
            t.ipv6_local.total(),
            passed,
            kernel,
            handoff,
            engine,
            signed_difference(s.rx, fates)
        ));
        if c.netdevs.iter().all(|n| n.stats.is_some()) {
            let received: u64 = c
                .netdevs
                .iter()
                .filter_map(|n| n.stats.map(|s| s.rx_packets))
                .sum();
            lines.push(format!(
                "balance: {received} frames received by the netdevs = {} frames seen by the XDP program; difference {}",
                s.rx,
                signed_difference(received, s.rx)
            ));
        }
    }
    let pending: u64 = f.tx_pending.iter().map(|&n| u64::from(n)).sum();
    let sending: u64 = f.tx_kernel.iter().map(|&n| u64::from(n)).sum();
    let tx_dropped_kernel: u64 = c
        .netdevs
        .iter()
        .filter_map(|n| n.stats.map(|s| s.tx_dropped))
        .sum();
    let a = &t.arp;
    let l2_made = (a.arp_replies_sent
        + a.nd_advertisements_sent
        + a.arp_requests_sent
        + a.nd_solicitations_sent)
        .saturating_sub(t.arp_no_frame);
    let made = t.forwarded + t.replies + t.echo_replies + t.generated + l2_made;
    lines.push(format!(
        "balance: {made} frames to send ({} forwarded + {} replies + {} echo replies + {} keep-alives + {l2_made} ARP and ND) = {} handed to the sockets + {} dropped waiting for a next hop; difference {} (waiting for a next hop now)",
        t.forwarded,
        t.replies,
        t.echo_replies,
        t.generated,
        t.tx,
        a.drops(),
        signed_difference(made, t.tx + a.drops())
    ));
    lines.push(format!(
        "balance: {} frames handed to the sockets = {} completed + {} with the kernel + {} waiting for TX ring room + {} dropped for a full TX queue; difference {}; the netdevs dropped {} on sending",
        t.tx,
        x.completed,
        sending,
        pending,
        x.tx_dropped,
        signed_difference(t.tx, x.completed + sending + pending + x.tx_dropped),
        tx_dropped_kernel
    ));
    lines
}

/// `a - b` as a signed number.
fn signed_difference(a: u64, b: u64) -> String {
    if a >= b {
        (a - b).to_string()
    } else {
        format!("-{}", b - a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mspic_dataplane::netdev::NetdevStats;
    use mspic_dataplane::runtime::PortNetdev;
    use mspic_dataplane::xdp::SteerCounters;
    use mspic_flow::DropReason;

    fn balances(c: &RuntimeCounters) -> Vec<String> {
        status_lines(c)
            .into_iter()
            .filter(|l| l.starts_with("balance: "))
            .collect()
    }

    #[test]
    fn balances_add_up_and_show_what_is_missing() {
        let mut w = WorkerStats {
            rx: 96,
            forwarded: 80,
            replies: 1,
            local: 2,
            echo_replies: 2,
            not_ip: 3,
            handoff_drop_full: 4,
            drops: vec![(DropReason::NoRoute, 6)],
            tx: 84,
            ..WorkerStats::default()
        };
        w.arp.arp_replies_sent = 3;
        w.arp.arp_requests_sent = 1;
        w.arp.drop_resolution_timeout = 3;
        w.xsk.kernel_rx_dropped = 7;
        w.xsk.kernel_rx_ring_full = 1;
        w.xsk.completed = 80;
        w.xsk.tx_dropped = 1;
        w.frames.tx_kernel = vec![3];
        w.frames.tx_pending = vec![0];
        let mut c = RuntimeCounters {
            workers: vec![w],
            steering: Some(SteerCounters {
                rx: 106,
                redirected: 104,
                pass_other: 2,
                ..SteerCounters::default()
            }),
            netdevs: vec![PortNetdev {
                netdev: "pin".into(),
                stats: Some(NetdevStats {
                    rx_packets: 106,
                    rx_dropped: 8,
                    tx_packets: 83,
                    ..NetdevStats::default()
                }),
            }],
        };
        let b = balances(&c);
        assert_eq!(b.len(), 4, "{b:#?}");
        assert!(
            b[0].starts_with("balance: 106 frames seen = 80 forwarded + 1 replies + 2 to the PIC's addresses + 3 ARP + 0 IPv6 kept + 2 passed to the kernel + 8 dropped by the kernel before a worker + 4 dropped at handoff + 6 dropped by the engine;"),
            "{b:#?}"
        );
        for l in &b {
            assert!(l.contains("difference 0"), "{l}");
        }
        // A frame gone without a count, one the kernel took in without the program, one
        // waiting for a next hop, one the kernel has not given back.
        c.steering.as_mut().unwrap().rx += 1;
        if let Some(s) = c.netdevs[0].stats.as_mut() {
            s.rx_packets += 2;
        }
        c.workers[0].echo_replies += 1;
        c.workers[0].frames.tx_kernel = vec![2];
        let b = balances(&c);
        assert!(b[0].ends_with("difference 1"), "{}", b[0]);
        assert!(b[1].ends_with("difference 1"), "{}", b[1]);
        assert!(b[2].contains("difference 1 (waiting"), "{}", b[2]);
        assert!(b[3].contains("difference 1;"), "{}", b[3]);
        // Without readable netdev counters the second balance is left out.
        c.netdevs[0].stats = None;
        let lines = status_lines(&c);
        assert!(lines.contains(&"netdev pin: kernel counters unavailable".to_string()));
        assert_eq!(balances(&c).len(), 3);
    }

    #[test]
    fn config_maps_to_runtime_ports() {
        let text = "interfaces { ge-0/0/0 { unit 0 { family inet { address 10.0.0.1/24; } } } \
                    ge-0/0/1 { unit 0 { family inet { address 203.0.113.1/24; } } } } \
                    emulator { interface ge-0/0/1 device pout; interface ge-0/0/0 device pin; }";
        let config = LoadedConfig::from_text(text, "t.conf").unwrap();
        let options = LiveOptions {
            workers: 2,
            queues: 2,
            xdp_mode: XdpModeArg::Skb,
            umem_frames: 4096,
            frame_size: 4096,
            handoff_depth: 16,
            pin_cpus: true,
        };
        let rc = runtime_config(&config, &options);
        assert_eq!(
            rc.ports,
            vec![
                PortConfig {
                    name: "ge-0/0/1".into(),
                    netdev: "pout".into(),
                    ingress: config.policy.interface_by_name("ge-0/0/1").unwrap(),
                },
                PortConfig {
                    name: "ge-0/0/0".into(),
                    netdev: "pin".into(),
                    ingress: config.policy.interface_by_name("ge-0/0/0").unwrap(),
                },
            ]
        );
        assert_ne!(rc.ports[0].ingress, rc.ports[1].ingress);
        assert_eq!((rc.workers, rc.queues), (2, 2));
        assert_eq!(rc.xdp_mode, XdpMode::Skb);
        assert_eq!(
            (rc.umem_frames, rc.frame_size, rc.pin_cpus),
            (4096, 4096, true)
        );
    }
}

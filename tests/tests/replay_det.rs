//! Deterministic NAPT44 end to end: docs/examples/deterministic.conf replayed with
//! generated traffic of several subscribers and the built-in responder, through 1 and 3
//! shards. Every subscriber's ports lie in the block its address maps to (the same for
//! every shard count), the block's owner holds the session (replies come back), and the
//! deterministic-nat show commands answer both ways.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use mspic_flow::owner::block_owner;
use mspic_flow::SessionFilter;
use mspic_offline::replay::{Replay, ReplayOptions};
use mspic_tests::check::checksums_valid;
use mspic_tests::{Gen, Host, Sides, Trace};

const LOW: u16 = 1024;
const BLOCK: u16 = 2016;

fn example() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/examples/deterministic.conf"
    );
    std::fs::read_to_string(path).unwrap()
}

/// Six subscribers, each with UDP exchanges, a TCP conversation and pings.
fn traffic() -> Trace {
    let mut g = Gen::new(5);
    let mut t = Trace::new();
    for i in 0..6u8 {
        let start = Duration::from_millis(50 * u64::from(i));
        let cl = Host::inside([10, 0, 0, 2 + i]);
        let sv = Host::remote([198, 51, 100, 20 + i]);
        for j in 0..3u16 {
            g.udp_exchange(
                &mut t,
                &cl,
                &sv,
                40_000 + j,
                5300, // not DNS: the DNS ALG would close sessions on their answer
                start + Duration::from_millis(5 * u64::from(j)),
                2,
                40,
                80,
                Duration::from_millis(20),
                Sides::ClientOnly,
            );
        }
        g.tcp_conversation(
            &mut t,
            &cl,
            &sv,
            41_000,
            80,
            start + Duration::from_millis(30),
            200,
            2000,
            Sides::ClientOnly,
        );
        g.icmp_echo(
            &mut t,
            &cl,
            &sv,
            7,
            start,
            2,
            Duration::from_millis(10),
            Sides::ClientOnly,
        );
    }
    t
}

#[test]
fn subscribers_keep_to_their_computed_blocks() {
    for workers in [1u32, 3] {
        let cfg =
            mspic_config::parse(&example(), "deterministic.conf").unwrap_or_else(|e| panic!("{e}"));
        let policy = Arc::new(mspic_flow::Policy::compile(&cfg).unwrap());
        let mut r = Replay::new(
            Arc::clone(&policy),
            &ReplayOptions {
                workers,
                respond: true,
                ..Default::default()
            },
        )
        .unwrap();
        let trace = traffic();
        for f in trace.frames() {
            for o in r.process((trace.epoch() + f.ts).as_nanos() as u64, &f.data) {
                assert!(checksums_valid(&o.frame), "bad checksum");
            }
        }
        let sessions = mspic_control::Backend::sessions(&mut r, &SessionFilter::default());
        assert_eq!(sessions.len(), 6 * 5, "6 × (3 udp, tcp, icmp)");
        let mut blocks: HashMap<IpAddr, HashSet<(IpAddr, u16)>> = HashMap::new();
        let mut owner_of: HashMap<(IpAddr, u16), IpAddr> = HashMap::new();
        for s in &sessions {
            assert!(s.flows[1].frames > 0, "no reply on {s:?}");
            let src = s.nat.as_ref().and_then(|n| n.source).unwrap();
            // ICMP shows no port (its query id comes from the block as well).
            let Some(port) = src.translated.port else {
                continue;
            };
            assert!(port >= LOW);
            let block = (src.translated.addr, (port - LOW) / BLOCK);
            let host = src.original.addr;
            blocks.entry(host).or_default().insert(block);
            // A block belongs to one subscriber.
            assert_eq!(*owner_of.entry(block).or_insert(host), host, "block shared");
            // Its owner is the shard whose session this is (ids are shard + 1 + k·N).
            let shard = ((s.id - 1) % u64::from(workers)) as u32;
            assert_eq!(block_owner(port, LOW, BLOCK, workers), shard);
        }
        assert_eq!(blocks.len(), 6);
        // Subscriber 10.0.0.(2 + i) is offset 1 + i: address 0, block 1 + i.
        for (host, b) in &blocks {
            let IpAddr::V4(h) = host else { unreachable!() };
            let off = u16::from(h.octets()[3]) - 1;
            let want: HashSet<(IpAddr, u16)> = [("203.0.113.128".parse().unwrap(), off)]
                .into_iter()
                .collect();
            assert_eq!(b, &want, "{host}");
        }
        let by_host = mspic_control::execute(
            "show services nat deterministic-nat nat-port-block 10.0.0.4",
            &mut r,
        )
        .unwrap();
        assert_eq!(
            by_host,
            "Interface: ms-1/1/0, Service set: ss\n\
             NAT pool: public\n\
             Internal host: 10.0.0.4, NAT IP: 203.0.113.128, NAT port block: 7072-9087\n"
        );
        let by_port = mspic_control::execute(
            "show services nat deterministic-nat internal-host 203.0.113.128 port 9000",
            &mut r,
        )
        .unwrap();
        assert_eq!(by_host, by_port);
        let detail = mspic_control::execute("show services nat pool detail", &mut r).unwrap();
        assert!(
            detail.contains("Translation type: DETERMINISTIC-NAPT44"),
            "{detail}"
        );
    }
}

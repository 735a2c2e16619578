//! Secured port block allocation end to end: docs/examples/pba.conf replayed with generated
//! traffic of several subscribers and the built-in responder, through 1 and 3 shards. Every
//! subscriber's ports lie in its own blocks (at most max-blocks-per-address, never shared),
//! the block is owned by the shard holding the session (replies come back), and `show
//! services nat pool detail` counts blocks and users.

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
const BLOCK: u16 = 256;

fn example() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/examples/pba.conf");
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
fn subscribers_keep_to_their_blocks() {
    for workers in [1u32, 3] {
        let cfg = mspic_config::parse(&example(), "pba.conf").unwrap_or_else(|e| panic!("{e}"));
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
        assert!(blocks.values().all(|b| b.len() == 1), "{blocks:?}");
        let detail = mspic_control::execute("show services nat pool detail", &mut r).unwrap();
        assert!(
            detail.contains(
                "Port block type: Secured port block allocation, Port block size: 256\n\
                 Max number of port blocks per address: 4, Active block timeout: 300\n\
                 Effective port blocks: 32256, Effective ports: 8257536\n\
                 Current number of port blocks in use: 6, Max number of port blocks used: 6\n\
                 Port block allocation errors: 0, Port blocks limit exceeded errors: 0\n\
                 Pool users: 6\n"
            ),
            "{detail}"
        );
        let xml =
            mspic_control::execute("show services nat pool detail | display xml", &mut r).unwrap();
        assert!(xml.contains("<pool-users>6</pool-users>"), "{xml}");
    }
}

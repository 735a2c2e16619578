//! Port blocks end to end: docs/examples/pba.conf (secured port block allocation) and
//! docs/examples/deterministic.conf (deterministic NAPT44) replayed with generated traffic
//! of six subscribers and the built-in responder, through 1 and 3 shards. Every
//! subscriber's ports lie in its own blocks (never shared; for deterministic NAT the block
//! its address maps to, the same for every shard count), each block's owner is the shard
//! holding the session (replies come back), and the show commands count and name them.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;

use mspic_flow::owner::block_owner;
use mspic_flow::SessionFilter;
use mspic_offline::replay::{Replay, ReplayOptions};
use mspic_tests::check::checksums_valid;

/// First port of both example pools' range.
const LOW: u16 = 1024;

/// The blocks (pool address, block index) of each subscriber.
type Blocks = HashMap<IpAddr, HashSet<(IpAddr, u16)>>;

/// Replays six subscribers' traffic through docs/examples/`example` with `workers` shards;
/// checks every session was answered, no block is shared and each block's owner holds
/// the session; returns the replay and the blocks of each subscriber (of `block` ports).
fn replay(example: &str, workers: u32, block: u16) -> (Replay, Blocks) {
    let text = mspic_tests::live::repo_file(&format!("docs/examples/{example}"));
    let cfg = mspic_config::parse(&text, example).unwrap_or_else(|e| panic!("{e}"));
    let policy = Arc::new(mspic_flow::Policy::compile(&cfg).unwrap());
    let opts = ReplayOptions {
        workers,
        respond: true,
        ..Default::default()
    };
    let mut r = Replay::new(policy, &opts).unwrap();
    let trace = mspic_tests::mixed::subscribers_traffic(6);
    for f in trace.frames() {
        for o in r.process((trace.epoch() + f.ts).as_nanos() as u64, &f.data) {
            assert!(checksums_valid(&o.frame), "bad checksum");
        }
    }
    let sessions = mspic_control::Backend::sessions(&mut r, &SessionFilter::default());
    assert_eq!(sessions.len(), 6 * 5, "6 × (3 udp, tcp, icmp)");
    let mut blocks = Blocks::new();
    let mut owner_of: HashMap<(IpAddr, u16), IpAddr> = HashMap::new();
    for s in &sessions {
        assert!(s.flows[1].frames > 0, "no reply on {s:?}");
        let src = s.nat.as_ref().and_then(|n| n.source).unwrap();
        // ICMP shows no port (its query id comes from the block as well).
        let Some(port) = src.translated.port else {
            continue;
        };
        assert!(port >= LOW);
        let b = (src.translated.addr, (port - LOW) / block);
        let host = src.original.addr;
        blocks.entry(host).or_default().insert(b);
        // A block belongs to one subscriber.
        assert_eq!(*owner_of.entry(b).or_insert(host), host, "block shared");
        // Its owner is the shard whose session this is (ids are shard + 1 + k·N).
        let shard = ((s.id - 1) % u64::from(workers)) as u32;
        assert_eq!(block_owner(port, LOW, block, workers), shard);
    }
    assert_eq!(blocks.len(), 6);
    (r, blocks)
}

#[test]
fn pba_subscribers_keep_to_their_blocks() {
    for workers in [1u32, 3] {
        let (mut r, blocks) = replay("pba.conf", workers, 256);
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

#[test]
fn deterministic_subscribers_keep_to_their_computed_blocks() {
    for workers in [1u32, 3] {
        let (mut r, blocks) = replay("deterministic.conf", workers, 2016);
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

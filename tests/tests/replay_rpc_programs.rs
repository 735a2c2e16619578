//! `rpc-program-number` in `mspic replay`: a generated two-sided capture of a Sun RPC
//! portmapper lookup over TCP (GETPORT, RFC 1833 §3.2, in RFC 5531 §11 records) and the
//! client's connection to the port the reply names, through a firewall that accepts only
//! the predefined `junos-sun-rpc-mountd` (program 100005). A lookup of mountd opens the
//! pinhole and the connection becomes the lookup's child; a lookup of NFS (100003) passes,
//! opens nothing, is counted as not admitted, and the connection is discarded.

use std::sync::Arc;
use std::time::Duration;

use mspic_flow::{FlowState, FLAG_ALG_CHILD};
use mspic_offline::replay::{Replay, ReplayOptions};
use mspic_tests::{Gen, Host, Peer, Sides, Trace};

const CONFIG: &str = r#"
interfaces {
    ge-0/0/0 { unit 0 { family inet {
        service { input { service-set ss; } output { service-set ss; } }
        address 10.0.0.1/24;
    } } }
    ge-0/0/1 { unit 0 { family inet { address 203.0.113.1/24; } } }
    ms-1/1/0 { unit 0 { family inet; } }
}
routing-options { static { route 198.51.100.0/24 next-hop 203.0.113.2; } }
services {
    stateful-firewall {
        rule r {
            match-direction input;
            term rpc { from { applications junos-sun-rpc-mountd; } then { accept; } }
        }
    }
    service-set ss {
        stateful-firewall-rules r;
        interface-service { service-interface ms-1/1/0; }
    }
}
"#;

/// The port the portmapper answers with.
const PROGRAM_PORT: u16 = 20048;

fn words(w: &[u32]) -> Vec<u8> {
    w.iter().flat_map(|x| x.to_be_bytes()).collect()
}

/// A TCP record (RFC 5531 §11), last fragment.
fn record(m: &[u8]) -> Vec<u8> {
    [
        (0x8000_0000u32 | m.len() as u32).to_be_bytes().to_vec(),
        m.to_vec(),
    ]
    .concat()
}

/// The lookup of `prog` version 3 over TCP and its answer, then a connection to the port.
fn capture(prog: u32) -> Trace {
    let mut g = Gen::new(u64::from(prog));
    let mut t = Trace::new();
    let (client, server) = (Host::inside([10, 0, 0, 2]), Host::remote([198, 51, 100, 7]));
    let mut c = g.tcp_connect(
        &mut t,
        &client,
        &server,
        800,
        111,
        Duration::ZERO,
        Sides::Both,
    );
    // CALL xid 7: rpcvers 2, PMAP_PROG 100000 v2, GETPORT (3), AUTH_NONE ×2, then
    // (prog, vers, prot, port).
    let call = words(&[7, 0, 2, 100_000, 2, 3, 0, 0, 0, 0, prog, 3, 6, 0]);
    g.tcp_send(&mut t, &mut c, Peer::Client, &record(&call));
    // REPLY xid 7: MSG_ACCEPTED, AUTH_NONE verifier, SUCCESS, the port.
    let reply = words(&[7, 1, 0, 0, 0, 0, u32::from(PROGRAM_PORT)]);
    g.tcp_send(&mut t, &mut c, Peer::Server, &record(&reply));
    g.tcp_close(&mut t, &mut c, Peer::Client);
    let start = t.end() + Duration::from_millis(10);
    g.tcp_syn_only(&mut t, &client, &server, 810, PROGRAM_PORT, start, 1);
    t
}

fn replay(t: &Trace) -> Replay {
    let cfg = mspic_config::parse(CONFIG, "rpc.conf").unwrap();
    let policy = Arc::new(mspic_flow::Policy::compile(&cfg).unwrap());
    let mut r = Replay::new(policy, &ReplayOptions::default()).unwrap();
    for f in t.frames() {
        r.process((t.epoch() + f.ts).as_nanos() as u64, &f.data);
    }
    r
}

#[test]
fn only_the_applications_program_gets_a_pinhole() {
    for (prog, admitted) in [(100_005, true), (100_003, false)] {
        let mut r = replay(&capture(prog));
        let filter = mspic_flow::SessionFilter {
            destination_port: Some(PROGRAM_PORT),
            ..Default::default()
        };
        let child = mspic_control::Backend::sessions(&mut r, &filter);
        assert_eq!(child.len(), 1, "program {prog}");
        let child = &child[0];
        if admitted {
            assert_ne!(child.flags & FLAG_ALG_CHILD, 0, "program {prog}");
            assert_eq!(child.flows[0].state, FlowState::Forward, "program {prog}");
        } else {
            assert_eq!(child.flags & FLAG_ALG_CHILD, 0, "program {prog}");
            assert_eq!(child.flows[0].state, FlowState::Drop, "program {prog}");
        }
        let stats = mspic_control::execute(
            "show services stateful-firewall statistics extensive",
            &mut r,
        )
        .unwrap();
        let line = format!(
            "Programs or interfaces not admitted: {}",
            u32::from(!admitted)
        );
        assert!(stats.contains(&line), "program {prog}: {stats}");
        let created = format!("Created: {}", u32::from(admitted));
        assert!(stats.contains(&created), "program {prog}: {stats}");
    }
}

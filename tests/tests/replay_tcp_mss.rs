//! `tcp-mss` in replay: generated TCP conversations (SYNs announcing MSS 1460) through a
//! service set with `tcp-mss 1400` and the built-in responder, through 1 and 3 workers:
//! every SYN leaves with MSS 1400 and valid checksums, and `show services service-sets
//! statistics tcp-mss` counts the SYNs seen and lowered.

use std::sync::Arc;
use std::time::Duration;

use mspic_offline::replay::{Replay, ReplayOptions};
use mspic_tests::check::checksums_valid;
use mspic_tests::{Gen, Host, Sides, Trace};

fn config() -> String {
    let c = mspic_tests::live::repo_file("docs/examples/testbed.conf");
    let c = c.replacen(
        "        nat-rules snat;\n",
        "        nat-rules snat;\n        tcp-mss 1400;\n",
        1,
    );
    assert!(c.contains("tcp-mss 1400;"), "{c}");
    c
}

/// The MSS option of a TCP SYN, if it has one.
fn mss(frame: &[u8]) -> Option<u16> {
    let p = etherparse::SlicedPacket::from_ethernet(frame).ok()?;
    let Some(etherparse::TransportSlice::Tcp(t)) = p.transport else {
        return None;
    };
    if !t.syn() {
        return None;
    }
    t.options_iterator().find_map(|o| match o {
        Ok(etherparse::TcpOptionElement::MaximumSegmentSize(m)) => Some(m),
        _ => None,
    })
}

#[test]
fn syns_leave_with_the_service_sets_mss() {
    let mut g = Gen::new(5);
    let mut t = Trace::new();
    for i in 0..4u8 {
        g.tcp_conversation(
            &mut t,
            &Host::inside([10, 0, 0, 2 + i]),
            &Host::remote([198, 51, 100, 20 + i]),
            42_000 + u16::from(i),
            80,
            Duration::from_millis(50 * u64::from(i)),
            200,
            2000,
            Sides::ClientOnly,
        );
    }
    let cfg = mspic_config::parse(&config(), "mss.conf").unwrap();
    let policy = Arc::new(mspic_flow::Policy::compile(&cfg).unwrap());
    for workers in [1, 3] {
        let opts = ReplayOptions {
            workers,
            respond: true,
            ..ReplayOptions::default()
        };
        let mut r = Replay::new(Arc::clone(&policy), &opts).unwrap();
        let mut syns = Vec::new();
        for f in t.frames() {
            assert_eq!(
                mss(&f.data).unwrap_or(1460),
                1460,
                "the capture announces 1460"
            );
            for o in r.process((t.epoch() + f.ts).as_nanos() as u64, &f.data) {
                assert!(checksums_valid(&o.frame));
                syns.extend(mss(&o.frame));
            }
        }
        // Each conversation's SYN; the responder's SYN-ACKs carry no MSS option.
        assert_eq!(syns, [1400; 4], "{workers} workers");
        let text = mspic_control::execute("show services service-sets statistics tcp-mss", &mut r)
            .unwrap();
        assert_eq!(
            text,
            "Interface   Service Set         SYN Received   SYN Modified\nms-1/1/0    ss                  8              4\n",
            "{workers} workers"
        );
    }
}

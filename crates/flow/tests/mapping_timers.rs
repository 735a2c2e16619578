//! NAT mapping timers in virtual time (Junos "mapping-timeout", "ei-mapping-timeout" and
//! "app-mapping-timeout (Services NAT)"): an endpoint-independent mapping, and a paired
//! pooling subscriber's address, outlive the last session by their pool's timeout — kept
//! and reused just before it, gone at it. The expected timeout of each row is written
//! down from the statements, not read from the compiled policy.

use std::net::{IpAddr, Ipv4Addr};

use mspic_config::TranslationType;
use mspic_flow::nat::{NatPolicy, NatState, SessionNat, Translate};
use mspic_wire::{proto, FlowKey};

const SEC: u64 = 1_000_000_000;
/// The subscriber whose mappings the rows follow.
const HOST: [u8; 4] = [10, 0, 0, 2];

/// A policy with one NAPT pool of four addresses (round-robin, so a second allocation
/// without pairing moves on to the next address) and the pool's extra statements.
fn policy(pool_extra: &str) -> NatPolicy {
    let text = format!(
        "services {{ nat {{ pool p {{ address 203.0.113.128/30; port {{ automatic; }} address-allocation round-robin; {pool_extra} }} }} }}"
    );
    let c = mspic_config::parse(&text, "t").unwrap();
    NatPolicy::compile(&c).unwrap()
}

fn translate(eim: bool, paired: bool) -> Translate {
    Translate {
        kind: TranslationType::Napt44,
        src_pool: Some(0),
        dst_pool: None,
        src_prefix: None,
        dst_prefix: None,
        static_src_from: None,
        static_dst_from: None,
        eim,
        eif: false,
        paired,
        port_map: Box::new([]),
        det: None,
        nat64: None,
    }
}

fn key(src_port: u16) -> FlowKey {
    FlowKey {
        src: IpAddr::V4(Ipv4Addr::from(HOST)),
        dst: "198.51.100.7".parse().unwrap(),
        src_port,
        dst_port: 53,
        proto: proto::UDP,
    }
}

/// The translated source of a session.
fn external(nat: &SessionNat) -> (IpAddr, u16) {
    nat.rewrite[0].src.expect("source translated")
}

/// One row: the pool's statements, the term's mapping kind, and how long (s) the mapping
/// should outlive its last session.
struct Row {
    name: &'static str,
    pool_extra: &'static str,
    eim: bool,
    paired: bool,
    timeout: u64,
}

const ROWS: &[Row] = &[
    Row {
        name: "eim, default 300 s",
        pool_extra: "",
        eim: true,
        paired: false,
        timeout: 300,
    },
    Row {
        name: "eim, mapping-timeout",
        pool_extra: "mapping-timeout 600;",
        eim: true,
        paired: false,
        timeout: 600,
    },
    Row {
        name: "eim, ei-mapping-timeout replaces mapping-timeout",
        pool_extra: "mapping-timeout 600; ei-mapping-timeout 150;",
        eim: true,
        paired: false,
        timeout: 150,
    },
    Row {
        name: "eim, app-mapping-timeout does not apply",
        pool_extra: "app-mapping-timeout 900;",
        eim: true,
        paired: false,
        timeout: 300,
    },
    Row {
        name: "paired, default 300 s",
        pool_extra: "",
        eim: false,
        paired: true,
        timeout: 300,
    },
    Row {
        name: "paired, mapping-timeout",
        pool_extra: "mapping-timeout 600;",
        eim: false,
        paired: true,
        timeout: 600,
    },
    Row {
        name: "paired, app-mapping-timeout replaces mapping-timeout",
        pool_extra: "mapping-timeout 600; app-mapping-timeout 1200;",
        eim: false,
        paired: true,
        timeout: 1200,
    },
    Row {
        name: "paired, ei-mapping-timeout does not apply",
        pool_extra: "ei-mapping-timeout 150;",
        eim: false,
        paired: true,
        timeout: 300,
    },
];

/// Mappings the row's kind keeps: EIM mappings, or paired addresses.
fn mappings(st: &NatState, row: &Row) -> usize {
    if row.eim {
        st.eim_mappings().count()
    } else {
        st.address_mappings()
    }
}

#[test]
fn mappings_outlive_their_last_session_by_the_pool_timeout() {
    for row in ROWS {
        let p = policy(row.pool_extra);
        let mut st = NatState::new(&p, 0, 1);
        let t = translate(row.eim, row.paired);
        // EIM reuses the internal endpoint; pairing is per host, so a new port.
        let second_port = if row.eim { 4000 } else { 4001 };
        let a = st.translate(&p, 0, &t, &key(4000), 0).unwrap();
        let first = external(&a);
        st.release(&p, &a, 10 * SEC);
        let just_before = (10 + row.timeout - 1) * SEC;
        st.expire_mappings(&p, just_before);
        assert_eq!(
            mappings(&st, row),
            1,
            "{}: kept before the timeout",
            row.name
        );

        // Reused within the timeout: same mapping (EIM) or same address (paired).
        let b = st
            .translate(&p, 0, &t, &key(second_port), just_before)
            .unwrap();
        if row.eim {
            assert_eq!(external(&b), first, "{}: EIM reused", row.name);
        } else {
            assert_eq!(
                external(&b).0,
                first.0,
                "{}: paired address reused",
                row.name
            );
        }
        // The timer restarts at the last release.
        let released = just_before + SEC;
        st.release(&p, &b, released);
        st.expire_mappings(&p, released + row.timeout * SEC - 1);
        assert_eq!(mappings(&st, row), 1, "{}: kept again", row.name);
        st.expire_mappings(&p, released + row.timeout * SEC);
        assert_eq!(mappings(&st, row), 0, "{}: gone at the timeout", row.name);
        assert_eq!(
            st.pool_stats(0).unwrap().ports_in_use,
            0,
            "{}: ports back",
            row.name
        );

        // After it: a fresh allocation, on the next address (round-robin).
        let c = st
            .translate(&p, 0, &t, &key(4002), released + row.timeout * SEC)
            .unwrap();
        assert_ne!(external(&c).0, first.0, "{}: new mapping", row.name);
    }
}

/// A session still open keeps a paired mapping whatever the time.
#[test]
fn paired_mapping_in_use_never_expires() {
    let p = policy("app-mapping-timeout 120;");
    let mut st = NatState::new(&p, 0, 1);
    let t = translate(false, true);
    let a = st.translate(&p, 0, &t, &key(4000), 0).unwrap();
    let b = st.translate(&p, 0, &t, &key(4001), 0).unwrap();
    st.release(&p, &a, SEC);
    st.expire_mappings(&p, 10_000 * SEC);
    assert_eq!(st.address_mappings(), 1);
    let c = st.translate(&p, 0, &t, &key(4002), 10_000 * SEC).unwrap();
    assert_eq!(external(&c).0, external(&b).0);
}

/// EIM and paired pooling together: the EIM mapping holds the host's port for
/// `ei-mapping-timeout`, and only then does the pairing's `app-mapping-timeout` start.
#[test]
fn paired_timer_starts_when_the_eim_mapping_ends() {
    let p = policy("ei-mapping-timeout 150; app-mapping-timeout 1200;");
    let mut st = NatState::new(&p, 0, 1);
    let t = translate(true, true);
    let a = st.translate(&p, 0, &t, &key(4000), 0).unwrap();
    st.release(&p, &a, 0);
    st.expire_mappings(&p, 150 * SEC);
    assert_eq!(st.eim_mappings().count(), 0, "EIM mapping gone");
    assert_eq!(st.address_mappings(), 1, "pairing kept");
    st.expire_mappings(&p, (150 + 1200) * SEC - 1);
    assert_eq!(
        st.address_mappings(),
        1,
        "pairing kept until its own timeout"
    );
    st.expire_mappings(&p, (150 + 1200) * SEC);
    assert_eq!(st.address_mappings(), 0, "pairing gone");
}

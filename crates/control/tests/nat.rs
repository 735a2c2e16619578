//! NAT pool, NAT mappings, NAT statistics and service-set summary renderers, through a backend
//! that provides their data.

use mspic_control::{
    execute, Backend, BackendError, ClearedSessions, DetNatBlock, DetNatQuery, NatAddressMapping,
    NatMapping, NatMappingsSummary, NatPoolInfo, NatStatistics, PortBlockInfo, ServiceSetsSummary,
};
use mspic_flow::{SessionFilter, SessionSnapshot, SfwStats};

mod agree;

struct Full;

impl Backend for Full {
    fn sessions(&mut self, _: &SessionFilter) -> Vec<SessionSnapshot> {
        Vec::new()
    }
    fn clear_sessions(&mut self, _: &SessionFilter) -> Vec<ClearedSessions> {
        Vec::new()
    }
    fn sfw_statistics(&mut self) -> Vec<(String, SfwStats)> {
        Vec::new()
    }
    fn nat_pools(&mut self, _: Option<&str>) -> Result<Vec<NatPoolInfo>, BackendError> {
        Ok(vec![
            NatPoolInfo {
                interface: "ms-1/1/0".into(),
                service_set: "ss1".into(),
                pool: "p2".into(),
                translation_type: "DYNAMIC NAT44".into(),
                address_ranges: vec!["198.51.100.0-198.51.100.15".into()],
                port_range: None,
                addresses_in_use: 2,
                available_addresses: 14,
                ..Default::default()
            },
            NatPoolInfo {
                interface: "ms-1/1/0".into(),
                service_set: "ss1".into(),
                pool: "p1".into(),
                translation_type: "NAPT-44".into(),
                address_ranges: vec!["203.0.113.128-203.0.113.255".into()],
                port_range: Some("1024-65535".into()),
                addresses_in_use: 3,
                available_addresses: 0,
                ports_in_use: 7,
                max_ports_in_use: 9,
                out_of_address_errors: 0,
                out_of_port_errors: 0,
                port_blocks: None,
            },
            NatPoolInfo {
                interface: "ms-1/1/0".into(),
                service_set: "ss1".into(),
                pool: "p3".into(),
                translation_type: "NAPT-44".into(),
                address_ranges: vec!["192.0.2.0-192.0.2.3".into()],
                port_range: Some("1024-2047".into()),
                addresses_in_use: 2,
                available_addresses: 2,
                ports_in_use: 5,
                max_ports_in_use: 6,
                out_of_address_errors: 0,
                out_of_port_errors: 1,
                port_blocks: Some(PortBlockInfo {
                    deterministic: false,
                    detnat_subscriber_exceeded_port_limits: 0,
                    block_size: 256,
                    max_blocks_per_address: 2,
                    active_block_timeout: 120,
                    effective_port_blocks: 16,
                    effective_ports: 4096,
                    blocks_in_use: 3,
                    max_blocks_used: 4,
                    allocation_errors: 0,
                    limit_exceeded_errors: 1,
                    pool_users: 2,
                }),
            },
            NatPoolInfo {
                interface: "ms-1/1/0".into(),
                service_set: "ss1".into(),
                pool: "det".into(),
                translation_type: "DETERMINISTIC-NAPT44".into(),
                address_ranges: vec!["203.0.113.128-203.0.113.143".into()],
                port_range: Some("1024-65535".into()),
                addresses_in_use: 1,
                available_addresses: 15,
                ports_in_use: 24,
                max_ports_in_use: 28,
                out_of_address_errors: 0,
                out_of_port_errors: 2,
                port_blocks: Some(PortBlockInfo {
                    deterministic: true,
                    block_size: 2016,
                    effective_port_blocks: 512,
                    effective_ports: 1_032_192,
                    blocks_in_use: 4,
                    max_blocks_used: 5,
                    pool_users: 4,
                    detnat_subscriber_exceeded_port_limits: 2,
                    ..Default::default()
                }),
            },
        ])
    }
    fn detnat(&mut self, q: DetNatQuery) -> Result<Vec<DetNatBlock>, BackendError> {
        let block = DetNatBlock {
            interface: "ms-1/1/0".into(),
            service_set: "ss1".into(),
            pool: "det".into(),
            internal: "10.0.0.77".parse().unwrap(),
            nat_ip: "203.0.113.129".parse().unwrap(),
            port_low: 13120,
            port_high: 14127,
        };
        let hit = match q {
            DetNatQuery::Host(h) => h == block.internal,
            DetNatQuery::NatPort(a, p) => {
                a == block.nat_ip && (block.port_low..=block.port_high).contains(&p)
            }
        };
        Ok(if hit { vec![block] } else { Vec::new() })
    }
    fn nat_mappings_summary(&mut self) -> Result<Vec<NatMappingsSummary>, BackendError> {
        Ok(vec![NatMappingsSummary {
            interface: "ms-1/1/0".into(),
            address_mappings: 3,
            eim_port_mappings: 7,
            eif_filters: 7,
        }])
    }
    fn nat_mappings(&mut self) -> Result<Vec<NatMapping>, BackendError> {
        let m = |int: &str, ip: u16, ext: &str, ep: u16, n: u64| NatMapping {
            interface: "ms-1/1/0".into(),
            service_set: "ss1".into(),
            pool: "p1".into(),
            protocol: 17,
            internal_address: int.parse().unwrap(),
            internal_port: ip,
            external_address: ext.parse().unwrap(),
            external_port: ep,
            session_count: n,
        };
        Ok(vec![
            m("11.1.1.2", 5060, "60.1.1.1", 63082, 2),
            m("10.0.0.2", 4000, "203.0.113.128", 1024, 0),
        ])
    }
    fn nat_address_mappings(&mut self) -> Result<Vec<NatAddressMapping>, BackendError> {
        let m = |set: &str, pool: &str, int: &str, ext: &str, n: u64| NatAddressMapping {
            interface: "ms-1/1/0".into(),
            service_set: set.into(),
            pool: pool.into(),
            internal_address: int.parse().unwrap(),
            external_address: ext.parse().unwrap(),
            ports_in_use: n,
        };
        Ok(vec![
            m("ss2", "p3", "10.0.1.9", "192.0.2.1", 1),
            m("ss1", "p1", "11.1.1.2", "60.1.1.1", 2),
            m("ss1", "p1", "10.0.0.7", "203.0.113.129", 0),
        ])
    }
    fn nat_statistics(&mut self) -> Result<Vec<NatStatistics>, BackendError> {
        Ok(vec![NatStatistics {
            interface: "ms-1/1/0".into(),
            counters: vec![
                ("nat-total-session-create".into(), 12),
                ("nat-total-pkts-translated".into(), 3456),
            ],
        }])
    }
    fn service_sets_summary(&mut self) -> Result<Vec<ServiceSetsSummary>, BackendError> {
        Ok(vec![ServiceSetsSummary {
            interface: "ms-2/2/0".into(),
            service_sets_configured: 4,
            bytes_used: 1_553_115_152,
            percent_bytes_used: 13.45,
            policy_bytes_used: 3_565_120,
            percent_policy_bytes_used: 0.33,
            cpu_utilization_percent: 1.42,
        }])
    }
}

fn run(cmd: &str) -> String {
    execute(cmd, &mut Full).unwrap_or_else(|e| panic!("{cmd}: {e}"))
}

/// Junos page "show services nat pool": the detail of a pool with secured port block
/// allocation adds its port block fields (p3).
#[test]
fn nat_pool_text() {
    insta::assert_snapshot!("nat_pool", run("show services nat pool"));
    insta::assert_snapshot!("nat_pool_detail", run("show services nat pool detail"));
    assert_eq!(
        run("show services nat pool p1 detail"),
        "Interface: ms-1/1/0, Service set: ss1\n\
         NAT pool: p1, Translation type: NAPT-44\n\
         Address range: 203.0.113.128-203.0.113.255\n\
         Port range: 1024-65535\n\
         Available addresses: 0\n\
         Out of address errors: 0, Addresses in use: 3\n\
         Ports in use: 7, Out of port errors: 0, Max ports in use: 9\n"
    );
}

#[test]
fn nat_mappings_and_statistics_text() {
    assert_eq!(
        run("show services nat mappings summary"),
        "Service Interface:                                   ms-1/1/0\n\
         Total number of address mappings:                    3\n\
         Total number of endpoint independent port mappings:  7\n\
         Total number of endpoint independent filters:        7\n"
    );
    insta::assert_snapshot!("nat_statistics", run("show services nat statistics"));
    assert_eq!(run("show services nat statistics interface ms-9/9/9"), "");
}

#[test]
fn nat_mappings_detail_text() {
    let detail = run("show services nat mappings detail");
    // The reference layout's mapping lines, byte for byte.
    assert!(detail.contains(
        "Mapping          : 11.1.1.2        : 5060  --> 60.1.1.1     : 63082\n\
         Session Count    :     2\n\
         Mapping State    : Active\n"
    ));
    insta::assert_snapshot!("nat_mappings_detail", detail);
    insta::assert_snapshot!(
        "nat_mappings_brief",
        run("show services nat mappings brief")
    );
    insta::assert_snapshot!(
        "nat_mappings_detail_xml",
        run("show services nat mappings detail | display xml")
    );
    let json = run("show services nat mappings detail | display json");
    let _: serde_json::Value = serde_json::from_str(&json).unwrap();
}

/// Junos "show services nat mappings" (`<brief | detail | summary> <pool-name>`; the bare
/// command shows the detail) and the `get-service-nat-mapping-endpoint-independent` and
/// `get-service-nat-mapping-address-pooling-paired` RPCs of the Junos RPC table: per
/// interface, service set and pool, the paired-pooling `Address Mapping` blocks, then the
/// endpoint-independent `Mapping` blocks.
#[test]
fn nat_mappings_variants() {
    let detail = run("show services nat mappings detail");
    assert_eq!(run("show services nat mappings"), detail);
    assert!(detail.contains(
        "Address Mapping  : 10.0.0.7        --> 203.0.113.129\n\
         Ports In Use     :     0\n\
         Mapping State    : Inactive\n"
    ));
    insta::assert_snapshot!("nat_mappings_pool_p1", run("show services nat mappings p1"));
    assert_eq!(
        run("show services nat mappings detail p1"),
        run("show services nat mappings p1")
    );
    assert_eq!(
        run("show services nat mappings brief p3"),
        "Interface: ms-1/1/0, Service set: ss2\n\n\
         NAT pool: p3\n\n\
         Address Mapping  : 10.0.1.9        --> 192.0.2.1\n"
    );
    assert_eq!(run("show services nat mappings nosuchpool"), "");
    insta::assert_snapshot!(
        "nat_mappings_endpoint_independent",
        run("show services nat mappings endpoint-independent")
    );
    insta::assert_snapshot!(
        "nat_mappings_address_pooling_paired",
        run("show services nat mappings address-pooling-paired")
    );
    insta::assert_snapshot!(
        "nat_mappings_address_pooling_paired_xml",
        run("show services nat mappings address-pooling-paired | display xml")
    );
    insta::assert_snapshot!(
        "nat_mappings_endpoint_independent_json",
        run("show services nat mappings endpoint-independent | display json")
    );
    insta::assert_snapshot!(
        "nat_mappings_brief_p1_rpc",
        run("show services nat mappings brief p1 | display xml rpc")
    );
    for cmd in [
        "show services nat mappings p1",
        "show services nat mappings brief",
        "show services nat mappings endpoint-independent",
        "show services nat mappings address-pooling-paired",
    ] {
        let (xml, json) = (
            run(&format!("{cmd} | display xml")),
            run(&format!("{cmd} | display json")),
        );
        agree::check(cmd, &run(cmd), &xml, &json, &["nat-mapping-protocol"]);
    }
}

#[test]
fn service_sets_summary_text() {
    assert_eq!(
        run("show services service-sets summary"),
        "Interface      Service sets    Bytes used              Policy bytes used       CPU\n               \
         configured                                                      utilization\n\
         ms-2/2/0       4               1553115152 (13.45%)     3565120 ( 0.33%)        1.42 %\n"
    );
}

#[test]
fn xml_and_json() {
    for (cmd, not_in_text) in [
        ("show services nat pool", &[][..]),
        ("show services nat pool detail", &[]),
        ("show services nat mappings summary", &[]),
        // The mapping lines of the Junos text do not name the protocol.
        (
            "show services nat mappings detail",
            &["nat-mapping-protocol"],
        ),
        (
            "show services nat mappings brief",
            &["nat-mapping-protocol"],
        ),
        ("show services nat statistics", &[]),
        ("show services service-sets summary", &[]),
    ] {
        let (xml, json) = (
            run(&format!("{cmd} | display xml")),
            run(&format!("{cmd} | display json")),
        );
        agree::check(cmd, &run(cmd), &xml, &json, not_in_text);
    }
    insta::assert_snapshot!(
        "nat_pool_detail_xml",
        run("show services nat pool detail | display xml")
    );
    insta::assert_snapshot!(
        "nat_pool_detail_json",
        run("show services nat pool detail | display json")
    );
    insta::assert_snapshot!(
        "nat_mappings_summary_xml",
        run("show services nat mappings summary | display xml")
    );
    insta::assert_snapshot!(
        "service_sets_summary_xml",
        run("show services service-sets summary | display xml")
    );
    insta::assert_snapshot!(
        "nat_statistics_json",
        run("show services nat statistics | display json")
    );
}

/// `show services nat deterministic-nat nat-port-block` and `… internal-host` (Junos
/// pages of those commands; XML names as the `get-service-detnat-pb-information` /
/// `get-service-detnat-information` replies, `service-detnat-information`): both
/// directions of one subscriber's block, in text, XML and JSON.
#[test]
fn deterministic_nat_queries() {
    let by_host = run("show services nat deterministic-nat nat-port-block 10.0.0.77");
    let by_port = run("show services nat deterministic-nat internal-host 203.0.113.129 port 13500");
    assert_eq!(by_host, by_port);
    insta::assert_snapshot!("detnat_port_block", by_host);
    insta::assert_snapshot!(
        "detnat_port_block_xml",
        run("show services nat deterministic-nat nat-port-block 10.0.0.77 | display xml")
    );
    insta::assert_snapshot!(
        "detnat_internal_host_json",
        run("show services nat deterministic-nat internal-host 203.0.113.129 port 13500 | display json")
    );
    assert_eq!(
        run("show services nat deterministic-nat internal-host 203.0.113.129 port 1000"),
        ""
    );
    for cmd in [
        "show services nat deterministic-nat nat-port-block 10.0.0.77",
        "show services nat deterministic-nat internal-host 203.0.113.129 port 13500",
    ] {
        let (xml, json) = (
            run(&format!("{cmd} | display xml")),
            run(&format!("{cmd} | display json")),
        );
        agree::check(cmd, &run(cmd), &xml, &json, &[]);
    }
    for (bad, why) in [
        (
            "show services nat deterministic-nat nat-port-block x",
            "an IP address",
        ),
        (
            "show services nat deterministic-nat internal-host 203.0.113.129",
            "port",
        ),
        (
            "show services nat deterministic-nat internal-host 203.0.113.129 port 70000",
            "port number",
        ),
    ] {
        let e = execute(bad, &mut Full).unwrap_err().to_string();
        assert!(e.contains(why), "{bad}: {e}");
    }
}

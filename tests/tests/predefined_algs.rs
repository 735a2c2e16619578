//! The ALG of every predefined `junos-*` application term, and of the `ike-esp-nat` and
//! `ras` keywords, against the ALG registry: a term's first packet gets a plugin from
//! `mspic_alg::registry()`, except for the application protocols mspic has no plugin for
//! (listed here, and checked to still have none: the session then shows `ALG: <name>`
//! and is handled as plain TCP/UDP).

use mspic_config::{AppProtocol, AppTerm};
use mspic_wire::FlowKey;

/// Keywords with no plugin, for these protocols (a plugin added later must be removed
/// from here: the test checks the registry still refuses them).
const WITHOUT_PLUGIN: &[(AppProtocol, u8)] = &[
    (AppProtocol::H323, 6),
    (AppProtocol::Ras, 17),
    (AppProtocol::Snmp, 17),
    (AppProtocol::Realaudio, 6),
    (AppProtocol::Winframe, 6),
    (AppProtocol::Netbios, 17),
    (AppProtocol::DceRpcPortmap, 17),
    (AppProtocol::Dns, 6),
    (AppProtocol::Traceroute, 17),
];

/// A first packet the term fits: its protocol, its lowest destination port.
fn first_key(t: &AppTerm) -> FlowKey {
    FlowKey {
        src: "10.0.0.2".parse().unwrap(),
        dst: "198.51.100.7".parse().unwrap(),
        src_port: 40000,
        dst_port: t.destination_port.map_or(0, |r| r.low),
        proto: t.protocol.expect("predefined terms name their protocol"),
    }
}

#[test]
fn every_predefined_alg_has_a_plugin_or_is_listed_without_one() {
    let registry = mspic_alg::registry();
    let mut seen_without = Vec::new();
    for a in mspic_config::predefined::applications() {
        for t in &a.terms {
            let Some(p) = t.application_protocol else {
                continue;
            };
            let key = first_key(t);
            let plugin = registry.create(p, &key, &Default::default()).is_some();
            let listed = WITHOUT_PLUGIN.contains(&(p, key.proto));
            assert_ne!(
                plugin, listed,
                "{} term {:?}: {p:?} over {}",
                a.name, t.name, key.proto
            );
            if listed {
                seen_without.push((p, key.proto));
            }
        }
    }
    for entry in WITHOUT_PLUGIN {
        assert!(
            seen_without.contains(entry),
            "{entry:?} is used by no predefined term"
        );
    }
}

#[test]
fn ike_esp_nat_and_ras_are_application_protocols() {
    for (kw, p) in [
        ("ike-esp-nat", AppProtocol::IkeEspNat),
        ("ras", AppProtocol::Ras),
    ] {
        assert_eq!(AppProtocol::from_keyword(kw), Some(p));
        assert_eq!(p.keyword(), kw);
    }
    let ike = FlowKey {
        src: "10.0.0.2".parse().unwrap(),
        dst: "198.51.100.7".parse().unwrap(),
        src_port: 500,
        dst_port: 500,
        proto: 17,
    };
    assert!(mspic_alg::registry()
        .create(AppProtocol::IkeEspNat, &ike, &Default::default())
        .is_some());
}

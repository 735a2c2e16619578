//! The predefined `junos-*` applications and application sets (Junos's hidden
//! `junos-defaults` group), appended to every [`Config`](crate::Config).
//!
//! Junos defines `junos-sip` as one application with a UDP and a TCP term. The model's
//! applications have a single protocol, so `junos-sip` is a predefined *application set* of
//! `junos-sip-udp` and `junos-sip-tcp`; a term's `applications [ junos-sip ]` resolves to both
//! (terms may name sets in `applications`, as on Junos).

use crate::model::{AppProtocol, Application, ApplicationSet, PortRange};

use mspic_wire::proto::{GRE, ICMP, ICMPV6 as ICMP6, TCP, UDP};

struct Def {
    name: &'static str,
    alg: Option<AppProtocol>,
    protocol: u8,
    port: Option<u16>,
    icmp_type: Option<u8>,
}

const fn d(name: &'static str, alg: Option<AppProtocol>, protocol: u8, port: Option<u16>) -> Def {
    Def {
        name,
        alg,
        protocol,
        port,
        icmp_type: None,
    }
}

use AppProtocol as P;

const DEFS: &[Def] = &[
    d("junos-ftp", Some(P::Ftp), TCP, Some(21)),
    d("junos-tftp", Some(P::Tftp), UDP, Some(69)),
    d("junos-dns-udp", Some(P::Dns), UDP, Some(53)),
    d("junos-dns-tcp", Some(P::Dns), TCP, Some(53)),
    d("junos-sip-udp", Some(P::Sip), UDP, Some(5060)),
    d("junos-sip-tcp", Some(P::Sip), TCP, Some(5060)),
    d("junos-rtsp", Some(P::Rtsp), TCP, Some(554)),
    d("junos-pptp", Some(P::Pptp), TCP, Some(1723)),
    d("junos-rpc-portmap-tcp", Some(P::RpcPortmap), TCP, Some(111)),
    d("junos-rpc-portmap-udp", Some(P::RpcPortmap), UDP, Some(111)),
    d(
        "junos-dce-rpc-portmap",
        Some(P::DceRpcPortmap),
        TCP,
        Some(135),
    ),
    d("junos-sqlnet-v1", Some(P::Sqlnet), TCP, Some(1525)),
    d("junos-sqlnet-v2", Some(P::Sqlnet), TCP, Some(1521)),
    d("junos-talk", Some(P::Talk), UDP, Some(517)),
    d("junos-ntalk", Some(P::Talk), UDP, Some(518)),
    d("junos-rsh", Some(P::Rsh), TCP, Some(514)),
    d("junos-h323", Some(P::H323), TCP, Some(1720)),
    d("junos-snmp-get", Some(P::Snmp), UDP, Some(161)),
    d("junos-icmp-all", Some(P::Icmp), ICMP, None),
    Def {
        name: "junos-icmp-ping",
        alg: Some(P::Icmp),
        protocol: ICMP,
        port: None,
        icmp_type: Some(8),
    },
    Def {
        name: "junos-ping",
        alg: Some(P::Icmp),
        protocol: ICMP,
        port: None,
        icmp_type: Some(8),
    },
    d("junos-icmp6-all", Some(P::Icmpv6), ICMP6, None),
    Def {
        name: "junos-icmp6-echo-request",
        alg: Some(P::Icmpv6),
        protocol: ICMP6,
        port: None,
        icmp_type: Some(128),
    },
    d("junos-http", None, TCP, Some(80)),
    d("junos-https", None, TCP, Some(443)),
    d("junos-ssh", None, TCP, Some(22)),
    d("junos-telnet", None, TCP, Some(23)),
    d("junos-smtp", None, TCP, Some(25)),
    d("junos-pop3", None, TCP, Some(110)),
    d("junos-imap", None, TCP, Some(143)),
    d("junos-ldap", None, TCP, Some(389)),
    d("junos-bgp", None, TCP, Some(179)),
    d("junos-netbios-session", None, TCP, Some(139)),
    d("junos-ntp", None, UDP, Some(123)),
    d("junos-syslog", None, UDP, Some(514)),
    d("junos-radius", None, UDP, Some(1812)),
    d("junos-ike", None, UDP, Some(500)),
    d("junos-ike-nat", None, UDP, Some(4500)),
    d("junos-gre", None, GRE, None),
    d("junos-tcp-any", None, TCP, None),
    d("junos-udp-any", None, UDP, None),
];

/// Predefined application sets: (name, member applications).
const SETS: &[(&str, &[&str])] = &[
    ("junos-sip", &["junos-sip-udp", "junos-sip-tcp"]),
    ("junos-dns", &["junos-dns-udp", "junos-dns-tcp"]),
    (
        "junos-rpc-portmap",
        &["junos-rpc-portmap-tcp", "junos-rpc-portmap-udp"],
    ),
];

/// Every predefined `junos-*` application.
pub fn applications() -> Vec<Application> {
    DEFS.iter()
        .map(|d| Application {
            name: d.name.to_string(),
            application_protocol: d.alg,
            protocol: Some(d.protocol),
            source_port: None,
            destination_port: d.port.map(PortRange::single),
            icmp_type: d.icmp_type,
            icmp_code: None,
            inactivity_timeout: None,
            rpc_program_number: None,
            uuid: None,
            predefined: true,
        })
        .collect()
}

/// Every predefined `junos-*` application set.
pub fn application_sets() -> Vec<ApplicationSet> {
    SETS.iter()
        .map(|(name, members)| ApplicationSet {
            name: name.to_string(),
            applications: members.iter().map(|m| m.to_string()).collect(),
            application_sets: Vec::new(),
            predefined: true,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_sets_resolve() {
        let apps = applications();
        let mut names: Vec<_> = apps.iter().map(|a| a.name.as_str()).collect();
        let sets = application_sets();
        names.extend(sets.iter().map(|s| s.name.as_str()));
        let n = names.len();
        names.sort();
        names.dedup();
        assert_eq!(n, names.len());
        for s in &sets {
            for m in &s.applications {
                assert!(apps.iter().any(|a| &a.name == m), "{m}");
            }
        }
    }
}

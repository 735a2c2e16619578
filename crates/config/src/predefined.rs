//! The predefined `junos-*` applications and application sets (Junos's hidden
//! `junos-defaults` group), appended to every [`Config`](crate::Config).
//!
//! Applications Junos defines with several terms (`junos-sip`: UDP and TCP; `junos-h323`:
//! H.225 call signalling and RAS; `junos-realaudio`: two ports) have them here too, so a
//! session gets the ALG and timeout of the first term that fits.
//!
//! Sources: `show groups junos-defaults` (Junos command reference, "show groups
//! junos-defaults" and "Using Junos OS Defaults Groups") for the form and the ALG of each
//! application; "Predefined Policy Applications" (Junos security policies) for the ports of
//! realaudio, winframe, irc, the NetBIOS name and datagram services and the MS-RPC endpoint
//! mapper, and the Sun RPC programs and MS-RPC (Exchange) interfaces with their
//! `rpc-program-number` / `uuid`; the port names of the `destination-port` page for the
//! rest. A Sun RPC program application is the portmapper conversation (TCP and UDP 111,
//! ALG `rpc`) whose lookups may open that program's port only; an MS-RPC interface
//! application the endpoint mapper conversation (TCP 135, ALG `dce-rpc`) whose lookups may
//! open that interface's port only: the program's own sessions are the pinholes' children.
//! Not here yet: the applications whose terms need a statement mspic ignores
//! (`junos-snmp-*` but `junos-snmp-get`: `snmp-command`) and the `junos-algs-outbound` set.

use crate::model::{AppProtocol, AppTerm, Application, ApplicationSet, PortRange};

use mspic_wire::proto::{GRE, ICMP, ICMPV6 as ICMP6, TCP, UDP};

/// One term of a predefined application.
struct T {
    alg: Option<AppProtocol>,
    protocol: u8,
    ports: Option<(u16, u16)>,
    icmp_type: Option<u8>,
    ttl_threshold: Option<u8>,
    /// `rpc-program-number` (Sun RPC applications).
    rpc: Option<(u32, u32)>,
    /// `uuid` (MS-RPC applications).
    uuid: Option<&'static str>,
}

/// A term of `protocol`, destination ports `lo`–`hi`, ALG `alg`.
const fn t(alg: Option<AppProtocol>, protocol: u8, lo: u16, hi: u16) -> T {
    T {
        alg,
        protocol,
        ports: Some((lo, hi)),
        icmp_type: None,
        ttl_threshold: None,
        rpc: None,
        uuid: None,
    }
}

/// A term of `protocol` on any port (or a protocol without ports).
const fn any(alg: Option<AppProtocol>, protocol: u8) -> T {
    T {
        alg,
        protocol,
        ports: None,
        icmp_type: None,
        ttl_threshold: None,
        rpc: None,
        uuid: None,
    }
}

/// An ICMP (or ICMPv6) term of one type.
const fn icmp(alg: AppProtocol, protocol: u8, icmp_type: u8) -> T {
    T {
        alg: Some(alg),
        protocol,
        ports: None,
        icmp_type: Some(icmp_type),
        ttl_threshold: None,
        rpc: None,
        uuid: None,
    }
}

/// A traceroute term (UDP 33435–33450) with its TTL threshold.
const fn traceroute(ttl: u8) -> T {
    T {
        alg: Some(AppProtocol::Traceroute),
        protocol: UDP,
        ports: Some((33435, 33450)),
        icmp_type: None,
        ttl_threshold: Some(ttl),
        rpc: None,
        uuid: None,
    }
}

/// A Sun RPC term: the portmapper conversation on `protocol` port 111 (ALG `rpc`) whose
/// lookups may open pinholes for program `prog` only.
const fn sun_rpc(protocol: u8, prog: u32) -> T {
    T {
        alg: Some(AppProtocol::Rpc),
        protocol,
        ports: Some((111, 111)),
        icmp_type: None,
        ttl_threshold: None,
        rpc: Some((prog, prog)),
        uuid: None,
    }
}

/// An MS-RPC term: the endpoint mapper conversation on TCP 135 (ALG `dce-rpc`) whose
/// lookups may open pinholes for interface `uuid` only.
const fn ms_rpc(uuid: &'static str) -> T {
    T {
        alg: Some(AppProtocol::DceRpc),
        protocol: TCP,
        ports: Some((135, 135)),
        icmp_type: None,
        ttl_threshold: None,
        rpc: None,
        uuid: Some(uuid),
    }
}

use AppProtocol as P;

/// Applications: (name, terms). One term: written without `term` on Junos too; several:
/// named `t1`, `t2`, … as in `show groups junos-defaults`.
const DEFS: &[(&str, &[T])] = &[
    ("junos-ftp", &[t(Some(P::Ftp), TCP, 21, 21)]),
    ("junos-tftp", &[t(Some(P::Tftp), UDP, 69, 69)]),
    ("junos-dns-udp", &[t(Some(P::Dns), UDP, 53, 53)]),
    ("junos-dns-tcp", &[t(Some(P::Dns), TCP, 53, 53)]),
    (
        "junos-sip",
        &[
            t(Some(P::Sip), UDP, 5060, 5060),
            t(Some(P::Sip), TCP, 5060, 5060),
        ],
    ),
    ("junos-rtsp", &[t(Some(P::Rtsp), TCP, 554, 554)]),
    ("junos-pptp", &[t(Some(P::Pptp), TCP, 1723, 1723)]),
    (
        "junos-rpc-portmap-tcp",
        &[t(Some(P::RpcPortmap), TCP, 111, 111)],
    ),
    (
        "junos-rpc-portmap-udp",
        &[t(Some(P::RpcPortmap), UDP, 111, 111)],
    ),
    (
        "junos-dce-rpc-portmap",
        &[t(Some(P::DceRpcPortmap), TCP, 135, 135)],
    ),
    ("junos-sqlnet-v1", &[t(Some(P::Sqlnet), TCP, 1525, 1525)]),
    ("junos-sqlnet-v2", &[t(Some(P::Sqlnet), TCP, 1521, 1521)]),
    ("junos-talk", &[t(Some(P::Talk), UDP, 517, 517)]),
    ("junos-ntalk", &[t(Some(P::Talk), UDP, 518, 518)]),
    ("junos-rsh", &[t(Some(P::Rsh), TCP, 514, 514)]),
    (
        "junos-h323",
        &[
            t(Some(P::H323), TCP, 1720, 1720),
            t(Some(P::Ras), UDP, 1719, 1719),
        ],
    ),
    (
        "junos-realaudio",
        &[
            t(Some(P::Realaudio), TCP, 554, 554),
            t(Some(P::Realaudio), TCP, 7070, 7070),
        ],
    ),
    ("junos-winframe", &[t(Some(P::Winframe), TCP, 1494, 1494)]),
    ("junos-nbname", &[t(Some(P::Netbios), UDP, 137, 137)]),
    ("junos-nbds", &[t(Some(P::Netbios), UDP, 138, 138)]),
    (
        "junos-ms-rpc-epm",
        &[
            t(Some(P::DceRpcPortmap), TCP, 135, 135),
            t(Some(P::DceRpcPortmap), UDP, 135, 135),
        ],
    ),
    ("junos-irc", &[t(None, TCP, 6660, 6669)]),
    // Sun RPC programs ("Predefined Policy Applications", Sun RPC table): TCP and UDP.
    (
        "junos-sun-rpc-portmap-tcp",
        &[t(Some(P::RpcPortmap), TCP, 111, 111)],
    ),
    (
        "junos-sun-rpc-portmap-udp",
        &[t(Some(P::RpcPortmap), UDP, 111, 111)],
    ),
    (
        "junos-sun-rpc-nfs",
        &[
            sun_rpc(TCP, 100_003),
            sun_rpc(UDP, 100_003),
            sun_rpc(TCP, 100_227),
            sun_rpc(UDP, 100_227),
        ],
    ),
    (
        "junos-sun-rpc-mountd",
        &[sun_rpc(TCP, 100_005), sun_rpc(UDP, 100_005)],
    ),
    (
        "junos-sun-rpc-nlockmgr",
        &[sun_rpc(TCP, 100_021), sun_rpc(UDP, 100_021)],
    ),
    (
        "junos-sun-rpc-status",
        &[sun_rpc(TCP, 100_024), sun_rpc(UDP, 100_024)],
    ),
    (
        "junos-sun-rpc-rquotad",
        &[sun_rpc(TCP, 100_011), sun_rpc(UDP, 100_011)],
    ),
    (
        "junos-sun-rpc-rstatd",
        &[sun_rpc(TCP, 100_001), sun_rpc(UDP, 100_001)],
    ),
    (
        "junos-sun-rpc-rusersd",
        &[sun_rpc(TCP, 100_002), sun_rpc(UDP, 100_002)],
    ),
    (
        "junos-sun-rpc-sprayd",
        &[sun_rpc(TCP, 100_012), sun_rpc(UDP, 100_012)],
    ),
    (
        "junos-sun-rpc-walld",
        &[sun_rpc(TCP, 100_008), sun_rpc(UDP, 100_008)],
    ),
    (
        "junos-sun-rpc-ypbind",
        &[sun_rpc(TCP, 100_007), sun_rpc(UDP, 100_007)],
    ),
    (
        "junos-sun-rpc-ypserv",
        &[sun_rpc(TCP, 100_004), sun_rpc(UDP, 100_004)],
    ),
    // MS-RPC interfaces ("Predefined Policy Applications", Microsoft table).
    (
        "junos-ms-rpc-msexchange-database",
        &[ms_rpc("1a190310-bb9c-11cd-90f8-00aa00466520")],
    ),
    (
        "junos-ms-rpc-msexchange-directory",
        &[
            ms_rpc("f5cc5a18-4264-101a-8c59-08002b2f8426"),
            ms_rpc("f5cc5a7c-4264-101a-8c59-08002b2f8426"),
            ms_rpc("f5cc59b4-4264-101a-8c59-08002b2f8426"),
        ],
    ),
    (
        "junos-ms-rpc-msexchange-info-store",
        &[
            ms_rpc("0e4a0156-dd5d-11d2-8c2f-00c04fb6bcde"),
            ms_rpc("1453c42c-0fa6-11d2-a910-00c04f990f3b"),
            ms_rpc("10f24e8e-0fa6-11d2-a910-00c04f990f3b"),
            ms_rpc("1544f5e0-613c-11d1-93df-00c04fd7bd09"),
        ],
    ),
    ("junos-traceroute", &[traceroute(30)]),
    ("junos-traceroute-ttl-1", &[traceroute(1)]),
    ("junos-snmp-get", &[t(Some(P::Snmp), UDP, 161, 161)]),
    ("junos-icmp-all", &[any(Some(P::Icmp), ICMP)]),
    ("junos-icmp-ping", &[icmp(P::Icmp, ICMP, 8)]),
    ("junos-ping", &[icmp(P::Icmp, ICMP, 8)]),
    ("junos-icmp6-all", &[any(Some(P::Icmpv6), ICMP6)]),
    ("junos-icmp6-echo-request", &[icmp(P::Icmpv6, ICMP6, 128)]),
    ("junos-http", &[t(None, TCP, 80, 80)]),
    ("junos-https", &[t(None, TCP, 443, 443)]),
    ("junos-ssh", &[t(None, TCP, 22, 22)]),
    ("junos-telnet", &[t(None, TCP, 23, 23)]),
    ("junos-smtp", &[t(None, TCP, 25, 25)]),
    ("junos-pop3", &[t(None, TCP, 110, 110)]),
    ("junos-imap", &[t(None, TCP, 143, 143)]),
    ("junos-ldap", &[t(None, TCP, 389, 389)]),
    ("junos-bgp", &[t(None, TCP, 179, 179)]),
    ("junos-netbios-session", &[t(None, TCP, 139, 139)]),
    ("junos-ntp", &[t(None, UDP, 123, 123)]),
    ("junos-syslog", &[t(None, UDP, 514, 514)]),
    ("junos-radius", &[t(None, UDP, 1812, 1812)]),
    ("junos-radacct", &[t(None, UDP, 1813, 1813)]),
    ("junos-rip", &[t(None, UDP, 520, 520)]),
    ("junos-ldp-tcp", &[t(None, TCP, 646, 646)]),
    ("junos-ldp-udp", &[t(None, UDP, 646, 646)]),
    ("junos-tacacs", &[t(None, TCP, 49, 49)]),
    ("junos-printer", &[t(None, TCP, 515, 515)]),
    ("junos-nfsd-tcp", &[t(None, TCP, 2049, 2049)]),
    ("junos-nfsd-udp", &[t(None, UDP, 2049, 2049)]),
    ("junos-ike", &[t(None, UDP, 500, 500)]),
    ("junos-ike-nat", &[t(None, UDP, 4500, 4500)]),
    ("junos-gre", &[any(None, GRE)]),
    ("junos-tcp-any", &[any(None, TCP)]),
    ("junos-udp-any", &[any(None, UDP)]),
];

/// Predefined application sets: (name, member applications).
const SETS: &[(&str, &[&str])] = &[
    ("junos-dns", &["junos-dns-udp", "junos-dns-tcp"]),
    (
        "junos-rpc-portmap",
        &["junos-rpc-portmap-tcp", "junos-rpc-portmap-udp"],
    ),
    (
        "junos-sun-rpc-portmap",
        &["junos-sun-rpc-portmap-tcp", "junos-sun-rpc-portmap-udp"],
    ),
    (
        "junos-ms-rpc-msexchange",
        &[
            "junos-ms-rpc-msexchange-database",
            "junos-ms-rpc-msexchange-directory",
            "junos-ms-rpc-msexchange-info-store",
        ],
    ),
];

fn term(name: Option<String>, t: &T) -> AppTerm {
    AppTerm {
        name,
        application_protocol: t.alg,
        protocol: Some(t.protocol),
        destination_port: t.ports.map(|(low, high)| PortRange { low, high }),
        icmp_type: t.icmp_type,
        ttl_threshold: t.ttl_threshold,
        rpc_program_number: t.rpc,
        uuid: t.uuid.map(str::to_string),
        ..AppTerm::default()
    }
}

/// Every predefined `junos-*` application.
pub fn applications() -> Vec<Application> {
    DEFS.iter()
        .map(|(name, terms)| Application {
            name: name.to_string(),
            terms: match terms {
                [one] => vec![term(None, one)],
                many => many
                    .iter()
                    .enumerate()
                    .map(|(i, x)| term(Some(format!("t{}", i + 1)), x))
                    .collect(),
            },
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

//! Keyword tables: IP protocol names, well-known port names, ICMP type names.
//!
//! One definition for each: the parser reads them and the printers write them from here.

/// IP protocol keywords accepted by `protocol` (Junos's list): the one table lives in
/// `mspic_wire::proto`.
pub use mspic_wire::proto::KEYWORDS as IP_PROTOCOLS;

/// The number of an IP protocol keyword (`tcp` → 6).
pub fn ip_protocol_from_keyword(s: &str) -> Option<u8> {
    mspic_wire::proto::from_keyword(s)
}

/// The keyword of an IP protocol number, when it has one (6 → `tcp`).
pub fn ip_protocol_keyword(n: u8) -> Option<&'static str> {
    mspic_wire::proto::keyword(n)
}

/// Port names accepted where Junos takes a port (`destination-port http`).
pub const PORT_NAMES: [(&str, u16); 72] = [
    ("afs", 1483),
    ("bgp", 179),
    ("biff", 512),
    ("bootpc", 68),
    ("bootps", 67),
    ("cmd", 514),
    ("cvspserver", 2401),
    ("dhcp", 67),
    ("domain", 53),
    ("dns", 53),
    ("eklogin", 2105),
    ("ekshell", 2106),
    ("exec", 512),
    ("finger", 79),
    ("ftp", 21),
    ("ftp-data", 20),
    ("h323", 1720),
    ("http", 80),
    ("https", 443),
    ("ident", 113),
    ("ike", 500),
    ("imap", 143),
    ("kerberos-sec", 88),
    ("klogin", 543),
    ("kpasswd", 761),
    ("krb-prop", 754),
    ("krbupdate", 760),
    ("kshell", 544),
    ("ldap", 389),
    ("ldp", 646),
    ("login", 513),
    ("mobileip-agent", 434),
    ("mobilip-mn", 435),
    ("msdp", 639),
    ("netbios-dgm", 138),
    ("netbios-ns", 137),
    ("netbios-ssn", 139),
    ("nfsd", 2049),
    ("nntp", 119),
    ("ntalk", 518),
    ("ntp", 123),
    ("pop3", 110),
    ("pptp", 1723),
    ("printer", 515),
    ("radacct", 1813),
    ("radius", 1812),
    ("rip", 520),
    ("rkinit", 2108),
    ("rsh", 514),
    ("rtsp", 554),
    ("sip", 5060),
    ("smtp", 25),
    ("snmp", 161),
    ("snmptrap", 162),
    ("snpp", 444),
    ("socks", 1080),
    ("sqlnet-v1", 1525),
    ("sqlnet-v2", 1521),
    ("ssh", 22),
    ("sunrpc", 111),
    ("syslog", 514),
    ("tacacs", 49),
    ("tacacs-ds", 65),
    ("talk", 517),
    ("telnet", 23),
    ("tftp", 69),
    ("timed", 525),
    ("who", 513),
    ("xdmcp", 177),
    ("zephyr-clt", 2103),
    ("zephyr-hm", 2104),
    ("zephyr-srv", 2102),
];

/// The number of a well-known port name (`http` → 80).
pub fn port_from_name(s: &str) -> Option<u16> {
    PORT_NAMES.iter().find(|(n, _)| *n == s).map(|(_, v)| *v)
}

/// ICMP type names accepted by `icmp-type`.
pub const ICMP_TYPES: [(&str, u8); 15] = [
    ("echo-reply", 0),
    ("unreachable", 3),
    ("source-quench", 4),
    ("redirect", 5),
    ("echo-request", 8),
    ("router-advertisement", 9),
    ("router-solicit", 10),
    ("time-exceeded", 11),
    ("parameter-problem", 12),
    ("timestamp", 13),
    ("timestamp-reply", 14),
    ("info-request", 15),
    ("info-reply", 16),
    ("mask-request", 17),
    ("mask-reply", 18),
];

/// ICMPv6 type names accepted by `icmp6-type`.
pub const ICMP6_TYPES: [(&str, u8); 10] = [
    ("destination-unreachable", 1),
    ("packet-too-big", 2),
    ("time-exceeded", 3),
    ("parameter-problem", 4),
    ("echo-request", 128),
    ("echo-reply", 129),
    ("router-solicit", 133),
    ("router-advertisement", 134),
    ("neighbor-solicit", 135),
    ("neighbor-advertisement", 136),
];

/// ICMP code names accepted by `icmp-code` (unreachable and time-exceeded codes).
pub const ICMP_CODES: [(&str, u8); 14] = [
    ("network-unreachable", 0),
    ("host-unreachable", 1),
    ("protocol-unreachable", 2),
    ("port-unreachable", 3),
    ("fragmentation-needed", 4),
    ("source-route-failed", 5),
    ("destination-network-unknown", 6),
    ("destination-host-unknown", 7),
    ("source-host-isolated", 8),
    ("destination-network-prohibited", 9),
    ("destination-host-prohibited", 10),
    ("communication-prohibited-by-filtering", 13),
    ("ttl-eq-zero-during-transit", 0),
    ("ttl-eq-zero-during-reassembly", 1),
];

/// `allow-ip-options` keywords and their values (numbers 0–255 are accepted too), from the
/// "allow-ip-options (Services)" page: `any` is 0; `ip-security` and `ip-stream` are also
/// written `security` and `stream-id`. A value names an option by its type octet (130,
/// 148) or by its option number (3, 4, 7, 8, 9: the type's low five bits).
pub const IP_OPTIONS: [(&str, u8); 10] = [
    ("any", 0),
    ("ip-security", 130),
    ("ip-stream", 8),
    ("loose-source-route", 3),
    ("route-record", 7),
    ("router-alert", 148),
    ("security", 130),
    ("stream-id", 8),
    ("strict-source-route", 9),
    ("timestamp", 4),
];

/// The value of an `allow-ip-options` entry: a keyword of [`IP_OPTIONS`] or a number.
pub fn ip_option_value(s: &str) -> Option<u8> {
    lookup(&IP_OPTIONS, s).or_else(|| s.parse().ok())
}

pub(crate) fn lookup(table: &[(&str, u8)], s: &str) -> Option<u8> {
    table.iter().find(|(n, _)| *n == s).map(|(_, v)| *v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocols_round_trip() {
        for &(k, n) in IP_PROTOCOLS {
            assert_eq!(ip_protocol_from_keyword(k), Some(n));
            assert_eq!(ip_protocol_keyword(n), Some(k));
        }
        assert_eq!(port_from_name("domain"), Some(53));
    }
}

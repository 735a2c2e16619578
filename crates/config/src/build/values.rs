//! Value parsers: `Ok(value)` or `Err(message naming the token and what was expected)`.

use std::net::{IpAddr, Ipv4Addr};

use crate::model::{PortRange, Timeout};
use crate::names;
use crate::Prefix;

/// A decimal number in `lo..=hi`; `what` names it in the error.
pub(super) fn uint(s: &str, what: &str, lo: u64, hi: u64) -> Result<u64, String> {
    let bad = || format!("invalid {what} '{s}' (expected a number {lo}-{hi})");
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || s.len() > 20 {
        return Err(bad());
    }
    let v: u64 = s.parse().map_err(|_| bad())?;
    if v < lo || v > hi {
        return Err(bad());
    }
    Ok(v)
}

pub(super) fn u32_in(lo: u32, hi: u32, what: &'static str) -> impl Fn(&str) -> Result<u32, String> {
    move |s| uint(s, what, lo.into(), hi.into()).map(|v| v as u32)
}

pub(super) fn ip(s: &str) -> Result<IpAddr, String> {
    s.parse()
        .map_err(|_| format!("invalid address '{s}' (expected an IPv4 or IPv6 address)"))
}

pub(super) fn ipv4(s: &str) -> Result<Ipv4Addr, String> {
    s.parse()
        .map_err(|_| format!("invalid address '{s}' (expected an IPv4 address)"))
}

pub(super) fn prefix(s: &str) -> Result<Prefix, String> {
    s.parse().map_err(|_| {
        format!("invalid prefix '{s}' (expected an address or address/length, e.g. 10.0.0.0/24)")
    })
}

pub(super) fn port_value(s: &str) -> Result<u16, String> {
    if let Some(p) = names::port_from_name(s) {
        return Ok(p);
    }
    uint(s, "port", 0, 65535).map(|v| v as u16)
}

pub(super) fn port_spec(s: &str) -> Result<PortRange, String> {
    let bad = || {
        format!(
            "invalid port '{s}' (expected a number 0-65535, a range low-high or a port name such as http)"
        )
    };
    if let Some(p) = names::port_from_name(s) {
        return Ok(PortRange::single(p));
    }
    let (lo, hi) = match s.split_once('-') {
        Some((a, b)) => (
            port_value(a).map_err(|_| bad())?,
            port_value(b).map_err(|_| bad())?,
        ),
        None => {
            let p = port_value(s).map_err(|_| bad())?;
            (p, p)
        }
    };
    if lo > hi {
        return Err(format!(
            "invalid port range '{s}' (the low port must not exceed the high port)"
        ));
    }
    Ok(PortRange { low: lo, high: hi })
}

pub(super) fn protocol(s: &str) -> Result<u8, String> {
    if let Some(p) = names::ip_protocol_from_keyword(s) {
        return Ok(p);
    }
    uint(s, "protocol", 0, 255).map(|v| v as u8).map_err(|_| {
        let kws: Vec<&str> = names::IP_PROTOCOLS.iter().map(|(k, _)| *k).collect();
        format!(
            "invalid protocol '{s}' (expected a number 0-255 or one of: {})",
            kws.join(", ")
        )
    })
}

pub(super) fn icmp_value(
    table: &'static [(&'static str, u8)],
    what: &'static str,
) -> impl Fn(&str) -> Result<u8, String> {
    move |s| {
        if let Some(v) = names::lookup(table, s) {
            return Ok(v);
        }
        uint(s, what, 0, 255).map(|v| v as u8).map_err(|_| {
            format!(
                "invalid {what} '{s}' (expected a number 0-255 or a name such as {})",
                table[0].0
            )
        })
    }
}

pub(super) fn timeout(s: &str) -> Result<Timeout, String> {
    if s == "never" {
        return Ok(Timeout::Never);
    }
    uint(s, "inactivity-timeout", 4, 86400)
        .map(|v| Timeout::Seconds(v as u32))
        .map_err(|_| {
            format!("invalid inactivity-timeout '{s}' (expected 'never' or a number 4-86400)")
        })
}

pub(super) fn rpc_program(s: &str) -> Result<(u32, u32), String> {
    let bad =
        || format!("invalid rpc-program-number '{s}' (expected a number or a range low-high)");
    let num = |x: &str| uint(x, "rpc-program-number", 0, u32::MAX.into()).map(|v| v as u32);
    let (a, b) = match s.split_once('-') {
        Some((a, b)) => (num(a).map_err(|_| bad())?, num(b).map_err(|_| bad())?),
        None => {
            let v = num(s).map_err(|_| bad())?;
            (v, v)
        }
    };
    if a > b {
        return Err(bad());
    }
    Ok((a, b))
}

pub(super) fn uuid(s: &str) -> Result<String, String> {
    let bad = || {
        format!(
            "invalid uuid '{s}' (expected 32 hex digits as xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)"
        )
    };
    let groups: Vec<&str> = s.split('-').collect();
    let ok = if groups.len() == 1 {
        s.len() == 32
    } else {
        groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
    };
    if !ok || !s.chars().all(|c| c == '-' || c.is_ascii_hexdigit()) {
        return Err(bad());
    }
    Ok(s.to_ascii_lowercase())
}

/// A user-chosen object name (rule, pool, set…).
pub(super) fn name(what: &'static str) -> impl Fn(&str) -> Result<String, String> {
    move |s| {
        let ok = !s.is_empty()
            && s.len() <= 63
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | ':'));
        if ok {
            Ok(s.to_string())
        } else {
            Err(format!(
                "invalid {what} '{s}' (expected up to 63 letters, digits, '-', '_', '.', '/' or ':')"
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports() {
        assert_eq!(port_spec("21"), Ok(PortRange::single(21)));
        assert_eq!(port_spec("ftp"), Ok(PortRange::single(21)));
        assert_eq!(port_spec("domain"), Ok(PortRange::single(53)));
        assert_eq!(
            port_spec("0-65535"),
            Ok(PortRange {
                low: 0,
                high: 65535
            })
        );
        assert!(port_spec("65536").is_err());
        assert!(port_spec("-5").is_err());
        assert!(port_spec("5-").is_err());
        assert!(port_spec("10-5").is_err());
        assert!(port_spec("").is_err());
    }

    #[test]
    fn protocols_and_timeouts() {
        assert_eq!(protocol("ospf"), Ok(89));
        assert_eq!(protocol("255"), Ok(255));
        assert!(protocol("256").is_err());
        assert_eq!(timeout("never"), Ok(Timeout::Never));
        assert_eq!(timeout("4"), Ok(Timeout::Seconds(4)));
        assert!(timeout("86401").is_err());
        assert_eq!(rpc_program("100000-100003"), Ok((100000, 100003)));
        assert!(rpc_program("5-4").is_err());
    }

    #[test]
    fn uuids() {
        assert_eq!(
            uuid("E1AF8308-5D1F-11C9-91A4-08002B14A0FA").as_deref(),
            Ok("e1af8308-5d1f-11c9-91a4-08002b14a0fa")
        );
        assert!(uuid("e1af83085d1f11c991a408002b14a0fa").is_ok());
        assert!(uuid("e1af8308-5d1f-11c9-91a4").is_err());
        assert!(uuid("g1af8308-5d1f-11c9-91a4-08002b14a0fa").is_err());
    }
}

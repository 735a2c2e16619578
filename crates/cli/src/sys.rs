//! Facts about the host read from /proc and /sys (no system calls beyond reading files).

use std::path::Path;

/// Capability numbers from linux/capability.h.
pub const CAP_NET_ADMIN: u32 = 12;
pub const CAP_NET_RAW: u32 = 13;
pub const CAP_SYS_ADMIN: u32 = 21;
pub const CAP_IPC_LOCK: u32 = 14;
pub const CAP_BPF: u32 = 39;

/// The effective capability set of this process (`CapEff` of /proc/self/status).
pub fn effective_capabilities() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_cap_eff(&status)
}

fn parse_cap_eff(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
}

/// The capabilities the live dataplane needs and this process lacks, by name (XDP
/// attach and AF_XDP sockets need CAP_NET_ADMIN and CAP_NET_RAW, loading BPF CAP_BPF).
/// `CAP_SYS_ADMIN` stands in for `CAP_BPF` (kernels before 5.8 know only it).
pub fn missing_dataplane_capabilities(effective: u64) -> Vec<&'static str> {
    let has = |c: u32| effective & (1u64 << c) != 0;
    let mut missing = Vec::new();
    if !has(CAP_NET_ADMIN) {
        missing.push("CAP_NET_ADMIN");
    }
    if !has(CAP_NET_RAW) {
        missing.push("CAP_NET_RAW");
    }
    if !has(CAP_BPF) && !has(CAP_SYS_ADMIN) {
        missing.push("CAP_BPF");
    }
    missing
}

/// Whether a network device of that name exists in this network namespace.
pub fn netdev_exists(name: &str) -> bool {
    !name.is_empty()
        && !name.contains('/')
        && name != "."
        && name != ".."
        && Path::new("/sys/class/net").join(name).exists()
}

/// The machine's host name without its domain (`router` of `router.example.net`).
pub fn hostname() -> String {
    let raw = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let name = raw.trim().split('.').next().unwrap_or("").to_string();
    if name.is_empty() {
        "mspic".to_string()
    } else {
        name
    }
}

/// The user name for the prompt: `$USER`, else `root`.
pub fn user() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "root".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities() {
        let status = "Name:\tx\nCapInh:\t0000000000000000\nCapEff:\t000001ffffffffff\n";
        let eff = parse_cap_eff(status).unwrap();
        assert!(missing_dataplane_capabilities(eff).is_empty());
        assert_eq!(
            missing_dataplane_capabilities(0),
            vec!["CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_BPF"]
        );
        assert_eq!(
            missing_dataplane_capabilities(
                1 << CAP_NET_ADMIN | 1 << CAP_NET_RAW | 1 << CAP_SYS_ADMIN
            ),
            Vec::<&str>::new()
        );
    }

    #[test]
    fn netdev_names_are_not_paths() {
        assert!(netdev_exists("lo"));
        assert!(!netdev_exists("../net/lo"));
        assert!(!netdev_exists(""));
        assert!(!netdev_exists("no-such-device-mspic"));
    }
}

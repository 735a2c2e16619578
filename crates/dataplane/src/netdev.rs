//! What the dataplane asks the kernel about a netdev: its index and name (through nix),
//! and its MAC address and MTU (interface ioctls, which nix does not wrap).

use std::os::fd::AsRawFd;

use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};

use crate::l2::Mac;

/// The index of the netdev `name` in this thread's network namespace, if it exists.
pub fn index(name: &str) -> Option<u32> {
    nix::net::if_::if_nametoindex(name).ok().filter(|&i| i != 0)
}

/// The name of the netdev with index `ifindex`, if there is one.
pub fn name(ifindex: u32) -> Option<String> {
    nix::net::if_::if_indextoname(ifindex)
        .ok()
        .map(|c| c.to_string_lossy().into_owned())
}

/// The MAC address of a netdev in this thread's network namespace.
pub fn mac(name: &str) -> std::io::Result<Mac> {
    let ifr = ifreq_ioctl(name, libc::SIOCGIFHWADDR)?;
    // SAFETY: after a successful SIOCGIFHWADDR the union holds `ifru_hwaddr`.
    let sa = unsafe { ifr.ifr_ifru.ifru_hwaddr };
    let mut mac = [0u8; 6];
    for (m, b) in mac.iter_mut().zip(sa.sa_data.iter()) {
        *m = *b as u8;
    }
    Ok(mac)
}

/// The MTU of a netdev in this thread's network namespace.
pub fn mtu(name: &str) -> std::io::Result<u32> {
    let ifr = ifreq_ioctl(name, libc::SIOCGIFMTU)?;
    // SAFETY: after a successful SIOCGIFMTU the union holds `ifru_mtu`.
    let mtu = unsafe { ifr.ifr_ifru.ifru_mtu };
    Ok(u32::try_from(mtu).unwrap_or(0))
}

/// The kernel's packet counters of a netdev (`/sys/class/net/NAME/statistics`): what
/// the driver counted, before and after any XDP program.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetdevStats {
    pub rx_packets: u64,
    pub rx_dropped: u64,
    /// `rx_missed_errors`: frames the device had no room for.
    pub rx_missed: u64,
    pub rx_errors: u64,
    pub tx_packets: u64,
    pub tx_dropped: u64,
    pub tx_errors: u64,
}

impl NetdevStats {
    /// `self - earlier`, field by field (0 where a counter went back, e.g. a netdev that
    /// was made again under the same name).
    pub fn since(&self, earlier: &NetdevStats) -> NetdevStats {
        NetdevStats {
            rx_packets: self.rx_packets.saturating_sub(earlier.rx_packets),
            rx_dropped: self.rx_dropped.saturating_sub(earlier.rx_dropped),
            rx_missed: self.rx_missed.saturating_sub(earlier.rx_missed),
            rx_errors: self.rx_errors.saturating_sub(earlier.rx_errors),
            tx_packets: self.tx_packets.saturating_sub(earlier.tx_packets),
            tx_dropped: self.tx_dropped.saturating_sub(earlier.tx_dropped),
            tx_errors: self.tx_errors.saturating_sub(earlier.tx_errors),
        }
    }
}

/// The kernel's counters of the netdev `name` in this thread's network namespace, read
/// from sysfs. `None` when they cannot be read, or when the sysfs mounted here belongs to
/// another network namespace (its `ifindex` differs from the one this namespace gives the
/// name, or it has no such netdev).
pub fn stats(name: &str) -> Option<NetdevStats> {
    if name.is_empty() || name.contains('/') || name.starts_with('.') {
        return None;
    }
    let dir = std::path::Path::new("/sys/class/net").join(name);
    let read = |file: &str| -> Option<u64> {
        std::fs::read_to_string(dir.join(file))
            .ok()?
            .trim()
            .parse()
            .ok()
    };
    if read("ifindex")? != u64::from(index(name)?) {
        return None;
    }
    let s = |c: &str| read(&format!("statistics/{c}"));
    Some(NetdevStats {
        rx_packets: s("rx_packets")?,
        rx_dropped: s("rx_dropped")?,
        rx_missed: s("rx_missed_errors").unwrap_or(0),
        rx_errors: s("rx_errors").unwrap_or(0),
        tx_packets: s("tx_packets")?,
        tx_dropped: s("tx_dropped")?,
        tx_errors: s("tx_errors").unwrap_or(0),
    })
}

/// An interface ioctl that reads an `ifreq` by name.
fn ifreq_ioctl(name: &str, request: libc::c_ulong) -> std::io::Result<libc::ifreq> {
    if name.is_empty() || name.len() >= libc::IFNAMSIZ {
        return Err(std::io::Error::from_raw_os_error(libc::ENODEV));
    }
    let fd = socket(
        AddressFamily::Inet,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    // SAFETY: ifreq is plain data; all-zero is a valid value.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in ifr.ifr_name.iter_mut().zip(name.bytes()) {
        *d = s as libc::c_char;
    }
    // SAFETY: the SIOCGIF* requests used here read the name from and write one union
    // member of the local ifreq, whose size the kernel expects for them.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), request, &mut ifr) };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(ifr)
}

#[cfg(test)]
mod tests {
    #[test]
    fn loopback() {
        assert_eq!(super::mac("lo").unwrap(), [0; 6]);
        assert!(super::mtu("lo").unwrap() >= 1500);
        assert!(super::mac("mspic-nonexistent0").is_err());
        assert_eq!(super::index("lo"), Some(1));
        assert_eq!(super::name(1).as_deref(), Some("lo"));
        assert_eq!(super::index("mspic-nonexistent0"), None);
        assert_eq!(super::stats("mspic-nonexistent0"), None);
        assert_eq!(super::stats("../lo"), None);
    }

    #[test]
    fn stats_since_saturates() {
        let a = super::NetdevStats {
            rx_packets: 10,
            tx_dropped: 3,
            ..Default::default()
        };
        let b = super::NetdevStats {
            rx_packets: 4,
            tx_dropped: 5,
            ..Default::default()
        };
        let d = a.since(&b);
        assert_eq!((d.rx_packets, d.tx_dropped), (6, 0));
    }
}

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
    }
}

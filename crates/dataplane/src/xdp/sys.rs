//! Thin wrappers over the libbpf calls that libbpf-rs 0.25 does not expose the way the
//! steering loader needs them (XDP links with a mode, querying and detaching netlink
//! attachments, feature probes). Each returns `io::Error` built from libbpf's negative
//! errno convention.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use libbpf_rs::libbpf_sys;

/// libbpf 1.x returns `-errno` from its low-level calls.
fn check(rc: i32) -> io::Result<i32> {
    if rc < 0 {
        Err(io::Error::from_raw_os_error(-rc))
    } else {
        Ok(rc)
    }
}

/// `BPF_LINK_CREATE` for an XDP program on `ifindex` with `XDP_FLAGS_*` `flags`.
pub(super) fn xdp_link_create(
    prog: BorrowedFd<'_>,
    ifindex: u32,
    flags: u32,
) -> io::Result<OwnedFd> {
    let target = i32::try_from(ifindex).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let opts = libbpf_sys::bpf_link_create_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_link_create_opts>() as libbpf_sys::size_t,
        flags,
        ..Default::default()
    };
    // SAFETY: `prog` is a live program fd for the duration of the call and `opts` is a
    // fully initialised options struct whose `sz` names its own size.
    let fd = check(unsafe {
        libbpf_sys::bpf_link_create(prog.as_raw_fd(), target, libbpf_sys::BPF_XDP, &opts)
    })?;
    // SAFETY: on success bpf_link_create returns a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Netlink (non-link) attachment, as `ip link set dev X xdp …` does.
pub(super) fn xdp_attach_netlink(prog: BorrowedFd<'_>, ifindex: u32, flags: u32) -> io::Result<()> {
    let ifindex = i32::try_from(ifindex).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: `prog` is a live program fd; a null options pointer is allowed.
    check(unsafe {
        libbpf_sys::bpf_xdp_attach(ifindex, prog.as_raw_fd(), flags, std::ptr::null())
    })?;
    Ok(())
}

/// Detaches the netlink-attached program in the mode given by `flags`.
pub(super) fn xdp_detach(ifindex: u32, flags: u32) -> io::Result<()> {
    let ifindex = i32::try_from(ifindex).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: plain syscall wrapper; a null options pointer is allowed.
    check(unsafe { libbpf_sys::bpf_xdp_detach(ifindex, flags, std::ptr::null()) })?;
    Ok(())
}

/// Program ids attached to `ifindex`: (driver mode, generic mode).
pub(super) fn xdp_query(ifindex: u32) -> io::Result<(u32, u32)> {
    let ifindex = i32::try_from(ifindex).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let mut opts = libbpf_sys::bpf_xdp_query_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_xdp_query_opts>() as libbpf_sys::size_t,
        ..Default::default()
    };
    // SAFETY: `opts` is a valid, writable options struct whose `sz` names its own size.
    check(unsafe { libbpf_sys::bpf_xdp_query(ifindex, 0, &mut opts) })?;
    Ok((opts.drv_prog_id, opts.skb_prog_id))
}

/// Name of the loaded program with id `id` (at most 15 bytes, as the kernel keeps it).
pub(super) fn prog_name(id: u32) -> io::Result<String> {
    // SAFETY: plain syscall wrapper.
    let fd = check(unsafe { libbpf_sys::bpf_prog_get_fd_by_id(id) })?;
    // SAFETY: on success the call returned a new fd that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut info = libbpf_sys::bpf_prog_info::default();
    let mut len = std::mem::size_of::<libbpf_sys::bpf_prog_info>() as u32;
    // SAFETY: `info` is writable for `len` bytes and `fd` is a live program fd.
    check(unsafe { libbpf_sys::bpf_prog_get_info_by_fd(fd.as_raw_fd(), &mut info, &mut len) })?;
    let bytes: Vec<u8> = info
        .name
        .iter()
        .map(|&c| c as u8)
        .take_while(|&c| c != 0)
        .collect();
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Loads `r0 = XDP_PASS; exit` as an XDP program: `Ok(())` if the kernel has XDP.
pub(super) fn probe_xdp_prog() -> io::Result<()> {
    let insns = [
        // BPF_MOV64_IMM(BPF_REG_0, XDP_PASS)
        libbpf_sys::bpf_insn {
            code: (libbpf_sys::BPF_ALU64 | libbpf_sys::BPF_MOV | libbpf_sys::BPF_K) as u8,
            _bitfield_align_1: [],
            _bitfield_1: libbpf_sys::bpf_insn::new_bitfield_1(0, 0),
            off: 0,
            imm: libbpf_sys::XDP_PASS as i32,
        },
        // BPF_EXIT_INSN()
        libbpf_sys::bpf_insn {
            code: (libbpf_sys::BPF_JMP | libbpf_sys::BPF_EXIT) as u8,
            _bitfield_align_1: [],
            _bitfield_1: libbpf_sys::bpf_insn::new_bitfield_1(0, 0),
            off: 0,
            imm: 0,
        },
    ];
    let license: &CStr = c"GPL";
    // SAFETY: `insns` holds `insns.len()` valid instructions and `license` is a C string;
    // null name and options are allowed.
    let fd = check(unsafe {
        libbpf_sys::bpf_prog_load(
            libbpf_sys::BPF_PROG_TYPE_XDP,
            std::ptr::null(),
            license.as_ptr(),
            insns.as_ptr(),
            insns.len() as libbpf_sys::size_t,
            std::ptr::null_mut(),
        )
    })?;
    // SAFETY: a new fd that nothing else owns; dropping it closes it.
    drop(unsafe { OwnedFd::from_raw_fd(fd) });
    Ok(())
}

/// Creates a one-entry XSKMAP: `Ok(())` if the kernel has AF_XDP sockets.
pub(super) fn probe_xskmap() -> io::Result<()> {
    // SAFETY: plain syscall wrapper; null name and options are allowed.
    let fd = check(unsafe {
        libbpf_sys::bpf_map_create(
            libbpf_sys::BPF_MAP_TYPE_XSKMAP,
            std::ptr::null(),
            4,
            4,
            1,
            std::ptr::null(),
        )
    })?;
    // SAFETY: a new fd that nothing else owns; dropping it closes it.
    drop(unsafe { OwnedFd::from_raw_fd(fd) });
    Ok(())
}

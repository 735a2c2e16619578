//! Big-endian field access shared by every header view, the parser and the rewrites.
//!
//! The unchecked pair ([`be16`], [`be32`], [`set_be16`], [`set_be32`]) is for views whose
//! constructor proved the offsets in bounds; the checked pair ([`get16`], [`put16`]) is
//! for code that works on a frame it has not proved, and turns a short buffer into
//! `None` / [`WireError::OutOfBounds`].

use crate::error::WireError;

/// The 16-bit field at `off` (in bounds by the caller's construction).
#[inline]
pub(crate) fn be16(b: &[u8], off: usize) -> u16 {
    u16::from_be_bytes([b[off], b[off + 1]])
}

/// The 32-bit field at `off` (in bounds by the caller's construction).
#[inline]
pub(crate) fn be32(b: &[u8], off: usize) -> u32 {
    u32::from_be_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

/// Writes the 16-bit field at `off` (in bounds by the caller's construction).
#[inline]
pub(crate) fn set_be16(b: &mut [u8], off: usize, v: u16) {
    b[off..off + 2].copy_from_slice(&v.to_be_bytes());
}

/// Writes the 32-bit field at `off` (in bounds by the caller's construction).
#[inline]
pub(crate) fn set_be32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_be_bytes());
}

/// The 16-bit field at `off`, if the buffer holds it.
#[inline]
pub(crate) fn get16(b: &[u8], off: usize) -> Option<u16> {
    match b.get(off..off.checked_add(2)?) {
        Some(&[x, y]) => Some(u16::from_be_bytes([x, y])),
        _ => None,
    }
}

/// Writes the 16-bit field at `off`, if the buffer holds it.
#[inline]
pub(crate) fn put16(b: &mut [u8], off: usize, v: u16) -> Result<(), WireError> {
    b.get_mut(off..off.checked_add(2).ok_or(WireError::OutOfBounds)?)
        .ok_or(WireError::OutOfBounds)?
        .copy_from_slice(&v.to_be_bytes());
    Ok(())
}

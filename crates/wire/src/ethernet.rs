//! Ethernet II frame view with at most one 802.1Q tag (IEEE 802.1Q).

use crate::bytes;
use crate::error::WireError;

/// IPv4 (RFC 894).
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// ARP (RFC 826).
pub const ETHERTYPE_ARP: u16 = 0x0806;
/// 802.1Q VLAN tag.
pub const ETHERTYPE_VLAN: u16 = 0x8100;
/// IPv6 (RFC 2464).
pub const ETHERTYPE_IPV6: u16 = 0x86dd;

/// Untagged header length.
pub const HEADER_LEN: usize = 14;
/// Header length with one 802.1Q tag.
pub const VLAN_HEADER_LEN: usize = 18;
/// Minimum frame length without FCS (IEEE 802.3 §3.2.7): shorter frames get padded.
pub const MIN_FRAME_LEN: usize = 60;

/// Field offsets.
pub mod field {
    use std::ops::Range;
    /// Destination MAC.
    pub const DST: Range<usize> = 0..6;
    /// Source MAC.
    pub const SRC: Range<usize> = 6..12;
    /// Ethertype, or TPID 0x8100 when tagged.
    pub const ETHERTYPE: Range<usize> = 12..14;
    /// 802.1Q tag control information (PCP, DEI, VID) when tagged.
    pub const TCI: Range<usize> = 14..16;
    /// Ethertype after the tag when tagged.
    pub const INNER_ETHERTYPE: Range<usize> = 16..18;
}

/// A view of an Ethernet frame; `new_checked` guarantees the (tagged) header is present.
#[derive(Debug, Clone)]
pub struct EthernetFrame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    /// Checks that the whole header, including an 802.1Q tag if announced, is present.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(WireError::EthernetTruncated);
        }
        let f = EthernetFrame { buffer };
        if f.ethertype() == ETHERTYPE_VLAN && f.buffer.as_ref().len() < VLAN_HEADER_LEN {
            return Err(WireError::EthernetTruncated);
        }
        Ok(f)
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Destination MAC.
    pub fn dst_addr(&self) -> [u8; 6] {
        let b = self.buffer.as_ref();
        [b[0], b[1], b[2], b[3], b[4], b[5]]
    }

    /// Source MAC.
    pub fn src_addr(&self) -> [u8; 6] {
        let b = self.buffer.as_ref();
        [b[6], b[7], b[8], b[9], b[10], b[11]]
    }

    /// The ethertype right after the MACs (0x8100 for tagged frames).
    pub fn ethertype(&self) -> u16 {
        bytes::be16(self.buffer.as_ref(), field::ETHERTYPE.start)
    }

    /// True if the frame carries an 802.1Q tag.
    pub fn is_tagged(&self) -> bool {
        self.ethertype() == ETHERTYPE_VLAN
    }

    /// Full tag control information (PCP, DEI, VID), if tagged.
    pub fn vlan_tci(&self) -> Option<u16> {
        self.is_tagged()
            .then(|| bytes::be16(self.buffer.as_ref(), field::TCI.start))
    }

    /// VLAN id (12 bits), if tagged.
    pub fn vlan_id(&self) -> Option<u16> {
        self.vlan_tci().map(|t| t & 0x0fff)
    }

    /// Ethertype of the payload (after the tag, if any).
    pub fn payload_ethertype(&self) -> u16 {
        if self.is_tagged() {
            bytes::be16(self.buffer.as_ref(), field::INNER_ETHERTYPE.start)
        } else {
            self.ethertype()
        }
    }

    /// Header length: 14, or 18 when tagged.
    pub fn header_len(&self) -> usize {
        if self.is_tagged() {
            VLAN_HEADER_LEN
        } else {
            HEADER_LEN
        }
    }

    /// Bytes after the header (the L3 packet plus any padding).
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> EthernetFrame<T> {
    /// Sets the destination MAC.
    pub fn set_dst_addr(&mut self, mac: [u8; 6]) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&mac);
    }

    /// Sets the source MAC.
    pub fn set_src_addr(&mut self, mac: [u8; 6]) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&mac);
    }
}

/// True for group (multicast or broadcast) MAC addresses: I/G bit set (IEEE 802 §8.2).
pub fn is_group_mac(mac: &[u8; 6]) -> bool {
    mac[0] & 1 != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tagged_and_untagged() {
        let mut f = [0u8; 18];
        f[12..14].copy_from_slice(&[0x81, 0x00]);
        f[14..16].copy_from_slice(&[0x20, 0x64]);
        f[16..18].copy_from_slice(&[0x86, 0xdd]);
        let e = EthernetFrame::new_checked(&f[..]).unwrap();
        assert_eq!(e.vlan_id(), Some(100));
        assert_eq!(e.vlan_tci(), Some(0x2064));
        assert_eq!(e.payload_ethertype(), ETHERTYPE_IPV6);
        assert_eq!(e.header_len(), 18);
        assert_eq!(
            EthernetFrame::new_checked(&f[..17]).unwrap_err(),
            WireError::EthernetTruncated
        );
        f[12..14].copy_from_slice(&[0x08, 0x06]);
        let e = EthernetFrame::new_checked(&f[..14]).unwrap();
        assert_eq!(e.vlan_id(), None);
        assert_eq!(e.payload_ethertype(), ETHERTYPE_ARP);
        assert!(e.payload().is_empty());
    }
}

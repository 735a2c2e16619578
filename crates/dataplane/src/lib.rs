//! Where packets meet the engine: offline replay of captures (and, with the live dataplane,
//! AF_XDP workers). The only crate that does I/O.

pub mod pcap;
pub mod replay;

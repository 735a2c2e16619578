//! Builders for engine-like session snapshots.
#![allow(dead_code)]

use std::net::IpAddr;

use mspic_config::{AppProtocol, TranslationType};
use mspic_flow::{
    Endpoint, FlowDirection, FlowRole, FlowSnapshot, FlowState, NatSnapshot, NatTranslation,
    SessionSnapshot,
};

pub const ICMP: u8 = 1;
pub const TCP: u8 = 6;
pub const UDP: u8 = 17;
pub const GRE: u8 = 47;
pub const ICMPV6: u8 = 58;

/// `"10.0.0.1:80"`, `"10.0.0.1"` (no port) or `"[2001:db8::1]:80"`.
pub fn ep(s: &str) -> Endpoint {
    if let Some(rest) = s.strip_prefix('[') {
        let (a, p) = rest.split_once("]:").expect("[v6]:port");
        return Endpoint {
            addr: a.parse().unwrap(),
            port: Some(p.parse().unwrap()),
        };
    }
    if let Ok(addr) = s.parse::<IpAddr>() {
        return Endpoint { addr, port: None };
    }
    let (a, p) = s.rsplit_once(':').unwrap();
    Endpoint {
        addr: a.parse().unwrap(),
        port: Some(p.parse().unwrap()),
    }
}

pub fn session(interface: &str, service_set: &str, id: u64) -> SessionSnapshot {
    SessionSnapshot {
        interface: interface.into(),
        service_set: service_set.into(),
        id,
        alg: None,
        flags: 0,
        ip_action: false,
        offload: false,
        asymmetric: false,
        session_timeout: 30,
        nat: None,
        flows: Vec::new(),
        parent: None,
        softwire: None,
    }
}

pub trait SessionExt {
    fn alg(self, alg: AppProtocol) -> Self;
    fn flags(self, flags: u32) -> Self;
    /// Adds a flow with role Initiator (I) / Responder (O), timeout 30, bytes = 100 × frames.
    fn flow(
        self,
        proto: u8,
        src: &str,
        dst: &str,
        state: FlowState,
        dir: FlowDirection,
        frames: u64,
    ) -> Self;
    /// Sets bytes, role and timeout of the last flow.
    fn ext(self, bytes: u64, role: FlowRole, timeout: u32) -> Self;
    fn nat(
        self,
        t: TranslationType,
        source: Option<(&str, &str)>,
        dest: Option<(&str, &str)>,
    ) -> Self;
}

impl SessionExt for SessionSnapshot {
    fn alg(mut self, alg: AppProtocol) -> Self {
        self.alg = Some(alg);
        self
    }
    fn flags(mut self, flags: u32) -> Self {
        self.flags = flags;
        self
    }
    fn flow(
        mut self,
        proto: u8,
        src: &str,
        dst: &str,
        state: FlowState,
        dir: FlowDirection,
        frames: u64,
    ) -> Self {
        self.flows.push(FlowSnapshot {
            protocol: proto,
            src: ep(src),
            dst: ep(dst),
            state,
            direction: dir,
            frames,
            bytes: frames * 100,
            role: match dir {
                FlowDirection::I => FlowRole::Initiator,
                FlowDirection::O => FlowRole::Responder,
            },
            timeout: 30,
        });
        self
    }
    fn ext(mut self, bytes: u64, role: FlowRole, timeout: u32) -> Self {
        let f = self.flows.last_mut().expect("a flow");
        f.bytes = bytes;
        f.role = role;
        f.timeout = timeout;
        self
    }
    fn nat(
        mut self,
        t: TranslationType,
        source: Option<(&str, &str)>,
        dest: Option<(&str, &str)>,
    ) -> Self {
        let tr = |(a, b): (&str, &str)| NatTranslation {
            original: ep(a),
            translated: ep(b),
        };
        self.nat = Some(NatSnapshot {
            translation_type: t,
            source: source.map(tr),
            destination: dest.map(tr),
            pool: None,
        });
        self
    }
}

/// The FTP control session most samples show (ms-1/1/0, session 1) with the given frame counts.
pub fn ftp_session(service_set: &str, i_frames: u64, o_frames: u64) -> SessionSnapshot {
    use FlowDirection::*;
    use FlowState::*;
    session("ms-1/1/0", service_set, 1)
        .alg(AppProtocol::Ftp)
        .flags(0x2000)
        .flow(TCP, "10.2.2.2:52138", "10.1.1.2:21", Forward, I, i_frames)
        .flow(TCP, "10.1.1.2:21", "10.2.2.2:52138", Forward, O, o_frames)
}

/// Sessions that no filter of the ftp samples selects (other interface, addresses, ports).
pub fn distractors() -> Vec<SessionSnapshot> {
    use FlowDirection::*;
    use FlowState::*;
    vec![
        session("ms-2/0/0", "other", 9)
            .flow(UDP, "192.0.2.7:5000", "198.51.100.9:53", Forward, I, 1)
            .flow(UDP, "198.51.100.9:53", "203.0.113.5:1024", Forward, O, 1),
        session("ms-2/0/0", "other", 10)
            .flow(ICMP, "192.0.2.7", "198.51.100.9", Watch, I, 3)
            .flow(ICMP, "198.51.100.9", "192.0.2.7", Watch, O, 3),
    ]
}

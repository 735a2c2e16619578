//! What a generated trace contains, conversation by conversation.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use crate::gen::{Peer, Sides};
use crate::host::Port;

/// Transport protocol of a conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Proto {
    /// TCP (6).
    Tcp,
    /// UDP (17).
    Udp,
    /// ICMP (1), echo request/reply.
    Icmp,
    /// ICMPv6 (58), echo request/reply.
    Icmpv6,
}

impl Proto {
    /// The IP protocol number.
    pub fn number(self) -> u8 {
        match self {
            Proto::Tcp => 6,
            Proto::Udp => 17,
            Proto::Icmp => 1,
            Proto::Icmpv6 => 58,
        }
    }

    /// The name Junos prints in `show services sessions` (`TCP`, `UDP`, `ICMP`, `ICMPV6`).
    pub fn junos_name(self) -> &'static str {
        match self {
            Proto::Tcp => "TCP",
            Proto::Udp => "UDP",
            Proto::Icmp => "ICMP",
            Proto::Icmpv6 => "ICMPV6",
        }
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.junos_name())
    }
}

/// The 5-tuple of a conversation in the initiator's direction. For ICMP echo both
/// `sport` and `dport` hold the echo identifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FiveTuple {
    /// Protocol.
    pub proto: Proto,
    /// Initiator (client) address.
    pub src: IpAddr,
    /// Responder (server) address.
    pub dst: IpAddr,
    /// Initiator port (ICMP: identifier).
    pub sport: u16,
    /// Responder port (ICMP: identifier).
    pub dport: u16,
}

impl FiveTuple {
    /// The tuple seen from the other side.
    pub fn reversed(&self) -> FiveTuple {
        FiveTuple {
            proto: self.proto,
            src: self.dst,
            dst: self.src,
            sport: self.dport,
            dport: self.sport,
        }
    }
}

impl fmt::Display for FiveTuple {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.proto {
            Proto::Icmp | Proto::Icmpv6 => write!(
                f,
                "{} {} -> {} id {}",
                self.proto, self.src, self.dst, self.sport
            ),
            _ => write!(
                f,
                "{} {} -> {}",
                self.proto,
                sock(self.src, self.sport),
                sock(self.dst, self.dport)
            ),
        }
    }
}

fn sock(ip: IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V4(a) => format!("{a}:{port}"),
        IpAddr::V6(a) => format!("[{a}]:{port}"),
    }
}

/// What one side of a conversation put into the trace.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Frames emitted.
    pub frames: u64,
    /// Sum of IP total lengths (IP header + transport header + payload) — the byte count
    /// a session's flow counter shows.
    pub ip_bytes: u64,
    /// Sum of Ethernet frame lengths (without FCS).
    pub frame_bytes: u64,
    /// Sum of transport payload lengths (TCP/UDP data, ICMP echo data).
    pub payload_bytes: u64,
}

impl Counters {
    pub(crate) fn add(&mut self, frame_len: usize, ip_len: usize, payload_len: usize) {
        self.frames += 1;
        self.frame_bytes += frame_len as u64;
        self.ip_bytes += ip_len as u64;
        self.payload_bytes += payload_len as u64;
    }
}

/// One conversation of a trace and what each side sent (only frames actually emitted:
/// with [`Sides::ClientOnly`] the server side stays at zero).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conversation {
    /// What kind of traffic this is (`http`, `dns`, `ping`, `idle-udp`, …; builders set a
    /// generic default such as `tcp` or `udp`).
    pub label: String,
    /// The 5-tuple in the client's direction.
    pub tuple: FiveTuple,
    /// Router port the client's frames arrive on.
    pub client_port: Port,
    /// Router port the server's frames arrive on.
    pub server_port: Port,
    /// Which sides were emitted.
    pub sides: Sides,
    /// Client → server.
    pub client: Counters,
    /// Server → client.
    pub server: Counters,
    /// Timestamp of the first emitted frame.
    pub first: Duration,
    /// Timestamp of the last emitted frame.
    pub last: Duration,
}

impl Conversation {
    pub(crate) fn new(
        label: &str,
        tuple: FiveTuple,
        client_port: Port,
        server_port: Port,
        sides: Sides,
    ) -> Conversation {
        Conversation {
            label: label.to_string(),
            tuple,
            client_port,
            server_port,
            sides,
            client: Counters::default(),
            server: Counters::default(),
            first: Duration::ZERO,
            last: Duration::ZERO,
        }
    }

    /// The same conversation with another label.
    pub fn labeled(mut self, label: &str) -> Conversation {
        self.label = label.to_string();
        self
    }

    /// Counters of one side.
    pub fn sent_by(&self, peer: Peer) -> &Counters {
        match peer {
            Peer::Client => &self.client,
            Peer::Server => &self.server,
        }
    }

    /// Frames emitted by both sides.
    pub fn frames(&self) -> u64 {
        self.client.frames + self.server.frames
    }

    pub(crate) fn count(
        &mut self,
        peer: Peer,
        ts: Duration,
        frame_len: usize,
        ip_len: usize,
        payload_len: usize,
    ) {
        if self.frames() == 0 || ts < self.first {
            self.first = ts;
        }
        if ts > self.last || self.frames() == 0 {
            self.last = ts;
        }
        match peer {
            Peer::Client => self.client.add(frame_len, ip_len, payload_len),
            Peer::Server => self.server.add(frame_len, ip_len, payload_len),
        }
    }
}

/// All conversations of a trace, in the order they were generated.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// The conversations.
    pub conversations: Vec<Conversation>,
}

impl Summary {
    /// Empty summary.
    pub fn new() -> Summary {
        Summary::default()
    }

    /// Adds one conversation.
    pub fn push(&mut self, c: Conversation) {
        self.conversations.push(c);
    }

    /// Conversations with this label.
    pub fn by_label<'a>(&'a self, label: &'a str) -> impl Iterator<Item = &'a Conversation> {
        self.conversations.iter().filter(move |c| c.label == label)
    }

    /// Conversations with this 5-tuple (in the client's direction).
    pub fn by_tuple<'a>(&'a self, t: &'a FiveTuple) -> impl Iterator<Item = &'a Conversation> {
        self.conversations.iter().filter(move |c| &c.tuple == t)
    }

    /// Sum over all conversations, client sides.
    pub fn client_total(&self) -> Counters {
        self.total(Peer::Client)
    }

    /// Sum over all conversations, server sides.
    pub fn server_total(&self) -> Counters {
        self.total(Peer::Server)
    }

    fn total(&self, peer: Peer) -> Counters {
        let mut sum = Counters::default();
        for c in &self.conversations {
            let s = c.sent_by(peer);
            sum.frames += s.frames;
            sum.ip_bytes += s.ip_bytes;
            sum.frame_bytes += s.frame_bytes;
            sum.payload_bytes += s.payload_bytes;
        }
        sum
    }

    /// Frames of all conversations.
    pub fn total_frames(&self) -> u64 {
        self.conversations.iter().map(Conversation::frames).sum()
    }
}

impl fmt::Display for Summary {
    /// A table: one line per conversation (bytes are IP bytes), then totals.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<16} {:<6} {:<22} {:<22} {:>7} {:>9} {:>7} {:>9} {:>9} {:>9}",
            "label",
            "proto",
            "client",
            "server",
            "c.pkts",
            "c.bytes",
            "s.pkts",
            "s.bytes",
            "first",
            "last"
        )?;
        for c in &self.conversations {
            let t = &c.tuple;
            let (cl, sv) = match t.proto {
                Proto::Icmp | Proto::Icmpv6 => {
                    (format!("{} id {}", t.src, t.sport), format!("{}", t.dst))
                }
                _ => (sock(t.src, t.sport), sock(t.dst, t.dport)),
            };
            writeln!(
                f,
                "{:<16} {:<6} {:<22} {:<22} {:>7} {:>9} {:>7} {:>9} {:>9.3} {:>9.3}",
                c.label,
                t.proto,
                cl,
                sv,
                c.client.frames,
                c.client.ip_bytes,
                c.server.frames,
                c.server.ip_bytes,
                c.first.as_secs_f64(),
                c.last.as_secs_f64()
            )?;
        }
        let (cl, sv) = (self.client_total(), self.server_total());
        write!(
            f,
            "{} conversations, {} frames (client {} frames / {} IP bytes, server {} frames / {} IP bytes)",
            self.conversations.len(),
            cl.frames + sv.frames,
            cl.frames,
            cl.ip_bytes,
            sv.frames,
            sv.ip_bytes
        )
    }
}

//! The demo's traffic mix: several clients behind `ge-0/0/0` talking to servers behind
//! `ge-0/0/1`, plus traffic the example firewall must not accept.

use std::net::Ipv4Addr;
use std::time::Duration;

use crate::gen::{snmp_get_request, tftp_rrq, Gen, Peer, Sides};
use crate::host::Host;
use crate::summary::Summary;
use crate::trace::Trace;

/// Web servers: one directly connected, two behind the static route's next hop.
pub const WEB_SERVERS: [Ipv4Addr; 3] = [
    Ipv4Addr::new(203, 0, 113, 10),
    Ipv4Addr::new(198, 51, 100, 20),
    Ipv4Addr::new(198, 51, 100, 21),
];
/// The DNS server (directly connected on `ge-0/0/1`).
pub const DNS_SERVER: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 53);
/// Source of the unsolicited inbound traffic (behind the outside next hop).
pub const OUTSIDE_SCANNER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 66);
/// Peer of the long-idle UDP flow and of the long-lived TCP session.
pub const IDLE_PEER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 21);
/// Destination port of the long-idle UDP flow.
pub const IDLE_UDP_PORT: u16 = 9000;
/// How long the idle UDP flow stays silent (longer than a 30 s inactivity timeout + slack).
pub const IDLE_GAP: Duration = Duration::from_secs(42);

/// The `n`-th client (0-based): 10.0.0.2, 10.0.0.3, …
pub fn client_addr(n: usize) -> Ipv4Addr {
    assert!(n < 250, "at most 250 clients fit in 10.0.0.0/24");
    Ipv4Addr::new(10, 0, 0, 2 + n as u8)
}

/// Linux-like ephemeral ports (32768..61000), one sequence per client.
struct Ephemeral(u16);

impl Ephemeral {
    fn next(&mut self) -> u16 {
        self.0 = if self.0 >= 60_999 { 32_768 } else { self.0 + 1 };
        self.0
    }
}

/// Generates about `duration` of traffic from `n_clients` clients (1..=250), deterministic
/// for `seed`. Conversations and their labels:
///
/// | label | what | from → to |
/// |---|---|---|
/// | `dns` | one A lookup before each download | client → 203.0.113.53:53 |
/// | `http` | HTTP/1.1 download, 2 kB–300 kB, every 4–12 s per client | client → 203.0.113.10 / 198.51.100.20 / 198.51.100.21 :80 |
/// | `ping` | 4 echo requests 1 s apart, once per client | client → 198.51.100.20 |
/// | `idle-udp` | 3 request/response pairs at ~1 s, then silence for 42 s | 10.0.0.2 → 198.51.100.21:9000 |
/// | `idle-udp-resumed` | 2 more pairs on the same 5-tuple (only if they fit in `duration`) | same |
/// | `ssh-open` | long-lived TCP session, a keystroke and its echo every 5–9 s, never closed | 10.0.0.2 → 198.51.100.21:22 |
/// | `telnet` | unanswered SYN, 3 attempts (the firewall-only example discards it) | last client → 203.0.113.10:23 |
/// | `tftp-rrq` | TFTP read request sent twice 5 s apart, unanswered (rejected by the firewall-only example) | second client → 203.0.113.10:69 |
/// | `inbound-ssh` | unsolicited SYN, 2 attempts, arriving on `ge-0/0/1` | 198.51.100.66 → 10.0.0.2:22 |
/// | `inbound-snmp` | SNMP GetRequest sent twice 1 s apart, arriving on `ge-0/0/1` | 198.51.100.66 → 10.0.0.2:161 |
///
/// The inbound conversations come from outside 10.0.0.0/24, so neither example config
/// accepts them. With [`Sides::ClientOnly`] only initiators' frames are written (the
/// inbound ones included, their initiator being the outside host).
pub fn mixed_client_traffic(
    seed: u64,
    n_clients: usize,
    duration: Duration,
    sides: Sides,
) -> (Trace, Summary) {
    assert!(
        (1..=250).contains(&n_clients),
        "n_clients must be 1..=250, got {n_clients}"
    );
    let mut g = Gen::new(seed);
    let mut t = Trace::new();
    let mut s = Summary::new();
    let secs = Duration::from_secs;
    let ms = Duration::from_millis;

    let web: Vec<Host> = vec![
        Host::outside(WEB_SERVERS[0]),
        Host::remote(WEB_SERVERS[1]),
        Host::remote(WEB_SERVERS[2]),
    ];
    let dns = Host::outside(DNS_SERVER);
    let idle_peer = Host::remote(IDLE_PEER);
    let clients: Vec<Host> = (0..n_clients)
        .map(|i| Host::inside(client_addr(i)))
        .collect();
    let mut ports: Vec<Ephemeral> = (0..n_clients)
        .map(|_| Ephemeral(32_768 + g.rng().below(20_000) as u16))
        .collect();
    // Latest start of anything, so that conversations end within `duration`.
    let horizon = duration.saturating_sub(secs(3));

    // Per client: DNS lookup + HTTP download, over and over; one ping series.
    for (i, client) in clients.iter().enumerate() {
        let mut at = g.rng().duration(ms(100), secs(2));
        while at < horizon {
            let w = g.rng().below(web.len() as u64) as usize;
            let name = format!("www{}.example.net", w + 1);
            let cport = ports[i].next();
            let c = g.dns_lookup(&mut t, client, &dns, cport, at, &[&name], ms(0), sides);
            s.push(c);
            let start = at + g.rtt(&dns) + ms(2);
            let req = g.rng().range(180, 600) as usize;
            let resp = g.rng().log_uniform(2_000, 300_000) as usize;
            let cport = ports[i].next();
            let c = g.tcp_conversation(&mut t, client, &web[w], cport, 80, start, req, resp, sides);
            s.push(c);
            at += g.rng().duration(secs(4), secs(12));
        }
        let ping_at = g.rng().duration(ms(500), duration.saturating_sub(secs(5)));
        let c = g.icmp_echo(
            &mut t,
            client,
            &web[1],
            0x100 + i as u16,
            ping_at,
            4,
            secs(1),
            sides,
        );
        s.push(c.labeled("ping"));
    }

    let first = clients[0];
    // A UDP flow that goes quiet for longer than the inactivity timeout, then resumes.
    let cport = ports[0].next();
    let start = secs(1);
    let c = g.udp_exchange(
        &mut t,
        &first,
        &idle_peer,
        cport,
        IDLE_UDP_PORT,
        start,
        3,
        64,
        64,
        ms(500),
        sides,
    );
    s.push(c.labeled("idle-udp"));
    let resume = start + ms(1000) + IDLE_GAP;
    if resume + secs(1) < duration {
        let c = g.udp_exchange(
            &mut t,
            &first,
            &idle_peer,
            cport,
            IDLE_UDP_PORT,
            resume,
            2,
            64,
            64,
            ms(500),
            sides,
        );
        s.push(c.labeled("idle-udp-resumed"));
    }

    // A long-lived interactive TCP session that is still open at the end.
    if secs(4) < horizon {
        let cport = ports[0].next();
        let mut conn = g.tcp_connect(&mut t, &first, &idle_peer, cport, 22, secs(3), sides);
        g.tcp_send(
            &mut t,
            &mut conn,
            Peer::Server,
            b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n",
        );
        g.tcp_send(
            &mut t,
            &mut conn,
            Peer::Client,
            b"SSH-2.0-OpenSSH_9.2p1\r\n",
        );
        loop {
            let pause = g.rng().duration(secs(5), secs(9));
            if conn.now() + pause >= duration.saturating_sub(secs(1)) {
                break;
            }
            conn.wait(pause);
            g.tcp_send_bytes(&mut t, &mut conn, Peer::Client, 36);
            g.tcp_send_bytes(&mut t, &mut conn, Peer::Server, 36);
        }
        s.push(conn.finish().labeled("ssh-open"));
    }

    // Outbound traffic the firewall-only example discards or rejects.
    let last = clients[n_clients - 1];
    let cport = ports[n_clients - 1].next();
    let c = g.tcp_syn_only(&mut t, &last, &web[0], cport, 23, duration * 2 / 5, 3);
    s.push(c.labeled("telnet"));
    let k = 1.min(n_clients - 1);
    let cport = ports[k].next();
    let c = g.udp_one_way(
        &mut t,
        &clients[k],
        &web[0],
        cport,
        69,
        duration / 2,
        2,
        &tftp_rrq("pxelinux.0"),
        secs(5),
    );
    s.push(c.labeled("tftp-rrq"));

    // Unsolicited traffic from outside 10.0.0.0/24, arriving on ge-0/0/1.
    let scanner = Host::remote(OUTSIDE_SCANNER);
    let sport = 40_000 + g.rng().below(20_000) as u16;
    let c = g.tcp_syn_only(&mut t, &scanner, &first, sport, 22, duration / 4, 2);
    s.push(c.labeled("inbound-ssh"));
    let sport = 40_000 + g.rng().below(20_000) as u16;
    let probe = snmp_get_request(g.rng().next_u32() & 0x7fff_ffff);
    let c = g.udp_one_way(
        &mut t,
        &scanner,
        &first,
        sport,
        161,
        duration * 3 / 10,
        2,
        &probe,
        secs(1),
    );
    s.push(c.labeled("inbound-snmp"));

    (t, s)
}

/// CGNAT subscribers' traffic, client side only: `n` subscribers (10.0.0.2, …) 50 ms
/// apart, each with three UDP exchanges from ports 40000–40002 to port 5300 (not DNS,
/// whose ALG closes a session on its answer), a TCP conversation from port 41000 to 80 and
/// two pings, towards its own server behind the outside next hop (198.51.100.20, …).
pub fn subscribers_traffic(n: u8) -> Trace {
    let mut g = Gen::new(5);
    let mut t = Trace::new();
    for i in 0..n {
        let start = Duration::from_millis(50 * u64::from(i));
        let cl = Host::inside([10, 0, 0, 2 + i]);
        let sv = Host::remote([198, 51, 100, 20 + i]);
        for j in 0..3u16 {
            g.udp_exchange(
                &mut t,
                &cl,
                &sv,
                40_000 + j,
                5300,
                start + Duration::from_millis(5 * u64::from(j)),
                2,
                40,
                80,
                Duration::from_millis(20),
                Sides::ClientOnly,
            );
        }
        g.tcp_conversation(
            &mut t,
            &cl,
            &sv,
            41_000,
            80,
            start + Duration::from_millis(30),
            200,
            2000,
            Sides::ClientOnly,
        );
        g.icmp_echo(
            &mut t,
            &cl,
            &sv,
            7,
            start,
            2,
            Duration::from_millis(10),
            Sides::ClientOnly,
        );
    }
    t
}

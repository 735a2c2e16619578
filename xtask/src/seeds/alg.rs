//! Seeds of the ALG parser targets (one valid message of each kind a parser acts on, so
//! the fuzzer starts from the protocol's real structure) and of the ALG engine and
//! NETCONF framing targets. Field layouts are cited per protocol.

use std::path::Path;

use anyhow::Result;
use mspic_tests::gen;

use crate::fuzz::write_seed;

const CLIENT: [u8; 4] = [10, 0, 0, 2];
const SERVER: [u8; 4] = [198, 51, 100, 7];

/// Writes every ALG, ALG-engine and NETCONF seed under `dir`.
pub fn write(dir: &Path) -> Result<()> {
    for (target, seeds) in [
        ("alg_talk", talk()),
        ("alg_pptp", pptp()),
        ("alg_ike", ike()),
        ("alg_rpc", rpc()),
        ("alg_dcerpc", dcerpc()),
        ("alg_rtsp", rtsp()),
        ("alg_sqlnet", sqlnet()),
        ("alg_h323", h323()),
        ("alg_engine", vec![("ftp-tftp-dns-talk", engine())]),
        ("netconf_framing", netconf()),
    ] {
        for (name, bytes) in seeds {
            write_seed(dir, target, name, &bytes)?;
        }
    }
    Ok(())
}

type Seeds = Vec<(&'static str, Vec<u8>)>;

/// A 16-byte `osockaddr` (family 2, port, address; zero padding).
fn sockaddr(ip: [u8; 4], port: u16) -> Vec<u8> {
    let mut b = vec![0, 2];
    b.extend_from_slice(&port.to_be_bytes());
    b.extend_from_slice(&ip);
    b.resize(16, 0);
    b
}

/// `s` in a NUL-padded field of `n` bytes.
fn field(s: &str, n: usize) -> Vec<u8> {
    let mut b = s.as_bytes().to_vec();
    b.resize(n, 0);
    b
}

/// An ntalk (protocol version 1) CTL_MSG of `kind`, 84 bytes (talkd.h of 4.3BSD-Reno).
fn ntalk(kind: u8) -> Vec<u8> {
    let mut m = vec![1, kind, 0, 0, 0, 0, 0, 42];
    m.extend(sockaddr(CLIENT, 40000));
    m.extend(sockaddr(CLIENT, 40001));
    m.extend_from_slice(&1234u32.to_be_bytes());
    m.extend([field("alice", 12), field("bob", 12), field("pts/1", 16)].concat());
    m
}

fn talk() -> Seeds {
    // Old talk (4.2BSD): type, two 9-byte names, a pad byte, ids, tty, then the two
    // addresses; 76 bytes.
    let mut old = vec![0u8];
    old.extend([field("alice", 9), field("bob", 10)].concat());
    old.extend_from_slice(&[0, 0, 0, 7, 0, 0, 0, 9]);
    old.extend(field("pts/1", 16));
    old.extend(sockaddr(CLIENT, 40000));
    old.extend(sockaddr(CLIENT, 40001));
    vec![
        ("ntalk-announce", ntalk(1)),
        ("ntalk-lookup", ntalk(2)),
        ("otalk-leave-invite", old),
    ]
}

/// A PPTP control message (RFC 2637 §2): length, message type 1, magic cookie, control
/// message type, reserved, `fields`, zero-filled to the type's fixed length.
fn pptp_ctrl(kind: u16, len: usize, fields: &[u8]) -> Vec<u8> {
    let mut v = (len as u16).to_be_bytes().to_vec();
    v.extend_from_slice(&[0, 1, 0x1a, 0x2b, 0x3c, 0x4d]);
    v.extend_from_slice(&kind.to_be_bytes());
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(fields);
    v.resize(len, 0);
    v
}

fn pptp() -> Seeds {
    vec![
        ("start-control-request", pptp_ctrl(1, 156, &[1, 0])),
        (
            "outgoing-call-request",
            pptp_ctrl(7, 168, &7u16.to_be_bytes()),
        ),
        ("outgoing-call-reply", pptp_ctrl(8, 32, &[0, 9, 0, 7, 1])),
        ("call-clear-request", pptp_ctrl(12, 16, &7u16.to_be_bytes())),
    ]
}

/// An IKE header (RFC 7296 §3.1) with `body`.
fn ike_msg(major: u8, exchange: u8, flags: u8, body: &[u8]) -> Vec<u8> {
    let mut v = 0x1122_3344_5566_7788u64.to_be_bytes().to_vec();
    v.extend_from_slice(&0x99aa_bbcc_ddee_ff00u64.to_be_bytes());
    v.extend_from_slice(&[46, major << 4, exchange, flags, 0, 0, 0, 1]);
    v.extend_from_slice(&((28 + body.len()) as u32).to_be_bytes());
    v.extend_from_slice(body);
    v
}

fn ike() -> Seeds {
    vec![
        ("v2-ike-auth-response", ike_msg(2, 35, 0x20, &[0; 8])),
        ("v1-quick-mode", ike_msg(1, 32, 0, &[0; 12])),
    ]
}

fn words(w: &[u32]) -> Vec<u8> {
    w.iter().flat_map(|x| x.to_be_bytes()).collect()
}

fn rpc() -> Seeds {
    // RFC 5531 §9 call (AUTH_NONE) to the portmapper, procedure 3 (GETPORT, RFC 1833 §3.2)
    // asking for NFS over TCP; the reply's port; a universal address (RFC 1833 §2.2).
    let getport = words(&[1, 0, 2, 100_000, 2, 3, 0, 0, 0, 0, 100_003, 3, 6, 0]);
    let reply = words(&[1, 1, 0, 0, 0, 0, 2049]);
    let mut record = (0x8000_0000u32 | getport.len() as u32)
        .to_be_bytes()
        .to_vec();
    record.extend_from_slice(&getport);
    vec![
        ("getport-call", getport),
        ("getport-reply", reply),
        ("getport-call-tcp-record", record),
        ("uaddr", b"198.51.100.7.8.1".to_vec()),
    ]
}

/// A UUID in NDR little-endian order (C706 Appendix A).
fn uuid(fields: (u32, u16, u16, [u8; 8])) -> Vec<u8> {
    let mut v = fields.0.to_le_bytes().to_vec();
    v.extend_from_slice(&fields.1.to_le_bytes());
    v.extend_from_slice(&fields.2.to_le_bytes());
    v.extend_from_slice(&fields.3);
    v
}

/// The endpoint mapper's interface, e1af8308-5d1f-11c9-91a4-08002b14a0fa.
const EPM: (u32, u16, u16, [u8; 8]) = (
    0xe1af_8308,
    0x5d1f,
    0x11c9,
    [0x91, 0xa4, 0x08, 0x00, 0x2b, 0x14, 0xa0, 0xfa],
);
/// The NDR transfer syntax, 8a885d04-1ceb-11c9-9fe8-08002b104860.
const NDR: (u32, u16, u16, [u8; 8]) = (
    0x8a88_5d04,
    0x1ceb,
    0x11c9,
    [0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60],
);

/// A connection-oriented PDU (C706 §12.6.3.1), little-endian data representation.
fn pdu(ptype: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![5, 0, ptype, 3, 0x10, 0, 0, 0];
    v.extend_from_slice(&((16 + body.len()) as u16).to_le_bytes());
    v.extend_from_slice(&[0, 0, 1, 0, 0, 0]);
    v.extend_from_slice(body);
    v
}

/// A TCP/IP tower (C706 Appendix L): interface, NDR, RPC connection-oriented, TCP port,
/// IP address floors.
fn tower(port: u16, ip: [u8; 4]) -> Vec<u8> {
    let mut t = 5u16.to_le_bytes().to_vec();
    let floors: [(Vec<u8>, Vec<u8>); 5] = [
        ([vec![0x0d], uuid(EPM), vec![3, 0]].concat(), vec![0, 0]),
        ([vec![0x0d], uuid(NDR), vec![2, 0]].concat(), vec![0, 0]),
        (vec![0x0b], vec![0, 0]),
        (vec![0x07], port.to_be_bytes().to_vec()),
        (vec![0x09], ip.to_vec()),
    ];
    for (lhs, rhs) in floors {
        t.extend_from_slice(&(lhs.len() as u16).to_le_bytes());
        t.extend(lhs);
        t.extend_from_slice(&(rhs.len() as u16).to_le_bytes());
        t.extend(rhs);
    }
    t
}

fn dcerpc() -> Seeds {
    let mut bind = vec![0xd0, 0x16, 0xd0, 0x16, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0];
    bind.extend(uuid(EPM));
    bind.extend_from_slice(&[3, 0, 0, 0]);
    bind.extend(uuid(NDR));
    bind.extend_from_slice(&2u32.to_le_bytes());
    // ept_map response (opnum 3): handle, count, conformant array of tower pointers.
    let t = tower(49_152, SERVER);
    let mut stub = vec![0u8; 20];
    for w in [1u32, 4, 0, 1, 3, t.len() as u32, t.len() as u32] {
        stub.extend_from_slice(&w.to_le_bytes());
    }
    stub.extend_from_slice(&t);
    stub.resize(stub.len().div_ceil(4) * 4 + 4, 0);
    let mut resp = (stub.len() as u32).to_le_bytes().to_vec();
    resp.extend_from_slice(&[0, 0, 0, 0]);
    resp.extend(stub);
    vec![
        ("bind-epm", pdu(11, &bind)),
        ("ept-map-response", pdu(2, &resp)),
        ("tower", t),
    ]
}

fn rtsp() -> Seeds {
    let s = "198.51.100.7";
    vec![
        (
            "setup",
            format!(
                "SETUP rtsp://{s}/media/track1 RTSP/1.0\r\nCSeq: 3\r\n\
                 Transport: RTP/AVP;unicast;client_port=49170-49171\r\n\r\n"
            )
            .into_bytes(),
        ),
        (
            "setup-reply",
            b"RTSP/1.0 200 OK\r\nCSeq: 3\r\nSession: 12345678\r\n\
              Transport: RTP/AVP;unicast;client_port=49170-49171;server_port=6970-6971\r\n\r\n"
                .to_vec(),
        ),
        (
            "interleaved-data",
            [
                b"$\x00\x00\x04abcd".as_slice(),
                b"RTSP/1.0 200 OK\r\nCSeq: 4\r\n\r\n",
            ]
            .concat(),
        ),
    ]
}

/// A TNS packet (length, checksum, type, flags, header checksum) with `body`.
fn tns(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut v = ((8 + body.len()) as u16).to_be_bytes().to_vec();
    v.extend_from_slice(&[0, 0, kind, 0, 0, 0]);
    v.extend_from_slice(body);
    v
}

fn sqlnet() -> Seeds {
    let descriptor = "(DESCRIPTION=(ADDRESS=(PROTOCOL=TCP)(HOST=198.51.100.7)(PORT=1630)))";
    let mut redirect = (descriptor.len() as u16).to_be_bytes().to_vec();
    redirect.extend_from_slice(descriptor.as_bytes());
    vec![
        ("redirect", tns(5, &redirect)),
        ("connect-descriptor", descriptor.as_bytes().to_vec()),
    ]
}

fn h323() -> Seeds {
    // A Q.931 Setup (H.225.0 §7) in a TPKT (RFC 1006): bearer capability, a single-octet
    // IE, then the User-user IE (protocol discriminator 5) carrying a PER
    // TransportAddress 10.0.0.2:12000.
    let uu = [
        0x20, 0xa8, 0x06, 0x00, 10, 0, 0, 2, 0x2e, 0xe0, 0x00, 10, 0, 0, 2, 0, 0,
    ];
    let mut q = vec![
        0x08, 0x02, 0x12, 0x34, 0x05, 0x04, 0x03, 0x88, 0x93, 0xa5, 0xa1, 0x7e,
    ];
    q.extend_from_slice(&((uu.len() + 1) as u16).to_be_bytes());
    q.push(5);
    q.extend_from_slice(&uu);
    let mut t = vec![3, 0];
    t.extend_from_slice(&((q.len() + 4) as u16).to_be_bytes());
    t.extend(q);
    // RAS (H.225.0 §7.7): the CHOICE index of RasMessage in bits 6..2 of the first
    // octet: GatekeeperRequest (0), RegistrationRequest (6), LocationConfirm (19).
    vec![
        ("tpkt-setup", t),
        ("ras-grq", vec![0x00, 0x00, 0x01]),
        ("ras-rrq", vec![6 << 2, 0x00, 0x02]),
        ("ras-lcf", vec![19 << 2, 0x00, 0x03]),
    ]
}

/// `line` preceded by a filler line that makes the whole a multiple of 4 bytes (the
/// engine target reads payload lengths in units of 4).
fn padded(filler: &str, line: &str) -> Vec<u8> {
    let pad = (4 - (filler.len() + 2 + line.len()) % 4) % 4;
    format!("{filler}{}\r\n{line}", " ".repeat(pad)).into_bytes()
}

/// alg_engine input: `[kind, seq step, time step, length / 4, payload]` records after
/// the target's own FTP handshake (kinds: 0 client→server FTP, 1 server→client FTP,
/// 2 TFTP, 3 DNS, 4 talk, 5 active data connection, 6 passive data connection).
fn engine() -> Vec<u8> {
    let port = padded("NOOP", "PORT 10,0,0,2,156,65\r\n");
    let pasv = padded(
        "200 ok",
        "227 Entering Passive Mode (198,51,100,7,195,80).\r\n",
    );
    let mut rrq = gen::tftp_rrq("boot.img");
    rrq.resize(rrq.len().div_ceil(4) * 4, 0);
    let (mut query, _) = gen::dns_messages(7, "example.org", [192, 0, 2, 1]);
    query.resize(query.len().div_ceil(4) * 4, 0);
    let records: [(u8, u8, &[u8]); 7] = [
        (0, 0, &port),
        (5, 0, b""),
        (1, 0, &pasv),
        (6, 0, b""),
        (2, 0, &rrq),
        (3, 0, &query),
        (4, 0, &ntalk(1)),
    ];
    let mut v = Vec::new();
    for (kind, step, payload) in records {
        v.extend_from_slice(&[kind, step, 1, (payload.len() / 4) as u8]);
        v.extend_from_slice(payload);
    }
    v
}

/// NETCONF (RFC 6241) messages: the first byte is where the target cuts the input in two.
fn netconf() -> Seeds {
    let eom = |m: &str| format!("{m}]]>]]>");
    let chunk = |m: &str| format!("\n#{}\n{m}\n##\n", m.len());
    let rpc = |id: u32, body: &str| format!("<rpc message-id=\"{id}\">{body}</rpc>");
    let hello = "<hello><capabilities><capability>urn:ietf:params:netconf:base:1.0\
                 </capability></capabilities></hello>";
    let cut = |n: u8, s: String| [vec![n], s.into_bytes()].concat();
    vec![
        (
            "eom-hello-get-configuration",
            cut(
                40,
                [
                    eom(hello),
                    eom(&rpc(1, "<get-configuration format=\"set\"/>")),
                ]
                .concat(),
            ),
        ),
        (
            "chunked-command",
            cut(
                9,
                chunk(&rpc(
                    2,
                    "<command format=\"xml\">show services sessions count</command>",
                )),
            ),
        ),
        (
            "chunked-rpc-lock-load-commit",
            cut(
                60,
                [
                    chunk(&rpc(3, "<lock><target><candidate/></target></lock>")),
                    chunk(&rpc(
                        4,
                        "<load-configuration action=\"merge\" format=\"text\">\
                         <configuration-text>services { }</configuration-text>\
                         </load-configuration>",
                    )),
                    chunk(&rpc(
                        5,
                        "<commit-configuration><check/></commit-configuration>",
                    )),
                    chunk(&rpc(6, "<get-service-nat-pool-information/>")),
                    chunk(&rpc(7, "<close-session/>")),
                ]
                .concat(),
            ),
        ),
    ]
}

/// UDP requests of the ALGs that listen on UDP, as (seed name, server port, payload),
/// for the frame seeds of the wire and engine targets.
pub fn udp_requests() -> Vec<(&'static str, u16, Vec<u8>)> {
    let getport = rpc().swap_remove(0).1;
    vec![
        ("ntalk-announce", 518, ntalk(1)),
        ("ike-auth", 500, ike_msg(2, 35, 0x08, &[0; 8])),
        ("rpc-getport", 111, getport),
        ("h323-ras-grq", 1719, vec![0x00, 0x00, 0x01]),
    ]
}

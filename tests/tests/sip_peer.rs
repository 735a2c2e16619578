//! The SIP ALG against SIPp (Debian's sip-tester) through mspicd with napt-44
//! (docs/examples/testbed.conf: 10.0.0.0/24 → pool 203.0.113.128/25): a SIPp UAC in the
//! client namespace calls SIPp's built-in UAS (with RTP echo) in the server namespace,
//! plays G.711 RTP for a few seconds and hangs up. A capture in the server namespace must
//! hold no inside address in any SIP message, the media must cross both ways through the
//! call's child sessions, and `show services …` must show the call while it lasts. Needs
//! root; under `CI=true` a missing prerequisite fails the test.

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use mspic_tests::live::{frames, repo_file, session_id, Live};
use mspic_tests::testbed::{self, Role, Spawned, CLIENT_ADDR, REMOTE_SERVER};

const SIPP: &str = "/usr/bin/sipp";
/// The UAS's RTP echo port (`-mp`), written in its SDP answer.
const UAS_MEDIA: u16 = 6000;
/// The UAC's media port (`-mp`), written in its SDP offer.
const UAC_MEDIA: u16 = 7078;

/// Why this machine cannot run the test (`None`: it can).
fn missing() -> Option<String> {
    if let Some(r) = testbed::unavailable() {
        return Some(r);
    }
    if let Some(r) = mspic_dataplane::xdp::kernel_lacks_feature() {
        return Some(r);
    }
    for (path, pkg) in [(SIPP, "sip-tester"), ("/usr/bin/tcpdump", "tcpdump")] {
        if !Path::new(path).exists() {
            return Some(format!("{path} missing: install {pkg} (cargo xtask deps)"));
        }
    }
    None
}

/// The flags of a `Session: …, Flags: 0x…` header.
fn flags(header: &str) -> u32 {
    let f = header
        .split("Flags: 0x")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .unwrap_or_else(|| panic!("no flags in {header}"));
    u32::from_str_radix(f, 16).unwrap()
}

/// tcpdump on the server's veth end, writing UDP and SIP-over-TCP frames to `path` as they
/// come.
fn capture(live: &Live, path: &Path) -> Spawned {
    let log = live.dir.path("tcpdump.log");
    let mut cmd = live.tb.exec(Role::Server, "tcpdump");
    cmd.args([
        "-i",
        "sv0",
        "-n",
        "--immediate-mode",
        "-U",
        "-w",
        path.to_str().unwrap(),
        "udp or tcp port 5060",
    ])
    .stdout(Stdio::null())
    .stderr(std::fs::File::create(&log).unwrap());
    let tcpdump = Spawned::new("tcpdump", cmd).unwrap();
    let started = testbed::wait_for(Duration::from_secs(10), || {
        std::fs::read_to_string(&log).is_ok_and(|l| l.contains("listening on"))
    });
    assert!(started, "tcpdump did not start");
    tcpdump
}

/// What the server saw: SIP payloads (UDP port 5060) and RTP frames each way.
#[derive(Debug, Default)]
struct Seen {
    sip: Vec<String>,
    rtp_in: u64,
    rtp_out: u64,
    /// The client's RTP source endpoints as the server saw them.
    rtp_sources: Vec<(Ipv4Addr, u16)>,
}

fn read_capture(path: &Path) -> Seen {
    let cap = mspic_tests::trace::read_capture(path).expect("server capture");
    let mut seen = Seen::default();
    for f in &cap.frames {
        let Ok(p) = mspic_wire::parse_frame(&f.data) else {
            continue;
        };
        let payload = &f.data[p.payload_offset..p.payload_offset + p.payload_len];
        let k = p.key;
        if (k.src_port == 5060 || k.dst_port == 5060) && !payload.is_empty() {
            seen.sip.push(String::from_utf8_lossy(payload).into_owned());
        } else if k.dst_port == UAS_MEDIA {
            seen.rtp_in += 1;
            if let std::net::IpAddr::V4(a) = k.src {
                if !seen.rtp_sources.contains(&(a, k.src_port)) {
                    seen.rtp_sources.push((a, k.src_port));
                }
            }
        } else if k.src_port == UAS_MEDIA {
            seen.rtp_out += 1;
        }
    }
    seen
}

/// The `m=audio` port and `c=` address of the SDP in a SIP message.
fn sdp_media(msg: &str) -> Option<(Ipv4Addr, u16)> {
    let line = |p: &str| msg.lines().find_map(|l| l.trim().strip_prefix(p));
    let addr = line("c=IN IP4 ")?.trim().parse().ok()?;
    let port = line("m=audio ")?.split_whitespace().next()?.parse().ok()?;
    Some((addr, port))
}

/// Session blocks of `show services sessions extensive` (header, I flow line, O flow line):
/// the flow lines are the two that start with the protocol, after the NAT lines.
fn extensive_sessions(text: &str) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = Vec::new();
    let mut flows = Vec::new();
    for l in text.lines() {
        if l.starts_with("Session: ") {
            out.push((l.to_string(), String::new(), String::new()));
            flows.clear();
        } else if ["UDP ", "TCP "].iter().any(|p| l.starts_with(p)) {
            if let Some(last) = out.last_mut() {
                flows.push(l.to_string());
                if flows.len() == 2 {
                    (last.1, last.2) = (flows[0].clone(), flows[1].clone());
                }
            }
        }
    }
    out
}

/// The call as `show services sessions extensive` shows it while the media flows: the
/// SIP parent (ALG: sip, Watch both ways, flag 0x2000) and a UDP child (flag 0x0800) whose
/// flows both counted RTP. Returns (parent id, child ids).
fn call_in_progress(text: &str) -> Option<(u64, Vec<u64>)> {
    let all = extensive_sessions(text);
    let parent = all.iter().find(|s| s.1.contains(":5060 "))?;
    let children: Vec<_> = all
        .iter()
        .filter(|s| flags(&s.0) & 0x0800 != 0 && s.0.contains("ALG: sip"))
        .collect();
    let media_both_ways = children
        .iter()
        .any(|c| c.1.starts_with("UDP") && frames(&c.1) >= 10 && frames(&c.2) >= 10);
    media_both_ways.then(|| {
        (
            session_id(&parent.0),
            children.iter().map(|c| session_id(&c.0)).collect(),
        )
    })
}

#[test]
fn sipp_call_over_udp_with_rtp_echo_through_napt() {
    if let Some(why) = missing() {
        testbed::skip_or_fail(&why);
        return;
    }
    call(Transport::Udp, 1);
}

/// The same on two workers: the media's two sides may hash to different shards than the
/// one that reserved the offered port.
#[test]
fn sipp_call_over_udp_on_two_workers() {
    if let Some(why) = missing() {
        testbed::skip_or_fail(&why);
        return;
    }
    call(Transport::Udp, 2);
}

/// The same call with its signalling over one TCP connection (`-t t1`).
#[test]
fn sipp_call_over_tcp_with_rtp_echo_through_napt() {
    if let Some(why) = missing() {
        testbed::skip_or_fail(&why);
        return;
    }
    call(Transport::Tcp, 1);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Udp,
    Tcp,
}

impl Transport {
    /// SIPp's `-t` and the `ss` protocol name.
    fn names(self) -> (&'static str, &'static str) {
        match self {
            Transport::Udp => ("u1", "udp"),
            Transport::Tcp => ("t1", "tcp"),
        }
    }
}

fn call(transport: Transport, workers: u32) {
    let (t, proto) = transport.names();
    let mut live = Live::start(&repo_file("docs/examples/testbed.conf"), workers);
    let cap_path = live.dir.path("server.pcap");
    let mut tcpdump = capture(&live, &cap_path);
    let uas_media = UAS_MEDIA.to_string();
    live.serve(
        "sipp-uas",
        SIPP,
        &[
            "-sn",
            "uas",
            "-i",
            REMOTE_SERVER,
            "-p",
            "5060",
            "-mi",
            REMOTE_SERVER,
            "-mp",
            &uas_media,
            "-rtp_echo",
            "-nostdin",
            "-t",
            t,
        ],
    );
    live.wait_listening(proto, 5060);

    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("sipp/uac_media.xml");
    let stats = live.dir.path("uac-stats.csv");
    let mut uac = live.tb.exec(Role::Client, SIPP);
    uac.current_dir(live.dir.path(""))
        .arg("-sf")
        .arg(&scenario)
        .arg(format!("{REMOTE_SERVER}:5060"))
        .args(["-i", CLIENT_ADDR, "-p", "5060", "-mi", CLIENT_ADDR])
        .args(["-mp", &UAC_MEDIA.to_string()])
        .args([
            "-t",
            t,
            "-m",
            "1",
            "-timeout",
            "20s",
            "-timeout_error",
            "-nostdin",
        ])
        .args(["-trace_stat", "-fd", "1", "-stf"])
        .arg(&stats)
        .stdout(std::fs::File::create(live.dir.path("uac.out")).unwrap())
        .stderr(std::fs::File::create(live.dir.path("uac.err")).unwrap());
    let mut uac = Spawned::new("sipp-uac", uac).unwrap();

    // During the call: the parent, its media child(ren) with RTP both ways, one
    // conversation.
    let mut text = String::new();
    let start = Instant::now();
    let call = loop {
        let t = live.show("show services sessions extensive");
        if t.contains("Session: ") {
            text = t.clone();
        }
        if let Some(c) = call_in_progress(&t) {
            break c;
        }
        if start.elapsed() > Duration::from_secs(10) || uac.child.try_wait().unwrap().is_some() {
            panic!(
                "no call with media both ways:\n{text}\n--- uac:\n{}\n{}\n--- mspicd:\n{}",
                read(&live.dir.path("uac.out")),
                read(&live.dir.path("uac.err")),
                live.log()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    eprintln!("{text}");
    let parent = extensive_sessions(&text)
        .into_iter()
        .find(|s| session_id(&s.0) == call.0)
        .unwrap();
    assert!(parent.0.contains("ALG: sip"), "{text}");
    assert!(flags(&parent.0) & 0x2000 != 0, "parent flag: {text}");
    assert!(
        parent.1.contains(" Watch ") && parent.2.contains(" Watch "),
        "signalling flows not in Watch: {text}"
    );
    let conv = live.show("show services alg conversations");
    eprintln!("{conv}");
    assert!(conv.contains("SIP ALG"), "{conv}");
    assert_eq!(
        conv.matches("Number of conversations: 1").count(),
        1,
        "{conv}"
    );
    assert!(
        conv.contains(&format!("Parent session : {},", call.0)),
        "{conv}"
    );
    for id in &call.1 {
        assert!(conv.contains(&format!("Child session : {id},")), "{conv}");
    }

    // The call completes: SIPp's exit status and its statistics.
    let status = uac.wait_timeout(Duration::from_secs(20)).unwrap();
    let out = read(&live.dir.path("uac.out"));
    assert!(
        status.is_some_and(|s| s.success()),
        "sipp uac: {status:?}\n{out}\n{}",
        read(&live.dir.path("uac.err"))
    );
    let csv = read(&stats);
    assert_eq!(stat(&csv, "SuccessfulCall(C)"), 1, "{csv}");
    assert_eq!(stat(&csv, "FailedCall(C)"), 0, "{csv}");

    // The BYE's 2xx ended the call: its media children are gone (over UDP the signalling
    // session with them, the agent's last call being over).
    let gone = testbed::wait_for(Duration::from_secs(3), || {
        let text = live.show("show services sessions");
        let children = extensive_sessions(&text)
            .iter()
            .any(|s| flags(&s.0) & 0x0800 != 0);
        !children && (transport == Transport::Tcp || !text.contains("ALG: sip"))
    });
    assert!(gone, "{}", live.show("show services sessions"));

    // What the server saw: no inside address anywhere in SIP, the offer naming a pool
    // endpoint, and RTP both ways from that same endpoint.
    // tcpdump writes each frame as it reads it; wait (bounded) for the BYE's 200 in the file.
    let whole = testbed::wait_for(Duration::from_secs(5), || {
        std::fs::read(&cap_path)
            .is_ok_and(|b| b.windows(11).filter(|w| w == b"CSeq: 2 BYE").count() >= 2)
    });
    assert!(
        whole,
        "the capture lacks the BYE and its answer: {:?}",
        read_capture(&cap_path).sip
    );
    tcpdump.signal("INT").unwrap();
    tcpdump.wait_timeout(Duration::from_secs(5)).unwrap();
    let seen = read_capture(&cap_path);
    assert!(seen.sip.len() >= 6, "{:?}", seen.sip);
    for m in &seen.sip {
        assert!(!m.contains("10.0.0."), "inside address at the server:\n{m}");
    }
    let invite = seen
        .sip
        .iter()
        .find(|m| m.starts_with("INVITE "))
        .expect("no INVITE at the server");
    let offer = sdp_media(invite).expect("no SDP in the INVITE");
    assert!(in_pool(offer.0), "offer {offer:?}:\n{invite}");
    assert!(seen.rtp_in >= 10 && seen.rtp_out >= 10, "{seen:?}");
    assert_eq!(
        seen.rtp_sources,
        vec![offer],
        "the client's RTP does not come from the endpoint its offer named"
    );
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

/// The last value of column `name` in SIPp's `;`-separated statistics file.
fn stat(csv: &str, name: &str) -> u64 {
    let mut lines = csv.lines();
    let head: Vec<_> = lines.next().unwrap_or("").split(';').collect();
    let col = head
        .iter()
        .position(|h| *h == name)
        .unwrap_or_else(|| panic!("no {name} in {csv}"));
    let last = lines
        .last()
        .unwrap_or_else(|| panic!("no statistics: {csv}"));
    last.split(';').nth(col).unwrap().trim().parse().unwrap()
}

/// Is `a` an address of the NAT pool (203.0.113.128/25)?
fn in_pool(a: Ipv4Addr) -> bool {
    a.octets()[..3] == [203, 0, 113] && a.octets()[3] >= 128
}

/// A registration through the PIC: SIPp registers the client's contact for 60 s; the
/// registrar (a SIPp scenario) stays silent past the PIC's 4 s inactivity timeout, then
/// sends OPTIONS to the registered contact, which answers. The registration keeps the
/// session and the contact's mapping, so the request gets through.
#[test]
fn sipp_registration_keeps_the_contact_reachable() {
    if let Some(why) = missing() {
        testbed::skip_or_fail(&why);
        return;
    }
    let conf = repo_file("docs/examples/testbed.conf");
    let short = conf.replace("inactivity-timeout 30;", "inactivity-timeout 4;");
    assert_ne!(conf, short, "the timeout of testbed.conf changed");
    let mut live = Live::start(&short, 1);
    let cap_path = live.dir.path("server.pcap");
    let mut tcpdump = capture(&live, &cap_path);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("sipp");
    let registrar = dir.join("uas_register.xml");
    live.serve(
        "sipp-registrar",
        SIPP,
        &[
            "-sf",
            registrar.to_str().unwrap(),
            "-i",
            REMOTE_SERVER,
            "-p",
            "5060",
            "-m",
            "1",
            "-nostdin",
        ],
    );
    live.wait_listening("udp", 5060);
    let mut uac = live.tb.exec(Role::Client, SIPP);
    uac.arg("-sf")
        .arg(dir.join("uac_register.xml"))
        .arg(format!("{REMOTE_SERVER}:5060"))
        .args(["-i", CLIENT_ADDR, "-p", "5060"])
        .args(["-m", "1", "-timeout", "20s", "-timeout_error", "-nostdin"])
        .stdout(std::fs::File::create(live.dir.path("uac.out")).unwrap())
        .stderr(std::fs::File::create(live.dir.path("uac.err")).unwrap());
    let mut uac = Spawned::new("sipp-uac", uac).unwrap();
    let status = uac.wait_timeout(Duration::from_secs(20)).unwrap();
    assert!(
        status.is_some_and(|s| s.success()),
        "sipp uac: {status:?}\n{}\n{}\n--- registrar:\n{}\n--- at the registrar: {:?}\n{}",
        read(&live.dir.path("uac.out")),
        read(&live.dir.path("uac.err")),
        read(&live.dir.path("sipp-registrar.out")),
        read_capture(&cap_path).sip,
        live.show("show services stateful-firewall statistics extensive"),
    );
    // The registration still holds the session, well past its inactivity timeout.
    let text = live.show("show services sessions");
    let parent = extensive_sessions(&text)
        .into_iter()
        .find(|s| s.1.contains(":5060 "))
        .unwrap_or_else(|| panic!("no SIP session: {text}"));
    assert!(parent.0.contains("ALG: sip"), "{text}");

    let whole = testbed::wait_for(Duration::from_secs(5), || {
        std::fs::read(&cap_path)
            .is_ok_and(|b| b.windows(13).filter(|w| w == b"CSeq: 2 OPTIO").count() >= 2)
    });
    assert!(whole, "{:?}", read_capture(&cap_path).sip);
    tcpdump.signal("INT").unwrap();
    tcpdump.wait_timeout(Duration::from_secs(5)).unwrap();
    let seen = read_capture(&cap_path);
    for m in &seen.sip {
        assert!(!m.contains("10.0.0."), "inside address at the server:\n{m}");
    }
    let options = seen
        .sip
        .iter()
        .find(|m| m.starts_with("OPTIONS "))
        .expect("no OPTIONS at the registrar");
    assert!(
        options.starts_with("OPTIONS sip:sipp@203.0.113.128:"),
        "{options}"
    );
}

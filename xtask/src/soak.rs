//! `cargo xtask soak --minutes N`: mspicd under a steady mix of traffic for N minutes, in a
//! testbed of its own, watched every 10 s.
//!
//! The mix (xtask/src/soak_traffic.py, run in the client namespace): HTTP downloads from
//! python's http.server, DNS queries to dnsmasq, ICMP echoes, short UDP flows to an echo
//! server, and Ethernet frames with broken IPv4 headers. mspicd runs with two workers (so
//! frames are handed between them) and short timeouts. Every 10 s the soak prints mspicd's
//! resident memory, its session count and the UMEM frames in use. It fails unless
//!
//! - the resident memory stays flat after the warm-up: the last sample is at most 1.1 times
//!   the first sample taken after it;
//! - once the traffic stops, the sessions go back to zero within the timeouts;
//! - no frame leaked: every UMEM frame is back (free or lent to the kernel for receiving),
//!   every worker's frame accounting balances, and every frame the XDP program redirected
//!   is accounted for (forwarded, answered, taken by the PIC, or dropped and counted);
//! - the traffic got through (at least 98 % of each kind) and every broken frame was
//!   counted as malformed.
//!
//! It uses the debug binaries `make test` builds (whose workers also prove their frame
//! accounting every second). Without root or network namespaces it says why and stops;
//! under `CI=true` that is an error.

use std::io::Write as _;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;
use mspic_tests::live::{counter, repo_file, Live};
use mspic_tests::testbed::{self, Role, Spawned, REMOTE_SERVER};

use crate::util::{cargo, run, workspace_root};

#[derive(Args)]
pub struct SoakArgs {
    /// How long the traffic runs.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=1440))]
    minutes: u32,
    /// Queues per veth, one mspicd worker each.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=4))]
    queues: u32,
}

/// The traffic generator (see its header).
const TRAFFIC: &str = include_str!("soak_traffic.py");
/// Interval between samples.
const SAMPLE_EVERY: Duration = Duration::from_secs(10);
/// Samples before this are warm-up (the session table and the allocator settle).
const WARM_UP: Duration = Duration::from_secs(30);
/// Allowed growth of the resident memory from the first sample after warm-up to the last.
const RSS_SLACK: f64 = 1.1;
/// Each kind of traffic must succeed this often.
const MIN_SUCCESS: f64 = 0.98;
/// Session timeouts of the soak's configuration (inactivity, TCP handshake, after close).
const TIMEOUTS: &str =
    "            inactivity-timeout 8;\n            open-timeout 4;\n            close-timeout 4;";

const PYTHON: &str = "/usr/bin/python3";

struct Sample {
    at: Duration,
    rss_kib: u64,
    sessions: u64,
    umem_in_use: u64,
    received: u64,
}

fn rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status (mspicd gone?)"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .context("no VmRSS in /proc/PID/status")
}

fn sample(live: &Live, start: Instant) -> Result<(Sample, String)> {
    let rss_kib = rss_kib(live.daemon_pid())?;
    let status = live.status();
    Ok((
        Sample {
            at: start.elapsed(),
            rss_kib,
            sessions: counter(&status, "sessions"),
            umem_in_use: counter(&status, "in use"),
            received: counter(&status, "received"),
        },
        status,
    ))
}

fn print_sample(s: &Sample) {
    println!(
        "{:>6.0} s  {:>8.1} MB  {:>8} sessions  {:>5} UMEM frames in use  {:>10} frames received",
        s.at.as_secs_f64(),
        s.rss_kib as f64 / 1024.0,
        s.sessions,
        s.umem_in_use,
        s.received
    );
    let _ = std::io::stdout().flush();
}

/// `"kind": {"attempts": A, "ok": O}` from the generator's JSON line.
fn traffic_counts(json: &str, kind: &str) -> Option<(u64, u64)> {
    let rest = &json[json.find(&format!("\"{kind}\""))?..];
    let num = |key: &str| -> Option<u64> {
        let r = &rest[rest.find(&format!("\"{key}\": "))? + key.len() + 4..];
        r.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
    };
    Some((num("attempts")?, num("ok")?))
}

/// The MAC address of `dev` in the PIC namespace.
fn pic_mac(live: &Live, dev: &str) -> Result<String> {
    let out = live.exec(Role::Pic, "ip", &["-br", "link", "show", "dev", dev]);
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .nth(2)
        .map(str::to_string)
        .with_context(|| format!("no MAC address for {dev}: {text}"))
}

fn wait_listening(live: &Live, proto: &str, port: u16) -> Result<()> {
    live.tb
        .wait_listening(Role::Server, proto, port, Duration::from_secs(15))
        .map_err(anyhow::Error::from)
}

pub fn run_soak(a: &SoakArgs) -> Result<()> {
    if let Some(why) = testbed::unavailable() {
        if testbed::in_ci() {
            bail!("soak: prerequisite missing under CI=true: {why}");
        }
        println!("soak skipped: {why}");
        return Ok(());
    }
    let root = workspace_root();
    println!("==> building mspicd and mspic");
    run(cargo()
        .args(["build", "-p", "mspic-cli", "--quiet"])
        .current_dir(&root))
    .context("building mspicd failed")?;

    let config = repo_file("docs/examples/testbed.conf").replace(
        "            inactivity-timeout 30;\n            open-timeout 5;",
        TIMEOUTS,
    );
    if !config.contains("close-timeout 4;") {
        bail!("docs/examples/testbed.conf changed: the soak cannot set its timeouts");
    }
    let mut live = Live::start(&config, a.queues);
    let www = live.dir.path("www");
    std::fs::create_dir_all(&www)?;
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let body: Vec<u8> = (0..256 * 1024)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    std::fs::write(www.join("soak.bin"), &body)?;
    let www = www.to_str().context("scratch path")?.to_string();
    live.serve(
        "http",
        PYTHON,
        &[
            "-m",
            "http.server",
            "80",
            "--bind",
            REMOTE_SERVER,
            "--directory",
            &www,
        ],
    );
    let pid_file = live.dir.path("dnsmasq.pid");
    live.serve(
        "dns",
        "dnsmasq",
        &[
            "--keep-in-foreground",
            "--no-resolv",
            "--no-hosts",
            "--user=root",
            "--port=53",
            &format!("--listen-address={REMOTE_SERVER}"),
            "--bind-interfaces",
            &format!("--address=/example.test/{REMOTE_SERVER}"),
            &format!("--pid-file={}", pid_file.display()),
        ],
    );
    live.serve(
        "udp-echo",
        PYTHON,
        &[
            "-c",
            "import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(('198.51.100.7',7))\nwhile True:\n d,a=s.recvfrom(2048)\n s.sendto(d,a)",
        ],
    );
    wait_listening(&live, "tcp", 80)?;
    wait_listening(&live, "udp", 53)?;
    wait_listening(&live, "udp", 7)?;
    let mac = pic_mac(&live, "pin")?;

    let seconds = u64::from(a.minutes) * 60;
    println!(
        "==> soak: {} min of HTTP, DNS, ping, short UDP flows and malformed frames through mspicd ({} workers, pid {})",
        a.minutes,
        a.queues,
        live.daemon_pid()
    );
    let traffic_out = live.dir.path("traffic.out");
    let mut gen = live.tb.exec(Role::Client, PYTHON);
    gen.args(["-c", TRAFFIC, &seconds.to_string(), &mac])
        .stdout(std::fs::File::create(&traffic_out)?)
        .stderr(std::fs::File::create(live.dir.path("traffic.log"))?)
        .stdin(Stdio::null());
    let start = Instant::now();
    let mut gen = Spawned::new("traffic", gen)?;

    // Every SAMPLE_EVERY until the generator is done (it stops itself after `seconds`).
    let mut samples: Vec<Sample> = Vec::new();
    let give_up = Duration::from_secs(seconds + 60);
    let mut next = SAMPLE_EVERY;
    loop {
        if let Some(status) = gen.child.try_wait()? {
            if !status.success() {
                bail!(
                    "the traffic generator failed ({status}): {}",
                    std::fs::read_to_string(live.dir.path("traffic.log")).unwrap_or_default()
                );
            }
            break;
        }
        if start.elapsed() > give_up {
            bail!("the traffic generator did not stop after {seconds} s");
        }
        if start.elapsed() >= next {
            let (s, _) = sample(&live, start)?;
            print_sample(&s);
            samples.push(s);
            next += SAMPLE_EVERY;
        }
        if let Ok(Some(status)) = live.daemon.child.try_wait() {
            bail!("mspicd exited ({status}):\n{}", live.log());
        }
        // The sampling clock's tick, not a wait for an event.
        std::thread::sleep(Duration::from_millis(200));
    }
    let traffic = std::fs::read_to_string(&traffic_out)?;

    // After the traffic: the sessions expire, every frame comes back.
    let stopped = start.elapsed();
    let drained = testbed::wait_for(Duration::from_secs(60), || {
        live.status().contains("\nsessions: 0\n")
    });
    let drain_time = start.elapsed() - stopped;
    let quiet = testbed::wait_for(Duration::from_secs(10), || {
        let s = live.status();
        counter(&s, "in use") == 0 && s.contains("frame accounting: balanced")
    });
    let (last, status) = sample(&live, start)?;
    print_sample(&last);

    // The verdict.
    let mut failures: Vec<String> = Vec::new();
    let warm = samples.iter().find(|s| s.at >= WARM_UP);
    let during = samples.last();
    let rss_line = match (warm, during) {
        (Some(w), Some(l)) => {
            let ratio = l.rss_kib as f64 / w.rss_kib as f64;
            if ratio > RSS_SLACK {
                failures.push(format!(
                    "resident memory grew from {} KiB at {:.0} s to {} KiB at {:.0} s ({ratio:.3}×, more than {RSS_SLACK}×)",
                    w.rss_kib,
                    w.at.as_secs_f64(),
                    l.rss_kib,
                    l.at.as_secs_f64()
                ));
            }
            format!(
                "RSS {:.1} MB after the warm-up ({:.0} s), {:.1} MB at the last sample ({:.0} s): {ratio:.3}×; peak {:.1} MB",
                w.rss_kib as f64 / 1024.0,
                w.at.as_secs_f64(),
                l.rss_kib as f64 / 1024.0,
                l.at.as_secs_f64(),
                samples.iter().map(|s| s.rss_kib).max().unwrap_or(0) as f64 / 1024.0
            )
        }
        _ => {
            failures.push("too short: no sample after the warm-up".into());
            String::new()
        }
    };
    if !drained {
        failures.push(format!(
            "sessions did not go back to zero within 60 s:\n{status}"
        ));
    }
    if !quiet {
        failures.push(format!("UMEM frames not all back:\n{status}"));
    }
    let c = |l: &str| counter(&status, l);
    if c("free") + c("receiving") != c("umem") {
        failures.push(format!("UMEM frames missing:\n{status}"));
    }
    let redirected = c("redirected");
    let kernel_dropped = c("rx dropped") + c("rx ring full");
    if redirected != c("received") + kernel_dropped {
        failures.push(format!(
            "frames redirected by XDP ≠ received + dropped by the kernel:\n{status}"
        ));
    }
    let accounted = c("forwarded")
        + c("replies")
        + c("to the PIC's addresses")
        + c("ARP frames")
        + c("IPv6 frames kept by the PIC")
        + c("by the engine")
        + c("at handoff");
    if c("received") != accounted {
        failures.push(format!(
            "frames received ({}) ≠ forwarded, answered, local or dropped ({accounted}):\n{status}",
            c("received")
        ));
    }
    // `mspic ping`'s own balances: every frame seen, to send, handed to a socket.
    for line in status.lines().filter(|l| l.starts_with("balance: ")) {
        if !line.contains("difference 0") {
            failures.push(format!("a balance does not add up: {line}\n{status}"));
        }
    }
    let mut mix = Vec::new();
    for kind in ["http", "dns", "ping", "udp", "malformed"] {
        let Some((attempts, ok)) = traffic_counts(&traffic, kind) else {
            failures.push(format!("no {kind} count from the generator: {traffic}"));
            continue;
        };
        mix.push(format!("{kind} {ok}/{attempts}"));
        if attempts == 0 || (ok as f64) < MIN_SUCCESS * attempts as f64 {
            failures.push(format!("{kind}: {ok} of {attempts} succeeded"));
        }
        if kind == "malformed" && c("malformed") < ok {
            failures.push(format!(
                "{ok} malformed frames sent, {} counted by the steering program",
                c("malformed")
            ));
        }
    }

    println!(
        "\nsummary: cargo xtask soak --minutes {} --queues {}",
        a.minutes, a.queues
    );
    println!("  traffic: {}", mix.join(", "));
    println!("  {rss_line}");
    println!(
        "  sessions: at most {} during the run, 0 {:.0} s after the traffic stopped (timeouts: inactivity 8 s, open 4 s, close 4 s)",
        samples.iter().map(|s| s.sessions).max().unwrap_or(0),
        drain_time.as_secs_f64()
    );
    println!(
        "  frames: {} redirected by XDP = {} received + {kernel_dropped} dropped by the kernel; UMEM in use at most {} during the run, {} at the end; accounting {}",
        redirected,
        c("received"),
        samples.iter().map(|s| s.umem_in_use).max().unwrap_or(0),
        c("in use"),
        if status.contains("frame accounting: balanced") {
            "balanced"
        } else {
            "NOT balanced"
        }
    );
    println!("  mspicd at the end:");
    for l in status.lines().skip_while(|l| !l.starts_with("frames:")) {
        println!("    {l}");
    }
    if !failures.is_empty() {
        bail!("soak failed:\n  {}", failures.join("\n  "));
    }
    println!("soak passed");
    drop(gen);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_generators_counts() {
        let j = r#"{"http": {"attempts": 480, "ok": 479}, "dns": {"attempts": 2400, "ok": 2400}}"#;
        assert_eq!(traffic_counts(j, "http"), Some((480, 479)));
        assert_eq!(traffic_counts(j, "dns"), Some((2400, 2400)));
        assert_eq!(traffic_counts(j, "ping"), None);
    }

    #[test]
    fn reads_resident_memory() {
        assert!(rss_kib(std::process::id()).unwrap() > 0);
    }
}

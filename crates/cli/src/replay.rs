//! `mspic replay`: a capture through the engine, offline.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;
use mspic_offline::pcap::Reader;
use mspic_offline::replay::{Replay, ReplayOptions};
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::{DataLink, TsResolution};

#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// Junos configuration (braces or `set` lines).
    #[arg(long)]
    config: PathBuf,
    /// Capture to replay (pcap or pcapng, Ethernet).
    #[arg(long)]
    pcap: PathBuf,
    /// Write every frame the engine sends (forwarded or generated) to this pcap.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Number of shards (one per worker in the daemon).
    #[arg(long, default_value_t = 1)]
    workers: u32,
    /// A show/clear command to run after the replay; repeatable, run in order.
    /// Default: `show services sessions`.
    #[arg(long = "command", value_name = "COMMAND")]
    commands: Vec<String>,
    /// Ingress interface for every frame (default: the interface whose connected subnet
    /// holds the frame's source address).
    #[arg(long)]
    ingress: Option<String>,
    /// Print `user@mspic> COMMAND` before each command's output.
    #[arg(long)]
    echo: bool,
    /// Do not verify TCP/UDP/ICMP checksums.
    #[arg(long)]
    no_verify_checksums: bool,
    /// Answer every frame sent out of an interface with no service set with its mirror
    /// reply (SYN → SYN-ACK, data → ACK, FIN → FIN-ACK, UDP echoed, ping answered), so a
    /// capture of the clients alone makes complete round trips.
    #[arg(long)]
    respond: bool,
    /// Write the syslog lines the service sets' `syslog host`s would receive (session,
    /// NAT and firewall logs), one datagram per line, stamped with the capture's time.
    #[arg(long, value_name = "FILE")]
    syslog: Option<PathBuf>,
}

/// The `--syslog` file: each log's line for each host that takes it.
struct SyslogFile {
    out: BufWriter<File>,
}

impl SyslogFile {
    fn create(p: &std::path::Path) -> Result<SyslogFile> {
        let f = File::create(p).with_context(|| format!("cannot create {}", p.display()))?;
        Ok(SyslogFile {
            out: BufWriter::new(f),
        })
    }

    /// Writes the lines of the events `replay` made since the last call.
    fn write(&mut self, replay: &mut Replay) -> Result<()> {
        let mut res = Ok(());
        replay.drain_log_lines(|line| {
            if res.is_ok() {
                res = writeln!(self.out, "{line}");
            }
        });
        res.context("cannot write the syslog file")
    }
}

/// Progress of a long replay on a terminal: frames, capture time covered, frames per second
/// (nothing at all when stderr is not a terminal).
struct Progress {
    bar: indicatif::ProgressBar,
    first_ts: std::cell::Cell<Option<u64>>,
    frames: std::cell::Cell<u64>,
    started: std::time::Instant,
}

impl Progress {
    /// Frames between two updates of the line.
    const EVERY: u64 = 4096;

    fn new() -> Progress {
        use std::io::IsTerminal;
        let bar = if std::io::stderr().is_terminal() {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.set_style(
                indicatif::ProgressStyle::with_template("{spinner} replaying: {msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            bar
        } else {
            indicatif::ProgressBar::hidden()
        };
        Progress {
            bar,
            first_ts: std::cell::Cell::new(None),
            frames: std::cell::Cell::new(0),
            started: std::time::Instant::now(),
        }
    }

    fn frame(&self, ts_nanos: u64) {
        let n = self.frames.get() + 1;
        self.frames.set(n);
        let first = *self.first_ts.get().get_or_insert(ts_nanos);
        self.first_ts.set(Some(first));
        if n.is_multiple_of(Self::EVERY) && !self.bar.is_hidden() {
            let capture = Duration::from_nanos(ts_nanos.saturating_sub(first));
            let secs = self.started.elapsed().as_secs_f64().max(1e-3);
            self.bar.set_message(format!(
                "{n} frames, {:.1} s of capture, {:.0} frames/s",
                capture.as_secs_f64(),
                n as f64 / secs
            ));
            self.bar.tick();
        }
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

pub fn run(a: &ReplayArgs) -> Result<ExitCode> {
    let cfg = match crate::load_config(&a.config)? {
        Ok(c) => c,
        Err(errors) => {
            eprintln!("{errors}");
            bail!("configuration {} has errors", a.config.display());
        }
    };
    let policy = crate::compile(&cfg)?;
    let show = mspic_control::ExecuteOptions::for_config(&cfg);
    let data = mspic_cli::input::read_capture(&a.pcap)?;
    let reader = Reader::new(&data)
        .with_context(|| format!("{}: not a usable capture", a.pcap.display()))?;
    let opts = ReplayOptions {
        workers: a.workers,
        ingress: a.ingress.clone(),
        verify_checksums: !a.no_verify_checksums,
        respond: a.respond,
        ..ReplayOptions::default()
    };
    let mut replay = Replay::new(policy, &opts)?;
    let mut writer = match &a.out {
        None => None,
        Some(p) => {
            let f = File::create(p).with_context(|| format!("cannot create {}", p.display()))?;
            let header = PcapHeader {
                datalink: DataLink::ETHERNET,
                ts_resolution: TsResolution::NanoSecond,
                ..PcapHeader::default()
            };
            Some(PcapWriter::with_header(BufWriter::new(f), header)?)
        }
    };
    let mut syslog = a.syslog.as_deref().map(SyslogFile::create).transpose()?;
    let progress = Progress::new();
    for rec in reader {
        let rec = rec.with_context(|| format!("{}: malformed capture", a.pcap.display()))?;
        progress.frame(rec.ts_nanos);
        for out in replay.process(rec.ts_nanos, rec.data) {
            if let Some(w) = writer.as_mut() {
                let pkt = PcapPacket::new(
                    Duration::from_nanos(out.ts_nanos),
                    out.frame.len() as u32,
                    &out.frame,
                );
                w.write_packet(&pkt)
                    .with_context(|| "cannot write the output capture".to_string())?;
            }
        }
        if let Some(s) = syslog.as_mut() {
            s.write(&mut replay)?;
        }
    }
    if let Some(w) = writer {
        let mut inner = w.into_writer();
        inner.flush().context("cannot write the output capture")?;
    }
    progress.finish();
    let c = &replay.counters;
    eprintln!(
        "replayed {} frames ({} from the responder): {} forwarded, {} replies generated, {} dropped, {} local, {} not IP, {} with no ingress interface",
        c.frames_in, c.responses, c.forwarded, c.replies, c.dropped, c.local, c.not_ip, c.no_ingress
    );
    let commands = if a.commands.is_empty() {
        vec!["show services sessions".to_string()]
    } else {
        a.commands.clone()
    };
    let mut stdout = std::io::stdout().lock();
    let mut failed = false;
    for cmd in &commands {
        if a.echo {
            writeln!(stdout, "user@mspic> {cmd}")?;
        }
        match mspic_control::execute_with(cmd, &mut replay, &show) {
            Ok(text) => write!(stdout, "{text}")?,
            Err(e) => {
                writeln!(stdout, "{e}")?;
                failed = true;
            }
        }
    }
    if let Some(mut s) = syslog {
        // What the commands did (a clear closes sessions).
        s.write(&mut replay)?;
        s.out.flush().context("cannot write the syslog file")?;
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

//! `mspicd`: loads the configuration, starts the engine, serves the control socket,
//! reloads on SIGHUP and `request commit`, stops cleanly on SIGTERM/SIGINT.
//!
//! Threads: the control thread (the caller of [`main`]) owns the engine and handles one
//! [`Event`] at a time, so commands and reloads never race; an accept thread with one
//! thread per connection ([`crate::server`]); a signal thread.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::engine::{Engine, LoadedConfig, OfflineEngine, OfflineOptions};
use crate::server::{self, ControlSocket, Job, Reply, ServerOptions, ServerStats};
use crate::{DEFAULT_SOCKET, SOCKET_ENV};

/// XDP attach mode of the live dataplane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum XdpModeArg {
    /// Driver mode (veth and most NICs support it; required for correct queue numbers).
    Native,
    /// Generic (SKB) mode: works everywhere, slower, misreports queues on veth.
    Skb,
}

#[derive(Parser, Debug, Clone)]
#[command(
    name = "mspicd",
    version,
    about = "mspic daemon: runs the MS-PIC engine and answers `mspic show …` on a control socket",
    after_help = "Signals: SIGHUP re-reads --config FILE (a configuration with errors is refused and \
the running one stays); SIGTERM or SIGINT detach from the network devices, remove the socket \
and exit 0.\n\nWith --offline no dataplane is started: the daemon serves the control socket over \
an engine that sees no packets, or only those of --replay-pcap (load a capture, then inspect \
it with `mspic cli`). Logs go to stderr; set RUST_LOG (e.g. RUST_LOG=debug) for more."
)]
pub struct DaemonArgs {
    /// Junos configuration (braces or `set` lines); re-read on SIGHUP.
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Control socket to serve (its directory is created with mode 0750, the socket gets 0660).
    #[arg(long, value_name = "PATH", env = SOCKET_ENV, default_value = DEFAULT_SOCKET)]
    pub socket: PathBuf,
    /// Worker threads, one session-table shard and one receive queue each [default:
    /// `emulator workers` of the configuration, else the queues, else 1].
    #[arg(long, value_name = "N")]
    pub workers: Option<u32>,
    /// Receive queues used on each device, one worker each (live engine) [default: `emulator
    /// queues` of the configuration, else the workers, else 1].
    #[arg(long, value_name = "N")]
    pub queues: Option<u32>,
    /// XDP attach mode.
    #[arg(long, value_enum, value_name = "MODE", default_value_t = XdpModeArg::Native)]
    pub xdp_mode: XdpModeArg,
    /// UMEM frames per worker (locked memory: frames x frame size per worker) [default: 2048].
    #[arg(long, value_name = "N")]
    pub umem_frames: Option<u32>,
    /// UMEM frame size in bytes, a power of two from 2048 to 65536 [default: 2048].
    #[arg(long, value_name = "BYTES")]
    pub frame_size: Option<u32>,
    /// Frames each handoff ring between two workers holds; a frame for a full ring is
    /// dropped and counted [default: 1024].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=65536))]
    pub handoff_depth: Option<u32>,
    /// Pin each worker thread to its own CPU.
    #[arg(long)]
    pub pin_cpus: bool,
    /// Run without a dataplane: no device is touched, no privilege is needed. Sessions come
    /// only from --replay-pcap. For trying configurations and for tests of the CLI.
    #[arg(long)]
    pub offline: bool,
    /// With --offline: replay this capture (pcap or pcapng) into the engine before serving,
    /// as `mspic replay` does; the capture is replayed again after each reload.
    #[arg(long, value_name = "FILE", requires = "offline")]
    pub replay_pcap: Option<PathBuf>,
    /// With --replay-pcap: answer frames leaving interfaces without a service set with
    /// their mirror reply (as `mspic replay --respond`).
    #[arg(long, requires = "replay_pcap")]
    pub replay_respond: bool,
    /// Seconds a client has to send a whole request, from its first byte, before it is
    /// disconnected.
    #[arg(long, value_name = "SECONDS", default_value_t = 5.0)]
    pub request_timeout: f64,
}

/// Options of the live engine, from the command line and the `emulator` stanza.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveOptions {
    pub workers: u32,
    pub queues: u32,
    pub xdp_mode: XdpModeArg,
    pub umem_frames: u32,
    pub frame_size: u32,
    pub handoff_depth: u32,
    pub pin_cpus: bool,
}

/// UMEM frames per worker unless `--umem-frames` says otherwise (4 MiB of locked memory
/// per worker with the default frame size).
pub const DEFAULT_UMEM_FRAMES: u32 = 2048;
/// UMEM frame size unless `--frame-size` says otherwise.
pub const DEFAULT_FRAME_SIZE: u32 = 2048;
/// Frames per handoff ring unless `--handoff-depth` says otherwise.
pub const DEFAULT_HANDOFF_DEPTH: u32 = 1024;

/// What the control thread handles, one at a time.
#[derive(Debug)]
pub enum Event {
    /// A request from a client.
    Job(Job),
    /// SIGHUP: re-read the configuration file.
    Reload,
    /// SIGTERM or SIGINT.
    Stop(&'static str),
}

/// Why the daemon did not start.
#[derive(Debug)]
enum StartError {
    /// The configuration has errors: diagnostics, one per line.
    Config {
        file: PathBuf,
        errors: String,
    },
    Other(String),
}

impl From<String> for StartError {
    fn from(s: String) -> Self {
        StartError::Other(s)
    }
}

/// `mspicd` with parsed arguments; returns the process exit code.
pub fn main(args: DaemonArgs) -> ExitCode {
    init_tracing();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(StartError::Config { file, errors }) => {
            for line in errors.lines() {
                eprintln!("{line}");
            }
            eprintln!(
                "mspicd: configuration {} has errors; not started",
                file.display()
            );
            ExitCode::FAILURE
        }
        Err(StartError::Other(e)) => {
            eprintln!("mspicd: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(filter)
        .with_target(false)
        .try_init();
}

fn load(file: &std::path::Path) -> Result<LoadedConfig, StartError> {
    let text = match crate::input::read_config(file) {
        Ok(t) => t,
        Err(crate::input::InputError::Invalid(errors)) => {
            return Err(StartError::Config {
                file: file.to_path_buf(),
                errors,
            })
        }
        Err(e) => return Err(StartError::Other(e.to_string())),
    };
    LoadedConfig::from_text(&text, &file.display().to_string()).map_err(|errors| {
        StartError::Config {
            file: file.to_path_buf(),
            errors,
        }
    })
}

/// The live engine's options: command line first, then the configuration.
///
/// Each worker serves one receive queue, so when only one of `workers` and `queues` is
/// given the other follows it.
pub fn live_options(args: &DaemonArgs, config: &LoadedConfig) -> LiveOptions {
    let emu = &config.config.emulator;
    let workers = args.workers.or(emu.workers);
    let queues = args.queues.or(emu.queues);
    LiveOptions {
        workers: workers.or(queues).unwrap_or(1),
        queues: queues.or(workers).unwrap_or(1),
        xdp_mode: args.xdp_mode,
        umem_frames: args.umem_frames.unwrap_or(DEFAULT_UMEM_FRAMES),
        frame_size: args.frame_size.unwrap_or(DEFAULT_FRAME_SIZE),
        handoff_depth: args.handoff_depth.unwrap_or(DEFAULT_HANDOFF_DEPTH),
        pin_cpus: args.pin_cpus,
    }
}

/// What the live dataplane needs and is missing, as one line: no ports, a device that does
/// not exist, missing capabilities.
pub fn live_preflight(config: &LoadedConfig) -> Result<(), String> {
    if !cfg!(feature = "live") {
        return Err(NO_LIVE.to_string());
    }
    if config.ports.is_empty() {
        return Err(format!(
            "{}: no `emulator interface NAME device NETDEV` statement: no device to attach to (add one, or run with --offline)",
            config.name
        ));
    }
    for p in &config.ports {
        if !crate::sys::netdev_exists(&p.netdev) {
            return Err(format!(
                "emulator interface {}: network device '{}' does not exist (see `ip link show`)",
                p.name, p.netdev
            ));
        }
    }
    if let Some(eff) = crate::sys::effective_capabilities() {
        let missing = crate::sys::missing_dataplane_capabilities(eff);
        if !missing.is_empty() {
            return Err(format!(
                "missing {} to attach XDP programs and open AF_XDP sockets: run mspicd as root, or grant them with `setcap cap_net_admin,cap_net_raw,cap_bpf,cap_ipc_lock+ep mspicd`",
                missing.join(", ")
            ));
        }
    }
    Ok(())
}

struct State {
    engine: Box<dyn Engine>,
    config: LoadedConfig,
    /// When and how the configuration in force was installed.
    loaded_at: Instant,
    loaded_by: &'static str,
    started: Instant,
    stats: Arc<ServerStats>,
}

impl State {
    /// Installs `new` (from a commit or SIGHUP); the old configuration stays on error.
    fn install(&mut self, new: LoadedConfig, by: &'static str) -> Result<(), String> {
        self.engine.reload(&new)?;
        tracing::info!("configuration {} in force ({by})", new.name);
        self.config = new;
        self.loaded_at = Instant::now();
        self.loaded_by = by;
        Ok(())
    }

    fn status(&self) -> String {
        let s = &self.stats;
        let mut text = format!(
            "mspicd {}, control protocol {}\n\
             engine: {}\n\
             configuration: {} ({} {} s ago)\n\
             up {} s; {} requests, {} bad requests, {} connections refused, {} pending connections closed for others\n",
            env!("CARGO_PKG_VERSION"),
            mspic_control::protocol::VERSION,
            self.engine.describe(),
            self.config.name,
            self.loaded_by,
            self.loaded_at.elapsed().as_secs(),
            self.started.elapsed().as_secs(),
            s.requests.load(Ordering::Relaxed),
            s.bad_requests.load(Ordering::Relaxed),
            s.refused_connections.load(Ordering::Relaxed),
            s.evicted_connections.load(Ordering::Relaxed),
        );
        for line in self.engine.status() {
            text.push_str(&line);
            text.push('\n');
        }
        text
    }
}

fn run(args: &DaemonArgs) -> Result<(), StartError> {
    let config = load(&args.config)?;
    for w in config.warnings() {
        tracing::warn!("{w}");
    }
    let live = live_options(args, &config);
    if !args.offline {
        live_preflight(&config)?;
    }
    let request_timeout = Duration::try_from_secs_f64(args.request_timeout)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| "--request-timeout must be a positive number of seconds".to_string())?;

    // Signals first: from here on SIGTERM is ours to handle.
    let (tx, rx) = mpsc::channel::<Event>();
    let mut signals = Signals::new([SIGHUP, SIGTERM, SIGINT])
        .map_err(|e| format!("cannot install signal handlers: {e}"))?;
    {
        let tx = tx.clone();
        std::thread::Builder::new()
            .name("mspicd-signals".into())
            .spawn(move || {
                let mut stopping = false;
                for sig in signals.forever() {
                    let ev = match sig {
                        SIGHUP => Event::Reload,
                        SIGTERM | SIGINT if stopping => {
                            tracing::warn!("second stop signal: exiting at once");
                            std::process::exit(1);
                        }
                        SIGTERM => Event::Stop("SIGTERM"),
                        _ => Event::Stop("SIGINT"),
                    };
                    stopping |= matches!(ev, Event::Stop(_));
                    if tx.send(ev).is_err() {
                        return;
                    }
                }
            })
            .map_err(|e| format!("cannot start the signal thread: {e}"))?;
    }

    // The socket before the engine: a second daemon must not touch the devices of the
    // one already running.
    let socket = ControlSocket::bind(&args.socket)?;
    let engine: Box<dyn Engine> = if args.offline {
        let workers = args.workers.or(config.config.emulator.workers).unwrap_or(1);
        let opts = OfflineOptions {
            workers,
            capture: args.replay_pcap.clone(),
            respond: args.replay_respond,
        };
        match OfflineEngine::start(&config, opts) {
            Ok(e) => Box::new(e),
            Err(e) => {
                socket.remove();
                return Err(e.into());
            }
        }
    } else {
        match start_live(&config, &live) {
            Ok(e) => e,
            Err(e) => {
                socket.remove();
                return Err(e.into());
            }
        }
    };

    let stats = Arc::new(ServerStats::default());
    let listener = match socket.listener() {
        Ok(l) => l,
        Err(e) => {
            let _ = engine.stop();
            socket.remove();
            return Err(format!("cannot use the control socket: {e}").into());
        }
    };
    {
        let jobs = tx.clone();
        let submit: server::Submit = Arc::new(move |job| jobs.send(Event::Job(job)).is_ok());
        let stats = Arc::clone(&stats);
        let options = ServerOptions {
            request_timeout,
            ..ServerOptions::default()
        };
        let spawned = std::thread::Builder::new()
            .name("mspicd-accept".into())
            .spawn(move || server::accept_loop(listener, submit, stats, options));
        if let Err(e) = spawned {
            let _ = engine.stop();
            socket.remove();
            return Err(format!("cannot start the accept thread: {e}").into());
        }
    }
    drop(tx);

    let now = Instant::now();
    let mut state = State {
        engine,
        config,
        loaded_at: now,
        loaded_by: "loaded at start",
        started: now,
        stats,
    };
    tracing::info!(
        "mspicd {} serving {} (engine: {}; configuration: {})",
        env!("CARGO_PKG_VERSION"),
        socket.path().display(),
        state.engine.describe(),
        state.config.name
    );

    let reason = control_loop(&mut state, &rx, args);
    tracing::info!("{reason}: stopping");
    let result = state.engine.stop();
    socket.remove();
    match result {
        Ok(()) => {
            tracing::info!("stopped");
            Ok(())
        }
        Err(e) => Err(format!("stopping the engine: {e}").into()),
    }
}

/// Handles events until a stop signal; returns its name.
fn control_loop(state: &mut State, rx: &mpsc::Receiver<Event>, args: &DaemonArgs) -> &'static str {
    for ev in rx {
        match ev {
            Event::Job(Job::Command { line, reply }) => {
                let r: Reply =
                    show_configuration(&line, &state.config.config).unwrap_or_else(|| {
                        // The layout follows the running configuration's junos-release.
                        let show = mspic_control::ExecuteOptions::for_config(&state.config.config);
                        mspic_control::execute_with(&line, state.engine.backend(), &show)
                            .map_err(|e| e.to_string())
                    });
                let _ = reply.send(r);
            }
            Event::Job(Job::Commit {
                config,
                warnings,
                reply,
            }) => {
                let name = config.name.clone();
                let r = match state.install(*config, "committed") {
                    Ok(()) => {
                        let mut text = String::new();
                        for w in warnings {
                            text.push_str(&w);
                            text.push('\n');
                        }
                        text.push_str("commit complete\n");
                        Ok(text)
                    }
                    Err(e) => {
                        tracing::error!("commit of {name} failed: {e}");
                        Err(format!("error: commit failed: {e}"))
                    }
                };
                let _ = reply.send(r);
            }
            Event::Job(Job::Ping { client, reply }) => {
                tracing::debug!("ping from {client}");
                let _ = reply.send(Ok(state.status()));
            }
            Event::Reload => {
                tracing::info!("SIGHUP: reloading {}", args.config.display());
                match LoadedConfig::from_file(&args.config) {
                    Ok(new) => {
                        for w in new.warnings() {
                            tracing::warn!("{w}");
                        }
                        if let Err(e) = state.install(new, "reloaded on SIGHUP") {
                            tracing::error!("reload failed, the running configuration stays: {e}");
                        }
                    }
                    Err(errors) => {
                        for line in errors.lines() {
                            tracing::error!("{line}");
                        }
                        tracing::error!(
                            "configuration {} refused, the running one stays",
                            args.config.display()
                        );
                    }
                }
            }
            Event::Stop(sig) => return sig,
        }
    }
    "all senders gone"
}

/// `show configuration [PATH] [| display set|xml]`: the configuration in force (or the
/// hierarchy at PATH, the words of a `set` line), printed back in braces, as `set` lines or
/// as Junos XML. `None` when `line` is another command.
pub fn show_configuration(line: &str, config: &mspic_config::Config) -> Option<Reply> {
    use mspic_control::{OutputFormat, PipeItem};
    let is = |w: &str, keyword: &str, min: usize| w.len() >= min && keyword.starts_with(w);
    let first = line.split('|').next()?;
    let words: Vec<&str> = first.split_whitespace().collect();
    match words.as_slice() {
        [show, conf, ..] if is(show, "show", 1) && is(conf, "configuration", 2) => {}
        _ => return None,
    }
    let (command, items) = match mspic_control::parse_pipes(line) {
        Ok(p) => p,
        Err(e) => return Some(Err(e.to_string())),
    };
    let path: Vec<&str> = command.split_whitespace().skip(2).collect();
    let mut display: Option<&PipeItem> = None;
    let mut pipes = Vec::new();
    for (item, _) in &items {
        match item {
            PipeItem::Text(p) => pipes.push(p.clone()),
            PipeItem::DisplaySet | PipeItem::Display(OutputFormat::Xml) if display.is_none() => {
                display = Some(item)
            }
            PipeItem::DisplaySet | PipeItem::Display(_) | PipeItem::DisplayRpc => {
                let what = match item {
                    PipeItem::DisplaySet => "display set",
                    PipeItem::Display(OutputFormat::Xml) => "display xml",
                    PipeItem::Display(OutputFormat::Json) => "display json",
                    PipeItem::DisplayRpc => "display xml rpc",
                    _ => "display",
                };
                return Some(Err(format!(
                    "error: unsupported pipe '{what}' (supported here: display set, display xml, match, except, count, last, no-more)"
                )));
            }
        }
    }
    use mspic_config::display as show;
    let text = match display {
        None => show::braces_under(config, &path),
        Some(PipeItem::DisplaySet) => show::set_at(config, &path),
        Some(_) => {
            let mut out = format!(
                "<rpc-reply xmlns:junos=\"{}\">\n",
                mspic_control::tree::JUNOS_XMLNS
            );
            for l in show::xml_at(config, &path).lines() {
                out.push_str("    ");
                out.push_str(l);
                out.push('\n');
            }
            out.push_str("    <cli>\n        <banner></banner>\n    </cli>\n</rpc-reply>\n");
            out
        }
    };
    Some(Ok(mspic_control::apply_pipes(&text, &pipes)))
}

/// Starts the live dataplane.
#[cfg(feature = "live")]
fn start_live(config: &LoadedConfig, live: &LiveOptions) -> Result<Box<dyn Engine>, String> {
    crate::live::start(config, live)
}

/// Without the `live` feature there is no dataplane to start: only `--offline` works.
#[cfg(not(feature = "live"))]
fn start_live(_: &LoadedConfig, _: &LiveOptions) -> Result<Box<dyn Engine>, String> {
    Err(NO_LIVE.to_string())
}

/// Why a live start is refused by an mspicd built without the `live` feature.
const NO_LIVE: &str = "this mspicd was built without the live dataplane (cargo feature `live`): \
                       run it with --offline, or build it with the default features";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn show_configuration_is_recognised() {
        let cfg = mspic_config::parse("services { service-set ss { interface-service { service-interface ms-1/1/0; } } } interfaces { ms-1/1/0 { unit 0 { family inet; } } }", "t.conf").unwrap();
        assert!(show_configuration("show services sessions", &cfg).is_none());
        assert!(show_configuration("show", &cfg).is_none());
        assert!(show_configuration("show c", &cfg).is_none());
        let braces = show_configuration("sh conf", &cfg).unwrap().unwrap();
        assert_eq!(braces, mspic_config::display::braces(&cfg));
        let set = show_configuration("show configuration | display set", &cfg)
            .unwrap()
            .unwrap();
        assert!(
            set.contains(
                "set services service-set ss interface-service service-interface ms-1/1/0"
            ),
            "{set}"
        );
        let sub = show_configuration("show configuration services service-set", &cfg)
            .unwrap()
            .unwrap();
        assert_eq!(
            sub,
            "ss {\n    interface-service {\n        service-interface ms-1/1/0;\n    }\n}\n"
        );
        let xml = show_configuration("show configuration services | display xml", &cfg)
            .unwrap()
            .unwrap();
        assert!(
            xml.contains("<service-set>\n                <name>ss</name>"),
            "{xml}"
        );
        assert_eq!(
            show_configuration("show configuration | display json", &cfg),
            Some(Err(
                "error: unsupported pipe 'display json' (supported here: display set, display xml, match, except, count, last, no-more)"
                    .into()
            ))
        );
    }
}

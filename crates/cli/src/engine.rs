//! What the daemon runs: a configuration loaded for the engine, and the [`Engine`] trait
//! over the packet engines (the offline one here; the live XDP runtime in
//! [`crate::live`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use mspic_control::Backend;
use mspic_flow::{IfIndex, Policy};
use mspic_offline::pcap::Reader;
use mspic_offline::replay::{Replay, ReplayOptions};

/// One `emulator interface NAME device NETDEV` statement, resolved against the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSpec {
    /// Junos interface name (`ge-0/0/0`).
    pub name: String,
    /// Linux network device (`pin`).
    pub netdev: String,
    /// The interface frames received on `netdev` arrive on.
    pub ingress: IfIndex,
}

/// A configuration parsed, validated and compiled: what a commit installs.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// The file name diagnostics use.
    pub name: String,
    pub config: mspic_config::Config,
    pub policy: Arc<Policy>,
    pub ports: Vec<PortSpec>,
}

impl LoadedConfig {
    /// Parses, validates and compiles configuration `text` read from `name`. The error is
    /// the text to show: one `file:line:col: error: …` line per problem.
    pub fn from_text(text: &str, name: &str) -> Result<LoadedConfig, String> {
        let config = mspic_config::parse(text, name).map_err(|e| e.to_string())?;
        let policy = Policy::compile(&config).map_err(|e| format!("{name}: error: {e}"))?;
        let mut ports = Vec::new();
        let mut errors = Vec::new();
        for e in &config.emulator.interfaces {
            match policy.interface_by_name(&e.name) {
                Some(ingress) => ports.push(PortSpec {
                    name: e.name.clone(),
                    netdev: e.device.clone(),
                    ingress,
                }),
                None => errors.push(format!(
                    "{name}: error: emulator interface '{}' has no logical unit",
                    e.name
                )),
            }
        }
        if !errors.is_empty() {
            return Err(errors.join("\n"));
        }
        Ok(LoadedConfig {
            name: name.to_string(),
            config,
            policy: Arc::new(policy),
            ports,
        })
    }

    /// Reads and loads the file at `path`.
    pub fn from_file(path: &Path) -> Result<LoadedConfig, String> {
        let text = crate::input::read_config(path).map_err(|e| e.to_string())?;
        Self::from_text(&text, &path.display().to_string())
    }

    /// The configuration's warnings, one `file:line:col: warning: …` line each.
    pub fn warnings(&self) -> Vec<String> {
        self.config.warnings.iter().map(|w| w.to_string()).collect()
    }
}

/// A packet engine as the daemon drives it. The daemon owns exactly one, on its control
/// thread: commands reach it through [`Engine::backend`], commits through
/// [`Engine::reload`].
pub trait Engine: Send {
    /// The control plane's view of the engine's state (sessions, counters).
    fn backend(&mut self) -> &mut dyn Backend;

    /// Installs a new configuration. Live sessions stay (they are re-attached to the
    /// service sets of the same name). On error the old configuration stays in force and
    /// the text says why.
    fn reload(&mut self, new: &LoadedConfig) -> Result<(), String>;

    /// Stops packet processing and detaches from the kernel.
    fn stop(self: Box<Self>) -> Result<(), String>;

    /// One line for logs and `mspic ping` (`offline, 2 workers`).
    fn describe(&self) -> String;

    /// Why the last command's answer is incomplete (a worker did not answer), if it is;
    /// cleared by this call. The daemon then sends this error instead of the answer.
    fn take_error(&mut self) -> Option<String> {
        None
    }

    /// Counter lines for `mspic ping`.
    fn status(&self) -> Vec<String> {
        Vec::new()
    }
}

/// How to run the offline engine.
#[derive(Debug, Clone, Default)]
pub struct OfflineOptions {
    /// Shards (as many as the live engine would have workers), at least 1.
    pub workers: u32,
    /// A capture (pcap or pcapng, Ethernet) replayed into the engine before serving.
    pub capture: Option<PathBuf>,
    /// Answer frames leaving interfaces without a service set with their mirror reply
    /// (as `mspic replay --respond`).
    pub respond: bool,
}

/// The engine with no dataplane: the shards of [`Replay`], fed at most one capture at
/// start. Its clock stands at the capture's last frame, so nothing expires while it serves.
///
/// A reload keeps the sessions, re-attached to the service sets of the same name (those
/// whose service set is gone are removed), as the live engine does.
pub struct OfflineEngine {
    replay: Replay,
    options: OfflineOptions,
}

impl OfflineEngine {
    /// Builds the shards for `config` and replays the capture, if any.
    pub fn start(config: &LoadedConfig, options: OfflineOptions) -> Result<Self, String> {
        let capture = match &options.capture {
            None => None,
            Some(p) => Some(crate::input::read_capture(p).map_err(|e| e.to_string())?),
        };
        let replay = Self::build(&config.policy, &options, capture.as_deref())?;
        Ok(OfflineEngine { replay, options })
    }

    fn build(
        policy: &Arc<Policy>,
        options: &OfflineOptions,
        capture: Option<&[u8]>,
    ) -> Result<Replay, String> {
        let opts = ReplayOptions {
            workers: options.workers,
            respond: options.respond,
            ..ReplayOptions::default()
        };
        let mut replay = Replay::new(Arc::clone(policy), &opts).map_err(|e| e.to_string())?;
        if let Some(data) = capture {
            let name = options
                .capture
                .as_deref()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            let reader =
                Reader::new(data).map_err(|e| format!("{name}: not a usable capture: {e}"))?;
            for rec in reader {
                let rec = rec.map_err(|e| format!("{name}: malformed capture: {e}"))?;
                replay.process(rec.ts_nanos, rec.data);
            }
            let c = &replay.counters;
            tracing::info!(
                "replayed {name}: {} frames, {} forwarded, {} replies generated, {} dropped, {} local, {} not IP, {} with no ingress interface",
                c.frames_in, c.forwarded, c.replies, c.dropped, c.local, c.not_ip, c.no_ingress
            );
        }
        Ok(replay)
    }
}

impl Engine for OfflineEngine {
    fn backend(&mut self) -> &mut dyn Backend {
        &mut self.replay
    }

    fn reload(&mut self, new: &LoadedConfig) -> Result<(), String> {
        self.replay.set_policy(Arc::clone(&new.policy));
        Ok(())
    }

    fn stop(self: Box<Self>) -> Result<(), String> {
        Ok(())
    }

    fn describe(&self) -> String {
        let w = self.options.workers;
        let mut s = format!("offline, {w} worker{}", if w == 1 { "" } else { "s" });
        if let Some(p) = &self.options.capture {
            s.push_str(&format!(", capture {}", p.display()));
        }
        s
    }
}

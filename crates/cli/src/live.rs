//! The live engine: [`mspic_dataplane::runtime::Runtime`] (XDP steering into AF_XDP
//! sockets, one worker per shard) behind the daemon's [`Engine`] trait.
//!
//! Built with the `live` feature only, until the runtime is part of the dataplane crate.
//! [`runtime_config`] is the one place the daemon's configuration becomes a
//! `RuntimeConfig`.

use std::sync::Arc;

use mspic_control::Backend;
use mspic_dataplane::runtime::{PortConfig, Runtime, RuntimeBackend, RuntimeConfig};
use mspic_dataplane::xdp::XdpMode;

use crate::daemon::{LiveOptions, XdpModeArg};
use crate::engine::{Engine, LoadedConfig, PortSpec};

/// The runtime configuration for `config` (its `emulator interface` statements become the
/// ports) and the daemon's options.
pub fn runtime_config(config: &LoadedConfig, options: &LiveOptions) -> RuntimeConfig {
    let mut rc = RuntimeConfig {
        ports: config
            .ports
            .iter()
            .map(|p| PortConfig {
                name: p.name.clone(),
                netdev: p.netdev.clone(),
                ingress: p.ingress,
            })
            .collect(),
        queues: options.queues,
        workers: options.workers,
        xdp_mode: match options.xdp_mode {
            XdpModeArg::Native => XdpMode::Native,
            XdpModeArg::Skb => XdpMode::Skb,
        },
        ..RuntimeConfig::default()
    };
    if let Some(n) = options.umem_frames {
        rc.umem_frames = n;
    }
    if let Some(n) = options.frame_size {
        rc.frame_size = n;
    }
    rc.pin_cpus = options.pin_cpus;
    rc
}

/// The running dataplane.
pub struct LiveEngine {
    runtime: Runtime,
    backend: RuntimeBackend,
    ports: Vec<PortSpec>,
    options: LiveOptions,
}

/// Starts the dataplane for `config`; the error is the dataplane's own one-line message
/// (missing device, missing capability, XDP attach failure, UMEM ENOBUFS with its hint).
pub fn start(config: &LoadedConfig, options: &LiveOptions) -> Result<Box<dyn Engine>, String> {
    let runtime = Runtime::start(Arc::clone(&config.policy), runtime_config(config, options))
        .map_err(|e| e.to_string())?;
    let backend = runtime.backend();
    Ok(Box::new(LiveEngine {
        runtime,
        backend,
        ports: config.ports.clone(),
        options: options.clone(),
    }))
}

impl Engine for LiveEngine {
    fn backend(&mut self) -> &mut dyn Backend {
        &mut self.backend
    }

    fn reload(&mut self, new: &LoadedConfig) -> Result<(), String> {
        if new.ports != self.ports {
            return Err(
                "the emulator interfaces (devices or their order) changed; restart mspicd to change them"
                    .to_string(),
            );
        }
        self.runtime
            .reload(Arc::clone(&new.policy))
            .map_err(|e| e.to_string())
    }

    fn stop(self: Box<Self>) -> Result<(), String> {
        let LiveEngine {
            runtime, backend, ..
        } = *self;
        drop(backend);
        runtime.stop().map_err(|e| e.to_string())
    }

    fn describe(&self) -> String {
        let o = &self.options;
        let ports: Vec<String> = self
            .ports
            .iter()
            .map(|p| format!("{}={}", p.name, p.netdev))
            .collect();
        format!(
            "xdp {:?}, {} workers, {} queues, ports {}",
            o.xdp_mode,
            o.workers,
            o.queues,
            ports.join(" ")
        )
        .to_lowercase()
    }
}

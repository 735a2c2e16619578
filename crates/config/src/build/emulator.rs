//! `emulator` (not Junos): which Linux netdev each interface is bound to, how many
//! workers and queues run, and which Junos release's `show` layouts are printed.

use std::collections::HashMap;

use super::cursor::Cur;
use super::diag::{Diags, R};
use super::draft::{Leaf, Named};
use super::values::u32_in;
use super::Builder;
use crate::lexer::Pos;
use crate::model::*;

/// `emulator interface NAME device NETDEV`.
pub(super) struct EmuIfD {
    pub(super) name: String,
    pub(super) pos: Pos,
    pub(super) device: Leaf<String>,
}

/// The `emulator` stanza.
#[derive(Default)]
pub(super) struct EmuD {
    pub(super) interfaces: Named<String, EmuIfD>,
    pub(super) workers: Leaf<u32>,
    pub(super) queues: Leaf<u32>,
    pub(super) junos_release: Leaf<JunosRelease>,
}

impl Builder {
    pub(super) fn emulator(&mut self, d: &mut Diags, c: &mut Cur) -> R<()> {
        let Some((k, _)) = c.kw(d, &["interface", "workers", "queues", "junos-release"], &[])?
        else {
            return Ok(());
        };
        if k == "junos-release" {
            return self.junos_release(d, c);
        }
        if k != "interface" {
            let (v, t) = c.parse(
                d,
                k,
                u32_in(1, 1024, if k == "workers" { "workers" } else { "queues" }),
            )?;
            c.end(d)?;
            let leaf = if k == "workers" {
                &mut self.emu.workers
            } else {
                &mut self.emu.queues
            };
            return leaf.set(d, k, v, t.pos, &t.text);
        }
        let t = c.val(d, "interface name")?;
        let ei = self.emu.interfaces.entry(t.text.clone(), || EmuIfD {
            name: t.text.clone(),
            pos: t.pos,
            device: Leaf::default(),
        });
        let Some(_) = c.kw(d, &["device"], &[])? else {
            return Ok(());
        };
        let dev = c.val(d, "device name")?;
        c.end(d)?;
        let ok = !dev.text.is_empty()
            && dev.text.len() < 16
            && !dev.text.contains(|c: char| c == '/' || c.is_whitespace());
        if !ok {
            return Err(d.error(
                dev.pos,
                format!(
                    "invalid device name '{}' (expected a Linux netdev name of at most 15 characters)",
                    dev.text
                ),
            ));
        }
        ei.device
            .set(d, "device", dev.text.clone(), dev.pos, &dev.text)
    }

    /// `junos-release R`: a release from 10.4 (where `show services sessions` starts) on.
    fn junos_release(&mut self, d: &mut Diags, c: &mut Cur) -> R<()> {
        let t = c.val(d, "Junos release")?;
        c.end(d)?;
        let Some(r) = JunosRelease::parse(&t.text) else {
            return Err(d.error(
                t.pos,
                format!(
                    "unknown Junos release '{}' (expected MAJOR.MINOR from {} to {}, e.g. 17.1)",
                    t.text,
                    JunosRelease::FIRST,
                    JunosRelease::LAST
                ),
            ));
        };
        self.emu
            .junos_release
            .set(d, "junos-release", r, t.pos, &t.text)
    }

    /// Checks each bound interface is a configured plain one with its own device; adds
    /// the stanza to the model.
    pub(super) fn finish_emulator(&self, d: &mut Diags, cfg: &mut Config) {
        // Device → the interface first bound to it.
        let mut devices: HashMap<&str, &str> = HashMap::new();
        for e in &self.emu.interfaces {
            if !self.interfaces.contains(&e.name) {
                let msg = if self.svc.contains(&e.name) {
                    format!("emulator interface '{}' is a services interface; bind a ge-/xe-/et- interface to a device", e.name)
                } else {
                    format!(
                        "emulator interface '{}' is not a configured interface",
                        e.name
                    )
                };
                d.error(e.pos, msg);
            }
            let Some((dev, dpos, _)) = &e.device.v else {
                if self.tainted(&format!("emulator interface {}", e.name)) {
                    continue;
                }
                d.error(
                    e.pos,
                    format!("emulator interface '{}' has no device", e.name),
                );
                continue;
            };
            let first = *devices.entry(dev).or_insert(&e.name);
            if first != e.name {
                d.error(
                    *dpos,
                    format!("device '{dev}' is already bound to interface '{first}'"),
                );
            }
            cfg.emulator.interfaces.push(EmulatorInterface {
                name: e.name.clone(),
                device: dev.clone(),
            });
        }
        cfg.emulator.workers = self.emu.workers.get();
        cfg.emulator.queues = self.emu.queues.get();
        cfg.emulator.junos_release = self.emu.junos_release.get();
    }
}

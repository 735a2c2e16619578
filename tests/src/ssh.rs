//! OpenSSH in the PIC namespace of a testbed: the Junos management plane of the emulator.
//!
//! [`SshSetup::write`] makes everything in a directory of its own — a generated host key, a
//! generated client key authorized in a private `AuthorizedKeysFile`, an `sshd_config` —
//! and [`SshSetup::command`] is the `sshd` to run in the PIC namespace. It listens on the
//! namespace's loopback, port 22 and port 830, and logs every key in as root into mspic:
//!
//! - the `netconf` subsystem runs `mspic --socket SOCKET netconf` (NETCONF over SSH);
//! - a login runs `mspic --socket SOCKET cli` (the `user@host>` prompt);
//! - `ssh … COMMAND` runs COMMAND through `mspic cli`.
//!
//! The host's own sshd and its configuration are neither read nor changed; the only thing
//! outside the directory is sshd's privilege separation directory `/run/sshd`, created
//! empty when missing.

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::testbed::{Role, Testbed};

/// Where sshd is.
pub const SSHD: &str = "/usr/sbin/sshd";
/// NETCONF over SSH (RFC 6242).
pub const NETCONF_PORT: u16 = 830;
/// The CLI login.
pub const LOGIN_PORT: u16 = 22;

/// Files of one sshd set-up.
#[derive(Debug, Clone)]
pub struct SshSetup {
    pub dir: PathBuf,
    pub config: PathBuf,
    pub client_key: PathBuf,
    pub log: PathBuf,
    pub pid_file: PathBuf,
}

fn keygen(path: &Path) -> io::Result<()> {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "mspic-testbed", "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "ssh-keygen failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

fn sh_quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', "'\\''"))
}

impl SshSetup {
    /// Writes keys, the login script and `sshd_config` into `dir` (created), for a daemon
    /// at `socket` and the `mspic` binary at `mspic`.
    pub fn write(dir: &Path, mspic: &Path, socket: &Path) -> io::Result<SshSetup> {
        std::fs::create_dir_all(dir)?;
        std::fs::create_dir_all("/run/sshd")?;
        let host_key = dir.join("host_key");
        let client_key = dir.join("client_key");
        for k in [&host_key, &client_key] {
            let _ = std::fs::remove_file(k);
            let _ = std::fs::remove_file(k.with_extension("pub"));
            keygen(k)?;
        }
        let authorized = dir.join("authorized_keys");
        std::fs::copy(client_key.with_extension("pub"), &authorized)?;
        let netconf = format!("{} --socket {} netconf", mspic.display(), socket.display());
        let login = dir.join("login");
        std::fs::write(
            &login,
            format!(
                "#!/bin/sh\n\
                 # What a key logs into: the NETCONF subsystem, the mspic CLI, or one command.\n\
                 case \"$SSH_ORIGINAL_COMMAND\" in\n\
                 \"{netconf}\") exec {m} --socket {s} netconf ;;\n\
                 \"\") exec {m} --socket {s} cli ;;\n\
                 *) printf '%s\\n' \"$SSH_ORIGINAL_COMMAND\" | exec {m} --socket {s} cli ;;\n\
                 esac\n",
                m = sh_quote(mspic),
                s = sh_quote(socket),
            ),
        )?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&login, std::fs::Permissions::from_mode(0o755))?;
        let config = dir.join("sshd_config");
        let pid_file = dir.join("sshd.pid");
        std::fs::write(
            &config,
            format!(
                "Port {LOGIN_PORT}\nPort {NETCONF_PORT}\nListenAddress 127.0.0.1\n\
                 HostKey {}\nPidFile {}\nAuthorizedKeysFile {}\n\
                 PermitRootLogin prohibit-password\nPasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n\
                 LogLevel VERBOSE\nSubsystem netconf {netconf}\nForceCommand {}\n",
                host_key.display(),
                pid_file.display(),
                authorized.display(),
                login.display(),
            ),
        )?;
        Ok(SshSetup {
            dir: dir.to_path_buf(),
            config,
            client_key,
            log: dir.join("sshd.log"),
            pid_file,
        })
    }

    /// `sshd` for the PIC namespace of `tb`: in the foreground (`-D`, for a test that owns
    /// the process) or as a daemon that writes its pid file (`cargo xtask testbed up
    /// --ssh`).
    pub fn command(&self, tb: &Testbed, foreground: bool) -> Command {
        let mut c = tb.exec(Role::Pic, SSHD);
        if foreground {
            c.arg("-D");
        }
        c.arg("-E").arg(&self.log).arg("-f").arg(&self.config);
        c
    }

    /// The `ssh` command line that logs into the PIC (in its namespace).
    pub fn ssh_hint(&self, tb: &Testbed) -> String {
        format!(
            "ip netns exec {} ssh -i {} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null root@127.0.0.1",
            tb.ns(Role::Pic),
            self.client_key.display()
        )
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// Stops the sshd of the set-up in `dir` (its pid file) and removes the directory.
pub fn stop(dir: &Path) {
    if let Ok(pid) = std::fs::read_to_string(dir.join("sshd.pid")) {
        let pid = pid.trim();
        if !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()) {
            let _ = Command::new("kill")
                .args(["-TERM", pid])
                .stderr(Stdio::null())
                .status();
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}

//! One NETCONF session: the `<hello>` exchange, then each `<rpc>` answered in order.
//!
//! Sans-IO: [`Session::receive`] takes the bytes read from the client and returns the bytes
//! to write back; the mspicd side is the [`Daemon`] trait.

use std::fmt::Write as _;

use mspic_control::rpc as table;
use mspic_control::tree::JUNOS_XMLNS;

use std::time::Duration;

use crate::config;
use crate::framing::{self, Decoder, Framing, FramingError};
use crate::timers::{Expired, Timeouts, Timers};
use crate::xml::{self, escape, Node};

/// Capability of NETCONF 1.0 framing (end-of-message).
pub const BASE_10: &str = "urn:ietf:params:netconf:base:1.0";
/// Capability of NETCONF 1.1 framing (chunked).
pub const BASE_11: &str = "urn:ietf:params:netconf:base:1.1";
/// The NETCONF base namespace.
pub const NETCONF_NS: &str = "urn:ietf:params:xml:ns:netconf:base:1.0";

/// What the session needs from mspicd. Errors are the daemon's texts (`error: …`, or
/// `file:line:col: error: …` lines).
pub trait Daemon {
    /// Runs one operational command line (pipes included) and returns its answer.
    fn command(&mut self, line: &str) -> Result<String, String>;
    /// Checks a configuration like `commit check`, installing nothing.
    fn check(&mut self, name: &str, text: &str) -> Result<String, String>;
    /// Installs a configuration through the daemon's reload.
    fn commit(&mut self, name: &str, text: &str) -> Result<String, String>;
    /// Takes the configuration lock for this session; the error names the holder.
    fn lock(&mut self) -> Result<(), String>;
    /// Releases the lock this session holds.
    fn unlock(&mut self) -> Result<(), String>;
}

/// How the server describes itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub hostname: String,
    /// mspic's version (`0.1.0`).
    pub version: String,
    pub session_id: u32,
}

impl Identity {
    /// The version as Junos tools parse it (`0.1.0-mspic`: a release number, then a type
    /// letter or `-`).
    pub fn junos_version(&self) -> String {
        format!("{}-mspic", self.version)
    }
}

/// Counters of one session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    pub messages: u64,
    pub rpcs: u64,
    /// RPCs answered with `<rpc-error>`.
    pub rpc_errors: u64,
    /// Messages that were not XML, or not an `<rpc>`.
    pub malformed: u64,
    /// Framing errors (the session ends on the first).
    pub framing_errors: u64,
    /// Sessions ended by a time limit (a stalled message, or idle).
    pub timeouts: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for the client's `<hello>`.
    Hello,
    Open,
    Closed,
}

/// An `<rpc-error>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcError {
    /// `transport`, `rpc`, `protocol` or `application`.
    pub kind: &'static str,
    /// `operation-failed`, `unknown-element`, `malformed-message`, …
    pub tag: &'static str,
    pub message: String,
    /// `<error-info><bad-element>` when the error is about an element.
    pub bad_element: Option<String>,
}

impl RpcError {
    pub fn new(kind: &'static str, tag: &'static str, message: impl Into<String>) -> Self {
        RpcError {
            kind,
            tag,
            message: message.into(),
            bad_element: None,
        }
    }

    fn failed(message: impl Into<String>) -> Self {
        Self::new("application", "operation-failed", message)
    }

    fn bad(mut self, element: &str) -> Self {
        self.bad_element = Some(element.to_string());
        self
    }

    /// The `<rpc-error>` element.
    pub fn to_xml(&self) -> String {
        let mut s = String::from("<rpc-error>\n");
        let _ = writeln!(s, "<error-type>{}</error-type>", self.kind);
        let _ = writeln!(s, "<error-tag>{}</error-tag>", self.tag);
        s.push_str("<error-severity>error</error-severity>\n");
        let _ = writeln!(
            s,
            "<error-message>\n{}\n</error-message>",
            escape(self.message.trim_end(), false)
        );
        if let Some(b) = &self.bad_element {
            let _ = writeln!(
                s,
                "<error-info>\n<bad-element>{}</bad-element>\n</error-info>",
                escape(b, false)
            );
        }
        s.push_str("</rpc-error>\n");
        s
    }
}

/// The daemon's error text without its `error: ` prefixes.
fn daemon_message(text: &str) -> String {
    text.lines()
        .map(|l| l.strip_prefix("error: ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n")
}

/// How `<load-configuration>` meets the candidate (its `action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    /// `merge`, `set`: statements add to the candidate; `replace:` tags mean nothing.
    Merge,
    /// `replace`: as merge, but elements tagged `replace:` (text) or `replace="replace"`
    /// (XML) replace what their hierarchy held.
    Replace,
    /// `override`, `update`: the loaded configuration is the whole candidate.
    Override,
}

impl Action {
    fn of(action: &str) -> Option<Action> {
        match action {
            "merge" | "set" => Some(Action::Merge),
            "replace" => Some(Action::Replace),
            "override" | "update" => Some(Action::Override),
            _ => None,
        }
    }
}

/// A NETCONF session over a [`Daemon`].
pub struct Session<D> {
    daemon: D,
    identity: Identity,
    decoder: Decoder,
    state: State,
    /// Framing of what the server sends (follows the decoder after the hello).
    out_framing: Framing,
    /// This session's candidate configuration (`set` lines), when it loaded something not
    /// yet committed.
    candidate: Option<String>,
    locked: bool,
    stats: Stats,
    end: Option<String>,
    timers: Timers,
}

impl<D: Daemon> Session<D> {
    pub fn new(daemon: D, identity: Identity) -> Self {
        Session {
            daemon,
            identity,
            decoder: Decoder::new(),
            state: State::Hello,
            out_framing: Framing::EndOfMessage,
            candidate: None,
            locked: false,
            stats: Stats::default(),
            end: None,
            timers: Timers::default(),
        }
    }

    /// Sets the time limits (the defaults of [`Timeouts`] otherwise).
    pub fn set_timeouts(&mut self, limits: Timeouts) {
        self.timers.limits = limits;
    }

    /// Until when (time since the session began) the caller may wait for bytes before
    /// calling [`Session::tick`]; `None` once closed.
    pub fn deadline(&self) -> Option<Duration> {
        (!self.is_closed()).then(|| self.timers.deadline())
    }

    /// Applies the time limits at `now`; returns the bytes to send (an `<rpc-error>` for
    /// a stalled message). The session is closed when a limit has passed.
    pub fn tick(&mut self, now: Duration) -> Vec<u8> {
        let mut out = Vec::new();
        if self.state != State::Closed {
            if let Some(e) = self.timers.expired(now) {
                self.timeout(e, &mut out);
            }
        }
        out
    }

    fn timeout(&mut self, e: Expired, out: &mut Vec<u8>) {
        self.stats.timeouts += 1;
        let text = e.to_string();
        if self.state == State::Open && matches!(e, Expired::Message(_)) {
            let err = RpcError::new("rpc", "operation-failed", text.clone());
            self.send(out, &self.reply_text(&[], &err.to_xml()));
        }
        self.close(Some(text));
    }

    /// The server's `<hello>`, to send first.
    pub fn hello(&self) -> Vec<u8> {
        let msg = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <hello xmlns=\"{NETCONF_NS}\">\n  <capabilities>\n    \
             <capability>{BASE_10}</capability>\n    \
             <capability>{BASE_11}</capability>\n    \
             <capability>urn:ietf:params:netconf:capability:candidate:1.0</capability>\n    \
             <capability>urn:ietf:params:netconf:capability:validate:1.0</capability>\n    \
             <capability>http://xml.juniper.net/netconf/junos/1.0</capability>\n    \
             <capability>http://xml.juniper.net/dmi/system/1.0</capability>\n  \
             </capabilities>\n  <session-id>{}</session-id>\n</hello>\n",
            self.identity.session_id
        );
        framing::encode(Framing::EndOfMessage, msg.as_bytes())
    }

    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Why the session ended (`None` while open, or after `<close-session>`).
    pub fn end_reason(&self) -> Option<&str> {
        self.end.as_deref()
    }

    pub fn framing(&self) -> Framing {
        self.out_framing
    }

    pub fn daemon(&mut self) -> &mut D {
        &mut self.daemon
    }

    fn close(&mut self, reason: Option<String>) {
        self.state = State::Closed;
        if self.end.is_none() {
            self.end = reason;
        }
        if self.locked {
            let _ = self.daemon.unlock();
            self.locked = false;
        }
    }

    /// Feeds bytes from the client, read at `now` (time since the session began);
    /// returns the bytes to send back. Once [`Session::is_closed`], the caller sends them
    /// and ends the session.
    pub fn receive(&mut self, now: Duration, data: &[u8]) -> Vec<u8> {
        let mut out = self.tick(now);
        if self.state == State::Closed {
            return out;
        }
        self.decoder.push(data);
        let mut completed = false;
        while self.state != State::Closed {
            match self.decoder.next_message() {
                Ok(Some(msg)) => {
                    self.stats.messages += 1;
                    completed = true;
                    self.handle(&msg, &mut out);
                }
                Ok(None) => break,
                Err(e) => {
                    self.framing_error(e, &mut out);
                    break;
                }
            }
        }
        self.timers
            .received(now, completed, self.decoder.pending() > 0);
        out
    }

    /// The client closed its side.
    pub fn end_of_input(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        if self.state == State::Closed {
            return out;
        }
        match self.decoder.finish() {
            Ok(()) => self.close(Some("the client closed the connection".into())),
            Err(e) => self.framing_error(e, &mut out),
        }
        out
    }

    fn framing_error(&mut self, e: FramingError, out: &mut Vec<u8>) {
        self.stats.framing_errors += 1;
        let text = format!("framing error: {e}");
        if self.state == State::Open && !matches!(e, FramingError::Truncated(_)) {
            let err = RpcError::new("rpc", "malformed-message", text.clone());
            self.send(out, &self.reply_text(&[], &err.to_xml()));
        }
        self.close(Some(text));
    }

    fn send(&self, out: &mut Vec<u8>, msg: &str) {
        out.extend_from_slice(&framing::encode(self.out_framing, msg.as_bytes()));
    }

    fn reply_text(&self, attrs: &[(String, String)], body: &str) -> String {
        let mut s = format!("<rpc-reply xmlns=\"{NETCONF_NS}\" xmlns:junos=\"{JUNOS_XMLNS}\"");
        for (k, v) in attrs {
            if k == "xmlns" || k.starts_with("xmlns") {
                continue;
            }
            let _ = write!(s, " {k}=\"{}\"", escape(v, true));
        }
        s.push_str(">\n");
        s.push_str(body);
        if !body.is_empty() && !body.ends_with('\n') {
            s.push('\n');
        }
        s.push_str("</rpc-reply>\n");
        s
    }

    fn handle(&mut self, msg: &[u8], out: &mut Vec<u8>) {
        let parsed = xml::parse(msg);
        match self.state {
            State::Hello => {
                let hello = match parsed {
                    Ok(n) if n.name == "hello" => n,
                    Ok(n) => {
                        self.stats.malformed += 1;
                        return self.close(Some(format!(
                            "expected <hello> from the client, got <{}>",
                            n.name
                        )));
                    }
                    Err(e) => {
                        self.stats.malformed += 1;
                        return self.close(Some(format!("the client's <hello>: {e}")));
                    }
                };
                let caps: Vec<&str> = hello
                    .child("capabilities")
                    .map(|c| {
                        c.children
                            .iter()
                            .filter(|c| c.name == "capability")
                            .map(|c| c.text.trim())
                            .collect()
                    })
                    .unwrap_or_default();
                if hello.child("session-id").is_some() {
                    self.stats.malformed += 1;
                    return self.close(Some("the client's <hello> has a session-id".into()));
                }
                if caps.contains(&BASE_11) {
                    self.decoder.set_framing(Framing::Chunked);
                    self.out_framing = Framing::Chunked;
                } else if !caps.contains(&BASE_10) {
                    self.stats.malformed += 1;
                    return self.close(Some(
                        "the client's <hello> offers neither base:1.0 nor base:1.1".into(),
                    ));
                }
                self.state = State::Open;
            }
            State::Open => {
                let rpc = match parsed {
                    Ok(n) if n.name == "rpc" => n,
                    Ok(n) => {
                        self.stats.malformed += 1;
                        let err = RpcError::new(
                            "protocol",
                            "unknown-element",
                            format!("expected <rpc>, got <{}>", n.name),
                        )
                        .bad(&n.name);
                        self.send(out, &self.reply_text(&[], &err.to_xml()));
                        return self.close(Some(format!("expected <rpc>, got <{}>", n.name)));
                    }
                    Err(e) => {
                        self.stats.malformed += 1;
                        let err = RpcError::new("rpc", "malformed-message", e.to_string());
                        self.send(out, &self.reply_text(&[], &err.to_xml()));
                        return self.close(Some(e.to_string()));
                    }
                };
                self.stats.rpcs += 1;
                let body = match rpc.children.first() {
                    None => Err(RpcError::new(
                        "rpc",
                        "missing-element",
                        "<rpc> holds no operation",
                    )),
                    Some(op) if rpc.children.len() > 1 => Err(RpcError::new(
                        "rpc",
                        "unknown-element",
                        "<rpc> holds more than one operation",
                    )
                    .bad(&op.name)),
                    Some(op) => {
                        let op = op.clone();
                        self.operation(&op)
                    }
                };
                let body = body.unwrap_or_else(|e| {
                    self.stats.rpc_errors += 1;
                    e.to_xml()
                });
                self.send(out, &self.reply_text(&rpc.attributes, &body));
            }
            State::Closed => {}
        }
    }

    fn operation(&mut self, op: &Node) -> Result<String, RpcError> {
        match op.name.as_str() {
            "close-session" => {
                self.close(None);
                Ok("<ok/>\n".into())
            }
            "kill-session" => Err(RpcError::new(
                "protocol",
                "operation-not-supported",
                "kill-session is not supported: end the other session's SSH connection",
            )
            .bad("kill-session")),
            "command" => self.command(op),
            // This session's candidate is always private: opening and closing it is a no-op.
            "open-configuration" | "close-configuration" => Ok("<ok/>\n".into()),
            "lock" | "lock-configuration" => {
                if self.locked {
                    return Err(RpcError::new(
                        "protocol",
                        "lock-denied",
                        "configuration database already locked by this session",
                    ));
                }
                self.daemon
                    .lock()
                    .map_err(|e| RpcError::new("protocol", "lock-denied", e))?;
                self.locked = true;
                Ok("<ok/>\n".into())
            }
            "unlock" | "unlock-configuration" => {
                if !self.locked {
                    return Err(RpcError::new(
                        "protocol",
                        "operation-failed",
                        "configuration database is not locked by this session",
                    ));
                }
                self.locked = false;
                self.daemon.unlock().map_err(RpcError::failed)?;
                Ok("<ok/>\n".into())
            }
            "get-configuration" => self.get_configuration(op),
            "get-config" => {
                let text = self.configuration_xml(op.child("filter"), false)?;
                Ok(format!("<data>\n{text}</data>\n"))
            }
            "load-configuration" => self.load_configuration(op),
            "edit-config" => self.edit_config(op),
            "commit-configuration" => {
                if let Some(c) = ["confirmed", "at-time", "synchronize"]
                    .iter()
                    .find(|c| op.child(c).is_some())
                {
                    return Err(RpcError::new(
                        "protocol",
                        "operation-not-supported",
                        format!("commit {c} is not supported by mspic"),
                    )
                    .bad(c));
                }
                self.commit(op.child("check").is_some())
            }
            "commit" => self.commit(false).map(|_| "<ok/>\n".to_string()),
            "validate" => self.commit(true).map(|_| "<ok/>\n".to_string()),
            "discard-changes" => {
                self.candidate = None;
                Ok("<ok/>\n".into())
            }
            "get-software-information" => Ok(self.software_information()),
            "get-route-engine-information" => Ok(self.route_engine_information()),
            "get-chassis-inventory" => Ok(self.chassis_inventory()),
            name => {
                if let Some(entry) = table::by_rpc(name) {
                    return self.junos_rpc(entry, op);
                }
                let not_here = |what: &str| {
                    Err(RpcError::failed(format!("{what} (mspic emulates one MS-PIC)")).bad(name))
                };
                match name {
                    "get-virtual-chassis-information" => {
                        not_here("virtual chassis is not supported")
                    }
                    "get-chassis-cluster-status" => not_here("chassis cluster is not enabled"),
                    "file-show" | "file-list" => not_here("no such file or directory"),
                    _ => Err(RpcError::new(
                        "protocol",
                        "operation-not-supported",
                        format!("syntax error, expecting <rpc> command: {name} is not an RPC mspic answers"),
                    )
                    .bad(name)),
                }
            }
        }
    }

    /// Asks the daemon for `line | display xml` and returns the reply element's text.
    fn xml_answer(&mut self, line: &str) -> Result<String, RpcError> {
        let text = self
            .daemon
            .command(&format!("{line} | display xml"))
            .map_err(|e| RpcError::failed(daemon_message(&e)))?;
        reply_element(&text)
            .or_else(|| is_empty_reply(&text).then(|| "<ok/>\n".to_string()))
            .ok_or_else(|| RpcError::failed("mspicd sent an answer that is not XML"))
    }

    fn answer(&mut self, line: &str, format: &str) -> Result<String, RpcError> {
        match format {
            "xml" => self.xml_answer(line),
            "json" => {
                let text = self
                    .daemon
                    .command(&format!("{line} | display json"))
                    .map_err(|e| RpcError::failed(daemon_message(&e)))?;
                Ok(escape(&text, false))
            }
            _ => {
                let text = self
                    .daemon
                    .command(line)
                    .map_err(|e| RpcError::failed(daemon_message(&e)))?;
                Ok(format!("<output>\n{}</output>\n", escape(&text, false)))
            }
        }
    }

    fn command(&mut self, op: &Node) -> Result<String, RpcError> {
        let line = op.text.trim();
        if line.is_empty() {
            return Err(
                RpcError::new("protocol", "missing-element", "<command> is empty").bad("command"),
            );
        }
        if line.len() > 64 * 1024 || line.contains('\n') {
            return Err(RpcError::new(
                "protocol",
                "invalid-value",
                "<command> must be one line of at most 64 KiB",
            )
            .bad("command"));
        }
        let format = op.attribute("format").unwrap_or("xml");
        let format = match format {
            "text" | "ascii" => "text",
            "xml" => "xml",
            "json" => "json",
            other => {
                return Err(RpcError::new(
                    "protocol",
                    "invalid-value",
                    format!("format '{other}' is not one of text, xml, json"),
                ))
            }
        };
        // `| display xml rpc`: the RPC of the command.
        let segments: Vec<&str> = line.split('|').collect();
        let is_rpc_pipe = |s: &str| {
            let w: Vec<&str> = s.split_whitespace().collect();
            w.len() == 3 && "display".starts_with(w[0]) && w[1] == "xml" && w[2] == "rpc"
        };
        if segments.len() == 2 && is_rpc_pipe(segments[1]) {
            let cmd = segments[0].trim();
            let rpc = if is_show_version(cmd) {
                "<get-software-information>\n</get-software-information>\n".to_string()
            } else {
                let parsed = mspic_control::parse_command(cmd)
                    .map_err(|e| RpcError::failed(daemon_message(&e.to_string())))?;
                let xml = mspic_control::tree::to_xml(
                    &mspic_control::tree::Element::new("rpc").with(table::rpc_of(&parsed)),
                );
                reply_element(&xml).unwrap_or_default()
            };
            return Ok(match format {
                "text" => format!("<output>\n{}</output>\n", escape(&rpc, false)),
                _ => rpc,
            });
        }
        if is_show_version(segments[0].trim()) {
            return Ok(match format {
                "text" => format!(
                    "<output>\nHostname: {}\nModel: mspic\nJunos: {}\nmspic {}: an emulator of a Junos MS-PIC\n</output>\n",
                    escape(&self.identity.hostname, false),
                    self.identity.junos_version(),
                    self.identity.version,
                ),
                _ => self.software_information(),
            });
        }
        if segments.len() > 1 {
            // Pipes: mspicd applies them; XML comes back as XML, the rest as text.
            let text = self
                .daemon
                .command(line)
                .map_err(|e| RpcError::failed(daemon_message(&e)))?;
            return Ok(match (format, reply_element(&text)) {
                ("xml", Some(element)) => element,
                _ => format!("<output>\n{}</output>\n", escape(&text, false)),
            });
        }
        self.answer(line, format)
    }

    fn junos_rpc(&mut self, entry: &table::RpcEntry, op: &Node) -> Result<String, RpcError> {
        let args = op
            .children
            .iter()
            .map(|c| (c.name.as_str(), c.text.as_str()));
        let line = entry.command_line(args).map_err(|e| {
            let bad = match &e {
                table::RpcArgError::Unknown { element, .. } => element.clone(),
                table::RpcArgError::BadValue { element, .. }
                | table::RpcArgError::Shape { element, .. } => element.to_string(),
            };
            RpcError::new("protocol", "invalid-value", e.to_string()).bad(&bad)
        })?;
        let format = match op.attribute("format") {
            Some("json") => "json",
            Some("text") | Some("ascii") => "text",
            _ => "xml",
        };
        self.answer(&line, format)
    }

    /// The running configuration's `set` lines, from the daemon.
    fn running_set(&mut self) -> Result<String, RpcError> {
        self.daemon
            .command("show configuration | display set")
            .map_err(|e| RpcError::failed(daemon_message(&e)))
    }

    /// The configuration to show: this session's candidate when asked for and present,
    /// else the daemon's running one (whole, so that it validates), cut down to `path` and
    /// printed by the configuration crate's display.
    fn configuration(
        &mut self,
        path: &[String],
        format: &str,
        candidate: bool,
    ) -> Result<String, RpcError> {
        let (text, name) = match (&self.candidate, candidate) {
            (Some(c), true) => (c.clone(), "candidate"),
            _ => (self.running_set()?, "running"),
        };
        let cfg = mspic_config::parse(&text, name).map_err(|e| RpcError::failed(e.to_string()))?;
        let p: Vec<&str> = path.iter().map(String::as_str).collect();
        Ok(match format {
            "set" => mspic_config::display::set_at(&cfg, &p),
            "text" => mspic_config::display::braces_at(&cfg, &p),
            _ => mspic_config::display::xml_at(&cfg, &p),
        })
    }

    /// `compare="rollback" rollback="0"`: the candidate against the configuration in force,
    /// as `set` lines removed (`-`) and added (`+`).
    fn compare(&mut self) -> Result<String, RpcError> {
        let running = self.running_set()?;
        let Some(candidate) = self.candidate.clone() else {
            return Ok(String::new());
        };
        let old: Vec<&str> = running.lines().collect();
        let new: Vec<&str> = candidate.lines().collect();
        let mut out = String::new();
        for l in old.iter().filter(|l| !new.contains(l)) {
            let _ = writeln!(out, "- {l}");
        }
        for l in new.iter().filter(|l| !old.contains(l)) {
            let _ = writeln!(out, "+ {l}");
        }
        Ok(out)
    }

    fn configuration_xml(
        &mut self,
        filter: Option<&Node>,
        candidate: bool,
    ) -> Result<String, RpcError> {
        let path = filter
            .and_then(|f| {
                if f.name == "configuration" {
                    Some(f)
                } else {
                    f.child("configuration")
                }
            })
            .map(config::filter_path)
            .unwrap_or_default();
        self.configuration(&path, "xml", candidate)
    }

    fn get_configuration(&mut self, op: &Node) -> Result<String, RpcError> {
        if let Some(compare) = op.attribute("compare") {
            if compare != "rollback" || op.attribute("rollback").is_some_and(|r| r != "0") {
                return Err(RpcError::failed(
                    "only compare=\"rollback\" rollback=\"0\" is supported (mspic keeps no older configurations)",
                ));
            }
            let diff = self.compare()?;
            return Ok(format!(
                "<configuration-information>\n<configuration-output>\n{}</configuration-output>\n</configuration-information>\n",
                escape(&diff, false)
            ));
        }
        let format = op.attribute("format").unwrap_or("xml");
        let candidate = op.attribute("database") != Some("committed");
        let path = op
            .child("configuration")
            .map(config::filter_path)
            .unwrap_or_default();
        match format {
            "xml" => self.configuration(&path, "xml", candidate),
            "text" => {
                let t = self.configuration(&path, "text", candidate)?;
                Ok(format!(
                    "<configuration-text>\n{}</configuration-text>\n",
                    escape(&t, false)
                ))
            }
            "set" => {
                let t = self.configuration(&path, "set", candidate)?;
                Ok(format!(
                    "<configuration-set>\n{}</configuration-set>\n",
                    escape(&t, false)
                ))
            }
            other => Err(RpcError::new(
                "protocol",
                "invalid-value",
                format!("format '{other}' is not one of xml, text, set"),
            )),
        }
    }

    /// Loads `changes` (text, `set` lines, or lines made from XML) into the candidate.
    fn load(&mut self, changes: &str, action: Action, what: &str) -> Result<(), RpcError> {
        let base = match (action, &self.candidate) {
            (Action::Override, _) => String::new(),
            (_, Some(c)) => c.clone(),
            (_, None) => self.running_set()?,
        };
        let combined = format!("{base}{changes}\n");
        let parsed = match action {
            Action::Replace => mspic_config::parse_replacing(&combined, what),
            Action::Merge | Action::Override => mspic_config::parse(&combined, what),
        };
        let cfg = parsed.map_err(|errors| {
            // Errors point into the loaded text, or name the configuration it met.
            let base_lines = base.lines().count() as u32;
            let shifted: Vec<String> = errors
                .0
                .iter()
                .map(|d| {
                    let mut d = d.clone();
                    if d.location.line > base_lines {
                        d.location.line -= base_lines;
                    } else {
                        d.location.file = "running configuration".into();
                    }
                    d.to_string()
                })
                .collect();
            RpcError::failed(shifted.join("\n"))
        })?;
        // Keep it as set lines, so later loads merge onto it.
        self.candidate = Some(mspic_config::display::set(&cfg));
        Ok(())
    }

    fn load_configuration(&mut self, op: &Node) -> Result<String, RpcError> {
        let action = op.attribute("action").unwrap_or("merge");
        let format = op.attribute("format").unwrap_or("xml");
        if op.attribute("url").is_some() {
            return Err(RpcError::failed(
                "load from a url is not supported: send the configuration in the RPC",
            )
            .bad("url"));
        }
        let Some(action) = Action::of(action) else {
            return Err(RpcError::new(
                "protocol",
                "invalid-value",
                format!(
                    "action '{action}' is not supported (merge, replace, override, set, update)"
                ),
            ));
        };
        let (changes, what) = if let Some(t) = op.child("configuration-text") {
            (t.text.clone(), "configuration-text")
        } else if let Some(s) = op.child("configuration-set") {
            (s.text.clone(), "configuration-set")
        } else if let Some(c) = op.child("configuration") {
            (
                config::set_lines(c, action == Action::Replace),
                "configuration",
            )
        } else if op.child("configuration-json").is_some() || format == "json" {
            return Err(RpcError::failed(
                "JSON configuration is not supported: load text, set or xml",
            )
            .bad("configuration-json"));
        } else {
            return Err(RpcError::new(
                "protocol",
                "missing-element",
                "load-configuration needs configuration-text, configuration-set or configuration",
            ));
        };
        let loaded = self.load(&changes, action, what);
        match loaded {
            Ok(()) => {
                Ok("<load-configuration-results>\n<ok/>\n</load-configuration-results>\n".into())
            }
            Err(e) => Err(e),
        }
    }

    fn edit_config(&mut self, op: &Node) -> Result<String, RpcError> {
        let Some(config) = op.child("config").and_then(|c| c.child("configuration")) else {
            return Err(RpcError::new(
                "protocol",
                "missing-element",
                "edit-config needs <config><configuration>",
            ));
        };
        let action = match op.child("default-operation").map(|d| d.text.trim()) {
            Some("replace") => Action::Override,
            _ => Action::Merge,
        };
        let lines = config::set_lines(config, false);
        self.load(&lines, action, "edit-config")?;
        Ok("<ok/>\n".into())
    }

    fn commit(&mut self, check: bool) -> Result<String, RpcError> {
        let text = match &self.candidate {
            Some(c) => c.clone(),
            None => self.running_set()?,
        };
        let r = if check {
            self.daemon.check("candidate", &text)
        } else {
            self.daemon.commit("candidate", &text)
        };
        match r {
            Ok(_) => {
                if !check {
                    self.candidate = None;
                }
                let what = if check {
                    "commit-check-success"
                } else {
                    "commit-success"
                };
                Ok(format!(
                    "<commit-results>\n<routing-engine junos:style=\"normal\">\n<name>re0</name>\n<{what}/>\n</routing-engine>\n</commit-results>\n"
                ))
            }
            Err(e) => Err(RpcError::failed(daemon_message(&e))),
        }
    }

    fn software_information(&self) -> String {
        let id = &self.identity;
        format!(
            "<software-information>\n<host-name>{}</host-name>\n<product-model>mspic</product-model>\n\
             <product-name>mspic</product-name>\n<junos-version>{}</junos-version>\n\
             <package-information>\n<name>mspic</name>\n<comment>mspic {}, an emulator of a Junos MS-PIC</comment>\n\
             </package-information>\n</software-information>\n",
            escape(&id.hostname, false),
            id.junos_version(),
            id.version
        )
    }

    fn route_engine_information(&self) -> String {
        "<route-engine-information>\n<route-engine>\n<slot>0</slot>\n<mastership-state>master</mastership-state>\n\
         <status>OK</status>\n<model>mspic</model>\n</route-engine>\n</route-engine-information>\n"
            .to_string()
    }

    fn chassis_inventory(&self) -> String {
        "<chassis-inventory>\n<chassis junos:style=\"inventory\">\n<name>Chassis</name>\n\
         <description>mspic</description>\n</chassis>\n</chassis-inventory>\n"
            .to_string()
    }
}

fn is_show_version(cmd: &str) -> bool {
    let w: Vec<&str> = cmd.split_whitespace().collect();
    w.len() >= 2 && "show".starts_with(w[0]) && w[1].len() >= 2 && "version".starts_with(w[1])
}

/// Whether a `| display xml` answer is an `<rpc-reply>` with no reply element (a command
/// whose RPC returns nothing, `clear services stateful-firewall statistics`): NETCONF
/// answers `<ok/>` (RFC 6241 §4.4).
fn is_empty_reply(xml: &str) -> bool {
    roxmltree::Document::parse(xml).is_ok_and(|doc| {
        let root = doc.root_element();
        root.tag_name().name() == "rpc-reply"
            && root
                .children()
                .filter(|c| c.is_element())
                .all(|c| c.tag_name().name() == "cli")
    })
}

/// The reply element of a `| display xml` answer (the child of `<rpc-reply>` that is not
/// `<cli>`), as its source text.
pub fn reply_element(xml: &str) -> Option<String> {
    let doc = roxmltree::Document::parse(xml).ok()?;
    let root = doc.root_element();
    let el = root
        .children()
        .find(|c| c.is_element() && c.tag_name().name() != "cli")?;
    let mut s = xml[el.range()].to_string();
    s.push('\n');
    Some(s)
}

//! Junos configuration text (hierarchical braces or `set` lines) → typed, validated [`Config`].
//!
//! Sans-IO: the caller reads the file and passes its text (or its bytes, to
//! [`parse_bytes`], which locates bytes that are not UTF-8) and name; errors carry
//! `file:line:col`, the offending token and what was expected — checks that compare one
//! part of the configuration with another (a next hop off every connected subnet, a pool
//! larger than a /16) included.
//!
//! # Syntax
//!
//! - Hierarchical: `interfaces { ge-0/0/0 { unit 0 { family inet { address 10.0.0.1/24; } } } }`,
//!   with `[ a b ]` lists, quoted strings, `#` and `/* */` comments (annotations),
//!   `inactive:` (the statement is skipped), `protect:` (accepted), `replace:` (accepted;
//!   [`parse_replacing`] gives it the meaning of `load replace`).
//! - `set` lines: `set services nat pool public address 203.0.113.128/25`, with `[ a b ]`
//!   lists, `#` comments, `deactivate …` (the statement is inactive), `activate …` and
//!   `delete …`.
//! - Both may be mixed in one file. Internally every statement becomes a *path* (the words of
//!   its `set` line), so the two syntaxes cannot drift apart.
//!
//! A second block with the same name (`rule r { … }` twice) merges into the first, as on
//! Junos; a leaf given two different values (`match-direction input` and `output`) is an
//! error.
//!
//! # What is understood
//!
//! - `interfaces`: `ge-`/`xe-`/`et-`/`ae`/`lo0` (and other non-services) interfaces with
//!   `unit N family inet|inet6 { address A/L; service { input|output { service-set S; } } }`;
//!   `ms-F/P/P` with `services-options` (`inactivity-timeout`, `inactivity-tcp-timeout`,
//!   `inactivity-non-tcp-timeout`, `open-timeout`, `close-timeout`, `session-limit maximum|rate`,
//!   `tcp-tickles`) and `unit N { family inet|inet6; service-domain inside|outside; }`.
//! - `routing-options static route P (next-hop A|IFL | discard | reject)`, and the same under
//!   `rib inet6.0 static` for IPv6.
//! - `services stateful-firewall rule|rule-set`, `services nat pool|rule|rule-set`,
//!   `services service-set` (rules, rule sets, `interface-service`, `next-hop-service`,
//!   `max-flows`).
//! - `applications application|application-set`, plus the predefined `junos-*` applications
//!   and sets ([`predefined`]).
//! - `policy-options prefix-list`.
//! - `emulator { interface NAME device NETDEV; workers N; queues N; junos-release R; }` (not
//!   Junos).
//!
//! # Not understood
//!
//! Top-level stanzas other than those (`system`, `chassis`, `protocols`, `firewall`, …) are
//! ignored with one warning each. Inside the stanzas above, Junos statements that do not
//! change what the emulator does to a packet, or whose absence is visible and harmless
//! (`mtu`, `vlan-id`, `ids-rules`, `ipsec-vpn-rules`, pool
//! `secured-port-block-allocation`, …) are ignored with one warning each; `description` is
//! accepted silently. Statements that would silently change packet behaviour if ignored
//! (NAT66/NAT-PT translation types and NAT64 other than stateful-nat64, several next-hops for one static route, IPv6
//! NAT pools, `service-filter`) are errors. Unknown words are errors.
//!
//! # Printing
//!
//! [`display::braces`] and [`display::set`] print a `Config` back (like `show configuration`
//! and `| display set`); the output parses to the same `Config`.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod build;
pub mod deterministic;
pub mod display;
mod lexer;
pub mod model;
pub mod names;
pub mod predefined;
pub mod prefix;
mod tree;

pub use model::*;
pub use prefix::{Prefix, PrefixParseError};

use std::fmt;

/// Where a token sits in its file (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Location {
    /// The file name given to [`parse`].
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column, counted in characters.
    pub col: u32,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.col)
    }
}

/// Whether a [`Diagnostic`] stops the configuration from loading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Severity {
    /// The configuration is refused.
    #[default]
    Error,
    /// The configuration loads; something in it was ignored.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// An error or warning tied to a place in the configuration text.
///
/// `message` holds the text alone; `Display` prints `file:line:col: error: message`
/// (or `warning:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Where the offending token is.
    pub location: Location,
    /// What is wrong and what was expected.
    pub message: String,
    /// Error or warning.
    pub severity: Severity,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.location, self.severity, self.message)
    }
}

/// Every error found in one configuration (parsing stops at the first syntax error;
/// validation reports all it finds).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<Diagnostic>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

/// Like [`parse`], for a configuration read as bytes: text that is not UTF-8 is refused
/// with the position of its first invalid byte (`file:line:col: error: invalid UTF-8`,
/// the column counting the characters before it on its line), so that a stray Latin-1
/// byte can be found without a hex editor.
pub fn parse_bytes(bytes: &[u8], file: &str) -> Result<Config, ConfigErrors> {
    parse(text_of(bytes, file)?, file)
}

/// `bytes` as configuration text, or the `file:line:col` of the first byte that is not
/// UTF-8 (columns in characters, as every other diagnostic).
pub fn text_of<'a>(bytes: &'a [u8], file: &str) -> Result<&'a str, ConfigErrors> {
    std::str::from_utf8(bytes).map_err(|e| {
        // The bytes before the error are UTF-8 by definition of `valid_up_to`.
        let before = std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default();
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        ConfigErrors(vec![Diagnostic {
            location: Location {
                file: file.to_string(),
                line: before.matches('\n').count() as u32 + 1,
                col: before[line_start..].chars().count() as u32 + 1,
            },
            message: "invalid UTF-8".into(),
            severity: Severity::Error,
        }])
    })
}

/// Parses and validates configuration text in either syntax (hierarchical braces, `set`
/// lines, or a mix). `file` names the source in diagnostics.
///
/// On success the [`Config`] carries the warnings (ignored stanzas and statements) in
/// [`Config::warnings`]. On failure every error found is returned, sorted by position; a
/// syntax error (unbalanced braces, missing `;`, unterminated string) stops parsing, so it
/// is reported alone.
///
/// The two syntaxes of one configuration give equal `Config`s (equality ignores the
/// positions-bearing `warnings`).
pub fn parse(text: &str, file: &str) -> Result<Config, ConfigErrors> {
    parse_with(text, file, false)
}

/// Like [`parse`], as Junos `load replace` reads text: a statement tagged `replace:`
/// replaces everything its path held earlier in `text` (the running configuration the
/// caller put first) instead of merging into it.
pub fn parse_replacing(text: &str, file: &str) -> Result<Config, ConfigErrors> {
    parse_with(text, file, true)
}

fn parse_with(text: &str, file: &str, replace_tags: bool) -> Result<Config, ConfigErrors> {
    let loc = |p: lexer::Pos| Location {
        file: file.to_string(),
        line: p.line,
        col: p.col,
    };
    let tree = tree::parse_tree(text, replace_tags).map_err(|e| {
        ConfigErrors(vec![Diagnostic {
            location: loc(e.pos),
            message: e.message,
            severity: Severity::Error,
        }])
    })?;
    let mut diags = build::Diags::default();
    for w in &tree.warnings {
        diags.warn_once(
            format!("tree:{}:{}", w.pos.line, w.pos.col),
            w.pos,
            w.message.clone(),
        );
    }
    let mut builder = build::Builder::default();
    for path in tree.paths() {
        builder.path(&mut diags, &path);
    }
    drop(tree);
    let mut cfg = builder.finish(&mut diags);
    if !diags.errors.is_empty() {
        let mut errors = diags.errors;
        errors.sort_by(|a, b| (a.pos, &a.message).cmp(&(b.pos, &b.message)));
        errors.dedup();
        return Err(ConfigErrors(
            errors
                .into_iter()
                .map(|e| Diagnostic {
                    location: loc(e.pos),
                    message: e.message,
                    severity: Severity::Error,
                })
                .collect(),
        ));
    }
    cfg.warnings = diags
        .warnings
        .into_iter()
        .map(|w| Diagnostic {
            location: loc(w.pos),
            message: w.message,
            severity: Severity::Warning,
        })
        .collect();
    Ok(cfg)
}

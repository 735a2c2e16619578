//! Command-line words → [`Request`]: the command, its options and the `| display` pipe.
//!
//! Junos rules followed here:
//! - options after the command words come in any order;
//! - every keyword (command words and option names, not values) may be abbreviated to any
//!   unambiguous prefix (`sh serv sess ext`); an exact keyword always wins;
//! - positions that also take a free name (`show services nat pool NAME`) only accept the
//!   keywords spelled in full.
//!
//! Errors carry the byte offset of the offending word so an interactive CLI can put a `^`
//! under it; their text (see [`CommandError`]) is what the CLI prints.

use mspic_config::{AppProtocol, Prefix};
use mspic_flow::SessionFilter;

use mspic_wire::proto;

/// How the answer is printed (`| display xml`, `| display json`, or neither).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum OutputFormat {
    #[default]
    Text,
    Xml,
    Json,
}

/// Output level of `show services sessions` / `flows` / `alg conversations`.
/// `Brief` and `Terse` print what `Normal` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Detail {
    #[default]
    Normal,
    Brief,
    Terse,
    Extensive,
}

impl Detail {
    pub fn is_extensive(self) -> bool {
        self == Detail::Extensive
    }
    /// The `junos:style` attribute value of the XML reply root.
    pub fn style(self) -> &'static str {
        if self.is_extensive() {
            "extensive"
        } else {
            "brief"
        }
    }
}

/// Output level of `show services stateful-firewall statistics`.
/// `Brief` prints what `Normal` prints; `Detail` prints what `Extensive` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum StatsDetail {
    #[default]
    Normal,
    Brief,
    Detail,
    Extensive,
}

impl StatsDetail {
    pub fn is_extensive(self) -> bool {
        matches!(self, StatsDetail::Detail | StatsDetail::Extensive)
    }
}

/// Takes the level keyword `kw` (at `at`) of a command that allows one: the same word
/// again is a duplicate, another level a conflict, as the Junos CLI answers.
fn set_level(
    level: &mut Option<&'static str>,
    kw: &'static str,
    at: usize,
) -> Result<(), CommandError> {
    match *level {
        Some(first) if first == kw => Err(CommandError::Duplicate { keyword: kw, at }),
        Some(first) => Err(CommandError::Conflict {
            first,
            second: kw,
            at,
        }),
        None => {
            *level = Some(kw);
            Ok(())
        }
    }
}

/// `show services nat mappings [summary|detail|brief|endpoint-independent|
/// address-pooling-paired]` (the bare command is `detail`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NatMappingsKind {
    Summary,
    Detail,
    Brief,
    /// Endpoint-independent mappings only.
    EndpointIndependent,
    /// Paired-pooling address mappings only.
    AddressPoolingPaired,
}

/// One operational command with its options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `show services sessions [brief|terse|extensive] [count] [filters]`.
    ShowSessions {
        detail: Detail,
        count: bool,
        filter: SessionFilter,
    },
    /// `show services flows …` (also `show services stateful-firewall flows …`).
    ShowFlows {
        detail: Detail,
        count: bool,
        filter: SessionFilter,
    },
    /// `show services stateful-firewall statistics [brief|detail|extensive] [interface I]`.
    ShowSfwStatistics {
        detail: StatsDetail,
        interface: Option<String>,
    },
    /// `clear services sessions [filters]`.
    ClearSessions { filter: SessionFilter },
    /// `show services softwire statistics [ds-lite] [interface I]`.
    ShowSoftwireStatistics { interface: Option<String> },
    /// `clear services stateful-firewall statistics [interface I]`.
    ClearSfwStatistics { interface: Option<String> },
    /// `clear services nat statistics [interface I]`.
    ClearNatStatistics { interface: Option<String> },
    /// `clear services softwire statistics [ds-lite] [interface I]`.
    ClearSoftwireStatistics { interface: Option<String> },
    /// `show services nat pool [NAME] [brief|detail]`.
    ShowNatPool { name: Option<String>, detail: bool },
    /// `show services nat mappings [brief|detail] [POOL]`, `… summary`,
    /// `… endpoint-independent`, `… address-pooling-paired`.
    ShowNatMappings {
        kind: NatMappingsKind,
        pool: Option<String>,
    },
    /// `show services nat statistics [interface I]`.
    ShowNatStatistics { interface: Option<String> },
    /// `show services nat deterministic-nat nat-port-block ADDRESS`: the port block of
    /// an internal host.
    ShowDetNatPortBlock { internal: std::net::IpAddr },
    /// `show services nat deterministic-nat internal-host ADDRESS port P`: the internal
    /// host a NAT address and port belong to.
    ShowDetNatInternalHost {
        address: std::net::IpAddr,
        port: u16,
    },
    /// `show services service-sets summary [interface I]`.
    ShowServiceSetsSummary { interface: Option<String> },
    /// `show services service-sets cpu-usage [interface I] [service-set S]`.
    ShowServiceSetsCpuUsage {
        interface: Option<String>,
        service_set: Option<String>,
    },
    /// `show services service-sets memory-usage [interface I] [service-set S]`.
    ShowServiceSetsMemoryUsage {
        interface: Option<String>,
        service_set: Option<String>,
    },
    /// `show services service-sets statistics syslog [interface I]`.
    ShowServiceSetsSyslog { interface: Option<String> },
    /// `show services service-sets statistics tcp-mss [interface I]`.
    ShowServiceSetsTcpMss { interface: Option<String> },
    /// `show interfaces [NAME] [terse|brief|detail|extensive] [routing-instance R]` (the
    /// name and the options in any order), of the services interfaces.
    ShowInterfaces {
        /// `ms-1/1/0`, `ms-1/1/0.0` or a pattern (`ms-*`).
        name: Option<String>,
        /// The output level word, if one was given.
        level: Option<&'static str>,
        /// `routing-instance R`: the interfaces of that instance only.
        routing_instance: Option<String>,
    },
    /// `show services alg conversations [brief|extensive] [application-protocol P] [interface I]`.
    ShowAlgConversations {
        detail: Detail,
        application_protocol: Option<AppProtocol>,
        interface: Option<String>,
    },
}

impl Command {
    /// The command words in full (`show services sessions`), for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Command::ShowSessions { .. } => "show services sessions",
            Command::ShowFlows { .. } => "show services flows",
            Command::ShowSfwStatistics { .. } => "show services stateful-firewall statistics",
            Command::ShowSoftwireStatistics { .. } => "show services softwire statistics",
            Command::ClearSessions { .. } => "clear services sessions",
            Command::ClearSfwStatistics { .. } => "clear services stateful-firewall statistics",
            Command::ClearNatStatistics { .. } => "clear services nat statistics",
            Command::ClearSoftwireStatistics { .. } => "clear services softwire statistics",
            Command::ShowNatPool { .. } => "show services nat pool",
            Command::ShowNatMappings { .. } => "show services nat mappings",
            Command::ShowNatStatistics { .. } => "show services nat statistics",
            Command::ShowDetNatPortBlock { .. } => {
                "show services nat deterministic-nat nat-port-block"
            }
            Command::ShowDetNatInternalHost { .. } => {
                "show services nat deterministic-nat internal-host"
            }
            Command::ShowServiceSetsSummary { .. } => "show services service-sets summary",
            Command::ShowServiceSetsCpuUsage { .. } => "show services service-sets cpu-usage",
            Command::ShowServiceSetsMemoryUsage { .. } => "show services service-sets memory-usage",
            Command::ShowServiceSetsSyslog { .. } => "show services service-sets statistics syslog",
            Command::ShowServiceSetsTcpMss { .. } => {
                "show services service-sets statistics tcp-mss"
            }
            Command::ShowAlgConversations { .. } => "show services alg conversations",
            Command::ShowInterfaces { .. } => "show interfaces",
        }
    }
}

/// A parsed command line: the command and how to print its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub command: Command,
    pub format: OutputFormat,
    /// `| display xml rpc`: print the command's RPC instead of running it.
    pub display_rpc: bool,
    /// The text pipes, applied in order to the printed answer.
    pub pipes: Vec<Pipe>,
}

/// A pipe that filters the printed text (`| match RE`, `| except RE`, `| count`,
/// `| last N`, `| no-more`). Patterns are extended regular expressions, matched without
/// regard to case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pipe {
    /// Only the lines matching the pattern.
    Match(String),
    /// Only the lines not matching the pattern.
    Except(String),
    /// `Count: N lines` instead of the lines.
    Count,
    /// The last N lines.
    Last(usize),
    /// No pager (mspic has none): the text as it is.
    NoMore,
}

/// One `| …` of a command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PipeItem {
    /// `| display xml` / `| display json`.
    Display(OutputFormat),
    /// `| display xml rpc`.
    DisplayRpc,
    /// `| display set` (configuration only).
    DisplaySet,
    Text(Pipe),
}

/// The pipe keywords, for completion and help: (words, what it does).
pub const PIPES: &[(&str, &str)] = &[
    ("count", "Count occurrences"),
    ("display json", "Show output in JSON format"),
    ("display set", "Show configuration as set commands"),
    ("display xml", "Show output as XML tags"),
    ("display xml rpc", "Show the XML RPC of the command"),
    ("except", "Show only text that does not match a pattern"),
    ("last", "Display end of output only"),
    ("match", "Show only text that matches a pattern"),
    ("no-more", "Don't paginate output"),
];

/// Largest `| last N`.
const MAX_LAST: usize = 100_000_000;

fn pattern(p: &str) -> Result<regex::Regex, regex::Error> {
    regex::RegexBuilder::new(p)
        .case_insensitive(true)
        .size_limit(1 << 20)
        .build()
}

/// Applies `pipes` in order to `text` (the printed answer).
pub fn apply_pipes(text: &str, pipes: &[Pipe]) -> String {
    let mut out = text.to_string();
    for p in pipes {
        out = match p {
            Pipe::Match(re) | Pipe::Except(re) => {
                let Ok(re) = pattern(re) else { continue };
                let keep = matches!(p, Pipe::Match(_));
                out.split_inclusive('\n')
                    .filter(|l| re.is_match(l.trim_end_matches('\n')) == keep)
                    .collect()
            }
            Pipe::Count => format!("Count: {} lines\n", out.lines().count()),
            Pipe::Last(n) => {
                let lines: Vec<&str> = out.split_inclusive('\n').collect();
                lines[lines.len().saturating_sub(*n)..].concat()
            }
            Pipe::NoMore => out,
        };
    }
    out
}

/// Why a command line was refused (or could not be answered). `Display` gives the exact
/// text the CLI prints, `error: …` included.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// The line ends where a command word is needed (`show services`).
    #[error("error: syntax error, expecting <command>.")]
    ExpectingCommand { at: usize },
    /// A word that is not a command where a command word is needed (`show services foo`).
    #[error("error: syntax error, expecting <command>: {word}")]
    UnknownCommand { word: String, at: usize },
    /// A word that is not an option of the command (`show services sessions foo`).
    #[error("error: syntax error: {word}")]
    UnexpectedWord { word: String, at: usize },
    /// An abbreviation that matches several keywords.
    #[error("error: '{word}' is ambiguous, possible completions: {candidates}")]
    Ambiguous {
        word: String,
        candidates: String,
        at: usize,
    },
    /// An option that needs a value ends the line.
    #[error("error: missing argument for '{keyword}'")]
    MissingArgument { keyword: &'static str, at: usize },
    /// A value that the option does not accept.
    #[error("error: invalid value '{value}' for {keyword} (expected {expected})")]
    InvalidValue {
        keyword: &'static str,
        value: String,
        expected: String,
        at: usize,
    },
    /// The same option twice.
    #[error("error: duplicate argument '{keyword}'")]
    Duplicate { keyword: &'static str, at: usize },
    /// Two options of which only one may be given (`brief extensive`).
    #[error("error: conflicting arguments '{first}' and '{second}'")]
    Conflict {
        first: &'static str,
        second: &'static str,
        at: usize,
    },
    /// A pipe mspic does not have.
    #[error("error: unsupported pipe '{pipe}' (supported: match, except, count, last, no-more, display xml, display json, display xml rpc)")]
    UnsupportedPipe { pipe: String, at: usize },
    /// The backend has no data for this command (yet).
    #[error("error: command not implemented yet: {command}")]
    Unsupported { command: &'static str },
    /// The backend failed to answer.
    #[error("error: {0}")]
    Backend(String),
}

impl CommandError {
    /// Byte offset in the command line of the word the error is about (`None` when the
    /// error is not about a word).
    pub fn offset(&self) -> Option<usize> {
        use CommandError::*;
        match self {
            ExpectingCommand { at }
            | UnknownCommand { at, .. }
            | UnexpectedWord { at, .. }
            | Ambiguous { at, .. }
            | MissingArgument { at, .. }
            | InvalidValue { at, .. }
            | Duplicate { at, .. }
            | Conflict { at, .. }
            | UnsupportedPipe { at, .. } => Some(*at),
            Unsupported { .. } | Backend(_) => None,
        }
    }
}

/// Splits a command line into its command part and its pipes.
pub fn parse_pipes(line: &str) -> Result<(String, Vec<(PipeItem, usize)>), CommandError> {
    let mut segments = split_pipes(line);
    let first = segments.remove(0);
    let mut items = Vec::new();
    for seg in &segments {
        let at = seg.tokens.first().map_or(seg.pipe_at, |t| t.at);
        items.push((parse_pipe(seg)?, at));
    }
    Ok((line[..first.end].to_string(), items))
}

/// Parses a command line (pipes included) into the command and its output format.
pub fn parse_request(line: &str) -> Result<Request, CommandError> {
    let mut segments = split_pipes(line);
    let first = segments.remove(0);
    let command = parse_words(Words::new(&first))?;
    let mut format: Option<OutputFormat> = None;
    let mut display_rpc = false;
    let mut pipes = Vec::new();
    for seg in &segments {
        let at = seg.tokens.first().map_or(seg.pipe_at, |t| t.at);
        let item = parse_pipe(seg)?;
        let display = match item {
            PipeItem::Display(f) => Some((f, false)),
            PipeItem::DisplayRpc => Some((OutputFormat::Xml, true)),
            PipeItem::DisplaySet => {
                return Err(CommandError::UnsupportedPipe {
                    pipe: "display set".into(),
                    at,
                })
            }
            PipeItem::Text(p) => {
                pipes.push(p);
                None
            }
        };
        if let Some((f, rpc)) = display {
            if format.is_some() {
                return Err(CommandError::Duplicate {
                    keyword: "display",
                    at,
                });
            }
            format = Some(f);
            display_rpc = rpc;
        }
    }
    Ok(Request {
        command,
        format: format.unwrap_or_default(),
        display_rpc,
        pipes,
    })
}

/// Parses a command line into its [`Command`]. A `| display` pipe is checked and then
/// dropped; use [`parse_request`] to keep it.
pub fn parse_command(line: &str) -> Result<Command, CommandError> {
    parse_request(line).map(|r| r.command)
}

// ---------------------------------------------------------------------------------------
// Tokens

#[derive(Debug, Clone, Copy)]
struct Token<'a> {
    at: usize,
    text: &'a str,
}

struct Segment<'a> {
    /// Offset of the `|` that starts this segment (0 for the command itself).
    pipe_at: usize,
    /// Offset just past the segment's last byte.
    end: usize,
    /// The segment as typed.
    text: &'a str,
    tokens: Vec<Token<'a>>,
}

fn split_pipes(line: &str) -> Vec<Segment<'_>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut pipe_at = 0;
    let mut quoted = false;
    for (i, c) in line.char_indices() {
        if c == '"' {
            quoted = !quoted;
        } else if c == '|' && !quoted {
            out.push(segment(line, start, i, pipe_at));
            start = i + 1;
            pipe_at = i;
        }
    }
    out.push(segment(line, start, line.len(), pipe_at));
    out
}

fn segment(line: &str, start: usize, end: usize, pipe_at: usize) -> Segment<'_> {
    let text = &line[start..end];
    let mut tokens = Vec::new();
    let mut word_start: Option<usize> = None;
    for (i, c) in text.char_indices() {
        if c.is_whitespace() {
            if let Some(s) = word_start.take() {
                tokens.push(Token {
                    at: start + s,
                    text: &text[s..i],
                });
            }
        } else if word_start.is_none() {
            word_start = Some(i);
        }
    }
    if let Some(s) = word_start {
        tokens.push(Token {
            at: start + s,
            text: &text[s..],
        });
    }
    Segment {
        pipe_at,
        end,
        text,
        tokens,
    }
}

fn parse_pipe(seg: &Segment<'_>) -> Result<PipeItem, CommandError> {
    let Some(first) = seg.tokens.first() else {
        return Err(CommandError::ExpectingCommand { at: seg.end });
    };
    let unsupported = || CommandError::UnsupportedPipe {
        pipe: seg
            .tokens
            .iter()
            .map(|t| t.text)
            .collect::<Vec<_>>()
            .join(" "),
        at: first.at,
    };
    let kw = match lookup(
        first.text,
        &["count", "display", "except", "last", "match", "no-more"],
    ) {
        Lookup::Found(k) => k,
        Lookup::None => return Err(unsupported()),
        Lookup::Ambiguous(c) => return Err(ambiguous(*first, &c)),
    };
    let rest = &seg.tokens[1..];
    let no_more_words = |item: PipeItem| match rest.first() {
        None => Ok(item),
        Some(t) => Err(CommandError::UnexpectedWord {
            word: t.text.to_string(),
            at: t.at,
        }),
    };
    match kw {
        "count" => no_more_words(PipeItem::Text(Pipe::Count)),
        "no-more" => no_more_words(PipeItem::Text(Pipe::NoMore)),
        "last" => match rest {
            [] => Err(CommandError::MissingArgument {
                keyword: "last",
                at: seg.end,
            }),
            [n] => parse_decimal(n.text)
                .and_then(|v| usize::try_from(v).ok())
                .filter(|v| (1..=MAX_LAST).contains(v))
                .map(|v| PipeItem::Text(Pipe::Last(v)))
                .ok_or_else(|| invalid("last", *n, "1..100000000")),
            [_, extra, ..] => Err(CommandError::UnexpectedWord {
                word: extra.text.to_string(),
                at: extra.at,
            }),
        },
        "match" | "except" => {
            let Some(p) = rest.first() else {
                return Err(CommandError::MissingArgument {
                    keyword: kw,
                    at: seg.end,
                });
            };
            // The pattern is the rest of the segment, one quoted string or bare words.
            let raw = seg.text[p.at - (seg.end - seg.text.len())..].trim();
            let pat = match raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
                Some(inner) => inner.to_string(),
                None => raw.to_string(),
            };
            if let Err(e) = pattern(&pat) {
                let expected = match e {
                    regex::Error::CompiledTooBig(_) => "a smaller regular expression".to_string(),
                    _ => "a regular expression".to_string(),
                };
                return Err(invalid(
                    if kw == "match" { "match" } else { "except" },
                    *p,
                    expected,
                ));
            }
            Ok(PipeItem::Text(if kw == "match" {
                Pipe::Match(pat)
            } else {
                Pipe::Except(pat)
            }))
        }
        _ => {
            let words: Vec<&str> = rest.iter().map(|t| t.text).collect();
            match words.as_slice() {
                ["xml"] => Ok(PipeItem::Display(OutputFormat::Xml)),
                ["json"] => Ok(PipeItem::Display(OutputFormat::Json)),
                ["set"] => Ok(PipeItem::DisplaySet),
                ["xml", "rpc"] => Ok(PipeItem::DisplayRpc),
                _ => Err(unsupported()),
            }
        }
    }
}

fn is_prefix_of(word: &str, keyword: &str) -> bool {
    !word.is_empty() && keyword.starts_with(word)
}

/// A cursor over the words of the command segment.
struct Words<'a> {
    tokens: Vec<Token<'a>>,
    pos: usize,
    end: usize,
}

impl<'a> Words<'a> {
    fn new(seg: &Segment<'a>) -> Self {
        Words {
            tokens: seg.tokens.clone(),
            pos: 0,
            end: seg.end,
        }
    }

    fn peek(&self) -> Option<Token<'a>> {
        self.tokens.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<Token<'a>> {
        let t = self.peek();
        if t.is_some() {
            self.pos += 1;
        }
        t
    }

    /// The next word must be one of the command words `choices` (abbreviations allowed).
    fn command(&mut self, choices: &[Keyword]) -> Result<&'static str, CommandError> {
        let Some(tok) = self.next() else {
            return Err(CommandError::ExpectingCommand { at: self.end });
        };
        let names: Vec<&'static str> = choices.iter().map(|k| k.0).collect();
        match lookup(tok.text, &names) {
            Lookup::Found(k) => Ok(k),
            Lookup::None => Err(CommandError::UnknownCommand {
                word: tok.text.to_string(),
                at: tok.at,
            }),
            Lookup::Ambiguous(c) => Err(ambiguous(tok, &c)),
        }
    }

    /// The value of option `keyword`.
    fn value(&mut self, keyword: &'static str) -> Result<Token<'a>, CommandError> {
        self.next().ok_or(CommandError::MissingArgument {
            keyword,
            at: self.end,
        })
    }

    fn finish(&mut self) -> Result<(), CommandError> {
        match self.next() {
            None => Ok(()),
            Some(tok) => Err(CommandError::UnexpectedWord {
                word: tok.text.to_string(),
                at: tok.at,
            }),
        }
    }
}

enum Lookup {
    Found(&'static str),
    None,
    Ambiguous(Vec<&'static str>),
}

fn lookup(word: &str, choices: &[&'static str]) -> Lookup {
    if let Some(k) = choices.iter().find(|k| **k == word) {
        return Lookup::Found(k);
    }
    let matches: Vec<&'static str> = choices
        .iter()
        .copied()
        .filter(|k| is_prefix_of(word, k))
        .collect();
    match matches.len() {
        0 => Lookup::None,
        1 => Lookup::Found(matches[0]),
        _ => Lookup::Ambiguous(matches),
    }
}

fn ambiguous(tok: Token<'_>, candidates: &[&'static str]) -> CommandError {
    let mut c = candidates.to_vec();
    c.sort_unstable();
    CommandError::Ambiguous {
        word: tok.text.to_string(),
        candidates: c.join(", "),
        at: tok.at,
    }
}

// ---------------------------------------------------------------------------------------
// Grammar tables: the parser below reads its command words from them, and completion and
// `?` help ([`complete`]) walk the same tables.

/// A keyword of the command grammar and its `?` help.
pub type Keyword = (&'static str, &'static str);

/// The first word.
pub const VERBS: &[Keyword] = &[
    ("clear", "Clear information in the system"),
    ("show", "Show system information"),
];
/// After `show`. `configuration` is answered by mspicd outside this parser (`show
/// configuration [PATH]`, see its `show_configuration`), which refuses it.
pub const SHOW_WORDS: &[Keyword] = &[
    ("configuration", "Show current configuration"),
    ("interfaces", "Show interface information"),
    ("services", "Show services information"),
];
/// After `show services`.
pub const SHOW_SERVICES: &[Keyword] = &[
    ("sessions", "Show services sessions"),
    ("flows", "Show services flows"),
    ("stateful-firewall", "Show stateful firewall information"),
    ("nat", "Show Network Address Translation information"),
    ("service-sets", "Show service-set information"),
    ("alg", "Show Application Layer Gateway information"),
    ("softwire", "Show softwire information"),
];
/// After `show services softwire`.
pub const SOFTWIRE_WORDS: &[Keyword] = &[("statistics", "Show softwire statistics")];

/// After `show services stateful-firewall`.
pub const SFW_WORDS: &[Keyword] = &[
    ("statistics", "Show stateful firewall statistics"),
    ("flows", "Show stateful firewall flow table"),
];
/// After `show services nat`.
pub const NAT_WORDS: &[Keyword] = &[
    ("pool", "Show NAT pool information"),
    ("mappings", "Show NAT mappings"),
    ("statistics", "Show NAT statistics"),
    ("deterministic-nat", "Show deterministic NAT information"),
];
/// After `show services nat deterministic-nat`.
pub const DETNAT_WORDS: &[Keyword] = &[
    (
        "internal-host",
        "Show the internal host of a NAT address and port",
    ),
    (
        "nat-port-block",
        "Show the NAT port block of an internal host",
    ),
];
/// After `show services nat mappings`.
pub const MAPPINGS_WORDS: &[Keyword] = &[
    ("summary", "Display summary of NAT mappings"),
    ("detail", "Display detailed output"),
    ("brief", "Display brief output"),
    (
        "endpoint-independent",
        "Display endpoint-independent mappings",
    ),
    (
        "address-pooling-paired",
        "Display address-pooling paired mappings",
    ),
];
/// After `show services service-sets`.
pub const SERVICE_SETS_WORDS: &[Keyword] = &[
    ("cpu-usage", "Show service-set CPU usage"),
    ("memory-usage", "Show service-set memory usage"),
    ("summary", "Show service-set summary"),
    ("statistics", "Show service-set statistics"),
];
/// After `show services service-sets statistics`.
pub const SERVICE_SETS_STATISTICS_WORDS: &[Keyword] = &[
    ("syslog", "Show service-set system log statistics"),
    ("tcp-mss", "Show service-set TCP MSS statistics"),
];
/// After `show services alg`.
pub const ALG_WORDS: &[Keyword] = &[("conversations", "Show ALG conversations")];
/// After `clear`.
pub const CLEAR_WHAT: &[Keyword] = &[("services", "Clear services information")];
/// After `clear services`.
pub const CLEAR_SERVICES: &[Keyword] = &[
    ("sessions", "Clear services sessions"),
    ("stateful-firewall", "Clear stateful firewall information"),
    ("nat", "Clear NAT information"),
    ("softwire", "Clear softwire information"),
];
/// After `clear services stateful-firewall`.
pub const CLEAR_SFW_WORDS: &[Keyword] = &[("statistics", "Clear stateful firewall statistics")];
/// After `clear services nat`.
pub const CLEAR_NAT_WORDS: &[Keyword] = &[("statistics", "Clear NAT statistics")];
/// After `clear services softwire`.
pub const CLEAR_SOFTWIRE_WORDS: &[Keyword] = &[("statistics", "Clear softwire statistics")];

/// Help and value placeholder of each option keyword.
fn option_info(kw: &str) -> (&'static str, Option<&'static str>) {
    match kw {
        "brief" => ("Display brief output", None),
        "terse" => ("Display terse output", None),
        "detail" => ("Display detailed output", None),
        "extensive" => ("Display extensive output", None),
        "count" => ("Display count only", None),
        "application-protocol" => ("Application protocol", Some("<application-protocol>")),
        "destination-port" => ("Destination port", Some("<destination-port>")),
        "destination-prefix" => ("Destination prefix", Some("<destination-prefix>")),
        "source-port" => ("Source port", Some("<source-port>")),
        "source-prefix" => ("Source prefix", Some("<source-prefix>")),
        "interface" => ("Name of services interface", Some("<interface>")),
        "limit" => ("Maximum number of entries to display", Some("<limit>")),
        "protocol" => ("IP protocol", Some("<protocol>")),
        "service-set" => ("Name of service set", Some("<service-set>")),
        "routing-instance" => ("Name of routing instance", Some("<routing-instance>")),
        _ => ("", None),
    }
}

/// Options of `show services stateful-firewall statistics`.
const SFW_STATS_OPTIONS: &[&str] = &["brief", "detail", "extensive", "interface"];
/// Options of `show services nat pool` (and a pool name).
const NAT_POOL_OPTIONS: &[&str] = &["brief", "detail"];

/// Levels and options of `show interfaces` (and an interface name).
const INTERFACES_OPTIONS: &[&str] = &["brief", "detail", "extensive", "routing-instance", "terse"];

/// The value a command takes besides its options (a pool or interface name), if any.
fn positional_value(options: &'static [&'static str]) -> Option<&'static str> {
    if std::ptr::eq(options, NAT_POOL_OPTIONS) {
        Some("<pool-name>")
    } else if std::ptr::eq(options, INTERFACES_OPTIONS) {
        Some("<interface-name>")
    } else {
        None
    }
}
/// Options of the commands ending in `[interface I]`.
const INTERFACE_OPTION: &[&str] = &["interface"];
/// Options of `show services service-sets cpu-usage` and `memory-usage`.
const USAGE_OPTIONS: &[&str] = &["interface", "service-set"];

/// What may be typed at the end of a command line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Completions {
    /// Byte offset where the word being typed starts (the end of the line when none is).
    pub start: usize,
    /// Keywords that fit there, with their help.
    pub keywords: Vec<Keyword>,
    /// A value that may be typed there (`<source-prefix>`, `<pattern>`, `[NAME]`).
    pub value: Option<&'static str>,
    /// Whether the line is complete as it stands (`<[Enter]>`).
    pub can_end: bool,
}

enum Place {
    Words(&'static [Keyword], bool),
    Options(&'static [&'static str], Option<&'static str>),
    /// A value may follow (or nothing).
    Value(&'static str),
    Dead,
}

/// What may come next at the end of `line` (for Tab completion and `?`), from the grammar
/// tables the parser uses.
pub fn complete(line: &str) -> Completions {
    let segments = split_pipes(line);
    let last = segments.last().expect("split_pipes returns a segment");
    let ends_open = line.is_empty() || line.ends_with(|c: char| c.is_whitespace() || c == '|');
    let (done, partial): (&[Token<'_>], &str) = if ends_open {
        (&last.tokens, "")
    } else {
        let (p, d) = last
            .tokens
            .split_last()
            .map_or((None, &[][..]), |(p, d)| (Some(p), d));
        (d, p.map_or("", |t| t.text))
    };
    let start = line.len() - partial.len();
    let mut c = Completions {
        start,
        ..Completions::default()
    };
    if segments.len() > 1 {
        complete_pipe(done, partial, &mut c);
        return c;
    }
    let place = walk(done);
    match place {
        Place::Words(words, can_end) => {
            c.keywords = words
                .iter()
                .filter(|k| is_prefix_of(partial, k.0) || partial.is_empty())
                .copied()
                .collect();
            c.can_end = can_end;
        }
        Place::Options(options, pending) => {
            if let Some(v) = pending {
                c.value = Some(v);
            } else {
                let seen: Vec<&str> = done.iter().map(|t| t.text).collect();
                for o in options {
                    if seen.contains(o) || !(partial.is_empty() || is_prefix_of(partial, o)) {
                        continue;
                    }
                    c.keywords.push((o, option_info(o).0));
                }
                c.can_end = true;
                c.value = positional_value(options);
            }
        }
        Place::Value(v) => {
            c.value = Some(v);
            c.can_end = true;
        }
        Place::Dead => {}
    }
    c
}

fn complete_pipe(done: &[Token<'_>], partial: &str, c: &mut Completions) {
    let words: Vec<&str> = done.iter().map(|t| t.text).collect();
    let pick = |choices: &[Keyword], c: &mut Completions| {
        c.keywords = choices
            .iter()
            .filter(|k| partial.is_empty() || is_prefix_of(partial, k.0))
            .copied()
            .collect();
    };
    const FIRST: &[Keyword] = &[
        ("count", "Count occurrences"),
        ("display", "Show additional kinds of information"),
        ("except", "Show only text that does not match a pattern"),
        ("last", "Display end of output only"),
        ("match", "Show only text that matches a pattern"),
        ("no-more", "Don't paginate output"),
    ];
    const DISPLAY: &[Keyword] = &[
        ("json", "Show output in JSON format"),
        ("set", "Show configuration as set commands"),
        ("xml", "Show output as XML tags"),
    ];
    match words.as_slice() {
        [] => pick(FIRST, c),
        [d] if is_prefix_of(d, "display") => pick(DISPLAY, c),
        [d, "xml"] if is_prefix_of(d, "display") => {
            pick(&[("rpc", "Show the XML RPC of the command")], c);
            c.can_end = true;
        }
        [m] if is_prefix_of(m, "match") || is_prefix_of(m, "except") => c.value = Some("<pattern>"),
        [l] if is_prefix_of(l, "last") => c.value = Some("<lines>"),
        [..] => c.can_end = true,
    }
}

/// Where the parser is after the complete words `done`.
fn walk(done: &[Token<'_>]) -> Place {
    let mut it = done.iter();
    let step = |words: &'static [Keyword], tok: Option<&Token<'_>>| -> Option<&'static str> {
        let names: Vec<&'static str> = words.iter().map(|k| k.0).collect();
        match lookup(tok?.text, &names) {
            Lookup::Found(k) => Some(k),
            _ => None,
        }
    };
    macro_rules! next {
        ($words:expr) => {
            match it.next() {
                None => return Place::Words($words, false),
                t => match step($words, t) {
                    Some(k) => k,
                    None => return Place::Dead,
                },
            }
        };
    }
    let options = |set: &'static [&'static str], rest: &mut dyn Iterator<Item = &Token<'_>>| {
        let mut pending = None;
        for t in rest {
            if pending.take().is_some() {
                continue;
            }
            let Lookup::Found(k) = lookup(t.text, set) else {
                if positional_value(set).is_some() {
                    continue;
                }
                return Place::Dead;
            };
            pending = option_info(k).1;
        }
        Place::Options(set, pending)
    };
    match next!(VERBS) {
        "show" => match next!(SHOW_WORDS) {
            "configuration" => Place::Dead,
            "interfaces" => options(INTERFACES_OPTIONS, &mut it),
            _ => match next!(SHOW_SERVICES) {
                "sessions" | "flows" => options(OptionSet::Show.keywords(), &mut it),
                "stateful-firewall" => match next!(SFW_WORDS) {
                    "flows" => options(OptionSet::Show.keywords(), &mut it),
                    _ => options(SFW_STATS_OPTIONS, &mut it),
                },
                "softwire" => {
                    let _statistics = next!(SOFTWIRE_WORDS);
                    options(INTERFACE_OPTION, &mut it)
                }
                "nat" => match next!(NAT_WORDS) {
                    "pool" => options(NAT_POOL_OPTIONS, &mut it),
                    "mappings" => match it.next() {
                        None => Place::Words(MAPPINGS_WORDS, true),
                        Some(t) => match step(MAPPINGS_WORDS, Some(t)) {
                            Some("detail" | "brief") if it.next().is_none() => {
                                Place::Value("<pool-name>")
                            }
                            Some(_) => Place::Options(&[], None),
                            // A pool name.
                            None => Place::Options(&[], None),
                        },
                    },
                    "deterministic-nat" => {
                        next!(DETNAT_WORDS);
                        Place::Dead
                    }
                    _ => options(INTERFACE_OPTION, &mut it),
                },
                "service-sets" => match next!(SERVICE_SETS_WORDS) {
                    "statistics" => {
                        next!(SERVICE_SETS_STATISTICS_WORDS);
                        options(INTERFACE_OPTION, &mut it)
                    }
                    "cpu-usage" | "memory-usage" => options(USAGE_OPTIONS, &mut it),
                    _ => options(INTERFACE_OPTION, &mut it),
                },
                _ => {
                    next!(ALG_WORDS);
                    options(OptionSet::Alg.keywords(), &mut it)
                }
            },
        },
        _ => {
            next!(CLEAR_WHAT);
            match next!(CLEAR_SERVICES) {
                "sessions" => options(OptionSet::Clear.keywords(), &mut it),
                "nat" => {
                    next!(CLEAR_NAT_WORDS);
                    options(INTERFACE_OPTION, &mut it)
                }
                "softwire" => {
                    next!(CLEAR_SOFTWIRE_WORDS);
                    options(INTERFACE_OPTION, &mut it)
                }
                _ => {
                    next!(CLEAR_SFW_WORDS);
                    options(INTERFACE_OPTION, &mut it)
                }
            }
        }
    }
}

/// The `?` help at the end of `line`, Junos style (`Possible completions:` and one line per
/// keyword); `extra` are words the caller adds at the first position (`request`, `exit`).
pub fn help(line: &str, extra: &[Keyword]) -> String {
    let mut c = complete(line);
    if c.start < line.len() {
        // A word is being typed: only the keywords it may become.
        c.can_end = false;
        c.value = None;
    }
    let mut rows: Vec<(String, &str)> = Vec::new();
    if let Some(v) = c.value {
        rows.push((v.to_string(), ""));
    }
    if c.can_end {
        rows.push(("<[Enter]>".to_string(), "Execute this command"));
    }
    let mut kws = c.keywords.clone();
    if line[..c.start].trim().is_empty() {
        kws.extend(
            extra
                .iter()
                .filter(|k| is_prefix_of(&line[c.start..], k.0) || c.start == line.len()),
        );
    }
    kws.sort_unstable();
    for (k, h) in kws {
        rows.push((k.to_string(), h));
    }
    if c.can_end && !line.trim_end().ends_with('|') {
        rows.push(("|".to_string(), "Pipe through a command"));
    }
    if rows.is_empty() {
        return "error: syntax error, nothing can follow here\n".to_string();
    }
    let mut out = String::from("Possible completions:\n");
    for (k, h) in rows {
        if h.is_empty() {
            out.push_str(&format!("  {k}\n"));
        } else {
            out.push_str(&format!("  {k:<22} {h}\n"));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Grammar

fn parse_words(mut w: Words<'_>) -> Result<Command, CommandError> {
    match w.command(VERBS)? {
        "show" => {
            let word = w.peek().map(|t| (t.text.to_string(), t.at));
            match w.command(SHOW_WORDS)? {
                "configuration" => {
                    let (word, at) = word.expect("a word was read");
                    return Err(CommandError::UnknownCommand { word, at });
                }
                "interfaces" => return show_interfaces(&mut w),
                _ => {}
            }
            match w.command(SHOW_SERVICES)? {
                "sessions" => {
                    let o = session_options(&mut w, OptionSet::Show)?;
                    Ok(Command::ShowSessions {
                        detail: o.detail,
                        count: o.count,
                        filter: o.filter,
                    })
                }
                "flows" => show_flows(&mut w),
                "stateful-firewall" => match w.command(SFW_WORDS)? {
                    "flows" => show_flows(&mut w),
                    _ => sfw_statistics(&mut w),
                },
                "softwire" => {
                    w.command(SOFTWIRE_WORDS)?;
                    if w.peek()
                        .is_some_and(|t| matches!(lookup(t.text, &["ds-lite"]), Lookup::Found(_)))
                    {
                        w.next();
                    }
                    Ok(Command::ShowSoftwireStatistics {
                        interface: interface_only(&mut w)?,
                    })
                }
                "nat" => match w.command(NAT_WORDS)? {
                    "pool" => nat_pool(&mut w),
                    "mappings" => nat_mappings(&mut w),
                    "deterministic-nat" => deterministic_nat(&mut w),
                    _ => Ok(Command::ShowNatStatistics {
                        interface: interface_only(&mut w)?,
                    }),
                },
                "service-sets" => {
                    let what = w.command(SERVICE_SETS_WORDS)?;
                    if let "cpu-usage" | "memory-usage" = what {
                        let (interface, service_set) = usage_options(&mut w)?;
                        return Ok(if what == "cpu-usage" {
                            Command::ShowServiceSetsCpuUsage {
                                interface,
                                service_set,
                            }
                        } else {
                            Command::ShowServiceSetsMemoryUsage {
                                interface,
                                service_set,
                            }
                        });
                    }
                    if what == "statistics" {
                        let what = w.command(SERVICE_SETS_STATISTICS_WORDS)?;
                        let interface = interface_only(&mut w)?;
                        return Ok(if what == "syslog" {
                            Command::ShowServiceSetsSyslog { interface }
                        } else {
                            Command::ShowServiceSetsTcpMss { interface }
                        });
                    }
                    Ok(Command::ShowServiceSetsSummary {
                        interface: interface_only(&mut w)?,
                    })
                }
                _ => {
                    w.command(ALG_WORDS)?;
                    let o = session_options(&mut w, OptionSet::Alg)?;
                    Ok(Command::ShowAlgConversations {
                        detail: o.detail,
                        application_protocol: o.filter.application_protocol,
                        interface: o.filter.interface,
                    })
                }
            }
        }
        _ => {
            w.command(CLEAR_WHAT)?;
            match w.command(CLEAR_SERVICES)? {
                "sessions" => {
                    let o = session_options(&mut w, OptionSet::Clear)?;
                    Ok(Command::ClearSessions { filter: o.filter })
                }
                "nat" => {
                    w.command(CLEAR_NAT_WORDS)?;
                    Ok(Command::ClearNatStatistics {
                        interface: interface_only(&mut w)?,
                    })
                }
                "softwire" => {
                    w.command(CLEAR_SOFTWIRE_WORDS)?;
                    if w.peek()
                        .is_some_and(|t| matches!(lookup(t.text, &["ds-lite"]), Lookup::Found(_)))
                    {
                        w.next();
                    }
                    Ok(Command::ClearSoftwireStatistics {
                        interface: interface_only(&mut w)?,
                    })
                }
                _ => {
                    w.command(CLEAR_SFW_WORDS)?;
                    Ok(Command::ClearSfwStatistics {
                        interface: interface_only(&mut w)?,
                    })
                }
            }
        }
    }
}

fn show_flows(w: &mut Words<'_>) -> Result<Command, CommandError> {
    let o = session_options(w, OptionSet::Show)?;
    Ok(Command::ShowFlows {
        detail: o.detail,
        count: o.count,
        filter: o.filter,
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum OptionSet {
    /// show services sessions / flows: levels, count, every filter.
    Show,
    /// clear services sessions: every filter.
    Clear,
    /// show services alg conversations: brief/extensive, application-protocol, interface.
    Alg,
}

impl OptionSet {
    fn keywords(self) -> &'static [&'static str] {
        match self {
            OptionSet::Show => &[
                "brief",
                "terse",
                "extensive",
                "count",
                "application-protocol",
                "destination-port",
                "destination-prefix",
                "interface",
                "limit",
                "protocol",
                "service-set",
                "source-port",
                "source-prefix",
            ],
            OptionSet::Clear => &[
                "application-protocol",
                "destination-port",
                "destination-prefix",
                "interface",
                "limit",
                "protocol",
                "service-set",
                "source-port",
                "source-prefix",
            ],
            OptionSet::Alg => &["brief", "extensive", "application-protocol", "interface"],
        }
    }
}

#[derive(Default)]
struct SessionOptions {
    detail: Detail,
    count: bool,
    filter: SessionFilter,
}

fn session_options(w: &mut Words<'_>, set: OptionSet) -> Result<SessionOptions, CommandError> {
    let mut o = SessionOptions::default();
    let mut level: Option<&'static str> = None;
    let mut seen: Vec<&'static str> = Vec::new();
    while let Some(tok) = w.next() {
        let kw = match lookup(tok.text, set.keywords()) {
            Lookup::Found(k) => k,
            Lookup::None => {
                return Err(CommandError::UnexpectedWord {
                    word: tok.text.to_string(),
                    at: tok.at,
                })
            }
            Lookup::Ambiguous(c) => return Err(ambiguous(tok, &c)),
        };
        if seen.contains(&kw) {
            return Err(CommandError::Duplicate {
                keyword: kw,
                at: tok.at,
            });
        }
        seen.push(kw);
        match kw {
            "brief" | "terse" | "extensive" => {
                if let Some(first) = level {
                    return Err(CommandError::Conflict {
                        first,
                        second: kw,
                        at: tok.at,
                    });
                }
                level = Some(kw);
                o.detail = match kw {
                    "brief" => Detail::Brief,
                    "terse" => Detail::Terse,
                    _ => Detail::Extensive,
                };
            }
            "count" => o.count = true,
            "application-protocol" => {
                let v = w.value(kw)?;
                o.filter.application_protocol = Some(parse_app_protocol(v)?);
            }
            "destination-port" => o.filter.destination_port = Some(parse_port(kw, w.value(kw)?)?),
            "source-port" => o.filter.source_port = Some(parse_port(kw, w.value(kw)?)?),
            "destination-prefix" => {
                o.filter.destination_prefix = Some(parse_prefix(kw, w.value(kw)?)?)
            }
            "source-prefix" => o.filter.source_prefix = Some(parse_prefix(kw, w.value(kw)?)?),
            "interface" => o.filter.interface = Some(parse_interface(w.value(kw)?)?),
            "limit" => o.filter.limit = Some(parse_limit(w.value(kw)?)?),
            "protocol" => o.filter.protocol = Some(parse_protocol(w.value(kw)?)?),
            "service-set" => o.filter.service_set = Some(w.value(kw)?.text.to_string()),
            _ => unreachable!("keyword table and match arms agree"),
        }
    }
    Ok(o)
}

fn sfw_statistics(w: &mut Words<'_>) -> Result<Command, CommandError> {
    let mut detail: Option<(&'static str, StatsDetail)> = None;
    let mut interface: Option<String> = None;
    while let Some(tok) = w.next() {
        let kw = match lookup(tok.text, SFW_STATS_OPTIONS) {
            Lookup::Found(k) => k,
            Lookup::None => {
                return Err(CommandError::UnexpectedWord {
                    word: tok.text.to_string(),
                    at: tok.at,
                })
            }
            Lookup::Ambiguous(c) => return Err(ambiguous(tok, &c)),
        };
        if kw == "interface" {
            if interface.is_some() {
                return Err(CommandError::Duplicate {
                    keyword: kw,
                    at: tok.at,
                });
            }
            interface = Some(parse_interface(w.value(kw)?)?);
            continue;
        }
        // Checked against the level taken so far; `detail` takes it below.
        let mut taken = detail.map(|(k, _)| k);
        set_level(&mut taken, kw, tok.at)?;
        let d = match kw {
            "brief" => StatsDetail::Brief,
            "detail" => StatsDetail::Detail,
            _ => StatsDetail::Extensive,
        };
        detail = Some((kw, d));
    }
    Ok(Command::ShowSfwStatistics {
        detail: detail.map(|(_, d)| d).unwrap_or_default(),
        interface,
    })
}

/// `show services nat mappings [summary|detail|brief|endpoint-independent|
/// address-pooling-paired] [POOL]` (Junos "show services nat mappings": `<brief | detail |
/// summary> <pool-name>`; the RPC table names the other two). A word that is not one of
/// the keywords (abbreviations allowed) is a pool name; the pool name goes with the bare
/// command, `brief` and `detail`.
fn nat_mappings(w: &mut Words<'_>) -> Result<Command, CommandError> {
    let names: Vec<&'static str> = MAPPINGS_WORDS.iter().map(|k| k.0).collect();
    let kind = match w.peek().map(|t| (t, lookup(t.text, &names))) {
        None | Some((_, Lookup::None)) => NatMappingsKind::Detail,
        Some((t, Lookup::Ambiguous(c))) => return Err(ambiguous(t, &c)),
        Some((_, Lookup::Found(k))) => {
            w.next();
            match k {
                "summary" => NatMappingsKind::Summary,
                "detail" => NatMappingsKind::Detail,
                "brief" => NatMappingsKind::Brief,
                "endpoint-independent" => NatMappingsKind::EndpointIndependent,
                _ => NatMappingsKind::AddressPoolingPaired,
            }
        }
    };
    let pool = match kind {
        NatMappingsKind::Detail | NatMappingsKind::Brief => w.next().map(|t| t.text.to_string()),
        _ => None,
    };
    w.finish()?;
    Ok(Command::ShowNatMappings { kind, pool })
}

fn nat_pool(w: &mut Words<'_>) -> Result<Command, CommandError> {
    let mut name: Option<String> = None;
    let mut level: Option<&'static str> = None;
    while let Some(tok) = w.next() {
        match NAT_POOL_OPTIONS.iter().find(|k| **k == tok.text) {
            // Spelled in full only: anything else may be a pool name.
            Some(&kw) => {
                set_level(&mut level, kw, tok.at)?;
            }
            None if name.is_none() => name = Some(tok.text.to_string()),
            None => {
                return Err(CommandError::UnexpectedWord {
                    word: tok.text.to_string(),
                    at: tok.at,
                })
            }
        }
    }
    Ok(Command::ShowNatPool {
        name,
        detail: level == Some("detail"),
    })
}

/// `show services nat deterministic-nat nat-port-block ADDRESS` and `… internal-host
/// ADDRESS port P` (Junos: the `get-service-detnat-pb-information` and
/// `get-service-detnat-information` RPCs).
fn deterministic_nat(w: &mut Words<'_>) -> Result<Command, CommandError> {
    let which = w.command(DETNAT_WORDS)?;
    let address = |w: &mut Words<'_>, keyword: &'static str| {
        let t = w.value(keyword)?;
        t.text.parse().map_err(|_| CommandError::InvalidValue {
            keyword,
            value: t.text.to_string(),
            expected: "an IP address".into(),
            at: t.at,
        })
    };
    let cmd = if which == "nat-port-block" {
        Command::ShowDetNatPortBlock {
            internal: address(w, "nat-port-block")?,
        }
    } else {
        let address = address(w, "internal-host")?;
        match w.next() {
            Some(t) if t.text == "port" => {}
            Some(t) => {
                return Err(CommandError::UnexpectedWord {
                    word: t.text.to_string(),
                    at: t.at,
                })
            }
            None => {
                return Err(CommandError::MissingArgument {
                    keyword: "port",
                    at: w.end,
                })
            }
        }
        let t = w.value("port")?;
        let port = t.text.parse().map_err(|_| CommandError::InvalidValue {
            keyword: "port",
            value: t.text.to_string(),
            expected: "a port number 0-65535".into(),
            at: t.at,
        })?;
        Command::ShowDetNatInternalHost { address, port }
    };
    w.finish()?;
    Ok(cmd)
}

/// `show interfaces [NAME] [LEVEL] [routing-instance R]`, in any order.
fn show_interfaces(w: &mut Words<'_>) -> Result<Command, CommandError> {
    let mut name: Option<String> = None;
    let mut level: Option<&'static str> = None;
    let mut routing_instance: Option<String> = None;
    while let Some(tok) = w.next() {
        match lookup(tok.text, INTERFACES_OPTIONS) {
            Lookup::Found(kw @ "routing-instance") => {
                if routing_instance.is_some() {
                    return Err(CommandError::Duplicate {
                        keyword: kw,
                        at: tok.at,
                    });
                }
                routing_instance = Some(w.value(kw)?.text.to_string());
            }
            Lookup::Found(kw) => {
                set_level(&mut level, kw, tok.at)?;
            }
            Lookup::Ambiguous(c) => return Err(ambiguous(tok, &c)),
            Lookup::None if name.is_none() && crate::glob::is_pattern(tok.text) => {
                name = Some(tok.text.to_string())
            }
            Lookup::None if name.is_none() => name = Some(parse_interface_unit(tok)?),
            Lookup::None => {
                return Err(CommandError::UnexpectedWord {
                    word: tok.text.to_string(),
                    at: tok.at,
                })
            }
        }
    }
    Ok(Command::ShowInterfaces {
        name,
        level,
        routing_instance,
    })
}

/// `[interface I] [service-set S]`, in either order, each at most once.
fn usage_options(w: &mut Words<'_>) -> Result<(Option<String>, Option<String>), CommandError> {
    let (mut interface, mut service_set) = (None, None);
    while let Some(tok) = w.next() {
        match lookup(tok.text, USAGE_OPTIONS) {
            Lookup::Found("interface") if interface.is_none() => {
                interface = Some(parse_interface(w.value("interface")?)?);
            }
            Lookup::Found("service-set") if service_set.is_none() => {
                service_set = Some(w.value("service-set")?.text.to_string());
            }
            _ => {
                return Err(CommandError::UnexpectedWord {
                    word: tok.text.to_string(),
                    at: tok.at,
                })
            }
        }
    }
    Ok((interface, service_set))
}

fn interface_only(w: &mut Words<'_>) -> Result<Option<String>, CommandError> {
    let Some(tok) = w.peek() else {
        return Ok(None);
    };
    match lookup(tok.text, INTERFACE_OPTION) {
        Lookup::Found(kw) => {
            w.next();
            let v = parse_interface(w.value(kw)?)?;
            w.finish()?;
            Ok(Some(v))
        }
        _ => {
            w.finish()?;
            Ok(None)
        }
    }
}

// ---------------------------------------------------------------------------------------
// Values

fn invalid(keyword: &'static str, tok: Token<'_>, expected: impl Into<String>) -> CommandError {
    CommandError::InvalidValue {
        keyword,
        value: tok.text.to_string(),
        expected: expected.into(),
        at: tok.at,
    }
}

fn parse_port(keyword: &'static str, tok: Token<'_>) -> Result<u16, CommandError> {
    parse_decimal(tok.text)
        .and_then(|v| u16::try_from(v).ok())
        .ok_or_else(|| invalid(keyword, tok, "0..65535"))
}

fn parse_limit(tok: Token<'_>) -> Result<usize, CommandError> {
    parse_decimal(tok.text)
        .and_then(|v| u32::try_from(v).ok())
        .map(|v| v as usize)
        .ok_or_else(|| invalid("limit", tok, "0..4294967295"))
}

/// Plain decimal digits only (no sign, no spaces), at most 20 of them.
fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn parse_protocol(tok: Token<'_>) -> Result<u8, CommandError> {
    if let Some(p) = proto::from_keyword(tok.text) {
        return Ok(p);
    }
    parse_decimal(tok.text)
        .and_then(|v| u8::try_from(v).ok())
        .ok_or_else(|| {
            let mut names: Vec<&str> = (0..=255u8).filter_map(proto::keyword).collect();
            names.sort_unstable();
            invalid("protocol", tok, format!("0..255 or {}", names.join(", ")))
        })
}

fn parse_prefix(keyword: &'static str, tok: Token<'_>) -> Result<Prefix, CommandError> {
    tok.text
        .parse::<Prefix>()
        .map_err(|_| invalid(keyword, tok, "an IPv4 or IPv6 address, optionally /length"))
}

fn parse_app_protocol(tok: Token<'_>) -> Result<AppProtocol, CommandError> {
    if tok.text == "sql" {
        return Ok(AppProtocol::Sqlnet);
    }
    AppProtocol::from_keyword(tok.text).ok_or_else(|| {
        let names: Vec<&str> = AppProtocol::ALL.iter().map(|p| p.keyword()).collect();
        invalid(
            "application-protocol",
            tok,
            format!("one of {}", names.join(", ")),
        )
    })
}

/// `ms-fpc/pic/port` with decimal numbers.
fn parse_interface(tok: Token<'_>) -> Result<String, CommandError> {
    let ok = tok
        .text
        .strip_prefix("ms-")
        .map(|rest| {
            let parts: Vec<&str> = rest.split('/').collect();
            parts.len() == 3
                && parts
                    .iter()
                    .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
        })
        .unwrap_or(false);
    if ok {
        Ok(tok.text.to_string())
    } else {
        Err(invalid("interface", tok, "ms-fpc/pic/port"))
    }
}

/// `ms-fpc/pic/port` or `ms-fpc/pic/port.unit`: the services interfaces mspic knows.
fn parse_interface_unit(tok: Token<'_>) -> Result<String, CommandError> {
    let (ifd, unit) = match tok.text.split_once('.') {
        Some((ifd, unit)) => (ifd, Some(unit)),
        None => (tok.text, None),
    };
    let unit_ok =
        unit.is_none_or(|u| !u.is_empty() && u.len() <= 5 && u.bytes().all(|b| b.is_ascii_digit()));
    let ifd_ok = parse_interface(Token { text: ifd, ..tok }).is_ok();
    if unit_ok && ifd_ok {
        Ok(tok.text.to_string())
    } else {
        Err(invalid(
            "interface-name",
            tok,
            "a services interface ms-fpc/pic/port[.unit]",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(line: &str) -> String {
        parse_request(line).unwrap_err().to_string()
    }

    #[test]
    fn abbreviations() {
        let c = parse_command("sh serv sess ext").unwrap();
        assert_eq!(
            c,
            Command::ShowSessions {
                detail: Detail::Extensive,
                count: false,
                filter: SessionFilter::default()
            }
        );
    }

    #[test]
    fn ambiguous_option() {
        assert_eq!(
            err("show services sessions source 1"),
            "error: 'source' is ambiguous, possible completions: source-port, source-prefix"
        );
    }
}

//! The internal tree both syntaxes are read into.
//!
//! Hierarchical text (`interfaces { ge-0/0/0 { unit 0 { … } } }`) is parsed into statements
//! and then flattened: every leaf (or empty container) becomes one *path*, the words of its
//! ancestors followed by its own — exactly the words of the equivalent `set` line. `set` lines
//! are paths already. The builder reads paths, so both syntaxes meet in one representation and
//! a file may even mix them.
//!
//! Inactive statements (`inactive:` prefix, `deactivate …` lines) are dropped here; so are
//! paths removed by `delete …` lines.

use std::collections::{HashMap, VecDeque};

use crate::lexer::{LexError, Pos, Scanner, Tok, Token};

/// One word of a path: a single token or a bracketed list `[ a b c ]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Word {
    Atom(Tok),
    List {
        open: Pos,
        close: Pos,
        items: Vec<Tok>,
    },
}

impl Word {
    pub fn pos(&self) -> Pos {
        match self {
            Word::Atom(t) => t.pos,
            Word::List { open, .. } => *open,
        }
    }
    pub fn end(&self) -> Pos {
        match self {
            Word::Atom(t) => t.end(),
            Word::List { close, .. } => Pos {
                line: close.line,
                col: close.col + 1,
            },
        }
    }
    /// The word as it would be written.
    pub fn display(&self) -> String {
        match self {
            Word::Atom(t) => t.text.clone(),
            Word::List { items, .. } => {
                let mut s = String::from("[");
                for i in items {
                    s.push(' ');
                    s.push_str(&i.text);
                }
                s.push_str(" ]");
                s
            }
        }
    }
}

pub(crate) type Path = Vec<Word>;

/// A syntax error: parsing stops at the first one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub pos: Pos,
    pub message: String,
}

/// A non-fatal finding of the tree stage (a `deactivate` naming nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TreeWarning {
    pub pos: Pos,
    pub message: String,
}

/// Where a word is in the text: the byte offset of its first character (a bare word's
/// first letter, a string's `"`, a list's `[`) and its position there.
///
/// Paths keep these (12 bytes a word) rather than the words themselves, and the words of a
/// braces block are kept once for all the statements inside it: a configuration of several
/// MiB costs a fraction of its size here, and each path is read back into words only when
/// the builder takes it ([`Tree::paths`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct At {
    off: u32,
    pos: Pos,
}

/// No enclosing block.
const TOP: u32 = u32::MAX;

/// Words `start..start + len` of the word table, following the words of the block
/// `parent` (an index in the block table, or [`TOP`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Run {
    parent: u32,
    start: u32,
    len: u32,
}

/// The words of every path and block read so far.
#[derive(Debug, Default)]
struct Words {
    at: Vec<At>,
    blocks: Vec<Run>,
}

impl Words {
    fn push(&mut self, off: usize, pos: Pos) {
        // parse_tree refuses texts whose offsets do not fit.
        self.at.push(At {
            off: off as u32,
            pos,
        });
    }

    /// The run of words from `start` to the last pushed, under `parent`.
    fn run_from(&self, parent: u32, start: usize) -> Run {
        Run {
            parent,
            start: start as u32,
            len: (self.at.len() - start) as u32,
        }
    }

    /// The words of `run` and of the blocks around it, read again from `text`.
    fn path(&self, text: &str, run: Run) -> Path {
        let mut chain = vec![run];
        let mut parent = run.parent;
        while let Some(&b) = self.blocks.get(parent as usize) {
            chain.push(b);
            parent = b.parent;
        }
        let mut path = Vec::new();
        for r in chain.iter().rev() {
            let words = &self.at[r.start as usize..(r.start + r.len) as usize];
            path.extend(words.iter().map(|&a| word_at(text, a)));
        }
        path
    }
}

/// The word that starts at `at`, scanned again.
fn word_at(text: &str, at: At) -> Word {
    let mut sc = Scanner::at(text, at.off as usize, at.pos);
    match sc.next_token() {
        Ok(Some(Token::Word(t))) => return Word::Atom(t),
        Ok(Some(Token::LBracket(open))) => {
            let mut items = Vec::new();
            loop {
                match sc.next_token() {
                    Ok(Some(Token::Word(t))) => items.push(t),
                    Ok(Some(Token::Newline(_))) => {}
                    Ok(Some(Token::RBracket(close))) => return Word::List { open, close, items },
                    _ => break,
                }
            }
        }
        _ => {}
    }
    // Not reached: `at` was recorded by a scan of this very text. An empty word is refused
    // by the builder at this position, should it ever be.
    Word::Atom(Tok {
        text: String::new(),
        pos: at.pos,
        width: 0,
    })
}

/// The active paths of a configuration, in order of first appearance.
#[derive(Debug)]
pub(crate) struct Tree<'a> {
    text: &'a str,
    words: Words,
    paths: Vec<Run>,
    pub warnings: Vec<TreeWarning>,
}

impl Tree<'_> {
    /// The paths, each read back into its words.
    pub fn paths(&self) -> impl Iterator<Item = Path> + '_ {
        self.paths.iter().map(|&r| self.words.path(self.text, r))
    }
}

/// Deepest brace nesting accepted (real configurations stay far below it).
const MAX_DEPTH: usize = 64;

enum Command {
    Set,
    Delete(Path),
    Deactivate(Path, Pos),
    Activate(Path),
}

struct Parser<'a> {
    scanner: Scanner<'a>,
    /// Tokens read ahead of the parser (a statement looks past newlines for its '{'), with
    /// their byte offsets.
    ahead: VecDeque<(usize, Token)>,
    /// The first lexical error: it is reported in preference to any syntax error.
    lex_error: Option<LexError>,
    /// Position just past the end of the text (for errors at end of input).
    eof: Pos,
    /// The paths read so far.
    active: Active<'a>,
    warnings: Vec<TreeWarning>,
    /// Whether a `replace:` tag deletes what its statement's path held before.
    replace_tags: bool,
}

fn err<T>(pos: Pos, message: impl Into<String>) -> Result<T, SyntaxError> {
    Err(SyntaxError {
        pos,
        message: message.into(),
    })
}

fn describe(t: &Token) -> String {
    match t {
        Token::Word(w) => format!("'{}'", w.text),
        Token::LBrace(_) => "'{'".into(),
        Token::RBrace(_) => "'}'".into(),
        Token::Semi(_) => "';'".into(),
        Token::LBracket(_) => "'['".into(),
        Token::RBracket(_) => "']'".into(),
        Token::Newline(_) => "end of line".into(),
    }
}

const SET_COMMANDS: [&str; 4] = ["set", "delete", "deactivate", "activate"];

impl Parser<'_> {
    /// The token `k` places ahead; `None` at the end of the text or at a lexical error
    /// (which stops parsing, to be reported then).
    fn peek_at(&mut self, k: usize) -> Option<&Token> {
        while self.ahead.len() <= k && self.lex_error.is_none() {
            match self.scanner.next_token_at() {
                Ok(Some(t)) => self.ahead.push_back(t),
                Ok(None) => break,
                Err(e) => self.lex_error = Some(e),
            }
        }
        self.ahead.get(k).map(|(_, t)| t)
    }

    fn peek(&mut self) -> Option<&Token> {
        self.peek_at(0)
    }

    /// The next token and its byte offset.
    fn next_at(&mut self) -> Option<(usize, Token)> {
        self.peek();
        self.ahead.pop_front()
    }

    fn next(&mut self) -> Option<Token> {
        self.next_at().map(|(_, t)| t)
    }

    fn skip(&mut self, n: usize) {
        for _ in 0..n {
            self.next();
        }
    }

    /// Top level: braces statements and `set`-style commands, in order.
    fn top(&mut self) -> Result<(), SyntaxError> {
        loop {
            match self.peek() {
                None => return Ok(()),
                Some(Token::Newline(_)) | Some(Token::Semi(_)) => {
                    self.skip(1);
                }
                Some(Token::Word(w)) if SET_COMMANDS.contains(&w.text.as_str()) => {
                    self.command()?;
                }
                Some(_) => self.statement(0, TOP, false)?,
            }
        }
    }

    /// `set|delete|deactivate|activate WORD…` up to the end of the line, applied.
    fn command(&mut self) -> Result<(), SyntaxError> {
        let Some(Token::Word(verb)) = self.next() else {
            unreachable!("command() called on a non-word token")
        };
        let start = self.active.words.at.len();
        loop {
            match self.peek() {
                None | Some(Token::Newline(_)) => break,
                Some(Token::Word(_)) => {
                    if let Some((off, t)) = self.next_at() {
                        self.active.words.push(off, t.pos());
                    }
                }
                Some(Token::LBracket(_)) => {
                    let (off, list) = self.list()?;
                    self.active.words.push(off, list.pos());
                }
                Some(t) => {
                    return err(
                        t.pos(),
                        format!(
                            "unexpected {} in '{}' command (expected a word or a list)",
                            describe(t),
                            verb.text
                        ),
                    )
                }
            }
        }
        let run = self.active.words.run_from(TOP, start);
        if run.len == 0 && verb.text != "delete" {
            return err(
                verb.end(),
                format!("missing statement after '{}'", verb.text),
            );
        }
        let cmd = match verb.text.as_str() {
            "set" => Command::Set,
            other => {
                // Not a path: its words are read back and their slots given up.
                let prefix = self.active.words.path(self.active.text, run);
                self.active.words.at.truncate(start);
                match other {
                    "delete" => Command::Delete(prefix),
                    "deactivate" => Command::Deactivate(prefix, verb.pos),
                    _ => Command::Activate(prefix),
                }
            }
        };
        match cmd {
            Command::Set => self.active.push(run),
            Command::Delete(prefix) => self.active.delete(&prefix),
            Command::Deactivate(prefix, pos) => {
                if !self.active.deactivate(&prefix) {
                    self.warnings.push(TreeWarning {
                        pos,
                        message: "deactivate: statement not found".into(),
                    });
                }
            }
            Command::Activate(prefix) => self.active.activate(&prefix),
        }
        Ok(())
    }

    /// `[ a b c ]`, the opening bracket being the next token; with its byte offset.
    fn list(&mut self) -> Result<(usize, Word), SyntaxError> {
        let Some((off, Token::LBracket(open))) = self.next_at() else {
            unreachable!("list() called on a token other than '['")
        };
        let mut items = Vec::new();
        loop {
            match self.next() {
                None => return err(open, "unterminated list '[' (expected ']')"),
                Some(Token::Newline(_)) => {}
                Some(Token::Word(w)) => items.push(w),
                Some(Token::RBracket(close)) => {
                    return Ok((off, Word::List { open, close, items }))
                }
                Some(t) => {
                    return err(
                        t.pos(),
                        format!(
                            "unexpected {} in a list (expected a value or ']')",
                            describe(&t)
                        ),
                    )
                }
            }
        }
    }

    /// One braces statement inside the block `parent` ([`TOP`] at top level):
    /// `[inactive:] words… ;` or `words… { statements… }`. Its paths are kept unless it or
    /// a block around it is inactive (`dropped`).
    fn statement(&mut self, depth: usize, parent: u32, dropped: bool) -> Result<(), SyntaxError> {
        let mut inactive = false;
        let mut replace = false;
        let start = self.active.words.at.len();
        // The statement's last word, for messages about what follows it.
        let mut last: Option<Word> = None;
        loop {
            let Some(t) = self.peek() else {
                let pos = last.as_ref().map_or(self.eof, Word::end);
                return err(pos, "missing ';' at end of input (expected ';' or '{')");
            };
            match t {
                Token::Word(w) if last.is_none() && w.text == "inactive:" => {
                    inactive = true;
                    self.skip(1);
                }
                Token::Word(w)
                    if last.is_none()
                        && matches!(w.text.as_str(), "protect:" | "replace:" | "unprotect:") =>
                {
                    replace |= w.text == "replace:";
                    self.skip(1);
                }
                Token::Word(_) => {
                    if let Some((off, Token::Word(w))) = self.next_at() {
                        self.active.words.push(off, w.pos);
                        last = Some(Word::Atom(w));
                    }
                }
                &Token::LBracket(p) => {
                    if last.is_none() {
                        return err(p, "unexpected '[' (expected a statement name)");
                    }
                    let (off, l) = self.list()?;
                    self.active.words.push(off, l.pos());
                    last = Some(l);
                }
                Token::Newline(_) => {
                    let Some(last) = &last else {
                        self.skip(1);
                        continue;
                    };
                    // A statement continues on the next line only to open its block or
                    // end it there; anything else means the ';' was forgotten.
                    let mut j = 0;
                    while let Some(Token::Newline(_)) = self.peek_at(j) {
                        j += 1;
                    }
                    match self.peek_at(j) {
                        Some(Token::LBrace(_)) | Some(Token::Semi(_)) => self.skip(j),
                        _ => {
                            return err(
                                last.end(),
                                format!(
                                    "missing ';' after '{}' (expected ';' or '{{')",
                                    last.display()
                                ),
                            );
                        }
                    }
                }
                &Token::Semi(p) => {
                    self.skip(1);
                    if last.is_none() {
                        return err(p, "unexpected ';' (expected a statement name)");
                    }
                    let run = self.active.words.run_from(parent, start);
                    if replace {
                        self.replace(run);
                    }
                    self.leaf(run, dropped || inactive);
                    return Ok(());
                }
                &Token::LBrace(p) => {
                    if last.is_none() {
                        return err(p, "unexpected '{' (expected a statement name)");
                    }
                    if depth >= MAX_DEPTH {
                        return err(p, format!("nesting deeper than {MAX_DEPTH} levels"));
                    }
                    self.skip(1);
                    if replace {
                        self.replace(self.active.words.run_from(parent, start));
                    }
                    return self.block(depth, parent, start, p, dropped || inactive);
                }
                &Token::RBrace(p) => {
                    return match &last {
                        None if depth == 0 => {
                            err(p, "unbalanced braces: unexpected '}' (no block is open)")
                        }
                        None => err(p, "unexpected '}' (expected a statement)"),
                        Some(last) => err(
                            last.end(),
                            format!(
                                "missing ';' after '{}' (expected ';' or '{{')",
                                last.display()
                            ),
                        ),
                    };
                }
                &Token::RBracket(p) => return err(p, "unexpected ']' (no list is open)"),
            }
        }
    }

    /// The statements of a block whose words start at `start` and whose `{` (at `open`)
    /// has been read, up to its `}`. A block with no statement is itself a path.
    fn block(
        &mut self,
        depth: usize,
        parent: u32,
        start: usize,
        open: Pos,
        dropped: bool,
    ) -> Result<(), SyntaxError> {
        let run = self.active.words.run_from(parent, start);
        let id = self.active.words.blocks.len() as u32;
        self.active.words.blocks.push(run);
        let mut children = 0usize;
        loop {
            match self.peek() {
                None => {
                    return err(
                        open,
                        "unbalanced braces: this '{' is never closed (expected '}')",
                    )
                }
                Some(Token::RBrace(_)) => {
                    self.skip(1);
                    break;
                }
                Some(Token::Newline(_)) | Some(Token::Semi(_)) => self.skip(1),
                Some(_) => {
                    self.statement(depth + 1, id, dropped)?;
                    children += 1;
                }
            }
        }
        if children == 0 {
            self.leaf(run, dropped);
        }
        Ok(())
    }

    /// A `replace:` statement, when loading with `action replace`: what its path held
    /// before goes, its own statements take the place ("Replace Elements in
    /// Configuration Data Using the Junos XML Protocol"). Otherwise the tag is accepted
    /// and means nothing, as in `load merge`.
    fn replace(&mut self, run: Run) {
        if self.replace_tags {
            let path = self.active.words.path(self.active.text, run);
            self.active.delete(&path);
        }
    }

    /// A statement ends a path; an inactive one gives its words back (no path kept
    /// refers to them).
    fn leaf(&mut self, run: Run, dropped: bool) {
        if dropped {
            self.active.words.at.truncate(run.start as usize);
        } else {
            self.active.push(run);
        }
    }
}

/// What identifies a word in a path: its text (or its items' texts), not its position.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Atom(String),
    List(Vec<String>),
}

impl Key {
    fn of(w: &Word) -> Key {
        match w {
            Word::Atom(t) => Key::Atom(t.text.clone()),
            Word::List { items, .. } => Key::List(items.iter().map(|t| t.text.clone()).collect()),
        }
    }
}

/// A node of the trie of paths: its children by word, the paths ending here, how many
/// paths live below it, and whether a `deactivate` named it.
#[derive(Debug, Default)]
struct Node {
    children: HashMap<Key, usize>,
    ends: Vec<usize>,
    live: usize,
    deactivated: bool,
}

/// Marks a path removed by `delete`.
const GONE: u32 = u32::MAX;

/// The paths read so far, with `delete`, `deactivate` and `activate` applied through a
/// trie of their words, so that each command costs what it touches rather than a scan of
/// every path. The trie is built at the first such command: files of `set` lines alone
/// never pay for it.
#[derive(Debug)]
struct Active<'a> {
    text: &'a str,
    words: Words,
    paths: Vec<Run>,
    nodes: Vec<Node>,
}

impl Active<'_> {
    fn push(&mut self, run: Run) {
        if !self.nodes.is_empty() {
            let path = self.words.path(self.text, run);
            self.index(self.paths.len(), &path);
        }
        self.paths.push(run);
    }

    /// Builds the trie on first use.
    fn trie(&mut self) {
        if self.nodes.is_empty() {
            self.nodes.push(Node::default());
            for i in 0..self.paths.len() {
                let run = self.paths[i];
                if run.start != GONE {
                    let path = self.words.path(self.text, run);
                    self.index(i, &path);
                }
            }
        }
    }

    fn index(&mut self, i: usize, path: &[Word]) {
        let mut n = 0;
        self.nodes[0].live += 1;
        for w in path {
            n = self.child(n, w);
            self.nodes[n].live += 1;
        }
        self.nodes[n].ends.push(i);
    }

    fn child(&mut self, n: usize, w: &Word) -> usize {
        let next = self.nodes.len();
        let c = *self.nodes[n].children.entry(Key::of(w)).or_insert(next);
        if c == next {
            self.nodes.push(Node::default());
        }
        c
    }

    /// The nodes from the root to `prefix`'s, if it is in the trie.
    fn find(&self, prefix: &[Word]) -> Option<Vec<usize>> {
        let mut trail = vec![0];
        for w in prefix {
            let n = *trail.last()?;
            trail.push(*self.nodes[n].children.get(&Key::of(w))?);
        }
        Some(trail)
    }

    /// `delete PREFIX`: drops every path, and every deactivation, under it.
    fn delete(&mut self, prefix: &[Word]) {
        self.trie();
        let Some(trail) = self.find(prefix) else {
            return;
        };
        let top = *trail.last().unwrap_or(&0);
        let gone = self.nodes[top].live;
        if let [.., parent, _] = trail[..] {
            self.nodes[parent]
                .children
                .remove(&Key::of(&prefix[prefix.len() - 1]));
        }
        for &n in &trail[..trail.len() - 1] {
            self.nodes[n].live -= gone;
        }
        let mut stack = vec![top];
        while let Some(n) = stack.pop() {
            let node = std::mem::take(&mut self.nodes[n]);
            for i in node.ends {
                self.paths[i].start = GONE;
            }
            stack.extend(node.children.into_values());
        }
    }

    /// `deactivate PREFIX`; false when no path lies under it.
    fn deactivate(&mut self, prefix: &[Word]) -> bool {
        self.trie();
        let mut n = 0;
        for w in prefix {
            n = self.child(n, w);
        }
        self.nodes[n].deactivated = true;
        self.nodes[n].live > 0
    }

    /// `activate PREFIX`: undoes a `deactivate` of exactly that prefix.
    fn activate(&mut self, prefix: &[Word]) {
        self.trie();
        if let Some(&n) = self.find(prefix).as_ref().and_then(|t| t.last()) {
            self.nodes[n].deactivated = false;
        }
    }

    /// The paths left, in order, without those under a deactivated prefix.
    fn into_paths(self) -> (Words, Vec<Run>) {
        let Active {
            text,
            words,
            paths,
            nodes,
        } = self;
        let active = |run: &Run| {
            if run.start == GONE {
                return false;
            }
            if nodes.is_empty() {
                return true;
            }
            let mut n = 0;
            for w in words.path(text, *run) {
                match nodes[n].children.get(&Key::of(&w)) {
                    Some(&c) if !nodes[c].deactivated => n = c,
                    _ => return false,
                }
            }
            true
        };
        let kept = paths.into_iter().filter(active).collect();
        (words, kept)
    }
}

/// Reads configuration text in either syntax into its active paths; with
/// `replace_tags`, a statement tagged `replace:` first deletes what its path held.
pub(crate) fn parse_tree(text: &str, replace_tags: bool) -> Result<Tree<'_>, SyntaxError> {
    if u32::try_from(text.len()).is_err() {
        return err(
            Pos { line: 1, col: 1 },
            "configuration too large (more than 4 GiB)",
        );
    }
    let eof = {
        let line = text.matches('\n').count() as u32 + 1;
        let col = text.rsplit('\n').next().map_or(0, |l| l.chars().count()) as u32 + 1;
        Pos { line, col }
    };
    let mut p = Parser {
        scanner: Scanner::new(text),
        ahead: VecDeque::new(),
        lex_error: None,
        eof,
        active: Active {
            text,
            words: Words::default(),
            paths: Vec::new(),
            nodes: Vec::new(),
        },
        warnings: Vec::new(),
        replace_tags,
    };
    let parsed = p.top();
    // As if the whole text were split into tokens first: a lexical error anywhere is the
    // one reported.
    if parsed.is_err() {
        while p.next().is_some() {}
    }
    if let Some(e) = p.lex_error {
        return err(e.pos, e.message);
    }
    parsed?;
    let (mut words, mut paths) = p.active.into_paths();
    // The tables live on while the builder reads every path: give back what their
    // doubling reserved (up to half of them for a large configuration).
    words.at.shrink_to_fit();
    words.blocks.shrink_to_fit();
    paths.shrink_to_fit();
    Ok(Tree {
        text,
        words,
        paths,
        warnings: p.warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(text: &str) -> Vec<String> {
        parse_tree(text, false)
            .unwrap()
            .paths()
            .map(|p| p.iter().map(Word::display).collect::<Vec<_>>().join(" "))
            .collect()
    }

    #[test]
    fn braces_flatten_like_set() {
        let b = render("a { b 1 { c; d [ x y ]; } inactive: e { f; } protect: g; }\n h;");
        assert_eq!(b, ["a b 1 c", "a b 1 d [ x y ]", "a g", "h"]);
        let s =
            render("set a b 1 c\nset a b 1 d [ x y ]\nset a e f\ndeactivate a e\nset a g\nset h\n");
        assert_eq!(s, b);
    }

    /// `replace:` deletes what its path held only when asked (`load replace`); each
    /// case: text, paths with the tags honoured, paths with them ignored.
    #[test]
    fn replace_tags() {
        let paths = |text: &str, replace: bool| -> Vec<String> {
            parse_tree(text, replace)
                .unwrap()
                .paths()
                .map(|p| p.iter().map(Word::display).collect::<Vec<_>>().join(" "))
                .collect()
        };
        let cases: &[(&str, &[&str], &[&str])] = &[
            (
                "set a b 1 c\nset a b 1 d\nset a e\na { replace: b 1 { f; } }",
                &["a e", "a b 1 f"],
                &["a b 1 c", "a b 1 d", "a e", "a b 1 f"],
            ),
            (
                "set a b 1 c\nset a b 2 c\nreplace: a { b 3 { c; } }",
                &["a b 3 c"],
                &["a b 1 c", "a b 2 c", "a b 3 c"],
            ),
            (
                "set a x 1\na { replace: x 2; }",
                &["a x 1", "a x 2"],
                &["a x 1", "a x 2"],
            ),
            (
                "set a b c\nreplace: z { y; }",
                &["a b c", "z y"],
                &["a b c", "z y"],
            ),
            (
                "set a b c\na { protect: b { d; } }",
                &["a b c", "a b d"],
                &["a b c", "a b d"],
            ),
        ];
        for (text, honoured, ignored) in cases {
            assert_eq!(paths(text, true), *honoured, "replace: {text}");
            assert_eq!(paths(text, false), *ignored, "merge: {text}");
        }
    }

    #[test]
    fn delete_and_activate() {
        let s = render("set a b\nset a c\ndelete a b\ndeactivate a c\nactivate a c\n");
        assert_eq!(s, ["a c"]);
    }

    #[test]
    fn syntax_errors() {
        let e = parse_tree("a {\n b;\n", false).unwrap_err();
        assert_eq!((e.pos.line, e.pos.col), (1, 3));
        let e = parse_tree("a {\n b c\n d;\n}", false).unwrap_err();
        assert_eq!((e.pos.line, e.pos.col), (2, 5));
        assert!(e.message.starts_with("missing ';' after 'c'"));
        let e = parse_tree("a;\n}", false).unwrap_err();
        assert_eq!((e.pos.line, e.pos.col), (2, 1));
        let e = parse_tree("a { b }", false).unwrap_err();
        assert_eq!((e.pos.line, e.pos.col), (1, 6));
    }

    #[test]
    fn open_brace_on_next_line() {
        assert_eq!(render("a\n{\n b\n ;\n}"), ["a b"]);
    }

    /// The meaning of `set`, `delete`, `deactivate` and `activate` written plainly (a scan
    /// of every path per command), to check the trie against.
    fn reference(lines: &[(usize, Vec<&str>)]) -> (Vec<String>, usize) {
        let starts = |p: &[&str], pre: &[&str]| p.len() >= pre.len() && p[..pre.len()] == *pre;
        let (mut paths, mut off, mut warnings) =
            (Vec::<Vec<&str>>::new(), Vec::<Vec<&str>>::new(), 0);
        for (verb, words) in lines {
            match verb {
                0 => paths.push(words.clone()),
                1 => {
                    paths.retain(|p| !starts(p, words));
                    off.retain(|d| !starts(d, words));
                }
                2 => {
                    if !paths.iter().any(|p| starts(p, words)) {
                        warnings += 1;
                    }
                    off.push(words.clone());
                }
                _ => off.retain(|d| d != words),
            }
        }
        let kept = paths
            .into_iter()
            .filter(|p| !off.iter().any(|d| starts(p, d)))
            .map(|p| p.join(" "))
            .collect();
        (kept, warnings)
    }

    proptest::proptest! {
        #[test]
        fn commands_match_their_plain_meaning(
            lines in proptest::collection::vec(
                (0usize..4, proptest::collection::vec(0usize..3, 1..4)),
                0..40,
            )
        ) {
            let words = ["a", "b", "c"];
            let lines: Vec<(usize, Vec<&str>)> = lines
                .into_iter()
                .map(|(v, w)| (v, w.into_iter().map(|i| words[i]).collect()))
                .collect();
            let verbs = ["set", "delete", "deactivate", "activate"];
            let text: String = lines
                .iter()
                .map(|(v, w)| format!("{} {}\n", verbs[*v], w.join(" ")))
                .collect();
            let tree = parse_tree(&text, false).unwrap();
            let got: Vec<String> = tree
                .paths()
                .map(|p| p.iter().map(Word::display).collect::<Vec<_>>().join(" "))
                .collect();
            let (want, warnings) = reference(&lines);
            proptest::prop_assert_eq!(got, want, "for:\n{}", text);
            proptest::prop_assert_eq!(tree.warnings.len(), warnings);
        }
    }
}

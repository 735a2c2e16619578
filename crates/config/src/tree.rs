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

/// The active paths of a configuration, in order of first appearance.
#[derive(Debug, Default)]
pub(crate) struct Tree {
    pub paths: Vec<Path>,
    pub warnings: Vec<TreeWarning>,
}

/// Deepest brace nesting accepted (real configurations stay far below it).
const MAX_DEPTH: usize = 64;

struct Stmt {
    words: Vec<Word>,
    children: Option<Vec<Stmt>>,
    inactive: bool,
}

enum Command {
    Set(Path),
    Delete(Path),
    Deactivate(Path, Pos),
    Activate(Path),
}

struct Parser<'a> {
    scanner: Scanner<'a>,
    /// Tokens read ahead of the parser (a statement looks past newlines for its '{').
    ahead: VecDeque<Token>,
    /// The first lexical error: it is reported in preference to any syntax error.
    lex_error: Option<LexError>,
    /// Position just past the end of the text (for errors at end of input).
    eof: Pos,
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
            match self.scanner.next_token() {
                Ok(Some(t)) => self.ahead.push_back(t),
                Ok(None) => break,
                Err(e) => self.lex_error = Some(e),
            }
        }
        self.ahead.get(k)
    }

    fn peek(&mut self) -> Option<&Token> {
        self.peek_at(0)
    }

    fn next(&mut self) -> Option<Token> {
        self.peek();
        self.ahead.pop_front()
    }

    fn skip(&mut self, n: usize) {
        for _ in 0..n {
            self.next();
        }
    }

    /// Top level: braces statements and `set`-style commands, in order.
    fn top(&mut self, items: &mut Vec<Result<Stmt, Command>>) -> Result<(), SyntaxError> {
        loop {
            match self.peek() {
                None => return Ok(()),
                Some(Token::Newline(_)) | Some(Token::Semi(_)) => {
                    self.skip(1);
                }
                Some(Token::Word(w)) if SET_COMMANDS.contains(&w.text.as_str()) => {
                    let cmd = self.command()?;
                    items.push(Err(cmd));
                }
                Some(_) => {
                    let s = self.statement(0)?;
                    items.push(Ok(s));
                }
            }
        }
    }

    /// `set|delete|deactivate|activate WORD…` up to the end of the line.
    fn command(&mut self) -> Result<Command, SyntaxError> {
        let Some(Token::Word(verb)) = self.next() else {
            unreachable!("command() called on a non-word token")
        };
        let mut path = Vec::new();
        loop {
            match self.peek() {
                None | Some(Token::Newline(_)) => break,
                Some(Token::Word(_)) => {
                    let Some(Token::Word(w)) = self.next() else {
                        unreachable!()
                    };
                    path.push(Word::Atom(w));
                }
                Some(Token::LBracket(_)) => path.push(self.list()?),
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
        if path.is_empty() && verb.text != "delete" {
            return err(
                verb.end(),
                format!("missing statement after '{}'", verb.text),
            );
        }
        Ok(match verb.text.as_str() {
            "set" => Command::Set(path),
            "delete" => Command::Delete(path),
            "deactivate" => Command::Deactivate(path, verb.pos),
            _ => Command::Activate(path),
        })
    }

    /// `[ a b c ]`, the opening bracket being the next token.
    fn list(&mut self) -> Result<Word, SyntaxError> {
        let open = self.next().expect("list() at '['").pos();
        let mut items = Vec::new();
        loop {
            match self.next() {
                None => return err(open, "unterminated list '[' (expected ']')"),
                Some(Token::Newline(_)) => {}
                Some(Token::Word(w)) => items.push(w),
                Some(Token::RBracket(close)) => return Ok(Word::List { open, close, items }),
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

    /// One braces statement: `[inactive:] words… ;` or `words… { statements… }`.
    fn statement(&mut self, depth: usize) -> Result<Stmt, SyntaxError> {
        let mut inactive = false;
        let mut words: Vec<Word> = Vec::new();
        loop {
            let Some(t) = self.peek() else {
                let pos = words.last().map(|w| w.end()).unwrap_or(self.eof);
                return err(pos, "missing ';' at end of input (expected ';' or '{')");
            };
            match t {
                Token::Word(w) if words.is_empty() && w.text == "inactive:" => {
                    inactive = true;
                    self.skip(1);
                }
                Token::Word(w)
                    if words.is_empty()
                        && matches!(w.text.as_str(), "protect:" | "replace:" | "unprotect:") =>
                {
                    self.skip(1);
                }
                Token::Word(_) => {
                    if let Some(Token::Word(w)) = self.next() {
                        words.push(Word::Atom(w));
                    }
                }
                &Token::LBracket(p) => {
                    if words.is_empty() {
                        return err(p, "unexpected '[' (expected a statement name)");
                    }
                    let l = self.list()?;
                    words.push(l);
                }
                Token::Newline(_) => {
                    if words.is_empty() {
                        self.skip(1);
                        continue;
                    }
                    // A statement continues on the next line only to open its block or
                    // end it there; anything else means the ';' was forgotten.
                    let mut j = 0;
                    while let Some(Token::Newline(_)) = self.peek_at(j) {
                        j += 1;
                    }
                    match self.peek_at(j) {
                        Some(Token::LBrace(_)) | Some(Token::Semi(_)) => self.skip(j),
                        _ => {
                            let last = words.last().expect("words not empty");
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
                    if words.is_empty() {
                        return err(p, "unexpected ';' (expected a statement name)");
                    }
                    return Ok(Stmt {
                        words,
                        children: None,
                        inactive,
                    });
                }
                &Token::LBrace(p) => {
                    if words.is_empty() {
                        return err(p, "unexpected '{' (expected a statement name)");
                    }
                    if depth >= MAX_DEPTH {
                        return err(p, format!("nesting deeper than {MAX_DEPTH} levels"));
                    }
                    self.skip(1);
                    let mut children = Vec::new();
                    loop {
                        match self.peek() {
                            None => {
                                return err(
                                    p,
                                    "unbalanced braces: this '{' is never closed (expected '}')",
                                )
                            }
                            Some(Token::RBrace(_)) => {
                                self.skip(1);
                                break;
                            }
                            Some(Token::Newline(_)) | Some(Token::Semi(_)) => self.skip(1),
                            Some(_) => children.push(self.statement(depth + 1)?),
                        }
                    }
                    return Ok(Stmt {
                        words,
                        children: Some(children),
                        inactive,
                    });
                }
                &Token::RBrace(p) => {
                    return match words.last() {
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
}

fn flatten(stmt: Stmt, prefix: &mut Vec<Word>, out: &mut Vec<Path>) {
    if stmt.inactive {
        return;
    }
    let n = prefix.len();
    prefix.extend(stmt.words);
    match stmt.children {
        Some(children) if !children.is_empty() => {
            for c in children {
                flatten(c, prefix, out);
            }
        }
        _ => out.push(prefix.clone()),
    }
    prefix.truncate(n);
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

/// The paths read so far, with `delete`, `deactivate` and `activate` applied through a
/// trie of their words, so that each command costs what it touches rather than a scan of
/// every path. The trie is built at the first such command: files of `set` lines alone
/// never pay for it.
#[derive(Debug, Default)]
struct Active {
    paths: Vec<Option<Path>>,
    nodes: Vec<Node>,
}

impl Active {
    fn push(&mut self, path: Path) {
        if !self.nodes.is_empty() {
            self.index(self.paths.len(), &path);
        }
        self.paths.push(Some(path));
    }

    /// Builds the trie on first use.
    fn trie(&mut self) {
        if self.nodes.is_empty() {
            self.nodes.push(Node::default());
            let paths = std::mem::take(&mut self.paths);
            for (i, p) in paths.iter().enumerate() {
                if let Some(p) = p {
                    self.index(i, p);
                }
            }
            self.paths = paths;
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
                self.paths[i] = None;
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
    fn into_paths(self) -> Vec<Path> {
        let nodes = &self.nodes;
        let active = |p: &Path| {
            if nodes.is_empty() {
                return true;
            }
            let mut n = 0;
            for w in p {
                match nodes[n].children.get(&Key::of(w)) {
                    Some(&c) if !nodes[c].deactivated => n = c,
                    _ => return false,
                }
            }
            true
        };
        self.paths
            .into_iter()
            .flatten()
            .filter(|p| active(p))
            .collect()
    }
}

/// Reads configuration text in either syntax into its active paths.
pub(crate) fn parse_tree(text: &str) -> Result<Tree, SyntaxError> {
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
    };
    let mut items = Vec::new();
    let parsed = p.top(&mut items);
    // As if the whole text were split into tokens first: a lexical error anywhere is the
    // one reported.
    if parsed.is_err() {
        while p.next().is_some() {}
    }
    if let Some(e) = p.lex_error {
        return err(e.pos, e.message);
    }
    parsed?;

    let mut tree = Tree::default();
    let mut active = Active::default();
    for item in items {
        match item {
            Ok(stmt) => {
                let mut flat = Vec::new();
                flatten(stmt, &mut Vec::new(), &mut flat);
                for path in flat {
                    active.push(path);
                }
            }
            Err(Command::Set(path)) => active.push(path),
            Err(Command::Delete(prefix)) => active.delete(&prefix),
            Err(Command::Deactivate(prefix, pos)) => {
                if !active.deactivate(&prefix) {
                    tree.warnings.push(TreeWarning {
                        pos,
                        message: "deactivate: statement not found".into(),
                    });
                }
            }
            Err(Command::Activate(prefix)) => active.activate(&prefix),
        }
    }
    tree.paths = active.into_paths();
    Ok(tree)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(text: &str) -> Vec<String> {
        parse_tree(text)
            .unwrap()
            .paths
            .iter()
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

    #[test]
    fn delete_and_activate() {
        let s = render("set a b\nset a c\ndelete a b\ndeactivate a c\nactivate a c\n");
        assert_eq!(s, ["a c"]);
    }

    #[test]
    fn syntax_errors() {
        let e = parse_tree("a {\n b;\n").unwrap_err();
        assert_eq!((e.pos.line, e.pos.col), (1, 3));
        let e = parse_tree("a {\n b c\n d;\n}").unwrap_err();
        assert_eq!((e.pos.line, e.pos.col), (2, 5));
        assert!(e.message.starts_with("missing ';' after 'c'"));
        let e = parse_tree("a;\n}").unwrap_err();
        assert_eq!((e.pos.line, e.pos.col), (2, 1));
        let e = parse_tree("a { b }").unwrap_err();
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
            let tree = parse_tree(&text).unwrap();
            let got: Vec<String> = tree
                .paths
                .iter()
                .map(|p| p.iter().map(Word::display).collect::<Vec<_>>().join(" "))
                .collect();
            let (want, warnings) = reference(&lines);
            proptest::prop_assert_eq!(got, want, "for:\n{}", text);
            proptest::prop_assert_eq!(tree.warnings.len(), warnings);
        }
    }
}

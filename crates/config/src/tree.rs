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

use crate::lexer::{lex, Pos, Tok, Token};

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
    fn same(&self, other: &Word) -> bool {
        match (self, other) {
            (Word::Atom(a), Word::Atom(b)) => a.text == b.text,
            (Word::List { items: a, .. }, Word::List { items: b, .. }) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.text == y.text)
            }
            _ => false,
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

struct Parser {
    toks: Vec<Token>,
    i: usize,
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

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.toks.get(self.i)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.toks.get(self.i).cloned();
        if t.is_some() {
            self.i += 1;
        }
        t
    }

    /// Top level: braces statements and `set`-style commands, in order.
    fn top(&mut self, items: &mut Vec<Result<Stmt, Command>>) -> Result<(), SyntaxError> {
        loop {
            match self.peek() {
                None => return Ok(()),
                Some(Token::Newline(_)) | Some(Token::Semi(_)) => {
                    self.i += 1;
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
            let Some(t) = self.peek().cloned() else {
                let pos = words.last().map(|w| w.end()).unwrap_or(self.eof);
                return err(pos, "missing ';' at end of input (expected ';' or '{')");
            };
            match t {
                Token::Word(w) if words.is_empty() && w.text == "inactive:" => {
                    inactive = true;
                    self.i += 1;
                }
                Token::Word(w)
                    if words.is_empty()
                        && matches!(w.text.as_str(), "protect:" | "replace:" | "unprotect:") =>
                {
                    self.i += 1;
                }
                Token::Word(w) => {
                    self.i += 1;
                    words.push(Word::Atom(w));
                }
                Token::LBracket(_) => {
                    if words.is_empty() {
                        return err(t.pos(), "unexpected '[' (expected a statement name)");
                    }
                    let l = self.list()?;
                    words.push(l);
                }
                Token::Newline(_) => {
                    if words.is_empty() {
                        self.i += 1;
                        continue;
                    }
                    // A statement continues on the next line only to open its block or
                    // end it there; anything else means the ';' was forgotten.
                    let mut j = self.i;
                    while let Some(Token::Newline(_)) = self.toks.get(j) {
                        j += 1;
                    }
                    match self.toks.get(j) {
                        Some(Token::LBrace(_)) | Some(Token::Semi(_)) => self.i = j,
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
                Token::Semi(p) => {
                    self.i += 1;
                    if words.is_empty() {
                        return err(p, "unexpected ';' (expected a statement name)");
                    }
                    return Ok(Stmt {
                        words,
                        children: None,
                        inactive,
                    });
                }
                Token::LBrace(p) => {
                    if words.is_empty() {
                        return err(p, "unexpected '{' (expected a statement name)");
                    }
                    if depth >= MAX_DEPTH {
                        return err(p, format!("nesting deeper than {MAX_DEPTH} levels"));
                    }
                    self.i += 1;
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
                                self.i += 1;
                                break;
                            }
                            Some(Token::Newline(_)) | Some(Token::Semi(_)) => self.i += 1,
                            Some(_) => children.push(self.statement(depth + 1)?),
                        }
                    }
                    return Ok(Stmt {
                        words,
                        children: Some(children),
                        inactive,
                    });
                }
                Token::RBrace(p) => {
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
                Token::RBracket(p) => return err(p, "unexpected ']' (no list is open)"),
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

fn starts_with(path: &[Word], prefix: &[Word]) -> bool {
    path.len() >= prefix.len() && path.iter().zip(prefix).all(|(a, b)| a.same(b))
}

/// Reads configuration text in either syntax into its active paths.
pub(crate) fn parse_tree(text: &str) -> Result<Tree, SyntaxError> {
    let toks = lex(text).map_err(|e| SyntaxError {
        pos: e.pos,
        message: e.message,
    })?;
    let eof = {
        let line = text.matches('\n').count() as u32 + 1;
        let col = text.rsplit('\n').next().map_or(0, |l| l.chars().count()) as u32 + 1;
        Pos { line, col }
    };
    let mut p = Parser { toks, i: 0, eof };
    let mut items = Vec::new();
    p.top(&mut items)?;

    let mut tree = Tree::default();
    // (path, active)
    let mut paths: Vec<Path> = Vec::new();
    let mut deactivated: Vec<Path> = Vec::new();
    for item in items {
        match item {
            Ok(stmt) => {
                let mut prefix = Vec::new();
                flatten(stmt, &mut prefix, &mut paths);
            }
            Err(Command::Set(path)) => paths.push(path),
            Err(Command::Delete(prefix)) => {
                paths.retain(|p| !starts_with(p, &prefix));
                deactivated.retain(|d| !starts_with(d, &prefix));
            }
            Err(Command::Deactivate(prefix, pos)) => {
                if !paths.iter().any(|p| starts_with(p, &prefix)) {
                    tree.warnings.push(TreeWarning {
                        pos,
                        message: "deactivate: statement not found".into(),
                    });
                }
                deactivated.push(prefix);
            }
            Err(Command::Activate(prefix)) => {
                deactivated.retain(|d| !(d.len() == prefix.len() && starts_with(d, &prefix)));
            }
        }
    }
    tree.paths = paths
        .into_iter()
        .filter(|p| !deactivated.iter().any(|d| starts_with(p, d)))
        .collect();
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
}

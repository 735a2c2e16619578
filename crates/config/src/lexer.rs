//! Tokens of Junos configuration text, shared by the braces and the `set` syntax.
//!
//! Comments (`# …` to the end of the line, `/* … */` annotations) are dropped here.
//! Newlines are kept as tokens: `set` lines end at them, and the braces parser uses them to
//! point at a missing `;`.

/// A 1-based line and column (columns count characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub(crate) struct Pos {
    pub line: u32,
    pub col: u32,
}

/// A word: a bare token or a quoted string (quotes removed, escapes resolved).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tok {
    pub text: String,
    pub pos: Pos,
    /// Characters the token takes in the source (quotes included).
    pub width: u32,
}

impl Tok {
    /// The position just after the token.
    pub fn end(&self) -> Pos {
        Pos {
            line: self.pos.line,
            col: self.pos.col + self.width,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token {
    Word(Tok),
    LBrace(Pos),
    RBrace(Pos),
    Semi(Pos),
    LBracket(Pos),
    RBracket(Pos),
    Newline(Pos),
}

impl Token {
    pub fn pos(&self) -> Pos {
        match self {
            Token::Word(t) => t.pos,
            Token::LBrace(p)
            | Token::RBrace(p)
            | Token::Semi(p)
            | Token::LBracket(p)
            | Token::RBracket(p)
            | Token::Newline(p) => *p,
        }
    }
}

/// A lexical error: message and where it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LexError {
    pub pos: Pos,
    pub message: String,
}

fn is_special(c: char) -> bool {
    matches!(c, '{' | '}' | ';' | '[' | ']' | '"')
}

/// The text being read: characters with their byte offsets, and the position of the next.
/// Tokens are produced one at a time, so that the text is never held twice.
pub(crate) struct Scanner<'a> {
    text: &'a str,
    /// Byte offset of `text` in the whole configuration (a scanner may start mid-text).
    base: usize,
    chars: std::iter::Peekable<std::str::CharIndices<'a>>,
    line: u32,
    col: u32,
}

impl<'a> Scanner<'a> {
    fn pos(&self) -> Pos {
        Pos {
            line: self.line,
            col: self.col,
        }
    }

    fn peek(&mut self) -> Option<char> {
        self.chars.peek().map(|&(_, c)| c)
    }

    /// The byte offset of the next character (the text's length at the end).
    fn offset(&mut self) -> usize {
        self.chars.peek().map_or(self.text.len(), |&(i, _)| i)
    }

    /// Consumes one character, keeping line and column.
    fn bump(&mut self) -> Option<char> {
        let (_, c) = self.chars.next()?;
        if c == '\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(c)
    }

    /// Skips a `/* … */` annotation, the next two characters being `/*`.
    fn comment(&mut self, pos: Pos) -> Result<(), LexError> {
        self.bump();
        self.bump();
        loop {
            match self.bump() {
                None => {
                    return Err(LexError {
                        pos,
                        message: "unterminated comment '/*' (expected '*/')".into(),
                    })
                }
                Some('*') if self.peek() == Some('/') => {
                    self.bump();
                    return Ok(());
                }
                Some(_) => {}
            }
        }
    }

    /// A quoted string, the next character being `"`: quotes removed, escapes resolved.
    fn string(&mut self, pos: Pos) -> Result<Tok, LexError> {
        self.bump();
        let mut s = String::new();
        loop {
            match self.bump() {
                None => {
                    return Err(LexError {
                        pos,
                        message: "unterminated string (expected a closing '\"')".into(),
                    })
                }
                Some('"') => break,
                Some('\\') if self.peek().is_some() => s.extend(self.bump()),
                Some(c) => s.push(c),
            }
        }
        // A string spanning lines has no meaningful single-line width.
        let width = if self.line == pos.line {
            self.col - pos.col
        } else {
            1
        };
        Ok(Tok {
            text: s,
            pos,
            width,
        })
    }

    /// A bare word: up to white space or a special character.
    fn word(&mut self, pos: Pos) -> Tok {
        let start = self.offset();
        while self
            .peek()
            .is_some_and(|c| !c.is_whitespace() && !is_special(c))
        {
            self.bump();
        }
        let end = self.offset();
        Tok {
            text: self.text[start..end].to_string(),
            pos,
            width: self.col - pos.col,
        }
    }
}

impl<'a> Scanner<'a> {
    /// A scanner at the start of `text`.
    pub(crate) fn new(text: &'a str) -> Self {
        Scanner::at(text, 0, Pos { line: 1, col: 1 })
    }

    /// A scanner reading `text` from byte `off`, which is at `pos` (a place where an
    /// earlier scan found a token: a character boundary).
    pub(crate) fn at(text: &'a str, off: usize, pos: Pos) -> Self {
        let rest = text.get(off..).unwrap_or_default();
        Scanner {
            text: rest,
            base: off,
            chars: rest.char_indices().peekable(),
            line: pos.line,
            col: pos.col,
        }
    }

    /// The next token, `Ok(None)` at the end of the text; comments and white space
    /// other than newlines are skipped.
    pub(crate) fn next_token(&mut self) -> Result<Option<Token>, LexError> {
        Ok(self.next_token_at()?.map(|(_, t)| t))
    }

    /// The next token with the byte offset (in the whole text) of its first character.
    pub(crate) fn next_token_at(&mut self) -> Result<Option<(usize, Token)>, LexError> {
        while let Some(c) = self.peek() {
            let pos = self.pos();
            let off = self.base + self.offset();
            let punct = match c {
                '\n' => Some(Token::Newline(pos)),
                '{' => Some(Token::LBrace(pos)),
                '}' => Some(Token::RBrace(pos)),
                ';' => Some(Token::Semi(pos)),
                '[' => Some(Token::LBracket(pos)),
                ']' => Some(Token::RBracket(pos)),
                _ => None,
            };
            if let Some(t) = punct {
                self.bump();
                return Ok(Some((off, t)));
            }
            match c {
                c if c.is_whitespace() => {
                    self.bump();
                }
                '#' => {
                    while self.peek().is_some_and(|c| c != '\n') {
                        self.bump();
                    }
                }
                '/' if self.text[self.offset()..].starts_with("/*") => self.comment(pos)?,
                '"' => return self.string(pos).map(|t| Some((off, Token::Word(t)))),
                _ => return Ok(Some((off, Token::Word(self.word(pos))))),
            }
        }
        Ok(None)
    }
}

/// Splits `text` into tokens.
#[cfg(test)]
pub(crate) fn lex(text: &str) -> Result<Vec<Token>, LexError> {
    let mut sc = Scanner::new(text);
    let mut out = Vec::new();
    while let Some(t) = sc.next_token()? {
        out.push(t);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        lex(text)
            .unwrap()
            .into_iter()
            .filter_map(|t| match t {
                Token::Word(w) => Some(w.text),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn comments_and_strings() {
        assert_eq!(
            words("a b # c d\n/* x\ny */ \"q \\\" r\" e/f"),
            ["a", "b", "q \" r", "e/f"]
        );
        assert!(lex("\"abc").is_err());
        assert!(lex("/* abc").is_err());
    }

    #[test]
    fn positions() {
        let t = lex("ab {\n  cd;\n}").unwrap();
        assert_eq!(t[0].pos(), Pos { line: 1, col: 1 });
        assert_eq!(t[1].pos(), Pos { line: 1, col: 4 });
        assert_eq!(t[3].pos(), Pos { line: 2, col: 3 });
        assert_eq!(t[4].pos(), Pos { line: 2, col: 5 });
    }
}

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

/// Splits `text` into tokens.
pub(crate) fn lex(text: &str) -> Result<Vec<Token>, LexError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0usize;
    let mut line = 1u32;
    let mut col = 1u32;
    while i < chars.len() {
        let c = chars[i];
        let pos = Pos { line, col };
        match c {
            '\n' => {
                out.push(Token::Newline(pos));
                i += 1;
                line += 1;
                col = 1;
            }
            c if c.is_whitespace() => {
                i += 1;
                col += 1;
            }
            '#' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                    col += 1;
                }
            }
            '/' if chars.get(i + 1) == Some(&'*') => {
                i += 2;
                col += 2;
                loop {
                    if i >= chars.len() {
                        return Err(LexError {
                            pos,
                            message: "unterminated comment '/*' (expected '*/')".into(),
                        });
                    }
                    if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                        i += 2;
                        col += 2;
                        break;
                    }
                    if chars[i] == '\n' {
                        line += 1;
                        col = 1;
                    } else {
                        col += 1;
                    }
                    i += 1;
                }
            }
            '{' => {
                out.push(Token::LBrace(pos));
                i += 1;
                col += 1;
            }
            '}' => {
                out.push(Token::RBrace(pos));
                i += 1;
                col += 1;
            }
            ';' => {
                out.push(Token::Semi(pos));
                i += 1;
                col += 1;
            }
            '[' => {
                out.push(Token::LBracket(pos));
                i += 1;
                col += 1;
            }
            ']' => {
                out.push(Token::RBracket(pos));
                i += 1;
                col += 1;
            }
            '"' => {
                let mut s = String::new();
                let start_line = line;
                i += 1;
                col += 1;
                loop {
                    let Some(&ch) = chars.get(i) else {
                        return Err(LexError {
                            pos,
                            message: "unterminated string (expected a closing '\"')".into(),
                        });
                    };
                    match ch {
                        '"' => {
                            i += 1;
                            col += 1;
                            break;
                        }
                        '\\' if i + 1 < chars.len() => {
                            let next = chars[i + 1];
                            s.push(next);
                            i += 2;
                            if next == '\n' {
                                line += 1;
                                col = 1;
                            } else {
                                col += 2;
                            }
                        }
                        '\n' => {
                            s.push('\n');
                            i += 1;
                            line += 1;
                            col = 1;
                        }
                        other => {
                            s.push(other);
                            i += 1;
                            col += 1;
                        }
                    }
                }
                // A string spanning lines has no meaningful single-line width.
                let width = if line == start_line { col - pos.col } else { 1 };
                out.push(Token::Word(Tok {
                    text: s,
                    pos,
                    width,
                }));
            }
            _ => {
                let mut s = String::new();
                while i < chars.len() {
                    let ch = chars[i];
                    if ch.is_whitespace() || is_special(ch) {
                        break;
                    }
                    s.push(ch);
                    i += 1;
                    col += 1;
                }
                out.push(Token::Word(Tok {
                    text: s,
                    pos,
                    width: col - pos.col,
                }));
            }
        }
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

//! Reading a path word by word: keywords from a grammar's list, values, the end.

use super::diag::{Diags, Stop, R};
use crate::lexer::{Pos, Tok};
use crate::tree::Word;

/// Statements accepted silently anywhere a keyword is expected (they have no effect).
const SILENT: &[&str] = &["description"];
/// Statements ignored with a warning anywhere a keyword is expected.
pub(super) const IGNORED_EVERYWHERE: &[&str] =
    &["apply-groups", "apply-groups-except", "apply-macro"];

/// A path being read: its words and the index of the next one.
pub(super) struct Cur<'a> {
    pub(super) w: &'a [Word],
    pub(super) i: usize,
}

impl<'a> Cur<'a> {
    /// The next word if it is a single token, without consuming it.
    pub(super) fn peek(&self) -> Option<&'a Tok> {
        match self.w.get(self.i) {
            Some(Word::Atom(t)) => Some(t),
            _ => None,
        }
    }
    /// Refuses the next word when it is a statement of `refused`, (statement, what mspic
    /// would get wrong): Junos accepts it and it changes what happens to packets, so
    /// ignoring it would make the emulator behave differently without a word.
    pub(super) fn refuse(&self, d: &mut Diags, refused: &[(&str, &str)]) -> R<()> {
        match self
            .peek()
            .and_then(|t| refused.iter().find(|(k, _)| *k == t.text).map(|r| (t, r)))
        {
            Some((t, (k, why))) => {
                Err(d.error(t.pos, format!("unsupported statement '{k}' ({why})")))
            }
            None => Ok(()),
        }
    }

    pub(super) fn at_end(&self) -> bool {
        self.i >= self.w.len()
    }
    pub(super) fn prev(&self) -> Option<&'a Word> {
        self.i.checked_sub(1).and_then(|j| self.w.get(j))
    }
    pub(super) fn prev_end(&self) -> Pos {
        self.prev().map(|w| w.end()).unwrap_or_default()
    }
    pub(super) fn prev_text(&self) -> String {
        self.prev().map(|w| w.display()).unwrap_or_default()
    }
    pub(super) fn consumed(&self, upto: usize) -> String {
        self.w[..upto]
            .iter()
            .map(|w| w.display())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The next keyword, from `supported`; `Ok(None)` at the end of the path (an empty
    /// container). Statements in `ignored` are warned about once and end the path.
    pub(super) fn kw(
        &mut self,
        d: &mut Diags,
        supported: &[&'static str],
        ignored: &[&str],
    ) -> R<Option<(&'a str, Pos)>> {
        let Some(w) = self.w.get(self.i) else {
            return Ok(None);
        };
        let t = match w {
            Word::Atom(t) => t,
            Word::List { open, .. } => {
                return Err(d.error(
                    *open,
                    format!(
                        "unexpected list '{}' (expected one of: {})",
                        w.display(),
                        supported.join(", ")
                    ),
                ))
            }
        };
        let s = t.text.as_str();
        if supported.contains(&s) {
            self.i += 1;
            return Ok(Some((s, t.pos)));
        }
        if SILENT.contains(&s) {
            return Err(Stop);
        }
        if ignored.contains(&s) || IGNORED_EVERYWHERE.contains(&s) {
            let stmt = self.consumed(self.i + 1);
            d.warn_once(
                stmt.clone(),
                t.pos,
                format!("ignoring unsupported statement '{stmt}'"),
            );
            return Err(Stop);
        }
        Err(d.error(
            t.pos,
            format!(
                "unknown statement '{}' (expected one of: {})",
                s,
                supported.join(", ")
            ),
        ))
    }

    /// Like [`Cur::kw`] but the path may not end here.
    pub(super) fn need_kw(
        &mut self,
        d: &mut Diags,
        supported: &[&'static str],
        ignored: &[&str],
    ) -> R<(&'a str, Pos)> {
        match self.kw(d, supported, ignored)? {
            Some(k) => Ok(k),
            None => Err(d.error(
                self.prev_end(),
                format!(
                    "missing statement after '{}' (expected one of: {})",
                    self.prev_text(),
                    supported.join(", ")
                ),
            )),
        }
    }

    /// The next word as a single value.
    pub(super) fn val(&mut self, d: &mut Diags, what: &str) -> R<&'a Tok> {
        match self.w.get(self.i) {
            None => Err(d.error(
                self.prev_end(),
                format!("missing {what} after '{}'", self.prev_text()),
            )),
            Some(Word::List { open, .. }) => {
                Err(d.error(*open, format!("expected {what}, found a list")))
            }
            Some(Word::Atom(t)) => {
                self.i += 1;
                Ok(t)
            }
        }
    }

    /// The next word as one value or a list of values.
    pub(super) fn vals(&mut self, d: &mut Diags, what: &str) -> R<Vec<&'a Tok>> {
        match self.w.get(self.i) {
            None => Err(d.error(
                self.prev_end(),
                format!("missing {what} after '{}'", self.prev_text()),
            )),
            Some(Word::List { items, .. }) => {
                self.i += 1;
                Ok(items.iter().collect())
            }
            Some(Word::Atom(t)) => {
                self.i += 1;
                Ok(vec![t])
            }
        }
    }

    /// A value converted by `f` (whose error text becomes the message).
    pub(super) fn parse<T>(
        &mut self,
        d: &mut Diags,
        what: &str,
        f: impl Fn(&str) -> Result<T, String>,
    ) -> R<(T, &'a Tok)> {
        let t = self.val(d, what)?;
        match f(&t.text) {
            Ok(v) => Ok((v, t)),
            Err(m) => Err(d.error(t.pos, m)),
        }
    }

    /// The path must end here.
    pub(super) fn end(&mut self, d: &mut Diags) -> R<()> {
        match self.w.get(self.i) {
            None => Ok(()),
            Some(w) => Err(d.error(
                w.pos(),
                format!(
                    "unexpected '{}' after '{}' (expected end of statement)",
                    w.display(),
                    self.prev_text()
                ),
            )),
        }
    }

    /// The path ends here or continues with statements that are ignored with a warning.
    pub(super) fn end_or_ignore(&mut self, d: &mut Diags, ignored: &[&str]) -> R<()> {
        if self.at_end() {
            return Ok(());
        }
        self.kw(d, &[], ignored).map(|_| ())
    }
}

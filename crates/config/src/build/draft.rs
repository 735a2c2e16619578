//! Pieces every draft is made of: leaves that remember where they were set, references
//! by name, and find-or-create by name (so a second block merges into the first).

use super::diag::{Diags, R};
use crate::lexer::{Pos, Tok};

/// A leaf value with where it was set, to detect conflicting duplicates.
#[derive(Debug, Clone)]
pub(super) struct Leaf<T> {
    pub(super) v: Option<(T, Pos, String)>,
}

impl<T> Default for Leaf<T> {
    fn default() -> Self {
        Leaf { v: None }
    }
}

impl<T: PartialEq + Clone> Leaf<T> {
    pub(super) fn set(&mut self, d: &mut Diags, stmt: &str, val: T, pos: Pos, text: &str) -> R<()> {
        match &self.v {
            Some((old, opos, otext)) if *old != val => Err(d.error(
                pos,
                format!(
                    "conflicting values for '{stmt}': '{text}' conflicts with '{otext}' set at {}:{}",
                    opos.line, opos.col
                ),
            )),
            Some(_) => Ok(()),
            None => {
                self.v = Some((val, pos, text.to_string()));
                Ok(())
            }
        }
    }
    pub(super) fn get(&self) -> Option<T> {
        self.v.as_ref().map(|(v, _, _)| v.clone())
    }
    pub(super) fn pos(&self) -> Option<Pos> {
        self.v.as_ref().map(|(_, p, _)| *p)
    }
}

/// A reference by name to another object, with where it was written.
#[derive(Debug, Clone)]
pub(super) struct Ref {
    pub(super) name: String,
    pub(super) pos: Pos,
}

/// Adds a reference unless the same name is already there.
pub(super) fn push_ref(v: &mut Vec<Ref>, t: &Tok) {
    if !v.iter().any(|r| r.name == t.text) {
        v.push(Ref {
            name: t.text.clone(),
            pos: t.pos,
        });
    }
}

/// The element `found` picks, created by `new` when there is none.
pub(super) fn entry<T>(
    v: &mut Vec<T>,
    found: impl Fn(&T) -> bool,
    new: impl FnOnce() -> T,
) -> &mut T {
    let idx = match v.iter().position(found) {
        Some(i) => i,
        None => {
            v.push(new());
            v.len() - 1
        }
    };
    &mut v[idx]
}

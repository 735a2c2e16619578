//! Errors and warnings found while reading paths and checking drafts.

use std::collections::HashSet;

use crate::lexer::Pos;

/// A finding with its position (the file name is added by the caller).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Diag {
    pub pos: Pos,
    pub message: String,
}

/// Everything found so far: errors (each once) and warnings (each key once).
#[derive(Debug, Default)]
pub(crate) struct Diags {
    pub errors: Vec<Diag>,
    pub warnings: Vec<Diag>,
    warned: HashSet<String>,
    /// The errors recorded, to give each once without a scan.
    seen: HashSet<(Pos, String)>,
}

/// Processing of the current path stops (an error has been recorded, or the rest of the path
/// is an ignored statement).
pub(super) struct Stop;
/// The result of reading part of a path.
pub(super) type R<T> = Result<T, Stop>;

impl Diags {
    /// Records an error (once per position and message) and stops the path.
    pub(super) fn error(&mut self, pos: Pos, message: impl Into<String>) -> Stop {
        let message = message.into();
        if self.seen.insert((pos, message.clone())) {
            self.errors.push(Diag { pos, message });
        }
        Stop
    }

    /// Records a warning unless one with the same `key` was given already.
    pub(crate) fn warn_once(&mut self, key: String, pos: Pos, message: impl Into<String>) {
        if self.warned.insert(key) {
            self.warnings.push(Diag {
                pos,
                message: message.into(),
            });
        }
    }
}

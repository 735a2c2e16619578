//! Pieces every draft is made of: leaves that remember where they were set, references
//! by name, and collections found by name in constant time (so a second block merges into
//! the first without a scan).

use std::borrow::Borrow;
use std::collections::{HashMap, HashSet};
use std::hash::Hash;

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

/// References in order of first appearance, each name once.
pub(super) type Refs = Named<String, Ref>;

impl Refs {
    /// The names referred to, in order, for the model.
    pub(super) fn names(&self) -> Vec<String> {
        self.iter().map(|r| r.name.clone()).collect()
    }
}

/// Adds a reference unless the same name is already there.
pub(super) fn push_ref(v: &mut Refs, t: &Tok) {
    v.entry(t.text.clone(), || Ref {
        name: t.text.clone(),
        pos: t.pos,
    });
}

/// Drafts in order of first appearance, found by key in constant time, so that reading
/// a configuration stays linear however many objects it names.
#[derive(Debug, Clone)]
pub(super) struct Named<K, T> {
    items: Vec<T>,
    index: HashMap<K, usize>,
}

impl<K, T> Default for Named<K, T> {
    fn default() -> Self {
        Named {
            items: Vec::new(),
            index: HashMap::new(),
        }
    }
}

impl<K: Hash + Eq, T> Named<K, T> {
    /// The element under `key`, created by `new` when there is none (a second block with
    /// the same name merges into the first).
    pub(super) fn entry(&mut self, key: K, new: impl FnOnce() -> T) -> &mut T {
        let items = &mut self.items;
        let i = *self.index.entry(key).or_insert_with(|| {
            items.push(new());
            items.len() - 1
        });
        &mut self.items[i]
    }

    /// The element under `key`.
    pub(super) fn get<Q>(&self, key: &Q) -> Option<&T>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.index.get(key).map(|&i| &self.items[i])
    }

    /// Where the element under `key` stands in the order of first appearance.
    pub(super) fn position<Q>(&self, key: &Q) -> Option<usize>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.index.get(key).copied()
    }

    /// Whether an element is under `key`.
    pub(super) fn contains<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.index.contains_key(key)
    }
}

impl<K, T> Named<K, T> {
    /// The elements in order of first appearance.
    pub(super) fn iter(&self) -> std::slice::Iter<'_, T> {
        self.items.iter()
    }

    /// The elements with their keys, in order of first appearance, moved out (the
    /// builder is left empty): the model takes a stanza of many objects without holding
    /// it twice, and drafts need not store their names a second time.
    pub(super) fn take_keyed(&mut self) -> impl ExactSizeIterator<Item = (K, T)> {
        let mut order: Vec<(usize, K)> = std::mem::take(&mut self.index)
            .into_iter()
            .map(|(k, i)| (i, k))
            .collect();
        order.sort_unstable_by_key(|(i, _)| *i);
        order
            .into_iter()
            .map(|(_, k)| k)
            .zip(std::mem::take(&mut self.items))
    }
}

impl<'a, K, T> IntoIterator for &'a Named<K, T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}

/// Values in order of first appearance, each once (a value written twice is kept once).
///
/// Most collections hold a handful of values: those are checked by a scan, and the hash
/// set (which costs about a hundred bytes even for one value) is made only past
/// [`SCAN_MAX`], so that a configuration of many small objects stays small.
#[derive(Debug, Clone)]
pub(super) struct Unique<T> {
    items: Vec<T>,
    // Boxed: an absent set costs one word in every draft rather than a set's 48 bytes.
    #[allow(clippy::box_collection)]
    seen: Option<Box<HashSet<T>>>,
}

/// Values a [`Unique`] checks by a scan.
const SCAN_MAX: usize = 8;

impl<T> Default for Unique<T> {
    fn default() -> Self {
        Unique {
            items: Vec::new(),
            seen: None,
        }
    }
}

impl<T: Hash + Eq + Clone> Unique<T> {
    /// Adds `v` unless it is there; says whether it was added.
    pub(super) fn insert(&mut self, v: T) -> bool {
        let new = if self.items.len() < SCAN_MAX {
            !self.items.contains(&v)
        } else {
            let items = &self.items;
            let seen = self
                .seen
                .get_or_insert_with(|| Box::new(items.iter().cloned().collect()));
            seen.insert(v.clone())
        };
        if new {
            if self.items.is_empty() {
                // Room for one: most collections hold one value.
                self.items.reserve_exact(1);
            }
            self.items.push(v);
        }
        new
    }
}

impl<T> Unique<T> {
    /// The values in order of first appearance.
    pub(super) fn iter(&self) -> std::slice::Iter<'_, T> {
        self.items.iter()
    }
}

impl<T: Clone> Unique<T> {
    /// The values in order of first appearance, for the model.
    pub(super) fn to_vec(&self) -> Vec<T> {
        self.items.clone()
    }
}

impl<T> Unique<T> {
    /// The values in order of first appearance, moved out.
    pub(super) fn into_vec(self) -> Vec<T> {
        self.items
    }
}

//! The work list in memory: one compact table, never a `Vec` of owned `String`s.
//!
//! - Names are interned: each spelling of a package name once in a name table (with its
//!   canonical spelling), each version a range of one text arena, each entry 16 bytes.
//!   Lockfile pins and origins, which only small inputs have, sit beside the table.
//! - De-duplication keeps a hash table of entry numbers hashed by the key, not the keys:
//!   entries whose hashes collide are told apart by comparing their real keys, so a collision
//!   never drops a package.

use std::hash::Hasher;

use super::{write_key, Row};
use crate::ecosystem::Ecosystem;
use crate::engine::Work;
use crate::report::LockfileLine;

/// A package name as spelled in the inputs.
struct Name {
    eco: Ecosystem,
    /// The spelling, a range of `Held::names`.
    text: (usize, usize),
    /// The canonical spelling, where it differs (PEP 503).
    canonical: Option<(usize, usize)>,
}

/// One entry: 16 bytes.
#[derive(Clone, Copy)]
struct Entry {
    /// Where its version starts in `Held::versions`.
    version_at: usize,
    /// Its name in `Held::table`.
    name: u32,
    /// The version's length; [`NO_VERSION`] for the newest.
    version_len: u32,
}

const NO_VERSION: u32 = u32::MAX;

/// Pins and origin of an entry that has them (lockfile inputs).
#[derive(Default)]
struct Extra {
    pins: Vec<Vec<String>>,
    origin: Option<LockfileLine>,
}

/// The table (see the module's notes).
pub(super) struct Held {
    names: String,
    table: Vec<Name>,
    /// Entry numbers of `table`, hashed by ecosystem and spelling.
    name_at: hashbrown::HashTable<u32>,
    versions: String,
    entries: Vec<Entry>,
    extras: std::collections::HashMap<u32, Extra>,
    /// Entry numbers, hashed by the entry's key.
    seen: hashbrown::HashTable<u32>,
    hash: fn(&[u8]) -> u64,
}

/// Any fixed hash does: it only decides which entries have their keys compared.
pub(super) fn default_hash(bytes: &[u8]) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    h.write(bytes);
    h.finish()
}

impl Held {
    pub(super) fn new(hash: fn(&[u8]) -> u64) -> Held {
        Held {
            names: String::new(),
            table: Vec::new(),
            name_at: hashbrown::HashTable::new(),
            versions: String::new(),
            entries: Vec::new(),
            extras: std::collections::HashMap::new(),
            seen: hashbrown::HashTable::new(),
            hash,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Add `row` unless an entry has its key already (then its pin sets are added to that
    /// entry's, each once). `true`: added.
    pub(super) fn push(&mut self, row: Row) -> bool {
        let hash = (self.hash)(row.key.as_bytes());
        // Same hash: the same package only if the real keys are equal.
        let mut scratch = String::new();
        let found = {
            let (entries, table, names, versions) =
                (&self.entries, &self.table, &self.names, &self.versions);
            self.seen
                .find(hash, |&i| {
                    entry_key(&mut scratch, table, names, versions, entries[i as usize]);
                    scratch == row.key
                })
                .copied()
        };
        if let Some(i) = found {
            if !row.pins.is_empty() {
                let extra = self.extras.entry(i).or_default();
                for set in row.pins {
                    if !extra.pins.contains(&set) {
                        extra.pins.push(set);
                    }
                }
            }
            return false;
        }
        let name = self.intern(row.eco, row.name, row.canonical);
        let (version_at, version_len) = match row.version {
            Some(v) => {
                let at = self.versions.len();
                self.versions.push_str(v);
                (at, u32::try_from(v.len()).unwrap_or(NO_VERSION - 1))
            }
            None => (self.versions.len(), NO_VERSION),
        };
        let i = self.entries.len() as u32;
        self.entries.push(Entry {
            version_at,
            name,
            version_len,
        });
        if !row.pins.is_empty() || row.origin.is_some() {
            self.extras.insert(
                i,
                Extra {
                    pins: row.pins,
                    origin: row.origin,
                },
            );
        }
        let hash_of = self.hash;
        let (entries, table, names, versions) =
            (&self.entries, &self.table, &self.names, &self.versions);
        self.seen.insert_unique(hash, i, |&j| {
            let mut k = String::new();
            entry_key(&mut k, table, names, versions, entries[j as usize]);
            hash_of(k.as_bytes())
        });
        true
    }

    /// The name table's number for this spelling, added if new. Listings push every version
    /// of a package in a row, so the last name is tried first.
    fn intern(&mut self, eco: Ecosystem, name: &str, canonical: &str) -> u32 {
        if let Some(last) = self.table.len().checked_sub(1) {
            let n = &self.table[last];
            if n.eco == eco && text(&self.names, n.text) == name {
                return last as u32;
            }
        }
        let hash = name_hash(eco, name);
        let (table, names) = (&self.table, &self.names);
        if let Some(&i) = self.name_at.find(hash, |&i| {
            let n = &table[i as usize];
            n.eco == eco && text(names, n.text) == name
        }) {
            return i;
        }
        let at = self.names.len();
        self.names.push_str(name);
        let spelled = (at, self.names.len());
        let canonical = (canonical != name).then(|| {
            let at = self.names.len();
            self.names.push_str(canonical);
            (at, self.names.len())
        });
        let i = self.table.len() as u32;
        self.table.push(Name {
            eco,
            text: spelled,
            canonical,
        });
        let (table, names) = (&self.table, &self.names);
        self.name_at.insert_unique(hash, i, |&j| {
            let n = &table[j as usize];
            name_hash(n.eco, text(names, n.text))
        });
        i
    }

    /// Drop every entry from `len` on.
    pub(super) fn truncate(&mut self, len: usize) {
        let Some(first) = self.entries.get(len) else {
            return;
        };
        let cut = first.version_at;
        self.entries.truncate(len);
        self.versions.truncate(cut);
        self.extras.retain(|&i, _| (i as usize) < len);
        self.seen.retain(|&mut i| (i as usize) < len);
    }

    /// Entry `i` as the run takes it.
    pub(super) fn get(&self, i: usize) -> Work {
        let e = self.entries[i];
        let n = &self.table[e.name as usize];
        let extra = self.extras.get(&(i as u32));
        Work {
            ecosystem: n.eco,
            name: text(&self.names, n.text).to_string(),
            version: version_of(&self.versions, e).map(str::to_string),
            pins: extra.map(|x| x.pins.clone()).unwrap_or_default(),
            origin: extra.and_then(|x| x.origin.clone()),
        }
    }

    /// Each entry in list order as a [`Row`] (what the list on disk takes when the list moves
    /// there).
    pub(super) fn each(
        &self,
        mut each: impl FnMut(Row) -> rusqlite::Result<()>,
    ) -> rusqlite::Result<()> {
        let mut key = String::new();
        for (i, &e) in self.entries.iter().enumerate() {
            let n = &self.table[e.name as usize];
            entry_key(&mut key, &self.table, &self.names, &self.versions, e);
            let extra = self.extras.get(&(i as u32));
            each(Row {
                eco: n.eco,
                name: text(&self.names, n.text),
                canonical: text(&self.names, n.canonical.unwrap_or(n.text)),
                version: version_of(&self.versions, e),
                key: &key,
                pins: extra.map(|x| x.pins.clone()).unwrap_or_default(),
                origin: extra.and_then(|x| x.origin.clone()),
            })?;
        }
        Ok(())
    }

    /// The entries' places, every version of a package together (packages by ecosystem and
    /// canonical name, each package's versions in list order); `None` when the list is in
    /// that order already (a listing is), so that no order is held.
    pub(super) fn group_order(&self) -> Option<Vec<u32>> {
        // Each name's place in the order of (ecosystem, canonical name); spellings of one
        // package share it.
        let mut by_name: Vec<u32> = (0..self.table.len() as u32).collect();
        let group = |i: u32| {
            let n = &self.table[i as usize];
            (n.eco, text(&self.names, n.canonical.unwrap_or(n.text)))
        };
        by_name.sort_by(|&a, &b| group(a).cmp(&group(b)));
        let mut rank = vec![0u32; self.table.len()];
        let mut r = 0;
        for (k, &i) in by_name.iter().enumerate() {
            if k > 0 && group(by_name[k - 1]) != group(i) {
                r += 1;
            }
            rank[i as usize] = r;
        }
        drop(by_name);
        let ranked = |e: &Entry| rank[e.name as usize];
        let sorted = self
            .entries
            .windows(2)
            .all(|w| ranked(&w[0]) <= ranked(&w[1]));
        (!sorted).then(|| {
            let mut o: Vec<u32> = (0..self.entries.len() as u32).collect();
            // Stable: a package's versions stay in list order.
            o.sort_by_key(|&i| rank[self.entries[i as usize].name as usize]);
            o
        })
    }

    /// How many names the table holds (tests: spellings are shared).
    #[cfg(test)]
    pub(super) fn names(&self) -> usize {
        self.table.len()
    }
}

fn text(arena: &str, (from, to): (usize, usize)) -> &str {
    &arena[from..to]
}

fn version_of(versions: &str, e: Entry) -> Option<&str> {
    (e.version_len != NO_VERSION)
        .then(|| &versions[e.version_at..e.version_at + e.version_len as usize])
}

fn name_hash(eco: Ecosystem, name: &str) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    h.write_u8(eco as u8);
    h.write(name.as_bytes());
    h.finish()
}

/// The key of a stored entry.
fn entry_key(out: &mut String, table: &[Name], names: &str, versions: &str, e: Entry) {
    let n = &table[e.name as usize];
    let canonical = text(names, n.canonical.unwrap_or(n.text));
    let v = version_of(versions, e).map(|v| n.eco.handler().canonical_version(v));
    write_key(out, n.eco, canonical, v.as_deref());
}

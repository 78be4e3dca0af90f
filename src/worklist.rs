//! The work list, held compactly: a whole registry is millions of versions, so the list is
//! one table, built as inputs and listings stream in, never a `Vec` of owned `String`s.
//!
//! - Names are interned: each spelling of a package name once in a name table (with its
//!   canonical spelling and its place in the name order), each version a range of one text
//!   arena, each entry 16 bytes. Lockfile pins and origins, which only small inputs have, sit
//!   beside the table.
//! - De-duplication (by [`Work::key`]: canonical name and version) keeps a hash table of entry
//!   numbers hashed by that key, not the keys: entries whose hashes collide are told apart by
//!   comparing their real keys, so a collision never drops a package.
//! - `--shard` is applied as each entry is pushed, before it is stored (the same SHA-256 of
//!   the same key as [`crate::shard`] always used, so assignments and stored results stay).
//! - [`WorkList::into_groups`] hands out every version of a package together without a second
//!   copy: an order of entry numbers, and none when the list is already in that order (a
//!   listing is), each [`Work`] made as the run takes it.

use std::hash::Hasher;

use crate::ecosystem::Ecosystem;
use crate::engine::Work;
use crate::report::LockfileLine;
use crate::shard::Shard;

/// What [`WorkList::push`] did with an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// A new entry, at the end of the list.
    Added,
    /// The same package (by [`Work::key`]) was in the list already: its pins were added to it.
    Merged,
    /// Another shard's: not stored.
    OtherShard,
}

/// A package name as spelled in the inputs.
struct Name {
    eco: Ecosystem,
    /// The spelling, a range of `WorkList::names`.
    text: (usize, usize),
    /// The canonical spelling, where it differs (PEP 503).
    canonical: Option<(usize, usize)>,
}

/// One entry: 16 bytes.
#[derive(Clone, Copy)]
struct Entry {
    /// Where its version starts in `WorkList::versions`.
    version_at: usize,
    /// Its name in `WorkList::table`.
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

/// The work list (see the module's notes).
pub struct WorkList {
    shard: Option<Shard>,
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
    /// Scratch for keys.
    key: String,
}

/// Any fixed hash does: it only decides which entries have their keys compared.
fn default_hash(bytes: &[u8]) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    h.write(bytes);
    h.finish()
}

impl WorkList {
    /// An empty list keeping only `shard`'s part (all of it without one).
    pub fn new(shard: Option<Shard>) -> WorkList {
        WorkList::with_hash(shard, default_hash)
    }

    /// With another hash of keys (tests force collisions with it).
    fn with_hash(shard: Option<Shard>, hash: fn(&[u8]) -> u64) -> WorkList {
        WorkList {
            shard,
            names: String::new(),
            table: Vec::new(),
            name_at: hashbrown::HashTable::new(),
            versions: String::new(),
            entries: Vec::new(),
            extras: std::collections::HashMap::new(),
            seen: hashbrown::HashTable::new(),
            hash,
            key: String::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Add one package version (`None`: the newest), unless the list has it already (then
    /// its pin sets are added to the first one's, each once) or another shard owns it.
    pub fn push(
        &mut self,
        eco: Ecosystem,
        name: &str,
        version: Option<&str>,
        pins: Vec<Vec<String>>,
        origin: Option<LockfileLine>,
    ) -> Pushed {
        let h = eco.handler();
        let canonical = h.canonical_name(name);
        let canonical_version = version.map(|v| h.canonical_version(v));
        let mut key = std::mem::take(&mut self.key);
        write_key(&mut key, eco, &canonical, canonical_version.as_deref());
        let pushed = self.push_keyed(eco, name, &canonical, version, &key, pins, origin);
        self.key = key;
        pushed
    }

    /// Add a [`Work`] (see [`WorkList::push`]).
    pub fn push_work(&mut self, w: Work) -> Pushed {
        self.push(w.ecosystem, &w.name, w.version.as_deref(), w.pins, w.origin)
    }

    #[allow(clippy::too_many_arguments)]
    fn push_keyed(
        &mut self,
        eco: Ecosystem,
        name: &str,
        canonical: &str,
        version: Option<&str>,
        key: &str,
        pins: Vec<Vec<String>>,
        origin: Option<LockfileLine>,
    ) -> Pushed {
        if self.shard.is_some_and(|s| !s.owns(key)) {
            return Pushed::OtherShard;
        }
        let hash = (self.hash)(key.as_bytes());
        // Same hash: the same package only if the real keys are equal.
        let mut scratch = String::new();
        let found = {
            let (entries, table, names, versions) =
                (&self.entries, &self.table, &self.names, &self.versions);
            self.seen
                .find(hash, |&i| {
                    entry_key(&mut scratch, table, names, versions, entries[i as usize]);
                    scratch == key
                })
                .copied()
        };
        if let Some(i) = found {
            if !pins.is_empty() {
                let extra = self.extras.entry(i).or_default();
                for set in pins {
                    if !extra.pins.contains(&set) {
                        extra.pins.push(set);
                    }
                }
            }
            return Pushed::Merged;
        }
        let name = self.intern(eco, name, canonical);
        let (version_at, version_len) = match version {
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
        if !pins.is_empty() || origin.is_some() {
            self.extras.insert(i, Extra { pins, origin });
        }
        let hash_of = self.hash;
        let (entries, table, names, versions) =
            (&self.entries, &self.table, &self.names, &self.versions);
        self.seen.insert_unique(hash, i, |&j| {
            let mut k = String::new();
            entry_key(&mut k, table, names, versions, entries[j as usize]);
            hash_of(k.as_bytes())
        });
        Pushed::Added
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

    /// Drop every entry from `len` on (what a listing that then failed had sent).
    pub fn truncate(&mut self, len: usize) {
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
    pub fn get(&self, i: usize) -> Work {
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

    /// Ecosystem, name and version of each entry, in list order, borrowed.
    pub fn iter(&self) -> impl Iterator<Item = (Ecosystem, &str, Option<&str>)> + '_ {
        self.entries.iter().map(|&e| {
            let n = &self.table[e.name as usize];
            (
                n.eco,
                text(&self.names, n.text),
                version_of(&self.versions, e),
            )
        })
    }

    /// Every entry as a [`Work`], in list order.
    pub fn works(&self) -> impl Iterator<Item = Work> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// The work with its place in the list, every version of a package together (packages by
    /// ecosystem and canonical name, each package's versions in list order). The entries are
    /// made as they are taken; when the list is in that order already, no order is held.
    pub fn into_groups(self) -> impl Iterator<Item = (usize, Work)> {
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
        let order: Option<Vec<u32>> = (!sorted).then(|| {
            let mut o: Vec<u32> = (0..self.entries.len() as u32).collect();
            // Stable: a package's versions stay in list order.
            o.sort_by_key(|&i| rank[self.entries[i as usize].name as usize]);
            o
        });
        drop(rank);
        let len = self.entries.len();
        (0..len).map(move |k| {
            let i = order.as_ref().map_or(k, |o| o[k] as usize);
            (i, self.get(i))
        })
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

/// `ecosystem:name@version` from canonical spellings: the text [`Work::key`] gives and
/// [`crate::shard`] hashes.
pub fn write_key(out: &mut String, eco: Ecosystem, canonical: &str, version: Option<&str>) {
    out.clear();
    out.push_str(eco.as_str());
    out.push(':');
    out.push_str(canonical);
    if let Some(v) = version {
        out.push('@');
        out.push_str(v);
    }
}

/// The key of a stored entry.
fn entry_key(out: &mut String, table: &[Name], names: &str, versions: &str, e: Entry) {
    let n = &table[e.name as usize];
    let canonical = text(names, n.canonical.unwrap_or(n.text));
    let v = version_of(versions, e).map(|v| n.eco.handler().canonical_version(v));
    write_key(out, n.eco, canonical, v.as_deref());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(
        l: &mut WorkList,
        eco: Ecosystem,
        name: &str,
        v: Option<&str>,
        pins: &[&str],
    ) -> Pushed {
        let pins = if pins.is_empty() {
            Vec::new()
        } else {
            vec![pins.iter().map(|p| p.to_string()).collect()]
        };
        l.push(eco, name, v, pins, None)
    }

    #[test]
    fn keys_are_what_work_key_and_the_shards_always_used() {
        let w = Work {
            ecosystem: Ecosystem::Pypi,
            name: "Zope_Interface".into(),
            version: Some("v1.0.0".into()),
            pins: Vec::new(),
            origin: None,
        };
        assert_eq!(w.key(), "pypi:zope-interface@1");
        let mut l = WorkList::new(Some(Shard {
            index: 10,
            count: 16,
        }));
        // Pinned in src/shard.rs: `crates:serde@1.0.210` is shard 10 of 16.
        assert_eq!(
            push(&mut l, Ecosystem::Crates, "serde", Some("1.0.210"), &[]),
            Pushed::Added
        );
        let mut other = WorkList::new(Some(Shard {
            index: 9,
            count: 16,
        }));
        assert_eq!(
            push(&mut other, Ecosystem::Crates, "serde", Some("1.0.210"), &[]),
            Pushed::OtherShard
        );
        assert!(other.is_empty());
    }

    #[test]
    fn colliding_hashes_keep_every_package_and_still_merge_duplicates() {
        // Every key hashes alike: only the real keys tell packages apart.
        let mut l = WorkList::with_hash(None, |_| 7);
        let mut by_std = WorkList::new(None);
        let all = [
            (Ecosystem::Crates, "a", Some("1.0.0"), &["x"][..]),
            (Ecosystem::Crates, "a", Some("1.0.1"), &[]),
            (Ecosystem::Crates, "b", Some("1.0.0"), &[]),
            (Ecosystem::Pypi, "a", Some("1.0.0"), &[]),
            (Ecosystem::Crates, "a", None, &[]),
            (Ecosystem::Pypi, "A", Some("1.0"), &["y"]),
            (Ecosystem::Crates, "a", Some("1.0.0"), &["z"]),
            (Ecosystem::Crates, "a", Some("1.0.0"), &["x"]),
        ];
        for (eco, n, v, p) in all {
            push(&mut l, eco, n, v, p);
            push(&mut by_std, eco, n, v, p);
        }
        assert_eq!(l.len(), 5);
        for (a, b) in l.works().zip(by_std.works()) {
            assert_eq!((a.key(), &a.name, &a.pins), (b.key(), &b.name, &b.pins));
        }
        let first = l.get(0);
        assert_eq!(first.pins, [vec!["x".to_string()], vec!["z".to_string()]]);
        let pypi = l.get(3);
        assert_eq!((pypi.name.as_str(), pypi.pins.len()), ("a", 1));
    }

    #[test]
    fn groups_take_a_package_together_and_keep_list_places() {
        let mut l = WorkList::new(None);
        for (eco, n, v) in [
            (Ecosystem::Pypi, "Zope.Interface", "1.0"),
            (Ecosystem::Crates, "b", "1.0.0"),
            (Ecosystem::Crates, "a", "2.0.0"),
            (Ecosystem::Pypi, "zope-interface", "2.0"),
            (Ecosystem::Crates, "b", "0.9.0"),
            (Ecosystem::Crates, "a", "1.0.0"),
        ] {
            push(&mut l, eco, n, Some(v), &[]);
        }
        let listed: Vec<String> = l.works().map(|w| w.key()).collect();
        let got: Vec<(usize, String)> = l.into_groups().map(|(i, w)| (i, w.key())).collect();
        let places: Vec<usize> = got.iter().map(|(i, _)| *i).collect();
        assert_eq!(places, [2, 5, 1, 4, 0, 3]);
        // Each place names the entry that was there in the list.
        for (i, k) in &got {
            assert_eq!(&listed[*i], k);
        }
        // Already in order (a listing): the same places, in list order.
        let mut l = WorkList::new(None);
        for v in ["1.0.0", "1.1.0"] {
            push(&mut l, Ecosystem::Crates, "a", Some(v), &[]);
        }
        push(&mut l, Ecosystem::Crates, "b", None, &[]);
        let places: Vec<usize> = l.into_groups().map(|(i, _)| i).collect();
        assert_eq!(places, [0, 1, 2]);
    }

    #[test]
    fn an_origin_is_kept_and_names_are_shared() {
        let mut l = WorkList::new(None);
        let origin = LockfileLine {
            path: "Cargo.lock".into(),
            line: 3,
        };
        l.push(
            Ecosystem::Crates,
            "a",
            Some("1.0.0"),
            vec![vec!["aa".into()]],
            Some(origin.clone()),
        );
        for v in 1..100 {
            push(
                &mut l,
                Ecosystem::Crates,
                "a",
                Some(&format!("1.0.{v}")),
                &[],
            );
        }
        assert_eq!(l.table.len(), 1, "one name for every version");
        assert_eq!(l.get(0).origin, Some(origin));
        assert_eq!(l.get(1).origin, None);
        assert_eq!(
            l.iter().nth(99),
            Some((Ecosystem::Crates, "a", Some("1.0.99")))
        );
    }
}

//! The work list: every package version a run verifies, built as inputs and listings stream
//! in. A whole registry is millions of versions, so the list is never a `Vec` of owned
//! `String`s, and past a bound it is not in memory at all:
//!
//! - [`held`]: the list in memory, one compact table (names interned, versions in one text
//!   arena, 16 bytes an entry, a hash table of entry numbers for de-duplication).
//! - [`disk`]: the list on disk, a SQLite file in the cache directory (unlinked while open),
//!   once it holds more entries than [`crate::cache_budget::work_entries`]; what a run holds
//!   of it then is a page cache and a page of entries.
//!
//! Either way:
//! - De-duplication is by [`Work::key`] (canonical name and version); the first spelling is
//!   kept and every pin set is added to it, each once.
//! - `--shard` is applied as each entry is pushed, before it is stored (the same SHA-256 of
//!   the same key as [`crate::shard`] always used, so assignments and stored results stay).
//! - [`WorkList::into_groups`] hands out every version of a package together (packages by
//!   ecosystem and canonical name, each package's versions in list order), each with its
//!   place in the list, each [`Work`] made as the run takes it.

mod disk;
mod held;

use std::path::{Path, PathBuf};

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

/// One entry as pushed, with its key and canonical name worked out.
struct Row<'a> {
    eco: Ecosystem,
    name: &'a str,
    canonical: &'a str,
    version: Option<&'a str>,
    key: &'a str,
    pins: Vec<Vec<String>>,
    origin: Option<LockfileLine>,
}

// One per run: the size of the held table's header does not matter.
#[allow(clippy::large_enum_variant)]
enum Kept {
    Held(held::Held),
    Disk(Box<disk::Disk>),
}

/// The work list (see the module's notes).
pub struct WorkList {
    shard: Option<Shard>,
    kept: Kept,
    /// Where the list moves, and past how many entries (`None`: it stays in memory).
    moves: Option<(PathBuf, usize)>,
    /// The first error of the list on disk: nothing is taken after it.
    failed: Option<anyhow::Error>,
    /// Scratch for keys.
    key: String,
}

impl WorkList {
    /// An empty list in memory, keeping only `shard`'s part (all of it without one).
    pub fn new(shard: Option<Shard>) -> WorkList {
        WorkList::with_hash(shard, held::default_hash)
    }

    /// With another hash of keys (tests force collisions with it).
    fn with_hash(shard: Option<Shard>, hash: fn(&[u8]) -> u64) -> WorkList {
        WorkList {
            shard,
            kept: Kept::Held(held::Held::new(hash)),
            moves: None,
            failed: None,
            key: String::new(),
        }
    }

    /// The list moves to a file in `dir` once it holds more than `held` entries.
    pub fn moving_to_disk(mut self, dir: &Path, held: usize) -> WorkList {
        self.moves = Some((dir.to_path_buf(), held));
        self
    }

    pub fn len(&self) -> usize {
        match &self.kept {
            Kept::Held(h) => h.len(),
            Kept::Disk(d) => d.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Is the list on disk (it grew past what is held in memory)?
    pub fn on_disk(&self) -> bool {
        matches!(self.kept, Kept::Disk(_))
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
        let pushed = if self.shard.is_some_and(|s| !s.owns(&key)) {
            Pushed::OtherShard
        } else {
            let row = Row {
                eco,
                name,
                canonical: &canonical,
                version,
                key: &key,
                pins,
                origin,
            };
            self.push_row(row)
        };
        self.key = key;
        pushed
    }

    fn push_row(&mut self, row: Row) -> Pushed {
        let added = match &mut self.kept {
            Kept::Held(h) => {
                let added = h.push(row);
                if self.moves.as_ref().is_some_and(|(_, n)| h.len() > *n) {
                    self.move_to_disk();
                }
                added
            }
            Kept::Disk(_) if self.failed.is_some() => true,
            Kept::Disk(d) => d.push(row).unwrap_or_else(|e| {
                self.failed = Some(anyhow::anyhow!(
                    "cannot add to the work list kept in the cache directory: {e}"
                ));
                true
            }),
        };
        if added {
            Pushed::Added
        } else {
            Pushed::Merged
        }
    }

    /// Move the list to disk. If it cannot be made there, the list stays in memory (nothing
    /// is lost; it only costs memory) and the run says so once.
    fn move_to_disk(&mut self) {
        let (Some((dir, _)), Kept::Held(h)) = (self.moves.take(), &mut self.kept) else {
            return;
        };
        let moved = disk::Disk::create(&dir).and_then(|mut d| {
            h.each(|row| d.push(row).map(drop))?;
            Ok(d)
        });
        match moved {
            Ok(d) => {
                tracing::debug!(
                    "the work list moved to disk, in {} ({} entries)",
                    dir.display(),
                    d.len()
                );
                self.kept = Kept::Disk(Box::new(d));
            }
            Err(e) => tracing::warn!("the work list stays in memory: {e}"),
        }
    }

    /// Add a [`Work`] (see [`WorkList::push`]).
    pub fn push_work(&mut self, w: Work) -> Pushed {
        self.push(w.ecosystem, &w.name, w.version.as_deref(), w.pins, w.origin)
    }

    /// Drop every entry from `len` on (what a listing that then failed had sent).
    pub fn truncate(&mut self, len: usize) {
        match &mut self.kept {
            Kept::Held(h) => h.truncate(len),
            Kept::Disk(d) => {
                if let Err(e) = d.truncate(len) {
                    self.failed.get_or_insert(anyhow::anyhow!(
                        "cannot change the work list kept in the cache directory: {e}"
                    ));
                }
            }
        }
    }

    /// The first error of a list on disk, if it had one (the list is incomplete then).
    pub fn healthy(&mut self) -> anyhow::Result<()> {
        self.failed.take().map_or(Ok(()), Err)
    }

    /// Entry `i` as the run takes it.
    #[cfg(test)]
    fn get(&self, i: usize) -> Work {
        match &self.kept {
            Kept::Held(h) => h.get(i),
            Kept::Disk(d) => d.get(i).unwrap().unwrap(),
        }
    }

    /// Every entry as a [`Work`], in list order.
    pub fn works(&self) -> Box<dyn Iterator<Item = anyhow::Result<Work>> + '_> {
        match &self.kept {
            Kept::Held(h) => Box::new((0..h.len()).map(|i| Ok(h.get(i)))),
            Kept::Disk(d) => match disk::Disk::pages(&**d, false) {
                Ok(pages) => Box::new(pages.map(|r| r.map(|(_, w)| w).map_err(read_error))),
                Err(e) => Box::new(std::iter::once(Err(read_error(e)))),
            },
        }
    }

    /// The work with its place in the list, every version of a package together (packages by
    /// ecosystem and canonical name, each package's versions in list order). The entries are
    /// made as they are taken; in memory, when the list is in that order already (a listing
    /// is), no order is held.
    pub fn into_groups(self) -> Box<dyn Iterator<Item = anyhow::Result<(usize, Work)>>> {
        match self.kept {
            Kept::Held(h) => {
                let order = h.group_order();
                Box::new((0..h.len()).map(move |k| {
                    let i = order.as_ref().map_or(k, |o| o[k] as usize);
                    Ok((i, h.get(i)))
                }))
            }
            Kept::Disk(d) => match disk::Disk::pages(d, true) {
                Ok(pages) => Box::new(pages.map(|r| r.map_err(read_error))),
                Err(e) => Box::new(std::iter::once(Err(read_error(e)))),
            },
        }
    }
}

fn read_error(e: rusqlite::Error) -> anyhow::Error {
    anyhow::anyhow!("cannot read the work list kept in the cache directory: {e}")
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

    /// An empty list in memory, or one on disk from its first entry.
    fn list(on_disk: Option<&Path>) -> WorkList {
        match on_disk {
            Some(dir) => WorkList::new(None).moving_to_disk(dir, 0),
            None => WorkList::new(None),
        }
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
            let (a, b) = (a.unwrap(), b.unwrap());
            assert_eq!((a.key(), &a.name, &a.pins), (b.key(), &b.name, &b.pins));
        }
        let first = l.get(0);
        assert_eq!(first.pins, [vec!["x".to_string()], vec!["z".to_string()]]);
        let pypi = l.get(3);
        assert_eq!((pypi.name.as_str(), pypi.pins.len()), ("a", 1));
    }

    #[test]
    fn groups_take_a_package_together_and_keep_list_places() {
        let dir = tempfile::tempdir().unwrap();
        for on_disk in [None, Some(dir.path())] {
            groups_in(on_disk);
        }
    }

    fn groups_in(on_disk: Option<&Path>) {
        let mut l = list(on_disk);
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
        let listed: Vec<String> = l.works().map(|w| w.unwrap().key()).collect();
        let got: Vec<(usize, String)> = l
            .into_groups()
            .map(|g| g.map(|(i, w)| (i, w.key())).unwrap())
            .collect();
        let places: Vec<usize> = got.iter().map(|(i, _)| *i).collect();
        assert_eq!(places, [2, 5, 1, 4, 0, 3]);
        // Each place names the entry that was there in the list.
        for (i, k) in &got {
            assert_eq!(&listed[*i], k);
        }
        // Already in order (a listing): the same places, in list order.
        let mut l = list(on_disk);
        for v in ["1.0.0", "1.1.0"] {
            push(&mut l, Ecosystem::Crates, "a", Some(v), &[]);
        }
        push(&mut l, Ecosystem::Crates, "b", None, &[]);
        let places: Vec<usize> = l.into_groups().map(|g| g.unwrap().0).collect();
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
        let Kept::Held(h) = &l.kept else {
            panic!("in memory")
        };
        assert_eq!(h.names(), 1, "one name for every version");
        assert_eq!(l.get(0).origin, Some(origin));
        assert_eq!(l.get(1).origin, None);
        let last = l.works().nth(99).unwrap().unwrap();
        assert_eq!(last.key(), "crates:a@1.0.99");
    }

    /// A list of `n` entries with what inputs bring: several ecosystems, spellings of one PyPI
    /// name, duplicates (some with pins, some pinned twice alike), lockfile origins, newest
    /// versions, packages not in group order.
    fn fill(l: &mut WorkList, n: usize) -> Vec<Pushed> {
        let mut pushed = Vec::new();
        for k in 0..n {
            let pkg = (k * 7919) % 97;
            let (eco, name) = match pkg % 3 {
                0 => (Ecosystem::Crates, format!("crate-{pkg}")),
                1 => (Ecosystem::Pypi, format!("Zope_{pkg}.Interface")),
                _ => (Ecosystem::Gems, format!("gem{pkg}")),
            };
            let name = if eco == Ecosystem::Pypi && k % 2 == 0 {
                name.to_lowercase().replace(['_', '.'], "-")
            } else {
                name
            };
            let version = (k % 11 != 0).then(|| format!("1.{}.{}", k % 5, k % 13));
            let pins = match k % 17 {
                0 => vec![vec![format!("{k:x}")]],
                1 => vec![vec!["same".to_string()]],
                _ => Vec::new(),
            };
            let origin = (k % 23 == 0).then(|| LockfileLine {
                path: "Cargo.lock".into(),
                line: k,
            });
            pushed.push(l.push(eco, &name, version.as_deref(), pins, origin));
        }
        pushed
    }

    fn keyed(w: &Work) -> (String, String, Vec<Vec<String>>, Option<LockfileLine>) {
        (w.key(), w.name.clone(), w.pins.clone(), w.origin.clone())
    }

    #[test]
    fn a_list_on_disk_gives_what_the_list_in_memory_gives() {
        let dir = tempfile::tempdir().unwrap();
        // Past a few pages of what the list on disk reads at once, and moved there part way.
        let n = 3 * disk::PAGE + 17;
        let mut held = WorkList::new(None);
        let mut moved = WorkList::new(None).moving_to_disk(dir.path(), 500);
        let pushed = fill(&mut held, n);
        assert_eq!(fill(&mut moved, n), pushed);
        assert!(pushed.contains(&Pushed::Merged) && pushed.contains(&Pushed::Added));
        assert!(!held.on_disk() && moved.on_disk());
        moved.healthy().unwrap();
        assert_eq!(held.len(), moved.len());
        assert!(held.len() > disk::PAGE, "{}", held.len());
        let listed = |l: &WorkList| -> Vec<_> { l.works().map(|w| keyed(&w.unwrap())).collect() };
        assert_eq!(listed(&held), listed(&moved));
        // A listing that failed is taken back on disk as in memory.
        held.truncate(held.len() - 40);
        moved.truncate(moved.len() - 40);
        assert_eq!(listed(&held), listed(&moved));
        let groups = |l: WorkList| -> Vec<_> {
            l.into_groups()
                .map(|g| g.map(|(i, w)| (i, keyed(&w))).unwrap())
                .collect()
        };
        let (a, b) = (groups(held), groups(moved));
        assert_eq!(a, b);
        // Every place once, and the versions of a package together.
        let mut places: Vec<usize> = a.iter().map(|(i, _)| *i).collect();
        places.sort_unstable();
        assert_eq!(places, (0..a.len()).collect::<Vec<_>>());
        let packages: Vec<&str> = a
            .iter()
            .map(|(_, k)| k.0.split('@').next().unwrap())
            .collect();
        let mut runs = packages.clone();
        runs.dedup();
        let mut distinct = runs.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(
            runs.len(),
            distinct.len(),
            "each package in one run: {runs:?}"
        );
    }

    #[test]
    fn the_list_on_disk_leaves_no_file_and_reads_groups_by_its_index() {
        let dir = tempfile::tempdir().unwrap();
        let mut l = list(Some(dir.path()));
        fill(&mut l, 100);
        assert!(l.on_disk());
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert!(
            names.is_empty(),
            "the file is unlinked while open: {names:?}"
        );
        let Kept::Disk(d) = &l.kept else {
            panic!("on disk")
        };
        let plan = d.group_plan();
        assert!(plan.contains("entry_group"), "{plan}");
        assert!(
            !plan.contains("TEMP B-TREE"),
            "a page is never sorted: {plan}"
        );
        assert_eq!(l.into_groups().count(), 100 - dup_count(100));
    }

    /// How many of [`fill`]'s first `n` pushes are duplicates.
    fn dup_count(n: usize) -> usize {
        let mut l = WorkList::new(None);
        fill(&mut l, n)
            .iter()
            .filter(|&&p| p == Pushed::Merged)
            .count()
    }

    #[test]
    fn a_list_that_cannot_move_to_disk_stays_in_memory_whole() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, "").unwrap();
        let mut l = WorkList::new(None).moving_to_disk(&blocker.join("cache"), 10);
        let mut held = WorkList::new(None);
        fill(&mut l, 200);
        fill(&mut held, 200);
        assert!(!l.on_disk());
        l.healthy().unwrap();
        let listed = |l: &WorkList| -> Vec<_> { l.works().map(|w| keyed(&w.unwrap())).collect() };
        assert_eq!(listed(&l), listed(&held));
    }
}

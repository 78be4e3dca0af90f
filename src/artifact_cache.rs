//! The artifact cache: every downloaded artifact whose SHA-256 matches the registry's digest is
//! kept, so a later run (`--recheck`, other settings, no store, a retried error) downloads only
//! what is not already here. Content-addressed by SHA-256.
//!
//! Why packs and not a file per artifact: creating a file (a temporary file, then a rename)
//! per artifact was the largest share of provero's own CPU in a bulk run (`BENCHMARKS.md`,
//! "Artifact cache"). A run appends the artifacts it downloads to one pack of its own,
//! `<cache>/artifacts/pack-<time>-<pid>.pack`, a record each: the magic `PVA1`, the SHA-256
//! (32 bytes), the length (u64, little-endian), the bytes. Runs sharing a cache never write
//! to the same pack. A record cut short (a run killed mid-write) ends the scan of its pack and
//! is ignored; a record whose bytes are damaged fails the digest check on read and is
//! downloaded again. Emptying the cache is removing `<cache>/artifacts/`, as before.
//!
//! Why the index is on disk: it names every artifact the cache has ever kept, so held in
//! memory it grew with the cache and with the run (about 90 bytes an artifact, and every run
//! read every pack's headers on its first look-up). It is `<cache>/artifacts/index.db`
//! (SQLite: digest → pack, offset, length, and how far each pack is indexed), kept by the runs
//! that write the packs: a run's records go in by batches of [`BATCH`], and whatever a run did
//! not get in (killed before its last batch, a pack from a provero without the index) is read
//! from the pack's headers past the indexed length when a later run first opens the index. A
//! run holds one batch and SQLite's page cache, whatever the size of the cache or the run; a
//! run that neither looks up nor keeps an artifact opens nothing. An index that cannot be
//! opened or written (a read-only cache, a damaged file) is replaced by one in memory built
//! from the packs, which is what every run did before.
//!
//! Artifacts cached by earlier versions (`<cache>/artifacts/<ecosystem>/<file name>`) are
//! still read.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use sha2::Digest as _;

const MAGIC: &[u8; 4] = b"PVA1";
const HEADER: u64 = 4 + 32 + 8;
/// Records of this run written to the index together.
const BATCH: usize = 64;
/// The index's layout; another one is rebuilt from the packs.
const INDEX_VERSION: i64 = 1;

/// Where one cached artifact is: a record of a pack.
#[derive(Clone, Copy)]
struct Slot {
    /// The pack's row in the index.
    pack: i64,
    offset: u64,
    len: u64,
}

/// The index, and this run's records not yet in it.
struct Index {
    /// `None` only when not even SQLite in memory could be had.
    db: Option<Connection>,
    pending: Vec<([u8; 32], Slot)>,
}

/// The pack this run appends to, opened on the first artifact it keeps.
struct Writer {
    file: File,
    pack: i64,
    end: u64,
}

pub struct ArtifactCache {
    dir: PathBuf,
    index: OnceLock<Mutex<Index>>,
    writer: Mutex<Option<Writer>>,
    /// Whether each legacy `<ecosystem>/` directory exists, looked at once.
    legacy_dirs: Mutex<HashMap<String, bool>>,
}

impl ArtifactCache {
    pub fn new(cache_dir: &Path) -> ArtifactCache {
        ArtifactCache {
            dir: cache_dir.join("artifacts"),
            index: OnceLock::new(),
            writer: Mutex::new(None),
            legacy_dirs: Mutex::default(),
        }
    }

    fn index(&self) -> &Mutex<Index> {
        self.index
            .get_or_init(|| Mutex::new(Index::open(&self.dir)))
    }

    /// The cached artifact with this SHA-256 (hex), checked against it; the legacy file
    /// `<ecosystem>/<file name>` is tried when no pack has it. Blocking.
    pub fn get(&self, sha256: &str, eco: &str, filename: &str) -> Option<Vec<u8>> {
        let key = digest_bytes(sha256)?;
        let found = self.index().lock().expect("artifact index").find(&key);
        let bytes = match found {
            Some((pack, slot)) => read_at(&self.dir.join(pack), slot.offset, slot.len),
            None => self.legacy(eco, filename),
        }?;
        (sha2::Sha256::digest(&bytes).as_slice() == key).then_some(bytes)
    }

    fn legacy(&self, eco: &str, filename: &str) -> Option<Vec<u8>> {
        let dir = self.dir.join(eco);
        // Most caches have none: one look at the directory, not one per artifact.
        let exists = *self
            .legacy_dirs
            .lock()
            .expect("legacy dirs")
            .entry(eco.to_string())
            .or_insert_with(|| dir.is_dir());
        if !exists {
            return None;
        }
        std::fs::read(dir.join(safe_name(filename))).ok()
    }

    /// Keep an artifact whose SHA-256 (hex) is `sha256`: appended to this run's pack.
    /// Blocking.
    pub fn put(&self, sha256: &str, bytes: &[u8]) -> std::io::Result<()> {
        let Some(key) = digest_bytes(sha256) else {
            return Ok(());
        };
        let mut w = self.writer.lock().expect("artifact pack");
        if w.is_none() {
            *w = Some(self.open_pack()?);
        }
        let writer = w.as_mut().expect("opened");
        let mut header = Vec::with_capacity(HEADER as usize);
        header.extend_from_slice(MAGIC);
        header.extend_from_slice(&key);
        header.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        let at = writer.end;
        let written = writer
            .file
            .write_all(&header)
            .and_then(|()| writer.file.write_all(bytes));
        if let Err(e) = written {
            // Whatever part of the record reached the file ends this pack's scan; later
            // artifacts of the run go to a new pack.
            *w = None;
            return Err(e);
        }
        writer.end = at + HEADER + bytes.len() as u64;
        let slot = Slot {
            pack: writer.pack,
            offset: at + HEADER,
            len: bytes.len() as u64,
        };
        // Still holding the pack: the index learns the records in the order they are in it,
        // so how far a pack is indexed never passes a record the index lacks.
        self.index().lock().expect("artifact index").add(key, slot);
        Ok(())
    }

    fn open_pack(&self) -> std::io::Result<Writer> {
        std::fs::create_dir_all(&self.dir)?;
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let name = format!("pack-{stamp}-{}.pack", std::process::id());
        let file = std::fs::OpenOptions::new()
            .append(true)
            .create_new(true)
            .open(self.dir.join(&name))?;
        let pack = self.index().lock().expect("artifact index").pack_id(&name);
        Ok(Writer { file, pack, end: 0 })
    }
}

impl Drop for ArtifactCache {
    fn drop(&mut self) {
        if let Some(index) = self.index.get() {
            index.lock().expect("artifact index").flush();
        }
    }
}

impl Index {
    /// `dir`'s index, brought up to date with its packs; one in memory when the file cannot
    /// be used.
    fn open(dir: &Path) -> Index {
        let file = dir.join("index.db");
        let on_disk = std::fs::create_dir_all(dir)
            .map_err(|e| e.to_string())
            .and_then(|()| Index::open_file(&file).map_err(|e| e.to_string()));
        let index = on_disk.and_then(|i| i.catch_up(dir).map(|()| i).map_err(|e| e.to_string()));
        let e = match index {
            Ok(index) => return index,
            Err(e) => e,
        };
        tracing::debug!(
            "artifact index {} not usable ({e}): indexing the packs in memory",
            file.display()
        );
        let in_memory = Connection::open_in_memory().and_then(Index::prepare);
        match in_memory.and_then(|i| i.catch_up(dir).map(|()| i)) {
            Ok(index) => index,
            // Not even SQLite in memory: an index that finds nothing and keeps nothing, never
            // a failed run.
            Err(e) => {
                tracing::debug!("artifact index in memory failed too ({e})");
                Index {
                    db: None,
                    pending: Vec::new(),
                }
            }
        }
    }

    fn open_file(path: &Path) -> rusqlite::Result<Index> {
        let db = Connection::open(path)?;
        db.busy_timeout(std::time::Duration::from_secs(30))?;
        db.pragma_update(None, "journal_mode", "WAL")?;
        let version: i64 = db.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version != INDEX_VERSION && version != 0 {
            // Another layout: what it says is rebuilt from the packs.
            db.execute_batch("DROP TABLE IF EXISTS artifacts; DROP TABLE IF EXISTS packs;")?;
        }
        Index::prepare(db)
    }

    fn prepare(db: Connection) -> rusqlite::Result<Index> {
        // A cache: losing the last batches to a power cut costs downloads, never a wrong
        // artifact (every read is checked against its digest).
        db.pragma_update(None, "synchronous", "NORMAL")?;
        db.pragma_update(None, "cache_size", -1024)?;
        db.execute_batch(
            "CREATE TABLE IF NOT EXISTS packs (
                 id INTEGER PRIMARY KEY,
                 name TEXT NOT NULL UNIQUE,
                 indexed_to INTEGER NOT NULL
             );
             CREATE TABLE IF NOT EXISTS artifacts (
                 sha256 BLOB PRIMARY KEY,
                 pack INTEGER NOT NULL,
                 offset INTEGER NOT NULL,
                 len INTEGER NOT NULL
             ) WITHOUT ROWID;",
        )?;
        db.pragma_update(None, "user_version", INDEX_VERSION)?;
        Ok(Index {
            db: Some(db),
            pending: Vec::new(),
        })
    }

    /// Index what the packs hold past what the index knows of them, and forget packs that
    /// are gone.
    fn catch_up(&self, dir: &Path) -> rusqlite::Result<()> {
        let Some(db) = &self.db else {
            return Ok(());
        };
        // The directory is read holding the index's write lock: a pack another run creates
        // is on disk before it asks for its row, so no row is taken for a pack that is gone.
        let tx = Transaction::new_unchecked(db, TransactionBehavior::Immediate)?;
        let mut on_disk: Vec<(String, u64)> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let is_pack = name.starts_with("pack-") && name.ends_with(".pack");
                Some((name, e.metadata().ok()?.len())).filter(|_| is_pack)
            })
            .collect();
        on_disk.sort();
        let known: HashMap<String, (i64, u64)> = tx
            .prepare("SELECT id, name, indexed_to FROM packs")?
            .query_map([], |r| Ok((r.get(1)?, (r.get(0)?, r.get(2)?))))?
            .collect::<rusqlite::Result<_>>()?;
        for (name, (id, _)) in &known {
            if on_disk.binary_search_by(|(n, _)| n.cmp(name)).is_err() {
                tx.execute("DELETE FROM artifacts WHERE pack = ?1", [id])?;
                tx.execute("DELETE FROM packs WHERE id = ?1", [id])?;
            }
        }
        for (name, size) in &on_disk {
            let (id, mut from) = match known.get(name) {
                Some(&(id, to)) => (id, to),
                None => {
                    tx.execute(
                        "INSERT INTO packs (name, indexed_to) VALUES (?1, 0)",
                        [name],
                    )?;
                    (tx.last_insert_rowid(), 0)
                }
            };
            if *size < from {
                // Shorter than indexed: not the pack the index describes.
                tx.execute("DELETE FROM artifacts WHERE pack = ?1", [id])?;
                from = 0;
            }
            if *size == from {
                continue;
            }
            let mut insert = tx.prepare_cached(
                "INSERT OR REPLACE INTO artifacts (sha256, pack, offset, len) VALUES (?1, ?2, ?3, ?4)",
            )?;
            let mut failed = None;
            let end = scan_pack(&dir.join(name), from, |key, offset, len| {
                if failed.is_none() {
                    if let Err(e) = insert.execute(params![&key[..], id, offset as i64, len as i64])
                    {
                        failed = Some(e);
                    }
                }
            });
            if let Some(e) = failed {
                return Err(e);
            }
            tx.execute(
                "UPDATE packs SET indexed_to = MAX(indexed_to, ?2) WHERE id = ?1",
                params![id, end as i64],
            )?;
        }
        tx.commit()
    }

    /// The pack file and record with this digest.
    fn find(&self, key: &[u8; 32]) -> Option<(String, Slot)> {
        let db = self.db.as_ref()?;
        let slot = match self.pending.iter().rev().find(|(k, _)| k == key) {
            Some(&(_, slot)) => slot,
            None => db
                .prepare_cached("SELECT pack, offset, len FROM artifacts WHERE sha256 = ?1")
                .and_then(|mut q| {
                    q.query_row([&key[..]], |r| {
                        Ok(Slot {
                            pack: r.get(0)?,
                            offset: r.get::<_, i64>(1)? as u64,
                            len: r.get::<_, i64>(2)? as u64,
                        })
                    })
                    .optional()
                })
                .ok()
                .flatten()?,
        };
        let name = db
            .prepare_cached("SELECT name FROM packs WHERE id = ?1")
            .and_then(|mut q| q.query_row([slot.pack], |r| r.get(0)).optional())
            .ok()
            .flatten()?;
        Some((name, slot))
    }

    /// The index's row for this run's new pack (another run's catch-up may have made it).
    fn pack_id(&self, name: &str) -> i64 {
        let Some(db) = &self.db else {
            return -1;
        };
        db.execute(
            "INSERT OR IGNORE INTO packs (name, indexed_to) VALUES (?1, 0)",
            [name],
        )
        .and_then(|_| db.query_row("SELECT id FROM packs WHERE name = ?1", [name], |r| r.get(0)))
        // Its records stay out of the index; a later run finds them in the pack.
        .unwrap_or(-1)
    }

    /// One record of this run's pack, written to the index with its batch.
    fn add(&mut self, key: [u8; 32], slot: Slot) {
        if slot.pack < 0 {
            // A pack the index could not take: a later run finds its records in it.
            return;
        }
        self.pending.push((key, slot));
        if self.pending.len() >= BATCH {
            self.flush();
        }
    }

    /// This run's records into the index, with how far their packs are indexed now. A batch
    /// that cannot be written is left to a later run's scan of the pack.
    fn flush(&mut self) {
        let Some(db) = self.db.as_ref().filter(|_| !self.pending.is_empty()) else {
            return;
        };
        let written = (|| -> rusqlite::Result<()> {
            let tx = Transaction::new_unchecked(db, TransactionBehavior::Immediate)?;
            {
                let mut insert = tx.prepare_cached(
                    "INSERT OR REPLACE INTO artifacts (sha256, pack, offset, len) VALUES (?1, ?2, ?3, ?4)",
                )?;
                let mut indexed = tx.prepare_cached(
                    "UPDATE packs SET indexed_to = MAX(indexed_to, ?2) WHERE id = ?1",
                )?;
                for (key, s) in &self.pending {
                    insert.execute(params![&key[..], s.pack, s.offset as i64, s.len as i64])?;
                    indexed.execute(params![s.pack, (s.offset + s.len) as i64])?;
                }
            }
            tx.commit()
        })();
        if let Err(e) = written {
            tracing::debug!(
                "artifact index: a batch not written ({e}); a later run reads it from the pack"
            );
        }
        self.pending.clear();
    }
}

/// The file name an artifact had in the legacy layout.
fn safe_name(filename: &str) -> String {
    filename
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-+".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn digest_bytes(hex_digest: &str) -> Option<[u8; 32]> {
    let mut key = [0u8; 32];
    hex::decode_to_slice(hex_digest.to_ascii_lowercase(), &mut key).ok()?;
    Some(key)
}

fn read_at(pack: &Path, offset: u64, len: u64) -> Option<Vec<u8>> {
    let file = File::open(pack).ok()?;
    let mut bytes = vec![0u8; usize::try_from(len).ok()?];
    file.read_exact_at(&mut bytes, offset).ok()?;
    Some(bytes)
}

/// Every complete record of the pack from `from` (a record's start) on, handed to `record` as
/// digest, offset of the bytes and length; where the complete records end.
fn scan_pack(path: &Path, from: u64, mut record: impl FnMut([u8; 32], u64, u64)) -> u64 {
    let Ok(file) = File::open(path) else {
        return from;
    };
    let size = file.metadata().map_or(0, |m| m.len());
    let mut r = BufReader::with_capacity(HEADER as usize, file);
    let mut at = from;
    if r.seek(SeekFrom::Start(at)).is_err() {
        return from;
    }
    let mut header = [0u8; HEADER as usize];
    while at + HEADER <= size && r.read_exact(&mut header).is_ok() {
        let len = u64::from_le_bytes(header[36..44].try_into().expect("8 bytes"));
        let end = at.saturating_add(HEADER).saturating_add(len);
        if &header[..4] != MAGIC || end > size {
            break;
        }
        record(
            header[4..36].try_into().expect("32 bytes"),
            at + HEADER,
            len,
        );
        if r.seek(SeekFrom::Start(end)).is_err() {
            break;
        }
        at = end;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha(b: &[u8]) -> String {
        hex::encode(sha2::Sha256::digest(b))
    }

    fn packs(cache: &Path) -> Vec<PathBuf> {
        let mut packs: Vec<PathBuf> = std::fs::read_dir(cache.join("artifacts"))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "pack"))
            .collect();
        packs.sort();
        packs
    }

    /// The records the index file holds, read as another process would.
    fn indexed(cache: &Path) -> i64 {
        let db = Connection::open(cache.join("artifacts/index.db")).unwrap();
        db.query_row("SELECT count(*) FROM artifacts", [], |r| r.get(0))
            .unwrap()
    }

    /// Every one of `all` is found in `cache`, whole.
    fn finds_all(cache: &ArtifactCache, all: &[Vec<u8>]) {
        for a in all {
            assert_eq!(cache.get(&sha(a), "crates", "x").as_ref(), Some(a));
        }
    }

    fn artifacts(n: usize) -> Vec<Vec<u8>> {
        (0..n)
            .map(|i| format!("artifact {i}").into_bytes())
            .collect()
    }

    #[test]
    fn a_run_holds_one_batch_and_the_index_file_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let all = artifacts(5 * BATCH + 3);
        let run = ArtifactCache::new(dir.path());
        for (i, a) in all.iter().enumerate() {
            run.put(&sha(a), a).unwrap();
            let pending = run.index().lock().unwrap().pending.len();
            assert!(pending < BATCH, "{pending} records held after {}", i + 1);
        }
        assert_eq!(indexed(dir.path()), 5 * BATCH as i64);
        // Its own records are found whether in the file or still held.
        finds_all(&run, &all);
        drop(run);
        assert_eq!(
            indexed(dir.path()),
            all.len() as i64,
            "the last batch at the end"
        );
        // A later run finds them in the index file, not by reading the pack's headers: with
        // those made unreadable in place (same length), every record is still served.
        let pack = packs(dir.path()).remove(0);
        let mut bytes = std::fs::read(&pack).unwrap();
        bytes[..4].copy_from_slice(b"XXXX");
        std::fs::write(&pack, &bytes).unwrap();
        let next = ArtifactCache::new(dir.path());
        finds_all(&next, &all);
    }

    #[test]
    fn what_a_killed_run_or_an_older_provero_left_unindexed_is_read_from_its_pack() {
        let dir = tempfile::tempdir().unwrap();
        let all = artifacts(BATCH + 5);
        let killed = ArtifactCache::new(dir.path());
        for a in &all {
            killed.put(&sha(a), a).unwrap();
        }
        // Killed: its last batch never reaches the index.
        std::mem::forget(killed);
        assert_eq!(indexed(dir.path()), BATCH as i64);
        let next = ArtifactCache::new(dir.path());
        finds_all(&next, &all);
        drop(next);
        assert_eq!(indexed(dir.path()), all.len() as i64);
        // Packs written before the index existed: no index file at all.
        for f in ["index.db", "index.db-wal", "index.db-shm"] {
            let _ = std::fs::remove_file(dir.path().join("artifacts").join(f));
        }
        let older = ArtifactCache::new(dir.path());
        finds_all(&older, &all);
    }

    #[test]
    fn a_removed_pack_leaves_the_index_and_its_artifacts_are_kept_again() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (b"in the first pack".to_vec(), b"in the second".to_vec());
        drop({
            let run = ArtifactCache::new(dir.path());
            run.put(&sha(&a), &a).unwrap();
            run
        });
        drop({
            let run = ArtifactCache::new(dir.path());
            run.put(&sha(&b), &b).unwrap();
            run
        });
        std::fs::remove_file(&packs(dir.path())[0]).unwrap();
        let next = ArtifactCache::new(dir.path());
        assert_eq!(next.get(&sha(&a), "crates", "x"), None);
        assert_eq!(next.get(&sha(&b), "crates", "x"), Some(b.clone()));
        assert_eq!(indexed(dir.path()), 1, "the removed pack's record is gone");
        next.put(&sha(&a), &a).unwrap();
        drop(next);
        let last = ArtifactCache::new(dir.path());
        assert_eq!(last.get(&sha(&a), "crates", "x"), Some(a));
    }

    #[test]
    fn an_index_that_cannot_be_opened_is_rebuilt_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let a = b"kept before the index broke".to_vec();
        drop({
            let run = ArtifactCache::new(dir.path());
            run.put(&sha(&a), &a).unwrap();
            run
        });
        // Garbage where the index was.
        let index = dir.path().join("artifacts/index.db");
        for f in ["index.db-wal", "index.db-shm"] {
            let _ = std::fs::remove_file(dir.path().join("artifacts").join(f));
        }
        std::fs::write(&index, vec![0xA5u8; 8192]).unwrap();
        let run = ArtifactCache::new(dir.path());
        assert_eq!(run.get(&sha(&a), "crates", "x"), Some(a.clone()));
        let b = b"kept after".to_vec();
        run.put(&sha(&b), &b).unwrap();
        assert_eq!(run.get(&sha(&b), "crates", "x"), Some(b));
    }

    #[test]
    fn a_later_run_reads_what_an_earlier_one_kept() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (b"first artifact".to_vec(), vec![7u8; 100_000]);
        {
            let run = ArtifactCache::new(dir.path());
            assert_eq!(run.get(&sha(&a), "crates", "a.crate"), None);
            run.put(&sha(&a), &a).unwrap();
            run.put(&sha(&b), &b).unwrap();
            // The run's own pack serves it too.
            assert_eq!(run.get(&sha(&b), "crates", "b.crate"), Some(b.clone()));
        }
        let next = ArtifactCache::new(dir.path());
        assert_eq!(next.get(&sha(&a), "crates", "x"), Some(a.clone()));
        assert_eq!(
            next.get(&sha(&b).to_uppercase(), "crates", "x"),
            Some(b.clone())
        );
        let c = b"third".to_vec();
        next.put(&sha(&c), &c).unwrap();
        assert_eq!(
            packs(dir.path()).len(),
            2,
            "one pack per run that kept something"
        );
        let third = ArtifactCache::new(dir.path());
        for x in [&a, &b, &c] {
            assert_eq!(third.get(&sha(x), "crates", "x").as_ref(), Some(x));
        }
    }

    #[test]
    fn a_cut_record_is_ignored_and_a_damaged_one_fails_its_digest() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (b"kept whole".to_vec(), b"cut short by a kill".to_vec());
        {
            let run = ArtifactCache::new(dir.path());
            run.put(&sha(&a), &a).unwrap();
            run.put(&sha(&b), &b).unwrap();
        }
        let pack = packs(dir.path()).remove(0);
        let mut bytes = std::fs::read(&pack).unwrap();
        bytes.truncate(bytes.len() - 3);
        // One flipped byte inside the first record's content.
        bytes[HEADER as usize + 2] ^= 1;
        std::fs::write(&pack, &bytes).unwrap();
        let next = ArtifactCache::new(dir.path());
        assert_eq!(next.get(&sha(&a), "crates", "a.crate"), None);
        assert_eq!(next.get(&sha(&b), "crates", "b.crate"), None);
    }

    #[test]
    fn the_legacy_file_per_artifact_is_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let a = b"cached by an older provero".to_vec();
        std::fs::create_dir_all(dir.path().join("artifacts/crates")).unwrap();
        std::fs::write(dir.path().join("artifacts/crates/old_1.0.0.crate"), &a).unwrap();
        let run = ArtifactCache::new(dir.path());
        assert_eq!(run.get(&sha(&a), "crates", "old@1.0.0.crate"), Some(a));
        assert_eq!(run.get(&sha(b"other"), "crates", "old@1.0.0.crate"), None);
    }
}

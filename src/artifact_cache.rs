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
//! downloaded again. The index (digest → where) is built from the packs' headers on the first
//! look-up of a run, so a run that downloads nothing reads none of it. Emptying the cache is
//! removing `<cache>/artifacts/`, as before.
//!
//! Artifacts cached by earlier versions (`<cache>/artifacts/<ecosystem>/<file name>`) are
//! still read.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use sha2::Digest as _;

const MAGIC: &[u8; 4] = b"PVA1";
const HEADER: u64 = 4 + 32 + 8;

/// Where one cached artifact is.
#[derive(Clone, Copy)]
struct Slot {
    pack: u32,
    offset: u64,
    len: u64,
}

#[derive(Default)]
struct Index {
    packs: Vec<PathBuf>,
    slots: HashMap<[u8; 32], Slot>,
}

/// The pack this run appends to, opened on the first artifact it keeps.
struct Writer {
    file: File,
    pack: u32,
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
        self.index.get_or_init(|| Mutex::new(scan(&self.dir)))
    }

    /// The cached artifact with this SHA-256 (hex), checked against it; the legacy file
    /// `<ecosystem>/<file name>` is tried when no pack has it. Blocking.
    pub fn get(&self, sha256: &str, eco: &str, filename: &str) -> Option<Vec<u8>> {
        let key = digest_bytes(sha256)?;
        let found = {
            let index = self.index().lock().expect("artifact index");
            index
                .slots
                .get(&key)
                .map(|s| (index.packs[s.pack as usize].clone(), *s))
        };
        let bytes = match found {
            Some((pack, slot)) => read_at(&pack, slot.offset, slot.len),
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
        drop(w);
        self.index()
            .lock()
            .expect("artifact index")
            .slots
            .insert(key, slot);
        Ok(())
    }

    fn open_pack(&self) -> std::io::Result<Writer> {
        std::fs::create_dir_all(&self.dir)?;
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let path = self
            .dir
            .join(format!("pack-{stamp}-{}.pack", std::process::id()));
        let file = std::fs::OpenOptions::new()
            .append(true)
            .create_new(true)
            .open(&path)?;
        let mut index = self.index().lock().expect("artifact index");
        index.packs.push(path);
        Ok(Writer {
            file,
            pack: (index.packs.len() - 1) as u32,
            end: 0,
        })
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

/// Every complete record of every pack in `dir`.
fn scan(dir: &Path) -> Index {
    let mut index = Index::default();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return index;
    };
    let mut packs: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|x| x == "pack")
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("pack-"))
        })
        .collect();
    packs.sort();
    for path in packs {
        let pack = index.packs.len() as u32;
        let Ok(file) = File::open(&path) else {
            continue;
        };
        let size = file.metadata().map_or(0, |m| m.len());
        let mut r = BufReader::with_capacity(HEADER as usize, file);
        let mut at = 0u64;
        let mut header = [0u8; HEADER as usize];
        while at + HEADER <= size && r.read_exact(&mut header).is_ok() {
            let len = u64::from_le_bytes(header[36..44].try_into().expect("8 bytes"));
            let end = at.saturating_add(HEADER).saturating_add(len);
            if &header[..4] != MAGIC || end > size {
                break;
            }
            let key: [u8; 32] = header[4..36].try_into().expect("32 bytes");
            index.slots.insert(
                key,
                Slot {
                    pack,
                    offset: at + HEADER,
                    len,
                },
            );
            if r.seek(SeekFrom::Start(end)).is_err() {
                break;
            }
            at = end;
        }
        index.packs.push(path);
    }
    index
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha(b: &[u8]) -> String {
        hex::encode(sha2::Sha256::digest(b))
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
        let packs = std::fs::read_dir(dir.path().join("artifacts"))
            .unwrap()
            .count();
        assert_eq!(packs, 2, "one pack per run that kept something");
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
        let pack = std::fs::read_dir(dir.path().join("artifacts"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
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

//! `provero cache prune`: keep a cache directory under a size. A nightly run over a registry
//! adds a pack of artifacts and new clones every night and never needs most of them again
//! (a re-run decides from the store and the index files); nothing else removes them.
//!
//! What can go, least recently used first: artifact packs (`artifacts/pack-*.pack`, by when
//! they were written), artifacts of older versions (`artifacts/<ecosystem>/<file>`), git
//! clones (`git/*.git`, by when a run last opened them: [`mark_used`]), rebuild generators
//! (`generators/*`) and what a killed rebuild left (`rebuild/*`). What never goes: the results store (`results.db`) and the artifact index
//! (`artifacts/index.db`, which drops a removed pack on its next open). Anything removed is
//! fetched again by the run that needs it: pruning costs time, never a different verdict.
//!
//! A run holds a shared lock on `<cache>/.in-use` from start to end ([`hold_in_use`]); prune
//! takes it exclusively, so it never removes what a running verify is reading, and refuses,
//! naming the directory, while one runs.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use fs4::fs_std::FileExt;

/// The lock file every run of `provero verify` holds shared.
const IN_USE: &str = ".in-use";

/// Hold `cache`'s in-use lock shared until the file is dropped (the run's whole length).
/// `None` when the cache cannot hold the file (read-only): then nothing can prune it either.
pub fn hold_in_use(cache: &Path) -> Option<File> {
    std::fs::create_dir_all(cache).ok()?;
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(cache.join(IN_USE))
        .ok()?;
    FileExt::lock_shared(&f).ok()?;
    Some(f)
}

/// Record that a run used the clone at `dir` now (its directory's modification time), so a
/// prune removes the clones used longest ago first.
pub fn mark_used(dir: &Path) {
    if let Ok(f) = File::open(dir) {
        let _ = f.set_modified(SystemTime::now());
    }
}

/// What a cache entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Pack,
    Artifact,
    Clone,
    Generator,
    /// A rebuild's work tree a killed run left (`rebuild/*`: a finished rebuild removes its own).
    Leftover,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Pack => "artifact pack",
            Kind::Artifact => "artifact",
            Kind::Clone => "git clone",
            Kind::Generator => "rebuild generator",
            Kind::Leftover => "rebuild leftover",
        }
    }
}

/// One thing prune may remove.
#[derive(Debug, Clone)]
pub struct Entry {
    pub path: PathBuf,
    pub kind: Kind,
    pub bytes: u64,
    pub used: SystemTime,
}

/// What a prune found and did.
#[derive(Debug, Default)]
pub struct Pruned {
    /// Bytes in the cache before, everything counted.
    pub before: u64,
    /// Bytes after (what it would be, for a dry run).
    pub after: u64,
    /// Of `after`, what prune never removes (the store, the index, files it does not know).
    pub kept_always: u64,
    /// Removed (or to be removed), oldest first.
    pub removed: Vec<Entry>,
}

/// Bytes of every file under `p` (a file: its length). Links are not followed.
fn size(p: &Path) -> u64 {
    let Ok(m) = std::fs::symlink_metadata(p) else {
        return 0;
    };
    if !m.is_dir() {
        return m.len();
    }
    std::fs::read_dir(p)
        .map(|rd| rd.flatten().map(|e| size(&e.path())).sum())
        .unwrap_or(0)
}

fn modified(p: &Path) -> SystemTime {
    std::fs::symlink_metadata(p)
        .and_then(|m| m.modified())
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

/// A directory itself, not a link to one (prune never follows a link out of the cache).
fn is_dir(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok_and(|m| m.is_dir())
}

fn children(p: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(p)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    out.sort();
    out
}

/// Everything prune may remove in `cache`.
pub fn entries(cache: &Path) -> Vec<Entry> {
    let mut out = Vec::new();
    let mut add = |path: PathBuf, kind: Kind| {
        out.push(Entry {
            bytes: size(&path),
            used: modified(&path),
            kind,
            path,
        })
    };
    for p in children(&cache.join("artifacts")) {
        let name = p
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        if is_dir(&p) {
            for f in children(&p) {
                add(f, Kind::Artifact);
            }
        } else if name.starts_with("pack-") && name.ends_with(".pack") {
            add(p, Kind::Pack);
        }
    }
    for p in children(&cache.join("git")) {
        if is_dir(&p) && p.extension().is_some_and(|e| e == "git") {
            add(p, Kind::Clone);
        }
    }
    for p in children(&cache.join("generators")) {
        add(p, Kind::Generator);
    }
    for p in children(&cache.join("rebuild")) {
        add(p, Kind::Leftover);
    }
    out
}

fn remove(e: &Entry) -> std::io::Result<()> {
    if e.kind == Kind::Clone {
        // Its lock file goes with it (a clone made again makes a new one).
        let _ = std::fs::remove_file(e.path.with_extension("lock"));
    }
    match std::fs::symlink_metadata(&e.path) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(&e.path),
        Ok(_) => std::fs::remove_file(&e.path),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(err),
    }
}

/// Remove the least recently used entries of `cache` until it holds at most `max_bytes` (or
/// only what is never removed). `dry_run`: say what would go, remove nothing.
pub fn prune(cache: &Path, max_bytes: u64, dry_run: bool) -> anyhow::Result<Pruned> {
    if !cache.is_dir() {
        anyhow::bail!("no cache directory at {}", cache.display());
    }
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(cache.join(IN_USE))
        .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", cache.join(IN_USE).display()))?;
    // A lock held a moment by a process just forked from one that had the file open (before
    // its exec closes it) is not a run: try for a second before saying the cache is in use.
    let mut tries = 0;
    loop {
        match lock.try_lock_exclusive() {
            Ok(()) => break,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && tries < 10 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => anyhow::bail!(
                "a provero run is using the cache {} now; prune it once the run has finished",
                cache.display()
            ),
            Err(e) => anyhow::bail!("cannot lock {}: {e}", cache.join(IN_USE).display()),
        }
    }
    let mut entries = entries(cache);
    let before = size(cache);
    let removable: u64 = entries.iter().map(|e| e.bytes).sum();
    let kept_always = before.saturating_sub(removable);
    // Oldest first; the path breaks ties so two prunes agree.
    entries.sort_by(|a, b| a.used.cmp(&b.used).then_with(|| a.path.cmp(&b.path)));
    let mut now = before;
    let mut removed = Vec::new();
    for e in entries {
        if now <= max_bytes {
            break;
        }
        if !dry_run {
            remove(&e)
                .map_err(|err| anyhow::anyhow!("cannot remove {}: {err}", e.path.display()))?;
        }
        now -= e.bytes.min(now);
        removed.push(e);
    }
    Ok(Pruned {
        before,
        after: now,
        kept_always,
        removed,
    })
}

/// A size as a user writes it: bytes, or with K, M, G, T (powers of 1024; `B`, `iB` allowed).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let upper = t.to_ascii_uppercase();
    let digits = upper.trim_end_matches(['B', 'I']);
    let (num, shift) = match digits.chars().last() {
        Some('K') => (&digits[..digits.len() - 1], 10),
        Some('M') => (&digits[..digits.len() - 1], 20),
        Some('G') => (&digits[..digits.len() - 1], 30),
        Some('T') => (&digits[..digits.len() - 1], 40),
        _ => (digits, 0),
    };
    let bad = || format!("`{s}` is not a size: a number of bytes, or with K, M, G or T (e.g. 50G)");
    let n: f64 = num.trim().parse().map_err(|_| bad())?;
    if !n.is_finite() || n < 0.0 {
        return Err(bad());
    }
    Ok((n * (1u64 << shift) as f64) as u64)
}

/// Bytes for people: `3.2 GiB`.
pub fn human_size(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn file(p: &Path, bytes: usize, age_days: u64) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, vec![7u8; bytes]).unwrap();
        age(p, age_days);
    }

    fn age(p: &Path, days: u64) {
        let t = SystemTime::now() - Duration::from_secs(days * 86_400);
        File::open(p).unwrap().set_modified(t).unwrap();
    }

    /// A cache with the store, the index, two packs, an old-style artifact and two clones.
    fn cache() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        let c = d.path();
        file(&c.join("results.db"), 1000, 30);
        file(&c.join("artifacts/index.db"), 100, 30);
        file(&c.join("artifacts/pack-1-1.pack"), 5000, 10);
        file(&c.join("artifacts/pack-2-2.pack"), 5000, 2);
        file(&c.join("artifacts/crates/old-1.0.0.crate"), 300, 20);
        file(&c.join("rebuild/123-abc/src/lib.rs"), 0, 40);
        age(&c.join("rebuild/123-abc"), 40);
        for (name, days) in [("a-1.git", 5), ("b-2.git", 1)] {
            let dir = c.join("git").join(name);
            file(&dir.join("objects/pack/p.pack"), 2000, days);
            age(&dir, days);
        }
        d
    }

    #[test]
    fn the_oldest_go_first_until_the_cache_fits_and_the_store_stays() {
        let d = cache();
        let c = d.path();
        // 1000 + 100 + 10000 + 300 + 4000 = 15,400 bytes.
        let dry = prune(c, 9000, true).unwrap();
        assert_eq!(dry.before, 15_400);
        let names: Vec<String> = dry
            .removed
            .iter()
            .map(|e| e.path.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        // The old-style artifact (20 days), the older pack (10 days): 15,400 - 5,300 = 10,100
        // still over; then the clone used 5 days ago: 8,100.
        assert_eq!(
            names,
            ["123-abc", "old-1.0.0.crate", "pack-1-1.pack", "a-1.git"]
        );
        assert_eq!(dry.after, 8_100);
        assert!(
            c.join("artifacts/pack-1-1.pack").exists(),
            "a dry run removes nothing"
        );
        let done = prune(c, 9000, false).unwrap();
        assert_eq!(done.after, 8_100);
        assert_eq!(size(c), 8_100);
        assert!(!c.join("git/a-1.git").exists() && c.join("git/b-2.git").exists());
        assert!(c.join("results.db").exists() && c.join("artifacts/index.db").exists());
        // Nothing left to remove but what always stays.
        let all = prune(c, 0, false).unwrap();
        assert_eq!(all.after, 1_100);
        assert_eq!(all.kept_always, 1_100);
        assert_eq!(size(c), 1_100);
    }

    #[test]
    fn a_clone_a_run_opened_is_kept_over_an_older_pack() {
        let d = cache();
        let c = d.path();
        mark_used(&c.join("git/a-1.git"));
        // Unmarked, the clone (5 days) would go before the newer pack (2 days).
        let p = prune(c, 6_000, true).unwrap();
        let removed: Vec<Kind> = p.removed.iter().map(|e| e.kind).collect();
        assert_eq!(
            removed,
            [Kind::Leftover, Kind::Artifact, Kind::Pack, Kind::Pack]
        );
    }

    #[test]
    fn a_link_out_of_the_cache_is_never_followed() {
        let d = cache();
        let outside = tempfile::tempdir().unwrap();
        file(&outside.path().join("precious.crate"), 100, 90);
        std::os::unix::fs::symlink(outside.path(), d.path().join("artifacts/pypi")).unwrap();
        std::os::unix::fs::symlink(outside.path(), d.path().join("git/c-3.git")).unwrap();
        prune(d.path(), 0, false).unwrap();
        assert!(outside.path().join("precious.crate").exists());
    }

    #[test]
    fn a_running_verify_keeps_prune_out() {
        let d = cache();
        let held = hold_in_use(d.path()).unwrap();
        let err = prune(d.path(), 0, false).unwrap_err().to_string();
        assert!(err.contains("a provero run is using the cache"), "{err}");
        assert_eq!(size(d.path()), 15_400);
        drop(held);
        assert!(prune(d.path(), 0, false).is_ok());
        assert!(prune(&d.path().join("absent"), 0, false).is_err());
    }

    #[test]
    fn sizes_read_and_print() {
        assert_eq!(parse_size("1024").unwrap(), 1024);
        assert_eq!(parse_size("50G").unwrap(), 50 << 30);
        assert_eq!(parse_size("1.5k").unwrap(), 1536);
        assert_eq!(parse_size("2MiB").unwrap(), 2 << 20);
        assert_eq!(parse_size(" 3 TB").unwrap(), 3 << 40);
        for bad in ["", "G", "-1G", "ten", "5X", "nanG"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(3 << 30), "3.0 GiB");
    }
}

//! The git layer: one bare partial clone (`--filter=blob:none`) per repository in the cache,
//! updated with a fetch only when something is missing. Commits and trees come down; blobs only
//! on demand (files that differ, symlinks). Nothing from the repository is ever executed: no
//! hooks, no checkout (so no filters), no submodule recursion, no credential prompts.
//!
//! - `cli.rs`: the git CLI for cloning and fetching (partial clone, promisor lazy fetch) and
//!   the whole-history `git log` walks.
//! - `local.rs`: a repository on this machine (a `--git-rewrite` mirror) cloned by hard links
//!   instead: no process, no byte copied; the transport where that cannot be exact.
//! - `read.rs`: everything else read in process with gitoxide: objects, trees, tags, commit
//!   existence, reachability.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha1::Digest as _;

mod cli;
pub mod hosts;
mod local;
mod read;
#[cfg(test)]
pub(crate) mod tests;

pub use read::{HistoryOrder, HistoryStep, ObjectKind, Objects};

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("could not run git: {0}")]
    Spawn(#[from] std::io::Error),
    /// A URL or commit provero will not fetch, or a failure this run already saw.
    #[error("{0}")]
    Refused(String),
    #[error("git {action} failed for {url}: {stderr}")]
    Failed {
        action: String,
        url: String,
        stderr: String,
    },
    /// Reading the clone in process failed (a corrupt or unreadable object or ref).
    #[error("could not read {what} in the clone of {url}: {error}")]
    Read {
        what: String,
        url: String,
        error: String,
    },
}

/// What a tree entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Blob,
    Tree,
    /// A submodule (gitlink).
    Commit,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub mode: u32,
    pub kind: Kind,
    pub oid: String,
}

impl Entry {
    pub fn is_symlink(&self) -> bool {
        self.mode == 0o120000
    }
}

/// Every path of a commit's tree (blobs, trees and gitlinks), as `git ls-tree -r -t` lists them.
#[derive(Debug, Default, Clone)]
pub struct Tree {
    pub entries: HashMap<String, Entry>,
}

impl Tree {
    pub fn get(&self, path: &str) -> Option<&Entry> {
        self.entries.get(path)
    }

    /// Paths of blobs whose file name is `name`, in any directory.
    pub fn find_named(&self, name: &str) -> Vec<&str> {
        let mut v: Vec<&str> = self
            .entries
            .iter()
            .filter(|(p, e)| {
                e.kind == Kind::Blob && (p.as_str() == name || p.ends_with(&format!("/{name}")))
            })
            .map(|(p, _)| p.as_str())
            .collect();
        v.sort_by_key(|p| (p.matches('/').count(), p.to_string()));
        v
    }
}

/// A cached bare partial clone.
#[derive(Debug, Clone)]
pub struct Repo {
    pub dir: PathBuf,
    /// The URL fetched from (after rewrites).
    pub url: String,
    /// The remote URL the metadata named, before rewrites: relative submodule URLs resolve
    /// against it, never against a local mirror's path.
    pub origin: String,
}

/// Where clones live: `<cache>/git/<host-path>-<hash>.git`.
pub fn clone_dir(cache_root: &Path, url: &str) -> PathBuf {
    let digest = hex::encode(sha1::Sha1::digest(url.as_bytes()));
    let readable: String = url
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_start_matches("file://")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .take(60)
        .collect();
    cache_root.join("git").join(format!(
        "{}-{}.git",
        readable.trim_matches('_'),
        &digest[..12]
    ))
}

/// Open the cached clone of `url`, cloning it (commits and trees only) when absent. Returns the
/// repo and whether it was cloned just now. Cross-process safe: a lock file guards the clone and
/// the clone is made in a temporary directory and renamed into place, so a killed run never
/// leaves a half-made clone behind.
pub fn open_or_clone(cache_root: &Path, url: &str) -> Result<(Repo, bool), GitError> {
    open_or_clone_as(cache_root, url, url, &[url.to_string()])
}

/// Like [`open_or_clone`] for a repository that may be spelled several ways: the clone is
/// cached under `key`, and `urls` are tried in order until one clones. `origin` is the remote
/// URL the metadata named (before rewrites).
pub fn open_or_clone_as(
    cache_root: &Path,
    key: &str,
    origin: &str,
    urls: &[String],
) -> Result<(Repo, bool), GitError> {
    let dir = clone_dir(cache_root, key);
    let first = urls.first().map(String::as_str).unwrap_or(key);
    let mut repo = Repo {
        dir: dir.clone(),
        url: first.to_string(),
        origin: origin.to_string(),
    };
    if dir.join("HEAD").exists() {
        crate::prune::mark_used(&dir);
        return Ok((repo, false));
    }
    let parent = dir.parent().expect("clone dir has a parent");
    std::fs::create_dir_all(parent)?;
    let _lock = lock(&dir)?;
    if dir.join("HEAD").exists() {
        return Ok((repo, false));
    }
    // Holding the lock, no other run is cloning here: what a killed run left is stale.
    cli::remove_stale_tmps(&dir);
    let tmp = dir.with_extension(format!("tmp{}", std::process::id()));
    let mut last = None;
    for url in urls {
        let _ = std::fs::remove_dir_all(&tmp);
        match cli::clone_into(url, &tmp) {
            Ok(()) => {
                std::fs::rename(&tmp, &dir)?;
                repo.url = url.clone();
                return Ok((repo, true));
            }
            Err(e) => {
                tracing::debug!("{e}");
                last = Some(e);
            }
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
    Err(last.unwrap_or_else(|| GitError::Failed {
        action: "clone".into(),
        url: key.to_string(),
        stderr: "no URL to clone".into(),
    }))
}

/// Remove what killed runs left in the cache: half-made clones (`<clone>.tmp<PID>`, whose
/// lock nobody holds any more). Called once at the start of a run.
pub fn sweep_stale(cache_root: &Path) {
    use fs4::fs_std::FileExt;
    let Ok(rd) = std::fs::read_dir(cache_root.join("git")) else {
        return;
    };
    let mut clones = std::collections::BTreeSet::new();
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some((stem, pid)) = name.rsplit_once(".tmp") {
            if !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()) {
                clones.insert(cache_root.join("git").join(format!("{stem}.git")));
            }
        }
    }
    for dir in clones {
        let Ok(f) = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.with_extension("lock"))
        else {
            continue;
        };
        // A run cloning this repository right now holds the lock: leave its directory alone.
        if f.try_lock_exclusive().is_ok() {
            cli::remove_stale_tmps(&dir);
            drop(f); // closing the file releases the lock
        }
    }
}

/// An exclusive advisory lock beside a clone directory, held while it is written.
pub fn lock(dir: &Path) -> Result<std::fs::File, GitError> {
    use fs4::fs_std::FileExt;
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.with_extension("lock"))?;
    f.lock_exclusive()?;
    Ok(f)
}

impl Repo {
    /// A git command on this clone, with the safe environment.
    pub fn cmd(&self) -> Command {
        cli::git_command(Some(&self.dir))
    }

    fn open(&self) -> Result<gix::Repository, GitError> {
        read::open(&self.dir, &self.url)
    }

    /// Close the handle kept open on this clone (its pack maps), until it is read again.
    pub fn close(&self) {
        read::forget(&self.dir);
    }

    /// Is the commit (a full or abbreviated id; an annotated tag's id is peeled) here, without
    /// asking the remote? Returns its full id in lower case.
    pub fn has_commit(&self, rev: &str) -> Option<String> {
        read::commit_id(&self.open().ok()?, rev)
    }

    /// Tags with the commit each points to (annotated tags peeled).
    pub fn tags(&self) -> Result<Vec<(String, String)>, GitError> {
        read::tags(&self.open()?, &self.url)
    }

    /// Every commit any branch or tag reaches.
    pub fn reachable_commits(&self) -> Result<std::collections::HashSet<String>, GitError> {
        read::reachable(&self.open()?, &self.url)
    }

    /// Every reachable commit with its parents, streamed to `each` (see [`read::parents`]).
    pub fn parents(&self, each: impl FnMut(&gix::oid, &[gix::ObjectId])) -> Result<(), GitError> {
        read::parents(&self.open()?, &self.url, each)
    }

    /// Every reachable commit, children first, each followed by the blobs it adds or changes
    /// (merges against their first parent, or not at all): see [`read::history`]. Streamed
    /// to `step`.
    pub fn history(
        &self,
        order: HistoryOrder,
        merges: bool,
        step: impl FnMut(HistoryStep<'_>),
    ) -> Result<(), GitError> {
        read::history(&self.open()?, &self.url, order, merges, step)
    }

    /// The whole tree of a commit: paths of blobs, trees and gitlinks.
    pub fn tree(&self, commit: &str) -> Result<Tree, GitError> {
        read::tree(&self.open()?, commit, &self.url)
    }

    /// A reader of this clone's objects that keeps its caches between reads: one per
    /// repository per run.
    pub fn objects(&self) -> Result<Objects, GitError> {
        Ok(Objects::new(self.open()?, &self.url))
    }

    /// Read blobs, fetching the missing ones from the remote in one round trip. What the
    /// fetch did not bring (a server that refuses blobs by id) goes through git's own lazy
    /// fetch; what that cannot bring either is an error, never an empty file.
    pub fn read_blobs(&self, oids: &[String]) -> Result<HashMap<String, Vec<u8>>, GitError> {
        let mut out = HashMap::new();
        if oids.is_empty() {
            return Ok(out);
        }
        let repo = self.open()?;
        let mut missing = Vec::new();
        for oid in oids {
            match read::object(&repo, oid, &self.url)? {
                Some((_, data)) => {
                    out.insert(oid.clone(), data);
                }
                None => missing.push(oid.clone()),
            }
        }
        if missing.is_empty() {
            return Ok(out);
        }
        self.fetch_objects(&missing)?;
        let mut still = Vec::new();
        for oid in missing {
            // The store sees the fetched pack: a miss makes it look for new packs.
            match read::object(&repo, &oid, &self.url)? {
                Some((_, data)) => {
                    out.insert(oid, data);
                }
                None => still.push(oid),
            }
        }
        if !still.is_empty() {
            out.extend(self.cat_file_batch(&still)?);
        }
        Ok(out)
    }

    pub fn read_blob(&self, oid: &str) -> Result<Vec<u8>, GitError> {
        let mut m = self.read_blobs(&[oid.to_string()])?;
        Ok(m.remove(oid).unwrap_or_default())
    }
}

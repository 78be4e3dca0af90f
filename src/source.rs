//! A view of the source tree at one commit: lookups that follow symlinks the way a packager
//! does (file links, directory links in the middle of a path, relative targets, loops bounded),
//! and blob reads that fetch contents on demand.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::git::{Entry, GitError, Kind, Repo, Tree};

/// The most symlinks one lookup follows before it is called a loop.
const MAX_HOPS: usize = 40;

/// Where a path of the source tree leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// A blob, after following links; `path` is where it really lives.
    Found { path: String, entry: Entry },
    /// A directory.
    Dir { path: String },
    /// Nothing there.
    Missing,
    /// Below a submodule (gitlink) at `at`, pointing to commit `commit`.
    InSubmodule {
        at: String,
        commit: String,
        rest: String,
    },
    /// A chain of links that loops, or leaves the repository.
    BadLink { reason: String },
}

pub struct SourceView<'a> {
    pub repo: &'a Repo,
    pub tree: &'a Tree,
    pub commit: String,
    /// The package directory inside the repository (`""` for the root), no trailing `/`.
    pub pkg_dir: String,
    /// Blobs read so far (link targets, manifests, differing files), by id.
    blobs: Mutex<HashMap<String, Arc<Vec<u8>>>>,
    /// Whether every symlink target of the tree was fetched (one round trip for all of them).
    links_loaded: Mutex<bool>,
}

impl<'a> SourceView<'a> {
    pub fn new(repo: &'a Repo, tree: &'a Tree, commit: &str, pkg_dir: &str) -> Self {
        SourceView {
            repo,
            tree,
            commit: commit.to_string(),
            pkg_dir: pkg_dir.trim_matches('/').to_string(),
            blobs: Mutex::new(HashMap::new()),
            links_loaded: Mutex::new(false),
        }
    }

    /// Path in the repository of a path relative to the package directory.
    pub fn in_pkg(&self, rel: &str) -> String {
        join(&self.pkg_dir, rel)
    }

    /// Read blobs into the cache, fetching all missing ones in one round trip.
    pub fn prefetch(&self, oids: &[String]) -> Result<(), GitError> {
        let missing: Vec<String> = {
            let cache = self.blobs.lock().expect("blob cache");
            let mut m: Vec<String> = oids
                .iter()
                .filter(|o| !cache.contains_key(*o))
                .cloned()
                .collect();
            m.sort();
            m.dedup();
            m
        };
        if missing.is_empty() {
            return Ok(());
        }
        let read = self.repo.read_blobs(&missing)?;
        let mut cache = self.blobs.lock().expect("blob cache");
        for (oid, data) in read {
            cache.insert(oid, Arc::new(data));
        }
        Ok(())
    }

    /// One blob's content (cached).
    pub fn blob(&self, oid: &str) -> Result<Arc<Vec<u8>>, GitError> {
        if let Some(b) = self.blobs.lock().expect("blob cache").get(oid) {
            return Ok(b.clone());
        }
        self.prefetch(&[oid.to_string()])?;
        Ok(self
            .blobs
            .lock()
            .expect("blob cache")
            .get(oid)
            .cloned()
            .unwrap_or_default())
    }

    fn link_target(&self, oid: &str) -> Result<String, GitError> {
        let load_all = {
            let mut loaded = self.links_loaded.lock().expect("links flag");
            !std::mem::replace(&mut *loaded, true)
        };
        if load_all {
            let links: Vec<String> = self
                .tree
                .entries
                .values()
                .filter(|e| e.is_symlink())
                .map(|e| e.oid.clone())
                .collect();
            self.prefetch(&links)?;
        }
        Ok(String::from_utf8_lossy(&self.blob(oid)?).into_owned())
    }

    /// Look up a repository path, following symlinks at every component.
    pub fn lookup(&self, path: &str) -> Result<Lookup, GitError> {
        let mut pending: Vec<String> = split(path);
        pending.reverse();
        let mut done: Vec<String> = Vec::new();
        let mut hops = 0;
        while let Some(comp) = pending.pop() {
            let candidate = join(&done.join("/"), &comp);
            let Some(entry) = self.tree.get(&candidate) else {
                return Ok(Lookup::Missing);
            };
            if entry.is_symlink() {
                hops += 1;
                if hops > MAX_HOPS {
                    return Ok(Lookup::BadLink {
                        reason: format!(
                            "more than {MAX_HOPS} symlinks resolving `{path}` (a loop?)"
                        ),
                    });
                }
                let target = self.link_target(&entry.oid)?;
                if target.starts_with('/') {
                    return Ok(Lookup::BadLink {
                        reason: format!("`{candidate}` links to the absolute path `{target}`"),
                    });
                }
                // Re-walk from the link's directory: target components, then the rest.
                let mut base = done.clone();
                let mut new_pending: Vec<String> = Vec::new();
                for t in target.split('/') {
                    match t {
                        "" | "." => {}
                        ".." => {
                            if !new_pending.is_empty() {
                                new_pending.pop();
                            } else if base.pop().is_none() {
                                return Ok(Lookup::BadLink {
                                    reason: format!(
                                        "`{candidate}` links to `{target}`, outside the repository"
                                    ),
                                });
                            }
                        }
                        c => new_pending.push(c.to_string()),
                    }
                }
                done = base;
                let rest: Vec<String> = pending.drain(..).rev().collect();
                let mut all = new_pending;
                all.extend(rest);
                all.reverse();
                pending = all;
                continue;
            }
            match entry.kind {
                Kind::Commit => {
                    let rest: Vec<String> = pending.iter().rev().cloned().collect();
                    return Ok(Lookup::InSubmodule {
                        at: candidate,
                        commit: entry.oid.clone(),
                        rest: rest.join("/"),
                    });
                }
                Kind::Blob if !pending.is_empty() => return Ok(Lookup::Missing),
                _ => {}
            }
            done.push(comp);
        }
        let path = done.join("/");
        if path.is_empty() {
            return Ok(Lookup::Dir { path });
        }
        match self.tree.get(&path) {
            Some(e) if e.kind == Kind::Blob => Ok(Lookup::Found {
                path,
                entry: e.clone(),
            }),
            Some(_) => Ok(Lookup::Dir { path }),
            None => Ok(Lookup::Missing),
        }
    }

    /// The content of a repository path, following links; `None` when it is not a file.
    pub fn read(&self, path: &str) -> Result<Option<Vec<u8>>, GitError> {
        match self.lookup(path)? {
            Lookup::Found { entry, .. } => Ok(Some(self.blob(&entry.oid)?.to_vec())),
            _ => Ok(None),
        }
    }

    /// A file relative to the package directory, as text.
    pub fn read_pkg_text(&self, rel: &str) -> Result<Option<String>, GitError> {
        Ok(self
            .read(&self.in_pkg(rel))?
            .map(|b| String::from_utf8_lossy(&b).into_owned()))
    }
}

pub fn split(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .map(str::to_string)
        .collect()
}

pub fn join(dir: &str, rel: &str) -> String {
    let dir = dir.trim_matches('/');
    let rel = rel.trim_start_matches('/');
    if dir.is_empty() {
        rel.to_string()
    } else if rel.is_empty() {
        dir.to_string()
    } else {
        format!("{dir}/{rel}")
    }
}

/// Normalise `a/b/../c` to `a/c`; `None` when it climbs above the root.
pub fn normalize(path: &str) -> Option<String> {
    let mut out: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop()?;
            }
            c => out.push(c),
        }
    }
    Some(out.join("/"))
}

//! A view of the source tree at one commit: lookups that follow symlinks the way a packager
//! does (file links, directory links in the middle of a path, relative targets, loops bounded),
//! and blob reads that fetch contents on demand.

use std::collections::HashMap;
use std::sync::Mutex;

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
    links: Mutex<HashMap<String, String>>,
}

impl<'a> SourceView<'a> {
    pub fn new(repo: &'a Repo, tree: &'a Tree, commit: &str, pkg_dir: &str) -> Self {
        SourceView {
            repo,
            tree,
            commit: commit.to_string(),
            pkg_dir: pkg_dir.trim_matches('/').to_string(),
            links: Mutex::new(HashMap::new()),
        }
    }

    /// Path in the repository of a path relative to the package directory.
    pub fn in_pkg(&self, rel: &str) -> String {
        join(&self.pkg_dir, rel)
    }

    fn link_target(&self, oid: &str) -> Result<String, GitError> {
        if let Some(t) = self.links.lock().expect("link cache").get(oid) {
            return Ok(t.clone());
        }
        let t = String::from_utf8_lossy(&self.repo.read_blob(oid)?).into_owned();
        self.links
            .lock()
            .expect("link cache")
            .insert(oid.to_string(), t.clone());
        Ok(t)
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
            Lookup::Found { entry, .. } => Ok(Some(self.repo.read_blob(&entry.oid)?)),
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

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

/// Opens (clones or reuses) the repository a `.gitmodules` URL names (relative URLs already
/// resolved against the superproject's remote), holding the given commit: the same partial
/// clone cache as the main repository. The run remembers failures, so a submodule that
/// cannot be fetched is tried once per run, not once per package.
pub type Opener = dyn Fn(&str, &str) -> Result<Repo, GitError> + Send + Sync;

/// A submodule's repository and tree at the commit the superproject records.
struct SubRepo {
    repo: Repo,
    tree: Tree,
    commit: String,
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
    /// How to open submodules; without it, files inside submodules are not compared.
    opener: Option<&'a Opener>,
    /// Submodules opened so far, by path (`None`: could not be opened).
    subs: Mutex<HashMap<String, Option<Arc<SubRepo>>>>,
    /// Blob ids that live in a submodule's repository, not this one.
    foreign: Mutex<HashMap<String, Arc<SubRepo>>>,
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
            opener: None,
            subs: Mutex::new(HashMap::new()),
            foreign: Mutex::new(HashMap::new()),
        }
    }

    /// Follow paths into git submodules, opening their repositories with `opener`.
    pub fn with_submodules(mut self, opener: &'a Opener) -> Self {
        self.opener = Some(opener);
        self
    }

    /// The submodule at `at` (commit `commit`), opened once.
    fn submodule(&self, at: &str, commit: &str) -> Result<Option<Arc<SubRepo>>, GitError> {
        let Some(opener) = self.opener else {
            return Ok(None);
        };
        if let Some(s) = self.subs.lock().expect("subs").get(at) {
            return Ok(s.clone());
        }
        let url = self.gitmodules_url(at)?;
        let opened = match url {
            None => None,
            Some(url) => match opener(&url, commit) {
                Err(e) => {
                    tracing::debug!("submodule {at} ({url}): {e}");
                    None
                }
                Ok(repo) => {
                    let tree = repo.tree(commit)?;
                    Some(Arc::new(SubRepo {
                        repo,
                        tree,
                        commit: commit.to_string(),
                    }))
                }
            },
        };
        self.subs
            .lock()
            .expect("subs")
            .insert(at.to_string(), opened.clone());
        Ok(opened)
    }

    /// The URL `.gitmodules` gives for the submodule at `path`, resolved against this
    /// repository's URL when relative.
    fn gitmodules_url(&self, path: &str) -> Result<Option<String>, GitError> {
        let Some(entry) = self.tree.get(".gitmodules") else {
            return Ok(None);
        };
        let text = String::from_utf8_lossy(&self.blob(&entry.oid)?).into_owned();
        let mut cur_path: Option<String> = None;
        let mut cur_url: Option<String> = None;
        let mut found = None;
        for line in text.lines().chain(std::iter::once("[end]")) {
            let l = line.trim();
            if l.starts_with('[') {
                if cur_path.as_deref() == Some(path) {
                    found = cur_url.take();
                    break;
                }
                cur_path = None;
                cur_url = None;
            } else if let Some((k, v)) = l.split_once('=') {
                match k.trim() {
                    "path" => {
                        cur_path =
                            Some(v.trim().trim_matches('"').trim_end_matches('/').to_string())
                    }
                    "url" => cur_url = Some(v.trim().trim_matches('"').to_string()),
                    _ => {}
                }
            }
        }
        // Relative URLs resolve against the superproject's remote URL, never the local
        // path a rewrite gave it; the opener refuses anything that is not a remote URL.
        Ok(found.map(|u| {
            if u.starts_with("../") || u.starts_with("./") {
                let base = url::Url::parse(&format!("{}/", self.repo.origin.trim_end_matches('/')));
                match base.and_then(|b| b.join(&u)) {
                    Ok(joined) => joined.to_string(),
                    Err(_) => u,
                }
            } else {
                u
            }
        }))
    }

    /// Look a path up inside the submodule at `at`; `None` when the submodule cannot be opened.
    fn in_submodule(&self, at: &str, commit: &str, rest: &str) -> Result<Option<Lookup>, GitError> {
        let Some(sub) = self.submodule(at, commit)? else {
            return Ok(None);
        };
        let mut view = SourceView::new(&sub.repo, &sub.tree, &sub.commit, "");
        view.opener = self.opener;
        let found = match view.lookup(rest)? {
            Lookup::Found { path, entry } => {
                self.foreign
                    .lock()
                    .expect("foreign")
                    .insert(entry.oid.clone(), sub.clone());
                Lookup::Found {
                    path: join(at, &path),
                    entry,
                }
            }
            Lookup::Dir { path } => Lookup::Dir {
                path: join(at, &path),
            },
            Lookup::InSubmodule {
                at: inner,
                commit,
                rest,
            } => Lookup::InSubmodule {
                at: join(at, &inner),
                commit,
                rest,
            },
            other => other,
        };
        Ok(Some(found))
    }

    /// Path in the repository of a path relative to the package directory.
    pub fn in_pkg(&self, rel: &str) -> String {
        join(&self.pkg_dir, rel)
    }

    /// Read blobs into the cache, fetching all missing ones in one round trip.
    pub fn prefetch(&self, oids: &[String]) -> Result<(), GitError> {
        // Blobs found inside a submodule live in the submodule's repository.
        let foreign: Vec<(String, Arc<SubRepo>)> = {
            let f = self.foreign.lock().expect("foreign");
            oids.iter()
                .filter_map(|o| f.get(o).map(|s| (o.clone(), s.clone())))
                .collect()
        };
        for (oid, sub) in &foreign {
            if self.blobs.lock().expect("blob cache").contains_key(oid) {
                continue;
            }
            let data = sub.repo.read_blob(oid)?;
            self.blobs
                .lock()
                .expect("blob cache")
                .insert(oid.clone(), Arc::new(data));
        }
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

    /// Put known content in the blob cache (an artifact file's bytes under its blob id).
    pub fn seed(&self, oid: &str, data: &[u8]) {
        self.blobs
            .lock()
            .expect("blob cache")
            .entry(oid.to_string())
            .or_insert_with(|| Arc::new(data.to_vec()));
    }

    /// Put known content in the blob cache without copying it (an artifact file's bytes,
    /// shared with the package).
    pub fn seed_shared(&self, oid: &str, data: &Arc<Vec<u8>>) {
        self.blobs
            .lock()
            .expect("blob cache")
            .entry(oid.to_string())
            .or_insert_with(|| data.clone());
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
                    if let Some(found) =
                        self.in_submodule(&candidate, &entry.oid, &rest.join("/"))?
                    {
                        return Ok(found);
                    }
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

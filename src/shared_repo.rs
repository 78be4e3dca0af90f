//! A repository shared by every package of a run: the cached partial clone, refreshed at most
//! once per run, with what packages keep asking of it (tags, the commits branches and tags
//! reach, recently listed trees) computed once.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, OnceLock};

use crate::git::{GitError, Repo, Tree};
use crate::history::{BlobIndex, Dag};

/// A cached clone shared by every package of the run.
pub struct SharedRepo {
    pub repo: Repo,
    /// Cloned in this run (so refs are fresh).
    cloned_now: bool,
    /// Fetched in this run.
    fetched: Mutex<bool>,
    /// Tags as of the last clone or fetch, shared by every package of the repository.
    tags: Mutex<Option<Arc<TagList>>>,
    /// Every commit a branch or tag reaches, listed once (`rev-list --all`): reachability and
    /// presence checks for every package of the repository without a git process each.
    reachable: Mutex<Option<Arc<HashSet<String>>>>,
    /// One `cat-file --batch` reading commits and trees for every package of the repository.
    objects: Mutex<Option<crate::objects::ObjectReader>>,
    /// Recently listed trees by commit: a monorepo's crates share one commit's tree.
    trees: Mutex<Vec<(String, Arc<Tree>)>>,
    /// Where every blob of the history first appears: built on the first red flag.
    blob_index: OnceLock<Result<Arc<BlobIndex>, String>>,
    /// The commit graph: built on the first guessed commit that does not match.
    dag: OnceLock<Result<Arc<Dag>, String>>,
}

/// Tag names with the commits they point to.
type TagList = Vec<(String, String)>;

/// How many listed trees a repository keeps in memory.
const TREES_KEPT: usize = 4;

impl SharedRepo {
    /// Bring refs up to date once per run (a fresh clone already is).
    pub(crate) fn refresh(&self) -> Result<bool, GitError> {
        let mut f = self.fetched.lock().expect("fetch flag");
        if self.cloned_now || *f {
            return Ok(false);
        }
        self.repo.fetch_all()?;
        *f = true;
        *self.tags.lock().expect("tags") = None;
        *self.reachable.lock().expect("reachable") = None;
        Ok(true)
    }

    pub(crate) fn new(repo: Repo, cloned_now: bool) -> SharedRepo {
        SharedRepo {
            repo,
            cloned_now,
            fetched: Mutex::new(false),
            tags: Mutex::new(None),
            reachable: Mutex::new(None),
            objects: Mutex::new(None),
            trees: Mutex::new(Vec::new()),
            blob_index: OnceLock::new(),
            dag: OnceLock::new(),
        }
    }

    /// The blob index of the history, built once (every other package of the repository waits
    /// for the first one's walk rather than walking again).
    pub(crate) fn blob_index(&self) -> Result<Arc<BlobIndex>, String> {
        self.blob_index
            .get_or_init(|| {
                BlobIndex::build(&self.repo)
                    .map(Arc::new)
                    .map_err(|e| e.to_string())
            })
            .clone()
    }

    /// The commit graph of every branch and tag, built once.
    pub(crate) fn dag(&self) -> Result<Arc<Dag>, String> {
        self.dag
            .get_or_init(|| {
                Dag::build(&self.repo)
                    .map(Arc::new)
                    .map_err(|e| e.to_string())
            })
            .clone()
    }

    /// The mode and object id at `path` in `commit`'s tree, through the shared object reader.
    pub(crate) fn entry_at(
        &self,
        commit: &str,
        path: &str,
    ) -> Result<Option<(u32, String)>, GitError> {
        let mut reader = self.objects.lock().expect("object reader");
        if reader.is_none() {
            *reader = Some(crate::objects::ObjectReader::spawn(&self.repo)?);
        }
        let r = reader.as_mut().expect("just set").entry_at(commit, path);
        if r.is_err() {
            *reader = None;
        }
        r
    }

    pub(crate) fn tags(&self) -> Result<Arc<TagList>, GitError> {
        if let Some(t) = self.tags.lock().expect("tags").as_ref() {
            return Ok(t.clone());
        }
        let t = Arc::new(self.repo.tags()?);
        *self.tags.lock().expect("tags") = Some(t.clone());
        Ok(t)
    }

    /// Does a branch or tag reach this (full) commit id?
    pub(crate) fn reachable(&self, sha: &str) -> Result<bool, GitError> {
        let set = {
            let cached = self.reachable.lock().expect("reachable").clone();
            match cached {
                Some(s) => s,
                None => {
                    let s = Arc::new(self.repo.reachable_commits()?);
                    *self.reachable.lock().expect("reachable") = Some(s.clone());
                    s
                }
            }
        };
        Ok(set.contains(&sha.to_ascii_lowercase()))
    }

    pub(crate) fn tree(&self, commit: &str) -> Result<Arc<Tree>, GitError> {
        if let Some((_, t)) = self
            .trees
            .lock()
            .expect("trees")
            .iter()
            .find(|(c, _)| c == commit)
        {
            return Ok(t.clone());
        }
        let t = {
            let mut reader = self.objects.lock().expect("object reader");
            if reader.is_none() {
                *reader = Some(crate::objects::ObjectReader::spawn(&self.repo)?);
            }
            match reader.as_mut().expect("just set").tree(commit) {
                Ok(t) => Arc::new(t),
                Err(e) => {
                    // A broken pipe leaves the reader unusable: start afresh next time, and
                    // answer this one with ls-tree.
                    tracing::debug!("object reader: {e}; falling back to ls-tree");
                    *reader = None;
                    Arc::new(self.repo.tree(commit)?)
                }
            }
        };
        let mut trees = self.trees.lock().expect("trees");
        if trees.len() >= TREES_KEPT {
            trees.remove(0);
        }
        trees.push((commit.to_string(), t.clone()));
        Ok(t)
    }
}

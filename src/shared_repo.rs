//! A repository shared by every package of a run: the cached partial clone, refreshed at most
//! once per run, with what packages keep asking of it (tags, the commits branches and tags
//! reach, recently listed trees) computed once.
//!
//! Everything computed here is a cache: [`SharedRepo::release`] drops it all (and the
//! long-lived `cat-file` process), and the next package that asks computes it again from the
//! clone, with the same answer. [`RepoCaches`] releases the least recently used repositories
//! when their caches together pass the budget ([`crate::cache_budget::repos`]), so memory does
//! not grow with the number of repositories a run visits.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use crate::git::{GitError, Repo, Tree};
use crate::history::{AnchorIndex, BlobIndex, Dag};

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
    blob_index: Mutex<Option<Result<Arc<BlobIndex>, String>>>,
    /// The commit graph: built on the first guessed commit that does not match.
    dag: Mutex<Option<Result<Arc<Dag>, String>>>,
    /// By file name: the newest commit of each manifest content, built on the first package
    /// with no commit and no tag.
    anchors: Mutex<Vec<(String, Arc<AnchorIndex>)>>,
}

/// Tag names with the commits they point to.
type TagList = Vec<(String, String)>;

/// How many listed trees a repository keeps in memory.
const TREES_KEPT: usize = 4;

impl SharedRepo {
    /// Refs are up to date for this run: cloned, or fetched, in it.
    pub(crate) fn refs_fresh(&self) -> bool {
        self.cloned_now || *self.fetched.lock().expect("fetch flag")
    }

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

    /// `cloned_now`: refs are fresh for this run (cloned in it, or fetched by an earlier
    /// instance of the same repository), so no fetch is needed.
    pub(crate) fn new(repo: Repo, cloned_now: bool) -> SharedRepo {
        SharedRepo {
            repo,
            cloned_now,
            fetched: Mutex::new(false),
            tags: Mutex::new(None),
            reachable: Mutex::new(None),
            objects: Mutex::new(None),
            trees: Mutex::new(Vec::new()),
            blob_index: Mutex::new(None),
            dag: Mutex::new(None),
            anchors: Mutex::new(Vec::new()),
        }
    }

    /// The blob index of the history, built once while cached (every other package of the
    /// repository waits for the first one's walk rather than walking again).
    pub(crate) fn blob_index(&self) -> Result<Arc<BlobIndex>, String> {
        self.blob_index
            .lock()
            .expect("blob index")
            .get_or_insert_with(|| {
                let built = BlobIndex::build(&self.repo)
                    .map(Arc::new)
                    .map_err(|e| e.to_string());
                // The walk's working set (every sighting with its path) is freed by now.
                crate::malloc::trim();
                built
            })
            .clone()
    }

    /// The anchor index of `file_name`, built once while cached (a package of the repository
    /// that asks while it is built waits for it).
    pub(crate) fn anchor_index(&self, file_name: &str) -> Result<Arc<AnchorIndex>, GitError> {
        let mut anchors = self.anchors.lock().expect("anchor indexes");
        if let Some((_, a)) = anchors.iter().find(|(n, _)| n == file_name) {
            return Ok(a.clone());
        }
        let a = Arc::new(AnchorIndex::build(&self.repo, file_name)?);
        anchors.push((file_name.to_string(), a.clone()));
        Ok(a)
    }

    /// The commit graph of every branch and tag, built once while cached.
    pub(crate) fn dag(&self) -> Result<Arc<Dag>, String> {
        self.dag
            .lock()
            .expect("dag")
            .get_or_insert_with(|| {
                Dag::build(&self.repo)
                    .map(Arc::new)
                    .map_err(|e| e.to_string())
            })
            .clone()
    }

    /// Drop every cache (and the object reader's process); what is asked next is computed
    /// again. A cache another package is filling right now is left to it.
    pub fn release(&self) {
        if let Ok(mut t) = self.tags.try_lock() {
            *t = None;
        }
        if let Ok(mut r) = self.reachable.try_lock() {
            *r = None;
        }
        if let Ok(mut o) = self.objects.try_lock() {
            *o = None;
        }
        if let Ok(mut t) = self.trees.try_lock() {
            t.clear();
        }
        if let Ok(mut b) = self.blob_index.try_lock() {
            *b = None;
        }
        if let Ok(mut d) = self.dag.try_lock() {
            *d = None;
        }
        if let Ok(mut a) = self.anchors.try_lock() {
            a.clear();
        }
        self.repo.close();
    }

    /// About how many bytes the caches hold now (what is being filled is not counted).
    pub fn cached_bytes(&self) -> usize {
        let mut n = 0;
        if let Ok(t) = self.tags.try_lock() {
            n += t
                .as_ref()
                .map_or(0, |t| t.iter().map(|(n, _)| n.len() + 40 + 64).sum());
        }
        if let Ok(r) = self.reachable.try_lock() {
            n += r.as_ref().map_or(0, |r| r.len() * 96);
        }
        if let Ok(o) = self.objects.try_lock() {
            n += o.as_ref().map_or(0, |o| o.cached_bytes());
        }
        if let Ok(t) = self.trees.try_lock() {
            n += t.iter().map(|(_, t)| tree_bytes(t)).sum::<usize>();
        }
        if let Ok(Some(Ok(b))) = self.blob_index.try_lock().as_deref() {
            n += b.bytes();
        }
        if let Ok(Some(Ok(d))) = self.dag.try_lock().as_deref() {
            n += d.bytes();
        }
        if let Ok(a) = self.anchors.try_lock() {
            n += a.iter().map(|(_, a)| a.bytes()).sum::<usize>();
        }
        n
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

/// What a listed tree holds in memory, about.
fn tree_bytes(t: &Tree) -> usize {
    t.entries.keys().map(|p| p.len() + 40 + 96).sum()
}

/// The repositories whose caches are held, bounded by bytes and by count (each holds a
/// `cat-file` process), least recently used released first.
pub struct RepoCaches {
    inner: Mutex<Lru>,
    budget: usize,
}

#[derive(Default)]
struct Lru {
    /// Key → (last use, repository, bytes at that use).
    repos: HashMap<String, (u64, Arc<SharedRepo>, usize)>,
    order: BTreeMap<u64, String>,
    tick: u64,
    bytes: usize,
}

/// Repositories holding caches (and a `cat-file` process) at once.
const REPOS_HELD: usize = 64;

/// Bytes of caches released at once after which freed pages are given back to the system.
const TRIM_AFTER: usize = 4 << 20;

impl RepoCaches {
    pub fn new(budget: usize) -> RepoCaches {
        RepoCaches {
            inner: Mutex::default(),
            budget,
        }
    }

    /// A package of `key` is done with `repo`: note what its caches hold now and release the
    /// least recently used repositories (this one last) until the rest fit. Returns the keys
    /// of the repositories released.
    pub fn used(&self, key: &str, repo: &Arc<SharedRepo>) -> Vec<String> {
        let bytes = repo.cached_bytes();
        let mut released = Vec::new();
        let mut freed = 0;
        {
            let mut l = self.inner.lock().expect("repo caches");
            l.tick += 1;
            let tick = l.tick;
            if let Some((old, _, b)) = l.repos.remove(key) {
                l.order.remove(&old);
                l.bytes -= b;
            }
            l.repos.insert(key.to_string(), (tick, repo.clone(), bytes));
            l.order.insert(tick, key.to_string());
            l.bytes += bytes;
            while l.bytes > self.budget || l.repos.len() > REPOS_HELD {
                let Some((_, oldest)) = l.order.pop_first() else {
                    break;
                };
                if let Some((_, r, b)) = l.repos.remove(&oldest) {
                    l.bytes -= b;
                    freed += b;
                    released.push((oldest, r));
                }
            }
        }
        // Outside the lock: releasing ends a process.
        let mut keys = Vec::with_capacity(released.len());
        for (k, r) in released {
            tracing::debug!("releasing the caches of {}", r.repo.url);
            r.release();
            keys.push(k);
        }
        // Pages are given back only when there are many (a trim walks every arena).
        if freed >= TRIM_AFTER {
            crate::malloc::trim();
        }
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::git::tests::git;

    #[test]
    fn a_released_blob_index_is_built_again_with_the_same_answers() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        git(d, &["init", "-q", "-b", "main"]);
        std::fs::write(d.join("f"), "one\n").unwrap();
        git(d, &["add", "-A"]);
        git(d, &["commit", "-q", "-m", "one"]);
        let shared = SharedRepo::new(
            Repo {
                dir: d.join(".git"),
                url: "test".into(),
                origin: "test".into(),
            },
            true,
        );
        let blob = crate::archive::git_blob_id(b"one\n");
        let first = shared.blob_index().unwrap();
        assert!(shared.cached_bytes() >= first.bytes(), "counted while held");
        let answer = first.find(&blob);
        assert!(matches!(answer, crate::history::Whereabouts::Found(_)));
        shared.release();
        assert_eq!(shared.cached_bytes(), 0, "nothing held once released");
        let again = shared.blob_index().unwrap();
        assert!(!Arc::ptr_eq(&first, &again), "built again");
        assert_eq!(again.find(&blob), answer);
    }
}

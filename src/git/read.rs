//! Reading a cached clone in process with gitoxide (`gix`): objects, tree walks, tags,
//! commit existence and reachability, with no git process per question. Nothing here talks
//! to a remote: a partial clone's missing blobs are the caller's to fetch (see
//! [`super::Repo::read_blobs`]), and a missing object is reported as missing, never guessed.
//!
//! Repositories are opened isolated (no environment, no user or system config: the same
//! stance as the CLI's environment in `cli.rs`), and the few most recently used are kept open
//! so that their pack indexes are mapped once per run, not once per question.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use gix::ObjectId;

use super::{Entry, GitError, Kind, Tree};

/// Open repositories kept (each maps its pack indexes; a bulk run moves through repositories,
/// so a few suffice and memory stays flat in the number of repositories).
const KEPT_OPEN: usize = 16;

/// The pack delta-base cache of each open handle: trees of neighbouring commits are deltas of
/// each other, and git's own default (96 MiB) per handle would not stay flat under `--jobs`.
/// A long-lived reader ([`Objects`]) counts it as held ([`Objects::cached_bytes`]).
pub const DELTA_CACHE_BYTES: usize = 16 << 20;

static OPEN: Mutex<Vec<(PathBuf, gix::ThreadSafeRepository)>> = Mutex::new(Vec::new());

fn read_error(what: impl Into<String>, url: &str, e: impl std::fmt::Display) -> GitError {
    GitError::Read {
        what: what.into(),
        url: url.to_string(),
        error: e.to_string(),
    }
}

/// A handle on the clone at `dir` for this thread.
pub(super) fn open(dir: &Path, url: &str) -> Result<gix::Repository, GitError> {
    let mut open = OPEN.lock().expect("open repositories");
    if let Some(i) = open.iter().position(|(d, _)| d == dir) {
        let entry = open.remove(i);
        let repo = entry.1.to_thread_local();
        open.push(entry);
        return Ok(repo);
    }
    let options = gix::open::Options::isolated()
        .open_path_as_is(true)
        .config_overrides([format!("core.deltaBaseCacheLimit={DELTA_CACHE_BYTES}")]);
    let repo = gix::ThreadSafeRepository::open_opts(dir, options)
        .map_err(|e| read_error(format!("the repository at {}", dir.display()), url, e))?;
    if open.len() >= KEPT_OPEN {
        open.remove(0);
    }
    open.push((dir.to_path_buf(), repo.clone()));
    Ok(repo.to_thread_local())
}

/// Close the kept handle on the clone at `dir`: its pack indexes and maps go once no reader
/// holds them (a repository whose caches are released is not read again soon).
pub(super) fn forget(dir: &Path) {
    OPEN.lock()
        .expect("open repositories")
        .retain(|(d, _)| d != dir);
}

/// A full object id (40 hex digits, either case); anything else is no id.
pub(super) fn object_id(hex: &str) -> Option<ObjectId> {
    if hex.len() != 40 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    ObjectId::from_hex(hex.to_ascii_lowercase().as_bytes()).ok()
}

/// What an object is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    Commit,
    Tree,
    Blob,
    Tag,
}

impl std::fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ObjectKind::Commit => "commit",
            ObjectKind::Tree => "tree",
            ObjectKind::Blob => "blob",
            ObjectKind::Tag => "tag",
        })
    }
}

impl From<gix::object::Kind> for ObjectKind {
    fn from(k: gix::object::Kind) -> ObjectKind {
        match k {
            gix::object::Kind::Commit => ObjectKind::Commit,
            gix::object::Kind::Tree => ObjectKind::Tree,
            gix::object::Kind::Blob => ObjectKind::Blob,
            gix::object::Kind::Tag => ObjectKind::Tag,
        }
    }
}

/// A long-lived reader of one clone's objects (one per repository per run): its delta-base
/// cache serves every package of the repository.
pub struct Objects {
    repo: gix::Repository,
    url: String,
}

impl Objects {
    pub(super) fn new(repo: gix::Repository, url: &str) -> Objects {
        Objects {
            repo,
            url: url.to_string(),
        }
    }

    /// About how many bytes this reader may hold: its delta-base cache, full or not.
    pub fn cached_bytes(&self) -> usize {
        DELTA_CACHE_BYTES
    }

    /// One object by full id: its kind and bytes. An object the clone does not have is an
    /// error (this reader never fetches).
    pub fn read(&mut self, oid: &str) -> Result<(ObjectKind, Vec<u8>), GitError> {
        object(&self.repo, oid, &self.url)?
            .ok_or_else(|| read_error(format!("object {oid}"), &self.url, "it is not in the clone"))
    }
}

/// One object, or `None` when the clone does not have it.
pub(super) fn object(
    repo: &gix::Repository,
    oid: &str,
    url: &str,
) -> Result<Option<(ObjectKind, Vec<u8>)>, GitError> {
    let Some(id) = object_id(oid) else {
        return Err(read_error(
            format!("object {oid:?}"),
            url,
            "that is not a full object id",
        ));
    };
    match repo.try_find_object(id) {
        Ok(Some(mut o)) => Ok(Some((o.kind.into(), std::mem::take(&mut o.data)))),
        Ok(None) => Ok(None),
        Err(e) => Err(read_error(format!("object {oid}"), url, e)),
    }
}

/// The commit a full or abbreviated (at least 4 hex digits) id names, with annotated tags
/// peeled, if the clone has it: what `git rev-parse --verify <rev>^{commit}` answers for an
/// id (pbr records 10-digit ids). An abbreviation that names several commits names none.
pub(super) fn commit_id(repo: &gix::Repository, rev: &str) -> Option<String> {
    let candidates: Vec<ObjectId> = match object_id(rev) {
        Some(id) => vec![id],
        None => {
            if rev.len() < 4 || rev.len() > 40 || !rev.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            let prefix = gix::hash::Prefix::from_hex(&rev.to_ascii_lowercase()).ok()?;
            let mut found = HashSet::new();
            // Every candidate is collected; which of them is the one commit is decided below.
            repo.objects
                .lookup_prefix(prefix, Some(&mut found))
                .ok()??
                .ok();
            found.into_iter().collect()
        }
    };
    let mut commits: Vec<ObjectId> = candidates
        .into_iter()
        .filter_map(|id| peel_to_commit(repo, id))
        .collect();
    commits.sort();
    commits.dedup();
    match commits.as_slice() {
        [one] => Some(one.to_string()),
        _ => None,
    }
}

fn peel_to_commit(repo: &gix::Repository, mut id: ObjectId) -> Option<ObjectId> {
    // A tag of a tag of … a commit: git peels the whole chain; a cycle is impossible with
    // content-addressed objects, but a bound costs nothing.
    for _ in 0..64 {
        let o = repo.try_find_object(id).ok()??;
        match o.kind {
            gix::object::Kind::Commit => return Some(id),
            gix::object::Kind::Tag => id = o.into_tag().target_id().ok()?.detach(),
            _ => return None,
        }
    }
    None
}

/// Tags (`refs/tags/`, name without the prefix) with the object each finally points to
/// (annotated tags peeled), sorted by name as `git for-each-ref` lists them.
pub(super) fn tags(repo: &gix::Repository, url: &str) -> Result<Vec<(String, String)>, GitError> {
    let refs = repo.references().map_err(|e| read_error("refs", url, e))?;
    let mut out = Vec::new();
    for r in refs.tags().map_err(|e| read_error("tags", url, e))? {
        let Ok(mut r) = r else { continue };
        let name = r.name().as_bstr().to_string();
        let name = name.strip_prefix("refs/tags/").unwrap_or(&name).to_string();
        // A tag whose object is absent would make `for-each-ref` warn and go on: so do we.
        let Ok(id) = r.peel_to_id() else { continue };
        out.push((name, id.to_string()));
    }
    out.sort();
    Ok(out)
}

/// What `--all` starts from: every ref (branch, tag, anything under `refs/`) and `HEAD`, peeled,
/// keeping only those that name a commit (a ref to a tree or a blob names no history).
fn tips(repo: &gix::Repository, url: &str) -> Result<Vec<ObjectId>, GitError> {
    let refs = repo.references().map_err(|e| read_error("refs", url, e))?;
    let mut tips: Vec<ObjectId> = Vec::new();
    for r in refs.all().map_err(|e| read_error("refs", url, e))? {
        let mut r = r.map_err(|e| read_error("refs", url, e))?;
        let id = r
            .peel_to_id()
            .map_err(|e| read_error(format!("the ref {}", r.name().as_bstr()), url, e))?;
        tips.push(id.detach());
    }
    if let Ok(head) = repo.head_id() {
        tips.push(head.detach());
    }
    tips.retain(|id| {
        repo.try_find_header(*id)
            .ok()
            .flatten()
            .is_some_and(|h| h.kind() == gix::object::Kind::Commit)
    });
    tips.sort();
    tips.dedup();
    Ok(tips)
}

/// Every commit any ref or `HEAD` reaches, as `git rev-list --all` lists them. Uses the
/// commit-graph file when the clone has one.
pub(super) fn reachable(repo: &gix::Repository, url: &str) -> Result<HashSet<String>, GitError> {
    let mut out = HashSet::new();
    let walk = repo
        .rev_walk(tips(repo, url)?)
        .all()
        .map_err(|e| read_error("the history", url, e))?;
    for info in walk {
        let info = info.map_err(|e| read_error("the history", url, e))?;
        out.insert(info.id.to_string());
    }
    Ok(out)
}

/// Every commit any ref or `HEAD` reaches, with its parents, newest commit time first, as
/// `git rev-list --all --parents` lists them.
pub(super) fn parents(
    repo: &gix::Repository,
    url: &str,
    mut each: impl FnMut(&gix::oid, &[ObjectId]),
) -> Result<(), GitError> {
    use gix::revision::walk::Sorting;
    let walk = repo
        .rev_walk(tips(repo, url)?)
        .sorting(Sorting::ByCommitTime(Default::default()))
        .all()
        .map_err(|e| read_error("the history", url, e))?;
    for info in walk {
        let info = info.map_err(|e| read_error("the history", url, e))?;
        each(&info.id, &info.parent_ids);
    }
    Ok(())
}

/// The order of a [`history`] walk; either way every commit comes before its parents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryOrder {
    /// `--topo-order`: one line of history is not interleaved with another.
    Topo,
    /// Newest commit time first (`--date-order`), as `git log` lists commits.
    Date,
}

/// One step of a [`history`] walk.
pub enum HistoryStep<'a> {
    /// The next commit and its committer time (seconds since the epoch); the blobs that follow
    /// are its own, until the next commit.
    Commit { id: &'a gix::oid, time: i64 },
    /// A file or symlink this commit's tree adds or changes, at `path` (bytes as in the tree).
    Blob { id: &'a gix::oid, path: &'a [u8] },
}

/// Every commit any ref or `HEAD` reaches, in `order`, each followed by the blobs (files and
/// symlinks: not trees, not submodules) its tree adds or changes against its first parent's,
/// or all of its tree for a root commit: what `git log --all --raw --no-renames
/// --diff-merges=first-parent` lists. Without `merges`, a merge commit is listed with no
/// changes, as `git log --raw` shows it by default.
///
/// Streamed one change at a time: what is held is the walk's queue of commits and two trees
/// being compared, never a commit's list of changes. (`git log` holds that list: libc's
/// generated-docs branch changes 597,644 paths in one commit, and the git process grew to
/// 303 MiB for it.) Reads only commits and trees, so a blob-less partial clone has all of it.
pub(super) fn history(
    repo: &gix::Repository,
    url: &str,
    order: HistoryOrder,
    merges: bool,
    mut step: impl FnMut(HistoryStep<'_>),
) -> Result<(), GitError> {
    use gix::diff::tree::Visit;
    use gix::objs::FindExt;
    use gix::traverse::commit::topo;

    /// Reports the blobs a tree diff adds or changes; the path is kept by gix's own recorder.
    struct Added<'s, F> {
        path: gix::diff::tree::Recorder,
        step: &'s mut F,
    }
    impl<F: FnMut(HistoryStep<'_>)> Visit for Added<'_, F> {
        fn pop_front_tracked_path_and_set_current(&mut self) {
            self.path.pop_front_tracked_path_and_set_current()
        }
        fn push_back_tracked_path_component(&mut self, c: &gix::bstr::BStr) {
            self.path.push_back_tracked_path_component(c)
        }
        fn push_path_component(&mut self, c: &gix::bstr::BStr) {
            self.path.push_path_component(c)
        }
        fn pop_path_component(&mut self) {
            self.path.pop_path_component()
        }
        fn visit(
            &mut self,
            change: gix::diff::tree::visit::Change,
        ) -> gix::diff::tree::visit::Action {
            use gix::diff::tree::visit::Change::{Addition, Modification};
            if let Addition {
                entry_mode, oid, ..
            }
            | Modification {
                entry_mode, oid, ..
            } = change
            {
                if !entry_mode.is_tree() && !entry_mode.is_commit() {
                    (self.step)(HistoryStep::Blob {
                        id: &oid,
                        path: self.path.path(),
                    });
                }
            }
            std::ops::ControlFlow::Continue(())
        }
    }

    let history_error = |e: &dyn std::fmt::Display| read_error("the history", url, e);
    // The commit's time, its tree and its first parent's (none for a root commit), or no
    // trees for a merge when merges are not diffed.
    type Trees = (i64, Option<(ObjectId, Option<ObjectId>)>);
    let trees = |id: ObjectId| -> Result<Trees, GitError> {
        let commit = repo
            .find_commit(id)
            .map_err(|e| read_error(format!("commit {id}"), url, e))?;
        let time = commit
            .time()
            .map_err(|e| read_error(format!("commit {id}"), url, e))?
            .seconds;
        if !merges && commit.parent_ids().nth(1).is_some() {
            return Ok((time, None));
        }
        let tree = commit
            .tree_id()
            .map_err(|e| read_error(format!("commit {id}"), url, e))?
            .detach();
        let parent = match commit.parent_ids().next() {
            Some(p) => Some(
                repo.find_commit(p)
                    .and_then(|c| Ok(c.tree_id()?.detach()))
                    .map_err(|e| read_error(format!("commit {p}"), url, e))?,
            ),
            None => None,
        };
        Ok((time, Some((tree, parent))))
    };
    let walk = topo::Builder::from_iters(&repo.objects, tips(repo, url)?, None::<Vec<ObjectId>>)
        .sorting(match order {
            HistoryOrder::Topo => topo::Sorting::TopoOrder,
            HistoryOrder::Date => topo::Sorting::DateOrder,
        })
        .with_commit_graph(repo.commit_graph_if_enabled().ok().flatten())
        .build()
        .map_err(|e| history_error(&e))?;
    let mut state = gix::diff::tree::State::default();
    let (mut old_buf, mut new_buf) = (Vec::new(), Vec::new());
    for info in walk {
        let info = info.map_err(|e| history_error(&e))?;
        let (time, trees) = trees(info.id)?;
        step(HistoryStep::Commit { id: &info.id, time });
        let Some((tree, parent)) = trees else {
            continue;
        };
        let old = match parent {
            Some(t) => repo
                .objects
                .find_tree_iter(&t, &mut old_buf)
                .map_err(|e| read_error(format!("tree {t}"), url, e))?,
            None => gix::objs::TreeRefIter::from_bytes(&[], repo.object_hash()),
        };
        let new = repo
            .objects
            .find_tree_iter(&tree, &mut new_buf)
            .map_err(|e| read_error(format!("tree {tree}"), url, e))?;
        let mut added = Added {
            path: gix::diff::tree::Recorder::default(),
            step: &mut step,
        };
        gix::diff::tree(old, new, &mut state, &repo.objects, &mut added)
            .map_err(|e| read_error(format!("the changes of commit {}", info.id), url, e))?;
    }
    Ok(())
}

/// The root tree of a commit (or the tree itself), with annotated tags peeled.
fn root_tree(repo: &gix::Repository, rev: &str, url: &str) -> Result<ObjectId, GitError> {
    let missing = || read_error(format!("the tree of {rev}"), url, "no such commit or tree");
    let mut id = object_id(rev).ok_or_else(missing)?;
    for _ in 0..64 {
        let o = repo
            .try_find_object(id)
            .map_err(|e| read_error(format!("object {id}"), url, e))?
            .ok_or_else(missing)?;
        match o.kind {
            gix::object::Kind::Tree => return Ok(id),
            gix::object::Kind::Commit => {
                return o
                    .into_commit()
                    .tree_id()
                    .map(|t| t.detach())
                    .map_err(|e| read_error(format!("commit {id}"), url, e));
            }
            gix::object::Kind::Tag => {
                id = o
                    .into_tag()
                    .target_id()
                    .map_err(|e| read_error(format!("tag {id}"), url, e))?
                    .detach();
            }
            gix::object::Kind::Blob => break,
        }
    }
    Err(missing())
}

/// Every path of a commit's tree (blobs, trees and gitlinks), as `git ls-tree -r -t` lists
/// them: modes as git reads them (canonical), paths lossily UTF-8.
pub(super) fn tree(repo: &gix::Repository, rev: &str, url: &str) -> Result<Tree, GitError> {
    let root = root_tree(repo, rev, url)?;
    let mut tree = Tree {
        entries: HashMap::new(),
    };
    let mut stack = vec![(String::new(), root)];
    while let Some((prefix, oid)) = stack.pop() {
        let o = repo
            .try_find_object(oid)
            .map_err(|e| read_error(format!("tree {oid}"), url, e))?
            .ok_or_else(|| read_error(format!("tree {oid}"), url, "it is not in the clone"))?;
        if o.kind != gix::object::Kind::Tree {
            return Err(read_error(
                format!("tree {oid}"),
                url,
                format!("it is a {}", o.kind),
            ));
        }
        for e in gix::objs::TreeRefIter::from_bytes(&o.data, repo.object_hash()) {
            let e = e.map_err(|e| read_error(format!("tree {oid}"), url, e))?;
            let name = String::from_utf8_lossy(e.filename);
            let path = if prefix.is_empty() {
                name.into_owned()
            } else {
                format!("{prefix}/{name}")
            };
            let mode = u32::from(e.mode.normalized().value());
            let kind = match mode {
                0o040000 => Kind::Tree,
                0o160000 => Kind::Commit,
                _ => Kind::Blob,
            };
            if kind == Kind::Tree {
                stack.push((path.clone(), e.oid.to_owned()));
            }
            tree.entries.insert(
                path,
                Entry {
                    mode,
                    kind,
                    oid: e.oid.to_string(),
                },
            );
        }
    }
    Ok(tree)
}

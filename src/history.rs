//! A repository's history as evidence: the commit graph (parents and children of every
//! commit) and where each blob id first appears (from one walk over every commit's tree
//! changes), both read in process. Both are built once per repository per run, only
//! when a package of that repository needs them (a red flag, or a guessed commit that does not
//! match), and shared by every package of the repository. Neither reads a blob: a partial clone
//! (`--filter=blob:none`) has every commit and tree locally.

use std::collections::{HashMap, VecDeque};

use crate::git::{GitError, HistoryOrder, HistoryStep, Repo};

/// Distinct blob ids kept before the index stops growing (about 50 bytes each): a repository
/// with more is answered "unknown", never "in no commit", for what it did not index.
const MAX_BLOBS: usize = 2_000_000;

/// A 20-byte object id.
type Oid = [u8; 20];

fn oid(hex_id: &str) -> Option<Oid> {
    let mut out = [0; 20];
    hex::decode_to_slice(hex_id, &mut out).ok()?;
    Some(out)
}

fn raw(id: &gix::oid) -> Oid {
    let mut out = [0; 20];
    out.copy_from_slice(id.as_bytes());
    out
}

/// Where one blob id was found: the oldest commit that put it in the tree, and the path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sighting {
    pub commit: String,
    pub path: String,
}

/// The answer to "is this content anywhere in the history?".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Whereabouts {
    Found(Sighting),
    /// In no commit any branch or tag reaches.
    Nowhere,
    /// The index was cut short (over [`MAX_BLOBS`]): provero cannot tell.
    Unknown,
}

/// Every blob id of the history, with the commit that introduced it and its path there.
///
/// Compact because it is the largest thing a run holds: libc's history walks 1.6 million tree
/// changes over 972,000 distinct paths (its `gh-pages` branch of generated docs) for 131,000
/// distinct blobs. Only the paths of the sightings kept are stored (once each, end to end in
/// one string), and the sightings are one sorted `Vec` (28 bytes each), not a hash map.
pub struct BlobIndex {
    commits: Vec<Oid>,
    /// Sorted by blob id: the blob, its commit (in `commits`), its path (in `path_ends`).
    blobs: Vec<(Oid, u32, u32)>,
    /// Every path a sighting names, once, end to end; path `i` ends at `path_ends[i]`.
    path_text: String,
    path_ends: Vec<u32>,
    complete: bool,
}

impl BlobIndex {
    /// One walk over every commit's tree changes (merges against their first parent),
    /// children before parents, read in process and streamed ([`Repo::history`]).
    pub fn build(repo: &Repo) -> Result<BlobIndex, GitError> {
        let mut commits = Vec::new();
        let mut complete = true;
        // The sighting kept so far of each blob: a later (older) one replaces it, and the path
        // it replaces is freed, so what is held is bounded by the distinct blobs, not by the
        // paths the walk goes through.
        let mut seen: HashMap<Oid, (u32, Box<str>)> = HashMap::new();
        repo.history(HistoryOrder::Topo, true, |step| match step {
            HistoryStep::Commit { id, .. } => {
                commits.push(raw(id));
            }
            HistoryStep::Blob { id, path } => {
                let b = raw(id);
                if !seen.contains_key(&b) && seen.len() >= MAX_BLOBS {
                    complete = false;
                    return;
                }
                let commit = (commits.len() - 1) as u32;
                let path = String::from_utf8_lossy(path);
                // One commit may add the same content at several paths: the one kept is the
                // greatest, the last in the tree's order, whatever order the walk visits them.
                if let Some((c, kept)) = seen.get(&b) {
                    if *c == commit && kept.as_bytes() > path.as_bytes() {
                        return;
                    }
                }
                seen.insert(b, (commit, path.into()));
            }
        })?;
        Ok(BlobIndex::from_sightings(commits, seen, complete))
    }

    /// The compact form of the walk's sightings.
    fn from_sightings(
        mut commits: Vec<Oid>,
        seen: HashMap<Oid, (u32, Box<str>)>,
        complete: bool,
    ) -> BlobIndex {
        let mut idx = BlobIndex {
            commits: Vec::new(),
            blobs: Vec::with_capacity(seen.len()),
            path_text: String::new(),
            path_ends: Vec::new(),
            complete,
        };
        let mut path_ids: HashMap<&str, u32> = HashMap::new();
        for (b, (commit, path)) in &seen {
            let p = *path_ids.entry(path).or_insert_with(|| {
                idx.path_text.push_str(path);
                idx.path_ends.push(idx.path_text.len() as u32);
                (idx.path_ends.len() - 1) as u32
            });
            idx.blobs.push((*b, *commit, p));
        }
        idx.blobs.sort_unstable_by_key(|(b, _, _)| *b);
        idx.path_text.shrink_to_fit();
        idx.path_ends.shrink_to_fit();
        commits.shrink_to_fit();
        idx.commits = commits;
        idx
    }

    /// About how many bytes the index holds.
    pub fn bytes(&self) -> usize {
        self.commits.capacity() * std::mem::size_of::<Oid>()
            + self.blobs.capacity() * std::mem::size_of::<(Oid, u32, u32)>()
            + self.path_text.capacity()
            + self.path_ends.capacity() * 4
    }

    fn path(&self, i: u32) -> &str {
        let i = i as usize;
        let start = if i == 0 { 0 } else { self.path_ends[i - 1] };
        &self.path_text[start as usize..self.path_ends[i] as usize]
    }

    /// Where the blob `blob_id` (hex) is in the history.
    pub fn find(&self, blob_id: &str) -> Whereabouts {
        let at = oid(blob_id).and_then(|o| {
            self.blobs
                .binary_search_by_key(&o, |(b, _, _)| *b)
                .ok()
                .map(|i| &self.blobs[i])
        });
        match at {
            Some((_, c, p)) => Whereabouts::Found(Sighting {
                commit: hex::encode(self.commits[*c as usize]),
                path: self.path(*p).to_string(),
            }),
            None if self.complete => Whereabouts::Nowhere,
            None => Whereabouts::Unknown,
        }
    }
}

/// For one file name (`Cargo.toml`), the newest commit that put each content at a path of
/// that name (at any depth): where a package with no recorded commit and no tag is placed from
/// its manifest alone. One walk per repository and name, shared by every such package, instead
/// of one `git log --all -- NAME '*/NAME'` each. Newest is the latest committer time (of equal
/// times, the first in date order); a merge brings nothing of its own (`git log` shows no
/// change for a merge). Unlike `git log` with a path, no commit is lost to history
/// simplification.
pub struct AnchorIndex {
    /// Sorted by blob id: the blob and its newest commit.
    newest: Vec<(Oid, Oid)>,
}

impl AnchorIndex {
    pub fn build(repo: &Repo, file_name: &str) -> Result<AnchorIndex, GitError> {
        let mut newest: HashMap<Oid, (i64, Oid)> = HashMap::new();
        let mut current = None;
        repo.history(HistoryOrder::Date, false, |step| match step {
            HistoryStep::Commit { id, time } => current = Some((time, raw(id))),
            HistoryStep::Blob { id, path } => {
                let name = path.rsplit(|b| *b == b'/').next().unwrap_or(path);
                if let (true, Some((time, c))) = (name == file_name.as_bytes(), current) {
                    let kept = newest.entry(raw(id)).or_insert((time, c));
                    if time > kept.0 {
                        *kept = (time, c);
                    }
                }
            }
        })?;
        let mut newest: Vec<(Oid, Oid)> = newest.into_iter().map(|(b, (_, c))| (b, c)).collect();
        newest.sort_unstable();
        Ok(AnchorIndex { newest })
    }

    /// The newest commit that put the blob `blob_id` (hex) at a path of this name.
    pub fn newest(&self, blob_id: &str) -> Option<String> {
        let o = oid(blob_id)?;
        let i = self.newest.binary_search_by_key(&o, |(b, _)| *b).ok()?;
        Some(hex::encode(self.newest[i].1))
    }

    /// About how many bytes the index holds.
    pub fn bytes(&self) -> usize {
        self.newest.capacity() * 40
    }
}

/// The commit graph of every branch and tag.
pub struct Dag {
    ids: Vec<Oid>,
    index: HashMap<Oid, u32>,
    parents: Vec<Vec<u32>>,
    children: Vec<Vec<u32>>,
}

impl Dag {
    /// Every commit of every branch and tag with its parents, read in process.
    pub fn build(repo: &Repo) -> Result<Dag, GitError> {
        let mut dag = Dag {
            ids: Vec::new(),
            index: HashMap::new(),
            parents: Vec::new(),
            children: Vec::new(),
        };
        let mut edges: Vec<(u32, Oid)> = Vec::new();
        repo.parents(|id, parents| {
            let i = dag.intern(raw(id));
            edges.extend(parents.iter().map(|p| (i, raw(p))));
        })?;
        for (child, p) in edges {
            let pi = dag.intern(p);
            dag.parents[child as usize].push(pi);
            dag.children[pi as usize].push(child);
        }
        Ok(dag)
    }

    /// About how many bytes the graph holds.
    pub fn bytes(&self) -> usize {
        let edges: usize = self.parents.iter().map(Vec::len).sum();
        self.ids.len() * (20 + 32 + 2 * 24) + edges * 8
    }

    fn intern(&mut self, o: Oid) -> u32 {
        if let Some(i) = self.index.get(&o) {
            return *i;
        }
        let i = self.ids.len() as u32;
        self.ids.push(o);
        self.index.insert(o, i);
        self.parents.push(Vec::new());
        self.children.push(Vec::new());
        i
    }

    fn id(&self, hex_id: &str) -> Option<u32> {
        oid(hex_id).and_then(|o| self.index.get(&o).copied())
    }

    /// Commits in order of their distance (parent or child steps) from the nearest seed,
    /// seeds first, at most `limit` of them. `within` keeps the walk inside a set of commits.
    pub fn nearest(&self, seeds: &[String], limit: usize, within: Option<&[bool]>) -> Vec<String> {
        let inside = |i: u32| within.map_or(true, |w| w[i as usize]);
        let mut seen = vec![false; self.ids.len()];
        let mut queue = VecDeque::new();
        for s in seeds {
            if let Some(i) = self.id(s) {
                if !seen[i as usize] && inside(i) {
                    seen[i as usize] = true;
                    queue.push_back(i);
                }
            }
        }
        let mut out = Vec::new();
        while let Some(i) = queue.pop_front() {
            out.push(hex::encode(self.ids[i as usize]));
            if out.len() >= limit {
                break;
            }
            for &n in self.children[i as usize]
                .iter()
                .chain(&self.parents[i as usize])
            {
                if !seen[n as usize] && inside(n) {
                    seen[n as usize] = true;
                    queue.push_back(n);
                }
            }
        }
        out
    }

    /// The commits between two releases: descendants of `after` (inclusive) that are also
    /// ancestors of `before` (inclusive); an absent end leaves that side open.
    pub fn between(&self, after: Option<&str>, before: Option<&str>) -> Vec<bool> {
        let n = self.ids.len();
        let reach = |start: Option<u32>, up: bool| -> Vec<bool> {
            let Some(s) = start else {
                return vec![true; n];
            };
            let mut seen = vec![false; n];
            seen[s as usize] = true;
            let mut stack = vec![s];
            while let Some(i) = stack.pop() {
                let next = if up {
                    &self.parents[i as usize]
                } else {
                    &self.children[i as usize]
                };
                for &p in next {
                    if !seen[p as usize] {
                        seen[p as usize] = true;
                        stack.push(p);
                    }
                }
            }
            seen
        };
        let down = reach(after.and_then(|a| self.id(a)), false);
        let up = reach(before.and_then(|b| self.id(b)), true);
        down.iter().zip(up).map(|(a, b)| *a && b).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::process::Command;

    use crate::git::tests::git;

    fn commit(dir: &Path, file: &str, text: &str) -> String {
        std::fs::write(dir.join(file), text).unwrap();
        git(dir, &["add", "-A"]);
        git(dir, &["commit", "-q", "-m", file]);
        git(dir, &["rev-parse", "HEAD"])
    }

    /// A real repository: A (f = one), B (f = two), C (g = one), D on a side branch from A.
    fn repo() -> (tempfile::TempDir, Repo, [String; 4]) {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        git(d, &["init", "-q", "-b", "main"]);
        let a = commit(d, "f", "one\n");
        let b = commit(d, "f", "two\n");
        let c = commit(d, "g", "one\n");
        git(d, &["checkout", "-q", "-b", "side", &a]);
        let s = commit(d, "h", "side\n");
        let repo = Repo {
            dir: d.join(".git"),
            url: "test".into(),
            origin: "test".into(),
        };
        (tmp, repo, [a, b, c, s])
    }

    fn blob(text: &str) -> String {
        crate::archive::git_blob_id(text.as_bytes())
    }

    #[test]
    fn blobs_are_found_at_the_oldest_commit_that_introduced_them() {
        let (_tmp, repo, [a, b, _, s]) = repo();
        let idx = BlobIndex::build(&repo).unwrap();
        let at = |c: &str, p: &str| {
            Whereabouts::Found(Sighting {
                commit: c.to_string(),
                path: p.to_string(),
            })
        };
        assert_eq!(idx.find(&blob("one\n")), at(&a, "f"));
        assert_eq!(idx.find(&blob("two\n")), at(&b, "f"));
        assert_eq!(idx.find(&blob("side\n")), at(&s, "h"));
        assert_eq!(idx.find(&blob("never committed\n")), Whereabouts::Nowhere);
    }

    #[test]
    fn paths_are_whole_and_verbatim_and_a_merge_adds_only_what_its_first_parent_lacks() {
        let (tmp, repo, [_, _, c, s]) = repo();
        let d = tmp.path();
        git(d, &["checkout", "-q", "main"]);
        std::fs::create_dir_all(d.join("deep/er")).unwrap();
        // `git log --raw` would print this path quoted and escaped.
        std::fs::write(d.join("deep/er/naïve \"q\".txt"), "nested\n").unwrap();
        // The same content twice, the deeper path first in the tree's order.
        std::fs::write(d.join("deep/copy"), "dup\n").unwrap();
        std::fs::write(d.join("z-copy"), "dup\n").unwrap();
        std::os::unix::fs::symlink("link-target", d.join("link")).unwrap();
        git(d, &["add", "-A"]);
        // A submodule's entry names a commit, not content.
        git(
            d,
            &[
                "update-index",
                "--add",
                "--cacheinfo",
                &format!("160000,{c},sub"),
            ],
        );
        git(d, &["commit", "-q", "-m", "n"]);
        let n = git(d, &["rev-parse", "HEAD"]);
        git(d, &["merge", "-q", "--no-ff", "side", "-m", "merge"]);
        let idx = BlobIndex::build(&repo).unwrap();
        let at = |c: &str, p: &str| {
            Whereabouts::Found(Sighting {
                commit: c.to_string(),
                path: p.to_string(),
            })
        };
        assert_eq!(
            idx.find(&blob("nested\n")),
            at(&n, "deep/er/naïve \"q\".txt")
        );
        assert_eq!(
            idx.find(&blob("dup\n")),
            at(&n, "z-copy"),
            "the greatest path"
        );
        assert_eq!(idx.find(&blob("link-target")), at(&n, "link"));
        assert_eq!(idx.find(&c), Whereabouts::Nowhere, "a gitlink is no blob");
        // The merge brings `h` onto main, but it was introduced by the side commit.
        assert_eq!(idx.find(&blob("side\n")), at(&s, "h"));
    }

    #[test]
    fn the_anchor_index_finds_the_newest_commit_even_where_git_log_simplifies_it_away() {
        let (tmp, repo, _) = repo();
        let d = tmp.path();
        git(d, &["checkout", "-q", "main"]);
        let v1 = commit(d, "Cargo.toml", "version = 1\n");
        // A side branch changes the manifest; the merge keeps main's (`-s ours`), and the
        // branch is deleted: `git log --all -- Cargo.toml` follows only the merge's first
        // parent (the side is TREESAME-pruned), and never shows the side commit.
        git(d, &["checkout", "-q", "-b", "topic"]);
        let side = commit(d, "Cargo.toml", "version = 2\n");
        git(d, &["checkout", "-q", "main"]);
        git(d, &["merge", "-q", "-s", "ours", "topic", "-m", "merge"]);
        git(d, &["branch", "-q", "-D", "topic"]);
        let logged = git(d, &["log", "--all", "--format=%H", "--", "Cargo.toml"]);
        assert!(!logged.contains(&side), "git log hides it: {logged}");
        // The same content again, deeper, later: the newest is that one; other names are not it.
        std::fs::create_dir_all(d.join("sub")).unwrap();
        std::fs::write(d.join("sub/Cargo.toml"), "version = 1\n").unwrap();
        std::fs::write(d.join("Cargo.toml.orig"), "version = 2\n").unwrap();
        git(d, &["add", "-A"]);
        git(d, &["commit", "-q", "-m", "sub"]);
        let again = git(d, &["rev-parse", "HEAD"]);
        let idx = AnchorIndex::build(&repo, "Cargo.toml").unwrap();
        assert_eq!(idx.newest(&blob("version = 2\n")), Some(side));
        assert_eq!(idx.newest(&blob("version = 1\n")), Some(again));
        assert_ne!(idx.newest(&blob("version = 1\n")), Some(v1));
        assert_eq!(idx.newest(&blob("one\n")), None, "f is no Cargo.toml");
    }

    #[test]
    fn the_newest_manifest_commit_is_the_latest_committer_time_whatever_the_walk_order() {
        let (tmp, repo, [a, ..]) = repo();
        let d = tmp.path();
        let at = |date: &str, file: &str, text: &str| {
            std::fs::write(d.join(file), text).unwrap();
            git(d, &["add", "-A"]);
            let o = Command::new("git")
                .args(["-c", "user.name=T", "-c", "user.email=t@example.org"])
                .args(["commit", "-q", "-m", file])
                .current_dir(d)
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("GIT_COMMITTER_DATE", date)
                .output()
                .unwrap();
            assert!(o.status.success());
            git(d, &["rev-parse", "HEAD"])
        };
        // `one`: 2021 on a branch whose tip has a skewed clock (2019), and 2020 on another.
        // A date-ordered walk meets the 2020 commit first (the 2019 tip hides the 2021 one).
        git(d, &["checkout", "-q", "-b", "skewed", &a]);
        let newest = at("2021-01-01T00:00:00Z", "Cargo.toml", "one\n");
        at(
            "2019-01-01T00:00:00Z",
            "README",
            "later, with a clock behind\n",
        );
        git(d, &["checkout", "-q", "-b", "other", &a]);
        let older = at("2020-01-01T00:00:00Z", "Cargo.toml", "one\n");
        let idx = AnchorIndex::build(&repo, "Cargo.toml").unwrap();
        assert_ne!(older, newest);
        assert_eq!(idx.newest(&blob("one\n")), Some(newest));
    }

    #[test]
    fn the_graph_walks_nearest_first_and_ranges_stay_between_releases() {
        let (_tmp, repo, [a, b, c, s]) = repo();
        let dag = Dag::build(&repo).unwrap();
        let near = dag.nearest(std::slice::from_ref(&b), 10, None);
        assert_eq!(near[0], b);
        assert_eq!(near.len(), 4);
        assert_eq!(near.last(), Some(&s), "the side commit is two steps away");
        assert_eq!(
            dag.nearest(std::slice::from_ref(&b), 2, None).len(),
            2,
            "bounded"
        );
        let within = dag.between(Some(&a), Some(&c));
        let inside = dag.nearest(std::slice::from_ref(&a), 10, Some(&within));
        assert_eq!(inside, vec![a.clone(), b.clone(), c.clone()]);
        let after_b = dag.between(Some(&b), None);
        assert_eq!(
            dag.nearest(std::slice::from_ref(&c), 10, Some(&after_b)),
            vec![c, b]
        );
    }

    #[test]
    fn only_the_paths_of_kept_sightings_are_held() {
        let (tmp, repo, [a, ..]) = repo();
        let d = tmp.path();
        // A branch of generated files (like a `gh-pages` of docs): many paths, few blobs, and
        // every one of them the content of a file committed on `main` before.
        git(d, &["checkout", "-q", "--orphan", "docs"]);
        git(d, &["rm", "-q", "-rf", "."]);
        for i in 0..50 {
            std::fs::write(d.join(format!("page-{i:02}.html")), "one\n").unwrap();
        }
        git(d, &["add", "-A"]);
        git(d, &["commit", "-q", "-m", "docs"]);
        let idx = BlobIndex::build(&repo).unwrap();
        // The orphan branch's commit is older than nothing: which of `a` and the docs commit
        // is walked last is the walk's order, as before; either way one path is held.
        match idx.find(&blob("one\n")) {
            Whereabouts::Found(s) if s.commit == a => assert_eq!(s.path, "f"),
            Whereabouts::Found(s) => assert!(s.path.starts_with("page-"), "{s:?}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(idx.blobs.len(), 3, "one, two, side and nothing else");
        assert!(
            idx.path_text.len() <= "f".len() + "f".len() + "h".len() + "page-00.html".len(),
            "only the paths of kept sightings: {:?}",
            idx.path_text
        );
        // Built again (as after a release), the same answers.
        let again = BlobIndex::build(&repo).unwrap();
        for text in ["one\n", "two\n", "side\n", "never committed\n"] {
            assert_eq!(idx.find(&blob(text)), again.find(&blob(text)));
        }
    }
}

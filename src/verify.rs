//! The pipeline for one package: resolve → download → read → locate source → compare → judge.
//! Every stage that fails ends the package with a verdict and the findings so far; nothing here
//! stops other packages. Blocking work (git, archive reading, comparison) runs off the async
//! threads; each repository is cloned or fetched at most once per run, shared by every package
//! that needs it.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::{OnceCell, Semaphore};

use crate::compare::{compare, short};
use crate::ecosystem::{Ecosystem, Handler, Package, RegistryCx, RegistryError, Resolved};
use crate::finding::{Code, Finding, Verdict};
use crate::git::{self, GitError, Repo, Tree};
use crate::http::Http;
use crate::profile::Profiles;
use crate::repo_url::{self, Rewrites};
use crate::report::{PackageResult, Stats};
use crate::source::SourceView;
use crate::tags::matching_tags;

/// Settings for a run.
#[derive(Clone)]
pub struct Options {
    pub cache_dir: PathBuf,
    pub profiles: Profiles,
    pub rewrites: Rewrites,
    /// Concurrent git operations.
    pub git_jobs: usize,
    /// Concurrent CPU-bound comparisons.
    pub cpu_jobs: usize,
}

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
}

/// Tag names with the commits they point to.
type TagList = Vec<(String, String)>;

/// How many listed trees a repository keeps in memory.
const TREES_KEPT: usize = 4;

impl SharedRepo {
    /// Bring refs up to date once per run (a fresh clone already is).
    fn refresh(&self) -> Result<bool, GitError> {
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

    fn new(repo: Repo, cloned_now: bool) -> SharedRepo {
        SharedRepo {
            repo,
            cloned_now,
            fetched: Mutex::new(false),
            tags: Mutex::new(None),
            reachable: Mutex::new(None),
            objects: Mutex::new(None),
            trees: Mutex::new(Vec::new()),
        }
    }

    fn tags(&self) -> Result<Arc<TagList>, GitError> {
        if let Some(t) = self.tags.lock().expect("tags").as_ref() {
            return Ok(t.clone());
        }
        let t = Arc::new(self.repo.tags()?);
        *self.tags.lock().expect("tags") = Some(t.clone());
        Ok(t)
    }

    /// Does a branch or tag reach this (full) commit id?
    fn reachable(&self, sha: &str) -> Result<bool, GitError> {
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

    fn tree(&self, commit: &str) -> Result<Arc<Tree>, GitError> {
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

/// One clone per repository URL per run, made by whichever package asks first.
type RepoCell = Arc<OnceCell<Result<Arc<SharedRepo>, String>>>;

pub struct Verifier {
    pub http: Http,
    pub opts: Options,
    repos: Mutex<HashMap<String, RepoCell>>,
    git_permits: Semaphore,
    cpu_permits: Semaphore,
}

/// What download produced.
struct Downloaded {
    bytes: Vec<u8>,
    sha256: String,
}

impl Verifier {
    pub fn new(http: Http, opts: Options) -> Verifier {
        let git_permits = Semaphore::new(opts.git_jobs.max(1));
        let cpu_permits = Semaphore::new(opts.cpu_jobs.max(1));
        Verifier {
            http,
            opts,
            repos: Mutex::default(),
            git_permits,
            cpu_permits,
        }
    }

    /// Resolve only (for `@*` expansion and for skipping already-decided artifacts).
    pub async fn resolve(
        &self,
        eco: Ecosystem,
        name: &str,
        version: Option<&str>,
    ) -> Result<Resolved, RegistryError> {
        let profile = self.opts.profiles.get(eco);
        let cx = RegistryCx {
            http: &self.http,
            profile,
        };
        eco.handler().resolve(&cx, name, version).await
    }

    pub async fn versions(&self, eco: Ecosystem, name: &str) -> Result<Vec<String>, RegistryError> {
        let profile = self.opts.profiles.get(eco);
        let cx = RegistryCx {
            http: &self.http,
            profile,
        };
        eco.handler().versions(&cx, name).await
    }

    /// Verify one package version end to end.
    pub async fn verify(&self, eco: Ecosystem, name: &str, version: Option<&str>) -> PackageResult {
        let started = Instant::now();
        let mut result = PackageResult::pending(eco, name, version);
        let resolved = match self.resolve(eco, name, version).await {
            Ok(r) => r,
            Err(e) => {
                result
                    .findings
                    .push(Finding::new(Code::ArtifactUnavailable, e.to_string()));
                // A version that exists but has no artifact provero can compare is
                // unverifiable, not an error of the input or the tool.
                if !matches!(e, RegistryError::Unsupported(_)) {
                    result.error = Some(e.to_string());
                }
                return finish(result, started);
            }
        };
        self.verify_resolved(resolved, result, started).await
    }

    /// Verify a version the registry already resolved.
    pub async fn verify_resolved(
        &self,
        resolved: Resolved,
        mut result: PackageResult,
        started: Instant,
    ) -> PackageResult {
        let eco = result.package.ecosystem;
        let handler = eco.handler();
        result.package.name = resolved.name.clone();
        result.package.version = resolved.version.clone();
        result.artifact.url = Some(resolved.url.clone());
        result.artifact.expected_sha256 = resolved.sha256.clone();

        let dl = match self.download(eco, &resolved).await {
            Ok(d) => d,
            Err(e) => {
                result.findings.push(Finding::new(
                    Code::ArtifactUnavailable,
                    format!("download failed: {e}"),
                ));
                result.error = Some(format!("download failed: {e}"));
                return finish(result, started);
            }
        };
        result.artifact.sha256 = Some(dl.sha256.clone());
        if let Some(expected) = &resolved.sha256 {
            if !expected.eq_ignore_ascii_case(&dl.sha256) {
                result.findings.push(Finding::new(
                    Code::ChecksumMismatch,
                    format!(
                        "the downloaded artifact has SHA-256 {}, the registry publishes {expected}",
                        dl.sha256
                    ),
                ));
            }
        }

        let pkg = {
            let _cpu = self.cpu_permits.acquire().await.expect("open");
            let r2 = resolved.clone();
            match tokio::task::spawn_blocking(move || handler.read(&r2, &dl.bytes)).await {
                Ok(Ok(p)) => p,
                Ok(Err(e)) => {
                    result.findings.push(e.finding());
                    return finish(result, started);
                }
                Err(e) => {
                    result.error = Some(format!("reading the artifact crashed: {e}"));
                    result.findings.push(Finding::new(
                        Code::ArtifactUnreadable,
                        "reading the artifact failed",
                    ));
                    return finish(result, started);
                }
            }
        };
        result.findings.extend(pkg.findings.iter().cloned());

        // Repository: the artifact's own metadata, then the registry's.
        let mut candidates = pkg.repository.clone();
        if candidates.iter().all(|c| repo_url::normalize(c).is_none()) {
            let profile = self.opts.profiles.get(eco);
            let cx = RegistryCx {
                http: &self.http,
                profile,
            };
            candidates.extend(handler.repository_fallback(&cx, &pkg).await);
            candidates.extend(resolved.repository_hints.iter().cloned());
        }
        let Some(repo_url) = candidates.iter().find_map(|c| repo_url::normalize(c)) else {
            let msg = if candidates.is_empty() {
                "the artifact names no source repository".to_string()
            } else {
                format!(
                    "no usable git repository URL among: {}",
                    candidates.join(", ")
                )
            };
            result.findings.push(Finding::new(Code::NoRepository, msg));
            return finish(result, started);
        };
        result.source.repository = Some(repo_url.url.clone());
        let clone_url = self.opts.rewrites.apply(&repo_url.url);

        let shared = match self.repo(&clone_url).await {
            Ok(r) => r,
            Err(e) => {
                result.findings.push(Finding::new(
                    Code::RepositoryUnreachable,
                    format!("could not fetch {}: {e}", repo_url.url),
                ));
                return finish(result, started);
            }
        };

        let pkg = Arc::new(pkg);
        let tag_hint = pkg.tag_hint.clone().or(repo_url.ref_hint.clone());
        let hint_dir = repo_url.subdir.clone();
        let _git = self.git_permits.acquire().await.expect("open");
        let _cpu = self.cpu_permits.acquire().await.expect("open");
        let p2 = pkg.clone();
        let s2 = shared.clone();
        let cache_dir = self.opts.cache_dir.clone();
        let rewrites = self.opts.rewrites.clone();
        let outcome = tokio::task::spawn_blocking(move || {
            // Submodules come from the same cache, through the same rewrites.
            let opener = move |raw: &str| -> Result<Repo, GitError> {
                let url = repo_url::normalize(raw)
                    .map(|r| r.url)
                    .unwrap_or_else(|| raw.to_string());
                git::open_or_clone(&cache_dir, &rewrites.apply(&url)).map(|(r, _)| r)
            };
            locate_and_compare(handler, &p2, &s2, tag_hint, hint_dir, &opener)
        })
        .await;
        match outcome {
            Ok(Ok(o)) => {
                result.findings.extend(o.findings);
                result.source.commit = o.commit;
                result.source.path_in_repo = o.path_in_repo;
                result.source.tag = o.tag;
                result.excused = o.excused;
                result.stats = o.stats;
            }
            Ok(Err(e)) => {
                result.findings.push(Finding::new(
                    Code::RepositoryUnreachable,
                    format!("git failed on {}: {e}", repo_url.url),
                ));
            }
            Err(e) => {
                result.error = Some(format!("comparison crashed: {e}"));
            }
        }
        finish(result, started)
    }

    async fn download(&self, eco: Ecosystem, r: &Resolved) -> anyhow::Result<Downloaded> {
        let dir = self.opts.cache_dir.join("artifacts").join(eco.as_str());
        let safe_name: String = r
            .filename
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "._-+".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let path = dir.join(&safe_name);
        if let Some(expected) = &r.sha256 {
            if let Ok(bytes) = tokio::fs::read(&path).await {
                let sha = crate::archive::sha256_hex(&bytes);
                if sha.eq_ignore_ascii_case(expected) {
                    return Ok(Downloaded { bytes, sha256: sha });
                }
            }
        }
        let body = self.http.get(&r.url, None).await?;
        let sha256 = crate::archive::sha256_hex(&body.bytes);
        // Only an artifact that matches the registry's digest is worth keeping.
        if r.sha256
            .as_deref()
            .is_some_and(|e| e.eq_ignore_ascii_case(&sha256))
        {
            tokio::fs::create_dir_all(&dir).await?;
            let tmp = path.with_extension(format!("part{}", std::process::id()));
            tokio::fs::write(&tmp, &body.bytes).await?;
            tokio::fs::rename(&tmp, &path).await?;
        }
        Ok(Downloaded {
            bytes: body.bytes,
            sha256,
        })
    }

    /// The shared clone of a URL: cloned at most once per run, whoever asks first.
    async fn repo(&self, url: &str) -> Result<Arc<SharedRepo>, String> {
        let cell = self
            .repos
            .lock()
            .expect("repo map")
            .entry(url.to_string())
            .or_default()
            .clone();
        cell.get_or_init(|| async {
            let _git = self.git_permits.acquire().await.expect("open");
            let root = self.opts.cache_dir.clone();
            let u = url.to_string();
            match tokio::task::spawn_blocking(move || git::open_or_clone(&root, &u)).await {
                Ok(Ok((repo, cloned_now))) => Ok(Arc::new(SharedRepo::new(repo, cloned_now))),
                Ok(Err(e)) => Err(e.to_string()),
                Err(e) => Err(e.to_string()),
            }
        })
        .await
        .clone()
    }

    /// Every repository this run used, for measurements.
    pub fn repos_used(&self) -> Vec<Repo> {
        self.repos
            .lock()
            .expect("repo map")
            .values()
            .filter_map(|c| {
                c.get()
                    .and_then(|r| r.as_ref().ok())
                    .map(|s| s.repo.clone())
            })
            .collect()
    }
}

fn finish(mut r: PackageResult, started: Instant) -> PackageResult {
    r.verdict = Verdict::judge(&r.findings);
    r.duration_ms = started.elapsed().as_millis() as u64;
    r
}

struct Located {
    findings: Vec<Finding>,
    commit: Option<String>,
    path_in_repo: Option<String>,
    tag: Option<String>,
    excused: Vec<crate::compare::Excused>,
    stats: Stats,
}

/// Pick the commit, the package directory, then compare. Runs on a blocking thread.
fn locate_and_compare(
    handler: &'static dyn Handler,
    pkg: &Package,
    shared: &SharedRepo,
    tag_hint: Option<String>,
    hint_dir: Option<String>,
    opener: &crate::source::Opener,
) -> Result<Located, GitError> {
    let repo = &shared.repo;
    let mut out = Located {
        findings: Vec::new(),
        commit: None,
        path_in_repo: None,
        tag: None,
        excused: Vec::new(),
        stats: Stats::default(),
    };
    let same = |a: &str, b: &str| handler.same_version(a, b);

    // Tags marking this version (refreshed once if none match a cached clone).
    let mut tags = matching_tags(
        &shared.tags()?,
        &pkg.name,
        &pkg.version,
        tag_hint.as_deref(),
        &same,
    );
    let tag_stale = tags.is_empty() && shared.refresh()?;
    if tag_stale {
        tags = matching_tags(
            &shared.tags()?,
            &pkg.name,
            &pkg.version,
            tag_hint.as_deref(),
            &same,
        );
    }

    let commit = match &pkg.commit {
        Some(sha) => {
            let found = match shared
                .reachable(sha)?
                .then(|| sha.to_ascii_lowercase())
                .or_else(|| repo.has_commit(sha))
            {
                Some(c) => Some(c),
                None => {
                    shared.refresh()?;
                    repo.has_commit(sha).or_else(|| {
                        let _ = repo.fetch_commit(sha);
                        repo.has_commit(sha)
                    })
                }
            };
            let Some(c) = found else {
                out.findings.push(Finding::new(
                    Code::CommitNotFound,
                    format!(
                        "the recorded commit {sha} is not in {} (never pushed, or history rewritten){}",
                        repo_display(repo),
                        tags.first().map(|t| format!("; tag `{}` points to {}", t.tag, short(&t.commit))).unwrap_or_default()
                    ),
                ));
                out.commit = Some(sha.clone());
                return Ok(out);
            };
            // Only a tag whose manifest declares this version speaks for it: in a monorepo a
            // bare `v0.9.3` may mark another crate's release.
            if let Some((tag, tag_commit, true)) = pick_tag(handler, pkg, shared, &tags)? {
                out.tag = Some(tag.clone());
                if tag_commit != c {
                    out.findings.push(Finding::new(
                        Code::TagDisagrees,
                        format!(
                            "tag `{tag}` points to {}, the package records {}",
                            short(&tag_commit),
                            short(&c)
                        ),
                    ));
                }
            }
            let mut reachable = shared.reachable(&c)?;
            if !reachable && shared.refresh()? {
                reachable = shared.reachable(&c)?;
            }
            if !reachable {
                out.findings.push(Finding::new(
                    Code::CommitNotOnBranch,
                    format!(
                        "commit {} exists but no branch or tag reaches it",
                        short(&c)
                    ),
                ));
            }
            c
        }
        None => match pick_tag(handler, pkg, shared, &tags)? {
            Some((tag, tag_commit, _)) => {
                out.findings.push(Finding::new(
                    Code::CommitFromTag,
                    format!(
                        "no recorded commit; using tag `{tag}` ({})",
                        short(&tag_commit)
                    ),
                ));
                out.tag = Some(tag);
                tag_commit
            }
            None => match commit_from_anchor(handler, pkg, shared)? {
                Some((anchor, c)) => {
                    out.findings.push(Finding::new(
                        Code::CommitFromManifest,
                        format!(
                            "no recorded commit and no tag; using {}, the newest commit whose tree has the published `{anchor}`",
                            short(&c)
                        ),
                    ));
                    c
                }
                None => {
                    out.findings.push(Finding::new(
                        Code::NoCommit,
                        format!(
                            "the artifact records no commit, no tag of {} matches version {}, and no commit has its manifest",
                            repo_display(repo),
                            pkg.version
                        ),
                    ));
                    return Ok(out);
                }
            },
        },
    };
    if pkg.dirty {
        out.findings.push(Finding::new(
            Code::Dirty,
            "the packager recorded uncommitted changes in the working tree",
        ));
    }
    out.commit = Some(commit.clone());
    let tree = shared.tree(&commit)?;
    let pkg_dir = package_dir(handler, pkg, repo, &tree, &commit, hint_dir.as_deref());
    out.path_in_repo = Some(pkg_dir.clone());
    let view = SourceView::new(repo, &tree, &commit, &pkg_dir).with_submodules(opener);
    if pkg.commit.is_none() {
        // The tag was checked when picked; say so if the manifest still disagrees.
        if let Some((_, Some(v))) = handler.source_identity(pkg, &view) {
            if !handler.same_version(&v, &pkg.version) {
                out.findings.push(Finding::new(
                    Code::VersionDisagrees,
                    format!(
                        "the source manifest at `{}` declares version {v}, the registry {}",
                        out.tag.as_deref().unwrap_or(""),
                        pkg.version
                    ),
                ));
            }
        }
    }
    let cmp = compare(handler, pkg, &view)?;
    out.findings.extend(cmp.findings);
    out.findings.extend(handler.package_findings(pkg, &view));
    out.stats = Stats {
        files: cmp.files,
        identical: cmp.identical,
        excused: cmp.excused.len(),
    };
    out.excused = cmp.excused;
    Ok(out)
}

fn repo_display(repo: &Repo) -> String {
    repo.url.clone()
}

/// Without a commit or a tag: the newest commit that put an anchor file (a manifest
/// that carries the version) byte for byte. Found from blob ids alone, no content fetched.
/// Every other file is still compared against that commit, so a wrong pick shows as findings.
fn commit_from_anchor(
    handler: &'static dyn Handler,
    pkg: &Package,
    shared: &SharedRepo,
) -> Result<Option<(String, String)>, GitError> {
    for (anchor, file_name) in handler.anchor_files(pkg) {
        let Some(data) = pkg.files.data(&anchor) else {
            continue;
        };
        let oid = crate::archive::git_blob_id(data);
        if let Some(c) = shared
            .repo
            .commits_adding(&oid, &file_name)?
            .into_iter()
            .next()
        {
            return Ok(Some((anchor, c)));
        }
    }
    Ok(None)
}

/// The first matching tag whose manifest declares this version (`true`: confirmed, or the
/// version is not static); else the best-ranked tag, unconfirmed.
fn pick_tag(
    handler: &'static dyn Handler,
    pkg: &Package,
    shared: &SharedRepo,
    tags: &[crate::tags::TagMatch],
) -> Result<Option<(String, String, bool)>, GitError> {
    let repo = &shared.repo;
    for t in tags.iter().take(8) {
        let tree = shared.tree(&t.commit)?;
        let dir = package_dir(handler, pkg, repo, &tree, &t.commit, None);
        let view = SourceView::new(repo, &tree, &t.commit, &dir);
        seed_anchors(handler, pkg, &view);
        match handler.source_identity(pkg, &view) {
            Some((_, Some(v))) if !handler.same_version(&v, &pkg.version) => continue,
            _ => return Ok(Some((t.tag.clone(), t.commit.clone(), true))),
        }
    }
    Ok(tags
        .first()
        .map(|t| (t.tag.clone(), t.commit.clone(), false)))
}

/// Manifests the artifact carries are usually the source's, byte for byte: seed them so that
/// reading the source manifest at a tag or while searching for the package needs no fetch.
fn seed_anchors(handler: &'static dyn Handler, pkg: &Package, view: &SourceView<'_>) {
    for (anchor, _) in handler.anchor_files(pkg) {
        if let Some(data) = pkg.files.data(&anchor) {
            view.seed(&crate::archive::git_blob_id(data), data);
        }
    }
}

/// The package directory: recorded `path_in_vcs` when the tree has it, else the ecosystem's
/// search, else a directory named by the repository URL, else the root.
fn package_dir(
    handler: &'static dyn Handler,
    pkg: &Package,
    repo: &Repo,
    tree: &Tree,
    commit: &str,
    hint_dir: Option<&str>,
) -> String {
    if let Some(p) = &pkg.path_in_vcs {
        if p.is_empty() || tree.get(p).is_some() {
            return p.clone();
        }
    }
    let view = SourceView::new(repo, tree, commit, "");
    seed_anchors(handler, pkg, &view);
    let dirs = handler.package_dirs(pkg, &view);
    if let Some(h) = hint_dir {
        if dirs.iter().any(|d| d == h) {
            return h.to_string();
        }
    }
    if let Some(d) = dirs.into_iter().next() {
        return d;
    }
    match hint_dir {
        Some(h) if tree.get(h).is_some() => h.to_string(),
        _ => String::new(),
    }
}

//! Locating the source of one package in its repository: the commit the evidence names (a
//! verified attestation, trusted-publishing data, the packager's record, in that order: see
//! `attest::evidence`; checked for presence and reachability), else a tag whose manifest
//! declares the version, else the newest commit holding the published manifest; then the
//! package directory; then the comparison. Runs on a blocking thread.

use crate::archive::Content;
use crate::attest::evidence::{Claim, CommitFrom};
use crate::best_commit::{self, Wanted};
use crate::compare::{compare, short};
use crate::ecosystem::{Handler, Package};
use crate::finding::{Code, Finding, FoundIn, Severity};
use crate::git::{GitError, Repo, Tree};
use crate::history::Whereabouts;
use crate::report::Stats;
use crate::shared_repo::SharedRepo;
use crate::source::{Lookup, SourceView};
use crate::tags::{matching_tags, neighbours};

pub(crate) struct Located {
    pub(crate) findings: Vec<Finding>,
    pub(crate) commit: Option<String>,
    pub(crate) path_in_repo: Option<String>,
    pub(crate) tag: Option<String>,
    /// Where `commit` came from.
    pub(crate) commit_from: Option<CommitFrom>,
    pub(crate) excused: Vec<crate::compare::Excused>,
    pub(crate) stats: Stats,
}

/// Pick the commit (`claim`: the strongest evidence's, if any), the package directory, then
/// compare. Runs on a blocking thread.
pub(crate) fn locate_and_compare(
    handler: &'static dyn Handler,
    pkg: &Package,
    claim: Option<&Claim>,
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
        commit_from: None,
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

    let commit = match claim {
        Some(claim) => {
            let sha = &claim.commit;
            out.commit_from = Some(claim.from);
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
                        "{} is not in {} (never pushed, or history rewritten){}",
                        claim.from.the_commit(sha),
                        repo_display(repo),
                        tags.first()
                            .map(|t| format!("; tag `{}` points to {}", t.tag, short(&t.commit)))
                            .unwrap_or_default()
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
                            "tag `{tag}` points to {}, {} {}",
                            short(&tag_commit),
                            claim.from.names(),
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
                out.commit_from = Some(CommitFrom::Tag);
                tag_commit
            }
            None => match commit_from_anchor(handler, pkg, shared)? {
                Some((anchor, c)) => {
                    out.commit_from = Some(CommitFrom::Manifest);
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
                    if let Some((c, at, why)) =
                        between_tags(handler, pkg, shared, hint_dir.as_deref(), opener)?
                    {
                        out.findings
                            .push(Finding::new(Code::CommitBetweenTags, why));
                        out.commit_from = Some(CommitFrom::BetweenTags);
                        return finish(out, at, c, pkg, shared);
                    }
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
    let mut at = compare_at(
        handler,
        pkg,
        shared,
        &commit,
        hint_dir.as_deref(),
        opener,
        out.tag.as_deref(),
        claim.is_none(),
    )?;
    let mut commit = commit;
    // A guessed commit that leaves red flags: is the package exactly another commit?
    if claim.is_none() && has_red_flag(&at.findings) {
        let mut seeds = vec![commit.clone()];
        seeds.extend(manifest_introductions(handler, pkg, shared));
        if let Some((better, found)) = search(
            handler,
            pkg,
            shared,
            &seeds,
            &at,
            None,
            &[&commit],
            hint_dir.as_deref(),
            opener,
            out.tag.as_deref(),
        )? {
            let guessed = match &out.tag {
                Some(t) => format!("tag `{t}` points to {}", short(&commit)),
                None => format!(
                    "the commit found by the published manifest is {}",
                    short(&commit)
                ),
            };
            out.findings.push(Finding::new(
                Code::ExactCommitElsewhere,
                format!(
                    "{guessed}, but the package is exactly {}: every file matches there, so it is verified against {}",
                    short(&better),
                    short(&better)
                ),
            ));
            commit = better;
            at = found;
            out.commit_from = Some(CommitFrom::BestCommit);
        }
    }
    finish(out, at, commit, pkg, shared)
}

/// Record the comparison in the result, with the evidence for each red flag.
fn finish(
    mut out: Located,
    mut at: AtCommit,
    commit: String,
    pkg: &Package,
    shared: &SharedRepo,
) -> Result<Located, GitError> {
    add_evidence(pkg, shared, &mut at.findings);
    out.commit = Some(commit);
    out.path_in_repo = Some(at.path_in_repo);
    out.findings.extend(at.findings);
    out.stats = at.stats;
    out.excused = at.excused;
    Ok(out)
}

/// The comparison of the package with one commit.
pub(crate) struct AtCommit {
    findings: Vec<Finding>,
    path_in_repo: String,
    excused: Vec<crate::compare::Excused>,
    stats: Stats,
    /// The red-flagged files, where this commit's tree was looked at, with the artifact's blob
    /// ids: what a better commit must hold.
    wanted: Vec<Wanted>,
}

fn has_red_flag(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.severity == Severity::RedFlag)
}

/// Compare the package with `commit`: package directory, every file, whole-package checks.
/// A `guessed` commit (no evidence named it) is checked for the version its manifest declares.
#[allow(clippy::too_many_arguments)]
fn compare_at(
    handler: &'static dyn Handler,
    pkg: &Package,
    shared: &SharedRepo,
    commit: &str,
    hint_dir: Option<&str>,
    opener: &crate::source::Opener,
    tag: Option<&str>,
    guessed: bool,
) -> Result<AtCommit, GitError> {
    let repo = &shared.repo;
    let mut findings = Vec::new();
    let tree = shared.tree(commit)?;
    let pkg_dir = package_dir(handler, pkg, repo, &tree, commit, hint_dir);
    let view = SourceView::new(repo, &tree, commit, &pkg_dir).with_submodules(opener);
    if guessed {
        // The tag was checked when picked; say so if the manifest still disagrees.
        if let Some((_, Some(v))) = handler.source_identity(pkg, &view) {
            if !handler.same_version(&v, &pkg.version) {
                findings.push(Finding::new(
                    Code::VersionDisagrees,
                    format!(
                        "the source manifest at `{}` declares version {v}, the registry {}",
                        tag.unwrap_or(short(commit)),
                        pkg.version
                    ),
                ));
            }
        }
    }
    let cmp = compare(handler, pkg, &view)?;
    findings.extend(cmp.findings);
    findings.extend(handler.package_findings(pkg, &view));
    let wanted = findings
        .iter()
        // A file a rule judged (a rewritten manifest compared as data) cannot match by bytes.
        .filter(|f| f.severity == Severity::RedFlag && f.rule.is_none())
        .filter_map(|f| f.path.as_deref())
        .filter_map(|p| {
            let data = pkg.files.data(p)?;
            let path = handler
                .source_path(pkg, &view, p)
                .unwrap_or_else(|| view.in_pkg(p));
            let rel = match pkg_dir.as_str() {
                "" => path,
                d => path.strip_prefix(&format!("{d}/"))?.to_string(),
            };
            Some(Wanted {
                rel,
                blob: crate::archive::git_blob_id(data),
            })
        })
        .collect();
    Ok(AtCommit {
        findings,
        path_in_repo: pkg_dir,
        stats: Stats {
            files: cmp.files,
            identical: cmp.identical,
            excused: cmp.excused.len(),
        },
        excused: cmp.excused,
        wanted,
    })
}

/// Commits near the seeds that hold every red-flagged file of `at`, compared in full; the
/// first without any red flag wins.
#[allow(clippy::too_many_arguments)]
fn search(
    handler: &'static dyn Handler,
    pkg: &Package,
    shared: &SharedRepo,
    seeds: &[String],
    at: &AtCommit,
    within: Option<&[bool]>,
    skip: &[&str],
    hint_dir: Option<&str>,
    opener: &crate::source::Opener,
    tag: Option<&str>,
) -> Result<Option<(String, AtCommit)>, GitError> {
    // With nothing byte-comparable to ask for (only rule-judged red flags), the nearest
    // commits are compared in full, still at most `MAX_FULL` of them.
    // A file whose content is in no commit (a manifest the packager rewrote, or a real red
    // flag) cannot be matched by bytes: only the full comparison (rules) decides it.
    let mut wanted = at.wanted.clone();
    let mut dirs = vec![at.path_in_repo.clone()];
    if let Ok(index) = shared.blob_index() {
        wanted.retain(|w| index.find(&w.blob) != Whereabouts::Nowhere);
        // Where the published manifests were committed: the package directory of a package
        // that moved, or that the guess placed in the wrong directory.
        for (anchor, file_name) in handler.anchor_files(pkg) {
            let Some(data) = pkg.files.data(&anchor) else {
                continue;
            };
            if let Whereabouts::Found(s) = index.find(&crate::archive::git_blob_id(data)) {
                let dir = match s.path.strip_suffix(&file_name) {
                    Some(d) => d.trim_end_matches('/').to_string(),
                    None => continue,
                };
                if !dirs.contains(&dir) {
                    dirs.push(dir);
                }
            }
        }
    }
    let found = best_commit::candidates(shared, seeds, &wanted, &dirs, within, skip)?;
    tracing::debug!(
        "{} {}: {} candidate commit(s) hold the {} red-flagged file(s)",
        pkg.name,
        pkg.version,
        found.len(),
        wanted.len()
    );
    for c in found {
        let found = compare_at(handler, pkg, shared, &c, hint_dir, opener, tag, true)?;
        if !has_red_flag(&found.findings) {
            return Ok(Some((c, found)));
        }
    }
    Ok(None)
}

/// The commits that first put the published manifests in the tree (from the history's blob
/// index): seeds for the search, since the packaged commit holds the same manifest.
fn manifest_introductions(
    handler: &'static dyn Handler,
    pkg: &Package,
    shared: &SharedRepo,
) -> Vec<String> {
    let Ok(index) = shared.blob_index() else {
        return Vec::new();
    };
    handler
        .anchor_files(pkg)
        .into_iter()
        .filter_map(|(anchor, _)| {
            let data = pkg.files.data(&anchor)?;
            match index.find(&crate::archive::git_blob_id(data)) {
                Whereabouts::Found(s) => Some(s.commit),
                _ => None,
            }
        })
        .collect()
}

/// Say, for every file that differs from or is absent at the commit, whether its exact content
/// is anywhere in the repository's history: a commit and path, or nowhere.
fn add_evidence(pkg: &Package, shared: &SharedRepo, findings: &mut [Finding]) {
    let targets: Vec<usize> = findings
        .iter()
        .enumerate()
        .filter(|(_, f)| matches!(f.code, Code::ContentDiffers | Code::FileNotInSource))
        .filter(|(_, f)| f.path.as_deref().and_then(|p| pkg.files.data(p)).is_some())
        .map(|(i, _)| i)
        .collect();
    if targets.is_empty() {
        return;
    }
    let index = match shared.blob_index() {
        Ok(i) => i,
        Err(e) => {
            tracing::debug!("no blob index of {}: {e}", shared.repo.url);
            return;
        }
    };
    for i in targets {
        let f = &mut findings[i];
        let Some(data) = f.path.as_deref().and_then(|p| pkg.files.data(p)) else {
            continue;
        };
        match index.find(&crate::archive::git_blob_id(data)) {
            Whereabouts::Found(s) => {
                f.message = format!(
                    "{}; this exact content is in commit {} at `{}`",
                    f.message,
                    short(&s.commit),
                    s.path
                );
                f.found_in = Some(FoundIn {
                    commit: Some(s.commit),
                    path: Some(s.path),
                });
            }
            Whereabouts::Nowhere => {
                f.message = format!(
                    "{}; this exact content is in no commit of the repository",
                    f.message
                );
                f.found_in = Some(FoundIn::nowhere());
            }
            Whereabouts::Unknown => {}
        }
    }
}

/// No recorded commit, no tag, no commit with the manifest: the commits between the
/// neighbouring releases' tags, nearest to them first, for one where every file matches.
fn between_tags(
    handler: &'static dyn Handler,
    pkg: &Package,
    shared: &SharedRepo,
    hint_dir: Option<&str>,
    opener: &crate::source::Opener,
) -> Result<Option<(String, AtCommit, String)>, GitError> {
    let (prev, next) = neighbours(&shared.tags()?, &pkg.name, &pkg.version);
    tracing::debug!(
        "{} {}: no tag; neighbouring release tags {:?} and {:?}",
        pkg.name,
        pkg.version,
        prev.as_ref().map(|t| &t.tag),
        next.as_ref().map(|t| &t.tag)
    );
    let seeds: Vec<String> = prev.iter().chain(&next).map(|t| t.commit.clone()).collect();
    let Some(first) = seeds.first() else {
        return Ok(None);
    };
    let names = match (&prev, &next) {
        (Some(p), Some(n)) => format!("between tags `{}` and `{}`", p.tag, n.tag),
        (Some(p), None) => format!("after tag `{}`", p.tag),
        (None, Some(n)) => format!("before tag `{}`", n.tag),
        (None, None) => unreachable!("there is a seed"),
    };
    let why = |c: &str| {
        format!(
            "no recorded commit and no tag of version {}; {}, {names}, matches every file",
            pkg.version,
            short(c)
        )
    };
    let within = best_commit::between(
        shared,
        prev.as_ref().map(|t| t.commit.as_str()),
        next.as_ref().map(|t| t.commit.as_str()),
    )?;
    // The nearest release's tree tells which files a candidate must hold.
    let at = compare_at(handler, pkg, shared, first, hint_dir, opener, None, true)?;
    if !has_red_flag(&at.findings) {
        return Ok(Some((first.clone(), at, why(first))));
    }
    Ok(search(
        handler,
        pkg,
        shared,
        &seeds,
        &at,
        Some(&within),
        &[first],
        hint_dir,
        opener,
        None,
    )?
    .map(|(c, found)| {
        let w = why(&c);
        (c, found, w)
    }))
}

fn repo_display(repo: &Repo) -> String {
    repo.url.clone()
}

/// Without a commit or a tag: the newest commit that put an anchor file (a manifest
/// that carries the version) byte for byte. Found from blob ids alone, no content fetched,
/// in the repository's [`AnchorIndex`](crate::history::AnchorIndex) of that file name.
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
        if let Some(c) = shared.anchor_index(&file_name)?.newest(&oid) {
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
    let mut others = Vec::new();
    for t in tags.iter().take(8) {
        let tree = shared.tree(&t.commit)?;
        let dir = package_dir(handler, pkg, repo, &tree, &t.commit, None);
        let view = SourceView::new(repo, &tree, &t.commit, &dir);
        seed_anchors(handler, pkg, &view);
        match handler.source_identity(pkg, &view) {
            // In a monorepo a bare `v0.1.0` may be another package's release.
            Some((n, _)) if !same_name(&n, &pkg.name) => others.push(t.tag.as_str()),
            Some((_, Some(v))) if !handler.same_version(&v, &pkg.version) => continue,
            _ => return Ok(Some((t.tag.clone(), t.commit.clone(), true))),
        }
    }
    Ok(tags
        .iter()
        .find(|t| !others.contains(&t.tag.as_str()))
        .map(|t| (t.tag.clone(), t.commit.clone(), false)))
}

/// Package names as the registries compare them: case, `-`, `_` and `.` aside.
fn same_name(a: &str, b: &str) -> bool {
    let norm = |s: &str| s.to_ascii_lowercase().replace(['_', '.'], "-");
    norm(a) == norm(b)
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
    let mut dirs = handler.package_dirs(pkg, &view);
    if dirs.len() > 1 {
        // Several directories declare this package (a moved package, a vendored or
        // precompiled copy): keep those holding the most of the artifact's files.
        dirs = most_files_in(handler, pkg, &view, dirs);
    }
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

/// Of `dirs` (in the ecosystem's order), those where the most files of the artifact are, byte
/// for byte by blob id, at the same path (symlinks followed, as the packager did; its
/// manifests where the packager wrote the source's under another name: `Cargo.toml.orig`).
/// The package was made from one of them.
fn most_files_in(
    handler: &'static dyn Handler,
    pkg: &Package,
    root: &SourceView<'_>,
    dirs: Vec<String>,
) -> Vec<String> {
    let mut blobs: Vec<(String, String)> = pkg
        .files
        .map
        .iter()
        .filter_map(|(path, c)| match c {
            Content::File { data, .. } => Some((path.clone(), crate::archive::git_blob_id(data))),
            Content::Streamed { blob_id, .. } => Some((path.clone(), blob_id.clone())),
            Content::Symlink { .. } => None,
        })
        .collect();
    for (anchor, file_name) in handler.anchor_files(pkg) {
        if anchor != file_name {
            if let Some(data) = pkg.files.data(&anchor) {
                blobs.push((file_name, crate::archive::git_blob_id(data)));
            }
        }
    }
    let held = |dir: &str| {
        blobs
            .iter()
            .filter(|(path, blob)| {
                let at = crate::source::join(dir, path);
                matches!(root.lookup(&at), Ok(Lookup::Found { entry, .. }) if &entry.oid == blob)
            })
            .count()
    };
    let counts: Vec<usize> = dirs.iter().map(|d| held(d)).collect();
    let most = counts.iter().copied().max().unwrap_or(0);
    tracing::debug!(
        "{} {}: directories declaring it, with the artifact's files each holds: {:?}",
        pkg.name,
        pkg.version,
        dirs.iter().zip(&counts).collect::<Vec<_>>()
    );
    dirs.into_iter()
        .zip(counts)
        .filter(|&(_, n)| n == most)
        .map(|(d, _)| d)
        .collect()
}

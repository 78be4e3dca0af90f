//! Locating the source of one package in its repository: the recorded commit (checked for
//! presence and reachability), else a tag whose manifest declares the version, else the newest
//! commit holding the published manifest; then the package directory; then the comparison.
//! Runs on a blocking thread.

use crate::compare::{compare, short};
use crate::ecosystem::{Handler, Package};
use crate::finding::{Code, Finding};
use crate::git::{GitError, Repo, Tree};
use crate::report::Stats;
use crate::shared_repo::SharedRepo;
use crate::source::SourceView;
use crate::tags::matching_tags;

pub(crate) struct Located {
    pub(crate) findings: Vec<Finding>,
    pub(crate) commit: Option<String>,
    pub(crate) path_in_repo: Option<String>,
    pub(crate) tag: Option<String>,
    pub(crate) excused: Vec<crate::compare::Excused>,
    pub(crate) stats: Stats,
}

/// Pick the commit, the package directory, then compare. Runs on a blocking thread.
pub(crate) fn locate_and_compare(
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

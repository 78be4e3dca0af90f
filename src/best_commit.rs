//! The best commit when the commit was guessed. A tag may name a re-made or rewritten commit, and
//! the commit that introduced a published manifest is often not the one packaged (several commits
//! hold the same manifest blob); an sdist may be built one commit after its tag. When the guessed
//! commit leaves red flags, nearby commits are searched for one that holds every red-flagged file
//! byte for byte (blob ids read from trees only: no blob is fetched), and the package is compared
//! in full against the few that do. Only a comparison without any red flag is accepted, so the
//! search can never turn a file that is in no commit into a pass. A recorded commit (vcs info,
//! `scm_version.json`, an attestation) is never second-guessed: this runs only for guesses.
//!
//! Bounds, so that a repository with 10,000 commits holding the same manifest does not explode:
//! the walk visits at most [`MAX_VISITS`] commits, nearest first by parent/child steps from the
//! seeds (the guessed commit and the commits that introduced the published manifest), reading
//! only the trees on the path of each wanted file; at most [`MAX_FULL`] candidates are compared
//! in full.

use crate::git::GitError;
use crate::shared_repo::SharedRepo;

/// Commits whose trees are looked at, per package.
pub const MAX_VISITS: usize = 1_000;

/// Candidates compared in full, per package.
pub const MAX_FULL: usize = 4;

/// A file a candidate must hold byte for byte: its path relative to the package directory and
/// its blob id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub rel: String,
    pub blob: String,
}

/// Does a manifest name this version literally (`"1.2.3"`, `'1.2.3'`, or an INI line
/// `version = 1.2.3`)? Only such a manifest identifies one release, so only such a manifest
/// serves as an anchor where the ecosystem's manifest may leave the version dynamic.
pub fn names_version(data: &[u8], version: &str) -> bool {
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    text.contains(&format!("\"{version}\""))
        || text.contains(&format!("'{version}'"))
        || text.lines().any(|l| {
            l.split_once('=').is_some_and(|(k, v)| {
                k.trim().eq_ignore_ascii_case("version") && v.trim() == version
            })
        })
}

fn dag_error(shared: &SharedRepo, e: String) -> GitError {
    GitError::Failed {
        action: "rev-list --parents".into(),
        url: shared.repo.url.clone(),
        stderr: e,
    }
}

/// Up to [`MAX_FULL`] commits other than `skip` that hold every wanted file in one of `dirs`
/// (package directories: the guessed one, and where the published manifest was committed, for a
/// package that moved), nearest to the seeds first; `within` (one flag per commit of the graph)
/// keeps the walk inside a range.
pub fn candidates(
    shared: &SharedRepo,
    seeds: &[String],
    wanted: &[Wanted],
    dirs: &[String],
    within: Option<&[bool]>,
    skip: &[&str],
) -> Result<Vec<String>, GitError> {
    let dag = shared.dag().map_err(|e| dag_error(shared, e))?;
    let mut out = Vec::new();
    for c in dag.nearest(seeds, MAX_VISITS, within) {
        if skip.contains(&c.as_str()) {
            continue;
        }
        if holds_all(shared, &c, wanted, dirs)? {
            out.push(c);
            if out.len() >= MAX_FULL {
                break;
            }
        }
    }
    Ok(out)
}

/// Does `commit` hold every wanted file under one of the directories?
fn holds_all(
    shared: &SharedRepo,
    commit: &str,
    wanted: &[Wanted],
    dirs: &[String],
) -> Result<bool, GitError> {
    'dirs: for d in dirs {
        for w in wanted {
            match shared.entry_at(commit, &crate::source::join(d, &w.rel))? {
                Some((_, oid)) if oid == w.blob => {}
                _ => continue 'dirs,
            }
        }
        return Ok(true);
    }
    Ok(false)
}

/// The commit range between the neighbouring releases' tag commits (either may be absent).
pub fn between(
    shared: &SharedRepo,
    after: Option<&str>,
    before: Option<&str>,
) -> Result<Vec<bool>, GitError> {
    let dag = shared.dag().map_err(|e| dag_error(shared, e))?;
    Ok(dag.between(after, before))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_names_its_version_only_literally() {
        assert!(names_version(b"[project]\nversion = \"1.2.3\"\n", "1.2.3"));
        assert!(names_version(b"setup(version='1.2.3')", "1.2.3"));
        assert!(names_version(b"[metadata]\nversion = 1.2.3\n", "1.2.3"));
        assert!(!names_version(b"[metadata]\nversion = 1.2.30\n", "1.2.3"));
        assert!(!names_version(b"setup(version='1.2.30')", "1.2.3"));
        assert!(!names_version(b"spec.version = Foo::VERSION", "1.2.3"));
    }
}

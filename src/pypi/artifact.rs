//! Reading an sdist (wheels: `wheel.rs`): a `.tar.gz` (or legacy `.zip`) whose entries share one top directory,
//! `name-version/`. Its `PKG-INFO` names the repository: `Project-URL`s labelled like a source
//! link first, then the home page, keeping only URLs on git hosts. Git-host URLs in the long
//! description are kept apart: they are the last resort, after the JSON API's project URLs.

use std::collections::HashMap;

use super::normalize_name;
use super::pkginfo::{self, PkgInfo};
use super::wheel::WheelInfo;
use super::zipread::read_zip;
use crate::archive::{into_files, read_tar_gz, ArchiveError, Files, Limits, Root};
use crate::ecosystem::{Package, Resolved};
use crate::repo_url::{is_git_host, normalize};

/// What the PyPI rules and checks need from the sdist.
#[derive(Debug, Default)]
pub struct PypiMeta {
    /// The sdist's `PKG-INFO` (root, else the one in `*.egg-info/`).
    pub pkg_info: Option<PkgInfo>,
    /// Where `PKG-INFO` was read from.
    pub pkg_info_path: Option<String>,
    /// Repository URLs mentioned in the long description, most mentioned first.
    pub description_repos: Vec<String>,
    /// Set when the artifact is a wheel (its `METADATA` is `pkg_info`).
    pub wheel: Option<WheelInfo>,
}

/// A wheel (`.whl`) or an sdist.
pub fn read(resolved: &Resolved, bytes: &[u8]) -> Result<Package, ArchiveError> {
    if resolved.filename.ends_with(".whl") {
        return super::wheel::read(resolved, bytes);
    }
    // Large files of the sdist are hashed as a stream, not held (several sdists in flight).
    let limits = Limits::streaming();
    let raw = if resolved.filename.ends_with(".zip") {
        read_zip(bytes, limits)?
    } else {
        read_tar_gz(bytes, limits)?
    };
    let (files, findings) = into_files(raw, Root::SingleTopDir);
    if files.is_empty() {
        return Err(ArchiveError::Unreadable("the sdist holds no files".into()));
    }
    let pkg_info = find_pkg_info(&files);
    Ok(package(resolved, files, findings, pkg_info, None))
}

/// setuptools-scm (10.1+) records the commit it built from in `*.egg-info/scm_version.json`:
/// `"node": "g<40 hex>"` and `"dirty"`. That is a recorded commit, like cargo's vcs info; a
/// short or missing node records nothing (tags are used then).
pub fn scm_record(files: &Files) -> Option<(Option<String>, bool)> {
    let data = egg_info_file(files, "scm_version.json")?;
    let v: serde_json::Value = serde_json::from_slice(data).ok()?;
    let node = v.get("node")?.as_str()?;
    let sha = node.strip_prefix('g').unwrap_or(node).to_ascii_lowercase();
    let full = sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit());
    let dirty = v.get("dirty").and_then(|d| d.as_bool()).unwrap_or(false);
    Some((full.then_some(sha), dirty))
}

/// The bytes of `<dir>.egg-info/<name>` at the sdist root (one egg-info level deep).
fn egg_info_file<'f>(files: &'f Files, name: &str) -> Option<&'f [u8]> {
    let (_, content) = files.map.iter().find(|(p, _)| {
        let mut parts = p.rsplit('/');
        parts.next() == Some(name)
            && parts.next().is_some_and(|d| d.ends_with(".egg-info"))
            && parts.next().is_none()
    })?;
    match content {
        crate::archive::Content::File { data, .. } => Some(data),
        _ => None,
    }
}

/// pbr records the commit it built from in `*.egg-info/pbr.json` (`git_version`, abbreviated).
/// It is the build's record only when the project builds with pbr (`generated::builds_with_pbr`
/// on the sdist's own configuration): older pbr wrote the file for every project, and a stale copy
/// in a long-lived egg-info directory names some earlier commit.
pub fn pbr_record(files: &Files) -> Option<String> {
    let data = egg_info_file(files, "pbr.json")?;
    // The sdist carries the build configuration it was built from.
    let config = super::source::ProjectFiles {
        pyproject: files
            .text("pyproject.toml")
            .and_then(|t| t.parse::<toml::Table>().ok()),
        setup_cfg: files
            .text("setup.cfg")
            .map(|t| super::pyconfig::parse_ini(&t)),
        setup_py: files.text("setup.py"),
    };
    if !super::generated::builds_with_pbr(&config) || !super::generated::is_pbr_json(data) {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(data).ok()?;
    let sha = v.get("git_version")?.as_str()?.to_ascii_lowercase();
    (sha.len() >= 7).then_some(sha)
}

/// The package with the repository candidates its core metadata (`PKG-INFO`, a wheel's
/// `METADATA`: path and text) names.
pub fn package(
    resolved: &Resolved,
    files: Files,
    findings: Vec<crate::finding::Finding>,
    pkg_info: Option<(String, String)>,
    wheel: Option<WheelInfo>,
) -> Package {
    let (pkg_info_path, pkg_info) = match pkg_info {
        Some((p, text)) => (Some(p), Some(pkginfo::parse(&text))),
        None => (None, None),
    };
    let mut repository = Vec::new();
    let mut description_repos = Vec::new();
    if let Some(info) = &pkg_info {
        repository = rank_urls(&info.project_urls, info.home_page.as_deref());
        // A long description links to many repositories; only one named like the project
        // can be its own (docutils' description links to recommonmark's).
        description_repos = urls_in_text(&info.description)
            .into_iter()
            .filter(|u| named_like(u, &resolved.name))
            .collect();
    }
    // The name as the author spells it (tags use it), when it is the same project.
    let name = pkg_info
        .as_ref()
        .and_then(|i| i.name.clone())
        .filter(|n| normalize_name(n) == normalize_name(&resolved.name))
        .unwrap_or_else(|| resolved.name.clone());
    let (commit, dirty) = scm_record(&files)
        .or_else(|| pbr_record(&files).map(|c| (Some(c), false)))
        .unwrap_or((None, false));
    Package {
        name,
        version: resolved.version.clone(),
        files,
        findings,
        repository,
        commit,
        dirty,
        path_in_vcs: None,
        tag_hint: None,
        meta: Box::new(PypiMeta {
            pkg_info,
            pkg_info_path,
            description_repos,
            wheel,
        }),
    }
}

fn find_pkg_info(files: &Files) -> Option<(String, String)> {
    if let Some(t) = files.text("PKG-INFO") {
        return Some(("PKG-INFO".into(), t));
    }
    files
        .map
        .keys()
        .find(|p| {
            p.ends_with("/PKG-INFO")
                && p.rsplit('/')
                    .nth(1)
                    .is_some_and(|d| d.ends_with(".egg-info"))
        })
        .and_then(|p| Some((p.clone(), files.text(p)?)))
}

/// Label spellings that mean "the source code", compared lower-case without punctuation.
const SOURCE_LABELS: [&str; 10] = [
    "source",
    "sourcecode",
    "sources",
    "repository",
    "repo",
    "code",
    "github",
    "gitlab",
    "git",
    "sourcerepository",
];
const HOME_LABELS: [&str; 3] = ["homepage", "home", "projecthomepage"];

fn label_key(label: &str) -> String {
    label
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Repository candidates, best first: source-like `Project-URL`s, then `Homepage`, then
/// `Home-page`, then any other `Project-URL` (issues, changelog) on a git host. Only URLs on
/// git hosts are kept, de-duplicated by their normalised repository.
pub fn rank_urls(project_urls: &[(String, String)], home_page: Option<&str>) -> Vec<String> {
    let mut ranked: Vec<(u8, &str)> = Vec::new();
    for (label, url) in project_urls {
        let k = label_key(label);
        let rank = if SOURCE_LABELS.contains(&k.as_str()) {
            0
        } else if HOME_LABELS.contains(&k.as_str()) {
            1
        } else {
            3
        };
        ranked.push((rank, url));
    }
    if let Some(h) = home_page {
        ranked.push((2, h));
    }
    ranked.sort_by_key(|(r, _)| *r);
    let mut out: Vec<String> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for (_, url) in ranked {
        if !plausible_repo(url) {
            continue;
        }
        let key = normalize(url).map(|n| n.url).unwrap_or_default();
        if !seen.contains(&key) {
            seen.push(key);
            out.push(url.to_string());
        }
    }
    out
}

/// On a git host and not a page that is about no repository (sponsors, user profiles, gists).
fn plausible_repo(url: &str) -> bool {
    if !is_git_host(url) || normalize(url).is_none() {
        return false;
    }
    let lower = url.to_ascii_lowercase();
    ![
        "github.com/sponsors/",
        "github.com/orgs/",
        "gist.github.com",
        "github.com/apps/",
        "github.com/marketplace",
    ]
    .iter()
    .any(|p| lower.contains(p))
}

/// Is the repository's name the project's (either contains the other, PEP 503-normalised)?
pub fn named_like(repo_url: &str, project: &str) -> bool {
    let repo = repo_url
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or("");
    let (r, p) = (normalize_name(repo), normalize_name(project));
    let (r, p) = (r.replace('-', ""), p.replace('-', ""));
    !r.is_empty()
        && (r == p || (r.len() >= 3 && p.contains(&r)) || (p.len() >= 3 && r.contains(&p)))
}

/// Repositories linked from a long description, most often linked first (badges and "source"
/// links repeat the project's own repository; a dependency is usually mentioned once).
pub fn urls_in_text(text: &str) -> Vec<String> {
    let re = regex::Regex::new(r#"https?://[^\s<>()\[\]"'`]+"#).expect("regex");
    let mut counts: HashMap<String, (usize, usize)> = HashMap::new();
    for (i, m) in re.find_iter(text).enumerate() {
        let url = m.as_str().trim_end_matches(['.', ',', ';', ':', '!', '?']);
        if !plausible_repo(url) {
            continue;
        }
        if let Some(n) = normalize(url) {
            let e = counts.entry(n.url).or_insert((0, i));
            e.0 += 1;
        }
    }
    let mut v: Vec<(String, (usize, usize))> = counts.into_iter().collect();
    v.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then(a.1 .1.cmp(&b.1 .1)));
    v.into_iter().map(|(u, _)| u).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn source_labels_beat_homepage_and_non_git_hosts_are_dropped() {
        let urls = pairs(&[
            ("Homepage", "https://github.com/acme/home"),
            ("Documentation", "https://acme.readthedocs.io"),
            ("Funding", "https://github.com/sponsors/acme"),
            ("Source-Code", "https://github.com/acme/src"),
            ("Issues", "https://github.com/acme/issues-only/issues"),
        ]);
        assert_eq!(
            rank_urls(&urls, Some("https://gitlab.com/acme/hp")),
            [
                "https://github.com/acme/src",
                "https://github.com/acme/home",
                "https://gitlab.com/acme/hp",
                "https://github.com/acme/issues-only/issues"
            ]
        );
        assert!(rank_urls(&pairs(&[("Home", "https://acme.org")]), None).is_empty());
    }

    #[test]
    fn description_repositories_must_be_named_like_the_project() {
        assert!(named_like(
            "https://github.com/dateutil/dateutil",
            "python-dateutil"
        ));
        assert!(named_like(
            "https://github.com/python/typing_extensions",
            "typing-extensions"
        ));
        assert!(!named_like(
            "https://github.com/rtfd/recommonmark",
            "docutils"
        ));
    }

    #[test]
    fn description_urls_by_frequency() {
        let text = "[![ci](https://github.com/acme/foo/actions/workflows/ci.yml/badge.svg)](https://github.com/acme/foo/actions)\n\
            Built on https://github.com/other/dep. Source: https://github.com/acme/foo.";
        assert_eq!(
            urls_in_text(text),
            [
                "https://github.com/acme/foo",
                "https://github.com/other/dep"
            ]
        );
    }
}

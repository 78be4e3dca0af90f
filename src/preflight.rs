//! Checks made once, before any work, so that a wrong flag fails in a second with a sentence
//! naming what is wrong, instead of as one error per package after the whole run:
//! - every registry the inputs use answers its protocol ([`check_registries`]); a PyPI URL
//!   that is the root of a host whose Simple API lives under `/simple/` is taken as that, and
//!   the sparse index's `config.json` is read here, once per run, for every package;
//! - every path the run writes (cache directory, results store, report files) can be written
//!   ([`check_paths`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::ecosystem::{Ecosystem, RegistryCx, RegistryError};
use crate::http::{Http, HttpError};
use crate::profile::{derive_pypi_json, join_url, Profile, Profiles};

/// How many distinct package names per ecosystem are used to probe a registry. Their answers
/// are cached for the run, so probing costs no request the packages would not make anyway.
pub const PROBES: usize = 5;

/// Check every registry that `names` (a few package names per ecosystem, from the inputs)
/// will be asked about, and complete its profile (the PyPI Simple API root, the sparse index
/// `config.json`). `Err` says which registry and what is wrong with it.
pub async fn check_registries(
    http: &Http,
    profiles: &mut Profiles,
    names: &BTreeMap<Ecosystem, Vec<String>>,
) -> anyhow::Result<()> {
    for (eco, names) in names {
        let profile = profiles
            .by_ecosystem
            .get_mut(eco)
            .expect("every ecosystem has a profile");
        let checked = match eco {
            Ecosystem::Crates => check_sparse(http, profile).await,
            Ecosystem::Pypi => check_simple(http, profile, names).await,
            Ecosystem::Gems => check_rubygems(http, profile, names).await,
        };
        checked.map_err(anyhow::Error::msg)?;
    }
    Ok(())
}

fn describe(p: &Profile) -> String {
    format!("the {} registry {}", p.ecosystem, p.url)
}

/// A cargo sparse index serves `config.json` at its root; its `dl` is the download template.
async fn check_sparse(http: &Http, profile: &mut Profile) -> Result<(), String> {
    let url = join_url(&profile.url, "config.json");
    let body = match http.get(&url, None).await {
        Ok(b) => b,
        Err(HttpError::NotFound { .. }) => {
            return Err(format!(
                "{} is not a cargo sparse index: {url} was not found (a sparse index serves \
                 config.json at its root, e.g. https://index.crates.io/config.json)",
                describe(profile)
            ))
        }
        Err(e) => return Err(format!("cannot reach {}: {e}", describe(profile))),
    };
    let config: serde_json::Value = serde_json::from_slice(&body.bytes).map_err(|e| {
        format!(
            "{} is not a cargo sparse index: {url} is not JSON ({e})",
            describe(profile)
        )
    })?;
    if !config.get("dl").is_some_and(serde_json::Value::is_string) {
        return Err(format!(
            "{} is not a cargo sparse index: {url} has no `dl` download template",
            describe(profile)
        ));
    }
    tracing::info!("registry {}: sparse index, config.json read", profile.url);
    profile.index_config = Some(config);
    Ok(())
}

/// The URLs a PyPI `--registry` value may mean: itself, then `<it>/simple/` (a host root).
fn simple_roots(url: &str) -> Vec<String> {
    let mut roots = vec![url.to_string()];
    if !url.trim_end_matches('/').ends_with("/simple") {
        roots.push(join_url(url, "simple/"));
    }
    roots
}

/// Use `root` as the Simple API root, saying so when it is not what was given.
fn use_simple_root(profile: &mut Profile, root: String) {
    if root != profile.url {
        tracing::info!(
            "registry {}: the Simple API is under it, using {root}",
            profile.url
        );
        if profile.json_api.is_none() || profile.json_api == derive_pypi_json(&profile.url) {
            profile.json_api = derive_pypi_json(&root);
        }
        profile.url = root;
    }
}

/// The Simple API lists a project at `<root>/<name>/`. The first root where a probed project
/// exists is the root; when none of them exists anywhere, a root that serves a Simple index
/// page still counts (the projects are then simply not there, a per-package error).
async fn check_simple(http: &Http, profile: &mut Profile, names: &[String]) -> Result<(), String> {
    if names.is_empty() {
        return Ok(());
    }
    let roots = simple_roots(&profile.url);
    for root in &roots {
        let mut candidate = profile.clone();
        candidate.url = root.clone();
        let cx = RegistryCx {
            http,
            profile: &candidate,
        };
        let pages = futures::future::join_all(
            names
                .iter()
                .map(|n| crate::pypi::registry::page(&cx, n.as_str())),
        )
        .await;
        if pages.iter().any(Result::is_ok) {
            use_simple_root(profile, root.clone());
            return Ok(());
        }
        if let Some(Err(RegistryError::Failed(e))) = pages
            .iter()
            .find(|p| matches!(p, Err(RegistryError::Failed(_))))
        {
            return Err(format!("cannot use {}: {e}", describe(profile)));
        }
    }
    // A small cap: a real Simple index root lists every project (tens of MB); a page that
    // big is an index, and reading it is not worth it.
    let small = http.with_limits(1, 1 << 20);
    for root in &roots {
        let index = small
            .get(
                root,
                Some("application/vnd.pypi.simple.v1+json, text/html;q=0.1"),
            )
            .await;
        let is_index = match &index {
            Ok(body) => looks_like_simple_index(body.content_type.as_deref(), &body.bytes),
            Err(HttpError::TooLarge { .. }) => true,
            Err(_) => false,
        };
        if is_index {
            use_simple_root(profile, root.clone());
            return Ok(());
        }
    }
    let tried: Vec<String> = roots
        .iter()
        .map(|r| join_url(r, &format!("{}/", crate::pypi::normalize_name(&names[0]))))
        .collect();
    Err(format!(
        "{} serves no PyPI Simple API: {} not found, and no Simple index page at {} (give \
         the Simple API root, e.g. https://pypi.org/simple/)",
        describe(profile),
        tried.join(" and "),
        roots.join(" or ")
    ))
}

/// A Simple API index page: PEP 691 JSON (`meta.api-version`), or PEP 503 HTML carrying
/// PEP 629's `pypi:repository-version` or the conventional "Simple index" title.
pub fn looks_like_simple_index(content_type: Option<&str>, body: &[u8]) -> bool {
    let ct = content_type.unwrap_or("").to_ascii_lowercase();
    if ct.contains("vnd.pypi.simple") {
        return true;
    }
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        return v.pointer("/meta/api-version").is_some();
    }
    let text = String::from_utf8_lossy(body).to_ascii_lowercase();
    text.contains("pypi:repository-version") || text.contains("simple index")
}

/// A RubyGems server answers `/api/v1/versions/<name>.json` (or the compact index). A gem it
/// does not have is a per-package error; an answer that is not the API is the registry's.
async fn check_rubygems(
    http: &Http,
    profile: &mut Profile,
    names: &[String],
) -> Result<(), String> {
    let cx = RegistryCx {
        http,
        profile: &*profile,
    };
    let lists = futures::future::join_all(
        names
            .iter()
            .map(|n| crate::gems::registry::list(&cx, n.as_str())),
    )
    .await;
    if lists.iter().any(Result::is_ok) {
        return Ok(());
    }
    match lists
        .into_iter()
        .find(|l| matches!(l, Err(RegistryError::Failed(_))))
    {
        Some(Err(e)) => Err(format!(
            "{} does not answer the RubyGems API: {e}",
            describe(profile)
        )),
        _ => Ok(()),
    }
}

/// Check, before any work, that every path the run writes can be written: the cache
/// directory (created when absent), the results store and its directory (SQLite writes a
/// journal beside it), and every report file. Nothing is left behind.
pub fn check_paths(cache_dir: &Path, db: Option<&Path>, outputs: &[PathBuf]) -> anyhow::Result<()> {
    std::fs::create_dir_all(cache_dir).map_err(|e| {
        anyhow::anyhow!(
            "cannot use the cache directory {}: {e}",
            cache_dir.display()
        )
    })?;
    writable_dir(cache_dir).map_err(|e| {
        anyhow::anyhow!(
            "cannot write to the cache directory {}: {e}",
            cache_dir.display()
        )
    })?;
    if let Some(db) = db {
        // The store creates its directory, as it would have when opened.
        if let Some(parent) = db.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| {
                anyhow::anyhow!(
                    "cannot create the directory of the results store {}: {e}",
                    db.display()
                )
            })?;
        }
        writable_file(db)
            .map_err(|e| anyhow::anyhow!("cannot write the results store {}: {e}", db.display()))?;
    }
    check_outputs(outputs)
}

/// Every report file can be written (see [`check_paths`]).
pub fn check_outputs(outputs: &[PathBuf]) -> anyhow::Result<()> {
    for out in outputs {
        writable_file(out)
            .map_err(|e| anyhow::anyhow!("cannot write the report to {}: {e}", out.display()))?;
    }
    Ok(())
}

/// A file that can be written: an existing one opened for appending (not changed), or a new
/// one in an existing directory that can be written.
fn writable_file(path: &Path) -> Result<(), String> {
    if path.is_dir() {
        return Err("it is a directory".to_string());
    }
    if path.exists() {
        std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(|e| e.to_string())?;
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !parent.is_dir() {
        return Err(format!("the directory {} does not exist", parent.display()));
    }
    writable_dir(parent).map_err(|e| format!("the directory {}: {e}", parent.display()))
}

/// Create and remove a file in `dir`: the only test that holds for every user (root, ACLs,
/// read-only mounts).
fn writable_dir(dir: &Path) -> Result<(), String> {
    let probe = dir.join(format!(".provero-write-check-{}", std::process::id()));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_roots_of_a_host_root_and_of_a_simple_root() {
        assert_eq!(
            simple_roots("https://host/"),
            ["https://host/", "https://host/simple/"]
        );
        assert_eq!(
            simple_roots("https://pypi.org/simple/"),
            ["https://pypi.org/simple/"]
        );
        assert_eq!(simple_roots("https://h/simple"), ["https://h/simple"]);
    }

    #[test]
    fn simple_index_pages_are_recognised() {
        assert!(looks_like_simple_index(
            Some("application/vnd.pypi.simple.v1+json"),
            b"{}"
        ));
        assert!(looks_like_simple_index(
            None,
            br#"{"meta":{"api-version":"1.1"},"projects":[]}"#
        ));
        assert!(looks_like_simple_index(
            Some("text/html"),
            br#"<html><head><meta name="pypi:repository-version" content="1.0"></head>"#
        ));
        assert!(!looks_like_simple_index(
            Some("text/html"),
            b"<html><title>Welcome to nginx</title></html>"
        ));
        assert!(!looks_like_simple_index(None, br#"{"ok":true}"#));
    }

    #[test]
    fn paths_are_checked_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        check_paths(
            &cache,
            Some(&dir.path().join("new/dir/r.db")),
            &[dir.path().join("out.json")],
        )
        .unwrap();
        assert!(cache.is_dir());
        assert_eq!(
            std::fs::read_dir(&cache).unwrap().count(),
            0,
            "nothing left behind"
        );
        let e = check_paths(&cache, None, &[dir.path().join("no/such/dir/out.json")])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("no/such/dir/out.json") && e.contains("does not exist"),
            "{e}"
        );
        let e = check_paths(&cache, None, &[dir.path().to_path_buf()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("is a directory"), "{e}");
        let file = dir.path().join("file");
        std::fs::write(&file, "").unwrap();
        let e = check_paths(&file.join("cache"), None, &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("cache directory"), "{e}");
    }
}

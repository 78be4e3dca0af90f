//! PyPI: the Simple API (PEP 691 JSON, PEP 503 HTML), sdists (`.tar.gz`, legacy `.zip`), wheels
//! (`.whl`, `wheel.rs`) and what setuptools, hatch, flit and friends generate when building them. Names compare by PEP 503
//! normalisation, versions by PEP 440 (`1.0` == `1.0.0`, a leading `v` ignored).

pub mod artifact;
pub mod attest;
pub mod bytecode;
pub mod cython;
pub mod deps;
pub mod generated;
pub mod listing;
pub mod lockfile;
pub mod marshal;
pub mod pkginfo;
pub mod pyconfig;
pub mod rebuild;
pub mod registry;
pub mod rules;
pub mod source;
pub mod wheel;
pub mod wheel_rules;
pub mod zipread;

use std::str::FromStr;

use async_trait::async_trait;

use crate::archive::ArchiveError;
use crate::compare::Rule;
use crate::ecosystem::{Ecosystem, Handler, Package, RegistryCx, RegistryError, Resolved};
use crate::finding::Finding;
use crate::source::SourceView;

pub struct Pypi;

#[async_trait]
impl Handler for Pypi {
    fn ecosystem(&self) -> Ecosystem {
        Ecosystem::Pypi
    }

    async fn resolve(
        &self,
        cx: &RegistryCx<'_>,
        name: &str,
        version: Option<&str>,
    ) -> Result<Resolved, RegistryError> {
        registry::resolve(cx, name, version).await
    }

    async fn versions(
        &self,
        cx: &RegistryCx<'_>,
        name: &str,
    ) -> Result<Vec<String>, RegistryError> {
        registry::versions(cx, name).await
    }

    async fn dated_versions(
        &self,
        cx: &RegistryCx<'_>,
        name: &str,
    ) -> Result<Vec<(String, Option<String>)>, RegistryError> {
        registry::dated_versions(cx, name).await
    }

    fn recorded_commit(&self) -> crate::attest::evidence::CommitFrom {
        // setuptools-scm's scm_version.json, or pbr's pbr.json (`artifact::scm_record`).
        crate::attest::evidence::CommitFrom::ScmVersion
    }

    async fn attestations(
        &self,
        cx: &RegistryCx<'_>,
        resolved: &Resolved,
    ) -> crate::attest::gather::Fetched {
        attest::fetch(cx, resolved).await
    }

    fn read(&self, resolved: &Resolved, bytes: &[u8]) -> Result<Package, ArchiveError> {
        artifact::read(resolved, bytes)
    }

    async fn repository_fallback(
        &self,
        cx: &RegistryCx<'_>,
        pkg: &Package,
    ) -> Result<Vec<String>, String> {
        let api = registry::json_api_urls(cx, &pkg.name, &pkg.version).await;
        let mut out = api.as_ref().cloned().unwrap_or_default();
        if let Some(meta) = pkg.meta::<artifact::PypiMeta>() {
            out.extend(meta.description_repos.iter().cloned());
        }
        match api {
            // What the description names is enough when the API is down.
            Err(e) if out.is_empty() => Err(e),
            _ => Ok(out),
        }
    }

    fn same_version(&self, a: &str, b: &str) -> bool {
        same_version(a, b)
    }

    fn canonical_name(&self, name: &str) -> String {
        normalize_name(name)
    }

    fn canonical_version(&self, version: &str) -> String {
        canonical_version(version)
    }

    fn version_order(&self, a: &str, b: &str) -> Option<std::cmp::Ordering> {
        Some(parse_version(a)?.cmp(&parse_version(b)?))
    }

    fn package_dirs(&self, pkg: &Package, source: &SourceView<'_>) -> Vec<String> {
        source::package_dirs(pkg, source)
    }

    fn source_identity(
        &self,
        _pkg: &Package,
        source: &SourceView<'_>,
    ) -> Option<(String, Option<String>)> {
        source::identity(source)
    }

    fn source_path(&self, pkg: &Package, source: &SourceView<'_>, path: &str) -> Option<String> {
        match wheel::wheel_of(pkg) {
            Some(w) => wheel::source_path(w, source, path),
            None => source::source_path(source, path),
        }
    }

    fn rules(&self) -> Vec<Box<dyn Rule>> {
        let mut r = rules::rules();
        r.extend(wheel_rules::rules());
        r.extend(generated::rules());
        r.extend(bytecode::rules());
        r
    }

    fn package_findings(&self, pkg: &Package, source: &SourceView<'_>) -> Vec<Finding> {
        deps::package_findings(pkg, source)
    }

    /// An sdist's own manifests, when they name the version literally (a dynamic version
    /// would be held by every commit of years of history).
    fn anchor_files(&self, pkg: &Package) -> Vec<(String, String)> {
        if wheel::wheel_of(pkg).is_some() {
            return Vec::new();
        }
        ["pyproject.toml", "setup.py", "setup.cfg"]
            .into_iter()
            .filter(|f| {
                pkg.files
                    .data(f)
                    .is_some_and(|d| crate::best_commit::names_version(d, &pkg.version))
            })
            .map(|f| (f.to_string(), f.to_string()))
            .collect()
    }
}

/// PEP 503: lower-case, runs of `-`, `_`, `.` become one `-`.
pub fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
            continue;
        }
        if sep && !out.is_empty() {
            out.push('-');
        }
        sep = false;
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// A PEP 440 version (a leading `v` is allowed by PEP 440 itself).
pub fn parse_version(v: &str) -> Option<pep440_rs::Version> {
    pep440_rs::Version::from_str(v.trim()).ok()
}

/// One spelling for every PEP 440-equal version: normalised (`v`, leading zeros, `-rc.1`),
/// trailing `.0` release segments dropped (`1.0.0` == `1.0`). Not PEP 440: as written.
pub fn canonical_version(v: &str) -> String {
    match parse_version(v) {
        Some(p) => {
            let mut release = p.release().to_vec();
            while release.len() > 1 && release.last() == Some(&0) {
                release.pop();
            }
            p.with_release(release).to_string()
        }
        None => v.trim().to_string(),
    }
}

/// PEP 440 equality; plain string equality when either side is not a PEP 440 version.
pub fn same_version(a: &str, b: &str) -> bool {
    match (parse_version(a), parse_version(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a.trim() == b.trim(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pep503_names() {
        assert_eq!(normalize_name("Friendly-Bard"), "friendly-bard");
        assert_eq!(normalize_name("FRIENDLY-._-BARD"), "friendly-bard");
        assert_eq!(normalize_name("zope.interface"), "zope-interface");
        assert_eq!(normalize_name("typing_extensions"), "typing-extensions");
    }

    #[test]
    fn pep440_equality() {
        assert!(same_version("1.0", "1.0.0"));
        assert!(same_version("v1.0", "1.0"));
        assert!(same_version("2026.07.22", "2026.7.22"));
        assert!(same_version("1.0rc1", "1.0-rc.1"));
        assert!(!same_version("1.2", "1.2.10"));
        assert!(!same_version("1.0", "1.0.post1"));
        assert!(same_version("not-pep440", "not-pep440"));
    }

    #[test]
    fn canonical_versions_agree_with_equality() {
        let same = [
            ("8.1.7", "8.1.07"),
            ("1.0", "1.0.0"),
            ("v1.0", "1.0"),
            ("1.0rc1", "1.0.0-rc.1"),
            ("2.0.post1", "2.0.0-1"),
            ("0", "0.0"),
        ];
        for (a, b) in same {
            assert!(same_version(a, b), "{a} {b}");
            assert_eq!(canonical_version(a), canonical_version(b), "{a} {b}");
        }
        for (a, b) in [("1.2", "1.2.10"), ("1.0", "1.0.post1"), ("1.0", "1.0.1")] {
            assert_ne!(canonical_version(a), canonical_version(b), "{a} {b}");
        }
    }
}

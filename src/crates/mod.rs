//! crates.io: the sparse index, `.crate` archives, and what cargo generates when packaging.

pub mod artifact;
pub mod attest;
pub mod index_deps;
pub mod listing;
pub mod lockfile;
pub mod manifest;
pub mod rebuild;
pub mod rebuild_index;
pub mod rebuild_manifest;
pub mod registry;
pub mod req;
pub mod rules;
pub mod source;
pub mod targets;

use async_trait::async_trait;

use crate::archive::ArchiveError;
use crate::compare::Rule;
use crate::ecosystem::{Ecosystem, Handler, Package, RegistryCx, RegistryError, Resolved};
use crate::source::SourceView;

pub struct Crates;

#[async_trait]
impl Handler for Crates {
    fn ecosystem(&self) -> Ecosystem {
        Ecosystem::Crates
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
        Ok(registry::lines(cx, name)
            .await?
            .into_iter()
            .map(|l| l.vers)
            .collect())
    }

    async fn dated_versions(
        &self,
        cx: &RegistryCx<'_>,
        name: &str,
    ) -> Result<Vec<(String, Option<String>)>, RegistryError> {
        Ok(registry::lines(cx, name)
            .await?
            .into_iter()
            .map(|l| (l.vers, l.pubtime))
            .collect())
    }

    async fn attestations(
        &self,
        cx: &RegistryCx<'_>,
        resolved: &Resolved,
    ) -> crate::attest::gather::Fetched {
        attest::fetch(cx, resolved).await
    }

    fn read(&self, resolved: &Resolved, bytes: &[u8]) -> Result<Package, ArchiveError> {
        let mut pkg = artifact::read(resolved, bytes)?;
        pkg.findings
            .extend(rules::index_line_agrees(resolved, &pkg));
        Ok(pkg)
    }

    fn same_version(&self, a: &str, b: &str) -> bool {
        a == b || a.split('+').next() == b.split('+').next()
    }

    fn version_order(&self, a: &str, b: &str) -> Option<std::cmp::Ordering> {
        Some(
            semver::Version::parse(a)
                .ok()?
                .cmp_precedence(&semver::Version::parse(b).ok()?),
        )
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
        source::source_path(pkg, source, path)
    }

    fn anchor_files(&self, pkg: &Package) -> Vec<(String, String)> {
        // Cargo.toml.orig is the author's manifest; crates from before it existed shipped
        // Cargo.toml unmodified.
        if pkg.files.get("Cargo.toml.orig").is_some() {
            vec![("Cargo.toml.orig".into(), "Cargo.toml".into())]
        } else {
            vec![("Cargo.toml".into(), "Cargo.toml".into())]
        }
    }

    fn rules(&self) -> Vec<Box<dyn Rule>> {
        rules::rules()
    }
}

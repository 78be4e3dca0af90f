//! RubyGems: the v1/v2 API, `.gem` archives (plain tar of `metadata.gz`, `data.tar.gz`,
//! `checksums.yaml.gz`), gemspecs read as text, and `Gemfile.lock` inputs.

pub mod artifact;
pub mod attest;
pub mod gemspec_deps;
pub mod listing;
pub mod lockfile;
pub mod rebuild;
pub mod registry;
pub mod rules;
pub mod source;
pub mod version;

use async_trait::async_trait;

use crate::archive::ArchiveError;
use crate::compare::Rule;
use crate::ecosystem::{Ecosystem, Handler, Package, RegistryCx, RegistryError, Resolved};
use crate::finding::{Code, Finding};
use crate::source::SourceView;

use artifact::GemMeta;
use gemspec_deps::DepKind;

pub struct Gems;

#[async_trait]
impl Handler for Gems {
    fn ecosystem(&self) -> Ecosystem {
        Ecosystem::Gems
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
        Ok(registry::ordered(&registry::list(cx, name).await?))
    }

    async fn dated_versions(
        &self,
        cx: &RegistryCx<'_>,
        name: &str,
    ) -> Result<Vec<(String, Option<String>)>, RegistryError> {
        Ok(registry::ordered_dated(&registry::list(cx, name).await?))
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
        let platform = pkg
            .meta::<GemMeta>()
            .map(|m| m.platform.clone())
            .unwrap_or_else(|| "ruby".into());
        match registry::version_info(cx, &pkg.name, &pkg.version, &platform).await {
            Ok(info) => Ok(info.repository_candidates()),
            Err(RegistryError::Failed(e)) => Err(format!(
                "the RubyGems v2 API could not be asked about {} {}: {e}",
                pkg.name, pkg.version
            )),
            Err(e) => {
                tracing::debug!("no v2 API description of {} {}: {e}", pkg.name, pkg.version);
                Ok(Vec::new())
            }
        }
    }

    /// Exact, except that a tag may spell a prerelease `1.0.0-rc1` where the gem says
    /// `1.0.0.rc1` (RubyGems turns `-` into `.pre.`, authors write tags by hand).
    fn same_version(&self, a: &str, b: &str) -> bool {
        a == b || (a.replace('-', ".") == b.replace('-', "."))
    }

    fn version_order(&self, a: &str, b: &str) -> Option<std::cmp::Ordering> {
        Some(version::compare(a, b))
    }

    fn package_dirs(&self, pkg: &Package, source: &SourceView<'_>) -> Vec<String> {
        source::package_dirs(pkg, source)
    }

    fn source_identity(
        &self,
        pkg: &Package,
        source: &SourceView<'_>,
    ) -> Option<(String, Option<String>)> {
        source::identity(pkg, source)
    }

    fn rules(&self) -> Vec<Box<dyn Rule>> {
        rules::rules()
    }

    fn package_findings(&self, pkg: &Package, source: &SourceView<'_>) -> Vec<Finding> {
        dependency_findings(pkg, source)
    }

    /// The gem's own gemspec, when it names the version literally (most read a constant).
    fn anchor_files(&self, pkg: &Package) -> Vec<(String, String)> {
        let f = format!("{}.gemspec", pkg.name);
        match pkg.files.data(&f) {
            Some(d) if crate::best_commit::names_version(d, &pkg.version) => vec![(f.clone(), f)],
            _ => Vec::new(),
        }
    }
}

/// The name of the dependency check in reports.
const DEPENDENCY_CHECK: &str = "gemspec-runtime-dependencies";

/// `manifest-mismatch` for a runtime dependency the published gemspec declares and the
/// gemspec in the tagged tree never declares as a runtime one (not at all, or only with
/// `add_development_dependency`). The source gemspec is Ruby, read as text: when
/// it computes its dependencies, a missing name is only noted, never a red flag.
fn dependency_findings(pkg: &Package, source: &SourceView<'_>) -> Vec<Finding> {
    let Some(meta) = pkg.meta::<GemMeta>() else {
        return Vec::new();
    };
    let runtime: Vec<_> = meta.runtime_dependencies().collect();
    if runtime.is_empty() {
        return Vec::new();
    }
    let Some((path, text)) = source::gemspec(pkg, source) else {
        return vec![Finding::new(
            Code::NotChecked,
            format!(
                "no .gemspec for `{}` in the source at `{}`; the published runtime dependencies ({}) were not compared",
                pkg.name,
                if source.pkg_dir.is_empty() { "/" } else { &source.pkg_dir },
                runtime.iter().map(|d| d.name.as_str()).collect::<Vec<_>>().join(", ")
            ),
        )];
    };
    let declared = gemspec_deps::declared_dependencies(&text);
    let mut out = Vec::new();
    for dep in runtime {
        let kind = declared.kind(&dep.name);
        if kind == Some(DepKind::Runtime) {
            continue;
        }
        let req = if dep.requirement.is_empty() {
            String::new()
        } else {
            format!(" ({})", dep.requirement)
        };
        // A development dependency made a runtime one is as much an injection as a new name:
        // every user installs it and it may be required at load time.
        let declared_as = if kind == Some(DepKind::Development) {
            "declares it only as a development dependency (`add_development_dependency`)"
        } else {
            "declares no such dependency"
        };
        out.push(
            match &declared.dynamic {
            Some(why) => Finding::at(
                Code::NotChecked,
                path.clone(),
                format!(
                    "the published gem depends on `{}`{req} at runtime, which `{path}` does not name literally as a runtime dependency; {why}, too dynamic to tell",
                    dep.name
                ),
            ),
            None => Finding::at(
                Code::ManifestMismatch,
                "metadata.gz",
                format!(
                    "the published gem depends on `{}`{req} at runtime, but `{path}` at the tag {declared_as}",
                    dep.name
                ),
            ),
        }
        .by_rule(DEPENDENCY_CHECK));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_versions_may_spell_prereleases_with_a_dash() {
        assert!(Gems.same_version("1.0.0.rc1", "1.0.0-rc1"));
        assert!(Gems.same_version("3.1.8", "3.1.8"));
        assert!(!Gems.same_version("1.2", "1.2.10"));
        assert!(!Gems.same_version("1.0", "1.0.0"));
    }
}

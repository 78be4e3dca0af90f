//! The three registries provero understands. This file holds the one `match` that lists every
//! ecosystem and hands out its implementation; everything else talks to the [`Handler`] trait.
//! Every ecosystem folder has the same files: `registry.rs` (API client: resolve a version,
//! download URL, digest), `artifact.rs` (read the archive and its metadata), `source.rs` (find
//! the package in the repository, tag and version rules), `rules.rs` (named rules that excuse
//! what the packager generates), `rebuild.rs` (how the ecosystem's packager rebuilds it),
//! `attest.rs` (where the registry serves who published it: trusted publishing, attestations).

use std::any::Any;
use std::fmt;

use async_trait::async_trait;

use crate::archive::{ArchiveError, Files};
use crate::compare::Rule;
use crate::finding::Finding;
use crate::http::Http;
use crate::profile::Profile;
use crate::source::SourceView;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Ecosystem {
    Crates,
    Pypi,
    Gems,
}

impl Ecosystem {
    pub const ALL: [Ecosystem; 3] = [Ecosystem::Crates, Ecosystem::Pypi, Ecosystem::Gems];

    pub fn as_str(self) -> &'static str {
        match self {
            Ecosystem::Crates => "crates",
            Ecosystem::Pypi => "pypi",
            Ecosystem::Gems => "gems",
        }
    }

    pub fn parse(s: &str) -> Option<Ecosystem> {
        Ecosystem::ALL.into_iter().find(|e| e.as_str() == s)
    }

    /// The implementation of this ecosystem.
    pub fn handler(self) -> &'static dyn Handler {
        match self {
            Ecosystem::Crates => &crate::crates::Crates,
            Ecosystem::Pypi => &crate::pypi::Pypi,
            Ecosystem::Gems => &crate::gems::Gems,
        }
    }

    /// How this ecosystem's whole registry is listed, for name patterns (`src/<eco>/listing.rs`).
    pub fn lister(self) -> &'static dyn crate::listing::Lister {
        match self {
            Ecosystem::Crates => &crate::crates::listing::DbDump,
            Ecosystem::Pypi => &crate::pypi::listing::SimpleRoot,
            Ecosystem::Gems => &crate::gems::listing::VersionsFile,
        }
    }

    /// How this ecosystem's packager rebuilds a package (`src/<eco>/rebuild.rs`).
    pub fn rebuilder(self) -> &'static dyn crate::rebuild::Rebuilder {
        match self {
            Ecosystem::Crates => &crate::crates::rebuild::CargoPackage,
            Ecosystem::Pypi => &crate::pypi::rebuild::Pep517Sdist,
            Ecosystem::Gems => &crate::gems::rebuild::GemBuild,
        }
    }
}

impl fmt::Display for Ecosystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the registry says about one version of a package.
#[derive(Debug, Clone, Default)]
pub struct Resolved {
    /// The name as the registry spells it.
    pub name: String,
    pub version: String,
    /// Where the artifact is downloaded from.
    pub url: String,
    /// The file name of the artifact (`foo-1.0.crate`, `foo-1.0.tar.gz`, `foo-1.0.gem`).
    pub filename: String,
    /// SHA-256 the registry publishes for the artifact, lower-case hex.
    pub sha256: Option<String>,
    /// Repository URLs the registry API knows (used after the artifact's own metadata).
    pub repository_hints: Vec<String>,
    /// Anything else an ecosystem wants to carry from resolve to read.
    pub extra: serde_json::Value,
}

/// Why a version could not be resolved or downloaded.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The registry has no such package or version (an error of the input: exit 2).
    #[error("{0}")]
    NotFound(String),
    /// The registry could not be reached or answered nonsense.
    #[error("{0}")]
    Failed(String),
    /// This ecosystem cannot do what was asked yet.
    #[error("{0}")]
    Unsupported(String),
}

/// A downloaded and unpacked artifact with the provenance it claims.
pub struct Package {
    pub name: String,
    pub version: String,
    pub files: Files,
    /// Findings raised while reading (unsafe entries, inner checksums).
    pub findings: Vec<Finding>,
    /// Candidate repository URLs from the artifact's own metadata, best first.
    pub repository: Vec<String>,
    /// The commit the packager recorded, if any.
    pub commit: Option<String>,
    /// The packager recorded a dirty working tree.
    pub dirty: bool,
    /// The package's directory in the repository, if recorded.
    pub path_in_vcs: Option<String>,
    /// A tag named by the metadata (e.g. a gem's `source_code_uri` ending in `/tree/v1.2.3`).
    pub tag_hint: Option<String>,
    /// Ecosystem-specific metadata (parsed manifest, ...), for the ecosystem's own rules.
    pub meta: Box<dyn Any + Send + Sync>,
}

impl Package {
    pub fn meta<T: 'static>(&self) -> Option<&T> {
        self.meta.downcast_ref::<T>()
    }
}

/// What registry access needs: the HTTP client and the registry profile.
pub struct RegistryCx<'a> {
    pub http: &'a Http,
    pub profile: &'a Profile,
}

/// One ecosystem's implementation of the pipeline stages.
#[async_trait]
pub trait Handler: Send + Sync {
    fn ecosystem(&self) -> Ecosystem;

    /// Resolve `name@version` (the newest non-yanked version when `None`).
    async fn resolve(
        &self,
        cx: &RegistryCx<'_>,
        name: &str,
        version: Option<&str>,
    ) -> Result<Resolved, RegistryError>;

    /// Every published version, oldest first (for `name@*`).
    async fn versions(&self, cx: &RegistryCx<'_>, name: &str)
        -> Result<Vec<String>, RegistryError>;

    /// Every published version, oldest first, with when it was published (RFC 3339, UTC)
    /// where the registry says (for `@*` with `--since`).
    async fn dated_versions(
        &self,
        cx: &RegistryCx<'_>,
        name: &str,
    ) -> Result<Vec<(String, Option<String>)>, RegistryError> {
        Ok(self
            .versions(cx, name)
            .await?
            .into_iter()
            .map(|v| (v, None))
            .collect())
    }

    /// Read the downloaded artifact. Hostile entries become findings; caps become errors.
    fn read(&self, resolved: &Resolved, bytes: &[u8]) -> Result<Package, ArchiveError>;

    /// More repository candidates from the registry when the artifact names none. `Err` when
    /// the registry could not be asked (down, answering nonsense): then "no repository" is
    /// not a fact of the package, and the package is retried next run.
    async fn repository_fallback(
        &self,
        _cx: &RegistryCx<'_>,
        _pkg: &Package,
    ) -> Result<Vec<String>, String> {
        Ok(Vec::new())
    }

    /// Do two version strings name the same version (PEP 440 for PyPI, exact elsewhere)?
    fn same_version(&self, a: &str, b: &str) -> bool {
        a == b
    }

    /// The spelling of a package name that every equivalent spelling shares (PEP 503 for
    /// PyPI), for de-duplicating the work list.
    fn canonical_name(&self, name: &str) -> String {
        name.to_string()
    }

    /// The spelling of a version that every equal version shares (PEP 440 for PyPI: `8.1.07`
    /// and `8.1.7`, `1.0` and `1.0.0`), for de-duplicating the work list.
    fn canonical_version(&self, version: &str) -> String {
        version.to_string()
    }

    /// The order of two versions (semver, PEP 440, RubyGems); `None` when either does not
    /// parse. Says which stored versions are earlier than this one (`regression`).
    fn version_order(&self, _a: &str, _b: &str) -> Option<std::cmp::Ordering> {
        None
    }

    /// Directories of the tree that may hold this package when the artifact does not record
    /// one, best first (`""` is the root).
    fn package_dirs(&self, pkg: &Package, source: &SourceView<'_>) -> Vec<String>;

    /// The name and version the source manifest at `source.pkg_dir` declares, where static.
    fn source_identity(
        &self,
        pkg: &Package,
        source: &SourceView<'_>,
    ) -> Option<(String, Option<String>)>;

    /// Where an artifact file comes from, as a repository path, when not `pkg_dir/path`.
    fn source_path(&self, _pkg: &Package, _source: &SourceView<'_>, _path: &str) -> Option<String> {
        None
    }

    /// Named rules for files that are not identical to source, tried in order.
    fn rules(&self) -> Vec<Box<dyn Rule>>;

    /// Artifact files expected byte-identical to source that carry the version (a manifest),
    /// with the file name they have in the source: without a commit or tag, the newest commit
    /// that put one of them in the tree is used.
    fn anchor_files(&self, _pkg: &Package) -> Vec<(String, String)> {
        Vec::new()
    }

    /// Whole-package checks (manifest-mismatch, version checks).
    fn package_findings(&self, _pkg: &Package, _source: &SourceView<'_>) -> Vec<Finding> {
        Vec::new()
    }

    /// What the packager's recorded commit ([`Package::commit`]) is called in
    /// `source.commit_from`: cargo's `.cargo_vcs_info.json` unless the ecosystem says otherwise.
    fn recorded_commit(&self) -> crate::attest::evidence::CommitFrom {
        crate::attest::evidence::CommitFrom::VcsInfo
    }

    /// What the registry serves about who published this artifact from which commit:
    /// trusted-publishing data or signed attestations (`src/<eco>/attest.rs`).
    async fn attestations(
        &self,
        _cx: &RegistryCx<'_>,
        _resolved: &Resolved,
    ) -> crate::attest::gather::Fetched {
        crate::attest::gather::Fetched::None
    }
}

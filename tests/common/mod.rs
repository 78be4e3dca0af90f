//! Shared, hermetic fixtures for provero's integration tests: a loopback
//! HTTP server, git repositories, crates packaged by the real cargo, a
//! sparse index, hostile archives, and a runner for the binary.
//!
//! Every test file compiles its own copy of this module and uses a subset
//! of it, hence the `dead_code` and `unused_imports` allowances.
#![allow(dead_code, unused_imports)]

pub mod crates;
pub mod git;
pub mod http;
pub mod run;
pub mod sigstore;
pub mod tarball;

use std::path::{Path, PathBuf};

pub use crates::{sha256_hex, DlStyle, Registry, LIB_RS};
pub use git::Repo;
pub use http::TestServer;
pub use run::{Finding, Output, PackageResult, Report};
pub use tarball::{CrateArchive, Entry};

/// The prefix every fixture `repository` URL starts with; provero is told
/// to rewrite it to the local `upstream/` directory.
pub const FAKE_FORGE: &str = "https://github.com/acme/";

/// One test's world: a temporary directory holding work repositories,
/// bare "upstream" repositories, a served registry and a cache directory.
///
/// Layout under `root()`:
/// - `work/<repo>`: the developer's clone, where `cargo package` runs
/// - `upstream/<repo>`: bare repository provero clones (via `--git-rewrite`)
/// - `served/`: the HTTP server's document root (`index/`, downloads)
/// - `cache/`: `--cache-dir`
/// - `cwd/`: provero's working directory (must stay empty)
pub struct World {
    // Field order matters for Drop: stop the server before deleting files.
    pub server: TestServer,
    pub registry: Registry,
    pub tmp: tempfile::TempDir,
}

/// A crate packaged from a work repository whose commit is in upstream.
pub struct CrateFixture {
    pub name: String,
    pub version: String,
    pub repo: Repo,
    pub upstream: Repo,
    /// The commit `cargo package` recorded in `.cargo_vcs_info.json`.
    pub commit: String,
    pub crate_bytes: Vec<u8>,
}

impl CrateFixture {
    pub fn archive(&self) -> CrateArchive {
        CrateArchive::read(&self.crate_bytes)
    }

    pub fn spec(&self) -> String {
        format!("crates:{}@{}", self.name, self.version)
    }
}

impl World {
    pub fn new() -> World {
        World::with_style(DlStyle::Markers)
    }

    pub fn with_style(style: DlStyle) -> World {
        World::build(style, |p| TestServer::serve_dir(p))
    }

    /// A world whose registry is served over TLS (`https://localhost:PORT`), HTTP/2 by ALPN.
    #[allow(dead_code)] // used by the network tests only
    pub fn over_tls() -> World {
        World::build(DlStyle::Markers, |p| TestServer::serve_dir_tls(p))
    }

    fn build(style: DlStyle, serve: fn(&Path) -> TestServer) -> World {
        let tmp = tempfile::Builder::new()
            .prefix("provero-test-")
            .tempdir()
            .unwrap();
        let served = tmp.path().join("served");
        std::fs::create_dir_all(&served).unwrap();
        for d in ["work", "upstream", "cache", "cwd"] {
            std::fs::create_dir_all(tmp.path().join(d)).unwrap();
        }
        let server = serve(&served);
        let registry = Registry::new(&served, &server.base_url(), style);
        World {
            server,
            registry,
            tmp,
        }
    }

    pub fn root(&self) -> &Path {
        self.tmp.path()
    }

    pub fn cache_dir(&self) -> PathBuf {
        self.root().join("cache")
    }

    pub fn cwd(&self) -> PathBuf {
        self.root().join("cwd")
    }

    pub fn upstream_path(&self, repo_name: &str) -> PathBuf {
        self.root().join("upstream").join(repo_name)
    }

    /// The public URL fixture manifests use for a repository.
    pub fn repo_url(repo_name: &str) -> String {
        format!("{FAKE_FORGE}{repo_name}")
    }

    /// A fresh work repository `work/<name>`.
    pub fn work_repo(&self, repo_name: &str) -> Repo {
        Repo::init(self.root().join("work").join(repo_name))
    }

    /// Copy a work repository to `upstream/<name>` as a bare repository.
    pub fn make_upstream(&self, repo: &Repo, repo_name: &str) -> Repo {
        repo.make_bare_upstream(&self.upstream_path(repo_name))
    }

    /// `cargo package` crate `name` in `repo` (a target dir per call so
    /// parallel packaging in one world cannot collide).
    pub fn package(&self, repo: &Repo, name: &str, version: &str, allow_dirty: bool) -> Vec<u8> {
        let target = self
            .root()
            .join("cargo-target")
            .join(format!("{name}-{version}"));
        crates::cargo_package(&repo.path, name, version, &target, allow_dirty)
    }

    /// An honest crate at the root of repository `name`: committed on
    /// `main`, tagged `v<version>` (lightweight), copied to upstream, then
    /// packaged from the clean tree. Not published yet.
    pub fn honest_crate(&self, name: &str, version: &str) -> CrateFixture {
        let repo = self.work_repo(name);
        crates::write_crate(&repo, "", name, version, Some(&World::repo_url(name)));
        let commit = repo.commit_all("initial import");
        repo.tag(&format!("v{version}"), &commit);
        let upstream = self.make_upstream(&repo, name);
        let crate_bytes = self.package(&repo, name, version, false);
        let fx = CrateFixture {
            name: name.to_string(),
            version: version.to_string(),
            repo,
            upstream,
            commit,
            crate_bytes,
        };
        assert_eq!(vcs_sha1(&fx.archive()).as_deref(), Some(fx.commit.as_str()));
        fx
    }

    /// Publish a fixture's (possibly replaced) bytes with a correct cksum.
    pub fn publish(&self, fx: &CrateFixture, bytes: &[u8]) -> String {
        self.registry.publish(&fx.name, &fx.version, bytes)
    }

    /// `verify` plus the flags every test passes: registry, rewrite, cache.
    pub fn base_args(&self) -> Vec<String> {
        vec![
            "verify".into(),
            "--registry".into(),
            format!("crates={}", self.registry.index_url()),
            "--git-rewrite".into(),
            format!(
                "{FAKE_FORGE}=file://{}/",
                self.root().join("upstream").display()
            ),
            "--cache-dir".into(),
            self.cache_dir().display().to_string(),
        ]
    }

    /// Run `provero verify <base args> <extra> <specs>` in `cwd/`.
    pub fn run(&self, extra: &[&str], specs: &[&str]) -> Output {
        let mut args = self.base_args();
        args.extend(extra.iter().map(|s| s.to_string()));
        args.extend(specs.iter().map(|s| s.to_string()));
        let out = run::run_provero_in(&self.cwd(), &args);
        out.assert_no_crash();
        out
    }

    /// Like [`World::run`] with `--format json`; parses stdout.
    pub fn run_json(&self, extra: &[&str], specs: &[&str]) -> (Output, Report) {
        let mut all = vec!["--format", "json"];
        all.extend_from_slice(extra);
        let out = self.run(&all, specs);
        let report = Report::parse(&out.stdout, &out);
        (out, report)
    }

    /// Assert provero left its working directory empty.
    pub fn assert_cwd_untouched(&self) {
        let left: Vec<_> = std::fs::read_dir(self.cwd())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| n != ".xdg-cache")
            .collect();
        assert!(left.is_empty(), "provero wrote into its cwd: {left:?}");
    }

    /// Paths below the world root, outside `cache/`, whose file name
    /// contains `token`.
    pub fn files_named_outside_cache(&self, token: &str) -> Vec<PathBuf> {
        let mut found = Vec::new();
        let cache = self.cache_dir();
        walk(self.root(), &mut |p| {
            if !p.starts_with(&cache)
                && p.file_name()
                    .is_some_and(|n| n.to_string_lossy().contains(token))
            {
                found.push(p.to_path_buf());
            }
        });
        found
    }
}

/// `git.sha1` of an archive's `.cargo_vcs_info.json`, if any.
pub fn vcs_sha1(ar: &CrateArchive) -> Option<String> {
    let raw = ar.get(".cargo_vcs_info.json")?;
    let v: serde_json::Value = serde_json::from_slice(raw).unwrap();
    v["git"]["sha1"].as_str().map(str::to_string)
}

/// Visit every entry below `dir` (not following symlinks).
pub fn walk(dir: &Path, f: &mut dyn FnMut(&Path)) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        f(&p);
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            walk(&p, f);
        }
    }
}

/// A token unique to this process and call, for marker file names.
pub fn unique_token(label: &str) -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "provero-{label}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

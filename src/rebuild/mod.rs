//! Rebuild mode: another way to obtain the source side of the comparison. Where diff mode
//! compares the published files with the tree at the located commit (and excuses what the
//! packager generates by named rules), a rebuild runs the ecosystem's own packager on that
//! tree and compares the published files with what it produced, generated files included.
//!
//! Table of contents, in pipeline order:
//! 1. [`materialise()`]: the tree at the located commit (the same commit, package directory and
//!    warnings as diff mode), only that tree's blobs fetched, written into a throwaway git work
//!    tree inside the cache whose HEAD is that commit (packagers ask git for the file list).
//! 2. The ecosystem's [`Rebuilder`] (`src/<eco>/rebuild.rs`, handed out by
//!    `Ecosystem::rebuilder`) fetches what the build needs from the configured registry and
//!    says how to run the packager; [`sandbox`] runs it (no network, one writable directory,
//!    cleared environment, time and memory limits).
//! 3. [`compare_rebuilt()`]: every published file against the rebuilt one, after the named
//!    [`stabilizers`]; the result says `bit_for_bit` when the archives were identical before
//!    any stabilizer.

pub mod compare;
pub mod materialise;
pub mod metadata_stabilizers;
pub mod sandbox;
pub mod stabilizers;

use std::any::Any;
use std::path::{Path, PathBuf};
use std::time::Instant;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::archive::Files;
use crate::compare::short;
use crate::ecosystem::{Handler, Package, Resolved};
use crate::finding::{Code, Finding};
use crate::git::{Repo, Tree};
use crate::http::Http;
use crate::profile::Profile;
pub use compare::{compare_rebuilt, human_line};
use materialise::materialise;
use stabilizers::{ArchiveMeta, StabilizeCx, Stabilizer};

/// What provero compares the published artifact with.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The tree at the claimed commit, file by file (no package code runs).
    #[default]
    Diff,
    /// What the ecosystem's packager builds from that tree, in a sandbox.
    Rebuild,
    /// Both; each finding says which mode raised it, the verdict is the worse.
    Both,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Diff => "diff",
            Mode::Rebuild => "rebuild",
            Mode::Both => "both",
        }
    }

    pub fn parse(s: &str) -> Option<Mode> {
        [Mode::Diff, Mode::Rebuild, Mode::Both]
            .into_iter()
            .find(|m| m.as_str() == s)
    }

    pub fn diffs(self) -> bool {
        self != Mode::Rebuild
    }

    pub fn rebuilds(self) -> bool {
        self != Mode::Diff
    }
}

/// A stabilizer that was needed, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    pub name: String,
    pub reason: String,
    /// The files it settled (empty for archive-level stabilizers).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
}

/// What the report records about a rebuild.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RebuildInfo {
    /// `cargo package`, `gem build`, the PEP 517 backend.
    pub packager: String,
    #[serde(default)]
    pub packager_version: String,
    /// The rebuilt archive is byte-identical to the published one (no stabilizer needed).
    #[serde(default)]
    pub bit_for_bit: bool,
    #[serde(default)]
    pub stabilizers: Vec<Applied>,
    #[serde(default)]
    pub build_ms: u64,
}

/// Why a rebuild could not produce something to compare.
#[derive(Debug)]
pub enum Failure {
    /// Unverifiable by rebuild (a missing tool, a failing build): `rebuild-failed`.
    Failed(String),
    /// This artifact kind is not rebuilt (platform wheels, gems with native extensions).
    NotComparable(String),
}

/// Everything a [`Rebuilder`] may use to plan its build.
pub struct PlanCx<'a> {
    pub http: &'a Http,
    pub profile: &'a Profile,
    pub resolved: &'a Resolved,
    pub pkg: &'a Package,
    /// The materialised work tree (the repository root at the commit).
    pub src: &'a Path,
    /// The package directory inside it (`""` for the root).
    pub pkg_dir: &'a str,
    /// The throwaway directory: the only one the build may write.
    pub scratch: &'a Path,
}

impl PlanCx<'_> {
    pub fn pkg_path(&self) -> PathBuf {
        if self.pkg_dir.is_empty() {
            self.src.to_path_buf()
        } else {
            self.src.join(self.pkg_dir)
        }
    }
}

/// How to run one packager.
pub struct Plan {
    pub packager: String,
    pub packager_version: String,
    pub argv: Vec<String>,
    pub cwd: PathBuf,
    /// Environment beyond the sandbox's base (`PATH`, `HOME`, `LANG`).
    pub env: Vec<(String, String)>,
    /// Directories put first on `PATH` (the toolchain's `bin`).
    pub path: Vec<PathBuf>,
    /// More host paths the build reads (toolchains).
    pub read_only: Vec<PathBuf>,
    /// Where the artifact appears, and how its file name ends.
    pub output_dir: PathBuf,
    pub output_suffix: String,
    /// What the ecosystem's stabilizers need (fetched index lines); see [`StabilizeCx::data`].
    pub data: Box<dyn Any + Send + Sync>,
}

/// One ecosystem's packager: `src/crates/rebuild.rs`, `src/pypi/rebuild.rs`,
/// `src/gems/rebuild.rs`.
#[async_trait]
pub trait Rebuilder: Send + Sync {
    /// Fetch what the build needs and say how to run it.
    async fn plan(&self, cx: &PlanCx<'_>) -> Result<Plan, Failure>;

    /// The file-level stabilizers of this ecosystem, tried in order.
    fn stabilizers(&self) -> Vec<Box<dyn Stabilizer>>;

    /// The files to compare, from an artifact's bytes (gems add their metadata members).
    fn files(
        &self,
        handler: &dyn Handler,
        resolved: &Resolved,
        bytes: &[u8],
    ) -> Result<Files, String> {
        handler
            .read(resolved, bytes)
            .map(|p| p.files)
            .map_err(|e| e.to_string())
    }

    /// The archive's non-content layers, for the archive-level stabilizers.
    fn archive_meta(&self, bytes: &[u8]) -> ArchiveMeta {
        stabilizers::tar_gz_meta(bytes)
    }
}

/// The outcome of a rebuild.
pub struct Rebuilt {
    pub findings: Vec<Finding>,
    pub info: RebuildInfo,
    /// Published files, and those equal to the rebuild without any stabilizer.
    pub files: usize,
    pub identical: usize,
    pub stabilized: usize,
}

/// Everything one rebuild needs from the pipeline.
pub struct Request<'a> {
    pub handler: &'static dyn Handler,
    pub http: &'a Http,
    pub profile: &'a Profile,
    pub resolved: &'a Resolved,
    pub pkg: &'a Package,
    pub published: &'a [u8],
    pub repo: &'a Repo,
    pub tree: &'a Tree,
    pub commit: &'a str,
    pub pkg_dir: &'a str,
    pub cache_dir: &'a Path,
}

/// The diff comparison's findings: about a file (or raised by a rule), or the manifest
/// comparison. Findings about the package and its commit are shared by both modes.
fn from_diff(f: &Finding) -> bool {
    f.path.is_some() || f.rule.is_some() || f.code == Code::ManifestMismatch
}

/// In `rebuild` mode the diff comparison's findings are dropped (the rebuild replaces it);
/// in `both` they are kept and marked `diff`.
pub fn keep_diff_findings(findings: &mut Vec<Finding>, mode: Mode) {
    match mode {
        Mode::Diff => {}
        Mode::Rebuild => findings.retain(|f| !from_diff(f)),
        Mode::Both => {
            for f in findings.iter_mut().filter(|f| from_diff(f)) {
                f.mode = Some(Mode::Diff);
            }
        }
    }
}

fn failed(message: String) -> Rebuilt {
    Rebuilt {
        findings: vec![Finding::new(Code::RebuildFailed, message).in_mode(Mode::Rebuild)],
        info: RebuildInfo::default(),
        files: 0,
        identical: 0,
        stabilized: 0,
    }
}

/// A fresh throwaway directory under `<cache>/rebuild/`.
fn scratch_dir(cache_dir: &Path) -> std::io::Result<PathBuf> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = cache_dir
        .join("rebuild")
        .join(format!("{}-{nanos:x}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Removes the throwaway directory however the rebuild ends.
struct Scratch(PathBuf);
impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Rebuild one package and compare. Never panics on package input; every failure is a
/// `rebuild-failed` (or `not-comparable`) finding.
pub async fn rebuild(req: Request<'_>) -> Rebuilt {
    let eco = req.handler.ecosystem();
    let rebuilder = eco.rebuilder();
    let scratch = match scratch_dir(req.cache_dir) {
        Ok(d) => Scratch(d),
        Err(e) => return failed(format!("cannot create a rebuild directory: {e}")),
    };
    let check = tokio::task::spawn_blocking(sandbox::check).await;
    match check {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return failed(e.to_string()),
        Err(e) => return failed(format!("sandbox check crashed: {e}")),
    }
    let src = scratch.0.join("src");
    let (repo, tree, commit) = (req.repo.clone(), req.tree.clone(), req.commit.to_string());
    let s2 = src.clone();
    let home = scratch.0.join("home");
    let h2 = home.clone();
    let t0 = Instant::now();
    let made =
        tokio::task::spawn_blocking(move || materialise(&repo, &tree, &commit, &s2, &h2)).await;
    match made {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            return failed(format!(
                "could not write the tree of {} for the build: {e}",
                short(req.commit)
            ))
        }
        Err(e) => return failed(format!("materialising crashed: {e}")),
    }
    let cx = PlanCx {
        http: req.http,
        profile: req.profile,
        resolved: req.resolved,
        pkg: req.pkg,
        src: &src,
        pkg_dir: req.pkg_dir,
        scratch: &scratch.0,
    };
    let materialise_ms = t0.elapsed().as_millis();
    let t1 = Instant::now();
    let plan = match rebuilder.plan(&cx).await {
        Ok(p) => p,
        Err(Failure::Failed(m)) => return failed(m),
        Err(Failure::NotComparable(m)) => {
            let mut r = failed(String::new());
            r.findings = vec![Finding::new(Code::NotComparable, m).in_mode(Mode::Rebuild)];
            return r;
        }
    };
    let prepare_ms = t1.elapsed().as_millis();
    let mut info = RebuildInfo {
        packager: plan.packager.clone(),
        packager_version: plan.packager_version.clone(),
        ..Default::default()
    };
    let mut path: Vec<String> = plan.path.iter().map(|p| p.display().to_string()).collect();
    path.extend(["/usr/local/bin", "/usr/bin", "/bin"].map(String::from));
    let mut env = vec![
        ("PATH".to_string(), path.join(":")),
        ("HOME".to_string(), home.display().to_string()),
        ("LANG".to_string(), "C.UTF-8".to_string()),
        ("TMPDIR".to_string(), "/tmp".to_string()),
        ("GIT_CONFIG_NOSYSTEM".to_string(), "1".to_string()),
    ];
    env.extend(plan.env.iter().cloned());
    let mut read_only = plan.read_only.clone();
    // The work tree's git objects live in the shared clone (alternates), read-only.
    read_only.push(req.repo.dir.join("objects"));
    let job = sandbox::Job {
        argv: plan.argv.clone(),
        cwd: plan.cwd.clone(),
        writable: scratch.0.clone(),
        read_only,
        env,
        time_limit: None,
        memory_limit: None,
    };
    let log = scratch.0.join("build.log");
    let started = Instant::now();
    let ran = tokio::task::spawn_blocking(move || sandbox::run(&job, &log)).await;
    info.build_ms = started.elapsed().as_millis() as u64;
    let ran = match ran {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return with_info(failed(e.to_string()), info),
        Err(e) => return with_info(failed(format!("the build crashed: {e}")), info),
    };
    if !ran.success {
        let why = if ran.timed_out {
            format!(
                "`{}` was stopped after {}s",
                info.packager,
                ran.elapsed.as_secs()
            )
        } else {
            format!("`{}` failed", info.packager)
        };
        return with_info(
            failed(format!("{why}; end of the build log:\n{}", ran.log_tail)),
            info,
        );
    }
    let Some(out) = find_output(&plan.output_dir, &plan.output_suffix) else {
        return with_info(
            failed(format!(
                "`{}` produced no `*{}` in {}; end of the build log:\n{}",
                info.packager,
                plan.output_suffix,
                plan.output_dir.display(),
                ran.log_tail
            )),
            info,
        );
    };
    let rebuilt_bytes = match std::fs::read(&out) {
        Ok(b) => b,
        Err(e) => return with_info(failed(format!("reading {}: {e}", out.display())), info),
    };
    let handler = req.handler;
    let published_files = match rebuilder.files(handler, req.resolved, req.published) {
        Ok(f) => f,
        Err(e) => return with_info(failed(format!("the published artifact: {e}")), info),
    };
    // The rebuilt archive is read by its own name (a legacy `.zip` sdist rebuilds as `.tar.gz`).
    let mut rebuilt_as = req.resolved.clone();
    if let Some(name) = out.file_name() {
        rebuilt_as.filename = name.to_string_lossy().into_owned();
    }
    let rebuilt_files = match rebuilder.files(handler, &rebuilt_as, &rebuilt_bytes) {
        Ok(f) => f,
        Err(e) => return with_info(failed(format!("the rebuilt artifact: {e}")), info),
    };
    let mut stabs = stabilizers::archive_stabilizers();
    let archive_level = stabs.len();
    stabs.extend(rebuilder.stabilizers());
    info.bit_for_bit = rebuilt_bytes == req.published;
    if !info.bit_for_bit {
        let (pm, rm) = (
            rebuilder.archive_meta(req.published),
            rebuilder.archive_meta(&rebuilt_bytes),
        );
        for s in &stabs[..archive_level] {
            if s.archive(&pm, &rm) {
                info.stabilizers.push(Applied {
                    name: s.name().into(),
                    reason: s.reason().into(),
                    paths: Vec::new(),
                });
            }
        }
    }
    let cx = StabilizeCx {
        published: &published_files,
        rebuilt: &rebuilt_files,
        data: plan.data.as_ref(),
    };
    let t3 = Instant::now();
    let mut r = compare_rebuilt(&stabs[archive_level..], &cx);
    tracing::info!(
        "rebuild of {}@{}: materialise {materialise_ms} ms ({} tree entries), prepare {prepare_ms} ms, build {} ms, compare {} ms",
        req.pkg.name,
        req.pkg.version,
        req.tree.entries.len(),
        info.build_ms,
        t3.elapsed().as_millis()
    );
    r.info.packager = info.packager;
    r.info.packager_version = info.packager_version;
    r.info.bit_for_bit = info.bit_for_bit;
    r.info.build_ms = info.build_ms;
    info.stabilizers.append(&mut r.info.stabilizers);
    r.info.stabilizers = info.stabilizers;
    r
}

fn with_info(mut r: Rebuilt, info: RebuildInfo) -> Rebuilt {
    r.info = info;
    r
}

/// The newest file in `dir` whose name ends with `suffix`.
fn find_output(dir: &Path, suffix: &str) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(suffix))
        .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
        .max_by_key(|e| e.metadata().and_then(|m| m.modified()).ok())
        .map(|e| e.path())
}

/// Run a host tool (never package code) and return its first output line.
pub fn tool_version(program: &Path, args: &[&str]) -> String {
    std::process::Command::new(program)
        .args(args)
        .env_remove("RUSTUP_TOOLCHAIN")
        .output()
        .ok()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .to_string()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registry_profile_may_set_the_mode() {
        let p: crate::profile::Profile = toml::from_str(
            "name = \"x\"\necosystem = \"crates\"\nprotocol = \"sparse\"\nurl = \"http://x/\"\nmode = \"both\"\n",
        )
        .unwrap();
        assert_eq!(p.mode, Some(Mode::Both));
    }

    #[test]
    fn mode_round_trips() {
        for m in [Mode::Diff, Mode::Rebuild, Mode::Both] {
            assert_eq!(Mode::parse(m.as_str()), Some(m));
        }
        assert!(Mode::Both.diffs() && Mode::Both.rebuilds());
        assert!(!Mode::Rebuild.diffs() && !Mode::Diff.rebuilds());
    }
}

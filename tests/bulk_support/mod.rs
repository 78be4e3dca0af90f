//! A synthetic crates world for the bulk tests and the benchmark: real git repositories (built
//! with one `git fast-import` per repository, so thousands of versions take seconds), real
//! `.crate` archives written directly with tar + flate2 (with the `.cargo_vcs_info.json`,
//! `Cargo.toml.orig` and normalised `Cargo.toml` that `cargo package` writes), served by the
//! shared loopback server of `tests/common/http.rs` ([`TestServer::serve_files`]: in memory,
//! keep-alive on or off, a request log, injectable faults and delays).
//!
//! The benchmark includes this file by path, and this file includes the server by path.
#![allow(dead_code)]

#[path = "../common/http.rs"]
pub mod http;

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub use http::TestServer;

use sha2::Digest as _;

/// The host every fixture repository URL claims; `--git-rewrite` maps it to the local repos.
pub const FORGE: &str = "https://github.com/fixture/";

/// One repository to generate.
#[derive(Debug, Clone)]
pub struct RepoSpec {
    pub name: String,
    /// Crate names; a single crate lives at the root, several under `crates/<name>/`.
    pub crates: Vec<String>,
    /// Versions `1.0.0` .. `1.0.{versions-1}`, one commit and one tag per version and crate.
    pub versions: usize,
}

/// A published crate version.
#[derive(Debug, Clone)]
pub struct Published {
    pub name: String,
    pub version: String,
    pub repo: String,
    pub commit: String,
    pub crate_bytes: Vec<u8>,
    pub cksum: String,
}

impl Published {
    pub fn spec(&self) -> String {
        format!("crates:{}@{}", self.name, self.version)
    }
}

pub struct World {
    pub git_root: PathBuf,
    pub packages: Vec<Published>,
}

/// Deterministic filler text, so files are realistic in size and differ between crates.
fn filler(seed: &str, lines: usize) -> String {
    let mut out = String::new();
    let mut h = sha2::Sha256::digest(seed.as_bytes()).to_vec();
    for i in 0..lines {
        h = sha2::Sha256::digest(&h).to_vec();
        out.push_str(&format!(
            "    // {i}: {} lorem ipsum dolor sit amet\n",
            hex::encode(&h[..12])
        ));
    }
    out
}

fn manifest(name: &str, version: &str, repo: &str) -> String {
    format!(
        "[package]\nname = \"{name}\"\nversion = \"{version}\"\nedition = \"2021\"\n\
         license = \"MIT\"\nrepository = \"{FORGE}{repo}\"\ndescription = \"fixture\"\n\n\
         [dependencies]\n"
    )
}

impl World {
    /// Build every repository and every archive under `root`.
    pub fn build(root: &Path, repos: &[RepoSpec], tamper: &dyn Fn(&str, &str) -> bool) -> World {
        let git_root = root.join("git");
        std::fs::create_dir_all(&git_root).unwrap();
        let mut packages = Vec::new();
        for spec in repos {
            packages.extend(build_repo(&git_root, spec, tamper));
        }
        World { git_root, packages }
    }

    /// `--git-rewrite` argument mapping the fixture forge to the local repositories.
    pub fn rewrite_arg(&self) -> String {
        format!("{FORGE}=file://{}/", self.git_root.display())
    }

    /// Files the registry serves (index, config, downloads) for a server at `port`.
    pub fn registry_files(&self, port: u16) -> HashMap<String, Vec<u8>> {
        let mut files = HashMap::new();
        files.insert(
            "/index/config.json".to_string(),
            format!("{{\"dl\":\"http://127.0.0.1:{port}/dl/{{crate}}/{{version}}/download\"}}")
                .into_bytes(),
        );
        let mut index: BTreeMap<String, String> = BTreeMap::new();
        for p in &self.packages {
            let line = serde_json::json!({
                "name": p.name, "vers": p.version, "deps": [], "cksum": p.cksum,
                "features": {}, "yanked": false
            });
            let path = format!("/index/{}", provero::crates::registry::index_path(&p.name));
            let e = index.entry(path).or_default();
            e.push_str(&line.to_string());
            e.push('\n');
            files.insert(
                format!("/dl/{}/{}/download", p.name, p.version),
                p.crate_bytes.clone(),
            );
        }
        files.extend(index.into_iter().map(|(k, v)| (k, v.into_bytes())));
        files
    }
}

/// One repository: a fast-import stream with a commit and tags per version, then the archives.
fn build_repo(
    git_root: &Path,
    spec: &RepoSpec,
    tamper: &dyn Fn(&str, &str) -> bool,
) -> Vec<Published> {
    let dir = git_root.join(&spec.name);
    git(
        &["init", "--quiet", "--bare", "--initial-branch=main"],
        &dir,
        None,
    );
    let mono = spec.crates.len() > 1;
    let crate_dir = |c: &str| {
        if mono {
            format!("crates/{c}")
        } else {
            String::new()
        }
    };
    let join = |d: &str, f: &str| {
        if d.is_empty() {
            f.to_string()
        } else {
            format!("{d}/{f}")
        }
    };
    let mut stream: Vec<u8> = Vec::new();
    let mut trees: Vec<BTreeMap<String, Vec<u8>>> = Vec::new();
    let mut tree: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    if mono {
        tree.insert(
            "Cargo.toml".into(),
            b"[workspace]\nmembers = [\"crates/*\"]\nresolver = \"2\"\n".to_vec(),
        );
    }
    for k in 0..spec.versions {
        let version = format!("1.0.{k}");
        for c in &spec.crates {
            let d = crate_dir(c);
            tree.insert(
                join(&d, "Cargo.toml"),
                manifest(c, &version, &spec.name).into_bytes(),
            );
            tree.insert(
                join(&d, "src/lib.rs"),
                format!(
                    "//! {c} {version}\npub fn version() -> &'static str {{ \"{version}\" }}\n{}",
                    filler(&format!("{c}{version}"), 20)
                )
                .into_bytes(),
            );
            if k == 0 {
                tree.insert(
                    join(&d, "README.md"),
                    format!("# {c}\n\n{}", filler(c, 15)).into_bytes(),
                );
                for m in 0..6 {
                    tree.insert(
                        join(&d, &format!("src/m{m}.rs")),
                        format!("pub fn f{m}() {{}}\n{}", filler(&format!("{c}/{m}"), 30))
                            .into_bytes(),
                    );
                }
            }
        }
        let msg = format!("release {version}\n");
        stream.extend_from_slice(
            format!(
                "commit refs/heads/main\nmark :{}\ncommitter Fixture <f@example.org> {} +0000\ndata {}\n{msg}",
                k + 1,
                1_700_000_000 + k as u64 * 3600,
                msg.len()
            )
            .as_bytes(),
        );
        if k > 0 {
            stream.extend_from_slice(format!("from :{k}\n").as_bytes());
        }
        for (path, data) in &tree {
            stream.extend_from_slice(
                format!("M 100644 inline {path}\ndata {}\n", data.len()).as_bytes(),
            );
            stream.extend_from_slice(data);
            stream.push(b'\n');
        }
        for c in &spec.crates {
            let tag = if mono {
                format!("{c}-v{version}")
            } else {
                format!("v{version}")
            };
            stream.extend_from_slice(
                format!("reset refs/tags/{tag}\nfrom :{}\n\n", k + 1).as_bytes(),
            );
        }
        trees.push(tree.clone());
    }
    let marks = dir.join("marks");
    let mut child = git_cmd(&dir)
        .args(["fast-import", "--quiet"])
        .arg(format!("--export-marks={}", marks.display()))
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&stream).unwrap();
    assert!(child.wait().unwrap().success(), "fast-import failed");
    let marks_text = std::fs::read_to_string(&marks).unwrap();
    let mut commits = HashMap::new();
    for l in marks_text.lines() {
        let (m, sha) = l.split_once(' ').unwrap();
        commits.insert(
            m.trim_start_matches(':').parse::<usize>().unwrap(),
            sha.to_string(),
        );
    }
    let mut out = Vec::new();
    for (k, tree) in trees.iter().enumerate() {
        let version = format!("1.0.{k}");
        let commit = commits[&(k + 1)].clone();
        for c in &spec.crates {
            let d = crate_dir(c);
            let mut files: Vec<(String, Vec<u8>)> = tree
                .iter()
                .filter_map(|(p, data)| {
                    let rel = if d.is_empty() {
                        Some(p.as_str())
                    } else {
                        p.strip_prefix(&format!("{d}/"))
                    }?;
                    Some((rel.to_string(), data.clone()))
                })
                .collect();
            let orig = tree[&join(&d, "Cargo.toml")].clone();
            for f in files.iter_mut().filter(|(p, _)| p == "Cargo.toml") {
                // cargo's normalised rewrite: a header and the same declarations.
                let mut n = b"# THIS FILE IS AUTOMATICALLY GENERATED BY CARGO\n\n".to_vec();
                n.extend_from_slice(&orig);
                f.1 = n;
            }
            files.push(("Cargo.toml.orig".into(), orig));
            files.push((
                ".cargo_vcs_info.json".into(),
                format!(
                    "{{\n  \"git\": {{\n    \"sha1\": \"{commit}\"\n  }},\n  \"path_in_vcs\": \"{d}\"\n}}"
                )
                .into_bytes(),
            ));
            if tamper(c, &version) {
                files.push(("src/injected.rs".into(), b"pub fn payload() {}\n".to_vec()));
            }
            let crate_bytes = crate_archive(c, &version, &files);
            let cksum = hex::encode(sha2::Sha256::digest(&crate_bytes));
            out.push(Published {
                name: c.clone(),
                version: version.clone(),
                repo: spec.name.clone(),
                commit: commit.clone(),
                crate_bytes,
                cksum,
            });
        }
    }
    out
}

/// A `.crate`: gzipped tar, every entry under `<name>-<version>/`.
pub fn crate_archive(name: &str, version: &str, files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    for (path, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1_700_000_000);
        h.set_cksum();
        tar.append_data(&mut h, format!("{name}-{version}/{path}"), data.as_slice())
            .unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap()
}

fn git_cmd(dir: &Path) -> Command {
    let mut c = Command::new("git");
    c.arg("--git-dir")
        .arg(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1");
    c
}

fn git(args: &[&str], dir: &Path, cwd: Option<&Path>) {
    let mut c = Command::new("git");
    c.args(args).arg(dir).env("GIT_CONFIG_GLOBAL", "/dev/null");
    if let Some(d) = cwd {
        c.current_dir(d);
    }
    assert!(c.status().unwrap().success(), "git {args:?} failed");
}

/// The registry's index root on a server serving [`World::registry_files`].
pub fn index_url(server: &TestServer) -> String {
    server.url("/index/")
}

/// A built world served on loopback, in a scratch directory, for the bulk tests.
pub struct Fixture {
    _dir: tempfile::TempDir,
    pub root: PathBuf,
    pub world: World,
    pub server: TestServer,
}

/// Build `repos` (with `tamper` deciding which versions are published tampered) and serve them.
pub fn fixture(repos: &[RepoSpec], tamper: &dyn Fn(&str, &str) -> bool) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let world = World::build(&root, repos, tamper);
    let server = TestServer::serve_files(|port| world.registry_files(port), true);
    Fixture {
        _dir: dir,
        root,
        world,
        server,
    }
}

impl Fixture {
    /// `provero verify` against this world, results store `db`, cache `<root>/<cache>`.
    pub fn cmd(&self, db: &Path, cache: &str) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_provero"));
        c.args(["verify", "--quiet", "--format", "json", "--registry"])
            .arg(format!("crates={}", index_url(&self.server)))
            .arg("--git-rewrite")
            .arg(self.world.rewrite_arg())
            .arg("--cache-dir")
            .arg(self.root.join(cache))
            .arg("--db")
            .arg(db)
            .env_remove("PROVERO_DB")
            .env_remove("PROVERO_CACHE_BYTES")
            .env("NO_COLOR", "1");
        c
    }
}

/// The report on stdout, or a panic quoting stderr.
pub fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// What a result says (verdict, findings, source, excused files), package by package,
/// without what depends on timing.
#[allow(dead_code)] // not every test crate that loads this module compares outcomes
pub fn outcome(v: &serde_json::Value) -> Vec<serde_json::Value> {
    let mut out: Vec<serde_json::Value> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            serde_json::json!({
                "package": r["package"],
                "verdict": r["verdict"],
                "findings": r["findings"],
                "source": r["source"],
                "excused": r["excused"],
            })
        })
        .collect();
    out.sort_by_key(|r| r["package"].to_string());
    out
}

//! Real parts for the gems tests: git repositories with tags, gems built by the real `gem build`
//! (Debian's `ruby` package), a loopback HTTP server serving the RubyGems API from a directory,
//! tampering helpers that repack a `.gem` the way an attacker would, and a runner for the real
//! binary.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::Digest as _;

/// The loopback server the crates tests use, shared rather than written again.
#[allow(dead_code)]
#[path = "../common/http.rs"]
mod http;
pub use http::TestServer;

/// Run git with no user or system config and a fixed identity and clock.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Fixture")
        .env("GIT_AUTHOR_EMAIL", "fixture@example.org")
        .env("GIT_COMMITTER_NAME", "Fixture")
        .env("GIT_COMMITTER_EMAIL", "fixture@example.org")
        .env("GIT_AUTHOR_DATE", "2024-01-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2024-01-01T00:00:00Z")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A git repository at `root/name` with `files` committed and `tags` on that commit.
/// `(path, content)`; a content starting with `->` makes a symlink.
pub fn repo(root: &Path, name: &str, files: &[(&str, &str)], tags: &[&str]) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    git(&dir, &["init", "-q", "-b", "main"]);
    git(&dir, &["config", "uploadpack.allowFilter", "true"]);
    git(&dir, &["config", "uploadpack.allowAnySHA1InWant", "true"]);
    write_files(&dir, files);
    git(&dir, &["add", "-A"]);
    git(&dir, &["commit", "-q", "-m", "release"]);
    for t in tags {
        git(&dir, &["tag", t]);
    }
    dir
}

pub fn write_files(dir: &Path, files: &[(&str, &str)]) {
    for (path, content) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        match content.strip_prefix("->") {
            Some(target) => std::os::unix::fs::symlink(target, &p).unwrap(),
            None => std::fs::write(&p, content).unwrap(),
        }
    }
}

/// `gem build <gemspec>` in `dir`; returns the bytes of the `.gem` it wrote.
pub fn gem_build(dir: &Path, gemspec: &str) -> Vec<u8> {
    let out = Command::new("gem")
        .args(["build", gemspec])
        .current_dir(dir)
        .env("HOME", dir)
        .env("SOURCE_DATE_EPOCH", "1704067200")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("`gem` runs: install Debian's `ruby` package (apt-get install -y ruby)");
    assert!(
        out.status.success(),
        "gem build {gemspec}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let file = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("File: "))
        .expect("gem build names the file")
        .to_string();
    std::fs::read(dir.join(file)).unwrap()
}

pub fn sha256(data: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(data))
}

/// The members of a `.gem` (outer plain tar), in order.
pub fn members(gem: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut a = tar::Archive::new(gem);
    a.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let name = e.path().unwrap().to_string_lossy().into_owned();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            (name, data)
        })
        .collect()
}

fn tar_of(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o444);
        h.set_mtime(1_704_067_200);
        h.set_cksum();
        b.append_data(&mut h, name, data.as_slice()).unwrap();
    }
    b.into_inner().unwrap()
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data)
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// `checksums.yaml.gz` for the given members, as RubyGems writes it.
pub fn checksums(members: &[(String, Vec<u8>)]) -> Vec<u8> {
    let pick = |n: &str| &members.iter().find(|(m, _)| m == n).unwrap().1;
    let (m, d) = (pick("metadata.gz"), pick("data.tar.gz"));
    let yaml = format!(
        "---\nSHA256:\n  metadata.gz: '{}'\n  data.tar.gz: '{}'\nSHA512:\n  metadata.gz: '{}'\n  data.tar.gz: '{}'\n",
        sha256(m),
        sha256(d),
        hex::encode(sha2::Sha512::digest(m)),
        hex::encode(sha2::Sha512::digest(d)),
    );
    gzip(yaml.as_bytes())
}

/// Rebuild a `.gem` after `edit` changed its members; `checksums.yaml.gz` is rewritten to match
/// unless `keep_checksums` (the tampered-checksums case).
pub fn repack(
    gem: &[u8],
    keep_checksums: bool,
    edit: impl FnOnce(&mut Vec<(String, Vec<u8>)>),
) -> Vec<u8> {
    let mut m = members(gem);
    edit(&mut m);
    if !keep_checksums {
        let sums = checksums(&m);
        for (name, data) in m.iter_mut() {
            if name == "checksums.yaml.gz" {
                *data = sums.clone();
            }
        }
    }
    tar_of(&m)
}

/// Edit the files of `data.tar.gz` (path → content; symlinks kept as they are).
pub fn edit_data(
    members: &mut [(String, Vec<u8>)],
    edit: impl FnOnce(&mut BTreeMap<String, Vec<u8>>),
) {
    let (_, data) = members
        .iter_mut()
        .find(|(n, _)| n == "data.tar.gz")
        .unwrap();
    let raw = gunzip(data);
    let mut files = BTreeMap::new();
    let mut links = Vec::new();
    let mut a = tar::Archive::new(raw.as_slice());
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let path = e.path().unwrap().to_string_lossy().into_owned();
        if e.header().entry_type().is_symlink() {
            let target = e
                .link_name()
                .unwrap()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            links.push((path, target));
            continue;
        }
        let mut buf = Vec::new();
        e.read_to_end(&mut buf).unwrap();
        files.insert(path, buf);
    }
    edit(&mut files);
    let mut b = tar::Builder::new(Vec::new());
    for (path, content) in &files {
        let mut h = tar::Header::new_gnu();
        h.set_size(content.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, path, content.as_slice()).unwrap();
    }
    for (path, target) in &links {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        h.set_mode(0o777);
        b.append_link(&mut h, path, target).unwrap();
    }
    *data = gzip(&b.into_inner().unwrap());
}

/// Edit the gemspec YAML of `metadata.gz`.
pub fn edit_metadata(members: &mut [(String, Vec<u8>)], edit: impl FnOnce(String) -> String) {
    let (_, data) = members
        .iter_mut()
        .find(|(n, _)| n == "metadata.gz")
        .unwrap();
    let yaml = String::from_utf8(gunzip(data)).unwrap();
    *data = gzip(edit(yaml).as_bytes());
}

/// A directory laid out like a RubyGems server.
pub struct Registry {
    pub root: PathBuf,
}

/// One published version for the API listing.
pub struct Published<'a> {
    pub number: &'a str,
    pub platform: &'a str,
    pub gem: &'a [u8],
    /// The `sha` the API publishes; `None` means the gem's real digest.
    pub sha: Option<String>,
}

impl Registry {
    pub fn new(root: &Path) -> Registry {
        std::fs::create_dir_all(root).unwrap();
        Registry {
            root: root.to_path_buf(),
        }
    }

    /// Publish every version of `name`: the v1 list, v2 descriptions and the `.gem` files.
    pub fn publish(&self, name: &str, versions: &[Published<'_>], v2_extra: serde_json::Value) {
        let mut list = Vec::new();
        for p in versions {
            let full = if p.platform == "ruby" {
                p.number.to_string()
            } else {
                format!("{}-{}", p.number, p.platform)
            };
            let sha = p.sha.clone().unwrap_or_else(|| sha256(p.gem));
            let gems = self.root.join("gems");
            std::fs::create_dir_all(&gems).unwrap();
            std::fs::write(gems.join(format!("{name}-{full}.gem")), p.gem).unwrap();
            list.push(serde_json::json!({
                "number": p.number, "platform": p.platform, "sha": sha,
                "prerelease": p.number.chars().any(|c| c.is_ascii_alphabetic()),
            }));
            let v2 = self.root.join(format!("api/v2/rubygems/{name}/versions"));
            std::fs::create_dir_all(&v2).unwrap();
            let mut info = serde_json::json!({"name": name, "version": p.number, "platform": p.platform, "sha": sha});
            if let (Some(o), Some(extra)) = (info.as_object_mut(), v2_extra.as_object()) {
                o.extend(extra.clone());
            }
            if p.platform == "ruby" {
                std::fs::write(v2.join(format!("{}.json", p.number)), info.to_string()).unwrap();
            }
        }
        let v1 = self.root.join("api/v1/versions");
        std::fs::create_dir_all(&v1).unwrap();
        std::fs::write(
            v1.join(format!("{name}.json")),
            serde_json::Value::Array(list).to_string(),
        )
        .unwrap();
    }
}

/// What one run of the real binary produced.
pub struct Run {
    pub code: i32,
    pub json: serde_json::Value,
    pub stderr: String,
}

impl Run {
    pub fn result(&self) -> &serde_json::Value {
        &self.json["results"][0]
    }

    pub fn verdict(&self) -> &str {
        self.result()["verdict"].as_str().unwrap_or("")
    }

    /// `(code, path)` of every finding.
    pub fn findings(&self) -> Vec<(String, Option<String>)> {
        self.result()["findings"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|f| {
                (
                    f["code"].as_str().unwrap().to_string(),
                    f["path"].as_str().map(str::to_string),
                )
            })
            .collect()
    }

    pub fn has(&self, code: &str, path: Option<&str>) -> bool {
        self.findings()
            .iter()
            .any(|(c, p)| c == code && (path.is_none() || p.as_deref() == path))
    }

    pub fn message(&self, code: &str) -> String {
        self.result()["findings"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|f| f["code"] == code)
            .map(|f| f["message"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// A scratch world: repositories, a registry directory and a cache.
pub struct World {
    _tmp: tempfile::TempDir,
    pub repos: PathBuf,
    pub www: Registry,
    pub cache: PathBuf,
}

impl World {
    pub fn new() -> World {
        let tmp = tempfile::tempdir().unwrap();
        let repos = tmp.path().join("repos");
        std::fs::create_dir_all(&repos).unwrap();
        let www = Registry::new(&tmp.path().join("www"));
        let cache = tmp.path().join("cache");
        World {
            repos,
            www,
            cache,
            _tmp: tmp,
        }
    }

    /// Publish one `ruby` gem version (`sha` overrides the published digest).
    pub fn publish(&self, name: &str, number: &str, gem: &[u8], sha: Option<String>) {
        self.www.publish(
            name,
            &[Published {
                number,
                platform: "ruby",
                gem,
                sha,
            }],
            serde_json::json!({}),
        );
    }

    /// `provero verify` of `spec` against this world's registry, served for the run.
    pub fn verify_with(&self, spec: &str, extra: &[&str]) -> Run {
        let server = TestServer::serve_dir(self.www.root.clone());
        let url = format!("{}/", server.base_url().trim_end_matches('/'));
        provero_with(&url, &self.repos, &self.cache, spec, extra)
    }

    pub fn verify(&self, spec: &str) -> Run {
        self.verify_with(spec, &[])
    }
}

/// `provero verify` against the loopback registry, with GitHub rewritten to `repos`.
pub fn provero(registry: &str, repos: &Path, cache: &Path, spec: &str) -> Run {
    provero_with(registry, repos, cache, spec, &[])
}

/// [`provero`] with more arguments (`--mode rebuild`).
pub fn provero_with(registry: &str, repos: &Path, cache: &Path, spec: &str, extra: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_provero"))
        .args(["verify", "--quiet", "--format", "json"])
        .args(extra)
        .arg("--registry")
        .arg(format!("gems={registry}"))
        .arg("--git-rewrite")
        .arg(format!(
            "https://github.com/acme/=file://{}/",
            repos.display()
        ))
        .arg("--cache-dir")
        .arg(cache)
        .arg(spec)
        .env("NO_COLOR", "1")
        .output()
        .expect("provero runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("JSON report ({e}):\n{stdout}\nstderr:\n{stderr}"));
    Run {
        code: out.status.code().unwrap_or(-1),
        json,
        stderr,
    }
}

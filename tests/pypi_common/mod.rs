//! Fixtures for the PyPI integration tests: real git repositories with tags, real sdists built
//! from them by setuptools (`python3 setup.py sdist`), and the shared loopback server
//! (`tests/common/http.rs`) speaking the Simple API: PEP 691 JSON when asked for it and the
//! page has `index.json`, PEP 503 HTML otherwise. The provero binary runs against them with
//! `--git-rewrite` to the local repos.

#![allow(dead_code)]

#[path = "../common/http.rs"]
pub mod http;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

pub struct Fixture {
    // Field order matters for Drop: stop the server before deleting its files.
    pub server: http::TestServer,
    pub tmp: tempfile::TempDir,
    pub port: u16,
}

impl Fixture {
    pub fn new() -> Fixture {
        let tmp = tempfile::tempdir().expect("tempdir");
        for d in ["git", "www", "cache", "dist"] {
            std::fs::create_dir_all(tmp.path().join(d)).unwrap();
        }
        let server = http::TestServer::serve_dir(tmp.path().join("www"));
        let port = server.port();
        Fixture { server, tmp, port }
    }

    pub fn root(&self) -> &Path {
        self.tmp.path()
    }

    /// A new repository at `git/<name>`, served as `https://github.com/acme/<name>`.
    pub fn repo(&self, name: &str) -> Repo {
        let dir = self.root().join("git").join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let r = Repo { dir };
        r.git(&["init", "-q", "-b", "main"]);
        r.git(&["config", "uploadpack.allowFilter", "true"]);
        r.git(&["config", "uploadpack.allowAnySHA1InWant", "true"]);
        r
    }

    /// Build an sdist with `python3 setup.py sdist` in `repo/subdir`; returns its path.
    pub fn sdist(&self, repo: &Repo, subdir: &str) -> PathBuf {
        self.sdist_as(repo, subdir, "gztar")
    }

    /// Build an sdist in a given `--formats` (`gztar`, or `zip` for a legacy zip sdist).
    pub fn sdist_as(&self, repo: &Repo, subdir: &str, format: &str) -> PathBuf {
        let n = std::fs::read_dir(self.root().join("dist")).unwrap().count();
        let out = self.root().join("dist").join(n.to_string());
        let dir = repo.dir.join(subdir);
        let o = Command::new("python3")
            .args(["setup.py", "-q", "sdist", "--formats", format, "-d"])
            .arg(&out)
            .current_dir(&dir)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .output()
            .expect("python3 runs");
        assert!(
            o.status.success(),
            "sdist failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        std::fs::read_dir(&out)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path()
    }

    /// Build a wheel with `python3 setup.py bdist_wheel` in `repo/subdir` (`plat`: a
    /// `--plat-name`, which makes a platform-tagged wheel); returns its path.
    pub fn wheel(&self, repo: &Repo, subdir: &str, plat: Option<&str>) -> PathBuf {
        let n = std::fs::read_dir(self.root().join("dist")).unwrap().count();
        let out = self.root().join("dist").join(n.to_string());
        let build = self.root().join("build").join(n.to_string());
        let mut cmd = Command::new("python3");
        cmd.args(["setup.py", "-q", "build", "--build-base"])
            .arg(&build)
            .args(["bdist_wheel", "-d"])
            .arg(&out);
        if let Some(p) = plat {
            cmd.args(["--plat-name", p]);
        }
        let o = cmd
            .current_dir(repo.dir.join(subdir))
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .output()
            .expect("python3 runs");
        assert!(
            o.status.success(),
            "bdist_wheel failed (is `wheel` installed?): {}",
            String::from_utf8_lossy(&o.stderr)
        );
        std::fs::read_dir(&out)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path()
    }

    /// Publish files for `project` on the index `index` (`www/<index>/simple/<project>/`).
    /// `sha` overrides the published digest of a file.
    pub fn publish(&self, index: &str, project: &str, files: &[(&Path, Option<&str>)], html: bool) {
        let page = self
            .root()
            .join("www")
            .join(index)
            .join("simple")
            .join(project);
        let store = self.root().join("www").join(index).join("files");
        std::fs::create_dir_all(&page).unwrap();
        std::fs::create_dir_all(&store).unwrap();
        let mut entries = Vec::new();
        for (path, sha) in files {
            let name = path.file_name().unwrap().to_str().unwrap().to_string();
            let bytes = std::fs::read(path).unwrap();
            std::fs::write(store.join(&name), &bytes).unwrap();
            let digest = sha.map(str::to_string).unwrap_or_else(|| sha256(&bytes));
            entries.push((name, digest));
        }
        if html {
            let mut s = String::from("<!DOCTYPE html>\n<html><body><h1>Links</h1>\n");
            for (n, d) in &entries {
                s.push_str(&format!(
                    "<a href=\"../../files/{n}#sha256={d}\">{n}</a><br/>\n"
                ));
            }
            s.push_str("</body></html>\n");
            std::fs::write(page.join("index.html"), s).unwrap();
        } else {
            let files: Vec<Value> = entries
                .iter()
                .map(|(n, d)| {
                    serde_json::json!({"filename": n, "url": format!("../../files/{n}"),
                        "hashes": {"sha256": d}, "requires-python": ">=3.8"})
                })
                .collect();
            let v = serde_json::json!({"meta": {"api-version": "1.0"}, "name": project, "files": files});
            std::fs::write(page.join("index.json"), v.to_string()).unwrap();
        }
    }

    /// Run `provero verify --format json` against index `index`; exit code and report.
    pub fn verify(&self, index: &str, spec: &str) -> (i32, Value) {
        self.verify_with(index, spec, &[])
    }

    /// `verify` with more arguments (`--pypi-artifact wheel`).
    pub fn verify_with(&self, index: &str, spec: &str, extra: &[&str]) -> (i32, Value) {
        let o = Command::new(env!("CARGO_BIN_EXE_provero"))
            .arg("verify")
            .args(extra)
            .arg("--registry")
            .arg(format!(
                "pypi=http://127.0.0.1:{}/{index}/simple/",
                self.port
            ))
            .arg("--git-rewrite")
            .arg(format!(
                "https://github.com/acme/=file://{}/",
                self.root().join("git").display()
            ))
            .arg("--cache-dir")
            .arg(self.root().join("cache"))
            .args(["--format", "json", "--quiet", spec])
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .expect("provero runs");
        let text = String::from_utf8_lossy(&o.stdout);
        let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {text}\nstderr: {}",
                String::from_utf8_lossy(&o.stderr)
            )
        });
        if std::env::var_os("PYPI_TEST_DUMP").is_some() {
            eprintln!("{spec} on {index}: {v:#}");
        }
        (o.status.code().unwrap_or(-1), v)
    }
}

pub struct Repo {
    pub dir: PathBuf,
}

impl Repo {
    pub fn git(&self, args: &[&str]) -> String {
        let o = Command::new("git")
            .args(args)
            .current_dir(&self.dir)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "A U Thor")
            .env("GIT_AUTHOR_EMAIL", "author@example.org")
            .env("GIT_COMMITTER_NAME", "A U Thor")
            .env("GIT_COMMITTER_EMAIL", "author@example.org")
            .env("GIT_AUTHOR_DATE", "2024-01-01T00:00:00Z")
            .env("GIT_COMMITTER_DATE", "2024-01-01T00:00:00Z")
            .output()
            .expect("git runs");
        assert!(
            o.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    }

    pub fn write(&self, path: &str, content: &str) -> &Self {
        let p = self.dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
        self
    }

    pub fn symlink(&self, path: &str, target: &str) -> &Self {
        let p = self.dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(target, p).unwrap();
        self
    }

    pub fn commit(&self, msg: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", msg]);
        self.git(&["rev-parse", "HEAD"])
    }

    pub fn tag(&self, tag: &str) -> &Self {
        self.git(&["tag", tag]);
        self
    }
}

pub fn sha256(bytes: &[u8]) -> String {
    provero::archive::sha256_hex(bytes)
}

/// Rewrite an sdist: `edit` gets the entries (full archive paths, data) and may change them.
pub fn repack(src: &Path, dst: &Path, edit: impl FnOnce(&mut Vec<(String, Vec<u8>)>)) {
    let gz = std::fs::read(src).unwrap();
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut tar)
        .unwrap();
    let mut entries = Vec::new();
    let mut a = tar::Archive::new(&tar[..]);
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        if !e.header().entry_type().is_file() {
            continue;
        }
        let p = e.path().unwrap().to_string_lossy().into_owned();
        let mut d = Vec::new();
        e.read_to_end(&mut d).unwrap();
        entries.push((p, d));
    }
    edit(&mut entries);
    let mut b = tar::Builder::new(Vec::new());
    for (p, d) in &entries {
        let mut h = tar::Header::new_gnu();
        h.set_size(d.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, p, &d[..]).unwrap();
    }
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&b.into_inner().unwrap()).unwrap();
    std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
    std::fs::write(dst, enc.finish().unwrap()).unwrap();
}

/// Rewrite a wheel into `dst_dir` (same file name): `edit` gets the entries; with
/// `update_record` the RECORD lines of changed and added files are rewritten to match, as a
/// careful attacker would.
pub fn repack_wheel(
    src: &Path,
    dst_dir: &Path,
    update_record: bool,
    edit: impl FnOnce(&mut Vec<(String, Vec<u8>)>),
) -> PathBuf {
    let bytes = std::fs::read(src).unwrap();
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut entries = Vec::new();
    for i in 0..z.len() {
        let mut e = z.by_index(i).unwrap();
        let mut d = Vec::new();
        e.read_to_end(&mut d).unwrap();
        entries.push((e.name().to_string(), d));
    }
    edit(&mut entries);
    if update_record {
        let record = entries
            .iter()
            .position(|(p, _)| p.ends_with(".dist-info/RECORD"))
            .unwrap();
        let mut text = String::new();
        for (p, d) in &entries {
            if p.ends_with(".dist-info/RECORD") {
                text.push_str(&format!("{p},,\n"));
            } else {
                let digest = provero::pypi::wheel::urlsafe_b64(&hex_decode(&sha256(d)));
                text.push_str(&format!("{p},sha256={digest},{}\n", d.len()));
            }
        }
        entries[record].1 = text.into_bytes();
    }
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (p, d) in &entries {
        w.start_file(p.as_str(), zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(d).unwrap();
    }
    std::fs::create_dir_all(dst_dir).unwrap();
    let dst = dst_dir.join(src.file_name().unwrap());
    std::fs::write(&dst, w.finish().unwrap().into_inner()).unwrap();
    dst
}

fn hex_decode(h: &str) -> Vec<u8> {
    (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
        .collect()
}

/// Replace or add one entry.
pub fn set(entries: &mut Vec<(String, Vec<u8>)>, path: &str, data: &[u8]) {
    match entries.iter_mut().find(|(p, _)| p == path) {
        Some(e) => e.1 = data.to_vec(),
        None => entries.push((path.to_string(), data.to_vec())),
    }
}

/// The first result of a report.
pub fn result(v: &Value) -> &Value {
    &v["results"][0]
}

/// Findings of the first result with this code.
/// The rule that excused `path`, if one did.
pub fn excused_by<'a>(v: &'a serde_json::Value, path: &str) -> Option<&'a str> {
    result(v)["excused"]
        .as_array()?
        .iter()
        .find(|e| e["path"] == path)
        .and_then(|e| e["rule"].as_str())
}

pub fn with_code<'a>(v: &'a Value, code: &str) -> Vec<&'a Value> {
    result(v)["findings"]
        .as_array()
        .map(|a| a.iter().filter(|f| f["code"] == code).collect())
        .unwrap_or_default()
}

pub fn codes(v: &Value) -> Vec<String> {
    result(v)["findings"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| f["code"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

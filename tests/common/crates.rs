//! crates.io fixtures: writing crates into repositories, packaging them with
//! the real `cargo package`, and serving them from a sparse index.

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use super::git::{Repo, GIT_ENV};

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The default library source every fixture crate starts with. Tests edit
/// the line `    a + b` to make a content difference.
pub const LIB_RS: &str = r#"//! A small fixture crate.

/// Adds two numbers.
pub fn add(a: u32, b: u32) -> u32 {
    a + b
}

/// Greets someone.
pub fn greet(name: &str) -> String {
    format!("hello, {name}")
}
"#;

/// The sparse-index path of a crate name: `1/a`, `2/ab`, `3/a/abc`,
/// `ab/cd/abcd...` (lowercased).
pub fn index_path(name: &str) -> String {
    let lower = name.to_lowercase();
    format!("{}/{}", prefix(&lower), lower)
}

/// `{prefix}` of the `dl` template (case kept as given).
pub fn prefix(name: &str) -> String {
    match name.len() {
        0 => panic!("empty crate name"),
        1 => "1".to_string(),
        2 => "2".to_string(),
        3 => format!("3/{}", &name[..1]),
        _ => format!("{}/{}", &name[..2], &name[2..4]),
    }
}

/// A minimal `Cargo.toml` for a library crate with no dependencies.
pub fn manifest(name: &str, version: &str, repository: Option<&str>, extra: &str) -> String {
    let mut s = format!(
        "[package]\nname = \"{name}\"\nversion = \"{version}\"\nedition = \"2021\"\n\
         description = \"fixture crate {name}\"\nlicense = \"MIT\"\n"
    );
    if let Some(r) = repository {
        s.push_str(&format!("repository = \"{r}\"\n"));
    }
    s.push_str(extra);
    s
}

/// Write `Cargo.toml`, `src/lib.rs` and `README.md` of a crate into `dir`
/// (relative to the repository work tree; `""` for the root).
pub fn write_crate(repo: &Repo, dir: &str, name: &str, version: &str, repository: Option<&str>) {
    let at = |f: &str| {
        if dir.is_empty() {
            f.to_string()
        } else {
            format!("{dir}/{f}")
        }
    };
    repo.write(&at("Cargo.toml"), manifest(name, version, repository, ""));
    repo.write(&at("src/lib.rs"), LIB_RS);
    repo.write(&at("README.md"), format!("# {name}\n\nA fixture.\n"));
}

/// Run the real `cargo package --no-verify --offline -p NAME` at the
/// repository root and return the bytes of `NAME-VERSION.crate`.
/// `target_dir` should be inside the test's temporary directory and
/// outside the repository.
pub fn cargo_package(
    root: &Path,
    name: &str,
    version: &str,
    target_dir: &Path,
    allow_dirty: bool,
) -> Vec<u8> {
    cargo_package_with(root, name, version, target_dir, allow_dirty, &[])
}

/// [`cargo_package`] with more workspace members packaged in the same run (`-p` each), so a
/// member's path dependencies on them resolve offline.
pub fn cargo_package_with(
    root: &Path,
    name: &str,
    version: &str,
    target_dir: &Path,
    allow_dirty: bool,
    also: &[&str],
) -> Vec<u8> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .args(["package", "--no-verify", "--offline", "--quiet", "-p", name]);
    for other in also {
        cmd.args(["-p", other]);
    }
    cmd.env("CARGO_TARGET_DIR", target_dir)
        .env("CARGO_TERM_COLOR", "never");
    if allow_dirty {
        cmd.arg("--allow-dirty");
    }
    // Do not leak the outer `cargo test` build settings into the package run.
    for k in ["RUSTFLAGS", "CARGO_BUILD_TARGET", "CARGO_ENCODED_RUSTFLAGS"] {
        cmd.env_remove(k);
    }
    for (k, v) in GIT_ENV {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("spawn cargo package");
    assert!(
        out.status.success(),
        "cargo package -p {name} in {} failed:\n{}",
        root.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let file = target_dir
        .join("package")
        .join(format!("{name}-{version}.crate"));
    std::fs::read(&file).unwrap_or_else(|e| panic!("reading {}: {e}", file.display()))
}

/// How `config.json`'s `dl` template is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DlStyle {
    /// `{base}/dl/{lowerprefix}/{crate}/{crate}-{version}.crate`
    Markers,
    /// `{base}/api/v1/crates` (no marker: the client appends
    /// `/{crate}/{version}/download`)
    NoMarkers,
    /// `{base}/blobs/{sha256-checksum}`
    Checksum,
}

/// A sparse registry on disk, below the directory a [`super::http::TestServer`]
/// serves: `index/` holds `config.json` and the index files, and downloads
/// live where the `dl` template points.
pub struct Registry {
    pub served_root: PathBuf,
    pub base_url: String,
    pub style: DlStyle,
}

impl Registry {
    pub fn new(served_root: &Path, base_url: &str, style: DlStyle) -> Registry {
        let reg = Registry {
            served_root: served_root.to_path_buf(),
            base_url: base_url.to_string(),
            style,
        };
        let dl = match style {
            DlStyle::Markers => {
                format!("{base_url}/dl/{{lowerprefix}}/{{crate}}/{{crate}}-{{version}}.crate")
            }
            DlStyle::NoMarkers => format!("{base_url}/api/v1/crates"),
            DlStyle::Checksum => format!("{base_url}/blobs/{{sha256-checksum}}"),
        };
        let config = serde_json::json!({ "dl": dl, "api": base_url });
        let index = reg.served_root.join("index");
        std::fs::create_dir_all(&index).unwrap();
        std::fs::write(
            index.join("config.json"),
            serde_json::to_vec_pretty(&config).unwrap(),
        )
        .unwrap();
        reg
    }

    /// The URL given to `--registry crates=URL` (the index root).
    pub fn index_url(&self) -> String {
        format!("{}/index/", self.base_url)
    }

    /// URL path of a crate's index file, e.g. `/index/fi/xt/fixture`.
    pub fn index_url_path(&self, name: &str) -> String {
        format!("/index/{}", index_path(name))
    }

    /// URL path the `dl` template yields for this crate version.
    pub fn download_url_path(&self, name: &str, version: &str, cksum: &str) -> String {
        match self.style {
            DlStyle::Markers => format!(
                "/dl/{}/{name}/{name}-{version}.crate",
                prefix(&name.to_lowercase())
            ),
            DlStyle::NoMarkers => format!("/api/v1/crates/{name}/{version}/download"),
            DlStyle::Checksum => format!("/blobs/{cksum}"),
        }
    }

    /// Publish with the correct checksum; returns the download URL path.
    pub fn publish(&self, name: &str, version: &str, crate_bytes: &[u8]) -> String {
        let cksum = sha256_hex(crate_bytes);
        self.publish_with_cksum(name, version, crate_bytes, &cksum, false)
    }

    /// Publish with an arbitrary index checksum (and yanked flag); the
    /// download is stored where the `dl` template points for that declared
    /// checksum, so a client following the index finds these bytes.
    pub fn publish_with_cksum(
        &self,
        name: &str,
        version: &str,
        crate_bytes: &[u8],
        cksum: &str,
        yanked: bool,
    ) -> String {
        let url_path = self.download_url_path(name, version, cksum);
        let file = self.served_root.join(url_path.trim_start_matches('/'));
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, crate_bytes).unwrap();
        let mut line = index_line(name, version, cksum, yanked);
        if let Some((deps, features, links)) = index_fields(crate_bytes) {
            line["deps"] = deps;
            line["features"] = features;
            if let Some(l) = links {
                line["links"] = l.into();
            }
        }
        self.append_index_line(name, &line);
        url_path
    }

    /// Append a raw JSON index line (for index lines that disagree with the crate).
    pub fn append_index_line(&self, name: &str, line: &serde_json::Value) {
        let file = self.served_root.join("index").join(index_path(name));
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        let mut text = std::fs::read_to_string(&file).unwrap_or_default();
        text.push_str(&serde_json::to_string(line).unwrap());
        text.push('\n');
        std::fs::write(&file, text).unwrap();
    }

    /// Append a line to the crate's index file without storing a download
    /// (for "the index lists it but the download is gone").
    pub fn add_index_line(&self, name: &str, version: &str, cksum: &str, yanked: bool) {
        self.append_index_line(name, &index_line(name, version, cksum, yanked));
    }
}

fn index_line(name: &str, version: &str, cksum: &str, yanked: bool) -> serde_json::Value {
    serde_json::json!({
        "name": name,
        "vers": version,
        "deps": [],
        "cksum": cksum,
        "features": {},
        "yanked": yanked,
    })
}

/// `<root>/Cargo.toml` of a `.crate`, read without unpacking the rest (fixtures include
/// decompression bombs).
fn packaged_manifest(crate_bytes: &[u8]) -> Option<String> {
    use std::io::Read;
    let gz = flate2::read::GzDecoder::new(crate_bytes).take(64 << 20);
    let mut ar = tar::Archive::new(gz);
    for e in ar.entries().ok()? {
        let mut e = e.ok()?;
        let path = String::from_utf8(e.path_bytes().into_owned()).ok()?;
        if path.split('/').count() == 2 && path.ends_with("/Cargo.toml") {
            let mut text = String::new();
            e.read_to_string(&mut text).ok()?;
            return Some(text);
        }
    }
    None
}

/// What crates.io writes into the index line for a crate (cargo's publish request, built from
/// the normalised `Cargo.toml`): `deps`, `features`, `links`. `None` when the archive has no
/// readable `Cargo.toml` (hostile fixtures).
pub fn index_fields(
    crate_bytes: &[u8],
) -> Option<(serde_json::Value, serde_json::Value, Option<String>)> {
    use serde_json::json;
    let m: toml::Table = packaged_manifest(crate_bytes)?.parse().ok()?;
    let mut deps = Vec::new();
    let mut tables = vec![(None, &m)];
    if let Some(t) = m.get("target").and_then(|t| t.as_table()) {
        for (cfg, v) in t {
            if let Some(v) = v.as_table() {
                tables.push((Some(cfg.clone()), v));
            }
        }
    }
    for (target, t) in tables {
        for (kind, key) in [
            ("normal", "dependencies"),
            ("dev", "dev-dependencies"),
            ("build", "build-dependencies"),
        ] {
            let Some(d) = t.get(key).and_then(|d| d.as_table()) else {
                continue;
            };
            for (name, v) in d {
                let get = |k: &str| v.as_table().and_then(|t| t.get(k));
                let req = v
                    .as_str()
                    .or_else(|| get("version").and_then(|r| r.as_str()))
                    .unwrap_or("*");
                let features: Vec<&str> = get("features")
                    .and_then(|f| f.as_array())
                    .map(|a| a.iter().filter_map(|s| s.as_str()).collect())
                    .unwrap_or_default();
                let mut dep = json!({
                    "name": name,
                    "req": semver::VersionReq::parse(req).map(|r| r.to_string()).unwrap_or(req.to_string()),
                    "features": features,
                    "optional": get("optional").and_then(|o| o.as_bool()).unwrap_or(false),
                    "default_features": get("default-features").and_then(|o| o.as_bool()).unwrap_or(true),
                    "target": target,
                    "kind": kind,
                    "registry": get("registry-index").and_then(|r| r.as_str()),
                });
                if let Some(p) = get("package").and_then(|p| p.as_str()) {
                    dep["package"] = p.into();
                }
                deps.push(dep);
            }
        }
    }
    let features = m
        .get("features")
        .map(|f| serde_json::to_value(f).unwrap())
        .unwrap_or(json!({}));
    let links = m
        .get("package")
        .and_then(|p| p.get("links"))
        .and_then(|l| l.as_str())
        .map(str::to_string);
    Some((deps.into(), features, links))
}

//! Rebuilding a crate: `cargo package --no-verify --offline` on the workspace as committed
//! (`--manifest-path` of the package, so a workspace member is packaged alone). Cargo resolves
//! `Cargo.lock` from the registry index; provero fetches the index files the resolution can
//! need from the configured registry through its own HTTP client beforehand and hands them to
//! cargo inside the sandbox as a local registry replacing crates.io (no network in there; see
//! `rebuild_index.rs`).

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use async_trait::async_trait;

use crate::rebuild::stabilizers::{CargoVcsInfo, StabilizeCx, Stabilizer};
use crate::rebuild::{tool_version, Failure, Plan, PlanCx, Rebuilder};

use super::rebuild_index::{fetch_index, root_requests, IndexSnapshot};
use super::rebuild_manifest::CargoManifestDefaults;

pub struct CargoPackage;

/// The real cargo binary (not the rustup proxy) and its toolchain directory.
fn cargo_binary() -> Option<(PathBuf, PathBuf)> {
    let from_rustup = crate::rebuild::sandbox::which("rustup").and_then(|rustup| {
        let out = std::process::Command::new(rustup)
            .args(["which", "cargo"])
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
    });
    let cargo = from_rustup
        .or_else(|| crate::rebuild::sandbox::which("cargo"))
        .and_then(|p| std::fs::canonicalize(p).ok())?;
    let toolchain = cargo.parent()?.parent()?.to_path_buf();
    Some((cargo, toolchain))
}

/// Crate names a manifest (`Cargo.toml` as TOML) depends on, renames resolved.
fn manifest_deps(manifest: &toml::Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut tables: Vec<&toml::Value> = Vec::new();
    for k in ["dependencies", "dev-dependencies", "build-dependencies"] {
        tables.extend(manifest.get(k));
    }
    if let Some(targets) = manifest.get("target").and_then(|t| t.as_table()) {
        for t in targets.values() {
            for k in ["dependencies", "dev-dependencies", "build-dependencies"] {
                tables.extend(t.get(k));
            }
        }
    }
    for t in tables.into_iter().filter_map(|t| t.as_table()) {
        for (key, spec) in t {
            let (name, req) = match spec {
                toml::Value::String(req) => (key.clone(), req.clone()),
                toml::Value::Table(tab) => {
                    if tab.contains_key("path") && !tab.contains_key("version") {
                        continue;
                    }
                    (
                        tab.get("package")
                            .and_then(|p| p.as_str())
                            .unwrap_or(key)
                            .to_string(),
                        tab.get("version")
                            .and_then(|v| v.as_str())
                            .unwrap_or("*")
                            .to_string(),
                    )
                }
                _ => continue,
            };
            out.push((name, req));
        }
    }
    out
}

/// One `[[package]]` of a `Cargo.lock`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct LockPkg {
    name: String,
    version: String,
    source: Option<String>,
    checksum: Option<String>,
    /// `name`, `name version` or `name version (source)` as written.
    deps: Vec<String>,
}

impl LockPkg {
    fn is_registry(&self) -> bool {
        self.source
            .as_deref()
            .is_some_and(|s| s.starts_with("registry+") || s.starts_with("sparse+"))
    }
}

fn parse_lock(data: &[u8]) -> Option<Vec<LockPkg>> {
    let v: toml::Value = toml::from_str(std::str::from_utf8(data).ok()?).ok()?;
    let s = |p: &toml::Value, k: &str| p.get(k).and_then(|x| x.as_str()).map(str::to_string);
    // Lock format 1 keeps checksums apart: `"checksum NAME VERSION (SOURCE)" = "…"`.
    let old_sums: HashMap<String, String> = v
        .get("metadata")
        .and_then(|m| m.as_table())
        .map(|m| {
            m.iter()
                .filter_map(|(k, x)| {
                    let key = k.strip_prefix("checksum ")?;
                    let mut it = key.split_whitespace();
                    Some((
                        format!("{} {}", it.next()?, it.next()?),
                        x.as_str()?.to_string(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    v.get("package")?
        .as_array()?
        .iter()
        .map(|p| {
            let name = s(p, "name")?;
            let version = s(p, "version")?;
            let checksum =
                s(p, "checksum").or_else(|| old_sums.get(&format!("{name} {version}")).cloned());
            Some(LockPkg {
                name,
                version,
                source: s(p, "source"),
                checksum,
                deps: p
                    .get("dependencies")
                    .and_then(|d| d.as_array())
                    .map(|d| {
                        d.iter()
                            .filter_map(|x| x.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default(),
            })
        })
        .collect()
}

/// `name [version [(source)]]` → name and version.
fn dep_ref(d: &str) -> (&str, Option<&str>) {
    let mut it = d.split_whitespace();
    (it.next().unwrap_or(""), it.next())
}

/// Is the published lock a valid resolution of the same manifest against this registry?
/// Its non-registry packages (the workspace) equal the rebuilt lock's; every registry package
/// exists in the index with the same checksum, from a source the rebuild also uses; every
/// dependency edge points into the lock at a version the dependent's requirement accepts.
fn drift_is_honest(
    published: &[LockPkg],
    rebuilt: &[LockPkg],
    index: &IndexSnapshot,
    manifest: &toml::Value,
) -> bool {
    let names =
        |d: &[String]| -> BTreeSet<String> { d.iter().map(|x| dep_ref(x).0.to_string()).collect() };
    let local = |l: &[LockPkg]| -> Vec<(String, String, Option<String>, BTreeSet<String>)> {
        let mut v: Vec<_> = l
            .iter()
            .filter(|p| !p.is_registry())
            .map(|p| {
                (
                    p.name.clone(),
                    p.version.clone(),
                    p.source.clone(),
                    names(&p.deps),
                )
            })
            .collect();
        v.sort();
        v
    };
    if local(published) != local(rebuilt) {
        return false;
    }
    let sources: BTreeSet<&str> = rebuilt
        .iter()
        .filter(|p| p.is_registry())
        .filter_map(|p| p.source.as_deref())
        .collect();
    let root_reqs = manifest_deps(manifest);
    for p in published.iter().filter(|p| p.is_registry()) {
        let Some(line) = index.version(&p.name, &p.version) else {
            return false;
        };
        if p.checksum.as_deref() != Some(line.cksum.as_str())
            || !sources.contains(p.source.as_deref().unwrap_or(""))
        {
            return false;
        }
    }
    for p in published {
        for d in &p.deps {
            let (name, version) = dep_ref(d);
            let target = published
                .iter()
                .find(|q| q.name == name && version.map_or(true, |v| q.version == v));
            let Some(target) = target else {
                return false;
            };
            if !target.is_registry() {
                continue;
            }
            let reqs: Vec<String> = if p.is_registry() {
                match index.version(&p.name, &p.version) {
                    Some(l) => l
                        .deps
                        .iter()
                        .filter(|x| x.crate_name() == name && x.kind.as_deref() != Some("dev"))
                        .map(|x| x.req.clone())
                        .collect(),
                    None => return false,
                }
            } else {
                root_reqs
                    .iter()
                    .filter(|(n, _)| n == name)
                    .map(|(_, r)| r.clone())
                    .collect()
            };
            let Ok(v) = semver::Version::parse(&target.version) else {
                return false;
            };
            let ok = reqs.iter().any(|r| {
                semver::VersionReq::parse(r)
                    .map(|req| req.matches(&v))
                    .unwrap_or(false)
            });
            if !ok {
                return false;
            }
        }
    }
    true
}

/// `Cargo.lock` resolution drift.
pub struct CargoLockDrift;
impl Stabilizer for CargoLockDrift {
    fn name(&self) -> &'static str {
        "cargo-lock-drift"
    }
    fn reason(&self) -> &'static str {
        "a dependency may resolve to a newer version today; the published lock is still honest when its versions satisfy the manifest and exist in the registry with the same checksum"
    }
    fn stabilize(
        &self,
        path: &str,
        p: &[u8],
        r: &[u8],
        cx: &StabilizeCx<'_>,
    ) -> Option<(Vec<u8>, Vec<u8>)> {
        if path != "Cargo.lock" {
            return None;
        }
        let index = cx.data.downcast_ref::<IndexSnapshot>()?;
        let manifest: toml::Value = toml::from_str(&cx.published.text("Cargo.toml")?).ok()?;
        let (pl, rl) = (parse_lock(p)?, parse_lock(r)?);
        drift_is_honest(&pl, &rl, index, &manifest).then(|| (p.to_vec(), p.to_vec()))
    }
}

#[async_trait]
impl Rebuilder for CargoPackage {
    async fn plan(&self, cx: &PlanCx<'_>) -> Result<Plan, Failure> {
        let Some((cargo, toolchain)) = cargo_binary() else {
            return Err(Failure::Failed(
                "rebuild needs `cargo` (not found on PATH or through rustup)".into(),
            ));
        };
        let manifest = cx.pkg_path().join("Cargo.toml");
        if !manifest.is_file() {
            return Err(Failure::Failed(format!(
                "the source has no Cargo.toml at `{}`",
                crate::source::join(cx.pkg_dir, "Cargo.toml")
            )));
        }
        // Everything the resolution may need: the published lock's crates and the
        // dependencies of every manifest of the workspace as committed.
        let mut names = Vec::new();
        if let Some(lock) = cx.pkg.files.data("Cargo.lock").and_then(parse_lock) {
            names.extend(
                lock.into_iter()
                    .filter(|p| p.is_registry())
                    .map(|p| super::rebuild_index::Request::exact(&p.name, &p.version)),
            );
        }
        // The package's own manifest, and the workspace root's (inherited dependencies).
        let mut dir = Some(cx.pkg_path());
        let mut first = true;
        while let Some(d) = dir {
            if let Some(v) = std::fs::read_to_string(d.join("Cargo.toml"))
                .ok()
                .and_then(|s| toml::from_str::<toml::Value>(&s).ok())
            {
                if first {
                    names.extend(root_requests(&v));
                }
                if let Some(ws) = v.get("workspace") {
                    names.extend(root_requests(ws));
                    break;
                }
            }
            first = false;
            dir = d
                .parent()
                .filter(|p| p.starts_with(cx.src))
                .map(Path::to_path_buf);
        }
        let registry = cx.scratch.join("registry");
        let index_dir = registry.join("index");
        std::fs::create_dir_all(&index_dir)
            .map_err(|e| Failure::Failed(format!("{}: {e}", index_dir.display())))?;
        let snapshot = fetch_index(cx, names, &index_dir).await?;
        let home = cx.scratch.join("cargo-home");
        std::fs::create_dir_all(&home)
            .map_err(|e| Failure::Failed(format!("{}: {e}", home.display())))?;
        let config = format!(
            "[source.crates-io]\nreplace-with = \"provero-index\"\n\n[source.provero-index]\nlocal-registry = {}\n\n[net]\noffline = true\n",
            toml::Value::String(registry.display().to_string())
        );
        std::fs::write(home.join("config.toml"), config)
            .map_err(|e| Failure::Failed(format!("cargo config: {e}")))?;
        let target = cx.scratch.join("target");
        let bin = cargo.parent().map(Path::to_path_buf).unwrap_or_default();
        let name = &cx.pkg.name;
        let version = &cx.pkg.version;
        Ok(Plan {
            packager: "cargo package".into(),
            packager_version: tool_version(&cargo, &["--version"]),
            argv: vec![
                cargo.display().to_string(),
                "package".into(),
                "--no-verify".into(),
                "--offline".into(),
                "--manifest-path".into(),
                manifest.display().to_string(),
            ],
            cwd: cx.pkg_path(),
            env: vec![
                ("CARGO_HOME".into(), home.display().to_string()),
                ("CARGO_TARGET_DIR".into(), target.display().to_string()),
                ("RUSTC".into(), bin.join("rustc").display().to_string()),
                ("CARGO_TERM_COLOR".into(), "never".into()),
            ],
            path: vec![bin],
            read_only: vec![toolchain],
            output_dir: target.join("package"),
            output_suffix: format!("{name}-{version}.crate"),
            data: Box::new(snapshot),
        })
    }

    fn stabilizers(&self) -> Vec<Box<dyn Stabilizer>> {
        vec![
            Box::new(CargoVcsInfo),
            Box::new(CargoManifestDefaults),
            Box::new(CargoLockDrift),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CRATES_IO: &str = "registry+https://github.com/rust-lang/crates.io-index";

    fn lock(pkgs: &[(&str, &str, bool, &str, &[&str])]) -> Vec<LockPkg> {
        pkgs.iter()
            .map(|(n, v, reg, ck, deps)| LockPkg {
                name: n.to_string(),
                version: v.to_string(),
                source: reg.then(|| CRATES_IO.to_string()),
                checksum: reg.then(|| ck.to_string()),
                deps: deps.iter().map(|d| d.to_string()).collect(),
            })
            .collect()
    }

    fn index() -> IndexSnapshot {
        let mut s = IndexSnapshot::default();
        s.crates.insert(
            "dep".into(),
            [
                "{\"vers\":\"1.0.0\",\"cksum\":\"aa\"}",
                "{\"vers\":\"1.0.1\",\"cksum\":\"bb\"}",
            ]
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect(),
        );
        s
    }

    #[test]
    fn drift_to_a_newer_version_is_honest_only_with_the_registry_checksum() {
        let manifest: toml::Value = toml::from_str("[dependencies]\ndep = \"1\"\n").unwrap();
        let rebuilt = lock(&[
            ("app", "0.1.0", false, "", &["dep"]),
            ("dep", "1.0.1", true, "bb", &[]),
        ]);
        let published = lock(&[
            ("app", "0.1.0", false, "", &["dep"]),
            ("dep", "1.0.0", true, "aa", &[]),
        ]);
        assert!(drift_is_honest(&published, &rebuilt, &index(), &manifest));
        let bad_sum = lock(&[
            ("app", "0.1.0", false, "", &["dep"]),
            ("dep", "1.0.0", true, "cc", &[]),
        ]);
        assert!(!drift_is_honest(&bad_sum, &rebuilt, &index(), &manifest));
        let strict: toml::Value = toml::from_str("[dependencies]\ndep = \"=1.0.1\"\n").unwrap();
        assert!(!drift_is_honest(&published, &rebuilt, &index(), &strict));
        let mut other_source = published.clone();
        other_source[1].source = Some("registry+https://evil.example/index".into());
        assert!(!drift_is_honest(
            &other_source,
            &rebuilt,
            &index(),
            &manifest
        ));
        let mut extra_local = published.clone();
        extra_local.push(lock(&[("evil", "0.1.0", false, "", &[])]).remove(0));
        assert!(!drift_is_honest(
            &extra_local,
            &rebuilt,
            &index(),
            &manifest
        ));
    }

    #[test]
    fn lock_format_1_checksums_are_read_from_metadata() {
        let lock = format!(
            "[[package]]\nname = \"dep\"\nversion = \"1.0.0\"\nsource = \"{CRATES_IO}\"\n\n[metadata]\n\"checksum dep 1.0.0 ({CRATES_IO})\" = \"aa\"\n"
        );
        let p = parse_lock(lock.as_bytes()).unwrap();
        assert_eq!(p[0].checksum.as_deref(), Some("aa"));
    }

    #[test]
    fn manifest_deps_follow_renames_and_skip_path_only() {
        let m: toml::Value = toml::from_str(
            "[dependencies]\na = \"1\"\nb = { package = \"real-b\", version = \"2\" }\nc = { path = \"../c\" }\n[target.'cfg(unix)'.dependencies]\nd = \"3\"\n",
        )
        .unwrap();
        let mut deps = manifest_deps(&m);
        deps.sort();
        assert_eq!(
            deps,
            [
                ("a".to_string(), "1".to_string()),
                ("d".to_string(), "3".to_string()),
                ("real-b".to_string(), "2".to_string())
            ]
        );
    }
}

//! The `cargo-manifest-defaults` stabilizer. Each cargo release normalises `Cargo.toml` a little
//! differently: newer ones write the targets they discovered (`[lib]` name and path, `[[bin]]`,
//! `[[test]]`, `[[bench]]`, `[[example]]`), `build = false` and `auto* = false`, and order keys
//! otherwise. Older ones left those to discovery when the package is built. Both manifests are
//! turned into what cargo builds with, discovery applied over the package's own files; what
//! remains is compared as TOML data (key order is not meaning). A changed feature, dependency,
//! target name or path still differs.

use crate::archive::Files;
use crate::rebuild::stabilizers::{StabilizeCx, Stabilizer};

/// Target kinds: table name, discovery directory, the `auto*` key.
const KINDS: [(&str, &str, &str); 4] = [
    ("bin", "src/bin", "autobins"),
    ("example", "examples", "autoexamples"),
    ("test", "tests", "autotests"),
    ("bench", "benches", "autobenches"),
];

const AUTO_KEYS: [&str; 5] = [
    "autolib",
    "autobins",
    "autoexamples",
    "autotests",
    "autobenches",
];

fn has(files: &Files, path: &str) -> bool {
    files.get(path).is_some()
}

/// The default path of a target named `name` of this kind, if that file is in the package.
fn default_path(kind: &str, dir: &str, name: &str, package: &str, files: &Files) -> Option<String> {
    let mut candidates = Vec::new();
    if kind == "bin" && name == package {
        candidates.push("src/main.rs".to_string());
    }
    candidates.push(format!("{dir}/{name}.rs"));
    candidates.push(format!("{dir}/{name}/main.rs"));
    candidates.into_iter().find(|c| has(files, c))
}

/// Targets discovery finds for a kind: `(name, path)`.
fn discovered(kind: &str, dir: &str, package: &str, files: &Files) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if kind == "bin" && has(files, "src/main.rs") {
        out.push((package.to_string(), "src/main.rs".to_string()));
    }
    let prefix = format!("{dir}/");
    for path in files.map.keys() {
        let Some(rest) = path.strip_prefix(&prefix) else {
            continue;
        };
        let name = match rest.split('/').collect::<Vec<_>>().as_slice() {
            [file] => file.strip_suffix(".rs"),
            [sub, "main.rs"] => Some(*sub),
            _ => None,
        };
        if let Some(n) = name {
            out.push((n.to_string(), path.clone()));
        }
    }
    out
}

/// What cargo builds with: defaults and discovered targets written out, `auto*` dropped.
pub fn effective(manifest: &mut toml::Table, files: &Files) -> Option<()> {
    let package = manifest.get_mut("package")?.as_table_mut()?;
    let name = package.get("name")?.as_str()?.to_string();
    let auto = |k: &str, p: &toml::Table| p.get(k).and_then(|v| v.as_bool()).unwrap_or(true);
    let autos: Vec<bool> = AUTO_KEYS.iter().map(|k| auto(k, package)).collect();
    let build = match package.remove("build") {
        Some(toml::Value::String(s)) => Some(s),
        Some(toml::Value::Boolean(false)) => None,
        _ => has(files, "build.rs").then(|| "build.rs".to_string()),
    };
    if let Some(b) = build {
        package.insert("build".into(), b.into());
    }
    for k in AUTO_KEYS {
        package.remove(k);
    }
    if manifest.contains_key("lib") || (autos[0] && has(files, "src/lib.rs")) {
        let lib = manifest
            .entry("lib")
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()?;
        lib.entry("name")
            .or_insert_with(|| name.replace('-', "_").into());
        if !lib.contains_key("path") && has(files, "src/lib.rs") {
            lib.insert("path".into(), "src/lib.rs".into());
        }
    }
    for (i, (kind, dir, _)) in KINDS.iter().enumerate() {
        let mut targets: Vec<toml::Table> = manifest
            .remove(*kind)
            .and_then(|v| match v {
                toml::Value::Array(a) => Some(a),
                _ => None,
            })
            .unwrap_or_default()
            .into_iter()
            .filter_map(|t| match t {
                toml::Value::Table(t) => Some(t),
                _ => None,
            })
            .collect();
        for t in targets.iter_mut() {
            let tname = t.get("name").and_then(|n| n.as_str()).map(str::to_string);
            if let (Some(n), false) = (tname, t.contains_key("path")) {
                if let Some(p) = default_path(kind, dir, &n, &name, files) {
                    t.insert("path".into(), p.into());
                }
            }
        }
        if autos[i + 1] {
            for (n, p) in discovered(kind, dir, &name, files) {
                let taken = targets.iter().any(|t| {
                    t.get("name").and_then(|x| x.as_str()) == Some(n.as_str())
                        || t.get("path").and_then(|x| x.as_str()) == Some(p.as_str())
                });
                if !taken {
                    let mut t = toml::Table::new();
                    t.insert("name".into(), n.into());
                    t.insert("path".into(), p.into());
                    targets.push(t);
                }
            }
        }
        targets.sort_by_key(|t| t.get("name").map(|n| n.to_string()));
        if !targets.is_empty() {
            manifest.insert(
                kind.to_string(),
                toml::Value::Array(targets.into_iter().map(toml::Value::Table).collect()),
            );
        }
    }
    Some(())
}

/// Another cargo version's normalisation of the same manifest.
pub struct CargoManifestDefaults;
impl Stabilizer for CargoManifestDefaults {
    fn name(&self) -> &'static str {
        "cargo-manifest-defaults"
    }
    fn reason(&self) -> &'static str {
        "cargo versions write the same manifest with or without discovered targets, `build = false`, `auto* = false`, and in another key order; compared as what cargo builds with"
    }
    fn stabilize(
        &self,
        path: &str,
        p: &[u8],
        r: &[u8],
        cx: &StabilizeCx<'_>,
    ) -> Option<(Vec<u8>, Vec<u8>)> {
        if path != "Cargo.toml" {
            return None;
        }
        let norm = |b: &[u8], files: &Files| -> Option<Vec<u8>> {
            let mut t: toml::Table = toml::from_str(std::str::from_utf8(b).ok()?).ok()?;
            effective(&mut t, files)?;
            toml::to_string(&t).ok().map(String::into_bytes)
        };
        Some((norm(p, cx.published)?, norm(r, cx.rebuilt)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::Content;

    fn files(paths: &[&str]) -> Files {
        let mut f = Files::default();
        for p in paths {
            f.map.insert(
                p.to_string(),
                Content::File {
                    data: Default::default(),
                    executable: false,
                },
            );
        }
        f
    }

    fn same(old: &str, new: &str, f: &Files) -> bool {
        let cx = StabilizeCx {
            published: f,
            rebuilt: f,
            data: &(),
        };
        match CargoManifestDefaults.stabilize("Cargo.toml", old.as_bytes(), new.as_bytes(), &cx) {
            Some((a, b)) => a == b,
            None => false,
        }
    }

    /// itoa 1.0.11 as cargo 1.7x published it, and as cargo 1.95 writes the same source.
    const OLD: &str = "[package]\nedition = \"2018\"\nname = \"itoa\"\nversion = \"1.0.11\"\n\n[package.metadata.docs.rs]\nrustdoc-args = [\"--x\"]\ntargets = [\"t\"]\n\n[lib]\ndoc-scrape-examples = false\n\n[dependencies.no-panic]\nversion = \"0.1\"\noptional = true\n";
    const NEW: &str = "[package]\nedition = \"2018\"\nname = \"itoa\"\nversion = \"1.0.11\"\nbuild = false\nautolib = false\nautobins = false\nautoexamples = false\nautotests = false\nautobenches = false\n\n[package.metadata.docs.rs]\ntargets = [\"t\"]\nrustdoc-args = [\"--x\"]\n\n[lib]\nname = \"itoa\"\npath = \"src/lib.rs\"\ndoc-scrape-examples = false\n\n[[test]]\nname = \"test\"\npath = \"tests/test.rs\"\n\n[[bench]]\nname = \"bench\"\npath = \"benches/bench.rs\"\n\n[dependencies.no-panic]\nversion = \"0.1\"\noptional = true\n";

    #[test]
    fn another_cargo_versions_defaults_are_the_same_manifest() {
        let f = files(&["src/lib.rs", "tests/test.rs", "benches/bench.rs"]);
        assert!(same(OLD, NEW, &f));
    }

    #[test]
    fn what_cargo_acts_on_still_differs() {
        let f = files(&["src/lib.rs", "tests/test.rs", "benches/bench.rs"]);
        // A build script the old manifest would have picked up.
        let with_build = files(&[
            "src/lib.rs",
            "tests/test.rs",
            "benches/bench.rs",
            "build.rs",
        ]);
        assert!(!same(OLD, NEW, &with_build));
        // A changed dependency, a feature, a renamed target.
        assert!(!same(&OLD.replace("0.1", "0.2"), NEW, &f));
        assert!(!same(&format!("{OLD}\n[features]\nx = []\n"), NEW, &f));
        assert!(!same(
            OLD,
            &NEW.replace("name = \"bench\"", "name = \"b2\""),
            &f
        ));
        // A test the published package does not have would not be discovered.
        assert!(!same(OLD, NEW, &files(&["src/lib.rs", "benches/bench.rs"])));
    }
}

//! The targets (lib, bins, examples, tests, benches) and build scripts cargo builds from a
//! manifest and the files of a package, following cargo's `util/toml/targets.rs`
//! (`normalize_lib`, `normalize_bins`, `toml_targets_and_inferred`, `target_path`,
//! `normalize_build`) and `prepare_toml_for_publish`, which drops every target and build
//! script whose file is not in the package.
//!
//! Both manifests of a `.crate` are read against the same file list, the package's. That is
//! what makes old and new cargo agree: cargo since 1.80 discovers the targets when packaging and
//! writes them out explicitly (`autobins = false`, `[[bin]] path = …`), older cargo left the
//! published manifest as written and the same discovery ran on the unpacked package at build
//! time. Either way the package's files decide.

use std::collections::BTreeSet;

use toml::{Table, Value};

/// One target as cargo builds it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Target {
    /// `lib`, `bin`, `example`, `test` or `bench`.
    pub kind: &'static str,
    pub name: String,
    pub path: String,
    /// The crate types (`lib`, `proc-macro`, `cdylib`, …); `bin`/`test`/`bench` for those.
    pub crate_types: Vec<String>,
    pub required_features: Vec<String>,
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} `{}`", self.kind, self.name)
    }
}

/// The package's files, with directory listings as cargo's `infer_from_directory` sees them.
pub struct PackageFiles<'a> {
    pub files: &'a BTreeSet<String>,
}

impl PackageFiles<'_> {
    fn exists(&self, path: &str) -> bool {
        self.files.contains(path)
    }

    /// `(stem, path)` of every `dir/*.rs` file and `(name, path)` of every `dir/name/main.rs`,
    /// skipping dot-files and dot-directories (cargo's `is_not_dotfile`).
    fn infer_from_directory(&self, dir: &str) -> Vec<(String, String)> {
        let prefix = format!("{dir}/");
        let mut out = Vec::new();
        for f in self.files.range(prefix.clone()..) {
            let Some(rest) = f.strip_prefix(&prefix) else {
                break;
            };
            if rest.starts_with('.') {
                continue;
            }
            match rest.split_once('/') {
                None => {
                    if let Some(stem) = rest.strip_suffix(".rs") {
                        if !stem.is_empty() {
                            out.push((stem.to_string(), f.clone()));
                        }
                    }
                }
                Some((sub, "main.rs")) => out.push((sub.to_string(), f.clone())),
                Some(_) => {}
            }
        }
        out
    }
}

/// cargo's `paths::normalize_path` on a relative path: `.` dropped, `..` folded.
pub fn normalize_path(p: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|l| *l != "..") {
                    out.pop();
                } else {
                    out.push("..");
                }
            }
            c => out.push(c),
        }
    }
    out.join("/")
}

fn get<'a>(t: &'a Table, dashed: &str) -> Option<&'a Value> {
    // cargo reads `crate-type` before the deprecated `crate_type` (`deprecated_underscore`).
    t.get(dashed).or_else(|| t.get(&dashed.replace('-', "_")))
}

fn strings(v: Option<&Value>) -> Vec<String> {
    let mut out: Vec<String> = v
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out.dedup();
    out
}

fn is_2015(edition: &str) -> bool {
    edition == "2015"
}

/// A `[[bin]]`-style table: name and path as written.
#[derive(Clone)]
struct Raw {
    name: Option<String>,
    path: Option<String>,
    table: Table,
}

fn raw_list(v: Option<&Value>) -> Option<Vec<Raw>> {
    let a = v?.as_array()?;
    Some(a.iter().filter_map(|t| t.as_table()).map(raw).collect())
}

fn raw(t: &Table) -> Raw {
    Raw {
        name: t.get("name").and_then(Value::as_str).map(str::to_string),
        path: t.get("path").and_then(Value::as_str).map(str::to_string),
        table: t.clone(),
    }
}

/// cargo's `are_normalized`: with autodiscovery off and every target named with a path, the
/// tables are used as written.
fn are_normalized(list: Option<&[Raw]>, auto: Option<bool>) -> bool {
    auto == Some(false)
        && list
            .unwrap_or_default()
            .iter()
            .all(|t| t.name.is_some() && t.path.is_some())
}

/// cargo's `toml_targets_and_inferred`.
fn with_inferred(
    list: Option<&[Raw]>,
    inferred: &[(String, String)],
    auto: Option<bool>,
    edition: &str,
) -> Vec<Raw> {
    let inferred_raw = || {
        inferred.iter().map(|(n, p)| Raw {
            name: Some(n.clone()),
            path: Some(p.clone()),
            table: Table::new(),
        })
    };
    let mut out: Vec<Raw> = match list {
        None if auto == Some(false) => Vec::new(),
        None => inferred_raw().collect(),
        Some(list) => {
            let mut out = list.to_vec();
            let names: BTreeSet<Option<String>> = list.iter().map(|t| t.name.clone()).collect();
            let paths: BTreeSet<Option<String>> = list
                .iter()
                .map(|t| t.path.as_deref().map(normalize_path))
                .collect();
            // In edition 2015 explicit targets of a kind switch discovery of that kind off.
            if auto.unwrap_or(!is_2015(edition)) {
                out.extend(inferred_raw().filter(|t| {
                    !names.contains(&t.name)
                        && !paths.contains(&t.path.as_deref().map(normalize_path))
                }));
            }
            out
        }
    };
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// cargo's `target_path`: the written path, else the one inferred file of that name, else (in
/// edition 2015) the legacy location.
fn target_path(
    t: &Raw,
    inferred: &[(String, String)],
    edition: &str,
    legacy: &dyn Fn(&str) -> Option<String>,
) -> Option<String> {
    if let Some(p) = &t.path {
        return Some(p.clone());
    }
    let name = t.name.as_deref().unwrap_or("");
    let matching: Vec<&String> = inferred
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, p)| p)
        .collect();
    match matching.as_slice() {
        [one] => Some((*one).clone()),
        _ if is_2015(edition) => legacy(name),
        _ => None,
    }
}

fn target(kind: &'static str, t: &Raw, path: String, crate_types: Vec<String>) -> Target {
    Target {
        kind,
        name: t.name.clone().unwrap_or_default(),
        path: normalize_path(&path),
        crate_types,
        required_features: strings(get(&t.table, "required-features")),
    }
}

/// Every target cargo builds from `manifest` over `files`, sorted; targets whose file is not
/// in the package are dropped (cargo's `prepare_target_for_publish`).
pub fn targets(
    manifest: &Table,
    package: &Table,
    edition: &str,
    files: &PackageFiles,
) -> Vec<Target> {
    let pkg_name = package.get("name").and_then(Value::as_str).unwrap_or("");
    let auto = |k: &str| package.get(k).and_then(Value::as_bool);
    let mut out = Vec::new();

    // [lib]
    let lib_raw = manifest.get("lib").and_then(Value::as_table).map(raw);
    let lib = if are_normalized(lib_raw.as_ref().map(std::slice::from_ref), auto("autolib")) {
        lib_raw.clone().map(|l| {
            let p = l.path.clone().unwrap_or_default();
            (l, p)
        })
    } else {
        let inferred = files.exists("src/lib.rs").then(|| "src/lib.rs".to_string());
        let l = lib_raw.clone().or_else(|| {
            inferred.as_ref().map(|p| Raw {
                name: None,
                path: Some(p.clone()),
                table: Table::new(),
            })
        });
        l.and_then(|mut l| {
            l.name.get_or_insert_with(|| pkg_name.replace('-', "_"));
            let path = l.path.clone().or(inferred).or_else(|| {
                let legacy = format!("src/{}.rs", l.name.as_deref().unwrap_or(""));
                (is_2015(edition) && files.exists(&legacy)).then_some(legacy)
            })?;
            Some((l, path))
        })
    };
    let has_lib = lib.is_some();
    if let Some((l, path)) = lib {
        // cargo's `to_lib_target`: `crate-type` wins, a `proc-macro` among them is the only one.
        let kinds = strings(get(&l.table, "crate-type"));
        let proc_macro = get(&l.table, "proc-macro").and_then(Value::as_bool) == Some(true);
        let crate_types = if kinds.iter().any(|k| k == "proc-macro") {
            vec!["proc-macro".to_string()]
        } else if !kinds.is_empty() {
            kinds
        } else if proc_macro {
            vec!["proc-macro".to_string()]
        } else {
            vec!["lib".to_string()]
        };
        out.push(target("lib", &l, path, crate_types));
    }

    // [[bin]]
    let bins = raw_list(manifest.get("bin"));
    let mut inferred_bins = Vec::new();
    if files.exists("src/main.rs") {
        inferred_bins.push((pkg_name.to_string(), "src/main.rs".to_string()));
    }
    inferred_bins.extend(files.infer_from_directory("src/bin"));
    let legacy_bin = |name: &str| -> Option<String> {
        let own = format!("src/{name}.rs");
        [
            (!has_lib).then_some(own),
            Some("src/main.rs".into()),
            Some("src/bin/main.rs".into()),
        ]
        .into_iter()
        .flatten()
        .find(|p| files.exists(p))
    };
    out.extend(kind_targets(
        "bin",
        bins.as_deref(),
        &inferred_bins,
        auto("autobins"),
        edition,
        &legacy_bin,
        |_| vec!["bin".to_string()],
    ));

    for (kind, key, dir, flag) in [
        ("example", "example", "examples", "autoexamples"),
        ("test", "test", "tests", "autotests"),
        ("bench", "bench", "benches", "autobenches"),
    ] {
        let list = raw_list(manifest.get(key));
        let inferred = files.infer_from_directory(dir);
        let legacy = |name: &str| -> Option<String> {
            (kind == "bench" && name == "bench" && files.exists("src/bench.rs"))
                .then(|| "src/bench.rs".to_string())
        };
        out.extend(kind_targets(
            kind,
            list.as_deref(),
            &inferred,
            auto(flag),
            edition,
            &legacy,
            |t| {
                let kinds = strings(get(t, "crate-type"));
                if kind == "example" && !kinds.is_empty() {
                    kinds
                } else {
                    vec![if kind == "example" { "bin" } else { kind }.to_string()]
                }
            },
        ));
    }
    out.retain(|t| files.exists(&t.path));
    out.sort();
    out
}

fn kind_targets(
    kind: &'static str,
    list: Option<&[Raw]>,
    inferred: &[(String, String)],
    auto: Option<bool>,
    edition: &str,
    legacy: &dyn Fn(&str) -> Option<String>,
    crate_types: impl Fn(&Table) -> Vec<String>,
) -> Vec<Target> {
    if are_normalized(list, auto) {
        return list
            .unwrap_or_default()
            .iter()
            .map(|t| {
                target(
                    kind,
                    t,
                    t.path.clone().unwrap_or_default(),
                    crate_types(&t.table),
                )
            })
            .collect();
    }
    with_inferred(list, inferred, auto, edition)
        .iter()
        .filter_map(|t| {
            let path = target_path(t, inferred, edition, legacy)?;
            Some(target(kind, t, path, crate_types(&t.table)))
        })
        .collect()
}

/// The build scripts cargo runs (`normalize_build`, then only those in the package).
pub fn build_scripts(package: &Table, files: &PackageFiles) -> Vec<String> {
    let scripts = match package.get("build") {
        None | Some(Value::Boolean(true)) => vec!["build.rs".to_string()],
        Some(Value::String(s)) => vec![normalize_path(s)],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|s| s.as_str().map(normalize_path))
            .collect(),
        Some(_) => Vec::new(),
    };
    scripts.into_iter().filter(|s| files.exists(s)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn parse(s: &str) -> Table {
        s.parse().unwrap()
    }

    fn names(m: &str, list: &[&str]) -> Vec<String> {
        let t = parse(m);
        let f = files(list);
        let pkg = t["package"].as_table().unwrap();
        let ed = pkg.get("edition").and_then(Value::as_str).unwrap_or("2015");
        targets(&t, pkg, ed, &PackageFiles { files: &f })
            .iter()
            .map(|t| {
                format!(
                    "{}:{}:{}:{}",
                    t.kind,
                    t.name,
                    t.path,
                    t.crate_types.join(",")
                )
            })
            .collect()
    }

    #[test]
    fn discovery_finds_every_kind() {
        let got = names(
            "[package]\nname = \"my-crate\"\nedition = \"2021\"\n",
            &[
                "src/lib.rs",
                "src/main.rs",
                "src/bin/tool.rs",
                "src/bin/multi/main.rs",
                "src/bin/multi/helper.rs",
                "src/bin/.hidden.rs",
                "examples/ex.rs",
                "tests/it.rs",
                "benches/b.rs",
                "build.rs",
            ],
        );
        assert_eq!(
            got,
            vec![
                "bench:b:benches/b.rs:bench",
                "bin:multi:src/bin/multi/main.rs:bin",
                "bin:my-crate:src/main.rs:bin",
                "bin:tool:src/bin/tool.rs:bin",
                "example:ex:examples/ex.rs:bin",
                "lib:my_crate:src/lib.rs:lib",
                "test:it:tests/it.rs:test",
            ]
        );
    }

    #[test]
    fn explicit_targets_equal_discovered_ones() {
        let fs = ["src/lib.rs", "src/main.rs", "examples/ex.rs"];
        let auto = names("[package]\nname = \"a\"\nedition = \"2021\"\n", &fs);
        let explicit = names(
            "[package]\nname = \"a\"\nedition = \"2021\"\nautolib = false\nautobins = false\n\
             autoexamples = false\nautotests = false\nautobenches = false\n\
             [lib]\nname = \"a\"\npath = \"src/lib.rs\"\n\
             [[bin]]\nname = \"a\"\npath = \"src/main.rs\"\n\
             [[example]]\nname = \"ex\"\npath = \"examples/ex.rs\"\n",
            &fs,
        );
        assert_eq!(auto, explicit);
    }

    #[test]
    fn edition_2015_explicit_bins_switch_discovery_off() {
        let fs = ["src/main.rs", "src/bin/other.rs", "src/lib.rs"];
        let m = "[package]\nname = \"a\"\n[[bin]]\nname = \"x\"\npath = \"src/main.rs\"\n";
        assert_eq!(
            names(m, &fs),
            vec!["bin:x:src/main.rs:bin", "lib:a:src/lib.rs:lib"]
        );
        let m2018 = "[package]\nname = \"a\"\nedition = \"2018\"\n\
                     [[bin]]\nname = \"x\"\npath = \"src/main.rs\"\n";
        assert_eq!(
            names(m2018, &fs),
            vec![
                "bin:other:src/bin/other.rs:bin",
                "bin:x:src/main.rs:bin",
                "lib:a:src/lib.rs:lib"
            ]
        );
    }

    #[test]
    fn proc_macro_and_missing_files() {
        let m = "[package]\nname = \"a\"\nedition = \"2021\"\n[lib]\nproc-macro = true\n\
                 [[bin]]\nname = \"gone\"\npath = \"src/gone.rs\"\n";
        assert_eq!(
            names(m, &["src/lib.rs"]),
            vec!["lib:a:src/lib.rs:proc-macro"]
        );
    }

    #[test]
    fn build_script_is_found_or_dropped() {
        let f = files(&["build.rs"]);
        let pf = PackageFiles { files: &f };
        assert_eq!(build_scripts(&parse("name = \"a\""), &pf), vec!["build.rs"]);
        assert!(build_scripts(&parse("build = false"), &pf).is_empty());
        assert!(build_scripts(&parse("build = \"gen/b.rs\""), &pf).is_empty());
        assert_eq!(
            build_scripts(&parse("build = \"./build.rs\""), &pf),
            vec!["build.rs"]
        );
    }
}

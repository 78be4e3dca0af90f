//! Whole-package checks of what `PKG-INFO` declares against the tagged source: the name and
//! version, and every `Requires-Dist` dependency. A dependency the static source metadata
//! (`pyproject.toml` `[project]`, poetry, `setup.cfg` `[options]`, `setup.py` literals) does not
//! mention is a `manifest-mismatch`. When the source computes its dependencies, provero says it
//! cannot tell (an info note) and never guesses a red flag.

use std::collections::BTreeSet;

use super::artifact::PypiMeta;
use super::pkginfo::requirement_name;
use super::pyconfig::{setup_py_value, value_lines, PyValue};
use super::source::ProjectFiles;
use super::{normalize_name, same_version};
use crate::ecosystem::Package;
use crate::finding::{Code, Finding};
use crate::source::{join, SourceView};

/// Dependency names the source declares, or why they cannot be known statically.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Declared {
    Static(BTreeSet<String>),
    Unknown(String),
}

fn names<'a>(reqs: impl IntoIterator<Item = &'a str>) -> impl Iterator<Item = String> {
    reqs.into_iter().filter_map(requirement_name)
}

/// Requirement lines of a requirements file: comments, options and blank lines dropped.
fn requirement_lines(text: &str) -> Vec<&str> {
    text.lines()
        .map(|l| l.split(" #").next().unwrap_or("").trim())
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('-'))
        .collect()
}

/// Every dependency (base and extras) the project at `dir` declares.
pub fn declared(source: &SourceView<'_>, dir: &str, files: &ProjectFiles) -> Declared {
    let mut out = BTreeSet::new();
    if files.pyproject.is_none() && files.setup_cfg.is_none() && files.setup_py.is_none() {
        return Declared::Unknown(format!(
            "no pyproject.toml, setup.cfg or setup.py at `{}`",
            if dir.is_empty() { "." } else { dir }
        ));
    }
    if let Some(project) = files.project() {
        for field in ["dependencies", "optional-dependencies"] {
            if files.is_dynamic(field) {
                // setuptools can read them from requirement files: still static.
                let dynamic = files.tool(&["setuptools", "dynamic", field]);
                let Some(paths) = dynamic.and_then(|d| {
                    if field == "dependencies" {
                        d.get("file")
                    } else {
                        Some(d)
                    }
                }) else {
                    return Declared::Unknown(format!("pyproject.toml declares `{field}` dynamic"));
                };
                let mut list: Vec<String> = Vec::new();
                let mut collect = |v: &toml::Value| match v {
                    toml::Value::String(s) => list.push(s.clone()),
                    toml::Value::Array(a) => {
                        list.extend(a.iter().filter_map(|x| x.as_str().map(str::to_string)))
                    }
                    toml::Value::Table(t) => {
                        if let Some(f) = t.get("file") {
                            match f {
                                toml::Value::String(s) => list.push(s.clone()),
                                toml::Value::Array(a) => list.extend(
                                    a.iter().filter_map(|x| x.as_str().map(str::to_string)),
                                ),
                                _ => {}
                            }
                        }
                    }
                    _ => {}
                };
                if field == "dependencies" {
                    collect(paths);
                } else if let Some(t) = paths.as_table() {
                    t.values().for_each(&mut collect);
                }
                for p in list {
                    match source.read(&join(dir, &p)).ok().flatten() {
                        Some(b) => {
                            out.extend(names(requirement_lines(&String::from_utf8_lossy(&b))))
                        }
                        None => {
                            return Declared::Unknown(format!(
                            "pyproject.toml reads `{field}` from `{p}`, which is not in the source"
                        ))
                        }
                    }
                }
                continue;
            }
            match project.get(field) {
                Some(toml::Value::Array(a)) => {
                    out.extend(names(a.iter().filter_map(|v| v.as_str())))
                }
                Some(toml::Value::Table(t)) => {
                    for v in t.values() {
                        if let Some(a) = v.as_array() {
                            out.extend(names(a.iter().filter_map(|v| v.as_str())));
                        }
                    }
                }
                _ => {}
            }
        }
        return Declared::Static(out);
    }
    if let Some(poetry) = files.tool(&["poetry"]) {
        for table in ["dependencies", "dev-dependencies"] {
            if let Some(t) = poetry.get(table).and_then(|t| t.as_table()) {
                out.extend(
                    t.keys()
                        .filter(|k| *k != "python")
                        .map(|k| normalize_name(k)),
                );
            }
        }
        if let Some(groups) = poetry.get("group").and_then(|g| g.as_table()) {
            for g in groups.values() {
                if let Some(t) = g.get("dependencies").and_then(|t| t.as_table()) {
                    out.extend(t.keys().map(|k| normalize_name(k)));
                }
            }
        }
        return Declared::Static(out);
    }
    let py = files.setup_py.as_deref();
    for (key, section) in [
        ("install_requires", None),
        ("extras_require", Some("options.extras_require")),
    ] {
        match py.and_then(|s| setup_py_value(s, key)) {
            Some(PyValue::List(l)) => out.extend(names(l.iter().map(String::as_str))),
            Some(PyValue::Str(s)) => out.extend(names(s.lines())),
            Some(PyValue::Dict(d)) => out.extend(
                d.iter()
                    .flat_map(|(_, v)| v.iter())
                    .filter_map(|r| requirement_name(r)),
            ),
            Some(PyValue::Dynamic) => {
                return Declared::Unknown(format!("setup.py computes `{key}`"));
            }
            None => {}
        }
        if let Some(cfg) = &files.setup_cfg {
            match section {
                None => {
                    if let Some(v) = cfg.get("options").and_then(|o| o.get(key)) {
                        if v.trim_start().starts_with("file:") {
                            return Declared::Unknown(format!(
                                "setup.cfg reads `{key}` from a file"
                            ));
                        }
                        out.extend(names(value_lines(v)));
                    }
                }
                Some(s) => {
                    for v in cfg.get(s).into_iter().flat_map(|t| t.values()) {
                        out.extend(names(value_lines(v)));
                    }
                }
            }
        }
    }
    if py.is_some_and(|s| s.contains("**")) && out.is_empty() {
        return Declared::Unknown("setup.py passes keyword arguments it computes".into());
    }
    Declared::Static(out)
}

/// `manifest-mismatch` for a name, version or dependency the source does not declare.
pub fn package_findings(pkg: &Package, source: &SourceView<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    let Some(meta) = pkg.meta::<PypiMeta>() else {
        return out;
    };
    let Some(info) = &meta.pkg_info else {
        out.push(Finding::new(
            Code::NotChecked,
            "the sdist has no PKG-INFO: its declared dependencies were not checked",
        ));
        return out;
    };
    let at = meta
        .pkg_info_path
        .clone()
        .unwrap_or_else(|| "PKG-INFO".into());
    if let Some(n) = &info.name {
        if normalize_name(n) != normalize_name(&pkg.name) {
            out.push(Finding::at(
                Code::ManifestMismatch,
                &at,
                format!(
                    "PKG-INFO names the project `{n}`, the registry `{}`",
                    pkg.name
                ),
            ));
        }
    }
    if let Some(v) = &info.version {
        if !same_version(v, &pkg.version) {
            out.push(Finding::at(
                Code::ManifestMismatch,
                &at,
                format!(
                    "PKG-INFO declares version {v}, the registry {}",
                    pkg.version
                ),
            ));
        }
    }
    // setuptools before 68 wrote dependencies only to `*.egg-info/requires.txt`.
    let mut published: BTreeSet<String> = info
        .requires_dist
        .iter()
        .filter_map(|r| requirement_name(r))
        .collect();
    for (path, _) in pkg.files.map.iter().filter(|(p, _)| is_requires_txt(p)) {
        let text = pkg.files.text(path).unwrap_or_default();
        published.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('['))
                .filter_map(requirement_name),
        );
    }
    if published.is_empty() {
        return out;
    }
    let files = ProjectFiles::read(source, &source.pkg_dir);
    match declared(source, &source.pkg_dir, &files) {
        Declared::Static(decl) => {
            let extra: Vec<&String> = published.iter().filter(|n| !decl.contains(*n)).collect();
            if !extra.is_empty() {
                out.push(Finding::at(
                    Code::ManifestMismatch,
                    &at,
                    format!(
                        "Requires-Dist names {} that the source's static metadata at `{}` does not declare",
                        extra.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", "),
                        if source.pkg_dir.is_empty() { "." } else { &source.pkg_dir }
                    ),
                ));
            }
        }
        Declared::Unknown(why) => out.push(Finding::at(
            Code::NotChecked,
            &at,
            format!("Requires-Dist not checked against the source: {why}"),
        )),
    }
    out
}

/// `<name>.egg-info/requires.txt` at the sdist root or one directory down (`src/`).
fn is_requires_txt(path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').collect();
    parts.len() <= 3
        && parts.last() == Some(&"requires.txt")
        && parts.len() >= 2
        && parts[parts.len() - 2].ends_with(".egg-info")
}

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
    /// One part is computed by code: the other part's names, which part they are, and why
    /// the computed part cannot be read.
    Partial {
        names: BTreeSet<String>,
        part: Part,
        why: String,
    },
    Unknown(String),
}

/// Base dependencies or those of extras: a computed one need not hide the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Base,
    Extras,
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
    if super::generated::builds_with_pbr(files) {
        // pbr takes install_requires from requirements.txt and extras from setup.cfg `[extras]`.
        let mut out = BTreeSet::new();
        if let Some(b) = source.read(&join(dir, "requirements.txt")).ok().flatten() {
            out.extend(names(requirement_lines(&String::from_utf8_lossy(&b))));
        }
        if let Some(extras) = files.setup_cfg.as_ref().and_then(|c| c.get("extras")) {
            for v in extras.values() {
                out.extend(names(value_lines(v)));
            }
        }
        if let Some(v) = files
            .setup_cfg
            .as_ref()
            .and_then(|c| c.get("options"))
            .and_then(|o| o.get("install_requires"))
        {
            out.extend(names(value_lines(v)));
        }
        return Declared::Static(out);
    }
    let py = files.setup_py.as_deref();
    let mut parts: Vec<(Part, BTreeSet<String>)> = Vec::new();
    let mut computed: Option<(Part, String)> = None;
    for (key, section, part) in [
        ("install_requires", None, Part::Base),
        (
            "extras_require",
            Some("options.extras_require"),
            Part::Extras,
        ),
    ] {
        let mut out = BTreeSet::new();
        match py.and_then(|s| setup_py_value(s, key)) {
            Some(PyValue::List(l)) => out.extend(names(l.iter().map(String::as_str))),
            Some(PyValue::Str(s)) => out.extend(names(s.lines())),
            Some(PyValue::Dict(d)) => out.extend(
                d.iter()
                    .flat_map(|(_, v)| v.iter())
                    .filter_map(|r| requirement_name(r)),
            ),
            Some(PyValue::Dynamic) => {
                if computed.is_some() {
                    return Declared::Unknown(
                        "setup.py computes `install_requires` and `extras_require`".into(),
                    );
                }
                computed = Some((part, format!("setup.py computes `{key}`")));
                continue;
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
        parts.push((part, out));
    }
    let all: BTreeSet<String> = parts.iter().flat_map(|(_, n)| n.iter().cloned()).collect();
    if py.is_some_and(|s| s.contains("**")) && all.is_empty() {
        return Declared::Unknown("setup.py passes keyword arguments it computes".into());
    }
    match computed {
        None => Declared::Static(all),
        Some((dynamic, why)) => {
            let (part, names) = parts
                .into_iter()
                .find(|(p, _)| *p != dynamic)
                .expect("two parts");
            Declared::Partial { names, part, why }
        }
    }
}

/// Whether a published requirement belongs to an extra: a `Requires-Dist` marker naming
/// `extra`, or a `requires.txt` section `[name]` / `[name:marker]` (a bare `[:marker]`
/// section is a conditional base dependency).
fn is_extra_requirement(req: &str, section: Option<&str>) -> bool {
    match section {
        Some(s) => !s.starts_with(':'),
        None => req
            .split_once(';')
            .is_some_and(|(_, marker)| marker.contains("extra")),
    }
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
    // Each published name with whether it is an extra's.
    let mut published: BTreeSet<(String, bool)> = info
        .requires_dist
        .iter()
        .filter_map(|r| Some((requirement_name(r)?, is_extra_requirement(r, None))))
        .collect();
    for (path, _) in pkg.files.map.iter().filter(|(p, _)| is_requires_txt(p)) {
        let text = pkg.files.text(path).unwrap_or_default();
        let mut section: Option<String> = None;
        for l in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            if let Some(s) = l.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = Some(s.to_string());
            } else if let Some(n) = requirement_name(l) {
                published.insert((n, is_extra_requirement(l, section.as_deref())));
            }
        }
    }
    if published.is_empty() {
        return out;
    }
    let files = ProjectFiles::read(source, &source.pkg_dir);
    let (decl, checked) = match declared(source, &source.pkg_dir, &files) {
        Declared::Static(decl) => (decl, None),
        Declared::Partial { names, part, why } => {
            out.push(Finding::at(
                Code::NotChecked,
                &at,
                format!(
                    "Requires-Dist of {} not checked against the source: {why}",
                    match part {
                        Part::Base => "extras",
                        Part::Extras => "the base dependencies",
                    }
                ),
            ));
            (names, Some(part))
        }
        Declared::Unknown(why) => {
            out.push(Finding::at(
                Code::NotChecked,
                &at,
                format!("Requires-Dist not checked against the source: {why}"),
            ));
            return out;
        }
    };
    let extra: BTreeSet<&String> = published
        .iter()
        .filter(|(_, is_extra)| match checked {
            None => true,
            Some(Part::Base) => !is_extra,
            Some(Part::Extras) => *is_extra,
        })
        .map(|(n, _)| n)
        .filter(|n| !decl.contains(*n))
        .collect();
    if !extra.is_empty() {
        out.push(Finding::at(
            Code::ManifestMismatch,
            &at,
            format!(
                "Requires-Dist names {} that the source's static metadata at `{}` does not declare",
                extra
                    .iter()
                    .map(|s| format!("`{s}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                if source.pkg_dir.is_empty() {
                    "."
                } else {
                    &source.pkg_dir
                }
            ),
        ));
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

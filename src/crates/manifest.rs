//! What cargo acts on in a manifest: dependencies (with `package`, source, version requirement,
//! features, `default-features`, `optional`, platform), targets and their kinds and paths,
//! build scripts, `links` and `[features]`. The published `Cargo.toml` is what cargo builds
//! with; it must say what cargo would have written from `Cargo.toml.orig`.
//!
//! `Cargo.toml.orig` is read the way cargo's `normalize_toml` and `prepare_toml_for_publish`
//! (`src/cargo/util/toml/mod.rs`, cargo 1.95) turn it into the published manifest:
//! `{ workspace = true }` dependencies merged with `[workspace.dependencies]` of the workspace
//! root at the commit (`inner_dependency_inherit_with`), `path`/`git` dropped, `registry`
//! elaborated to `registry-index`, dev-dependencies without a version dropped, feature
//! entries naming a dropped dependency removed (`strip_features`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use toml::{Table, Value};

pub use super::req::{same_req, strip_ws};
use super::targets::{self, PackageFiles, Target};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DepKind {
    Normal,
    Dev,
    Build,
}

impl DepKind {
    fn table(self) -> &'static str {
        match self {
            DepKind::Normal => "dependencies",
            DepKind::Dev => "dev-dependencies",
            DepKind::Build => "build-dependencies",
        }
    }
}

/// Where a dependency comes from: a dependency of a registry package is resolved in the
/// registry unless it names another index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The package's own registry (no `registry-index`).
    Default,
    /// `registry-index = URL`.
    Index(String),
    /// `registry = NAME`: cargo writes it as `registry-index` with the URL the packager's
    /// configuration gives, which provero cannot know.
    Named(String),
    /// `path`/`git` left in a published manifest (cargo removes them).
    Local(String),
}

/// A version requirement as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Req {
    Spec(String),
    /// No `version` key.
    Absent,
    /// Inherited from a workspace root provero could not read.
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct DepKey {
    pub kind: DepKind,
    pub target: Option<String>,
    /// The name in the manifest (the rename, when `package` is given).
    pub name: String,
}

impl fmt::Display for DepKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.target {
            Some(t) => write!(f, "`target.'{t}'.{}.{}`", self.kind.table(), self.name),
            None => write!(f, "`{}.{}`", self.kind.table(), self.name),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Dep {
    /// The crate depended on (`None`: inherited from a workspace provero could not read).
    pub package: Option<String>,
    pub req: Req,
    pub features: BTreeSet<String>,
    /// `false` when the workspace's share of the features is unknown.
    pub features_exact: bool,
    pub default_features: Option<bool>,
    pub optional: bool,
    pub source: Option<Source>,
    /// Artifact-dependency keys (`artifact`, `lib`, `target`), compared as written.
    pub other: BTreeMap<String, Value>,
}

/// `[workspace]` of the root manifest, for `{ workspace = true }`.
pub struct Workspace<'a> {
    pub dependencies: Option<&'a Table>,
    pub package: Option<&'a Table>,
}

/// Which manifest is read: the author's (mapped as cargo maps it for publishing) or the
/// published one (read as cargo reads a registry package).
#[derive(Clone, Copy)]
pub enum Side<'a> {
    Original(Option<&'a Workspace<'a>>),
    Published,
}

/// `[package]`, or `[project]` (its name before cargo 0.13; still read by cargo).
pub fn package_table(m: &Table) -> Option<&Table> {
    m.get("package")
        .or_else(|| m.get("project"))
        .and_then(Value::as_table)
}

fn dashed<'a>(t: &'a Table, key: &str) -> Option<&'a Value> {
    // cargo prefers the dashed key to its deprecated underscore twin (`deprecated_underscore`).
    t.get(key).or_else(|| t.get(&key.replace('-', "_")))
}

fn string_set(v: Option<&Value>) -> BTreeSet<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn read_dep(name: &str, v: &Value, side: Side<'_>) -> Dep {
    let mut dep = Dep {
        package: Some(name.to_string()),
        req: Req::Absent,
        features: BTreeSet::new(),
        features_exact: true,
        default_features: Some(true),
        optional: false,
        source: Some(Source::Default),
        other: BTreeMap::new(),
    };
    let t = match v {
        Value::String(s) => {
            dep.req = Req::Spec(s.clone());
            return dep;
        }
        Value::Table(t) => t,
        other => {
            dep.source = Some(Source::Local(format!("a dependency written as {other}")));
            return dep;
        }
    };
    let inherited = t.get("workspace").and_then(Value::as_bool) == Some(true);
    if inherited {
        return match side {
            Side::Original(ws) => inherit(name, t, ws),
            Side::Published => {
                dep.source = Some(Source::Local("`workspace = true`".into()));
                dep
            }
        };
    }
    if let Some(r) = t.get("version").and_then(Value::as_str) {
        dep.req = Req::Spec(r.to_string());
    }
    if let Some(p) = t.get("package").and_then(Value::as_str) {
        dep.package = Some(p.to_string());
    }
    dep.features = string_set(t.get("features"));
    if let Some(d) = dashed(t, "default-features").and_then(Value::as_bool) {
        dep.default_features = Some(d);
    }
    dep.optional = t.get("optional").and_then(Value::as_bool).unwrap_or(false);
    for k in ["artifact", "lib", "target"] {
        if let Some(v) = t.get(k) {
            dep.other.insert(k.to_string(), v.clone());
        }
    }
    let text = |k: &str| t.get(k).and_then(Value::as_str).map(str::to_string);
    dep.source = Some(match side {
        // cargo's `map_dependency`: path and git go, a registry name becomes its index URL.
        Side::Original(_) => match (text("registry"), text("registry-index")) {
            (Some(r), _) => Source::Named(r),
            (None, Some(i)) => Source::Index(i),
            (None, None) => Source::Default,
        },
        // cargo's `to_dependency_source_id`: in a registry package a `path` dependency is
        // resolved in the package's registry (so old manifests that kept `path` are harmless);
        // `git` is fetched from wherever it points.
        Side::Published => match (
            text("git"),
            text("path"),
            text("registry"),
            text("registry-index"),
        ) {
            (Some(g), _, _, _) => Source::Local(format!("`git = {g:?}`")),
            (None, Some(_), _, _) => Source::Default,
            (None, None, Some(r), _) => Source::Local(format!("`registry = {r:?}`")),
            (None, None, None, Some(i)) => Source::Index(i),
            (None, None, None, None) => Source::Default,
        },
    });
    dep
}

/// cargo's `inner_dependency_inherit_with`: the workspace entry, plus the member's features,
/// its `optional`, and `default-features = true` over a workspace `false`.
fn inherit(name: &str, member: &Table, ws: Option<&Workspace<'_>>) -> Dep {
    let ws_dep = ws.and_then(|w| w.dependencies).and_then(|d| d.get(name));
    let member_features = string_set(member.get("features"));
    let optional = member
        .get("optional")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let Some(ws_dep) = ws_dep else {
        return Dep {
            package: None,
            req: Req::Unknown,
            features: member_features,
            features_exact: false,
            default_features: None,
            optional,
            source: None,
            other: BTreeMap::new(),
        };
    };
    let mut dep = read_dep(name, ws_dep, Side::Original(None));
    dep.features.extend(member_features);
    dep.optional = optional;
    let member_default = dashed(member, "default-features").and_then(Value::as_bool);
    let ws_default = ws_dep
        .as_table()
        .and_then(|t| dashed(t, "default-features"))
        .and_then(Value::as_bool);
    if member_default == Some(true) && ws_default == Some(false) {
        dep.default_features = Some(true);
    }
    dep
}

/// Every dependency of every table (top level and `[target.<cfg>]`).
pub fn dependencies(m: &Table, side: Side<'_>) -> BTreeMap<DepKey, Dep> {
    let mut out = BTreeMap::new();
    let mut collect = |t: &Table, target: Option<&str>| {
        for kind in [DepKind::Normal, DepKind::Dev, DepKind::Build] {
            let Some(deps) = dashed(t, kind.table()).and_then(Value::as_table) else {
                continue;
            };
            for (name, v) in deps {
                let dep = read_dep(name, v, side);
                // cargo publishes dev-dependencies only when they have a version (1.40+;
                // before that such a crate could not be published at all).
                if matches!(side, Side::Original(_))
                    && kind == DepKind::Dev
                    && dep.req == Req::Absent
                {
                    continue;
                }
                let key = DepKey {
                    kind,
                    target: target.map(str::to_string),
                    name: name.clone(),
                };
                out.insert(key, dep);
            }
        }
    };
    collect(m, None);
    if let Some(targets) = m.get("target").and_then(Value::as_table) {
        for (cfg, t) in targets {
            if let Some(t) = t.as_table() {
                collect(t, Some(cfg));
            }
        }
    }
    out
}

/// `[features]` as sets, without entries naming a dependency the manifest does not declare
/// (cargo's `strip_features`, 1.79+; applied to both sides because older cargo published
/// such entries unchanged, and cargo ignores them).
pub fn features(m: &Table, deps: &BTreeMap<DepKey, Dep>) -> BTreeMap<String, BTreeSet<String>> {
    let raw = m
        .get("features")
        .and_then(Value::as_table)
        .map(|f| {
            f.iter()
                .map(|(k, v)| (k.clone(), string_set(Some(v))))
                .collect()
        })
        .unwrap_or_default();
    strip_features(raw, deps)
}

/// cargo's `strip_features`: feature values naming a dependency not in `deps` are dropped.
pub fn strip_features(
    features: BTreeMap<String, BTreeSet<String>>,
    deps: &BTreeMap<DepKey, Dep>,
) -> BTreeMap<String, BTreeSet<String>> {
    let names: BTreeSet<&str> = deps.keys().map(|k| k.name.as_str()).collect();
    features
        .into_iter()
        .map(|(k, values)| {
            let kept = values
                .into_iter()
                .filter(|fv| feature_dep(fv).map_or(true, |d| names.contains(d)))
                .collect();
            (k, kept)
        })
        .collect()
}

/// The dependency a feature value names (`dep:x`, `x/f`, `x?/f`), as cargo's `FeatureValue`.
fn feature_dep(v: &str) -> Option<&str> {
    if let Some(d) = v.strip_prefix("dep:") {
        return Some(d);
    }
    let (dep, _) = v.split_once('/')?;
    Some(dep.strip_suffix('?').unwrap_or(dep))
}

/// What cargo acts on, from one manifest.
pub struct Model {
    pub deps: BTreeMap<DepKey, Dep>,
    pub targets: Vec<Target>,
    pub build: Vec<String>,
    pub links: Option<String>,
    pub features: BTreeMap<String, BTreeSet<String>>,
}

/// Read `m` over the package's files. `edition_fallback` is used when the edition is inherited
/// from a workspace provero could not read.
pub fn model(m: &Table, side: Side<'_>, files: &BTreeSet<String>, edition_fallback: &str) -> Model {
    let empty = Table::new();
    let pkg = package_table(m).unwrap_or(&empty);
    let edition = match pkg.get("edition") {
        Some(Value::String(e)) => e.clone(),
        Some(Value::Table(t)) if t.get("workspace").and_then(Value::as_bool) == Some(true) => {
            let ws = match side {
                Side::Original(ws) => ws,
                Side::Published => None,
            };
            ws.and_then(|w| w.package)
                .and_then(|p| p.get("edition"))
                .and_then(Value::as_str)
                .unwrap_or(edition_fallback)
                .to_string()
        }
        _ => "2015".to_string(),
    };
    let pf = PackageFiles { files };
    let deps = dependencies(m, side);
    let features = features(m, &deps);
    Model {
        targets: targets::targets(m, pkg, &edition, &pf),
        build: targets::build_scripts(pkg, &pf),
        links: pkg.get("links").and_then(Value::as_str).map(str::to_string),
        features,
        deps,
    }
}

fn show_set(s: &BTreeSet<String>) -> String {
    format!(
        "[{}]",
        s.iter()
            .map(|f| format!("{f:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn show_source(s: &Source) -> String {
    match s {
        Source::Default => "the package's registry".into(),
        Source::Index(i) => format!("`registry-index = {i:?}`"),
        Source::Named(r) => format!("`registry = {r:?}`"),
        Source::Local(l) => l.clone(),
    }
}

/// How the published dependency `p` differs from the original `o`, one phrase per field.
fn dep_problems(key: &DepKey, o: &Dep, p: &Dep) -> Vec<String> {
    let mut out = Vec::new();
    if let (Some(op), Some(pp)) = (&o.package, &p.package) {
        if op != pp {
            out.push(format!(
                "dependency {key} is package `{pp}`, Cargo.toml.orig has `{op}`"
            ));
        }
    }
    match (&o.req, &p.req) {
        (Req::Unknown, _) => {}
        (Req::Spec(a), Req::Spec(b)) if same_req(a, b) => {}
        (Req::Absent, Req::Absent) => {}
        (a, b) => out.push(format!(
            "dependency {key} has version {}, Cargo.toml.orig has {}",
            show_req(b),
            show_req(a)
        )),
    }
    let features_ok = if o.features_exact {
        o.features == p.features
    } else {
        o.features.is_subset(&p.features)
    };
    if !features_ok {
        out.push(format!(
            "dependency {key} has features {}, Cargo.toml.orig has {}",
            show_set(&p.features),
            show_set(&o.features)
        ));
    }
    if let (Some(a), Some(b)) = (o.default_features, p.default_features) {
        if a != b {
            out.push(format!(
                "dependency {key} has `default-features = {b}`, Cargo.toml.orig has {a}"
            ));
        }
    }
    if o.optional != p.optional {
        out.push(format!(
            "dependency {key} has `optional = {}`, Cargo.toml.orig has {}",
            p.optional, o.optional
        ));
    }
    let source_ok = match (&o.source, &p.source) {
        (None, Some(Source::Local(_))) => false,
        (None, _) => true,
        (Some(Source::Named(_)), Some(Source::Index(_))) => true,
        (Some(a), Some(b)) => a == b,
        (Some(_), None) => false,
    };
    if !source_ok {
        out.push(format!(
            "dependency {key} comes from {}, Cargo.toml.orig from {}",
            p.source.as_ref().map(show_source).unwrap_or_default(),
            o.source.as_ref().map(show_source).unwrap_or_default()
        ));
    }
    if o.other != p.other {
        out.push(format!(
            "dependency {key} has other artifact settings than Cargo.toml.orig"
        ));
    }
    out
}

fn show_req(r: &Req) -> String {
    match r {
        Req::Spec(s) => format!("{s:?}"),
        Req::Absent | Req::Unknown => "none".into(),
    }
}

/// Every way the published manifest's model differs from the original's, one phrase each,
/// naming the field.
pub fn compare(orig: &Model, published: &Model) -> Vec<String> {
    let mut out = Vec::new();
    // Platform keys are copied verbatim by cargo; spacing is compared loosely all the same.
    let by_loose_key = |deps: &BTreeMap<DepKey, Dep>| -> BTreeMap<DepKey, (DepKey, Dep)> {
        deps.iter()
            .map(|(k, d)| {
                let mut loose = k.clone();
                loose.target = loose.target.as_deref().map(strip_ws);
                (loose, (k.clone(), d.clone()))
            })
            .collect()
    };
    let o = by_loose_key(&orig.deps);
    let p = by_loose_key(&published.deps);
    for (k, (key, pd)) in &p {
        match o.get(k) {
            None => out.push(format!(
                "declares dependency {key}, which Cargo.toml.orig does not"
            )),
            Some((_, od)) => out.extend(dep_problems(key, od, pd)),
        }
    }
    for (k, (key, od)) in &o {
        // A dev-dependency inherited from a workspace provero could not read may have had no
        // version, and then cargo dropped it.
        let maybe_dropped = key.kind == DepKind::Dev && od.req == Req::Unknown;
        if !p.contains_key(k) && !maybe_dropped {
            out.push(format!("drops dependency {key} of Cargo.toml.orig"));
        }
    }

    let ot: BTreeMap<(&str, &str), &Target> = orig
        .targets
        .iter()
        .map(|t| ((t.kind, t.name.as_str()), t))
        .collect();
    let pt: BTreeMap<(&str, &str), &Target> = published
        .targets
        .iter()
        .map(|t| ((t.kind, t.name.as_str()), t))
        .collect();
    for (k, t) in &pt {
        match ot.get(k) {
            None => out.push(format!(
                "declares target {t} (`{}`), which Cargo.toml.orig does not",
                t.path
            )),
            Some(o) => {
                if o.path != t.path {
                    out.push(format!(
                        "target {t} is built from `{}`, Cargo.toml.orig says `{}`",
                        t.path, o.path
                    ));
                }
                if o.crate_types != t.crate_types {
                    out.push(format!(
                        "target {t} has crate type {}, Cargo.toml.orig has {}",
                        t.crate_types.join(", "),
                        o.crate_types.join(", ")
                    ));
                }
                if o.required_features != t.required_features {
                    out.push(format!(
                        "target {t} has required-features [{}], Cargo.toml.orig has [{}]",
                        t.required_features.join(", "),
                        o.required_features.join(", ")
                    ));
                }
            }
        }
    }
    for (k, t) in &ot {
        if !pt.contains_key(k) {
            out.push(format!("drops target {t} of Cargo.toml.orig"));
        }
    }

    if orig.build != published.build {
        let show = |b: &[String]| {
            if b.is_empty() {
                "none".to_string()
            } else {
                b.iter()
                    .map(|s| format!("`{s}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        out.push(format!(
            "has build script {} (`package.build`), Cargo.toml.orig has {}",
            show(&published.build),
            show(&orig.build)
        ));
    }
    if orig.links != published.links {
        out.push(format!(
            "has `package.links = {:?}`, Cargo.toml.orig has {:?}",
            published.links.as_deref().unwrap_or(""),
            orig.links.as_deref().unwrap_or("")
        ));
    }
    for (name, pv) in &published.features {
        match orig.features.get(name) {
            None => out.push(format!(
                "declares feature `features.{name}`, which Cargo.toml.orig does not"
            )),
            Some(ov) if ov != pv => out.push(format!(
                "feature `features.{name}` is {}, Cargo.toml.orig has {}",
                show_set(pv),
                show_set(ov)
            )),
            Some(_) => {}
        }
    }
    for name in orig.features.keys() {
        if !published.features.contains_key(name) {
            out.push(format!(
                "drops feature `features.{name}` of Cargo.toml.orig"
            ));
        }
    }
    out
}

#[cfg(test)]
#[path = "manifest_tests.rs"]
mod tests;

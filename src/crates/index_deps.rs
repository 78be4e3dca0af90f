//! The index line is what cargo resolves against: its `deps`, `features` and `links` must say
//! what the published `Cargo.toml` says. cargo builds the index entry from the same normalised
//! manifest when publishing (`ops/registry/publish.rs` `transmit`): one entry per dependency
//! with `name` (the name in the manifest), `package` (when renamed), `req` (the requirement as
//! cargo's semver prints it: `1.0` becomes `^1.0`), `features`, `optional`, `default_features`,
//! `target` (the platform as cargo prints it), `kind` and `registry` (the dependency's index
//! when it is not the package's own).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value as Json;

use super::manifest::{self, DepKey, DepKind, Req, Side, Source};

/// The part of an index line this check reads (carried from resolve in `Resolved::extra`).
pub struct IndexEntry<'a> {
    pub deps: &'a Json,
    pub features: Option<&'a Json>,
    pub features2: Option<&'a Json>,
    pub links: Option<&'a Json>,
    /// The index the crate was resolved in (for `registry` of its own-registry dependencies).
    pub registry: Option<&'a str>,
    /// When the version was published (the line's `pubtime`, RFC 3339).
    pub pubtime: Option<&'a str>,
}

/// Rule `index-before-dependency-kinds`: cargo uploaded no dependency kinds before
/// rust-lang/cargo#939 (2014-11-21), so crates.io recorded build and dev dependencies as
/// normal ones; cargo nightlies of that year still did. For a line published before this, a
/// build or dev dependency the line does not list with its kind may be listed as normal.
pub const KINDS_RECORDED_SINCE: &str = "2015-01-01";

fn kinds_recorded(pubtime: Option<&str>) -> bool {
    pubtime.map_or(true, |t| t.trim() >= KINDS_RECORDED_SINCE)
}

struct IndexDep {
    package: String,
    req: String,
    features: BTreeSet<String>,
    optional: bool,
    default_features: bool,
    registry: Option<String>,
}

/// One identity per index: crates.io has had two index URLs; `sparse+` and a trailing `/` do
/// not change which index is meant.
fn index_id(url: &str) -> String {
    let u = url
        .trim()
        .trim_start_matches("sparse+")
        .trim_start_matches("registry+")
        .trim_end_matches('/')
        .to_ascii_lowercase();
    match u.as_str() {
        "https://github.com/rust-lang/crates.io-index" | "https://index.crates.io" => {
            "crates.io".into()
        }
        _ => u,
    }
}

fn string_set(v: Option<&Json>) -> BTreeSet<String> {
    v.and_then(Json::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn index_deps(deps: &[Json]) -> Result<BTreeMap<DepKey, IndexDep>, String> {
    let mut out = BTreeMap::new();
    for d in deps {
        let name = d["name"]
            .as_str()
            .ok_or_else(|| format!("an index dependency without a name: {d}"))?;
        let kind = match d["kind"].as_str() {
            None | Some("normal") => DepKind::Normal,
            Some("dev") => DepKind::Dev,
            Some("build") => DepKind::Build,
            Some(k) => return Err(format!("index dependency `{name}` has unknown kind `{k}`")),
        };
        let key = DepKey {
            kind,
            target: d["target"].as_str().map(manifest::strip_ws),
            name: name.to_string(),
        };
        let dep = IndexDep {
            package: d["package"].as_str().unwrap_or(name).to_string(),
            req: d["req"].as_str().unwrap_or("*").to_string(),
            features: string_set(d.get("features")),
            optional: d["optional"].as_bool().unwrap_or(false),
            default_features: d["default_features"].as_bool().unwrap_or(true),
            registry: d["registry"].as_str().map(index_id),
        };
        if out.insert(key.clone(), dep).is_some() {
            return Err(format!("the index lists dependency {key} twice"));
        }
    }
    Ok(out)
}

/// Every way the index line disagrees with the published manifest, one phrase each.
pub fn compare(entry: &IndexEntry<'_>, published: &toml::Table) -> Vec<String> {
    let mut out = Vec::new();
    let Some(deps) = entry.deps.as_array() else {
        return vec!["its `deps` is not a list".into()];
    };
    let index = match index_deps(deps) {
        Ok(d) => d,
        Err(e) => return vec![e],
    };
    let manifest_deps = manifest::dependencies(published, Side::Published);
    let own = entry.registry.map(index_id);
    let kinds = kinds_recorded(entry.pubtime);
    let mut seen = BTreeSet::new();
    for (key, md) in &manifest_deps {
        let mut loose = key.clone();
        loose.target = loose.target.as_deref().map(manifest::strip_ws);
        if !kinds && !index.contains_key(&loose) {
            // Recorded as a normal dependency, if recorded at all.
            loose.kind = DepKind::Normal;
        }
        seen.insert(loose.clone());
        let Some(ix) = index.get(&loose) else {
            out.push(format!(
                "does not list dependency {key} of the published manifest"
            ));
            continue;
        };
        if md.package.as_deref() != Some(ix.package.as_str()) {
            out.push(format!(
                "lists dependency {key} as package `{}`, the manifest as `{}`",
                ix.package,
                md.package.as_deref().unwrap_or("?")
            ));
        }
        let mreq = match &md.req {
            Req::Spec(s) => s.as_str(),
            Req::Absent | Req::Unknown => "*",
        };
        if !manifest::same_req(mreq, &ix.req) {
            out.push(format!(
                "lists dependency {key} with version {:?}, the manifest with {mreq:?}",
                ix.req
            ));
        }
        if md.features != ix.features {
            out.push(format!(
                "lists dependency {key} with features {:?}, the manifest with {:?}",
                ix.features, md.features
            ));
        }
        if md.optional != ix.optional {
            out.push(format!(
                "lists dependency {key} with `optional = {}`, the manifest with {}",
                ix.optional, md.optional
            ));
        }
        if md.default_features.unwrap_or(true) != ix.default_features {
            out.push(format!(
                "lists dependency {key} with `default_features = {}`, the manifest with {}",
                ix.default_features,
                md.default_features.unwrap_or(true)
            ));
        }
        let registry_ok = match (&md.source, &ix.registry) {
            (Some(Source::Default), None) => true,
            // cargo writes `registry-index` for a dependency named with `registry = …`, also
            // when that is the crate's own registry, where the index says null.
            (Some(Source::Index(i)), None) => own.as_deref() == Some(index_id(i).as_str()),
            (Some(Source::Index(i)), Some(r)) => index_id(i) == *r,
            // crates.io's own dependencies may be spelled out by a registry that mirrors it.
            (Some(Source::Default), Some(r)) => {
                r == "crates.io" && own.as_deref() == Some("crates.io")
            }
            _ => false,
        };
        if !registry_ok {
            out.push(format!(
                "lists dependency {key} from registry {}, the manifest from {}",
                ix.registry.as_deref().unwrap_or("(its own)"),
                match &md.source {
                    Some(Source::Index(i)) => i.clone(),
                    Some(Source::Local(l)) => l.clone(),
                    _ => "its own".into(),
                }
            ));
        }
    }
    for key in index.keys() {
        if !seen.contains(key) {
            out.push(format!(
                "lists dependency {key}, which the published manifest does not declare"
            ));
        }
    }

    // `features` and (for `dep:`/`?` syntax, crates.io since 2021) `features2` together are
    // the crate's `[features]`.
    if let Some(f) = entry.features {
        let mut ix: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for part in [Some(f), entry.features2].into_iter().flatten() {
            if let Some(map) = part.as_object() {
                for (k, v) in map {
                    ix.entry(k.clone()).or_default().extend(string_set(Some(v)));
                }
            }
        }
        let mf = manifest::features(published, &manifest_deps);
        // Both sides without entries naming undeclared dependencies, as for the manifests.
        let ix = manifest::strip_features(ix, &manifest_deps);
        if ix != mf {
            let names = |m: &BTreeMap<String, BTreeSet<String>>| {
                m.keys().cloned().collect::<Vec<_>>().join(", ")
            };
            let differing: Vec<String> = ix
                .keys()
                .chain(mf.keys())
                .filter(|k| ix.get(*k) != mf.get(*k))
                .cloned()
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            out.push(format!(
                "lists other features than the published manifest (`features.{}` differ; index: [{}], manifest: [{}])",
                differing.join("`, `features."),
                names(&ix),
                names(&mf)
            ));
        }
    }
    let mlinks = manifest::package_table(published)
        .and_then(|p| p.get("links"))
        .and_then(toml::Value::as_str);
    let ilinks = entry.links.and_then(Json::as_str);
    if mlinks != ilinks {
        out.push(format!(
            "has `links = {:?}`, the published manifest {:?}",
            ilinks.unwrap_or(""),
            mlinks.unwrap_or("")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(deps: Json, features: Json, manifest: &str) -> Vec<String> {
        let t: toml::Table = manifest.parse().unwrap();
        let e = IndexEntry {
            deps: &deps,
            features: Some(&features),
            features2: None,
            links: None,
            registry: Some("https://index.crates.io/"),
            pubtime: Some("2024-05-01T10:00:00Z"),
        };
        compare(&e, &t)
    }

    const MANIFEST: &str = r#"
        [package]
        name = "a"
        version = "1.0.0"
        [features]
        default = ["std"]
        std = ["serde/std"]
        [dependencies.serde]
        version = "1.0"
        default-features = false
        features = ["derive"]
        [target."cfg(any(unix, windows))".dependencies.libc]
        version = "0.2"
        optional = true
        [dev-dependencies.json]
        version = "1"
        package = "serde_json"
    "#;

    fn honest() -> Json {
        json!([
            {"name": "serde", "req": "^1.0", "features": ["derive"], "optional": false,
             "default_features": false, "target": null, "kind": "normal"},
            {"name": "libc", "req": "^0.2", "features": [], "optional": true,
             "default_features": true, "target": "cfg(any(unix,windows))", "kind": "normal"},
            {"name": "json", "package": "serde_json", "req": "^1", "features": [],
             "optional": false, "default_features": true, "kind": "dev"}
        ])
    }

    #[test]
    fn an_honest_index_line_agrees() {
        let f = json!({"default": ["std"], "std": ["serde/std"]});
        assert_eq!(check(honest(), f, MANIFEST), Vec::<String>::new());
    }

    #[test]
    fn each_disagreement_is_named() {
        let f = json!({"default": ["std"], "std": ["serde/std"]});
        let mut d = honest();
        d[0]["package"] = json!("evil-serde");
        d[1]["req"] = json!("^0.3");
        d[2]["registry"] = json!("https://evil.example/index");
        let got = check(d, f.clone(), MANIFEST).join("\n");
        assert!(got.contains("as package `evil-serde`"), "{got}");
        assert!(got.contains("version \"^0.3\""), "{got}");
        assert!(
            got.contains("from registry https://evil.example/index"),
            "{got}"
        );

        let mut d = honest();
        d.as_array_mut()
            .unwrap()
            .push(json!({"name": "extra", "req": "^1"}));
        let got = check(d, json!({"default": []}), MANIFEST).join("\n");
        assert!(
            got.contains("lists dependency `dependencies.extra`"),
            "{got}"
        );
        assert!(got.contains("`features.default`"), "{got}");
    }

    #[test]
    fn a_2015_index_line_agrees_with_its_manifest() {
        // No `kind`, `^0.*` for `0.*`, and a `path` kept in the published manifest, as
        // crates.io and cargo wrote them then.
        let m = "[package]\nname = \"a\"\nversion = \"0.1.0\"\n\
                 [dependencies]\nclippy = { version = \"0.*\", optional = true }\n\
                 syntax = { path = \"syntax\", version = \"0.2\" }\n";
        let d = json!([
            {"name": "clippy", "req": "^0.*", "features": [], "optional": true,
             "default_features": true, "target": null},
            {"name": "syntax", "req": "^0.2", "features": [], "optional": false,
             "default_features": true, "target": null}
        ]);
        assert_eq!(check(d, json!({}), m), Vec::<String>::new());
    }

    #[test]
    fn a_2014_index_line_is_not_held_to_dependency_kinds() {
        // time 0.0.1 (2014-11-13): `[build-dependencies] gcc`, listed by crates.io as normal.
        let m = "[package]\nname = \"time\"\nversion = \"0.0.1\"\n\
                 [build-dependencies]\ngcc = \"*\"\n";
        let t: toml::Table = m.parse().unwrap();
        let d = json!([{"name": "gcc", "req": "*", "features": [], "optional": false,
                        "default_features": true, "target": null, "kind": "normal"}]);
        let entry = |pubtime| IndexEntry {
            deps: &d,
            features: None,
            features2: None,
            links: None,
            registry: Some("https://index.crates.io/"),
            pubtime,
        };
        assert_eq!(
            compare(&entry(Some("2014-11-13T06:52:51Z")), &t),
            Vec::<String>::new()
        );
        // A line of those weeks that does record the kind (time 0.1.0, 2014-11-27) agrees too.
        let d_build = json!([{"name": "gcc", "req": "*", "features": [], "optional": false,
                              "default_features": true, "target": null, "kind": "build"}]);
        let e = IndexEntry {
            deps: &d_build,
            ..entry(Some("2014-11-27T23:29:29Z"))
        };
        assert_eq!(compare(&e, &t), Vec::<String>::new());
        // The same disagreement on a line of the years cargo uploaded kinds is a finding.
        let got = compare(&entry(Some("2015-03-01T00:00:00Z")), &t).join("\n");
        assert!(got.contains("`dependencies.gcc`"), "{got}");
        assert!(got.contains("`build-dependencies.gcc`"), "{got}");
    }
}

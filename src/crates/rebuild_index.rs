//! The registry index a crate rebuild needs. Cargo runs offline in the sandbox, so provero
//! fetches beforehand, through its own HTTP client, the index files the lock resolution can
//! reach, and writes them as a local registry. It follows the resolver: for each requirement
//! the newest version it accepts, and of that version the non-optional dependencies plus the
//! optional ones the requested features enable (following every version and every optional
//! dependency fetches a large part of crates.io: ~1,400 files for a crate with one `criterion`
//! dev-dependency). A resolution that needs more (backtracking to an older version) fails
//! offline, as `rebuild-failed` with cargo's message.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use futures::StreamExt;
use serde::Deserialize;

use crate::http::HttpError;
use crate::profile::join_url;
use crate::rebuild::{Failure, PlanCx};

use super::registry::index_path;

/// At most this many index files are fetched for one rebuild.
const MAX_INDEX_FILES: usize = 2000;

fn yes() -> bool {
    true
}

/// One dependency of an index line.
#[derive(Debug, Clone, Deserialize)]
pub struct IndexDep {
    pub name: String,
    #[serde(default)]
    pub req: String,
    /// The real crate name when `name` is a rename.
    #[serde(default)]
    pub package: Option<String>,
    #[serde(default)]
    pub kind: Option<String>,
    /// Another registry's index (not this one's crates).
    #[serde(default)]
    pub registry: Option<String>,
    #[serde(default)]
    pub optional: bool,
    #[serde(default)]
    pub features: Vec<String>,
    #[serde(default = "yes")]
    pub default_features: bool,
}

impl IndexDep {
    pub fn crate_name(&self) -> &str {
        self.package.as_deref().unwrap_or(&self.name)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct IndexVersion {
    pub vers: String,
    pub cksum: String,
    #[serde(default)]
    pub yanked: bool,
    #[serde(default)]
    pub deps: Vec<IndexDep>,
    #[serde(default)]
    pub features: HashMap<String, Vec<String>>,
    #[serde(default)]
    pub features2: HashMap<String, Vec<String>>,
}

/// The index lines fetched for a rebuild, by lower-cased crate name.
#[derive(Debug, Default)]
pub struct IndexSnapshot {
    pub crates: HashMap<String, Vec<IndexVersion>>,
}

impl IndexSnapshot {
    pub fn version(&self, name: &str, vers: &str) -> Option<&IndexVersion> {
        self.crates
            .get(&name.to_ascii_lowercase())?
            .iter()
            .find(|v| v.vers == vers)
    }
}

/// What a dependent asks of a crate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub name: String,
    pub req: String,
    pub features: BTreeSet<String>,
}

impl Request {
    fn new(name: &str, req: &str, features: &[String], default: bool) -> Request {
        let mut f: BTreeSet<String> = features.iter().cloned().collect();
        if default {
            f.insert("default".into());
        }
        Request {
            name: name.to_ascii_lowercase(),
            req: req.to_string(),
            features: f,
        }
    }

    /// A version a published lock pins.
    pub fn exact(name: &str, version: &str) -> Request {
        Request::new(name, &format!("={version}"), &[], true)
    }
}

/// What a workspace manifest (or its `[workspace]` table) asks for: every dependency kind,
/// optional ones too (a lock covers every feature of the workspace), with the features the
/// manifest's own `[features]` enable on them.
pub fn root_requests(manifest: &toml::Value) -> Vec<Request> {
    let mut enabled: BTreeMap<String, Vec<String>> = BTreeMap::new();
    if let Some(f) = manifest.get("features").and_then(|f| f.as_table()) {
        for list in f.values().filter_map(|l| l.as_array()) {
            for e in list.iter().filter_map(|e| e.as_str()) {
                if let Some((d, feat)) = e.split_once('/') {
                    enabled
                        .entry(d.trim_end_matches('?').to_string())
                        .or_default()
                        .push(feat.to_string());
                }
            }
        }
    }
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
    let mut out = Vec::new();
    for t in tables.into_iter().filter_map(|t| t.as_table()) {
        for (key, spec) in t {
            let more = enabled.get(key).cloned().unwrap_or_default();
            match spec {
                toml::Value::String(req) => out.push(Request::new(key, req, &more, true)),
                toml::Value::Table(tab) => {
                    if tab.contains_key("path") && !tab.contains_key("version") {
                        continue;
                    }
                    let name = tab.get("package").and_then(|p| p.as_str()).unwrap_or(key);
                    let req = tab.get("version").and_then(|v| v.as_str()).unwrap_or("*");
                    let mut feats: Vec<String> = tab
                        .get("features")
                        .and_then(|f| f.as_array())
                        .map(|a| {
                            a.iter()
                                .filter_map(|x| x.as_str().map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default();
                    feats.extend(more);
                    let default = tab
                        .get("default-features")
                        .or_else(|| tab.get("default_features"))
                        .and_then(|d| d.as_bool())
                        .unwrap_or(true);
                    out.push(Request::new(name, req, &feats, default));
                }
                _ => {}
            }
        }
    }
    out
}

/// Does a requirement accept this version? An unreadable requirement accepts everything.
fn accepts(req: &str, vers: &str) -> bool {
    match (semver::VersionReq::parse(req), semver::Version::parse(vers)) {
        (Ok(r), Ok(v)) => r.matches(&v),
        _ => true,
    }
}

/// The dependencies of `v` that `features` activate, with the features asked of each.
fn activated(v: &IndexVersion, features: &BTreeSet<String>) -> Vec<Request> {
    let table = |f: &str| v.features.get(f).or_else(|| v.features2.get(f));
    let optional: BTreeSet<&str> = v
        .deps
        .iter()
        .filter(|d| d.optional)
        .map(|d| d.name.as_str())
        .collect();
    let mut on: BTreeSet<String> = BTreeSet::new();
    let mut dep_features: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut stack: Vec<String> = features.iter().cloned().collect();
    while let Some(f) = stack.pop() {
        if !seen.insert(f.clone()) {
            continue;
        }
        match table(&f) {
            Some(list) => {
                for e in list {
                    if let Some(d) = e.strip_prefix("dep:") {
                        on.insert(d.to_string());
                    } else if let Some((d, df)) = e.split_once('/') {
                        if !d.ends_with('?') {
                            on.insert(d.to_string());
                        }
                        dep_features
                            .entry(d.trim_end_matches('?').to_string())
                            .or_default()
                            .push(df.to_string());
                    } else {
                        stack.push(e.clone());
                    }
                }
            }
            // An optional dependency is also a feature of its own name.
            None if optional.contains(f.as_str()) => {
                on.insert(f);
            }
            None => {}
        }
    }
    v.deps
        .iter()
        .filter(|d| d.registry.is_none() && d.kind.as_deref() != Some("dev"))
        .filter(|d| !d.optional || on.contains(&d.name))
        .map(|d| {
            let mut f = d.features.clone();
            f.extend(dep_features.get(&d.name).cloned().unwrap_or_default());
            Request::new(d.crate_name(), &d.req, &f, d.default_features)
        })
        .collect()
}

/// Fetch what the resolution reaches from `start` into `dir` (a local registry's `index/`).
pub async fn fetch_index(
    cx: &PlanCx<'_>,
    start: Vec<Request>,
    dir: &Path,
) -> Result<IndexSnapshot, Failure> {
    let mut snapshot = IndexSnapshot::default();
    let mut asked: BTreeSet<String> = BTreeSet::new();
    // Features already followed per chosen version.
    let mut followed: HashMap<(String, String), BTreeSet<String>> = HashMap::new();
    let mut rounds = 0;
    let mut queue = start;
    while !queue.is_empty() {
        let fetch: Vec<String> = queue
            .iter()
            .map(|r| r.name.clone())
            .filter(|n| asked.len() < MAX_INDEX_FILES && asked.insert(n.clone()))
            .collect();
        let got: Vec<(String, Result<Vec<u8>, String>)> = futures::stream::iter(fetch)
            .map(|name| async move {
                let url = join_url(&cx.profile.url, &index_path(&name));
                let r = match cx.http.get_meta(&url, None).await {
                    Ok(b) => Ok(b.bytes),
                    Err(HttpError::NotFound { .. }) => Ok(Vec::new()),
                    Err(e) => Err(format!("{url}: {e}")),
                };
                (name, r)
            })
            .buffer_unordered(8)
            .collect()
            .await;
        for (name, r) in got {
            let bytes =
                r.map_err(|e| Failure::Failed(format!("fetching the index for the rebuild: {e}")))?;
            if bytes.is_empty() {
                continue;
            }
            let file = dir.join(index_path(&name));
            if let Some(parent) = file.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| Failure::Failed(format!("{}: {e}", parent.display())))?;
            }
            std::fs::write(&file, &bytes)
                .map_err(|e| Failure::Failed(format!("{}: {e}", file.display())))?;
            let versions: Vec<IndexVersion> = String::from_utf8_lossy(&bytes)
                .lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect();
            snapshot.crates.insert(name, versions);
        }
        let mut next = Vec::new();
        for r in std::mem::take(&mut queue) {
            let Some(versions) = snapshot.crates.get(&r.name) else {
                continue;
            };
            // The resolver takes the newest version a requirement accepts (not yanked).
            let Some(v) = versions
                .iter()
                .filter(|v| accepts(&r.req, &v.vers))
                .max_by_key(|v| (!v.yanked, semver::Version::parse(&v.vers).ok()))
            else {
                continue;
            };
            let done = followed
                .entry((r.name.clone(), v.vers.clone()))
                .or_default();
            if !done.is_empty() && r.features.is_subset(done) {
                continue;
            }
            done.extend(r.features.iter().cloned());
            let all = done.clone();
            next.extend(activated(v, &all));
        }
        queue = next;
        rounds += 1;
    }
    tracing::info!(
        "{} index files fetched in {rounds} rounds for the rebuild",
        snapshot.crates.len()
    );
    Ok(snapshot)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(line: &str) -> IndexVersion {
        serde_json::from_str(line).unwrap()
    }

    #[test]
    fn optional_dependencies_follow_the_features_that_enable_them() {
        let v = version(
            r#"{"vers":"1.0.0","cksum":"x","deps":[
                {"name":"a","req":"1"},
                {"name":"b","req":"1","optional":true},
                {"name":"c","req":"1","optional":true},
                {"name":"d","req":"1","optional":true},
                {"name":"t","req":"1","kind":"dev"}],
              "features":{"default":["b"],"more":["dep:c","d?/x"]}}"#,
        );
        let names = |f: &[&str]| -> Vec<String> {
            let f: BTreeSet<String> = f.iter().map(|s| s.to_string()).collect();
            activated(&v, &f).into_iter().map(|r| r.name).collect()
        };
        assert_eq!(names(&[]), ["a"]);
        assert_eq!(names(&["default"]), ["a", "b"]);
        assert_eq!(names(&["more"]), ["a", "c"]);
        assert_eq!(names(&["d"]), ["a", "d"]);
    }

    #[test]
    fn root_requests_take_every_kind_and_the_manifests_features() {
        let m: toml::Value = toml::from_str(
            "[features]\nstd = [\"serde/std\"]\n[dependencies]\nserde = { version = \"1\", default-features = false, optional = true }\nlocal = { path = \"x\" }\n[dev-dependencies]\ncriterion = \"0.8\"\n",
        )
        .unwrap();
        let r = root_requests(&m);
        let serde = r.iter().find(|r| r.name == "serde").unwrap();
        assert_eq!(serde.features.iter().collect::<Vec<_>>(), ["std"]);
        assert!(r.iter().any(|r| r.name == "criterion"));
        assert!(!r.iter().any(|r| r.name == "local"));
        assert!(accepts("^1.2", "1.3.0") && !accepts("=1.2.0", "1.3.0"));
    }
}

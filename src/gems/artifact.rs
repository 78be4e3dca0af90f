//! Reading a `.gem`: a plain (uncompressed) tar holding `metadata.gz` (the gemspec as YAML with
//! `!ruby/object:` tags), `data.tar.gz` (the files, already relative to the gem root),
//! `checksums.yaml.gz` (SHA-256/SHA-512 of the two others) and, for signed gems, `*.sig`.
//! The YAML is read as plain data: tags are stripped, nothing Ruby is instantiated.

use std::collections::BTreeMap;

use serde_yaml::Value;
use sha2::Digest as _;

use crate::archive::{
    gunzip_capped, into_files, read_tar, read_tar_gz, ArchiveError, Limits, Root,
};
use crate::ecosystem::{Package, Resolved};
use crate::finding::{Code, Finding};
use crate::repo_url;

/// `metadata.gz` is a few kilobytes; anything near this cap is not a gemspec.
const METADATA_CAP: u64 = 16 * 1024 * 1024;

/// A dependency as the published gemspec declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    pub name: String,
    /// `runtime` or `development`.
    pub kind: String,
    /// `">= 2"`, `"~> 1.0, >= 1.0.1"`.
    pub requirement: String,
}

/// What the gem rules and checks need from `metadata.gz`.
#[derive(Debug, Default, Clone)]
pub struct GemMeta {
    pub name: Option<String>,
    pub version: Option<String>,
    /// `ruby` for a source gem, else the platform it was built for (`x86_64-linux`).
    pub platform: String,
    pub homepage: Option<String>,
    /// The `metadata` map (`source_code_uri`, `homepage_uri`, `bug_tracker_uri`, ...).
    pub metadata: BTreeMap<String, String>,
    pub dependencies: Vec<Dependency>,
    /// `extensions`: build scripts (`ext/foo/extconf.rb`) run at install time.
    pub extensions: Vec<String>,
}

impl GemMeta {
    pub fn runtime_dependencies(&self) -> impl Iterator<Item = &Dependency> {
        self.dependencies.iter().filter(|d| d.kind == "runtime")
    }

    pub fn is_platform_gem(&self) -> bool {
        !self.platform.is_empty() && self.platform != "ruby"
    }
}

/// Strip YAML tags everywhere: `!ruby/object:Gem::Version {version: 1.0}` → `{version: 1.0}`.
pub fn untag(v: Value) -> Value {
    match v {
        Value::Tagged(t) => untag(t.value),
        Value::Sequence(s) => Value::Sequence(s.into_iter().map(untag).collect()),
        Value::Mapping(m) => {
            Value::Mapping(m.into_iter().map(|(k, v)| (untag(k), untag(v))).collect())
        }
        other => other,
    }
}

/// A scalar as text (`version: 1.0` may arrive as a YAML number).
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn get<'v>(v: &'v Value, key: &str) -> Option<&'v Value> {
    v.as_mapping()?.get(key)
}

/// `Gem::Version` (`{version: "1.0"}`) or a bare scalar.
fn version_of(v: &Value) -> Option<String> {
    get(v, "version").and_then(scalar).or_else(|| scalar(v))
}

/// `Gem::Requirement` `{requirements: [[">=", {version: "2"}], ...]}` → `">= 2"`.
fn requirement_of(v: &Value) -> String {
    let Some(reqs) = get(v, "requirements").and_then(Value::as_sequence) else {
        return String::new();
    };
    reqs.iter()
        .filter_map(|r| {
            let pair = r.as_sequence()?;
            let op = pair.first().and_then(scalar)?;
            let ver = pair.get(1).and_then(version_of)?;
            Some(format!("{op} {ver}"))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parse the gemspec YAML of `metadata.gz`.
pub fn parse_metadata(yaml: &str) -> Result<GemMeta, String> {
    let v: Value = serde_yaml::from_str(yaml).map_err(|e| e.to_string())?;
    let v = untag(v);
    if v.as_mapping().is_none() {
        return Err("not a gem specification (no mapping at the top)".into());
    }
    let text = |k: &str| get(&v, k).and_then(scalar).filter(|s| !s.is_empty());
    let mut meta = GemMeta {
        name: text("name"),
        version: get(&v, "version").and_then(version_of),
        platform: text("platform").unwrap_or_else(|| "ruby".into()),
        homepage: text("homepage"),
        ..Default::default()
    };
    if let Some(m) = get(&v, "metadata").and_then(Value::as_mapping) {
        for (k, val) in m {
            if let (Some(k), Some(val)) = (scalar(k), scalar(val)) {
                meta.metadata.insert(k, val);
            }
        }
    }
    for d in get(&v, "dependencies")
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
    {
        let Some(name) = get(d, "name").and_then(scalar) else {
            continue;
        };
        let kind = get(d, "type")
            .and_then(scalar)
            .unwrap_or_else(|| "runtime".into());
        let req = get(d, "requirement").or_else(|| get(d, "version_requirements"));
        meta.dependencies.push(Dependency {
            name,
            kind: kind.trim_start_matches(':').to_string(),
            requirement: req.map(requirement_of).unwrap_or_default(),
        });
    }
    meta.extensions = get(&v, "extensions")
        .and_then(Value::as_sequence)
        .map(|s| s.iter().filter_map(scalar).collect())
        .unwrap_or_default();
    Ok(meta)
}

/// Keep URLs on git hosts, in order, without duplicates; `.../issues` becomes the repository.
pub fn git_candidates(urls: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for u in urls {
        let u = u.trim();
        let u = u.trim_end_matches('/');
        let u = u.strip_suffix("/issues").unwrap_or(u);
        if u.is_empty() || !repo_url::is_git_host(u) {
            continue;
        }
        if !out.iter().any(|o| o == u) {
            out.push(u.to_string());
        }
    }
    out
}

/// Repository candidates from the gemspec: `source_code_uri`, the homepage, the bug tracker.
pub fn repository_candidates(meta: &GemMeta) -> Vec<String> {
    let m = |k: &str| meta.metadata.get(k).cloned();
    let urls: Vec<String> = [
        m("source_code_uri"),
        meta.homepage.clone(),
        m("homepage_uri"),
        m("bug_tracker_uri"),
    ]
    .into_iter()
    .flatten()
    .collect();
    git_candidates(urls)
}

/// Check `checksums.yaml.gz` against the members it lists. Mismatches are findings.
pub fn check_checksums(yaml: &str, members: &BTreeMap<String, Vec<u8>>) -> Vec<Finding> {
    let v = match serde_yaml::from_str::<Value>(yaml) {
        Ok(v) => untag(v),
        Err(e) => {
            return vec![Finding::at(
                Code::ChecksumMismatch,
                "checksums.yaml.gz",
                format!("checksums.yaml.gz cannot be read ({e}); RubyGems would refuse this gem"),
            )]
        }
    };
    let mut out = Vec::new();
    let Some(algos) = v.as_mapping() else {
        return out;
    };
    for (algo, files) in algos {
        let Some(algo) = scalar(algo) else { continue };
        let Some(files) = files.as_mapping() else {
            continue;
        };
        for (file, want) in files {
            let (Some(file), Some(want)) = (scalar(file), scalar(want)) else {
                continue;
            };
            let Some(data) = members.get(&file) else {
                out.push(Finding::at(
                    Code::ChecksumMismatch,
                    file.clone(),
                    format!("checksums.yaml.gz lists {file}, which the gem does not contain"),
                ));
                continue;
            };
            let got = match algo.as_str() {
                "SHA256" => hex::encode(sha2::Sha256::digest(data)),
                "SHA512" => hex::encode(sha2::Sha512::digest(data)),
                "SHA1" => hex::encode(sha1::Sha1::digest(data)),
                _ => continue,
            };
            if !got.eq_ignore_ascii_case(want.trim()) {
                out.push(Finding::at(
                    Code::ChecksumMismatch,
                    file.clone(),
                    format!(
                        "{algo} of the gem's inner {file} is {got}, but checksums.yaml.gz lists {want}"
                    ),
                ));
            }
        }
    }
    out
}

/// Read a downloaded `.gem`.
pub fn read(resolved: &Resolved, bytes: &[u8]) -> Result<Package, ArchiveError> {
    let limits = Limits::default();
    let outer = read_tar(bytes, limits)?;
    let mut findings = outer.findings;
    let mut members: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for (path, content) in outer.entries {
        let crate::archive::Content::File { data, .. } = content else {
            findings.push(Finding::at(
                Code::UnsafeArchiveEntry,
                path,
                "a link in the outer .gem archive, which `gem build` never writes",
            ));
            continue;
        };
        if members.contains_key(&path) {
            findings.push(Finding::at(
                Code::UnsafeArchiveEntry,
                path.clone(),
                "duplicate member of the outer .gem archive: installers disagree on which copy wins",
            ));
        }
        members.insert(path, std::sync::Arc::unwrap_or_clone(data));
    }
    for name in members.keys() {
        let known = ["metadata.gz", "data.tar.gz", "checksums.yaml.gz"].contains(&name.as_str())
            || name.ends_with(".sig");
        if !known {
            findings.push(Finding::at(
                Code::NotChecked,
                name.clone(),
                "an outer .gem member that RubyGems ignores (not installed, not compared)",
            ));
        }
    }
    let metadata_gz = members
        .get("metadata.gz")
        .ok_or_else(|| ArchiveError::Unreadable("the .gem has no metadata.gz".into()))?;
    let data_gz = members
        .get("data.tar.gz")
        .ok_or_else(|| ArchiveError::Unreadable("the .gem has no data.tar.gz".into()))?;
    if let Some(sums) = members.get("checksums.yaml.gz") {
        match gunzip_capped(sums, METADATA_CAP) {
            Ok(text) => findings.extend(check_checksums(&String::from_utf8_lossy(&text), &members)),
            Err(e) => findings.push(Finding::at(
                Code::ChecksumMismatch,
                "checksums.yaml.gz",
                format!("checksums.yaml.gz cannot be decompressed: {e}"),
            )),
        }
    }
    let yaml = gunzip_capped(metadata_gz, METADATA_CAP)
        .map_err(|e| ArchiveError::Unreadable(format!("metadata.gz: {e}")))?;
    let meta = parse_metadata(&String::from_utf8_lossy(&yaml))
        .map_err(|e| ArchiveError::Unreadable(format!("metadata.gz is not a gemspec: {e}")))?;

    let number = resolved.extra["number"]
        .as_str()
        .unwrap_or(&resolved.version)
        .to_string();
    let platform = resolved.extra["platform"].as_str().unwrap_or("ruby");
    if let Some(n) = &meta.name {
        if *n != resolved.name {
            findings.push(Finding::at(
                Code::ManifestMismatch,
                "metadata.gz",
                format!(
                    "the gemspec names the gem `{n}`, the registry serves it as `{}`",
                    resolved.name
                ),
            ));
        }
    }
    if let Some(v) = &meta.version {
        if *v != number {
            findings.push(Finding::at(
                Code::ManifestMismatch,
                "metadata.gz",
                format!("the gemspec declares version {v}, the registry serves {number}"),
            ));
        }
    }
    if meta.platform != platform && !(meta.platform.is_empty() && platform == "ruby") {
        findings.push(Finding::at(
            Code::ManifestMismatch,
            "metadata.gz",
            format!(
                "the gemspec declares platform `{}`, the registry serves it as `{platform}`",
                meta.platform
            ),
        ));
    }

    let raw = read_tar_gz(data_gz, Limits::streaming())?;
    let (files, more) = into_files(raw, Root::None);
    findings.extend(more);
    let repository = repository_candidates(&meta);
    let tag_hint = meta
        .metadata
        .get("source_code_uri")
        .and_then(|u| repo_url::normalize(u))
        .and_then(|r| r.ref_hint);
    Ok(Package {
        name: resolved.name.clone(),
        version: number,
        files,
        findings,
        repository,
        commit: None,
        dirty: false,
        path_in_vcs: None,
        tag_hint,
        meta: Box::new(meta),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = r#"--- !ruby/object:Gem::Specification
name: demo
version: !ruby/object:Gem::Version
  version: 1.2.0
platform: ruby
dependencies:
- !ruby/object:Gem::Dependency
  name: rack
  requirement: &1 !ruby/object:Gem::Requirement
    requirements:
    - - ">="
      - !ruby/object:Gem::Version
        version: '2'
  type: :runtime
  prerelease: false
  version_requirements: *1
- !ruby/object:Gem::Dependency
  name: rake
  requirement: !ruby/object:Gem::Requirement
    requirements:
    - - ">="
      - !ruby/object:Gem::Version
        version: '0'
  type: :development
homepage: https://example.org/demo
metadata:
  source_code_uri: https://github.com/acme/demo/tree/v1.2.0
  bug_tracker_uri: https://github.com/acme/demo/issues
date: 2023-11-14 00:00:00.000000000 Z
required_ruby_version: !ruby/object:Gem::Requirement
  requirements:
  - - ">="
    - !ruby/object:Gem::Version
      version: 2.7.0
"#;

    #[test]
    fn parses_tagged_gemspec_yaml() {
        let m = parse_metadata(SPEC).unwrap();
        assert_eq!(m.name.as_deref(), Some("demo"));
        assert_eq!(m.version.as_deref(), Some("1.2.0"));
        assert_eq!(m.platform, "ruby");
        let rt: Vec<_> = m.runtime_dependencies().collect();
        assert_eq!(rt.len(), 1);
        assert_eq!(rt[0].name, "rack");
        assert_eq!(rt[0].requirement, ">= 2");
        assert_eq!(m.dependencies[1].kind, "development");
        assert_eq!(
            repository_candidates(&m),
            [
                "https://github.com/acme/demo/tree/v1.2.0",
                "https://github.com/acme/demo"
            ]
        );
    }

    #[test]
    fn homepage_off_git_hosts_is_dropped() {
        let m = GemMeta {
            homepage: Some("https://rack.github.io/".into()),
            metadata: [(
                "bug_tracker_uri".to_string(),
                "https://github.com/rack/rack/issues".to_string(),
            )]
            .into(),
            ..Default::default()
        };
        assert_eq!(repository_candidates(&m), ["https://github.com/rack/rack"]);
    }

    #[test]
    fn checksums_are_verified() {
        let members: BTreeMap<String, Vec<u8>> = [
            ("metadata.gz".to_string(), b"m".to_vec()),
            ("data.tar.gz".to_string(), b"d".to_vec()),
        ]
        .into();
        let good_m = hex::encode(sha2::Sha256::digest(b"m"));
        let yaml = format!(
            "---\nSHA256:\n  metadata.gz: '{good_m}'\n  data.tar.gz: 00ff\nSHA512:\n  metadata.gz: {}\n",
            hex::encode(sha2::Sha512::digest(b"m"))
        );
        let f = check_checksums(&yaml, &members);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].code, Code::ChecksumMismatch);
        assert_eq!(f[0].path.as_deref(), Some("data.tar.gz"));
        assert!(f[0].message.contains("data.tar.gz"));
        assert_eq!(
            check_checksums("{{{", &members)[0].code,
            Code::ChecksumMismatch
        );
    }
}

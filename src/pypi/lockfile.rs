//! Pure parsers for Python lock files, for the `--lockfile` input layer: pinned
//! `requirements.txt` (`name==version`, `--hash=sha256:` options, `\` continuations) and
//! `uv.lock` (`[[package]]` with `source = { registry = ... }`). Nothing here touches the
//! network; lines that are not registry pins are reported as notes or errors with their line.

use crate::ecosystem::Ecosystem;
use crate::spec::{Spec, VersionReq};

/// One pinned package and the SHA-256 digests the lock file allows for its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pinned {
    pub spec: Spec,
    /// 1-based line of the pin (of its `name =` line in `uv.lock`).
    pub line: usize,
    pub sha256: Vec<String>,
}

/// Pins (or what was wrong with a line), plus notes about lines deliberately skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    pub entries: Vec<Result<Pinned, String>>,
    pub notes: Vec<String>,
}

impl Parsed {
    pub fn specs(&self) -> Vec<Result<Spec, String>> {
        self.entries
            .iter()
            .map(|e| e.as_ref().map(|p| p.spec.clone()).map_err(Clone::clone))
            .collect()
    }
}

/// Pinned `name==version` lines of a requirements file (errors name the line number);
/// `-r`/`-c`/index options, editables and direct URLs are skipped.
pub fn parse_requirements(text: &str) -> Vec<Result<Spec, String>> {
    parse_requirements_full(text).specs()
}

/// Logical lines: `\`-continuations joined, comments removed, with the first physical line.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut start = 0;
    for (i, raw) in text.lines().enumerate() {
        if cur.is_empty() {
            start = i + 1;
        }
        let no_comment = match raw.find('#') {
            Some(0) => "",
            Some(p) if raw[..p].ends_with(char::is_whitespace) => &raw[..p],
            _ => raw,
        };
        let t = no_comment.trim_end();
        if let Some(body) = t.strip_suffix('\\') {
            cur.push_str(body);
            cur.push(' ');
            continue;
        }
        cur.push_str(t);
        let line = std::mem::take(&mut cur);
        if !line.trim().is_empty() {
            out.push((start, line.trim().to_string()));
        }
    }
    if !cur.trim().is_empty() {
        out.push((start, cur.trim().to_string()));
    }
    out
}

pub fn parse_requirements_full(text: &str) -> Parsed {
    let mut out = Parsed::default();
    for (n, line) in logical_lines(text) {
        if line.starts_with('-') {
            let opt = line.split_whitespace().next().unwrap_or("");
            out.notes.push(format!("line {n}: `{opt}` option skipped"));
            continue;
        }
        let mut words = line.split_whitespace();
        let mut req = String::new();
        let mut hashes = Vec::new();
        for w in words.by_ref() {
            if let Some(h) = w
                .strip_prefix("--hash=")
                .or_else(|| w.strip_prefix("--hash:"))
            {
                if let Some(hex) = h.strip_prefix("sha256:") {
                    hashes.push(hex.to_ascii_lowercase());
                }
            } else if w.starts_with("--") {
                // per-requirement options such as --config-settings
            } else {
                req.push_str(w);
                req.push(' ');
            }
        }
        let req = req.split(';').next().unwrap_or("").trim().to_string();
        match pin(&req) {
            Ok(Some((name, version))) => out.entries.push(Ok(Pinned {
                spec: Spec {
                    ecosystem: Ecosystem::Pypi,
                    name,
                    version: VersionReq::Exact(version),
                    hashes: Vec::new(),
                    origin: None,
                },
                line: n,
                sha256: hashes,
            })),
            Ok(None) => out.notes.push(format!(
                "line {n}: `{req}` is a direct reference, not a registry package; skipped"
            )),
            Err(e) => out.entries.push(Err(format!("line {n}: {e}"))),
        }
    }
    out
}

/// `name[extras]==version` → `(name, version)`; `Ok(None)` for `name @ url`.
fn pin(req: &str) -> Result<Option<(String, String)>, String> {
    let end = req
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(req.len());
    let name = &req[..end];
    if name.is_empty() {
        return Err(format!("`{req}` is not a requirement"));
    }
    let mut rest = req[end..].trim_start();
    if rest.starts_with('[') {
        rest = rest
            .split_once(']')
            .map(|(_, r)| r.trim_start())
            .unwrap_or("");
    }
    if rest.starts_with('@') {
        return Ok(None);
    }
    let version = rest
        .strip_prefix("===")
        .or_else(|| rest.strip_prefix("=="))
        .map(str::trim)
        .filter(|v| !v.is_empty() && !v.contains([',', '*', '<', '>', '!', '~', ' ']));
    match version {
        Some(v) => Ok(Some((name.to_string(), v.to_string()))),
        None => Err(format!(
            "`{req}` is not pinned to one version (expected `{name}==VERSION`)"
        )),
    }
}

/// `uv.lock`: every `[[package]]` from a registry; git, path, directory, editable, virtual
/// and URL sources are noted as skipped. `Err` when the file is not TOML.
pub fn parse_uv_lock(text: &str) -> Result<Parsed, String> {
    let doc: toml::Table = text
        .parse()
        .map_err(|e| format!("uv.lock is not TOML: {e}"))?;
    let mut out = Parsed::default();
    let packages = doc
        .get("package")
        .and_then(|p| p.as_array())
        .cloned()
        .unwrap_or_default();
    let name_lines: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.trim() == "[[package]]")
        .map(|(i, _)| i + 1)
        .collect();
    for (i, p) in packages.iter().enumerate() {
        let line = name_lines.get(i).copied().unwrap_or(0);
        let name = p.get("name").and_then(|n| n.as_str()).unwrap_or("");
        let version = p.get("version").and_then(|v| v.as_str());
        let source = p.get("source").and_then(|s| s.as_table());
        let kind = source
            .and_then(|s| s.keys().next().cloned())
            .unwrap_or_default();
        if name.is_empty() {
            out.entries
                .push(Err(format!("line {line}: a [[package]] without a name")));
            continue;
        }
        if kind != "registry" {
            let kind = if kind.is_empty() { "no" } else { kind.as_str() };
            out.notes.push(format!(
                "line {line}: `{name}` has a {kind} source, not a registry; skipped"
            ));
            continue;
        }
        let Some(version) = version else {
            out.entries
                .push(Err(format!("line {line}: `{name}` has no version")));
            continue;
        };
        let sha256 = p
            .get("sdist")
            .and_then(|s| s.get("hash"))
            .and_then(|h| h.as_str())
            .and_then(|h| h.strip_prefix("sha256:"))
            .map(|h| vec![h.to_ascii_lowercase()])
            .unwrap_or_default();
        out.entries.push(Ok(Pinned {
            spec: Spec {
                ecosystem: Ecosystem::Pypi,
                name: name.to_string(),
                version: VersionReq::Exact(version.to_string()),
                hashes: Vec::new(),
                origin: None,
            },
            line,
            sha256,
        }));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(r: &Result<Spec, String>) -> (String, String) {
        match r {
            Ok(Spec {
                name,
                version: VersionReq::Exact(v),
                ..
            }) => (name.clone(), v.clone()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn requirements_pins_options_and_errors() {
        let text = "# top\n-r base.txt\n--index-url https://x/simple\nrequests==2.32.3 \\\n    --hash=sha256:AB \\\n    --hash=sha256:cd\n\
            Click[extra] == 8.1.7 ; python_version >= '3.8'  # cli\nflask>=2\n-e ./local\npkg @ https://x/pkg.tar.gz\nurllib3===2.2.2\nsix\n";
        let p = parse_requirements_full(text);
        let specs = p.specs();
        assert_eq!(specs.len(), 5, "{specs:?}");
        assert_eq!(exact(&specs[0]), ("requests".into(), "2.32.3".into()));
        assert_eq!(p.entries[0].as_ref().unwrap().sha256, ["ab", "cd"]);
        assert_eq!(p.entries[0].as_ref().unwrap().line, 4);
        assert_eq!(exact(&specs[1]), ("Click".into(), "8.1.7".into()));
        assert!(specs[2].as_ref().unwrap_err().starts_with("line 8:"));
        assert_eq!(exact(&specs[3]), ("urllib3".into(), "2.2.2".into()));
        assert!(specs[4].as_ref().unwrap_err().contains("line 12"));
        assert_eq!(p.notes.len(), 4, "{:?}", p.notes);
        assert_eq!(parse_requirements(text).len(), 5);
    }

    #[test]
    fn uv_lock_registry_packages_only() {
        let text = r#"version = 1
requires-python = ">=3.12"

[[package]]
name = "anyio"
version = "4.4.0"
source = { registry = "https://pypi.org/simple" }
sdist = { url = "https://files/anyio-4.4.0.tar.gz", hash = "sha256:5AA", size = 1 }

[[package]]
name = "me"
version = "0.1.0"
source = { editable = "." }

[[package]]
name = "dep"
version = "1.0"
source = { git = "https://github.com/a/dep?rev=v1#abc" }
"#;
        let p = parse_uv_lock(text).unwrap();
        assert_eq!(p.entries.len(), 1);
        let a = p.entries[0].as_ref().unwrap();
        assert_eq!(exact(&Ok(a.spec.clone())), ("anyio".into(), "4.4.0".into()));
        assert_eq!(a.sha256, ["5aa"]);
        assert_eq!(a.line, 4);
        assert_eq!(p.notes.len(), 2);
        assert!(p.notes[1].contains("git source"));
        assert!(parse_uv_lock("[[package]\n").is_err());
    }
}

//! The SARIF 2.1.0 renderer, for GitHub code scanning and other SARIF viewers: one run whose
//! driver lists a rule per finding code, and one result per finding. A result points at the
//! lockfile line the package came from when there is one (an alert lands on the project's own
//! file), else at the file's path inside the package (`crates/serde/1.0.210/src/lib.rs`).
//! `partialFingerprints` hash what identifies a finding (package, code, path), never the
//! message, so a re-run does not duplicate alerts.

use std::io::Write;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::diff::first_changed_line;
use super::model::{PackageResult, Report};
use crate::finding::{Code, Finding, Severity};

const SCHEMA: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";
const INFORMATION_URI: &str = "https://provero.dev";

/// SARIF's three levels: a red flag is an error; what could not be established and warnings
/// are warnings; info is a note.
pub fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::RedFlag => "error",
        Severity::Warning | Severity::Unverifiable => "warning",
        Severity::Info => "note",
    }
}

/// `content-differs` -> `ContentDiffers` (SARIF's `rule.name` is an identifier).
fn rule_name(code: Code) -> String {
    code.as_str()
        .split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn rule(code: Code) -> Value {
    let sev = code.severity();
    let what_to_do = match sev {
        Severity::RedFlag => "The published package holds content its claimed source does not: read the diff or the file before trusting this version.",
        Severity::Warning => "Not a red flag on its own; worth a look when it is unexpected.",
        Severity::Unverifiable => "Provenance could not be established: the package is neither confirmed nor refuted.",
        Severity::Info => "For information: how provero reached its verdict.",
    };
    let mut properties = json!({
        "severity": sev.as_str(),
        "tags": ["supply-chain", "provenance", sev.as_str()],
    });
    if sev == Severity::RedFlag {
        // GitHub ranks security alerts by this (7.0-8.9 is "high").
        properties["security-severity"] = json!("8.0");
    }
    json!({
        "id": code.as_str(),
        "name": rule_name(code),
        "shortDescription": { "text": code.meaning() },
        "fullDescription": { "text": format!("{} (severity: {}).", code.meaning(), sev.as_str()) },
        "help": {
            "text": format!("{}. {what_to_do}", code.meaning()),
            "markdown": format!("**{}** ({}): {}.\n\n{what_to_do}", code.as_str(), sev.as_str(), code.meaning()),
        },
        "defaultConfiguration": { "level": level(sev) },
        "properties": properties,
    })
}

/// Percent-encode what may not stand in a URI path (package names and paths are mostly plain).
fn uri_path(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' | b'+' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A lockfile path as given on the command line, as a URI reference: relative paths stay
/// relative to the working directory (the repository root in CI).
fn lockfile_uri(path: &str) -> String {
    let p = path.replace('\\', "/");
    let p = p.trim_start_matches("./");
    if p.starts_with('/') {
        format!("file://{}", uri_path(p))
    } else {
        uri_path(p)
    }
}

/// Where a finding is inside the package: `<ecosystem>/<name>/<version>[/<path>]`.
fn artifact_location(r: &PackageResult, f: &Finding) -> Value {
    let p = &r.package;
    let mut uri = format!(
        "{}/{}/{}",
        p.ecosystem.as_str(),
        uri_path(&p.name),
        uri_path(&p.version)
    );
    if let Some(path) = &f.path {
        uri.push('/');
        uri.push_str(&uri_path(path.trim_start_matches('/')));
    }
    // Every location has a region (code scanning wants a line): the first changed line when
    // there is a diff, else the top of the file.
    let line = f.diff.as_deref().and_then(first_changed_line).unwrap_or(1);
    json!({ "physicalLocation": {
        "artifactLocation": { "uri": uri },
        "region": { "startLine": line.max(1) },
    } })
}

/// Stable across runs: the package, the code and the path, not the message (which names
/// commits and counts that may change).
fn fingerprint(r: &PackageResult, f: &Finding) -> String {
    let mut h = Sha256::new();
    h.update(r.package.to_string().as_bytes());
    h.update([0]);
    h.update(f.code.as_str().as_bytes());
    h.update([0]);
    h.update(f.path.as_deref().unwrap_or("").as_bytes());
    hex::encode(&h.finalize()[..16])
}

fn result(r: &PackageResult, f: &Finding) -> Value {
    let rule_index = Code::ALL.iter().position(|c| *c == f.code).unwrap_or(0);
    let path = f
        .path
        .as_deref()
        .map(|p| format!(" `{p}`"))
        .unwrap_or_default();
    let text = format!("{}{path}: {}", r.package, f.message);
    let (locations, related) = match &r.lockfile {
        Some(l) => (
            json!([{
                "physicalLocation": {
                    "artifactLocation": { "uri": lockfile_uri(&l.path) },
                    "region": { "startLine": l.line.max(1) },
                },
                "message": { "text": format!("{} is locked here", r.package) },
            }]),
            Some({
                let mut a = artifact_location(r, f);
                a["id"] = json!(1);
                a["message"] = json!({ "text": "where it is inside the published package" });
                json!([a])
            }),
        ),
        None => (json!([artifact_location(r, f)]), None),
    };
    let mut properties = json!({
        "package": r.package.to_string(),
        "verdict": r.verdict.as_str(),
        "severity": f.severity.as_str(),
    });
    if let Some(rule) = &f.rule {
        properties["rule"] = json!(rule);
    }
    if let Some(repo) = &r.source.repository {
        properties["repository"] = json!(repo);
    }
    if let Some(commit) = &r.source.commit {
        properties["commit"] = json!(commit);
    }
    if let Some(from) = r.source.commit_from {
        properties["commit_from"] = json!(from.as_str());
    }
    if !r.attestations.is_empty() {
        properties["attestations"] = json!(r.attestations);
    }
    // Rebuild mode: which comparison raised it, and what rebuilt the package.
    if let Some(m) = f.mode {
        properties["mode"] = json!(m.as_str());
    }
    if let Some(rb) = &r.rebuild {
        properties["packager"] = json!(format!("{} {}", rb.packager, rb.packager_version).trim());
    }
    let mut out = json!({
        "ruleId": f.code.as_str(),
        "ruleIndex": rule_index,
        "level": level(f.severity),
        "message": { "text": text },
        "locations": locations,
        "partialFingerprints": { "proveroFinding/v1": fingerprint(r, f) },
        "properties": properties,
    });
    if let Some(rel) = related {
        out["relatedLocations"] = rel;
    }
    // An accepted finding (`--allow`) is reported as suppressed, with the entry's reason.
    if let Some(a) = &f.allowed {
        out["suppressions"] = json!([{
            "kind": "external",
            "status": "accepted",
            "justification": a.reason,
        }]);
    }
    out
}

/// The report as a SARIF 2.1.0 log.
pub fn sarif(report: &Report) -> std::io::Result<String> {
    let mut out = Vec::new();
    write_sarif(report, &mut out)?;
    Ok(String::from_utf8(out).expect("serde_json writes UTF-8"))
}

/// Where the streamed arrays go in the log: JSON strings no result can hold.
const NOTIFICATIONS: &str = "\u{1}provero: notifications\u{1}";
const RESULTS: &str = "\u{1}provero: results\u{1}";

/// The report as a SARIF 2.1.0 log into `w`: the log without its two long arrays (results,
/// and the notifications that carry each package's error) is made whole, and those arrays are
/// written into it as the results are read.
pub fn write_sarif(report: &Report, w: &mut dyn Write) -> std::io::Result<()> {
    let rules: Vec<Value> = Code::ALL.iter().map(|c| rule(*c)).collect();
    let mut invocation = json!({
        "executionSuccessful": report.summary.errors == 0,
        "toolExecutionNotifications": NOTIFICATIONS,
    });
    if let Some(run) = &report.run {
        invocation["startTimeUtc"] = json!(run.started_at);
        invocation["endTimeUtc"] = json!(run.finished_at);
    }
    let log = json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "provero",
                "version": report.run.as_ref().map(|r| r.provero_version.as_str()).unwrap_or(env!("CARGO_PKG_VERSION")),
                "semanticVersion": env!("CARGO_PKG_VERSION"),
                "informationUri": INFORMATION_URI,
                "rules": rules,
            }},
            "invocations": [invocation],
            "columnKind": "unicodeCodePoints",
            "results": RESULTS,
        }],
    });
    let text = serde_json::to_string_pretty(&log)? + "\n";
    let mut rest = text.as_str();
    for (mark, which) in [(NOTIFICATIONS, 0), (RESULTS, 1)] {
        let quoted = serde_json::to_string(mark)?;
        let at = rest.find(&quoted).expect("the mark is in the log");
        let (head, tail) = rest.split_at(at);
        w.write_all(head.as_bytes())?;
        // The array's elements are one level deeper than the line holding its key.
        let line = &head[head.rfind('\n').map_or(0, |n| n + 1)..];
        let indent = line.len() - line.trim_start().len();
        let mut items = Array::new(w, indent);
        if which == 0 {
            for e in &report.errors {
                items.item(&json!({ "level": "error", "message": { "text": e.message } }))?;
            }
            for r in report.each() {
                let r = r?;
                if let Some(e) = &r.error {
                    let text = format!("{}: {e}", r.package);
                    items.item(&json!({ "level": "error", "message": { "text": text } }))?;
                }
            }
        } else {
            for r in report.each() {
                let r = r?;
                for f in &r.findings {
                    items.item(&result(&r, f))?;
                }
            }
        }
        items.end()?;
        rest = &tail[quoted.len()..];
    }
    w.write_all(rest.as_bytes())
}

/// A pretty-printed JSON array written an element at a time, indented as
/// `serde_json::to_string_pretty` indents it `indent` spaces deep.
struct Array<'a> {
    w: &'a mut dyn Write,
    indent: usize,
    any: bool,
}

impl<'a> Array<'a> {
    fn new(w: &'a mut dyn Write, indent: usize) -> Array<'a> {
        Array {
            w,
            indent,
            any: false,
        }
    }

    fn item(&mut self, v: &Value) -> std::io::Result<()> {
        let pad = " ".repeat(self.indent + 2);
        self.w.write_all(if self.any { b",\n" } else { b"[\n" })?;
        self.any = true;
        // JSON strings carry no raw newline, so every newline is between tokens.
        let body = serde_json::to_string_pretty(v)?.replace('\n', &format!("\n{pad}"));
        write!(self.w, "{pad}{body}")
    }

    fn end(self) -> std::io::Result<()> {
        if self.any {
            write!(self.w, "\n{}]", " ".repeat(self.indent))
        } else {
            self.w.write_all(b"[]")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_names_and_uris() {
        assert_eq!(rule_name(Code::ContentDiffers), "ContentDiffers");
        assert_eq!(uri_path("a b/ü.rs"), "a%20b/%C3%BC.rs");
        assert_eq!(lockfile_uri("./Cargo.lock"), "Cargo.lock");
        assert_eq!(
            lockfile_uri("/w/x y/Cargo.lock"),
            "file:///w/x%20y/Cargo.lock"
        );
    }

    #[test]
    fn levels() {
        assert_eq!(level(Severity::RedFlag), "error");
        assert_eq!(level(Severity::Warning), "warning");
        assert_eq!(level(Severity::Info), "note");
    }
}

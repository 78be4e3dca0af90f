//! The report: one result per package, a summary, and the renderers (human, JSON, Markdown).
//! Field names here are the public JSON contract (see `schema/report.schema.json`).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::compare::Excused;
use crate::ecosystem::Ecosystem;
use crate::finding::{Finding, Severity, Verdict};

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PackageId {
    pub ecosystem: Ecosystem,
    pub name: String,
    pub version: String,
}

impl std::fmt::Display for PackageId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.version.is_empty() {
            write!(f, "{}:{}", self.ecosystem, self.name)
        } else {
            write!(f, "{}:{}@{}", self.ecosystem, self.name, self.version)
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceInfo {
    pub repository: Option<String>,
    pub commit: Option<String>,
    pub path_in_repo: Option<String>,
    /// The tag the commit came from, or that marks the version.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub tag: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactInfo {
    pub url: Option<String>,
    /// SHA-256 of what was downloaded.
    pub sha256: Option<String>,
    /// SHA-256 the registry published.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub expected_sha256: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub files: usize,
    pub identical: usize,
    pub excused: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageResult {
    pub package: PackageId,
    pub verdict: Verdict,
    pub findings: Vec<Finding>,
    pub source: SourceInfo,
    pub artifact: ArtifactInfo,
    /// Files that differ from source in a way a named rule expects.
    #[serde(default)]
    pub excused: Vec<Excused>,
    #[serde(default)]
    pub stats: Stats,
    /// Set when the package could not be checked because of an error (a version the registry
    /// does not have, a download or tool failure): such a run exits 2.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
    #[serde(default)]
    pub duration_ms: u64,
    /// What the artifact was compared with; absent in the JSON for diff mode.
    #[serde(default, skip_serializing_if = "is_diff")]
    pub mode: crate::rebuild::Mode,
    /// Rebuild mode: packager, its version, stabilizers applied, `bit_for_bit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rebuild: Option<crate::rebuild::RebuildInfo>,
}

fn is_diff(m: &crate::rebuild::Mode) -> bool {
    *m == crate::rebuild::Mode::Diff
}

impl PackageResult {
    /// A result not judged yet: nothing found, nothing known beyond the package asked for.
    pub fn pending(ecosystem: Ecosystem, name: &str, version: Option<&str>) -> PackageResult {
        PackageResult {
            package: PackageId {
                ecosystem,
                name: name.to_string(),
                version: version.unwrap_or_default().to_string(),
            },
            verdict: Verdict::Unverifiable,
            findings: Vec::new(),
            source: SourceInfo::default(),
            artifact: ArtifactInfo::default(),
            excused: Vec::new(),
            stats: Stats::default(),
            error: None,
            duration_ms: 0,
            mode: crate::rebuild::Mode::Diff,
            rebuild: None,
        }
    }

    pub fn red_flags(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::RedFlag)
    }
}

/// An input that never became a package (a bad spec, an unreadable list line).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputError {
    pub input: String,
    pub message: String,
}

/// An input deliberately not checked (a lockfile's git or path dependency): not an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedInput {
    pub input: String,
    pub reason: String,
}

/// How long one package took, for the "slowest packages" part of a stored report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timing {
    pub package: PackageId,
    pub duration_ms: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub packages: usize,
    pub verified: usize,
    pub mismatch: usize,
    pub unverifiable: usize,
    /// Packages and inputs that ended in an error.
    pub errors: usize,
    /// Packages skipped because the store already had a verdict for the same artifact.
    #[serde(default)]
    pub skipped: usize,
    /// Inputs not checked on purpose (a lockfile's git and path dependencies).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub skipped_inputs: usize,
    pub by_code: BTreeMap<String, usize>,
    pub by_ecosystem: BTreeMap<String, BTreeMap<String, usize>>,
    /// The slowest packages, longest first (filled by `provero report`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slowest: Vec<Timing>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub results: Vec<PackageResult>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<InputError>,
    /// Inputs not checked on purpose, with the reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped_inputs: Vec<SkippedInput>,
    pub summary: Summary,
}

impl Summary {
    pub fn of(results: &[PackageResult], input_errors: usize) -> Summary {
        let mut s = Summary {
            packages: results.len(),
            errors: input_errors,
            ..Default::default()
        };
        for r in results {
            match r.verdict {
                Verdict::Verified => s.verified += 1,
                Verdict::Mismatch => s.mismatch += 1,
                Verdict::Unverifiable => s.unverifiable += 1,
            }
            if r.error.is_some() {
                s.errors += 1;
            }
            for f in &r.findings {
                *s.by_code.entry(f.code.as_str().to_string()).or_default() += 1;
            }
            *s.by_ecosystem
                .entry(r.package.ecosystem.as_str().to_string())
                .or_default()
                .entry(r.verdict.as_str().to_string())
                .or_default() += 1;
        }
        s
    }
}

impl Report {
    pub fn new(results: Vec<PackageResult>, errors: Vec<InputError>) -> Report {
        let summary = Summary::of(&results, errors.len());
        Report {
            results,
            errors,
            skipped_inputs: Vec::new(),
            summary,
        }
    }

    /// Record inputs that were not checked on purpose.
    pub fn with_skipped_inputs(mut self, skipped: Vec<SkippedInput>) -> Report {
        self.summary.skipped_inputs = skipped.len();
        self.skipped_inputs = skipped;
        self
    }

    /// Fill `summary.slowest` with the `n` slowest packages.
    pub fn with_slowest(mut self, n: usize) -> Report {
        let mut t: Vec<Timing> = self
            .results
            .iter()
            .map(|r| Timing {
                package: r.package.clone(),
                duration_ms: r.duration_ms,
            })
            .collect();
        t.sort_by(|a, b| {
            b.duration_ms
                .cmp(&a.duration_ms)
                .then(a.package.cmp(&b.package))
        });
        t.truncate(n);
        self.summary.slowest = t;
        self
    }

    /// 1 when any package has a red flag; else 2 when anything was an error; else 0.
    pub fn exit_code(&self) -> i32 {
        exit_code(&self.summary)
    }
}

pub fn exit_code(s: &Summary) -> i32 {
    if s.mismatch > 0 {
        1
    } else if s.errors > 0 {
        2
    } else {
        0
    }
}

/// How to draw the human output.
#[derive(Debug, Clone, Copy, Default)]
pub struct Style {
    pub color: bool,
    /// Show unified diffs under `content-differs`.
    pub diff: bool,
}

fn paint(on: bool, code: &str, text: &str) -> String {
    if on {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

/// One package, as a person reads it: a verdict line, findings beneath.
pub fn human_result(r: &PackageResult, style: Style) -> String {
    let mut out = String::new();
    let (label, color) = match r.verdict {
        Verdict::Verified => ("verified", "32"),
        Verdict::Mismatch => ("MISMATCH", "1;31"),
        Verdict::Unverifiable => ("unverifiable", "33"),
    };
    let mut line = format!(
        "{} {}",
        paint(style.color, color, &format!("{label:<12}")),
        r.package
    );
    if let Some(repo) = &r.source.repository {
        let _ = write!(line, "  {repo}");
        if let Some(c) = &r.source.commit {
            let _ = write!(line, " @ {}", &c[..c.len().min(12)]);
        }
        if let Some(p) = r.source.path_in_repo.as_deref().filter(|p| !p.is_empty()) {
            let _ = write!(line, " ({p}/)");
        }
    }
    if r.stats.files > 0 && r.mode == crate::rebuild::Mode::Rebuild {
        let _ = write!(
            line,
            "  [{} files: {} identical to the rebuild, {} stabilized]",
            r.stats.files, r.stats.identical, r.stats.excused
        );
    } else if r.stats.files > 0 {
        let _ = write!(
            line,
            "  [{} files: {} identical, {} excused by rules]",
            r.stats.files, r.stats.identical, r.stats.excused
        );
    }
    out.push_str(&line);
    out.push('\n');
    if let Some(rb) = &r.rebuild {
        out.push_str(&crate::rebuild::human_line(rb));
    }
    if let Some(e) = r
        .error
        .as_ref()
        .filter(|e| !r.findings.iter().any(|f| f.message.contains(e.as_str())))
    {
        let _ = writeln!(out, "    {} {e}", paint(style.color, "31", "error:"));
    }
    let mut findings: Vec<&Finding> = r.findings.iter().collect();
    findings.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.path.cmp(&b.path)));
    for f in findings {
        let sev_color = match f.severity {
            Severity::RedFlag => "31",
            Severity::Warning => "33",
            Severity::Unverifiable => "35",
            Severity::Info => "36",
        };
        let sev = paint(
            style.color,
            sev_color,
            &format!("{:<12}", f.severity.as_str()),
        );
        let path = f
            .path
            .as_deref()
            .map(|p| format!("{p}: "))
            .unwrap_or_default();
        let mode = f
            .mode
            .map(|m| format!("[{}] ", m.as_str()))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "    {sev} {:<22} {mode}{path}{}",
            f.code.as_str(),
            f.message
        );
        if style.diff {
            if let Some(d) = &f.diff {
                for l in d.lines() {
                    let l2 = if l.starts_with('+') && !l.starts_with("+++") {
                        paint(style.color, "32", l)
                    } else if l.starts_with('-') && !l.starts_with("---") {
                        paint(style.color, "31", l)
                    } else {
                        l.to_string()
                    };
                    let _ = writeln!(out, "        {l2}");
                }
            }
        }
    }
    out
}

/// The closing summary line(s).
pub fn human_summary(s: &Summary) -> String {
    let mut out = format!(
        "{} package(s): {} verified, {} mismatch, {} unverifiable",
        s.packages, s.verified, s.mismatch, s.unverifiable
    );
    if s.skipped > 0 {
        let _ = write!(out, " ({} already decided, skipped)", s.skipped);
    }
    if s.skipped_inputs > 0 {
        let _ = write!(
            out,
            "; {} input(s) not from a registry, skipped",
            s.skipped_inputs
        );
    }
    if s.errors > 0 {
        let _ = write!(out, "; {} error(s)", s.errors);
    }
    if !s.by_code.is_empty() {
        let codes: Vec<String> = s.by_code.iter().map(|(c, n)| format!("{c} {n}")).collect();
        let _ = write!(out, "\nfindings: {}", codes.join(", "));
    }
    if s.by_ecosystem.len() > 1 || !s.slowest.is_empty() {
        for (eco, counts) in &s.by_ecosystem {
            let c: Vec<String> = counts.iter().map(|(v, n)| format!("{v} {n}")).collect();
            let _ = write!(out, "\n{eco}: {}", c.join(", "));
        }
    }
    if !s.slowest.is_empty() {
        let t: Vec<String> = s
            .slowest
            .iter()
            .map(|t| format!("{} {:.1}s", t.package, t.duration_ms as f64 / 1000.0))
            .collect();
        let _ = write!(out, "\nslowest: {}", t.join(", "));
    }
    out.push('\n');
    out
}

/// A Markdown report (for issues, dashboards and CI summaries).
pub fn markdown(report: &Report) -> String {
    let s = &report.summary;
    let mut out = String::from("# provero report\n\n");
    let _ = writeln!(
        out,
        "| packages | verified | mismatch | unverifiable | errors |"
    );
    let _ = writeln!(out, "|---:|---:|---:|---:|---:|");
    let _ = writeln!(
        out,
        "| {} | {} | {} | {} | {} |\n",
        s.packages, s.verified, s.mismatch, s.unverifiable, s.errors
    );
    if !s.by_code.is_empty() {
        let _ = writeln!(out, "## Findings by code\n\n| code | count |\n|---|---:|");
        for (c, n) in &s.by_code {
            let _ = writeln!(out, "| `{c}` | {n} |");
        }
        out.push('\n');
    }
    if s.by_ecosystem.len() > 1 || !s.slowest.is_empty() {
        let _ = writeln!(
            out,
            "## By ecosystem\n\n| ecosystem | verdict | count |\n|---|---|---:|"
        );
        for (eco, counts) in &s.by_ecosystem {
            for (v, n) in counts {
                let _ = writeln!(out, "| {eco} | {v} | {n} |");
            }
        }
        out.push('\n');
    }
    if !s.slowest.is_empty() {
        let _ = writeln!(
            out,
            "## Slowest packages\n\n| package | seconds |\n|---|---:|"
        );
        for t in &s.slowest {
            let _ = writeln!(
                out,
                "| `{}` | {:.1} |",
                t.package,
                t.duration_ms as f64 / 1000.0
            );
        }
        out.push('\n');
    }
    if !report.skipped_inputs.is_empty() {
        let _ = writeln!(out, "## Not checked\n");
        for i in &report.skipped_inputs {
            let _ = writeln!(out, "- `{}`: {}", i.input, i.reason);
        }
        out.push('\n');
    }
    let not_verified: Vec<&PackageResult> = report
        .results
        .iter()
        .filter(|r| r.verdict != Verdict::Verified)
        .collect();
    if !not_verified.is_empty() {
        let _ = writeln!(out, "## Not verified\n");
        for r in not_verified {
            let _ = writeln!(out, "### `{}` — {}\n", r.package, r.verdict.as_str());
            for f in r
                .findings
                .iter()
                .filter(|f| f.severity >= Severity::Warning)
            {
                let path = f
                    .path
                    .as_deref()
                    .map(|p| format!(" `{p}`"))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "- **{}** `{}`{path}: {}",
                    f.severity.as_str(),
                    f.code.as_str(),
                    f.message
                );
            }
            out.push('\n');
        }
    }
    out
}

//! The Markdown renderer: for issues, dashboards and CI job summaries.

use std::fmt::Write as _;

use super::model::{PackageResult, Report};
use crate::finding::{Severity, Verdict};

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
                .filter(|f| f.severity >= Severity::Warning && f.allowed.is_none())
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
    let allowed: Vec<(&PackageResult, &crate::finding::Finding)> = report
        .results
        .iter()
        .flat_map(|r| r.findings.iter().map(move |f| (r, f)))
        .filter(|(_, f)| f.allowed.is_some())
        .collect();
    if !allowed.is_empty() {
        let _ = writeln!(
            out,
            "## Allowed findings\n\n| package | code | path | reason |\n|---|---|---|---|"
        );
        for (r, f) in allowed {
            let reason = f.allowed.as_ref().map(|a| a.reason.as_str()).unwrap_or("");
            let _ = writeln!(
                out,
                "| `{}` | `{}` | {} | {} |",
                r.package,
                f.code.as_str(),
                f.path
                    .as_deref()
                    .map(|p| format!("`{p}`"))
                    .unwrap_or_default(),
                reason.replace('|', "\\|")
            );
        }
        out.push('\n');
    }
    if !report.warnings.is_empty() {
        let _ = writeln!(out, "## Warnings\n");
        for w in &report.warnings {
            let _ = writeln!(out, "- {w}");
        }
        out.push('\n');
    }
    out
}

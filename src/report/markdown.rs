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

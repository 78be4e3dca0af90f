//! The Markdown renderer: for issues, dashboards and CI job summaries. The run's metadata,
//! the summary, input errors, and every package that is not verified with its findings and
//! the start of each diff.

use std::fmt::Write as _;

use super::model::{Report, RunInfo};
use crate::finding::{Severity, Verdict};

/// A Markdown report (for issues, dashboards and CI summaries).
pub fn markdown(report: &Report) -> std::io::Result<String> {
    let mut out = Vec::new();
    write_markdown(report, &mut out)?;
    Ok(String::from_utf8(out).expect("Markdown is UTF-8"))
}

/// The Markdown report into `w`, written a package at a time as results are read.
pub fn write_markdown(report: &Report, w: &mut dyn std::io::Write) -> std::io::Result<()> {
    let s = &report.summary;
    let mut out = String::from("# provero report\n\n");
    if let Some(run) = &report.run {
        run_info(&mut out, run);
    }
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
    if !s.red_flags.is_empty() {
        let _ = writeln!(
            out,
            "## Red flags by evidence\n\n| content of the red-flagged file | files |\n|---|---:|"
        );
        let _ = writeln!(
            out,
            "| in no commit of the repository | {} |",
            s.red_flags.in_no_commit
        );
        let _ = writeln!(
            out,
            "| from another commit | {} |\n",
            s.red_flags.from_another_commit
        );
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
    if !report.errors.is_empty() {
        let _ = writeln!(out, "## Input errors\n");
        for e in &report.errors {
            let _ = writeln!(out, "- `{}`: {}", e.input, e.message);
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
    let mut header = Some("## Not verified\n");
    for r in report.each() {
        let r = r?;
        if r.verdict == Verdict::Verified {
            continue;
        }
        if let Some(h) = header.take() {
            let _ = writeln!(out, "{h}");
        }
        {
            let _ = writeln!(out, "### `{}` — {}\n", r.package, r.verdict.as_str());
            if let Some(repo) = &r.source.repository {
                match (r.source.commit.as_deref(), r.source.commit_from) {
                    (Some(c), Some(from)) => writeln!(
                        out,
                        "source: {repo} @ `{c}` (commit from {})\n",
                        from.as_str()
                    ),
                    (Some(c), None) => writeln!(out, "source: {repo} @ `{c}`\n"),
                    (None, _) => writeln!(out, "source: {repo} (no commit)\n"),
                }
                .ok();
            }
            for a in &r.attestations {
                let _ = writeln!(out, "- attestation: {}", a.summary());
            }
            if !r.attestations.is_empty() {
                out.push('\n');
            }
            if let Some(rb) = &r.rebuild {
                let line = crate::rebuild::human_line(rb);
                if !line.trim().is_empty() {
                    let _ = writeln!(out, "{}\n", line.trim());
                }
            }
            if let Some(e) = r
                .error
                .as_ref()
                .filter(|e| !r.findings.iter().any(|f| f.message.contains(e.as_str())))
            {
                let _ = writeln!(out, "- **error**: {e}");
            }
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
                let mode = f
                    .mode
                    .map(|m| format!(" [{}]", m.as_str()))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "- **{}** `{}`{mode}{path}: {}",
                    f.severity.as_str(),
                    f.code.as_str(),
                    f.message
                );
                if let Some(d) = &f.diff {
                    diff_block(&mut out, d);
                }
            }
            out.push('\n');
        }
        w.write_all(out.as_bytes())?;
        out.clear();
    }
    let mut header =
        Some("## Allowed findings\n\n| package | code | path | reason |\n|---|---|---|---|");
    for r in report.each() {
        let r = r?;
        for f in r.findings.iter().filter(|f| f.allowed.is_some()) {
            if let Some(h) = header.take() {
                let _ = writeln!(out, "{h}");
            }
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
        w.write_all(out.as_bytes())?;
        out.clear();
    }
    if header.is_none() {
        out.push('\n');
    }
    if !report.warnings.is_empty() {
        let _ = writeln!(out, "## Warnings\n");
        for warning in &report.warnings {
            let _ = writeln!(out, "- {warning}");
        }
        out.push('\n');
    }
    w.write_all(out.as_bytes())
}

/// When, which provero, and the settings that shaped the verdicts.
fn run_info(out: &mut String, run: &RunInfo) {
    let st = &run.settings;
    let _ = writeln!(
        out,
        "provero {}, {} to {}, mode `{}`",
        run.provero_version, run.started_at, run.finished_at, st.mode
    );
    for (eco, url) in &st.registries {
        let _ = writeln!(out, "- registry {eco}: {url}");
    }
    for r in &st.rewrites {
        let _ = writeln!(out, "- rewrite `{r}`");
    }
    if let Some(a) = &st.pypi_artifact {
        let _ = writeln!(out, "- PyPI artifact: {a}");
    }
    out.push('\n');
}

/// A Markdown issue or job summary shows the start of a diff; the JSON and HTML reports carry
/// all of it.
const MAX_DIFF_LINES: usize = 60;

fn diff_block(out: &mut String, diff: &str) {
    // A fence longer than any run of backticks inside, so the diff cannot close it.
    let longest = diff
        .lines()
        .map(|l| l.chars().take_while(|c| *c == '`').count())
        .max()
        .unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    let lines: Vec<&str> = diff.lines().collect();
    let _ = writeln!(out, "\n  {fence}diff");
    for l in lines.iter().take(MAX_DIFF_LINES) {
        let _ = writeln!(out, "  {l}");
    }
    if lines.len() > MAX_DIFF_LINES {
        let _ = writeln!(
            out,
            "  ... ({} more diff lines)",
            lines.len() - MAX_DIFF_LINES
        );
    }
    let _ = writeln!(out, "  {fence}\n");
}

//! The human renderer: one verdict line per package with its findings beneath (streamed while a
//! run goes on), and the closing summary.

use std::fmt::Write as _;

use super::model::{PackageResult, Summary};
use crate::finding::{Finding, Severity, Verdict};

/// A terminal shows the start of a diff; the JSON and HTML reports carry all of it.
const MAX_DIFF_LINES: usize = 60;

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
            if let Some(from) = r.source.commit_from {
                let _ = write!(line, " (from {})", from.as_str());
            }
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
    for a in &r.attestations {
        let _ = writeln!(out, "    {:<12} {}", "attestation", a.summary());
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
        // An accepted finding is shown as such, with the reason, instead of its severity.
        let (sev_color, label) = match &f.allowed {
            Some(_) => ("2", "allowed"),
            None => (sev_color, f.severity.as_str()),
        };
        let sev = paint(style.color, sev_color, &format!("{label:<12}"));
        let path = f
            .path
            .as_deref()
            .map(|p| format!("{p}: "))
            .unwrap_or_default();
        let mode = f
            .mode
            .map(|m| format!("[{}] ", m.as_str()))
            .unwrap_or_default();
        let why = f
            .allowed
            .as_ref()
            .map(|a| format!(" (allowed: {})", a.reason))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "    {sev} {:<22} {mode}{path}{}{why}",
            f.code.as_str(),
            f.message
        );
        if style.diff {
            if let Some(d) = &f.diff {
                let lines: Vec<&str> = d.lines().collect();
                for l in lines.iter().take(MAX_DIFF_LINES) {
                    let l = *l;
                    let l2 = if l.starts_with('+') && !l.starts_with("+++") {
                        paint(style.color, "32", l)
                    } else if l.starts_with('-') && !l.starts_with("---") {
                        paint(style.color, "31", l)
                    } else {
                        l.to_string()
                    };
                    let _ = writeln!(out, "        {l2}");
                }
                if lines.len() > MAX_DIFF_LINES {
                    let _ = writeln!(
                        out,
                        "        ... ({} more diff lines)",
                        lines.len() - MAX_DIFF_LINES
                    );
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
    if s.allowed > 0 {
        let _ = write!(out, "; {} finding(s) allowed", s.allowed);
    }
    if s.errors > 0 {
        let _ = write!(out, "; {} error(s)", s.errors);
    }
    if !s.by_code.is_empty() {
        let codes: Vec<String> = s.by_code.iter().map(|(c, n)| format!("{c} {n}")).collect();
        let _ = write!(out, "\nfindings: {}", codes.join(", "));
    }
    if !s.red_flags.is_empty() {
        let _ = write!(
            out,
            "\nred flags: {} with content in no commit of the repository, {} with content from another commit",
            s.red_flags.in_no_commit, s.red_flags.from_another_commit
        );
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ecosystem::Ecosystem;
    use crate::finding::Code;

    #[test]
    fn a_long_diff_shows_its_start_and_says_how_much_is_left() {
        let mut r = PackageResult::pending(Ecosystem::Crates, "long", Some("1.0.0"));
        let mut f = Finding::at(Code::ContentDiffers, "a.txt", "differs");
        let body: String = (0..100).map(|i| format!("+line {i}\n")).collect();
        f.diff = Some(format!(
            "--- source/a.txt\n+++ artifact/a.txt\n@@ -0,0 +1,100 @@\n{body}"
        ));
        r.findings.push(f);
        let out = human_result(
            &r,
            Style {
                color: false,
                diff: true,
            },
        );
        assert!(out.contains("+line 56\n"), "{out}");
        assert!(!out.contains("+line 57\n"), "{out}");
        assert!(out.contains("... (43 more diff lines)"), "{out}");
    }
}

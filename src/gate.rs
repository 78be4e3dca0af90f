//! The CI gate: which outcome makes a run exit 1 (`--fail-on`). The levels are ordered like
//! finding severities, with errors on top: `warning` < `unverifiable` < `red-flag` < `error`;
//! a run fails (exit 1) when any package reaches the chosen level or a higher one. Errors (a
//! package that could not be checked, a bad input) always make the run exit non-zero: 2 when
//! nothing reached the gate. Allowed findings (`--allow`) never count.

use serde::{Deserialize, Serialize};

use crate::finding::{Severity, Verdict};
use crate::report::{PackageResult, Report};

#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum FailOn {
    /// A warning, an unverifiable package, or a red flag.
    Warning,
    /// An unverifiable package (or a run in which nothing was verified), or a red flag.
    Unverifiable,
    /// A red flag (the default).
    #[default]
    RedFlag,
    /// Only errors: findings never fail the run (report-only runs).
    Error,
}

impl FailOn {
    pub fn as_str(self) -> &'static str {
        match self {
            FailOn::Warning => "warning",
            FailOn::Unverifiable => "unverifiable",
            FailOn::RedFlag => "red-flag",
            FailOn::Error => "error",
        }
    }

    /// Does this package reach the gate?
    pub fn fails(self, r: &PackageResult) -> bool {
        match self {
            FailOn::Error => false,
            FailOn::RedFlag => r.verdict == Verdict::Mismatch,
            FailOn::Unverifiable => r.verdict != Verdict::Verified,
            FailOn::Warning => {
                r.verdict != Verdict::Verified
                    || r.findings
                        .iter()
                        .any(|f| f.allowed.is_none() && f.severity >= Severity::Warning)
            }
        }
    }
}

impl std::fmt::Display for FailOn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The run's exit code: 1 when any package reaches the gate (at `unverifiable` and below, also
/// when no package at all was verified, e.g. a lockfile of only git dependencies; at
/// `warning`, also a run-level warning such as an unused allow entry); else 2 when anything was
/// an error; else 0.
pub fn exit_code(report: &Report, fail_on: FailOn) -> i32 {
    let nothing_verified = report.summary.verified == 0;
    // A result that cannot be read back never lets a gate pass.
    let failed = report.each().any(|r| r.map_or(true, |r| fail_on.fails(&r)))
        || (fail_on <= FailOn::Unverifiable && nothing_verified)
        || (fail_on == FailOn::Warning && !report.warnings.is_empty());
    if failed {
        1
    } else if report.summary.errors > 0 {
        2
    } else {
        0
    }
}

/// Why the run fails, for the log: which packages reached the gate (or that nothing was
/// verified). `None` when the gate passes.
pub fn explain(report: &Report, fail_on: FailOn) -> Option<String> {
    if exit_code(report, fail_on) != 1 {
        return None;
    }
    // The first few packages by name, and how many there are.
    let mut hit: Vec<String> = Vec::new();
    let mut hits = 0;
    for r in report.each() {
        let name = match r {
            Ok(r) if fail_on.fails(&r) => r.package.to_string(),
            Ok(_) => continue,
            Err(e) => e.to_string(),
        };
        hits += 1;
        if hit.len() < 5 {
            hit.push(name);
        }
    }
    Some(
        if hit.is_empty() && !report.warnings.is_empty() && fail_on == FailOn::Warning {
            format!(
                "--fail-on {fail_on}: the run has {} warning(s)",
                report.warnings.len()
            )
        } else if hit.is_empty() {
            format!("--fail-on {fail_on}: no package was verified")
        } else {
            let shown = hit.join(", ");
            let more = if hits > 5 {
                format!(" and {} more", hits - 5)
            } else {
                String::new()
            };
            format!("--fail-on {fail_on}: {hits} package(s) reached it: {shown}{more}")
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ecosystem::Ecosystem;
    use crate::finding::{Allowed, Code, Finding};

    fn result(findings: Vec<Finding>) -> PackageResult {
        let mut r = PackageResult::pending(Ecosystem::Crates, "a", Some("1.0.0"));
        r.findings = findings;
        r.verdict = Verdict::judge(&r.findings);
        r
    }

    fn code(results: Vec<PackageResult>, fail_on: FailOn) -> i32 {
        exit_code(&Report::new(results, Vec::new()), fail_on)
    }

    #[test]
    fn each_level_fails_on_itself_and_above() {
        let clean = || result(vec![Finding::new(Code::CommitFromTag, "i")]);
        let warned = || result(vec![Finding::new(Code::Dirty, "w")]);
        let unverifiable = || result(vec![Finding::new(Code::NoRepository, "u")]);
        let red = || result(vec![Finding::at(Code::ContentDiffers, "a", "r")]);
        use FailOn::*;
        for (level, outcomes) in [
            (Warning, [0, 1, 1, 1]),
            (Unverifiable, [0, 0, 1, 1]),
            (RedFlag, [0, 0, 0, 1]),
            (Error, [0, 0, 0, 0]),
        ] {
            let got = [
                code(vec![clean()], level),
                code(vec![clean(), warned()], level),
                code(vec![clean(), unverifiable()], level),
                code(vec![clean(), red()], level),
            ];
            assert_eq!(got, outcomes, "--fail-on {level}");
        }
    }

    #[test]
    fn nothing_verified_fails_at_unverifiable() {
        assert_eq!(code(Vec::new(), FailOn::Unverifiable), 1);
        assert_eq!(code(Vec::new(), FailOn::RedFlag), 0);
        let empty = Report::new(Vec::new(), Vec::new());
        assert_eq!(
            explain(&empty, FailOn::Unverifiable).as_deref(),
            Some("--fail-on unverifiable: no package was verified")
        );
        assert_eq!(explain(&empty, FailOn::RedFlag), None);
    }

    #[test]
    fn allowed_findings_do_not_count() {
        let mut f = Finding::new(Code::Dirty, "w");
        f.allowed = Some(Allowed {
            reason: "known".into(),
            expires: None,
        });
        assert_eq!(code(vec![result(vec![f])], FailOn::Warning), 0);
    }
}

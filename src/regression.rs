//! The `regression` warning: earlier versions of a package verified (or carried a recorded
//! commit) and this version does not. A package that verified for twenty versions and not this
//! one is the strongest signal a registry team gets, so the report names those versions.
//!
//! It is judged against history (the results store and the other results of the run), never
//! stored: the store holds facts of each artifact, and history changes with every run.

use std::collections::{BTreeSet, HashMap};

use crate::ecosystem::Ecosystem;

use crate::finding::{Code, Finding, Verdict};
use crate::report::PackageResult;

/// Finding codes that say the commit was guessed (no commit recorded by the packager).
/// `exact-commit-elsewhere` always comes with one of these: it corrects a guess.
const GUESSED: [Code; 4] = [
    Code::CommitFromTag,
    Code::CommitFromManifest,
    Code::CommitBetweenTags,
    Code::NoCommit,
];

/// A result that is a decision about its artifact (not an error, not a transient failure).
fn decided(r: &PackageResult) -> bool {
    r.error.is_none() && crate::store::transient(r).is_none()
}

/// The packager recorded the commit (vcs info, a recorded scm version), as opposed to a commit
/// provero had to guess from tags or the manifest.
pub fn recorded_commit(r: &PackageResult) -> bool {
    r.source.commit.is_some() && !r.findings.iter().any(|f| GUESSED.contains(&f.code))
}

/// How many earlier versions a message names before "and N more".
const NAMED: usize = 50;

/// What a regression needs to know of another result of the same package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Past {
    pub version: String,
    /// Decided (no error, no transient failure) and verified.
    pub verified: bool,
    /// The packager recorded the commit ([`recorded_commit`]).
    pub recorded: bool,
}

impl Past {
    pub fn of(r: &PackageResult) -> Past {
        Past {
            version: r.package.version.clone(),
            verified: decided(r) && r.verdict == Verdict::Verified,
            recorded: recorded_commit(r),
        }
    }
}

/// Results grouped by package, as history.
pub type History = HashMap<(Ecosystem, String), Vec<Past>>;

/// Add `r` to `history`.
pub fn remember(history: &mut History, r: &PackageResult) {
    history
        .entry((r.package.ecosystem, r.package.name.clone()))
        .or_default()
        .push(Past::of(r));
}

/// Could `r` be a regression at all (not verified, or verified without a recorded commit)?
/// Only such results need history.
pub fn candidate(r: &PackageResult) -> bool {
    decided(r) && !(r.verdict == Verdict::Verified && recorded_commit(r))
}

/// The `regression` finding for `r` given other results of the same package (any order, any
/// versions; `r` itself and later versions are ignored). `None` when there is none.
pub fn finding<'a>(
    r: &PackageResult,
    history: impl IntoIterator<Item = &'a Past>,
) -> Option<Finding> {
    if !decided(r) {
        return None;
    }
    let handler = r.package.ecosystem.handler();
    let this = r.package.version.as_str();
    let lost_commit = r.verdict == Verdict::Verified && !recorded_commit(r);
    if r.verdict == Verdict::Verified && !lost_commit {
        return None;
    }
    let earlier: BTreeSet<&str> = history
        .into_iter()
        .filter(|h| h.verified && (!lost_commit || h.recorded))
        .filter(|h| handler.version_order(&h.version, this) == Some(std::cmp::Ordering::Less))
        .map(|h| h.version.as_str())
        .collect();
    if earlier.is_empty() {
        return None;
    }
    let mut versions: Vec<&str> = earlier.into_iter().collect();
    // Newest first: the last good version is what a reader compares with.
    versions.sort_by(|a, b| {
        handler
            .version_order(b, a)
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let mut named = versions
        .iter()
        .take(NAMED)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if versions.len() > NAMED {
        named.push_str(&format!(" and {} more", versions.len() - NAMED));
    }
    let n = versions.len();
    let plural = if n == 1 { "" } else { "s" };
    let message = if lost_commit {
        format!(
            "{n} earlier version{plural} recorded the commit they were packaged from and verified \
             ({named}); this version records none (its commit was guessed)"
        )
    } else {
        format!(
            "{n} earlier version{plural} verified ({named}); this version is {}",
            r.verdict.as_str()
        )
    };
    Some(Finding::new(Code::Regression, message))
}

/// Set (or refresh) the `regression` warning on `r` from `history` (other results of the same
/// package); the verdict does not change (a warning). Returns whether `r` now has one.
pub fn annotate<'a>(r: &mut PackageResult, history: impl IntoIterator<Item = &'a Past>) -> bool {
    r.findings.retain(|f| f.code != Code::Regression);
    match finding(r, history) {
        Some(f) => {
            r.findings.push(f);
            true
        }
        None => false,
    }
}

pub fn has_regression(r: &PackageResult) -> bool {
    r.findings.iter().any(|f| f.code == Code::Regression)
}

/// Annotate every result against the others (a whole store, for `provero report`), and list
/// the regressions first (otherwise the order is kept).
pub fn annotate_all_regressions_first(results: &mut [PackageResult]) {
    let mut history = History::new();
    for r in results.iter() {
        remember(&mut history, r);
    }
    for r in results.iter_mut() {
        let key = (r.package.ecosystem, r.package.name.clone());
        annotate(r, history.get(&key).into_iter().flatten());
    }
    results.sort_by_key(|r| !has_regression(r));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ecosystem::Ecosystem;

    fn r(version: &str, verdict: Verdict, commit: bool, guessed: bool) -> PackageResult {
        let mut p = PackageResult::pending(Ecosystem::Crates, "acme", Some(version));
        p.verdict = verdict;
        p.source.commit = commit.then(|| "c".repeat(40));
        if guessed {
            p.findings
                .push(Finding::new(Code::CommitFromTag, "from tag v1"));
        }
        if verdict == Verdict::Mismatch {
            p.findings
                .push(Finding::at(Code::ContentDiffers, "src/lib.rs", "differs"));
        }
        p
    }

    #[test]
    fn not_verified_after_verified_versions_names_them_newest_first() {
        let hist = [
            r("1.0.0", Verdict::Verified, true, false),
            r("1.2.0", Verdict::Verified, true, false),
            r("1.10.0", Verdict::Verified, true, false),
            r("1.1.0", Verdict::Mismatch, true, false),
            // Later versions do not count.
            r("3.0.0", Verdict::Verified, true, false),
        ];
        let hist: Vec<Past> = hist.iter().map(Past::of).collect();
        let this = r("2.0.0", Verdict::Mismatch, true, false);
        let f = finding(&this, &hist).unwrap();
        assert_eq!(f.severity, crate::finding::Severity::Warning);
        assert!(
            f.message.starts_with(
                "3 earlier versions verified (1.10.0, 1.2.0, 1.0.0); this version is mismatch"
            ),
            "{}",
            f.message
        );
        // The first version, or a verified one, is no regression.
        assert!(finding(&r("0.9.0", Verdict::Mismatch, true, false), &hist).is_none());
        assert!(finding(&r("2.0.0", Verdict::Verified, true, false), &hist).is_none());
    }

    #[test]
    fn a_verified_version_that_lost_its_recorded_commit_is_a_regression() {
        let hist = [
            r("1.0.0", Verdict::Verified, true, false),
            r("1.1.0", Verdict::Verified, true, true),
        ];
        let hist: Vec<Past> = hist.iter().map(Past::of).collect();
        let f = finding(&r("1.2.0", Verdict::Verified, true, true), &hist).unwrap();
        assert!(f.message.contains("(1.0.0)"), "{}", f.message);
        assert!(f.message.contains("records none"), "{}", f.message);
        // Errors and transient failures are no verdict, so no regression either.
        let mut e = r("1.2.0", Verdict::Unverifiable, false, false);
        e.findings
            .push(Finding::new(Code::RepositoryUnreachable, "host down"));
        assert!(finding(&e, &hist).is_none());
    }

    #[test]
    fn every_guessed_commit_is_not_recorded() {
        // clap 2.5.2 has no commit and no tag, and is found between the tags of 2.5.1 and
        // 2.6.0: its guessed commit is no reason to warn on 2.6.0, guessed from its tag.
        for code in [
            Code::CommitFromTag,
            Code::CommitFromManifest,
            Code::CommitBetweenTags,
            Code::NoCommit,
        ] {
            let mut between = r("2.5.2", Verdict::Verified, true, false);
            between.findings.push(Finding::new(code, "guessed"));
            assert!(!recorded_commit(&between), "{code:?}");
            let hist = [Past::of(&between)];
            assert!(finding(&r("2.6.0", Verdict::Verified, true, true), &hist).is_none());
        }
    }

    #[test]
    fn report_order_puts_regressions_first() {
        let mut all = vec![
            r("1.0.0", Verdict::Verified, true, false),
            r("1.1.0", Verdict::Mismatch, true, false),
        ];
        let mut other = r("0.1.0", Verdict::Mismatch, true, false);
        other.package.name = "other".into();
        all.insert(0, other);
        annotate_all_regressions_first(&mut all);
        assert_eq!(all[0].package.version, "1.1.0");
        assert!(has_regression(&all[0]));
        assert!(!has_regression(&all[1]) && !has_regression(&all[2]));
        // Annotating again does not add a second warning.
        let snapshot: Vec<Past> = all.iter().map(Past::of).collect();
        annotate(&mut all[0], &snapshot);
        assert_eq!(
            all[0]
                .findings
                .iter()
                .filter(|f| f.code == Code::Regression)
                .count(),
            1
        );
    }
}

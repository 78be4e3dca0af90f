//! The model every renderer reads: one result per package, the inputs that failed or were
//! skipped, and the summary. Renderers only present it; nothing here is decided twice.
//! Field names here are the public JSON contract (see `schema/report.schema.json`).

use std::borrow::Cow;
use std::collections::BTreeMap;

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
    /// Where the commit came from (a signed attestation, trusted publishing, the packager's
    /// record, a tag, ...); absent when no commit was found.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub commit_from: Option<crate::attest::evidence::CommitFrom>,
}

/// A publish attestation or the registry's trusted-publishing record for the artifact: who
/// published it from which repository and commit, and which offline checks it passed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttestationInfo {
    pub kind: AttestationKind,
    /// Where it was fetched from.
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub predicate_type: Option<String>,
    pub publisher: PublisherInfo,
    pub checks: CheckInfo,
    /// Its commit is evidence for the package's commit (verified, or trusted-publishing data).
    #[serde(default)]
    pub used: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AttestationKind {
    /// Sigstore-signed (PyPI PEP 740, RubyGems), checked offline against the trust root.
    Signed,
    /// The registry's own record (crates.io `trustpub_data`): no signature.
    TrustedPublishing,
}

impl AttestationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AttestationKind::Signed => "signed",
            AttestationKind::TrustedPublishing => "trusted-publishing",
        }
    }
}

/// The publisher identity, from the signing certificate or the registry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublisherInfo {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub issuer: Option<String>,
    /// The CI provider the registry names (`github`, `gitlab`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub provider: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub repository: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub workflow: Option<String>,
    #[serde(rename = "ref", skip_serializing_if = "Option::is_none", default)]
    pub git_ref: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub commit: Option<String>,
    /// The certificate's subject (the workflow identity).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub identity: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub run_id: Option<String>,
}

/// Each offline check of an attestation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckInfo {
    pub subject_digest: CheckStatus,
    pub certificate_chain: CheckStatus,
    pub signature: CheckStatus,
    pub transparency_log: CheckStatus,
}

impl CheckInfo {
    /// `(name, status)` in report order.
    pub fn all(&self) -> [(&'static str, &CheckStatus); 4] {
        [
            ("subject_digest", &self.subject_digest),
            ("certificate_chain", &self.certificate_chain),
            ("signature", &self.signature),
            ("transparency_log", &self.transparency_log),
        ]
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckStatus {
    pub status: Status,
    /// Why it failed or was not checked.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Passed,
    Failed,
    NotChecked,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Passed => "passed",
            Status::Failed => "failed",
            Status::NotChecked => "not-checked",
        }
    }
}

impl AttestationInfo {
    /// One line for people: kind, publisher, and each check's status.
    pub fn summary(&self) -> String {
        let p = &self.publisher;
        let mut who = Vec::new();
        if let Some(r) = &p.repository {
            who.push(r.clone());
        }
        if let Some(w) = &p.workflow {
            who.push(format!("workflow {w}"));
        }
        if let Some(r) = &p.git_ref {
            who.push(format!("ref {r}"));
        }
        if let Some(c) = &p.commit {
            who.push(format!("commit {}", &c[..c.len().min(12)]));
        }
        let checks: Vec<String> = self
            .checks
            .all()
            .iter()
            .map(|(n, c)| format!("{n} {}", c.status.as_str()))
            .collect();
        format!(
            "{}: {} ({})",
            self.kind.as_str(),
            if who.is_empty() {
                "no publisher named".to_string()
            } else {
                who.join(", ")
            },
            checks.join(", ")
        )
    }
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
    /// Where the package was asked for, when that was a lockfile: SARIF points its alerts at
    /// this line.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub lockfile: Option<LockfileLine>,
    /// What the artifact was compared with; absent in the JSON for diff mode.
    #[serde(default, skip_serializing_if = "is_diff")]
    pub mode: crate::rebuild::Mode,
    /// Rebuild mode: packager, its version, stabilizers applied, `bit_for_bit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rebuild: Option<crate::rebuild::RebuildInfo>,
    /// Publish attestations and trusted-publishing data the registry serves for the artifact.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attestations: Vec<AttestationInfo>,
}

/// A line of a lockfile (the path as the user gave it, lines from 1).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LockfileLine {
    pub path: String,
    pub line: usize,
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
            lockfile: None,
            mode: crate::rebuild::Mode::Diff,
            rebuild: None,
            attestations: Vec::new(),
        }
    }

    /// The red flags that count (not accepted by an allow entry).
    pub fn red_flags(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::RedFlag && f.allowed.is_none())
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
    /// Findings an allow entry accepted (`--allow`): reported, not counted in `by_code`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub allowed: usize,
    pub by_code: BTreeMap<String, usize>,
    /// Red-flagged files split by where their content is in the repository's history.
    #[serde(default, skip_serializing_if = "RedFlagSplit::is_empty")]
    pub red_flags: RedFlagSplit,
    pub by_ecosystem: BTreeMap<String, BTreeMap<String, usize>>,
    /// The slowest packages, longest first (filled by `provero report`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slowest: Vec<Timing>,
}

/// Red-flagged files by the evidence `found_in` gives: the second kind is what a registry
/// team looks at first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedFlagSplit {
    /// The exact content is in another commit (or at another path) of the repository.
    pub from_another_commit: usize,
    /// The exact content is in no commit of the repository.
    pub in_no_commit: usize,
}

impl RedFlagSplit {
    pub fn is_empty(&self) -> bool {
        self.from_another_commit == 0 && self.in_no_commit == 0
    }
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// Results held in memory (a report built in a test or from a few results). A run's
    /// results are on disk in `spill` instead; read every result with [`Report::each`].
    pub results: Vec<PackageResult>,
    /// The run's results on disk ([`crate::spill`]), after `results`.
    #[serde(skip)]
    pub spill: Spilled,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<InputError>,
    /// Inputs not checked on purpose, with the reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped_inputs: Vec<SkippedInput>,
    /// Warnings about the run itself (an allow entry that matched nothing or has expired).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    pub summary: Summary,
    /// How and when the run was made (a `verify` run; `provero report` of a store has none).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub run: Option<RunInfo>,
}

/// A report's results on disk, shared by clones of the report. Two reports are equal only
/// when they share the same spill.
#[derive(Debug, Clone, Default)]
pub struct Spilled(pub Option<std::sync::Arc<crate::spill::Spill>>);

impl PartialEq for Spilled {
    fn eq(&self, other: &Spilled) -> bool {
        match (&self.0, &other.0) {
            (None, None) => true,
            (Some(a), Some(b)) => std::sync::Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl Eq for Spilled {}

/// The run's metadata: which provero, when, and the settings that shaped its verdicts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunInfo {
    pub provero_version: String,
    /// RFC 3339, UTC.
    pub started_at: String,
    pub finished_at: String,
    pub settings: RunSettings,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSettings {
    /// How packages were checked: `diff` (compare with the source tree).
    pub mode: String,
    /// The registry each ecosystem was read from (ecosystem -> URL).
    pub registries: BTreeMap<String, String>,
    /// `--git-rewrite` rules as given (`FROM=TO`), in order.
    #[serde(default)]
    pub rewrites: Vec<String>,
    /// `--pypi-artifact`, when given.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub pypi_artifact: Option<String>,
}

impl RunInfo {
    /// A timestamp as the report writes it: RFC 3339 in UTC, to the second.
    pub fn timestamp(t: std::time::SystemTime) -> String {
        let t = time::OffsetDateTime::from(t)
            .replace_nanosecond(0)
            .unwrap_or_else(|_| t.into());
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    }
}

impl Summary {
    pub fn of(results: &[PackageResult], input_errors: usize) -> Summary {
        let mut s = Summary {
            errors: input_errors,
            ..Default::default()
        };
        for r in results {
            s.add(r);
        }
        s
    }

    /// Count one more result (the order results are counted in does not matter).
    pub fn add(&mut self, r: &PackageResult) {
        let s = self;
        s.packages += 1;
        match r.verdict {
            Verdict::Verified => s.verified += 1,
            Verdict::Mismatch => s.mismatch += 1,
            Verdict::Unverifiable => s.unverifiable += 1,
        }
        if r.error.is_some() {
            s.errors += 1;
        }
        for f in &r.findings {
            if f.allowed.is_some() {
                s.allowed += 1;
                continue;
            }
            *s.by_code.entry(f.code.as_str().to_string()).or_default() += 1;
            match &f.found_in {
                Some(w) if f.severity == Severity::RedFlag && w.is_nowhere() => {
                    s.red_flags.in_no_commit += 1
                }
                Some(_) if f.severity == Severity::RedFlag => s.red_flags.from_another_commit += 1,
                _ => {}
            }
        }
        *s.by_ecosystem
            .entry(r.package.ecosystem.as_str().to_string())
            .or_default()
            .entry(r.verdict.as_str().to_string())
            .or_default() += 1;
    }
}

impl Report {
    pub fn new(results: Vec<PackageResult>, errors: Vec<InputError>) -> Report {
        let summary = Summary::of(&results, errors.len());
        Report {
            results,
            spill: Spilled::default(),
            errors,
            skipped_inputs: Vec::new(),
            warnings: Vec::new(),
            summary,
            run: None,
        }
    }

    /// A report of results on disk, counted in `summary` as they were spilled.
    pub fn spilled(
        spill: crate::spill::Spill,
        errors: Vec<InputError>,
        summary: Summary,
    ) -> Report {
        Report {
            spill: Spilled(Some(std::sync::Arc::new(spill))),
            errors,
            summary,
            ..Report::default()
        }
    }

    /// Every result, in report order: those held in memory, then those on disk (read one at a
    /// time; a read fails with an error that names the spill's directory).
    pub fn each(&self) -> impl Iterator<Item = std::io::Result<Cow<'_, PackageResult>>> {
        let held = self.results.iter().map(|r| Ok(Cow::Borrowed(r)));
        let spilled = self
            .spill
            .0
            .iter()
            .flat_map(|s| s.iter())
            .map(|r| r.map(Cow::Owned));
        held.chain(spilled)
    }

    /// How many results the report has.
    pub fn len(&self) -> usize {
        self.results.len() + self.spill.0.as_ref().map_or(0, |s| s.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
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

//! Findings are data: what the comparison saw, with a stable kebab-case code, a severity, and the
//! named rule that raised or excused it. The codes and severities are the public JSON contract.

use serde::{Deserialize, Serialize};

/// How much a finding weighs in the verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    Info,
    Warning,
    /// Provenance could not be established; not a red flag.
    Unverifiable,
    /// Content in the artifact that is not in the source it claims.
    RedFlag,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Unverifiable => "unverifiable",
            Severity::RedFlag => "red-flag",
        }
    }
}

/// Every finding code provero emits. Adding one is a change to the public contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Code {
    ChecksumMismatch,
    ContentDiffers,
    FileNotInSource,
    ManifestMismatch,
    /// An archive entry no packager writes: `..`, absolute path, a link leaving the package,
    /// a duplicate entry, a device file.
    UnsafeArchiveEntry,
    JunkNotInSource,
    Dirty,
    LineEndingsDiffer,
    TagDisagrees,
    CommitNotOnBranch,
    /// The version declared by the source at the commit differs from the published one.
    VersionDisagrees,
    /// Earlier versions of the package verified (or had a recorded commit) and this one does
    /// not: the strongest signal a registry team gets. Judged against the results store.
    Regression,
    CommitFromTag,
    /// No recorded commit and no tag; the commit was found by the manifest's blob id.
    CommitFromManifest,
    /// The commit guessed from a tag or the manifest does not match; another commit holding
    /// the published manifest matches every file, and the package is verified against it.
    ExactCommitElsewhere,
    /// No tag names the version; a commit between the neighbouring releases' tags matches
    /// every file.
    CommitBetweenTags,
    /// A file the artifact has that no source can show (a compiled module in a platform wheel
    /// or gem): the package cannot be fully verified.
    NotComparable,
    /// A check provero could not make (dynamic dependency metadata, a digest it cannot check);
    /// said so the reader knows, without weighing on the verdict.
    NotChecked,
    NoRepository,
    RepositoryUnreachable,
    NoCommit,
    CommitNotFound,
    ArtifactUnavailable,
    /// The archive is over the size or entry-count caps (or a gzip bomb).
    ArtifactTooLarge,
    /// The archive could not be read at all.
    ArtifactUnreadable,
    /// Rebuild mode: the packager could not rebuild the package from its source (a missing
    /// sandbox or tool, a failing build); the message quotes the end of the build log.
    RebuildFailed,
    /// The packager's record of the commit (`.cargo_vcs_info.json`) is not what the packager
    /// writes (not JSON, or a `sha1` that is not 40 hex digits): an unreadable claim.
    VcsInfoInvalid,
    /// A manifest in the artifact could not be parsed, so what it declares is unknown.
    ManifestUnreadable,
    /// The commit compared with is the one a verified, signed attestation names.
    CommitFromAttestation,
    /// Two sources of the commit (a signed attestation, the registry's trusted-publishing
    /// data, the packager's record) name different commits; the strongest is compared with.
    AttestationDisagrees,
    /// The attestation's (or trusted-publishing data's) repository is not the one the
    /// package's metadata names; the attested one is compared with.
    RepositoryDisagrees,
    /// A signed attestation's subject digest is not the artifact's SHA-256.
    AttestationMismatch,
    /// A signed attestation whose certificate does not chain to the trust root or whose
    /// signature does not verify.
    AttestationInvalid,
    /// The registry's attestations could not be fetched (a failure that may pass): the
    /// result is not stored, so the next run asks again.
    AttestationUnavailable,
}

impl Code {
    pub const ALL: [Code; 34] = [
        Code::ChecksumMismatch,
        Code::ContentDiffers,
        Code::FileNotInSource,
        Code::ManifestMismatch,
        Code::UnsafeArchiveEntry,
        Code::JunkNotInSource,
        Code::Dirty,
        Code::LineEndingsDiffer,
        Code::TagDisagrees,
        Code::CommitNotOnBranch,
        Code::VersionDisagrees,
        Code::Regression,
        Code::CommitFromTag,
        Code::CommitFromManifest,
        Code::ExactCommitElsewhere,
        Code::CommitBetweenTags,
        Code::NotComparable,
        Code::NotChecked,
        Code::NoRepository,
        Code::RepositoryUnreachable,
        Code::NoCommit,
        Code::CommitNotFound,
        Code::ArtifactUnavailable,
        Code::ArtifactTooLarge,
        Code::ArtifactUnreadable,
        Code::RebuildFailed,
        Code::VcsInfoInvalid,
        Code::ManifestUnreadable,
        Code::CommitFromAttestation,
        Code::AttestationDisagrees,
        Code::RepositoryDisagrees,
        Code::AttestationMismatch,
        Code::AttestationInvalid,
        Code::AttestationUnavailable,
    ];

    /// The severity a code always carries.
    pub fn severity(self) -> Severity {
        use Code::*;
        match self {
            ChecksumMismatch | ContentDiffers | FileNotInSource | ManifestMismatch
            | UnsafeArchiveEntry | VcsInfoInvalid | AttestationMismatch | AttestationInvalid => {
                Severity::RedFlag
            }
            JunkNotInSource | Dirty | LineEndingsDiffer | TagDisagrees | CommitNotOnBranch
            | VersionDisagrees | Regression | ExactCommitElsewhere | AttestationDisagrees
            | RepositoryDisagrees => Severity::Warning,
            CommitFromTag
            | CommitFromManifest
            | CommitBetweenTags
            | NotChecked
            | CommitFromAttestation
            | AttestationUnavailable => Severity::Info,
            NoRepository
            | RepositoryUnreachable
            | NoCommit
            | CommitNotFound
            | ArtifactUnavailable
            | ArtifactTooLarge
            | ArtifactUnreadable
            | RebuildFailed
            | ManifestUnreadable
            | NotComparable => Severity::Unverifiable,
        }
    }

    pub fn as_str(self) -> &'static str {
        use Code::*;
        match self {
            ChecksumMismatch => "checksum-mismatch",
            ContentDiffers => "content-differs",
            FileNotInSource => "file-not-in-source",
            ManifestMismatch => "manifest-mismatch",
            UnsafeArchiveEntry => "unsafe-archive-entry",
            JunkNotInSource => "junk-not-in-source",
            Dirty => "dirty",
            LineEndingsDiffer => "line-endings-differ",
            TagDisagrees => "tag-disagrees",
            CommitNotOnBranch => "commit-not-on-branch",
            VersionDisagrees => "version-disagrees",
            Regression => "regression",
            CommitFromTag => "commit-from-tag",
            CommitFromManifest => "commit-from-manifest",
            ExactCommitElsewhere => "exact-commit-elsewhere",
            CommitBetweenTags => "commit-between-tags",
            NotComparable => "not-comparable",
            NotChecked => "not-checked",
            NoRepository => "no-repository",
            RepositoryUnreachable => "repository-unreachable",
            NoCommit => "no-commit",
            CommitNotFound => "commit-not-found",
            ArtifactUnavailable => "artifact-unavailable",
            ArtifactTooLarge => "artifact-too-large",
            ArtifactUnreadable => "artifact-unreadable",
            RebuildFailed => "rebuild-failed",
            VcsInfoInvalid => "vcs-info-invalid",
            ManifestUnreadable => "manifest-unreadable",
            CommitFromAttestation => "commit-from-attestation",
            AttestationDisagrees => "attestation-disagrees",
            RepositoryDisagrees => "repository-disagrees",
            AttestationMismatch => "attestation-mismatch",
            AttestationInvalid => "attestation-invalid",
            AttestationUnavailable => "attestation-unavailable",
        }
    }

    /// One line saying what the code means (the README's code table; SARIF rule help, HTML).
    pub fn meaning(self) -> &'static str {
        use Code::*;
        match self {
            ChecksumMismatch => "the artifact's SHA-256 differs from the digest the registry (or a lockfile, or the archive's own checksums) publishes",
            ContentDiffers => "a file differs from the source file it claims to be",
            FileNotInSource => "a file the source tree does not have, not excused by any rule",
            ManifestMismatch => "the published manifest declares what the source manifest does not (dependencies, build script, name, version)",
            UnsafeArchiveEntry => "an archive entry no packager writes: `..`, an absolute path, a link leaving the package, a duplicate, a device",
            JunkNotInSource => "a file absent from source but benign: editor swap, backup and project files, debugger history, profiler output, OS metadata, test caches",
            Dirty => "the packager recorded a dirty working tree",
            LineEndingsDiffer => "a file equals its source except for CRLF vs LF line endings",
            TagDisagrees => "the recorded commit and the version tag's commit differ",
            CommitNotOnBranch => "the commit exists but no branch or tag reaches it",
            VersionDisagrees => "the tagged source declares another version",
            Regression => "earlier versions of this package verified (or recorded their commit) and this one does not",
            ExactCommitElsewhere => "the guessed commit differs, but another commit holding the published manifest matches every file",
            CommitBetweenTags => "no tag names the version; the commit was found between the neighbouring releases' tags",
            CommitFromTag => "no recorded commit; the commit was inferred from a tag",
            CommitFromManifest => "no recorded commit and no tag; the newest commit holding the published manifest byte for byte",
            NotComparable => "a file no source can show (a compiled module in a platform wheel or gem)",
            NotChecked => "a check provero could not make (dynamic dependency metadata, a digest it cannot check)",
            NoRepository => "the artifact names no source repository",
            RepositoryUnreachable => "the source repository could not be fetched",
            NoCommit => "no recorded commit and no tag matches the version",
            CommitNotFound => "the recorded or tagged commit is not in the repository (e.g. never pushed)",
            ArtifactUnavailable => "the registry has no such version, or the download failed",
            ArtifactTooLarge => "the archive is over the size or entry-count caps (or a gzip bomb)",
            ArtifactUnreadable => "the archive could not be read",
            RebuildFailed => "the package could not be rebuilt from its source (the build log's tail says why)",
            VcsInfoInvalid => "the packager's record of the commit (.cargo_vcs_info.json) is not what the packager writes: an unreadable claim",
            ManifestUnreadable => "a manifest in the artifact could not be parsed, so what it declares is unknown",
            CommitFromAttestation => "the commit is the one a verified signed attestation (Sigstore, PEP 740) names",
            AttestationDisagrees => "the attestation, the registry's trusted-publishing data and the packager's record name different commits; the strongest is compared with",
            RepositoryDisagrees => "the attested repository is not the one the package's metadata names; the attested one is compared with",
            AttestationMismatch => "a signed attestation's subject digest is not the artifact's SHA-256",
            AttestationInvalid => "a signed attestation's certificate does not chain to the trust root, or its signature does not verify",
            AttestationUnavailable => "the registry's attestations could not be fetched (retried next run)",
        }
    }

    pub fn parse(s: &str) -> Option<Code> {
        serde_json::from_value(serde_json::Value::String(s.to_string())).ok()
    }
}

/// One observation about a package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub code: Code,
    pub severity: Severity,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub path: Option<String>,
    pub message: String,
    /// The named rule that raised this finding, when one did.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub rule: Option<String>,
    /// A short unified diff for `content-differs` on text files.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub diff: Option<String>,
    /// For a file that differs from, or is absent at, the commit: where its exact content (blob
    /// id) is in the repository's history. Absent when not searched or not knowable.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub found_in: Option<FoundIn>,
    /// Which comparison raised it (`diff` or `rebuild`) when the run rebuilds; absent for
    /// findings about the package or its commit, which both modes share.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub mode: Option<crate::rebuild::Mode>,
    /// Set when an allow entry accepts this finding (`--allow`): it is still reported, but
    /// does not count towards the verdict or the exit code.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub allowed: Option<Allowed>,
}

/// Where a red-flagged file's exact content is in the repository's history. `commit` and
/// `path` are both `null` when it is in no commit any branch or tag reaches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FoundIn {
    pub commit: Option<String>,
    pub path: Option<String>,
}

impl FoundIn {
    /// In no commit of the repository.
    pub fn nowhere() -> FoundIn {
        FoundIn {
            commit: None,
            path: None,
        }
    }

    pub fn is_nowhere(&self) -> bool {
        self.commit.is_none()
    }
}

/// Why a finding is accepted: the allow entry's reason, and its expiry date if it has one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allowed {
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub expires: Option<String>,
}

impl Finding {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Finding {
            code,
            severity: code.severity(),
            path: None,
            message: message.into(),
            rule: None,
            diff: None,
            found_in: None,
            mode: None,
            allowed: None,
        }
    }

    pub fn at(code: Code, path: impl Into<String>, message: impl Into<String>) -> Self {
        Finding {
            path: Some(path.into()),
            ..Finding::new(code, message)
        }
    }

    pub fn in_mode(mut self, mode: crate::rebuild::Mode) -> Self {
        self.mode = Some(mode);
        self
    }

    pub fn by_rule(mut self, rule: &str) -> Self {
        self.rule = Some(rule.to_string());
        self
    }
}

/// The answer for one package.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Every artifact file traced to source or excused by a named rule.
    Verified,
    /// At least one red flag.
    Mismatch,
    /// Provenance could not be established; no red flag.
    Unverifiable,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Verified => "verified",
            Verdict::Mismatch => "mismatch",
            Verdict::Unverifiable => "unverifiable",
        }
    }

    /// Judge: a red flag wins, then anything unverifiable, else verified. Allowed findings
    /// (accepted by an allow entry) do not count.
    pub fn judge(findings: &[Finding]) -> Verdict {
        let counted = || findings.iter().filter(|f| f.allowed.is_none());
        if counted().any(|f| f.severity == Severity::RedFlag) {
            Verdict::Mismatch
        } else if counted().any(|f| f.severity == Severity::Unverifiable) {
            Verdict::Unverifiable
        } else {
            Verdict::Verified
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialise_kebab_case_and_round_trip() {
        for code in [
            Code::ChecksumMismatch,
            Code::CommitNotOnBranch,
            Code::UnsafeArchiveEntry,
        ] {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert_eq!(Code::parse(code.as_str()), Some(code));
        }
    }

    #[test]
    fn schema_lists_exactly_the_codes() {
        let schema: serde_json::Value =
            serde_json::from_str(include_str!("../schema/report.schema.json")).unwrap();
        let listed: Vec<&str> = schema["$defs"]["finding"]["properties"]["code"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let ours: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(listed, ours);
    }

    #[test]
    fn red_flag_beats_unverifiable() {
        let f = vec![
            Finding::new(Code::NoCommit, "x"),
            Finding::at(Code::ContentDiffers, "a", "y"),
        ];
        assert_eq!(Verdict::judge(&f), Verdict::Mismatch);
        assert_eq!(Verdict::judge(&f[..1]), Verdict::Unverifiable);
        assert_eq!(
            Verdict::judge(&[Finding::new(Code::Dirty, "d")]),
            Verdict::Verified
        );
    }
}

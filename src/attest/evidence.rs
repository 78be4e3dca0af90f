//! The order of evidence for the commit (and repository) a package is compared with: a
//! verified signed attestation's commit, then the registry's trusted-publishing data (its own
//! word, unsigned), then the packager's record (`.cargo_vcs_info.json`; setuptools-scm's
//! `scm_version.json` or pbr's `pbr.json`); `locate.rs` goes on to a tag and the manifest when
//! none of these names one. Attestations say who published from which commit, never that the
//! content is that commit's: the content is compared with the strongest claim, and where two
//! sources name different commits or repositories the report says so.
//!
//! What the registries serve becomes [`Claim`]s in `gather.rs`; [`decide`] and [`repository`]
//! pick among them.

use serde::{Deserialize, Serialize};

use crate::compare::short;
use crate::finding::{Code, Finding};

/// Where the commit a package is compared with came from, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CommitFrom {
    /// A signed attestation whose checks passed (PyPI PEP 740, RubyGems Sigstore bundles).
    Attestation,
    /// The registry's trusted-publishing record (crates.io `trustpub_data`), unsigned.
    TrustedPublishing,
    /// cargo's `.cargo_vcs_info.json`.
    VcsInfo,
    /// setuptools-scm's `scm_version.json`, or pbr's `pbr.json`.
    ScmVersion,
    /// A tag marking the version.
    Tag,
    /// The newest commit holding the published manifest byte for byte.
    Manifest,
    /// A commit between the neighbouring releases' tags where every file matches.
    BetweenTags,
    /// Near a guess (tag, manifest), the commit where every file matches.
    BestCommit,
}

impl CommitFrom {
    pub fn as_str(self) -> &'static str {
        match self {
            CommitFrom::Attestation => "attestation",
            CommitFrom::TrustedPublishing => "trusted-publishing",
            CommitFrom::VcsInfo => "vcs-info",
            CommitFrom::ScmVersion => "scm-version",
            CommitFrom::Tag => "tag",
            CommitFrom::Manifest => "manifest",
            CommitFrom::BetweenTags => "between-tags",
            CommitFrom::BestCommit => "best-commit",
        }
    }

    /// The source as a message names it.
    pub fn describe(self) -> &'static str {
        match self {
            CommitFrom::Attestation => "the signed attestation",
            CommitFrom::TrustedPublishing => "the registry's trusted-publishing data",
            CommitFrom::VcsInfo => "the packager's record (.cargo_vcs_info.json)",
            CommitFrom::ScmVersion => "the packager's record (scm_version.json / pbr.json)",
            CommitFrom::Tag => "the version tag",
            CommitFrom::Manifest => "the published manifest",
            CommitFrom::BetweenTags => "the search between tags",
            CommitFrom::BestCommit => "the search for a matching commit",
        }
    }

    /// The commit it names, to start a sentence ("the recorded commit 1a2b...").
    pub fn the_commit(self, sha: &str) -> String {
        match self {
            CommitFrom::VcsInfo | CommitFrom::ScmVersion => format!("the recorded commit {sha}"),
            other => format!("commit {sha}, which {} names,", other.describe()),
        }
    }

    /// What it does with a commit, mid-sentence ("the package records").
    pub fn names(self) -> String {
        match self {
            CommitFrom::VcsInfo | CommitFrom::ScmVersion => "the package records".to_string(),
            other => format!("{} names", other.describe()),
        }
    }
}

/// One source's word on which commit (and repository) the package was built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub from: CommitFrom,
    /// A full commit id, or an abbreviated one (pbr records 7+ hex digits).
    pub commit: String,
    /// The repository it names, as it names it (a URL).
    pub repository: Option<String>,
}

/// Two commit ids name the same commit: equal, or one abbreviates the other.
pub fn same_commit(a: &str, b: &str) -> bool {
    let (a, b) = (a.to_ascii_lowercase(), b.to_ascii_lowercase());
    let n = a.len().min(b.len());
    n >= 7 && a[..n] == b[..n]
}

/// The commit to compare with: the strongest claim. Every weaker claim naming another commit
/// is an `attestation-disagrees` warning naming both; an attested commit is a
/// `commit-from-attestation` info.
pub fn decide(mut claims: Vec<Claim>) -> (Option<Claim>, Vec<Finding>) {
    claims.sort_by_key(|c| c.from);
    let mut findings = Vec::new();
    let Some(first) = claims.first().cloned() else {
        return (None, findings);
    };
    if first.from == CommitFrom::Attestation {
        findings.push(Finding::new(
            Code::CommitFromAttestation,
            format!(
                "the content is compared with commit {}, which the verified attestation names",
                short(&first.commit)
            ),
        ));
    }
    let mut told: Vec<&str> = Vec::new();
    for other in &claims[1..] {
        if same_commit(&first.commit, &other.commit) || told.contains(&other.commit.as_str()) {
            continue;
        }
        told.push(&other.commit);
        findings.push(Finding::new(
            Code::AttestationDisagrees,
            format!(
                "{} names commit {}, {} names {}; the content is compared with {}",
                first.from.describe(),
                short(&first.commit),
                other.from.describe(),
                short(&other.commit),
                short(&first.commit)
            ),
        ));
    }
    (Some(first), findings)
}

/// The repository to fetch: the strongest claim's repository when one names one, else the
/// package's own (`package`, already normalised). A claimed repository that is not the
/// package's after normalisation is a `repository-disagrees` warning naming both; the claimed
/// one is used (it is where the publisher's CI ran).
pub fn repository(
    claims: &[Claim],
    package: Option<&crate::repo_url::RepoUrl>,
) -> (Option<crate::repo_url::RepoUrl>, Vec<Finding>) {
    let mut sorted: Vec<&Claim> = claims.iter().collect();
    sorted.sort_by_key(|c| c.from);
    let mut findings = Vec::new();
    let mut chosen: Option<(CommitFrom, crate::repo_url::RepoUrl)> = None;
    for c in sorted {
        let Some(raw) = &c.repository else { continue };
        let Some(url) = crate::repo_url::normalize(raw) else {
            tracing::debug!("{} names `{raw}`, not a repository URL", c.from.describe());
            continue;
        };
        match &chosen {
            None => chosen = Some((c.from, url)),
            Some((from, first)) if first.url != url.url => findings.push(Finding::new(
                Code::RepositoryDisagrees,
                format!(
                    "{} names repository {}, {} names {}; {} is compared with",
                    from.describe(),
                    first.url,
                    c.from.describe(),
                    url.url,
                    first.url
                ),
            )),
            Some(_) => {}
        }
    }
    let Some((from, attested)) = chosen else {
        return (package.cloned(), findings);
    };
    if let Some(p) = package.filter(|p| p.url != attested.url) {
        findings.push(Finding::new(
            Code::RepositoryDisagrees,
            format!(
                "{} names repository {}, the package's metadata names {}; {} is compared with",
                from.describe(),
                attested.url,
                p.url,
                attested.url
            ),
        ));
    }
    (Some(attested), findings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo_url::normalize;

    fn claim(from: CommitFrom, commit: &str, repo: Option<&str>) -> Claim {
        Claim {
            from,
            commit: commit.into(),
            repository: repo.map(str::to_string),
        }
    }

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    #[test]
    fn the_strongest_claim_wins_and_disagreement_names_both() {
        let (c, f) = decide(vec![
            claim(CommitFrom::VcsInfo, B, None),
            claim(CommitFrom::Attestation, A, None),
        ]);
        assert_eq!(c.unwrap().from, CommitFrom::Attestation);
        let codes: Vec<Code> = f.iter().map(|f| f.code).collect();
        assert_eq!(
            codes,
            [Code::CommitFromAttestation, Code::AttestationDisagrees]
        );
        assert!(f[1].message.contains("aaaaaaaaaaaa") && f[1].message.contains("bbbbbbbbbbbb"));
        assert!(f[1].message.contains("cargo_vcs_info"), "{}", f[1].message);
        // Agreeing sources (pbr's abbreviated id too) say nothing more.
        let (c, f) = decide(vec![
            claim(CommitFrom::ScmVersion, &A[..9], None),
            claim(CommitFrom::TrustedPublishing, A, None),
        ]);
        assert_eq!(c.unwrap().from, CommitFrom::TrustedPublishing);
        assert!(f.is_empty(), "{f:?}");
        assert_eq!(decide(Vec::new()), (None, Vec::new()));
        assert!(!same_commit("abc", "abcdef"), "too short to say");
    }

    #[test]
    fn the_attested_repository_is_used_and_a_different_one_is_named() {
        let pkg = normalize("https://github.com/Acme/Widget.git").unwrap();
        let same = [claim(
            CommitFrom::Attestation,
            A,
            Some("https://github.com/acme/widget"),
        )];
        let (r, f) = repository(&same, Some(&pkg));
        assert_eq!(r.unwrap().url, pkg.url);
        assert!(f.is_empty(), "{f:?}");
        let other = [claim(
            CommitFrom::Attestation,
            A,
            Some("https://github.com/evil/widget"),
        )];
        let (r, f) = repository(&other, Some(&pkg));
        assert_eq!(r.unwrap().url, "https://github.com/evil/widget");
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].code, Code::RepositoryDisagrees);
        assert!(f[0].message.contains("evil/widget") && f[0].message.contains("acme/widget"));
        // No claim names one: the package's; no package repository: the claim's, no warning.
        assert_eq!(repository(&[], Some(&pkg)).0.unwrap().url, pkg.url);
        let (r, f) = repository(&other, None);
        assert!(r.is_some() && f.is_empty());
    }
}

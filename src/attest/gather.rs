//! What the registries serve about who published an artifact ([`Fetched`], from
//! `src/<eco>/attest.rs`), checked: crates.io's trusted-publishing record is reported as the
//! registry's unsigned word; signed attestations are verified offline against the run's
//! [`Trust`] root. The outcome ([`Gathered`]) is report data, findings (red flags for signed
//! attestations that fail), and the [`Claim`]s `evidence.rs` chooses among.

use serde::Deserialize;

use super::evidence::{Claim, CommitFrom};
use crate::finding::{Code, Finding};
use crate::report::{
    AttestationInfo, AttestationKind, CheckInfo, CheckStatus, PublisherInfo, Status,
};

/// crates.io's `trustpub_data`: which CI run published the version, from which repository
/// and commit. The registry's own word: no signature.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct TrustPub {
    #[serde(default)]
    pub provider: Option<String>,
    #[serde(default)]
    pub repository: Option<String>,
    #[serde(default, deserialize_with = "string_or_number")]
    pub run_id: Option<String>,
    #[serde(default)]
    pub sha: Option<String>,
}

fn string_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        Some(serde_json::Value::String(s)) => Some(s),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

impl TrustPub {
    /// The repository as a URL: `owner/repo` on the provider's forge, or a URL as given.
    pub fn repository_url(&self) -> Option<String> {
        let repo = self.repository.as_deref()?.trim().trim_matches('/');
        if repo.contains("://") {
            return Some(repo.to_string());
        }
        let host = match self.provider.as_deref()?.to_ascii_lowercase().as_str() {
            "github" => "github.com",
            "gitlab" => "gitlab.com",
            _ => return None,
        };
        Some(format!("https://{host}/{repo}"))
    }
}

/// What a registry serves about who published an artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// Nothing: the registry (or mirror) has no such endpoint, the version has none, or the
    /// profile names no API.
    None,
    /// The registry's trusted-publishing record.
    TrustedPublishing { url: String, data: TrustPub },
    /// A document of Sigstore-signed attestations.
    Signed {
        url: String,
        format: SignedFormat,
        body: Vec<u8>,
    },
    /// Asking failed in a way that may pass (a 5xx, a timeout, a reset).
    Unavailable(String),
}

/// How a signed attestations document is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignedFormat {
    /// A PEP 740 provenance object (`attestation_bundles[].attestations[]`).
    Pep740,
    /// A Sigstore bundle or a JSON array of them (RubyGems).
    Bundles,
}

/// GET an attestations document through the run's metadata cache (single flight, per-host
/// limits, retries). `Ok(None)`: the registry has none (404, or a refusal such as 403/406 from
/// a mirror without the route); `Err`: a failure that may pass (5xx, 429, timeouts, resets).
pub async fn get_document(
    cx: &crate::ecosystem::RegistryCx<'_>,
    url: &str,
    accept: &str,
) -> Result<Option<Vec<u8>>, String> {
    use crate::http::HttpError;
    match cx.http.get_meta(url, Some(accept)).await {
        Ok(b) => Ok(Some(b.bytes)),
        Err(HttpError::NotFound { .. }) => Ok(None),
        Err(HttpError::Status { status, .. })
            if !(status == 408 || status == 429 || (500..600).contains(&status)) =>
        {
            tracing::debug!("{url}: HTTP {status}, taken as no attestations");
            Ok(None)
        }
        Err(e @ HttpError::TooLarge { .. }) => {
            tracing::debug!("{e}; taken as no attestations");
            Ok(None)
        }
        Err(e) => Err(format!("the attestations could not be fetched: {e}")),
    }
}

/// What the fetched attestations say: report data, findings and claims.
#[derive(Debug, Default)]
pub struct Gathered {
    pub attestations: Vec<AttestationInfo>,
    pub findings: Vec<Finding>,
    pub claims: Vec<Claim>,
}

/// The not-checked status of every check, for data that carries no signature.
fn unsigned_checks() -> CheckInfo {
    let not = || CheckStatus {
        status: Status::NotChecked,
        detail: Some("the registry's own record carries no signature".into()),
    };
    CheckInfo {
        subject_digest: not(),
        certificate_chain: not(),
        signature: not(),
        transparency_log: not(),
    }
}

/// Trusted-publishing data as report data and a claim (when it names a commit).
pub fn trusted_publishing(url: &str, data: &TrustPub) -> Gathered {
    let mut g = Gathered::default();
    let commit = data
        .sha
        .clone()
        .filter(|s| s.len() >= 7 && s.bytes().all(|b| b.is_ascii_hexdigit()));
    g.attestations.push(AttestationInfo {
        kind: AttestationKind::TrustedPublishing,
        url: url.to_string(),
        predicate_type: None,
        publisher: PublisherInfo {
            provider: data.provider.clone(),
            repository: data.repository_url().or_else(|| data.repository.clone()),
            commit: data.sha.clone(),
            run_id: data.run_id.clone(),
            ..PublisherInfo::default()
        },
        checks: unsigned_checks(),
        used: commit.is_some(),
    });
    if let Some(commit) = commit {
        g.claims.push(Claim {
            from: CommitFrom::TrustedPublishing,
            commit: commit.to_ascii_lowercase(),
            repository: data.repository_url(),
        });
    }
    g
}

/// The trust root a run checks signed attestations against, and what names it in the store's
/// settings fingerprint (a verdict decided under one root is never replayed under another).
#[derive(Debug, Clone)]
pub struct Trust {
    pub root: std::sync::Arc<super::TrustRoot>,
    /// `sigstore-public`, or `file:<sha256 of the file>`.
    pub id: String,
}

impl Default for Trust {
    fn default() -> Self {
        Trust {
            root: std::sync::Arc::new(super::TrustRoot::sigstore_public()),
            id: "sigstore-public".to_string(),
        }
    }
}

impl Trust {
    /// `--trust-root FILE`: a Sigstore `trusted_root.json` that replaces the public one.
    pub fn load(path: &std::path::Path) -> Result<Trust, String> {
        let root = super::TrustRoot::load(path).map_err(|e| e.to_string())?;
        let bytes = std::fs::read(path)
            .map_err(|e| format!("could not read the trust root {}: {e}", path.display()))?;
        Ok(Trust {
            root: std::sync::Arc::new(root),
            id: format!("file:{}", crate::archive::sha256_hex(&bytes)),
        })
    }
}

/// Everything the registry served, checked: report data, findings, claims. `artifact` is the
/// file name, `sha256` what was downloaded.
pub fn gather(fetched: &Fetched, artifact: &str, sha256: &str, trust: &Trust) -> Gathered {
    match fetched {
        Fetched::None => Gathered::default(),
        Fetched::TrustedPublishing { url, data } => trusted_publishing(url, data),
        Fetched::Signed { url, format, body } => {
            signed(url, *format, body, artifact, sha256, trust)
        }
        Fetched::Unavailable(e) => Gathered {
            findings: vec![Finding::new(Code::AttestationUnavailable, e.clone())],
            ..Gathered::default()
        },
    }
}

fn status(c: &super::Check) -> CheckStatus {
    let (status, detail) = match c {
        super::Check::Passed => (Status::Passed, None),
        super::Check::Failed(r) => (Status::Failed, Some(r.clone())),
        super::Check::NotChecked(r) => (Status::NotChecked, Some(r.clone())),
    };
    CheckStatus { status, detail }
}

/// Signed attestations, each verified offline: a failed chain, signature or log check is
/// `attestation-invalid`; a valid one whose subject is not the artifact's digest is
/// `attestation-mismatch`; a valid one for the artifact is a claim of its commit. A document
/// that cannot be read says so (`not-checked`): it claims nothing a reader could check.
fn signed(
    url: &str,
    format: SignedFormat,
    body: &[u8],
    artifact: &str,
    sha256: &str,
    trust: &Trust,
) -> Gathered {
    let mut g = Gathered::default();
    let parsed = match format {
        SignedFormat::Pep740 => super::parse_pep740_provenance(body),
        SignedFormat::Bundles => super::parse_sigstore_bundle(body),
    };
    let items = match parsed {
        Ok(items) => items,
        Err(e) => {
            g.findings.push(Finding::new(
                Code::NotChecked,
                format!("the attestations at {url} could not be read, so none was checked: {e}"),
            ));
            return g;
        }
    };
    for item in items {
        let v = super::verify(&item, artifact, sha256, &trust.root);
        let p = &v.publisher;
        let who = p
            .identity
            .as_deref()
            .or(p.repository.as_deref())
            .unwrap_or("an unnamed publisher");
        let valid = v.valid();
        let for_artifact = valid && v.digest_matches();
        let commit = p
            .commit
            .clone()
            .filter(|c| c.len() >= 7 && c.bytes().all(|b| b.is_ascii_hexdigit()));
        if !valid {
            let why: Vec<String> = [
                ("certificate chain", &v.checks.certificate_chain),
                ("signature", &v.checks.signature),
                ("transparency log", &v.checks.transparency_log),
            ]
            .iter()
            .filter(|(_, c)| !c.passed())
            .map(|(n, c)| format!("{n}: {}", c.reason().unwrap_or("not checked")))
            .collect();
            g.findings.push(Finding::new(
                Code::AttestationInvalid,
                format!(
                    "the attestation at {url} (signed for {who}) does not verify against the trust root: {}",
                    why.join("; ")
                ),
            ));
        } else if v.checks.subject_digest.failed() {
            let named: Vec<String> = v
                .subjects
                .iter()
                .map(|s| {
                    format!(
                        "{} ({})",
                        s.name,
                        s.sha256.as_deref().unwrap_or("no sha256")
                    )
                })
                .collect();
            g.findings.push(Finding::new(
                Code::AttestationMismatch,
                format!(
                    "the attestation at {url} (signed for {who}) is for {}, not for this artifact (SHA-256 {sha256})",
                    if named.is_empty() { "no subject".to_string() } else { named.join(", ") }
                ),
            ));
        } else if !for_artifact {
            g.findings.push(Finding::new(
                Code::NotChecked,
                format!(
                    "the attestation at {url} (signed for {who}) names no SHA-256 to compare with the artifact's: {}",
                    v.checks.subject_digest.reason().unwrap_or("no subject digest")
                ),
            ));
        }
        let used = for_artifact && commit.is_some();
        if let (true, Some(commit)) = (used, &commit) {
            g.claims.push(Claim {
                from: CommitFrom::Attestation,
                commit: commit.to_ascii_lowercase(),
                repository: p.repository.clone(),
            });
        }
        g.attestations.push(AttestationInfo {
            kind: AttestationKind::Signed,
            url: url.to_string(),
            predicate_type: v.predicate_type.clone(),
            publisher: PublisherInfo {
                issuer: p.issuer.clone(),
                provider: None,
                repository: p.repository.clone(),
                workflow: p.workflow.clone(),
                git_ref: p.git_ref.clone(),
                commit: p.commit.clone(),
                identity: p.identity.clone(),
                run_id: None,
            },
            checks: CheckInfo {
                subject_digest: status(&v.checks.subject_digest),
                certificate_chain: status(&v.checks.certificate_chain),
                signature: status(&v.checks.signature),
                transparency_log: status(&v.checks.transparency_log),
            },
            used,
        });
    }
    g
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

    #[test]
    fn trustpub_data_is_unsigned_evidence() {
        let t: TrustPub = serde_json::from_str(
            r#"{"provider":"github","repository":"acme/widget","run_id":123,"sha":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}"#,
        )
        .unwrap();
        let g = trusted_publishing("http://x/api", &t);
        assert_eq!(g.claims[0].commit, A);
        assert_eq!(
            g.claims[0].repository.as_deref(),
            Some("https://github.com/acme/widget")
        );
        let a = &g.attestations[0];
        assert_eq!(a.kind, AttestationKind::TrustedPublishing);
        assert_eq!(a.publisher.run_id.as_deref(), Some("123"));
        assert!(a
            .checks
            .all()
            .iter()
            .all(|(_, c)| c.status == Status::NotChecked));
        let unknown = TrustPub {
            provider: Some("forgejo".into()),
            repository: Some("a/b".into()),
            ..TrustPub::default()
        };
        assert_eq!(unknown.repository_url(), None);
        assert!(trusted_publishing("u", &unknown).claims.is_empty());
    }

    #[test]
    fn unreadable_documents_and_failures_claim_nothing() {
        let trust = Trust::default();
        for format in [SignedFormat::Pep740, SignedFormat::Bundles] {
            let page = Fetched::Signed {
                url: "http://mirror/p".into(),
                format,
                body: b"<html>not here</html>".to_vec(),
            };
            let g = gather(&page, "a-1.0.tar.gz", A, &trust);
            assert!(g.claims.is_empty() && g.attestations.is_empty());
            assert_eq!(g.findings.len(), 1);
            assert_eq!(g.findings[0].code, Code::NotChecked);
            assert!(g.findings[0].message.contains("http://mirror/p"));
        }
        let down = gather(&Fetched::Unavailable("HTTP 503".into()), "a", A, &trust);
        assert_eq!(down.findings[0].code, Code::AttestationUnavailable);
        assert!(down.claims.is_empty());
        let none = gather(&Fetched::None, "a", A, &trust);
        assert!(none.findings.is_empty() && none.attestations.is_empty());
    }
}

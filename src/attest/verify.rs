//! The offline checks of one signed attestation: subject digest, certificate chain, DSSE
//! signature, transparency log. Each check's outcome is data; nothing here fails the run.

use serde_json::Value;

use super::bundle::IN_TOTO;
use super::fulcio::{self, Cert};
use super::tlog::{self, Refused};
use super::trust_root::TrustRoot;
use super::{Check, Checks, Publisher, Signed, Subject, Verification};

/// More subjects than this in a statement are not read (a publish attestation names one).
const MAX_SUBJECTS: usize = 1024;

/// Check `signed` against the artifact (its file name and sha256, hex) and the trust root.
pub fn verify(
    signed: &Signed,
    artifact_name: &str,
    artifact_sha256: &str,
    root: &TrustRoot,
) -> Verification {
    let mut notes = Vec::new();
    let statement = Statement::read(signed);
    let subject_digest = match &statement {
        Ok(st) => subject_check(st, artifact_name, artifact_sha256, &mut notes),
        Err(reason) => Check::Failed(reason.clone()),
    };
    let (subjects, predicate_type) = match statement {
        Ok(st) => (st.subjects, st.predicate_type),
        Err(_) => (Vec::new(), None),
    };
    let leaf = match fulcio::parse_certificate(&signed.certificate) {
        Ok(leaf) => leaf,
        Err(e) => {
            let why = format!("the signing certificate is not an X.509 certificate: {e}");
            return Verification {
                publisher: Publisher::default(),
                checks: Checks {
                    subject_digest,
                    certificate_chain: Check::Failed(why.clone()),
                    signature: Check::Failed(why),
                    transparency_log: Check::NotChecked(
                        "without a certificate there is no entry to look for".into(),
                    ),
                },
                subjects,
                predicate_type,
                notes,
            };
        }
    };
    let signature = signature_check(signed, &leaf);
    let (transparency_log, time) = tlog_check(signed, root);
    if time.is_none() {
        notes.push(
            "certificate validity times were not checked: no signed log entry timestamp vouches for the signing time (provero does not check RFC 3161 timestamps)"
                .to_string(),
        );
    }
    Verification {
        publisher: leaf.publisher(),
        checks: Checks {
            subject_digest,
            certificate_chain: fulcio::verify_chain(&leaf, root, time),
            signature,
            transparency_log,
        },
        subjects,
        predicate_type,
        notes,
    }
}

/// DSSE v1 pre-authentication encoding: what the signature is over.
pub(crate) fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

fn signature_check(signed: &Signed, leaf: &Cert) -> Check {
    let key = match leaf.public_key() {
        Ok(k) => k,
        Err(e) => return Check::Failed(format!("the certificate's key cannot verify: {e}")),
    };
    if let Some(digest) = &signed.message_digest {
        return match key.verify_digest(digest, &signed.signature) {
            Ok(()) => Check::Passed,
            Err(e) => Check::Failed(format!(
                "the message signature over the artifact's digest does not verify with the certificate's key ({e})"
            )),
        };
    }
    let msg = pae(&signed.payload_type, &signed.payload);
    match key.verify(key.natural_hash(), &msg, &signed.signature) {
        Ok(()) => Check::Passed,
        Err(e) => Check::Failed(format!(
            "the DSSE signature does not verify with the certificate's key ({e})"
        )),
    }
}

/// The transparency log check and, when it passed with a log time, that time.
fn tlog_check(signed: &Signed, root: &TrustRoot) -> (Check, Option<i64>) {
    if !root.has_tlogs() {
        return (
            Check::NotChecked("the trust root names no transparency log".into()),
            None,
        );
    }
    if signed.tlog_entries.is_empty() {
        return (
            Check::Failed(
                "the attestation carries no transparency log entry, and the trust root names a log"
                    .into(),
            ),
            None,
        );
    }
    let mut refusals = Vec::new();
    for e in &signed.tlog_entries {
        match tlog::verify_entry(e, root, signed) {
            Ok(p) if p.set || p.inclusion => return (Check::Passed, p.time),
            Ok(_) => {}
            Err(r) => refusals.push(r),
        }
    }
    // A wrong entry is a failure; an entry provero cannot check is said as such.
    if let Some(Refused::Failed(why)) = refusals.iter().find(|r| matches!(r, Refused::Failed(_))) {
        return (Check::Failed(why.clone()), None);
    }
    match refusals.into_iter().next() {
        Some(Refused::Unsupported(why)) => (Check::NotChecked(why), None),
        _ => (
            Check::NotChecked("no transparency log entry could be checked".into()),
            None,
        ),
    }
}

struct Statement {
    subjects: Vec<Subject>,
    predicate_type: Option<String>,
}

impl Statement {
    fn read(signed: &Signed) -> Result<Statement, String> {
        if let Some(digest) = &signed.message_digest {
            // The signature is over the artifact itself: its digest is the only subject.
            return Ok(Statement {
                subjects: vec![Subject {
                    name: String::new(),
                    sha256: Some(hex::encode(digest)),
                }],
                predicate_type: None,
            });
        }
        if signed.payload_type != IN_TOTO {
            return Err(format!(
                "the envelope's payload type is {:?}, not an in-toto statement ({IN_TOTO})",
                signed.payload_type
            ));
        }
        let v: Value = serde_json::from_slice(&signed.payload)
            .map_err(|e| format!("the in-toto statement is not JSON: {e}"))?;
        let ty = v.get("_type").and_then(Value::as_str).unwrap_or_default();
        if !ty.starts_with("https://in-toto.io/Statement/") {
            return Err(format!(
                "the payload is not an in-toto statement (_type {ty:?})"
            ));
        }
        let subjects = v
            .get("subject")
            .and_then(Value::as_array)
            .ok_or("the in-toto statement has no subject")?;
        Ok(Statement {
            subjects: subjects
                .iter()
                .take(MAX_SUBJECTS)
                .map(|s| Subject {
                    name: s
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    sha256: s
                        .pointer("/digest/sha256")
                        .and_then(Value::as_str)
                        .map(str::to_ascii_lowercase),
                })
                .collect(),
            predicate_type: v
                .get("predicateType")
                .and_then(Value::as_str)
                .map(str::to_string),
        })
    }
}

fn subject_check(st: &Statement, name: &str, sha256: &str, notes: &mut Vec<String>) -> Check {
    let want = sha256.trim().to_ascii_lowercase();
    if let Some(s) = st
        .subjects
        .iter()
        .find(|s| s.sha256.as_deref() == Some(&want))
    {
        if !s.name.is_empty() && !loose_name_eq(&s.name, name) {
            notes.push(format!(
                "the subject with the artifact's sha256 is named {:?}, the artifact {name:?}",
                s.name
            ));
        }
        return Check::Passed;
    }
    let named = st
        .subjects
        .iter()
        .find(|s| loose_name_eq(&s.name, name))
        .or_else(|| st.subjects.first());
    match named {
        Some(s) if s.name.is_empty() => Check::Failed(format!(
            "the signature is over sha256 {}; the artifact's sha256 is {want}",
            s.sha256.as_deref().unwrap_or("(none)")
        )),
        Some(s) => Check::Failed(format!(
            "the statement names sha256 {} for {:?}; the artifact's sha256 is {want}",
            s.sha256.as_deref().unwrap_or("(none)"),
            s.name
        )),
        None => Check::Failed("the in-toto statement names no subject".into()),
    }
}

/// File names as PyPI compares them: case, and runs of `-`, `_`, `.` in the distribution name
/// (PEP 503/625 normalisation) do not matter.
fn loose_name_eq(a: &str, b: &str) -> bool {
    fn norm(s: &str) -> String {
        let mut out = String::new();
        let mut sep = false;
        for c in s.chars() {
            if matches!(c, '-' | '_' | '.') {
                sep = true;
            } else {
                if sep && !out.is_empty() {
                    out.push('-');
                }
                sep = false;
                out.extend(c.to_lowercase());
            }
        }
        out
    }
    norm(a) == norm(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attest::parse_pep740_provenance;

    fn assert_all_passed(v: &Verification) {
        let c = &v.checks;
        for check in [
            &c.subject_digest,
            &c.certificate_chain,
            &c.signature,
            &c.transparency_log,
        ] {
            assert_eq!(check, &Check::Passed, "{c:?}");
        }
    }

    const REAL: &[u8] = include_bytes!("testdata/sigstore-3.6.1.tar.gz.provenance");
    /// sha256 of sigstore-3.6.1.tar.gz as PyPI serves it (Simple API `hashes.sha256`).
    const REAL_SHA256: &str = "ee60fdc9236fd6709271ad53b44027461360c3fde155d2af15482e4c451ff865";

    fn real() -> Signed {
        parse_pep740_provenance(REAL).unwrap().remove(0)
    }

    #[test]
    fn a_real_pypi_attestation_verifies_against_the_public_trust_root() {
        let v = verify(
            &real(),
            "sigstore-3.6.1.tar.gz",
            REAL_SHA256,
            &TrustRoot::sigstore_public(),
        );
        assert_all_passed(&v);
        assert!(v.valid() && v.digest_matches());
        assert!(v.notes.is_empty(), "{:?}", v.notes);
        let p = &v.publisher;
        assert_eq!(
            p.repository.as_deref(),
            Some("https://github.com/sigstore/sigstore-python")
        );
        assert_eq!(
            p.commit.as_deref(),
            Some("896cfe13105495e6dc6f8faf23e1007da35edeeb")
        );
        assert_eq!(p.git_ref.as_deref(), Some("refs/tags/v3.6.1"));
        assert_eq!(
            p.issuer.as_deref(),
            Some("https://token.actions.githubusercontent.com")
        );
        assert_eq!(
            p.workflow.as_deref(),
            Some("https://github.com/sigstore/sigstore-python/.github/workflows/release.yml@refs/tags/v3.6.1")
        );
        assert_eq!(p.identity, p.workflow);
        assert_eq!(
            v.predicate_type.as_deref(),
            Some("https://docs.pypi.org/attestations/publish/v1")
        );
        assert_eq!(v.subjects[0].name, "sigstore-3.6.1.tar.gz");
    }

    /// A bare PEP 740 attestation published from GitLab CI (pypi-attestations' test asset).
    #[test]
    fn a_real_gitlab_attestation_verifies_and_names_its_publisher() {
        let json = include_bytes!("testdata/gitlab_oidc_project-0.0.3.tar.gz.publish.attestation");
        let signed = parse_pep740_provenance(json).unwrap().remove(0);
        let sha = "c1ca9b0d85df1606451098233018534497bf584362e10e4a8c21dfaea92c02a8";
        let v = verify(
            &signed,
            "gitlab_oidc_project-0.0.3.tar.gz",
            sha,
            &TrustRoot::sigstore_public(),
        );
        assert_all_passed(&v);
        assert!(v.notes.is_empty(), "{:?}", v.notes);
        let p = &v.publisher;
        assert_eq!(p.issuer.as_deref(), Some("https://gitlab.com"));
        assert_eq!(
            p.repository.as_deref(),
            Some("https://gitlab.com/facutuesca/gitlab-oidc-project")
        );
        assert_eq!(
            p.commit.as_deref(),
            Some("72f7c63b75eb55ea80864962f0e645c93414da34")
        );
        assert_eq!(p.git_ref.as_deref(), Some("refs/heads/main"));
    }

    /// What RubyGems serves for sigstore 0.2.3 (`/api/v1/attestations/sigstore-0.2.3.json`, a
    /// recorded sample): a bundle whose `messageSignature` signs the gem's SHA-256 (the `sha`
    /// of `/api/v2/rubygems/sigstore/versions/0.2.3.json`), logged as `hashedrekord` 0.0.1.
    #[test]
    fn a_real_rubygems_message_signature_verifies() {
        let json = include_bytes!("testdata/rubygems_sigstore-0.2.3.attestations.json");
        let signed = crate::attest::parse_sigstore_bundle(json)
            .unwrap()
            .remove(0);
        assert_eq!(signed.payload_type(), None);
        let sha = "fe60a7b15254eaec765388fc7ad54ee6298f48a36bcea06173e91ecd7ce52c7f";
        let root = TrustRoot::sigstore_public();
        let v = verify(&signed, "sigstore-0.2.3.gem", sha, &root);
        assert_all_passed(&v);
        assert!(v.notes.is_empty(), "{:?}", v.notes);
        let p = &v.publisher;
        assert_eq!(
            p.repository.as_deref(),
            Some("https://github.com/sigstore/sigstore-ruby")
        );
        assert_eq!(
            p.commit.as_deref(),
            Some("26ffbe0c1d6e16614fb9cd8b2ed40ab47d57d421")
        );
        assert_eq!(p.git_ref.as_deref(), Some("refs/tags/v0.2.3"));
        // Another gem's digest; a changed signature byte.
        let v = verify(&signed, "sigstore-0.2.3.gem", &"ab".repeat(32), &root);
        let why = v.checks.subject_digest.reason().unwrap();
        assert!(why.contains(sha) && why.contains(&"ab".repeat(32)), "{why}");
        let mut bad = signed.clone();
        let i = bad.signature.len() - 2;
        bad.signature[i] ^= 1;
        let v = verify(&bad, "sigstore-0.2.3.gem", sha, &root);
        assert!(v.checks.signature.failed() && v.checks.transparency_log.failed());
        let mut other = signed.clone();
        other.message_digest = Some([0xab; 32]);
        let v = verify(&other, "sigstore-0.2.3.gem", &"ab".repeat(32), &root);
        assert!(v.checks.signature.failed() && v.checks.transparency_log.failed());
    }

    #[test]
    fn another_artifact_digest_fails_the_subject_check_naming_both() {
        let other = "00".repeat(32);
        let v = verify(
            &real(),
            "sigstore-3.6.1.tar.gz",
            &other,
            &TrustRoot::sigstore_public(),
        );
        let why = v.checks.subject_digest.reason().unwrap();
        assert!(why.contains(REAL_SHA256) && why.contains(&other), "{why}");
        assert!(v.valid(), "the signature itself is still good");
    }

    #[test]
    fn a_flipped_signature_byte_fails_the_signature_and_the_log_check() {
        let mut s = real();
        let last = s.signature.len() - 3;
        s.signature[last] ^= 1;
        let v = verify(
            &s,
            "sigstore-3.6.1.tar.gz",
            REAL_SHA256,
            &TrustRoot::sigstore_public(),
        );
        assert!(v.checks.signature.failed(), "{:?}", v.checks.signature);
        assert!(
            v.checks.transparency_log.failed(),
            "the log recorded the real signature"
        );
        assert!(!v.valid());
    }

    #[test]
    fn a_changed_statement_fails_the_signature() {
        let mut s = real();
        let text = String::from_utf8(s.payload.clone()).unwrap();
        s.payload = text.replace(REAL_SHA256, &"11".repeat(32)).into_bytes();
        let v = verify(
            &s,
            "sigstore-3.6.1.tar.gz",
            &"11".repeat(32),
            &TrustRoot::sigstore_public(),
        );
        assert!(v.checks.subject_digest.passed());
        assert!(v.checks.signature.failed());
        assert!(!v.valid());
    }

    #[test]
    fn a_tampered_log_entry_fails_the_log_check() {
        let mut s = real();
        s.tlog_entries[0].integrated_time = Some(s.tlog_entries[0].integrated_time.unwrap() + 1);
        let v = verify(
            &s,
            "sigstore-3.6.1.tar.gz",
            REAL_SHA256,
            &TrustRoot::sigstore_public(),
        );
        let why = v.checks.transparency_log.reason().unwrap().to_string();
        assert!(why.contains("signed entry timestamp"), "{why}");
        let mut s = real();
        s.tlog_entries[0].set = None;
        if let Some(p) = s.tlog_entries[0].proof.as_mut() {
            p.hashes[3][0] ^= 1;
        }
        let v = verify(
            &s,
            "sigstore-3.6.1.tar.gz",
            REAL_SHA256,
            &TrustRoot::sigstore_public(),
        );
        let why = v.checks.transparency_log.reason().unwrap().to_string();
        assert!(why.contains("inclusion proof"), "{why}");
        // A checkpoint whose signature is not the log's.
        let mut s = real();
        s.tlog_entries[0].set = None;
        if let Some(p) = s.tlog_entries[0].proof.as_mut() {
            let note = p.checkpoint.take().unwrap();
            p.checkpoint = Some(note.replace("wNI9ajBFAiAh", "wNI9ajBFAiAi"));
        }
        let v = verify(
            &s,
            "sigstore-3.6.1.tar.gz",
            REAL_SHA256,
            &TrustRoot::sigstore_public(),
        );
        let why = v.checks.transparency_log.reason().unwrap().to_string();
        assert!(why.contains("checkpoint"), "{why}");
    }

    #[test]
    fn the_inclusion_proof_alone_verifies() {
        let mut s = real();
        s.tlog_entries[0].set = None;
        let v = verify(
            &s,
            "sigstore-3.6.1.tar.gz",
            REAL_SHA256,
            &TrustRoot::sigstore_public(),
        );
        assert_eq!(v.checks.transparency_log, Check::Passed);
        // Without the signed timestamp the entry's time is nobody's word.
        assert!(
            v.notes[0].contains("validity times were not checked"),
            "{:?}",
            v.notes
        );
    }

    /// A DSSE bundle logged in Rekor v2 (`hashedrekord` 0.0.2 over the PAE digest, Ed25519
    /// checkpoint, RFC 3161 time) on Sigstore's staging instance: sigstore-python's test asset
    /// `a.dsse.staging-rekor-v2.txt.sigstore.json`, with the staging `trusted_root.json` from
    /// the sigstore 4.5.1 wheel.
    #[test]
    fn a_rekor_v2_bundle_verifies_by_its_inclusion_proof() {
        let bundle = include_bytes!("testdata/a.dsse.staging-rekor-v2.txt.sigstore.json");
        let root =
            TrustRoot::from_json(include_bytes!("testdata/sigstage_trusted_root.json")).unwrap();
        let signed = crate::attest::parse_sigstore_bundle(bundle)
            .unwrap()
            .remove(0);
        let sha = "a0cfc71271d6e278e57cd332ff957c3f7043fdda354c4cbb190a30d56efa01bf";
        let v = verify(&signed, "a.txt", sha, &root);
        assert_all_passed(&v);
        assert!(v.notes[0].contains("RFC 3161"), "{:?}", v.notes);
        // The production root trusts neither staging's CA nor its log.
        let v = verify(&signed, "a.txt", sha, &TrustRoot::sigstore_public());
        assert!(v.checks.certificate_chain.failed() && v.checks.transparency_log.failed());
        // Another signature than the one logged.
        let mut other = signed.clone();
        other.tlog_entries[0].body = String::from_utf8(other.tlog_entries[0].body.clone())
            .unwrap()
            .replacen("\"content\":\"MEUCIQCQ", "\"content\":\"MEUCIQCR", 1)
            .into_bytes();
        let v = verify(&other, "a.txt", sha, &root);
        let why = v
            .checks
            .transparency_log
            .reason()
            .unwrap_or_default()
            .to_string();
        assert!(why.contains("another signature"), "{why}");
    }

    #[test]
    fn a_ca_not_valid_at_the_log_time_fails_the_chain() {
        let mut root: Value =
            serde_json::from_slice(include_bytes!("sigstore_trusted_root.json")).unwrap();
        for ca in root["certificateAuthorities"].as_array_mut().unwrap() {
            ca["validFor"]["end"] = "2024-01-01T00:00:00Z".into();
        }
        let root = TrustRoot::from_json(&serde_json::to_vec(&root).unwrap()).unwrap();
        let v = verify(&real(), "sigstore-3.6.1.tar.gz", REAL_SHA256, &root);
        let why = v.checks.certificate_chain.reason().unwrap_or_default();
        assert!(
            why.contains("was not valid at the log's time 2024-12-19T17:09:53Z"),
            "{why}"
        );
        assert!(!v.valid());
    }

    #[test]
    fn pae_is_dssev1() {
        assert_eq!(pae("t", b"ab"), b"DSSEv1 1 t 2 ab");
    }

    #[test]
    fn names_compare_loosely() {
        assert!(loose_name_eq(
            "pypi_attestations-0.0.19.tar.gz",
            "pypi-attestations-0.0.19.tar.gz"
        ));
        assert!(loose_name_eq("Foo.Bar-1.0.tar.gz", "foo_bar-1.0.tar.gz"));
        assert!(!loose_name_eq("foo-1.0.tar.gz", "foo-1.1.tar.gz"));
    }
}

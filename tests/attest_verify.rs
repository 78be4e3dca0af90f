//! The offline checks of publish attestations (`provero::attest`) against a test Sigstore made
//! in the test (tests/common/sigstore.rs): both wire formats, the agreeing case, each way an
//! attestation can be wrong, and hostile input.

mod common;

use common::sigstore::{TestAttestation, TestCa, TestPublisher};
use proptest::prelude::*;
use provero::attest::{
    parse_pep740_provenance, parse_sigstore_bundle, verify, Check, Signed, TrustRoot, Verification,
};

const FILE: &str = "demo-1.0.0.tar.gz";
const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

fn sha(byte: u8) -> String {
    hex::encode([byte; 32])
}

fn publisher() -> TestPublisher {
    TestPublisher::github("acme/demo", COMMIT)
}

fn root_of(ca: &TestCa) -> TrustRoot {
    TrustRoot::from_json(ca.trusted_root_json().as_bytes()).unwrap()
}

fn pep740(att: &TestAttestation) -> Signed {
    let json = serde_json::to_vec(&att.pep740_provenance()).unwrap();
    let mut all = parse_pep740_provenance(&json).unwrap();
    assert_eq!(all.len(), 1);
    all.remove(0)
}

fn bundle(att: &TestAttestation) -> Signed {
    let json = serde_json::to_vec(&att.sigstore_bundle()).unwrap();
    parse_sigstore_bundle(&json).unwrap().remove(0)
}

fn check(signed: &Signed, sha256: &str, root: &TrustRoot) -> Verification {
    verify(signed, FILE, sha256, root)
}

fn assert_agrees(v: &Verification) {
    assert_eq!(v.checks.subject_digest, Check::Passed);
    assert_eq!(v.checks.certificate_chain, Check::Passed);
    assert_eq!(v.checks.signature, Check::Passed);
    assert!(v.valid() && v.digest_matches());
    let p = &v.publisher;
    assert_eq!(
        p.repository.as_deref(),
        Some("https://github.com/acme/demo")
    );
    assert_eq!(p.commit.as_deref(), Some(COMMIT));
    assert_eq!(p.git_ref.as_deref(), Some("refs/tags/v1.0.0"));
    assert_eq!(
        p.issuer.as_deref(),
        Some("https://token.actions.githubusercontent.com")
    );
    let workflow = "https://github.com/acme/demo/.github/workflows/release.yml@refs/tags/v1.0.0";
    assert_eq!(p.workflow.as_deref(), Some(workflow));
    assert_eq!(p.identity.as_deref(), Some(workflow));
    assert_eq!(v.subjects[0].name, FILE);
}

#[test]
fn an_agreeing_attestation_verifies_in_both_wire_formats() {
    let ca = TestCa::new();
    let dir = tempfile::tempdir().unwrap();
    let root = TrustRoot::load(&ca.write_trusted_root(dir.path())).unwrap();
    let att = ca.sign(&publisher(), FILE, &sha(7));
    for signed in [pep740(&att), bundle(&att)] {
        let v = check(&signed, &sha(7), &root);
        assert_agrees(&v);
        // A root without logs: no log check, and no trusted time for the certificate.
        assert_eq!(
            v.checks.transparency_log,
            Check::NotChecked("the trust root names no transparency log".into())
        );
        assert!(v
            .notes
            .iter()
            .any(|n| n.contains("validity times were not checked")));
    }
    // RubyGems serves a JSON array of bundles.
    let array = serde_json::to_vec(&serde_json::json!([
        att.sigstore_bundle(),
        att.sigstore_bundle()
    ]))
    .unwrap();
    let all = parse_sigstore_bundle(&array).unwrap();
    assert_eq!(all.len(), 2);
    assert_agrees(&check(&all[1], &sha(7), &root));
    // PyPI normalises file names: the subject's name is compared loosely.
    let v = verify(
        &pep740(&att),
        "Demo_1.0.0.tar.gz",
        &sha(7).to_uppercase(),
        &root,
    );
    assert!(
        v.digest_matches() && v.notes.iter().all(|n| !n.contains("is named")),
        "{:?}",
        v.notes
    );
}

#[test]
fn a_subject_digest_that_is_not_the_artifacts_fails_naming_both() {
    let ca = TestCa::new();
    let att = ca.sign(&publisher(), FILE, &sha(1));
    for signed in [pep740(&att), bundle(&att)] {
        let v = check(&signed, &sha(2), &root_of(&ca));
        let Check::Failed(why) = &v.checks.subject_digest else {
            panic!("{:?}", v.checks.subject_digest)
        };
        assert!(why.contains(&sha(1)) && why.contains(&sha(2)), "{why}");
        assert!(v.valid(), "the attestation itself is genuine");
        assert!(!v.digest_matches());
    }
}

#[test]
fn a_bad_signature_fails() {
    let ca = TestCa::new();
    let att = ca.sign(&publisher(), FILE, &sha(3)).with_bad_signature();
    for signed in [pep740(&att), bundle(&att)] {
        let v = check(&signed, &sha(3), &root_of(&ca));
        assert!(v.checks.signature.failed(), "{:?}", v.checks.signature);
        assert!(v
            .checks
            .signature
            .reason()
            .unwrap()
            .contains("DSSE signature"));
        assert_eq!(v.checks.certificate_chain, Check::Passed);
        assert!(!v.valid());
    }
}

#[test]
fn a_certificate_from_another_ca_fails_the_chain() {
    let ours = TestCa::new();
    let theirs = TestCa::new();
    let att = theirs.sign(&publisher(), FILE, &sha(4));
    for signed in [pep740(&att), bundle(&att)] {
        let v = check(&signed, &sha(4), &root_of(&ours));
        let why = v.checks.certificate_chain.reason().unwrap_or_default();
        assert!(v.checks.certificate_chain.failed(), "{:?}", v.checks);
        // Same names, other keys: the issuer is named but its signature does not hold.
        assert!(why.contains("provero test intermediate"), "{why}");
        assert_eq!(v.checks.signature, Check::Passed, "signed by its own leaf");
        assert!(!v.valid());
    }
    // The public Sigstore root trusts neither, and wants a log entry.
    let v = check(&pep740(&att), &sha(4), &TrustRoot::sigstore_public());
    assert!(v.checks.certificate_chain.failed() && v.checks.transparency_log.failed());
    assert!(v
        .checks
        .certificate_chain
        .reason()
        .unwrap()
        .contains("not issued by a certificate authority of the trust root"));
}

#[test]
fn with_a_transparency_log_all_four_checks_pass() {
    let ca = TestCa::with_log();
    let root = root_of(&ca);
    assert!(root.has_tlogs());
    let att = ca.sign(&publisher(), FILE, &sha(5));
    for signed in [pep740(&att), bundle(&att)] {
        let v = check(&signed, &sha(5), &root);
        assert_agrees(&v);
        assert_eq!(v.checks.transparency_log, Check::Passed);
        assert!(
            v.notes.is_empty(),
            "the log's time was checked: {:?}",
            v.notes
        );
    }
    // The log recorded the real signature, not a changed one.
    let bad = att.clone().with_bad_signature();
    let v = check(&bundle(&bad), &sha(5), &root);
    assert!(v.checks.signature.failed() && v.checks.transparency_log.failed());
    // An attestation from a CA without a log, checked against a root that names one.
    let no_log = TestCa::new().sign(&publisher(), FILE, &sha(5));
    let v = check(&pep740(&no_log), &sha(5), &root);
    assert!(v
        .checks
        .transparency_log
        .reason()
        .unwrap()
        .contains("no transparency log entry"));
    // Another log's entry is not this root's.
    let v = check(&pep740(&att), &sha(5), &root_of(&TestCa::with_log()));
    assert!(
        v.checks
            .transparency_log
            .reason()
            .unwrap()
            .contains("does not name"),
        "{:?}",
        v.checks
    );
}

/// RubyGems' bundles sign the gem's digest (`messageSignature`), not a statement.
#[test]
fn a_message_signature_over_the_gem_digest_is_checked_like_a_statement() {
    for ca in [TestCa::new(), TestCa::with_log()] {
        let root = root_of(&ca);
        let att = ca.sign_digest(&publisher(), &sha(10));
        let array = serde_json::to_vec(&serde_json::json!([att.sigstore_bundle()])).unwrap();
        let signed = parse_sigstore_bundle(&array).unwrap().remove(0);
        assert_eq!(signed.payload_type(), None);
        let v = verify(&signed, "demo-1.0.0.gem", &sha(10), &root);
        assert_eq!(v.checks.subject_digest, Check::Passed);
        assert_eq!(v.checks.certificate_chain, Check::Passed);
        assert_eq!(v.checks.signature, Check::Passed);
        assert!(!v.checks.transparency_log.failed(), "{:?}", v.checks);
        assert_eq!(root.has_tlogs(), v.checks.transparency_log.passed());
        assert_eq!(v.publisher.commit.as_deref(), Some(COMMIT));
        assert!(v.predicate_type.is_none());
        // Another gem's digest, a changed signature, another CA.
        let v = verify(&signed, "demo-1.0.0.gem", &sha(11), &root);
        let why = v.checks.subject_digest.reason().unwrap();
        assert!(why.contains(&sha(10)) && why.contains(&sha(11)), "{why}");
        let bad = bundle(&att.clone().with_bad_signature());
        assert!(verify(&bad, "demo-1.0.0.gem", &sha(10), &root)
            .checks
            .signature
            .failed());
        let foreign = bundle(&TestCa::new().sign_digest(&publisher(), &sha(10)));
        let v = verify(&foreign, "demo-1.0.0.gem", &sha(10), &root);
        assert!(v.checks.certificate_chain.failed() && !v.valid());
    }
}

#[test]
fn certificate_times_are_checked_against_the_log_time_only() {
    let past = time::OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
    // Without a log there is no trusted time: a long-expired test leaf is not a failure.
    let ca = TestCa::new();
    let att = ca.sign_at(&publisher(), FILE, &sha(9), past);
    let v = check(&pep740(&att), &sha(9), &root_of(&ca));
    assert_agrees(&v);
    assert!(
        v.notes
            .iter()
            .any(|n| n.contains("validity times were not checked")),
        "{:?}",
        v.notes
    );
    // With a log, the signed log time (inside the leaf's 10 minutes) is what counts.
    let ca = TestCa::with_log();
    let v = check(
        &bundle(&ca.sign_at(&publisher(), FILE, &sha(9), past)),
        &sha(9),
        &root_of(&ca),
    );
    assert_agrees(&v);
    assert_eq!(v.checks.transparency_log, Check::Passed);
    // The report's shape of a check.
    let json = serde_json::to_value(&v.checks).unwrap();
    assert_eq!(json["signature"], serde_json::json!({"status": "passed"}));
    let nc = serde_json::to_value(Check::NotChecked("why".into())).unwrap();
    assert_eq!(
        nc,
        serde_json::json!({"status": "not-checked", "reason": "why"})
    );
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    for input in [
        &b""[..],
        b"null",
        b"[]",
        b"{\"attestation_bundles\":[{}]}",
        b"\xff\xfe",
        b"[[[[[[[[",
        b"{\"verificationMaterial\":{\"certificate\":{\"rawBytes\":\"!!\"}}}",
    ] {
        let _ = parse_sigstore_bundle(input).map(|v| v.len());
        assert!(parse_pep740_provenance(input).is_err(), "{input:?}");
    }
    // Well-formed JSON around a certificate that is not one: the checks fail, nothing panics.
    let ca = TestCa::new();
    let mut att = ca.sign(&publisher(), FILE, &sha(6));
    att.certificate_der = b"not a certificate".to_vec();
    let v = check(&pep740(&att), &sha(6), &root_of(&ca));
    assert!(v.checks.certificate_chain.failed() && v.checks.signature.failed());
    assert!(!v.valid());
    let e = TrustRoot::from_json(b"{}").unwrap_err().to_string();
    assert_eq!(
        e,
        "the trust root is malformed: it names no certificate authority"
    );
}

/// A trust root and genuine documents: PEP 740, a DSSE bundle, a message-signature bundle.
fn sample() -> &'static (TrustRoot, [Vec<u8>; 3]) {
    static S: std::sync::OnceLock<(TrustRoot, [Vec<u8>; 3])> = std::sync::OnceLock::new();
    S.get_or_init(|| {
        let ca = TestCa::with_log();
        let att = ca.sign(&publisher(), FILE, &sha(8));
        let gem = ca.sign_digest(&publisher(), &sha(8));
        let docs = [
            att.pep740_provenance(),
            att.sigstore_bundle(),
            gem.sigstore_bundle(),
        ];
        (root_of(&ca), docs.map(|d| serde_json::to_vec(&d).unwrap()))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = parse_sigstore_bundle(&bytes);
        let _ = parse_pep740_provenance(&bytes);
        let _ = TrustRoot::from_json(&bytes);
    }

    /// A changed byte anywhere in a genuine attestation is an error or a verification that
    /// does not pass every check, never a panic.
    #[test]
    fn a_changed_byte_never_panics(at in any::<prop::sample::Index>(), to in any::<u8>(), which in 0..3usize) {
        let (root, docs) = sample();
        let mut doc = docs[which].clone();
        let i = at.index(doc.len());
        doc[i] = to;
        let parsed = if which == 0 { parse_pep740_provenance(&doc) } else { parse_sigstore_bundle(&doc) };
        if let Ok(all) = parsed {
            for s in &all {
                let v = verify(s, FILE, &sha(8), root);
                let _ = (v.valid(), v.digest_matches());
            }
        }
    }
}

//! A test Sigstore: a root CA, an intermediate and short-lived Fulcio-style leaves made in the
//! test (rcgen), DSSE envelopes signed with the leaf's P-256 key, and optionally a test
//! transparency log that signs entry timestamps and checkpoints. Attestations come out in both
//! wire formats: PEP 740 provenance objects (PyPI) and Sigstore bundles (RubyGems).
//!
//! ```ignore
//! let ca = TestCa::new();                       // `TestCa::with_log()` adds a Rekor-like log
//! let root = ca.write_trusted_root(dir);        // for `--trust-root`
//! let att = ca.sign(&TestPublisher::github("acme/demo", &commit), "demo-1.0.tar.gz", &sha);
//! serve(att.pep740_provenance());               // or att.sigstore_bundle()
//! let gem = ca.sign_digest(&publisher, &gem_sha); // RubyGems: messageSignature bundle
//! ```
//! A certificate from another CA: sign with a second `TestCa` whose root is not written.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use p256::ecdsa::signature::hazmat::PrehashSigner as _;
use p256::ecdsa::signature::Signer as _;
use p256::pkcs8::DecodePrivateKey as _;
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// Who the test leaf says published (Fulcio extensions .12/.13/.14/.9, SAN = workflow).
#[derive(Clone, Debug)]
pub struct TestPublisher {
    /// `https://github.com/owner/name`
    pub repository: String,
    pub commit: String,
    pub git_ref: String,
    /// The build signer URI: `<repository>/.github/workflows/release.yml@<ref>`.
    pub workflow: String,
}

impl TestPublisher {
    /// A GitHub Actions release from `owner/name` at `commit`, ref `refs/tags/v1.0.0`.
    pub fn github(owner_name: &str, commit: &str) -> TestPublisher {
        let repository = format!("https://github.com/{owner_name}");
        let git_ref = "refs/tags/v1.0.0".to_string();
        TestPublisher {
            workflow: format!("{repository}/.github/workflows/release.yml@{git_ref}"),
            repository,
            commit: commit.to_string(),
            git_ref,
        }
    }

    /// `owner/name` (PEP 740's `publisher.repository`).
    fn owner_name(&self) -> &str {
        self.repository.trim_start_matches("https://github.com/")
    }
}

struct TestLog {
    key: p256::ecdsa::SigningKey,
    spki: Vec<u8>,
}

pub struct TestCa {
    root: rcgen::Certificate,
    inter: rcgen::Certificate,
    inter_key: KeyPair,
    log: Option<TestLog>,
}

/// One signed attestation; `pep740_provenance` / `sigstore_bundle` render it.
#[derive(Clone)]
pub struct TestAttestation {
    /// The in-toto statement (empty for a message signature).
    pub statement: Vec<u8>,
    /// What a message signature signs (`TestCa::sign_digest`).
    pub message_digest: Option<[u8; 32]>,
    pub signature: Vec<u8>,
    pub certificate_der: Vec<u8>,
    pub publisher: TestPublisher,
    /// The transparency log entry (bundle JSON shape), with `TestCa::with_log`.
    pub tlog_entry: Option<Value>,
}

const IN_TOTO: &str = "application/vnd.in-toto+json";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A DER UTF8String, as Fulcio v2 writes its extension values.
fn der_utf8(s: &str) -> Vec<u8> {
    let len = s.len();
    let mut out = vec![0x0c];
    if len < 0x80 {
        out.push(len as u8);
    } else if len < 0x100 {
        out.extend([0x81, len as u8]);
    } else {
        out.extend([0x82, (len >> 8) as u8, len as u8]);
    }
    out.extend_from_slice(s.as_bytes());
    out
}

fn fulcio_ext(n: u64, value: &str) -> CustomExtension {
    CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 57264, 1, n], der_utf8(value))
}

fn ca_params(cn: &str) -> CertificateParams {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name
        .push(DnType::OrganizationName, "provero.test");
    p.distinguished_name.push(DnType::CommonName, cn);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p.not_before = rcgen::date_time_ymd(2020, 1, 1);
    p.not_after = rcgen::date_time_ymd(2100, 1, 1);
    p
}

/// A fresh P-256 key as rcgen and p256 both see it.
fn p256_key() -> (KeyPair, p256::ecdsa::SigningKey) {
    let kp = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let sk = p256::ecdsa::SigningKey::from_pkcs8_der(&kp.serialize_der()).unwrap();
    (kp, sk)
}

fn sign_der(key: &p256::ecdsa::SigningKey, msg: &[u8]) -> Vec<u8> {
    let sig: p256::ecdsa::Signature = key.sign(msg);
    sig.to_der().as_bytes().to_vec()
}

impl TestCa {
    /// A root (P-384) and an intermediate (P-384), like Fulcio's; no transparency log.
    pub fn new() -> TestCa {
        let root_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
        let root = ca_params("provero test root")
            .self_signed(&root_key)
            .unwrap();
        let inter_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
        let inter = ca_params("provero test intermediate")
            .signed_by(&inter_key, &root, &root_key)
            .unwrap();
        TestCa {
            root,
            inter,
            inter_key,
            log: None,
        }
    }

    /// With a test transparency log: attestations carry an entry whose signed entry timestamp,
    /// inclusion proof (a tree of one) and checkpoint the log's key signs.
    pub fn with_log() -> TestCa {
        let (kp, key) = p256_key();
        TestCa {
            log: Some(TestLog {
                key,
                spki: kp.public_key_der(),
            }),
            ..TestCa::new()
        }
    }

    /// A Sigstore `trusted_root.json` (v0.1) naming this CA (and its log, if any).
    pub fn trusted_root_json(&self) -> String {
        let tlogs: Vec<Value> = self
            .log
            .iter()
            .map(|l| {
                json!({
                    "baseUrl": "https://rekor.provero.test",
                    "hashAlgorithm": "SHA2_256",
                    "publicKey": {"rawBytes": b64(&l.spki), "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                                  "validFor": {"start": "2020-01-01T00:00:00Z"}},
                    "logId": {"keyId": b64(&Sha256::digest(&l.spki))},
                })
            })
            .collect();
        serde_json::to_string_pretty(&json!({
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": tlogs,
            "certificateAuthorities": [{
                "subject": {"organization": "provero.test", "commonName": "provero test root"},
                "uri": "https://fulcio.provero.test",
                "certChain": {"certificates": [
                    {"rawBytes": b64(self.inter.der())},
                    {"rawBytes": b64(self.root.der())},
                ]},
                "validFor": {"start": "2020-01-01T00:00:00Z"},
            }],
            "ctlogs": [],
            "timestampAuthorities": [],
        }))
        .unwrap()
    }

    /// Write `trusted_root.json` into `dir`; returns its path.
    pub fn write_trusted_root(&self, dir: &Path) -> PathBuf {
        let p = dir.join("trusted_root.json");
        std::fs::write(&p, self.trusted_root_json()).unwrap();
        p
    }

    /// A publish attestation (in-toto statement naming `file_name` with `sha256`) signed by a
    /// fresh 10-minute leaf naming `publisher`.
    pub fn sign(
        &self,
        publisher: &TestPublisher,
        file_name: &str,
        sha256: &str,
    ) -> TestAttestation {
        let now = time::OffsetDateTime::now_utc();
        self.sign_at(
            publisher,
            file_name,
            sha256,
            now - time::Duration::minutes(1),
        )
    }

    /// Like [`TestCa::sign`] with a leaf valid for 10 minutes from `not_before` (the log, if
    /// any, records the entry a minute after it).
    pub fn sign_at(
        &self,
        publisher: &TestPublisher,
        file_name: &str,
        sha256: &str,
        not_before: time::OffsetDateTime,
    ) -> TestAttestation {
        let statement = serde_json::to_vec(&json!({
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": file_name, "digest": {"sha256": sha256}}],
            "predicateType": "https://docs.pypi.org/attestations/publish/v1",
            "predicate": null,
        }))
        .unwrap();
        let pae = [
            format!("DSSEv1 {} {IN_TOTO} {} ", IN_TOTO.len(), statement.len()).as_bytes(),
            &statement[..],
        ]
        .concat();
        let (leaf, key) = self.leaf(publisher, not_before);
        let signature = sign_der(&key, &pae);
        let body = json!({"apiVersion": "0.0.1", "kind": "dsse", "spec": {
            "payloadHash": {"algorithm": "sha256", "value": hex::encode(Sha256::digest(&statement))},
            "signatures": [{"signature": b64(&signature), "verifier": b64(leaf.pem().as_bytes())}]}});
        self.attestation(
            publisher, &leaf, statement, None, signature, body, not_before,
        )
    }

    /// What RubyGems serves: a bundle whose `messageSignature` signs the artifact's SHA-256
    /// (hex) itself, no statement (`sigstore_bundle` only).
    pub fn sign_digest(&self, publisher: &TestPublisher, sha256: &str) -> TestAttestation {
        let digest: [u8; 32] = hex::decode(sha256).unwrap().try_into().unwrap();
        let not_before = time::OffsetDateTime::now_utc() - time::Duration::minutes(1);
        let (leaf, key) = self.leaf(publisher, not_before);
        let sig: p256::ecdsa::Signature = key.sign_prehash(&digest).unwrap();
        let signature = sig.to_der().as_bytes().to_vec();
        let body = json!({"apiVersion": "0.0.1", "kind": "hashedrekord", "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": sha256}},
            "signature": {"content": b64(&signature), "publicKey": {"content": b64(leaf.pem().as_bytes())}}}});
        self.attestation(
            publisher,
            &leaf,
            Vec::new(),
            Some(digest),
            signature,
            body,
            not_before,
        )
    }

    /// A fresh Fulcio-style leaf naming `publisher`, valid 10 minutes from `not_before`.
    fn leaf(
        &self,
        publisher: &TestPublisher,
        not_before: time::OffsetDateTime,
    ) -> (rcgen::Certificate, p256::ecdsa::SigningKey) {
        let (leaf_kp, leaf_key) = p256_key();
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name = rcgen::DistinguishedName::new();
        p.is_ca = IsCa::ExplicitNoCa;
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
        let san = publisher.workflow.as_str().try_into().unwrap();
        p.subject_alt_names = vec![SanType::URI(san)];
        p.not_before = not_before;
        p.not_after = not_before + time::Duration::minutes(10);
        p.custom_extensions = vec![
            fulcio_ext(8, "https://token.actions.githubusercontent.com"),
            fulcio_ext(9, &publisher.workflow),
            fulcio_ext(12, &publisher.repository),
            fulcio_ext(13, &publisher.commit),
            fulcio_ext(14, &publisher.git_ref),
            fulcio_ext(18, &publisher.workflow),
        ];
        let leaf = p.signed_by(&leaf_kp, &self.inter, &self.inter_key).unwrap();
        (leaf, leaf_key)
    }

    #[allow(clippy::too_many_arguments)]
    fn attestation(
        &self,
        publisher: &TestPublisher,
        leaf: &rcgen::Certificate,
        statement: Vec<u8>,
        message_digest: Option<[u8; 32]>,
        signature: Vec<u8>,
        body: Value,
        not_before: time::OffsetDateTime,
    ) -> TestAttestation {
        let logged = (not_before + time::Duration::minutes(1)).unix_timestamp();
        TestAttestation {
            tlog_entry: self.log.as_ref().map(|log| log_entry(log, &body, logged)),
            statement,
            message_digest,
            signature,
            certificate_der: leaf.der().to_vec(),
            publisher: publisher.clone(),
        }
    }
}

impl Default for TestCa {
    fn default() -> TestCa {
        TestCa::new()
    }
}

/// A Rekor entry (`body`: `dsse` or `hashedrekord` 0.0.1) at index 0 of a one-leaf tree, as
/// a bundle carries it.
fn log_entry(log: &TestLog, body: &Value, time: i64) -> Value {
    let kind = body["kind"].as_str().unwrap().to_string();
    let body = serde_json::to_vec(body).unwrap();
    let log_id = Sha256::digest(&log.spki);
    let set_msg = format!(
        r#"{{"body":"{}","integratedTime":{time},"logID":"{}","logIndex":0}}"#,
        b64(&body),
        hex::encode(log_id)
    );
    let root: [u8; 32] = Sha256::digest([&[0u8][..], &body].concat()).into();
    let note = format!("rekor.provero.test - 1\n1\n{}\n", b64(&root));
    let note_sig = [&log_id[..4], &sign_der(&log.key, note.as_bytes())].concat();
    json!({
        "logIndex": "0",
        "logId": {"keyId": b64(&log_id)},
        "kindVersion": {"kind": kind, "version": "0.0.1"},
        "integratedTime": time.to_string(),
        "inclusionPromise": {"signedEntryTimestamp": b64(&sign_der(&log.key, set_msg.as_bytes()))},
        "inclusionProof": {"logIndex": "0", "rootHash": b64(&root), "treeSize": "1", "hashes": [],
                           "checkpoint": {"envelope": format!("{note}\n\u{2014} rekor.provero.test {}\n", b64(&note_sig))}},
        "canonicalizedBody": b64(&body),
    })
}

impl TestAttestation {
    fn entries(&self) -> Vec<Value> {
        self.tlog_entry.iter().cloned().collect()
    }

    /// A PEP 740 provenance object, as PyPI's integrity API serves it.
    pub fn pep740_provenance(&self) -> Value {
        assert!(self.message_digest.is_none(), "PEP 740 carries statements");
        json!({
            "version": 1,
            "attestation_bundles": [{
                "publisher": {"kind": "GitHub", "repository": self.publisher.owner_name(),
                              "workflow": "release.yml", "environment": null},
                "attestations": [{
                    "version": 1,
                    "verification_material": {"certificate": b64(&self.certificate_der),
                                              "transparency_entries": self.entries()},
                    "envelope": {"statement": b64(&self.statement), "signature": b64(&self.signature)},
                }],
            }],
        })
    }

    /// A Sigstore bundle v0.3 with a DSSE envelope, or with a `messageSignature` for
    /// `sign_digest` (RubyGems serves a JSON array of them).
    pub fn sigstore_bundle(&self) -> Value {
        if let Some(d) = &self.message_digest {
            return json!({
                "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
                "verificationMaterial": {"certificate": {"rawBytes": b64(&self.certificate_der)},
                                         "tlogEntries": self.entries()},
                "messageSignature": {"messageDigest": {"algorithm": "SHA2_256", "digest": b64(d)},
                                     "signature": b64(&self.signature)},
            });
        }
        json!({
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": {"certificate": {"rawBytes": b64(&self.certificate_der)},
                                     "tlogEntries": self.entries()},
            "dsseEnvelope": {"payload": b64(&self.statement), "payloadType": IN_TOTO,
                             "signatures": [{"sig": b64(&self.signature), "keyid": ""}]},
        })
    }

    /// The same attestation with one byte of the signature changed.
    pub fn with_bad_signature(mut self) -> Self {
        let i = self.signature.len() - 2;
        self.signature[i] ^= 0x01;
        self
    }
}

//! Publish attestations checked offline: who published an artifact, from which commit, and
//! whether the signature over that claim holds (#11).
//!
//! The registries serve Sigstore-signed in-toto statements (PyPI: PEP 740 provenance objects;
//! RubyGems: Sigstore bundles, whose `messageSignature` signs the gem's SHA-256 directly).
//! This module parses both wire formats into one [`Signed`] and
//! [`verify`]s it against a [`TrustRoot`] without any network access:
//!
//! - `subject_digest`: the statement names the artifact (sha256, file name compared loosely),
//!   or the message signature's digest is the artifact's;
//! - `certificate_chain`: the Fulcio leaf chains to a CA of the trust root;
//! - `signature`: the DSSE signature (over PAE), or the message signature over the digest,
//!   verifies with the leaf's key;
//! - `transparency_log`: the Rekor entry's signed entry timestamp and inclusion proof verify with
//!   the log's key, the entry is this envelope, and the leaf was valid at the log's time.
//!
//! Whatever is not checked is [`Check::NotChecked`] with a reason, never `Passed`.
//!
//! Files: `trust_root.rs` (Sigstore `trusted_root.json` v0.1), `bundle.rs` (wire formats →
//! [`Signed`]), `fulcio.rs` (certificates: chain, identity extensions), `tlog.rs` (Rekor
//! entries), `verify.rs` (the checks). `sigstore_trusted_root.json` is the public-good Sigstore
//! trust root, copied on 2026-12-01 from the `sigstore` 4.5.1 wheel on PyPI
//! (`sigstore/_store/https%3A%2F%2Ftuf-repo-cdn.sigstore.dev/trusted_root.json`, public TUF data).

mod bundle;
pub mod evidence;
mod fulcio;
pub mod gather;
mod tlog;
mod trust_root;
mod verify;

pub use bundle::{parse_pep740_provenance, parse_sigstore_bundle};
pub use trust_root::TrustRoot;
pub use verify::verify;

/// Input larger than this is refused before parsing (a provenance object is a few KiB).
pub const MAX_INPUT_BYTES: usize = 8 << 20;

/// Why an attestation or a trust root could not be read.
#[derive(Debug, thiserror::Error)]
pub enum AttestError {
    #[error("the attestation is not valid JSON: {0}")]
    Json(String),
    #[error("the attestation is malformed: {0}")]
    Malformed(String),
    #[error("the attestation is {0} bytes, more than the {MAX_INPUT_BYTES} provero reads")]
    TooLarge(usize),
    #[error("the trust root is malformed: {0}")]
    TrustRoot(String),
    #[error("could not read the trust root {path}: {message}")]
    TrustRootFile { path: String, message: String },
}

/// Who published, from the Fulcio certificate's extensions (OIDs 1.3.6.1.4.1.57264.1.*: .8
/// issuer, .9 build signer URI (the workflow), .12 source repository URI, .13 source repository
/// digest (the commit), .14 source repository ref) and its subject alternative name.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Publisher {
    pub issuer: Option<String>,
    pub repository: Option<String>,
    pub commit: Option<String>,
    pub git_ref: Option<String>,
    pub workflow: Option<String>,
    /// The certificate's subject alternative name (URI or email).
    pub identity: Option<String>,
}

/// The outcome of one check. Reasons read like sentences.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    Passed,
    Failed(String),
    NotChecked(String),
}

/// `{"status": "passed" | "failed" | "not-checked", "reason"?: "..."}`
impl serde::Serialize for Check {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Check", 2)?;
        st.serialize_field("status", self.status())?;
        match self.reason() {
            Some(r) => st.serialize_field("reason", r)?,
            None => st.skip_field("reason")?,
        }
        st.end()
    }
}

impl Check {
    pub fn passed(&self) -> bool {
        matches!(self, Check::Passed)
    }

    pub fn failed(&self) -> bool {
        matches!(self, Check::Failed(_))
    }

    /// `passed`, `failed` or `not-checked` (the report's word).
    pub fn status(&self) -> &'static str {
        match self {
            Check::Passed => "passed",
            Check::Failed(_) => "failed",
            Check::NotChecked(_) => "not-checked",
        }
    }

    /// The reason, for a check that did not pass.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Check::Passed => None,
            Check::Failed(r) | Check::NotChecked(r) => Some(r),
        }
    }
}

/// Every check made on one attestation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Checks {
    pub subject_digest: Check,
    pub certificate_chain: Check,
    pub signature: Check,
    pub transparency_log: Check,
}

/// A subject of the in-toto statement.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Subject {
    pub name: String,
    /// Lower-case hex; `None` when the subject names no sha256 digest.
    pub sha256: Option<String>,
}

/// What [`verify`] found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Verification {
    /// Read from the leaf certificate (trust it only when [`Verification::valid`]).
    pub publisher: Publisher,
    pub checks: Checks,
    pub subjects: Vec<Subject>,
    pub predicate_type: Option<String>,
    /// What was not checked and why, beyond the four checks (e.g. certificate validity times
    /// when no log time is known).
    pub notes: Vec<String>,
}

impl Verification {
    /// The signature is the leaf's and the leaf is the trust root's; a transparency log check
    /// that was made did not fail.
    pub fn valid(&self) -> bool {
        self.checks.certificate_chain.passed()
            && self.checks.signature.passed()
            && !self.checks.transparency_log.failed()
    }

    /// The statement names the artifact's sha256.
    pub fn digest_matches(&self) -> bool {
        self.checks.subject_digest.passed()
    }
}

/// One signed attestation, normalised from either wire format.
#[derive(Debug, Clone)]
pub struct Signed {
    /// The DSSE envelope (empty for a message signature).
    pub(crate) payload_type: String,
    pub(crate) payload: Vec<u8>,
    /// A bundle's `messageSignature` signs the artifact's SHA-256 itself (what RubyGems
    /// serves): no statement, the digest is the subject.
    pub(crate) message_digest: Option<[u8; 32]>,
    pub(crate) signature: Vec<u8>,
    /// The leaf certificate (DER).
    pub(crate) certificate: Vec<u8>,
    pub(crate) tlog_entries: Vec<tlog::Entry>,
    /// PEP 740's `publisher` object: the registry's own, unsigned word.
    pub(crate) claimed_publisher: Option<serde_json::Value>,
}

impl Signed {
    /// The DSSE payload type (`application/vnd.in-toto+json` for in-toto statements); `None`
    /// for a message signature over the artifact's digest.
    pub fn payload_type(&self) -> Option<&str> {
        self.message_digest
            .is_none()
            .then_some(self.payload_type.as_str())
    }

    /// The registry's unsigned description of the publisher (PEP 740 `publisher`), if any.
    pub fn claimed_publisher(&self) -> Option<&serde_json::Value> {
        self.claimed_publisher.as_ref()
    }

    /// How many transparency log entries the attestation carries.
    pub fn tlog_entry_count(&self) -> usize {
        self.tlog_entries.len()
    }
}

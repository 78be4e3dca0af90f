//! The Sigstore trust root (`trusted_root.json`, media type
//! `application/vnd.dev.sigstore.trustedroot+json;version=0.1`): the certificate authorities
//! (Fulcio) whose leaves may sign attestations and the transparency logs (Rekor) whose entries
//! prove when. Certificate transparency logs and timestamp authorities are read past: provero
//! does not check SCTs or RFC 3161 timestamps (said in the report as not checked).

use std::path::Path;

use base64::Engine as _;
use serde::Deserialize;

use super::fulcio::PublicKey;
use super::AttestError;

static SIGSTORE_PUBLIC: &[u8] = include_bytes!("sigstore_trusted_root.json");

/// A trust root file is a few KiB; refuse anything absurd before parsing.
const MAX_TRUST_ROOT_BYTES: usize = 4 << 20;

/// Certificate authorities and transparency logs to trust.
#[derive(Debug, Clone)]
pub struct TrustRoot {
    pub(crate) cas: Vec<CertificateAuthority>,
    pub(crate) tlogs: Vec<TransparencyLog>,
}

/// An interval of Unix seconds; an open end is unbounded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ValidFor {
    pub start: Option<i64>,
    pub end: Option<i64>,
}

impl ValidFor {
    pub fn contains(&self, t: i64) -> bool {
        self.start.map_or(true, |s| s <= t) && self.end.map_or(true, |e| t <= e)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct CertificateAuthority {
    pub uri: String,
    /// DER certificates, the issuing one first, the root last.
    pub certs: Vec<Vec<u8>>,
    pub valid_for: ValidFor,
}

#[derive(Debug, Clone)]
pub(crate) struct TransparencyLog {
    pub base_url: String,
    /// SHA-256 of the log's public key (DER SPKI), as bundles name the log.
    pub key_id: Vec<u8>,
    /// `None` when the key's algorithm is one provero does not verify.
    pub key: Option<PublicKey>,
    pub key_details: String,
    pub valid_for: ValidFor,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRoot {
    media_type: Option<String>,
    #[serde(default)]
    tlogs: Vec<RawLog>,
    #[serde(default)]
    certificate_authorities: Vec<RawCa>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLog {
    #[serde(default)]
    base_url: String,
    public_key: RawKey,
    log_id: RawLogId,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawKey {
    raw_bytes: String,
    #[serde(default)]
    key_details: String,
    valid_for: Option<RawValidFor>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLogId {
    key_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCa {
    #[serde(default)]
    uri: String,
    cert_chain: RawChain,
    valid_for: Option<RawValidFor>,
}

#[derive(Deserialize)]
struct RawChain {
    certificates: Vec<RawCert>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCert {
    raw_bytes: String,
}

#[derive(Deserialize)]
struct RawValidFor {
    start: Option<String>,
    end: Option<String>,
}

impl TrustRoot {
    /// The public-good Sigstore instance (Fulcio, Rekor), embedded in provero.
    pub fn sigstore_public() -> TrustRoot {
        TrustRoot::from_json(SIGSTORE_PUBLIC).expect("the embedded Sigstore trust root parses")
    }

    /// Parse a Sigstore `trusted_root.json` (v0.1).
    pub fn from_json(bytes: &[u8]) -> Result<TrustRoot, AttestError> {
        if bytes.len() > MAX_TRUST_ROOT_BYTES {
            return Err(AttestError::TrustRoot(format!(
                "it is {} bytes, more than the {MAX_TRUST_ROOT_BYTES} provero reads",
                bytes.len()
            )));
        }
        let raw: RawRoot = serde_json::from_slice(bytes)
            .map_err(|e| AttestError::TrustRoot(format!("it is not a trusted_root.json: {e}")))?;
        if let Some(mt) = &raw.media_type {
            if !mt.starts_with("application/vnd.dev.sigstore.trustedroot") {
                return Err(AttestError::TrustRoot(format!(
                    "its media type is {mt:?}, not application/vnd.dev.sigstore.trustedroot+json"
                )));
            }
        }
        let mut cas = Vec::new();
        for (i, ca) in raw.certificate_authorities.into_iter().enumerate() {
            let certs = ca
                .cert_chain
                .certificates
                .iter()
                .map(|c| {
                    b64(
                        &c.raw_bytes,
                        &format!("certificateAuthorities[{i}] certificate"),
                    )
                })
                .collect::<Result<Vec<_>, _>>()?;
            for (j, der) in certs.iter().enumerate() {
                super::fulcio::parse_certificate(der).map_err(|e| {
                    AttestError::TrustRoot(format!(
                        "certificateAuthorities[{i}] certificate {j} is not an X.509 certificate: {e}"
                    ))
                })?;
            }
            if certs.is_empty() {
                return Err(AttestError::TrustRoot(format!(
                    "certificateAuthorities[{i}] has no certificate"
                )));
            }
            cas.push(CertificateAuthority {
                uri: ca.uri,
                certs,
                valid_for: valid_for(
                    ca.valid_for.as_ref(),
                    &format!("certificateAuthorities[{i}]"),
                )?,
            });
        }
        let mut tlogs = Vec::new();
        for (i, log) in raw.tlogs.into_iter().enumerate() {
            let what = format!("tlogs[{i}]");
            let der = b64(&log.public_key.raw_bytes, &format!("{what} public key"))?;
            let key = PublicKey::from_spki_der(&der).ok();
            tlogs.push(TransparencyLog {
                base_url: log.base_url,
                key_id: b64(&log.log_id.key_id, &format!("{what} log id"))?,
                key,
                key_details: log.public_key.key_details,
                valid_for: valid_for(log.public_key.valid_for.as_ref(), &what)?,
            });
        }
        if cas.is_empty() {
            return Err(AttestError::TrustRoot(
                "it names no certificate authority".to_string(),
            ));
        }
        Ok(TrustRoot { cas, tlogs })
    }

    /// Read and parse a `trusted_root.json` file; errors name the path.
    pub fn load(path: &Path) -> Result<TrustRoot, AttestError> {
        let file_err = |message: String| AttestError::TrustRootFile {
            path: path.display().to_string(),
            message,
        };
        let meta = std::fs::metadata(path).map_err(|e| file_err(e.to_string()))?;
        if meta.len() > MAX_TRUST_ROOT_BYTES as u64 {
            return Err(file_err(format!(
                "it is {} bytes, more than the {MAX_TRUST_ROOT_BYTES} provero reads",
                meta.len()
            )));
        }
        let bytes = std::fs::read(path).map_err(|e| file_err(e.to_string()))?;
        TrustRoot::from_json(&bytes).map_err(|e| file_err(e.to_string()))
    }

    /// Whether the root names any transparency log (test and private roots often do not).
    pub fn has_tlogs(&self) -> bool {
        !self.tlogs.is_empty()
    }

    /// The certificate authorities' URIs, for the report.
    pub fn ca_uris(&self) -> Vec<&str> {
        self.cas.iter().map(|c| c.uri.as_str()).collect()
    }

    pub(crate) fn tlog_by_id(&self, key_id: &[u8]) -> Option<&TransparencyLog> {
        self.tlogs.iter().find(|l| l.key_id == key_id)
    }
}

fn b64(s: &str, what: &str) -> Result<Vec<u8>, AttestError> {
    base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .map_err(|e| AttestError::TrustRoot(format!("{what} is not base64: {e}")))
}

fn valid_for(raw: Option<&RawValidFor>, what: &str) -> Result<ValidFor, AttestError> {
    let Some(raw) = raw else {
        return Ok(ValidFor::default());
    };
    let parse = |s: &Option<String>| -> Result<Option<i64>, AttestError> {
        s.as_deref()
            .map(|s| {
                parse_rfc3339(s).ok_or_else(|| {
                    AttestError::TrustRoot(format!("{what} validFor time {s:?} is not RFC 3339"))
                })
            })
            .transpose()
    };
    Ok(ValidFor {
        start: parse(&raw.start)?,
        end: parse(&raw.end)?,
    })
}

pub(crate) fn parse_rfc3339(s: &str) -> Option<i64> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_root_names_fulcio_and_rekor() {
        let root = TrustRoot::sigstore_public();
        assert!(root.ca_uris().contains(&"https://fulcio.sigstore.dev"));
        assert!(root.has_tlogs());
        let rekor = root
            .tlogs
            .iter()
            .find(|l| l.base_url == "https://rekor.sigstore.dev")
            .unwrap();
        assert!(rekor.key.is_some(), "{}", rekor.key_details);
        // The key id is the SHA-256 of the DER public key.
        assert_eq!(
            base64::engine::general_purpose::STANDARD.encode(&rekor.key_id),
            "wNI9atQGlz+VWfO6LRygH4QUfY/8W4RFwiT5i5WRgB0="
        );
    }

    #[test]
    fn errors_name_the_file_and_read_like_sentences() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("root.json");
        std::fs::write(&p, b"{\"certificateAuthorities\": 3}").unwrap();
        let e = TrustRoot::load(&p).unwrap_err().to_string();
        assert!(e.contains(&p.display().to_string()), "{e}");
        assert!(e.contains("not a trusted_root.json"), "{e}");
        let e = TrustRoot::load(&dir.path().join("absent.json"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("could not read the trust root "), "{e}");
        let e = TrustRoot::from_json(br#"{"certificateAuthorities": []}"#)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "the trust root is malformed: it names no certificate authority"
        );
    }
}

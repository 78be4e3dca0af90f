//! The two wire formats of a signed attestation, normalised into [`Signed`]:
//!
//! - a Sigstore bundle (`application/vnd.dev.sigstore.bundle+json;version=0.1|0.2`,
//!   `…bundle.v0.3+json`) with a `dsseEnvelope` or a `messageSignature` (RubyGems signs the
//!   gem's SHA-256), or a JSON array of them (RubyGems'
//!   `/api/v1/attestations/<name>-<version>.json`);
//! - a PEP 740 provenance object (PyPI's integrity API), or one bare PEP 740 attestation.
//!
//! The input is the registry's (attacker-controlled): sizes and counts are bounded, every
//! field is checked for its type, and nothing panics.

use base64::Engine as _;
use serde_json::Value;

use super::tlog::Entry;
use super::{AttestError, Signed, MAX_INPUT_BYTES};

/// More attestations than this in one document are refused (PyPI has one or two per file).
const MAX_ATTESTATIONS: usize = 64;

/// The DSSE payload type of in-toto statements, implied by PEP 740.
pub(crate) const IN_TOTO: &str = "application/vnd.in-toto+json";

fn parse_json(json: &[u8]) -> Result<Value, AttestError> {
    if json.len() > MAX_INPUT_BYTES {
        return Err(AttestError::TooLarge(json.len()));
    }
    serde_json::from_slice(json).map_err(|e| AttestError::Json(e.to_string()))
}

fn malformed(msg: impl Into<String>) -> AttestError {
    AttestError::Malformed(msg.into())
}

/// A Sigstore bundle, or a JSON array of bundles.
pub fn parse_sigstore_bundle(json: &[u8]) -> Result<Vec<Signed>, AttestError> {
    let v = parse_json(json)?;
    match &v {
        Value::Array(items) => {
            if items.len() > MAX_ATTESTATIONS {
                return Err(malformed(format!(
                    "it holds {} bundles, more than the {MAX_ATTESTATIONS} provero reads",
                    items.len()
                )));
            }
            items
                .iter()
                .enumerate()
                .map(|(i, b)| bundle(b).map_err(|e| malformed(format!("bundle {i}: {}", inner(e)))))
                .collect()
        }
        Value::Object(_) => Ok(vec![bundle(&v)?]),
        _ => Err(malformed(
            "it is neither a Sigstore bundle nor a list of bundles",
        )),
    }
}

/// A PEP 740 provenance object (`{"version": 1, "attestation_bundles": [...]}`), or a single
/// PEP 740 attestation object.
pub fn parse_pep740_provenance(json: &[u8]) -> Result<Vec<Signed>, AttestError> {
    let v = parse_json(json)?;
    if v.get("envelope").is_some() && v.get("verification_material").is_some() {
        return Ok(vec![pep740_attestation(&v, None)?]);
    }
    let bundles = v
        .get("attestation_bundles")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            malformed("it is not a PEP 740 provenance object (no attestation_bundles)")
        })?;
    let mut out = Vec::new();
    for (i, b) in bundles.iter().enumerate() {
        let publisher = b.get("publisher").filter(|p| p.is_object()).cloned();
        let atts = b
            .get("attestations")
            .and_then(Value::as_array)
            .ok_or_else(|| malformed(format!("attestation_bundles[{i}] has no attestations")))?;
        for (j, a) in atts.iter().enumerate() {
            if out.len() >= MAX_ATTESTATIONS {
                return Err(malformed(format!(
                    "it holds more than the {MAX_ATTESTATIONS} attestations provero reads"
                )));
            }
            out.push(pep740_attestation(a, publisher.clone()).map_err(|e| {
                malformed(format!(
                    "attestation_bundles[{i}].attestations[{j}]: {}",
                    inner(e)
                ))
            })?);
        }
    }
    Ok(out)
}

/// The message of a nested error without its "the attestation is malformed: " prefix.
fn inner(e: AttestError) -> String {
    match e {
        AttestError::Malformed(m) => m,
        other => other.to_string(),
    }
}

fn str_field<'a>(v: &'a Value, key: &str, what: &str) -> Result<&'a str, AttestError> {
    v.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| malformed(format!("{what} has no {key}")))
}

pub(crate) fn b64(s: &str, what: &str) -> Result<Vec<u8>, AttestError> {
    let s = s.trim();
    let std = base64::engine::general_purpose::STANDARD;
    std.decode(s)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(s))
        .map_err(|_| malformed(format!("{what} is not base64")))
}

fn tlog_entries(v: Option<&Value>, what: &str) -> Result<Vec<Entry>, AttestError> {
    let Some(v) = v else {
        return Ok(Vec::new());
    };
    let items = v
        .as_array()
        .ok_or_else(|| malformed(format!("{what} is not a list")))?;
    if items.len() > super::tlog::MAX_ENTRIES {
        return Err(malformed(format!(
            "{what} holds {} entries, more than the {} provero reads",
            items.len(),
            super::tlog::MAX_ENTRIES
        )));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, e)| Entry::from_json(e).map_err(|m| malformed(format!("{what}[{i}]: {m}"))))
        .collect()
}

fn bundle(v: &Value) -> Result<Signed, AttestError> {
    if !v.is_object() {
        return Err(malformed("a bundle is not a JSON object"));
    }
    if let Some(mt) = v.get("mediaType").and_then(Value::as_str) {
        if !mt.starts_with("application/vnd.dev.sigstore.bundle") {
            return Err(malformed(format!(
                "its media type {mt:?} is not a Sigstore bundle"
            )));
        }
    }
    let vm = v
        .get("verificationMaterial")
        .ok_or_else(|| malformed("the bundle has no verificationMaterial"))?;
    let cert_b64 = if let Some(c) = vm.get("certificate") {
        str_field(c, "rawBytes", "verificationMaterial.certificate")?
    } else if let Some(chain) = vm.get("x509CertificateChain") {
        let first = chain
            .get("certificates")
            .and_then(Value::as_array)
            .and_then(|c| c.first())
            .ok_or_else(|| {
                malformed("verificationMaterial.x509CertificateChain has no certificate")
            })?;
        str_field(first, "rawBytes", "the first certificate of the chain")?
    } else if vm.get("publicKey").is_some() {
        return Err(malformed(
            "the bundle is signed with a public key, not a Fulcio certificate: it names no publisher",
        ));
    } else {
        return Err(malformed("the bundle has no certificate"));
    };
    let certificate = b64(cert_b64, "the certificate")?;
    let tlog_entries = tlog_entries(vm.get("tlogEntries"), "verificationMaterial.tlogEntries")?;
    let env = match (v.get("dsseEnvelope"), v.get("messageSignature")) {
        (Some(env), _) => env,
        (None, Some(ms)) => return message_signature(ms, certificate, tlog_entries),
        (None, None) => {
            return Err(malformed(
                "the bundle has neither a dsseEnvelope nor a messageSignature",
            ))
        }
    };
    let payload_type = str_field(env, "payloadType", "the dsseEnvelope")?.to_string();
    let payload = b64(
        str_field(env, "payload", "the dsseEnvelope")?,
        "the DSSE payload",
    )?;
    let sigs = env
        .get("signatures")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("the dsseEnvelope has no signatures"))?;
    let [sig] = sigs.as_slice() else {
        return Err(malformed(format!(
            "the dsseEnvelope has {} signatures; a Sigstore bundle has exactly one",
            sigs.len()
        )));
    };
    let signature = b64(
        str_field(sig, "sig", "the DSSE signature")?,
        "the DSSE signature",
    )?;
    Ok(Signed {
        payload_type,
        payload,
        signature,
        certificate,
        tlog_entries,
        message_digest: None,
        claimed_publisher: None,
    })
}

/// A `messageSignature`: the leaf signed the artifact (its SHA-256) itself.
fn message_signature(
    ms: &Value,
    certificate: Vec<u8>,
    tlog_entries: Vec<Entry>,
) -> Result<Signed, AttestError> {
    let md = ms
        .get("messageDigest")
        .ok_or_else(|| malformed("the messageSignature has no messageDigest"))?;
    let alg = str_field(md, "algorithm", "the messageDigest")?;
    if alg != "SHA2_256" {
        return Err(malformed(format!(
            "the message digest is {alg}, not SHA2_256"
        )));
    }
    let digest = b64(
        str_field(md, "digest", "the messageDigest")?,
        "the message digest",
    )?;
    let digest: [u8; 32] = digest
        .try_into()
        .map_err(|_| malformed("the SHA2_256 message digest is not 32 bytes"))?;
    let signature = b64(
        str_field(ms, "signature", "the messageSignature")?,
        "the message signature",
    )?;
    Ok(Signed {
        payload_type: String::new(),
        payload: Vec::new(),
        signature,
        certificate,
        tlog_entries,
        message_digest: Some(digest),
        claimed_publisher: None,
    })
}

fn pep740_attestation(v: &Value, publisher: Option<Value>) -> Result<Signed, AttestError> {
    if let Some(ver) = v.get("version") {
        if ver.as_u64() != Some(1) {
            return Err(malformed(format!("its version is {ver}, not 1")));
        }
    }
    let vm = v
        .get("verification_material")
        .ok_or_else(|| malformed("it has no verification_material"))?;
    let certificate = b64(
        str_field(vm, "certificate", "verification_material")?,
        "the certificate",
    )?;
    let tlog_entries = tlog_entries(
        vm.get("transparency_entries"),
        "verification_material.transparency_entries",
    )?;
    let env = v
        .get("envelope")
        .ok_or_else(|| malformed("it has no envelope"))?;
    let payload = b64(
        str_field(env, "statement", "the envelope")?,
        "the statement",
    )?;
    let signature = b64(
        str_field(env, "signature", "the envelope")?,
        "the signature",
    )?;
    Ok(Signed {
        payload_type: IN_TOTO.to_string(),
        payload,
        signature,
        certificate,
        tlog_entries,
        message_digest: None,
        claimed_publisher: publisher,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const REAL: &[u8] = include_bytes!("testdata/sigstore-3.6.1.tar.gz.provenance");

    #[test]
    fn reads_a_real_pypi_provenance_object() {
        let signed = parse_pep740_provenance(REAL).unwrap();
        assert_eq!(signed.len(), 1);
        let s = &signed[0];
        assert_eq!(s.payload_type(), Some(IN_TOTO));
        assert_eq!(s.tlog_entry_count(), 1);
        assert_eq!(
            s.claimed_publisher().unwrap()["repository"],
            "sigstore/sigstore-python"
        );
    }

    #[test]
    fn wrong_shapes_are_errors_that_read_like_sentences() {
        for (input, expect) in [
            (&b"[1]"[..], "the attestation is malformed: bundle 0: a bundle is not a JSON object"),
            (b"{}", "the attestation is malformed: the bundle has no verificationMaterial"),
            (b"{\"x\"", "the attestation is not valid JSON"),
            (b"7", "the attestation is malformed: it is neither a Sigstore bundle nor a list of bundles"),
        ] {
            let e = parse_sigstore_bundle(input).unwrap_err().to_string();
            assert!(e.starts_with(expect), "{e}");
        }
        let e = parse_pep740_provenance(b"{\"version\":1}")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "the attestation is malformed: it is not a PEP 740 provenance object (no attestation_bundles)"
        );
        let e = parse_pep740_provenance(&vec![b' '; MAX_INPUT_BYTES + 1])
            .unwrap_err()
            .to_string();
        assert!(e.contains("more than the"), "{e}");
    }
}

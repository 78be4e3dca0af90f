//! Fulcio certificates: the chain from a short-lived leaf to a certificate authority of the
//! trust root, the publisher identity in the leaf's extensions, and the public keys (ECDSA
//! P-256/P-384, Ed25519) that verify signatures made by leaves, CAs and logs.
//!
//! Only the trust root's certificates are trusted to issue: intermediates a bundle carries are
//! not used (as in sigstore-python), so a bundle cannot bring its own CA.

use p256::ecdsa::signature::hazmat::PrehashVerifier;
use sha2::{Digest, Sha256, Sha384, Sha512};
use x509_cert::der::asn1::{ObjectIdentifier, Utf8StringRef};
use x509_cert::der::{Decode, Encode};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, SubjectAltName};
use x509_cert::spki::SubjectPublicKeyInfoRef;
use x509_cert::Certificate;

use super::trust_root::{CertificateAuthority, TrustRoot};
use super::{Check, Publisher};

const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const ECDSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");
const CODE_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3");
const BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
const EXT_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
const SUBJECT_ALT_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");

/// The Fulcio extension arc, 1.3.6.1.4.1.57264.1.
const FULCIO_ARC: &str = "1.3.6.1.4.1.57264.1";

/// A key that verifies signatures.
#[derive(Debug, Clone)]
pub(crate) enum PublicKey {
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    Ed25519(ed25519_dalek::VerifyingKey),
}

/// The hash an ECDSA signature was made over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

impl PublicKey {
    /// A DER `SubjectPublicKeyInfo` (as in certificates and the trust root).
    pub fn from_spki_der(der: &[u8]) -> Result<PublicKey, String> {
        let spki = SubjectPublicKeyInfoRef::from_der(der).map_err(|e| e.to_string())?;
        PublicKey::from_spki(&spki)
    }

    fn from_spki(spki: &SubjectPublicKeyInfoRef<'_>) -> Result<PublicKey, String> {
        let bits = spki
            .subject_public_key
            .as_bytes()
            .ok_or("the public key is not a whole number of bytes")?;
        if spki.algorithm.oid == ED25519 {
            let bytes: [u8; 32] = bits
                .try_into()
                .map_err(|_| "the Ed25519 key is not 32 bytes")?;
            return ed25519_dalek::VerifyingKey::from_bytes(&bytes)
                .map(PublicKey::Ed25519)
                .map_err(|e| format!("the Ed25519 key is invalid: {e}"));
        }
        if spki.algorithm.oid != EC_PUBLIC_KEY {
            return Err(format!(
                "the key algorithm {} is not one provero verifies (ECDSA P-256/P-384, Ed25519)",
                spki.algorithm.oid
            ));
        }
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
            .ok_or("the EC key names no curve")?;
        match curve {
            SECP256R1 => p256::ecdsa::VerifyingKey::from_sec1_bytes(bits)
                .map(PublicKey::P256)
                .map_err(|_| "the P-256 key is not a point on the curve".to_string()),
            SECP384R1 => p384::ecdsa::VerifyingKey::from_sec1_bytes(bits)
                .map(PublicKey::P384)
                .map_err(|_| "the P-384 key is not a point on the curve".to_string()),
            other => Err(format!("the EC curve {other} is not P-256 or P-384")),
        }
    }

    /// The hash this key's signatures are made over when nothing else says (DSSE, Rekor).
    pub fn natural_hash(&self) -> Hash {
        match self {
            PublicKey::P384(_) => Hash::Sha384,
            _ => Hash::Sha256,
        }
    }

    /// Verify `sig` (ECDSA: DER; Ed25519: 64 bytes) over `msg`.
    pub fn verify(&self, hash: Hash, msg: &[u8], sig: &[u8]) -> Result<(), String> {
        if let PublicKey::Ed25519(k) = self {
            let s = ed25519_dalek::Signature::from_slice(sig)
                .map_err(|_| "the signature is not a 64-byte Ed25519 signature".to_string())?;
            return k
                .verify_strict(msg, &s)
                .map_err(|_| "the signature does not verify".to_string());
        }
        let digest: Vec<u8> = match hash {
            Hash::Sha256 => Sha256::digest(msg).to_vec(),
            Hash::Sha384 => Sha384::digest(msg).to_vec(),
            Hash::Sha512 => Sha512::digest(msg).to_vec(),
        };
        self.verify_digest(&digest, sig)
    }

    /// Verify an ECDSA signature (DER) made over `digest` (a message signature over an
    /// artifact's SHA-256 is one).
    pub fn verify_digest(&self, digest: &[u8], sig: &[u8]) -> Result<(), String> {
        let bad = |_| "the signature does not verify".to_string();
        let not_der = |_| "the signature is not a DER ECDSA signature".to_string();
        match self {
            PublicKey::P256(k) => {
                let s = p256::ecdsa::Signature::from_der(sig).map_err(not_der)?;
                k.verify_prehash(digest, &s).map_err(bad)
            }
            PublicKey::P384(k) => {
                let s = p384::ecdsa::Signature::from_der(sig).map_err(not_der)?;
                k.verify_prehash(digest, &s).map_err(bad)
            }
            PublicKey::Ed25519(_) => {
                Err("an Ed25519 key does not sign digests (a message signature needs ECDSA)".into())
            }
        }
    }
}

/// A parsed certificate with the bytes its issuer signed.
pub(crate) struct Cert {
    pub cert: Certificate,
    tbs: Vec<u8>,
}

pub(crate) fn parse_certificate(der: &[u8]) -> Result<Cert, String> {
    let cert = Certificate::from_der(der).map_err(|e| e.to_string())?;
    let tbs = first_inner_tlv(der).ok_or("its DER has no to-be-signed part")?;
    Ok(Cert {
        cert,
        tbs: tbs.to_vec(),
    })
}

/// The first element inside the outer SEQUENCE: a certificate's `tbsCertificate`, exactly as
/// signed (not re-encoded).
fn first_inner_tlv(der: &[u8]) -> Option<&[u8]> {
    fn header(b: &[u8]) -> Option<(usize, usize)> {
        // (header length, content length) of a DER TLV with a one-byte tag
        let first = *b.get(1)?;
        if first < 0x80 {
            return Some((2, first as usize));
        }
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | *b.get(2 + i)? as usize;
        }
        Some((2 + n, len))
    }
    let (outer_h, _) = header(der)?;
    let inner = der.get(outer_h..)?;
    let (h, len) = header(inner)?;
    inner.get(..h.checked_add(len)?)
}

impl Cert {
    pub fn public_key(&self) -> Result<PublicKey, String> {
        let der = self
            .cert
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|e| e.to_string())?;
        PublicKey::from_spki_der(&der)
    }

    /// Not before / not after, Unix seconds.
    pub fn validity(&self) -> (i64, i64) {
        let v = &self.cert.tbs_certificate.validity;
        (
            v.not_before.to_unix_duration().as_secs() as i64,
            v.not_after.to_unix_duration().as_secs() as i64,
        )
    }

    fn extension(&self, oid: ObjectIdentifier) -> Option<&[u8]> {
        self.cert
            .tbs_certificate
            .extensions
            .as_ref()?
            .iter()
            .find(|e| e.extn_id == oid)
            .map(|e| e.extn_value.as_bytes())
    }

    /// Whether `issuer` signed this certificate.
    fn signed_by(&self, issuer: &PublicKey) -> Result<(), String> {
        let hash = match self.cert.signature_algorithm.oid {
            ECDSA_SHA256 => Hash::Sha256,
            ECDSA_SHA384 => Hash::Sha384,
            ECDSA_SHA512 => Hash::Sha512,
            ED25519 => Hash::Sha512,
            other => {
                return Err(format!(
                    "its signature algorithm {other} is not ECDSA or Ed25519"
                ))
            }
        };
        let sig = self
            .cert
            .signature
            .as_bytes()
            .ok_or("its signature is not a whole number of bytes")?;
        issuer.verify(hash, &self.tbs, sig)
    }

    /// The subject alternative name: a URI (CI workflows) or an email address.
    fn san(&self) -> Option<String> {
        let san = SubjectAltName::from_der(self.extension(SUBJECT_ALT_NAME)?).ok()?;
        san.0.iter().find_map(|n| match n {
            GeneralName::UniformResourceIdentifier(s) | GeneralName::Rfc822Name(s) => {
                Some(s.to_string())
            }
            _ => None,
        })
    }

    /// Fulcio extension `1.3.6.1.4.1.57264.1.<n>`: v2 extensions (8 and up) are DER
    /// UTF8String, the deprecated v1 ones (1–6) raw UTF-8.
    fn fulcio(&self, n: u32) -> Option<String> {
        let oid = ObjectIdentifier::new(&format!("{FULCIO_ARC}.{n}")).ok()?;
        let raw = self.extension(oid)?;
        let text = if n >= 8 {
            Utf8StringRef::from_der(raw).ok()?.as_str().to_string()
        } else {
            std::str::from_utf8(raw).ok()?.to_string()
        };
        Some(text).filter(|t| !t.is_empty())
    }

    /// Who published, as the certificate says.
    pub fn publisher(&self) -> Publisher {
        Publisher {
            issuer: self.fulcio(8).or_else(|| self.fulcio(1)),
            repository: self.fulcio(12).or_else(|| self.fulcio(5)),
            commit: self.fulcio(13).or_else(|| self.fulcio(3)),
            git_ref: self.fulcio(14).or_else(|| self.fulcio(6)),
            workflow: self.fulcio(9).or_else(|| self.fulcio(18)),
            identity: self.san(),
        }
    }

    /// A signing leaf: not a CA, and for code signing.
    fn leaf_usage_problem(&self) -> Option<String> {
        if let Some(bc) = self.extension(BASIC_CONSTRAINTS) {
            if BasicConstraints::from_der(bc).map_or(true, |bc| bc.ca) {
                return Some("the signing certificate is a CA certificate, not a leaf".into());
            }
        }
        let eku = self
            .extension(EXT_KEY_USAGE)
            .and_then(|e| ExtendedKeyUsage::from_der(e).ok());
        if !eku.is_some_and(|e| e.0.contains(&CODE_SIGNING)) {
            return Some("the signing certificate is not for code signing".into());
        }
        None
    }
}

/// The leaf chains to a certificate authority of the trust root. With `at` (a time the log
/// vouches for), every certificate and the CA's `validFor` must contain it.
pub(crate) fn verify_chain(leaf: &Cert, root: &TrustRoot, at: Option<i64>) -> Check {
    if let Some(problem) = leaf.leaf_usage_problem() {
        return Check::Failed(problem);
    }
    let issuer_name = &leaf.cert.tbs_certificate.issuer;
    // The reasons a CA that names the issuer was not taken; another CA may still do.
    let (mut named_but_bad, mut out_of_time) = (None, None);
    for ca in &root.cas {
        for (i, der) in ca.certs.iter().enumerate() {
            let Ok(issuer) = parse_certificate(der) else {
                continue;
            };
            if &issuer.cert.tbs_certificate.subject != issuer_name {
                continue;
            }
            let verified = issuer.public_key().and_then(|key| leaf.signed_by(&key));
            if let Err(e) = verified {
                named_but_bad = Some(format!(
                    "the certificate names {} ({}) as its issuer, but {e} with its key",
                    issuer_name, ca.uri
                ));
                continue;
            }
            if let Some(t) = at {
                if let Some(why) = time_problem(leaf, ca, &ca.certs[i..], t) {
                    out_of_time = Some(why);
                    continue;
                }
            }
            return Check::Passed;
        }
    }
    Check::Failed(out_of_time.or(named_but_bad).unwrap_or_else(|| {
        format!(
            "the certificate was not issued by a certificate authority of the trust root (its issuer is {issuer_name})"
        )
    }))
}

/// Why the leaf, the CA or a certificate of its chain (from the issuer up) was not valid at
/// the log's time `t`.
fn time_problem(
    leaf: &Cert,
    ca: &CertificateAuthority,
    chain: &[Vec<u8>],
    t: i64,
) -> Option<String> {
    let (nb, na) = leaf.validity();
    if t < nb || t > na {
        return Some(format!(
            "the certificate was not valid at the log's time {} (valid {} to {})",
            utc(t),
            utc(nb),
            utc(na)
        ));
    }
    if !ca.valid_for.contains(t) {
        return Some(format!(
            "the certificate authority {} was not valid at the log's time {}",
            ca.uri,
            utc(t)
        ));
    }
    for der in chain {
        let Ok(c) = parse_certificate(der) else {
            continue;
        };
        let (nb, na) = c.validity();
        if t < nb || t > na {
            return Some(format!(
                "the CA certificate {} was not valid at the log's time {}",
                c.cert.tbs_certificate.subject,
                utc(t)
            ));
        }
    }
    None
}

pub(crate) fn utc(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tbs_is_the_first_element_of_the_outer_sequence() {
        // SEQUENCE { SEQUENCE { INTEGER 5 }, NULL }
        let der = [0x30, 0x07, 0x30, 0x03, 0x02, 0x01, 0x05, 0x05, 0x00];
        assert_eq!(first_inner_tlv(&der), Some(&der[2..7]));
        assert_eq!(first_inner_tlv(&der[..4]), None);
        assert_eq!(first_inner_tlv(&[0x30, 0x85, 1, 1, 1, 1, 1]), None);
    }

    #[test]
    fn garbage_is_no_key() {
        assert!(PublicKey::from_spki_der(b"\x30\x03\x02\x01\x05").is_err());
        assert!(parse_certificate(b"").is_err());
    }
}

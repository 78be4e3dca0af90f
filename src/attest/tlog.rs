//! Rekor transparency log entries as bundles carry them (`tlogEntries`, PEP 740
//! `transparency_entries`), and what verifying one proves: the entry records this envelope, the
//! log signed its timestamp (inclusion promise), and the RFC 9162 inclusion proof leads to a
//! tree head (checkpoint) signed by the log.

use base64::Engine as _;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::bundle::b64;
use super::fulcio::{utc, Hash, PublicKey};
use super::trust_root::TrustRoot;
use super::verify::pae;
use super::Signed;

/// More log entries than this per attestation are refused (Sigstore writes one).
pub(crate) const MAX_ENTRIES: usize = 8;
/// An inclusion proof of a tree of 2^64 leaves has 64 hashes.
const MAX_PROOF_HASHES: usize = 64;

#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub log_index: i64,
    /// SHA-256 of the log's public key.
    pub log_id: Vec<u8>,
    pub kind: String,
    pub version: String,
    pub integrated_time: Option<i64>,
    /// The entry as the log stored it (canonical JSON).
    pub body: Vec<u8>,
    /// The signed entry timestamp (inclusion promise).
    pub set: Option<Vec<u8>>,
    pub proof: Option<Proof>,
}

#[derive(Debug, Clone)]
pub(crate) struct Proof {
    pub log_index: i64,
    pub root_hash: Vec<u8>,
    pub tree_size: i64,
    pub hashes: Vec<Vec<u8>>,
    /// The signed note of the tree head.
    pub checkpoint: Option<String>,
}

/// An int64 as protobuf JSON writes it: a string, or (leniently) a number.
fn int(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

impl Entry {
    pub fn from_json(v: &Value) -> Result<Entry, String> {
        let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        let b = |s: &str, what: &str| b64(s, what).map_err(|e| inner(e.to_string()));
        let log_index = int(v.get("logIndex")).ok_or("it has no logIndex")?;
        let log_id = v
            .get("logId")
            .and_then(|l| text(l, "keyId"))
            .ok_or("it has no logId")?;
        let kv = v.get("kindVersion");
        let body = text(v, "canonicalizedBody").ok_or("it has no canonicalizedBody")?;
        let set = v
            .get("inclusionPromise")
            .and_then(|p| text(p, "signedEntryTimestamp"))
            .map(|s| b(&s, "the signed entry timestamp"))
            .transpose()?;
        let proof = match v.get("inclusionProof") {
            None | Some(Value::Null) => None,
            Some(p) => {
                let hashes = p
                    .get("hashes")
                    .and_then(Value::as_array)
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                if hashes.len() > MAX_PROOF_HASHES {
                    return Err(format!(
                        "its inclusion proof has {} hashes, more than {MAX_PROOF_HASHES}",
                        hashes.len()
                    ));
                }
                let hashes = hashes
                    .iter()
                    .map(|h| {
                        h.as_str()
                            .ok_or_else(|| "an inclusion proof hash is not a string".to_string())
                            .and_then(|h| b(h, "an inclusion proof hash"))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Some(Proof {
                    log_index: int(p.get("logIndex"))
                        .ok_or("its inclusion proof has no logIndex")?,
                    root_hash: b(
                        &text(p, "rootHash").ok_or("its inclusion proof has no rootHash")?,
                        "the root hash",
                    )?,
                    tree_size: int(p.get("treeSize"))
                        .ok_or("its inclusion proof has no treeSize")?,
                    hashes,
                    checkpoint: p.get("checkpoint").and_then(|c| text(c, "envelope")),
                })
            }
        };
        Ok(Entry {
            log_index,
            log_id: b(&log_id, "the log id")?,
            kind: kv.and_then(|k| text(k, "kind")).unwrap_or_default(),
            version: kv.and_then(|k| text(k, "version")).unwrap_or_default(),
            integrated_time: int(v.get("integratedTime")).filter(|t| *t > 0),
            body: b(&body, "the canonicalized body")?,
            set,
            proof,
        })
    }
}

fn inner(msg: String) -> String {
    msg.trim_start_matches("the attestation is malformed: ")
        .to_string()
}

/// What a verified log entry proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Proven {
    /// The time the log signed for the entry (with its signed entry timestamp).
    pub time: Option<i64>,
    pub set: bool,
    pub inclusion: bool,
    pub log: String,
}

/// Why an entry was not accepted: it is wrong, or provero cannot check it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refused {
    Failed(String),
    Unsupported(String),
}

/// Verify one entry: it is in a log of the trust root, records this envelope (signature,
/// payload, certificate), and its signed entry timestamp and/or inclusion proof verify with
/// the log's key.
pub(crate) fn verify_entry(
    e: &Entry,
    root: &TrustRoot,
    signed: &Signed,
) -> Result<Proven, Refused> {
    let log = root.tlog_by_id(&e.log_id).ok_or_else(|| {
        Refused::Failed(format!(
            "the log entry is from a log the trust root does not name (log id {})",
            hex::encode(&e.log_id)
        ))
    })?;
    let key = log.key.as_ref().ok_or_else(|| {
        Refused::Unsupported(format!(
            "the key of the log {} ({}) is not one provero verifies",
            log.base_url, log.key_details
        ))
    })?;
    records_this_envelope(e, signed)?;
    if e.set.is_none() && e.proof.is_none() {
        return Err(Refused::Failed(
            "the log entry carries neither a signed entry timestamp nor an inclusion proof".into(),
        ));
    }
    let mut proven = Proven {
        // integratedTime is only the log's word when its signed entry timestamp verifies.
        time: None,
        set: false,
        inclusion: false,
        log: log.base_url.clone(),
    };
    if let Some(set) = &e.set {
        let t = e.integrated_time.ok_or_else(|| {
            Refused::Failed(
                "the log entry has a signed entry timestamp but no integratedTime".into(),
            )
        })?;
        let signed = format!(
            r#"{{"body":"{}","integratedTime":{t},"logID":"{}","logIndex":{}}}"#,
            base64::engine::general_purpose::STANDARD.encode(&e.body),
            hex::encode(&e.log_id),
            e.log_index
        );
        key.verify(Hash::Sha256, signed.as_bytes(), set).map_err(|err| {
            Refused::Failed(format!(
                "the signed entry timestamp of log index {} does not verify with the key of {}: {err}",
                e.log_index, log.base_url
            ))
        })?;
        proven.set = true;
        proven.time = Some(t);
    }
    if let Some(p) = &e.proof {
        inclusion(p, &e.body).map_err(Refused::Failed)?;
        let note = p.checkpoint.as_deref().ok_or_else(|| {
            Refused::Failed("the inclusion proof carries no checkpoint (signed tree head)".into())
        })?;
        checkpoint(note, p, key).map_err(Refused::Failed)?;
        proven.inclusion = true;
    }
    if let Some(t) = proven.time {
        if !log.valid_for.contains(t) {
            return Err(Refused::Failed(format!(
                "the log {} was not valid for entries at {}",
                log.base_url,
                utc(t)
            )));
        }
    }
    Ok(proven)
}

/// The entry's body is about this envelope: without this, any valid entry would do. Rekor v1
/// writes DSSE envelopes as `dsse` 0.0.1 (or `intoto` 0.0.2), Rekor v2 as `dsse` 0.0.2 or
/// `hashedrekord` 0.0.2 (over the PAE digest); message signatures are `hashedrekord` 0.0.1/0.0.2.
fn records_this_envelope(e: &Entry, signed: &Signed) -> Result<(), Refused> {
    let body: Value = serde_json::from_slice(&e.body)
        .map_err(|_| Refused::Failed("the log entry's body is not JSON".into()))?;
    let kind = body.get("kind").and_then(Value::as_str).unwrap_or(&e.kind);
    let version = body
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or(&e.version);
    let spec = body.get("spec").unwrap_or(&Value::Null);
    let at = |v: &Value, ptr: &str| v.pointer(ptr).and_then(Value::as_str).map(str::to_string);
    let hex_at = |v: &Value, ptr: &str| at(v, ptr).and_then(|h| hex::decode(h).ok());
    let b64_at = |v: &Value, ptr: &str| at(v, ptr).and_then(|t| b64_any(&t));
    let pem_at = |v: &Value, ptr: &str| b64_at(v, ptr).and_then(|p| pem_der(&p));
    let list = |v: &Value, ptr: &str| -> Vec<Value> {
        v.pointer(ptr)
            .and_then(Value::as_array)
            .map(|a| a.iter().take(16).cloned().collect())
            .unwrap_or_default()
    };
    let payload_sha = Sha256::digest(&signed.payload).to_vec();
    type Pair = (Option<Vec<u8>>, Option<Vec<u8>>);
    let (recorded, expected, pairs): (Option<Vec<u8>>, Vec<u8>, Vec<Pair>) = match (kind, version) {
        ("dsse", "0.0.1") => (
            hex_at(spec, "/payloadHash/value"),
            payload_sha,
            list(spec, "/signatures")
                .iter()
                .map(|s| (b64_at(s, "/signature"), pem_at(s, "/verifier")))
                .collect(),
        ),
        ("intoto", "0.0.2") => (
            hex_at(spec, "/content/payloadHash/value"),
            payload_sha,
            list(spec, "/content/envelope/signatures")
                .iter()
                .map(|s| {
                    // The signature is base64 of the envelope's (base64) signature.
                    let sig =
                        b64_at(s, "/sig").and_then(|t| b64_any(std::str::from_utf8(&t).ok()?));
                    (sig, pem_at(s, "/publicKey"))
                })
                .collect(),
        ),
        ("dsse", "0.0.2") => (
            b64_at(spec, "/dsseV002/payloadHash/digest"),
            payload_sha,
            list(spec, "/dsseV002/signatures")
                .iter()
                .map(|s| {
                    (
                        b64_at(s, "/content"),
                        b64_at(s, "/verifier/x509Certificate/rawBytes"),
                    )
                })
                .collect(),
        ),
        ("hashedrekord", "0.0.1") => (
            hex_at(spec, "/data/hash/value"),
            signed_digest(signed),
            vec![(
                b64_at(spec, "/signature/content"),
                pem_at(spec, "/signature/publicKey/content"),
            )],
        ),
        ("hashedrekord", "0.0.2") => (
            b64_at(spec, "/hashedRekordV002/data/digest"),
            signed_digest(signed),
            vec![(
                b64_at(spec, "/hashedRekordV002/signature/content"),
                b64_at(
                    spec,
                    "/hashedRekordV002/signature/verifier/x509Certificate/rawBytes",
                ),
            )],
        ),
        _ => {
            return Err(Refused::Unsupported(format!(
                "log entries of kind {kind} {version} are not checked by provero"
            )))
        }
    };
    if recorded.as_deref() != Some(&expected[..]) {
        return Err(Refused::Failed(format!(
            "the log entry (kind {kind} {version}) records another payload than the attestation's"
        )));
    }
    let ours = pairs.iter().any(|(sig, cert)| {
        sig.as_deref() == Some(&signed.signature[..])
            && cert.as_deref() == Some(&signed.certificate[..])
    });
    if !ours {
        return Err(Refused::Failed(
            "the log entry records another signature or certificate than the attestation's".into(),
        ));
    }
    Ok(())
}

/// The digest a `hashedrekord` entry records: the artifact's for a message signature, the
/// PAE's for a DSSE envelope.
fn signed_digest(signed: &Signed) -> Vec<u8> {
    match &signed.message_digest {
        Some(d) => d.to_vec(),
        None => Sha256::digest(pae(&signed.payload_type, &signed.payload)).to_vec(),
    }
}

fn b64_any(s: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .ok()
}

/// The DER inside a PEM `CERTIFICATE` block.
fn pem_der(pem: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(pem).ok()?;
    let body: String = text
        .lines()
        .map(str::trim)
        .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE-----"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    b64_any(&body)
}

fn node(left: &[u8], right: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// RFC 9162 §2.1.3.2: the audit path from the entry's leaf hash to the root hash.
fn inclusion(p: &Proof, body: &[u8]) -> Result<(), String> {
    let (index, size) = (p.log_index, p.tree_size);
    if index < 0 || size <= 0 || index >= size {
        return Err(format!(
            "the inclusion proof's index {index} is not inside its tree of size {size}"
        ));
    }
    let mut leaf = Sha256::new();
    leaf.update([0u8]);
    leaf.update(body);
    if root_from_path(index as u64, size as u64, leaf.finalize().into(), &p.hashes)?
        != p.root_hash[..]
    {
        return Err(format!(
            "the inclusion proof does not lead to the root hash {} of the tree of size {size}",
            hex::encode(&p.root_hash)
        ));
    }
    Ok(())
}

/// The root hash an audit path leads to from leaf `index` of a tree of `size` leaves.
fn root_from_path(
    index: u64,
    size: u64,
    leaf: [u8; 32],
    path: &[Vec<u8>],
) -> Result<[u8; 32], String> {
    let (mut fn_, mut sn, mut r) = (index, size - 1, leaf);
    for h in path {
        if h.len() != 32 {
            return Err("an inclusion proof hash is not 32 bytes".into());
        }
        if sn == 0 {
            return Err("the inclusion proof has more hashes than its tree needs".into());
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node(h, &r);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            r = node(&r, h);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err("the inclusion proof has fewer hashes than its tree needs".into());
    }
    Ok(r)
}

/// The checkpoint is a signed note (C2SP signed-note) whose body names the proof's tree size
/// and root hash, signed by the log's key.
fn checkpoint(note: &str, p: &Proof, key: &PublicKey) -> Result<(), String> {
    let (text, sigs) = note
        .split_once("\n\n")
        .ok_or("the checkpoint is not a signed note")?;
    let text = format!("{text}\n");
    let mut lines = text.lines();
    let origin = lines.next().unwrap_or_default();
    let size = lines.next().and_then(|l| l.parse::<i64>().ok());
    let root = lines.next().and_then(b64_any);
    if size != Some(p.tree_size) || root.as_deref() != Some(&p.root_hash[..]) {
        return Err("the checkpoint names another tree than the inclusion proof".into());
    }
    let name = origin.split(" - ").next().unwrap_or(origin);
    for line in sigs.lines().take(16) {
        let Some(rest) = line.strip_prefix("\u{2014} ") else {
            continue;
        };
        // Every signature line is tried: the key hint (first 4 bytes) differs between
        // Rekor v1 (the log id) and C2SP notes, and verifying is what counts.
        let Some((_signer, sig)) = rest.rsplit_once(' ') else {
            continue;
        };
        let Some(sig) = b64_any(sig).filter(|s| s.len() > 4) else {
            continue;
        };
        if key
            .verify(key.natural_hash(), text.as_bytes(), &sig[4..])
            .is_ok()
        {
            return Ok(());
        }
    }
    Err(format!(
        "the checkpoint of {name} carries no signature that verifies with the log's key"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn leaf(i: u64) -> [u8; 32] {
        Sha256::digest([&[0u8][..], &i.to_be_bytes()].concat()).into()
    }

    /// RFC 6962 §2.1: MTH of leaves [lo, hi), split at the largest power of two below n.
    fn mth(lo: u64, hi: u64) -> [u8; 32] {
        if hi - lo == 1 {
            return leaf(lo);
        }
        let k = (hi - lo).next_power_of_two() / 2;
        node(&mth(lo, lo + k), &mth(lo + k, hi))
    }

    /// RFC 6962 §2.1.1: PATH(m, D[lo, hi)), deepest hash first.
    fn path(m: u64, lo: u64, hi: u64) -> Vec<Vec<u8>> {
        if hi - lo == 1 {
            return Vec::new();
        }
        let k = (hi - lo).next_power_of_two() / 2;
        if m < k {
            let mut p = path(m, lo, lo + k);
            p.push(mth(lo + k, hi).to_vec());
            p
        } else {
            let mut p = path(m - k, lo + k, hi);
            p.push(mth(lo, lo + k).to_vec());
            p
        }
    }

    proptest! {
        /// The verifier agrees with the RFC's recursive definitions, and a changed hash,
        /// index or size never leads to the root.
        #[test]
        fn audit_paths_lead_to_the_root_and_tampered_ones_do_not(
            size in 1u64..300, at in any::<prop::sample::Index>(), flip in any::<prop::sample::Index>()
        ) {
            let m = at.index(size as usize) as u64;
            let p = path(m, 0, size);
            let root = mth(0, size);
            prop_assert_eq!(root_from_path(m, size, leaf(m), &p), Ok(root));
            if !p.is_empty() {
                let mut bad = p.clone();
                let i = flip.index(bad.len());
                bad[i][0] ^= 1;
                prop_assert_ne!(root_from_path(m, size, leaf(m), &bad), Ok(root));
                prop_assert_ne!(root_from_path(m, size, leaf(m), &p[1..]), Ok(root));
            }
            if size > 1 {
                let other = (m + 1) % size;
                prop_assert_ne!(root_from_path(other, size, leaf(m), &p), Ok(root));
            }
            let mut longer = p.clone();
            longer.push(root.to_vec());
            prop_assert_ne!(root_from_path(m, size, leaf(m), &longer), Ok(root));
        }
    }
}

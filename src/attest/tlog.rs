//! Rekor transparency log entries as bundles carry them (`tlogEntries`, PEP 740
//! `transparency_entries`).

use serde_json::Value;

use super::bundle::b64;

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
                    log_index: int(p.get("logIndex")).ok_or("its inclusion proof has no logIndex")?,
                    root_hash: b(
                        &text(p, "rootHash").ok_or("its inclusion proof has no rootHash")?,
                        "the root hash",
                    )?,
                    tree_size: int(p.get("treeSize")).ok_or("its inclusion proof has no treeSize")?,
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

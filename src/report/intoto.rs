//! in-toto attestations: one Statement v1 per package (JSON lines), whose predicate is a SLSA
//! Verification Summary (`https://slsa.dev/verification_summary/v1`): which artifact (file name
//! and SHA-256) was checked, by which verifier, when, against which policy (the mode and the
//! named rules), with what result, from which source repository and commit, and the finding
//! codes. With a signing key (`--sign-key`, Ed25519, PKCS#8 PEM) each statement is wrapped in
//! a DSSE envelope signed over the DSSE pre-authentication encoding (PAE). It renders the same
//! results as every other format and decides nothing: PASSED is exactly `verified`.

use std::path::Path;

use base64::Engine as _;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePublicKey};
use ed25519_dalek::Signer as _;
use serde_json::{json, Value};
use sha2::Digest as _;

use super::{PackageResult, Report};
use crate::ecosystem::Ecosystem;
use crate::finding::Verdict;

pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
pub const PREDICATE_TYPE: &str = "https://slsa.dev/verification_summary/v1";
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// Who verifies: provero (the version is in `verifier.version`).
pub const VERIFIER_ID: &str = "https://provero.dev/verifier";
/// The verified level a PASSED statement claims (a custom track: never `SLSA_*`).
pub const LEVEL_PASSED: &str = "PROVERO_SOURCE_MATCH";

/// What every statement of a run shares.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    /// RFC 3339, UTC.
    pub time_verified: String,
    /// How the source side was obtained (`diff`).
    pub mode: &'a str,
    pub signer: Option<&'a SigningKey>,
}

impl<'a> Context<'a> {
    /// The run's own time and mode when the report carries them (a stored report rendered
    /// later does not: then now, and `diff`).
    pub fn of(report: &'a Report, signer: Option<&'a SigningKey>) -> Context<'a> {
        Context {
            time_verified: report
                .run
                .as_ref()
                .map(|r| r.finished_at.clone())
                .unwrap_or_else(|| super::RunInfo::timestamp(std::time::SystemTime::now())),
            mode: report
                .run
                .as_ref()
                .map(|r| r.settings.mode.as_str())
                .unwrap_or("diff"),
            signer,
        }
    }
}

/// An Ed25519 key to sign DSSE envelopes with, and its key id (the SHA-256, in hex, of its
/// public key as DER SubjectPublicKeyInfo: `openssl pkey -pubout -outform DER | sha256sum`).
pub struct SigningKey {
    key: ed25519_dalek::SigningKey,
    pub keyid: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({})", self.keyid)
    }
}

impl SigningKey {
    /// Read a PKCS#8 PEM Ed25519 private key (`openssl genpkey -algorithm ed25519`).
    pub fn load(path: &Path) -> Result<SigningKey, String> {
        let pem = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the signing key {}: {e}", path.display()))?;
        SigningKey::from_pem(&pem).map_err(|e| {
            format!(
                "{} is not an Ed25519 private key in PKCS#8 PEM (make one with `openssl genpkey -algorithm ed25519`): {e}",
                path.display()
            )
        })
    }

    pub fn from_pem(pem: &str) -> Result<SigningKey, String> {
        let key = ed25519_dalek::SigningKey::from_pkcs8_pem(pem).map_err(|e| e.to_string())?;
        let der = key
            .verifying_key()
            .to_public_key_der()
            .map_err(|e| e.to_string())?;
        let keyid = hex::encode(sha2::Sha256::digest(der.as_bytes()));
        Ok(SigningKey { key, keyid })
    }

    /// A DSSE envelope around `payload`.
    pub fn envelope(&self, payload: &[u8]) -> Value {
        let sig = self.key.sign(&pae(PAYLOAD_TYPE, payload));
        let b64 = base64::engine::general_purpose::STANDARD;
        json!({
            "payloadType": PAYLOAD_TYPE,
            "payload": b64.encode(payload),
            "signatures": [{"keyid": self.keyid, "sig": b64.encode(sig.to_bytes())}],
        })
    }
}

/// DSSE pre-authentication encoding: `"DSSEv1" SP len(type) SP type SP len(body) SP body`.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// One line per package that has a downloaded artifact (a statement needs the digest of its
/// subject; a package whose artifact could not be downloaded has none).
pub fn render(report: &Report, cx: &Context<'_>) -> std::io::Result<String> {
    let mut out = Vec::new();
    write(report, cx, &mut out)?;
    Ok(String::from_utf8(out).expect("JSON is UTF-8"))
}

/// The statements into `w`, a line per package as results are read. Returns how many
/// packages had no downloaded artifact, so no statement.
pub fn write(
    report: &Report,
    cx: &Context<'_>,
    w: &mut dyn std::io::Write,
) -> std::io::Result<usize> {
    let mut unattested = 0;
    for r in report.each() {
        let r = r?;
        let Some(st) = statement(&r, cx) else {
            unattested += 1;
            continue;
        };
        let line = match cx.signer {
            Some(k) => k.envelope(st.to_string().as_bytes()),
            None => st,
        };
        writeln!(w, "{line}")?;
    }
    Ok(unattested)
}

/// How many packages get no statement (no downloaded artifact).
pub fn unattested(report: &Report) -> std::io::Result<usize> {
    let mut n = 0;
    for r in report.each() {
        n += usize::from(r?.artifact.sha256.is_none());
    }
    Ok(n)
}

/// The Statement for one package, or `None` without an artifact digest.
pub fn statement(r: &PackageResult, cx: &Context<'_>) -> Option<Value> {
    let sha256 = r.artifact.sha256.as_deref()?;
    let passed = r.verdict == Verdict::Verified;
    let rules: Vec<&str> = {
        let mut v: Vec<&str> = r
            .package
            .ecosystem
            .handler()
            .rules()
            .iter()
            .map(|rule| rule.name())
            .chain(
                crate::compare::generic_rules()
                    .iter()
                    .map(|rule| rule.name()),
            )
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let allowed: Vec<Value> = r
        .findings
        .iter()
        .filter_map(|f| {
            let a = f.allowed.as_ref()?;
            Some(json!({"code": f.code.as_str(), "path": f.path, "reason": a.reason}))
        })
        .collect();
    let findings: Vec<Value> = r
        .findings
        .iter()
        .map(|f| {
            let mut v = json!({"code": f.code.as_str(), "severity": f.severity.as_str()});
            if let Some(p) = &f.path {
                v["path"] = json!(p);
            }
            if f.allowed.is_some() {
                v["allowed"] = json!(true);
            }
            v
        })
        .collect();
    let mut source = json!({
        "repository": r.source.repository,
        "commit": r.source.commit,
    });
    if let Some(p) = r.source.path_in_repo.as_deref().filter(|p| !p.is_empty()) {
        source["pathInRepo"] = json!(p);
    }
    if let Some(t) = &r.source.tag {
        source["tag"] = json!(t);
    }
    if let (Some(repo), Some(commit)) = (&r.source.repository, &r.source.commit) {
        source["uri"] = json!(format!("git+{repo}@{commit}"));
    }
    Some(json!({
        "_type": STATEMENT_TYPE,
        "subject": [{"name": subject_name(r), "digest": {"sha256": sha256}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "verifier": {
                "id": VERIFIER_ID,
                "version": {"provero": env!("CARGO_PKG_VERSION")},
            },
            "timeVerified": cx.time_verified,
            "resourceUri": purl(r),
            "policy": {
                "uri": format!("{VERIFIER_ID}/policy/{}", cx.mode),
                "annotations": {"mode": cx.mode, "rules": rules, "allowed": allowed},
            },
            "verificationResult": if passed { "PASSED" } else { "FAILED" },
            "verifiedLevels": [if passed { LEVEL_PASSED } else { "FAILED" }],
            "verdict": r.verdict.as_str(),
            "source": source,
            "findings": findings,
        },
    }))
}

/// The artifact's file name: the last segment of its download URL when that names a file,
/// else the name the registry gives the file (`serde-1.0.210.crate`, `rack-3.1.8.gem`).
pub fn subject_name(r: &PackageResult) -> String {
    let p = &r.package;
    let ext = match p.ecosystem {
        Ecosystem::Crates => ".crate",
        Ecosystem::Pypi => "",
        Ecosystem::Gems => ".gem",
    };
    let from_url = r
        .artifact
        .url
        .as_deref()
        .and_then(|u| url::Url::parse(u).ok())
        .and_then(|u| {
            let last = u.path_segments()?.next_back()?.to_string();
            let decoded = percent_decode(&last);
            let is_file = [
                ".crate", ".gem", ".tar.gz", ".zip", ".whl", ".tar.bz2", ".tgz",
            ]
            .iter()
            .any(|e| decoded.ends_with(e));
            is_file.then_some(decoded)
        });
    from_url.unwrap_or_else(|| format!("{}-{}{ext}", p.name, p.version))
}

/// The package URL: `pkg:cargo/serde@1.0.210`, `pkg:pypi/attrs@24.2.0` (name normalised),
/// `pkg:gem/nokogiri@1.16.0?platform=x86_64-linux`.
pub fn purl(r: &PackageResult) -> String {
    let p = &r.package;
    match p.ecosystem {
        Ecosystem::Crates => format!("pkg:cargo/{}@{}", enc(&p.name), enc(&p.version)),
        Ecosystem::Pypi => format!(
            "pkg:pypi/{}@{}",
            enc(&crate::pypi::normalize_name(&p.name)),
            enc(&p.version)
        ),
        Ecosystem::Gems => {
            let (num, platform) = crate::gems::version::split_platform(&p.version);
            let mut s = format!("pkg:gem/{}@{}", enc(&p.name), enc(num));
            if let Some(pl) = platform {
                s.push_str(&format!("?platform={}", enc(pl)));
            }
            s
        }
    }
}

/// Percent-encode what a purl segment may not hold literally.
fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
            if let Ok(b) = u8::from_str_radix(hex, 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{Allowed, Code, Finding};

    fn result(eco: Ecosystem, name: &str, version: &str, url: &str) -> PackageResult {
        let mut r = PackageResult::pending(eco, name, Some(version));
        r.artifact.url = Some(url.to_string());
        r.artifact.sha256 = Some("ab".repeat(32));
        r.verdict = Verdict::Verified;
        r
    }

    fn cx(signer: Option<&SigningKey>) -> Context<'_> {
        Context {
            time_verified: "2026-12-01T12:00:00Z".into(),
            mode: "diff",
            signer,
        }
    }

    #[test]
    fn pae_is_the_dsse_encoding() {
        // The example in the DSSE protocol document.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    #[test]
    fn package_urls_and_subject_names() {
        let r = result(
            Ecosystem::Crates,
            "serde",
            "1.0.210",
            "https://static.crates.io/crates/serde/1.0.210/download",
        );
        assert_eq!(purl(&r), "pkg:cargo/serde@1.0.210");
        assert_eq!(subject_name(&r), "serde-1.0.210.crate");
        let r = result(
            Ecosystem::Crates,
            "x",
            "1.0.0+build.5",
            "https://h/x/x-1.0.0%2Bbuild.5.crate",
        );
        assert_eq!(purl(&r), "pkg:cargo/x@1.0.0%2Bbuild.5");
        assert_eq!(subject_name(&r), "x-1.0.0+build.5.crate");
        let r = result(
            Ecosystem::Pypi,
            "Zope_Interface",
            "7.0",
            "https://files.example/packages/ab/zope_interface-7.0.tar.gz#sha256=00",
        );
        assert_eq!(purl(&r), "pkg:pypi/zope-interface@7.0");
        assert_eq!(subject_name(&r), "zope_interface-7.0.tar.gz");
        let r = result(
            Ecosystem::Gems,
            "nokogiri",
            "1.16.0-x86_64-linux",
            "https://rubygems.org/gems/nokogiri-1.16.0-x86_64-linux.gem",
        );
        assert_eq!(purl(&r), "pkg:gem/nokogiri@1.16.0?platform=x86_64-linux");
        assert_eq!(subject_name(&r), "nokogiri-1.16.0-x86_64-linux.gem");
    }

    #[test]
    fn no_artifact_digest_no_statement() {
        let mut r = result(
            Ecosystem::Gems,
            "rack",
            "3.1.8",
            "https://h/gems/rack-3.1.8.gem",
        );
        r.artifact.sha256 = None;
        assert!(statement(&r, &cx(None)).is_none());
    }

    #[test]
    fn statement_snapshot() {
        let mut r = result(
            Ecosystem::Crates,
            "percent-encoding",
            "2.3.2",
            "https://static.crates.io/crates/percent-encoding/2.3.2/download",
        );
        r.source.repository = Some("https://github.com/servo/rust-url".into());
        r.source.commit = Some("0123456789abcdef0123456789abcdef01234567".into());
        r.source.path_in_repo = Some("percent_encoding".into());
        let mut allowed = Finding::at(Code::ContentDiffers, "Cargo.toml.orig", "differs");
        allowed.allowed = Some(Allowed {
            reason: "reviewed".into(),
            expires: None,
        });
        r.findings = vec![allowed, Finding::new(Code::Dirty, "dirty")];
        r.verdict = Verdict::judge(&r.findings);
        let mut st = statement(&r, &cx(None)).unwrap();
        // The rule set grows with the ecosystems; the snapshot is about the shape.
        let rules = &mut st["predicate"]["policy"]["annotations"]["rules"];
        assert!(rules
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n == "cargo-vcs-info"));
        *rules = json!(["<the ecosystem's named rules>"]);
        st["predicate"]["verifier"]["version"]["provero"] = json!("<version>");
        insta::assert_snapshot!(serde_json::to_string_pretty(&st).unwrap());
    }

    #[test]
    fn signed_envelopes_verify_and_name_the_key() {
        let pem = {
            use ed25519_dalek::pkcs8::EncodePrivateKey;
            ed25519_dalek::SigningKey::from_bytes(&[7; 32])
                .to_pkcs8_pem(Default::default())
                .unwrap()
        };
        let key = SigningKey::from_pem(&pem).unwrap();
        assert_eq!(key.keyid.len(), 64);
        let r = result(
            Ecosystem::Gems,
            "rack",
            "3.1.8",
            "https://h/gems/rack-3.1.8.gem",
        );
        let report = Report::new(vec![r], Vec::new());
        let text = render(&report, &cx(Some(&key))).unwrap();
        let env: Value = serde_json::from_str(text.trim_end()).unwrap();
        assert_eq!(env["payloadType"], PAYLOAD_TYPE);
        assert_eq!(env["signatures"][0]["keyid"], key.keyid.as_str());
        let b64 = base64::engine::general_purpose::STANDARD;
        let payload = b64.decode(env["payload"].as_str().unwrap()).unwrap();
        let sig = b64
            .decode(env["signatures"][0]["sig"].as_str().unwrap())
            .unwrap();
        let sig = ed25519_dalek::Signature::from_slice(&sig).unwrap();
        use ed25519_dalek::Verifier as _;
        key.key
            .verifying_key()
            .verify(&pae(PAYLOAD_TYPE, &payload), &sig)
            .unwrap();
        let st: Value = serde_json::from_slice(&payload).unwrap();
        assert_eq!(st["predicate"]["resourceUri"], "pkg:gem/rack@3.1.8");
        assert!(SigningKey::from_pem("not a key").is_err());
    }
}

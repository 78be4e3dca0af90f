//! in-toto statements end to end (`--format intoto`, `--sign-key`): SLSA verification
//! summaries for crates served on 127.0.0.1, signed in DSSE envelopes whose signatures are
//! checked by an independent implementation (Python's `cryptography`) with the public key.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

fn assert_exit(out: &Output, code: i32) {
    assert_eq!(out.code, code, "unexpected exit code\n{}", out.dump());
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

/// One world: an honest, an unverifiable and a tampered crate.
struct Fixture {
    w: World,
    honest: String,
    unverifiable: String,
    tampered: String,
    honest_sha256: String,
}

fn fixture() -> Fixture {
    let w = World::new();
    let honest = w.honest_crate("honest", "1.0.0");
    w.publish(&honest, &honest.crate_bytes);
    // No repository in the manifest: unverifiable.
    let repo = w.work_repo("norepo");
    common::crates::write_crate(&repo, "", "norepo", "1.0.0", None);
    repo.commit_all("import");
    let bytes = w.package(&repo, "norepo", "1.0.0", false);
    w.registry.publish("norepo", "1.0.0", &bytes);
    // A changed line: a red flag.
    let tampered = w.honest_crate("tampered", "1.0.0");
    let mut ar = tampered.archive();
    ar.replace_text("src/lib.rs", "    a + b\n", "    a + b + 1\n");
    w.publish(&tampered, &ar.to_bytes());
    Fixture {
        honest_sha256: sha256_hex(&honest.crate_bytes),
        honest: honest.spec(),
        unverifiable: "crates:norepo@1.0.0".into(),
        tampered: tampered.spec(),
        w,
    }
}

/// Verify DSSE envelopes with Python's `cryptography` (an implementation provero shares no
/// code with): PAE computed independently, Ed25519 signature checked with the public key,
/// keyid = SHA-256 of the public key's DER. Prints each statement's payload, one per line.
const VERIFY_DSSE_PY: &str = r#"
import base64, hashlib, json, sys
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

pub = serialization.load_pem_public_key(open(sys.argv[1], "rb").read())
assert isinstance(pub, Ed25519PublicKey), type(pub)
der = pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
keyid = hashlib.sha256(der).hexdigest()
for line in open(sys.argv[2], "rb"):
    env = json.loads(line)
    assert env["payloadType"] == "application/vnd.in-toto+json", env["payloadType"]
    body = base64.b64decode(env["payload"])
    t = env["payloadType"].encode()
    pae = b"DSSEv1 %d %s %d %s" % (len(t), t, len(body), body)
    [sig] = env["signatures"]
    assert sig["keyid"] == keyid, (sig["keyid"], keyid)
    pub.verify(base64.b64decode(sig["sig"]), pae)  # raises InvalidSignature
    print(json.dumps(json.loads(body)))
"#;

fn python_has_cryptography() {
    let ok = Command::new("python3")
        .args(["-c", "import cryptography"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "python3 with the `cryptography` package is needed to check DSSE signatures \
         independently (.ci/run installs it: python3 -m pip install cryptography)"
    );
}

#[test]
fn intoto_statements_are_slsa_verification_summaries_signed_in_dsse() {
    python_has_cryptography();
    let f = fixture();
    let root = f.w.root();
    let key = root.join("key.pem");
    let public = root.join("key.pub.pem");
    for args in [
        vec![
            "genpkey",
            "-algorithm",
            "ed25519",
            "-out",
            key.to_str().unwrap(),
        ],
        vec![
            "pkey",
            "-in",
            key.to_str().unwrap(),
            "-pubout",
            "-out",
            public.to_str().unwrap(),
        ],
    ] {
        let st = Command::new("openssl")
            .args(&args)
            .status()
            .expect("openssl");
        assert!(st.success(), "openssl {args:?}");
    }

    // Unsigned: one Statement per package with an artifact, as JSON lines.
    let out = f.w.run(
        &["--no-db", "--format", "intoto"],
        &[
            &f.honest,
            &f.tampered,
            &f.unverifiable,
            "crates:not-published@1.0.0",
        ],
    );
    assert_exit(&out, 1);
    assert!(
        out.stderr
            .contains("1 package(s) without a downloaded artifact"),
        "{}",
        out.stderr
    );
    let statements: Vec<serde_json::Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(statements.len(), 3, "{}", out.stdout);
    check_statements(&f, &statements);

    // Signed: a DSSE envelope per statement, checked by Python with the public key.
    let jsonl = root.join("attestations.intoto.jsonl");
    let out = f.w.run(
        &[
            "--no-db",
            "--format",
            "intoto",
            "--sign-key",
            key.to_str().unwrap(),
            "--output",
            jsonl.to_str().unwrap(),
        ],
        &[&f.honest, &f.tampered, &f.unverifiable],
    );
    assert_exit(&out, 1);
    let script = root.join("verify_dsse.py");
    std::fs::write(&script, VERIFY_DSSE_PY).unwrap();
    let py = Command::new("python3")
        .arg(&script)
        .arg(&public)
        .arg(&jsonl)
        .output()
        .expect("python3");
    assert!(
        py.status.success(),
        "independent DSSE verification failed:\n{}",
        String::from_utf8_lossy(&py.stderr)
    );
    let statements: Vec<serde_json::Value> = String::from_utf8(py.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(statements.len(), 3);
    check_statements(&f, &statements);

    // A changed byte breaks the signature for the independent verifier too.
    let text = std::fs::read_to_string(&jsonl).unwrap();
    let mut env: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    let body = String::from_utf8(base64_decode(env["payload"].as_str().unwrap()))
        .unwrap()
        .replace("\"PASSED\"", "\"FAILED\"");
    env["payload"] = base64_encode(body.as_bytes()).into();
    std::fs::write(&jsonl, format!("{env}\n")).unwrap();
    let py = Command::new("python3")
        .arg(&script)
        .arg(&public)
        .arg(&jsonl)
        .output()
        .unwrap();
    assert!(!py.status.success(), "a changed payload must not verify");
    assert!(String::from_utf8_lossy(&py.stderr).contains("InvalidSignature"));

    // A key with nothing to sign is refused rather than ignored.
    let out =
        f.w.run(&["--sign-key", key.to_str().unwrap()], &[&f.honest]);
    assert_exit(&out, 2);
    assert!(
        out.stderr.contains("--sign-key signs in-toto statements"),
        "{}",
        out.stderr
    );

    // A key that is not Ed25519 PKCS#8 PEM is an error naming the file, before any work.
    let bad = write(root, "bad.pem", "not a key\n");
    let out =
        f.w.run(&["--format", "intoto", "--sign-key", &bad], &[&f.honest]);
    assert_exit(&out, 2);
    assert!(
        out.stderr
            .contains(&format!("{bad} is not an Ed25519 private key")),
        "{}",
        out.stderr
    );
}

fn check_statements(f: &Fixture, statements: &[serde_json::Value]) {
    let by_name = |name: &str| {
        statements
            .iter()
            .find(|s| s["subject"][0]["name"] == format!("{name}-1.0.0.crate"))
            .unwrap_or_else(|| panic!("no statement for {name}: {statements:#?}"))
    };
    for s in statements {
        assert_eq!(s["_type"], "https://in-toto.io/Statement/v1");
        assert_eq!(
            s["predicateType"],
            "https://slsa.dev/verification_summary/v1"
        );
        let p = &s["predicate"];
        assert!(p["verifier"]["id"]
            .as_str()
            .unwrap()
            .starts_with("https://"));
        assert_eq!(
            p["verifier"]["version"]["provero"],
            env!("CARGO_PKG_VERSION")
        );
        let t = p["timeVerified"].as_str().unwrap();
        assert!(
            t.len() == 20 && t.ends_with('Z') && t.as_bytes()[10] == b'T',
            "{t}"
        );
        assert_eq!(p["policy"]["annotations"]["mode"], "diff");
        let rules = p["policy"]["annotations"]["rules"].as_array().unwrap();
        assert!(rules.iter().any(|r| r == "cargo-vcs-info"), "{rules:?}");
        let digest = s["subject"][0]["digest"]["sha256"].as_str().unwrap();
        assert_eq!(digest.len(), 64);
    }
    let honest = by_name("honest");
    let p = &honest["predicate"];
    assert_eq!(p["resourceUri"], "pkg:cargo/honest@1.0.0");
    assert_eq!(p["verificationResult"], "PASSED");
    assert_eq!(p["source"]["repository"], World::repo_url("honest"));
    assert_eq!(p["source"]["commit"].as_str().unwrap().len(), 40);
    let tampered = by_name("tampered");
    let p = &tampered["predicate"];
    assert_eq!(p["verificationResult"], "FAILED");
    assert_eq!(p["verifiedLevels"][0], "FAILED");
    assert!(p["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["code"] == "content-differs" && x["path"] == "src/lib.rs"));
    let unverifiable = by_name("norepo");
    assert_eq!(unverifiable["predicate"]["verificationResult"], "FAILED");
    assert!(unverifiable["predicate"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["code"] == "no-repository"));
    // The subject digest is what the registry served.
    assert_eq!(honest["subject"][0]["digest"]["sha256"], f.honest_sha256);
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

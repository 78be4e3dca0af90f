//! Trusted publishing and attestations end to end (#11): the commit a registry says the package
//! was published from, from the strongest evidence, compared with the content.
//!
//! - crates: a loopback sparse index whose `config.json` `api` serves
//!   `/api/v1/crates/<name>/<version>` with `trustpub_data` (the registry's unsigned word);
//! - PyPI: a loopback Simple API whose JSON pages link PEP 740 provenance (or PyPI's integrity
//!   API layout), signed with the test Sigstore CA of `common::sigstore`;
//! - RubyGems: a loopback API serving `/api/v1/attestations/<name>-<version>.json` bundles.
//!
//! Real git repositories, real `cargo package`, `python3 setup.py sdist` and `gem build`
//! output; the test CA's `trusted_root.json` is given with `--trust-root`.

// gems_support includes tests/common/http.rs itself, as the gems tests use it without `common`.
#![allow(clippy::duplicate_mod)]

mod common;
mod gems_support;
mod pypi_common;

use common::sigstore::{TestCa, TestPublisher};
use common::{CrateFixture, World};
use serde_json::{json, Value};

// ---- crates: trustpub_data --------------------------------------------------------------

/// Serve `trustpub_data` for a crate version at `{api}/api/v1/crates/<name>/<version>` (the
/// test index's `api` is the server's root).
fn serve_trustpub(w: &World, fx: &CrateFixture, data: Value) {
    let dir = w.server.root().join("api/v1/crates").join(&fx.name);
    std::fs::create_dir_all(&dir).unwrap();
    let body = json!({"version": {"crate": fx.name, "num": fx.version, "trustpub_data": data}});
    std::fs::write(dir.join(&fx.version), body.to_string()).unwrap();
}

fn trustpub(repository: &str, sha: &str) -> Value {
    json!({"provider": "github", "repository": repository, "run_id": "4242", "sha": sha})
}

#[test]
fn crates_trustpub_data_that_agrees_is_the_commit() {
    let w = World::new();
    let fx = w.honest_crate("tp-agree", "1.0.0");
    w.publish(&fx, &fx.crate_bytes);
    serve_trustpub(&w, &fx, trustpub("acme/tp-agree", &fx.commit));
    let (out, report) = w.run_json(&["--no-db"], &[&fx.spec()]);
    let r = report.result("tp-agree");
    r.assert_verdict("verified")
        .assert_no_finding("attestation-disagrees");
    assert_eq!(out.code, 0, "{}", out.dump());
    assert_eq!(r.json["source"]["commit"], fx.commit.as_str());
    assert_eq!(r.json["source"]["commit_from"], "trusted-publishing");
    let a = &r.json["attestations"][0];
    assert_eq!(a["kind"], "trusted-publishing", "{a:#}");
    assert_eq!(
        a["publisher"]["repository"],
        "https://github.com/acme/tp-agree"
    );
    assert_eq!(a["publisher"]["run_id"], "4242");
    assert_eq!(a["publisher"]["provider"], "github");
    assert_eq!(a["used"], true);
    // The registry's own word: nothing about it could be checked.
    for check in [
        "subject_digest",
        "certificate_chain",
        "signature",
        "transparency_log",
    ] {
        assert_eq!(a["checks"][check]["status"], "not-checked", "{a:#}");
    }
    // It went through the registry's API once.
    assert_eq!(w.server.hits("/api/v1/crates/tp-agree/1.0.0"), 1);
}

#[test]
fn crates_trustpub_naming_another_commit_than_vcs_info_is_compared_with_it() {
    let w = World::new();
    let fx = w.honest_crate("tp-other", "1.0.0");
    w.publish(&fx, &fx.crate_bytes);
    // CI published from a later commit than the one the packager recorded.
    fx.repo.write(
        "src/lib.rs",
        common::LIB_RS.replace("a + b", "a.wrapping_add(b)"),
    );
    let later = fx.repo.commit_all("later");
    fx.repo.push_to(&fx.upstream, &["main"]);
    serve_trustpub(&w, &fx, trustpub("acme/tp-other", &later));
    let (out, report) = w.run_json(&["--no-db"], &[&fx.spec()]);
    let r = report.result("tp-other");
    let f = r.assert_finding("attestation-disagrees", "warning", None);
    assert!(
        f.message.contains(&later[..12]) && f.message.contains(&fx.commit[..12]),
        "both commits named: {}",
        f.message
    );
    assert!(f.message.contains("trusted-publishing"), "{}", f.message);
    assert!(f.message.contains("cargo_vcs_info"), "{}", f.message);
    // Compared with the trusted-publishing commit, where src/lib.rs is not what was published.
    assert_eq!(r.json["source"]["commit"], later.as_str());
    assert_eq!(r.json["source"]["commit_from"], "trusted-publishing");
    r.assert_verdict("mismatch");
    r.assert_finding("content-differs", "red-flag", Some("src/lib.rs"));
    assert_eq!(out.code, 1);
}

#[test]
fn crates_without_trustpub_data_are_unchanged() {
    let w = World::new();
    let absent = w.honest_crate("tp-absent", "1.0.0");
    w.publish(&absent, &absent.crate_bytes);
    let null = w.honest_crate("tp-null", "1.0.0");
    w.publish(&null, &null.crate_bytes);
    serve_trustpub(&w, &null, Value::Null);
    let (out, report) = w.run_json(&["--no-db"], &[&absent.spec(), &null.spec()]);
    assert_eq!(out.code, 0, "{}", out.dump());
    for (name, fx) in [("tp-absent", &absent), ("tp-null", &null)] {
        let r = report.result(name);
        r.assert_clean();
        assert_eq!(r.json["source"]["commit"], fx.commit.as_str());
        assert_eq!(r.json["source"]["commit_from"], "vcs-info");
        assert!(r.json.get("attestations").is_none(), "{:#}", r.json);
    }
}

#[test]
fn crates_trustpub_naming_another_repository_uses_it_and_says_so() {
    let w = World::new();
    let fx = w.honest_crate("tp-repo", "1.0.0");
    w.publish(&fx, &fx.crate_bytes);
    // The same history under another name: what CI checked out.
    w.make_upstream(&fx.repo, "tp-fork");
    serve_trustpub(&w, &fx, trustpub("acme/tp-fork", &fx.commit));
    let (_, report) = w.run_json(&["--no-db"], &[&fx.spec()]);
    let r = report.result("tp-repo");
    let f = r.assert_finding("repository-disagrees", "warning", None);
    assert!(
        f.message.contains("https://github.com/acme/tp-fork")
            && f.message.contains("https://github.com/acme/tp-repo"),
        "{}",
        f.message
    );
    assert_eq!(
        r.json["source"]["repository"],
        "https://github.com/acme/tp-fork"
    );
    r.assert_verdict("verified");
}

#[test]
fn crates_api_failures_are_not_red_flags_and_are_not_stored() {
    let w = World::new();
    let fx = w.honest_crate("tp-down", "1.0.0");
    w.publish(&fx, &fx.crate_bytes);
    serve_trustpub(&w, &fx, trustpub("acme/tp-down", &fx.commit));
    let path = "/api/v1/crates/tp-down/1.0.0";
    // Every try of the first run (one and four retries) fails; the next run's succeeds.
    w.server.fail_next(path, 503, 5);
    let (_, report) = w.run_json(&[], &[&fx.spec()]);
    let r = report.result("tp-down");
    r.assert_finding("attestation-unavailable", "info", None);
    r.assert_verdict("verified");
    assert_eq!(r.json["source"]["commit_from"], "vcs-info");
    // Not stored: the next run asks again and gets the trusted-publishing data.
    let (_, report) = w.run_json(&[], &[&fx.spec()]);
    let r = report.result("tp-down");
    assert_eq!(
        r.json["source"]["commit_from"], "trusted-publishing",
        "{:#}",
        r.json
    );
}

// ---- PyPI: PEP 740 provenance -----------------------------------------------------------

/// A project declaring setuptools-scm with the scm record (`scm_version.json`) of commit
/// `recorded`, built by `setup.py sdist`; then a later commit changing the module.
struct PypiWorld {
    fx: pypi_common::Fixture,
    sdist: std::path::PathBuf,
    recorded: String,
    later: String,
    ca: TestCa,
    trust_root: String,
}

impl PypiWorld {
    fn new() -> PypiWorld {
        let fx = pypi_common::Fixture::new();
        let r = fx.repo("att-thing");
        r.write(
            "pyproject.toml",
            "[build-system]\nrequires = [\"setuptools\", \"setuptools-scm\"]\nbuild-backend = \"setuptools.build_meta\"\n",
        )
        .write(
            "setup.cfg",
            "[metadata]\nname = att-thing\nversion = 1.0.0\nproject_urls =\n    Repository = https://github.com/acme/att-thing\n\n\
             [options]\npackages = find:\n",
        )
        .write("setup.py", "from setuptools import setup\nsetup()\n")
        .write("att_thing/__init__.py", "X = 1\n")
        .write(".gitignore", "*.egg-info/\n");
        let recorded = r.commit("release").trim().to_string();
        r.tag("1.0.0");
        let built = fx.sdist(&r, "");
        let name = built.file_name().unwrap().to_str().unwrap().to_string();
        let top = name.trim_end_matches(".tar.gz").to_string();
        let sdist = fx.root().join("dist").join("scm").join(&name);
        let record =
            format!("{{\"version\": \"1.0.0\", \"node\": \"g{recorded}\", \"dirty\": false}}");
        pypi_common::repack(&built, &sdist, |e| {
            pypi_common::set(
                e,
                &format!("{top}/att_thing.egg-info/scm_version.json"),
                record.as_bytes(),
            )
        });
        r.write("att_thing/__init__.py", "X = 2\n");
        let later = r.commit("later").trim().to_string();
        let ca = TestCa::new();
        let trust_root = ca.write_trusted_root(fx.root()).display().to_string();
        PypiWorld {
            fx,
            sdist,
            recorded,
            later,
            ca,
            trust_root,
        }
    }

    fn filename(&self) -> String {
        self.sdist
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .to_string()
    }

    fn sha256(&self) -> String {
        pypi_common::sha256(&std::fs::read(&self.sdist).unwrap())
    }

    /// Publish the sdist on `index`, its JSON page linking `provenance` (a document written
    /// under the index's `files/`) when given.
    fn publish(&self, index: &str, provenance: Option<&Value>) {
        self.fx
            .publish(index, "att-thing", &[(&self.sdist, None)], false);
        let Some(doc) = provenance else { return };
        let www = self.fx.root().join("www").join(index);
        let file = format!("{}.provenance", self.filename());
        std::fs::write(www.join("files").join(&file), doc.to_string()).unwrap();
        let page = www.join("simple/att-thing/index.json");
        let mut v: Value = serde_json::from_slice(&std::fs::read(&page).unwrap()).unwrap();
        v["files"][0]["provenance"] = json!(format!("../../files/{file}"));
        std::fs::write(&page, v.to_string()).unwrap();
    }

    fn attest(&self, commit: &str, sha256: &str) -> common::sigstore::TestAttestation {
        self.ca.sign(
            &TestPublisher::github("acme/att-thing", commit),
            &self.filename(),
            sha256,
        )
    }

    fn verify(&self, index: &str) -> (i32, Value) {
        self.fx.verify_with(
            index,
            "pypi:att-thing@1.0.0",
            &["--no-db", "--trust-root", &self.trust_root],
        )
    }
}

fn codes(v: &Value) -> Vec<String> {
    pypi_common::codes(v)
}

#[test]
fn pypi_attestation_that_agrees_is_verified_and_is_the_commit() {
    let p = PypiWorld::new();
    let att = p.attest(&p.recorded, &p.sha256());
    p.publish("agree", Some(&att.pep740_provenance()));
    let (code, v) = p.verify("agree");
    let r = pypi_common::result(&v);
    assert_eq!(r["verdict"], "verified", "{v:#}");
    assert_eq!(code, 0);
    assert_eq!(r["source"]["commit"], p.recorded.as_str());
    assert_eq!(r["source"]["commit_from"], "attestation");
    assert!(
        codes(&v).contains(&"commit-from-attestation".to_string()),
        "{v:#}"
    );
    assert!(
        !codes(&v).contains(&"attestation-disagrees".to_string()),
        "{v:#}"
    );
    let a = &r["attestations"][0];
    assert_eq!(a["kind"], "signed");
    assert_eq!(a["used"], true);
    assert_eq!(
        a["publisher"]["repository"],
        "https://github.com/acme/att-thing"
    );
    assert_eq!(a["publisher"]["commit"], p.recorded.as_str());
    assert_eq!(a["publisher"]["ref"], "refs/tags/v1.0.0");
    assert!(a["publisher"]["workflow"]
        .as_str()
        .unwrap()
        .contains("release.yml"));
    for check in ["subject_digest", "certificate_chain", "signature"] {
        assert_eq!(a["checks"][check]["status"], "passed", "{check}: {a:#}");
    }
    // The test trust root has no transparency log: said, not pretended.
    assert_eq!(
        a["checks"]["transparency_log"]["status"], "not-checked",
        "{a:#}"
    );
}

#[test]
fn pypi_attestation_naming_another_commit_than_the_scm_record_is_compared_with_it() {
    let p = PypiWorld::new();
    let att = p.attest(&p.later, &p.sha256());
    p.publish("other", Some(&att.pep740_provenance()));
    let (code, v) = p.verify("other");
    let r = pypi_common::result(&v);
    let f = pypi_common::with_code(&v, "attestation-disagrees");
    assert_eq!(f.len(), 1, "{v:#}");
    let msg = f[0]["message"].as_str().unwrap();
    assert!(
        msg.contains(&p.later[..12]) && msg.contains(&p.recorded[..12]),
        "{msg}"
    );
    assert!(
        msg.contains("signed attestation") && msg.contains("scm_version"),
        "{msg}"
    );
    assert_eq!(f[0]["severity"], "warning");
    // The attested commit is what the content is compared with: its module is not the
    // published one.
    assert_eq!(r["source"]["commit"], p.later.as_str(), "{v:#}");
    assert_eq!(r["source"]["commit_from"], "attestation");
    let differs = pypi_common::with_code(&v, "content-differs");
    assert_eq!(differs.len(), 1, "{v:#}");
    assert_eq!(differs[0]["path"], "att_thing/__init__.py");
    assert_eq!(r["verdict"], "mismatch");
    assert_eq!(code, 1);
}

#[test]
fn pypi_attestation_for_another_digest_is_attestation_mismatch() {
    let p = PypiWorld::new();
    let att = p.attest(&p.recorded, &"ab".repeat(32));
    p.publish("digest", Some(&att.pep740_provenance()));
    let (code, v) = p.verify("digest");
    let r = pypi_common::result(&v);
    let f = pypi_common::with_code(&v, "attestation-mismatch");
    assert_eq!(f.len(), 1, "{v:#}");
    assert_eq!(f[0]["severity"], "red-flag");
    assert!(
        f[0]["message"].as_str().unwrap().contains(&p.sha256()),
        "{v:#}"
    );
    assert_eq!(r["verdict"], "mismatch");
    assert_eq!(code, 1);
    // Its commit is not evidence: the packager's record is used.
    assert_eq!(r["source"]["commit_from"], "scm-version");
    assert_eq!(r["attestations"][0]["used"], false);
    assert_eq!(
        r["attestations"][0]["checks"]["subject_digest"]["status"],
        "failed"
    );
}

#[test]
fn pypi_attestation_with_a_bad_signature_or_from_another_ca_is_attestation_invalid() {
    let p = PypiWorld::new();
    let bad = p.attest(&p.recorded, &p.sha256()).with_bad_signature();
    p.publish("badsig", Some(&bad.pep740_provenance()));
    let stranger = TestCa::new().sign(
        &TestPublisher::github("acme/att-thing", &p.recorded),
        &p.filename(),
        &p.sha256(),
    );
    p.publish("otherca", Some(&stranger.pep740_provenance()));
    for (index, check) in [("badsig", "signature"), ("otherca", "certificate_chain")] {
        let (code, v) = p.verify(index);
        let r = pypi_common::result(&v);
        let f = pypi_common::with_code(&v, "attestation-invalid");
        assert_eq!(f.len(), 1, "{index}: {v:#}");
        assert_eq!(f[0]["severity"], "red-flag");
        assert_eq!(r["verdict"], "mismatch", "{index}");
        assert_eq!(code, 1);
        assert_eq!(
            r["attestations"][0]["checks"][check]["status"], "failed",
            "{index}: {v:#}"
        );
        assert_eq!(r["source"]["commit_from"], "scm-version", "{index}");
        assert!(!codes(&v).contains(&"commit-from-attestation".to_string()));
    }
}

#[test]
fn pypi_provenance_from_the_integrity_api_when_the_page_does_not_link_it() {
    let p = PypiWorld::new();
    p.publish("integrity", None);
    let att = p.attest(&p.recorded, &p.sha256());
    let dir =
        p.fx.root()
            .join("www/integrity/integrity/att-thing/1.0.0")
            .join(p.filename());
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("provenance"), att.pep740_provenance().to_string()).unwrap();
    let (_, v) = p.verify("integrity");
    let r = pypi_common::result(&v);
    assert_eq!(r["verdict"], "verified", "{v:#}");
    assert_eq!(r["source"]["commit_from"], "attestation");
    let url = r["attestations"][0]["url"].as_str().unwrap();
    assert!(
        url.ends_with(&format!(
            "/integrity/integrity/att-thing/1.0.0/{}/provenance",
            p.filename()
        )),
        "{url}"
    );
}

#[test]
fn pypi_mirror_without_provenance_is_unchanged() {
    let p = PypiWorld::new();
    p.publish("mirror", None);
    let (code, v) = p.verify("mirror");
    let r = pypi_common::result(&v);
    assert_eq!(r["verdict"], "verified", "{v:#}");
    assert_eq!(code, 0);
    assert_eq!(r["source"]["commit"], p.recorded.as_str());
    assert_eq!(r["source"]["commit_from"], "scm-version");
    assert!(r.get("attestations").is_none(), "{v:#}");
    assert!(
        codes(&v).iter().all(|c| !c.starts_with("attestation")),
        "{v:#}"
    );
}

#[test]
fn pypi_a_stored_verdict_is_not_replayed_under_another_trust_root() {
    let p = PypiWorld::new();
    let att = p.attest(&p.recorded, &p.sha256());
    p.publish("store", Some(&att.pep740_provenance()));
    let db = p.fx.root().join("results.db").display().to_string();
    std::fs::create_dir_all(p.fx.root().join("other")).unwrap();
    let other_root = TestCa::new()
        .write_trusted_root(&p.fx.root().join("other"))
        .display()
        .to_string();
    let run = |root: &str| {
        p.fx.verify_with(
            "store",
            "pypi:att-thing@1.0.0",
            &["--db", &db, "--trust-root", root],
        )
        .1
    };
    let v = run(&p.trust_root);
    assert_eq!(pypi_common::result(&v)["verdict"], "verified", "{v:#}");
    let v = run(&other_root);
    assert_eq!(v["summary"]["skipped"], 0, "{v:#}");
    assert_eq!(pypi_common::result(&v)["verdict"], "mismatch", "{v:#}");
    assert!(codes(&v).contains(&"attestation-invalid".to_string()));
    // The same root again: decided already under it, replayed.
    let v = run(&other_root);
    assert_eq!(v["summary"]["skipped"], 1, "{v:#}");
    assert_eq!(pypi_common::result(&v)["verdict"], "mismatch", "{v:#}");
}

// ---- RubyGems: Sigstore bundles ---------------------------------------------------------

const GEMSPEC: &str = r#"Gem::Specification.new do |s|
  s.name = "signed"
  s.version = "1.0.0"
  s.summary = "A gem published with attestations"
  s.authors = ["Fixture"]
  s.license = "MIT"
  s.metadata = { "source_code_uri" => "https://github.com/acme/signed" }
  s.files = ["lib/signed.rb", "signed.gemspec"]
  s.require_paths = ["lib"]
end
"#;

/// The `signed` gem built at a commit tagged `v1.0.0`; that commit.
fn signed_gem(w: &gems_support::World) -> (Vec<u8>, String) {
    let dir = gems_support::repo(
        &w.repos,
        "signed",
        &[
            ("signed.gemspec", GEMSPEC),
            ("lib/signed.rb", "module Signed\nend\n"),
        ],
        &["v1.0.0"],
    );
    let gem = gems_support::gem_build(&dir, "signed.gemspec");
    (gem, gems_support::git(&dir, &["rev-parse", "HEAD"]))
}

fn serve_bundles(w: &gems_support::World, bundles: Value) {
    let dir = w.www.root.join("api/v1/attestations");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("signed-1.0.0.json"), bundles.to_string()).unwrap();
}

fn gem_trust_root(w: &gems_support::World, ca: &TestCa) -> String {
    ca.write_trusted_root(w.repos.parent().unwrap())
        .display()
        .to_string()
}

#[test]
fn gems_attestation_that_agrees_is_the_commit() {
    let w = gems_support::World::new();
    let (gem, commit) = signed_gem(&w);
    w.publish("signed", "1.0.0", &gem, None);
    let ca = TestCa::new();
    let att = ca.sign(
        &TestPublisher::github("acme/signed", &commit),
        "signed-1.0.0.gem",
        &gems_support::sha256(&gem),
    );
    serve_bundles(&w, json!([att.sigstore_bundle()]));
    let root = gem_trust_root(&w, &ca);
    let run = w.verify_with("gems:signed@1.0.0", &["--no-db", "--trust-root", &root]);
    assert_eq!(run.verdict(), "verified", "{:#}", run.json);
    let r = run.result();
    assert_eq!(r["source"]["commit"], commit.as_str());
    assert_eq!(r["source"]["commit_from"], "attestation");
    assert!(run.has("commit-from-attestation", None));
    assert!(!run.has("commit-from-tag", None), "{:#}", run.json);
    assert_eq!(
        r["attestations"][0]["checks"]["signature"]["status"],
        "passed"
    );
    assert_eq!(
        r["attestations"][0]["publisher"]["repository"],
        "https://github.com/acme/signed"
    );
}

#[test]
fn gems_attestation_with_a_bad_signature_is_invalid_and_the_tag_is_used() {
    let w = gems_support::World::new();
    let (gem, commit) = signed_gem(&w);
    w.publish("signed", "1.0.0", &gem, None);
    let ca = TestCa::new();
    let att = ca
        .sign(
            &TestPublisher::github("acme/signed", &commit),
            "signed-1.0.0.gem",
            &gems_support::sha256(&gem),
        )
        .with_bad_signature();
    serve_bundles(&w, json!([att.sigstore_bundle()]));
    let root = gem_trust_root(&w, &ca);
    let run = w.verify_with("gems:signed@1.0.0", &["--no-db", "--trust-root", &root]);
    assert_eq!(run.verdict(), "mismatch", "{:#}", run.json);
    assert_eq!(run.code, 1);
    assert!(run.has("attestation-invalid", None), "{:#}", run.json);
    assert!(run.message("attestation-invalid").contains("signature"));
    assert_eq!(run.result()["source"]["commit_from"], "tag");
    // Without any attestation on the server: unchanged.
    std::fs::remove_file(w.www.root.join("api/v1/attestations/signed-1.0.0.json")).unwrap();
    let run = w.verify_with("gems:signed@1.0.0", &["--no-db", "--trust-root", &root]);
    assert_eq!(run.verdict(), "verified", "{:#}", run.json);
    assert_eq!(run.result()["source"]["commit_from"], "tag");
    assert!(run.result().get("attestations").is_none());
}

#[test]
fn every_report_format_says_where_the_commit_came_from() {
    let w = World::new();
    let fx = w.honest_crate("tp-formats", "1.0.0");
    w.publish(&fx, &fx.crate_bytes);
    fx.repo
        .write("src/lib.rs", common::LIB_RS.replace("a + b", "b + a"));
    let later = fx.repo.commit_all("later");
    fx.repo.push_to(&fx.upstream, &["main"]);
    serve_trustpub(&w, &fx, trustpub("acme/tp-formats", &later));
    let dir = w.root().join("reports");
    std::fs::create_dir_all(&dir).unwrap();
    let files = ["r.json", "r.md", "r.sarif", "r.html", "r.junit.xml"].map(|f| dir.join(f));
    let mut args = vec!["--no-db".to_string()];
    for f in &files {
        args.push("--output".into());
        args.push(f.display().to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = w.run(&args, &[&fx.spec()]);
    assert_eq!(out.code, 1, "{}", out.dump());
    let read = |i: usize| std::fs::read_to_string(&files[i]).unwrap();
    // Human (stdout): the commit's source on the verdict line, the publisher beneath.
    assert!(
        out.stdout.contains("(from trusted-publishing)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("attestation  trusted-publishing: https://github.com/acme/tp-formats"),
        "{}",
        out.stdout
    );
    let json: Value = serde_json::from_str(&read(0)).unwrap();
    assert_eq!(
        json["results"][0]["source"]["commit_from"],
        "trusted-publishing"
    );
    assert_eq!(
        json["results"][0]["attestations"][0]["kind"],
        "trusted-publishing"
    );
    let md = read(1);
    assert!(md.contains("(commit from trusted-publishing)"), "{md}");
    assert!(md.contains("- attestation: trusted-publishing:"), "{md}");
    let sarif: Value = serde_json::from_str(&read(2)).unwrap();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert!(!results.is_empty());
    for r in results {
        assert_eq!(
            r["properties"]["commit_from"], "trusted-publishing",
            "{r:#}"
        );
        assert_eq!(
            r["properties"]["attestations"][0]["publisher"]["commit"],
            later.as_str()
        );
    }
    let html = read(3);
    assert!(
        html.contains("<dt>commit from</dt><dd><code>trusted-publishing</code>"),
        "{html}"
    );
    assert!(html.contains("<dt>attestation</dt>"), "{html}");
    let junit = read(4);
    assert!(
        junit.contains("(commit from trusted-publishing)"),
        "{junit}"
    );
    assert!(
        junit.contains("attestation: trusted-publishing:"),
        "{junit}"
    );
}

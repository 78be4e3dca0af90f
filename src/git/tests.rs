//! The Repo API against real repositories: what the in-process reader answers must be what git
//! itself answers (`rev-list --all`, `for-each-ref`, `ls-tree -r -t`, `rev-parse`), and a
//! partial clone's missing blobs come through the CLI's fetch.

use std::collections::HashSet;
use std::path::Path;
use std::process::Command;

use super::*;

fn git(dir: &Path, args: &[&str]) -> String {
    let o = Command::new("git")
        .args(["-c", "user.name=T", "-c", "user.email=t@example.org"])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).trim_end().to_string()
}

/// main: A (a.txt, bin/run executable, link -> a.txt, a gitlink), B (a.txt changed);
/// side: S from A; tags: light -> A, v1 annotated -> B, nested annotated -> v1's tag object;
/// an unreachable commit U written but referenced by nothing.
fn upstream() -> (tempfile::TempDir, [String; 4]) {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    git(d, &["init", "-q", "-b", "main"]);
    std::fs::write(d.join("a.txt"), "one\n").unwrap();
    std::fs::create_dir(d.join("bin")).unwrap();
    std::fs::write(d.join("bin/run"), "#!/bin/sh\n").unwrap();
    git(d, &["update-index", "--add", "--chmod=+x", "bin/run"]);
    std::os::unix::fs::symlink("a.txt", d.join("link")).unwrap();
    git(d, &["add", "a.txt", "link"]);
    let sub = "1".repeat(40);
    git(
        d,
        &[
            "update-index",
            "--add",
            "--cacheinfo",
            &format!("160000,{sub},vendor/sub"),
        ],
    );
    git(d, &["commit", "-q", "-m", "A"]);
    let a = git(d, &["rev-parse", "HEAD"]);
    std::fs::write(d.join("a.txt"), "two\n").unwrap();
    git(d, &["commit", "-q", "-am", "B"]);
    let b = git(d, &["rev-parse", "HEAD"]);
    git(d, &["checkout", "-q", "-b", "side", &a]);
    std::fs::write(d.join("s.txt"), "side\n").unwrap();
    git(d, &["add", "s.txt"]);
    git(d, &["commit", "-q", "-m", "S"]);
    let s = git(d, &["rev-parse", "HEAD"]);
    git(d, &["checkout", "-q", "main"]);
    git(d, &["tag", "light", &a]);
    git(d, &["tag", "-a", "-m", "one", "v1", &b]);
    git(d, &["tag", "-a", "-m", "nested", "nested", "v1"]);
    let tree = git(d, &["rev-parse", "HEAD^{tree}"]);
    let u = git(d, &["commit-tree", "-m", "U", &tree]);
    (tmp, [a, b, s, u])
}

fn cache_clone(up: &Path) -> (tempfile::TempDir, Repo) {
    let cache = tempfile::tempdir().unwrap();
    let url = format!("file://{}", up.display());
    let (repo, cloned) = open_or_clone(cache.path(), &url).unwrap();
    assert!(cloned);
    (cache, repo)
}

fn cli(repo: &Repo, args: &[&str]) -> String {
    let mut c = repo.cmd();
    c.env("GIT_NO_LAZY_FETCH", "1").args(args);
    String::from_utf8(c.output().unwrap().stdout).unwrap()
}

#[test]
fn refs_and_reachability_are_what_git_lists() {
    let (up, [a, b, s, u]) = upstream();
    let (_cache, repo) = cache_clone(up.path());
    let reach = repo.reachable_commits().unwrap();
    let git_reach: HashSet<String> = cli(&repo, &["rev-list", "--all"])
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(reach, git_reach);
    assert_eq!(reach, HashSet::from([a.clone(), b.clone(), s.clone()]));

    let tags = repo.tags().unwrap();
    assert_eq!(
        tags,
        vec![
            ("light".to_string(), a.clone()),
            ("nested".to_string(), b.clone()),
            ("v1".to_string(), b.clone()),
        ]
    );

    assert_eq!(repo.has_commit(&b.to_uppercase()), Some(b.clone()));
    let v1 = cli(&repo, &["rev-parse", "v1"]).trim().to_string();
    assert_ne!(v1, b, "v1 is an annotated tag object");
    assert_eq!(repo.has_commit(&v1), Some(b.clone()), "a tag id peels");
    let tree = cli(&repo, &["rev-parse", "main^{tree}"]).trim().to_string();
    assert_eq!(repo.has_commit(&tree), None, "a tree is no commit");
    assert_eq!(repo.has_commit(&"2".repeat(40)), None);
    assert_eq!(
        repo.has_commit(&b[..10]),
        Some(b.clone()),
        "an abbreviated id"
    );
    assert_eq!(repo.has_commit(&b[..3]), None, "too short to name anything");
    assert_eq!(repo.has_commit("abcdef12345"), None);
    assert_eq!(repo.has_commit("main"), None, "only ids are looked up");
    // The unreachable commit never came down with the clone; fetched by id, it is here but
    // still reached by nothing.
    assert_eq!(repo.has_commit(&u), None);
    repo.fetch_commit(&u).unwrap();
    assert_eq!(repo.has_commit(&u), Some(u.clone()));
    assert!(!repo.reachable_commits().unwrap().contains(&u));
}

#[test]
fn trees_list_what_ls_tree_lists() {
    let (up, [a, ..]) = upstream();
    let (_cache, repo) = cache_clone(up.path());
    let tree = repo.tree(&a).unwrap();
    let listed = cli(&repo, &["ls-tree", "-r", "-t", "--full-tree", &a]);
    let mut want = std::collections::HashMap::new();
    for line in listed.lines() {
        let (meta, path) = line.split_once('\t').unwrap();
        let f: Vec<&str> = meta.split(' ').collect();
        want.insert(
            path.to_string(),
            (u32::from_str_radix(f[0], 8).unwrap(), f[2]),
        );
    }
    assert_eq!(tree.entries.len(), want.len());
    for (path, e) in &tree.entries {
        assert_eq!(want[path], (e.mode, e.oid.as_str()), "{path}");
    }
    assert_eq!(tree.get("bin/run").unwrap().mode, 0o100755);
    assert!(tree.get("link").unwrap().is_symlink());
    assert_eq!(tree.get("vendor/sub").unwrap().kind, Kind::Commit);
    assert_eq!(tree.get("bin").unwrap().kind, Kind::Tree);
    assert!(matches!(
        repo.tree(&"3".repeat(40)),
        Err(GitError::Read { .. })
    ));
}

#[test]
fn a_partial_clone_fetches_missing_blobs_and_never_invents_one() {
    let (up, [a, b, ..]) = upstream();
    let (_cache, repo) = cache_clone(up.path());
    let one = cli(&repo, &["rev-parse", &format!("{a}:a.txt")])
        .trim()
        .to_string();
    let two = cli(&repo, &["rev-parse", &format!("{b}:a.txt")])
        .trim()
        .to_string();
    let missing = |oid: &str| {
        let mut c = repo.cmd();
        c.env("GIT_NO_LAZY_FETCH", "1")
            .args(["cat-file", "-e", oid]);
        !c.status().unwrap().success()
    };
    assert!(missing(&one) && missing(&two), "blobs stay on the remote");
    let got = repo.read_blobs(&[one.clone(), two.clone()]).unwrap();
    assert_eq!(got[&one], b"one\n");
    assert_eq!(got[&two], b"two\n");
    assert!(!missing(&one), "fetched into the clone");
    assert_eq!(repo.read_blob(&one).unwrap(), b"one\n");
    // A blob the remote does not have either is an error, not an empty file.
    let nowhere = crate::archive::git_blob_id(b"never committed\n");
    let e = repo.read_blobs(&[one, nowhere.clone()]).unwrap_err();
    assert!(e.to_string().contains(&nowhere), "{e}");
}

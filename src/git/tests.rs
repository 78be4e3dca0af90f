//! The Repo API against real repositories: what the in-process reader answers must be what git
//! itself answers (`rev-list --all`, `for-each-ref`, `ls-tree -r -t`, `rev-parse`), and a
//! partial clone's missing blobs come through the CLI's fetch.

use std::collections::HashSet;
use std::path::Path;
use std::process::Command;

use super::*;

/// `git` in `dir` with a fixed identity and no user or system config; its stdout, trimmed at
/// the end. Panics (the test fails) when git fails. Shared by the crate's git-backed tests.
pub(crate) fn git(dir: &Path, args: &[&str]) -> String {
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

/// The cache's clone of `up`: a local repository, so made by hard links.
fn cache_clone(up: &Path) -> (tempfile::TempDir, Repo) {
    let cache = tempfile::tempdir().unwrap();
    let url = format!("file://{}", up.display());
    let (repo, cloned) = open_or_clone(cache.path(), &url).unwrap();
    assert!(cloned);
    (cache, repo)
}

/// The partial clone git's transport makes of `up` (what every clone was before the linked
/// one, and what a remote still gets).
fn transport_clone(up: &Path) -> (tempfile::TempDir, Repo) {
    let cache = tempfile::tempdir().unwrap();
    let url = format!("file://{}", up.display());
    let dir = clone_dir(cache.path(), &url);
    std::fs::create_dir_all(dir.parent().unwrap()).unwrap();
    cli::clone_by_transport(&url, &dir).unwrap();
    let repo = Repo {
        dir,
        url: url.clone(),
        origin: url,
    };
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
    let (_cache, repo) = transport_clone(up.path());
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
    let (_cache, repo) = transport_clone(up.path());
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

/// `git clone -q --bare <how> from to`: `--no-local` packs the objects, `--shared` borrows them.
fn bare_clone(from: &Path, to: &Path, how: &str) {
    let (from, to) = (from.to_str().unwrap(), to.to_str().unwrap());
    git(Path::new("/"), &["clone", "-q", "--bare", how, from, to]);
}

/// A bare mirror of `up` as a mirror farm has one: a pack (`clone --no-local`), then loose
/// objects from a later push (commit C, annotated tag v2), and a pull-request ref (commit P)
/// that `clone --bare` does not map. Returns the mirror's tempdir, its path, C and P.
fn mirror(up: &Path, in_dir: &Path) -> (std::path::PathBuf, String, String) {
    let m = in_dir.join("mirror.git");
    bare_clone(up, &m, "--no-local");
    std::fs::write(up.join("c.txt"), "c\n").unwrap();
    git(up, &["add", "c.txt"]);
    git(up, &["commit", "-q", "-m", "C"]);
    let c = git(up, &["rev-parse", "HEAD"]);
    git(up, &["tag", "-a", "-m", "two", "v2"]);
    git(up, &["checkout", "-q", "-b", "pr"]);
    std::fs::write(up.join("p.txt"), "p\n").unwrap();
    git(up, &["add", "p.txt"]);
    git(up, &["commit", "-q", "-m", "P"]);
    let p = git(up, &["rev-parse", "HEAD"]);
    git(up, &["checkout", "-q", "main"]);
    let dest = m.to_str().unwrap();
    git(
        up,
        &["push", "-q", dest, "main", "v2", "pr:refs/pull/1/head"],
    );
    (m, c, p)
}

fn pack_inodes(git_dir: &Path) -> HashSet<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::read_dir(git_dir.join("objects/pack"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".pack"))
        .map(|e| {
            let m = e.metadata().unwrap();
            (m.dev(), m.ino())
        })
        .collect()
}

/// Is the object in the clone itself (no lazy fetch)?
fn present(repo: &Repo, oid: &str) -> bool {
    let mut c = repo.cmd();
    c.env("GIT_NO_LAZY_FETCH", "1")
        .args(["cat-file", "-e", oid]);
    c.status().unwrap().success()
}

fn config_of(repo: &Repo) -> Vec<String> {
    let out = Command::new("git")
        .args(["config", "--file"])
        .arg(repo.dir.join("config"))
        .arg("--list")
        .output()
        .unwrap();
    let mut v: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.replace(&repo.url, "<url>"))
        .collect();
    v.sort();
    v
}

/// Every blob id of every reachable commit's tree.
fn all_blobs(repo: &Repo) -> Vec<String> {
    let mut blobs = std::collections::BTreeSet::new();
    for c in repo.reachable_commits().unwrap() {
        for e in repo.tree(&c).unwrap().entries.values() {
            if e.kind == Kind::Blob {
                blobs.insert(e.oid.clone());
            }
        }
    }
    blobs.into_iter().collect()
}

#[test]
fn a_linked_clone_answers_what_the_partial_clone_answers_and_fetches_later_commits() {
    let (up, _) = upstream();
    let dir = tempfile::tempdir().unwrap();
    let (m, c, p) = mirror(up.path(), dir.path());
    let (_c1, linked) = cache_clone(&m);
    let (_c2, partial) = transport_clone(&m);

    // No byte copied: the mirror's pack and the pushed commit's loose object are the clone's.
    let packs = pack_inodes(&linked.dir);
    assert!(!packs.is_empty() && packs == pack_inodes(&m), "{packs:?}");
    let loose = |d: &Path| {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(d.join("objects").join(&c[..2]).join(&c[2..]))
            .map(|m| m.ino())
            .ok()
    };
    assert!(loose(&m).is_some(), "the push left C loose");
    assert_eq!(loose(&linked.dir), loose(&m));
    assert_eq!(pack_inodes(&partial.dir).intersection(&packs).count(), 0);

    // The same clone as far as anything reads it: refs, HEAD, config, trees, blobs.
    assert_eq!(linked.tags().unwrap(), partial.tags().unwrap());
    assert!(linked
        .tags()
        .unwrap()
        .contains(&("v2".to_string(), c.clone())));
    let reach = linked.reachable_commits().unwrap();
    assert_eq!(reach, partial.reachable_commits().unwrap());
    assert!(
        reach.contains(&c) && !reach.contains(&p),
        "refs/pull is not mapped"
    );
    let head = |r: &Repo| std::fs::read_to_string(r.dir.join("HEAD")).unwrap();
    assert_eq!(head(&linked), head(&partial));
    assert_eq!(config_of(&linked), config_of(&partial));
    for commit in &reach {
        assert_eq!(
            linked.tree(commit).unwrap().entries,
            partial.tree(commit).unwrap().entries
        );
    }
    let blobs = all_blobs(&linked);
    assert!(
        blobs.iter().all(|b| present(&linked, b)),
        "linked: every blob"
    );
    assert!(!blobs.iter().any(|b| present(&partial, b)), "partial: none");
    assert_eq!(
        linked.read_blobs(&blobs).unwrap(),
        partial.read_blobs(&blobs).unwrap()
    );
    // A commit only a pull-request ref reaches: here at once, fetched by id there; reached
    // by no branch or tag in either.
    assert_eq!(linked.has_commit(&p), Some(p.clone()));
    assert_eq!(partial.has_commit(&p), None);
    partial.fetch_commit(&p).unwrap();
    assert_eq!(partial.has_commit(&p), Some(p.clone()));

    // Later commits come through a fetch, blobs left behind and fetched when read.
    std::fs::write(up.path().join("d.txt"), "d\n").unwrap();
    git(up.path(), &["add", "d.txt"]);
    git(up.path(), &["commit", "-q", "-m", "D"]);
    let d = git(up.path(), &["rev-parse", "HEAD"]);
    git(up.path(), &["tag", "v3"]);
    git(
        up.path(),
        &["push", "-q", m.to_str().unwrap(), "main", "v3"],
    );
    git(up.path(), &["tag", "-d", "light"]);
    git(
        up.path(),
        &["push", "-q", m.to_str().unwrap(), ":refs/tags/light"],
    );
    linked.fetch_all().unwrap();
    let tags = linked.tags().unwrap();
    assert!(tags.contains(&("v3".to_string(), d.clone())), "{tags:?}");
    assert!(!tags.iter().any(|(t, _)| t == "light"), "pruned");
    assert!(linked.reachable_commits().unwrap().contains(&d));
    let new_blob = linked.tree(&d).unwrap().get("d.txt").unwrap().oid.clone();
    assert!(!present(&linked, &new_blob), "the fetch is partial");
    assert_eq!(linked.read_blob(&new_blob).unwrap(), b"d\n");
    let mut fsck = linked.cmd();
    fsck.env("GIT_NO_LAZY_FETCH", "1")
        .args(["fsck", "--connectivity-only", "--no-dangling"]);
    let out = fsck.output().unwrap();
    assert!(
        out.status.success() && out.stdout.is_empty(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn what_cannot_be_linked_is_cloned_through_the_transport() {
    let (up, _) = upstream();
    let dir = tempfile::tempdir().unwrap();
    let (m, c, _) = mirror(up.path(), dir.path());
    let blob = git(up.path(), &["rev-parse", &format!("{c}:c.txt")]);
    let transported = |src: &Path| {
        let (cache, repo) = cache_clone(src);
        assert_eq!(
            pack_inodes(&repo.dir)
                .intersection(&pack_inodes(src))
                .count(),
            0
        );
        assert!(!present(&repo, &blob), "a partial clone");
        assert!(repo
            .tags()
            .unwrap()
            .contains(&("v2".to_string(), c.clone())));
        assert_eq!(repo.read_blob(&blob).unwrap(), b"c\n");
        drop(cache);
    };

    // A mirror that borrows its objects (alternates).
    let shared = dir.path().join("shared.git");
    bare_clone(&m, &shared, "--shared");
    assert!(shared.join("objects/info/alternates").exists());
    transported(&shared);

    // A pack that is a symlink.
    let linky = dir.path().join("linky.git");
    bare_clone(&m, &linky, "--no-local");
    let pack = std::fs::read_dir(linky.join("objects/pack"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "pack"))
        .unwrap();
    let elsewhere = dir.path().join("elsewhere.pack");
    std::fs::rename(&pack, &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &pack).unwrap();
    transported(&linky);

    // A mirror on another filesystem than the cache (tmpfs here), where no hard link can be.
    use std::os::unix::fs::MetadataExt;
    let shm = Path::new("/dev/shm");
    let dev = |p: &Path| std::fs::metadata(p).map(|m| m.dev()).ok();
    if dev(shm).is_some() && dev(shm) != dev(&std::env::temp_dir()) {
        let other = tempfile::tempdir_in(shm).unwrap();
        let far = other.path().join("far.git");
        bare_clone(&m, &far, "--no-local");
        transported(&far);
    } else {
        eprintln!("no second filesystem at /dev/shm: the cross-filesystem case is not run");
    }
}

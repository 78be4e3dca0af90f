//! PyPI: the best commit when the commit was guessed, end to end on real sdists
//! (`python3 setup.py sdist`) from real git repositories. An sdist built one commit after its
//! tag, and a release no tag names (found between the neighbouring releases' tags), verify with
//! a finding naming the commit; content in no commit stays a red flag.

mod pypi_common;

use pypi_common::{repack, result, with_code, Fixture, Repo};

fn project(fx: &Fixture, version: &str) -> Repo {
    let r = fx.repo("beacon");
    write_version(&r, version);
    r.write("setup.py", "from setuptools import setup\n\nsetup()\n")
        .write("README.md", "# beacon\n")
        .write(".gitignore", "*.egg-info/\n")
        .write("beacon/__init__.py", "")
        .write("beacon/core.py", "def answer():\n    return 42\n");
    r
}

fn write_version(r: &Repo, version: &str) {
    r.write(
        "setup.cfg",
        &format!(
            "[metadata]\nname = beacon\nversion = {version}\n\
             url = https://github.com/acme/beacon\n\n[options]\npackages = find:\n"
        ),
    );
}

fn sha_at(r: &Repo, rev: &str) -> String {
    r.git(&["rev-parse", rev])
}

#[test]
fn an_sdist_built_one_commit_after_its_tag_verifies_naming_both_commits() {
    let fx = Fixture::new();
    let r = project(&fx, "1.0.0");
    let tagged = r.commit("beacon 1.0.0");
    r.tag("v1.0.0");
    // The last fix went in after the tag was set, and the sdist was built from it.
    r.write("beacon/core.py", "def answer():\n    return 43\n");
    let built = r.commit("last fix");
    let sdist = fx.sdist(&r, "");
    fx.publish("main", "beacon", &[(&sdist, None)], false);

    let (code, v) = fx.verify("main", "pypi:beacon@1.0.0");
    let res = result(&v);
    assert_eq!(res["verdict"], "verified", "{v:#}");
    assert_eq!(code, 0);
    let w = with_code(&v, "exact-commit-elsewhere");
    assert_eq!(w.len(), 1, "{v:#}");
    let msg = w[0]["message"].as_str().unwrap();
    assert!(
        msg.contains(&tagged[..12]) && msg.contains(&built[..12]),
        "{msg}"
    );
    assert_eq!(res["source"]["commit"], built.as_str());
}

#[test]
fn a_release_no_tag_names_is_found_between_the_neighbouring_tags() {
    let fx = Fixture::new();
    let r = project(&fx, "1.0.0");
    r.commit("beacon 1.0.0");
    r.tag("v1.0.0");
    write_version(&r, "1.1.0");
    r.write("beacon/core.py", "def answer():\n    return 43\n");
    let release = r.commit("beacon 1.1.0 (never tagged)");
    let sdist = fx.sdist(&r, "");
    let bad = fx.root().join("bad").join(sdist.file_name().unwrap());
    repack(&sdist, &bad, |entries| {
        for (p, d) in entries.iter_mut() {
            if p.ends_with("beacon/core.py") {
                *d = b"import os\ndef answer():\n    return os.system('id')\n".to_vec();
            }
        }
    });
    r.write("beacon/core.py", "def answer():\n    return 44\n");
    write_version(&r, "1.2.0");
    r.commit("beacon 1.2.0");
    r.tag("v1.2.0");
    assert_eq!(sha_at(&r, "HEAD~1"), release);
    fx.publish("main", "beacon", &[(&sdist, None)], false);
    fx.publish("bad", "beacon", &[(&bad, None)], false);

    let (code, v) = fx.verify("main", "pypi:beacon@1.1.0");
    let res = result(&v);
    assert_eq!(res["verdict"], "verified", "{v:#}");
    assert_eq!(code, 0);
    let f = with_code(&v, "commit-between-tags");
    assert_eq!(f.len(), 1, "{v:#}");
    let msg = f[0]["message"].as_str().unwrap();
    assert!(
        msg.contains("v1.0.0") && msg.contains("v1.2.0") && msg.contains(&release[..12]),
        "{msg}"
    );
    assert_eq!(res["source"]["commit"], release.as_str());

    // The same release with a file in no commit: nothing between the tags matches, so no
    // commit is claimed (unverifiable, as before), and never verified.
    let (_, v) = fx.verify("bad", "pypi:beacon@1.1.0");
    let res = result(&v);
    assert_ne!(res["verdict"], "verified", "{v:#}");
    assert!(with_code(&v, "commit-between-tags").is_empty(), "{v:#}");
}

#[test]
fn a_tagged_sdist_with_content_in_no_commit_stays_a_red_flag() {
    let fx = Fixture::new();
    let r = project(&fx, "1.0.0");
    r.commit("beacon 1.0.0");
    r.tag("v1.0.0");
    r.write("beacon/core.py", "def answer():\n    return 43\n");
    r.commit("later work");
    let sdist = fx.sdist(&r, "");
    let bad = fx.root().join("bad").join(sdist.file_name().unwrap());
    repack(&sdist, &bad, |entries| {
        for (p, d) in entries.iter_mut() {
            if p.ends_with("beacon/core.py") {
                *d = b"def answer():\n    return 666\n".to_vec();
            }
        }
    });
    fx.publish("bad", "beacon", &[(&bad, None)], false);

    let (code, v) = fx.verify("bad", "pypi:beacon@1.0.0");
    let res = result(&v);
    assert_eq!(res["verdict"], "mismatch", "{v:#}");
    assert_eq!(code, 1);
    assert!(with_code(&v, "exact-commit-elsewhere").is_empty(), "{v:#}");
    let f = with_code(&v, "content-differs");
    assert_eq!(f.len(), 1, "{v:#}");
    assert!(f[0]["found_in"]["commit"].is_null(), "{v:#}");
    assert_eq!(v["summary"]["red_flags"]["in_no_commit"], 1, "{v:#}");
}

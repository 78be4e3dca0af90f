//! What the results store may remember, end to end with the real binary, a loopback sparse
//! registry and real git repositories (`bulk_support`): a verdict a transient failure decided
//! is retried, a lockfile's pin is checked per run and never replayed, a verdict reached
//! through one `--git-rewrite` mirror is not replayed through another, a spec and a lockfile
//! naming the same package keep the lockfile's pin, a registry API that could not be asked
//! is not "no repository", `regression` warnings, and `provero report` reading `PROVERO_DB`.

// bulk_support and pypi_common each include tests/common/http.rs by path (the one loopback server).
#![allow(clippy::duplicate_mod)]

mod bulk_support;
mod pypi_common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use bulk_support::{RepoSpec, TestServer, World, FORGE};
use serde_json::Value;

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    world: World,
    server: TestServer,
}

fn fixture(repos: &[(&str, usize)], tamper: &dyn Fn(&str, &str) -> bool) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let specs: Vec<RepoSpec> = repos
        .iter()
        .map(|(n, v)| RepoSpec {
            name: n.to_string(),
            crates: vec![n.to_string()],
            versions: *v,
        })
        .collect();
    let world = World::build(&root, &specs, tamper);
    let server = TestServer::serve_files(|port| world.registry_files(port), true);
    Fixture {
        _dir: dir,
        root,
        world,
        server,
    }
}

fn no_tamper(_: &str, _: &str) -> bool {
    false
}

impl Fixture {
    /// `provero verify` against the fixture registry, with the store `db` and the given
    /// `--git-rewrite` target for the fixture forge.
    fn verify_via(&self, db: &Path, git_root: &Path) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_provero"));
        c.args(["verify", "--quiet", "--format", "json", "--registry"])
            .arg(format!("crates={}", bulk_support::index_url(&self.server)))
            .arg("--git-rewrite")
            .arg(format!("{FORGE}=file://{}/", git_root.display()))
            .arg("--cache-dir")
            .arg(self.root.join("cache"))
            .arg("--db")
            .arg(db)
            .env_remove("PROVERO_DB")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("NO_COLOR", "1");
        c
    }

    fn verify(&self, db: &Path) -> Command {
        self.verify_via(db, &self.world.git_root)
    }

    fn cksum(&self, name: &str, version: &str) -> String {
        self.world
            .packages
            .iter()
            .find(|p| p.name == name && p.version == version)
            .map(|p| p.cksum.clone())
            .unwrap()
    }

    fn lockfile(&self, file: &str, entries: &[(&str, &str, &str)]) -> PathBuf {
        let mut text = String::from("version = 3\n");
        for (name, version, checksum) in entries {
            text.push_str(&format!(
                "\n[[package]]\nname = \"{name}\"\nversion = \"{version}\"\n\
                 source = \"registry+https://github.com/rust-lang/crates.io-index\"\n\
                 checksum = \"{checksum}\"\n"
            ));
        }
        let dir = self.root.join(file);
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("Cargo.lock");
        std::fs::write(&p, text).unwrap();
        p
    }
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn only(v: &Value) -> &Value {
    let r = v["results"].as_array().unwrap();
    assert_eq!(r.len(), 1, "{v:#}");
    &r[0]
}

fn codes(r: &Value) -> Vec<String> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect()
}

fn stored_rows(db: &Path) -> usize {
    rusqlite::Connection::open(db)
        .unwrap()
        .query_row("SELECT count(*) FROM results", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn a_repository_that_was_unreachable_is_fetched_again_next_run() {
    let f = fixture(&[("alpha", 1)], &no_tamper);
    let db = f.root.join("r.db");
    // The host is down: the rewrite target is not there.
    let away = f.root.join("git-away");
    std::fs::rename(&f.world.git_root, &away).unwrap();
    let out = f.verify(&db).arg("crates:alpha@1.0.0").output().unwrap();
    let r = only(&json(&out)).clone();
    assert_eq!(r["verdict"], "unverifiable", "{r:#}");
    assert!(codes(&r).contains(&"repository-unreachable".to_string()));
    assert_eq!(stored_rows(&db), 0, "a transient failure is not a verdict");

    // The host is back: the same run, the same settings, verified.
    std::fs::rename(&away, &f.world.git_root).unwrap();
    let out = f.verify(&db).arg("crates:alpha@1.0.0").output().unwrap();
    let v = json(&out);
    assert_eq!(only(&v)["verdict"], "verified", "{v:#}");
    assert_eq!(v["summary"]["skipped"], 0);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stored_rows(&db), 1);
}

#[test]
fn a_lockfile_pin_is_checked_every_run_and_never_replayed() {
    let f = fixture(&[("alpha", 1)], &no_tamper);
    let db = f.root.join("r.db");
    let wrong = f.lockfile("wrong", &[("alpha", "1.0.0", &"0".repeat(64))]);
    let out = f
        .verify(&db)
        .arg("--lockfile")
        .arg(&wrong)
        .output()
        .unwrap();
    let r = only(&json(&out)).clone();
    assert_eq!(r["verdict"], "mismatch", "{r:#}");
    assert_eq!(codes(&r), ["checksum-mismatch"], "{r:#}");
    assert_eq!(out.status.code(), Some(1));

    // Without that lockfile the artifact is what it is: verified, from the store.
    let out = f.verify(&db).arg("crates:alpha@1.0.0").output().unwrap();
    let v = json(&out);
    assert_eq!(only(&v)["verdict"], "verified", "{v:#}");
    assert_eq!(
        v["summary"]["skipped"], 1,
        "the artifact's verdict is reused"
    );
    assert_eq!(out.status.code(), Some(0));

    // And the wrong pin again: flagged again, although the store says verified.
    let out = f
        .verify(&db)
        .arg("--lockfile")
        .arg(&wrong)
        .output()
        .unwrap();
    let v = json(&out);
    assert_eq!(only(&v)["verdict"], "mismatch", "{v:#}");
    assert_eq!(v["summary"]["skipped"], 1);
    let right = f.lockfile("right", &[("alpha", "1.0.0", &f.cksum("alpha", "1.0.0"))]);
    let out = f
        .verify(&db)
        .arg("--lockfile")
        .arg(&right)
        .output()
        .unwrap();
    assert_eq!(only(&json(&out))["verdict"], "verified");
}

#[test]
fn a_verdict_reached_through_one_mirror_is_not_replayed_through_another() {
    let f = fixture(&[("alpha", 1)], &no_tamper);
    let db = f.root.join("r.db");
    let out = f.verify(&db).arg("crates:alpha@1.0.0").output().unwrap();
    assert_eq!(only(&json(&out))["verdict"], "verified");

    // Another mirror holds a repository without the recorded commit.
    let other = f.root.join("other-mirror");
    let empty = other.join("alpha");
    std::fs::create_dir_all(&empty).unwrap();
    let git = Command::new("git")
        .args(["init", "--quiet", "--bare"])
        .arg(&empty)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .unwrap();
    assert!(git.status.success());
    let out = f
        .verify_via(&db, &other)
        .arg("crates:alpha@1.0.0")
        .output()
        .unwrap();
    let v = json(&out);
    assert_eq!(v["summary"]["skipped"], 0, "decided again: {v:#}");
    assert_ne!(only(&v)["verdict"], "verified", "{v:#}");

    // The first mirror's verdict is reused under the first mirror's rewrite.
    let out = f.verify(&db).arg("crates:alpha@1.0.0").output().unwrap();
    let v = json(&out);
    assert_eq!(only(&v)["verdict"], "verified", "{v:#}");
}

#[test]
fn a_package_named_as_a_spec_and_in_a_lockfile_keeps_the_lockfile_pin() {
    let f = fixture(&[("alpha", 1)], &no_tamper);
    let db = f.root.join("r.db");
    let wrong = f.lockfile("wrong", &[("alpha", "1.0.0", &"0".repeat(64))]);
    let out = f
        .verify(&db)
        .arg("crates:alpha@1.0.0")
        .arg("--lockfile")
        .arg(&wrong)
        .output()
        .unwrap();
    let v = json(&out);
    let r = only(&v);
    assert_eq!(r["verdict"], "mismatch", "{v:#}");
    assert!(codes(r).contains(&"checksum-mismatch".to_string()));
    assert_eq!(out.status.code(), Some(1));

    // Two lockfiles pinning it: each is checked, a right one does not excuse a wrong one.
    let right = f.lockfile("right", &[("alpha", "1.0.0", &f.cksum("alpha", "1.0.0"))]);
    let out = f
        .verify(&db)
        .arg("--lockfile")
        .arg(&right)
        .arg("--lockfile")
        .arg(&wrong)
        .arg("crates:alpha@*")
        .output()
        .unwrap();
    assert_eq!(only(&json(&out))["verdict"], "mismatch");
}

#[test]
fn a_version_that_fails_after_verified_ones_is_a_regression_listed_first_by_report() {
    let f = fixture(&[("gamma", 4), ("delta", 2)], &|n, v| {
        (n == "gamma" && v == "1.0.3") || (n == "delta" && v == "1.0.0")
    });
    let db = f.root.join("r.db");
    // Earlier runs verified 1.0.0..1.0.2.
    let out = f
        .verify(&db)
        .args([
            "crates:gamma@1.0.0",
            "crates:gamma@1.0.1",
            "crates:gamma@1.0.2",
        ])
        .output()
        .unwrap();
    assert_eq!(json(&out)["summary"]["verified"], 3);
    let out = f.verify(&db).arg("crates:gamma@1.0.3").output().unwrap();
    let v = json(&out);
    let r = only(&v);
    assert_eq!(r["verdict"], "mismatch", "{v:#}");
    let reg: Vec<&Value> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "regression")
        .collect();
    assert_eq!(reg.len(), 1, "{v:#}");
    assert_eq!(reg[0]["severity"], "warning");
    let msg = reg[0]["message"].as_str().unwrap();
    assert!(msg.contains("1.0.2, 1.0.1, 1.0.0"), "{msg}");

    // Within one run, whatever order the versions finish in; the first version that fails
    // (delta 1.0.0) is no regression, and verified versions are none.
    let out = f
        .verify(&db)
        .args(["--recheck", "crates:gamma@*", "crates:delta@*"])
        .output()
        .unwrap();
    let v = json(&out);
    let with_regression: Vec<String> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| codes(r).contains(&"regression".to_string()))
        .map(|r| format!("{}@{}", r["package"]["name"], r["package"]["version"]))
        .collect();
    assert_eq!(with_regression, ["\"gamma\"@\"1.0.3\""], "{v:#}");

    // The store knows nothing of regressions; `provero report` judges them and lists them
    // first.
    let c = rusqlite::Connection::open(&db).unwrap();
    let n: i64 = c
        .query_row(
            "SELECT count(*) FROM results WHERE findings LIKE '%regression%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 0);
    let out = Command::new(env!("CARGO_BIN_EXE_provero"))
        .args(["report", "--format", "json", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    let v = json(&out);
    let first = &v["results"][0];
    assert_eq!(first["package"]["name"], "gamma", "{v:#}");
    assert_eq!(first["package"]["version"], "1.0.3");
    assert!(codes(first).contains(&"regression".to_string()));
    assert_eq!(v["summary"]["by_code"]["regression"], 1, "{v:#}");
}

#[test]
fn report_reads_the_store_named_by_provero_db() {
    let f = fixture(&[("alpha", 1)], &no_tamper);
    let db = f.root.join("elsewhere").join("r.db");
    let out = f.verify(&db).arg("crates:alpha@1.0.0").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let empty_cache = f.root.join("empty-cache");
    let out = Command::new(env!("CARGO_BIN_EXE_provero"))
        .args(["report", "--format", "json"])
        .env("PROVERO_DB", &db)
        .env("PROVERO_CACHE_DIR", &empty_cache)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json(&out)["summary"]["verified"], 1);
    // --db still wins over the environment.
    let out = Command::new(env!("CARGO_BIN_EXE_provero"))
        .args(["report", "--format", "json", "--db"])
        .arg(f.root.join("missing.db"))
        .env("PROVERO_DB", &db)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn no_repository_while_the_registry_api_is_down_is_not_stored() {
    let fx = pypi_common::Fixture::new();
    let r = fx.repo("acme-nourl");
    r.write(
        "setup.py",
        "from setuptools import setup\n\nsetup(name='acme-nourl', version='1.0.0', py_modules=['acme_nourl'])\n",
    )
    .write("acme_nourl.py", "X = 1\n");
    r.commit("1.0.0");
    let sdist = fx.sdist(&r, "");
    fx.publish("main", "acme-nourl", &[(&sdist, None)], false);
    let simple = format!("http://127.0.0.1:{}/main/simple/", fx.port);
    // The JSON API (the only other source of the repository URL) refuses connections.
    let profile = fx.root().join("down.toml");
    std::fs::write(
        &profile,
        format!(
            "name = \"down\"\necosystem = \"pypi\"\nprotocol = \"simple\"\nurl = \"{simple}\"\n\
             json_api = \"http://127.0.0.1:1/pypi/\"\n"
        ),
    )
    .unwrap();
    let db = fx.root().join("r.db");
    let run = |registry: &str| {
        Command::new(env!("CARGO_BIN_EXE_provero"))
            .args(["verify", "--quiet", "--format", "json", "--registry"])
            .arg(format!("pypi={registry}"))
            .arg("--cache-dir")
            .arg(fx.root().join("cache"))
            .arg("--db")
            .arg(&db)
            .arg("pypi:acme-nourl@1.0.0")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .output()
            .unwrap()
    };
    let out = run(&profile.display().to_string());
    let v = json(&out);
    let r = only(&v);
    assert_eq!(r["verdict"], "unverifiable", "{v:#}");
    assert!(codes(r).contains(&"no-repository".to_string()));
    assert!(
        r["error"].as_str().unwrap_or("").contains("JSON API"),
        "{v:#}"
    );
    assert_eq!(out.status.code(), Some(2), "the registry failed: an error");
    assert_eq!(stored_rows(&db), 0, "retried next run");

    // The API answers (404: it does not know the project): now it is a fact, and stored.
    let out = run(&simple);
    let v = json(&out);
    assert_eq!(only(&v)["verdict"], "unverifiable", "{v:#}");
    assert_eq!(out.status.code(), Some(0), "{v:#}");
    assert_eq!(stored_rows(&db), 1);
}

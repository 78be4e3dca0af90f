//! The bulk engine end to end, hermetic: a loopback sparse registry and local git repositories
//! (see `bulk_support`), the real `provero` binary. Covers list and lockfile inputs, one clone
//! per shared repository, retries on 503 and 429, resume after SIGKILL, shards and merge.

mod bulk_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use bulk_support::{fixture, json, Fixture, RepoSpec};

fn single(name: &str, versions: usize) -> RepoSpec {
    RepoSpec {
        name: name.into(),
        crates: vec![name.into()],
        versions,
    }
}

fn no_tamper(_: &str, _: &str) -> bool {
    false
}

impl Fixture {
    fn list(&self, specs: &[String]) -> PathBuf {
        let p = self.root.join(format!("list-{}.txt", fastrand::u32(..)));
        std::fs::write(&p, specs.join("\n")).unwrap();
        p
    }

    fn all_specs(&self) -> Vec<String> {
        self.world.packages.iter().map(|p| p.spec()).collect()
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn verdicts(v: &serde_json::Value) -> Vec<(String, String)> {
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                format!(
                    "{}@{}",
                    r["package"]["name"].as_str().unwrap(),
                    r["package"]["version"].as_str().unwrap()
                ),
                r["verdict"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn stored(db: &Path) -> Vec<(String, String)> {
    let c = rusqlite::Connection::open(db).unwrap();
    let mut st = c
        .prepare("SELECT name, version FROM results ORDER BY name, version")
        .unwrap();
    let rows = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    rows
}

#[test]
fn list_with_bad_lines_reports_line_numbers_and_verifies_the_rest() {
    let f = fixture(&[single("alpha", 2)], &no_tamper);
    let list = f.root.join("list.txt");
    std::fs::write(
        &list,
        "# two good, two bad\ncrates:alpha@1.0.0\nalpha\n\ncrates:alpha@1.0.1\nnpm:left-pad\n",
    )
    .unwrap();
    let out = f
        .cmd(&f.root.join("r.db"), "cache")
        .arg("--list")
        .arg(&list)
        .output()
        .unwrap();
    let v = json(&out);
    assert_eq!(out.status.code(), Some(2), "bad lines are errors: exit 2");
    assert_eq!(
        verdicts(&v),
        [
            ("alpha@1.0.0".to_string(), "verified".to_string()),
            ("alpha@1.0.1".to_string(), "verified".to_string())
        ]
    );
    let errors: Vec<String> = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(errors.len(), 2);
    assert!(errors[0].contains("list.txt, line 3"), "{errors:?}");
    assert!(errors[1].contains("line 6") && errors[1].contains("unknown ecosystem"));
}

#[test]
fn lockfile_registry_packages_verified_git_and_path_skipped() {
    let f = fixture(&[single("alpha", 1), single("beta", 1)], &no_tamper);
    let lock = f.root.join("Cargo.lock");
    std::fs::write(
        &lock,
        "version = 3\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\n\n\
         [[package]]\nname = \"alpha\"\nversion = \"1.0.0\"\n\
         source = \"registry+https://github.com/rust-lang/crates.io-index\"\n\n\
         [[package]]\nname = \"beta\"\nversion = \"1.0.0\"\nsource = \"sparse+https://index.crates.io/\"\n\n\
         [[package]]\nname = \"forked\"\nversion = \"0.1.0\"\nsource = \"git+https://example.org/forked#abc\"\n",
    )
    .unwrap();
    let out = f
        .cmd(&f.root.join("r.db"), "cache")
        .arg("--lockfile")
        .arg(&lock)
        .output()
        .unwrap();
    let v = json(&out);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(v["summary"]["verified"], 2);
    assert_eq!(v["summary"]["skipped_inputs"], 2);
    assert_eq!(v["skipped_inputs"].as_array().unwrap().len(), 2);

    // Pinned checksums: the registry's digest must be the one the lockfile locked.
    let digest = |name: &str| {
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["package"]["name"] == name)
            .map(|r| r["artifact"]["sha256"].as_str().unwrap().to_string())
            .unwrap()
    };
    std::fs::write(
        &lock,
        format!(
            "version = 3\n\n[[package]]\nname = \"alpha\"\nversion = \"1.0.0\"\n\
             source = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"{}\"\n\n\
             [[package]]\nname = \"beta\"\nversion = \"1.0.0\"\n\
             source = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"{}\"\n",
            digest("alpha"),
            "0".repeat(64)
        ),
    )
    .unwrap();
    let out = f
        .cmd(&f.root.join("r.db"), "cache")
        .arg("--lockfile")
        .arg(&lock)
        .output()
        .unwrap();
    let v = json(&out);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let by_name = |name: &str| {
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["package"]["name"] == name)
            .cloned()
            .unwrap()
    };
    assert_eq!(by_name("alpha")["verdict"], "verified", "{v:#}");
    let beta = by_name("beta");
    assert_eq!(beta["verdict"], "mismatch", "{v:#}");
    assert!(
        beta["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == "checksum-mismatch"
                && f["message"].as_str().unwrap().contains("lockfile pins")),
        "{beta:#}"
    );

    // A lockfile that is not TOML: one error naming the line, exit 2.
    std::fs::write(&lock, "version = 3\n[[package]\nname = \"x\"\n").unwrap();
    let out = f
        .cmd(&f.root.join("r.db"), "cache")
        .arg("--lockfile")
        .arg(&lock)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let msg = json(&out)["errors"][0]["message"].to_string();
    assert!(msg.contains("line 2"), "{msg}");
}

#[test]
fn a_repository_shared_by_many_packages_is_cloned_once() {
    let crates: Vec<String> = (0..6).map(|i| format!("mono{i}")).collect();
    let f = fixture(
        &[RepoSpec {
            name: "monorepo".into(),
            crates,
            versions: 3,
        }],
        &no_tamper,
    );
    let trace = f.root.join("git-trace.log");
    let list = f.list(&f.all_specs());
    let out = f
        .cmd(&f.root.join("r.db"), "cache")
        .arg("--list")
        .arg(&list)
        .args(["--jobs", "8"])
        .env("GIT_TRACE", &trace)
        .env("RUST_LOG", "provero::git=info")
        .output()
        .unwrap();
    let v = json(&out);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(v["summary"]["verified"], 18);
    // A local mirror on the same filesystem is cloned by hard links (logged, no git process);
    // anything else by `git clone` (traced).
    let log = std::fs::read_to_string(&trace).unwrap_or_default();
    let linked = stderr(&out)
        .lines()
        .filter(|l| l.contains("by hard-linking"))
        .count();
    let clones = log.lines().filter(|l| l.contains(" clone ")).count() + linked;
    // Later fetches may bring single blobs (a differing file's source, for its diff), never the
    // repository again.
    let refetches = log
        .lines()
        .filter(|l| l.contains("built-in: git") && l.contains(" fetch ") && l.contains("refs/"))
        .count();
    assert_eq!(clones, 1, "one clone for 18 packages of one repository");
    assert_eq!(refetches, 0, "the repository is not fetched again:\n{log}");
}

#[test]
fn registry_503_twice_then_ok_and_429_with_retry_after_are_retried() {
    let f = fixture(&[single("alpha", 1), single("beta", 1)], &no_tamper);
    let alpha_index = format!("/index/{}", provero::crates::registry::index_path("alpha"));
    let beta_dl = "/dl/beta/1.0.0/download";
    f.server.fail_next(&alpha_index, 503, 2);
    f.server.rate_limit_next(beta_dl, 1, 1);
    let started = Instant::now();
    let out = f
        .cmd(&f.root.join("r.db"), "cache")
        .args(["crates:alpha@1.0.0", "crates:beta@1.0.0"])
        .output()
        .unwrap();
    let v = json(&out);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(v["summary"]["verified"], 2);
    assert_eq!(f.server.hits(&alpha_index), 3, "two 503s, then 200");
    assert_eq!(f.server.hits(beta_dl), 2, "429, then 200");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 was honoured"
    );
}

#[test]
fn a_run_killed_mid_way_resumes_and_decides_every_package_once() {
    let repos: Vec<RepoSpec> = (0..4).map(|i| single(&format!("k{i}"), 4)).collect();
    let f = fixture(&repos, &no_tamper);
    let specs = f.all_specs();
    let list = f.list(&specs);
    let db = f.root.join("resume.db");
    // Slow downloads so the kill lands in the middle of the run.
    f.server.delay("/dl/", Duration::from_millis(250));
    let mut child = f
        .cmd(&db, "cache")
        .arg("--list")
        .arg(&list)
        .args(["--jobs", "2"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    // The table appears a moment after the file: count what is there, if anything.
    let count = |db: &Path| -> usize {
        rusqlite::Connection::open(db)
            .and_then(|c| c.query_row("SELECT count(*) FROM results", [], |r| r.get(0)))
            .unwrap_or(0)
    };
    while count(&db) < 3 {
        assert!(Instant::now() < deadline, "no progress");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let before = stored(&db).len();
    assert!(
        before >= 3 && before < specs.len(),
        "killed mid-way: {before}"
    );
    f.server.clear_delays();

    let out = f
        .cmd(&db, "cache")
        .arg("--list")
        .arg(&list)
        .output()
        .unwrap();
    let v = json(&out);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(v["summary"]["packages"], specs.len());
    assert_eq!(v["summary"]["verified"], specs.len());
    assert_eq!(
        v["summary"]["skipped"], before,
        "what was decided is not redone"
    );
    let rows = stored(&db);
    assert_eq!(rows.len(), specs.len(), "every package stored exactly once");

    // A third run decides nothing new; --recheck verifies everything again.
    let out = f
        .cmd(&db, "cache")
        .arg("--list")
        .arg(&list)
        .output()
        .unwrap();
    assert_eq!(json(&out)["summary"]["skipped"], specs.len());
    let out = f
        .cmd(&db, "cache")
        .arg("--list")
        .arg(&list)
        .arg("--recheck")
        .output()
        .unwrap();
    assert_eq!(json(&out)["summary"]["skipped"], 0);
    assert_eq!(stored(&db).len(), specs.len());
}

#[test]
fn shards_cover_the_input_once_and_merge_is_idempotent() {
    let repos: Vec<RepoSpec> = (0..3).map(|i| single(&format!("s{i}"), 4)).collect();
    let f = fixture(&repos, &|name, v| name == "s1" && v == "1.0.2");
    let specs = f.all_specs();
    let list = f.list(&specs);
    let mut seen = Vec::new();
    let mut dbs = Vec::new();
    for i in 0..3 {
        let db = f.root.join(format!("shard{i}.db"));
        let out = f
            .cmd(&db, "cache")
            .arg("--list")
            .arg(&list)
            .arg("--shard")
            .arg(format!("{i}/3"))
            .output()
            .unwrap();
        assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
        seen.extend(verdicts(&json(&out)));
        dbs.push(db);
    }
    seen.sort();
    let mut names: Vec<String> = seen.iter().map(|(n, _)| n.clone()).collect();
    names.dedup();
    assert_eq!(names.len(), seen.len(), "no package in two shards");
    assert_eq!(seen.len(), specs.len(), "every package in some shard");
    assert!(seen.contains(&("s1@1.0.2".into(), "mismatch".into())));

    let all = f.root.join("all.db");
    let merge = || {
        let out = Command::new(env!("CARGO_BIN_EXE_provero"))
            .arg("merge")
            .args(&dbs)
            .arg("--db")
            .arg(&all)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    };
    merge();
    let first = stored(&all);
    merge();
    assert_eq!(stored(&all), first, "merging again changes nothing");
    assert_eq!(first.len(), specs.len());

    let out = Command::new(env!("CARGO_BIN_EXE_provero"))
        .args(["report", "--format", "json", "--db"])
        .arg(&all)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "the store holds a red flag");
    let v = json(&out);
    assert_eq!(v["summary"]["packages"], specs.len());
    assert_eq!(v["summary"]["mismatch"], 1);
    assert_eq!(v["summary"]["by_code"]["file-not-in-source"], 1);
    assert!(!v["summary"]["slowest"].as_array().unwrap().is_empty());
    let md = Command::new(env!("CARGO_BIN_EXE_provero"))
        .args(["report", "--format", "markdown", "--db"])
        .arg(&all)
        .output()
        .unwrap();
    let md = String::from_utf8_lossy(&md.stdout);
    assert!(md.contains("## Slowest packages") && md.contains("`crates:s1@1.0.2` — mismatch"));
}

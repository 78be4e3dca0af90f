//! Bulk runs at scale, hermetic (the `bulk_support` world on the shared loopback server, the
//! real binary): each metadata URL is requested once per run however many versions share it
//! (first run and resumed run), each artifact downloaded once, a resumed run downloads nothing
//! and runs no git;
//! and the bounded caches, squeezed to nothing (`PROVERO_CACHE_BYTES=0`), change no result.

mod bulk_support;

use std::collections::BTreeMap;
use std::path::PathBuf;

use bulk_support::{fixture, json, outcome, Fixture, RepoSpec};

/// A monorepo of three crates and three single-crate repositories, `versions` each.
fn repos(versions: usize) -> Vec<RepoSpec> {
    let mut out = vec![RepoSpec {
        name: "mono".into(),
        crates: vec!["mono-a".into(), "mono-b".into(), "mono-c".into()],
        versions,
    }];
    out.extend((0..3).map(|i| RepoSpec {
        name: format!("solo{i}"),
        crates: vec![format!("solo{i}")],
        versions,
    }));
    out
}

impl Fixture {
    /// Every spec, shuffled so that versions of one crate are spread over the list.
    fn shuffled_list(&self) -> PathBuf {
        let mut specs: Vec<String> = self.world.packages.iter().map(|p| p.spec()).collect();
        fastrand::seed(7);
        fastrand::shuffle(&mut specs);
        let p = self.root.join("list.txt");
        std::fs::write(&p, specs.join("\n")).unwrap();
        p
    }

    /// Requests per path since `from` (an index into the server's log).
    fn hits_since(&self, from: usize) -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for r in &self.server.requests()[from..] {
            *m.entry(r.path.clone()).or_default() += 1;
        }
        m
    }
}

#[test]
fn each_metadata_url_is_requested_once_per_run_with_many_versions_in_flight_and_resumed() {
    let f = fixture(&repos(8), &|_, _| false);
    let n = f.world.packages.len();
    let list = f.shuffled_list();
    let db = f.root.join("r.db");
    // Room for about three of the six index files: each is still fetched once, because the
    // versions of one crate are taken together and the entry in use is the newest.
    let out = f
        .cmd(&db, "cache")
        .arg("--list")
        .arg(&list)
        .args(["--jobs", "8"])
        .env("PROVERO_CACHE_BYTES", "16000")
        .output()
        .unwrap();
    assert_eq!(json(&out)["summary"]["verified"], n);
    let first = f.hits_since(0);
    let repeated: Vec<_> = first.iter().filter(|(_, c)| **c != 1).collect();
    assert!(
        repeated.is_empty(),
        "every index file, config.json and download once: {repeated:?}"
    );
    let index_files = first.keys().filter(|p| p.starts_with("/index/")).count();
    assert_eq!(
        index_files,
        6 + 1,
        "six crates' index files and config.json"
    );
    assert_eq!(first.keys().filter(|p| p.starts_with("/dl/")).count(), n);

    // Resumed: everything is decided; what tells it nothing changed is the index, once per
    // file, whether the work names versions or asks for all of them.
    for specs in [
        vec!["--list".to_string(), list.display().to_string()],
        f.world
            .packages
            .iter()
            .map(|p| format!("crates:{}@*", p.name))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect(),
    ] {
        let from = f.server.requests().len();
        let trace = f.root.join("git-trace.log");
        let out = f
            .cmd(&db, "cache")
            .args(&specs)
            .args(["--jobs", "8"])
            .env("GIT_TRACE", &trace)
            .output()
            .unwrap();
        let v = json(&out);
        assert_eq!(v["summary"]["skipped"], n, "{specs:?}");
        let git = std::fs::read_to_string(&trace).unwrap_or_default();
        assert!(git.is_empty(), "no git in a resumed run:\n{git}");
        let again = f.hits_since(from);
        assert!(
            again.keys().all(|p| p.starts_with("/index/")),
            "no download in a resumed run: {again:?}"
        );
        assert_eq!(again.len(), index_files, "{again:?}");
        assert!(again.values().all(|c| *c == 1), "{again:?}");
    }
}

#[test]
fn caches_squeezed_to_nothing_give_the_same_verdicts_and_findings() {
    // Red flags in two packages, so the history index (`found_in`) is built, released and
    // built again.
    let f = fixture(&repos(4), &|name, version| {
        version == "1.0.2" && (name == "mono-b" || name == "solo1")
    });
    let list = f.shuffled_list();
    let run = |cache: &str, limit: Option<&str>| {
        let mut c = f.cmd(&f.root.join(format!("{cache}.db")), cache);
        c.arg("--list").arg(&list).args(["--jobs", "4"]);
        if let Some(l) = limit {
            c.env("PROVERO_CACHE_BYTES", l);
        }
        let out = c.output().unwrap();
        assert_eq!(out.status.code(), Some(1), "two red flags");
        json(&out)
    };
    let roomy = run("roomy", None);
    let squeezed = run("squeezed", Some("0"));
    assert_eq!(roomy["summary"]["mismatch"], 2);
    let found_in = roomy.to_string().matches("found_in").count();
    assert!(found_in > 0, "the evidence step ran: {roomy}");
    assert_eq!(outcome(&roomy), outcome(&squeezed));
}

#[test]
fn a_work_list_moved_to_disk_gives_the_same_report_in_list_order() {
    // A red flag after two verified versions: a `regression`, judged again when the
    // package's last version finishes (its result read back and written again).
    let f = fixture(&repos(4), &|name, version| {
        version == "1.0.2" && name == "mono-b"
    });
    let list = f.shuffled_list();
    let run = |cache: &str, limit: Option<&str>| {
        let mut c = f.cmd(&f.root.join(format!("{cache}.db")), cache);
        c.arg("--list").arg(&list).args(["--jobs", "4"]);
        c.env("RUST_LOG", "provero::worklist=debug");
        if let Some(l) = limit {
            c.env("PROVERO_CACHE_BYTES", l);
        }
        let out = c.output().unwrap();
        let log = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(1), "one red flag: {log}");
        (json(&out), log.contains("the work list moved to disk"))
    };
    let (held, moved_held) = run("held", None);
    // 3,000 bytes: the list holds 3 entries (a sixteenth, 48 bytes each), then moves.
    let (moved, moved_moved) = run("moved", Some("3000"));
    assert!(!moved_held && moved_moved, "one list held, one on disk");
    let listed: Vec<String> = std::fs::read_to_string(&list)
        .unwrap()
        .lines()
        .map(|l| l.trim_start_matches("crates:").to_string())
        .collect();
    let places = |v: &serde_json::Value| -> Vec<String> {
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let p = &r["package"];
                format!(
                    "{}@{}",
                    p["name"].as_str().unwrap(),
                    p["version"].as_str().unwrap()
                )
            })
            .collect()
    };
    assert_eq!(places(&held), listed, "the report keeps the list's order");
    assert_eq!(places(&moved), listed);
    assert_eq!(outcome(&held), outcome(&moved));
    assert!(held.to_string().contains("\"regression\""), "{held}");
    assert_eq!(held["summary"], moved["summary"]);
    // The list's file was unlinked while open: nothing of it is left.
    let left: Vec<_> = walk(&f.root.join("moved"))
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("worklist"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    // The store's view by repository, and the HTML report with it, held and moved to disk
    // (3,000 bytes: a sixteenth is less than one release line) are the same.
    let report = |limit: Option<&str>, args: &[&str]| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_provero"));
        c.arg("report")
            .args(args)
            .arg("--db")
            .arg(f.root.join("held.db"))
            .arg("--cache-dir")
            .arg(f.root.join("report"))
            .env_remove("PROVERO_CACHE_BYTES")
            .env("RUST_LOG", "provero::report=debug")
            .env("NO_COLOR", "1");
        if let Some(l) = limit {
            c.env("PROVERO_CACHE_BYTES", l);
        }
        let out = c.output().unwrap();
        let log = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(
            out.status.code(),
            Some(1),
            "the store has one red flag: {log}"
        );
        (
            out.stdout,
            log.contains("the view by repository moved to disk"),
        )
    };
    for format in ["json", "human", "markdown"] {
        let args = ["--by-repository", "--format", format];
        let (held, moved_held) = report(None, &args);
        let (moved, moved_moved) = report(Some("3000"), &args);
        assert!(
            !moved_held && moved_moved,
            "{format}: one view held, one on disk"
        );
        assert_eq!(
            String::from_utf8_lossy(&held),
            String::from_utf8_lossy(&moved)
        );
        assert!(String::from_utf8_lossy(&held).contains("mono-b"));
    }
    let (held_page, moved_page) = (f.root.join("held.html"), f.root.join("moved.html"));
    report(
        None,
        &["--format", "html", "--output", held_page.to_str().unwrap()],
    );
    let (_, moved) = report(
        Some("3000"),
        &["--format", "html", "--output", moved_page.to_str().unwrap()],
    );
    assert!(moved);
    let page = std::fs::read_to_string(&held_page).unwrap();
    assert!(page.contains("By repository"), "{page}");
    assert_eq!(page, std::fs::read_to_string(&moved_page).unwrap());
    let left: Vec<_> = walk(&f.root.join("report"))
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("repositories"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// Every file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn a_repository_released_from_memory_is_still_fetched_once_per_run() {
    let f = fixture(&repos(4), &|_, _| false);
    let n = f.world.packages.len();
    let list = f.shuffled_list();
    let run = |db: &str, trace: Option<&PathBuf>| {
        let mut c = f.cmd(&f.root.join(db), "cache");
        c.arg("--list").arg(&list).args(["--jobs", "4"]);
        // Every repository is released after each of its packages, and dropped from memory.
        c.env("PROVERO_CACHE_BYTES", "0");
        if let Some(t) = trace {
            c.env("GIT_TRACE", t);
        }
        c.env("RUST_LOG", "provero::verify=debug");
        let out = c.output().unwrap();
        assert_eq!(json(&out)["summary"]["verified"], n, "{}", json(&out));
        let log = String::from_utf8_lossy(&out.stderr);
        let dropped = log
            .lines()
            .filter(|l| l.contains("dropped from memory"))
            .count();
        assert!(
            dropped >= 4,
            "every repository left memory at least once:\n{log}"
        );
    };
    run("first.db", None);
    // No tag left upstream nor in the cached clones: every package's tag lookup asks for a
    // fetch (which brings none), and only the first per repository in the run may make one.
    let clones: Vec<PathBuf> = std::fs::read_dir(f.root.join("cache/git"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "git"))
        .collect();
    assert_eq!(clones.len(), 4, "{clones:?}");
    let upstreams = std::fs::read_dir(&f.world.git_root)
        .unwrap()
        .map(|e| e.unwrap().path());
    for clone in clones.iter().cloned().chain(upstreams) {
        let clone = &clone;
        let git = |args: &[&str]| {
            let o = std::process::Command::new("git")
                .arg("--git-dir")
                .arg(clone)
                .args(args)
                .output()
                .unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            String::from_utf8_lossy(&o.stdout).into_owned()
        };
        for tag in git(&["for-each-ref", "--format=%(refname)", "refs/tags"]).lines() {
            git(&["update-ref", "-d", tag]);
        }
    }
    let trace = f.root.join("git-trace.log");
    run("second.db", Some(&trace));
    let trace = std::fs::read_to_string(&trace).unwrap();
    let fetches: Vec<&str> = trace
        .lines()
        .filter(|l| l.contains("built-in: git fetch") && l.contains("--prune"))
        .collect();
    assert_eq!(
        fetches.len(),
        clones.len(),
        "one refresh per repository: {fetches:#?}"
    );
}

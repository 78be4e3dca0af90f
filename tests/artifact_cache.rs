//! The artifact cache across runs (hermetic: the `bulk_support` world on the shared loopback
//! server, the real binary): whatever makes a later run verify a package again (`--recheck`,
//! other settings, no store) downloads nothing an earlier run already has, the verdicts are
//! the same, and the cache is one pack per run that downloaded something, not a file per
//! artifact.

mod bulk_support;

use bulk_support::{fixture, json, outcome, RepoSpec};

fn repos() -> Vec<RepoSpec> {
    vec![
        RepoSpec {
            name: "mono".into(),
            crates: vec!["mono-a".into(), "mono-b".into()],
            versions: 3,
        },
        RepoSpec {
            name: "solo".into(),
            crates: vec!["solo".into()],
            versions: 3,
        },
    ]
}

/// The world of both tests, with one red flag: a mismatch is stored like any verdict and its
/// artifact is cached alike.
fn world() -> bulk_support::Fixture {
    fixture(&repos(), &|name, version| {
        name == "solo" && version == "1.0.1"
    })
}

/// Artifact downloads the server saw since its request number `from`.
fn downloads(f: &bulk_support::Fixture, from: usize) -> usize {
    f.server.requests()[from..]
        .iter()
        .filter(|r| r.path.starts_with("/dl/"))
        .count()
}

#[test]
fn a_recheck_another_setting_or_no_store_downloads_nothing_already_cached() {
    let f = world();
    let n = f.world.packages.len();
    let specs: Vec<String> = f.world.packages.iter().map(|p| p.spec()).collect();
    let db = f.root.join("r.db");
    let downloads_since = |from: usize| downloads(&f, from);

    let out = f.cmd(&db, "cache").args(&specs).output().unwrap();
    let first = json(&out);
    assert_eq!(first["results"].as_array().unwrap().len(), n);
    assert_eq!(first["summary"]["mismatch"], 1, "{first}");
    assert_eq!(downloads_since(0), n, "each artifact downloaded once");
    let files: Vec<_> = std::fs::read_dir(f.root.join("cache/artifacts"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let packs: Vec<_> = files.iter().filter(|n| n.ends_with(".pack")).collect();
    assert!(
        packs.len() == 1
            && files
                .iter()
                .all(|n| n.ends_with(".pack") || n.starts_with("index.db")),
        "one pack and its index, not a file per artifact: {files:?}"
    );
    // The run left every artifact in the index file: the next run reads no pack's headers.
    let index = rusqlite::Connection::open(f.root.join("cache/artifacts/index.db")).unwrap();
    let indexed: usize = index
        .query_row("SELECT count(*) FROM artifacts", [], |r| r.get(0))
        .unwrap();
    assert_eq!(indexed, n, "every artifact of the run indexed by its end");
    drop(index);

    // Each run verifies every package again; none downloads.
    let other_rewrite = format!("https://example.invalid/=file://{}/", f.root.display());
    let no_store = || {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_provero"));
        c.args([
            "verify",
            "--quiet",
            "--format",
            "json",
            "--no-db",
            "--registry",
        ])
        .arg(format!("crates={}", bulk_support::index_url(&f.server)))
        .arg("--git-rewrite")
        .arg(f.world.rewrite_arg())
        .arg("--cache-dir")
        .arg(f.root.join("cache"))
        .env_remove("PROVERO_DB")
        .env("NO_COLOR", "1");
        c
    };
    let runs = [
        ("--recheck", {
            let mut c = f.cmd(&db, "cache");
            c.arg("--recheck");
            c
        }),
        ("another setting", {
            let mut c = f.cmd(&db, "cache");
            c.args(["--git-rewrite", other_rewrite.as_str()]);
            c
        }),
        ("no store", no_store()),
    ];
    for (what, mut cmd) in runs {
        let from = f.server.requests().len();
        let out = cmd.args(&specs).output().unwrap();
        let v = json(&out);
        assert_eq!(v["summary"]["skipped"].as_u64().unwrap_or(0), 0, "{what}");
        assert_eq!(outcome(&v), outcome(&first), "{what}: the same results");
        assert_eq!(downloads_since(from), 0, "{what}: nothing downloaded again");
    }

    // An artifact the cache does not have (a new cache) is downloaded again, once.
    let from = f.server.requests().len();
    let out = f
        .cmd(&db, "cache2")
        .arg("--recheck")
        .args(&specs)
        .output()
        .unwrap();
    assert_eq!(outcome(&json(&out)), outcome(&first));
    assert_eq!(downloads_since(from), n);
}

/// `provero cache prune` on a cache a run filled: the oldest go first, the store stays, a
/// run while it is held is refused, and a run after a prune to nothing fetches again and
/// decides the same.
#[test]
fn a_pruned_cache_is_fetched_again_and_decides_the_same() {
    let f = world();
    let n = f.world.packages.len();
    let specs: Vec<String> = f.world.packages.iter().map(|p| p.spec()).collect();
    let db = f.root.join("r.db");
    let cache = f.root.join("cache");
    let downloads_since = |from: usize| downloads(&f, from);
    let first = json(&f.cmd(&db, "cache").args(&specs).output().unwrap());
    let prune = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_provero"))
            .args(["cache", "prune", "--cache-dir"])
            .arg(&cache)
            .args(args)
            .output()
            .unwrap()
    };
    let clones = || std::fs::read_dir(cache.join("git")).map_or(0, |d| d.count());
    assert!(clones() > 0);

    // While a run holds the cache, prune refuses and removes nothing.
    let held = provero::prune::hold_in_use(&cache).unwrap();
    let out = prune(&["--max-bytes", "0"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("a provero run is using the cache"), "{err}");
    assert!(clones() > 0);
    drop(held);

    // A dry run names what would go and removes nothing; then everything removable goes.
    let out = prune(&["--max-bytes", "0", "--dry-run"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("would remove artifact pack") && text.contains("would remove git clone"),
        "{text}"
    );
    assert!(clones() > 0);
    // Without --cache-dir, provero.toml's `cache-dir` is the cache pruned.
    let cwd = f.root.join("project");
    std::fs::create_dir_all(&cwd).unwrap();
    std::fs::write(
        cwd.join("provero.toml"),
        format!("cache-dir = {:?}\n", cache.display().to_string()),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_provero"))
        .args(["cache", "prune", "--max-bytes", "0", "--dry-run"])
        .current_dir(&cwd)
        .env_remove("PROVERO_CACHE_DIR")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("would remove git clone"), "{text}");
    assert!(text.contains(&cache.display().to_string()), "{text}");
    let out = prune(&["--max-bytes", "0"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(clones(), 0);
    assert!(db.exists(), "the store stays");
    let packs = std::fs::read_dir(cache.join("artifacts"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".pack"))
        .count();
    assert_eq!(packs, 0);

    // Everything fetched again (`--recheck`: decided again, not read from the store).
    let before = f.server.requests().len();
    let again = json(
        &f.cmd(&db, "cache")
            .args(&specs)
            .arg("--recheck")
            .output()
            .unwrap(),
    );
    assert_eq!(downloads_since(before), n, "each artifact downloaded again");
    assert!(clones() > 0);
    assert_eq!(outcome(&first), outcome(&again));

    let out = prune(&["--max-bytes", "lots"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a size"));
}

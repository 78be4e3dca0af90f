//! Whole-registry inputs (name patterns) against loopback registries: a crates.io-layout
//! database dump (one request for the listing, none per crate; real `cargo package` crates
//! verified end to end and resumed), a PyPI Simple root, and a RubyGems `/versions` file with
//! yanked and platform versions.

mod common;

use std::path::Path;

use common::run::{hermetic_command, run_provero_in, wait_output};
use common::{Output, TestServer, World};

/// A `.tar.gz` in the database dump's layout.
fn dump(entries: &[(&str, String)]) -> Vec<u8> {
    let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    for (path, text) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_size(text.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, path, text.as_bytes()).unwrap();
    }
    b.into_inner().unwrap().finish().unwrap()
}

/// crates.csv and versions.csv rows: (crate id, name), (version id, crate id, num,
/// created_at, yanked). Columns in the dump's alphabetical order, with the long text
/// columns (a quoted, multi-line readme) the real dump has.
fn dump_of(crates: &[(u32, &str)], versions: &[(u32, u32, &str, &str, bool)]) -> Vec<u8> {
    let mut c = String::from(
        "created_at,description,documentation,downloads,homepage,id,max_upload_size,name,readme,repository,updated_at\n",
    );
    for (id, name) in crates {
        c.push_str(&format!(
            "2020-01-01 00:00:00.1,\"A crate, described\",,7,,{id},,{name},\"# {name}\n\nmore, \"\"quoted\"\"\",,2020-01-01 00:00:00\n"
        ));
    }
    let mut v = String::from(
        "checksum,crate_id,crate_size,created_at,downloads,features,id,license,links,num,published_by,rust_version,updated_at,yanked\n",
    );
    for (id, crate_id, num, at, yanked) in versions {
        v.push_str(&format!(
            "{},{crate_id},100,{at},3,\"{{\"\"std\"\":[]}}\",{id},MIT,,{num},,,{at},{}\n",
            "0".repeat(64),
            if *yanked { "t" } else { "f" }
        ));
    }
    dump(&[
        (
            "2024-06-01-020017/metadata.json",
            r#"{"timestamp":"2024-06-01T02:00:17Z","crates_io_commit":"abc"}"#.to_string(),
        ),
        (
            "2024-06-01-020017/README.md",
            "# crates.io Database Dump\n".to_string(),
        ),
        (
            "2024-06-01-020017/data/categories.csv",
            "id,slug\n1,x\n".to_string(),
        ),
        ("2024-06-01-020017/data/crates.csv", c),
        ("2024-06-01-020017/data/versions.csv", v),
        // Never read: the listing stops once both tables are in.
        (
            "2024-06-01-020017/data/version_downloads.csv",
            "date,downloads,version_id\n".repeat(2000),
        ),
    ])
}

fn lines(out: &Output) -> Vec<String> {
    let mut l: Vec<String> = out.stdout.lines().map(str::to_string).collect();
    l.sort();
    l
}

/// A world whose dump names `gamma-a` (four versions, one yanked), `gamma-b`, `delta`.
fn listing_world() -> World {
    let w = World::new();
    let bytes = dump_of(
        &[(1, "gamma-a"), (2, "gamma-b"), (3, "delta")],
        &[
            (10, 1, "0.1.0", "2023-12-30 10:00:00.5", false),
            (11, 1, "0.2.0", "2024-03-01 09:00:00", true),
            (12, 1, "0.3.0", "2024-03-02 09:00:00", false),
            (14, 1, "0.4.0", "2024-05-01 09:00:00", false),
            (13, 2, "1.0.0", "2024-04-01 00:00:00", false),
            (15, 3, "2.0.0", "2022-01-01 00:00:00", false),
        ],
    );
    std::fs::write(w.server.root().join("db-dump.tar.gz"), bytes).unwrap();
    w
}

fn list_only(w: &World, extra: &[&str], specs: &[&str]) -> Output {
    let listing = format!("crates={}", w.server.url("/db-dump.tar.gz"));
    let mut all = vec!["--list-only", "--no-db", "--listing", listing.as_str()];
    all.extend_from_slice(extra);
    w.run(&all, specs)
}

#[test]
fn a_dump_lists_every_version_with_one_request_and_no_index_file() {
    let w = listing_world();
    let out = list_only(&w, &[], &["crates:*@*"]);
    assert_eq!(out.code, 0, "{}", out.dump());
    assert_eq!(
        lines(&out),
        [
            "crates:delta@2.0.0",
            "crates:gamma-a@0.1.0",
            "crates:gamma-a@0.2.0",
            "crates:gamma-a@0.3.0",
            "crates:gamma-a@0.4.0",
            "crates:gamma-b@1.0.0",
        ],
        "the yanked 0.2.0 is listed: crates.io still serves it, as `crates:gamma-a@*` lists it\n{}",
        out.dump()
    );
    assert!(out.stderr.contains("1 yanked, included"), "{}", out.stderr);
    assert!(
        out.stderr.contains("dump of 2024-06-01T02:00:17Z"),
        "{}",
        out.stderr
    );
    assert_eq!(w.server.hits("/db-dump.tar.gz"), 1);
    let index_files: Vec<String> = w
        .server
        .requests()
        .into_iter()
        .map(|r| r.path)
        .filter(|p| p.starts_with("/index/") && p != "/index/config.json")
        .collect();
    assert!(
        index_files.is_empty(),
        "one request per crate: {index_files:?}"
    );
}

/// With no cache budget the dump's versions move to disk from the first row (spooled and
/// sorted in runs): the same list, in either table order, with a shard.
#[test]
fn a_dump_whose_versions_move_to_disk_lists_the_same() {
    let w = listing_world();
    let listing = format!("crates={}", w.server.url("/db-dump.tar.gz"));
    let run = |budget: Option<&str>, extra: &[&str]| {
        let mut a = w.base_args();
        a.extend(
            ["--list-only", "--no-db", "--listing", listing.as_str()]
                .iter()
                .chain(extra)
                .map(|s| s.to_string()),
        );
        a.push("crates:*@*".into());
        let mut cmd = hermetic_command(env!("CARGO_BIN_EXE_provero"), &w.cwd());
        cmd.args(&a)
            .env("RUST_LOG", "provero::crates=debug")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        if let Some(b) = budget {
            cmd.env("PROVERO_CACHE_BYTES", b);
        }
        let out = wait_output(cmd, &a);
        out.assert_no_crash();
        assert_eq!(out.code, 0, "{}", out.dump());
        (
            lines(&out),
            out.stderr.contains("the dump's versions moved to disk"),
        )
    };
    for extra in [&[][..], &["--shard", "1/2"][..]] {
        let (held, held_moved) = run(None, extra);
        let (moved, moved_moved) = run(Some("0"), extra);
        assert!(!held_moved && moved_moved, "one held, one on disk");
        assert_eq!(held, moved, "{extra:?}");
        assert!(!held.is_empty());
    }
}

#[test]
fn since_newest_and_name_patterns_filter_per_package() {
    let w = listing_world();
    let out = list_only(&w, &["--since", "2024-03-01"], &["crates:gamma-*@*"]);
    assert_eq!(
        lines(&out),
        [
            "crates:gamma-a@0.2.0",
            "crates:gamma-a@0.3.0",
            "crates:gamma-a@0.4.0",
            "crates:gamma-b@1.0.0"
        ],
        "{}",
        out.dump()
    );
    let out = list_only(&w, &["--newest", "1"], &["crates:*@*"]);
    assert_eq!(
        lines(&out),
        [
            "crates:delta@2.0.0",
            "crates:gamma-a@0.4.0",
            "crates:gamma-b@1.0.0"
        ],
        "{}",
        out.dump()
    );
    // No version: each matching crate once, its newest resolved when verified.
    let out = list_only(&w, &[], &["crates:GAMMA-?"]);
    assert_eq!(
        lines(&out),
        ["crates:gamma-a", "crates:gamma-b"],
        "{}",
        out.dump()
    );
    // One version for a pattern means nothing: an input error, exit 2.
    let out = list_only(&w, &[], &["crates:gamma-*@1.0.0"]);
    assert_eq!(out.code, 2, "{}", out.dump());
    assert!(out.stderr.contains("takes `@*`"), "{}", out.stderr);
}

#[test]
fn a_pattern_lists_what_name_at_star_lists_yanked_included() {
    let w = listing_world();
    // The same crate in the sparse index, for `crates:gamma-a@*`: its yanked 0.2.0 too.
    for (v, yanked) in [
        ("0.1.0", false),
        ("0.2.0", true),
        ("0.3.0", false),
        ("0.4.0", false),
    ] {
        w.registry
            .add_index_line("gamma-a", v, &"0".repeat(64), yanked);
    }
    let by_name = list_only(&w, &[], &["crates:gamma-a@*"]);
    assert_eq!(by_name.code, 0, "{}", by_name.dump());
    let by_pattern = list_only(&w, &[], &["crates:gamma-a*@*"]);
    assert_eq!(lines(&by_pattern), lines(&by_name), "{}", by_pattern.dump());
    assert_eq!(lines(&by_name).len(), 4, "{}", by_name.dump());
    // Without a version the newest non-yanked is meant, so a crate whose every version is
    // yanked is left out, and said so.
    let w = World::new();
    let bytes = dump_of(
        &[(1, "all-yanked"), (2, "kept")],
        &[
            (10, 1, "1.0.0", "2024-01-01 00:00:00", true),
            (11, 2, "1.0.0", "2024-01-01 00:00:00", false),
        ],
    );
    std::fs::write(w.server.root().join("db-dump.tar.gz"), bytes).unwrap();
    let out = list_only(&w, &[], &["crates:*"]);
    assert_eq!(lines(&out), ["crates:kept"], "{}", out.dump());
    assert!(
        out.stderr
            .contains("1 package(s) whose every version is yanked"),
        "{}",
        out.stderr
    );
}

#[test]
fn shards_split_a_listing_exactly_once_and_a_local_file_reads_the_same() {
    let w = listing_world();
    let all = lines(&list_only(&w, &[], &["crates:*@*"]));
    let mut parts: Vec<String> = Vec::new();
    for i in 0..3 {
        let shard = format!("{i}/3");
        parts.extend(lines(&list_only(&w, &["--shard", &shard], &["crates:*@*"])));
    }
    parts.sort();
    assert_eq!(parts, all);
    // The dump downloaded once and given as a file lists the same.
    let file = w.root().join("db-dump.tar.gz");
    std::fs::copy(w.server.root().join("db-dump.tar.gz"), &file).unwrap();
    let listing = format!("crates={}", file.display());
    let out = w.run(
        &["--list-only", "--no-db", "--listing", &listing],
        &["crates:*@*"],
    );
    assert_eq!(lines(&out), all, "{}", out.dump());
}

#[test]
fn a_list_keeps_its_place_among_specs_stdin_and_patterns_and_its_bad_lines() {
    let w = listing_world();
    for v in ["1.0.0", "2.0.0"] {
        w.registry
            .add_index_line("delta", v, &"0".repeat(64), false);
    }
    let list = w.root().join("list.txt");
    std::fs::write(
        &list,
        "\u{feff}# a list\ncrates:gamma-b@1.0.0\n\ncrates:delta@*\ncrates:zeta  # newest\n\
         not a spec\ncrates:gamma-*\ncrates:gamma-b@1.0.0\ncrates:delta@2.0.0\n",
    )
    .unwrap();
    let stdin = w.root().join("stdin.txt");
    std::fs::write(
        &stdin,
        "crates:from-stdin@0.1.0\ncrates:gamma-b@1.0.0\nnope:thing\n",
    )
    .unwrap();
    let listing = format!("crates={}", w.server.url("/db-dump.tar.gz"));
    let run = |extra: &[&str]| {
        let mut a = w.base_args();
        a.extend(
            ["--list-only", "--no-db", "--listing", &listing]
                .iter()
                .chain(extra)
                .map(|s| s.to_string()),
        );
        a.extend(["--list".into(), list.display().to_string()]);
        a.extend(["--list".into(), "-".into(), "crates:zeta@0.1.0".into()]);
        let mut cmd = hermetic_command(env!("CARGO_BIN_EXE_provero"), &w.cwd());
        cmd.args(&a)
            .stdin(std::fs::File::open(&stdin).unwrap())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let out = wait_output(cmd, &a);
        out.assert_no_crash();
        out
    };
    let out = run(&[]);
    // The command line's spec, the file, standard input, then what the pattern adds; each
    // package once, where it was first named; `@*` expanded in its place.
    let got: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        got,
        [
            "crates:zeta@0.1.0",
            "crates:gamma-b@1.0.0",
            "crates:delta@1.0.0",
            "crates:delta@2.0.0",
            "crates:zeta",
            "crates:from-stdin@0.1.0",
            "crates:gamma-a",
            "crates:gamma-b",
        ],
        "{}",
        out.dump()
    );
    // Bad lines: each with its file and line, the run goes on (exit 2 says there were some).
    assert_eq!(out.code, 2, "{}", out.dump());
    let errors: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(errors.len(), 2, "{}", out.dump());
    assert!(
        errors[0].contains("list.txt, line 6: ") && errors[0].contains("not a spec"),
        "{}",
        out.dump()
    );
    assert!(errors[1].contains("<stdin>, line 3: "), "{}", out.dump());
    // Shards: every line in exactly one part, in the same order; bad lines in every part.
    let mut parts = Vec::new();
    for i in 0..3 {
        let shard = format!("{i}/3");
        let part = run(&["--shard", &shard]);
        assert_eq!(part.code, 2, "{}", part.dump());
        assert_eq!(
            part.stderr
                .lines()
                .filter(|l| l.starts_with("error: "))
                .count(),
            2,
            "{}",
            part.dump()
        );
        let lines: Vec<String> = part.stdout.lines().map(str::to_string).collect();
        let order: Vec<usize> = lines
            .iter()
            .map(|l| got.iter().position(|g| g == l).unwrap())
            .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{}", part.dump());
        parts.extend(lines);
    }
    parts.sort();
    let mut all: Vec<String> = got.iter().map(|s| s.to_string()).collect();
    all.sort();
    assert_eq!(parts, all);
}

#[test]
fn a_registry_without_a_listing_says_what_it_needs() {
    let w = listing_world();
    // `--registry crates=URL` (in the base arguments) does not inherit crates.io's dump.
    let out = w.run(&["--list-only", "--no-db"], &["crates:*@*"]);
    assert_eq!(out.code, 2, "{}", out.dump());
    assert!(
        out.stderr.contains("has no listing") && out.stderr.contains("--listing crates=FILE"),
        "{}",
        out.stderr
    );
    let listing = format!("crates={}", w.server.url("/missing.tar.gz"));
    let out = w.run(
        &["--list-only", "--no-db", "--listing", &listing],
        &["crates:*@*"],
    );
    assert_eq!(out.code, 2, "{}", out.dump());
    assert!(out.stderr.contains("no listing at"), "{}", out.stderr);
}

#[test]
fn listed_crates_are_verified_end_to_end_and_a_rerun_resumes() {
    let w = World::new();
    let a = w.honest_crate("lista", "1.0.0");
    let b = w.honest_crate("listb", "0.3.1");
    w.publish(&a, &a.crate_bytes);
    w.publish(&b, &b.crate_bytes);
    let bytes = dump_of(
        &[(1, "lista"), (2, "listb"), (3, "other")],
        &[
            (1, 1, "1.0.0", "2024-05-01 00:00:00", false),
            (2, 2, "0.3.1", "2024-05-02 00:00:00", false),
            (3, 3, "9.9.9", "2024-05-03 00:00:00", false),
        ],
    );
    std::fs::write(w.server.root().join("db-dump.tar.gz"), bytes).unwrap();
    let listing = format!("crates={}", w.server.url("/db-dump.tar.gz"));
    let db = w.root().join("results.db");
    let db = db.display().to_string();
    let (out, report) = w.run_json(&["--listing", &listing, "--db", &db], &["crates:list?@*"]);
    assert_eq!(out.code, 0, "{}", out.dump());
    assert_eq!(report.results().len(), 2, "{}", out.dump());
    for name in ["lista", "listb"] {
        assert_eq!(report.result(name).verdict(), "verified", "{}", out.dump());
    }
    let downloads = |w: &World| {
        w.server
            .requests()
            .iter()
            .filter(|r| r.path.ends_with(".crate"))
            .count()
    };
    let before = downloads(&w);
    let (out, report) = w.run_json(&["--listing", &listing, "--db", &db], &["crates:list?@*"]);
    assert_eq!(out.code, 0, "{}", out.dump());
    assert_eq!(report.json["summary"]["skipped"], 2, "{}", out.dump());
    assert_eq!(downloads(&w), before, "a resumed run downloads nothing");
}

#[test]
fn a_versions_file_lists_gems_with_platforms_and_without_yanked_versions() {
    let tmp = tempfile::tempdir().unwrap();
    let served = tmp.path().join("served");
    std::fs::create_dir_all(served.join("api/v1/versions")).unwrap();
    std::fs::write(
        served.join("versions"),
        "created_at: 2024-04-01T00:00:05+00:00\n---\n\
         nokogiri 1.15.0,1.15.0-x86_64-linux,1.15.0-java 0a1b\n\
         rack 2.2.8,3.0.0 1c2d\n\
         rails 7.1.0 3e4f\n\
         rack 3.0.1 5a6b\n\
         rack -3.0.0 7c8d\n",
    )
    .unwrap();
    // Dates come from the API, asked only for the gems a dated filter needs.
    std::fs::write(
        served.join("api/v1/versions/rack.json"),
        r#"[{"number":"3.0.1","platform":"ruby","created_at":"2024-05-01T00:00:00Z"},
            {"number":"2.2.8","platform":"ruby","created_at":"2023-01-01T00:00:00Z"}]"#,
    )
    .unwrap();
    std::fs::write(
        served.join("api/v1/versions/rails.json"),
        r#"[{"number":"7.1.0","platform":"ruby","created_at":"2023-10-05T00:00:00Z"}]"#,
    )
    .unwrap();
    let server = TestServer::serve_dir(&served);
    let cwd = tmp.path().join("cwd");
    std::fs::create_dir_all(&cwd).unwrap();
    let registry = format!("gems={}/", server.base_url());
    let run = |extra: &[&str]| list_only_at(&cwd, tmp.path(), &registry, extra);
    let out = run(&["gems:*@*"]);
    assert_eq!(out.code, 0, "{}", out.dump());
    assert_eq!(
        lines(&out),
        [
            "gems:nokogiri@1.15.0",
            "gems:nokogiri@1.15.0-java",
            "gems:nokogiri@1.15.0-x86_64-linux",
            "gems:rack@2.2.8",
            "gems:rack@3.0.1",
            "gems:rails@7.1.0",
        ],
        "{}",
        out.dump()
    );
    assert_eq!(server.hits("/versions"), 1);
    assert!(server.requests_for("/api/v1/versions/rack.json").is_empty());
    let out = run(&["--since", "2024-01-01", "gems:ra*@*"]);
    assert_eq!(lines(&out), ["gems:rack@3.0.1"], "{}", out.dump());
    assert_eq!(server.hits("/api/v1/versions/rack.json"), 1);
    assert!(server
        .requests_for("/api/v1/versions/nokogiri.json")
        .is_empty());
}

#[test]
fn a_simple_root_names_projects_and_each_page_gives_versions() {
    let tmp = tempfile::tempdir().unwrap();
    let served = tmp.path().join("served");
    let simple = served.join("simple");
    for p in ["requests", "requests-oauth", "django"] {
        std::fs::create_dir_all(simple.join(p)).unwrap();
    }
    std::fs::write(
        simple.join("index.html"),
        r#"{"meta":{"api-version":"1.1","_last-serial":9},"projects":[
            {"name":"requests","_last-serial":7},{"name":"Requests_OAuth","_last-serial":8},
            {"name":"Django","_last-serial":9}]}"#,
    )
    .unwrap();
    let page = |name: &str, files: &[(&str, &str, bool)]| {
        let files: Vec<serde_json::Value> = files
            .iter()
            .map(|(f, at, yanked)| {
                serde_json::json!({"filename": f, "url": format!("https://files.example/{f}"),
                    "hashes": {"sha256": "00"}, "upload-time": at, "yanked": yanked})
            })
            .collect();
        serde_json::json!({"meta": {"api-version": "1.1"}, "name": name, "files": files})
            .to_string()
    };
    std::fs::write(
        simple.join("requests/index.html"),
        page(
            "requests",
            &[
                ("requests-2.31.0.tar.gz", "2023-05-22T15:12:44Z", false),
                ("requests-2.32.0.tar.gz", "2024-05-20T15:12:44Z", true),
                ("requests-2.32.3.tar.gz", "2024-05-29T15:12:44Z", false),
            ],
        ),
    )
    .unwrap();
    std::fs::write(
        simple.join("requests-oauth/index.html"),
        page(
            "requests-oauth",
            &[("requests-oauth-0.4.1.tar.gz", "2012-01-01T00:00:00Z", false)],
        ),
    )
    .unwrap();
    let server = TestServer::serve_dir(&served);
    let cwd = tmp.path().join("cwd");
    std::fs::create_dir_all(&cwd).unwrap();
    let registry = format!("pypi={}/simple/", server.base_url());
    let run = |extra: &[&str]| list_only_at(&cwd, tmp.path(), &registry, extra);
    // Names only: the root, and no project page.
    let out = run(&["pypi:requests*"]);
    assert_eq!(out.code, 0, "{}", out.dump());
    assert_eq!(
        lines(&out),
        ["pypi:Requests_OAuth", "pypi:requests"],
        "{}",
        out.dump()
    );
    assert!(server.requests_for("/simple/requests/").is_empty());
    // Every version: one page per matching project, yanked releases listed (PyPI still
    // serves them, and `pypi:requests@*` lists them too).
    let out = run(&["--since", "2024-01-01", "pypi:requests*@*"]);
    assert_eq!(out.code, 0, "{}", out.dump());
    assert_eq!(
        lines(&out),
        ["pypi:requests@2.32.0", "pypi:requests@2.32.3"],
        "{}",
        out.dump()
    );
    assert_eq!(server.hits("/simple/requests/"), 1);
    assert_eq!(server.hits("/simple/requests-oauth/"), 1);
    assert!(server.requests_for("/simple/django/").is_empty());
    let one = run(&["--since", "2024-01-01", "pypi:requests@*"]);
    assert_eq!(lines(&one), lines(&out), "{}", one.dump());
}

/// `provero verify --list-only` in `cwd` against the loopback registry `registry`
/// (`ECO=URL`), its cache under `tmp`, with `extra` arguments.
fn list_only_at(cwd: &Path, tmp: &Path, registry: &str, extra: &[&str]) -> Output {
    let cache = tmp.join("cache").display().to_string();
    let mut args: Vec<String> = [
        "verify",
        "--list-only",
        "--no-db",
        "--cache-dir",
        &cache,
        "--registry",
        registry,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    let out = run_provero_in(cwd, &args);
    out.assert_no_crash();
    out
}

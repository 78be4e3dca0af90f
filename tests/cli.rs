//! The command line as a new user meets it, driving the real binary against the loopback
//! server: registries and paths checked before any work (and `config.json` asked for once
//! per run), a closed or full stdout, and the smaller flags (`@*` limits, `--list -`, `-q`,
//! `--color`, `--lockfile --help`).

mod common;

use std::process::Stdio;

use common::run::{hermetic_command, wait_output};
use common::*;

fn assert_exit(out: &Output, code: i32) {
    assert_eq!(out.code, code, "unexpected exit code\n{}", out.dump());
}

/// A published honest crate.
fn published(w: &World, name: &str) -> CrateFixture {
    let fx = w.honest_crate(name, "1.0.0");
    w.publish(&fx, &fx.crate_bytes);
    fx
}

fn args(w: &World, extra: &[&str]) -> Vec<String> {
    let mut a = w.base_args();
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

// ------------------------------------------------------------- registries

#[test]
fn config_json_is_requested_once_per_run_also_when_resumed() {
    let w = World::new();
    let specs: Vec<String> = ["one", "two", "three"]
        .iter()
        .map(|n| published(&w, n).spec())
        .collect();
    let specs: Vec<&str> = specs.iter().map(String::as_str).collect();
    let (out, rep) = w.run_json(&[], &specs);
    assert_exit(&out, 0);
    assert_eq!(rep.results().len(), 3);
    assert_eq!(
        w.server.hits("/index/config.json"),
        1,
        "{:?}",
        w.server.requests()
    );
    // Resumed: every package is already decided, and config.json is still asked once.
    let (out, rep) = w.run_json(&[], &specs);
    assert_exit(&out, 0);
    assert_eq!(rep.json["summary"]["skipped"], 3, "{:#}", rep.json);
    assert_eq!(w.server.hits("/index/config.json"), 2);
}

#[test]
fn a_crates_registry_without_config_json_is_refused_before_any_package() {
    let w = World::new();
    published(&w, "cfgless");
    let bad = w.server.url("/nothing/");
    let out = w.run(
        &["--registry", &format!("crates={bad}")],
        &["crates:cfgless@1.0.0"],
    );
    assert_exit(&out, 2);
    assert!(
        out.stderr.contains("not a cargo sparse index")
            && out.stderr.contains(&format!("{bad}config.json")),
        "{}",
        out.dump()
    );
    assert!(out.stdout.is_empty(), "{}", out.dump());
    let paths: Vec<String> = w.server.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/nothing/config.json"], "one request, no package");
}

/// A PyPI Simple API under `/simple/` with one sdist that names no repository.
fn simple_index(w: &World) -> String {
    let sdist = tarball::gzip(&tarball::tar_bytes(&[Entry::file(
        "demo-1.0/PKG-INFO",
        "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n",
    )]));
    let served = w.server.root();
    std::fs::create_dir_all(served.join("simple/demo")).unwrap();
    std::fs::create_dir_all(served.join("files")).unwrap();
    std::fs::write(served.join("files/demo-1.0.tar.gz"), &sdist).unwrap();
    std::fs::write(
        served.join("simple/demo/index.html"),
        format!(
            "<html><body><a href=\"{}#sha256={}\">demo-1.0.tar.gz</a></body></html>\n",
            w.server.url("/files/demo-1.0.tar.gz"),
            sha256_hex(&sdist)
        ),
    )
    .unwrap();
    w.server.url("/files/demo-1.0.tar.gz")
}

#[test]
fn a_pypi_host_root_finds_the_simple_api_under_it() {
    let w = World::new();
    let file = simple_index(&w);
    let root = w.server.url("/");
    let (out, rep) = w.run_json(&["--registry", &format!("pypi={root}")], &["pypi:demo@1.0"]);
    let r = rep.result("demo");
    r.assert_no_finding("artifact-unavailable");
    r.assert_finding("no-repository", "unverifiable", None);
    assert_eq!(r.json["artifact"]["url"], file.as_str(), "{}", out.dump());
    assert_eq!(
        w.server.hits("/simple/demo/"),
        1,
        "{:?}",
        w.server.requests()
    );
}

#[test]
fn a_pypi_url_with_no_simple_api_is_refused_and_says_what_was_tried() {
    let w = World::new();
    simple_index(&w);
    let bad = w.server.url("/elsewhere/");
    let out = w.run(&["--registry", &format!("pypi={bad}")], &["pypi:demo@1.0"]);
    assert_exit(&out, 2);
    assert!(
        out.stderr.contains("serves no PyPI Simple API")
            && out.stderr.contains(&format!("{bad}demo/"))
            && out.stderr.contains(&format!("{bad}simple/demo/")),
        "{}",
        out.dump()
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn a_missing_profile_file_is_named_as_such() {
    let w = World::new();
    let out = w.run(&["--registry", "pypi=./missing.toml"], &["pypi:demo@1.0"]);
    assert_exit(&out, 2);
    assert!(
        out.stderr
            .contains("no registry profile file ./missing.toml")
            && !out.stderr.contains("not a URL"),
        "{}",
        out.dump()
    );
    assert!(w.server.requests().is_empty());
}

// ------------------------------------------------------------------ paths

#[test]
fn an_unwritable_output_fails_before_any_work_and_names_the_path() {
    let w = World::new();
    let fx = published(&w, "early");
    let target = w.root().join("no-such-dir/report.json");
    let t = target.display().to_string();
    let out = w.run(&["--format", "json", "--output", &t], &[&fx.spec()]);
    assert_exit(&out, 2);
    assert!(
        out.stderr.contains(&t) && out.stderr.contains("does not exist"),
        "{}",
        out.dump()
    );
    assert!(w.server.requests().is_empty(), "{:?}", w.server.requests());
}

/// Run provero with `dir` read-only for it: through a read-only bind mount (bubblewrap) when
/// the tests run as root (root writes through permission bits), else by permission bits.
fn run_with_read_only(w: &World, dir: &std::path::Path, args: &[String]) -> Output {
    std::fs::create_dir_all(dir).unwrap();
    let euid = std::process::Command::new("id").arg("-u").output().unwrap();
    let root = String::from_utf8_lossy(&euid.stdout).trim() == "0";
    let mut cmd = if root {
        let d = dir.display().to_string();
        let mut c = hermetic_command("bwrap", &w.cwd());
        c.args([
            "--bind",
            "/",
            "/",
            "--ro-bind",
            &d,
            &d,
            "--dev",
            "/dev",
            "--proc",
            "/proc",
        ])
        .arg(env!("CARGO_BIN_EXE_provero"));
        c
    } else {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o555)).unwrap();
        hermetic_command(env!("CARGO_BIN_EXE_provero"), &w.cwd())
    };
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = wait_output(cmd, args);
    if !root {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    out.assert_no_crash();
    out
}

#[test]
fn a_read_only_cache_fails_before_any_work_and_names_it() {
    let w = World::new();
    let fx = published(&w, "rocache");
    let out = run_with_read_only(
        &w,
        &w.cache_dir(),
        &args(&w, &["--no-db", "--format", "json", &fx.spec()]),
    );
    assert_exit(&out, 2);
    let cache = w.cache_dir().display().to_string();
    assert!(
        out.stderr.contains("cannot write to the cache directory") && out.stderr.contains(&cache),
        "{}",
        out.dump()
    );
    assert!(w.server.requests().is_empty(), "{:?}", w.server.requests());
}

#[test]
fn a_results_store_in_a_read_only_directory_fails_before_any_work() {
    let w = World::new();
    published(&w, "rodb");
    let dir = w.root().join("dbdir");
    let db = dir.join("results.db").display().to_string();
    let out = run_with_read_only(
        &w,
        &dir,
        &args(&w, &["--db", &db, "--format", "json", "crates:rodb@*"]),
    );
    assert_exit(&out, 2);
    assert!(
        out.stderr.contains("cannot write the results store") && out.stderr.contains(&db),
        "{}",
        out.dump()
    );
    assert!(w.server.requests().is_empty(), "{:?}", w.server.requests());
}

// ----------------------------------------------------------------- stdout

#[test]
fn a_closed_stdout_ends_quietly() {
    let w = World::new();
    let specs: Vec<String> = ["pa", "pb"]
        .iter()
        .map(|n| published(&w, n).spec())
        .collect();
    let mut a = w.base_args();
    a.extend(specs);
    let mut cmd = hermetic_command(env!("CARGO_BIN_EXE_provero"), &w.cwd());
    // `provero verify ... | head -0`: the reader is gone before the first line is written.
    cmd.args(&a)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    drop(child.stdout.take());
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    let status = child.wait().unwrap();
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(status.code(), Some(0), "{err}");
}

#[test]
fn a_full_disk_on_stdout_is_an_error_not_a_panic() {
    let w = World::new();
    let fx = published(&w, "full");
    let a = args(&w, &[&fx.spec()]);
    let mut cmd = hermetic_command(env!("CARGO_BIN_EXE_provero"), &w.cwd());
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    cmd.args(&a)
        .stdin(Stdio::null())
        .stdout(Stdio::from(full))
        .stderr(Stdio::piped());
    let out = wait_output(cmd, &a);
    out.assert_no_crash();
    assert_exit(&out, 2);
    assert!(
        out.stderr
            .contains("cannot write the report to standard output")
            && out.stderr.contains("No space left"),
        "{}",
        out.dump()
    );
}

// ---------------------------------------------------------- smaller flags

#[test]
fn every_version_can_be_limited_to_the_newest_and_the_count_is_said() {
    let w = World::new();
    for v in ["0.1.0", "0.2.0", "0.3.0"] {
        w.registry.add_index_line("many", v, &"0".repeat(64), false);
    }
    let (out, rep) = w.run_json(&["--newest", "2", "--no-db"], &["crates:many@*"]);
    let versions: Vec<&str> = rep
        .results()
        .iter()
        .map(|r| r["package"]["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["0.2.0", "0.3.0"], "{}", out.dump());
    assert!(
        out.stderr
            .contains("crates:many@* expanded to 3 version(s); verifying the newest 2"),
        "{}",
        out.dump()
    );
    let (out, rep) = w.run_json(&["--no-db", "-q"], &["crates:many@*"]);
    assert_eq!(rep.results().len(), 3);
    assert!(!out.stderr.contains("expanded"), "-q: {}", out.dump());
}

#[test]
fn list_dash_reads_stdin() {
    let w = World::new();
    let fx = published(&w, "fromstdin");
    let list = w.root().join("list.txt");
    // Read like a `--list` file: a byte order mark, comments, a bad line named by its place.
    std::fs::write(
        &list,
        format!("\u{feff}{}\n# a comment\n\ncrates:\n", fx.spec()),
    )
    .unwrap();
    let a = args(&w, &["--format", "json", "--list", "-"]);
    let mut cmd = hermetic_command(env!("CARGO_BIN_EXE_provero"), &w.cwd());
    cmd.args(&a)
        .stdin(std::fs::File::open(&list).unwrap())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = wait_output(cmd, &a);
    assert_exit(&out, 2);
    let rep = Report::parse(&out.stdout, &out);
    rep.result("fromstdin").assert_verdict("verified");
    assert!(
        out.stdout.contains("<stdin>, line 4"),
        "the bad line is named: {}",
        out.dump()
    );
}

#[test]
fn quiet_and_color_are_global() {
    let w = World::new();
    let fx = published(&w, "painted");
    // Before and after the subcommand, and on every subcommand.
    let mut a = vec!["-q".to_string(), "--color".into(), "always".into()];
    a.extend(w.base_args());
    a.push(fx.spec());
    let out = run::run_provero_in(&w.cwd(), &a);
    assert_exit(&out, 0);
    assert!(
        out.stdout.contains("\u{1b}["),
        "--color always: {}",
        out.dump()
    );
    let out = w.run(&["--color", "never"], &[&fx.spec()]);
    assert!(!out.stdout.contains('\u{1b}'), "{}", out.dump());
    let db = w.cache_dir().join("results.db").display().to_string();
    let out = run::run_provero_in(&w.cwd(), &["report".into(), "--db".into(), db, "-q".into()]);
    assert_exit(&out, 0);
}

#[test]
fn lockfile_help_names_every_kind_accepted() {
    // `--lockfile --help` too: the flag's missing value does not hide the help.
    for args in [
        &["verify", "--help"][..],
        &["verify", "--lockfile", "--help"],
    ] {
        let (code, stdout, stderr) = run::run_provero(args);
        assert_eq!(code, 0, "{args:?}: {stderr}");
        let flat = stdout.split_whitespace().collect::<Vec<_>>().join(" ");
        for kind in provero::input::LockKind::ACCEPTED {
            assert!(
                flat.contains(kind),
                "{args:?} does not name {kind}:\n{stdout}"
            );
        }
    }
    let (code, _, stderr) = run::run_provero(&["verify", "--bogus"]);
    assert_eq!(code, 2, "{stderr}");
}

// ---------------------------------------------------------------- logging

#[test]
fn verbose_logs_urls_git_commands_rewrites_and_rule_decisions() {
    let w = World::new();
    let fx = published(&w, "chatty");
    let out = w.run(&["-v", "--no-db"], &[&fx.spec()]);
    assert_exit(&out, 0);
    for wanted in [
        format!("GET {}", w.server.url("/index/config.json")),
        format!("GET {}", w.server.url("/index/ch/at/chatty")),
        // The fixture's mirror is local: cloned by hard links, logged as a git command is.
        "by hard-linking".to_string(),
        format!("rewrite {FAKE_FORGE}="),
    ] {
        assert!(
            out.stderr.contains(&wanted),
            "-v lacks {wanted:?}:\n{}",
            out.stderr
        );
    }
    assert!(!out.stderr.contains("rule cargo-vcs-info"), "rules are -vv");
    let out = w.run(&["-vv", "--no-db"], &[&fx.spec()]);
    assert!(
        out.stderr
            .contains(".cargo_vcs_info.json: rule cargo-vcs-info excuses it"),
        "{}",
        out.stderr
    );
}

#[test]
fn git_stderr_in_a_finding_is_the_one_line_that_matters() {
    let w = World::new();
    let fx = published(&w, "gone");
    std::fs::remove_dir_all(w.upstream_path("gone")).unwrap();
    let (out, rep) = w.run_json(&["-v", "--no-db"], &[&fx.spec()]);
    let f = rep
        .result("gone")
        .assert_finding("repository-unreachable", "unverifiable", None);
    assert!(!f.message.contains('\n'), "{:?}", f.message);
    assert!(
        f.message.contains("does not appear to be a git repository"),
        "{:?}",
        f.message
    );
    // The rest is in the -v log.
    assert!(
        out.stderr.contains("Could not read from remote repository"),
        "{}",
        out.stderr
    );
}

#[test]
fn every_version_since_a_day_uses_the_registry_dates() {
    let w = World::new();
    let lines: Vec<String> = [
        ("0.1.0", Some("2023-12-31T23:59:59Z")),
        ("0.2.0", None),
        ("0.3.0", Some("2024-01-01T00:00:00Z")),
        ("0.4.0", Some("2024-06-01T12:00:00Z")),
    ]
    .iter()
    .map(|(v, t)| {
        let mut l = serde_json::json!({
            "name": "dated", "vers": v, "deps": [], "cksum": "0".repeat(64),
            "features": {}, "yanked": false,
        });
        if let Some(t) = t {
            l["pubtime"] = serde_json::json!(t);
        }
        l.to_string()
    })
    .collect();
    let file = w.server.root().join("index/da/te/dated");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let (out, rep) = w.run_json(&["--since", "2024-01-01", "--no-db"], &["crates:dated@*"]);
    let versions: Vec<&str> = rep
        .results()
        .iter()
        .map(|r| r["package"]["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["0.3.0", "0.4.0"], "{}", out.dump());
    assert!(
        out.stderr.contains(
            "crates:dated@* expanded to 4 version(s); 2 published since 2024-01-01 (1 without a date in the registry)"
        ),
        "{}",
        out.dump()
    );
    let out = w.run(&["--since", "2024-02-30"], &["crates:dated@*"]);
    assert_exit(&out, 2);
    assert!(out.stderr.contains("YYYY-MM-DD"), "{}", out.dump());
}

/// Run provero with stdout and stderr on a terminal (util-linux `script` gives it a pty).
fn run_on_a_terminal(w: &World, args: &[String], no_color: &str) -> Output {
    let line = std::iter::once(env!("CARGO_BIN_EXE_provero").to_string())
        .chain(args.iter().cloned())
        .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
        .collect::<Vec<_>>()
        .join(" ");
    let mut cmd = hermetic_command("script", &w.cwd());
    cmd.args(["-qec", &line, "/dev/null"])
        .env("NO_COLOR", no_color)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    wait_output(cmd, args)
}

#[test]
fn an_empty_no_color_does_not_turn_colour_off_on_a_terminal() {
    let w = World::new();
    let fx = published(&w, "tty");
    let a = args(&w, &["-q", "--no-db", &fx.spec()]);
    let out = run_on_a_terminal(&w, &a, "");
    assert!(out.stdout.contains("verified"), "{}", out.dump());
    assert!(out.stdout.contains("\u{1b}["), "NO_COLOR= : {}", out.dump());
    let out = run_on_a_terminal(&w, &a, "1");
    assert!(out.stdout.contains("verified"), "{}", out.dump());
    assert!(!out.stdout.contains('\u{1b}'), "NO_COLOR=1: {}", out.dump());
}

#[test]
fn requirements_includes_are_followed_relative_to_the_file() {
    let w = World::new();
    simple_index(&w);
    let dir = w.root().join("project");
    std::fs::create_dir_all(dir.join("req")).unwrap();
    std::fs::write(dir.join("requirements.txt"), "-r req/base.txt\n").unwrap();
    // A byte order mark, and a loop back to the including file.
    std::fs::write(
        dir.join("req/base.txt"),
        "\u{feff}demo==1.0\n-r ../requirements.txt\n",
    )
    .unwrap();
    let lock = dir.join("requirements.txt").display().to_string();
    let root = w.server.url("/simple/");
    let (out, rep) = w.run_json(
        &[
            "--registry",
            &format!("pypi={root}"),
            "--no-db",
            "--lockfile",
            &lock,
        ],
        &[],
    );
    assert_eq!(rep.results().len(), 1, "{}", out.dump());
    rep.result("demo").assert_no_finding("artifact-unavailable");
}

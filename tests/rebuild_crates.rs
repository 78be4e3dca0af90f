//! Rebuild mode for crates, end to end: real repositories, real `cargo package`, a loopback
//! sparse registry, and the real binary rebuilding in its bubblewrap sandbox. Honest crates
//! (a library; a binary whose Cargo.lock needs another crate of the same loopback registry)
//! come out verified; tampered generated files that diff mode excuses come out mismatched;
//! a build that cannot succeed is `rebuild-failed` with the build log.

mod common;

use std::path::Path;
use std::process::Command;

use common::git::GIT_ENV;
use common::*;

/// `cargo package` with a CARGO_HOME whose crates.io is the world's served registry (as a
/// local registry: cargo reads the same index files provero serves), so the publisher's
/// Cargo.lock comes from the loopback registry, never from the internet.
fn package_with_registry(w: &World, repo: &Repo, manifest_dir: &str, name: &str) -> Vec<u8> {
    let home = w.root().join("publisher-cargo-home");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(
        home.join("config.toml"),
        format!(
            "[source.crates-io]\nreplace-with = \"loopback\"\n[source.loopback]\nlocal-registry = \"{}\"\n",
            w.root().join("served").display()
        ),
    )
    .unwrap();
    let target = w.root().join("cargo-target").join(name);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(repo.path.join(manifest_dir))
        .args(["package", "--no-verify", "--offline", "--quiet"])
        .env("CARGO_HOME", &home)
        .env("CARGO_TARGET_DIR", &target)
        .env("CARGO_TERM_COLOR", "never");
    for k in ["RUSTFLAGS", "CARGO_BUILD_TARGET", "CARGO_ENCODED_RUSTFLAGS"] {
        cmd.env_remove(k);
    }
    for (k, v) in GIT_ENV {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "cargo package failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = target.join("package");
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .find(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(&format!("{name}-"))
        })
        .unwrap()
        .path();
    std::fs::read(file).unwrap()
}

/// A library crate `rbdep` 1.0.0 and a binary crate `rbapp` 0.1.0 depending on it, both
/// published on the loopback registry; returns the app's published bytes.
fn app_world(w: &World, dep_versions: &[&str]) -> Vec<u8> {
    for v in dep_versions {
        fresh_dep(w);
        let fx = w.honest_crate("rbdep", v);
        w.publish(&fx, &fx.crate_bytes);
    }
    let repo = w.work_repo("rbapp");
    repo.write(
        "Cargo.toml",
        manifest(
            "rbapp",
            "0.1.0",
            Some(&World::repo_url("rbapp")),
            "\n[dependencies]\nrbdep = \"1\"\n",
        ),
    );
    repo.write(
        "src/main.rs",
        "fn main() {\n    println!(\"{}\", rbdep::add(1, 2));\n}\n",
    );
    let c = repo.commit_all("app");
    repo.tag("v0.1.0", &c);
    w.make_upstream(&repo, "rbapp");
    let bytes = package_with_registry(w, &repo, "", "rbapp");
    w.registry.publish("rbapp", "0.1.0", &bytes);
    bytes
}

/// Make room for another `rbdep` repository (each version is its own fixture repository).
fn fresh_dep(w: &World) {
    let _ = std::fs::remove_dir_all(w.root().join("work/rbdep"));
    let _ = std::fs::remove_dir_all(w.upstream_path("rbdep"));
}

fn manifest(name: &str, version: &str, repository: Option<&str>, extra: &str) -> String {
    common::crates::manifest(name, version, repository, extra)
}

fn rebuild_info(r: &PackageResult) -> &serde_json::Value {
    &r.json["rebuild"]
}

#[test]
fn honest_library_crate_is_verified_by_rebuild() {
    let w = World::new();
    let fx = w.honest_crate("rblib", "1.0.0");
    w.publish(&fx, &fx.crate_bytes);
    let (out, report) = w.run_json(&["--mode", "rebuild"], &[&fx.spec()]);
    let r = report.result("rblib");
    r.assert_verdict("verified");
    assert_eq!(out.code, 0, "{}", out.dump());
    assert_eq!(r.json["mode"], "rebuild");
    let info = rebuild_info(&r);
    assert_eq!(info["packager"], "cargo package", "{:#}", r.json);
    assert!(
        info["packager_version"]
            .as_str()
            .unwrap()
            .starts_with("cargo "),
        "{info:#}"
    );
    // Every file was compared with the rebuilt one.
    assert_eq!(r.json["stats"]["files"], 6, "{:#}", r.json);
    assert_eq!(r.json["excused"].as_array().map(|a| a.len()), Some(0));
    w.assert_cwd_untouched();
    // The throwaway build directory is gone.
    let left = std::fs::read_dir(w.cache_dir().join("rebuild"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(left, 0);
}

#[test]
fn honest_binary_crate_rebuilds_its_lock_through_the_loopback_registry() {
    let w = World::new();
    app_world(&w, &["1.0.0"]);
    let (_, report) = w.run_json(&["--mode", "rebuild"], &["crates:rbapp@0.1.0"]);
    let r = report.result("rbapp");
    r.assert_verdict("verified");
    assert_eq!(rebuild_info(&r)["bit_for_bit"], true, "{:#}", r.json);
    // The lock's index entry came from the loopback registry through provero.
    assert!(w.server.hits("/index/rb/de/rbdep") >= 1);
}

#[test]
fn lock_drift_to_a_newer_honest_version_is_stabilized() {
    let w = World::new();
    app_world(&w, &["1.0.0"]);
    // Published after the app: today's resolution picks 1.0.1.
    fresh_dep(&w);
    let fx = w.honest_crate("rbdep", "1.0.1");
    w.publish(&fx, &fx.crate_bytes);
    let (_, report) = w.run_json(&["--mode", "rebuild"], &["crates:rbapp@0.1.0"]);
    let r = report.result("rbapp");
    r.assert_verdict("verified");
    let stabs = rebuild_info(&r)["stabilizers"].as_array().unwrap().clone();
    assert!(
        stabs
            .iter()
            .any(|s| s["name"] == "cargo-lock-drift" && s["paths"][0] == "Cargo.lock"),
        "{:#}",
        r.json
    );
}

/// Republish the app with `edit` applied to its archive; diff and rebuild verdicts.
fn tampered_app(edit: impl FnOnce(&mut CrateArchive)) -> (World, PackageResult, PackageResult) {
    let w = World::new();
    let bytes = app_world(&w, &["1.0.0"]);
    let mut ar = CrateArchive::read(&bytes);
    edit(&mut ar);
    std::fs::remove_dir_all(w.root().join("served/index/rb/ap")).unwrap();
    w.registry.publish("rbapp", "0.1.0", &ar.to_bytes());
    let (_, diff) = w.run_json(&["--no-db"], &["crates:rbapp@0.1.0"]);
    let (out, rebuild) = w.run_json(&["--no-db", "--mode", "rebuild"], &["crates:rbapp@0.1.0"]);
    assert_eq!(out.code, 1, "{}", out.dump());
    (w, diff.result("rbapp"), rebuild.result("rbapp"))
}

fn assert_rebuild_flags(r: &PackageResult, path: &str) {
    r.assert_verdict("mismatch");
    let f = r.assert_finding("content-differs", "red-flag", Some(path));
    assert_eq!(f.json["mode"], "rebuild", "{:#}", r.json);
    assert!(f.json["diff"].is_string(), "{:#}", f.json);
}

#[test]
fn tampered_lock_checksum_is_caught_only_by_rebuild() {
    let (_w, diff, rebuild) = tampered_app(|ar| {
        let lock = ar.get_str("Cargo.lock");
        let at = lock.find("checksum = \"").unwrap() + 12;
        let mut l = lock.clone();
        l.replace_range(at..at + 4, "0000");
        ar.set("Cargo.lock", l);
    });
    diff.assert_verdict("verified");
    assert_rebuild_flags(&rebuild, "Cargo.lock");
}

#[test]
fn tampered_lock_source_is_caught_only_by_rebuild() {
    let (_w, diff, rebuild) = tampered_app(|ar| {
        ar.replace_text(
            "Cargo.lock",
            "registry+https://github.com/rust-lang/crates.io-index",
            "registry+https://evil.example/index",
        );
    });
    diff.assert_verdict("verified");
    assert_rebuild_flags(&rebuild, "Cargo.lock");
}

#[test]
fn tampered_normalised_manifest_features_and_targets_are_caught_by_rebuild() {
    for (from, to) in [
        (
            "[dependencies.rbdep]",
            "[features]\ndefault = [\"x\"]\nx = []\n\n[dependencies.rbdep]",
        ),
        (
            "[[bin]]\nname = \"rbapp\"",
            "[[bin]]\nname = \"rbapp-evil\"",
        ),
    ] {
        let (_w, _diff, rebuild) = tampered_app(|ar| {
            let toml = ar.get_str("Cargo.toml");
            assert!(toml.contains(from), "{toml}");
            ar.replace_text("Cargo.toml", from, to);
        });
        assert_rebuild_flags(&rebuild, "Cargo.toml");
    }
}

#[test]
fn both_modes_mark_each_finding_and_take_the_worse_verdict() {
    let (w, _, _) = tampered_app(|ar| {
        ar.replace_text(
            "Cargo.lock",
            "registry+https://github.com/rust-lang/crates.io-index",
            "registry+https://evil.example/index",
        );
        ar.replace_text("src/main.rs", "add(1, 2)", "add(1, 3)");
    });
    let md = w.root().join("both.md");
    let sarif = w.root().join("both.sarif");
    let html = w.root().join("both.html");
    let (_, report) = w.run_json(
        &[
            "--no-db",
            "--mode",
            "both",
            "-o",
            md.to_str().unwrap(),
            "-o",
            sarif.to_str().unwrap(),
            "-o",
            html.to_str().unwrap(),
        ],
        &["crates:rbapp@0.1.0"],
    );
    let r = report.result("rbapp");
    r.assert_verdict("mismatch");
    // The other formats say which comparison raised each finding and what rebuilt it.
    let md = std::fs::read_to_string(&md).unwrap();
    let html = std::fs::read_to_string(&html).unwrap();
    assert!(
        html.contains("<dt>rebuild</dt><dd>rebuilt with cargo package"),
        "{html}"
    );
    assert!(md.contains("rebuilt with cargo package"), "{md}");
    assert!(
        md.contains("`content-differs` [rebuild] `Cargo.lock`"),
        "{md}"
    );
    let sarif: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&sarif).unwrap()).unwrap();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert!(results.iter().any(|x| x["properties"]["mode"] == "rebuild"
        && x["properties"]["packager"]
            .as_str()
            .is_some_and(|p| p.starts_with("cargo package"))));
    let modes: Vec<(String, String, String)> = r
        .red_flags()
        .iter()
        .map(|f| {
            (
                f.json["mode"].as_str().unwrap_or("").to_string(),
                f.code.clone(),
                f.path.clone().unwrap_or_default(),
            )
        })
        .collect();
    for want in [
        ("diff", "content-differs", "src/main.rs"),
        ("rebuild", "content-differs", "src/main.rs"),
        ("rebuild", "content-differs", "Cargo.lock"),
    ] {
        assert!(
            modes
                .iter()
                .any(|m| (m.0.as_str(), m.1.as_str(), m.2.as_str()) == want),
            "{want:?} not in {modes:?}"
        );
    }
    assert!(!modes.iter().any(|m| m.0 == "diff" && m.2 == "Cargo.lock"));
}

#[test]
fn a_rebuild_verdict_is_stored_apart_from_a_diff_verdict() {
    let w = World::new();
    let fx = w.honest_crate("rbstore", "1.0.0");
    w.publish(&fx, &fx.crate_bytes);
    let db = w.root().join("results.db");
    let dbs = db.display().to_string();
    let (_, first) = w.run_json(&["--db", &dbs], &[&fx.spec()]);
    assert!(first.result("rbstore").json.get("rebuild").is_none());
    let (_, second) = w.run_json(&["--db", &dbs, "--mode", "rebuild"], &[&fx.spec()]);
    let r = second.result("rbstore");
    assert_eq!(
        r.json["mode"], "rebuild",
        "a diff verdict was reused: {:#}",
        r.json
    );
    assert!(r.json["rebuild"].is_object());
    assert_eq!(second.json["summary"]["skipped"], 0);
    let (_, third) = w.run_json(&["--db", &dbs, "--mode", "rebuild"], &[&fx.spec()]);
    assert_eq!(third.json["summary"]["skipped"], 1);
}

#[test]
fn a_build_that_fails_is_rebuild_failed_with_the_log() {
    let w = World::new();
    // The publisher had `rbghost` in its registry; the served one never has.
    let ghost = w.root().join("ghost-registry");
    std::fs::create_dir_all(ghost.join("index/rb/gh")).unwrap();
    std::fs::write(
        ghost.join("index/rb/gh/rbghost"),
        "{\"name\":\"rbghost\",\"vers\":\"1.0.0\",\"deps\":[],\"cksum\":\"aa\",\"features\":{},\"yanked\":false}\n",
    )
    .unwrap();
    let repo = w.work_repo("rbfail");
    repo.write(
        "Cargo.toml",
        manifest(
            "rbfail",
            "0.1.0",
            Some(&World::repo_url("rbfail")),
            "\n[dependencies]\nrbghost = \"1\"\n",
        ),
    );
    repo.write("src/main.rs", "fn main() {}\n");
    let c = repo.commit_all("app");
    repo.tag("v0.1.0", &c);
    w.make_upstream(&repo, "rbfail");
    let home = w.root().join("ghost-home");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(
        home.join("config.toml"),
        format!(
            "[source.crates-io]\nreplace-with = \"g\"\n[source.g]\nlocal-registry = \"{}\"\n",
            ghost.display()
        ),
    )
    .unwrap();
    let target = w.root().join("ghost-target");
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(&repo.path)
        .args(["package", "--no-verify", "--offline", "--quiet"])
        .env("CARGO_HOME", &home)
        .env("CARGO_TARGET_DIR", &target)
        .envs(GIT_ENV.iter().copied())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(target.join("package/rbfail-0.1.0.crate")).unwrap();
    w.registry.publish("rbfail", "0.1.0", &bytes);
    let (out, report) = w.run_json(&["--mode", "rebuild"], &["crates:rbfail@0.1.0"]);
    let r = report.result("rbfail");
    r.assert_verdict("unverifiable");
    let f = r.assert_finding("rebuild-failed", "unverifiable", None);
    assert!(
        f.message.contains("`cargo package` failed"),
        "{}",
        f.message
    );
    assert!(
        f.message.contains("rbghost"),
        "the log tail is quoted: {}",
        f.message
    );
    assert_eq!(
        out.code,
        0,
        "unverifiable alone is not an error: {}",
        out.dump()
    );
}

#[test]
fn without_bubblewrap_there_is_no_build() {
    let w = World::new();
    let fx = w.honest_crate("rbnobwrap", "1.0.0");
    w.publish(&fx, &fx.crate_bytes);
    // A PATH with git, cargo and the limit tools, but no bwrap.
    let bin = w.root().join("bin-without-bwrap");
    std::fs::create_dir_all(&bin).unwrap();
    for tool in ["git", "cargo", "rustup", "timeout", "prlimit"] {
        if let Some(p) = which(tool) {
            std::os::unix::fs::symlink(p, bin.join(tool)).unwrap();
        }
    }
    let mut args = w.base_args();
    args.extend(["--format", "json", "--mode", "rebuild"].map(String::from));
    args.push(fx.spec());
    let out = Command::new(env!("CARGO_BIN_EXE_provero"))
        .args(&args)
        .current_dir(w.cwd())
        .env("PATH", &bin)
        .envs(GIT_ENV.iter().copied())
        .output()
        .unwrap();
    let report = Report::parse(
        &String::from_utf8_lossy(&out.stdout),
        &Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into(),
            stderr: String::from_utf8_lossy(&out.stderr).into(),
        },
    );
    let r = report.result("rbnobwrap");
    r.assert_verdict("unverifiable");
    let f = r.assert_finding("rebuild-failed", "unverifiable", None);
    assert!(
        f.message.contains("`bwrap`") && f.message.contains("bubblewrap"),
        "{}",
        f.message
    );
    assert!(!Path::new(&w.cache_dir().join("rebuild"))
        .read_dir()
        .map(|mut d| d.next().is_some())
        .unwrap_or(false));
}

fn which(tool: &str) -> Option<std::path::PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

#[test]
fn a_lockfile_in_both_modes_goes_through_the_bulk_engine() {
    let w = World::new();
    let app = app_world(&w, &["1.0.0"]);
    let lib = w.honest_crate("rblib2", "1.0.0");
    w.publish(&lib, &lib.crate_bytes);
    // The app's own published lock, plus the library: two registry packages, one path one.
    let mut lock = CrateArchive::read(&app).get_str("Cargo.lock");
    lock.push_str(&format!(
        "\n[[package]]\nname = \"rblib2\"\nversion = \"1.0.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"{}\"\n",
        sha256_hex(&lib.crate_bytes)
    ));
    let lockfile = w.root().join("Cargo.lock");
    std::fs::write(&lockfile, lock).unwrap();
    let lf = lockfile.display().to_string();
    let (out, report) = w.run_json(
        &[
            "--no-db",
            "--mode",
            "both",
            "--build-jobs",
            "1",
            "--lockfile",
            &lf,
        ],
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.dump());
    for name in ["rbdep", "rblib2"] {
        let r = report.result(name);
        r.assert_verdict("verified");
        assert_eq!(r.json["mode"], "both");
        assert_eq!(r.json["rebuild"]["bit_for_bit"], true, "{:#}", r.json);
    }
}

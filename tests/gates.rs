//! CI gates end to end, through the real binary against crates served on 127.0.0.1 and
//! sources in local git repositories: `--fail-on` levels, accepted findings (`--allow`),
//! `provero.toml` / `--config`, and the GitHub Action's verify step. Attestations are in
//! `tests/attestations.rs`.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

fn assert_exit(out: &Output, code: i32) {
    assert_eq!(out.code, code, "unexpected exit code\n{}", out.dump());
}

/// One world with the four kinds of package a gate tells apart.
struct Fixture {
    w: World,
    honest: String,
    warned: String,
    unverifiable: String,
    tampered: String,
}

fn fixture() -> Fixture {
    let w = World::new();
    let honest = w.honest_crate("honest", "1.0.0");
    w.publish(&honest, &honest.crate_bytes);
    // CRLF line endings only: a warning, still verified.
    let warned = w.honest_crate("warned", "1.0.0");
    let mut ar = warned.archive();
    let text = ar.get_str("src/lib.rs");
    ar.set("src/lib.rs", text.replace('\n', "\r\n"));
    w.publish(&warned, &ar.to_bytes());
    // No repository in the manifest: unverifiable.
    let repo = w.work_repo("norepo");
    common::crates::write_crate(&repo, "", "norepo", "1.0.0", None);
    repo.commit_all("import");
    let bytes = w.package(&repo, "norepo", "1.0.0", false);
    w.registry.publish("norepo", "1.0.0", &bytes);
    // A changed line: a red flag.
    let tampered = w.honest_crate("tampered", "1.0.0");
    let mut ar = tampered.archive();
    ar.replace_text("src/lib.rs", "    a + b\n", "    a + b + 1\n");
    w.publish(&tampered, &ar.to_bytes());
    Fixture {
        honest: honest.spec(),
        warned: warned.spec(),
        unverifiable: "crates:norepo@1.0.0".into(),
        tampered: tampered.spec(),
        w,
    }
}

fn exit_of(f: &Fixture, fail_on: Option<&str>, specs: &[&str]) -> i32 {
    let mut extra = vec!["--no-db"];
    if let Some(level) = fail_on {
        extra.extend(["--fail-on", level]);
    }
    f.w.run(&extra, specs).code
}

#[test]
fn each_fail_on_level_fails_on_itself_and_above() {
    let f = fixture();
    let (h, w, u, t) = (&*f.honest, &*f.warned, &*f.unverifiable, &*f.tampered);
    // Default: today's behaviour, only red flags fail.
    assert_eq!(exit_of(&f, None, &[h, w, u]), 0);
    assert_eq!(exit_of(&f, None, &[h, t]), 1);
    assert_eq!(exit_of(&f, Some("red-flag"), &[h, w, u]), 0);
    assert_eq!(exit_of(&f, Some("red-flag"), &[h, t]), 1);
    // unverifiable: an unverifiable package fails; a warning does not.
    assert_eq!(exit_of(&f, Some("unverifiable"), &[h, w]), 0);
    assert_eq!(exit_of(&f, Some("unverifiable"), &[h, u]), 1);
    assert_eq!(exit_of(&f, Some("unverifiable"), &[h, t]), 1);
    // warning: a warning fails, and so does everything above it.
    assert_eq!(exit_of(&f, Some("warning"), &[h]), 0);
    assert_eq!(exit_of(&f, Some("warning"), &[h, w]), 1);
    assert_eq!(exit_of(&f, Some("warning"), &[h, u]), 1);
    let out = f.w.run(&["--no-db", "--fail-on", "warning"], &[h, w]);
    assert!(
        out.stderr
            .contains("--fail-on warning: 1 package(s) reached it: crates:warned@1.0.0"),
        "{}",
        out.stderr
    );
    // error: findings never fail; an error still does (exit 2).
    assert_eq!(exit_of(&f, Some("error"), &[h, w, u, t]), 0);
    assert_eq!(
        exit_of(&f, Some("error"), &[h, t, "crates:not-published@1.0.0"]),
        2
    );
    let out = f.w.run(&["--fail-on", "sometimes"], &[h]);
    assert_exit(&out, 2);
    assert!(out.stderr.contains("sometimes"), "{}", out.stderr);
}

#[test]
fn a_lockfile_where_nothing_could_be_verified_can_fail_ci() {
    let w = World::new();
    let lock = w.root().join("Cargo.lock");
    std::fs::write(
        &lock,
        "version = 3\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\n\n\
         [[package]]\nname = \"from-git\"\nversion = \"1.0.0\"\n\
         source = \"git+https://github.com/acme/from-git?rev=abc#0123456789abcdef0123456789abcdef01234567\"\n",
    )
    .unwrap();
    let lock = lock.display().to_string();
    let out = w.run(&["--no-db", "--lockfile", &lock], &[]);
    assert_exit(&out, 0);
    let out = w.run(
        &["--no-db", "--lockfile", &lock, "--fail-on", "unverifiable"],
        &[],
    );
    assert_exit(&out, 1);
    assert!(
        out.stderr
            .contains("--fail-on unverifiable: no package was verified"),
        "{}",
        out.stderr
    );
}

const TAMPERED_ALLOW: &str = r#"
[[allow]]
package = "crates:tampered@1.0.0"
code = "content-differs"
path = "src/*.rs"
reason = "reviewed: an off-by-one the maintainers fixed after packaging"
"#;

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[test]
fn an_allowed_finding_is_reported_with_its_reason_and_does_not_fail() {
    let f = fixture();
    let allow = write(f.w.root(), "allow.toml", TAMPERED_ALLOW);
    let (out, rep) =
        f.w.run_json(&["--allow", &allow], &[&f.tampered, &f.honest]);
    assert_exit(&out, 0);
    let r = rep.result("tampered");
    r.assert_verdict("verified");
    let finding = r.json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "content-differs")
        .cloned()
        .unwrap_or_else(|| panic!("the allowed finding is kept:\n{:#}", r.json));
    assert_eq!(finding["path"], "src/lib.rs");
    assert!(finding["allowed"]["reason"]
        .as_str()
        .unwrap()
        .starts_with("reviewed: an off-by-one"));
    assert_eq!(rep.json["summary"]["allowed"], 1);
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../schema/report.schema.json")).unwrap();
    let validator = jsonschema::draft202012::options().build(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&rep.json)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "the JSON report: {errors:?}");
    assert_eq!(rep.json["summary"]["mismatch"], 0);
    assert!(rep.json["summary"]["by_code"]
        .get("content-differs")
        .is_none());
    assert!(rep.json.get("warnings").is_none(), "{:#}", rep.json);

    // The store keeps what was found: the same store without the allow file says mismatch,
    // and with it again (the stored result reused) says verified.
    let (out, rep) = f.w.run_json(&[], &[&f.tampered]);
    assert_exit(&out, 1);
    rep.result("tampered").assert_verdict("mismatch");
    let out = f.w.run(&["--allow", &allow], &[&f.tampered]);
    assert_exit(&out, 0);
    assert!(
        out.stdout.contains("allowed") && out.stdout.contains("(allowed: reviewed"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.contains("1 finding(s) allowed"),
        "{}",
        out.stderr
    );

    // SARIF marks it suppressed with the reason; JUnit passes the package; HTML says allowed.
    let dir = f.w.root();
    let (sarif, junit, html) = (dir.join("r.sarif"), dir.join("r.xml"), dir.join("r.html"));
    let out = f.w.run(
        &[
            "--allow",
            &allow,
            "--output",
            &format!("sarif={}", sarif.display()),
            "--output",
            &format!("junit={}", junit.display()),
            "--output",
            &format!("html={}", html.display()),
        ],
        &[&f.tampered],
    );
    assert_exit(&out, 0);
    let log: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&sarif).unwrap()).unwrap();
    let result = log["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ruleId"] == "content-differs")
        .cloned()
        .unwrap_or_else(|| panic!("no content-differs result: {log:#}"));
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("sarif-schema-2.1.0.json")).unwrap();
    let validator = jsonschema::draft4::options().build(&schema).unwrap();
    let errors: Vec<String> = validator.iter_errors(&log).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "SARIF with a suppression: {errors:?}");
    assert_eq!(result["suppressions"][0]["kind"], "external");
    assert!(result["suppressions"][0]["justification"]
        .as_str()
        .unwrap()
        .starts_with("reviewed: an off-by-one"));
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("name=\"tampered@1.0.0\""), "{xml}");
    assert!(!xml.contains("<failure"), "{xml}");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.contains("(allowed: reviewed: an off-by-one"),
        "allowed reason missing in HTML"
    );

    // Markdown lists it too.
    let out =
        f.w.run(&["--allow", &allow, "--format", "markdown"], &[&f.tampered]);
    assert!(out.stdout.contains("## Allowed findings"), "{}", out.stdout);
    assert!(
        out.stdout.contains("reviewed: an off-by-one"),
        "{}",
        out.stdout
    );
}

#[test]
fn an_entry_that_matches_nothing_or_has_expired_is_a_warning_and_excuses_nothing() {
    let f = fixture();
    let other_path = TAMPERED_ALLOW.replace("src/*.rs", "Cargo.toml.orig");
    let other_version = TAMPERED_ALLOW.replace("tampered@1.0.0", "tampered@1.0.1");
    let expired = format!("{TAMPERED_ALLOW}expires = 2020-01-31\n");
    for (text, says) in [
        (&other_path, "matched no finding"),
        (&other_version, "matched no finding"),
        (&expired, "expired on 2020-01-31"),
    ] {
        let allow = write(f.w.root(), "allow.toml", text);
        let (out, rep) =
            f.w.run_json(&["--no-db", "--allow", &allow], &[&f.tampered]);
        assert_exit(&out, 1);
        let r = rep.result("tampered");
        r.assert_verdict("mismatch");
        assert!(
            r.json["findings"][0].get("allowed").is_none(),
            "{:#}",
            r.json
        );
        let warnings = rep.json["warnings"].as_array().expect("warnings");
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].as_str().unwrap().contains(says), "{warnings:?}");
        assert!(
            out.stderr
                .contains(&format!("warning: {allow}: allow entry 1")),
            "{}",
            out.stderr
        );
        assert!(out.stderr.contains(says), "{}", out.stderr);
    }
    // An entry in force until a future date, over a version range, applies.
    let ranged =
        TAMPERED_ALLOW.replace("tampered@1.0.0", "tampered@>=0.9, <2") + "expires = 2999-12-31\n";
    let allow = write(f.w.root(), "allow.toml", &ranged);
    let (out, rep) =
        f.w.run_json(&["--no-db", "--allow", &allow], &[&f.tampered]);
    assert_exit(&out, 0);
    let r = rep.result("tampered");
    r.assert_verdict("verified");
    assert_eq!(r.json["findings"][0]["allowed"]["expires"], "2999-12-31");
    // At --fail-on warning an unused entry fails the run.
    let allow = write(f.w.root(), "allow.toml", &other_path);
    let out = f.w.run(
        &["--no-db", "--allow", &allow, "--fail-on", "warning"],
        &[&f.honest],
    );
    assert_exit(&out, 1);
    // A bad entry is an error naming the file and the entry.
    let bad = write(
        f.w.root(),
        "allow.toml",
        &TAMPERED_ALLOW.replace("content-differs", "contents-differ"),
    );
    let out = f.w.run(&["--allow", &bad], &[&f.honest]);
    assert_exit(&out, 2);
    assert!(
        out.stderr.contains(&format!(
            "{bad}: allow entry 1: unknown finding code `contents-differ`"
        )),
        "{}",
        out.stderr
    );
}

/// `provero.toml` holding what the flags of [`World::base_args`] say.
fn config_text(w: &World) -> String {
    format!(
        "jobs = 2\ncache-dir = \"{}\"\n\n[registries]\ncrates = \"{}\"\n\n[rewrites]\n\"{FAKE_FORGE}\" = \"file://{}/\"\n",
        w.cache_dir().display(),
        w.registry.index_url(),
        w.root().join("upstream").display()
    )
}

#[test]
fn provero_toml_in_the_working_directory_replaces_the_flags_and_flags_win() {
    let f = fixture();
    let cwd = f.w.cwd();
    let allow_section = TAMPERED_ALLOW;
    let text = format!(
        "fail-on = \"warning\"\n{}{allow_section}",
        config_text(&f.w)
    );
    write(&cwd, "provero.toml", &text);
    let run = |args: &[&str]| {
        let mut all: Vec<String> = vec!["verify".into(), "--no-db".into()];
        all.extend(args.iter().map(|s| s.to_string()));
        let out = common::run::run_provero_in(&cwd, &all);
        out.assert_no_crash();
        out
    };
    // Registry, rewrite and cache dir come from the file; so do the allow entries.
    let out = run(&["--format", "json", &f.honest, &f.tampered]);
    assert_exit(&out, 0);
    let rep = Report::parse(&out.stdout, &out);
    rep.result("honest").assert_verdict("verified");
    rep.result("tampered").assert_verdict("verified");
    assert!(
        std::fs::read_dir(f.w.cache_dir()).unwrap().next().is_some(),
        "the file's cache-dir was not used"
    );
    // fail-on = "warning" from the file; the flag wins over it.
    assert_exit(&run(&[&f.warned]), 1);
    assert_exit(&run(&["--fail-on", "red-flag", &f.warned]), 0);
    // --config names another file; the working directory's is then not read.
    let elsewhere = write(
        f.w.root(),
        "ci.toml",
        &format!("fail-on = \"unverifiable\"\n{}", config_text(&f.w)),
    );
    assert_exit(&run(&["--config", &elsewhere, &f.warned]), 0);
    assert_exit(&run(&["--config", &elsewhere, &f.unverifiable]), 1);
    assert_exit(&run(&["--config", &elsewhere, &f.tampered]), 1);
}

#[test]
fn a_bad_configuration_is_an_error_naming_the_file_and_key() {
    let w = World::new();
    let cwd = w.cwd();
    for (text, says) in [
        (
            "jobs = 2\nregistry = \"crates=x\"\n",
            "provero.toml:2: unknown field `registry`",
        ),
        (
            "fail-on = \"often\"\n",
            "provero.toml:1: `fail-on`: unknown variant `often`",
        ),
        ("jobs = -1\n", "provero.toml:1: `jobs`: invalid value"),
        (
            "[registries]\ncrates = \"not a url\"\n",
            "provero.toml: registries: --registry crates",
        ),
    ] {
        let p = write(&cwd, "provero.toml", text);
        let out = common::run::run_provero_in(&cwd, &["verify".into(), "crates:x@1.0.0".into()]);
        out.assert_no_crash();
        assert_exit(&out, 2);
        assert!(out.stderr.contains(&p), "{text:?}:\n{}", out.stderr);
        assert!(out.stderr.contains(says), "{text:?}:\n{}", out.stderr);
    }
    let out = common::run::run_provero_in(
        &cwd,
        &[
            "verify".into(),
            "--config".into(),
            "missing.toml".into(),
            "crates:x@1.0.0".into(),
        ],
    );
    assert_exit(&out, 2);
    assert!(out.stderr.contains("missing.toml"), "{}", out.stderr);
}

/// The GitHub Action's verify step (`action.yml`), run as GitHub would run it: its own bash
/// script, with the inputs as environment variables, against a lockfile whose packages come
/// from the loopback registry.
#[test]
fn the_github_action_verify_step_writes_sarif_and_html_and_reports_the_exit_code() {
    let action: serde_yaml::Value =
        serde_yaml::from_str(include_str!("../action.yml")).expect("action.yml is YAML");
    let steps = action["runs"]["steps"].as_sequence().unwrap();
    let step = steps
        .iter()
        .find(|s| s["id"] == "verify")
        .expect("a step with id verify");
    assert_eq!(step["shell"], "bash");
    let script = step["run"].as_str().unwrap();
    let uses: Vec<&str> = steps.iter().filter_map(|s| s["uses"].as_str()).collect();
    assert!(
        uses.iter()
            .any(|u| u.starts_with("github/codeql-action/upload-sarif@")),
        "{uses:?}"
    );
    assert!(
        uses.iter()
            .any(|u| u.starts_with("actions/upload-artifact@")),
        "{uses:?}"
    );

    let w = World::new();
    let honest = w.honest_crate("honest", "1.0.0");
    w.publish(&honest, &honest.crate_bytes);
    let tampered = w.honest_crate("tampered", "1.0.0");
    let mut ar = tampered.archive();
    ar.replace_text("src/lib.rs", "    a + b\n", "    a + b + 1\n");
    let bytes = ar.to_bytes();
    w.publish(&tampered, &bytes);
    let crates_io = "registry+https://github.com/rust-lang/crates.io-index";
    let lock = write(
        w.root(),
        "Cargo.lock",
        &format!(
            "version = 3\n\n[[package]]\nname = \"honest\"\nversion = \"1.0.0\"\nsource = \"{crates_io}\"\nchecksum = \"{}\"\n\n\
             [[package]]\nname = \"tampered\"\nversion = \"1.0.0\"\nsource = \"{crates_io}\"\nchecksum = \"{}\"\n",
            sha256_hex(&honest.crate_bytes),
            sha256_hex(&bytes)
        ),
    );
    let runner_temp = w.root().join("runner-temp");
    std::fs::create_dir_all(&runner_temp).unwrap();
    let github_output = w.root().join("github-output");
    std::fs::write(&github_output, "").unwrap();
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_provero")).parent().unwrap();
    let extra = format!(
        "--registry crates={} --git-rewrite {FAKE_FORGE}=file://{}/",
        w.registry.index_url(),
        w.root().join("upstream").display()
    );
    let run = |fail_on: &str| {
        let out = Command::new("bash")
            .args(["-e", "-c", script])
            .current_dir(w.cwd())
            .env(
                "PATH",
                format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap()),
            )
            .env("LOCKFILES", &lock)
            .env("FAIL_ON", fail_on)
            .env("ALLOW", "")
            .env("CONFIG", "")
            .env("EXTRA_ARGS", &extra)
            .env("RUNNER_TEMP", &runner_temp)
            .env("GITHUB_OUTPUT", &github_output)
            .env("NO_COLOR", "1")
            .envs(common::git::GIT_ENV.iter().copied())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "the step itself failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let outputs = std::fs::read_to_string(&github_output).unwrap();
        std::fs::write(&github_output, "").unwrap();
        outputs
    };
    let outputs = run("red-flag");
    assert!(outputs.contains("exit-code=1\n"), "{outputs}");
    assert!(outputs.contains("has-sarif=true\n"), "{outputs}");
    let report_dir = runner_temp.join("provero-report");
    let sarif: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report_dir.join("provero.sarif")).unwrap())
            .unwrap();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    let flagged = results
        .iter()
        .find(|r| r["ruleId"] == "content-differs")
        .unwrap_or_else(|| panic!("{sarif:#}"));
    // The alert points at the lockfile line of the package, where a reviewer acts.
    let loc = &flagged["locations"][0]["physicalLocation"];
    assert!(
        loc["artifactLocation"]["uri"]
            .as_str()
            .unwrap()
            .ends_with("Cargo.lock"),
        "{loc:#}"
    );
    let page = std::fs::read_to_string(report_dir.join("provero.html")).unwrap();
    assert!(
        page.contains("tampered"),
        "the HTML report names the package"
    );
    // The level input is passed through: at `error` findings do not fail the job.
    assert!(run("error").contains("exit-code=0\n"));
}

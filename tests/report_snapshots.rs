//! Snapshots (insta) of what each renderer makes of one small, fixed report: an honest
//! package, a tampered one with a diff, an unverifiable one, a package that ended in an error,
//! an input error and a skipped lockfile entry. A change to any format shows up here as a diff
//! a reviewer reads.

use provero::compare::Excused;
use provero::ecosystem::Ecosystem;
use provero::finding::{Code, Finding, Verdict};
use provero::report::{
    Format, LockfileLine, PackageResult, Report, RunInfo, RunSettings, SkippedInput, Style,
};

const COMMIT: &str = "5f1c0e9a2b3d4e5f60718293a4b5c6d7e8f90123";

fn result(eco: Ecosystem, name: &str, version: &str) -> PackageResult {
    let mut r = PackageResult::pending(eco, name, Some(version));
    r.source.repository = Some(format!("https://github.com/acme/{name}"));
    r.source.commit = Some(COMMIT.to_string());
    r.source.path_in_repo = Some(String::new());
    r.artifact.url = Some(format!("https://static.example/{name}-{version}.crate"));
    r.artifact.sha256 = Some("ab".repeat(32));
    r.duration_ms = 1250;
    r
}

fn fixture() -> Report {
    let mut honest = result(Ecosystem::Crates, "honest", "1.0.0");
    honest.excused = vec![
        Excused {
            path: ".cargo_vcs_info.json".into(),
            rule: "cargo-vcs-info".into(),
        },
        Excused {
            path: "Cargo.toml".into(),
            rule: "cargo-normalised-manifest".into(),
        },
    ];
    honest.stats.files = 6;
    honest.stats.identical = 4;
    honest.stats.excused = 2;
    honest.verdict = Verdict::Verified;
    honest.lockfile = Some(LockfileLine {
        path: "Cargo.lock".into(),
        line: 8,
    });

    let mut tampered = result(Ecosystem::Crates, "tampered", "1.0.0");
    let mut differs = Finding::at(
        Code::ContentDiffers,
        "src/lib.rs",
        "differs from `src/lib.rs` at 5f1c0e9a2b3d (1 line(s) added, 1 removed)",
    );
    differs.diff = Some(
        "--- source/src/lib.rs\n+++ artifact/src/lib.rs\n@@ -1,3 +1,3 @@\n pub fn add(a: u64, b: u64) -> u64 {\n-    a + b\n+    a + b + 1 // <off by one> & \"quoted\"\n }\n"
            .into(),
    );
    tampered.findings = vec![
        differs,
        Finding::at(
            Code::FileNotInSource,
            "src/backdoor.rs",
            "not in the source tree (looked for `src/backdoor.rs` at 5f1c0e9a2b3d)",
        ),
        Finding::new(Code::Dirty, "the packager recorded a dirty working tree"),
    ];
    tampered.verdict = Verdict::judge(&tampered.findings);
    tampered.lockfile = Some(LockfileLine {
        path: "Cargo.lock".into(),
        line: 13,
    });

    let mut unverifiable = result(Ecosystem::Pypi, "lonely", "2.0");
    unverifiable.source.commit = None;
    unverifiable.findings = vec![Finding::new(
        Code::NoCommit,
        "no recorded commit and no tag matches 2.0",
    )];
    unverifiable.verdict = Verdict::judge(&unverifiable.findings);

    let mut error = PackageResult::pending(Ecosystem::Gems, "ghost", Some("9.9.9"));
    let msg = "gems:ghost has no version 9.9.9";
    error.findings = vec![Finding::new(Code::ArtifactUnavailable, msg)];
    error.error = Some(msg.into());
    error.verdict = Verdict::judge(&error.findings);

    let mut report = Report::new(
        vec![honest, tampered, unverifiable, error],
        vec![provero::report::InputError {
            input: "nonsense".into(),
            message: "`nonsense` is not a package spec: expected ECOSYSTEM:NAME[@VERSION], e.g. crates:serde@1.0.210".into(),
        }],
    )
    .with_skipped_inputs(vec![SkippedInput {
        input: "crates:app@0.1.0".into(),
        reason: "a workspace member or path dependency: not from a registry".into(),
    }]);
    report.run = Some(RunInfo {
        provero_version: "0.1.0".into(),
        started_at: "2026-12-01T10:00:00Z".into(),
        finished_at: "2026-12-01T10:00:07Z".into(),
        settings: RunSettings {
            mode: "diff".into(),
            registries: [("crates".to_string(), "https://index.crates.io/".to_string())]
                .into_iter()
                .collect(),
            rewrites: vec!["https://github.com/=file:///srv/mirror/".into()],
            pypi_artifact: None,
        },
    });
    report
}

fn render(format: Format) -> String {
    let style = Style {
        color: false,
        diff: true,
    };
    format.render(&fixture(), style).unwrap().replace(
        &format!("\"semanticVersion\": \"{}\"", env!("CARGO_PKG_VERSION")),
        "\"semanticVersion\": \"[VERSION]\"",
    )
}

#[test]
fn human() {
    let mut out = render(Format::Human);
    out.push_str(&provero::report::human_summary(&fixture().summary));
    insta::assert_snapshot!("renderer_human", out);
}

#[test]
fn json() {
    insta::assert_snapshot!("renderer_json", render(Format::Json));
}

#[test]
fn markdown() {
    insta::assert_snapshot!("renderer_markdown", render(Format::Markdown));
}

#[test]
fn sarif() {
    insta::assert_snapshot!("renderer_sarif", render(Format::Sarif));
}

#[test]
fn junit() {
    insta::assert_snapshot!("renderer_junit", render(Format::Junit));
}

#[test]
fn html() {
    insta::assert_snapshot!("renderer_html", render(Format::Html));
}

#[test]
fn by_repository() {
    let views = provero::report::repository::by_repository(&fixture().results);
    insta::assert_snapshot!(
        "renderer_by_repository",
        provero::report::repository::human(&views)
    );
}

/// A run's report is read from its spill, not from memory: every format rendered from the
/// spilled fixture is byte for byte the one rendered from memory (snapshotted above).
#[test]
fn every_format_reads_the_same_from_the_spill() {
    let held = fixture();
    let dir = tempfile::tempdir().unwrap();
    let mut w = provero::spill::SpillWriter::create(dir.path()).unwrap();
    let order = held.results.iter().map(|r| w.append(r).unwrap()).collect();
    let mut spilled = Report::spilled(
        w.finish(order).unwrap(),
        held.errors.clone(),
        held.summary.clone(),
    );
    spilled.skipped_inputs = held.skipped_inputs.clone();
    spilled.run = held.run.clone();
    assert!(spilled.results.is_empty());
    assert_eq!(spilled.len(), held.len());
    let style = Style {
        color: false,
        diff: true,
    };
    for format in [
        Format::Human,
        Format::Json,
        Format::Markdown,
        Format::Sarif,
        Format::Junit,
        Format::Html,
        Format::Intoto,
    ] {
        assert_eq!(
            format.render(&spilled, style).unwrap(),
            format.render(&held, style).unwrap(),
            "{format:?}"
        );
    }
    assert_eq!(
        provero::report::repository::of_report(&spilled)
            .unwrap()
            .collect()
            .unwrap(),
        provero::report::repository::by_repository(&held.results)
    );
}

//! A run's report is read back from its spill (results on disk, `src/spill.rs`), hermetic
//! (the `bulk_support` world on the shared loopback server, the real binary): results come in
//! list order however they finish, a `regression` whose earlier versions finish after it is
//! still found, every format written as it is read is the one rendered from the same results
//! in memory, and `provero report` of the store gives what it gave when it held the store.

mod bulk_support;

use std::path::Path;
use std::time::Duration;

use bulk_support::{fixture, RepoSpec};
use provero::report::{Format, Report, Style};

fn single(name: &str, versions: usize) -> RepoSpec {
    RepoSpec {
        name: name.into(),
        crates: vec![name.into()],
        versions,
    }
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn a_run_writes_every_format_from_the_spill_in_list_order() {
    let mut repos = vec![single("late", 4)];
    repos.extend((0..5).map(|i| single(&format!("s{i}"), 5)));
    // The newest `late` is tampered: a mismatch, and a regression after three verified ones.
    let f = fixture(&repos, &|c, v| c == "late" && v == "1.0.3");
    let mut specs: Vec<String> = f.world.packages.iter().map(|p| p.spec()).collect();
    fastrand::seed(12);
    fastrand::shuffle(&mut specs);
    let list = f.root.join("list.txt");
    std::fs::write(&list, specs.join("\n")).unwrap();
    // The earlier `late` versions finish after the tampered one: its regression can only be
    // found once they have.
    for v in ["1.0.0", "1.0.1", "1.0.2"] {
        f.server
            .delay(&format!("/dl/late/{v}/"), Duration::from_millis(1500));
    }
    let out_dir = f.root.join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let file = |name: &str| out_dir.join(name);
    let db = f.root.join("r.db");
    let out = f
        .cmd(&db, "cache")
        .arg("--list")
        .arg(&list)
        .args(["--jobs", "8"])
        .arg("--output")
        .arg(file("r.sarif"))
        .arg("--output")
        .arg(file("r.junit.xml"))
        .arg("--output")
        .arg(file("r.html"))
        .arg("--output")
        .arg(file("r.md"))
        .arg("--output")
        .arg(file("r.intoto.jsonl"))
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "a red flag: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Report = serde_json::from_str(&stdout).unwrap();

    let order: Vec<String> = report
        .results
        .iter()
        .map(|r| format!("crates:{}@{}", r.package.name, r.package.version))
        .collect();
    assert_eq!(order, specs, "the report keeps the list's order");
    let s = &report.summary;
    assert_eq!(
        (s.packages, s.verified, s.mismatch),
        (specs.len(), specs.len() - 1, 1)
    );
    assert_eq!(s.by_code.get("regression"), Some(&1), "{:?}", s.by_code);
    let tampered = report
        .results
        .iter()
        .find(|r| r.package.name == "late" && r.package.version == "1.0.3")
        .unwrap();
    let regression = tampered
        .findings
        .iter()
        .find(|f| f.code == provero::finding::Code::Regression)
        .expect("a regression against versions that finished after it");
    assert!(
        regression
            .message
            .starts_with("3 earlier versions verified (1.0.2, 1.0.1, 1.0.0)"),
        "{}",
        regression.message
    );

    // Each format, written as the spill was read, is what the same results give in memory.
    let style = Style {
        color: false,
        diff: false,
    };
    let memory = |f: Format| f.render(&report, style).unwrap();
    assert_eq!(stdout, memory(Format::Json));
    assert_eq!(read(&file("r.sarif")), memory(Format::Sarif));
    assert_eq!(read(&file("r.junit.xml")), memory(Format::Junit));
    assert_eq!(read(&file("r.html")), memory(Format::Html));
    assert_eq!(read(&file("r.md")), memory(Format::Markdown));
    assert_eq!(read(&file("r.intoto.jsonl")), memory(Format::Intoto));
    // The spill is an anonymous file: nothing is left in the cache directory.
    let left: Vec<String> = std::fs::read_dir(f.root.join("cache"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");

    // `provero report` streams the store; it gives what rendering the whole store in memory
    // gave (regressions first, then the store's order; the slowest ten).
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_provero"))
        .args(["report", "--format", "json", "--db"])
        .arg(&db)
        .arg("--cache-dir")
        .arg(f.root.join("report-cache"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut all = provero::store::Store::open(&db).unwrap().all().unwrap();
    provero::regression::annotate_all_regressions_first(&mut all);
    let held = Report::new(all, Vec::new()).with_slowest(10);
    assert_eq!(String::from_utf8(out.stdout).unwrap(), memory_json(&held));
    assert_eq!(held.results[0].package.name, "late", "the regression first");
}

fn memory_json(r: &Report) -> String {
    serde_json::to_string_pretty(r).unwrap() + "\n"
}

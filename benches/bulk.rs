//! The bulk benchmark (not a test): a synthetic crates world of N packages (a monorepo of 40
//! crates and many single-crate repositories, ten versions each; real git repositories and real
//! `.crate` archives) served on 127.0.0.1. It times, on the same world:
//!
//! - provero's first run (packages/second, peak RSS, git bytes fetched),
//! - a fully resumed re-run (everything already in the store),
//! - the straightforward baseline in `benches/baseline.py`,
//! - the floor: gunzip + hash every archive and list every tree once, in process.
//!
//! For each it reports user+system CPU per package (children included: git processes count),
//! and for provero the requests per package the server saw, first and resumed.
//!
//! Run: `cargo bench --bench bulk -- [--packages 1000] [--jobs 8] [--no-baseline]
//! [--samples DIR] [--tamper] [--no-keep-alive] [--perf FILE] [--vs PATH] [--cached-artifacts N]`. `--no-keep-alive` serves the
//! world like a plain static mirror (every connection closed after one response); `--perf`
//! records the first run with `perf record -g`. `--vs PATH` also times another provero binary's
//! first run on the same world right after this one's (its own cache and store), and says
//! whether its verdicts and findings are the same: an A/B of two builds under one load.
//! `--cached-artifacts N` puts N other artifacts in both caches first, as a cache used for many
//! nights holds them. Results are recorded in BENCHMARKS.md.

#[path = "../tests/bulk_support/mod.rs"]
mod bulk_support;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use bulk_support::{RepoSpec, TestServer, World};
use sha2::Digest as _;

struct Args {
    packages: usize,
    jobs: usize,
    baseline: bool,
    samples: Option<PathBuf>,
    /// Inject a file not in source into `mono-1@1.0.3` and `single-1@1.0.3` (red flags).
    tamper: bool,
    /// Close every connection after one response (a static file server without keep-alive).
    keep_alive: bool,
    /// Record the first run with `perf record -g` into this file (for `perf report -i`).
    perf: Option<PathBuf>,
    /// Another provero binary whose first run is timed on the same world (A/B).
    vs: Option<PathBuf>,
    /// Artifacts already in every run's cache before the first run (a cache kept for many
    /// nights): none of them is one of the world's.
    cached_artifacts: usize,
}

fn args() -> Args {
    let mut a = Args {
        packages: 1000,
        jobs: 8,
        baseline: true,
        samples: None,
        tamper: false,
        keep_alive: true,
        perf: None,
        vs: None,
        cached_artifacts: 0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(x) = it.next() {
        match x.as_str() {
            "--packages" => a.packages = it.next().and_then(|v| v.parse().ok()).expect("N"),
            "--jobs" => a.jobs = it.next().and_then(|v| v.parse().ok()).expect("N"),
            "--no-baseline" => a.baseline = false,
            "--samples" => a.samples = it.next().map(PathBuf::from),
            "--tamper" => a.tamper = true,
            "--no-keep-alive" => a.keep_alive = false,
            "--perf" => a.perf = it.next().map(PathBuf::from),
            "--vs" => a.vs = it.next().map(PathBuf::from),
            "--cached-artifacts" => {
                a.cached_artifacts = it.next().and_then(|v| v.parse().ok()).expect("N")
            }
            "--bench" => {} // passed by `cargo bench`
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

/// A monorepo of (up to) 40 crates, then single-crate repositories; ten versions each.
fn repos(packages: usize) -> Vec<RepoSpec> {
    let versions = 10;
    let mono = (packages / versions).min(40);
    let mut out = vec![RepoSpec {
        name: "monorepo".into(),
        crates: (0..mono).map(|i| format!("mono-{i}")).collect(),
        versions,
    }];
    let singles = (packages - mono * versions).div_ceil(versions);
    out.extend((0..singles).map(|i| RepoSpec {
        name: format!("single-{i}"),
        crates: vec![format!("single-{i}")],
        versions,
    }));
    out
}

/// `n` small artifacts in `cache`, kept by the library as a run keeps what it downloads.
fn fill_cache(cache: &Path, n: usize) {
    use sha2::Digest as _;
    let kept = provero::artifact_cache::ArtifactCache::new(cache);
    for i in 0..n {
        let bytes = format!("an artifact of an earlier night, number {i}").into_bytes();
        let sha = hex::encode(sha2::Sha256::digest(&bytes));
        kept.put(&sha, &bytes).expect("cache written");
    }
}

/// CPU seconds (user + system) of this process and of its waited-for children (which include
/// their own children: provero's git processes), from `/proc/self/stat`.
fn cpu_seconds() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the `(comm)`: state is field 3; utime, stime, cutime, cstime are 14-17.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    let tick = 100.0; // USER_HZ on Linux
    let at = |i: usize| f.get(i - 3).copied().unwrap_or(0.0) / tick;
    (at(14) + at(15), at(16) + at(17))
}

/// Wall time, peak RSS (KiB, via GNU time when installed) and CPU seconds of a command and
/// everything it started.
fn measured(cmd: Command, dir: &Path) -> (f64, Option<u64>, std::process::Output, f64) {
    let before = cpu_seconds().1;
    let (secs, rss, out) = measured_wall(cmd, dir);
    (secs, rss, out, cpu_seconds().1 - before)
}

fn measured_wall(mut cmd: Command, dir: &Path) -> (f64, Option<u64>, std::process::Output) {
    let time_out = dir.join("time.txt");
    let gnu_time = Path::new("/usr/bin/time").exists();
    let mut c = if gnu_time {
        let mut c = Command::new("/usr/bin/time");
        c.arg("-f").arg("%M").arg("-o").arg(&time_out);
        c.arg(cmd.get_program()).args(cmd.get_args());
        for (k, v) in cmd.get_envs() {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        c
    } else {
        std::mem::replace(&mut cmd, Command::new("true"))
    };
    let started = Instant::now();
    let out = c.output().expect("run");
    let secs = started.elapsed().as_secs_f64();
    let rss = std::fs::read_to_string(&time_out)
        .ok()
        .and_then(|t| t.lines().last().and_then(|l| l.trim().parse().ok()));
    (secs, rss, out)
}

/// Bytes of the files under `p`: (own, hard-linked). A hard-linked file (a local mirror's
/// pack linked into a clone) shares its bytes with the mirror: none of them were copied.
fn dir_bytes(p: &Path) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    let Ok(rd) = std::fs::read_dir(p) else {
        return (0, 0);
    };
    rd.flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) if m.nlink() > 1 => (0, m.len()),
            Ok(m) => (m.len(), 0),
            Err(_) => (0, 0),
        })
        .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
}

/// The floor: every archive gunzipped and hashed (SHA-256 of the archive, git blob id of every
/// file), every distinct tree listed once, on all cores. Wall and CPU seconds, and the CPU
/// seconds of the archives alone.
fn floor(world: &World) -> (f64, f64, f64) {
    let (self0, children0) = cpu_seconds();
    let started = Instant::now();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let chunk = world.packages.len().div_ceil(threads);
    std::thread::scope(|s| {
        for part in world.packages.chunks(chunk.max(1)) {
            s.spawn(move || {
                for p in part {
                    let _ = sha2::Sha256::digest(&p.crate_bytes);
                    let gz = flate2::read::GzDecoder::new(p.crate_bytes.as_slice());
                    let mut tar = tar::Archive::new(gz);
                    for e in tar.entries().unwrap() {
                        let mut e = e.unwrap();
                        let mut data = Vec::new();
                        e.read_to_end(&mut data).unwrap();
                        let mut h = sha1::Sha1::new();
                        h.update(format!("blob {}\0", data.len()).as_bytes());
                        h.update(&data);
                        let _ = h.finalize();
                    }
                }
            });
        }
    });
    let (self_a, children_a) = cpu_seconds();
    let archives_cpu = self_a - self0 + children_a - children0;
    let mut trees: Vec<(&str, &str)> = world
        .packages
        .iter()
        .map(|p| (p.repo.as_str(), p.commit.as_str()))
        .collect();
    trees.sort();
    trees.dedup();
    let chunk = trees.len().div_ceil(threads);
    std::thread::scope(|s| {
        for part in trees.chunks(chunk.max(1)) {
            s.spawn(move || {
                for (repo, commit) in part {
                    let ok = Command::new("git")
                        .arg("--git-dir")
                        .arg(world.git_root.join(repo))
                        .args(["ls-tree", "-r", "-t", commit])
                        .output()
                        .unwrap()
                        .status
                        .success();
                    assert!(ok);
                }
            });
        }
    });
    let (self1, children1) = cpu_seconds();
    (
        started.elapsed().as_secs_f64(),
        self1 - self0 + children1 - children0,
        archives_cpu,
    )
}

/// Whether two reports hold the same results (verdicts, findings, sources, excused files),
/// timings aside.
fn same_results(a: &Path, b: &Path) -> bool {
    fn results(p: &Path) -> Vec<serde_json::Value> {
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(p).unwrap_or_default()).unwrap_or_default();
        let mut r: Vec<serde_json::Value> = v["results"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|mut x| {
                if let Some(o) = x.as_object_mut() {
                    o.remove("duration_ms");
                }
                x
            })
            .collect();
        r.sort_by_key(|x| x["package"].to_string());
        r
    }
    let (ra, rb) = (results(a), results(b));
    !ra.is_empty() && ra == rb
}

fn main() {
    let a = args();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let t = Instant::now();
    let tamper = a.tamper;
    let world = World::build(root, &repos(a.packages), &|name, version| {
        tamper && version == "1.0.3" && (name == "mono-1" || name == "single-1")
    });
    let world_secs = t.elapsed().as_secs_f64();
    let n = world.packages.len();
    let server = TestServer::serve_files(|port| world.registry_files(port), a.keep_alive);
    let list = root.join("specs.txt");
    let specs: Vec<String> = world.packages.iter().map(|p| p.spec()).collect();
    std::fs::write(&list, specs.join("\n")).unwrap();
    eprintln!(
        "world: {n} packages in {world_secs:.1}s under {}",
        root.display()
    );

    let db = root.join("results.db");
    let cache = root.join("cache");
    if a.cached_artifacts > 0 {
        let t = Instant::now();
        for dir in [cache.clone(), root.join("cache-vs")] {
            fill_cache(&dir, a.cached_artifacts);
        }
        eprintln!(
            "cache: {} artifacts kept before the first run, in {:.1}s",
            a.cached_artifacts,
            t.elapsed().as_secs_f64()
        );
    }
    let run_of = |bin: &Path, cache: &Path, db: &Path, report: &Path| {
        let mut c = Command::new(bin);
        c.args(["verify", "--quiet", "--format", "json", "--registry"])
            .arg(format!("crates={}", bulk_support::index_url(&server)))
            .arg("--git-rewrite")
            .arg(world.rewrite_arg())
            .arg("--cache-dir")
            .arg(cache)
            .arg("--db")
            .arg(db)
            .arg("--jobs")
            .arg(a.jobs.to_string())
            .arg("--list")
            .arg(&list)
            .arg("--output")
            .arg(report);
        c
    };
    let this = Path::new(env!("CARGO_BIN_EXE_provero"));
    let provero = || run_of(this, &cache, &db, &root.join("report.json"));
    let first_cmd = match &a.perf {
        Some(file) => {
            let p = provero();
            let mut c = Command::new("perf");
            c.args(["record", "-F", "499", "-g", "-o"])
                .arg(file)
                .arg("--")
                .arg(p.get_program())
                .args(p.get_args());
            c
        }
        None => provero(),
    };
    let (first, rss, out, first_cpu) = measured(first_cmd, root);
    let first_requests = server.requests();
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("report.json")).unwrap_or_default())
            .unwrap_or_else(|_| panic!("no report: {}", String::from_utf8_lossy(&out.stderr)));
    let verified = report["summary"]["verified"].as_u64().unwrap_or(0);
    let (git_bytes, git_linked) = dir_bytes(&cache.join("git"));
    let source_bytes = {
        let (own, linked) = dir_bytes(&world.git_root);
        own + linked
    };
    let (resumed, resumed_rss, _, resumed_cpu) = measured(provero(), root);
    let resumed_requests: Vec<String> = server.requests()[first_requests.len()..]
        .iter()
        .map(|r| r.path.clone())
        .collect();
    let vs = a.vs.as_ref().map(|bin| {
        let report = root.join("report-vs.json");
        let cmd = run_of(bin, &root.join("cache-vs"), &root.join("vs.db"), &report);
        let before = server.requests().len();
        let (secs, rss, _, cpu) = measured(cmd, root);
        let requests = server.requests().len() - before;
        let same = same_results(&root.join("report.json"), &report);
        (bin, secs, rss, cpu, requests, same)
    });
    let (floor_secs, floor_cpu, floor_archives_cpu) = floor(&world);
    let baseline = a.baseline.then(|| {
        let mut c = Command::new("python3");
        c.arg(concat!(env!("CARGO_MANIFEST_DIR"), "/benches/baseline.py"))
            .arg(bulk_support::index_url(&server))
            .arg(&list)
            .arg(a.jobs.to_string())
            .arg(bulk_support::FORGE)
            .arg(format!("file://{}/", world.git_root.display()));
        let (secs, _, out, cpu) = measured(c, root);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
            panic!("baseline failed: {}", String::from_utf8_lossy(&out.stderr))
        });
        (secs, v["verified"].as_u64().unwrap_or(0), cpu)
    });
    if let Some(dir) = &a.samples {
        std::fs::create_dir_all(dir).unwrap();
        for (fmt, file) in [
            ("json", "example-report.json"),
            ("markdown", "example-report.md"),
        ] {
            let out = Command::new(env!("CARGO_BIN_EXE_provero"))
                .args(["report", "--slowest", "5", "--format", fmt, "--db"])
                .arg(&db)
                .arg("--output")
                .arg(dir.join(file))
                .output()
                .unwrap();
            assert!(out.status.code().is_some());
        }
    }

    let rate = n as f64 / first;
    let per = |cpu: f64| cpu * 1000.0 / n as f64;
    let metadata = |paths: &[String]| {
        let meta: Vec<&String> = paths.iter().filter(|p| p.starts_with("/index/")).collect();
        let mut distinct = meta.clone();
        distinct.sort();
        distinct.dedup();
        (meta.len(), distinct.len())
    };
    let first_paths: Vec<String> = first_requests.iter().map(|r| r.path.clone()).collect();
    let (meta_first, meta_first_distinct) = metadata(&first_paths);
    let (meta_resumed, meta_resumed_distinct) = metadata(&resumed_requests);
    println!(
        "server                   {}",
        if a.keep_alive {
            "keep-alive"
        } else {
            "no keep-alive (a static file server)"
        }
    );
    println!("packages                 {n} ({verified} verified)");
    println!("provero first run        {first:.2} s  ({rate:.0} packages/s)");
    println!(
        "provero resumed run      {resumed:.2} s  ({:.1}x faster)",
        first / resumed
    );
    if let Some(kb) = rss {
        println!(
            "peak RSS                 {:.0} MB (resumed: {:.0} MB)",
            kb as f64 / 1024.0,
            resumed_rss.unwrap_or(0) as f64 / 1024.0
        );
    }
    println!(
        "git bytes fetched        {:.1} MB, {:.1} MB more hard-linked from the local mirrors (the source repositories with blobs: {:.1} MB)",
        git_bytes as f64 / 1e6,
        git_linked as f64 / 1e6,
        source_bytes as f64 / 1e6
    );
    println!(
        "requests first run       {:.2} per package ({} in all; metadata {meta_first} for {meta_first_distinct} distinct URLs)",
        first_paths.len() as f64 / n as f64,
        first_paths.len()
    );
    println!(
        "requests resumed run     {:.2} per package (metadata {meta_resumed} for {meta_resumed_distinct} distinct URLs; {} downloads)",
        resumed_requests.len() as f64 / n as f64,
        resumed_requests.iter().filter(|p| p.starts_with("/dl/")).count()
    );
    println!(
        "CPU (user+sys, children) first run {first_cpu:.2} s = {:.2} ms/package; resumed {resumed_cpu:.2} s = {:.2} ms/package",
        per(first_cpu),
        per(resumed_cpu)
    );
    println!(
        "floor                    {floor_secs:.2} s  (provero is {:.1}x the floor); CPU {floor_cpu:.2} s = {:.2} ms/package (provero {:.1}x)",
        first / floor_secs,
        per(floor_cpu),
        first_cpu / floor_cpu
    );
    println!(
        "floor CPU by part        archives (gunzip + hash) {:.2} ms/package; trees (one `git ls-tree` per commit) {:.2} ms/package",
        per(floor_archives_cpu),
        per(floor_cpu - floor_archives_cpu)
    );
    if let Some((bin, secs, rss, cpu, requests, same)) = vs {
        println!(
            "vs {}: first run {secs:.2} s, peak RSS {:.0} MB, {requests} requests; CPU {cpu:.2} s = {:.2} ms/package ({:.1}x the floor; this build / that one: {:.2}); results {}",
            bin.display(),
            rss.unwrap_or(0) as f64 / 1024.0,
            per(cpu),
            cpu / floor_cpu,
            first_cpu / cpu,
            if same { "identical" } else { "DIFFER" }
        );
    }
    if let Some((secs, ok, cpu)) = baseline {
        println!(
            "baseline (baseline.py)   {secs:.2} s  ({ok} verified; provero is {:.1}x faster); CPU {cpu:.2} s = {:.2} ms/package",
            secs / first,
            per(cpu)
        );
    }
}

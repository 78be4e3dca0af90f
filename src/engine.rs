//! The run: inputs in; the work list expanded (`@*`), de-duplicated and sharded; a bounded
//! number of packages in flight; each result streamed to the results store and the screen as
//! it finishes. A package already decided for the same artifact digest is not verified again
//! (its stored result is reported instead), which is what makes a killed run resumable.
//!
//! Bounds: `--jobs` packages in flight; beneath that the [`Verifier`] bounds git operations and
//! CPU-bound comparison with their own semaphores and [`Http`] bounds connections per host.
//! Memory holds one archive per package in flight, and the finished results (findings only).

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;

use crate::allow::AllowList;
use crate::ecosystem::Ecosystem;
use crate::finding::{Code, Finding, Verdict};
use crate::http::{Http, HttpConfig};
pub use crate::input::{collect_inputs, parse_list, Input};
use crate::profile::Profiles;
use crate::repo_url::Rewrites;
use crate::report::{human_result, InputError, PackageResult, Report, Style};
use crate::shard::Shard;
use crate::spec::VersionReq;
use crate::store::{Store, Writer};
use crate::verify::{Options, Verifier};

pub struct Run {
    pub cache_dir: PathBuf,
    pub profiles: Profiles,
    pub rewrites: Rewrites,
    pub jobs: usize,
    pub progress: bool,
    pub stream_human: bool,
    pub style: Style,
    /// The results store; `None` runs without one (nothing skipped, nothing recorded).
    pub db: Option<PathBuf>,
    /// Verify again even what the store already decided.
    pub recheck: bool,
    /// Only this part of the work list.
    pub shard: Option<Shard>,
    /// Accepted findings (`--allow`), applied to every result after it is recorded: the store
    /// keeps what was found, the report says what was accepted.
    pub allow: AllowList,
}

/// One package version to check (`version: None` = the newest).
#[derive(Debug, Clone)]
pub struct Work {
    pub ecosystem: Ecosystem,
    pub name: String,
    pub version: Option<String>,
    /// Digests a lockfile pins (empty: none).
    pub hashes: Vec<String>,
    /// The lockfile line it was read from (a run setting: not taken from a stored result).
    pub origin: Option<crate::report::LockfileLine>,
}

impl Work {
    /// `ecosystem:name@version`: the identity used for de-duplication and sharding.
    pub fn key(&self) -> String {
        match &self.version {
            Some(v) => format!("{}:{}@{v}", self.ecosystem, self.name),
            None => format!("{}:{}", self.ecosystem, self.name),
        }
    }
}

/// How a package ended in this run.
enum Done {
    /// Verified now (or failed with an error).
    Decided(PackageResult),
    /// The store already had a verdict for this artifact digest.
    Stored(PackageResult),
}

pub async fn run(run: Run, inputs: Vec<Input>) -> anyhow::Result<Report> {
    let http = Http::new(HttpConfig::default())?;
    let jobs = run.jobs.max(1);
    let verifier = Arc::new(Verifier::new(
        http,
        Options {
            cache_dir: run.cache_dir.clone(),
            profiles: run.profiles.clone(),
            rewrites: run.rewrites.clone(),
            git_jobs: jobs.clamp(1, 8),
            cpu_jobs: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
        },
    ));
    let mut errors = Vec::new();
    let mut skipped_inputs = Vec::new();
    let mut specs = Vec::new();
    for i in inputs {
        match i {
            Input::Spec(s) => specs.push(s),
            Input::Bad(e) => errors.push(e),
            Input::Skipped(s) => skipped_inputs.push(s),
        }
    }

    // Expand `@*` into every version (index requests in parallel, order kept).
    let expanded: Vec<Result<Vec<Work>, InputError>> = futures::stream::iter(specs)
        .map(|s| {
            let v = verifier.clone();
            async move {
                let one = |version| {
                    vec![Work {
                        ecosystem: s.ecosystem,
                        name: s.name.clone(),
                        version,
                        hashes: s.hashes.clone(),
                        origin: s.origin.clone(),
                    }]
                };
                match &s.version {
                    VersionReq::Latest => Ok(one(None)),
                    VersionReq::Exact(ver) => Ok(one(Some(ver.clone()))),
                    VersionReq::All => match v.versions(s.ecosystem, &s.name).await {
                        Ok(vs) => Ok(vs
                            .into_iter()
                            .map(|ver| Work {
                                ecosystem: s.ecosystem,
                                name: s.name.clone(),
                                version: Some(ver),
                                hashes: Vec::new(),
                                origin: None,
                            })
                            .collect()),
                        Err(e) => Err(InputError {
                            input: s.to_string(),
                            message: e.to_string(),
                        }),
                    },
                }
            }
        })
        .buffered(jobs)
        .collect()
        .await;
    let mut seen = HashSet::new();
    let mut work = Vec::new();
    for e in expanded {
        match e {
            Ok(ws) => work.extend(
                ws.into_iter()
                    .filter(|w| seen.insert(w.key()))
                    .filter(|w| run.shard.map_or(true, |s| s.owns(&w.key()))),
            ),
            Err(e) => errors.push(e),
        }
    }

    let (store, writer) = match &run.db {
        Some(path) => (
            Some(Mutex::new(Store::open(path)?)),
            Some(Writer::spawn(path)?),
        ),
        None => (None, None),
    };

    let started = Instant::now();
    let total = work.len();
    let progress = Progress::new(run.progress && total >= 1, total);
    let mut results: Vec<(usize, PackageResult)> = Vec::with_capacity(total);
    let mut stored = 0;
    let today = crate::allow::today();
    let mut allow_used: Vec<usize> = Vec::new();
    {
        let store = store.as_ref();
        let progress = &progress;
        let verifier = &verifier;
        let mut stream = futures::stream::iter(work.into_iter().enumerate())
            .map(|(i, w)| async move {
                let _in_flight = progress.start(i, w.key());
                let mut done = check(verifier, store, run.recheck, &w).await;
                match &mut done {
                    Done::Decided(r) | Done::Stored(r) => r.lockfile = w.origin.clone(),
                }
                (i, done)
            })
            .buffer_unordered(jobs);
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            let next = tokio::select! {
                n = stream.next() => n,
                _ = tick.tick() => {
                    progress.refresh();
                    continue;
                }
            };
            let Some((i, done)) = next else { break };
            let mut r = match done {
                Done::Decided(r) => {
                    if let Some(w) = &writer {
                        w.send(r.clone());
                    }
                    r
                }
                Done::Stored(r) => {
                    stored += 1;
                    r
                }
            };
            for i in run.allow.apply(&mut r, today) {
                if !allow_used.contains(&i) {
                    allow_used.push(i);
                }
            }
            progress.finished(r.verdict, stored);
            if run.stream_human {
                progress.print(&human_result(&r, run.style));
            }
            results.push((i, r));
        }
    }
    progress.finish();
    if let Some(w) = writer {
        if let Err(e) = w.finish() {
            // The verdicts are still reported; the run says the store is incomplete.
            errors.push(InputError {
                input: run
                    .db
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
                message: format!("results could not all be recorded: {e}"),
            });
        }
    }
    let elapsed = started.elapsed();
    tracing::info!(
        "{total} packages in {elapsed:.1?} ({:.1}/s), {stored} already decided",
        total as f64 / elapsed.as_secs_f64().max(1e-3)
    );
    results.sort_by_key(|(i, _)| *i);
    let mut report = Report::new(results.into_iter().map(|(_, r)| r).collect(), errors)
        .with_skipped_inputs(skipped_inputs);
    report.summary.skipped = stored;
    report.warnings = run.allow.warnings(&allow_used, today);
    Ok(report)
}

/// One package: resolve (cheap: the registry's index), reuse a stored verdict for the same
/// digest, else verify.
async fn check(verifier: &Verifier, store: Option<&Mutex<Store>>, recheck: bool, w: &Work) -> Done {
    let started = Instant::now();
    let mut result = PackageResult::pending(w.ecosystem, &w.name, w.version.as_deref());
    let resolved = match verifier
        .resolve(w.ecosystem, &w.name, w.version.as_deref())
        .await
    {
        Ok(r) => r,
        Err(e) => {
            result
                .findings
                .push(Finding::new(Code::ArtifactUnavailable, e.to_string()));
            result.error = Some(e.to_string());
            result.verdict = Verdict::judge(&result.findings);
            result.duration_ms = started.elapsed().as_millis() as u64;
            return Done::Decided(result);
        }
    };
    // A lockfile that pins digests: the registry's must be one of them, or what gets installed
    // is not what the project locked.
    let pinned_ok = match (&resolved.sha256, w.hashes.is_empty()) {
        (_, true) => true,
        (Some(d), false) => w.hashes.iter().any(|h| h.eq_ignore_ascii_case(d)),
        (None, false) => false,
    };
    if !pinned_ok {
        result.findings.push(Finding::new(
            Code::ChecksumMismatch,
            format!(
                "the registry's SHA-256 for {} ({}) is not among the {} digest(s) the lockfile pins",
                resolved.filename,
                resolved.sha256.as_deref().unwrap_or("none published"),
                w.hashes.len()
            ),
        ));
    }
    if let (Some(store), Some(digest), false, true) = (store, &resolved.sha256, recheck, pinned_ok)
    {
        let found = store.lock().expect("store").lookup(
            w.ecosystem,
            &resolved.name,
            &resolved.version,
            digest,
        );
        match found {
            Ok(Some(r)) => return Done::Stored(r),
            Ok(None) => {}
            Err(e) => tracing::warn!("{e}; verifying {} again", w.key()),
        }
    }
    Done::Decided(verifier.verify_resolved(resolved, result, started).await)
}

/// The progress bar (a tty only): done/total, verdict counts, rate, ETA and what is slow now.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    in_flight: Mutex<HashMap<usize, (String, Instant)>>,
    counts: Mutex<[usize; 4]>,
}

/// Removes a package from the in-flight list however its future ends.
struct InFlight<'a> {
    progress: &'a Progress,
    index: usize,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.progress
            .in_flight
            .lock()
            .expect("in flight")
            .remove(&self.index);
    }
}

/// A package in flight this long is named in the progress line.
const SLOW: Duration = Duration::from_secs(10);

impl Progress {
    fn new(show: bool, total: usize) -> Progress {
        let bar = show.then(|| {
            let b = indicatif::ProgressBar::new(total as u64);
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "{pos}/{len} [{bar:25}] {per_sec} eta {eta} {wide_msg}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            b
        });
        Progress {
            bar,
            in_flight: Mutex::default(),
            counts: Mutex::default(),
        }
    }

    fn start(&self, index: usize, key: String) -> InFlight<'_> {
        if self.bar.is_some() {
            self.in_flight
                .lock()
                .expect("in flight")
                .insert(index, (key, Instant::now()));
        }
        InFlight {
            progress: self,
            index,
        }
    }

    fn finished(&self, verdict: Verdict, stored: usize) {
        {
            let mut c = self.counts.lock().expect("counts");
            c[verdict as usize] += 1;
            c[3] = stored;
        }
        if let Some(b) = &self.bar {
            b.inc(1);
        }
        self.refresh();
    }

    fn refresh(&self) {
        let Some(b) = &self.bar else { return };
        let c = *self.counts.lock().expect("counts");
        let mut msg = format!(
            "{} verified, {} mismatch, {} unverifiable",
            c[Verdict::Verified as usize],
            c[Verdict::Mismatch as usize],
            c[Verdict::Unverifiable as usize]
        );
        if c[3] > 0 {
            msg.push_str(&format!(" ({} already decided)", c[3]));
        }
        let mut slow: Vec<(String, Duration)> = self
            .in_flight
            .lock()
            .expect("in flight")
            .values()
            .map(|(k, t)| (k.clone(), t.elapsed()))
            .filter(|(_, d)| *d >= SLOW)
            .collect();
        slow.sort_by_key(|s| std::cmp::Reverse(s.1));
        if !slow.is_empty() {
            let names: Vec<String> = slow
                .iter()
                .take(3)
                .map(|(k, d)| format!("{k} {}s", d.as_secs()))
                .collect();
            msg.push_str(&format!(" | slow: {}", names.join(", ")));
        }
        b.set_message(msg);
    }

    /// Print above the bar (or plainly without one).
    fn print(&self, text: &str) {
        match &self.bar {
            Some(b) => b.suspend(|| print!("{text}")),
            None => print!("{text}"),
        }
    }

    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

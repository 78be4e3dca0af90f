//! The run: inputs in; the work list expanded (`@*`), de-duplicated and sharded; a bounded
//! number of packages in flight; each result streamed to the results store and the screen as
//! it finishes. A package already decided for the same artifact digest under the same settings
//! is not verified again (its stored result is reported instead), which is what makes a killed
//! run resumable. What depends on the run rather than the artifact is added to each result
//! here and never stored: a lockfile's pinned-digest check, and the `regression` warning.
//!
//! Bounds: `--jobs` packages in flight; beneath that the [`Verifier`] bounds git operations and
//! CPU-bound comparison with their own semaphores and [`Http`] bounds connections per host.
//! Memory holds one archive per package in flight; finished results go to the spill
//! (`src/spill.rs`), 8 bytes per package kept here.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;

use crate::allow::AllowList;
use crate::ecosystem::Ecosystem;
use crate::finding::{Code, Finding, Verdict};
use crate::http::{Http, HttpConfig, Timeouts};
use crate::in_flight::{finish_group, group_of, Groups};
pub use crate::input::{collect_inputs, parse_list, Input, Inputs};
use crate::profile::Profiles;
use crate::repo_url::Rewrites;
use crate::report::{
    human_result, InputError, PackageResult, Report, SkippedInput, Style, Summary,
};
use crate::shard::Shard;
use crate::spec::{Spec, VersionReq};
use crate::store::{Settings, Store, Writer};
use crate::verify::{Options, Verifier};
use crate::worklist::WorkList;

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
    /// `@*` keeps only this many of the newest versions of each package.
    pub newest: Option<usize>,
    /// `@*` keeps only versions published on or after this day (`YYYY-MM-DD`, UTC).
    pub since: Option<String>,
    /// No notes on stderr (how many versions `@*` expanded to).
    pub quiet: bool,
    /// Where each registry is listed for name patterns (`--listing`, `src/listing/`).
    pub listings: BTreeMap<Ecosystem, String>,
    /// Print the work list (after expansion and `--shard`) instead of verifying it.
    pub list_only: bool,
    /// `--mode` (`None`: each registry profile's default, else diff).
    pub mode: Option<crate::rebuild::Mode>,
    /// Concurrent rebuilds, beneath `jobs`.
    pub build_jobs: usize,
    /// Connect, idle-read and per-package time limits.
    pub timeouts: Timeouts,
    /// Accepted findings (`--allow`), applied to every result after it is recorded: the store
    /// keeps what was found, the report says what was accepted.
    pub allow: AllowList,
    /// What signed attestations are checked against (`--trust-root`, else public Sigstore).
    pub trust: crate::attest::gather::Trust,
}

/// One package version to check (`version: None` = the newest).
#[derive(Debug, Clone)]
pub struct Work {
    pub ecosystem: Ecosystem,
    pub name: String,
    pub version: Option<String>,
    /// Digests pinned for this version, one set per lockfile that names it: the registry's
    /// digest must be in every set (empty: nothing pinned).
    pub pins: Vec<Vec<String>>,
    /// The lockfile line it was read from (a run setting: not taken from a stored result).
    pub origin: Option<crate::report::LockfileLine>,
}

impl Work {
    /// `ecosystem:name@version` with the name and version spelled canonically (PEP 503 and
    /// PEP 440 for PyPI): the identity used for de-duplication and sharding.
    pub fn key(&self) -> String {
        let h = self.ecosystem.handler();
        let version = self.version.as_deref().map(|v| h.canonical_version(v));
        let mut key = String::new();
        crate::worklist::write_key(
            &mut key,
            self.ecosystem,
            &h.canonical_name(&self.name),
            version.as_deref(),
        );
        key
    }
}

/// The work list without duplicates (by [`Work::key`], first spelling kept), keeping every
/// lockfile's pins: a package named both as a spec and in a lockfile keeps the lockfile's
/// digests, and two lockfiles pinning it are both checked. (The run builds a [`WorkList`]
/// directly; this is the same de-duplication for a list of [`Work`].)
pub fn dedup(work: impl IntoIterator<Item = Work>) -> Vec<Work> {
    let mut list = WorkList::new(None);
    for w in work {
        list.push_work(w);
    }
    // In memory: reading it cannot fail.
    list.works().filter_map(Result::ok).collect()
}

/// The `checksum-mismatch` a lockfile's pins raise for a registry digest, if any: decided on
/// every run (the same artifact is fine in a run without that lockfile).
fn pin_finding(filename: &str, digest: Option<&str>, pins: &[Vec<String>]) -> Option<Finding> {
    let bad = pins
        .iter()
        .filter(|set| !set.is_empty())
        .find(|set| !digest.is_some_and(|d| set.iter().any(|h| h.eq_ignore_ascii_case(d))))?;
    Some(Finding::new(
        Code::ChecksumMismatch,
        format!(
            "the registry's SHA-256 for {filename} ({}) is not among the {} digest(s) the lockfile pins",
            digest.unwrap_or("none published"),
            bad.len()
        ),
    ))
}

/// How a package ended in this run.
enum Done {
    /// Verified now (or failed with an error).
    Decided(PackageResult),
    /// The store already had a verdict for this artifact digest.
    Stored(PackageResult),
}

/// What one input adds to the work list, in input order.
enum Taken {
    Works(Vec<Work>),
    /// `@*` could not be expanded.
    Unexpanded(InputError),
    Bad(InputError),
    Skipped(SkippedInput),
    /// A name pattern: expanded from the registry's listing after every other input.
    Pattern(Spec),
    /// A `--list` file could not be read again: the run stops (its list is not what was given).
    Unreadable(anyhow::Error),
}

pub async fn run(run: Run, inputs: Inputs) -> anyhow::Result<Report> {
    let http = Http::new(HttpConfig {
        connect_timeout: run.timeouts.connect,
        read_timeout: run.timeouts.read,
        rates: run.profiles.rates(),
        ..HttpConfig::default()
    })?;
    // What killed runs left behind (half-made clones) goes before any new work; the cache is
    // marked in use for the whole run, so `provero cache prune` leaves it alone meanwhile.
    let _in_use = crate::prune::hold_in_use(&run.cache_dir);
    crate::git::sweep_stale(&run.cache_dir);
    let jobs = run.jobs.max(1);
    // Every registry the work needs is checked once, before any package (and the sparse
    // index's config.json is read there, once per run).
    let mut profiles = run.profiles.clone();
    crate::preflight::check_registries(&http, &mut profiles, inputs.probes()).await?;
    let verifier = Arc::new(Verifier::new(
        http,
        Options {
            cache_dir: run.cache_dir.clone(),
            profiles,
            rewrites: run.rewrites.clone(),
            git_jobs: jobs.clamp(1, 8),
            cpu_jobs: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            mode: run.mode,
            build_jobs: run.build_jobs.max(1),
            package_timeout: run.timeouts.package,
            trust: run.trust.clone(),
        },
    ));

    // Expand `@*` into every version (index requests in parallel, order kept).
    let limits = crate::expand::Limits {
        newest: run.newest,
        since: run.since.clone(),
        quiet: run.quiet,
        listings: run.listings.clone(),
        shard: run.shard,
        jobs,
    };
    let limits = &limits;
    // The bad inputs, in input order; then what could not be expanded.
    let mut errors = Vec::new();
    let mut unexpanded = Vec::new();
    let mut skipped_inputs = Vec::new();
    // Name patterns (`crates:*@*`) are expanded from the registry's listing, below.
    let mut listed = Vec::new();
    // The work list: compact, de-duplicated and sharded as each package is added, straight
    // from the inputs as they are read (a `--list` line is never held as a `Spec`).
    let mut work = WorkList::new(run.shard)
        .moving_to_disk(&run.cache_dir, crate::cache_budget::work_entries());
    let mut expanded = futures::stream::iter(inputs.iter())
        .map(|input| {
            let v = verifier.clone();
            async move {
                let s = match input {
                    Ok(Input::Spec(s)) if crate::listing::is_listing(&s) => {
                        return Taken::Pattern(s)
                    }
                    Ok(Input::Spec(s)) => s,
                    Ok(Input::Bad(e)) => return Taken::Bad(e),
                    Ok(Input::Skipped(s)) => return Taken::Skipped(s),
                    Err(e) => return Taken::Unreadable(e),
                };
                let one = |version| {
                    Taken::Works(vec![Work {
                        ecosystem: s.ecosystem,
                        name: s.name.clone(),
                        version,
                        pins: vec![s.hashes.clone()]
                            .into_iter()
                            .filter(|h| !h.is_empty())
                            .collect(),
                        origin: s.origin.clone(),
                    }])
                };
                match &s.version {
                    VersionReq::Latest => one(None),
                    VersionReq::Exact(ver) => one(Some(ver.clone())),
                    VersionReq::All => match limits.versions(&v, s.ecosystem, &s.name).await {
                        Ok(vs) => Taken::Works(
                            limits
                                .apply(&s.to_string(), vs)
                                .into_iter()
                                .map(|ver| Work {
                                    ecosystem: s.ecosystem,
                                    name: s.name.clone(),
                                    version: Some(ver),
                                    pins: Vec::new(),
                                    origin: None,
                                })
                                .collect(),
                        ),
                        Err(e) => Taken::Unexpanded(InputError {
                            input: s.to_string(),
                            message: e.to_string(),
                        }),
                    },
                }
            }
        })
        .buffered(jobs);
    while let Some(taken) = expanded.next().await {
        match taken {
            Taken::Works(ws) => ws.into_iter().for_each(|w| {
                work.push_work(w);
            }),
            Taken::Unexpanded(e) => unexpanded.push(e),
            Taken::Bad(e) => errors.push(e),
            Taken::Skipped(s) => skipped_inputs.push(s),
            Taken::Pattern(s) => listed.push(s),
            Taken::Unreadable(e) => return Err(e),
        }
    }
    drop(expanded);
    drop(inputs);
    errors.append(&mut unexpanded);
    for s in &listed {
        errors.extend(crate::listing::expand(&verifier, s, limits, &mut work).await);
    }
    work.healthy()?;
    if run.list_only {
        crate::listing::print_work(&work)?;
        return Ok(Report::new(Vec::new(), errors).with_skipped_inputs(skipped_inputs));
    }
    // What a stored verdict must have been decided under to be reused, per ecosystem.
    let fingerprints: HashMap<Ecosystem, String> = Ecosystem::ALL
        .iter()
        .map(|&eco| {
            let s = Settings {
                mode: verifier.mode(eco).as_str(),
                profile: run.profiles.get(eco),
                rewrites: &run.rewrites,
                trust_root: &run.trust.id,
            };
            (eco, s.fingerprint())
        })
        .collect();

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
    // Finished results go to the spill, not to memory: what is held per package is its
    // offset there (and, while its package's versions are in flight, what `regression` needs).
    let mut spill = crate::spill::SpillWriter::create(&run.cache_dir)?;
    let mut at = crate::spill::Places::new(total, work.on_disk(), &run.cache_dir)?;
    let mut summary = Summary::default();
    let mut spill_error = None;
    let mut stored = 0;
    // This run's results by package, for `regression` warnings (packages in flight only).
    let mut seen = crate::regression::History::new();
    let groups = RefCell::new(Groups::default());
    let unread = RefCell::new(None);
    let today = crate::allow::today();
    let mut allow_used: Vec<usize> = Vec::new();
    {
        let store = store.as_ref();
        let progress = &progress;
        let verifier = &verifier;
        let fingerprints = &fingerprints;
        let groups = &groups;
        let work =
            in_groups(work, &unread).inspect(|(_, w)| groups.borrow_mut().started(group_of(w)));
        let mut stream = futures::stream::iter(work)
            .map(|(i, w)| async move {
                let _in_flight = progress.start(i, w.key());
                let fp = fingerprints[&w.ecosystem].as_str();
                let mut done = check(verifier, store, run.recheck, fp, &w).await;
                match &mut done.0 {
                    Done::Decided(r) | Done::Stored(r) => r.lockfile = w.origin.clone(),
                }
                (i, group_of(&w), done)
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
            let Some((i, group, (done, pin))) = next else {
                break;
            };
            let mut r = match done {
                Done::Decided(r) => {
                    if let Some(w) = &writer {
                        w.send(r.clone(), &fingerprints[&r.package.ecosystem]);
                    }
                    r
                }
                Done::Stored(r) => {
                    stored += 1;
                    r
                }
            };
            // History is the artifact's verdict, before this run's lockfile pins.
            let past = crate::regression::Past::of(&r);
            if let Some(f) = pin {
                r.findings.insert(0, f);
                r.verdict = Verdict::judge(&r.findings);
            }
            note_regression(&mut r, store, &seen);
            let key = (r.package.ecosystem, r.package.name.clone());
            seen.entry(key.clone()).or_default().push(past);
            for i in run.allow.apply(&mut r, today) {
                if !allow_used.contains(&i) {
                    allow_used.push(i);
                }
            }
            progress.finished(r.verdict, stored);
            if run.stream_human {
                progress.print(&human_result(&r, run.style));
            }
            // Only a candidate can change when later versions of its package finish; the
            // others are final now.
            let candidate = crate::regression::candidate(&r);
            if !candidate {
                summary.add(&r);
            }
            let written = spill.append(&r).and_then(|o| at.put(i, o)).and_then(|()| {
                let done = {
                    let mut g = groups.borrow_mut();
                    g.finished(group, i, candidate, key);
                    g.take_done()
                };
                done.into_iter().try_for_each(|g| {
                    finish_group(g, &mut spill, &mut at, &mut summary, &mut seen, store)
                })
            });
            if let Err(e) = written {
                // What was decided is in the store; the report cannot be made.
                spill_error = Some(e);
                break;
            }
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
    let stopped = spill_error
        .map(anyhow::Error::from)
        .or_else(|| unread.into_inner());
    if let Some(e) = stopped {
        anyhow::bail!("{e}; the run stopped (what was decided is in the results store, and a new run resumes from there)");
    }
    // Versions decided later in this run than the one they precede count too: every package
    // still open is complete now.
    for g in groups.into_inner().drain() {
        finish_group(
            g,
            &mut spill,
            &mut at,
            &mut summary,
            &mut seen,
            store.as_ref(),
        )?;
    }
    let elapsed = started.elapsed();
    tracing::info!(
        "{total} packages in {elapsed:.1?} ({:.1}/s), {stored} already decided",
        total as f64 / elapsed.as_secs_f64().max(1e-3)
    );
    summary.errors += errors.len();
    let mut report =
        Report::spilled(spill.finish(at)?, errors, summary).with_skipped_inputs(skipped_inputs);
    report.summary.skipped = stored;
    report.warnings = run.allow.warnings(&allow_used, today);
    Ok(report)
}

/// The work with its place in the list, every version of a package together (in list order):
/// the packages that share a metadata URL (an index file, a Simple page) and usually a
/// repository are in flight at once or one after another, so the bounded caches serve all of
/// them before evicting. The report keeps the list's order. Each [`Work`] is made as the run
/// takes it ([`WorkList::into_groups`]); a list on disk that cannot be read ends the work
/// there, with the error in `unread`.
fn in_groups(
    work: WorkList,
    unread: &RefCell<Option<anyhow::Error>>,
) -> impl Iterator<Item = (usize, Work)> + '_ {
    work.into_groups()
        .map_while(|w| w.map_err(|e| *unread.borrow_mut() = Some(e)).ok())
}

/// Set the `regression` warning on `r` from the store's history of its package and `run`
/// (results of this run). Only a result that is not verified, or has no recorded commit, can
/// be one, so the store is asked only for those.
pub(crate) fn note_regression(
    r: &mut PackageResult,
    store: Option<&Mutex<Store>>,
    run: &crate::regression::History,
) {
    if !crate::regression::candidate(r) {
        return;
    }
    let stored = match store.map(|s| {
        s.lock()
            .expect("store")
            .history(r.package.ecosystem, &r.package.name)
    }) {
        Some(Ok(h)) => h,
        Some(Err(e)) => {
            tracing::warn!("{e}; no regression check for {}", r.package.name);
            Vec::new()
        }
        None => Vec::new(),
    };
    let stored: Vec<crate::regression::Past> =
        stored.iter().map(crate::regression::Past::of).collect();
    let this_run = run
        .get(&(r.package.ecosystem, r.package.name.clone()))
        .into_iter()
        .flatten();
    crate::regression::annotate(r, stored.iter().chain(this_run));
}

/// One package: resolve (cheap: the registry's index), reuse a stored verdict for the same
/// digest and settings, else verify. The lockfile pin check comes back apart: it belongs to
/// this run, not to what is stored.
async fn check(
    verifier: &Verifier,
    store: Option<&Mutex<Store>>,
    recheck: bool,
    fingerprint: &str,
    w: &Work,
) -> (Done, Option<Finding>) {
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
            return (Done::Decided(result), None);
        }
    };
    // A lockfile that pins digests: the registry's must be one of them, or what gets installed
    // is not what the project locked.
    let pin = pin_finding(&resolved.filename, resolved.sha256.as_deref(), &w.pins);
    if let (Some(store), Some(digest), false) = (store, &resolved.sha256, recheck) {
        // A rebuild verdict is a row apart from the diff verdict of the same artifact.
        let key = crate::store::mode_key(digest, verifier.mode(w.ecosystem));
        let found = store.lock().expect("store").lookup(
            w.ecosystem,
            &resolved.name,
            &resolved.version,
            &key,
            fingerprint,
        );
        match found {
            Ok(Some(r)) => return (Done::Stored(r), pin),
            Ok(None) => {}
            Err(e) => tracing::warn!("{e}; verifying {} again", w.key()),
        }
    }
    let done = Done::Decided(verifier.verify_resolved(resolved, result, started).await);
    (done, pin)
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
            Some(b) => b.suspend(|| crate::stdout::write(text)),
            None => crate::stdout::write(text),
        }
    }

    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn work(eco: Ecosystem, name: &str, version: Option<&str>, pins: &[&[&str]]) -> Work {
        Work {
            ecosystem: eco,
            name: name.into(),
            version: version.map(str::to_string),
            origin: None,
            pins: pins
                .iter()
                .map(|s| s.iter().map(|h| h.to_string()).collect())
                .collect(),
        }
    }

    #[test]
    fn pypi_spellings_of_one_release_are_one_package() {
        let all = [
            ("click", "8.1.7"),
            ("Click", "8.1.7"),
            ("click", "8.1.07"),
            ("CLICK", "v8.1.7"),
        ]
        .map(|(n, v)| work(Ecosystem::Pypi, n, Some(v), &[]));
        assert_eq!(dedup(all).len(), 1);
        let names = ["zope.interface", "Zope_Interface", "zope--interface"]
            .map(|n| work(Ecosystem::Pypi, n, Some("1.0"), &[]));
        let kept = dedup(names);
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].name, "zope.interface", "the first spelling is kept");
        // Crate names are not PEP 503: `serde_json` and `Serde_json` stay apart, and so do
        // different PyPI versions.
        let other = [
            work(Ecosystem::Crates, "serde_json", Some("1.0.0"), &[]),
            work(Ecosystem::Crates, "serde-json", Some("1.0.0"), &[]),
            work(Ecosystem::Pypi, "click", Some("8.1"), &[]),
            work(Ecosystem::Pypi, "click", Some("8.1.1"), &[]),
            work(Ecosystem::Pypi, "click", None, &[]),
        ];
        assert_eq!(dedup(other).len(), 5);
    }

    #[test]
    fn dedup_keeps_every_pin_and_each_set_is_checked() {
        let kept = dedup([
            work(Ecosystem::Crates, "a", Some("1.0.0"), &[]),
            work(Ecosystem::Crates, "a", Some("1.0.0"), &[&["aa"]]),
            work(Ecosystem::Crates, "a", Some("1.0.0"), &[&["bb", "cc"]]),
            work(Ecosystem::Crates, "a", Some("1.0.0"), &[&["aa"]]),
        ]);
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].pins.len(), 2);
        assert!(pin_finding("a.crate", Some("AA"), &kept[0].pins).is_some());
        assert!(pin_finding("a.crate", Some("aa"), &kept[0].pins[..1]).is_none());
        assert!(pin_finding("a.crate", None, &kept[0].pins[..1]).is_some());
        assert!(pin_finding("a.crate", None, &[]).is_none());
    }
}

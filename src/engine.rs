//! The run: inputs in, a bounded number of packages in flight, results out as they finish.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;

use crate::ecosystem::Ecosystem;
use crate::http::{Http, HttpConfig};
use crate::profile::Profiles;
use crate::repo_url::Rewrites;
use crate::report::{human_result, InputError, PackageResult, Report, Style};
use crate::spec::{Spec, VersionReq};
use crate::verify::{Options, Verifier};

pub struct Run {
    pub cache_dir: PathBuf,
    pub profiles: Profiles,
    pub rewrites: Rewrites,
    pub jobs: usize,
    pub progress: bool,
    pub stream_human: bool,
    pub style: Style,
}

/// One line of input: a spec, or what was wrong with it.
pub enum Input {
    Spec(Spec),
    Bad(InputError),
}

/// Specs from the command line, `-` (stdin) and `--list` files.
pub fn collect_inputs(specs: &[String], lists: &[PathBuf]) -> anyhow::Result<Vec<Input>> {
    let mut out = Vec::new();
    for s in specs {
        if s == "-" {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)?;
            out.extend(parse_list(&text, "<stdin>"));
        } else {
            out.push(match Spec::parse(s) {
                Ok(spec) => Input::Spec(spec),
                Err(message) => Input::Bad(InputError {
                    input: s.clone(),
                    message,
                }),
            });
        }
    }
    for l in lists {
        let text = std::fs::read_to_string(l)
            .map_err(|e| anyhow::anyhow!("cannot read the list {}: {e}", l.display()))?;
        out.extend(parse_list(&text, &l.display().to_string()));
    }
    Ok(out)
}

/// One spec per line; `#` starts a comment; blank lines are skipped.
pub fn parse_list(text: &str, origin: &str) -> Vec<Input> {
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                return None;
            }
            Some(match Spec::parse(line) {
                Ok(s) => Input::Spec(s),
                Err(m) => Input::Bad(InputError {
                    input: line.to_string(),
                    message: format!("{origin}, line {}: {m}", i + 1),
                }),
            })
        })
        .collect()
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
    let mut specs = Vec::new();
    for i in inputs {
        match i {
            Input::Spec(s) => specs.push(s),
            Input::Bad(e) => errors.push(e),
        }
    }
    // Expand `@*` into every version.
    let mut work: Vec<(Ecosystem, String, Option<String>)> = Vec::new();
    for s in specs {
        match s.version {
            VersionReq::Latest => work.push((s.ecosystem, s.name, None)),
            VersionReq::Exact(v) => work.push((s.ecosystem, s.name, Some(v))),
            VersionReq::All => match verifier.versions(s.ecosystem, &s.name).await {
                Ok(vs) => work.extend(
                    vs.into_iter()
                        .map(|v| (s.ecosystem, s.name.clone(), Some(v))),
                ),
                Err(e) => errors.push(InputError {
                    input: s.to_string(),
                    message: e.to_string(),
                }),
            },
        }
    }
    work.dedup();
    let started = Instant::now();
    let total = work.len();
    let bar = if run.progress && total > 1 {
        let b = indicatif::ProgressBar::new(total as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:30} {pos}/{len} {per_sec} eta {eta} {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        Some(b)
    } else {
        None
    };
    let mut results: Vec<(usize, PackageResult)> = Vec::with_capacity(total);
    let mut stream = futures::stream::iter(work.into_iter().enumerate())
        .map(|(i, (eco, name, version))| {
            let v = verifier.clone();
            async move { (i, v.verify(eco, &name, version.as_deref()).await) }
        })
        .buffer_unordered(jobs);
    let (mut ok, mut bad, mut unv) = (0, 0, 0);
    while let Some((i, r)) = stream.next().await {
        match r.verdict {
            crate::finding::Verdict::Verified => ok += 1,
            crate::finding::Verdict::Mismatch => bad += 1,
            crate::finding::Verdict::Unverifiable => unv += 1,
        }
        if run.stream_human {
            let text = human_result(&r, run.style);
            match &bar {
                Some(b) => b.suspend(|| print!("{text}")),
                None => print!("{text}"),
            }
        }
        if let Some(b) = &bar {
            b.set_message(format!("{ok} verified, {bad} mismatch, {unv} unverifiable"));
            b.inc(1);
        }
        results.push((i, r));
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    tracing::info!("{} packages in {:.1?}", total, started.elapsed());
    results.sort_by_key(|(i, _)| *i);
    Ok(Report::new(
        results.into_iter().map(|(_, r)| r).collect(),
        errors,
    ))
}

//! Command-line interface: argument definitions and dispatch. Everything it calls is library
//! code a test can drive directly.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::{GateArgs, Gates};
use crate::engine;
use crate::profile::Profiles;
use crate::repo_url::Rewrites;

#[derive(Parser, Debug)]
#[command(
    name = "provero",
    version,
    about = "Check that what a registry serves is the code of the tagged source it claims to come from",
    long_about = "provero downloads published packages (crates.io, PyPI, RubyGems), finds the source \
repository and commit they claim, and compares every file by git blob id. Files the packager \
generates are excused by named rules; anything else that is not in the source is a red flag.\n\n\
Exit codes: 1 when any package has a red flag; otherwise 2 when anything was an error (a bad spec, \
a package or version the registry does not have, a tool failure); otherwise 0. `unverifiable` \
alone is not an error."
)]
pub struct Cli {
    /// More diagnostics on stderr (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Verify packages against their source repositories.
    Verify(VerifyArgs),
    /// Show the summary and details of past runs from a results store, without verifying.
    Report(ReportArgs),
    /// Combine results stores (e.g. one per shard) into one. Merging again changes nothing:
    /// the same package and digest is one row, the newest decision wins.
    Merge(MergeArgs),
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// The results store to read [default: <cache-dir>/results.db].
    #[arg(long, value_name = "FILE")]
    pub db: Option<PathBuf>,

    /// Where the default store lives [default: the platform cache directory].
    #[arg(long, value_name = "DIR", env = "PROVERO_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,

    /// Write the report to FILE (repeatable: several formats in one run). The format comes
    /// from `FORMAT=FILE` or the extension (.sarif, .xml/.junit.xml, .html, .json, .md, .txt),
    /// else from --format. Standard output keeps --format unless a file already takes it.
    #[arg(long, short, value_name = "[FORMAT=]FILE")]
    pub output: Vec<String>,

    /// How many of the slowest packages to list.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub slowest: usize,

    /// Show one repository's releases on every registry and the commit each traces to,
    /// instead of the per-package report (human, json or markdown).
    #[arg(long)]
    pub by_repository: bool,

    #[command(flatten)]
    pub gates: GateArgs,
}

#[derive(Args, Debug)]
pub struct MergeArgs {
    /// Results stores to read.
    #[arg(value_name = "FILE", required = true)]
    pub inputs: Vec<PathBuf>,

    /// The store to merge into (created when absent).
    #[arg(long, value_name = "FILE")]
    pub db: PathBuf,
}

pub use crate::report::Format;

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// Packages as ECOSYSTEM:NAME[@VERSION] (ecosystems: crates, pypi, gems). Without a version,
    /// the newest version that is not yanked; `@*` means every published version. `-` reads
    /// specs from standard input.
    #[arg(value_name = "SPEC")]
    pub specs: Vec<String>,

    /// Read specs from a file: one per line, `#` comments and blank lines ignored.
    #[arg(long, value_name = "FILE")]
    pub list: Vec<PathBuf>,

    /// Verify the registry packages of a lockfile (Cargo.lock); git and path dependencies are
    /// listed as skipped. Repeatable.
    #[arg(long, value_name = "FILE")]
    pub lockfile: Vec<PathBuf>,

    /// The results store: every verdict is recorded as it is decided, and packages already
    /// decided for the same artifact digest are not verified again
    /// [default: <cache-dir>/results.db].
    #[arg(long, value_name = "FILE", env = "PROVERO_DB")]
    pub db: Option<PathBuf>,

    /// Run without a results store (nothing skipped, nothing recorded).
    #[arg(long, conflicts_with_all = ["db", "recheck"])]
    pub no_db: bool,

    /// Verify again packages the store already decided.
    #[arg(long)]
    pub recheck: bool,

    /// Take only part I of N of the work list (0 <= I < N), chosen by a stable hash of each
    /// package, so N machines together cover every package once. See docs/scale-out.md.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,

    /// Use another registry: ECOSYSTEM=URL (crates: the sparse index root serving config.json;
    /// pypi: the Simple API root; gems: the server root), or ECOSYSTEM=profile.toml (see
    /// registries/). Repeatable.
    #[arg(long, value_name = "ECO=URL")]
    pub registry: Vec<String>,

    /// Which file of a PyPI release to verify: `sdist` (a release with only wheels is
    /// verified by its pure-Python wheel) or `wheel` (the pure-Python wheel, else a platform
    /// wheel whose compiled modules are reported not comparable; the sdist when none).
    #[arg(long, value_name = "KIND", value_parser = ["sdist", "wheel"])]
    pub pypi_artifact: Option<String>,

    /// Rewrite repository URL prefixes before fetching, like git's url.<base>.insteadOf
    /// (mirrors, air-gapped use). Repeatable; the longest matching prefix wins.
    #[arg(long, value_name = "FROM=TO")]
    pub git_rewrite: Vec<String>,

    /// Where downloaded artifacts and partial clones are kept and reused across runs
    /// [default: the platform cache directory, e.g. ~/.cache/provero].
    #[arg(long, value_name = "DIR", env = "PROVERO_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,

    /// Write the report to FILE (repeatable: several formats in one run). The format comes
    /// from `FORMAT=FILE` or the extension (.sarif, .xml/.junit.xml, .html, .json, .md, .txt),
    /// else from --format. Standard output keeps --format unless a file already takes it.
    #[arg(long, short, value_name = "[FORMAT=]FILE")]
    pub output: Vec<String>,

    /// Show a short unified diff under each file whose content differs (human format).
    #[arg(long)]
    pub diff: bool,

    /// How many packages are worked on at once (downloads, git and comparisons are bounded
    /// separately beneath this) [default: 4 per CPU, between 4 and 32].
    #[arg(long, short, value_name = "N")]
    pub jobs: Option<usize>,

    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,

    #[command(flatten)]
    pub gates: GateArgs,
}

fn default_jobs() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get() * 4)
        .unwrap_or(8)
        .clamp(4, 32)
}

pub fn default_cache_dir() -> PathBuf {
    dirs::cache_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("provero")
}

/// Run the CLI; returns the process exit code.
pub fn run() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => 0,
                _ => 2,
            };
        }
    };
    init_tracing(cli.verbose);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return 2;
        }
    };
    let result = match cli.command {
        Command::Verify(args) => rt.block_on(verify(args)),
        Command::Report(args) => report(args),
        Command::Merge(args) => merge(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            2
        }
    }
}

fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("provero={default}")));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .try_init();
}

async fn verify(args: VerifyArgs) -> anyhow::Result<i32> {
    let gates = args.gates.settle()?;
    let config = &gates.config;
    let config_file = config
        .path
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let mut profiles = Profiles::builtin();
    for r in &config.registries {
        profiles
            .apply(r)
            .map_err(|e| anyhow::anyhow!("{config_file}: registries: {e}"))?;
    }
    for r in &args.registry {
        profiles.apply(r).map_err(anyhow::Error::msg)?;
    }
    if let Some(kind) = &args.pypi_artifact {
        profiles
            .by_ecosystem
            .get_mut(&crate::ecosystem::Ecosystem::Pypi)
            .expect("every ecosystem has a profile")
            .artifact = Some(kind.clone());
    }
    let mut rewrites = Rewrites::default();
    // The configuration's first: on an equal prefix the later rule, the flag's, wins.
    for r in config.rewrites.iter().chain(&args.git_rewrite) {
        rewrites.add(r).map_err(anyhow::Error::msg)?;
    }
    let jobs = args.jobs.or(config.jobs).unwrap_or_else(default_jobs);
    if jobs == 0 {
        anyhow::bail!("--jobs must be at least 1");
    }
    let cache_dir = args
        .cache_dir
        .clone()
        .or_else(|| config.cache_dir.clone())
        .unwrap_or_else(default_cache_dir);
    std::fs::create_dir_all(&cache_dir).map_err(|e| {
        anyhow::anyhow!(
            "cannot use the cache directory {}: {e}",
            cache_dir.display()
        )
    })?;

    let shard = args
        .shard
        .as_deref()
        .map(crate::shard::Shard::parse)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let db = match (&args.db, args.no_db) {
        (_, true) => None,
        (Some(p), false) => Some(p.clone()),
        (None, false) => Some(cache_dir.join("results.db")),
    };

    let inputs = crate::input::collect_inputs(&args.specs, &args.list, &args.lockfile)?;
    if inputs.is_empty() {
        anyhow::bail!("nothing to verify: give package specs (e.g. crates:serde@1.0.210), --list FILE, --lockfile Cargo.lock, or - for stdin");
    }
    let targets = crate::report::output::parse_targets(&args.output, args.format)
        .map_err(anyhow::Error::msg)?;
    let on_stdout = crate::report::output::stdout_format(&targets, args.format);
    gates.check_signing(&targets, on_stdout)?;
    let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let style = crate::report::Style {
        color,
        diff: args.diff,
    };
    let run = engine::Run {
        cache_dir,
        profiles,
        rewrites,
        jobs,
        progress: !args.quiet && std::io::stderr().is_terminal(),
        stream_human: on_stdout == Some(Format::Human),
        style,
        db,
        recheck: args.recheck,
        shard,
        allow: gates.allow.clone(),
    };
    let started = std::time::SystemTime::now();
    let settings = crate::report::RunSettings {
        mode: gates
            .config
            .mode
            .clone()
            .unwrap_or_else(|| "diff".to_string()),
        registries: run
            .profiles
            .by_ecosystem
            .iter()
            .map(|(eco, p)| (eco.as_str().to_string(), p.url.clone()))
            .collect(),
        rewrites: config
            .rewrites
            .iter()
            .chain(&args.git_rewrite)
            .cloned()
            .collect(),
        pypi_artifact: args.pypi_artifact.clone(),
    };
    let mut report = engine::run(run, inputs).await?;
    report.run = Some(crate::report::RunInfo {
        provero_version: env!("CARGO_PKG_VERSION").to_string(),
        started_at: crate::report::RunInfo::timestamp(started),
        finished_at: crate::report::RunInfo::timestamp(std::time::SystemTime::now()),
        settings,
    });
    write_report(&report, &targets, on_stdout, style, &gates)?;
    Ok(gate_exit(&report, gates.fail_on))
}

/// The exit code `--fail-on` gives; when a level other than the default fails the run, say
/// why on stderr (at the default, the red flags above say it).
fn gate_exit(report: &crate::report::Report, fail_on: crate::gate::FailOn) -> i32 {
    if fail_on != crate::gate::FailOn::RedFlag {
        if let Some(why) = crate::gate::explain(report, fail_on) {
            eprintln!("{why}");
        }
    }
    crate::gate::exit_code(report, fail_on)
}

/// Render a report into every `--output` file and standard output; unless standard output
/// carries a machine-readable format, the closing summary goes to stderr.
fn write_report(
    report: &crate::report::Report,
    targets: &[crate::report::output::Target],
    on_stdout: Option<Format>,
    style: crate::report::Style,
    gates: &Gates,
) -> anyhow::Result<()> {
    for t in targets {
        let plain = crate::report::Style {
            color: false,
            ..style
        };
        let text = render(t.format, report, plain, gates)?;
        std::fs::write(&t.path, text.as_bytes())
            .map_err(|e| anyhow::anyhow!("cannot write the report to {}: {e}", t.path.display()))?;
    }
    // Human lines on stdout were streamed (or printed) already.
    if let Some(format) = on_stdout.filter(|f| *f != Format::Human) {
        let text = render(format, report, style, gates)?;
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())?;
        out.flush()?;
    }
    if !on_stdout.is_some_and(Format::is_machine_readable) {
        for s in &report.skipped_inputs {
            eprintln!("skipped: {}: {}", s.input, s.reason);
        }
        for e in &report.errors {
            eprintln!("error: {}", e.message);
        }
        eprint!("{}", crate::report::human_summary(&report.summary));
    }
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    Ok(())
}

/// A report in one format; in-toto statements need the run's signing key, so they are rendered
/// here rather than by `Format::render`.
fn render(
    format: Format,
    report: &crate::report::Report,
    style: crate::report::Style,
    gates: &Gates,
) -> anyhow::Result<String> {
    if format == Format::Intoto {
        Ok(intoto(report, gates))
    } else {
        format.render(report, style)
    }
}

/// The in-toto statements (signed when a key was given); says on stderr how many packages had
/// no artifact to attest.
fn intoto(report: &crate::report::Report, gates: &Gates) -> String {
    use crate::report::intoto;
    let cx = intoto::Context::of(report, gates.signer.as_ref());
    let n = intoto::unattested(report);
    if n > 0 {
        eprintln!("note: {n} package(s) without a downloaded artifact have no statement");
    }
    intoto::render(report, &cx)
}

/// `provero report`: render what a store holds. Exit code as for the run that decided it
/// (1 when any stored package has a red flag; errors are never stored).
fn report(args: ReportArgs) -> anyhow::Result<i32> {
    let gates = args.gates.settle()?;
    let db = args.db.unwrap_or_else(|| {
        args.cache_dir
            .or_else(|| gates.config.cache_dir.clone())
            .unwrap_or_else(default_cache_dir)
            .join("results.db")
    });
    if !db.is_file() {
        anyhow::bail!("no results store at {}", db.display());
    }
    let store = crate::store::Store::open(&db)?;
    // The store keeps what was found; what is accepted is decided by today's allow entries.
    let today = crate::allow::today();
    let mut results = store.all()?;
    let mut used = Vec::new();
    for r in &mut results {
        used.extend(gates.allow.apply(r, today));
    }
    let mut report = crate::report::Report::new(results, Vec::new()).with_slowest(args.slowest);
    report.warnings = gates.allow.warnings(&used, today);
    let targets = crate::report::output::parse_targets(&args.output, args.format)
        .map_err(anyhow::Error::msg)?;
    if args.by_repository {
        by_repository(&report, args.format, &targets)?;
        return Ok(gate_exit(&report, gates.fail_on));
    }
    let on_stdout = crate::report::output::stdout_format(&targets, args.format);
    gates.check_signing(&targets, on_stdout)?;
    let style = crate::report::Style {
        color: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        diff: false,
    };
    if on_stdout == Some(Format::Human) {
        let mut out = std::io::stdout().lock();
        for r in &report.results {
            out.write_all(crate::report::human_result(r, style).as_bytes())?;
        }
        out.flush()?;
    }
    write_report(&report, &targets, on_stdout, style, &gates)?;
    Ok(gate_exit(&report, gates.fail_on))
}

/// `provero report --by-repository`: the view by repository, to stdout and every `--output`.
fn by_repository(
    report: &crate::report::Report,
    format: Format,
    targets: &[crate::report::output::Target],
) -> anyhow::Result<()> {
    use crate::report::repository;
    let views = repository::by_repository(&report.results);
    let render = |f: Format| -> anyhow::Result<String> {
        Ok(match f {
            Format::Human => repository::human(&views),
            Format::Json => repository::json(&views)?,
            Format::Markdown => repository::markdown(&views),
            other => anyhow::bail!(
                "--by-repository is shown as human, json or markdown, not {} (the HTML report has it as a section)",
                other.name()
            ),
        })
    };
    for t in targets {
        std::fs::write(&t.path, render(t.format)?.as_bytes())
            .map_err(|e| anyhow::anyhow!("cannot write the report to {}: {e}", t.path.display()))?;
    }
    if let Some(f) = crate::report::output::stdout_format(targets, format) {
        let mut out = std::io::stdout().lock();
        out.write_all(render(f)?.as_bytes())?;
        out.flush()?;
    }
    Ok(())
}

/// `provero merge`: fold every input store into `--db`.
fn merge(args: MergeArgs) -> anyhow::Result<i32> {
    let mut into = crate::store::Store::open(&args.db)?;
    for p in &args.inputs {
        if std::fs::canonicalize(p).ok() == std::fs::canonicalize(&args.db).ok() {
            continue;
        }
        let n = into.merge_from(p)?;
        eprintln!("merged {n} result(s) from {}", p.display());
    }
    eprintln!("{} holds {} result(s)", args.db.display(), into.count()?);
    Ok(0)
}

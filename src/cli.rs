//! Command-line interface: argument definitions and dispatch. Everything it calls is library
//! code a test can drive directly.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

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
    /// More diagnostics on stderr: -v each URL fetched, git command and rewrite applied; -vv
    /// also each rule decision and cache hit. RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// No progress bar and no notes on stderr (the report, errors and the summary remain);
    /// logs only errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Colour: `auto` on a terminal unless NO_COLOR is set to a non-empty value
    /// (no-color.org), `always`, or `never`.
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once per process: the size of the largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Verify packages against their source repositories.
    Verify(VerifyArgs),
    /// Show the summary and details of past runs from a results store, without verifying.
    Report(ReportArgs),
    /// Combine results stores (e.g. one per shard) into one. Merging again changes nothing:
    /// the same package and digest is one row, the newest decision wins.
    Merge(MergeArgs),
    /// Look after the cache directory (artifacts, git clones, the results store).
    #[command(subcommand)]
    Cache(CacheCommand),
}

#[derive(Subcommand, Debug)]
pub enum CacheCommand {
    /// Remove the least recently used artifact packs, git clones and rebuild generators until
    /// the cache holds at most --max-bytes. The results store is never removed; what is
    /// removed is fetched again by the run that needs it (time, never a different verdict).
    /// Refuses while a `provero verify` is using the cache.
    Prune(PruneArgs),
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// The cache directory [default: provero.toml's `cache-dir`, else the platform cache
    /// directory].
    #[arg(long, value_name = "DIR", env = "PROVERO_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,

    /// Read `cache-dir` from FILE [default: provero.toml in the working directory, if present].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// The most the cache may hold: bytes, or with K, M, G, T (powers of 1024), e.g. 50G.
    #[arg(long, value_name = "SIZE", value_parser = crate::prune::parse_size)]
    pub max_bytes: u64,

    /// Say what would be removed, and remove nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// The results store to read [default: <cache-dir>/results.db].
    #[arg(long, value_name = "FILE", env = "PROVERO_DB")]
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// Whether to colour a stream: `always`/`never` as asked; `auto` on a terminal unless
/// `NO_COLOR` holds a non-empty value (an empty `NO_COLOR=` does not disable colour).
pub fn color_enabled(
    choice: ColorChoice,
    is_terminal: bool,
    no_color: Option<&std::ffi::OsStr>,
) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => is_terminal && no_color.map_or(true, |v| v.is_empty()),
    }
}

fn color_for(choice: ColorChoice, is_terminal: bool) -> bool {
    color_enabled(choice, is_terminal, std::env::var_os("NO_COLOR").as_deref())
}

pub use crate::report::Format;

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// Packages as ECOSYSTEM:NAME[@VERSION] (ecosystems: crates, pypi, gems). Without a version,
    /// the newest version that is not yanked; `@*` means every published version. `-` reads
    /// specs from standard input.
    #[arg(value_name = "SPEC")]
    pub specs: Vec<String>,

    /// Read specs from a file: one per line, `#` comments and blank lines ignored; `-` is
    /// standard input. Repeatable.
    #[arg(long, value_name = "FILE")]
    pub list: Vec<PathBuf>,

    /// Verify the registry packages of a lockfile, told apart by file name: Cargo.lock,
    /// requirements*.txt (pinned `==` lines, `--hash`, `-r` files followed relative to the
    /// file), uv.lock, Gemfile.lock or gems.locked. Git and path dependencies are listed as
    /// skipped. Repeatable.
    #[arg(long, value_name = "FILE")]
    pub lockfile: Vec<PathBuf>,

    /// With `@*`: only the N newest versions of each package.
    #[arg(long, value_name = "N")]
    pub newest: Option<usize>,

    /// With `@*`: only versions published on or after DATE (YYYY-MM-DD, UTC), by the date
    /// the registry gives (crates index `pubtime`, PyPI `upload-time`, RubyGems
    /// `created_at`); a version without a date is left out.
    #[arg(long, value_name = "DATE", value_parser = crate::expand::parse_day)]
    pub since: Option<String>,

    /// Where a registry is listed for name patterns (`crates:*@*`, `crates:tokio-*`):
    /// ECOSYSTEM=URL or ECOSYSTEM=FILE. crates: a database dump in crates.io's layout (the
    /// built-in profile reads https://static.crates.io/db-dump.tar.gz); pypi: a Simple API
    /// root; gems: a compact index `versions` file. Repeatable.
    #[arg(long, value_name = "ECO=URL|FILE")]
    pub listing: Vec<String>,

    /// Print the packages the run would verify (after `@*`, name patterns, --since, --newest
    /// and --shard), one spec per line in the --list format, and verify nothing.
    #[arg(long)]
    pub list_only: bool,

    /// The results store: every verdict is recorded as it is decided, and packages already
    /// decided for the same artifact digest under the same settings (registry, rewrites) are
    /// not verified again; transient failures are never recorded
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

    /// Use another registry: ECOSYSTEM=URL (crates: the sparse index root serving config.json,
    /// `sparse+` prefix allowed; pypi: the Simple API root, or a host root with the Simple API
    /// under /simple/; gems: the server root), or ECOSYSTEM=profile.toml (see registries/).
    /// Each registry in use is checked once before any package. Repeatable.
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

    /// What the published artifact is compared with: `diff` (the tree at the claimed commit,
    /// no package code runs), `rebuild` (what the ecosystem's packager builds from that tree,
    /// in a bubblewrap sandbox without network) or `both` [default: the registry profile's
    /// `mode`, else diff].
    #[arg(long, value_enum, value_name = "MODE")]
    pub mode: Option<crate::rebuild::Mode>,

    /// How many rebuilds run at once (each runs a packager), beneath --jobs.
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub build_jobs: usize,

    /// Seconds to wait for an HTTP connection to a registry.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub connect_timeout: u64,

    /// Seconds an HTTP response may stay silent (before it starts, or between bytes) before
    /// the request fails; a timed-out request is tried once more.
    #[arg(long, value_name = "SECS", default_value_t = 20)]
    pub read_timeout: u64,

    /// Seconds a package's registry requests and download may take together; past it the
    /// package is artifact-unavailable.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub package_timeout: u64,

    /// Check signed attestations (PyPI PEP 740, RubyGems) against this Sigstore
    /// `trusted_root.json` instead of the public Sigstore trust root shipped with provero
    /// (private Sigstore instances, tests).
    #[arg(long, value_name = "FILE")]
    pub trust_root: Option<PathBuf>,

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
            // `provero verify --lockfile --help`: a flag whose value is missing because
            // `--help` followed it still shows the help it asked for.
            let e = help_asked(&e).unwrap_or(e);
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => 0,
                _ => 2,
            };
        }
    };
    init_tracing(cli.verbose, cli.quiet, cli.color);
    let globals = Globals {
        quiet: cli.quiet,
        color: cli.color,
    };
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
        Command::Verify(args) => rt.block_on(verify(args, globals)),
        Command::Report(args) => report(args, globals),
        Command::Merge(args) => merge(args, globals),
        Command::Cache(CacheCommand::Prune(args)) => prune(args, globals),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            crate::stdout::note(&format!("error: {e:#}\n"));
            2
        }
    }
}

/// When the command line asks for `--help`/`-h` but failed to parse before reaching it, the
/// help of the subcommand named (or of provero).
fn help_asked(e: &clap::Error) -> Option<clap::Error> {
    if matches!(
        e.kind(),
        clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
    ) {
        return None;
    }
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().skip(1).any(|a| a == "--help" || a == "-h") {
        return None;
    }
    let cmd = <Cli as clap::CommandFactory>::command();
    let mut argv = vec![args[0].clone()];
    argv.extend(
        args.iter()
            .skip(1)
            .find(|a| cmd.get_subcommands().any(|s| s.get_name() == a.as_str()))
            .cloned(),
    );
    argv.push("--help".to_string());
    Cli::try_parse_from(argv).err()
}

/// The options that apply to every command.
#[derive(Debug, Clone, Copy)]
struct Globals {
    quiet: bool,
    color: ColorChoice,
}

fn init_tracing(verbose: u8, quiet: bool, color: ColorChoice) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (_, 0) => "warn",
        (_, 1) => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("provero={default}")));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(color_for(color, std::io::stderr().is_terminal()))
        .try_init();
}

async fn verify(args: VerifyArgs, globals: Globals) -> anyhow::Result<i32> {
    let gates = args.gates.settle()?;
    let config = &gates.config;
    // `--mode` wins over provero.toml's `mode`; without either, each registry profile's.
    let run_mode = args
        .mode
        .or_else(|| config.mode.as_deref().and_then(crate::rebuild::Mode::parse));
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
    crate::git::hosts::set_tokens(&config.git_tokens);
    let mut rewrites = Rewrites::default();
    // The configuration's first: on an equal prefix the later rule, the flag's, wins.
    for r in config.rewrites.iter().chain(&args.git_rewrite) {
        rewrites.add(r).map_err(anyhow::Error::msg)?;
    }
    let jobs = args.jobs.or(config.jobs).unwrap_or_else(default_jobs);
    if jobs == 0 {
        anyhow::bail!("--jobs must be at least 1");
    }
    if args.newest == Some(0) {
        anyhow::bail!("--newest must be at least 1");
    }
    let listings = crate::listing::parse_listing_args(&args.listing).map_err(anyhow::Error::msg)?;
    let cache_dir = args
        .cache_dir
        .clone()
        .or_else(|| config.cache_dir.clone())
        .unwrap_or_else(default_cache_dir);

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
    // Before any work: a bad --output and a path that cannot be written fail now, not after
    // the run.
    let targets = crate::report::output::parse_targets(&args.output, args.format)
        .map_err(anyhow::Error::msg)?;
    let outputs: Vec<PathBuf> = targets.iter().map(|t| t.path.clone()).collect();
    crate::preflight::check_paths(&cache_dir, db.as_deref(), &outputs)?;

    // A `--list` is read here once through and again as the work list is built, never held
    // (a whole registry is millions of lines).
    let inputs =
        crate::input::Inputs::open(&args.specs, &args.list, &args.lockfile, shard, &cache_dir)?;
    if inputs.is_empty() {
        anyhow::bail!("nothing to verify: give package specs (e.g. crates:serde@1.0.210), --list FILE, --lockfile Cargo.lock, or - for stdin");
    }
    let on_stdout = crate::report::output::stdout_format(&targets, args.format);
    gates.check_signing(&targets, on_stdout)?;
    let color = color_for(globals.color, std::io::stdout().is_terminal());
    let style = crate::report::Style {
        color,
        diff: args.diff,
    };
    let run = engine::Run {
        cache_dir,
        profiles,
        rewrites,
        jobs,
        progress: !globals.quiet && std::io::stderr().is_terminal(),
        stream_human: on_stdout == Some(Format::Human),
        style,
        db,
        recheck: args.recheck,
        shard,
        newest: args.newest,
        since: args.since.clone(),
        quiet: globals.quiet,
        listings,
        list_only: args.list_only,
        mode: run_mode,
        build_jobs: args.build_jobs,
        timeouts: crate::http::Timeouts {
            connect: secs(args.connect_timeout, "--connect-timeout")?,
            read: secs(args.read_timeout, "--read-timeout")?,
            package: secs(args.package_timeout, "--package-timeout")?,
        },
        allow: gates.allow.clone(),
        trust: match args.trust_root.as_ref().or(config.trust_root.as_ref()) {
            Some(p) => crate::attest::gather::Trust::load(p)
                .map_err(|e| anyhow::anyhow!("--trust-root: {e}"))?,
            None => crate::attest::gather::Trust::default(),
        },
    };
    let started = std::time::SystemTime::now();
    let settings = crate::report::RunSettings {
        // `--mode`, else the registry profiles' default (diff unless a profile says otherwise).
        mode: match run_mode {
            Some(m) => m.as_str().to_string(),
            None if run.profiles.by_ecosystem.values().any(|p| p.mode.is_some()) => {
                "per registry profile".to_string()
            }
            None => "diff".to_string(),
        },
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
    let list_only = run.list_only;
    let mut report = engine::run(run, inputs).await?;
    if list_only {
        // The list went to standard output; what could not be listed is said here.
        for e in &report.errors {
            crate::stdout::note(&format!("error: {}\n", e.message));
        }
        return Ok(if report.errors.is_empty() { 0 } else { 2 });
    }
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

fn secs(n: u64, flag: &str) -> anyhow::Result<std::time::Duration> {
    if n == 0 {
        anyhow::bail!("{flag} must be at least 1 second");
    }
    Ok(std::time::Duration::from_secs(n))
}

/// Render a report into every `--output` file and standard output, each streamed over the
/// results; unless standard output carries a machine-readable format, the closing summary goes
/// to stderr.
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
        let written = std::fs::File::create(&t.path)
            .map_err(anyhow::Error::from)
            .and_then(|f| {
                let mut w = std::io::BufWriter::with_capacity(1 << 16, f);
                render(t.format, report, plain, gates, &mut w)?;
                w.into_inner().map_err(|e| e.into_error())?;
                Ok(())
            });
        written
            .map_err(|e| anyhow::anyhow!("cannot write the report to {}: {e}", t.path.display()))?;
    }
    // Human lines on stdout were streamed (or printed) already.
    if let Some(format) = on_stdout.filter(|f| *f != Format::Human) {
        let mut w = crate::stdout::writer();
        render(format, report, style, gates, &mut w)
            .map_err(|e| anyhow::anyhow!("cannot write the report to standard output: {e}"))?;
        std::io::Write::flush(&mut w)?;
    }
    if !on_stdout.is_some_and(Format::is_machine_readable) {
        let mut notes = String::new();
        for s in &report.skipped_inputs {
            notes.push_str(&format!("skipped: {}: {}\n", s.input, s.reason));
        }
        for e in &report.errors {
            notes.push_str(&format!("error: {}\n", e.message));
        }
        notes.push_str(&crate::report::human_summary(&report.summary));
        crate::stdout::note(&notes);
    }
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    Ok(())
}

/// A report in one format into `w`; in-toto statements need the run's signing key, so they are
/// rendered here rather than by `Format::write`.
fn render(
    format: Format,
    report: &crate::report::Report,
    style: crate::report::Style,
    gates: &Gates,
    w: &mut dyn std::io::Write,
) -> anyhow::Result<()> {
    if format == Format::Intoto {
        intoto(report, gates, w)
    } else {
        format.write(report, style, w)
    }
}

/// The in-toto statements (signed when a key was given); says on stderr how many packages had
/// no artifact to attest.
fn intoto(
    report: &crate::report::Report,
    gates: &Gates,
    w: &mut dyn std::io::Write,
) -> anyhow::Result<()> {
    use crate::report::intoto;
    let cx = intoto::Context::of(report, gates.signer.as_ref());
    let n = intoto::write(report, &cx, w)?;
    if n > 0 {
        eprintln!("note: {n} package(s) without a downloaded artifact have no statement");
    }
    Ok(())
}

/// `provero report`: render what a store holds. Exit code as for the run that decided it
/// (1 when any stored package has a red flag; errors are never stored).
fn report(args: ReportArgs, globals: Globals) -> anyhow::Result<i32> {
    let gates = args.gates.settle()?;
    let cache_dir = args
        .cache_dir
        .clone()
        .or_else(|| gates.config.cache_dir.clone())
        .unwrap_or_else(default_cache_dir);
    let db = args
        .db
        .clone()
        .unwrap_or_else(|| cache_dir.join("results.db"));
    if !db.is_file() {
        anyhow::bail!("no results store at {}", db.display());
    }
    let targets = crate::report::output::parse_targets(&args.output, args.format)
        .map_err(anyhow::Error::msg)?;
    let outputs: Vec<PathBuf> = targets.iter().map(|t| t.path.clone()).collect();
    crate::preflight::check_outputs(&outputs)?;
    let report = crate::report::stored::read(&db, &cache_dir, &gates.allow, args.slowest)?;
    if args.by_repository {
        by_repository(&report, args.format, &targets)?;
        return Ok(gate_exit(&report, gates.fail_on));
    }
    let on_stdout = crate::report::output::stdout_format(&targets, args.format);
    gates.check_signing(&targets, on_stdout)?;
    let style = crate::report::Style {
        color: color_for(globals.color, std::io::stdout().is_terminal()),
        diff: false,
    };
    if on_stdout == Some(Format::Human) {
        for r in report.each() {
            crate::stdout::write(&crate::report::human_result(&*r?, style));
        }
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
    let on_stdout = crate::report::output::stdout_format(targets, format);
    // Every format is checked before anything is read or written.
    for f in targets.iter().map(|t| t.format).chain(on_stdout) {
        if !matches!(f, Format::Human | Format::Json | Format::Markdown) {
            anyhow::bail!(
                "--by-repository is shown as human, json or markdown, not {} (the HTML report has it as a section)",
                f.name()
            );
        }
    }
    let views = repository::of_report(report)?;
    let render = |f: Format, w: &mut dyn std::io::Write| match f {
        Format::Json => repository::write_json(views.iter(), w),
        Format::Markdown => repository::write_markdown(views.iter(), w),
        _ => repository::write_human(views.iter(), w),
    };
    for t in targets {
        let written = std::fs::File::create(&t.path).and_then(|f| {
            let mut w = std::io::BufWriter::with_capacity(1 << 16, f);
            render(t.format, &mut w)?;
            w.into_inner().map_err(|e| e.into_error())?;
            Ok(())
        });
        written
            .map_err(|e| anyhow::anyhow!("cannot write the report to {}: {e}", t.path.display()))?;
    }
    if let Some(f) = on_stdout {
        let mut w = crate::stdout::writer();
        render(f, &mut w)
            .map_err(|e| anyhow::anyhow!("cannot write the report to standard output: {e}"))?;
        std::io::Write::flush(&mut w)?;
    }
    Ok(())
}

/// `provero cache prune`: the least recently used entries removed until the cache fits.
fn prune(args: PruneArgs, globals: Globals) -> anyhow::Result<i32> {
    use crate::prune::human_size;
    let cache_dir = match args.cache_dir {
        Some(d) => d,
        None => {
            let cwd = std::env::current_dir()?;
            crate::config::Config::discover(args.config.as_deref(), &cwd)
                .map_err(anyhow::Error::msg)?
                .cache_dir
                .unwrap_or_else(default_cache_dir)
        }
    };
    let p = crate::prune::prune(&cache_dir, args.max_bytes, args.dry_run)?;
    let verb = if args.dry_run {
        "would remove"
    } else {
        "removed"
    };
    let mut out = String::new();
    if !globals.quiet || args.dry_run {
        for e in &p.removed {
            out.push_str(&format!(
                "{verb} {} {} ({})\n",
                e.kind.as_str(),
                e.path.display(),
                human_size(e.bytes)
            ));
        }
    }
    let freed: u64 = p.removed.iter().map(|e| e.bytes).sum();
    out.push_str(&format!(
        "{}: {} -> {} ({verb} {} in {} {}; the results store and what prune never removes: {})\n",
        cache_dir.display(),
        human_size(p.before),
        human_size(p.after),
        human_size(freed),
        p.removed.len(),
        if p.removed.len() == 1 {
            "entry"
        } else {
            "entries"
        },
        human_size(p.kept_always),
    ));
    if p.after > args.max_bytes {
        out.push_str(&format!(
            "note: the cache is still over {}: what is left is never removed by prune\n",
            human_size(args.max_bytes)
        ));
    }
    crate::stdout::write(&out);
    Ok(0)
}

/// `provero merge`: fold every input store into `--db`.
fn merge(args: MergeArgs, globals: Globals) -> anyhow::Result<i32> {
    let mut into = crate::store::Store::open(&args.db)?;
    for p in &args.inputs {
        if std::fs::canonicalize(p).ok() == std::fs::canonicalize(&args.db).ok() {
            continue;
        }
        let n = into.merge_from(p)?;
        if !globals.quiet {
            crate::stdout::note(&format!("merged {n} result(s) from {}\n", p.display()));
        }
    }
    if !globals.quiet {
        crate::stdout::note(&format!(
            "{} holds {} result(s)\n",
            args.db.display(),
            into.count()?
        ));
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn no_color_only_when_set_to_a_non_empty_value() {
        let auto = ColorChoice::Auto;
        assert!(color_enabled(auto, true, None));
        assert!(
            color_enabled(auto, true, Some(OsStr::new(""))),
            "NO_COLOR= is unset"
        );
        assert!(!color_enabled(auto, true, Some(OsStr::new("1"))));
        assert!(!color_enabled(auto, false, None), "not a terminal");
        assert!(color_enabled(
            ColorChoice::Always,
            false,
            Some(OsStr::new("1"))
        ));
        assert!(!color_enabled(ColorChoice::Never, true, None));
    }
}

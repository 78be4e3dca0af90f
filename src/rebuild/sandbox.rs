//! The one sandbox every rebuild runs in. A rebuild executes package code (`setup.py`, a
//! gemspec, a build backend, cargo build-time manifests), so it runs under bubblewrap (`bwrap`):
//! every namespace unshared (no network: only the sandbox's own loopback), the host visible
//! only through read-only binds of the system and the toolchain, one writable throwaway
//! directory, a private `/tmp`, a cleared environment, a wall-clock limit (`timeout`) and an
//! address-space limit (`prlimit --as`). Without bubblewrap there is no rebuild: the caller
//! gets an error naming the missing tool, never an unsandboxed build.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long one build may run before it is killed.
pub const DEFAULT_TIME_LIMIT: Duration = Duration::from_secs(600);
/// The address-space limit of every process in the sandbox.
pub const DEFAULT_MEMORY_LIMIT: u64 = 4 << 30;
/// How many lines of the build log a `rebuild-failed` finding quotes.
const LOG_TAIL_LINES: usize = 25;

/// System directories bound read-only when they exist (binaries, libraries, the dynamic
/// linker's cache, Debian's alternatives symlinks).
const SYSTEM_DIRS: [&str; 7] = [
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib64",
    "/etc/alternatives",
    "/etc/ld.so.cache",
];

/// One command to run inside the sandbox.
#[derive(Debug, Clone, Default)]
pub struct Job {
    /// Program and arguments (host paths; they are bound at the same path inside).
    pub argv: Vec<String>,
    /// Working directory, inside `writable`.
    pub cwd: PathBuf,
    /// The only directory the build may write (bound read-write at the same path).
    pub writable: PathBuf,
    /// More host paths the build may read (toolchains, a clone's object store).
    pub read_only: Vec<PathBuf>,
    /// The whole environment of the build (everything else is cleared).
    pub env: Vec<(String, String)>,
    pub time_limit: Option<Duration>,
    pub memory_limit: Option<u64>,
}

/// How a sandboxed command ended.
#[derive(Debug)]
pub struct Ran {
    pub success: bool,
    /// Killed by the time limit.
    pub timed_out: bool,
    /// The last lines of stdout and stderr together.
    pub log_tail: String,
    pub elapsed: Duration,
}

/// Why a sandboxed command could not even start.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("rebuild needs the sandbox `{tool}` ({why}); no build was run without it (install the `{package}` package)")]
    Missing {
        tool: &'static str,
        package: &'static str,
        why: String,
    },
    #[error("the sandbox could not start: {0}")]
    Broken(String),
}

/// Find a program on `PATH`.
pub fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// The tools the sandbox itself needs: `bwrap`, `timeout`, `prlimit`.
fn tools() -> Result<(PathBuf, PathBuf, PathBuf), SandboxError> {
    let need = |tool: &'static str, package: &'static str| {
        which(tool).ok_or_else(|| SandboxError::Missing {
            tool,
            package,
            why: "not found on PATH".into(),
        })
    };
    Ok((
        need("bwrap", "bubblewrap")?,
        need("timeout", "coreutils")?,
        need("prlimit", "util-linux")?,
    ))
}

/// Check that bubblewrap can create its namespaces here (it cannot in some containers); a
/// working sandbox is checked once per process.
pub fn check() -> Result<(), SandboxError> {
    static WORKS: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    if WORKS.get().is_some() {
        return Ok(());
    }
    check_now()?;
    let _ = WORKS.set(());
    Ok(())
}

fn check_now() -> Result<(), SandboxError> {
    let (bwrap, _, _) = tools()?;
    let mut c = Command::new(&bwrap);
    c.args(["--unshare-all", "--die-with-parent", "--clearenv"]);
    for d in SYSTEM_DIRS {
        c.arg("--ro-bind-try").arg(d).arg(d);
    }
    c.args(["--", "true"]);
    let out = c
        .stdin(Stdio::null())
        .output()
        .map_err(|e| SandboxError::Broken(format!("{}: {e}", bwrap.display())))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(SandboxError::Missing {
            tool: "bwrap",
            package: "bubblewrap",
            why: format!(
                "it cannot create namespaces here: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        })
    }
}

/// The full command line: `timeout … bwrap [isolation] -- prlimit --as=N -- argv`.
fn command(job: &Job) -> Result<Command, SandboxError> {
    let (bwrap, timeout, prlimit) = tools()?;
    let limit = job.time_limit.unwrap_or(DEFAULT_TIME_LIMIT);
    let mut c = Command::new(timeout);
    c.arg("--signal=KILL")
        .arg(format!("{}s", limit.as_secs().max(1)))
        .arg(bwrap);
    c.args([
        "--unshare-all",
        "--die-with-parent",
        "--new-session",
        "--clearenv",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--tmpfs",
        "/tmp",
    ]);
    for d in SYSTEM_DIRS {
        c.arg("--ro-bind-try").arg(d).arg(d);
    }
    for p in &job.read_only {
        c.arg("--ro-bind-try").arg(p).arg(p);
    }
    c.arg("--bind").arg(&job.writable).arg(&job.writable);
    // Nothing but the writable bind and the private /tmp can be written, not even the root.
    c.args(["--remount-ro", "/"]);
    c.arg("--chdir").arg(&job.cwd);
    for (k, v) in &job.env {
        c.arg("--setenv").arg(k).arg(v);
    }
    c.arg("--")
        .arg(prlimit)
        .arg(format!(
            "--as={}",
            job.memory_limit.unwrap_or(DEFAULT_MEMORY_LIMIT)
        ))
        .arg("--");
    c.args(&job.argv);
    Ok(c)
}

/// Run a job to its end (or its time limit); its output goes to `log`.
pub fn run(job: &Job, log: &Path) -> Result<Ran, SandboxError> {
    let mut c = command(job)?;
    let file = std::fs::File::create(log)
        .map_err(|e| SandboxError::Broken(format!("cannot create {}: {e}", log.display())))?;
    let err = file
        .try_clone()
        .map_err(|e| SandboxError::Broken(e.to_string()))?;
    let started = Instant::now();
    let status = c
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(err)
        .status()
        .map_err(|e| SandboxError::Broken(format!("could not start bwrap: {e}")))?;
    // `timeout` exits 137 after SIGKILL (124 with other signals).
    let timed_out = matches!(status.code(), Some(124) | Some(137));
    let text = std::fs::read(log).unwrap_or_default();
    Ok(Ran {
        success: status.success(),
        timed_out,
        log_tail: tail(&String::from_utf8_lossy(&text), LOG_TAIL_LINES),
        elapsed: started.elapsed(),
    })
}

/// The last `n` lines of a log.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail("a", 5), "a");
    }

    /// Only runs where bubblewrap works; the isolation itself is tested end to end in
    /// `tests/rebuild.rs` (a setup.py that writes outside and opens a socket).
    #[test]
    fn a_job_writes_only_its_directory_and_sees_no_environment() {
        if check().is_err() {
            eprintln!("bubblewrap unusable here; skipped");
            return;
        }
        let dir = std::env::temp_dir().join(format!("provero-sandbox-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let outside = std::env::temp_dir().join(format!("provero-outside-{}", std::process::id()));
        let job = Job {
            argv: vec![
                "/bin/sh".into(),
                "-c".into(),
                format!(
                    "echo in > inside; echo out > {}; env > envdump; exit 3",
                    outside.display()
                ),
            ],
            cwd: dir.clone(),
            writable: dir.clone(),
            env: vec![("PATH".into(), "/usr/bin:/bin".into())],
            ..Job::default()
        };
        let ran = run(&job, &dir.join("log")).unwrap();
        assert!(!ran.success && !ran.timed_out);
        assert!(dir.join("inside").exists());
        assert!(!outside.exists());
        let env = std::fs::read_to_string(dir.join("envdump")).unwrap();
        assert!(!env.contains("HOME="), "{env}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

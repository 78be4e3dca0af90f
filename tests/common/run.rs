//! Running the `provero` binary and reading its JSON report.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::git::GIT_ENV;

/// No single provero run in these tests should take anywhere near this.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug)]
pub struct Output {
    /// Exit code; `-1` if killed by a signal.
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// Panic unless the process exited normally (no panic, no signal).
    pub fn assert_no_crash(&self) {
        assert!(
            self.code >= 0 && self.code != 101 && !self.stderr.contains("panicked at"),
            "provero crashed (exit {}):\n--- stderr ---\n{}\n--- stdout ---\n{}",
            self.code,
            self.stderr,
            self.stdout
        );
    }

    pub fn dump(&self) -> String {
        format!(
            "exit {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Run provero with `args` in `cwd`, hermetic environment, with a timeout.
pub fn run_provero_in(cwd: &Path, args: &[String]) -> Output {
    let mut cmd = hermetic_command(env!("CARGO_BIN_EXE_provero"), cwd);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    wait_output(cmd, args)
}

/// `program` (provero, or a wrapper such as `bwrap` that runs it) in `cwd` with the
/// hermetic environment: no colour, no proxy, no RUST_LOG, a private cache home, hermetic git.
pub fn hermetic_command(program: impl AsRef<std::ffi::OsStr>, cwd: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir(cwd)
        .env("NO_COLOR", "1")
        .env("CLICOLOR", "0")
        .env("TERM", "dumb")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost");
    for k in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "RUST_LOG",
    ] {
        cmd.env_remove(k);
    }
    // A private cache home, in case something ignores --cache-dir.
    cmd.env("XDG_CACHE_HOME", cwd.join(".xdg-cache"));
    for (k, v) in GIT_ENV {
        cmd.env(k, v);
    }
    cmd
}

/// Spawn `cmd` (stdout and stderr piped unless set otherwise) and wait for it with the
/// timeout, collecting what it printed.
pub fn wait_output(mut cmd: Command, args: &[String]) -> Output {
    let mut child = cmd.spawn().expect("spawn provero");
    let out = child.stdout.take();
    let err = child.stderr.take();
    let t_out = std::thread::spawn(move || {
        let mut s = Vec::new();
        if let Some(mut out) = out {
            let _ = out.read_to_end(&mut s);
        }
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = Vec::new();
        if let Some(mut err) = err {
            let _ = err.read_to_end(&mut s);
        }
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if start.elapsed() > RUN_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("provero {args:?} did not finish within {RUN_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = String::from_utf8_lossy(&t_out.join().unwrap()).into_owned();
    let stderr = String::from_utf8_lossy(&t_err.join().unwrap()).into_owned();
    Output {
        code: status.code().unwrap_or(-1),
        stdout,
        stderr,
    }
}

/// A finding as the JSON report carries it.
#[derive(Clone, Debug)]
pub struct Finding {
    pub code: String,
    pub severity: String,
    pub path: Option<String>,
    pub message: String,
    /// The finding as the report has it (`mode`, `diff`, `rule`).
    pub json: Value,
}

/// The parsed JSON report.
#[derive(Clone, Debug)]
pub struct Report {
    pub json: Value,
}

impl Report {
    pub fn parse(text: &str, context: &Output) -> Report {
        let json: Value = serde_json::from_str(text).unwrap_or_else(|e| {
            panic!("report is not JSON ({e}):\n{}", context.dump());
        });
        assert!(
            json["results"].is_array(),
            "report has no results array:\n{json:#}"
        );
        assert!(
            json["summary"].is_object(),
            "report has no summary object:\n{json:#}"
        );
        Report { json }
    }

    pub fn results(&self) -> &Vec<Value> {
        self.json["results"].as_array().unwrap()
    }

    /// The single result for crate `name` (any version); panics if absent
    /// or ambiguous.
    pub fn result(&self, name: &str) -> PackageResult {
        let hits: Vec<&Value> = self
            .results()
            .iter()
            .filter(|r| r["package"]["name"] == name)
            .collect();
        assert_eq!(
            hits.len(),
            1,
            "expected exactly one result for {name}:\n{:#}",
            self.json
        );
        PackageResult {
            json: hits[0].clone(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct PackageResult {
    pub json: Value,
}

impl PackageResult {
    pub fn verdict(&self) -> &str {
        self.json["verdict"]
            .as_str()
            .unwrap_or_else(|| panic!("no verdict string in {:#}", self.json))
    }

    pub fn findings(&self) -> Vec<Finding> {
        self.json["findings"]
            .as_array()
            .unwrap_or_else(|| panic!("no findings array in {:#}", self.json))
            .iter()
            .map(|f| Finding {
                code: f["code"].as_str().expect("finding.code").to_string(),
                severity: f["severity"]
                    .as_str()
                    .expect("finding.severity")
                    .to_string(),
                path: f["path"].as_str().map(str::to_string),
                message: f["message"].as_str().unwrap_or_default().to_string(),
                json: f.clone(),
            })
            .collect()
    }

    pub fn with_code(&self, code: &str) -> Vec<Finding> {
        self.findings()
            .into_iter()
            .filter(|f| f.code == code)
            .collect()
    }

    pub fn red_flags(&self) -> Vec<Finding> {
        self.findings()
            .into_iter()
            .filter(|f| f.severity == "red-flag")
            .collect()
    }

    /// Assert the verdict, showing the whole result on failure.
    pub fn assert_verdict(&self, expected: &str) -> &Self {
        assert_eq!(
            self.verdict(),
            expected,
            "unexpected verdict for:\n{:#}",
            self.json
        );
        self
    }

    /// Assert there is a finding with this code and severity, at `path`
    /// when given (paths are relative to the package root, e.g.
    /// `src/lib.rs`). Returns it.
    pub fn assert_finding(&self, code: &str, severity: &str, path: Option<&str>) -> Finding {
        let found = self
            .findings()
            .into_iter()
            .find(|f| f.code == code && (path.is_none() || f.path.as_deref() == path));
        let f = found
            .unwrap_or_else(|| panic!("no finding {code} at {path:?}; result:\n{:#}", self.json));
        assert_eq!(
            f.severity, severity,
            "finding {code} has the wrong severity; result:\n{:#}",
            self.json
        );
        f
    }

    pub fn assert_no_finding(&self, code: &str) -> &Self {
        assert!(
            self.with_code(code).is_empty(),
            "unexpected finding {code}; result:\n{:#}",
            self.json
        );
        self
    }

    pub fn assert_no_red_flags(&self) -> &Self {
        assert!(
            self.red_flags().is_empty(),
            "unexpected red flags; result:\n{:#}",
            self.json
        );
        self
    }

    /// No red flag and no warning (info findings are fine).
    pub fn assert_clean(&self) -> &Self {
        let bad: Vec<Finding> = self
            .findings()
            .into_iter()
            .filter(|f| f.severity == "red-flag" || f.severity == "warning")
            .collect();
        assert!(
            bad.is_empty(),
            "expected no red flags or warnings, got {bad:?}; result:\n{:#}",
            self.json
        );
        self
    }

    pub fn commit(&self) -> Option<&str> {
        self.json["source"]["commit"].as_str()
    }
}

/// Run provero with `args` in a fresh temporary working directory:
/// `(exit code, stdout, stderr)`.
pub fn run_provero(args: &[&str]) -> (i32, String, String) {
    let cwd = tempfile::tempdir().unwrap();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let out = run_provero_in(cwd.path(), &args);
    (out.code, out.stdout, out.stderr)
}

/// Run provero with `args` (which should include `--format json`) and
/// parse the report from stdout.
pub fn run_provero_json(cwd: &Path, args: &[String]) -> (Output, Report) {
    let out = run_provero_in(cwd, args);
    out.assert_no_crash();
    let report = Report::parse(&out.stdout, &out);
    (out, report)
}

//! What provero owes each git host it fetches from: the token it sends, a bound on transfers in
//! flight, and patience with its rate limits.
//!
//! - **Tokens.** A host's token comes from an environment variable (`GITHUB_TOKEN` for
//!   `https://github.com/` by default; `[git-tokens]` in the configuration file names others).
//!   It reaches git as `http.<url>.extraHeader` through `GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_n`/
//!   `GIT_CONFIG_VALUE_n`: never in argv (which `ps` and the `-v` log show), never in a URL
//!   (which error messages and the store show), and scoped by git to that URL prefix, so a
//!   rewrite to a mirror or a redirect to another host does not carry it.
//! - **Rate limits.** A clone or fetch the host answered with HTTP 429, 503 or GitHub's 403
//!   rate limit is tried again after the host's `Retry-After` (or `x-ratelimit-reset`), read
//!   from git's own trace of that response (`GIT_TRACE_CURL`, headers only, kept in memory),
//!   else after an exponential backoff with jitter. Every transfer to that host waits out the
//!   same pause, and it is logged once per host, not once per package.
//! - **Concurrency.** At most [`PER_HOST`] clones or fetches run against one host at once.

use std::collections::HashMap;
use std::process::{Command, Output};
use std::sync::{Condvar, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::GitError;

/// Clones and fetches in flight against one git host.
pub const PER_HOST: usize = 4;

/// Attempts of one clone or fetch a host keeps rate-limiting, before it is an error.
const ATTEMPTS: u32 = 5;

/// The longest single wait: a host asking for more (GitHub's hourly reset) gets this, then
/// is asked again.
const LONGEST_WAIT: Duration = Duration::from_secs(900);

/// The built-in token: GitHub's, from the variable GitHub Actions and the `gh` CLI use.
const DEFAULT_TOKENS: [(&str, &str); 1] = [("https://github.com/", "GITHUB_TOKEN")];

fn tokens() -> &'static RwLock<Vec<(String, String)>> {
    static TOKENS: OnceLock<RwLock<Vec<(String, String)>>> = OnceLock::new();
    TOKENS.get_or_init(|| {
        RwLock::new(
            DEFAULT_TOKENS
                .iter()
                .map(|(u, v)| (u.to_string(), v.to_string()))
                .collect(),
        )
    })
}

/// Name the environment variable holding the token for each URL prefix (`[git-tokens]`);
/// a prefix named again replaces the built-in one.
pub fn set_tokens(by_prefix: &[(String, String)]) {
    let mut all = tokens().write().expect("git tokens");
    for (prefix, var) in by_prefix {
        all.retain(|(p, _)| p != prefix);
        all.push((prefix.clone(), var.clone()));
    }
}

/// Give `c` the token of every configured host whose variable is set, as git configuration in
/// its environment. Git sends each only to URLs under its prefix.
pub(super) fn add_tokens(c: &mut Command) {
    let all = tokens().read().expect("git tokens");
    let mut n = 0;
    for (prefix, var) in all.iter() {
        let Some(token) = std::env::var(var).ok().filter(|t| !t.trim().is_empty()) else {
            continue;
        };
        c.env(
            format!("GIT_CONFIG_KEY_{n}"),
            format!("http.{prefix}.extraHeader"),
        )
        .env(format!("GIT_CONFIG_VALUE_{n}"), header(token.trim()));
        n += 1;
    }
    c.env("GIT_CONFIG_COUNT", n.to_string());
}

/// The header a git host takes a token in: HTTP Basic with the token as the password (what
/// GitHub, GitLab, Gitea and Bitbucket accept for HTTPS git), user `x-access-token`.
pub fn header(token: &str) -> String {
    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("x-access-token:{token}"));
    format!("Authorization: Basic {basic}")
}

/// `scheme://host:port` of a remote URL; `None` for a local path or `file://`.
fn host_of(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    if !matches!(u.scheme(), "http" | "https") {
        return None;
    }
    Some(format!(
        "{}://{}:{}",
        u.scheme(),
        u.host_str()?,
        u.port_or_known_default()?
    ))
}

#[derive(Default)]
struct HostState {
    running: usize,
    /// No transfer starts before this (the host asked for a pause).
    paused_until: Option<Instant>,
    /// The pause was logged (once per host per run).
    warned: bool,
}

struct Hosts {
    by_host: Mutex<HashMap<String, HostState>>,
    changed: Condvar,
}

fn hosts() -> &'static Hosts {
    static HOSTS: OnceLock<Hosts> = OnceLock::new();
    HOSTS.get_or_init(|| Hosts {
        by_host: Mutex::new(HashMap::new()),
        changed: Condvar::new(),
    })
}

/// A transfer slot on one host, given back when dropped.
struct Slot(String);

impl Drop for Slot {
    fn drop(&mut self) {
        let h = hosts();
        if let Some(s) = h.by_host.lock().expect("git hosts").get_mut(&self.0) {
            s.running -= 1;
        }
        h.changed.notify_all();
    }
}

/// Wait for a slot on `host` and for its pause (if any) to pass. Blocking: git runs on
/// blocking threads.
fn slot(host: &str) -> Slot {
    let h = hosts();
    let mut map = h.by_host.lock().expect("git hosts");
    loop {
        let s = map.entry(host.to_string()).or_default();
        let now = Instant::now();
        match s.paused_until {
            Some(t) if t > now => {
                map = h.changed.wait_timeout(map, t - now).expect("git hosts").0;
            }
            _ if s.running >= PER_HOST => map = h.changed.wait(map).expect("git hosts"),
            _ => {
                s.running += 1;
                return Slot(host.to_string());
            }
        }
    }
}

/// Pause every transfer to `host` for `wait`; logged the first time only.
fn pause(host: &str, wait: Duration, why: &str) {
    let h = hosts();
    let mut map = h.by_host.lock().expect("git hosts");
    let s = map.entry(host.to_string()).or_default();
    let until = Instant::now() + wait;
    s.paused_until = Some(s.paused_until.map_or(until, |t| t.max(until)));
    if !s.warned {
        s.warned = true;
        tracing::warn!(
            "{host} is limiting requests ({why}): waiting {}s before fetching from it again \
             (later pauses of this host are not logged; set a token for it to get a higher limit)",
            wait.as_secs_f64().ceil()
        );
    } else {
        tracing::debug!("{host}: {why}; waiting {wait:?}");
    }
}

/// What git's trace said about the last HTTP response it received.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Answer {
    pub status: Option<u16>,
    pub retry_after: Option<Duration>,
    /// GitHub: `x-ratelimit-remaining: 0` with `x-ratelimit-reset` (epoch seconds).
    pub reset_in: Option<Duration>,
    pub exhausted: bool,
}

impl Answer {
    /// A rate limit to wait out, and how long the host asked for (if it said).
    fn limited(&self) -> Option<Option<Duration>> {
        let status = self.status?;
        let limited = status == 429
            || status == 503
            || (status == 403 && (self.exhausted || self.retry_after.is_some()));
        limited.then_some(self.retry_after.or(self.reset_in))
    }
}

/// Is this stderr line git's curl trace (`HH:MM:SS.micro http.c:NNN ...`)?
fn is_trace(line: &str) -> bool {
    let b = line.as_bytes();
    b.len() > 16
        && b[2] == b':'
        && b[5] == b':'
        && b[8] == b'.'
        && b[..8]
            .iter()
            .enumerate()
            .all(|(i, c)| i == 2 || i == 5 || c.is_ascii_digit())
}

/// Split git's stderr into its own messages and what the trace says about the last response.
/// Trace lines never leave this function (they could name a header the host set).
pub(super) fn read_trace(stderr: &[u8]) -> (Vec<u8>, Answer) {
    let text = String::from_utf8_lossy(stderr);
    let mut own = String::new();
    let mut answer = Answer::default();
    for line in text.lines() {
        if !is_trace(line) {
            own.push_str(line);
            own.push('\n');
            continue;
        }
        let Some((_, header)) = line.split_once("<= Recv header: ") else {
            continue;
        };
        let header = header.trim();
        if header.starts_with("HTTP/") {
            // A new response: what the previous one said no longer applies.
            answer = Answer {
                status: header
                    .split_whitespace()
                    .nth(1)
                    .and_then(|s| s.parse().ok()),
                ..Answer::default()
            };
            continue;
        }
        let Some((name, value)) = header.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "retry-after" => {
                answer.retry_after = crate::http::retry_after(value, SystemTime::now())
            }
            "x-ratelimit-remaining" => answer.exhausted = value == "0",
            "x-ratelimit-reset" => {
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                answer.reset_in = value
                    .parse::<u64>()
                    .ok()
                    .map(|t| Duration::from_secs(t.saturating_sub(now).max(1)));
            }
            _ => {}
        }
    }
    (own.into_bytes(), answer)
}

/// Run a clone or fetch `c` against `url`: a slot on its host, the host's token, and the
/// host's rate limits waited out. `before_retry` clears what a failed attempt left.
pub(super) fn run_remote(
    c: &mut Command,
    action: &str,
    url: &str,
    mut before_retry: impl FnMut(),
) -> Result<Output, GitError> {
    let Some(host) = host_of(url) else {
        return super::cli::run_ref(c, action, url);
    };
    // Headers only, in memory: the trace is read for Retry-After and then dropped.
    c.env("GIT_TRACE_CURL", "2")
        .env("GIT_TRACE_CURL_NO_DATA", "1")
        .env("GIT_TRACE_REDACT", "1");
    let mut attempt = 0;
    loop {
        attempt += 1;
        let out = {
            let _slot = slot(&host);
            crate::log::command(c);
            c.output()?
        };
        let (stderr, answer) = read_trace(&out.stderr);
        if out.status.success() {
            return Ok(Output { stderr, ..out });
        }
        match answer.limited() {
            Some(asked) if attempt < ATTEMPTS => {
                let backoff = Duration::from_secs(1 << attempt);
                let jitter = backoff.mul_f64(fastrand::f64() * 0.5);
                let wait = asked.unwrap_or(backoff + jitter).min(LONGEST_WAIT);
                let why = format!("HTTP {}", answer.status.unwrap_or(0));
                pause(&host, wait, &why);
                before_retry();
            }
            _ => {
                return Err(GitError::Failed {
                    action: action.to_string(),
                    url: url.to_string(),
                    stderr: crate::log::tool_stderr("git", action, &stderr),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trace_gives_the_last_answer_and_its_retry_after() {
        let stderr =
            b"21:30:00.000001 http.c:756 => Send header: Authorization: Basic <redacted>\n\
21:30:00.000002 http.c:756 <= Recv header: HTTP/1.1 301 Moved\n\
21:30:00.000003 http.c:756 <= Recv header: Retry-After: 99\n\
21:30:00.000004 http.c:756 <= Recv header: HTTP/2 429\n\
21:30:00.000005 http.c:756 <= Recv header: retry-after: 7\n\
fatal: unable to access 'https://h/x/': The requested URL returned error: 429\n";
        let (own, a) = read_trace(stderr);
        assert_eq!(a.status, Some(429));
        assert_eq!(a.retry_after, Some(Duration::from_secs(7)));
        assert_eq!(a.limited(), Some(Some(Duration::from_secs(7))));
        let own = String::from_utf8(own).unwrap();
        assert_eq!(
            own,
            "fatal: unable to access 'https://h/x/': The requested URL returned error: 429\n"
        );
    }

    #[test]
    fn only_rate_limits_are_waited_out() {
        let a = |status, exhausted, retry_after| Answer {
            status: Some(status),
            retry_after,
            reset_in: None,
            exhausted,
        };
        assert_eq!(a(503, false, None).limited(), Some(None));
        assert_eq!(a(403, true, None).limited(), Some(None));
        assert_eq!(a(403, false, None).limited(), None, "a plain 403 is final");
        assert_eq!(a(404, false, None).limited(), None);
        assert_eq!(Answer::default().limited(), None, "no HTTP answer at all");
        let gh = b"10:00:00.000000 http.c:1 <= Recv header: HTTP/2 403\n\
10:00:00.000000 http.c:1 <= Recv header: x-ratelimit-remaining: 0\n\
10:00:00.000000 http.c:1 <= Recv header: x-ratelimit-reset: 1\n";
        let (_, a) = read_trace(gh);
        assert!(a.exhausted);
        assert_eq!(a.limited(), Some(Some(Duration::from_secs(1))));
    }

    #[test]
    fn tokens_go_to_git_in_its_environment_scoped_to_a_prefix() {
        std::env::set_var("PROVERO_UNIT_TOKEN", "s3cret");
        set_tokens(&[("https://git.example/".into(), "PROVERO_UNIT_TOKEN".into())]);
        let mut c = Command::new("git");
        add_tokens(&mut c);
        let env: HashMap<String, String> = c
            .get_envs()
            .filter_map(|(k, v)| Some((k.to_str()?.into(), v?.to_str()?.into())))
            .collect();
        let n: usize = env["GIT_CONFIG_COUNT"].parse().unwrap();
        let i = (0..n)
            .find(|i| {
                env[&format!("GIT_CONFIG_KEY_{i}")] == "http.https://git.example/.extraHeader"
            })
            .expect("the configured prefix");
        assert_eq!(env[&format!("GIT_CONFIG_VALUE_{i}")], header("s3cret"));
        assert!(c
            .get_args()
            .all(|a| !a.to_string_lossy().contains("s3cret")));
        assert_eq!(
            host_of("https://github.com/a/b"),
            Some("https://github.com:443".into())
        );
        assert_eq!(host_of("file:///srv/m/b"), None);
    }
}

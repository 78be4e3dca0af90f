//! The configuration file: `provero.toml` in the working directory, or `--config FILE`. What a
//! nightly CI job or a registry team keeps in its repository instead of a long command line
//! (like cargo-deny's `deny.toml`): registries, URL rewrites, mode, the `fail-on` gate, allow
//! entries, jobs and the cache directory. Flags given on the command line win over the file.
//! Relative paths in the file are relative to the file's directory. Unknown keys and bad
//! values are errors naming the file, the line and the key. [`GateArgs`] are the flags that go
//! with it (`--config`, `--fail-on`, `--allow`, `--sign-key`); [`GateArgs::settle`] merges both.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::allow::{AllowList, RawEntry};
use crate::gate::FailOn;

/// The file looked for in the working directory when `--config` is not given.
pub const DEFAULT_FILE: &str = "provero.toml";

/// The ways of verifying a config file may name (`--mode`).
pub const MODES: [&str; 3] = ["diff", "rebuild", "both"];

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Raw {
    /// ECOSYSTEM = URL or profile file, as `--registry ECOSYSTEM=...`.
    #[serde(default)]
    registries: BTreeMap<String, String>,
    /// FROM = TO, as `--git-rewrite FROM=TO`.
    #[serde(default)]
    rewrites: BTreeMap<String, String>,
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    fail_on: Option<FailOn>,
    #[serde(default)]
    jobs: Option<usize>,
    #[serde(default)]
    cache_dir: Option<PathBuf>,
    /// A Sigstore `trusted_root.json`, as `--trust-root FILE` (relative to this file).
    #[serde(default)]
    trust_root: Option<PathBuf>,
    /// Git URL prefix = the environment variable holding that host's token.
    #[serde(default)]
    git_tokens: BTreeMap<String, String>,
    #[serde(default)]
    allow: Vec<RawEntry>,
}

/// A checked configuration file.
#[derive(Debug, Default)]
pub struct Config {
    /// The file it came from (`None`: no file).
    pub path: Option<PathBuf>,
    /// `ECOSYSTEM=VALUE`, in the form `--registry` takes (profile paths made absolute).
    pub registries: Vec<String>,
    /// `FROM=TO`, in the form `--git-rewrite` takes.
    pub rewrites: Vec<String>,
    pub mode: Option<String>,
    pub fail_on: Option<FailOn>,
    pub jobs: Option<usize>,
    pub cache_dir: Option<PathBuf>,
    pub trust_root: Option<PathBuf>,
    /// `(git URL prefix, environment variable)`: where each git host's token is read from
    /// (`crate::git::hosts`); the token itself is never in the file.
    pub git_tokens: Vec<(String, String)>,
    pub allow: AllowList,
}

impl Config {
    /// `--config FILE` (which must exist), else `provero.toml` in `cwd` if there is one, else
    /// an empty configuration.
    pub fn discover(explicit: Option<&Path>, cwd: &Path) -> Result<Config, String> {
        match explicit {
            Some(p) => Config::load(p),
            None => {
                let p = cwd.join(DEFAULT_FILE);
                if p.is_file() {
                    Config::load(&p)
                } else {
                    Ok(Config::default())
                }
            }
        }
    }

    pub fn load(path: &Path) -> Result<Config, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the configuration file {}: {e}", path.display()))?;
        let raw: Raw = toml::from_str(&text).map_err(|e| toml_error(path, &text, &e))?;
        let file = path.display().to_string();
        let dir = path.parent().unwrap_or(Path::new(""));
        let mut registries = Vec::new();
        for (eco, value) in raw.registries {
            if crate::ecosystem::Ecosystem::parse(&eco).is_none() {
                return Err(format!(
                    "{file}: registries.{eco}: unknown ecosystem `{eco}` (expected crates, pypi or gems)"
                ));
            }
            // A profile file is relative to this file; anything else is a URL.
            let value = if value.ends_with(".toml") && !value.contains("://") {
                let p = dir.join(&value);
                if !p.is_file() {
                    return Err(format!(
                        "{file}: registries.{eco}: the registry profile {} does not exist",
                        p.display()
                    ));
                }
                p.display().to_string()
            } else {
                value
            };
            registries.push(format!("{eco}={value}"));
        }
        let mut rewrites = Vec::new();
        for (from, to) in raw.rewrites {
            if from.is_empty() || to.is_empty() {
                return Err(format!(
                    "{file}: rewrites: `{from}` = `{to}`: both sides must be non-empty URL prefixes"
                ));
            }
            rewrites.push(format!("{from}={to}"));
        }
        if let Some(m) = &raw.mode {
            if !MODES.contains(&m.as_str()) {
                return Err(format!(
                    "{file}: mode = `{m}`: expected one of {}",
                    MODES.join(", ")
                ));
            }
        }
        let mut git_tokens = Vec::new();
        for (prefix, var) in raw.git_tokens {
            let remote = url::Url::parse(&prefix)
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
            if !remote {
                return Err(format!(
                    "{file}: git-tokens: `{prefix}` must be an http(s) URL prefix such as \
                     \"https://gitlab.com/\""
                ));
            }
            let name_ok =
                !var.is_empty() && var.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !name_ok {
                return Err(format!(
                    "{file}: git-tokens: `{prefix}`: the value names an environment variable \
                     (letters, digits, `_`) that holds the token, never the token itself \
                     (not shown here)"
                ));
            }
            git_tokens.push((prefix, var));
        }
        if raw.jobs == Some(0) {
            return Err(format!("{file}: jobs must be at least 1"));
        }
        let mut allow = AllowList::default();
        allow.add_raw(&file, raw.allow)?;
        Ok(Config {
            path: Some(path.to_path_buf()),
            registries,
            rewrites,
            mode: raw.mode,
            fail_on: raw.fail_on,
            jobs: raw.jobs,
            cache_dir: raw.cache_dir.map(|d| dir.join(d)),
            trust_root: raw.trust_root.map(|p| dir.join(p)),
            git_tokens,
            allow,
        })
    }
}

// ---- the gate flags and the file together (shared by `verify` and `report`)

/// The CI gate, accepted findings, the configuration file and attestation signing: shared by
/// `verify` and `report`.
#[derive(clap::Args, Debug)]
pub struct GateArgs {
    /// Read settings from FILE [default: provero.toml in the working directory, if present].
    /// Flags given here win over the file.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Exit 1 when any package reaches this level or a higher one (warning < unverifiable <
    /// red-flag < error); `unverifiable` also fails a run in which nothing was verified, `error`
    /// fails only on errors [default: red-flag].
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub fail_on: Option<FailOn>,

    /// Accepted findings (TOML `[[allow]]` entries): a matching finding is reported as
    /// `allowed` with its reason and does not count towards the verdict or the exit code.
    /// Repeatable.
    #[arg(long, value_name = "FILE")]
    pub allow: Vec<PathBuf>,

    /// Sign each in-toto statement (`--format intoto`) in a DSSE envelope with this Ed25519
    /// private key (PKCS#8 PEM, e.g. from `openssl genpkey -algorithm ed25519`).
    #[arg(long, value_name = "FILE")]
    pub sign_key: Option<PathBuf>,
}

/// What the gate flags and the configuration file settle together (flags win).
pub struct Gates {
    pub config: Config,
    pub fail_on: FailOn,
    pub allow: AllowList,
    pub signer: Option<crate::report::intoto::SigningKey>,
}

impl Gates {
    /// A signing key with no in-toto output would be ignored: say so instead.
    pub fn check_signing(
        &self,
        targets: &[crate::report::output::Target],
        on_stdout: Option<crate::report::Format>,
    ) -> anyhow::Result<()> {
        let attests = on_stdout == Some(crate::report::Format::Intoto)
            || targets
                .iter()
                .any(|t| t.format == crate::report::Format::Intoto);
        if self.signer.is_some() && !attests {
            anyhow::bail!(
                "--sign-key signs in-toto statements: add --format intoto or --output FILE.intoto.jsonl"
            );
        }
        Ok(())
    }
}

impl GateArgs {
    pub fn settle(&self) -> anyhow::Result<Gates> {
        let cwd = std::env::current_dir()?;
        let mut config =
            Config::discover(self.config.as_deref(), &cwd).map_err(anyhow::Error::msg)?;
        let fail_on = self.fail_on.or(config.fail_on).unwrap_or_default();
        let mut allow = std::mem::take(&mut config.allow);
        for f in &self.allow {
            allow.extend(AllowList::load(f).map_err(anyhow::Error::msg)?);
        }
        let signer = self
            .sign_key
            .as_deref()
            .map(crate::report::intoto::SigningKey::load)
            .transpose()
            .map_err(anyhow::Error::msg)?;
        Ok(Gates {
            config,
            fail_on,
            allow,
            signer,
        })
    }
}

/// A TOML or schema error as one line: `FILE:LINE: key `k`: message`.
pub fn toml_error(path: &Path, text: &str, e: &toml::de::Error) -> String {
    let msg = e.message().trim();
    let Some(span) = e.span() else {
        return format!("{}: {msg}", path.display());
    };
    let start = span.start.min(text.len());
    let line_no = text[..start].matches('\n').count() + 1;
    let line = text[..].lines().nth(line_no - 1).unwrap_or_default();
    // Name the key when the message does not (a bad value says only what it expected).
    let key = line
        .split_once('=')
        .map(|(k, _)| k.trim().trim_matches('"'))
        .filter(|k| !k.is_empty() && !msg.contains(&format!("`{k}`")));
    match key {
        Some(k) => format!("{}:{line_no}: `{k}`: {msg}", path.display()),
        None => format!("{}:{line_no}: {msg}", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str) -> PathBuf {
        let p = dir.join(DEFAULT_FILE);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn every_key_is_read_and_paths_are_relative_to_the_file() {
        let d = tempfile::tempdir().unwrap();
        let p = write(
            d.path(),
            r#"
fail-on = "unverifiable"
jobs = 3
cache-dir = "cache"
mode = "diff"

[registries]
crates = "http://127.0.0.1:9/index/"
pypi = "mirror.toml"

[rewrites]
"https://github.com/" = "file:///srv/mirror/"

[git-tokens]
"https://gitlab.com/" = "GITLAB_TOKEN"

[[allow]]
package = "crates:a@1.0.0"
code = "dirty"
reason = "reviewed"
"#,
        );
        let e = Config::discover(None, d.path()).unwrap_err();
        assert!(e.contains("registries.pypi: the registry profile"), "{e}");
        std::fs::write(d.path().join("mirror.toml"), "").unwrap();
        let c = Config::discover(None, d.path()).unwrap();
        assert_eq!(c.path.as_deref(), Some(p.as_path()));
        assert_eq!(c.fail_on, Some(FailOn::Unverifiable));
        assert_eq!(c.jobs, Some(3));
        assert_eq!(c.cache_dir, Some(d.path().join("cache")));
        assert_eq!(c.mode.as_deref(), Some("diff"));
        assert_eq!(
            c.registries,
            vec![
                "crates=http://127.0.0.1:9/index/".to_string(),
                format!("pypi={}", d.path().join("mirror.toml").display()),
            ]
        );
        assert_eq!(c.rewrites, vec!["https://github.com/=file:///srv/mirror/"]);
        assert_eq!(
            c.git_tokens,
            vec![(
                "https://gitlab.com/".to_string(),
                "GITLAB_TOKEN".to_string()
            )]
        );
        assert_eq!(c.allow.entries.len(), 1);
    }

    #[test]
    fn a_git_token_entry_names_a_variable_never_the_token() {
        let d = tempfile::tempdir().unwrap();
        for (text, says) in [
            (
                "[git-tokens]\n\"https://gitlab.com/\" = \"glpat-abc.def\"\n",
                "names an environment variable",
            ),
            (
                "[git-tokens]\n\"gitlab.com\" = \"GITLAB_TOKEN\"\n",
                "must be an http(s) URL prefix",
            ),
        ] {
            let p = write(d.path(), text);
            let e = Config::load(&p).unwrap_err();
            assert!(e.contains(says), "{text}: {e}");
            assert!(
                !e.contains("glpat-abc"),
                "a mistaken token is not echoed: {e}"
            );
        }
    }

    #[test]
    fn no_file_is_an_empty_config_but_a_named_missing_file_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        let c = Config::discover(None, d.path()).unwrap();
        assert!(c.path.is_none() && c.registries.is_empty() && c.fail_on.is_none());
        let e = Config::discover(Some(&d.path().join("nope.toml")), d.path()).unwrap_err();
        assert!(e.contains("nope.toml"), "{e}");
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_file_line_and_key() {
        let d = tempfile::tempdir().unwrap();
        for (text, says) in [
            (
                "jobs = 2\nfail_fast = true\n",
                ":2: unknown field `fail_fast`",
            ),
            (
                "fail-on = \"sometimes\"\n",
                ":1: `fail-on`: unknown variant `sometimes`",
            ),
            ("jobs = \"many\"\n", ":1: `jobs`: invalid type"),
            ("jobs = 0\n", "jobs must be at least 1"),
            (
                "mode = \"guess\"\n",
                "mode = `guess`: expected one of diff, rebuild, both",
            ),
            (
                "[registries]\nnpm = \"http://x/\"\n",
                "registries.npm: unknown ecosystem",
            ),
            (
                "[[allow]]\npackage = \"crates:a@1.0.0\"\ncode = \"nope\"\nreason = \"r\"\n",
                "allow entry 1: unknown finding code `nope`",
            ),
        ] {
            let p = write(d.path(), text);
            let e = Config::load(&p).unwrap_err();
            assert!(e.starts_with(&p.display().to_string()), "{e}");
            assert!(e.contains(says), "{text:?}: {e}");
            assert!(!e.contains('\n'), "{e}");
        }
    }
}

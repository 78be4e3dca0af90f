//! Where the work list comes from: specs on the command line, `-` (stdin), `--list` files and
//! `--lockfile` files. Every line or lockfile entry becomes an [`Input`]: a spec to verify, a
//! bad line (reported with its file and line number, the run goes on), or an entry that is
//! deliberately not checked (a git or path dependency in a lockfile).
//!
//! Lockfiles are told apart by file name in [`parse_lockfile`]: the one place that lists every
//! lockfile kind, each handed to its ecosystem's `lockfile` module.

use std::path::{Path, PathBuf};

use crate::report::{InputError, LockfileLine, SkippedInput};
use crate::spec::Spec;

/// One line of input: a spec, what was wrong with it, or why it is not checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Spec(Spec),
    Bad(InputError),
    /// Not a registry package (git or path dependency): reported, not an error.
    Skipped(SkippedInput),
}

/// Specs from the command line, `-` (stdin), `--list` files and `--lockfile` files, in that order.
pub fn collect_inputs(
    specs: &[String],
    lists: &[PathBuf],
    lockfiles: &[PathBuf],
) -> anyhow::Result<Vec<Input>> {
    let mut out = Vec::new();
    for s in specs {
        if s == "-" {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                .map_err(|e| anyhow::anyhow!("cannot read specs from standard input: {e}"))?;
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
    for l in lockfiles {
        match parse_lockfile(l) {
            Ok(inputs) => out.extend(inputs),
            // A lockfile that cannot be read at all is one bad input; the others still run.
            Err(message) => out.push(Input::Bad(InputError {
                input: l.display().to_string(),
                message,
            })),
        }
    }
    Ok(out)
}

/// One spec per line; `#` starts a comment; blank lines are skipped. A bad line becomes
/// [`Input::Bad`] naming the file and line, so one typo does not stop a list of thousands.
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

/// Read a lockfile, choosing the parser by file name. `Err` when the file as a whole cannot be
/// used (unreadable, not a lockfile provero knows); bad entries inside are [`Input::Bad`].
pub fn parse_lockfile(path: &Path) -> Result<Vec<Input>, String> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let origin = path.display().to_string();
    let read = || {
        std::fs::read_to_string(path).map_err(|e| format!("cannot read the lockfile {origin}: {e}"))
    };
    match LockKind::of(&name) {
        Some(LockKind::Cargo) => Ok(crate::crates::lockfile::parse_cargo_lock(&read()?, &origin)),
        Some(LockKind::Requirements) => Ok(python_inputs(
            crate::pypi::lockfile::parse_requirements_full(&read()?),
            &origin,
        )),
        Some(LockKind::UvLock) => Ok(python_inputs(
            crate::pypi::lockfile::parse_uv_lock(&read()?).map_err(|e| format!("{origin}: {e}"))?,
            &origin,
        )),
        Some(LockKind::PoetryLock) => Err(format!(
            "{origin}: poetry.lock is not supported yet; export it with `poetry export` to a requirements.txt"
        )),
        Some(LockKind::GemfileLock) => Ok(crate::gems::lockfile::parse_gemfile_lock(&read()?, &origin)),
        None => Err(format!(
            "{origin}: not a lockfile provero knows by its name (expected Cargo.lock, \
             requirements*.txt, uv.lock, poetry.lock or Gemfile.lock)"
        )),
    }
}

/// Pins become specs; bad lines errors naming the line; skipped lines (options, git or path
/// sources, editables) are reported as skipped.
fn python_inputs(parsed: crate::pypi::lockfile::Parsed, origin: &str) -> Vec<Input> {
    let mut out: Vec<Input> = parsed
        .entries
        .into_iter()
        .map(|e| match e {
            Ok(p) => Input::Spec(Spec {
                hashes: p.sha256,
                origin: (p.line > 0).then(|| LockfileLine {
                    path: origin.to_string(),
                    line: p.line,
                }),
                ..p.spec
            }),
            Err(m) => Input::Bad(InputError {
                input: origin.to_string(),
                message: format!("{origin}: {m}"),
            }),
        })
        .collect();
    out.extend(parsed.notes.into_iter().map(|n| {
        Input::Skipped(SkippedInput {
            input: origin.to_string(),
            reason: n,
        })
    }));
    out
}

/// The lockfile kinds, by the file names their tools write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockKind {
    Cargo,
    Requirements,
    UvLock,
    PoetryLock,
    GemfileLock,
}

impl LockKind {
    pub fn of(file_name: &str) -> Option<LockKind> {
        match file_name {
            "Cargo.lock" => Some(LockKind::Cargo),
            "uv.lock" => Some(LockKind::UvLock),
            "poetry.lock" => Some(LockKind::PoetryLock),
            "Gemfile.lock" | "gems.locked" => Some(LockKind::GemfileLock),
            n if n.starts_with("requirements") && n.ends_with(".txt") => {
                Some(LockKind::Requirements)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::VersionReq;

    #[test]
    fn list_lines_comments_and_bad_lines_with_numbers() {
        let text = "# top crates\ncrates:serde@1.0.0\n\n  crates:rand  # trailing comment\nserde\nnpm:left-pad\n";
        let got = parse_list(text, "top.txt");
        assert_eq!(got.len(), 4);
        assert!(
            matches!(&got[0], Input::Spec(s) if s.name == "serde" && s.version == VersionReq::Exact("1.0.0".into()))
        );
        assert!(
            matches!(&got[1], Input::Spec(s) if s.name == "rand" && s.version == VersionReq::Latest)
        );
        let Input::Bad(e) = &got[2] else {
            panic!("line 5 is bad")
        };
        assert!(e.message.starts_with("top.txt, line 5: "), "{}", e.message);
        assert_eq!(e.input, "serde");
        let Input::Bad(e) = &got[3] else {
            panic!("line 6 is bad")
        };
        assert!(
            e.message.contains("line 6") && e.message.contains("unknown ecosystem"),
            "{}",
            e.message
        );
    }

    #[test]
    fn lockfile_kinds_by_name() {
        assert_eq!(LockKind::of("Cargo.lock"), Some(LockKind::Cargo));
        assert_eq!(
            LockKind::of("requirements-dev.txt"),
            Some(LockKind::Requirements)
        );
        assert_eq!(LockKind::of("uv.lock"), Some(LockKind::UvLock));
        assert_eq!(LockKind::of("Gemfile.lock"), Some(LockKind::GemfileLock));
        assert_eq!(LockKind::of("package-lock.json"), None);
    }

    #[test]
    fn unknown_and_unsupported_lockfiles_say_so() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("package-lock.json");
        std::fs::write(&p, "{}").unwrap();
        assert!(parse_lockfile(&p).unwrap_err().contains("not a lockfile"));
        let g = dir.path().join("poetry.lock");
        std::fs::write(&g, "").unwrap();
        assert!(parse_lockfile(&g)
            .unwrap_err()
            .contains("not supported yet"));
    }
}

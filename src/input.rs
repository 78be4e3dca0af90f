//! Where the work list comes from: specs on the command line, `-` (stdin), `--list` files and
//! `--lockfile` files. Every line or lockfile entry becomes an [`Input`]: a spec to verify, a
//! bad line (reported with its file and line number, the run goes on), or an entry that is
//! deliberately not checked (a git or path dependency in a lockfile).
//!
//! Lockfiles are told apart by file name in [`parse_lockfile`]: the one place that lists every
//! lockfile kind, each handed to its ecosystem's `lockfile` module.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::report::{InputError, LockfileLine, SkippedInput};
use crate::shard::Shard;
use crate::spec::{Spec, VersionReq};

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
    Ok(collect_inputs_for(specs, lists, lockfiles, None)?.0)
}

/// [`collect_inputs`], keeping only `shard`'s part of the `--list` lines that name one
/// version or the newest: a list of a whole registry (millions of lines) is read line by
/// line and only this shard's lines are held. The part is chosen by the same key the work
/// list shards by ([`crate::engine::Work::key`]), so it is what the run would keep; `@*` and
/// name patterns are sharded after they are expanded. Also says how many lines another shard
/// owns.
pub fn collect_inputs_for(
    specs: &[String],
    lists: &[PathBuf],
    lockfiles: &[PathBuf],
    shard: Option<Shard>,
) -> anyhow::Result<(Vec<Input>, usize)> {
    let mut out = Vec::new();
    let mut elsewhere = 0;
    for s in specs {
        if s == "-" {
            out.extend(parse_list(&read_stdin()?, "<stdin>"));
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
        // `--list -` is standard input, like a `-` spec.
        if l.as_os_str() == "-" {
            out.extend(parse_list(&read_stdin()?, "<stdin>"));
            continue;
        }
        let cannot =
            |e: std::io::Error| anyhow::anyhow!("cannot read the list {}: {e}", l.display());
        let file = std::fs::File::open(l).map_err(cannot)?;
        let origin = l.display().to_string();
        let reader = std::io::BufReader::with_capacity(1 << 16, file);
        for (i, line) in std::io::BufRead::lines(reader).enumerate() {
            let line = line.map_err(cannot)?;
            let line = if i == 0 { strip_bom(&line) } else { &line };
            let Some(input) = parse_line(line, i, &origin) else {
                continue;
            };
            if let (Some(s), Input::Spec(spec)) = (shard, &input) {
                if shard_key(spec).is_some_and(|k| !s.owns(&k)) {
                    elsewhere += 1;
                    continue;
                }
            }
            out.push(input);
        }
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
    Ok((out, elsewhere))
}

/// The key a spec's work is sharded by, when it is known before expansion (one version, or
/// the newest, of one package).
fn shard_key(spec: &Spec) -> Option<String> {
    if crate::listing::is_listing(spec) {
        return None;
    }
    let h = spec.ecosystem.handler();
    let version = match &spec.version {
        VersionReq::All => return None,
        VersionReq::Latest => None,
        VersionReq::Exact(v) => Some(h.canonical_version(v)),
    };
    let mut key = String::new();
    crate::worklist::write_key(
        &mut key,
        spec.ecosystem,
        &h.canonical_name(&spec.name),
        version.as_deref(),
    );
    Some(key)
}

fn read_stdin() -> anyhow::Result<String> {
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
        .map_err(|e| anyhow::anyhow!("cannot read specs from standard input: {e}"))?;
    Ok(strip_bom(&text).to_string())
}

/// A text file, without the UTF-8 byte order mark editors on Windows put first (it would
/// otherwise be part of the first spec's ecosystem name).
fn read_text(path: &Path) -> std::io::Result<String> {
    let text = std::fs::read_to_string(path)?;
    Ok(match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_string(),
        None => text,
    })
}

fn strip_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// One spec per line; `#` starts a comment; blank lines are skipped. A bad line becomes
/// [`Input::Bad`] naming the file and line, so one typo does not stop a list of thousands.
pub fn parse_list(text: &str, origin: &str) -> Vec<Input> {
    strip_bom(text)
        .lines()
        .enumerate()
        .filter_map(|(i, line)| parse_line(line, i, origin))
        .collect()
}

/// Line `i` (from 0) of a list.
fn parse_line(line: &str, i: usize, origin: &str) -> Option<Input> {
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
}

/// Read a lockfile, choosing the parser by file name. `Err` when the file as a whole cannot be
/// used (unreadable, not a lockfile provero knows); bad entries inside are [`Input::Bad`].
pub fn parse_lockfile(path: &Path) -> Result<Vec<Input>, String> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let origin = path.display().to_string();
    let read = || read_text(path).map_err(|e| format!("cannot read the lockfile {origin}: {e}"));
    match LockKind::of(&name) {
        Some(LockKind::Cargo) => Ok(crate::crates::lockfile::parse_cargo_lock(&read()?, &origin)),
        Some(LockKind::Requirements) => {
            let mut seen = HashSet::new();
            seen.insert(std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()));
            Ok(requirements_inputs(path, &read()?, &mut seen, 0))
        }
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

/// How deep `-r` includes may nest (a guard beside the loop check).
const MAX_INCLUDE_DEPTH: usize = 16;

/// A requirements file and, recursively, the files its `-r` lines include (relative to the
/// including file, as pip reads them). A file already read in this chain or elsewhere is not
/// read again, so an include loop ends.
fn requirements_inputs(
    path: &Path,
    text: &str,
    seen: &mut HashSet<PathBuf>,
    depth: usize,
) -> Vec<Input> {
    let origin = path.display().to_string();
    let parsed = crate::pypi::lockfile::parse_requirements_full(text);
    let includes = parsed.includes.clone();
    let mut out = python_inputs(parsed, &origin);
    let base = path.parent().unwrap_or(Path::new(""));
    for (line, rel) in includes {
        let included = base.join(&rel);
        let shown = included.display().to_string();
        let key = std::fs::canonicalize(&included).unwrap_or_else(|_| included.clone());
        if !seen.insert(key) {
            out.push(Input::Skipped(SkippedInput {
                input: origin.clone(),
                reason: format!("line {line}: `-r {rel}` was already read; not read again"),
            }));
            continue;
        }
        if depth >= MAX_INCLUDE_DEPTH {
            out.push(Input::Bad(InputError {
                input: origin.clone(),
                message: format!(
                    "{origin}, line {line}: `-r {rel}` nests more than {MAX_INCLUDE_DEPTH} files deep"
                ),
            }));
            continue;
        }
        match read_text(&included) {
            Ok(t) => out.extend(requirements_inputs(&included, &t, seen, depth + 1)),
            Err(e) => out.push(Input::Bad(InputError {
                input: origin.clone(),
                message: format!(
                    "{origin}, line {line}: cannot read the included file {shown}: {e}"
                ),
            })),
        }
    }
    out
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
    /// The file names `--lockfile` accepts (its `--help` names every one; a test checks).
    pub const ACCEPTED: [&'static str; 5] = [
        "Cargo.lock",
        "requirements*.txt",
        "uv.lock",
        "Gemfile.lock",
        "gems.locked",
    ];

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
    fn a_sharded_list_keeps_what_the_work_list_would_and_every_expansion() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("all.txt");
        let mut text =
            String::from("\u{feff}crates:itoa@*\ncrates:tokio-*@*\npypi:django-*\nnot a spec\n");
        for i in 0..200 {
            text.push_str(&format!(
                "crates:c{i}@1.0.{i}\npypi:Zope_Interface{i}@{i}.0.0\ncrates:n{i}\n"
            ));
        }
        std::fs::write(&p, &text).unwrap();
        let all = collect_inputs(&[], std::slice::from_ref(&p), &[]).unwrap();
        assert_eq!(all.len(), 604);
        let work_key = |i: &Input| match i {
            Input::Spec(s) => Some(
                crate::engine::Work {
                    ecosystem: s.ecosystem,
                    name: s.name.clone(),
                    version: match &s.version {
                        VersionReq::Exact(v) => Some(v.clone()),
                        _ => None,
                    },
                    pins: Vec::new(),
                    origin: None,
                }
                .key(),
            ),
            _ => None,
        };
        let mut kept = 0;
        for index in 0..3 {
            let shard = Shard { index, count: 3 };
            let (part, elsewhere) =
                collect_inputs_for(&[], std::slice::from_ref(&p), &[], Some(shard)).unwrap();
            // `@*`, patterns and bad lines are in every part (sharded after expansion).
            assert_eq!(&part[..4], &all[..4]);
            assert_eq!(part.len() - 4 + elsewhere, 600);
            for i in &part[4..] {
                assert!(shard.owns(&work_key(i).unwrap()), "{i:?}");
            }
            kept += part.len() - 4;
        }
        assert_eq!(kept, 600, "every one-version line in exactly one part");
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
    fn every_accepted_name_is_a_kind() {
        for n in LockKind::ACCEPTED {
            assert!(LockKind::of(&n.replace('*', "-dev")).is_some(), "{n}");
        }
    }

    #[test]
    fn a_byte_order_mark_is_not_part_of_the_first_spec() {
        let got = parse_list("\u{feff}crates:serde@1.0.0\npypi:click\n", "bom.txt");
        assert!(
            matches!(&got[0], Input::Spec(s) if s.name == "serde"),
            "{got:?}"
        );
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("requirements.txt");
        std::fs::write(&p, "\u{feff}click==8.1.7\n").unwrap();
        let got = parse_lockfile(&p).unwrap();
        assert!(
            matches!(&got[..], [Input::Spec(s)] if s.name == "click"),
            "{got:?}"
        );
    }

    #[test]
    fn requirement_includes_are_followed_relative_to_the_file_and_loops_end() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("req")).unwrap();
        std::fs::write(
            dir.path().join("requirements.txt"),
            "-r req/base.txt\nclick==8.1.7\n-r missing.txt\n",
        )
        .unwrap();
        // `base.txt` includes its sibling and, in a loop, the file that included it.
        std::fs::write(
            dir.path().join("req/base.txt"),
            "attrs==24.2.0\n-r more.txt\n-r ../requirements.txt\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("req/more.txt"), "six==1.16.0\n").unwrap();
        let got = parse_lockfile(&dir.path().join("requirements.txt")).unwrap();
        let names: Vec<&str> = got
            .iter()
            .filter_map(|i| match i {
                Input::Spec(s) => Some(s.name.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(names, ["click", "attrs", "six"], "{got:?}");
        let bad: Vec<&InputError> = got
            .iter()
            .filter_map(|i| match i {
                Input::Bad(e) => Some(e),
                _ => None,
            })
            .collect();
        assert_eq!(bad.len(), 1, "{got:?}");
        assert!(
            bad[0].message.contains("line 3") && bad[0].message.contains("missing.txt"),
            "{}",
            bad[0].message
        );
        assert!(got
            .iter()
            .any(|i| matches!(i, Input::Skipped(s) if s.reason.contains("already read"))));
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

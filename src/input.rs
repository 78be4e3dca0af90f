//! Where the work list comes from: specs on the command line, `-` (stdin), `--list` files and
//! `--lockfile` files. Every line or lockfile entry becomes an [`Input`]: a spec to verify, a
//! bad line (reported with its file and line number, the run goes on), or an entry that is
//! deliberately not checked (a git or path dependency in a lockfile).
//!
//! Lockfiles are told apart by file name in [`parse_lockfile`]: the one place that lists every
//! lockfile kind, each handed to its ecosystem's `lockfile` module.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use crate::ecosystem::Ecosystem;
use crate::preflight::PROBES;
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

/// The inputs of a run, in the order given: command-line specs (`-`: standard input), `--list`
/// files, `--lockfile` files. A `--list` file is never held: it is read line by line twice,
/// once by [`Inputs::open`] (what the registry checks need, and an unreadable file fails the
/// run before any work) and once as the run builds its work list from [`Inputs::iter`].
/// Standard input, which cannot be read twice, is copied to an anonymous file first and read
/// the same way. A list of a whole registry (millions of lines) so costs what the work list
/// holds (`src/worklist/`), not a [`Spec`] per line nor its text.
pub struct Inputs {
    parts: Vec<Part>,
    probes: BTreeMap<Ecosystem, Vec<String>>,
    any: bool,
    /// Applied to the one-version lines of `--list` files as they are read (as the work list
    /// would: the same key), so another shard's lines cost no more than their reading.
    shard: Option<Shard>,
}

enum Part {
    /// A command-line spec, or a lockfile's entries: small, read once and held.
    Held(Vec<Input>),
    /// What standard input gave (it cannot be read twice), copied as it came to an anonymous
    /// file in the cache directory, then read like a `--list` file.
    Stdin(std::fs::File),
    /// A `--list` file.
    List(PathBuf),
}

impl Inputs {
    /// Read the command line's specs, standard input and the lockfiles, and each `--list` file
    /// once through. Of a `--list` file's lines that name one version (or the newest) of one
    /// package only `shard`'s are given and probed; `@*` and patterns are sharded after they
    /// are expanded, the other inputs by the work list.
    /// Standard input is copied to an anonymous file in `spool` (the cache directory).
    pub fn open(
        specs: &[String],
        lists: &[PathBuf],
        lockfiles: &[PathBuf],
        shard: Option<Shard>,
        spool: &Path,
    ) -> anyhow::Result<Inputs> {
        let mut parts = Vec::new();
        for s in specs {
            parts.push(if s == "-" {
                Part::Stdin(spool_stdin(spool)?)
            } else {
                Part::Held(vec![match Spec::parse(s) {
                    Ok(spec) => Input::Spec(spec),
                    Err(message) => Input::Bad(InputError {
                        input: s.clone(),
                        message,
                    }),
                }])
            });
        }
        for l in lists {
            // `--list -` is standard input, like a `-` spec.
            parts.push(if l.as_os_str() == "-" {
                Part::Stdin(spool_stdin(spool)?)
            } else {
                Part::List(l.clone())
            });
        }
        for l in lockfiles {
            parts.push(Part::Held(match parse_lockfile(l) {
                Ok(inputs) => inputs,
                // A lockfile that cannot be read at all is one bad input; the others still run.
                Err(message) => vec![Input::Bad(InputError {
                    input: l.display().to_string(),
                    message,
                })],
            }));
        }
        let mut inputs = Inputs {
            parts,
            probes: BTreeMap::new(),
            any: false,
            shard,
        };
        inputs.scan()?;
        Ok(inputs)
    }

    /// Go through every input once: is there any, and which names probe each registry.
    fn scan(&mut self) -> anyhow::Result<()> {
        for part in &self.parts {
            let shard = part.shard(self.shard);
            for input in part.inputs() {
                self.any = true;
                let Input::Spec(spec) = input? else {
                    continue;
                };
                let names = self.probes.get(&spec.ecosystem);
                if names.is_some_and(|n| n.len() >= PROBES || n.contains(&spec.name)) {
                    continue;
                }
                if elsewhere(shard, &spec) {
                    continue;
                }
                self.probes
                    .entry(spec.ecosystem)
                    .or_default()
                    .push(spec.name);
            }
        }
        Ok(())
    }

    /// No input at all (not even a bad line).
    pub fn is_empty(&self) -> bool {
        !self.any
    }

    /// A few distinct package names per ecosystem the specs use, to probe each registry with
    /// (`--list` lines only where this shard keeps them); every ecosystem named is there.
    pub fn probes(&self) -> &BTreeMap<Ecosystem, Vec<String>> {
        &self.probes
    }

    /// Every input in order (a `--list` file's lines this shard keeps), each `--list` file
    /// read again as it is taken. `Err`: a file that could be read when opened cannot be now.
    pub fn iter(&self) -> impl Iterator<Item = anyhow::Result<Input>> + Send + '_ {
        self.parts.iter().flat_map(|part| {
            let shard = part.shard(self.shard);
            part.inputs()
                .filter(move |i| !matches!(i, Ok(Input::Spec(s)) if elsewhere(shard, s)))
        })
    }
}

/// Does another shard own this spec's one version (never for `@*` and patterns)?
fn elsewhere(shard: Option<Shard>, spec: &Spec) -> bool {
    shard.is_some_and(|s| shard_key(spec).is_some_and(|k| !s.owns(&k)))
}

impl Part {
    /// Only a `--list` file's (and standard input's) lines are sharded before they are
    /// expanded.
    fn shard(&self, shard: Option<Shard>) -> Option<Shard> {
        shard.filter(|_| matches!(self, Part::List(_) | Part::Stdin(_)))
    }

    fn inputs(&self) -> Box<dyn Iterator<Item = anyhow::Result<Input>> + Send + '_> {
        match self {
            Part::Held(inputs) => Box::new(inputs.iter().cloned().map(Ok)),
            Part::Stdin(file) => Box::new(ListLines {
                from: From::Stdin(file),
                origin: STDIN.to_string(),
                reader: None,
                line: String::new(),
                at: 0,
                done: false,
            }),
            Part::List(path) => Box::new(ListLines {
                from: From::Path(path),
                origin: path.display().to_string(),
                reader: None,
                line: String::new(),
                at: 0,
                done: false,
            }),
        }
    }
}

/// How standard input is named in errors.
const STDIN: &str = "<stdin>";

/// The inputs of a `--list` file as they are taken: one line in memory at a time.
struct ListLines<'a> {
    from: From<'a>,
    origin: String,
    reader: Option<std::io::BufReader<Box<dyn std::io::Read + Send + 'a>>>,
    /// The line being read (its buffer reused).
    line: String,
    /// The number of the next line, from 0.
    at: usize,
    done: bool,
}

/// Where a [`ListLines`] reads from.
#[derive(Clone, Copy)]
enum From<'a> {
    Path(&'a Path),
    /// Standard input, spooled.
    Stdin(&'a std::fs::File),
}

impl<'a> Iterator for ListLines<'a> {
    type Item = anyhow::Result<Input>;

    fn next(&mut self) -> Option<anyhow::Result<Input>> {
        if self.done {
            return None;
        }
        let from = self.from;
        let cannot = |e: std::io::Error| match from {
            From::Path(path) => anyhow::anyhow!("cannot read the list {}: {e}", path.display()),
            From::Stdin(_) => anyhow::anyhow!("cannot read specs from standard input: {e}"),
        };
        if self.reader.is_none() {
            let opened: std::io::Result<Box<dyn std::io::Read + Send + 'a>> = match from {
                From::Path(path) => std::fs::File::open(path).map(|f| Box::new(f) as Box<_>),
                From::Stdin(file) => Ok(Box::new(crate::spill::ReadAt { file, at: 0 })),
            };
            match opened {
                Ok(f) => self.reader = Some(std::io::BufReader::with_capacity(1 << 16, f)),
                Err(e) => {
                    self.done = true;
                    return Some(Err(cannot(e)));
                }
            }
        }
        let reader = self.reader.as_mut()?;
        loop {
            self.line.clear();
            match std::io::BufRead::read_line(reader, &mut self.line) {
                Ok(0) => {
                    self.done = true;
                    return None;
                }
                Ok(_) => {}
                Err(e) => {
                    self.done = true;
                    return Some(Err(cannot(e)));
                }
            }
            let i = self.at;
            self.at += 1;
            let line = if i == 0 {
                strip_bom(&self.line)
            } else {
                &self.line
            };
            if let Some(input) = parse_line(line, i, &self.origin) {
                return Some(Ok(input));
            }
        }
    }
}

/// Every input of [`Inputs::open`], in order, held.
pub fn collect_inputs(
    specs: &[String],
    lists: &[PathBuf],
    lockfiles: &[PathBuf],
) -> anyhow::Result<Vec<Input>> {
    Inputs::open(specs, lists, lockfiles, None, &std::env::temp_dir())?
        .iter()
        .collect()
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

/// Standard input copied to an anonymous file in `dir` (unlinked while open), as it comes: a
/// whole registry's list piped in is never held in memory.
fn spool_stdin(dir: &Path) -> anyhow::Result<std::fs::File> {
    let mut file = std::fs::create_dir_all(dir)
        .and_then(|()| tempfile::tempfile_in(dir))
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot keep the specs from standard input in {}: {e}",
                dir.display()
            )
        })?;
    std::io::copy(&mut std::io::stdin().lock(), &mut file)
        .map_err(|e| anyhow::anyhow!("cannot read specs from standard input: {e}"))?;
    Ok(file)
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
    fn a_sharded_list_gives_and_probes_what_the_work_list_would_keep() {
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
        assert!(
            matches!(&all[0], Input::Spec(s) if s.name == "itoa"),
            "{:?}",
            all[0]
        );
        assert!(matches!(&all[3], Input::Bad(e) if e.message.contains("line 4")));
        let mut kept = 0;
        for index in 0..3 {
            let shard = Shard { index, count: 3 };
            let inputs =
                Inputs::open(&[], std::slice::from_ref(&p), &[], Some(shard), dir.path()).unwrap();
            let part: Vec<Input> = inputs.iter().map(Result::unwrap).collect();
            // `@*`, patterns and bad lines are in every part (sharded after expansion).
            assert_eq!(&part[..4], &all[..4]);
            // The rest is what the work list would keep of it.
            let mut work = crate::worklist::WorkList::new(Some(shard));
            for i in &all[4..] {
                let Input::Spec(s) = i else { panic!("{i:?}") };
                let v = match &s.version {
                    VersionReq::Exact(v) => Some(v.as_str()),
                    _ => None,
                };
                work.push(s.ecosystem, &s.name, v, Vec::new(), None);
            }
            assert_eq!(part.len() - 4, work.len());
            for (i, w) in part[4..].iter().zip(work.works()) {
                let w = w.unwrap();
                assert!(
                    matches!(i, Input::Spec(s) if s.ecosystem == w.ecosystem && s.name == w.name
                        && s.version == w.version.clone().map_or(VersionReq::Latest, VersionReq::Exact)),
                    "{i:?}"
                );
            }
            kept += work.len();
            // Probes: the `@*` and pattern lines (sharded after expansion), then names this
            // shard keeps, a few per registry.
            let probes = inputs.probes();
            let crates = &probes[&Ecosystem::Crates];
            assert_eq!(&crates[..2], ["itoa", "tokio-*"]);
            assert_eq!(crates.len(), PROBES);
            let pypi = &probes[&Ecosystem::Pypi];
            assert_eq!(pypi[0], "django-*");
            assert_eq!(pypi.len(), PROBES);
            for name in crates[2..].iter().chain(&pypi[1..]) {
                let line = part[4..]
                    .iter()
                    .find_map(|i| match i {
                        Input::Spec(s) if &s.name == name => Some(s),
                        _ => None,
                    })
                    .unwrap();
                assert!(shard.owns(&shard_key(line).unwrap()), "{line:?}");
            }
        }
        assert_eq!(kept, 600, "every one-version line in exactly one part");
    }

    #[test]
    fn an_unreadable_list_fails_before_any_work() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.txt");
        let err = Inputs::open(&[], std::slice::from_ref(&missing), &[], None, dir.path())
            .err()
            .unwrap();
        assert!(
            err.to_string().starts_with("cannot read the list "),
            "{err}"
        );
        // Not UTF-8 far down the file: still refused when opened, not half-way through a run.
        let bad = dir.path().join("bad.txt");
        let mut bytes = "crates:serde@1.0.0\n".repeat(10_000).into_bytes();
        bytes.extend_from_slice(b"crates:\xff\n");
        std::fs::write(&bad, bytes).unwrap();
        let err = Inputs::open(&[], std::slice::from_ref(&bad), &[], None, dir.path())
            .err()
            .unwrap();
        assert!(err.to_string().contains("valid UTF-8"), "{err}");
        // Nothing at all: only comments and blank lines.
        let empty = dir.path().join("empty.txt");
        std::fs::write(&empty, "# nothing\n\n").unwrap();
        assert!(Inputs::open(&[], &[empty], &[], None, dir.path())
            .unwrap()
            .is_empty());
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

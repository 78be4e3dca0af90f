//! Compare every artifact file with the source tree by git blob id. Identical files need no
//! blob download; only files that differ are read (to test line endings and show a diff).
//! Whatever is not identical goes through named rules (the ecosystem's, then the generic ones
//! here) before it becomes a finding. Files in the repository but not in the artifact are
//! normal (include/exclude rules) and never reported.

use serde::Serialize;

use crate::archive::{git_blob_id, Content, Files};
use crate::ecosystem::{Handler, Package};
use crate::finding::{Code, Finding};
use crate::git::GitError;
use crate::source::{Lookup, SourceView};

/// Artifact files up to this size seed the source view's blob cache.
const SEED_MAX_BYTES: usize = 256 * 1024;

/// How an artifact file stands against the source before any rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// No file at `looked_at` in the source.
    Missing { looked_at: String },
    /// The source file at `source_path` has other content.
    Differs {
        source_path: String,
        source_oid: String,
    },
    /// The artifact has a symlink that the source does not have with the same target.
    LinkDiffers { looked_at: String },
    /// Below a git submodule, whose content is not in this repository.
    InSubmodule { at: String, commit: String },
    /// The source path is a symlink that loops or leaves the repository.
    BadLink { reason: String },
}

/// What a rule decides about a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The difference is expected: the rule names why.
    Excused,
    /// The rule raises this finding instead of the default one.
    Finding(Finding),
}

/// Everything a rule may look at.
pub struct FileCx<'a> {
    pub path: &'a str,
    pub content: &'a Content,
    pub status: &'a Status,
    pub pkg: &'a Package,
    pub source: &'a SourceView<'a>,
}

impl FileCx<'_> {
    pub fn data(&self) -> Option<&[u8]> {
        match self.content {
            Content::File { data, .. } => Some(data),
            Content::Symlink { .. } | Content::Streamed { .. } => None,
        }
    }

    pub fn files(&self) -> &Files {
        &self.pkg.files
    }
}

/// One named, expected difference. `name` appears in the report; `reason` says why it is safe.
pub trait Rule: Send + Sync {
    fn name(&self) -> &'static str;
    fn reason(&self) -> &'static str;
    /// `None` when the rule does not apply to this file.
    fn judge(&self, cx: &FileCx<'_>) -> Result<Option<Outcome>, GitError>;
}

/// A file a rule excused, kept in the report so nothing is silently skipped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Excused {
    pub path: String,
    pub rule: String,
}

#[derive(Debug, Default)]
pub struct Comparison {
    pub findings: Vec<Finding>,
    pub excused: Vec<Excused>,
    pub identical: usize,
    pub files: usize,
}

/// Compare the package's files with the source view.
pub fn compare(
    handler: &dyn Handler,
    pkg: &Package,
    source: &SourceView<'_>,
) -> Result<Comparison, GitError> {
    let mut rules = handler.rules();
    rules.extend(generic_rules());
    let mut out = Comparison {
        files: pkg.files.len(),
        ..Default::default()
    };
    // Hash every file once. Small files also seed the view's blob cache: a source blob with
    // the same id (a manifest a rule reads) then never has to be fetched.
    let ids: Vec<Option<String>> = pkg
        .files
        .map
        .values()
        .map(|c| match c {
            Content::File { data, .. } => {
                let id = git_blob_id(data);
                if data.len() <= SEED_MAX_BYTES {
                    source.seed_shared(&id, data);
                }
                Some(id)
            }
            // Hashed while the archive was read; its bytes were never kept.
            Content::Streamed { blob_id, .. } => Some(blob_id.clone()),
            Content::Symlink { .. } => None,
        })
        .collect();
    let mut pending = Vec::new();
    for ((path, content), id) in pkg.files.map.iter().zip(ids) {
        let source_path = handler
            .source_path(pkg, source, path)
            .unwrap_or_else(|| source.in_pkg(path));
        match status_of(source, &source_path, content, id.as_deref())? {
            None => out.identical += 1,
            Some(s) => pending.push((path, content, s)),
        }
    }
    // Bring every differing source blob in one round trip (rules and diffs read them).
    let differing: Vec<String> = pending
        .iter()
        .filter_map(|(_, _, s)| match s {
            Status::Differs { source_oid, .. } => Some(source_oid.clone()),
            _ => None,
        })
        .collect();
    source.prefetch(&differing)?;
    for (path, content, status) in &pending {
        let cx = FileCx {
            path,
            content,
            status,
            pkg,
            source,
        };
        let mut decided = false;
        for rule in &rules {
            let outcome = rule.judge(&cx)?;
            match &outcome {
                Some(Outcome::Excused) => {
                    tracing::debug!("{path}: rule {} excuses it", rule.name())
                }
                Some(Outcome::Finding(f)) => {
                    tracing::debug!("{path}: rule {} raises {}", rule.name(), f.code.as_str())
                }
                None => {}
            }
            match outcome {
                None => continue,
                Some(Outcome::Excused) => out.excused.push(Excused {
                    path: path.to_string(),
                    rule: rule.name().to_string(),
                }),
                Some(Outcome::Finding(f)) => {
                    let f = if f.rule.is_none() {
                        f.by_rule(rule.name())
                    } else {
                        f
                    };
                    out.findings.push(f)
                }
            }
            decided = true;
            break;
        }
        if !decided {
            let f = default_finding(&cx)?;
            tracing::debug!("{path}: no rule applies: {}", f.code.as_str());
            out.findings.push(f);
        }
    }
    Ok(out)
}

/// `None` when the file is identical to its source.
pub fn status_of(
    source: &SourceView<'_>,
    source_path: &str,
    content: &Content,
    blob_id: Option<&str>,
) -> Result<Option<Status>, GitError> {
    if let Content::Symlink { target } = content {
        let same = match source.tree.get(source_path) {
            Some(e) if e.is_symlink() => source.blob(&e.oid)?.as_slice() == target.as_bytes(),
            _ => false,
        };
        return Ok((!same).then(|| Status::LinkDiffers {
            looked_at: source_path.to_string(),
        }));
    }
    Ok(match source.lookup(source_path)? {
        Lookup::Found { path, entry } => {
            let id = match (blob_id, content) {
                (Some(id), _) => id.to_string(),
                (None, Content::Streamed { blob_id, .. }) => blob_id.clone(),
                (None, Content::File { data, .. }) => git_blob_id(data),
                (None, Content::Symlink { .. }) => String::new(),
            };
            if entry.oid == id {
                None
            } else {
                Some(Status::Differs {
                    source_path: path,
                    source_oid: entry.oid,
                })
            }
        }
        Lookup::Missing | Lookup::Dir { .. } => Some(Status::Missing {
            looked_at: source_path.to_string(),
        }),
        Lookup::InSubmodule { at, commit, .. } => Some(Status::InSubmodule { at, commit }),
        Lookup::BadLink { reason } => Some(Status::BadLink { reason }),
    })
}

/// What a file that no rule explains becomes.
pub fn default_finding(cx: &FileCx<'_>) -> Result<Finding, GitError> {
    Ok(match cx.status {
        Status::Missing { looked_at } => Finding::at(
            Code::FileNotInSource,
            cx.path,
            format!(
                "not in the source tree (looked for `{looked_at}` at {})",
                short(&cx.source.commit)
            ),
        ),
        Status::Differs {
            source_path,
            source_oid,
        } => {
            let source_bytes = cx.source.blob(source_oid)?;
            let mut f = Finding::at(
                Code::ContentDiffers,
                cx.path,
                format!(
                    "differs from `{source_path}` at {}",
                    short(&cx.source.commit)
                ),
            );
            if let Some(data) = cx.data() {
                f.diff = unified_diff(&source_bytes, data, source_path, cx.path);
                if let Some(d) = &f.diff {
                    let (add, del) = count_changes(d);
                    f.message = format!("{} ({add} line(s) added, {del} removed)", f.message);
                }
            }
            f
        }
        Status::LinkDiffers { looked_at } => {
            let target = match cx.content {
                Content::Symlink { target } => target.as_str(),
                _ => "",
            };
            Finding::at(
                Code::ContentDiffers,
                cx.path,
                format!("symlink to `{target}`, but `{looked_at}` in the source is not that link"),
            )
        }
        Status::InSubmodule { at, commit } => Finding::at(
            Code::RepositoryUnreachable,
            cx.path,
            format!(
                "inside the git submodule `{at}` (commit {}), whose repository could not be fetched",
                short(commit)
            ),
        ),
        Status::BadLink { reason } => Finding::at(Code::FileNotInSource, cx.path, reason.clone()),
    })
}

pub fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

/// A diff is kept whole up to this size; past it (a regenerated multi-megabyte file) the rest
/// is counted, not kept, so one package cannot fill a bulk run's memory and store.
const MAX_DIFF_BYTES: usize = 1 << 20;

/// The whole unified diff (readers shorten it: the human output shows its start, the HTML
/// report all of it) up to [`MAX_DIFF_BYTES`], `None` for binary content.
pub fn unified_diff(old: &[u8], new: &[u8], old_name: &str, new_name: &str) -> Option<String> {
    let (Ok(a), Ok(b)) = (std::str::from_utf8(old), std::str::from_utf8(new)) else {
        return None;
    };
    if a.contains('\0') || b.contains('\0') {
        return None;
    }
    let diff = similar::TextDiff::from_lines(a, b);
    let mut text = diff
        .unified_diff()
        .context_radius(2)
        .header(
            &format!("source/{old_name}"),
            &format!("artifact/{new_name}"),
        )
        .to_string();
    if text.len() > MAX_DIFF_BYTES {
        let cut = text[..MAX_DIFF_BYTES].rfind('\n').map_or(0, |i| i + 1);
        let rest = text[cut..].lines().count();
        text.truncate(cut);
        text.push_str(&format!("... ({rest} more diff lines)\n"));
    }
    Some(text)
}

fn count_changes(diff: &str) -> (usize, usize) {
    let mut add = 0;
    let mut del = 0;
    for l in diff.lines() {
        if l.starts_with("+++") || l.starts_with("---") {
            continue;
        }
        if l.starts_with('+') {
            add += 1;
        } else if l.starts_with('-') {
            del += 1;
        }
    }
    (add, del)
}

/// Rules that hold in every ecosystem, tried after the ecosystem's own.
pub fn generic_rules() -> Vec<Box<dyn Rule>> {
    vec![Box::new(LineEndings), Box::new(Junk)]
}

/// A file equal to its source but for CRLF vs LF: packaged on Windows or with `eol` attributes.
pub struct LineEndings;

impl Rule for LineEndings {
    fn name(&self) -> &'static str {
        "line-endings"
    }
    fn reason(&self) -> &'static str {
        "a file packaged on Windows (or under .gitattributes eol rules) differs only in CRLF vs LF"
    }
    fn judge(&self, cx: &FileCx<'_>) -> Result<Option<Outcome>, GitError> {
        let (
            Status::Differs {
                source_oid,
                source_path,
            },
            Some(data),
        ) = (cx.status, cx.data())
        else {
            return Ok(None);
        };
        let src = cx.source.blob(source_oid)?;
        if crlf_to_lf(&src) == crlf_to_lf(data) {
            return Ok(Some(Outcome::Finding(Finding::at(
                Code::LineEndingsDiffer,
                cx.path,
                format!("equals `{source_path}` except for CRLF/LF line endings"),
            ))));
        }
        Ok(None)
    }
}

pub fn crlf_to_lf(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut i = 0;
    while i < data.len() {
        if data[i] == b'\r' && data.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        out.push(data[i]);
        i += 1;
    }
    out
}

/// Benign files absent from source: editor swap and backup files, editor project files,
/// debugger history, profiler output, OS metadata, test caches. Narrow on purpose: `.pyc`,
/// compiled libraries, executables, archives, keys and data are never junk.
pub struct Junk;

/// What a profiler writes and nothing reads back as code: `perf record`'s `perf.data`, and
/// valgrind's `callgrind.out.<pid>`, `cachegrind.out.<pid>`, `massif.out.<pid>`.
fn is_profile(name: &str) -> bool {
    name == "perf.data"
        || name == "perf.data.old"
        || ["callgrind.out.", "cachegrind.out.", "massif.out."]
            .iter()
            .any(|p| {
                name.strip_prefix(p)
                    .is_some_and(|pid| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
            })
}

/// Is this path one of the narrow benign patterns?
pub fn is_junk(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    let in_dir = |d: &str| path.starts_with(&format!("{d}/")) || path.contains(&format!("/{d}/"));
    name == ".DS_Store"
        || name == "Thumbs.db"
        || name == "desktop.ini"
        || name.starts_with("._")
        || (name.starts_with('.')
            && (name.ends_with(".swp") || name.ends_with(".swo") || name.ends_with(".swx")))
        || (name.starts_with(".#"))
        || (name.ends_with('~') && name.len() > 1)
        // rustfmt before 1.0 kept the original of every file it rewrote as `<file>.rs.bk`.
        || (name.ends_with(".rs.bk") && name.len() > ".rs.bk".len())
        || name == ".gdb_history"
        || name == ".project"
        || name.ends_with(".sublime-project")
        || name.ends_with(".sublime-workspace")
        || is_profile(name)
        || in_dir(".pytest_cache")
        || in_dir("__MACOSX")
        || in_dir(".mypy_cache")
        || in_dir(".ruff_cache")
        || in_dir(".hypothesis")
}

impl Rule for Junk {
    fn name(&self) -> &'static str {
        "benign-junk"
    }
    fn reason(&self) -> &'static str {
        "editor swap, backup and project files, debugger history, profiler output, OS metadata and test caches carry no code"
    }
    fn judge(&self, cx: &FileCx<'_>) -> Result<Option<Outcome>, GitError> {
        if !matches!(cx.status, Status::Missing { .. }) || !is_junk(cx.path) {
            return Ok(None);
        }
        Ok(Some(Outcome::Finding(Finding::at(
            Code::JunkNotInSource,
            cx.path,
            "not in source; a benign file (editor swap, backup or project file, debugger history, profiler output, OS metadata or test cache)",
        ))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn junk_is_narrow() {
        for p in [
            ".DS_Store",
            "src/.lib.rs.swp",
            ".pytest_cache/v/cache/nodeids",
            "a/__MACOSX/x",
            "notes.txt~",
            "src/parking_lot.rs.bk",
            ".gdb_history",
            ".project",
            "rust-hex.sublime-workspace",
            "rust-hex.sublime-project",
            "perf.data",
            "callgrind.out.9675",
        ] {
            assert!(is_junk(p), "{p}");
        }
        for p in [
            "src/lib.rs",
            "mod.pyc",
            "key.pem",
            "data.tar.gz",
            "swp",
            "a/pytest_cache.py",
            // Compiled code and executables are never junk.
            "liblibc.rlib",
            "src/liblib.so",
            "win/info.exe",
            ".rs.bk",
            "callgrind.out.",
            "callgrind.out.sh",
            "perf.data.py",
            "project",
        ] {
            assert!(!is_junk(p), "{p}");
        }
    }

    #[test]
    fn crlf_normalisation() {
        assert_eq!(crlf_to_lf(b"a\r\nb\r\n"), b"a\nb\n");
        assert_eq!(crlf_to_lf(b"a\rb"), b"a\rb");
    }

    #[test]
    fn a_huge_diff_is_kept_up_to_its_cap_and_counts_the_rest() {
        let old = "kept\n";
        let new: String = (0..100_000)
            .map(|i| format!("added line {i:06}\n"))
            .collect();
        let new = format!("kept\n{new}");
        let d = unified_diff(old.as_bytes(), new.as_bytes(), "big", "big").unwrap();
        assert!(d.len() <= MAX_DIFF_BYTES + 40, "{}", d.len());
        assert!(d.ends_with(" more diff lines)\n"), "{}", &d[d.len() - 60..]);
        let small = unified_diff(b"a\n", b"b\n", "s", "s").unwrap();
        assert!(!small.contains("more diff lines"));
    }

    #[test]
    fn diff_is_short_and_text_only() {
        let d = unified_diff(b"a\nb\nc\n", b"a\nB\nc\n", "x", "x").unwrap();
        assert!(d.contains("-b") && d.contains("+B"), "{d}");
        assert!(unified_diff(b"\0\x01", b"\0\x02", "x", "x").is_none());
    }
}

//! The view by repository: one source repository's releases on every registry (a project that
//! publishes the same code to crates.io and PyPI, e.g. through maturin) and the commit each
//! traces to, so a registry team sees one project across registries. Grouping only: every
//! verdict and commit is the package's own.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};
use std::path::Path;

use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::model::{PackageId, PackageResult, Report};
use crate::finding::Verdict;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    pub package: PackageId,
    pub verdict: Verdict,
    pub commit: Option<String>,
    pub tag: Option<String>,
    pub path_in_repo: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepositoryView {
    pub repository: String,
    /// The registries its releases come from, e.g. `["crates", "pypi"]`.
    pub ecosystems: Vec<String>,
    pub releases: Vec<Release>,
}

/// Two spellings of one repository (`.git`, a trailing `/`, letter case) are one group.
fn key(url: &str) -> String {
    url.trim()
        .trim_end_matches('/')
        .trim_end_matches(".git")
        .to_ascii_lowercase()
}

/// Every repository some package traced to, those published to more registries first, then
/// by URL; releases by ecosystem, name and version. Packages without a repository are left out.
pub fn by_repository(results: &[PackageResult]) -> Vec<RepositoryView> {
    let mut g = Held::default();
    for r in results {
        g.add(r);
    }
    g.views()
}

/// [`by_repository`] of every result of a report, read one at a time. What is held is one
/// small release line per package, until the lines take a sixteenth of the cache budget
/// ([`crate::cache_budget::total`]; 8 MiB by default); then they move to a scratch database
/// beside the report's spill, so a registry's report does not hold a line per release.
pub fn of_report(report: &Report) -> io::Result<Views> {
    let dir = report.spill.0.as_ref().map(|s| s.dir());
    of_report_moving(report, dir, crate::cache_budget::total() / 16)
}

/// [`of_report`], moving to a scratch database in `dir` once more than `held_max` bytes of
/// releases are held.
pub fn of_report_moving(
    report: &Report,
    mut dir: Option<&Path>,
    held_max: usize,
) -> io::Result<Views> {
    let mut g = Groups::Held(Held::default());
    for r in report.each() {
        let r = r?;
        if let (Groups::Held(h), Some(to)) = (&g, dir) {
            if h.bytes > held_max {
                // Tried once: if it fails, the view stays in memory (it only costs memory).
                dir = None;
                match Disk::create(to).and_then(|d| d.take(h)) {
                    Ok(d) => {
                        tracing::debug!(
                            "the view by repository moved to disk, in {} ({} releases)",
                            to.display(),
                            h.len
                        );
                        g = Groups::Disk(d);
                    }
                    Err(e) => tracing::warn!("the view by repository stays in memory: {e}"),
                }
            }
        }
        match &mut g {
            Groups::Held(h) => h.add(&r),
            Groups::Disk(d) => d.add(&r).map_err(io::Error::other)?,
        }
    }
    Ok(match g {
        Groups::Held(h) => Views(Kept::Held(h.views())),
        Groups::Disk(d) => Views(Kept::Disk(d.finish().map_err(io::Error::other)?)),
    })
}

/// The view by repository of a report, held or on disk; read it with [`Views::iter`] (as
/// often as needed: one pass per output).
pub struct Views(Kept);

enum Kept {
    Held(Vec<RepositoryView>),
    Disk(rusqlite::Connection),
}

impl Views {
    /// Is the view in a scratch database?
    pub fn on_disk(&self) -> bool {
        matches!(self.0, Kept::Disk(_))
    }

    /// Each repository in order, with its releases.
    pub fn iter(&self) -> Box<dyn Iterator<Item = io::Result<RepositoryView>> + '_> {
        match &self.0 {
            Kept::Held(v) => Box::new(v.iter().cloned().map(Ok)),
            Kept::Disk(db) => Box::new(DiskViews {
                db,
                // Before every repository: `neg` is at most 0 and a URL is never empty.
                after: (i64::MIN, String::new()),
                page: Vec::new().into_iter(),
                done: false,
            }),
        }
    }

    /// Every repository, held (tests, and small reports).
    pub fn collect(&self) -> io::Result<Vec<RepositoryView>> {
        self.iter().collect()
    }
}

enum Groups {
    Held(Held),
    Disk(Disk),
}

/// Releases grouped by repository as results come, in memory.
#[derive(Default)]
struct Held {
    groups: BTreeMap<String, (String, Vec<Release>)>,
    /// Releases held.
    len: usize,
    /// About how many bytes they take.
    bytes: usize,
}

fn release(r: &PackageResult) -> Option<(&str, Release)> {
    let repo = r.source.repository.as_deref().filter(|s| !s.is_empty())?;
    Some((
        repo,
        Release {
            package: r.package.clone(),
            verdict: r.verdict,
            commit: r.source.commit.clone(),
            tag: r.source.tag.clone(),
            path_in_repo: r.source.path_in_repo.clone().filter(|p| !p.is_empty()),
        },
    ))
}

/// The registries of a repository's releases, by name.
fn ecosystems(releases: &[Release]) -> Vec<String> {
    let set: BTreeSet<&str> = releases
        .iter()
        .map(|r| r.package.ecosystem.as_str())
        .collect();
    set.into_iter().map(str::to_string).collect()
}

impl Held {
    fn add(&mut self, r: &PackageResult) {
        let Some((repo, release)) = release(r) else {
            return;
        };
        self.len += 1;
        // The strings, twice for the group's key and URL when it is new, and the rest.
        let text = |s: &Option<String>| s.as_ref().map_or(0, String::len);
        self.bytes += 160
            + release.package.name.len()
            + release.package.version.len()
            + text(&release.commit)
            + text(&release.tag)
            + text(&release.path_in_repo);
        let group = self.groups.entry(key(repo)).or_insert_with(|| {
            self.bytes += 2 * repo.len() + 64;
            (repo.to_string(), Vec::new())
        });
        group.1.push(release);
    }

    fn views(self) -> Vec<RepositoryView> {
        let mut out: Vec<RepositoryView> = self
            .groups
            .into_values()
            .map(|(repository, mut releases)| {
                releases.sort_by(|a, b| a.package.cmp(&b.package));
                releases.dedup();
                RepositoryView {
                    repository,
                    ecosystems: ecosystems(&releases),
                    releases,
                }
            })
            .collect();
        out.sort_by(|a, b| {
            b.ecosystems
                .len()
                .cmp(&a.ecosystems.len())
                .then_with(|| a.repository.cmp(&b.repository))
        });
        out
    }
}

/// Releases grouped by repository in a scratch database ([`crate::scratch`]): the order the
/// held view sorts in, by indexes and one ordered table of repositories.
struct Disk {
    db: rusqlite::Connection,
    pending: usize,
    /// The last repository written: its key and id.
    last: Option<(String, i64)>,
}

/// Every order the view is read in is an index kept as rows go in, so nothing is sorted when
/// it is read: a sort that large would spill to SQLite's temporary files, outside the cache
/// directory (often a tmpfs, i.e. memory). `neg` is minus the number of registries a
/// repository's releases come from (more registries first).
const SCHEMA: &str = "
    CREATE TABLE repo(
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL UNIQUE,
        shown TEXT NOT NULL,
        neg INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX repo_order ON repo(neg, shown);
    CREATE TABLE repo_eco(repo INTEGER NOT NULL, eco INTEGER NOT NULL, PRIMARY KEY(repo, eco))
        WITHOUT ROWID;
    CREATE TABLE release(
        seq INTEGER PRIMARY KEY,
        repo INTEGER NOT NULL,
        eco INTEGER NOT NULL,
        name TEXT NOT NULL,
        version TEXT NOT NULL,
        data TEXT NOT NULL
    );
    CREATE INDEX release_order ON release(repo, eco, name, version, seq);
";
/// The repositories in view order, a page after `(neg, shown)`.
const REPOS_IN_ORDER: &str = "SELECT neg, id, shown FROM repo
    WHERE (neg, shown) > (?1, ?2) ORDER BY neg, shown LIMIT ?3";
/// One repository's releases in view order.
const RELEASES_IN_ORDER: &str =
    "SELECT data FROM release WHERE repo = ?1 ORDER BY eco, name, version, seq";
/// Releases written in one transaction.
const BATCH: usize = 4096;
/// Repositories read in one query.
const PAGE: usize = 256;

impl Disk {
    fn create(dir: &Path) -> io::Result<Disk> {
        let db = crate::scratch::create(dir, "repositories", "the view by repository", SCHEMA)
            .map_err(io::Error::other)?;
        Ok(Disk {
            db,
            pending: 0,
            last: None,
        })
    }

    /// Every release held so far, written.
    fn take(mut self, h: &Held) -> io::Result<Disk> {
        for (repo, releases) in h.groups.values() {
            for r in releases {
                self.put(repo, r).map_err(io::Error::other)?;
            }
        }
        Ok(self)
    }

    fn add(&mut self, r: &PackageResult) -> rusqlite::Result<()> {
        match release(r) {
            Some((repo, release)) => self.put(repo, &release),
            None => Ok(()),
        }
    }

    fn put(&mut self, repo: &str, r: &Release) -> rusqlite::Result<()> {
        if self.db.is_autocommit() {
            self.db.execute_batch("BEGIN")?;
        }
        let k = key(repo);
        // Releases of one repository often follow one another: the last id is kept.
        let id = match &self.last {
            Some((last, id)) if *last == k => *id,
            _ => {
                let found: Option<i64> = self
                    .db
                    .prepare_cached("SELECT id FROM repo WHERE key = ?1")?
                    .query_row([&k], |r| r.get(0))
                    .optional()?;
                let id = match found {
                    Some(id) => id,
                    None => {
                        self.db
                            .prepare_cached("INSERT INTO repo(key, shown) VALUES (?1, ?2)")?
                            .execute(params![k, repo])?;
                        self.db.last_insert_rowid()
                    }
                };
                self.last = Some((k, id));
                id
            }
        };
        let eco = r.package.ecosystem as i64;
        let new_registry = self
            .db
            .prepare_cached(
                "INSERT INTO repo_eco(repo, eco) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            )?
            .execute(params![id, eco])?
            == 1;
        if new_registry {
            self.db
                .prepare_cached("UPDATE repo SET neg = neg - 1 WHERE id = ?1")?
                .execute([id])?;
        }
        let data = serde_json::to_string(r).expect("a release always serializes");
        self.db
            .prepare_cached(
                "INSERT INTO release(repo, eco, name, version, data)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![id, eco, r.package.name, r.package.version, data])?;
        self.pending += 1;
        if self.pending >= BATCH {
            self.pending = 0;
            self.db.execute_batch("COMMIT")?;
        }
        Ok(())
    }

    /// Every release written (the indexes are already in order).
    fn finish(self) -> rusqlite::Result<rusqlite::Connection> {
        if !self.db.is_autocommit() {
            self.db.execute_batch("COMMIT")?;
        }
        Ok(self.db)
    }
}

/// The repositories on disk, a page at a time, each read with its releases.
struct DiskViews<'a> {
    db: &'a rusqlite::Connection,
    /// The last repository read: `(neg, shown)`.
    after: (i64, String),
    page: std::vec::IntoIter<(i64, i64, String)>,
    done: bool,
}

impl DiskViews<'_> {
    fn view(&self, id: i64, repository: String) -> rusqlite::Result<RepositoryView> {
        let mut st = self.db.prepare_cached(RELEASES_IN_ORDER)?;
        let mut releases: Vec<Release> = st
            .query_map([id], |r| r.get::<_, String>(0))?
            .map(|d| {
                d.and_then(|d| {
                    serde_json::from_str(&d).map_err(|e| {
                        rusqlite::Error::FromSqlConversionFailure(
                            0,
                            rusqlite::types::Type::Text,
                            e.into(),
                        )
                    })
                })
            })
            .collect::<rusqlite::Result<_>>()?;
        releases.dedup();
        Ok(RepositoryView {
            repository,
            ecosystems: ecosystems(&releases),
            releases,
        })
    }
}

impl Iterator for DiskViews<'_> {
    type Item = io::Result<RepositoryView>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let (neg, id, shown) = match self.page.next() {
            Some(next) => next,
            None => {
                let page = self.db.prepare_cached(REPOS_IN_ORDER).and_then(|mut st| {
                    st.query_map(params![self.after.0, self.after.1, PAGE as i64], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()
                });
                match page {
                    Ok(p) if p.is_empty() => {
                        self.done = true;
                        return None;
                    }
                    Ok(p) => {
                        self.page = p.into_iter();
                        self.page.next()?
                    }
                    Err(e) => {
                        self.done = true;
                        return Some(Err(io::Error::other(e)));
                    }
                }
            }
        };
        self.after = (neg, shown.clone());
        let v = self.view(id, shown).map_err(io::Error::other);
        self.done = v.is_err();
        Some(v)
    }
}

fn short(c: &Option<String>) -> &str {
    c.as_deref().map(|c| &c[..c.len().min(12)]).unwrap_or("-")
}

/// For a terminal.
pub fn write_human(
    views: impl Iterator<Item = io::Result<RepositoryView>>,
    w: &mut dyn Write,
) -> io::Result<()> {
    for v in views {
        let v = v?;
        writeln!(w, "{}  ({})", v.repository, v.ecosystems.join(", "))?;
        for r in &v.releases {
            let mut line = format!(
                "    {:<40} {:<12} {}",
                r.package.to_string(),
                r.verdict.as_str(),
                short(&r.commit)
            );
            if let Some(t) = &r.tag {
                line.push_str(&format!(" (tag {t})"));
            }
            if let Some(p) = &r.path_in_repo {
                line.push_str(&format!(" in {p}/"));
            }
            writeln!(w, "{}", line.trim_end())?;
        }
    }
    Ok(())
}

/// As Markdown: a table per repository.
pub fn write_markdown(
    views: impl Iterator<Item = io::Result<RepositoryView>>,
    w: &mut dyn Write,
) -> io::Result<()> {
    w.write_all(b"# provero: releases by repository\n\n")?;
    for v in views {
        let v = v?;
        writeln!(
            w,
            "## {}\n\nregistries: {}\n\n| package | verdict | commit | tag | directory |\n|---|---|---|---|---|",
            v.repository,
            v.ecosystems.join(", ")
        )?;
        for r in &v.releases {
            writeln!(
                w,
                "| `{}` | {} | `{}` | {} | {} |",
                r.package,
                r.verdict.as_str(),
                short(&r.commit),
                r.tag.as_deref().unwrap_or(""),
                r.path_in_repo.as_deref().unwrap_or("")
            )?;
        }
        w.write_all(b"\n")?;
    }
    Ok(())
}

/// As JSON: `{"repositories": [...]}`, a repository at a time.
pub fn write_json(
    views: impl Iterator<Item = io::Result<RepositoryView>>,
    w: &mut dyn Write,
) -> io::Result<()> {
    /// The repositories as a JSON array, serialized as they are read; a read error stops
    /// the array and is kept for the caller.
    struct Stream<I>(std::cell::RefCell<(Option<I>, Option<io::Error>)>);
    impl<I: Iterator<Item = io::Result<RepositoryView>>> Serialize for Stream<I> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut state = self.0.borrow_mut();
            let (views, failed) = &mut *state;
            let views = views.take().into_iter().flatten();
            // As a JSON value each: its keys in the order the report has always had.
            let values =
                views.map(|v| v.and_then(|v| serde_json::to_value(&v).map_err(io::Error::other)));
            let out = s.collect_seq(values.map_while(|v| match v {
                Ok(v) => Some(v),
                Err(e) => {
                    *failed = Some(e);
                    None
                }
            }));
            match failed.take() {
                Some(e) => Err(serde::ser::Error::custom(e)),
                None => out,
            }
        }
    }
    #[derive(Serialize)]
    #[serde(bound = "")]
    struct Doc<I: Iterator<Item = io::Result<RepositoryView>>> {
        repositories: Stream<I>,
    }
    let doc = Doc {
        repositories: Stream(std::cell::RefCell::new((Some(views), None))),
    };
    let mut w = io::BufWriter::new(w);
    serde_json::to_writer_pretty(&mut w, &doc).map_err(io::Error::other)?;
    w.write_all(b"\n")?;
    w.flush()
}

/// [`write_human`] of views held, as text.
pub fn human(views: &[RepositoryView]) -> String {
    let mut out = Vec::new();
    write_human(views.iter().cloned().map(Ok), &mut out).expect("writing to memory");
    String::from_utf8(out).expect("the view is UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ecosystem::Ecosystem;
    use crate::report::Report;

    fn result(eco: Ecosystem, name: &str, repo: &str, commit: &str) -> PackageResult {
        let mut r = PackageResult::pending(eco, name, Some("1.0.0"));
        r.verdict = Verdict::Verified;
        r.source.repository = Some(repo.to_string());
        r.source.commit = Some(commit.to_string());
        r
    }

    #[test]
    fn one_project_on_two_registries_is_one_group_listed_first() {
        let views = by_repository(&[
            result(Ecosystem::Crates, "solo", "https://github.com/a/solo", "c1"),
            result(
                Ecosystem::Pypi,
                "both",
                "https://github.com/a/Both.git",
                "c2",
            ),
            result(Ecosystem::Crates, "both", "https://github.com/a/both", "c2"),
            PackageResult::pending(Ecosystem::Gems, "norepo", Some("1")),
        ]);
        assert_eq!(views.len(), 2);
        assert_eq!(views[0].ecosystems, ["crates", "pypi"]);
        assert_eq!(views[0].releases.len(), 2);
        assert_eq!(views[0].releases[0].package.ecosystem, Ecosystem::Crates);
        assert_eq!(views[1].repository, "https://github.com/a/solo");
        let text = human(&views);
        assert!(text.contains("crates:both@1.0.0"), "{text}");
        let mut json = Vec::new();
        write_json(views.iter().cloned().map(Ok), &mut json).unwrap();
        let expected = serde_json::to_string_pretty(&serde_json::json!({ "repositories": views }))
            .unwrap()
            + "\n";
        assert_eq!(String::from_utf8(json).unwrap(), expected);
    }

    #[test]
    fn the_view_on_disk_is_read_by_its_indexes_never_sorted() {
        let dir = tempfile::tempdir().unwrap();
        let d = Disk::create(dir.path()).unwrap();
        let plan = |sql: &str, args: &[&dyn rusqlite::ToSql]| -> String {
            let mut st = d.db.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let rows = st.query_map(args, |r| r.get::<_, String>(3)).unwrap();
            rows.map(Result::unwrap).collect::<Vec<_>>().join("; ")
        };
        let repos = plan(REPOS_IN_ORDER, &[&0i64, &"a", &10i64]);
        assert!(
            repos.contains("repo_order") && !repos.contains("TEMP B-TREE"),
            "{repos}"
        );
        let releases = plan(RELEASES_IN_ORDER, &[&1i64]);
        assert!(
            releases.contains("release_order") && !releases.contains("TEMP B-TREE"),
            "{releases}"
        );
    }

    #[test]
    fn a_view_moved_to_disk_is_the_view_held() {
        let ecos = [Ecosystem::Pypi, Ecosystem::Crates, Ecosystem::Gems];
        let mut results = Vec::new();
        for i in 0..120u32 {
            let repo = match i % 4 {
                0 => format!("https://github.com/o/r{}", i % 13),
                1 => format!("https://github.com/O/R{}.git", i % 13),
                2 => format!("https://gitlab.com/o/r{}/", i % 7),
                _ => String::new(),
            };
            // The GitLab repositories publish to one registry only.
            let eco = if i % 4 == 2 {
                Ecosystem::Crates
            } else {
                ecos[(i % 3) as usize]
            };
            let mut r = result(eco, &format!("p{}", i % 9), &repo, &format!("c{i}"));
            r.package.version = format!("1.{}.0", i % 5);
            if i % 10 == 0 {
                r.source.tag = Some(format!("v{i}"));
                r.source.path_in_repo = Some("sub".into());
            }
            // The same release twice is listed once.
            if i % 17 == 0 {
                results.push(r.clone());
            }
            results.push(r);
        }
        let report = Report::new(results.clone(), Vec::new());
        let held = by_repository(&results);
        assert!(held.iter().any(|v| v.ecosystems.len() == 3));
        assert!(held.iter().any(|v| v.ecosystems.len() < 3));
        for at in [0, 1, 50] {
            let dir = tempfile::tempdir().unwrap();
            let views = of_report_moving(&report, Some(dir.path()), at * 300).unwrap();
            assert!(views.on_disk());
            assert_eq!(views.collect().unwrap(), held, "moved after {at}");
            // Read again (one pass per output), and no file is left.
            assert_eq!(views.collect().unwrap(), held);
            assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        }
        assert!(!of_report_moving(&report, None, 0).unwrap().on_disk());
    }
}

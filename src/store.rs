//! The results store: an embedded SQLite database with one row per decided package version and
//! artifact digest. It is what makes a bulk run resumable (a re-run skips what is already
//! decided for the same digest), what `provero report` reads, and what `provero merge`
//! combines across shards.
//!
//! Durability: WAL mode, and each result is committed as soon as its package finishes, from a
//! single writer thread fed by a channel (one writer means no lock contention between tasks;
//! small transactions mean a SIGKILL loses at most the results still in the channel, never
//! anything committed, and SQLite's journal keeps the file consistent).
//!
//! What is remembered is only what is a fact of the artifact and its source: a verdict that a
//! transient failure decided (an error, a download that failed, a repository that could not be
//! fetched) is never stored, so it is retried next run; and a stored verdict is reused only
//! under the same [`Settings`] (mode, registry profile, `--git-rewrite` rules), whose
//! fingerprint is part of every row. Lockfile pins are checked by the engine on every run and
//! never stored (a pin belongs to the lockfile, not to the artifact).

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;

use rusqlite::{params, Connection, OptionalExtension};

use crate::ecosystem::Ecosystem;
use crate::finding::{Code, Finding};
use crate::profile::Profile;
use crate::repo_url::Rewrites;
use crate::report::PackageResult;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("results store {path}: {source}")]
    Sql {
        path: String,
        source: rusqlite::Error,
    },
    #[error("results store {path}: a stored result is not readable JSON: {source}")]
    Json {
        path: String,
        source: serde_json::Error,
    },
    #[error("results store {path}: {message}")]
    Other { path: String, message: String },
}

/// Bump when the table layout changes; newer files are refused rather than misread, older
/// ones migrated in [`Store::init`].
const SCHEMA_VERSION: i64 = 2;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS results (
    ecosystem   TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    version     TEXT    NOT NULL,
    -- the SHA-256 the registry publishes (what a re-run can learn before downloading)
    sha256      TEXT    NOT NULL,
    verdict     TEXT    NOT NULL,
    findings    TEXT    NOT NULL,
    commit_id   TEXT,
    repository  TEXT,
    -- unix time in milliseconds: newest decision wins on merge
    decided_at  INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    result      TEXT    NOT NULL,
    -- which provero decided it (rules change between versions)
    provero     TEXT    NOT NULL DEFAULT '',
    -- the settings fingerprint it was decided under (see `Settings`); '' for rows of schema 1,
    -- which therefore are never reused
    settings    TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (ecosystem, name, version, sha256)
);
";

/// Every column, in table order (merge names them: a migrated table has the same order).
const COLUMNS: &str =
    "ecosystem, name, version, sha256, verdict, findings, commit_id, repository, \
                       decided_at, duration_ms, result, provero, settings";

/// Everything outside the artifact that can change a verdict. A stored verdict is reused only
/// by a run whose settings have the same [`Settings::fingerprint`]; a new setting that can
/// change verdicts is one more field here.
#[derive(Debug, Clone, Copy)]
pub struct Settings<'a> {
    /// How packages are checked: `diff` (compare with the source tree).
    pub mode: &'a str,
    /// The registry profile of the package's ecosystem: its URLs and `--pypi-artifact`.
    pub profile: &'a Profile,
    /// `--git-rewrite` rules: which repository the source is fetched from.
    pub rewrites: &'a Rewrites,
    /// Which trust root signed attestations were checked against (`--trust-root`).
    pub trust_root: &'a str,
}

impl Settings<'_> {
    /// A digest of every field (their `Debug` forms, so a field added to `Profile` counts too).
    pub fn fingerprint(&self) -> String {
        let text = format!(
            "mode={}\nregistry={:?}\nrewrites={:?}\ntrust_root={}\n",
            self.mode, self.profile, self.rewrites, self.trust_root
        );
        crate::archive::sha256_hex(text.as_bytes())[..32].to_string()
    }
}

/// A finding that says the verdict was decided by a failure that may pass (a host down, DNS,
/// a download cut off, attestations that could not be fetched): such a result is not a fact
/// of the artifact and is not stored.
pub fn transient(r: &PackageResult) -> Option<&Finding> {
    r.findings.iter().find(|f| {
        matches!(
            f.code,
            Code::RepositoryUnreachable | Code::ArtifactUnavailable | Code::AttestationUnavailable
        )
    })
}

/// An open store (reads, merges, and the writer thread's connection).
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

/// The digest a result is stored under: the registry's published one (known before any
/// download), else what was downloaded. `None` for results that must not be stored: errors
/// and verdicts a [`transient`] failure decided.
pub fn storable_digest(r: &PackageResult) -> Option<&str> {
    if r.error.is_some() || transient(r).is_some() {
        return None;
    }
    r.artifact
        .expected_sha256
        .as_deref()
        .or(r.artifact.sha256.as_deref())
}

/// The key column a result is stored under: the digest, with the mode appended for rebuild
/// and both, so a rebuild verdict never replaces (or is reused as) a diff verdict.
pub fn mode_key(digest: &str, mode: crate::rebuild::Mode) -> String {
    let digest = digest.to_ascii_lowercase();
    match mode {
        crate::rebuild::Mode::Diff => digest,
        m => format!("{digest}+{}", m.as_str()),
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Store {
    /// Open or create the store at `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| StoreError::Other {
                path: path.display().to_string(),
                message: format!("cannot create its directory: {e}"),
            })?;
        }
        let conn = Connection::open(path).map_err(|e| sql(path, e))?;
        let store = Store {
            conn,
            path: path.to_path_buf(),
        };
        store.init()?;
        Ok(store)
    }

    fn init(&self) -> Result<(), StoreError> {
        // Several processes (shards on one host, a report during a run) may share a file.
        self.conn
            .busy_timeout(std::time::Duration::from_secs(30))
            .map_err(|e| self.err(e))?;
        // WAL: readers never block the writer; NORMAL sync is durable against a killed
        // process (only a power cut can lose the last commits, and never corrupts the file).
        self.conn
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| self.err(e))?;
        self.conn
            .pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| self.err(e))?;
        let version: i64 = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|e| self.err(e))?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::Other {
                path: self.path.display().to_string(),
                message: format!(
                    "written by a newer provero (schema {version}, this one reads {SCHEMA_VERSION})"
                ),
            });
        }
        self.conn.execute_batch(SCHEMA).map_err(|e| self.err(e))?;
        if version < 2 && !self.has_column("settings")? {
            // Schema 1 had no settings fingerprint: its rows stay readable for `report`, and
            // are decided again by the next run that meets them.
            self.conn
                .execute_batch("ALTER TABLE results ADD COLUMN settings TEXT NOT NULL DEFAULT ''")
                .map_err(|e| self.err(e))?;
        }
        self.conn
            .pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    fn has_column(&self, name: &str) -> Result<bool, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT name FROM pragma_table_info('results')")
            .map_err(|e| self.err(e))?;
        let names = st
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| self.err(e))?;
        for n in names {
            if n.map_err(|e| self.err(e))? == name {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn err(&self, e: rusqlite::Error) -> StoreError {
        sql(&self.path, e)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The stored result for this version and artifact digest, if one was decided by this
    /// provero under the same settings fingerprint.
    pub fn lookup(
        &self,
        eco: Ecosystem,
        name: &str,
        version: &str,
        sha256: &str,
        settings: &str,
    ) -> Result<Option<PackageResult>, StoreError> {
        let json: Option<String> = self
            .conn
            .prepare_cached(
                "SELECT result FROM results
                 WHERE ecosystem = ?1 AND name = ?2 AND version = ?3 AND sha256 = ?4
                   AND provero = ?5 AND settings = ?6",
            )
            .and_then(|mut st| {
                st.query_row(
                    // A verdict another provero version decided is not reused: rules change.
                    params![
                        eco.as_str(),
                        name,
                        version,
                        sha256.to_ascii_lowercase(),
                        env!("CARGO_PKG_VERSION"),
                        settings
                    ],
                    |r| r.get(0),
                )
                .optional()
            })
            .map_err(|e| self.err(e))?;
        json.map(|j| self.parse(&j)).transpose()
    }

    fn parse(&self, json: &str) -> Result<PackageResult, StoreError> {
        serde_json::from_str(json).map_err(|source| StoreError::Json {
            path: self.path.display().to_string(),
            source,
        })
    }

    /// Every stored result of one package (all versions and digests), for the history a
    /// `regression` is judged against.
    pub fn history(&self, eco: Ecosystem, name: &str) -> Result<Vec<PackageResult>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached("SELECT result FROM results WHERE ecosystem = ?1 AND name = ?2")
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map(params![eco.as_str(), name], |r| r.get::<_, String>(0))
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for j in rows {
            out.push(self.parse(&j.map_err(|e| self.err(e))?)?);
        }
        Ok(out)
    }

    /// Store results (each with the settings fingerprint it was decided under) in one
    /// transaction; a newer decision replaces an older one for the same key. Returns how many
    /// were storable.
    pub fn put_all(&mut self, results: &[(PackageResult, String)]) -> Result<usize, StoreError> {
        let tx = self.conn.transaction().map_err(|e| sql(&self.path, e))?;
        let mut n = 0;
        {
            let mut st = tx
                .prepare_cached(
                    "INSERT INTO results (ecosystem, name, version, sha256, verdict, findings,
                        commit_id, repository, decided_at, duration_ms, result, provero, settings)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
                     ON CONFLICT (ecosystem, name, version, sha256) DO UPDATE SET
                        verdict = excluded.verdict, findings = excluded.findings,
                        commit_id = excluded.commit_id, repository = excluded.repository,
                        decided_at = excluded.decided_at, duration_ms = excluded.duration_ms,
                        result = excluded.result, provero = excluded.provero,
                        settings = excluded.settings
                     WHERE excluded.decided_at >= results.decided_at",
                )
                .map_err(|e| sql(&self.path, e))?;
            for (r, settings) in results {
                let Some(digest) = storable_digest(r) else {
                    continue;
                };
                let findings = serde_json::to_string(&r.findings).unwrap_or_default();
                let full = serde_json::to_string(r).unwrap_or_default();
                st.execute(params![
                    r.package.ecosystem.as_str(),
                    r.package.name,
                    r.package.version,
                    mode_key(digest, r.mode),
                    r.verdict.as_str(),
                    findings,
                    r.source.commit,
                    r.source.repository,
                    now_ms(),
                    r.duration_ms as i64,
                    full,
                    env!("CARGO_PKG_VERSION"),
                    settings,
                ])
                .map_err(|e| sql(&self.path, e))?;
                n += 1;
            }
        }
        tx.commit().map_err(|e| sql(&self.path, e))?;
        Ok(n)
    }

    /// Every stored result, ordered by package.
    pub fn all(&self) -> Result<Vec<PackageResult>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT result FROM results ORDER BY ecosystem, name, version, sha256")
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for j in rows {
            out.push(self.parse(&j.map_err(|e| self.err(e))?)?);
        }
        Ok(out)
    }

    /// Every stored result in the order of [`Store::all`], handed to `each` one at a time (a
    /// whole store is never in memory); an error from `each` stops the reading and is returned.
    pub fn for_each(
        &self,
        mut each: impl FnMut(PackageResult) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let mut st = self
            .conn
            .prepare("SELECT result FROM results ORDER BY ecosystem, name, version, sha256")
            .map_err(|e| self.err(e))?;
        let mut rows = st.query([]).map_err(|e| self.err(e))?;
        while let Some(row) = rows.next().map_err(|e| self.err(e))? {
            let json: String = row.get(0).map_err(|e| self.err(e))?;
            each(self.parse(&json)?)?;
        }
        Ok(())
    }

    pub fn count(&self) -> Result<usize, StoreError> {
        self.conn
            .query_row("SELECT count(*) FROM results", [], |r| r.get::<_, i64>(0))
            .map(|n| n as usize)
            .map_err(|e| self.err(e))
    }

    /// Merge another store into this one: the same key and digest becomes one row, the newest
    /// decision wins, so merging the same file twice changes nothing. Returns rows read.
    pub fn merge_from(&mut self, other: &Path) -> Result<usize, StoreError> {
        if !other.is_file() {
            return Err(StoreError::Other {
                path: other.display().to_string(),
                message: "no such file".into(),
            });
        }
        // Open it as a store first: checks the schema and fails clearly on a non-store file.
        let src = Store::open(other)?;
        let n = src.count()?;
        drop(src);
        let other_s = other.to_string_lossy().into_owned();
        self.conn
            .execute("ATTACH DATABASE ?1 AS other", params![other_s])
            .map_err(|e| self.err(e))?;
        let res = self.conn.execute_batch(&format!(
            "BEGIN;
             INSERT INTO main.results ({COLUMNS}) SELECT {COLUMNS} FROM other.results WHERE true
             ON CONFLICT (ecosystem, name, version, sha256) DO UPDATE SET
                verdict = excluded.verdict, findings = excluded.findings,
                commit_id = excluded.commit_id, repository = excluded.repository,
                decided_at = excluded.decided_at, duration_ms = excluded.duration_ms,
                result = excluded.result, provero = excluded.provero,
                settings = excluded.settings
             WHERE excluded.decided_at > results.decided_at;
             COMMIT;"
        ));
        if res.is_err() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        let detach = self.conn.execute("DETACH DATABASE other", []);
        res.map_err(|e| sql(other, e))?;
        detach.map_err(|e| self.err(e))?;
        Ok(n)
    }
}

fn sql(path: &Path, source: rusqlite::Error) -> StoreError {
    StoreError::Sql {
        path: path.display().to_string(),
        source,
    }
}

/// The single writer: results go in through a channel and are committed as they arrive
/// (whatever is queued at that moment in one small transaction).
pub struct Writer {
    tx: Option<mpsc::Sender<(PackageResult, String)>>,
    handle: Option<JoinHandle<Result<usize, StoreError>>>,
}

impl Writer {
    pub fn spawn(path: &Path) -> Result<Writer, StoreError> {
        let mut store = Store::open(path)?;
        let (tx, rx) = mpsc::channel::<(PackageResult, String)>();
        let handle = std::thread::Builder::new()
            .name("provero-store".into())
            .spawn(move || {
                let mut written = 0;
                while let Ok(first) = rx.recv() {
                    let mut batch = vec![first];
                    // Whatever else is already queued, up to a small bound.
                    while batch.len() < 64 {
                        match rx.try_recv() {
                            Ok(r) => batch.push(r),
                            Err(_) => break,
                        }
                    }
                    written += store.put_all(&batch)?;
                }
                Ok(written)
            })
            .map_err(|e| StoreError::Other {
                path: path.display().to_string(),
                message: format!("cannot start the writer thread: {e}"),
            })?;
        Ok(Writer {
            tx: Some(tx),
            handle: Some(handle),
        })
    }

    /// Queue a result decided under the settings `fingerprint`; results that must not be
    /// stored (errors, transient failures) are dropped here.
    pub fn send(&self, r: PackageResult, fingerprint: &str) {
        if storable_digest(&r).is_none() {
            return;
        }
        if let Some(tx) = &self.tx {
            // A failed writer reports its error from `finish`.
            let _ = tx.send((r, fingerprint.to_string()));
        }
    }

    /// Flush and close; returns how many results were written.
    pub fn finish(mut self) -> Result<usize, StoreError> {
        self.tx.take();
        match self.handle.take().map(|h| h.join()) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(StoreError::Other {
                path: String::new(),
                message: "the writer thread panicked".into(),
            }),
            None => Ok(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{Code, Finding, Verdict};
    use crate::report::{ArtifactInfo, PackageId, SourceInfo, Stats};

    fn result(name: &str, digest: &str, verdict: Verdict) -> PackageResult {
        PackageResult {
            package: PackageId {
                ecosystem: Ecosystem::Crates,
                name: name.into(),
                version: "1.0.0".into(),
            },
            verdict,
            findings: Vec::new(),
            source: SourceInfo::default(),
            artifact: ArtifactInfo {
                url: None,
                sha256: Some(digest.into()),
                expected_sha256: Some(digest.into()),
            },
            excused: Vec::new(),
            stats: Stats::default(),
            error: None,
            duration_ms: 5,
            lockfile: None,
            mode: Default::default(),
            rebuild: None,
            attestations: Vec::new(),
        }
    }

    #[test]
    fn put_lookup_and_errors_are_not_stored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.db");
        let w = Writer::spawn(&path).unwrap();
        w.send(result("a", "aa", Verdict::Verified), "s1");
        let mut e = result("b", "bb", Verdict::Unverifiable);
        e.error = Some("download failed".into());
        w.send(e, "s1");
        // Decided by a host that was down: retried next run, never replayed.
        let mut t = result("c", "cc", Verdict::Unverifiable);
        t.findings.push(Finding::new(
            Code::RepositoryUnreachable,
            "could not resolve host",
        ));
        w.send(t, "s1");
        // Verified, but the attestations could not be asked for: they might change it.
        let mut a = result("d", "dd", Verdict::Verified);
        a.findings.push(Finding::new(
            Code::AttestationUnavailable,
            "the attestations could not be fetched: HTTP 503",
        ));
        w.send(a, "s1");
        assert_eq!(w.finish().unwrap(), 1);
        let s = Store::open(&path).unwrap();
        assert_eq!(s.count().unwrap(), 1);
        let got = s
            .lookup(Ecosystem::Crates, "a", "1.0.0", "AA", "s1")
            .unwrap();
        assert_eq!(got.unwrap().verdict, Verdict::Verified);
        assert!(s
            .lookup(Ecosystem::Crates, "a", "1.0.0", "other", "s1")
            .unwrap()
            .is_none());
        assert!(
            s.lookup(Ecosystem::Crates, "a", "1.0.0", "aa", "s2")
                .unwrap()
                .is_none(),
            "other settings: not reused"
        );
        assert_eq!(s.history(Ecosystem::Crates, "a").unwrap().len(), 1);
    }

    #[test]
    fn fingerprint_changes_with_every_setting() {
        let profiles = crate::profile::Profiles::builtin();
        let p = profiles.get(Ecosystem::Pypi);
        let none = Rewrites::default();
        let mut one = Rewrites::default();
        one.add("https://github.com/=file:///srv/a/").unwrap();
        let mut other = Rewrites::default();
        other.add("https://github.com/=file:///srv/b/").unwrap();
        let mut wheel = p.clone();
        wheel.artifact = Some("wheel".into());
        let mut mirror = p.clone();
        mirror.url = "http://127.0.0.1:1/simple/".into();
        let fp = |mode, profile, rewrites| {
            Settings {
                mode,
                profile,
                rewrites,
                trust_root: "sigstore-public",
            }
            .fingerprint()
        };
        let base = fp("diff", p, &none);
        assert_eq!(base, fp("diff", p, &none), "deterministic");
        let others = [
            fp("rebuild", p, &none),
            fp("diff", p, &one),
            fp("diff", p, &other),
            fp("diff", &wheel, &none),
            fp("diff", &mirror, &none),
        ];
        for (i, f) in others.iter().enumerate() {
            assert_ne!(&base, f, "setting {i}");
        }
        assert_ne!(others[1], others[2], "two mirrors");
        let other_root = Settings {
            mode: "diff",
            profile: p,
            rewrites: &none,
            trust_root: "file:ab",
        };
        assert_ne!(base, other_root.fingerprint(), "another trust root");
    }

    #[test]
    fn a_schema_1_store_is_migrated_and_its_rows_are_not_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch(&SCHEMA.replace("settings    TEXT    NOT NULL DEFAULT '',", ""))
                .unwrap();
            c.execute(
                "INSERT INTO results VALUES ('crates','a','1.0.0','aa','verified','[]',NULL,NULL,1,1,?1,?2)",
                params![
                    serde_json::to_string(&result("a", "aa", Verdict::Verified)).unwrap(),
                    env!("CARGO_PKG_VERSION")
                ],
            )
            .unwrap();
            c.pragma_update(None, "user_version", 1).unwrap();
        }
        let s = Store::open(&path).unwrap();
        assert_eq!(s.all().unwrap().len(), 1, "still readable for `report`");
        assert!(s
            .lookup(Ecosystem::Crates, "a", "1.0.0", "aa", "s1")
            .unwrap()
            .is_none());
        let other = dir.path().join("new.db");
        Store::open(&other).unwrap().merge_from(&path).unwrap();
    }

    #[test]
    fn merge_is_idempotent_and_newest_wins() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, all) = (
            dir.path().join("a.db"),
            dir.path().join("b.db"),
            dir.path().join("all.db"),
        );
        Store::open(&a)
            .unwrap()
            .put_all(&[
                (result("x", "11", Verdict::Unverifiable), "s".into()),
                (result("y", "22", Verdict::Verified), "s".into()),
            ])
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(5));
        Store::open(&b)
            .unwrap()
            .put_all(&[
                (result("x", "11", Verdict::Mismatch), "s".into()),
                (result("z", "33", Verdict::Verified), "s".into()),
            ])
            .unwrap();
        let mut m = Store::open(&all).unwrap();
        for _ in 0..2 {
            m.merge_from(&a).unwrap();
            m.merge_from(&b).unwrap();
            m.merge_from(&a).unwrap();
            assert_eq!(m.count().unwrap(), 3);
            let x = m
                .lookup(Ecosystem::Crates, "x", "1.0.0", "11", "s")
                .unwrap()
                .unwrap();
            assert_eq!(x.verdict, Verdict::Mismatch, "b decided x last");
        }
        assert!(m.merge_from(&dir.path().join("missing/none.db")).is_err());
    }
}

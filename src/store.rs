//! The results store: an embedded SQLite database with one row per decided package version and
//! artifact digest. It is what makes a bulk run resumable (a re-run skips what is already
//! decided for the same digest), what `provero report` reads, and what `provero merge`
//! combines across shards.
//!
//! Durability: WAL mode, and each result is committed as soon as its package finishes, from a
//! single writer thread fed by a channel (one writer means no lock contention between tasks;
//! small transactions mean a SIGKILL loses at most the results still in the channel, never
//! anything committed, and SQLite's journal keeps the file consistent). Errors (exit-2 cases:
//! a version the registry lacks, a failed download) are never stored, so they are retried.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;

use rusqlite::{params, Connection, OptionalExtension};

use crate::ecosystem::Ecosystem;
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

/// Bump when the table layout changes; older files are refused rather than misread.
const SCHEMA_VERSION: i64 = 1;

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
    PRIMARY KEY (ecosystem, name, version, sha256)
);
";

/// An open store (reads, merges, and the writer thread's connection).
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

/// The digest a result is stored under: the registry's published one (known before any
/// download), else what was downloaded. `None` for results that must not be stored.
pub fn storable_digest(r: &PackageResult) -> Option<&str> {
    if r.error.is_some() {
        return None;
    }
    r.artifact
        .expected_sha256
        .as_deref()
        .or(r.artifact.sha256.as_deref())
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
        self.conn
            .pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    fn err(&self, e: rusqlite::Error) -> StoreError {
        sql(&self.path, e)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The stored result for this version and artifact digest, if one was decided.
    pub fn lookup(
        &self,
        eco: Ecosystem,
        name: &str,
        version: &str,
        sha256: &str,
    ) -> Result<Option<PackageResult>, StoreError> {
        let json: Option<String> = self
            .conn
            .prepare_cached(
                "SELECT result FROM results
                 WHERE ecosystem = ?1 AND name = ?2 AND version = ?3 AND sha256 = ?4
                   AND provero = ?5",
            )
            .and_then(|mut st| {
                st.query_row(
                    // A verdict another provero version decided is not reused: rules change.
                    params![
                        eco.as_str(),
                        name,
                        version,
                        sha256.to_ascii_lowercase(),
                        env!("CARGO_PKG_VERSION")
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

    /// Store results in one transaction; a newer decision replaces an older one for the same
    /// key. Returns how many were storable.
    pub fn put_all(&mut self, results: &[PackageResult]) -> Result<usize, StoreError> {
        let tx = self.conn.transaction().map_err(|e| sql(&self.path, e))?;
        let mut n = 0;
        {
            let mut st = tx
                .prepare_cached(
                    "INSERT INTO results (ecosystem, name, version, sha256, verdict, findings,
                        commit_id, repository, decided_at, duration_ms, result, provero)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
                     ON CONFLICT (ecosystem, name, version, sha256) DO UPDATE SET
                        verdict = excluded.verdict, findings = excluded.findings,
                        commit_id = excluded.commit_id, repository = excluded.repository,
                        decided_at = excluded.decided_at, duration_ms = excluded.duration_ms,
                        result = excluded.result, provero = excluded.provero
                     WHERE excluded.decided_at >= results.decided_at",
                )
                .map_err(|e| sql(&self.path, e))?;
            for r in results {
                let Some(digest) = storable_digest(r) else {
                    continue;
                };
                let findings = serde_json::to_string(&r.findings).unwrap_or_default();
                let full = serde_json::to_string(r).unwrap_or_default();
                st.execute(params![
                    r.package.ecosystem.as_str(),
                    r.package.name,
                    r.package.version,
                    digest.to_ascii_lowercase(),
                    r.verdict.as_str(),
                    findings,
                    r.source.commit,
                    r.source.repository,
                    now_ms(),
                    r.duration_ms as i64,
                    full,
                    env!("CARGO_PKG_VERSION"),
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
        let res = self.conn.execute_batch(
            "BEGIN;
             INSERT INTO main.results SELECT * FROM other.results WHERE true
             ON CONFLICT (ecosystem, name, version, sha256) DO UPDATE SET
                verdict = excluded.verdict, findings = excluded.findings,
                commit_id = excluded.commit_id, repository = excluded.repository,
                decided_at = excluded.decided_at, duration_ms = excluded.duration_ms,
                result = excluded.result, provero = excluded.provero
             WHERE excluded.decided_at > results.decided_at;
             COMMIT;",
        );
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
    tx: Option<mpsc::Sender<PackageResult>>,
    handle: Option<JoinHandle<Result<usize, StoreError>>>,
}

impl Writer {
    pub fn spawn(path: &Path) -> Result<Writer, StoreError> {
        let mut store = Store::open(path)?;
        let (tx, rx) = mpsc::channel::<PackageResult>();
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

    /// Queue a result; results that must not be stored (errors) are dropped here.
    pub fn send(&self, r: PackageResult) {
        if storable_digest(&r).is_none() {
            return;
        }
        if let Some(tx) = &self.tx {
            // A failed writer reports its error from `finish`.
            let _ = tx.send(r);
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
    use crate::finding::Verdict;
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
        }
    }

    #[test]
    fn put_lookup_and_errors_are_not_stored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.db");
        let w = Writer::spawn(&path).unwrap();
        w.send(result("a", "aa", Verdict::Verified));
        let mut e = result("b", "bb", Verdict::Unverifiable);
        e.error = Some("download failed".into());
        w.send(e);
        assert_eq!(w.finish().unwrap(), 1);
        let s = Store::open(&path).unwrap();
        assert_eq!(s.count().unwrap(), 1);
        let got = s.lookup(Ecosystem::Crates, "a", "1.0.0", "AA").unwrap();
        assert_eq!(got.unwrap().verdict, Verdict::Verified);
        assert!(s
            .lookup(Ecosystem::Crates, "a", "1.0.0", "other")
            .unwrap()
            .is_none());
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
                result("x", "11", Verdict::Unverifiable),
                result("y", "22", Verdict::Verified),
            ])
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(5));
        Store::open(&b)
            .unwrap()
            .put_all(&[
                result("x", "11", Verdict::Mismatch),
                result("z", "33", Verdict::Verified),
            ])
            .unwrap();
        let mut m = Store::open(&all).unwrap();
        for _ in 0..2 {
            m.merge_from(&a).unwrap();
            m.merge_from(&b).unwrap();
            m.merge_from(&a).unwrap();
            assert_eq!(m.count().unwrap(), 3);
            let x = m
                .lookup(Ecosystem::Crates, "x", "1.0.0", "11")
                .unwrap()
                .unwrap();
            assert_eq!(x.verdict, Verdict::Mismatch, "b decided x last");
        }
        assert!(m.merge_from(&dir.path().join("missing/none.db")).is_err());
    }
}

//! The work list on disk: a SQLite database in the cache directory, for a list too long to
//! hold (a whole registry is millions of versions). What stays in memory is SQLite's page
//! cache (bounded) and one page of entries being read.
//!
//! - The file is anonymous ([`crate::scratch`]): a killed run leaves nothing behind.
//! - De-duplication is the key's unique index; the group order (ecosystem, canonical name,
//!   place in the list) is an index too, so the list is read in that order a page at a time
//!   and never sorted whole.
//! - Writes are committed every [`BATCH`] entries and before any read.

use std::path::Path;

use rusqlite::{params, Connection};

use super::Row;
use crate::ecosystem::Ecosystem;
use crate::engine::Work;
use crate::report::LockfileLine;

/// Entries written in one transaction.
const BATCH: usize = 4096;
/// Entries read in one query.
pub(super) const PAGE: usize = 1024;

pub(super) struct Disk {
    db: Connection,
    len: usize,
    /// Entries written since the last commit.
    pending: usize,
}

/// Pins and origin, as the `extra` column holds them (JSON).
#[derive(serde::Serialize, serde::Deserialize, Default)]
struct Extra {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pins: Vec<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    origin: Option<LockfileLine>,
}

const SCHEMA: &str = "
    CREATE TABLE entry(
        seq INTEGER PRIMARY KEY,
        key TEXT NOT NULL,
        eco INTEGER NOT NULL,
        grp TEXT NOT NULL,
        name TEXT NOT NULL,
        version TEXT,
        extra TEXT
    );
    CREATE UNIQUE INDEX entry_key ON entry(key);
    CREATE INDEX entry_group ON entry(eco, grp, seq);
";

/// Entries in list order, a page after `seq`.
const IN_LIST_ORDER: &str = "SELECT seq, eco, name, version, extra FROM entry
    WHERE seq > ?1 ORDER BY seq LIMIT ?2";
/// Entries in group order, a page after `(eco, grp, seq)`.
const IN_GROUPS: &str = "SELECT seq, eco, name, version, extra, grp FROM entry
    WHERE (eco, grp, seq) > (?1, ?2, ?3) ORDER BY eco, grp, seq LIMIT ?4";

impl Disk {
    /// A new, empty list in `dir` (created when missing).
    pub(super) fn create(dir: &Path) -> anyhow::Result<Disk> {
        let db = crate::scratch::create(dir, "worklist", "the work list", SCHEMA)?;
        Ok(Disk {
            db,
            len: 0,
            pending: 0,
        })
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Add `row` unless an entry has its key already (then its pin sets are added to that
    /// entry's, each once). `true`: added.
    pub(super) fn push(&mut self, row: Row) -> rusqlite::Result<bool> {
        if self.db.is_autocommit() {
            self.db.execute_batch("BEGIN")?;
        }
        self.pending += 1;
        let extra = (!row.pins.is_empty() || row.origin.is_some()).then(|| {
            serde_json::to_string(&Extra {
                pins: row.pins.clone(),
                origin: row.origin.clone(),
            })
            .expect("pins and an origin always serialize")
        });
        let added = self
            .db
            .prepare_cached(
                "INSERT INTO entry(seq, key, eco, grp, name, version, extra)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(key) DO NOTHING",
            )?
            .execute(params![
                self.len as i64,
                row.key,
                row.eco as i64,
                row.canonical,
                row.name,
                row.version,
                extra
            ])?
            == 1;
        if added {
            self.len += 1;
        } else if !row.pins.is_empty() {
            let (seq, extra): (i64, Option<String>) = self
                .db
                .prepare_cached("SELECT seq, extra FROM entry WHERE key = ?1")?
                .query_row([row.key], |r| Ok((r.get(0)?, r.get(1)?)))?;
            let mut x = parse_extra(extra.as_deref())?;
            let before = x.pins.len();
            for set in row.pins {
                if !x.pins.contains(&set) {
                    x.pins.push(set);
                }
            }
            if x.pins.len() != before {
                let text = serde_json::to_string(&x).expect("pins and an origin always serialize");
                self.db
                    .prepare_cached("UPDATE entry SET extra = ?1 WHERE seq = ?2")?
                    .execute(params![text, seq])?;
            }
        }
        if self.pending >= BATCH {
            self.pending = 0;
            self.commit()?;
        }
        Ok(added)
    }

    fn commit(&self) -> rusqlite::Result<()> {
        if !self.db.is_autocommit() {
            self.db.execute_batch("COMMIT")?;
        }
        Ok(())
    }

    /// Drop every entry from `len` on.
    pub(super) fn truncate(&mut self, len: usize) -> rusqlite::Result<()> {
        if len < self.len {
            self.db
                .execute("DELETE FROM entry WHERE seq >= ?1", [len as i64])?;
            self.len = len;
        }
        Ok(())
    }

    /// Entry `i` (tests).
    #[cfg(test)]
    pub(super) fn get(&self, i: usize) -> rusqlite::Result<Option<Work>> {
        use rusqlite::OptionalExtension;
        self.db
            .prepare_cached("SELECT seq, eco, name, version, extra FROM entry WHERE seq = ?1")?
            .query_row([i as i64], |r| work(r).map(|(_, w)| w))
            .optional()
    }

    /// Every entry with its place, in list order (`groups`: false) or every version of a
    /// package together (by ecosystem, canonical name, then list order), a page at a time.
    pub(super) fn pages<D: std::ops::Deref<Target = Disk>>(
        disk: D,
        groups: bool,
    ) -> rusqlite::Result<Pages<D>> {
        disk.commit()?;
        Ok(Pages {
            disk,
            groups,
            after: None,
            page: Vec::new().into_iter(),
            done: false,
        })
    }

    /// The plan SQLite makes for a page in group order (tests: read by the index, never
    /// sorted).
    #[cfg(test)]
    pub(super) fn group_plan(&self) -> String {
        let mut s = self
            .db
            .prepare(&format!("EXPLAIN QUERY PLAN {IN_GROUPS}"))
            .unwrap();
        let rows = s
            .query_map(params![0, "", 0, PAGE as i64], |r| r.get::<_, String>(3))
            .unwrap();
        rows.map(Result::unwrap).collect::<Vec<_>>().join("; ")
    }
}

/// Where the last page ended.
struct After {
    seq: i64,
    eco: i64,
    grp: String,
}

/// Reads the list a page at a time (see [`Disk::pages`]).
pub(super) struct Pages<D> {
    disk: D,
    groups: bool,
    after: Option<After>,
    page: std::vec::IntoIter<(usize, Work)>,
    done: bool,
}

impl<D: std::ops::Deref<Target = Disk>> Pages<D> {
    fn next_page(&mut self) -> rusqlite::Result<Vec<(usize, Work)>> {
        let db = &self.disk.db;
        let mut out = Vec::with_capacity(PAGE);
        let mut last = None;
        let mut take = |r: &rusqlite::Row| -> rusqlite::Result<()> {
            let (seq, w) = work(r)?;
            if self.groups {
                last = Some(After {
                    seq,
                    eco: r.get(1)?,
                    grp: r.get(5)?,
                });
            } else {
                last = Some(After {
                    seq,
                    eco: 0,
                    grp: String::new(),
                });
            }
            out.push((seq as usize, w));
            Ok(())
        };
        if self.groups {
            let (eco, grp, seq) = match &self.after {
                Some(a) => (a.eco, a.grp.as_str(), a.seq),
                None => (-1, "", -1),
            };
            let mut s = db.prepare_cached(IN_GROUPS)?;
            let mut rows = s.query(params![eco, grp, seq, PAGE as i64])?;
            while let Some(r) = rows.next()? {
                take(r)?;
            }
        } else {
            let seq = self.after.as_ref().map_or(-1, |a| a.seq);
            let mut s = db.prepare_cached(IN_LIST_ORDER)?;
            let mut rows = s.query(params![seq, PAGE as i64])?;
            while let Some(r) = rows.next()? {
                take(r)?;
            }
        }
        if last.is_some() {
            self.after = last;
        }
        Ok(out)
    }
}

impl<D: std::ops::Deref<Target = Disk>> Iterator for Pages<D> {
    type Item = rusqlite::Result<(usize, Work)>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(w) = self.page.next() {
                return Some(Ok(w));
            }
            if self.done {
                return None;
            }
            match self.next_page() {
                Ok(page) => {
                    self.done = page.len() < PAGE;
                    self.page = page.into_iter();
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

/// `seq, eco, name, version, extra` as a [`Work`].
fn work(r: &rusqlite::Row) -> rusqlite::Result<(i64, Work)> {
    let seq: i64 = r.get(0)?;
    let eco: i64 = r.get(1)?;
    let ecosystem = usize::try_from(eco)
        .ok()
        .and_then(|e| Ecosystem::ALL.get(e).copied())
        .ok_or(rusqlite::Error::IntegralValueOutOfRange(1, eco))?;
    let extra: Option<String> = r.get(4)?;
    let x = parse_extra(extra.as_deref())?;
    Ok((
        seq,
        Work {
            ecosystem,
            name: r.get(2)?,
            version: r.get(3)?,
            pins: x.pins,
            origin: x.origin,
        },
    ))
}

fn parse_extra(text: Option<&str>) -> rusqlite::Result<Extra> {
    match text {
        None => Ok(Extra::default()),
        Some(t) => serde_json::from_str(t).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(4, rusqlite::types::Type::Text, e.into())
        }),
    }
}

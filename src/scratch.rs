//! Scratch databases: what a run would otherwise hold in memory in proportion to its work (the
//! work list, a database dump's versions, the view by repository) kept instead in an anonymous
//! SQLite file in the cache directory.
//!
//! The file is made in the cache directory (not `/tmp`, often memory), opened, then unlinked
//! while SQLite holds it: exclusive locking and no journal mean no other file is ever opened,
//! so a killed run leaves nothing behind. Nothing is synced (the file dies with the run). What
//! stays in memory is SQLite's page cache, [`CACHE_KIB`].

use std::path::Path;

use rusqlite::Connection;

/// SQLite's page cache for one scratch database, in KiB.
pub const CACHE_KIB: usize = 4096;

/// A new scratch database in `dir` (created when missing), named `.<prefix>-*.db` while it is
/// opened, with `schema` made. `what` says what it holds, for the error.
pub fn create(dir: &Path, prefix: &str, what: &str, schema: &str) -> anyhow::Result<Connection> {
    let fail = |e: &dyn std::fmt::Display| {
        anyhow::anyhow!(
            "cannot create the file {what} is kept in, in {}: {e}",
            dir.display()
        )
    };
    std::fs::create_dir_all(dir).map_err(|e| fail(&e))?;
    let file = tempfile::Builder::new()
        .prefix(&format!(".{prefix}-"))
        .suffix(".db")
        .tempfile_in(dir)
        .map_err(|e| fail(&e))?;
    let db = Connection::open(file.path()).map_err(|e| fail(&e))?;
    db.execute_batch(&format!(
        "PRAGMA locking_mode = EXCLUSIVE;
         PRAGMA journal_mode = OFF;
         PRAGMA synchronous = OFF;
         PRAGMA cache_size = -{CACHE_KIB};
         {schema}"
    ))
    .map_err(|e| fail(&e))?;
    // SQLite holds the file (and its exclusive lock) now: its name can go.
    file.close().map_err(|e| fail(&e))?;
    Ok(db)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scratch_database_works_and_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let db = create(dir.path(), "t", "a test", "CREATE TABLE t(x INTEGER);").unwrap();
        for i in 0..100 {
            db.execute("INSERT INTO t VALUES (?1)", [i]).unwrap();
        }
        let sum: i64 = db
            .query_row("SELECT sum(x) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(sum, 4950);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_directory_it_cannot_make_says_what_for() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, b"").unwrap();
        let err = create(&blocker.join("cache"), "t", "the test list", "")
            .unwrap_err()
            .to_string();
        assert!(err.contains("the test list"), "{err}");
    }
}

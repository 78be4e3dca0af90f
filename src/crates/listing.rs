//! Every crate and version of a registry, for name patterns (`crates:*@*`). A sparse index
//! cannot list its crates, so the listing is a database dump in crates.io's layout
//! (`https://static.crates.io/db-dump.tar.gz`, daily): a tar.gz holding
//! `<date>/metadata.json` and `<date>/data/{crates,versions}.csv` (CSV with a header row;
//! crates `id`, `name`; versions `id`, `crate_id`, `num`, `created_at`, `yanked` as `t`/`f`).
//! It is read as a stream, and reading stops once both tables are in, so the rest of the dump
//! (download counts, the larger half) is never fetched. A private registry needs a dump of
//! the same layout as its profile's `listing` or `--listing crates=FILE`.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, Read};
use std::path::PathBuf;

use async_trait::async_trait;

use crate::ecosystem::{RegistryCx, RegistryError};
use crate::listing::runs::{Rec, Sorted, Spool};
use crate::listing::{
    Dropped, Emit, ListCx, Listed, ListedVersion, Lister, Listing, NamePattern, Prefilter,
};

pub struct DbDump;

#[async_trait]
impl Lister for DbDump {
    async fn list(&self, cx: ListCx<'_>) -> Result<Listing, RegistryError> {
        let Some(source) = cx.source else {
            return Err(RegistryError::Unsupported(format!(
                "the crates registry {} ({}) has no listing: a sparse index cannot list its \
                 crates. Give a database dump in crates.io's layout (a tar.gz with \
                 data/crates.csv and data/versions.csv) as `listing = URL` in the registry \
                 profile, or --listing crates=FILE",
                cx.profile.name, cx.profile.url
            )));
        };
        let names = cx.names.clone();
        let pre = cx.prefilter.clone();
        // The tables are read (and the download stopped) before the crates are sent: the
        // work list takes its time, and a paused download could time out.
        let spill = cx
            .spool
            .map(|dir| (dir.to_path_buf(), crate::cache_budget::work_entries()));
        let tables =
            crate::listing::read_source(cx.http, source, None, "crates", cx.quiet, move |r| {
                read_tables(r, &names, &pre, spill)
            })
            .await?;
        let mut packages = tables.into_packages();
        for p in packages.by_ref() {
            let p = p.map_err(RegistryError::Failed)?;
            if !cx.out.send_async(p).await {
                break;
            }
        }
        Ok(Listing {
            about: packages.about.take(),
            dropped: packages.dropped,
        })
    }

    fn dated(&self) -> bool {
        true
    }

    /// crates.io keeps a yanked version's `.crate`: `Cargo.lock` files still fetch it.
    fn serves_yanked(&self) -> bool {
        true
    }

    async fn versions(
        &self,
        cx: &RegistryCx<'_>,
        name: &str,
    ) -> Result<Vec<ListedVersion>, RegistryError> {
        Ok(super::registry::lines(cx, name)
            .await?
            .into_iter()
            .map(|l| ListedVersion {
                version: l.vers,
                published: l.pubtime,
                yanked: l.yanked,
            })
            .collect())
    }
}

/// One row of `versions.csv`, as much as a listing needs, without an allocation of its own
/// (the dump has every version of crates.io: 1.8 million rows, held until the table ends).
struct Row {
    /// The crate's id in the dump; once both tables are read, its place in name order.
    crate_id: u64,
    id: u64,
    /// `created_at` as the number `YYYYMMDDHHMMSS` (orders as the text does); 0 when it is
    /// not in PostgreSQL's `YYYY-MM-DD HH:MM:SS` form.
    created: u64,
    /// `num`: where it starts in the rows' text, and its length.
    num_at: usize,
    num_len: u32,
    yanked: bool,
}

impl Row {
    fn num<'a>(&self, text: &'a str) -> &'a str {
        &text[self.num_at..self.num_at + self.num_len as usize]
    }
}

/// `YYYY-MM-DD HH:MM:SS` as `YYYYMMDDHHMMSS`.
fn pack_time(t: &str) -> Option<u64> {
    let b = t.as_bytes();
    if b.len() != 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b' '
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let mut n = 0u64;
    for (i, &c) in b.iter().enumerate() {
        if [4, 7, 10, 13, 16].contains(&i) {
            continue;
        }
        if !c.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u64::from(c - b'0');
    }
    Some(n)
}

fn unpack_time(n: u64) -> String {
    let d = |div: u64, m: u64| (n / div) % m;
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        n / 10_000_000_000,
        d(100_000_000, 100),
        d(1_000_000, 100),
        d(10_000, 100),
        d(100, 100),
        n % 100
    )
}

/// Read a dump and send each crate whose name matches, in name order, with the versions
/// `pre` keeps, oldest first (by `created_at`, then row id). Past `spill`'s count of kept
/// versions they are kept in a file in its directory ([`Rows`]).
pub fn read_dump(
    r: &mut dyn Read,
    names: &NamePattern,
    pre: &Prefilter,
    spill: Option<(PathBuf, usize)>,
    emit: Emit<'_>,
) -> Result<Listing, String> {
    let mut packages = read_tables(r, names, pre, spill)?.into_packages();
    for p in packages.by_ref() {
        emit(p?);
    }
    Ok(Listing {
        about: packages.about.take(),
        dropped: packages.dropped,
    })
}

/// What a dump lists: the matching crates with a row, in name order, and the rows `pre`
/// keeps.
pub struct Tables {
    /// Each crate's name, in name order.
    names: Vec<String>,
    rows: ReadBack,
    about: Option<String>,
    dropped: Dropped,
    /// The versions came before the crates and are on disk: the shard is applied as they
    /// are read back (held rows are filtered at the join).
    shard_at_read: Option<Prefilter>,
}

/// The kept versions: held compactly (a [`Row`] each and their numbers in one string), until
/// there are more than the spill count; then spooled to disk and sorted there
/// ([`crate::listing::runs`]), so a listing of all of crates.io does not hold its 1.8 million
/// versions.
enum Rows {
    Held {
        rows: Vec<Row>,
        text: String,
        /// Where and past how many rows they move to disk.
        spill: Option<(PathBuf, usize)>,
    },
    Spooled {
        spool: Spool,
        dir: PathBuf,
        /// Versions sorted in memory at a time.
        chunk: usize,
    },
}

fn on_disk(e: std::io::Error) -> String {
    format!("the dump's versions on disk: {e}")
}

impl Rows {
    fn new(spill: Option<(PathBuf, usize)>) -> Rows {
        Rows::Held {
            rows: Vec::new(),
            text: String::new(),
            spill,
        }
    }

    fn push(
        &mut self,
        crate_id: u64,
        id: u64,
        created: u64,
        num: &str,
        yanked: bool,
    ) -> Result<(), String> {
        match self {
            Rows::Held { rows, text, spill } => {
                let at = text.len();
                text.push_str(num);
                rows.push(Row {
                    crate_id,
                    id,
                    created,
                    num_at: at,
                    num_len: num.len() as u32,
                    yanked,
                });
                if spill.as_ref().is_some_and(|(_, max)| rows.len() > *max) {
                    self.move_to_disk();
                }
                Ok(())
            }
            Rows::Spooled { spool, .. } => spool
                .push(&Rec {
                    group: crate_id,
                    created,
                    id,
                    num: num.to_string(),
                    yanked,
                })
                .map_err(on_disk),
        }
    }

    /// Move the held rows to disk. If they cannot be, they stay held (it only costs memory)
    /// and the run says so once.
    fn move_to_disk(&mut self) {
        let Rows::Held { rows, text, spill } = self else {
            return;
        };
        let Some((dir, chunk)) = spill.take() else {
            return;
        };
        let moved = Spool::create(&dir).and_then(|mut spool| {
            for r in rows.iter() {
                spool.push(&Rec {
                    group: r.crate_id,
                    created: r.created,
                    id: r.id,
                    num: r.num(text).to_string(),
                    yanked: r.yanked,
                })?;
            }
            Ok(spool)
        });
        match moved {
            Ok(spool) => {
                tracing::debug!(
                    "the dump's versions moved to disk, in {} ({} rows)",
                    dir.display(),
                    rows.len()
                );
                *self = Rows::Spooled { spool, dir, chunk };
            }
            Err(e) => tracing::warn!("the dump's versions stay in memory: {}", on_disk(e)),
        }
    }
}

impl Tables {
    /// Each crate in name order, with its kept versions.
    pub fn into_packages(self) -> Packages {
        let Tables {
            names,
            rows,
            about,
            dropped,
            shard_at_read,
        } = self;
        Packages {
            names: names.into_iter().enumerate(),
            rows,
            about,
            dropped,
            shard_at_read,
        }
    }
}

/// The crates of a dump, each with its kept versions, read back in name order; once done,
/// [`Packages::dropped`] counts every version left out.
pub struct Packages {
    names: std::iter::Enumerate<std::vec::IntoIter<String>>,
    rows: ReadBack,
    pub about: Option<String>,
    pub dropped: Dropped,
    shard_at_read: Option<Prefilter>,
}

enum ReadBack {
    /// Sorted by crate (its place in name order), then oldest first; the rows already sent
    /// are released as it goes, so the rows and the work list they go into are not both
    /// held whole.
    Held {
        rows: Vec<Row>,
        text: String,
        at: usize,
    },
    /// Merged from sorted runs on disk, in the same order.
    Sorted(Sorted),
}

impl Iterator for Packages {
    type Item = Result<Listed, String>;

    fn next(&mut self) -> Option<Self::Item> {
        let (k, name) = self.names.next()?;
        let versions = match &mut self.rows {
            ReadBack::Held { rows, text, at } => {
                let from = *at;
                while rows.get(*at).is_some_and(|r| r.crate_id == k as u64) {
                    *at += 1;
                }
                let versions = rows[from..*at]
                    .iter()
                    .map(|r| ListedVersion {
                        version: r.num(text).to_string(),
                        published: (r.created > 0).then(|| unpack_time(r.created)),
                        yanked: r.yanked,
                    })
                    .collect();
                if *at >= 1 << 16 && *at >= rows.len() / 4 {
                    rows.drain(..*at);
                    rows.shrink_to_fit();
                    *at = 0;
                }
                versions
            }
            ReadBack::Sorted(sorted) => {
                let mut versions = Vec::new();
                while sorted.peek_group() == Some(k as u64) {
                    match sorted.next() {
                        Some(Ok(r)) => versions.push(ListedVersion {
                            version: r.num,
                            published: (r.created > 0).then(|| unpack_time(r.created)),
                            yanked: r.yanked,
                        }),
                        Some(Err(e)) => return Some(Err(on_disk(e))),
                        None => break,
                    }
                }
                if let Some(pre) = &self.shard_at_read {
                    let dropped = &mut self.dropped;
                    versions.retain(|v| pre.in_shard(Some(&name), &v.version, dropped));
                }
                versions
            }
        };
        Some(Ok(Listed {
            name,
            versions: Some(versions),
        }))
    }
}

/// Read a dump's tables: the crates whose names match and the versions `pre` keeps. The
/// tables may come in either order; crates first (as crates.io writes them) lets versions be
/// dropped as they are read. Only the kept rows are held, without an allocation each, and
/// past `spill`'s count on disk.
pub fn read_tables(
    r: &mut dyn Read,
    names: &NamePattern,
    pre: &Prefilter,
    spill: Option<(PathBuf, usize)>,
) -> Result<Tables, String> {
    let mut dropped = Dropped::default();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(r));
    let mut crates: Option<HashMap<u64, String>> = None;
    // Were the versions filtered as they were read (the crates came first)?
    let mut filtered = false;
    let mut rows: Option<Rows> = None;
    // The crates with a row at all (a crate without one is not listed).
    let mut with_rows: HashSet<u64> = HashSet::new();
    let mut about = None;
    let entries = archive
        .entries()
        .map_err(|e| format!("not a tar.gz database dump: {e}"))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("not a tar.gz database dump: {e}"))?;
        let path = entry
            .path()
            .map_err(|e| format!("a bad entry name in the dump: {e}"))?
            .to_string_lossy()
            .into_owned();
        let mut reader = std::io::BufReader::with_capacity(1 << 16, entry);
        if path.ends_with("/metadata.json") || path == "metadata.json" {
            let mut text = String::new();
            reader
                .take(1 << 20)
                .read_to_string(&mut text)
                .map_err(|e| format!("{path}: {e}"))?;
            about = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v.get("timestamp")?.as_str().map(|t| format!("dump of {t}")));
        } else if path.ends_with("data/crates.csv") {
            let mut by_id = HashMap::new();
            let mut csv = Csv::new(&mut reader);
            let cols = csv.columns(&path, &["id", "name"])?;
            let mut rec = Vec::new();
            while csv.record(&mut rec).map_err(|e| format!("{path}: {e}"))? {
                let (Some(id), Some(name)) = (field(&rec, cols[0]), field(&rec, cols[1])) else {
                    continue;
                };
                if let (Ok(id), true) = (id.parse::<u64>(), names.matches(name)) {
                    by_id.insert(id, name.to_string());
                }
            }
            // Rows on disk are read back by crate: those of other crates are never read.
            if let Some(Rows::Held { rows, .. }) = &mut rows {
                rows.retain(|r| by_id.contains_key(&r.crate_id));
            }
            crates = Some(by_id);
        } else if path.ends_with("data/versions.csv") {
            let mut held = Rows::new(spill.clone());
            let mut csv = Csv::new(&mut reader);
            let cols = csv.columns(&path, &["id", "crate_id", "num", "created_at", "yanked"])?;
            let mut rec = Vec::new();
            while csv.record(&mut rec).map_err(|e| format!("{path}: {e}"))? {
                let get = |i: usize| field(&rec, cols[i]).unwrap_or("");
                let Ok(crate_id) = get(1).parse::<u64>() else {
                    continue;
                };
                let created = get(3);
                let created = created.get(..19).unwrap_or(created);
                let yanked = get(4) == "t";
                // With the crates read first, only matching crates' kept rows are held;
                // before them, what needs no name is dropped now, the rest at the join.
                let name = match &crates {
                    Some(c) => match c.get(&crate_id) {
                        Some(name) => Some(name.as_str()),
                        None => continue,
                    },
                    None => None,
                };
                with_rows.insert(crate_id);
                // A version number is short; one that is not is not a crates.io version (nor
                // one a spooled row can hold).
                if get(2).len() > usize::from(u16::MAX) {
                    continue;
                }
                if pre.keeps(name, get(2), Some(created), yanked, &mut dropped) {
                    held.push(
                        crate_id,
                        get(0).parse().unwrap_or(0),
                        pack_time(created).unwrap_or(0),
                        get(2),
                        yanked,
                    )?;
                }
            }
            rows = Some(held);
            filtered = crates.is_some();
        }
        if crates.is_some() && rows.is_some() {
            break;
        }
    }
    let (Some(crates), Some(mut rows)) = (crates, rows) else {
        return Err(
            "the dump has no data/crates.csv and data/versions.csv (not a crates.io database dump)"
                .to_string(),
        );
    };
    let mut shard_at_read = None;
    if let Rows::Held {
        rows: held, text, ..
    } = &mut rows
    {
        if !filtered {
            // The versions came first: the shard needs the names.
            held.retain(|r| match crates.get(&r.crate_id) {
                Some(name) => pre.in_shard(Some(name), r.num(text), &mut dropped),
                None => false,
            });
        }
    } else if !filtered {
        shard_at_read = Some(pre.clone());
    }
    // A crate without a row is not listed; the others by name.
    let mut names: Vec<(String, u64)> = crates
        .into_iter()
        .filter(|(id, _)| with_rows.contains(id))
        .map(|(id, name)| (name, id))
        .collect();
    drop(with_rows);
    names.sort_unstable();
    // Each row by its crate's place in name order.
    let place: HashMap<u64, u64> = names
        .iter()
        .enumerate()
        .map(|(k, (_, id))| (*id, k as u64))
        .collect();
    let rows = match rows {
        Rows::Held { mut rows, text, .. } => {
            for r in rows.iter_mut() {
                // Every held row's crate matched and has a row.
                r.crate_id = place.get(&r.crate_id).copied().unwrap_or(u64::MAX);
            }
            drop(place);
            rows.sort_unstable_by(|a, b| {
                (a.crate_id, a.created, a.id)
                    .cmp(&(b.crate_id, b.created, b.id))
                    .then_with(|| a.num(&text).cmp(b.num(&text)))
            });
            ReadBack::Held { rows, text, at: 0 }
        }
        // Rows of crates that do not match (spooled before the crates were read) are
        // dropped as they are sorted.
        Rows::Spooled { spool, dir, chunk } => ReadBack::Sorted(
            spool
                .sort(&dir, |id| place.get(&id).copied(), chunk)
                .map_err(on_disk)?,
        ),
    };
    Ok(Tables {
        names: names.into_iter().map(|(name, _)| name).collect(),
        rows,
        about,
        dropped,
        shard_at_read,
    })
}

fn field(rec: &[String], i: usize) -> Option<&str> {
    rec.get(i).map(String::as_str)
}

/// RFC 4180 CSV, record by record: quoted fields may hold commas, `""` and newlines (the
/// dump's `readme` and `features` columns do).
pub struct Csv<R> {
    r: R,
    line: Vec<u8>,
}

impl<R: BufRead> Csv<R> {
    pub fn new(r: R) -> Csv<R> {
        Csv {
            r,
            line: Vec::new(),
        }
    }

    /// Read the header row and find each wanted column.
    pub fn columns(&mut self, path: &str, wanted: &[&str]) -> Result<Vec<usize>, String> {
        let mut header = Vec::new();
        if !self
            .record(&mut header)
            .map_err(|e| format!("{path}: {e}"))?
        {
            return Err(format!("{path} is empty (no header row)"));
        }
        wanted
            .iter()
            .map(|w| {
                header.iter().position(|h| h == w).ok_or_else(|| {
                    format!(
                        "{path} has no `{w}` column (its columns: {})",
                        header.join(", ")
                    )
                })
            })
            .collect()
    }

    /// The next record into `out`; `false` at the end.
    pub fn record(&mut self, out: &mut Vec<String>) -> std::io::Result<bool> {
        out.clear();
        let mut field: Vec<u8> = Vec::new();
        let mut quoted = false;
        let mut started = false;
        loop {
            self.line.clear();
            if self.r.read_until(b'\n', &mut self.line)? == 0 {
                if quoted {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the file ends inside a quoted field",
                    ));
                }
                if started {
                    out.push(String::from_utf8_lossy(&field).into_owned());
                }
                return Ok(started);
            }
            started = true;
            let bytes = &self.line;
            let mut i = 0;
            while i < bytes.len() {
                let b = bytes[i];
                if quoted {
                    if b == b'"' {
                        if bytes.get(i + 1) == Some(&b'"') {
                            field.push(b'"');
                            i += 1;
                        } else {
                            quoted = false;
                        }
                    } else {
                        field.push(b);
                    }
                } else {
                    match b {
                        b'"' => quoted = true,
                        b',' => out.push(
                            String::from_utf8_lossy(&std::mem::take(&mut field)).into_owned(),
                        ),
                        b'\n' => {
                            out.push(String::from_utf8_lossy(&field).into_owned());
                            return Ok(true);
                        }
                        b'\r' if bytes.get(i + 1) == Some(&b'\n') => {}
                        _ => field.push(b),
                    }
                }
                i += 1;
            }
            if !quoted {
                // The last line had no newline.
                out.push(String::from_utf8_lossy(&field).into_owned());
                return Ok(true);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use super::*;
    use crate::ecosystem::Ecosystem;

    /// What a dump sends, collected.
    #[derive(Debug)]
    struct Sent {
        packages: Vec<Listed>,
        dropped: Dropped,
        about: Option<String>,
    }

    fn read_spilling(
        bytes: &[u8],
        names: &NamePattern,
        pre: &Prefilter,
        spill: Option<(PathBuf, usize)>,
    ) -> Result<Sent, String> {
        let mut packages = Vec::new();
        let l = super::read_dump(&mut &bytes[..], names, pre, spill, &mut |p| {
            packages.push(p)
        })?;
        Ok(Sent {
            packages,
            dropped: l.dropped,
            about: l.about,
        })
    }

    /// What the dump sends with its versions held, checked to be what it sends with them
    /// moved to disk after the first (and after none).
    fn read_dump(bytes: &[u8], names: &NamePattern, pre: &Prefilter) -> Result<Sent, String> {
        let held = read_spilling(bytes, names, pre, None)?;
        for at in [0, 1] {
            let dir = tempfile::tempdir().unwrap();
            let moved = read_spilling(bytes, names, pre, Some((dir.path().to_path_buf(), at)))?;
            assert_eq!(moved.packages, held.packages, "moved after {at}");
            assert_eq!(moved.dropped, held.dropped, "moved after {at}");
            assert_eq!(moved.about, held.about);
            assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        }
        Ok(held)
    }

    #[test]
    fn created_at_packs_in_text_order() {
        let a = pack_time("2021-05-01 10:00:00").unwrap();
        let b = pack_time("2021-05-01 10:00:01").unwrap();
        assert!(a < b && b < pack_time("2022-01-01 00:00:00").unwrap());
        assert_eq!(unpack_time(a), "2021-05-01 10:00:00");
        for bad in ["2021-05-01", "2021-05-01T10:00:00", "2021-05-0x 10:00:00"] {
            assert_eq!(pack_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn csv_quotes_commas_and_newlines() {
        let text = "id,name,readme\n1,a,\"x, \"\"y\"\"\nz\"\r\n2,b,\n3,c,last";
        let mut csv = Csv::new(text.as_bytes());
        let mut rec = Vec::new();
        assert!(csv.record(&mut rec).unwrap());
        assert_eq!(rec, ["id", "name", "readme"]);
        assert!(csv.record(&mut rec).unwrap());
        assert_eq!(rec, ["1", "a", "x, \"y\"\nz"]);
        assert!(csv.record(&mut rec).unwrap());
        assert_eq!(rec, ["2", "b", ""]);
        assert!(csv.record(&mut rec).unwrap());
        assert_eq!(rec, ["3", "c", "last"]);
        assert!(!csv.record(&mut rec).unwrap());
        let mut bad = Csv::new("1,\"open\n".as_bytes());
        assert!(bad.record(&mut rec).is_err());
    }

    fn dump(entries: &[(&str, &str)]) -> Vec<u8> {
        let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        for (path, text) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(text.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, path, text.as_bytes()).unwrap();
        }
        b.into_inner().unwrap().finish().unwrap()
    }

    const CRATES: &str = "created_at,description,id,name,readme\n\
        2020-01-01 00:00:00,d,1,alpha,\"multi\nline, readme\"\n\
        2020-01-01 00:00:00,d,2,beta,\n";
    const VERSIONS: &str = "checksum,crate_id,created_at,features,id,num,yanked\n\
        x,1,2021-05-01 10:00:00.123456,\"{\"\"a\"\":[]}\",11,0.2.0,f\n\
        x,1,2020-05-01 10:00:00,{},10,0.1.0,t\n\
        x,2,2022-01-01 00:00:00,{},12,1.0.0,f\n";

    #[test]
    fn a_dump_lists_matching_crates_oldest_first_in_either_table_order() {
        let all = NamePattern::new(Ecosystem::Crates, "*").unwrap();
        let keep_all = Prefilter::default();
        for order in [
            [
                ("2024-01-01-020000/data/crates.csv", CRATES),
                ("2024-01-01-020000/data/versions.csv", VERSIONS),
            ],
            [
                ("2024-01-01-020000/data/versions.csv", VERSIONS),
                ("2024-01-01-020000/data/crates.csv", CRATES),
            ],
        ] {
            let bytes = dump(&order);
            let l = read_dump(&bytes, &all, &keep_all).unwrap();
            let names: Vec<&str> = l.packages.iter().map(|p| p.name.as_str()).collect();
            assert_eq!(names, ["alpha", "beta"]);
            // The yanked 0.1.0 is dropped as it is read, and counted.
            let alpha = l.packages[0].versions.as_ref().unwrap();
            assert_eq!(alpha.len(), 1);
            assert_eq!(alpha[0].version, "0.2.0");
            assert_eq!(alpha[0].published.as_deref(), Some("2021-05-01 10:00:00"));
            assert_eq!(l.dropped.yanked, 1);
            // `--since` and a shard drop while reading too, in either table order.
            let since = Prefilter {
                eco: Some(Ecosystem::Crates),
                since: Some("2022-01-01".into()),
                shard: None,
                yanked: false,
            };
            let l = read_dump(&bytes, &all, &since).unwrap();
            assert_eq!(l.dropped.before, 1);
            assert!(l.packages[0].versions.as_ref().unwrap().is_empty());
            let mut held = 0;
            for index in 0..2 {
                let part = Prefilter {
                    eco: Some(Ecosystem::Crates),
                    since: None,
                    shard: Some(crate::shard::Shard { index, count: 2 }),
                    yanked: false,
                };
                let l = read_dump(&bytes, &all, &part).unwrap();
                held += l
                    .packages
                    .iter()
                    .map(|p| p.versions.as_ref().unwrap().len())
                    .sum::<usize>();
                assert_eq!(l.dropped.yanked, 1);
            }
            assert_eq!(held, 2, "every kept version in exactly one shard");
        }
        let only = NamePattern::new(Ecosystem::Crates, "b*").unwrap();
        let bytes = dump(&[
            (
                "d/metadata.json",
                "{\"timestamp\":\"2024-01-01T02:00:00Z\"}",
            ),
            ("d/data/crates.csv", CRATES),
            ("d/data/versions.csv", VERSIONS),
        ]);
        let l = read_dump(&bytes, &only, &keep_all).unwrap();
        assert_eq!(l.packages.len(), 1);
        assert_eq!(l.about.as_deref(), Some("dump of 2024-01-01T02:00:00Z"));
    }

    #[test]
    fn a_dump_moved_to_disk_lists_what_it_lists_held() {
        // 40 crates with up to 9 versions each, rows in no useful order, dates that tie.
        let mut crates = String::from("id,name\n");
        let mut versions = String::from("id,crate_id,num,created_at,yanked\n");
        let mut row = 0;
        for c in 0..40u64 {
            let _ = writeln!(crates, "{},crate-{:02}", 100 - c, (c * 7) % 40);
        }
        for i in 0..200u64 {
            let c = (i * 13) % 40;
            let v = i % 9;
            row += 1;
            let _ = writeln!(
                versions,
                "{},{},0.{v}.{i},2020-0{}-01 00:00:00,{}",
                1000 - row,
                100 - c,
                1 + (i * 5) % 9,
                if i % 11 == 0 { "t" } else { "f" }
            );
        }
        let all = NamePattern::new(Ecosystem::Crates, "crate-*").unwrap();
        for order in [
            [
                ("d/data/crates.csv", &crates),
                ("d/data/versions.csv", &versions),
            ],
            [
                ("d/data/versions.csv", &versions),
                ("d/data/crates.csv", &crates),
            ],
        ] {
            let order = order.map(|(p, t)| (p, t.as_str()));
            let bytes = dump(&order);
            let l = read_dump(&bytes, &all, &Prefilter::default()).unwrap();
            assert_eq!(l.packages.len(), 40);
            let most = l
                .packages
                .iter()
                .map(|p| p.versions.as_ref().unwrap().len());
            assert!(most.max().unwrap() > 3);
            for p in &l.packages {
                let dates: Vec<_> = p
                    .versions
                    .as_ref()
                    .unwrap()
                    .iter()
                    .map(|v| &v.published)
                    .collect();
                assert!(dates.is_sorted(), "{}: oldest first", p.name);
            }
            for index in 0..3 {
                let part = Prefilter {
                    eco: Some(Ecosystem::Crates),
                    shard: Some(crate::shard::Shard { index, count: 3 }),
                    ..Prefilter::default()
                };
                read_dump(&bytes, &all, &part).unwrap();
            }
        }
    }

    #[test]
    fn a_dump_without_the_tables_or_columns_says_so() {
        let all = NamePattern::new(Ecosystem::Crates, "*").unwrap();
        let keep_all = Prefilter::default();
        let bytes = dump(&[("d/data/crates.csv", CRATES)]);
        assert!(read_dump(&bytes, &all, &keep_all)
            .unwrap_err()
            .contains("versions.csv"));
        let bytes = dump(&[
            ("d/data/crates.csv", "id,title\n1,x\n"),
            ("d/data/versions.csv", VERSIONS),
        ]);
        let e = read_dump(&bytes, &all, &keep_all).unwrap_err();
        assert!(e.contains("no `name` column"), "{e}");
        assert!(read_dump(b"not gzip", &all, &keep_all).is_err());
    }
}

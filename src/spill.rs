//! The spill: a run's finished results on disk instead of in memory, so that memory stays flat
//! in the number of packages. Each result is appended as it finishes (a 4-byte length, then the
//! result as JSON, the same form the results store keeps); what stays in memory is one offset
//! per package (8 bytes). The report is read back in the order the caller gives (the work
//! list's), once per format that is written.
//!
//! Why a file of its own rather than the results store: the report carries what the store
//! never keeps (lockfile pins, `regression`, allowed findings, errors and transient failures),
//! and a run may have no store at all (`--no-db`).
//!
//! The file is anonymous (`tempfile`: unlinked while open) and lives in the cache directory,
//! not in `/tmp`, which is often memory: nothing is left behind by a killed run, and a whole
//! registry's results (gigabytes) go to disk.
//!
//! Each package's offset is kept by its place in the work list ([`Places`]): in memory for a
//! list held in memory, in a second anonymous file (8 bytes a package) for a list on disk,
//! so a whole registry's run holds neither.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::report::PackageResult;

/// Where results are appended while the run goes on.
pub struct SpillWriter {
    file: BufWriter<File>,
    /// Bytes written so far: the offset of the next record.
    at: u64,
    dir: PathBuf,
}

/// The finished results, in report order.
#[derive(Debug)]
pub struct Spill {
    file: File,
    order: Places,
    dir: PathBuf,
}

/// Each package's offset in the spill, by its place in the work list (not every place has
/// one: a run that stopped early).
#[derive(Debug)]
pub struct Places {
    kept: Kept,
    /// Places that have an offset.
    count: usize,
}

#[derive(Debug)]
enum Kept {
    Held(Vec<u64>),
    /// 8 bytes a place, the offset plus one (0: none; the file starts sparse, all zeros).
    File {
        file: File,
        dir: PathBuf,
    },
}

/// A place without an offset, in memory.
const NONE: u64 = u64::MAX;

impl SpillWriter {
    /// A new, empty spill in `dir` (created when missing).
    pub fn create(dir: &Path) -> io::Result<SpillWriter> {
        let file = std::fs::create_dir_all(dir)
            .and_then(|()| tempfile::tempfile_in(dir))
            .map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!(
                        "cannot create the file the run's results are kept in, in {}: {e}",
                        dir.display()
                    ),
                )
            })?;
        Ok(SpillWriter {
            file: BufWriter::with_capacity(1 << 16, file),
            at: 0,
            dir: dir.to_path_buf(),
        })
    }

    /// Append one result; returns its offset (what [`SpillWriter::read`] and
    /// [`SpillWriter::finish`] take).
    pub fn append(&mut self, r: &PackageResult) -> io::Result<u64> {
        let body = serde_json::to_vec(r).map_err(|e| self.error("write", e.into()))?;
        let len = u32::try_from(body.len()).map_err(|_| {
            self.error(
                "write",
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("the result of {} is over 4 GiB", r.package),
                ),
            )
        })?;
        let offset = self.at;
        self.file
            .write_all(&len.to_le_bytes())
            .and_then(|()| self.file.write_all(&body))
            .map_err(|e| self.error("write", e))?;
        self.at += 4 + body.len() as u64;
        Ok(offset)
    }

    /// Read back a result appended earlier.
    pub fn read(&mut self, offset: u64) -> io::Result<PackageResult> {
        self.file.flush().map_err(|e| self.error("write", e))?;
        read_at(self.file.get_ref(), offset, &self.dir)
    }

    /// Done appending: the results at `order`'s offsets (from [`SpillWriter::append`]), in
    /// its order, are the report's.
    pub fn finish(self, order: Places) -> io::Result<Spill> {
        let dir = self.dir.clone();
        let file = self
            .file
            .into_inner()
            .map_err(|e| spill_error(&dir, "write", e.into_error()))?;
        Ok(Spill { file, order, dir })
    }

    fn error(&self, what: &str, e: io::Error) -> io::Error {
        spill_error(&self.dir, what, e)
    }
}

impl Spill {
    /// The directory the spill is in (the run's cache directory).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// How many results the report has.
    pub fn len(&self) -> usize {
        self.order.count
    }

    pub fn is_empty(&self) -> bool {
        self.order.count == 0
    }

    /// Every result, in report order, read from disk one at a time.
    pub fn iter(&self) -> impl Iterator<Item = io::Result<PackageResult>> + '_ {
        self.order
            .iter()
            .map(|at| at.and_then(|at| read_at(&self.file, at, &self.dir)))
    }
}

impl Places {
    /// Offsets in this order, held.
    pub fn held(order: Vec<u64>) -> Places {
        Places {
            count: order.len(),
            kept: Kept::Held(order),
        }
    }

    /// `len` places without an offset yet: in memory, or (`on_disk`) in an anonymous file
    /// in `dir`.
    pub fn new(len: usize, on_disk: bool, dir: &Path) -> io::Result<Places> {
        let kept = if on_disk {
            let file = tempfile::tempfile_in(dir)
                .and_then(|f| f.set_len(8 * len as u64).map(|()| f))
                .map_err(|e| spill_error(dir, "make room for", e))?;
            Kept::File {
                file,
                dir: dir.to_path_buf(),
            }
        } else {
            Kept::Held(vec![NONE; len])
        };
        Ok(Places { kept, count: 0 })
    }

    /// Place `i`'s offset is `offset` (it replaces an earlier one).
    pub fn put(&mut self, i: usize, offset: u64) -> io::Result<()> {
        let had = self.get(i)?.is_some();
        match &mut self.kept {
            Kept::Held(v) => v[i] = offset,
            Kept::File { file, dir } => file
                .write_all_at(&(offset + 1).to_le_bytes(), 8 * i as u64)
                .map_err(|e| spill_error(dir, "write", e))?,
        }
        if !had {
            self.count += 1;
        }
        Ok(())
    }

    /// Place `i`'s offset, if it has one.
    pub fn get(&self, i: usize) -> io::Result<Option<u64>> {
        match &self.kept {
            Kept::Held(v) => Ok(v.get(i).copied().filter(|&o| o != NONE)),
            Kept::File { file, dir } => {
                let mut b = [0u8; 8];
                file.read_exact_at(&mut b, 8 * i as u64)
                    .map_err(|e| spill_error(dir, "read", e))?;
                Ok(u64::from_le_bytes(b).checked_sub(1))
            }
        }
    }

    /// The offsets there are, in place order.
    fn iter(&self) -> Box<dyn Iterator<Item = io::Result<u64>> + '_> {
        match &self.kept {
            Kept::Held(v) => Box::new(v.iter().copied().filter(|&o| o != NONE).map(Ok)),
            Kept::File { file, dir } => {
                let len = file.metadata().map(|m| m.len() / 8);
                let mut reader = io::BufReader::with_capacity(1 << 16, ReadAt { file, at: 0 });
                match len {
                    Err(e) => Box::new(std::iter::once(Err(spill_error(dir, "read", e)))),
                    Ok(len) => Box::new((0..len).filter_map(move |_| {
                        let mut b = [0u8; 8];
                        match io::Read::read_exact(&mut reader, &mut b) {
                            Ok(()) => u64::from_le_bytes(b).checked_sub(1).map(Ok),
                            Err(e) => Some(Err(spill_error(dir, "read", e))),
                        }
                    })),
                }
            }
        }
    }
}

/// Offsets in the order given, held.
impl FromIterator<u64> for Places {
    fn from_iter<I: IntoIterator<Item = u64>>(order: I) -> Places {
        Places::held(order.into_iter().collect())
    }
}

/// Reads a file from `at` on by its own offset (`pread`), so that readers of one file do not
/// move each other (each reading of the report, each reading of spooled standard input).
pub(crate) struct ReadAt<F> {
    pub(crate) file: F,
    pub(crate) at: u64,
}

impl<F: std::ops::Deref<Target = File>> io::Read for ReadAt<F> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read_at(buf, self.at)?;
        self.at += n as u64;
        Ok(n)
    }
}

fn read_at(file: &File, offset: u64, dir: &Path) -> io::Result<PackageResult> {
    let mut len = [0u8; 4];
    file.read_exact_at(&mut len, offset)
        .map_err(|e| spill_error(dir, "read", e))?;
    let mut body = vec![0u8; u32::from_le_bytes(len) as usize];
    file.read_exact_at(&mut body, offset + 4)
        .map_err(|e| spill_error(dir, "read", e))?;
    serde_json::from_slice(&body).map_err(|e| spill_error(dir, "read", e.into()))
}

fn spill_error(dir: &Path, what: &str, e: io::Error) -> io::Error {
    io::Error::new(
        e.kind(),
        format!(
            "cannot {what} the run's results in the file kept for them in {}: {e}",
            dir.display()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ecosystem::Ecosystem;
    use crate::finding::{Code, Finding};

    #[test]
    fn results_come_back_in_the_order_given_and_rewrites_win() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = SpillWriter::create(&dir.path().join("tmp")).unwrap();
        let mut offsets = Vec::new();
        for v in ["1.0.0", "2.0.0", "3.0.0"] {
            let mut r = PackageResult::pending(Ecosystem::Crates, "a", Some(v));
            r.findings
                .push(Finding::at(Code::ContentDiffers, "src/lib.rs", "differs"));
            offsets.push(w.append(&r).unwrap());
        }
        let mut first = w.read(offsets[0]).unwrap();
        assert_eq!(first.package.version, "1.0.0");
        first.findings.clear();
        // A result written again (the run's last regression pass) replaces the first record.
        offsets[0] = w.append(&first).unwrap();
        let spill = w
            .finish(Places::held(vec![offsets[2], offsets[0], offsets[1]]))
            .unwrap();
        let back: Vec<PackageResult> = spill.iter().map(Result::unwrap).collect();
        let versions: Vec<&str> = back.iter().map(|r| r.package.version.as_str()).collect();
        assert_eq!(versions, ["3.0.0", "1.0.0", "2.0.0"]);
        assert!(back[1].findings.is_empty());
        assert_eq!(back[0].findings.len(), 1);
        assert_eq!(spill.len(), 3);
    }

    #[test]
    fn places_on_disk_give_what_places_in_memory_give() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = SpillWriter::create(dir.path()).unwrap();
        let mut held = Places::new(5, false, dir.path()).unwrap();
        let mut file = Places::new(5, true, dir.path()).unwrap();
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "anonymous"
        );
        // Places 4, 0 and 2 finish (place 1 and 3 never do), and place 0 is written again.
        for (i, v) in [(4, "4.0.0"), (0, "0.0.0"), (2, "2.0.0"), (0, "0.0.1")] {
            let at = w
                .append(&PackageResult::pending(Ecosystem::Crates, "a", Some(v)))
                .unwrap();
            held.put(i, at).unwrap();
            file.put(i, at).unwrap();
        }
        assert_eq!(file.get(3).unwrap(), None);
        assert_eq!(file.get(0).unwrap(), held.get(0).unwrap());
        assert_eq!(file.get(0).unwrap().map(|o| o > 0), Some(true));
        let versions = |spill: &Spill| -> Vec<String> {
            spill.iter().map(|r| r.unwrap().package.version).collect()
        };
        let w2 = {
            let mut again = SpillWriter::create(dir.path()).unwrap();
            let mut places = Places::new(5, true, dir.path()).unwrap();
            for (i, v) in [(4, "4.0.0"), (0, "0.0.1"), (2, "2.0.0")] {
                let at = again
                    .append(&PackageResult::pending(Ecosystem::Crates, "a", Some(v)))
                    .unwrap();
                places.put(i, at).unwrap();
            }
            again.finish(places).unwrap()
        };
        let spill = w.finish(file).unwrap();
        assert_eq!(spill.len(), 3);
        assert_eq!(versions(&spill), ["0.0.1", "2.0.0", "4.0.0"]);
        // Read twice (once per format): the same.
        assert_eq!(versions(&spill), versions(&w2));
        let mut w = SpillWriter::create(dir.path()).unwrap();
        let at = w
            .append(&PackageResult::pending(
                Ecosystem::Crates,
                "b",
                Some("1.0.0"),
            ))
            .unwrap();
        held.put(1, at).unwrap();
        assert_eq!(held.count, 4);
    }

    #[test]
    fn a_spill_that_cannot_be_made_says_where() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, "").unwrap();
        let e = SpillWriter::create(&blocker.join("tmp")).err().unwrap();
        assert!(e.to_string().contains("cannot create the file"), "{e}");
        assert!(
            e.to_string().contains(&blocker.display().to_string()),
            "{e}"
        );
    }
}

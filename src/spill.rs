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
    order: Vec<u64>,
    dir: PathBuf,
}

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

    /// Done appending: the results at `order` (offsets from [`SpillWriter::append`]), in that
    /// order, are the report's.
    pub fn finish(self, order: Vec<u64>) -> io::Result<Spill> {
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
    /// How many results the report has.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Every result, in report order, read from disk one at a time.
    pub fn iter(&self) -> impl Iterator<Item = io::Result<PackageResult>> + '_ {
        self.order
            .iter()
            .map(|&at| read_at(&self.file, at, &self.dir))
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
        let spill = w.finish(vec![offsets[2], offsets[0], offsets[1]]).unwrap();
        let back: Vec<PackageResult> = spill.iter().map(Result::unwrap).collect();
        let versions: Vec<&str> = back.iter().map(|r| r.package.version.as_str()).collect();
        assert_eq!(versions, ["3.0.0", "1.0.0", "2.0.0"]);
        assert!(back[1].findings.is_empty());
        assert_eq!(back[0].findings.len(), 1);
        assert_eq!(spill.len(), 3);
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

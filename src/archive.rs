//! Reading published archives safely, in memory. Archives are hostile input: every entry is
//! checked (`..`, absolute paths, links leaving the package, duplicates, device files, non-UTF-8
//! names) and the total size and entry count are capped, so a gzip bomb or a huge declared size
//! ends as a clear error and nothing is ever written to disk.
//!
//! Memory: a `.tar.gz` is decompressed as a stream straight into the tar reader (never held
//! whole), and with [`Limits::streaming`] a file over the threshold is hashed as it is read
//! (git blob id and size kept, bytes dropped): a small archive of a huge file of zeros costs
//! a hash, not its size in RAM.

use std::collections::BTreeMap;
use std::io::Read;

use sha1::Digest as _;

use crate::finding::{Code, Finding};

/// Caps applied while reading one archive.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_total_bytes: u64,
    pub max_entries: usize,
    /// Files larger than this are hashed as a stream and become [`Content::Streamed`].
    pub stream_files_over: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_total_bytes: 512 * 1024 * 1024,
            max_entries: 100_000,
            stream_files_over: u64::MAX,
        }
    }
}

/// Files above this size are compared by blob id only: no rule reads them and no diff of
/// them is readable, so their bytes are not kept.
pub const STREAM_FILES_OVER: u64 = 8 * 1024 * 1024;

impl Limits {
    /// For the package's own file tree (a crate, an sdist, a gem's `data.tar.gz`): large files
    /// are hashed as a stream, not held. Not for archives whose members are read whole
    /// (a gem's outer tar, a wheel's RECORD check).
    pub fn streaming() -> Limits {
        Limits {
            stream_files_over: STREAM_FILES_OVER,
            ..Limits::default()
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("archive is over the cap: {0}")]
    TooLarge(String),
    #[error("archive could not be read: {0}")]
    Unreadable(String),
}

impl ArchiveError {
    pub fn finding(&self) -> Finding {
        match self {
            ArchiveError::TooLarge(_) => Finding::new(Code::ArtifactTooLarge, self.to_string()),
            ArchiveError::Unreadable(_) => Finding::new(Code::ArtifactUnreadable, self.to_string()),
        }
    }
}

/// What an archive entry holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    File {
        /// Shared, so that the comparison's blob cache takes small files without a copy
        /// (`h2` 0.1's 58 MB of test fixtures were held twice).
        data: std::sync::Arc<Vec<u8>>,
        executable: bool,
    },
    Symlink {
        target: String,
    },
    /// A file too large to keep: its git blob id and size, computed while it was read.
    Streamed {
        blob_id: String,
        size: u64,
        executable: bool,
    },
}

/// The files of a published artifact, by path relative to the package root (`/`-separated).
#[derive(Debug, Default, Clone)]
pub struct Files {
    pub map: BTreeMap<String, Content>,
}

impl Files {
    pub fn get(&self, path: &str) -> Option<&Content> {
        self.map.get(path)
    }

    pub fn data(&self, path: &str) -> Option<&[u8]> {
        match self.map.get(path) {
            Some(Content::File { data, .. }) => Some(data),
            _ => None,
        }
    }

    pub fn text(&self, path: &str) -> Option<String> {
        self.data(path)
            .map(|d| String::from_utf8_lossy(d).into_owned())
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Bytes of file content held in memory (streamed files hold none).
    pub fn held_bytes(&self) -> u64 {
        self.map
            .values()
            .map(|c| match c {
                Content::File { data, .. } => data.len() as u64,
                Content::Symlink { target } => target.len() as u64,
                Content::Streamed { .. } => 0,
            })
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// Raw entries of an archive before the package root is stripped.
#[derive(Debug, Default)]
pub struct RawArchive {
    pub entries: Vec<(String, Content)>,
    pub findings: Vec<Finding>,
}

/// `sha1("blob <len>\0" + bytes)`: the id git gives a file's content.
pub fn git_blob_id(data: &[u8]) -> String {
    let mut h = sha1::Sha1::new();
    h.update(format!("blob {}\0", data.len()).as_bytes());
    h.update(data);
    hex::encode(h.finalize())
}

pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

/// Gunzip with a cap on the output size (a gzip bomb stops at the cap).
pub fn gunzip_capped(data: &[u8], cap: u64) -> Result<Vec<u8>, ArchiveError> {
    let mut out = Vec::new();
    let mut dec = flate2::read::GzDecoder::new(data).take(cap + 1);
    dec.read_to_end(&mut out)
        .map_err(|e| ArchiveError::Unreadable(format!("gzip: {e}")))?;
    if out.len() as u64 > cap {
        return Err(ArchiveError::TooLarge(format!(
            "decompresses to more than {cap} bytes"
        )));
    }
    Ok(out)
}

/// Read a `.tar.gz` under the limits, decompressing as the tar reader asks for bytes.
pub fn read_tar_gz(data: &[u8], limits: Limits) -> Result<RawArchive, ArchiveError> {
    let over = std::rc::Rc::new(std::cell::Cell::new(false));
    let reader = Capped {
        inner: flate2::read::GzDecoder::new(data),
        left: limits.max_total_bytes,
        over: over.clone(),
    };
    let too_large = || {
        ArchiveError::TooLarge(format!(
            "decompresses to more than {} bytes",
            limits.max_total_bytes
        ))
    };
    let mut archive = tar::Archive::new(reader);
    let out =
        read_entries(&mut archive, limits).map_err(|e| if over.get() { too_large() } else { e })?;
    // Read to the end of the gzip stream: its checksum and the cap cover every byte.
    let mut rest = archive.into_inner();
    std::io::copy(&mut rest, &mut std::io::sink()).map_err(|e| {
        if over.get() {
            too_large()
        } else {
            ArchiveError::Unreadable(format!("gzip: {e}"))
        }
    })?;
    Ok(out)
}

/// A reader that fails once more than `left` bytes came through (and says so in `over`).
struct Capped<R> {
    inner: R,
    left: u64,
    over: std::rc::Rc<std::cell::Cell<bool>>,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self
            .inner
            .read(buf)
            .map_err(|e| std::io::Error::new(e.kind(), format!("gzip: {e}")))?;
        if n as u64 > self.left {
            self.over.set(true);
            return Err(std::io::Error::other("over the size cap"));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// Normalise an entry name: `/`-separated, no `.` or empty components. `None` when the name is
/// absolute or climbs out with `..`.
pub fn clean_path(name: &str) -> Option<String> {
    if name.starts_with('/') || name.starts_with('\\') || has_drive_prefix(name) {
        return None;
    }
    let mut parts = Vec::new();
    for comp in name.split('/') {
        match comp {
            "" | "." => {}
            ".." => return None,
            c => parts.push(c),
        }
    }
    Some(parts.join("/"))
}

fn has_drive_prefix(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() >= 2 && b[1] == b':' && b[0].is_ascii_alphabetic()
}

/// Resolve a symlink target against the link's directory, within the archive root.
/// `None` when it leaves the root or is absolute.
pub fn resolve_link(link_path: &str, target: &str) -> Option<String> {
    if target.starts_with('/') || has_drive_prefix(target) {
        return None;
    }
    let mut parts: Vec<&str> = link_path.split('/').collect();
    parts.pop();
    for comp in target.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            c => parts.push(c),
        }
    }
    Some(parts.join("/"))
}

/// Read an uncompressed tar under the limits.
pub fn read_tar(data: &[u8], limits: Limits) -> Result<RawArchive, ArchiveError> {
    read_entries(&mut tar::Archive::new(data), limits)
}

fn read_entries<R: Read>(
    archive: &mut tar::Archive<R>,
    limits: Limits,
) -> Result<RawArchive, ArchiveError> {
    let mut out = RawArchive::default();
    let mut total: u64 = 0;
    let entries = archive
        .entries()
        .map_err(|e| ArchiveError::Unreadable(format!("tar: {e}")))?;
    for (count, entry) in entries.enumerate() {
        if count >= limits.max_entries {
            return Err(ArchiveError::TooLarge(format!(
                "more than {} entries",
                limits.max_entries
            )));
        }
        let mut entry = entry.map_err(|e| ArchiveError::Unreadable(format!("tar entry: {e}")))?;
        let raw_name = entry.path_bytes().into_owned();
        let Ok(name) = String::from_utf8(raw_name.clone()) else {
            out.findings.push(Finding::at(
                Code::UnsafeArchiveEntry,
                String::from_utf8_lossy(&raw_name).into_owned(),
                "entry name is not UTF-8",
            ));
            continue;
        };
        let header = entry.header();
        let kind = header.entry_type();
        let size = header.size().unwrap_or(0);
        if kind.is_dir()
            || kind.is_pax_global_extensions()
            || kind.is_pax_local_extensions()
            || kind.is_gnu_longname()
            || kind.is_gnu_longlink()
        {
            continue;
        }
        let Some(path) = clean_path(&name) else {
            out.findings.push(Finding::at(
                Code::UnsafeArchiveEntry,
                name.clone(),
                "entry path is absolute or climbs out of the package with `..`",
            ));
            continue;
        };
        if kind.is_symlink() || kind.is_hard_link() {
            let target = entry
                .link_name_bytes()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            if kind.is_hard_link() {
                // A hard link names another archive member by its full path.
                match clean_path(&target) {
                    Some(t) => out.entries.push((
                        path,
                        Content::Symlink {
                            target: hardlink_marker(&t),
                        },
                    )),
                    None => out.findings.push(Finding::at(
                        Code::UnsafeArchiveEntry,
                        path,
                        format!("hard link to `{target}` outside the package"),
                    )),
                }
                continue;
            }
            out.entries.push((path, Content::Symlink { target }));
            continue;
        }
        if !(kind.is_file()
            || kind == tar::EntryType::Continuous
            || kind == tar::EntryType::GNUSparse)
        {
            out.findings.push(Finding::at(
                Code::UnsafeArchiveEntry,
                path,
                format!("entry of type {kind:?} (device, fifo, ...) that no packager writes"),
            ));
            continue;
        }
        total = total.saturating_add(size);
        if total > limits.max_total_bytes {
            return Err(ArchiveError::TooLarge(format!(
                "files add up to more than {} bytes",
                limits.max_total_bytes
            )));
        }
        let executable = header.mode().map(|m| m & 0o111 != 0).unwrap_or(false);
        if size > limits.stream_files_over {
            let blob_id = stream_blob_id(&mut entry, size)
                .map_err(|e| ArchiveError::Unreadable(format!("{path}: {e}")))?;
            out.entries.push((
                path,
                Content::Streamed {
                    blob_id,
                    size,
                    executable,
                },
            ));
            continue;
        }
        let mut buf = Vec::with_capacity(size.min(1 << 24) as usize);
        (&mut entry)
            .take(size)
            .read_to_end(&mut buf)
            .map_err(|e| ArchiveError::Unreadable(format!("{path}: {e}")))?;
        out.entries.push((
            path,
            Content::File {
                data: buf.into(),
                executable,
            },
        ));
    }
    Ok(out)
}

/// The git blob id of the next `size` bytes of `r`, read in small pieces.
fn stream_blob_id(r: &mut impl Read, size: u64) -> std::io::Result<String> {
    let mut h = sha1::Sha1::new();
    h.update(format!("blob {size}\0").as_bytes());
    let mut buf = vec![0u8; 64 * 1024];
    let mut left = size;
    while left > 0 {
        let want = buf.len().min(left as usize);
        let n = r.read(&mut buf[..want])?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("the entry ends {left} bytes before its declared size"),
            ));
        }
        h.update(&buf[..n]);
        left -= n as u64;
    }
    Ok(hex::encode(h.finalize()))
}

const HARDLINK_PREFIX: &str = "\0hardlink:";

fn hardlink_marker(target: &str) -> String {
    format!("{HARDLINK_PREFIX}{target}")
}

/// How the package root is found inside the archive.
#[derive(Debug, Clone)]
pub enum Root<'a> {
    /// Every entry must sit under this directory (crates: `name-version/`).
    Exact(&'a str),
    /// The single top-level directory all entries share (sdists), if they share one.
    SingleTopDir,
    /// Entries are already relative to the package root (gem `data.tar.gz`).
    None,
}

/// Strip the package root, resolve hard links, check symlinks stay inside, reject duplicates.
pub fn into_files(raw: RawArchive, root: Root<'_>) -> (Files, Vec<Finding>) {
    let mut findings = raw.findings;
    let prefix: Option<String> = match root {
        Root::Exact(p) => Some(p.trim_end_matches('/').to_string()),
        Root::SingleTopDir => {
            let mut tops = raw
                .entries
                .iter()
                .map(|(p, _)| p.split('/').next().unwrap_or(""));
            let first = tops.next();
            match first {
                Some(f)
                    if raw
                        .entries
                        .iter()
                        .all(|(p, _)| p.starts_with(&format!("{f}/"))) =>
                {
                    Some(f.to_string())
                }
                _ => None,
            }
        }
        Root::None => None,
    };
    let mut files = Files::default();
    let mut pending_hard: Vec<(String, String)> = Vec::new();
    for (path, content) in raw.entries {
        let rel = match &prefix {
            Some(p) => match path.strip_prefix(&format!("{p}/")) {
                Some(r) if !r.is_empty() => r.to_string(),
                _ => {
                    findings.push(Finding::at(
                        Code::UnsafeArchiveEntry,
                        path,
                        format!("entry outside the package directory `{p}/`"),
                    ));
                    continue;
                }
            },
            None => path,
        };
        // Old cargo wrote some entries twice with the same bytes: only copies that differ let
        // extractors disagree on what the file is.
        let differs = match files.map.get(&rel) {
            Some(existing) => *existing != content,
            None => pending_hard.iter().any(|(p, _)| *p == rel),
        };
        if differs {
            findings.push(Finding::at(
                Code::UnsafeArchiveEntry,
                rel.clone(),
                "duplicate entry: extractors disagree on which copy wins",
            ));
        }
        match content {
            Content::Symlink { target } if target.starts_with(HARDLINK_PREFIX) => {
                let t = target.trim_start_matches(HARDLINK_PREFIX).to_string();
                let t = match &prefix {
                    Some(p) => t.strip_prefix(&format!("{p}/")).unwrap_or(&t).to_string(),
                    None => t,
                };
                pending_hard.push((rel, t));
            }
            Content::Symlink { target } => {
                if resolve_link(&rel, &target).is_none() {
                    findings.push(Finding::at(
                        Code::UnsafeArchiveEntry,
                        rel.clone(),
                        format!("symlink to `{target}` points outside the package"),
                    ));
                    continue;
                }
                files.map.insert(rel, Content::Symlink { target });
            }
            file => {
                files.map.insert(rel, file);
            }
        }
    }
    for (path, target) in pending_hard {
        match files.map.get(&target).cloned() {
            Some(c @ (Content::File { .. } | Content::Streamed { .. })) => {
                files.map.insert(path, c);
            }
            _ => findings.push(Finding::at(
                Code::UnsafeArchiveEntry,
                path,
                format!("hard link to `{target}`, which is not a file in the package"),
            )),
        }
    }
    (files, findings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_id_matches_git() {
        // `printf 'hello\n' | git hash-object --stdin`
        assert_eq!(
            git_blob_id(b"hello\n"),
            "ce013625030ba8dba906f756967f9e9ca394464a"
        );
        assert_eq!(git_blob_id(b""), "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
    }

    #[test]
    fn clean_path_rejects_escapes() {
        assert_eq!(clean_path("a/./b//c").as_deref(), Some("a/b/c"));
        assert_eq!(clean_path("../x"), None);
        assert_eq!(clean_path("a/../../x"), None);
        assert_eq!(clean_path("/etc/passwd"), None);
        assert_eq!(clean_path("C:/x"), None);
    }

    #[test]
    fn link_resolution_stays_inside() {
        assert_eq!(resolve_link("a/b/link", "../c").as_deref(), Some("a/c"));
        assert_eq!(resolve_link("link", "../c"), None);
        assert_eq!(resolve_link("a/link", "/etc/passwd"), None);
    }

    fn tar_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (p, d) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(d.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, p, *d).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn strips_exact_root_and_flags_strays() {
        let t = tar_of(&[("pkg-1.0/src/lib.rs", b"x"), ("other/evil.rs", b"y")]);
        let raw = read_tar(&t, Limits::default()).unwrap();
        let (files, findings) = into_files(raw, Root::Exact("pkg-1.0"));
        assert!(files.get("src/lib.rs").is_some());
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].code, Code::UnsafeArchiveEntry);
    }

    #[test]
    fn gzip_bomb_is_capped() {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&vec![0u8; 4 << 20]).unwrap();
        let gz = enc.finish().unwrap();
        let lim = Limits {
            max_total_bytes: 1 << 20,
            max_entries: 10,
            ..Limits::default()
        };
        assert!(matches!(
            read_tar_gz(&gz, lim),
            Err(ArchiveError::TooLarge(_))
        ));
    }

    fn gz(data: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn large_files_are_hashed_as_a_stream_and_not_kept() {
        let big = vec![0u8; STREAM_FILES_OVER as usize + 1];
        let t = gz(&tar_of(&[("p/small.txt", b"x"), ("p/zeros.bin", &big)]));
        let raw = read_tar_gz(&t, Limits::streaming()).unwrap();
        let (files, findings) = into_files(raw, Root::Exact("p"));
        assert!(findings.is_empty(), "{findings:?}");
        assert_eq!(files.data("small.txt"), Some(&b"x"[..]));
        assert_eq!(
            files.get("zeros.bin"),
            Some(&Content::Streamed {
                blob_id: git_blob_id(&big),
                size: big.len() as u64,
                executable: false,
            })
        );
        // Without streaming, the same archive is held as it always was.
        let raw = read_tar_gz(&t, Limits::default()).unwrap();
        let (files, _) = into_files(raw, Root::Exact("p"));
        assert_eq!(files.data("zeros.bin").map(<[u8]>::len), Some(big.len()));
    }

    #[test]
    fn differing_streamed_duplicates_are_flagged() {
        let a = vec![0u8; STREAM_FILES_OVER as usize + 1];
        let mut b = a.clone();
        b[7] = 1;
        let t = gz(&tar_of(&[("big", &a), ("big", &b)]));
        let raw = read_tar_gz(&t, Limits::streaming()).unwrap();
        let (_, findings) = into_files(raw, Root::None);
        assert!(findings.iter().any(|f| f.code == Code::UnsafeArchiveEntry));
    }

    #[test]
    fn truncated_gzip_is_unreadable_not_a_partial_archive() {
        let t = gz(&tar_of(&[("a.txt", b"1"), ("b.txt", b"2")]));
        let cut = &t[..t.len() - 6];
        assert!(read_tar_gz(cut, Limits::default()).is_err());
    }

    #[test]
    fn identical_duplicates_are_not_flagged() {
        let t = tar_of(&[("a.txt", b"1"), ("a.txt", b"1")]);
        let (files, findings) = into_files(read_tar(&t, Limits::default()).unwrap(), Root::None);
        assert_eq!(files.data("a.txt"), Some(&b"1"[..]));
        assert!(findings.is_empty(), "{findings:?}");
    }

    #[test]
    fn duplicate_entries_are_flagged() {
        let t = tar_of(&[("a.txt", b"1"), ("a.txt", b"2")]);
        let (files, findings) = into_files(read_tar(&t, Limits::default()).unwrap(), Root::None);
        assert_eq!(files.data("a.txt"), Some(&b"2"[..]));
        assert!(findings.iter().any(|f| f.code == Code::UnsafeArchiveEntry));
    }
}

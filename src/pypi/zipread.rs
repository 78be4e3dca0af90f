//! Reading a `.zip` (legacy sdists) with the same care as `crate::archive` reads tars: in
//! memory, entry count and total size capped while decompressing (a declared size is not
//! trusted), unsafe names (`..`, absolute, drive letters, non-UTF-8) and encrypted entries
//! become findings, symlinks (unix mode `S_IFLNK`) become `Content::Symlink`.

use std::io::{Cursor, Read};

use crate::archive::{clean_path, ArchiveError, Content, Limits, RawArchive};
use crate::finding::{Code, Finding};

const S_IFMT: u32 = 0o170000;
const S_IFLNK: u32 = 0o120000;
const S_IFREG: u32 = 0o100000;
/// A link target longer than this is not a link target.
const MAX_LINK: u64 = 4096;

pub fn read_zip(data: &[u8], limits: Limits) -> Result<RawArchive, ArchiveError> {
    let mut zip = zip::ZipArchive::new(Cursor::new(data))
        .map_err(|e| ArchiveError::Unreadable(format!("zip: {e}")))?;
    if zip.len() > limits.max_entries {
        return Err(ArchiveError::TooLarge(format!(
            "more than {} entries",
            limits.max_entries
        )));
    }
    let mut out = RawArchive::default();
    let mut total: u64 = 0;
    for i in 0..zip.len() {
        let mut entry = zip
            .by_index(i)
            .map_err(|e| ArchiveError::Unreadable(format!("zip entry {i}: {e}")))?;
        let Ok(name) = String::from_utf8(entry.name_raw().to_vec()) else {
            out.findings.push(Finding::at(
                Code::UnsafeArchiveEntry,
                String::from_utf8_lossy(entry.name_raw()).into_owned(),
                "entry name is not UTF-8",
            ));
            continue;
        };
        if entry.is_dir() {
            continue;
        }
        let Some(path) = clean_path(&name.replace('\\', "/")).filter(|p| !p.is_empty()) else {
            out.findings.push(Finding::at(
                Code::UnsafeArchiveEntry,
                name.clone(),
                "entry path is absolute or climbs out of the package with `..`",
            ));
            continue;
        };
        if entry.encrypted() {
            out.findings.push(Finding::at(
                Code::UnsafeArchiveEntry,
                path,
                "encrypted entry: its content cannot be compared",
            ));
            continue;
        }
        let mode = entry.unix_mode().unwrap_or(0);
        let kind = mode & S_IFMT;
        if kind != 0 && kind != S_IFREG && kind != S_IFLNK {
            out.findings.push(Finding::at(
                Code::UnsafeArchiveEntry,
                path,
                format!("entry of mode {mode:o} (device, fifo, ...) that no packager writes"),
            ));
            continue;
        }
        let remaining = limits.max_total_bytes.saturating_sub(total);
        let cap = if kind == S_IFLNK {
            MAX_LINK.min(remaining)
        } else {
            remaining
        };
        let mut buf = Vec::new();
        (&mut entry)
            .take(cap + 1)
            .read_to_end(&mut buf)
            .map_err(|e| ArchiveError::Unreadable(format!("{path}: {e}")))?;
        if buf.len() as u64 > cap {
            if kind == S_IFLNK && (buf.len() as u64) <= remaining {
                out.findings.push(Finding::at(
                    Code::UnsafeArchiveEntry,
                    path,
                    "symlink with an implausibly long target",
                ));
                continue;
            }
            return Err(ArchiveError::TooLarge(format!(
                "files add up to more than {} bytes",
                limits.max_total_bytes
            )));
        }
        total += buf.len() as u64;
        if kind == S_IFLNK {
            out.entries.push((
                path,
                Content::Symlink {
                    target: String::from_utf8_lossy(&buf).into_owned(),
                },
            ));
        } else {
            out.entries.push((
                path,
                Content::File {
                    data: buf.into(),
                    executable: mode & 0o111 != 0,
                },
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Write;

    /// A zip with the given entries; a `Some(mode)` sets unix permissions (with file type bits).
    pub fn zip_of(entries: &[(&str, &[u8], Option<u32>)]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, data, mode) in entries {
            let mut opts = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated);
            if let Some(m) = mode {
                opts = opts.unix_permissions(*m);
            }
            if mode.is_some_and(|m| m & S_IFMT == S_IFLNK) {
                w.add_symlink(*name, std::str::from_utf8(data).unwrap(), opts)
                    .unwrap();
            } else {
                w.start_file(*name, opts).unwrap();
                w.write_all(data).unwrap();
            }
        }
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn reads_files_links_and_flags_escapes() {
        let z = zip_of(&[
            ("foo-1.0/PKG-INFO", b"Name: foo\n", None),
            ("foo-1.0/run.sh", b"#!/bin/sh\n", Some(0o100755)),
            ("foo-1.0/link", b"PKG-INFO", Some(0o120777)),
            ("../evil.py", b"x", None),
        ]);
        let raw = read_zip(&z, Limits::default()).unwrap();
        assert_eq!(raw.entries.len(), 3);
        assert!(matches!(
            &raw.entries[1].1,
            Content::File {
                executable: true,
                ..
            }
        ));
        assert_eq!(
            raw.entries[2].1,
            Content::Symlink {
                target: "PKG-INFO".into()
            }
        );
        assert_eq!(raw.findings.len(), 1);
        assert_eq!(raw.findings[0].code, Code::UnsafeArchiveEntry);
    }

    #[test]
    fn zip_bomb_is_capped() {
        let big = vec![0u8; 4 << 20];
        let z = zip_of(&[("a", &big, None)]);
        let lim = Limits {
            max_total_bytes: 1 << 20,
            max_entries: 10,
            ..Limits::default()
        };
        assert!(matches!(read_zip(&z, lim), Err(ArchiveError::TooLarge(_))));
        assert!(matches!(
            read_zip(b"not a zip", Limits::default()),
            Err(ArchiveError::Unreadable(_))
        ));
    }
}

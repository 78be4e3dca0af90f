//! Stabilizers: what legitimately varies between two honest builds of the same source, each a
//! named item with a one-line reason (OSS Rebuild's word). Archive-level ones (entry order,
//! mtimes, owners, modes, gzip headers) never hide content: files are compared by content
//! anyway, and these only say which archive details differed. File-level ones turn a pair
//! (published, rebuilt) into a pair that compares equal only for the variation they name.
//! Nothing else is excused.

use std::any::Any;

use crate::archive::Files;

pub use super::metadata_stabilizers::{
    GemChecksums, GemDate, GemRubygemsVersion, PkgInfoHeaderOrder, PkgInfoMetadataVersion,
    SetupCfgReserialised,
};

/// What a file-level stabilizer may consult besides the two files.
pub struct StabilizeCx<'a> {
    pub published: &'a Files,
    pub rebuilt: &'a Files,
    /// Whatever the ecosystem's rebuild fetched for its stabilizers (registry index lines).
    pub data: &'a (dyn Any + Send + Sync),
}

/// One tar entry's header, in archive order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TarEntry {
    pub path: String,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub uname: String,
    pub gname: String,
    pub mtime: u64,
}

/// The layers of an archive that are not file content: tar headers and gzip streams.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArchiveMeta {
    /// Every tar of the archive (a gem has two: the outer one and `data.tar.gz`), by name.
    pub tars: Vec<(String, Vec<TarEntry>)>,
    /// Every gzip stream, by name: its 10-byte header and its compressed bytes' SHA-256.
    pub gzips: Vec<(String, Vec<u8>, String)>,
}

pub trait Stabilizer: Send + Sync {
    fn name(&self) -> &'static str;
    fn reason(&self) -> &'static str;
    /// Archive-level: does this variation occur between the two archives?
    fn archive(&self, _published: &ArchiveMeta, _rebuilt: &ArchiveMeta) -> bool {
        false
    }
    /// File-level: the pair with this variation removed; `None` when it does not apply.
    fn stabilize(
        &self,
        _path: &str,
        _published: &[u8],
        _rebuilt: &[u8],
        _cx: &StabilizeCx<'_>,
    ) -> Option<(Vec<u8>, Vec<u8>)> {
        None
    }
}

/// The archive-level stabilizers, shared by every ecosystem.
pub fn archive_stabilizers() -> Vec<Box<dyn Stabilizer>> {
    vec![
        Box::new(TarOrder),
        Box::new(TarMtime),
        Box::new(TarOwner),
        Box::new(TarMode),
        Box::new(GzipHeader),
    ]
}

/// Read the tar headers of `tar` (uncompressed); unreadable entries end the list.
pub fn tar_entries(tar: &[u8]) -> Vec<TarEntry> {
    let mut out = Vec::new();
    let mut a = tar::Archive::new(tar);
    let Ok(entries) = a.entries() else {
        return out;
    };
    for e in entries {
        let Ok(e) = e else { break };
        let h = e.header();
        if h.entry_type().is_dir() {
            continue;
        }
        out.push(TarEntry {
            path: String::from_utf8_lossy(&e.path_bytes()).into_owned(),
            mode: h.mode().unwrap_or(0),
            uid: h.uid().unwrap_or(0),
            gid: h.gid().unwrap_or(0),
            uname: h
                .username_bytes()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default(),
            gname: h
                .groupname_bytes()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default(),
            mtime: h.mtime().unwrap_or(0),
        });
    }
    out
}

/// The header and a digest of a gzip stream.
pub fn gzip_layer(name: &str, gz: &[u8]) -> (String, Vec<u8>, String) {
    (
        name.to_string(),
        gz[..gz.len().min(10)].to_vec(),
        crate::archive::sha256_hex(gz),
    )
}

/// `.crate` and sdist `.tar.gz`: one gzip stream around one tar.
pub fn tar_gz_meta(bytes: &[u8]) -> ArchiveMeta {
    let tar = crate::archive::gunzip_capped(bytes, 1 << 30).unwrap_or_default();
    ArchiveMeta {
        tars: vec![("archive".into(), tar_entries(&tar))],
        gzips: vec![gzip_layer("archive", bytes)],
    }
}

/// Pairs of headers of the entries both tars have, by path.
fn common<'a>(a: &'a [TarEntry], b: &'a [TarEntry]) -> Vec<(&'a TarEntry, &'a TarEntry)> {
    a.iter()
        .filter_map(|x| b.iter().find(|y| y.path == x.path).map(|y| (x, y)))
        .collect()
}

fn any_pair(p: &ArchiveMeta, r: &ArchiveMeta, f: impl Fn(&TarEntry, &TarEntry) -> bool) -> bool {
    p.tars.iter().any(|(name, a)| {
        r.tars
            .iter()
            .filter(|(n, _)| n == name)
            .any(|(_, b)| common(a, b).into_iter().any(|(x, y)| f(x, y)))
    })
}

/// Tar entries in another order.
pub struct TarOrder;
impl Stabilizer for TarOrder {
    fn name(&self) -> &'static str {
        "tar-entry-order"
    }
    fn reason(&self) -> &'static str {
        "packagers list files in directory-walk order, which differs between file systems"
    }
    fn archive(&self, p: &ArchiveMeta, r: &ArchiveMeta) -> bool {
        p.tars.iter().any(|(name, a)| {
            r.tars.iter().filter(|(n, _)| n == name).any(|(_, b)| {
                let order = |x: &[TarEntry], y: &[TarEntry]| -> Vec<String> {
                    x.iter()
                        .filter(|e| y.iter().any(|f| f.path == e.path))
                        .map(|e| e.path.clone())
                        .collect()
                };
                order(a, b) != order(b, a)
            })
        })
    }
}

/// Tar mtimes.
pub struct TarMtime;
impl Stabilizer for TarMtime {
    fn name(&self) -> &'static str {
        "tar-mtime"
    }
    fn reason(&self) -> &'static str {
        "entry mtimes record when the files were checked out or packaged, not what they contain"
    }
    fn archive(&self, p: &ArchiveMeta, r: &ArchiveMeta) -> bool {
        any_pair(p, r, |x, y| x.mtime != y.mtime)
    }
}

/// Tar owners.
pub struct TarOwner;
impl Stabilizer for TarOwner {
    fn name(&self) -> &'static str {
        "tar-owner"
    }
    fn reason(&self) -> &'static str {
        "uid, gid and owner names are those of whoever ran the packager"
    }
    fn archive(&self, p: &ArchiveMeta, r: &ArchiveMeta) -> bool {
        any_pair(p, r, |x, y| {
            (x.uid, x.gid, &x.uname, &x.gname) != (y.uid, y.gid, &y.uname, &y.gname)
        })
    }
}

/// Tar permission bits.
pub struct TarMode;
impl Stabilizer for TarMode {
    fn name(&self) -> &'static str {
        "tar-mode"
    }
    fn reason(&self) -> &'static str {
        "permission bits follow the packager's umask and checkout, not the package's code"
    }
    fn archive(&self, p: &ArchiveMeta, r: &ArchiveMeta) -> bool {
        any_pair(p, r, |x, y| x.mode != y.mode)
    }
}

/// Gzip headers and compressed bytes.
pub struct GzipHeader;
impl Stabilizer for GzipHeader {
    fn name(&self) -> &'static str {
        "gzip-header"
    }
    fn reason(&self) -> &'static str {
        "a gzip header's mtime and OS byte, and the compressed bytes, vary with the compressor; the content is compared decompressed"
    }
    fn archive(&self, p: &ArchiveMeta, r: &ArchiveMeta) -> bool {
        p.gzips.iter().any(|(name, h, d)| {
            r.gzips
                .iter()
                .any(|(n, h2, d2)| n == name && (h != h2 || d != d2))
        })
    }
}

/// `.cargo_vcs_info.json`: `dirty` and the form of `path_in_vcs`.
pub struct CargoVcsInfo;
impl Stabilizer for CargoVcsInfo {
    fn name(&self) -> &'static str {
        "cargo-vcs-info"
    }
    fn reason(&self) -> &'static str {
        "the rebuild packages the clean commit, so `dirty` is dropped (reported as a warning), and an empty `path_in_vcs` may be absent"
    }
    fn stabilize(
        &self,
        path: &str,
        p: &[u8],
        r: &[u8],
        _cx: &StabilizeCx<'_>,
    ) -> Option<(Vec<u8>, Vec<u8>)> {
        if path != ".cargo_vcs_info.json" {
            return None;
        }
        let norm = |b: &[u8]| -> Option<Vec<u8>> {
            let mut v: serde_json::Value = serde_json::from_slice(b).ok()?;
            let o = v.as_object_mut()?;
            if let Some(g) = o.get_mut("git").and_then(|g| g.as_object_mut()) {
                g.remove("dirty");
            }
            let piv = o
                .get("path_in_vcs")
                .and_then(|p| p.as_str())
                .unwrap_or("")
                .trim_matches('/')
                .to_string();
            o.insert("path_in_vcs".into(), piv.into());
            serde_json::to_vec(&v).ok()
        };
        Some((norm(p)?, norm(r)?))
    }
}

/// Does the pair compare equal after these stabilizers? Returns the names of those needed: a
/// stabilizer is listed only when leaving it out would make the pair differ.
pub fn settle(
    stabs: &[Box<dyn Stabilizer>],
    path: &str,
    published: &[u8],
    rebuilt: &[u8],
    cx: &StabilizeCx<'_>,
) -> Option<Vec<&'static str>> {
    let run = |skip: Option<usize>| -> bool {
        let (mut a, mut b) = (published.to_vec(), rebuilt.to_vec());
        for (i, s) in stabs.iter().enumerate() {
            if a == b {
                break;
            }
            if Some(i) == skip {
                continue;
            }
            if let Some((x, y)) = s.stabilize(path, &a, &b, cx) {
                a = x;
                b = y;
            }
        }
        a == b
    };
    if !run(None) {
        return None;
    }
    Some(
        (0..stabs.len())
            .filter(|i| !run(Some(*i)))
            .map(|i| stabs[i].name())
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cx_files() -> Files {
        Files::default()
    }

    fn apply(s: &dyn Stabilizer, path: &str, p: &str, r: &str) -> bool {
        let f = cx_files();
        let cx = StabilizeCx {
            published: &f,
            rebuilt: &f,
            data: &(),
        };
        match s.stabilize(path, p.as_bytes(), r.as_bytes(), &cx) {
            Some((a, b)) => a == b,
            None => false,
        }
    }

    fn entry(path: &str, mtime: u64, uid: u64, mode: u32) -> TarEntry {
        TarEntry {
            path: path.into(),
            mode,
            uid,
            gid: 0,
            uname: String::new(),
            gname: String::new(),
            mtime,
        }
    }

    fn meta(entries: Vec<TarEntry>) -> ArchiveMeta {
        ArchiveMeta {
            tars: vec![("archive".into(), entries)],
            gzips: vec![("archive".into(), vec![0x1f, 0x8b], "d".into())],
        }
    }

    #[test]
    fn tar_order_mtime_owner_mode_are_each_detected_alone() {
        let base = meta(vec![entry("a", 1, 0, 0o644), entry("b", 1, 0, 0o644)]);
        let order = meta(vec![entry("b", 1, 0, 0o644), entry("a", 1, 0, 0o644)]);
        let mtime = meta(vec![entry("a", 2, 0, 0o644), entry("b", 1, 0, 0o644)]);
        let owner = meta(vec![entry("a", 1, 1000, 0o644), entry("b", 1, 0, 0o644)]);
        let mode = meta(vec![entry("a", 1, 0, 0o664), entry("b", 1, 0, 0o644)]);
        let all = archive_stabilizers();
        let fired = |other: &ArchiveMeta| -> Vec<&str> {
            all.iter()
                .filter(|s| s.archive(&base, other))
                .map(|s| s.name())
                .collect()
        };
        assert!(fired(&base).is_empty());
        assert_eq!(fired(&order), ["tar-entry-order"]);
        assert_eq!(fired(&mtime), ["tar-mtime"]);
        assert_eq!(fired(&owner), ["tar-owner"]);
        assert_eq!(fired(&mode), ["tar-mode"]);
    }

    #[test]
    fn gzip_header_is_detected_from_real_streams() {
        use std::io::Write;
        let gz = |mtime: u32| {
            let mut e = flate2::GzBuilder::new()
                .mtime(mtime)
                .write(Vec::new(), flate2::Compression::default());
            e.write_all(b"same").unwrap();
            e.finish().unwrap()
        };
        let m = |b: &[u8]| ArchiveMeta {
            tars: vec![],
            gzips: vec![gzip_layer("archive", b)],
        };
        assert!(GzipHeader.archive(&m(&gz(1)), &m(&gz(2))));
        assert!(!GzipHeader.archive(&m(&gz(1)), &m(&gz(1))));
    }

    #[test]
    fn cargo_vcs_info_drops_dirty_and_path_form_only() {
        let p = r#"{"git":{"sha1":"abc","dirty":true},"path_in_vcs":""}"#;
        let r = r#"{"git":{"sha1":"abc"}}"#;
        assert!(apply(&CargoVcsInfo, ".cargo_vcs_info.json", p, r));
        let other = r#"{"git":{"sha1":"abd"}}"#;
        assert!(!apply(&CargoVcsInfo, ".cargo_vcs_info.json", other, r));
        assert!(!apply(&CargoVcsInfo, "src/x.json", p, r));
    }
}

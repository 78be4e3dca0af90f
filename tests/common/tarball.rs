//! Reading and (re)writing `.crate`-style archives (`name-version/` prefix,
//! tar inside gzip), including deliberately hostile ones.
//!
//! The writer emits raw 512-byte ustar headers itself, because the `tar`
//! crate refuses to write `..` components or absolute paths, which are
//! exactly what the hostile-archive tests need.

use std::io::{Read, Write};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    Hardlink,
}

impl Kind {
    fn typeflag(&self) -> u8 {
        match self {
            Kind::File => b'0',
            Kind::Hardlink => b'1',
            Kind::Symlink => b'2',
            Kind::Dir => b'5',
        }
    }
}

/// One tar entry; `name` is the full name stored in the archive, prefix
/// included (e.g. `foo-1.0.0/src/lib.rs`), not normalised in any way.
#[derive(Clone, Debug)]
pub struct Entry {
    pub name: String,
    pub kind: Kind,
    pub data: Vec<u8>,
    pub link: String,
    pub mode: u32,
    /// If set, the size written in the header (data is then *not* written;
    /// the caller supplies it some other way, see [`gzip_with_zero_runs`]).
    pub declared_size: Option<u64>,
}

impl Entry {
    pub fn file(name: impl Into<String>, data: impl Into<Vec<u8>>) -> Entry {
        Entry {
            name: name.into(),
            kind: Kind::File,
            data: data.into(),
            link: String::new(),
            mode: 0o644,
            declared_size: None,
        }
    }

    pub fn symlink(name: impl Into<String>, target: impl Into<String>) -> Entry {
        Entry {
            name: name.into(),
            kind: Kind::Symlink,
            data: Vec::new(),
            link: target.into(),
            mode: 0o777,
            declared_size: None,
        }
    }

    pub fn hardlink(name: impl Into<String>, target: impl Into<String>) -> Entry {
        Entry {
            name: name.into(),
            kind: Kind::Hardlink,
            data: Vec::new(),
            link: target.into(),
            mode: 0o644,
            declared_size: None,
        }
    }

    pub fn dir(name: impl Into<String>) -> Entry {
        Entry {
            name: name.into(),
            kind: Kind::Dir,
            data: Vec::new(),
            link: String::new(),
            mode: 0o755,
            declared_size: None,
        }
    }
}

/// An unpacked `.crate`: its `name-version` prefix and its entries in order.
#[derive(Clone, Debug)]
pub struct CrateArchive {
    pub prefix: String,
    pub entries: Vec<Entry>,
}

impl CrateArchive {
    /// Read a gzipped tar as produced by `cargo package`.
    pub fn read(crate_bytes: &[u8]) -> CrateArchive {
        let gz = flate2::read::GzDecoder::new(crate_bytes);
        let mut ar = tar::Archive::new(gz);
        let mut entries = Vec::new();
        for e in ar.entries().expect("tar entries") {
            let mut e = e.expect("tar entry");
            let name = String::from_utf8(e.path_bytes().into_owned()).unwrap();
            let header = e.header().clone();
            let kind = match header.entry_type() {
                tar::EntryType::Regular => Kind::File,
                tar::EntryType::Directory => Kind::Dir,
                tar::EntryType::Symlink => Kind::Symlink,
                tar::EntryType::Link => Kind::Hardlink,
                other => panic!("unexpected entry type {other:?} for {name}"),
            };
            let link = e
                .link_name_bytes()
                .map(|l| String::from_utf8(l.into_owned()).unwrap())
                .unwrap_or_default();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            entries.push(Entry {
                name,
                kind,
                data,
                link,
                mode: header.mode().unwrap_or(0o644),
                declared_size: None,
            });
        }
        let prefix = entries
            .first()
            .map(|e| e.name.split('/').next().unwrap().to_string())
            .expect("empty crate archive");
        CrateArchive { prefix, entries }
    }

    fn full(&self, rel: &str) -> String {
        format!("{}/{}", self.prefix, rel)
    }

    /// Names relative to the prefix, in archive order.
    pub fn paths(&self) -> Vec<String> {
        let pre = format!("{}/", self.prefix);
        self.entries
            .iter()
            .map(|e| e.name.strip_prefix(&pre).unwrap_or(&e.name).to_string())
            .collect()
    }

    pub fn get(&self, rel: &str) -> Option<&[u8]> {
        let full = self.full(rel);
        self.entries
            .iter()
            .find(|e| e.name == full)
            .map(|e| e.data.as_slice())
    }

    pub fn get_str(&self, rel: &str) -> String {
        String::from_utf8(
            self.get(rel)
                .unwrap_or_else(|| panic!("{rel} not in archive {:?}", self.paths()))
                .to_vec(),
        )
        .unwrap()
    }

    /// Replace the content of `rel`, or append it as a new regular file.
    pub fn set(&mut self, rel: &str, data: impl Into<Vec<u8>>) -> &mut Self {
        let full = self.full(rel);
        let data = data.into();
        match self.entries.iter_mut().find(|e| e.name == full) {
            Some(e) => e.data = data,
            None => self.entries.push(Entry::file(full, data)),
        }
        self
    }

    /// Edit a text file in place; panics if `from` is not in it.
    pub fn replace_text(&mut self, rel: &str, from: &str, to: &str) -> &mut Self {
        let text = self.get_str(rel);
        assert!(text.contains(from), "{from:?} not in {rel}:\n{text}");
        let new = text.replacen(from, to, 1);
        self.set(rel, new)
    }

    pub fn remove(&mut self, rel: &str) -> &mut Self {
        let full = self.full(rel);
        let before = self.entries.len();
        self.entries.retain(|e| e.name != full);
        assert!(self.entries.len() < before, "{rel} not in archive");
        self
    }

    /// Append an arbitrary (possibly hostile) entry, name taken verbatim.
    pub fn push_raw(&mut self, entry: Entry) -> &mut Self {
        self.entries.push(entry);
        self
    }

    /// Gzipped tar bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        gzip(&tar_bytes(&self.entries))
    }
}

/// Serialise entries as a ustar stream, end-of-archive blocks included.
pub fn tar_bytes(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        out.extend_from_slice(&header(e, e.data.len() as u64));
        out.extend_from_slice(&e.data);
        pad(&mut out);
    }
    out.extend_from_slice(&[0u8; 1024]);
    out
}

fn pad(out: &mut Vec<u8>) {
    let rem = out.len() % 512;
    if rem != 0 {
        out.resize(out.len() + 512 - rem, 0);
    }
}

fn put_octal(field: &mut [u8], value: u64) {
    // width-1 octal digits then NUL
    let digits = field.len() - 1;
    let s = format!("{value:0digits$o}");
    assert!(
        s.len() <= digits,
        "{value} does not fit in {digits} octal digits"
    );
    field[..digits].copy_from_slice(s.as_bytes());
    field[digits] = 0;
}

/// A raw 512-byte ustar header with a correct checksum.
pub fn header(e: &Entry, data_len: u64) -> [u8; 512] {
    let mut h = [0u8; 512];
    let name = e.name.as_bytes();
    if name.len() <= 100 {
        h[..name.len()].copy_from_slice(name);
    } else {
        // ustar: split into prefix (155) and name (100) at a '/'.
        let split = (0..name.len())
            .rev()
            .find(|&i| name[i] == b'/' && i <= 155 && name.len() - i - 1 <= 100)
            .unwrap_or_else(|| panic!("name too long for ustar: {}", e.name));
        h[..name.len() - split - 1].copy_from_slice(&name[split + 1..]);
        h[345..345 + split].copy_from_slice(&name[..split]);
    }
    put_octal(&mut h[100..108], e.mode as u64);
    put_octal(&mut h[108..116], 0);
    put_octal(&mut h[116..124], 0);
    let size = if matches!(e.kind, Kind::File) {
        e.declared_size.unwrap_or(data_len)
    } else {
        0
    };
    if size < 8u64.pow(11) {
        put_octal(&mut h[124..136], size);
    } else {
        // GNU base-256 encoding for sizes of 8 GiB and more.
        h[124] = 0x80;
        h[128..136].copy_from_slice(&size.to_be_bytes());
    }
    put_octal(&mut h[136..148], 1_153_704_088); // cargo's fixed mtime
    h[156] = e.kind.typeflag();
    let link = e.link.as_bytes();
    assert!(link.len() <= 100, "link name too long: {}", e.link);
    h[157..157 + link.len()].copy_from_slice(link);
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    // checksum: sum of all bytes with the checksum field as spaces
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| b as u32).sum();
    let s = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(s.as_bytes());
    h
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

pub fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data)
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// Build a gzipped tar where `entries` are written normally and then each
/// `(header_entry, zeros)` pair is a file whose content is `zeros` NUL bytes,
/// compressed cheaply: the compressor is fully flushed after each piece so
/// every 1 MiB run of zeros compresses to identical bytes, which are then
/// repeated instead of recompressed. This makes multi-gigabyte "gzip bombs"
/// in a few megabytes and milliseconds. The gzip trailer (CRC-32, size) is
/// correct.
pub fn gzip_with_zero_runs(entries: &[Entry], zero_files: &[(Entry, u64)]) -> Vec<u8> {
    const CHUNK: usize = 1 << 20;
    let mut c = flate2::Compress::new(flate2::Compression::best(), false);
    let mut deflated = Vec::new();
    let mut crc = flate2::Crc::new();

    // Leading normal entries, without the end-of-archive blocks.
    let mut head = Vec::new();
    for e in entries {
        head.extend_from_slice(&header(e, e.data.len() as u64));
        head.extend_from_slice(&e.data);
        pad(&mut head);
    }

    let zeros = vec![0u8; CHUNK];
    let mut zero_crc = flate2::Crc::new();
    zero_crc.update(&zeros);
    let chunk_deflated = {
        // Compress two chunks after a flush; the second is the steady state.
        let mut probe = flate2::Compress::new(flate2::Compression::best(), false);
        let _ = deflate(&mut probe, b"x", flate2::FlushCompress::Full);
        let a = deflate(&mut probe, &zeros, flate2::FlushCompress::Full);
        let b = deflate(&mut probe, &zeros, flate2::FlushCompress::Full);
        assert_eq!(
            a, b,
            "zero chunks must compress identically after a full flush"
        );
        b
    };

    fn emit(bytes: &[u8], c: &mut flate2::Compress, crc: &mut flate2::Crc, out: &mut Vec<u8>) {
        crc.update(bytes);
        out.extend_from_slice(&deflate(c, bytes, flate2::FlushCompress::Full));
    }
    emit(&head, &mut c, &mut crc, &mut deflated);
    for (e, n) in zero_files {
        let mut e = e.clone();
        e.kind = Kind::File;
        e.declared_size = Some(*n);
        emit(&header(&e, 0), &mut c, &mut crc, &mut deflated);
        let full_chunks = n / CHUNK as u64;
        let rest = (n % CHUNK as u64) as usize;
        for _ in 0..full_chunks {
            deflated.extend_from_slice(&chunk_deflated);
            crc.combine(&zero_crc);
        }
        let mut tail = vec![0u8; rest];
        let padding = (512 - (*n % 512) as usize) % 512;
        tail.resize(rest + padding, 0);
        if !tail.is_empty() {
            emit(&tail, &mut c, &mut crc, &mut deflated);
        }
    }
    let end = [0u8; 1024];
    crc.update(&end);
    deflated.extend_from_slice(&deflate(&mut c, &end, flate2::FlushCompress::Finish));

    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    out.extend_from_slice(&deflated);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&(crc.amount()).to_le_bytes());
    out
}

fn deflate(c: &mut flate2::Compress, input: &[u8], flush: flate2::FlushCompress) -> Vec<u8> {
    let finishing = matches!(flush, flate2::FlushCompress::Finish);
    let mut out: Vec<u8> = Vec::new();
    let mut consumed = 0usize;
    loop {
        out.reserve(64 * 1024);
        let before_in = c.total_in();
        let status = c
            .compress_vec(&input[consumed..], &mut out, flush)
            .expect("deflate");
        consumed += (c.total_in() - before_in) as usize;
        if status == flate2::Status::StreamEnd {
            break;
        }
        // A flush is complete once all input is taken and the compressor
        // stopped without filling the buffer. (Calling again would emit
        // another empty sync block every time.)
        if !finishing && consumed == input.len() && out.len() < out.capacity() {
            break;
        }
    }
    out
}

//! Reading a wheel (`.whl`): a zip of build outputs, re-rooted at the install location, with
//! `<name>-<version>.dist-info/` (METADATA, WHEEL, RECORD, ...) and optionally
//! `<name>-<version>.data/{scripts,purelib,platlib,headers,data}/`.
//!
//! `RECORD` lists every file with `sha256=<urlsafe base64, no padding>` and its size; every
//! builder (bdist_wheel, hatch, flit, poetry, maturin) writes it last, over every file. So:
//! a file whose bytes do not match its RECORD line is a `checksum-mismatch` (the wheel was
//! changed after it was built), and a file RECORD does not list (other than RECORD itself and
//! its signatures) is an `unsafe-archive-entry`: an entry no builder writes, which installers
//! still extract. Both are red flags before any comparison with source.
//!
//! Mapping back to source: a wheel file `pkg/mod.py` comes from `<pkg_dir>/<root>/pkg/mod.py`
//! where `<root>` is a static `package-dir` of setuptools (`pyproject.toml`
//! `[tool.setuptools.package-dir]`, `setup.cfg` `[options] package_dir`), the parent of a
//! hatch `[tool.hatch.build.targets.wheel] packages` entry, else the project root or `src/`
//! (the first that has the file). `.data/purelib|platlib/` files map the same way,
//! `.data/scripts/<name>` to `scripts/`, `bin/` or the root, `.dist-info/licenses/<path>` to
//! `<path>`.

use std::collections::BTreeMap;

use super::artifact::package;
use super::normalize_name;
use super::registry::is_pure_wheel;
use super::rules::is_license_name;
use super::source::ProjectFiles;
use super::zipread::read_zip;
use crate::archive::{into_files, sha256_hex, ArchiveError, Content, Files, Limits, Root};
use crate::ecosystem::{Package, Resolved};
use crate::finding::{Code, Finding};
use crate::source::{join, normalize, SourceView};

/// What the wheel rules need to know.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WheelInfo {
    /// Every tag is `none-any`: no compiled code.
    pub pure: bool,
    /// `py3-none-any`, `cp311-cp311-manylinux_2_17_x86_64`, ...
    pub tag: String,
    /// `<name>-<version>.dist-info`
    pub dist_info: String,
    /// `<name>-<version>.data`
    pub data_dir: String,
}

pub fn read(resolved: &Resolved, bytes: &[u8]) -> Result<Package, ArchiveError> {
    let raw = read_zip(bytes, Limits::default())?;
    let (files, mut findings) = into_files(raw, Root::None);
    if files.is_empty() {
        return Err(ArchiveError::Unreadable("the wheel holds no files".into()));
    }
    let dist_info = find_dist_info(&files, &resolved.name).ok_or_else(|| {
        ArchiveError::Unreadable("the wheel has no `<name>-<version>.dist-info/METADATA`".into())
    })?;
    let stem = resolved.filename.strip_suffix(".whl").unwrap_or("");
    let tag = stem.rsplitn(4, '-').take(3).collect::<Vec<_>>();
    let info = WheelInfo {
        pure: is_pure_wheel(&resolved.filename),
        tag: tag.into_iter().rev().collect::<Vec<_>>().join("-"),
        data_dir: format!("{}.data", dist_info.trim_end_matches(".dist-info")),
        dist_info: dist_info.clone(),
    };
    findings.extend(record_findings(&files, &dist_info));
    let metadata_path = format!("{dist_info}/METADATA");
    let metadata = files.text(&metadata_path).map(|t| (metadata_path, t));
    Ok(package(resolved, files, findings, metadata, Some(info)))
}

/// The top-level `*.dist-info` directory with a METADATA, the project's own when several.
fn find_dist_info(files: &Files, name: &str) -> Option<String> {
    let mut dirs: Vec<&str> = files
        .map
        .keys()
        .filter_map(|p| p.strip_suffix("/METADATA"))
        .filter(|d| !d.contains('/') && d.ends_with(".dist-info"))
        .collect();
    let want = normalize_name(name);
    dirs.sort_by_key(|d| {
        let n = d.split('-').next().unwrap_or("");
        normalize_name(n) != want
    });
    dirs.first().map(|d| d.to_string())
}

/// RECORD lines: path → (hash spec `algo=digest`, size), both may be empty.
pub fn parse_record(text: &str) -> BTreeMap<String, (String, String)> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let fields = csv_fields(line.trim_end_matches('\r'));
        if let Some(path) = fields.first().filter(|p| !p.is_empty()) {
            let get = |i: usize| fields.get(i).cloned().unwrap_or_default();
            out.insert(path.clone(), (get(1), get(2)));
        }
    }
    out
}

/// One CSV line (RECORD is written by Python's `csv` module: `"` quotes, `""` escapes).
fn csv_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                fields.last_mut().expect("one field").push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(String::new()),
            (c, _) => fields.last_mut().expect("one field").push(c),
        }
    }
    fields
}

/// URL-safe base64 without padding, as RECORD spells digests.
pub fn urlsafe_b64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// Check every file against RECORD: hashes and sizes, and nothing unlisted.
pub fn record_findings(files: &Files, dist_info: &str) -> Vec<Finding> {
    let record_path = format!("{dist_info}/RECORD");
    let Some(text) = files.text(&record_path) else {
        return vec![Finding::at(
            Code::UnsafeArchiveEntry,
            record_path,
            "the wheel has no RECORD: its files carry no integrity record",
        )];
    };
    let record = parse_record(&text);
    let mut out = Vec::new();
    for (path, content) in &files.map {
        if *path == record_path
            || *path == format!("{record_path}.jws")
            || *path == format!("{record_path}.p7s")
        {
            continue;
        }
        let Some((hash, size)) = record.get(path) else {
            out.push(Finding::at(
                Code::UnsafeArchiveEntry,
                path,
                "not listed in RECORD: no wheel builder writes an unlisted file (added after the build?)",
            ));
            continue;
        };
        let Content::File { data, .. } = content else {
            out.push(Finding::at(
                Code::UnsafeArchiveEntry,
                path,
                "a symlink: wheels hold only regular files",
            ));
            continue;
        };
        let Some(expected) = hash.strip_prefix("sha256=") else {
            let f = if hash.is_empty() {
                Finding::at(
                    Code::UnsafeArchiveEntry,
                    path,
                    "listed in RECORD without a hash",
                )
            } else {
                Finding::at(
                    Code::NotChecked,
                    path,
                    format!("RECORD hash `{hash}` is not sha256: not checked"),
                )
            };
            out.push(f);
            continue;
        };
        let actual = urlsafe_b64(&hex::decode(sha256_hex(data)).expect("hex"));
        if actual != expected.trim_end_matches('=') {
            out.push(Finding::at(
                Code::ChecksumMismatch,
                path,
                format!("RECORD says sha256={expected}, the file hashes to sha256={actual}"),
            ));
        } else if !size.is_empty() && size.parse::<usize>().ok() != Some(data.len()) {
            out.push(Finding::at(
                Code::ChecksumMismatch,
                path,
                format!("RECORD says {size} bytes, the file has {}", data.len()),
            ));
        }
    }
    out
}

/// The wheel a package was read from, if any.
pub fn wheel_of(pkg: &Package) -> Option<&WheelInfo> {
    pkg.meta::<super::artifact::PypiMeta>()?.wheel.as_ref()
}

/// Directories (relative to the project) a wheel's top-level paths are installed from, as
/// (wheel prefix, source directory) pairs, most specific first.
pub fn package_roots(files: &ProjectFiles) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    if let Some(packages) = files
        .tool(&["hatch", "build", "targets", "wheel", "packages"])
        .and_then(|p| p.as_array())
    {
        for p in packages.iter().filter_map(|p| p.as_str()) {
            let p = p.trim_matches('/');
            let (dir, last) = p.rsplit_once('/').unwrap_or(("", p));
            out.push((last.to_string(), dir.to_string()));
        }
    }
    let setuptools = files
        .tool(&["setuptools", "package-dir", ""])
        .and_then(|v| v.as_str())
        .map(str::to_string);
    let cfg = files.cfg("options", "package_dir").and_then(|v| {
        v.lines()
            .filter_map(|l| l.split_once('='))
            .find(|(k, _)| k.trim().is_empty())
            .map(|(_, d)| d.trim().to_string())
    });
    for d in setuptools.into_iter().chain(cfg) {
        out.push((String::new(), d.trim_matches('/').to_string()));
    }
    for d in ["", "src"] {
        out.push((String::new(), d.to_string()));
    }
    out
}

/// Where a wheel file comes from in the repository (see the module docs); `None` for
/// generated metadata, which the rules judge at `<pkg_dir>/<path>`.
pub fn source_path(w: &WheelInfo, source: &SourceView<'_>, path: &str) -> Option<String> {
    let dir = source.pkg_dir.as_str();
    if let Some(rest) = path.strip_prefix(&format!("{}/", w.dist_info)) {
        if let Some(lic) = rest.strip_prefix("licenses/") {
            return normalize(&join(dir, lic));
        }
        return (!rest.contains('/') && is_license_name(rest)).then(|| join(dir, rest));
    }
    let mut rel = path;
    if let Some(rest) = path.strip_prefix(&format!("{}/", w.data_dir)) {
        let (kind, inner) = rest.split_once('/').unwrap_or((rest, ""));
        match kind {
            "purelib" | "platlib" => rel = inner,
            "scripts" => {
                let cands: Vec<String> = ["scripts", "bin", ""]
                    .iter()
                    .map(|d| join(dir, &join(d, inner)))
                    .collect();
                return cands
                    .iter()
                    .find(|c| source.tree.get(c).is_some())
                    .or(cands.first())
                    .cloned();
            }
            _ => return Some(join(dir, inner)),
        }
    }
    let files = ProjectFiles::read(source, dir);
    let mut first = None;
    for (prefix, root) in package_roots(&files) {
        if !prefix.is_empty() && !rel.starts_with(&format!("{prefix}/")) {
            continue;
        }
        let cand = join(dir, &join(&root, rel));
        if source.tree.get(&cand).is_some() {
            return Some(cand);
        }
        first.get_or_insert(cand);
    }
    first
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_lines_and_digests() {
        let r = parse_record(
            "pkg/__init__.py,sha256=zeBCm6VHgIlBm4o2eX90CJVUkUYjxzIFTgTdbrLkmv0,21\n\"a,b.py\",sha256=x,1\npkg-1.0.dist-info/RECORD,,\n",
        );
        assert_eq!(r["a,b.py"].0, "sha256=x");
        assert_eq!(
            r["pkg-1.0.dist-info/RECORD"],
            (String::new(), String::new())
        );
        let d = hex::decode(sha256_hex(b"def main():\n    pass\n")).unwrap();
        assert_eq!(
            urlsafe_b64(&d),
            "zeBCm6VHgIlBm4o2eX90CJVUkUYjxzIFTgTdbrLkmv0"
        );
        assert_eq!(urlsafe_b64(b"\xfb\xff"), "-_8");
        assert_eq!(urlsafe_b64(b"ab"), "YWI");
    }

    #[test]
    fn unlisted_and_altered_files_are_red_flags() {
        let mut files = Files::default();
        let file = |d: &[u8]| Content::File {
            data: d.to_vec(),
            executable: false,
        };
        files
            .map
            .insert("p/a.py".into(), file(b"def main():\n    pass\n"));
        files.map.insert("p/b.py".into(), file(b"evil\n"));
        files.map.insert("p/c.py".into(), file(b"x"));
        files.map.insert(
            "p-1.dist-info/RECORD".into(),
            file(b"p/a.py,sha256=zeBCm6VHgIlBm4o2eX90CJVUkUYjxzIFTgTdbrLkmv0,21\np/b.py,sha256=zeBCm6VHgIlBm4o2eX90CJVUkUYjxzIFTgTdbrLkmv0,21\np-1.dist-info/RECORD,,\n"),
        );
        let f = record_findings(&files, "p-1.dist-info");
        let got: Vec<(Code, Option<&str>)> =
            f.iter().map(|f| (f.code, f.path.as_deref())).collect();
        assert_eq!(
            got,
            [
                (Code::ChecksumMismatch, Some("p/b.py")),
                (Code::UnsafeArchiveEntry, Some("p/c.py"))
            ]
        );
    }

    #[test]
    fn package_dir_configs() {
        let files = ProjectFiles {
            pyproject: Some(
                "[tool.hatch.build.targets.wheel]\npackages = [\"lib/foo\"]\n"
                    .parse()
                    .unwrap(),
            ),
            setup_cfg: Some(super::super::pyconfig::parse_ini(
                "[options]\npackage_dir =\n    =python\n",
            )),
            setup_py: None,
        };
        assert_eq!(
            package_roots(&files),
            [
                ("foo".to_string(), "lib".to_string()),
                (String::new(), "python".to_string()),
                (String::new(), String::new()),
                (String::new(), "src".to_string())
            ]
        );
    }
}

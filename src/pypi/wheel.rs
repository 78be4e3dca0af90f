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
//! where `<root>` is a static `package_dir` of setuptools (`pyproject.toml`
//! `[tool.setuptools.package-dir]`, `setup.cfg` `[options] package_dir`, `setup.py`'s
//! `package_dir=` literal; a package's own entry `pkg = lib/pkg` maps `pkg/` to `lib/pkg/`),
//! the parent of a hatch `[tool.hatch.build.targets.wheel] packages` entry, else the project
//! root or `src/` (the first that has the file). `.data/purelib|platlib/` files map the same
//! way, `.data/scripts/<name>` to `scripts/`, `bin/` or the root, `.dist-info/licenses/<path>`
//! to `<path>`. A file no mapping finds may still be in the tree at a unique path ending in
//! its wheel path (a `package_dir` computed at build time): the `wheel-unique-path` rule.
//!
//! Which wheel of a release: a pure one, else one for this machine's platform (see
//! [`platform_rank`]).

use std::collections::BTreeMap;

use super::artifact::package;
use super::normalize_name;
use super::pyconfig::{setup_py_value, PyValue};
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

/// Where a wheel's paths are installed from, relative to the project, as (wheel prefix,
/// source directory) pairs: a wheel path under the prefix comes from the directory plus the
/// rest of the path. Most specific first.
pub fn package_roots(files: &ProjectFiles) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    if let Some(packages) = files
        .tool(&["hatch", "build", "targets", "wheel", "packages"])
        .and_then(|p| p.as_array())
    {
        for p in packages.iter().filter_map(|p| p.as_str()) {
            let p = p.trim_matches('/');
            let last = p.rsplit('/').next().unwrap_or(p);
            out.push((last.to_string(), p.to_string()));
        }
    }
    // setuptools' package_dir: package name (dotted; "" for every package) -> directory.
    let mut dirs: Vec<(String, String)> = Vec::new();
    if let Some(t) = files
        .tool(&["setuptools", "package-dir"])
        .and_then(|v| v.as_table())
    {
        dirs.extend(
            t.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))),
        );
    }
    if let Some(v) = files.cfg("options", "package_dir") {
        dirs.extend(v.lines().filter_map(|l| {
            let (k, d) = l.split_once('=')?;
            Some((k.trim().to_string(), d.trim().to_string()))
        }));
    }
    if let Some(PyValue::Dict(d)) = files
        .setup_py
        .as_deref()
        .and_then(|s| setup_py_value(s, "package_dir"))
    {
        dirs.extend(
            d.into_iter()
                .filter_map(|(k, v)| Some((k, v.into_iter().next()?))),
        );
    }
    let mut mapped: Vec<(String, String)> = Vec::new();
    for (pkg, dir) in dirs {
        let prefix = pkg.trim().replace('.', "/");
        let dir = dir
            .trim()
            .trim_start_matches("./")
            .trim_matches('/')
            .to_string();
        if !mapped.contains(&(prefix.clone(), dir.clone())) {
            mapped.push((prefix, dir));
        }
    }
    // A package's own entry before the catch-all "" entry.
    mapped.sort_by_key(|(p, _)| {
        std::cmp::Reverse(p.matches('/').count() + usize::from(!p.is_empty()))
    });
    out.extend(mapped);
    for d in ["", "src"] {
        out.push((String::new(), d.to_string()));
    }
    out
}

/// The source path for wheel path `rel` under one (prefix, directory) pair, if it applies.
fn under_root(dir: &str, (prefix, root): &(String, String), rel: &str) -> Option<String> {
    let rest = if prefix.is_empty() {
        rel
    } else {
        rel.strip_prefix(&format!("{prefix}/"))?
    };
    normalize(&join(dir, &join(root, rest)))
}

/// Rank a wheel for this machine (lower is better): pure, then this operating system and
/// architecture, then this operating system, then any other. A macOS wheel is never picked
/// on Linux while a Linux one exists.
pub fn platform_rank(filename: &str) -> u8 {
    if is_pure_wheel(filename) {
        return 0;
    }
    let stem = filename.strip_suffix(".whl").unwrap_or(filename);
    let platform = stem.rsplit('-').next().unwrap_or("").to_ascii_lowercase();
    let os = match std::env::consts::OS {
        "linux" => &["linux"][..],
        "macos" => &["macosx"][..],
        "windows" => &["win"][..],
        other => &[other][..],
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => &["x86_64", "amd64", "intel", "universal"][..],
        "aarch64" => &["aarch64", "arm64", "universal2"][..],
        "x86" => &["i686", "win32", "i386"][..],
        other => &[other][..],
    };
    // A compressed tag set (`manylinux_2_17_x86_64.manylinux2014_x86_64`) is one platform.
    let parts: Vec<&str> = platform.split('.').collect();
    let has_os = parts.iter().any(|p| os.iter().any(|o| p.contains(o)));
    let has_arch = parts.iter().any(|p| arch.iter().any(|a| p.contains(a)));
    match (has_os, has_arch) {
        (true, true) => 1,
        (true, false) => 2,
        _ => 3,
    }
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
    for root in package_roots(&files) {
        let Some(cand) = under_root(dir, &root, rel) else {
            continue;
        };
        if source.tree.get(&cand).is_some() {
            return Some(cand);
        }
        first.get_or_insert(cand);
    }
    first
}

/// The wheel path a file has below its install root (`.data/purelib/` and `.data/platlib/`
/// stripped); `None` for metadata and scripts, which have their own mappings.
pub fn install_path<'p>(w: &WheelInfo, path: &'p str) -> Option<&'p str> {
    if path.starts_with(&format!("{}/", w.dist_info)) {
        return None;
    }
    match path.strip_prefix(&format!("{}/", w.data_dir)) {
        Some(rest) => {
            let (kind, inner) = rest.split_once('/')?;
            matches!(kind, "purelib" | "platlib").then_some(inner)
        }
        None => Some(path),
    }
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
            data: d.to_vec().into(),
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
                ("foo".to_string(), "lib/foo".to_string()),
                (String::new(), "python".to_string()),
                (String::new(), String::new()),
                (String::new(), "src".to_string())
            ]
        );
    }

    #[test]
    fn setup_py_package_dir_and_per_package_entries() {
        let files = ProjectFiles {
            pyproject: None,
            setup_cfg: None,
            setup_py: Some(
                "from setuptools import setup\nsetup(name='x', packages=['a', 'a.b', 'c'],\n  \
                 package_dir={'': 'lib', 'c': './vendor/c_impl/'})\n"
                    .into(),
            ),
        };
        let roots = package_roots(&files);
        assert_eq!(roots[0], ("c".to_string(), "vendor/c_impl".to_string()));
        assert_eq!(roots[1], (String::new(), "lib".to_string()));
        assert_eq!(
            under_root("proj", &roots[0], "c/x.py").as_deref(),
            Some("proj/vendor/c_impl/x.py")
        );
        assert_eq!(under_root("", &roots[0], "cc/x.py"), None);
        assert_eq!(
            under_root("", &roots[1], "a/b/m.py").as_deref(),
            Some("lib/a/b/m.py")
        );
    }

    #[test]
    fn pure_then_this_platform() {
        let names = [
            "x-1.0-cp311-cp311-macosx_11_0_arm64.whl",
            "x-1.0-cp311-cp311-win_amd64.whl",
            "x-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            "x-1.0-cp311-cp311-manylinux_2_17_aarch64.whl",
            "x-1.0-py3-none-any.whl",
        ];
        let mut sorted = names.to_vec();
        sorted.sort_by_key(|n| (platform_rank(n), n.to_string()));
        assert_eq!(sorted[0], "x-1.0-py3-none-any.whl");
        if cfg!(all(target_os = "linux", target_arch = "x86_64")) {
            assert_eq!(sorted[1], names[2]);
            assert_eq!(sorted[2], names[3]);
        }
        if cfg!(target_os = "linux") {
            assert!(platform_rank(names[0]) > platform_rank(names[3]));
        }
    }
}

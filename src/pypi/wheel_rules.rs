//! What wheel builders generate, each a named rule with its reason. They apply only to wheels
//! (an sdist never has `*.dist-info/`), and only to files that are not identical to source.
//! The RECORD check (`wheel.rs`) has already vouched that every file is what the builder
//! wrote; these rules say which of those files have no source to compare with.

use super::wheel::{install_path, wheel_of, WheelInfo};
use crate::compare::{FileCx, Outcome, Rule, Status};
use crate::finding::{Code, Finding};
use crate::git::GitError;

pub fn rules() -> Vec<Box<dyn Rule>> {
    vec![
        Box::new(DistInfo),
        Box::new(CompiledModule),
        Box::new(ScriptShebang),
        Box::new(UniquePath),
    ]
}

/// A wheel file the `package_dir` mapping does not find (a directory computed at build time,
/// a layout no config names) whose exact content is in the tree at the one path that ends in
/// the file's wheel path: that is where it was built from. Ambiguity (no such path, or
/// several holding the content) is never guessed away.
pub struct UniquePath;

impl Rule for UniquePath {
    fn name(&self) -> &'static str {
        "wheel-unique-path"
    }
    fn reason(&self) -> &'static str {
        "a wheel re-roots files; the file's exact content is at the one source path ending in its wheel path"
    }
    fn judge(&self, cx: &FileCx<'_>) -> Result<Option<Outcome>, GitError> {
        let Some(w) = wheel(cx) else { return Ok(None) };
        if !matches!(cx.status, Status::Missing { .. } | Status::Differs { .. }) {
            return Ok(None);
        }
        let (Some(rel), Some(data)) = (install_path(w, cx.path), cx.data()) else {
            return Ok(None);
        };
        let id = crate::archive::git_blob_id(data);
        let suffix = format!("/{rel}");
        let holding: Vec<&str> = cx
            .source
            .tree
            .entries
            .iter()
            .filter(|(p, e)| {
                e.kind == crate::git::Kind::Blob
                    && e.oid == id
                    && (p.as_str() == rel || p.ends_with(&suffix))
            })
            .map(|(p, _)| p.as_str())
            .collect();
        Ok((holding.len() == 1).then_some(Outcome::Excused))
    }
}

fn wheel<'a>(cx: &'a FileCx<'_>) -> Option<&'a WheelInfo> {
    wheel_of(cx.pkg)
}

/// What builders write into `<name>-<version>.dist-info/` (licenses are compared with source).
const DIST_INFO_FILES: [&str; 12] = [
    "METADATA",
    "WHEEL",
    "RECORD",
    "RECORD.jws",
    "RECORD.p7s",
    "entry_points.txt",
    "top_level.txt",
    "zip-safe",
    "not-zip-safe",
    "namespace_packages.txt",
    "dependency_links.txt",
    "direct_url.json",
];

/// The core metadata and the builder's bookkeeping in `*.dist-info/` (METADATA's
/// `Requires-Dist` is checked against the source separately).
pub struct DistInfo;

impl Rule for DistInfo {
    fn name(&self) -> &'static str {
        "wheel-dist-info"
    }
    fn reason(&self) -> &'static str {
        "every wheel builder writes .dist-info/ (METADATA, WHEEL, RECORD, entry points)"
    }
    fn judge(&self, cx: &FileCx<'_>) -> Result<Option<Outcome>, GitError> {
        let Some(w) = wheel(cx) else { return Ok(None) };
        let generated = cx
            .path
            .strip_prefix(&format!("{}/", w.dist_info))
            .is_some_and(|f| DIST_INFO_FILES.contains(&f));
        Ok(
            (generated && matches!(cx.status, Status::Missing { .. } | Status::Differs { .. }))
                .then_some(Outcome::Excused),
        )
    }
}

/// A compiled module or bundled shared library (`.so`, `.pyd`, `.dylib`, `.dll`) of a
/// platform wheel. In a pure (`none-any`) wheel the same file is a red flag.
pub fn is_compiled(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    [".so", ".pyd", ".dylib", ".dll"]
        .iter()
        .any(|e| name.ends_with(e))
        || name.contains(".so.")
}

/// Compiled code of a platform wheel: built from the source, it cannot be compared with it
/// byte for byte. Reported (info), not excused, so the report lists every such file.
pub struct CompiledModule;

impl Rule for CompiledModule {
    fn name(&self) -> &'static str {
        "wheel-compiled-module"
    }
    fn reason(&self) -> &'static str {
        "a platform wheel's compiled modules are build outputs: not comparable with source"
    }
    fn judge(&self, cx: &FileCx<'_>) -> Result<Option<Outcome>, GitError> {
        let Some(w) = wheel(cx) else { return Ok(None) };
        if w.pure || !matches!(cx.status, Status::Missing { .. }) || !is_compiled(cx.path) {
            return Ok(None);
        }
        Ok(Some(Outcome::Finding(Finding::at(
            Code::NotComparable,
            cx.path,
            format!(
                "compiled code of a platform wheel ({}): built from the source, not comparable with it",
                w.tag
            ),
        ))))
    }
}

/// `#!python` (and friends): setuptools' `build_scripts` rewrites the first line of a
/// `scripts=` file; installers rewrite it again.
fn is_python_shebang(line: &[u8]) -> bool {
    line.starts_with(b"#!") && line.windows(6).any(|w| w == b"python")
}

fn split_first_line(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i..]),
        None => (data, &[]),
    }
}

/// A `.data/scripts/` file equal to its source but for a rewritten Python shebang.
pub struct ScriptShebang;

impl Rule for ScriptShebang {
    fn name(&self) -> &'static str {
        "wheel-script-shebang"
    }
    fn reason(&self) -> &'static str {
        "setuptools rewrites a script's Python shebang to `#!python` (installers set the interpreter)"
    }
    fn judge(&self, cx: &FileCx<'_>) -> Result<Option<Outcome>, GitError> {
        let Some(w) = wheel(cx) else { return Ok(None) };
        let (Status::Differs { source_oid, .. }, Some(data)) = (cx.status, cx.data()) else {
            return Ok(None);
        };
        if !cx.path.starts_with(&format!("{}/scripts/", w.data_dir)) {
            return Ok(None);
        }
        let src = cx.source.blob(source_oid)?;
        let (a_first, a_rest) = split_first_line(data);
        let (s_first, s_rest) = split_first_line(&src);
        let same = is_python_shebang(a_first) && is_python_shebang(s_first) && a_rest == s_rest;
        Ok(same.then_some(Outcome::Excused))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiled_names() {
        for p in [
            "foo/_speed.cpython-311-x86_64-linux-gnu.so",
            "foo.libs/libz.so.1.2",
            "a.pyd",
        ] {
            assert!(is_compiled(p), "{p}");
        }
        for p in ["foo/so.py", "foo/x.sonnet", "dll.txt"] {
            assert!(!is_compiled(p), "{p}");
        }
    }

    #[test]
    fn shebangs() {
        assert!(is_python_shebang(b"#!python"));
        assert!(is_python_shebang(b"#!/usr/bin/env python3"));
        assert!(!is_python_shebang(b"#!/bin/sh"));
        assert_eq!(
            split_first_line(b"#!x\nrest\n"),
            (&b"#!x"[..], &b"\nrest\n"[..])
        );
    }
}

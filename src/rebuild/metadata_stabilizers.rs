//! The metadata-file stabilizers (re-exported by `stabilizers`): PyPI core metadata
//! (`PKG-INFO`, `METADATA`) and a gem's `metadata.gz` and `checksums.yaml.gz`.

use super::stabilizers::{StabilizeCx, Stabilizer};
use crate::pypi::pyconfig::{normalised_ini, parse_ini};

/// Headers and body of an RFC 822 style metadata file (`PKG-INFO`, `METADATA`).
fn headers(text: &str) -> (Vec<(String, String)>, String) {
    let (head, body) = match text.find("\n\n") {
        Some(i) => (&text[..i], &text[i + 2..]),
        None => (text, ""),
    };
    let mut out: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with(' ') || line.starts_with('\t') {
            if let Some(last) = out.last_mut() {
                last.1.push('\n');
                last.1.push_str(line);
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            out.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    (out, body.to_string())
}

fn is_pkg_info(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name == "PKG-INFO" || name == "METADATA"
}

fn render(h: &[(String, String)], body: &str) -> Vec<u8> {
    let mut s = String::new();
    for (k, v) in h {
        s.push_str(&format!("{k}: {v}\n"));
    }
    s.push('\n');
    s.push_str(body);
    s.into_bytes()
}

/// `PKG-INFO` header order.
pub struct PkgInfoHeaderOrder;
impl Stabilizer for PkgInfoHeaderOrder {
    fn name(&self) -> &'static str {
        "pkg-info-header-order"
    }
    fn reason(&self) -> &'static str {
        "backends write the same core-metadata headers in different orders; header order carries no meaning"
    }
    fn stabilize(
        &self,
        path: &str,
        p: &[u8],
        r: &[u8],
        _cx: &StabilizeCx<'_>,
    ) -> Option<(Vec<u8>, Vec<u8>)> {
        if !is_pkg_info(path) {
            return None;
        }
        let sorted = |b: &[u8]| {
            let (mut h, body) = headers(&String::from_utf8_lossy(b));
            h.sort();
            render(&h, &body)
        };
        Some((sorted(p), sorted(r)))
    }
}

/// Core-metadata fields and the metadata version that introduced them: a rebuilt file of a
/// newer version may carry them where the published older one could not.
const NEWER_FIELDS: [(&str, [u64; 2]); 14] = [
    ("maintainer", [1, 2]),
    ("maintainer-email", [1, 2]),
    ("requires-python", [1, 2]),
    ("requires-dist", [1, 2]),
    ("provides-dist", [1, 2]),
    ("obsoletes-dist", [1, 2]),
    ("requires-external", [1, 2]),
    ("project-url", [1, 2]),
    ("description-content-type", [2, 1]),
    ("provides-extra", [2, 1]),
    ("license-file", [2, 1]),
    ("dynamic", [2, 2]),
    ("license-expression", [2, 4]),
    ("import-name", [2, 5]),
];

/// The fields of a metadata file as one version-independent list: the description from the
/// header (1.x, continuation lines indented) or the body (2.1+), old `UNKNOWN` placeholders
/// dropped, `Metadata-Version` dropped, sorted.
fn metadata_fields(b: &[u8], drop_newer_than: Option<&[u64]>) -> Vec<(String, String)> {
    let (h, body) = headers(&String::from_utf8_lossy(b));
    let mut out: Vec<(String, String)> = Vec::new();
    let mut description = body.trim_end().to_string();
    for (k, v) in h {
        if k == "metadata-version" || v == "UNKNOWN" {
            continue;
        }
        if let Some(old) = drop_newer_than {
            if NEWER_FIELDS
                .iter()
                .any(|(f, since)| *f == k && old < since.as_slice())
            {
                continue;
            }
        }
        if k == "description" {
            // 1.x: continuation lines carry 8 spaces (or `       |`) of indentation.
            description = v
                .lines()
                .map(|l| {
                    l.strip_prefix("        ")
                        .or_else(|| l.strip_prefix("       |"))
                        .unwrap_or(l.trim_start())
                })
                .collect::<Vec<_>>()
                .join("\n")
                .trim_end()
                .to_string();
            continue;
        }
        out.push((k, v));
    }
    out.push(("description".into(), description));
    out.sort();
    out
}

/// `Metadata-Version` of a newer backend.
pub struct PkgInfoMetadataVersion;
impl Stabilizer for PkgInfoMetadataVersion {
    fn name(&self) -> &'static str {
        "pkg-info-metadata-version"
    }
    fn reason(&self) -> &'static str {
        "a newer backend writes the same fields in a newer core-metadata version (description in the body, no UNKNOWN placeholders, fields the older version could not express)"
    }
    fn stabilize(
        &self,
        path: &str,
        p: &[u8],
        r: &[u8],
        _cx: &StabilizeCx<'_>,
    ) -> Option<(Vec<u8>, Vec<u8>)> {
        if !is_pkg_info(path) {
            return None;
        }
        let version = |b: &[u8]| {
            headers(&String::from_utf8_lossy(b))
                .0
                .into_iter()
                .find(|(k, _)| k == "metadata-version")
                .map(|(_, v)| v)
        };
        let parse = |v: &str| -> Vec<u64> { v.split('.').filter_map(|x| x.parse().ok()).collect() };
        let (vp, vr) = (parse(&version(p)?), parse(&version(r)?));
        if vr <= vp {
            return None;
        }
        let render_fields = |f: Vec<(String, String)>| render(&f, "");
        Some((
            render_fields(metadata_fields(p, None)),
            render_fields(metadata_fields(r, Some(&vp))),
        ))
    }
}

/// `setup.cfg` as setuptools rewrote it.
pub struct SetupCfgReserialised;
impl Stabilizer for SetupCfgReserialised {
    fn name(&self) -> &'static str {
        "setuptools-setup-cfg"
    }
    fn reason(&self) -> &'static str {
        "setuptools re-serialises setup.cfg (comments dropped) with an [egg_info] section, older ones copied it; compared as INI without it"
    }
    fn stabilize(
        &self,
        path: &str,
        p: &[u8],
        r: &[u8],
        _cx: &StabilizeCx<'_>,
    ) -> Option<(Vec<u8>, Vec<u8>)> {
        if path != "setup.cfg" {
            return None;
        }
        let ini = |b: &[u8]| {
            let n = normalised_ini(&parse_ini(&String::from_utf8_lossy(b)), "egg_info");
            format!("{n:?}").into_bytes()
        };
        Some((ini(p), ini(r)))
    }
}

/// Replace the value of a top-level YAML key of a gem's metadata.
fn blank_yaml_key(b: &[u8], key: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(b);
    let prefix = format!("{key}:");
    text.lines()
        .map(|l| {
            if l.starts_with(&prefix) {
                format!("{key}: (stabilized)")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        .into_bytes()
}

/// The gem metadata's `date`.
pub struct GemDate;
impl Stabilizer for GemDate {
    fn name(&self) -> &'static str {
        "gem-date"
    }
    fn reason(&self) -> &'static str {
        "`gem build` writes the day it ran into the gemspec's `date` unless the gemspec pins it"
    }
    fn stabilize(
        &self,
        path: &str,
        p: &[u8],
        r: &[u8],
        _cx: &StabilizeCx<'_>,
    ) -> Option<(Vec<u8>, Vec<u8>)> {
        (path == "metadata.gz").then(|| (blank_yaml_key(p, "date"), blank_yaml_key(r, "date")))
    }
}

/// The gem metadata's `rubygems_version`.
pub struct GemRubygemsVersion;
impl Stabilizer for GemRubygemsVersion {
    fn name(&self) -> &'static str {
        "gem-rubygems-version"
    }
    fn reason(&self) -> &'static str {
        "the gemspec records the RubyGems version that built it, not anything of the package"
    }
    fn stabilize(
        &self,
        path: &str,
        p: &[u8],
        r: &[u8],
        _cx: &StabilizeCx<'_>,
    ) -> Option<(Vec<u8>, Vec<u8>)> {
        (path == "metadata.gz").then(|| {
            (
                blank_yaml_key(p, "rubygems_version"),
                blank_yaml_key(r, "rubygems_version"),
            )
        })
    }
}

/// `checksums.yaml.gz`.
pub struct GemChecksums;
impl Stabilizer for GemChecksums {
    fn name(&self) -> &'static str {
        "gem-checksums"
    }
    fn reason(&self) -> &'static str {
        "checksums.yaml.gz digests the gzip streams (mtimes, headers); provero checks the published digests against the published members when reading the gem"
    }
    fn stabilize(
        &self,
        path: &str,
        _p: &[u8],
        _r: &[u8],
        _cx: &StabilizeCx<'_>,
    ) -> Option<(Vec<u8>, Vec<u8>)> {
        (path == "checksums.yaml.gz").then(|| (Vec::new(), Vec::new()))
    }
}

#[cfg(test)]
mod tests {
    use super::super::stabilizers::settle;
    use super::*;
    use crate::archive::Files;

    fn apply(s: &dyn Stabilizer, path: &str, p: &str, r: &str) -> bool {
        let f = Files::default();
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

    #[test]
    fn pkg_info_order_and_metadata_version() {
        let p = "Metadata-Version: 2.1\nName: x\nVersion: 1.0\n\nbody\n";
        let reordered = "Metadata-Version: 2.1\nVersion: 1.0\nName: x\n\nbody\n";
        let newer = "Metadata-Version: 2.2\nName: x\nVersion: 1.0\n\nbody\n";
        let older = "Metadata-Version: 2.0\nName: x\nVersion: 1.0\n\nbody\n";
        let changed = "Metadata-Version: 2.1\nName: x\nVersion: 1.1\n\nbody\n";
        assert!(apply(&PkgInfoHeaderOrder, "PKG-INFO", p, reordered));
        assert!(!apply(&PkgInfoHeaderOrder, "PKG-INFO", p, changed));
        assert!(apply(
            &PkgInfoMetadataVersion,
            "x.egg-info/PKG-INFO",
            p,
            newer
        ));
        assert!(!apply(&PkgInfoMetadataVersion, "PKG-INFO", p, older));
        assert!(!apply(&PkgInfoMetadataVersion, "PKG-INFO", p, changed));
        // setuptools before 2.1: description as an indented header, UNKNOWN placeholders.
        let v12 = "Metadata-Version: 1.2\nName: x\nVersion: 1.0\nDescription: Line one\n        \n        line two\nPlatform: UNKNOWN\n\n";
        let v21 = "Metadata-Version: 2.1\nName: x\nVersion: 1.0\nLicense-File: LICENSE\n\nLine one\n\nline two\n";
        assert!(apply(&PkgInfoMetadataVersion, "PKG-INFO", v12, v21));
        let v21_evil = v21.replace("Version: 1.0\n", "Version: 1.0\nRequires-Dist: evil\n");
        assert!(!apply(&PkgInfoMetadataVersion, "PKG-INFO", &v21_evil, v21));
        let v12_evil = v12.replace("Platform: UNKNOWN", "Requires-Dist: evil");
        assert!(!apply(
            &PkgInfoMetadataVersion,
            "PKG-INFO",
            v12_evil.as_str(),
            v21
        ));
    }

    #[test]
    fn metadata_1_1_lacks_the_fields_1_2_added() {
        // pyyaml 5.3.1: published 1.1 without Requires-Python, rebuilt 2.1 with it.
        let v11 = "Metadata-Version: 1.1\nName: x\nVersion: 1.0\nDescription: Line one\n\n";
        let v21 =
            "Metadata-Version: 2.1\nName: x\nVersion: 1.0\nRequires-Python: >=3.8\n\nLine one\n";
        assert!(apply(&PkgInfoMetadataVersion, "PKG-INFO", v11, v21));
        // A 1.2 file could carry it: its absence is a difference.
        let v12 = v11.replace("1.1", "1.2");
        assert!(!apply(&PkgInfoMetadataVersion, "PKG-INFO", &v12, v21));
    }

    #[test]
    fn setup_cfg_rewritten_by_setuptools_but_not_a_changed_value() {
        let copied = "\n# where yaml.h is\n[build_ext]\n#include_dirs=/usr/local/include\n\n[metadata]\nlicense_file = LICENSE";
        let rewritten = "[build_ext]\n\n[metadata]\nlicense_file = LICENSE\n\n[egg_info]\ntag_build = \ntag_date = 0\n\n";
        let s = SetupCfgReserialised;
        assert!(apply(&s, "setup.cfg", copied, rewritten));
        assert!(!apply(
            &s,
            "setup.cfg",
            &copied.replace("LICENSE", "EVIL"),
            rewritten
        ));
        assert!(!apply(&s, "sub/setup.cfg", copied, rewritten));
    }

    #[test]
    fn gem_date_version_and_checksums() {
        let p = "name: x\ndate: 2024-01-01 00:00:00.000000000 Z\nrubygems_version: 3.5.0\n";
        let r = "name: x\ndate: 2026-12-01 00:00:00.000000000 Z\nrubygems_version: 3.3.15\n";
        assert!(!apply(&GemDate, "metadata.gz", p, r));
        let stabs: Vec<Box<dyn Stabilizer>> = vec![Box::new(GemDate), Box::new(GemRubygemsVersion)];
        let f = Files::default();
        let cx = StabilizeCx {
            published: &f,
            rebuilt: &f,
            data: &(),
        };
        assert_eq!(
            settle(&stabs, "metadata.gz", p.as_bytes(), r.as_bytes(), &cx),
            Some(vec!["gem-date", "gem-rubygems-version"])
        );
        let tampered = r.replace("name: x", "name: y");
        assert_eq!(
            settle(
                &stabs,
                "metadata.gz",
                p.as_bytes(),
                tampered.as_bytes(),
                &cx
            ),
            None
        );
        assert!(apply(&GemChecksums, "checksums.yaml.gz", "a", "b"));
        assert!(!apply(&GemChecksums, "lib/checksums.yaml.gz", "a", "b"));
    }
}

//! Comparing the published files with the rebuilt ones, after the stabilizers; and the human
//! report's line about a rebuild.

use crate::archive::Content;
use crate::compare::unified_diff;
use crate::finding::{Code, Finding};

use super::stabilizers::{self, StabilizeCx, Stabilizer};
use super::{Applied, Mode, RebuildInfo, Rebuilt};

/// Compare every published file with the rebuilt one, after the file-level stabilizers.
pub fn compare_rebuilt(stabs: &[Box<dyn Stabilizer>], cx: &StabilizeCx<'_>) -> Rebuilt {
    let mut out = Rebuilt {
        findings: Vec::new(),
        info: RebuildInfo::default(),
        files: cx.published.len(),
        identical: 0,
        stabilized: 0,
    };
    for (path, content) in &cx.published.map {
        let Some(rebuilt) = cx.rebuilt.get(path) else {
            out.findings.push(
                Finding::at(
                    Code::FileNotInSource,
                    path,
                    "published, but the rebuild from the source does not produce it",
                )
                .in_mode(Mode::Rebuild),
            );
            continue;
        };
        let (p, r) = match (content, rebuilt) {
            (Content::File { data: p, .. }, Content::File { data: r, .. }) => (p, r),
            (Content::Symlink { target: a }, Content::Symlink { target: b }) if a == b => {
                out.identical += 1;
                continue;
            }
            // Files too large to keep are compared by blob id: no stabilizer reads them.
            (Content::Streamed { blob_id: a, .. }, Content::Streamed { blob_id: b, .. }) => {
                if a == b {
                    out.identical += 1;
                } else {
                    out.findings.push(
                        Finding::at(
                            Code::ContentDiffers,
                            path,
                            "differs from the rebuilt file (a large file, compared by blob id)",
                        )
                        .in_mode(Mode::Rebuild),
                    );
                }
                continue;
            }
            (Content::Streamed { .. }, _) | (_, Content::Streamed { .. }) => {
                out.findings.push(
                    Finding::at(
                        Code::ContentDiffers,
                        path,
                        "differs from the rebuilt file (their sizes differ)",
                    )
                    .in_mode(Mode::Rebuild),
                );
                continue;
            }
            _ => {
                out.findings.push(
                    Finding::at(
                        Code::ContentDiffers,
                        path,
                        "a file in one archive and a symlink in the other (published vs rebuilt)",
                    )
                    .in_mode(Mode::Rebuild),
                );
                continue;
            }
        };
        if p == r {
            out.identical += 1;
            continue;
        }
        match stabilizers::settle(stabs, path, p, r, cx) {
            Some(names) => {
                out.stabilized += 1;
                for n in names {
                    match out.info.stabilizers.iter_mut().find(|a| a.name == n) {
                        Some(a) => a.paths.push(path.clone()),
                        None => out.info.stabilizers.push(Applied {
                            name: n.to_string(),
                            reason: stabs
                                .iter()
                                .find(|s| s.name() == n)
                                .map(|s| s.reason().to_string())
                                .unwrap_or_default(),
                            paths: vec![path.clone()],
                        }),
                    }
                }
            }
            None => {
                let mut f = Finding::at(
                    Code::ContentDiffers,
                    path,
                    "differs from the file the rebuild produced",
                )
                .in_mode(Mode::Rebuild);
                f.diff = unified_diff(r, p, &format!("rebuilt/{path}"), path);
                out.findings.push(f);
            }
        }
    }
    out
}

/// The human report's line about a rebuild: packager, time, bit-for-bit or what was stabilized.
pub fn human_line(rb: &RebuildInfo) -> String {
    if rb.packager.is_empty() {
        return String::new();
    }
    let version = if rb.packager_version.is_empty() {
        String::new()
    } else {
        format!(" ({})", rb.packager_version)
    };
    let outcome = if rb.bit_for_bit {
        "bit-for-bit identical".to_string()
    } else if rb.stabilizers.is_empty() {
        "not identical".to_string()
    } else {
        let names: Vec<String> = rb
            .stabilizers
            .iter()
            .map(|a| {
                if a.paths.is_empty() {
                    a.name.clone()
                } else {
                    format!("{} ({})", a.name, a.paths.join(", "))
                }
            })
            .collect();
        format!("stabilized: {}", names.join(", "))
    };
    format!(
        "    rebuilt with {}{version} in {:.1}s: {outcome}\n",
        rb.packager,
        rb.build_ms as f64 / 1000.0
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::Files;

    fn files(entries: &[(&str, &str)]) -> Files {
        let mut f = Files::default();
        for (p, d) in entries {
            f.map.insert(
                p.to_string(),
                Content::File {
                    data: d.as_bytes().to_vec().into(),
                    executable: false,
                },
            );
        }
        f
    }

    #[test]
    fn published_files_against_the_rebuild() {
        let published = files(&[
            ("a.rs", "same"),
            ("b.rs", "tampered"),
            ("extra.rs", "x"),
            ("PKG-INFO", "Name: x\nVersion: 1\n\n"),
        ]);
        let rebuilt = files(&[
            ("a.rs", "same"),
            ("b.rs", "honest"),
            ("only-rebuilt.rs", "fine"),
            ("PKG-INFO", "Version: 1\nName: x\n\n"),
        ]);
        let stabs: Vec<Box<dyn Stabilizer>> = vec![Box::new(stabilizers::PkgInfoHeaderOrder)];
        let cx = StabilizeCx {
            published: &published,
            rebuilt: &rebuilt,
            data: &(),
        };
        let r = compare_rebuilt(&stabs, &cx);
        let codes: Vec<(Code, &str)> = r
            .findings
            .iter()
            .map(|f| (f.code, f.path.as_deref().unwrap()))
            .collect();
        assert_eq!(
            codes,
            [
                (Code::ContentDiffers, "b.rs"),
                (Code::FileNotInSource, "extra.rs")
            ]
        );
        assert!(r.findings.iter().all(|f| f.mode == Some(Mode::Rebuild)));
        assert!(r.findings[0].diff.as_deref().unwrap().contains("+tampered"));
        assert_eq!((r.identical, r.stabilized), (1, 1));
        assert_eq!(r.info.stabilizers[0].name, "pkg-info-header-order");
        assert_eq!(r.info.stabilizers[0].paths, ["PKG-INFO"]);
    }
    #[test]
    fn human_line_says_bit_for_bit_or_what_was_stabilized() {
        let mut rb = RebuildInfo {
            packager: "gem build".into(),
            packager_version: "3.3.15".into(),
            bit_for_bit: true,
            build_ms: 1500,
            ..Default::default()
        };
        assert_eq!(
            human_line(&rb),
            "    rebuilt with gem build (3.3.15) in 1.5s: bit-for-bit identical\n"
        );
        rb.bit_for_bit = false;
        rb.stabilizers.push(Applied {
            name: "gem-date".into(),
            reason: String::new(),
            paths: vec!["metadata.gz".into()],
        });
        assert!(human_line(&rb).ends_with("stabilized: gem-date (metadata.gz)\n"));
    }
}

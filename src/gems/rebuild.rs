//! Rebuilding a gem: `gem build` on the gemspec the source carries (gemspecs are Ruby and
//! often run `git ls-files`, hence the git work tree and the sandbox). A gem is compared member
//! by member: the files of `data.tar.gz`, the gemspec YAML of `metadata.gz` (decompressed,
//! where an added executable or a changed dependency shows) and `checksums.yaml.gz`.

use async_trait::async_trait;

use crate::archive::{gunzip_capped, read_tar, Content, Files, Limits};
use crate::ecosystem::{Handler, Resolved};
use crate::rebuild::stabilizers::{
    gzip_layer, tar_entries, ArchiveMeta, GemChecksums, GemDate, GemRubygemsVersion, Stabilizer,
};
use crate::rebuild::{tool_version, Failure, Plan, PlanCx, Rebuilder};

use super::artifact::GemMeta;

/// Decompressed members are capped like the rest of the gem's reading.
const MEMBER_CAP: u64 = 64 << 20;

pub struct GemBuild;

/// The outer members of a `.gem` (a plain tar).
fn members(bytes: &[u8]) -> Result<Vec<(String, Vec<u8>)>, String> {
    let raw = read_tar(bytes, Limits::default()).map_err(|e| e.to_string())?;
    Ok(raw
        .entries
        .into_iter()
        .filter_map(|(p, c)| match c {
            Content::File { data, .. } => Some((p, std::sync::Arc::unwrap_or_clone(data))),
            // Default limits keep every member's bytes; nothing is streamed here.
            Content::Symlink { .. } | Content::Streamed { .. } => None,
        })
        .collect())
}

#[async_trait]
impl Rebuilder for GemBuild {
    async fn plan(&self, cx: &PlanCx<'_>) -> Result<Plan, Failure> {
        if cx
            .pkg
            .meta::<GemMeta>()
            .is_some_and(|m| m.is_platform_gem())
        {
            return Err(Failure::NotComparable(
                "a platform gem carries compiled code that `gem build` of the source does not produce; only source (`ruby`) gems are rebuilt".into(),
            ));
        }
        let Some(gem) = crate::rebuild::sandbox::which("gem") else {
            return Err(Failure::Failed(
                "rebuild needs RubyGems' `gem` (not found on PATH)".into(),
            ));
        };
        let dir = cx.pkg_path();
        let own = dir.join(format!("{}.gemspec", cx.pkg.name));
        let spec = if own.is_file() {
            own
        } else {
            let found: Vec<_> = std::fs::read_dir(&dir)
                .map(|rd| {
                    rd.flatten()
                        .map(|e| e.path())
                        .filter(|p| p.extension().is_some_and(|x| x == "gemspec"))
                        .collect()
                })
                .unwrap_or_default();
            match found.as_slice() {
                [one] => one.clone(),
                [] => {
                    return Err(Failure::Failed(format!(
                        "the source has no gemspec in `{}`",
                        if cx.pkg_dir.is_empty() {
                            "."
                        } else {
                            cx.pkg_dir
                        }
                    )))
                }
                _ => {
                    return Err(Failure::Failed(format!(
                        "the source has several gemspecs in `{}` and none is named {}.gemspec",
                        if cx.pkg_dir.is_empty() {
                            "."
                        } else {
                            cx.pkg_dir
                        },
                        cx.pkg.name
                    )))
                }
            }
        };
        let out = cx.scratch.join("out");
        std::fs::create_dir_all(&out).map_err(|e| Failure::Failed(format!("{e}")))?;
        let real = std::fs::canonicalize(&gem).unwrap_or(gem.clone());
        let mut read_only = Vec::new();
        if let Some(root) = real.parent().and_then(|b| b.parent()) {
            read_only.push(root.to_path_buf());
        }
        Ok(Plan {
            packager: "gem build".into(),
            packager_version: tool_version(&gem, &["--version"]),
            argv: vec![
                gem.display().to_string(),
                "build".into(),
                spec.display().to_string(),
                format!("--output={}", out.join("rebuilt.gem").display()),
            ],
            cwd: dir,
            env: vec![(
                "GEM_HOME".into(),
                cx.scratch.join("gem-home").display().to_string(),
            )],
            path: gem
                .parent()
                .map(|p| vec![p.to_path_buf()])
                .unwrap_or_default(),
            read_only,
            output_dir: out,
            output_suffix: ".gem".into(),
            data: Box::new(()),
        })
    }

    fn stabilizers(&self) -> Vec<Box<dyn Stabilizer>> {
        vec![
            Box::new(GemDate),
            Box::new(GemRubygemsVersion),
            Box::new(GemChecksums),
        ]
    }

    fn files(
        &self,
        handler: &dyn Handler,
        resolved: &Resolved,
        bytes: &[u8],
    ) -> Result<Files, String> {
        let mut files = handler
            .read(resolved, bytes)
            .map_err(|e| e.to_string())?
            .files;
        for (name, data) in members(bytes)? {
            if name != "metadata.gz" && name != "checksums.yaml.gz" {
                continue;
            }
            let text = gunzip_capped(&data, MEMBER_CAP).map_err(|e| format!("{name}: {e}"))?;
            // A data file of the same name keeps its path; the member is named as a member.
            let key = if files.get(&name).is_some() {
                format!("{name} (gem member)")
            } else {
                name
            };
            files.map.insert(
                key,
                Content::File {
                    data: text.into(),
                    executable: false,
                },
            );
        }
        Ok(files)
    }

    fn archive_meta(&self, bytes: &[u8]) -> ArchiveMeta {
        let mut meta = ArchiveMeta {
            tars: vec![("gem".into(), tar_entries(bytes))],
            gzips: Vec::new(),
        };
        for (name, data) in members(bytes).unwrap_or_default() {
            if !name.ends_with(".gz") {
                continue;
            }
            meta.gzips.push(gzip_layer(&name, &data));
            if name == "data.tar.gz" {
                let tar = gunzip_capped(&data, 1 << 30).unwrap_or_default();
                meta.tars.push((name, tar_entries(&tar)));
            }
        }
        meta
    }
}

//! Reading a `.crate`: a gzipped tar whose entries all sit under `<name>-<version>/`. Cargo
//! writes `.cargo_vcs_info.json` (`git.sha1`, `git.dirty`, `path_in_vcs`; older cargo wrote
//! only `git.sha1`), a normalised `Cargo.toml` and the original as `Cargo.toml.orig`.

use serde::Deserialize;

use crate::archive::{into_files, read_tar_gz, ArchiveError, Limits, Root};
use crate::ecosystem::{Package, Resolved};
use crate::finding::{Code, Finding};

#[derive(Debug, Default, Deserialize)]
pub struct VcsInfo {
    #[serde(default)]
    git: Option<GitInfo>,
    #[serde(default)]
    path_in_vcs: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct GitInfo {
    #[serde(default)]
    sha1: Option<String>,
    #[serde(default)]
    dirty: bool,
}

/// What the crates rules need from the manifests.
#[derive(Debug, Default)]
pub struct CrateMeta {
    /// The published (normalised) `Cargo.toml`.
    pub manifest: Option<toml::Table>,
    /// `Cargo.toml.orig`, as the author wrote it.
    pub orig: Option<toml::Table>,
    /// Problems reading either manifest.
    pub manifest_errors: Vec<String>,
    /// Why `.cargo_vcs_info.json` is not what cargo writes (`None`: absent or valid).
    pub vcs_info_error: Option<String>,
}

impl CrateMeta {
    /// `package.<key>` of the original manifest as a string (not workspace-inherited).
    pub fn orig_str(&self, key: &str) -> Option<&str> {
        self.orig.as_ref()?.get("package")?.get(key)?.as_str()
    }
}

const VCS_INFO: &str = ".cargo_vcs_info.json";

/// Read `.cargo_vcs_info.json` as cargo writes it: a JSON object whose `git.sha1` is a full
/// commit id. Anything else is an error that says what is wrong.
pub fn parse_vcs_info(data: &[u8]) -> Result<VcsInfo, String> {
    let v: VcsInfo = serde_json::from_slice(data)
        .map_err(|e| format!("`{VCS_INFO}` is not the JSON cargo writes ({e})"))?;
    let sha1 = v.git.as_ref().and_then(|g| g.sha1.as_deref());
    match sha1 {
        None => Err(format!("`{VCS_INFO}` has no `git.sha1`")),
        Some(s) if s.len() == 40 && s.chars().all(|c| c.is_ascii_hexdigit()) => Ok(v),
        Some(s) => Err(format!(
            "`{VCS_INFO}` records `git.sha1` = {:?}, which is not 40 hex digits",
            s.chars().take(64).collect::<String>()
        )),
    }
}

fn first_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(300)
        .collect()
}

pub fn read(resolved: &Resolved, bytes: &[u8]) -> Result<Package, ArchiveError> {
    let raw = read_tar_gz(bytes, Limits::streaming())?;
    let root = format!("{}-{}", resolved.name, resolved.version);
    let (files, findings) = into_files(raw, Root::Exact(&root));
    if files.is_empty() {
        return Err(ArchiveError::Unreadable(format!(
            "no files under `{root}/`"
        )));
    }
    let mut meta = CrateMeta::default();
    let mut parse = |name: &str| -> Option<toml::Table> {
        let text = files.text(name)?;
        match text.parse::<toml::Table>() {
            Ok(t) => Some(t),
            Err(e) => {
                meta.manifest_errors.push(format!("{name}: {e}"));
                None
            }
        }
    };
    let manifest = parse("Cargo.toml");
    let orig = parse("Cargo.toml.orig");
    meta.manifest = manifest;
    meta.orig = orig;

    let mut findings = findings;
    for e in &meta.manifest_errors {
        let (path, msg) = e.split_once(": ").unwrap_or(("Cargo.toml", e));
        findings.push(Finding::at(
            Code::ManifestUnreadable,
            path,
            format!("`{path}` is not valid TOML: {}", first_line(msg)),
        ));
    }
    let vcs = match files.data(VCS_INFO).map(parse_vcs_info) {
        None => VcsInfo::default(),
        Some(Ok(v)) => v,
        Some(Err(e)) => {
            findings.push(Finding::at(
                Code::VcsInfoInvalid,
                VCS_INFO,
                format!("{e}: cargo never writes that, so the recorded commit is unreadable"),
            ));
            meta.vcs_info_error = Some(e);
            VcsInfo::default()
        }
    };
    let git = vcs.git.unwrap_or_default();
    let repository = meta
        .manifest
        .as_ref()
        .and_then(|m| m.get("package"))
        .and_then(|p| p.get("repository"))
        .and_then(|r| r.as_str())
        .map(|s| vec![s.to_string()])
        .unwrap_or_default();
    Ok(Package {
        name: resolved.name.clone(),
        version: resolved.version.clone(),
        files,
        findings,
        repository,
        commit: git.sha1,
        dirty: git.dirty,
        path_in_vcs: vcs.path_in_vcs.map(|p| p.trim_matches('/').to_string()),
        tag_hint: None,
        meta: Box::new(meta),
    })
}

//! Finding a crate in its repository: the recorded `path_in_vcs`, or (older cargo) the
//! directory whose `Cargo.toml` names the crate. Also maps files cargo copies from outside the
//! package directory (`readme = "../README.md"`, `license-file`) back to where they live.

use crate::ecosystem::Package;
use crate::source::{join, normalize, SourceView};

use super::artifact::CrateMeta;

/// Directories whose `Cargo.toml` declares `package.name == name`, shallowest first.
pub fn package_dirs(pkg: &Package, source: &SourceView<'_>) -> Vec<String> {
    let mut dirs = Vec::new();
    for path in source.tree.find_named("Cargo.toml") {
        let dir = path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
        let view = SourceView::new(source.repo, source.tree, &source.commit, dir);
        if let Some((name, _)) = identity(&view) {
            if name == pkg.name || name.replace('_', "-") == pkg.name.replace('_', "-") {
                dirs.push(dir.to_string());
            }
        }
    }
    dirs
}

fn manifest_at(source: &SourceView<'_>, dir: &str) -> Option<toml::Table> {
    let bytes = source.read(&join(dir, "Cargo.toml")).ok()??;
    String::from_utf8_lossy(&bytes).parse::<toml::Table>().ok()
}

/// The workspace root above `dir` (a `Cargo.toml` with `[workspace]`), with its manifest.
fn workspace_root(source: &SourceView<'_>, dir: &str) -> Option<(String, toml::Table)> {
    let mut cur = Some(dir.to_string());
    while let Some(d) = cur {
        if let Some(m) = manifest_at(source, &d) {
            if m.contains_key("workspace") {
                return Some((d, m));
            }
        }
        cur = if d.is_empty() {
            None
        } else {
            Some(
                d.rsplit_once('/')
                    .map(|(p, _)| p.to_string())
                    .unwrap_or_default(),
            )
        };
    }
    None
}

/// `package.<key>`, following `key.workspace = true` to `[workspace.package]`.
/// Returns the value and the directory it is relative to.
fn package_value(source: &SourceView<'_>, dir: &str, key: &str) -> Option<(toml::Value, String)> {
    let m = manifest_at(source, dir)?;
    let v = m.get("package")?.get(key)?;
    if v.get("workspace").and_then(|w| w.as_bool()) == Some(true) {
        let (root, wm) = workspace_root(source, dir)?;
        let inherited = wm.get("workspace")?.get("package")?.get(key)?.clone();
        return Some((inherited, root));
    }
    Some((v.clone(), dir.to_string()))
}

/// Name and version the manifest at `source.pkg_dir` declares.
pub fn identity(source: &SourceView<'_>) -> Option<(String, Option<String>)> {
    let m = manifest_at(source, &source.pkg_dir)?;
    let name = m.get("package")?.get("name")?.as_str()?.to_string();
    let version = package_value(source, &source.pkg_dir, "version")
        .and_then(|(v, _)| v.as_str().map(str::to_string));
    Some((name, version))
}

/// Where a packaged file comes from, when not `pkg_dir/path`.
pub fn source_path(pkg: &Package, source: &SourceView<'_>, path: &str) -> Option<String> {
    if path == "Cargo.toml.orig" {
        return Some(source.in_pkg("Cargo.toml"));
    }
    if path.contains('/') {
        return None;
    }
    let meta = pkg.meta::<CrateMeta>()?;
    meta.orig.as_ref()?;
    for key in ["readme", "license-file"] {
        let Some((value, base)) = package_value(source, &source.pkg_dir, key) else {
            continue;
        };
        let Some(rel) = value.as_str() else { continue };
        let Some(full) = normalize(&join(&base, rel)) else {
            continue;
        };
        let file_name = full.rsplit('/').next().unwrap_or(&full);
        let inside = source.pkg_dir.is_empty() || full.starts_with(&format!("{}/", source.pkg_dir));
        if file_name == path && (!inside || full != source.in_pkg(path)) {
            return Some(full);
        }
    }
    None
}

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

/// The workspace root of the package in `dir` (a `Cargo.toml` with `[workspace]`: the one
/// `package.workspace` names, else the nearest at or above `dir`), with its manifest.
fn workspace_root(source: &SourceView<'_>, dir: &str) -> Option<(String, toml::Table)> {
    let named = manifest_at(source, dir).and_then(|m| {
        let rel = m.get("package")?.get("workspace")?.as_str()?.to_string();
        normalize(&join(dir, &rel))
    });
    if let Some(root) = named {
        return manifest_at(source, &root)
            .filter(|m| m.contains_key("workspace"))
            .map(|m| (root, m));
    }
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

/// The workspace root manifest of the package at `source.pkg_dir` at this commit, for
/// `{ workspace = true }` in `Cargo.toml.orig`.
pub fn workspace_manifest(source: &SourceView<'_>) -> Option<toml::Table> {
    workspace_root(source, &source.pkg_dir).map(|(_, m)| m)
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
///
/// cargo's `build_ar_list`/`check_for_file_and_add` (`ops/cargo_package/mod.rs`): a
/// `license-file`, then a `readme`, that resolves outside the package directory is archived at
/// the package root under its file name, unless the package's own file list already has a file
/// of that name at the root; then that one is archived (cargo warns) and the outside file is
/// not. One inside the package is archived where it is.
pub fn source_path(pkg: &Package, source: &SourceView<'_>, path: &str) -> Option<String> {
    if path == "Cargo.toml.orig" {
        return Some(source.in_pkg("Cargo.toml"));
    }
    if path.contains('/') {
        return None;
    }
    let meta = pkg.meta::<CrateMeta>()?;
    meta.orig.as_ref()?;
    let mut copied: Vec<String> = Vec::new();
    for key in ["license-file", "readme"] {
        let Some((value, base)) = package_value(source, &source.pkg_dir, key) else {
            continue;
        };
        let Some(rel) = value.as_str() else { continue };
        let Some(full) = normalize(&join(&base, rel)) else {
            continue;
        };
        let inside = source.pkg_dir.is_empty() || full.starts_with(&format!("{}/", source.pkg_dir));
        if inside {
            continue;
        }
        let file_name = full.rsplit('/').next().unwrap_or(&full).to_string();
        if copied.contains(&file_name) || in_package_file_list(source, &file_name) {
            continue;
        }
        if file_name == path {
            return Some(full);
        }
        copied.push(file_name);
    }
    None
}

/// Whether cargo's file list for the package has `name` at the package root: tracked at the
/// commit and not left out by `package.include`/`package.exclude` (gitignore-style patterns;
/// with `include`, `exclude` is not consulted).
fn in_package_file_list(source: &SourceView<'_>, name: &str) -> bool {
    if source.tree.get(&source.in_pkg(name)).is_none() {
        return false;
    }
    let patterns = |key: &str| -> Vec<String> {
        package_value(source, &source.pkg_dir, key)
            .and_then(|(v, _)| v.as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|p| p.as_str().map(str::to_string))
            .collect()
    };
    let include = patterns("include");
    if !include.is_empty() {
        return last_match(&include, name);
    }
    !last_match(&patterns("exclude"), name)
}

/// gitignore semantics for a file at the root: the last pattern that matches decides, a `!`
/// pattern un-matches.
fn last_match(patterns: &[String], name: &str) -> bool {
    let mut matched = false;
    for p in patterns {
        let (negated, p) = match p.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, p.as_str()),
        };
        if root_pattern_matches(p, name) {
            matched = !negated;
        }
    }
    matched
}

fn root_pattern_matches(pattern: &str, name: &str) -> bool {
    let mut p = pattern.trim();
    if p.ends_with('/') {
        // Directories only.
        return false;
    }
    p = p.strip_prefix('/').unwrap_or(p);
    while let Some(rest) = p.strip_prefix("**/") {
        p = rest;
    }
    if p.contains('/') {
        return false;
    }
    glob_regex(p).is_some_and(|re| re.is_match(name))
}

/// A single path component's glob (`*`, `?`, `[...]`) as an anchored regex.
fn glob_regex(glob: &str) -> Option<regex::Regex> {
    let mut re = String::from("^");
    let mut chars = glob.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => re.push_str("[^/]*"),
            '?' => re.push_str("[^/]"),
            '[' => {
                let mut class = String::from("[");
                if chars.peek() == Some(&'!') {
                    chars.next();
                    class.push('^');
                }
                for c in chars.by_ref() {
                    if c == ']' {
                        break;
                    }
                    if c == '\\' || c == '^' {
                        class.push('\\');
                    }
                    class.push(c);
                }
                class.push(']');
                re.push_str(&class);
            }
            '\\' => {
                if let Some(n) = chars.next() {
                    re.push_str(&regex::escape(&n.to_string()));
                }
            }
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push('$');
    regex::Regex::new(&re).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gitignore_patterns_for_a_root_file() {
        let m = |ps: &[&str]| {
            last_match(
                &ps.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                "README.md",
            )
        };
        assert!(m(&["README.md"]));
        assert!(m(&["/README.md"]));
        assert!(m(&["*.md"]));
        assert!(m(&["**/README.md"]));
        assert!(m(&["READ[M]E.?d"]));
        assert!(!m(&["docs/README.md"]));
        assert!(!m(&["README.md/"]));
        assert!(!m(&["*.md", "!README.md"]));
        assert!(!m(&["src/**"]));
    }
}

//! Finding a gem in its repository and reading what its `.gemspec` declares, without running
//! Ruby: the gemspec is a Ruby program, so only literal values are taken (`s.name = "x"`,
//! `s.version = "1.0"`, a `VERSION = "1.0"` constant in `lib/**/version.rb`, a `VERSION` file),
//! and anything computed is "unknown", never a guess.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use regex::Regex;

use crate::ecosystem::Package;
use crate::source::{join, SourceView};

pub(crate) fn re(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pattern).expect("valid regex"))
}

/// Directories holding `<name>.gemspec`, shallowest (the root) first. When no gemspec is named
/// after the gem, directories whose only gemspec declares `s.name = "<name>"`.
pub fn package_dirs(pkg: &Package, source: &SourceView<'_>) -> Vec<String> {
    let dir_of = |p: &str| {
        p.rsplit_once('/')
            .map(|(d, _)| d.to_string())
            .unwrap_or_default()
    };
    let named: Vec<String> = source
        .tree
        .find_named(&format!("{}.gemspec", pkg.name))
        .into_iter()
        .map(dir_of)
        .collect();
    if !named.is_empty() {
        return named;
    }
    let mut paths: Vec<&String> = source
        .tree
        .entries
        .keys()
        .filter(|p| p.ends_with(".gemspec"))
        .collect();
    paths.sort_by_key(|p| (p.matches('/').count(), p.to_string()));
    paths
        .into_iter()
        .filter(|p| {
            let text = source
                .read(p)
                .ok()
                .flatten()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            literal_name(&text).as_deref() == Some(pkg.name.as_str())
        })
        .map(|p| dir_of(p))
        .collect()
}

/// The gemspec of the package directory: `<name>.gemspec`, else the only `*.gemspec` there.
pub fn gemspec(pkg: &Package, source: &SourceView<'_>) -> Option<(String, String)> {
    let own = source.in_pkg(&format!("{}.gemspec", pkg.name));
    let path = if source.tree.get(&own).is_some() {
        own
    } else {
        let prefix = if source.pkg_dir.is_empty() {
            String::new()
        } else {
            format!("{}/", source.pkg_dir)
        };
        let mut here = source.tree.entries.keys().filter(|p| {
            p.ends_with(".gemspec")
                && p.strip_prefix(&prefix)
                    .is_some_and(|rest| !rest.contains('/'))
        });
        let first = here.next()?.clone();
        if here.next().is_some() {
            return None;
        }
        first
    };
    let bytes = source.read(&path).ok()??;
    Some((path, String::from_utf8_lossy(&bytes).into_owned()))
}

/// `s.name = "x"` (any receiver name), when literal.
pub fn literal_name(gemspec: &str) -> Option<String> {
    static RE: OnceLock<Regex> = OnceLock::new();
    re(&RE, r#"(?m)^\s*\w+\.name\s*=\s*["']([A-Za-z0-9._-]+)["']"#)
        .captures(gemspec)
        .map(|c| c[1].to_string())
}

/// `s.version = "1.0"`, when literal.
pub fn literal_version(gemspec: &str) -> Option<String> {
    static RE: OnceLock<Regex> = OnceLock::new();
    re(
        &RE,
        r#"(?m)^\s*\w+\.version\s*=\s*["']([0-9][0-9A-Za-z.]*)["']\s*(?:\.freeze)?\s*(?:#.*)?$"#,
    )
    .captures(gemspec)
    .map(|c| c[1].to_string())
}

/// `VERSION = "1.0"` in a Ruby file (the usual `lib/<name>/version.rb`).
pub fn version_constant(ruby: &str) -> Option<String> {
    constant(ruby, "VERSION")
}

/// `<NAME> = "1.0"` in a Ruby file, when it is assigned exactly one literal.
pub fn constant(ruby: &str, name: &str) -> Option<String> {
    let assign = Regex::new(&format!(r"(?m)^\s*{name}\s*=[^=]")).ok()?;
    let literal = Regex::new(&format!(
        r#"(?m)^\s*{name}\s*=\s*["']([0-9][0-9A-Za-z.]*)["']\s*(?:\.freeze)?\s*(?:#.*)?$"#
    ))
    .ok()?;
    let assignments = assign.find_iter(ruby).count();
    let literals: Vec<String> = literal
        .captures_iter(ruby)
        .map(|c| c[1].to_string())
        .collect();
    // Any assignment that is not a plain literal, or two different literals: computed.
    let found: BTreeSet<&String> = literals.iter().collect();
    (literals.len() == assignments && found.len() == 1)
        .then(|| found.into_iter().next().expect("one").clone())
}

/// The constant `s.version = Foo::RELEASE` names (`RELEASE`); `VERSION` by default.
fn version_constant_name(gemspec: &str) -> String {
    static RE: OnceLock<Regex> = OnceLock::new();
    re(
        &RE,
        r"(?m)^\s*\w+\.version\s*=\s*(?:::)?(?:[A-Z]\w*::)*([A-Z][A-Z0-9_]*)\b",
    )
    .captures(gemspec)
    .map(|c| c[1].to_string())
    .unwrap_or_else(|| "VERSION".into())
}

/// The version the source declares at `source.pkg_dir`, where static.
pub fn declared_version(pkg: &Package, source: &SourceView<'_>, gemspec: &str) -> Option<String> {
    if let Some(v) = literal_version(gemspec) {
        return Some(v);
    }
    // `s.version = File.read("VERSION").strip` and friends.
    if gemspec.contains("VERSION\"") || gemspec.contains("VERSION'") {
        if let Ok(Some(text)) = source.read_pkg_text("VERSION") {
            let v = text.trim();
            if !v.is_empty() && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '.') {
                return Some(v.to_string());
            }
        }
    }
    // `s.version = Foo::VERSION`: the constant in `lib/**/version.rb`, the one named after the
    // gem first (`lib/foo/bar/version.rb` for `foo-bar`).
    let lib = join(&source.pkg_dir, "lib/");
    let mut files: Vec<&String> = source
        .tree
        .entries
        .keys()
        .filter(|p| p.starts_with(&lib) && p.ends_with("version.rb"))
        .collect();
    let own = join(&lib, &format!("{}/version.rb", pkg.name.replace('-', "/")));
    let own_flat = join(&lib, &format!("{}/version.rb", pkg.name));
    files.sort_by_key(|p| {
        (
            **p != own && **p != own_flat,
            p.matches('/').count(),
            p.to_string(),
        )
    });
    let name = version_constant_name(gemspec);
    let versions: Vec<(bool, String)> = files
        .iter()
        .filter_map(|p| {
            let text = String::from_utf8_lossy(&source.read(p).ok()??).into_owned();
            Some((**p == own || **p == own_flat, constant(&text, &name)?))
        })
        .collect();
    if let Some((true, v)) = versions.first() {
        return Some(v.clone());
    }
    let distinct: BTreeSet<&String> = versions.iter().map(|(_, v)| v).collect();
    (distinct.len() == 1).then(|| distinct.into_iter().next().expect("one").clone())
}

/// Name and version the gemspec at `source.pkg_dir` declares.
pub fn identity(pkg: &Package, source: &SourceView<'_>) -> Option<(String, Option<String>)> {
    let (path, text) = gemspec(pkg, source)?;
    let file_name = path.rsplit('/').next().unwrap_or(&path);
    let name =
        literal_name(&text).unwrap_or_else(|| file_name.trim_end_matches(".gemspec").to_string());
    let version = declared_version(pkg, source, &text);
    Some((name, version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals() {
        let g = "Gem::Specification.new do |spec|\n  spec.name    = \"demo-x\"\n  spec.version = '1.2.0.rc1'.freeze\nend\n";
        assert_eq!(literal_name(g).as_deref(), Some("demo-x"));
        assert_eq!(literal_version(g).as_deref(), Some("1.2.0.rc1"));
        assert_eq!(literal_version("s.version = Demo::VERSION"), None);
        assert_eq!(
            version_constant("module Demo\n  VERSION = \"3.1.8\"\nend\n").as_deref(),
            Some("3.1.8")
        );
        assert_eq!(
            version_constant("VERSION = \"1\" if a\nVERSION = \"2\"\n"),
            None
        );
        assert_eq!(version_constant("VERSION = \"1\"\nVERSION = \"2\"\n"), None);
        // rack: `s.version = Rack::RELEASE`, and an unrelated computed VERSION.
        let rack = "module Rack\n  VERSION = [1, 3]\n  RELEASE = \"2.2.9\"\nend\n";
        assert_eq!(
            version_constant_name("  s.version = Rack::RELEASE\n"),
            "RELEASE"
        );
        assert_eq!(constant(rack, "RELEASE").as_deref(), Some("2.2.9"));
        assert_eq!(version_constant(rack), None);
        assert_eq!(version_constant_name("s.version = '1.0'"), "VERSION");
    }
}

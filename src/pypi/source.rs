//! Finding a Python project in its repository, statically: the directory whose
//! `pyproject.toml` `[project] name`, `setup.cfg` `[metadata] name` or `setup.py` `name=`
//! literal is the project (PEP 503 comparison), and the version it declares there — `None`
//! when the version is computed at build time (setuptools-scm, hatch-vcs, `attr:` in a
//! module that is not a plain literal). Also maps files hatch `force-include`s from elsewhere
//! in the repository back to where they live.

use super::normalize_name;
use super::pyconfig::{parse_ini, setup_py_value, PyValue};
use crate::ecosystem::Package;
use crate::source::{join, normalize, SourceView};

/// A project directory's build files, read once.
#[derive(Debug, Default)]
pub struct ProjectFiles {
    pub pyproject: Option<toml::Table>,
    pub setup_cfg: Option<super::pyconfig::Ini>,
    pub setup_py: Option<String>,
}

impl ProjectFiles {
    pub fn read(source: &SourceView<'_>, dir: &str) -> ProjectFiles {
        let text = |name: &str| {
            source
                .read(&join(dir, name))
                .ok()
                .flatten()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
        };
        ProjectFiles {
            pyproject: text("pyproject.toml").and_then(|t| t.parse::<toml::Table>().ok()),
            setup_cfg: text("setup.cfg").map(|t| parse_ini(&t)),
            setup_py: text("setup.py"),
        }
    }

    /// `[project]` of pyproject.toml.
    pub fn project(&self) -> Option<&toml::Table> {
        self.pyproject.as_ref()?.get("project")?.as_table()
    }

    /// Is `field` listed in `[project] dynamic`?
    pub fn is_dynamic(&self, field: &str) -> bool {
        self.project()
            .and_then(|p| p.get("dynamic"))
            .and_then(|d| d.as_array())
            .is_some_and(|d| d.iter().any(|v| v.as_str() == Some(field)))
    }

    pub fn tool(&self, path: &[&str]) -> Option<&toml::Value> {
        let mut v = self.pyproject.as_ref()?.get("tool")?;
        for p in path {
            v = v.get(p)?;
        }
        Some(v)
    }

    pub fn cfg(&self, section: &str, key: &str) -> Option<&str> {
        self.setup_cfg
            .as_ref()?
            .get(section)?
            .get(key)
            .map(String::as_str)
    }

    /// The project name, where written literally.
    pub fn name(&self) -> Option<String> {
        if let Some(n) = self
            .project()
            .and_then(|p| p.get("name"))
            .and_then(|n| n.as_str())
        {
            return Some(n.to_string());
        }
        if let Some(n) = self.tool(&["poetry", "name"]).and_then(|n| n.as_str()) {
            return Some(n.to_string());
        }
        if let Some(n) = self.cfg("metadata", "name").filter(|n| !n.is_empty()) {
            return Some(n.to_string());
        }
        match self
            .setup_py
            .as_deref()
            .and_then(|s| setup_py_value(s, "name"))
        {
            Some(PyValue::Str(n)) => Some(n),
            _ => None,
        }
    }

    /// The version, where static: `Some(None)` when declared dynamic or computed.
    pub fn version(&self, source: &SourceView<'_>, dir: &str) -> Option<String> {
        if let Some(v) = self
            .project()
            .and_then(|p| p.get("version"))
            .and_then(|v| v.as_str())
        {
            return Some(v.to_string());
        }
        if let Some(v) = self.tool(&["poetry", "version"]).and_then(|v| v.as_str()) {
            if self.project().is_none() {
                return Some(v.to_string());
            }
        }
        if let Some(v) = self.cfg("metadata", "version") {
            if let Some(attr) = v.strip_prefix("attr:") {
                return attr_version(source, dir, attr.trim());
            }
            if !v.starts_with("file:") && !v.is_empty() {
                return Some(v.to_string());
            }
            return None;
        }
        if let Some(PyValue::Str(v)) = self
            .setup_py
            .as_deref()
            .and_then(|s| setup_py_value(s, "version"))
        {
            return Some(v);
        }
        if let Some(path) = self
            .tool(&["hatch", "version", "path"])
            .and_then(|p| p.as_str())
        {
            return version_literal(&read_text(source, &join(dir, path))?);
        }
        None
    }
}

fn read_text(source: &SourceView<'_>, path: &str) -> Option<String> {
    let b = source.read(path).ok()??;
    Some(String::from_utf8_lossy(&b).into_owned())
}

/// `version = attr: pkg.__version__` → the literal in `pkg/__init__.py` (or `src/pkg/...`).
fn attr_version(source: &SourceView<'_>, dir: &str, attr: &str) -> Option<String> {
    let (module, _) = attr.rsplit_once('.')?;
    let rel = module.replace('.', "/");
    for cand in [
        format!("{rel}.py"),
        format!("{rel}/__init__.py"),
        format!("src/{rel}.py"),
        format!("src/{rel}/__init__.py"),
    ] {
        if let Some(t) = read_text(source, &join(dir, &cand)) {
            return version_literal(&t);
        }
    }
    None
}

/// `__version__ = "1.2.3"` (also `VERSION`, `version`) as a plain literal.
pub fn version_literal(text: &str) -> Option<String> {
    let re = regex::Regex::new(
        r#"(?m)^(?:__version__|VERSION|version)\s*(?::\s*str\s*)?=\s*['"]([^'"\n]+)['"]\s*(?:#.*)?$"#,
    )
    .expect("regex");
    re.captures(text).map(|c| c[1].to_string())
}

/// Name and version the project at `source.pkg_dir` declares. Without a static version in the
/// build files, a `__version__` literal in the package's `__init__.py`/`_version.py`/
/// `version.py` counts.
pub fn identity(source: &SourceView<'_>) -> Option<(String, Option<String>)> {
    let dir = source.pkg_dir.as_str();
    let files = ProjectFiles::read(source, dir);
    let name = files.name()?;
    let mut version = files.version(source, dir);
    let dynamic = files.is_dynamic("version");
    if version.is_none() && !dynamic {
        let module = name.replace(['-', '.'], "_").to_ascii_lowercase();
        'found: for base in [module.clone(), format!("src/{module}")] {
            for f in ["__init__.py", "_version.py", "version.py", "__about__.py"] {
                if let Some(v) = read_text(source, &join(dir, &format!("{base}/{f}")))
                    .and_then(|t| version_literal(&t))
                {
                    version = Some(v);
                    break 'found;
                }
            }
        }
    }
    Some((name, version))
}

/// Directories whose build files name this project, the root first, then shallowest.
pub fn package_dirs(pkg: &Package, source: &SourceView<'_>) -> Vec<String> {
    let want = normalize_name(&pkg.name);
    let mut dirs: Vec<String> = Vec::new();
    let mut cands: Vec<&str> = Vec::new();
    for f in ["pyproject.toml", "setup.cfg", "setup.py"] {
        cands.extend(source.tree.find_named(f));
    }
    cands.sort_by_key(|p| (p.matches('/').count(), p.to_string()));
    for path in cands {
        let dir = path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
        if dirs.iter().any(|d| d == dir) {
            continue;
        }
        let files = ProjectFiles::read(source, dir);
        if files.name().is_some_and(|n| normalize_name(&n) == want) {
            dirs.push(dir.to_string());
        }
    }
    dirs
}

/// Where an sdist file comes from when hatch copied it from elsewhere:
/// `[tool.hatch.build.targets.sdist.force-include]` (or `[tool.hatch.build.force-include]`)
/// maps a source path (relative to the project, may climb with `..`) to a path in the sdist.
pub fn source_path(source: &SourceView<'_>, path: &str) -> Option<String> {
    let files = ProjectFiles::read(source, &source.pkg_dir);
    for table in [
        files.tool(&["hatch", "build", "targets", "sdist", "force-include"]),
        files.tool(&["hatch", "build", "force-include"]),
    ] {
        let Some(t) = table.and_then(|t| t.as_table()) else {
            continue;
        };
        for (from, to) in t {
            let Some(to) = to.as_str() else { continue };
            let to = to.trim_matches('/');
            let rest = if path == to {
                Some("")
            } else {
                path.strip_prefix(&format!("{to}/"))
            };
            if let Some(rest) = rest {
                let src = normalize(&join(&join(&source.pkg_dir, from), rest))?;
                return Some(src);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_literals() {
        assert_eq!(
            version_literal("__version__ = '1.2'\n").as_deref(),
            Some("1.2")
        );
        assert_eq!(
            version_literal("x = 1\n__version__: str = \"2026.07.22\"  # pinned\n").as_deref(),
            Some("2026.07.22")
        );
        assert_eq!(version_literal("__version__ = get_version()\n"), None);
    }
}

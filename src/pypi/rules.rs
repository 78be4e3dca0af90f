//! What Python build backends write into an sdist, each a named rule with its reason. Every rule
//! is narrow: it names the file, checks the build configuration at the tagged commit declares
//! the generator where one must, and checks the content has the generator's shape. `.pyc`
//! files, archives and anything else stay findings.

use super::pyconfig::{
    code_only, lex_python, normalised_ini, parse_ini, setup_py_value, Piece, PyValue,
};
use super::same_version;
use super::source::ProjectFiles;
use crate::archive::git_blob_id;
use crate::compare::{FileCx, Outcome, Rule, Status};
use crate::git::GitError;

pub fn rules() -> Vec<Box<dyn Rule>> {
    vec![
        Box::new(PkgInfo),
        Box::new(EggInfo),
        Box::new(ScmEggInfo),
        Box::new(SetupCfg),
        Box::new(VersionFile),
        Box::new(GeneratedSetupPy),
        Box::new(LicenseFromRepository),
        Box::new(LicenseFromPlugin),
    ]
}

fn missing_or_differs(s: &Status) -> bool {
    matches!(s, Status::Missing { .. } | Status::Differs { .. })
}

/// `PKG-INFO` at the sdist root: the core metadata the backend writes (its declarations are
/// checked separately against the source manifest).
pub struct PkgInfo;

impl Rule for PkgInfo {
    fn name(&self) -> &'static str {
        "pypi-pkg-info"
    }
    fn reason(&self) -> &'static str {
        "every build backend writes PKG-INFO (core metadata) at the sdist root"
    }
    fn judge(&self, cx: &FileCx<'_>) -> Result<Option<Outcome>, GitError> {
        Ok((cx.path == "PKG-INFO" && missing_or_differs(cx.status)).then_some(Outcome::Excused))
    }
}

/// What setuptools' `egg_info` command writes into `<name>.egg-info/`.
const EGG_INFO_FILES: [&str; 12] = [
    "PKG-INFO",
    "SOURCES.txt",
    "requires.txt",
    "entry_points.txt",
    "top_level.txt",
    "dependency_links.txt",
    "not-zip-safe",
    "zip-safe",
    "namespace_packages.txt",
    "eager_resources.txt",
    "native_libs.txt",
    "depends.txt",
];

/// The files setuptools generates in `*.egg-info/`; any other file there is not excused.
pub struct EggInfo;

impl Rule for EggInfo {
    fn name(&self) -> &'static str {
        "setuptools-egg-info"
    }
    fn reason(&self) -> &'static str {
        "setuptools writes <name>.egg-info/ (metadata, file list, requirements) into the sdist"
    }
    fn judge(&self, cx: &FileCx<'_>) -> Result<Option<Outcome>, GitError> {
        let mut parts = cx.path.rsplit('/');
        let (Some(file), Some(dir)) = (parts.next(), parts.next()) else {
            return Ok(None);
        };
        let generated = dir.ends_with(".egg-info") && EGG_INFO_FILES.contains(&file);
        Ok((generated && missing_or_differs(cx.status)).then_some(Outcome::Excused))
    }
}

/// What setuptools-scm (10.1 and later) adds to `<name>.egg-info/`.
const SCM_EGG_INFO_FILES: [&str; 2] = ["scm_version.json", "scm_file_list.json"];

/// setuptools-scm records the version it computed and the files it listed as JSON in the
/// egg-info. Excused only when the source declares setuptools-scm and the file is a JSON object
/// (data for tools, never imported or run).
pub struct ScmEggInfo;

impl Rule for ScmEggInfo {
    fn name(&self) -> &'static str {
        "setuptools-scm-egg-info"
    }
    fn reason(&self) -> &'static str {
        "setuptools-scm writes scm_version.json and scm_file_list.json into <name>.egg-info/"
    }
    fn judge(&self, cx: &FileCx<'_>) -> Result<Option<Outcome>, GitError> {
        let mut parts = cx.path.rsplit('/');
        let (Some(file), Some(dir)) = (parts.next(), parts.next()) else {
            return Ok(None);
        };
        if !dir.ends_with(".egg-info")
            || !SCM_EGG_INFO_FILES.contains(&file)
            || !matches!(cx.status, Status::Missing { .. })
        {
            return Ok(None);
        }
        let is_object = cx
            .data()
            .and_then(|d| serde_json::from_slice::<serde_json::Value>(d).ok())
            .is_some_and(|v| v.is_object());
        if !is_object {
            return Ok(None);
        }
        for config in ["pyproject.toml", "setup.cfg", "setup.py"] {
            if let Some(text) = cx.source.read_pkg_text(config)? {
                if text.contains("setuptools_scm") || text.contains("setuptools-scm") {
                    return Ok(Some(Outcome::Excused));
                }
            }
        }
        Ok(None)
    }
}

/// `setup.cfg`: setuptools appends an `[egg_info]` section (creating the file when the source
/// has none) and re-serialises it through configparser (comments dropped, keys and values
/// re-spaced). Compared as INI without `[egg_info]`; any other difference stays a finding.
pub struct SetupCfg;

impl Rule for SetupCfg {
    fn name(&self) -> &'static str {
        "setuptools-setup-cfg"
    }
    fn reason(&self) -> &'static str {
        "setuptools re-serialises setup.cfg with an [egg_info] section; compared as INI without it"
    }
    fn judge(&self, cx: &FileCx<'_>) -> Result<Option<Outcome>, GitError> {
        if cx.path != "setup.cfg" {
            return Ok(None);
        }
        let Some(data) = cx.data() else {
            return Ok(None);
        };
        let published = normalised_ini(&parse_ini(&String::from_utf8_lossy(data)), "egg_info");
        let source = match cx.status {
            Status::Missing { .. } => Default::default(),
            Status::Differs { source_oid, .. } => {
                let bytes = cx.source.blob(source_oid)?;
                normalised_ini(&parse_ini(&String::from_utf8_lossy(&bytes)), "egg_info")
            }
            _ => return Ok(None),
        };
        Ok((published == source).then_some(Outcome::Excused))
    }
}

/// Version files the build configuration at the commit declares (hatch-vcs
/// `[tool.hatch.build.hooks.vcs] version-file`, setuptools-scm `version_file`/`write_to`, also
/// `use_scm_version={"write_to": ...}` in `setup.py`).
pub fn declared_version_files(files: &ProjectFiles) -> Vec<String> {
    let mut out = Vec::new();
    let mut push = |v: Option<&toml::Value>| {
        if let Some(s) = v.and_then(|v| v.as_str()) {
            out.push(s.trim_start_matches("./").to_string());
        }
    };
    push(files.tool(&["hatch", "build", "hooks", "vcs", "version-file"]));
    push(files.tool(&["hatch", "build", "hooks", "vcs", "version_file"]));
    push(files.tool(&["setuptools_scm", "version_file"]));
    push(files.tool(&["setuptools_scm", "write_to"]));
    if let Some(PyValue::Dict(d)) = files
        .setup_py
        .as_deref()
        .and_then(|s| setup_py_value(s, "use_scm_version"))
    {
        for (k, v) in d {
            if k == "write_to" || k == "version_file" {
                out.extend(
                    v.into_iter()
                        .map(|s| s.trim_start_matches("./").to_string()),
                );
            }
        }
    }
    out
}

/// Does a generated version module carry `version` and nothing but assignments of literals?
/// (imports only from `typing`/`__future__`, no calls, no definitions).
pub fn is_version_module(text: &str, version: &str) -> bool {
    if text.len() > 8 * 1024 {
        return false;
    }
    let has_version = lex_python(text)
        .iter()
        .any(|p| matches!(p, Piece::Str(s) if same_version(s, version)));
    let call = regex::Regex::new(r"[A-Za-z_][A-Za-z0-9_]*\s*\(").expect("regex");
    let keyword =
        regex::Regex::new(r"\b(import|def|class|lambda|async|await|with|for|while|del|global)\b|@")
            .expect("regex");
    let allowed_import = regex::Regex::new(
        r"^\s*(from\s+(typing|__future__)\s+import\s+[A-Za-z_, ]+|import\s+typing)\s*$",
    )
    .expect("regex");
    let code = code_only(text);
    has_version
        && !call.is_match(&code)
        && code
            .lines()
            .all(|l| allowed_import.is_match(l) || !keyword.is_match(l))
}

/// A version file written at build time: excused only when declared and carrying the version.
pub struct VersionFile;

impl Rule for VersionFile {
    fn name(&self) -> &'static str {
        "build-version-file"
    }
    fn reason(&self) -> &'static str {
        "setuptools-scm / hatch-vcs write the version file the build configuration declares"
    }
    fn judge(&self, cx: &FileCx<'_>) -> Result<Option<Outcome>, GitError> {
        if !missing_or_differs(cx.status) {
            return Ok(None);
        }
        let Some(data) = cx.data() else {
            return Ok(None);
        };
        let files = ProjectFiles::read(cx.source, &cx.source.pkg_dir);
        // A wheel file is declared by where it maps to in the source (`src/foo/_version.py`).
        let looked_at = match cx.status {
            Status::Missing { looked_at } => looked_at.as_str(),
            Status::Differs { source_path, .. } => source_path.as_str(),
            _ => "",
        };
        if !declared_version_files(&files)
            .iter()
            .any(|f| f == cx.path || crate::source::join(&cx.source.pkg_dir, f) == looked_at)
        {
            return Ok(None);
        }
        let text = String::from_utf8_lossy(data);
        let ok = if cx.path.ends_with(".py") {
            is_version_module(&text, &cx.pkg.version)
        } else {
            text.len() < 256 && same_version(text.trim(), &cx.pkg.version)
        };
        Ok(ok.then_some(Outcome::Excused))
    }
}

/// The build backend named by `[build-system] build-backend`.
fn backend(files: &ProjectFiles) -> &str {
    files
        .pyproject
        .as_ref()
        .and_then(|p| p.get("build-system"))
        .and_then(|b| b.get("build-backend"))
        .and_then(|b| b.as_str())
        .unwrap_or("")
}

/// Is this a `setup.py` that only imports `setup` and calls it with literal data?
pub fn is_plain_setup_call(text: &str) -> bool {
    let code = code_only(text);
    let call = regex::Regex::new(r"([A-Za-z_][A-Za-z0-9_.]*)\s*\(").expect("regex");
    let import = regex::Regex::new(r"\bimport\b").expect("regex");
    let allowed_import =
        regex::Regex::new(r"^\s*from\s+(distutils\.core|setuptools)\s+import\s+setup\s*$")
            .expect("regex");
    let keyword = regex::Regex::new(r"\b(def|class|lambda|exec|eval|open|with|for|while)\b|@")
        .expect("regex");
    call.captures_iter(&code).all(|c| &c[1] == "setup")
        && code.contains("setup(")
        && code
            .lines()
            .all(|l| allowed_import.is_match(l) || !(import.is_match(l) || keyword.is_match(l)))
}

/// `setup.py` written by `flit build --setup-py` or poetry-core: only when the project's build
/// backend is that tool, and the file only calls `setup()` with literal data.
pub struct GeneratedSetupPy;

impl Rule for GeneratedSetupPy {
    fn name(&self) -> &'static str {
        "generated-setup-py"
    }
    fn reason(&self) -> &'static str {
        "flit (build --setup-py) and poetry-core write a setup.py that only calls setup() with the pyproject's metadata"
    }
    fn judge(&self, cx: &FileCx<'_>) -> Result<Option<Outcome>, GitError> {
        if cx.path != "setup.py" || !matches!(cx.status, Status::Missing { .. }) {
            return Ok(None);
        }
        let Some(data) = cx.data() else {
            return Ok(None);
        };
        let text = String::from_utf8_lossy(data);
        let files = ProjectFiles::read(cx.source, &cx.source.pkg_dir);
        let be = backend(&files);
        let flit = (be.starts_with("flit_core")
            || be.starts_with("flit.")
            || files.tool(&["flit"]).is_some())
            && text
                .lines()
                .take(3)
                .any(|l| l.starts_with("# setup.py generated by flit"));
        let poetry = be.starts_with("poetry.core") || be.starts_with("poetry.masonry");
        Ok(((flit || poetry) && is_plain_setup_call(&text)).then_some(Outcome::Excused))
    }
}

/// License-like file names (`LICENSE`, `LICENCE.txt`, `COPYING`, `NOTICE`, `AUTHORS`).
pub fn is_license_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    let stem = upper.split('.').next().unwrap_or("");
    ["LICENSE", "LICENCE", "COPYING", "NOTICE", "AUTHORS"]
        .iter()
        .any(|p| {
            stem == *p || stem.starts_with(&format!("{p}-")) || stem.starts_with(&format!("{p}_"))
        })
}

/// A license file at the sdist root that the project directory lacks, byte-identical to a
/// license file in a directory above it: monorepo build configuration and plugins (hatch
/// `force-include`, custom build hooks) copy the repository's license into each package.
pub struct LicenseFromRepository;

impl Rule for LicenseFromRepository {
    fn name(&self) -> &'static str {
        "license-from-repository"
    }
    fn reason(&self) -> &'static str {
        "a build plugin copied the repository's license file (byte-identical) into the package root"
    }
    fn judge(&self, cx: &FileCx<'_>) -> Result<Option<Outcome>, GitError> {
        if cx.path.contains('/') || !is_license_name(cx.path) || cx.source.pkg_dir.is_empty() {
            return Ok(None);
        }
        let (Status::Missing { .. }, Some(data)) = (cx.status, cx.data()) else {
            return Ok(None);
        };
        let oid = git_blob_id(data);
        let pkg_dir = &cx.source.pkg_dir;
        let found = cx.source.tree.entries.iter().any(|(p, e)| {
            let (dir, name) = p.rsplit_once('/').unwrap_or(("", p));
            e.oid == oid
                && is_license_name(name)
                && (dir.is_empty() || pkg_dir.starts_with(&format!("{dir}/")))
        });
        Ok(found.then_some(Outcome::Excused))
    }
}

/// Build plugins known to write the license text from the SPDX `License-Expression` into the
/// sdist (the repository keeps no LICENSE file at all).
const LICENSE_PLUGINS: [&str; 1] = ["coherent.licensed"];

/// A root license file missing from the source, written by a license plugin the source's
/// `[build-system] requires` declares, for a PKG-INFO that carries a `License-Expression`.
/// Only plain text is excused: the file is never imported or run.
pub struct LicenseFromPlugin;

impl Rule for LicenseFromPlugin {
    fn name(&self) -> &'static str {
        "license-from-build-plugin"
    }
    fn reason(&self) -> &'static str {
        "a license plugin the build system declares (coherent.licensed) writes LICENSE from the SPDX expression"
    }
    fn judge(&self, cx: &FileCx<'_>) -> Result<Option<Outcome>, GitError> {
        if cx.path.contains('/') || !is_license_name(cx.path) {
            return Ok(None);
        }
        let (Status::Missing { .. }, Some(data)) = (cx.status, cx.data()) else {
            return Ok(None);
        };
        let text_ok = data.len() <= 64 * 1024
            && !data.contains(&0)
            && std::str::from_utf8(data).is_ok_and(|t| {
                let l = t.to_ascii_lowercase();
                l.contains("license") || l.contains("copyright") || l.contains("permission")
            });
        let expression = cx
            .files()
            .text("PKG-INFO")
            .is_some_and(|t| t.lines().any(|l| l.starts_with("License-Expression:")));
        if !text_ok || !expression {
            return Ok(None);
        }
        let Some(pyproject) = cx.source.read_pkg_text("pyproject.toml")? else {
            return Ok(None);
        };
        let requires: Vec<String> = pyproject
            .parse::<toml::Table>()
            .ok()
            .and_then(|t| t.get("build-system")?.get("requires")?.as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|v| v.as_str().map(str::to_ascii_lowercase))
            .collect();
        let declared = requires.iter().any(|r| {
            LICENSE_PLUGINS.iter().any(|p| {
                r.strip_prefix(p).is_some_and(|rest| {
                    rest.is_empty()
                        || !rest.starts_with(|c: char| {
                            c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_'
                        })
                })
            })
        });
        Ok(declared.then_some(Outcome::Excused))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCM: &str = r#"# file generated by setuptools-scm
# don't change, don't track in version control

__all__ = ["__version__", "__version_tuple__", "version", "version_tuple"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Tuple
    from typing import Union

    VERSION_TUPLE = Tuple[Union[int, str], ...]
else:
    VERSION_TUPLE = object

version: str
__version__: str
__version_tuple__: VERSION_TUPLE
version_tuple: VERSION_TUPLE

__version__ = version = '1.2.3'
__version_tuple__ = version_tuple = (1, 2, 3)
"#;

    #[test]
    fn version_module_shape() {
        assert!(is_version_module(SCM, "1.2.3"));
        assert!(!is_version_module(SCM, "1.2.4"));
        let evil = format!("{SCM}\nimport os\nos.system('curl x | sh')\n");
        assert!(!is_version_module(&evil, "1.2.3"));
        assert!(!is_version_module(
            &format!("{SCM}\n__import__('os')\n"),
            "1.2.3"
        ));
    }

    #[test]
    fn flit_setup_py_shape() {
        let flit = "#!/usr/bin/env python\n# setup.py generated by flit for tools that don't yet use PEP 517\n\n\
            from distutils.core import setup\n\npackages = \\\n['foo']\n\npackage_data = \\\n{'': ['*']}\n\n\
            install_requires = \\\n['requests (>=2)']\n\n\
            setup(name='foo',\n      version='1.0',\n      description='Foo (the (best))',\n      packages=packages,\n     )\n";
        assert!(is_plain_setup_call(flit));
        assert!(!is_plain_setup_call(&flit.replace(
            "packages = \\",
            "import os\nos.system('x')\npackages = \\"
        )));
        assert!(!is_plain_setup_call(
            "from setuptools import setup\nfrom build import *\nbuild(kw)\nsetup(**kw)\n"
        ));
        assert!(is_plain_setup_call("# -*- coding: utf-8 -*-\nfrom setuptools import setup\n\nsetup_kwargs = {'name': 'x'}\n\nsetup(**setup_kwargs)\n"));
    }

    #[test]
    fn declared_version_files_from_each_tool() {
        let files = ProjectFiles {
            pyproject: Some(
                "[tool.hatch.build.hooks.vcs]\nversion-file = \"src/foo/_version.py\"\n[tool.setuptools_scm]\nwrite_to = \"./foo/v.py\"\n"
                    .parse()
                    .unwrap(),
            ),
            setup_cfg: None,
            setup_py: Some("setup(use_scm_version={'write_to': 'bar/_v.py'})".into()),
        };
        assert_eq!(
            declared_version_files(&files),
            ["src/foo/_version.py", "foo/v.py", "bar/_v.py"]
        );
    }

    #[test]
    fn setup_cfg_reserialised_by_setuptools_compares_equal_but_a_change_does_not() {
        let source = "# comment\n[metadata]\nName=foo\nproject_urls =\n    Source = https://x/y\n\n[options]\ninstall_requires =\n    requests\n\n    click\n";
        let written = "[metadata]\nname = foo\nproject_urls = \n\tSource = https://x/y\n\n[options]\ninstall_requires = \n\trequests\n\t\n\tclick\n\n[egg_info]\ntag_build = \ntag_date = 0\n\n";
        let n = |t: &str| normalised_ini(&parse_ini(t), "egg_info");
        assert_eq!(n(source), n(written));
        assert_ne!(n(source), n(&written.replace("click", "click\n\tevil")));
        assert!(n("[egg_info]\ntag_build = \ntag_date = 0\n").is_empty());
    }

    #[test]
    fn license_names() {
        for n in [
            "LICENSE",
            "LICENSE.txt",
            "COPYING",
            "LICENCE-MIT",
            "license.md",
            "NOTICE",
        ] {
            assert!(is_license_name(n), "{n}");
        }
        for n in ["setup.py", "LICENSES.py", "lic.txt"] {
            assert!(!is_license_name(n), "{n}");
        }
    }
}

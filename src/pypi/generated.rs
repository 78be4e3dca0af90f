//! Files that build tools write into an sdist from something else that is committed: what
//! setuptools plugins' `egg_info` writers add to `<name>.egg-info/`, and source files a code
//! generator (Cython, SWIG, protoc) writes from a committed input. Writer output is metadata
//! nobody imports: excused by name and shape. Generated code is compiled or run, and diff mode
//! cannot regenerate it, so it is `not-comparable` (naming the generator and its input), never
//! excused, and only when that input is in the source at the commit. Rebuild mode asks the
//! same question ([`generated_by`]) and regenerates Cython output with the Cython its header
//! names (`cython.rs`).

use super::pyconfig::{parse_ini, setup_py_value, PyValue};
use super::source::ProjectFiles;
use crate::archive::Files;
use crate::compare::{FileCx, Outcome, Rule, Status};
use crate::finding::{Code, Finding};
use crate::git::GitError;

pub fn rules() -> Vec<Box<dyn Rule>> {
    vec![
        Box::new(EggInfoPlugin),
        Box::new(PbrGenerated),
        Box::new(GeneratedCode),
    ]
}

fn missing_or_differs(s: &Status) -> bool {
    matches!(s, Status::Missing { .. } | Status::Differs { .. })
}

/// `<dir>.egg-info/<file>` with `dir` one of the sdist's egg-info directories, or a wheel's
/// `.dist-info/` (bdist_wheel copies the egg-info writers' files there).
fn egg_info_file(path: &str) -> Option<&str> {
    let (dir, file) = path.rsplit_once('/')?;
    let last = dir.rsplit('/').next().unwrap_or(dir);
    ((last.ends_with(".egg-info") || last.ends_with(".dist-info")) && !file.is_empty())
        .then_some(file)
}

/// Short metadata text: what `egg_info` writers produce (never code, never binary).
fn small_text(data: &[u8]) -> bool {
    data.len() <= 64 * 1024 && !data.contains(&0) && std::str::from_utf8(data).is_ok()
}

/// Writers third-party setuptools plugins register under `egg_info.writers`, with the shape
/// their output must have. setuptools runs the writers of every installed distribution, so
/// these appear in sdists of projects that never use the plugin (and a stale copy survives
/// in a long-lived egg-info directory).
const PLUGIN_WRITERS: [(&str, &str); 2] = [
    // pbr's `write_pbr_json`: `{"git_version": "<short sha>", "is_release": <bool>}`.
    ("pbr.json", "pbr"),
    // PasteScript's `write_arg` of the `paster_plugins` keyword: one plugin name per line.
    ("paster_plugins.txt", "PasteScript"),
];

/// pbr's record: a JSON object holding only `git_version` (hex) and `is_release` (bool).
pub fn is_pbr_json(data: &[u8]) -> bool {
    let Ok(serde_json::Value::Object(o)) = serde_json::from_slice::<serde_json::Value>(data) else {
        return false;
    };
    o.iter().all(|(k, v)| match k.as_str() {
        "git_version" => v.as_str().is_some_and(|s| {
            (4..=40).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit())
        }),
        "is_release" => v.is_boolean(),
        _ => false,
    })
}

fn plugin_shape(file: &str, data: &[u8]) -> Option<&'static str> {
    let (_, plugin) = PLUGIN_WRITERS.iter().find(|(f, _)| *f == file)?;
    let ok = match file {
        "pbr.json" => is_pbr_json(data),
        _ => std::str::from_utf8(data).is_ok_and(|t| {
            t.lines().all(|l| {
                l.trim()
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
            })
        }),
    };
    ok.then_some(plugin)
}

/// File names the project's own `egg_info.writers` entry points declare (setup.py
/// `entry_points={"egg_info.writers": [...]}` or the setup.cfg `[options.entry_points]`).
fn declared_writers(setup_py: Option<&str>, setup_cfg: Option<&str>) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    if let Some(py) = setup_py {
        match setup_py_value(py, "entry_points") {
            Some(PyValue::Dict(d)) => {
                for (k, v) in d {
                    if k == "egg_info.writers" {
                        lines.extend(v);
                    }
                }
            }
            Some(PyValue::Str(s)) => {
                let mut on = false;
                for l in s.lines().map(str::trim) {
                    if l.starts_with('[') {
                        on = l == "[egg_info.writers]";
                    } else if on {
                        lines.push(l.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    if let Some(cfg) = setup_cfg.map(parse_ini) {
        if let Some(v) = cfg
            .get("options.entry_points")
            .and_then(|s| s.get("egg_info.writers"))
        {
            lines.extend(v.lines().map(str::to_string));
        }
    }
    lines
        .iter()
        .filter_map(|l| l.split_once('='))
        .map(|(name, _)| name.trim().to_string())
        .filter(|n| !n.is_empty() && !n.contains('/'))
        .collect()
}

/// A file in `*.egg-info/` that a setuptools plugin's `egg_info` writer (pbr, PasteScript)
/// or the project's own declared writer produced.
pub struct EggInfoPlugin;

impl Rule for EggInfoPlugin {
    fn name(&self) -> &'static str {
        "egg-info-plugin-writer"
    }
    fn reason(&self) -> &'static str {
        "a setuptools egg_info writer (pbr's pbr.json, PasteScript's paster_plugins.txt, or one the project declares) wrote this metadata into <name>.egg-info/ (a wheel's .dist-info/)"
    }
    fn judge(&self, cx: &FileCx<'_>) -> Result<Option<Outcome>, GitError> {
        let (Some(file), Some(data)) = (egg_info_file(cx.path), cx.data()) else {
            return Ok(None);
        };
        if !missing_or_differs(cx.status) || !small_text(data) {
            return Ok(None);
        }
        if let Some(plugin) = plugin_shape(file, data) {
            tracing::debug!(path = cx.path, plugin, "egg-info plugin writer output");
            return Ok(Some(Outcome::Excused));
        }
        let py = cx.source.read_pkg_text("setup.py")?;
        let cfg = cx.source.read_pkg_text("setup.cfg")?;
        let declared = declared_writers(py.as_deref(), cfg.as_deref());
        Ok(declared
            .iter()
            .any(|n| n == file)
            .then_some(Outcome::Excused))
    }
}

/// Whether the project builds with pbr: `setup(pbr=True)` or a `pbr` import in setup.py (pbr
/// itself, older projects), a `[pbr]` section in setup.cfg, or pbr as pyproject.toml's build
/// backend or in its `[build-system] requires`.
pub fn builds_with_pbr(files: &ProjectFiles) -> bool {
    if let Some(py) = &files.setup_py {
        let code = super::pyconfig::code_only(py);
        let re = regex::Regex::new(
            r"(?:^|[^A-Za-z0-9_.])pbr\s*=\s*True|(?m)^\s*(?:from\s+pbr[\s.]|import\s+pbr\b)",
        )
        .expect("regex");
        if re.is_match(&code) {
            return true;
        }
    }
    if files
        .setup_cfg
        .as_ref()
        .is_some_and(|c| c.contains_key("pbr"))
    {
        return true;
    }
    let system = files.pyproject.as_ref().and_then(|t| t.get("build-system"));
    let backend = system
        .and_then(|b| b.get("build-backend"))
        .and_then(|b| b.as_str())
        .is_some_and(|b| b == "pbr" || b.starts_with("pbr."));
    let requires = system
        .and_then(|b| b.get("requires"))
        .and_then(|r| r.as_array())
        .is_some_and(|r| {
            r.iter().filter_map(|r| r.as_str()).any(|r| {
                let name = r.trim().to_ascii_lowercase();
                name == "pbr"
                    || name
                        .strip_prefix("pbr")
                        .is_some_and(|rest| rest.starts_with(|c: char| "<>=!~ ;[".contains(c)))
            })
        });
    backend || requires
}

/// pbr's `ChangeLog` (from `git log`): a `CHANGES` title, then version sections of bullets.
fn is_pbr_changelog(text: &str) -> bool {
    let mut lines = text.lines();
    lines.next() == Some("CHANGES")
        && lines.next() == Some("=======")
        && lines.all(|l| {
            l.is_empty()
                || l.starts_with("* ")
                || l.starts_with("  ")
                || l.chars().all(|c| c == '-')
                || !l.contains(char::is_whitespace)
        })
}

/// pbr's `AUTHORS` (from `git log`): one `Name <email>` per line.
fn is_pbr_authors(text: &str) -> bool {
    text.lines().filter(|l| !l.trim().is_empty()).all(|l| {
        l.trim_end().ends_with('>') && l.contains(" <") || !l.contains(['(', ')', ';', '='])
    })
}

/// `AUTHORS` and `ChangeLog` at the package root of a project that builds with pbr: pbr
/// writes them from the git history into every sdist (the repository does not keep them).
pub struct PbrGenerated;

impl Rule for PbrGenerated {
    fn name(&self) -> &'static str {
        "pbr-generated"
    }
    fn reason(&self) -> &'static str {
        "pbr writes AUTHORS and ChangeLog from the git history into the sdist of a project that builds with pbr"
    }
    fn judge(&self, cx: &FileCx<'_>) -> Result<Option<Outcome>, GitError> {
        if !matches!(cx.path, "AUTHORS" | "ChangeLog")
            || !matches!(cx.status, Status::Missing { .. })
        {
            return Ok(None);
        }
        let Some(text) = cx
            .data()
            .filter(|d| d.len() <= 4 << 20 && !d.contains(&0))
            .and_then(|d| std::str::from_utf8(d).ok())
        else {
            return Ok(None);
        };
        let shaped = if cx.path == "ChangeLog" {
            is_pbr_changelog(text)
        } else {
            is_pbr_authors(text)
        };
        let files = ProjectFiles::read(cx.source, &cx.source.pkg_dir);
        Ok((shaped && builds_with_pbr(&files)).then_some(Outcome::Excused))
    }
}

/// A code generator recognised by the header it writes, and the committed input it reads.
struct Generator {
    name: &'static str,
    /// File name suffixes of its output.
    outputs: &'static [&'static str],
    /// Text its output carries in the first lines (any of them).
    markers: &'static [&'static str],
}

const GENERATORS: [Generator; 4] = [
    Generator {
        name: "Cython",
        outputs: &[".c", ".cpp"],
        markers: &["Generated by Cython "],
    },
    Generator {
        name: "SWIG",
        outputs: &["_wrap.c", "_wrap.cxx", "_wrap.cpp", ".py"],
        markers: &["This file was automatically generated by SWIG"],
    },
    Generator {
        name: "protoc",
        outputs: &["_pb2.py", "_pb2_grpc.py", "_pb2.pyi"],
        markers: &["Generated by the protocol buffer compiler."],
    },
    // PLY's lexer and parser tables, written when the grammar module first runs (pycparser
    // builds them in setup.py).
    Generator {
        name: "PLY",
        outputs: &["lextab.py", "yacctab.py", "parsetab.py"],
        markers: &[
            "automatically created by PLY",
            "This file is automatically generated. Do not edit.",
        ],
    },
];

/// The generator (with the version its header names, when it names one) of `path`.
fn generator_of<'g>(path: &str, head: &str) -> Option<(&'g Generator, Option<String>)> {
    let (g, marker) = GENERATORS.iter().find_map(|g| {
        let named = g.outputs.iter().any(|s| path.ends_with(s));
        let marker = g.markers.iter().find(|m| head.contains(*m))?;
        named.then_some((g, *marker))
    })?;
    let version = head.split(marker).nth(1).and_then(|rest| {
        let v: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '.')
            .collect();
        (!v.is_empty() && v.starts_with(|c: char| c.is_ascii_digit())).then_some(v)
    });
    Some((g, version))
}

/// Inputs the generator may have read for `path` (paths relative to the package directory),
/// best first: what the output itself names, then the sibling with the input's extension.
fn candidate_inputs(g: &Generator, path: &str, head: &str, files: &Files) -> Vec<String> {
    let mut out = Vec::new();
    let dir = path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
    let join = |f: &str| {
        if dir.is_empty() {
            f.to_string()
        } else {
            format!("{dir}/{f}")
        }
    };
    let file = path.rsplit('/').next().unwrap_or(path);
    match g.name {
        "Cython" => {
            // Cython's metadata block lists the sources relative to the setup.py directory.
            if let Some(block) = head
                .split("BEGIN: Cython Metadata")
                .nth(1)
                .and_then(|b| b.split("END: Cython Metadata").next())
            {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(block.trim()) {
                    let sources = v["distutils"]["sources"].as_array().cloned();
                    for s in sources
                        .unwrap_or_default()
                        .iter()
                        .filter_map(|s| s.as_str())
                    {
                        if s.ends_with(".pyx") || s.ends_with(".py") {
                            out.push(s.trim_start_matches("./").to_string());
                        }
                    }
                }
            }
            let stem = file.rsplit_once('.').map(|(s, _)| s).unwrap_or(file);
            out.push(join(&format!("{stem}.pyx")));
            out.push(join(&format!("{stem}.py")));
        }
        "SWIG" => {
            let stem = file
                .strip_suffix(".py")
                .or_else(|| file.rsplit_once("_wrap.").map(|(s, _)| s))
                .unwrap_or(file);
            out.push(join(&format!("{stem}.i")));
            out.push(join(&format!("{}.i", stem.trim_start_matches('_'))));
        }
        "PLY" => {
            // The grammar module beside the tables (checked to use PLY by the caller).
            let mut siblings: Vec<String> = files
                .map
                .keys()
                .filter(|p| {
                    p.rsplit_once('/').map(|(d, _)| d).unwrap_or("") == dir
                        && p.ends_with(".py")
                        && !g.outputs.iter().any(|o| p.ends_with(o))
                })
                .cloned()
                .collect();
            // The lexer's tables come from the lexer module, the parser's from the parser's.
            let role = if file.contains("lex") { "lex" } else { "pars" };
            siblings
                .sort_by_key(|p| (!p.rsplit('/').next().unwrap_or(p).contains(role), p.clone()));
            out.extend(siblings);
        }
        _ => {
            // protoc names its input: `# source: path/to/x.proto`.
            for l in head.lines() {
                if let Some(src) = l.trim().strip_prefix("# source: ") {
                    out.push(src.trim().to_string());
                    out.push(join(src.trim().rsplit('/').next().unwrap_or(src)));
                }
            }
            let stem = file.split("_pb2").next().unwrap_or(file);
            out.push(join(&format!("{stem}.proto")));
        }
    }
    out.dedup();
    out
}

/// Source code a generator wrote from an input committed at the commit: diff mode cannot
/// regenerate it, so it is named and left `not-comparable` (never verified, never excused).
pub struct GeneratedCode;

impl Rule for GeneratedCode {
    fn name(&self) -> &'static str {
        "generated-from-source"
    }
    fn reason(&self) -> &'static str {
        "a code generator (Cython, SWIG, protoc, PLY) wrote this file from an input committed at the commit; only a rebuild can compare it"
    }
    fn judge(&self, cx: &FileCx<'_>) -> Result<Option<Outcome>, GitError> {
        let Some(data) = cx.data() else {
            return Ok(None);
        };
        if !missing_or_differs(cx.status) {
            return Ok(None);
        }
        let Some(found) = generated_by(cx.path, data, cx.files(), |input| {
            cx.source.tree.get(&cx.source.in_pkg(input)).is_some()
        }) else {
            return Ok(None);
        };
        Ok(Some(Outcome::Finding(Finding::at(
            Code::NotComparable,
            cx.path,
            format!(
                "generated by {} from `{}` (committed at the commit); diff mode cannot regenerate it (rule generated-from-source)",
                found.by(),
                found.input
            ),
        ))))
    }
}

/// What [`generated_by`] found: the generator, the version its header names, the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    pub generator: &'static str,
    pub version: Option<String>,
    /// The input, relative to the package directory.
    pub input: String,
    /// The first 16 KiB of the output as text (its header and, for Cython, its metadata).
    pub head: String,
}

impl Generated {
    /// `Cython 0.29.15`, or the generator's name when the header names no version.
    pub fn by(&self) -> String {
        match &self.version {
            Some(v) => format!("{} {v}", self.generator),
            None => self.generator.to_string(),
        }
    }
}

/// The generator that wrote `path` (`data` its bytes) and the input it read, when that input
/// is committed (`committed` is asked of paths relative to the package directory). Diff mode's
/// rule and rebuild mode's regeneration (`src/pypi/cython.rs`) both ask this.
pub fn generated_by(
    path: &str,
    data: &[u8],
    files: &Files,
    committed: impl Fn(&str) -> bool,
) -> Option<Generated> {
    if data.contains(&0) {
        return None;
    }
    // The markers sit in the first lines; Cython's metadata block can be long.
    let head = String::from_utf8_lossy(&data[..data.len().min(16 * 1024)]).into_owned();
    let first_lines: String = head.lines().take(8).collect::<Vec<_>>().join("\n");
    let (g, version) = generator_of(path, &first_lines)?;
    let ply_import =
        regex::Regex::new(r"(?m)^\s*(?:from\s+\.*ply\b|import\s+ply\b)").expect("regex");
    let uses_ply = |input: &str| {
        files.text(input).is_some_and(|t| {
            let code = super::pyconfig::code_only(&t);
            ply_import.is_match(&code)
        })
    };
    let input = candidate_inputs(g, path, &head, files)
        .into_iter()
        .find(|input| committed(input) && (g.name != "PLY" || uses_ply(input)))?;
    Some(Generated {
        generator: g.name,
        version,
        input,
        head,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pbr_json_shape() {
        assert!(is_pbr_json(
            br#"{"git_version": "1a2b3c4", "is_release": true}"#
        ));
        assert!(is_pbr_json(br#"{"is_release": false}"#));
        assert!(!is_pbr_json(
            br#"{"git_version": "1a2b3c4", "run": "rm -rf /"}"#
        ));
        assert!(!is_pbr_json(
            br#"{"git_version": "not hex!", "is_release": true}"#
        ));
        assert!(!is_pbr_json(b"import os\n"));
        assert!(!is_pbr_json(b"[1, 2]"));
    }

    #[test]
    fn pbr_changelog_and_authors_shapes() {
        assert!(is_pbr_changelog(
            "CHANGES\n=======\n\n5.10.0\n------\n\n* Fix a thing\n* Drop py3.9\n  continued\n"
        ));
        assert!(!is_pbr_changelog("Changes\n=======\n"));
        assert!(!is_pbr_changelog(
            "CHANGES\n=======\n\nimport os; os.system('x')\n"
        ));
        assert!(is_pbr_authors(
            "A U Thor <a@example.org>\nZuul <zuul@example.org>\n"
        ));
        assert!(!is_pbr_authors("import os; os.system('x')\n"));
    }

    #[test]
    fn egg_info_paths() {
        assert_eq!(egg_info_file("foo.egg-info/pbr.json"), Some("pbr.json"));
        assert_eq!(egg_info_file("src/foo.egg-info/pbr.json"), Some("pbr.json"));
        assert_eq!(
            egg_info_file("foo-1.0.dist-info/pbr.json"),
            Some("pbr.json")
        );
        assert_eq!(egg_info_file("foo/pbr.json"), None);
        assert_eq!(egg_info_file("pbr.json"), None);
    }

    #[test]
    fn declared_writers_from_setup_py_and_cfg() {
        let py = "setup(entry_points={'egg_info.writers': ['datapkg_index.txt = setuptools.command.egg_info:write_arg']})";
        assert_eq!(declared_writers(Some(py), None), vec!["datapkg_index.txt"]);
        let py = "setup(entry_points='''\n[egg_info.writers]\nlib_dirs.txt = x:y\n[console_scripts]\nfoo = a:b\n''')";
        assert_eq!(declared_writers(Some(py), None), vec!["lib_dirs.txt"]);
        let cfg = "[options.entry_points]\negg_info.writers =\n    plugins.txt = a:b\n";
        assert_eq!(declared_writers(None, Some(cfg)), vec!["plugins.txt"]);
        assert!(declared_writers(Some("setup()"), None).is_empty());
    }

    #[test]
    fn generators_are_recognised_by_header_and_name() {
        let (g, v) = generator_of("ext/_yaml.c", "/* Generated by Cython 0.29.36 */\n").unwrap();
        assert_eq!((g.name, v.as_deref()), ("Cython", Some("0.29.36")));
        let (g, v) = generator_of("m_pb2.py", "# -*- coding: utf-8 -*-\n# Generated by the protocol buffer compiler.  DO NOT EDIT!\n# source: a/m.proto\n").unwrap();
        assert_eq!((g.name, v), ("protoc", None));
        // The marker must be in an output file name: a .h mentioning Cython is not one.
        assert!(generator_of("x.h", "/* Generated by Cython 3.0.0 */").is_none());
        assert!(generator_of("x.c", "/* hand written */").is_none());
        let (g, _) = generator_of(
            "pycparser/lextab.py",
            "# lextab.py. This file automatically created by PLY (version 3.10). Don't edit!\n",
        )
        .unwrap();
        assert_eq!(g.name, "PLY");
        assert!(generator_of("pycparser/other.py", "automatically created by PLY").is_none());
    }

    #[test]
    fn inputs_named_by_the_output_come_first() {
        let head = "/* Generated by Cython 3.0.11 */\n\n/* BEGIN: Cython Metadata\n{\n    \"distutils\": {\n        \"sources\": [\n            \"yaml/_yaml.pyx\"\n        ]\n    },\n    \"module_name\": \"yaml._yaml\"\n}\nEND: Cython Metadata */\n";
        let g = &GENERATORS[0];
        assert_eq!(
            candidate_inputs(g, "yaml/_yaml.c", head, &Files::default()),
            vec!["yaml/_yaml.pyx", "yaml/_yaml.py"]
        );
        let head = "# Generated by the protocol buffer compiler.  DO NOT EDIT!\n# source: protos/m.proto\n";
        assert_eq!(
            candidate_inputs(&GENERATORS[2], "pkg/m_pb2.py", head, &Files::default())[0],
            "protos/m.proto"
        );
    }
}

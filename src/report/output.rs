//! Where a report goes: `--output FILE` may repeat, each file's format taken from an explicit
//! `FORMAT=FILE` or from the extension; standard output carries `--format` unless a file
//! already gets that format (so `--format json --output report.json` writes the file only).

use std::path::{Path, PathBuf};

use super::Format;

/// One `--output`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub format: Format,
    pub path: PathBuf,
}

impl Format {
    /// The format named on the command line (`sarif`, `junit`, ...).
    pub fn from_name(name: &str) -> Option<Format> {
        clap::ValueEnum::from_str(name, true).ok()
    }

    /// The name the command line uses for it.
    pub fn name(self) -> String {
        clap::ValueEnum::to_possible_value(&self)
            .map(|v| v.get_name().to_string())
            .unwrap_or_default()
    }

    /// The format a file name implies, if any.
    pub fn from_path(path: &Path) -> Option<Format> {
        let name = path.file_name()?.to_str()?.to_ascii_lowercase();
        let ends = |s: &str| name.ends_with(s);
        Some(if ends(".sarif") || ends(".sarif.json") {
            Format::Sarif
        } else if ends(".xml") {
            Format::Junit
        } else if ends(".html") || ends(".htm") {
            Format::Html
        } else if ends(".intoto.jsonl") || ends(".jsonl") {
            Format::Intoto
        } else if ends(".json") {
            Format::Json
        } else if ends(".md") || ends(".markdown") {
            Format::Markdown
        } else if ends(".txt") {
            Format::Human
        } else {
            return None;
        })
    }
}

/// Read one `--output` argument. `FORMAT=FILE` names the format; otherwise the extension does;
/// a file with neither gets `fallback` (the `--format`).
pub fn parse_target(arg: &str, fallback: Format) -> Result<Target, String> {
    if arg.is_empty() {
        return Err("--output takes a file name (or FORMAT=FILE), got an empty one".into());
    }
    if let Some((name, path)) = arg.split_once('=') {
        if let Some(format) = Format::from_name(name) {
            if path.is_empty() {
                return Err(format!(
                    "--output {arg}: the file name after `{name}=` is empty"
                ));
            }
            return Ok(Target {
                format,
                path: PathBuf::from(path),
            });
        }
    }
    let path = PathBuf::from(arg);
    Ok(Target {
        format: Format::from_path(&path).unwrap_or(fallback),
        path,
    })
}

/// Every `--output`, checked: two targets may not write the same file.
pub fn parse_targets(args: &[String], fallback: Format) -> Result<Vec<Target>, String> {
    let mut out: Vec<Target> = Vec::new();
    for a in args {
        let t = parse_target(a, fallback)?;
        if out.iter().any(|o| o.path == t.path) {
            return Err(format!(
                "--output {} is given twice: each report needs its own file",
                t.path.display()
            ));
        }
        out.push(t);
    }
    Ok(out)
}

/// What standard output carries: `--format`, unless a file already gets that format.
pub fn stdout_format(targets: &[Target], format: Format) -> Option<Format> {
    (!targets.iter().any(|t| t.format == format)).then_some(format)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_from_prefix_or_extension() {
        let t = |a: &str| parse_target(a, Format::Human).unwrap();
        assert_eq!(t("r.sarif").format, Format::Sarif);
        assert_eq!(t("r.sarif.json").format, Format::Sarif);
        assert_eq!(t("TESTS-provero.junit.xml").format, Format::Junit);
        assert_eq!(t("out/report.HTML").format, Format::Html);
        assert_eq!(t("report.json").format, Format::Json);
        assert_eq!(t("summary.md").format, Format::Markdown);
        assert_eq!(t("json=report.out").format, Format::Json);
        assert_eq!(t("json=report.out").path, PathBuf::from("report.out"));
        assert_eq!(t("SARIF=x.json").format, Format::Sarif);
        assert_eq!(Format::Junit.name(), "junit");
        // `=` that does not follow a format name is part of the file name.
        assert_eq!(t("a=b.md").path, PathBuf::from("a=b.md"));
        assert_eq!(t("a=b.md").format, Format::Markdown);
        // No extension: the --format value, as before --output could repeat.
        assert_eq!(
            parse_target("report", Format::Json).unwrap().format,
            Format::Json
        );
        assert!(parse_target("", Format::Json).is_err());
        assert!(parse_target("html=", Format::Json).is_err());
    }

    #[test]
    fn stdout_keeps_the_format_no_file_takes() {
        let ts = parse_targets(&["r.sarif".into(), "r.html".into()], Format::Human).unwrap();
        assert_eq!(stdout_format(&ts, Format::Human), Some(Format::Human));
        let ts = parse_targets(&["report.json".into()], Format::Json).unwrap();
        assert_eq!(stdout_format(&ts, Format::Json), None);
        assert!(parse_targets(&["a.json".into(), "json=a.json".into()], Format::Human).is_err());
    }
}

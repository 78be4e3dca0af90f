//! The view by repository: one source repository's releases on every registry (a project that
//! publishes the same code to crates.io and PyPI, e.g. through maturin) and the commit each
//! traces to, so a registry team sees one project across registries. Grouping only: every
//! verdict and commit is the package's own.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Serialize;

use super::model::{PackageId, PackageResult, Report};
use crate::finding::Verdict;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Release {
    pub package: PackageId,
    pub verdict: Verdict,
    pub commit: Option<String>,
    pub tag: Option<String>,
    pub path_in_repo: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepositoryView {
    pub repository: String,
    /// The registries its releases come from, e.g. `["crates", "pypi"]`.
    pub ecosystems: Vec<String>,
    pub releases: Vec<Release>,
}

/// Two spellings of one repository (`.git`, a trailing `/`, letter case) are one group.
fn key(url: &str) -> String {
    url.trim()
        .trim_end_matches('/')
        .trim_end_matches(".git")
        .to_ascii_lowercase()
}

/// Every repository some package traced to, those published to more registries first, then
/// by URL; releases by ecosystem, name and version. Packages without a repository are left out.
pub fn by_repository(results: &[PackageResult]) -> Vec<RepositoryView> {
    let mut g = Groups::default();
    for r in results {
        g.add(r);
    }
    g.views()
}

/// [`by_repository`] of every result of a report, read one at a time (what is held is one
/// small release line per package, not the results).
pub fn of_report(report: &Report) -> std::io::Result<Vec<RepositoryView>> {
    let mut g = Groups::default();
    for r in report.each() {
        g.add(&*r?);
    }
    Ok(g.views())
}

/// Releases grouped by repository as results come.
#[derive(Default)]
struct Groups(BTreeMap<String, (String, Vec<Release>)>);

impl Groups {
    fn add(&mut self, r: &PackageResult) {
        let Some(repo) = r.source.repository.as_deref().filter(|s| !s.is_empty()) else {
            return;
        };
        self.0
            .entry(key(repo))
            .or_insert_with(|| (repo.to_string(), Vec::new()))
            .1
            .push(Release {
                package: r.package.clone(),
                verdict: r.verdict,
                commit: r.source.commit.clone(),
                tag: r.source.tag.clone(),
                path_in_repo: r.source.path_in_repo.clone().filter(|p| !p.is_empty()),
            });
    }

    fn views(self) -> Vec<RepositoryView> {
        let mut out: Vec<RepositoryView> = self
            .0
            .into_values()
            .map(|(repository, mut releases)| {
                releases.sort_by(|a, b| a.package.cmp(&b.package));
                releases.dedup();
                let ecosystems: BTreeSet<String> = releases
                    .iter()
                    .map(|r| r.package.ecosystem.as_str().to_string())
                    .collect();
                RepositoryView {
                    repository,
                    ecosystems: ecosystems.into_iter().collect(),
                    releases,
                }
            })
            .collect();
        out.sort_by(|a, b| {
            b.ecosystems
                .len()
                .cmp(&a.ecosystems.len())
                .then_with(|| a.repository.cmp(&b.repository))
        });
        out
    }
}

fn short(c: &Option<String>) -> &str {
    c.as_deref().map(|c| &c[..c.len().min(12)]).unwrap_or("-")
}

/// For a terminal.
pub fn human(views: &[RepositoryView]) -> String {
    let mut out = String::new();
    for v in views {
        let _ = writeln!(out, "{}  ({})", v.repository, v.ecosystems.join(", "));
        for r in &v.releases {
            let mut line = format!(
                "    {:<40} {:<12} {}",
                r.package.to_string(),
                r.verdict.as_str(),
                short(&r.commit)
            );
            if let Some(t) = &r.tag {
                let _ = write!(line, " (tag {t})");
            }
            if let Some(p) = &r.path_in_repo {
                let _ = write!(line, " in {p}/");
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
    out
}

/// As Markdown: a table per repository.
pub fn markdown(views: &[RepositoryView]) -> String {
    let mut out = String::from("# provero: releases by repository\n\n");
    for v in views {
        let _ = writeln!(
            out,
            "## {}\n\nregistries: {}\n\n| package | verdict | commit | tag | directory |\n|---|---|---|---|---|",
            v.repository,
            v.ecosystems.join(", ")
        );
        for r in &v.releases {
            let _ = writeln!(
                out,
                "| `{}` | {} | `{}` | {} | {} |",
                r.package,
                r.verdict.as_str(),
                short(&r.commit),
                r.tag.as_deref().unwrap_or(""),
                r.path_in_repo.as_deref().unwrap_or("")
            );
        }
        out.push('\n');
    }
    out
}

/// As JSON: `{"repositories": [...]}`.
pub fn json(views: &[RepositoryView]) -> Result<String, serde_json::Error> {
    Ok(serde_json::to_string_pretty(&serde_json::json!({ "repositories": views }))? + "\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ecosystem::Ecosystem;

    fn result(eco: Ecosystem, name: &str, repo: &str, commit: &str) -> PackageResult {
        let mut r = PackageResult::pending(eco, name, Some("1.0.0"));
        r.verdict = Verdict::Verified;
        r.source.repository = Some(repo.to_string());
        r.source.commit = Some(commit.to_string());
        r
    }

    #[test]
    fn one_project_on_two_registries_is_one_group_listed_first() {
        let views = by_repository(&[
            result(Ecosystem::Crates, "solo", "https://github.com/a/solo", "c1"),
            result(
                Ecosystem::Pypi,
                "both",
                "https://github.com/a/Both.git",
                "c2",
            ),
            result(Ecosystem::Crates, "both", "https://github.com/a/both", "c2"),
            PackageResult::pending(Ecosystem::Gems, "norepo", Some("1")),
        ]);
        assert_eq!(views.len(), 2);
        assert_eq!(views[0].ecosystems, ["crates", "pypi"]);
        assert_eq!(views[0].releases.len(), 2);
        assert_eq!(views[0].releases[0].package.ecosystem, Ecosystem::Crates);
        assert_eq!(views[1].repository, "https://github.com/a/solo");
        let text = human(&views);
        assert!(text.contains("crates:both@1.0.0"), "{text}");
    }
}

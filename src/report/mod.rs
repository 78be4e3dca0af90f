//! The report, as a table of contents: one model that every renderer reads, and one renderer
//! per format. Renderers present what the run decided; none of them decides anything again.
//!
//! | file | what |
//! |---|---|
//! | `model.rs` | results, input errors, skipped inputs, summary, exit code |
//! | `human.rs` | terminal output: a line per package (streamed), the closing summary |
//! | `json.rs` | the model serialised (the public contract, `schema/report.schema.json`) |
//! | `markdown.rs` | issues, dashboards, CI job summaries |
//! | `sarif.rs` | SARIF 2.1.0 for code scanning: a rule per code, a result per finding |
//! | `junit.rs` | JUnit XML for CI test reports: a suite per ecosystem, a case per package |
//! | `html.rs` | one self-contained page: summary, filterable table, side-by-side diffs |
//! | `repository.rs` | the view by repository: one project's releases on every registry |
//! | `output.rs` | `--output` targets: format from `FORMAT=FILE` or the extension |
//! | `diff.rs` | reads back the unified diffs findings carry (side by side, first changed line) |
//! | `stored.rs` | `provero report`: a store read a package at a time into a spill |
//! | `intoto.rs` | in-toto Statements (SLSA verification summaries), DSSE-signed with `--sign-key` |

mod diff;
mod html;
mod human;
pub mod intoto;
mod json;
mod junit;
mod markdown;
mod model;
pub mod output;
pub mod repository;
mod sarif;
pub mod stored;

pub use html::html;
pub use human::{human_result, human_summary, Style};
pub use json::json;
pub use junit::junit;
pub use markdown::markdown;
pub use model::{
    exit_code, ArtifactInfo, AttestationInfo, AttestationKind, CheckInfo, CheckStatus, InputError,
    LockfileLine, PackageId, PackageResult, PublisherInfo, Report, RunInfo, RunSettings,
    SkippedInput, SourceInfo, Stats, Status, Summary, Timing,
};
pub use sarif::sarif;

/// The formats a report can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
    Markdown,
    /// SARIF 2.1.0 (GitHub code scanning).
    Sarif,
    /// JUnit XML (CI test reports).
    Junit,
    /// One self-contained HTML page.
    Html,
    /// in-toto Statement v1 per package (JSON lines), SLSA verification summary predicate.
    Intoto,
}

impl Format {
    /// Formats a program reads (standard output then carries nothing else; the summary goes
    /// to stderr only for formats a person reads).
    pub fn is_machine_readable(self) -> bool {
        matches!(
            self,
            Format::Json | Format::Sarif | Format::Junit | Format::Html | Format::Intoto
        )
    }

    /// The whole report in this format. Human output here is the per-package lines (the summary
    /// goes to stderr); a streamed run prints those lines as it goes instead.
    pub fn render(self, report: &Report, style: Style) -> anyhow::Result<String> {
        let mut out = Vec::new();
        self.write(report, style, &mut out)?;
        Ok(String::from_utf8(out)?)
    }

    /// The report in this format into `w`, streamed over the results (read from the run's
    /// spill one at a time). In-toto statements here are unsigned (`intoto::write` signs).
    pub fn write(
        self,
        report: &Report,
        style: Style,
        w: &mut dyn std::io::Write,
    ) -> anyhow::Result<()> {
        match self {
            Format::Human => {
                for r in report.each() {
                    w.write_all(human_result(&*r?, style).as_bytes())?;
                }
            }
            Format::Json => json::write_json(report, w)?,
            Format::Markdown => markdown::write_markdown(report, w)?,
            Format::Sarif => sarif::write_sarif(report, w)?,
            Format::Junit => junit::write_junit(report, w)?,
            Format::Html => html::write_html(report, w)?,
            Format::Intoto => {
                intoto::write(report, &intoto::Context::of(report, None), w)?;
            }
        }
        Ok(())
    }
}

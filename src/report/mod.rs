//! The report, as a table of contents: one model that every renderer reads, and one renderer
//! per format. Renderers present what the run decided; none of them decides anything again.
//!
//! | file | what |
//! |---|---|
//! | `model.rs` | results, input errors, skipped inputs, summary, exit code |
//! | `human.rs` | terminal output: a line per package (streamed), the closing summary |
//! | `json.rs` | the model serialised (the public contract, `schema/report.schema.json`) |
//! | `markdown.rs` | issues, dashboards, CI job summaries |
//! | `intoto.rs` | in-toto Statements (SLSA verification summaries), DSSE-signed with `--sign-key` |

mod human;
pub mod intoto;
mod json;
mod markdown;
mod model;

pub use human::{human_result, human_summary, Style};
pub use json::json;
pub use markdown::markdown;
pub use model::{
    exit_code, ArtifactInfo, InputError, PackageId, PackageResult, Report, SkippedInput,
    SourceInfo, Stats, Summary, Timing,
};

/// The formats a report can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
    Markdown,
    /// in-toto Statement v1 per package (JSON lines), SLSA verification summary predicate.
    Intoto,
}

impl Format {
    /// The whole report in this format. Human output here is the per-package lines (the summary
    /// goes to stderr); a streamed run prints those lines as it goes instead.
    pub fn render(self, report: &Report, style: Style) -> anyhow::Result<String> {
        Ok(match self {
            Format::Human => report
                .results
                .iter()
                .map(|r| human_result(r, style))
                .collect(),
            Format::Json => json(report)?,
            Format::Markdown => markdown(report),
            Format::Intoto => intoto::render(
                report,
                &intoto::Context {
                    time_verified: intoto::now_rfc3339(),
                    mode: "diff",
                    signer: None,
                },
            ),
        })
    }
}

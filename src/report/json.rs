//! The JSON renderer: the model itself, serialised (the public contract, see
//! `schema/report.schema.json`).

use super::model::Report;

/// The report as pretty-printed JSON, ending in a newline.
pub fn json(report: &Report) -> Result<String, serde_json::Error> {
    Ok(serde_json::to_string_pretty(report)? + "\n")
}

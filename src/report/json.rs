//! The JSON renderer: the model itself, serialised (the public contract, see
//! `schema/report.schema.json`), written as it is read: results come from the spill one at a
//! time, so the report is never whole in memory.

use std::io::Write;

use serde::ser::{Error as _, SerializeSeq as _};
use serde::Serialize;

use super::model::{InputError, Report, RunInfo, SkippedInput, Summary};

/// The report as pretty-printed JSON, ending in a newline.
pub fn json(report: &Report) -> Result<String, serde_json::Error> {
    let mut out = Vec::new();
    write_json(report, &mut out)?;
    Ok(String::from_utf8(out).expect("serde_json writes UTF-8"))
}

/// The report as pretty-printed JSON into `w`, ending in a newline: the same bytes as
/// serialising [`Report`] (the fields below are its fields, in its order, with its rules).
pub fn write_json(report: &Report, w: &mut dyn Write) -> Result<(), serde_json::Error> {
    let out = Out {
        results: Results(report),
        errors: &report.errors,
        skipped_inputs: &report.skipped_inputs,
        warnings: &report.warnings,
        summary: &report.summary,
        run: &report.run,
    };
    serde_json::to_writer_pretty(&mut *w, &out)?;
    w.write_all(b"\n").map_err(serde_json::Error::io)
}

#[derive(Serialize)]
struct Out<'a> {
    results: Results<'a>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    errors: &'a [InputError],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    skipped_inputs: &'a [SkippedInput],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    warnings: &'a [String],
    summary: &'a Summary,
    #[serde(skip_serializing_if = "Option::is_none")]
    run: &'a Option<RunInfo>,
}

/// Every result of the report, serialised as it is read.
struct Results<'a>(&'a Report);

impl Serialize for Results<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for r in self.0.each() {
            seq.serialize_element(&*r.map_err(S::Error::custom)?)?;
        }
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ecosystem::Ecosystem;
    use crate::report::PackageResult;

    #[test]
    fn streamed_json_is_the_serialised_model() {
        let mut report = Report::new(
            vec![
                PackageResult::pending(Ecosystem::Crates, "a", Some("1.0.0")),
                PackageResult::pending(Ecosystem::Pypi, "b", None),
            ],
            vec![InputError {
                input: "x".into(),
                message: "bad".into(),
            }],
        );
        report.warnings.push("w".into());
        let whole = serde_json::to_string_pretty(&report).unwrap() + "\n";
        assert_eq!(json(&report).unwrap(), whole);
        let empty = Report::default();
        assert_eq!(
            json(&empty).unwrap(),
            serde_json::to_string_pretty(&empty).unwrap() + "\n"
        );
    }
}

//! The JUnit XML renderer, for the test reports of Jenkins, GitLab and GitHub: a `testsuite`
//! per ecosystem and a `testcase` per package (`classname` = the ecosystem, `name` =
//! name@version). A mismatch is a `failure` (its message: the red flags), an unverifiable
//! package is `skipped`, a package or input that ended in an error is an `error`. Inputs that
//! never became a package (and those not checked on purpose) form a suite of their own.

use std::collections::BTreeMap;

use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;

use super::model::{PackageResult, Report};
use crate::ecosystem::Ecosystem;
use crate::finding::{Severity, Verdict};

/// XML 1.0 cannot carry most control characters, even escaped; a file name or message that
/// holds one must still give a readable report.
fn xml_text(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => c,
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => '\u{FFFD}',
            c => c,
        })
        .collect()
}

fn seconds(ms: u64) -> String {
    format!("{:.3}", ms as f64 / 1000.0)
}

#[derive(Default)]
struct Counts {
    tests: usize,
    failures: usize,
    errors: usize,
    skipped: usize,
    ms: u64,
}

impl Counts {
    fn add(&mut self, r: &PackageResult) {
        self.tests += 1;
        self.ms += r.duration_ms;
        match outcome(r) {
            Outcome::Error(_) => self.errors += 1,
            Outcome::Failure => self.failures += 1,
            Outcome::Skipped => self.skipped += 1,
            Outcome::Passed => {}
        }
    }

    fn attrs(&self) -> [(&'static str, String); 5] {
        [
            ("tests", self.tests.to_string()),
            ("failures", self.failures.to_string()),
            ("errors", self.errors.to_string()),
            ("skipped", self.skipped.to_string()),
            ("time", seconds(self.ms)),
        ]
    }
}

enum Outcome<'a> {
    Passed,
    Failure,
    Skipped,
    Error(&'a str),
}

fn outcome(r: &PackageResult) -> Outcome<'_> {
    match (&r.error, r.verdict) {
        (_, Verdict::Mismatch) => Outcome::Failure,
        (Some(e), _) => Outcome::Error(e),
        (None, Verdict::Unverifiable) => Outcome::Skipped,
        (None, Verdict::Verified) => Outcome::Passed,
    }
}

type W<'a> = Writer<&'a mut dyn std::io::Write>;

fn start(w: &mut W<'_>, name: &str, attrs: &[(&str, String)]) -> std::io::Result<()> {
    let mut e = BytesStart::new(name);
    for (k, v) in attrs {
        e.push_attribute((*k, xml_text(v).as_str()));
    }
    w.write_event(Event::Start(e))
}

fn end(w: &mut W<'_>, name: &str) -> std::io::Result<()> {
    w.write_event(Event::End(BytesEnd::new(name)))
}

/// An element with attributes and (escaped) text inside.
fn element(w: &mut W<'_>, name: &str, attrs: &[(&str, String)], text: &str) -> std::io::Result<()> {
    if text.is_empty() {
        let mut e = BytesStart::new(name);
        for (k, v) in attrs {
            e.push_attribute((*k, xml_text(v).as_str()));
        }
        return w.write_event(Event::Empty(e));
    }
    start(w, name, attrs)?;
    w.write_event(Event::Text(BytesText::new(&xml_text(text))))?;
    end(w, name)
}

fn finding_lines(r: &PackageResult, keep: impl Fn(Severity) -> bool, diffs: bool) -> String {
    let mut out = String::new();
    for f in r
        .findings
        .iter()
        .filter(|f| keep(f.severity) && f.allowed.is_none())
    {
        let path = f
            .path
            .as_deref()
            .map(|p| format!("{p}: "))
            .unwrap_or_default();
        out.push_str(&format!(
            "{} {}: {path}{}\n",
            f.severity.as_str(),
            f.code.as_str(),
            f.message
        ));
        if diffs {
            if let Some(d) = &f.diff {
                out.push_str(d);
                if !d.ends_with('\n') {
                    out.push('\n');
                }
            }
        }
    }
    out
}

fn testcase(w: &mut W<'_>, r: &PackageResult) -> std::io::Result<()> {
    let name = format!("{}@{}", r.package.name, r.package.version);
    start(
        w,
        "testcase",
        &[
            ("classname", r.package.ecosystem.as_str().to_string()),
            ("name", name),
            ("time", seconds(r.duration_ms)),
        ],
    )?;
    match outcome(r) {
        Outcome::Passed => {}
        Outcome::Failure => {
            let flags: Vec<String> = r
                .red_flags()
                .map(|f| match &f.path {
                    Some(p) => format!("{} {p}", f.code.as_str()),
                    None => f.code.as_str().to_string(),
                })
                .collect();
            element(
                w,
                "failure",
                &[
                    ("message", format!("red flags: {}", flags.join(", "))),
                    ("type", "mismatch".to_string()),
                ],
                &finding_lines(r, |s| s == Severity::RedFlag, true),
            )?;
        }
        Outcome::Skipped => {
            let why: Vec<&str> = r
                .findings
                .iter()
                .filter(|f| f.severity == Severity::Unverifiable && f.allowed.is_none())
                .map(|f| f.code.as_str())
                .collect();
            element(
                w,
                "skipped",
                &[("message", format!("unverifiable: {}", why.join(", ")))],
                "",
            )?;
        }
        Outcome::Error(e) => {
            element(
                w,
                "error",
                &[("message", e.to_string()), ("type", "error".to_string())],
                "",
            )?;
        }
    }
    let mut out = String::new();
    if let Some(repo) = &r.source.repository {
        out.push_str(&format!(
            "source: {repo}{}{}\n",
            r.source
                .commit
                .as_deref()
                .map(|c| format!(" @ {c}"))
                .unwrap_or_default(),
            r.source
                .commit_from
                .map(|f| format!(" (commit from {})", f.as_str()))
                .unwrap_or_default()
        ));
    }
    for a in &r.attestations {
        out.push_str(&format!("attestation: {}\n", a.summary()));
    }
    out.push_str(&format!("verdict: {}\n", r.verdict.as_str()));
    out.push_str(&finding_lines(r, |s| s != Severity::RedFlag, false));
    element(w, "system-out", &[], &out)?;
    end(w, "testcase")
}

fn write(report: &Report, w: &mut W<'_>) -> std::io::Result<()> {
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    // One pass to count (the suites' attributes come first), then one per ecosystem.
    let mut by_eco: BTreeMap<Ecosystem, Counts> = BTreeMap::new();
    let mut all = Counts::default();
    for r in report.each() {
        let r = r?;
        by_eco.entry(r.package.ecosystem).or_default().add(&r);
        all.add(&r);
    }
    let inputs = report.errors.len() + report.skipped_inputs.len();
    all.tests += inputs;
    all.errors += report.errors.len();
    all.skipped += report.skipped_inputs.len();
    let mut top = vec![("name", "provero".to_string())];
    top.extend(all.attrs());
    start(w, "testsuites", &top)?;
    let timestamp = report.run.as_ref().map(|r| r.started_at.clone());
    let mut by_name: Vec<(&str, Ecosystem, Counts)> = by_eco
        .into_iter()
        .map(|(eco, c)| (eco.as_str(), eco, c))
        .collect();
    by_name.sort_by_key(|(name, _, _)| *name);
    for (name, eco, c) in by_name {
        let mut attrs = vec![("name", name.to_string())];
        attrs.extend(c.attrs());
        if let Some(t) = &timestamp {
            attrs.push(("timestamp", t.clone()));
        }
        start(w, "testsuite", &attrs)?;
        for r in report.each() {
            let r = r?;
            if r.package.ecosystem == eco {
                testcase(w, &r)?;
            }
        }
        end(w, "testsuite")?;
    }
    if inputs > 0 {
        start(
            w,
            "testsuite",
            &[
                ("name", "inputs".to_string()),
                ("tests", inputs.to_string()),
                ("failures", "0".to_string()),
                ("errors", report.errors.len().to_string()),
                ("skipped", report.skipped_inputs.len().to_string()),
                ("time", seconds(0)),
            ],
        )?;
        for e in &report.errors {
            start(
                w,
                "testcase",
                &[
                    ("classname", "input".to_string()),
                    ("name", e.input.clone()),
                    ("time", seconds(0)),
                ],
            )?;
            element(
                w,
                "error",
                &[
                    ("message", e.message.clone()),
                    ("type", "input-error".to_string()),
                ],
                "",
            )?;
            end(w, "testcase")?;
        }
        for s in &report.skipped_inputs {
            start(
                w,
                "testcase",
                &[
                    ("classname", "input".to_string()),
                    ("name", s.input.clone()),
                    ("time", seconds(0)),
                ],
            )?;
            element(w, "skipped", &[("message", s.reason.clone())], "")?;
            end(w, "testcase")?;
        }
        end(w, "testsuite")?;
    }
    end(w, "testsuites")
}

/// The report as JUnit XML.
pub fn junit(report: &Report) -> std::io::Result<String> {
    let mut out = Vec::new();
    write_junit(report, &mut out)?;
    String::from_utf8(out).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// The report as JUnit XML into `out`, a package at a time.
pub fn write_junit(report: &Report, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let mut w = Writer::new_with_indent(&mut *out, b' ', 2);
    write(report, &mut w)?;
    w.into_inner().write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_become_replacement_characters() {
        assert_eq!(xml_text("a\u{1}b\tc"), "a\u{FFFD}b\tc");
    }
}

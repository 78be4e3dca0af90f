//! Accepted findings (`--allow FILE`, or `[[allow]]` in `provero.toml`): how a team accepts a
//! known benign mismatch without turning the check off. An entry names a package (name and a
//! version or version range), a finding code, optionally a path glob, a reason, and optionally
//! an expiry date. A matching finding stays in every report, marked `allowed` with the reason,
//! and no longer counts towards the verdict or the exit code. An entry that matched nothing,
//! or has expired (and so excuses nothing), is a warning: stale exceptions do not pile up
//! unseen.

use std::path::Path;

use serde::Deserialize;

use crate::ecosystem::Ecosystem;
use crate::finding::{Allowed, Code, Verdict};
use crate::report::PackageResult;
use crate::version_range::VersionRange;

/// One `[[allow]]` table as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEntry {
    /// `ECOSYSTEM:NAME@VERSION`; a version range may follow `@`; `@*` or no `@` is any version;
    /// a partial crate version (`@1.2`) is every version it starts.
    pub package: String,
    pub code: String,
    /// A glob over the finding's path inside the package (`*` stays within a directory, `**`
    /// crosses directories).
    #[serde(default)]
    pub path: Option<String>,
    pub reason: String,
    /// A TOML date (`2027-06-30`) or the same as a string; the entry applies through that day.
    #[serde(default)]
    pub expires: Option<toml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AllowFile {
    #[serde(default)]
    allow: Vec<RawEntry>,
}

/// A checked entry, ready to match.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Where it was written, for messages: `allow.toml entry 2`.
    pub origin: String,
    pub package: String,
    ecosystem: Ecosystem,
    name: String,
    versions: VersionRange,
    pub code: Code,
    path: Option<globset::GlobMatcher>,
    pub reason: String,
    pub expires: Option<time::Date>,
}

/// Every entry of a run.
#[derive(Debug, Clone, Default)]
pub struct AllowList {
    pub entries: Vec<Entry>,
}

impl AllowList {
    /// Read an allow file (`[[allow]]` tables).
    pub fn load(path: &Path) -> Result<AllowList, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the allow file {}: {e}", path.display()))?;
        let file: AllowFile =
            toml::from_str(&text).map_err(|e| crate::config::toml_error(path, &text, &e))?;
        let mut list = AllowList::default();
        list.add_raw(&path.display().to_string(), file.allow)?;
        Ok(list)
    }

    /// Check and add entries written in `file` (an allow file or `provero.toml`).
    pub fn add_raw(&mut self, file: &str, raw: Vec<RawEntry>) -> Result<(), String> {
        for (i, r) in raw.into_iter().enumerate() {
            let origin = format!("{file}: allow entry {}", i + 1);
            let e = Entry::new(origin.clone(), r).map_err(|m| format!("{origin}: {m}"))?;
            self.entries.push(e);
        }
        Ok(())
    }

    pub fn extend(&mut self, other: AllowList) {
        self.entries.extend(other.entries);
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Mark the findings of `r` that an entry in force on `today` accepts, and judge the
    /// verdict again without them. Returns the indices of the entries that matched something
    /// (expired entries included, so they are reported as expired rather than unused).
    pub fn apply(&self, r: &mut PackageResult, today: time::Date) -> Vec<usize> {
        let mut used = Vec::new();
        if self.entries.is_empty() {
            return used;
        }
        for f in &mut r.findings {
            for (i, e) in self.entries.iter().enumerate() {
                if !e.matches(r.package.ecosystem, &r.package.name, &r.package.version)
                    || e.code != f.code
                    || !e.path_matches(f.path.as_deref())
                {
                    continue;
                }
                if !used.contains(&i) {
                    used.push(i);
                }
                if f.allowed.is_none() && !e.expired(today) {
                    f.allowed = Some(Allowed {
                        reason: e.reason.clone(),
                        expires: e.expires.map(|d| d.to_string()),
                    });
                }
            }
        }
        r.verdict = Verdict::judge(&r.findings);
        used
    }

    /// One warning per entry that matched nothing, and per expired entry.
    pub fn warnings(&self, used: &[usize], today: time::Date) -> Vec<String> {
        let mut out = Vec::new();
        for (i, e) in self.entries.iter().enumerate() {
            if e.expired(today) {
                out.push(format!(
                    "{} ({} {}) expired on {}: the findings it accepted count again",
                    e.origin,
                    e.package,
                    e.code.as_str(),
                    e.expires.map(|d| d.to_string()).unwrap_or_default()
                ));
            } else if !used.contains(&i) {
                out.push(format!(
                    "{} ({} {}{}) matched no finding: remove it or correct it",
                    e.origin,
                    e.package,
                    e.code.as_str(),
                    e.path
                        .as_ref()
                        .map(|g| format!(" at {}", g.glob().glob()))
                        .unwrap_or_default()
                ));
            }
        }
        out
    }
}

/// Today's date in UTC: what expiry dates are compared with.
pub fn today() -> time::Date {
    time::OffsetDateTime::now_utc().date()
}

impl Entry {
    fn new(origin: String, r: RawEntry) -> Result<Entry, String> {
        let (eco, rest) = r.package.split_once(':').ok_or_else(|| {
            format!(
                "package `{}` is not ECOSYSTEM:NAME@VERSION (e.g. crates:serde@1.0.210)",
                r.package
            )
        })?;
        let ecosystem = Ecosystem::parse(eco.trim()).ok_or_else(|| {
            format!(
                "package `{}`: unknown ecosystem `{eco}` (expected crates, pypi or gems)",
                r.package
            )
        })?;
        let (name, version) = match rest.split_once('@') {
            Some((n, v)) => (n.trim(), v.trim()),
            None => (rest.trim(), "*"),
        };
        if name.is_empty() {
            return Err(format!("package `{}`: the name is empty", r.package));
        }
        let versions = VersionRange::parse(ecosystem, version)
            .map_err(|m| format!("package `{}`: {m}", r.package))?;
        let code = Code::parse(r.code.trim()).ok_or_else(|| {
            format!(
                "unknown finding code `{}` (codes: {})",
                r.code,
                Code::ALL.map(|c| c.as_str()).join(", ")
            )
        })?;
        let path = match r.path.as_deref().map(str::trim) {
            None => None,
            Some("") => return Err("`path` is empty: leave it out to match any path".into()),
            Some(p) => Some(
                globset::GlobBuilder::new(p)
                    .literal_separator(true)
                    .build()
                    .map_err(|e| format!("`path` `{p}` is not a glob: {e}"))?
                    .compile_matcher(),
            ),
        };
        if r.reason.trim().is_empty() {
            return Err("`reason` is empty: say why the finding is accepted".into());
        }
        let expires = r.expires.as_ref().map(parse_date).transpose()?;
        Ok(Entry {
            origin,
            package: r.package.trim().to_string(),
            ecosystem,
            name: name.to_string(),
            versions,
            code,
            path,
            reason: r.reason.trim().to_string(),
            expires,
        })
    }

    fn expired(&self, today: time::Date) -> bool {
        self.expires.is_some_and(|d| today > d)
    }

    fn path_matches(&self, path: Option<&str>) -> bool {
        match (&self.path, path) {
            (None, _) => true,
            (Some(g), Some(p)) => g.is_match(p),
            (Some(_), None) => false,
        }
    }

    fn matches(&self, eco: Ecosystem, name: &str, version: &str) -> bool {
        eco == self.ecosystem && same_name(eco, &self.name, name) && self.versions.matches(version)
    }
}

/// Names as each registry compares them: crates.io ignores case and `-`/`_`, PyPI normalises
/// per PEP 503, RubyGems names are exact.
fn same_name(eco: Ecosystem, a: &str, b: &str) -> bool {
    match eco {
        Ecosystem::Crates => {
            let n = |s: &str| s.to_ascii_lowercase().replace('_', "-");
            n(a) == n(b)
        }
        Ecosystem::Pypi => crate::pypi::normalize_name(a) == crate::pypi::normalize_name(b),
        Ecosystem::Gems => a == b,
    }
}

fn parse_date(v: &toml::Value) -> Result<time::Date, String> {
    let text = match v {
        toml::Value::Datetime(d) => match (d.date, d.time) {
            (Some(date), None) => date.to_string(),
            _ => return Err(format!("`expires` = {d} must be a date like 2027-06-30")),
        },
        toml::Value::String(s) => s.trim().to_string(),
        other => {
            return Err(format!(
                "`expires` = {other} must be a date like 2027-06-30"
            ))
        }
    };
    let bad = || format!("`expires` = {text} must be a date like 2027-06-30");
    let mut parts = text.splitn(3, '-').map(|p| p.parse::<u16>().ok());
    let (Some(Some(y)), Some(Some(m)), Some(Some(d))) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let month = time::Month::try_from(u8::try_from(m).map_err(|_| bad())?).map_err(|_| bad())?;
    time::Date::from_calendar_date(i32::from(y), month, u8::try_from(d).map_err(|_| bad())?)
        .map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Finding;

    fn list(toml_text: &str) -> AllowList {
        let file: AllowFile = toml::from_str(toml_text).unwrap();
        let mut l = AllowList::default();
        l.add_raw("allow.toml", file.allow).unwrap();
        l
    }

    fn err(toml_text: &str) -> String {
        let file: AllowFile = toml::from_str(toml_text).unwrap();
        AllowList::default()
            .add_raw("allow.toml", file.allow)
            .unwrap_err()
    }

    fn result(eco: Ecosystem, name: &str, version: &str, findings: Vec<Finding>) -> PackageResult {
        let mut r = PackageResult::pending(eco, name, Some(version));
        r.findings = findings;
        r.verdict = Verdict::judge(&r.findings);
        r
    }

    fn day(s: &str) -> time::Date {
        parse_date(&toml::Value::String(s.into())).unwrap()
    }

    const ENTRY: &str = r#"
        [[allow]]
        package = "crates:percent-encoding@2.3.2"
        code = "content-differs"
        path = "Cargo.toml.orig"
        reason = "packaged dirty: a one-word category fix, reviewed"
        expires = 2027-06-30
    "#;

    #[test]
    fn a_matching_finding_is_allowed_and_the_verdict_judged_without_it() {
        let l = list(ENTRY);
        let mut r = result(
            Ecosystem::Crates,
            "percent_encoding",
            "2.3.2",
            vec![
                Finding::at(Code::ContentDiffers, "Cargo.toml.orig", "differs"),
                Finding::new(Code::Dirty, "dirty"),
            ],
        );
        assert_eq!(r.verdict, Verdict::Mismatch);
        let used = l.apply(&mut r, day("2027-06-30"));
        assert_eq!(used, vec![0]);
        assert_eq!(r.verdict, Verdict::Verified);
        let a = r.findings[0].allowed.as_ref().expect("allowed");
        assert!(a.reason.starts_with("packaged dirty"));
        assert_eq!(a.expires.as_deref(), Some("2027-06-30"));
        assert!(r.findings[1].allowed.is_none());
        assert!(l.warnings(&used, day("2027-06-30")).is_empty());
    }

    #[test]
    fn another_path_version_or_code_is_not_allowed_and_the_entry_is_a_warning() {
        let l = list(ENTRY);
        for (version, finding) in [
            (
                "2.3.2",
                Finding::at(Code::ContentDiffers, "src/lib.rs", "x"),
            ),
            (
                "2.3.3",
                Finding::at(Code::ContentDiffers, "Cargo.toml.orig", "x"),
            ),
            (
                "2.3.2",
                Finding::at(Code::FileNotInSource, "Cargo.toml.orig", "x"),
            ),
        ] {
            let mut r = result(
                Ecosystem::Crates,
                "percent-encoding",
                version,
                vec![finding],
            );
            let used = l.apply(&mut r, day("2026-01-01"));
            assert!(used.is_empty());
            assert_eq!(r.verdict, Verdict::Mismatch);
            assert!(r.findings[0].allowed.is_none());
            let w = l.warnings(&used, day("2026-01-01"));
            assert_eq!(w.len(), 1);
            assert!(w[0].contains("matched no finding"), "{w:?}");
            assert!(w[0].contains("allow.toml: allow entry 1"), "{w:?}");
        }
    }

    #[test]
    fn an_expired_entry_excuses_nothing_and_is_a_warning() {
        let l = list(ENTRY);
        let mut r = result(
            Ecosystem::Crates,
            "percent-encoding",
            "2.3.2",
            vec![Finding::at(Code::ContentDiffers, "Cargo.toml.orig", "x")],
        );
        let used = l.apply(&mut r, day("2027-07-01"));
        assert_eq!(r.verdict, Verdict::Mismatch);
        assert!(r.findings[0].allowed.is_none());
        let w = l.warnings(&used, day("2027-07-01"));
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("expired on 2027-06-30"), "{w:?}");
    }

    #[test]
    fn ranges_in_each_ecosystem() {
        for (pkg, version, hit) in [
            ("crates:foo@>=1.2, <2", "1.9.0", true),
            ("crates:foo@>=1.2, <2", "2.0.0", false),
            ("crates:foo@^1.2", "1.2.5", true),
            ("crates:foo@1.2", "1.2.5", true),
            ("crates:foo@1.2", "1.3.0", false),
            ("crates:foo@1.2.4", "1.2.5", false),
            ("crates:foo@1.2.5", "1.2.5", true),
            ("crates:foo", "0.1.0", true),
            ("crates:foo@*", "9.9.9", true),
            ("pypi:Foo.Bar@>=2.0,<3", "2.5", true),
            ("pypi:foo-bar@>=2.0,<3", "3.0", false),
            ("pypi:foo_bar@~=2.3", "2.9.1", true),
            ("pypi:foo-bar@2.0", "2.0.0", true),
            ("gems:foo@~> 2.3", "2.9.1", true),
            ("gems:foo@~> 2.3", "3.0.0", false),
            ("gems:foo@~> 2.3.1", "2.4.0", false),
            ("gems:foo@>= 1.0, < 2", "1.16.0-x86_64-linux", true),
            ("gems:foo@1.16.0", "1.16.0-x86_64-linux", true),
            ("gems:foo@1.16.0-java", "1.16.0-x86_64-linux", false),
            ("gems:Foo@1.0", "1.0", false),
        ] {
            let l = list(&format!(
                "[[allow]]\npackage = \"{pkg}\"\ncode = \"dirty\"\nreason = \"r\"\n"
            ));
            let eco = Ecosystem::parse(pkg.split(':').next().unwrap()).unwrap();
            let name = if pkg.starts_with("pypi") {
                "foo-bar"
            } else {
                "foo"
            };
            let mut r = result(eco, name, version, vec![Finding::new(Code::Dirty, "d")]);
            let used = l.apply(&mut r, day("2026-01-01"));
            assert_eq!(!used.is_empty(), hit, "{pkg} vs {version}");
        }
    }

    #[test]
    fn globs_stay_within_directories_unless_double_star() {
        let l = list(
            "[[allow]]\npackage = \"pypi:x@1.0\"\ncode = \"content-differs\"\npath = \"tests/*.py\"\nreason = \"r\"\n\
             [[allow]]\npackage = \"pypi:x@1.0\"\ncode = \"content-differs\"\npath = \"docs/**\"\nreason = \"r\"\n",
        );
        for (path, hit) in [
            ("tests/a.py", true),
            ("tests/sub/a.py", false),
            ("docs/a/b/c.md", true),
            ("src/x.py", false),
        ] {
            let mut r = result(
                Ecosystem::Pypi,
                "x",
                "1.0",
                vec![Finding::at(Code::ContentDiffers, path, "d")],
            );
            l.apply(&mut r, day("2026-01-01"));
            assert_eq!(r.findings[0].allowed.is_some(), hit, "{path}");
        }
    }

    #[test]
    fn bad_entries_are_errors_naming_the_entry() {
        let base = "package = \"crates:a@1.0.0\"\ncode = \"dirty\"\nreason = \"r\"\n";
        for (toml_text, says) in [
            (
                "[[allow]]\npackage = \"crates:a@1.0.0\"\ncode = \"dirt\"\nreason = \"r\"\n",
                "unknown finding code `dirt`",
            ),
            (
                "[[allow]]\npackage = \"npm:a@1\"\ncode = \"dirty\"\nreason = \"r\"\n",
                "unknown ecosystem `npm`",
            ),
            (
                "[[allow]]\npackage = \"crates:a@1.0.0\"\ncode = \"dirty\"\nreason = \" \"\n",
                "`reason` is empty",
            ),
            (
                "[[allow]]\npackage = \"crates:a@not.a.version\"\ncode = \"dirty\"\nreason = \"r\"\n",
                "is not a version",
            ),
            (
                &format!("[[allow]]\n{base}[[allow]]\n{base}expires = \"June\"\n"),
                "allow entry 2: `expires` = June",
            ),
        ] {
            let e = err(toml_text);
            assert!(e.contains(says), "{e}");
            assert!(e.starts_with("allow.toml: allow entry"), "{e}");
        }
    }
}

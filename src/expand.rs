//! `name@*`: every published version, limited by `--since DATE` (the registry's publication
//! dates) and then `--newest N`, saying how many versions `@*` named and how many are kept.

use crate::ecosystem::{Ecosystem, RegistryError};
use crate::verify::Verifier;

/// What `@*` keeps: `--since DATE`, then `--newest N`.
#[derive(Default)]
pub struct Limits {
    pub newest: Option<usize>,
    pub since: Option<String>,
    pub quiet: bool,
    /// Name patterns (`crates:*@*`, `src/listing/`): where each registry is listed
    /// (`--listing`), over the profile's `listing`.
    pub listings: std::collections::BTreeMap<Ecosystem, String>,
    /// Name patterns: the shard, applied as the listing is expanded.
    pub shard: Option<crate::shard::Shard>,
    /// Name patterns: how many packages' versions are read at once.
    pub jobs: usize,
}

impl Limits {
    /// Every version, oldest first, dated when `--since` needs dates.
    pub async fn versions(
        &self,
        v: &Verifier,
        eco: Ecosystem,
        name: &str,
    ) -> Result<Vec<(String, Option<String>)>, RegistryError> {
        if self.since.is_some() {
            v.dated_versions(eco, name).await
        } else {
            Ok(v.versions(eco, name)
                .await?
                .into_iter()
                .map(|v| (v, None))
                .collect())
        }
    }

    /// Keep what the limits allow and say how many versions `@*` named and how many are kept
    /// (unless quiet). A version the registry gives no date for is not "since" any day.
    pub fn apply(&self, spec: &str, versions: Vec<(String, Option<String>)>) -> Vec<String> {
        let all = versions.len();
        let mut said = format!("note: {spec} expanded to {all} version(s)");
        let mut kept: Vec<String> = match &self.since {
            Some(day) => {
                let undated = versions.iter().filter(|(_, d)| d.is_none()).count();
                let kept: Vec<String> = versions
                    .into_iter()
                    .filter(|(_, d)| d.as_deref().is_some_and(|d| published_since(d, day)))
                    .map(|(v, _)| v)
                    .collect();
                said.push_str(&format!("; {} published since {day}", kept.len()));
                if undated > 0 {
                    said.push_str(&format!(" ({undated} without a date in the registry)"));
                }
                kept
            }
            None => versions.into_iter().map(|(v, _)| v).collect(),
        };
        if let Some(n) = self.newest {
            if kept.len() > n {
                kept.drain(..kept.len() - n);
                said.push_str(&format!("; verifying the newest {n} (--newest)"));
            }
        }
        if !self.quiet {
            crate::stdout::note(&format!("{said}\n"));
        }
        kept
    }
}

/// Was an RFC 3339 UTC time (`2024-05-01T10:00:00Z`) on or after the day `YYYY-MM-DD`?
/// The date part compares as text.
pub(crate) fn published_since(time: &str, day: &str) -> bool {
    time.get(..10).is_some_and(|d| d >= day)
}

/// `YYYY-MM-DD`, a real calendar day (for `--since`).
pub fn parse_day(s: &str) -> Result<String, String> {
    let bad = || format!("--since takes a day as YYYY-MM-DD, got `{s}`");
    let parts: Vec<&str> = s.split('-').collect();
    let [y, m, d] = parts[..] else {
        return Err(bad());
    };
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return Err(bad());
    }
    let (y, m, d): (i32, u8, u8) = (
        y.parse().map_err(|_| bad())?,
        m.parse().map_err(|_| bad())?,
        d.parse().map_err(|_| bad())?,
    );
    let month = time::Month::try_from(m).map_err(|_| bad())?;
    time::Date::from_calendar_date(y, month, d).map_err(|_| bad())?;
    Ok(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_compares_days_and_rejects_non_days() {
        assert!(published_since("2024-05-01T10:00:00Z", "2024-05-01"));
        assert!(published_since("2024-05-02T00:00:00.123Z", "2024-05-01"));
        assert!(!published_since("2024-04-30T23:59:59Z", "2024-05-01"));
        assert_eq!(parse_day("2024-02-29").unwrap(), "2024-02-29");
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "24-01-01",
            "yesterday",
            "2024-1-1",
        ] {
            assert!(parse_day(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn limits_since_then_newest() {
        let l = Limits {
            newest: Some(1),
            since: Some("2024-01-01".into()),
            quiet: true,
            ..Limits::default()
        };
        let vs = vec![
            ("1.0".to_string(), Some("2023-06-01T00:00:00Z".to_string())),
            ("1.1".to_string(), None),
            ("2.0".to_string(), Some("2024-02-01T00:00:00Z".to_string())),
            ("2.1".to_string(), Some("2024-03-01T00:00:00Z".to_string())),
        ];
        assert_eq!(l.apply("crates:x@*", vs), ["2.1"]);
    }
}

//! A version or a version range written in each ecosystem's own syntax: crates semver
//! requirements (`^2.3`, `>=2.3, <3`; a partial version `2.3` is every 2.3.x), PEP 440
//! specifiers (`>=2.0,<3`, `~=2.3`), RubyGems requirements (`~> 2.3`, `>= 1.0, < 2`). A bare
//! version is that version exactly, compared the ecosystem's way (PEP 440 `1.0` == `1.0.0`; a
//! gem version without platform matches every platform). Used by allow entries.

use crate::ecosystem::Ecosystem;

/// Versions of one ecosystem that a pattern covers.
#[derive(Debug, Clone)]
pub struct VersionRange {
    eco: Ecosystem,
    versions: Versions,
}

impl VersionRange {
    /// `*` or empty is every version.
    pub fn parse(eco: Ecosystem, v: &str) -> Result<VersionRange, String> {
        Ok(VersionRange {
            eco,
            versions: parse_versions(eco, v.trim())?,
        })
    }

    pub fn matches(&self, version: &str) -> bool {
        version_matches(self.eco, &self.versions, version)
    }
}

/// Which versions an entry covers.
#[derive(Debug, Clone)]
enum Versions {
    Any,
    Exact(String),
    Crates(semver::VersionReq),
    Pypi(pep440_rs::VersionSpecifiers),
    Gems(Vec<(GemOp, String)>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GemOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    /// `~> 2.3` is `>= 2.3, < 3`; `~> 2.3.1` is `>= 2.3.1, < 2.4`.
    Pessimistic,
}

/// A version or a range in the ecosystem's own syntax: crates semver requirements
/// (`^2.3`, `>=2.3, <3`), PEP 440 specifiers (`>=2.0,<3`, `~=2.3`), RubyGems requirements
/// (`~> 2.3`, `>= 1.0, < 2`). A bare version is that version exactly.
fn parse_versions(eco: Ecosystem, v: &str) -> Result<Versions, String> {
    if v.is_empty() || v == "*" {
        return Ok(Versions::Any);
    }
    let is_range = v.contains(['<', '>', '=', '^', '~', '*', ',', '!']);
    match eco {
        Ecosystem::Crates if is_range => semver::VersionReq::parse(v)
            .map(Versions::Crates)
            .map_err(|e| format!("`{v}` is not a semver range: {e}")),
        Ecosystem::Crates => match semver::Version::parse(v) {
            Ok(_) => Ok(Versions::Exact(v.to_string())),
            // A partial version (`1.2`) is every version it starts (`=1.2`: 1.2.x).
            Err(e) => semver::VersionReq::parse(&format!("={v}"))
                .map(Versions::Crates)
                .map_err(|_| format!("`{v}` is not a version: {e}")),
        },
        Ecosystem::Pypi if is_range => v
            .parse::<pep440_rs::VersionSpecifiers>()
            .map(Versions::Pypi)
            .map_err(|e| format!("`{v}` is not a PEP 440 range: {e}")),
        Ecosystem::Pypi => crate::pypi::parse_version(v)
            .map(|_| Versions::Exact(v.to_string()))
            .ok_or_else(|| format!("`{v}` is not a PEP 440 version")),
        Ecosystem::Gems if is_range => parse_gem_requirement(v).map(Versions::Gems),
        Ecosystem::Gems => Ok(Versions::Exact(v.to_string())),
    }
}

fn parse_gem_requirement(req: &str) -> Result<Vec<(GemOp, String)>, String> {
    let mut out = Vec::new();
    for part in req.split(',') {
        let part = part.trim();
        let (op, rest) = [
            ("~>", GemOp::Pessimistic),
            (">=", GemOp::Ge),
            ("<=", GemOp::Le),
            ("!=", GemOp::Ne),
            ("=", GemOp::Eq),
            (">", GemOp::Gt),
            ("<", GemOp::Lt),
        ]
        .into_iter()
        .find_map(|(s, op)| part.strip_prefix(s).map(|r| (op, r.trim())))
        .unwrap_or((GemOp::Eq, part));
        if rest.is_empty() || !rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '.') {
            return Err(format!(
                "`{req}` is not a RubyGems requirement (e.g. `~> 2.3` or `>= 1.0, < 2`)"
            ));
        }
        out.push((op, rest.to_string()));
    }
    Ok(out)
}

fn version_matches(eco: Ecosystem, want: &Versions, version: &str) -> bool {
    use std::cmp::Ordering::*;
    match want {
        Versions::Any => true,
        Versions::Exact(v) => match eco {
            Ecosystem::Crates => v == version,
            Ecosystem::Pypi => {
                crate::pypi::parse_version(v).is_some()
                    && crate::pypi::parse_version(v) == crate::pypi::parse_version(version)
            }
            Ecosystem::Gems => {
                let (num, platform) = crate::gems::version::split_platform(version);
                let (want_num, want_platform) = crate::gems::version::split_platform(v);
                crate::gems::version::compare(want_num, num) == Equal
                    && (want_platform.is_none() || want_platform == platform)
            }
        },
        Versions::Crates(req) => semver::Version::parse(version).is_ok_and(|v| req.matches(&v)),
        Versions::Pypi(spec) => {
            crate::pypi::parse_version(version).is_some_and(|v| spec.contains(&v))
        }
        Versions::Gems(reqs) => {
            let (num, _) = crate::gems::version::split_platform(version);
            reqs.iter().all(|(op, v)| {
                let o = crate::gems::version::compare(num, v);
                match op {
                    GemOp::Eq => o == Equal,
                    GemOp::Ne => o != Equal,
                    GemOp::Gt => o == Greater,
                    GemOp::Ge => o != Less,
                    GemOp::Lt => o == Less,
                    GemOp::Le => o != Greater,
                    GemOp::Pessimistic => {
                        o != Less && crate::gems::version::compare(num, &gem_bump(v)) == Less
                    }
                }
            })
        }
    }
}

/// The upper bound of `~> v`: drop the last release segment and increment the one before
/// (`2.3` → `3`, `2.3.1` → `2.4`, `2` → `3`).
fn gem_bump(v: &str) -> String {
    let mut nums: Vec<u64> = v
        .split('.')
        .take_while(|s| s.chars().all(|c| c.is_ascii_digit()) && !s.is_empty())
        .filter_map(|s| s.parse().ok())
        .collect();
    if nums.len() > 1 {
        nums.pop();
    }
    if let Some(last) = nums.last_mut() {
        *last += 1;
    }
    nums.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gem_pessimistic_bound() {
        assert_eq!(gem_bump("2.3"), "3");
        assert_eq!(gem_bump("2.3.1"), "2.4");
        assert_eq!(gem_bump("2"), "3");
    }

    #[test]
    fn bad_ranges_are_errors() {
        assert!(VersionRange::parse(Ecosystem::Crates, ">=x").is_err());
        assert!(VersionRange::parse(Ecosystem::Pypi, ">=2.0,<<3").is_err());
        assert!(VersionRange::parse(Ecosystem::Gems, "~> 2.3; rm").is_err());
        assert!(VersionRange::parse(Ecosystem::Crates, "*")
            .unwrap()
            .matches("0.0.1"));
    }
}

//! Package specs as users write them: `<ecosystem>:<name>[@<version>]`, `@*` for every version.

use std::fmt;

use crate::ecosystem::Ecosystem;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum VersionReq {
    /// The newest version that is not yanked.
    Latest,
    Exact(String),
    /// Every published version.
    All,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Spec {
    pub ecosystem: Ecosystem,
    pub name: String,
    pub version: VersionReq,
    /// SHA-256 digests a lockfile pins for this version (`Cargo.lock` `checksum`,
    /// requirements `--hash`, uv.lock's sdist hash): the artifact's must be among them.
    pub hashes: Vec<String>,
    /// The lockfile line this spec was read from, when it came from one.
    pub origin: Option<crate::report::LockfileLine>,
}

impl fmt::Display for Spec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.ecosystem, self.name)?;
        match &self.version {
            VersionReq::Latest => Ok(()),
            VersionReq::Exact(v) => write!(f, "@{v}"),
            VersionReq::All => write!(f, "@*"),
        }
    }
}

impl Spec {
    pub fn parse(input: &str) -> Result<Spec, String> {
        let s = input.trim();
        let (eco, rest) = s.split_once(':').ok_or_else(|| {
            format!("`{s}` is not a package spec: expected ECOSYSTEM:NAME[@VERSION], e.g. crates:serde@1.0.210")
        })?;
        let ecosystem = Ecosystem::parse(&eco.to_ascii_lowercase()).ok_or_else(|| {
            format!("`{s}`: unknown ecosystem `{eco}` (expected crates, pypi or gems)")
        })?;
        let (name, version) = match rest.rsplit_once('@') {
            Some((n, v)) if !n.is_empty() => (n, Some(v)),
            _ => (rest, None),
        };
        let name = name.trim();
        if name.is_empty() {
            return Err(format!("`{s}`: the package name is empty"));
        }
        if name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '/' || c == '\\')
        {
            return Err(format!("`{s}`: `{name}` is not a valid package name"));
        }
        let version = match version.map(str::trim) {
            None => VersionReq::Latest,
            Some("") => return Err(format!("`{s}`: the version after `@` is empty")),
            Some("*") => VersionReq::All,
            Some(v)
                if v.chars()
                    .any(|c| c.is_whitespace() || c.is_control() || c == '/') =>
            {
                return Err(format!("`{s}`: `{v}` is not a valid version"))
            }
            Some(v) => VersionReq::Exact(v.to_string()),
        };
        Ok(Spec {
            ecosystem,
            name: name.to_string(),
            version,
            hashes: Vec::new(),
            origin: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms() {
        let s = Spec::parse("crates:serde@1.0.210").unwrap();
        assert_eq!(s.ecosystem, Ecosystem::Crates);
        assert_eq!(s.name, "serde");
        assert_eq!(s.version, VersionReq::Exact("1.0.210".into()));
        assert_eq!(
            Spec::parse("pypi:click").unwrap().version,
            VersionReq::Latest
        );
        assert_eq!(Spec::parse("gems:rack@*").unwrap().version, VersionReq::All);
        assert_eq!(
            Spec::parse("crates:serde@1.0.210").unwrap().to_string(),
            "crates:serde@1.0.210"
        );
    }

    #[test]
    fn bad_specs_say_why() {
        assert!(Spec::parse("serde")
            .unwrap_err()
            .contains("expected ECOSYSTEM:NAME"));
        assert!(Spec::parse("npm:left-pad")
            .unwrap_err()
            .contains("unknown ecosystem"));
        assert!(Spec::parse("crates:").unwrap_err().contains("empty"));
        assert!(Spec::parse("crates:foo@").unwrap_err().contains("empty"));
        assert!(Spec::parse("crates:a/b").is_err());
    }
}

//! Every gem and version of a RubyGems server, for name patterns (`gems:*@*`): the compact
//! index `/versions` file, what Bundler reads. After a `created_at: <time>` header and `---`,
//! one line per gem, `<name> <v1>,<v2>,... <md5 of its info file>`, a version spelled
//! `number[-platform]`; lines are appended as gems are pushed and yanked, so one gem may have
//! several lines, and `-<version>` on a later line yanks it. The file has no per-version dates:
//! `--since` asks the API for each matching gem's dates.

use std::collections::HashMap;
use std::io::{BufRead, Read};

use async_trait::async_trait;

use crate::ecosystem::{RegistryCx, RegistryError};
use crate::listing::{Emit, ListCx, Listed, ListedVersion, Lister, Listing, NamePattern};
use crate::profile::join_url;

pub struct VersionsFile;

#[async_trait]
impl Lister for VersionsFile {
    async fn list(&self, cx: ListCx<'_>) -> Result<Listing, RegistryError> {
        let source = cx
            .source
            .map(str::to_string)
            .unwrap_or_else(|| join_url(&cx.profile.url, "versions"));
        let names = cx.names.clone();
        let out = cx.out;
        crate::listing::read_source(cx.http, &source, None, "gems", cx.quiet, move |r| {
            read_versions(r, &names, &mut |p| {
                out.send(p);
            })
        })
        .await
    }

    fn dated(&self) -> bool {
        false
    }

    /// A yanked gem is removed from the server: nothing to download, and the API's version
    /// list (`gems:NAME@*`) leaves it out too.
    fn serves_yanked(&self) -> bool {
        false
    }

    async fn versions(
        &self,
        cx: &RegistryCx<'_>,
        name: &str,
    ) -> Result<Vec<ListedVersion>, RegistryError> {
        // The API lists only versions that are not yanked.
        let entries = super::registry::list(cx, name).await?;
        Ok(super::registry::ordered_dated(&entries)
            .into_iter()
            .map(|(version, published)| ListedVersion {
                version,
                published,
                yanked: false,
            })
            .collect())
    }
}

/// Read a `/versions` file and send the gems whose names match, in name order, each version
/// oldest first (RubyGems version order, the `ruby` platform before the others), yanked ones
/// marked.
pub fn read_versions(
    r: &mut dyn Read,
    names: &NamePattern,
    emit: Emit<'_>,
) -> Result<Listing, String> {
    let reader = std::io::BufReader::with_capacity(1 << 16, r);
    let mut about = None;
    let mut body = false;
    let mut gems: HashMap<String, Vec<(String, bool)>> = HashMap::new();
    for (n, line) in reader.split(b'\n').enumerate() {
        let line = line.map_err(|e| format!("line {}: {e}", n + 1))?;
        let line = String::from_utf8_lossy(&line);
        let line = line.trim_end_matches('\r');
        if !body {
            if let Some(at) = line.strip_prefix("created_at:") {
                about = Some(format!("versions file created at {}", at.trim()));
            } else if line == "---" {
                body = true;
            }
            continue;
        }
        let mut parts = line.split(' ');
        let (Some(name), Some(list)) = (parts.next(), parts.next()) else {
            continue;
        };
        if name.is_empty() || !names.matches(name) {
            continue;
        }
        let versions = gems.entry(name.to_string()).or_default();
        for v in list.split(',').filter(|v| !v.is_empty()) {
            let (yanked, v) = match v.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, v),
            };
            match versions.iter_mut().find(|(have, _)| have == v) {
                Some(entry) => entry.1 = yanked,
                None => versions.push((v.to_string(), yanked)),
            }
        }
    }
    if !body {
        return Err("not a compact index versions file (no `---` line)".to_string());
    }
    let mut gems: Vec<(String, Vec<(String, bool)>)> = gems.into_iter().collect();
    gems.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, mut versions) in gems {
        versions.sort_by(|(a, _), (b, _)| order(a, b));
        emit(Listed {
            name,
            versions: Some(
                versions
                    .into_iter()
                    .map(|(version, yanked)| ListedVersion {
                        version,
                        published: None,
                        yanked,
                    })
                    .collect(),
            ),
        });
    }
    Ok(Listing {
        about,
        dropped: Default::default(),
    })
}

/// The order `gems:NAME@*` lists versions in (`registry::ordered`): by number, the `ruby`
/// platform first, then by platform.
fn order(a: &str, b: &str) -> std::cmp::Ordering {
    let (na, pa) = super::version::split_platform(a);
    let (nb, pb) = super::version::split_platform(b);
    super::version::compare(na, nb)
        .then_with(|| pa.is_some().cmp(&pb.is_some()))
        .then_with(|| pa.cmp(&pb))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ecosystem::Ecosystem;

    /// What a versions file sends, collected.
    #[derive(Debug)]
    struct Sent {
        packages: Vec<Listed>,
        about: Option<String>,
    }

    fn read_versions(r: &mut dyn Read, names: &NamePattern) -> Result<Sent, String> {
        let mut packages = Vec::new();
        let l = super::read_versions(r, names, &mut |p| packages.push(p))?;
        Ok(Sent {
            packages,
            about: l.about,
        })
    }

    const FILE: &str = "created_at: 2024-04-01T00:00:05+00:00\n---\n\
        - 1 05d0116933ba44b0b5d0ee19bfd35ccc\n\
        nokogiri 1.15.0,1.15.0-x86_64-linux,1.15.0-java,1.16.0 aaa\n\
        rack 2.2.8,3.0.0 bbb\n\
        rack 3.0.1 ccc\n\
        rack -3.0.0 ddd\n\
        rails 7.1.0 eee\n";

    #[test]
    fn versions_file_with_appends_yanks_and_platforms() {
        let all = NamePattern::new(Ecosystem::Gems, "*").unwrap();
        let l = read_versions(&mut FILE.as_bytes(), &all).unwrap();
        let names: Vec<&str> = l.packages.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["-", "nokogiri", "rack", "rails"]);
        let vs = |i: usize| -> Vec<(String, bool)> {
            l.packages[i]
                .versions
                .as_ref()
                .unwrap()
                .iter()
                .map(|v| (v.version.clone(), v.yanked))
                .collect()
        };
        assert_eq!(
            vs(1),
            [
                ("1.15.0".to_string(), false),
                ("1.15.0-java".to_string(), false),
                ("1.15.0-x86_64-linux".to_string(), false),
                ("1.16.0".to_string(), false)
            ]
        );
        assert_eq!(
            vs(2),
            [
                ("2.2.8".to_string(), false),
                ("3.0.0".to_string(), true),
                ("3.0.1".to_string(), false)
            ]
        );
        assert_eq!(
            l.about.as_deref(),
            Some("versions file created at 2024-04-01T00:00:05+00:00")
        );
        let ra = NamePattern::new(Ecosystem::Gems, "ra*").unwrap();
        let l = read_versions(&mut FILE.as_bytes(), &ra).unwrap();
        assert_eq!(l.packages.len(), 2);
        assert!(read_versions(&mut &b"<html>"[..], &all).is_err());
    }
}

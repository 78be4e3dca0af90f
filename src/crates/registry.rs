//! The cargo sparse index: `config.json` at the root gives the download template; one file per
//! crate lists every version as a JSON line with `vers`, `cksum` (SHA-256) and `yanked`.

use serde::Deserialize;

use crate::ecosystem::{RegistryCx, RegistryError, Resolved};
use crate::http::HttpError;
use crate::profile::join_url;

#[derive(Debug, Deserialize)]
pub(crate) struct Config {
    dl: String,
    /// The web API's base (crates.io: `https://crates.io`), where trusted-publishing data is.
    #[serde(default)]
    pub(crate) api: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct IndexLine {
    pub name: String,
    pub vers: String,
    pub cksum: String,
    #[serde(default)]
    pub yanked: bool,
    /// When the version was published (newer index lines carry it; RFC 3339).
    #[serde(default)]
    pub pubtime: Option<String>,
    /// What cargo resolves against (checked against the published manifest by
    /// `crates::index_deps`); kept as JSON so an odd entry never makes the line unreadable.
    #[serde(default)]
    pub deps: Option<serde_json::Value>,
    #[serde(default)]
    pub features: Option<serde_json::Value>,
    #[serde(default)]
    pub features2: Option<serde_json::Value>,
    #[serde(default)]
    pub links: Option<serde_json::Value>,
}

/// The index path of a crate: `1/a`, `2/ab`, `3/a/abc`, `ab/cd/abcd...`, lower-cased.
pub fn index_path(name: &str) -> String {
    let n = name.to_ascii_lowercase();
    match n.len() {
        0 => String::new(),
        1 => format!("1/{n}"),
        2 => format!("2/{n}"),
        3 => format!("3/{}/{n}", &n[..1]),
        _ => format!("{}/{}/{n}", &n[..2], &n[2..4]),
    }
}

/// Fill the `dl` template. Without any marker, cargo appends `/{crate}/{version}/download`.
pub fn download_url(dl: &str, name: &str, version: &str, cksum: &str) -> String {
    const MARKERS: [&str; 5] = [
        "{crate}",
        "{version}",
        "{prefix}",
        "{lowerprefix}",
        "{sha256-checksum}",
    ];
    if !MARKERS.iter().any(|m| dl.contains(m)) {
        return format!("{}/{name}/{version}/download", dl.trim_end_matches('/'));
    }
    let prefix = {
        let p = index_path(name);
        // The prefix is the index path without the final name component, in the name's case.
        let dirs = p
            .rsplit_once('/')
            .map(|(d, _)| d.to_string())
            .unwrap_or_default();
        let original = match name.len() {
            1 => "1".to_string(),
            2 => "2".to_string(),
            3 => format!("3/{}", &name[..1]),
            _ => format!("{}/{}", &name[..2], &name[2..4]),
        };
        (original, dirs)
    };
    dl.replace("{crate}", name)
        .replace("{version}", version)
        .replace("{prefix}", &prefix.0)
        .replace("{lowerprefix}", &prefix.1)
        .replace("{sha256-checksum}", cksum)
}

pub(crate) async fn config(cx: &RegistryCx<'_>) -> Result<Config, RegistryError> {
    let url = join_url(&cx.profile.url, "config.json");
    // Read once per run by the registry check before any package; asked again (once, through
    // the metadata cache) only when a caller skipped that check.
    if let Some(v) = &cx.profile.index_config {
        return Config::deserialize(v).map_err(|e| {
            RegistryError::Failed(format!("{url} is not a sparse index config.json: {e}"))
        });
    }
    let body = cx
        .http
        .get_meta(&url, None)
        .await
        .map_err(|e| RegistryError::Failed(format!("registry config: {e}")))?;
    serde_json::from_slice(&body.bytes)
        .map_err(|e| RegistryError::Failed(format!("{url} is not a sparse index config.json: {e}")))
}

/// Every version line of a crate, in index order (oldest first).
pub async fn lines(cx: &RegistryCx<'_>, name: &str) -> Result<Vec<IndexLine>, RegistryError> {
    if !valid_name(name) {
        return Err(RegistryError::NotFound(format!(
            "`{name}` is not a valid crate name"
        )));
    }
    let url = join_url(&cx.profile.url, &index_path(name));
    let body = match cx.http.get_meta(&url, None).await {
        Ok(b) => b,
        Err(HttpError::NotFound { .. }) => {
            return Err(RegistryError::NotFound(format!(
                "crate `{name}` is not in the index {}",
                cx.profile.url
            )))
        }
        Err(e) => return Err(RegistryError::Failed(format!("index: {e}"))),
    };
    parse_index(&String::from_utf8_lossy(&body.bytes), name, &url)
}

/// The lines of a crate's index file (`url` names it in messages). A line that is not an
/// index entry is skipped; a line for another crate is an error (the index is input too).
pub fn parse_index(text: &str, name: &str, url: &str) -> Result<Vec<IndexLine>, RegistryError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        // One line cargo cannot read does not make the other versions unusable: cargo
        // itself skips such lines.
        let l: IndexLine = match serde_json::from_str(line) {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!("{url}, line {}: skipped, not an index entry: {e}", i + 1);
                continue;
            }
        };
        // The index is input too: a line for another crate (or a name that is not a valid
        // crate name, which the download template would be built from) is not this crate's.
        if !same_crate(&l.name, name) {
            return Err(RegistryError::Failed(format!(
                "{url}, line {}: lists crate `{}`, not `{name}`",
                i + 1,
                l.name
            )));
        }
        // `vers` and `cksum` go into download URLs and file names: only what cargo accepts.
        if semver::Version::parse(&l.vers).is_err()
            || l.cksum.len() != 64
            || !l.cksum.bytes().all(|b| b.is_ascii_hexdigit())
        {
            tracing::warn!(
                "{url}, line {}: skipped, `vers` is not a version or `cksum` not a SHA-256",
                i + 1
            );
            continue;
        }
        out.push(l);
    }
    Ok(out)
}

/// crates.io treats case and `-`/`_` as the same name.
fn same_crate(a: &str, b: &str) -> bool {
    valid_name(a)
        && a.replace('_', "-")
            .eq_ignore_ascii_case(&b.replace('_', "-"))
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Resolve a version (newest non-yanked by semver when `None`).
pub async fn resolve(
    cx: &RegistryCx<'_>,
    name: &str,
    version: Option<&str>,
) -> Result<Resolved, RegistryError> {
    let all = lines(cx, name).await?;
    let chosen = match version {
        Some(v) => all
            .iter()
            .find(|l| l.vers == v || l.vers.split('+').next() == Some(v))
            .cloned()
            .ok_or_else(|| {
                RegistryError::NotFound(format!("crate `{name}` has no version {v} in the index"))
            })?,
        None => all
            .iter()
            .filter(|l| !l.yanked)
            .filter_map(|l| semver::Version::parse(&l.vers).ok().map(|v| (v, l)))
            .filter(|(v, _)| v.pre.is_empty())
            .max_by(|a, b| a.0.cmp(&b.0))
            .or_else(|| {
                all.iter()
                    .filter(|l| !l.yanked)
                    .filter_map(|l| semver::Version::parse(&l.vers).ok().map(|v| (v, l)))
                    .max_by(|a, b| a.0.cmp(&b.0))
            })
            .map(|(_, l)| l.clone())
            .ok_or_else(|| {
                RegistryError::NotFound(format!("crate `{name}` has no version that is not yanked"))
            })?,
    };
    let cfg = config(cx).await?;
    let url = download_url(&cfg.dl, &chosen.name, &chosen.vers, &chosen.cksum);
    Ok(Resolved {
        name: chosen.name.clone(),
        version: chosen.vers.clone(),
        filename: format!("{}-{}.crate", chosen.name, chosen.vers),
        url,
        sha256: Some(chosen.cksum.to_ascii_lowercase()),
        repository_hints: Vec::new(),
        extra: serde_json::json!({
            "yanked": chosen.yanked,
            "index": {
                "deps": chosen.deps,
                "features": chosen.features,
                "features2": chosen.features2,
                "links": chosen.links,
                "registry": cx.profile.url,
                "pubtime": chosen.pubtime,
            },
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_lines_must_name_the_crate() {
        assert!(same_crate("Foo_Bar", "foo-bar"));
        assert!(!same_crate("other", "foo"));
        assert!(!same_crate("é", "é"));
    }

    #[test]
    fn bad_index_lines_are_skipped() {
        let ok = format!(
            r#"{{"name":"foo","vers":"1.0.0","cksum":"{}"}}"#,
            "a".repeat(64)
        );
        let text = format!(
            "{{\"name\":\"foo\",\"vers\":\n{ok}\n{}\n{}\n",
            ok.replace("1.0.0", "../../x"),
            ok.replace(&"a".repeat(64), "zz")
        );
        let lines = parse_index(&text, "foo", "u").unwrap();
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].vers, "1.0.0");
        let other = ok.replace("\"foo\"", "\"bar\"");
        assert!(parse_index(&other, "foo", "u").is_err());
    }

    #[test]
    fn index_paths() {
        assert_eq!(index_path("a"), "1/a");
        assert_eq!(index_path("ab"), "2/ab");
        assert_eq!(index_path("abc"), "3/a/abc");
        assert_eq!(index_path("Serde"), "se/rd/serde");
    }

    #[test]
    fn dl_templates() {
        assert_eq!(
            download_url("https://static.crates.io/crates", "serde", "1.0.0", "ab"),
            "https://static.crates.io/crates/serde/1.0.0/download"
        );
        assert_eq!(
            download_url("https://x/{prefix}/{lowerprefix}/{crate}/{crate}-{version}.crate?c={sha256-checksum}", "FooBar", "0.1.0", "ff"),
            "https://x/Fo/oB/fo/ob/FooBar/FooBar-0.1.0.crate?c=ff"
        );
        assert_eq!(
            download_url("https://x/{crate}", "abc", "1.0.0", ""),
            "https://x/abc"
        );
        assert_eq!(
            download_url("https://x/{prefix}/{crate}", "abc", "1.0.0", ""),
            "https://x/3/a/abc"
        );
    }
}

//! The RubyGems API: `/api/v1/versions/<name>.json` lists every version that is not yanked
//! (`number`, `platform`, `sha`, `prerelease`); `/api/v2/rubygems/<name>/versions/<v>.json`
//! describes one (`sha`, `source_code_uri`, `homepage_uri`, `metadata`); the artifact is
//! `/gems/<name>-<number>[-<platform>].gem`. One version number may be published for several
//! platforms: `ruby` (source) is picked unless the spec names one (`1.16.0-x86_64-linux`).

use serde::Deserialize;

use crate::ecosystem::{RegistryCx, RegistryError, Resolved};
use crate::http::HttpError;
use crate::profile::join_url;

use super::version;

/// One entry of `/api/v1/versions/<name>.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct VersionEntry {
    pub number: String,
    #[serde(default = "ruby")]
    pub platform: String,
    #[serde(default)]
    pub sha: Option<String>,
    #[serde(default)]
    pub prerelease: Option<bool>,
    /// When the version was pushed (the v1 API's `created_at`).
    #[serde(default)]
    pub created_at: Option<String>,
}

fn ruby() -> String {
    "ruby".to_string()
}

impl VersionEntry {
    fn is_ruby(&self) -> bool {
        self.platform.is_empty() || self.platform == "ruby"
    }

    fn is_prerelease(&self) -> bool {
        self.prerelease
            .unwrap_or_else(|| version::is_prerelease(&self.number))
    }

    /// `number` for the `ruby` platform, `number-platform` otherwise (the gem's full name).
    pub fn full_version(&self) -> String {
        if self.is_ruby() {
            self.number.clone()
        } else {
            format!("{}-{}", self.number, self.platform)
        }
    }
}

/// Gem names are ASCII letters, digits, `.`, `_` and `-` (`Gem::Specification::VALID_NAME_PATTERN`).
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

async fn get_json<T: serde::de::DeserializeOwned>(
    cx: &RegistryCx<'_>,
    url: &str,
    not_found: impl FnOnce() -> String,
) -> Result<T, RegistryError> {
    let body = match cx.http.get_meta(url, Some("application/json")).await {
        Ok(b) => b,
        Err(HttpError::NotFound { .. }) => return Err(RegistryError::NotFound(not_found())),
        Err(e) => return Err(RegistryError::Failed(e.to_string())),
    };
    serde_json::from_slice(&body.bytes)
        .map_err(|e| RegistryError::Failed(format!("{url} did not answer the RubyGems API: {e}")))
}

/// Every published (not yanked) version of a gem, as the registry lists them: the v1 API, or
/// the compact index (`/info/<name>`, what Bundler reads) on servers without it (gemstash).
pub async fn list(cx: &RegistryCx<'_>, name: &str) -> Result<Vec<VersionEntry>, RegistryError> {
    if !valid_name(name) {
        return Err(RegistryError::NotFound(format!(
            "`{name}` is not a valid gem name"
        )));
    }
    let not_found = || format!("gem `{name}` is not on {}", cx.profile.url);
    let url = join_url(&cx.profile.url, &format!("api/v1/versions/{name}.json"));
    let v1_err = match get_json(cx, &url, not_found).await {
        Ok(list) => return Ok(list),
        Err(e) => e,
    };
    let info_url = join_url(&cx.profile.url, &format!("info/{name}"));
    match cx.http.get_meta(&info_url, None).await {
        Ok(body) => {
            let text = String::from_utf8_lossy(&body.bytes);
            match parse_compact_info(&text) {
                Some(list) => Ok(list),
                None => Err(v1_err),
            }
        }
        Err(HttpError::NotFound { .. }) => Err(v1_err),
        Err(e) => Err(match v1_err {
            RegistryError::NotFound(_) => v1_err,
            _ => RegistryError::Failed(format!("{v1_err}; compact index: {e}")),
        }),
    }
}

/// A compact index `info` file: after `---`, one line per version,
/// `<number>[-<platform>] <deps>|checksum:<sha256>,ruby:...`. `None` when it is not one.
pub fn parse_compact_info(text: &str) -> Option<Vec<VersionEntry>> {
    let mut lines = text.lines();
    if lines.next()?.trim() != "---" {
        return None;
    }
    let mut out = Vec::new();
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let head = line.split(' ').next()?;
        let reqs = line.split_once('|').map(|(_, r)| r).unwrap_or("");
        let sha = reqs
            .split(',')
            .find_map(|kv| kv.trim().strip_prefix("checksum:"))
            .map(str::to_string);
        let (number, platform) = version::split_platform(head);
        out.push(VersionEntry {
            number: number.to_string(),
            platform: platform.unwrap_or("ruby").to_string(),
            sha,
            prerelease: None,
            created_at: None,
        });
    }
    Some(out)
}

/// The v2 description of one version: digest and project URLs.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct VersionInfo {
    #[serde(default)]
    pub sha: Option<String>,
    #[serde(default)]
    pub source_code_uri: Option<String>,
    #[serde(default)]
    pub homepage_uri: Option<String>,
    #[serde(default)]
    pub homepage: Option<String>,
    #[serde(default)]
    pub bug_tracker_uri: Option<String>,
    #[serde(default)]
    pub metadata: std::collections::BTreeMap<String, serde_json::Value>,
}

impl VersionInfo {
    /// Repository candidates, in the order the artifact's own metadata is read.
    pub fn repository_candidates(&self) -> Vec<String> {
        let meta = |k: &str| {
            self.metadata
                .get(k)
                .and_then(|v| v.as_str())
                .map(str::to_string)
        };
        let mut out = Vec::new();
        out.extend(
            self.source_code_uri
                .clone()
                .or_else(|| meta("source_code_uri")),
        );
        out.extend(self.homepage_uri.clone());
        out.extend(self.homepage.clone());
        out.extend(meta("homepage_uri"));
        out.extend(
            self.bug_tracker_uri
                .clone()
                .or_else(|| meta("bug_tracker_uri")),
        );
        super::artifact::git_candidates(out)
    }
}

pub async fn version_info(
    cx: &RegistryCx<'_>,
    name: &str,
    number: &str,
    platform: &str,
) -> Result<VersionInfo, RegistryError> {
    let mut url = join_url(
        &cx.profile.url,
        &format!("api/v2/rubygems/{name}/versions/{number}.json"),
    );
    if platform != "ruby" {
        url.push_str(&format!("?platform={platform}"));
    }
    get_json(cx, &url, || {
        format!(
            "gem `{name}` has no version {number} ({platform}) on {}",
            cx.profile.url
        )
    })
    .await
}

/// Pick the entry a version spec names: an exact `number` on the `ruby` platform, else
/// `number-platform`. `None` spec: the newest release (not prerelease) for `ruby`, else the
/// newest prerelease.
pub fn choose<'a>(
    entries: &'a [VersionEntry],
    name: &str,
    spec: Option<&str>,
) -> Result<&'a VersionEntry, String> {
    let Some(spec) = spec else {
        let ruby: Vec<&VersionEntry> = entries.iter().filter(|e| e.is_ruby()).collect();
        let newest = |pre: bool| {
            ruby.iter()
                .filter(|e| pre || !e.is_prerelease())
                .max_by(|a, b| version::compare(&a.number, &b.number))
                .copied()
        };
        return newest(false).or_else(|| newest(true)).ok_or_else(|| {
            if entries.is_empty() {
                format!("gem `{name}` has no version that is not yanked")
            } else {
                format!(
                    "gem `{name}` is only published for platforms ({}); name one, e.g. gems:{name}@{}",
                    platforms(entries.iter()),
                    entries[0].full_version()
                )
            }
        });
    };
    if let Some(e) = entries.iter().find(|e| e.is_ruby() && e.number == spec) {
        return Ok(e);
    }
    let (number, platform) = version::split_platform(spec);
    if let Some(p) = platform {
        if let Some(e) = entries
            .iter()
            .find(|e| e.number == number && e.platform == p)
        {
            return Ok(e);
        }
    }
    let same_number: Vec<&VersionEntry> = entries.iter().filter(|e| e.number == number).collect();
    Err(if same_number.is_empty() {
        format!("gem `{name}` has no version {spec} (yanked or never published)")
    } else {
        format!(
            "gem `{name}` {number} is published for {}, not {}",
            platforms(same_number.into_iter()),
            platform.unwrap_or("ruby")
        )
    })
}

fn platforms<'a>(entries: impl Iterator<Item = &'a VersionEntry>) -> String {
    let mut p: Vec<&str> = entries.map(|e| e.platform.as_str()).collect();
    p.sort();
    p.dedup();
    p.join(", ")
}

/// [`ordered`], each with when it was pushed.
pub fn ordered_dated(entries: &[VersionEntry]) -> Vec<(String, Option<String>)> {
    ordered(entries)
        .into_iter()
        .map(|v| {
            let at = entries
                .iter()
                .find(|e| e.full_version() == v)
                .and_then(|e| e.created_at.clone());
            (v, at)
        })
        .collect()
}

/// Every version, oldest first; platform builds as `number-platform`.
pub fn ordered(entries: &[VersionEntry]) -> Vec<String> {
    let mut v: Vec<&VersionEntry> = entries.iter().collect();
    v.sort_by(|a, b| {
        version::compare(&a.number, &b.number)
            .then_with(|| (!a.is_ruby()).cmp(&!b.is_ruby()))
            .then_with(|| a.platform.cmp(&b.platform))
    });
    v.into_iter().map(VersionEntry::full_version).collect()
}

pub async fn resolve(
    cx: &RegistryCx<'_>,
    name: &str,
    spec: Option<&str>,
) -> Result<Resolved, RegistryError> {
    let entries = list(cx, name).await?;
    let chosen = choose(&entries, name, spec).map_err(RegistryError::NotFound)?;
    let mut sha = chosen
        .sha
        .clone()
        .filter(|s| s.len() == 64 && s.chars().all(|c| c.is_ascii_hexdigit()));
    if sha.is_none() {
        // Some mirrors leave `sha` out of the list; the per-version API has it.
        sha = version_info(cx, name, &chosen.number, &chosen.platform)
            .await
            .ok()
            .and_then(|i| i.sha);
    }
    let full = chosen.full_version();
    let filename = format!("{name}-{full}.gem");
    Ok(Resolved {
        name: name.to_string(),
        version: full,
        url: join_url(&cx.profile.url, &format!("gems/{filename}")),
        filename,
        sha256: sha.map(|s| s.to_ascii_lowercase()),
        repository_hints: Vec::new(),
        extra: serde_json::json!({
            "number": chosen.number,
            "platform": chosen.platform,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries() -> Vec<VersionEntry> {
        serde_json::from_str(
            r#"[
            {"number":"1.16.0","platform":"x86_64-linux","sha":"aa","prerelease":false},
            {"number":"1.16.0","platform":"ruby","sha":"bb","prerelease":false},
            {"number":"1.16.0","platform":"java","sha":"cc","prerelease":false},
            {"number":"1.17.0.rc1","platform":"ruby","sha":"dd","prerelease":true},
            {"number":"1.9.9","platform":"ruby","sha":"ee","prerelease":false,"created_at":"2023-05-06T07:08:09.000Z"},
            {"number":"1.15.6","platform":"arm64-darwin","sha":"ff","prerelease":false}
        ]"#,
        )
        .unwrap()
    }

    #[test]
    fn picks_ruby_platform_unless_named() {
        let e = entries();
        assert_eq!(
            choose(&e, "n", Some("1.16.0")).unwrap().sha.as_deref(),
            Some("bb")
        );
        let p = choose(&e, "n", Some("1.16.0-x86_64-linux")).unwrap();
        assert_eq!(p.sha.as_deref(), Some("aa"));
        assert_eq!(p.full_version(), "1.16.0-x86_64-linux");
        assert_eq!(
            choose(&e, "n", Some("1.16.0-java")).unwrap().sha.as_deref(),
            Some("cc")
        );
        let err = choose(&e, "n", Some("1.15.6")).unwrap_err();
        assert!(err.contains("arm64-darwin"), "{err}");
        assert!(choose(&e, "n", Some("2.0.0"))
            .unwrap_err()
            .contains("no version 2.0.0"));
    }

    #[test]
    fn latest_is_newest_ruby_release() {
        let e = entries();
        assert_eq!(choose(&e, "n", None).unwrap().number, "1.16.0");
        assert_eq!(choose(&e, "n", None).unwrap().platform, "ruby");
        let only_pre: Vec<VersionEntry> = e.into_iter().filter(|x| x.is_prerelease()).collect();
        assert_eq!(choose(&only_pre, "n", None).unwrap().number, "1.17.0.rc1");
    }

    #[test]
    fn prerelease_flag_missing_falls_back_to_letters() {
        let e: Vec<VersionEntry> =
            serde_json::from_str(r#"[{"number":"2.0.0.beta"},{"number":"1.0.0"}]"#).unwrap();
        assert_eq!(choose(&e, "n", None).unwrap().number, "1.0.0");
    }

    #[test]
    fn versions_with_when_they_were_pushed() {
        let dated = ordered_dated(&entries());
        assert_eq!(
            dated[0],
            (
                "1.9.9".to_string(),
                Some("2023-05-06T07:08:09.000Z".to_string())
            )
        );
        assert_eq!(dated[2], ("1.16.0".to_string(), None));
    }

    #[test]
    fn versions_oldest_first() {
        assert_eq!(
            ordered(&entries()),
            [
                "1.9.9",
                "1.15.6-arm64-darwin",
                "1.16.0",
                "1.16.0-java",
                "1.16.0-x86_64-linux",
                "1.17.0.rc1"
            ]
        );
    }

    #[test]
    fn compact_index_info() {
        let text = "---\n1.0.0 |checksum:aa\n1.16.0-x86_64-linux racc:~> 1.4|checksum:bb,ruby:>= 3.0\n2.0.0.rc1 a:>= 0,b:< 2|checksum:cc\n";
        let e = parse_compact_info(text).unwrap();
        assert_eq!(e.len(), 3);
        assert_eq!(e[1].number, "1.16.0");
        assert_eq!(e[1].platform, "x86_64-linux");
        assert_eq!(e[1].sha.as_deref(), Some("bb"));
        assert!(e[2].is_prerelease());
        assert_eq!(choose(&e, "n", None).unwrap().number, "1.0.0");
        assert!(parse_compact_info("<html>").is_none());
    }

    #[test]
    fn names_are_checked() {
        assert!(valid_name("rack"));
        assert!(valid_name("net-http_persistent.x"));
        assert!(!valid_name("../x"));
        assert!(!valid_name("a b"));
    }
}

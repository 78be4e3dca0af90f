//! The PyPI Simple API, the protocol every index and mirror serves: `GET <base>/<name>/` lists
//! a project's files. PEP 691 JSON is asked for first; an index that answers with PEP 503 HTML
//! (anchors with `#sha256=` fragments and `data-yanked`) is read too. Versions come from file
//! names, compared by PEP 440. The sdist is picked unless `--pypi-artifact wheel` asks for the
//! wheel; a release without the wanted kind falls back to the other. The JSON API (`/pypi/<name>/json`) is only an extra source of
//! project URLs when the sdist names no repository.

use serde::Deserialize;

use super::{normalize_name, parse_version};
use crate::ecosystem::{RegistryCx, RegistryError, Resolved};
use crate::http::HttpError;
use crate::profile::join_url;

const ACCEPT: &str = "application/vnd.pypi.simple.v1+json, \
     application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01";

/// One file the index lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexFile {
    pub filename: String,
    /// Absolute URL (relative links are resolved against the page).
    pub url: String,
    pub sha256: Option<String>,
    pub yanked: bool,
    /// PEP 700 `upload-time` (JSON pages only).
    pub upload_time: Option<String>,
    /// PEP 740 `provenance` (JSON pages only): `None` when the page does not have the key (a
    /// mirror, an HTML page), `Some(None)` when the index says the file has none.
    pub provenance: Option<Option<String>>,
}

/// What a file name says, for the project being resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileKind {
    Sdist { version: String },
    Wheel { version: String },
}

#[derive(Deserialize)]
struct JsonPage {
    #[serde(default)]
    name: Option<String>,
    files: Vec<JsonFile>,
}

#[derive(Deserialize)]
struct JsonFile {
    filename: String,
    url: String,
    #[serde(default)]
    hashes: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    yanked: serde_json::Value,
    #[serde(default, rename = "upload-time")]
    upload_time: Option<String>,
    #[serde(default, deserialize_with = "present")]
    provenance: Option<Option<String>>,
}

/// A key that is present: `Some(url)` for a string, `Some(None)` for `null` or anything else.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    Ok(Some(v.as_str().map(str::to_string)))
}

/// A project's page: its name as the index spells it and its files.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub name: Option<String>,
    pub files: Vec<IndexFile>,
}

/// Parse a PEP 691 JSON page; relative URLs are resolved against `page_url`.
pub fn parse_json(body: &[u8], page_url: &str) -> Result<Page, String> {
    let page: JsonPage = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let files = page
        .files
        .into_iter()
        .map(|f| IndexFile {
            url: absolute(page_url, &f.url),
            sha256: f.hashes.get("sha256").map(|h| h.to_ascii_lowercase()),
            yanked: match &f.yanked {
                serde_json::Value::Bool(b) => *b,
                serde_json::Value::String(_) => true,
                _ => false,
            },
            upload_time: f.upload_time,
            provenance: f.provenance.map(|p| p.map(|u| absolute(page_url, &u))),
            filename: f.filename,
        })
        .collect();
    Ok(Page {
        name: page.name,
        files,
    })
}

/// Parse a PEP 503 HTML page: every `<a href>`; the file name is the anchor text (or the last
/// URL segment), the digest is the `#sha256=` fragment, `data-yanked` marks a yanked file.
pub fn parse_html(body: &str, page_url: &str) -> Page {
    let anchor = regex::Regex::new(r"(?is)<a\s([^>]*)>(.*?)</a\s*>").expect("regex");
    let attr = regex::Regex::new(
        r#"(?s)([A-Za-z_:][-A-Za-z0-9_:.]*)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s"'>]+))?"#,
    )
    .expect("regex");
    let mut files = Vec::new();
    for cap in anchor.captures_iter(body) {
        let mut href = None;
        let mut yanked = false;
        for a in attr.captures_iter(&cap[1]) {
            let key = a[1].to_ascii_lowercase();
            let value = a
                .get(2)
                .map(|v| unescape(v.as_str().trim_matches(|c| c == '"' || c == '\'')));
            match key.as_str() {
                "href" => href = value,
                "data-yanked" => yanked = true,
                _ => {}
            }
        }
        let Some(href) = href else { continue };
        let url = absolute(page_url, &href);
        let (without_fragment, fragment) = match url.split_once('#') {
            Some((u, f)) => (u.to_string(), Some(f.to_string())),
            None => (url.clone(), None),
        };
        let sha256 = fragment
            .as_deref()
            .and_then(|f| f.strip_prefix("sha256="))
            .map(|h| h.to_ascii_lowercase());
        let text = unescape(cap[2].trim());
        let filename = if text.is_empty() || text.contains('<') {
            last_segment(&without_fragment)
        } else {
            text
        };
        files.push(IndexFile {
            filename,
            url: without_fragment,
            sha256,
            yanked,
            upload_time: None,
            provenance: None,
        });
    }
    Page { name: None, files }
}

fn last_segment(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let seg = path.rsplit('/').next().unwrap_or(path);
    url::form_urlencoded::parse(seg.as_bytes())
        .next()
        .map(|(k, _)| k.into_owned())
        .unwrap_or_else(|| seg.to_string())
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn absolute(base: &str, href: &str) -> String {
    url::Url::parse(base)
        .and_then(|b| b.join(href))
        .map(|u| u.to_string())
        .unwrap_or_else(|_| href.to_string())
}

/// What a file name is for project `name` (PEP 503-normalised comparison of the name part).
/// `name-version.tar.gz` / `.zip` sdists: the name may itself contain `-`, so the split is the
/// one whose prefix normalises to the project name.
pub fn classify(filename: &str, name: &str) -> Option<FileKind> {
    let want = normalize_name(name);
    if let Some(stem) = filename.strip_suffix(".whl") {
        let (n, rest) = stem.split_once('-')?;
        let version = rest.split('-').next()?;
        return (normalize_name(n) == want).then(|| FileKind::Wheel {
            version: version.to_string(),
        });
    }
    let stem = filename
        .strip_suffix(".tar.gz")
        .or_else(|| filename.strip_suffix(".zip"))?;
    for (i, _) in stem.match_indices('-') {
        let (n, v) = (&stem[..i], &stem[i + 1..]);
        if normalize_name(n) == want && !v.is_empty() && parse_version(v).is_some() {
            return Some(FileKind::Sdist {
                version: v.to_string(),
            });
        }
    }
    None
}

/// Fetch and parse a project's Simple API page.
pub async fn page(cx: &RegistryCx<'_>, name: &str) -> Result<Page, RegistryError> {
    let norm = normalize_name(name);
    if norm.is_empty() || !norm.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(RegistryError::NotFound(format!(
            "`{name}` is not a valid PyPI project name"
        )));
    }
    let url = join_url(&cx.profile.url, &format!("{norm}/"));
    let body = match cx.http.get_meta(&url, Some(ACCEPT)).await {
        Ok(b) => b,
        Err(HttpError::NotFound { .. }) => {
            return Err(RegistryError::NotFound(format!(
                "project `{name}` is not on the index {}",
                cx.profile.url
            )))
        }
        Err(e) => return Err(RegistryError::Failed(format!("simple index: {e}"))),
    };
    let ct = body
        .content_type
        .as_deref()
        .unwrap_or("")
        .to_ascii_lowercase();
    let first = body.bytes.iter().find(|b| !b.is_ascii_whitespace());
    if ct.contains("json") || first == Some(&b'{') {
        parse_json(&body.bytes, &body.url)
            .map_err(|e| RegistryError::Failed(format!("{url}: not a PEP 691 JSON page: {e}")))
    } else {
        Ok(parse_html(&String::from_utf8_lossy(&body.bytes), &body.url))
    }
}

/// Every version with a file, oldest first by PEP 440.
pub async fn versions(cx: &RegistryCx<'_>, name: &str) -> Result<Vec<String>, RegistryError> {
    let page = page(cx, name).await?;
    Ok(versions_of(&page, name))
}

/// Every version with a file, oldest first, with its earliest file's upload time.
pub async fn dated_versions(
    cx: &RegistryCx<'_>,
    name: &str,
) -> Result<Vec<(String, Option<String>)>, RegistryError> {
    let page = page(cx, name).await?;
    let dated = versions_of(&page, name)
        .into_iter()
        .map(|v| {
            let first = page
                .files
                .iter()
                .filter(|f| match classify(&f.filename, name) {
                    Some(FileKind::Sdist { version } | FileKind::Wheel { version }) => {
                        parse_version(&version) == parse_version(&v)
                    }
                    None => false,
                })
                .filter_map(|f| f.upload_time.clone())
                .min();
            (v, first)
        })
        .collect();
    Ok(dated)
}

pub fn versions_of(page: &Page, name: &str) -> Vec<String> {
    let mut vs: Vec<(pep440_rs::Version, String)> = Vec::new();
    for f in &page.files {
        let v = match classify(&f.filename, name) {
            Some(FileKind::Sdist { version } | FileKind::Wheel { version }) => version,
            None => continue,
        };
        if let Some(p) = parse_version(&v) {
            if !vs.iter().any(|(q, _)| *q == p) {
                vs.push((p, v));
            }
        }
    }
    vs.sort_by(|a, b| a.0.cmp(&b.0));
    vs.into_iter().map(|(_, v)| v).collect()
}

/// Which file of a release to verify (`--pypi-artifact`, or a profile's `artifact`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// The sdist; a release with only wheels falls back to its best wheel.
    Sdist,
    /// The best wheel: pure-Python (`none-any`) first.
    Wheel,
}

impl Want {
    pub fn parse(s: Option<&str>) -> Result<Want, String> {
        match s.map(str::trim) {
            None | Some("") | Some("sdist") => Ok(Want::Sdist),
            Some("wheel") => Ok(Want::Wheel),
            Some(o) => Err(format!("PyPI artifact `{o}`: expected sdist or wheel")),
        }
    }
}

/// Is a wheel file name pure Python (every tag `none-any`)?
pub fn is_pure_wheel(filename: &str) -> bool {
    let stem = filename.strip_suffix(".whl").unwrap_or(filename);
    let parts: Vec<&str> = stem.rsplitn(4, '-').collect();
    parts.len() == 4 && parts[0] == "any" && parts[1] == "none"
}

/// Rank of a file for `want` (lower is better): the wanted kind first, then the other;
/// `.tar.gz` before a legacy `.zip`, a pure wheel before a platform wheel, and this machine's
/// platform before others ([`super::wheel::platform_rank`]).
fn rank(kind: &FileKind, f: &IndexFile, want: Want) -> u8 {
    let (is_sdist, sub) = match kind {
        FileKind::Sdist { .. } => (true, u8::from(!f.filename.ends_with(".tar.gz"))),
        FileKind::Wheel { .. } => (false, super::wheel::platform_rank(&f.filename)),
    };
    let other = if is_sdist {
        want == Want::Wheel
    } else {
        want == Want::Sdist
    };
    u8::from(other) * 4 + sub
}

/// Pick the file of `version` (PEP 440 match), or of the newest non-yanked final release:
/// the wanted kind, else the other (a release with only wheels is verified by its wheel).
pub fn select(
    page: &Page,
    name: &str,
    version: Option<&str>,
    want: Want,
) -> Result<IndexFile, RegistryError> {
    let mut files: Vec<(pep440_rs::Version, u8, &IndexFile)> = page
        .files
        .iter()
        .filter_map(|f| {
            let kind = classify(&f.filename, name)?;
            let (FileKind::Sdist { version } | FileKind::Wheel { version }) = &kind;
            Some((parse_version(version)?, rank(&kind, f, want), f))
        })
        .collect();
    // Same rank: the first in name order, so the pick is stable.
    files.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.2.filename.cmp(&b.2.filename)));
    let chosen = match version {
        Some(v) => {
            let want_v = parse_version(v).ok_or_else(|| {
                RegistryError::NotFound(format!("`{v}` is not a PEP 440 version"))
            })?;
            files
                .iter()
                .find(|(p, _, _)| *p == want_v)
                .map(|h| h.2)
                .ok_or_else(|| {
                    RegistryError::NotFound(format!(
                        "project `{name}` has no version {v} on the index"
                    ))
                })?
        }
        None => {
            let pick = |stable: bool| {
                let newest = files
                    .iter()
                    .filter(|(p, _, f)| !f.yanked && (!stable || !p.any_prerelease()))
                    .map(|(p, _, _)| p)
                    .max()?;
                files
                    .iter()
                    .find(|(p, _, f)| p == newest && !f.yanked)
                    .map(|h| h.2)
            };
            pick(true).or_else(|| pick(false)).ok_or_else(|| {
                RegistryError::NotFound(format!(
                    "project `{name}` has no file that is not yanked on the index"
                ))
            })?
        }
    };
    Ok(chosen.clone())
}

/// Resolve `name@version` to its sdist (or wheel, see [`Want`]).
pub async fn resolve(
    cx: &RegistryCx<'_>,
    name: &str,
    version: Option<&str>,
) -> Result<Resolved, RegistryError> {
    let want = Want::parse(cx.profile.artifact.as_deref()).map_err(RegistryError::NotFound)?;
    let page = page(cx, name).await?;
    let file = select(&page, name, version, want)?;
    let Some(FileKind::Sdist { version } | FileKind::Wheel { version }) =
        classify(&file.filename, name)
    else {
        unreachable!("select returns sdists and wheels")
    };
    let mut extra = serde_json::json!({ "yanked": file.yanked });
    // PEP 740: absent when the page does not say, null when it says the file has none.
    if let Some(p) = &file.provenance {
        extra["provenance"] = serde_json::json!(p);
    }
    Ok(Resolved {
        name: page.name.clone().unwrap_or_else(|| normalize_name(name)),
        version,
        url: file.url.clone(),
        filename: file.filename.clone(),
        sha256: file.sha256.clone(),
        repository_hints: Vec::new(),
        extra,
    })
}

/// Repository candidates from the JSON API's `project_urls` and `home_page`, version first.
/// `Err` when the JSON API could not be asked (not a 404: the project or version not being
/// there is an answer).
pub async fn json_api_urls(
    cx: &RegistryCx<'_>,
    name: &str,
    version: &str,
) -> Result<Vec<String>, String> {
    let Some(base) = cx.profile.json_api.as_deref() else {
        return Ok(Vec::new());
    };
    let norm = normalize_name(name);
    let mut failed = None;
    for rel in [format!("{norm}/{version}/json"), format!("{norm}/json")] {
        let url = join_url(base, &rel);
        match cx.http.get_meta(&url, Some("application/json")).await {
            Ok(b) => match serde_json::from_slice::<serde_json::Value>(&b.bytes) {
                Ok(v) => return Ok(urls_from_json_api(&v)),
                Err(e) => {
                    tracing::debug!("{url}: {e}");
                    failed = Some(format!("{url} did not answer JSON: {e}"));
                }
            },
            Err(e @ crate::http::HttpError::NotFound { .. }) => tracing::debug!("{e}"),
            Err(e) => {
                tracing::debug!("{e}");
                failed = Some(e.to_string());
            }
        }
    }
    match failed {
        Some(e) => Err(format!("the PyPI JSON API could not be asked: {e}")),
        None => Ok(Vec::new()),
    }
}

/// `info.project_urls` ranked like PKG-INFO's, then `info.home_page`.
pub fn urls_from_json_api(v: &serde_json::Value) -> Vec<String> {
    let info = &v["info"];
    let mut pairs: Vec<(String, String)> = Vec::new();
    if let Some(m) = info["project_urls"].as_object() {
        for (k, u) in m {
            if let Some(u) = u.as_str() {
                pairs.push((k.clone(), u.to_string()));
            }
        }
    }
    let home = info["home_page"].as_str().map(str::to_string);
    super::artifact::rank_urls(&pairs, home.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_names_with_dashes_and_legacy_spellings() {
        assert_eq!(
            classify("zope.interface-6.0.tar.gz", "zope-interface"),
            Some(FileKind::Sdist {
                version: "6.0".into()
            })
        );
        assert_eq!(
            classify("my-pkg-name-1.2.3.zip", "My_Pkg.Name"),
            Some(FileKind::Sdist {
                version: "1.2.3".into()
            })
        );
        assert_eq!(classify("my-pkg-name-extra-1.0.tar.gz", "my-pkg"), None);
        assert_eq!(
            classify("foo_bar-2.0-py3-none-any.whl", "foo-bar"),
            Some(FileKind::Wheel {
                version: "2.0".into()
            })
        );
        assert_eq!(classify("foo-1.0.tar.bz2", "foo"), None);
    }

    #[test]
    fn html_anchors_with_fragments_yanked_and_relative_urls() {
        let html = r#"<!DOCTYPE html><html><body>
          <a href="../../packages/foo-1.0.tar.gz#sha256=AB12" data-requires-python="&gt;=3.8">foo-1.0.tar.gz</a><br/>
          <a data-yanked="" href='https://files.example/foo-2.0.tar.gz#sha256=cd34'>foo-2.0.tar.gz</a>
          <A HREF="foo-3.0.zip?x=1&amp;y=2">foo-3.0.zip</A>
        </body></html>"#;
        let p = parse_html(html, "http://127.0.0.1:9/simple/foo/");
        assert_eq!(p.files.len(), 3);
        assert_eq!(p.files[0].url, "http://127.0.0.1:9/packages/foo-1.0.tar.gz");
        assert_eq!(p.files[0].sha256.as_deref(), Some("ab12"));
        assert!(!p.files[0].yanked);
        assert!(p.files[1].yanked);
        assert_eq!(
            p.files[2].url,
            "http://127.0.0.1:9/simple/foo/foo-3.0.zip?x=1&y=2"
        );
        assert_eq!(p.files[2].filename, "foo-3.0.zip");
    }

    #[test]
    fn json_page_and_selection() {
        let body = br#"{"meta":{"api-version":"1.1"},"name":"foo","files":[
            {"filename":"foo-1.0.tar.gz","url":"/files/foo-1.0.tar.gz","hashes":{"sha256":"AA"},"upload-time":"2024-01-02T03:04:05.123Z"},
            {"filename":"foo-1.1.tar.gz","url":"/files/foo-1.1.tar.gz","hashes":{},"yanked":"broken"},
            {"filename":"foo-1.2rc1.tar.gz","url":"/files/foo-1.2rc1.tar.gz","hashes":{}},
            {"filename":"foo-1.0.1-py3-none-any.whl","url":"/files/w.whl","hashes":{}}
        ]}"#;
        let p = parse_json(body, "http://h/simple/foo/").unwrap();
        assert_eq!(p.files[0].url, "http://h/files/foo-1.0.tar.gz");
        assert_eq!(p.files[0].sha256.as_deref(), Some("aa"));
        assert!(p.files[1].yanked);
        assert_eq!(
            p.files[0].upload_time.as_deref(),
            Some("2024-01-02T03:04:05.123Z")
        );
        assert_eq!(p.files[1].upload_time, None);
        let sel = |v, w| select(&p, "foo", v, w).map(|f| f.filename);
        // The newest final release that is not yanked: 1.0.1, which has only a wheel.
        assert_eq!(
            sel(None, Want::Sdist).unwrap(),
            "foo-1.0.1-py3-none-any.whl"
        );
        assert_eq!(sel(Some("1.0.0"), Want::Sdist).unwrap(), "foo-1.0.tar.gz");
        assert_eq!(sel(Some("v1.1"), Want::Sdist).unwrap(), "foo-1.1.tar.gz");
        assert_eq!(
            sel(Some("1.0.1"), Want::Sdist).unwrap(),
            "foo-1.0.1-py3-none-any.whl"
        );
        assert!(matches!(
            sel(Some("9"), Want::Sdist),
            Err(RegistryError::NotFound(_))
        ));
        assert_eq!(versions_of(&p, "foo"), ["1.0", "1.0.1", "1.1", "1.2rc1"]);
    }

    #[test]
    fn wheel_wanted_prefers_pure_wheels_and_falls_back_to_the_sdist() {
        let body = br#"{"name":"foo","files":[
            {"filename":"foo-2.0.tar.gz","url":"a","hashes":{}},
            {"filename":"foo-2.0-cp311-cp311-manylinux_2_17_x86_64.whl","url":"b","hashes":{}},
            {"filename":"foo-2.0-py2.py3-none-any.whl","url":"c","hashes":{}},
            {"filename":"foo-1.0.tar.gz","url":"d","hashes":{}},
            {"filename":"foo-3.0-cp311-cp311-win_amd64.whl","url":"e","hashes":{}}
        ]}"#;
        let p = parse_json(body, "http://h/simple/foo/").unwrap();
        let sel = |v, w| select(&p, "foo", v, w).unwrap().filename;
        assert_eq!(
            sel(Some("2.0"), Want::Wheel),
            "foo-2.0-py2.py3-none-any.whl"
        );
        assert_eq!(sel(Some("2.0"), Want::Sdist), "foo-2.0.tar.gz");
        assert_eq!(sel(Some("1.0"), Want::Wheel), "foo-1.0.tar.gz");
        assert_eq!(sel(None, Want::Sdist), "foo-3.0-cp311-cp311-win_amd64.whl");
        assert!(is_pure_wheel("foo-1.0-1-py3-none-any.whl"));
        assert!(!is_pure_wheel("foo-1.0-py3-abi3-any.whl"));
        assert!(Want::parse(Some("egg")).is_err());
    }

    #[test]
    fn a_platform_wheel_for_this_machine_before_another_platform() {
        let body = br#"{"name":"foo","files":[
            {"filename":"foo-4.0-cp311-cp311-macosx_11_0_arm64.whl","url":"a","hashes":{}},
            {"filename":"foo-4.0-cp311-cp311-macosx_10_9_x86_64.whl","url":"b","hashes":{}},
            {"filename":"foo-4.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl","url":"c","hashes":{}},
            {"filename":"foo-4.0-cp311-cp311-manylinux_2_17_aarch64.whl","url":"d","hashes":{}},
            {"filename":"foo-4.0-cp311-cp311-win_amd64.whl","url":"e","hashes":{}}
        ]}"#;
        let p = parse_json(body, "http://h/simple/foo/").unwrap();
        let got = select(&p, "foo", Some("4.0"), Want::Wheel)
            .unwrap()
            .filename;
        if cfg!(all(target_os = "linux", target_arch = "x86_64")) {
            assert_eq!(
                got,
                "foo-4.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
            );
        } else if cfg!(target_os = "linux") {
            assert!(got.contains("manylinux"), "{got}");
        } else if cfg!(target_os = "macos") {
            assert!(got.contains("macosx"), "{got}");
        }
    }

    #[test]
    fn json_api_urls_are_ranked() {
        let v = serde_json::json!({"info": {
            "home_page": "https://example.org",
            "project_urls": {"Documentation": "https://docs.example.org",
                             "Source Code": "https://github.com/acme/foo"}}});
        assert_eq!(urls_from_json_api(&v), ["https://github.com/acme/foo"]);
    }
}

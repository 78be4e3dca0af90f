//! Every project of a PyPI index, for name patterns (`pypi:*@*`): the Simple API root
//! (PEP 691 JSON `projects[].name`, or PEP 503 HTML anchors), one request for every name.
//! The root names projects only: versions and their dates still cost one project page each
//! (the page a verification reads anyway, cached for the run). PyPI has no cheaper complete
//! listing of what changed since a day: its RSS feeds hold only the latest items.

use std::io::Read;

use async_trait::async_trait;

use crate::ecosystem::{RegistryCx, RegistryError};
use crate::listing::{ListCx, Listed, ListedVersion, Lister, Listing, NamePattern};

pub struct SimpleRoot;

const ACCEPT_ROOT: &str = "application/vnd.pypi.simple.v1+json, text/html;q=0.1";

/// A Simple root is tens of MB (PyPI: about 40); past this it is not one.
const ROOT_CAP: u64 = 1 << 30;

#[async_trait]
impl Lister for SimpleRoot {
    async fn list(&self, cx: ListCx<'_>) -> Result<Listing, RegistryError> {
        let source = cx.source.unwrap_or(&cx.profile.url).to_string();
        let names = cx.names.clone();
        let out = cx.out;
        crate::listing::read_source(
            cx.http,
            &source,
            Some(ACCEPT_ROOT),
            "pypi",
            cx.quiet,
            move |r| {
                let mut body = Vec::new();
                r.take(ROOT_CAP)
                    .read_to_end(&mut body)
                    .map_err(|e| e.to_string())?;
                let found = read_root(&body, &names)?;
                drop(body);
                for name in found {
                    out.send(Listed {
                        name,
                        versions: None,
                    });
                }
                Ok(Listing::default())
            },
        )
        .await
    }

    fn dated(&self) -> bool {
        false
    }

    /// PEP 592: a yanked file is still served (an exact pin still installs it).
    fn serves_yanked(&self) -> bool {
        true
    }

    async fn versions(
        &self,
        cx: &RegistryCx<'_>,
        name: &str,
    ) -> Result<Vec<ListedVersion>, RegistryError> {
        let page = super::registry::page(cx, name).await?;
        Ok(versions_of_page(&page, name))
    }
}

/// Every project the root names whose name matches, sorted by name.
pub fn read_root(body: &[u8], names: &NamePattern) -> Result<Vec<String>, String> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    let mut found: Vec<String> = if first == Some(&b'{') {
        let v: serde_json::Value = serde_json::from_slice(body)
            .map_err(|e| format!("not a PEP 691 Simple API root: {e}"))?;
        let projects = v
            .get("projects")
            .and_then(|p| p.as_array())
            .ok_or("not a PEP 691 Simple API root (no `projects` list)")?;
        projects
            .iter()
            .filter_map(|p| p.get("name")?.as_str().map(str::to_string))
            .collect()
    } else {
        let text = String::from_utf8_lossy(body);
        if !crate::preflight::looks_like_simple_index(None, body) && !text.contains("<a") {
            return Err("not a Simple API root (neither PEP 691 JSON nor HTML links)".to_string());
        }
        anchors(&text)
    };
    found.retain(|n| names.matches(n));
    found.sort();
    found.dedup();
    Ok(found)
}

/// The texts of `<a ...>text</a>` (PEP 503: the project names).
fn anchors(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find("<a") {
        rest = &rest[at + 2..];
        let Some(open_end) = rest.find('>') else {
            break;
        };
        let after = &rest[open_end + 1..];
        let Some(close) = after.find("</a>") else {
            break;
        };
        let name = after[..close].trim();
        if !name.is_empty() {
            out.push(name.to_string());
        }
        rest = &after[close..];
    }
    out
}

/// One version per release with a file, oldest first (PEP 440); yanked when every file of
/// the release is; published at its earliest upload.
pub fn versions_of_page(page: &super::registry::Page, name: &str) -> Vec<ListedVersion> {
    use super::registry::{classify, FileKind};
    super::registry::versions_of(page, name)
        .into_iter()
        .map(|v| {
            let want = super::parse_version(&v);
            let files: Vec<_> = page
                .files
                .iter()
                .filter(|f| match classify(&f.filename, name) {
                    Some(FileKind::Sdist { version } | FileKind::Wheel { version }) => {
                        super::parse_version(&version) == want
                    }
                    None => false,
                })
                .collect();
            ListedVersion {
                published: files.iter().filter_map(|f| f.upload_time.clone()).min(),
                yanked: !files.is_empty() && files.iter().all(|f| f.yanked),
                version: v,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ecosystem::Ecosystem;

    #[test]
    fn json_and_html_roots() {
        let all = NamePattern::new(Ecosystem::Pypi, "*").unwrap();
        let json = br#"{"meta":{"api-version":"1.1","_last-serial":5},
            "projects":[{"name":"requests","_last-serial":3},{"name":"Django","_last-serial":4}]}"#;
        let names = read_root(json, &all).unwrap();
        assert_eq!(names, ["Django", "requests"]);
        let html = "<!DOCTYPE html><html><head><meta name=\"pypi:repository-version\" content=\"1.0\">\
            </head><body><a href=\"/simple/django/\">Django</a>\n<a href=\"/simple/zope-interface/\">zope.interface</a></body></html>";
        let dj = NamePattern::new(Ecosystem::Pypi, "zope_*").unwrap();
        let names = read_root(html.as_bytes(), &dj).unwrap();
        assert_eq!(names, ["zope.interface"]);
        assert!(read_root(b"{\"meta\":{}}", &all).is_err());
        assert!(read_root(b"plain text", &all).is_err());
    }

    #[test]
    fn a_release_is_yanked_when_every_file_is() {
        let page = super::super::registry::parse_json(
            br#"{"meta":{"api-version":"1.1"},"name":"demo","files":[
              {"filename":"demo-1.0.tar.gz","url":"https://f/demo-1.0.tar.gz","hashes":{"sha256":"aa"},"upload-time":"2024-01-02T00:00:00Z","yanked":false},
              {"filename":"demo-1.1.tar.gz","url":"https://f/demo-1.1.tar.gz","hashes":{"sha256":"bb"},"upload-time":"2024-02-02T00:00:00Z","yanked":"broken"},
              {"filename":"demo-1.1-py3-none-any.whl","url":"https://f/demo-1.1-py3-none-any.whl","hashes":{"sha256":"cc"},"upload-time":"2024-02-01T00:00:00Z","yanked":true}
            ]}"#,
            "https://pypi.org/simple/demo/",
        )
        .unwrap();
        let vs = versions_of_page(&page, "demo");
        assert_eq!(vs.len(), 2);
        assert_eq!((vs[0].version.as_str(), vs[0].yanked), ("1.0", false));
        assert_eq!((vs[1].version.as_str(), vs[1].yanked), ("1.1", true));
        assert_eq!(vs[1].published.as_deref(), Some("2024-02-01T00:00:00Z"));
    }
}

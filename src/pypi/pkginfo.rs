//! `PKG-INFO` (core metadata): RFC 822-style headers, continuation lines starting with
//! whitespace, repeated keys (`Project-URL`, `Requires-Dist`, `Classifier`), and the long
//! description either as the body after the first blank line (metadata 2.1+) or as a
//! `Description:` header whose continuation lines carry a `|` margin (older setuptools).

/// The fields provero uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PkgInfo {
    pub metadata_version: Option<String>,
    pub name: Option<String>,
    pub version: Option<String>,
    pub home_page: Option<String>,
    /// `Project-URL: Label, URL`, in order.
    pub project_urls: Vec<(String, String)>,
    pub requires_dist: Vec<String>,
    /// `Dynamic:` fields (metadata 2.2): fields the backend may fill at build time.
    pub dynamic: Vec<String>,
    pub description: String,
}

pub fn parse(text: &str) -> PkgInfo {
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut lines = text.split_inclusive('\n');
    let mut body = String::new();
    for line in lines.by_ref() {
        let l = line.trim_end_matches(['\r', '\n']);
        if l.is_empty() {
            break;
        }
        if l.starts_with([' ', '\t']) {
            if let Some((_, v)) = headers.last_mut() {
                v.push('\n');
                v.push_str(l);
            }
            continue;
        }
        if let Some((k, v)) = l.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    for line in lines {
        body.push_str(line);
    }
    let mut info = PkgInfo::default();
    for (k, v) in headers {
        let single = || v.lines().next().unwrap_or("").trim().to_string();
        match k.as_str() {
            "metadata-version" => info.metadata_version = Some(single()),
            "name" => info.name = Some(single()),
            "version" => info.version = Some(single()),
            "home-page" => {
                let h = single();
                if !h.is_empty() && !h.eq_ignore_ascii_case("UNKNOWN") {
                    info.home_page = Some(h);
                }
            }
            "project-url" => {
                let s = single();
                match s.split_once(',') {
                    Some((label, url)) => info
                        .project_urls
                        .push((label.trim().to_string(), url.trim().to_string())),
                    None => info.project_urls.push((String::new(), s)),
                }
            }
            "requires-dist" => info.requires_dist.push(single()),
            "dynamic" => info.dynamic.push(single().to_ascii_lowercase()),
            "description" => info.description = unfold_description(&v),
            _ => {}
        }
    }
    if !body.trim().is_empty() {
        info.description = body;
    }
    info
}

/// Continuation lines of an old-style `Description:` header: `        |text` or indented text.
fn unfold_description(v: &str) -> String {
    let mut out = String::new();
    for (i, line) in v.lines().enumerate() {
        let l = if i == 0 {
            line
        } else {
            let t = line.trim_start_matches([' ', '\t']);
            t.strip_prefix('|').unwrap_or(t)
        };
        out.push_str(l);
        out.push('\n');
    }
    out
}

/// The project name of a `Requires-Dist` value, PEP 503-normalised (extras, version specifiers
/// and markers dropped).
pub fn requirement_name(req: &str) -> Option<String> {
    let req = req.trim();
    let end = req
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(req.len());
    let name = &req[..end];
    (!name.is_empty()).then(|| super::normalize_name(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_continuations_and_body() {
        let text = "Metadata-Version: 2.1\nName: Foo-Bar\nVersion: 1.0\n\
            Summary: a\n  summary that wraps\nHome-page: https://example.org\n\
            Project-URL: Source Code, https://github.com/acme/foo\n\
            Project-URL: Docs, https://docs.example.org\n\
            Requires-Dist: requests (>=2.0)\nRequires-Dist: Typing_Extensions[x]>=4; python_version<'3.8'\n\
            Dynamic: license\n\n# Foo\n\nSee https://github.com/acme/foo\n";
        let p = parse(text);
        assert_eq!(p.name.as_deref(), Some("Foo-Bar"));
        assert_eq!(p.version.as_deref(), Some("1.0"));
        assert_eq!(p.home_page.as_deref(), Some("https://example.org"));
        assert_eq!(
            p.project_urls[0],
            ("Source Code".into(), "https://github.com/acme/foo".into())
        );
        assert_eq!(p.requires_dist.len(), 2);
        assert_eq!(p.dynamic, ["license"]);
        assert!(p.description.starts_with("# Foo"));
        let names: Vec<_> = p
            .requires_dist
            .iter()
            .filter_map(|r| requirement_name(r))
            .collect();
        assert_eq!(names, ["requests", "typing-extensions"]);
    }

    #[test]
    fn old_style_description_and_unknown_home_page() {
        let text = "Metadata-Version: 1.1\nName: old\nVersion: 0.1\nHome-page: UNKNOWN\n\
            Description: Old\n        |=====\n        |\n        |https://gitlab.com/a/b\n\
            Platform: UNKNOWN\n";
        let p = parse(text);
        assert_eq!(p.home_page, None);
        assert!(
            p.description.contains("=====\n\nhttps://gitlab.com/a/b"),
            "{:?}",
            p.description
        );
    }
}

//! PEP 740 provenance of the file being verified: the URL the Simple API's JSON page gives in
//! the file's `provenance` key, else PyPI's integrity API
//! (`<integrity_api><project>/<version>/<file>/provenance`). A page that says `null`, a
//! mirror without either, a 404: nothing.

use crate::attest::gather::{get_document, Fetched, SignedFormat};
use crate::ecosystem::{RegistryCx, Resolved};
use crate::profile::join_url;

const ACCEPT: &str = "application/vnd.pypi.integrity.v1+json, application/json;q=0.5";

pub async fn fetch(cx: &RegistryCx<'_>, resolved: &Resolved) -> Fetched {
    let Some(url) = provenance_url(cx, resolved) else {
        return Fetched::None;
    };
    match get_document(cx, &url, ACCEPT).await {
        Ok(Some(body)) => Fetched::Signed {
            url,
            format: SignedFormat::Pep740,
            body,
        },
        Ok(None) => Fetched::None,
        Err(e) => Fetched::Unavailable(e),
    }
}

/// Where the file's provenance is, if anywhere.
fn provenance_url(cx: &RegistryCx<'_>, resolved: &Resolved) -> Option<String> {
    match resolved.extra.get("provenance") {
        Some(serde_json::Value::String(u)) => Some(u.clone()),
        // The index says the file has none.
        Some(_) => None,
        None => {
            let base = cx.profile.integrity_api.as_deref()?;
            Some(join_url(
                base,
                &format!(
                    "{}/{}/{}/provenance",
                    super::normalize_name(&resolved.name),
                    resolved.version,
                    resolved.filename
                ),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_link_first_then_the_integrity_api() {
        let http = crate::http::Http::new(Default::default()).unwrap();
        let profiles = crate::profile::Profiles::builtin();
        let cx = RegistryCx {
            http: &http,
            profile: profiles.get(crate::ecosystem::Ecosystem::Pypi),
        };
        let mut r = Resolved {
            name: "Foo_Bar".into(),
            version: "1.0".into(),
            filename: "foo_bar-1.0.tar.gz".into(),
            ..Resolved::default()
        };
        assert_eq!(
            provenance_url(&cx, &r).as_deref(),
            Some("https://pypi.org/integrity/foo-bar/1.0/foo_bar-1.0.tar.gz/provenance")
        );
        r.extra = serde_json::json!({ "provenance": "https://x/p" });
        assert_eq!(provenance_url(&cx, &r).as_deref(), Some("https://x/p"));
        r.extra = serde_json::json!({ "provenance": null });
        assert_eq!(provenance_url(&cx, &r), None);
    }
}

//! crates.io's trusted-publishing record: `GET {api}/api/v1/crates/<name>/<version>` (`api`
//! from the index's `config.json`) → `version.trustpub_data {provider, repository, run_id,
//! sha}`. The registry's own word, unsigned. An index without an `api`, an API without the
//! route, or a version published without trusted publishing: nothing.

use crate::attest::gather::{get_document, Fetched, TrustPub};
use crate::ecosystem::{RegistryCx, Resolved};
use crate::profile::join_url;

pub async fn fetch(cx: &RegistryCx<'_>, resolved: &Resolved) -> Fetched {
    let api = match super::registry::config(cx).await {
        Ok(c) => c.api,
        Err(e) => return Fetched::Unavailable(e.to_string()),
    };
    let Some(api) = api.filter(|a| !a.trim().is_empty()) else {
        return Fetched::None;
    };
    let url = join_url(
        &api,
        &format!("api/v1/crates/{}/{}", resolved.name, resolved.version),
    );
    match get_document(cx, &url, "application/json").await {
        Ok(Some(body)) => parse(&url, &body),
        Ok(None) => Fetched::None,
        Err(e) => Fetched::Unavailable(e),
    }
}

/// The `trustpub_data` of a version API answer; anything else (no such key, `null`, not the
/// API's JSON) is nothing.
pub fn parse(url: &str, body: &[u8]) -> Fetched {
    let v: serde_json::Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            tracing::debug!("{url} is not the crates.io API's JSON: {e}");
            return Fetched::None;
        }
    };
    let data = &v["version"]["trustpub_data"];
    if !data.is_object() {
        return Fetched::None;
    }
    match serde_json::from_value::<TrustPub>(data.clone()) {
        Ok(data) => Fetched::TrustedPublishing {
            url: url.to_string(),
            data,
        },
        Err(e) => {
            tracing::debug!("{url}: trustpub_data not understood: {e}");
            Fetched::None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trustpub_data_or_nothing() {
        let body = br#"{"version":{"num":"1.0.0","trustpub_data":{"provider":"github","repository":"acme/widget","run_id":"17","sha":"0123456789abcdef0123456789abcdef01234567"}}}"#;
        let Fetched::TrustedPublishing { data, .. } = parse("u", body) else {
            panic!("trustpub data");
        };
        assert_eq!(data.repository.as_deref(), Some("acme/widget"));
        assert_eq!(data.run_id.as_deref(), Some("17"));
        for none in [
            &br#"{"version":{"num":"1.0.0","trustpub_data":null}}"#[..],
            br#"{"version":{"num":"1.0.0"}}"#,
            b"<html>",
        ] {
            assert_eq!(parse("u", none), Fetched::None);
        }
    }
}

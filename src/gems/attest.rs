//! RubyGems attestations: `GET <server>/api/v1/attestations/<name>-<version>[-<platform>].json`,
//! a JSON array of Sigstore bundles. A server without the route or a version without
//! attestations (404): nothing.

use crate::attest::gather::{get_document, Fetched, SignedFormat};
use crate::ecosystem::{RegistryCx, Resolved};
use crate::profile::join_url;

pub async fn fetch(cx: &RegistryCx<'_>, resolved: &Resolved) -> Fetched {
    let stem = resolved
        .filename
        .strip_suffix(".gem")
        .unwrap_or(&resolved.filename);
    let url = join_url(&cx.profile.url, &format!("api/v1/attestations/{stem}.json"));
    match get_document(cx, &url, "application/json").await {
        Ok(Some(body)) => Fetched::Signed {
            url,
            format: SignedFormat::Bundles,
            body,
        },
        Ok(None) => Fetched::None,
        Err(e) => Fetched::Unavailable(e),
    }
}

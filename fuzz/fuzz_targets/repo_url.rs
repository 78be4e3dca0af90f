#![no_main]
include!("common.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let t = text(data);
    if let Some(r) = provero::repo_url::normalize(&t) {
        // Metadata never names a local repository, whatever the spelling.
        assert!(
            r.url.starts_with("https://") && r.fetch_url.starts_with("https://"),
            "{t:?} -> {r:?}"
        );
        assert!(
            !r.fetch_url.contains('%') && !r.fetch_url.contains("/../"),
            "{t:?} -> {r:?}"
        );
    }
    let _ = provero::repo_url::is_git_host(&t);
});

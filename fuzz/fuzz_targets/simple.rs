#![no_main]
include!("common.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = provero::pypi::registry::parse_json(data, "https://e.invalid/simple/x/");
    let page = provero::pypi::registry::parse_html(&text(data), "https://e.invalid/simple/x/");
    let _ = provero::pypi::registry::versions_of(&page, "x");
});

#![no_main]
include!("common.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = provero::crates::registry::parse_index(&text(data), "x", "u");
    let _ = provero::gems::registry::parse_compact_info(&text(data));
});

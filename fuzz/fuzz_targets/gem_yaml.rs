#![no_main]
include!("common.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let t = text(data);
    let _ = provero::gems::artifact::parse_metadata(&t);
    let _ = provero::gems::gemspec_deps::declared_dependencies(&t);
});

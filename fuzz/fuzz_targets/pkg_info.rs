#![no_main]
include!("common.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = provero::pypi::pkginfo::parse(&text(data));
});

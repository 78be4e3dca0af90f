#![no_main]
include!("common.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let t = text(data);
    let _ = provero::crates::lockfile::parse_cargo_lock(&t, "Cargo.lock");
    let _ = provero::pypi::lockfile::parse_requirements_full(&t);
    let _ = provero::pypi::lockfile::parse_uv_lock(&t);
    let _ = provero::gems::lockfile::parse_gemfile_lock(&t, "Gemfile.lock");
});

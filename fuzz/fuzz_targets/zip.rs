#![no_main]
include!("common.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = provero::pypi::zipread::read_zip(data, limits());
    let _ = provero::pypi::artifact::read(&resolved("x", "1.0", "x-1.0.zip"), data);
    let _ = provero::pypi::artifact::read(&resolved("x", "1.0", "x-1.0-py3-none-any.whl"), data);
});

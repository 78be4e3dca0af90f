#![no_main]
include!("common.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = provero::gems::artifact::read(&resolved("x", "1.0", "x-1.0.gem"), data);
});

#![no_main]
include!("common.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let t = text(data);
    let ini = provero::pypi::pyconfig::parse_ini(&t);
    let _ = provero::pypi::pyconfig::normalised_ini(&ini, "egg_info");
    let _ = provero::pypi::pyconfig::setup_py_value(&t, "install_requires");
    let _ = provero::pypi::pyconfig::code_only(&t);
});

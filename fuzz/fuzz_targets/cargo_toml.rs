#![no_main]
include!("common.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // The input as Cargo.toml, Cargo.toml.orig and .cargo_vcs_info.json of a .crate.
    let _ = provero::crates::artifact::parse_vcs_info(data);
    let mut b = tar::Builder::new(Vec::new());
    for name in ["Cargo.toml", "Cargo.toml.orig", ".cargo_vcs_info.json"] {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        let _ = b.append_data(&mut h, format!("x-1.0.0/{name}"), data);
    }
    if let Ok(t) = b.into_inner() {
        let _ = provero::crates::artifact::read(&resolved("x", "1.0.0", "x-1.0.0.crate"), &gz(&t));
    }
});

#![no_main]
include!("common.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // Raw bytes as a .tar.gz, and as a tar that is gzipped here (reaches the tar reader).
    use provero::archive::{into_files, read_tar, read_tar_gz, Root};
    let _ = read_tar_gz(data, limits());
    if let Ok(raw) = read_tar(data, limits()) {
        let _ = into_files(raw, Root::SingleTopDir);
    }
    let z = gz(data);
    let _ = provero::crates::artifact::read(&resolved("x", "1.0.0", "x-1.0.0.crate"), &z);
    let _ = provero::pypi::artifact::read(&resolved("x", "1.0", "x-1.0.tar.gz"), &z);
});

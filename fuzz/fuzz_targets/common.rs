// Shared by the fuzz targets (included with `include!`).
#[allow(dead_code)]
fn resolved(name: &str, version: &str, filename: &str) -> provero::ecosystem::Resolved {
    provero::ecosystem::Resolved {
        name: name.into(),
        version: version.into(),
        url: "https://example.invalid/x".into(),
        filename: filename.into(),
        sha256: None,
        repository_hints: Vec::new(),
        extra: serde_json::Value::Null,
    }
}

#[allow(dead_code)]
fn limits() -> provero::archive::Limits {
    provero::archive::Limits {
        max_total_bytes: 8 << 20,
        max_entries: 1000,
        stream_files_over: 4096,
    }
}

#[allow(dead_code)]
fn gz(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[allow(dead_code)]
fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

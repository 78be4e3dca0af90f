//! Checks of the test fixtures themselves, independent of provero: if one of
//! these fails, the other tests' verdicts mean nothing.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;

use common::tarball::{self, Kind};
use common::*;

/// Minimal blocking HTTP GET against the fixture server: (status, headers, body).
fn get(server: &TestServer, path: &str) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(("127.0.0.1", server.port())).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    let body = raw[split + 4..].to_vec();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, head, body)
}

#[test]
fn server_serves_files_404s_and_logs() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
    std::fs::write(dir.path().join("a/b/file.txt"), b"hello").unwrap();
    let server = TestServer::serve_dir(dir.path());

    let (status, head, body) = get(&server, "/a/b/file.txt?x=1");
    assert_eq!(status, 200);
    assert_eq!(body, b"hello");
    assert!(head.contains("Content-Length: 5"), "{head}");
    assert!(head.contains("Connection: close"), "{head}");

    assert_eq!(get(&server, "/a/b/missing").0, 404);
    assert_eq!(get(&server, "/a/b").0, 404, "directories are not served");
    assert_eq!(get(&server, "/a/../a/b/file.txt").0, 404, "no .. traversal");
    assert_eq!(get(&server, "/a/b/file%2etxt").0, 200, "percent-decoding");

    assert_eq!(server.hits("/a/b/file.txt"), 2);
    assert_eq!(server.hits("/a/b/missing"), 1);
    let log = server.requests();
    assert_eq!(log[0].method, "GET");
    assert_eq!(log[0].target, "/a/b/file.txt?x=1");
    assert_eq!(log[0].status, 200);
}

#[test]
fn server_faults_then_recovers() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f"), b"ok").unwrap();
    let server = TestServer::serve_dir(dir.path());
    server.fail_next("/f", 503, 2);
    server.rate_limit_next("/f", 1, 1);
    assert_eq!(get(&server, "/f").0, 503);
    assert_eq!(get(&server, "/f").0, 503);
    let (status, head, _) = get(&server, "/f");
    assert_eq!(status, 429);
    assert!(head.contains("Retry-After: 1"), "{head}");
    let (status, _, body) = get(&server, "/f");
    assert_eq!((status, body.as_slice()), (200, &b"ok"[..]));
    assert_eq!(server.hits("/f"), 4);
}

#[test]
fn server_stops_when_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::serve_dir(dir.path());
    let port = server.port();
    drop(server);
    // The listener is closed: connecting now fails (or is reset at once).
    let refused = match TcpStream::connect(("127.0.0.1", port)) {
        Err(_) => true,
        Ok(mut s) => {
            let _ = write!(s, "GET / HTTP/1.1\r\n\r\n");
            let mut buf = Vec::new();
            s.read_to_end(&mut buf).map(|n| n == 0).unwrap_or(true)
        }
    };
    assert!(refused, "server still answering after drop");
}

#[test]
fn index_paths_follow_the_sparse_layout() {
    assert_eq!(common::crates::index_path("a"), "1/a");
    assert_eq!(common::crates::index_path("ab"), "2/ab");
    assert_eq!(common::crates::index_path("abc"), "3/a/abc");
    assert_eq!(common::crates::index_path("Serde"), "se/rd/serde");
    assert_eq!(common::crates::prefix("Serde"), "Se/rd");
}

#[test]
fn registry_serves_config_index_and_download() {
    let w = World::new();
    let fx = w.honest_crate("fixture", "1.0.0");
    let dl_path = w.publish(&fx, &fx.crate_bytes);
    assert_eq!(dl_path, "/dl/fi/xt/fixture/fixture-1.0.0.crate");

    let (status, _, body) = get(&w.server, "/index/config.json");
    assert_eq!(status, 200);
    let config: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        config["dl"],
        format!(
            "{}/dl/{{lowerprefix}}/{{crate}}/{{crate}}-{{version}}.crate",
            w.server.base_url()
        )
    );

    let (status, _, body) = get(&w.server, "/index/fi/xt/fixture");
    assert_eq!(status, 200);
    let line: serde_json::Value =
        serde_json::from_str(std::str::from_utf8(&body).unwrap().lines().next().unwrap()).unwrap();
    assert_eq!(line["vers"], "1.0.0");
    assert_eq!(line["cksum"], sha256_hex(&fx.crate_bytes));
    assert_eq!(line["yanked"], false);

    let (status, _, body) = get(&w.server, &dl_path);
    assert_eq!(status, 200);
    assert_eq!(body, fx.crate_bytes);
}

#[test]
fn cargo_package_records_vcs_info() {
    let w = World::new();
    let fx = w.honest_crate("fixture", "1.0.0");
    let ar = fx.archive();
    assert_eq!(ar.prefix, "fixture-1.0.0");
    let mut paths = ar.paths();
    paths.sort();
    assert_eq!(
        paths,
        [
            ".cargo_vcs_info.json",
            "Cargo.lock",
            "Cargo.toml",
            "Cargo.toml.orig",
            "README.md",
            "src/lib.rs"
        ]
    );
    assert_eq!(vcs_sha1(&ar).unwrap(), fx.commit);
    assert_eq!(ar.get_str("src/lib.rs"), LIB_RS);
    // The upstream has the commit and the tag, and serves like GitHub.
    assert!(fx.upstream.has_commit(&fx.commit));
    assert_eq!(fx.upstream.rev_parse("v1.0.0"), fx.commit);
    assert_eq!(
        fx.upstream
            .git(&["config", "uploadpack.allowAnySHA1InWant"]),
        "true"
    );
    // The rewritten URL is clonable with a blob filter.
    let clone = w.root().join("probe-clone");
    common::git::git(
        w.root(),
        &[
            "clone",
            "-q",
            "--bare",
            "--filter=blob:none",
            &format!("file://{}", fx.upstream.path.display()),
            clone.to_str().unwrap(),
        ],
    );
}

#[test]
fn dirty_packaging_is_recorded() {
    let w = World::new();
    let fx = w.honest_crate("fixture", "1.0.0");
    fx.repo
        .write("src/lib.rs", format!("{LIB_RS}// local edit\n"));
    let bytes = w.package(&fx.repo, "fixture", "1.0.0", true);
    let ar = CrateArchive::read(&bytes);
    let info: serde_json::Value =
        serde_json::from_slice(ar.get(".cargo_vcs_info.json").unwrap()).unwrap();
    assert_eq!(info["git"]["dirty"], true);
    assert_eq!(info["git"]["sha1"], fx.commit.as_str());
}

#[test]
fn raw_tar_round_trips_through_the_tar_crate() {
    let w = World::new();
    let fx = w.honest_crate("fixture", "1.0.0");
    let mut ar = fx.archive();
    ar.replace_text("src/lib.rs", "    a + b\n", "    a + b + 1\n");
    ar.push_raw(Entry::symlink("fixture-1.0.0/link", "src/lib.rs"));
    let long = format!("fixture-1.0.0/{}/file.txt", "d".repeat(120));
    ar.set(&long["fixture-1.0.0/".len()..], "deep");
    let back = CrateArchive::read(&ar.to_bytes());
    assert_eq!(back.paths(), ar.paths());
    assert!(back.get_str("src/lib.rs").contains("a + b + 1"));
    assert_eq!(back.get_str(&long["fixture-1.0.0/".len()..]), "deep");
    let link = back
        .entries
        .iter()
        .find(|e| e.kind == Kind::Symlink)
        .unwrap();
    assert_eq!(link.link, "src/lib.rs");
}

#[test]
fn raw_tar_can_carry_hostile_names() {
    let entries = vec![
        Entry::file("x-1.0.0/../../evil.txt", "evil"),
        Entry::file("/tmp/absolute.txt", "abs"),
        Entry::hardlink("x-1.0.0/hl", "/etc/passwd"),
        Entry::file("x-1.0.0/dup", "one"),
        Entry::file("x-1.0.0/dup", "two"),
    ];
    let bytes = tarball::gzip(&tarball::tar_bytes(&entries));
    let gz = flate2::read::GzDecoder::new(bytes.as_slice());
    let mut ar = tar::Archive::new(gz);
    let names: Vec<(String, tar::EntryType)> = ar
        .entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                String::from_utf8(e.path_bytes().into_owned()).unwrap(),
                e.header().entry_type(),
            )
        })
        .collect();
    assert_eq!(names[0].0, "x-1.0.0/../../evil.txt");
    assert_eq!(names[1].0, "/tmp/absolute.txt");
    assert_eq!(names[2].1, tar::EntryType::Link);
    assert_eq!(names[3].0, names[4].0);
}

#[test]
fn zero_run_gzip_is_valid_and_small() {
    let head = vec![Entry::file("b-1.0.0/Cargo.toml", "[package]\n")];
    let n = 5 * (1 << 20) + 123;
    let bytes = tarball::gzip_with_zero_runs(&head, &[(Entry::file("b-1.0.0/zeros", ""), n)]);
    assert!(bytes.len() < 64 * 1024, "{} bytes", bytes.len());
    // GzDecoder checks CRC-32 and length at the end of the stream.
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(bytes.as_slice()));
    let mut seen = Vec::new();
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        seen.push((e.path().unwrap().display().to_string(), data));
    }
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].1, b"[package]\n");
    assert_eq!(seen[1].0, "b-1.0.0/zeros");
    assert_eq!(seen[1].1.len() as u64, n);
    assert!(seen[1].1.iter().all(|&b| b == 0));
    // And the whole stream (trailer included) decodes without error.
    let all = tarball::gunzip(&bytes);
    assert_eq!(all.len() % 512, 0);
}

#[test]
fn multi_gigabyte_bomb_is_cheap_to_build() {
    let start = std::time::Instant::now();
    let files: Vec<(Entry, u64)> = (0..64)
        .map(|i| (Entry::file(format!("b-1.0.0/blob{i}"), ""), 64 << 20))
        .collect();
    let bytes = tarball::gzip_with_zero_runs(&[], &files);
    assert!(bytes.len() < 32 << 20, "{} bytes", bytes.len());
    assert!(start.elapsed() < std::time::Duration::from_secs(10));
    // The gzip trailer's ISIZE is the length mod 2^32: 4 GiB + headers.
    let isize = u32::from_le_bytes(bytes[bytes.len() - 4..].try_into().unwrap());
    let total: u64 = 64 * (64u64 << 20) + 64 * 512 + 1024;
    assert_eq!(isize as u64, total % (1 << 32));
    eprintln!("4 GiB bomb: {} bytes gzip", bytes.len());
}

#[test]
fn run_provero_reports_usage_errors_without_crashing() {
    // No registry, no network: a spec that cannot be parsed must be an
    // error exit, never a panic.
    let (code, _stdout, stderr) = common::run::run_provero(&["verify", "not-a-valid-spec::"]);
    assert_ne!(code, 0, "{stderr}");
    assert!(!stderr.contains("panicked at"), "{stderr}");
}

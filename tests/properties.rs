//! Property tests of every parser of attacker-controlled input (stable, part of `cargo test`):
//! archives, index lines, Simple pages, core metadata, setup.cfg/setup.py, gem YAML,
//! manifests, lockfiles, repository URLs. Arbitrary input never panics; what comes out keeps
//! the invariants the rest of provero relies on. `fuzz/` runs the same parsers under
//! cargo-fuzz for longer.

use proptest::prelude::*;

use provero::archive::{
    self, clean_path, into_files, read_tar, read_tar_gz, Content, Limits, Root,
};
use provero::ecosystem::Resolved;
use provero::repo_url::normalize;

fn resolved(name: &str, version: &str, filename: &str) -> Resolved {
    Resolved {
        name: name.into(),
        version: version.into(),
        url: "https://example.invalid/x".into(),
        filename: filename.into(),
        sha256: None,
        repository_hints: Vec::new(),
        extra: serde_json::Value::Null,
    }
}

fn small_limits() -> Limits {
    Limits {
        max_total_bytes: 1 << 20,
        max_entries: 200,
        stream_files_over: 512,
    }
}

fn gz(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn tar_of(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (p, d) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(d.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, p, &d[..]).unwrap();
    }
    b.into_inner().unwrap()
}

/// URL-ish strings built from the pieces that matter (schemes, hosts, escapes, dots).
fn urlish() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "https://",
        "http://",
        "git://",
        "ssh://",
        "file://",
        "git+",
        "git@",
        ":",
        "/",
        "//",
        "github.com",
        "gitlab.com",
        "example.org",
        "localhost",
        "127.0.0.1",
        "acme",
        "Repo",
        "..",
        ".",
        "%2f",
        "%2F",
        "%2e",
        "%5c",
        "%00",
        "%",
        "\\",
        ".git",
        "tree",
        "-",
        "~u",
        "?q=1",
        "#frag",
        " ",
        "@",
        "C:",
        "ext::",
    ]);
    prop::collection::vec(piece, 0..12).prop_map(|v| v.concat())
}

/// Text that looks like the formats (lines, brackets, quotes, `=`, `:`) plus noise.
fn textish() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "\n",
        "[",
        "]",
        "[[",
        "]]",
        "{",
        "}",
        "\"",
        "'",
        "=",
        ":",
        ",",
        " ",
        "\t",
        "name",
        "version",
        "vers",
        "cksum",
        "Name: x",
        "Version: 1.0",
        "Requires-Dist: a",
        "[metadata]",
        "install_requires =",
        "setup(",
        ")",
        "\\",
        "---",
        "!ruby/object:Gem::Specification",
        "- ",
        "GEM",
        "remote:",
        "specs:",
        "    a (1.0)",
        "[[package]]",
        "source =",
        "==",
        "--hash=sha256:",
        "-r ",
        "#",
        "<a href=\"",
        "\">",
        "</a>",
        "&amp;",
        "é",
        "\u{0}",
    ]);
    (prop::collection::vec(piece, 0..40), any::<String>())
        .prop_map(|(v, noise)| v.concat() + &noise)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn repository_urls_from_metadata_are_remote_and_plain(raw in urlish()) {
        if let Some(r) = normalize(&raw) {
            prop_assert!(r.url.starts_with("https://"), "{raw:?} -> {r:?}");
            prop_assert!(r.fetch_url.starts_with("https://"), "{raw:?} -> {r:?}");
            prop_assert!(r.url.eq_ignore_ascii_case(&r.fetch_url));
            let path = r.fetch_url.trim_start_matches("https://");
            for seg in path.split('/').skip(1) {
                prop_assert!(seg != ".." && seg != "." && !seg.is_empty(), "{raw:?} -> {r:?}");
                prop_assert!(!seg.contains('%') && !seg.contains('\\'), "{raw:?} -> {r:?}");
            }
            // Normalising again changes nothing.
            let again = normalize(&r.fetch_url).expect("a normalised URL normalises");
            prop_assert_eq!(again.fetch_url, r.fetch_url);
        }
    }

    #[test]
    fn arbitrary_url_strings_never_panic(raw in any::<String>()) {
        let _ = normalize(&raw);
        let _ = provero::repo_url::is_git_host(&raw);
    }

    #[test]
    fn clean_paths_never_climb_out(name in "[a-z./\\\\:]{0,24}") {
        if let Some(p) = clean_path(&name) {
            prop_assert!(!p.starts_with('/'));
            prop_assert!(p.split('/').all(|c| c != ".." && c != "."));
        }
    }

    #[test]
    fn arbitrary_archives_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        let _ = read_tar_gz(&bytes, small_limits());
        let _ = read_tar_gz(&gz(&bytes), small_limits());
        if let Ok(raw) = read_tar(&bytes, small_limits()) {
            let _ = into_files(raw, Root::SingleTopDir);
        }
        let _ = provero::pypi::zipread::read_zip(&bytes, small_limits());
        let _ = provero::crates::artifact::read(&resolved("x", "1.0.0", "x-1.0.0.crate"), &gz(&bytes));
        let _ = provero::pypi::artifact::read(&resolved("x", "1.0", "x-1.0.tar.gz"), &gz(&bytes));
        let _ = provero::pypi::artifact::read(&resolved("x", "1.0", "x-1.0-py3-none-any.whl"), &bytes);
        let _ = provero::gems::artifact::read(&resolved("x", "1.0", "x-1.0.gem"), &bytes);
    }

    #[test]
    fn tar_round_trip_keeps_every_file(
        files in prop::collection::btree_map("[a-z]{1,8}(/[a-z]{1,8}){0,2}", prop::collection::vec(any::<u8>(), 0..2048), 1..8)
    ) {
        // No path may be both a file and a directory of another file.
        let paths: Vec<&String> = files.keys().collect();
        prop_assume!(!paths.iter().any(|a| paths.iter().any(|b| b.starts_with(&format!("{a}/")))));
        let list: Vec<(String, Vec<u8>)> =
            files.iter().map(|(p, d)| (format!("pkg/{p}"), d.clone())).collect();
        let raw = read_tar_gz(&gz(&tar_of(&list)), small_limits()).unwrap();
        let (got, findings) = into_files(raw, Root::Exact("pkg"));
        prop_assert!(findings.is_empty(), "{findings:?}");
        prop_assert_eq!(got.len(), files.len());
        for (p, d) in &files {
            match got.get(p).unwrap() {
                Content::File { data, .. } => prop_assert_eq!(data.as_slice(), d.as_slice()),
                // Over the (small) streaming threshold: the blob id is what git would say.
                Content::Streamed { blob_id, size, .. } => {
                    prop_assert_eq!(blob_id, &archive::git_blob_id(d));
                    prop_assert_eq!(*size, d.len() as u64);
                }
                other => prop_assert!(false, "{other:?}"),
            }
        }
    }

    #[test]
    fn text_formats_never_panic(text in textish()) {
        let _ = provero::crates::registry::parse_index(&text, "x", "u");
        let _ = provero::crates::artifact::parse_vcs_info(text.as_bytes());
        let _ = provero::crates::lockfile::parse_cargo_lock(&text, "Cargo.lock");
        let _ = provero::pypi::registry::parse_json(text.as_bytes(), "https://e.invalid/simple/x/");
        let page = provero::pypi::registry::parse_html(&text, "https://e.invalid/simple/x/");
        let _ = provero::pypi::registry::versions_of(&page, "x");
        let _ = provero::pypi::pkginfo::parse(&text);
        let ini = provero::pypi::pyconfig::parse_ini(&text);
        let _ = provero::pypi::pyconfig::normalised_ini(&ini, "egg_info");
        let _ = provero::pypi::pyconfig::setup_py_value(&text, "install_requires");
        let _ = provero::pypi::lockfile::parse_requirements_full(&text);
        let _ = provero::pypi::lockfile::parse_uv_lock(&text);
        let _ = provero::gems::artifact::parse_metadata(&text);
        let _ = provero::gems::registry::parse_compact_info(&text);
        let _ = provero::gems::lockfile::parse_gemfile_lock(&text, "Gemfile.lock");
        let _ = provero::gems::gemspec_deps::declared_dependencies(&text);
    }

    #[test]
    fn one_bad_index_line_leaves_the_others(
        vers in prop::collection::btree_set((0u8..20, 0u8..20, 0u8..20), 1..6),
        junk in "[^\n]{0,40}",
    ) {
        let cksum = "0".repeat(64);
        let mut text = String::new();
        for (a, b, c) in &vers {
            text.push_str(&format!("{{\"name\":\"x\",\"vers\":\"{a}.{b}.{c}\",\"cksum\":\"{cksum}\"}}\n"));
            text.push_str(&junk.replace('{', ""));
            text.push('\n');
        }
        let lines = provero::crates::registry::parse_index(&text, "x", "u").unwrap();
        prop_assert_eq!(lines.len(), vers.len());
    }
}

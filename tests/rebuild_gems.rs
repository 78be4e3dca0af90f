//! Rebuild mode for RubyGems, end to end: a gem built by the real `gem build` from a tagged
//! repository, served on 127.0.0.1, rebuilt by provero with `gem build` in its sandbox. The
//! honest gem is verified (its `date` and the archive mtimes stabilized); a `metadata.gz` that
//! gained an executable or changed a dependency, which diff mode does not compare byte for
//! byte, is caught.

mod gems_support;

use gems_support::*;

const GEMSPEC: &str = r#"Gem::Specification.new do |s|
  s.name = "rebuilt"
  s.version = "1.0.0"
  s.summary = "A gem rebuilt from source"
  s.authors = ["Fixture"]
  s.license = "MIT"
  s.metadata = { "source_code_uri" => "https://github.com/acme/rebuilt" }
  s.files = `git ls-files -z`.split("\x0")
  s.require_paths = ["lib"]
  s.add_dependency "rack", ">= 2"
end
"#;

/// The honest gem's bytes.
fn honest(w: &World) -> Vec<u8> {
    let dir = repo(
        &w.repos,
        "rebuilt",
        &[
            ("rebuilt.gemspec", GEMSPEC),
            (
                "lib/rebuilt.rb",
                "module Rebuilt\n  def self.hi = \"hi\"\nend\n",
            ),
            ("README.md", "# rebuilt\n"),
        ],
        &["v1.0.0"],
    );
    gem_build(&dir, "rebuilt.gemspec")
}

fn publish(w: &World, gem: &[u8]) {
    w.publish("rebuilt", "1.0.0", gem, None);
}

fn verify(w: &World, extra: &[&str]) -> Run {
    w.verify_with("gems:rebuilt@1.0.0", &[&["--no-db"], extra].concat())
}

fn stabilizers(run: &Run) -> Vec<String> {
    run.result()["rebuild"]["stabilizers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn honest_gem_is_verified_by_rebuild() {
    let w = World::new();
    let gem = honest(&w);
    publish(&w, &gem);
    let run = verify(&w, &["--mode", "rebuild"]);
    assert_eq!(run.verdict(), "verified", "{:#}", run.json);
    assert_eq!(run.code, 0);
    let r = run.result();
    assert_eq!(r["rebuild"]["packager"], "gem build");
    assert_eq!(r["rebuild"]["bit_for_bit"], false);
    // Built on another day than the published gem (SOURCE_DATE_EPOCH 2024-01-01).
    let s = stabilizers(&run);
    assert!(s.contains(&"gem-date".to_string()), "{s:?}");
    assert!(s.contains(&"gem-checksums".to_string()), "{s:?}");
    // metadata.gz and checksums.yaml.gz were compared as members.
    assert_eq!(r["stats"]["files"], 5, "{r:#}");
}

#[test]
fn metadata_that_gained_an_executable_is_caught_only_by_rebuild() {
    let w = World::new();
    let gem = honest(&w);
    let tampered = repack(&gem, false, |m| {
        edit_metadata(m, |y| {
            assert!(y.contains("executables: []"), "{y}");
            y.replace("executables: []", "executables:\n- rebuilt-evil")
        })
    });
    publish(&w, &tampered);
    let diff = verify(&w, &[]);
    assert_eq!(diff.verdict(), "verified", "{:#}", diff.json);
    let run = verify(&w, &["--mode", "rebuild"]);
    assert_eq!(run.verdict(), "mismatch", "{:#}", run.json);
    assert!(
        run.has("content-differs", Some("metadata.gz")),
        "{:#}",
        run.json
    );
    let f = &run.result()["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "metadata.gz")
        .unwrap()
        .clone();
    assert_eq!(f["mode"], "rebuild");
    assert!(
        f["diff"].as_str().unwrap().contains("+- rebuilt-evil"),
        "{f:#}"
    );
}

#[test]
fn metadata_with_a_changed_dependency_is_caught_by_rebuild() {
    let w = World::new();
    let gem = honest(&w);
    let tampered = repack(&gem, false, |m| {
        edit_metadata(m, |y| {
            assert!(y.contains("name: rack"), "{y}");
            y.replace("name: rack", "name: rack-evil")
        })
    });
    publish(&w, &tampered);
    let run = verify(&w, &["--mode", "rebuild"]);
    assert_eq!(run.verdict(), "mismatch", "{:#}", run.json);
    assert!(
        run.has("content-differs", Some("metadata.gz")),
        "{:#}",
        run.json
    );
}

#[test]
fn a_gemspec_that_fails_in_the_sandbox_is_rebuild_failed() {
    let w = World::new();
    // The gemspec reads a file only the publisher's machine has (outside the checkout).
    let secret = w.repos.parent().unwrap().join("publisher-secret.txt");
    std::fs::write(&secret, "1.0.0").unwrap();
    let spec = GEMSPEC.replace(
        "s.version = \"1.0.0\"",
        &format!(
            "s.version = File.read({:?}).strip",
            secret.display().to_string()
        ),
    );
    let dir = repo(
        &w.repos,
        "rebuilt",
        &[
            ("rebuilt.gemspec", &spec),
            ("lib/rebuilt.rb", "module Rebuilt\nend\n"),
        ],
        &["v1.0.0"],
    );
    let gem = gem_build(&dir, "rebuilt.gemspec");
    publish(&w, &gem);
    let run = verify(&w, &["--mode", "rebuild"]);
    assert_eq!(run.verdict(), "unverifiable", "{:#}", run.json);
    let m = run.message("rebuild-failed");
    assert!(m.contains("`gem build` failed"), "{m}");
    assert!(
        m.contains("publisher-secret.txt"),
        "the log tail is quoted: {m}"
    );
}

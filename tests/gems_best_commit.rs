//! RubyGems: the best commit when the commit was guessed from a tag, end to end with a real
//! `gem build` from a real git repository: the tag set before the final commit, the gem built
//! from that commit, verified with a warning naming both; content in no commit stays red.

mod gems_support;

use gems_support::*;
use serde_json::json;

const GEMSPEC: &str = r#"require_relative "lib/late/version"

Gem::Specification.new do |s|
  s.name = "late"
  s.version = Late::VERSION
  s.summary = "Tagged one commit early"
  s.authors = ["Fixture"]
  s.license = "MIT"
  s.metadata = { "source_code_uri" => "https://github.com/acme/late" }
  s.files = `git ls-files -z`.split("\x0")
  s.require_paths = ["lib"]
end
"#;

#[test]
fn a_gem_built_one_commit_after_its_tag_verifies_naming_both_commits() {
    let tmp = tempfile::tempdir().unwrap();
    let repos = tmp.path().join("repos");
    let dir = repo(
        &repos,
        "late",
        &[
            ("late.gemspec", GEMSPEC),
            ("lib/late.rb", "module Late\n  def self.hi = \"hi\"\nend\n"),
            (
                "lib/late/version.rb",
                "module Late\n  VERSION = \"1.0.0\"\nend\n",
            ),
        ],
        &["v1.0.0"],
    );
    let tagged = git(&dir, &["rev-parse", "HEAD"]);
    write_files(
        &dir,
        &[(
            "lib/late.rb",
            "module Late\n  def self.hi = \"hello\"\nend\n",
        )],
    );
    git(&dir, &["commit", "-q", "-am", "last fix"]);
    let built = git(&dir, &["rev-parse", "HEAD"]);
    let gem = gem_build(&dir, "late.gemspec");
    let tampered = repack(&gem, false, |m| {
        edit_data(m, |files| {
            for (p, d) in files.iter_mut() {
                if p == "lib/late.rb" {
                    *d = b"module Late\n  def self.hi = `id`\nend\n".to_vec();
                }
            }
        })
    });
    let www = Registry::new(&tmp.path().join("www"));
    let server = TestServer::serve_dir(www.root.clone());
    let url = format!("{}/", server.base_url().trim_end_matches('/'));
    let publish = |gem: &[u8]| {
        www.publish(
            "late",
            &[Published {
                number: "1.0.0",
                platform: "ruby",
                gem,
                sha: None,
            }],
            json!({}),
        )
    };

    publish(&gem);
    let run = provero(&url, &repos, &tmp.path().join("cache"), "gems:late@1.0.0");
    assert_eq!(run.verdict(), "verified", "{:#}", run.json);
    assert!(run.has("commit-from-tag", None));
    let msg = run.message("exact-commit-elsewhere");
    assert!(
        msg.contains(&tagged[..12]) && msg.contains(&built[..12]),
        "{msg}"
    );
    assert_eq!(run.result()["source"]["commit"], built.as_str());

    publish(&tampered);
    let run = provero(&url, &repos, &tmp.path().join("cache2"), "gems:late@1.0.0");
    assert_eq!(run.verdict(), "mismatch", "{:#}", run.json);
    assert!(!run.has("exact-commit-elsewhere", None));
    assert!(run.has("content-differs", Some("lib/late.rb")));
    assert!(run.message("content-differs").contains("in no commit"));
}

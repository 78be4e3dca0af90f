//! `Gemfile.lock` as Bundler writes it: sections (`GEM`, `GIT`, `PATH`, `PLUGIN SOURCE`,
//! `PLATFORMS`, `DEPENDENCIES`, `CHECKSUMS`, ...) start at column 0; a source section has
//! `  remote: <url>` lines and a `  specs:` list whose 4-space entries are the locked gems
//! (`    nokogiri (1.16.0-x86_64-linux)`), their own dependencies indented 6 spaces. Only gems
//! from a rubygems.org remote become specs; gems locked from git, a path or another gem
//! server are reported as skipped (not errors: a nightly CI job must not fail because a
//! project has a git dependency), so a private gem is never looked up on the public registry.

use crate::ecosystem::Ecosystem;
use crate::input::Input;
use crate::report::{InputError, LockfileLine, SkippedInput};
use crate::spec::{Spec, VersionReq};

/// The locked gems of a `Gemfile.lock` (named `origin` in messages): rubygems.org entries as
/// `gems:` specs, git/path/other-server entries as skipped, malformed lines as bad inputs.
pub fn parse_gemfile_lock(text: &str, origin: &str) -> Vec<Input> {
    parse_gemfile_lock_with(text, origin, &is_rubygems_org)
}

/// Is this `remote:` rubygems.org (the registry provero verifies against by default)?
pub fn is_rubygems_org(remote: &str) -> bool {
    let r = remote.trim().trim_end_matches('/').to_ascii_lowercase();
    matches!(
        r.as_str(),
        "https://rubygems.org" | "http://rubygems.org" | "https://www.rubygems.org"
    )
}

/// Like [`parse_gemfile_lock`], with the caller deciding which `GEM` remotes to accept (a
/// mirror given with `--registry gems=URL`).
pub fn parse_gemfile_lock_with(
    text: &str,
    origin: &str,
    accept_remote: &dyn Fn(&str) -> bool,
) -> Vec<Input> {
    let bad = |line: usize, message: String| {
        Input::Bad(InputError {
            input: format!("{origin}, line {line}"),
            message: format!("{origin}, line {line}: {message}"),
        })
    };
    let skipped = |name: &str, version: &str, reason: String| {
        Input::Skipped(SkippedInput {
            input: format!("gems:{name}@{version}"),
            reason,
        })
    };
    let mut out = Vec::new();
    let mut section = String::new();
    let mut remotes: Vec<String> = Vec::new();
    let mut in_specs = false;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        let lineno = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        if !line.starts_with(' ') {
            section = line.trim().to_string();
            remotes.clear();
            in_specs = false;
            continue;
        }
        let source_section = matches!(section.as_str(), "GEM" | "GIT" | "PATH" | "PLUGIN SOURCE");
        if !source_section {
            continue;
        }
        let indent = line.len() - line.trim_start_matches(' ').len();
        let body = line.trim();
        if indent == 2 {
            in_specs = body == "specs:";
            if let Some(r) = body.strip_prefix("remote:") {
                remotes.push(r.trim().to_string());
            }
            continue;
        }
        if indent != 4 || !in_specs {
            continue;
        }
        let Some((name, version)) = entry(body) else {
            out.push(bad(
                lineno,
                format!("`{body}` is not a `name (version)` entry"),
            ));
            continue;
        };
        let from = remotes.join(", ");
        if section != "GEM" {
            out.push(skipped(
                name,
                version,
                format!(
                    "locked from a {} source ({from}), not from a gem server",
                    section.to_ascii_lowercase()
                ),
            ));
            continue;
        }
        if remotes.is_empty() || !remotes.iter().any(|r| accept_remote(r)) {
            let from = if from.is_empty() {
                "an unnamed remote"
            } else {
                &from
            };
            out.push(skipped(
                name,
                version,
                format!("from {from}, not rubygems.org"),
            ));
            continue;
        }
        out.push(match Spec::parse(&format!("gems:{name}@{version}")) {
            Ok(s)
                if s.ecosystem == Ecosystem::Gems
                    && s.version == VersionReq::Exact(version.to_string()) =>
            {
                Input::Spec(Spec {
                    origin: Some(LockfileLine {
                        path: origin.to_string(),
                        line: lineno,
                    }),
                    ..s
                })
            }
            Ok(_) => bad(lineno, format!("`{body}` is not a gem version")),
            Err(e) => bad(lineno, e),
        });
    }
    out
}

/// `name (version)` → (`name`, `version`).
fn entry(body: &str) -> Option<(&str, &str)> {
    let (name, rest) = body.split_once(" (")?;
    let version = rest.strip_suffix(')')?;
    let ok = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    };
    (ok(name) && ok(version)).then_some((name, version))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCK: &str = "GIT
  remote: https://github.com/rails/rails.git
  revision: 0123456789abcdef0123456789abcdef01234567
  branch: main
  specs:
    rails (7.2.0.alpha)
      actionpack (= 7.2.0.alpha)

PATH
  remote: .
  specs:
    myapp (0.1.0)
      rack (>= 2)

GEM
  remote: https://rubygems.org/
  specs:
    nokogiri (1.16.0-x86_64-linux)
      racc (~> 1.4)
    nokogiri (1.16.0-arm64-darwin)
      racc (~> 1.4)
    rack (3.1.8)
    racc (1.7.3)
    rails-html-sanitizer (1.6.0.rc1)

GEM
  remote: https://gems.contribsys.com/
  specs:
    sidekiq-pro (7.2.0)

PLATFORMS
  arm64-darwin
  x86_64-linux

DEPENDENCIES
  myapp!
  nokogiri
  rack (~> 3.1)

CHECKSUMS
  rack (3.1.8) sha256=0000

BUNDLED WITH
   2.5.3
";

    fn specs(v: &[Input]) -> Vec<String> {
        v.iter()
            .filter_map(|i| match i {
                Input::Spec(s) => Some(s.to_string()),
                _ => None,
            })
            .collect()
    }

    fn skipped(v: &[Input]) -> Vec<&SkippedInput> {
        v.iter()
            .filter_map(|i| match i {
                Input::Skipped(s) => Some(s),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn gem_sections_from_rubygems_org() {
        let got = parse_gemfile_lock(LOCK, "Gemfile.lock");
        assert_eq!(
            specs(&got),
            [
                "gems:nokogiri@1.16.0-x86_64-linux",
                "gems:nokogiri@1.16.0-arm64-darwin",
                "gems:rack@3.1.8",
                "gems:racc@1.7.3",
                "gems:rails-html-sanitizer@1.6.0.rc1",
            ]
        );
        let sk = skipped(&got);
        assert_eq!(sk.len(), 3, "{sk:?}");
        assert_eq!(got.len(), 8, "nothing is an error");
        assert_eq!(sk[0].input, "gems:rails@7.2.0.alpha");
        assert!(sk[0].reason.contains("git source") && sk[0].reason.contains("rails/rails.git"));
        assert_eq!(sk[1].input, "gems:myapp@0.1.0");
        assert!(sk[1].reason.contains("path source"));
        assert_eq!(sk[2].input, "gems:sidekiq-pro@7.2.0");
        assert!(sk[2].reason.contains("gems.contribsys.com"));
    }

    #[test]
    fn a_mirror_can_be_accepted() {
        let got = parse_gemfile_lock_with(LOCK, "x", &|r: &str| r.contains("contribsys"));
        assert_eq!(specs(&got), ["gems:sidekiq-pro@7.2.0"]);
    }

    #[test]
    fn malformed_entries_say_where() {
        let got = parse_gemfile_lock(
            "GEM\n  remote: https://rubygems.org/\n  specs:\n    broken entry\n    ok (1.0)\n",
            "app/gems.locked",
        );
        match &got[0] {
            Input::Bad(e) => assert!(e.message.starts_with("app/gems.locked, line 4:"), "{e:?}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(specs(&got), ["gems:ok@1.0"]);
        assert!(parse_gemfile_lock("", "Gemfile.lock").is_empty());
    }

    #[test]
    fn crlf_files() {
        let got = parse_gemfile_lock(
            "GEM\r\n  remote: https://rubygems.org/\r\n  specs:\r\n    rack (3.1.8)\r\n",
            "Gemfile.lock",
        );
        assert_eq!(specs(&got), ["gems:rack@3.1.8"]);
    }
}

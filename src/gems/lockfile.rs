//! `Gemfile.lock` as Bundler writes it: sections (`GEM`, `GIT`, `PATH`, `PLUGIN SOURCE`,
//! `PLATFORMS`, `DEPENDENCIES`, `CHECKSUMS`, ...) start at column 0; a source section has
//! `  remote: <url>` lines and a `  specs:` list whose 4-space entries are the locked gems
//! (`    nokogiri (1.16.0-x86_64-linux)`), their own dependencies indented 6 spaces. Only gems
//! from a rubygems.org remote become specs; gems locked from git, a path or another gem
//! server are reported as skipped, so a private gem is never looked up on the public registry.

use crate::ecosystem::Ecosystem;
use crate::spec::{Spec, VersionReq};

/// The locked gems of a `Gemfile.lock` that come from rubygems.org, as `gems:` specs; every
/// entry that is skipped or malformed is an `Err` saying why.
pub fn parse_gemfile_lock(text: &str) -> Vec<Result<Spec, String>> {
    parse_gemfile_lock_with(text, &is_rubygems_org)
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
    accept_remote: &dyn Fn(&str) -> bool,
) -> Vec<Result<Spec, String>> {
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
            out.push(Err(format!(
                "Gemfile.lock, line {lineno}: `{body}` is not a `name (version)` entry"
            )));
            continue;
        };
        let origin = remotes.join(", ");
        if section != "GEM" {
            out.push(Err(format!(
                "Gemfile.lock, line {lineno}: {name} {version} is locked from a {} source ({origin}), not a gem server; skipped",
                section.to_ascii_lowercase()
            )));
            continue;
        }
        if remotes.is_empty() || !remotes.iter().any(|r| accept_remote(r)) {
            out.push(Err(format!(
                "Gemfile.lock, line {lineno}: {name} {version} comes from {}, not rubygems.org; skipped",
                if origin.is_empty() { "an unnamed remote" } else { &origin }
            )));
            continue;
        }
        out.push(
            Spec::parse(&format!("gems:{name}@{version}"))
                .map_err(|e| format!("Gemfile.lock, line {lineno}: {e}"))
                .and_then(|s| {
                    if s.ecosystem == Ecosystem::Gems
                        && s.version == VersionReq::Exact(version.to_string())
                    {
                        Ok(s)
                    } else {
                        Err(format!(
                            "Gemfile.lock, line {lineno}: `{body}` is not a gem version"
                        ))
                    }
                }),
        );
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

    fn ok(v: &[Result<Spec, String>]) -> Vec<String> {
        v.iter()
            .filter_map(|r| r.as_ref().ok())
            .map(|s| s.to_string())
            .collect()
    }

    #[test]
    fn gem_sections_from_rubygems_org() {
        let got = parse_gemfile_lock(LOCK);
        assert_eq!(
            ok(&got),
            [
                "gems:nokogiri@1.16.0-x86_64-linux",
                "gems:nokogiri@1.16.0-arm64-darwin",
                "gems:rack@3.1.8",
                "gems:racc@1.7.3",
                "gems:rails-html-sanitizer@1.6.0.rc1",
            ]
        );
        let skipped: Vec<&String> = got.iter().filter_map(|r| r.as_ref().err()).collect();
        assert_eq!(skipped.len(), 3, "{skipped:?}");
        assert!(skipped[0].contains("rails 7.2.0.alpha") && skipped[0].contains("git source"));
        assert!(skipped[1].contains("myapp") && skipped[1].contains("path source"));
        assert!(skipped[2].contains("sidekiq-pro") && skipped[2].contains("gems.contribsys.com"));
    }

    #[test]
    fn a_mirror_can_be_accepted() {
        let got = parse_gemfile_lock_with(LOCK, &|r: &str| r.contains("contribsys"));
        assert_eq!(ok(&got), ["gems:sidekiq-pro@7.2.0"]);
    }

    #[test]
    fn malformed_entries_say_where() {
        let got = parse_gemfile_lock(
            "GEM\n  remote: https://rubygems.org/\n  specs:\n    broken entry\n    ok (1.0)\n",
        );
        assert!(got[0].as_ref().unwrap_err().contains("line 4"));
        assert_eq!(got[1].as_ref().unwrap().to_string(), "gems:ok@1.0");
        assert!(parse_gemfile_lock("").is_empty());
    }

    #[test]
    fn crlf_files() {
        let got = parse_gemfile_lock(
            "GEM\r\n  remote: https://rubygems.org/\r\n  specs:\r\n    rack (3.1.8)\r\n",
        );
        assert_eq!(ok(&got), ["gems:rack@3.1.8"]);
    }
}

//! What building a gem adds to `data.tar.gz`, each a named rule with its reason.
//!
//! `gem build` itself adds nothing: `data.tar.gz` holds exactly the files `spec.files` lists,
//! byte for byte, symlinks kept as symlinks (checked with RubyGems 3.3 `gem build`; the
//! generated gemspec goes to `metadata.gz`, outside `data.tar.gz`). So a source gem gets no
//! excuse at all: a file that is not in the tagged tree is a finding.
//!
//! The one thing that cannot be in the source is a platform gem's compiled extension
//! (`nokogiri-1.16.0-x86_64-linux.gem` ships `lib/nokogiri/3.3/nokogiri.so`): built by
//! `rake-compiler` from `ext/`, it cannot be compared byte for byte, and is reported as
//! `not-comparable` rather than as content absent from the source.

use crate::compare::{FileCx, Outcome, Rule, Status};
use crate::finding::{Code, Finding};
use crate::git::GitError;

use super::artifact::GemMeta;

pub fn rules() -> Vec<Box<dyn Rule>> {
    vec![Box::new(NativeExtension)]
}

/// File name endings of compiled Ruby extensions and the libraries they bundle.
const NATIVE: [&str; 5] = [".so", ".bundle", ".dll", ".dylib", ".jar"];

fn is_native(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
    NATIVE.iter().any(|e| name.ends_with(e))
        // versioned shared libraries: libfoo.so.1.2
        || name.split_once(".so.").is_some_and(|(_, v)| {
            !v.is_empty() && v.chars().all(|c| c.is_ascii_digit() || c == '.')
        })
}

/// A compiled extension in a platform gem, absent from the source it is built from.
pub struct NativeExtension;

impl Rule for NativeExtension {
    fn name(&self) -> &'static str {
        "gem-native-extension"
    }
    fn reason(&self) -> &'static str {
        "a platform gem ships extensions compiled from the source's ext/; binaries cannot be compared byte for byte"
    }
    fn judge(&self, cx: &FileCx<'_>) -> Result<Option<Outcome>, GitError> {
        let platform_gem = cx
            .pkg
            .meta::<GemMeta>()
            .is_some_and(GemMeta::is_platform_gem);
        if !platform_gem || !matches!(cx.status, Status::Missing { .. }) || !is_native(cx.path) {
            return Ok(None);
        }
        let platform = cx
            .pkg
            .meta::<GemMeta>()
            .map(|m| m.platform.as_str())
            .unwrap_or_default();
        Ok(Some(Outcome::Finding(Finding::at(
            Code::NotComparable,
            cx.path,
            format!(
                "a compiled extension of the {platform} build; not in the source, not compared"
            ),
        ))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_names() {
        for p in [
            "lib/nokogiri/3.3/nokogiri.so",
            "lib/x.bundle",
            "ext/x.DLL",
            "vendor/libxml2.so.2",
            "lib/jruby/x.jar",
        ] {
            assert!(is_native(p), "{p}");
        }
        for p in ["lib/so.rb", "lib/x.rb", "README.so.md.rb"] {
            assert!(!is_native(p), "{p}");
        }
    }
}

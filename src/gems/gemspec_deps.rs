//! What a gemspec declares as dependencies, read as text without running Ruby: literal
//! `add_dependency` / `add_runtime_dependency` / `add_development_dependency` calls, and a note
//! when the gemspec's code (never its strings or comments) computes names, evaluates or loads
//! code, uses Bundler or reads a Gemfile, so the reading would be a guess.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use regex::Regex;

use super::source::re;

/// How a gemspec declares a dependency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum DepKind {
    /// `add_dependency` or `add_runtime_dependency`.
    Runtime,
    /// `add_development_dependency` only.
    Development,
}

/// How the gemspec declares its dependencies, read as text.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct DeclaredDeps {
    /// Names given as string literals to `add_dependency`, `add_runtime_dependency` and
    /// `add_development_dependency`, with their kind: a name declared both ways is `Runtime`
    /// (generated gemspecs fall back to `add_dependency` for development dependencies on old
    /// RubyGems, so a development name may also appear as a runtime one).
    pub names: BTreeMap<String, DepKind>,
    /// Why the list may be incomplete (a loop, a Gemfile read, a computed name), if it may be.
    pub dynamic: Option<String>,
}

impl DeclaredDeps {
    pub fn kind(&self, name: &str) -> Option<DepKind> {
        self.names.get(name).copied()
    }
}

/// Read the dependency declarations of a gemspec.
///
/// Only Ruby code counts: comments and the contents of string, heredoc, regexp and `%`
/// literals are blanked first (see [`code_only`]), so a `'Gemfile'` in a literal `files` list
/// or "download" in a description is not taken for code that reads a Gemfile or loads a file.
pub fn declared_dependencies(gemspec: &str) -> DeclaredDeps {
    static CALL: OnceLock<Regex> = OnceLock::new();
    static LITERAL: OnceLock<Regex> = OnceLock::new();
    static DYNAMIC: OnceLock<Regex> = OnceLock::new();
    static READ: OnceLock<Regex> = OnceLock::new();
    let call = re(
        &CALL,
        r"(?m)(^|[^:\w])add_(runtime_|development_)?dependency\b[ \t]*\(?\s*",
    );
    // The first argument as a literal, followed by the end of that argument.
    let literal = re(
        &LITERAL,
        r#"\A(?:"([A-Za-z0-9._-]+)"|'([A-Za-z0-9._-]+)'|%[qQ]?[({\[<]([A-Za-z0-9._-]+)[)}\]>])(?:\.freeze)?(?:[ \t]*(?:[,);}\n#]|\z)|[ \t]+(?:if|unless)\b)"#,
    );
    let dynamic = re(
        &DYNAMIC,
        r#"\b(?:instance_|class_|module_)?eval\b|\bload(?:[ \t]*\(|[ \t]+["'])|\bBundler\b"#,
    );
    let read = re(
        &READ,
        r"\b(?:File|IO)\.(?:read|readlines|foreach|open)\b|\bFile\.new\b",
    );
    let code = code_only(gemspec);
    let mut out = DeclaredDeps::default();
    for c in call.captures_iter(&code) {
        let kind = match c.get(2).map(|m| m.as_str()) {
            Some("development_") => DepKind::Development,
            _ => DepKind::Runtime,
        };
        let at = c.get(0).expect("match").end();
        match literal.captures(gemspec.get(at..).unwrap_or_default()) {
            Some(l) => {
                let n = (1..=3).find_map(|i| l.get(i)).expect("one group").as_str();
                let k = out.names.entry(n.to_string()).or_insert(kind);
                *k = (*k).min(kind);
            }
            None => {
                let start = gemspec[..at].rfind('\n').map_or(0, |i| i + 1);
                let end = gemspec[at..].find('\n').map_or(gemspec.len(), |i| at + i);
                out.dynamic.get_or_insert_with(|| {
                    format!(
                        "a dependency name is computed (`{}`)",
                        gemspec[start..end].trim()
                    )
                });
            }
        }
    }
    if out.dynamic.is_none() {
        if let Some(m) = dynamic.find(&code) {
            let why = match m.as_str() {
                "Bundler" => "uses Bundler",
                s if s.starts_with("load") => "loads another file",
                _ => "evaluates code",
            };
            out.dynamic = Some(format!("the gemspec {why}"));
        }
    }
    if out.dynamic.is_none() {
        // `File.read("Gemfile")` and friends: a read in the code, a Gemfile named on that line.
        let reads_gemfile = code
            .lines()
            .zip(gemspec.lines())
            .any(|(c, g)| read.is_match(c) && (g.contains("Gemfile") || g.contains("gems.rb")));
        if reads_gemfile {
            out.dynamic = Some("the gemspec reads dependencies from a Gemfile".into());
        }
    }
    out
}

/// Ruby source with comments (`#`, `=begin`/`=end`, after `__END__`) and the contents of
/// string, backtick, heredoc, regexp and `%` literals turned into spaces. Quotes and newlines
/// stay and every byte keeps its offset, so positions and lines match the original. A simple
/// scanner, not a Ruby parser: interpolation inside a string is blanked with the string.
pub fn code_only(src: &str) -> String {
    static HEREDOC: OnceLock<Regex> = OnceLock::new();
    let heredoc = re(
        &HEREDOC,
        r#"\A<<([~-])?(?:"([A-Za-z_]\w*)"|'([A-Za-z_]\w*)'|`([A-Za-z_]\w*)`|([A-Za-z_]\w*))"#,
    );
    let b = src.as_bytes();
    let mut out = b.to_vec();
    let blank = |out: &mut [u8], from: usize, to: usize| {
        for x in &mut out[from..to.min(b.len())] {
            if *x != b'\n' {
                *x = b' ';
            }
        }
    };
    let line_end = |i: usize| {
        b[i..]
            .iter()
            .position(|&c| c == b'\n')
            .map_or(b.len(), |p| i + p)
    };
    // Where a `/` or a bare `%(` starts a literal rather than dividing.
    let opens_value = |prev: u8| b"(,=~!|&{[;?:\n+-*<>".contains(&prev);
    // Heredocs opened on the current line: (terminator, indented terminator allowed).
    let mut pending: Vec<(String, bool)> = Vec::new();
    let mut prev = b'\n';
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let line_start = i == 0 || b[i - 1] == b'\n';
        if line_start && src[i..].starts_with("=begin") {
            let end = src[i..].find("\n=end").map_or(b.len(), |p| i + p + 1);
            let end = line_end(end);
            blank(&mut out, i, end);
            i = end;
            continue;
        }
        if line_start && (src[i..].starts_with("__END__\n") || &src[i..] == "__END__") {
            blank(&mut out, i, b.len());
            break;
        }
        match c {
            b'\n' => {
                i += 1;
                for (id, indented) in std::mem::take(&mut pending) {
                    while i < b.len() {
                        let end = line_end(i);
                        let line = &src[i..end];
                        let t = if indented {
                            line.trim()
                        } else {
                            line.trim_end()
                        };
                        if t == id {
                            i = (end + 1).min(b.len());
                            break;
                        }
                        blank(&mut out, i, end);
                        i = (end + 1).min(b.len());
                    }
                }
                prev = b'\n';
                continue;
            }
            b' ' | b'\t' | b'\r' => {}
            b'#' => {
                let end = line_end(i);
                blank(&mut out, i, end);
                i = end;
                continue;
            }
            b'$' => {
                // `$"`, `$'`: globals, not quotes.
                prev = b'$';
                let punct = b.get(i + 1).is_some_and(|x| x.is_ascii_punctuation());
                i += if punct { 2 } else { 1 };
                continue;
            }
            b'"' | b'\'' | b'`' => {
                let end = close(b, i + 1, c, c, c != b'\'');
                blank(&mut out, i + 1, end);
                i = (end + 1).min(b.len());
                prev = b'"';
                continue;
            }
            b'/' if opens_value(prev) => {
                let end = close(b, i + 1, b'/', b'/', true);
                blank(&mut out, i + 1, end);
                i = (end + 1).min(b.len());
                prev = b'"';
                continue;
            }
            b'%' => {
                let mut j = i + 1;
                let letter = b.get(j).is_some_and(|x| {
                    b"qQwWiIrsx".contains(x)
                        && b.get(j + 1).is_some_and(|d| b"([{<|!/^".contains(d))
                });
                if letter {
                    j += 1;
                }
                if let Some(&open) = b.get(j).filter(|d| b"([{<|!/^".contains(d)) {
                    if letter || opens_value(prev) {
                        let shut = match open {
                            b'(' => b')',
                            b'[' => b']',
                            b'{' => b'}',
                            b'<' => b'>',
                            x => x,
                        };
                        let end = close(b, j + 1, open, shut, false);
                        blank(&mut out, j + 1, end);
                        i = (end + 1).min(b.len());
                        prev = b'"';
                        continue;
                    }
                }
                prev = c;
            }
            b'<' if b.get(i + 1) == Some(&b'<') => {
                let found = heredoc.captures(&src[i..]).filter(|h| {
                    // `files << CONST` is a push; a bare heredoc id is upper case by custom.
                    h.get(1).is_some()
                        || h.get(5).map_or(true, |id| {
                            id.as_str().starts_with(|x: char| x.is_ascii_uppercase())
                        })
                });
                if let Some(h) = found {
                    let indented = h.get(1).is_some();
                    let id = (2..=5).find_map(|g| h.get(g)).expect("id").as_str();
                    pending.push((id.to_string(), indented));
                    i += h.get(0).expect("match").end();
                    prev = b'"';
                    continue;
                }
                prev = c;
                i += 2;
                continue;
            }
            _ => prev = c,
        }
        i += 1;
    }
    String::from_utf8(out).expect("blanking keeps UTF-8: literals start and end on ASCII")
}

/// The offset of the byte closing a literal opened just before `from`: backslash escapes
/// skipped, `open`/`shut` pairs nested (for `%w[...]`), `#{...}` skipped when `interpolates`.
fn close(b: &[u8], from: usize, open: u8, shut: u8, interpolates: bool) -> usize {
    let mut depth = 0usize;
    let mut i = from;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b'#' if interpolates && b.get(i + 1) == Some(&b'{') => {
                let mut braces = 0usize;
                i += 1;
                while i < b.len() {
                    match b[i] {
                        b'{' => braces += 1,
                        b'}' => {
                            braces = braces.saturating_sub(1);
                            if braces == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
            }
            x if x == shut && depth == 0 => return i,
            x if x == shut => depth -= 1,
            x if x == open && open != shut => depth += 1,
            _ => {}
        }
        i += 1;
    }
    b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependencies_as_text() {
        let g = r#"
  s.add_dependency "rack", ">= 2"
  s.add_runtime_dependency("json")
  s.add_development_dependency 'rake'
  s.add_dependency %q<thor>, [">= 0"]
  # s.add_dependency "commented"
"#;
        let d = declared_dependencies(g);
        use DepKind::*;
        assert_eq!(
            d.names
                .iter()
                .map(|(n, k)| (n.as_str(), *k))
                .collect::<Vec<_>>(),
            [
                ("json", Runtime),
                ("rack", Runtime),
                ("rake", Development),
                ("thor", Runtime)
            ]
        );
        assert_eq!(d.dynamic, None);
    }

    /// rack.gemspec: minitest is only a development dependency; a gem that makes it a runtime
    /// one must not pass as declared.
    #[test]
    fn development_dependencies_are_not_runtime_ones() {
        let g = r#"
  s.add_dependency 'rack-session', '>= 0'
  s.add_development_dependency 'minitest', "~> 5.0"
  s.add_development_dependency 'minitest-global_expectations'
"#;
        let d = declared_dependencies(g);
        assert_eq!(d.kind("rack-session"), Some(DepKind::Runtime));
        assert_eq!(d.kind("minitest"), Some(DepKind::Development));
        assert_eq!(
            d.kind("minitest-global_expectations"),
            Some(DepKind::Development)
        );
        assert_eq!(d.kind("rake"), None);
        assert_eq!(d.dynamic, None);
        // Generated gemspecs repeat development names with `add_dependency` for old RubyGems:
        // declared both ways, the runtime kind wins (no false alarm).
        let g = r#"
    if Gem::Version.new(Gem::VERSION) >= Gem::Version.new('1.2.0') then
      s.add_runtime_dependency(%q<json>.freeze, [">= 0"])
      s.add_development_dependency(%q<rake>.freeze, [">= 0"])
    else
      s.add_dependency(%q<json>.freeze, [">= 0"])
      s.add_dependency(%q<rake>.freeze, [">= 0"])
    end
"#;
        let d = declared_dependencies(g);
        assert_eq!(d.kind("json"), Some(DepKind::Runtime));
        assert_eq!(d.kind("rake"), Some(DepKind::Runtime));
        assert_eq!(d.dynamic, None);
    }

    #[test]
    fn dynamic_gemspecs_say_so() {
        let d = declared_dependencies("DEPS.each { |n, v| s.add_dependency n, v }\n");
        assert!(d.dynamic.unwrap().contains("computed"));
        let d = declared_dependencies("s.add_dependency(*args)\n");
        assert!(d.dynamic.is_some());
        let d = declared_dependencies("s.add_dependency \"a\" + suffix\n");
        assert!(d.dynamic.unwrap().contains("computed"));
        let d =
            declared_dependencies("require_relative \"lib/x/version\"\ns.add_dependency \"a\"\n");
        assert_eq!(d.dynamic, None);
        // A Gemfile scanned for names: too dynamic, whatever else is literal.
        let d = declared_dependencies(
            "s.add_dependency \"a\"\nFile.read(\"Gemfile\").scan(/gem \"(\\w+)\"/).each { |n| s.add_dependency n }\n",
        );
        assert!(d.dynamic.is_some());
        assert_eq!(d.kind("a"), Some(DepKind::Runtime));
        // Reading a Gemfile at all, evaluating or loading code, Bundler.
        for (g, why) in [
            (
                "deps = File.readlines(File.expand_path(\"Gemfile\", __dir__))\n",
                "Gemfile",
            ),
            ("s.instance_eval File.read(\"deps.rb\")\n", "evaluates"),
            ("eval(File.read(\"deps.rb\"))\n", "evaluates"),
            ("load \"deps.rb\"\n", "loads"),
            ("load(\"deps.rb\")\n", "loads"),
            ("Bundler.load.dependencies.each { }\n", "Bundler"),
        ] {
            let d = declared_dependencies(&format!("s.add_dependency \"a\"\n{g}"));
            assert!(
                d.dynamic.as_deref().unwrap_or("").contains(why),
                "{g}: {d:?}"
            );
        }
    }

    /// sinatra, rack-protection, concurrent-ruby: `Gemfile` in a literal file list is a file
    /// name, not a Gemfile read.
    #[test]
    fn gemfile_in_a_literal_files_list_is_not_dynamic() {
        let g = r#"Gem::Specification.new 'sinatra', Sinatra::VERSION do |s|
  s.files = %w[.yardopts CHANGELOG.md CONTRIBUTING.md Gemfile
               LICENSE MAINTENANCE.md Rakefile SECURITY.md sinatra.gemspec VERSION]
  s.files += [
    'Gemfile',
    'rack-protection.gemspec',
  ]
  s.files += Dir['lib/**/*.rb'] # not the Gemfile
  s.add_dependency 'rack', '>= 3.0.0', '< 4'
  s.add_dependency 'tilt', '~> 2.0'
end
"#;
        let d = declared_dependencies(g);
        assert_eq!(d.dynamic, None);
        assert_eq!(d.kind("rack"), Some(DepKind::Runtime));
        assert_eq!(d.kind("tilt"), Some(DepKind::Runtime));
    }

    /// puma: `require_relative "lib/puma/const"` only reads the version.
    #[test]
    fn require_relative_alone_is_not_dynamic() {
        let g = r#"require_relative "lib/puma/const"

Gem::Specification.new do |s|
  s.name = "puma"
  s.version = Puma::Const::PUMA_VERSION
  s.add_runtime_dependency "nio4r", "~> 2.0"
end
"#;
        let d = declared_dependencies(g);
        assert_eq!(d.dynamic, None);
        assert_eq!(d.kind("nio4r"), Some(DepKind::Runtime));
    }

    /// Words like "download" and "retrieval" in a description are text, not `load`/`eval`.
    #[test]
    fn words_in_strings_and_comments_are_not_code() {
        let g = r#"
  s.summary = "Fast retrieval of eval results; load 'em all"
  s.description = 'Handles download and upload of files. Does not eval or load "code".'
  s.post_install_message = <<~MSG
    Run `bundle exec rake load` to eval the Gemfile, or Bundler will load "it".
  MSG
  # We used to eval(File.read("Gemfile")) here.
  s.files = `git ls-files -z lib Gemfile`.split("\x0")
  s.add_dependency "net-http" # for download
"#;
        let d = declared_dependencies(g);
        assert_eq!(d.dynamic, None, "{}", code_only(g));
        assert_eq!(d.kind("net-http"), Some(DepKind::Runtime));
    }

    #[test]
    fn code_only_blanks_literals_and_comments_in_place() {
        let g = "a = \"x # y\" # z\nb = %w[eval (load)] + 'it''s'\nc = <<-EOS\n  eval\n  EOS\nd = x / y / z\n";
        let code = code_only(g);
        assert_eq!(code.len(), g.len());
        assert_eq!(
            code,
            "a = \"     \"    \nb = %w[           ] + '  '' '\nc = <<-EOS\n      \n  EOS\nd = x / y / z\n"
        );
    }

    #[test]
    fn non_ascii_gemspecs_do_not_panic() {
        let g = "# Ünïcode comment ✓\nGem::Specification.new do |s|\n  s.authors = [\"José Müller\"]\n  s.summary = %q{Ça marche — “quotes”}\n  s.description = <<~DESC\n    naïve café\n  DESC\n  ünïcode_var = 1\n  s.add_dependency \"rack\", \"~> 3\"\nend\n";
        let code = code_only(g);
        assert_eq!(code.len(), g.len());
        let d = declared_dependencies(g);
        assert_eq!(d.kind("rack"), Some(DepKind::Runtime));
    }
}

//! Reading Python build configuration statically, without running anything: `setup.cfg` the
//! way `configparser` reads it (sections, `key = value` or `key: value`, indented continuation
//! lines, full-line `#`/`;` comments), and literals in `setup.py` (`name="x"`,
//! `install_requires=[...]`, or a name bound to a literal list). Anything computed is `None`:
//! callers must treat that as "cannot tell", never as "empty".

use std::collections::BTreeMap;

/// `section → key → value` with configparser's reading; keys lower-cased (configparser's
/// default `optionxform`), sections kept as written, repeated sections merged.
pub type Ini = BTreeMap<String, BTreeMap<String, String>>;

pub fn parse_ini(text: &str) -> Ini {
    let mut ini = Ini::new();
    let mut section: Option<String> = None;
    let mut key: Option<String> = None;
    for raw in text.lines() {
        let line = raw.trim_end();
        let trimmed = line.trim_start();
        if trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        let indented = line.starts_with([' ', '\t']);
        if indented && !trimmed.is_empty() {
            if let (Some(s), Some(k)) = (&section, &key) {
                let v = ini
                    .entry(s.clone())
                    .or_default()
                    .entry(k.clone())
                    .or_default();
                v.push('\n');
                v.push_str(trimmed);
                continue;
            }
        }
        if trimmed.is_empty() {
            continue;
        }
        if trimmed.starts_with('[') && trimmed.ends_with(']') {
            let s = trimmed[1..trimmed.len() - 1].trim().to_string();
            ini.entry(s.clone()).or_default();
            section = Some(s);
            key = None;
            continue;
        }
        let Some(s) = &section else { continue };
        let split = trimmed.find(['=', ':']);
        let (k, v) = match split {
            Some(i) => (&trimmed[..i], &trimmed[i + 1..]),
            None => (trimmed, ""),
        };
        let k = k.trim().to_ascii_lowercase();
        ini.entry(s.clone())
            .or_default()
            .insert(k.clone(), v.trim().to_string());
        key = Some(k);
    }
    ini
}

/// A value's lines, trimmed, without blank lines: what setuptools reads from a multi-line value.
pub fn value_lines(v: &str) -> Vec<&str> {
    v.lines().map(str::trim).filter(|l| !l.is_empty()).collect()
}

/// The ini with every value reduced to its non-blank trimmed lines, for comparing a file with
/// setuptools' re-serialisation of it.
pub fn normalised_ini(ini: &Ini, drop_section: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    ini.iter()
        .filter(|(s, _)| s.as_str() != drop_section)
        .map(|(s, kv)| {
            let kv = kv
                .iter()
                .map(|(k, v)| (k.clone(), value_lines(v).join("\n")))
                .collect();
            (s.clone(), kv)
        })
        .filter(|(_, kv): &(String, BTreeMap<String, String>)| !kv.is_empty())
        .collect()
}

/// One lexical piece of Python source, as far as provero needs: string literals and the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// A string literal's body (escapes left as written).
    Str(String),
    /// Code outside strings and comments.
    Code(String),
}

/// Split Python source into string literals and code, dropping comments.
pub fn lex_python(src: &str) -> Vec<Piece> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut code = String::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'#' {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if c == b'"' || c == b'\'' {
            // A backslash escapes the next character in raw strings too (`r'\''`).
            let triple = b.get(i + 1) == Some(&c) && b.get(i + 2) == Some(&c);
            let q = if triple { 3 } else { 1 };
            let mut j = i + q;
            let start = j;
            let end;
            loop {
                if j >= b.len() {
                    end = b.len();
                    break;
                }
                if b[j] == b'\\' {
                    j += 2;
                    continue;
                }
                if b[j] == c && (!triple || (b.get(j + 1) == Some(&c) && b.get(j + 2) == Some(&c)))
                {
                    end = j;
                    j += q;
                    break;
                }
                if !triple && b[j] == b'\n' {
                    end = j;
                    break;
                }
                j += 1;
            }
            if !code.is_empty() {
                out.push(Piece::Code(std::mem::take(&mut code)));
            }
            out.push(Piece::Str(src[start..end.min(b.len())].to_string()));
            i = j.min(b.len());
            continue;
        }
        // Multi-byte UTF-8: copy the whole char.
        let ch = src[i..].chars().next().expect("in bounds");
        code.push(ch);
        i += ch.len_utf8();
    }
    if !code.is_empty() {
        out.push(Piece::Code(code));
    }
    out
}

/// The code with every string literal replaced by `""` and comments removed.
pub fn code_only(src: &str) -> String {
    lex_python(src)
        .into_iter()
        .map(|p| match p {
            Piece::Code(c) => c,
            Piece::Str(_) => "\"\"".to_string(),
        })
        .collect()
}

/// What follows `key=` in a call: the literal string, or a literal list of strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PyValue {
    Str(String),
    List(Vec<String>),
    Dict(Vec<(String, Vec<String>)>),
    /// Computed: a call, a name bound to something that is not a literal, ...
    Dynamic,
}

/// The value passed as `key=` (or `'key':` in a dict) in `setup.py`, following one level of
/// `key=NAME` where `NAME = <literal>` is bound in the file. `None` when the key is absent.
pub fn setup_py_value(src: &str, key: &str) -> Option<PyValue> {
    let pieces = lex_python(src);
    let at = find_kwarg(&pieces, key)?;
    Some(match literal_at(&pieces, at.0, &at.1) {
        // `key=[...] + more`: only part of the value is literal.
        Some(_) if !ends_here(&pieces, literal_end(&pieces, at.0, &at.1)) => PyValue::Dynamic,
        Some(v) => v,
        None => {
            let after = at.1.trim_start();
            let ident: String = after
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let rest_ends = ends_here(&pieces, Some((at.0, after[ident.len()..].to_string())));
            if ident.is_empty() || !rest_ends || is_modified(src, &ident) {
                PyValue::Dynamic
            } else {
                find_binding(&pieces, &ident).unwrap_or(PyValue::Dynamic)
            }
        }
    })
}

/// Whether the expression ends where `end` (the piece index and the code after the value in
/// it) points: a `,`, a closing bracket, or the end of the source; anything else (`+ extra`,
/// `if ...`, `.copy()`) continues it.
fn ends_here(pieces: &[Piece], end: Option<(usize, String)>) -> bool {
    let Some((idx, after)) = end else {
        return false;
    };
    let mut code = after;
    let mut next = idx + 1;
    loop {
        let t = code.trim_start_matches(|c: char| c.is_whitespace() || c == '\\');
        if let Some(c) = t.chars().next() {
            return matches!(c, ',' | ')' | ']' | '}' | ';') || t.starts_with('#');
        }
        match pieces.get(next) {
            None => return true,
            Some(Piece::Code(c)) => {
                code = c.clone();
                next += 1;
            }
            Some(Piece::Str(_)) => return false,
        }
    }
}

/// Where the literal starting at `rest` (in piece `idx`) ends: the piece holding its closing
/// bracket (or the string) and the code after it there.
fn literal_end(pieces: &[Piece], idx: usize, rest: &str) -> Option<(usize, String)> {
    let rest = rest.trim_start().trim_start_matches('\\').trim_start();
    if rest.is_empty() {
        return Some((idx + 1, String::new()));
    }
    let mut depth = 0i32;
    for (n, p) in pieces[idx..].iter().enumerate() {
        if let Piece::Code(c) = p {
            let code = if n == 0 { rest } else { c.as_str() };
            for (i, ch) in code.char_indices() {
                match ch {
                    '[' | '(' | '{' => depth += 1,
                    ']' | ')' | '}' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some((idx + n, code[i + 1..].to_string()));
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    None
}

/// Whether code (strings and comments aside) changes the list or dict bound to `name` after
/// binding it: `name.extend(...)`, `.append`, `.insert`, `.update`, `+=`, `|=`, item
/// assignment, or a second binding (in a branch, say). Then its literal is only part of it.
pub fn is_modified(src: &str, name: &str) -> bool {
    let code = code_only(src);
    let n = regex::escape(name);
    let mutation = regex::Regex::new(&format!(
        r"(?:^|[^A-Za-z0-9_.]){n}\s*(?:\.\s*(?:extend|append|insert|update|add|setdefault|__iadd__)\s*\(|\+=|\|=|\[[^\]]*\]\s*(?:\+=|=[^=]))"
    ))
    .expect("regex");
    let binding =
        regex::Regex::new(&format!(r"(?m)^[ \t]*{n}\s*(?::[^=\n]*)?=[^=]")).expect("regex");
    mutation.is_match(&code) || binding.find_iter(&code).count() > 1
}

/// (index of the code piece, the code after `key=` in it).
fn find_kwarg(pieces: &[Piece], key: &str) -> Option<(usize, String)> {
    let re = regex::Regex::new(&format!(
        r"(?:^|[^A-Za-z0-9_.]){}\s*=(?:[^=]|$)",
        regex::escape(key)
    ))
    .expect("regex");
    for (i, p) in pieces.iter().enumerate() {
        match p {
            Piece::Code(c) => {
                if let Some(m) = re.find(c) {
                    let eq = c[m.start()..].find('=').expect("matched") + m.start();
                    return Some((i, c[eq + 1..].to_string()));
                }
            }
            // `'key': value` inside a dict (poetry's generated setup_kwargs).
            Piece::Str(s) if s == key => {
                if let Some(Piece::Code(next)) = pieces.get(i + 1) {
                    if let Some(rest) = next.trim_start().strip_prefix(':') {
                        return Some((i + 1, rest.to_string()));
                    }
                }
            }
            _ => {}
        }
    }
    None
}

/// `NAME = <literal>` at the start of a line.
fn find_binding(pieces: &[Piece], name: &str) -> Option<PyValue> {
    let re =
        regex::Regex::new(&format!(r"(?m)^{}\s*=\s*\\?\s*", regex::escape(name))).expect("regex");
    for (i, p) in pieces.iter().enumerate() {
        if let Piece::Code(c) = p {
            if let Some(m) = re.find(c) {
                return literal_at(pieces, i, &c[m.end()..]);
            }
        }
    }
    None
}

/// A literal starting at `rest` (the tail of code piece `idx`), spanning the next pieces.
fn literal_at(pieces: &[Piece], idx: usize, rest: &str) -> Option<PyValue> {
    let rest = rest.trim_start().trim_start_matches('\\').trim_start();
    if rest.is_empty() {
        // `key="string"`: the next piece is the string, followed by `,` or `)`.
        if let Some(Piece::Str(s)) = pieces.get(idx + 1) {
            let after = match pieces.get(idx + 2) {
                Some(Piece::Code(c)) => c.trim_start(),
                _ => "",
            };
            if after.is_empty() || after.starts_with([',', ')', '\n', '}']) {
                return Some(PyValue::Str(s.clone()));
            }
        }
        return None;
    }
    let open = rest.chars().next()?;
    if !matches!(open, '[' | '(' | '{') {
        return None;
    }
    // Collect strings until the bracket closes; any code but brackets and separators is
    // computed. In a dict, a string followed by `:` at the top level is a key.
    let mut depth = 0i32;
    let mut items: Vec<String> = Vec::new();
    let mut dict: Vec<(String, Vec<String>)> = Vec::new();
    for (n, p) in pieces[idx..].iter().enumerate() {
        match p {
            Piece::Str(s) => {
                let key_follows = matches!(pieces.get(idx + n + 1),
                    Some(Piece::Code(c)) if c.trim_start().starts_with(':'));
                if open == '{' && depth == 1 && key_follows {
                    dict.push((s.clone(), Vec::new()));
                } else if open == '{' {
                    dict.last_mut()?.1.push(s.clone());
                } else {
                    items.push(s.clone());
                }
            }
            Piece::Code(c) => {
                let code = if n == 0 { rest } else { c.as_str() };
                for ch in code.chars() {
                    match ch {
                        '[' | '(' | '{' => depth += 1,
                        ']' | ')' | '}' => {
                            depth -= 1;
                            if depth == 0 {
                                return Some(if open == '{' {
                                    PyValue::Dict(dict)
                                } else {
                                    PyValue::List(items)
                                });
                            }
                        }
                        ',' | ':' | '\\' => {}
                        c if c.is_whitespace() => {}
                        _ => return None,
                    }
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ini_reads_like_configparser() {
        let ini = parse_ini(
            "# comment\n[metadata]\nName = foo\nversion: 1.0\n\n[options]\ninstall_requires =\n    requests>=2\n    # a comment\n\n    click\n[egg_info]\ntag_build =\n",
        );
        assert_eq!(ini["metadata"]["name"], "foo");
        assert_eq!(ini["metadata"]["version"], "1.0");
        assert_eq!(
            value_lines(&ini["options"]["install_requires"]),
            ["requests>=2", "click"]
        );
        let n = normalised_ini(&ini, "egg_info");
        assert!(!n.contains_key("egg_info"));
    }

    #[test]
    fn python_lexing_keeps_strings_apart() {
        let p = lex_python("x = 'a#b'  # c\ny = \"\"\"q\n'\"\"\" + r'\\d'\n");
        assert_eq!(
            p.iter()
                .filter_map(|p| match p {
                    Piece::Str(s) => Some(s.as_str()),
                    _ => None,
                })
                .collect::<Vec<_>>(),
            ["a#b", "q\n'", "\\d"]
        );
        assert_eq!(code_only("f(\"a(b)\") # g()"), "f(\"\") ");
    }

    #[test]
    fn setup_py_literals() {
        let src = r#"
from setuptools import setup
REQS = [
    "requests>=2",  # http
    'click',
]
setup(
    name="foo-bar",
    version='1.2.3',
    install_requires=REQS,
    extras_require={"dev": ["pytest"], 'docs': ['sphinx>=7']},
    tests_require=get_reqs(),
)
"#;
        assert_eq!(
            setup_py_value(src, "name"),
            Some(PyValue::Str("foo-bar".into()))
        );
        assert_eq!(
            setup_py_value(src, "version"),
            Some(PyValue::Str("1.2.3".into()))
        );
        assert_eq!(
            setup_py_value(src, "install_requires"),
            Some(PyValue::List(vec!["requests>=2".into(), "click".into()]))
        );
        assert_eq!(
            setup_py_value(src, "extras_require"),
            Some(PyValue::Dict(vec![
                ("dev".into(), vec!["pytest".into()]),
                ("docs".into(), vec!["sphinx>=7".into()])
            ]))
        );
        assert_eq!(setup_py_value(src, "tests_require"), Some(PyValue::Dynamic));
        assert_eq!(setup_py_value(src, "python_requires"), None);
        assert_eq!(
            setup_py_value("setup(name=NAME, version=get_version())", "version"),
            Some(PyValue::Dynamic)
        );
    }

    /// Dependencies completed by code: only part of the list is a literal, so it is dynamic.
    #[test]
    fn lists_changed_by_code_are_dynamic() {
        let dynamic = [
            "REQS = ['a']\nif sys.platform == 'win32':\n    REQS.extend(['pywin32'])\nsetup(install_requires=REQS)\n",
            "REQS = ['a']\nREQS += ['b']\nsetup(install_requires=REQS)\n",
            "REQS = ['a']\nif PY2:\n    REQS = REQS + ['b']\nsetup(install_requires=REQS)\n",
            "BASE = ['a']\nsetup(install_requires=BASE + ['b'])\n",
            "setup(install_requires=['a'] + extra, name='x')\n",
            "setup(install_requires=['a'] if X else ['b'])\n",
            "EX = {'d': ['x']}\nEX['all'] = ['y']\nsetup(extras_require=EX)\n",
            "EX = {'d': ['x']}\nEX.update(more)\nsetup(extras_require=EX)\n",
        ];
        for src in dynamic {
            let key = if src.contains("EX") {
                "extras_require"
            } else {
                "install_requires"
            };
            assert_eq!(setup_py_value(src, key), Some(PyValue::Dynamic), "{src}");
        }
        let literal = [
            "REQS = ['a', 'b']\n# REQS.extend(['c'])\nprint('REQS.append(x)')\nsetup(install_requires=REQS)\n",
            "REQS = ['a', 'b']\nsetup(install_requires=REQS, name='x')\n",
            "setup(\n    install_requires=['a', 'b'],  # deps\n)\n",
            "setup(install_requires=['a', 'b'])",
            "MY_REQS = ['a', 'b']\nOTHER_REQS = []\nOTHER_REQS.append('z')\nsetup(install_requires=MY_REQS)\n",
        ];
        for src in literal {
            assert_eq!(
                setup_py_value(src, "install_requires"),
                Some(PyValue::List(vec!["a".into(), "b".into()])),
                "{src}"
            );
        }
    }
}

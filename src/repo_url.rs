//! Repository URLs as metadata writes them, turned into something git can clone: trailing
//! `.git`, `/tree/<ref>/<path>` and similar web suffixes, `git+` prefixes, `http` → `https`,
//! `git@host:owner/repo` scp syntax, GitHub owner case (for identity only). Then the user's
//! `--git-rewrite` rules, like git's `url.<base>.insteadOf`.
//!
//! Metadata is attacker-controlled: a URL from a package or a `.gitmodules` is only ever a
//! remote `https` URL whose path segments are plain names (no `file://`, no local path, no
//! percent-escape that decodes to `/`, `\\` or `..`), checked before any rewrite. Only a URL
//! the user's own `--git-rewrite` produced may point at the local file system.

/// A repository URL made cloneable, plus what its web suffix said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoUrl {
    /// The identity used in reports and de-duplication (GitHub owner and name lower-cased).
    pub url: String,
    /// The URL to fetch (before rewrites), spelled as the metadata spells it: a mirror laid
    /// out as the forge spells names (`BurntSushi/memchr`) is found on a case-sensitive disk.
    pub fetch_url: String,
    /// A ref named in a `/tree/<ref>` or `/releases/tag/<ref>` suffix.
    pub ref_hint: Option<String>,
    /// A subdirectory named after the ref in a `/tree/<ref>/<path>` suffix.
    pub subdir: Option<String>,
}

/// Hosts whose URL layout (`/owner/repo/...`) is known.
const FORGES: [&str; 6] = [
    "github.com",
    "gitlab.com",
    "codeberg.org",
    "bitbucket.org",
    "sr.ht",
    // OpenStack's Gitea (pbr projects name it as their repository).
    "opendev.org",
];

/// Normalise a repository URL from metadata. `None` when it is not a URL of a git repository.
pub fn normalize(raw: &str) -> Option<RepoUrl> {
    let mut s = raw
        .trim()
        .trim_matches(|c| c == '<' || c == '>' || c == '"')
        .to_string();
    if s.is_empty() {
        return None;
    }
    if let Some(rest) = s.strip_prefix("git+") {
        s = rest.to_string();
    }
    // scp-like `git@github.com:owner/repo.git`
    if !s.contains("://") {
        if let Some((user_host, path)) = s.split_once(':') {
            if let Some((_, host)) = user_host.split_once('@') {
                s = format!("https://{host}/{}", path.trim_start_matches('/'));
            } else if FORGES.iter().any(|f| user_host.eq_ignore_ascii_case(f)) {
                s = format!("https://{user_host}/{path}");
            }
        } else if FORGES
            .iter()
            .any(|f| s.to_ascii_lowercase().starts_with(&format!("{f}/")))
        {
            s = format!("https://{s}");
        }
    }
    let mut url = url::Url::parse(&s).ok()?;
    match url.scheme() {
        "http" | "git" | "ssh" | "git+ssh" => {
            let rest = &s[s.find("://")? + 3..];
            let rest = rest
                .split_once('@')
                .map(|(_, r)| r)
                .filter(|_| url.scheme() != "http")
                .unwrap_or(rest);
            url = url::Url::parse(&format!("https://{rest}")).ok()?;
        }
        "https" => {}
        // `file://` and every other scheme: metadata never names a local repository.
        _ => return None,
    }
    url.set_query(None);
    url.set_fragment(None);
    let host = url.host_str()?.to_ascii_lowercase();
    let host = host.strip_prefix("www.").unwrap_or(&host).to_string();
    if !plain_host(&host) {
        return None;
    }
    // Segments that name the repository must be plain names; a web suffix after them
    // (`/tree/<ref>/<dir>`) only gives hints and is read leniently.
    let segs: Vec<String> = url
        .path_segments()
        .map(|s| s.filter(|x| !x.is_empty()).map(str::to_string).collect())
        .unwrap_or_default();
    let forge = FORGES.contains(&host.as_str());
    if forge {
        if segs.len() < 2 {
            return None;
        }
        // GitLab nests groups (`group/subgroup/project`); the project path ends where its
        // web suffix (`/-/tree/...`) begins. Elsewhere it is `owner/repo`.
        let split = if host == "gitlab.com" {
            const WEB: [&str; 9] = [
                "-",
                "tree",
                "blob",
                "issues",
                "merge_requests",
                "releases",
                "tags",
                "commits",
                "wikis",
            ];
            segs.iter()
                .position(|s| WEB.contains(&s.as_str()))
                .unwrap_or(segs.len())
                .max(2)
        } else {
            2
        };
        let named = segs[..split]
            .iter()
            .map(|s| plain_segment(s))
            .collect::<Option<Vec<String>>>()?;
        let owner = named[..split - 1].join("/");
        let repo = named[split - 1].trim_end_matches(".git").to_string();
        if repo.is_empty() || repo == "." || repo == ".." {
            return None;
        }
        let fetch_url = format!("https://{host}/{owner}/{repo}");
        // GitHub names are case-insensitive: one identity for every spelling.
        let identity = if host == "github.com" {
            fetch_url.to_ascii_lowercase()
        } else {
            fetch_url.clone()
        };
        let (mut ref_hint, mut subdir) = (None, None);
        let rest: Vec<&str> = segs[split..].iter().map(String::as_str).collect();
        match rest.as_slice() {
            ["tree" | "blob" | "src", r, tail @ ..] | ["-", "tree" | "blob", r, tail @ ..] => {
                ref_hint = Some(r.to_string());
                if !tail.is_empty() {
                    subdir = Some(tail.join("/"));
                }
            }
            ["releases", "tag", r, ..] => ref_hint = Some(r.to_string()),
            _ => {}
        }
        return Some(RepoUrl {
            url: identity,
            fetch_url,
            ref_hint,
            subdir,
        });
    }
    let named = segs
        .iter()
        .map(|s| plain_segment(s))
        .collect::<Option<Vec<String>>>()?;
    let path = named.join("/");
    let path = path.trim_end_matches(".git");
    if path.is_empty() {
        return None;
    }
    if path.is_empty() || path.ends_with('/') {
        return None;
    }
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    let url = format!("https://{host}{port}/{path}");
    Some(RepoUrl {
        fetch_url: url.clone(),
        url,
        ref_hint: None,
        subdir: None,
    })
}

/// A host name of non-empty labels (letters, digits, `-`), or a bracketed IPv6 literal.
/// (Fuzzing found `git@..:x` becoming host `..`.)
fn plain_host(host: &str) -> bool {
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return !v6.is_empty()
            && v6
                .chars()
                .all(|c| c.is_ascii_hexdigit() || ":.".contains(c));
    }
    !host.is_empty()
        && host
            .split('.')
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
}

/// One path segment, percent-decoded, when it is a plain name: ASCII letters, digits and
/// `-_.~+@`, and not `.` or `..`. A segment that decodes to a separator or a dot segment
/// would climb out of a rewrite target once git decodes it, so the whole URL is refused.
fn plain_segment(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let v = u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
            out.push(v);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    let s = String::from_utf8(out).ok()?;
    let ok = !s.is_empty()
        && s != "."
        && s != ".."
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.~+@".contains(c));
    ok.then_some(s)
}

/// Is this URL on a host that serves git repositories (used to pick candidates from homepages)?
pub fn is_git_host(raw: &str) -> bool {
    let Some(n) = normalize(raw) else {
        return false;
    };
    let host = url::Url::parse(&n.url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default();
    FORGES.contains(&host.as_str())
        || host.starts_with("git.")
        || host.starts_with("gitlab.")
        || host.contains("gitea")
        || host.contains("forgejo")
        || host == "salsa.debian.org"
        || raw.trim_end_matches('/').ends_with(".git")
}

/// `--git-rewrite FROM=TO`: the longest matching prefix wins, like git's insteadOf.
#[derive(Debug, Clone, Default)]
pub struct Rewrites {
    rules: Vec<(String, String)>,
}

impl Rewrites {
    pub fn add(&mut self, arg: &str) -> Result<(), String> {
        let (from, to) = arg
            .split_once('=')
            .filter(|(f, t)| !f.is_empty() && !t.is_empty())
            .ok_or_else(|| format!("--git-rewrite takes FROM=TO, got `{arg}`"))?;
        self.rules.push((from.to_string(), to.to_string()));
        Ok(())
    }

    pub fn apply(&self, url: &str) -> String {
        let best = self
            .rules
            .iter()
            .filter(|(from, _)| prefix_matches(url, from))
            .max_by_key(|(from, _)| from.len());
        match best {
            Some((from, to)) => {
                let rewritten = format!("{to}{}", &url[from.len()..]);
                tracing::info!("rewrite {from}={to}: {url} -> {rewritten}");
                rewritten
            }
            None => url.to_string(),
        }
    }
}

/// A prefix that does not end in `/` must end at a path boundary: a rule for `.../rand` is not
/// a rule for `.../rand_core`.
fn prefix_matches(url: &str, from: &str) -> bool {
    let Some(head) = url.get(..from.len()) else {
        return false;
    };
    if !head.eq_ignore_ascii_case(from) {
        return false;
    }
    from.ends_with('/')
        || from.ends_with(':')
        || matches!(url[from.len()..].chars().next(), None | Some('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> String {
        normalize(s).map(|r| r.url).unwrap_or_else(|| "NONE".into())
    }

    #[test]
    fn normalises_the_usual_spellings() {
        assert_eq!(
            n("https://github.com/serde-rs/serde"),
            "https://github.com/serde-rs/serde"
        );
        assert_eq!(
            n("https://github.com/Serde-RS/serde.git"),
            "https://github.com/serde-rs/serde"
        );
        assert_eq!(n("http://github.com/a/b/"), "https://github.com/a/b");
        assert_eq!(
            n("git+https://github.com/a/b.git"),
            "https://github.com/a/b"
        );
        assert_eq!(n("git@github.com:a/b.git"), "https://github.com/a/b");
        assert_eq!(n("git://github.com/a/b"), "https://github.com/a/b");
        assert_eq!(n("github.com/a/b"), "https://github.com/a/b");
        assert_eq!(
            n("https://gitlab.com/Group/Proj"),
            "https://gitlab.com/Group/Proj"
        );
        assert_eq!(
            n("https://gitlab.com/g/sub/proj.git"),
            "https://gitlab.com/g/sub/proj"
        );
        let r = normalize("https://gitlab.com/g/sub/proj/-/tree/v1.0/crates/x").unwrap();
        assert_eq!(r.url, "https://gitlab.com/g/sub/proj");
        assert_eq!(r.ref_hint.as_deref(), Some("v1.0"));
        assert_eq!(r.subdir.as_deref(), Some("crates/x"));
        assert_eq!(
            n("https://gitlab.com/g/proj/tree/master"),
            "https://gitlab.com/g/proj"
        );
        assert_eq!(
            n("https://gitlab.com/g/proj/issues"),
            "https://gitlab.com/g/proj"
        );
        assert_eq!(
            n("https://git.example.org/x/y.git"),
            "https://git.example.org/x/y"
        );
        assert_eq!(n("https://github.com/rust-lang"), "NONE");
        assert_eq!(n("mailto:x@y"), "NONE");
    }

    #[test]
    fn metadata_never_names_a_local_repository() {
        // Percent-escapes that git would decode into `/` or `..` once rewritten to a path.
        assert_eq!(n("https://github.com/acme/..%2f..%2felsewhere%2fx"), "NONE");
        assert_eq!(n("https://github.com/acme/%2e%2e"), "NONE");
        assert_eq!(n("https://github.com/%2E%2E/x"), "NONE");
        assert_eq!(n("https://git.example.org/a/..%5c..%5cx"), "NONE");
        assert_eq!(n("https://git.example.org/a%00/x"), "NONE");
        assert_eq!(n("file:///srv/private/secret.git"), "NONE");
        assert_eq!(n("/srv/private/secret.git"), "NONE");
        assert_eq!(n("./private"), "NONE");
        assert_eq!(n("ext::sh -c touch% /tmp/pwned"), "NONE");
        assert_eq!(n("C:\\repos\\x"), "NONE");
        assert_eq!(n("@ht2r@..:6"), "NONE");
        assert_eq!(n("git@.:a/b"), "NONE");
        // A plain escape of a plain character is still the same name.
        assert_eq!(
            n("https://github.com/acme/na%6De"),
            "https://github.com/acme/name"
        );
        assert!(!is_git_host("file:///srv/x.git"));
    }

    #[test]
    fn identity_is_lower_case_but_fetching_keeps_the_spelling() {
        let r = normalize("https://github.com/BurntSushi/memchr.git").unwrap();
        assert_eq!(r.url, "https://github.com/burntsushi/memchr");
        assert_eq!(r.fetch_url, "https://github.com/BurntSushi/memchr");
        let r = normalize("https://gitlab.com/Group/Proj").unwrap();
        assert_eq!(r.fetch_url, r.url);
    }

    #[test]
    fn web_suffixes_give_hints() {
        let r = normalize("https://github.com/tokio-rs/tokio/tree/master/tokio-util").unwrap();
        assert_eq!(r.url, "https://github.com/tokio-rs/tokio");
        assert_eq!(r.ref_hint.as_deref(), Some("master"));
        assert_eq!(r.subdir.as_deref(), Some("tokio-util"));
        let r = normalize("https://github.com/rack/rack/tree/v3.1.8").unwrap();
        assert_eq!(r.ref_hint.as_deref(), Some("v3.1.8"));
        assert_eq!(r.subdir, None);
    }

    #[test]
    fn rewrites_longest_prefix() {
        let mut r = Rewrites::default();
        r.add("https://github.com/=file:///m/").unwrap();
        r.add("https://github.com/a/=file:///special/").unwrap();
        assert_eq!(r.apply("https://github.com/b/c"), "file:///m/b/c");
        assert_eq!(r.apply("https://github.com/a/c"), "file:///special/c");
        assert_eq!(r.apply("https://gitlab.com/a/c"), "https://gitlab.com/a/c");
        assert!(r.add("nothing").is_err());
        let mut r = Rewrites::default();
        r.add("https://github.com/rust-random/rand=file:///m/rand")
            .unwrap();
        assert_eq!(
            r.apply("https://github.com/rust-random/rand"),
            "file:///m/rand"
        );
        assert_eq!(
            r.apply("https://github.com/rust-random/rand_core"),
            "https://github.com/rust-random/rand_core"
        );
    }
}

//! Whole-registry inputs. A spec whose name is a pattern (`crates:*@*`, `crates:tokio-*@*`,
//! `pypi:django-*`, `gems:*@*`) names every matching package of the registry, read from the
//! registry's own listing rather than one request per name where the registry has one:
//! crates, the database dump (`src/crates/listing.rs`); PyPI, the Simple API root, which names
//! projects only, so versions still cost one page per project (`src/pypi/listing.rs`);
//! RubyGems, the compact index `/versions` file (`src/gems/listing.rs`). `--since` and
//! `--newest` apply per package as they do to `name@*`; yanked versions are left out. The
//! listing is read as a stream, with a progress note every few seconds.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::StreamExt;

use crate::ecosystem::{Ecosystem, RegistryCx, RegistryError};
use crate::engine::Work;
use crate::expand::Limits;
use crate::http::Http;
use crate::profile::Profile;
use crate::report::InputError;
use crate::spec::{Spec, VersionReq};
use crate::verify::Verifier;

mod stream;
pub use stream::read_source;

/// A spec is a listing when its name is a pattern (`*`, `?`, `[...]`).
pub fn is_listing(spec: &Spec) -> bool {
    spec.name.contains(['*', '?', '['])
}

/// One version as a listing names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedVersion {
    pub version: String,
    /// When it was published (RFC 3339 or `YYYY-MM-DD HH:MM:SS`, UTC), where the listing says.
    pub published: Option<String>,
    pub yanked: bool,
}

/// One package of a listing; `versions: None` when the listing names packages only (PyPI).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub name: String,
    /// Oldest first.
    pub versions: Option<Vec<ListedVersion>>,
}

/// What a registry's listing holds.
#[derive(Debug, Default)]
pub struct Listing {
    pub packages: Vec<Listed>,
    /// The listing dates its versions (so `--since` needs no request per package).
    pub dated: bool,
    /// What the listing says about itself, for the note (`dump of 2024-05-01T02:00:00Z`).
    pub about: Option<String>,
    /// Versions the lister dropped while reading ([`Prefilter`]).
    pub dropped: Dropped,
}

/// Which names a pattern matches: a glob (`*`, `?`, `[abc]`), compared in the ecosystem's
/// canonical spelling (PEP 503 for PyPI) and without regard to case.
#[derive(Clone)]
pub struct NamePattern {
    eco: Ecosystem,
    matcher: globset::GlobMatcher,
    all: bool,
}

impl NamePattern {
    pub fn new(eco: Ecosystem, pattern: &str) -> Result<NamePattern, String> {
        let canonical = eco.handler().canonical_name(pattern);
        let glob = globset::GlobBuilder::new(&canonical)
            .case_insensitive(true)
            .literal_separator(false)
            .build()
            .map_err(|e| format!("`{pattern}` is not a name pattern: {e}"))?;
        Ok(NamePattern {
            eco,
            matcher: glob.compile_matcher(),
            all: pattern == "*",
        })
    }

    pub fn matches(&self, name: &str) -> bool {
        self.all
            || self
                .matcher
                .is_match(self.eco.handler().canonical_name(name).as_str())
    }
}

/// What a lister is given.
pub struct ListCx<'a> {
    pub http: &'a Http,
    pub profile: &'a Profile,
    /// Where to read the listing (`--listing`, else the profile's `listing`).
    pub source: Option<&'a str>,
    pub names: &'a NamePattern,
    /// What a big listing may drop as it reads, so only what is kept is held.
    pub prefilter: &'a Prefilter,
    pub quiet: bool,
}

/// Filters a lister applies while reading (the dump holds every version of crates.io):
/// yanked versions, `--since` (for a dated listing), and the shard when `--newest` does not
/// need every version of a package first. What it drops is counted in [`Listing::dropped`].
#[derive(Clone, Default)]
pub struct Prefilter {
    pub eco: Option<Ecosystem>,
    pub since: Option<String>,
    pub shard: Option<crate::shard::Shard>,
}

/// How many versions a lister dropped while reading, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dropped {
    pub yanked: usize,
    pub before: usize,
    pub undated: usize,
    pub other_shard: usize,
}

impl Prefilter {
    /// Keep this version? Counts it in `dropped` when not. Without a name (not known yet),
    /// the shard is not checked.
    pub fn keeps(
        &self,
        name: Option<&str>,
        version: &str,
        published: Option<&str>,
        yanked: bool,
        dropped: &mut Dropped,
    ) -> bool {
        if yanked {
            dropped.yanked += 1;
            return false;
        }
        if let Some(day) = &self.since {
            match published {
                None => {
                    dropped.undated += 1;
                    return false;
                }
                Some(d) if !crate::expand::published_since(d, day) => {
                    dropped.before += 1;
                    return false;
                }
                Some(_) => {}
            }
        }
        if let (Some(s), Some(eco), Some(name)) = (self.shard, self.eco, name) {
            let h = eco.handler();
            let key = format!(
                "{eco}:{}@{}",
                h.canonical_name(name),
                h.canonical_version(version)
            );
            if !s.owns(&key) {
                dropped.other_shard += 1;
                return false;
            }
        }
        true
    }
}

/// One ecosystem's whole-registry listing (`src/<eco>/listing.rs`), handed out by
/// [`Ecosystem::lister`].
#[async_trait]
pub trait Lister: Send + Sync {
    /// Every package whose name matches, with its versions where the listing has them.
    async fn list(&self, cx: &ListCx<'_>) -> Result<Listing, RegistryError>;

    /// One package's versions, oldest first, dated where the registry says: for a listing
    /// that names packages only, or has no dates when `--since` needs them.
    async fn versions(
        &self,
        cx: &RegistryCx<'_>,
        name: &str,
    ) -> Result<Vec<ListedVersion>, RegistryError>;
}

/// The work a listing spec names, and the packages that could not be read (each an input
/// error; the others still run). Sharded here already (the engine shards again, which keeps
/// the same part), so a shard of a whole registry holds only its part.
pub async fn expand(v: &Verifier, spec: &Spec, limits: &Limits) -> (Vec<Work>, Vec<InputError>) {
    let shown = spec.to_string();
    let fail = |message: String| {
        (
            Vec::new(),
            vec![InputError {
                input: shown.clone(),
                message,
            }],
        )
    };
    if let VersionReq::Exact(_) = spec.version {
        return fail(format!(
            "`{shown}`: a name pattern takes `@*` (every version) or no version (the newest), \
             not one version"
        ));
    }
    let names = match NamePattern::new(spec.ecosystem, &spec.name) {
        Ok(n) => n,
        Err(e) => return fail(e),
    };
    let cx = v.registry_cx(spec.ecosystem);
    let source = limits
        .listings
        .get(&spec.ecosystem)
        .map(String::as_str)
        .or(cx.profile.listing.as_deref());
    // Only `@*` without `--newest` can be sharded while reading: `--newest` needs all of a
    // package's versions first. `--since` is for the lister to apply if its listing is dated.
    let every = spec.version == VersionReq::All;
    let prefilter = Prefilter {
        eco: Some(spec.ecosystem),
        since: limits.since.clone().filter(|_| every),
        shard: limits.shard.filter(|_| every && limits.newest.is_none()),
    };
    let lcx = ListCx {
        http: cx.http,
        profile: cx.profile,
        source,
        names: &names,
        prefilter: &prefilter,
        quiet: limits.quiet,
    };
    let lister = spec.ecosystem.lister();
    let listing = match lister.list(&lcx).await {
        Ok(l) => l,
        Err(e) => return fail(e.to_string()),
    };
    let mut errors = Vec::new();
    let d = listing.dropped;
    let mut count = Counts {
        packages: listing.packages.len(),
        versions: d.yanked + d.before + d.undated + d.other_shard,
        yanked: d.yanked,
        before: d.before,
        undated: d.undated,
        ..Counts::default()
    };
    let mut work = Vec::new();
    let one = |name: String, version: Option<String>| Work {
        ecosystem: spec.ecosystem,
        name,
        version,
        pins: Vec::new(),
        origin: None,
    };
    if spec.version == VersionReq::Latest {
        for p in listing.packages {
            // A package whose every version is yanked has no newest version to verify.
            if p.versions
                .as_ref()
                .is_some_and(|vs| vs.iter().all(|v| v.yanked))
            {
                count.yanked += 1;
                continue;
            }
            work.push(one(p.name, None));
        }
    } else {
        let fetch = |p: &Listed| p.versions.is_none() || (limits.since.is_some() && !listing.dated);
        let (known, wanted): (Vec<Listed>, Vec<Listed>) =
            listing.packages.into_iter().partition(|p| !fetch(p));
        let mut all: Vec<(String, Vec<ListedVersion>)> = known
            .into_iter()
            .map(|p| (p.name, p.versions.unwrap_or_default()))
            .collect();
        let total = wanted.len();
        let done = AtomicU64::new(0);
        let mut last = Instant::now();
        let mut fetched = futures::stream::iter(wanted)
            .map(|p| {
                let cx = &cx;
                let done = &done;
                async move {
                    let r = lister.versions(cx, &p.name).await;
                    done.fetch_add(1, Ordering::Relaxed);
                    (p.name, r)
                }
            })
            .buffer_unordered(limits.jobs.max(1));
        while let Some((name, r)) = fetched.next().await {
            match r {
                Ok(vs) => all.push((name, vs)),
                // Listed, but its page is not found (no release left, or removed since the
                // listing was read): nothing to verify.
                Err(RegistryError::NotFound(_)) => count.gone += 1,
                Err(e) => errors.push(InputError {
                    input: format!("{}:{name}@*", spec.ecosystem),
                    message: e.to_string(),
                }),
            }
            if !limits.quiet && last.elapsed() >= NOTE_EVERY {
                last = Instant::now();
                crate::stdout::note(&format!(
                    "note: {shown}: versions of {} of {total} package(s) read\n",
                    done.load(Ordering::Relaxed)
                ));
            }
        }
        drop(fetched);
        // Listed order is the listing's; the work list is by name, so runs agree.
        all.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, versions) in all {
            for ver in keep(versions, limits, &mut count) {
                work.push(one(name.clone(), Some(ver)));
            }
        }
    }
    let listed = work.len() + d.other_shard;
    if let Some(s) = limits.shard {
        work.retain(|w| s.owns(&w.key()));
    }
    if !limits.quiet {
        crate::stdout::note(&format!(
            "{}\n",
            count.say(&shown, listing.about.as_deref(), listed, work.len(), limits)
        ));
    }
    (work, errors)
}

/// How often a long listing says how far it is.
pub const NOTE_EVERY: Duration = Duration::from_secs(5);

#[derive(Default)]
struct Counts {
    packages: usize,
    versions: usize,
    yanked: usize,
    undated: usize,
    before: usize,
    older: usize,
    gone: usize,
}

impl Counts {
    fn say(
        &self,
        spec: &str,
        about: Option<&str>,
        listed: usize,
        kept: usize,
        limits: &Limits,
    ) -> String {
        let mut s = format!("note: {spec} listed {} package(s)", self.packages);
        if let Some(a) = about {
            s.push_str(&format!(" ({a})"));
        }
        if self.versions > 0 {
            s.push_str(&format!(", {} version(s)", self.versions));
        }
        let mut left = Vec::new();
        if self.yanked > 0 {
            left.push(format!("{} yanked", self.yanked));
        }
        if let Some(day) = &limits.since {
            left.push(format!("{} published before {day}", self.before));
            if self.undated > 0 {
                left.push(format!("{} without a date", self.undated));
            }
        }
        if let Some(n) = limits.newest {
            left.push(format!(
                "{} beyond the newest {n} of their package",
                self.older
            ));
        }
        if self.gone > 0 {
            left.push(format!("{} package(s) listed without a page", self.gone));
        }
        if !left.is_empty() {
            s.push_str(&format!("; left out: {}", left.join(", ")));
        }
        s.push_str(&format!("; {listed} to verify"));
        if kept != listed {
            s.push_str(&format!(", {kept} in this shard"));
        }
        s
    }
}

/// One package's versions after the filters: yanked left out, then `--since`, then the
/// `--newest N`.
fn keep(versions: Vec<ListedVersion>, limits: &Limits, count: &mut Counts) -> Vec<String> {
    count.versions += versions.len();
    let mut kept: Vec<String> = Vec::new();
    for v in versions {
        if v.yanked {
            count.yanked += 1;
            continue;
        }
        if let Some(day) = &limits.since {
            match &v.published {
                None => {
                    count.undated += 1;
                    continue;
                }
                Some(d) if !crate::expand::published_since(d, day) => {
                    count.before += 1;
                    continue;
                }
                Some(_) => {}
            }
        }
        kept.push(v.version);
    }
    if let Some(n) = limits.newest {
        if kept.len() > n {
            count.older += kept.len() - n;
            kept.drain(..kept.len() - n);
        }
    }
    kept
}

/// Print the work list as specs, one per line (`--list-only`): what a run would verify, in
/// the `--list` format, so a whole registry can be listed once and the file sharded.
pub fn print_work(work: &[Work]) {
    let mut out = String::new();
    for w in work {
        out.push_str(&format!("{}:{}", w.ecosystem, w.name));
        if let Some(v) = &w.version {
            out.push('@');
            out.push_str(v);
        }
        out.push('\n');
        if out.len() > 1 << 16 {
            crate::stdout::write(&out);
            out.clear();
        }
    }
    crate::stdout::write(&out);
}

/// `--listing ECO=URL|FILE`, parsed.
pub fn parse_listing_arg(arg: &str) -> Result<(Ecosystem, String), String> {
    let (eco, value) = arg
        .split_once('=')
        .ok_or_else(|| format!("--listing takes ECOSYSTEM=URL or ECOSYSTEM=FILE, got `{arg}`"))?;
    let eco = Ecosystem::parse(eco.trim()).ok_or_else(|| {
        format!("--listing: unknown ecosystem `{eco}` (expected crates, pypi or gems)")
    })?;
    let value = value.trim();
    if value.is_empty() {
        return Err(format!("--listing {eco}= names no URL or file"));
    }
    Ok((eco, value.to_string()))
}

/// Every `--listing`, by ecosystem (the last one for an ecosystem wins).
pub fn parse_listing_args(args: &[String]) -> Result<BTreeMap<Ecosystem, String>, String> {
    args.iter().map(|a| parse_listing_arg(a)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(version: &str, published: Option<&str>, yanked: bool) -> ListedVersion {
        ListedVersion {
            version: version.into(),
            published: published.map(str::to_string),
            yanked,
        }
    }

    fn limits(newest: Option<usize>, since: Option<&str>) -> Limits {
        Limits {
            newest,
            since: since.map(str::to_string),
            quiet: true,
            ..Limits::default()
        }
    }

    #[test]
    fn patterns_match_canonical_names_without_case() {
        let p = NamePattern::new(Ecosystem::Crates, "tokio-*").unwrap();
        assert!(p.matches("tokio-util") && p.matches("Tokio-Macros"));
        assert!(!p.matches("tokio") && !p.matches("mini-tokio-x"));
        // PyPI compares PEP 503 spellings: `Django_Rest*` is `django-rest*`.
        let p = NamePattern::new(Ecosystem::Pypi, "Django_Rest*").unwrap();
        assert!(p.matches("Django.Rest_Framework") && p.matches("django-rest-auth"));
        assert!(!p.matches("djangorestframework"));
        assert!(NamePattern::new(Ecosystem::Crates, "*")
            .unwrap()
            .matches("anything"));
        assert!(NamePattern::new(Ecosystem::Crates, "a[").is_err());
        for spec in ["crates:*", "crates:tokio-*@*", "gems:rail?", "pypi:[ab]*"] {
            assert!(is_listing(&Spec::parse(spec).unwrap()), "{spec}");
        }
        assert!(!is_listing(&Spec::parse("crates:itoa@*").unwrap()));
    }

    #[test]
    fn yanked_then_since_then_newest() {
        let vs = vec![
            v("1.0.0", Some("2024-01-01 10:00:00"), false),
            v("1.1.0", Some("2024-03-01 10:00:00"), true),
            v("1.2.0", Some("2024-03-02T10:00:00Z"), false),
            v("1.3.0", None, false),
            v("1.4.0", Some("2024-04-01 00:00:00.5"), false),
        ];
        let mut c = Counts::default();
        assert_eq!(
            keep(vs.clone(), &limits(None, None), &mut c),
            ["1.0.0", "1.2.0", "1.3.0", "1.4.0"]
        );
        assert_eq!(c.yanked, 1);
        let mut c = Counts::default();
        assert_eq!(
            keep(vs.clone(), &limits(None, Some("2024-03-01")), &mut c),
            ["1.2.0", "1.4.0"]
        );
        assert_eq!((c.before, c.undated), (1, 1));
        let mut c = Counts::default();
        assert_eq!(
            keep(vs, &limits(Some(1), Some("2024-03-01")), &mut c),
            ["1.4.0"]
        );
        assert_eq!(c.older, 1);
    }

    #[test]
    fn listing_args() {
        assert_eq!(
            parse_listing_arg("crates=/tmp/db-dump.tar.gz").unwrap(),
            (Ecosystem::Crates, "/tmp/db-dump.tar.gz".to_string())
        );
        assert!(parse_listing_arg("npm=x")
            .unwrap_err()
            .contains("unknown ecosystem"));
        assert!(parse_listing_arg("crates").is_err());
        assert!(parse_listing_arg("crates=").is_err());
    }
}

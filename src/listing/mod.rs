//! Whole-registry inputs. A spec whose name is a pattern (`crates:*@*`, `crates:tokio-*@*`,
//! `pypi:django-*`, `gems:*@*`) names every matching package of the registry, read from the
//! registry's own listing rather than one request per name where the registry has one:
//! crates, the database dump (`src/crates/listing.rs`); PyPI, the Simple API root, which names
//! projects only, so versions still cost one page per project (`src/pypi/listing.rs`);
//! RubyGems, the compact index `/versions` file (`src/gems/listing.rs`). `--since` and
//! `--newest` apply per package as they do to `name@*`, and a pattern lists what `name@*`
//! lists for each matching name: yanked versions where the registry still serves them
//! (crates.io, PyPI: a lockfile still installs them), not where yanking removes the file
//! (RubyGems; [`Lister::serves_yanked`]). The listing is read as a stream, with a progress
//! note every few seconds, and each package goes into the work list as it is read.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::StreamExt;

use crate::ecosystem::{Ecosystem, RegistryCx, RegistryError};
use crate::expand::Limits;
use crate::http::Http;
use crate::profile::Profile;
use crate::report::InputError;
use crate::spec::{Spec, VersionReq};
use crate::verify::Verifier;
use crate::worklist::{Pushed, WorkList};

pub mod runs;
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

/// What a registry's listing says about itself (its packages are sent as they are read).
#[derive(Debug, Default)]
pub struct Listing {
    /// What the listing says about itself, for the note (`dump of 2024-05-01T02:00:00Z`).
    pub about: Option<String>,
    /// Versions the lister dropped while reading ([`Prefilter`]).
    pub dropped: Dropped,
}

/// Where a lister sends each package as it is read, in name order: into a bounded channel,
/// so a listing of millions of versions is never held whole twice.
pub type Emit<'a> = &'a mut dyn FnMut(Listed);

/// An [`Emit`] for a lister's blocking reader thread: the packages go to the async side that
/// puts them into the work list.
pub struct Out(tokio::sync::mpsc::Sender<Listed>);

impl Out {
    /// Send on (waits while the work list catches up); `false` once nobody receives.
    pub fn send(&self, p: Listed) -> bool {
        self.0.blocking_send(p).is_ok()
    }

    /// [`Out::send`] from async code.
    pub async fn send_async(&self, p: Listed) -> bool {
        self.0.send(p).await.is_ok()
    }
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
    /// Where a listing too big to hold keeps what it read (the cache directory).
    pub spool: Option<&'a std::path::Path>,
    /// Where the packages go.
    pub out: Out,
}

/// Filters a lister applies while reading (the dump holds every version of crates.io):
/// yanked versions where they are left out, `--since` (for a dated listing), and the shard
/// when `--newest` does not need every version of a package first. What it drops is counted
/// in [`Listing::dropped`].
#[derive(Clone, Default)]
pub struct Prefilter {
    pub eco: Option<Ecosystem>,
    pub since: Option<String>,
    pub shard: Option<crate::shard::Shard>,
    /// Yanked versions are kept (the registry still serves them, [`Lister::serves_yanked`]).
    pub yanked: bool,
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
        if yanked && !self.yanked {
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
        self.in_shard(name, version, dropped)
    }

    /// Is this version in the shard (every version is without one)? Counts it in `dropped`
    /// when not. Without a name (not known yet), it is not checked.
    pub fn in_shard(&self, name: Option<&str>, version: &str, dropped: &mut Dropped) -> bool {
        if let (Some(s), Some(eco), Some(name)) = (self.shard, self.eco, name) {
            let h = eco.handler();
            let mut key = String::new();
            crate::worklist::write_key(
                &mut key,
                eco,
                &h.canonical_name(name),
                Some(&h.canonical_version(version)),
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
    /// Every package whose name matches, with its versions where the listing has them, sent
    /// to `cx.out` in name order (all or, on an error, possibly some).
    async fn list(&self, cx: ListCx<'_>) -> Result<Listing, RegistryError>;

    /// The listing dates its versions and applies `--since` as it reads ([`Prefilter`]), so
    /// `--since` needs no request per package.
    fn dated(&self) -> bool;

    /// The registry still serves a yanked version's artifact, so `name@*` and a pattern
    /// include it (what users with a lockfile install is still worth verifying).
    fn serves_yanked(&self) -> bool;

    /// One package's versions, oldest first, dated where the registry says: for a listing
    /// that names packages only, or has no dates when `--since` needs them.
    async fn versions(
        &self,
        cx: &RegistryCx<'_>,
        name: &str,
    ) -> Result<Vec<ListedVersion>, RegistryError>;
}

/// Put the work a listing spec names into `work` (de-duplicated and sharded there) as the
/// listing is read; the packages that could not be read are input errors (the others still
/// run). A listing that fails as a whole adds nothing.
pub async fn expand(
    v: &Verifier,
    spec: &Spec,
    limits: &Limits,
    work: &mut WorkList,
) -> Vec<InputError> {
    let shown = spec.to_string();
    let fail = |message: String| {
        vec![InputError {
            input: shown.clone(),
            message,
        }]
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
    let lister = spec.ecosystem.lister();
    // Only `@*` without `--newest` can be sharded while reading: `--newest` needs all of a
    // package's versions first. `--since` is for the lister to apply if its listing is dated.
    let every = spec.version == VersionReq::All;
    let prefilter = Prefilter {
        eco: Some(spec.ecosystem),
        since: limits.since.clone().filter(|_| every),
        shard: limits.shard.filter(|_| every && limits.newest.is_none()),
        yanked: lister.serves_yanked(),
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Listed>(64);
    let lcx = ListCx {
        http: cx.http,
        profile: cx.profile,
        source,
        names: &names,
        prefilter: &prefilter,
        quiet: limits.quiet,
        spool: Some(v.cache_dir()),
        out: Out(tx),
    };
    let before = work.len();
    let mut errors = Vec::new();
    let mut count = Counts {
        keep_yanked: prefilter.yanked,
        ..Counts::default()
    };
    let mut listed = 0;
    let mut kept = 0;
    let since_read = lister.dated();
    let take = async {
        let done = AtomicU64::new(0);
        let mut last = Instant::now();
        let received = futures::stream::poll_fn(|c| rx.poll_recv(c)).map(|p: Listed| {
            let (cx, done) = (&cx, &done);
            // A package whose versions the listing does not have (or not dated, when
            // `--since` needs dates) costs one request for them.
            let fetch = every && (p.versions.is_none() || (limits.since.is_some() && !since_read));
            async move {
                let versions = if fetch {
                    let r = lister.versions(cx, &p.name).await;
                    done.fetch_add(1, Ordering::Relaxed);
                    Some(r)
                } else {
                    None
                };
                (p, versions)
            }
        });
        // In order: the work list is the listing's order, by name, so runs agree.
        let mut packages = received.buffered(limits.jobs.max(1));
        while let Some((p, fetched)) = packages.next().await {
            count.packages += 1;
            let (versions, since_done) = match fetched {
                None => (p.versions, since_read),
                Some(Ok(vs)) => (Some(vs), false),
                // Listed, but its page is not found (no release left, or removed since the
                // listing was read): nothing to verify.
                Some(Err(RegistryError::NotFound(_))) => {
                    count.gone += 1;
                    continue;
                }
                Some(Err(e)) => {
                    errors.push(InputError {
                        input: format!("{}:{}@*", spec.ecosystem, p.name),
                        message: e.to_string(),
                    });
                    continue;
                }
            };
            let mut add = |version: Option<&str>| {
                listed += 1;
                let pushed = work.push(spec.ecosystem, &p.name, version, Vec::new(), None);
                if pushed != Pushed::OtherShard {
                    kept += 1;
                }
            };
            if !every {
                // A package whose every version is yanked has no newest version to verify.
                if versions
                    .as_ref()
                    .is_some_and(|vs| vs.iter().all(|v| v.yanked))
                {
                    count.yanked_packages += 1;
                    continue;
                }
                add(None);
                continue;
            }
            for ver in keep(versions.unwrap_or_default(), limits, since_done, &mut count) {
                add(Some(&ver));
            }
            if !limits.quiet && last.elapsed() >= NOTE_EVERY && done.load(Ordering::Relaxed) > 0 {
                last = Instant::now();
                crate::stdout::note(&format!(
                    "note: {shown}: versions of {} package(s) read\n",
                    done.load(Ordering::Relaxed)
                ));
            }
        }
    };
    let (listing, ()) = tokio::join!(lister.list(lcx), take);
    let listing = match listing {
        Ok(l) => l,
        Err(e) => {
            // Whatever a failed listing sent is not the registry's list.
            work.truncate(before);
            return fail(e.to_string());
        }
    };
    let d = listing.dropped;
    count.versions += d.yanked + d.before + d.undated + d.other_shard;
    count.yanked += d.yanked;
    count.before += d.before;
    count.undated += d.undated;
    let listed = listed + d.other_shard;
    if !limits.quiet {
        crate::stdout::note(&format!(
            "{}\n",
            count.say(&shown, listing.about.as_deref(), listed, kept, limits)
        ));
    }
    errors
}

/// How often a long listing says how far it is.
pub const NOTE_EVERY: Duration = Duration::from_secs(5);

#[derive(Default)]
struct Counts {
    packages: usize,
    versions: usize,
    /// Yanked versions left out (or, with `keep_yanked`, included).
    yanked: usize,
    keep_yanked: bool,
    /// Packages without a newest version (every one yanked), for a pattern without `@*`.
    yanked_packages: usize,
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
        if self.yanked > 0 && self.keep_yanked {
            s.push_str(&format!(
                " ({} yanked, included: the registry still serves them)",
                self.yanked
            ));
        }
        let mut left = Vec::new();
        if self.yanked > 0 && !self.keep_yanked {
            left.push(format!("{} yanked", self.yanked));
        }
        if self.yanked_packages > 0 {
            left.push(format!(
                "{} package(s) whose every version is yanked",
                self.yanked_packages
            ));
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

/// One package's versions after the filters: yanked left out unless the registry still
/// serves them, then `--since` (unless the lister applied it as it read), then `--newest N`.
fn keep(
    versions: Vec<ListedVersion>,
    limits: &Limits,
    since_done: bool,
    count: &mut Counts,
) -> Vec<String> {
    count.versions += versions.len();
    let mut kept: Vec<String> = Vec::new();
    for v in versions {
        if v.yanked {
            count.yanked += 1;
            if !count.keep_yanked {
                continue;
            }
        }
        if let (Some(day), false) = (&limits.since, since_done) {
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
pub fn print_work(work: &WorkList) -> anyhow::Result<()> {
    let mut out = String::new();
    for w in work.works() {
        let w = w?;
        out.push_str(w.ecosystem.as_str());
        out.push(':');
        out.push_str(&w.name);
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
    Ok(())
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
            keep(vs.clone(), &limits(None, None), false, &mut c),
            ["1.0.0", "1.2.0", "1.3.0", "1.4.0"]
        );
        assert_eq!(c.yanked, 1);
        let mut c = Counts::default();
        assert_eq!(
            keep(vs.clone(), &limits(None, Some("2024-03-01")), false, &mut c),
            ["1.2.0", "1.4.0"]
        );
        assert_eq!((c.before, c.undated), (1, 1));
        let mut c = Counts::default();
        assert_eq!(
            keep(
                vs.clone(),
                &limits(Some(1), Some("2024-03-01")),
                false,
                &mut c
            ),
            ["1.4.0"]
        );
        assert_eq!(c.older, 1);
        // Where the registry still serves yanked versions they are kept (and counted), and
        // `--since` a lister applied as it read is not applied again.
        let mut c = Counts {
            keep_yanked: true,
            ..Counts::default()
        };
        assert_eq!(
            keep(vs, &limits(None, Some("2024-03-01")), true, &mut c),
            ["1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.4.0"]
        );
        assert_eq!((c.yanked, c.before, c.undated), (1, 0, 0));
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

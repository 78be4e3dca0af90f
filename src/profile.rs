//! Registry profiles: where each registry lives and which protocol it speaks, read from data
//! files (`registries/*.toml`), so a mirror or a private registry is a new file, not new code.
//! The public registries' profiles are compiled in as defaults.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::ecosystem::Ecosystem;

/// One registry's endpoints.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// A short name for messages ("crates-io").
    pub name: String,
    pub ecosystem: Ecosystem,
    /// `sparse` (cargo sparse index), `simple` (PyPI Simple API), `rubygems` (RubyGems API).
    pub protocol: String,
    /// The base URL: the sparse index root, the Simple API root, or the RubyGems server root.
    pub url: String,
    /// Optional extra metadata API (PyPI's JSON API root, `https://pypi.org/pypi/`).
    #[serde(default)]
    pub json_api: Option<String>,
    /// PyPI's integrity API root (`https://pypi.org/integrity/`): PEP 740 provenance for a
    /// file when the Simple API page does not link it.
    #[serde(default)]
    pub integrity_api: Option<String>,
    /// PyPI: which file of a release to verify, `sdist` (the default; a release with only
    /// wheels falls back to its pure-Python wheel) or `wheel`. Set by `--pypi-artifact`.
    #[serde(default)]
    pub artifact: Option<String>,
    /// Sparse index: the root's `config.json`, read once per run by the registry check
    /// (`crate::preflight`) so packages do not each ask for it again.
    #[serde(skip)]
    pub index_config: Option<serde_json::Value>,
    /// What packages of this registry are compared with by default (`diff`, `rebuild`,
    /// `both`); `--mode` overrides it.
    #[serde(default)]
    pub mode: Option<crate::rebuild::Mode>,
    /// Where the whole registry is listed, for name patterns (`crates:*@*`): crates, a
    /// database dump in crates.io's layout (URL or file); PyPI and RubyGems need none (the
    /// Simple API root, the compact index `/versions`). `--listing` overrides it.
    #[serde(default)]
    pub listing: Option<String>,
    /// Requests per URL prefix at most this often, for every request of the run under that
    /// prefix (`rate = { "https://crates.io/api/" = "1/s" }`): a registry's crawler policy.
    /// The longest matching prefix applies; prefixes without a rate are not paced.
    #[serde(default)]
    pub rate: Rates,
}

/// A profile's `rate` table. Its `Debug` form is empty: how fast a run asks does not change
/// what it finds, so it stays out of the store's settings fingerprint (`store::Settings`).
#[derive(Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct Rates(pub BTreeMap<String, crate::http::Rate>);

impl std::fmt::Debug for Rates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("_")
    }
}

const BUILTIN: [&str; 3] = [
    include_str!("../registries/crates-io.toml"),
    include_str!("../registries/pypi.toml"),
    include_str!("../registries/rubygems.toml"),
];

/// The profile in use for each ecosystem.
#[derive(Debug, Clone)]
pub struct Profiles {
    pub by_ecosystem: BTreeMap<Ecosystem, Profile>,
}

impl Profiles {
    pub fn builtin() -> Profiles {
        let mut by_ecosystem = BTreeMap::new();
        for text in BUILTIN {
            let p: Profile = toml::from_str(text).expect("built-in registry profile parses");
            by_ecosystem.insert(p.ecosystem, p);
        }
        Profiles { by_ecosystem }
    }

    pub fn get(&self, eco: Ecosystem) -> &Profile {
        &self.by_ecosystem[&eco]
    }

    /// Every profile's `rate` entries, for the run's HTTP client. Two profiles pacing the same
    /// prefix: the slower rate holds.
    pub fn rates(&self) -> Vec<(String, crate::http::Rate)> {
        let mut all: BTreeMap<String, crate::http::Rate> = BTreeMap::new();
        for p in self.by_ecosystem.values() {
            for (prefix, rate) in &p.rate.0 {
                all.entry(prefix.clone())
                    .and_modify(|r| {
                        if rate.interval() > r.interval() {
                            *r = *rate
                        }
                    })
                    .or_insert(*rate);
            }
        }
        all.into_iter().collect()
    }

    /// Apply `--registry ECO=URL` or `--registry ECO=path/to/profile.toml`.
    pub fn apply(&mut self, arg: &str) -> Result<(), String> {
        let (eco, value) = arg
            .split_once('=')
            .ok_or_else(|| format!("--registry takes ECOSYSTEM=URL, got `{arg}`"))?;
        let eco = Ecosystem::parse(eco.trim()).ok_or_else(|| {
            format!("--registry: unknown ecosystem `{eco}` (expected crates, pypi or gems)")
        })?;
        let value = value.trim();
        // cargo spells a sparse registry `sparse+https://...`; the URL is the same.
        let value = match eco {
            Ecosystem::Crates => value.strip_prefix("sparse+").unwrap_or(value),
            _ => value,
        };
        if looks_like_file(value) {
            let text = std::fs::read_to_string(value).map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    format!(
                        "--registry {eco}={value}: there is no registry profile file {value} \
                         (a profile is a .toml file like those in registries/; a registry URL \
                         starts with https://)"
                    )
                } else {
                    format!("--registry {eco}: cannot read the registry profile {value}: {e}")
                }
            })?;
            let p: Profile =
                toml::from_str(&text).map_err(|e| format!("registry profile {value}: {e}"))?;
            if p.ecosystem != eco {
                return Err(format!(
                    "registry profile {value} is for {}, not {eco}",
                    p.ecosystem
                ));
            }
            self.by_ecosystem.insert(eco, p);
            return Ok(());
        }
        let parsed = url::Url::parse(value).map_err(|e| {
            format!(
                "--registry {eco}: `{value}` is neither a URL ({e}) nor a profile file \
                 (a path ending in .toml)"
            )
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!(
                "--registry {eco}: `{value}` must be an http or https URL"
            ));
        }
        let p = self
            .by_ecosystem
            .get_mut(&eco)
            .expect("every ecosystem has a profile");
        p.name = parsed.host_str().unwrap_or("custom").to_string();
        p.url = value.to_string();
        // The built-in listing (crates.io's database dump) is not another registry's.
        p.listing = None;
        // A custom index is not the public JSON API's mirror: derive it from the same host.
        if eco == Ecosystem::Pypi {
            p.json_api = derive_pypi_json(value);
            p.integrity_api = derive_pypi_integrity(value);
        }
        Ok(())
    }
}

/// A `--registry` value that names a profile file rather than a URL: it ends in `.toml`, or it
/// is a path (`./x`, `../x`, `/x`, `~/x`) and not `scheme://...`.
fn looks_like_file(value: &str) -> bool {
    !value.contains("://")
        && (value.ends_with(".toml")
            || value.starts_with('.')
            || value.starts_with('/')
            || value.starts_with('~'))
}

/// `http://host/simple/` → `http://host/pypi/` (warehouse and devpi layouts).
pub fn derive_pypi_json(simple: &str) -> Option<String> {
    let trimmed = simple.trim_end_matches('/');
    trimmed
        .strip_suffix("/simple")
        .map(|base| format!("{base}/pypi/"))
}

/// `http://host/simple/` → `http://host/integrity/` (PyPI's layout; elsewhere a 404 is an
/// answer: no provenance).
pub fn derive_pypi_integrity(simple: &str) -> Option<String> {
    let trimmed = simple.trim_end_matches('/');
    trimmed
        .strip_suffix("/simple")
        .map(|base| format!("{base}/integrity/"))
}

/// Join a base URL and a relative path with exactly one `/`.
pub fn join_url(base: &str, rel: &str) -> String {
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        rel.trim_start_matches('/')
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_cover_every_ecosystem() {
        let p = Profiles::builtin();
        for e in Ecosystem::ALL {
            assert_eq!(p.get(e).ecosystem, e);
        }
    }

    #[test]
    fn override_by_url_and_errors() {
        let mut p = Profiles::builtin();
        p.apply("crates=http://127.0.0.1:9/index/").unwrap();
        assert_eq!(p.get(Ecosystem::Crates).url, "http://127.0.0.1:9/index/");
        assert!(p
            .apply("npm=http://x/")
            .unwrap_err()
            .contains("unknown ecosystem"));
        assert!(p.apply("crates").is_err());
        assert!(p.apply("crates=not a url").is_err());
        p.apply("crates=sparse+http://127.0.0.1:9/sparse/").unwrap();
        assert_eq!(p.get(Ecosystem::Crates).url, "http://127.0.0.1:9/sparse/");
        p.apply("pypi=http://127.0.0.1:9/simple/").unwrap();
        assert_eq!(
            p.get(Ecosystem::Pypi).json_api.as_deref(),
            Some("http://127.0.0.1:9/pypi/")
        );
        assert_eq!(
            p.get(Ecosystem::Pypi).integrity_api.as_deref(),
            Some("http://127.0.0.1:9/integrity/")
        );
    }

    #[test]
    fn crates_io_api_is_paced_at_one_request_a_second() {
        let rates = Profiles::builtin().rates();
        let api = rates
            .iter()
            .find(|(p, _)| p == "https://crates.io/api/")
            .expect("crates.io's API has a rate");
        assert_eq!(api.1.interval(), std::time::Duration::from_secs(1));
        // The sparse index and the downloads are not limited that way.
        assert!(rates.iter().all(
            |(p, _)| !"https://index.crates.io/x".starts_with(p.as_str())
                && !"https://static.crates.io/crates/x".starts_with(p.as_str())
        ));
    }

    #[test]
    fn a_bad_rate_is_an_error_naming_it() {
        let text = "name = \"m\"\necosystem = \"crates\"\nprotocol = \"sparse\"\n\
                    url = \"https://m/\"\nrate = { \"https://m/api/\" = \"fast\" }\n";
        let e = toml::from_str::<Profile>(text).unwrap_err().to_string();
        assert!(e.contains("`fast` is not a request rate"), "{e}");
        let ok = text.replace("fast", "20/s");
        let p: Profile = toml::from_str(&ok).unwrap();
        assert_eq!(
            p.rate.0["https://m/api/"].interval(),
            std::time::Duration::from_millis(50)
        );
    }

    #[test]
    fn a_missing_profile_file_is_not_called_a_bad_url() {
        let mut p = Profiles::builtin();
        for v in ["./missing.toml", "missing.toml", "/nowhere/mirror"] {
            let e = p.apply(&format!("pypi={v}")).unwrap_err();
            assert!(e.contains("no registry profile file"), "{v}: {e}");
            assert!(!e.contains("not a URL"), "{v}: {e}");
        }
        let e = p.apply("pypi=mirror.example/simple/").unwrap_err();
        assert!(e.contains("neither a URL"), "{e}");
    }
}

//! The pipeline for one package: resolve → download → read → locate source → compare → judge.
//! Every stage that fails ends the package with a verdict and the findings so far; nothing here
//! stops other packages. Blocking work (git, archive reading, comparison) runs off the async
//! threads; each repository is cloned or fetched at most once per run, shared by every package
//! that needs it.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OnceCell, Semaphore};

use crate::attest::evidence::{self, Claim};
use crate::attest::gather::{gather, Fetched};
use crate::ecosystem::{Ecosystem, RegistryCx, RegistryError, Resolved};
use crate::finding::{Code, Finding, Verdict};
use crate::git;
use crate::http::Http;
use crate::locate::locate_and_compare;
use crate::profile::Profiles;
use crate::rebuild::{self, Mode};
use crate::repo_url::{self, Rewrites};
use crate::report::PackageResult;
use crate::shared_repo::SharedRepo;

/// Settings for a run.
#[derive(Clone)]
pub struct Options {
    pub cache_dir: PathBuf,
    pub profiles: Profiles,
    pub rewrites: Rewrites,
    /// Concurrent git operations.
    pub git_jobs: usize,
    /// Concurrent CPU-bound comparisons.
    pub cpu_jobs: usize,
    /// `--mode`; `None`: each registry profile's default, else diff.
    pub mode: Option<Mode>,
    /// Concurrent rebuilds (a small limit: each runs a packager).
    pub build_jobs: usize,
    /// Deadline for a package's registry requests and download together.
    pub package_timeout: Duration,
    /// What signed attestations are checked against (`--trust-root`, else public Sigstore).
    pub trust: crate::attest::gather::Trust,
}

/// One clone per repository URL per run, made by whichever package asks first.
type RepoCell = Arc<OnceCell<Result<Arc<SharedRepo>, String>>>;

pub struct Verifier {
    pub http: Http,
    pub opts: Options,
    repos: Mutex<HashMap<String, RepoCell>>,
    /// Repositories whose refs were made fresh in this run and whose [`SharedRepo`] was then
    /// dropped from `repos` (its caches released and no package holding it), by a 16-byte
    /// digest of the key: memory per repository visited stays a few bytes, not a whole
    /// `SharedRepo` (about 2 KB), and a repository asked for again is not fetched again.
    forgotten: Mutex<HashSet<[u8; 16]>>,
    submodules: crate::submodules::Submodules,
    git_permits: Semaphore,
    cpu_permits: Semaphore,
    build_permits: Semaphore,
    /// MiB of artifacts (downloaded and unpacked) held by packages past the download, across
    /// `--jobs` ([`crate::cache_budget::held_mib`]); a package that would go over waits,
    /// holding no other permit, until others finish.
    held_mib: Semaphore,
    /// The repositories' caches, bounded by bytes across the run.
    caches: crate::shared_repo::RepoCaches,
    /// Downloaded artifacts, kept across runs (`src/artifact_cache.rs`).
    artifacts: Arc<crate::artifact_cache::ArtifactCache>,
}

/// What download produced.
struct Downloaded {
    bytes: Vec<u8>,
    sha256: String,
}

impl Verifier {
    pub fn new(http: Http, opts: Options) -> Verifier {
        let git_permits = Semaphore::new(opts.git_jobs.max(1));
        let cpu_permits = Semaphore::new(opts.cpu_jobs.max(1));
        let build_permits = Semaphore::new(opts.build_jobs.max(1));
        let opts_cache_dir = opts.cache_dir.clone();
        Verifier {
            http,
            submodules: crate::submodules::Submodules::new(
                opts.cache_dir.clone(),
                opts.rewrites.clone(),
            ),
            opts,
            repos: Mutex::default(),
            forgotten: Mutex::default(),
            git_permits,
            cpu_permits,
            build_permits,
            held_mib: Semaphore::new(crate::cache_budget::held_mib() as usize),
            caches: crate::shared_repo::RepoCaches::new(crate::cache_budget::repos()),
            artifacts: Arc::new(crate::artifact_cache::ArtifactCache::new(&opts_cache_dir)),
        }
    }

    /// Resolve only (for `@*` expansion and for skipping already-decided artifacts).
    pub async fn resolve(
        &self,
        eco: Ecosystem,
        name: &str,
        version: Option<&str>,
    ) -> Result<Resolved, RegistryError> {
        let profile = self.opts.profiles.get(eco);
        let cx = RegistryCx {
            http: &self.http,
            profile,
        };
        let deadline = self.opts.package_timeout;
        tokio::time::timeout(deadline, eco.handler().resolve(&cx, name, version))
            .await
            .unwrap_or_else(|_| Err(RegistryError::Failed(timed_out(deadline))))
    }

    /// Registry access for one ecosystem (whole-registry listings, `src/listing/`).
    pub fn registry_cx(&self, eco: Ecosystem) -> RegistryCx<'_> {
        RegistryCx {
            http: &self.http,
            profile: self.opts.profiles.get(eco),
        }
    }

    /// Every version with its publication time where the registry says (`--since`).
    pub async fn dated_versions(
        &self,
        eco: Ecosystem,
        name: &str,
    ) -> Result<Vec<(String, Option<String>)>, RegistryError> {
        let profile = self.opts.profiles.get(eco);
        let cx = RegistryCx {
            http: &self.http,
            profile,
        };
        eco.handler().dated_versions(&cx, name).await
    }

    pub async fn versions(&self, eco: Ecosystem, name: &str) -> Result<Vec<String>, RegistryError> {
        let profile = self.opts.profiles.get(eco);
        let cx = RegistryCx {
            http: &self.http,
            profile,
        };
        let deadline = self.opts.package_timeout;
        tokio::time::timeout(deadline, eco.handler().versions(&cx, name))
            .await
            .unwrap_or_else(|_| Err(RegistryError::Failed(timed_out(deadline))))
    }

    /// What packages of this ecosystem are compared with: `--mode`, else the profile's.
    /// The cache directory, where a run keeps what it does not hold in memory.
    pub fn cache_dir(&self) -> &std::path::Path {
        &self.opts.cache_dir
    }

    pub fn mode(&self, eco: Ecosystem) -> Mode {
        self.opts
            .mode
            .or(self.opts.profiles.get(eco).mode)
            .unwrap_or_default()
    }

    /// Verify one package version end to end.
    pub async fn verify(&self, eco: Ecosystem, name: &str, version: Option<&str>) -> PackageResult {
        let started = Instant::now();
        let mut result = PackageResult::pending(eco, name, version);
        let resolved = match self.resolve(eco, name, version).await {
            Ok(r) => r,
            Err(e) => {
                result
                    .findings
                    .push(Finding::new(Code::ArtifactUnavailable, e.to_string()));
                // A version that exists but has no artifact provero can compare is
                // unverifiable, not an error of the input or the tool.
                if !matches!(e, RegistryError::Unsupported(_)) {
                    result.error = Some(e.to_string());
                }
                return finish(result, started);
            }
        };
        self.verify_resolved(resolved, result, started).await
    }

    /// Verify a version the registry already resolved.
    pub async fn verify_resolved(
        &self,
        resolved: Resolved,
        mut result: PackageResult,
        started: Instant,
    ) -> PackageResult {
        let eco = result.package.ecosystem;
        let handler = eco.handler();
        let mode = self.mode(eco);
        result.mode = mode;
        result.package.name = resolved.name.clone();
        result.package.version = resolved.version.clone();
        result.artifact.url = Some(resolved.url.clone());
        result.artifact.expected_sha256 = resolved.sha256.clone();

        let left = self.opts.package_timeout.saturating_sub(started.elapsed());
        let cx = RegistryCx {
            http: &self.http,
            profile: self.opts.profiles.get(eco),
        };
        // Who published it is asked while the artifact downloads.
        let (dl, fetched) = tokio::join!(
            tokio::time::timeout(left, self.download(eco, &resolved)),
            tokio::time::timeout(left, handler.attestations(&cx, &resolved)),
        );
        let fetched = fetched.unwrap_or_else(|_| {
            Fetched::Unavailable(format!(
                "the attestations could not be fetched: {}",
                timed_out(self.opts.package_timeout)
            ))
        });
        let dl = match dl
            .unwrap_or_else(|_| Err(anyhow::anyhow!(timed_out(self.opts.package_timeout))))
        {
            Ok(d) => d,
            Err(e) => {
                result.findings.push(Finding::new(
                    Code::ArtifactUnavailable,
                    format!("download failed: {e}"),
                ));
                result.error = Some(format!("download failed: {e}"));
                return finish(result, started);
            }
        };
        result.artifact.sha256 = Some(dl.sha256.clone());
        if let Some(expected) = &resolved.sha256 {
            if !expected.eq_ignore_ascii_case(&dl.sha256) {
                result.findings.push(Finding::new(
                    Code::ChecksumMismatch,
                    format!(
                        "the downloaded artifact has SHA-256 {}, the registry publishes {expected}",
                        dl.sha256
                    ),
                ));
            }
        }

        // What the registry says about who published it, checked against what was downloaded
        // (reported even when the archive turns out unreadable).
        let gathered = gather(&fetched, &resolved.filename, &dl.sha256, &self.opts.trust);
        result.attestations = gathered.attestations;
        result.findings.extend(gathered.findings);

        // Room for what it unpacks to is taken before it is read: packages waiting for room
        // hold only their downloads.
        let held = crate::cache_budget::held_estimate(&dl.bytes);
        let _held = self.held_mib.acquire_many(held).await.expect("open");
        let published = Arc::new(dl.bytes);
        let pkg = {
            let _cpu = self.cpu_permits.acquire().await.expect("open");
            let r2 = resolved.clone();
            let b2 = published.clone();
            match tokio::task::spawn_blocking(move || handler.read(&r2, &b2)).await {
                Ok(Ok(p)) => p,
                Ok(Err(e)) => {
                    result.findings.push(e.finding());
                    return finish(result, started);
                }
                Err(e) => {
                    result.error = Some(format!("reading the artifact crashed: {e}"));
                    result.findings.push(Finding::new(
                        Code::ArtifactUnreadable,
                        "reading the artifact failed",
                    ));
                    return finish(result, started);
                }
            }
        };
        result.findings.extend(pkg.findings.iter().cloned());
        // The evidence for the commit, strongest first (`attest::evidence`).
        let mut claims = gathered.claims;
        if let Some(c) = &pkg.commit {
            claims.push(Claim {
                from: handler.recorded_commit(),
                commit: c.clone(),
                repository: None,
            });
        }
        let attested_repo = claims.iter().any(|c| {
            c.repository
                .as_deref()
                .and_then(repo_url::normalize)
                .is_some()
        });
        let (claim, decided) = evidence::decide(claims.clone());
        result.findings.extend(decided);

        // Repository: the artifact's own metadata, then the registry's.
        let mut candidates = pkg.repository.clone();
        let mut fallback_failed = None;
        if !attested_repo && candidates.iter().all(|c| repo_url::normalize(c).is_none()) {
            let profile = self.opts.profiles.get(eco);
            let cx = RegistryCx {
                http: &self.http,
                profile,
            };
            match handler.repository_fallback(&cx, &pkg).await {
                Ok(urls) => candidates.extend(urls),
                Err(e) => fallback_failed = Some(e),
            }
            candidates.extend(resolved.repository_hints.iter().cloned());
        }
        // The attested repository, when there is one, is where the publisher's CI ran.
        let (repo_url, repo_findings) = evidence::repository(
            &claims,
            candidates
                .iter()
                .find_map(|c| repo_url::normalize(c))
                .as_ref(),
        );
        result.findings.extend(repo_findings);
        let Some(repo_url) = repo_url else {
            let msg = if candidates.is_empty() {
                if pkg
                    .findings
                    .iter()
                    .any(|f| f.code == Code::ManifestUnreadable)
                {
                    "the manifest that would name the source repository could not be read"
                        .to_string()
                } else {
                    "the artifact names no source repository".to_string()
                }
            } else {
                format!(
                    "no usable git repository URL among: {}",
                    candidates.join(", ")
                )
            };
            result.findings.push(Finding::new(Code::NoRepository, msg));
            // Not a fact of the package while the registry could not be asked: an error
            // (never stored, retried next run).
            if let Some(e) = fallback_failed {
                result.error = Some(e);
            }
            return finish(result, started);
        };
        result.source.repository = Some(repo_url.url.clone());
        // Cached under the identity; fetched as the metadata spells it, then as the identity.
        let key = self.opts.rewrites.apply(&repo_url.url);
        let mut urls = vec![self.opts.rewrites.apply(&repo_url.fetch_url)];
        if !urls.contains(&key) {
            urls.push(key.clone());
        }

        let shared = match self.repo(&key, &repo_url.fetch_url, urls).await {
            Ok(r) => r,
            Err(e) => {
                result.findings.push(Finding::new(
                    Code::RepositoryUnreachable,
                    format!("could not fetch {}: {e}", repo_url.url),
                ));
                return finish(result, started);
            }
        };

        let pkg = Arc::new(pkg);
        let tag_hint = pkg.tag_hint.clone().or(repo_url.ref_hint.clone());
        let hint_dir = repo_url.subdir.clone();
        let _git = self.git_permits.acquire().await.expect("open");
        let _cpu = self.cpu_permits.acquire().await.expect("open");
        let p2 = pkg.clone();
        let s2 = shared.clone();
        let submodules = self.submodules.clone();
        let outcome = tokio::task::spawn_blocking(move || {
            // Submodules come from the same cache, through the same rewrites, once per run.
            let opener = move |raw: &str, commit: &str| submodules.open(raw, commit);
            locate_and_compare(
                handler,
                &p2,
                claim.as_ref(),
                &s2,
                tag_hint,
                hint_dir,
                &opener,
            )
        })
        .await;
        drop((_git, _cpu));
        match outcome {
            Ok(Ok(mut o)) => {
                if mode.rebuilds() {
                    rebuild::keep_diff_findings(&mut o.findings, mode);
                }
                result.findings.extend(o.findings);
                result.source.commit = o.commit;
                result.source.path_in_repo = o.path_in_repo;
                result.source.tag = o.tag;
                result.source.commit_from = o.commit_from;
                result.excused = o.excused;
                result.stats = o.stats;
                if mode.rebuilds() {
                    self.rebuild(&resolved, &pkg, &published, &shared, &mut result)
                        .await;
                }
            }
            Ok(Err(e)) => {
                result.findings.push(Finding::new(
                    Code::RepositoryUnreachable,
                    format!("git failed on {}: {e}", repo_url.url),
                ));
            }
            Err(e) => {
                result.error = Some(format!("comparison crashed: {e}"));
            }
        }
        let released = self.caches.used(&key, &shared);
        drop(shared);
        for released in released {
            self.forget(&released);
        }
        finish(result, started)
    }

    /// Rebuild from the located commit (when one was located) and add what the rebuild found.
    async fn rebuild(
        &self,
        resolved: &Resolved,
        pkg: &crate::ecosystem::Package,
        published: &[u8],
        shared: &Arc<SharedRepo>,
        result: &mut PackageResult,
    ) {
        let eco = result.package.ecosystem;
        let located = !result
            .findings
            .iter()
            .any(|f| matches!(f.code, Code::CommitNotFound | Code::NoCommit));
        let Some(commit) = result.source.commit.clone().filter(|_| located) else {
            return;
        };
        let s2 = shared.clone();
        let c2 = commit.clone();
        let tree = match tokio::task::spawn_blocking(move || s2.tree(&c2)).await {
            Ok(Ok(t)) => t,
            Ok(Err(e)) => {
                result.findings.push(
                    Finding::new(Code::RebuildFailed, format!("reading the tree: {e}"))
                        .in_mode(Mode::Rebuild),
                );
                return;
            }
            Err(e) => {
                result.error = Some(format!("reading the tree crashed: {e}"));
                return;
            }
        };
        let _build = self.build_permits.acquire().await.expect("open");
        let pkg_dir = result.source.path_in_repo.clone().unwrap_or_default();
        let rebuilt = rebuild::rebuild(rebuild::Request {
            handler: eco.handler(),
            http: &self.http,
            profile: self.opts.profiles.get(eco),
            resolved,
            pkg,
            published,
            repo: &shared.repo,
            tree: &tree,
            commit: &commit,
            pkg_dir: &pkg_dir,
            cache_dir: &self.opts.cache_dir,
        })
        .await;
        result.findings.extend(rebuilt.findings);
        if result.mode == Mode::Rebuild {
            result.excused.clear();
            result.stats = crate::report::Stats {
                files: rebuilt.files,
                identical: rebuilt.identical,
                excused: rebuilt.stabilized,
            };
        }
        result.rebuild = Some(rebuilt.info);
    }

    async fn download(&self, eco: Ecosystem, r: &Resolved) -> anyhow::Result<Downloaded> {
        // Content-addressed by the registry's digest: only an artifact that matches it is
        // kept, and one read back from the cache was checked against it.
        if let Some(expected) = &r.sha256 {
            let (cache, want) = (self.artifacts.clone(), expected.clone());
            let (eco_name, filename) = (eco.as_str(), r.filename.clone());
            let cached =
                tokio::task::spawn_blocking(move || cache.get(&want, eco_name, &filename)).await;
            if let Ok(Some(bytes)) = cached {
                tracing::debug!("{}: the artifact from the cache", r.url);
                return Ok(Downloaded {
                    bytes,
                    sha256: expected.to_ascii_lowercase(),
                });
            }
        }
        let body = self.http.get(&r.url, None).await?;
        let sha256 = crate::archive::sha256_hex(&body.bytes);
        if r.sha256
            .as_deref()
            .is_some_and(|e| e.eq_ignore_ascii_case(&sha256))
        {
            let (cache, sha, bytes) = (self.artifacts.clone(), sha256.clone(), body.bytes);
            let (bytes, kept) = tokio::task::spawn_blocking(move || {
                let kept = cache.put(&sha, &bytes);
                (bytes, kept)
            })
            .await?;
            if let Err(e) = kept {
                // A cache that cannot be written costs a download next run, not this result.
                tracing::warn!(
                    "the artifact cache under {} could not be written: {e}",
                    self.opts.cache_dir.display()
                );
            }
            return Ok(Downloaded { bytes, sha256 });
        }
        Ok(Downloaded {
            bytes: body.bytes,
            sha256,
        })
    }

    /// Drop the released repository `key` from memory if no package holds it, remembering
    /// that its refs are fresh; a failed clone stays (it is not tried again in the run).
    fn forget(&self, key: &str) {
        let mut repos = self.repos.lock().expect("repo map");
        let Some(Some(Ok(shared))) = repos.get(key).map(|c| c.get()) else {
            return;
        };
        if Arc::strong_count(shared) > 1 {
            return;
        }
        let fresh = shared.refs_fresh();
        if fresh {
            self.forgotten
                .lock()
                .expect("forgotten repos")
                .insert(key_digest(key));
        }
        repos.remove(key);
        tracing::debug!("{key} dropped from memory (refs fresh: {fresh})");
    }

    /// The shared clone of a URL: cloned at most once per run, whoever asks first.
    async fn repo(
        &self,
        key: &str,
        origin: &str,
        urls: Vec<String>,
    ) -> Result<Arc<SharedRepo>, String> {
        let cell = self
            .repos
            .lock()
            .expect("repo map")
            .entry(key.to_string())
            .or_default()
            .clone();
        cell.get_or_init(|| async {
            let _git = self.git_permits.acquire().await.expect("open");
            let root = self.opts.cache_dir.clone();
            let (k, o) = (key.to_string(), origin.to_string());
            let fresh = self
                .forgotten
                .lock()
                .expect("forgotten repos")
                .contains(&key_digest(key));
            match tokio::task::spawn_blocking(move || git::open_or_clone_as(&root, &k, &o, &urls))
                .await
            {
                Ok(Ok((repo, cloned_now))) => {
                    Ok(Arc::new(SharedRepo::new(repo, cloned_now || fresh)))
                }
                Ok(Err(e)) => Err(e.to_string()),
                Err(e) => Err(e.to_string()),
            }
        })
        .await
        .clone()
    }
}

/// A repository key's digest, as [`Verifier::forget`] remembers it.
fn key_digest(key: &str) -> [u8; 16] {
    use sha2::Digest;
    let d = sha2::Sha256::digest(key.as_bytes());
    let mut out = [0; 16];
    out.copy_from_slice(&d[..16]);
    out
}

fn timed_out(deadline: Duration) -> String {
    format!(
        "the registry did not answer within {} s (--package-timeout)",
        deadline.as_secs()
    )
}

fn finish(mut r: PackageResult, started: Instant) -> PackageResult {
    r.verdict = Verdict::judge(&r.findings);
    r.duration_ms = started.elapsed().as_millis() as u64;
    r
}

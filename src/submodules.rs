//! Git submodules of a run: the repository a `.gitmodules` URL names, opened once per run and
//! shared by every package that needs it. A URL from `.gitmodules` is metadata (attacker
//! input): it must be a remote URL ([`repo_url::normalize`]); only the user's `--git-rewrite`
//! may then send it to a local mirror. A submodule that cannot be fetched (or lacks the commit)
//! is tried once per run and logged in full once; later packages get the remembered error.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::git::{self, GitError, Repo};
use crate::repo_url::{self, Rewrites};

/// What the run knows about one submodule repository.
#[derive(Default)]
struct State {
    /// `None` until first opened; then the clone or why it failed.
    repo: Option<Result<Repo, String>>,
    /// Fetched (or freshly cloned) in this run: refs are as fresh as they get.
    fresh: bool,
    /// Commits the repository was asked for and does not have.
    missing: HashSet<String>,
}

/// Submodule repositories of one run, by identity URL.
#[derive(Clone)]
pub struct Submodules {
    cache_dir: PathBuf,
    rewrites: Rewrites,
    repos: Arc<Mutex<HashMap<String, Arc<Mutex<State>>>>>,
}

impl Submodules {
    pub fn new(cache_dir: PathBuf, rewrites: Rewrites) -> Submodules {
        Submodules {
            cache_dir,
            rewrites,
            repos: Arc::default(),
        }
    }

    /// The repository `.gitmodules` names at `raw` (relative URLs already resolved), holding
    /// `commit`. Blocking (runs git).
    pub fn open(&self, raw: &str, commit: &str) -> Result<Repo, GitError> {
        let Some(u) = repo_url::normalize(raw) else {
            return Err(GitError::Refused(format!(
                "the submodule URL `{raw}` is not a remote repository URL (metadata may not \
                 name a local path or file://)"
            )));
        };
        let state = self
            .repos
            .lock()
            .expect("submodule map")
            .entry(u.url.clone())
            .or_default()
            .clone();
        // Packages needing the same submodule wait for one clone instead of making their own.
        let mut st = state.lock().expect("submodule state");
        if st.repo.is_none() {
            let key = self.rewrites.apply(&u.url);
            let mut urls = vec![self.rewrites.apply(&u.fetch_url)];
            if !urls.contains(&key) {
                urls.push(key.clone());
            }
            st.repo = Some(
                match git::open_or_clone_as(&self.cache_dir, &key, &u.fetch_url, &urls) {
                    Ok((repo, cloned_now)) => {
                        st.fresh = cloned_now;
                        Ok(repo)
                    }
                    Err(e) => {
                        tracing::warn!("submodule {}: {e}", u.url);
                        Err(e.to_string())
                    }
                },
            );
        }
        let repo = match st.repo.as_ref().expect("just set") {
            Ok(r) => r.clone(),
            Err(e) => return Err(GitError::Refused(e.clone())),
        };
        if repo.has_commit(commit).is_some() {
            return Ok(repo);
        }
        let not_found = || {
            GitError::Refused(format!(
                "commit {commit} is not in the submodule repository {}",
                u.url
            ))
        };
        if st.missing.contains(commit) {
            return Err(not_found());
        }
        if !st.fresh {
            st.fresh = true;
            if let Err(e) = repo.fetch_all() {
                tracing::warn!("submodule {}: {e}", u.url);
            }
            if repo.has_commit(commit).is_some() {
                return Ok(repo);
            }
        }
        if repo.fetch_commit(commit).is_ok() && repo.has_commit(commit).is_some() {
            return Ok(repo);
        }
        tracing::warn!("submodule {}: commit {commit} not found", u.url);
        st.missing.insert(commit.to_string());
        Err(not_found())
    }
}

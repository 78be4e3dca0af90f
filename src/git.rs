//! The git layer: one bare partial clone (`--filter=blob:none`) per repository in the cache,
//! updated with a fetch only when something is missing. Commits and trees come down; blobs only
//! on demand (files that differ, symlinks). Nothing from the repository is ever executed: no
//! hooks, no checkout (so no filters), no submodule recursion, no credential prompts.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use sha1::Digest as _;

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("could not run git: {0}")]
    Spawn(#[from] std::io::Error),
    /// A URL or commit provero will not fetch, or a failure this run already saw.
    #[error("{0}")]
    Refused(String),
    #[error("git {action} failed for {url}: {stderr}")]
    Failed {
        action: String,
        url: String,
        stderr: String,
    },
}

/// What a tree entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Blob,
    Tree,
    /// A submodule (gitlink).
    Commit,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub mode: u32,
    pub kind: Kind,
    pub oid: String,
}

impl Entry {
    pub fn is_symlink(&self) -> bool {
        self.mode == 0o120000
    }
}

/// Every path of a commit's tree (blobs, trees and gitlinks), as `git ls-tree -r -t` lists them.
#[derive(Debug, Default, Clone)]
pub struct Tree {
    pub entries: HashMap<String, Entry>,
}

impl Tree {
    pub fn get(&self, path: &str) -> Option<&Entry> {
        self.entries.get(path)
    }

    /// Paths of blobs whose file name is `name`, in any directory.
    pub fn find_named(&self, name: &str) -> Vec<&str> {
        let mut v: Vec<&str> = self
            .entries
            .iter()
            .filter(|(p, e)| {
                e.kind == Kind::Blob && (p.as_str() == name || p.ends_with(&format!("/{name}")))
            })
            .map(|(p, _)| p.as_str())
            .collect();
        v.sort_by_key(|p| (p.matches('/').count(), p.to_string()));
        v
    }
}

/// The environment every git invocation gets: no prompts, no user or system config that could
/// run programs, and no hooks.
fn git_command(git_dir: Option<&Path>) -> Command {
    let mut c = Command::new("git");
    if let Some(d) = git_dir {
        c.arg("--git-dir").arg(d);
    }
    c.args([
        "-c",
        "core.hooksPath=/dev/null",
        "-c",
        "core.fsmonitor=false",
        "-c",
        "credential.helper=",
        "-c",
        "submodule.recurse=false",
        "-c",
        "fetch.recurseSubmodules=false",
        "-c",
        "protocol.version=2",
        // Each fetch would otherwise start `git maintenance`/`gc` in the background.
        "-c",
        "maintenance.auto=false",
        "-c",
        "gc.auto=0",
        // A host that accepts and then stalls ends the transfer after a minute below one
        // byte a second, instead of holding a git slot forever.
        "-c",
        "http.lowSpeedLimit=1",
        "-c",
        "http.lowSpeedTime=60",
    ]);
    c.env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_ASKPASS", "true")
        .env("SSH_ASKPASS", "true")
        .env("GCM_INTERACTIVE", "never")
        .env("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .stdin(Stdio::null());
    c
}

fn run(mut c: Command, action: &str, url: &str) -> Result<Output, GitError> {
    crate::log::command(&c);
    let out = c.output()?;
    if !out.status.success() {
        return Err(GitError::Failed {
            action: action.to_string(),
            url: url.to_string(),
            stderr: crate::log::tool_stderr("git", action, &out.stderr),
        });
    }
    Ok(out)
}

fn run_with_input(
    mut c: Command,
    input: &str,
    action: &str,
    url: &str,
) -> Result<Vec<u8>, GitError> {
    use std::io::Write;
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    crate::log::command(&c);
    let mut child = c.spawn()?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let input = input.to_string();
    // Write from another thread: git answers while we write, and both pipes have limits.
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output()?;
    let _ = writer.join();
    if !out.status.success() {
        return Err(GitError::Failed {
            action: action.to_string(),
            url: url.to_string(),
            stderr: crate::log::tool_stderr("git", action, &out.stderr),
        });
    }
    Ok(out.stdout)
}

/// Parse `cat-file --batch` output: `<oid> <type> <size>\n<bytes>\n` per object.
fn parse_batch(out: &[u8], url: &str) -> Result<HashMap<String, Vec<u8>>, GitError> {
    let mut map = HashMap::new();
    let mut i = 0;
    while i < out.len() {
        let Some(nl) = out[i..].iter().position(|b| *b == b'\n') else {
            break;
        };
        let header = String::from_utf8_lossy(&out[i..i + nl]).into_owned();
        i += nl + 1;
        let parts: Vec<&str> = header.split(' ').collect();
        if parts.len() == 2 && parts[1] == "missing" {
            return Err(GitError::Failed {
                action: "cat-file".into(),
                url: url.to_string(),
                stderr: format!("object {} is missing and could not be fetched", parts[0]),
            });
        }
        let (Some(oid), Some(size)) = (
            parts.first(),
            parts.get(2).and_then(|s| s.parse::<usize>().ok()),
        ) else {
            break;
        };
        let end = (i + size).min(out.len());
        map.insert(oid.to_string(), out[i..end].to_vec());
        i = end + 1;
    }
    Ok(map)
}

/// A cached bare partial clone.
#[derive(Debug, Clone)]
pub struct Repo {
    pub dir: PathBuf,
    /// The URL fetched from (after rewrites).
    pub url: String,
    /// The remote URL the metadata named, before rewrites: relative submodule URLs resolve
    /// against it, never against a local mirror's path.
    pub origin: String,
}

/// Where clones live: `<cache>/git/<host-path>-<hash>.git`.
pub fn clone_dir(cache_root: &Path, url: &str) -> PathBuf {
    let digest = hex::encode(sha1::Sha1::digest(url.as_bytes()));
    let readable: String = url
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_start_matches("file://")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .take(60)
        .collect();
    cache_root.join("git").join(format!(
        "{}-{}.git",
        readable.trim_matches('_'),
        &digest[..12]
    ))
}

/// Open the cached clone of `url`, cloning it (commits and trees only) when absent. Returns the
/// repo and whether it was cloned just now. Cross-process safe: a lock file guards the clone and
/// the clone is made in a temporary directory and renamed into place, so a killed run never
/// leaves a half-made clone behind.
pub fn open_or_clone(cache_root: &Path, url: &str) -> Result<(Repo, bool), GitError> {
    open_or_clone_as(cache_root, url, url, &[url.to_string()])
}

/// Like [`open_or_clone`] for a repository that may be spelled several ways: the clone is
/// cached under `key`, and `urls` are tried in order until one clones. `origin` is the remote
/// URL the metadata named (before rewrites).
pub fn open_or_clone_as(
    cache_root: &Path,
    key: &str,
    origin: &str,
    urls: &[String],
) -> Result<(Repo, bool), GitError> {
    let dir = clone_dir(cache_root, key);
    let first = urls.first().map(String::as_str).unwrap_or(key);
    let mut repo = Repo {
        dir: dir.clone(),
        url: first.to_string(),
        origin: origin.to_string(),
    };
    if dir.join("HEAD").exists() {
        return Ok((repo, false));
    }
    let parent = dir.parent().expect("clone dir has a parent");
    std::fs::create_dir_all(parent)?;
    let _lock = lock(&dir)?;
    if dir.join("HEAD").exists() {
        return Ok((repo, false));
    }
    // Holding the lock, no other run is cloning here: what a killed run left is stale.
    remove_stale_tmps(&dir);
    let tmp = dir.with_extension(format!("tmp{}", std::process::id()));
    let mut last = None;
    for url in urls {
        let _ = std::fs::remove_dir_all(&tmp);
        match clone_into(url, &tmp) {
            Ok(()) => {
                std::fs::rename(&tmp, &dir)?;
                repo.url = url.clone();
                return Ok((repo, true));
            }
            Err(e) => {
                tracing::debug!("{e}");
                last = Some(e);
            }
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
    Err(last.unwrap_or_else(|| GitError::Failed {
        action: "clone".into(),
        url: key.to_string(),
        stderr: "no URL to clone".into(),
    }))
}

fn clone_into(url: &str, tmp: &Path) -> Result<(), GitError> {
    let mut c = git_command(None);
    c.args([
        "clone",
        "--bare",
        "--quiet",
        "--filter=blob:none",
        "--no-recurse-submodules",
    ]);
    if is_local(url) {
        c.arg(format!("--upload-pack={LOCAL_UPLOAD_PACK}"));
        c.arg("-c")
            .arg(format!("remote.origin.uploadpack={LOCAL_UPLOAD_PACK}"));
    }
    c.arg("--").arg(url).arg(tmp);
    run(c, "clone", url).map(|_| ())
}

/// `<clone>.tmp<PID>` directories beside `dir` (what a clone killed mid-way leaves).
fn remove_stale_tmps(dir: &Path) {
    let (Some(parent), Some(stem)) = (dir.parent(), dir.file_stem()) else {
        return;
    };
    let prefix = format!("{}.tmp", stem.to_string_lossy());
    let Ok(rd) = std::fs::read_dir(parent) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name
            .strip_prefix(&prefix)
            .is_some_and(|pid| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
        {
            tracing::info!(
                "removing {}, left by a clone that was killed",
                e.path().display()
            );
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// Remove what killed runs left in the cache: half-made clones (`<clone>.tmp<PID>`, whose
/// lock nobody holds any more). Called once at the start of a run.
pub fn sweep_stale(cache_root: &Path) {
    use fs4::fs_std::FileExt;
    let Ok(rd) = std::fs::read_dir(cache_root.join("git")) else {
        return;
    };
    let mut clones = std::collections::BTreeSet::new();
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some((stem, pid)) = name.rsplit_once(".tmp") {
            if !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()) {
                clones.insert(cache_root.join("git").join(format!("{stem}.git")));
            }
        }
    }
    for dir in clones {
        let Ok(f) = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.with_extension("lock"))
        else {
            continue;
        };
        // A run cloning this repository right now holds the lock: leave its directory alone.
        if f.try_lock_exclusive().is_ok() {
            remove_stale_tmps(&dir);
            drop(f); // closing the file releases the lock
        }
    }
}

/// A local mirror's upload-pack runs here and reads only the mirror's own config: ask it to
/// serve filters and commits by id as public hosts do, so local mirrors stay partial clones.
const LOCAL_UPLOAD_PACK: &str =
    "git -c uploadpack.allowFilter=true -c uploadpack.allowAnySHA1InWant=true upload-pack";

fn is_local(url: &str) -> bool {
    url.starts_with("file://") || url.starts_with('/') || url.starts_with("./")
}

/// An exclusive advisory lock beside a clone directory, held while it is written.
pub fn lock(dir: &Path) -> Result<std::fs::File, GitError> {
    use fs4::fs_std::FileExt;
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.with_extension("lock"))?;
    f.lock_exclusive()?;
    Ok(f)
}

impl Repo {
    /// A git command on this clone, with the safe environment.
    pub fn cmd(&self) -> Command {
        git_command(Some(&self.dir))
    }

    /// Is the commit here, without asking the remote (no lazy fetch)?
    pub fn has_commit(&self, rev: &str) -> Option<String> {
        let mut c = self.cmd();
        c.env("GIT_NO_LAZY_FETCH", "1")
            .args(["rev-parse", "--verify", "--quiet", "--end-of-options"])
            .arg(format!("{rev}^{{commit}}"));
        let out = c.output().ok()?;
        if !out.status.success() {
            return None;
        }
        Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// Fetch every branch and tag (trees and commits only), pruning deleted refs.
    pub fn fetch_all(&self) -> Result<(), GitError> {
        let _lock = lock(&self.dir)?;
        let mut c = self.cmd();
        c.args([
            "fetch",
            "--quiet",
            "--prune",
            "--prune-tags",
            "--force",
            "--filter=blob:none",
            "--no-recurse-submodules",
            "origin",
            "+refs/heads/*:refs/heads/*",
            "+refs/tags/*:refs/tags/*",
        ]);
        run(c, "fetch", &self.url)?;
        Ok(())
    }

    /// Fetch one commit by id: hosts serve commits that only a pull-request or fork ref reaches.
    pub fn fetch_commit(&self, sha: &str) -> Result<(), GitError> {
        let _lock = lock(&self.dir)?;
        let mut c = self.cmd();
        c.args([
            "fetch",
            "--quiet",
            "--filter=blob:none",
            "--no-recurse-submodules",
            "origin",
            sha,
        ]);
        run(c, "fetch of a commit", &self.url).map(|_| ())
    }

    /// Tags with the commit each points to (annotated tags peeled).
    pub fn tags(&self) -> Result<Vec<(String, String)>, GitError> {
        let mut c = self.cmd();
        c.args([
            "for-each-ref",
            "--format=%(refname:strip=2)%00%(objectname)%00%(*objectname)",
            "refs/tags",
        ]);
        let out = run(c, "for-each-ref", &self.url)?;
        let text = String::from_utf8_lossy(&out.stdout);
        Ok(text
            .lines()
            .filter_map(|l| {
                let mut p = l.split('\0');
                let name = p.next()?.to_string();
                let obj = p.next()?.to_string();
                let peeled = p.next().unwrap_or("");
                Some((
                    name,
                    if peeled.is_empty() {
                        obj
                    } else {
                        peeled.to_string()
                    },
                ))
            })
            .collect())
    }

    /// Commits (newest first), on any branch or tag, that put this blob at a path named
    /// `file_name`. Reads tree entries only (`--raw`): no blob is fetched.
    pub fn commits_adding(&self, oid: &str, file_name: &str) -> Result<Vec<String>, GitError> {
        let mut c = self.cmd();
        c.env("GIT_NO_LAZY_FETCH", "1")
            .args([
                "log",
                "--all",
                "--no-renames",
                "--format=%H",
                "--raw",
                "--no-abbrev",
                "--",
            ])
            .arg(file_name)
            .arg(format!("*/{file_name}"));
        let out = run(c, "log --raw", &self.url)?;
        let text = String::from_utf8_lossy(&out.stdout);
        let mut current = "";
        let mut found = Vec::new();
        for line in text.lines() {
            if line.len() == 40 && line.bytes().all(|b| b.is_ascii_hexdigit()) {
                current = line;
            } else if let Some(raw) = line.strip_prefix(':') {
                // `:old_mode new_mode old_oid new_oid status\tpath`
                let new_oid = raw.split(['\t', ' ']).nth(3);
                if new_oid == Some(oid) && found.last().map(String::as_str) != Some(current) {
                    found.push(current.to_string());
                }
            }
        }
        Ok(found)
    }

    /// Every commit any branch or tag reaches.
    pub fn reachable_commits(&self) -> Result<std::collections::HashSet<String>, GitError> {
        let mut c = self.cmd();
        c.env("GIT_NO_LAZY_FETCH", "1").args(["rev-list", "--all"]);
        let out = run(c, "rev-list --all", &self.url)?;
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect())
    }

    /// The whole tree of a commit: paths of blobs, trees and gitlinks.
    pub fn tree(&self, commit: &str) -> Result<Tree, GitError> {
        let mut c = self.cmd();
        c.args(["ls-tree", "-r", "-t", "-z", "--full-tree", commit]);
        let out = run(c, "ls-tree", &self.url)?;
        let mut tree = Tree::default();
        for rec in out.stdout.split(|b| *b == 0) {
            if rec.is_empty() {
                continue;
            }
            let Some(tab) = rec.iter().position(|b| *b == b'\t') else {
                continue;
            };
            let meta = String::from_utf8_lossy(&rec[..tab]);
            let path = String::from_utf8_lossy(&rec[tab + 1..]).into_owned();
            let mut f = meta.split(' ');
            let (Some(mode), Some(kind), Some(oid)) = (f.next(), f.next(), f.next()) else {
                continue;
            };
            let kind = match kind {
                "blob" => Kind::Blob,
                "tree" => Kind::Tree,
                "commit" => Kind::Commit,
                _ => continue,
            };
            let mode = u32::from_str_radix(mode, 8).unwrap_or(0);
            tree.entries.insert(
                path,
                Entry {
                    mode,
                    kind,
                    oid: oid.to_string(),
                },
            );
        }
        Ok(tree)
    }

    /// Read blobs, fetching the missing ones from the remote in one round trip, then reading
    /// them all through one `cat-file --batch` process.
    pub fn read_blobs(&self, oids: &[String]) -> Result<HashMap<String, Vec<u8>>, GitError> {
        if oids.is_empty() {
            return Ok(HashMap::new());
        }
        let missing = self.missing_objects(oids)?;
        if !missing.is_empty() {
            let _lock = lock(&self.dir)?;
            let mut c = self.cmd();
            c.args([
                "fetch",
                "--quiet",
                "--no-write-fetch-head",
                "--no-recurse-submodules",
                "origin",
            ]);
            c.args(missing.iter().map(|s| s.as_str()));
            // A server that refuses blobs by id in a fetch still serves cat-file's lazy fetch.
            let _ = c.stderr(Stdio::null()).output();
        }
        let mut c = self.cmd();
        c.args(["cat-file", "--batch"]);
        let out = run_with_input(c, &(oids.join("\n") + "\n"), "cat-file --batch", &self.url)?;
        parse_batch(&out, &self.url)
    }

    /// Which of these objects are not in the clone (asks nothing of the remote).
    fn missing_objects(&self, oids: &[String]) -> Result<Vec<String>, GitError> {
        let mut c = self.cmd();
        c.env("GIT_NO_LAZY_FETCH", "1")
            .args(["cat-file", "--batch-check=%(objectname) %(objecttype)"]);
        let out = run_with_input(
            c,
            &(oids.join("\n") + "\n"),
            "cat-file --batch-check",
            &self.url,
        )?;
        Ok(String::from_utf8_lossy(&out)
            .lines()
            .filter(|l| l.ends_with(" missing"))
            .filter_map(|l| l.split(' ').next().map(str::to_string))
            .collect())
    }

    pub fn read_blob(&self, oid: &str) -> Result<Vec<u8>, GitError> {
        let mut m = self.read_blobs(&[oid.to_string()])?;
        Ok(m.remove(oid).unwrap_or_default())
    }
}

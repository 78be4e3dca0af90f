//! The git CLI, for what it does best and safest: cloning and fetching partial clones
//! (`--filter=blob:none`, promisor remotes, lazy fetch of blobs) and the whole-history walks
//! of `git log`. Every invocation gets the same safe environment: no prompts, no user or
//! system config that could run programs, no hooks. Clones and fetches go through
//! [`hosts::run_remote`] (a host's token, its rate limits, a bound per host).

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use super::{hosts, local, lock, GitError, Repo};

/// The environment every git invocation gets: no prompts, no user or system config that could
/// run programs, and no hooks.
pub(super) fn git_command(git_dir: Option<&Path>) -> Command {
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
    // Also for commands that fetch lazily (`cat-file` of a promisor blob).
    hosts::add_tokens(&mut c);
    c
}

pub(super) fn run_ref(c: &mut Command, action: &str, url: &str) -> Result<Output, GitError> {
    crate::log::command(c);
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

pub(super) fn run_with_input(
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
pub(super) fn parse_batch(out: &[u8], url: &str) -> Result<HashMap<String, Vec<u8>>, GitError> {
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

/// Clone `url` into `tmp` (bare, commits and trees at least): a repository on this machine by
/// hard links ([`local`]), anything else (or what linking cannot reproduce) through git's
/// transport as a partial clone.
pub(super) fn clone_into(url: &str, tmp: &Path) -> Result<(), GitError> {
    if let Some(src) = local::git_dir(url) {
        match local::clone_by_links(&src, url, tmp) {
            Ok(()) => return Ok(()),
            Err(why) => {
                tracing::info!("{url} is cloned through git's transport, not linked: {why}");
                let _ = std::fs::remove_dir_all(tmp);
            }
        }
    }
    clone_by_transport(url, tmp)
}

/// `git clone --bare --filter=blob:none`: what a remote gives, and the way for a local
/// repository that [`local`] does not link.
pub(super) fn clone_by_transport(url: &str, tmp: &Path) -> Result<(), GitError> {
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
    hosts::run_remote(&mut c, "clone", url, || {
        let _ = std::fs::remove_dir_all(tmp);
    })
    .map(|_| ())
}

/// `<clone>.tmp<PID>` directories beside `dir` (what a clone killed mid-way leaves).
pub(super) fn remove_stale_tmps(dir: &Path) {
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

/// A local mirror's upload-pack runs here and reads only the mirror's own config: ask it to
/// serve filters and commits by id as public hosts do, so local mirrors stay partial clones.
pub(super) const LOCAL_UPLOAD_PACK: &str =
    "git -c uploadpack.allowFilter=true -c uploadpack.allowAnySHA1InWant=true upload-pack";

fn is_local(url: &str) -> bool {
    url.starts_with("file://") || url.starts_with('/') || url.starts_with("./")
}

impl Repo {
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
        hosts::run_remote(&mut c, "fetch", &self.url, || {})?;
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
        hosts::run_remote(&mut c, "fetch of a commit", &self.url, || {}).map(|_| ())
    }

    /// Fetch objects by id from the remote in one round trip (blobs a partial clone lacks).
    /// A server that refuses blobs by id in a fetch still serves `cat-file`'s lazy fetch, so
    /// a failure here is not an error.
    pub(super) fn fetch_objects(&self, oids: &[String]) -> Result<(), GitError> {
        let _lock = super::lock(&self.dir)?;
        let mut c = self.cmd();
        c.args([
            "fetch",
            "--quiet",
            "--no-write-fetch-head",
            "--no-recurse-submodules",
            "origin",
        ]);
        c.args(oids.iter().map(|s| s.as_str()));
        crate::log::command(&c);
        let _ = c.stderr(Stdio::null()).output();
        Ok(())
    }

    /// Read objects through `git cat-file --batch`, which fetches what a promisor remote has
    /// and the clone lacks; one it cannot fetch is an error.
    pub(super) fn cat_file_batch(
        &self,
        oids: &[String],
    ) -> Result<HashMap<String, Vec<u8>>, GitError> {
        let mut c = self.cmd();
        c.args(["cat-file", "--batch"]);
        let out = run_with_input(c, &(oids.join("\n") + "\n"), "cat-file --batch", &self.url)?;
        parse_batch(&out, &self.url)
    }
}

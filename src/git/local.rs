//! A clone of a repository on this machine (a `--git-rewrite` mirror: a path or `file://`
//! URL), made without git's transport: the mirror's packs and loose objects are hard-linked
//! into the new bare clone, and its branches, tags and `HEAD` written as `clone --bare` maps
//! them. No byte is copied and no process started, where a transport clone of a local mirror
//! starts five (`git clone`, `sh -c` for the upload-pack command, `upload-pack`,
//! `pack-objects`, `index-pack`) and writes a new pack of every commit and tree.
//!
//! The clone is configured exactly as the transport's partial clone is (`origin` a promisor
//! remote with `blob:none`, the local upload-pack command), and its linked packs are marked as
//! promisor packs as the fetched one would be, so later fetches (`fetch_all`, a commit by id)
//! and lazy blob fetches behave as before. Unlike the partial clone it holds every blob the
//! mirror holds, and whatever else the mirror's packs hold (commits only a pull-request ref or
//! no ref reaches): the transport fetches those by id on demand from a local mirror anyway
//! (`allowAnySHA1InWant`), so no answer changes, only which of them costs a fetch.
//!
//! What is read of the mirror: `HEAD`, `packed-refs`, the loose refs under `refs/heads` and
//! `refs/tags`, and the object files. Never its config, hooks or alternates, and nothing that
//! is a symlink. Whatever this cannot reproduce exactly falls back to the transport clone
//! (`Err` says why): another filesystem (or a file the link is refused for), alternates, a
//! shallow, reftable or SHA-256 repository, a symbolic ref among the branches, a mirror
//! repacked while it was linked, a ref whose object did not come along.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::cli::LOCAL_UPLOAD_PACK;

/// The git directory of the repository `url` names on this machine, when it is one this module
/// can clone: a bare repository, or a work tree's `.git` directory (tried first, as git does).
pub(super) fn git_dir(url: &str) -> Option<PathBuf> {
    let path = if let Some(rest) = url.strip_prefix("file://") {
        // `file://host/...` and percent-escapes are left to git's own reading of the URL.
        if !rest.starts_with('/') || rest.contains('%') {
            return None;
        }
        PathBuf::from(rest)
    } else if url.starts_with('/') || url.starts_with("./") {
        PathBuf::from(url)
    } else {
        return None;
    };
    [path.join(".git"), path]
        .into_iter()
        .find(|d| is_dir(&d.join("objects")) && is_dir(&d.join("refs")) && is_file(&d.join("HEAD")))
}

fn is_dir(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok_and(|m| m.is_dir())
}

fn is_file(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok_and(|m| m.is_file())
}

fn exists(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok()
}

fn is_oid(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Make a bare clone of the repository at `src` (from [`git_dir`]) in `tmp`, which must not
/// exist; `url` becomes `origin`. On `Err` the caller removes `tmp` and clones through the
/// transport.
pub(super) fn clone_by_links(src: &Path, url: &str, tmp: &Path) -> Result<(), String> {
    for (name, why) in [
        ("objects/info/alternates", "it borrows objects (alternates)"),
        ("shallow", "it is shallow"),
        ("reftable", "its refs are a reftable"),
        ("commondir", "it is a linked work tree"),
    ] {
        if exists(&src.join(name)) {
            return Err(why.into());
        }
    }
    if url.contains(['\n', '\r', '\0']) {
        return Err("its URL cannot be written to a config file".into());
    }
    // Refs first: git writes objects before the refs naming them, so every object these refs
    // reach is in the object files listed after (or in a pack made since: checked below).
    let head = head(src)?;
    let refs = refs(src)?;

    std::fs::create_dir_all(tmp.join("objects/info")).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(tmp.join("refs/heads")).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(tmp.join("refs/tags")).map_err(|e| e.to_string())?;
    let linked = link_packs(src, tmp)?;
    link_loose(src, tmp)?;
    if packs(&src.join("objects/pack"))? != linked {
        return Err("it was repacked while it was linked".into());
    }

    let mut packed = String::from("# pack-refs with: sorted \n");
    for (name, oid) in &refs {
        packed.push_str(&format!("{oid} {name}\n"));
    }
    write(&tmp.join("packed-refs"), &packed)?;
    write(&tmp.join("HEAD"), &format!("{head}\n"))?;
    write(&tmp.join("config"), &config(url))?;

    // The refs' objects are here (not in a pack made after the listing, not in an object
    // directory this clone does not borrow): otherwise the transport is the way.
    let repo = gix::open_opts(tmp, gix::open::Options::isolated().open_path_as_is(true))
        .map_err(|e| format!("the linked clone does not open: {e}"))?;
    let detached = is_oid(&head).then(|| ("HEAD".to_string(), head.clone()));
    for (name, oid) in refs.iter().chain(detached.iter().map(|(n, o)| (n, o))) {
        let id = gix::ObjectId::from_hex(oid.as_bytes()).map_err(|e| e.to_string())?;
        if !repo.has_object(id) {
            return Err(format!(
                "{name} names {oid}, which is not in its object files"
            ));
        }
    }
    tracing::info!(
        "cloned {url} by hard-linking {} pack(s) of {}",
        linked.len(),
        src.display()
    );
    Ok(())
}

/// `HEAD` as `clone --bare` writes it: the same branch, or the same detached commit.
fn head(src: &Path) -> Result<String, String> {
    let p = src.join("HEAD");
    if !is_file(&p) {
        return Err("its HEAD is not a file".into());
    }
    let text = std::fs::read_to_string(&p).map_err(|e| format!("its HEAD: {e}"))?;
    let text = text.trim_end();
    match text.strip_prefix("ref: ") {
        Some(target) if target.starts_with("refs/heads/") && valid(target) => Ok(text.into()),
        None if is_oid(text) => Ok(text.to_ascii_lowercase()),
        _ => Err(format!("its HEAD is `{text}`")),
    }
}

fn valid(name: &str) -> bool {
    gix::validate::reference::name(name.into()).is_ok()
}

/// Branches and tags (`refs/heads/*`, `refs/tags/*`, what `clone --bare` fetches) with the
/// object each names, sorted by name: packed refs, then the loose refs over them.
fn refs(src: &Path) -> Result<BTreeMap<String, String>, String> {
    let mut refs = BTreeMap::new();
    let packed = src.join("packed-refs");
    if exists(&packed) {
        if !is_file(&packed) {
            return Err("its packed-refs is not a file".into());
        }
        let text = std::fs::read_to_string(&packed).map_err(|e| format!("packed-refs: {e}"))?;
        for line in text.lines() {
            if line.starts_with('#') || line.starts_with('^') || line.is_empty() {
                continue;
            }
            let Some((oid, name)) = line.split_once(' ') else {
                return Err(format!("packed-refs has the line `{line}`"));
            };
            if !is_oid(oid) {
                return Err(format!("packed-refs names `{oid}`"));
            }
            if (name.starts_with("refs/heads/") || name.starts_with("refs/tags/")) && valid(name) {
                refs.insert(name.to_string(), oid.to_ascii_lowercase());
            }
        }
    }
    for top in ["refs/heads", "refs/tags"] {
        loose_refs(src, top, &mut refs)?;
    }
    Ok(refs)
}

fn loose_refs(src: &Path, rel: &str, refs: &mut BTreeMap<String, String>) -> Result<(), String> {
    let dir = src.join(rel);
    if !exists(&dir) {
        return Ok(());
    }
    if !is_dir(&dir) {
        return Err(format!("its {rel} is not a directory"));
    }
    for e in std::fs::read_dir(&dir).map_err(|e| format!("{rel}: {e}"))? {
        let e = e.map_err(|e| format!("{rel}: {e}"))?;
        let Ok(file) = e.file_name().into_string() else {
            continue; // not a ref name git would read either
        };
        let name = format!("{rel}/{file}");
        let kind = e.file_type().map_err(|e| format!("{name}: {e}"))?;
        if kind.is_dir() {
            loose_refs(src, &name, refs)?;
        } else if kind.is_file() && valid(&name) {
            let text = std::fs::read_to_string(e.path()).map_err(|e| format!("{name}: {e}"))?;
            let oid = text.trim_end();
            if !is_oid(oid) {
                return Err(format!("{name} is `{oid}`, not an object id"));
            }
            refs.insert(name, oid.to_ascii_lowercase());
        } else if kind.is_symlink() {
            return Err(format!("{name} is a symlink"));
        }
        // Anything else (a `.lock` of an update in progress) is no ref: the old value stands.
    }
    Ok(())
}

/// The complete packs (`.pack` with its `.idx`) in a pack directory, by stem.
fn packs(dir: &Path) -> Result<BTreeSet<String>, String> {
    let mut out = BTreeSet::new();
    if !exists(dir) {
        return Ok(out);
    }
    if !is_dir(dir) {
        return Err("its objects/pack is not a directory".into());
    }
    for e in std::fs::read_dir(dir).map_err(|e| format!("objects/pack: {e}"))? {
        let e = e.map_err(|e| format!("objects/pack: {e}"))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(stem) = name.strip_suffix(".idx") {
            if stem.starts_with("pack-") && is_file(&dir.join(format!("{stem}.pack"))) {
                out.insert(stem.to_string());
            }
        }
    }
    Ok(out)
}

/// Hard-link `from` to `to`; a symlink (or anything but a file) is refused, before and after.
fn link(from: &Path, to: &Path) -> Result<(), String> {
    if !is_file(from) {
        return Err(format!("{} is not a plain file", from.display()));
    }
    std::fs::hard_link(from, to).map_err(|e| format!("linking {}: {e}", from.display()))?;
    if !is_file(to) {
        return Err(format!(
            "{} was not a plain file when linked",
            from.display()
        ));
    }
    Ok(())
}

/// Link every complete pack (and its reverse index), each marked as a promisor pack as a
/// fetched one is. Returns the stems linked.
fn link_packs(src: &Path, tmp: &Path) -> Result<BTreeSet<String>, String> {
    let from = src.join("objects/pack");
    let to = tmp.join("objects/pack");
    std::fs::create_dir_all(&to).map_err(|e| e.to_string())?;
    let stems = packs(&from)?;
    for stem in &stems {
        // The index last: git and gix find a pack by its index.
        for ext in ["pack", "rev", "idx"] {
            let f = from.join(format!("{stem}.{ext}"));
            if ext == "rev" && !exists(&f) {
                continue;
            }
            link(&f, &to.join(format!("{stem}.{ext}")))?;
        }
        write(&to.join(format!("{stem}.promisor")), "")?;
    }
    Ok(stems)
}

/// Link the loose objects (`objects/xx/<38 hex>`).
fn link_loose(src: &Path, tmp: &Path) -> Result<(), String> {
    let objects = src.join("objects");
    for e in std::fs::read_dir(&objects).map_err(|e| format!("objects: {e}"))? {
        let e = e.map_err(|e| format!("objects: {e}"))?;
        let fan = e.file_name().to_string_lossy().into_owned();
        if fan.len() != 2 || !fan.bytes().all(|b| b.is_ascii_hexdigit()) {
            continue;
        }
        if !is_dir(&e.path()) {
            return Err(format!("objects/{fan} is not a directory"));
        }
        let to = tmp.join("objects").join(&fan);
        std::fs::create_dir_all(&to).map_err(|e| e.to_string())?;
        for o in std::fs::read_dir(e.path()).map_err(|e| format!("objects/{fan}: {e}"))? {
            let o = o.map_err(|e| format!("objects/{fan}: {e}"))?;
            let name = o.file_name().to_string_lossy().into_owned();
            // Not `tmp_obj_*` files of a write in progress.
            if name.len() == 38 && name.bytes().all(|b| b.is_ascii_hexdigit()) {
                link(&o.path(), &to.join(&name))?;
            }
        }
    }
    Ok(())
}

fn write(p: &Path, text: &str) -> Result<(), String> {
    std::fs::write(p, text).map_err(|e| format!("writing {}: {e}", p.display()))
}

/// What the transport's `clone --bare --filter=blob:none -c remote.origin.uploadpack=...`
/// writes.
fn config(url: &str) -> String {
    format!(
        "[core]\n\trepositoryformatversion = 1\n\tfilemode = true\n\tbare = true\n\
         [remote \"origin\"]\n\tuploadpack = {}\n\turl = {}\n\tpromisor = true\n\
         \tpartialclonefilter = blob:none\n",
        quoted(LOCAL_UPLOAD_PACK),
        quoted(url)
    )
}

/// A git config value in double quotes (so `#`, `;` and spaces stay part of it).
fn quoted(v: &str) -> String {
    format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_and_file_urls_on_this_machine_are_local() {
        let d = tempfile::tempdir().unwrap();
        let bare = d.path().join("m.git");
        std::fs::create_dir_all(bare.join("objects")).unwrap();
        std::fs::create_dir_all(bare.join("refs")).unwrap();
        std::fs::write(bare.join("HEAD"), "ref: refs/heads/main\n").unwrap();
        let p = bare.display().to_string();
        assert_eq!(git_dir(&p), Some(bare.clone()));
        assert_eq!(git_dir(&format!("file://{p}")), Some(bare.clone()));
        assert_eq!(git_dir(&format!("file://localhost{p}")), None);
        assert_eq!(git_dir(&format!("file://{p}%20")), None);
        assert_eq!(git_dir("https://github.com/o/r"), None);
        assert_eq!(
            git_dir(&d.path().join("absent").display().to_string()),
            None
        );
        // A work tree's `.git` comes first, as git reads it.
        std::fs::create_dir_all(d.path().join("w")).unwrap();
        std::fs::rename(&bare, d.path().join("w/.git")).unwrap();
        let w = d.path().join("w").display().to_string();
        assert_eq!(git_dir(&w), Some(d.path().join("w/.git")));
    }

    #[test]
    fn config_values_keep_what_git_would_read_as_comments() {
        assert_eq!(quoted("file:///a b#c;d\"\\"), "\"file:///a b#c;d\\\"\\\\\"");
    }
}

//! Materialising the source for a rebuild: the tree at the located commit written into a
//! throwaway directory as a git work tree, fetching only that tree's blobs.

use std::path::Path;

use crate::git::{Kind, Repo, Tree};

/// Write the tree at `commit` into `dest` as a git work tree whose HEAD is that commit and
/// whose index matches the files, so packagers that ask git (cargo, `git ls-files` in
/// gemspecs, setuptools-scm) see a clean checkout. Only this tree's blobs are fetched; the
/// objects stay in the shared clone (`objects/info/alternates`). Paths are checked (no `..`,
/// no `.git`), and symlinks are written last so that no file is written through one.
pub fn materialise(
    repo: &Repo,
    tree: &Tree,
    commit: &str,
    dest: &Path,
    home: &Path,
) -> Result<(), String> {
    std::fs::create_dir_all(dest).map_err(|e| format!("{}: {e}", dest.display()))?;
    std::fs::create_dir_all(home).map_err(|e| format!("{}: {e}", home.display()))?;
    let mut entries: Vec<(&String, &crate::git::Entry)> = tree.entries.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    let safe = |p: &str| {
        !p.starts_with('/')
            && p.split('/')
                .all(|c| !c.is_empty() && c != "." && c != ".." && !c.eq_ignore_ascii_case(".git"))
    };
    if let Some((p, _)) = entries.iter().find(|(p, _)| !safe(p)) {
        return Err(format!("the tree has the unsafe path `{p}`"));
    }
    let blobs: Vec<String> = entries
        .iter()
        .filter(|(_, e)| e.kind == Kind::Blob)
        .map(|(_, e)| e.oid.clone())
        .collect();
    let mut links = Vec::new();
    for chunk in blobs.chunks(2000) {
        let data = repo.read_blobs(chunk).map_err(|e| e.to_string())?;
        for (path, e) in &entries {
            if e.kind != Kind::Blob || !chunk.contains(&e.oid) {
                continue;
            }
            let Some(bytes) = data.get(&e.oid) else {
                return Err(format!("blob {} of `{path}` could not be read", e.oid));
            };
            if e.is_symlink() {
                links.push((dest.join(path), String::from_utf8_lossy(bytes).into_owned()));
                continue;
            }
            let file = dest.join(path);
            if let Some(parent) = file.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| format!("{}: {e}", parent.display()))?;
            }
            std::fs::write(&file, bytes).map_err(|e| format!("{}: {e}", file.display()))?;
            if e.mode == 0o100755 {
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755));
            }
        }
    }
    for (path, e) in &entries {
        if matches!(e.kind, Kind::Tree | Kind::Commit) {
            let _ = std::fs::create_dir_all(dest.join(path));
        }
    }
    for (file, target) in links {
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        std::os::unix::fs::symlink(&target, &file)
            .map_err(|e| format!("{}: {e}", file.display()))?;
    }
    let git = |args: &[&str]| -> Result<(), String> {
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(dest)
            .args([
                "-c",
                "core.hooksPath=/dev/null",
                "-c",
                "core.fsmonitor=false",
            ])
            .args(args)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", home)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_NO_LAZY_FETCH", "1")
            .output()
            .map_err(|e| format!("could not run git: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "git {} in {}: {}",
                args.join(" "),
                dest.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    };
    git(&["init", "--quiet"])?;
    let objects = repo.dir.join("objects");
    let objects = std::fs::canonicalize(&objects).unwrap_or(objects);
    std::fs::write(
        dest.join(".git/objects/info/alternates"),
        format!("{}\n", objects.display()),
    )
    .map_err(|e| format!("alternates: {e}"))?;
    git(&["read-tree", commit])?;
    std::fs::write(dest.join(".git/HEAD"), format!("{commit}\n")).map_err(|e| e.to_string())?;
    // The index has no stat data yet: refresh it so the tree reads as clean.
    let _ = git(&["update-index", "-q", "--refresh"]);
    Ok(())
}

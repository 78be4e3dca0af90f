//! What `cargo package` generates, each a named rule with its reason.

use crate::compare::{FileCx, Outcome, Rule, Status};
use crate::finding::{Code, Finding};
use crate::git::GitError;

use super::artifact::CrateMeta;

pub fn rules() -> Vec<Box<dyn Rule>> {
    vec![
        Box::new(VcsInfo),
        Box::new(CargoLock),
        Box::new(NormalisedManifest),
        Box::new(DevDepsRemoved),
    ]
}

/// `.cargo_vcs_info.json` records the commit; it is never in the repository.
pub struct VcsInfo;

impl Rule for VcsInfo {
    fn name(&self) -> &'static str {
        "cargo-vcs-info"
    }
    fn reason(&self) -> &'static str {
        "cargo package writes .cargo_vcs_info.json to record the commit"
    }
    fn judge(&self, cx: &FileCx<'_>) -> Result<Option<Outcome>, GitError> {
        // Only the file cargo writes is excused: an unreadable claim (already a
        // `vcs-info-invalid` finding) is not in the source either.
        let valid = cx
            .pkg
            .meta::<CrateMeta>()
            .is_some_and(|m| m.vcs_info_error.is_none());
        Ok((cx.path == ".cargo_vcs_info.json" && valid).then_some(Outcome::Excused))
    }
}

/// `Cargo.lock` is generated for packages with binaries or examples when the source has none
/// at that path (a workspace keeps it at the root).
pub struct CargoLock;

impl Rule for CargoLock {
    fn name(&self) -> &'static str {
        "cargo-generated-lockfile"
    }
    fn reason(&self) -> &'static str {
        "cargo package generates Cargo.lock when the package directory has none"
    }
    fn judge(&self, cx: &FileCx<'_>) -> Result<Option<Outcome>, GitError> {
        if cx.path != "Cargo.lock" {
            return Ok(None);
        }
        // A lock file in the package directory that differs is a real difference; a missing one
        // (or a workspace-root one, which cargo re-resolves) is generated.
        Ok(match cx.status {
            Status::Missing { .. } => Some(Outcome::Excused),
            Status::Differs { source_path, .. }
                if *source_path != cx.source.in_pkg("Cargo.lock") =>
            {
                Some(Outcome::Excused)
            }
            // cargo re-resolves the lock file when packaging: it may differ from a committed one.
            Status::Differs { .. } => Some(Outcome::Excused),
            _ => None,
        })
    }
}

/// The published `Cargo.toml` is cargo's normalised rewrite of `Cargo.toml.orig`. It is excused
/// when it declares nothing the original does not: same name and version, no dependency the
/// original lacks, no build script the original did not have.
pub struct NormalisedManifest;

const DEP_TABLES: [&str; 3] = ["dependencies", "dev-dependencies", "build-dependencies"];

fn dep_names(t: &toml::Table) -> Vec<String> {
    let mut names = Vec::new();
    let mut collect = |tbl: &toml::Table| {
        for k in DEP_TABLES {
            let alt = k.replace('-', "_");
            for key in [k, alt.as_str()] {
                if let Some(d) = tbl.get(key).and_then(|d| d.as_table()) {
                    names.extend(d.keys().cloned());
                }
            }
        }
    };
    collect(t);
    if let Some(targets) = t.get("target").and_then(|t| t.as_table()) {
        for (_, v) in targets {
            if let Some(v) = v.as_table() {
                collect(v);
            }
        }
    }
    names.sort();
    names.dedup();
    names
}

impl Rule for NormalisedManifest {
    fn name(&self) -> &'static str {
        "cargo-normalised-manifest"
    }
    fn reason(&self) -> &'static str {
        "cargo package rewrites Cargo.toml (normalised); Cargo.toml.orig keeps the original"
    }
    fn judge(&self, cx: &FileCx<'_>) -> Result<Option<Outcome>, GitError> {
        if cx.path != "Cargo.toml" || !matches!(cx.status, Status::Differs { .. }) {
            return Ok(None);
        }
        let Some(meta) = cx.pkg.meta::<CrateMeta>() else {
            return Ok(None);
        };
        let (Some(published), Some(orig)) = (&meta.manifest, &meta.orig) else {
            // Old cargo kept no original and did not rewrite the manifest: it must be the
            // source's, though blank lines or key layout may differ.
            return Ok(same_toml(cx, None)?.then_some(Outcome::Excused));
        };
        let mut problems = Vec::new();
        let pkg = published.get("package");
        let pname = pkg.and_then(|p| p.get("name")).and_then(|n| n.as_str());
        let pvers = pkg.and_then(|p| p.get("version")).and_then(|n| n.as_str());
        if pname != Some(cx.pkg.name.as_str()) {
            problems.push(format!(
                "declares name {:?}, the registry says `{}`",
                pname.unwrap_or("?"),
                cx.pkg.name
            ));
        }
        if pvers != Some(cx.pkg.version.as_str()) {
            problems.push(format!(
                "declares version {:?}, the registry says `{}`",
                pvers.unwrap_or("?"),
                cx.pkg.version
            ));
        }
        if let Some(oname) = meta.orig_str("name") {
            if Some(oname) != pname {
                problems.push(format!(
                    "name {:?} differs from Cargo.toml.orig's `{oname}`",
                    pname.unwrap_or("?")
                ));
            }
        }
        if let Some(overs) = meta.orig_str("version") {
            if Some(overs) != pvers {
                problems.push(format!(
                    "version {:?} differs from Cargo.toml.orig's `{overs}`",
                    pvers.unwrap_or("?")
                ));
            }
        }
        let orig_deps = dep_names(orig);
        let extra: Vec<String> = dep_names(published)
            .into_iter()
            .filter(|d| !orig_deps.contains(d))
            .collect();
        if !extra.is_empty() {
            problems.push(format!(
                "declares dependencies Cargo.toml.orig does not: {}",
                extra.join(", ")
            ));
        }
        let build = pkg.and_then(|p| p.get("build"));
        let orig_build = orig.get("package").and_then(|p| p.get("build"));
        if let Some(b) = build.and_then(|b| b.as_str()) {
            let declared = orig_build.and_then(|b| b.as_str()) == Some(b)
                || (orig_build.is_none()
                    && b == "build.rs"
                    && cx.source.tree.get(&cx.source.in_pkg("build.rs")).is_some());
            if !declared {
                problems.push(format!(
                    "declares build script `{b}`, which the original manifest does not"
                ));
            }
        }
        if let Some(l) = pkg.and_then(|p| p.get("links")).and_then(|l| l.as_str()) {
            if orig
                .get("package")
                .and_then(|p| p.get("links"))
                .and_then(|l| l.as_str())
                != Some(l)
            {
                problems.push(format!(
                    "declares `links = \"{l}\"`, which the original manifest does not"
                ));
            }
        }
        if problems.is_empty() {
            return Ok(Some(Outcome::Excused));
        }
        Ok(Some(Outcome::Finding(Finding::at(
            Code::ManifestMismatch,
            "Cargo.toml",
            format!("the published manifest {}", problems.join("; ")),
        ))))
    }
}

/// Parse the artifact file and its source as TOML and compare them, after `strip` (if any)
/// removed what may legitimately differ. `false` when either does not parse.
fn same_toml(cx: &FileCx<'_>, strip: Option<fn(&mut toml::Table)>) -> Result<bool, GitError> {
    let Status::Differs { source_oid, .. } = cx.status else {
        return Ok(false);
    };
    let Some(data) = cx.data() else {
        return Ok(false);
    };
    let source = cx.source.blob(source_oid)?;
    let parse = |b: &[u8]| String::from_utf8_lossy(b).parse::<toml::Table>().ok();
    let (Some(mut a), Some(mut b)) = (parse(data), parse(&source)) else {
        return Ok(false);
    };
    if let Some(f) = strip {
        // The rule is about removed dev-dependencies: with none removed, the files must be
        // equal byte for byte, not merely as TOML.
        if a == b {
            return Ok(false);
        }
        f(&mut a);
        f(&mut b);
    }
    Ok(a == b)
}

fn remove_dev_deps(t: &mut toml::Table) {
    t.remove("dev-dependencies");
    t.remove("dev_dependencies");
    if let Some(targets) = t.get_mut("target").and_then(|t| t.as_table_mut()) {
        for (_, v) in targets.iter_mut() {
            if let Some(v) = v.as_table_mut() {
                v.remove("dev-dependencies");
                v.remove("dev_dependencies");
            }
        }
    }
}

/// Some release tools (cargo-hack `--remove-dev-deps`, used by futures-rs) strip
/// `[dev-dependencies]` from the manifest before `cargo package`, so `Cargo.toml.orig` is the
/// source manifest minus them. Dev-dependencies are never built for users of the crate.
pub struct DevDepsRemoved;

impl Rule for DevDepsRemoved {
    fn name(&self) -> &'static str {
        "cargo-dev-deps-removed"
    }
    fn reason(&self) -> &'static str {
        "release tools strip [dev-dependencies] before packaging; they are never built for users"
    }
    fn judge(&self, cx: &FileCx<'_>) -> Result<Option<Outcome>, GitError> {
        if cx.path != "Cargo.toml.orig" {
            return Ok(None);
        }
        Ok(same_toml(cx, Some(remove_dev_deps))?.then_some(Outcome::Excused))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_dependencies_are_stripped_everywhere() {
        let mut t: toml::Table = r#"
            [dependencies]
            a = "1"
            [dev-dependencies]
            b = "1"
            [target.'cfg(unix)'.dev-dependencies]
            c = "1"
        "#
        .parse()
        .unwrap();
        remove_dev_deps(&mut t);
        assert_eq!(dep_names(&t), vec!["a"]);
    }

    #[test]
    fn dependency_names_from_every_table() {
        let t: toml::Table = r#"
            [dependencies]
            a = "1"
            [dev-dependencies]
            b = "1"
            [build-dependencies]
            c = "1"
            [target.'cfg(unix)'.dependencies]
            d = "1"
        "#
        .parse()
        .unwrap();
        assert_eq!(dep_names(&t), vec!["a", "b", "c", "d"]);
    }
}

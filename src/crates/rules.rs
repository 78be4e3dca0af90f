//! What `cargo package` generates, each a named rule with its reason.

use std::collections::BTreeSet;

use crate::compare::{FileCx, Outcome, Rule, Status};
use crate::ecosystem::{Package, Resolved};
use crate::finding::{Code, Finding};
use crate::git::GitError;
use crate::source::Lookup;

use super::artifact::CrateMeta;
use super::index_deps::{self, IndexEntry};
use super::manifest::{self, Side};
use super::source;

pub fn rules() -> Vec<Box<dyn Rule>> {
    vec![
        Box::new(VcsInfo),
        Box::new(CargoLock),
        Box::new(NormalisedManifest),
        Box::new(DevDepsRemoved),
        Box::new(RootOnlySections),
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
/// when it declares what cargo would have written from the original: the same name and
/// version, and everything cargo acts on (`manifest::compare`: dependencies, targets, build
/// scripts, `links`, features) the same.
pub struct NormalisedManifest;

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
        let pkg = manifest::package_table(published);
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
        let files: BTreeSet<String> = cx.files().map.keys().cloned().collect();
        let ws_manifest = source::workspace_manifest(cx.source);
        let ws_table = ws_manifest
            .as_ref()
            .and_then(|m| m.get("workspace"))
            .and_then(|w| w.as_table());
        let ws = ws_table.map(|w| manifest::Workspace {
            dependencies: w.get("dependencies").and_then(|d| d.as_table()),
            package: w.get("package").and_then(|d| d.as_table()),
        });
        let pub_edition = pkg
            .and_then(|p| p.get("edition"))
            .and_then(|e| e.as_str())
            .unwrap_or("2015");
        // cargo discovered the original's targets in the source directory and kept those in
        // the package; the published manifest's are found among the package's files.
        let mut in_source = BTreeSet::new();
        for f in &files {
            let at = cx.source.in_pkg(f);
            let found = cx.source.tree.get(&at).is_some()
                || (f.ends_with(".rs")
                    && matches!(
                        cx.source.lookup(&at)?,
                        Lookup::Found { .. } | Lookup::InSubmodule { .. }
                    ));
            if found {
                in_source.insert(f.clone());
            }
        }
        let orig_model =
            manifest::model(orig, Side::Original(ws.as_ref()), &in_source, pub_edition);
        let pub_model = manifest::model(published, Side::Published, &files, pub_edition);
        problems.extend(manifest::compare(&orig_model, &pub_model));
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

/// The index line's `deps`, `features` and `links` against the published `Cargo.toml`
/// (`index_deps::compare`); a disagreement is a `manifest-mismatch` on the index.
pub fn index_line_agrees(resolved: &Resolved, pkg: &Package) -> Option<Finding> {
    let ix = resolved.extra.get("index")?;
    // A registry that lists no `deps` (not cargo's protocol) gives nothing to compare.
    let deps = ix.get("deps").filter(|d| !d.is_null())?;
    let published = pkg.meta::<CrateMeta>()?.manifest.as_ref()?;
    let entry = IndexEntry {
        deps,
        features: ix.get("features").filter(|f| !f.is_null()),
        features2: ix.get("features2").filter(|f| !f.is_null()),
        links: ix.get("links").filter(|f| !f.is_null()),
        registry: ix.get("registry").and_then(|r| r.as_str()),
        pubtime: ix.get("pubtime").and_then(|t| t.as_str()),
    };
    let problems = index_deps::compare(&entry, published);
    (!problems.is_empty()).then(|| {
        Finding::at(
            Code::ManifestMismatch,
            "Cargo.toml",
            format!(
                "the index line for {}@{} {}",
                pkg.name,
                pkg.version,
                problems.join("; ")
            ),
        )
    })
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

/// What only the workspace being built or published acts on: `[patch]` and `[replace]` (cargo
/// reads them from the root manifest alone, never a dependency's), `[profile]` (likewise) and
/// `package.publish` (a guard for `cargo publish`).
fn remove_root_only(t: &mut toml::Table) {
    for k in ["patch", "replace", "profile"] {
        t.remove(k);
    }
    if let Some(p) = t.get_mut("package").and_then(|p| p.as_table_mut()) {
        p.remove("publish");
    }
}

/// Publishers edited `[patch]` out of the manifest (a path patch does not package) or dropped
/// `publish = false` before `cargo publish`, without committing: `Cargo.toml.orig` is then the
/// source manifest but for sections no user of the crate is affected by.
pub struct RootOnlySections;

impl Rule for RootOnlySections {
    fn name(&self) -> &'static str {
        "cargo-root-only-sections"
    }
    fn reason(&self) -> &'static str {
        "[patch], [replace], [profile] and package.publish act only where cargo is run, never for users of the crate"
    }
    fn judge(&self, cx: &FileCx<'_>) -> Result<Option<Outcome>, GitError> {
        if cx.path != "Cargo.toml.orig" {
            return Ok(None);
        }
        Ok(same_toml(cx, Some(remove_root_only))?.then_some(Outcome::Excused))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_only_sections_are_stripped_and_nothing_else() {
        let mut t: toml::Table = r#"
            [package]
            name = "a"
            version = "1.0.0"
            publish = false
            [dependencies]
            b = "1"
            [patch.crates-io]
            b = { path = "b" }
            [replace]
            "c:1.0.0" = { path = "c" }
            [profile.release]
            lto = true
        "#
        .parse()
        .unwrap();
        remove_root_only(&mut t);
        let expected: toml::Table =
            "[package]\nname = \"a\"\nversion = \"1.0.0\"\n[dependencies]\nb = \"1\"\n"
                .parse()
                .unwrap();
        assert_eq!(t, expected);
    }

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
        let names: Vec<String> = manifest::dependencies(&t, Side::Published)
            .into_keys()
            .map(|k| k.name)
            .collect();
        assert_eq!(names, vec!["a"]);
    }
}

//! The published `Cargo.toml` against what cargo writes from `Cargo.toml.orig`, the index
//! line against the published `Cargo.toml`, and cargo's rule for a `readme`/`license-file`
//! outside the package. Every crate is packaged by the real `cargo package` from a real git
//! repository; tampered ones are edited after packaging.

mod common;

use common::crates::cargo_package_with;
use common::*;

fn assert_exit(out: &Output, code: i32) {
    assert_eq!(out.code, code, "unexpected exit code\n{}", out.dump());
}

/// The one red flag of `r` is a `manifest-mismatch` whose message contains every `needle`.
fn assert_manifest_mismatch(r: &PackageResult, needles: &[&str]) {
    let flags = r.red_flags();
    assert_eq!(flags.len(), 1, "expected one red flag:\n{:#}", r.json);
    let f = &flags[0];
    assert_eq!(f.code, "manifest-mismatch", "{:#}", r.json);
    assert_eq!(f.path.as_deref(), Some("Cargo.toml"), "{:#}", r.json);
    for n in needles {
        assert!(f.message.contains(n), "message lacks {n:?}: {}", f.message);
    }
}

/// Repository `mws`: a workspace of `mwcore` and `mwapp` 0.4.0. `mwapp` inherits its version,
/// edition and a dependency (with features) from the workspace, renames a dependency, has a
/// platform-specific one, a version-less dev-dependency (cargo drops it), a build
/// dependency, a build script, `links`, two binaries, an example, a test and features naming
/// dependencies. Returns the packaged `mwapp` and `mwcore`.
fn workspace(w: &World, app_extra: &str) -> (Vec<u8>, Vec<u8>) {
    let repo = w.work_repo("mws");
    repo.write(
        "Cargo.toml",
        format!(
            "[workspace]\nmembers = [\"mwcore\", \"mwapp\"]\nresolver = \"2\"\n\n\
             [workspace.package]\nversion = \"0.4.0\"\nedition = \"2021\"\nlicense = \"MIT\"\n\
             repository = \"{}\"\n\n\
             [workspace.dependencies]\n\
             mwcore = {{ path = \"mwcore\", version = \"0.4.0\", default-features = false, features = [\"fast\"] }}\n",
            World::repo_url("mws")
        ),
    );
    repo.write(
        "mwcore/Cargo.toml",
        "[package]\nname = \"mwcore\"\nversion.workspace = true\nedition.workspace = true\n\
         license.workspace = true\nrepository.workspace = true\ndescription = \"core\"\n\n\
         [features]\ndefault = []\nfast = []\nstd = []\n",
    );
    repo.write("mwcore/src/lib.rs", LIB_RS);
    repo.write(
        "mwapp/Cargo.toml",
        format!(
            "[package]\nname = \"mwapp\"\nversion.workspace = true\nedition.workspace = true\n\
             license.workspace = true\nrepository.workspace = true\ndescription = \"app\"\n\
             links = \"mwnative\"\n{app_extra}\n\
             [dependencies]\nmwcore = {{ workspace = true, features = [\"std\"], optional = true }}\n\
             core-renamed = {{ package = \"mwcore\", path = \"../mwcore\", version = \"0.4\" }}\n\n\
             [target.'cfg(unix)'.dependencies]\nmwcore = {{ path = \"../mwcore\", version = \"0.4.0\" }}\n\n\
             [dev-dependencies]\nmwcore = {{ path = \"../mwcore\" }}\n\n\
             [build-dependencies]\nmwcore = {{ path = \"../mwcore\", version = \"=0.4.0\" }}\n\n\
             [features]\ndefault = [\"mwcore\"]\nextra = [\"mwcore?/std\", \"core-renamed/fast\"]\n"
        ),
    );
    repo.write("mwapp/src/lib.rs", LIB_RS);
    repo.write("mwapp/src/main.rs", "fn main() {}\n");
    repo.write("mwapp/src/bin/tool.rs", "fn main() {}\n");
    repo.write("mwapp/src/other.rs", "pub fn other() {}\n");
    repo.write("mwapp/examples/demo.rs", "fn main() {}\n");
    repo.write("mwapp/tests/it.rs", "#[test]\nfn it() {}\n");
    repo.write("mwapp/build.rs", "fn main() {}\n");
    let commit = repo.commit_all("workspace");
    repo.tag("mwapp-v0.4.0", &commit);
    w.make_upstream(&repo, "mws");
    let target = w.root().join("cargo-target").join("mws");
    let app = cargo_package_with(&repo.path, "mwapp", "0.4.0", &target, false, &["mwcore"]);
    let core = std::fs::read(target.join("package").join("mwcore-0.4.0.crate")).unwrap();
    (app, core)
}

/// Publish the honest workspace with `mwapp`'s `Cargo.toml` put through `edit`, and verify it.
fn verify_edited(edit: impl FnOnce(&str) -> String) -> PackageResult {
    let w = World::new();
    let (app, core) = workspace(&w, "");
    let mut ar = CrateArchive::read(&app);
    let toml = ar.get_str("Cargo.toml");
    let edited = edit(&toml);
    assert_ne!(edited, toml, "the edit changed nothing");
    ar.set("Cargo.toml", edited);
    w.registry.publish("mwcore", "0.4.0", &core);
    w.registry.publish("mwapp", "0.4.0", &ar.to_bytes());
    let (out, rep) = w.run_json(&[], &["crates:mwapp@0.4.0"]);
    assert_exit(&out, 1);
    let r = rep.result("mwapp");
    r.assert_verdict("mismatch");
    r
}

fn replace(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "{from:?} not in:\n{text}");
    text.replacen(from, to, 1)
}

// ------------------------------------------------------------ honest shapes

#[test]
fn workspace_member_with_every_manifest_shape_is_verified() {
    let w = World::new();
    let (app, core) = workspace(&w, "");
    let published = CrateArchive::read(&app).get_str("Cargo.toml");
    // The fixture is what the test means: cargo resolved the inheritance and dropped the
    // version-less dev-dependency.
    assert!(published.contains("\"fast\",\n    \"std\","), "{published}");
    assert!(
        published.contains("[dependencies.core-renamed]"),
        "{published}"
    );
    assert!(
        !published.contains("[dev-dependencies.mwcore]"),
        "{published}"
    );
    w.registry.publish("mwcore", "0.4.0", &core);
    w.registry.publish("mwapp", "0.4.0", &app);
    let (out, rep) = w.run_json(&[], &["crates:mwapp@0.4.0", "crates:mwcore@0.4.0"]);
    assert_exit(&out, 0);
    for name in ["mwapp", "mwcore"] {
        rep.result(name).assert_verdict("verified").assert_clean();
    }
}

#[test]
fn edition_2015_crate_with_explicit_bin_and_custom_paths_is_verified() {
    let w = World::new();
    let repo = w.work_repo("old2015");
    repo.write(
        "Cargo.toml",
        format!(
            "[package]\nname = \"old2015\"\nversion = \"0.1.0\"\ndescription = \"old\"\n\
             license = \"MIT\"\nrepository = \"{}\"\nbuild = \"tools/gen.rs\"\n\n\
             [lib]\npath = \"lib/mod.rs\"\n\n[[bin]]\nname = \"only\"\npath = \"src/main.rs\"\n",
            World::repo_url("old2015")
        ),
    );
    repo.write("lib/mod.rs", "pub fn f() {}\n");
    repo.write("src/main.rs", "fn main() {}\n");
    // Edition 2015 with an explicit [[bin]]: cargo does not discover this one.
    repo.write("src/bin/ignored.rs", "fn main() {}\n");
    repo.write("tools/gen.rs", "fn main() {}\n");
    let commit = repo.commit_all("old style");
    repo.tag("v0.1.0", &commit);
    w.make_upstream(&repo, "old2015");
    let bytes = w.package(&repo, "old2015", "0.1.0", false);
    w.registry.publish("old2015", "0.1.0", &bytes);
    let (out, rep) = w.run_json(&[], &["crates:old2015@0.1.0"]);
    assert_exit(&out, 0);
    rep.result("old2015")
        .assert_verdict("verified")
        .assert_clean();
}

// ------------------------------------------------------------ tampered manifests

#[test]
fn dependency_repointed_to_another_package_is_manifest_mismatch() {
    let r = verify_edited(|t| {
        replace(
            t,
            "[dependencies.core-renamed]\nversion = \"0.4\"\npackage = \"mwcore\"",
            "[dependencies.core-renamed]\nversion = \"0.4\"\npackage = \"evil-serde\"",
        )
    });
    assert_manifest_mismatch(&r, &["`dependencies.core-renamed`", "package `evil-serde`"]);
}

#[test]
fn dependency_from_another_registry_index_is_manifest_mismatch() {
    let r = verify_edited(|t| {
        replace(
            t,
            "[dependencies.core-renamed]\n",
            "[dependencies.core-renamed]\nregistry-index = \"https://evil.invalid/index\"\n",
        )
    });
    assert_manifest_mismatch(&r, &["`dependencies.core-renamed`", "registry-index"]);
}

#[test]
fn changed_dependency_features_default_features_optional_and_version_are_manifest_mismatch() {
    let r = verify_edited(|t| {
        let t = replace(
            t,
            "    \"fast\",\n    \"std\",\n",
            "    \"fast\",\n    \"evil\",\n",
        );
        let t = replace(
            &t,
            "[build-dependencies.mwcore]\nversion = \"=0.4.0\"",
            "[build-dependencies.mwcore]\nversion = \"=0.3.9\"",
        );
        let t = replace(
            &t,
            "[target.\"cfg(unix)\".dependencies.mwcore]\nversion = \"0.4.0\"",
            "[target.\"cfg(unix)\".dependencies.mwcore]\nversion = \"0.4.0\"\noptional = true",
        );
        replace(&t, "default-features = false", "default-features = true")
    });
    assert_manifest_mismatch(
        &r,
        &[
            "`dependencies.mwcore` has features",
            "\"evil\"",
            "`build-dependencies.mwcore` has version \"=0.3.9\"",
            "`target.'cfg(unix)'.dependencies.mwcore` has `optional = true`",
            "`dependencies.mwcore` has `default-features = true`",
        ],
    );
}

#[test]
fn dependency_moved_to_another_platform_is_manifest_mismatch() {
    let r = verify_edited(|t| replace(t, "[target.\"cfg(unix)\"", "[target.\"cfg(windows)\""));
    assert_manifest_mismatch(
        &r,
        &[
            "declares dependency `target.'cfg(windows)'.dependencies.mwcore`",
            "drops dependency `target.'cfg(unix)'.dependencies.mwcore`",
        ],
    );
}

#[test]
fn lib_turned_into_a_proc_macro_is_manifest_mismatch() {
    let r = verify_edited(|t| {
        replace(
            t,
            "[lib]\nname = \"mwapp\"\n",
            "[lib]\nname = \"mwapp\"\nproc-macro = true\n",
        )
    });
    assert_manifest_mismatch(&r, &["target lib `mwapp` has crate type proc-macro"]);
}

#[test]
fn lib_built_from_another_file_is_manifest_mismatch() {
    let r = verify_edited(|t| replace(t, "path = \"src/lib.rs\"", "path = \"src/other.rs\""));
    assert_manifest_mismatch(&r, &["target lib `mwapp` is built from `src/other.rs`"]);
}

#[test]
fn added_binary_build_script_links_and_feature_are_manifest_mismatch() {
    let r = verify_edited(|t| {
        let t = replace(t, "build = \"build.rs\"", "build = \"src/other.rs\"");
        let t = replace(&t, "links = \"mwnative\"", "links = \"evilnative\"");
        let t = replace(&t, "[features]\n", "[features]\nbackdoor = []\n");
        format!("{t}\n[[bin]]\nname = \"sneaky\"\npath = \"src/other.rs\"\n")
    });
    assert_manifest_mismatch(
        &r,
        &[
            "declares target bin `sneaky`",
            "build script `src/other.rs` (`package.build`)",
            "`package.links = \"evilnative\"`",
            "declares feature `features.backdoor`",
        ],
    );
}

#[test]
fn dropped_dependency_is_manifest_mismatch() {
    let r =
        verify_edited(|t| replace(t, "[build-dependencies.mwcore]\nversion = \"=0.4.0\"\n", ""));
    assert_manifest_mismatch(&r, &["drops dependency `build-dependencies.mwcore`"]);
}

// ------------------------------------------------------------ the index line

#[test]
fn index_line_disagreeing_with_the_published_manifest_is_manifest_mismatch() {
    let w = World::new();
    let (app, core) = workspace(&w, "");
    w.registry.publish("mwcore", "0.4.0", &core);
    let (deps, features, links) = common::crates::index_fields(&app).unwrap();
    let mut deps = deps;
    for d in deps.as_array_mut().unwrap() {
        if d["name"] == "core-renamed" {
            d["package"] = "evil-serde".into();
        }
    }
    let line = serde_json::json!({
        "name": "mwapp", "vers": "0.4.0", "cksum": sha256_hex(&app), "yanked": false,
        "deps": deps, "features": features, "links": links,
    });
    // Serve the archive where the template points, with the tampered line.
    w.registry.publish("mwapp", "0.4.0", &app);
    let index_file = w
        .registry
        .served_root
        .join("index")
        .join(common::crates::index_path("mwapp"));
    std::fs::remove_file(&index_file).unwrap();
    w.registry.append_index_line("mwapp", &line);

    let (out, rep) = w.run_json(&[], &["crates:mwapp@0.4.0"]);
    assert_exit(&out, 1);
    let r = rep.result("mwapp");
    r.assert_verdict("mismatch");
    assert_manifest_mismatch(
        &r,
        &[
            "the index line",
            "`dependencies.core-renamed` as package `evil-serde`",
        ],
    );
}

// ------------------------------------------------------------ readme / license-file

/// Repository `rdm`: member `rdmember` whose `readme` (`inherit`: from `[workspace.package]`)
/// and `license-file` point outside it, while it has its own `README.md` and `LICENSE`.
fn readme_workspace(w: &World, inherit: bool, member_extra: &str) -> Vec<u8> {
    let repo = w.work_repo("rdm");
    repo.write(
        "Cargo.toml",
        "[workspace]\nmembers = [\"rdmember\"]\nresolver = \"2\"\n\n\
         [workspace.package]\nreadme = \"README.md\"\n",
    );
    repo.write("README.md", "# The workspace readme\n");
    repo.write("LICENSE", "Workspace licence\n");
    let readme = if inherit {
        "readme.workspace = true"
    } else {
        "readme = \"../README.md\""
    };
    repo.write(
        "rdmember/Cargo.toml",
        format!(
            "[package]\nname = \"rdmember\"\nversion = \"0.2.0\"\nedition = \"2021\"\n\
             description = \"member\"\nlicense-file = \"../LICENSE\"\n{readme}\n\
             repository = \"{}\"\n{member_extra}",
            World::repo_url("rdm")
        ),
    );
    repo.write("rdmember/src/lib.rs", LIB_RS);
    repo.write("rdmember/README.md", "# The member's own readme\n");
    repo.write("rdmember/LICENSE", "The member's own licence\n");
    let commit = repo.commit_all("readme");
    repo.tag("rdmember-v0.2.0", &commit);
    w.make_upstream(&repo, "rdm");
    w.package(&repo, "rdmember", "0.2.0", false)
}

#[test]
fn outside_readme_and_license_with_own_files_in_the_package_are_verified() {
    for inherit in [false, true] {
        let w = World::new();
        let bytes = readme_workspace(&w, inherit, "");
        let ar = CrateArchive::read(&bytes);
        // cargo archived the package's own files (and warned).
        assert_eq!(ar.get_str("README.md"), "# The member's own readme\n");
        assert_eq!(ar.get_str("LICENSE"), "The member's own licence\n");
        w.registry.publish("rdmember", "0.2.0", &bytes);
        let (out, rep) = w.run_json(&[], &["crates:rdmember@0.2.0"]);
        assert_exit(&out, 0);
        rep.result("rdmember")
            .assert_verdict("verified")
            .assert_clean();
    }
}

#[test]
fn outside_readme_is_archived_when_the_own_file_is_excluded() {
    let w = World::new();
    let bytes = readme_workspace(&w, false, "exclude = [\"/README.md\"]\n");
    let ar = CrateArchive::read(&bytes);
    assert_eq!(ar.get_str("README.md"), "# The workspace readme\n");
    assert_eq!(ar.get_str("LICENSE"), "The member's own licence\n");
    w.registry.publish("rdmember", "0.2.0", &bytes);
    let (out, rep) = w.run_json(&[], &["crates:rdmember@0.2.0"]);
    assert_exit(&out, 0);
    rep.result("rdmember")
        .assert_verdict("verified")
        .assert_clean();
}

#[test]
fn tampered_own_readme_of_a_package_with_an_outside_readme_is_content_differs() {
    let w = World::new();
    let bytes = readme_workspace(&w, true, "");
    let mut ar = CrateArchive::read(&bytes);
    // The workspace's readme is not what cargo archived here: serving it is a difference too.
    ar.set("README.md", "# The workspace readme\n");
    w.registry.publish("rdmember", "0.2.0", &ar.to_bytes());
    let (out, rep) = w.run_json(&[], &["crates:rdmember@0.2.0"]);
    assert_exit(&out, 1);
    let r = rep.result("rdmember");
    r.assert_verdict("mismatch");
    let flags = r.red_flags();
    assert_eq!(flags.len(), 1, "{:#}", r.json);
    assert_eq!(
        (flags[0].code.as_str(), flags[0].path.as_deref()),
        ("content-differs", Some("README.md"))
    );
}

/// cargo before 1.80 left targets and the build script to discovery at build time instead of
/// writing them out; the same package then builds the same targets, so it is verified.
#[test]
fn manifest_as_older_cargo_normalised_it_is_verified() {
    let w = World::new();
    let (app, core) = workspace(&w, "");
    let mut ar = CrateArchive::read(&app);
    let toml = ar.get_str("Cargo.toml");
    let mut old = String::new();
    let mut skipping = false;
    for line in toml.lines() {
        if line.starts_with('[') {
            skipping = matches!(line, "[lib]" | "[[bin]]" | "[[example]]" | "[[test]]");
        }
        let dropped = line.starts_with("auto") || line == "build = \"build.rs\"";
        if !skipping && !dropped {
            old.push_str(line);
            old.push('\n');
        }
    }
    assert!(
        !old.contains("[[bin]]") && !old.contains("autobins"),
        "{old}"
    );
    ar.set("Cargo.toml", old);
    w.registry.publish("mwcore", "0.4.0", &core);
    w.registry.publish("mwapp", "0.4.0", &ar.to_bytes());
    let (out, rep) = w.run_json(&[], &["crates:mwapp@0.4.0"]);
    assert_exit(&out, 0);
    rep.result("mwapp")
        .assert_verdict("verified")
        .assert_clean();
}

/// A file added to the package becomes a target by discovery: the original, discovered in the
/// source, has no such target.
#[test]
fn injected_file_that_cargo_would_discover_as_a_binary_is_manifest_mismatch() {
    let w = World::new();
    let fx = w.honest_crate("discov", "1.0.0");
    let mut ar = fx.archive();
    let toml = ar.get_str("Cargo.toml");
    // As older cargo wrote it: no target tables, discovery at build time.
    ar.set("Cargo.toml", replace(&toml, "autobins = false\n", ""));
    ar.set(
        "src/bin/evil.rs",
        "fn main() { /* runs when installed */ }\n",
    );
    w.publish(&fx, &ar.to_bytes());
    let (out, rep) = w.run_json(&[], &[&fx.spec()]);
    assert_exit(&out, 1);
    let r = rep.result("discov");
    r.assert_verdict("mismatch");
    r.assert_finding("file-not-in-source", "red-flag", Some("src/bin/evil.rs"));
    let m = r.with_code("manifest-mismatch");
    assert_eq!(m.len(), 1, "{:#}", r.json);
    assert!(
        m[0].message.contains("declares target bin `evil`"),
        "{}",
        m[0].message
    );
}

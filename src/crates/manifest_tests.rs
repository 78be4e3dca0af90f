//! Unit tests of `manifest`: cargo's publishing transformation of `Cargo.toml.orig`.

use super::*;

fn t(s: &str) -> Table {
    s.parse().unwrap()
}

fn key(kind: DepKind, name: &str) -> DepKey {
    DepKey {
        kind,
        target: None,
        name: name.into(),
    }
}

#[test]
fn workspace_dependencies_merge_as_cargo_merges_them() {
    let root = t(r#"
        [workspace.dependencies]
        a = { version = "1", features = ["x"], default-features = false }
        b = "2"
        c = { version = "3", default-features = false }
        d = { path = "d" }
    "#);
    let wsd = root["workspace"]["dependencies"].as_table().unwrap();
    let ws = Workspace {
        dependencies: Some(wsd),
        package: None,
    };
    let m = t(r#"
        [dependencies]
        a = { workspace = true, features = ["y"], optional = true }
        b = { workspace = true, default-features = false }
        c = { workspace = true, default-features = true }
        [dev-dependencies]
        d = { workspace = true }
    "#);
    let deps = dependencies(&m, Side::Original(Some(&ws)));
    let a = &deps[&key(DepKind::Normal, "a")];
    assert_eq!(a.req, Req::Spec("1".into()));
    assert_eq!(a.features, ["x", "y"].map(String::from).into());
    assert_eq!(a.default_features, Some(false));
    assert!(a.optional);
    // A member's `default-features = false` over a workspace default is ignored (cargo warns).
    assert_eq!(
        deps[&key(DepKind::Normal, "b")].default_features,
        Some(true)
    );
    // A member's `true` over a workspace `false` wins.
    assert_eq!(
        deps[&key(DepKind::Normal, "c")].default_features,
        Some(true)
    );
    // A version-less dev-dependency is not published.
    assert!(!deps.contains_key(&key(DepKind::Dev, "d")));
}

#[test]
fn unreadable_workspace_leaves_inherited_fields_open() {
    let m = t("[dependencies]\na = { workspace = true, features = [\"y\"] }\n");
    let orig = model(&m, Side::Original(None), &BTreeSet::new(), "2021");
    let p = t("[dependencies.a]\nversion = \"9\"\nfeatures = [\"y\", \"z\"]\n");
    let published = model(&p, Side::Published, &BTreeSet::new(), "2021");
    assert!(compare(&orig, &published).is_empty());
    let p = t("[dependencies.a]\nversion = \"9\"\nfeatures = [\"z\"]\n");
    let published = model(&p, Side::Published, &BTreeSet::new(), "2021");
    assert_eq!(compare(&orig, &published).len(), 1);
}

#[test]
fn features_naming_dropped_dependencies_are_stripped() {
    let m = t(r#"
        [dependencies]
        a = "1"
        [dev-dependencies]
        gone = { path = "../gone" }
        [features]
        f = ["a/x", "gone/y", "dep:gone", "other", "a?/z"]
    "#);
    let deps = dependencies(&m, Side::Original(None));
    let f = features(&m, &deps);
    assert_eq!(f["f"], ["a/x", "a?/z", "other"].map(String::from).into());
}

#[test]
fn git_in_a_published_manifest_is_another_source_path_is_not() {
    let orig = t("[dependencies]\na = { path = \"../a\", version = \"1\" }\n");
    let o = model(&orig, Side::Original(None), &BTreeSet::new(), "2021");
    let with_path = t("[dependencies.a]\nversion = \"1\"\npath = \"../a\"\n");
    let p = model(&with_path, Side::Published, &BTreeSet::new(), "2021");
    assert!(compare(&o, &p).is_empty());
    let with_git = t("[dependencies.a]\nversion = \"1\"\ngit = \"https://evil.invalid/a\"\n");
    let p = model(&with_git, Side::Published, &BTreeSet::new(), "2021");
    let got = compare(&o, &p).join("; ");
    assert!(got.contains("`git = \"https://evil.invalid/a\"`"), "{got}");
}

#[test]
fn version_requirements_compare_by_meaning() {
    assert!(same_req("1.0", "^1.0"));
    assert!(same_req(">= 1, < 2", ">=1, <2"));
    assert!(!same_req("1.0", "=1.0"));
    assert!(!same_req("0.3", "0.4"));
    assert!(same_req("0.*", "^0.*"));
    assert!(!same_req("0.*", "^1.*"));
}

//! Wheels whose layout no config file names, the choice among platform wheels, and one
//! PyPI release spelled several ways: real `setup.py bdist_wheel` output from real git
//! repositories, served by the loopback Simple API of `pypi_common`.

mod pypi_common;

use pypi_common::*;

const WHEEL: &[&str] = &["--pypi-artifact", "wheel"];

/// A project whose packages live under `lib/`, named only by `setup.py`'s `package_dir`
/// (`package_dir` is the literal given, or computed when `computed`).
fn lib_layout(fx: &Fixture, name: &str, package_dir: &str) -> (Repo, std::path::PathBuf) {
    let module = name.replace('-', "_");
    let r = fx.repo(name);
    r.write(
        "setup.py",
        &format!(
            "from setuptools import setup\n\nsetup(\n    name='{name}',\n    version='1.0.0',\n    \
             url='https://github.com/acme/{name}',\n    packages=['{module}', '{module}.sub'],\n    \
             package_dir={package_dir},\n)\n"
        ),
    )
    .write(".gitignore", "build/\n*.egg-info/\n")
    .write(&format!("lib/{module}/__init__.py"), "__version__ = '1.0.0'\n")
    .write(&format!("lib/{module}/core.py"), "def answer():\n    return 42\n")
    .write(&format!("lib/{module}/sub/__init__.py"), "")
    .write(&format!("lib/{module}/sub/deep.py"), "X = 1\n")
    // Same file name elsewhere, other content: the unique-path rule must not pick it.
    .write("tools/core.py", "print('not the module')\n");
    r.commit(&format!("{name} 1.0.0"));
    r.tag("v1.0.0");
    let wheel = fx.wheel(&r, "", None);
    (r, wheel)
}

#[test]
fn setup_py_package_dir_maps_a_pure_wheel_to_its_source() {
    let fx = Fixture::new();
    let (_, wheel) = lib_layout(&fx, "acme-libdir", "{'': 'lib'}");
    assert!(wheel.to_string_lossy().ends_with("-py3-none-any.whl"));
    fx.publish("main", "acme-libdir", &[(&wheel, None)], false);
    let (code, v) = fx.verify_with("main", "pypi:acme-libdir@1.0.0", WHEEL);
    let r = result(&v);
    assert_eq!(r["verdict"], "verified", "{v:#}");
    assert_eq!(code, 0);
    assert!(codes(&v).iter().all(|c| c != "file-not-in-source"), "{v:#}");
    // Every module is identical to its file under lib/, none merely excused.
    assert!(r["stats"]["identical"].as_u64().unwrap() >= 4, "{v:#}");
    assert_eq!(excused_by(&v, "acme_libdir/core.py"), None, "{v:#}");
}

#[test]
fn a_file_the_mapping_misses_is_found_at_the_unique_path_holding_it() {
    let fx = Fixture::new();
    // Computed at build time: no static reading can know it is `lib`.
    let (_, wheel) = lib_layout(&fx, "acme-computed", "{'': 'l' + 'ib'}");
    let dist = fx.root().join("dist").join("tampered");
    let tampered = repack_wheel(&wheel, &dist, true, |e| {
        // Content that is nowhere in the repository stays a red flag.
        set(e, "acme_computed/evil.py", b"import os\nos.system('x')\n");
    });
    fx.publish("main", "acme-computed", &[(&wheel, None)], false);
    let (code, v) = fx.verify_with("main", "pypi:acme-computed@1.0.0", WHEEL);
    assert_eq!(result(&v)["verdict"], "verified", "{v:#}");
    assert_eq!(code, 0);
    for m in [
        "acme_computed/__init__.py",
        "acme_computed/core.py",
        "acme_computed/sub/deep.py",
    ] {
        assert_eq!(excused_by(&v, m), Some("wheel-unique-path"), "{m}: {v:#}");
    }

    fx.publish("evil", "acme-computed", &[(&tampered, None)], false);
    let (code, v) = fx.verify_with("evil", "pypi:acme-computed@1.0.0", WHEEL);
    assert_eq!(result(&v)["verdict"], "mismatch", "{v:#}");
    assert_eq!(code, 1);
    let f = with_code(&v, "file-not-in-source");
    assert_eq!(f.len(), 1, "{v:#}");
    assert_eq!(f[0]["path"], "acme_computed/evil.py");
}

#[test]
fn pure_wheel_first_then_this_machines_platform() {
    let fx = Fixture::new();
    let (r, pure) = lib_layout(&fx, "acme-plat", "{'': 'lib'}");
    let mac = fx.wheel(&r, "", Some("macosx_11_0_arm64"));
    let linux = fx.wheel(&r, "", Some("manylinux_2_17_x86_64"));
    let win = fx.wheel(&r, "", Some("win_amd64"));
    let name = |p: &std::path::Path| p.file_name().unwrap().to_string_lossy().into_owned();
    fx.publish(
        "platforms",
        "acme-plat",
        &[(&mac, None), (&linux, None), (&win, None)],
        false,
    );
    let (_, v) = fx.verify_with("platforms", "pypi:acme-plat@1.0.0", WHEEL);
    let url = result(&v)["artifact"]["url"].as_str().unwrap().to_string();
    let mine = if cfg!(target_os = "linux") {
        Some(&linux)
    } else if cfg!(target_os = "macos") {
        Some(&mac)
    } else if cfg!(windows) {
        Some(&win)
    } else {
        None
    };
    if let Some(mine) = mine {
        assert!(url.ends_with(&name(mine)), "{url}");
    }
    fx.publish(
        "with-pure",
        "acme-plat",
        &[(&mac, None), (&linux, None), (&pure, None)],
        false,
    );
    let (_, v) = fx.verify_with("with-pure", "pypi:acme-plat@1.0.0", WHEEL);
    let url = result(&v)["artifact"]["url"].as_str().unwrap();
    assert!(url.ends_with(&name(&pure)), "{url}");
}

#[test]
fn one_release_spelled_several_ways_is_verified_once() {
    let fx = Fixture::new();
    let (_, wheel) = lib_layout(&fx, "acme-spell", "{'': 'lib'}");
    fx.publish("main", "acme-spell", &[(&wheel, None)], false);
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_provero"))
        .arg("verify")
        .arg("--registry")
        .arg(format!("pypi=http://127.0.0.1:{}/main/simple/", fx.port))
        .arg("--git-rewrite")
        .arg(format!(
            "https://github.com/acme/=file://{}/",
            fx.root().join("git").display()
        ))
        .arg("--cache-dir")
        .arg(fx.root().join("cache"))
        .args(["--no-db", "--format", "json", "--quiet"])
        .args([
            "pypi:acme-spell@1.0.0",
            "pypi:Acme-Spell@1.0.0",
            "pypi:acme_spell@1.0",
            "pypi:ACME.spell@1.0.00",
            "pypi:acme--spell@v1.0.0",
        ])
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&o.stderr)));
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), 1, "{v:#}");
    assert_eq!(results[0]["verdict"], "verified", "{v:#}");
    assert_eq!(o.status.code(), Some(0));
}

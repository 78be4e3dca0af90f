//! Cython output in rebuild mode, end to end: a real project whose `setup.py` cythonizes a
//! committed `.pyx`, a real `setup.py sdist` carrying the generated `.c`, and a loopback index
//! serving that sdist and a real wheel of the installed Cython (zipped from its installed
//! files, with a RECORD). Diff mode leaves the `.c` `not-comparable` naming Cython and the
//! `.pyx`; rebuild mode regenerates it with the Cython version its header names, fetched from
//! the index, in the sandbox: the honest file is verified by that, a tampered one (one line of
//! code changed, the header kept) is a red flag with the diff, a header naming a Cython the
//! index does not have is `not-comparable` saying so, and a generated file the project commits
//! is source (compared as committed, not regenerated).

mod pypi_common;

use std::path::{Path, PathBuf};
use std::process::Command;

use pypi_common::{repack, result, with_code, Fixture};

/// Zip the installed Cython (its files and dist-info) into a wheel with a fresh RECORD, named
/// by its `WHEEL` tag; returns its path and the Cython version.
fn installed_cython_wheel(fx: &Fixture) -> (PathBuf, String) {
    let out = fx.root().join("dist").join("cython-wheel");
    std::fs::create_dir_all(&out).unwrap();
    let script = r#"import base64, hashlib, importlib.metadata as m, os, sys, zipfile
d = m.distribution("cython")
tags = [l.split(":", 1)[1].strip() for l in d.read_text("WHEEL").splitlines() if l.startswith("Tag:")]
name = "cython-%s-%s.whl" % (d.version, tags[0])
record, info = [], None
with zipfile.ZipFile(os.path.join(sys.argv[1], name), "w", zipfile.ZIP_DEFLATED) as z:
    for f in d.files:
        p = str(f)
        if p.startswith("..") or "__pycache__" in p or p.endswith(".dist-info/RECORD"):
            continue
        data = f.locate().read_bytes()
        z.writestr(p, data)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append("%s,sha256=%s,%d" % (p, digest, len(data)))
        if p.split("/")[0].endswith(".dist-info"):
            info = p.split("/")[0]
    z.writestr(info + "/RECORD", "\n".join(record + [info + "/RECORD,,"]) + "\n")
print(name)
print(d.version)
"#;
    let o = Command::new("python3")
        .args(["-c", script])
        .arg(&out)
        .output()
        .expect("python3 runs");
    assert!(
        o.status.success(),
        "zipping the installed Cython failed (is Cython installed? .ci/run installs it): {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let mut lines = text.lines();
    let name = lines.next().unwrap().to_string();
    (out.join(name), lines.next().unwrap().to_string())
}

/// The world: `cy-rb` 0.5.0 (a `.pyx` cythonized by its `setup.py`) tagged and built; the
/// sdist and the Cython wheel are published on index `a`. Returns the sdist and the version.
fn world(fx: &Fixture) -> Option<(PathBuf, String)> {
    if let Err(e) = provero::rebuild::sandbox::check() {
        eprintln!("skipped: the rebuild sandbox is unusable here: {e}");
        return None;
    }
    let r = fx.repo("cy-rb");
    // Inside the rebuild (no PROVERO_TEST_PUBLISHING), when provero puts the Cython it
    // fetched from the index on PYTHONPATH, the build must import that one, not the
    // installed one (without it, as when the index has no such Cython, the installed one).
    r.write(
        "setup.py",
        "import os\nimport Cython\nfrom setuptools import setup, Extension\nfrom Cython.Build import cythonize\n\n\
         if 'PROVERO_TEST_PUBLISHING' not in os.environ and 'PYTHONPATH' in os.environ \\\n\
         \x20       and '/generators/' not in Cython.__file__:\n\
         \x20   raise SystemExit('provero-test: the build imported the installed Cython ' + Cython.__file__)\n\n\
         setup(name='cy-rb', version='0.5.0', packages=['cy_rb'],\n      \
         url='https://github.com/acme/cy-rb',\n      \
         ext_modules=cythonize([Extension('cy_rb._speed', ['cy_rb/_speed.pyx'])], language_level=3))\n",
    )
    .write("MANIFEST.in", "include cy_rb/*.pyx\n")
    .write(".gitignore", "*.egg-info/\n*.c\nbuild/\n")
    .write("README.md", "# cy-rb\n")
    .write("cy_rb/__init__.py", "")
    .write("cy_rb/_speed.pyx", "def double(int x):\n    return x * 2\n");
    r.commit("cy-rb 0.5.0");
    r.tag("v0.5.0");
    let out = fx.root().join("dist").join("cy-rb");
    let o = Command::new("python3")
        .args(["setup.py", "-q", "sdist", "-d"])
        .arg(&out)
        .current_dir(&r.dir)
        .env("PROVERO_TEST_PUBLISHING", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .output()
        .expect("python3 runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let sdist = std::fs::read_dir(&out)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let (wheel, version) = installed_cython_wheel(fx);
    fx.publish("a", "cy-rb", &[(&sdist, None)], false);
    fx.publish("a", "cython", &[(&wheel, None)], false);
    Some((sdist, version))
}

/// Publish `cy-rb` repacked with its `.c` edited by `edit` on index `index` (with the wheel).
fn publish_edited(fx: &Fixture, sdist: &Path, index: &str, edit: impl Fn(&str) -> String) {
    let out = fx
        .root()
        .join("dist")
        .join(index)
        .join("cy-rb-0.5.0.tar.gz");
    repack(sdist, &out, |entries| {
        let e = entries
            .iter_mut()
            .find(|(p, _)| p.ends_with("/cy_rb/_speed.c"))
            .expect("the sdist has the generated .c");
        let edited = edit(std::str::from_utf8(&e.1).unwrap());
        assert_ne!(edited.as_bytes(), &e.1[..], "the edit changed nothing");
        e.1 = edited.into_bytes();
    });
    fx.publish(index, "cy-rb", &[(&out, None)], false);
    let wheel = std::fs::read_dir(fx.root().join("dist").join("cython-wheel"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    fx.publish(index, "cython", &[(&wheel, None)], false);
}

const REBUILD: [&str; 3] = ["--mode", "rebuild", "--no-db"];

#[test]
fn cython_output_is_not_comparable_in_diff_mode_and_verified_by_regeneration() {
    let fx = Fixture::new();
    let Some((_, version)) = world(&fx) else {
        return;
    };
    let (code, v) = fx.verify_with("a", "pypi:cy-rb@0.5.0", &["--no-db"]);
    assert_eq!(result(&v)["verdict"], "unverifiable", "{v:#}");
    assert_eq!(code, 0);
    let nc = with_code(&v, "not-comparable");
    assert_eq!(nc.len(), 1, "{v:#}");
    assert_eq!(nc[0]["path"], "cy_rb/_speed.c");
    let m = nc[0]["message"].as_str().unwrap();
    assert!(
        m.contains(&format!("Cython {version}")) && m.contains("`cy_rb/_speed.pyx`"),
        "{m}"
    );

    let (code, v) = fx.verify_with("a", "pypi:cy-rb@0.5.0", &REBUILD);
    let res = result(&v);
    assert_eq!(res["verdict"], "verified", "{res:#}");
    assert_eq!(code, 0);
    // The build itself imported the named Cython (its setup.py checks where from).
    let packager = res["rebuild"]["packager_version"].as_str().unwrap();
    assert!(
        packager.ends_with(&format!(", Cython {version}")),
        "{packager}"
    );
    let regen: Vec<&serde_json::Value> = res["rebuild"]["stabilizers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["name"] == "regenerated-from-source")
        .collect();
    assert_eq!(regen.len(), 1, "{res:#}");
    assert_eq!(regen[0]["paths"], serde_json::json!(["cy_rb/_speed.c"]));
    let reason = regen[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains(&format!("Cython {version} from `cy_rb/_speed.pyx`"))
            && reason.contains("cythonize("),
        "{reason}"
    );
    // The named Cython came from the index once, checked, and is kept in the cache.
    let wheel_path = |fx: &Fixture| {
        let name = std::fs::read_dir(fx.root().join("www/a/files"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .find(|n| n.ends_with(".whl"))
            .unwrap();
        format!("/a/files/{name}")
    };
    assert_eq!(fx.server.hits(&wheel_path(&fx)), 1);
    let (_, v) = fx.verify_with("a", "pypi:cy-rb@0.5.0", &REBUILD);
    assert_eq!(result(&v)["verdict"], "verified", "{v:#}");
    assert_eq!(fx.server.hits(&wheel_path(&fx)), 1, "the wheel is cached");
}

#[test]
fn a_tampered_cython_output_is_caught_by_rebuild() {
    let fx = Fixture::new();
    let Some((sdist, version)) = world(&fx) else {
        return;
    };
    // One line of code changed; the header (and so the named Cython) kept.
    publish_edited(&fx, &sdist, "t", |c| {
        c.replacen("(__pyx_v_x * 2)", "(__pyx_v_x * 3)", 1)
    });
    let (_, diff) = fx.verify_with("t", "pypi:cy-rb@0.5.0", &["--no-db"]);
    assert_eq!(result(&diff)["verdict"], "unverifiable", "{diff:#}");
    let (code, v) = fx.verify_with("t", "pypi:cy-rb@0.5.0", &REBUILD);
    let res = result(&v);
    assert_eq!(res["verdict"], "mismatch", "{res:#}");
    assert_eq!(code, 1);
    let f = with_code(&v, "content-differs");
    assert_eq!(f.len(), 1, "{res:#}");
    assert_eq!(f[0]["path"], "cy_rb/_speed.c");
    assert_eq!(f[0]["mode"], "rebuild");
    let m = f[0]["message"].as_str().unwrap();
    assert!(
        m.contains(&format!("Cython {version} from `cy_rb/_speed.pyx`")),
        "{m}"
    );
    // The diff goes from the regenerated file to the published one.
    let d = f[0]["diff"].as_str().unwrap();
    let line = |sign: char, text: &str| {
        d.lines()
            .any(|l| l.starts_with(sign) && !l.starts_with("+++") && l.contains(text))
    };
    assert!(
        line('-', "(__pyx_v_x * 2)") && line('+', "(__pyx_v_x * 3)"),
        "{d}"
    );
}

#[test]
fn a_cython_version_the_index_does_not_have_is_not_comparable() {
    let fx = Fixture::new();
    let Some((sdist, version)) = world(&fx) else {
        return;
    };
    publish_edited(&fx, &sdist, "u", |c| {
        c.replacen(
            &format!("/* Generated by Cython {version} */"),
            "/* Generated by Cython 0.29.99 */",
            1,
        )
    });
    let (code, v) = fx.verify_with("u", "pypi:cy-rb@0.5.0", &REBUILD);
    let res = result(&v);
    assert_eq!(res["verdict"], "unverifiable", "{res:#}");
    assert_eq!(code, 0);
    let nc = with_code(&v, "not-comparable");
    assert_eq!(nc.len(), 1, "{res:#}");
    assert_eq!(nc[0]["path"], "cy_rb/_speed.c");
    let m = nc[0]["message"].as_str().unwrap();
    assert!(
        m.contains("Cython 0.29.99") && m.contains("the index has no Cython 0.29.99"),
        "{m}"
    );
}

#[test]
fn a_committed_generated_file_is_source_and_not_regenerated() {
    let fx = Fixture::new();
    if let Err(e) = provero::rebuild::sandbox::check() {
        eprintln!("skipped: the rebuild sandbox is unusable here: {e}");
        return;
    }
    // The project commits its Cython output, generated from an older `.pyx`: the published
    // `.c` is the committed one, though regenerating it from today's `.pyx` would differ.
    let r = fx.repo("cy-kept");
    r.write(
        "setup.py",
        "from setuptools import setup, Extension\n\n\
         setup(name='cy-kept', version='1.0.0', packages=['cy_kept'],\n      \
         url='https://github.com/acme/cy-kept',\n      \
         ext_modules=[Extension('cy_kept._speed', ['cy_kept/_speed.c'])])\n",
    )
    .write("MANIFEST.in", "include cy_kept/*.pyx\n")
    .write(".gitignore", "*.egg-info/\nbuild/\n")
    .write("README.md", "# cy-kept\n")
    .write("cy_kept/__init__.py", "")
    .write(
        "cy_kept/_speed.pyx",
        "def double(int x):\n    return x * 2\n",
    );
    let o = Command::new("python3")
        .args(["-m", "cython", "-3", "cy_kept/_speed.pyx"])
        .current_dir(&r.dir)
        .output()
        .expect("python3 runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    r.write(
        "cy_kept/_speed.pyx",
        "def double(int x):\n    return x * 4\n",
    );
    r.commit("cy-kept 1.0.0");
    r.tag("v1.0.0");
    let sdist = fx.sdist(&r, "");
    fx.publish("a", "cy-kept", &[(&sdist, None)], false);
    let (code, v) = fx.verify_with("a", "pypi:cy-kept@1.0.0", &REBUILD);
    let res = result(&v);
    assert_eq!(res["verdict"], "verified", "{res:#}");
    assert_eq!(code, 0);
    let regenerated = res["rebuild"]["stabilizers"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["name"] == "regenerated-from-source");
    assert!(!regenerated, "{res:#}");
    // Nothing asked the index for a Cython.
    assert_eq!(fx.server.hits("/a/simple/cython/"), 0);
}

//! PyPI end to end: what packagers' tools generate into a real sdist (`setup.py sdist` from a
//! real tagged repository) — egg-info plugin writers, Cython output, bytecode left by a build —
//! and dependencies `setup.py` computes with code.

mod pypi_common;

use std::process::Command;

use pypi_common::{excused_by, repack, result, set, with_code, Fixture, Repo};

fn project(fx: &Fixture, name: &str, setup_py: &str, manifest: &str) -> Repo {
    let r = fx.repo(name);
    r.write("setup.py", setup_py)
        .write("MANIFEST.in", manifest)
        .write(".gitignore", "*.egg-info/\n__pycache__/\n*.c\n")
        .write(
            &format!("{}/__init__.py", name.replace('-', "_")),
            "X = 1\n",
        );
    r
}

#[test]
fn egg_info_plugin_output_is_excused_and_pbr_records_the_commit_only_for_pbr_projects() {
    let fx = Fixture::new();
    // A project that does not use pbr, built where an old pbr left a stale pbr.json in the
    // long-lived egg-info directory: setuptools sweeps it into every sdist.
    let r = project(
        &fx,
        "plain-thing",
        "from setuptools import setup\nsetup(name='plain-thing', version='1.0.0', packages=['plain_thing'],\n      url='https://github.com/acme/plain-thing')\n",
        "",
    );
    r.commit("plain-thing 1.0.0");
    r.tag("v1.0.0");
    r.write(
        "plain_thing.egg-info/pbr.json",
        "{\"git_version\": \"0123abc\", \"is_release\": true}",
    );
    let sdist = fx.sdist(&r, "");
    fx.publish("plain", "plain-thing", &[(&sdist, None)], false);
    let (code, v) = fx.verify("plain", "pypi:plain-thing@1.0.0");
    assert_eq!(result(&v)["verdict"], "verified", "{v:#}");
    assert_eq!(code, 0);
    assert_eq!(
        excused_by(&v, "plain_thing.egg-info/pbr.json"),
        Some("egg-info-plugin-writer")
    );
    // Not a pbr project: the stale commit is not taken as the build's record.
    assert_eq!(with_code(&v, "commit-from-tag").len(), 1, "{v:#}");

    // The same file with another shape is not writer output.
    let top = "plain-thing-1.0.0";
    let out = fx
        .root()
        .join("dist")
        .join("odd")
        .join("plain-thing-1.0.0.tar.gz");
    repack(&sdist, &out, |e| {
        set(
            e,
            &format!("{top}/plain_thing.egg-info/pbr.json"),
            b"{\"git_version\": \"0123abc\", \"hook\": \"import os\"}",
        );
        // pbr's files in a project that does not build with pbr are not excused either.
        set(
            e,
            &format!("{top}/AUTHORS"),
            b"A U Thor <author@example.org>\n",
        );
    });
    fx.publish("odd", "plain-thing", &[(&out, None)], false);
    let (code, v) = fx.verify("odd", "pypi:plain-thing@1.0.0");
    assert_eq!(result(&v)["verdict"], "mismatch", "{v:#}");
    assert_eq!(code, 1);
    let mut flagged: Vec<&str> = with_code(&v, "file-not-in-source")
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    flagged.sort();
    assert_eq!(
        flagged,
        ["AUTHORS", "plain_thing.egg-info/pbr.json"],
        "{v:#}"
    );

    // A pbr project: `git_version` is the commit the build recorded (no tag inference), and
    // one the repository never had is commit-not-found.
    let p = project(
        &fx,
        "pbr-thing",
        "from setuptools import setup\nsetup(pbr=True, name='pbr-thing', version='2.0.0', packages=['pbr_thing'],\n      url='https://github.com/acme/pbr-thing')\n",
        "include AUTHORS ChangeLog\n",
    );
    let commit = p.commit("pbr-thing 2.0.0");
    p.tag("2.0.0");
    // What pbr writes from the git history into the working tree while building the sdist.
    p.write("AUTHORS", "A U Thor <author@example.org>\n").write(
        "ChangeLog",
        "CHANGES\n=======\n\n2.0.0\n-----\n\n* pbr-thing 2.0.0\n",
    );
    for (index, sha) in [("pbr", &commit[..10]), ("pbr-unpushed", "abcdef12345")] {
        p.write(
            "pbr_thing.egg-info/pbr.json",
            &format!("{{\"git_version\": \"{sha}\", \"is_release\": true}}"),
        );
        let sdist = fx.sdist(&p, "");
        fx.publish(index, "pbr-thing", &[(&sdist, None)], false);
    }
    let (_, v) = fx.verify("pbr", "pypi:pbr-thing@2.0.0");
    assert_eq!(result(&v)["verdict"], "verified", "{v:#}");
    assert_eq!(excused_by(&v, "AUTHORS"), Some("pbr-generated"), "{v:#}");
    assert_eq!(excused_by(&v, "ChangeLog"), Some("pbr-generated"), "{v:#}");
    assert_eq!(result(&v)["source"]["commit"], commit.as_str(), "{v:#}");
    assert!(with_code(&v, "commit-from-tag").is_empty(), "{v:#}");
    let (code, v) = fx.verify("pbr-unpushed", "pypi:pbr-thing@2.0.0");
    assert_eq!(result(&v)["verdict"], "unverifiable", "{v:#}");
    assert_eq!(code, 0);
    assert_eq!(with_code(&v, "commit-not-found").len(), 1, "{v:#}");
}

#[test]
fn cython_output_is_not_comparable_only_when_its_pyx_is_committed() {
    let fx = Fixture::new();
    let r = project(
        &fx,
        "cy-thing",
        "from setuptools import setup\nsetup(name='cy-thing', version='0.5.0', packages=['cy_thing'],\n      url='https://github.com/acme/cy-thing')\n",
        "include cy_thing/*.pyx cy_thing/*.c\n",
    );
    r.write(
        "cy_thing/_speed.pyx",
        "def double(int x):\n    return x * 2\n",
    );
    r.commit("cy-thing 0.5.0");
    r.tag("v0.5.0");
    // The C file Cython writes from the committed .pyx (git-ignored, as projects do).
    let o = Command::new("python3")
        .args(["-m", "cython", "-3", "cy_thing/_speed.pyx"])
        .current_dir(&r.dir)
        .output()
        .expect("python3 runs");
    assert!(
        o.status.success(),
        "cython failed (is Cython installed? .ci/run installs it): {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let sdist = fx.sdist(&r, "");
    fx.publish("cy", "cy-thing", &[(&sdist, None)], false);
    let (code, v) = fx.verify("cy", "pypi:cy-thing@0.5.0");
    assert_eq!(result(&v)["verdict"], "unverifiable", "{v:#}");
    assert_eq!(code, 0);
    let nc = with_code(&v, "not-comparable");
    assert_eq!(nc.len(), 1, "{v:#}");
    assert_eq!(nc[0]["path"], "cy_thing/_speed.c");
    let msg = nc[0]["message"].as_str().unwrap();
    assert!(
        msg.contains("Cython 3.") && msg.contains("cy_thing/_speed.pyx"),
        "{msg}"
    );

    // A Cython-looking C file with no committed .pyx, and a plain C file: red flags.
    let top = "cy-thing-0.5.0";
    let out = fx
        .root()
        .join("dist")
        .join("cy-bad")
        .join("cy-thing-0.5.0.tar.gz");
    repack(&sdist, &out, |e| {
        set(
            e,
            &format!("{top}/cy_thing/_other.c"),
            b"/* Generated by Cython 3.0.0 */\nint evil(void) { return 1; }\n",
        );
        set(
            e,
            &format!("{top}/cy_thing/_plain.c"),
            b"int plain(void) { return 2; }\n",
        );
    });
    fx.publish("cy-bad", "cy-thing", &[(&out, None)], false);
    let (code, v) = fx.verify("cy-bad", "pypi:cy-thing@0.5.0");
    assert_eq!(result(&v)["verdict"], "mismatch", "{v:#}");
    assert_eq!(code, 1);
    let mut flagged: Vec<&str> = with_code(&v, "file-not-in-source")
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    flagged.sort();
    assert_eq!(flagged, ["cy_thing/_other.c", "cy_thing/_plain.c"], "{v:#}");
}

/// Bytecode a build left beside an in-tree helper it imported (a `graft` sweeps it in).
#[test]
fn bytecode_is_excused_only_when_it_recompiles_to_the_same_code() {
    let fx = Fixture::new();
    let r = project(
        &fx,
        "pyc-thing",
        "from setuptools import setup\nsetup(name='pyc-thing', version='3.1.0', packages=['pyc_thing'],\n      url='https://github.com/acme/pyc-thing')\n",
        "graft tools\n",
    );
    let helper = "import os\n\nNAMES = {'a': (1, 2.5), 'b': None}\n\ndef build(root):\n    '''Join the root.'''\n    return [os.path.join(root, n) for n in sorted(NAMES)]\n\nclass Backend:\n    def hook(self, *args, **kw):\n        return build(*args) if args else kw\n";
    r.write("tools/helper.py", helper);
    r.commit("pyc-thing 3.1.0");
    r.tag("v3.1.0");
    // Importing the helper (as a build backend would) writes its __pycache__.
    let o = Command::new("python3")
        .args([
            "-c",
            "import sys; sys.path.insert(0, 'tools'); import setuptools, helper",
        ])
        .current_dir(&r.dir)
        .env_remove("PYTHONDONTWRITEBYTECODE")
        .output()
        .expect("python3 runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let sdist = fx.sdist(&r, "");
    let pyc = {
        let list = Command::new("tar").arg("tzf").arg(&sdist).output().unwrap();
        let names = String::from_utf8_lossy(&list.stdout).into_owned();
        names
            .lines()
            .find(|l| l.ends_with(".pyc"))
            .unwrap_or_else(|| panic!("the sdist has no bytecode: {names}"))
            .split_once('/')
            .unwrap()
            .1
            .to_string()
    };
    fx.publish("pyc", "pyc-thing", &[(&sdist, None)], false);
    let (code, v) = fx.verify("pyc", "pypi:pyc-thing@3.1.0");
    assert_eq!(result(&v)["verdict"], "verified", "{v:#}");
    assert_eq!(code, 0);
    assert_eq!(
        excused_by(&v, &pyc),
        Some("python-bytecode-recompiled"),
        "{v:#}"
    );

    let top = "pyc-thing-3.1.0";
    let original = {
        let dir = fx.root().join("unpack");
        std::fs::create_dir_all(&dir).unwrap();
        Command::new("tar")
            .arg("xzf")
            .arg(&sdist)
            .arg("-C")
            .arg(&dir)
            .status()
            .unwrap();
        std::fs::read(dir.join(top).join(&pyc)).unwrap()
    };
    // Bytecode of another source of the same size: what runs is not the .py.
    let evil_src = helper.replace("sorted(NAMES)", "sorted(EVILS)");
    assert_eq!(evil_src.len(), helper.len());
    let evil_dir = fx.root().join("evil");
    std::fs::create_dir_all(&evil_dir).unwrap();
    std::fs::write(evil_dir.join("helper.py"), &evil_src).unwrap();
    let st = Command::new("python3")
        .args([
            "-c",
            "import py_compile,sys;py_compile.compile(sys.argv[1],cfile=sys.argv[2],doraise=True)",
        ])
        .arg(evil_dir.join("helper.py"))
        .arg(evil_dir.join("helper.pyc"))
        .status()
        .unwrap();
    assert!(st.success());
    let mut evil = std::fs::read(evil_dir.join("helper.pyc")).unwrap();
    evil[4..16].copy_from_slice(&original[4..16]);
    // The same code under a magic number no interpreter here has (a 3.12 alpha's).
    let mut unknown = original.clone();
    unknown[..2].copy_from_slice(&3500u16.to_le_bytes());
    for (index, data) in [("pyc-evil", evil), ("pyc-unknown", unknown)] {
        let out = fx
            .root()
            .join("dist")
            .join(index)
            .join("pyc-thing-3.1.0.tar.gz");
        repack(&sdist, &out, |e| set(e, &format!("{top}/{pyc}"), &data));
        fx.publish(index, "pyc-thing", &[(&out, None)], false);
    }
    let (code, v) = fx.verify("pyc-evil", "pypi:pyc-thing@3.1.0");
    assert_eq!(result(&v)["verdict"], "mismatch", "{v:#}");
    assert_eq!(code, 1);
    let f = with_code(&v, "file-not-in-source");
    assert_eq!(f.len(), 1, "{v:#}");
    assert_eq!(f[0]["path"], pyc.as_str());
    assert!(
        f[0]["message"]
            .as_str()
            .unwrap()
            .contains("tools/helper.py"),
        "{v:#}"
    );
    let (code, v) = fx.verify("pyc-unknown", "pypi:pyc-thing@3.1.0");
    assert_eq!(result(&v)["verdict"], "unverifiable", "{v:#}");
    assert_eq!(code, 0);
    assert_eq!(
        with_code(&v, "not-comparable")[0]["path"],
        pyc.as_str(),
        "{v:#}"
    );
}

#[test]
fn dependencies_completed_by_code_are_not_checked_while_static_extras_still_are() {
    let fx = Fixture::new();
    let r = project(
        &fx,
        "dyn-thing",
        "import sys\nfrom setuptools import setup\nREQS = ['requests']\nif sys.version_info >= (3,):\n    REQS.extend(['click'])\n\
         setup(name='dyn-thing', version='1.2.0', packages=['dyn_thing'], install_requires=REQS,\n      \
         extras_require={'dev': ['pytest']}, url='https://github.com/acme/dyn-thing')\n",
        "",
    );
    r.commit("dyn-thing 1.2.0");
    r.tag("v1.2.0");
    let sdist = fx.sdist(&r, "");
    fx.publish("dyn", "dyn-thing", &[(&sdist, None)], false);
    let (code, v) = fx.verify("dyn", "pypi:dyn-thing@1.2.0");
    assert_eq!(result(&v)["verdict"], "verified", "{v:#}");
    assert_eq!(code, 0);
    assert!(with_code(&v, "manifest-mismatch").is_empty(), "{v:#}");
    let nc = with_code(&v, "not-checked");
    assert!(
        nc.iter().any(|f| f["message"]
            .as_str()
            .unwrap()
            .contains("setup.py computes `install_requires`")),
        "{v:#}"
    );

    // An extra's dependency the static extras_require never declared is still caught.
    let top = "dyn-thing-1.2.0";
    let out = fx
        .root()
        .join("dist")
        .join("dyn-extra")
        .join("dyn-thing-1.2.0.tar.gz");
    // setuptools before 68 lists dependencies only in the egg-info's requires.txt.
    repack(&sdist, &out, |e| {
        let (_, requires) = e
            .iter_mut()
            .find(|(p, _)| p == &format!("{top}/dyn_thing.egg-info/requires.txt"))
            .unwrap();
        requires.extend_from_slice(b"\n[dev]\nevil-helper\n");
    });
    fx.publish("dyn-extra", "dyn-thing", &[(&out, None)], false);
    let (code, v) = fx.verify("dyn-extra", "pypi:dyn-thing@1.2.0");
    assert_eq!(result(&v)["verdict"], "mismatch", "{v:#}");
    assert_eq!(code, 1);
    let mm = with_code(&v, "manifest-mismatch");
    assert_eq!(mm.len(), 1, "{v:#}");
    assert!(
        mm[0]["message"].as_str().unwrap().contains("evil-helper"),
        "{v:#}"
    );
}

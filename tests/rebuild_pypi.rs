//! Rebuild mode for PyPI sdists, end to end: a real setuptools sdist of a tagged repository,
//! served by the loopback Simple API, rebuilt by provero through the project's PEP 517 backend
//! in its sandbox. The honest sdist is verified; a `PKG-INFO` that gained a dependency (diff
//! mode excuses `PKG-INFO` as generated) is caught; a backend that is not installed is
//! `rebuild-failed` naming it; and a `setup.py` that tries to write outside its directory and
//! to open a socket neither writes the file nor reaches the listener, and the build still ends
//! (with the attack's own report in the build log).

mod pypi_common;

use std::net::TcpListener;
use std::process::Command;

use pypi_common::{repack, result, set, with_code, Fixture, Repo};

fn project(fx: &Fixture, name: &str, setup_py: &str) -> Repo {
    let r = fx.repo(name);
    r.write(
        "setup.cfg",
        &format!(
            "[metadata]\nname = {name}\nversion = 1.0.0\nproject_urls =\n    Source = https://github.com/acme/{name}\n\n\
             [options]\npackages = find:\ninstall_requires =\n    requests>=2\n"
        ),
    )
    .write("setup.py", setup_py)
    .write("README.md", &format!("# {name}\n"))
    .write(".gitignore", "*.egg-info/\n")
    .write(&format!("{}/__init__.py", name.replace('-', "_")), "VALUE = 1\n");
    r.commit("release 1.0.0");
    r.tag("v1.0.0");
    r
}

#[test]
fn honest_sdist_is_verified_by_rebuild() {
    let fx = Fixture::new();
    let r = project(
        &fx,
        "rb-honest",
        "from setuptools import setup\n\nsetup()\n",
    );
    let sdist = fx.sdist(&r, "");
    fx.publish("a", "rb-honest", &[(&sdist, None)], false);
    let (code, v) = fx.verify_with(
        "a",
        "pypi:rb-honest@1.0.0",
        &["--mode", "rebuild", "--no-db"],
    );
    let res = result(&v);
    assert_eq!(res["verdict"], "verified", "{res:#}");
    assert_eq!(code, 0);
    assert_eq!(
        res["rebuild"]["packager"],
        "setuptools.build_meta:__legacy__"
    );
    assert!(
        res["rebuild"]["packager_version"]
            .as_str()
            .unwrap()
            .starts_with("setuptools "),
        "{res:#}"
    );
    assert!(res["stats"]["files"].as_u64().unwrap() >= 8, "{res:#}");
}

/// Publish `rb-meta` repacked by `edit`; the diff-mode and rebuild-mode reports.
fn tampered(
    edit: impl FnOnce(&mut Vec<(String, Vec<u8>)>),
) -> (serde_json::Value, serde_json::Value) {
    let fx = Fixture::new();
    let r = project(&fx, "rb-meta", "from setuptools import setup\n\nsetup()\n");
    let sdist = fx.sdist(&r, "");
    let tampered = fx.root().join("dist").join("rb-meta-1.0.0.tar.gz");
    repack(&sdist, &tampered, edit);
    fx.publish("a", "rb-meta", &[(&tampered, None)], false);
    let (_, diff) = fx.verify_with("a", "pypi:rb-meta@1.0.0", &["--no-db"]);
    let (code, rebuilt) =
        fx.verify_with("a", "pypi:rb-meta@1.0.0", &["--mode", "rebuild", "--no-db"]);
    assert_eq!(
        result(&rebuilt)["verdict"],
        "mismatch",
        "{:#}",
        result(&rebuilt)
    );
    assert_eq!(code, 1);
    (diff, rebuilt)
}

#[test]
fn an_added_entry_point_in_egg_info_is_caught_only_by_rebuild() {
    let (diff, v) = tampered(|entries| {
        set(
            entries,
            "rb-meta-1.0.0/rb_meta.egg-info/entry_points.txt",
            b"[console_scripts]\npip = rb_meta:VALUE\n",
        );
    });
    assert_eq!(result(&diff)["verdict"], "verified", "{:#}", result(&diff));
    let f = with_code(&v, "file-not-in-source");
    assert_eq!(f.len(), 1, "{:#}", result(&v));
    assert_eq!(f[0]["path"], "rb_meta.egg-info/entry_points.txt");
    assert_eq!(f[0]["mode"], "rebuild");
}

#[test]
fn pkg_info_that_gained_a_dependency_differs_from_the_rebuilt_one() {
    let (_, v) = tampered(|entries| {
        let (_, pkg_info) = entries
            .iter()
            .find(|(p, _)| p == "rb-meta-1.0.0/PKG-INFO")
            .unwrap()
            .clone();
        let text = String::from_utf8(pkg_info).unwrap().replacen(
            "Version: 1.0.0\n",
            "Version: 1.0.0\nRequires-Dist: evil-helper\n",
            1,
        );
        set(entries, "rb-meta-1.0.0/PKG-INFO", text.as_bytes());
    });
    let f = with_code(&v, "content-differs");
    assert_eq!(f.len(), 1, "{:#}", result(&v));
    assert_eq!(f[0]["path"], "PKG-INFO");
    assert_eq!(f[0]["mode"], "rebuild");
    assert!(f[0]["diff"]
        .as_str()
        .unwrap()
        .contains("+Requires-Dist: evil-helper"));
}

#[test]
fn a_backend_that_is_not_installed_is_rebuild_failed_naming_it() {
    let fx = Fixture::new();
    fx.repo("rb-hatch").write(
        "pyproject.toml",
        "[build-system]\nrequires = [\"provero-absent-backend\"]\nbuild-backend = \"provero_absent_backend.build\"\n",
    );
    let r2 = project(&fx, "rb-hatch", "from setuptools import setup\n\nsetup()\n");
    let sdist = fx.sdist(&r2, "");
    fx.publish("a", "rb-hatch", &[(&sdist, None)], false);
    let (code, v) = fx.verify_with(
        "a",
        "pypi:rb-hatch@1.0.0",
        &["--mode", "rebuild", "--no-db"],
    );
    assert_eq!(result(&v)["verdict"], "unverifiable", "{:#}", result(&v));
    assert_eq!(code, 0);
    let f = with_code(&v, "rebuild-failed");
    let m = f[0]["message"].as_str().unwrap();
    assert!(
        m.contains("`provero_absent_backend.build`") && m.contains("not installed"),
        "{m}"
    );
}

#[test]
fn setup_py_cannot_write_outside_or_reach_the_network() {
    let fx = Fixture::new();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let marker = fx.root().join("escaped.txt");
    // The publisher's own build sets PROVERO_TEST_PUBLISHING; the sandbox clears the
    // environment, so the rebuild is where the attack runs.
    // The attack reports what happened and stops the build, so the log tail in the
    // `rebuild-failed` finding shows it ran, inside the sandbox.
    let setup_py = format!(
        "import os, socket\nfrom setuptools import setup\n\n\
         if 'PROVERO_TEST_PUBLISHING' not in os.environ:\n\
         \x20   seen = []\n\
         \x20   try:\n        open({marker:?}, 'w').write('escaped')\n        seen.append('wrote outside')\n\
         \x20   except OSError as e:\n        seen.append('write blocked (%s)' % e.strerror)\n\
         \x20   try:\n        socket.create_connection(('127.0.0.1', {port}), timeout=3)\n        seen.append('connected')\n\
         \x20   except OSError as e:\n        seen.append('connect blocked (%s)' % e.strerror)\n\
         \x20   raise SystemExit('provero-attack: ' + '; '.join(seen))\n\n\
         setup()\n",
        marker = marker.display().to_string(),
    );
    let r = project(&fx, "rb-hostile", &setup_py);
    let out = fx.root().join("dist").join("hostile");
    let o = Command::new("python3")
        .args(["setup.py", "-q", "sdist", "-d"])
        .arg(&out)
        .current_dir(&r.dir)
        .env("PROVERO_TEST_PUBLISHING", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let sdist = out.join("rb-hostile-1.0.0.tar.gz");
    fx.publish("a", "rb-hostile", &[(&sdist, None)], false);
    let (_, v) = fx.verify_with(
        "a",
        "pypi:rb-hostile@1.0.0",
        &["--mode", "rebuild", "--no-db"],
    );
    let res = result(&v);
    assert_eq!(res["verdict"], "unverifiable", "{res:#}");
    let f = with_code(&v, "rebuild-failed");
    let m = f[0]["message"].as_str().unwrap();
    // Inside, a write outside the build directory lands at best in the sandbox's private
    // /tmp; the host never sees it.
    assert!(
        m.contains("provero-attack: ") && m.contains("connect blocked"),
        "{m}"
    );
    assert!(!marker.exists(), "setup.py wrote outside its directory");
    match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("a connection arrived from the sandbox: {other:?}"),
    }
}

#[test]
fn a_legacy_zip_sdist_is_compared_with_its_tar_gz_rebuild() {
    let fx = Fixture::new();
    let r = project(&fx, "rb-zip", "from setuptools import setup\n\nsetup()\n");
    let sdist = fx.sdist_as(&r, "", "zip");
    assert!(sdist.to_string_lossy().ends_with(".zip"));
    fx.publish("a", "rb-zip", &[(&sdist, None)], false);
    let (_, v) = fx.verify_with("a", "pypi:rb-zip@1.0.0", &["--mode", "rebuild", "--no-db"]);
    let res = result(&v);
    assert_eq!(res["verdict"], "verified", "{res:#}");
    assert_eq!(res["rebuild"]["bit_for_bit"], false);
}

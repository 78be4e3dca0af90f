//! Rebuilding an sdist with the PEP 517 build backend the project declares
//! (`[build-system] build-backend` in `pyproject.toml`; `setuptools.build_meta:__legacy__`
//! without one). There is no network in the sandbox, so the backend must be installed for the
//! interpreter provero finds (like `python -m build --no-isolation`): provero calls the
//! backend's `build_sdist` hook itself. A backend that is not installed is `rebuild-failed`
//! naming it. Wheels are not rebuilt: a platform wheel is compiled code.

use std::path::PathBuf;

use async_trait::async_trait;

use crate::rebuild::stabilizers::{PkgInfoHeaderOrder, PkgInfoMetadataVersion, Stabilizer};
use crate::rebuild::{Failure, Plan, PlanCx, Rebuilder};

pub struct Pep517Sdist;

/// Without `[build-system]`, PEP 517 frontends fall back to this.
const LEGACY_BACKEND: &str = "setuptools.build_meta:__legacy__";

/// Runs inside the sandbox: import the backend (from `backend-path` first), call its hook.
const HOOK: &str = r#"import importlib, json, os, sys
backend, backend_path, out = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
for p in reversed(backend_path):
    sys.path.insert(0, os.path.abspath(p))
mod, _, obj = backend.partition(":")
try:
    hooks = importlib.import_module(mod)
except ImportError as e:
    print("provero: the build backend `%s` cannot be imported: %s" % (backend, e), file=sys.stderr)
    sys.exit(3)
for attr in filter(None, obj.split(".")):
    hooks = getattr(hooks, attr)
print("provero: built", hooks.build_sdist(out, {}))
"#;

/// The interpreter: its executable and the prefixes it reads its library from.
fn python() -> Option<(PathBuf, Vec<PathBuf>)> {
    let py = crate::rebuild::sandbox::which("python3")?;
    let out = std::process::Command::new(&py)
        .args([
            "-I",
            "-c",
            "import sys; print(sys.executable); print(sys.prefix); print(sys.base_prefix)",
        ])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut lines = text.lines().map(PathBuf::from);
    let exe = lines.next()?;
    Some((exe, lines.collect()))
}

/// The distribution that provides a backend module, for its version.
fn backend_distribution(module: &str) -> String {
    match module {
        m if m.starts_with("poetry.core") => "poetry-core".into(),
        m if m.starts_with("pdm.backend") => "pdm-backend".into(),
        m => m.split('.').next().unwrap_or(m).to_string(),
    }
}

#[async_trait]
impl Rebuilder for Pep517Sdist {
    async fn plan(&self, cx: &PlanCx<'_>) -> Result<Plan, Failure> {
        if cx.resolved.filename.ends_with(".whl") {
            return Err(Failure::NotComparable(
                "rebuild mode rebuilds sdists; a wheel is not rebuilt (use --pypi-artifact sdist)"
                    .into(),
            ));
        }
        let dir = cx.pkg_path();
        let pyproject = std::fs::read_to_string(dir.join("pyproject.toml"))
            .ok()
            .and_then(|s| toml::from_str::<toml::Value>(&s).ok());
        let system = pyproject.as_ref().and_then(|p| p.get("build-system"));
        let backend = system
            .and_then(|s| s.get("build-backend"))
            .and_then(|b| b.as_str())
            .unwrap_or(LEGACY_BACKEND)
            .to_string();
        let backend_path: Vec<String> = system
            .and_then(|s| s.get("backend-path"))
            .and_then(|b| b.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        if backend_path
            .iter()
            .any(|p| p.starts_with('/') || p.split('/').any(|c| c == ".."))
        {
            return Err(Failure::Failed(format!(
                "`backend-path` {backend_path:?} leaves the project directory"
            )));
        }
        let Some((exe, prefixes)) = python() else {
            return Err(Failure::Failed(
                "rebuild of an sdist needs `python3` (not found on PATH)".into(),
            ));
        };
        let module = backend.split(':').next().unwrap_or(&backend).to_string();
        let dist = backend_distribution(&module);
        // Asked of the host interpreter: importlib only looks the module up, nothing runs.
        let probe = std::process::Command::new(&exe)
            .args([
                "-I",
                "-c",
                "import importlib.util, importlib.metadata, sys\n\
                 spec = importlib.util.find_spec(sys.argv[1].split('.')[0])\n\
                 if spec is None: sys.exit(3)\n\
                 try: print(importlib.metadata.version(sys.argv[2]))\n\
                 except Exception: print('')",
                &module,
                &dist,
            ])
            .output()
            .map_err(|e| Failure::Failed(format!("could not run {}: {e}", exe.display())))?;
        let in_tree = !backend_path.is_empty();
        if !probe.status.success() && !in_tree {
            return Err(Failure::Failed(format!(
                "the project's build backend `{backend}` is not installed for {} (install `{dist}`; rebuilds have no network)",
                exe.display()
            )));
        }
        let version = String::from_utf8_lossy(&probe.stdout).trim().to_string();
        let out = cx.scratch.join("dist");
        std::fs::create_dir_all(&out).map_err(|e| Failure::Failed(e.to_string()))?;
        let hook = cx.scratch.join("provero_build_sdist.py");
        std::fs::write(&hook, HOOK).map_err(|e| Failure::Failed(e.to_string()))?;
        Ok(Plan {
            packager: backend.clone(),
            packager_version: if version.is_empty() {
                String::new()
            } else {
                format!("{dist} {version}")
            },
            argv: vec![
                exe.display().to_string(),
                hook.display().to_string(),
                backend,
                serde_json::to_string(&backend_path).unwrap_or_else(|_| "[]".into()),
                out.display().to_string(),
            ],
            cwd: dir,
            env: vec![
                ("PYTHONDONTWRITEBYTECODE".into(), "1".into()),
                ("PYTHONNOUSERSITE".into(), "1".into()),
            ],
            path: exe
                .parent()
                .map(|p| vec![p.to_path_buf()])
                .unwrap_or_default(),
            read_only: prefixes,
            output_dir: out,
            output_suffix: ".tar.gz".into(),
            data: Box::new(()),
        })
    }

    fn stabilizers(&self) -> Vec<Box<dyn Stabilizer>> {
        vec![
            Box::new(PkgInfoMetadataVersion),
            Box::new(PkgInfoHeaderOrder),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_distributions() {
        assert_eq!(backend_distribution("setuptools.build_meta"), "setuptools");
        assert_eq!(backend_distribution("hatchling.build"), "hatchling");
        assert_eq!(
            backend_distribution("poetry.core.masonry.api"),
            "poetry-core"
        );
    }
}

//! Bytecode (`.pyc`) in an sdist is what Python runs in place of the `.py` beside it, so it is
//! never excused by its name. provero compiles the artifact's `.py` with the Python whose magic
//! number the header names (compiling parses, it runs nothing) and compares the code objects
//! in Rust (`marshal.rs`); only the same code is excused, and the result says so. Without that
//! Python the file is `not-comparable`; bytecode of another source is a red flag.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};

use super::marshal::{self, layout};
use crate::compare::{FileCx, Outcome, Rule, Status};
use crate::finding::{Code, Finding};
use crate::git::GitError;

pub fn rules() -> Vec<Box<dyn Rule>> {
    vec![Box::new(Recompiled)]
}

/// The `.py` a bytecode file was compiled from and the optimisation level its name records:
/// `d/__pycache__/m.cpython-311.opt-1.pyc` → (`d/m.py`, 1); legacy `d/m.pyc` → (`d/m.py`, 0).
pub fn source_of(path: &str) -> Option<(String, u8)> {
    let stem = path.strip_suffix(".pyc")?;
    let (dir, file) = stem.rsplit_once('/').unwrap_or(("", stem));
    if let Some(parent) = dir.strip_suffix("__pycache__") {
        let parent = parent.strip_suffix('/').unwrap_or(parent);
        let mut parts = file.split('.');
        let module = parts.next()?;
        let _tag = parts.next()?;
        let opt = match parts.next() {
            None => 0,
            Some(o) => o.strip_prefix("opt-")?.parse().ok()?,
        };
        if parts.next().is_some() || module.is_empty() {
            return None;
        }
        let py = if parent.is_empty() {
            format!("{module}.py")
        } else {
            format!("{parent}/{module}.py")
        };
        return Some((py, opt));
    }
    (!file.is_empty()).then(|| (format!("{stem}.py"), 0))
}

/// The Python 3 minor version that wrote magic number `n` (CPython's
/// `Lib/importlib/_bootstrap_external.py` table; alpha and beta numbers included).
pub fn minor_for_magic(n: u16) -> Option<u8> {
    Some(match n {
        3000..=3139 => 0,
        3140..=3159 => 1,
        3160..=3189 => 2,
        3190..=3239 => 3,
        3250..=3319 => 4,
        3320..=3359 => 5,
        3360..=3389 => 6,
        3390..=3399 => 7,
        3400..=3419 => 8,
        3420..=3429 => 9,
        3430..=3449 => 10,
        3450..=3499 => 11,
        3500..=3549 => 12,
        3550..=3599 => 13,
        3600..=3649 => 14,
        _ => return None,
    })
}

/// Python 1.5 to 2.7 magic numbers (20121 … 62211), followed by `\r\n`.
fn python2_magic(data: &[u8]) -> bool {
    data.len() >= 8
        && data[2..4] == *b"\r\n"
        && (20121..=62218).contains(&u16::from_le_bytes([data[0], data[1]]))
}

/// A `.pyc` header (PEP 552 for 3.7+: magic, flags, then mtime and size or a source hash).
#[derive(Debug, PartialEq, Eq)]
pub struct Header {
    pub magic: [u8; 4],
    pub minor: u8,
    /// The source size the header records (timestamp-based bytecode only).
    pub source_size: Option<u32>,
    /// Where the marshalled code starts.
    pub body: usize,
}

pub fn header(data: &[u8]) -> Option<Header> {
    let magic: [u8; 4] = data.get(..4)?.try_into().ok()?;
    if magic[2..] != *b"\r\n" {
        return None;
    }
    let minor = minor_for_magic(u16::from_le_bytes([magic[0], magic[1]]))?;
    let word = |at: usize| -> Option<u32> {
        Some(u32::from_le_bytes(data.get(at..at + 4)?.try_into().ok()?))
    };
    let (source_size, body) = match minor {
        0..=2 => (None, 8),
        3..=6 => (word(8), 12),
        _ => match word(4)? {
            0 => (word(12), 16),
            1 | 3 => (None, 16),
            _ => return None,
        },
    };
    (data.len() >= body).then_some(Header {
        magic,
        minor,
        source_size,
        body,
    })
}

/// The interpreters found on `PATH` for each magic number, looked up once per run.
fn interpreter(magic: [u8; 4], minor: u8) -> Option<PathBuf> {
    static FOUND: OnceLock<Mutex<HashMap<[u8; 4], Option<PathBuf>>>> = OnceLock::new();
    let map = FOUND.get_or_init(Default::default);
    if let Some(v) = map.lock().expect("interpreters").get(&magic) {
        return v.clone();
    }
    // The real executable (`sys.executable`), not a launcher such as a pyenv shim: the
    // compilation runs with a cleared environment.
    let found = [format!("python3.{minor}"), "python3".to_string()]
        .into_iter()
        .find_map(|name| {
            let out = Command::new(&name)
                .args(["-I", "-c", "import importlib.util,sys;print(importlib.util.MAGIC_NUMBER.hex());print(sys.executable)"])
                .stdin(Stdio::null())
                .stderr(Stdio::null())
                .output()
                .ok()?;
            let text = String::from_utf8(out.stdout).ok()?;
            let mut lines = text.lines();
            (out.status.success() && lines.next()? == hex::encode(magic))
                .then(|| lines.next().map(PathBuf::from))
                .flatten()
                .filter(|p| p.is_absolute())
        });
    tracing::debug!(
        ?found,
        minor,
        "python for bytecode magic {}",
        hex::encode(magic)
    );
    map.lock()
        .expect("interpreters")
        .insert(magic, found.clone());
    found
}

/// Stands in for the build machine's path in `co_filename`.
const PLACEHOLDER: &str = "<provero-recompiled-placeholder>";

/// `marshal.dumps(compile(source, PLACEHOLDER, 'exec', dont_inherit=True, optimize=opt))`, as
/// `importlib` compiles a module. The source goes in on stdin; nothing of it is executed.
fn compile(python: &PathBuf, source: &[u8], opt: u8) -> Result<Vec<u8>, String> {
    let script = format!(
        "import marshal,sys\nsrc=sys.stdin.buffer.read()\n\
         sys.stdout.buffer.write(marshal.dumps(compile(src,{PLACEHOLDER:?},'exec',dont_inherit=True,optimize={opt})))"
    );
    let mut child = Command::new(python)
        .args(["-I", "-S", "-c", &script])
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    let mut stdin = child.stdin.take().expect("piped");
    let input = source.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child
        .wait_with_output()
        .map_err(|e| format!("{}: {e}", python.display()))?;
    let _ = writer.join();
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.lines().last().unwrap_or("").trim().to_string();
        return Err(format!("{} cannot compile it: {last}", python.display()));
    }
    Ok(out.stdout)
}

/// What recompiling the `.py` showed.
#[derive(Debug, PartialEq, Eq)]
pub enum Recompile {
    Same,
    Different(String),
    /// The comparison could not be made here (why).
    Cannot(String),
}

/// Compare bytecode `pyc` with what `python_source` compiles to (at optimisation `opt`).
pub fn recompile(pyc: &[u8], python_source: &[u8], opt: u8) -> Recompile {
    let Some(h) = header(pyc) else {
        if python2_magic(pyc) {
            return Recompile::Cannot(
                "it is Python 2 bytecode, which provero does not read".into(),
            );
        }
        return Recompile::Different("its header is not a CPython bytecode header".into());
    };
    if let Some(size) = h.source_size {
        if size != python_source.len() as u32 {
            return Recompile::Different(format!(
                "its header records a source of {size} bytes, the .py has {}",
                python_source.len()
            ));
        }
    }
    let Some(layout) = layout(h.minor) else {
        return Recompile::Cannot(format!(
            "bytecode of Python 3.{} cannot be read by provero",
            h.minor
        ));
    };
    let Some(theirs) = marshal::read(&pyc[h.body..], layout) else {
        return Recompile::Different("its code is not a well-formed marshal stream".into());
    };
    let Some(python) = interpreter(h.magic, h.minor) else {
        return Recompile::Cannot(format!(
            "it is bytecode of Python 3.{} (magic {}) and no python3.{} with that magic number is installed here to recompile the .py",
            h.minor,
            u16::from_le_bytes([h.magic[0], h.magic[1]]),
            h.minor
        ));
    };
    let ours = match compile(&python, python_source, opt) {
        Ok(b) => b,
        Err(e) => return Recompile::Cannot(e),
    };
    let Some(ours) = marshal::read(&ours, layout) else {
        return Recompile::Cannot(format!(
            "{} wrote bytecode provero cannot read",
            python.display()
        ));
    };
    if marshal::same_code(&ours, &theirs, PLACEHOLDER.as_bytes(), layout) {
        Recompile::Same
    } else {
        Recompile::Different(format!(
            "it is not the code {} compiles the .py to",
            python.display()
        ))
    }
}

/// Bytecode whose code is exactly what its `.py` (in the artifact) compiles to under the
/// Python its magic number names.
pub struct Recompiled;

impl Rule for Recompiled {
    fn name(&self) -> &'static str {
        "python-bytecode-recompiled"
    }
    fn reason(&self) -> &'static str {
        "provero compiled the .py beside this bytecode with the Python its magic number names and got the same code"
    }
    fn judge(&self, cx: &FileCx<'_>) -> Result<Option<Outcome>, GitError> {
        if !matches!(cx.status, Status::Missing { .. } | Status::Differs { .. }) {
            return Ok(None);
        }
        let (Some((py, opt)), Some(pyc)) = (source_of(cx.path), cx.data()) else {
            return Ok(None);
        };
        // Without its .py in the artifact, bytecode is a file no source shows.
        let Some(source) = cx.files().data(&py) else {
            return Ok(None);
        };
        Ok(Some(match recompile(pyc, source, opt) {
            Recompile::Same => {
                tracing::info!(
                    path = cx.path,
                    py,
                    "bytecode recompiled from its .py: same code"
                );
                Outcome::Excused
            }
            Recompile::Different(why) => Outcome::Finding(Finding::at(
                Code::FileNotInSource,
                cx.path,
                format!("bytecode that is not compiled from `{py}`: {why}"),
            )),
            Recompile::Cannot(why) => Outcome::Finding(Finding::at(
                Code::NotComparable,
                cx.path,
                format!("bytecode of `{py}` that provero could not recompile: {why}"),
            )),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_paths_from_bytecode_names() {
        assert_eq!(
            source_of("pkg/__pycache__/mod.cpython-311.pyc"),
            Some(("pkg/mod.py".into(), 0))
        );
        assert_eq!(
            source_of("__pycache__/mod.cpython-39.opt-2.pyc"),
            Some(("mod.py".into(), 2))
        );
        assert_eq!(source_of("pkg/mod.pyc"), Some(("pkg/mod.py".into(), 0)));
        assert_eq!(source_of("pkg/__pycache__/mod.cpython-311.bad.pyc"), None);
        assert_eq!(source_of("pkg/mod.py"), None);
    }

    #[test]
    fn headers_by_version() {
        assert_eq!(minor_for_magic(3495), Some(11));
        assert_eq!(minor_for_magic(3379), Some(6));
        assert_eq!(minor_for_magic(62211), None);
        let mut pyc = vec![
            0xa7, 0x0d, b'\r', b'\n', 0, 0, 0, 0, 1, 0, 0, 0, 42, 0, 0, 0,
        ];
        pyc.push(b'N');
        let h = header(&pyc).unwrap();
        assert_eq!((h.minor, h.source_size, h.body), (11, Some(42), 16));
        assert!(header(b"\xa7\x0d\n\n").is_none());
        assert!(header(b"\xa7\x0d\r\n").is_none());
        // Python 2.7's magic is recognised as such, and never read.
        let py27 = [0x03, 0xf3, b'\r', b'\n', 0, 0, 0, 0, b'c'];
        assert!(python2_magic(&py27) && header(&py27).is_none());
        assert!(matches!(recompile(&py27, b"", 0), Recompile::Cannot(_)));
    }

    /// Bytecode written by this machine's python3 (py_compile, as a build leaves it) is the
    /// same code; one of another source is not, nor one whose size disagrees.
    #[test]
    fn recompiling_with_the_local_python() {
        let dir = tempfile::tempdir().unwrap();
        let py = dir.path().join("m.py");
        let source = b"import os\n\ndef f(x):\n    '''doc'''\n    return [os.sep * i for i in range(x)]\n\nclass C:\n    a = {1: 'one', 'two': (2.5, None)}\n";
        std::fs::write(&py, source).unwrap();
        let pyc = dir.path().join("m.pyc");
        let ok = Command::new("python3")
            .args(["-c", "import py_compile,sys;py_compile.compile(sys.argv[1],cfile=sys.argv[2],doraise=True)"])
            .arg(&py)
            .arg(&pyc)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("skipped: python3 cannot run py_compile here");
            return;
        }
        let bytes = std::fs::read(&pyc).unwrap();
        assert_eq!(recompile(&bytes, source, 0), Recompile::Same);
        let other = b"import os\n\ndef f(x):\n    '''doc'''\n    return [os.sep * i for i in range(9)]\n\nclass C:\n    a = {1: 'one', 'two': (2.5, None)}\n";
        assert!(matches!(
            recompile(&bytes, other, 0),
            Recompile::Different(_)
        ));
        assert!(matches!(
            recompile(&bytes, b"x = 1\n", 0),
            Recompile::Different(_)
        ));
    }
}

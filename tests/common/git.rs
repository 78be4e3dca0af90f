//! Git fixtures: repositories with fixed identities and dates, independent
//! of the machine's global or system git configuration.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Environment every git (and cargo) child gets, so results do not depend
/// on the user's configuration and commit ids are reproducible.
pub const GIT_ENV: &[(&str, &str)] = &[
    ("GIT_CONFIG_GLOBAL", "/dev/null"),
    ("GIT_CONFIG_NOSYSTEM", "1"),
    ("GIT_AUTHOR_NAME", "Provero Test"),
    ("GIT_AUTHOR_EMAIL", "test@provero.invalid"),
    ("GIT_AUTHOR_DATE", "2024-01-02T03:04:05Z"),
    ("GIT_COMMITTER_NAME", "Provero Test"),
    ("GIT_COMMITTER_EMAIL", "test@provero.invalid"),
    ("GIT_COMMITTER_DATE", "2024-01-02T03:04:05Z"),
    ("GIT_TERMINAL_PROMPT", "0"),
    ("LC_ALL", "C"),
];

/// A `git` command running in `dir` with the hermetic environment.
pub fn git_command(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.current_dir(dir)
        .args(["-c", "init.defaultBranch=main"])
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE");
    for (k, v) in GIT_ENV {
        cmd.env(k, v);
    }
    cmd
}

/// Run git in `dir`, panic with its stderr on failure, return trimmed stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = git_command(dir)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("spawning git {args:?}: {e}"));
    assert!(
        out.status.success(),
        "git {args:?} in {} failed: {}\n{}",
        dir.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A repository on disk (a work tree, or a bare repository).
#[derive(Clone, Debug)]
pub struct Repo {
    pub path: PathBuf,
}

impl Repo {
    /// `git init -b main` at `path` with a local identity.
    pub fn init(path: impl Into<PathBuf>) -> Repo {
        let path = path.into();
        std::fs::create_dir_all(&path).unwrap();
        git(&path, &["init", "-q", "-b", "main"]);
        let repo = Repo { path };
        repo.config("user.name", "Provero Test");
        repo.config("user.email", "test@provero.invalid");
        repo.config("commit.gpgsign", "false");
        repo.config("tag.gpgsign", "false");
        repo.config("core.autocrlf", "false");
        repo
    }

    pub fn git(&self, args: &[&str]) -> String {
        git(&self.path, args)
    }

    pub fn config(&self, key: &str, value: &str) {
        self.git(&["config", key, value]);
    }

    /// Write a file (creating parent directories), relative to the work tree.
    pub fn write(&self, rel: &str, contents: impl AsRef<[u8]>) -> &Self {
        let p = self.path.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        // Replace a symlink instead of writing through it.
        if p.symlink_metadata().is_ok() {
            std::fs::remove_file(&p).unwrap();
        }
        std::fs::write(&p, contents).unwrap();
        self
    }

    pub fn read(&self, rel: &str) -> Vec<u8> {
        std::fs::read(self.path.join(rel)).unwrap()
    }

    pub fn remove(&self, rel: &str) -> &Self {
        std::fs::remove_file(self.path.join(rel)).unwrap();
        self
    }

    /// Create a symlink `rel -> target` (file or directory link alike).
    pub fn symlink(&self, rel: &str, target: &str) -> &Self {
        let p = self.path.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(target, &p).unwrap();
        self
    }

    /// `git add -A && git commit`, returning the new HEAD.
    pub fn commit_all(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.head()
    }

    pub fn head(&self) -> String {
        self.rev_parse("HEAD")
    }

    /// Full commit id of `rev` (tags are peeled to their commit).
    pub fn rev_parse(&self, rev: &str) -> String {
        self.git(&["rev-parse", &format!("{rev}^{{commit}}")])
    }

    pub fn has_commit(&self, sha: &str) -> bool {
        git_command(&self.path)
            .args(["cat-file", "-e", &format!("{sha}^{{commit}}")])
            .output()
            .unwrap()
            .status
            .success()
    }

    /// Lightweight tag at `rev`.
    pub fn tag(&self, name: &str, rev: &str) -> &Self {
        self.git(&["tag", name, rev]);
        self
    }

    /// Annotated tag at `rev`.
    pub fn tag_annotated(&self, name: &str, rev: &str, message: &str) -> &Self {
        self.git(&["tag", "-a", name, "-m", message, rev]);
        self
    }

    pub fn delete_tag(&self, name: &str) -> &Self {
        self.git(&["tag", "-d", name]);
        self
    }

    /// Create branch `name` at `rev` without checking it out.
    pub fn branch(&self, name: &str, rev: &str) -> &Self {
        self.git(&["branch", name, rev]);
        self
    }

    pub fn delete_branch(&self, name: &str) -> &Self {
        self.git(&["branch", "-D", name]);
        self
    }

    pub fn checkout(&self, name: &str) -> &Self {
        self.git(&["checkout", "-q", name]);
        self
    }

    pub fn checkout_new(&self, name: &str) -> &Self {
        self.git(&["checkout", "-q", "-b", name]);
        self
    }

    /// Copy this repository (all branches and tags) into a new bare
    /// repository at `dest`, configured like a GitHub upstream: partial
    /// clone filters and fetching any reachable-or-not sha allowed.
    pub fn make_bare_upstream(&self, dest: &Path) -> Repo {
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        git(
            dest.parent().unwrap(),
            &[
                "clone",
                "-q",
                "--bare",
                "--no-local",
                self.path.to_str().unwrap(),
                dest.to_str().unwrap(),
            ],
        );
        let bare = Repo {
            path: dest.to_path_buf(),
        };
        bare.serve_like_github();
        bare
    }

    /// `uploadpack.allowFilter` and `uploadpack.allowAnySHA1InWant`, as
    /// GitHub serves them.
    pub fn serve_like_github(&self) {
        self.config("uploadpack.allowFilter", "true");
        self.config("uploadpack.allowAnySHA1InWant", "true");
        self.config("uploadpack.allowReachableSHA1InWant", "true");
        self.config("uploadpack.allowTipSHA1InWant", "true");
    }

    /// Push refspecs to another local repository (by path).
    pub fn push_to(&self, other: &Repo, refspecs: &[&str]) {
        let mut args = vec!["push", "-q", other.path.to_str().unwrap()];
        args.extend_from_slice(refspecs);
        self.git(&args);
    }
}

//! A small harness that reads like a sentence: `dk().args([..]).run().success()`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A fixed clock so generated trees are byte-identical between runs.
pub const EPOCH: &str = "1700000000";

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn example(name: &str) -> PathBuf {
    repo_root().join("examples").join(name)
}

pub struct Dk {
    args: Vec<OsString>,
    dir: Option<PathBuf>,
    env: Vec<(String, String)>,
}

pub fn dk() -> Dk {
    Dk {
        args: Vec::new(),
        dir: None,
        env: Vec::new(),
    }
}

impl Dk {
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }
    pub fn current_dir(mut self, dir: &Path) -> Self {
        self.dir = Some(dir.to_path_buf());
        self
    }
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }
    pub fn run(self) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_dieselkit"));
        cmd.args(&self.args)
            .env("SOURCE_DATE_EPOCH", EPOCH)
            .env("NO_COLOR", "1")
            .env_remove("DATABASE_URL")
            .env_remove("MIGRATION_DATABASE_URL")
            // No terminal: the CLI must never wait for input.
            .stdin(Stdio::null());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        if let Some(dir) = &self.dir {
            cmd.current_dir(dir);
        }
        let output = cmd.output().expect("run dieselkit");
        Run {
            description: format!("dieselkit {:?}", self.args),
            output,
        }
    }
}

pub struct Run {
    description: String,
    pub output: Output,
}

impl Run {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }
    pub fn code(&self) -> i32 {
        self.output.status.code().unwrap_or(-1)
    }
    fn expect_code(self, code: i32) -> Self {
        assert_eq!(
            self.code(),
            code,
            "{} exited {} (expected {code})\n--- stdout\n{}\n--- stderr\n{}",
            self.description,
            self.code(),
            self.stdout(),
            self.stderr()
        );
        self
    }
    pub fn success(self) -> Self {
        self.expect_code(0)
    }
    pub fn usage_error(self) -> Self {
        self.expect_code(2)
    }
    pub fn failure(self) -> Self {
        self.expect_code(1)
    }
    pub fn stderr_has(self, needle: &str) -> Self {
        assert!(
            self.stderr().contains(needle),
            "{}: stderr lacks {needle:?}\n--- stderr\n{}",
            self.description,
            self.stderr()
        );
        self
    }
}

/// Every file under `dir` (relative path, bytes), sorted.
pub fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        for entry in std::fs::read_dir(dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .expect("prefix")
                    .to_string_lossy()
                    .replace('\\', "/");
                out.push((rel, std::fs::read(&path).expect("read")));
            }
        }
    }
    let mut out = Vec::new();
    if dir.exists() {
        walk(dir, dir, &mut out);
    }
    out.sort();
    out
}

/// The shared target directory for generated projects, so their dependencies compile once.
pub fn generated_target_dir() -> PathBuf {
    std::env::var_os("DIESELKIT_TEST_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target").join("generated"))
}

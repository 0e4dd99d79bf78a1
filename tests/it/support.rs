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
    pub fn expect_exit(self, code: i32) -> Self {
        self.expect_code(code)
    }
    pub fn stdout_has(self, needle: &str) -> Self {
        assert!(
            self.stdout().contains(needle),
            "{}: stdout lacks {needle:?}\n--- stdout\n{}",
            self.description,
            self.stdout()
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

/// A skipped test says so on the terminal, past the test harness's output capture (which
/// only takes `print!`/`eprint!`), so a summary of `ok`s cannot hide it.
pub fn skip_notice(what: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "SKIPPED {what}");
}

/// The shared target directory for generated projects, so their dependencies compile once:
/// `DIESELKIT_TEST_TARGET_DIR`, else `generated/` in `CARGO_TARGET_DIR` or `target/`.
pub fn generated_target_dir() -> PathBuf {
    std::env::var_os("DIESELKIT_TEST_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| repo_root().join("target"))
                .join("generated")
        })
}

/// A uniquely named database on a real server, created for one test and dropped when the
/// test ends. Server URLs come from `DIESELKIT_TEST_POSTGRES_URL` and
/// `DIESELKIT_TEST_MYSQL_URL` (without a database name, e.g.
/// `postgres://postgres@127.0.0.1:5432`). Without them a test is skipped with a notice,
/// except under `CI=true`, where a missing server is a failure.
pub struct TestDb {
    pub url: String,
    admin_url: String,
    name: String,
    kind: ServerKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerKind {
    Postgres,
    Mysql,
}

impl ServerKind {
    fn env_var(self) -> &'static str {
        match self {
            ServerKind::Postgres => "DIESELKIT_TEST_POSTGRES_URL",
            ServerKind::Mysql => "DIESELKIT_TEST_MYSQL_URL",
        }
    }
}

fn admin_exec(kind: ServerKind, admin_url: &str, sql: &str) -> Result<(), String> {
    use diesel::{Connection, RunQueryDsl};
    match kind {
        ServerKind::Postgres => {
            let mut c = diesel::PgConnection::establish(admin_url).map_err(|e| e.to_string())?;
            diesel::sql_query(sql)
                .execute(&mut c)
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
        ServerKind::Mysql => {
            let mut c = diesel::MysqlConnection::establish(admin_url).map_err(|e| e.to_string())?;
            diesel::sql_query(sql)
                .execute(&mut c)
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
    }
}

impl TestDb {
    /// A fresh database on `kind`'s server, or the SQLite file `sqlite` when `kind` is
    /// None; with its URL. None (skip the test) when the server is not configured.
    pub fn or_sqlite(
        kind: Option<ServerKind>,
        test: &str,
        sqlite: &std::path::Path,
    ) -> Option<(Option<TestDb>, String)> {
        match kind {
            Some(k) => {
                let db = TestDb::new(k, test)?;
                let url = db.url.clone();
                Some((Some(db), url))
            }
            None => Some((None, sqlite.to_string_lossy().into_owned())),
        }
    }

    /// A fresh database for `test`, or None (skipped locally) when no server is configured.
    pub fn new(kind: ServerKind, test: &str) -> Option<TestDb> {
        let server = match std::env::var(kind.env_var()) {
            Ok(url) if !url.trim().is_empty() => url.trim_end_matches('/').to_string(),
            _ => {
                if std::env::var("CI").is_ok_and(|v| v == "true") {
                    panic!(
                        "{} is not set; under CI=true database tests may not be skipped",
                        kind.env_var()
                    );
                }
                skip_notice(&format!("{test}: set {} to run it", kind.env_var()));
                return None;
            }
        };
        use std::sync::atomic::{AtomicUsize, Ordering};
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "dk_{}_{}_{}",
            test.chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                .take(30)
                .collect::<String>(),
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        )
        .to_ascii_lowercase();
        let admin_url = match kind {
            ServerKind::Postgres => format!("{server}/postgres"),
            ServerKind::Mysql => format!("{server}/information_schema"),
        };
        let db = TestDb {
            url: format!("{server}/{name}"),
            admin_url,
            name,
            kind,
        };
        db.drop_database();
        Some(db)
    }

    /// Create the database now (dieselkit creates it itself when migrating).
    pub fn create(&self) {
        admin_exec(
            self.kind,
            &self.admin_url,
            &format!("CREATE DATABASE {}", self.name),
        )
        .unwrap_or_else(|e| panic!("create database {}: {e}", self.name));
    }

    fn drop_database(&self) {
        let sql = match self.kind {
            ServerKind::Postgres => format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            ServerKind::Mysql => format!("DROP DATABASE IF EXISTS {}", self.name),
        };
        if let Err(e) = admin_exec(self.kind, &self.admin_url, &sql) {
            eprintln!("warning: could not drop test database {}: {e}", self.name);
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        self.drop_database();
    }
}

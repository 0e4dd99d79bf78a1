//! The migration driver on every backend: targets, previews, stamp, the lock under
//! concurrency, SIGKILL mid-run, checksums, ordering checks, failing statements, verify.

use crate::support::{dk, Run, ServerKind, TestDb};
use std::path::Path;
use std::process::{Command, Stdio};

/// A database to migrate: a SQLite file, or a fresh PostgreSQL/MySQL database.
struct Target {
    url: String,
    kind: Option<ServerKind>,
    _db: Option<TestDb>,
    _dir: tempfile::TempDir,
    project: std::path::PathBuf,
}

fn targets(test: &str) -> Vec<Target> {
    let mut out = Vec::new();
    for kind in [None, Some(ServerKind::Postgres), Some(ServerKind::Mysql)] {
        let dir = tempfile::tempdir().expect("tempdir");
        let project = dir.path().join("project");
        std::fs::create_dir_all(project.join("migrations")).expect("mkdir");
        match kind {
            None => out.push(Target {
                url: dir.path().join("app.db").to_string_lossy().into_owned(),
                kind,
                _db: None,
                _dir: dir,
                project,
            }),
            Some(k) => {
                if let Some(db) = TestDb::new(k, test) {
                    out.push(Target {
                        url: db.url.clone(),
                        kind,
                        _db: Some(db),
                        _dir: dir,
                        project,
                    });
                }
            }
        }
    }
    out
}

impl Target {
    fn label(&self) -> &'static str {
        match self.kind {
            None => "sqlite",
            Some(ServerKind::Postgres) => "postgres",
            Some(ServerKind::Mysql) => "mysql",
        }
    }
    fn add(&self, version: &str, name: &str, up: &str, down: &str) {
        let d = self
            .project
            .join("migrations")
            .join(format!("{version}_{name}"));
        std::fs::create_dir_all(&d).expect("mkdir");
        std::fs::write(d.join("up.sql"), up).expect("up");
        std::fs::write(d.join("down.sql"), down).expect("down");
    }
    /// Three migrations creating tables t1..t3.
    fn three(&self) {
        for i in 1..=3 {
            self.add(
                &format!("2024-01-0{i}-000000"),
                &format!("create_t{i}"),
                &format!("CREATE TABLE t{i} (id INTEGER PRIMARY KEY, label VARCHAR(20));\n"),
                &format!("DROP TABLE t{i};\n"),
            );
        }
    }
    fn dk(&self, args: &[&str]) -> Run {
        dk().args(args)
            .args(["--database-url", &self.url])
            .current_dir(&self.project)
            .run()
    }
    fn tables(&self) -> Vec<String> {
        let mut m = dieselkit::migrations::Migrator::open(&self.url, &self.project).expect("open");
        m.table_names().expect("tables")
    }
    fn applied(&self) -> Vec<String> {
        let mut m = dieselkit::migrations::Migrator::open(&self.url, &self.project).expect("open");
        m.applied()
            .expect("applied")
            .versions
            .keys()
            .cloned()
            .collect()
    }
}

fn names(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("t{i}")).collect()
}

#[test]
fn targets_on_every_backend() {
    for t in targets("targets") {
        t.three();
        t.dk(&["migrate", "run", "--to", "2024-01-02-000000"])
            .success();
        assert_eq!(t.tables(), names(2), "{}", t.label());
        t.dk(&["migrate", "run"]).success();
        assert_eq!(t.tables(), names(3));
        t.dk(&["migrate", "revert", "--to", "20240101000000"])
            .success()
            .stderr_has("reverted 2 migration(s)");
        assert_eq!(t.tables(), names(1));
        t.dk(&["migrate", "run"]).success();
        t.dk(&["migrate", "revert", "-n", "2"]).success();
        assert_eq!(t.tables(), names(1), "{}", t.label());
        t.dk(&["migrate", "run"]).success();
        t.dk(&["migrate", "redo", "-n", "2"])
            .success()
            .stderr_has("redid 2 migration(s)");
        assert_eq!(t.tables(), names(3));
        let current = t.dk(&["migrate", "current"]).success();
        assert_eq!(current.stdout().trim(), "2024-01-03-000000_create_t3");
        let history = t.dk(&["migrate", "history", "--json"]).success();
        let list: serde_json::Value = serde_json::from_str(&history.stdout()).expect("json");
        assert_eq!(list.as_array().map(Vec::len), Some(3));
        let status = t.dk(&["migrate", "status", "--json"]).success();
        let st: serde_json::Value = serde_json::from_str(&status.stdout()).expect("json");
        assert!(st["migrations"]
            .as_array()
            .expect("array")
            .iter()
            .all(|m| m["applied"] == true && m["checksum"] == "ok"));
        t.dk(&["migrate", "revert", "--all"]).success();
        assert!(t.tables().is_empty());
    }
}

#[test]
fn previews_change_nothing() {
    for t in targets("previews") {
        t.three();
        if let Some(db) = &t._db {
            db.create();
        }
        let preview = t.dk(&["migrate", "run", "--sql"]).success();
        let sql = preview.stdout();
        for needle in [
            "CREATE TABLE t1",
            "CREATE TABLE IF NOT EXISTS __diesel_schema_migrations",
            "INSERT INTO __diesel_schema_migrations (version) VALUES ('20240103000000')",
            "INSERT INTO __dieselkit_migrations",
            "BEGIN;",
            "COMMIT;",
        ] {
            assert!(
                sql.contains(needle),
                "{}: preview lacks {needle}:\n{sql}",
                t.label()
            );
        }
        if t.kind.is_none() {
            assert!(
                !Path::new(&t.url).exists(),
                "sqlite: --sql must not create the database file"
            );
        } else {
            assert!(
                t.tables().is_empty(),
                "{}: --sql must not create tables",
                t.label()
            );
        }
        t.dk(&["migrate", "run", "--to", "2024-01-02-000000"])
            .success();
        let before = t.applied();
        let preview = t.dk(&["migrate", "revert", "--all", "--sql"]).success();
        let sql = preview.stdout();
        assert!(
            sql.find("DROP TABLE t2") < sql.find("DROP TABLE t1"),
            "newest first:\n{sql}"
        );
        assert!(
            sql.contains("DELETE FROM __diesel_schema_migrations WHERE version = '20240102000000'")
        );
        assert!(!sql.contains("DROP TABLE t3"), "t3 is not applied");
        assert_eq!(
            t.applied(),
            before,
            "{}: revert --sql changed nothing",
            t.label()
        );
        assert_eq!(t.tables(), names(2));
    }
}

#[test]
fn stamp_adopts_an_existing_database() {
    for t in targets("stamp") {
        t.three();
        // A database whose tables were created by hand, before dieselkit.
        t.dk(&["migrate", "run"]).success();
        t.dk(&["migrate", "revert", "--all", "--sql"]).success();
        let mut m = dieselkit::migrations::Migrator::open(&t.url, &t.project).expect("open");
        drop(m.run(None, &mut || {}, &mut |_| {}));
        // Forget the bookkeeping, keep the tables.
        for table in ["__diesel_schema_migrations", "__dieselkit_migrations"] {
            run_sql(&t, &format!("DROP TABLE {table}"));
        }
        assert!(t.applied().is_empty());
        t.dk(&["migrate", "stamp", "2024-01-02-000000"])
            .success()
            .stderr_has("Stamped 2024-01-01-000000_create_t1");
        assert_eq!(t.applied(), ["20240101000000", "20240102000000"]);
        // The stamped migrations are not run again; the third one is.
        t.dk(&["migrate", "run"]).failure().stderr_has("create_t3");
        run_sql(&t, "DROP TABLE t3");
        t.dk(&["migrate", "run"])
            .success()
            .stderr_has("applied 1 migration(s)");
        assert_eq!(t.tables(), names(3), "{}", t.label());
    }
}

fn run_sql(t: &Target, sql: &str) {
    use diesel::{Connection, RunQueryDsl};
    match t.kind {
        None => {
            let mut c = diesel::SqliteConnection::establish(&t.url).expect("sqlite");
            diesel::sql_query(sql).execute(&mut c).expect(sql);
        }
        Some(ServerKind::Postgres) => {
            let mut c = diesel::PgConnection::establish(&t.url).expect("pg");
            diesel::sql_query(sql).execute(&mut c).expect(sql);
        }
        Some(ServerKind::Mysql) => {
            let mut c = diesel::MysqlConnection::establish(&t.url).expect("mysql");
            diesel::sql_query(sql).execute(&mut c).expect(sql);
        }
    }
}

#[test]
fn concurrent_runs_apply_each_migration_once() {
    for t in targets("concurrent") {
        for i in 0..20 {
            t.add(
                &format!("2024-02-01-0000{i:02}"),
                &format!("m{i:02}"),
                &format!("CREATE TABLE c{i:02} (id INTEGER PRIMARY KEY);\nINSERT INTO c{i:02} (id) VALUES (1);\n"),
                &format!("DROP TABLE c{i:02};\n"),
            );
        }
        let children: Vec<_> = (0..8)
            .map(|_| {
                Command::new(env!("CARGO_BIN_EXE_dieselkit"))
                    .args(["migrate", "run", "--database-url", &t.url])
                    .current_dir(&t.project)
                    .env("NO_COLOR", "1")
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("spawn")
            })
            .collect();
        let mut applying = 0;
        for child in children {
            let out = child.wait_with_output().expect("wait");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                out.status.success(),
                "{}: a concurrent run failed:\n{err}",
                t.label()
            );
            applying += err.matches("Applying").count();
        }
        assert_eq!(
            applying,
            20,
            "{}: each migration applied exactly once",
            t.label()
        );
        assert_eq!(t.applied().len(), 20);
        assert_eq!(t.tables().len(), 20);
    }
}

#[test]
fn sigkill_mid_run_leaves_a_consistent_ledger() {
    for t in targets("sigkill") {
        t.add(
            "2024-03-01-000000",
            "first",
            "CREATE TABLE k1 (id INTEGER PRIMARY KEY);\n",
            "DROP TABLE k1;\n",
        );
        let slow = match t.kind {
            None => "CREATE TABLE k2 (id INTEGER PRIMARY KEY);\nWITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 50000000) SELECT count(*) FROM r;\n",
            Some(ServerKind::Postgres) => "CREATE TABLE k2 (id INTEGER PRIMARY KEY);\nSELECT pg_sleep(30);\n",
            Some(ServerKind::Mysql) => "CREATE TABLE k2 (id INTEGER PRIMARY KEY);\nSELECT SLEEP(30);\n",
        };
        t.add("2024-03-02-000000", "slow", slow, "DROP TABLE k2;\n");
        let mut child = Command::new(env!("CARGO_BIN_EXE_dieselkit"))
            .args(["migrate", "run", "--database-url", &t.url])
            .current_dir(&t.project)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        // Wait until the slow migration is running, then kill -9.
        let mut stderr = child.stderr.take().expect("stderr");
        let mut seen = String::new();
        let mut buf = [0u8; 256];
        while !seen.contains("Applying 2024-03-02-000000_slow") {
            use std::io::Read;
            let n = stderr.read(&mut buf).expect("read");
            assert!(
                n > 0,
                "{}: run ended before the slow migration: {seen}",
                t.label()
            );
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
        child.kill().expect("SIGKILL");
        child.wait().expect("wait");
        // Ledger and schema agree: the slow migration is not recorded. On SQLite and
        // PostgreSQL its table was rolled back; MySQL had already committed the CREATE TABLE.
        assert_eq!(t.applied(), ["20240301000000"], "{}", t.label());
        if t.kind == Some(ServerKind::Mysql) {
            run_sql(&t, "DROP TABLE IF EXISTS k2");
        } else {
            assert_eq!(
                t.tables(),
                ["k1"],
                "{}: the interrupted migration was rolled back",
                t.label()
            );
        }
        // Make the second migration quick, and the next run completes.
        t.add(
            "2024-03-02-000000",
            "slow",
            "CREATE TABLE k2 (id INTEGER PRIMARY KEY);\n",
            "DROP TABLE k2;\n",
        );
        t.dk(&["migrate", "run"])
            .success()
            .stderr_has("applied 1 migration(s)");
        assert_eq!(t.tables(), ["k1", "k2"]);
    }
}

#[test]
fn edited_applied_migration_is_caught_and_can_be_accepted() {
    for t in targets("edited") {
        t.three();
        t.dk(&["migrate", "run"]).success();
        let up = t
            .project
            .join("migrations/2024-01-02-000000_create_t2/up.sql");
        // Comments, line endings and whitespace do not count as edits; under `--strict`
        // any change to the text does.
        std::fs::write(
            &up,
            "-- t2 holds the labels the report needs\nCREATE TABLE t2 (id INTEGER PRIMARY KEY,\n    label VARCHAR(20));   \r\n\r\n",
        )
        .expect("write");
        let status = t.dk(&["migrate", "status"]).success();
        assert!(!status.stdout().contains("edited"), "{}", status.stdout());
        t.dk(&["migrate", "status", "--strict"])
            .expect_exit(3)
            .stderr_has("dieselkit migrate stamp 20240102000000");
        t.dk(&["migrate", "run", "--strict"])
            .failure()
            .stderr_has("create_t2/up.sql");
        t.dk(&["migrate", "run"]).success();
        std::fs::write(
            &up,
            "CREATE TABLE t2 (id INTEGER PRIMARY KEY, label VARCHAR(40));\n",
        )
        .expect("write");
        t.add(
            "2024-01-04-000000",
            "create_t4",
            "CREATE TABLE t4 (id INTEGER PRIMARY KEY);\n",
            "DROP TABLE t4;\n",
        );
        t.dk(&["migrate", "run"])
            .failure()
            .stderr_has("changed after they were applied")
            .stderr_has("create_t2/up.sql")
            .stderr_has("`dieselkit migrate stamp 20240102000000`");
        assert_eq!(
            t.applied().len(),
            3,
            "{}: nothing applied past an edited migration",
            t.label()
        );
        // `status` is a report: it names the edit and exits 0 unless `--strict`.
        let status = t
            .dk(&["migrate", "status"])
            .success()
            .stderr_has("`dieselkit migrate stamp 20240102000000`");
        assert!(status.stdout().contains("edited"), "{}", status.stdout());
        t.dk(&["migrate", "status", "--strict"]).expect_exit(3);
        // `check` reports what `migrate run` refuses (CI red before the deploy is).
        std::fs::write(
            t.project.join("dieselkit.toml"),
            "[project]\nname = \"edited\"\nbackend = \"sqlite\"\n",
        )
        .expect("model");
        if t.kind.is_none() {
            t.dk(&["check", "--json"])
                .expect_exit(3)
                .stdout_has("edited-migration")
                .stdout_has("dieselkit migrate stamp 20240102000000");
        }
        t.dk(&["migrate", "stamp", "2024-01-02-000000"])
            .success()
            .stderr_has("Accepted 2024-01-02-000000_create_t2");
        t.dk(&["migrate", "revert"]).success();
        t.dk(&["migrate", "revert"]).success();
        // `-n N` applies at most N.
        t.dk(&["migrate", "run", "-n", "1"])
            .success()
            .stderr_has("applied 1 migration(s)");
        t.dk(&["migrate", "run"])
            .success()
            .stderr_has("Applying 2024-01-04-000000_create_t4");
    }
}

#[test]
fn duplicate_missing_and_out_of_order_versions_are_reported() {
    for t in targets("ordering") {
        t.three();
        t.dk(&["migrate", "run", "--to", "2024-01-01-000000"])
            .success();
        t.dk(&["migrate", "run"]).success();
        // A branch merged a migration older than the newest applied one.
        t.add(
            "2023-12-31-000000",
            "from_branch",
            "CREATE TABLE late (id INTEGER PRIMARY KEY);\n",
            "DROP TABLE late;\n",
        );
        t.dk(&["migrate", "run", "--strict"])
            .failure()
            .stderr_has("`2023-12-31-000000_from_branch` are older than the newest applied one");
        let status = t.dk(&["migrate", "status"]).success();
        assert!(
            status.stdout().contains("older than the newest applied"),
            "{}",
            status.stdout()
        );
        t.dk(&["migrate", "run"])
            .success()
            .stderr_has("warning: pending migration(s) `2023-12-31-000000_from_branch`");
        // Two directories with one version.
        t.add("2024-01-03-000000", "clash", "SELECT 1;\n", "SELECT 1;\n");
        t.dk(&["migrate", "status"])
            .failure()
            .stderr_has("two migrations share version 20240103000000");
        std::fs::remove_dir_all(t.project.join("migrations/2024-01-03-000000_clash")).expect("rm");
        // An applied migration whose directory is gone.
        std::fs::remove_dir_all(t.project.join("migrations/2024-01-03-000000_create_t3"))
            .expect("rm");
        let status = t.dk(&["migrate", "status"]).success();
        let orphan = status
            .stdout()
            .lines()
            .find(|l| l.starts_with("20240103000000"))
            .unwrap_or_default()
            .to_string();
        assert!(
            orphan.contains("applied") && orphan.contains("(no directory on disk)"),
            "{}",
            status.stdout()
        );
        t.dk(&["migrate", "run"])
            .success()
            .stderr_has("applied migration version 20240103000000 has no directory");
        t.dk(&["migrate", "revert"])
            .failure()
            .stderr_has("has no directory");
    }
}

#[test]
fn failing_statement_is_named_with_its_line() {
    for t in targets("failing_stmt") {
        t.add(
            "2024-01-01-000000",
            "ok",
            "CREATE TABLE f1 (id INTEGER PRIMARY KEY);\n",
            "DROP TABLE f1;\n",
        );
        t.add(
            "2024-01-02-000000",
            "broken",
            "CREATE TABLE f2 (id INTEGER PRIMARY KEY);\n\n-- the mistake:\nINSERT INTO nowhere (id) VALUES (1);\n",
            "DROP TABLE f2;\n",
        );
        t.dk(&["migrate", "run"])
            .failure()
            .stderr_has("migration `2024-01-02-000000_broken` failed in")
            .stderr_has("broken/up.sql")
            .stderr_has("line 4: `INSERT INTO nowhere (id) VALUES (1)`");
        assert_eq!(
            t.applied(),
            ["20240101000000"],
            "{}: the ledger keeps the previous version",
            t.label()
        );
    }
}

#[test]
fn verify_catches_a_down_sql_that_does_not_restore_the_schema() {
    for t in targets("verify") {
        t.three();
        t.dk(&["migrate", "verify"])
            .success()
            .stderr_has("every down.sql restores");
        t.add(
            "2024-01-04-000000",
            "add_index",
            "CREATE INDEX index_t1_on_label ON t1 (label);\nCREATE TABLE t4 (id INTEGER PRIMARY KEY);\n",
            "DROP TABLE t4;\n",
        );
        let run = t.dk(&["migrate", "verify"]);
        assert_eq!(run.code(), 3, "{}: {}", t.label(), run.stderr());
        assert!(
            run.stderr()
                .contains("down.sql of `2024-01-04-000000_add_index` does not restore"),
            "{}",
            run.stderr()
        );
        assert!(
            run.stderr().contains("index_t1_on_label"),
            "{}",
            run.stderr()
        );
        assert!(
            t.applied().is_empty(),
            "verify never touches the real database"
        );
    }
}

/// `run_in_transaction = false` is honoured on every backend, in run, revert, redo and
/// verify: a statement that cannot run in a transaction (SQLite `VACUUM`, PostgreSQL
/// `CREATE INDEX CONCURRENTLY`, MySQL's DDL, which commits anyway) runs, and `--sql` shows
/// no BEGIN/COMMIT around it.
#[test]
fn migrations_outside_a_transaction_run_on_every_backend() {
    for t in targets("no_tx") {
        t.three();
        let (up, down) = match t.kind {
            None => ("VACUUM;\n", "VACUUM;\n"),
            Some(ServerKind::Postgres) => (
                "CREATE INDEX CONCURRENTLY t1_label ON t1 (label);\n",
                "DROP INDEX CONCURRENTLY t1_label;\n",
            ),
            Some(ServerKind::Mysql) => (
                "CREATE INDEX t1_label ON t1 (label);\n",
                "DROP INDEX t1_label ON t1;\n",
            ),
        };
        t.add("2024-01-04-000000", "outside", up, down);
        std::fs::write(
            t.project
                .join("migrations/2024-01-04-000000_outside/metadata.toml"),
            "run_in_transaction = false\n",
        )
        .expect("metadata");
        // And one after it, in a transaction as usual.
        t.add(
            "2024-01-05-000000",
            "create_t5",
            "CREATE TABLE t5 (id INTEGER PRIMARY KEY);\n",
            "DROP TABLE t5;\n",
        );
        let preview = t.dk(&["migrate", "run", "--sql"]).success().stdout();
        let first = up.lines().next().expect("statement").trim_end_matches(';');
        assert!(
            preview.contains(&format!(
                "-- run_in_transaction = false: no transaction\n{first};"
            )),
            "{}: {preview}",
            t.label()
        );
        t.dk(&["migrate", "run"])
            .success()
            .stderr_has("applied 5 migration(s)");
        t.dk(&["migrate", "redo", "-n", "2"]).success();
        t.dk(&["migrate", "revert", "-n", "2"]).success();
        t.dk(&["migrate", "run"]).success();
        t.dk(&["migrate", "verify"]).success();
        assert_eq!(t.applied().len(), 5, "{}", t.label());
    }
}

//! Never lose a row: changes to tables that other tables reference, with rows in every
//! table (parents, children and grandchildren), applied and reverted by `dieselkit
//! migrate` and by diesel's own migration harness (what `diesel migration run` and a
//! generated service's `MIGRATE_ON_START` use), on every backend.

use crate::evolve::{exec_on, lines_on, write_project_from};
use crate::support::{dk, ServerKind, TestDb};
use diesel::Connection;
use diesel_migrations::{FileBasedMigrations, MigrationHarness};
use std::path::Path;

/// author ← book (on delete cascade) ← review (on delete restrict).
fn model(backend: &str, author: &str, book: &str, review: &str) -> String {
    format!(
        "[project]\nname = \"rows-{backend}\"\nbackend = \"{backend}\"\n\n\
         [[resources]]\nname = \"author\"\nfields = [{author}]\n\n\
         [[resources]]\nname = \"book\"\nfields = [{book}, \"author:references:on_delete=cascade\"]\n\n\
         [[resources]]\nname = \"review\"\nfields = [{review}, \"book:references:on_delete=restrict\"]\n"
    )
}

/// The model every test here starts from.
fn start(backend: &str) -> String {
    model(
        backend,
        "\"name:string(50)\"",
        "\"title:string(100)\", \"pages:int?\"",
        "\"body:text\"",
    )
}

/// A project written from a model, and its database: a SQLite file, or a fresh database on
/// the test server (None when that server is not configured: the test is skipped).
struct Fixture {
    url: String,
    project: std::path::PathBuf,
    db: Option<TestDb>,
    _tmp: tempfile::TempDir,
}

impl Fixture {
    fn new(kind: Option<ServerKind>, test: &str, model: &str) -> Option<Fixture> {
        let tmp = tempfile::tempdir().expect("tempdir");
        let (db, url) = TestDb::or_sqlite(kind, test, &tmp.path().join(format!("{test}.db")))?;
        let project = write_project_from(model, &tmp.path().join("p"));
        Some(Fixture {
            url,
            project,
            db,
            _tmp: tmp,
        })
    }

    /// dieselkit in the project, on its database.
    fn dk(&self, args: &[&str]) -> crate::support::Run {
        dk().args(args)
            .args(["--database-url", &self.url])
            .current_dir(&self.project)
            .run()
    }

    /// dieselkit in `dir` (the project or a branch of it), on its database, with the clock
    /// at `epoch` (which orders migration versions).
    fn at(&self, dir: &Path, epoch: &str, args: &[&str]) -> crate::support::Run {
        dk().args(args)
            .args(["--database-url", &self.url])
            .current_dir(dir)
            .env("SOURCE_DATE_EPOCH", epoch)
            .run()
    }

    /// `generate migration --rebase` in the project, with the clock at `epoch`; it succeeds.
    fn rebase(&self, epoch: &str) -> crate::support::Run {
        self.at(&self.project, epoch, &["generate", "migration", "--rebase"])
            .success()
    }

    /// A second branch from the project as it is now (`branch-b` beside it).
    fn branch(&self) -> std::path::PathBuf {
        let branch = self.project.parent().expect("parent").join("branch-b");
        crate::evolve::copy_tree(&self.project, &branch);
        branch
    }

    /// After a merge is sorted out: the migrations apply, `generate migration` finds nothing
    /// left to write (and brings the generated code up to date), `check` and `migrate verify`
    /// are clean, and every seeded row is there.
    fn settles_with_every_row(&self, kind: Option<ServerKind>) {
        self.dk(&["migrate", "run"]).success();
        self.at(
            &self.project,
            "1800000400",
            &["generate", "migration", "-m", "sync"],
        )
        .success()
        .stderr_has("no migration written");
        self.dk(&["check"]).success();
        self.dk(&["migrate", "verify"]).success();
        assert_eq!(counts(kind, &self.url), SEEDED, "every row kept");
    }

    /// Merge the branch's migration `name` into the project.
    fn merge_migration(&self, branch: &Path, name: &str) {
        crate::evolve::copy_tree(
            &branch.join("migrations").join(name),
            &self.project.join("migrations").join(name),
        );
    }
}

/// The name of the migration of `dir` whose name ends with `suffix`.
fn migration_named(dir: &Path, suffix: &str) -> String {
    std::fs::read_dir(dir.join("migrations"))
        .expect("list")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| n.ends_with(suffix))
        .expect("migration")
}

const TABLES: [&str; 3] = ["authors", "books", "reviews"];

/// Row counts of authors, books and reviews, and how many reviews still reach their author
/// through their book.
fn counts(kind: Option<ServerKind>, url: &str) -> Vec<String> {
    let text = if kind == Some(ServerKind::Mysql) {
        "CHAR"
    } else {
        "TEXT"
    };
    let mut out: Vec<String> = TABLES
        .iter()
        .map(|t| {
            lines_on(
                kind,
                url,
                &format!("SELECT CAST(COUNT(*) AS {text}) AS line FROM {t}"),
            )
            .concat()
        })
        .collect();
    out.extend(lines_on(
        kind,
        url,
        &format!(
            "SELECT CAST(COUNT(*) AS {text}) AS line FROM reviews r \
             JOIN books b ON b.id = r.book_id JOIN authors a ON a.id = b.author_id"
        ),
    ));
    out
}

fn seed(kind: Option<ServerKind>, url: &str) {
    exec_on(
        kind,
        url,
        "INSERT INTO authors (name) VALUES ('Le Guin'), ('Tolkien')",
    );
    exec_on(
        kind,
        url,
        "INSERT INTO books (title, pages, author_id) VALUES ('Earthsea', 200, 1), ('Dispossessed', NULL, 1), ('Hobbit', 310, 2)",
    );
    exec_on(
        kind,
        url,
        "INSERT INTO reviews (body, book_id) VALUES ('good', 1), ('great', 1), ('fine', 2), ('long', 3)",
    );
}

const SEEDED: [&str; 4] = ["2", "3", "4", "4"];

/// The steps: each model change rebuilds a referenced table on SQLite.
fn steps(backend: &str) -> Vec<(String, &'static [&'static str])> {
    vec![
        // widen the grandparent's column
        (
            model(
                backend,
                "\"name:string(80)\"",
                "\"title:string(100)\", \"pages:int?\"",
                "\"body:text\"",
            ),
            &[],
        ),
        // a NOT NULL column with a backfill on the grandparent
        (
            model(
                backend,
                "\"name:string(80)\", \"country:string(2)\"",
                "\"title:string(100)\", \"pages:int?\"",
                "\"body:text\"",
            ),
            &["--backfill", "author.country='NL'"],
        ),
        // type and nullability change on the middle table (a parent and a child)
        (
            model(
                backend,
                "\"name:string(80)\", \"country:string(2)\"",
                "\"title:string(100)\", \"pages:bigint\"",
                "\"body:text\"",
            ),
            &["--backfill", "book.pages=0"],
        ),
        // a type change on the grandchild
        (
            model(
                backend,
                "\"name:string(80)\", \"country:string(2)\"",
                "\"title:string(100)\", \"pages:bigint\"",
                "\"body:string(500)\"",
            ),
            &[],
        ),
        // several changes to the middle table in one migration (on SQLite, one rebuild
        // instead of one per change): a wider title and a NOT NULL column with a backfill
        (
            model(
                backend,
                "\"name:string(80)\", \"country:string(2)\"",
                "\"title:string(150)\", \"pages:bigint\", \"isbn:string(13)\"",
                "\"body:string(500)\"",
            ),
            &["--backfill", "book.isbn='none'"],
        ),
    ]
}

fn parent_changes_keep_every_row(kind: Option<ServerKind>, backend: &str, test: &str) {
    let Some(f) = Fixture::new(kind, test, &start(backend)) else {
        return;
    };
    let (url, project, run) = (&f.url, &f.project, |args: &[&str]| f.dk(args));
    run(&["migrate", "run"]).success();
    let initial = migration_count(project);
    seed(kind, url);
    assert_eq!(counts(kind, url), SEEDED, "{backend}: seeded");

    let steps = steps(backend);
    for (i, (text, extra)) in steps.iter().enumerate() {
        std::fs::write(project.join("dieselkit.toml"), text).expect("model");
        let msg = format!("step {i}");
        let mut args = vec!["generate", "migration", "-m", &msg];
        args.extend_from_slice(extra);
        run(&args).success();
        if backend == "sqlite" {
            let metadata = std::fs::read_to_string(newest_migration(project).join("metadata.toml"))
                .unwrap_or_default();
            assert!(
                metadata.contains("run_in_transaction = false"),
                "step {i}: a SQLite rebuild runs in its own transaction: {metadata}"
            );
            // Each step changes one table: up.sql copies it once, however many changes it
            // has, and down.sql at most once (dropping an added column needs no copy).
            for (file, copies) in [("up.sql", 1..=1), ("down.sql", 0..=1)] {
                let sql =
                    std::fs::read_to_string(newest_migration(project).join(file)).expect("sql");
                let n = sql.matches("__dieselkit_new RENAME TO").count();
                assert!(
                    copies.contains(&n),
                    "step {i}: {file} copies the table {n} times:\n{sql}"
                );
            }
        }
        run(&["migrate", "run"]).success();
        assert_eq!(
            counts(kind, url),
            SEEDED,
            "{backend} step {i}: every author, book and review survives `migrate run`"
        );
    }
    run(&["check"]).success();
    // A value that only fits the widened column: reverting the widening must not cut it
    // short. PostgreSQL and MySQL refuse the narrowing (nothing changes); SQLite does not
    // enforce VARCHAR lengths, so the value stays as it is.
    let long = "L".repeat(70);
    exec_on(
        kind,
        url,
        &format!("UPDATE authors SET name = '{long}' WHERE id = 2"),
    );
    // Every step but the first (the widening).
    let later = (steps.len() - 1).to_string();
    run(&["migrate", "revert", "-n", &later]).success();
    let narrowing = run(&["migrate", "revert"]);
    assert_eq!(
        narrowing.code(),
        if kind.is_none() { 0 } else { 1 },
        "{backend}: {}",
        narrowing.stderr()
    );
    assert_eq!(
        lines_on(kind, url, "SELECT name AS line FROM authors WHERE id = 2"),
        std::slice::from_ref(&long),
        "{backend}: no value is cut short"
    );
    exec_on(
        kind,
        url,
        "UPDATE authors SET name = 'Tolkien' WHERE id = 2",
    );
    if kind.is_some() {
        run(&["migrate", "revert"]).success();
    }
    assert_eq!(counts(kind, url), SEEDED, "{backend}: after the reverts");
    run(&["migrate", "run"]).success();
    for i in (0..steps.len()).rev() {
        run(&["migrate", "revert"]).success();
        assert_eq!(
            counts(kind, url),
            SEEDED,
            "{backend}: every row survives reverting step {i}"
        );
    }

    // The same files through diesel's harness, as `diesel migration run` and the
    // generated service run them: each in a transaction unless metadata.toml says not.
    let dir = project.join("migrations");
    harness(kind, url, |conn| {
        conn.run_pending_migrations(FileBasedMigrations::from_path(&dir).expect("dir"))
            .map(|_| ())
    });
    assert_eq!(
        counts(kind, url),
        SEEDED,
        "{backend}: every row survives diesel's `migration run`"
    );
    harness(kind, url, |conn| {
        for _ in 0..steps.len() {
            conn.revert_last_migration(FileBasedMigrations::from_path(&dir).expect("dir"))?;
        }
        Ok(())
    });
    assert_eq!(
        counts(kind, url),
        SEEDED,
        "{backend}: every row survives diesel's `migration revert`"
    );
    assert_eq!(migration_count(project), initial + steps.len());
    run(&["migrate", "run"]).success();
    assert_eq!(counts(kind, url), SEEDED);
    run(&["migrate", "verify"]).success();
}

fn harness(
    kind: Option<ServerKind>,
    url: &str,
    f: impl Fn(&mut dyn AnyHarness) -> diesel::migration::Result<()>,
) {
    let result = match kind {
        None => f(&mut diesel::SqliteConnection::establish(url).expect("sqlite")),
        Some(ServerKind::Postgres) => f(&mut diesel::PgConnection::establish(url).expect("pg")),
        Some(ServerKind::Mysql) => f(&mut diesel::MysqlConnection::establish(url).expect("mysql")),
    };
    result.expect("diesel's migration harness");
}

/// The two harness calls the test makes, on any backend's connection.
trait AnyHarness {
    fn run_pending_migrations(
        &mut self,
        source: FileBasedMigrations,
    ) -> diesel::migration::Result<()>;
    fn revert_last_migration(
        &mut self,
        source: FileBasedMigrations,
    ) -> diesel::migration::Result<()>;
}

macro_rules! any_harness {
    ($conn:ty) => {
        impl AnyHarness for $conn {
            fn run_pending_migrations(
                &mut self,
                source: FileBasedMigrations,
            ) -> diesel::migration::Result<()> {
                MigrationHarness::run_pending_migrations(self, source).map(|_| ())
            }
            fn revert_last_migration(
                &mut self,
                source: FileBasedMigrations,
            ) -> diesel::migration::Result<()> {
                MigrationHarness::revert_last_migration(self, source).map(|_| ())
            }
        }
    };
}

any_harness!(diesel::SqliteConnection);
any_harness!(diesel::PgConnection);
any_harness!(diesel::MysqlConnection);

fn migration_dirs(project: &Path) -> Vec<std::path::PathBuf> {
    let mut dirs: Vec<_> = std::fs::read_dir(project.join("migrations"))
        .expect("migrations")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

fn migration_count(project: &Path) -> usize {
    migration_dirs(project).len()
}

fn newest_migration(project: &Path) -> std::path::PathBuf {
    migration_dirs(project).pop().expect("a migration")
}

#[test]
fn parent_changes_keep_every_row_on_sqlite() {
    parent_changes_keep_every_row(None, "sqlite", "rows_sqlite");
}

#[test]
fn parent_changes_keep_every_row_on_postgres() {
    parent_changes_keep_every_row(Some(ServerKind::Postgres), "postgres", "rows_pg");
}

#[test]
fn parent_changes_keep_every_row_on_mysql() {
    parent_changes_keep_every_row(Some(ServerKind::Mysql), "mysql", "rows_my");
}

/// A rebuild that would leave a dangling reference (here a hand-edited copy that skips an
/// author with books) fails before COMMIT, in dieselkit and in diesel's harness: nothing
/// changes, nothing is recorded, and the error names the rows.
#[test]
fn a_rebuild_that_leaves_dangling_references_is_rolled_back() {
    let Some(f) = Fixture::new(None, "dangling", &start("sqlite")) else {
        return;
    };
    let (url, project, run) = (&f.url, &f.project, |args: &[&str]| f.dk(args));
    run(&["migrate", "run"]).success();
    seed(None, url);
    let (text, _) = &steps("sqlite")[0];
    std::fs::write(project.join("dieselkit.toml"), text).expect("model");
    run(&["generate", "migration", "-m", "widen"]).success();
    let up = newest_migration(project).join("up.sql");
    let sql = std::fs::read_to_string(&up).expect("up.sql");
    let lossy = sql.replace("FROM authors;", "FROM authors WHERE id <> 2;");
    assert_ne!(lossy, sql, "{sql}");
    std::fs::write(&up, lossy).expect("up.sql");

    run(&["migrate", "run"])
        .failure()
        .stderr_has("`books` row 3: `author_id` references `authors`, which has no such row")
        .stderr_has("rolled back");
    assert_eq!(counts(None, url), SEEDED);
    run(&["migrate", "status"]).success();
    assert!(
        run(&["migrate", "status", "--json"])
            .output
            .stdout
            .windows(7)
            .any(|w| w == b"pending"),
        "the failed migration is not recorded"
    );

    let dir = project.join("migrations");
    let mut conn = diesel::SqliteConnection::establish(url).expect("sqlite");
    let err = MigrationHarness::run_pending_migrations(
        &mut conn,
        FileBasedMigrations::from_path(&dir).expect("dir"),
    )
    .expect_err("diesel's harness refuses the dangling reference too");
    assert!(
        err.to_string().contains("every_reference_must_match_a_row"),
        "{err}"
    );
    drop(conn);
    assert_eq!(counts(None, url), SEEDED);
}

/// `migrate verify` replays with a sample row in every table, so a migration that loses
/// rows fails it: here a table rebuild written the 0.1 way (DROP TABLE with foreign keys
/// on), whose `DROP TABLE authors` deletes every book and review through ON DELETE CASCADE.
#[test]
fn verify_fails_a_migration_that_loses_child_rows() {
    let cascading = start("sqlite").replace("on_delete=restrict", "on_delete=cascade");
    let Some(f) = Fixture::new(None, "verify_rows", &cascading) else {
        return;
    };
    let (project, run) = (&f.project, |args: &[&str]| f.dk(args));
    run(&["migrate", "verify"]).success();
    let dir = project.join("migrations/2030-01-01-000000_widen_0_1_style");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let rebuild = |width: u32| {
        format!(
            "CREATE TABLE authors__dieselkit_new (id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, name VARCHAR({width}) NOT NULL, created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP);\n\
             INSERT INTO authors__dieselkit_new (id, name, created_at, updated_at) SELECT id, name, created_at, updated_at FROM authors;\n\
             DROP TABLE authors;\n\
             ALTER TABLE authors__dieselkit_new RENAME TO authors;\n"
        )
    };
    std::fs::write(dir.join("up.sql"), rebuild(80)).expect("up");
    std::fs::write(dir.join("down.sql"), rebuild(50)).expect("down");
    run(&["migrate", "verify"])
        .expect_exit(3)
        .stderr_has("2030-01-01-000000_widen_0_1_style (up.sql)` loses rows")
        .stderr_has("`books` had 2 row(s), 0 after")
        .stderr_has("`reviews` had 1 row(s), 0 after");
}

/// `migrate run --sql --from 0` writes the whole script without a database; run by hand on
/// an empty database of each backend, it leaves what `dieselkit migrate run` would: every
/// migration applied with matching checksums, nothing pending, no drift.
fn offline_script_applies(kind: Option<ServerKind>, backend: &str, test: &str) {
    let Some(f) = Fixture::new(kind, test, &start(backend)) else {
        return;
    };
    // The DBA's empty database.
    if let Some(db) = &f.db {
        db.create();
    }
    let (url, project) = (&f.url, &f.project);
    let script = dk()
        .args([
            "migrate",
            "run",
            "--sql",
            "--from",
            "0",
            "--backend",
            backend,
        ])
        .current_dir(project)
        .run()
        .success()
        .stdout();
    assert!(script.contains("assumes one at no migrations"), "{script}");
    batch_on(kind, url, &script);
    let status = dk()
        .args([
            "migrate",
            "status",
            "--json",
            "--strict",
            "--database-url",
            url,
        ])
        .current_dir(project)
        .run()
        .success()
        .stdout();
    let status: serde_json::Value = serde_json::from_str(&status).expect("json");
    let migrations = status["migrations"].as_array().expect("migrations");
    assert!(migrations.len() >= 3, "{status}");
    for m in migrations {
        assert_eq!(m["applied"], true, "{backend}: {m}");
        assert_eq!(m["checksum"], "ok", "{backend}: {m}");
    }
    dk().args(["migrate", "run", "--database-url", url])
        .current_dir(project)
        .run()
        .success()
        .stderr_has("no pending migrations");
    dk().args(["check", "--database-url", url])
        .current_dir(project)
        .run()
        .success();
}

#[test]
fn offline_script_applies_on_sqlite() {
    offline_script_applies(None, "sqlite", "offline_sqlite");
}

#[test]
fn offline_script_applies_on_postgres() {
    offline_script_applies(Some(ServerKind::Postgres), "postgres", "offline_pg");
}

#[test]
fn offline_script_applies_on_mysql() {
    offline_script_applies(Some(ServerKind::Mysql), "mysql", "offline_my");
}

/// Run a script of several statements, as a DBA's client would.
fn batch_on(kind: Option<ServerKind>, url: &str, script: &str) {
    use diesel::connection::SimpleConnection;
    match kind {
        None => diesel::SqliteConnection::establish(url)
            .expect("sqlite")
            .batch_execute(script),
        Some(ServerKind::Postgres) => diesel::PgConnection::establish(url)
            .expect("pg")
            .batch_execute(script),
        Some(ServerKind::Mysql) => diesel::MysqlConnection::establish(url)
            .expect("mysql")
            .batch_execute(script),
    }
    .unwrap_or_else(|e| panic!("{e}\n{script}"));
}

/// `check --json` names what differs as data (kind, table, column, expected, actual), and
/// its messages say how: a column added by hand, a column made nullable by hand.
fn check_names_hand_made_changes(kind: Option<ServerKind>, backend: &str, test: &str) {
    let Some(f) = Fixture::new(kind, test, &start(backend)) else {
        return;
    };
    let (url, run) = (&f.url, |args: &[&str]| f.dk(args));
    run(&["migrate", "run"]).success();
    run(&["check"]).success();
    exec_on(kind, url, "ALTER TABLE authors ADD COLUMN extra INTEGER");
    let nullable = match kind {
        None => None,
        Some(ServerKind::Postgres) => Some("ALTER TABLE authors ALTER COLUMN name DROP NOT NULL"),
        Some(ServerKind::Mysql) => Some("ALTER TABLE authors MODIFY name VARCHAR(50) NULL"),
    };
    if let Some(sql) = nullable {
        exec_on(kind, url, sql);
    }
    let out = run(&["check", "--json"]).expect_exit(3).stdout();
    let json: serde_json::Value = serde_json::from_str(&out).expect("json");
    let drift = json["drift"].as_array().expect("drift");
    let entry = |column: &str| {
        drift
            .iter()
            .find(|d| d["column"] == column)
            .unwrap_or_else(|| panic!("{backend}: no entry for {column} in {out}"))
    };
    let extra = entry("extra");
    assert_eq!(extra["kind"], "live-database");
    assert_eq!(extra["table"], "authors");
    assert_eq!(extra["actual"], "INTEGER NULL");
    assert!(extra.get("expected").is_none(), "{extra}");
    if nullable.is_some() {
        let name = entry("name");
        assert_eq!(name["expected"], "VARCHAR(50) NOT NULL", "{backend}");
        assert_eq!(name["actual"], "VARCHAR(50) NULL", "{backend}");
        assert!(
            name["detail"].as_str().is_some_and(|d| d.contains(
                "`authors.name` is NOT NULL in the migrations, nullable in the database"
            )),
            "{name}"
        );
    }
}

#[test]
fn check_names_hand_made_changes_on_sqlite() {
    check_names_hand_made_changes(None, "sqlite", "check_sqlite");
}

#[test]
fn check_names_hand_made_changes_on_postgres() {
    check_names_hand_made_changes(Some(ServerKind::Postgres), "postgres", "check_pg");
}

#[test]
fn check_names_hand_made_changes_on_mysql() {
    check_names_hand_made_changes(Some(ServerKind::Mysql), "mysql", "check_my");
}

/// A migration that would fail (a backfill whose quotes the shell ate: `SET tz = UTC`) is
/// tried on a scratch database first and refused with the failing statement, before
/// anything is written, on every backend.
fn broken_backfill_writes_nothing(kind: Option<ServerKind>, backend: &str, test: &str) {
    let Some(f) = Fixture::new(kind, test, &start(backend)) else {
        return;
    };
    let (url, project, run) = (&f.url, &f.project, |args: &[&str]| f.dk(args));
    run(&["migrate", "run"]).success();
    seed(kind, url);
    let before = crate::support::tree(project);
    run(&[
        "generate",
        "field",
        "author",
        "tz:string(10)",
        "--backfill",
        "authors.tz=UTC",
    ])
    .usage_error()
    .stderr_has("UPDATE authors SET tz = UTC")
    .stderr_has("nothing was written");
    assert!(
        crate::support::tree(project) == before,
        "{backend}: no file changed"
    );
    assert_eq!(counts(kind, url), SEEDED);
    run(&["check"]).success();
}

#[test]
fn broken_backfill_writes_nothing_on_sqlite() {
    broken_backfill_writes_nothing(None, "sqlite", "broken_sqlite");
}

#[test]
fn broken_backfill_writes_nothing_on_postgres() {
    broken_backfill_writes_nothing(Some(ServerKind::Postgres), "postgres", "broken_pg");
}

#[test]
fn broken_backfill_writes_nothing_on_mysql() {
    broken_backfill_writes_nothing(Some(ServerKind::Mysql), "mysql", "broken_my");
}

/// Two branches each add a migration; the one created first is merged last, after the
/// database applied the other. `check` names it (exit 3), `generate migration --rebase`
/// renumbers it after the newest one (and proves on a scratch database that all of them still
/// apply in that order), `migrate run` applies it, and a `generate migration` with nothing
/// left to write brings the generated code up to date: `check` is clean, and every row of
/// authors, books and reviews is still there.
fn branches_merged_in_the_wrong_order(kind: Option<ServerKind>, backend: &str, test: &str) {
    let Some(f) = Fixture::new(kind, test, &start(backend)) else {
        return;
    };
    f.dk(&["migrate", "run"]).success();
    seed(kind, &f.url);
    // Branch B starts from the same commit as main.
    let branch = f.branch();
    let (books, reviews) = ("\"title:string(100)\", \"pages:int?\"", "\"body:text\"");
    let (books_b, reviews_b) = (
        "\"title:string(100)\", \"pages:int?\", \"isbn:string(13)?\"",
        "\"body:text\", \"stars:int?\"",
    );
    // B writes its migration first (older version) ...
    std::fs::write(
        branch.join("dieselkit.toml"),
        model(backend, "\"name:string(50)\"", books, reviews_b),
    )
    .expect("write");
    f.at(
        &branch,
        "1800000100",
        &["generate", "migration", "-m", "add stars"],
    )
    .success();
    // ... main writes and deploys its own later.
    std::fs::write(
        f.project.join("dieselkit.toml"),
        model(backend, "\"name:string(50)\"", books_b, reviews),
    )
    .expect("write");
    f.at(
        &f.project,
        "1800000200",
        &["generate", "migration", "-m", "add isbn"],
    )
    .success();
    f.dk(&["migrate", "run"]).success();
    // The merge: B's migration and both model changes.
    let stars_name = migration_named(&branch, "_add_stars");
    f.merge_migration(&branch, &stars_name);
    std::fs::write(
        f.project.join("dieselkit.toml"),
        model(backend, "\"name:string(50)\"", books_b, reviews_b),
    )
    .expect("write");

    f.dk(&["check"]).expect_exit(3).stdout_has(&format!(
        "out-of-order-migration: `{stars_name}` is pending but older than"
    ));
    // What the generated CI does on a pull request: `migrate run --strict` refuses it.
    f.dk(&["migrate", "run", "--strict"])
        .failure()
        .stderr_has("older than the newest applied one");
    let rebase = f.rebase("1800000300");
    assert!(
        rebase
            .stderr()
            .contains(&format!("Renamed migrations/{stars_name} -> migrations/")),
        "{}",
        rebase.stderr()
    );
    assert!(!f.project.join("migrations").join(&stars_name).exists());
    f.settles_with_every_row(kind);
}

#[test]
fn branches_merged_in_the_wrong_order_on_sqlite() {
    branches_merged_in_the_wrong_order(None, "sqlite", "branches_sqlite");
}

#[test]
fn branches_merged_in_the_wrong_order_on_postgres() {
    branches_merged_in_the_wrong_order(Some(ServerKind::Postgres), "postgres", "branches_pg");
}

#[test]
fn branches_merged_in_the_wrong_order_on_mysql() {
    branches_merged_in_the_wrong_order(Some(ServerKind::Mysql), "mysql", "branches_my");
}

/// Two branches widen `books.title` from the same state, each with its own migration; the
/// main branch deploys its own, then merges the other (an older version). `check` names both
/// the out-of-order migration and the collision (both change `books.title`, generated after
/// the same migration). Renumbering alone would leave a down.sql that restores the wrong
/// length (and on SQLite a table rebuild written for columns of another time), so
/// `generate migration --rebase` sets the merged one aside and writes it again from the
/// merged model after main's; `migrate run` applies it (a table rebuild on SQLite, with
/// reviews pointing at the books), `migrate verify` passes and `check` is clean with every
/// row kept.
fn colliding_migrations(kind: Option<ServerKind>, backend: &str, test: &str) {
    let Some(f) = Fixture::new(kind, test, &start(backend)) else {
        return;
    };
    f.dk(&["migrate", "run"]).success();
    seed(kind, &f.url);
    let branch = f.branch();
    let books = |len: u32| format!("\"title:string({len})\", \"pages:int?\"");
    let write_model = |dir: &Path, len: u32| {
        std::fs::write(
            dir.join("dieselkit.toml"),
            model(backend, "\"name:string(50)\"", &books(len), "\"body:text\""),
        )
        .expect("write")
    };
    write_model(&branch, 200);
    f.at(
        &branch,
        "1800000100",
        &["generate", "migration", "-m", "title 200"],
    )
    .success();
    write_model(&f.project, 150);
    f.at(
        &f.project,
        "1800000200",
        &["generate", "migration", "-m", "title 150"],
    )
    .success();
    f.dk(&["migrate", "run"]).success();
    let find = migration_named;
    let (theirs, ours) = (find(&branch, "_title_200"), find(&f.project, "_title_150"));
    f.merge_migration(&branch, &theirs);
    // The merge conflict in dieselkit.toml, resolved for the wider title.
    write_model(&f.project, 200);

    f.dk(&["check"])
        .expect_exit(3)
        .stdout_has(&format!(
            "colliding-migrations: `{theirs}` and `{ours}` were both generated after `"
        ))
        // A SQLite rebuild copies every column of the table: it collides with any change to it.
        .stdout_has(if kind.is_none() {
            "both change `books`:"
        } else {
            "both change `books.title`:"
        })
        .stdout_has(&format!("out-of-order-migration: `{theirs}`"));
    // Theirs was written without ours: set aside and written again from the merged model.
    let rebase = f.rebase("1800000300");
    let again = find(&f.project, "_title_200");
    assert!(again > ours, "{again} after {ours}");
    rebase.stderr_has(&format!(
        "Set aside migrations/{theirs} -> .dieselkit/rebased/{theirs}"
    ));
    assert!(f
        .project
        .join(".dieselkit/rebased")
        .join(&theirs)
        .join("up.sql")
        .is_file());
    let lineage = std::fs::read_to_string(
        f.project
            .join("migrations")
            .join(&again)
            .join("metadata.toml"),
    )
    .expect("metadata.toml");
    let ours_version = ours.split('_').next().expect("version").replace('-', "");
    assert!(
        lineage.contains(&format!("parent = \"{ours_version}\"")),
        "{lineage}"
    );
    f.dk(&["check"])
        .expect_exit(3)
        .stdout_has("pending-migrations");
    f.settles_with_every_row(kind);

    // Again, in version order this time, and the pair does not even apply: both add
    // `books.isbn`. Ours is applied; theirs (newer) is written again as a change of ours.
    let branch = f.branch();
    let with_isbn = |dir: &Path, len: u32| {
        std::fs::write(
            dir.join("dieselkit.toml"),
            model(
                backend,
                "\"name:string(50)\"",
                &format!("{}, \"isbn:string({len})?\"", books(200)),
                "\"body:text\"",
            ),
        )
        .expect("write")
    };
    with_isbn(&f.project, 13);
    f.at(
        &f.project,
        "1800000500",
        &["generate", "migration", "-m", "isbn 13"],
    )
    .success();
    f.dk(&["migrate", "run"]).success();
    with_isbn(&branch, 17);
    f.at(
        &branch,
        "1800000600",
        &["generate", "migration", "-m", "isbn 17"],
    )
    .success();
    let theirs = find(&branch, "_isbn_17");
    f.merge_migration(&branch, &theirs);
    with_isbn(&f.project, 17);
    f.dk(&["check"])
        .expect_exit(3)
        .stdout_has(&format!(
            "colliding-migrations: `{}",
            find(&f.project, "_isbn_13")
        ))
        .stdout_has("migrations-do-not-apply: ");
    let rebase = f.rebase("1800000700");
    rebase.stderr_has(&format!(
        "Set aside migrations/{theirs} -> .dieselkit/rebased/{theirs}"
    ));
    let again = find(&f.project, "_isbn_17");
    assert_ne!(again, theirs, "written again");
    f.dk(&["migrate", "run"]).success();
    f.dk(&["check"]).success();
    f.dk(&["migrate", "verify"]).success();
    assert_eq!(counts(kind, &f.url), SEEDED, "every row kept");
}

#[test]
fn colliding_migrations_are_named_and_rebased_on_sqlite() {
    colliding_migrations(None, "sqlite", "collide_sqlite");
}

#[test]
fn colliding_migrations_are_named_and_rebased_on_postgres() {
    colliding_migrations(Some(ServerKind::Postgres), "postgres", "collide_pg");
}

#[test]
fn colliding_migrations_are_named_and_rebased_on_mysql() {
    colliding_migrations(Some(ServerKind::Mysql), "mysql", "collide_my");
}

/// A long history squashed: thirty more migrations on SQLite, ten on the servers (and one
/// writing rows, which squash
/// refuses until told), then `migrate squash`. The old database applied them all: it needs
/// nothing, its status is clean (strict), `check` agrees and every row is there. A fresh
/// database gets the baseline and the same schema (`check` compares it with the replayed
/// migrations). The replaced directories are kept under `.dieselkit/squashed/`.
fn squash_keeps_old_and_new_databases_working(kind: Option<ServerKind>, backend: &str, test: &str) {
    let Some(f) = Fixture::new(kind, test, &start(backend)) else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let Some((_fresh_db, fresh)) =
        TestDb::or_sqlite(kind, &format!("{test}_fresh"), &tmp.path().join("fresh.db"))
    else {
        return;
    };
    let at = |epoch: u64, args: &[&str]| f.at(&f.project, &epoch.to_string(), args);
    f.dk(&["migrate", "run"]).success();
    seed(kind, &f.url);
    let mut books = String::from("\"title:string(100)\", \"pages:int?\"");
    // Thirty migrations on SQLite (the case), ten on the servers (each generate
    // replays the whole history there, which is slower).
    let count: u64 = if kind.is_none() { 30 } else { 10 };
    for i in 0..count {
        books.push_str(&format!(", \"note{i}:string(20)?\""));
        std::fs::write(
            f.project.join("dieselkit.toml"),
            model(backend, "\"name:string(50)\"", &books, "\"body:text\""),
        )
        .expect("write");
        at(
            1_800_000_000 + 100 * i,
            &["generate", "migration", "-m", &format!("note {i}")],
        )
        .success();
        f.dk(&["migrate", "run"]).success();
    }
    at(
        1_800_001_000,
        &["generate", "migration", "--empty", "-m", "touch names"],
    )
    .success();
    let touch = std::fs::read_dir(f.project.join("migrations"))
        .expect("list")
        .flatten()
        .find(|e| e.file_name().to_string_lossy().ends_with("_touch_names"))
        .expect("the empty migration")
        .path();
    std::fs::write(touch.join("up.sql"), "UPDATE authors SET name = name;\n").expect("write");
    std::fs::write(touch.join("down.sql"), "SELECT 1;\n").expect("write");
    f.dk(&["migrate", "run"]).success();
    let before = crate::support::tree(&f.project.join("migrations"));

    f.dk(&["migrate", "squash"])
        .usage_error()
        .stderr_has("_touch_names/up.sql: UPDATE authors SET name = name")
        .stderr_has("--allow-data");
    assert!(
        crate::support::tree(&f.project.join("migrations")) == before,
        "refused: nothing moved"
    );
    f.dk(&["migrate", "squash", "--allow-data", "-m", "baseline"])
        .success();
    let left: Vec<String> = std::fs::read_dir(f.project.join("migrations"))
        .expect("list")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with("00000000000000"))
        .collect();
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(left[0].ends_with("_baseline"), "{left:?}");
    assert!(f
        .project
        .join(".dieselkit/squashed")
        .join(touch.file_name().expect("name"))
        .is_dir());

    // The old database: nothing to apply, nothing edited or missing, no drift, every row.
    let run = f.dk(&["migrate", "run"]).success();
    assert!(!run.stderr().contains("Applying"), "{}", run.stderr());
    f.dk(&["migrate", "status", "--strict"]).success();
    f.dk(&["check"]).success();
    assert_eq!(counts(kind, &f.url), SEEDED, "every row kept");
    // A fresh database: the baseline builds the same schema.
    let on_fresh = |args: &[&str]| {
        dk().args(args)
            .args(["--database-url", &fresh])
            .current_dir(&f.project)
            .run()
    };
    on_fresh(&["migrate", "run"])
        .success()
        .stderr_has("_baseline");
    on_fresh(&["check"]).success();
    f.dk(&["migrate", "verify"]).success();
    if kind.is_none() {
        // Diesel's own harness (the generated tests and MIGRATE_ON_START embed the
        // migrations) reads the baseline and its metadata.toml too.
        crate::evolve::cargo_ok(&f.project, &["test"]);
    }
}

#[test]
fn squash_keeps_old_and_new_databases_working_on_sqlite() {
    squash_keeps_old_and_new_databases_working(None, "sqlite", "squash_sqlite");
}

#[test]
fn squash_keeps_old_and_new_databases_working_on_postgres() {
    squash_keeps_old_and_new_databases_working(Some(ServerKind::Postgres), "postgres", "squash_pg");
}

#[test]
fn squash_keeps_old_and_new_databases_working_on_mysql() {
    squash_keeps_old_and_new_databases_working(Some(ServerKind::Mysql), "mysql", "squash_my");
}

/// Drift made by hand on the live database becomes history: a table created there is refused
/// (the model cannot say it; nothing is written), then a column with a unique index and a
/// hand-named index are adopted by `generate migration --from-database`: a migration that
/// reproduces them, the field in dieselkit.toml, the migration recorded as applied there;
/// `check` and `status --strict` are clean, verify passes, every row is kept.
fn drift_is_adopted(kind: Option<ServerKind>, backend: &str, test: &str) {
    let Some(f) = Fixture::new(kind, test, &start(backend)) else {
        return;
    };
    f.dk(&["migrate", "run"]).success();
    seed(kind, &f.url);
    let before = crate::support::tree(&f.project);
    exec_on(kind, &f.url, "CREATE TABLE audit (id INTEGER PRIMARY KEY)");
    f.dk(&["generate", "migration", "--from-database", "-m", "adopt"])
        .usage_error()
        .stderr_has("create table audit")
        .stderr_has("it never drops or resets anything");
    assert!(
        crate::support::tree(&f.project) == before,
        "nothing written"
    );
    exec_on(kind, &f.url, "DROP TABLE audit");

    exec_on(
        kind,
        &f.url,
        "ALTER TABLE books ADD COLUMN isbn VARCHAR(13)",
    );
    exec_on(
        kind,
        &f.url,
        "CREATE UNIQUE INDEX index_books_on_isbn ON books (isbn)",
    );
    exec_on(kind, &f.url, "CREATE INDEX books_by_pages ON books (pages)");
    f.dk(&["check"]).expect_exit(3).stdout_has("books.isbn");
    f.dk(&[
        "generate",
        "migration",
        "--from-database",
        "-m",
        "adopt production changes",
    ])
    .success()
    .stderr_has("Stamped");
    let model = std::fs::read_to_string(f.project.join("dieselkit.toml")).expect("model");
    assert!(model.contains("\"isbn:string(13)?:unique\""), "{model}");
    f.dk(&["check"]).success();
    f.dk(&["migrate", "status", "--strict"]).success();
    f.dk(&["migrate", "verify"]).success();
    assert_eq!(counts(kind, &f.url), SEEDED, "every row kept");
    // The generated project builds without warnings and passes its tests with the adopted
    // field (on a server, they create their databases where this test's is).
    let server = match kind {
        Some(_) => f.url.rsplit_once('/').map(|(server, _)| server),
        None => None,
    };
    let envs: Vec<(&str, &str)> = server
        .map(|s| ("TEST_DATABASE_URL", s))
        .into_iter()
        .collect();
    crate::evolve::cargo_ok_with(&f.project, &["test"], &envs);
    let test_file = std::fs::read_to_string(f.project.join("tests/api.rs")).expect("tests");
    assert!(
        test_file.contains("isbn"),
        "the generated tests know the adopted field"
    );
}

#[test]
fn drift_is_adopted_on_sqlite() {
    drift_is_adopted(None, "sqlite", "adopt_sqlite");
}

#[test]
fn drift_is_adopted_on_postgres() {
    drift_is_adopted(Some(ServerKind::Postgres), "postgres", "adopt_pg");
}

#[test]
fn drift_is_adopted_on_mysql() {
    drift_is_adopted(Some(ServerKind::Mysql), "mysql", "adopt_my");
}

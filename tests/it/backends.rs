//! The SQL renderers and `dieselkit migrate` against real PostgreSQL and MariaDB/MySQL
//! servers, each test in its own database (see `support::TestDb`).

use crate::support::{dk, example, ServerKind, TestDb};
use dieselkit::spec::{Backend, Model};
use std::path::Path;

fn model(example_file: &str, backend: Backend) -> Model {
    let text = std::fs::read_to_string(example(example_file)).expect("example");
    let file = Model::from_toml_str(&text).expect("toml");
    let mut model = Model::from_file(&file).expect("model");
    model.backend = backend;
    model
}

/// Write the initial migrations of `example_file` for `backend` into `dir/migrations`.
fn write_initial_migrations(dir: &Path, example_file: &str, backend: Backend) -> usize {
    let migrations =
        dieselkit::plan::initial_migrations(&model(example_file, backend), 1_700_000_000)
            .expect("migrations");
    for m in &migrations {
        let d = dir.join("migrations").join(&m.dir_name);
        std::fs::create_dir_all(&d).expect("mkdir");
        std::fs::write(d.join("up.sql"), &m.up).expect("up");
        std::fs::write(d.join("down.sql"), &m.down).expect("down");
    }
    migrations.len()
}

fn round_trip(kind: ServerKind, backend: Backend, example_file: &str, test: &str, tables: &[&str]) {
    let Some(db) = TestDb::new(kind, test) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let count = write_initial_migrations(dir.path(), example_file, backend);
    let url = ["--database-url", db.url.as_str()];
    // The database does not exist yet (asked of the server's catalog, not read from an error
    // message): `migrate run` creates it.
    assert!(dieselkit::migrations::database_missing(&db.url));
    dk().args(["migrate", "run"])
        .args(url)
        .current_dir(dir.path())
        .run()
        .success()
        .stderr_has(&format!("applied {count} migration(s)"));
    assert!(!dieselkit::migrations::database_missing(&db.url));
    let mut m = dieselkit::migrations::Migrator::open(&db.url, dir.path()).expect("open");
    assert_eq!(m.table_names().expect("tables"), tables);
    dk().args(["migrate", "redo", "--all"])
        .args(url)
        .current_dir(dir.path())
        .run()
        .success()
        .stderr_has(&format!("redid {count} migration(s)"));
    dk().args(["migrate", "revert", "--all"])
        .args(url)
        .current_dir(dir.path())
        .run()
        .success();
    assert!(
        m.table_names().expect("tables").is_empty(),
        "revert --all leaves no tables"
    );
    let status = dk()
        .args(["migrate", "status"])
        .args(url)
        .current_dir(dir.path())
        .run()
        .success();
    assert_eq!(status.stdout().matches("pending").count(), count);
}

#[test]
fn every_field_type_migrates_and_reverts_on_postgres() {
    round_trip(
        ServerKind::Postgres,
        Backend::Postgres,
        "every_type.toml",
        "every_type_pg",
        &["owners", "samples"],
    );
}

#[test]
fn every_field_type_migrates_and_reverts_on_mysql() {
    round_trip(
        ServerKind::Mysql,
        Backend::Mysql,
        "every_type.toml",
        "every_type_my",
        &["owners", "samples"],
    );
}

#[test]
fn bookstore_migrates_and_reverts_on_postgres() {
    round_trip(
        ServerKind::Postgres,
        Backend::Postgres,
        "bookstore.toml",
        "bookstore_pg",
        &["authors", "books"],
    );
}

#[test]
fn bookstore_migrates_and_reverts_on_mysql() {
    round_trip(
        ServerKind::Mysql,
        Backend::Mysql,
        "bookstore.toml",
        "bookstore_my",
        &["authors", "books"],
    );
}

fn failing_migration(kind: ServerKind, test: &str, rolled_back: bool) {
    let Some(db) = TestDb::new(kind, test) else {
        return;
    };
    db.create();
    let dir = tempfile::tempdir().expect("tempdir");
    for (v, up) in [
        (
            "2024-01-01-000000_first",
            "CREATE TABLE first (id INTEGER PRIMARY KEY);\n",
        ),
        (
            "2024-01-02-000000_second",
            "CREATE TABLE second (id INTEGER PRIMARY KEY);\nINSERT INTO nowhere VALUES (1);\n",
        ),
    ] {
        let d = dir.path().join("migrations").join(v);
        std::fs::create_dir_all(&d).expect("mkdir");
        std::fs::write(d.join("up.sql"), up).expect("up");
        std::fs::write(d.join("down.sql"), "SELECT 1;\n").expect("down");
    }
    let run = dk()
        .args(["migrate", "run", "--database-url", &db.url])
        .current_dir(dir.path())
        .run()
        .failure()
        .stderr_has("migration `2024-01-02-000000_second` failed in")
        .stderr_has("second/up.sql")
        .stderr_has("nowhere");
    let mut m = dieselkit::migrations::Migrator::open(&db.url, dir.path()).expect("open");
    let states = m.status().expect("status").migrations;
    assert!(
        states[0].applied && !states[1].applied,
        "the ledger keeps the previous version"
    );
    if rolled_back {
        assert!(run.stderr().contains("rolled back"));
        assert_eq!(m.table_names().expect("tables"), ["first"]);
    } else {
        assert!(
            run.stderr()
                .contains("MySQL commits schema changes immediately"),
            "{}",
            run.stderr()
        );
    }
}

#[test]
fn failing_migration_is_rolled_back_on_postgres() {
    failing_migration(ServerKind::Postgres, "failing_pg", true);
}

#[test]
fn failing_migration_is_reported_honestly_on_mysql() {
    failing_migration(ServerKind::Mysql, "failing_my", false);
}

#[test]
fn sql_for_every_field_type_on_every_backend() {
    for backend in [Backend::Sqlite, Backend::Postgres, Backend::Mysql] {
        let model = model("every_type.toml", backend);
        let mut text = String::new();
        for m in dieselkit::plan::initial_migrations(&model, 1_700_000_000).expect("migrations") {
            text.push_str(&format!(
                "==> {}/up.sql <==\n{}\n==> {}/down.sql <==\n{}\n",
                m.dir_name, m.up, m.dir_name, m.down
            ));
        }
        let schema = dieselkit::schema::from_model(&model);
        text.push_str("==> src/schema.rs <==\n");
        text.push_str(&dieselkit::schema::rust::render_schema_rs(&schema, backend));
        insta::assert_snapshot!(format!("every_type_sql_{backend}"), text);
    }
}

/// Introspecting the database the migrations built gives back the model's schema.
fn introspection_round_trip(kind: Option<ServerKind>, backend: Backend, test: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some((_db, url)) = TestDb::or_sqlite(kind, test, &dir.path().join("app.db")) else {
        return;
    };
    for example_file in ["every_type.toml", "bookstore.toml"] {
        let project = dir.path().join(example_file);
        write_initial_migrations(&project, example_file, backend);
        let mut m = dieselkit::migrations::Migrator::open(&url, &project).expect("open");
        m.run(None, &mut || {}, &mut |_| {}).expect("run");
        let live = m.introspect().expect("introspect");
        let desired = dieselkit::migrations::introspect::normalize(
            &dieselkit::schema::from_model(&model(example_file, backend)),
            backend,
        );
        assert_eq!(live, desired, "{backend} {example_file}");
        assert_eq!(dieselkit::diff::diff(&live, &desired), Ok(vec![]));
        m.revert(
            dieselkit::migrations::RevertLimit::All,
            &mut || {},
            &mut |_| {},
        )
        .expect("revert");
    }
}

#[test]
fn introspection_round_trips_on_sqlite() {
    introspection_round_trip(None, Backend::Sqlite, "introspect_sqlite");
}

#[test]
fn introspection_round_trips_on_postgres() {
    introspection_round_trip(
        Some(ServerKind::Postgres),
        Backend::Postgres,
        "introspect_pg",
    );
}

#[test]
fn introspection_round_trips_on_mysql() {
    introspection_round_trip(Some(ServerKind::Mysql), Backend::Mysql, "introspect_my");
}

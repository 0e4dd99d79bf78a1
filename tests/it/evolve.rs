//! Schema evolution end to end: the workshop steps in examples/users and
//! examples/accounts, each one dieselkit command, each leaving a project that migrates,
//! keeps its rows, and (at the end) builds and passes its own tests.

use crate::support::{dk, example, generated_target_dir};
use diesel::{Connection, RunQueryDsl};
use std::path::Path;
use std::process::Command;

#[derive(diesel::QueryableByName, Debug, PartialEq)]
struct Row {
    #[diesel(sql_type = diesel::sql_types::Text)]
    line: String,
}

fn query(db: &Path, sql: &str) -> Vec<String> {
    let mut c = diesel::SqliteConnection::establish(&db.to_string_lossy()).expect("open");
    let rows: Vec<Row> = diesel::sql_query(sql).load(&mut c).expect(sql);
    rows.into_iter().map(|r| r.line).collect()
}

fn exec(db: &Path, sql: &str) {
    let mut c = diesel::SqliteConnection::establish(&db.to_string_lossy()).expect("open");
    diesel::sql_query(sql).execute(&mut c).expect(sql);
}

fn cargo_ok(project: &Path, args: &[&str]) {
    let out = Command::new(env!("CARGO"))
        .args(args)
        .current_dir(project)
        .env("CARGO_TARGET_DIR", generated_target_dir())
        .env_remove("RUSTFLAGS")
        .output()
        .expect("cargo");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "cargo {args:?} failed:\n{stderr}");
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("warning"))
        .collect();
    assert!(warnings.is_empty(), "warnings:\n{stderr}");
}

fn step(project: &Path, args: &[&str]) -> crate::support::Run {
    dk().args(args)
        .current_dir(project)
        .env("SOURCE_DATE_EPOCH", "1800000000")
        .run()
        .success()
}

#[test]
fn users_workshop_add_rename_unique_keeps_rows() {
    let tmp = tempfile::tempdir().expect("tempdir");
    dk().args(["new-project", "--from"])
        .args([example("users/01-create.toml")])
        .current_dir(tmp.path())
        .run()
        .success();
    let project = tmp.path().join("users-service");
    let db = project.join("users_service.db");
    step(&project, &["migrate", "run"]);
    exec(&db, "INSERT INTO users (email, full_name) VALUES ('ada@example.com', 'Ada'), ('alan@example.com', 'Alan')");

    // Step 2: add a nullable column.
    let add = step(&project, &["generate", "field", "user", "age:int?"]);
    assert!(
        add.stdout()
            .contains("ALTER TABLE users ADD COLUMN age INTEGER"),
        "{}",
        add.stdout()
    );
    step(&project, &["migrate", "run"]);
    exec(
        &db,
        "UPDATE users SET age = 36 WHERE email = 'ada@example.com'",
    );

    // Step 3: a rename without a hint is refused, never guessed.
    let model = project.join("dieselkit.toml");
    let without_hint = std::fs::read_to_string(example("users/03-rename.toml"))
        .expect("step")
        .replace(":renamed_from=age", "");
    std::fs::write(&model, without_hint).expect("write");
    dk().args(["generate", "migration", "-m", "rename"])
        .current_dir(&project)
        .run()
        .usage_error()
        .stderr_has("add `:renamed_from=age`");
    std::fs::copy(example("users/03-rename.toml"), &model).expect("copy");
    let rename = step(
        &project,
        &["generate", "migration", "-m", "rename age to years_old"],
    );
    assert!(
        rename
            .stdout()
            .contains("ALTER TABLE users RENAME COLUMN age TO years_old"),
        "{}",
        rename.stdout()
    );
    step(&project, &["migrate", "run"]);
    assert_eq!(
        query(
            &db,
            "SELECT email || ':' || COALESCE(years_old, 'null') AS line FROM users ORDER BY id"
        ),
        ["ada@example.com:36", "alan@example.com:null"],
        "rename keeps values"
    );

    // Step 4: unique index on email.
    std::fs::copy(example("users/04-unique-email.toml"), &model).expect("copy");
    let unique = step(&project, &["generate", "migration", "-m", "unique email"]);
    assert!(
        unique
            .stdout()
            .contains("CREATE UNIQUE INDEX index_users_on_email ON users (email)"),
        "{}",
        unique.stdout()
    );
    step(&project, &["migrate", "run"]);
    assert_eq!(
        query(&db, "SELECT count(*) || '' AS line FROM users"),
        ["2"]
    );

    // Nothing left to generate; the project agrees with itself; everything verifies.
    step(&project, &["generate", "migration", "-m", "nothing"]).stderr_has("no migration written");
    step(&project, &["check"]);
    step(&project, &["migrate", "verify"]);
    cargo_ok(
        &project,
        &["build", "--all-targets", "--message-format", "short"],
    );
    cargo_ok(&project, &["test"]);
}

#[test]
fn accounts_workshop_not_null_with_backfill() {
    let tmp = tempfile::tempdir().expect("tempdir");
    dk().args(["new-project", "--from"])
        .args([example("accounts/01-create.toml")])
        .current_dir(tmp.path())
        .run()
        .success();
    let project = tmp.path().join("accounts-service");
    let db = project.join("accounts_service.db");
    step(&project, &["migrate", "run"]);
    exec(
        &db,
        "INSERT INTO accounts (email) VALUES ('a@example.com'), ('b@example.com')",
    );
    step(
        &project,
        &["generate", "field", "account", "display_name:string(80)?"],
    );
    step(&project, &["migrate", "run"]);
    dk().args(["generate", "field", "account", "timezone:string(64)"])
        .current_dir(&project)
        .run()
        .usage_error()
        .stderr_has("has no default")
        .stderr_has("--backfill timezone=SQL");
    assert!(
        !std::fs::read_to_string(project.join("dieselkit.toml"))
            .expect("model")
            .contains("timezone"),
        "a refused change leaves the model alone"
    );
    step(
        &project,
        &[
            "generate",
            "field",
            "account",
            "timezone:string(64)",
            "--backfill",
            "timezone='UTC'",
        ],
    );
    step(&project, &["migrate", "run"]);
    assert_eq!(
        query(
            &db,
            "SELECT email || ':' || timezone AS line FROM accounts ORDER BY id"
        ),
        ["a@example.com:UTC", "b@example.com:UTC"]
    );
    // The column is NOT NULL now, and the unique index on email survived the rebuild.
    let cols = query(&db, "SELECT name || ':' || \"notnull\" AS line FROM pragma_table_info('accounts') WHERE name = 'timezone'");
    assert_eq!(cols, ["timezone:1"]);
    let idx = query(&db, "SELECT name AS line FROM pragma_index_list('accounts') WHERE \"unique\" = 1 AND origin = 'c'");
    assert_eq!(idx, ["index_accounts_on_email"]);
    step(&project, &["migrate", "redo"]);
    step(&project, &["check"]);
    step(&project, &["migrate", "verify"]);
    cargo_ok(
        &project,
        &["build", "--all-targets", "--message-format", "short"],
    );
    cargo_ok(&project, &["test"]);
}

#[test]
fn edited_generated_files_are_never_overwritten() {
    let tmp = tempfile::tempdir().expect("tempdir");
    dk().args(["new-project", "--from"])
        .args([example("accounts/01-create.toml")])
        .current_dir(tmp.path())
        .run()
        .success();
    let project = tmp.path().join("accounts-service");
    let routes = project.join("src/routes/account.rs");
    let mut mine = std::fs::read_to_string(&routes).expect("read");
    mine.push_str("\n// my own route tweak\n");
    std::fs::write(&routes, &mine).expect("write");
    let run = step(
        &project,
        &["generate", "field", "account", "nickname:string(30)?"],
    );
    assert!(
        run.stderr()
            .contains("`src/routes/account.rs` was edited since it was generated"),
        "{}",
        run.stderr()
    );
    assert_eq!(
        std::fs::read_to_string(&routes).expect("read"),
        mine,
        "the edit is kept"
    );
    assert!(
        project.join("src/routes/account.rs.dieselkit-new").exists(),
        "the new version is beside it"
    );
    assert!(
        std::fs::read_to_string(project.join("src/models/account.rs"))
            .expect("read")
            .contains("nickname"),
        "unedited files are updated"
    );
}

/// The same evolution on a server backend: replay on a scratch database on the server,
/// rename keeping values, NOT NULL with backfill, a type change as a cast, check, verify.
fn evolve_on_server(kind: crate::support::ServerKind, backend: &str, test: &str) {
    use crate::support::TestDb;
    let Some(db) = TestDb::new(kind, test) else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let model = format!(
        "[project]\nname = \"evolve-{backend}\"\nbackend = \"{backend}\"\n\n[[resources]]\nname = \"user\"\nfields = [\"email:string(255)\", \"age:int?\"]\n"
    );
    let file = dieselkit::spec::Model::from_toml_str(&model).expect("toml");
    let m = dieselkit::spec::Model::from_file(&file).expect("model");
    let files = dieselkit::plan::new_project(&m, 1_700_000_000, None).expect("plan");
    let project = tmp.path().join("p");
    dieselkit::write::write_project(&project, &files, false).expect("write");
    let url = ["--database-url", db.url.as_str()];
    let run = |args: &[&str]| {
        dk().args(args)
            .args(url)
            .current_dir(&project)
            .env("SOURCE_DATE_EPOCH", "1800000000")
            .run()
    };
    run(&["migrate", "run"]).success();
    let sql = |q: &str| {
        use diesel::RunQueryDsl;
        match kind {
            crate::support::ServerKind::Postgres => {
                let mut c = diesel::PgConnection::establish(&db.url).expect("pg");
                diesel::sql_query(q)
                    .load::<Line>(&mut c)
                    .map(|r| r.into_iter().map(|r| r.line).collect::<Vec<_>>())
            }
            crate::support::ServerKind::Mysql => {
                let mut c = diesel::MysqlConnection::establish(&db.url).expect("mysql");
                diesel::sql_query(q)
                    .load::<Line>(&mut c)
                    .map(|r| r.into_iter().map(|r| r.line).collect::<Vec<_>>())
            }
        }
    };
    let exec = |q: &str| {
        use diesel::RunQueryDsl;
        match kind {
            crate::support::ServerKind::Postgres => {
                let mut c = diesel::PgConnection::establish(&db.url).expect("pg");
                diesel::sql_query(q).execute(&mut c).expect(q);
            }
            crate::support::ServerKind::Mysql => {
                let mut c = diesel::MysqlConnection::establish(&db.url).expect("mysql");
                diesel::sql_query(q).execute(&mut c).expect(q);
            }
        }
    };
    exec(
        "INSERT INTO users (email, age) VALUES ('ada@example.com', 36), ('alan@example.com', NULL)",
    );
    let model_path = project.join("dieselkit.toml");
    let text = std::fs::read_to_string(&model_path).expect("model");
    std::fs::write(
        &model_path,
        text.replace("\"age:int?\"", "\"years_old:bigint?:renamed_from=age\""),
    )
    .expect("write");
    let out = run(&["generate", "migration", "-m", "rename and widen age"]).success();
    assert!(
        out.stdout().contains("RENAME COLUMN age TO years_old"),
        "{}",
        out.stdout()
    );
    run(&["migrate", "run"]).success();
    run(&[
        "generate",
        "field",
        "user",
        "timezone:string(64)",
        "--backfill",
        "timezone='UTC'",
    ])
    .success();
    run(&["migrate", "run"]).success();
    let cast = if kind == crate::support::ServerKind::Mysql {
        "CHAR"
    } else {
        "TEXT"
    };
    let rows = sql(&format!(
        "SELECT CAST(CONCAT(email, ':', COALESCE(CAST(years_old AS {cast}), 'null'), ':', timezone) AS {cast}) AS line FROM users ORDER BY id"
    ))
    .expect("select");
    assert_eq!(
        rows,
        ["ada@example.com:36:UTC", "alan@example.com:null:UTC"],
        "{backend}: rename, widening and backfill keep every value"
    );
    run(&["check"]).success();
    run(&["migrate", "verify"]).success();
    run(&["migrate", "revert", "--all"]).success();
}

#[derive(diesel::QueryableByName)]
struct Line {
    #[diesel(sql_type = diesel::sql_types::Text)]
    line: String,
}

#[test]
fn evolution_keeps_rows_on_postgres() {
    evolve_on_server(
        crate::support::ServerKind::Postgres,
        "postgres",
        "evolve_pg",
    );
}

#[test]
fn evolution_keeps_rows_on_mysql() {
    evolve_on_server(crate::support::ServerKind::Mysql, "mysql", "evolve_my");
}

/// Every operation the diff engine emits, one migration each, on one backend; then
/// `migrate verify` replays them all and checks each down.sql restores the schema exactly
/// (up, down, up), and rows survive the non-destructive ones.
fn every_operation_round_trips(
    kind: Option<crate::support::ServerKind>,
    backend: &str,
    test: &str,
) {
    use crate::support::TestDb;
    let db = match kind {
        Some(k) => match TestDb::new(k, test) {
            Some(db) => Some(db),
            None => return,
        },
        None => None,
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let url = db
        .as_ref()
        .map(|d| d.url.clone())
        .unwrap_or_else(|| tmp.path().join("ops.db").to_string_lossy().into_owned());
    let base = format!("[project]\nname = \"ops-{backend}\"\nbackend = \"{backend}\"\n\n");
    let model_with = |resources: &str| format!("{base}{resources}");
    let start = model_with("[[resources]]\nname = \"team\"\nfields = [\"label:string(40)\"]\n\n[[resources]]\nname = \"player\"\nfields = [\"nick:string(30)\", \"score:int?\", \"rank:smallint:default=1\"]\n");
    let file = dieselkit::spec::Model::from_toml_str(&start).expect("toml");
    let m = dieselkit::spec::Model::from_file(&file).expect("model");
    let files = dieselkit::plan::new_project(&m, 1_700_000_000, None).expect("plan");
    let project = tmp.path().join("p");
    dieselkit::write::write_project(&project, &files, false).expect("write");
    let run = |args: &[&str]| {
        dk().args(args)
            .args(["--database-url", &url])
            .current_dir(&project)
            .env("SOURCE_DATE_EPOCH", "1800000000")
            .run()
    };
    run(&["migrate", "run"]).success();
    let mut mig = dieselkit::migrations::Migrator::open(&url, &project).expect("open");
    let steps: &[(&str, &[&str])] = &[
        // add index, default change, nullability change (with backfill), widening type change
        ("\"nick:string(30):index\", \"score:bigint:default=0\", \"rank:smallint:default=2\"", &["--backfill", "player.score=0"]),
        // drop index, unique index, make nullable again, add a reference column
        ("\"nick:string(30):unique\", \"score:bigint?\", \"rank:smallint:default=2\", \"team:references?:on_delete=set_null\"", &[]),
        // drop a column
        ("\"nick:string(30):unique\", \"rank:smallint:default=2\", \"team:references?:on_delete=set_null\"", &["--allow-drop"]),
    ];
    for (i, (fields, extra)) in steps.iter().enumerate() {
        let text = model_with(&format!(
            "[[resources]]\nname = \"team\"\nfields = [\"label:string(40)\"]\n\n[[resources]]\nname = \"player\"\nfields = [{fields}]\n"
        ));
        std::fs::write(project.join("dieselkit.toml"), text).expect("model");
        let mut args = vec!["generate", "migration", "-m"];
        let msg = format!("step {i}");
        args.push(&msg);
        args.extend_from_slice(extra);
        run(&args).success();
        run(&["migrate", "run"]).success();
        if i == 0 {
            // Rows written now must survive the later, non-destructive steps.
            let n = mig.table_names().expect("tables");
            assert!(n.contains(&"players".to_string()));
        }
        run(&["check"]).success();
    }
    // A new resource, then dropping it again.
    run(&["generate", "resource", "coach", "name:string(50)"]).success();
    run(&["migrate", "run"]).success();
    let text = std::fs::read_to_string(project.join("dieselkit.toml")).expect("model");
    let without = text
        .split("[[resources]]\nname = \"coach\"")
        .next()
        .unwrap_or(&text)
        .to_string();
    std::fs::write(project.join("dieselkit.toml"), without).expect("model");
    run(&["generate", "migration", "-m", "drop coach"])
        .usage_error()
        .stderr_has("--allow-drop");
    run(&["generate", "migration", "-m", "drop coach", "--allow-drop"]).success();
    run(&["migrate", "run"]).success();
    run(&["check"]).success();
    let verify = run(&["migrate", "verify"]);
    assert_eq!(verify.code(), 0, "{backend}: {}", verify.stderr());
    run(&["migrate", "revert", "--all"]).success();
    assert!(mig.table_names().expect("tables").is_empty());
}

#[test]
fn every_operation_round_trips_on_sqlite() {
    every_operation_round_trips(None, "sqlite", "ops_sqlite");
}

#[test]
fn every_operation_round_trips_on_postgres() {
    every_operation_round_trips(
        Some(crate::support::ServerKind::Postgres),
        "postgres",
        "ops_pg",
    );
}

#[test]
fn every_operation_round_trips_on_mysql() {
    every_operation_round_trips(Some(crate::support::ServerKind::Mysql), "mysql", "ops_my");
}

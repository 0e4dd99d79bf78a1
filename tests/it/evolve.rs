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

pub(crate) fn query(db: &Path, sql: &str) -> Vec<String> {
    let mut c = diesel::SqliteConnection::establish(&db.to_string_lossy()).expect("open");
    let rows: Vec<Row> = diesel::sql_query(sql).load(&mut c).expect(sql);
    rows.into_iter().map(|r| r.line).collect()
}

fn exec(db: &Path, sql: &str) {
    let mut c = diesel::SqliteConnection::establish(&db.to_string_lossy()).expect("open");
    diesel::sql_query(sql).execute(&mut c).expect(sql);
}

pub(crate) fn cargo_ok(project: &Path, args: &[&str]) {
    cargo_ok_with(project, args, &[]);
}

/// [`cargo_ok`] with environment variables.
pub(crate) fn cargo_ok_with(project: &Path, args: &[&str], envs: &[(&str, &str)]) {
    let out = Command::new(env!("CARGO"))
        .args(args)
        .current_dir(project)
        .env("CARGO_TARGET_DIR", generated_target_dir())
        .env_remove("RUSTFLAGS")
        .envs(envs.iter().copied())
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

/// `dieselkit new-project --from examples/EXAMPLE` in `dir`; the project is `dir/NAME`.
fn from_example(dir: &Path, example_file: &str, name: &str) -> std::path::PathBuf {
    dk().args(["new-project", "--from"])
        .args([example(example_file)])
        .current_dir(dir)
        .run()
        .success();
    dir.join(name)
}

/// The end of every workshop: no drift, migrations verify, the project builds without
/// warnings and passes its own tests.
fn agrees_verifies_builds_and_passes_its_tests(project: &Path) {
    step(project, &["check"]);
    step(project, &["migrate", "verify"]);
    cargo_ok(
        project,
        &["build", "--all-targets", "--message-format", "short"],
    );
    cargo_ok(project, &["test"]);
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
    let project = from_example(tmp.path(), "users/01-create.toml", "users-service");
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
    agrees_verifies_builds_and_passes_its_tests(&project);
}

#[test]
fn accounts_workshop_not_null_with_backfill() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let project = from_example(tmp.path(), "accounts/01-create.toml", "accounts-service");
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
    let refused = dk()
        .args(["generate", "field", "account", "timezone:string(64)"])
        .current_dir(&project)
        .run()
        .usage_error()
        .stderr_has("has no default");
    assert!(
        !std::fs::read_to_string(project.join("dieselkit.toml"))
            .expect("model")
            .contains("timezone"),
        "a refused change leaves the model alone"
    );
    // The hint, pasted into a shell as printed, gives the SQL it shows: quotes included.
    let stderr = refused.stderr();
    let hint = stderr
        .split('`')
        .find(|part| part.starts_with("--backfill "))
        .unwrap_or_else(|| panic!("a --backfill hint in {stderr}"));
    assert_eq!(hint, "--backfill \"accounts.timezone='UTC'\"");
    let bin = env!("CARGO_BIN_EXE_dieselkit");
    let pasted = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "'{bin}' generate field account 'timezone:string(64)' {hint}"
        ))
        .current_dir(&project)
        .env("SOURCE_DATE_EPOCH", "1800000000")
        .output()
        .expect("sh");
    assert!(
        pasted.status.success(),
        "{}",
        String::from_utf8_lossy(&pasted.stderr)
    );
    let migration = std::fs::read_dir(project.join("migrations"))
        .expect("migrations")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().contains("timezone"))
        .max()
        .expect("the timezone migration");
    let up = std::fs::read_to_string(migration.join("up.sql")).expect("up.sql");
    assert!(up.contains("SET timezone = 'UTC'"), "{up}");
    // What the shell makes of a hint without the double quotes is refused before anything
    // is written: the new migration is tried on a scratch database first.
    std::fs::remove_dir_all(&migration).expect("rm");
    let model = std::fs::read_to_string(project.join("dieselkit.toml")).expect("model");
    std::fs::write(
        project.join("dieselkit.toml"),
        model.replace(", \"timezone:string(64)\"", ""),
    )
    .expect("model");
    let before = crate::support::tree(&project);
    dk().args([
        "generate",
        "field",
        "account",
        "timezone:string(64)",
        "--backfill",
        "accounts.timezone=UTC",
    ])
    .current_dir(&project)
    .env("SOURCE_DATE_EPOCH", "1800000000")
    .run()
    .usage_error()
    .stderr_has("no such column: UTC")
    .stderr_has("nothing was written");
    assert!(crate::support::tree(&project) == before, "nothing changed");
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
    agrees_verifies_builds_and_passes_its_tests(&project);
}

/// The user's own validation rule, model method and route, and their own test of them.
const CUSTOM_MODEL: &str = r#"
pub fn validate_new(new: &NewAuthor, errors: &mut Vec<FieldError>) {
    if new.name.trim().eq_ignore_ascii_case("anonymous") {
        errors.push(FieldError::new("name", "must name someone"));
    }
}

impl crate::models::Author {
    /// "Ada Lovelace (#1)".
    pub fn card(&self) -> String {
        format!("{} (#{})", self.name, self.id)
    }
}
"#;

const CUSTOM_ROUTES: &str = r#"//! My routes.

use actix_web::{web, HttpResponse};

use crate::db::{self, DbPool};
use crate::error::ApiError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/authors/{id}/card", web::get().to(card));
}

async fn card(pool: web::Data<DbPool>, id: web::Path<i32>) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let author = db::read(&pool, move |conn| crate::generated::routes::author::find(conn, id)).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "card": author.card() })))
}
"#;

const CUSTOM_TEST: &str = r#"//! My tests of my code.

use actix_web::{test, web, App};
use bookstore::db;
use diesel_migrations::MigrationHarness;
use serde_json::{json, Value};

#[actix_web::test]
async fn my_rule_and_my_route() {
    let dir = std::env::temp_dir().join(format!("bookstore-custom-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&dir);
    let pool = db::build_pool(dir.to_str().unwrap(), 2).unwrap();
    pool.get().unwrap().run_pending_migrations(bookstore::MIGRATIONS).unwrap();
    let app = test::init_service(
        App::new().app_data(web::Data::new(pool)).configure(bookstore::configure),
    )
    .await;
    let refused = test::TestRequest::post()
        .uri("/authors")
        .set_json(json!({ "name": "Anonymous" }))
        .to_request();
    let refused = test::call_service(&app, refused).await;
    assert_eq!(refused.status(), 422);
    let body: Value = test::read_body_json(refused).await;
    assert!(body.to_string().contains("must name someone"), "{body}");
    let created = test::TestRequest::post()
        .uri("/authors")
        .set_json(json!({ "name": "Ada Lovelace" }))
        .to_request();
    let created: Value = test::call_and_read_body_json(&app, created).await;
    let card = test::TestRequest::get()
        .uri(&format!("/authors/{}/card", created["id"]))
        .to_request();
    let card: Value = test::call_and_read_body_json(&app, card).await;
    assert_eq!(card["card"], format!("Ada Lovelace (#{})", created["id"]));
    let _ = std::fs::remove_file(&dir);
}
"#;

/// Every file under `dir` whose name ends with `suffix`.
fn files_ending_with(dir: &Path, suffix: &str) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).expect("list").flatten() {
        let path = entry.path();
        if path
            .file_name()
            .is_some_and(|n| n == "target" || n == ".git")
        {
            continue;
        }
        if path.is_dir() {
            found.extend(files_ending_with(&path, suffix));
        } else if path.to_string_lossy().ends_with(suffix) {
            found.push(path);
        }
    }
    found
}

/// The generation gap, as a user meets it on day two: a validation rule and a method in
/// `src/models/author.rs`, a route in `src/routes/author.rs`, a test of their own; then
/// `generate field`, a field rename and `generate resource`. Nothing to merge by hand, every
/// edit intact, and the project builds without warnings, passes clippy and every test
/// (the generated ones and the user's, which exercises the rule and the route).
#[test]
fn hand_written_code_survives_every_generate() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let project = from_example(tmp.path(), "bookstore.toml", "bookstore");
    let models = project.join("src/models/author.rs");
    let generated_model = std::fs::read_to_string(&models).expect("read");
    let rule_start = generated_model
        .find("/// Your checks on the body of `POST")
        .expect("hook");
    let rule_end = generated_model
        .find("/// Your checks on the body of `PATCH")
        .expect("hook");
    let mine_model = format!(
        "{}{}\n{}",
        &generated_model[..rule_start],
        CUSTOM_MODEL.trim_start(),
        &generated_model[rule_end..]
    );
    let mine: Vec<(&str, String)> = vec![
        ("src/models/author.rs", mine_model),
        ("src/routes/author.rs", CUSTOM_ROUTES.to_string()),
        ("tests/custom.rs", CUSTOM_TEST.to_string()),
    ];
    for (path, text) in &mine {
        std::fs::write(project.join(path), text).expect("write");
    }

    let mut runs = vec![step(
        &project,
        &["generate", "field", "author", "nickname:string(30)?"],
    )];
    let model = project.join("dieselkit.toml");
    let renamed = std::fs::read_to_string(&model)
        .expect("read")
        .replace("\"bio:text?\"", "\"biography:text?:renamed_from=bio\"");
    assert!(renamed.contains("renamed_from=bio"), "{renamed}");
    std::fs::write(&model, renamed).expect("write");
    runs.push(step(
        &project,
        &["generate", "migration", "-m", "rename bio to biography"],
    ));
    runs.push(step(
        &project,
        &[
            "generate",
            "resource",
            "review",
            "body:text",
            "book:references",
        ],
    ));

    for run in &runs {
        for sign in [
            "dieselkit-new",
            "had been edited",
            "saved as",
            "nothing compiles it",
        ] {
            assert!(
                !run.stderr().contains(sign),
                "a generate set a file aside ({sign}):\n{}",
                run.stderr()
            );
        }
    }
    assert_eq!(
        files_ending_with(&project, ".dieselkit-new"),
        Vec::<std::path::PathBuf>::new()
    );
    assert!(
        !project.join(".dieselkit/edited").exists(),
        "nothing set aside"
    );
    for (path, text) in &mine {
        assert_eq!(
            &std::fs::read_to_string(project.join(path)).expect("read"),
            text,
            "{path} is kept as the user wrote it"
        );
    }
    let generated =
        std::fs::read_to_string(project.join("src/generated/models/author.rs")).expect("read");
    assert!(
        generated.contains("pub nickname: Option<String>"),
        "{generated}"
    );
    assert!(
        generated.contains("pub biography: Option<String>"),
        "{generated}"
    );
    assert!(
        project.join("src/models/review.rs").is_file(),
        "the new resource's file is created"
    );
    assert!(project.join("src/generated/routes/review.rs").is_file());

    step(&project, &["migrate", "run"]);
    agrees_verifies_builds_and_passes_its_tests(&project);
    crate::e2e::clippy_clean(&project);
}

/// Editing one of dieselkit's files is not the way to customise it: the next `generate`
/// rewrites it, but saves the edited version under `.dieselkit/edited/` and says so.
#[test]
fn an_edited_generated_file_is_saved_before_it_is_rewritten() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let project = from_example(tmp.path(), "accounts/01-create.toml", "accounts-service");
    let routes = project.join("src/generated/routes/account.rs");
    let mut edited = std::fs::read_to_string(&routes).expect("read");
    edited.push_str("\n// my own route tweak\n");
    std::fs::write(&routes, &edited).expect("write");
    let run = step(
        &project,
        &["generate", "field", "account", "nickname:string(30)?"],
    );
    assert!(
        run.stderr().contains(
            "`src/generated/routes/account.rs` is dieselkit's (rewritten by every `generate`) but had been edited; your version is saved as `.dieselkit/edited/src/generated/routes/account.rs`"
        ),
        "{}",
        run.stderr()
    );
    assert_eq!(
        std::fs::read_to_string(project.join(".dieselkit/edited/src/generated/routes/account.rs"))
            .expect("saved"),
        edited
    );
    let rewritten = std::fs::read_to_string(&routes).expect("read");
    assert!(!rewritten.contains("my own route tweak"));
    assert!(
        rewritten.contains("nickname"),
        "rewritten for the new model"
    );
}

pub(crate) fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("list").flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// A project as dieselkit 0.1 generated it (`tests/fixtures/accounts-0.1`, generated code
/// and the user's in the same files), with one file the user edited: `generate` refuses it
/// and points to `update`, writing nothing; `update` moves it to the current layout, saving
/// the edited file for its edits to be ported; then `generate field` works, and the project
/// builds and passes its tests.
#[test]
fn a_0_1_project_moves_to_the_current_layout_with_update() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let project = tmp.path().join("accounts-service");
    copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/accounts-0.1"),
        &project,
    );
    let routes = project.join("src/routes/account.rs");
    let mut edited = std::fs::read_to_string(&routes).expect("read");
    edited.push_str("\n// my 0.1 tweak\n");
    std::fs::write(&routes, &edited).expect("write");

    dk().args(["generate", "field", "account", "nickname:string(30)?"])
        .current_dir(&project)
        .run()
        .usage_error()
        .stderr_has("has dieselkit 0.1's layout")
        .stderr_has("run `dieselkit update` once");
    assert!(!project.join("src/generated").exists(), "nothing written");
    assert_eq!(std::fs::read_to_string(&routes).expect("read"), edited);

    // CI's question first: an update is due (exit 3), and asking writes nothing.
    let before = crate::support::tree(&project);
    dk().args(["update", "--check"])
        .current_dir(&project)
        .run()
        .expect_exit(3)
        .stdout_has("would remove src/db.rs")
        .stdout_has("would update src/routes/account.rs")
        .stdout_has("would create src/generated/db.rs");
    dk().args(["update", "--dry-run"])
        .current_dir(&project)
        .run()
        .success()
        .stdout_has("+++ b/src/generated/mod.rs")
        .stdout_has("-// my 0.1 tweak");
    assert!(
        crate::support::tree(&project) == before,
        "--check and --dry-run write nothing"
    );

    let update = step(&project, &["update"]);
    assert!(
        update.stderr().contains("`src/routes/account.rs` mixed generated code with your edits; it is saved as `.dieselkit/edited/src/routes/account.rs`"),
        "{}",
        update.stderr()
    );
    assert_eq!(
        std::fs::read_to_string(project.join(".dieselkit/edited/src/routes/account.rs"))
            .expect("saved"),
        edited
    );
    for gone in [
        "src/db.rs",
        "src/error.rs",
        "src/docs.rs",
        "src/docs",
        "src/types.rs",
        "src/config.rs",
    ] {
        assert!(
            !project.join(gone).exists(),
            "{gone} is gone (unedited, now in src/generated/)"
        );
    }
    assert!(project.join("src/generated/db.rs").is_file());
    assert!(std::fs::read_to_string(&routes)
        .expect("read")
        .contains("dieselkit created this file and never rewrites it"));
    // A second update has nothing to do, and CI agrees.
    dk().args(["update", "--check"])
        .current_dir(&project)
        .run()
        .success();
    let again = step(&project, &["update"]);
    assert!(
        again.stdout().contains("Up to date") || again.stderr().contains("Up to date"),
        "{}{}",
        again.stdout(),
        again.stderr()
    );

    step(
        &project,
        &["generate", "field", "account", "nickname:string(30)?"],
    );
    step(&project, &["migrate", "run"]);
    agrees_verifies_builds_and_passes_its_tests(&project);
}

/// Whether rustfmt can run; locally a test without it is skipped with a notice, under
/// CI=true it fails.
fn rustfmt_available(test: &str) -> bool {
    let ok = Command::new(env!("CARGO"))
        .args(["fmt", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "rustfmt is missing (rustup component add rustfmt)"
        );
        crate::support::skip_notice(&format!("{test}: rustfmt is not installed"));
    }
    ok
}

/// `cargo fmt` on a project generated without formatting (`--no-fmt`) is not an edit:
/// every formatted Rust file still counts as generated (on every backend's variant of the
/// templates), and a later `generate field` rewrites dieselkit's files without setting the
/// formatted ones aside.
#[test]
fn cargo_fmt_is_not_an_edit() {
    if !rustfmt_available("cargo_fmt_is_not_an_edit") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    for (model, backend) in [
        ("bookstore.toml", "sqlite"),
        ("bookstore.toml", "postgres"),
        ("bookstore.toml", "mysql"),
        ("every_type.toml", "sqlite"),
        ("every_type.toml", "postgres"),
        ("every_type.toml", "mysql"),
    ] {
        let out = tmp.path().join(format!("{backend}-{model}"));
        dk().args(["new-project", "--no-fmt", "--from"])
            .args([example(model)])
            .args(["--backend", backend, "--output"])
            .args([&out])
            .run()
            .success();
        let fmt = Command::new(env!("CARGO"))
            .arg("fmt")
            .current_dir(&out)
            .output()
            .expect("cargo fmt");
        assert!(
            fmt.status.success(),
            "{}",
            String::from_utf8_lossy(&fmt.stderr)
        );
        let manifest = dieselkit::manifest::Manifest::read(&out);
        let mut checked = 0;
        for path in manifest.paths().filter(|p| p.ends_with(".rs")) {
            let bytes = std::fs::read(out.join(path)).expect("read");
            assert!(
                manifest.unedited(path, &bytes),
                "{backend} {model}: `{path}` after cargo fmt counts as edited"
            );
            checked += 1;
        }
        assert!(checked > 10, "{checked} Rust files");
    }
    // And the workflow: format, evolve, nothing is set aside.
    let project = tmp.path().join("sqlite-bookstore.toml");
    let run = step(
        &project,
        &["generate", "field", "author", "nickname:string(30)?"],
    );
    assert!(
        !run.stderr().contains("had been edited"),
        "{}",
        run.stderr()
    );
    assert!(
        std::fs::read_to_string(project.join("src/generated/models/author.rs"))
            .expect("read")
            .contains("nickname")
    );
    // A formatted file the new model does not change is left as the user formatted it.
    let formatted =
        std::fs::read_to_string(project.join("src/generated/routes/mod.rs")).expect("read");
    assert!(
        !formatted.contains(".filter(|part| !part.is_empty()) {"),
        "formatted by cargo fmt"
    );
}

/// `generate` formats only the files whose render changed and reuses the formatted bytes
/// of the others (the manifest's `[rendered]` hashes): after two evolutions, every file
/// dieselkit owns is byte for byte what a fresh `new-project` of the same model formats
/// from scratch; and a team's `rustfmt.toml` invalidates what was formatted without it.
#[test]
fn reused_formatting_equals_formatting_from_scratch() {
    if !rustfmt_available("reused_formatting_equals_formatting_from_scratch") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let project = from_example(tmp.path(), "bookstore.toml", "bookstore");
    step(
        &project,
        &["generate", "field", "author", "nickname:string(30)?"],
    );
    step(&project, &["generate", "field", "book", "edition:int?"]);
    let manifest = std::fs::read_to_string(project.join(".dieselkit/manifest.toml")).expect("read");
    assert!(manifest.contains("\n[rendered]\n"), "{manifest}");
    let fresh = tmp.path().join("fresh");
    dk().args(["new-project", "--from"])
        .args([project.join("dieselkit.toml")])
        .args(["--output"])
        .args([&fresh])
        .env("SOURCE_DATE_EPOCH", "1800000000")
        .run()
        .success();
    let ours = dieselkit::manifest::Manifest::read(&project);
    let owned: Vec<&String> = ours
        .paths()
        .filter(|p| {
            // schema.rs is the database's column order (an added column comes last), where
            // a fresh project's follows the model.
            p.ends_with(".rs")
                && *p != "src/schema.rs"
                && dieselkit::ownership::owner(p) == dieselkit::ownership::Owner::Dieselkit
        })
        .collect();
    assert!(owned.len() > 8, "{} files", owned.len());
    for path in &owned {
        let evolved = std::fs::read_to_string(project.join(path)).expect("evolved");
        let from_scratch = std::fs::read_to_string(fresh.join(path)).expect("fresh");
        assert!(
            evolved == from_scratch,
            "{path} differs from a fresh project's"
        );
    }
    // A team's rustfmt.toml changes what every file formats to, including files whose
    // render the next change leaves alone.
    let narrow = |path: &str| {
        std::fs::read_to_string(project.join(path))
            .expect("read")
            .lines()
            .all(|line| line.chars().count() <= 60 || line.contains('"') || line.contains("//"))
    };
    assert!(
        !narrow("src/generated/routes/author.rs"),
        "wider than 60 before"
    );
    std::fs::write(project.join("rustfmt.toml"), "max_width = 60\n").expect("write");
    step(&project, &["generate", "field", "book", "blurb:text?"]);
    for path in [
        "src/generated/routes/author.rs",
        "src/generated/routes/book.rs",
    ] {
        assert!(narrow(path), "{path} formatted at max_width = 60");
    }
}

/// Generated Rust is formatted with rustfmt: `cargo fmt --check` passes on new projects of
/// every backend (by default, and with `--fmt`) and after `generate --fmt`; without rustfmt
/// `--fmt` is a usage error that writes nothing, and the default writes unformatted code
/// with a warning.
#[test]
fn fmt_flag_gives_rustfmt_clean_projects() {
    if !rustfmt_available("fmt_flag_gives_rustfmt_clean_projects") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let fmt_check = |dir: &Path| {
        let out = Command::new(env!("CARGO"))
            .args(["fmt", "--check"])
            .current_dir(dir)
            .output()
            .expect("cargo fmt");
        assert!(
            out.status.success(),
            "{}: cargo fmt --check:\n{}",
            dir.display(),
            String::from_utf8_lossy(&out.stdout)
        );
    };
    for (model, backend) in [
        ("bookstore.toml", "sqlite"),
        ("bookstore.toml", "postgres"),
        ("bookstore.toml", "mysql"),
        ("every_type.toml", "sqlite"),
    ] {
        let out = tmp.path().join(format!("{backend}-{model}"));
        let flag = if backend == "sqlite" && model == "bookstore.toml" {
            "--fmt"
        } else {
            "--color=never" // no flag: formatted by default
        };
        dk().args(["new-project", flag, "--from"])
            .args([example(model)])
            .args(["--backend", backend, "--output"])
            .args([&out])
            .run()
            .success();
        fmt_check(&out);
    }
    let project = tmp.path().join("sqlite-bookstore.toml");
    let run = step(
        &project,
        &[
            "generate",
            "field",
            "author",
            "nickname:string(30)?",
            "--fmt",
        ],
    );
    assert!(
        !run.stderr().contains("had been edited"),
        "{}",
        run.stderr()
    );
    fmt_check(&project);
    let missing = dk()
        .args(["new-project", "--fmt", "--from"])
        .args([example("bookstore.toml")])
        .args(["--output"])
        .args([&tmp.path().join("never")])
        .env(
            "RUSTFMT",
            &tmp.path().join("no-such-rustfmt").to_string_lossy(),
        )
        .run()
        .usage_error()
        .stderr_has("rustup component add rustfmt");
    drop(missing);
    assert!(!tmp.path().join("never").exists(), "nothing written");

    // By default: formatted when rustfmt is there (every project above but the first was
    // generated without a flag), written unformatted with a warning when it is not.
    let without = tmp.path().join("without-rustfmt");
    dk().args(["new-project", "--from"])
        .args([example("bookstore.toml")])
        .args(["--output"])
        .args([&without])
        .env(
            "RUSTFMT",
            &tmp.path().join("no-such-rustfmt").to_string_lossy(),
        )
        .run()
        .success()
        .stderr_has("rustfmt is not installed, so the generated Rust is not formatted");
    assert!(without.join("src/generated/db.rs").is_file());
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

/// Write the project a dieselkit.toml text describes into `project` (in-process, as
/// new-project would, with versions from 2023-11-14) and return its path.
pub(crate) fn write_project_from(model: &str, project: &Path) -> std::path::PathBuf {
    let file = dieselkit::spec::Model::from_toml_str(model).expect("toml");
    let m = dieselkit::spec::Model::from_file(&file).expect("model");
    let files = dieselkit::plan::new_project(&m, 1_700_000_000, None).expect("plan");
    dieselkit::write::write_project(project, &files, false).expect("write");
    project.to_path_buf()
}

/// Run `q` on the database at `url` and return the one text column `line` of each row.
pub(crate) fn lines_on(
    kind: Option<crate::support::ServerKind>,
    url: &str,
    q: &str,
) -> Vec<String> {
    use crate::support::ServerKind;
    let rows: Vec<Row> = match kind {
        None => diesel::sql_query(q)
            .load(&mut diesel::SqliteConnection::establish(url).expect("sqlite")),
        Some(ServerKind::Postgres) => {
            diesel::sql_query(q).load(&mut diesel::PgConnection::establish(url).expect("pg"))
        }
        Some(ServerKind::Mysql) => {
            diesel::sql_query(q).load(&mut diesel::MysqlConnection::establish(url).expect("mysql"))
        }
    }
    .expect(q);
    rows.into_iter().map(|r| r.line).collect()
}

pub(crate) fn exec_on(kind: Option<crate::support::ServerKind>, url: &str, q: &str) {
    use crate::support::ServerKind;
    match kind {
        None => diesel::sql_query(q)
            .execute(&mut diesel::SqliteConnection::establish(url).expect("sqlite")),
        Some(ServerKind::Postgres) => {
            diesel::sql_query(q).execute(&mut diesel::PgConnection::establish(url).expect("pg"))
        }
        Some(ServerKind::Mysql) => diesel::sql_query(q)
            .execute(&mut diesel::MysqlConnection::establish(url).expect("mysql")),
    }
    .expect(q);
}

/// SQL for `a:b:c` text of `columns`, NULL as `null`, on any backend.
fn joined(kind: Option<crate::support::ServerKind>, columns: &[&str]) -> String {
    let text = if kind == Some(crate::support::ServerKind::Mysql) {
        "CHAR"
    } else {
        "TEXT"
    };
    let parts: Vec<String> = columns
        .iter()
        .map(|c| format!("COALESCE(CAST({c} AS {text}), 'null')"))
        .collect();
    match kind {
        None => format!("{} AS line", parts.join(" || ':' || ")),
        Some(_) => format!("CAST(CONCAT({}) AS {text}) AS line", parts.join(", ':', ")),
    }
}

/// Every operation the diff engine emits, one migration each, on one backend: add/drop
/// index and unique, default, nullability (with backfill) and type changes, add/drop
/// column, a reference column, a foreign key added to an existing column, an on_delete
/// change, two table renames (with their indexes and foreign keys), create/drop table.
/// Rows written at the start must survive every non-destructive step; at the end
/// `migrate verify` replays them all and checks each down.sql restores the schema exactly.
fn every_operation_round_trips(
    kind: Option<crate::support::ServerKind>,
    backend: &str,
    test: &str,
) {
    use crate::support::TestDb;
    let tmp = tempfile::tempdir().expect("tempdir");
    let Some((_db, url)) = TestDb::or_sqlite(kind, test, &tmp.path().join("ops.db")) else {
        return;
    };
    let model_with = |team: &str, player: &str| {
        format!(
            "[project]\nname = \"ops-{backend}\"\nbackend = \"{backend}\"\n\n{team}\n\n{player}\n"
        )
    };
    let team = "[[resources]]\nname = \"team\"\nfields = [\"label:string(40):unique\"]";
    let player = |fields: &str| format!("[[resources]]\nname = \"player\"\nfields = [{fields}]");
    let start = model_with(
        team,
        &player("\"nick:string(30)\", \"score:int?\", \"rank:smallint:default=1\""),
    );
    let project = write_project_from(&start, &tmp.path().join("p"));
    let run = |args: &[&str]| {
        dk().args(args)
            .args(["--database-url", &url])
            .current_dir(&project)
            .env("SOURCE_DATE_EPOCH", "1800000000")
            .run()
    };
    run(&["migrate", "run"]).success();
    exec_on(kind, &url, "INSERT INTO teams (label) VALUES ('red')");
    exec_on(
        kind,
        &url,
        "INSERT INTO players (nick, score, rank) VALUES ('ann', 5, 1), ('bob', NULL, 1)",
    );
    let squad = "[[resources]]\nname = \"squad\"\nrenamed_from = \"team\"\nfields = [\"label:string(40):unique\"]";
    let athlete = |fields: &str| {
        format!("[[resources]]\nname = \"athlete\"\nrenamed_from = \"player\"\nfields = [{fields}]")
    };
    let steps: Vec<(String, &[&str], &str)> = vec![
        // add index, default change, nullability change (with backfill), widening type change
        (model_with(team, &player("\"nick:string(30):index\", \"score:bigint:default=0\", \"rank:smallint:default=2\"")), &["--backfill", "player.score=0"], "CREATE INDEX index_players_on_nick"),
        // drop index, unique index, make nullable again, a reference column, a plain int column
        (model_with(team, &player("\"nick:string(30):unique\", \"score:bigint?\", \"rank:smallint:default=2\", \"team:references?:on_delete=set_null\", \"former_team_id:int?\"")), &[], "ADD COLUMN team_id"),
        // a foreign key on the existing column, and a changed on_delete
        (model_with(team, &player("\"nick:string(30):unique\", \"score:bigint?\", \"rank:smallint:default=2\", \"team:references?:on_delete=cascade\", \"former_team:references(team)?\"")), &[], "FOREIGN KEY (former_team_id)"),
        // rename both tables; their indexes and foreign keys follow
        (model_with(squad, &athlete("\"nick:string(30):unique\", \"score:bigint?\", \"rank:smallint:default=2\", \"team:references(squad)?:on_delete=cascade\", \"former_team:references(squad)?\"")), &[], "TO squads"),
        // rename an indexed column and back: its index follows (no stale second index)
        (model_with(squad, &athlete("\"handle:string(30):unique:renamed_from=nick\", \"score:bigint?\", \"rank:smallint:default=2\", \"team:references(squad)?:on_delete=cascade\", \"former_team:references(squad)?\"")), &[], "RENAME COLUMN nick TO handle"),
        (model_with(squad, &athlete("\"nick:string(30):unique:renamed_from=handle\", \"score:bigint?\", \"rank:smallint:default=2\", \"team:references(squad)?:on_delete=cascade\", \"former_team:references(squad)?\"")), &[], "RENAME COLUMN handle TO nick"),
        // drop a plain column and a reference column
        (model_with(squad, &athlete("\"nick:string(30):unique\", \"rank:smallint:default=2\", \"team:references(squad)?:on_delete=cascade\"")), &["--allow-drop"], "DROP COLUMN former_team_id"),
    ];
    for (i, (text, extra, expect)) in steps.iter().enumerate() {
        std::fs::write(project.join("dieselkit.toml"), text).expect("model");
        let mut args = vec!["generate", "migration", "-m"];
        let msg = format!("step {i}");
        args.push(&msg);
        args.extend_from_slice(extra);
        let out = run(&args);
        assert_eq!(out.code(), 0, "{backend} step {i}: {}", out.stderr());
        assert!(
            out.stdout().contains(expect),
            "{backend} step {i}: expected `{expect}` in\n{}",
            out.stdout()
        );
        run(&["migrate", "run"]).success();
        if i == 1 {
            exec_on(kind, &url, "UPDATE players SET team_id = (SELECT MIN(id) FROM teams), former_team_id = (SELECT MIN(id) FROM teams)");
        }
        if expect.starts_with("RENAME COLUMN") {
            let schema = dieselkit::migrations::Migrator::open(&url, &project)
                .expect("open")
                .introspect()
                .expect("introspect");
            let athletes = schema.table("athletes").expect("athletes");
            let names: Vec<&str> = athletes.indexes.iter().map(|i| i.name.as_str()).collect();
            let column = expect.rsplit(' ').next().expect("column");
            assert_eq!(
                athletes
                    .indexes
                    .iter()
                    .filter(|i| i.columns == [column])
                    .map(|i| i.name.as_str())
                    .collect::<Vec<_>>(),
                [format!("index_athletes_on_{column}")],
                "{backend} step {i}: one index on `{column}`, named after it: {names:?}"
            );
        }
        let check = run(&["check"]);
        assert_eq!(
            check.code(),
            0,
            "{backend} step {i}: {}{}",
            check.stdout(),
            check.stderr()
        );
    }
    let players = lines_on(
        kind,
        &url,
        &format!(
            "SELECT {} FROM athletes ORDER BY id",
            joined(kind, &["nick", "rank", "team_id"])
        ),
    );
    assert_eq!(
        players,
        ["ann:1:1", "bob:1:1"],
        "{backend}: rows survive every step"
    );
    let teams = lines_on(
        kind,
        &url,
        &format!("SELECT {} FROM squads", joined(kind, &["label"])),
    );
    assert_eq!(
        teams,
        ["red"],
        "{backend}: the renamed table keeps its rows"
    );
    // The renamed foreign key still cascades, from the renamed parent.
    exec_on(kind, &url, "DELETE FROM squads");
    let left = lines_on(
        kind,
        &url,
        &format!("SELECT {} FROM athletes", joined(kind, &["nick"])),
    );
    assert!(
        left.is_empty(),
        "{backend}: on_delete=cascade after the renames: {left:?}"
    );
    // A hand-written composite index survives later autogenerated migrations.
    run(&["generate", "migration", "-m", "rank and nick", "--empty"]).success();
    let dir = std::fs::read_dir(project.join("migrations"))
        .expect("migrations")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.to_string_lossy().ends_with("rank_and_nick"))
        .expect("empty migration");
    std::fs::write(
        dir.join("up.sql"),
        "CREATE INDEX athletes_rank_nick ON athletes (rank, nick);\n",
    )
    .expect("up");
    let down = if kind == Some(crate::support::ServerKind::Mysql) {
        "DROP INDEX athletes_rank_nick ON athletes;\n"
    } else {
        "DROP INDEX athletes_rank_nick;\n"
    };
    std::fs::write(dir.join("down.sql"), down).expect("down");
    run(&["migrate", "run"]).success();
    run(&["generate", "migration", "-m", "nothing"])
        .success()
        .stderr_has("no migration written");
    run(&["check"]).success();
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
    if kind.is_none() {
        // The renamed resources' code replaced the old one and the project still builds
        // and passes its own tests.
        assert!(!project.join("src/models/team.rs").exists());
        assert!(project.join("src/models/squad.rs").exists());
        cargo_ok(&project, &["test", "--quiet"]);
    }
    run(&["migrate", "revert", "--all"]).success();
    let mut mig = dieselkit::migrations::Migrator::open(&url, &project).expect("open");
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

/// `dieselkit update` brings a team's new template into the user's files: three-way, with
/// the version dieselkit last wrote as the ancestor. A file the user extended gets the
/// template's change and keeps theirs; a file where both changed the same line gets conflict
/// markers there (exit 3, named); `--check` sees both first and writes nothing. Afterwards
/// the project still migrates a real database and `check` is clean.
fn update_merges_template_changes_into_the_users_files(
    kind: Option<crate::support::ServerKind>,
    backend: &str,
    test: &str,
) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let Some((_db, url)) =
        crate::support::TestDb::or_sqlite(kind, test, &tmp.path().join("update.db"))
    else {
        return;
    };
    dk().args(["new-project", "--backend", backend, "--from"])
        .args([example("bookstore.toml")])
        .current_dir(tmp.path())
        .run()
        .success();
    let project = tmp.path().join("bookstore");
    // The team's template set lives outside the project; `update --templates` takes it.
    let house_dir = tmp.path().join("house");
    let templates = house_dir.join("src/routes");
    std::fs::create_dir_all(&templates).expect("mkdir");
    let builtin = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("templates/project/src/routes/__resource__.rs.tera"),
    )
    .expect("template");
    let first_line = builtin.lines().next().expect("a first line");
    let house = builtin.replacen(
        first_line,
        "//! Team routes for {{ resource.table }} (v2).",
        1,
    );
    std::fs::write(templates.join("__resource__.rs.tera"), house).expect("write");
    let author = project.join("src/routes/author.rs");
    let mut mine = std::fs::read_to_string(&author).expect("read");
    mine.push_str("\n/// Mine.\npub fn helper() -> u32 {\n    42\n}\n");
    std::fs::write(&author, &mine).expect("write");
    let book = project.join("src/routes/book.rs");
    let theirs_too = std::fs::read_to_string(&book).expect("read").replacen(
        "//! Your routes for books",
        "//! My header for books",
        1,
    );
    std::fs::write(&book, &theirs_too).expect("write");

    let before = crate::support::tree(&project);
    dk().args(["update", "--check", "--templates"])
        .args([&house_dir])
        .current_dir(&project)
        .run()
        .expect_exit(3)
        .stdout_has("would merge the template's changes into src/routes/author.rs")
        .stdout_has("would merge, with conflicts, src/routes/book.rs");
    assert!(
        crate::support::tree(&project) == before,
        "--check writes nothing"
    );

    dk().args(["update", "--templates"])
        .args([&house_dir])
        .current_dir(&project)
        .run()
        .expect_exit(3)
        .stderr_has("Merged src/routes/author.rs")
        .stderr_has("`src/routes/book.rs`: the template and you changed the same lines");
    let merged = std::fs::read_to_string(&author).expect("read");
    assert!(
        merged.starts_with("//! Team routes for authors (v2)."),
        "{merged}"
    );
    assert!(
        merged.ends_with("pub fn helper() -> u32 {\n    42\n}\n"),
        "{merged}"
    );
    let conflicted = std::fs::read_to_string(&book).expect("read");
    assert!(
        conflicted.starts_with("<<<<<<< ours\n//! My header for books"),
        "{conflicted}"
    );
    assert!(
        conflicted.contains("=======\n//! Team routes for books (v2).\n>>>>>>> theirs"),
        "{conflicted}"
    );
    assert!(
        project
            .join(".dieselkit/templates/src/routes/__resource__.rs.tera")
            .is_file(),
        "the team's templates are the project's now"
    );
    // Resolved, the project is up to date: the ancestor is now the v2 template.
    let resolved = conflicted
        .lines()
        .filter(|l| {
            !l.starts_with("<<<<<<<")
                && !l.starts_with("|||||||")
                && !l.starts_with("=======")
                && !l.starts_with(">>>>>>>")
        })
        .filter(|l| {
            !l.starts_with("//! Your routes for books")
                && !l.starts_with("//! Team routes for books")
        })
        .map(|l| format!("{l}\n"))
        .collect::<String>();
    std::fs::write(&book, resolved).expect("write");
    dk().args(["update", "--check"])
        .current_dir(&project)
        .run()
        .success();
    for args in [&["migrate", "run"][..], &["check"]] {
        dk().args(args)
            .args(["--database-url", &url])
            .current_dir(&project)
            .run()
            .success();
    }
}

#[test]
fn update_merges_template_changes_into_the_users_files_on_sqlite() {
    update_merges_template_changes_into_the_users_files(None, "sqlite", "update_sqlite");
}

#[test]
fn update_merges_template_changes_into_the_users_files_on_postgres() {
    update_merges_template_changes_into_the_users_files(
        Some(crate::support::ServerKind::Postgres),
        "postgres",
        "update_pg",
    );
}

#[test]
fn update_merges_template_changes_into_the_users_files_on_mysql() {
    update_merges_template_changes_into_the_users_files(
        Some(crate::support::ServerKind::Mysql),
        "mysql",
        "update_my",
    );
}

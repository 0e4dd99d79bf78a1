//! End to end: generate a project, build it in a shared target dir, migrate a real
//! database with dieselkit, run the project's own tests, serve it and call every endpoint
//! over HTTP (and its `/docs` page in headless Chromium, see `docs.rs`), start replicas
//! that migrate at startup, then revert every migration. On SQLite, PostgreSQL and
//! MySQL/MariaDB (the latter two when their server URLs are set; see `support::TestDb`).

use crate::support::{dk, example, generated_target_dir, ServerKind, TestDb};
use serde_json::{json, Value};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Runs cargo in a generated project, with `envs` added to the environment.
pub(crate) fn cargo(project: &Path, args: &[&str], envs: &[(&str, &str)]) {
    let status = Command::new(env!("CARGO"))
        .args(args)
        .current_dir(project)
        .env("CARGO_TARGET_DIR", generated_target_dir())
        .env_remove("RUSTFLAGS")
        .env_remove("DATABASE_URL")
        .envs(envs.iter().copied())
        .status()
        .expect("run cargo");
    assert!(
        status.success(),
        "cargo {args:?} failed in {}",
        project.display()
    );
}

/// Build every target and fail on any warning in the generated crate (dependencies'
/// warnings are capped by cargo). Not via RUSTFLAGS, which would rebuild every dependency.
pub(crate) fn build_without_warnings(project: &Path) {
    let out = Command::new(env!("CARGO"))
        .args(["build", "--all-targets", "--message-format", "short"])
        .current_dir(project)
        .env("CARGO_TARGET_DIR", generated_target_dir())
        .env_remove("RUSTFLAGS")
        .output()
        .expect("run cargo");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "generated project does not build:\n{stderr}"
    );
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.contains("warning")).collect();
    assert!(
        warnings.is_empty(),
        "generated project has warnings:\n{}",
        warnings.join("\n")
    );
}

/// The generated CI workflow runs `cargo clippy --all-targets -- -D warnings`; so do we,
/// so a generated project's first CI run is green.
pub(crate) fn clippy_clean(project: &Path) {
    let out = Command::new(env!("CARGO"))
        .args([
            "clippy",
            "--all-targets",
            "--message-format",
            "short",
            "--",
            "-D",
            "warnings",
        ])
        .current_dir(project)
        .env("CARGO_TARGET_DIR", generated_target_dir())
        .env_remove("RUSTFLAGS")
        .output()
        .expect("run cargo clippy");
    assert!(
        out.status.success(),
        "clippy finds problems in the generated project:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

pub(crate) struct Server(pub(crate) Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the generated server on `db_url`, with `envs` added, its stdout going to
/// `stdout` (or nowhere). Call [`wait_until_listening`] before talking to it.
pub(crate) fn spawn_server(
    project: &Path,
    bin: &str,
    db_url: &str,
    port: u16,
    envs: &[(&str, &str)],
    stdout: Option<&Path>,
) -> Server {
    let exe = generated_target_dir().join("debug").join(bin);
    let stdout = match stdout {
        Some(path) => Stdio::from(std::fs::File::create(path).expect("server log")),
        None => Stdio::null(),
    };
    let child = Command::new(exe)
        .current_dir(project)
        .env("DATABASE_URL", db_url)
        .env_remove("MIGRATION_DATABASE_URL")
        .env_remove("MIGRATE_ON_START")
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .env("RUST_LOG", "warn")
        .envs(envs.iter().copied())
        .stdout(stdout)
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start server");
    Server(child)
}

pub(crate) fn wait_until_listening(server: &mut Server, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = server.0.try_wait() {
            panic!("server exited with {status} before listening");
        }
        assert!(Instant::now() < deadline, "server did not start listening");
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub(crate) fn start_server(project: &Path, bin: &str, db_url: &str, port: u16) -> Server {
    let mut server = spawn_server(project, bin, db_url, port, &[], None);
    wait_until_listening(&mut server, port);
    server
}

pub(crate) fn api(port: u16) -> Api {
    Api {
        base: format!("http://127.0.0.1:{port}"),
        agent: ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(10))
            .build(),
    }
}

pub(crate) struct Api {
    base: String,
    agent: ureq::Agent,
}

pub(crate) struct Reply {
    pub(crate) status: u16,
    location: Option<String>,
    pub(crate) body: Value,
}

impl Api {
    pub(crate) fn call(&self, method: &str, path: &str, body: Option<&str>) -> Reply {
        let req = self
            .agent
            .request(method, &format!("{}{path}", self.base))
            .set("content-type", "application/json");
        let result = match body {
            Some(b) => req.send_string(b),
            None => req.call(),
        };
        let resp = match result {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{method} {path}: {e}"),
        };
        let status = resp.status();
        let location = resp.header("location").map(str::to_string);
        let text = resp.into_string().expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .unwrap_or_else(|_| panic!("{method} {path}: not JSON: {text}"))
        };
        Reply {
            status,
            location,
            body,
        }
    }
    pub(crate) fn expect(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        status: u16,
    ) -> Reply {
        let text = body.map(|b| b.to_string());
        let reply = self.call(method, path, text.as_deref());
        assert_eq!(
            reply.status, status,
            "{method} {path} → {}: {}",
            reply.status, reply.body
        );
        reply
    }
}

fn assert_error_body(reply: &Reply, status: u16) {
    assert_eq!(
        reply.body["error"]["status"],
        json!(status),
        "error body shape: {}",
        reply.body
    );
    assert!(
        reply.body["error"]["message"].is_string(),
        "error body shape: {}",
        reply.body
    );
}

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
    Mysql,
}

impl Backend {
    fn flag(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
            Backend::Mysql => "mysql",
        }
    }

    /// Distinct project (and binary) names per backend: the projects share a target dir.
    pub(crate) fn project_name(self, stem: &str) -> String {
        match self {
            Backend::Sqlite => stem.to_string(),
            Backend::Postgres => format!("{stem}-pg"),
            Backend::Mysql => format!("{stem}-mysql"),
        }
    }
}

/// A database for one test: a SQLite file in the test's temp dir, or a fresh database on a
/// server (dropped at the end).
pub(crate) struct Database {
    pub(crate) url: String,
    /// For the generated project's own tests: the server they create databases on.
    test_server_url: Option<String>,
    _server_db: Option<TestDb>,
}

impl Database {
    /// None when the backend's server is not configured (skipped locally, see `TestDb`).
    pub(crate) fn new(backend: Backend, dir: &Path, test: &str) -> Option<Database> {
        let kind = match backend {
            Backend::Sqlite => {
                return Some(Database {
                    url: dir.join("app.db").to_string_lossy().into_owned(),
                    test_server_url: None,
                    _server_db: None,
                })
            }
            Backend::Postgres => ServerKind::Postgres,
            Backend::Mysql => ServerKind::Mysql,
        };
        let db = TestDb::new(kind, test)?;
        let server = db
            .url
            .rsplit_once('/')
            .map(|(server, _)| server.to_string())
            .expect("a server URL has a path");
        Some(Database {
            url: db.url.clone(),
            test_server_url: Some(server),
            _server_db: Some(db),
        })
    }

    /// What the generated project's `cargo test` needs to find its server.
    fn test_env(&self) -> Vec<(&str, &str)> {
        match &self.test_server_url {
            Some(url) => vec![("TEST_DATABASE_URL", url.as_str())],
            None => vec![],
        }
    }
}

/// Generates `example_file` for `backend` as project `name` in `into/project`.
pub(crate) fn generate(example_file: &Path, backend: Backend, name: &str, into: &Path) -> PathBuf {
    let dest = into.join("project");
    dk().args(["new-project", name, "--backend", backend.flag(), "--output"])
        .args([&dest])
        .args(["--from"])
        .args([example_file])
        .run()
        .success();
    dest
}

fn assert_no_tables(db_url: &str, project: &Path) {
    let mut migrator = dieselkit::migrations::Migrator::open(db_url, project).expect("open");
    assert_eq!(
        migrator.table_names().expect("tables"),
        Vec::<String>::new(),
        "revert --all leaves no application tables"
    );
}

/// The whole journey for the bookstore example on `backend`.
fn bookstore_journey(backend: Backend, test: &str) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let Some(db) = Database::new(backend, tmp.path(), test) else {
        return;
    };
    let name = backend.project_name("bookstore");
    let project = generate(&example("bookstore.toml"), backend, &name, tmp.path());
    build_without_warnings(&project);
    clippy_clean(&project);

    let applied = dk()
        .args(["migrate", "run", "--database-url", &db.url])
        .current_dir(&project)
        .run()
        .success()
        .stderr_has("Applying 2023-11-14-221320_create_authors")
        .stderr_has("Applying 2023-11-14-221321_create_books");
    if backend == Backend::Postgres {
        applied.stderr_has("Applying 00000000000000_diesel_initial_setup");
    }

    cargo(&project, &["test"], &db.test_env());

    let port = free_port();
    let server = start_server(&project, &name, &db.url, port);
    exercise_bookstore_api(&api(port));
    let swept = crate::sweep::malformed_input_sweep(port);
    assert!(swept > 1000, "{swept} malformed requests");
    let probed = crate::sweep::undocumented_methods_are_405_with_allow(port);
    assert!(probed >= 10, "{probed} requests with undocumented methods");
    let sorted = crate::sweep::sort_parameters_match_the_server(port);
    assert!(sorted >= 30, "{sorted} sort requests");
    crate::docs::assert_openapi_lists(port, crate::docs::BOOKSTORE_OPERATIONS);
    crate::docs::assert_docs_page_lists(port, crate::docs::BOOKSTORE_OPERATIONS, tmp.path());
    // Try it out, in a real browser: the page creates a row, which is in the database.
    let authors = || {
        let mut migrator =
            dieselkit::migrations::Migrator::open(&db.url, &project).expect("open the database");
        migrator.row_counts().expect("row counts")["authors"]
    };
    let before = authors();
    let direct = format!("http://127.0.0.1:{port}");
    let created = crate::docs::create_an_author_from_the_docs_page(&direct, &name, tmp.path());
    if let Some(created) = created {
        assert_eq!(authors(), before + 1, "the page's POST made one row");
        let id = created["id"].as_i64().expect("an id");
        let stored = api(port).expect("GET", &format!("/authors/{id}"), None, 200);
        assert_eq!(stored.body, created, "the page showed the row as stored");
    }
    // Behind a reverse proxy that serves the service under `/api/`: the page, its files,
    // the document and the requests it sends all use relative URLs (checked once, on SQLite).
    if backend == Backend::Sqlite {
        if let Some(proxy) = crate::docs::prefix_proxy(port, tmp.path()) {
            let before = authors();
            let shot = format!("{name}-behind-a-prefix");
            let created =
                crate::docs::create_an_author_from_the_docs_page(&proxy.base, &shot, tmp.path());
            if created.is_some() {
                assert_eq!(
                    authors(),
                    before + 1,
                    "the page's POST went through the proxy"
                );
            }
        }
    }
    drop(server);

    dk().args(["migrate", "revert", "--all", "--database-url", &db.url])
        .current_dir(&project)
        .run()
        .success();
    assert_no_tables(&db.url, &project);

    dk().args(["migrate", "run", "--database-url", &db.url])
        .current_dir(&project)
        .run()
        .success();
    seed_fills_empty_tables_once(&project, &db.url);
    // Reverting takes the seeded parents and children with their tables.
    dk().args(["migrate", "revert", "--all", "--database-url", &db.url])
        .current_dir(&project)
        .run()
        .success();
    assert_no_tables(&db.url, &project);

    migrate_on_start_with_two_replicas(&project, &name, &db.url, tmp.path(), backend);

    widening_a_parent_on_start_keeps_its_children(&project, &name, &db.url, tmp.path(), backend);

    run_ci_workflow_steps(&project, &db);

    dk().args(["migrate", "revert", "--all", "--database-url", &db.url])
        .current_dir(&project)
        .run()
        .success();
    assert_no_tables(&db.url, &project);

    if backend == Backend::Postgres {
        crate::pooler::replicas_through_pgbouncer(&project, &name, &db.url, tmp.path());
        dk().args(["migrate", "revert", "--all", "--database-url", &db.url])
            .current_dir(&project)
            .run()
            .success();
        assert_no_tables(&db.url, &project);
    }
}

/// `cargo run --bin seed` fills the empty tables (two rows each, the books pointing at
/// seeded authors), and a second run leaves them alone.
fn seed_fills_empty_tables_once(project: &Path, db_url: &str) {
    let counts = || {
        let mut migrator =
            dieselkit::migrations::Migrator::open(db_url, project).expect("open the database");
        let counts = migrator.row_counts().expect("row counts");
        (counts["authors"], counts["books"])
    };
    assert_eq!(counts(), (0, 0), "the tables start empty");
    let seed = ["run", "--quiet", "--bin", "seed"];
    cargo(project, &seed, &[("DATABASE_URL", db_url)]);
    assert_eq!(counts(), (2, 2), "the seed adds two rows per table");
    cargo(project, &seed, &[("DATABASE_URL", db_url)]);
    assert_eq!(counts(), (2, 2), "a second seed adds nothing");
}

/// The generated `.github/workflows/ci.yml`, step by step, here: every `run:` step in order
/// with this build of dieselkit on PATH and the workflow's variables pointing at this test's
/// database, except the steps that install packages and dieselkit itself.
fn run_ci_workflow_steps(project: &Path, db: &Database) {
    let workflow =
        std::fs::read_to_string(project.join(".github/workflows/ci.yml")).expect("workflow");
    let steps: Vec<&str> = workflow
        .lines()
        .filter_map(|l| l.trim().strip_prefix("run: "))
        .collect();
    let (install, run): (Vec<&str>, Vec<&str>) = steps
        .into_iter()
        // Also left out: the pull-request step, which needs the base branch from a git remote
        // (its `migrate run --strict` is tested in rows.rs).
        .filter(|s| !s.contains("GITHUB_BASE_REF"))
        .partition(|s| s.contains("apt-get install") || s.starts_with("cargo install dieselkit"));
    assert!(
        install
            .iter()
            .any(|s| s.starts_with("cargo install dieselkit")),
        "{workflow}"
    );
    for expected in [
        "dieselkit migrate run",
        "dieselkit migrate revert --all",
        "dieselkit migrate verify",
        "dieselkit check",
        "cargo test",
    ] {
        assert!(
            run.contains(&expected),
            "the workflow runs `{expected}`:\n{workflow}"
        );
    }
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_dieselkit"))
        .parent()
        .expect("bin dir")
        .to_path_buf();
    let path = std::env::join_paths(std::iter::once(bin_dir).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .expect("PATH");
    for step in run {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", step])
            .current_dir(project)
            .env("PATH", &path)
            .env("DATABASE_URL", &db.url)
            .env("CARGO_TARGET_DIR", generated_target_dir())
            .env_remove("RUSTFLAGS")
            .env_remove("MIGRATION_DATABASE_URL");
        for (k, v) in db.test_env() {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("run a workflow step");
        assert!(
            out.status.success(),
            "workflow step `{step}` failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Every endpoint over HTTP, happy paths and errors.
fn exercise_bookstore_api(api: &Api) {
    // Authors: create, get, list, put, patch, nested list, delete.
    let created = api.expect(
        "POST",
        "/authors",
        Some(json!({"name": "Ursula", "bio": "Earthsea"})),
        201,
    );
    let id = created.body["id"].as_i64().expect("id");
    assert_eq!(
        created.location.as_deref(),
        Some(format!("/authors/{id}").as_str())
    );
    assert_eq!(created.body["name"], "Ursula");
    let got = api.expect("GET", &format!("/authors/{id}"), None, 200);
    assert_eq!(got.body["bio"], "Earthsea");
    assert_eq!(got.body, created.body, "GET returns what POST returned");
    let list = api.expect("GET", "/authors", None, 200);
    assert_eq!(list.body["meta"]["total"], json!(1));
    assert_eq!(list.body["data"][0]["id"], json!(id));

    let put = api.expect(
        "PUT",
        &format!("/authors/{id}"),
        Some(json!({"name": "Ursula K.", "bio": null})),
        200,
    );
    assert_eq!(put.body["name"], "Ursula K.");
    assert_eq!(put.body["bio"], Value::Null);
    assert_eq!(put.body["created_at"], created.body["created_at"]);
    let patched = api.expect(
        "PATCH",
        &format!("/authors/{id}"),
        Some(json!({"bio": "Anarres"})),
        200,
    );
    assert_eq!(patched.body["name"], "Ursula K.", "absent field unchanged");
    assert_eq!(patched.body["bio"], "Anarres");
    let cleared = api.expect(
        "PATCH",
        &format!("/authors/{id}"),
        Some(json!({"bio": null})),
        200,
    );
    assert_eq!(cleared.body["bio"], Value::Null, "null clears");

    // Books belong to authors. Decimals come back as strings of the same value.
    let book = api.expect(
        "POST",
        "/books",
        Some(json!({"title": "The Dispossessed", "isbn": "9780060512750", "published_on": "1974-05-01", "price": "9.5", "author_id": id})),
        201,
    );
    assert_eq!(
        book.body["price"], "9.50",
        "an exact decimal string on every backend"
    );
    let book_id = book.body["id"].as_i64().expect("book id");
    let nested = api.expect("GET", &format!("/authors/{id}/books"), None, 200);
    assert_eq!(nested.body["data"][0]["id"], json!(book_id));
    assert_eq!(nested.body["meta"]["total"], json!(1));
    // `price` has a default: it may be left out of a POST, and of a PUT (unchanged).
    let cheap = api.expect(
        "POST",
        "/books",
        Some(json!({"title": "Free", "isbn": "0000000000001", "author_id": id})),
        201,
    );
    assert_eq!(cheap.body["price"], "0.00");
    let cheap_id = cheap.body["id"].as_i64().expect("id");
    let replaced = api.expect(
        "PUT",
        &format!("/books/{book_id}"),
        Some(json!({"title": "The Dispossessed", "isbn": "9780060512750", "author_id": id})),
        200,
    );
    assert_eq!(
        replaced.body["price"], book.body["price"],
        "PUT keeps a left-out default field"
    );
    assert_eq!(
        replaced.body["published_on"],
        Value::Null,
        "PUT clears a left-out nullable field"
    );
    assert_eq!(
        api.expect("DELETE", &format!("/books/{cheap_id}"), None, 204)
            .body,
        Value::Null
    );

    // Error cases: every one a JSON body of the documented shape, never a 500.
    assert_error_body(&api.expect("GET", "/authors/999999", None, 404), 404);
    assert_error_body(&api.expect("GET", "/authors/not-a-number", None, 404), 404);
    assert_error_body(
        &api.expect("PUT", "/authors/999999", Some(json!({"name": "x"})), 404),
        404,
    );
    assert_error_body(
        &api.expect("PATCH", "/authors/999999", Some(json!({"name": "x"})), 404),
        404,
    );
    assert_error_body(&api.expect("DELETE", "/authors/999999", None, 404), 404);
    assert_error_body(&api.expect("GET", "/authors/999999/books", None, 404), 404);
    assert_error_body(
        &api.expect("POST", "/authors", Some(json!({"bio": "no name"})), 422),
        422,
    );
    let too_long = api.expect(
        "POST",
        "/authors",
        Some(json!({"name": "x".repeat(101)})),
        422,
    );
    assert_error_body(&too_long, 422);
    assert!(
        too_long.body.to_string().contains("name"),
        "422 names the field: {}",
        too_long.body
    );
    let malformed = api.call("POST", "/authors", Some("{\"name\": "));
    assert_eq!(malformed.status, 400, "malformed JSON: {}", malformed.body);
    assert_error_body(&malformed, 400);
    assert_error_body(&api.expect("GET", "/authors?per_page=0", None, 422), 422);
    assert_error_body(&api.expect("GET", "/authors?page=abc", None, 422), 422);
    let duplicate = api.expect(
        "POST",
        "/books",
        Some(json!({"title": "Dup", "isbn": "9780060512750", "price": "1.00", "author_id": id})),
        409,
    );
    assert_error_body(&duplicate, 409);
    assert_eq!(
        duplicate.body["error"]["fields"][0]["field"], "isbn",
        "409 names the unique field: {}",
        duplicate.body
    );
    let orphan = api.expect(
        "POST",
        "/books",
        Some(json!({"title": "Orphan", "isbn": "1", "price": "1.00", "author_id": 999999})),
        409,
    );
    assert_error_body(&orphan, 409);
    assert_eq!(orphan.body["error"]["fields"][0]["field"], "author_id");
    // DECIMAL(10, 2) cannot hold it: refused by validation, naming the field, on every
    // backend alike (a JSON number is not a decimal string either).
    for price in [json!("100000000.00"), json!(1e30)] {
        let big = api.expect(
            "POST",
            "/books",
            Some(json!({"title": "Big", "isbn": "2", "price": price, "author_id": id})),
            422,
        );
        assert_error_body(&big, 422);
        assert_eq!(big.body["error"]["fields"][0]["field"], "price");
    }
    assert_error_body(&api.expect("GET", "/no-such-route", None, 404), 404);
    assert_eq!(api.expect("GET", "/health", None, 200).body["status"], "ok");

    // Delete cascades to books (on_delete=cascade).
    let deleted = api.call("DELETE", &format!("/authors/{id}"), None);
    assert_eq!(deleted.status, 204);
    api.expect("GET", &format!("/authors/{id}"), None, 404);
    api.expect("GET", &format!("/books/{book_id}"), None, 404);
}

/// Two servers started at once with `MIGRATE_ON_START=true` on a database without tables:
/// both serve, and each migration is applied by exactly one of them.
fn migrate_on_start_with_two_replicas(
    project: &Path,
    bin: &str,
    db_url: &str,
    logs: &Path,
    backend: Backend,
) {
    let ports = [free_port(), free_port()];
    let log_paths = [logs.join("replica-1.log"), logs.join("replica-2.log")];
    let migrate = [("MIGRATE_ON_START", "true")];
    let mut replicas: Vec<Server> = ports
        .iter()
        .zip(&log_paths)
        .map(|(port, log)| spawn_server(project, bin, db_url, *port, &migrate, Some(log)))
        .collect();
    for (replica, port) in replicas.iter_mut().zip(ports) {
        wait_until_listening(replica, port);
    }
    let output: String = log_paths
        .iter()
        .map(|path| std::fs::read_to_string(path).expect("replica log"))
        .collect();
    let mut expected = vec![
        "2023-11-14-221320_create_authors",
        "2023-11-14-221321_create_books",
    ];
    if backend == Backend::Postgres {
        expected.push("00000000000000_diesel_initial_setup");
    }
    for name in expected {
        assert_eq!(
            output.matches(&format!("Applied migration {name}")).count(),
            1,
            "{name} is applied by exactly one replica; their output:\n{output}"
        );
    }
    for port in ports {
        let api = api(port);
        assert_eq!(api.expect("GET", "/health", None, 200).body["status"], "ok");
        api.expect("GET", "/authors", None, 200);
    }
    let created = api(ports[0]).expect("POST", "/authors", Some(json!({"name": "Le Guin"})), 201);
    let id = created.body["id"].as_i64().expect("id");
    api(ports[1]).expect("GET", &format!("/authors/{id}"), None, 200);
    drop(replicas);
}

/// Widening `authors.name` (on SQLite a table rebuild: the old `authors` is dropped) applied
/// by the server at start with `MIGRATE_ON_START=true`: every author and every book that
/// references one is still there afterwards. Before 0.2, SQLite's `DROP TABLE authors`
/// cascaded to `books`.
fn widening_a_parent_on_start_keeps_its_children(
    project: &Path,
    bin: &str,
    db_url: &str,
    logs: &Path,
    backend: Backend,
) {
    let port = free_port();
    let server = start_server(project, bin, db_url, port);
    let before = api(port);
    let author = before.expect("POST", "/authors", Some(json!({"name": "Tolkien"})), 201);
    let author_id = author.body["id"].as_i64().expect("id");
    for (title, isbn) in [
        ("The Hobbit", "9780261102217"),
        ("Silmarillion", "9780261102736"),
    ] {
        before.expect(
            "POST",
            "/books",
            Some(json!({"title": title, "isbn": isbn, "author_id": author_id})),
            201,
        );
    }
    let authors = before.expect("GET", "/authors", None, 200).body;
    let books = before.expect("GET", "/books", None, 200).body;
    assert!(books["meta"]["total"].as_i64() >= Some(2), "{books}");
    drop(server);

    let model_path = project.join("dieselkit.toml");
    let model = std::fs::read_to_string(&model_path).expect("model");
    assert!(model.contains("name:string(100)"), "{model}");
    std::fs::write(
        &model_path,
        model.replace("name:string(100)", "name:string(150)"),
    )
    .expect("model");
    dk().args([
        "generate",
        "migration",
        "-m",
        "widen author names",
        "--database-url",
        db_url,
    ])
    .current_dir(project)
    .run()
    .success();
    let dir = std::fs::read_dir(project.join("migrations"))
        .expect("migrations")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.to_string_lossy().ends_with("_widen_author_names"))
        .expect("the new migration");
    // Every generated migration has a metadata.toml (its lineage); only SQLite's rebuilds the
    // table, in a migration with its own transaction.
    let metadata = std::fs::read_to_string(dir.join("metadata.toml")).expect("metadata.toml");
    assert_eq!(
        metadata.contains("run_in_transaction = false"),
        backend == Backend::Sqlite,
        "only SQLite rebuilds the table, in a migration with its own transaction: {metadata}"
    );
    assert!(metadata.contains("changes = [\"authors"), "{metadata}");
    cargo(project, &["build"], &[]);
    if backend == Backend::Postgres {
        // Behind a long-running transaction that holds a lock on `authors`, the server gives
        // up after its DDL lock timeout (5 s) and exits with the error instead of hanging.
        use diesel::connection::SimpleConnection;
        use diesel::Connection;
        let mut holder = diesel::PgConnection::establish(db_url).expect("pg");
        holder
            .batch_execute("BEGIN; SELECT count(*) FROM authors")
            .expect("hold a lock");
        let started = Instant::now();
        let mut child = Command::new(generated_target_dir().join("debug").join(bin))
            .current_dir(project)
            .env("DATABASE_URL", db_url)
            .env_remove("MIGRATION_DATABASE_URL")
            .env("MIGRATE_ON_START", "true")
            .env("HOST", "127.0.0.1")
            .env("PORT", port.to_string())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run the server");
        // A server that waits for the lock forever fails the test instead of hanging it.
        while child.try_wait().expect("wait").is_none() {
            if started.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
                let out = child.wait_with_output().expect("output");
                panic!(
                    "the server still waited for the lock after 60 s:\n{}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let blocked = child.wait_with_output().expect("output");
        let stderr = String::from_utf8_lossy(&blocked.stderr);
        assert!(!blocked.status.success(), "{stderr}");
        assert!(stderr.contains("lock timeout"), "{stderr}");
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{:?}",
            started.elapsed()
        );
        holder.batch_execute("COMMIT").expect("release");
    }
    let log = logs.join("rebuild-on-start.log");
    let mut server = spawn_server(
        project,
        bin,
        db_url,
        port,
        &[("MIGRATE_ON_START", "true")],
        Some(&log),
    );
    wait_until_listening(&mut server, port);
    let output = std::fs::read_to_string(&log).expect("server log");
    let applied = format!(
        "Applied migration {}",
        dir.file_name().expect("name").to_string_lossy()
    );
    assert!(output.contains(&applied), "{applied} in:\n{output}");
    let after = api(port);
    assert_eq!(after.expect("GET", "/authors", None, 200).body, authors);
    assert_eq!(
        after.expect("GET", "/books", None, 200).body,
        books,
        "every book survives the rebuild of `authors`"
    );
    // The new width is served; the long name goes again so that the workflow's
    // `migrate revert --all` can narrow the column (it refuses to cut a value short).
    let long = after.expect(
        "POST",
        "/authors",
        Some(json!({"name": "x".repeat(150)})),
        201,
    );
    let long_id = long.body["id"].as_i64().expect("id");
    after.expect("DELETE", &format!("/authors/{long_id}"), None, 204);
    drop(server);
}

/// What a client sees of the every-type service: its `/openapi.json` (title removed) and
/// the answers to a fixed set of requests built from that document (ids and timestamps the
/// server chose replaced by placeholders). Both must be identical on every backend.
fn contract_exchanges(port: u16) -> (Value, Vec<Value>) {
    let client = api(port);
    let mut document = client.expect("GET", "/openapi.json", None, 200).body;
    document["info"]["title"] = json!("(title)");
    let example_body = |schema: &str| {
        let mut body = json!({});
        let properties = document["components"]["schemas"][schema]["properties"]
            .as_object()
            .expect("properties");
        for (name, property) in properties {
            if let Some(example) = property.get("example") {
                body[name] = example.clone();
            }
        }
        body
    };
    fn placeholders(value: &mut Value) {
        if let Some(rows) = value.get_mut("data").and_then(Value::as_array_mut) {
            rows.iter_mut().for_each(placeholders);
        }
        for key in ["created_at", "updated_at"] {
            if let Some(time) = value.get_mut(key) {
                *time = json!("(server time)");
            }
        }
    }
    let mut exchanges = Vec::new();
    let mut record = |method: &str, path: &str, body: Option<Value>| {
        let text = body.as_ref().map(Value::to_string);
        let reply = client.call(method, path, text.as_deref());
        let mut answer = reply.body.clone();
        placeholders(&mut answer);
        exchanges.push(json!({"request": format!("{method} {path}"), "body": body, "status": reply.status, "answer": answer}));
        reply
    };
    let owner = record("POST", "/owners", Some(example_body("NewOwner")));
    let owner_id = owner.body["id"].clone();
    let mut sample = example_body("NewSample");
    sample["owner_id"] = owner_id.clone();
    let created = record("POST", "/samples", Some(sample.clone()));
    let path = format!("/samples/{}", created.body["id"]);
    // Values at the edges of each type, in the forms a client may send them.
    let edges = json!({
        "amount": "-9999999999.99",
        "ratio": 3.4028235e38,
        "precise": 0.1,
        "born_on": "0001-01-01",
        "wakes_at": "23:59:59.999",
        "seen_at": "9999-12-31T23:59:59.5",
        "stamped_at": "2024-01-15T10:30:00.25+01:00",
        "token": "0B6F1C2E-8D3A-4F5B-9C7D-1E2F3A4B5C61",
        "payload": {"b": [1, 2.5, "é", null, {"deep": true}], "a": 12345678901234567_u64},
        "attachment": [0, 255],
        "notes": "tab\tnewline\n𝄞",
        "reviewer_id": owner_id,
    });
    record("PATCH", &path, Some(edges));
    record("GET", &path, None);
    record(
        "PATCH",
        &path,
        Some(json!({"payload": "just a string", "amount": "12"})),
    );
    record(
        "PATCH",
        &path,
        Some(json!({"payload": [1, "two"], "amount": "0.5"})),
    );
    record(
        "GET",
        &format!(
            "/samples?sort=-amount,code&token={}",
            "0b6f1c2e-8d3a-4f5b-9c7d-1e2f3a4b5c61"
        ),
        None,
    );
    record("GET", "/samples?stamped_at=2024-01-15T09:30:00Z", None);
    // Values the document forbids: each a 422 naming the field, with the same message.
    for (field, value) in [
        ("amount", json!("")),
        ("amount", json!(1.5)),
        ("amount", json!("12345678901")),
        ("ratio", json!(3.5e38)),
        ("born_on", json!("0000-12-31")),
        ("stamped_at", json!("2024-01-15T09:30:00")),
        ("token", json!("0b6f1c2e8d3a4f5b9c7d1e2f3a4b5c61")),
        ("payload", json!({"k": "a\u{0}b"})),
        ("notes", json!("a\u{0}b")),
        ("code", json!("123456789")),
    ] {
        record("PATCH", &path, Some(json!({ field: value })));
    }
    record("GET", "/samples?code=123456789", None);
    record(
        "GET",
        "/samples?sort=id,count,big,small,ratio,precise",
        None,
    );
    record("DELETE", &path, None);
    (document, exchanges)
}

/// The every-type example on `backend`: it builds without warnings, migrates, passes its own
/// tests, and its migrations redo and revert.
fn every_type_journey(backend: Backend, test: &str) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let Some(db) = Database::new(backend, tmp.path(), test) else {
        return;
    };
    let model = example("every_type.toml");
    let name = backend.project_name("every-type");
    let project = generate(&model, backend, &name, tmp.path());
    build_without_warnings(&project);
    clippy_clean(&project);
    dk().args(["migrate", "run", "--database-url", &db.url])
        .current_dir(&project)
        .run()
        .success();
    cargo(&project, &["test"], &db.test_env());
    let port = free_port();
    let server = start_server(&project, &name, &db.url, port);
    // One contract: the same snapshots for every backend (first, on the fresh database, so
    // that ids are the same everywhere).
    let (document, exchanges) = contract_exchanges(port);
    insta::assert_snapshot!("every_type_openapi_on_every_backend", pretty(&document));
    insta::assert_snapshot!(
        "every_type_answers_on_every_backend",
        pretty(&json!(exchanges))
    );
    let swept = crate::sweep::malformed_input_sweep(port);
    assert!(swept > 1000, "{swept} malformed requests");
    drop(server);
    dk().args(["migrate", "redo", "--all", "--database-url", &db.url])
        .current_dir(&project)
        .run()
        .success();
    // On the emptied tables: the sample data of every field type passes the decoding and
    // validation of a `POST` body (the seed program writes through them).
    let seed = ["run", "--quiet", "--bin", "seed"];
    cargo(&project, &seed, &[("DATABASE_URL", db.url.as_str())]);
    let counts = dieselkit::migrations::Migrator::open(&db.url, &project)
        .expect("open the database")
        .row_counts()
        .expect("row counts");
    assert!(
        counts
            .iter()
            .all(|(table, &n)| table.starts_with("__") || n == 2),
        "two sample rows per table: {counts:?}"
    );
    cargo(&project, &seed, &[("DATABASE_URL", db.url.as_str())]);
    assert_eq!(
        dieselkit::migrations::Migrator::open(&db.url, &project)
            .expect("open the database")
            .row_counts()
            .expect("row counts"),
        counts,
        "a second seed adds nothing"
    );
    dk().args(["migrate", "revert", "--all", "--database-url", &db.url])
        .current_dir(&project)
        .run()
        .success();
    assert_no_tables(&db.url, &project);
}

#[test]
fn bookstore_generates_builds_migrates_tests_serves_and_reverts() {
    bookstore_journey(Backend::Sqlite, "bookstore_e2e_sqlite");
}

#[test]
fn bookstore_on_postgres_generates_builds_migrates_tests_serves_and_reverts() {
    bookstore_journey(Backend::Postgres, "bookstore_e2e_pg");
}

#[test]
fn bookstore_on_mysql_generates_builds_migrates_tests_serves_and_reverts() {
    bookstore_journey(Backend::Mysql, "bookstore_e2e_mysql");
}

#[test]
fn every_field_type_project_builds_and_passes_its_tests() {
    every_type_journey(Backend::Sqlite, "every_type_e2e_sqlite");
}

#[test]
fn every_field_type_project_on_postgres_builds_and_passes_its_tests() {
    every_type_journey(Backend::Postgres, "every_type_e2e_pg");
}

#[test]
fn every_field_type_project_on_mysql_builds_and_passes_its_tests() {
    every_type_journey(Backend::Mysql, "every_type_e2e_mysql");
}

/// The bookstore example with the `[options]` named in `off` set to false, written to
/// `dir/NAME.toml`.
fn bookstore_with_options(dir: &Path, name: &str, off: &[&str]) -> PathBuf {
    let mut model = std::fs::read_to_string(example("bookstore.toml")).expect("example");
    for option in off {
        let on = format!("{option} = true");
        assert!(model.contains(&on), "the example sets `{on}`");
        model = model.replace(&on, &format!("{option} = false"));
    }
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, model).expect("model");
    path
}

/// Without CRUD routes but with seed data (`crud = false`, `seed = true`): the resources'
/// query modules remain (the seed program writes through them), the project builds without
/// warnings, passes clippy, and seeds once.
#[test]
fn project_without_routes_still_seeds() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let model_path = bookstore_with_options(tmp.path(), "no-routes", &["crud", "ci"]);
    let model = std::fs::read_to_string(&model_path).expect("model");
    assert!(model.contains("crud = false") && model.contains("seed = true"));
    let project = generate(
        &model_path,
        Backend::Sqlite,
        "no-routes-bookstore",
        tmp.path(),
    );
    let routes =
        std::fs::read_to_string(project.join("src/generated/routes/author.rs")).expect("routes");
    assert!(
        !routes.contains("async fn") && routes.contains("pub fn insert("),
        "queries without handlers:\n{routes}"
    );
    // A rule of the user's that dieselkit's sample names ("name 1") break: the seed stops,
    // names the row, the rule's message and the way out, and inserts nothing.
    let models = project.join("src/models/author.rs");
    let theirs = std::fs::read_to_string(&models).expect("read").replace(
        "pub fn validate_new(_new: &NewAuthor, _errors: &mut Vec<FieldError>) {}",
        NO_DIGITS_IN_NAMES,
    );
    assert!(theirs.contains("must be a real name"), "the hook is there");
    std::fs::write(&models, &theirs).expect("write");
    build_without_warnings(&project);
    let db = tmp
        .path()
        .join("no-routes.db")
        .to_string_lossy()
        .into_owned();
    dk().args(["migrate", "run", "--database-url", &db])
        .current_dir(&project)
        .run()
        .success();
    let stderr = seed_fails(&project, &db);
    for expected in [
        "a sample row for `authors` is rejected",
        "must be a real name",
        "hint: change the sample rows with `impl NewAuthor { pub fn seed_rows(rows: Vec<Self>) -> Vec<Self> { .. } }` in `src/models/author.rs`",
    ] {
        assert!(stderr.contains(expected), "{expected}:\n{stderr}");
    }
    assert!(!stderr.contains("migrate run"), "{stderr}");
    // A hook that leaves a parent table without rows: the children have nothing to point
    // at, and the seed says whose hook to change, and inserts nothing.
    std::fs::write(&models, format!("{theirs}{NO_SAMPLE_AUTHORS}")).expect("write");
    let stderr = seed_fails(&project, &db);
    for expected in [
        "`books.author_id` needs a row of `authors`, which has none",
        "hint: change the sample rows with `impl NewAuthor {",
    ] {
        assert!(stderr.contains(expected), "{expected}:\n{stderr}");
    }
    let rows =
        "SELECT (SELECT COUNT(*) FROM authors) || ' ' || (SELECT COUNT(*) FROM books) AS line";
    assert_eq!(crate::evolve::query(Path::new(&db), rows), ["0 0"]);
    // Then the user's own sample rows, through the hook: the seed inserts those.
    std::fs::write(&models, format!("{theirs}{MY_SAMPLE_AUTHORS}")).expect("write");
    build_without_warnings(&project);
    clippy_clean(&project);
    seed_fills_empty_tables_once(&project, &db);
    assert_eq!(
        crate::evolve::query(
            Path::new(&db),
            "SELECT name AS line FROM authors ORDER BY id"
        ),
        ["Ada Lovelace", "Alan Turing"]
    );
}

/// Runs the project's seed program, which must fail; returns what it printed on stderr.
fn seed_fails(project: &Path, db: &str) -> String {
    let refused = Command::new(env!("CARGO"))
        .args(["run", "--quiet", "--bin", "seed"])
        .current_dir(project)
        .env("CARGO_TARGET_DIR", generated_target_dir())
        .env_remove("RUSTFLAGS")
        .env("DATABASE_URL", db)
        .output()
        .expect("run cargo");
    let stderr = String::from_utf8_lossy(&refused.stderr).into_owned();
    assert!(!refused.status.success(), "{stderr}");
    stderr
}

/// A seed hook that drops every sample author.
const NO_SAMPLE_AUTHORS: &str = r#"
impl NewAuthor {
    pub fn seed_rows(_rows: Vec<Self>) -> Vec<Self> {
        Vec::new()
    }
}
"#;

/// A validation rule of the user's that dieselkit's sample rows do not pass.
const NO_DIGITS_IN_NAMES: &str = r#"pub fn validate_new(new: &NewAuthor, errors: &mut Vec<FieldError>) {
    if new.name.chars().any(|c| c.is_ascii_digit()) {
        errors.push(FieldError::new("name", "must be a real name, without digits"));
    }
}"#;

/// The user's sample authors, replacing dieselkit's.
const MY_SAMPLE_AUTHORS: &str = r#"
impl NewAuthor {
    /// Sample authors that pass my rules.
    pub fn seed_rows(mut rows: Vec<Self>) -> Vec<Self> {
        for (row, name) in rows.iter_mut().zip(["Ada Lovelace", "Alan Turing"]) {
            row.name = name.to_owned();
        }
        rows
    }
}
"#;

/// Every option off (`crud = false`, `seed = false`, `ci = false`): models and migrations
/// without routes, seed binary or workflow still build without warnings, pass clippy and
/// their own tests, and migrate.
#[test]
fn project_with_every_option_off_builds_and_passes_its_tests() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let model_path = bookstore_with_options(tmp.path(), "bare", &["crud", "seed", "ci"]);
    let model = std::fs::read_to_string(&model_path).expect("model");
    assert!(model.contains("crud = false") && model.contains("seed = false"));
    let project = generate(&model_path, Backend::Sqlite, "bare-bookstore", tmp.path());
    assert!(!project.join("src/bin/seed.rs").exists());
    assert!(!project.join(".github").exists());
    let routes =
        std::fs::read_to_string(project.join("src/generated/routes/author.rs")).expect("routes");
    assert!(
        !routes.contains("async fn create"),
        "no CRUD handlers:\n{routes}"
    );
    build_without_warnings(&project);
    clippy_clean(&project);
    let db = tmp.path().join("bare.db").to_string_lossy().into_owned();
    dk().args(["migrate", "run", "--database-url", &db])
        .current_dir(&project)
        .run()
        .success();
    cargo(&project, &["test"], &[]);
    dk().args(["migrate", "revert", "--all", "--database-url", &db])
        .current_dir(&project)
        .run()
        .success();
    assert_no_tables(&db, &project);
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).expect("JSON")
}

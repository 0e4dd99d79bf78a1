//! End to end: generate a project, build it in a shared target dir, migrate a real
//! database with dieselkit, run the project's own tests, serve it and call every endpoint
//! over HTTP, then revert every migration.

use crate::support::{dk, example, generated_target_dir};
use serde_json::{json, Value};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn cargo(project: &Path, args: &[&str]) {
    let status = Command::new(env!("CARGO"))
        .args(args)
        .current_dir(project)
        .env("CARGO_TARGET_DIR", generated_target_dir())
        .env_remove("RUSTFLAGS")
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
fn build_without_warnings(project: &Path) {
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

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_server(project: &Path, bin: &str, db: &Path, port: u16) -> Server {
    let exe = generated_target_dir().join("debug").join(bin);
    let child = Command::new(exe)
        .current_dir(project)
        .env("DATABASE_URL", db)
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start server");
    let server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "server did not start listening");
        std::thread::sleep(Duration::from_millis(100));
    }
    server
}

struct Api {
    base: String,
    agent: ureq::Agent,
}

struct Reply {
    status: u16,
    location: Option<String>,
    body: Value,
}

impl Api {
    fn call(&self, method: &str, path: &str, body: Option<&str>) -> Reply {
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
    fn expect(&self, method: &str, path: &str, body: Option<Value>, status: u16) -> Reply {
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

fn generate(example_file: &str, into: &Path) -> std::path::PathBuf {
    let dest = into.join("project");
    dk().args(["new-project", "--output"])
        .args([&dest])
        .args(["--from"])
        .args([example(example_file)])
        .run()
        .success();
    dest
}

#[test]
fn bookstore_generates_builds_migrates_tests_serves_and_reverts() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let project = generate("bookstore.toml", tmp.path());
    build_without_warnings(&project);

    let db = tmp.path().join("bookstore.db");
    let db_url = db.to_string_lossy().into_owned();
    dk().args(["migrate", "run", "--database-url", &db_url])
        .current_dir(&project)
        .run()
        .success()
        .stderr_has("Applying 2023-11-14-221320_create_authors")
        .stderr_has("Applying 2023-11-14-221321_create_books");

    cargo(&project, &["test"]);

    let port = free_port();
    let _server = start_server(&project, "bookstore", &db, port);
    let api = Api {
        base: format!("http://127.0.0.1:{port}"),
        agent: ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(10))
            .build(),
    };

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

    // Books belong to authors.
    let book = api.expect(
        "POST",
        "/books",
        Some(json!({"title": "The Dispossessed", "isbn": "9780060512750", "published_on": "1974-05-01", "price": 9.5, "author_id": id})),
        201,
    );
    let book_id = book.body["id"].as_i64().expect("book id");
    let nested = api.expect("GET", &format!("/authors/{id}/books"), None, 200);
    assert_eq!(nested.body["data"][0]["id"], json!(book_id));
    assert_eq!(nested.body["meta"]["total"], json!(1));

    // Error cases: every one a JSON body of the documented shape, never a 500.
    assert_error_body(&api.expect("GET", "/authors/999999", None, 404), 404);
    assert_error_body(&api.expect("GET", "/authors/not-a-number", None, 404), 404);
    assert_error_body(
        &api.expect("PUT", "/authors/999999", Some(json!({"name": "x"})), 404),
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
    assert_error_body(
        &api.expect(
            "POST",
            "/books",
            Some(json!({"title": "Dup", "isbn": "9780060512750", "price": 1.0, "author_id": id})),
            409,
        ),
        409,
    );
    assert_error_body(
        &api.expect(
            "POST",
            "/books",
            Some(json!({"title": "Orphan", "isbn": "1", "price": 1.0, "author_id": 999999})),
            409,
        ),
        409,
    );
    assert_error_body(&api.expect("GET", "/no-such-route", None, 404), 404);

    // Delete cascades to books (on_delete=cascade).
    let deleted = api.call("DELETE", &format!("/authors/{id}"), None);
    assert_eq!(deleted.status, 204);
    api.expect("GET", &format!("/authors/{id}"), None, 404);
    api.expect("GET", &format!("/books/{book_id}"), None, 404);

    drop(_server);
    dk().args(["migrate", "revert", "--all", "--database-url", &db_url])
        .current_dir(&project)
        .run()
        .success();
    let mut migrator = dieselkit::migrations::Migrator::open(&db_url, &project).expect("open");
    assert_eq!(
        migrator.table_names().expect("tables"),
        Vec::<String>::new(),
        "revert --all leaves no application tables"
    );
}

#[test]
fn every_field_type_project_builds_and_passes_its_tests() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let project = generate("every_type.toml", tmp.path());
    build_without_warnings(&project);
    let db = tmp.path().join("every.db");
    let db_url = db.to_string_lossy().into_owned();
    dk().args(["migrate", "run", "--database-url", &db_url])
        .current_dir(&project)
        .run()
        .success();
    cargo(&project, &["test"]);
    dk().args(["migrate", "redo", "--all", "--database-url", &db_url])
        .current_dir(&project)
        .run()
        .success();
    dk().args(["migrate", "revert", "--all", "--database-url", &db_url])
        .current_dir(&project)
        .run()
        .success();
    let mut migrator = dieselkit::migrations::Migrator::open(&db_url, &project).expect("open");
    assert!(migrator.table_names().expect("tables").is_empty());
}

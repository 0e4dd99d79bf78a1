//! Production PostgreSQL behind a transaction-mode pooler: a real PgBouncer (Debian's
//! package) in front of the test server, started for the test on a free loopback port and
//! stopped by its pid. PgBouncer refuses to run as root, so as root it runs as `postgres`
//! through `setpriv`, which execs it: the child's pid is PgBouncer's.

use crate::evolve::write_project_from;
use crate::support::{dk, ServerKind, TestDb};
use diesel::{Connection, RunQueryDsl};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) struct PgBouncer {
    child: Child,
    pub(crate) port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for PgBouncer {
    /// Stop it by its pid (the child is PgBouncer itself), and wait for it.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn pgbouncer_binary() -> Option<PathBuf> {
    ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

impl PgBouncer {
    /// A PgBouncer in `pool_mode = transaction` in front of the test PostgreSQL server, or
    /// None (skipped locally; a failure under `CI=true`) without the server URL or the
    /// `pgbouncer` program.
    pub(crate) fn start(test: &str) -> Option<PgBouncer> {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true");
        let server = std::env::var("DIESELKIT_TEST_POSTGRES_URL").ok()?;
        let Some(binary) = pgbouncer_binary() else {
            assert!(
                !ci,
                "pgbouncer is not installed; under CI=true the pooler tests must run"
            );
            crate::support::skip_notice(&format!("{test}: install pgbouncer to run it"));
            return None;
        };
        let (host, port) = host_and_port(&server);
        let dir = tempfile::Builder::new()
            .prefix("dk-pgbouncer")
            .tempdir()
            .expect("tempdir");
        let listen = crate::e2e::free_port();
        let d = dir.path().display();
        let ini = format!(
            "[databases]\n* = host={host} port={port}\n\n[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {listen}\n\
             unix_socket_dir =\nauth_type = trust\nauth_file = {d}/userlist.txt\npool_mode = transaction\n\
             max_client_conn = 500\ndefault_pool_size = 20\nmax_db_connections = 40\n\
             ignore_startup_parameters = extra_float_digits,options\nlogfile = {d}/pgbouncer.log\n\
             admin_users = postgres\nserver_reset_query =\n"
        );
        std::fs::write(dir.path().join("pgbouncer.ini"), ini).expect("ini");
        std::fs::write(dir.path().join("userlist.txt"), "\"postgres\" \"\"\n").expect("users");
        let as_root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        let mut cmd = if as_root {
            // The postgres user must read the directory and write its log there.
            Command::new("chown")
                .args(["-R", "postgres", &dir.path().display().to_string()])
                .status()
                .expect("chown");
            // setpriv execs PgBouncer itself (runuser would fork and wait), so the child
            // this test kills is PgBouncer.
            let mut c = Command::new("setpriv");
            c.args([
                "--reuid=postgres",
                "--regid=postgres",
                "--init-groups",
                "--",
            ])
            .arg(&binary);
            c
        } else {
            Command::new(&binary)
        };
        let child = cmd
            .arg(dir.path().join("pgbouncer.ini"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start pgbouncer");
        let bouncer = PgBouncer {
            child,
            port: listen,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", listen)).is_err() {
            assert!(
                Instant::now() < deadline,
                "pgbouncer did not start listening"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(bouncer)
    }

    /// The URL of `database` through the pooler.
    pub(crate) fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }
}

fn host_and_port(server: &str) -> (String, String) {
    let rest = server
        .split_once("://")
        .map(|(_, r)| r)
        .unwrap_or(server)
        .trim_end_matches('/');
    let hostport = rest.rsplit('@').next().unwrap_or(rest);
    let hostport = hostport.split('/').next().unwrap_or(hostport);
    match hostport.rsplit_once(':') {
        Some((h, p)) => (h.to_string(), p.to_string()),
        None => (hostport.to_string(), "5432".to_string()),
    }
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// Run a count query on `url` (a direct connection).
pub(crate) fn count(url: &str, sql: &str) -> i64 {
    let mut c = diesel::PgConnection::establish(url).expect("pg");
    diesel::sql_query(sql)
        .get_result::<Count>(&mut c)
        .expect(sql)
        .n
}

pub(crate) fn advisory_locks(direct_url: &str) -> i64 {
    count(
        direct_url,
        "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
}

fn project(dir: &Path) -> PathBuf {
    write_project_from(
        "[project]\nname = \"pooled\"\nbackend = \"postgres\"\n\n\
         [[resources]]\nname = \"author\"\nfields = [\"name:string(100)\"]\n\n\
         [[resources]]\nname = \"book\"\nfields = [\"title:string(200)\", \"author:references:on_delete=cascade\"]\n\n\
         [[resources]]\nname = \"review\"\nfields = [\"body:text\", \"book:references\"]\n",
        &dir.join("pooled"),
    )
}

/// Eight `dieselkit migrate run` at once with `DATABASE_URL` on the pooler and no
/// `MIGRATION_DATABASE_URL`: every one succeeds, each migration is applied exactly once, and
/// no advisory lock is left behind in PostgreSQL (so a later run over the direct URL does
/// not wait).
#[test]
fn concurrent_migrate_runs_through_pgbouncer_apply_each_migration_once() {
    let Some(db) = TestDb::new(ServerKind::Postgres, "pooled_runs") else {
        return;
    };
    let Some(bouncer) = PgBouncer::start("pooled_runs") else {
        return;
    };
    db.create();
    let tmp = tempfile::tempdir().expect("tempdir");
    let project = project(tmp.path());
    // A migration that cannot run in a transaction: CREATE INDEX CONCURRENTLY, with
    // `run_in_transaction = false`, runs through the pooler too.
    let concurrently = project.join("migrations/2030-01-01-000000_index_reviews_body");
    std::fs::create_dir_all(&concurrently).expect("mkdir");
    std::fs::write(
        concurrently.join("up.sql"),
        "CREATE INDEX CONCURRENTLY reviews_body_prefix ON reviews (left(body, 20));\n",
    )
    .expect("up");
    std::fs::write(
        concurrently.join("down.sql"),
        "DROP INDEX CONCURRENTLY reviews_body_prefix;\n",
    )
    .expect("down");
    std::fs::write(
        concurrently.join("metadata.toml"),
        "run_in_transaction = false\n",
    )
    .expect("metadata");
    let name = db.url.rsplit('/').next().expect("name").to_string();
    let pooled = bouncer.url(&name);
    let runs: Vec<_> = (0..8)
        .map(|_| {
            let project = project.clone();
            let pooled = pooled.clone();
            std::thread::spawn(move || {
                dk().args(["migrate", "run", "--lock-timeout", "120"])
                    .env("DATABASE_URL", &pooled)
                    .current_dir(&project)
                    .run()
            })
        })
        .collect();
    let outcomes: Vec<_> = runs
        .into_iter()
        .map(|r| r.join().expect("thread"))
        .collect();
    for run in &outcomes {
        assert_eq!(run.code(), 0, "{}", run.stderr());
    }
    let files = std::fs::read_dir(project.join("migrations"))
        .expect("migrations")
        .count() as i64;
    assert_eq!(
        count(
            &db.url,
            "SELECT count(*) AS n FROM __diesel_schema_migrations"
        ),
        files
    );
    let applied: usize = outcomes
        .iter()
        .map(|r| r.stderr().matches("Applying").count())
        .sum();
    assert_eq!(
        applied as i64, files,
        "each migration applied by exactly one run"
    );
    assert_eq!(advisory_locks(&db.url), 0, "no advisory lock left behind");
    dk().args([
        "migrate",
        "run",
        "--lock-timeout",
        "2",
        "--database-url",
        &db.url,
    ])
    .current_dir(&project)
    .run()
    .success()
    .stderr_has("no pending migrations");
    assert_eq!(
        count(
            &db.url,
            "SELECT count(*) AS n FROM pg_indexes WHERE indexname = 'reviews_body_prefix'"
        ),
        1
    );
    // Revert and redo it through the pooler; `--sql` shows it outside a transaction.
    let preview = dk()
        .args(["migrate", "revert", "--sql"])
        .env("DATABASE_URL", &pooled)
        .current_dir(&project)
        .run()
        .success()
        .stdout();
    assert!(
        preview.contains("run_in_transaction = false: no transaction\nDROP INDEX CONCURRENTLY"),
        "{preview}"
    );
    dk().args(["migrate", "redo"])
        .env("DATABASE_URL", &pooled)
        .current_dir(&project)
        .run()
        .success();
    assert_eq!(advisory_locks(&db.url), 0);
    drop(bouncer);
}

/// Three replicas of a generated service starting together with `MIGRATE_ON_START=true`,
/// `DATABASE_URL` on the pooler and no `MIGRATION_DATABASE_URL`, on a database without
/// tables: each migration is applied by exactly one of them, no advisory lock stays behind,
/// and a concurrent CRUD load through the pooler gets no 5xx. `db_url` is the direct URL.
pub(crate) fn replicas_through_pgbouncer(project: &Path, bin: &str, db_url: &str, logs: &Path) {
    let Some(bouncer) = PgBouncer::start("replicas_through_pgbouncer") else {
        return;
    };
    let name = db_url.rsplit('/').next().expect("database name");
    let pooled = bouncer.url(name);
    let ports = [
        crate::e2e::free_port(),
        crate::e2e::free_port(),
        crate::e2e::free_port(),
    ];
    let env = [
        ("MIGRATE_ON_START", "true"),
        ("DATABASE_PREPARED_STATEMENTS", "false"),
    ];
    let log_paths: Vec<PathBuf> = (0..3)
        .map(|i| logs.join(format!("pooled-replica-{i}.log")))
        .collect();
    let mut replicas: Vec<_> = ports
        .iter()
        .zip(&log_paths)
        .map(|(port, log)| crate::e2e::spawn_server(project, bin, &pooled, *port, &env, Some(log)))
        .collect();
    for (replica, port) in replicas.iter_mut().zip(ports) {
        crate::e2e::wait_until_listening(replica, port);
    }
    let output: String = log_paths
        .iter()
        .map(|p| std::fs::read_to_string(p).expect("log"))
        .collect();
    let migrations: Vec<String> = std::fs::read_dir(project.join("migrations"))
        .expect("migrations")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    for m in &migrations {
        assert_eq!(
            output.matches(&format!("Applied migration {m}\n")).count(),
            1,
            "{m} applied by exactly one replica:\n{output}"
        );
    }
    assert_eq!(advisory_locks(db_url), 0, "no advisory lock left behind");
    // 3 replicas x 40 concurrent clients, each creating an author and reading it back.
    let workers: Vec<_> = (0..120)
        .map(|i| {
            let port = ports[i % 3];
            std::thread::spawn(move || {
                let api = crate::e2e::api(port);
                let body = format!("{{\"name\": \"pooled {i}\"}}");
                let created = api.call("POST", "/authors", Some(&body));
                let id = created.body["id"].as_i64();
                let got = id.map(|id| api.call("GET", &format!("/authors/{id}"), None).status);
                let listed = api.call("GET", "/authors?per_page=5", None).status;
                (created.status, got, listed)
            })
        })
        .collect();
    for w in workers {
        let (created, got, listed) = w.join().expect("worker");
        assert_eq!(created, 201, "POST through the pooler");
        assert_eq!(got, Some(200), "GET through the pooler");
        assert_eq!(listed, 200, "list through the pooler");
    }
    assert_eq!(
        count(
            db_url,
            "SELECT count(*) AS n FROM authors WHERE name LIKE 'pooled %'"
        ),
        120
    );
    drop(replicas);
    drop(bouncer);
}

/// A migration behind a long-running transaction that holds a lock on its table gives up
/// within the configured wait (retried twice), names the table and, on PostgreSQL, the
/// session holding the lock; nothing of it is recorded; once the transaction ends it
/// applies.
fn blocked_migration_gives_up_then_applies(kind: ServerKind, backend: &str, test: &str) {
    use diesel::connection::SimpleConnection;
    let Some(db) = TestDb::new(kind, test) else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let project = write_project_from(
        &format!(
            "[project]\nname = \"blocked\"\nbackend = \"{backend}\"\n\n[[resources]]\nname = \"author\"\nfields = [\"name:string(100)\"]\n"
        ),
        &tmp.path().join("blocked"),
    );
    let run = |args: &[&str]| {
        dk().args(args)
            .args(["--database-url", &db.url])
            .current_dir(&project)
            .run()
    };
    run(&["migrate", "run"]).success();
    run(&["generate", "field", "author", "bio:text?"]).success();
    // Another session reads the table in a transaction it keeps open.
    let holder: Box<dyn SimpleConnection> = match kind {
        ServerKind::Postgres => {
            let mut c = diesel::PgConnection::establish(&db.url).expect("pg");
            c.batch_execute(
                "SET application_name = 'report job'; BEGIN; SELECT count(*) FROM authors",
            )
            .expect("hold");
            Box::new(c)
        }
        ServerKind::Mysql => {
            let mut c = diesel::MysqlConnection::establish(&db.url).expect("mysql");
            c.batch_execute("START TRANSACTION; SELECT count(*) FROM authors")
                .expect("hold");
            Box::new(c)
        }
    };
    let mut holder = holder;
    let start = Instant::now();
    let blocked = run(&["migrate", "run", "--ddl-lock-timeout", "1"]);
    let waited = start.elapsed();
    assert_eq!(blocked.code(), 1, "{}", blocked.stderr());
    let stderr = blocked.stderr();
    assert!(stderr.contains("lock on `authors`"), "{stderr}");
    assert!(stderr.contains("3 times"), "{stderr}");
    if kind == ServerKind::Postgres {
        assert!(stderr.contains("report job"), "names the holder: {stderr}");
    }
    assert!(
        waited < Duration::from_secs(30),
        "gave up after {waited:?}, expected about 3 x 1 s plus 3 s of pauses"
    );
    let status = run(&["migrate", "status", "--json"]).success().stdout();
    assert!(status.contains("\"pending\""), "not recorded: {status}");
    holder.batch_execute("COMMIT").expect("commit");
    drop(holder);
    run(&["migrate", "run", "--ddl-lock-timeout", "1"])
        .success()
        .stderr_has("applied 1 migration(s)");
}

#[test]
fn blocked_migration_gives_up_then_applies_on_postgres() {
    blocked_migration_gives_up_then_applies(ServerKind::Postgres, "postgres", "blocked_pg");
}

#[test]
fn blocked_migration_gives_up_then_applies_on_mysql() {
    blocked_migration_gives_up_then_applies(ServerKind::Mysql, "mysql", "blocked_my");
}

/// `generate migration --concurrently` on PostgreSQL splits an index on an existing table
/// into its own migration (`CREATE INDEX CONCURRENTLY`, `run_in_transaction = false`) that
/// runs, reverts and verifies, through PgBouncer too; other backends refuse the flag.
#[test]
fn concurrently_flag_writes_an_index_migration_outside_a_transaction() {
    let Some(db) = TestDb::new(ServerKind::Postgres, "concurrently") else {
        return;
    };
    let Some(bouncer) = PgBouncer::start("concurrently") else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let project = project(tmp.path());
    let run = |args: &[&str], url: &str| {
        dk().args(args)
            .args(["--database-url", url])
            .current_dir(&project)
            .run()
    };
    run(&["migrate", "run"], &db.url).success();
    let model = std::fs::read_to_string(project.join("dieselkit.toml")).expect("model");
    std::fs::write(
        project.join("dieselkit.toml"),
        model.replace(
            "\"title:string(200)\"",
            "\"title:string(200):index\", \"isbn:string(13)?\"",
        ),
    )
    .expect("model");
    let out = run(
        &[
            "generate",
            "migration",
            "-m",
            "book titles",
            "--concurrently",
        ],
        &db.url,
    )
    .success()
    .stdout();
    assert!(
        out.contains("CREATE INDEX CONCURRENTLY index_books_on_title ON books (title);"),
        "{out}"
    );
    let index_migration = std::fs::read_dir(project.join("migrations"))
        .expect("migrations")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.to_string_lossy()
                .ends_with("_book_titles_index_books_on_title")
        })
        .expect("a migration of its own");
    let metadata =
        std::fs::read_to_string(index_migration.join("metadata.toml")).expect("metadata");
    assert!(
        metadata.contains("run_in_transaction = false"),
        "{metadata}"
    );
    let name = db.url.rsplit('/').next().expect("name").to_string();
    let pooled = bouncer.url(&name);
    run(&["migrate", "run"], &pooled)
        .success()
        .stderr_has("applied 2 migration(s)");
    run(&["migrate", "redo", "-n", "2"], &pooled).success();
    run(&["migrate", "verify"], &db.url).success();
    assert_eq!(
        count(
            &db.url,
            "SELECT count(*) AS n FROM pg_indexes WHERE indexname = 'index_books_on_title'"
        ),
        1
    );
    // Not on SQLite.
    let sqlite = write_project_from(
        "[project]\nname = \"lite\"\nbackend = \"sqlite\"\n\n[[resources]]\nname = \"author\"\nfields = [\"name:string(100):index\"]\n",
        &tmp.path().join("lite"),
    );
    dk().args(["generate", "migration", "-m", "x", "--concurrently"])
        .current_dir(&sqlite)
        .run()
        .usage_error()
        .stderr_has("`--concurrently` is for PostgreSQL");
}

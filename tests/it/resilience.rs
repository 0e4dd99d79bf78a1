//! Faults and load on the generated service, over HTTP against the real binary:
//! - PostgreSQL goes away under light load (`ALLOW_CONNECTIONS false` and every session of the
//!   database terminated): requests get 503, never 500, and once the database is back the
//!   service answers 200 again without a restart;
//! - PostgreSQL restarts while the service is idle: reads never notice, a write on a dead
//!   connection is a 503, and the dead connections are replaced;
//! - many concurrent `POST`s create exactly one row each (SQLite and PostgreSQL).
//!
//! PostgreSQL tests skip locally without `DIESELKIT_TEST_POSTGRES_URL` and fail under `CI=true`
//! (see `support::TestDb`).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::{Connection, PgConnection, RunQueryDsl};
use serde_json::json;

use crate::e2e::{
    api, build_without_warnings, free_port, generate, spawn_server, wait_until_listening, Backend,
    Database, Server,
};
use crate::support::{dk, example};

/// The bookstore for `backend`, generated, built, migrated and served on `db`.
fn serve_bookstore(backend: Backend, db: &Database, dir: &Path) -> (Server, u16) {
    let name = backend.project_name("bookstore");
    let project = generate(&example("bookstore.toml"), backend, &name, dir);
    build_without_warnings(&project);
    dk().args(["migrate", "run", "--database-url", &db.url])
        .current_dir(&project)
        .run()
        .success();
    let port = free_port();
    let mut server = spawn_server(&project, &name, &db.url, port, &[], None);
    wait_until_listening(&mut server, port);
    (server, port)
}

/// The bookstore served on PostgreSQL, with one author. Fields drop in order: the server
/// stops before its database is dropped.
struct Served {
    _server: Server,
    db: Database,
    port: u16,
    id: i64,
    base: String,
    _tmp: tempfile::TempDir,
}

fn bookstore_with_an_author(test: &str) -> Option<Served> {
    let tmp = tempfile::tempdir().expect("tempdir");
    let db = Database::new(Backend::Postgres, tmp.path(), test)?;
    let (server, port) = serve_bookstore(Backend::Postgres, &db, tmp.path());
    let id = api(port)
        .expect("POST", "/authors", Some(json!({"name": "Le Guin"})), 201)
        .body["id"]
        .as_i64()
        .expect("id");
    Some(Served {
        _server: server,
        db,
        port,
        id,
        base: format!("http://127.0.0.1:{port}"),
        _tmp: tmp,
    })
}

/// What one request got: an HTTP status, or `0` when no response came at all.
fn status_of(result: Result<ureq::Response, ureq::Error>) -> u16 {
    match result {
        Ok(response) => response.status(),
        Err(ureq::Error::Status(status, _)) => status,
        Err(ureq::Error::Transport(_)) => 0,
    }
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(30))
        .build()
}

/// The database name at the end of a server URL.
fn database_name(url: &str) -> &str {
    url.rsplit('/').next().expect("a database URL")
}

fn admin(url: &str) -> PgConnection {
    let (server, _) = url.rsplit_once('/').expect("a database URL");
    PgConnection::establish(&format!("{server}/postgres"))
        .expect("connect to the maintenance database")
}

/// One request of the load: when it started and ended (since the test began) and its status.
#[derive(Debug, Clone, Copy)]
struct Sample {
    start: Duration,
    end: Duration,
    status: u16,
}

#[test]
fn postgres_outage_is_503_and_the_service_recovers_without_restart() {
    let Some(served) = bookstore_with_an_author("fault_pg_outage") else {
        return;
    };
    let (db, port, id, base) = (&served.db, served.port, served.id, served.base.clone());
    let api = api(port);

    // Light load: 4 clients, each sending a mix of reads, writes and health checks.
    let t0 = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let samples: Arc<Mutex<Vec<Sample>>> = Arc::default();
    let workers: Vec<_> = (0..4u64)
        .map(|worker| {
            let (stop, samples, base) = (stop.clone(), samples.clone(), base.clone());
            std::thread::spawn(move || {
                let agent = agent();
                let mut n = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    n += 1;
                    let start = t0.elapsed();
                    let status = match (worker + n) % 4 {
                        0 => status_of(agent.get(&format!("{base}/health")).call()),
                        1 => status_of(
                            agent
                                .post(&format!("{base}/authors"))
                                .send_json(json!({"name": format!("author {worker}-{n}")})),
                        ),
                        2 => status_of(agent.get(&format!("{base}/authors?per_page=5")).call()),
                        _ => status_of(agent.get(&format!("{base}/authors/{id}")).call()),
                    };
                    let end = t0.elapsed();
                    samples
                        .lock()
                        .expect("samples")
                        .push(Sample { start, end, status });
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        })
        .collect();

    std::thread::sleep(Duration::from_secs(1));
    let healthy_until = t0.elapsed();
    let name = database_name(&db.url).to_owned();
    let mut admin = admin(&db.url);
    diesel::sql_query(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"))
        .execute(&mut admin)
        .expect("refuse new connections");
    terminate_sessions(&mut admin, &name);
    let down_from = t0.elapsed();
    // Long enough for whole requests (each waits for the pool's checkout timeout) to fit.
    std::thread::sleep(Duration::from_secs(12));
    let down_until = t0.elapsed();
    diesel::sql_query(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"))
        .execute(&mut admin)
        .expect("allow connections again");

    // Back without a restart: the same process answers 200 again within a few seconds.
    let deadline = Instant::now() + Duration::from_secs(20);
    let probe = agent();
    while status_of(probe.get(&format!("{base}/authors/{id}")).call()) != 200 {
        assert!(
            Instant::now() < deadline,
            "the service did not recover within 20 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let recovered_at = t0.elapsed();
    eprintln!(
        "database down {:.1}s..{:.1}s; service answering again at {:.1}s",
        down_from.as_secs_f64(),
        down_until.as_secs_f64(),
        recovered_at.as_secs_f64()
    );
    std::thread::sleep(Duration::from_secs(2));
    stop.store(true, Ordering::SeqCst);
    for worker in workers {
        worker.join().expect("load thread");
    }

    let samples = samples.lock().expect("samples").clone();
    let statuses = |keep: &dyn Fn(&Sample) -> bool| -> BTreeMap<u16, usize> {
        let mut tally = BTreeMap::new();
        for sample in samples.iter().filter(|s| keep(s)) {
            *tally.entry(sample.status).or_default() += 1;
        }
        tally
    };
    let before = statuses(&|s| s.end <= healthy_until);
    let during = statuses(&|s| s.start >= down_from && s.end <= down_until);
    let after = statuses(&|s| s.start >= recovered_at);
    let all = statuses(&|_| true);
    eprintln!("statuses before: {before:?}, during: {during:?}, after: {after:?}, all: {all:?}");
    assert!(!all.contains_key(&500), "no request is ever a 500: {all:?}");
    assert!(
        !all.contains_key(&0),
        "every request gets an answer: {all:?}"
    );
    assert!(
        during.get(&503).is_some_and(|n| *n > 0),
        "the outage is answered 503: {during:?}"
    );
    assert_eq!(
        during.len(),
        1,
        "every request during the outage is a 503: {during:?}"
    );
    for (phase, tally) in [("before", &before), ("after", &after)] {
        assert!(!tally.is_empty(), "requests {phase} the outage");
        assert!(
            tally.keys().all(|status| *status == 200 || *status == 201),
            "every request {phase} the outage succeeds: {tally:?}"
        );
    }
    api.expect("GET", "/health", None, 200);
}

/// PostgreSQL restarts while the service is idle (every session of its database terminated,
/// new ones allowed): the pooled connections are dead, and the service, which does not test
/// a connection before each request, must notice. Reads answer 200 straight away (they run
/// again on another connection); a write on a dead connection is a 503 (it may have been
/// applied, so it is not repeated), never a 500, and once the dead connections are gone
/// writes succeed.
#[test]
fn postgres_restart_while_idle_costs_readers_nothing() {
    let Some(served) = bookstore_with_an_author("fault_pg_idle_restart") else {
        return;
    };
    let (db, id, base) = (&served.db, served.id, served.base.clone());
    // Open several pooled connections: concurrent reads.
    let read_all = |clients: u64, each: u64| -> BTreeMap<u16, usize> {
        let threads: Vec<_> = (0..clients)
            .map(|_| {
                let url = format!("{base}/authors/{id}");
                std::thread::spawn(move || {
                    let agent = agent();
                    (0..each)
                        .map(|_| status_of(agent.get(&url).call()))
                        .collect::<Vec<u16>>()
                })
            })
            .collect();
        let mut tally = BTreeMap::new();
        for thread in threads {
            for status in thread.join().expect("reader") {
                *tally.entry(status).or_default() += 1;
            }
        }
        tally
    };
    assert_eq!(read_all(8, 20), BTreeMap::from([(200, 160)]));

    let name = database_name(&db.url).to_owned();
    let mut admin = admin(&db.url);
    let terminated = terminate_sessions(&mut admin, &name);
    assert!(terminated >= 2, "the pool held {terminated} connections");

    let after = read_all(8, 20);
    assert_eq!(
        after,
        BTreeMap::from([(200, 160)]),
        "reads right after the restart"
    );

    // Writes that meet a dead connection: 503 (at most one per pooled connection), then
    // success.
    terminate_sessions(&mut admin, &name);
    let mut statuses = Vec::new();
    loop {
        let status = status_of(
            agent()
                .post(&format!("{base}/authors"))
                .send_json(json!({"name": format!("writer {}", statuses.len())})),
        );
        statuses.push(status);
        if status == 201 {
            break;
        }
        assert_eq!(status, 503, "a write on a dead connection: {statuses:?}");
        assert!(
            statuses.len() <= 9,
            "the pool (8) ran out of dead connections: {statuses:?}"
        );
    }
}

#[derive(Debug, diesel::QueryableByName)]
struct TerminatedCount {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// Terminates every session of database `name` but `admin`'s own, waits for them to exit,
/// and says how many there were.
fn terminate_sessions(admin: &mut PgConnection, name: &str) -> i64 {
    let terminated: Vec<TerminatedCount> = diesel::sql_query(format!(
        "SELECT COUNT(pg_terminate_backend(pid)) AS n FROM pg_stat_activity \
         WHERE datname = '{name}' AND pid <> pg_backend_pid()"
    ))
    .load(admin)
    .expect("terminate the service's sessions");
    // Terminated sessions take a moment to exit.
    std::thread::sleep(Duration::from_millis(500));
    terminated[0].n
}

/// How many clients `POST` at once in the load test.
const CONCURRENT_CREATES: usize = 200;

/// `CONCURRENT_CREATES` threads, released together, each `POST` one author: every request
/// is a 201 with its own id, and the list then counts exactly that many rows.
fn concurrent_creates_make_one_row_each(backend: Backend, test: &str) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let Some(db) = Database::new(backend, tmp.path(), test) else {
        return;
    };
    let (_server, port) = serve_bookstore(backend, &db, tmp.path());
    let base = format!("http://127.0.0.1:{port}");
    let start = Arc::new(std::sync::Barrier::new(CONCURRENT_CREATES));
    let clients: Vec<_> = (0..CONCURRENT_CREATES)
        .map(|n| {
            let (start, base) = (start.clone(), base.clone());
            std::thread::spawn(move || {
                let agent = agent();
                start.wait();
                let result = agent
                    .post(&format!("{base}/authors"))
                    .send_json(json!({"name": format!("author {n}")}));
                match result {
                    Ok(response) => {
                        let status = response.status();
                        let body: serde_json::Value = response.into_json().expect("JSON body");
                        (status, body["id"].as_i64())
                    }
                    Err(err) => (status_of(Err(err)), None),
                }
            })
        })
        .collect();
    let results: Vec<(u16, Option<i64>)> = clients
        .into_iter()
        .map(|client| client.join().expect("client thread"))
        .collect();
    let failed: Vec<u16> = results
        .iter()
        .map(|(status, _)| *status)
        .filter(|status| *status != 201)
        .collect();
    assert!(failed.is_empty(), "statuses other than 201: {failed:?}");
    let mut ids: Vec<i64> = results.iter().filter_map(|(_, id)| *id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), CONCURRENT_CREATES, "one distinct id per request");
    let list = api(port).expect("GET", "/authors?per_page=1", None, 200);
    assert_eq!(
        list.body["meta"]["total"],
        json!(CONCURRENT_CREATES),
        "{}",
        list.body
    );
}

#[test]
fn concurrent_creates_on_sqlite_make_exactly_one_row_each() {
    concurrent_creates_make_one_row_each(Backend::Sqlite, "load_creates_sqlite");
}

#[test]
fn concurrent_creates_on_postgres_make_exactly_one_row_each() {
    concurrent_creates_make_one_row_each(Backend::Postgres, "load_creates_pg");
}

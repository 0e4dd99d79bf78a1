//! Faults and load on the generated service, over HTTP against the real binary:
//! - PostgreSQL goes away under light load (`ALLOW_CONNECTIONS false` and every session of the
//!   database terminated): requests get 503, never 500, and once the database is back the
//!   service answers 200 again without a restart;
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
    let tmp = tempfile::tempdir().expect("tempdir");
    let Some(db) = Database::new(Backend::Postgres, tmp.path(), "fault_pg_outage") else {
        return;
    };
    let (_server, port) = serve_bookstore(Backend::Postgres, &db, tmp.path());
    let api = api(port);
    let id = api
        .expect("POST", "/authors", Some(json!({"name": "Le Guin"})), 201)
        .body["id"]
        .as_i64()
        .expect("id");
    let base = format!("http://127.0.0.1:{port}");

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
    diesel::sql_query(format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = '{name}' AND pid <> pg_backend_pid()"
    ))
    .execute(&mut admin)
    .expect("terminate the service's connections");
    // Terminated sessions take a moment to exit; from then on nothing reaches the database.
    std::thread::sleep(Duration::from_millis(500));
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

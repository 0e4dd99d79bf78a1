//! Does diesel-async 0.9 work through PgBouncer in transaction mode? Runs CLIENTS tasks,
//! each with its own `AsyncPgConnection` to URL, for SECONDS, each doing a select by id
//! through diesel's query builder, either as is (`plain`) or inside a transaction
//! (`tx`), with diesel-async's statement cache on or off; or (`unnamed`) the same query
//! through tokio-postgres's `query_typed` (an unnamed statement: Parse, Bind, Execute and
//! Sync in one round trip), without diesel; or (`patched`, built with the `unnamed-patch`
//! feature against diesel-async with `diesel-async-unnamed.patch`) diesel-async sending
//! every query that way.
//!
//!   async-pgbouncer tls URL...
//!
//! connects diesel-async to each URL over tokio-postgres with an OpenSSL connector and
//! prints whether the session is encrypted (`pg_stat_ssl`), or the error. Prints the number of queries
//! that succeeded and failed, and the distinct errors.
//!
//!   async-pgbouncer URL plain|tx|unnamed|patched|patched-tx cache|nocache CLIENTS SECONDS
//!
//! The table `dk_probe_items (id int primary key, name text)` must exist with ids 1..=100
//! (run.sh creates it).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::connection::CacheSize;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

diesel::table! {
    dk_probe_items (id) {
        id -> Integer,
        name -> Text,
    }
}

#[derive(Default)]
struct Tally {
    ok: u64,
    failed: u64,
    errors: BTreeMap<String, u64>,
    time_zones: BTreeMap<String, u64>,
}

async fn one(conn: &mut AsyncPgConnection, id: i32, in_tx: bool) -> QueryResult<(String, String)> {
    use dk_probe_items::dsl;
    let tz = diesel::dsl::sql::<diesel::sql_types::Text>("current_setting('TimeZone')");
    let query = dsl::dk_probe_items.find(id).select((dsl::name, tz));
    if in_tx {
        conn.transaction(async move |conn| query.first::<(String, String)>(conn).await)
            .await
    } else {
        query.first::<(String, String)>(conn).await
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).is_some_and(|a| a == "tls") {
        for url in &args[2..] {
            println!("{url}: {}", tls_session(url).await);
        }
        return;
    }
    if args.len() != 6 {
        eprintln!("usage: async-pgbouncer URL plain|tx|unnamed|patched|patched-tx cache|nocache CLIENTS SECONDS");
        std::process::exit(2);
    }
    let url = args[1].clone();
    let mode = args[2].clone();
    if mode.starts_with("patched") {
        #[cfg(feature = "unnamed-patch")]
        diesel_async::pg::use_unnamed_statements(true);
        #[cfg(not(feature = "unnamed-patch"))]
        panic!("`patched` needs the unnamed-patch feature (run.sh builds it)");
    }
    let in_tx = mode.ends_with("tx");
    let cache = args[3] == "cache";
    let clients: usize = args[4].parse().expect("CLIENTS");
    let seconds: u64 = args[5].parse().expect("SECONDS");
    let tally = Arc::new(Mutex::new(Tally::default()));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for client in 0..clients {
        let (url, tally, mode) = (url.clone(), tally.clone(), mode.clone());
        tasks.push(tokio::spawn(async move {
            if mode == "unnamed" {
                return unnamed(&url, client, deadline, &tally).await;
            }
            let mut conn = match AsyncPgConnection::establish(&url).await {
                Ok(conn) => conn,
                Err(err) => {
                    let mut t = tally.lock().unwrap();
                    t.failed += 1;
                    *t.errors.entry(format!("establish: {err}")).or_default() += 1;
                    return;
                }
            };
            if !cache {
                conn.set_prepared_statement_cache_size(CacheSize::Disabled);
            }
            let mut id = client as i32;
            while Instant::now() < deadline {
                id = id % 100 + 1;
                let result = one(&mut conn, id, in_tx).await;
                let mut t = tally.lock().unwrap();
                match result {
                    Ok((_, tz)) => {
                        t.ok += 1;
                        *t.time_zones.entry(tz).or_default() += 1;
                    }
                    Err(err) => {
                        t.failed += 1;
                        *t.errors
                            .entry(without_digits(&err.to_string()))
                            .or_default() += 1;
                    }
                }
            }
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    let t = tally.lock().unwrap();
    println!(
        "mode={} cache={} clients={clients} seconds={seconds}: ok={} failed={}",
        mode, cache, t.ok, t.failed
    );
    for (tz, n) in &t.time_zones {
        println!("  TimeZone {tz}: {n}");
    }
    for (err, n) in &t.errors {
        println!("  error x{n}: {err}");
    }
}

/// `prepared statement "s123" already exists` -> `prepared statement "sN" already exists`.
fn without_digits(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            if !out.ends_with('N') {
                out.push('N');
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The `unnamed` mode: tokio-postgres's `query_typed`, no prepared statement by name.
async fn unnamed(url: &str, client: usize, deadline: Instant, tally: &Mutex<Tally>) {
    use tokio_postgres::types::Type;
    let (db, connection) = match tokio_postgres::connect(url, tokio_postgres::NoTls).await {
        Ok(pair) => pair,
        Err(err) => {
            let mut t = tally.lock().unwrap();
            t.failed += 1;
            *t.errors.entry(format!("connect: {err}")).or_default() += 1;
            return;
        }
    };
    tokio::spawn(connection);
    let sql = "SELECT name, current_setting('TimeZone') FROM dk_probe_items WHERE id = $1";
    let mut id = client as i32;
    while Instant::now() < deadline {
        id = id % 100 + 1;
        let result = db.query_typed(sql, &[(&id, Type::INT4)]).await;
        let mut t = tally.lock().unwrap();
        match result {
            Ok(rows) if rows.len() == 1 => {
                t.ok += 1;
                *t.time_zones.entry(rows[0].get::<_, String>(1)).or_default() += 1;
            }
            Ok(rows) => {
                t.failed += 1;
                *t.errors.entry(format!("{} rows", rows.len())).or_default() += 1;
            }
            Err(err) => {
                t.failed += 1;
                *t.errors
                    .entry(without_digits(&err.to_string()))
                    .or_default() += 1;
            }
        }
    }
}

/// Connects diesel-async to `url` through a TLS connector and says whether the session is
/// encrypted. Certificates are not verified, as libpq's `sslmode=require` does not.
async fn tls_session(url: &str) -> String {
    let connector = match native_tls::TlsConnector::builder()
        .danger_accept_invalid_certs(true)
        .build()
    {
        Ok(connector) => postgres_native_tls::MakeTlsConnector::new(connector),
        Err(err) => return format!("TLS setup: {err}"),
    };
    let (client, connection) = match tokio_postgres::connect(url, connector).await {
        Ok(pair) => pair,
        Err(err) => return format!("connect: {err}"),
    };
    let mut conn = match AsyncPgConnection::try_from_client_and_connection(client, connection).await
    {
        Ok(conn) => conn,
        Err(err) => return format!("diesel-async: {err}"),
    };
    let query = diesel::dsl::sql::<diesel::sql_types::Text>(
        "(SELECT CASE WHEN ssl THEN 'encrypted, ' || version ELSE 'not encrypted' END \
         FROM pg_stat_ssl WHERE pid = pg_backend_pid())",
    );
    match diesel::select(query).get_result::<String>(&mut conn).await {
        Ok(state) => state,
        Err(err) => format!("query: {err}"),
    }
}

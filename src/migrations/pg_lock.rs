//! PostgreSQL's migration lock: `pg_advisory_xact_lock` in an open transaction on a second
//! connection, held while the first one migrates. Transaction-scoped, it is released by
//! COMMIT, by ROLLBACK, or when the connection goes away (a crash, a killed process, a
//! pooler closing its server connection), so it can never stay behind; and a
//! transaction-mode pooler (PgBouncer, Neon, Supabase) keeps one server connection for an
//! open transaction, so the lock works through one too. A session lock
//! (`pg_advisory_lock`) through such a pooler lands on a server connection the client does
//! not keep, and stays held there after the client exits.

use crate::error::{Error, Result};
use crate::migrations::ledger::PG_LOCK_KEY;
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, RunQueryDsl};
use std::time::{Duration, Instant};

#[derive(diesel::QueryableByName)]
struct Got {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    got: bool,
}

pub struct PgLock(PgConnection);

impl PgLock {
    /// Take the lock, waiting up to `timeout` (telling `on_wait` once if it has to wait).
    /// A waiting process keeps no transaction open between its attempts, and the holder's
    /// open transaction keeps no snapshot: either would make a `CREATE INDEX
    /// CONCURRENTLY` in the migrations wait for it, which waits for the migrations.
    pub fn acquire(url: &str, timeout: Duration, on_wait: &mut dyn FnMut()) -> Result<PgLock> {
        let mut conn = PgConnection::establish(url)
            .map_err(|e| Error::Migration(format!("cannot open the lock connection: {e}")))?;
        conn.set_prepared_statement_cache_size(diesel::connection::CacheSize::Disabled);
        let start = Instant::now();
        let mut told = false;
        loop {
            conn.batch_execute("BEGIN")?;
            let got = diesel::sql_query(format!(
                "SELECT pg_try_advisory_xact_lock({PG_LOCK_KEY}) AS got"
            ))
            .get_result::<Got>(&mut conn)?
            .got;
            if got {
                // A simple query drops the SELECT's portal and with it its snapshot; and a
                // server-side idle-in-transaction timeout would end the transaction (and
                // the lock) during a long migration.
                conn.batch_execute("SET LOCAL idle_in_transaction_session_timeout = 0")?;
                return Ok(PgLock(conn));
            }
            conn.batch_execute("ROLLBACK")?;
            if !told {
                on_wait();
                told = true;
            }
            if start.elapsed() >= timeout {
                return Err(Error::Migration(format!(
                    "timed out after {}s waiting for the migration lock; another `dieselkit migrate` (or a server migrating at startup) is running against this database (raise the wait with `--lock-timeout`)",
                    timeout.as_secs()
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Release the lock (COMMIT), checking that the transaction was still open.
    pub fn release(mut self) -> Result<()> {
        self.0.batch_execute("COMMIT").map_err(|e| {
            Error::Migration(format!(
                "the migration lock's transaction ended before the migrations did ({e}); check `idle_in_transaction_session_timeout` and the pooler's `idle_transaction_timeout`"
            ))
        })
    }
}

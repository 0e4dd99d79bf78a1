//! The bookkeeping tables. Diesel's `__diesel_schema_migrations` stays the record of what
//! is applied (so `diesel migration run` keeps working on the same database); our side
//! table `__dieselkit_migrations`, which diesel_cli ignores, adds each migration's name
//! and checksum.

use crate::spec::Backend;
use crate::sql::quote_literal;

pub const DIESEL_TABLE: &str = "__diesel_schema_migrations";
pub const SIDE_TABLE: &str = "__dieselkit_migrations";

/// Diesel's own table, as diesel_migrations creates it.
pub fn create_diesel_table() -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {DIESEL_TABLE} (version VARCHAR(50) PRIMARY KEY NOT NULL, run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)"
    )
}

pub fn create_side_table(backend: Backend) -> String {
    let ts = if backend == Backend::Mysql {
        "DATETIME"
    } else {
        "TIMESTAMP"
    };
    format!(
        "CREATE TABLE IF NOT EXISTS {SIDE_TABLE} (version VARCHAR(50) PRIMARY KEY NOT NULL, name VARCHAR(255) NOT NULL, checksum VARCHAR(64) NOT NULL, applied_at {ts} NOT NULL DEFAULT CURRENT_TIMESTAMP, {TEXT_CHECKSUM} VARCHAR(64))"
    )
}

/// The side table's column for the checksum of up.sql's whole text (`--strict`); `checksum`
/// holds the checksum of its code. Side tables created by 0.1 get it added.
pub const TEXT_CHECKSUM: &str = "text_checksum";

pub fn add_text_checksum_column() -> String {
    format!("ALTER TABLE {SIDE_TABLE} ADD COLUMN {TEXT_CHECKSUM} VARCHAR(64)")
}

/// A query with one row when `table` has `column`.
pub fn column_exists_query(table: &str, column: &str, backend: Backend) -> String {
    let (t, c) = (
        quote_literal(table, backend),
        quote_literal(column, backend),
    );
    match backend {
        Backend::Sqlite => format!("SELECT name AS line FROM pragma_table_info({t}) WHERE name = {c}"),
        // pg_attribute, not information_schema (whose views cost milliseconds per query).
        Backend::Postgres => format!("SELECT attname::text AS line FROM pg_attribute WHERE attrelid = to_regclass({t}) AND attname = {c} AND NOT attisdropped"),
        Backend::Mysql => format!("SELECT CAST(column_name AS CHAR) AS line FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = {t} AND column_name = {c}"),
    }
}

/// Statements recording a migration with its checksums (replacing a stale row).
pub fn record(file: &super::source::MigrationFile, backend: Backend) -> Vec<String> {
    vec![
        forget(&file.version, backend),
        format!(
            "INSERT INTO {SIDE_TABLE} (version, name, checksum, {TEXT_CHECKSUM}) VALUES ({}, {}, {}, {})",
            quote_literal(&file.version, backend),
            quote_literal(&file.name, backend),
            quote_literal(&file.checksum, backend),
            quote_literal(&file.text_checksum, backend)
        ),
    ]
}

pub fn forget(version: &str, backend: Backend) -> String {
    format!(
        "DELETE FROM {SIDE_TABLE} WHERE version = {}",
        quote_literal(version, backend)
    )
}

/// What diesel's harness runs around a migration (shown by `--sql`).
pub fn diesel_insert(version: &str, backend: Backend) -> String {
    format!(
        "INSERT INTO {DIESEL_TABLE} (version) VALUES ({})",
        quote_literal(version, backend)
    )
}

pub fn diesel_delete(version: &str, backend: Backend) -> String {
    format!(
        "DELETE FROM {DIESEL_TABLE} WHERE version = {}",
        quote_literal(version, backend)
    )
}

/// A query listing tables named `name` (returns one row `line` per match).
pub fn table_exists_query(name: &str, backend: Backend) -> String {
    let lit = quote_literal(name, backend);
    match backend {
        Backend::Sqlite => format!("SELECT name AS line FROM sqlite_master WHERE type = 'table' AND name = {lit}"),
        Backend::Postgres => format!("SELECT tablename::text AS line FROM pg_tables WHERE schemaname = current_schema() AND tablename = {lit}"),
        Backend::Mysql => format!("SELECT CAST(table_name AS CHAR) AS line FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = {lit}"),
    }
}

/// Applied versions with their run time as text: rows `(a = version, b = run_on)`.
pub fn applied_query(backend: Backend) -> String {
    let cast = if backend == Backend::Mysql {
        "CHAR"
    } else {
        "TEXT"
    };
    format!("SELECT CAST(version AS {cast}) AS a, CAST(run_on AS {cast}) AS b FROM {DIESEL_TABLE}")
}

/// Recorded checksums: rows `(a = version, b = column)`, for `checksum` or
/// [`TEXT_CHECKSUM`].
pub fn checksums_query(column: &str, backend: Backend) -> String {
    let cast = if backend == Backend::Mysql {
        "CHAR"
    } else {
        "TEXT"
    };
    format!("SELECT CAST(version AS {cast}) AS a, CAST({column} AS {cast}) AS b FROM {SIDE_TABLE}")
}

/// The session lock taken before reading the applied list. SQLite has no session locks;
/// there each step runs in an exclusive transaction instead.
pub const PG_LOCK_KEY: i64 = 0x6469_6573_656c_6b69; // "dieselki"

/// Taken (transaction-scoped) by each PostgreSQL migration's own transaction, on the
/// connection that migrates. The lock above lives on a second connection, which dies at
/// once with a killed process, while the migrating backend may still be running its
/// statement; this one keeps the next run waiting until that transaction is gone too.
pub const PG_MIGRATION_KEY: i64 = PG_LOCK_KEY + 1;

pub fn try_lock_query(backend: Backend) -> Option<String> {
    match backend {
        Backend::Postgres => Some(format!(
            "SELECT CASE WHEN pg_try_advisory_lock({PG_LOCK_KEY}) THEN 'yes' ELSE 'no' END AS line"
        )),
        Backend::Mysql => Some(
            "SELECT CASE WHEN GET_LOCK(CONCAT('dieselkit_migrate:', DATABASE()), 0) = 1 THEN 'yes' ELSE 'no' END AS line".into(),
        ),
        Backend::Sqlite => None,
    }
}

pub fn unlock_statement(backend: Backend) -> Option<String> {
    match backend {
        Backend::Postgres => Some(format!("SELECT pg_advisory_unlock({PG_LOCK_KEY})")),
        Backend::Mysql => {
            Some("SELECT RELEASE_LOCK(CONCAT('dieselkit_migrate:', DATABASE()))".into())
        }
        Backend::Sqlite => None,
    }
}

/// Release the session lock, answering `yes` when it was held (MySQL; PostgreSQL's lock is
/// transaction-scoped, see `pg_lock`).
pub fn checked_unlock_query(backend: Backend) -> Option<String> {
    match backend {
        Backend::Postgres => Some(format!(
            "SELECT CASE WHEN pg_advisory_unlock({PG_LOCK_KEY}) THEN 'yes' ELSE 'no' END AS line"
        )),
        Backend::Mysql => Some(
            "SELECT CASE WHEN RELEASE_LOCK(CONCAT('dieselkit_migrate:', DATABASE())) = 1 THEN 'yes' ELSE 'no' END AS line".into(),
        ),
        Backend::Sqlite => None,
    }
}

/// How `--sql` shows taking the lock.
pub fn lock_preview(backend: Backend) -> String {
    match backend {
        Backend::Postgres => format!("SELECT pg_advisory_lock({PG_LOCK_KEY})"),
        Backend::Mysql => "SELECT GET_LOCK(CONCAT('dieselkit_migrate:', DATABASE()), 60)".into(),
        Backend::Sqlite => {
            "-- each migration runs in BEGIN EXCLUSIVE ... COMMIT (SQLite's lock)".into()
        }
    }
}

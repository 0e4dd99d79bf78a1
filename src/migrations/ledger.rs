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
    let ts = crate::dialect::of(backend).timestamp_type();
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
    let dialect = crate::dialect::of(backend);
    dialect.column_exists_query(&dialect.quote(table), &dialect.quote(column))
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
    let dialect = crate::dialect::of(backend);
    dialect.table_exists_query(&dialect.quote(name))
}

/// Applied versions with their run time as text: rows `(a = version, b = run_on)`.
pub fn applied_query(backend: Backend) -> String {
    let cast = crate::dialect::of(backend).text_cast();
    format!("SELECT CAST(version AS {cast}) AS a, CAST(run_on AS {cast}) AS b FROM {DIESEL_TABLE}")
}

/// Recorded checksums: rows `(a = version, b = column)`, for `checksum` or
/// [`TEXT_CHECKSUM`].
pub fn checksums_query(column: &str, backend: Backend) -> String {
    let cast = crate::dialect::of(backend).text_cast();
    format!("SELECT CAST(version AS {cast}) AS a, CAST({column} AS {cast}) AS b FROM {SIDE_TABLE}")
}

/// The session lock taken before reading the applied list (see [`crate::dialect`]).
pub use crate::dialect::{PG_LOCK_KEY, PG_MIGRATION_KEY};

pub fn try_lock_query(backend: Backend) -> Option<String> {
    crate::dialect::of(backend).try_lock_query()
}

pub fn unlock_statement(backend: Backend) -> Option<String> {
    crate::dialect::of(backend).unlock_statement()
}

/// Release the session lock, answering `yes` when it was held (MySQL; PostgreSQL's lock is
/// transaction-scoped, see `pg_lock`).
pub fn checked_unlock_query(backend: Backend) -> Option<String> {
    crate::dialect::of(backend).checked_unlock_query()
}

/// How `--sql` shows taking the lock.
pub fn lock_preview(backend: Backend) -> String {
    crate::dialect::of(backend).lock_preview()
}

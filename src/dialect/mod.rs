//! What differs between the database engines dieselkit speaks to, one file per engine
//! (`sqlite.rs`, `postgres.rs`, `mysql.rs`): how their catalogs are read, how dieselkit's
//! bookkeeping is written and locked, how literals are quoted. The rest of the code asks
//! [`of`]`(backend)` instead of matching on the backend.
//!
//! Adding an engine that speaks one of these protocols but differs (CockroachDB or
//! YugabyteDB for PostgreSQL, TiDB for MySQL) means a new implementation here, usually
//! delegating to the one it resembles; see `DESIGN notes` in the README.
//!
//! Not here yet: SQL rendering of schema changes (`sql/`), type mapping
//! (`migrations/introspect.rs`'s `parse_type`), connections (`migrations/mod.rs`).

mod mysql;
mod postgres;
mod sqlite;

pub use mysql::MAX_INDEX_CHARS as MYSQL_MAX_INDEX_CHARS;

use std::time::Duration;

use crate::schema::{Column, ColumnDefault, SqlType};
use crate::spec::Backend;

/// One database engine. Catalog queries return rows with the column names the typed rows
/// of `migrations::introspect` read; `table` and `column` arguments are SQL literals, quoted
/// with [`Dialect::quote`].
pub trait Dialect: Sync {
    fn backend(&self) -> Backend;

    /// The server's name in messages ("PostgreSQL"); None for an engine whose database is
    /// a file the tool opens itself (SQLite): no server to start, no scratch database to
    /// create on one.
    fn server_name(&self) -> Option<&'static str> {
        None
    }

    /// Whether an index can be built without blocking writes (`CREATE INDEX CONCURRENTLY`,
    /// outside a transaction), so that building one on an existing table deserves a lint.
    fn concurrent_indexes(&self) -> bool {
        false
    }

    /// Whether a foreign key can be added without checking the existing rows under a lock
    /// (`NOT VALID`, then `VALIDATE CONSTRAINT`), so that adding one deserves a lint.
    fn deferred_foreign_key_validation(&self) -> bool {
        false
    }

    /// A literal of the binary type holding one byte.
    fn binary_literal(&self, byte: u8) -> String {
        format!("X'{byte:02x}'")
    }

    /// An INSERT of one row of defaults into `table`.
    fn insert_defaults(&self, table: &str) -> String {
        format!("INSERT INTO {table} DEFAULT VALUES")
    }

    /// `text` as an SQL string literal.
    fn quote(&self, text: &str) -> String {
        format!("'{}'", text.replace('\'', "''"))
    }

    /// The type to `CAST(... AS _)` to for text (`TEXT`; MySQL: `CHAR`).
    fn text_cast(&self) -> &'static str {
        "TEXT"
    }

    // --- catalog ------------------------------------------------------------------------

    /// The application's tables, column `name`: not Diesel's or dieselkit's bookkeeping
    /// tables, not the engine's own, not views.
    fn tables_query(&self) -> &'static str;

    /// One row `line` when table `table` exists.
    fn table_exists_query(&self, table: &str) -> String;

    /// The columns of `table` in order: `name`, `data_type` (with length or precision),
    /// `not_null`, `default_value`, `primary_key`.
    fn columns_query(&self, table: &str) -> String;

    /// One row `line` when `table` has `column`.
    fn column_exists_query(&self, table: &str, column: &str) -> String;

    /// One row per column of each index of `table` (not the primary key's), by index and
    /// position: `index_name`, `is_unique`, `column_name`.
    fn index_columns_query(&self, table: &str) -> String;

    /// The foreign keys of `table`: `name` (NULL when the engine keeps none),
    /// `column_name`, `ref_table`, `ref_column`, `on_delete`.
    fn foreign_keys_query(&self, table: &str) -> String;

    /// A catalog type name (lower case, without its arguments `args`) that means something
    /// of this engine's own (MySQL's `tinyint(1)` is a boolean); `None`: the common reading.
    fn catalog_type(&self, _base: &str, _args: &[u32]) -> Option<SqlType> {
        None
    }

    /// A column default as the catalog prints it, without this engine's decoration
    /// (PostgreSQL's `::type` casts).
    fn strip_default_cast<'a>(&self, default: &'a str) -> &'a str {
        default
    }

    /// The text of a string default as the catalog prints it, with quotes already undoubled
    /// (MySQL also doubles backslashes).
    fn unescape_default(&self, text: String) -> String {
        text
    }

    /// Queries describing the whole schema, one normalized text line (`line`) per column,
    /// index, constraint, trigger and view, for comparing schemas before and after.
    fn schema_dump_queries(&self) -> &'static [&'static str];

    /// The `DATABASE_URL` a new project's `.env` gets: a file next to the project, or a
    /// database named after the crate on a local server (default port and superuser).
    fn default_database_url(&self, crate_name: &str) -> String;

    /// The database to connect to on the same server to create, drop or look for another
    /// one. None for file databases.
    fn maintenance_database(&self) -> Option<&'static str> {
        None
    }

    /// One row `line` when database `name` exists on the server.
    fn database_exists_query(&self, name: &str) -> String {
        let _ = name;
        String::new()
    }

    /// Create database `name` (any name: quoted here) with this engine's settings for a
    /// new project's database.
    fn create_database(&self, name: &str) -> String {
        format!("CREATE DATABASE \"{}\"", name.replace('"', "\"\""))
    }

    /// The URL schemes (lower case, with `://`) of this engine's servers; none for files.
    fn url_schemes(&self) -> &'static [&'static str] {
        &[]
    }

    /// The cargo feature of dieselkit that links this engine's client library, and where a
    /// user gets that library; None when it is always built in.
    fn client(&self) -> Option<(&'static str, &'static str)> {
        None
    }

    /// Drop database `name` (an identifier dieselkit made), even while connected.
    fn drop_database(&self, name: &str) -> String {
        format!("DROP DATABASE IF EXISTS {name}")
    }

    // --- dieselkit's bookkeeping ---------------------------------------------------------

    /// The column type of the side table's `applied_at`.
    fn timestamp_type(&self) -> &'static str {
        "TIMESTAMP"
    }

    /// Take the migration lock without waiting: one row `line`, `yes` or `no`. None when
    /// the engine has no session locks (SQLite: each step runs in an exclusive
    /// transaction instead).
    fn try_lock_query(&self) -> Option<String> {
        None
    }

    /// Release the migration lock.
    fn unlock_statement(&self) -> Option<String> {
        None
    }

    /// Release the migration lock, answering `yes` (row `line`) when it was held.
    fn checked_unlock_query(&self) -> Option<String> {
        None
    }

    /// How `--sql` shows taking the lock.
    fn lock_preview(&self) -> String;

    /// Whether there is no session lock, so that each migration step runs in an exclusive
    /// transaction of its own and reads what is applied again (SQLite). Such an engine
    /// runs a migration that says `run_in_transaction = false` outside that transaction.
    fn locks_each_step(&self) -> bool {
        false
    }

    /// Whether a migration may switch foreign key enforcement off around its own
    /// transaction (SQLite's `PRAGMA foreign_keys = OFF`, for a table rebuild); the engine
    /// then runs it with foreign keys off and checks every reference before committing.
    fn switches_foreign_keys(&self) -> bool {
        false
    }

    /// Whether schema changes take part in transactions: false where each DDL statement
    /// commits by itself (MySQL), so a failed migration leaves its earlier statements
    /// applied, and a retry is safe only when its first statement failed.
    fn transactional_ddl(&self) -> bool {
        true
    }

    /// What a migration runs first, in its transaction (`in_transaction`): PostgreSQL waits
    /// up to `lock_wait` for a killed run's migration that the server is still executing.
    fn migration_preamble(&self, in_transaction: bool, lock_wait: Duration) -> Option<String> {
        let _ = (in_transaction, lock_wait);
        None
    }

    /// The setting that bounds how long one statement waits for a table lock, or None when
    /// it cannot be bounded here (SQLite; PostgreSQL outside a transaction, where a `SET`
    /// would outlive the migration).
    fn lock_wait_setting(&self, timeout: Duration, in_transaction: bool) -> Option<String> {
        let _ = (timeout, in_transaction);
        None
    }

    /// Whether a database error message says a statement gave up waiting for a lock.
    fn is_lock_timeout(&self, message: &str) -> bool {
        let _ = message;
        false
    }

    /// Who holds locks on `table`, one row `line` each, for an error message; None when
    /// the engine cannot tell.
    fn lock_holders_query(&self, table: &str) -> Option<String> {
        let _ = table;
        None
    }

    // --- SQL of schema changes (used by `sql/`) ------------------------------------------

    /// The SQL type of a column of type `ty`.
    fn type_sql(&self, ty: &SqlType) -> String;

    /// The auto-numbered primary key column `name`.
    fn primary_key_sql(&self, name: &str) -> String;

    /// A boolean literal.
    fn bool_literal(&self, value: bool) -> &'static str {
        if value {
            "TRUE"
        } else {
            "FALSE"
        }
    }

    /// The default `literal` (a quoted string) for a column of type `ty`.
    fn text_default(&self, literal: String, ty: &SqlType) -> String {
        let _ = ty;
        literal
    }

    /// The default `CURRENT_DATE` or `CURRENT_TIME`.
    fn current_date_or_time_default(&self, expr: &'static str) -> String {
        expr.into()
    }

    /// What follows a column's definition (MySQL keeps `updated_at` current itself).
    fn column_suffix(&self, column: &Column) -> &'static str {
        let _ = column;
        ""
    }

    /// Column `name` of type `ty` in an index (MySQL indexes a prefix of long values).
    fn index_column(&self, name: &str, ty: Option<&SqlType>) -> String {
        let _ = ty;
        name.into()
    }

    /// Whether `CREATE TABLE` declares its indexes inline (MySQL: so that its foreign keys
    /// use them instead of creating their own).
    fn inline_indexes(&self) -> bool {
        false
    }

    /// What follows `CREATE TABLE (...)`.
    fn table_options(&self) -> &'static str {
        ""
    }

    /// Statements after creating table `table` that has `updated_at`.
    fn manage_updated_at(&self, table: &str) -> Option<String> {
        let _ = table;
        None
    }

    fn drop_index(&self, table: &str, index: &str) -> String {
        let _ = table;
        format!("DROP INDEX {index}")
    }

    fn drop_foreign_key(&self, table: &str, name: &str) -> String {
        format!("ALTER TABLE {table} DROP CONSTRAINT {name}")
    }

    fn rename_table(&self, from: &str, to: &str) -> String {
        format!("ALTER TABLE {from} RENAME TO {to}")
    }

    /// Rename index `old` of `table` to `new`; None when the engine cannot (then it is
    /// dropped and created again).
    fn rename_index(&self, table: &str, old: &str, new: &str) -> Option<String>;

    /// Rename foreign key `old` of `table`: `Some(None)` when the engine keeps no names,
    /// `None` when it cannot (then it is dropped and added again).
    fn rename_foreign_key(&self, table: &str, old: &str, new: &str) -> Option<Option<String>>;

    /// Whether a column's type, nullability or default, or a foreign key, can be changed in
    /// place; SQLite cannot and rebuilds the table.
    fn alters_in_place(&self) -> bool {
        true
    }

    /// Statements making `from` into `to` (same name) in place.
    fn alter_column(&self, table: &str, from: &Column, to: &Column) -> Vec<String>;

    /// Make column `column` (added nullable, then filled) NOT NULL in place.
    fn set_not_null(&self, table: &str, column: &Column) -> String;
}

/// A column default as SQL.
pub(crate) fn default_sql(default: &ColumnDefault, ty: &SqlType, d: &dyn Dialect) -> String {
    match default {
        ColumnDefault::Number(n) => n.clone(),
        ColumnDefault::Bool(b) => d.bool_literal(*b).into(),
        ColumnDefault::Text(t) => d.text_default(d.quote(t), ty),
        ColumnDefault::CurrentTimestamp => "CURRENT_TIMESTAMP".into(),
        ColumnDefault::CurrentDate => d.current_date_or_time_default("CURRENT_DATE"),
        ColumnDefault::CurrentTime => d.current_date_or_time_default("CURRENT_TIME"),
    }
}

/// A column definition in CREATE TABLE / ADD COLUMN.
pub(crate) fn column_sql(column: &Column, d: &dyn Dialect) -> String {
    if column.primary_key {
        return d.primary_key_sql(&column.name);
    }
    let mut sql = format!("{} {}", column.name, d.type_sql(&column.sql_type));
    if !column.nullable {
        sql.push_str(" NOT NULL");
    }
    if let Some(default) = &column.default {
        sql.push_str(" DEFAULT ");
        sql.push_str(&default_sql(default, &column.sql_type, d));
    }
    sql.push_str(d.column_suffix(column));
    sql
}

/// The SQL types every engine names alike.
fn common_type_sql(ty: &SqlType) -> String {
    match ty {
        SqlType::Integer => "INTEGER".into(),
        SqlType::BigInt => "BIGINT".into(),
        SqlType::SmallInt => "SMALLINT".into(),
        SqlType::Bool => "BOOLEAN".into(),
        SqlType::Varchar { max_length } => format!("VARCHAR({max_length})"),
        SqlType::Text => "TEXT".into(),
        SqlType::Date => "DATE".into(),
        SqlType::Time => "TIME".into(),
        SqlType::Timestamp => "TIMESTAMP".into(),
        // Standard names, for a dialect that does not name these itself.
        SqlType::Float => "FLOAT".into(),
        SqlType::Double => "DOUBLE PRECISION".into(),
        SqlType::Decimal { precision, scale } => format!("DECIMAL({precision}, {scale})"),
        SqlType::Timestamptz => "TIMESTAMP WITH TIME ZONE".into(),
        SqlType::Uuid => "CHAR(36)".into(),
        SqlType::Json => "TEXT".into(),
        SqlType::Binary => "BLOB".into(),
    }
}

/// The backend of a database URL: a server's by its scheme, else a SQLite file (`sqlite://`,
/// `file:` or a plain path).
pub fn backend_of_url(url: &str) -> Backend {
    let lower = url.to_ascii_lowercase();
    Backend::ALL
        .into_iter()
        .find(|backend| {
            of(*backend)
                .url_schemes()
                .iter()
                .any(|scheme| lower.starts_with(scheme))
        })
        .unwrap_or(Backend::Sqlite)
}

/// The dialect of `backend`.
pub fn of(backend: Backend) -> &'static dyn Dialect {
    match backend {
        Backend::Sqlite => &sqlite::Sqlite,
        Backend::Postgres => &postgres::Postgres,
        Backend::Mysql => &mysql::Mysql,
    }
}

/// The key of PostgreSQL's migration lock (session-scoped, held by a second connection).
pub const PG_LOCK_KEY: i64 = 0x6469_6573_656c_6b69; // "dieselki"

/// Taken (transaction-scoped) by each PostgreSQL migration's own transaction, on the
/// connection that migrates. The lock above lives on a second connection, which dies at
/// once with a killed process, while the migrating backend may still be running its
/// statement; this one keeps the next run waiting until that transaction is gone too.
pub const PG_MIGRATION_KEY: i64 = PG_LOCK_KEY + 1;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_backend_has_its_dialect() {
        for backend in [Backend::Sqlite, Backend::Postgres, Backend::Mysql] {
            assert_eq!(of(backend).backend(), backend);
        }
        assert_eq!(of(Backend::Mysql).quote(r"a\'b"), r"'a\\''b'");
        assert_eq!(of(Backend::Postgres).quote(r"a\'b"), r"'a\''b'");
    }
}

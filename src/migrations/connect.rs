//! Connections: the one place where a backend becomes a diesel connection type. Opening
//! one (creating a missing server database when asked), statements on a server's
//! maintenance database, and [`engine::Db`] for each connection type. The rest of the
//! migration code holds a [`Conn`], reaches its connection through [`with_conn!`] and asks
//! the dialect for SQL.

use super::{engine, redact};
use crate::dialect::backend_of_url as backend_of;
use crate::error::{Error, Result};
use crate::spec::Backend;
use diesel::migration::Migration;
use diesel::prelude::*;
use diesel::sqlite::SqliteConnection;
use diesel_migrations::MigrationHarness;
use std::path::{Path, PathBuf};

/// An open connection, of the type its backend needs.
pub(super) enum Conn {
    Sqlite(SqliteConnection),
    #[cfg(feature = "postgres")]
    Pg(diesel::PgConnection),
    #[cfg(feature = "mysql")]
    Mysql(diesel::MysqlConnection),
}

/// Run `$body` with `$c` bound to the open connection, whatever its backend.
macro_rules! with_conn {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            $crate::migrations::connect::Conn::Sqlite($c) => $body,
            #[cfg(feature = "postgres")]
            $crate::migrations::connect::Conn::Pg($c) => $body,
            #[cfg(feature = "mysql")]
            $crate::migrations::connect::Conn::Mysql($c) => $body,
        }
    };
}
pub(super) use with_conn;

/// Connects to `url`. A relative SQLite path is relative to `project_dir`; a missing SQLite
/// file or server database is created when `create` (without it, a missing SQLite file
/// opens as an empty in-memory database, so nothing is touched).
pub(super) fn open(url: &str, project_dir: &Path, create: bool) -> Result<Conn> {
    match backend_of(url) {
        Backend::Sqlite => {
            let mut path = sqlite_path(url, project_dir)?;
            if !create && !Path::new(&path).exists() {
                path = ":memory:".into();
            }
            let mut c = SqliteConnection::establish(&path).map_err(|e| connect_error(url, e))?;
            // `Migrator::lock` sets this from its lock timeout.
            diesel::connection::SimpleConnection::batch_execute(
                &mut c,
                "PRAGMA busy_timeout = 60000",
            )
            .map_err(|e| connect_error(url, e))?;
            Ok(Conn::Sqlite(c))
        }
        #[cfg(feature = "postgres")]
        Backend::Postgres => {
            let mut c: diesel::PgConnection = connect_server(url, create)?;
            // Unnamed statements only (diesel sends each with its parameters in one
            // message), so a transaction-mode pooler that hands each transaction another
            // server connection never sees a statement prepared on a different one.
            c.set_prepared_statement_cache_size(diesel::connection::CacheSize::Disabled);
            Ok(Conn::Pg(c))
        }
        #[cfg(feature = "mysql")]
        Backend::Mysql => {
            connect_server(&url.replacen("mariadb://", "mysql://", 1), create).map(Conn::Mysql)
        }
        #[allow(unreachable_patterns)]
        other => Err(not_built_for(other, url)),
    }
}

/// Connects to a server database, creating it first when `create` and the server says it
/// does not exist.
#[cfg(any(feature = "postgres", feature = "mysql"))]
fn connect_server<C: Connection>(url: &str, create: bool) -> Result<C> {
    let failed = match C::establish(url) {
        Ok(c) => return Ok(c),
        Err(e) => e,
    };
    let dialect = crate::dialect::of(backend_of(url));
    let Some((server, name)) = dialect
        .maintenance_database()
        .and_then(|maintenance| replace_database(url, maintenance))
        .filter(|_| create)
    else {
        return Err(connect_error(url, failed));
    };
    if database_missing(url) {
        // Another process may be creating it at the same moment (PostgreSQL then refuses
        // this copy of template1 until that one is done): fine once it is there.
        if let Err(e) = admin_execute(&server, &dialect.create_database(&name)) {
            let appeared = (0..20).any(|_| {
                std::thread::sleep(std::time::Duration::from_millis(100));
                !database_missing(url)
            });
            if !appeared {
                return Err(connect_error(
                    url,
                    format!("cannot create database `{name}`: {e}"),
                ));
            }
        }
    }
    // Created now, by another process meanwhile, or there all along (then the first
    // failure was something else, and this one says what).
    C::establish(url).map_err(|e| connect_error(url, e))
}

/// Whether the server behind `url` answers but has no database of that name. Servers word
/// their errors in their own language (`lc_messages`), so why a connection failed is asked of
/// the server's catalog, not read from the message. False when it cannot tell (SQLite, no
/// access to the server's maintenance database).
pub fn database_missing(url: &str) -> bool {
    let dialect = crate::dialect::of(backend_of(url));
    let Some((server, name)) = dialect
        .maintenance_database()
        .and_then(|maintenance| replace_database(url, maintenance))
    else {
        return false;
    };
    admin_lines(&server, &dialect.database_exists_query(&name)).is_ok_and(|rows| rows.is_empty())
}

/// The rows (`line`) of one query on a server's maintenance database.
fn admin_lines(admin_url: &str, sql: &str) -> Result<Vec<String>> {
    let mut conn = open(admin_url, Path::new(""), false)?;
    with_conn!(&mut conn, c => Ok(engine::Db::lines(c, sql)?))
}

/// Run one statement on a server's maintenance database.
pub(super) fn admin_execute(admin_url: &str, sql: &str) -> Result<()> {
    let mut conn = open(admin_url, Path::new(""), false)?;
    with_conn!(&mut conn, c => Ok(engine::Db::exec(c, sql)?))
}

fn connect_error(url: &str, e: impl std::fmt::Display) -> Error {
    Error::DatabaseConnect {
        url: redact(url),
        message: e.to_string(),
    }
}

/// The error for a URL of a backend this build has no client library for.
#[cfg_attr(all(feature = "postgres", feature = "mysql"), allow(dead_code))]
fn not_built_for(backend: Backend, url: &str) -> Error {
    let (feature, lib) = crate::dialect::of(backend).client().unwrap_or_default();
    Error::usage(format!(
        "`{}` is a {backend} database, but this dieselkit was built without {backend} support; reinstall it from its source with `cargo install --locked --path <dieselkit source> --features {feature}` (or `--features postgres,mysql`; needs {lib})",
        redact(url)
    ))
}

/// The database name of a server URL and the same URL pointing at `other` instead.
pub(super) fn replace_database(url: &str, other: &str) -> Option<(String, String)> {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://")? + 3;
    let slash = base[scheme_end..].find('/')? + scheme_end;
    let name = &base[slash + 1..];
    if name.is_empty() {
        return None;
    }
    let mut replaced = format!("{}/{other}", &base[..slash]);
    if let Some(q) = query {
        replaced.push('?');
        replaced.push_str(q);
    }
    Some((replaced, name.to_string()))
}

/// A SQLite path from a URL: `sqlite://x.db`, `file:x.db` or a plain path. Relative paths
/// are relative to the project directory. The file's directory is created if missing.
fn sqlite_path(url: &str, project_dir: &Path) -> Result<String> {
    if url == ":memory:" {
        return Ok(url.to_string());
    }
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .or_else(|| url.strip_prefix("file:"))
        .unwrap_or(url);
    let path = PathBuf::from(path);
    let full = if path.is_absolute() {
        path
    } else {
        project_dir.join(path)
    };
    if let Some(parent) = full.parent() {
        if !parent.as_os_str().is_empty() && !parent.exists() {
            fs_err::create_dir_all(parent)?;
        }
    }
    Ok(full.to_string_lossy().into_owned())
}

/// Implement [`engine::Db`] for a diesel connection type.
macro_rules! impl_db {
    ($conn:ty, $db:ty, $backend:expr, $($extra:item),* $(,)?) => {
        impl engine::Db for $conn {
            type B = $db;
            fn backend(&self) -> Backend {
                $backend
            }
            fn exec(&mut self, sql: &str) -> diesel::QueryResult<()> {
                diesel::connection::SimpleConnection::batch_execute(self, sql)
            }
            fn lines(&mut self, sql: &str) -> diesel::QueryResult<Vec<String>> {
                let rows: Vec<engine::Line> = diesel::sql_query(sql).load(self)?;
                Ok(rows.into_iter().map(|r| r.line).collect())
            }
            fn load<R: diesel::QueryableByName<$db> + 'static>(
                &mut self,
                sql: &str,
            ) -> diesel::QueryResult<Vec<R>> {
                diesel::sql_query(sql).load(self)
            }
            fn pairs(&mut self, sql: &str) -> diesel::QueryResult<Vec<(String, Option<String>)>> {
                let rows: Vec<engine::Pair> = diesel::sql_query(sql).load(self)?;
                Ok(rows.into_iter().map(|r| (r.a, r.b)).collect())
            }
            fn run_migration(&mut self, m: &dyn Migration<$db>) -> diesel::migration::Result<()> {
                MigrationHarness::run_migration(self, m).map(|_| ())
            }
            fn revert_migration(&mut self, m: &dyn Migration<$db>) -> diesel::migration::Result<()> {
                MigrationHarness::revert_migration(self, m).map(|_| ())
            }
            $($extra)*
        }
    };
}

impl_db!(
    SqliteConnection,
    diesel::sqlite::Sqlite,
    Backend::Sqlite,
    fn locked_step<T>(&mut self, step: &mut dyn FnMut(&mut Self) -> Result<T>) -> Result<T> {
        self.exclusive_transaction(|c| step(c))
    },
    fn set_busy_timeout(&mut self, ms: u64) -> diesel::QueryResult<()> {
        diesel::connection::SimpleConnection::batch_execute(
            self,
            &format!("PRAGMA busy_timeout = {ms}"),
        )
    }
);

#[cfg(feature = "postgres")]
impl_db!(
    diesel::PgConnection,
    diesel::pg::Pg,
    Backend::Postgres,
    fn locked_step<T>(&mut self, step: &mut dyn FnMut(&mut Self) -> Result<T>) -> Result<T> {
        step(self)
    }
);

#[cfg(feature = "mysql")]
impl_db!(
    diesel::MysqlConnection,
    diesel::mysql::Mysql,
    Backend::Mysql,
    fn locked_step<T>(&mut self, step: &mut dyn FnMut(&mut Self) -> Result<T>) -> Result<T> {
        step(self)
    }
);

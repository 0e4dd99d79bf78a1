//! Driving migrations: diesel_migrations' `MigrationHarness` is the engine; this module
//! finds the database, lists migrations with their state and applies or reverts them one
//! at a time so each step is reported.

pub mod dump;
pub mod engine;
pub mod introspect;
pub mod ledger;
#[cfg(feature = "postgres")]
mod pg_lock;
pub mod sample;
pub mod source;
pub mod split;
pub mod verify;

use crate::error::{Error, Result};
use diesel::migration::Migration;
use diesel::prelude::*;
use diesel::sqlite::SqliteConnection;
use diesel_migrations::MigrationHarness;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use engine::RevertLimit;
pub use source::MigrationFile;

/// Where the database URL came from (shown with `-v`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    pub url: String,
    pub source: String,
}

/// `--database-url`, else `MIGRATION_DATABASE_URL`, else `DATABASE_URL`, from the
/// environment first, then from the project's `.env`. Migrations prefer
/// MIGRATION_DATABASE_URL because DATABASE_URL often points at a pooler.
/// `limit` with a `--to` target checked against the files and normalized (written to
/// `slot`, which the returned limit borrows).
fn checked_limit<'a>(
    files: &[MigrationFile],
    limit: RevertLimit<'a>,
    slot: &'a mut String,
) -> Result<RevertLimit<'a>> {
    match limit {
        RevertLimit::To(t) => {
            *slot = check_target(files, t)?;
            let slot: &'a String = slot;
            Ok(RevertLimit::To(slot.as_str()))
        }
        other => Ok(other),
    }
}

pub fn resolve_database_url(flag: Option<&str>, project_dir: &Path) -> Result<DatabaseUrl> {
    if let Some(url) = flag {
        return Ok(DatabaseUrl {
            url: url.to_string(),
            source: "--database-url".into(),
        });
    }
    for var in ["MIGRATION_DATABASE_URL", "DATABASE_URL"] {
        if let Ok(url) = std::env::var(var) {
            if !url.trim().is_empty() {
                return Ok(DatabaseUrl {
                    url,
                    source: format!("environment variable {var}"),
                });
            }
        }
    }
    let env_file = project_dir.join(".env");
    if env_file.is_file() {
        let entries = dotenvy::from_path_iter(&env_file).map_err(|e| Error::ReadFile {
            path: env_file.clone(),
            error: std::io::Error::other(e.to_string()),
        })?;
        let mut found: Vec<(String, String)> = Vec::new();
        for entry in entries {
            let (key, value) = entry.map_err(|e| Error::ReadFile {
                path: env_file.clone(),
                error: std::io::Error::other(e.to_string()),
            })?;
            found.push((key, value));
        }
        for var in ["MIGRATION_DATABASE_URL", "DATABASE_URL"] {
            if let Some((_, url)) = found.iter().find(|(k, v)| k == var && !v.trim().is_empty()) {
                return Ok(DatabaseUrl {
                    url: url.clone(),
                    source: format!("{var} in {}", env_file.display()),
                });
            }
        }
    }
    Err(Error::NoDatabaseUrl { env_file })
}

/// Which backend a URL is for.
pub fn backend_of(url: &str) -> crate::spec::Backend {
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
        crate::spec::Backend::Postgres
    } else if lower.starts_with("mysql://") || lower.starts_with("mariadb://") {
        crate::spec::Backend::Mysql
    } else {
        crate::spec::Backend::Sqlite
    }
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

/// A URL safe to print: the password, if any, replaced by `***`.
pub fn redact(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        if let Some((creds, host)) = rest.rsplit_once('@') {
            if let Some((user, _)) = creds.split_once(':') {
                return format!("{scheme}://{user}:***@{host}");
            }
        }
    }
    url.to_string()
}

/// The database name of a server URL and the same URL pointing at `other` instead.
fn replace_database(url: &str, other: &str) -> Option<(String, String)> {
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

/// Split a server URL into (URL of a maintenance database, database name).
#[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
fn server_and_database(url: &str, maintenance: &str) -> Option<(String, String)> {
    replace_database(url, maintenance)
}

/// A throwaway database for `verify`, dropped when this value is dropped.
pub struct Scratch {
    url: String,
    drop_sql: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl Scratch {
    pub fn create(like: &str) -> Result<Scratch> {
        let backend = backend_of(like);
        if backend == crate::spec::Backend::Sqlite {
            // In memory: nothing to clean up, and no fsync per migration.
            return Ok(Scratch {
                url: ":memory:".into(),
                drop_sql: None,
                _dir: None,
            });
        }
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let name = format!("dk_scratch_{}_{nanos}", std::process::id());
        let dialect = crate::dialect::of(backend);
        let (admin, _) = dialect
            .maintenance_database()
            .and_then(|maintenance| replace_database(like, maintenance))
            .ok_or_else(|| Error::usage(format!("`{}` names no database", redact(like))))?;
        let (url, _) =
            replace_database(like, &name).ok_or_else(|| Error::Internal("scratch url".into()))?;
        let drop = dialect.drop_database(&name);
        admin_execute(&admin, &format!("CREATE DATABASE {name}"))?;
        Ok(Scratch {
            url,
            drop_sql: Some((admin, drop)),
            _dir: None,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Some((admin, sql)) = &self.drop_sql {
            let _ = admin_execute(admin, sql);
        }
    }
}

/// The rows (`line`) of one query on a server's maintenance database.
fn admin_lines(admin_url: &str, sql: &str) -> Result<Vec<String>> {
    match backend_of(admin_url) {
        #[cfg(feature = "postgres")]
        crate::spec::Backend::Postgres => {
            let mut c = diesel::PgConnection::establish(admin_url)
                .map_err(|e| connect_error(admin_url, e))?;
            Ok(engine::Db::lines(&mut c, sql)?)
        }
        #[cfg(feature = "mysql")]
        crate::spec::Backend::Mysql => {
            let url = admin_url.replacen("mariadb://", "mysql://", 1);
            let mut c = diesel::MysqlConnection::establish(&url)
                .map_err(|e| connect_error(admin_url, e))?;
            Ok(engine::Db::lines(&mut c, sql)?)
        }
        other => {
            let _ = sql;
            Err(not_built_for(other, admin_url))
        }
    }
}

/// Run one statement on a server's maintenance database.
fn admin_execute(admin_url: &str, sql: &str) -> Result<()> {
    match backend_of(admin_url) {
        #[cfg(feature = "postgres")]
        crate::spec::Backend::Postgres => {
            let mut c = diesel::PgConnection::establish(admin_url)
                .map_err(|e| connect_error(admin_url, e))?;
            diesel::sql_query(sql).execute(&mut c)?;
            Ok(())
        }
        #[cfg(feature = "mysql")]
        crate::spec::Backend::Mysql => {
            let url = admin_url.replacen("mariadb://", "mysql://", 1);
            let mut c = diesel::MysqlConnection::establish(&url)
                .map_err(|e| connect_error(admin_url, e))?;
            diesel::sql_query(sql).execute(&mut c)?;
            Ok(())
        }
        other => {
            let _ = sql;
            Err(not_built_for(other, admin_url))
        }
    }
}

fn connect_error(url: &str, e: impl std::fmt::Display) -> Error {
    Error::DatabaseConnect {
        url: redact(url),
        message: e.to_string(),
    }
}

fn not_built_for(backend: crate::spec::Backend, url: &str) -> Error {
    let (feature, lib) = match backend {
        crate::spec::Backend::Postgres => ("postgres", "libpq (Debian/Ubuntu: `apt install libpq-dev`; macOS: `brew install libpq`)"),
        _ => ("mysql", "libmysqlclient or libmariadb (Debian/Ubuntu: `apt install libmariadb-dev-compat libmariadb-dev`; macOS: `brew install mysql-client`)"),
    };
    Error::usage(format!(
        "`{}` is a {backend} database, but this dieselkit was built without {backend} support; reinstall it from its source with `cargo install --locked --path <dieselkit source> --features {feature}` (or `--features postgres,mysql`; needs {lib})",
        redact(url)
    ))
}

#[cfg(feature = "postgres")]
fn connect_postgres(url: &str, create: bool) -> Result<diesel::PgConnection> {
    connect_postgres_inner(url, create).map(|mut c| {
        // Unnamed statements only (diesel sends each with its parameters in one message), so
        // a transaction-mode pooler that hands each transaction another server connection
        // never sees a statement prepared on a different one.
        diesel::Connection::set_prepared_statement_cache_size(
            &mut c,
            diesel::connection::CacheSize::Disabled,
        );
        c
    })
}

/// Whether the server behind `url` answers but has no database of that name. Servers word
/// their errors in their own language (`lc_messages`), so why a connection failed is asked of
/// the server's catalog, not read from the message. False when it cannot tell (SQLite, no
/// access to the server's maintenance database).
pub fn database_missing(url: &str) -> bool {
    let dialect = crate::dialect::of(backend_of(url));
    let Some((server, name)) = dialect
        .maintenance_database()
        .and_then(|maintenance| server_and_database(url, maintenance))
    else {
        return false;
    };
    admin_lines(&server, &dialect.database_exists_query(&name)).is_ok_and(|rows| rows.is_empty())
}

#[cfg(feature = "postgres")]
fn connect_postgres_inner(url: &str, create: bool) -> Result<diesel::PgConnection> {
    use diesel::PgConnection;
    let failed = match PgConnection::establish(url) {
        Ok(c) => return Ok(c),
        Err(e) => e,
    };
    let Some((server, name)) = server_and_database(url, "postgres").filter(|_| create) else {
        return Err(connect_error(url, failed));
    };
    if database_missing(url) {
        let mut admin = PgConnection::establish(&server).map_err(|e| connect_error(&server, e))?;
        let created =
            diesel::sql_query(format!("CREATE DATABASE \"{}\"", name.replace('"', "\"\"")))
                .execute(&mut admin);
        // Another process may be creating it at the same moment (PostgreSQL then refuses
        // this copy of template1 until that one is done): fine once it is there.
        if let Err(e) = created {
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
    PgConnection::establish(url).map_err(|e| connect_error(url, e))
}

#[cfg(feature = "mysql")]
fn connect_mysql(url: &str, create: bool) -> Result<diesel::MysqlConnection> {
    use diesel::MysqlConnection;
    let url = url.replacen("mariadb://", "mysql://", 1);
    let failed = match MysqlConnection::establish(&url) {
        Ok(c) => return Ok(c),
        Err(e) => e,
    };
    let Some((server, name)) = server_and_database(&url, "information_schema").filter(|_| create)
    else {
        return Err(connect_error(&url, failed));
    };
    if database_missing(&url) {
        let mut admin =
            MysqlConnection::establish(&server).map_err(|e| connect_error(&server, e))?;
        diesel::sql_query(format!(
            "CREATE DATABASE IF NOT EXISTS `{}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
            name.replace('`', "``")
        ))
        .execute(&mut admin)
        .map_err(|e| connect_error(&url, format!("cannot create database `{name}`: {e}")))?;
    }
    // Created now, by another process meanwhile, or there all along (then the first
    // failure was something else, and this one says what).
    MysqlConnection::establish(&url).map_err(|e| connect_error(&url, e))
}

/// Implement [`engine::Db`] for a diesel connection type.
macro_rules! impl_db {
    ($conn:ty, $db:ty, $backend:expr, $($extra:item),* $(,)?) => {
        impl engine::Db for $conn {
            type B = $db;
            fn backend(&self) -> crate::spec::Backend {
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
    crate::spec::Backend::Sqlite,
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
    crate::spec::Backend::Postgres,
    fn locked_step<T>(&mut self, step: &mut dyn FnMut(&mut Self) -> Result<T>) -> Result<T> {
        step(self)
    }
);

#[cfg(feature = "mysql")]
impl_db!(
    diesel::MysqlConnection,
    diesel::mysql::Mysql,
    crate::spec::Backend::Mysql,
    fn locked_step<T>(&mut self, step: &mut dyn FnMut(&mut Self) -> Result<T>) -> Result<T> {
        step(self)
    }
);

enum Conn {
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
            Conn::Sqlite($c) => $body,
            #[cfg(feature = "postgres")]
            Conn::Pg($c) => $body,
            #[cfg(feature = "mysql")]
            Conn::Mysql($c) => $body,
        }
    };
}

/// An open migration session on one database with one migrations directory.
pub struct Migrator {
    conn: Conn,
    /// The URL it was opened with (a PostgreSQL lock takes a second connection to it).
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    url: String,
    pub migrations_dir: PathBuf,
    pub backend: crate::spec::Backend,
    /// How long to wait for another process's migration lock.
    pub lock_timeout: Duration,
    /// Count any change to an applied migration's text as an edit, not only changes to its
    /// code (`--strict`).
    pub strict: bool,
    /// How long one statement may wait for a table lock (PostgreSQL, MySQL).
    pub ddl_lock_timeout: Duration,
}

/// How an applied migration's file compares with what was recorded when it was applied.
/// Serialized (and printed) in lowercase: `ok`, `edited`, `untracked`, `pending`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChecksumState {
    /// As applied.
    Ok,
    /// The file changed since it was applied.
    Edited,
    /// Applied without dieselkit (no checksum recorded).
    Untracked,
    /// Not applied.
    Pending,
}

impl ChecksumState {
    pub fn as_str(self) -> &'static str {
        match self {
            ChecksumState::Ok => "ok",
            ChecksumState::Edited => "edited",
            ChecksumState::Untracked => "untracked",
            ChecksumState::Pending => "pending",
        }
    }
}

/// One migration, its state and its checksum state.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MigrationState {
    pub name: String,
    pub version: String,
    pub applied: bool,
    pub applied_at: Option<String>,
    pub checksum: ChecksumState,
    /// Pending but older than the newest applied migration.
    pub out_of_order: bool,
}

/// The full picture `status` prints.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Status {
    pub migrations: Vec<MigrationState>,
    /// Applied versions with no migration directory.
    pub missing: Vec<String>,
}

impl Migrator {
    /// Connect to `url` (creating the database if it does not exist) for the migrations
    /// in `project_dir/migrations`.
    pub fn open(url: &str, project_dir: &Path) -> Result<Migrator> {
        Self::open_with(url, project_dir, true)
    }

    /// Like [`Migrator::open`]; with `create` false a missing server database is an error
    /// (used by `--sql`, which must touch nothing).
    pub fn open_with(url: &str, project_dir: &Path, create: bool) -> Result<Migrator> {
        let migrations_dir = project_dir.join("migrations");
        if !migrations_dir.is_dir() {
            return Err(Error::NoMigrations {
                path: migrations_dir,
            });
        }
        let backend = backend_of(url);
        let conn = match backend {
            crate::spec::Backend::Sqlite => {
                let mut path = sqlite_path(url, project_dir)?;
                if !create && !Path::new(&path).exists() {
                    // Nothing is applied to a database that does not exist; don't create it.
                    path = ":memory:".into();
                }
                let mut c =
                    SqliteConnection::establish(&path).map_err(|e| connect_error(url, e))?;
                diesel::connection::SimpleConnection::batch_execute(
                    &mut c,
                    "PRAGMA busy_timeout = 60000",
                )
                .map_err(|e| connect_error(url, e))?;
                Conn::Sqlite(c)
            }
            #[cfg(feature = "postgres")]
            crate::spec::Backend::Postgres => Conn::Pg(connect_postgres(url, create)?),
            #[cfg(feature = "mysql")]
            crate::spec::Backend::Mysql => Conn::Mysql(connect_mysql(url, create)?),
            #[allow(unreachable_patterns)]
            other => return Err(not_built_for(other, url)),
        };
        // SQLite waits this long for a locked file; `lock` resets it from `lock_timeout`.
        Ok(Migrator {
            conn,
            url: url.to_string(),
            migrations_dir,
            backend,
            lock_timeout: Duration::from_secs(60),
            strict: false,
            ddl_lock_timeout: Duration::from_secs(5),
        })
    }

    pub fn files(&self) -> Result<Vec<MigrationFile>> {
        source::load(&self.migrations_dir)
    }

    pub fn applied(&mut self) -> Result<engine::Applied> {
        with_conn!(&mut self.conn, c => engine::read_applied(c))
    }

    pub fn status(&mut self) -> Result<Status> {
        let files = self.files()?;
        let applied = self.applied()?;
        let late = engine::out_of_order(&files, &applied);
        let migrations = files
            .iter()
            .map(|f| {
                let applied_at = applied.versions.get(&f.version).cloned();
                let is_applied = applied_at.is_some();
                MigrationState {
                    name: f.name.clone(),
                    version: f.version.clone(),
                    applied: is_applied,
                    applied_at: applied_at.flatten(),
                    checksum: match (is_applied, applied.checksums.get(&f.version)) {
                        (false, _) => ChecksumState::Pending,
                        (true, None) => ChecksumState::Untracked,
                        (true, Some(_)) if engine::was_edited(f, &applied, self.strict) => {
                            ChecksumState::Edited
                        }
                        (true, Some(_)) => ChecksumState::Ok,
                    },
                    out_of_order: late.contains(&f.name),
                }
            })
            .collect();
        Ok(Status {
            migrations,
            missing: engine::missing(&files, &applied),
        })
    }

    fn lock_options<'a>(&self, on_wait: &'a mut dyn FnMut()) -> engine::LockOptions<'a> {
        engine::LockOptions {
            timeout: self.lock_timeout,
            strict: self.strict,
            held: false,
            ddl_lock_timeout: self.ddl_lock_timeout,
            on_wait,
        }
    }

    /// Run `f` holding the migration lock. On PostgreSQL the lock is transaction-scoped and
    /// held by a second connection (see [`pg_lock`]), so it can never outlive this process
    /// or stay behind in a connection pooler; elsewhere the engine takes it.
    fn locked<T>(
        &mut self,
        on_wait: &mut dyn FnMut(),
        f: &mut dyn FnMut(&mut Conn, &mut engine::LockOptions<'_>) -> Result<T>,
    ) -> Result<T> {
        #[cfg(feature = "postgres")]
        if self.backend == crate::spec::Backend::Postgres {
            let lock = pg_lock::PgLock::acquire(&self.url, self.lock_timeout, on_wait)?;
            let mut opts = self.lock_options(on_wait);
            opts.held = true;
            let result = f(&mut self.conn, &mut opts);
            let released = lock.release();
            return match (result, released) {
                (Ok(v), Ok(())) => Ok(v),
                (Err(e), _) | (Ok(_), Err(e)) => Err(e),
            };
        }
        let mut opts = self.lock_options(on_wait);
        f(&mut self.conn, &mut opts)
    }

    /// Apply pending migrations in version order, up to and including `to` when given.
    pub fn run(
        &mut self,
        to: Option<&str>,
        on_wait: &mut dyn FnMut(),
        on_apply: &mut dyn FnMut(&str),
    ) -> Result<Vec<String>> {
        self.run_at_most(to, None, on_wait, on_apply)
    }

    /// Like [`Migrator::run`], applying at most `number` migrations when given.
    pub fn run_at_most(
        &mut self,
        to: Option<&str>,
        number: Option<usize>,
        on_wait: &mut dyn FnMut(),
        on_apply: &mut dyn FnMut(&str),
    ) -> Result<Vec<String>> {
        let files = self.files()?;
        let target = to.map(|t| check_target(&files, t)).transpose()?;
        self.locked(on_wait, &mut |conn, opts| {
            with_conn!(conn, c => engine::run(c, &files, target.as_deref(), number, opts, on_apply))
        })
    }

    pub fn revert(
        &mut self,
        limit: RevertLimit<'_>,
        on_wait: &mut dyn FnMut(),
        on_revert: &mut dyn FnMut(&str),
    ) -> Result<Vec<String>> {
        let files = self.files()?;
        let mut normalized = String::new();
        let limit = checked_limit(&files, limit, &mut normalized)?;
        self.locked(on_wait, &mut |conn, opts| {
            with_conn!(conn, c => engine::revert(c, &files, limit, opts, on_revert))
        })
    }

    /// Revert the last migrations and apply them again.
    pub fn redo(
        &mut self,
        limit: RevertLimit<'_>,
        on_wait: &mut dyn FnMut(),
        on_step: &mut dyn FnMut(&str, &str),
    ) -> Result<Vec<String>> {
        let reverted = self.revert(limit, on_wait, &mut |n| on_step("Reverting", n))?;
        let Some(last) = reverted.last() else {
            return Ok(vec![]);
        };
        let target = source::version_of(reverted.first().unwrap_or(last));
        // Re-apply exactly up to the newest reverted migration.
        self.run(Some(&target), on_wait, &mut |n| on_step("Applying", n))
    }

    pub fn stamp(
        &mut self,
        to: &str,
        on_wait: &mut dyn FnMut(),
        on_stamp: &mut dyn FnMut(&str, bool),
    ) -> Result<usize> {
        let files = self.files()?;
        let target = check_target(&files, to)?;
        self.locked(on_wait, &mut |conn, opts| {
            with_conn!(conn, c => engine::stamp(c, &files, &target, opts, on_stamp))
        })
    }

    pub fn preview_run(&mut self, to: Option<&str>) -> Result<String> {
        let files = self.files()?;
        let target = to.map(|t| check_target(&files, t)).transpose()?;
        let applied = self.applied()?;
        let exist = with_conn!(&mut self.conn, c => engine::tables_exist(c))?;
        Ok(engine::preview_run(
            self.backend,
            &files,
            &applied,
            target.as_deref(),
            exist,
        ))
    }

    pub fn preview_revert(&mut self, limit: RevertLimit<'_>) -> Result<String> {
        let files = self.files()?;
        let mut normalized = String::new();
        let limit = checked_limit(&files, limit, &mut normalized)?;
        let applied = self.applied()?;
        Ok(engine::preview_revert(
            self.backend,
            &files,
            &applied,
            limit,
        ))
    }

    /// Names of application tables in the database (excluding the bookkeeping tables).
    pub fn table_names(&mut self) -> Result<Vec<String>> {
        with_conn!(&mut self.conn, c => crate::migrations::introspect::table_names(c))
    }

    /// Row counts of the application tables.
    pub fn row_counts(&mut self) -> Result<std::collections::BTreeMap<String, u64>> {
        let cast = crate::dialect::of(self.backend).text_cast();
        let mut counts = std::collections::BTreeMap::new();
        for table in self.table_names()? {
            let query = format!("SELECT CAST(COUNT(*) AS {cast}) AS line FROM {table}");
            let n = with_conn!(&mut self.conn, c => engine::Db::lines(c, &query))?;
            counts.insert(table, n.first().and_then(|n| n.parse().ok()).unwrap_or(0));
        }
        Ok(counts)
    }

    /// Add one sample row to every table (see [`sample`]), starting at number `n`; returns
    /// the tables that refused one, with the reason.
    pub fn add_sample_rows(&mut self, n: &mut u32) -> Result<Vec<String>> {
        let schema = self.introspect()?;
        let mut refused = Vec::new();
        for table in &schema.tables {
            *n += 1;
            let sql = sample::insert(table, self.backend, *n);
            if let Err(e) = with_conn!(&mut self.conn, c => engine::Db::exec(c, &sql)) {
                refused.push(format!("`{}`: {e}", table.name));
            }
        }
        Ok(refused)
    }

    /// The database's schema, read from its catalog.
    pub fn introspect(&mut self) -> Result<crate::schema::Schema> {
        with_conn!(&mut self.conn, c => crate::migrations::introspect::introspect(c))
    }

    /// A normalized description of the schema, one line per column, index, constraint.
    pub fn schema_dump(&mut self) -> Result<Vec<String>> {
        let mut lines = Vec::new();
        for query in dump::queries(self.backend) {
            let mut rows = with_conn!(&mut self.conn, c => engine::Db::lines(c, query))?;
            lines.append(&mut rows);
        }
        lines.sort();
        Ok(lines)
    }
}

/// Versions may be given as `2024-01-15-093000`, `20240115093000` or a directory name.
fn normalize_version(v: &str) -> String {
    let v = v.split('_').next().unwrap_or(v);
    v.chars().filter(|c| c.is_ascii_digit()).collect()
}

/// The normalized version `--to`, `--from` or `stamp` names, if a migration has it.
pub fn check_target(files: &[MigrationFile], target: &str) -> Result<String> {
    let wanted = normalize_version(target);
    if files.iter().any(|f| f.version == wanted) {
        Ok(wanted)
    } else {
        Err(Error::usage(format!(
            "`{target}`: no migration has that version; run `dieselkit migrate status` to list them"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("app.db"), "app.db");
    }

    #[test]
    fn maintenance_urls() {
        assert_eq!(
            server_and_database("postgres://u:p@h:5432/app?sslmode=disable", "postgres"),
            Some((
                "postgres://u:p@h:5432/postgres?sslmode=disable".into(),
                "app".into()
            ))
        );
        assert_eq!(
            server_and_database("mysql://root@h/", "information_schema"),
            None
        );
    }

    #[test]
    fn versions_normalize() {
        assert_eq!(
            normalize_version("2024-01-15-093000_create_x"),
            "20240115093000"
        );
        assert_eq!(normalize_version("20240115093000"), "20240115093000");
    }
}

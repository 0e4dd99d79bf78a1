//! Driving migrations: diesel_migrations' `MigrationHarness` is the engine; this module
//! finds the database, lists migrations with their state and applies or reverts them one
//! at a time so each step is reported.

use crate::error::{Error, Result};
use diesel::migration::{Migration, MigrationSource};
use diesel::prelude::*;
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{FileBasedMigrations, MigrationHarness};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Where the database URL came from (shown with `-v`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    pub url: String,
    pub source: String,
}

/// `--database-url`, else `MIGRATION_DATABASE_URL`, else `DATABASE_URL`, from the
/// environment first, then from the project's `.env`. Migrations prefer
/// MIGRATION_DATABASE_URL because DATABASE_URL often points at a pooler.
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
            source: std::io::Error::other(e.to_string()),
        })?;
        let mut found: Vec<(String, String)> = Vec::new();
        for entry in entries {
            let (key, value) = entry.map_err(|e| Error::ReadFile {
                path: env_file.clone(),
                source: std::io::Error::other(e.to_string()),
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

/// Split a server URL into (URL of a maintenance database, database name).
#[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
fn server_and_database(url: &str, maintenance: &str) -> Option<(String, String)> {
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
    let mut server = format!("{}/{maintenance}", &base[..slash]);
    if let Some(q) = query {
        server.push('?');
        server.push_str(q);
    }
    Some((server, name.to_string()))
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
        "`{}` is a {backend} database, but this dieselkit was built without {backend} support; reinstall with `cargo install dieselkit --features {feature}` (needs {lib})",
        redact(url)
    ))
}

#[cfg(feature = "postgres")]
fn connect_postgres(url: &str) -> Result<diesel::PgConnection> {
    use diesel::PgConnection;
    match PgConnection::establish(url) {
        Ok(c) => Ok(c),
        Err(e) if e.to_string().contains("does not exist") => {
            let (server, name) =
                server_and_database(url, "postgres").ok_or_else(|| connect_error(url, &e))?;
            let mut admin =
                PgConnection::establish(&server).map_err(|e| connect_error(&server, e))?;
            diesel::sql_query(format!("CREATE DATABASE \"{}\"", name.replace('"', "\"\"")))
                .execute(&mut admin)
                .map_err(|e| connect_error(url, format!("cannot create database `{name}`: {e}")))?;
            PgConnection::establish(url).map_err(|e| connect_error(url, e))
        }
        Err(e) => Err(connect_error(url, e)),
    }
}

#[cfg(feature = "mysql")]
fn connect_mysql(url: &str) -> Result<diesel::MysqlConnection> {
    use diesel::MysqlConnection;
    let url = url.replacen("mariadb://", "mysql://", 1);
    match MysqlConnection::establish(&url) {
        Ok(c) => Ok(c),
        Err(e) if e.to_string().contains("Unknown database") => {
            let (server, name) = server_and_database(&url, "information_schema")
                .ok_or_else(|| connect_error(&url, &e))?;
            let mut admin =
                MysqlConnection::establish(&server).map_err(|e| connect_error(&server, e))?;
            diesel::sql_query(format!(
                "CREATE DATABASE IF NOT EXISTS `{}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
                name.replace('`', "``")
            ))
            .execute(&mut admin)
            .map_err(|e| connect_error(&url, format!("cannot create database `{name}`: {e}")))?;
            MysqlConnection::establish(&url).map_err(|e| connect_error(&url, e))
        }
        Err(e) => Err(connect_error(&url, e)),
    }
}

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
    source: FileBasedMigrations,
    pub migrations_dir: PathBuf,
    pub backend: crate::spec::Backend,
}

/// One migration and whether it is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationState {
    pub name: String,
    pub version: String,
    pub applied: bool,
}

/// A failed migration, naming its file. diesel wraps the database message in
/// "Failed to run NAME with: ", which we drop because we name the migration ourselves.
/// How a failed migration leaves the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rollback {
    /// In a transaction on a backend with transactional DDL: nothing was applied.
    Complete,
    /// `run_in_transaction = false`: earlier statements were applied.
    NoTransaction,
    /// MySQL commits DDL implicitly: earlier statements may have been applied.
    ImplicitCommit,
}

fn rollback_of(in_transaction: bool, backend: crate::spec::Backend) -> Rollback {
    match (in_transaction, backend) {
        (false, _) => Rollback::NoTransaction,
        (true, crate::spec::Backend::Mysql) => Rollback::ImplicitCommit,
        (true, _) => Rollback::Complete,
    }
}

fn failure(
    dir: &Path,
    name: &str,
    file: &str,
    rollback: Rollback,
    e: impl std::fmt::Display,
) -> Error {
    let text = e.to_string();
    let message = match text.split_once(" with: ") {
        Some((prefix, rest)) if prefix.starts_with("Failed to run") => rest.to_string(),
        _ => text,
    };
    Error::MigrationFailed {
        name: name.to_string(),
        file: dir.join(name).join(file),
        message: match rollback {
            Rollback::Complete => format!("{message}; the migration was rolled back and its version is not recorded"),
            Rollback::NoTransaction => format!("{message}; this migration runs outside a transaction (metadata.toml), so statements before the failing one were applied and its version is not recorded"),
            Rollback::ImplicitCommit => format!("{message}; MySQL commits schema changes immediately, so statements before the failing one were applied; its version is not recorded"),
        },
    }
}

/// All migrations on disk, sorted by version.
fn on_disk<DB: diesel::backend::Backend>(
    source: &FileBasedMigrations,
    dir: &Path,
) -> Result<Vec<Box<dyn Migration<DB>>>>
where
    FileBasedMigrations: MigrationSource<DB>,
{
    let mut list = MigrationSource::<DB>::migrations(source).map_err(|e| {
        Error::Migration(format!(
            "cannot read migrations in `{}`: {e}",
            dir.display()
        ))
    })?;
    list.sort_by_key(|m| m.name().version().to_string());
    Ok(list)
}

fn applied_versions<DB: diesel::backend::Backend>(
    conn: &mut impl MigrationHarness<DB>,
) -> Result<BTreeSet<String>> {
    let applied = conn
        .applied_migrations()
        .map_err(|e| Error::Migration(format!("cannot read applied migrations: {e}")))?;
    Ok(applied.iter().map(ToString::to_string).collect())
}

fn status_of<DB: diesel::backend::Backend>(
    conn: &mut impl MigrationHarness<DB>,
    source: &FileBasedMigrations,
    dir: &Path,
) -> Result<Vec<MigrationState>>
where
    FileBasedMigrations: MigrationSource<DB>,
{
    let applied = applied_versions(conn)?;
    Ok(on_disk::<DB>(source, dir)?
        .iter()
        .map(|m| {
            let version = m.name().version().to_string();
            MigrationState {
                name: m.name().to_string(),
                applied: applied.contains(&version),
                version,
            }
        })
        .collect())
}

fn run_pending<DB: diesel::backend::Backend>(
    conn: &mut impl MigrationHarness<DB>,
    source: &FileBasedMigrations,
    dir: &Path,
    backend: crate::spec::Backend,
    to: Option<&str>,
    on_apply: &mut dyn FnMut(&str),
) -> Result<Vec<String>>
where
    FileBasedMigrations: MigrationSource<DB>,
{
    let applied = applied_versions(conn)?;
    let all = on_disk::<DB>(source, dir)?;
    let target = match to {
        Some(t) => Some(check_target(
            all.iter().map(|m| m.name().version().to_string()),
            t,
        )?),
        None => None,
    };
    let mut done = Vec::new();
    for m in &all {
        let version = m.name().version().to_string();
        if target.as_ref().is_some_and(|t| version > *t) {
            break;
        }
        if applied.contains(&version) {
            continue;
        }
        let name = m.name().to_string();
        on_apply(&name);
        conn.run_migration(m.as_ref()).map_err(|e| {
            failure(
                dir,
                &name,
                "up.sql",
                rollback_of(m.metadata().run_in_transaction(), backend),
                e,
            )
        })?;
        done.push(name);
    }
    Ok(done)
}

fn revert_applied<DB: diesel::backend::Backend>(
    conn: &mut impl MigrationHarness<DB>,
    source: &FileBasedMigrations,
    dir: &Path,
    backend: crate::spec::Backend,
    n: Option<usize>,
    on_revert: &mut dyn FnMut(&str),
) -> Result<Vec<String>>
where
    FileBasedMigrations: MigrationSource<DB>,
{
    let applied = applied_versions(conn)?;
    let all = on_disk::<DB>(source, dir)?;
    let on_disk_versions: BTreeSet<String> =
        all.iter().map(|m| m.name().version().to_string()).collect();
    let mut to_revert: Vec<&Box<dyn Migration<DB>>> = all
        .iter()
        .filter(|m| applied.contains(&m.name().version().to_string()))
        .collect();
    to_revert.reverse();
    if let Some(n) = n {
        to_revert.truncate(n);
    }
    // An applied version newer than what we would revert, but missing on disk, would be
    // skipped silently and leave the schema inconsistent: refuse instead.
    if let Some(missing) = applied
        .iter()
        .rev()
        .find(|v| !on_disk_versions.contains(*v))
    {
        let oldest_reverted = to_revert.last().map(|m| m.name().version().to_string());
        if oldest_reverted.is_none_or(|o| *missing > o) {
            return Err(Error::Migration(format!(
                "applied migration version {missing} is not in `{}`; restore its directory to revert past it",
                dir.display()
            )));
        }
    }
    let mut done = Vec::new();
    for m in to_revert {
        let name = m.name().to_string();
        on_revert(&name);
        conn.revert_migration(m.as_ref()).map_err(|e| {
            failure(
                dir,
                &name,
                "down.sql",
                rollback_of(m.metadata().run_in_transaction(), backend),
                e,
            )
        })?;
        done.push(name);
    }
    Ok(done)
}

fn reapply<DB: diesel::backend::Backend>(
    conn: &mut impl MigrationHarness<DB>,
    source: &FileBasedMigrations,
    dir: &Path,
    backend: crate::spec::Backend,
    names: &[String],
    on_apply: &mut dyn FnMut(&str),
) -> Result<Vec<String>>
where
    FileBasedMigrations: MigrationSource<DB>,
{
    let all = on_disk::<DB>(source, dir)?;
    let mut again = Vec::new();
    for name in names.iter().rev() {
        if let Some(m) = all.iter().find(|m| m.name().to_string() == *name) {
            on_apply(name);
            conn.run_migration(m.as_ref()).map_err(|e| {
                failure(
                    dir,
                    name,
                    "up.sql",
                    rollback_of(m.metadata().run_in_transaction(), backend),
                    e,
                )
            })?;
            again.push(name.clone());
        }
    }
    Ok(again)
}

#[derive(QueryableByName)]
struct NameRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
}

impl Migrator {
    pub fn open(url: &str, project_dir: &Path) -> Result<Migrator> {
        let migrations_dir = project_dir.join("migrations");
        if !migrations_dir.is_dir() {
            return Err(Error::NoMigrations {
                path: migrations_dir,
            });
        }
        let source = FileBasedMigrations::from_path(&migrations_dir).map_err(|e| {
            Error::Migration(format!("cannot read `{}`: {e}", migrations_dir.display()))
        })?;
        let backend = backend_of(url);
        let conn = match backend {
            crate::spec::Backend::Sqlite => {
                let path = sqlite_path(url, project_dir)?;
                Conn::Sqlite(SqliteConnection::establish(&path).map_err(|e| connect_error(url, e))?)
            }
            #[cfg(feature = "postgres")]
            crate::spec::Backend::Postgres => Conn::Pg(connect_postgres(url)?),
            #[cfg(feature = "mysql")]
            crate::spec::Backend::Mysql => Conn::Mysql(connect_mysql(url)?),
            #[allow(unreachable_patterns)]
            other => return Err(not_built_for(other, url)),
        };
        Ok(Migrator {
            conn,
            source,
            migrations_dir,
            backend,
        })
    }

    pub fn status(&mut self) -> Result<Vec<MigrationState>> {
        with_conn!(&mut self.conn, c => status_of(c, &self.source, &self.migrations_dir))
    }

    /// Apply pending migrations in version order, up to and including `to` when given.
    /// `on_apply` is called before each one.
    pub fn run(&mut self, to: Option<&str>, mut on_apply: impl FnMut(&str)) -> Result<Vec<String>> {
        with_conn!(&mut self.conn, c => run_pending(c, &self.source, &self.migrations_dir, self.backend, to, &mut on_apply))
    }

    /// Revert the `n` most recently applied migrations (all of them when `n` is None).
    pub fn revert(
        &mut self,
        n: Option<usize>,
        mut on_revert: impl FnMut(&str),
    ) -> Result<Vec<String>> {
        with_conn!(&mut self.conn, c => revert_applied(c, &self.source, &self.migrations_dir, self.backend, n, &mut on_revert))
    }

    /// Revert the last `n` migrations and apply them again.
    pub fn redo(
        &mut self,
        n: Option<usize>,
        mut on_step: impl FnMut(&str, &str),
    ) -> Result<Vec<String>> {
        let reverted = self.revert(n, |name| on_step("Reverting", name))?;
        with_conn!(&mut self.conn, c => reapply(c, &self.source, &self.migrations_dir, self.backend, &reverted, &mut |name| on_step("Applying", name)))
    }

    /// Names of application tables in the database (excluding diesel's bookkeeping).
    pub fn table_names(&mut self) -> Result<Vec<String>> {
        let query = match self.backend {
            crate::spec::Backend::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name != '__diesel_schema_migrations' ORDER BY name",
            crate::spec::Backend::Postgres => "SELECT tablename::text AS name FROM pg_tables WHERE schemaname = current_schema() AND tablename != '__diesel_schema_migrations' ORDER BY tablename",
            crate::spec::Backend::Mysql => "SELECT CAST(table_name AS CHAR) AS name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name != '__diesel_schema_migrations' ORDER BY table_name",
        };
        let rows: Vec<NameRow> = with_conn!(&mut self.conn, c => diesel::sql_query(query).load(c))
            .map_err(|e| Error::Migration(e.to_string()))?;
        Ok(rows.into_iter().map(|r| r.name).collect())
    }
}

/// Versions may be given as `2024-01-15-093000`, `20240115093000` or a directory name.
fn normalize_version(v: &str) -> String {
    let v = v.split('_').next().unwrap_or(v);
    v.chars().filter(|c| c.is_ascii_digit()).collect()
}

/// The normalized version `--to` names, if a migration has it.
fn check_target(versions: impl Iterator<Item = String>, target: &str) -> Result<String> {
    let wanted = normalize_version(target);
    if versions.into_iter().any(|v| v == wanted) {
        Ok(wanted)
    } else {
        Err(Error::usage(format!(
            "`--to {target}`: no migration has that version; run `dieselkit migrate status` to list them"
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

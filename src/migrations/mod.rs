//! Driving migrations: diesel_migrations' `MigrationHarness` is the engine; this module
//! finds the database, lists migrations with their state and applies or reverts them one
//! at a time so each step is reported.

mod connect;
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
use connect::{with_conn, Conn};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use crate::dialect::backend_of_url as backend_of;
pub use connect::database_missing;
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

/// A throwaway database for `verify`, dropped when this value is dropped.
pub struct Scratch {
    url: String,
    drop_sql: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl Scratch {
    pub fn create(like: &str) -> Result<Scratch> {
        let dialect = crate::dialect::of(backend_of(like));
        let Some(maintenance) = dialect.maintenance_database() else {
            // A file database: in memory, nothing to clean up, and no fsync per migration.
            return Ok(Scratch {
                url: ":memory:".into(),
                drop_sql: None,
                _dir: None,
            });
        };
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let name = format!("dk_scratch_{}_{nanos}", std::process::id());
        let (admin, _) = connect::replace_database(like, maintenance)
            .ok_or_else(|| Error::usage(format!("`{}` names no database", redact(like))))?;
        let (url, _) = connect::replace_database(like, &name)
            .ok_or_else(|| Error::Internal("scratch url".into()))?;
        let drop = dialect.drop_database(&name);
        connect::admin_execute(&admin, &format!("CREATE DATABASE {name}"))?;
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
            let _ = connect::admin_execute(admin, sql);
        }
    }
}

/// An open migration session on one database with one migrations directory.
pub struct Migrator {
    conn: Conn,
    /// The URL it was opened with (a PostgreSQL lock takes a second connection to it).
    url: String,
    pub migrations_dir: PathBuf,
    /// Migrations not written yet (a new one being tried), run after those on disk.
    pub unwritten: Vec<MigrationFile>,
    /// The migrations on disk, read once (a replay asks for them several times; a
    /// Migrator never writes a migration file).
    on_disk: std::cell::OnceCell<Vec<MigrationFile>>,
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
        let conn = connect::open(url, project_dir, create)?;
        Ok(Migrator {
            conn,
            url: url.to_string(),
            migrations_dir,
            unwritten: Vec::new(),
            on_disk: std::cell::OnceCell::new(),
            backend,
            lock_timeout: Duration::from_secs(60),
            strict: false,
            ddl_lock_timeout: Duration::from_secs(5),
        })
    }

    pub fn files(&self) -> Result<Vec<MigrationFile>> {
        let mut files = match self.on_disk.get() {
            Some(files) => files.clone(),
            None => {
                let files = source::load(&self.migrations_dir)?;
                self.on_disk.get_or_init(|| files).clone()
            }
        };
        files.extend(self.unwritten.iter().cloned());
        files.sort_by(|a, b| a.version.cmp(&b.version));
        Ok(files)
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
            private: self.url == ":memory:",
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
        if matches!(self.conn, Conn::Pg(_)) {
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
            connect::replace_database("postgres://u:p@h:5432/app?sslmode=disable", "postgres"),
            Some((
                "postgres://u:p@h:5432/postgres?sslmode=disable".into(),
                "app".into()
            ))
        );
        assert_eq!(
            connect::replace_database("mysql://root@h/", "information_schema"),
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

//! Driving migrations: diesel_migrations' `MigrationHarness` is the engine; this module
//! finds the database, lists migrations with their state and applies or reverts them one
//! at a time so each step is reported.

use crate::error::{Error, Result};
use diesel::migration::{Migration, MigrationSource, MigrationVersion};
use diesel::prelude::*;
use diesel::sqlite::{Sqlite, SqliteConnection};
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

/// A SQLite path from a URL: `sqlite://x.db`, `file:x.db` or a plain path. Relative paths
/// are relative to the project directory.
fn sqlite_path(url: &str, project_dir: &Path) -> Result<String> {
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("postgres://")
        || lower.starts_with("postgresql://")
        || lower.starts_with("mysql://")
    {
        return Err(Error::usage(format!(
            "`{}` is a server URL, but this version of dieselkit migrates SQLite databases only; use a file path such as `app.db`",
            redact(url)
        )));
    }
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
        if let Some((creds, host)) = rest.split_once('@') {
            if let Some((user, _)) = creds.split_once(':') {
                return format!("{scheme}://{user}:***@{host}");
            }
        }
    }
    url.to_string()
}

/// An open migration session on one database with one migrations directory.
pub struct Migrator {
    conn: SqliteConnection,
    source: FileBasedMigrations,
    pub migrations_dir: PathBuf,
}

/// One migration and whether it is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationState {
    pub name: String,
    pub version: String,
    pub applied: bool,
}

impl Migrator {
    /// A failed migration, naming its file. diesel wraps the database message in
    /// "Failed to run NAME with: ", which we drop because we name the migration ourselves.
    fn failure(
        &self,
        name: &str,
        file: &str,
        in_transaction: bool,
        e: impl std::fmt::Display,
    ) -> Error {
        let text = e.to_string();
        let message = match text.split_once(" with: ") {
            Some((prefix, rest)) if prefix.starts_with("Failed to run") => rest.to_string(),
            _ => text,
        };
        Error::MigrationFailed {
            name: name.to_string(),
            file: self.migrations_dir.join(name).join(file),
            message: if in_transaction {
                format!("{message}; the migration was rolled back and its version is not recorded")
            } else {
                format!("{message}; this migration runs outside a transaction (metadata.toml), so statements before the failing one were applied")
            },
        }
    }
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
        let path = sqlite_path(url, project_dir)?;
        let conn = SqliteConnection::establish(&path).map_err(|e| Error::DatabaseConnect {
            url: redact(url),
            message: e.to_string(),
        })?;
        Ok(Migrator {
            conn,
            source,
            migrations_dir,
        })
    }

    /// All migrations on disk, sorted by version.
    fn on_disk(&self) -> Result<Vec<Box<dyn Migration<Sqlite>>>> {
        let mut list = MigrationSource::<Sqlite>::migrations(&self.source).map_err(|e| {
            Error::Migration(format!(
                "cannot read migrations in `{}`: {e}",
                self.migrations_dir.display()
            ))
        })?;
        list.sort_by_key(|m| m.name().version().to_string());
        Ok(list)
    }

    fn applied_versions(&mut self) -> Result<BTreeSet<String>> {
        let applied = self
            .conn
            .applied_migrations()
            .map_err(|e| Error::Migration(format!("cannot read applied migrations: {e}")))?;
        Ok(applied.iter().map(ToString::to_string).collect())
    }

    pub fn status(&mut self) -> Result<Vec<MigrationState>> {
        let applied = self.applied_versions()?;
        Ok(self
            .on_disk()?
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

    /// Apply pending migrations in version order, up to and including `to` when given.
    /// `on_apply` is called before each one.
    pub fn run(&mut self, to: Option<&str>, mut on_apply: impl FnMut(&str)) -> Result<Vec<String>> {
        let applied = self.applied_versions()?;
        let all = self.on_disk()?;
        if let Some(target) = to {
            check_target(&all, target)?;
        }
        let mut done = Vec::new();
        for m in &all {
            let version = m.name().version().to_string();
            if let Some(target) = to {
                if version.as_str() > normalize_version(target).as_str() {
                    break;
                }
            }
            if applied.contains(&version) {
                continue;
            }
            let name = m.name().to_string();
            on_apply(&name);
            self.conn
                .run_migration(m.as_ref())
                .map_err(|e| self.failure(&name, "up.sql", m.metadata().run_in_transaction(), e))?;
            done.push(name);
        }
        Ok(done)
    }

    /// Revert the `n` most recently applied migrations (all of them when `n` is None).
    pub fn revert(
        &mut self,
        n: Option<usize>,
        mut on_revert: impl FnMut(&str),
    ) -> Result<Vec<String>> {
        let applied = self.applied_versions()?;
        let all = self.on_disk()?;
        let mut to_revert: Vec<&Box<dyn Migration<Sqlite>>> = all
            .iter()
            .filter(|m| applied.contains(&m.name().version().to_string()))
            .collect();
        let missing: Vec<&String> = applied
            .iter()
            .filter(|v| !all.iter().any(|m| m.name().version().to_string() == **v))
            .collect();
        to_revert.reverse();
        if let Some(n) = n {
            to_revert.truncate(n);
        }
        // An applied version newer than everything on disk cannot be reverted from here.
        if let Some(newest_missing) = missing.iter().max() {
            if to_revert
                .first()
                .is_none_or(|m| m.name().version().to_string() < **newest_missing)
            {
                return Err(Error::Migration(format!(
                    "the most recently applied migration (version {newest_missing}) is not in `{}`; restore its directory to revert it",
                    self.migrations_dir.display()
                )));
            }
        }
        let mut done = Vec::new();
        for m in to_revert {
            let name = m.name().to_string();
            on_revert(&name);
            self.conn.revert_migration(m.as_ref()).map_err(|e| {
                self.failure(&name, "down.sql", m.metadata().run_in_transaction(), e)
            })?;
            done.push(name);
        }
        Ok(done)
    }

    /// Revert the last `n` migrations and apply them again.
    pub fn redo(
        &mut self,
        n: Option<usize>,
        mut on_step: impl FnMut(&str, &str),
    ) -> Result<Vec<String>> {
        let reverted = self.revert(n, |name| on_step("Reverting", name))?;
        let all = self.on_disk()?;
        let mut again = Vec::new();
        for name in reverted.iter().rev() {
            if let Some(m) = all.iter().find(|m| m.name().to_string() == *name) {
                on_step("Applying", name);
                self.conn.run_migration(m.as_ref()).map_err(|e| {
                    self.failure(name, "up.sql", m.metadata().run_in_transaction(), e)
                })?;
                again.push(name.clone());
            }
        }
        Ok(again)
    }

    /// Names of user tables in the database (for tests and `status`).
    pub fn table_names(&mut self) -> Result<Vec<String>> {
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::Text)]
            name: String,
        }
        let rows: Vec<Row> = diesel::sql_query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name != '__diesel_schema_migrations' ORDER BY name",
        )
        .load(&mut self.conn)
        .map_err(|e| Error::Migration(e.to_string()))?;
        Ok(rows.into_iter().map(|r| r.name).collect())
    }
}

/// Versions may be given as `2024-01-15-093000`, `20240115093000` or a directory name.
fn normalize_version(v: &str) -> String {
    let v = v.split('_').next().unwrap_or(v);
    v.chars().filter(|c| c.is_ascii_digit()).collect()
}

fn check_target(all: &[Box<dyn Migration<Sqlite>>], target: &str) -> Result<()> {
    let wanted = normalize_version(target);
    if all
        .iter()
        .any(|m| MigrationVersion::to_string(&m.name().version()) == wanted)
    {
        Ok(())
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
    fn versions_normalize() {
        assert_eq!(
            normalize_version("2024-01-15-093000_create_x"),
            "20240115093000"
        );
        assert_eq!(normalize_version("20240115093000"), "20240115093000");
    }
}

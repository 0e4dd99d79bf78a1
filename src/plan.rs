//! The plan of a new project: rendered templates plus the files dieselkit writes itself
//! (the model, schema.rs, the initial migrations from `diff(empty, desired)`).

use crate::diff::{self, Op};
use crate::error::{Error, Result};
use crate::render::{self, PlannedFile};
use crate::schema::{self, Schema};
use crate::spec::Model;
use std::path::{Path, PathBuf};

/// A migration directory to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMigration {
    /// `2024-01-15-093000_create_authors`
    pub dir_name: String,
    pub up: String,
    pub down: String,
    /// metadata.toml, when the migration needs one (SQLite table rebuilds).
    pub metadata: Option<String>,
    /// For migrations generated from a model change: written as `[dieselkit]` in
    /// metadata.toml.
    pub lineage: Option<crate::migrations::source::Lineage>,
}

impl NewMigration {
    /// Its files, with paths under `migrations/`.
    pub fn files(&self) -> Vec<PlannedFile> {
        let dir = Path::new("migrations").join(&self.dir_name);
        let mut files = vec![
            file(dir.join("up.sql"), self.up.as_str()),
            file(dir.join("down.sql"), self.down.as_str()),
        ];
        let lineage = self.lineage.as_ref().map(|l| l.to_toml());
        match (&self.metadata, lineage) {
            (Some(metadata), lineage) => files.push(file(
                dir.join("metadata.toml"),
                format!("{metadata}{}", lineage.unwrap_or_default()),
            )),
            // Diesel reads a metadata.toml without `run_in_transaction` as false: say it.
            (None, Some(lineage)) => files.push(file(
                dir.join("metadata.toml"),
                format!("run_in_transaction = true\n{lineage}"),
            )),
            (None, None) => {}
        }
        files
    }

    /// It as a migration read from `migrations_dir`, without writing it there first.
    pub fn parsed(
        &self,
        migrations_dir: &Path,
    ) -> Result<crate::migrations::source::MigrationFile> {
        let files = self.files();
        let text = |name: &str| {
            files
                .iter()
                .find(|f| f.path.file_name().is_some_and(|n| n == name))
                .map(|f| String::from_utf8_lossy(&f.contents).into_owned())
        };
        crate::migrations::source::parse(
            &migrations_dir.join(&self.dir_name),
            text("up.sql").unwrap_or_default(),
            text("down.sql"),
            text("metadata.toml"),
        )
    }

    /// Write it into the migrations directory `migrations_dir`.
    pub fn write_into(&self, migrations_dir: &Path) -> Result<()> {
        for f in self.files() {
            let target = migrations_dir.join(f.path.strip_prefix("migrations").unwrap_or(&f.path));
            if let Some(dir) = target.parent() {
                fs_err::create_dir_all(dir)?;
            }
            fs_err::write(target, &f.contents)?;
        }
        Ok(())
    }
}

/// Diesel's migration version format, UTC.
pub fn version_string(epoch_seconds: i64) -> String {
    chrono::DateTime::from_timestamp(epoch_seconds, 0)
        .unwrap_or_default()
        .format("%Y-%m-%d-%H%M%S")
        .to_string()
}

/// The clock for generated names: `SOURCE_DATE_EPOCH` when set (reproducible builds),
/// else now.
pub fn generation_epoch() -> Result<i64> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) => v.trim().parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
            Error::usage(format!(
                "`SOURCE_DATE_EPOCH={v}` is not a number of seconds since 1970; unset it or set it to e.g. 1700000000"
            ))
        }),
        Err(_) => Ok(chrono::Utc::now().timestamp()),
    }
}

/// The first migrations of a project: one per table, parents first, versions one second
/// apart starting at `epoch`.
pub fn initial_migrations(model: &Model, epoch: i64) -> Result<Vec<NewMigration>> {
    let desired = schema::from_model(model);
    let ops = diff::diff(&Schema::default(), &desired).map_err(|u| {
        Error::Internal(format!(
            "diff from an empty schema reported unsupported changes: {u:?}"
        ))
    })?;
    let mut migrations = Vec::new();
    if model.backend == crate::spec::Backend::Postgres {
        migrations.push(NewMigration {
            dir_name: crate::sql::POSTGRES_SETUP_DIR.into(),
            up: crate::sql::POSTGRES_SETUP_UP.into(),
            down: crate::sql::POSTGRES_SETUP_DOWN.into(),
            metadata: None,
            lineage: None,
        });
    }
    migrations.extend(ops.iter().enumerate().map(|(i, op)| {
        let crate::sql::MigrationSql { up, down, metadata } =
            crate::sql::migration_sql(std::slice::from_ref(op), model.backend);
        let name = match op {
            Op::CreateTable(t) => format!("create_{}", t.name),
            other => format!("change_{}", other.table()),
        };
        NewMigration {
            dir_name: format!("{}_{name}", version_string(epoch + i as i64)),
            up,
            down,
            metadata,
            lineage: None,
        }
    }));
    Ok(migrations)
}

fn file(path: impl Into<PathBuf>, contents: impl Into<Vec<u8>>) -> PlannedFile {
    PlannedFile {
        path: path.into(),
        contents: contents.into(),
        rendered: None,
    }
}

/// Every file of a new project for `model`, sorted by path.
pub fn new_project(
    model: &Model,
    epoch: i64,
    templates: Option<&Path>,
) -> Result<Vec<PlannedFile>> {
    let mut files = render::render_templates(model, templates)?;
    let desired = schema::from_model(model);
    files.push(file(
        "src/schema.rs",
        schema::rust::render_schema_rs(&desired, model.backend),
    ));
    files.push(file("dieselkit.toml", model.to_toml()));
    for m in initial_migrations(model, epoch)? {
        files.extend(m.files());
    }
    if !files.iter().any(|f| f.path.starts_with("migrations")) {
        // Keep an empty migrations directory in the tree (and in git).
        files.push(file("migrations/.keep", ""));
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let mut seen = std::collections::BTreeSet::new();
    for f in &files {
        if !seen.insert(f.path.clone()) {
            return Err(Error::Template {
                template: f.path.display().to_string(),
                message: "two templates produce the same file; dieselkit writes this file itself, remove the template".into(),
            });
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_follow_diesel_format() {
        assert_eq!(version_string(0), "1970-01-01-000000");
        assert_eq!(version_string(1_700_000_000), "2023-11-14-221320");
    }
}

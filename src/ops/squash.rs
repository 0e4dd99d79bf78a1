//! `dieselkit migrate squash`: the migrations up to a version replaced by one baseline
//! migration that builds the same schema from nothing (written by the diff engine: empty
//! schema → the replayed one), so a long history stays short.
//!
//! The baseline takes the version of the last migration it replaces, so a database that
//! applied that one (Diesel's harness included) finds nothing to do; its metadata.toml lists
//! the other versions it replaces and the checksums recorded for the one whose version it
//! took (`[squash]`, which Diesel ignores), so `dieselkit migrate` accepts it there as applied
//! and unedited. The replaced directories are moved to `.dieselkit/squashed/`, not deleted.

use crate::error::{Error, Result};
use crate::migrations::source::{self, MigrationFile};
use crate::ops::evolve::{self, Replayed};
use crate::plan::NewMigration;
use crate::schema::Schema;
use crate::spec::Backend;
use std::path::{Path, PathBuf};

/// Where the replaced migration directories go.
pub const SQUASHED_DIR: &str = ".dieselkit/squashed";

/// A squash, planned and proven on scratch databases, not yet written.
pub struct Squash {
    /// The baseline migration (its metadata.toml always present: it holds `[squash]`).
    pub baseline: NewMigration,
    /// The migrations it replaces, oldest first.
    pub replaced: Vec<MigrationFile>,
}

/// Statements that write rows (`INSERT ... VALUES`, `UPDATE`, `DELETE`), which a baseline
/// built from the schema does not repeat. dieselkit's own table rebuilds copy rows with
/// `INSERT ... SELECT`, which a fresh database needs no more than the baseline does.
pub fn data_statements(sql: &str) -> Vec<String> {
    let code = source::code_only(sql);
    code.split(';')
        .map(str::trim)
        .filter(|statement| {
            let upper = statement.to_ascii_uppercase();
            let first = upper.split_whitespace().next().unwrap_or_default();
            match first {
                "UPDATE" | "DELETE" => true,
                "INSERT" | "REPLACE" => !upper.contains(" SELECT "),
                _ => false,
            }
        })
        .map(|statement| {
            let short: String = statement.chars().take(80).collect();
            if short.len() < statement.len() {
                format!("{short}...")
            } else {
                short
            }
        })
        .collect()
}

/// Plan the squash of the migrations up to `to` (a version or directory name; default: the
/// newest), and prove on scratch databases that the baseline builds exactly the schema they
/// build. PostgreSQL's Diesel setup migration is kept as it is.
pub fn plan(
    project_dir: &Path,
    backend: Backend,
    server: Option<&str>,
    to: Option<&str>,
    message: &str,
    allow_data: bool,
) -> Result<Squash> {
    let files = source::load(&project_dir.join("migrations"))?;
    let candidates: Vec<&MigrationFile> = files
        .iter()
        .filter(|f| f.name != crate::sql::POSTGRES_SETUP_DIR)
        .collect();
    let last = match to {
        Some(t) => {
            let version = source::version_of(t);
            candidates
                .iter()
                .find(|f| f.version == version)
                .copied()
                .ok_or_else(|| {
                    Error::usage(format!(
                        "`--to {t}`: no migration has that version; `dieselkit migrate status` lists them"
                    ))
                })?
        }
        None => candidates
            .last()
            .copied()
            .ok_or_else(|| Error::usage("there are no migrations to squash".to_string()))?,
    };
    let replaced: Vec<MigrationFile> = candidates
        .into_iter()
        .filter(|f| f.version <= last.version)
        .cloned()
        .collect();
    if replaced.len() < 2 {
        return Err(Error::usage(format!(
            "nothing to squash: `{}` is the only migration up to it",
            last.name
        )));
    }
    if !allow_data {
        let found: Vec<String> = replaced
            .iter()
            .flat_map(|f| {
                data_statements(&f.up)
                    .into_iter()
                    .map(move |s| format!("  - {}/up.sql: {s}", f.name))
            })
            .collect();
        if !found.is_empty() {
            return Err(Error::usage(format!(
                "these migrations write rows, which the baseline (built from the schema alone) would not do on a fresh database:\n{}\nmove that data elsewhere (a seed), squash only up to the migration before, or pass `--allow-data` to drop those statements from history",
                found.join("\n")
            )));
        }
    }
    let schema = Replayed::open_to(project_dir, backend, server, Some(&last.version))?.schema()?;
    let ops = crate::diff::diff(&Schema::default(), &schema).map_err(|problems| {
        Error::Internal(format!(
            "the diff from an empty schema reported unsupported changes: {problems:?}"
        ))
    })?;
    let sql = crate::sql::migration_sql(&ops, backend);
    let prefix = last.name.split('_').next().unwrap_or(&last.name);
    let name = format!("{prefix}_{}", evolve::slug(message));
    let mut replaces: Vec<String> = replaced
        .iter()
        .filter(|f| f.version != last.version)
        .map(|f| f.version.clone())
        .collect();
    let mut checksums = vec![last.checksum.clone(), last.text_checksum.clone()];
    for f in &replaced {
        replaces.extend(f.squash_replaces.iter().cloned());
        if f.version == last.version {
            checksums.extend(f.squash_checksums.iter().cloned());
        }
    }
    replaces.sort();
    replaces.dedup();
    checksums.dedup();
    let list = |items: &[String]| {
        items
            .iter()
            .map(|v| format!("\"{v}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let metadata = format!(
        "run_in_transaction = {}\n\n# Written by `dieselkit migrate squash`: this migration replaces the ones below (and\n# takes the version of the last of them), so a database that applied them needs nothing\n# of it. Diesel ignores this section.\n[squash]\nreplaces = [{}]\nchecksums = [{}]\n",
        sql.metadata.is_none(),
        list(&replaces),
        list(&checksums)
    );
    let squash = Squash {
        baseline: NewMigration {
            dir_name: name,
            up: sql.up,
            down: sql.down,
            metadata: Some(metadata),
            lineage: None,
        },
        replaced,
    };
    // Proof: the baseline (after the setup migration, on PostgreSQL) builds the same schema.
    let trial = tempfile::tempdir()?;
    let dir = trial.path().join("migrations");
    fs_err::create_dir_all(&dir)?;
    if let Some(setup) = files
        .iter()
        .find(|f| f.name == crate::sql::POSTGRES_SETUP_DIR)
    {
        NewMigration {
            dir_name: setup.name.clone(),
            up: setup.up.clone(),
            down: setup.down.clone().unwrap_or_default(),
            metadata: None,
            lineage: None,
        }
        .write_into(&dir)?;
    }
    squash.baseline.write_into(&dir)?;
    let rebuilt = evolve::replay(trial.path(), backend, server)?;
    match crate::diff::diff(&schema, &rebuilt) {
        Ok(ops) if ops.is_empty() => Ok(squash),
        other => Err(Error::Internal(format!(
            "the baseline does not rebuild the schema of the migrations it replaces ({other:?}); nothing was written"
        ))),
    }
}

/// Write the squash: the replaced directories move to `.dieselkit/squashed/`, the
/// baseline takes their place. Returns where the replaced ones went.
pub fn write(project_dir: &Path, squash: &Squash) -> Result<Vec<PathBuf>> {
    let migrations = project_dir.join("migrations");
    // The baseline first, in a directory beside its final place, so a failure leaves the
    // history as it was.
    // (A directory starting with `.` is not read as a migration.)
    let staging = migrations.join(".squash-staging");
    if staging.exists() {
        fs_err::remove_dir_all(&staging)?;
    }
    squash.baseline.write_into(&staging)?;
    let mut moved = Vec::new();
    let aside = project_dir.join(SQUASHED_DIR);
    fs_err::create_dir_all(&aside)?;
    for f in &squash.replaced {
        let target = aside.join(&f.name);
        if target.exists() {
            fs_err::remove_dir_all(&target)?;
        }
        fs_err::rename(&f.dir, &target)?;
        moved.push(Path::new(SQUASHED_DIR).join(&f.name));
    }
    let name = &squash.baseline.dir_name;
    fs_err::rename(staging.join(name), migrations.join(name))?;
    fs_err::remove_dir(&staging)?;
    Ok(moved)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_statements_are_writes_of_rows_not_copies() {
        let sql = "CREATE TABLE a (id INT);\n-- INSERT INTO a VALUES (1);\nINSERT INTO a VALUES (1);\nINSERT INTO \"a_new\" (id) SELECT id FROM a;\nupdate a set id = 2;\nDELETE FROM a;\n";
        let found = data_statements(sql);
        assert_eq!(
            found,
            [
                "INSERT INTO a VALUES (1)",
                "update a set id = 2",
                "DELETE FROM a"
            ]
        );
    }
}

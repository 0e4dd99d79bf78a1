//! `dieselkit generate migration --from-database`: drift made by hand on a live database
//! (a column added in production, an index created there) turned into history: a migration
//! that reproduces it, the matching change to dieselkit.toml, and a record on that database
//! that the migration is applied. Nothing is dropped or reset; drift the model cannot say
//! is refused, listed.

use crate::diff::{Change, Op, Problem, Step};
use crate::error::{Error, Result};
use crate::ops::evolve::{self, FileOutcome};
use crate::plan::NewMigration;
use crate::render::PlannedFile;
use crate::schema::{ColumnDefault, Schema, SqlType};
use crate::spec::{DefaultValue, FieldSpec, FieldType, Model, ProjectFile};
use crate::ui::Ui;
use std::path::Path;

/// The field spec for a column added by hand.
fn field_for(column: &crate::schema::Column) -> FieldSpec {
    let ty = match &column.sql_type {
        SqlType::Integer => FieldType::Int,
        SqlType::BigInt => FieldType::BigInt,
        SqlType::SmallInt => FieldType::SmallInt,
        SqlType::Float => FieldType::Float,
        SqlType::Double => FieldType::Double,
        SqlType::Decimal { precision, scale } => FieldType::Decimal {
            precision: *precision,
            scale: *scale,
        },
        SqlType::Bool => FieldType::Bool,
        SqlType::Varchar { max_length } => FieldType::String {
            max_length: *max_length,
        },
        SqlType::Text => FieldType::Text,
        SqlType::Date => FieldType::Date,
        SqlType::Time => FieldType::Time,
        SqlType::Timestamp => FieldType::Datetime,
        SqlType::Timestamptz => FieldType::Timestamptz,
        SqlType::Uuid => FieldType::Uuid,
        SqlType::Json => FieldType::Json,
        SqlType::Binary => FieldType::Bytes,
    };
    let default = column.default.as_ref().map(|d| match d {
        ColumnDefault::Number(n) => DefaultValue::Number(n.clone()),
        ColumnDefault::Bool(b) => DefaultValue::Bool(*b),
        ColumnDefault::Text(t) => DefaultValue::Text(t.clone()),
        ColumnDefault::CurrentTimestamp
        | ColumnDefault::CurrentDate
        | ColumnDefault::CurrentTime => DefaultValue::Now,
    });
    FieldSpec {
        name: column.name.clone(),
        ty,
        nullable: column.nullable,
        unique: false,
        index: false,
        default,
        renamed_from: None,
        on_delete: None,
    }
}

/// The model file with the drift `ops` (from the replayed schema to the live one) written
/// into its resources; an error listing what the model cannot express.
pub fn adopt_into(file: &ProjectFile, ops: &[Op]) -> Result<ProjectFile> {
    let mut file = file.clone();
    let mut refused = Vec::new();
    let section_of = |file: &mut ProjectFile, table: &str| -> Option<usize> {
        file.resources
            .iter()
            .position(|r| crate::spec::names::plural(&r.name) == table)
    };
    let steps: Vec<Step> = ops.iter().flat_map(Op::steps).collect();
    // Columns first, then the indexes that may belong to them.
    for op in &steps {
        if let Step::Change {
            table,
            change: Change::AddColumn { column, .. },
        } = op
        {
            match section_of(&mut file, table) {
                Some(i) if !["id", "created_at", "updated_at"].contains(&column.name.as_str()) => {
                    file.resources[i].fields.push(field_for(column).to_string());
                }
                _ => refused.push(op.describe()),
            }
        }
    }
    for op in &steps {
        match op {
            Step::Change {
                change: Change::AddColumn { .. },
                ..
            } => {}
            Step::Change {
                table,
                change: Change::CreateIndex(index),
            } => {
                let own = index.columns.len() == 1
                    && index.name == crate::schema::index_name(table, &index.columns);
                if !own {
                    // A hand-named index: the migration creates it; dieselkit keeps such
                    // indexes and never drops them, so the model does not name it.
                    continue;
                }
                let Some(i) = section_of(&mut file, table) else {
                    refused.push(op.describe());
                    continue;
                };
                let mut found = false;
                for spec in &mut file.resources[i].fields {
                    let mut f = FieldSpec::parse(spec)?;
                    if f.column() == index.columns[0] {
                        if index.unique {
                            f.unique = true;
                        } else {
                            f.index = true;
                        }
                        *spec = f.to_string();
                        found = true;
                    }
                }
                if !found {
                    refused.push(op.describe());
                }
            }
            other => refused.push(other.describe()),
        }
    }
    if !refused.is_empty() {
        return Err(Error::usage(format!(
            "the database differs from the migrations in ways dieselkit adopts only by hand (it adopts added columns and indexes; it never drops or resets anything):\n  - {}\nwrite a migration for them with `dieselkit generate migration --empty`, change dieselkit.toml to match, and record it on this database with `dieselkit migrate stamp VERSION`",
            refused.join("\n  - ")
        )));
    }
    Ok(file)
}

/// What still differs between `live` and `desired` (the adopted model's schema), besides
/// indexes the model does not name (kept by dieselkit, never dropped): the changes (none
/// when the adopted model describes the database), or what the diff will not do.
pub fn remaining(live: &Schema, desired: &Schema) -> std::result::Result<Vec<Op>, Vec<Problem>> {
    let hints = crate::diff::Hints {
        allow_drop: true,
        keep_hand_named_indexes: true,
        ..crate::diff::Hints::default()
    };
    crate::diff::diff_with(live, desired, &hints)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Column;

    fn column(sql_type: SqlType, nullable: bool, default: Option<ColumnDefault>) -> Column {
        Column {
            name: "c".into(),
            sql_type,
            nullable,
            primary_key: false,
            default,
        }
    }

    #[test]
    fn columns_become_the_field_specs_that_make_them() {
        for (col, spec) in [
            (
                column(SqlType::Varchar { max_length: 13 }, true, None),
                "c:string(13)?",
            ),
            (
                column(
                    SqlType::Integer,
                    false,
                    Some(ColumnDefault::Number("0".into())),
                ),
                "c:int:default=0",
            ),
            (
                column(
                    SqlType::Decimal {
                        precision: 10,
                        scale: 2,
                    },
                    false,
                    None,
                ),
                "c:decimal(10,2)",
            ),
            (column(SqlType::Timestamp, true, None), "c:datetime?"),
            (
                column(SqlType::Bool, false, Some(ColumnDefault::Bool(true))),
                "c:bool:default=true",
            ),
        ] {
            let field = field_for(&col);
            assert_eq!(field.to_string(), spec);
            assert_eq!(FieldSpec::parse(spec).expect("parses"), field, "{spec}");
        }
    }
}

/// What [`from_database`] did.
#[derive(Debug)]
pub enum Adopted {
    /// The live database matches the migrations.
    Unchanged,
    /// The drift holds changes dieselkit does not make on its own: nothing written.
    Refused(Vec<Problem>),
    /// dieselkit.toml cannot describe the drift exactly: nothing written. What is left
    /// between the database and the adopted model.
    Inexact(std::result::Result<Vec<Step>, Vec<Problem>>),
    /// The model, the generated code and a migration were written, and the migration
    /// `stamped` as applied on the database at `url`.
    Written {
        outcomes: Vec<FileOutcome>,
        stamped: String,
        url: String,
    },
}

/// `dieselkit generate migration --from-database`: the live database's drift from the
/// migrations (columns and indexes added by hand) written into dieselkit.toml, with a
/// migration that makes the same change (tried up and down on a scratch database) and is
/// recorded as applied on the live database, which has it already. `database_url` is the
/// `--database-url` flag (else `DATABASE_URL` and `.env`).
pub fn from_database(
    project_dir: &Path,
    database_url: Option<&str>,
    message: &str,
    fmt: bool,
    ui: &Ui,
) -> Result<Adopted> {
    let (file, model) = evolve::read_model(project_dir)?;
    let url = crate::migrations::resolve_database_url(database_url, project_dir).map_err(|_| {
        Error::usage(
            "`--from-database` reads the drift from a live database: pass `--database-url` or set DATABASE_URL",
        )
    })?;
    let live = {
        let mut m = crate::migrations::Migrator::open_with(&url.url, project_dir, false)?;
        let (files, applied) = (m.files()?, m.applied()?);
        let pending: Vec<&str> = crate::migrations::engine::pending(&files, &applied)
            .into_iter()
            .map(|f| f.name.as_str())
            .collect();
        if !pending.is_empty() {
            return Err(Error::usage(format!(
                "the database has pending migrations ({}); drift is measured on an up-to-date database: run `dieselkit migrate run` first",
                pending.join(", ")
            )));
        }
        m.introspect()?
    };
    ui.status("Replaying", "existing migrations on a scratch database");
    let mut replayed = evolve::Replayed::open(
        project_dir,
        model.backend,
        evolve::server_url(database_url, project_dir, model.backend).as_deref(),
    )?;
    let current = replayed.schema()?;
    let ops = match crate::diff::diff(&current, &live) {
        Ok(ops) => ops,
        Err(problems) => return Ok(Adopted::Refused(problems)),
    };
    if ops.is_empty() {
        return Ok(Adopted::Unchanged);
    }
    for step in ops.iter().flat_map(Op::steps) {
        ui.status("Adopting", step.describe());
    }
    let adopted = adopt_into(&file, &ops)?;
    let new_model = Model::from_file(&adopted)?;
    match remaining(&live, &evolve::desired(&new_model)) {
        Ok(ops) if ops.is_empty() => {}
        Ok(ops) => {
            return Ok(Adopted::Inexact(Ok(ops
                .iter()
                .flat_map(Op::steps)
                .collect())))
        }
        Err(problems) => return Ok(Adopted::Inexact(Err(problems))),
    }
    let version = evolve::next_version(project_dir)?;
    let message = if message.trim().is_empty() {
        "adopt drift"
    } else {
        message
    };
    let parent = evolve::newest_version(project_dir).unwrap_or_default();
    let migrations = evolve::migrations_for(
        &ops,
        model.backend,
        &version,
        message,
        false,
        false,
        &parent,
    )?;
    ui.status(
        "Trying",
        "the migration (up and down) on a scratch database",
    );
    replayed.try_migrations(project_dir, &migrations)?;
    let extra: Vec<PlannedFile> = migrations.iter().flat_map(NewMigration::files).collect();
    let schema_after = crate::diff::apply(&current, &ops);
    let outcomes = evolve::regenerate(project_dir, &new_model, &schema_after, extra, fmt)?;
    let last = migrations
        .last()
        .map(|m| m.dir_name.clone())
        .unwrap_or_default();
    let mut m = crate::migrations::Migrator::open_with(&url.url, project_dir, false)?;
    m.stamp(
        &crate::migrations::source::version_of(&last),
        &mut || {},
        &mut |_, _| {},
    )?;
    Ok(Adopted::Written {
        outcomes,
        stamped: last,
        url: url.url,
    })
}

//! `dieselkit check`: drift between the model, the migrations, schema.rs and the live
//! database. Exit 3 when anything differs, with each difference named.

use super::advice;
use crate::cli::GlobalArgs;
use crate::error::{Error, Result};
use crate::ops::check::{self, Finding};
use crate::spec::Backend;
use crate::ui::Ui;
use serde::Serialize;
use std::path::PathBuf;

/// One difference. `expected` is what the model (or, for the live database, the
/// migrations) says; `actual` what the migrations (or the live database) have.
#[derive(Debug, Serialize, Default)]
struct Drift {
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    table: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    column: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expected: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    actual: Option<String>,
    detail: String,
}

impl Drift {
    fn plain(kind: &'static str, detail: String) -> Drift {
        Drift {
            kind,
            detail,
            ..Drift::default()
        }
    }
}

/// A column as SQL would declare it: type, nullability, default.
fn declared(c: &crate::schema::Column, backend: Backend) -> String {
    let mut text = crate::sql::type_sql(&c.sql_type, backend);
    text.push_str(if c.nullable { " NULL" } else { " NOT NULL" });
    if let Some(d) = &c.default {
        text.push_str(&format!(" DEFAULT {d:?}"));
    }
    text
}

/// What `step` (turning `have` into `want`) says differs, named for a person: "`posts.body`
/// is nullable in the database, NOT NULL in the migrations".
fn drift_of(
    kind: &'static str,
    step: &crate::diff::Step,
    want: &str,
    have: &str,
    backend: Backend,
) -> Drift {
    use crate::diff::{Change, Op, Step};
    let (table, column, expected, actual, what) = match step {
        Step::Change {
            table,
            change: Change::AlterColumn { from, to, .. },
        } => {
            let mut parts = Vec::new();
            if from.sql_type != to.sql_type {
                parts.push(format!(
                    "is {} in {have}, {} in {want}",
                    crate::sql::type_sql(&from.sql_type, backend),
                    crate::sql::type_sql(&to.sql_type, backend)
                ));
            }
            if from.nullable != to.nullable {
                let n = |nullable: bool| if nullable { "nullable" } else { "NOT NULL" };
                parts.push(format!(
                    "is {} in {have}, {} in {want}",
                    n(from.nullable),
                    n(to.nullable)
                ));
            }
            if from.default != to.default {
                let d = |c: &crate::schema::Column| {
                    c.default
                        .as_ref()
                        .map_or("no default".to_string(), |d| format!("default {d:?}"))
                };
                parts.push(format!("has {} in {have}, {} in {want}", d(from), d(to)));
            }
            (
                Some(table.clone()),
                Some(to.name.clone()),
                Some(declared(to, backend)),
                Some(declared(from, backend)),
                format!("`{table}.{}` {}", to.name, parts.join(", and ")),
            )
        }
        Step::Change {
            table,
            change: Change::AddColumn { column, .. },
        } => (
            Some(table.clone()),
            Some(column.name.clone()),
            Some(declared(column, backend)),
            None,
            format!("`{table}.{}` is in {want}, not in {have}", column.name),
        ),
        Step::Change {
            table,
            change: Change::DropColumn { column, .. },
        } => (
            Some(table.clone()),
            Some(column.name.clone()),
            None,
            Some(declared(column, backend)),
            format!("`{table}.{}` is in {have}, not in {want}", column.name),
        ),
        Step::Table(Op::CreateTable(t)) => (
            Some(t.name.clone()),
            None,
            Some("table".into()),
            None,
            format!("table `{}` is in {want}, not in {have}", t.name),
        ),
        Step::Table(Op::DropTable(t)) => (
            Some(t.name.clone()),
            None,
            None,
            Some("table".into()),
            format!("table `{}` is in {have}, not in {want}", t.name),
        ),
        other => (
            Some(other.table().to_string()),
            None,
            None,
            None,
            format!(
                "{want} and {have} differ: `{}` would reconcile them",
                other.describe()
            ),
        ),
    };
    Drift {
        kind,
        table,
        column,
        expected,
        actual,
        detail: what,
    }
}

pub fn run(json: bool, global: &GlobalArgs, ui: &Ui) -> Result<i32> {
    let project_dir = global
        .project_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("."));
    let checked = check::check(&project_dir, global.database_url.as_deref())?;
    let drift: Vec<Drift> = checked
        .findings
        .iter()
        .map(|f| word(f, checked.backend))
        .collect();
    let replayed = !drift.iter().any(|d| d.kind == "migrations-do-not-apply");
    if !checked.live_compared && replayed {
        ui.warn("no database URL, so the live database was not compared (pass `--database-url` or set DATABASE_URL)");
    }
    report(drift, json, ui)
}

/// A finding as `check` reports it: its kind, what differs, and what to do.
fn word(finding: &Finding, backend: Backend) -> Drift {
    let quoted = |items: &[String]| {
        if items.is_empty() {
            "-".to_string()
        } else {
            items
                .iter()
                .map(|l| format!("`{l}`"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    match finding {
        Finding::Colliding {
            earlier,
            later,
            parent,
            overlap,
        } => {
            let after = match parent {
                None => "on an empty history".to_string(),
                Some(parent) => format!("after `{parent}`"),
            };
            Drift {
                kind: "colliding-migrations",
                table: overlap.first().map(|o| o.split('.').next().unwrap_or(o).to_string()),
                detail: format!(
                    "`{earlier}` and `{later}` were both generated {after}, each without the other (merged from two branches?), and both change {}: whichever runs second was written for a schema that is not there (its down.sql restores the wrong state; a SQLite rebuild copies the columns of another time). Settle dieselkit.toml, then run `dieselkit generate migration --rebase`: it sets the merged one aside and writes it again from dieselkit.toml, after the other",
                    overlap.iter().map(|o| format!("`{o}`")).collect::<Vec<_>>().join(", "),
                ),
                ..Drift::default()
            }
        }
        Finding::DoesNotApply(e) => Drift::plain(
            "migrations-do-not-apply",
            format!("the migrations do not apply in order on a scratch database: {e}"),
        ),
        Finding::ModelChange(step) => {
            let mut d = drift_of(
                "model-without-migration",
                step,
                "dieselkit.toml",
                "the migrations",
                backend,
            );
            d.detail = format!(
                "{}; run `dieselkit generate migration -m \"...\"`",
                d.detail
            );
            d
        }
        Finding::ModelProblem(p) => Drift::plain("model-without-migration", advice::problem(p)),
        Finding::SchemaRs { missing, unexpected } => Drift::plain(
            "schema-rs",
            format!(
                "src/schema.rs differs from what the migrations produce (missing: {}; unexpected: {}); regenerate it with `diesel print-schema` after `dieselkit migrate run`, or `dieselkit generate migration`",
                quoted(missing),
                quoted(unexpected)
            ),
        ),
        Finding::SchemaRsMissing(path) => {
            Drift::plain("schema-rs", format!("`{}` is missing", path.display()))
        }
        Finding::Edited {
            dir,
            version,
            checksum,
            applied,
        } => Drift {
            kind: "edited-migration",
            expected: Some(checksum.clone()),
            actual: applied.clone(),
            detail: crate::migrations::engine::edited_advice(dir, version),
            ..Drift::default()
        },
        Finding::OutOfOrder { name, newest } => Drift::plain(
            "out-of-order-migration",
            format!(
                "`{name}` is pending but older than `{newest}`, which this database applied already (merged from another branch?): here it would run after it, on a fresh database before it; run `dieselkit generate migration --rebase` to renumber it after the newest migration"
            ),
        ),
        Finding::Pending(pending) => Drift::plain(
            "pending-migrations",
            format!(
                "the live database has not applied {}; run `dieselkit migrate run`",
                pending.join(", ")
            ),
        ),
        Finding::LiveChange(step) => {
            let mut d = drift_of(
                "live-database",
                step,
                "the database",
                "the migrations",
                backend,
            );
            // Here the migrations are what is expected.
            std::mem::swap(&mut d.expected, &mut d.actual);
            d.detail = format!("{} (a change made by hand?)", d.detail);
            d
        }
        Finding::LiveProblem(p) => Drift::plain("live-database", advice::problem(p)),
    }
}

/// Print the differences (as JSON with `--json`); exit 3 when there are any.
fn report(drift: Vec<Drift>, json: bool, ui: &Ui) -> Result<i32> {
    if json {
        let text = serde_json::to_string_pretty(&serde_json::json!({ "drift": drift }))
            .map_err(|e| Error::Internal(e.to_string()))?;
        ui.data(format!("{text}\n"));
    } else {
        for d in &drift {
            ui.data(format!("{}: {}\n", d.kind, d.detail));
        }
    }
    if drift.is_empty() {
        ui.status("Checked", "model, migrations, schema.rs and database agree");
        Ok(0)
    } else {
        ui.status("Drift", format!("{} difference(s)", drift.len()));
        Ok(crate::error::exit::PROBLEMS)
    }
}

//! `dieselkit check`: drift between the model, the migrations, schema.rs and the live
//! database. Exit 3 when anything differs, with each difference named.

use super::advice;
use crate::cli::GlobalArgs;
use crate::error::{Error, Result};
use crate::evolve;
use crate::migrations::{resolve_database_url, Migrator};
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
    let (_, model) = evolve::read_model(&project_dir)?;
    let url = resolve_database_url(global.database_url.as_deref(), &project_dir).ok();
    let server = crate::dialect::of(model.backend)
        .server_name()
        .and(url.as_ref().map(|u| u.url.clone()));
    // 0. Migrations from two branches that change the same thing without knowing of each
    // other. Before the replay: such a pair may not apply at all.
    let files = crate::migrations::source::load(&project_dir.join("migrations"))?;
    let mut drift: Vec<Drift> = crate::migrations::engine::collisions(&files)
        .iter()
        .map(|c| {
            let after = if c.parent.is_empty() {
                "on an empty history".to_string()
            } else {
                let parent = files.iter().find(|f| f.version == c.parent);
                format!("after `{}`", parent.map_or(c.parent.as_str(), |f| f.name.as_str()))
            };
            Drift {
                kind: "colliding-migrations",
                table: c.overlap.first().map(|o| o.split('.').next().unwrap_or(o).to_string()),
                detail: format!(
                    "`{}` and `{}` were both generated {after}, each without the other (merged from two branches?), and both change {}: whichever runs second was written for a schema that is not there (its down.sql restores the wrong state; a SQLite rebuild copies the columns of another time). Settle dieselkit.toml, then run `dieselkit generate migration --rebase`: it sets the merged one aside and writes it again from dieselkit.toml, after the other",
                    c.earlier.name,
                    c.later.name,
                    c.overlap.iter().map(|o| format!("`{o}`")).collect::<Vec<_>>().join(", "),
                ),
                ..Drift::default()
            }
        })
        .collect();
    let replayed = match evolve::replay(&project_dir, model.backend, server.as_deref()) {
        Ok(replayed) => replayed,
        // The collision explains the failure: report both.
        Err(e) if !drift.is_empty() => {
            drift.push(Drift::plain(
                "migrations-do-not-apply",
                format!("the migrations do not apply in order on a scratch database: {e}"),
            ));
            return report(drift, json, ui);
        }
        Err(e) => return Err(e),
    };

    // 1. The model against the migrations.
    let hints = evolve::hints(&model, &[], true)?;
    match crate::diff::diff_with(&replayed, &evolve::desired(&model), &hints) {
        Ok(ops) => drift.extend(ops.iter().flat_map(crate::diff::Op::steps).map(|op| {
            let mut d = drift_of(
                "model-without-migration",
                &op,
                "dieselkit.toml",
                "the migrations",
                model.backend,
            );
            d.detail = format!(
                "{}; run `dieselkit generate migration -m \"...\"`",
                d.detail
            );
            d
        })),
        Err(problems) => drift.extend(
            problems
                .into_iter()
                .map(|p| Drift::plain("model-without-migration", advice::problem(&p))),
        ),
    }

    // 2. schema.rs against the migrations.
    let schema_rs = project_dir.join("src/schema.rs");
    let expected = crate::schema::rust::render_schema_rs(&replayed, model.backend);
    match fs_err::read_to_string(&schema_rs) {
        Ok(actual) if actual == expected => {}
        Ok(actual) => {
            let missing: Vec<&str> = expected
                .lines()
                .filter(|l| !actual.lines().any(|a| a == *l))
                .collect();
            let extra: Vec<&str> = actual
                .lines()
                .filter(|l| !expected.lines().any(|e| e == *l))
                .collect();
            drift.push(Drift::plain(
                "schema-rs",
                format!(
                    "src/schema.rs differs from what the migrations produce (missing: {}; unexpected: {}); regenerate it with `diesel print-schema` after `dieselkit migrate run`, or `dieselkit generate migration`",
                    if missing.is_empty() { "-".into() } else { missing.iter().map(|l| format!("`{}`", l.trim())).collect::<Vec<_>>().join(", ") },
                    if extra.is_empty() { "-".into() } else { extra.iter().map(|l| format!("`{}`", l.trim())).collect::<Vec<_>>().join(", ") }
                ),
            ));
        }
        Err(_) => drift.push(Drift::plain(
            "schema-rs",
            format!("`{}` is missing", schema_rs.display()),
        )),
    }

    // 3. The live database against the migrations.
    match &url {
        None => ui.warn("no database URL, so the live database was not compared (pass `--database-url` or set DATABASE_URL)"),
        Some(u) => {
            let mut live = Migrator::open_with(&u.url, &project_dir, false)?;
            // What `migrate run` refuses, `check` reports: an applied migration edited since.
            let (files, applied) = (live.files()?, live.applied()?);
            drift.extend(crate::migrations::engine::edited(&files, &applied, false).into_iter().map(|f| Drift {
                kind: "edited-migration",
                expected: Some(f.checksum.clone()),
                actual: applied.checksums.get(&f.version).cloned(),
                detail: crate::migrations::engine::edited_advice(&f.dir, &f.version),
                ..Drift::default()
            }));
            // A pending migration older than one this database applied came in from another
            // branch: here it would run after the newer one, on a fresh database before it.
            let newest = crate::migrations::engine::newest_applied(&files, &applied).unwrap_or_default();
            drift.extend(crate::migrations::engine::out_of_order(&files, &applied).into_iter().map(|name| Drift::plain(
                "out-of-order-migration",
                format!(
                    "`{name}` is pending but older than `{newest}`, which this database applied already (merged from another branch?): here it would run after it, on a fresh database before it; run `dieselkit generate migration --rebase` to renumber it after the newest migration"
                ),
            )));
            let pending: Vec<String> = crate::migrations::engine::pending(&files, &applied).into_iter().map(|f| f.name.clone()).collect();
            if !pending.is_empty() {
                drift.push(Drift::plain(
                    "pending-migrations",
                    format!("the live database has not applied {}; run `dieselkit migrate run`", pending.join(", ")),
                ));
            } else {
                let actual = live.introspect()?;
                match crate::diff::diff(&replayed, &actual) {
                    Ok(ops) => drift.extend(ops.iter().flat_map(crate::diff::Op::steps).map(|op| {
                        let mut d = drift_of("live-database", &op, "the database", "the migrations", model.backend);
                        // Here the migrations are what is expected.
                        std::mem::swap(&mut d.expected, &mut d.actual);
                        d.detail = format!("{} (a change made by hand?)", d.detail);
                        d
                    })),
                    Err(problems) => drift.extend(problems.iter().map(|p| Drift::plain("live-database", advice::problem(p)))),
                }
            }
        }
    }

    report(drift, json, ui)
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

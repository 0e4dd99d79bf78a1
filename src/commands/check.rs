//! `dieselkit check`: drift between the model, the migrations, schema.rs and the live
//! database. Exit 3 when anything differs, with each difference named.

use crate::cli::GlobalArgs;
use crate::error::{Error, Result};
use crate::evolve;
use crate::migrations::{resolve_database_url, Migrator};
use crate::spec::Backend;
use crate::ui::Ui;
use serde::Serialize;
use std::path::PathBuf;

#[derive(Debug, Serialize)]
struct Drift {
    kind: &'static str,
    detail: String,
}

pub fn run(json: bool, global: &GlobalArgs, ui: &Ui) -> Result<i32> {
    let project_dir = global
        .project_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("."));
    let (_, model) = evolve::read_model(&project_dir)?;
    let url = resolve_database_url(global.database_url.as_deref(), &project_dir).ok();
    let server = if model.backend == Backend::Sqlite {
        None
    } else {
        url.as_ref().map(|u| u.url.clone())
    };
    let replayed = evolve::replay(&project_dir, model.backend, server.as_deref())?;
    let mut drift = Vec::new();

    // 1. The model against the migrations.
    let hints = evolve::hints(&model, &[], true)?;
    match crate::diff::diff_with(&replayed, &evolve::desired(&model), &hints) {
        Ok(ops) => drift.extend(ops.iter().map(|op| Drift {
            kind: "model-without-migration",
            detail: format!("dieselkit.toml wants `{}`, but no migration does it; run `dieselkit generate migration -m \"...\"`", op.describe()),
        })),
        Err(problems) => drift.extend(problems.into_iter().map(|p| Drift { kind: "model-without-migration", detail: p.what })),
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
            drift.push(Drift {
                kind: "schema-rs",
                detail: format!(
                    "src/schema.rs differs from what the migrations produce (missing: {}; unexpected: {}); regenerate it with `diesel print-schema` after `dieselkit migrate run`, or `dieselkit generate migration`",
                    if missing.is_empty() { "-".into() } else { missing.iter().map(|l| format!("`{}`", l.trim())).collect::<Vec<_>>().join(", ") },
                    if extra.is_empty() { "-".into() } else { extra.iter().map(|l| format!("`{}`", l.trim())).collect::<Vec<_>>().join(", ") }
                ),
            });
        }
        Err(_) => drift.push(Drift {
            kind: "schema-rs",
            detail: format!("`{}` is missing", schema_rs.display()),
        }),
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
                detail: crate::migrations::engine::edited_advice(f),
            }));
            let pending: Vec<String> = live.status()?.migrations.into_iter().filter(|m| !m.applied).map(|m| m.name).collect();
            if !pending.is_empty() {
                drift.push(Drift {
                    kind: "pending-migrations",
                    detail: format!("the live database has not applied {}; run `dieselkit migrate run`", pending.join(", ")),
                });
            } else {
                let actual = live.introspect()?;
                match crate::diff::diff(&replayed, &actual) {
                    Ok(ops) => drift.extend(ops.iter().map(|op| Drift {
                        kind: "live-database",
                        detail: format!("the live database differs from the migrations: it has `{}` (a change made by hand?)", op.describe()),
                    })),
                    Err(problems) => drift.extend(problems.into_iter().map(|p| Drift { kind: "live-database", detail: p.what })),
                }
            }
        }
    }

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

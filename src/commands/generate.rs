//! `dieselkit generate resource | field | migration`.

use super::advice;
use crate::cli::{EvolveArgs, GenerateCommand, GlobalArgs};
use crate::diff::{Hints, Op, Problem};
use crate::error::{Error, Result};
use crate::ops::adopt::{self, Adopted};
use crate::ops::evolve::{self, FileOutcome};
use crate::ops::rebase;
use crate::plan::NewMigration;
use crate::render::PlannedFile;
use crate::schema::Schema;
use crate::spec::{FieldSpec, Model, ProjectFile, ResourceSection};
use crate::ui::Ui;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

fn ask(question: &str) -> Result<bool> {
    crate::wizard::yes_no(question, false)
}

/// `RESOURCE.FIELD=SQL` (or `FIELD=SQL` when `default_resource` is given).
fn parse_backfills(
    raw: &[String],
    default_resource: Option<&str>,
) -> Result<Vec<(String, String, String)>> {
    raw.iter()
        .map(|b| {
            let (target, expr) = b.split_once('=').ok_or_else(|| {
                Error::usage(format!("`--backfill {b}`: write `RESOURCE.FIELD=SQL`, e.g. `--backfill \"user.timezone='UTC'\"`"))
            })?;
            let (resource, field) = match (target.split_once('.'), default_resource) {
                (Some((r, f)), _) => (r.to_string(), f.to_string()),
                (None, Some(r)) => (r.to_string(), target.to_string()),
                (None, None) => {
                    return Err(Error::usage(format!(
                        "`--backfill {b}`: name the resource too: `--backfill RESOURCE.{target}=SQL`"
                    )))
                }
            };
            if expr.trim().is_empty() {
                return Err(Error::usage(format!("`--backfill {b}`: the SQL expression is empty")));
            }
            Ok((resource, field, expr.to_string()))
        })
        .collect()
}

/// What a `generate` subcommand asks for once its change is in the model file: a migration
/// (named `message`), or nothing more to do (the exit code).
enum Request {
    Migration {
        message: String,
        evolve: EvolveArgs,
        /// The resource `generate resource` / `generate field` named (`--backfill FIELD=SQL`).
        backfill_resource: Option<String>,
        empty: bool,
    },
    Done(i32),
}

/// Apply `cmd` to the model `file` (a new resource, new fields), or run the subcommands
/// that are not a model change (`--rebase`, `--from-database`).
fn request(
    cmd: GenerateCommand,
    file: &mut ProjectFile,
    project_dir: &Path,
    global: &GlobalArgs,
    ui: &Ui,
) -> Result<Request> {
    let (message, evolve, backfill_resource, empty) = match cmd {
        GenerateCommand::Resource {
            name,
            fields,
            evolve,
        } => {
            if file.resources.iter().any(|r| r.name == name) {
                return Err(Error::usage(format!(
                    "resource `{name}` already exists; add fields with `dieselkit generate field {name} FIELD...`"
                )));
            }
            let table = crate::spec::names::plural(&name);
            file.resources.push(ResourceSection {
                name: name.clone(),
                renamed_from: None,
                fields,
            });
            (format!("create {table}"), evolve, Some(name), false)
        }
        GenerateCommand::Field {
            resource,
            fields,
            evolve,
        } => {
            let Some(section) = file.resources.iter_mut().find(|r| r.name == resource) else {
                let known: Vec<String> = file
                    .resources
                    .iter()
                    .map(|r| format!("`{}`", r.name))
                    .collect();
                // `users` (the table) or `Users` for the resource `user`.
                if let Some(r) = file.resources.iter().find(|r| {
                    crate::spec::names::plural(&r.name) == resource.to_ascii_lowercase()
                        || r.name == resource.to_ascii_lowercase()
                }) {
                    return Err(Error::usage(format!(
                        "there is no resource `{resource}`; did you mean `{}` (its table is `{}`)? Resources are named in the singular: `dieselkit generate field {} FIELD...`",
                        r.name,
                        crate::spec::names::plural(&r.name),
                        r.name
                    )));
                }
                return Err(Error::usage(format!(
                    "there is no resource `{resource}` (resources: {}); create it with `dieselkit generate resource {resource} FIELD...`",
                    known.join(", ")
                )));
            };
            let names: Vec<String> = fields
                .iter()
                .map(|f| {
                    FieldSpec::parse(f)
                        .map(|f| f.column())
                        .map_err(|e| e.within(format!("field `{f}`")))
                })
                .collect::<std::result::Result<_, _>>()?;
            section.fields.extend(fields);
            let table = crate::spec::names::plural(&resource);
            (
                format!("add {} to {table}", names.join(" and ")),
                evolve,
                Some(resource),
                false,
            )
        }
        GenerateCommand::Migration {
            rebase: true,
            evolve,
            ..
        } => match rebase(project_dir, global, ui)? {
            None => return Ok(Request::Done(0)),
            // A colliding migration was set aside: write it again from the merged model.
            Some(message) => (message, evolve, None, false),
        },
        GenerateCommand::Migration {
            from_database: true,
            message,
            evolve,
            ..
        } => {
            let fmt = crate::format::wanted(evolve.fmt, evolve.no_fmt, ui);
            let code = adopt(project_dir, &message.unwrap_or_default(), fmt, global, ui)?;
            return Ok(Request::Done(code));
        }
        GenerateCommand::Migration {
            message,
            empty,
            evolve,
            ..
        } => (message.unwrap_or_default(), evolve, None, empty),
    };
    Ok(Request::Migration {
        message,
        evolve,
        backfill_resource,
        empty,
    })
}

/// The changes from `current` to the model, asking in a terminal whether a dropped table or
/// column is a renamed one (and recording the answer in `file` and `hints`).
fn diff_asking_about_renames(
    current: &Schema,
    model: &mut Model,
    file: &mut ProjectFile,
    hints: &mut Hints,
) -> Result<Vec<Op>> {
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    loop {
        let problems = match crate::diff::diff_with(current, &evolve::desired(model), hints) {
            Ok(ops) => return Ok(ops),
            Err(problems) => problems,
        };
        if !interactive || problems.iter().all(|p| p.rename_candidate().is_none()) {
            return Err(Error::usage(format!(
                "cannot generate this migration yet:\n{}",
                advice::list(&problems)
            )));
        }
        for p in &problems {
            match p {
                Problem::DropTable { table, rename_candidate: Some(new) } => {
                    if ask(&format!("Is table `{new}` the table `{table}` renamed? (no: `{table}` is dropped with all its rows)"))? {
                        hints.renamed_tables.push((table.clone(), new.clone()));
                        evolve::record_table_rename(file, table, new)?;
                    } else if ask(&format!("Drop table `{table}` and all its rows?"))? {
                        hints.allow_drop = true;
                    } else {
                        return Err(Error::Aborted);
                    }
                }
                Problem::DropColumn { table, column, rename_candidate: Some(new) } => {
                    if ask(&format!("In `{table}`, is `{new}` the column `{column}` renamed? (no: `{column}` is dropped with its data)"))? {
                        hints.renamed_columns.push((table.clone(), column.clone(), new.clone()));
                        evolve::record_column_rename(file, table, column, new)?;
                    } else if ask(&format!("Drop column `{table}.{column}` and all its data?"))? {
                        hints.allow_drop = true;
                    } else {
                        return Err(Error::Aborted);
                    }
                }
                _ => {}
            }
        }
        *model = Model::from_file(file)?;
    }
}

pub fn run(cmd: GenerateCommand, global: &GlobalArgs, ui: &Ui) -> Result<i32> {
    let project_dir = global
        .project_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("."));
    evolve::refuse_0_1_layout(&project_dir)?;
    let (mut file, _) = evolve::read_model(&project_dir)?;
    let (message, evolve_args, backfill_resource, empty) =
        match request(cmd, &mut file, &project_dir, global, ui)? {
            Request::Done(code) => return Ok(code),
            Request::Migration {
                message,
                evolve,
                backfill_resource,
                empty,
            } => (message, evolve, backfill_resource, empty),
        };
    let mut model = Model::from_file(&file)?;
    if evolve_args.concurrently && !crate::dialect::of(model.backend).concurrent_indexes() {
        return Err(Error::usage(format!(
            "`--concurrently` is for PostgreSQL (CREATE INDEX CONCURRENTLY); this project is on {}",
            model.backend
        )));
    }
    let version = evolve::next_version(&project_dir)?;
    let fmt = crate::format::wanted(evolve_args.fmt, evolve_args.no_fmt, ui);

    let (migrations, schema_after, replayed) = if empty {
        let current = evolve::replay(
            &project_dir,
            model.backend,
            evolve::server_url(global.database_url.as_deref(), &project_dir, model.backend)
                .as_deref(),
        )?;
        (
            vec![NewMigration {
                dir_name: format!("{version}_{}", evolve::slug(&message)),
                up: "-- Your SQL here. dieselkit never regenerates this file.\n".into(),
                down: "-- SQL that undoes up.sql.\n".into(),
                metadata: None,
                lineage: None,
            }],
            current,
            None,
        )
    } else {
        let backfills = parse_backfills(&evolve_args.backfill, backfill_resource.as_deref())?;
        let mut hints = evolve::hints(&model, &backfills, evolve_args.allow_drop)?;
        ui.status("Replaying", "existing migrations on a scratch database");
        let mut replayed = evolve::Replayed::open(
            &project_dir,
            model.backend,
            evolve::server_url(global.database_url.as_deref(), &project_dir, model.backend)
                .as_deref(),
        )?;
        let current = replayed.schema()?;
        let ops = diff_asking_about_renames(&current, &mut model, &mut file, &mut hints)?;
        if ops.is_empty() {
            ui.status(
                "Unchanged",
                "the model matches the schema the migrations produce; no migration written",
            );
            // The generated code may still lag (a merge brought in a migration and its model
            // change, but not the regenerated files): bring it up to date.
            drop(replayed);
            let outcomes = evolve::regenerate(&project_dir, &model, &current, Vec::new(), fmt)?;
            report_outcomes(&outcomes, ui);
            return Ok(0);
        }
        for op in ops.iter().flat_map(crate::diff::Op::steps) {
            ui.status(
                if op.is_destructive() {
                    "Destructive"
                } else {
                    "Change"
                },
                op.describe(),
            );
        }
        (
            evolve::migrations_for(
                &ops,
                model.backend,
                &version,
                &message,
                evolve_args.allow_drop,
                evolve_args.concurrently,
                &evolve::newest_version(&project_dir).unwrap_or_default(),
            )?,
            crate::diff::apply(&current, &ops),
            Some(replayed),
        )
    };

    if let Some(replayed) = replayed {
        ui.status(
            "Trying",
            "the new migration (up and down) on a scratch database",
        );
        replayed.try_migrations(&project_dir, &migrations)?;
    }
    let extra: Vec<PlannedFile> = migrations.iter().flat_map(NewMigration::files).collect();
    let outcomes = evolve::regenerate(&project_dir, &model, &schema_after, extra, fmt)?;
    report_outcomes(&outcomes, ui);
    for migration in &migrations {
        let dir = Path::new("migrations").join(&migration.dir_name);
        if !global.quiet {
            ui.data(format!("-- {}/up.sql\n{}", dir.display(), migration.up));
        }
        if let Ok(m) = migration.parsed(&project_dir.join("migrations")) {
            let findings = crate::lint::lint_migration(&m, model.backend);
            if !findings.is_empty() {
                ui.warn(format!(
                    "lint findings for the new migration:\n{}",
                    crate::lint::render(&findings).trim_end()
                ));
            }
        }
    }
    ui.note("\nNext: review the SQL, then `dieselkit migrate run` and `cargo test`.");
    Ok(0)
}

/// One line per file written, removed or set aside, the warnings last.
pub fn report_outcomes(outcomes: &[FileOutcome], ui: &Ui) {
    for o in outcomes {
        match o {
            FileOutcome::Created(p) => ui.status("Created", p.display().to_string()),
            FileOutcome::Updated(p) => ui.status("Updated", p.display().to_string()),
            FileOutcome::Removed(p) => ui.status("Removed", p.display().to_string()),
            FileOutcome::Added { path, what } => ui.status(
                "Updated",
                format!("{} (added {})", path.display(), what.join(", ")),
            ),
            FileOutcome::Merged(p) => ui.status(
                "Merged",
                format!("{} (the template's changes and yours)", p.display()),
            ),
            FileOutcome::RewroteEdited { .. }
            | FileOutcome::KeptOrphan(_)
            | FileOutcome::MovedAside { .. }
            | FileOutcome::Conflicted(_) => {}
        }
    }
    for o in outcomes {
        match o {
            FileOutcome::RewroteEdited { path, saved } => ui.warn(format!(
                "`{}` is dieselkit's (rewritten by every `generate`) but had been edited; your version is saved as `{}`: move your changes to your own files (see the README, \"Your code\")",
                path.display(),
                saved.display()
            )),
            FileOutcome::KeptOrphan(p) => ui.warn(format!(
                "`{}` is yours and belonged to a resource that is gone; it was kept, but nothing compiles it any more: move what you need and delete it",
                p.display()
            )),
            FileOutcome::Conflicted(p) => ui.warn(format!(
                "`{}`: the template and you changed the same lines; resolve the conflict markers (<<<<<<< ours = yours, >>>>>>> theirs = the new template)",
                p.display()
            )),
            FileOutcome::MovedAside { path, saved } => ui.warn(format!(
                "`{}` mixed generated code with your edits; it is saved as `{}`: port your edits to your files (see the README, \"Upgrading a 0.1 project\")",
                path.display(),
                saved.display()
            )),
            _ => {}
        }
    }
}

/// The flags of `dieselkit update`.
pub struct UpdateArgs {
    pub fmt: bool,
    pub no_fmt: bool,
    pub check: bool,
    pub dry_run: bool,
    pub templates: Option<PathBuf>,
}

/// `dieselkit update`. With `--check` or `--dry-run` the update runs on a copy of the
/// project, so what is reported is exactly what it would do, and nothing is written.
pub fn update(args: UpdateArgs, global: &GlobalArgs, ui: &Ui) -> Result<i32> {
    let project_dir = global
        .project_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("."));
    let fmt = crate::format::wanted(args.fmt, args.no_fmt, ui);
    if !(args.check || args.dry_run) {
        let outcomes = evolve::update(&project_dir, fmt, args.templates.as_deref())?;
        report_outcomes(&outcomes, ui);
        if outcomes.is_empty() {
            ui.note("Up to date: nothing to change.");
        } else if outcomes
            .iter()
            .any(|o| matches!(o, FileOutcome::Conflicted(_)))
        {
            ui.note(
                "\nNext: resolve the conflicts listed above, then `cargo build` and `cargo test`.",
            );
            return Ok(crate::error::exit::PROBLEMS);
        } else {
            ui.note("\nNext: `cargo build` and `cargo test`.");
        }
        return Ok(0);
    }
    let (_copy, shadow, outcomes) =
        evolve::update_on_a_copy(&project_dir, fmt, args.templates.as_deref())?;
    if outcomes.is_empty() {
        ui.note("Up to date: nothing to change.");
        return Ok(0);
    }
    for o in &outcomes {
        let (verb, path) = match o {
            FileOutcome::Created(p) => ("create", p),
            FileOutcome::Updated(p) => ("update", p),
            FileOutcome::Removed(p) => ("remove", p),
            FileOutcome::Added { path, .. } => ("add dependencies to", path),
            FileOutcome::RewroteEdited { path, .. } => ("rewrite (saving your edits)", path),
            FileOutcome::MovedAside { path, .. } => ("move aside (your edits)", path),
            FileOutcome::KeptOrphan(p) => ("keep, no longer compiled,", p),
            FileOutcome::Merged(p) => ("merge the template's changes into", p),
            FileOutcome::Conflicted(p) => ("merge, with conflicts,", p),
        };
        ui.data(format!("would {verb} {}\n", path.display()));
        if args.dry_run {
            let before = fs_err::read(project_dir.join(path)).unwrap_or_default();
            let after = fs_err::read(shadow.join(path)).unwrap_or_default();
            let (before, after) = (
                String::from_utf8_lossy(&before),
                String::from_utf8_lossy(&after),
            );
            let name = path.display().to_string();
            let diff = similar::TextDiff::from_lines(&*before, &*after)
                .unified_diff()
                .header(&format!("a/{name}"), &format!("b/{name}"))
                .to_string();
            if !diff.is_empty() {
                ui.data(format!("{}\n", diff.trim_end()));
            }
        }
    }
    if args.check {
        ui.note("An update is available: run `dieselkit update`.");
        return Ok(crate::error::exit::PROBLEMS);
    }
    Ok(0)
}

/// `dieselkit generate migration --rebase` (see [`rebase::rebase`]), reported. Returns the
/// message of a colliding migration that was set aside, for the caller to write it again.
fn rebase(project_dir: &Path, global: &GlobalArgs, ui: &Ui) -> Result<Option<String>> {
    let rebased = rebase::rebase(project_dir, global.database_url.as_deref())?;
    if rebased.renamed.is_empty() && rebased.set_aside.is_empty() {
        ui.status(
            "Rebased",
            "nothing to do: no pending migration is older than the newest one the database applied, and no two migrations collide",
        );
        return Ok(None);
    }
    for (old, new) in &rebased.renamed {
        ui.status("Renamed", format!("migrations/{old} -> migrations/{new}"));
    }
    let Some(message) = rebased.message else {
        ui.note("\nNext: `dieselkit migrate run`, then `dieselkit check`.");
        return Ok(None);
    };
    for name in &rebased.set_aside {
        ui.status(
            "Set aside",
            format!(
                "migrations/{name} -> {}/{name} (it was written without the migration it collides with; carry over any SQL you added to it by hand)",
                rebase::REBASED_DIR
            ),
        );
    }
    ui.status(
        "Writing",
        format!("`{message}` again, from dieselkit.toml, after every other migration"),
    );
    Ok(Some(message))
}

/// `dieselkit generate migration --from-database` (see [`adopt::from_database`]), reported.
fn adopt(
    project_dir: &Path,
    message: &str,
    fmt: bool,
    global: &GlobalArgs,
    ui: &Ui,
) -> Result<i32> {
    match adopt::from_database(project_dir, global.database_url.as_deref(), message, fmt, ui)? {
        Adopted::Unchanged => {
            ui.status(
                "Unchanged",
                "the database matches the migrations: no drift to adopt",
            );
            Ok(0)
        }
        Adopted::Refused(problems) => Err(Error::usage(format!(
            "the database differs from the migrations in ways dieselkit cannot adopt:\n{}",
            advice::list(&problems)
        ))),
        Adopted::Inexact(left) => Err(Error::usage(format!(
            "dieselkit.toml cannot describe this drift exactly, so nothing was written:\n  - {}\nwrite a migration for it with `dieselkit generate migration --empty` and record it with `dieselkit migrate stamp VERSION`",
            match left {
                Ok(steps) => steps.iter().map(|step| step.describe()).collect::<Vec<_>>(),
                Err(problems) => problems.iter().map(advice::problem).collect(),
            }
            .join("\n  - ")
        ))),
        Adopted::Written {
            outcomes,
            stamped,
            url,
        } => {
            report_outcomes(&outcomes, ui);
            ui.status(
                "Stamped",
                format!(
                    "{stamped} as applied on {} (it describes what is there already)",
                    crate::migrations::redact(&url)
                ),
            );
            ui.note("\nNext: review the migration and dieselkit.toml, then `cargo test` and commit.");
            Ok(0)
        }
    }
}

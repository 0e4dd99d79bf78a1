//! `dieselkit migrate run | revert | redo | status | history | current | stamp | verify`.

use crate::cli::{GlobalArgs, MigrateArgs, MigrateCommand};
use crate::error::{Error, Result};
use crate::migrations::{self, engine, resolve_database_url, Migrator, RevertLimit};
use crate::ui::Ui;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn limit(number: Option<usize>, to: Option<&str>, all: bool) -> RevertLimit<'_> {
    match (all, to) {
        (true, _) => RevertLimit::All,
        (false, Some(v)) => RevertLimit::To(v),
        (false, None) => RevertLimit::Count(number.unwrap_or(1)),
    }
}

pub fn run(args: MigrateArgs, global: &GlobalArgs, ui: &Ui) -> Result<i32> {
    let project_dir = global
        .project_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("."));
    if let MigrateCommand::Squash {
        to,
        message,
        allow_data,
    } = &args.command
    {
        return squash(
            &project_dir,
            to.as_deref(),
            message,
            *allow_data,
            global,
            ui,
        );
    }
    if let MigrateCommand::Run {
        sql: true,
        from,
        backend,
        to,
        ..
    } = &args.command
    {
        let url = resolve_database_url(global.database_url.as_deref(), &project_dir);
        if from.is_some() || url.is_err() {
            let script = offline_script(
                &project_dir,
                from.as_deref(),
                *backend,
                to.as_deref(),
                url.ok(),
            )?;
            ui.data(script);
            return Ok(0);
        }
    }
    let url = resolve_database_url(global.database_url.as_deref(), &project_dir)?;
    ui.detail(
        "Database",
        format!("{} (from {})", migrations::redact(&url.url), url.source),
    );
    if let MigrateCommand::Verify = args.command {
        return verify(&url.url, &project_dir, ui);
    }
    let preview = matches!(
        args.command,
        MigrateCommand::Run { sql: true, .. } | MigrateCommand::Revert { sql: true, .. }
    );
    let mut m = match Migrator::open_with(&url.url, &project_dir, !preview) {
        Ok(m) => m,
        // `--sql` for a database that does not exist yet: the script for an empty one.
        Err(_)
            if preview
                && matches!(args.command, MigrateCommand::Run { .. })
                && migrations::database_missing(&url.url) =>
        {
            let to = match &args.command {
                MigrateCommand::Run { to, .. } => to.clone(),
                _ => None,
            };
            ui.data(offline_script(
                &project_dir,
                None,
                None,
                to.as_deref(),
                Some(url),
            )?);
            return Ok(0);
        }
        Err(e) => return Err(e),
    };
    m.lock_timeout = Duration::from_secs(args.lock_timeout);
    m.ddl_lock_timeout = Duration::from_secs(args.ddl_lock_timeout.max(1));
    let timeout = args.lock_timeout;
    let mut on_wait = || {
        ui.status(
            "Waiting",
            format!("for the migration lock held by another process (up to {timeout}s)"),
        )
    };
    match args.command {
        MigrateCommand::Run { to, sql: true, .. } => ui.data(m.preview_run(to.as_deref())?),
        MigrateCommand::Run {
            to, strict, number, ..
        } => {
            m.strict = strict;
            warn_about_order(&mut m, ui, strict)?;
            let done = m.run_at_most(to.as_deref(), number, &mut on_wait, &mut |n| {
                ui.status("Applying", n)
            })?;
            if done.is_empty() {
                ui.status("Fresh", "no pending migrations; the database is up to date");
            } else {
                ui.status("Finished", format!("applied {} migration(s)", done.len()));
            }
        }
        MigrateCommand::Revert {
            number,
            to,
            all,
            sql,
        } => {
            let limit = limit(number, to.as_deref(), all);
            if sql {
                ui.data(m.preview_revert(limit)?);
            } else {
                let done = m.revert(limit, &mut on_wait, &mut |n| ui.status("Reverting", n))?;
                if done.is_empty() {
                    ui.status("Fresh", "no applied migrations to revert");
                } else {
                    ui.status("Finished", format!("reverted {} migration(s)", done.len()));
                }
            }
        }
        MigrateCommand::Redo { number, all } => {
            let done = m.redo(limit(number, None, all), &mut on_wait, &mut |verb, n| {
                ui.status(verb, n)
            })?;
            if done.is_empty() {
                ui.status("Fresh", "no applied migrations to redo");
            } else {
                ui.status("Finished", format!("redid {} migration(s)", done.len()));
            }
        }
        MigrateCommand::Status { json, strict } => {
            m.strict = strict;
            return status(&mut m, ui, json);
        }
        MigrateCommand::History { json } => history(&mut m, ui, json)?,
        MigrateCommand::Current => {
            let applied = m.applied()?;
            match applied.versions.keys().max() {
                Some(v) => {
                    let files = m.files()?;
                    let name = files
                        .iter()
                        .find(|f| f.version == *v)
                        .map(|f| f.name.clone())
                        .unwrap_or_else(|| format!("{v} (no directory)"));
                    ui.data(format!("{name}\n"));
                }
                None => ui.status("Current", "no migrations applied"),
            }
        }
        MigrateCommand::Stamp { target } => {
            let n = m.stamp(&target, &mut on_wait, &mut |name, accepted_edit| {
                if accepted_edit {
                    ui.status(
                        "Accepted",
                        format!("{name}: recorded the checksum of its current up.sql"),
                    )
                } else {
                    ui.status("Stamped", format!("{name} (marked applied, not run)"))
                }
            })?;
            if n == 0 {
                ui.status("Fresh", "nothing to stamp; every migration up to that version is applied with a matching checksum");
            }
        }
        MigrateCommand::Verify | MigrateCommand::Squash { .. } => unreachable!("handled above"),
    }
    Ok(0)
}

/// `migrate run --sql` without a database: the script for a database at `from` (every
/// migration after it; all of them without `from`), for the backend of `--backend`, the URL
/// or the project.
fn offline_script(
    project_dir: &std::path::Path,
    from: Option<&str>,
    backend: Option<crate::spec::Backend>,
    to: Option<&str>,
    url: Option<migrations::DatabaseUrl>,
) -> Result<String> {
    let backend = match (backend, url) {
        (Some(b), _) => b,
        (None, Some(u)) => migrations::backend_of(&u.url),
        (None, None) => crate::ops::evolve::read_model(project_dir)
            .map(|(_, model)| model.backend)
            .map_err(|e| {
                Error::usage(format!(
                    "no database and no backend to write SQL for: pass `--backend sqlite|postgres|mysql` ({e})"
                ))
            })?,
    };
    let files = migrations::source::load(&project_dir.join("migrations"))?;
    let from = match from {
        None | Some("0") => None,
        Some(v) => Some(
            migrations::check_target(&files, v)
                .map_err(|e| Error::usage(format!("{e} (`--from 0` means an empty database)")))?,
        ),
    };
    let to = to
        .map(|t| migrations::check_target(&files, t))
        .transpose()?;
    let mut applied = engine::Applied::default();
    if let Some(from) = &from {
        for f in files.iter().filter(|f| f.version <= *from) {
            applied.versions.insert(f.version.clone(), None);
        }
    }
    let mut script = format!(
        "-- written without a database: it assumes one at {}\n",
        match &from {
            Some(v) => format!("version {v} (every migration up to it applied)"),
            None => "no migrations (empty)".to_string(),
        }
    );
    if from.is_some() {
        script.push_str(&format!(
            "-- (if its {} table was created by dieselkit 0.1, first run: {};)\n",
            migrations::ledger::SIDE_TABLE,
            migrations::ledger::add_text_checksum_column()
        ));
    }
    script.push_str(&engine::preview_run(
        backend,
        &files,
        &applied,
        to.as_deref(),
        false,
    ));
    Ok(script)
}

/// `dieselkit migrate squash`.
fn squash(
    project_dir: &Path,
    to: Option<&str>,
    message: &str,
    allow_data: bool,
    global: &GlobalArgs,
    ui: &Ui,
) -> Result<i32> {
    let (_, model) = crate::ops::evolve::read_model(project_dir)?;
    let server =
        crate::ops::evolve::server_url(global.database_url.as_deref(), project_dir, model.backend);
    ui.status("Squashing", "replaying the migrations on scratch databases");
    let plan = crate::ops::squash::plan(
        project_dir,
        model.backend,
        server.as_deref(),
        to,
        message,
        allow_data,
    )?;
    let moved = crate::ops::squash::write(project_dir, &plan)?;
    for path in &moved {
        ui.status("Moved", path.display().to_string());
    }
    ui.status(
        "Created",
        format!(
            "migrations/{} (replaces {} migrations; checked on a scratch database to build the same schema)",
            plan.baseline.dir_name,
            plan.replaced.len()
        ),
    );
    ui.note(format!(
        "\nDatabases that applied them need nothing; fresh ones get the baseline. Commit, then delete `{}` when you no longer need the old files.",
        crate::ops::squash::SQUASHED_DIR
    ));
    Ok(0)
}

fn warn_about_order(m: &mut Migrator, ui: &Ui, strict: bool) -> Result<()> {
    let files = m.files()?;
    let applied = m.applied()?;
    if let Some((baseline, lacking)) = engine::partly_squashed(&files, &applied).into_iter().next()
    {
        return Err(Error::Migration(format!(
            "`{}` replaces migrations this database applied only in part (it lacks {}); apply the old ones first (they are in `{}` or in version control), then run again",
            baseline.name,
            lacking.join(", "),
            crate::ops::squash::SQUASHED_DIR
        )));
    }
    for v in engine::missing(&files, &applied) {
        ui.warn(format!(
            "applied migration version {v} has no directory in `{}` (deleted, or from another branch)",
            m.migrations_dir.display()
        ));
    }
    let late = engine::out_of_order(&files, &applied);
    if late.is_empty() {
        return Ok(());
    }
    let list = late
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ");
    if strict {
        return Err(Error::Migration(format!(
            "pending migration(s) {list} are older than the newest applied one (probably merged from another branch); with `--strict` they are refused. Renumber them after the newest one with `dieselkit generate migration --rebase`, or run without `--strict` to apply them"
        )));
    }
    ui.warn(format!(
        "pending migration(s) {list} are older than the newest applied one (probably merged from another branch); they will be applied now, out of order (`dieselkit generate migration --rebase` renumbers them instead)"
    ));
    Ok(())
}

/// The status table; exit 0 (it is a report) unless `--strict` and an applied migration
/// was edited or has no directory.
fn status(m: &mut Migrator, ui: &Ui, json: bool) -> Result<i32> {
    let st = m.status()?;
    if json {
        let text = serde_json::to_string_pretty(&st).map_err(|e| Error::Internal(e.to_string()))?;
        ui.data(format!("{text}\n"));
    } else {
        let width = st
            .migrations
            .iter()
            .map(|s| s.name.len())
            .max()
            .unwrap_or(9)
            .max(9);
        let mut out = format!(
            "{:<width$}  {:<8}  {:<19}  CHECKSUM\n",
            "MIGRATION", "STATE", "APPLIED AT"
        );
        for s in &st.migrations {
            out.push_str(&format!(
                "{:<width$}  {:<8}  {:<19}  {}{}\n",
                s.name,
                if s.applied { "applied" } else { "pending" },
                s.applied_at.as_deref().unwrap_or("-"),
                if s.applied { s.checksum.as_str() } else { "-" },
                if s.out_of_order {
                    "  (older than the newest applied)"
                } else {
                    ""
                }
            ));
        }
        for v in &st.missing {
            out.push_str(&format!("{v:<width$}  applied   (no directory on disk)\n"));
        }
        ui.data(out);
    }
    let pending = st.migrations.iter().filter(|s| !s.applied).count();
    ui.status(
        "Status",
        format!(
            "{} applied, {pending} pending",
            st.migrations.len() - pending
        ),
    );
    let edited: Vec<&migrations::MigrationState> = st
        .migrations
        .iter()
        .filter(|s| s.checksum == migrations::ChecksumState::Edited)
        .collect();
    for s in &edited {
        ui.warn(engine::edited_advice(
            &m.migrations_dir.join(&s.name),
            &s.version,
        ));
    }
    if m.strict && !(edited.is_empty() && st.missing.is_empty()) {
        return Ok(crate::error::exit::PROBLEMS);
    }
    Ok(0)
}

fn history(m: &mut Migrator, ui: &Ui, json: bool) -> Result<()> {
    let files = m.files()?;
    let applied = m.applied()?;
    let mut rows: Vec<(String, String, String)> = applied
        .versions
        .iter()
        .map(|(v, at)| {
            let name = files
                .iter()
                .find(|f| f.version == *v)
                .map(|f| f.name.clone())
                .unwrap_or_else(|| format!("{v} (no directory)"));
            (at.clone().unwrap_or_default(), v.clone(), name)
        })
        .collect();
    rows.sort();
    if json {
        let list: Vec<serde_json::Value> = rows
            .iter()
            .map(|(at, v, name)| serde_json::json!({"version": v, "name": name, "applied_at": at}))
            .collect();
        let text =
            serde_json::to_string_pretty(&list).map_err(|e| Error::Internal(e.to_string()))?;
        ui.data(format!("{text}\n"));
    } else {
        let mut out = format!("{:<19}  MIGRATION\n", "APPLIED AT");
        for (at, _, name) in &rows {
            // To the second, as SQLite and MySQL record it (PostgreSQL adds microseconds).
            let at: String = at.chars().take(19).collect();
            out.push_str(&format!("{at:<19}  {name}\n"));
        }
        ui.data(out);
    }
    Ok(())
}

/// A scratch database next to the real one: a temporary SQLite file, or a uniquely named
/// database on the same PostgreSQL/MySQL server, dropped afterwards.
fn verify(url: &str, project_dir: &std::path::Path, ui: &Ui) -> Result<i32> {
    let scratch = migrations::Scratch::create(url)?;
    ui.status(
        "Scratch",
        format!(
            "replaying migrations on `{}`",
            migrations::redact(scratch.url())
        ),
    );
    let result = migrations::verify::verify(scratch.url(), project_dir, &mut |verb, name| {
        if verb == migrations::verify::WARNING {
            ui.warn(name)
        } else {
            ui.detail(verb, name)
        }
    });
    drop(scratch);
    let mismatches = result?;
    if mismatches.is_empty() {
        ui.status(
            "Verified",
            "every down.sql restores the schema its up.sql started from",
        );
        Ok(0)
    } else {
        ui.error(migrations::verify::report(&mismatches));
        Ok(crate::error::exit::PROBLEMS)
    }
}

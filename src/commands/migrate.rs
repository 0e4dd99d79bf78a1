//! `dieselkit migrate run | revert | redo | status`.

use crate::cli::{GlobalArgs, MigrateCommand};
use crate::error::Result;
use crate::migrations::{resolve_database_url, Migrator};
use crate::ui::Ui;
use std::path::PathBuf;

pub fn run(cmd: MigrateCommand, global: &GlobalArgs, ui: &Ui) -> Result<i32> {
    let project_dir = global
        .project_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("."));
    let url = resolve_database_url(global.database_url.as_deref(), &project_dir)?;
    ui.detail(
        "Database",
        format!(
            "{} (from {})",
            crate::migrations::redact(&url.url),
            url.source
        ),
    );
    let mut migrator = Migrator::open(&url.url, &project_dir)?;
    match cmd {
        MigrateCommand::Run { to } => {
            let done = migrator.run(to.as_deref(), |name| ui.status("Applying", name))?;
            if done.is_empty() {
                ui.status("Fresh", "no pending migrations; the database is up to date");
            } else {
                ui.status("Finished", format!("applied {} migration(s)", done.len()));
            }
        }
        MigrateCommand::Revert { number, all } => {
            let n = if all { None } else { Some(number.unwrap_or(1)) };
            let done = migrator.revert(n, |name| ui.status("Reverting", name))?;
            if done.is_empty() {
                ui.status("Fresh", "no applied migrations to revert");
            } else {
                ui.status("Finished", format!("reverted {} migration(s)", done.len()));
            }
        }
        MigrateCommand::Redo { number, all } => {
            let n = if all { None } else { Some(number.unwrap_or(1)) };
            let done = migrator.redo(n, |verb, name| ui.status(verb, name))?;
            if done.is_empty() {
                ui.status("Fresh", "no applied migrations to redo");
            } else {
                ui.status("Finished", format!("redid {} migration(s)", done.len()));
            }
        }
        MigrateCommand::Status => {
            let states = migrator.status()?;
            let width = states
                .iter()
                .map(|s| s.name.len())
                .max()
                .unwrap_or(9)
                .max(9);
            let mut out = format!("{:<width$}  STATE\n", "MIGRATION");
            for s in &states {
                out.push_str(&format!(
                    "{:<width$}  {}\n",
                    s.name,
                    if s.applied { "applied" } else { "pending" }
                ));
            }
            ui.data(out);
            let pending = states.iter().filter(|s| !s.applied).count();
            ui.status(
                "Status",
                format!("{} applied, {pending} pending", states.len() - pending),
            );
        }
    }
    Ok(0)
}

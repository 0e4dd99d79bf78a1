//! `dieselkit lint [PATH]`.

use crate::cli::GlobalArgs;
use crate::error::{Error, Result};
use crate::lint::{self, Severity};
use crate::migrations::source;
use crate::spec::Backend;
use crate::ui::Ui;
use std::path::PathBuf;

pub fn run(path: Option<PathBuf>, json: bool, global: &GlobalArgs, ui: &Ui) -> Result<i32> {
    let project_dir = global
        .project_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("."));
    let path = path.unwrap_or_else(|| project_dir.join("migrations"));
    // The backend decides PostgreSQL-only rules: from dieselkit.toml when there is one.
    let backend = crate::ops::evolve::read_model(&project_dir)
        .map(|(_, m)| m.backend)
        .unwrap_or(Backend::Sqlite);
    let migrations = if path.join("up.sql").is_file() {
        let parent = path.parent().map(|p| p.to_path_buf()).unwrap_or_default();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        source::load(&parent)?
            .into_iter()
            .filter(|m| m.name == name)
            .collect()
    } else {
        source::load(&path)?
    };
    let findings: Vec<lint::Finding> = migrations
        .iter()
        .flat_map(|m| lint::lint_migration(m, backend))
        .collect();
    let errors = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    if json {
        let text =
            serde_json::to_string_pretty(&findings).map_err(|e| Error::Internal(e.to_string()))?;
        ui.data(format!("{text}\n"));
    } else {
        ui.data(lint::render(&findings));
    }
    ui.status(
        "Linted",
        format!(
            "{} migration(s): {errors} error(s), {} warning(s)",
            migrations.len(),
            findings.len() - errors
        ),
    );
    Ok(if errors > 0 {
        crate::error::exit::PROBLEMS
    } else {
        0
    })
}

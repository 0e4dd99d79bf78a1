//! `migrate verify`: on a scratch database, apply every migration, snapshotting the schema
//! after each; then revert them one by one and check each down.sql restores exactly the
//! snapshot taken before its up.sql.

use super::{Migrator, RevertLimit};
use crate::error::{Error, Result};
use std::path::Path;

/// One down.sql that does not restore the schema.
#[derive(Debug, Clone)]
pub struct Mismatch {
    pub migration: String,
    /// Lines present before the migration but missing after its revert.
    pub missing: Vec<String>,
    /// Lines left behind by the revert.
    pub extra: Vec<String>,
}

/// Verify against `scratch_url` (a database that must start empty and is the caller's to
/// drop afterwards).
pub fn verify(
    scratch_url: &str,
    project_dir: &Path,
    on_step: &mut dyn FnMut(&str, &str),
) -> Result<Vec<Mismatch>> {
    let mut m = Migrator::open(scratch_url, project_dir)?;
    let files = m.files()?;
    let mut snapshots = vec![m.schema_dump()?];
    for f in &files {
        m.run(Some(&f.version), &mut || {}, &mut |name| {
            on_step("Applying", name)
        })?;
        snapshots.push(m.schema_dump()?);
    }
    let mut mismatches = Vec::new();
    for (i, f) in files.iter().enumerate().rev() {
        if f.down.is_none() {
            mismatches.push(Mismatch {
                migration: f.name.clone(),
                missing: vec!["down.sql is missing".into()],
                extra: vec![],
            });
            break;
        }
        m.revert(RevertLimit::Count(1), &mut || {}, &mut |name| {
            on_step("Reverting", name)
        })?;
        let after = m.schema_dump()?;
        let before = &snapshots[i];
        if after != *before {
            mismatches.push(Mismatch {
                migration: f.name.clone(),
                missing: before
                    .iter()
                    .filter(|l| !after.contains(l))
                    .cloned()
                    .collect(),
                extra: after
                    .iter()
                    .filter(|l| !before.contains(l))
                    .cloned()
                    .collect(),
            });
            // Later reverts would compare against a schema that is already wrong.
            break;
        }
    }
    Ok(mismatches)
}

pub fn report(mismatches: &[Mismatch]) -> Error {
    let mut text = String::new();
    for m in mismatches {
        text.push_str(&format!(
            "down.sql of `{}` does not restore the schema it started from:\n",
            m.migration
        ));
        for l in &m.missing {
            text.push_str(&format!("  - {l}   (missing after revert)\n"));
        }
        for l in &m.extra {
            text.push_str(&format!("  + {l}   (left behind by revert)\n"));
        }
    }
    Error::Problems(text.trim_end().to_string())
}

//! `migrate verify`: on a scratch database, apply every migration, snapshotting the schema
//! after each; then revert them one by one and check each down.sql restores exactly the
//! snapshot taken before its up.sql. After each migration every table gets a sample row
//! (parents first, so children and grandchildren reference real rows), and no up.sql or
//! down.sql may lose a row of a table it keeps.

use super::{Migrator, RevertLimit};
use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::path::Path;

/// One down.sql that does not restore the schema.
#[derive(Debug, Clone)]
pub struct Mismatch {
    pub migration: String,
    /// Lines present before the migration but missing after its revert.
    pub missing: Vec<String>,
    /// Lines left behind by the revert.
    pub extra: Vec<String>,
    /// Tables that lost rows, with the counts before and after.
    pub lost_rows: Vec<String>,
}

/// Marks a migration whose row loss is intended (a data clean-up).
const ALLOW_ROW_LOSS: &str = "dieselkit:allow row-loss";

/// Tables present before and after a step that hold fewer rows after it.
fn lost(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> Vec<String> {
    before
        .iter()
        .filter_map(|(table, was)| {
            let now = *after.get(table)?;
            (now < *was).then(|| format!("`{table}` had {was} row(s), {now} after"))
        })
        .collect()
}

fn row_loss(migration: &str, file: &str, lost_rows: Vec<String>) -> Mismatch {
    Mismatch {
        migration: format!("{migration} ({file})"),
        missing: vec![],
        extra: vec![],
        lost_rows,
    }
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
    let mut mismatches = Vec::new();
    let mut row = 0;
    for f in &files {
        let before = m.row_counts()?;
        m.run(Some(&f.version), &mut || {}, &mut |name| {
            on_step("Applying", name)
        })?;
        let lost_rows = lost(&before, &m.row_counts()?);
        if !lost_rows.is_empty() && !f.up.contains(ALLOW_ROW_LOSS) {
            mismatches.push(row_loss(&f.name, "up.sql", lost_rows));
            return Ok(mismatches);
        }
        snapshots.push(m.schema_dump()?);
        for refused in m.add_sample_rows(&mut row)? {
            on_step("Unfilled", &format!("no sample row in {refused}"));
        }
    }
    for (i, f) in files.iter().enumerate().rev() {
        let Some(down) = &f.down else {
            mismatches.push(Mismatch {
                migration: f.name.clone(),
                missing: vec!["down.sql is missing".into()],
                extra: vec![],
                lost_rows: vec![],
            });
            break;
        };
        let before = m.row_counts()?;
        m.revert(RevertLimit::Count(1), &mut || {}, &mut |name| {
            on_step("Reverting", name)
        })?;
        let lost_rows = lost(&before, &m.row_counts()?);
        if !lost_rows.is_empty() && !down.contains(ALLOW_ROW_LOSS) {
            mismatches.push(row_loss(&f.name, "down.sql", lost_rows));
            break;
        }
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
                lost_rows: vec![],
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
        if !m.lost_rows.is_empty() {
            text.push_str(&format!(
                "`{}` loses rows of tables it keeps (replayed with one sample row per table and migration): {}; if that is intended, add the comment `-- {ALLOW_ROW_LOSS}` to the file\n",
                m.migration,
                m.lost_rows.join(", ")
            ));
            continue;
        }
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

//! `migrate verify`: on a scratch database, apply every migration, snapshotting the schema
//! after each; then revert them one by one and check each down.sql restores exactly the
//! snapshot taken before its up.sql. After each migration every table gets a sample row
//! (parents first, so children and grandchildren reference real rows), and no up.sql or
//! down.sql may lose a row of a table it keeps.

use super::{MigrationFile, Migrator, RevertLimit};
use crate::error::Result;
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

/// The `on_step` verb of a warning (the caller shows it as one).
pub const WARNING: &str = "warning";

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
    let mismatches = schema_pass(&mut m, &files, on_step)?;
    if !mismatches.is_empty() {
        return Ok(mismatches);
    }
    rows_pass(&mut m, &files, on_step)
}

/// Every up.sql, then every down.sql in reverse, on empty tables: each down.sql must
/// restore the schema its up.sql started from.
fn schema_pass(
    m: &mut Migrator,
    files: &[MigrationFile],
    on_step: &mut dyn FnMut(&str, &str),
) -> Result<Vec<Mismatch>> {
    let mut snapshots = vec![m.schema_dump()?];
    for f in files {
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
                lost_rows: vec![],
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
                lost_rows: vec![],
            });
            // Later reverts would compare against a schema that is already wrong.
            break;
        }
    }
    Ok(mismatches)
}

/// Again with a sample row added to every table after each up.sql (parents first), so
/// every migration runs over children and grandchildren: no up.sql or down.sql may lose a
/// row of a table it keeps. A down.sql that cannot run over rows at all (restoring NOT
/// NULL where a reverted drop left NULLs) fails on a real database too: that is a warning,
/// and the pass stops there (MySQL may have applied part of it).
fn rows_pass(
    m: &mut Migrator,
    files: &[MigrationFile],
    on_step: &mut dyn FnMut(&str, &str),
) -> Result<Vec<Mismatch>> {
    let mut row = 0;
    for f in files {
        let before = m.row_counts()?;
        m.run(Some(&f.version), &mut || {}, &mut |name| {
            on_step("Applying", &format!("{name} (with rows)"))
        })?;
        let lost_rows = lost(&before, &m.row_counts()?);
        if !lost_rows.is_empty() && !f.up.contains(ALLOW_ROW_LOSS) {
            return Ok(vec![row_loss(&f.name, "up.sql", lost_rows)]);
        }
        for refused in m.add_sample_rows(&mut row)? {
            on_step("Unfilled", &format!("no sample row in {refused}"));
        }
    }
    for f in files.iter().rev() {
        let before = m.row_counts()?;
        let reverted = m.revert(RevertLimit::Count(1), &mut || {}, &mut |name| {
            on_step("Reverting", &format!("{name} (with rows)"))
        });
        if let Err(e) = reverted {
            on_step(
                WARNING,
                &format!("down.sql of `{}` fails while its tables hold rows, as it would on a real database: {e}", f.name),
            );
            break;
        }
        let lost_rows = lost(&before, &m.row_counts()?);
        let down = f.down.as_deref().unwrap_or_default();
        if !lost_rows.is_empty() && !down.contains(ALLOW_ROW_LOSS) {
            return Ok(vec![row_loss(&f.name, "down.sql", lost_rows)]);
        }
    }
    Ok(vec![])
}

/// The mismatches, one paragraph each, for `migrate verify` to print.
pub fn report(mismatches: &[Mismatch]) -> String {
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
    text.trim_end().to_string()
}

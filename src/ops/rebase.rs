//! `dieselkit generate migration --rebase`: migrations merged from another branch put in
//! order after the ones this branch applied.

use crate::error::{Error, Result};
use crate::ops::evolve;
use std::path::{Path, PathBuf};

/// What [`rebase`] did. Nothing renamed and nothing set aside: there was nothing to do.
#[derive(Debug, Default)]
pub struct Rebased {
    /// (old, new) directory names of the migrations renumbered after the newest applied one.
    pub renamed: Vec<(String, String)>,
    /// Colliding migrations moved to [`REBASED_DIR`], by directory name.
    pub set_aside: Vec<String>,
    /// The message the first migration set aside was written with, to write it again.
    pub message: Option<String>,
}

/// `dieselkit generate migration --rebase`. Pending migrations older than the newest one
/// the database applied (merged from another branch) are renumbered after it and recorded
/// as coming after the migration now before them; all must still apply in the new order on a
/// scratch database, or everything is put back. Of two colliding migrations (see
/// [`crate::migrations::engine::collisions`]) the one written without the other (the merged,
/// pending one; else the later) is moved to `.dieselkit/rebased/` and its message returned:
/// the caller writes it again from the merged dieselkit.toml, after every other migration.
/// `database_url` is the `--database-url` flag (else `DATABASE_URL` and `.env`).
pub fn rebase(project_dir: &Path, database_url: Option<&str>) -> Result<Rebased> {
    let (_, model) = evolve::read_model(project_dir)?;
    let dir = project_dir.join("migrations");
    let files = crate::migrations::source::load(&dir)?;
    let collisions = crate::migrations::engine::collisions(&files);
    let url = crate::migrations::resolve_database_url(database_url, project_dir);
    let (mut late, applied): (Vec<String>, Vec<String>) = match url {
        Ok(url) => {
            let mut live = crate::migrations::Migrator::open_with(&url.url, project_dir, false)?;
            let (files, applied) = (live.files()?, live.applied()?);
            (
                crate::migrations::engine::out_of_order(&files, &applied),
                applied.versions.keys().cloned().collect(),
            )
        }
        // Colliding migrations can be put in order without a database.
        Err(_) if !collisions.is_empty() => (Vec::new(), Vec::new()),
        Err(_) => return Err(Error::usage(
            "`--rebase` compares the migrations with a database that applied the merged ones: pass `--database-url` or set DATABASE_URL",
        )),
    };
    // Of each colliding pair, the one written without the other.
    let mut stale: Vec<&crate::migrations::source::MigrationFile> = Vec::new();
    for c in &collisions {
        let pick = if late.contains(&c.earlier.name) && !late.contains(&c.later.name) {
            c.earlier
        } else {
            c.later
        };
        if applied.contains(&pick.version) {
            return Err(Error::usage(format!(
                "`{}` and `{}` collide (both change {} from the same migration), and this database applied both: revert `{}` with `dieselkit migrate revert`, then run `--rebase` again",
                c.earlier.name,
                c.later.name,
                c.overlap.join(", "),
                pick.name
            )));
        }
        if !stale.iter().any(|f| f.name == pick.name) {
            stale.push(pick);
        }
    }
    late.retain(|name| !stale.iter().any(|f| &f.name == name));
    if late.is_empty() && stale.is_empty() {
        return Ok(Rebased::default());
    }
    let mut undo = Undo::default();
    let result = (|| -> Result<()> {
        let aside = project_dir.join(REBASED_DIR);
        for f in &stale {
            let target = aside.join(&f.name);
            if target.exists() {
                return Err(Error::usage(format!(
                    "`{}` is in the way: move it elsewhere, then run `--rebase` again",
                    target.display()
                )));
            }
            fs_err::create_dir_all(&aside)?;
            fs_err::rename(&f.dir, &target)?;
            undo.set_aside.push((f.dir.clone(), target));
        }
        for name in &late {
            let rest = name
                .split_once('_')
                .map_or(name.as_str(), |(_, rest)| rest)
                .to_string();
            let new = format!("{}_{rest}", evolve::next_version(project_dir)?);
            fs_err::rename(dir.join(name), dir.join(&new))?;
            undo.renamed.push((name.clone(), new));
        }
        // Each renumbered migration now comes after the migration before it.
        let files = crate::migrations::source::load(&dir)?;
        for (i, f) in files.iter().enumerate() {
            let Some(lineage) = &f.lineage else { continue };
            let before = if i == 0 {
                String::new()
            } else {
                files[i - 1].version.clone()
            };
            if !undo.renamed.iter().any(|(_, new)| *new == f.name) || lineage.parent == before {
                continue;
            }
            let path = f.dir.join("metadata.toml");
            let text = fs_err::read_to_string(&path)?;
            let mut doc: toml_edit::DocumentMut = text.parse().map_err(|e| Error::Toml {
                path: path.clone(),
                message: format!("{e}"),
            })?;
            doc["dieselkit"]["parent"] = toml_edit::value(before.as_str());
            fs_err::write(&path, doc.to_string())?;
            undo.rewritten.push((path, text));
        }
        // Everything must still apply in the new order, from an empty database.
        evolve::replay(
            project_dir,
            model.backend,
            evolve::server_url(database_url, project_dir, model.backend).as_deref(),
        )
        .map_err(|e| {
            Error::usage(format!(
                "in the new order, the migrations do not apply on a scratch database, so nothing was changed: {e}"
            ))
        })?;
        Ok(())
    })();
    if let Err(e) = result {
        undo.run(&dir);
        return Err(e);
    }
    // The message the first one set aside was written with, from its directory name.
    let message = stale.first().map(|f| {
        f.name
            .split_once('_')
            .map_or("rebased", |(_, rest)| rest)
            .replace('_', " ")
    });
    Ok(Rebased {
        renamed: undo.renamed,
        set_aside: stale.iter().map(|f| f.name.clone()).collect(),
        message,
    })
}

/// Where `--rebase` moves a colliding migration it writes again.
pub const REBASED_DIR: &str = ".dieselkit/rebased";

/// What `--rebase` changed, to put back when it fails.
#[derive(Default)]
struct Undo {
    /// (old, new) directory names.
    renamed: Vec<(String, String)>,
    /// metadata.toml files and their text before.
    rewritten: Vec<(PathBuf, String)>,
    /// Migration directories moved to `.dieselkit/rebased/`: (from, to).
    set_aside: Vec<(PathBuf, PathBuf)>,
}

impl Undo {
    fn run(&self, dir: &Path) {
        for (path, text) in self.rewritten.iter().rev() {
            let _ = fs_err::write(path, text);
        }
        for (old, new) in self.renamed.iter().rev() {
            let _ = fs_err::rename(dir.join(new), dir.join(old));
        }
        for (from, to) in self.set_aside.iter().rev() {
            let _ = fs_err::rename(to, from);
        }
    }
}

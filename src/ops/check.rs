//! `dieselkit check`'s work: what differs between the model, the migrations, schema.rs and
//! the live database, as typed findings. The command words them (and the advice on what to
//! do) and sets the exit code.

use crate::diff::{Op, Problem, Step};
use crate::error::Result;
use crate::migrations::{resolve_database_url, Migrator};
use crate::ops::evolve;
use crate::spec::Backend;
use std::path::{Path, PathBuf};

/// One difference found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// Two migrations generated after the same one (`parent`, the name of the migration or
    /// `None` for an empty history), each without the other, that change the same `overlap`
    /// (`table` or `table.column`).
    Colliding {
        earlier: String,
        later: String,
        parent: Option<String>,
        overlap: Vec<String>,
    },
    /// The migrations do not apply in order on a scratch database (reported only beside a
    /// collision, which explains it; otherwise it is an error).
    DoesNotApply(String),
    /// The model asks for a change no migration makes.
    ModelChange(Step),
    /// The model asks for a change the diff will not make on its own.
    ModelProblem(Problem),
    /// src/schema.rs differs from what the migrations produce: lines missing from it,
    /// lines it has that it should not.
    SchemaRs {
        missing: Vec<String>,
        unexpected: Vec<String>,
    },
    SchemaRsMissing(PathBuf),
    /// An applied migration whose files changed since: its directory, version, checksum
    /// now and the checksum recorded when it was applied.
    Edited {
        dir: PathBuf,
        version: String,
        checksum: String,
        applied: Option<String>,
    },
    /// A pending migration older than `newest`, which the live database applied.
    OutOfOrder {
        name: String,
        newest: String,
    },
    /// Migrations the live database has not applied.
    Pending(Vec<String>),
    /// The live database differs from the migrations by this step (migrations → database).
    LiveChange(Step),
    LiveProblem(Problem),
}

/// What [`check`] found.
#[derive(Debug)]
pub struct Checked {
    pub backend: Backend,
    pub findings: Vec<Finding>,
    /// Whether a live database was compared (there was a database URL).
    pub live_compared: bool,
}

/// Compare the model, the migrations (replayed on a scratch database), src/schema.rs and,
/// when there is a database URL (`database_url` is the `--database-url` flag, else
/// `DATABASE_URL` and `.env`), the live database.
pub fn check(project_dir: &Path, database_url: Option<&str>) -> Result<Checked> {
    let (_, model) = evolve::read_model(project_dir)?;
    let url = resolve_database_url(database_url, project_dir).ok();
    let server = crate::dialect::of(model.backend)
        .server_name()
        .and(url.as_ref().map(|u| u.url.clone()));
    let done = |findings| Checked {
        backend: model.backend,
        findings,
        live_compared: url.is_some(),
    };
    // 0. Migrations from two branches that change the same thing without knowing of each
    // other. Before the replay: such a pair may not apply at all.
    let files = crate::migrations::source::load(&project_dir.join("migrations"))?;
    let mut findings: Vec<Finding> = crate::migrations::engine::collisions(&files)
        .iter()
        .map(|c| Finding::Colliding {
            earlier: c.earlier.name.clone(),
            later: c.later.name.clone(),
            parent: (!c.parent.is_empty()).then(|| {
                files
                    .iter()
                    .find(|f| f.version == c.parent)
                    .map_or_else(|| c.parent.clone(), |f| f.name.clone())
            }),
            overlap: c.overlap.clone(),
        })
        .collect();
    let replayed = match evolve::replay(project_dir, model.backend, server.as_deref()) {
        Ok(replayed) => replayed,
        // The collision explains the failure: report both.
        Err(e) if !findings.is_empty() => {
            findings.push(Finding::DoesNotApply(e.to_string()));
            return Ok(done(findings));
        }
        Err(e) => return Err(e),
    };

    // 1. The model against the migrations.
    let hints = evolve::hints(&model, &[], true)?;
    match crate::diff::diff_with(&replayed, &evolve::desired(&model), &hints) {
        Ok(ops) => findings.extend(ops.iter().flat_map(Op::steps).map(Finding::ModelChange)),
        Err(problems) => findings.extend(problems.into_iter().map(Finding::ModelProblem)),
    }

    // 2. schema.rs against the migrations.
    let schema_rs = project_dir.join("src/schema.rs");
    let expected = crate::schema::rust::render_schema_rs(&replayed, model.backend);
    match fs_err::read_to_string(&schema_rs) {
        Ok(actual) if actual == expected => {}
        Ok(actual) => {
            let lines_not_in = |text: &str, other: &str| -> Vec<String> {
                text.lines()
                    .filter(|l| !other.lines().any(|o| o == *l))
                    .map(|l| l.trim().to_string())
                    .collect()
            };
            findings.push(Finding::SchemaRs {
                missing: lines_not_in(&expected, &actual),
                unexpected: lines_not_in(&actual, &expected),
            });
        }
        Err(_) => findings.push(Finding::SchemaRsMissing(schema_rs)),
    }

    // 3. The live database against the migrations.
    let Some(u) = &url else {
        return Ok(done(findings));
    };
    let mut live = Migrator::open_with(&u.url, project_dir, false)?;
    // What `migrate run` refuses, `check` reports: an applied migration edited since.
    let (files, applied) = (live.files()?, live.applied()?);
    findings.extend(
        crate::migrations::engine::edited(&files, &applied, false)
            .into_iter()
            .map(|f| Finding::Edited {
                dir: f.dir.clone(),
                version: f.version.clone(),
                checksum: f.checksum.clone(),
                applied: applied.checksums.get(&f.version).cloned(),
            }),
    );
    // A pending migration older than one this database applied came in from another
    // branch: here it would run after the newer one, on a fresh database before it.
    let newest = crate::migrations::engine::newest_applied(&files, &applied).unwrap_or_default();
    findings.extend(
        crate::migrations::engine::out_of_order(&files, &applied)
            .into_iter()
            .map(|name| Finding::OutOfOrder {
                name,
                newest: newest.clone(),
            }),
    );
    let pending: Vec<String> = crate::migrations::engine::pending(&files, &applied)
        .into_iter()
        .map(|f| f.name.clone())
        .collect();
    if !pending.is_empty() {
        findings.push(Finding::Pending(pending));
    } else {
        let actual = live.introspect()?;
        match crate::diff::diff(&replayed, &actual) {
            Ok(ops) => findings.extend(ops.iter().flat_map(Op::steps).map(Finding::LiveChange)),
            Err(problems) => findings.extend(problems.into_iter().map(Finding::LiveProblem)),
        }
    }
    Ok(done(findings))
}

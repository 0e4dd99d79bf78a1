//! Evolving a project: the current schema is what the existing migrations produce,
//! replayed on a scratch database and introspected (so hand-written migrations count);
//! the desired schema comes from dieselkit.toml; their diff becomes a new migration, and
//! the generated sources are re-rendered without overwriting files the user edited.

use crate::diff::{Change, Hints, Op, Step, TableChange};
use crate::error::{Error, Result};
use crate::manifest::Manifest;
use crate::migrations::introspect;
use crate::migrations::{self, Migrator, Scratch};
use crate::ownership::Owner;
use crate::plan::{self, NewMigration};
use crate::render::{self, PlannedFile};
use crate::schema::{self, Schema};
use crate::spec::{Backend, FieldType, Model, ProjectFile};
use std::path::{Path, PathBuf};

pub const MODEL_FILE: &str = "dieselkit.toml";

pub fn read_model(project_dir: &Path) -> Result<(ProjectFile, Model)> {
    let path = project_dir.join(MODEL_FILE);
    let text = fs_err::read_to_string(&path).map_err(|e| Error::ReadFile {
        path: path.clone(),
        error: e,
    })?;
    let file: ProjectFile = toml::from_str(&text).map_err(|e| Error::Toml {
        path: path.clone(),
        message: e.to_string(),
    })?;
    let model = Model::from_file(&file)?;
    Ok((file, model))
}

/// Write `renamed_from=OLD` into the field spec whose column is `new` in `table`.
pub fn record_column_rename(
    file: &mut crate::spec::ProjectFile,
    table: &str,
    old: &str,
    new: &str,
) -> Result<()> {
    for r in &mut file.resources {
        if crate::spec::names::plural(&r.name) != table {
            continue;
        }
        for spec in &mut r.fields {
            let mut f = crate::spec::FieldSpec::parse(spec)?;
            if f.column() == new {
                f.renamed_from = Some(old.trim_end_matches("_id").to_string())
                    .filter(|_| matches!(f.ty, crate::spec::FieldType::References { .. }))
                    .or(Some(old.to_string()));
                *spec = f.to_string();
                return Ok(());
            }
        }
    }
    Err(Error::Internal(format!(
        "no field for column `{table}.{new}`"
    )))
}

/// Write `renamed_from = "OLD"` into the resource whose table is `new`.
pub fn record_table_rename(
    file: &mut crate::spec::ProjectFile,
    old: &str,
    new: &str,
) -> Result<()> {
    let section = file
        .resources
        .iter_mut()
        .find(|r| crate::spec::names::plural(&r.name) == new)
        .ok_or_else(|| Error::Internal(format!("no resource for table `{new}`")))?;
    section.renamed_from = Some(crate::spec::names::singular(old));
    Ok(())
}

/// The project's migrations replayed on a scratch database (a temporary SQLite database,
/// or a throwaway database on the server of `server_url`), kept open so that a new
/// migration can be tried on top of them without replaying them again.
pub struct Replayed {
    // Declared before the scratch database: the connection closes before it is dropped.
    migrator: Migrator,
    _scratch: Scratch,
}

impl Replayed {
    pub fn open(project_dir: &Path, backend: Backend, server_url: Option<&str>) -> Result<Self> {
        Self::open_to(project_dir, backend, server_url, None)
    }

    /// Like [`Replayed::open`], replaying only up to and including version `to` when given.
    pub fn open_to(
        project_dir: &Path,
        backend: Backend,
        server_url: Option<&str>,
        to: Option<&str>,
    ) -> Result<Self> {
        let like = match crate::dialect::of(backend).server_name() {
            None => "scratch.db".to_string(),
            Some(_) => server_url
                .map(str::to_string)
                .ok_or_else(|| Error::usage(format!(
                    "replaying migrations for a {backend} project needs a server: pass `--database-url` or set `DATABASE_URL` (a scratch database is created there and dropped)"
                )))?,
        };
        let scratch = Scratch::create(&like)?;
        let mut migrator = Migrator::open(scratch.url(), project_dir)?;
        migrator.run(to, &mut || {}, &mut |_| {})?;
        Ok(Replayed {
            migrator,
            _scratch: scratch,
        })
    }

    /// The schema the migrations produce.
    pub fn schema(&mut self) -> Result<Schema> {
        self.migrator.introspect()
    }

    /// Apply `new` (up, then down) after the project's migrations, so a migration that
    /// fails is an error before anything is written. The scratch database already has the
    /// project's migrations; the new ones are read from memory, under the paths they will be
    /// written to.
    pub fn try_migrations(mut self, project_dir: &Path, new: &[NewMigration]) -> Result<()> {
        let dir = project_dir.join("migrations");
        for migration in new {
            self.migrator.unwritten.push(migration.parsed(&dir)?);
        }
        let m = &mut self.migrator;
        let result = m.run(None, &mut || {}, &mut |_| {}).and_then(|_| {
            m.revert(
                migrations::RevertLimit::Count(new.len()),
                &mut || {},
                &mut |_| {},
            )
        });
        drop(self);
        result.map(|_| ()).map_err(|e| {
            Error::usage(format!(
                "the new migration fails on a scratch database with the existing migrations applied, so nothing was written: {e}"
            ))
        })
    }
}

/// The server to replay migrations on, when the backend has one: the database URL
/// (`database_url` is the `--database-url` flag, else `DATABASE_URL` and `.env`), whose
/// server gets a scratch database.
pub fn server_url(
    database_url: Option<&str>,
    project_dir: &Path,
    backend: Backend,
) -> Option<String> {
    crate::dialect::of(backend).server_name()?;
    crate::migrations::resolve_database_url(database_url, project_dir)
        .ok()
        .map(|u| u.url)
}

/// The schema the project's migrations produce, replayed on a scratch database.
pub fn replay(project_dir: &Path, backend: Backend, server_url: Option<&str>) -> Result<Schema> {
    Replayed::open(project_dir, backend, server_url)?.schema()
}

/// The model's schema as the backend would report it.
pub fn desired(model: &Model) -> Schema {
    introspect::normalize(&schema::from_model(model), model.backend)
}

/// Renames and backfills the model and flags ask for.
pub fn hints(
    model: &Model,
    backfills: &[(String, String, String)],
    allow_drop: bool,
) -> Result<Hints> {
    let mut h = Hints {
        allow_drop,
        keep_hand_named_indexes: true,
        ..Hints::default()
    };
    for r in &model.resources {
        if let Some(old) = &r.renamed_from {
            h.renamed_tables
                .push((crate::spec::names::plural(old), r.table.clone()));
        }
        for f in &r.fields {
            if let Some(old) = &f.renamed_from {
                let old_column = match f.ty {
                    FieldType::References { .. } if !old.ends_with("_id") => format!("{old}_id"),
                    _ => old.clone(),
                };
                h.renamed_columns
                    .push((r.table.clone(), old_column, f.column()));
            }
        }
    }
    for (resource, field, expr) in backfills {
        // The resource, or its table (as the NOT NULL hints write it).
        let r = model
            .resource(resource)
            .or_else(|| model.resources.iter().find(|r| r.table == *resource));
        let r = r.ok_or_else(|| {
            Error::usage(format!(
                "`--backfill {resource}.{field}=...`: there is no resource `{resource}`"
            ))
        })?;
        let f = r.fields.iter().find(|f| f.name == *field || f.column() == *field).ok_or_else(|| {
            Error::usage(format!("`--backfill {resource}.{field}=...`: resource `{resource}` has no field `{field}`"))
        })?;
        h.backfills
            .push(((r.table.clone(), f.column()), expr.clone()));
    }
    Ok(h)
}

/// A slug for a migration directory name (`Add display_name!` → `add_display_name`).
pub fn slug(message: &str) -> String {
    let mut out = String::new();
    for c in message.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
    }
    let out = out
        .trim_end_matches('_')
        .chars()
        .take(60)
        .collect::<String>();
    if out.is_empty() {
        "change".into()
    } else {
        out
    }
}

/// A version after every existing one: now (or SOURCE_DATE_EPOCH), or one second after
/// the newest existing migration when the clock is behind it.
pub fn next_version(project_dir: &Path) -> Result<String> {
    let epoch = plan::generation_epoch()?;
    let candidate = plan::version_string(epoch);
    match newest_version(project_dir) {
        Some(newest) if newest >= migrations::source::version_of(&candidate) => {
            let parsed = chrono::NaiveDateTime::parse_from_str(&newest, "%Y%m%d%H%M%S")
                .map_err(|_| Error::usage(format!(
                    "the newest migration version `{newest}` is not a YYYYMMDDHHMMSS timestamp, so dieselkit cannot number the next one after it"
                )))?;
            Ok(plan::version_string(parsed.and_utc().timestamp() + 1))
        }
        _ => Ok(candidate),
    }
}

/// The version of the newest migration in the project, if any.
pub fn newest_version(project_dir: &Path) -> Option<String> {
    migrations::source::versions(&project_dir.join("migrations"))
        .into_iter()
        .max()
}

/// The migrations for `ops`: one, or with `concurrently` (PostgreSQL only; `generate`
/// refuses the flag on other backends) the index changes on
/// existing tables split out, each into its own migration with `run_in_transaction =
/// false` using `CONCURRENTLY`: index drops before the rest (a dropped column would take its
/// index with it), index builds after it. Versions count up one second from `version`.
/// Each records its [`Lineage`](migrations::source::Lineage): the first was generated after
/// `parent` (the newest existing version, empty when none), each later one after the one
/// before it.
pub fn migrations_for(
    ops: &[Op],
    backend: Backend,
    version: &str,
    message: &str,
    allow_drop: bool,
    concurrently: bool,
    parent: &str,
) -> Result<Vec<NewMigration>> {
    let mut out = if concurrently {
        concurrent_migrations(ops, backend, version, message, allow_drop)?
    } else {
        vec![migration_for(ops, backend, version, message, allow_drop)]
    };
    let mut parent = parent.to_string();
    for m in &mut out {
        if let Some(lineage) = &mut m.lineage {
            lineage.parent = parent.clone();
        }
        parent = migrations::source::version_of(&m.dir_name);
    }
    Ok(out)
}

fn concurrent_migrations(
    ops: &[Op],
    backend: Backend,
    version: &str,
    message: &str,
    allow_drop: bool,
) -> Result<Vec<NewMigration>> {
    // Index changes come out of their tables' change sets, one migration each: drops
    // before the rest, creations after it.
    let (mut drops, mut creates, mut rest) = (Vec::new(), Vec::new(), Vec::new());
    for op in ops {
        let Op::ChangeTable(change) = op else {
            rest.push(op.clone());
            continue;
        };
        let mut others = Vec::new();
        for (before, c, _) in change.walk() {
            let alone = || Op::ChangeTable(TableChange::new(before.clone(), vec![c.clone()]));
            match c {
                Change::DropIndex(_) => drops.push(alone()),
                Change::CreateIndex(_) => creates.push(alone()),
                _ => others.push(c),
            }
        }
        if !others.is_empty() {
            rest.push(Op::ChangeTable(TableChange::new(change.before(), others)));
        }
    }
    let start = chrono::NaiveDateTime::parse_from_str(version, "%Y-%m-%d-%H%M%S")
        .map_err(|_| Error::Internal(format!("`{version}` is not a migration version")))?
        .and_utc()
        .timestamp();
    let mut out = Vec::new();
    let mut n = 0;
    let mut version_n = || {
        let v = plan::version_string(start + n);
        n += 1;
        v
    };
    for op in &drops {
        out.push(concurrent_index_migration(op, &version_n(), message));
    }
    if !rest.is_empty() {
        out.push(migration_for(
            &rest,
            backend,
            &version_n(),
            message,
            allow_drop,
        ));
    }
    for op in &creates {
        out.push(concurrent_index_migration(op, &version_n(), message));
    }
    Ok(out)
}

/// One index change with CONCURRENTLY, in a migration that runs outside a transaction.
fn concurrent_index_migration(op: &Op, version: &str, message: &str) -> NewMigration {
    let concurrently = |statements: Vec<String>| -> String {
        statements
            .iter()
            .map(|s| {
                let s = s
                    .replacen(
                        "CREATE UNIQUE INDEX ",
                        "CREATE UNIQUE INDEX CONCURRENTLY ",
                        1,
                    )
                    .replacen("CREATE INDEX ", "CREATE INDEX CONCURRENTLY ", 1)
                    .replacen("DROP INDEX ", "DROP INDEX CONCURRENTLY ", 1);
                format!("{s};\n")
            })
            .collect()
    };
    let index = match op.steps().first() {
        Some(Step::Change {
            change: Change::CreateIndex(index) | Change::DropIndex(index),
            ..
        }) => index.name.clone(),
        _ => op.table().to_string(),
    };
    NewMigration {
        dir_name: format!("{version}_{}", slug(&format!("{message} {index}"))),
        up: concurrently(crate::sql::statements(op, Backend::Postgres)),
        down: concurrently(crate::sql::statements(&op.inverse(), Backend::Postgres)),
        metadata: Some(
            "# CONCURRENTLY cannot run in a transaction: this migration runs outside one, and\n\
             # a failure can leave an INVALID index behind (drop it, then run again).\n\
             run_in_transaction = false\n"
                .into(),
        ),
        lineage: Some(lineage_of(std::slice::from_ref(op), Backend::Postgres)),
    }
}

pub fn migration_for(
    ops: &[Op],
    backend: Backend,
    version: &str,
    message: &str,
    allow_drop: bool,
) -> NewMigration {
    let crate::sql::MigrationSql {
        mut up,
        down,
        metadata,
    } = crate::sql::migration_sql(ops, backend);
    if allow_drop && ops.iter().any(Op::is_destructive) {
        up = format!(
            "-- dieselkit:allow drop-table drop-column (confirmed with --allow-drop)\n{up}"
        );
    }
    NewMigration {
        dir_name: format!("{version}_{}", slug(message)),
        up,
        down,
        metadata,
        lineage: Some(lineage_of(ops, backend)),
    }
}

/// What `ops` change, sorted, without repeats; the parent is filled in by
/// [`migrations_for`]. A SQLite table rebuild changes the whole table: it copies every
/// column the table had when the migration was generated.
fn lineage_of(ops: &[Op], backend: Backend) -> migrations::source::Lineage {
    let changes: std::collections::BTreeSet<String> = ops
        .iter()
        .flat_map(|op| {
            op.steps()
                .into_iter()
                .zip(crate::sql::rebuilding_steps(op, backend))
        })
        .flat_map(|(step, rebuilds)| {
            if rebuilds {
                vec![step.table().to_string()]
            } else {
                step.changes()
            }
        })
        .collect();
    migrations::source::Lineage {
        parent: String::new(),
        changes: changes.into_iter().collect(),
    }
}

/// What happened to one project file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileOutcome {
    Created(PathBuf),
    Updated(PathBuf),
    /// One of dieselkit's files had been edited: it was rewritten (or removed), and the
    /// edited version saved at `saved` so that nothing is lost.
    RewroteEdited {
        path: PathBuf,
        saved: PathBuf,
    },
    /// The user's `Cargo.toml` gained what the generated code needs (one line per addition).
    Added {
        path: PathBuf,
        what: Vec<String>,
    },
    Removed(PathBuf),
    /// A file of the user's that belonged to a removed resource: edited, so kept, but no
    /// longer compiled.
    KeptOrphan(PathBuf),
    /// A 0.1 file that mixed generated code and the user's edits (`dieselkit update`):
    /// moved to `saved`, for the edits to be ported to the user's files.
    MovedAside {
        path: PathBuf,
        saved: PathBuf,
    },
    /// `update`: a new version of the template merged into the user's edited file.
    Merged(PathBuf),
    /// `update`: merged, but the user and the template changed the same lines; the file
    /// holds conflict markers there.
    Conflicted(PathBuf),
}

/// Equal bytes, or (for Rust) equal but for layout.
fn same_up_to_layout(path: &str, existing: &[u8], new: &[u8]) -> bool {
    existing == new
        || path.ends_with(".rs")
            && crate::manifest::layout_free_rust(&String::from_utf8_lossy(existing))
                == crate::manifest::layout_free_rust(&String::from_utf8_lossy(new))
}

fn write_atomically(path: &Path, contents: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        fs_err::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("dieselkit-tmp");
    fs_err::write(&tmp, contents)?;
    fs_err::rename(&tmp, path)?;
    Ok(())
}

/// Where an edited file of dieselkit's, or a 0.1 file with edits, is kept.
const SAVED_DIR: &str = ".dieselkit/edited";

/// Whether the project has dieselkit 0.1's layout, where generated and hand-written code
/// shared files (no `src/generated/`, a generated `src/db.rs`).
pub fn has_0_1_layout(project_dir: &Path) -> bool {
    !project_dir.join("src/generated").is_dir() && project_dir.join("src/db.rs").is_file()
}

/// An error pointing to `dieselkit update` for a 0.1 project.
pub fn refuse_0_1_layout(project_dir: &Path) -> Result<()> {
    if has_0_1_layout(project_dir) {
        return Err(Error::usage(format!(
            "`{}` has dieselkit 0.1's layout, where generated and hand-written code share files; run `dieselkit update` once to move to the current one (your edits are kept; see the README, \"Upgrading a 0.1 project\"), then run this command again",
            project_dir.display()
        )));
    }
    Ok(())
}

/// Regenerate the project's files for `model` plus `extra` (new migration files), with the
/// Rust files formatted by rustfmt when `fmt`. dieselkit's files (see
/// [`crate::ownership`]) are rewritten; the user's are created when missing and never
/// rewritten, except that `Cargo.toml` gains the dependencies the generated code needs.
/// The model file is always rewritten. A 0.1 project is refused (see [`update`]).
pub fn regenerate(
    project_dir: &Path,
    model: &Model,
    schema_after: &Schema,
    extra: Vec<PlannedFile>,
    fmt: bool,
) -> Result<Vec<FileOutcome>> {
    refuse_0_1_layout(project_dir)?;
    let manifest = Manifest::read(project_dir);
    let planned = plan_files(project_dir, &manifest, model, schema_after, extra, fmt)?;
    apply(project_dir, &manifest, &planned, Vec::new(), false)
}

/// [`update`] run on a copy of the project (in a temporary directory, returned with the
/// copy's path and the outcomes): what `update --check` and `--dry-run` report is exactly
/// what `update` would do, and nothing of the project is written.
pub fn update_on_a_copy(
    project_dir: &Path,
    fmt: bool,
    templates: Option<&Path>,
) -> Result<(tempfile::TempDir, PathBuf, Vec<FileOutcome>)> {
    let copy = tempfile::tempdir()?;
    let shadow = copy.path().join("project");
    copy_project(project_dir, &shadow)?;
    let outcomes = update(&shadow, fmt, templates)?;
    Ok((copy, shadow, outcomes))
}

/// Copy what `update` reads of a project (everything but build output, version control and
/// SQLite databases) to `to`.
fn copy_project(from: &Path, to: &Path) -> Result<()> {
    crate::write::copy_dir(from, to, &|name, is_dir| {
        if is_dir {
            matches!(name, "target" | ".git" | "node_modules")
        } else {
            [".db", ".db-wal", ".db-shm", ".sqlite", ".sqlite3"]
                .iter()
                .any(|ext| name.ends_with(ext))
        }
    })
}

/// `dieselkit update`: rewrite dieselkit's files with this version's templates, create the
/// user's files that are missing, and move a 0.1 project to the current layout (see
/// [`leave_0_1_layout`]). `src/schema.rs` is kept as it is.
pub fn update(project_dir: &Path, fmt: bool, templates: Option<&Path>) -> Result<Vec<FileOutcome>> {
    let (_, model) = read_model(project_dir)?;
    if let Some(dir) = templates {
        adopt_templates(project_dir, dir)?;
    }
    let schema_rs = project_dir.join("src/schema.rs");
    let schema_text = fs_err::read(&schema_rs).map_err(|e| Error::ReadFile {
        path: schema_rs.clone(),
        error: e,
    })?;
    let manifest = Manifest::read(project_dir);
    let mut planned = plan_files(
        project_dir,
        &manifest,
        &model,
        &Schema::default(),
        Vec::new(),
        fmt,
    )?;
    if let Some(f) = planned
        .iter_mut()
        .find(|f| f.path == Path::new("src/schema.rs"))
    {
        f.contents = schema_text;
    }
    let mut outcomes = Vec::new();
    let mut replaced = Vec::new();
    if has_0_1_layout(project_dir) {
        (outcomes, replaced) = leave_0_1_layout(project_dir, &manifest, &planned)?;
    }
    let outcomes = apply(project_dir, &manifest, &planned, outcomes, true)?;
    // A 0.1 file cleared away and written again was replaced, not created.
    Ok(outcomes
        .into_iter()
        .map(|o| match o {
            FileOutcome::Created(p) if replaced.contains(&p) => FileOutcome::Updated(p),
            other => other,
        })
        .collect())
}

/// `update --templates DIR`: the team's template set becomes the project's own
/// (`.dieselkit/templates/`, replaced), so that later `generate`s render with it too.
fn adopt_templates(project_dir: &Path, dir: &Path) -> Result<()> {
    if !dir.is_dir() {
        return Err(Error::usage(format!(
            "templates directory `{}` does not exist; `--templates` takes a directory mirroring dieselkit's templates/project",
            dir.display()
        )));
    }
    let own = project_dir.join(".dieselkit/templates");
    let staged = project_dir.join(".dieselkit/templates.new");
    if staged.exists() {
        fs_err::remove_dir_all(&staged)?;
    }
    crate::write::copy_dir(dir, &staged, &|_, _| false)?;
    if own.exists() {
        fs_err::remove_dir_all(&own)?;
    }
    fs_err::rename(&staged, &own)?;
    Ok(())
}

/// The files `model` produces in this project (its `.dieselkit/templates` overrides
/// applied), with `src/schema.rs` for `schema_after`, the model file and `extra`.
/// `manifest` is the project's (what was written last time).
fn plan_files(
    project_dir: &Path,
    manifest: &Manifest,
    model: &Model,
    schema_after: &Schema,
    extra: Vec<PlannedFile>,
    fmt: bool,
) -> Result<Vec<PlannedFile>> {
    let overrides = project_dir.join(".dieselkit/templates");
    let mut planned =
        render::render_templates(model, overrides.is_dir().then_some(overrides.as_path()))?;
    planned.push(PlannedFile {
        path: "src/schema.rs".into(),
        contents: schema::rust::render_schema_rs(schema_after, model.backend).into_bytes(),
        rendered: None,
    });
    planned.push(PlannedFile {
        path: MODEL_FILE.into(),
        contents: model.to_toml().into_bytes(),
        rendered: None,
    });
    planned.extend(extra);
    if fmt {
        // What rustfmt made of an unchanged render last time: the file as written (a
        // user-owned one: its base copy, if the user edited it).
        let base = project_dir.join(crate::ownership::BASE_DIR);
        let previous = |path: &Path, rendered: &str| {
            manifest.formatted(
                &render::path_key(path),
                rendered,
                &[project_dir.join(path), base.join(path)],
            )
        };
        crate::format::rustfmt(&mut planned, Some(project_dir), &previous)?;
    }
    Ok(planned)
}

/// Clears the 0.1 files away before the current layout is written. A 0.1 file whose
/// code is now dieselkit's (no longer planned, or `src/lib.rs` and the per-resource files
/// in `src/models/` and `src/routes/`, which are now the user's and hold no generated code)
/// is removed when unedited and moved to `.dieselkit/edited/` when edited, for the edits to
/// be ported. An unedited 0.1 file the user now owns (README.md, main.rs) is removed so
/// that the current version is created in its place; an edited one stays.
/// Returns what it did, and the planned paths it cleared (written again by `apply`).
fn leave_0_1_layout(
    project_dir: &Path,
    manifest: &Manifest,
    planned: &[PlannedFile],
) -> Result<(Vec<FileOutcome>, Vec<PathBuf>)> {
    let mut outcomes = Vec::new();
    let mut replaced = Vec::new();
    for key in manifest.paths() {
        if key.starts_with("migrations/") || key == MODEL_FILE {
            continue;
        }
        let owner = crate::ownership::owner(key);
        let rel = PathBuf::from(key);
        let target = project_dir.join(&rel);
        let Ok(bytes) = fs_err::read(&target) else {
            continue;
        };
        let in_plan = planned.iter().any(|p| p.path == rel);
        let held_generated_code = owner == Owner::User
            && (key == "src/lib.rs"
                || key.starts_with("src/models/")
                || key.starts_with("src/routes/"));
        if in_plan && owner == Owner::Dieselkit {
            continue; // rewritten by `apply`, saved first when edited
        }
        let planned_bytes = planned.iter().find(|p| p.path == rel).map(|p| &p.contents);
        if planned_bytes == Some(&bytes) {
            continue; // already what this version writes
        }
        if manifest.unedited(key, &bytes) {
            fs_err::remove_file(&target)?;
            if in_plan {
                replaced.push(rel);
            } else {
                outcomes.push(FileOutcome::Removed(rel));
            }
        } else if !in_plan || held_generated_code {
            let saved = Path::new(SAVED_DIR).join(&rel);
            write_atomically(&project_dir.join(&saved), &bytes)?;
            fs_err::remove_file(&target)?;
            if in_plan {
                replaced.push(rel.clone());
            }
            outcomes.push(FileOutcome::MovedAside { path: rel, saved });
        }
    }
    // The directory the 0.1 layout had and the current one does not.
    let docs = project_dir.join("src/docs");
    if docs.is_dir() && fs_err::read_dir(&docs)?.next().is_none() {
        fs_err::remove_dir(&docs)?;
    }
    Ok((outcomes, replaced))
}

/// `update` on one of the user's files: the new version of its template is merged in,
/// three-way, with the version dieselkit last wrote (under `.dieselkit/base/`) as the
/// ancestor, like git: unedited, it is simply replaced; edited, the user's changes and the
/// template's are both kept, with conflict markers only where both changed the same lines.
/// Nothing happens without a recorded ancestor (projects from before it was kept) or when
/// the template did not change.
fn merge_user_file(
    project_dir: &Path,
    f: &PlannedFile,
    existing: &[u8],
) -> Result<Option<FileOutcome>> {
    let base_path = project_dir.join(crate::ownership::BASE_DIR).join(&f.path);
    let Ok(base) = fs_err::read(&base_path) else {
        return Ok(None);
    };
    if base == f.contents {
        return Ok(None);
    }
    let target = project_dir.join(&f.path);
    let outcome = if base == existing {
        write_atomically(&target, &f.contents)?;
        FileOutcome::Updated(f.path.clone())
    } else {
        let (base, ours, theirs) = (
            String::from_utf8_lossy(&base),
            String::from_utf8_lossy(existing),
            String::from_utf8_lossy(&f.contents),
        );
        match diffy::merge(&base, &ours, &theirs) {
            Ok(merged) => {
                write_atomically(&target, merged.as_bytes())?;
                FileOutcome::Merged(f.path.clone())
            }
            Err(with_markers) => {
                write_atomically(&target, with_markers.as_bytes())?;
                FileOutcome::Conflicted(f.path.clone())
            }
        }
    };
    write_atomically(&base_path, &f.contents)?;
    Ok(Some(outcome))
}

/// Write `planned` into the project by owner, then remove what the plan no longer has.
/// With `merge` (`update`), template changes are merged into the user's files too (see
/// [`merge_user_file`]).
fn apply(
    project_dir: &Path,
    manifest: &Manifest,
    planned: &[PlannedFile],
    mut outcomes: Vec<FileOutcome>,
    merge: bool,
) -> Result<Vec<FileOutcome>> {
    let mut recorded = manifest.clone();
    for f in planned {
        let key = f.key();
        let target = project_dir.join(&f.path);
        let Ok(existing) = fs_err::read(&target) else {
            write_atomically(&target, &f.contents)?;
            if crate::ownership::merged_by_update(&key) {
                let base = project_dir.join(crate::ownership::BASE_DIR).join(&f.path);
                write_atomically(&base, &f.contents)?;
            }
            outcomes.push(FileOutcome::Created(f.path.clone()));
            recorded.record_file(f);
            continue;
        };
        if same_up_to_layout(&key, &existing, &f.contents) {
            // Already the new version, or the new version after `cargo fmt`.
            recorded.record_file(f);
            continue;
        }
        if key == MODEL_FILE {
            write_atomically(&target, &f.contents)?;
            recorded.record_file(f);
            continue;
        }
        match crate::ownership::owner(&key) {
            Owner::Dieselkit => {
                if manifest.unedited(&key, &existing) {
                    outcomes.push(FileOutcome::Updated(f.path.clone()));
                } else {
                    let saved = Path::new(SAVED_DIR).join(&f.path);
                    write_atomically(&project_dir.join(&saved), &existing)?;
                    outcomes.push(FileOutcome::RewroteEdited {
                        path: f.path.clone(),
                        saved,
                    });
                }
                write_atomically(&target, &f.contents)?;
                recorded.record_file(f);
            }
            // The user's files are never rewritten, but Cargo.toml gains what the generated
            // code needs. The manifest keeps the version dieselkit created.
            Owner::User if key == "Cargo.toml" => {
                let mine = String::from_utf8_lossy(&existing);
                let fresh = String::from_utf8_lossy(&f.contents);
                if let Some((text, what)) = crate::ownership::merge_cargo_toml(&mine, &fresh)? {
                    write_atomically(&target, text.as_bytes())?;
                    outcomes.push(FileOutcome::Added {
                        path: f.path.clone(),
                        what,
                    });
                }
            }
            Owner::User if merge && crate::ownership::merged_by_update(&key) => {
                if let Some(outcome) = merge_user_file(project_dir, f, &existing)? {
                    if matches!(outcome, FileOutcome::Updated(_)) {
                        recorded.record_file(f);
                    }
                    outcomes.push(outcome);
                }
            }
            Owner::User => {}
        }
    }
    // Files the plan no longer has (a removed or renamed resource). Migrations stay.
    let in_plan: std::collections::HashSet<&Path> =
        planned.iter().map(|p| p.path.as_path()).collect();
    for key in manifest.paths() {
        let rel = PathBuf::from(key);
        if in_plan.contains(rel.as_path()) || key.starts_with("migrations/") {
            continue;
        }
        let target = project_dir.join(&rel);
        let Ok(bytes) = fs_err::read(&target) else {
            recorded.forget(key);
            continue;
        };
        if manifest.unedited(key, &bytes) {
            fs_err::remove_file(&target)?;
            recorded.forget(key);
            outcomes.push(FileOutcome::Removed(rel));
        } else if crate::ownership::owner(key) == Owner::Dieselkit {
            let saved = Path::new(SAVED_DIR).join(&rel);
            write_atomically(&project_dir.join(&saved), &bytes)?;
            fs_err::remove_file(&target)?;
            recorded.forget(key);
            outcomes.push(FileOutcome::RewroteEdited { path: rel, saved });
        } else {
            outcomes.push(FileOutcome::KeptOrphan(rel));
        }
    }
    write_atomically(
        &project_dir.join(crate::write::MANIFEST_PATH),
        recorded.to_text().as_bytes(),
    )?;
    Ok(outcomes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(
            slug("Add display_name to users!"),
            "add_display_name_to_users"
        );
        assert_eq!(slug("  "), "change");
    }
}

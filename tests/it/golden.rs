//! Golden SQL: for each case under `tests/golden/` (a model before and after, and the hints
//! the CLI would pass), the migration dieselkit writes on each backend must be exactly the
//! recorded `<backend>.up.sql` / `<backend>.down.sql`. Every kind of schema change has a case.
//! After an intended change to the SQL, `DIESELKIT_BLESS=1 cargo test --all-features --test it
//! golden` rewrites the files; review the diff.

use dieselkit::spec::{Backend, Model, ProjectFile};
use std::path::{Path, PathBuf};

#[derive(serde::Deserialize, Default)]
struct CaseHints {
    #[serde(default)]
    allow_drop: bool,
    /// (resource, field, SQL expression), as `--backfill RESOURCE.FIELD=SQL`.
    #[serde(default)]
    backfill: Vec<(String, String, String)>,
}

fn model(dir: &Path, file: &str, backend: Backend) -> Model {
    let resources = std::fs::read_to_string(dir.join(file)).expect(file);
    let text = format!("[project]\nname = \"golden\"\nbackend = \"{backend}\"\n\n{resources}");
    let file: ProjectFile = toml::from_str(&text).expect("case toml");
    Model::from_file(&file).expect("case model")
}

fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .expect("tests/golden")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

/// The migration for one case on one backend: (up.sql, down.sql, what the diff produced).
fn migration(dir: &Path, backend: Backend) -> (String, String, Vec<dieselkit::diff::Op>) {
    let hints: CaseHints = std::fs::read_to_string(dir.join("hints.toml"))
        .map(|t| toml::from_str(&t).expect("hints.toml"))
        .unwrap_or_default();
    let before = model(dir, "before.toml", backend);
    let after = model(dir, "after.toml", backend);
    let hints =
        dieselkit::ops::evolve::hints(&after, &hints.backfill, hints.allow_drop).expect("hints");
    let ops = dieselkit::diff::diff_with(
        &dieselkit::ops::evolve::desired(&before),
        &dieselkit::ops::evolve::desired(&after),
        &hints,
    )
    .unwrap_or_else(|problems| panic!("{}: {problems:?}", dir.display()));
    let sql = dieselkit::sql::migration_sql(&ops, backend);
    (sql.up, sql.down, ops)
}

#[test]
fn migrations_match_the_golden_sql_on_every_backend() {
    let bless = std::env::var_os("DIESELKIT_BLESS").is_some();
    let mut differ = Vec::new();
    let mut kinds = std::collections::BTreeSet::new();
    for dir in cases() {
        for backend in [Backend::Sqlite, Backend::Postgres, Backend::Mysql] {
            let (up, down, ops) = migration(&dir, backend);
            assert!(
                !ops.is_empty(),
                "{}: the case changes nothing",
                dir.display()
            );
            // The kind of each step: a whole-table operation or a change to a table.
            for step in ops.iter().flat_map(dieselkit::diff::Op::steps) {
                let kind = match step {
                    dieselkit::diff::Step::Table(op) => format!("{op:?}"),
                    dieselkit::diff::Step::Change { change, .. } => format!("{change:?}"),
                };
                kinds.insert(kind.split([' ', '(', '{']).next().unwrap_or("").to_string());
            }
            for (file, actual) in [
                (format!("{backend}.up.sql"), up),
                (format!("{backend}.down.sql"), down),
            ] {
                let path = dir.join(&file);
                let expected = std::fs::read_to_string(&path).unwrap_or_default();
                if expected != actual {
                    if bless {
                        std::fs::write(&path, &actual).expect("bless");
                    } else {
                        differ.push(format!(
                            "{}:\n--- expected\n{expected}\n--- actual\n{actual}",
                            path.display()
                        ));
                    }
                }
            }
        }
    }
    assert!(
        differ.is_empty(),
        "{} file(s) differ (DIESELKIT_BLESS=1 rewrites them after an intended change):\n{}",
        differ.len(),
        differ.join("\n")
    );
    // Every kind of operation and table change the diff engine emits has a case.
    let all = [
        "CreateTable",
        "DropTable",
        "RenameTable",
        "AddColumn",
        "DropColumn",
        "RenameColumn",
        "AlterColumn",
        "CreateIndex",
        "DropIndex",
        "AddForeignKey",
        "DropForeignKey",
    ];
    let missing: Vec<&str> = all
        .iter()
        .copied()
        .filter(|k| !kinds.contains(*k))
        .collect();
    assert!(missing.is_empty(), "no golden case for {missing:?}");
}

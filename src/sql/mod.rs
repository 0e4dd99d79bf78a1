//! Operations to SQL, per backend. One renderer walks the [`Op`]s; a [`Dialect`] supplies
//! what differs between SQLite, PostgreSQL and MySQL (type names, key columns, where
//! indexes go, extra statements), so there is no second code path per backend.

use crate::dialect::{self, column_sql, Dialect};
use crate::diff::{Change, Op, Step};
use crate::schema::{Index, SqlType, Table};
use crate::spec::Backend;

/// Quote a string literal for SQL (standard doubling of single quotes; MySQL also treats
/// backslash as an escape, so it is doubled there).
pub fn quote_literal(text: &str, backend: Backend) -> String {
    crate::dialect::of(backend).quote(text)
}

/// The longest key prefix, in characters, InnoDB indexes for utf8mb4 (3072 bytes / 4).
pub use crate::dialect::MYSQL_MAX_INDEX_CHARS;

/// The SQL type of a column on a backend (see each [`Dialect`]).
pub fn type_sql(ty: &SqlType, backend: Backend) -> String {
    dialect::of(backend).type_sql(ty)
}

/// Index columns, with a key prefix where the engine cannot index the whole value.
fn index_columns(table: &Table, index: &Index, d: &dyn Dialect) -> String {
    index
        .columns
        .iter()
        .map(|name| d.index_column(name, table.column(name).map(|c| &c.sql_type)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn create_index(table: &Table, index: &Index, d: &dyn Dialect) -> String {
    format!(
        "CREATE {}INDEX {} ON {} ({})",
        if index.unique { "UNIQUE " } else { "" },
        index.name,
        table.name,
        index_columns(table, index, d)
    )
}

fn create_table(table: &Table, d: &dyn Dialect) -> Vec<String> {
    let mut lines: Vec<String> = table.columns.iter().map(|c| column_sql(c, d)).collect();
    if d.inline_indexes() {
        for index in &table.indexes {
            lines.push(format!(
                "{}INDEX {} ({})",
                if index.unique { "UNIQUE " } else { "" },
                index.name,
                index_columns(table, index, d)
            ));
        }
    }
    for fk in &table.foreign_keys {
        lines.push(format!(
            "CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({}) ON DELETE {}",
            fk.name,
            fk.column,
            fk.ref_table,
            fk.ref_column,
            fk.on_delete.sql()
        ));
    }
    let mut statements = vec![format!(
        "CREATE TABLE {} (\n    {}\n){}",
        table.name,
        lines.join(",\n    "),
        d.table_options()
    )];
    if !d.inline_indexes() {
        statements.extend(table.indexes.iter().map(|i| create_index(table, i, d)));
    }
    if table.column("updated_at").is_some() {
        statements.extend(d.manage_updated_at(&table.name));
    }
    statements
}

fn add_foreign_key(table: &str, fk: &crate::schema::ForeignKey) -> String {
    format!(
        "ALTER TABLE {table} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({}) ON DELETE {}",
        fk.name,
        fk.column,
        fk.ref_table,
        fk.ref_column,
        fk.on_delete.sql()
    )
}

/// SQLite's documented way to change a table it cannot ALTER: create the new shape,
/// copy the rows, drop the old table, rename, recreate the indexes.
fn sqlite_rebuild(before: &Table, after: &Table) -> Vec<String> {
    let tmp = format!("{}{REBUILD_SUFFIX}", after.name);
    let mut shape = after.clone();
    shape.name = tmp.clone();
    shape.indexes.clear();
    let sqlite = dialect::of(Backend::Sqlite);
    let mut out = create_table(&shape, sqlite);
    // The columns both shapes have, copied under the same name.
    let common = after
        .columns
        .iter()
        .filter(|c| before.column(&c.name).is_some())
        .map(|c| c.name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    out.push(format!(
        "INSERT INTO {tmp} ({common}) SELECT {common} FROM {}",
        before.name
    ));
    out.push(format!("DROP TABLE {}", before.name));
    out.push(format!("ALTER TABLE {tmp} RENAME TO {}", after.name));
    out.extend(after.indexes.iter().map(|i| create_index(after, i, sqlite)));
    out
}

/// Rename a table and the indexes and foreign keys named after it. Other tables'
/// references follow the table by themselves (PostgreSQL and InnoDB track them by
/// identity; SQLite 3.26+ rewrites them on `RENAME TO`).
fn rename_table(from: &Table, to: &Table, d: &dyn Dialect) -> Vec<String> {
    let mut out = vec![d.rename_table(&from.name, &to.name)];
    for (old, new) in from.indexes.iter().zip(&to.indexes) {
        if old.name == new.name {
            continue;
        }
        match d.rename_index(&to.name, &old.name, &new.name) {
            Some(rename) => out.push(rename),
            // It cannot be renamed: build it again under the new name.
            None => {
                out.push(d.drop_index(&to.name, &old.name));
                out.push(create_index(to, new, d));
            }
        }
    }
    for (old, new) in from.foreign_keys.iter().zip(&to.foreign_keys) {
        if old.name == new.name {
            continue;
        }
        match d.rename_foreign_key(&to.name, &old.name, &new.name) {
            Some(rename) => out.extend(rename),
            // It cannot be renamed: drop it and add it again under the new name.
            None => {
                out.push(d.drop_foreign_key(&to.name, &old.name));
                out.push(add_foreign_key(&to.name, new));
            }
        }
    }
    out
}

fn backfill_update(table: &str, column: &str, expr: &str) -> String {
    format!("UPDATE {table} SET {column} = {expr} WHERE {column} IS NULL")
}

/// The SQL statements (without trailing `;`) that perform `op`, each change of a table on
/// its own (see [`migration_sql`] for SQLite's one rebuild per table).
pub fn statements(op: &Op, backend: Backend) -> Vec<String> {
    let d = dialect::of(backend);
    match op {
        Op::CreateTable(table) => create_table(table, d),
        Op::DropTable(table) => vec![format!("DROP TABLE {}", table.name)],
        Op::RenameTable { from, to } => rename_table(from, to, d),
        Op::ChangeTable(change) => change
            .walk()
            .iter()
            .flat_map(|(before, c, after)| change_statements(before, c, after, d))
            .collect(),
    }
}

/// The SQL of one change to a table, `before` and `after` being the table around it.
fn change_statements(
    before: &Table,
    change: &Change,
    after: &Table,
    d: &dyn Dialect,
) -> Vec<String> {
    // An engine that cannot alter columns or constraints in place (SQLite) rebuilds the
    // table instead, and declares a new column's foreign key inline.
    let in_place = d.alters_in_place();
    let table = &after.name;
    match change {
        Change::AddColumn {
            column, backfill, ..
        } => {
            let fk = after
                .foreign_keys
                .iter()
                .find(|fk| fk.column == column.name);
            let mut out = Vec::new();
            let needs_backfill = !column.nullable && column.default.is_none();
            let mut first = column.clone();
            if needs_backfill {
                first.nullable = true;
            }
            let mut add = format!("ALTER TABLE {table} ADD COLUMN {}", column_sql(&first, d));
            if let (false, Some(fk)) = (in_place, fk) {
                add.push_str(&format!(
                    " REFERENCES {} ({}) ON DELETE {}",
                    fk.ref_table,
                    fk.ref_column,
                    fk.on_delete.sql()
                ));
            }
            out.push(add);
            if fk.is_some() {
                for index in after
                    .indexes
                    .iter()
                    .filter(|i| i.columns == [column.name.clone()])
                {
                    out.push(create_index(after, index, d));
                }
            }
            if let (true, Some(fk)) = (in_place, fk) {
                out.push(add_foreign_key(table, fk));
            }
            if needs_backfill {
                match backfill {
                    Some(expr) => out.push(backfill_update(table, &column.name, expr)),
                    None => out.push(format!("-- dieselkit: no backfill given for {table}.{}; rows must get a value before NOT NULL", column.name)),
                }
                if in_place {
                    out.push(d.set_not_null(table, column));
                } else {
                    out.extend(sqlite_rebuild(&relaxed(after, &column.name), after));
                }
            }
            out
        }
        Change::DropColumn { column, .. } => {
            let fk = before
                .foreign_keys
                .iter()
                .find(|fk| fk.column == column.name);
            match (in_place, fk) {
                (false, Some(_)) => sqlite_rebuild(before, after),
                (true, Some(fk)) => vec![
                    d.drop_foreign_key(table, &fk.name),
                    format!("ALTER TABLE {table} DROP COLUMN {}", column.name),
                ],
                (_, None) => vec![format!("ALTER TABLE {table} DROP COLUMN {}", column.name)],
            }
        }
        Change::RenameColumn { from, to } => {
            vec![format!("ALTER TABLE {table} RENAME COLUMN {from} TO {to}")]
        }
        Change::AlterColumn { from, to, backfill } => {
            let mut out = Vec::new();
            if let Some(expr) = backfill {
                if from.nullable && !to.nullable {
                    out.push(backfill_update(table, &to.name, expr));
                }
            }
            if in_place {
                out.extend(d.alter_column(table, from, to));
            } else {
                out.extend(sqlite_rebuild(before, after));
            }
            out
        }
        Change::CreateIndex(index) => vec![create_index(before, index, d)],
        Change::DropIndex(index) => vec![d.drop_index(table, &index.name)],
        Change::AddForeignKey(fk) | Change::DropForeignKey(fk) => match (in_place, change) {
            (false, _) => sqlite_rebuild(before, after),
            (true, Change::AddForeignKey(_)) => vec![add_foreign_key(table, fk)],
            (true, _) => vec![d.drop_foreign_key(table, &fk.name)],
        },
    }
}

/// `table` with `column` nullable: where a NOT NULL column added without a default is
/// before its backfill.
fn relaxed(table: &Table, column: &str) -> Table {
    let mut relaxed = table.clone();
    for c in &mut relaxed.columns {
        if c.name == column {
            c.nullable = true;
        }
    }
    relaxed
}

/// The temporary table a SQLite rebuild creates; nothing else uses this suffix.
pub const REBUILD_SUFFIX: &str = "__dieselkit_new";

/// Does this SQL rebuild a table (`sqlite_rebuild`: copy into a new table, drop the old
/// one, rename the new one)?
fn rebuilds_a_table(sql: &str) -> bool {
    sql.contains(&format!("{REBUILD_SUFFIX} RENAME TO "))
}

/// For each of `op`'s [`steps`](Op::steps): does it rebuild its table on `backend`, in
/// either direction?
pub fn rebuilding_steps(op: &Op, backend: Backend) -> Vec<bool> {
    let d = dialect::of(backend);
    let rebuilds = |sql: Vec<String>| sql.iter().any(|s| rebuilds_a_table(s));
    match op {
        Op::ChangeTable(change) => change
            .walk()
            .iter()
            .map(|(before, c, after)| {
                rebuilds(change_statements(before, c, after, d))
                    || rebuilds(change_statements(after, &c.inverse(), before, d))
            })
            .collect(),
        whole => vec![
            rebuilds(statements(whole, backend)) || rebuilds(statements(&whole.inverse(), backend)),
        ],
    }
}

/// The statement a SQLite migration starts with when it switches foreign keys off around
/// its own transaction, and the one it ends with.
pub const SQLITE_FOREIGN_KEYS_OFF: &str = "PRAGMA foreign_keys = OFF";
pub const SQLITE_FOREIGN_KEYS_ON: &str = "PRAGMA foreign_keys = ON";

/// metadata.toml of a migration that manages its own transaction.
pub const OWN_TRANSACTION_METADATA: &str = "\
# SQLite ignores `PRAGMA foreign_keys` inside a transaction, so up.sql and down.sql open
# their own (see the comment at the top of up.sql). Keep this file with them.
run_in_transaction = false
";

/// SQLite's documented procedure for changes it cannot make with ALTER TABLE
/// (<https://www.sqlite.org/lang_altertable.html#otheralter>): foreign keys off outside
/// the transaction, the rebuild, `foreign_key_check` before COMMIT (a dangling reference
/// fails the statement, so the transaction is never committed), foreign keys back on.
/// Without it, `DROP TABLE parent` deletes every child row (`ON DELETE CASCADE`) or fails
/// (`RESTRICT`), because the bundled SQLite of diesel and dieselkit enforces foreign keys.
fn sqlite_own_transaction(body: &str) -> String {
    format!(
        "\
-- dieselkit: SQLite rebuilds a table here (new table, copy the rows, drop the old one).
-- Foreign keys are off around this transaction so that dropping the old table neither
-- deletes nor blocks the rows that reference it; before COMMIT every reference is checked
-- and a dangling one fails the migration, which is then rolled back. PRAGMA foreign_keys
-- has no effect inside a transaction, hence run_in_transaction = false in metadata.toml.
{SQLITE_FOREIGN_KEYS_OFF};
BEGIN IMMEDIATE;
{body}\
CREATE TEMP TABLE dieselkit_foreign_key_check (violations INTEGER NOT NULL CONSTRAINT every_reference_must_match_a_row CHECK (violations = 0));
INSERT INTO dieselkit_foreign_key_check SELECT count(*) FROM pragma_foreign_key_check;
DROP TABLE dieselkit_foreign_key_check;
COMMIT;
{SQLITE_FOREIGN_KEYS_ON};
"
    )
}

/// A migration's SQL: up.sql, down.sql, and metadata.toml when it needs one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationSql {
    pub up: String,
    pub down: String,
    pub metadata: Option<String>,
}

/// A migration's up.sql and down.sql for a list of operations: down.sql undoes the
/// operations in reverse order. On SQLite, a migration that rebuilds a table in either
/// direction runs both directions in their own transaction with foreign keys off.
pub fn migration_sql(ops: &[Op], backend: Backend) -> MigrationSql {
    let (up, down) = up_and_down(ops, backend);
    let rebuilds = !dialect::of(backend).alters_in_place();
    if rebuilds && (rebuilds_a_table(&up) || rebuilds_a_table(&down)) {
        MigrationSql {
            up: sqlite_own_transaction(&up),
            down: sqlite_own_transaction(&down),
            metadata: Some(OWN_TRANSACTION_METADATA.into()),
        }
    } else {
        MigrationSql {
            up,
            down,
            metadata: None,
        }
    }
}

/// A migration's up.sql and down.sql for a list of operations: down.sql undoes the
/// operations in reverse order.
pub fn up_and_down(ops: &[Op], backend: Backend) -> (String, String) {
    let down: Vec<Op> = ops.iter().rev().map(Op::inverse).collect();
    (script(ops, backend, false), script(&down, backend, true))
}

/// The comment put before a step: what it destroys. Going down, `step` undoes a step of
/// up.sql, which may have destroyed what this step only restores the shape of.
fn note(step: &Step, down: bool) -> Option<String> {
    let undone = step.inverse();
    if down && undone.is_destructive() {
        Some(format!(
            "-- dieselkit: restores the structure undone by `{}`, not the data it removed",
            undone.describe()
        ))
    } else if step.is_destructive() {
        Some(if down {
            format!(
                "-- dieselkit: DESTRUCTIVE: {}; data added since up.sql ran is lost",
                step.describe()
            )
        } else {
            format!(
                "-- dieselkit: DESTRUCTIVE: {}; the data it removes cannot be restored by down.sql",
                step.describe()
            )
        })
    } else {
        None
    }
}

/// The SQL of `ops` in order, each step after its note. On SQLite, a table two or more of
/// whose changes would each rebuild it gets one rebuild (see [`sqlite_merged`]).
fn script(ops: &[Op], backend: Backend, down: bool) -> String {
    let d = dialect::of(backend);
    let mut out = String::new();
    let mut push = |statement: &str| {
        out.push_str(statement);
        out.push_str(if statement.starts_with("--") {
            "\n"
        } else {
            ";\n"
        });
    };
    for op in ops {
        let Op::ChangeTable(change) = op else {
            if let Some(note) = note(&Step::Table(op.clone()), down) {
                push(&note);
            }
            for statement in statements(op, backend) {
                push(&statement);
            }
            continue;
        };
        let walk = change.walk();
        let notes: Vec<Option<String>> = walk
            .iter()
            .map(|(_, c, _)| {
                let step = Step::Change {
                    table: change.name().to_string(),
                    change: c.clone(),
                };
                note(&step, down)
            })
            .collect();
        // Each change's SQL, rendered once: for the output, and on SQLite to see how many
        // of them would rebuild the table.
        let rendered: Vec<Vec<String>> = walk
            .iter()
            .map(|(before, c, after)| change_statements(before, c, after, d))
            .collect();
        let rebuilding = rendered
            .iter()
            .filter(|sql| sql.iter().any(|s| rebuilds_a_table(s)))
            .count();
        if !d.alters_in_place() && rebuilding >= 2 {
            for note in notes.iter().flatten() {
                push(note);
            }
            for statement in sqlite_merged(&walk) {
                push(&statement);
            }
        } else {
            for (note, sql) in notes.iter().zip(&rendered) {
                if let Some(note) = note {
                    push(note);
                }
                for statement in sql {
                    push(statement);
                }
            }
        }
    }
    out
}

/// SQLite: the changes to one table (two or more of which would rebuild it) with one
/// rebuild instead of one each, so a big table is copied once per migration. First what
/// changes the table in place, in order (columns added, renamed or dropped, index drops,
/// backfills); then one copy into the table's final shape, which brings every type,
/// nullability, default and foreign-key change at once and recreates its indexes.
fn sqlite_merged(walk: &[(Table, Change, Table)]) -> Vec<String> {
    let sqlite = dialect::of(Backend::Sqlite);
    let mut out = Vec::new();
    for (before, change, after) in walk {
        let table = &after.name;
        match change {
            Change::AddColumn {
                column,
                backfill,
                foreign_key,
                indexes,
            } if !column.nullable && column.default.is_none() => {
                // Added nullable, filled, made NOT NULL by the rebuild.
                let mut nullable = column.clone();
                nullable.nullable = true;
                let add = Change::AddColumn {
                    column: nullable,
                    backfill: None,
                    foreign_key: foreign_key.clone(),
                    indexes: indexes.clone(),
                };
                out.extend(change_statements(
                    before,
                    &add,
                    &relaxed(after, &column.name),
                    sqlite,
                ));
                out.push(match backfill {
                    Some(expr) => backfill_update(table, &column.name, expr),
                    None => format!("-- dieselkit: no backfill given for {table}.{}; rows must get a value before NOT NULL", column.name),
                });
            }
            Change::AlterColumn { from, to, backfill } => {
                if let (Some(expr), true) = (backfill, from.nullable && !to.nullable) {
                    out.push(backfill_update(table, &to.name, expr));
                }
            }
            Change::DropColumn { column, .. }
                if before
                    .foreign_keys
                    .iter()
                    .any(|fk| fk.column == column.name) => {}
            // The rebuild brings foreign keys and creates the indexes.
            Change::AddForeignKey(_) | Change::DropForeignKey(_) | Change::CreateIndex(_) => {}
            other => out.extend(change_statements(before, other, after, sqlite)),
        }
    }
    if let Some((_, _, shape)) = walk.last() {
        // Every column of the final shape is in the table by now, under its final name.
        out.extend(sqlite_rebuild(shape, shape));
    }
    out
}

/// PostgreSQL projects start with Diesel's setup migration: the functions behind
/// `diesel_manage_updated_at`, which keeps `updated_at` current with a trigger.
pub const POSTGRES_SETUP_DIR: &str = "00000000000000_diesel_initial_setup";

pub const POSTGRES_SETUP_UP: &str = "\
-- Diesel's setup migration: helpers for keeping `updated_at` current.
-- Usage: SELECT diesel_manage_updated_at('table_name');
-- adds a trigger that sets updated_at on every UPDATE that does not set it itself.

CREATE OR REPLACE FUNCTION diesel_manage_updated_at(_tbl regclass) RETURNS VOID AS $$
BEGIN
    EXECUTE format('CREATE TRIGGER set_updated_at BEFORE UPDATE ON %s
                    FOR EACH ROW EXECUTE PROCEDURE diesel_set_updated_at()', _tbl);
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION diesel_set_updated_at() RETURNS trigger AS $$
BEGIN
    IF (
        NEW IS DISTINCT FROM OLD AND
        NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at
    ) THEN
        NEW.updated_at := current_timestamp;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
";

pub const POSTGRES_SETUP_DOWN: &str = "\
DROP FUNCTION IF EXISTS diesel_manage_updated_at(_tbl regclass);
DROP FUNCTION IF EXISTS diesel_set_updated_at();
";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::{diff, diff_with, Hints};
    use crate::schema::Schema;
    use diesel::connection::SimpleConnection;
    use diesel::{Connection, RunQueryDsl};

    fn schema(books: &str) -> Schema {
        let toml = format!(
            r#"
            [project]
            name = "shop"
            backend = "sqlite"
            [[resources]]
            name = "author"
            fields = ["name:string(50)"]
            [[resources]]
            name = "book"
            fields = [{books}, "author:references"]
            [[resources]]
            name = "review"
            fields = ["body:text", "book:references"]
            "#
        );
        let file: crate::spec::ProjectFile = toml::from_str(&toml).expect("toml");
        crate::schema::from_model(&crate::spec::Model::from_file(&file).expect("model"))
    }

    /// How many of `ops`' changes would each rebuild their table on SQLite, on their own.
    fn rebuilding_on_sqlite(ops: &[Op]) -> usize {
        let sqlite = dialect::of(Backend::Sqlite);
        ops.iter()
            .flat_map(|op| match op {
                Op::ChangeTable(change) => change.walk(),
                _ => Vec::new(),
            })
            .filter(|(before, c, after)| {
                change_statements(before, c, after, sqlite)
                    .iter()
                    .any(|s| rebuilds_a_table(s))
            })
            .count()
    }

    /// How many table copies a script makes.
    fn copies(sql: &str) -> usize {
        sql.matches(&format!("{REBUILD_SUFFIX} RENAME TO ")).count()
    }

    /// An in-memory SQLite database with `schema`'s tables (foreign keys enforced) and `rows`.
    fn sqlite_with(schema: &Schema, rows: &str) -> diesel::SqliteConnection {
        let mut conn = diesel::SqliteConnection::establish(":memory:").expect("sqlite");
        conn.batch_execute("PRAGMA foreign_keys = ON")
            .expect("pragma");
        let (create, _) = up_and_down(
            &diff(&Schema::default(), schema).expect("diff"),
            Backend::Sqlite,
        );
        conn.batch_execute(&create).expect("create");
        conn.batch_execute(rows).expect("rows");
        conn
    }

    fn scalar(conn: &mut diesel::SqliteConnection, sql: &str) -> String {
        let rows: Vec<crate::migrations::engine::Line> =
            diesel::sql_query(sql).load(conn).expect(sql);
        rows.into_iter()
            .map(|r| r.line)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Four changes to `books` in one migration (a wider title, `pages` made NOT NULL with a
    /// backfill, a new NOT NULL `isbn` with a backfill, a new indexed column): each would
    /// rebuild the table; the migration rebuilds it once each way, on a real SQLite database
    /// with authors, books and reviews, and keeps every row and value.
    #[test]
    fn sqlite_rebuilds_a_table_once_per_migration_and_keeps_every_row() {
        let before = schema(r#""title:string(100)", "pages:int?""#);
        let after = schema(
            r#""title:string(200)", "pages:int", "isbn:string(13)", "shelf:string(10)?:index""#,
        );
        let hints = Hints {
            backfills: vec![
                (("books".into(), "pages".into()), "0".into()),
                (("books".into(), "isbn".into()), "'unknown'".into()),
            ],
            ..Hints::default()
        };
        let ops = diff_with(&before, &after, &hints).expect("diff");
        assert!(rebuilding_on_sqlite(&ops) >= 3, "{ops:#?}");
        let sql = migration_sql(&ops, Backend::Sqlite);
        assert_eq!(copies(&sql.up), 1, "{}", sql.up);
        assert_eq!(copies(&sql.down), 1, "{}", sql.down);

        let mut conn = sqlite_with(
            &before,
            "INSERT INTO authors (name) VALUES ('Ann'), ('Bob');
             INSERT INTO books (title, pages, author_id) VALUES ('One', 10, 1), ('Two', NULL, 1), ('Three', 30, 2);
             INSERT INTO reviews (body, book_id) VALUES ('a', 1), ('b', 2), ('c', 3), ('d', 3);",
        );
        let counts = |conn: &mut diesel::SqliteConnection| {
            scalar(
                conn,
                "SELECT (SELECT count(*) FROM authors) || '/' || (SELECT count(*) FROM books) || '/' || (SELECT count(*) FROM reviews) || '/' || (SELECT count(*) FROM reviews r JOIN books b ON b.id = r.book_id JOIN authors a ON a.id = b.author_id) AS line",
            )
        };
        assert_eq!(counts(&mut conn), "2/3/4/4");
        conn.batch_execute(&sql.up).expect("up");
        assert_eq!(counts(&mut conn), "2/3/4/4");
        assert_eq!(
            scalar(
                &mut conn,
                "SELECT group_concat(title || ':' || pages || ':' || isbn, ' ') AS line FROM (SELECT * FROM books ORDER BY id)"
            ),
            "One:10:unknown Two:0:unknown Three:30:unknown"
        );
        assert_eq!(
            scalar(&mut conn, "SELECT name AS line FROM sqlite_master WHERE type = 'index' AND tbl_name = 'books' AND name LIKE '%shelf%'"),
            "index_books_on_shelf"
        );
        assert_eq!(
            scalar(
                &mut conn,
                "SELECT count(*) AS line FROM pragma_foreign_key_check"
            ),
            "0"
        );
        conn.batch_execute(&sql.down).expect("down");
        assert_eq!(counts(&mut conn), "2/3/4/4");
        assert_eq!(
            scalar(&mut conn, "SELECT group_concat(title || ':' || coalesce(pages, 'null'), ' ') AS line FROM (SELECT * FROM books ORDER BY id)"),
            "One:10 Two:0 Three:30"
        );
    }

    /// A rename and a type change of the same column and a type change of another, in one
    /// migration: renamed in place, then one copy, values kept both ways.
    #[test]
    fn sqlite_renames_in_place_before_the_one_rebuild() {
        let before = schema(r#""title:string(100)", "pages:int?""#);
        let after = schema(r#""name:string(200)", "pages:bigint?""#);
        let hints = Hints {
            renamed_columns: vec![("books".into(), "title".into(), "name".into())],
            ..Hints::default()
        };
        let ops = diff_with(&before, &after, &hints).expect("diff");
        assert!(
            matches!(&ops[0], Op::ChangeTable(c) if matches!(c.changes()[0], Change::RenameColumn { .. })),
            "{ops:#?}"
        );
        let sql = migration_sql(&ops, Backend::Sqlite);
        assert_eq!((copies(&sql.up), copies(&sql.down)), (1, 1), "{}", sql.up);

        let mut conn = sqlite_with(
            &before,
            "INSERT INTO authors (name) VALUES ('Ann');
             INSERT INTO books (title, pages, author_id) VALUES ('One', 10, 1), ('Two', NULL, 1);
             INSERT INTO reviews (body, book_id) VALUES ('a', 1), ('b', 2);",
        );
        conn.batch_execute(&sql.up).expect("up");
        let books = |conn: &mut diesel::SqliteConnection, column: &str| {
            scalar(
                conn,
                &format!("SELECT group_concat({column} || ':' || coalesce(pages, 'null'), ' ') AS line FROM (SELECT * FROM books ORDER BY id)"),
            )
        };
        assert_eq!(books(&mut conn, "name"), "One:10 Two:null");
        assert_eq!(
            scalar(&mut conn, "SELECT count(*) AS line FROM reviews"),
            "2"
        );
        conn.batch_execute(&sql.down).expect("down");
        assert_eq!(books(&mut conn, "title"), "One:10 Two:null");
        assert_eq!(
            scalar(&mut conn, "SELECT count(*) AS line FROM reviews"),
            "2"
        );
    }
}

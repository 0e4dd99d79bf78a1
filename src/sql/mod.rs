//! Operations to SQL, per backend. One renderer walks the [`Op`]s; a [`Dialect`] supplies
//! what differs between SQLite, PostgreSQL and MySQL (type names, key columns, where
//! indexes go, extra statements), so there is no second code path per backend.

use crate::dialect::{self, column_sql, Dialect};
use crate::diff::Op;
use crate::schema::{Column, Index, SqlType, Table};
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
fn sqlite_rebuild(before: &Table, after: &Table, renamed: Option<(&str, &str)>) -> Vec<String> {
    let tmp = format!("{}{REBUILD_SUFFIX}", after.name);
    let mut shape = after.clone();
    shape.name = tmp.clone();
    shape.indexes.clear();
    let sqlite = dialect::of(Backend::Sqlite);
    let mut out = create_table(&shape, sqlite);
    let common: Vec<(&str, &str)> = after
        .columns
        .iter()
        .filter_map(|c| {
            let source = match renamed {
                Some((from, to)) if c.name == to => from,
                _ => c.name.as_str(),
            };
            before.column(source).map(|_| (source, c.name.as_str()))
        })
        .collect();
    out.push(format!(
        "INSERT INTO {tmp} ({}) SELECT {} FROM {}",
        common
            .iter()
            .map(|(_, t)| *t)
            .collect::<Vec<_>>()
            .join(", "),
        common
            .iter()
            .map(|(s, _)| *s)
            .collect::<Vec<_>>()
            .join(", "),
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

/// The SQL statements (without trailing `;`) that perform `op`.
pub fn statements(op: &Op, backend: Backend) -> Vec<String> {
    let d = dialect::of(backend);
    // An engine that cannot alter columns or constraints in place (SQLite) rebuilds the
    // table instead, and declares a new column's foreign key inline.
    let in_place = d.alters_in_place();
    match op {
        Op::CreateTable(table) => create_table(table, d),
        Op::DropTable(table) => vec![format!("DROP TABLE {}", table.name)],
        Op::AddColumn {
            table,
            column,
            backfill,
            after,
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
                    let mut before = after.clone();
                    for c in &mut before.columns {
                        if c.name == column.name {
                            c.nullable = true;
                        }
                    }
                    out.extend(sqlite_rebuild(&before, after, None));
                }
            }
            out
        }
        Op::DropColumn {
            table,
            column,
            before,
        } => {
            let fk = before
                .foreign_keys
                .iter()
                .find(|fk| fk.column == column.name);
            match (in_place, fk) {
                (false, Some(_)) => {
                    let mut after = before.clone();
                    after.columns.retain(|c| c.name != column.name);
                    after.foreign_keys.retain(|f| f.column != column.name);
                    after.indexes.retain(|i| !i.columns.contains(&column.name));
                    sqlite_rebuild(before, &after, None)
                }
                (true, Some(fk)) => vec![
                    d.drop_foreign_key(table, &fk.name),
                    format!("ALTER TABLE {table} DROP COLUMN {}", column.name),
                ],
                (_, None) => vec![format!("ALTER TABLE {table} DROP COLUMN {}", column.name)],
            }
        }
        Op::RenameColumn { table, from, to } => {
            vec![format!("ALTER TABLE {table} RENAME COLUMN {from} TO {to}")]
        }
        Op::AlterColumn {
            table,
            from,
            to,
            before,
            after,
            backfill,
        } => {
            let mut out = Vec::new();
            if let Some(expr) = backfill {
                if from.nullable && !to.nullable {
                    out.push(backfill_update(table, &to.name, expr));
                }
            }
            if in_place {
                out.extend(d.alter_column(table, from, to));
            } else {
                out.extend(sqlite_rebuild(before, after, None));
            }
            out
        }
        Op::CreateIndex { index, on } => vec![create_index(on, index, d)],
        Op::DropIndex { index, on } => vec![d.drop_index(&on.name, &index.name)],
        Op::RenameTable { from, to } => rename_table(from, to, d),
        Op::AddForeignKey {
            table,
            fk,
            before,
            after,
        }
        | Op::DropForeignKey {
            table,
            fk,
            before,
            after,
        } => match (in_place, op) {
            (false, _) => sqlite_rebuild(before, after, None),
            (true, Op::AddForeignKey { .. }) => vec![add_foreign_key(table, fk)],
            (true, _) => vec![d.drop_foreign_key(table, &fk.name)],
        },
    }
}

/// The temporary table a SQLite rebuild creates; nothing else uses this suffix.
pub const REBUILD_SUFFIX: &str = "__dieselkit_new";

/// Does this SQL rebuild a table (`sqlite_rebuild`: copy into a new table, drop the old
/// one, rename the new one)?
fn rebuilds_a_table(sql: &str) -> bool {
    sql.contains(&format!("{REBUILD_SUFFIX} RENAME TO "))
}

/// Does `op` rebuild its table on `backend`, in either direction?
pub fn rebuilds(op: &Op, backend: Backend) -> bool {
    [op.clone(), op.inverse()]
        .iter()
        .flat_map(|op| statements(op, backend))
        .any(|s| rebuilds_a_table(&s))
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

pub fn up_and_down(ops: &[Op], backend: Backend) -> (String, String) {
    let up: Vec<(Option<String>, Op)> = ops
        .iter()
        .map(|op| {
            let note = op.is_destructive().then(|| {
                format!(
                    "-- dieselkit: DESTRUCTIVE: {}; the data it removes cannot be restored by down.sql",
                    op.describe()
                )
            });
            (note, op.clone())
        })
        .collect();
    let down: Vec<(Option<String>, Op)> = ops
        .iter()
        .rev()
        .map(|op| {
            let inverse = op.inverse();
            let note = if op.is_destructive() {
                Some(format!(
                    "-- dieselkit: restores the structure undone by `{}`, not the data it removed",
                    op.describe()
                ))
            } else if inverse.is_destructive() {
                Some(format!(
                    "-- dieselkit: DESTRUCTIVE: {}; data added since up.sql ran is lost",
                    inverse.describe()
                ))
            } else {
                None
            };
            (note, inverse)
        })
        .collect();
    (script(&up, backend), script(&down, backend))
}

/// The SQL of `ops` in order, each after its note. On SQLite, a run of operations on one
/// table of which two or more would each rebuild it gets one rebuild (see [`sqlite_merged`]).
fn script(ops: &[(Option<String>, Op)], backend: Backend) -> String {
    let mut out = String::new();
    let mut push = |statement: &str| {
        out.push_str(statement);
        out.push_str(if statement.starts_with("--") {
            "\n"
        } else {
            ";\n"
        });
    };
    let mut i = 0;
    while i < ops.len() {
        let table = ops[i].1.table();
        let run = ops[i..]
            .iter()
            .take_while(|(_, op)| op.table() == table)
            .count();
        let run = &ops[i..i + run];
        // Each operation's SQL, rendered once: for the output, and on SQLite to see how many
        // of them would rebuild the table.
        let rendered: Vec<Vec<String>> =
            run.iter().map(|(_, op)| statements(op, backend)).collect();
        let rebuilding = rendered
            .iter()
            .filter(|sql| sql.iter().any(|s| rebuilds_a_table(s)))
            .count();
        if !dialect::of(backend).alters_in_place() && rebuilding >= 2 {
            for note in run.iter().filter_map(|(note, _)| note.as_deref()) {
                push(note);
            }
            let run_ops: Vec<&Op> = run.iter().map(|(_, op)| op).collect();
            for statement in sqlite_merged(&run_ops) {
                push(&statement);
            }
        } else {
            for ((note, _), sql) in run.iter().zip(&rendered) {
                if let Some(note) = note {
                    push(note);
                }
                for statement in sql {
                    push(statement);
                }
            }
        }
        i += run.len();
    }
    out
}

/// The table as it is after `op`, when the operation says (a column rename does not).
fn state_after(op: &Op) -> Option<Table> {
    match op {
        Op::AddColumn { after, .. }
        | Op::AlterColumn { after, .. }
        | Op::AddForeignKey { after, .. }
        | Op::DropForeignKey { after, .. } => Some(after.clone()),
        Op::DropColumn { before, .. }
        | Op::CreateIndex { on: before, .. }
        | Op::DropIndex { on: before, .. } => {
            let applied = crate::diff::apply(
                &crate::schema::Schema {
                    tables: vec![before.clone()],
                },
                std::slice::from_ref(op),
            );
            applied.tables.into_iter().next()
        }
        _ => None,
    }
}

/// SQLite: the operations of `run` (all on one table, two or more of which would rebuild
/// it) with one rebuild instead of one each, so a big table is copied once per migration.
/// First what changes the table in place, in order (columns added, renamed or dropped, index
/// drops, backfills); then one copy into the table's final shape, which brings every type,
/// nullability, default and foreign-key change at once and recreates its indexes.
fn sqlite_merged(run: &[&Op]) -> Vec<String> {
    let mut out = Vec::new();
    for op in run {
        match op {
            Op::AddColumn {
                table,
                column,
                backfill,
                after,
            } if !column.nullable && column.default.is_none() => {
                // Added nullable, filled, made NOT NULL by the rebuild.
                let relax = |c: &mut Column| {
                    if c.name == column.name {
                        c.nullable = true;
                    }
                };
                let mut relaxed = column.clone();
                relax(&mut relaxed);
                let mut relaxed_after = after.clone();
                relaxed_after.columns.iter_mut().for_each(relax);
                out.extend(statements(
                    &Op::AddColumn {
                        table: table.clone(),
                        column: relaxed,
                        backfill: None,
                        after: relaxed_after,
                    },
                    Backend::Sqlite,
                ));
                out.push(match backfill {
                    Some(expr) => backfill_update(table, &column.name, expr),
                    None => format!("-- dieselkit: no backfill given for {table}.{}; rows must get a value before NOT NULL", column.name),
                });
            }
            Op::AlterColumn {
                table,
                from,
                to,
                backfill,
                ..
            } => {
                if let (Some(expr), true) = (backfill, from.nullable && !to.nullable) {
                    out.push(backfill_update(table, &to.name, expr));
                }
            }
            Op::DropColumn { column, before, .. }
                if before
                    .foreign_keys
                    .iter()
                    .any(|fk| fk.column == column.name) => {}
            // The rebuild brings foreign keys and creates the indexes.
            Op::AddForeignKey { .. } | Op::DropForeignKey { .. } | Op::CreateIndex { .. } => {}
            other => out.extend(statements(other, Backend::Sqlite)),
        }
    }
    // The final shape: the last operation that says, then the rest applied to it.
    let Some(last) = run.iter().rposition(|op| state_after(op).is_some()) else {
        return out;
    };
    let mut schema = crate::schema::Schema {
        tables: state_after(run[last]).into_iter().collect(),
    };
    let rest: Vec<Op> = run[last + 1..].iter().map(|op| (*op).clone()).collect();
    schema = crate::diff::apply(&schema, &rest);
    if let Some(shape) = schema.tables.first() {
        // Every column of the final shape is in the table by now, under its final name.
        out.extend(sqlite_rebuild(shape, shape, None));
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

    /// Does `op`'s own SQL rebuild its table on SQLite?
    fn rebuilds_on_sqlite(op: &Op) -> bool {
        statements(op, Backend::Sqlite)
            .iter()
            .any(|s| rebuilds_a_table(s))
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
        let rebuilding = ops.iter().filter(|op| rebuilds_on_sqlite(op)).count();
        assert!(rebuilding >= 3, "{ops:#?}");
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
        assert!(matches!(ops[0], Op::RenameColumn { .. }), "{ops:#?}");
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

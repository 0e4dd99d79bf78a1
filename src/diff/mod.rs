//! The one diff engine: `diff(current, desired)` lists the operations that turn one
//! schema into the other. `new-project`'s first migrations are `diff(empty, desired)`.

use crate::schema::{Column, ForeignKey, Index, Schema, SqlType, Table};

/// One schema change. Every operation knows its inverse, so down.sql is always the
/// reverse of up.sql. Changes to an existing table come grouped per table
/// ([`TableChange`], like diesel's `ChangeTable`), so a backend that rebuilds tables
/// (SQLite) sees every change to a table at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Create a table with its foreign keys and indexes.
    CreateTable(Table),
    DropTable(Table),
    /// Rename a table, with the indexes and foreign keys named after it. References from
    /// other tables follow the table on every backend.
    RenameTable {
        from: Table,
        to: Table,
    },
    /// Changes to the columns, indexes and foreign keys of one table, in order.
    ChangeTable(TableChange),
}

/// One change inside a [`TableChange`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// `foreign_key` and `indexes` come with the column (an index of a new foreign-key
    /// column is created with it, before the constraint).
    AddColumn {
        column: Column,
        /// SQL expression filling existing rows before NOT NULL is enforced.
        backfill: Option<String>,
        foreign_key: Option<ForeignKey>,
        indexes: Vec<Index>,
    },
    /// `foreign_key` and `indexes` go with the column.
    DropColumn {
        column: Column,
        foreign_key: Option<ForeignKey>,
        indexes: Vec<Index>,
    },
    RenameColumn {
        from: String,
        to: String,
    },
    /// Type, nullability or default change of one column.
    AlterColumn {
        from: Column,
        to: Column,
        backfill: Option<String>,
    },
    CreateIndex(Index),
    DropIndex(Index),
    /// A foreign key on a column that already exists (or stays).
    AddForeignKey(ForeignKey),
    DropForeignKey(ForeignKey),
}

/// The changes to one table, with the one snapshot they need: the table as the migration
/// finds it. Every intermediate state (what a SQLite rebuild copies, what MySQL key
/// prefixes are sized by) is computed from it. Its inverse walks the same changes
/// backwards, so down.sql sees exactly the states up.sql went through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableChange {
    /// The table before the first change (going up).
    table: Table,
    /// The changes, going up.
    changes: Vec<Change>,
    /// Whether this is the inverse: the changes undone in reverse order.
    down: bool,
}

impl Change {
    pub fn inverse(&self) -> Change {
        match self.clone() {
            Change::AddColumn {
                column,
                foreign_key,
                indexes,
                ..
            } => Change::DropColumn {
                column,
                foreign_key,
                indexes,
            },
            Change::DropColumn {
                column,
                foreign_key,
                indexes,
            } => Change::AddColumn {
                column,
                backfill: None,
                foreign_key,
                indexes,
            },
            Change::RenameColumn { from, to } => Change::RenameColumn { from: to, to: from },
            Change::AlterColumn { from, to, .. } => Change::AlterColumn {
                from: to,
                to: from,
                backfill: None,
            },
            Change::CreateIndex(i) => Change::DropIndex(i),
            Change::DropIndex(i) => Change::CreateIndex(i),
            Change::AddForeignKey(fk) => Change::DropForeignKey(fk),
            Change::DropForeignKey(fk) => Change::AddForeignKey(fk),
        }
    }

    /// `table` after this change.
    pub fn apply_to(&self, table: &mut Table) {
        match self {
            Change::AddColumn {
                column,
                foreign_key,
                indexes,
                ..
            } => {
                table.columns.push(column.clone());
                table.foreign_keys.extend(foreign_key.clone());
                for index in indexes {
                    if !table.indexes.contains(index) {
                        table.indexes.push(index.clone());
                    }
                }
            }
            Change::DropColumn { column, .. } => {
                table.columns.retain(|c| c.name != column.name);
                table.foreign_keys.retain(|f| f.column != column.name);
                table.indexes.retain(|x| !x.columns.contains(&column.name));
            }
            Change::RenameColumn { from, to } => rename_in_table(table, from, to),
            Change::AlterColumn { to, .. } => {
                for c in &mut table.columns {
                    if c.name == to.name {
                        *c = to.clone();
                    }
                }
            }
            Change::CreateIndex(index) => {
                table.indexes.retain(|x| x.name != index.name);
                table.indexes.push(index.clone());
            }
            Change::DropIndex(index) => table.indexes.retain(|x| x.name != index.name),
            Change::AddForeignKey(fk) => table.foreign_keys.push(fk.clone()),
            Change::DropForeignKey(fk) => table.foreign_keys.retain(|f| f != fk),
        }
    }

    /// What the change touches, for telling whether two migrations written on two branches
    /// collide: `table.column` (its type, nullability, default, name, index or foreign key).
    pub fn changes(&self, table: &str) -> Vec<String> {
        let col = |column: &str| format!("{table}.{column}");
        match self {
            Change::AddColumn { column, .. } | Change::DropColumn { column, .. } => {
                vec![col(&column.name)]
            }
            Change::RenameColumn { from, to } => vec![col(from), col(to)],
            Change::AlterColumn { to, .. } => vec![col(&to.name)],
            Change::CreateIndex(index) | Change::DropIndex(index) => {
                index.columns.iter().map(|c| col(c)).collect()
            }
            Change::AddForeignKey(fk) | Change::DropForeignKey(fk) => vec![col(&fk.column)],
        }
    }

    /// Whether the change can lose data.
    pub fn is_destructive(&self) -> bool {
        match self {
            Change::DropColumn { .. } => true,
            Change::AlterColumn { from, to, .. } => narrows(&from.sql_type, &to.sql_type),
            _ => false,
        }
    }

    /// A one-line description for messages.
    pub fn describe(&self, table: &str) -> String {
        match self {
            Change::AddColumn { column, .. } => format!("add column {table}.{}", column.name),
            Change::DropColumn { column, .. } => format!("drop column {table}.{}", column.name),
            Change::RenameColumn { from, to } => format!("rename column {table}.{from} to {to}"),
            Change::AlterColumn { to, .. } => format!("alter column {table}.{}", to.name),
            Change::CreateIndex(index) => format!("add index {} on {table}", index.name),
            Change::DropIndex(index) => format!("drop index {} on {table}", index.name),
            Change::AddForeignKey(fk) => format!(
                "add foreign key {table}.{} -> {}.{}",
                fk.column, fk.ref_table, fk.ref_column
            ),
            Change::DropForeignKey(fk) => format!(
                "drop foreign key {table}.{} -> {}.{}",
                fk.column, fk.ref_table, fk.ref_column
            ),
        }
    }
}

impl TableChange {
    /// `changes` made, in order, to `table` as it is now.
    pub fn new(table: Table, changes: Vec<Change>) -> TableChange {
        TableChange {
            table,
            changes,
            down: false,
        }
    }

    pub fn name(&self) -> &str {
        &self.table.name
    }

    /// The table after each change going up: `states()[0]` is the table before the first.
    fn states(&self) -> Vec<Table> {
        let mut states = vec![self.table.clone()];
        for change in &self.changes {
            let mut next = states[states.len() - 1].clone();
            change.apply_to(&mut next);
            states.push(next);
        }
        states
    }

    /// Each change in the order it runs, with the table before and after it.
    pub fn walk(&self) -> Vec<(Table, Change, Table)> {
        let states = self.states();
        let mut steps: Vec<(Table, Change, Table)> = self
            .changes
            .iter()
            .enumerate()
            .map(|(i, c)| (states[i].clone(), c.clone(), states[i + 1].clone()))
            .collect();
        if self.down {
            steps.reverse();
            for (before, change, after) in &mut steps {
                std::mem::swap(before, after);
                *change = change.inverse();
            }
        }
        steps
    }

    /// The changes in the order they run.
    pub fn changes(&self) -> Vec<Change> {
        self.walk().into_iter().map(|(_, c, _)| c).collect()
    }

    /// The table before the changes run.
    pub fn before(&self) -> Table {
        match self.down {
            false => self.table.clone(),
            true => self.states().pop().unwrap_or_else(|| self.table.clone()),
        }
    }

    /// The table after the changes run.
    pub fn after(&self) -> Table {
        match self.down {
            false => self.states().pop().unwrap_or_else(|| self.table.clone()),
            true => self.table.clone(),
        }
    }

    pub fn inverse(&self) -> TableChange {
        TableChange {
            down: !self.down,
            ..self.clone()
        }
    }
}

/// One change as people read it: a whole-table operation, or one change to a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Table(Op),
    Change { table: String, change: Change },
}

impl Step {
    pub fn describe(&self) -> String {
        match self {
            Step::Table(op) => op.describe(),
            Step::Change { table, change } => change.describe(table),
        }
    }

    pub fn is_destructive(&self) -> bool {
        match self {
            Step::Table(op) => op.is_destructive(),
            Step::Change { change, .. } => change.is_destructive(),
        }
    }

    pub fn table(&self) -> &str {
        match self {
            Step::Table(op) => op.table(),
            Step::Change { table, .. } => table,
        }
    }

    /// What the step changes (see [`Op::changes`]).
    pub fn changes(&self) -> Vec<String> {
        match self {
            Step::Table(op) => op.changes(),
            Step::Change { table, change } => change.changes(table),
        }
    }

    pub fn inverse(&self) -> Step {
        match self {
            Step::Table(op) => Step::Table(op.inverse()),
            Step::Change { table, change } => Step::Change {
                table: table.clone(),
                change: change.inverse(),
            },
        }
    }
}

impl Op {
    pub fn inverse(&self) -> Op {
        match self.clone() {
            Op::CreateTable(t) => Op::DropTable(t),
            Op::DropTable(t) => Op::CreateTable(t),
            Op::RenameTable { from, to } => Op::RenameTable { from: to, to: from },
            Op::ChangeTable(change) => Op::ChangeTable(change.inverse()),
        }
    }

    /// The table this operation is about.
    pub fn table(&self) -> &str {
        match self {
            Op::CreateTable(t) | Op::DropTable(t) => &t.name,
            Op::RenameTable { to, .. } => &to.name,
            Op::ChangeTable(change) => change.name(),
        }
    }

    /// The operation as people read it: one step, or one per change to a table.
    pub fn steps(&self) -> Vec<Step> {
        match self {
            Op::ChangeTable(change) => change
                .changes()
                .into_iter()
                .map(|c| Step::Change {
                    table: change.name().to_string(),
                    change: c,
                })
                .collect(),
            whole => vec![Step::Table(whole.clone())],
        }
    }

    /// What the operation changes, for telling whether two migrations written on two
    /// branches collide: `table` for a whole table (created, dropped or renamed: both names),
    /// `table.column` for a column (its type, nullability, default, name, index or foreign key).
    pub fn changes(&self) -> Vec<String> {
        match self {
            Op::CreateTable(t) | Op::DropTable(t) => vec![t.name.clone()],
            Op::RenameTable { from, to } => vec![from.name.clone(), to.name.clone()],
            Op::ChangeTable(change) => change
                .changes()
                .iter()
                .flat_map(|c| c.changes(change.name()))
                .collect(),
        }
    }

    /// Whether the operation can lose data.
    pub fn is_destructive(&self) -> bool {
        match self {
            Op::DropTable(_) => true,
            Op::ChangeTable(change) => change.changes().iter().any(Change::is_destructive),
            _ => false,
        }
    }

    /// A one-line description for messages and migration names.
    pub fn describe(&self) -> String {
        match self {
            Op::CreateTable(t) => format!("create table {}", t.name),
            Op::DropTable(t) => format!("drop table {}", t.name),
            Op::RenameTable { from, to } => format!("rename table {} to {}", from.name, to.name),
            Op::ChangeTable(change) => change
                .changes()
                .iter()
                .map(|c| c.describe(change.name()))
                .collect::<Vec<_>>()
                .join("; "),
        }
    }
}

/// A type change that can lose information (shorter strings, smaller numbers, text to
/// anything, fewer decimal digits).
pub fn narrows(from: &SqlType, to: &SqlType) -> bool {
    use SqlType::*;
    let rank = |t: &SqlType| match t {
        SmallInt => Some(1),
        Integer => Some(2),
        BigInt => Some(3),
        _ => None,
    };
    match (from, to) {
        (a, b) if a == b => false,
        (Varchar { max_length: a }, Varchar { max_length: b }) => b < a,
        (Varchar { .. }, Text) => false,
        (Text, Varchar { .. }) => true,
        (
            Decimal {
                precision: p1,
                scale: s1,
            },
            Decimal {
                precision: p2,
                scale: s2,
            },
        ) => p2 - s2 < p1 - s1 || s2 < s1,
        (Float, Double) => false,
        (a, b) if rank(a).is_some() && rank(b).is_some() => rank(b) < rank(a),
        (SmallInt | Integer | BigInt, Double | Decimal { .. } | Text | Varchar { .. }) => false,
        (Date | Time | Timestamp | Timestamptz | Uuid | Bool, Text) => false,
        _ => true,
    }
}

/// The schema after `ops` (column order as the database will have it: added columns last).
pub fn apply(schema: &Schema, ops: &[Op]) -> Schema {
    let mut s = schema.clone();
    for op in ops {
        match op {
            Op::CreateTable(t) => s.tables.push(t.clone()),
            Op::DropTable(t) => s.tables.retain(|x| x.name != t.name),
            Op::RenameTable { from, to } => {
                for t in &mut s.tables {
                    if t.name == from.name {
                        *t = to.clone();
                    }
                    for fk in &mut t.foreign_keys {
                        if fk.ref_table == from.name {
                            fk.ref_table = to.name.clone();
                        }
                    }
                }
            }
            Op::ChangeTable(change) => {
                if let Some(t) = s.tables.iter_mut().find(|t| t.name == change.name()) {
                    *t = change.after();
                }
            }
        }
    }
    s
}

/// A change the diff will not make on its own: it would lose data, or existing rows need a
/// value the model does not give. The command layer says what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// A table is gone from the model: dropping it loses its rows. `rename_candidate` is a
    /// new table of the same shape, which may be it renamed.
    DropTable {
        table: String,
        rename_candidate: Option<String>,
    },
    /// A column is gone from the model: dropping it loses its data. `rename_candidate` is an
    /// added column of the same type, which may be it renamed.
    DropColumn {
        table: String,
        column: String,
        rename_candidate: Option<String>,
    },
    /// A new NOT NULL column without a default or a backfill: existing rows have no value.
    NotNullWithoutDefault { table: String, column: String },
    /// A column becomes NOT NULL without a default or a backfill: rows holding NULL need one.
    BecomesNotNull { table: String, column: String },
}

impl Problem {
    /// The table it is about.
    pub fn table(&self) -> &str {
        match self {
            Problem::DropTable { table, .. }
            | Problem::DropColumn { table, .. }
            | Problem::NotNullWithoutDefault { table, .. }
            | Problem::BecomesNotNull { table, .. } => table,
        }
    }

    /// The table or column that may be the dropped one renamed.
    pub fn rename_candidate(&self) -> Option<&str> {
        match self {
            Problem::DropTable {
                rename_candidate, ..
            }
            | Problem::DropColumn {
                rename_candidate, ..
            } => rename_candidate.as_deref(),
            _ => None,
        }
    }

    /// What is wrong, without advice: "column `authors.name` is gone from the model, which
    /// drops it and its data".
    pub fn describe(&self) -> String {
        match self {
            Problem::DropTable { table, .. } => {
                format!("table `{table}` is gone from the model, which drops it and all its rows")
            }
            Problem::DropColumn { table, column, .. } => format!(
                "column `{table}.{column}` is gone from the model, which drops it and its data"
            ),
            Problem::NotNullWithoutDefault { table, column } => format!(
                "new NOT NULL column `{table}.{column}` has no default, so existing rows would have no value"
            ),
            Problem::BecomesNotNull { table, column } => format!(
                "column `{table}.{column}` becomes NOT NULL; rows holding NULL need a value"
            ),
        }
    }
}

/// What the model says beyond the schema: renames and backfills.
#[derive(Debug, Clone, Default)]
pub struct Hints {
    /// (table, old column, new column)
    pub renamed_columns: Vec<(String, String, String)>,
    /// (old table, new table)
    pub renamed_tables: Vec<(String, String)>,
    /// (table, column) → SQL expression for existing rows
    pub backfills: Vec<((String, String), String)>,
    /// Whether drops of tables and columns are confirmed.
    pub allow_drop: bool,
    /// Keep indexes whose names are not dieselkit's (`index_TABLE_on_COLS`): they were
    /// written by hand in a migration, and the model cannot describe them (composite,
    /// partial, expression indexes).
    pub keep_hand_named_indexes: bool,
}

impl Hints {
    fn backfill(&self, table: &str, column: &str) -> Option<String> {
        self.backfills
            .iter()
            .find(|((t, c), _)| t == table && c == column)
            .map(|(_, e)| e.clone())
    }
}

/// Operations turning `current` into `desired`, ignoring hints. See [`diff_with`].
pub fn diff(current: &Schema, desired: &Schema) -> Result<Vec<Op>, Vec<Problem>> {
    diff_with(
        current,
        desired,
        &Hints {
            allow_drop: true,
            ..Hints::default()
        },
    )
}

/// `table` under its new name `to`: indexes and foreign keys named by dieselkit's
/// convention after the old name get the new name; hand-chosen names stay.
pub fn renamed_table(table: &Table, to: &str) -> Table {
    let mut t = table.clone();
    t.name = to.to_string();
    for i in &mut t.indexes {
        if i.name == crate::schema::index_name(&table.name, &i.columns) {
            i.name = crate::schema::index_name(to, &i.columns);
        }
    }
    for fk in &mut t.foreign_keys {
        if fk.name == crate::schema::foreign_key_name(&table.name, &fk.column) {
            fk.name = crate::schema::foreign_key_name(to, &fk.column);
        }
        if fk.ref_table == table.name {
            fk.ref_table = to.to_string();
        }
    }
    t
}

/// Columns that make a table's shape, for spotting a table that was renamed.
fn shape(table: &Table) -> Vec<(&str, &SqlType)> {
    let mut cols: Vec<_> = table
        .columns
        .iter()
        .filter(|c| !crate::spec::GENERATED_COLUMNS.contains(&c.name.as_str()))
        .map(|c| (c.name.as_str(), &c.sql_type))
        .collect();
    cols.sort_by_key(|(name, _)| *name);
    cols
}

fn rename_in_table(table: &mut Table, from: &str, to: &str) {
    for c in &mut table.columns {
        if c.name == from {
            c.name = to.to_string();
        }
    }
    for i in &mut table.indexes {
        for c in &mut i.columns {
            if c == from {
                *c = to.to_string();
            }
        }
    }
    for fk in &mut table.foreign_keys {
        if fk.column == from {
            fk.column = to.to_string();
        }
    }
}

/// Operations turning `current` into `desired`, in an order that respects foreign keys:
/// new tables in `desired` order (parents first), dropped tables children first. Renames
/// come from `hints`; a NOT NULL column added without a default needs a backfill; drops
/// need `hints.allow_drop`.
pub fn diff_with(
    current: &Schema,
    desired: &Schema,
    hints: &Hints,
) -> Result<Vec<Op>, Vec<Problem>> {
    let mut ops = Vec::new();
    let mut unsupported = Vec::new();

    let mut current = current.clone();
    for (from, to) in &hints.renamed_tables {
        if let (Some(old), None, Some(_), None) = (
            current.table(from),
            current.table(to),
            desired.table(to),
            desired.table(from),
        ) {
            let op = Op::RenameTable {
                from: old.clone(),
                to: renamed_table(old, to),
            };
            current = apply(&current, std::slice::from_ref(&op));
            ops.push(op);
        }
    }
    let current = &current;

    for table in current.tables.iter().rev() {
        if desired.table(&table.name).is_none() {
            if !hints.allow_drop {
                let twin = desired
                    .tables
                    .iter()
                    .find(|t| current.table(&t.name).is_none() && shape(t) == shape(table));
                unsupported.push(Problem::DropTable {
                    table: table.name.clone(),
                    rename_candidate: twin.map(|t| t.name.clone()),
                });
            }
            ops.push(Op::DropTable(table.clone()));
        }
    }
    for table in &desired.tables {
        let Some(old) = current.table(&table.name) else {
            ops.push(Op::CreateTable(table.clone()));
            continue;
        };
        let mut work = old.clone();
        let mut changes: Vec<Change> = Vec::new();
        let mut change = |work: &mut Table, c: Change| {
            c.apply_to(work);
            changes.push(c);
        };
        // Columns renamed here, new name → old name: an index dieselkit named after the old
        // names is still dieselkit's, not one written by hand.
        let mut old_names: Vec<(String, String)> = Vec::new();
        for (t, from, to) in &hints.renamed_columns {
            if *t == table.name
                && work.column(from).is_some()
                && work.column(to).is_none()
                && table.column(to).is_some()
            {
                change(
                    &mut work,
                    Change::RenameColumn {
                        from: from.clone(),
                        to: to.clone(),
                    },
                );
                old_names.push((to.clone(), from.clone()));
            }
        }
        // Foreign keys that change or go away first: MySQL cannot drop an index a foreign
        // key still uses.
        for fk in work.foreign_keys.clone() {
            if !table.foreign_keys.contains(&fk) {
                change(&mut work, Change::DropForeignKey(fk));
            }
        }
        for index in work.indexes.clone() {
            let before_renames: Vec<String> = index
                .columns
                .iter()
                .map(|c| {
                    old_names
                        .iter()
                        .find(|(new, _)| new == c)
                        .map_or_else(|| c.clone(), |(_, old)| old.clone())
                })
                .collect();
            let hand_named = index.name != crate::schema::index_name(&table.name, &index.columns)
                && index.name != crate::schema::index_name(&table.name, &before_renames);
            if hints.keep_hand_named_indexes && hand_named {
                continue;
            }
            if !table.indexes.contains(&index) {
                change(&mut work, Change::DropIndex(index));
            }
        }
        let dropped: Vec<Column> = work
            .columns
            .iter()
            .filter(|c| table.column(&c.name).is_none())
            .cloned()
            .collect();
        let added: Vec<&Column> = table
            .columns
            .iter()
            .filter(|c| work.column(&c.name).is_none())
            .collect();
        for column in &dropped {
            if !hints.allow_drop {
                let twin = added.iter().find(|a| a.sql_type == column.sql_type);
                unsupported.push(Problem::DropColumn {
                    table: table.name.clone(),
                    column: column.name.clone(),
                    rename_candidate: twin.map(|a| a.name.clone()),
                });
            }
            let drop = Change::DropColumn {
                column: column.clone(),
                foreign_key: work
                    .foreign_keys
                    .iter()
                    .find(|fk| fk.column == column.name)
                    .cloned(),
                indexes: work
                    .indexes
                    .iter()
                    .filter(|x| x.columns.contains(&column.name))
                    .cloned()
                    .collect(),
            };
            change(&mut work, drop);
        }
        for column in added {
            let backfill = hints.backfill(&table.name, &column.name);
            if !column.nullable && column.default.is_none() && backfill.is_none() {
                unsupported.push(Problem::NotNullWithoutDefault {
                    table: table.name.clone(),
                    column: column.name.clone(),
                });
            }
            let foreign_key = table
                .foreign_keys
                .iter()
                .find(|fk| fk.column == column.name)
                .cloned();
            // The index of a new foreign-key column is created with the column, before the
            // constraint (MySQL needs it first, and drops it only after the FK).
            let indexes = match foreign_key {
                Some(_) => table
                    .indexes
                    .iter()
                    .filter(|x| x.columns == [column.name.clone()])
                    .cloned()
                    .collect(),
                None => Vec::new(),
            };
            change(
                &mut work,
                Change::AddColumn {
                    column: column.clone(),
                    backfill,
                    foreign_key,
                    indexes,
                },
            );
        }
        for column in &table.columns {
            let Some(existing) = work.column(&column.name).cloned() else {
                continue;
            };
            if existing == *column {
                continue;
            }
            let backfill = hints.backfill(&table.name, &column.name);
            if existing.nullable
                && !column.nullable
                && column.default.is_none()
                && backfill.is_none()
            {
                unsupported.push(Problem::BecomesNotNull {
                    table: table.name.clone(),
                    column: column.name.clone(),
                });
            }
            change(
                &mut work,
                Change::AlterColumn {
                    from: existing,
                    to: column.clone(),
                    backfill,
                },
            );
        }
        for index in &table.indexes {
            if !work.indexes.contains(index) {
                change(&mut work, Change::CreateIndex(index.clone()));
            }
        }
        // New or changed foreign keys last, once their column and index exist.
        for fk in &table.foreign_keys {
            if !work.foreign_keys.contains(fk) {
                change(&mut work, Change::AddForeignKey(fk.clone()));
            }
        }
        if !changes.is_empty() {
            ops.push(Op::ChangeTable(TableChange::new(old.clone(), changes)));
        }
    }
    if unsupported.is_empty() {
        Ok(ops)
    } else {
        Err(unsupported)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{Model, ProjectFile};

    fn schema(toml: &str) -> Schema {
        let file: ProjectFile = toml::from_str(toml).expect("toml");
        crate::schema::from_model(&Model::from_file(&file).expect("model"))
    }

    /// The changes of every table's change set, in order.
    fn changes(ops: &[Op]) -> Vec<Change> {
        ops.iter()
            .flat_map(|op| match op {
                Op::ChangeTable(change) => change.changes(),
                _ => Vec::new(),
            })
            .collect()
    }

    const BOOKSTORE: &str = r#"
        [project]
        name = "shop"
        [[resources]]
        name = "author"
        fields = ["name:string(100)"]
        [[resources]]
        name = "book"
        fields = ["title:string(200)", "author:references"]
    "#;

    #[test]
    fn from_empty_creates_parents_first() {
        let ops = diff(&Schema::default(), &schema(BOOKSTORE)).expect("diff");
        let tables: Vec<_> = ops.iter().map(Op::table).collect();
        assert_eq!(tables, ["authors", "books"]);
        assert!(ops.iter().all(|op| matches!(op, Op::CreateTable(_))));
    }

    #[test]
    fn to_empty_drops_children_first() {
        let ops = diff(&schema(BOOKSTORE), &Schema::default()).expect("diff");
        let tables: Vec<_> = ops.iter().map(Op::table).collect();
        assert_eq!(tables, ["books", "authors"]);
    }

    #[test]
    fn identical_schemas_have_no_ops() {
        let s = schema(BOOKSTORE);
        assert_eq!(diff(&s, &s), Ok(vec![]));
    }

    #[test]
    fn added_field_is_an_added_column() {
        let before = schema(BOOKSTORE);
        let after = schema(&BOOKSTORE.replace(
            r#"fields = ["name:string(100)"]"#,
            r#"fields = ["name:string(100)", "country:string(100)?:index"]"#,
        ));
        let ops = diff(&before, &after).expect("diff");
        assert_eq!(ops.len(), 1, "one change set for the table: {ops:?}");
        let ops = changes(&ops);
        assert_eq!(ops.len(), 2, "{ops:?}");
        assert!(matches!(&ops[0], Change::AddColumn { column, .. } if column.name == "country"));
        assert!(matches!(&ops[1], Change::CreateIndex(index) if index.columns == ["country"]));
        let back = changes(&diff(&after, &before).expect("diff back"));
        assert!(matches!(&back[0], Change::DropIndex(_)));
        assert!(matches!(&back[1], Change::DropColumn { .. }));
    }

    #[test]
    fn type_change_is_an_alter() {
        let before = schema(BOOKSTORE);
        let after = schema(&BOOKSTORE.replace("name:string(100)", "name:text"));
        let ops = diff(&before, &after).expect("diff");
        assert!(matches!(&changes(&ops)[0], Change::AlterColumn { to, .. } if to.name == "name"));
        assert!(!ops[0].is_destructive(), "widening");
        assert!(ops[0].inverse().is_destructive(), "narrowing back");
    }

    #[test]
    fn drops_need_confirmation_and_suggest_renames() {
        let before = schema(BOOKSTORE);
        let after = schema(&BOOKSTORE.replace("name:string(100)", "full_name:string(100)"));
        let err = diff_with(&before, &after, &Hints::default()).expect_err("refused");
        assert_eq!(
            err[0],
            Problem::DropColumn {
                table: "authors".into(),
                column: "name".into(),
                rename_candidate: Some("full_name".into())
            }
        );
        let hints = Hints {
            renamed_columns: vec![("authors".into(), "name".into(), "full_name".into())],
            ..Hints::default()
        };
        let ops = diff_with(&before, &after, &hints).expect("rename");
        assert_eq!(
            ops,
            vec![Op::ChangeTable(TableChange::new(
                before.tables[0].clone(),
                vec![Change::RenameColumn {
                    from: "name".into(),
                    to: "full_name".into()
                }]
            ))]
        );
    }

    #[test]
    fn not_null_without_default_needs_a_backfill() {
        let before = schema(BOOKSTORE);
        let after = schema(&BOOKSTORE.replace(
            r#"fields = ["name:string(100)"]"#,
            r#"fields = ["name:string(100)", "timezone:string(64)"]"#,
        ));
        let err = diff_with(&before, &after, &Hints::default()).expect_err("refused");
        assert_eq!(
            err,
            [Problem::NotNullWithoutDefault {
                table: "authors".into(),
                column: "timezone".into()
            }]
        );
        let hints = Hints {
            backfills: vec![(("authors".into(), "timezone".into()), "'UTC'".into())],
            ..Hints::default()
        };
        let ops = diff_with(&before, &after, &hints).expect("backfilled");
        assert!(
            matches!(&changes(&ops)[0], Change::AddColumn { backfill: Some(b), .. } if b == "'UTC'")
        );
    }

    #[test]
    fn table_rename_carries_its_indexes_foreign_keys_and_referrers() {
        let before = schema(BOOKSTORE);
        let renamed = BOOKSTORE
            .replace(
                "name = \"author\"",
                "name = \"writer\"\n        renamed_from = \"author\"",
            )
            .replace(
                "name = \"book\"",
                "name = \"volume\"\n        renamed_from = \"book\"",
            )
            .replace("author:references", "author:references(writer)");
        let after = schema(&renamed);
        let err = diff_with(&before, &after, &Hints::default()).expect_err("no hint");
        assert!(
            err.contains(&Problem::DropTable {
                table: "authors".into(),
                rename_candidate: Some("writers".into())
            }),
            "{err:?}"
        );
        let hints = Hints {
            renamed_tables: vec![
                ("authors".into(), "writers".into()),
                ("books".into(), "volumes".into()),
            ],
            ..Hints::default()
        };
        let ops = diff_with(&before, &after, &hints).expect("renames");
        assert_eq!(ops.len(), 2, "{ops:?}");
        assert!(ops.iter().all(|op| matches!(op, Op::RenameTable { .. })));
        assert_eq!(apply(&before, &ops), after);
        let (up, down) = crate::sql::up_and_down(&ops, crate::spec::Backend::Postgres);
        assert!(
            up.contains("ALTER TABLE authors RENAME TO writers;"),
            "{up}"
        );
        assert!(
            up.contains(
                "ALTER INDEX index_books_on_author_id RENAME TO index_volumes_on_author_id;"
            ),
            "{up}"
        );
        assert!(
            up.contains(
                "ALTER TABLE volumes RENAME CONSTRAINT fk_books_author_id TO fk_volumes_author_id;"
            ),
            "{up}"
        );
        assert!(
            down.starts_with("ALTER TABLE volumes RENAME TO books;"),
            "{down}"
        );
        let (up, _) = crate::sql::up_and_down(&ops, crate::spec::Backend::Mysql);
        assert!(up.contains("RENAME TABLE authors TO writers;"), "{up}");
        assert!(
            up.contains("ALTER TABLE volumes DROP FOREIGN KEY fk_books_author_id;"),
            "{up}"
        );
        let (up, _) = crate::sql::up_and_down(&ops, crate::spec::Backend::Sqlite);
        assert!(up.contains("DROP INDEX index_books_on_author_id;\nCREATE INDEX index_volumes_on_author_id ON volumes (author_id);"), "{up}");
    }

    #[test]
    fn foreign_keys_on_existing_columns_are_added_after_their_index_and_dropped_first() {
        let plain = schema(&BOOKSTORE.replace("\"author:references\"", "\"author_id:int\""));
        let referencing = schema(BOOKSTORE);
        let ops = changes(&diff(&plain, &referencing).expect("diff"));
        assert!(
            matches!(&ops[0], Change::CreateIndex(index) if index.columns == ["author_id"]),
            "{ops:?}"
        );
        assert!(
            matches!(&ops[1], Change::AddForeignKey(fk) if fk.ref_table == "authors"),
            "{ops:?}"
        );
        let back = changes(&diff(&referencing, &plain).expect("diff back"));
        assert!(matches!(&back[0], Change::DropForeignKey(_)), "{back:?}");
        assert!(matches!(&back[1], Change::DropIndex(_)), "{back:?}");
        let cascade =
            schema(&BOOKSTORE.replace("author:references", "author:references:on_delete=cascade"));
        let ops = changes(&diff(&referencing, &cascade).expect("on_delete"));
        assert!(
            matches!(
                ops.as_slice(),
                [Change::DropForeignKey(_), Change::AddForeignKey(_)]
            ),
            "{ops:?}"
        );
    }

    #[test]
    fn mysql_indexes_added_later_get_key_prefixes() {
        let before = schema(&BOOKSTORE.replace("name:string(100)", "bio:text"));
        let after = schema(&BOOKSTORE.replace("name:string(100)", "bio:text:index"));
        let ops = diff(&before, &after).expect("diff");
        let (up, _) = crate::sql::up_and_down(&ops, crate::spec::Backend::Mysql);
        assert!(
            up.contains("CREATE INDEX index_authors_on_bio ON authors (bio(255));"),
            "{up}"
        );
    }

    #[test]
    fn hand_written_indexes_are_kept_when_asked() {
        let model = schema(BOOKSTORE);
        let mut replayed = model.clone();
        replayed.tables[0].indexes.push(Index {
            name: "authors_name_lower".into(),
            columns: vec!["name".into(), "created_at".into()],
            unique: false,
        });
        let keep = Hints {
            keep_hand_named_indexes: true,
            ..Hints::default()
        };
        assert_eq!(diff_with(&replayed, &model, &keep), Ok(vec![]));
        let ops = changes(&diff(&replayed, &model).expect("diff"));
        assert!(
            matches!(&ops[..], [Change::DropIndex(index)] if index.name == "authors_name_lower")
        );
    }

    /// Several changes to one table come as one change set carrying one snapshot; going
    /// down walks the same states backwards, so applying up then down gives the table back
    /// exactly (column order, indexes and foreign keys included).
    #[test]
    fn changes_to_a_table_are_one_change_set_that_inverts_exactly() {
        let before = schema(&BOOKSTORE.replace(
            r#""title:string(200)", "author:references""#,
            r#""title:string(200)", "pages:int?", "isbn:string(13):unique", "author:references""#,
        ));
        let after = schema(&BOOKSTORE.replace(
            r#""title:string(200)", "author:references""#,
            r#""title:text", "author:references:on_delete=cascade", "shelf:string(10)?:index""#,
        ));
        let ops = diff(&before, &after).expect("diff");
        assert_eq!(ops.len(), 1, "{ops:#?}");
        let Op::ChangeTable(change) = &ops[0] else {
            panic!("{ops:#?}")
        };
        assert!(change.changes().len() >= 6, "{change:#?}");
        assert_eq!(change.before(), before.tables[1]);
        // Added columns go last, as in the database; otherwise the model's shape.
        let by_name = |mut s: Schema| {
            for t in &mut s.tables {
                t.columns.sort_by(|a, b| a.name.cmp(&b.name));
            }
            s
        };
        assert_eq!(by_name(apply(&before, &ops)), by_name(after.clone()));
        let down = change.inverse();
        assert_eq!(down.before(), change.after());
        assert_eq!(down.after(), before.tables[1]);
        assert_eq!(apply(&after, &[ops[0].inverse()]), before);
        // Each step down starts where the matching step up ended.
        let up = change.walk();
        for ((b, c, a), (db, dc, da)) in up.iter().zip(down.walk().iter().rev()) {
            assert_eq!((b, a), (da, db));
            assert_eq!(c, &dc.inverse());
        }
    }
}

//! The one diff engine: `diff(current, desired)` lists the operations that turn one
//! schema into the other. `new-project`'s first migrations are `diff(empty, desired)`.

use crate::schema::{Column, Index, Schema, SqlType, Table};

/// One schema change. Every operation knows its inverse, so down.sql is always the
/// reverse of up.sql. Column operations carry the whole table before/after them, because
/// SQLite can only make some changes by rebuilding the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Create a table with its foreign keys and indexes.
    CreateTable(Table),
    DropTable(Table),
    AddColumn {
        table: String,
        column: Column,
        /// SQL expression filling existing rows before NOT NULL is enforced.
        backfill: Option<String>,
        after: Table,
    },
    DropColumn {
        table: String,
        column: Column,
        before: Table,
    },
    RenameColumn {
        table: String,
        from: String,
        to: String,
    },
    /// Type, nullability or default change of one column.
    AlterColumn {
        table: String,
        from: Column,
        to: Column,
        before: Table,
        after: Table,
        backfill: Option<String>,
    },
    CreateIndex {
        table: String,
        index: Index,
    },
    DropIndex {
        table: String,
        index: Index,
    },
}

impl Op {
    pub fn inverse(&self) -> Op {
        match self.clone() {
            Op::CreateTable(t) => Op::DropTable(t),
            Op::DropTable(t) => Op::CreateTable(t),
            Op::AddColumn {
                table,
                column,
                after,
                ..
            } => Op::DropColumn {
                table,
                column,
                before: after,
            },
            Op::DropColumn {
                table,
                column,
                before,
            } => Op::AddColumn {
                table,
                column,
                backfill: None,
                after: before,
            },
            Op::RenameColumn { table, from, to } => Op::RenameColumn {
                table,
                from: to,
                to: from,
            },
            Op::AlterColumn {
                table,
                from,
                to,
                before,
                after,
                ..
            } => Op::AlterColumn {
                table,
                from: to,
                to: from,
                before: after,
                after: before,
                backfill: None,
            },
            Op::CreateIndex { table, index } => Op::DropIndex { table, index },
            Op::DropIndex { table, index } => Op::CreateIndex { table, index },
        }
    }

    /// The table this operation is about.
    pub fn table(&self) -> &str {
        match self {
            Op::CreateTable(t) | Op::DropTable(t) => &t.name,
            Op::AddColumn { table, .. }
            | Op::DropColumn { table, .. }
            | Op::RenameColumn { table, .. }
            | Op::AlterColumn { table, .. }
            | Op::CreateIndex { table, .. }
            | Op::DropIndex { table, .. } => table,
        }
    }

    /// Whether the operation can lose data.
    pub fn is_destructive(&self) -> bool {
        match self {
            Op::DropTable(_) | Op::DropColumn { .. } => true,
            Op::AlterColumn { from, to, .. } => narrows(&from.sql_type, &to.sql_type),
            _ => false,
        }
    }

    /// A one-line description for messages and migration names.
    pub fn describe(&self) -> String {
        match self {
            Op::CreateTable(t) => format!("create table {}", t.name),
            Op::DropTable(t) => format!("drop table {}", t.name),
            Op::AddColumn { table, column, .. } => format!("add column {table}.{}", column.name),
            Op::DropColumn { table, column, .. } => format!("drop column {table}.{}", column.name),
            Op::RenameColumn { table, from, to } => format!("rename column {table}.{from} to {to}"),
            Op::AlterColumn { table, to, .. } => format!("alter column {table}.{}", to.name),
            Op::CreateIndex { table, index } => format!("add index {} on {table}", index.name),
            Op::DropIndex { table, index } => format!("drop index {} on {table}", index.name),
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
        let find = |s: &mut Schema, name: &str| s.tables.iter().position(|t| t.name == name);
        match op {
            Op::CreateTable(t) => s.tables.push(t.clone()),
            Op::DropTable(t) => s.tables.retain(|x| x.name != t.name),
            Op::AddColumn { table, after, .. } | Op::AlterColumn { table, after, .. } => {
                if let Some(i) = find(&mut s, table) {
                    s.tables[i] = after.clone();
                }
            }
            Op::DropColumn { table, column, .. } => {
                if let Some(i) = find(&mut s, table) {
                    let t = &mut s.tables[i];
                    t.columns.retain(|c| c.name != column.name);
                    t.foreign_keys.retain(|f| f.column != column.name);
                    t.indexes.retain(|x| !x.columns.contains(&column.name));
                }
            }
            Op::RenameColumn { table, from, to } => {
                if let Some(i) = find(&mut s, table) {
                    rename_in_table(&mut s.tables[i], from, to);
                }
            }
            Op::CreateIndex { table, index } => {
                if let Some(i) = find(&mut s, table) {
                    s.tables[i].indexes.push(index.clone());
                }
            }
            Op::DropIndex { table, index } => {
                if let Some(i) = find(&mut s, table) {
                    s.tables[i].indexes.retain(|x| x.name != index.name);
                }
            }
        }
    }
    s
}

/// A change the engine cannot express yet, or will not guess; callers report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported {
    pub table: String,
    pub column: String,
    pub what: String,
    /// For a dropped column: an added column of the same type that may be its new name.
    pub rename_candidate: Option<String>,
}

/// What the model says beyond the schema: renames and backfills.
#[derive(Debug, Clone, Default)]
pub struct Hints {
    /// (table, old column, new column)
    pub renamed_columns: Vec<(String, String, String)>,
    /// (table, column) → SQL expression for existing rows
    pub backfills: Vec<((String, String), String)>,
    /// Whether drops of tables and columns are confirmed.
    pub allow_drop: bool,
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
pub fn diff(current: &Schema, desired: &Schema) -> Result<Vec<Op>, Vec<Unsupported>> {
    diff_with(
        current,
        desired,
        &Hints {
            allow_drop: true,
            ..Hints::default()
        },
    )
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
) -> Result<Vec<Op>, Vec<Unsupported>> {
    let mut ops = Vec::new();
    let mut unsupported = Vec::new();

    for table in current.tables.iter().rev() {
        if desired.table(&table.name).is_none() {
            if !hints.allow_drop {
                unsupported.push(Unsupported {
                    table: table.name.clone(),
                    column: String::new(),
                    what: format!("table `{}` is gone from the model, which drops it and all its rows; pass `--allow-drop` to confirm", table.name),
                    rename_candidate: None,
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
        for (t, from, to) in &hints.renamed_columns {
            if *t == table.name
                && work.column(from).is_some()
                && work.column(to).is_none()
                && table.column(to).is_some()
            {
                ops.push(Op::RenameColumn {
                    table: table.name.clone(),
                    from: from.clone(),
                    to: to.clone(),
                });
                rename_in_table(&mut work, from, to);
            }
        }
        for index in work.indexes.clone() {
            if !table.indexes.contains(&index) {
                ops.push(Op::DropIndex {
                    table: table.name.clone(),
                    index: index.clone(),
                });
                work.indexes.retain(|i| *i != index);
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
                let hint = match twin {
                    Some(a) => format!(
                        "if `{}` is `{}` renamed, add `:renamed_from={}` to its field spec; otherwise pass `--allow-drop`",
                        a.name, column.name, column.name
                    ),
                    None => "pass `--allow-drop` to confirm".into(),
                };
                unsupported.push(Unsupported {
                    table: table.name.clone(),
                    column: column.name.clone(),
                    what: format!("column `{}.{}` is gone from the model, which drops it and its data; {hint}", table.name, column.name),
                    rename_candidate: twin.map(|a| a.name.clone()),
                });
            }
            let before = work.clone();
            work.columns.retain(|c| c.name != column.name);
            work.foreign_keys.retain(|fk| fk.column != column.name);
            ops.push(Op::DropColumn {
                table: table.name.clone(),
                column: column.clone(),
                before,
            });
        }
        for column in added {
            let backfill = hints.backfill(&table.name, &column.name);
            if !column.nullable && column.default.is_none() && backfill.is_none() {
                unsupported.push(Unsupported {
                    table: table.name.clone(),
                    column: column.name.clone(),
                    what: format!(
                        "new NOT NULL column `{}.{}` has no default, so existing rows would have no value: add `:default=VALUE` to the field, make it nullable (`?`), or give a backfill with `--backfill {}=SQL` (e.g. `--backfill {}='UTC'`)",
                        table.name, column.name, column.name, column.name
                    ),
                    rename_candidate: None,
                });
            }
            work.columns.push(column.clone());
            if let Some(fk) = table
                .foreign_keys
                .iter()
                .find(|fk| fk.column == column.name)
            {
                work.foreign_keys.push(fk.clone());
                // The index of a new foreign-key column is created with the column, before
                // the constraint (MySQL needs it first, and drops it only after the FK).
                for index in table
                    .indexes
                    .iter()
                    .filter(|x| x.columns == [column.name.clone()])
                {
                    work.indexes.push(index.clone());
                }
            }
            ops.push(Op::AddColumn {
                table: table.name.clone(),
                column: column.clone(),
                backfill,
                after: work.clone(),
            });
        }
        for column in &table.columns {
            let Some(existing) = work.column(&column.name).cloned() else {
                continue;
            };
            if existing == *column {
                continue;
            }
            let before = work.clone();
            for c in &mut work.columns {
                if c.name == column.name {
                    *c = column.clone();
                }
            }
            let backfill = hints.backfill(&table.name, &column.name);
            if existing.nullable
                && !column.nullable
                && column.default.is_none()
                && backfill.is_none()
            {
                unsupported.push(Unsupported {
                    table: table.name.clone(),
                    column: column.name.clone(),
                    what: format!(
                        "column `{}.{}` becomes NOT NULL; rows holding NULL need a value: add `:default=VALUE` or `--backfill {}=SQL`",
                        table.name, column.name, column.name
                    ),
                    rename_candidate: None,
                });
            }
            ops.push(Op::AlterColumn {
                table: table.name.clone(),
                from: existing,
                to: column.clone(),
                before,
                after: work.clone(),
                backfill,
            });
        }
        let mut old_fks = work.foreign_keys.clone();
        old_fks.sort_by(|a, b| a.column.cmp(&b.column));
        let mut new_fks = table.foreign_keys.clone();
        new_fks.sort_by(|a, b| a.column.cmp(&b.column));
        if old_fks != new_fks {
            for fk in new_fks.iter().filter(|fk| !old_fks.contains(fk)) {
                unsupported.push(Unsupported {
                    table: table.name.clone(),
                    column: fk.column.clone(),
                    what: "changing the foreign key of an existing column (write this migration by hand with `dieselkit generate migration --empty`)".into(),
                    rename_candidate: None,
                });
            }
        }
        for index in &table.indexes {
            if !work.indexes.contains(index) {
                ops.push(Op::CreateIndex {
                    table: table.name.clone(),
                    index: index.clone(),
                });
            }
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
        assert_eq!(ops.len(), 2, "{ops:?}");
        assert!(matches!(&ops[0], Op::AddColumn { column, .. } if column.name == "country"));
        assert!(matches!(&ops[1], Op::CreateIndex { index, .. } if index.columns == ["country"]));
        let back = diff(&after, &before).expect("diff back");
        assert!(matches!(&back[0], Op::DropIndex { .. }));
        assert!(matches!(&back[1], Op::DropColumn { .. }));
    }

    #[test]
    fn type_change_is_an_alter() {
        let before = schema(BOOKSTORE);
        let after = schema(&BOOKSTORE.replace("name:string(100)", "name:text"));
        let ops = diff(&before, &after).expect("diff");
        assert!(matches!(&ops[0], Op::AlterColumn { to, .. } if to.name == "name"));
        assert!(!ops[0].is_destructive(), "widening");
        assert!(ops[0].inverse().is_destructive(), "narrowing back");
    }

    #[test]
    fn drops_need_confirmation_and_suggest_renames() {
        let before = schema(BOOKSTORE);
        let after = schema(&BOOKSTORE.replace("name:string(100)", "full_name:string(100)"));
        let err = diff_with(&before, &after, &Hints::default()).expect_err("refused");
        assert!(err[0].what.contains(":renamed_from=name"), "{err:?}");
        let hints = Hints {
            renamed_columns: vec![("authors".into(), "name".into(), "full_name".into())],
            ..Hints::default()
        };
        let ops = diff_with(&before, &after, &hints).expect("rename");
        assert_eq!(
            ops,
            vec![Op::RenameColumn {
                table: "authors".into(),
                from: "name".into(),
                to: "full_name".into()
            }]
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
        assert!(err[0].what.contains("--backfill timezone=SQL"), "{err:?}");
        let hints = Hints {
            backfills: vec![(("authors".into(), "timezone".into()), "'UTC'".into())],
            ..Hints::default()
        };
        let ops = diff_with(&before, &after, &hints).expect("backfilled");
        assert!(matches!(&ops[0], Op::AddColumn { backfill: Some(b), .. } if b == "'UTC'"));
    }
}

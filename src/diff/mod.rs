//! The one diff engine: `diff(current, desired)` lists the operations that turn one
//! schema into the other. `new-project`'s first migrations are `diff(empty, desired)`.

use crate::schema::{Column, Index, Schema, Table};

/// One schema change. Every operation knows its inverse, so down.sql is always the
/// reverse of up.sql.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Create a table with its foreign keys and indexes.
    CreateTable(Table),
    DropTable(Table),
    AddColumn {
        table: String,
        column: Column,
    },
    DropColumn {
        table: String,
        column: Column,
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
            Op::AddColumn { table, column } => Op::DropColumn { table, column },
            Op::DropColumn { table, column } => Op::AddColumn { table, column },
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
            | Op::CreateIndex { table, .. }
            | Op::DropIndex { table, .. } => table,
        }
    }
}

/// A change the engine cannot express yet; callers report it instead of guessing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported {
    pub table: String,
    pub column: String,
    pub what: String,
}

/// Operations turning `current` into `desired`, in an order that respects foreign keys:
/// new tables in `desired` order (parents first), dropped tables children first.
pub fn diff(current: &Schema, desired: &Schema) -> Result<Vec<Op>, Vec<Unsupported>> {
    let mut ops = Vec::new();
    let mut unsupported = Vec::new();

    // Drops first, children before parents (reverse of creation order).
    for table in current.tables.iter().rev() {
        if desired.table(&table.name).is_none() {
            ops.push(Op::DropTable(table.clone()));
        }
    }
    for table in &desired.tables {
        let Some(old) = current.table(&table.name) else {
            ops.push(Op::CreateTable(table.clone()));
            continue;
        };
        for index in &old.indexes {
            if !table.indexes.contains(index) {
                ops.push(Op::DropIndex {
                    table: table.name.clone(),
                    index: index.clone(),
                });
            }
        }
        for column in &old.columns {
            if table.column(&column.name).is_none() {
                ops.push(Op::DropColumn {
                    table: table.name.clone(),
                    column: column.clone(),
                });
            }
        }
        for column in &table.columns {
            match old.column(&column.name) {
                None => ops.push(Op::AddColumn {
                    table: table.name.clone(),
                    column: column.clone(),
                }),
                Some(existing) if existing != column => unsupported.push(Unsupported {
                    table: table.name.clone(),
                    column: column.name.clone(),
                    what: "changing a column's type, nullability or default".into(),
                }),
                Some(_) => {}
            }
        }
        if old.foreign_keys != table.foreign_keys {
            let added = table
                .foreign_keys
                .iter()
                .filter(|fk| !old.foreign_keys.contains(fk))
                .filter(|fk| old.column(&fk.column).is_some());
            for fk in added {
                unsupported.push(Unsupported {
                    table: table.name.clone(),
                    column: fk.column.clone(),
                    what: "adding or changing a foreign key on an existing column".into(),
                });
            }
        }
        for index in &table.indexes {
            if !old.indexes.contains(index) {
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
    fn type_change_is_reported_not_guessed() {
        let before = schema(BOOKSTORE);
        let after = schema(&BOOKSTORE.replace("name:string(100)", "name:text"));
        let err = diff(&before, &after).expect_err("unsupported");
        assert_eq!(err[0].column, "name");
    }
}

//! Diesel and Rust types for schema columns, and `src/schema.rs` in the exact format of
//! `diesel print-schema`, so `diesel migration run` (which regenerates the file from the
//! database) leaves it unchanged.

use super::{Schema, SqlType};
use crate::spec::Backend;

/// The `diesel::sql_types` name `diesel print-schema` infers for a column of this type.
/// On SQLite the inference is by type name, so several model types share one diesel type
/// (see the type table in README.md).
pub fn diesel_type(ty: &SqlType, backend: Backend) -> &'static str {
    use Backend::*;
    match (backend, ty) {
        (Postgres, SqlType::Integer) => "Int4",
        (Postgres, SqlType::BigInt) => "Int8",
        (Postgres, SqlType::SmallInt) => "Int2",
        (Postgres, SqlType::Float) => "Float4",
        (Postgres, SqlType::Double) => "Float8",
        (Postgres, SqlType::Decimal { .. }) => "Numeric",
        (Postgres, SqlType::Varchar { .. }) => "Varchar",
        (Postgres, SqlType::Timestamptz) => "Timestamptz",
        (Postgres, SqlType::Uuid) => "Uuid",
        (Postgres, SqlType::Json) => "Jsonb",
        (Postgres, SqlType::Binary) => "Bytea",
        (Mysql, SqlType::BigInt) => "Bigint",
        (Mysql, SqlType::SmallInt) => "Smallint",
        (Mysql, SqlType::Decimal { .. }) => "Decimal",
        (Mysql, SqlType::Varchar { .. }) => "Varchar",
        (Mysql, SqlType::Timestamp | SqlType::Timestamptz) => "Datetime",
        (Mysql, SqlType::Uuid) => "Char",
        (Mysql, SqlType::Binary) => "Blob",
        (Sqlite, SqlType::Decimal { .. }) => "Double",
        (Sqlite, SqlType::Varchar { .. } | SqlType::Uuid) => "Text",
        (Sqlite, SqlType::Timestamptz) => "Timestamp",
        (_, SqlType::Integer) => "Integer",
        (_, SqlType::BigInt) => "BigInt",
        (_, SqlType::SmallInt) => "SmallInt",
        (_, SqlType::Float) => "Float",
        (_, SqlType::Double) => "Double",
        (_, SqlType::Bool) => "Bool",
        (_, SqlType::Text | SqlType::Json) => "Text",
        (_, SqlType::Date) => "Date",
        (_, SqlType::Time) => "Time",
        (_, SqlType::Timestamp) => "Timestamp",
        (_, SqlType::Binary) => "Binary",
    }
}

/// `src/schema.rs` as `diesel print-schema` writes it: tables sorted by name, columns in
/// table order, `joinable!` for each foreign key, and one
/// `allow_tables_to_appear_in_same_query!` when there is more than one table.
pub fn render_schema_rs(schema: &Schema, backend: Backend) -> String {
    let mut out = String::from("// @generated automatically by Diesel CLI.\n");
    let mut tables: Vec<_> = schema.tables.iter().collect();
    tables.sort_by(|a, b| a.name.cmp(&b.name));
    for table in &tables {
        let pk: Vec<&str> = table
            .columns
            .iter()
            .filter(|c| c.primary_key)
            .map(|c| c.name.as_str())
            .collect();
        out.push_str(&format!(
            "\ndiesel::table! {{\n    {} ({}) {{\n",
            table.name,
            pk.join(", ")
        ));
        for column in &table.columns {
            let max_length = match (backend, &column.sql_type) {
                (Backend::Sqlite, _) => None,
                (_, SqlType::Varchar { max_length }) => Some(*max_length),
                (Backend::Mysql, SqlType::Uuid) => Some(36),
                _ => None,
            };
            if let Some(n) = max_length {
                out.push_str(&format!("        #[max_length = {n}]\n"));
            }
            let ty = diesel_type(&column.sql_type, backend);
            if column.nullable {
                out.push_str(&format!("        {} -> Nullable<{ty}>,\n", column.name));
            } else {
                out.push_str(&format!("        {} -> {ty},\n", column.name));
            }
        }
        out.push_str("    }\n}\n");
    }
    let mut joins: Vec<(String, String, String)> = Vec::new();
    for table in &tables {
        for fk in &table.foreign_keys {
            // diesel can only express one join between two tables and none to itself.
            if fk.ref_table != table.name
                && !joins
                    .iter()
                    .any(|(t, r, _)| *t == table.name && *r == fk.ref_table)
            {
                joins.push((table.name.clone(), fk.ref_table.clone(), fk.column.clone()));
            }
        }
    }
    let duplicate_pairs: Vec<(String, String)> = tables
        .iter()
        .flat_map(|t| {
            t.foreign_keys
                .iter()
                .filter(|fk| {
                    t.foreign_keys
                        .iter()
                        .filter(|o| o.ref_table == fk.ref_table)
                        .count()
                        > 1
                })
                .map(|fk| (t.name.clone(), fk.ref_table.clone()))
        })
        .collect();
    joins.retain(|(t, r, _)| !duplicate_pairs.contains(&(t.clone(), r.clone())));
    joins.sort();
    if !joins.is_empty() {
        out.push('\n');
    }
    for (table, parent, column) in &joins {
        out.push_str(&format!(
            "diesel::joinable!({table} -> {parent} ({column}));\n"
        ));
    }
    if tables.len() > 1 {
        // diesel_cli 2.3 writes this on one line, with a trailing comma.
        let names: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
        out.push_str(&format!(
            "\ndiesel::allow_tables_to_appear_in_same_query!({},);\n",
            names.join(", ")
        ));
    }
    out
}

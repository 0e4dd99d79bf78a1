//! Diesel and Rust types for schema columns, and `src/schema.rs` in the exact format of
//! `diesel print-schema`, so `diesel migration run` (which regenerates the file from the
//! database) leaves it unchanged.

use super::{Schema, SqlType};
use crate::spec::Backend;

/// The `diesel::sql_types` name `diesel print-schema` infers for a column of this type.
/// On SQLite the inference is by type name, so several model types share one diesel type
/// (see the type table in README.md).
pub fn diesel_type(ty: &SqlType, backend: Backend) -> &'static str {
    match (backend, ty) {
        (_, SqlType::Integer) => "Integer",
        (_, SqlType::BigInt) => "BigInt",
        (_, SqlType::SmallInt) => "SmallInt",
        (_, SqlType::Float) => "Float",
        (_, SqlType::Double) => "Double",
        (Backend::Sqlite, SqlType::Decimal { .. }) => "Double",
        (_, SqlType::Decimal { .. }) => "Numeric",
        (_, SqlType::Bool) => "Bool",
        (Backend::Sqlite, SqlType::Varchar { .. }) => "Text",
        (_, SqlType::Varchar { .. }) => "Varchar",
        (_, SqlType::Text) => "Text",
        (_, SqlType::Date) => "Date",
        (_, SqlType::Time) => "Time",
        (_, SqlType::Timestamp) => "Timestamp",
        (Backend::Sqlite, SqlType::Timestamptz) => "Timestamp",
        (Backend::Postgres, SqlType::Timestamptz) => "Timestamptz",
        (Backend::Mysql, SqlType::Timestamptz) => "Datetime",
        (Backend::Postgres, SqlType::Uuid) => "Uuid",
        (_, SqlType::Uuid) => "Text",
        (Backend::Sqlite, SqlType::Json) => "Text",
        (Backend::Postgres, SqlType::Json) => "Jsonb",
        (Backend::Mysql, SqlType::Json) => "Json",
        (_, SqlType::Binary) => "Binary",
    }
}

/// The Rust type of a (non-null) column of this type.
pub fn rust_type(ty: &SqlType, backend: Backend) -> &'static str {
    match diesel_type(ty, backend) {
        "Integer" => "i32",
        "BigInt" => "i64",
        "SmallInt" => "i16",
        "Float" => "f32",
        "Double" => "f64",
        "Numeric" => "bigdecimal::BigDecimal",
        "Bool" => "bool",
        "Date" => "chrono::NaiveDate",
        "Time" => "chrono::NaiveTime",
        "Timestamp" | "Datetime" => "chrono::NaiveDateTime",
        "Timestamptz" => "chrono::DateTime<chrono::Utc>",
        "Uuid" => "uuid::Uuid",
        "Json" | "Jsonb" => "serde_json::Value",
        "Binary" => "Vec<u8>",
        _ => "String",
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
            if backend != Backend::Sqlite {
                if let SqlType::Varchar { max_length } = column.sql_type {
                    out.push_str(&format!("        #[max_length = {max_length}]\n"));
                }
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
        out.push_str("\ndiesel::allow_tables_to_appear_in_same_query!(\n");
        for table in &tables {
            out.push_str(&format!("    {},\n", table.name));
        }
        out.push_str(");\n");
    }
    out
}

//! The SQLite renderer. Type names are chosen so `diesel print-schema` infers the diesel
//! types in [`crate::schema::rust`].

use super::quote_literal;
use crate::diff::Op;
use crate::schema::{Column, ColumnDefault, Index, SqlType, Table};

fn type_sql(ty: &SqlType) -> String {
    match ty {
        SqlType::Integer => "INTEGER".into(),
        SqlType::BigInt => "BIGINT".into(),
        SqlType::SmallInt => "SMALLINT".into(),
        SqlType::Float => "FLOAT".into(),
        SqlType::Double => "DOUBLE".into(),
        SqlType::Decimal { precision, scale } => format!("DECIMAL({precision}, {scale})"),
        SqlType::Bool => "BOOLEAN".into(),
        SqlType::Varchar { max_length } => format!("VARCHAR({max_length})"),
        SqlType::Text => "TEXT".into(),
        SqlType::Date => "DATE".into(),
        SqlType::Time => "TIME".into(),
        SqlType::Timestamp => "TIMESTAMP".into(),
        // SQLite has no time zones; values are stored as UTC text. `DATETIME` keeps the
        // column distinguishable from `datetime` fields when the schema is introspected.
        SqlType::Timestamptz => "DATETIME".into(),
        SqlType::Uuid => "CHAR(36)".into(),
        SqlType::Json => "TEXT".into(),
        SqlType::Binary => "BLOB".into(),
    }
}

fn default_sql(default: &ColumnDefault) -> String {
    match default {
        ColumnDefault::Number(n) => n.clone(),
        ColumnDefault::Bool(b) => if *b { "1" } else { "0" }.into(),
        ColumnDefault::Text(t) => quote_literal(t),
        ColumnDefault::CurrentTimestamp => "CURRENT_TIMESTAMP".into(),
        ColumnDefault::CurrentDate => "CURRENT_DATE".into(),
        ColumnDefault::CurrentTime => "CURRENT_TIME".into(),
    }
}

fn column_sql(column: &Column) -> String {
    let mut sql = format!("{} {}", column.name, type_sql(&column.sql_type));
    if column.primary_key {
        sql.push_str(" PRIMARY KEY AUTOINCREMENT");
    }
    if !column.nullable {
        sql.push_str(" NOT NULL");
    }
    if let Some(default) = &column.default {
        sql.push_str(" DEFAULT ");
        sql.push_str(&default_sql(default));
    }
    sql
}

fn create_index(table: &str, index: &Index) -> String {
    format!(
        "CREATE {}INDEX {} ON {table} ({})",
        if index.unique { "UNIQUE " } else { "" },
        index.name,
        index.columns.join(", ")
    )
}

fn create_table(table: &Table) -> Vec<String> {
    let mut lines: Vec<String> = table.columns.iter().map(column_sql).collect();
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
        "CREATE TABLE {} (\n    {}\n)",
        table.name,
        lines.join(",\n    ")
    )];
    statements.extend(table.indexes.iter().map(|i| create_index(&table.name, i)));
    statements
}

pub fn statements(op: &Op) -> Vec<String> {
    match op {
        Op::CreateTable(table) => create_table(table),
        Op::DropTable(table) => vec![format!("DROP TABLE {}", table.name)],
        Op::AddColumn { table, column } => {
            vec![format!(
                "ALTER TABLE {table} ADD COLUMN {}",
                column_sql(column)
            )]
        }
        Op::DropColumn { table, column } => {
            vec![format!("ALTER TABLE {table} DROP COLUMN {}", column.name)]
        }
        Op::CreateIndex { table, index } => vec![create_index(table, index)],
        Op::DropIndex { index, .. } => vec![format!("DROP INDEX {}", index.name)],
    }
}

//! SQLite: one file, its catalog in `sqlite_master` and the `pragma_*` table functions.
//! No session locks: each migration step runs in an exclusive transaction.

use super::Dialect;
use crate::schema::{Column, SqlType};
use crate::spec::Backend;

pub struct Sqlite;

impl Dialect for Sqlite {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    fn default_database_url(&self, crate_name: &str) -> String {
        format!("{crate_name}.db")
    }

    fn catalog_type(&self, base: &str, _args: &[u32]) -> Option<SqlType> {
        // dieselkit's timestamptz: UTC text in a DATETIME column.
        (base == "datetime").then_some(SqlType::Timestamptz)
    }

    fn tables_query(&self) -> &'static str {
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_\\_diesel%' ESCAPE '\\' ORDER BY name"
    }

    fn table_exists_query(&self, table: &str) -> String {
        format!("SELECT name AS line FROM sqlite_master WHERE type = 'table' AND name = {table}")
    }

    fn columns_query(&self, table: &str) -> String {
        format!("SELECT name, type AS data_type, \"notnull\" <> 0 AS not_null, dflt_value AS default_value, pk <> 0 AS primary_key FROM pragma_table_info({table}) ORDER BY cid")
    }

    fn column_exists_query(&self, table: &str, column: &str) -> String {
        format!("SELECT name AS line FROM pragma_table_info({table}) WHERE name = {column}")
    }

    fn index_columns_query(&self, table: &str) -> String {
        format!("SELECT il.name AS index_name, il.\"unique\" <> 0 AS is_unique, ii.name AS column_name FROM pragma_index_list({table}) il JOIN pragma_index_info(il.name) ii WHERE il.origin != 'pk' ORDER BY il.name, ii.seqno")
    }

    fn foreign_keys_query(&self, table: &str) -> String {
        format!("SELECT NULL AS name, \"from\" AS column_name, \"table\" AS ref_table, \"to\" AS ref_column, on_delete FROM pragma_foreign_key_list({table})")
    }

    fn schema_dump_queries(&self) -> &'static [&'static str] {
        &[
            "SELECT 'column ' || m.name || '.' || p.name || ' ' || lower(p.type) || CASE WHEN p.\"notnull\" = 1 THEN ' not null' ELSE '' END || COALESCE(' default ' || p.dflt_value, '') || CASE WHEN p.pk > 0 THEN ' primary key' ELSE '' END AS line FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND m.name NOT LIKE '\\_\\_diesel%' ESCAPE '\\'",
            "SELECT 'index ' || m.name || ' ' || il.name || CASE WHEN il.\"unique\" = 1 THEN ' unique' ELSE '' END || ' (' || (SELECT group_concat(ii.name, ', ') FROM pragma_index_info(il.name) ii) || ')' AS line FROM sqlite_master m JOIN pragma_index_list(m.name) il WHERE m.type = 'table' AND m.name NOT LIKE '\\_\\_diesel%' ESCAPE '\\' AND il.origin != 'pk'",
            "SELECT 'foreign key ' || m.name || '.' || f.\"from\" || ' -> ' || f.\"table\" || '.' || f.\"to\" || ' on delete ' || lower(f.on_delete) AS line FROM sqlite_master m JOIN pragma_foreign_key_list(m.name) f WHERE m.type = 'table'",
            "SELECT type || ' ' || name || ' on ' || tbl_name AS line FROM sqlite_master WHERE type IN ('view', 'trigger')",
        ]
    }

    fn lock_preview(&self) -> String {
        "-- each migration runs in BEGIN EXCLUSIVE ... COMMIT (SQLite's lock)".into()
    }

    fn locks_each_step(&self) -> bool {
        true
    }

    fn switches_foreign_keys(&self) -> bool {
        true
    }

    /// Names chosen so that `diesel print-schema` infers the diesel types in
    /// `schema::rust`.
    fn type_sql(&self, ty: &SqlType) -> String {
        match ty {
            SqlType::Float => "FLOAT".into(),
            SqlType::Double => "DOUBLE".into(),
            SqlType::Decimal { precision, scale } => format!("DECIMAL({precision}, {scale})"),
            // No time zone type; values are UTC by convention. `DATETIME` keeps the column
            // distinguishable from `datetime` fields.
            SqlType::Timestamptz => "DATETIME".into(),
            SqlType::Uuid => "CHAR(36)".into(),
            SqlType::Json => "TEXT".into(),
            SqlType::Binary => "BLOB".into(),
            other => super::common_type_sql(other),
        }
    }

    fn primary_key_sql(&self, name: &str) -> String {
        format!("{name} INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL")
    }

    fn bool_literal(&self, value: bool) -> &'static str {
        if value {
            "1"
        } else {
            "0"
        }
    }

    fn rename_index(&self, _table: &str, _old: &str, _new: &str) -> Option<String> {
        None
    }

    fn rename_foreign_key(&self, _table: &str, _old: &str, _new: &str) -> Option<Option<String>> {
        Some(None)
    }

    fn alters_in_place(&self) -> bool {
        false
    }

    fn alter_column(&self, _table: &str, _from: &Column, _to: &Column) -> Vec<String> {
        unreachable!("SQLite rebuilds the table to alter a column")
    }

    fn set_not_null(&self, _table: &str, _column: &Column) -> String {
        unreachable!("SQLite rebuilds the table to make a column NOT NULL")
    }
}

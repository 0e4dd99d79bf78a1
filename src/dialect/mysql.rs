//! MySQL and MariaDB: `information_schema` (its text columns cast to `CHAR`: some are
//! binary-collated), named locks (`GET_LOCK`) for migrations, DDL that commits by itself.

use super::Dialect;
use crate::spec::Backend;

pub struct Mysql;

/// The named lock migrations take, per database.
const LOCK_NAME: &str = "CONCAT('dieselkit_migrate:', DATABASE())";

impl Dialect for Mysql {
    fn backend(&self) -> Backend {
        Backend::Mysql
    }

    /// Backslashes are escapes in MySQL string literals (unless NO_BACKSLASH_ESCAPES).
    fn quote(&self, text: &str) -> String {
        format!("'{}'", text.replace('\'', "''").replace('\\', "\\\\"))
    }

    fn text_cast(&self) -> &'static str {
        "CHAR"
    }

    fn tables_query(&self) -> &'static str {
        "SELECT CAST(table_name AS CHAR) AS name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE' AND table_name NOT LIKE '\\_\\_diesel%' ORDER BY table_name"
    }

    fn table_exists_query(&self, table: &str) -> String {
        format!("SELECT CAST(table_name AS CHAR) AS line FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = {table}")
    }

    fn columns_query(&self, table: &str) -> String {
        format!(
            "SELECT CAST(column_name AS CHAR) AS name, CAST(column_type AS CHAR) AS data_type, is_nullable = 'NO' AS not_null, CAST(column_default AS CHAR) AS default_value, column_key = 'PRI' AS primary_key FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = {table} ORDER BY ordinal_position"
        )
    }

    fn column_exists_query(&self, table: &str, column: &str) -> String {
        format!("SELECT CAST(column_name AS CHAR) AS line FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = {table} AND column_name = {column}")
    }

    fn index_columns_query(&self, table: &str) -> String {
        format!(
            "SELECT CAST(index_name AS CHAR) AS index_name, non_unique = 0 AS is_unique, CAST(column_name AS CHAR) AS column_name FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = {table} AND index_name != 'PRIMARY' ORDER BY index_name, seq_in_index"
        )
    }

    fn foreign_keys_query(&self, table: &str) -> String {
        format!(
            "SELECT CAST(k.constraint_name AS CHAR) AS name, CAST(k.column_name AS CHAR) AS column_name, CAST(k.referenced_table_name AS CHAR) AS ref_table, CAST(k.referenced_column_name AS CHAR) AS ref_column, CAST(r.delete_rule AS CHAR) AS on_delete FROM information_schema.key_column_usage k JOIN information_schema.referential_constraints r ON r.constraint_schema = k.constraint_schema AND r.constraint_name = k.constraint_name WHERE k.table_schema = DATABASE() AND k.table_name = {table} AND k.referenced_table_name IS NOT NULL"
        )
    }

    fn schema_dump_queries(&self) -> &'static [&'static str] {
        &[
            "SELECT CAST(CONCAT('column ', table_name, '.', column_name, ' ', column_type, IF(is_nullable = 'NO', ' not null', ''), COALESCE(CONCAT(' default ', column_default), ''), IF(extra <> '', CONCAT(' ', extra), '')) AS CHAR) AS line FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name NOT LIKE '\\_\\_diesel%'",
            "SELECT CAST(CONCAT('index ', table_name, ' ', index_name, IF(non_unique = 0, ' unique', ''), ' (', GROUP_CONCAT(CONCAT(column_name, COALESCE(CONCAT('(', sub_part, ')'), '')) ORDER BY seq_in_index SEPARATOR ', '), ')') AS CHAR) AS line FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name NOT LIKE '\\_\\_diesel%' GROUP BY table_name, index_name, non_unique",
            "SELECT CAST(CONCAT('foreign key ', k.table_name, '.', k.column_name, ' -> ', k.referenced_table_name, '.', k.referenced_column_name, ' on delete ', LOWER(r.delete_rule)) AS CHAR) AS line FROM information_schema.key_column_usage k JOIN information_schema.referential_constraints r ON r.constraint_schema = k.constraint_schema AND r.constraint_name = k.constraint_name WHERE k.table_schema = DATABASE() AND k.referenced_table_name IS NOT NULL",
            "SELECT CAST(CONCAT('trigger ', event_object_table, ' ', trigger_name) AS CHAR) AS line FROM information_schema.triggers WHERE trigger_schema = DATABASE()",
        ]
    }

    fn maintenance_database(&self) -> Option<&'static str> {
        Some("information_schema")
    }

    fn database_exists_query(&self, name: &str) -> String {
        format!(
            "SELECT CAST(schema_name AS CHAR) AS line FROM information_schema.schemata WHERE schema_name = {}",
            self.quote(name)
        )
    }

    fn timestamp_type(&self) -> &'static str {
        "DATETIME"
    }

    fn try_lock_query(&self) -> Option<String> {
        Some(format!(
            "SELECT CASE WHEN GET_LOCK({LOCK_NAME}, 0) = 1 THEN 'yes' ELSE 'no' END AS line"
        ))
    }

    fn unlock_statement(&self) -> Option<String> {
        Some(format!("SELECT RELEASE_LOCK({LOCK_NAME})"))
    }

    fn checked_unlock_query(&self) -> Option<String> {
        Some(format!(
            "SELECT CASE WHEN RELEASE_LOCK({LOCK_NAME}) = 1 THEN 'yes' ELSE 'no' END AS line"
        ))
    }

    fn lock_preview(&self) -> String {
        format!("SELECT GET_LOCK({LOCK_NAME}, 60)")
    }
}

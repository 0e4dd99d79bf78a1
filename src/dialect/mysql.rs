//! MySQL and MariaDB: `information_schema` (its text columns cast to `CHAR`: some are
//! binary-collated), named locks (`GET_LOCK`) for migrations, DDL that commits by itself.

use std::time::Duration;

use super::Dialect;
use crate::schema::{Column, SqlType};
use crate::spec::Backend;

pub struct Mysql;

/// The longest key prefix, in characters, InnoDB indexes for utf8mb4 (3072 bytes / 4).
pub const MAX_INDEX_CHARS: u32 = 768;

/// The named lock migrations take, per database.
const LOCK_NAME: &str = "CONCAT('dieselkit_migrate:', DATABASE())";

impl Dialect for Mysql {
    fn backend(&self) -> Backend {
        Backend::Mysql
    }

    fn server_name(&self) -> Option<&'static str> {
        Some("MySQL/MariaDB")
    }

    fn insert_defaults(&self, table: &str) -> String {
        format!("INSERT INTO {table} () VALUES ()")
    }

    fn default_database_url(&self, crate_name: &str) -> String {
        format!("mysql://root@127.0.0.1:3306/{crate_name}")
    }

    /// Backslashes are escapes in MySQL string literals (unless NO_BACKSLASH_ESCAPES).
    fn quote(&self, text: &str) -> String {
        format!("'{}'", text.replace('\'', "''").replace('\\', "\\\\"))
    }

    fn text_cast(&self) -> &'static str {
        "CHAR"
    }

    fn catalog_type(&self, base: &str, args: &[u32]) -> Option<SqlType> {
        match base {
            "tinyint" if args.first() == Some(&1) => Some(SqlType::Bool),
            // dieselkit's datetime and timestamptz (UTC) are both DATETIME here.
            "datetime" | "timestamp" => Some(SqlType::Timestamp),
            _ => None,
        }
    }

    fn unescape_default(&self, text: String) -> String {
        text.replace("\\\\", "\\")
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

    fn create_database(&self, name: &str) -> String {
        format!(
            "CREATE DATABASE IF NOT EXISTS `{}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
            name.replace('`', "``")
        )
    }

    fn url_schemes(&self) -> &'static [&'static str] {
        &["mysql://", "mariadb://"]
    }

    fn client(&self) -> Option<(&'static str, &'static str)> {
        Some(("mysql", "libmysqlclient or libmariadb (Debian/Ubuntu: `apt install libmariadb-dev-compat libmariadb-dev`; macOS: `brew install mysql-client`)"))
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

    fn transactional_ddl(&self) -> bool {
        false
    }

    fn lock_wait_setting(&self, timeout: Duration, _in_transaction: bool) -> Option<String> {
        Some(format!(
            "SET SESSION lock_wait_timeout = {}",
            timeout.as_secs().max(1)
        ))
    }

    fn is_lock_timeout(&self, message: &str) -> bool {
        message.contains("Lock wait timeout exceeded")
    }

    fn type_sql(&self, ty: &SqlType) -> String {
        match ty {
            SqlType::Float => "FLOAT".into(),
            SqlType::Double => "DOUBLE".into(),
            SqlType::Decimal { precision, scale } => format!("DECIMAL({precision}, {scale})"),
            SqlType::Timestamp => "DATETIME".into(),
            // No time zone type; values are UTC by convention.
            SqlType::Timestamptz => "DATETIME".into(),
            SqlType::Uuid => "CHAR(36)".into(),
            // MariaDB's JSON is an alias of LONGTEXT; TEXT behaves the same on both servers.
            SqlType::Json => "TEXT".into(),
            SqlType::Binary => "BLOB".into(),
            other => super::common_type_sql(other),
        }
    }

    fn primary_key_sql(&self, name: &str) -> String {
        format!("{name} INTEGER NOT NULL AUTO_INCREMENT PRIMARY KEY")
    }

    /// MySQL only accepts literals for TEXT/BLOB columns as expressions.
    fn text_default(&self, literal: String, ty: &SqlType) -> String {
        if matches!(ty, SqlType::Text | SqlType::Json) {
            format!("({literal})")
        } else {
            literal
        }
    }

    fn current_date_or_time_default(&self, expr: &'static str) -> String {
        format!("({expr})")
    }

    /// MySQL keeps `updated_at` current by itself (PostgreSQL uses diesel's trigger, SQLite
    /// relies on the application: the generated handlers set it).
    fn column_suffix(&self, column: &Column) -> &'static str {
        if column.name == "updated_at" && column.sql_type == SqlType::Timestamp {
            " ON UPDATE CURRENT_TIMESTAMP"
        } else {
            ""
        }
    }

    fn index_column(&self, name: &str, ty: Option<&SqlType>) -> String {
        match ty {
            Some(SqlType::Varchar { max_length }) if *max_length > MAX_INDEX_CHARS => {
                format!("{name}({MAX_INDEX_CHARS})")
            }
            Some(SqlType::Text | SqlType::Json | SqlType::Binary) => format!("{name}(255)"),
            _ => name.into(),
        }
    }

    fn inline_indexes(&self) -> bool {
        true
    }

    fn table_options(&self) -> &'static str {
        " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci"
    }

    fn drop_index(&self, table: &str, index: &str) -> String {
        format!("DROP INDEX {index} ON {table}")
    }

    fn drop_foreign_key(&self, table: &str, name: &str) -> String {
        format!("ALTER TABLE {table} DROP FOREIGN KEY {name}")
    }

    fn rename_table(&self, from: &str, to: &str) -> String {
        format!("RENAME TABLE {from} TO {to}")
    }

    fn rename_index(&self, table: &str, old: &str, new: &str) -> Option<String> {
        Some(format!("ALTER TABLE {table} RENAME INDEX {old} TO {new}"))
    }

    /// MySQL cannot rename a foreign key.
    fn rename_foreign_key(&self, _table: &str, _old: &str, _new: &str) -> Option<Option<String>> {
        None
    }

    fn alter_column(&self, table: &str, _from: &Column, to: &Column) -> Vec<String> {
        vec![format!(
            "ALTER TABLE {table} MODIFY COLUMN {}",
            super::column_sql(to, self)
        )]
    }

    fn set_not_null(&self, table: &str, column: &Column) -> String {
        format!(
            "ALTER TABLE {table} MODIFY COLUMN {}",
            super::column_sql(column, self)
        )
    }
}

//! PostgreSQL: `pg_catalog` where `information_schema` is slow or lacks the fact, advisory
//! locks for migrations, transactional DDL.

use super::{Dialect, PG_LOCK_KEY};
use crate::spec::Backend;

pub struct Postgres;

impl Dialect for Postgres {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    fn tables_query(&self) -> &'static str {
        "SELECT tablename::text AS name FROM pg_tables WHERE schemaname = current_schema() AND tablename NOT LIKE '\\_\\_diesel%' ORDER BY tablename"
    }

    fn table_exists_query(&self, table: &str) -> String {
        format!("SELECT tablename::text AS line FROM pg_tables WHERE schemaname = current_schema() AND tablename = {table}")
    }

    fn columns_query(&self, table: &str) -> String {
        format!(
            "SELECT c.column_name::text AS name, (CASE WHEN c.data_type = 'character varying' THEN 'varchar(' || c.character_maximum_length || ')' WHEN c.data_type = 'numeric' THEN 'numeric(' || c.numeric_precision || ',' || c.numeric_scale || ')' ELSE c.data_type END)::text AS data_type, c.is_nullable = 'NO' AS not_null, c.column_default::text AS default_value, EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) WHERE i.indrelid = ({table})::regclass AND i.indisprimary AND a.attname = c.column_name) AS primary_key FROM information_schema.columns c WHERE c.table_schema = current_schema() AND c.table_name = {table} ORDER BY c.ordinal_position"
        )
    }

    fn column_exists_query(&self, table: &str, column: &str) -> String {
        // pg_attribute, not information_schema (whose views cost milliseconds per query).
        format!("SELECT attname::text AS line FROM pg_attribute WHERE attrelid = to_regclass({table}) AND attname = {column} AND NOT attisdropped")
    }

    fn index_columns_query(&self, table: &str) -> String {
        format!(
            "SELECT i.relname::text AS index_name, ix.indisunique AS is_unique, a.attname::text AS column_name FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid JOIN LATERAL unnest(ix.indkey) WITH ORDINALITY AS k(attnum, n) ON true JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.attnum WHERE ix.indrelid = ({table})::regclass AND NOT ix.indisprimary ORDER BY i.relname, k.n"
        )
    }

    fn foreign_keys_query(&self, table: &str) -> String {
        format!(
            "SELECT c.conname::text AS name, a.attname::text AS column_name, (c.confrelid::regclass)::text AS ref_table, af.attname::text AS ref_column, c.confdeltype::text AS on_delete FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] JOIN pg_attribute af ON af.attrelid = c.confrelid AND af.attnum = c.confkey[1] WHERE c.contype = 'f' AND c.conrelid = ({table})::regclass"
        )
    }

    fn schema_dump_queries(&self) -> &'static [&'static str] {
        &[
            "SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || COALESCE('(' || character_maximum_length || ')', '') || COALESCE('(' || numeric_precision || ',' || numeric_scale || ')', '') || CASE WHEN is_nullable = 'NO' THEN ' not null' ELSE '' END || COALESCE(' default ' || column_default, '') || CASE WHEN is_identity = 'YES' THEN ' identity' ELSE '' END AS line FROM information_schema.columns WHERE table_schema = current_schema() AND table_name NOT LIKE '\\_\\_diesel%'",
            "SELECT 'index ' || tablename || ' ' || indexdef AS line FROM pg_indexes WHERE schemaname = current_schema() AND tablename NOT LIKE '\\_\\_diesel%'",
            "SELECT 'constraint ' || conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid) AS line FROM pg_constraint WHERE connamespace = current_schema()::regnamespace AND conrelid::regclass::text NOT LIKE '\\_\\_diesel%'",
            "SELECT 'trigger ' || event_object_table || ' ' || trigger_name || ' ' || event_manipulation AS line FROM information_schema.triggers WHERE trigger_schema = current_schema()",
            "SELECT 'view ' || table_name AS line FROM information_schema.views WHERE table_schema = current_schema()",
        ]
    }

    fn maintenance_database(&self) -> Option<&'static str> {
        Some("postgres")
    }

    fn database_exists_query(&self, name: &str) -> String {
        format!(
            "SELECT datname::text AS line FROM pg_database WHERE datname = {}",
            self.quote(name)
        )
    }

    fn drop_database(&self, name: &str) -> String {
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    }

    fn try_lock_query(&self) -> Option<String> {
        Some(format!(
            "SELECT CASE WHEN pg_try_advisory_lock({PG_LOCK_KEY}) THEN 'yes' ELSE 'no' END AS line"
        ))
    }

    fn unlock_statement(&self) -> Option<String> {
        Some(format!("SELECT pg_advisory_unlock({PG_LOCK_KEY})"))
    }

    fn checked_unlock_query(&self) -> Option<String> {
        Some(format!(
            "SELECT CASE WHEN pg_advisory_unlock({PG_LOCK_KEY}) THEN 'yes' ELSE 'no' END AS line"
        ))
    }

    fn lock_preview(&self) -> String {
        format!("SELECT pg_advisory_lock({PG_LOCK_KEY})")
    }
}

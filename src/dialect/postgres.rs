//! PostgreSQL: `pg_catalog` where `information_schema` is slow or lacks the fact, advisory
//! locks for migrations, transactional DDL.

use std::time::Duration;

use super::{Dialect, PG_LOCK_KEY, PG_MIGRATION_KEY};
use crate::schema::{Column, SqlType};
use crate::spec::Backend;

pub struct Postgres;

impl Dialect for Postgres {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    fn server_name(&self) -> Option<&'static str> {
        Some("PostgreSQL")
    }

    fn concurrent_indexes(&self) -> bool {
        true
    }

    fn deferred_foreign_key_validation(&self) -> bool {
        true
    }

    fn binary_literal(&self, byte: u8) -> String {
        format!("'\\x{byte:02x}'::bytea")
    }

    fn default_database_url(&self, crate_name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:5432/{crate_name}")
    }

    fn strip_default_cast<'a>(&self, default: &'a str) -> &'a str {
        // `'x'::character varying`, `0::numeric`; not a `::` inside a string literal.
        match default.rfind("::") {
            Some(i) if !default[i..].contains('\'') => default[..i].trim(),
            _ => default,
        }
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

    fn url_schemes(&self) -> &'static [&'static str] {
        &["postgres://", "postgresql://"]
    }

    fn client(&self) -> Option<(&'static str, &'static str)> {
        Some((
            "postgres",
            "libpq (Debian/Ubuntu: `apt install libpq-dev`; macOS: `brew install libpq`)",
        ))
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

    fn migration_preamble(&self, in_transaction: bool, lock_wait: Duration) -> Option<String> {
        in_transaction.then(|| {
            format!(
                "SET LOCAL lock_timeout = '{}ms'; SELECT pg_advisory_xact_lock({PG_MIGRATION_KEY})",
                lock_wait.as_millis()
            )
        })
    }

    fn lock_wait_setting(&self, timeout: Duration, in_transaction: bool) -> Option<String> {
        in_transaction.then(|| format!("SET LOCAL lock_timeout = '{}ms'", timeout.as_millis()))
    }

    fn is_lock_timeout(&self, message: &str) -> bool {
        message.contains("lock timeout")
    }

    fn lock_holders_query(&self, table: &str) -> Option<String> {
        Some(format!(
            "SELECT 'pid ' || a.pid || ' (' || COALESCE(NULLIF(a.application_name, ''), a.usename::text, '?') || ', ' || COALESCE(a.state, '?') || COALESCE(', transaction open for ' || date_trunc('second', now() - a.xact_start)::text, '') || ') holds ' || l.mode || ': ' || left(regexp_replace(COALESCE(a.query, ''), '\\s+', ' ', 'g'), 100) AS line \
             FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE l.relation = to_regclass({}) AND l.granted AND l.pid <> pg_backend_pid() ORDER BY a.xact_start LIMIT 5",
            self.quote(table)
        ))
    }

    fn type_sql(&self, ty: &SqlType) -> String {
        match ty {
            SqlType::Float => "REAL".into(),
            SqlType::Double => "DOUBLE PRECISION".into(),
            SqlType::Decimal { precision, scale } => format!("NUMERIC({precision}, {scale})"),
            SqlType::Timestamptz => "TIMESTAMPTZ".into(),
            SqlType::Uuid => "UUID".into(),
            SqlType::Json => "JSONB".into(),
            SqlType::Binary => "BYTEA".into(),
            other => super::common_type_sql(other),
        }
    }

    fn primary_key_sql(&self, name: &str) -> String {
        format!("{name} INTEGER GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY")
    }

    fn text_default(&self, literal: String, ty: &SqlType) -> String {
        if *ty == SqlType::Json {
            format!("{literal}::jsonb")
        } else {
            literal
        }
    }

    /// diesel's trigger keeps `updated_at` current.
    fn manage_updated_at(&self, table: &str) -> Option<String> {
        Some(format!("SELECT diesel_manage_updated_at('{table}')"))
    }

    fn rename_index(&self, _table: &str, old: &str, new: &str) -> Option<String> {
        Some(format!("ALTER INDEX {old} RENAME TO {new}"))
    }

    fn rename_foreign_key(&self, table: &str, old: &str, new: &str) -> Option<Option<String>> {
        Some(Some(format!(
            "ALTER TABLE {table} RENAME CONSTRAINT {old} TO {new}"
        )))
    }

    fn alter_column(&self, table: &str, from: &Column, to: &Column) -> Vec<String> {
        let mut out = Vec::new();
        let c = &to.name;
        if from.sql_type != to.sql_type {
            let ty = self.type_sql(&to.sql_type);
            // Between text types, the assignment cast (no USING) fails on a value that does
            // not fit; an explicit cast would cut it short.
            let texts = |t: &SqlType| matches!(t, SqlType::Varchar { .. } | SqlType::Text);
            out.push(if texts(&from.sql_type) && texts(&to.sql_type) {
                format!("ALTER TABLE {table} ALTER COLUMN {c} TYPE {ty}")
            } else {
                format!("ALTER TABLE {table} ALTER COLUMN {c} TYPE {ty} USING {c}::{ty}")
            });
        }
        if from.default != to.default {
            out.push(match &to.default {
                Some(d) => format!(
                    "ALTER TABLE {table} ALTER COLUMN {c} SET DEFAULT {}",
                    super::default_sql(d, &to.sql_type, self)
                ),
                None => format!("ALTER TABLE {table} ALTER COLUMN {c} DROP DEFAULT"),
            });
        }
        if from.nullable != to.nullable {
            out.push(format!(
                "ALTER TABLE {table} ALTER COLUMN {c} {} NOT NULL",
                if to.nullable { "DROP" } else { "SET" }
            ));
        }
        out
    }

    fn set_not_null(&self, table: &str, column: &Column) -> String {
        format!(
            "ALTER TABLE {table} ALTER COLUMN {} SET NOT NULL",
            column.name
        )
    }
}

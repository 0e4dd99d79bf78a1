//! A normalized, sortable description of a database's schema (one text line per column,
//! index, constraint and trigger), read from the catalogs. `verify` compares these dumps
//! before and after each down.sql. Diesel's and dieselkit's bookkeeping tables are left out.

use crate::spec::Backend;

pub fn queries(backend: Backend) -> Vec<&'static str> {
    match backend {
        Backend::Sqlite => vec![
            "SELECT 'column ' || m.name || '.' || p.name || ' ' || lower(p.type) || CASE WHEN p.\"notnull\" = 1 THEN ' not null' ELSE '' END || COALESCE(' default ' || p.dflt_value, '') || CASE WHEN p.pk > 0 THEN ' primary key' ELSE '' END AS line FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND m.name NOT LIKE '\\_\\_diesel%' ESCAPE '\\'",
            "SELECT 'index ' || m.name || ' ' || il.name || CASE WHEN il.\"unique\" = 1 THEN ' unique' ELSE '' END || ' (' || (SELECT group_concat(ii.name, ', ') FROM pragma_index_info(il.name) ii) || ')' AS line FROM sqlite_master m JOIN pragma_index_list(m.name) il WHERE m.type = 'table' AND m.name NOT LIKE '\\_\\_diesel%' ESCAPE '\\' AND il.origin != 'pk'",
            "SELECT 'foreign key ' || m.name || '.' || f.\"from\" || ' -> ' || f.\"table\" || '.' || f.\"to\" || ' on delete ' || lower(f.on_delete) AS line FROM sqlite_master m JOIN pragma_foreign_key_list(m.name) f WHERE m.type = 'table'",
            "SELECT type || ' ' || name || ' on ' || tbl_name AS line FROM sqlite_master WHERE type IN ('view', 'trigger')",
        ],
        Backend::Postgres => vec![
            "SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || COALESCE('(' || character_maximum_length || ')', '') || COALESCE('(' || numeric_precision || ',' || numeric_scale || ')', '') || CASE WHEN is_nullable = 'NO' THEN ' not null' ELSE '' END || COALESCE(' default ' || column_default, '') || CASE WHEN is_identity = 'YES' THEN ' identity' ELSE '' END AS line FROM information_schema.columns WHERE table_schema = current_schema() AND table_name NOT LIKE '\\_\\_diesel%'",
            "SELECT 'index ' || tablename || ' ' || indexdef AS line FROM pg_indexes WHERE schemaname = current_schema() AND tablename NOT LIKE '\\_\\_diesel%'",
            "SELECT 'constraint ' || conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid) AS line FROM pg_constraint WHERE connamespace = current_schema()::regnamespace AND conrelid::regclass::text NOT LIKE '\\_\\_diesel%'",
            "SELECT 'trigger ' || event_object_table || ' ' || trigger_name || ' ' || event_manipulation AS line FROM information_schema.triggers WHERE trigger_schema = current_schema()",
            "SELECT 'view ' || table_name AS line FROM information_schema.views WHERE table_schema = current_schema()",
        ],
        Backend::Mysql => vec![
            "SELECT CAST(CONCAT('column ', table_name, '.', column_name, ' ', column_type, IF(is_nullable = 'NO', ' not null', ''), COALESCE(CONCAT(' default ', column_default), ''), IF(extra <> '', CONCAT(' ', extra), '')) AS CHAR) AS line FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name NOT LIKE '\\_\\_diesel%'",
            "SELECT CAST(CONCAT('index ', table_name, ' ', index_name, IF(non_unique = 0, ' unique', ''), ' (', GROUP_CONCAT(CONCAT(column_name, COALESCE(CONCAT('(', sub_part, ')'), '')) ORDER BY seq_in_index SEPARATOR ', '), ')') AS CHAR) AS line FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name NOT LIKE '\\_\\_diesel%' GROUP BY table_name, index_name, non_unique",
            "SELECT CAST(CONCAT('foreign key ', k.table_name, '.', k.column_name, ' -> ', k.referenced_table_name, '.', k.referenced_column_name, ' on delete ', LOWER(r.delete_rule)) AS CHAR) AS line FROM information_schema.key_column_usage k JOIN information_schema.referential_constraints r ON r.constraint_schema = k.constraint_schema AND r.constraint_name = k.constraint_name WHERE k.table_schema = DATABASE() AND k.referenced_table_name IS NOT NULL",
            "SELECT CAST(CONCAT('trigger ', event_object_table, ' ', trigger_name) AS CHAR) AS line FROM information_schema.triggers WHERE trigger_schema = DATABASE()",
        ],
    }
}

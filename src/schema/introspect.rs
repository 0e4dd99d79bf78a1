//! Read a live (or replayed) database's catalog back into a [`Schema`]. Types are mapped
//! back through each backend's SQL names, so `introspect(apply(render(s))) == normalize(s)`.

use super::{Column, ColumnDefault, ForeignKey, Index, Schema, SqlType, Table};
use crate::error::Result;
use crate::migrations::engine::Db;
use crate::spec::{Backend, OnDelete};

const SEP: char = '\u{1f}';

fn sep(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "char(31)",
        Backend::Postgres => "chr(31)",
        Backend::Mysql => "CHAR(31)",
    }
}

fn lit(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Parse an SQL type name as the catalog reports it.
pub fn parse_type(raw: &str, backend: Backend) -> SqlType {
    let t = raw.trim().to_ascii_lowercase();
    let args: Vec<u32> = t
        .find('(')
        .map(|i| {
            t[i + 1..]
                .trim_end_matches(')')
                .split(',')
                .filter_map(|a| a.trim().parse().ok())
                .collect()
        })
        .unwrap_or_default();
    let base = t.split('(').next().unwrap_or("").trim();
    match (backend, base) {
        (Backend::Mysql, "tinyint") if args.first() == Some(&1) => SqlType::Bool,
        (_, "boolean" | "bool") => SqlType::Bool,
        (_, "integer" | "int" | "int4" | "mediumint") => SqlType::Integer,
        (_, "bigint" | "int8") => SqlType::BigInt,
        (_, "smallint" | "int2") => SqlType::SmallInt,
        (_, "float" | "real" | "float4") => SqlType::Float,
        (_, "double" | "double precision" | "float8") => SqlType::Double,
        (_, "decimal" | "numeric") => SqlType::Decimal {
            precision: args.first().copied().unwrap_or(10),
            scale: args.get(1).copied().unwrap_or(0),
        },
        (_, "varchar" | "character varying") => SqlType::Varchar {
            max_length: args.first().copied().unwrap_or(255),
        },
        (_, "char" | "character") if args.first() == Some(&36) => SqlType::Uuid,
        (_, "uuid") => SqlType::Uuid,
        (_, "date") => SqlType::Date,
        (_, "time" | "time without time zone") => SqlType::Time,
        (Backend::Sqlite, "datetime") => SqlType::Timestamptz,
        (Backend::Mysql, "datetime" | "timestamp") => SqlType::Timestamp,
        (_, "timestamp" | "timestamp without time zone") => SqlType::Timestamp,
        (_, "timestamptz" | "timestamp with time zone") => SqlType::Timestamptz,
        (_, "jsonb" | "json") => SqlType::Json,
        (_, "blob" | "bytea" | "longblob" | "binary" | "varbinary") => SqlType::Binary,
        _ => SqlType::Text,
    }
}

/// `1.50` → `1.5`, `0.00` → `0`: catalogs print numeric defaults at the column's scale.
fn canonical_number(n: &str) -> String {
    if n.contains('.') && !n.contains(['e', 'E']) {
        n.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        n.to_string()
    }
}

fn canonical(d: ColumnDefault) -> ColumnDefault {
    match d {
        ColumnDefault::Number(n) => ColumnDefault::Number(canonical_number(&n)),
        other => other,
    }
}

/// Parse a column default as the catalog reports it.
pub fn parse_default(raw: &str, ty: &SqlType, backend: Backend) -> Option<ColumnDefault> {
    parse_default_raw(raw, ty, backend).map(canonical)
}

fn parse_default_raw(raw: &str, ty: &SqlType, backend: Backend) -> Option<ColumnDefault> {
    let mut d = raw.trim();
    if d.is_empty() || d.eq_ignore_ascii_case("null") {
        return None;
    }
    // Strip wrapping parentheses (MySQL expression defaults, SQLite) and PostgreSQL casts.
    while d.starts_with('(') && d.ends_with(')') {
        d = d[1..d.len() - 1].trim();
    }
    if backend == Backend::Postgres {
        if let Some(i) = d.rfind("::") {
            if !d[i..].contains('\'') {
                d = d[..i].trim();
            }
        }
    }
    let lower = d.to_ascii_lowercase();
    match lower.as_str() {
        "current_timestamp" | "current_timestamp()" | "now()" | "localtimestamp" => {
            return Some(match ty {
                SqlType::Date => ColumnDefault::CurrentDate,
                SqlType::Time => ColumnDefault::CurrentTime,
                _ => ColumnDefault::CurrentTimestamp,
            })
        }
        "current_date" | "curdate()" | "current_date()" => return Some(ColumnDefault::CurrentDate),
        "current_time" | "curtime()" | "current_time()" => return Some(ColumnDefault::CurrentTime),
        "true" => return Some(ColumnDefault::Bool(true)),
        "false" => return Some(ColumnDefault::Bool(false)),
        _ => {}
    }
    if let Some(inner) = d.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
        let text = inner.replace("''", "'");
        let text = if backend == Backend::Mysql {
            text.replace("\\\\", "\\")
        } else {
            text
        };
        return Some(match ty {
            SqlType::Bool => ColumnDefault::Bool(text == "1" || text.eq_ignore_ascii_case("true")),
            SqlType::Integer
            | SqlType::BigInt
            | SqlType::SmallInt
            | SqlType::Float
            | SqlType::Double
            | SqlType::Decimal { .. } => ColumnDefault::Number(text),
            _ => ColumnDefault::Text(text),
        });
    }
    if *ty == SqlType::Bool {
        return Some(ColumnDefault::Bool(d == "1"));
    }
    Some(ColumnDefault::Number(d.to_string()))
}

fn on_delete(raw: &str) -> OnDelete {
    match raw.trim().to_ascii_lowercase().as_str() {
        "cascade" | "c" => OnDelete::Cascade,
        "set null" | "n" => OnDelete::SetNull,
        _ => OnDelete::Restrict,
    }
}

fn fields(line: &str) -> Vec<String> {
    line.split(SEP).map(str::to_string).collect()
}

fn table_names<D: Db>(db: &mut D) -> Result<Vec<String>> {
    let q = match db.backend() {
        Backend::Sqlite => "SELECT name AS line FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_\\_diesel%' ESCAPE '\\' ORDER BY name",
        Backend::Postgres => "SELECT tablename::text AS line FROM pg_tables WHERE schemaname = current_schema() AND tablename NOT LIKE '\\_\\_diesel%' ORDER BY tablename",
        Backend::Mysql => "SELECT CAST(table_name AS CHAR) AS line FROM information_schema.tables WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE' AND table_name NOT LIKE '\\_\\_diesel%' ORDER BY table_name",
    };
    Ok(db.lines(q)?)
}

fn columns<D: Db>(db: &mut D, table: &str) -> Result<Vec<Column>> {
    let backend = db.backend();
    let s = sep(backend);
    let t = lit(table);
    let q = match backend {
        Backend::Sqlite => format!("SELECT name || {s} || type || {s} || \"notnull\" || {s} || COALESCE(dflt_value, '') || {s} || pk AS line FROM pragma_table_info({t}) ORDER BY cid"),
        Backend::Postgres => format!(
            "SELECT c.column_name || {s} || (CASE WHEN c.data_type = 'character varying' THEN 'varchar(' || c.character_maximum_length || ')' WHEN c.data_type = 'numeric' THEN 'numeric(' || c.numeric_precision || ',' || c.numeric_scale || ')' ELSE c.data_type END) || {s} || (CASE WHEN c.is_nullable = 'NO' THEN '1' ELSE '0' END) || {s} || COALESCE(c.column_default, '') || {s} || (CASE WHEN EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) WHERE i.indrelid = ({t})::regclass AND i.indisprimary AND a.attname = c.column_name) THEN '1' ELSE '0' END) AS line FROM information_schema.columns c WHERE c.table_schema = current_schema() AND c.table_name = {t} ORDER BY c.ordinal_position"
        ),
        Backend::Mysql => format!(
            "SELECT CAST(CONCAT(column_name, {s}, column_type, {s}, IF(is_nullable = 'NO', '1', '0'), {s}, COALESCE(column_default, ''), {s}, IF(column_key = 'PRI', '1', '0')) AS CHAR) AS line FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = {t} ORDER BY ordinal_position"
        ),
    };
    let mut out = Vec::new();
    for line in db.lines(&q)? {
        let f = fields(&line);
        if f.len() < 5 {
            continue;
        }
        let sql_type = parse_type(&f[1], backend);
        let primary_key = f[4] != "0";
        out.push(Column {
            name: f[0].clone(),
            default: if primary_key {
                None
            } else {
                parse_default(&f[3], &sql_type, backend)
            },
            sql_type: if primary_key {
                SqlType::Integer
            } else {
                sql_type
            },
            nullable: f[2] == "0" && !primary_key,
            primary_key,
        });
    }
    Ok(out)
}

fn indexes<D: Db>(db: &mut D, table: &str) -> Result<Vec<Index>> {
    let backend = db.backend();
    let s = sep(backend);
    let t = lit(table);
    let q = match backend {
        Backend::Sqlite => format!("SELECT il.name || {s} || il.\"unique\" || {s} || (SELECT group_concat(name, ',') FROM (SELECT name FROM pragma_index_info(il.name) ORDER BY seqno)) AS line FROM pragma_index_list({t}) il WHERE il.origin != 'pk'"),
        Backend::Postgres => format!(
            "SELECT i.relname || {s} || (CASE WHEN ix.indisunique THEN '1' ELSE '0' END) || {s} || string_agg(a.attname, ',' ORDER BY k.n) AS line FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid JOIN LATERAL unnest(ix.indkey) WITH ORDINALITY AS k(attnum, n) ON true JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.attnum WHERE ix.indrelid = ({t})::regclass AND NOT ix.indisprimary GROUP BY i.relname, ix.indisunique"
        ),
        Backend::Mysql => format!(
            "SELECT CAST(CONCAT(index_name, {s}, IF(non_unique = 0, '1', '0'), {s}, GROUP_CONCAT(column_name ORDER BY seq_in_index SEPARATOR ',')) AS CHAR) AS line FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = {t} AND index_name != 'PRIMARY' GROUP BY index_name, non_unique"
        ),
    };
    let mut out: Vec<Index> = db
        .lines(&q)?
        .iter()
        .map(|line| fields(line))
        .filter(|f| f.len() >= 3)
        .map(|f| {
            let columns: Vec<String> = f[2].split(',').map(str::to_string).collect();
            // SQLite's automatic indexes for inline UNIQUE constraints get our conventional name.
            let name = if f[0].starts_with("sqlite_autoindex") {
                super::index_name(table, &columns)
            } else {
                f[0].clone()
            };
            Index {
                name,
                columns,
                unique: f[1] == "1",
            }
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

fn foreign_keys<D: Db>(db: &mut D, table: &str) -> Result<Vec<ForeignKey>> {
    let backend = db.backend();
    let s = sep(backend);
    let t = lit(table);
    let q = match backend {
        Backend::Sqlite => format!("SELECT '' || {s} || \"from\" || {s} || \"table\" || {s} || \"to\" || {s} || on_delete AS line FROM pragma_foreign_key_list({t})"),
        Backend::Postgres => format!(
            "SELECT c.conname || {s} || a.attname || {s} || (c.confrelid::regclass)::text || {s} || af.attname || {s} || c.confdeltype::text AS line FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] JOIN pg_attribute af ON af.attrelid = c.confrelid AND af.attnum = c.confkey[1] WHERE c.contype = 'f' AND c.conrelid = ({t})::regclass"
        ),
        Backend::Mysql => format!(
            "SELECT CAST(CONCAT(k.constraint_name, {s}, k.column_name, {s}, k.referenced_table_name, {s}, k.referenced_column_name, {s}, r.delete_rule) AS CHAR) AS line FROM information_schema.key_column_usage k JOIN information_schema.referential_constraints r ON r.constraint_schema = k.constraint_schema AND r.constraint_name = k.constraint_name WHERE k.table_schema = DATABASE() AND k.table_name = {t} AND k.referenced_table_name IS NOT NULL"
        ),
    };
    let mut out: Vec<ForeignKey> = db
        .lines(&q)?
        .iter()
        .map(|line| fields(line))
        .filter(|f| f.len() >= 5)
        .map(|f| ForeignKey {
            // SQLite does not keep constraint names; use the convention.
            name: if f[0].is_empty() {
                super::foreign_key_name(table, &f[1])
            } else {
                f[0].clone()
            },
            column: f[1].clone(),
            ref_table: f[2].clone(),
            ref_column: f[3].clone(),
            on_delete: on_delete(&f[4]),
        })
        .collect();
    out.sort_by(|a, b| a.column.cmp(&b.column));
    Ok(out)
}

/// The schema of the database behind `db`, tables ordered parents first.
pub fn introspect<D: Db>(db: &mut D) -> Result<Schema> {
    let mut tables = Vec::new();
    for name in table_names(db)? {
        if name == crate::migrations::ledger::SIDE_TABLE {
            continue;
        }
        tables.push(Table {
            columns: columns(db, &name)?,
            indexes: indexes(db, &name)?,
            foreign_keys: foreign_keys(db, &name)?,
            name,
        });
    }
    Ok(Schema {
        tables: parents_first(tables),
    })
}

/// Order tables so referenced tables come first (stable by name otherwise).
pub fn parents_first(mut remaining: Vec<Table>) -> Vec<Table> {
    let mut ordered: Vec<Table> = Vec::new();
    while !remaining.is_empty() {
        let pos = remaining
            .iter()
            .position(|t| {
                t.foreign_keys.iter().all(|fk| {
                    fk.ref_table == t.name
                        || ordered.iter().any(|o| o.name == fk.ref_table)
                        || !remaining.iter().any(|r| r.name == fk.ref_table)
                })
            })
            .unwrap_or(0);
        ordered.push(remaining.remove(pos));
    }
    ordered
}

/// What the desired schema looks like after a round trip through `backend`'s SQL: the
/// same normalization introspection applies, so equal schemas compare equal.
pub fn normalize(schema: &Schema, backend: Backend) -> Schema {
    let mut s = schema.clone();
    for t in &mut s.tables {
        for c in &mut t.columns {
            c.sql_type = parse_type(&crate::sql::type_sql(&c.sql_type, backend), backend);
            if c.primary_key {
                c.sql_type = SqlType::Integer;
                c.default = None;
            }
            c.default = c.default.take().map(canonical);
        }
        t.indexes.sort_by(|a, b| a.name.cmp(&b.name));
        t.foreign_keys.sort_by(|a, b| a.column.cmp(&b.column));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_round_trip_per_backend() {
        for backend in [Backend::Sqlite, Backend::Postgres, Backend::Mysql] {
            for ty in [
                SqlType::Integer,
                SqlType::BigInt,
                SqlType::SmallInt,
                SqlType::Double,
                SqlType::Decimal {
                    precision: 10,
                    scale: 2,
                },
                SqlType::Bool,
                SqlType::Varchar { max_length: 40 },
                SqlType::Text,
                SqlType::Date,
                SqlType::Time,
                SqlType::Timestamp,
                SqlType::Binary,
            ] {
                let sql = crate::sql::type_sql(&ty, backend);
                assert_eq!(parse_type(&sql, backend), ty, "{backend} {sql}");
            }
        }
    }

    #[test]
    fn defaults_parse() {
        use ColumnDefault::*;
        assert_eq!(
            parse_default(
                "'abc'::character varying",
                &SqlType::Varchar { max_length: 3 },
                Backend::Postgres
            ),
            Some(Text("abc".into()))
        );
        assert_eq!(
            parse_default("0", &SqlType::Integer, Backend::Sqlite),
            Some(Number("0".into()))
        );
        assert_eq!(
            parse_default("current_timestamp()", &SqlType::Timestamp, Backend::Mysql),
            Some(CurrentTimestamp)
        );
        assert_eq!(
            parse_default("1", &SqlType::Bool, Backend::Sqlite),
            Some(Bool(true))
        );
        assert_eq!(parse_default("NULL", &SqlType::Text, Backend::Mysql), None);
        assert_eq!(
            parse_default(
                "0.00",
                &SqlType::Decimal {
                    precision: 10,
                    scale: 2
                },
                Backend::Mysql
            ),
            Some(Number("0".into()))
        );
        assert_eq!(
            parse_default("'it''s'", &SqlType::Text, Backend::Sqlite),
            Some(Text("it's".into()))
        );
    }
}

//! Read a live (or replayed) database's catalog back into a [`Schema`]. Types are mapped
//! back through each backend's SQL names, so `introspect(apply(render(s))) == normalize(s)`.

use crate::error::Result;
use crate::migrations::engine::Db;
use crate::schema::{self, Column, ColumnDefault, ForeignKey, Index, Schema, SqlType, Table};
use crate::spec::{Backend, OnDelete};
use diesel::sql_types::{Bool, Nullable, Text};

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
    if let Some(special) = crate::dialect::of(backend).catalog_type(base, &args) {
        return special;
    }
    match base {
        "boolean" | "bool" => SqlType::Bool,
        "integer" | "int" | "int4" | "mediumint" => SqlType::Integer,
        "bigint" | "int8" => SqlType::BigInt,
        "smallint" | "int2" => SqlType::SmallInt,
        "float" | "real" | "float4" => SqlType::Float,
        "double" | "double precision" | "float8" => SqlType::Double,
        "decimal" | "numeric" => SqlType::Decimal {
            precision: args.first().copied().unwrap_or(10),
            scale: args.get(1).copied().unwrap_or(0),
        },
        "varchar" | "character varying" => SqlType::Varchar {
            max_length: args.first().copied().unwrap_or(255),
        },
        "char" | "character" if args.first() == Some(&36) => SqlType::Uuid,
        "uuid" => SqlType::Uuid,
        "date" => SqlType::Date,
        "time" | "time without time zone" => SqlType::Time,
        "timestamp" | "timestamp without time zone" => SqlType::Timestamp,
        "timestamptz" | "timestamp with time zone" => SqlType::Timestamptz,
        "jsonb" | "json" => SqlType::Json,
        "blob" | "bytea" | "longblob" | "binary" | "varbinary" => SqlType::Binary,
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
    let dialect = crate::dialect::of(backend);
    d = dialect.strip_default_cast(d);
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
        let text = dialect.unescape_default(inner.replace("''", "'"));
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

// Catalog rows, read by column name. One query per fact per backend; text columns are cast
// to the backend's text type (PostgreSQL's `name`/`sql_identifier`, MySQL's binary-collated
// catalog columns), flags are SQL booleans (integers on SQLite and MySQL).

/// A table of the application (not Diesel's or dieselkit's bookkeeping, not a view).
#[derive(diesel::QueryableByName)]
pub struct TableRow {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(diesel::QueryableByName)]
pub struct ColumnRow {
    #[diesel(sql_type = Text)]
    name: String,
    /// The type as the catalog names it, with length or precision (`varchar(50)`).
    #[diesel(sql_type = Text)]
    data_type: String,
    #[diesel(sql_type = Bool)]
    not_null: bool,
    /// The default expression as the catalog prints it.
    #[diesel(sql_type = Nullable<Text>)]
    default_value: Option<String>,
    #[diesel(sql_type = Bool)]
    primary_key: bool,
}

/// One column of one index (not the primary key's), in the index's column order.
#[derive(diesel::QueryableByName)]
pub struct IndexColumnRow {
    #[diesel(sql_type = Text)]
    index_name: String,
    #[diesel(sql_type = Bool)]
    is_unique: bool,
    #[diesel(sql_type = Text)]
    column_name: String,
}

/// A (single-column) foreign key. SQLite keeps no constraint names.
#[derive(diesel::QueryableByName)]
pub struct ForeignKeyRow {
    #[diesel(sql_type = Nullable<Text>)]
    name: Option<String>,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    ref_table: String,
    #[diesel(sql_type = Text)]
    ref_column: String,
    /// `CASCADE`, `SET NULL`, ... (PostgreSQL: its one-letter code).
    #[diesel(sql_type = Text)]
    on_delete: String,
}

/// The application's tables, by name: not Diesel's or dieselkit's bookkeeping tables
/// (`__diesel_schema_migrations`, `__dieselkit_migrations`), SQLite's own, or views.
pub fn table_names<D: Db>(db: &mut D) -> Result<Vec<String>>
where
    TableRow: diesel::QueryableByName<D::B>,
{
    let q = crate::dialect::of(db.backend()).tables_query();
    Ok(db
        .load::<TableRow>(q)?
        .into_iter()
        .map(|r| r.name)
        .collect())
}

fn columns<D: Db>(db: &mut D, table: &str) -> Result<Vec<Column>>
where
    ColumnRow: diesel::QueryableByName<D::B>,
{
    let backend = db.backend();
    let dialect = crate::dialect::of(backend);
    let q = dialect.columns_query(&dialect.quote(table));
    Ok(db
        .load::<ColumnRow>(&q)?
        .into_iter()
        .map(|r| {
            let sql_type = parse_type(&r.data_type, backend);
            Column {
                default: if r.primary_key {
                    None
                } else {
                    parse_default(r.default_value.as_deref().unwrap_or(""), &sql_type, backend)
                },
                sql_type: if r.primary_key {
                    SqlType::Integer
                } else {
                    sql_type
                },
                nullable: !r.not_null && !r.primary_key,
                primary_key: r.primary_key,
                name: r.name,
            }
        })
        .collect())
}

fn indexes<D: Db>(db: &mut D, table: &str) -> Result<Vec<Index>>
where
    IndexColumnRow: diesel::QueryableByName<D::B>,
{
    let dialect = crate::dialect::of(db.backend());
    let q = dialect.index_columns_query(&dialect.quote(table));
    let mut out: Vec<Index> = Vec::new();
    for row in db.load::<IndexColumnRow>(&q)? {
        match out.last_mut() {
            Some(index) if index.name == row.index_name => index.columns.push(row.column_name),
            _ => out.push(Index {
                name: row.index_name,
                columns: vec![row.column_name],
                unique: row.is_unique,
            }),
        }
    }
    for index in &mut out {
        // SQLite's automatic indexes for inline UNIQUE constraints get our conventional name.
        if index.name.starts_with("sqlite_autoindex") {
            index.name = schema::index_name(table, &index.columns);
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

fn foreign_keys<D: Db>(db: &mut D, table: &str) -> Result<Vec<ForeignKey>>
where
    ForeignKeyRow: diesel::QueryableByName<D::B>,
{
    let dialect = crate::dialect::of(db.backend());
    let q = dialect.foreign_keys_query(&dialect.quote(table));
    let mut out: Vec<ForeignKey> = db
        .load::<ForeignKeyRow>(&q)?
        .into_iter()
        .map(|r| ForeignKey {
            name: r
                .name
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| schema::foreign_key_name(table, &r.column_name)),
            on_delete: on_delete(&r.on_delete),
            column: r.column_name,
            ref_table: r.ref_table,
            ref_column: r.ref_column,
        })
        .collect();
    out.sort_by(|a, b| a.column.cmp(&b.column));
    Ok(out)
}

/// The schema of the database behind `db`, tables ordered parents first.
pub fn introspect<D: Db>(db: &mut D) -> Result<Schema>
where
    TableRow: diesel::QueryableByName<D::B>,
    ColumnRow: diesel::QueryableByName<D::B>,
    IndexColumnRow: diesel::QueryableByName<D::B>,
    ForeignKeyRow: diesel::QueryableByName<D::B>,
{
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

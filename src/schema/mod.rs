//! The relational schema: tables, columns, indexes and foreign keys, backend-neutral.
//! [`from_model`] turns the model into the schema it wants; introspection of a replayed
//! database produces the same type, and [`crate::diff`] compares two of them.

pub mod rust;

use crate::spec::{DefaultValue, FieldType, Model, OnDelete};

/// A column type. Backend renderers in [`crate::sql`] turn it into SQL, and
/// [`rust`] into diesel and Rust types.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SqlType {
    Integer,
    BigInt,
    SmallInt,
    Float,
    Double,
    Decimal { precision: u32, scale: u32 },
    Bool,
    Varchar { max_length: u32 },
    Text,
    Date,
    Time,
    Timestamp,
    Timestamptz,
    Uuid,
    Json,
    Binary,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ColumnDefault {
    Number(String),
    Bool(bool),
    Text(String),
    CurrentTimestamp,
    CurrentDate,
    CurrentTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub sql_type: SqlType,
    pub nullable: bool,
    pub primary_key: bool,
    pub default: Option<ColumnDefault>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Index {
    pub name: String,
    pub columns: Vec<String>,
    pub unique: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignKey {
    pub name: String,
    pub column: String,
    pub ref_table: String,
    pub ref_column: String,
    pub on_delete: OnDelete,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub name: String,
    pub columns: Vec<Column>,
    pub indexes: Vec<Index>,
    pub foreign_keys: Vec<ForeignKey>,
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// Tables in creation order (referenced tables first).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Schema {
    pub tables: Vec<Table>,
}

impl Schema {
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.name == name)
    }
}

pub fn index_name(table: &str, columns: &[String]) -> String {
    format!("index_{table}_on_{}", columns.join("_and_"))
}

pub fn foreign_key_name(table: &str, column: &str) -> String {
    format!("fk_{table}_{column}")
}

pub fn sql_type_of(ty: &FieldType) -> SqlType {
    match ty {
        FieldType::Int | FieldType::References { .. } => SqlType::Integer,
        FieldType::BigInt => SqlType::BigInt,
        FieldType::SmallInt => SqlType::SmallInt,
        FieldType::Float => SqlType::Float,
        FieldType::Double => SqlType::Double,
        FieldType::Decimal { precision, scale } => SqlType::Decimal {
            precision: *precision,
            scale: *scale,
        },
        FieldType::Bool => SqlType::Bool,
        FieldType::String { max_length } => SqlType::Varchar {
            max_length: *max_length,
        },
        FieldType::Text => SqlType::Text,
        FieldType::Date => SqlType::Date,
        FieldType::Time => SqlType::Time,
        FieldType::Datetime => SqlType::Timestamp,
        FieldType::Timestamptz => SqlType::Timestamptz,
        FieldType::Uuid => SqlType::Uuid,
        FieldType::Json => SqlType::Json,
        FieldType::Bytes => SqlType::Binary,
    }
}

fn column_default(ty: &FieldType, default: &DefaultValue) -> ColumnDefault {
    match default {
        DefaultValue::Number(n) => ColumnDefault::Number(n.clone()),
        DefaultValue::Bool(b) => ColumnDefault::Bool(*b),
        DefaultValue::Text(t) => ColumnDefault::Text(t.clone()),
        DefaultValue::Now => match ty {
            FieldType::Date => ColumnDefault::CurrentDate,
            FieldType::Time => ColumnDefault::CurrentTime,
            _ => ColumnDefault::CurrentTimestamp,
        },
    }
}

fn timestamp_column(name: &str) -> Column {
    Column {
        name: name.into(),
        sql_type: SqlType::Timestamp,
        nullable: false,
        primary_key: false,
        default: Some(ColumnDefault::CurrentTimestamp),
    }
}

/// The schema a model asks for: `id` primary key, the user's columns,
/// `created_at`/`updated_at`; an index on every foreign key and every `:index` field; a
/// unique index for every `:unique` field.
pub fn from_model(model: &Model) -> Schema {
    let tables = model
        .resources
        .iter()
        .map(|resource| {
            let mut columns = vec![Column {
                name: "id".into(),
                sql_type: SqlType::Integer,
                nullable: false,
                primary_key: true,
                default: None,
            }];
            let mut indexes = Vec::new();
            let mut foreign_keys = Vec::new();
            for field in &resource.fields {
                let column = field.column();
                columns.push(Column {
                    name: column.clone(),
                    sql_type: sql_type_of(&field.ty),
                    nullable: field.nullable,
                    primary_key: false,
                    default: field.default.as_ref().map(|d| column_default(&field.ty, d)),
                });
                if let FieldType::References { resource: target } = &field.ty {
                    let ref_table = model
                        .resource(target)
                        .map(|r| r.table.clone())
                        .unwrap_or_else(|| crate::spec::names::plural(target));
                    foreign_keys.push(ForeignKey {
                        name: foreign_key_name(&resource.table, &column),
                        column: column.clone(),
                        ref_table,
                        ref_column: "id".into(),
                        on_delete: field.on_delete.unwrap_or_default(),
                    });
                }
                let is_fk = matches!(field.ty, FieldType::References { .. });
                if field.unique || field.index || is_fk {
                    let cols = vec![column.clone()];
                    indexes.push(Index {
                        name: index_name(&resource.table, &cols),
                        columns: cols,
                        unique: field.unique,
                    });
                }
            }
            columns.push(timestamp_column("created_at"));
            columns.push(timestamp_column("updated_at"));
            Table {
                name: resource.table.clone(),
                columns,
                indexes,
                foreign_keys,
            }
        })
        .collect();
    Schema { tables }
}

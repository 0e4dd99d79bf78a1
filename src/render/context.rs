//! The one serializable context every template sees (documented in
//! templates/CONTEXT.md). Names are computed here, once, never in templates.

use super::api;
use crate::schema::{rust, sql_type_of};
use crate::spec::{names, Backend, FieldSpec, FieldType, Model, Resource};
use serde::Serialize;
use serde_json::{json, Value};

#[derive(Debug, Clone, Serialize)]
pub struct Context {
    pub dieselkit_version: &'static str,
    pub project: ProjectCtx,
    pub options: crate::spec::Options,
    pub needs: Needs,
    pub resources: Vec<ResourceCtx>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProjectCtx {
    pub name: String,
    pub crate_name: String,
    pub backend: &'static str,
    pub database_url: String,
}

/// Which field kinds the model uses (whatever the backend), so that templates pull in a
/// crate or a diesel feature only when something needs it.
#[derive(Debug, Clone, Serialize)]
pub struct Needs {
    pub chrono: bool,
    pub decimal: bool,
    pub json: bool,
    pub uuid: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ResourceCtx {
    pub name: String,
    pub module: String,
    pub struct_name: String,
    pub table: String,
    pub fields: Vec<FieldCtx>,
    pub parents: Vec<RelationCtx>,
    pub children: Vec<RelationCtx>,
    /// The columns `?sort=` takes: id, the sortable fields, created_at, updated_at.
    pub sortable: Vec<String>,
    /// `sortable` as the document's enum of sort keys: each column, then `-column`.
    pub sort_keys: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FieldCtx {
    pub name: String,
    pub kind: &'static str,
    pub nullable: bool,
    pub unique: bool,
    /// The column has a database default, so create requests may omit it.
    pub has_default: bool,
    pub max_length: Option<u32>,
    /// The Rust type of the field in the API structs: the same on every backend (the
    /// newtypes of the generated `src/types.rs` convert at the model boundary).
    pub rust_type: String,
    /// A `Copy` type (a filter value can be bound without a clone).
    pub copy: bool,
    /// The `diesel::sql_types` name of the column on this backend (as in `schema.rs`).
    pub diesel_type: &'static str,
    /// The field's OpenAPI schema (as a filter parameter): identical on every backend.
    pub schema: Value,
    /// The schema as a property of a body or row: `schema`, plus `nullable` and an
    /// `example` (`sample_a`; none for references).
    pub property: Value,
    /// `GET /{table}?field=value` filters on it.
    pub filterable: bool,
    /// `?sort=field` orders by it.
    pub sortable: bool,
    pub sample_a: Value,
    pub sample_b: Value,
    pub references: Option<ReferenceCtx>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReferenceCtx {
    pub resource: String,
    pub module: String,
    pub struct_name: String,
    pub table: String,
    pub on_delete: crate::spec::OnDelete,
}

#[derive(Debug, Clone, Serialize)]
pub struct RelationCtx {
    pub field: String,
    pub resource: String,
    pub module: String,
    pub struct_name: String,
    pub table: String,
    /// For a child: the URL segment of its nested list (`/authors/{id}/<segment>`), the
    /// child's table, or `<table>_by_<field without _id>` for a second reference from the
    /// same table. Empty for a parent.
    pub segment: String,
}

fn kind(ty: &FieldType) -> &'static str {
    match ty {
        FieldType::Int => "int",
        FieldType::BigInt => "bigint",
        FieldType::SmallInt => "smallint",
        FieldType::Float => "float",
        FieldType::Double => "double",
        FieldType::Decimal { .. } => "decimal",
        FieldType::Bool => "bool",
        FieldType::String { .. } => "string",
        FieldType::Text => "text",
        FieldType::Date => "date",
        FieldType::Time => "time",
        FieldType::Datetime => "datetime",
        FieldType::Timestamptz => "timestamptz",
        FieldType::Uuid => "uuid",
        FieldType::Json => "json",
        FieldType::Bytes => "bytes",
        FieldType::References { .. } => "references",
    }
}

/// Two distinct valid sample values (as JSON) for a field: used by seed data and the
/// generated tests.
fn samples(field: &FieldSpec) -> (Value, Value) {
    match &field.ty {
        FieldType::Int | FieldType::BigInt | FieldType::SmallInt => (json!(1), json!(2)),
        FieldType::Float | FieldType::Double => (json!(1.5), json!(2.5)),
        FieldType::Decimal { precision, scale } => {
            // As the API returns them: exactly `scale` digits after the point.
            let scale = *scale as usize;
            let whole = |n: &str| {
                if precision > &(scale as u32) {
                    n.to_string()
                } else {
                    "0".into()
                }
            };
            let fraction = |digits: &str| {
                let mut digits: String = digits.chars().take(scale).collect();
                while digits.len() < scale {
                    digits.push('0');
                }
                if scale == 0 {
                    String::new()
                } else {
                    format!(".{digits}")
                }
            };
            (
                json!(format!("{}{}", whole("1"), fraction("5"))),
                json!(format!("{}{}", whole("2"), fraction("25"))),
            )
        }
        FieldType::Bool => (json!(true), json!(false)),
        FieldType::String { max_length } => {
            let n = *max_length as usize;
            let pick = |i: u32| {
                let long = format!("{} {i}", field.name.replace('_', " "));
                if long.chars().count() <= n {
                    long
                } else {
                    i.to_string()
                }
            };
            (json!(pick(1)), json!(pick(2)))
        }
        FieldType::Text => (
            json!(format!("Sample {} 1", field.name.replace('_', " "))),
            json!(format!("Sample {} 2", field.name.replace('_', " "))),
        ),
        FieldType::Date => (json!("2024-01-15"), json!("2024-02-20")),
        FieldType::Time => (json!("09:30:00"), json!("17:45:00")),
        FieldType::Timestamptz => (json!("2024-01-15T09:30:00Z"), json!("2024-02-20T17:45:00Z")),
        FieldType::Datetime => (json!("2024-01-15T09:30:00"), json!("2024-02-20T17:45:00")),
        FieldType::Uuid => (
            json!("0b6f1c2e-8d3a-4f5b-9c7d-1e2f3a4b5c61"),
            json!("0b6f1c2e-8d3a-4f5b-9c7d-1e2f3a4b5c62"),
        ),
        FieldType::Json => (json!({"key": 1}), json!({"key": [2, "two"]})),
        FieldType::Bytes => (json!([1, 2, 3]), json!([4, 5])),
        FieldType::References { .. } => (Value::Null, Value::Null),
    }
}

/// The API type of a field and whether it is `Copy`: backend-independent, so that one model
/// gives one API on every backend.
fn api_type(ty: &FieldType) -> (String, bool) {
    let (name, copy) = match ty {
        FieldType::Int | FieldType::References { .. } => ("i32", true),
        FieldType::BigInt => ("i64", true),
        FieldType::SmallInt => ("i16", true),
        FieldType::Float => ("crate::types::Float", true),
        FieldType::Double => ("f64", true),
        FieldType::Decimal { precision, scale } => {
            return (
                format!("crate::types::Decimal<{precision}, {scale}>"),
                false,
            )
        }
        FieldType::Bool => ("bool", true),
        FieldType::String { .. } | FieldType::Text => ("String", false),
        FieldType::Date => ("crate::types::Date", true),
        FieldType::Time => ("crate::types::Time", true),
        FieldType::Datetime => ("crate::types::DateTime", true),
        FieldType::Timestamptz => ("crate::types::Timestamp", true),
        FieldType::Uuid => ("crate::types::Uuid", false),
        FieldType::Json => ("crate::types::Json", false),
        FieldType::Bytes => ("Vec<u8>", false),
    };
    (name.to_string(), copy)
}

fn relation(field: &str, resource: &Resource) -> RelationCtx {
    RelationCtx {
        field: field.to_string(),
        resource: resource.name.clone(),
        module: resource.name.clone(),
        struct_name: names::pascal(&resource.name),
        table: resource.table.clone(),
        segment: String::new(),
    }
}

/// Gives each child its nested list's URL segment, in order: the first reference from a
/// table gets the table's name, later ones `<table>_by_<field>`.
fn with_segments(mut children: Vec<RelationCtx>) -> Vec<RelationCtx> {
    let mut seen: Vec<String> = Vec::new();
    for child in &mut children {
        child.segment = if seen.contains(&child.table) {
            format!("{}_by_{}", child.table, child.field.trim_end_matches("_id"))
        } else {
            child.table.clone()
        };
        seen.push(child.table.clone());
    }
    children
}

/// The `DATABASE_URL` written to `.env`: a file next to the project for SQLite, a database
/// named after the crate on a local server (default port and superuser) otherwise.
fn default_database_url(backend: Backend, crate_name: &str) -> String {
    match backend {
        Backend::Sqlite => format!("{crate_name}.db"),
        Backend::Postgres => format!("postgres://postgres@127.0.0.1:5432/{crate_name}"),
        Backend::Mysql => format!("mysql://root@127.0.0.1:3306/{crate_name}"),
    }
}

pub fn build(model: &Model) -> Context {
    let backend = model.backend;
    let mut needs = Needs {
        chrono: true,
        decimal: false,
        json: false,
        uuid: false,
    };
    let resources = model
        .resources
        .iter()
        .map(|resource| {
            let fields: Vec<FieldCtx> = resource
                .fields
                .iter()
                .map(|field| {
                    let sql_type = sql_type_of(&field.ty);
                    needs.decimal |= matches!(field.ty, FieldType::Decimal { .. });
                    needs.json |= field.ty == FieldType::Json;
                    needs.uuid |= field.ty == FieldType::Uuid;
                    let (sample_a, sample_b) = samples(field);
                    let (rust_type, copy) = api_type(&field.ty);
                    let column = field.column();
                    let filterable = api::filterable(&field.ty)
                        && !["page", "per_page", "sort"].contains(&column.as_str());
                    let references = match &field.ty {
                        FieldType::References { resource: target } => {
                            model.resource(target).map(|r| ReferenceCtx {
                                resource: r.name.clone(),
                                module: r.name.clone(),
                                struct_name: names::pascal(&r.name),
                                table: r.table.clone(),
                                on_delete: field.on_delete.unwrap_or_default(),
                            })
                        }
                        _ => None,
                    };
                    let schema = api::field_schema(
                        field,
                        references
                            .as_ref()
                            .map(|r| (r.resource.as_str(), r.table.as_str())),
                    );
                    let property = api::property(
                        &schema,
                        field.nullable,
                        references.is_none().then_some(&sample_a),
                    );
                    FieldCtx {
                        name: column,
                        kind: kind(&field.ty),
                        nullable: field.nullable,
                        unique: field.unique,
                        has_default: field.default.is_some(),
                        max_length: match field.ty {
                            FieldType::String { max_length } => Some(max_length),
                            _ => None,
                        },
                        rust_type,
                        copy,
                        diesel_type: rust::diesel_type(&sql_type, backend),
                        schema,
                        property,
                        filterable,
                        sortable: api::sortable(&field.ty),
                        sample_a,
                        sample_b,
                        references,
                    }
                })
                .collect();
            let parents = resource
                .references()
                .filter_map(|(field, target)| {
                    model.resource(target).map(|r| relation(&field.column(), r))
                })
                .collect();
            let children = with_segments(
                model
                    .resources
                    .iter()
                    .flat_map(|other| {
                        other
                            .references()
                            .filter(|(_, target)| *target == resource.name)
                            .map(|(field, _)| relation(&field.column(), other))
                            .collect::<Vec<_>>()
                    })
                    .collect(),
            );
            let sortable: Vec<String> = std::iter::once("id".to_string())
                .chain(fields.iter().filter(|f| f.sortable).map(|f| f.name.clone()))
                .chain(["created_at".to_string(), "updated_at".to_string()])
                .collect();
            let sort_keys = sortable
                .iter()
                .flat_map(|column| [column.clone(), format!("-{column}")])
                .collect();
            ResourceCtx {
                name: resource.name.clone(),
                module: resource.name.clone(),
                struct_name: names::pascal(&resource.name),
                table: resource.table.clone(),
                fields,
                parents,
                children,
                sortable,
                sort_keys,
            }
        })
        .collect();
    Context {
        dieselkit_version: env!("CARGO_PKG_VERSION"),
        project: ProjectCtx {
            name: model.name.clone(),
            crate_name: model.crate_name(),
            backend: backend.name(),
            database_url: default_database_url(backend, &model.crate_name()),
        },
        options: model.options.clone(),
        needs,
        resources,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn child(table: &str, field: &str) -> RelationCtx {
        RelationCtx {
            field: field.into(),
            resource: table.trim_end_matches('s').into(),
            module: table.trim_end_matches('s').into(),
            struct_name: String::new(),
            table: table.into(),
            segment: String::new(),
        }
    }

    #[test]
    fn a_second_reference_from_one_table_gets_its_own_segment() {
        let children = with_segments(vec![
            child("messages", "sender_id"),
            child("books", "author_id"),
            child("messages", "recipient_id"),
        ]);
        let segments: Vec<&str> = children.iter().map(|c| c.segment.as_str()).collect();
        assert_eq!(segments, ["messages", "books", "messages_by_recipient"]);
    }
}

//! The one serializable context every template sees (documented in
//! templates/CONTEXT.md). Names are computed here, once, never in templates.

use super::api;
use crate::schema::{rust, sql_type_of};
use crate::spec::{names, FieldSpec, FieldType, Model, Resource};
use serde::Serialize;
use serde_json::{json, Value};

#[derive(Debug, Clone, Serialize)]
pub struct Context {
    pub dieselkit_version: &'static str,
    pub project: ProjectCtx,
    pub options: crate::spec::Options,
    pub needs: Needs,
    pub resources: Vec<ResourceCtx>,
    /// Some resource is referenced by another (the seed binary then picks parent ids).
    pub any_referenced: bool,
    /// Which of the generated tests that check a kind of field or relation have something
    /// to check in this model (the others are left out rather than pass doing nothing).
    pub checks: Checks,
    /// The resources' names in the order rustfmt sorts `mod` and `use` lists (a template's
    /// `resources | sort` copies every resource: quadratic at hundreds of resources).
    pub sorted: Sorted,
}

/// See [`Context::sorted`].
#[derive(Debug, Clone, Default, Serialize)]
pub struct Sorted {
    /// Each resource's module with its model types, by module name.
    pub modules: Vec<ModuleRef>,
    /// `NewThing` of each resource, by name.
    pub new_types: Vec<String>,
    /// Each resource's table, by name.
    pub tables: Vec<String>,
}

/// See [`Sorted::modules`].
#[derive(Debug, Clone, Default, Serialize)]
pub struct ModuleRef {
    pub module: String,
    pub model_types: Vec<String>,
}

impl Sorted {
    fn of(resources: &[ResourceCtx]) -> Self {
        let mut modules: Vec<ModuleRef> = resources
            .iter()
            .map(|r| ModuleRef {
                module: r.module.clone(),
                model_types: r.model_types.clone(),
            })
            .collect();
        modules.sort_by(|a, b| a.module.cmp(&b.module));
        let mut new_types: Vec<String> = resources
            .iter()
            .map(|r| format!("New{}", r.struct_name))
            .collect();
        new_types.sort();
        let mut tables: Vec<String> = resources.iter().map(|r| r.table.clone()).collect();
        tables.sort();
        Sorted {
            modules,
            new_types,
            tables,
        }
    }
}

/// See [`Context::checks`].
#[derive(Debug, Clone, Default, Serialize)]
pub struct Checks {
    pub defaults: bool,
    pub max_lengths: bool,
    pub uniques: bool,
    pub references: bool,
    /// A resource has a nested list of another's rows (`/authors/{id}/books`).
    pub nested_lists: bool,
    /// A child refers to its parent once, so what deleting the parent does is unambiguous.
    pub delete_rules: bool,
}

impl Checks {
    fn of(resources: &[ResourceCtx]) -> Self {
        let any = |pick: &dyn Fn(&ResourceCtx) -> bool| resources.iter().any(pick);
        fn other_children(r: &ResourceCtx) -> impl Iterator<Item = &RelationCtx> {
            r.children.iter().filter(move |c| c.table != r.table)
        }
        Self {
            defaults: any(&|r| !r.tests.default_fields.is_empty()),
            max_lengths: any(&|r| !r.tests.max_length_fields.is_empty()),
            uniques: any(&|r| !r.tests.unique_fields.is_empty()),
            references: any(&|r| !r.tests.parents.is_empty()),
            nested_lists: any(&|r| other_children(r).next().is_some()),
            delete_rules: any(&|r| other_children(r).any(|c| !c.delete_rule.is_empty())),
        }
    }
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
    /// The diesel feature a table wider than 32 columns needs (`64-column-tables`,
    /// `128-column-tables`), or "" when none is that wide.
    pub column_feature: &'static str,
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
    /// The fields the generated tests exercise.
    pub tests: TestPicks,
    /// A field has a database default.
    pub has_default: bool,
    /// The row, patch and insert types (`Author`, `AuthorPatch`, `NewAuthor`), in the order
    /// rustfmt sorts them in a `use` list.
    pub model_types: Vec<String>,
    /// The patch and insert types, sorted the same way (what the validation hooks take).
    pub input_types: Vec<String>,
    /// The row and insert types, sorted the same way (what the queries use without routes).
    pub query_types: Vec<String>,
    /// The parents for diesel's `belongs_to`: one per parent type (diesel allows no
    /// more), none for a self-reference.
    pub belongs_to: Vec<RelationCtx>,
    /// The tables it references (itself excepted), once each, in field order.
    pub parent_tables: Vec<String>,
    /// Another resource references it (the seed keeps its ids for them).
    pub referenced: bool,
    /// Its reference fields (self-references included): checked on every write.
    pub references: Vec<FieldCtx>,
    /// Its fields lists can filter on (`?field=value`).
    pub filterable: Vec<FieldCtx>,
}

/// Which fields of a resource each generated test exercises (`""` or empty when none
/// fits, and the test is then left out).
#[derive(Debug, Clone, Default, Serialize)]
pub struct TestPicks {
    /// Its references to other resources (itself excepted), as (field, table): the rows a
    /// valid body needs first.
    pub parents: Vec<(String, String)>,
    /// Two valid bodies (samples A and B) as Rust string literals of JSON, without the
    /// references to other resources (a self-reference is `null`).
    pub samples: Vec<String>,
    /// The first NOT NULL field without a default (leaving it out is a 422).
    pub required_field: String,
    /// The first nullable field (PATCH with `null` clears it).
    pub nullable_field: String,
    /// The first field that is not a reference (PATCH changes it alone).
    pub patch_field: String,
    /// The first field for which a JSON object is the wrong type (not decimal, timestamptz,
    /// json or bytes, whose error paths are tested elsewhere).
    pub wrong_type_field: String,
    /// The text fields with a maximum length.
    pub max_length_fields: Vec<FieldCtx>,
    pub unique_fields: Vec<String>,
    /// References to other resources (a missing target is a 409).
    pub reference_fields: Vec<String>,
    /// Fields with a default (left out of a POST, they get it).
    pub default_fields: Vec<String>,
    /// The first filterable field (not a self-reference, null in the samples), and the
    /// first filterable one that is not text (a word is a bad value for it).
    pub filter_field: String,
    pub bad_filter_field: String,
}

/// `text` as a Rust raw string literal (`r#"..."#`), with as many `#` as it needs.
fn raw_string_literal(text: &str) -> String {
    let mut hashes = 1;
    while text.contains(&format!("\"{}", "#".repeat(hashes))) {
        hashes += 1;
    }
    let fence = "#".repeat(hashes);
    format!("r{fence}\"{text}\"{fence}")
}

/// The first of `fields` that `pick` accepts, by name; `""` when none does.
fn first_name(fields: &[FieldCtx], pick: impl Fn(&FieldCtx) -> bool) -> String {
    fields
        .iter()
        .find(|f| pick(f))
        .map(|f| f.name.clone())
        .unwrap_or_default()
}

fn names_of(fields: &[FieldCtx], pick: impl Fn(&FieldCtx) -> bool) -> Vec<String> {
    fields
        .iter()
        .filter(|f| pick(f))
        .map(|f| f.name.clone())
        .collect()
}

/// The test picks of a resource whose table is `table`.
fn test_picks(table: &str, fields: &[FieldCtx]) -> TestPicks {
    let other = |f: &FieldCtx| f.references.as_ref().is_some_and(|r| r.table != table);
    let parents = fields
        .iter()
        .filter_map(|f| match &f.references {
            Some(r) if r.table != table => Some((f.name.clone(), r.table.clone())),
            _ => None,
        })
        .collect();
    let sample = |pick: fn(&FieldCtx) -> &Value| {
        let body: serde_json::Map<String, Value> = fields
            .iter()
            .filter(|f| !other(f))
            .map(|f| {
                let value = if f.references.is_some() {
                    Value::Null
                } else {
                    pick(f).clone()
                };
                (f.name.clone(), value)
            })
            .collect();
        raw_string_literal(&Value::Object(body).to_string())
    };
    TestPicks {
        parents,
        samples: vec![sample(|f| &f.sample_a), sample(|f| &f.sample_b)],
        required_field: first_name(fields, |f| !f.nullable && !f.has_default),
        nullable_field: first_name(fields, |f| f.nullable),
        patch_field: first_name(fields, |f| f.references.is_none()),
        wrong_type_field: first_name(fields, |f| {
            !["decimal", "timestamptz", "json", "bytes"].contains(&f.kind)
        }),
        max_length_fields: fields
            .iter()
            .filter(|f| f.max_length.is_some())
            .cloned()
            .collect(),
        unique_fields: names_of(fields, |f| f.unique),
        reference_fields: names_of(fields, other),
        default_fields: names_of(fields, |f| f.has_default),
        // A self-reference is null in both samples: nothing to filter by.
        filter_field: first_name(fields, |f| {
            f.filterable && f.references.as_ref().is_none_or(|r| r.table != table)
        }),
        bad_filter_field: first_name(fields, |f| f.filterable && f.rust_type != "String"),
    }
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
    /// Text the generated `validate` checks (no U+0000, which PostgreSQL cannot store; at
    /// most `max_length` characters): `string` and `text` fields.
    pub checked_text: bool,
    pub sample_a: Value,
    pub sample_b: Value,
    pub references: Option<ReferenceCtx>,
    /// The field as API.md's field table describes it.
    pub doc: FieldDoc,
    /// Its type in each generated struct.
    pub types: FieldTypes,
    /// `max_length` as a Rust `Option<usize>` literal: `Some(100)` or `None`.
    pub max_length_literal: String,
}

/// A field's type in the row and in the bodies of `POST`/`PUT` (`NewThing`) and `PATCH`
/// (`ThingPatch`), how serde reads it there, and the pattern that binds a value the body
/// holds (`value`), for the generated checks.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FieldTypes {
    /// `T`, or `Option<T>` when nullable.
    pub row: String,
    /// `Option<Option<T>>` when nullable with a default (absent = default, null = NULL),
    /// `Option<T>` when nullable or with a default, else `T`.
    pub new: String,
    /// The `super::` deserializer of `new`: `nullable_field`, `required_field`, or "" (serde's own).
    pub new_serde: &'static str,
    /// `Some(Some(value))`, `Some(value)`, or "" when `new` always holds a value.
    pub new_present: &'static str,
    /// `Option<Option<T>>` when nullable (absent = unchanged, null = NULL), else `Option<T>`.
    pub patch: String,
    /// The `super::` deserializer of `patch`: `nullable_field` or `required_field`.
    pub patch_serde: &'static str,
    /// `Some(Some(value))` or `Some(value)`.
    pub patch_present: &'static str,
    /// What to write around a `NewThing` field to get the `Option<T>` it sets (`None`:
    /// NULL or left to the default): `Some(` and `)` around a `T`, nothing around an
    /// `Option<T>`, `.flatten()` after an `Option<Option<T>>`.
    pub new_option_open: &'static str,
    pub new_option_close: &'static str,
    /// What to write after a `ThingPatch` field to get the `Option<T>` it sets: `.flatten()`
    /// after an `Option<Option<T>>`, else nothing.
    pub patch_option_close: &'static str,
    /// What to write around a `NewThing` field to get its `ThingPatch` value (a `PUT` body
    /// as an update): `Some(` and `)`, or nothing when a database default makes it optional
    /// in both (left out: stays as it is).
    pub new_to_patch_open: &'static str,
    pub new_to_patch_close: &'static str,
}

/// See [`FieldTypes`].
fn field_types(rust_type: &str, nullable: bool, has_default: bool) -> FieldTypes {
    let option = format!("Option<{rust_type}>");
    let option2 = format!("Option<Option<{rust_type}>>");
    let (new, new_serde, new_present, new_option_open, new_option_close) =
        match (nullable, has_default) {
            (true, true) => (
                option2.clone(),
                "nullable_field",
                "Some(Some(value))",
                "",
                ".flatten()",
            ),
            (false, true) => (option.clone(), "required_field", "Some(value)", "", ""),
            (true, false) => (option.clone(), "", "Some(value)", "", ""),
            (false, false) => (rust_type.to_string(), "", "", "Some(", ")"),
        };
    let (patch, patch_serde, patch_present) = if nullable {
        (option2, "nullable_field", "Some(Some(value))")
    } else {
        (option.clone(), "required_field", "Some(value)")
    };
    let (new_to_patch_open, new_to_patch_close) = if has_default {
        ("", "")
    } else {
        ("Some(", ")")
    };
    FieldTypes {
        row: if nullable {
            option
        } else {
            rust_type.to_string()
        },
        new,
        new_serde,
        new_present,
        patch,
        patch_serde,
        patch_present,
        new_option_open,
        new_option_close,
        patch_option_close: if nullable { ".flatten()" } else { "" },
        new_to_patch_open,
        new_to_patch_close,
    }
}

/// A field's row in the endpoint reference (API.md): its type in words, whether a create
/// request must send it, and notes (unique; what deleting the referenced row does).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct FieldDoc {
    pub kind: String,
    pub required: &'static str,
    pub notes: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReferenceCtx {
    pub resource: String,
    pub module: String,
    pub struct_name: String,
    pub table: String,
    pub on_delete: crate::spec::OnDelete,
    /// The field refers to a row of its own table (a tree: `parent:references?`).
    pub is_self: bool,
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
    /// For a child: the name of the generated function that serves its nested list,
    /// `list_<table>_by_<field>`. Empty for a parent.
    pub handler: String,
    /// For a child: what the generated tests expect deleting the parent to do to it, as
    /// their `OnDelete` variant (`Cascade`, `SetNull`, `Restrict`); empty when the child's
    /// table refers to the parent more than once (which rule applies is then ambiguous),
    /// and for a parent.
    pub delete_rule: String,
    /// For a child: what deleting the parent does to it (`restrict`, `cascade`,
    /// `set_null`); `restrict` for a parent.
    pub on_delete: crate::spec::OnDelete,
    /// The relation is the resource's own table (a self-reference).
    pub is_self: bool,
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

/// The relation through `field` to `resource`, seen from the resource named `owner`.
fn relation(field: &str, resource: &Resource, owner: &str) -> RelationCtx {
    RelationCtx {
        field: field.to_string(),
        resource: resource.name.clone(),
        module: resource.name.clone(),
        struct_name: names::pascal(&resource.name),
        table: resource.table.clone(),
        segment: String::new(),
        handler: String::new(),
        delete_rule: String::new(),
        on_delete: crate::spec::OnDelete::default(),
        is_self: resource.name == owner,
    }
}

/// A field's row in API.md (see [`FieldDoc`]).
fn field_doc(f: &FieldCtx) -> FieldDoc {
    // A sample as written in prose: a string without its quotes.
    let sample = match &f.sample_a {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    let kind = match (&f.references, f.max_length, f.kind) {
        (Some(r), _, _) => format!("integer, an id in `/{}`", r.table),
        (None, Some(max), _) => format!("string, at most {max} characters"),
        (None, None, "decimal") => format!("exact decimal, as a string (`{sample}`)"),
        (None, None, "timestamptz") => format!("instant, RFC 3339 (`{sample}`)"),
        (None, None, "json") => "any JSON value".to_string(),
        (None, None, other) => other.to_string(),
    };
    let required = if f.has_default {
        "no (database default)"
    } else if f.nullable {
        "no (nullable)"
    } else {
        "yes"
    };
    let mut notes = Vec::new();
    if f.unique {
        notes.push("unique".to_string());
    }
    if let Some(r) = &f.references {
        notes.push(format!(
            "when that row is deleted: {}",
            r.on_delete.sql().to_lowercase()
        ));
    }
    FieldDoc {
        kind,
        required,
        notes: notes.join("; "),
    }
}

/// The diesel feature for the widest table: id, the fields, created_at and updated_at.
fn column_feature(model: &Model) -> &'static str {
    let widest = model
        .resources
        .iter()
        .map(|r| r.fields.len() + 3)
        .max()
        .unwrap_or(0);
    match widest {
        0..=32 => "",
        33..=64 => "64-column-tables",
        _ => "128-column-tables",
    }
}

/// Gives each child its delete rule (see [`RelationCtx::delete_rule`]).
fn with_delete_rules(mut resources: Vec<ResourceCtx>) -> Vec<ResourceCtx> {
    let names: Vec<Vec<String>> = resources
        .iter()
        .map(|r| {
            r.children
                .iter()
                .map(|c| {
                    let Some(child) = resources.iter().find(|cr| cr.table == c.table) else {
                        return String::new();
                    };
                    let here: Vec<&FieldCtx> = child
                        .fields
                        .iter()
                        .filter(|f| f.references.as_ref().is_some_and(|t| t.table == r.table))
                        .collect();
                    let [only] = here.as_slice() else {
                        return String::new();
                    };
                    match only.references.as_ref().map(|t| t.on_delete) {
                        Some(crate::spec::OnDelete::Cascade) => "Cascade",
                        Some(crate::spec::OnDelete::SetNull) => "SetNull",
                        _ => "Restrict",
                    }
                    .to_owned()
                })
                .collect()
        })
        .collect();
    for (r, tests) in resources.iter_mut().zip(names) {
        for (c, name) in r.children.iter_mut().zip(tests) {
            c.delete_rule = name;
        }
    }
    resources
}

/// Gives each child its nested list's URL segment, in order: the first reference from a
/// table gets the table's name, later ones `<table>_by_<field>`; and the name of the
/// function serving that list, `list_<table>_by_<field>`.
fn with_segments(mut children: Vec<RelationCtx>) -> Vec<RelationCtx> {
    let mut seen: Vec<String> = Vec::new();
    for child in &mut children {
        child.handler = format!("list_{}_by_{}", child.table, child.field);
        child.segment = if seen.contains(&child.table) {
            format!("{}_by_{}", child.table, child.field.trim_end_matches("_id"))
        } else {
            child.table.clone()
        };
        seen.push(child.table.clone());
    }
    children
}

pub fn build(model: &Model) -> Context {
    let backend = model.backend;
    let mut needs = Needs {
        chrono: true,
        decimal: false,
        json: false,
        uuid: false,
        column_feature: column_feature(model),
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
                                is_self: r.name == resource.name,
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
                    let max_length = match field.ty {
                        FieldType::String { max_length } => Some(max_length),
                        _ => None,
                    };
                    let mut ctx = FieldCtx {
                        types: field_types(&rust_type, field.nullable, field.default.is_some()),
                        max_length_literal: match max_length {
                            Some(max) => format!("Some({max})"),
                            None => "None".to_string(),
                        },
                        name: column,
                        kind: kind(&field.ty),
                        nullable: field.nullable,
                        unique: field.unique,
                        has_default: field.default.is_some(),
                        max_length,
                        rust_type,
                        copy,
                        diesel_type: rust::diesel_type(&sql_type, backend),
                        schema,
                        property,
                        filterable,
                        sortable: api::sortable(&field.ty),
                        checked_text: matches!(
                            field.ty,
                            FieldType::String { .. } | FieldType::Text
                        ),
                        sample_a,
                        sample_b,
                        references,
                        // Described from the rest of the field, just below.
                        doc: FieldDoc::default(),
                    };
                    ctx.doc = field_doc(&ctx);
                    ctx
                })
                .collect();
            let parents = resource
                .references()
                .filter_map(|(field, target)| {
                    model
                        .resource(target)
                        .map(|r| relation(&field.column(), r, &resource.name))
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
                            .map(|(field, _)| RelationCtx {
                                on_delete: field.on_delete.unwrap_or_default(),
                                ..relation(&field.column(), other, &resource.name)
                            })
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
            let tests = test_picks(&resource.table, &fields);
            let mut parent_tables: Vec<String> = Vec::new();
            for f in &fields {
                if let Some(target) = f.references.as_ref().filter(|t| t.table != resource.table) {
                    if !parent_tables.contains(&target.table) {
                        parent_tables.push(target.table.clone());
                    }
                }
            }
            let struct_name = names::pascal(&resource.name);
            let mut belongs_to: Vec<RelationCtx> = Vec::new();
            for p in &parents {
                let p: &RelationCtx = p;
                if p.struct_name != struct_name
                    && !belongs_to.iter().any(|b| b.struct_name == p.struct_name)
                {
                    belongs_to.push(p.clone());
                }
            }
            let referenced = model.resources.iter().any(|other| {
                other.name != resource.name
                    && other
                        .references()
                        .any(|(_, target)| *target == resource.name)
            });
            let mut model_types = vec![
                struct_name.clone(),
                format!("{struct_name}Patch"),
                format!("New{struct_name}"),
            ];
            model_types.sort();
            let input_types: Vec<String> = model_types
                .iter()
                .filter(|t| **t != struct_name)
                .cloned()
                .collect();
            let patch_type = format!("{struct_name}Patch");
            let query_types: Vec<String> = model_types
                .iter()
                .filter(|t| **t != patch_type)
                .cloned()
                .collect();
            ResourceCtx {
                name: resource.name.clone(),
                module: resource.name.clone(),
                struct_name,
                model_types,
                input_types,
                query_types,
                table: resource.table.clone(),
                parents,
                children,
                sortable,
                sort_keys,
                tests,
                has_default: resource.fields.iter().any(|f| f.default.is_some()),
                belongs_to,
                parent_tables,
                referenced,
                references: fields
                    .iter()
                    .filter(|f| f.references.is_some())
                    .cloned()
                    .collect(),
                filterable: fields.iter().filter(|f| f.filterable).cloned().collect(),
                fields,
            }
        })
        .collect();
    let resources = with_delete_rules(resources);
    let any_referenced = resources.iter().any(|r| r.referenced);
    let checks = Checks::of(&resources);
    let sorted = Sorted::of(&resources);
    Context {
        dieselkit_version: env!("CARGO_PKG_VERSION"),
        project: ProjectCtx {
            name: model.name.clone(),
            crate_name: model.crate_name(),
            backend: backend.name(),
            database_url: crate::dialect::of(backend).default_database_url(&model.crate_name()),
        },
        options: model.options.clone(),
        needs,
        resources,
        any_referenced,
        checks,
        sorted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_types_are_in_use_list_order() {
        let ctx = build(&model(
            &include_str!("../../examples/bookstore.toml")
                .replace("\"author\"", "\"zebra\"")
                .replace("author:references", "zebra:references"),
        ));
        let zebra = ctx
            .resources
            .iter()
            .find(|r| r.name == "zebra")
            .expect("zebra");
        assert_eq!(zebra.model_types, ["NewZebra", "Zebra", "ZebraPatch"]);
        assert_eq!(zebra.input_types, ["NewZebra", "ZebraPatch"]);
        assert_eq!(zebra.query_types, ["NewZebra", "Zebra"]);
        let book = ctx
            .resources
            .iter()
            .find(|r| r.name == "book")
            .expect("book");
        assert_eq!(book.model_types, ["Book", "BookPatch", "NewBook"]);
        assert_eq!(book.query_types, ["Book", "NewBook"]);
        assert!(ctx.any_referenced);
        let modules: Vec<&str> = ctx
            .sorted
            .modules
            .iter()
            .map(|m| m.module.as_str())
            .collect();
        assert_eq!(modules, ["book", "zebra"]);
        assert_eq!(ctx.sorted.new_types, ["NewBook", "NewZebra"]);
        assert_eq!(ctx.sorted.tables, ["books", "zebras"]);
    }

    fn child(table: &str, field: &str) -> RelationCtx {
        RelationCtx {
            field: field.into(),
            resource: table.trim_end_matches('s').into(),
            module: table.trim_end_matches('s').into(),
            struct_name: String::new(),
            table: table.into(),
            segment: String::new(),
            handler: String::new(),
            delete_rule: String::new(),
            on_delete: crate::spec::OnDelete::default(),
            is_self: false,
        }
    }

    #[test]
    fn raw_string_literals_fence_what_they_hold() {
        assert_eq!(raw_string_literal(r#"{"a":1}"#), r##"r#"{"a":1}"#"##);
        assert_eq!(
            raw_string_literal(r##"say "#1""##),
            r###"r##"say "#1""##"###
        );
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
        let handlers: Vec<&str> = children.iter().map(|c| c.handler.as_str()).collect();
        assert_eq!(
            handlers,
            [
                "list_messages_by_sender_id",
                "list_books_by_author_id",
                "list_messages_by_recipient_id"
            ]
        );
    }

    fn model(toml_text: &str) -> Model {
        Model::from_file(&toml::from_str(toml_text).expect("toml")).expect("model")
    }

    #[test]
    fn test_picks_follow_the_fields() {
        let ctx = build(&model(include_str!("../../examples/bookstore.toml")));
        let books = &ctx.resources[1].tests;
        assert_eq!(
            books.parents,
            [("author_id".to_owned(), "authors".to_owned())]
        );
        let sample: Value = serde_json::from_str(
            books.samples[0]
                .strip_prefix("r#\"")
                .and_then(|s| s.strip_suffix("\"#"))
                .expect("a raw string"),
        )
        .expect("JSON");
        assert_eq!(sample["title"], ctx.resources[1].fields[0].sample_a);
        assert!(sample.get("author_id").is_none(), "{sample}");
        assert_eq!(books.required_field, "title");
        assert_eq!(books.nullable_field, "published_on");
        assert_eq!(books.patch_field, "title");
        assert_eq!(books.wrong_type_field, "title");
        let max: Vec<&str> = books
            .max_length_fields
            .iter()
            .map(|f| f.name.as_str())
            .collect();
        assert_eq!(max, ["title", "isbn"]);
        assert_eq!(books.unique_fields, ["isbn"]);
        assert_eq!(books.reference_fields, ["author_id"]);
        assert_eq!(books.default_fields, ["price"]);
        assert_eq!(books.filter_field, "title");
        assert_eq!(books.bad_filter_field, "published_on");
        assert_eq!(ctx.resources[0].children[0].delete_rule, "Cascade");
    }

    #[test]
    fn api_md_describes_each_field() {
        let ctx = build(&model(include_str!("../../examples/bookstore.toml")));
        let books = &ctx.resources[1].fields;
        let doc = |name: &str| {
            let f = books.iter().find(|f| f.name == name).expect(name);
            (f.doc.kind.as_str(), f.doc.required, f.doc.notes.as_str())
        };
        assert_eq!(doc("title"), ("string, at most 200 characters", "yes", ""));
        assert_eq!(
            doc("isbn"),
            ("string, at most 13 characters", "yes", "unique")
        );
        assert_eq!(doc("published_on"), ("date", "no (nullable)", ""));
        assert_eq!(
            doc("price"),
            (
                "exact decimal, as a string (`1.50`)",
                "no (database default)",
                ""
            )
        );
        assert_eq!(
            doc("author_id"),
            (
                "integer, an id in `/authors`",
                "yes",
                "when that row is deleted: cascade"
            )
        );
        let checked: Vec<&str> = books
            .iter()
            .filter(|f| f.checked_text)
            .map(|f| f.name.as_str())
            .collect();
        assert_eq!(checked, ["title", "isbn"], "string and text fields only");
        let tree = build(&model(TREE));
        let parent = &tree.resources[0].fields[0];
        assert_eq!(parent.doc.notes, "when that row is deleted: set null");
        assert!(parent.references.as_ref().is_some_and(|r| r.is_self));
        assert!(tree.resources[0].children.iter().all(|c| c.is_self));
        assert!(ctx.resources[1].parents.iter().all(|p| !p.is_self));
    }

    #[test]
    fn each_struct_types_a_field_by_its_nullability_and_default() {
        let t = field_types("String", true, true);
        assert_eq!(
            (t.row.as_str(), t.new.as_str(), t.new_serde, t.new_present),
            (
                "Option<String>",
                "Option<Option<String>>",
                "nullable_field",
                "Some(Some(value))"
            )
        );
        let t = field_types("i32", false, true);
        assert_eq!(
            (t.row.as_str(), t.new.as_str(), t.new_serde, t.new_present),
            ("i32", "Option<i32>", "required_field", "Some(value)")
        );
        let t = field_types("i32", true, false);
        assert_eq!(
            (t.new.as_str(), t.new_serde, t.new_present),
            ("Option<i32>", "", "Some(value)")
        );
        let t = field_types("i32", false, false);
        assert_eq!(
            (t.new.as_str(), t.new_serde, t.new_present),
            ("i32", "", "")
        );
        assert_eq!(
            (t.patch.as_str(), t.patch_serde, t.patch_present),
            ("Option<i32>", "required_field", "Some(value)")
        );
        let t = field_types("i32", true, false);
        assert_eq!(
            (t.patch.as_str(), t.patch_serde, t.patch_present),
            ("Option<Option<i32>>", "nullable_field", "Some(Some(value))")
        );
        // The Option<T> each body sets, and a PUT body as a patch.
        let wrap = |t: &FieldTypes| {
            (
                format!("{}new.x{}", t.new_option_open, t.new_option_close),
                format!("changes.x{}", t.patch_option_close),
                format!("{}new.x{}", t.new_to_patch_open, t.new_to_patch_close),
            )
        };
        let exprs = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
        assert_eq!(
            wrap(&field_types("i32", false, false)),
            exprs("Some(new.x)", "changes.x", "Some(new.x)")
        );
        assert_eq!(
            wrap(&field_types("i32", true, false)),
            exprs("new.x", "changes.x.flatten()", "Some(new.x)")
        );
        assert_eq!(
            wrap(&field_types("i32", false, true)),
            exprs("new.x", "changes.x", "new.x")
        );
        assert_eq!(
            wrap(&field_types("i32", true, true)),
            exprs("new.x.flatten()", "changes.x.flatten()", "new.x")
        );
        let ctx = build(&model(include_str!("../../examples/bookstore.toml")));
        let title = &ctx.resources[1].fields[0];
        assert_eq!(title.max_length_literal, "Some(200)");
        assert_eq!(ctx.resources[1].fields[2].max_length_literal, "None");
    }

    /// A model whose one resource refers to itself.
    const TREE: &str = r#"
[project]
name = "tree"
[[resources]]
name = "node"
fields = ["parent:references(node)?:on_delete=set_null", "label:text"]
"#;

    #[test]
    fn checks_follow_what_the_model_has() {
        let ctx = build(&model(include_str!("../../examples/bookstore.toml")));
        let c = &ctx.checks;
        assert!(c.defaults && c.max_lengths && c.uniques && c.references);
        assert!(c.nested_lists && c.delete_rules);
        let ctx = build(&model(TREE));
        assert_eq!(ctx.resources[0].tests.filter_field, "label");
        let c = &ctx.checks;
        // A self-reference has no parent to create first, no nested list of another's rows.
        assert!(!c.defaults && !c.max_lengths && !c.uniques && !c.references);
        assert!(!c.nested_lists && !c.delete_rules);
    }

    #[test]
    fn a_child_referring_twice_gets_no_delete_rule() {
        let ctx = build(&model(
            r#"
[project]
name = "mail"
[[resources]]
name = "person"
fields = ["name:string(50)"]
[[resources]]
name = "message"
fields = ["sender:references(person)", "recipient:references(person)?:on_delete=set_null", "body:text"]
"#,
        ));
        let children = &ctx.resources[0].children;
        assert_eq!(children.len(), 2);
        assert!(children.iter().all(|c| c.delete_rule.is_empty()));
        // A self-reference is not a parent to create first.
        let ctx = build(&model(TREE));
        let node = &ctx.resources[0];
        assert!(node.tests.parents.is_empty());
        // ...and is `null` in the samples.
        assert!(node.tests.samples[1].contains(r#""parent_id":null"#));
        assert!(node.tests.reference_fields.is_empty());
        assert_eq!(node.children[0].delete_rule, "SetNull");
    }
}

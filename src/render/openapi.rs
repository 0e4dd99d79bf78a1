//! The OpenAPI 3.0 document of a generated service (`GET /openapi.json`), built from the
//! render context: one path per route the generated handlers serve, each field's schema
//! from [`super::api`], so the document is the same on every backend and says exactly what
//! the server enforces.

use super::context::{Context, ResourceCtx};
use serde_json::{json, Map, Value};

/// Where the document lands in the generated project (included by `src/generated/docs.rs`).
pub const PATH: &str = "src/generated/docs/openapi.json";

/// Error answers every operation may give, by status, with their description.
const ERRORS: &[(u16, &str)] = &[
    (400, "The body is not JSON, or not sent as `application/json`."),
    (404, "No such record (or no such route)."),
    (405, "The route exists, but not with this method."),
    (409, "A unique value is taken, a reference points to no record, or other records still reference this one."),
    (413, "The body is too large."),
    (422, "Invalid values; `fields` names each one."),
    (500, "A bug or an unexpected database failure (details are logged, not sent)."),
    (503, "The database is unavailable or busy; try again later."),
];

/// The `code` of each error body, as the generated `ApiError` writes them.
const ERROR_CODES: &[&str] = &[
    "bad_request",
    "not_found",
    "method_not_allowed",
    "conflict",
    "payload_too_large",
    "validation_failed",
    "service_unavailable",
    "internal_error",
];

/// "an author", "a book".
fn article(word: &str) -> String {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        format!("an {word}")
    } else {
        format!("a {word}")
    }
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn json_content(schema: Value) -> Value {
    json!({"application/json": {"schema": schema}})
}

/// `responses`: the success answers given, then a reference per error status in `errors`.
fn responses(success: Vec<(&str, Value)>, errors: &[u16]) -> Value {
    let mut map = Map::new();
    for (status, answer) in success {
        map.insert(status.to_string(), answer);
    }
    for code in errors {
        map.insert(
            code.to_string(),
            json!({"$ref": format!("#/components/responses/{code}")}),
        );
    }
    Value::Object(map)
}

/// The query parameters of a list of `r`; `skip` is a filter the route sets itself (the
/// parent's id of a nested list).
fn list_parameters(r: &ResourceCtx, skip: &str) -> Value {
    let mut parameters = vec![
        json!({"$ref": "#/components/parameters/page"}),
        json!({"$ref": "#/components/parameters/per_page"}),
        json!({
            "name": "sort", "in": "query", "required": false, "style": "form", "explode": false,
            "schema": {"type": "array", "minItems": 1, "maxItems": 5, "items": {"type": "string", "enum": r.sort_keys}},
            "example": ["-created_at"],
            "description": "1 to 5 columns to order by, comma-separated (`sort=a,-b`), each ascending unless prefixed with `-`; then by id (also the order without `sort`). A column named twice counts once."
        }),
    ];
    for f in r.fields.iter().filter(|f| f.filterable && f.name != skip) {
        parameters.push(json!({
            "name": f.name, "in": "query", "required": false,
            "description": format!("Only the {} whose `{}` equals this value.", r.table, f.name),
            "schema": f.schema
        }));
    }
    Value::Array(parameters)
}

/// The operations on `/{table}` and `/{table}/{id}`.
fn resource_paths(r: &ResourceCtx, paths: &mut Map<String, Value>) {
    let (name, table, the) = (&r.name, &r.table, article(&r.name));
    let row = || json_content(schema_ref(&r.struct_name));
    let body =
        |schema: String| json!({"required": true, "content": json_content(schema_ref(&schema))});
    paths.insert(
        format!("/{table}"),
        json!({
            "get": {
                "operationId": format!("list_{table}"),
                "tags": [table],
                "summary": format!("List {table}, a page at a time"),
                "parameters": list_parameters(r, ""),
                "responses": responses(vec![("200", json!({"description": format!("One page of {table}."), "content": json_content(schema_ref(&format!("{}Page", r.struct_name)))}))], &[422, 500, 503])
            },
            "post": {
                "operationId": format!("create_{name}"),
                "tags": [table],
                "summary": format!("Create {the}"),
                "requestBody": body(format!("New{}", r.struct_name)),
                "responses": responses(vec![("201", json!({
                    "description": format!("The {name} as stored."),
                    "headers": {"Location": {"description": format!("The URL of the new {name}."), "schema": {"type": "string"}}},
                    "content": row()
                }))], &[400, 409, 413, 422, 500, 503])
            }
        }),
    );
    let stored = || json!({"description": format!("The {name} as stored."), "content": row()});
    paths.insert(
        format!("/{table}/{{id}}"),
        json!({
            "parameters": [{"$ref": "#/components/parameters/id"}],
            "get": {
                "operationId": format!("read_{name}"),
                "tags": [table],
                "summary": format!("Read {the}"),
                "responses": responses(vec![("200", json!({"description": format!("The {name}."), "content": row()}))], &[404, 500, 503])
            },
            "put": {
                "operationId": format!("replace_{name}"),
                "tags": [table],
                "summary": format!("Replace every field of {the}"),
                "requestBody": body(format!("New{}", r.struct_name)),
                "responses": responses(vec![("200", stored())], &[400, 404, 409, 413, 422, 500, 503])
            },
            "patch": {
                "operationId": format!("patch_{name}"),
                "tags": [table],
                "summary": format!("Change some fields of {the}"),
                "requestBody": body(format!("{}Patch", r.struct_name)),
                "responses": responses(vec![("200", stored())], &[400, 404, 409, 413, 422, 500, 503])
            },
            "delete": {
                "operationId": format!("delete_{name}"),
                "tags": [table],
                "summary": format!("Delete {the}"),
                "responses": responses(vec![("204", json!({"description": "Deleted."}))], &[404, 409, 500, 503])
            }
        }),
    );
}

/// The nested lists of `r`'s children: `/{table}/{id}/{segment}`.
fn nested_paths(r: &ResourceCtx, resources: &[ResourceCtx], paths: &mut Map<String, Value>) {
    for c in &r.children {
        let Some(child) = resources.iter().find(|cr| cr.module == c.module) else {
            continue;
        };
        paths.insert(
            format!("/{}/{{id}}/{}", r.table, c.segment),
            json!({
                "parameters": [{"$ref": "#/components/parameters/id"}],
                "get": {
                    "operationId": format!("list_{}_{}", r.name, c.segment),
                    "tags": [r.table],
                    "summary": format!("List the {} whose {} is this {}", c.table, c.field, r.name),
                    "parameters": list_parameters(child, &c.field),
                    "responses": responses(vec![("200", json!({
                        "description": format!("One page of the {}'s {}.", r.name, c.table),
                        "content": json_content(schema_ref(&format!("{}Page", child.struct_name)))
                    }))], &[404, 422, 500, 503])
                }
            }),
        );
    }
}

/// The row, create/replace body, patch body and page schemas of `r`.
fn resource_schemas(r: &ResourceCtx, schemas: &mut Map<String, Value>) {
    let mut row_required = vec![json!("id")];
    row_required.extend(r.fields.iter().map(|f| json!(f.name)));
    row_required.extend([json!("created_at"), json!("updated_at")]);
    let mut row_properties = Map::new();
    row_properties.insert(
        "id".into(),
        json!({"type": "integer", "format": "int32", "readOnly": true}),
    );
    let mut field_properties = Map::new();
    for f in &r.fields {
        field_properties.insert(f.name.clone(), f.property.clone());
    }
    row_properties.extend(field_properties.clone());
    for (column, when) in [("created_at", "created"), ("updated_at", "last changed")] {
        row_properties.insert(
            column.into(),
            json!({"type": "string", "readOnly": true, "description": format!("When the {} was {when} (UTC, without a time zone).", r.name)}),
        );
    }
    // Big values are moved in after `json!`, which would copy them.
    let mut row = json!({
        "type": "object",
        "description": format!("{}, as stored and returned.", capitalized(&article(&r.name))),
        "required": [],
        "properties": {}
    });
    row["required"] = Value::Array(row_required);
    row["properties"] = Value::Object(row_properties);
    schemas.insert(r.struct_name.clone(), row);
    let mut new = Map::new();
    new.insert("type".into(), json!("object"));
    new.insert("description".into(), json!(format!(
        "The body of `POST /{0}` and `PUT /{0}/{{id}}`: every field. A nullable field left out is stored as null; a field with a default left out gets (on POST) or keeps (on PUT) its value.",
        r.table
    )));
    let required: Vec<&str> = r
        .fields
        .iter()
        .filter(|f| !f.nullable && !f.has_default)
        .map(|f| f.name.as_str())
        .collect();
    if !required.is_empty() {
        new.insert("required".into(), json!(required));
    }
    new.insert("properties".into(), Value::Object(field_properties.clone()));
    schemas.insert(format!("New{}", r.struct_name), Value::Object(new));
    let mut patch = json!({
        "type": "object",
        "description": format!("The body of `PATCH /{}/{{id}}`: a field left out is unchanged; null clears a nullable field.", r.table),
        "properties": {}
    });
    patch["properties"] = Value::Object(field_properties);
    schemas.insert(format!("{}Patch", r.struct_name), patch);
    schemas.insert(
        format!("{}Page", r.struct_name),
        json!({
            "type": "object",
            "required": ["data", "meta"],
            "properties": {
                "data": {"type": "array", "items": schema_ref(&r.struct_name)},
                "meta": schema_ref("PageMeta")
            }
        }),
    );
}

/// The whole document.
pub fn document(ctx: &Context) -> Value {
    let crud = ctx.options.crud;
    let mut tags = vec![json!({"name": "service", "description": "Health and documentation."})];
    if crud {
        tags.extend(ctx.resources.iter().map(|r| json!({"name": r.table})));
    }
    let mut paths = Map::new();
    paths.insert(
        "/health".into(),
        json!({"get": {
            "operationId": "health",
            "tags": ["service"],
            "summary": "Check that the service and its database answer",
            "responses": responses(vec![("200", json!({"description": "The database answers.", "content": json_content(schema_ref("Health"))}))], &[503])
        }}),
    );
    paths.insert(
        "/openapi.json".into(),
        json!({"get": {
            "operationId": "openapi",
            "tags": ["service"],
            "summary": "This OpenAPI document",
            "responses": {"200": {"description": "The OpenAPI document.", "content": json_content(json!({"type": "object"}))}}
        }}),
    );
    paths.insert(
        "/docs".into(),
        json!({"get": {
            "operationId": "docs",
            "tags": ["service"],
            "summary": "The interactive API page (Swagger UI), at `docs/`",
            "description": "Try every operation from a browser. Not served when the service runs with `DOCS_ENABLED=false`.",
            "responses": {
                "308": {"description": "The page is at `docs/` (relative to this URL).", "headers": {"Location": {"description": "`docs/`", "schema": {"type": "string"}}}},
                "404": {"$ref": "#/components/responses/404"}
            }
        }}),
    );
    let mut schemas = Map::new();
    schemas.insert(
        "Error".into(),
        json!({
            "type": "object",
            "required": ["error"],
            "properties": {"error": {
                "type": "object",
                "required": ["status", "code", "message"],
                "properties": {
                    "status": {"type": "integer", "description": "The HTTP status, repeated.", "example": 422},
                    "code": {"type": "string", "enum": ERROR_CODES},
                    "message": {"type": "string"},
                    "fields": {"type": "array", "items": schema_ref("FieldError"), "description": "Present when specific fields are at fault."}
                }
            }}
        }),
    );
    schemas.insert(
        "FieldError".into(),
        json!({
            "type": "object",
            "required": ["field", "message"],
            "properties": {
                "field": {"type": "string", "description": "The field or query parameter at fault.", "example": "title"},
                "message": {"type": "string"}
            }
        }),
    );
    schemas.insert(
        "PageMeta".into(),
        json!({
            "type": "object",
            "required": ["total", "page", "per_page"],
            "properties": {
                "total": {"type": "integer", "format": "int64", "description": "Rows matching the filters, on all pages."},
                "page": {"type": "integer", "format": "int64"},
                "per_page": {"type": "integer", "format": "int64"}
            }
        }),
    );
    schemas.insert(
        "Health".into(),
        json!({"type": "object", "required": ["status"], "properties": {"status": {"type": "string", "enum": ["ok"]}}}),
    );
    if crud {
        for r in &ctx.resources {
            resource_paths(r, &mut paths);
            nested_paths(r, &ctx.resources, &mut paths);
            resource_schemas(r, &mut schemas);
        }
    }
    let mut error_responses = Map::new();
    for (code, description) in ERRORS {
        let mut answer = Map::new();
        answer.insert("description".into(), json!(description));
        if *code == 405 {
            answer.insert(
                "headers".into(),
                json!({"Allow": {"description": "The methods the route supports.", "schema": {"type": "string"}}}),
            );
        }
        answer.insert("content".into(), json_content(schema_ref("Error")));
        error_responses.insert(code.to_string(), Value::Object(answer));
    }
    let mut document = json!({
        "openapi": "3.0.3",
        "info": {
            "title": ctx.project.name,
            "version": "0.1.0",
            "description": format!("A JSON API generated by dieselkit {}. Every error is answered with the same body: see the `Error` schema.", ctx.dieselkit_version)
        },
        "servers": [{"url": ".", "description": "Where this document is served (so behind a proxy's path prefix too)."}],
        "tags": tags,
        "paths": {},
        "components": {
            "parameters": {
                "id": {"name": "id", "in": "path", "required": true, "schema": {"type": "integer", "format": "int32"}},
                "page": {"name": "page", "in": "query", "required": false, "description": "The page to return, from 1.", "schema": {"type": "integer", "format": "int64", "minimum": 1, "default": 1}},
                "per_page": {"name": "per_page", "in": "query", "required": false, "description": "Rows per page.", "schema": {"type": "integer", "format": "int64", "minimum": 1, "maximum": 100, "default": 20}}
            },
            "responses": {},
            "schemas": {}
        }
    });
    // Moved in rather than written into `json!`, which would copy the whole document.
    document["paths"] = Value::Object(paths);
    document["components"]["responses"] = Value::Object(error_responses);
    document["components"]["schemas"] = Value::Object(schemas);
    document
}

/// The document as the generated project's file: pretty-printed, with a final newline.
pub fn render(ctx: &Context) -> Vec<u8> {
    let mut text = serde_json::to_string_pretty(&document(ctx)).unwrap_or_default();
    text.push('\n');
    text.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn articles() {
        assert_eq!(article("author"), "an author");
        assert_eq!(article("book"), "a book");
        assert_eq!(capitalized(&article("item")), "An item");
    }

    #[test]
    fn every_route_is_in_the_document_in_the_order_served() {
        let model = crate::spec::Model::from_file(
            &toml::from_str(include_str!("../../examples/bookstore.toml")).expect("toml"),
        )
        .expect("model");
        let doc = document(&super::super::context::build(&model));
        let paths: Vec<&String> = doc["paths"].as_object().expect("paths").keys().collect();
        assert_eq!(
            paths,
            [
                "/health",
                "/openapi.json",
                "/docs",
                "/authors",
                "/authors/{id}",
                "/authors/{id}/books",
                "/books",
                "/books/{id}"
            ]
        );
        let nested = &doc["paths"]["/authors/{id}/books"]["get"]["parameters"];
        assert!(
            !nested.to_string().contains("\"name\":\"author_id\""),
            "the parent's id is not a filter of the nested list: {nested}"
        );
        assert_eq!(
            doc["components"]["schemas"]["NewBook"]["required"],
            json!(["title", "isbn", "author_id"])
        );
    }
}

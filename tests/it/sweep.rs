//! A malformed-input sweep against a running generated service: every operation its own
//! `/openapi.json` lists gets bad ids, bad query parameters, bodies that are not JSON, not
//! objects, or hold the wrong type, size or format in each field, wrong content types and
//! an oversized body. No answer may be a 500 (or any 5xx while the database is up), and
//! every error must be the documented JSON error body.

use serde_json::{json, Value};
use std::time::Duration;

struct Answer {
    status: u16,
    body: String,
}

fn send(
    agent: &ureq::Agent,
    base: &str,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: Option<&[u8]>,
) -> Answer {
    let mut req = agent.request(method, &format!("{base}{path}"));
    if let Some(ct) = content_type {
        req = req.set("content-type", ct);
    }
    let result = match body {
        Some(b) => req.send_bytes(b),
        None => req.call(),
    };
    match result {
        Ok(r) | Err(ureq::Error::Status(_, r)) => {
            let status = r.status();
            Answer {
                status,
                body: r.into_string().unwrap_or_default(),
            }
        }
        Err(e) => panic!("{method} {path}: transport error {e}"),
    }
}

/// An HTTP client for the service on `port`, its base URL, and its `/openapi.json`.
fn service(port: u16) -> (ureq::Agent, String, Value) {
    let base = format!("http://127.0.0.1:{port}");
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(20))
        .build();
    let doc: Value =
        serde_json::from_str(&send(&agent, &base, "GET", "/openapi.json", None, None).body)
            .expect("openapi.json");
    (agent, base, doc)
}

/// Values of every JSON kind plus hostile strings and numbers.
fn garbage() -> Vec<Value> {
    vec![
        Value::Null,
        json!(true),
        json!(0),
        json!(-1),
        json!(1.5),
        json!(1e308),
        json!(-9223372036854775808_i64),
        json!(18446744073709551615_u64),
        json!(""),
        json!("not a number"),
        json!("2024-13-45"),
        json!("25:61:99"),
        json!("2024-02-30T25:00:00"),
        json!("00000000-0000-0000-0000-00000000000Z"),
        json!("\u{0}\u{1}\u{7f}"),
        json!("' OR 1=1; DROP TABLE users; --"),
        json!("😀".repeat(300)),
        json!("x".repeat(100_000)),
        json!("12345678901234567890123456789012345678901234567890.5"),
        json!([]),
        json!([1, 2]),
        json!({}),
        json!({"nested": {"deeper": [null]}}),
    ]
}

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => {
            let name = r.rsplit('/').next().unwrap_or_default();
            &doc["components"]["schemas"][name]
        }
        None => schema,
    }
}

fn query_names(doc: &Value, op: &Value, shared: &Value) -> Vec<String> {
    let mut names = Vec::new();
    for p in op["parameters"]
        .as_array()
        .into_iter()
        .chain(shared["parameters"].as_array())
        .flatten()
    {
        let p = match p["$ref"].as_str() {
            Some(r) => &doc["components"]["parameters"][r.rsplit('/').next().unwrap_or_default()],
            None => p,
        };
        if p["in"] == "query" {
            if let Some(n) = p["name"].as_str() {
                names.push(n.to_string());
            }
        }
    }
    names
}

/// Runs the sweep against the service on `port`; returns how many requests were made.
pub(crate) fn malformed_input_sweep(port: u16) -> usize {
    let (agent, base, doc) = service(port);
    let bad_ids = [
        "0",
        "-1",
        "abc",
        "1.5",
        "99999999999999999999",
        "2147483648",
        "%00",
        "%F0%9F%98%80",
        "1%20OR%201=1",
        &"9".repeat(5000),
    ];
    let bad_query_values = [
        "",
        "-1",
        "0",
        "abc",
        "99999999999999999999",
        "%00",
        "%27%3B--",
        "1e9",
        "null",
    ];
    let mut failures = Vec::new();
    let mut count = 0;
    // Send one request and record it if it is a 5xx or an error without the JSON body.
    let mut probe = |what: String,
                     method: &str,
                     path: &str,
                     content_type: Option<&str>,
                     body: Option<&[u8]>| {
        let a = send(&agent, &base, method, path, content_type, body);
        count += 1;
        let json_error = serde_json::from_str::<Value>(&a.body)
            .map(|v| v["error"]["status"] == json!(a.status) && v["error"]["message"].is_string())
            .unwrap_or(false);
        if a.status >= 500 || (a.status >= 400 && !json_error) {
            failures.push(format!(
                "{what} -> {} {}",
                a.status,
                a.body.chars().take(200).collect::<String>()
            ));
        }
    };
    let paths = doc["paths"].as_object().expect("paths").clone();
    for (template, ops) in &paths {
        let ids: Vec<&str> = if template.contains("{id}") {
            bad_ids.to_vec()
        } else {
            vec![""]
        };
        for (method, op) in ops.as_object().expect("operations") {
            if method == "parameters" {
                continue;
            }
            let m = method.to_uppercase();
            let body_schema = &op["requestBody"]["content"]["application/json"]["schema"];
            for id in &ids {
                let path = template.replace("{id}", id);
                if body_schema.is_null() {
                    probe(format!("{m} {path}"), &m, &path, None, None);
                    continue;
                }
                // With a bad id, one well-formed body is enough; with a good one, sweep the body.
                probe(
                    format!("{m} {path} {{}}"),
                    &m,
                    &path,
                    Some("application/json"),
                    Some(b"{}"),
                );
            }
            // Query parameters, on the real path (id 1, which may or may not exist).
            let path = template.replace("{id}", "1");
            for name in query_names(&doc, op, ops) {
                for value in bad_query_values {
                    let q = format!("{path}?{name}={value}");
                    probe(format!("{m} {q}"), &m, &q, None, None);
                }
            }
            for q in [
                "?page=1&page=2",
                "?unknown=1",
                "?sort=-",
                "?sort=,,,",
                "?%zz=1",
                "?per_page=100000000000",
            ] {
                let q = format!("{path}{q}");
                probe(format!("{m} {q}"), &m, &q, None, None);
            }
            if body_schema.is_null() {
                continue;
            }
            let schema = resolve(&doc, body_schema);
            let raw_bodies: [&[u8]; 10] = [
                b"",
                b"{",
                b"null",
                b"[]",
                b"123",
                b"\"text\"",
                b"{\"a\":1,\"a\":2}",
                b"\xff\xfe\x00",
                b"{\"name\": \"\\ud800\"}",
                b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
            ];
            for body in raw_bodies {
                probe(
                    format!("{m} {path} raw {:?}", String::from_utf8_lossy(body)),
                    &m,
                    &path,
                    Some("application/json"),
                    Some(body),
                );
            }
            for ct in [
                None,
                Some("text/plain"),
                Some("application/xml"),
                Some("application/json; charset=latin1"),
                Some("multipart/form-data; boundary=x"),
            ] {
                probe(
                    format!("{m} {path} content-type {ct:?}"),
                    &m,
                    &path,
                    ct,
                    Some(b"{}"),
                );
            }
            let huge = format!("{{\"x\": \"{}\"}}", "y".repeat(3 * 1024 * 1024));
            probe(
                format!("{m} {path} 3 MB body"),
                &m,
                &path,
                Some("application/json"),
                Some(huge.as_bytes()),
            );
            let props: Vec<String> = schema["properties"]
                .as_object()
                .map(|p| p.keys().cloned().collect())
                .unwrap_or_default();
            let short = |v: &Value| v.to_string().chars().take(40).collect::<String>();
            let mut bodies: Vec<(String, Value)> = Vec::new();
            for prop in &props {
                for value in garbage() {
                    bodies.push((
                        format!("{{{prop}: {}}}", short(&value)),
                        json!({ prop.as_str(): value }),
                    ));
                }
            }
            // Every field garbage at once, one kind at a time.
            for value in garbage() {
                let all: serde_json::Map<String, Value> =
                    props.iter().map(|p| (p.clone(), value.clone())).collect();
                bodies.push((format!("all fields {}", short(&value)), Value::Object(all)));
            }
            for (label, body) in bodies {
                let body = body.to_string();
                probe(
                    format!("{m} {path} {label}"),
                    &m,
                    &path,
                    Some("application/json"),
                    Some(body.as_bytes()),
                );
            }
        }
    }
    for (m, path) in [
        ("GET", "/../../etc/passwd"),
        ("GET", "/%2e%2e/"),
        ("TRACE", "/health"),
        ("POST", "/docs/docs.js"),
        ("DELETE", "/docs/docs.css"),
        ("DELETE", "/authors"),
        ("PUT", "/docs"),
        ("GET", &format!("/{}", "a".repeat(10_000))),
    ] {
        probe(format!("{m} {path}"), m, path, None, None);
    }
    assert!(
        failures.is_empty(),
        "{} of {count} malformed requests got a 5xx or a non-JSON error:\n{}",
        failures.len(),
        failures.join("\n")
    );
    count
}

/// For every path of the service's own `/openapi.json`, every method the document does not
/// list is a 405 whose `Allow` header lists exactly the documented ones (RFC 9110), with
/// the JSON error body. Returns how many requests were made.
pub(crate) fn undocumented_methods_are_405_with_allow(port: u16) -> usize {
    let (agent, base, doc) = service(port);
    let mut sent = 0;
    let paths = doc["paths"].as_object().expect("paths");
    for (template, ops) in paths {
        let path = template.replace("{id}", "1");
        let mut documented: Vec<String> = ops
            .as_object()
            .expect("operations")
            .keys()
            .filter(|k| ["get", "put", "post", "delete", "patch"].contains(&k.as_str()))
            .map(|k| k.to_ascii_uppercase())
            .collect();
        documented.sort();
        for method in ["GET", "PUT", "POST", "DELETE", "PATCH"] {
            if documented.iter().any(|m| m == method) {
                continue;
            }
            let result = agent
                .request(method, &format!("{base}{path}"))
                .set("content-type", "application/json")
                .send_bytes(b"{}");
            let response = match result {
                Ok(r) | Err(ureq::Error::Status(_, r)) => r,
                Err(e) => panic!("{method} {path}: transport error {e}"),
            };
            sent += 1;
            assert_eq!(response.status(), 405, "{method} {path}");
            let mut allow: Vec<String> = response
                .header("allow")
                .unwrap_or_else(|| panic!("{method} {path}: 405 without Allow"))
                .split(',')
                .map(|m| m.trim().to_string())
                .collect();
            allow.sort();
            assert_eq!(allow, documented, "{method} {path}: Allow");
            let body: Value = serde_json::from_str(&response.into_string().unwrap_or_default())
                .unwrap_or_else(|e| panic!("{method} {path}: body is not JSON: {e}"));
            assert_eq!(
                body["error"]["code"], "method_not_allowed",
                "{method} {path}"
            );
        }
    }
    sent
}

/// The `sort` parameter of every list operation documents, as a pattern, exactly what the
/// server accepts: each column in the pattern's alternation sorts (ascending, descending,
/// combined with spaces), and anything else is a 422 naming `sort`. Returns the requests.
pub(crate) fn sort_parameters_match_the_server(port: u16) -> usize {
    let (agent, base, doc) = service(port);
    let mut sent = 0;
    for (template, ops) in doc["paths"].as_object().expect("paths") {
        let Some(sort) = ops["get"]["parameters"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["name"] == "sort"))
        else {
            continue;
        };
        // An array of keys (`style: form`, `explode: false`: comma-separated), each a
        // sortable column or `-column`, at most `maxItems` of them.
        let schema = &sort["schema"];
        assert_eq!(sort["style"], "form", "{sort}");
        assert_eq!(sort["explode"], false, "{sort}");
        let keys: Vec<&str> = schema["items"]["enum"]
            .as_array()
            .expect("sort keys are an enum")
            .iter()
            .filter_map(serde_json::Value::as_str)
            .collect();
        let max_items = schema["maxItems"].as_u64().expect("sort has maxItems") as usize;
        let columns: Vec<&str> = keys
            .iter()
            .filter(|k| !k.starts_with('-'))
            .copied()
            .collect();
        assert!(
            columns
                .iter()
                .all(|c| keys.contains(&format!("-{c}").as_str())),
            "every column sorts both ways: {keys:?}"
        );
        let path = template.replace("{id}", "1");
        let status = |query: &str| {
            let answer = send(
                &agent,
                &base,
                "GET",
                &format!("{path}?sort={query}"),
                None,
                None,
            );
            (answer.status, answer.body)
        };
        for c in &columns {
            for query in [c.to_string(), format!("-{c}"), format!("{c},-id")] {
                let (code, body) = status(&query);
                sent += 1;
                // A nested list of a missing parent is a 404 whatever the sort.
                assert!(
                    code == 200 || code == 404,
                    "{path}?sort={query}: {code} {body}"
                );
            }
        }
        // Exactly `maxItems` keys are taken, one more is not.
        let at_most: Vec<&str> = keys.iter().cycle().take(max_items).copied().collect();
        let (code, body) = status(&at_most.join(","));
        sent += 1;
        assert!(
            code == 200 || code == 404,
            "{path}: {max_items} keys: {code} {body}"
        );
        let too_many: Vec<&str> = keys.iter().cycle().take(max_items + 1).copied().collect();
        let too_many = too_many.join(",");
        for query in [
            "nope",
            "id,nope",
            "-",
            "--id",
            "id;drop",
            "id,%20-id",
            ",id",
            too_many.as_str(),
        ] {
            let (code, body) = status(query);
            sent += 1;
            if code == 404 {
                continue;
            }
            assert_eq!(code, 422, "{path}?sort={query}: {body}");
            assert!(body.contains("\"sort\""), "{path}?sort={query}: {body}");
        }
    }
    sent
}

// Lists the operations and schemas of /openapi.json. Self-contained: no framework, no
// network access beyond this server. Text from the document is inserted as text, never
// as HTML.
"use strict";

const METHODS = ["get", "post", "put", "patch", "delete"];

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    node.setAttribute(name, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function refName(ref) {
  return ref.split("/").pop();
}

/** A short description of a schema: `string (date)`, `Author`, `array of Book`. */
function typeOf(schema) {
  if (!schema) return "";
  if (schema.$ref) return refName(schema.$ref);
  let text = schema.type || "any";
  if (schema.type === "array") text = "array of " + typeOf(schema.items);
  if (schema.format) text += " (" + schema.format + ")";
  if (schema.maxLength !== undefined) text += ", at most " + schema.maxLength + " characters";
  if (schema.enum) text += ": " + schema.enum.join(" | ");
  if (schema.nullable) text += ", nullable";
  return text;
}

function schemaLink(schema) {
  if (schema && schema.$ref) {
    const name = refName(schema.$ref);
    return el("a", { href: "#schema-" + name }, name);
  }
  return typeOf(schema);
}

function resolve(spec, item) {
  if (item && item.$ref) {
    const parts = item.$ref.replace(/^#\//, "").split("/");
    return parts.reduce((node, key) => (node ? node[key] : undefined), spec);
  }
  return item;
}

function table(headings, rows) {
  return el(
    "table",
    {},
    el("thead", {}, el("tr", {}, ...headings.map((h) => el("th", {}, h)))),
    el("tbody", {}, ...rows.map((cells) => el("tr", {}, ...cells.map((c) => el("td", {}, c)))))
  );
}

function renderOperation(spec, path, method, operation, shared) {
  const body = el("div");
  const parameters = [...shared, ...(operation.parameters || [])].map((p) => resolve(spec, p));
  if (parameters.length) {
    body.append(
      el("h4", {}, "Parameters"),
      table(
        ["name", "in", "type", "description"],
        parameters.map((p) => [
          el("code", {}, p.name),
          p.in + (p.required ? ", required" : ""),
          typeOf(p.schema),
          p.description || "",
        ])
      )
    );
  }
  if (operation.requestBody) {
    const content = operation.requestBody.content || {};
    body.append(
      el("h4", {}, "Request body"),
      table(
        ["content type", "schema"],
        Object.entries(content).map(([type, media]) => [type, schemaLink(media.schema)])
      )
    );
  }
  const responses = Object.entries(operation.responses || {}).map(([status, response]) => {
    const resolved = resolve(spec, response) || {};
    const media = Object.values(resolved.content || {})[0];
    return [el("code", {}, status), resolved.description || "", media ? schemaLink(media.schema) : ""];
  });
  body.append(el("h4", {}, "Responses"), table(["status", "description", "schema"], responses));
  const upper = method.toUpperCase();
  return el(
    "details",
    { id: "op-" + method + "-" + path, "data-operation": upper + " " + path },
    el(
      "summary",
      {},
      el("span", { class: "method " + method }, upper),
      " ",
      el("span", { class: "path" }, path),
      " ",
      el("span", { class: "summary" }, operation.summary || "")
    ),
    body
  );
}

function renderSchema(name, schema) {
  const required = new Set(schema.required || []);
  const rows = Object.entries(schema.properties || {}).map(([field, property]) => [
    el("code", {}, field),
    schemaLink(property),
    required.has(field) ? "required" : "optional",
    property.description || "",
  ]);
  return el(
    "details",
    { id: "schema-" + name },
    el("summary", {}, el("span", { class: "path" }, name), " ", el("span", { class: "summary" }, schema.description || "")),
    el("div", {}, rows.length ? table(["field", "type", "", "description"], rows) : typeOf(schema))
  );
}

function render(spec) {
  document.title = spec.info.title + " API docs";
  document.getElementById("title").textContent = spec.info.title + " " + spec.info.version;
  document.getElementById("description").textContent = spec.info.description || "";
  const operations = document.getElementById("operations");
  operations.append(el("h2", {}, "Operations"));
  for (const [path, item] of Object.entries(spec.paths || {})) {
    for (const method of METHODS) {
      if (item[method]) {
        operations.append(renderOperation(spec, path, method, item[method], item.parameters || []));
      }
    }
  }
  const schemas = document.getElementById("schemas");
  schemas.append(el("h2", {}, "Schemas"));
  for (const [name, schema] of Object.entries((spec.components || {}).schemas || {})) {
    schemas.append(renderSchema(name, schema));
  }
  document.getElementById("status").remove();
}

fetch("/openapi.json", { headers: { accept: "application/json" } })
  .then((response) => {
    if (!response.ok) throw new Error("/openapi.json answered " + response.status);
    return response.json();
  })
  .then(render)
  .catch((error) => {
    const status = document.getElementById("status");
    status.className = "error";
    status.textContent = "Could not load /openapi.json: " + error.message;
  });

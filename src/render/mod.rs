//! Rendering: the plan of files a model produces. Templates are embedded in the binary
//! (so binary and templates cannot drift) and may be overridden file by file from a
//! directory. Output is deterministic: same model and clock, same bytes.

pub mod api;
pub mod context;
pub mod openapi;

use crate::error::{Error, Result};
use crate::spec::Model;
use include_dir::{include_dir, Dir};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

static EMBEDDED: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/templates/project");

/// A template source file: its path under templates/project and its bytes.
#[derive(Debug, Clone)]
struct TemplateFile {
    path: String,
    bytes: Vec<u8>,
}

fn collect_embedded(dir: &Dir<'static>, out: &mut BTreeMap<String, TemplateFile>) {
    for file in dir.files() {
        let path = path_key(file.path());
        out.insert(
            path.clone(),
            TemplateFile {
                path,
                bytes: file.contents().to_vec(),
            },
        );
    }
    for sub in dir.dirs() {
        collect_embedded(sub, out);
    }
}

fn collect_dir(root: &Path, dir: &Path, out: &mut BTreeMap<String, TemplateFile>) -> Result<()> {
    let entries = fs_err::read_dir(dir)?;
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        if path.is_dir() {
            collect_dir(root, &path, out)?;
        } else {
            let rel = path_key(
                path.strip_prefix(root)
                    .map_err(|e| Error::Internal(e.to_string()))?,
            );
            let bytes = fs_err::read(&path)?;
            out.insert(rel.clone(), TemplateFile { path: rel, bytes });
        }
    }
    Ok(())
}

/// The embedded templates, with files from `overrides` replacing or adding to them.
fn template_set(overrides: Option<&Path>) -> Result<BTreeMap<String, TemplateFile>> {
    let mut files = BTreeMap::new();
    collect_embedded(&EMBEDDED, &mut files);
    if let Some(dir) = overrides {
        if !dir.is_dir() {
            return Err(Error::usage(format!(
                "templates directory `{}` does not exist; `--templates` takes a directory mirroring dieselkit's templates/project",
                dir.display()
            )));
        }
        collect_dir(dir, dir, &mut files)?;
    }
    Ok(files)
}

/// A backend part must name a backend and a shared template it extends; anything else in
/// `_backend/` is a mistake in a team's template set, reported rather than ignored.
fn check_backend_parts(templates: &BTreeMap<String, TemplateFile>) -> Result<()> {
    for path in templates.keys() {
        let Some(rest) = path.strip_prefix(BACKEND_DIR) else {
            continue;
        };
        let (backend, shared) = rest.split_once('/').unwrap_or((rest, ""));
        if !crate::spec::Backend::ALL
            .iter()
            .any(|b| b.name() == backend)
        {
            return Err(Error::usage(format!(
                "template `{path}`: `{backend}` is not a backend; parts go in {BACKEND_DIR}sqlite/, {BACKEND_DIR}postgres/ or {BACKEND_DIR}mysql/"
            )));
        }
        if !templates.contains_key(shared) {
            return Err(Error::usage(format!(
                "template `{path}` is {backend}'s part of `{shared}`, which does not exist; name it after the template it extends"
            )));
        }
    }
    Ok(())
}

/// Where a template lands in the generated project (`dot_gitignore.tera` → `.gitignore`).
fn output_path(template: &str, module: Option<&str>) -> String {
    let path = template.strip_suffix(".tera").unwrap_or(template);
    let path = path
        .split('/')
        .map(|seg| match seg.strip_prefix("dot_") {
            Some(rest) => format!(".{rest}"),
            None => seg.to_string(),
        })
        .collect::<Vec<_>>()
        .join("/");
    match module {
        Some(m) => path.replace("__resource__", m),
        None => path,
    }
}

fn included(template: &str, model: &Model) -> bool {
    if template.starts_with("src/bin/seed") {
        return model.options.seed;
    }
    if template.starts_with("dot_github/") {
        return model.options.ci;
    }
    true
}

fn tera_error(template: &str, e: tera::Error) -> Error {
    // Tera puts the useful part (the undefined variable, the bad filter) in the source chain.
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    Error::Template {
        template: template.to_string(),
        message,
    }
}

fn string_filter(
    f: fn(&str) -> String,
) -> impl Fn(
    &tera::Value,
    &std::collections::HashMap<String, tera::Value>,
) -> tera::Result<tera::Value>
       + Sync
       + Send {
    move |value, _| match value.as_str() {
        Some(s) => Ok(tera::Value::String(f(s))),
        None => Err(tera::Error::msg("this filter takes a string")),
    }
}

/// Where a backend's part of a template lives: `_backend/<backend>/<path>`, a template that
/// `{% extends %}` the shared one and fills its blocks for that backend.
const BACKEND_DIR: &str = "_backend/";

fn backend_variant(template: &str, backend: &str) -> String {
    format!("{BACKEND_DIR}{backend}/{template}")
}

fn build_tera(templates: &[&TemplateFile]) -> Result<tera::Tera> {
    let mut tera = tera::Tera::default();
    // This is code, not HTML.
    tera.autoescape_on(vec![]);
    tera.register_filter("snake", string_filter(heck::ToSnakeCase::to_snake_case));
    tera.register_filter("pascal", string_filter(crate::spec::names::pascal));
    tera.register_filter("plural", string_filter(crate::spec::names::plural));
    tera.register_filter("singular", string_filter(crate::spec::names::singular));
    let mut sources = Vec::new();
    for t in templates.iter().filter(|t| t.path.ends_with(".tera")) {
        let text = String::from_utf8(t.bytes.clone()).map_err(|_| Error::Template {
            template: t.path.clone(),
            message: "not valid UTF-8".into(),
        })?;
        sources.push((t.path.clone(), text));
    }
    tera.add_raw_templates(sources)
        .map_err(|e| tera_error("(parsing templates)", e))?;
    Ok(tera)
}

/// One file of the generated project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedFile {
    pub path: PathBuf,
    pub contents: Vec<u8>,
    /// For a Rust file rustfmt formatted: the SHA-256 of the contents as rendered, before
    /// formatting, with the project's rustfmt configuration (recorded in the manifest, so an
    /// unchanged render is not formatted again).
    pub rendered: Option<String>,
}

impl PlannedFile {
    /// The file's path as the manifest keys it: relative, with `/` on every platform.
    pub fn key(&self) -> String {
        path_key(&self.path)
    }
}

/// A relative path (of a project's file or a template) with `/` on every platform, as the
/// manifest and the template sets key it.
pub fn path_key(path: &std::path::Path) -> String {
    path.to_string_lossy().replace('\\', "/")
}

/// Split `templates` into `n` groups of about equal size (parsing and rendering cost grow
/// with template size). Every template stands alone (macros are per file), so each group
/// can be parsed and rendered by its own Tera instance.
fn balanced_groups(templates: Vec<&TemplateFile>, n: usize) -> Vec<Vec<&TemplateFile>> {
    let mut sorted = templates;
    sorted.sort_by(|a, b| b.bytes.len().cmp(&a.bytes.len()).then(a.path.cmp(&b.path)));
    let mut groups: Vec<(usize, Vec<&TemplateFile>)> =
        (0..n.max(1)).map(|_| (0, Vec::new())).collect();
    for t in sorted {
        if let Some(lightest) = groups.iter_mut().min_by_key(|(size, _)| *size) {
            lightest.0 += t.bytes.len();
            lightest.1.push(t);
        }
    }
    groups
        .into_iter()
        .map(|(_, g)| g)
        .filter(|g| !g.is_empty())
        .collect()
}

/// Parse and render one group of templates. A template with a part for the project's
/// backend in `variants` is rendered through it (the part extends the shared template).
fn render_group(
    group: &[&TemplateFile],
    variants: &BTreeMap<&str, &TemplateFile>,
    ctx: &context::Context,
) -> Result<Vec<PlannedFile>> {
    let mut sources = group.to_vec();
    sources.extend(
        group
            .iter()
            .filter_map(|t| variants.get(t.path.as_str()).copied()),
    );
    let tera = build_tera(&sources)?;
    // One context for every render. Per-resource templates are rendered resource by
    // resource, so each resource is serialized into it once per group rather than once per
    // template (and never a clone of the whole context per render, which would make
    // rendering quadratic in the number of resources).
    let mut context = tera::Context::from_serialize(ctx).map_err(|e| tera_error("(context)", e))?;
    let (per_resource, single): (Vec<&TemplateFile>, Vec<&TemplateFile>) = group
        .iter()
        .copied()
        .partition(|t| t.path.contains("__resource__"));
    let render = |t: &TemplateFile, context: &tera::Context, module: Option<&str>| {
        let path = output_path(&t.path, module);
        let contents = if t.path.ends_with(".tera") {
            let name = variants.get(t.path.as_str()).map_or(&t.path, |v| &v.path);
            tera.render(name, context)
                .map_err(|e| {
                    // Name the file at fault: the shared template when it fails on its
                    // own (its slots left empty), else the backend's part.
                    match tera.render(&t.path, context) {
                        Err(shared) if *name != t.path => tera_error(&t.path, shared),
                        _ => tera_error(name, e),
                    }
                })?
                .into_bytes()
        } else {
            t.bytes.clone()
        };
        Ok(PlannedFile {
            contents: crate::ownership::with_header(&path, contents),
            path: PathBuf::from(path),
            rendered: None,
        })
    };
    let mut out = Vec::new();
    // The first error of each template (by resource order); the first template's is
    // reported, whatever the order of rendering.
    let mut failed: BTreeMap<&str, Error> = BTreeMap::new();
    for t in single {
        match render(t, &context, None) {
            Ok(file) => out.push(file),
            Err(e) => {
                failed.insert(&t.path, e);
            }
        }
    }
    for r in &ctx.resources {
        if per_resource
            .iter()
            .all(|t| failed.contains_key(t.path.as_str()))
        {
            break;
        }
        context.insert("resource", r);
        for t in &per_resource {
            if failed.contains_key(t.path.as_str()) {
                continue;
            }
            match render(t, &context, Some(&r.module)) {
                Ok(file) => out.push(file),
                Err(e) => {
                    failed.insert(&t.path, e);
                }
            }
        }
    }
    match failed.into_values().next() {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// Render every template for `model`. The result is sorted by path. Templates are parsed
/// and rendered on as many threads as there are cores (up to 4); the output does not depend
/// on how they are split.
pub fn render_templates(model: &Model, overrides: Option<&Path>) -> Result<Vec<PlannedFile>> {
    let templates = template_set(overrides)?;
    check_backend_parts(&templates)?;
    let ctx = context::build(model);
    let wanted: Vec<&TemplateFile> = templates
        .values()
        .filter(|t| !t.path.starts_with(BACKEND_DIR) && included(&t.path, model))
        .collect();
    let variants: BTreeMap<&str, &TemplateFile> = wanted
        .iter()
        .copied()
        .filter_map(|t| {
            let variant = templates.get(&backend_variant(&t.path, ctx.project.backend))?;
            Some((t.path.as_str(), variant))
        })
        .collect();
    // The OpenAPI document is built in Rust (beside the templates, on a thread of its own),
    // unless a team's template set renders its own.
    let own_document = wanted
        .iter()
        .any(|t| output_path(&t.path, None) == openapi::PATH);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    let groups = balanced_groups(wanted, threads);
    let (results, document): (Vec<Result<Vec<PlannedFile>>>, _) = std::thread::scope(|scope| {
        let document = (!own_document).then(|| scope.spawn(|| Ok(openapi::render(&ctx))));
        let handles: Vec<_> = groups
            .iter()
            .map(|g| scope.spawn(|| render_group(g, &variants, &ctx)))
            .collect();
        let results = handles
            .into_iter()
            .map(|h| crate::error::joined(h, "rendering"))
            .collect();
        (
            results,
            document.map(|h| crate::error::joined(h, "OpenAPI document")),
        )
    });
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for r in results {
        match r {
            Ok(files) => out.extend(files),
            Err(e) => errors.push(e),
        }
    }
    // Report the same error whatever the split: the first by template path.
    if let Some(e) = errors.into_iter().min_by_key(|e| e.to_string()) {
        return Err(e);
    }
    if let Some(document) = document {
        out.push(PlannedFile {
            path: PathBuf::from(openapi::PATH),
            contents: document?,
            rendered: None,
        });
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_paths() {
        assert_eq!(output_path("dot_gitignore.tera", None), ".gitignore");
        assert_eq!(
            output_path("dot_github/workflows/ci.yml.tera", None),
            ".github/workflows/ci.yml"
        );
        assert_eq!(
            output_path("src/models/__resource__.rs.tera", Some("author")),
            "src/models/author.rs"
        );
        assert_eq!(output_path("static/docs.css", None), "static/docs.css");
    }

    /// Backend differences live in `_backend/<backend>/`: no shared template tests the
    /// backend, and every backend part extends a shared template that has its slots.
    #[test]
    fn shared_templates_do_not_branch_on_the_backend() {
        let templates = template_set(None).expect("embedded templates");
        check_backend_parts(&templates).expect("every part names a backend and its template");
        for t in templates.values() {
            let text = String::from_utf8_lossy(&t.bytes);
            match t.path.strip_prefix(BACKEND_DIR) {
                None => assert!(
                    !text.contains("project.backend =") && !text.contains("project.backend !="),
                    "{} branches on the backend; move the difference to {BACKEND_DIR}",
                    t.path
                ),
                Some(rest) => {
                    let (_, shared) = rest.split_once('/').expect("a backend directory");
                    let base = templates.get(shared).expect("the shared template exists");
                    let base = String::from_utf8_lossy(&base.bytes);
                    assert!(text.starts_with(&format!("{{% extends \"{shared}\" %}}")));
                    for block in text.split("{% block ").skip(1) {
                        let name = block.split_whitespace().next().expect("a block name");
                        assert!(
                            base.contains(&format!(" block {name} %}}")),
                            "{} fills `{name}`, which {shared} has no slot for",
                            t.path
                        );
                    }
                }
            }
        }
    }

    fn model(backend: &str) -> Model {
        let text = include_str!("../../examples/bookstore.toml")
            .replace("backend = \"sqlite\"", &format!("backend = \"{backend}\""));
        Model::from_file(&toml::from_str(&text).expect("toml")).expect("model")
    }

    /// Writes `text` as the template `path` of a team's template set in `dir`.
    fn team_template(dir: &Path, path: &str, text: &str) {
        let path = dir.join(path);
        fs_err::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs_err::write(&path, text).expect("write");
    }

    fn file<'a>(files: &'a [PlannedFile], path: &str) -> &'a str {
        let f = files
            .iter()
            .find(|f| f.path == Path::new(path))
            .expect(path);
        std::str::from_utf8(&f.contents).expect("utf-8")
    }

    #[test]
    fn each_backend_renders_its_own_parts() {
        for (backend, connection) in [
            ("sqlite", "SqliteConnection"),
            ("postgres", "PgConnection"),
            ("mysql", "MysqlConnection"),
        ] {
            let files = render_templates(&model(backend), None).expect("renders");
            let db = file(&files, "src/generated/db.rs");
            let line = db
                .lines()
                .find(|l| l.starts_with("pub type DbConnection ="))
                .expect("the connection type");
            assert!(
                line.ends_with(&format!("{connection};")),
                "{backend}: {line}"
            );
            for other in ["SqliteConnection", "PgConnection", "MysqlConnection"] {
                if other != connection {
                    assert!(!db.contains(other), "{backend}: {other}");
                }
            }
        }
    }

    /// A team overrides one backend's part: the shared template and the other backends'
    /// parts stay dieselkit's.
    #[test]
    fn a_team_can_override_one_backends_part() {
        let dir = tempfile::tempdir().expect("tempdir");
        team_template(
            dir.path(),
            "_backend/postgres/src/generated/db.rs.tera",
            "{% extends \"src/generated/db.rs.tera\" %}\n{% block connection_type %}\npub type DbConnection = TeamConnection;{%- endblock connection_type %}\n",
        );
        let files = render_templates(&model("postgres"), Some(dir.path())).expect("renders");
        let db = file(&files, "src/generated/db.rs");
        assert!(
            db.contains("\npub type DbConnection = TeamConnection;\n"),
            "{db}"
        );
        assert!(
            db.contains("pub struct DbPool"),
            "the shared template is still there"
        );
        assert!(
            !db.contains("PREPARED_STATEMENTS"),
            "the part replaces dieselkit's postgres part as a whole"
        );
        let files = render_templates(&model("mysql"), Some(dir.path())).expect("renders");
        assert!(!file(&files, "src/generated/db.rs").contains("TeamConnection"));
    }

    /// dieselkit builds the OpenAPI document in Rust unless the team's template set renders
    /// its own, which then is the only one.
    #[test]
    fn a_team_template_can_render_the_openapi_document() {
        let built = render_templates(&model("sqlite"), None).expect("renders");
        assert!(file(&built, openapi::PATH).starts_with('{'));
        let dir = tempfile::tempdir().expect("tempdir");
        team_template(
            dir.path(),
            &format!("{}.tera", openapi::PATH),
            "{\"team\": \"{{ project.name }}\"}\n",
        );
        let files = render_templates(&model("sqlite"), Some(dir.path())).expect("renders");
        let documents: Vec<&PlannedFile> = files
            .iter()
            .filter(|f| f.path == Path::new(openapi::PATH))
            .collect();
        assert_eq!(documents.len(), 1);
        assert!(file(&files, openapi::PATH).starts_with("{\"team\": "));
    }

    /// With several templates failing, the error reported is the first template's, for its
    /// first resource, however the templates are split between threads.
    #[test]
    fn the_first_failing_template_is_reported() {
        let dir = tempfile::tempdir().expect("tempdir");
        for name in [
            "src/generated/models/__resource__.rs.tera",
            "src/generated/routes/__resource__.rs.tera",
        ] {
            team_template(dir.path(), name, "{{ resource.no_such_key }}\n");
        }
        let err = render_templates(&model("sqlite"), Some(dir.path()))
            .expect_err("fails")
            .to_string();
        assert!(
            err.contains("src/generated/models/__resource__.rs.tera"),
            "{err}"
        );
    }

    /// A render error names the file at fault: the shared template or the backend's part.
    #[test]
    fn render_errors_name_the_file_at_fault() {
        for (path, text, named) in [
            (
                "src/generated/db.rs.tera",
                "{{ no_such_key }}\n",
                "template `src/generated/db.rs.tera`",
            ),
            (
                "_backend/mysql/src/generated/db.rs.tera",
                "{% extends \"src/generated/db.rs.tera\" %}{% block connection_type %}{{ no_such_key }}{% endblock connection_type %}",
                "template `_backend/mysql/src/generated/db.rs.tera`",
            ),
        ] {
            let dir = tempfile::tempdir().expect("tempdir");
            team_template(dir.path(), path, text);
            let err = render_templates(&model("mysql"), Some(dir.path()))
                .expect_err("refused")
                .to_string();
            assert!(err.contains(named) && err.contains("no_such_key"), "{err}");
        }
    }

    #[test]
    fn a_backend_part_without_its_shared_template_is_named() {
        for (path, says) in [
            (
                "_backend/postgres/src/generated/nope.rs.tera",
                "which does not exist",
            ),
            (
                "_backend/oracle/src/generated/db.rs.tera",
                "`oracle` is not a backend",
            ),
        ] {
            let dir = tempfile::tempdir().expect("tempdir");
            team_template(dir.path(), path, "x");
            let err = render_templates(&model("sqlite"), Some(dir.path()))
                .expect_err("refused")
                .to_string();
            assert!(err.contains(path) && err.contains(says), "{err}");
        }
    }

    /// A team's shared template without the slots (say, one written for 0.1) still renders:
    /// the backend's parts have nowhere to go and are left out.
    #[test]
    fn an_overridden_shared_template_without_slots_renders_as_written() {
        let dir = tempfile::tempdir().expect("tempdir");
        team_template(
            dir.path(),
            "src/generated/db.rs.tera",
            "// team db for {{ project.backend }}\n",
        );
        let files = render_templates(&model("postgres"), Some(dir.path())).expect("renders");
        assert!(file(&files, "src/generated/db.rs").ends_with("// team db for postgres\n"));
    }
}

//! The model: `dieselkit.toml`, `--resource` flags and wizard answers all become one
//! validated [`Model`]. Raw input ([`ProjectFile`]) and the validated model are different
//! types, so nothing downstream sees an unchecked name.

mod field;
pub mod names;

pub use field::{type_name, DefaultValue, FieldSpec, FieldType, OnDelete};

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// A problem in user input, with where it is and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    /// Where the problem is: "resource `book`, field 2".
    pub context: Option<String>,
    pub message: String,
    /// The offending spec text with the byte range to underline.
    pub source: Option<(String, usize, usize)>,
}

impl SpecError {
    pub fn plain(message: impl Into<String>) -> Self {
        SpecError {
            context: None,
            message: message.into(),
            source: None,
        }
    }
    pub fn at(spec: &str, pos: usize, len: usize, message: String) -> Self {
        SpecError {
            context: None,
            message,
            source: Some((spec.to_string(), pos, len)),
        }
    }
    pub fn within(mut self, context: String) -> Self {
        self.context = Some(match self.context {
            Some(inner) => format!("{context}, {inner}"),
            None => context,
        });
        self
    }
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(ctx) = &self.context {
            write!(f, "{ctx}: ")?;
        }
        write!(f, "{}", self.message)?;
        if let Some((spec, pos, len)) = &self.source {
            let col = spec[..(*pos).min(spec.len())].chars().count();
            write!(
                f,
                "\n    {spec}\n    {}{}",
                " ".repeat(col),
                "^".repeat((*len).max(1))
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for SpecError {}

/// The database a project targets.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// Embedded SQLite: needs no server (the default)
    #[default]
    Sqlite,
    /// PostgreSQL (needs a server and libpq)
    Postgres,
    /// MySQL / MariaDB (needs a server and libmysqlclient or libmariadb)
    Mysql,
}

impl Backend {
    /// Every backend, in the order the wizard offers them.
    pub const ALL: [Backend; 3] = [Backend::Sqlite, Backend::Postgres, Backend::Mysql];

    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
            Backend::Mysql => "mysql",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

fn yes() -> bool {
    true
}

/// What the generated project includes besides models and migrations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// CRUD routes for every resource.
    #[serde(default = "yes")]
    pub crud: bool,
    /// `src/bin/seed.rs` with sample data.
    #[serde(default = "yes")]
    pub seed: bool,
    /// A GitHub Actions workflow.
    #[serde(default = "yes")]
    pub ci: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            crud: true,
            seed: true,
            ci: true,
        }
    }
}

/// `dieselkit.toml` as written by a user: unchecked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ProjectFile {
    pub project: ProjectSection,
    #[serde(default)]
    pub options: Options,
    #[serde(default)]
    pub resources: Vec<ResourceSection>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ProjectSection {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub backend: Backend,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceSection {
    pub name: String,
    /// The resource's previous name: its table is renamed instead of dropped and created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
    #[serde(default)]
    pub fields: Vec<String>,
}

impl ResourceSection {
    /// Parse a `--resource 'author name:string(100) bio:text?'` flag value.
    pub fn from_flag(value: &str) -> Result<ResourceSection, SpecError> {
        let mut words = value.split_whitespace();
        let Some(name) = words.next() else {
            return Err(SpecError::plain(
                "empty `--resource`; write `--resource 'NAME FIELD...'`, for example `--resource 'author name:string(100)'`",
            ));
        };
        if name.contains(':') {
            return Err(SpecError::plain(format!(
                "`--resource '{value}'` must start with the resource name, then its fields: `--resource 'author {value}'`"
            )));
        }
        Ok(ResourceSection {
            name: name.to_string(),
            renamed_from: None,
            fields: words.map(str::to_string).collect(),
        })
    }
}

/// A validated resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// Singular snake_case (`author`).
    pub name: String,
    /// Plural snake_case table name (`authors`).
    pub table: String,
    /// The previous resource name (`renamed_from = "writer"`), validated like a name.
    pub renamed_from: Option<String>,
    pub fields: Vec<FieldSpec>,
}

impl Resource {
    pub fn references(&self) -> impl Iterator<Item = (&FieldSpec, &str)> {
        self.fields.iter().filter_map(|f| match &f.ty {
            FieldType::References { resource } => Some((f, resource.as_str())),
            _ => None,
        })
    }
}

/// The validated model every later stage works from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Model {
    pub name: String,
    pub backend: Backend,
    pub options: Options,
    /// In dependency order: a referenced resource comes before its referrers.
    pub resources: Vec<Resource>,
}

/// Columns every table gets.
pub const GENERATED_COLUMNS: &[&str] = &["id", "created_at", "updated_at"];

impl Model {
    pub fn from_toml_str(text: &str) -> Result<ProjectFile, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// Validate a project file into a model.
    pub fn from_file(file: &ProjectFile) -> Result<Model, SpecError> {
        validate_project_name(&file.project.name)?;
        let mut resources = Vec::new();
        let mut seen_names = BTreeSet::new();
        for (i, section) in file.resources.iter().enumerate() {
            let resource = validate_resource(section)
                .map_err(|e| e.within(format!("resource {} (`{}`)", i + 1, section.name)))?;
            if !seen_names.insert(resource.name.clone()) {
                return Err(SpecError::plain(format!(
                    "resource `{}` is declared twice; merge its fields into one declaration",
                    resource.name
                )));
            }
            resources.push(resource);
        }
        check_references(&resources)?;
        check_backend_types(&resources, file.project.backend)?;
        let resources = dependency_order(resources)?;
        Ok(Model {
            name: file.project.name.clone(),
            backend: file.project.backend,
            options: file.options.clone(),
            resources,
        })
    }

    /// The canonical `dieselkit.toml` for this model (stable across runs).
    pub fn to_file(&self) -> ProjectFile {
        ProjectFile {
            project: ProjectSection {
                name: self.name.clone(),
                backend: self.backend,
            },
            options: self.options.clone(),
            resources: self
                .resources
                .iter()
                .map(|r| ResourceSection {
                    name: r.name.clone(),
                    renamed_from: r.renamed_from.clone(),
                    fields: r.fields.iter().map(ToString::to_string).collect(),
                })
                .collect(),
        }
    }

    pub fn to_toml(&self) -> String {
        let body = toml::to_string(&self.to_file())
            .unwrap_or_else(|e| format!("# internal error: cannot serialize the model: {e}\n"));
        format!(
            "# dieselkit model: the answers and resources this project was generated from.\n\
             # `dieselkit new-project --from dieselkit.toml` regenerates the same project.\n\n{body}"
        )
    }

    pub fn resource(&self, name: &str) -> Option<&Resource> {
        self.resources.iter().find(|r| r.name == name)
    }

    /// The Rust crate name of the generated project.
    pub fn crate_name(&self) -> String {
        self.name.replace('-', "_")
    }
}

pub fn validate_project_name(name: &str) -> Result<(), SpecError> {
    let ctx = || "project name".to_string();
    if name.is_empty() {
        return Err(SpecError::plain(
            "the project has no name; pass `NAME` (e.g. `dieselkit new-project bookstore`) or set `project.name` in dieselkit.toml",
        ));
    }
    let first_ok = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
    if !first_ok
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(SpecError::plain(format!(
            "`{name}` is not a valid package name: start with a letter and use only letters, digits, `-` and `_`"
        ))
        .within(ctx()));
    }
    if name.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(SpecError::plain(format!(
            "`{name}` has upper-case letters, which cargo warns about in package names; use `{}`",
            name.to_ascii_lowercase()
        ))
        .within(ctx()));
    }
    let crate_name = name.replace('-', "_").to_ascii_lowercase();
    if names::is_rust_keyword(&crate_name) || names::is_reserved_crate_name(&crate_name) {
        return Err(SpecError::plain(format!(
            "`{name}` cannot be a crate name (it is a Rust keyword or a built-in crate); choose another, like `{name}-service`"
        ))
        .within(ctx()));
    }
    if name.len() > 64 {
        return Err(
            SpecError::plain(format!("`{name}` is longer than 64 characters")).within(ctx()),
        );
    }
    Ok(())
}

fn validate_resource_name(name: &str) -> Result<String, SpecError> {
    if let Some(problem) = names::snake_identifier_problem(name) {
        let hint = names::suggest_snake(name)
            .map(|s| format!("; try `{s}`"))
            .unwrap_or_default();
        return Err(SpecError::plain(format!(
            "invalid resource name `{name}`: {problem}{hint}"
        )));
    }
    let singular = names::singular(name);
    // Plural when singularizing and re-pluralizing round-trips and pluralizing changes
    // nothing (`books`); `specimen` is singular although `speciman` pluralizes to it.
    if singular != name && names::plural(&singular) == name && names::plural(name) == name {
        return Err(SpecError::plain(format!(
            "resource names are singular: use `{singular}` (its table will be `{name}`)"
        )));
    }
    if names::is_rust_keyword(name) {
        return Err(SpecError::plain(format!(
            "resource name `{name}` is a Rust keyword and cannot name a module; choose another"
        )));
    }
    let table = names::plural(name);
    if ["docs", "health", "openapi"].contains(&table.as_str()) {
        return Err(SpecError::plain(format!(
            "resource `{name}` would serve `/{table}`, which the generated service uses for its own endpoint; choose another name"
        )));
    }
    if names::is_sql_reserved(&table) {
        return Err(SpecError::plain(format!(
            "resource name `{name}` (table `{table}`) is an SQL reserved word on at least one backend; choose a more specific name, for example `user_{name}` (table `user_{table}`)"
        )));
    }
    if names::pascal(name) == "Self" {
        return Err(SpecError::plain(format!(
            "resource name `{name}` is reserved"
        )));
    }
    Ok(table)
}

fn validate_resource(section: &ResourceSection) -> Result<Resource, SpecError> {
    let table = validate_resource_name(&section.name)?;
    let mut fields = Vec::new();
    let mut columns: BTreeMap<String, usize> = BTreeMap::new();
    for (i, spec) in section.fields.iter().enumerate() {
        let ctx = || format!("field {} (`{spec}`)", i + 1);
        let field = FieldSpec::parse(spec).map_err(|e| e.within(ctx()))?;
        let column = field.column();
        for name in [&field.name, &column] {
            if names::is_rust_keyword(name) {
                return Err(SpecError::plain(format!(
                    "`{name}` is a Rust keyword and cannot name a struct field; rename it (for example `{name}_value` or a more specific word)"
                ))
                .within(ctx()));
            }
        }
        // Only the column's name reaches SQL: `user:references` is the column `user_id`.
        if names::is_sql_reserved(&column) {
            return Err(SpecError::plain(format!(
                "`{column}` is an SQL reserved word; rename it (for example `{}_{column}`)",
                section.name
            ))
            .within(ctx()));
        }
        if GENERATED_COLUMNS.contains(&column.as_str()) {
            return Err(SpecError::plain(format!(
                "`{column}` is generated for every table (id, created_at, updated_at); remove this field"
            ))
            .within(ctx()));
        }
        if let Some(first) = columns.insert(column.clone(), i + 1) {
            return Err(SpecError::plain(format!(
                "column `{column}` is already defined by field {first}; each field needs a distinct name"
            ))
            .within(ctx()));
        }
        fields.push(field);
    }
    let renamed_from = match &section.renamed_from {
        Some(old) => {
            validate_resource_name(old)
                .map_err(|e| SpecError::plain(format!("`renamed_from`: {}", e.message)))?;
            if *old == section.name {
                return Err(SpecError::plain(format!(
                    "`renamed_from = \"{old}\"` names the resource itself; remove it, or give the previous name"
                )));
            }
            Some(old.clone())
        }
        None => None,
    };
    Ok(Resource {
        name: section.name.clone(),
        table,
        renamed_from,
        fields,
    })
}

/// The most digits a `decimal` keeps exactly on SQLite, which stores it as a 64-bit float
/// (any decimal of up to 15 significant digits survives the round trip).
pub const SQLITE_DECIMAL_DIGITS: u32 = 15;

/// Types a backend cannot hold with the one API contract every backend shares.
fn check_backend_types(resources: &[Resource], backend: Backend) -> Result<(), SpecError> {
    if backend != Backend::Sqlite {
        return Ok(());
    }
    for resource in resources {
        for field in &resource.fields {
            if let FieldType::Decimal { precision, scale } = field.ty {
                if precision > SQLITE_DECIMAL_DIGITS {
                    return Err(SpecError::plain(format!(
                        "`{}.{}` is decimal({precision},{scale}), but SQLite stores decimals as 64-bit floats, exact to {SQLITE_DECIMAL_DIGITS} digits: use a precision of at most {SQLITE_DECIMAL_DIGITS} (decimal({},{})), or the postgres or mysql backend",
                        resource.name,
                        field.name,
                        SQLITE_DECIMAL_DIGITS,
                        scale.min(SQLITE_DECIMAL_DIGITS)
                    )));
                }
            }
        }
    }
    Ok(())
}

fn check_references(resources: &[Resource]) -> Result<(), SpecError> {
    let known: BTreeSet<&str> = resources.iter().map(|r| r.name.as_str()).collect();
    for r in resources {
        for (field, target) in r.references() {
            if !known.contains(target) {
                let listed = known.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>();
                return Err(SpecError::plain(format!(
                    "`{}` references unknown resource `{target}`; declare a resource `{target}`{}, or use `{}:references(RESOURCE)` (known: {})",
                    field.name,
                    if field.name == target { "" } else { " first" },
                    field.name,
                    if listed.is_empty() { "none".into() } else { listed.join(", ") }
                ))
                .within(format!("resource `{}`", r.name)));
            }
        }
    }
    Ok(())
}

/// Stable topological order: declaration order, except that a referenced resource moves
/// before its referrers. Self-references are fine; cycles between resources are refused.
fn dependency_order(resources: Vec<Resource>) -> Result<Vec<Resource>, SpecError> {
    let mut remaining = resources;
    let mut ordered: Vec<Resource> = Vec::new();
    while !remaining.is_empty() {
        let placed: BTreeSet<String> = ordered.iter().map(|r| r.name.clone()).collect();
        let ready = remaining.iter().position(|r| {
            r.references()
                .all(|(_, t)| t == r.name || placed.contains(t))
        });
        match ready {
            Some(i) => ordered.push(remaining.remove(i)),
            None => {
                let cycle = remaining
                    .iter()
                    .map(|r| format!("`{}`", r.name))
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(SpecError::plain(format!(
                    "resources {cycle} reference each other in a cycle; make one reference nullable and add it in a later migration with `dieselkit generate field`"
                )));
            }
        }
    }
    Ok(ordered)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(resources: &[(&str, &[&str])]) -> Result<Model, SpecError> {
        Model::from_file(&ProjectFile {
            project: ProjectSection {
                name: "shop".into(),
                backend: Backend::Sqlite,
            },
            options: Options::default(),
            resources: resources
                .iter()
                .map(|(n, f)| ResourceSection {
                    name: n.to_string(),
                    renamed_from: None,
                    fields: f.iter().map(|s| s.to_string()).collect(),
                })
                .collect(),
        })
    }
    fn err(resources: &[(&str, &[&str])]) -> String {
        model(resources)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    }

    #[test]
    fn sqlite_decimals_stay_within_what_a_float_keeps_exactly() {
        assert!(model(&[("item", &["price:decimal(15,2)"])]).is_ok());
        let message = err(&[("item", &["price:decimal(19,4)"])]);
        assert!(
            message.contains("`item.price` is decimal(19,4)"),
            "{message}"
        );
        assert!(message.contains("decimal(15,4)"), "{message}");
        let mut file = model(&[]).expect("empty model").to_file();
        file.project.backend = Backend::Postgres;
        file.resources.push(ResourceSection {
            name: "item".into(),
            renamed_from: None,
            fields: vec!["price:decimal(19,4)".into()],
        });
        assert!(Model::from_file(&file).is_ok(), "servers keep every digit");
    }

    #[test]
    fn orders_by_dependency() {
        let m = model(&[
            ("book", &["title:text", "author:references"]),
            ("author", &["name:text"]),
        ])
        .expect("valid");
        let names: Vec<_> = m.resources.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["author", "book"]);
    }

    #[test]
    fn validation_messages() {
        assert!(err(&[("book", &["type:text"])]).contains("`type` is a Rust keyword"));
        assert!(err(&[("book", &["order:int"])]).contains("SQL reserved word"));
        // The column of a reference is `<name>_id`, which is no reserved word.
        let shop = model(&[
            ("user", &["name:string(50)"]),
            ("post", &["user:references"]),
        ])
        .expect("`user:references` is the column `user_id`");
        assert_eq!(shop.resources[1].fields[0].column(), "user_id");
        assert!(err(&[("post", &["user:int"])]).contains("`user` is an SQL reserved word"));
        assert!(err(&[("group", &["name:text"])]).contains("for example `user_group`"));
        assert!(err(&[("book", &["a:int", "a:text"])]).contains("already defined by field 1"));
        assert!(err(&[("book", &["id:int"])]).contains("generated for every table"));
        assert!(err(&[("book", &["author:references"])]).contains("unknown resource `author`"));
        assert!(err(&[("books", &[])]).contains("resource names are singular: use `book`"));
        assert!(err(&[("Book", &[])]).contains("try `book`"));
        assert!(err(&[("book", &[]), ("book", &[])]).contains("declared twice"));
        assert!(err(&[
            ("writer", &["editor:references"]),
            ("editor", &["writer:references"])
        ])
        .contains("cycle"));
        let e = err(&[("book", &["title:text", "x:strng"])]);
        assert!(
            e.starts_with("resource 1 (`book`), field 2 (`x:strng`): unknown type"),
            "{e}"
        );
    }

    #[test]
    fn singular_names_that_look_plural_are_accepted() {
        for name in ["status", "news_item", "person", "address"] {
            assert!(model(&[(name, &["x:int"])]).is_ok(), "{name}");
        }
    }

    #[test]
    fn self_reference_is_allowed() {
        assert!(model(&[(
            "category",
            &["parent:references(category)?:on_delete=set_null"]
        )])
        .is_ok());
    }

    #[test]
    fn project_names() {
        assert!(validate_project_name("book-store").is_ok());
        assert!(validate_project_name("1shop").is_err());
        assert!(validate_project_name("fn").is_err());
        assert!(validate_project_name("test").is_err());
        assert!(validate_project_name("a b").is_err());
    }

    #[test]
    fn toml_round_trip() {
        let m = model(&[("author", &["name:string(100)", "bio:text?"])]).expect("valid");
        let text = m.to_toml();
        let back = Model::from_file(&Model::from_toml_str(&text).expect("toml")).expect("valid");
        assert_eq!(back, m);
    }
}

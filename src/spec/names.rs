//! Identifier rules shared by resources, fields and projects: what is a valid name, and
//! which words Rust or SQL reserve.

/// Rust keywords (strict and reserved, 2021 edition) plus names that would shadow
/// something the generated code relies on.
const RUST_KEYWORDS: &[&str] = &[
    "as", "async", "await", "box", "break", "const", "continue", "crate", "do", "dyn", "else",
    "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl", "in", "let", "loop",
    "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref", "return", "self",
    "static", "struct", "super", "trait", "true", "try", "type", "typeof", "union", "unsafe",
    "unsized", "use", "virtual", "where", "while", "yield", "abstract", "become",
];

/// Words reserved by SQL:2016, PostgreSQL, MySQL or SQLite that cannot be used as an
/// unquoted column or table name on at least one backend we support. We refuse them
/// everywhere so a model stays portable.
const SQL_RESERVED: &[&str] = &[
    "add",
    "all",
    "alter",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "between",
    "both",
    "by",
    "case",
    "cast",
    "change",
    "check",
    "collate",
    "column",
    "constraint",
    "create",
    "cross",
    "current_date",
    "current_time",
    "current_timestamp",
    "current_user",
    "database",
    "default",
    "delete",
    "desc",
    "distinct",
    "drop",
    "else",
    "end",
    "except",
    "exists",
    "fetch",
    "for",
    "foreign",
    "from",
    "full",
    "grant",
    "group",
    "having",
    "in",
    "index",
    "inner",
    "insert",
    "intersect",
    "interval",
    "into",
    "is",
    "join",
    "key",
    "keys",
    "leading",
    "left",
    "like",
    "limit",
    "natural",
    "not",
    "null",
    "offset",
    "on",
    "or",
    "order",
    "outer",
    "primary",
    "range",
    "references",
    "rename",
    "replace",
    "returning",
    "right",
    "row",
    "rows",
    "select",
    "session_user",
    "set",
    "show",
    "some",
    "table",
    "then",
    "to",
    "trailing",
    "trigger",
    "union",
    "unique",
    "update",
    "user",
    // MySQL 8 reserves GROUPS (window frames).
    "groups",
    "using",
    "values",
    "view",
    "when",
    "where",
    "window",
    "with",
];

/// Crate names cargo refuses or that would shadow the standard library.
const RESERVED_CRATE_NAMES: &[&str] = &["std", "core", "alloc", "test", "proc_macro", "build"];

pub fn is_rust_keyword(name: &str) -> bool {
    RUST_KEYWORDS.contains(&name)
}

pub fn is_sql_reserved(name: &str) -> bool {
    SQL_RESERVED.contains(&name)
}

pub fn is_reserved_crate_name(name: &str) -> bool {
    RESERVED_CRATE_NAMES.contains(&name)
}

/// The longest identifier PostgreSQL keeps (63 bytes); MySQL allows 64.
pub const MAX_IDENTIFIER_LEN: usize = 63;

/// Why `name` is not a valid lower snake_case identifier, if it is not.
pub fn snake_identifier_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("the name is empty".into());
    }
    if name.len() > MAX_IDENTIFIER_LEN {
        return Some(format!(
            "the name is {} characters long; the limit is {MAX_IDENTIFIER_LEN}",
            name.len()
        ));
    }
    let first = name.chars().next()?;
    if !first.is_ascii_lowercase() {
        return Some("a name must start with a lowercase letter (a-z)".into());
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_'))
    {
        return Some(format!(
            "`{bad}` is not allowed; use lowercase letters, digits and `_` (snake_case)"
        ));
    }
    if name.ends_with('_') || name.contains("__") {
        return Some("a name cannot end with `_` or contain `__`".into());
    }
    None
}

/// A snake_case suggestion for a name that is not one (`BookReview` → `book_review`).
pub fn suggest_snake(name: &str) -> Option<String> {
    use heck::ToSnakeCase;
    let s: String = name
        .to_snake_case()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    let s = s.trim_matches('_').to_string();
    (s != name && snake_identifier_problem(&s).is_none()).then_some(s)
}

pub fn plural(word: &str) -> String {
    pluralizer::pluralize(word, 2, false)
}

pub fn singular(word: &str) -> String {
    pluralizer::pluralize(word, 1, false)
}

pub fn pascal(word: &str) -> String {
    use heck::ToUpperCamelCase;
    word.to_upper_camel_case()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_identifiers() {
        assert!(snake_identifier_problem("title").is_none());
        assert!(snake_identifier_problem("published_on2").is_none());
        assert!(snake_identifier_problem("Title").is_some());
        assert!(snake_identifier_problem("1st").is_some());
        assert!(snake_identifier_problem("a-b").is_some());
        assert!(snake_identifier_problem("a__b").is_some());
        assert!(snake_identifier_problem(&"x".repeat(64)).is_some());
    }

    #[test]
    fn suggestions() {
        assert_eq!(suggest_snake("BookReview").as_deref(), Some("book_review"));
        assert_eq!(
            suggest_snake("published-on").as_deref(),
            Some("published_on")
        );
        assert_eq!(suggest_snake("title"), None);
    }

    #[test]
    fn inflection() {
        assert_eq!(plural("author"), "authors");
        assert_eq!(plural("category"), "categories");
        assert_eq!(plural("person"), "people");
        assert_eq!(singular("books"), "book");
        assert_eq!(pascal("book_review"), "BookReview");
    }
}

//! The field-spec grammar: `NAME:TYPE[?][:MODIFIER]...`, shared by `--resource`,
//! `generate field`, the wizard and `dieselkit.toml`.

use super::names;
use super::SpecError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A column type of the model, backend-neutral.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FieldType {
    Int,
    BigInt,
    SmallInt,
    Float,
    Double,
    Decimal {
        precision: u32,
        scale: u32,
    },
    Bool,
    String {
        max_length: u32,
    },
    Text,
    Date,
    Time,
    Datetime,
    Timestamptz,
    Uuid,
    Json,
    Bytes,
    /// A foreign key to another resource's `id`.
    References {
        resource: String,
    },
}

/// What happens to rows referencing a deleted parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnDelete {
    #[default]
    Restrict,
    Cascade,
    SetNull,
}

impl OnDelete {
    pub fn sql(self) -> &'static str {
        match self {
            OnDelete::Restrict => "RESTRICT",
            OnDelete::Cascade => "CASCADE",
            OnDelete::SetNull => "SET NULL",
        }
    }
    fn keyword(self) -> &'static str {
        match self {
            OnDelete::Restrict => "restrict",
            OnDelete::Cascade => "cascade",
            OnDelete::SetNull => "set_null",
        }
    }
}

/// A column default, already checked against the field's type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DefaultValue {
    /// A number, kept as written (validated to parse).
    Number(String),
    Bool(bool),
    /// A string-like literal (strings, dates, times, uuids, json text).
    Text(String),
    /// The current time, for date/time types (`default=now`).
    Now,
}

/// One field of a resource, parsed and validated on its own (cross-field checks live in
/// the model).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FieldSpec {
    /// The name as written (`author` for `author:references`).
    pub name: String,
    pub ty: FieldType,
    pub nullable: bool,
    pub unique: bool,
    pub index: bool,
    pub default: Option<DefaultValue>,
    pub renamed_from: Option<String>,
    pub on_delete: Option<OnDelete>,
}

impl FieldSpec {
    /// The column this field becomes (`author` → `author_id` for references).
    pub fn column(&self) -> String {
        match &self.ty {
            FieldType::References { .. } => format!("{}_id", self.name),
            _ => self.name.clone(),
        }
    }

    /// Parse one spec. Errors point at the offending part of `spec`.
    pub fn parse(spec: &str) -> Result<FieldSpec, SpecError> {
        let spec_trimmed = spec.trim();
        let err = |pos: usize, len: usize, msg: String| SpecError::at(spec_trimmed, pos, len, msg);
        if spec_trimmed.is_empty() {
            return Err(SpecError::plain(
                "empty field spec; write `NAME:TYPE`, for example `title:string(200)`",
            ));
        }
        let parts = split_parts(spec_trimmed);
        let (name, name_pos) = parts[0];
        if let Some(problem) = names::snake_identifier_problem(name) {
            let hint = names::suggest_snake(name)
                .map(|s| format!("; try `{s}`"))
                .unwrap_or_default();
            return Err(err(
                name_pos,
                name.len().max(1),
                format!("invalid field name `{name}`: {problem}{hint}"),
            ));
        }
        let Some(&(ty_text, ty_pos)) = parts.get(1) else {
            return Err(err(
                spec_trimmed.len(),
                1,
                format!("field `{name}` has no type; write `{name}:TYPE` (types: {TYPE_LIST})"),
            ));
        };
        let (ty_text, nullable) = match ty_text.strip_suffix('?') {
            Some(t) => (t, true),
            None => (ty_text, false),
        };
        let ty = parse_type(name, ty_text).map_err(|msg| err(ty_pos, ty_text.len().max(1), msg))?;
        let mut field = FieldSpec {
            name: name.to_string(),
            ty,
            nullable,
            unique: false,
            index: false,
            default: None,
            renamed_from: None,
            on_delete: None,
        };
        for &(modifier, pos) in &parts[2..] {
            field
                .apply_modifier(modifier)
                .map_err(|msg| err(pos, modifier.len().max(1), msg))?;
        }
        if field.on_delete == Some(OnDelete::SetNull) && !field.nullable {
            return Err(err(
                ty_pos,
                ty_text.len(),
                format!(
                    "`on_delete=set_null` needs a nullable reference; write `{name}:references?:on_delete=set_null`"
                ),
            ));
        }
        Ok(field)
    }

    fn apply_modifier(&mut self, modifier: &str) -> Result<(), String> {
        let (key, value) = match modifier.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (modifier, None),
        };
        match (key, value) {
            ("unique", None) => self.unique = true,
            ("index", None) => self.index = true,
            ("default", Some(v)) => self.default = Some(parse_default(&self.name, &self.ty, v)?),
            ("renamed_from", Some(v)) => {
                if let Some(problem) = names::snake_identifier_problem(v) {
                    return Err(format!("invalid `renamed_from` name `{v}`: {problem}"));
                }
                self.renamed_from = Some(v.to_string());
            }
            ("on_delete", Some(v)) => {
                if !matches!(self.ty, FieldType::References { .. }) {
                    return Err(format!(
                        "`on_delete` only applies to references; `{}` is not one",
                        self.name
                    ));
                }
                self.on_delete = Some(match v {
                    "cascade" => OnDelete::Cascade,
                    "restrict" => OnDelete::Restrict,
                    "set_null" => OnDelete::SetNull,
                    other => {
                        return Err(format!(
                            "unknown `on_delete` action `{other}`; use cascade, restrict or set_null"
                        ))
                    }
                });
            }
            ("unique" | "index", Some(_)) => {
                return Err(format!("`{key}` takes no value; write `:{key}`"))
            }
            ("default" | "renamed_from" | "on_delete", None) => {
                return Err(format!("`{key}` needs a value; write `:{key}=VALUE`"))
            }
            _ => {
                return Err(format!(
                    "unknown modifier `{modifier}`; modifiers are unique, index, default=VALUE, renamed_from=OLD, on_delete=cascade|restrict|set_null"
                ))
            }
        }
        Ok(())
    }
}

const TYPE_LIST: &str = "int, bigint, smallint, float, double, decimal(p,s), bool, string(n), text, date, time, datetime, timestamptz, uuid, json, bytes, references";

const MODIFIER_KEYS: &[&str] = &["unique", "index", "default=", "renamed_from=", "on_delete="];

/// Split on `:` but keep `:` inside a `default=` value (`default=12:00:00`) and inside
/// parentheses. Returns each part with its byte offset.
fn split_parts(spec: &str) -> Vec<(&str, usize)> {
    let mut raw: Vec<(usize, usize)> = Vec::new();
    let mut start = 0;
    let mut depth = 0i32;
    for (i, c) in spec.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ':' if depth <= 0 => {
                raw.push((start, i));
                start = i + 1;
            }
            _ => {}
        }
    }
    raw.push((start, spec.len()));
    // Re-join pieces that follow a `default=` and do not begin a new modifier.
    let mut parts: Vec<(usize, usize)> = Vec::new();
    for (s, e) in raw {
        let text = &spec[s..e];
        let continues_default = parts.len() >= 2
            && parts
                .last()
                .is_some_and(|&(ps, _)| spec[ps..].starts_with("default="))
            && !MODIFIER_KEYS
                .iter()
                .any(|k| text == k.trim_end_matches('=') || text.starts_with(k));
        match parts.last_mut() {
            Some(last) if continues_default => last.1 = e,
            _ => parts.push((s, e)),
        }
    }
    parts.into_iter().map(|(s, e)| (&spec[s..e], s)).collect()
}

fn parse_type(name: &str, text: &str) -> Result<FieldType, String> {
    let (base, args) = match text.find('(') {
        Some(open) => {
            let Some(inner) = text[open + 1..].strip_suffix(')') else {
                return Err(format!("unclosed `(` in type `{text}`"));
            };
            (&text[..open], Some(inner))
        }
        None => (text, None),
    };
    let no_args = |ty: FieldType| match args {
        None => Ok(ty),
        Some(_) => Err(format!("type `{base}` takes no arguments; write `{base}`")),
    };
    match base {
        "int" | "integer" => no_args(FieldType::Int),
        "bigint" => no_args(FieldType::BigInt),
        "smallint" => no_args(FieldType::SmallInt),
        "float" => no_args(FieldType::Float),
        "double" => no_args(FieldType::Double),
        "bool" | "boolean" => no_args(FieldType::Bool),
        "text" => no_args(FieldType::Text),
        "date" => no_args(FieldType::Date),
        "time" => no_args(FieldType::Time),
        "datetime" => no_args(FieldType::Datetime),
        "timestamptz" => no_args(FieldType::Timestamptz),
        "uuid" => no_args(FieldType::Uuid),
        "json" => no_args(FieldType::Json),
        "bytes" => no_args(FieldType::Bytes),
        "string" => {
            let Some(n) = args else {
                return Err(format!(
                    "`string` needs a maximum length: write `{name}:string(255)`, or use `{name}:text` for unbounded text"
                ));
            };
            match n.trim().parse::<u32>() {
                Ok(n) if (1..=65_535).contains(&n) => Ok(FieldType::String { max_length: n }),
                _ => Err(format!(
                    "`string({n})`: the length must be a whole number from 1 to 65535"
                )),
            }
        }
        "decimal" => {
            let Some(a) = args else {
                return Err(format!(
                    "`decimal` needs a precision and scale: write `{name}:decimal(10,2)`"
                ));
            };
            let nums: Vec<Option<u32>> = a.split(',').map(|p| p.trim().parse().ok()).collect();
            match nums.as_slice() {
                [Some(p), Some(s)] if (1..=38).contains(p) && s <= p => Ok(FieldType::Decimal {
                    precision: *p,
                    scale: *s,
                }),
                _ => Err(format!(
                    "`decimal({a})`: write `decimal(P,S)` with 1 <= P <= 38 and 0 <= S <= P, for example `decimal(10,2)`"
                )),
            }
        }
        "references" => match args {
            None => Ok(FieldType::References {
                resource: name.to_string(),
            }),
            Some(target) => {
                let target = target.trim();
                if let Some(problem) = names::snake_identifier_problem(target) {
                    return Err(format!(
                        "invalid resource `{target}` in `references({target})`: {problem}"
                    ));
                }
                Ok(FieldType::References {
                    resource: target.to_string(),
                })
            }
        },
        "" => Err(format!(
            "field `{name}` has an empty type; types: {TYPE_LIST}"
        )),
        other => Err(format!("unknown type `{other}`; types: {TYPE_LIST}")),
    }
}

fn parse_default(name: &str, ty: &FieldType, value: &str) -> Result<DefaultValue, String> {
    let value = value.trim();
    let unquoted = value
        .strip_prefix('\'')
        .and_then(|v| v.strip_suffix('\''))
        .or_else(|| value.strip_prefix('"').and_then(|v| v.strip_suffix('"')))
        .unwrap_or(value);
    let bad = |what: &str| {
        Err(format!(
            "`default={value}` is not a valid {what} for field `{name}`"
        ))
    };
    match ty {
        FieldType::Int | FieldType::BigInt | FieldType::SmallInt => {
            let ok = match ty {
                FieldType::SmallInt => value.parse::<i16>().is_ok(),
                FieldType::Int => value.parse::<i32>().is_ok(),
                _ => value.parse::<i64>().is_ok(),
            };
            if ok {
                Ok(DefaultValue::Number(value.to_string()))
            } else {
                bad("integer in range")
            }
        }
        FieldType::Float | FieldType::Double | FieldType::Decimal { .. } => {
            if value.parse::<f64>().is_ok_and(f64::is_finite) && !value.contains(['e', 'E']) {
                Ok(DefaultValue::Number(value.to_string()))
            } else {
                bad("number (like 0 or 9.99)")
            }
        }
        FieldType::Bool => match value {
            "true" => Ok(DefaultValue::Bool(true)),
            "false" => Ok(DefaultValue::Bool(false)),
            _ => bad("boolean (true or false)"),
        },
        FieldType::String { max_length } => {
            if unquoted.chars().count() > *max_length as usize {
                return Err(format!(
                    "`default={value}` is longer than `string({max_length})` allows for field `{name}`"
                ));
            }
            Ok(DefaultValue::Text(unquoted.to_string()))
        }
        FieldType::Text => Ok(DefaultValue::Text(unquoted.to_string())),
        FieldType::Date | FieldType::Time | FieldType::Datetime | FieldType::Timestamptz => {
            if value == "now" {
                return Ok(DefaultValue::Now);
            }
            let shape_ok = match ty {
                FieldType::Date => looks_like(unquoted, "dddd-dd-dd"),
                FieldType::Time => looks_like(unquoted, "dd:dd:dd"),
                _ => unquoted.len() >= 19 && looks_like(&unquoted[..10], "dddd-dd-dd"),
            };
            if shape_ok {
                Ok(DefaultValue::Text(unquoted.to_string()))
            } else {
                bad("value (`now`, or YYYY-MM-DD / HH:MM:SS / YYYY-MM-DD HH:MM:SS)")
            }
        }
        FieldType::Uuid => {
            if looks_like(
                &unquoted
                    .to_ascii_lowercase()
                    .replace(|c: char| c.is_ascii_hexdigit(), "d"),
                "dddddddd-dddd-dddd-dddd-dddddddddddd",
            ) {
                Ok(DefaultValue::Text(unquoted.to_ascii_lowercase()))
            } else {
                bad("uuid")
            }
        }
        FieldType::Json => match serde_json::from_str::<serde_json::Value>(unquoted) {
            Ok(v) => Ok(DefaultValue::Text(v.to_string())),
            Err(_) => bad("JSON value"),
        },
        FieldType::Bytes | FieldType::References { .. } => Err(format!(
            "field `{name}` of type `{}` cannot have a default",
            type_name(ty)
        )),
    }
}

/// `d` in the pattern matches an ASCII digit, anything else matches itself.
fn looks_like(text: &str, pattern: &str) -> bool {
    text.len() == pattern.len()
        && text
            .chars()
            .zip(pattern.chars())
            .all(|(c, p)| if p == 'd' { c.is_ascii_digit() } else { c == p })
}

pub fn type_name(ty: &FieldType) -> String {
    match ty {
        FieldType::Int => "int".into(),
        FieldType::BigInt => "bigint".into(),
        FieldType::SmallInt => "smallint".into(),
        FieldType::Float => "float".into(),
        FieldType::Double => "double".into(),
        FieldType::Decimal { precision, scale } => format!("decimal({precision},{scale})"),
        FieldType::Bool => "bool".into(),
        FieldType::String { max_length } => format!("string({max_length})"),
        FieldType::Text => "text".into(),
        FieldType::Date => "date".into(),
        FieldType::Time => "time".into(),
        FieldType::Datetime => "datetime".into(),
        FieldType::Timestamptz => "timestamptz".into(),
        FieldType::Uuid => "uuid".into(),
        FieldType::Json => "json".into(),
        FieldType::Bytes => "bytes".into(),
        FieldType::References { .. } => "references".into(),
    }
}

/// Writes the canonical spec back (`dieselkit.toml` stores these).
impl fmt::Display for FieldSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.name)?;
        match &self.ty {
            FieldType::References { resource } if *resource != self.name => {
                write!(f, "references({resource})")?
            }
            ty => write!(f, "{}", type_name(ty))?,
        }
        if self.nullable {
            write!(f, "?")?;
        }
        if self.unique {
            write!(f, ":unique")?;
        }
        if self.index {
            write!(f, ":index")?;
        }
        match &self.default {
            None => {}
            Some(DefaultValue::Number(n)) => write!(f, ":default={n}")?,
            Some(DefaultValue::Bool(b)) => write!(f, ":default={b}")?,
            Some(DefaultValue::Now) => write!(f, ":default=now")?,
            Some(DefaultValue::Text(t)) => write!(f, ":default={t}")?,
        }
        if let Some(old) = &self.renamed_from {
            write!(f, ":renamed_from={old}")?;
        }
        if let Some(od) = self.on_delete {
            write!(f, ":on_delete={}", od.keyword())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> FieldSpec {
        FieldSpec::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }
    fn error(s: &str) -> String {
        match FieldSpec::parse(s) {
            Ok(f) => panic!("{s} parsed as {f:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn parses_every_type() {
        for (spec, ty) in [
            ("a:int", FieldType::Int),
            ("a:bigint", FieldType::BigInt),
            ("a:smallint", FieldType::SmallInt),
            ("a:float", FieldType::Float),
            ("a:double", FieldType::Double),
            (
                "a:decimal(10,2)",
                FieldType::Decimal {
                    precision: 10,
                    scale: 2,
                },
            ),
            ("a:bool", FieldType::Bool),
            ("a:string(20)", FieldType::String { max_length: 20 }),
            ("a:text", FieldType::Text),
            ("a:date", FieldType::Date),
            ("a:time", FieldType::Time),
            ("a:datetime", FieldType::Datetime),
            ("a:timestamptz", FieldType::Timestamptz),
            ("a:uuid", FieldType::Uuid),
            ("a:json", FieldType::Json),
            ("a:bytes", FieldType::Bytes),
            (
                "a:references",
                FieldType::References {
                    resource: "a".into(),
                },
            ),
            (
                "a:references(author)",
                FieldType::References {
                    resource: "author".into(),
                },
            ),
        ] {
            assert_eq!(parse(spec).ty, ty, "{spec}");
        }
    }

    #[test]
    fn modifiers() {
        let f = parse("email:string(255)?:unique:index:default=a@b.c:renamed_from=mail");
        assert!(f.nullable && f.unique && f.index);
        assert_eq!(f.default, Some(DefaultValue::Text("a@b.c".into())));
        assert_eq!(f.renamed_from.as_deref(), Some("mail"));
        let f = parse("author:references?:on_delete=set_null");
        assert_eq!(f.on_delete, Some(OnDelete::SetNull));
        assert_eq!(f.column(), "author_id");
    }

    #[test]
    fn default_keeps_colons() {
        let f = parse("opens_at:time:default=09:30:00:index");
        assert_eq!(f.default, Some(DefaultValue::Text("09:30:00".into())));
        assert!(f.index);
    }

    #[test]
    fn round_trips_through_display() {
        for s in [
            "title:string(200)",
            "bio:text?",
            "price:decimal(10,2):default=0",
            "author:references:on_delete=cascade",
            "writer:references(author)?:on_delete=set_null",
            "opens_at:time:default=09:30:00",
            "flag:bool:unique:index:default=true",
        ] {
            assert_eq!(parse(s).to_string(), s);
        }
    }

    #[test]
    fn errors_name_the_problem() {
        assert!(error("title:string").contains("`string` needs a maximum length"));
        assert!(error("title:strng(3)").contains("unknown type `strng`"));
        assert!(error("Title:text").contains("try `title`"));
        assert!(error("title").contains("has no type"));
        assert!(error("n:int:default=abc").contains("not a valid integer"));
        assert!(error("n:int:frob").contains("unknown modifier `frob`"));
        assert!(error("n:int:on_delete=cascade").contains("only applies to references"));
        assert!(error("a:references:on_delete=set_null").contains("nullable reference"));
        assert!(error("a:decimal").contains("precision and scale"));
        assert!(error("a:decimal(2,5)").contains("decimal(P,S)"));
        assert!(error("a:string(0)").contains("1 to 65535"));
        assert!(error("b:bytes:default=x").contains("cannot have a default"));
    }

    #[test]
    fn error_points_at_the_type() {
        let e = error("title:strng(3)");
        assert!(e.contains("title:strng(3)\n          ^^^^^^^^"), "{e}");
    }
}

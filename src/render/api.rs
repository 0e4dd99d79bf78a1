//! The API contract of a field: its OpenAPI schema and how lists may filter and sort by it.
//! Computed from the model alone, never from the backend, so that one model describes one
//! API on SQLite, PostgreSQL and MySQL alike (the generated `src/types.rs` enforces exactly
//! what these schemas say).

use crate::spec::{FieldSpec, FieldType};
use serde_json::{json, Value};

/// Text a column can hold on every backend: anything but U+0000, which PostgreSQL refuses.
pub const NO_NUL: &str = r"^[^\u0000]*$";
/// `HH:MM:SS`, fractions of a second allowed (and dropped).
const TIME: &str = r"([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,9})?";
/// `YYYY-MM-DD`, a real calendar date (month lengths, leap years of the proleptic Gregorian
/// calendar) from 0001-01-01 to 9999-12-31 (PostgreSQL has no year 0), so that every date
/// the document allows is one the server accepts.
const DATE: &str = concat!(
    r"((000[1-9]|00[1-9]\d|0[1-9]\d{2}|[1-9]\d{3})-",
    r"((0[13578]|1[02])-(0[1-9]|[12]\d|3[01])|(0[469]|11)-(0[1-9]|[12]\d|30)|02-(0[1-9]|1\d|2[0-8]))",
    r"|(\d{2}(0[48]|[2468][048]|[13579][26])|(0[48]|[2468][048]|[13579][26])00)-02-29)"
);
/// The largest single-precision float, as its shortest decimal (values up to it round to
/// `f32::MAX`).
pub const FLOAT_MAX: f64 = 3.402_823_5e38;

/// Filters are exact matches on types with one unambiguous text form.
pub fn filterable(ty: &FieldType) -> bool {
    !matches!(
        ty,
        FieldType::Float
            | FieldType::Double
            | FieldType::Decimal { .. }
            | FieldType::Json
            | FieldType::Bytes
    )
}

/// Every column but JSON and bytes can order a list.
pub fn sortable(ty: &FieldType) -> bool {
    !matches!(ty, FieldType::Json | FieldType::Bytes)
}

/// The regular expression a `decimal(precision, scale)` string matches.
pub fn decimal_pattern(precision: u32, scale: u32) -> String {
    let whole = if precision > scale {
        format!(r"\d{{1,{}}}", precision - scale)
    } else {
        "0".to_string()
    };
    if scale == 0 {
        format!("^-?{whole}$")
    } else {
        format!(r"^-?{whole}(\.\d{{1,{scale}}})?$")
    }
}

/// The OpenAPI schema of a field (without `nullable` and `example`, which the document
/// adds). `reference` is the referenced resource and table, for a reference.
pub fn field_schema(field: &FieldSpec, reference: Option<(&str, &str)>) -> Value {
    let mut schema = match &field.ty {
        FieldType::Int | FieldType::References { .. } => {
            json!({"type": "integer", "format": "int32", "minimum": i32::MIN, "maximum": i32::MAX})
        }
        FieldType::BigInt => {
            json!({"type": "integer", "format": "int64", "minimum": i64::MIN, "maximum": i64::MAX})
        }
        FieldType::SmallInt => {
            json!({"type": "integer", "format": "int32", "minimum": i16::MIN, "maximum": i16::MAX})
        }
        FieldType::Float => json!({
            "type": "number", "format": "float",
            "minimum": -FLOAT_MAX, "maximum": FLOAT_MAX,
            "description": "A single-precision number (about 7 significant digits)."
        }),
        FieldType::Double => json!({"type": "number", "format": "double"}),
        FieldType::Decimal { precision, scale } => json!({
            "type": "string", "format": "decimal",
            "pattern": decimal_pattern(*precision, *scale),
            "description": format!(
                "An exact decimal number, as a string: at most {} digits before the point and {scale} after. Returned with exactly {scale} digits after the point.",
                precision - scale
            )
        }),
        FieldType::Bool => json!({"type": "boolean"}),
        FieldType::String { max_length } => json!({
            "type": "string", "maxLength": max_length, "pattern": NO_NUL,
            "description": format!("Text of at most {max_length} characters, without U+0000.")
        }),
        FieldType::Text => json!({
            "type": "string", "pattern": NO_NUL, "description": "Text without U+0000."
        }),
        FieldType::Date => json!({
            "type": "string", "format": "date", "pattern": format!("^{DATE}$"),
            "description": "A calendar date, YYYY-MM-DD, from 0001-01-01 to 9999-12-31."
        }),
        FieldType::Time => json!({
            "type": "string", "pattern": format!("^{TIME}$"),
            "description": "A time of day, HH:MM:SS. A fraction of a second is accepted and dropped."
        }),
        FieldType::Datetime => json!({
            "type": "string", "pattern": format!("^{DATE}T{TIME}$"),
            "description": "A date and time without a time zone, YYYY-MM-DDTHH:MM:SS, years 0001 to 9999. A fraction of a second is accepted and dropped."
        }),
        FieldType::Timestamptz => json!({
            "type": "string", "format": "date-time",
            "pattern": format!(r"^{DATE}T{TIME}(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$"),
            "description": "An instant: RFC 3339 with `Z` or an offset, years 0001 to 9999 in UTC. Returned in UTC with `Z`; a fraction of a second is accepted and dropped."
        }),
        FieldType::Uuid => json!({
            "type": "string", "format": "uuid",
            "pattern": "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
            "description": "A UUID in its hyphenated form; returned in lower case."
        }),
        FieldType::Json => json!({
            "description": "Any JSON value; no string in it (key or value) may contain U+0000."
        }),
        FieldType::Bytes => json!({
            "type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 255},
            "description": "Bytes, as an array of numbers from 0 to 255."
        }),
    };
    if let Some((resource, table)) = reference {
        schema["description"] = json!(format!(
            "The id of the referenced {resource} (`GET /{table}/{{id}}`)."
        ));
    }
    schema
}

/// `schema` as a property of a body or a row.
pub fn property(schema: &Value, nullable: bool, example: Option<&Value>) -> Value {
    let mut property = schema.clone();
    if nullable {
        property["nullable"] = json!(true);
    }
    if let Some(example) = example {
        property["example"] = example.clone();
    }
    property
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_patterns_bound_both_sides_of_the_point() {
        assert_eq!(decimal_pattern(12, 2), r"^-?\d{1,10}(\.\d{1,2})?$");
        assert_eq!(decimal_pattern(5, 0), r"^-?\d{1,5}$");
        assert_eq!(decimal_pattern(3, 3), r"^-?0(\.\d{1,3})?$");
    }

    /// The date pattern accepts exactly the dates chrono (and so the server) accepts.
    #[test]
    fn the_date_pattern_is_the_calendar() {
        let pattern = regex::Regex::new(&format!("^{DATE}$")).expect("valid regex");
        let mut checked = 0;
        for year in [
            0, 1, 4, 100, 400, 1900, 1999, 2000, 2023, 2024, 2100, 9996, 9999,
        ] {
            for month in 0..=13 {
                for day in 0..=32 {
                    let text = format!("{year:04}-{month:02}-{day:02}");
                    let real =
                        year > 0 && chrono::NaiveDate::from_ymd_opt(year, month, day).is_some();
                    assert_eq!(pattern.is_match(&text), real, "{text}");
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 13 * 14 * 33);
    }

    #[test]
    fn decimals_are_strings_with_their_digits_in_the_pattern() {
        let field = FieldSpec::parse("price:decimal(8,2)").expect("valid");
        let schema = field_schema(&field, None);
        assert_eq!(schema["type"], "string");
        assert_eq!(schema["pattern"], r"^-?\d{1,6}(\.\d{1,2})?$");
    }
}

//! What to do about a change the diff will not make on its own: the command layer's words
//! (flags, `dieselkit.toml` syntax) for the diff's typed [`Problem`]s.

use crate::diff::Problem;
use crate::spec::names::singular;

/// The problem and what to do about it, as `generate`, `check` and adoption report it.
pub fn problem(p: &Problem) -> String {
    let what = p.describe();
    match p {
        Problem::DropTable {
            table,
            rename_candidate: Some(new),
        } => format!(
            "{what}; if `{new}` is `{table}` renamed, add `renamed_from = \"{}\"` to resource `{}` in dieselkit.toml; otherwise pass `--allow-drop`",
            singular(table),
            singular(new)
        ),
        Problem::DropColumn {
            column,
            rename_candidate: Some(new),
            ..
        } => format!(
            "{what}; if `{new}` is `{column}` renamed, add `:renamed_from={column}` to its field spec; otherwise pass `--allow-drop`"
        ),
        Problem::DropTable { .. } | Problem::DropColumn { .. } => {
            format!("{what}; pass `--allow-drop` to confirm")
        }
        Problem::NotNullWithoutDefault { table, column } => format!(
            "{what}: add `:default=VALUE` to the field, make it nullable (`?`), or give a backfill, an SQL expression: `--backfill \"{table}.{column}='UTC'\"` (keep the double quotes: they carry the SQL quotes through the shell)"
        ),
        Problem::BecomesNotNull { table, column } => format!(
            "{what}: add `:default=VALUE` or give a backfill, an SQL expression: `--backfill \"{table}.{column}=SQL\"`"
        ),
    }
}

/// Problems as an indented list, one per line.
pub fn list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  - {}", problem(p)))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_name_the_rename_that_would_keep_the_data() {
        let column = Problem::DropColumn {
            table: "authors".into(),
            column: "name".into(),
            rename_candidate: Some("full_name".into()),
        };
        assert_eq!(
            problem(&column),
            "column `authors.name` is gone from the model, which drops it and its data; if `full_name` is `name` renamed, add `:renamed_from=name` to its field spec; otherwise pass `--allow-drop`"
        );
        let table = Problem::DropTable {
            table: "authors".into(),
            rename_candidate: Some("writers".into()),
        };
        assert!(problem(&table)
            .contains("add `renamed_from = \"author\"` to resource `writer` in dieselkit.toml"));
        let plain = Problem::DropTable {
            table: "authors".into(),
            rename_candidate: None,
        };
        assert!(problem(&plain).ends_with("; pass `--allow-drop` to confirm"));
    }

    #[test]
    fn not_null_problems_show_the_backfill_flag() {
        let added = Problem::NotNullWithoutDefault {
            table: "authors".into(),
            column: "timezone".into(),
        };
        assert!(problem(&added).contains("--backfill \"authors.timezone='UTC'\""));
        let tightened = Problem::BecomesNotNull {
            table: "authors".into(),
            column: "bio".into(),
        };
        assert!(problem(&tightened).contains("--backfill \"authors.bio=SQL\""));
    }
}

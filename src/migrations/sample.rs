//! Sample rows for `migrate verify`: one row in every table (parents first, references
//! pointing at a parent row), so each migration is replayed over tables that hold data,
//! children and grandchildren included, and a lost row is noticed.

use crate::schema::{Column, SqlType, Table};
use crate::spec::Backend;
use crate::sql::quote_literal;

/// The SQL literal (or subquery) for `column` of `table` in sample row number `n`.
/// References point at the newest row of the referenced table; other values differ per `n`,
/// so unique indexes hold.
pub fn value(table: &Table, column: &Column, backend: Backend, n: u32) -> String {
    if let Some(fk) = table.foreign_keys.iter().find(|f| f.column == column.name) {
        return format!("(SELECT MAX({}) FROM {})", fk.ref_column, fk.ref_table);
    }
    let text = |s: String| quote_literal(&s, backend);
    let unique = table
        .indexes
        .iter()
        .any(|i| i.unique && i.columns == [column.name.clone()]);
    match &column.sql_type {
        // 1 unless the column is unique: every table's first sample row has id 1, so an
        // integer column that later gets a foreign key still references a row.
        SqlType::Integer | SqlType::BigInt | SqlType::SmallInt if !unique => "1".into(),
        SqlType::Integer | SqlType::BigInt => n.to_string(),
        // SMALLINT may be as narrow as 16 bits.
        SqlType::SmallInt => (n % 30_000).to_string(),
        SqlType::Float | SqlType::Double => format!("{n}.5"),
        SqlType::Decimal { precision, scale } => {
            let digits = precision.saturating_sub(*scale).min(9);
            let max = 10u64.pow(digits).saturating_sub(1).max(1);
            (u64::from(n) % max).to_string()
        }
        SqlType::Bool => "TRUE".into(),
        SqlType::Varchar { max_length } => {
            let mut s = format!("r{n}");
            s.truncate((*max_length).max(1) as usize);
            text(s)
        }
        SqlType::Text => text(format!("row {n}")),
        SqlType::Date => text(day(n)),
        SqlType::Time => text(format!("{:02}:{:02}:00", (n / 60) % 24, n % 60)),
        SqlType::Timestamp | SqlType::Timestamptz => text(format!("{} 12:00:00", day(n))),
        SqlType::Uuid => text(format!("00000000-0000-4000-8000-{n:012}")),
        SqlType::Json => text(format!("{{\"row\": {n}}}")),
        SqlType::Binary => crate::dialect::of(backend).binary_literal((n % 256) as u8),
    }
}

/// Day `n` after 2024-01-01, as `YYYY-MM-DD`.
fn day(n: u32) -> String {
    let start = chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap_or_default();
    (start + chrono::Days::new(u64::from(n)))
        .format("%Y-%m-%d")
        .to_string()
}

/// The INSERT for sample row `n` of `table` (every column but an auto-increment key).
pub fn insert(table: &Table, backend: Backend, n: u32) -> String {
    let columns: Vec<&Column> = table.columns.iter().filter(|c| !c.primary_key).collect();
    if columns.is_empty() {
        return crate::dialect::of(backend).insert_defaults(&table.name);
    }
    format!(
        "INSERT INTO {} ({}) VALUES ({})",
        table.name,
        columns
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        columns
            .iter()
            .map(|c| value(table, c, backend, n))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::ForeignKey;
    use crate::spec::OnDelete;

    fn column(name: &str, sql_type: SqlType) -> Column {
        Column {
            name: name.into(),
            sql_type,
            nullable: false,
            primary_key: name == "id",
            default: None,
        }
    }

    #[test]
    fn sample_rows_fit_their_columns_and_reference_a_parent() {
        let table = Table {
            name: "books".into(),
            columns: vec![
                column("id", SqlType::Integer),
                column("isbn", SqlType::Varchar { max_length: 2 }),
                column(
                    "price",
                    SqlType::Decimal {
                        precision: 3,
                        scale: 2,
                    },
                ),
                column("on", SqlType::Date),
                column("author_id", SqlType::Integer),
            ],
            indexes: vec![],
            foreign_keys: vec![ForeignKey {
                name: "fk".into(),
                column: "author_id".into(),
                ref_table: "authors".into(),
                ref_column: "id".into(),
                on_delete: OnDelete::Cascade,
            }],
        };
        assert_eq!(
            insert(&table, Backend::Sqlite, 40),
            "INSERT INTO books (isbn, price, on, author_id) VALUES ('r4', 4, '2024-02-10', (SELECT MAX(id) FROM authors))"
        );
    }
}

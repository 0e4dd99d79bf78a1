//! `dieselkit lint`: rules over migration SQL that flag operations dangerous on a live
//! database. Each rule has an id, a severity, a message and a fix. A comment
//! `-- dieselkit:allow RULE` (id or name) in a statement suppresses that rule for it.

use crate::migrations::source::MigrationFile;
use crate::migrations::split;
use crate::spec::Backend;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub rule: &'static str,
    pub name: &'static str,
    pub severity: Severity,
    pub file: String,
    pub line: usize,
    pub message: String,
    pub fix: &'static str,
}

struct Rule {
    id: &'static str,
    name: &'static str,
    severity: Severity,
    fix: &'static str,
}

const DROP_TABLE: Rule = Rule { id: "DK001", name: "drop-table", severity: Severity::Error, fix: "make sure no code or backup process still needs the table; add `-- dieselkit:allow drop-table` to the statement once reviewed" };
const DROP_COLUMN: Rule = Rule { id: "DK002", name: "drop-column", severity: Severity::Error, fix: "deploy code that no longer reads the column first; add `-- dieselkit:allow drop-column` once reviewed" };
const RENAME: Rule = Rule { id: "DK003", name: "rename", severity: Severity::Warning, fix: "running code still uses the old name until it is redeployed: deploy the code change together with the migration, or add the new column, copy, and drop the old one later" };
const NOT_NULL_NO_DEFAULT: Rule = Rule { id: "DK004", name: "not-null-without-default", severity: Severity::Error, fix: "add a DEFAULT, or add the column nullable, backfill it, then SET NOT NULL (`dieselkit generate field ... --backfill`)" };
const TYPE_CHANGE: Rule = Rule { id: "DK005", name: "type-change", severity: Severity::Warning, fix: "a type change rewrites the table and may narrow values; check the cast on a copy of production data" };
const INDEX_NOT_CONCURRENT: Rule = Rule { id: "DK006", name: "index-not-concurrently", severity: Severity::Warning, fix: "use CREATE INDEX CONCURRENTLY in a migration with `run_in_transaction = false` in its metadata.toml, so writes are not blocked" };
const FK_NOT_VALID: Rule = Rule { id: "DK007", name: "foreign-key-not-valid", severity: Severity::Warning, fix: "add the constraint with NOT VALID, then VALIDATE CONSTRAINT in a later migration, so the table is not locked while existing rows are checked" };
const MISSING_DOWN: Rule = Rule { id: "DK008", name: "missing-down", severity: Severity::Error, fix: "write down.sql so the migration can be reverted (and verified with `dieselkit migrate verify`)" };
const NON_TRANSACTIONAL: Rule = Rule { id: "DK009", name: "non-transactional-in-transaction", severity: Severity::Error, fix: "this statement cannot run inside a transaction: put it in its own migration with `run_in_transaction = false` in metadata.toml" };

fn allowed(sql: &str, rule: &Rule) -> bool {
    sql.lines().any(|l| {
        let l = l.trim();
        l.starts_with("--")
            && l.contains("dieselkit:allow")
            && (l.contains(rule.id) || l.contains(rule.name))
    })
}

fn words(sql: &str) -> String {
    split::without_leading_comments(sql)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_uppercase()
}

/// Tables created earlier in the same migration (changes to them are harmless).
fn created_tables(statements: &[split::Statement]) -> Vec<String> {
    statements
        .iter()
        .filter_map(|s| {
            let w = words(&s.sql);
            w.strip_prefix("CREATE TABLE ")
                .or_else(|| w.strip_prefix("CREATE TEMP TABLE "))
                .or_else(|| w.strip_prefix("CREATE TEMPORARY TABLE "))
                .map(|rest| {
                    rest.trim_start_matches("IF NOT EXISTS ")
                        .split([' ', '('])
                        .next()
                        .unwrap_or("")
                        .to_ascii_lowercase()
                })
        })
        .collect()
}

fn target_table(w: &str, after: &str) -> Option<String> {
    let rest = &w[w.find(after)? + after.len()..];
    Some(
        rest.trim_start_matches("ONLY ")
            .split([' ', '('])
            .next()?
            .to_ascii_lowercase(),
    )
}

pub fn lint_migration(m: &MigrationFile, backend: Backend) -> Vec<Finding> {
    let mut out = Vec::new();
    let dialect = crate::dialect::of(backend);
    let up_path = m.dir.join("up.sql").display().to_string();
    let statements = split::split(&m.up);
    let created = created_tables(&statements);
    // SQLite table rebuilds (create `t__dieselkit_new`, copy, drop `t`, rename) keep the rows.
    let rebuilt: Vec<String> = statements
        .iter()
        .filter_map(|s| {
            let w = words(&s.sql);
            let rest = w.strip_prefix("ALTER TABLE ")?;
            let (tmp, target) = rest.split_once(" RENAME TO ")?;
            (tmp.to_ascii_lowercase()
                == format!(
                    "{}{}",
                    target.trim().to_ascii_lowercase(),
                    crate::sql::REBUILD_SUFFIX
                ))
            .then(|| target.trim().to_ascii_lowercase())
        })
        .collect();
    let mut push = |rule: &Rule, line: usize, message: String, sql: &str| {
        if !allowed(sql, rule) {
            out.push(Finding {
                rule: rule.id,
                name: rule.name,
                severity: rule.severity,
                file: up_path.clone(),
                line,
                message,
                fix: rule.fix,
            });
        }
    };
    for s in &statements {
        let w = words(&s.sql);
        let is_new = |table: Option<String>| table.is_some_and(|t| created.contains(&t));
        let dropped = target_table(&w, "DROP TABLE ");
        if w.starts_with("DROP TABLE")
            && !rebuilt.contains(&dropped.clone().unwrap_or_default())
            && !is_new(dropped)
        {
            push(
                &DROP_TABLE,
                s.line,
                format!("`{}` deletes a table and all its rows", first_line(&s.sql)),
                &s.sql,
            );
        }
        if w.starts_with("ALTER TABLE")
            && w.contains(" DROP COLUMN ")
            && !is_new(target_table(&w, "ALTER TABLE "))
        {
            push(
                &DROP_COLUMN,
                s.line,
                format!("`{}` deletes a column and its data", first_line(&s.sql)),
                &s.sql,
            );
        }
        if (w.starts_with("ALTER TABLE")
            && (w.contains(" RENAME COLUMN ") || w.contains(" RENAME TO "))
            || w.starts_with("RENAME TABLE "))
            && !w.contains("__DIESELKIT_NEW")
        {
            push(
                &RENAME,
                s.line,
                format!(
                    "`{}` renames while deployed code may still use the old name",
                    first_line(&s.sql)
                ),
                &s.sql,
            );
        }
        if w.starts_with("ALTER TABLE")
            && w.contains(" ADD COLUMN ")
            && w.contains(" NOT NULL")
            && !w.contains(" DEFAULT ")
            && !is_new(target_table(&w, "ALTER TABLE "))
        {
            push(
                &NOT_NULL_NO_DEFAULT,
                s.line,
                format!(
                    "`{}` adds a NOT NULL column without a default to a table that may hold rows",
                    first_line(&s.sql)
                ),
                &s.sql,
            );
        }
        if w.starts_with("ALTER TABLE")
            && (w.contains(" TYPE ") && w.contains(" ALTER COLUMN ")
                || w.contains(" MODIFY COLUMN "))
            && !is_new(target_table(&w, "ALTER TABLE "))
        {
            push(
                &TYPE_CHANGE,
                s.line,
                format!(
                    "`{}` changes a column definition and may rewrite or narrow it",
                    first_line(&s.sql)
                ),
                &s.sql,
            );
        }
        if dialect.concurrent_indexes()
            && w.starts_with("CREATE")
            && w.contains(" INDEX ")
            && !w.contains(" CONCURRENTLY ")
            && !is_new(target_table(&w, " ON "))
        {
            push(
                &INDEX_NOT_CONCURRENT,
                s.line,
                format!(
                    "`{}` locks the table against writes while the index builds",
                    first_line(&s.sql)
                ),
                &s.sql,
            );
        }
        if dialect.deferred_foreign_key_validation()
            && w.starts_with("ALTER TABLE")
            && w.contains(" FOREIGN KEY ")
            && !w.contains(" NOT VALID")
            && !is_new(target_table(&w, "ALTER TABLE "))
        {
            push(
                &FK_NOT_VALID,
                s.line,
                format!(
                    "`{}` validates every existing row while holding a lock",
                    first_line(&s.sql)
                ),
                &s.sql,
            );
        }
        let non_tx = w.contains(" CONCURRENTLY ")
            || w.starts_with("VACUUM")
            || (w.starts_with("ALTER TYPE") && w.contains(" ADD VALUE"));
        if m.run_in_transaction && non_tx {
            push(
                &NON_TRANSACTIONAL,
                s.line,
                format!(
                    "`{}` cannot run inside the migration's transaction",
                    first_line(&s.sql)
                ),
                &s.sql,
            );
        }
    }
    let down_empty = m.down.as_deref().is_none_or(|d| split::split(d).is_empty());
    if down_empty && !allowed(&m.up, &MISSING_DOWN) {
        out.push(Finding {
            rule: MISSING_DOWN.id,
            name: MISSING_DOWN.name,
            severity: MISSING_DOWN.severity,
            file: m.dir.join("down.sql").display().to_string(),
            line: 1,
            message: "the migration has no down.sql (or it is empty), so it cannot be reverted"
                .into(),
            fix: MISSING_DOWN.fix,
        });
    }
    out
}

fn first_line(sql: &str) -> String {
    let code = split::without_leading_comments(sql);
    let mut line: String = code.lines().next().unwrap_or("").chars().take(80).collect();
    if code.lines().count() > 1 || code.chars().count() > 80 {
        line.push_str(" ...");
    }
    line
}

pub fn render(findings: &[Finding]) -> String {
    let mut out = String::new();
    for f in findings {
        out.push_str(&format!(
            "{}[{} {}] {}:{}: {}\n    fix: {}\n",
            match f.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            },
            f.rule,
            f.name,
            f.file,
            f.line,
            f.message,
            f.fix
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(up: &str, down: Option<&str>, tx: bool) -> MigrationFile {
        MigrationFile {
            name: "2024-01-01-000000_x".into(),
            version: "20240101000000".into(),
            dir: "migrations/2024-01-01-000000_x".into(),
            up: up.into(),
            down: down.map(str::to_string),
            run_in_transaction: tx,
            checksum: String::new(),
            text_checksum: String::new(),
            squash_replaces: Vec::new(),
            squash_checksums: Vec::new(),
            lineage: None,
        }
    }
    fn rules(up: &str, backend: Backend) -> Vec<&'static str> {
        lint_migration(&m(up, Some("SELECT 1;"), true), backend)
            .iter()
            .map(|f| f.name)
            .collect()
    }

    #[test]
    fn flags_each_case() {
        assert_eq!(rules("DROP TABLE users;", Backend::Sqlite), ["drop-table"]);
        assert_eq!(
            rules("ALTER TABLE users DROP COLUMN age;", Backend::Sqlite),
            ["drop-column"]
        );
        assert_eq!(
            rules(
                "ALTER TABLE users RENAME COLUMN age TO years_old;",
                Backend::Sqlite
            ),
            ["rename"]
        );
        assert_eq!(
            rules("ALTER TABLE users RENAME TO members;", Backend::Postgres),
            ["rename"]
        );
        assert_eq!(
            rules("RENAME TABLE users TO members;", Backend::Mysql),
            ["rename"]
        );
        assert_eq!(
            rules(
                "ALTER TABLE users ADD COLUMN tz VARCHAR(64) NOT NULL;",
                Backend::Sqlite
            ),
            ["not-null-without-default"]
        );
        assert_eq!(
            rules(
                "ALTER TABLE users ALTER COLUMN age TYPE BIGINT USING age::BIGINT;",
                Backend::Postgres
            ),
            ["type-change"]
        );
        assert_eq!(
            rules("CREATE INDEX i ON users (email);", Backend::Postgres),
            ["index-not-concurrently"]
        );
        assert_eq!(
            rules(
                "ALTER TABLE books ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES authors (id);",
                Backend::Postgres
            ),
            ["foreign-key-not-valid"]
        );
        assert_eq!(
            rules(
                "CREATE INDEX CONCURRENTLY i ON users (email);",
                Backend::Postgres
            ),
            ["non-transactional-in-transaction"]
        );
        let missing = lint_migration(&m("SELECT 1;", None, true), Backend::Sqlite);
        assert_eq!(missing[0].name, "missing-down");
    }

    #[test]
    fn quiet_on_clean_input() {
        assert!(rules("CREATE TABLE a (id INTEGER PRIMARY KEY);\nCREATE INDEX i ON a (id);\nALTER TABLE users ADD COLUMN nick VARCHAR(20);\nALTER TABLE users ADD COLUMN tz VARCHAR(64) NOT NULL DEFAULT 'UTC';", Backend::Postgres).is_empty());
        assert!(lint_migration(
            &m(
                "CREATE INDEX CONCURRENTLY i ON users (email);",
                Some("DROP INDEX i;"),
                false
            ),
            Backend::Postgres
        )
        .is_empty());
    }

    #[test]
    fn allow_comment_suppresses() {
        assert!(rules(
            "-- dieselkit:allow drop-table\nDROP TABLE users;",
            Backend::Sqlite
        )
        .is_empty());
        let rebuild = "CREATE TABLE users__dieselkit_new (id INTEGER);\nINSERT INTO users__dieselkit_new (id) SELECT id FROM users;\nDROP TABLE users;\nALTER TABLE users__dieselkit_new RENAME TO users;";
        assert!(
            rules(rebuild, Backend::Sqlite).is_empty(),
            "a rebuild keeps the rows"
        );
        assert!(rules(
            "-- dieselkit:allow DK002\nALTER TABLE users DROP COLUMN age;",
            Backend::Sqlite
        )
        .is_empty());
    }
}

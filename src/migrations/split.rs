//! Split a migration file into statements, keeping each statement's line number, so a
//! failure can name the statement that failed. Understands quotes, comments and
//! PostgreSQL dollar quoting; a file it cannot split safely (SQLite triggers with
//! `BEGIN ... END` bodies) is returned as one statement.

/// One statement and the 1-based line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub line: usize,
    pub sql: String,
}

/// The statement without the comments before it (for messages).
pub fn without_leading_comments(sql: &str) -> &str {
    let mut rest = sql.trim_start();
    loop {
        if let Some(after) = rest.strip_prefix("--") {
            rest = after
                .split_once('\n')
                .map(|(_, r)| r)
                .unwrap_or("")
                .trim_start();
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after
                .split_once("*/")
                .map(|(_, r)| r)
                .unwrap_or("")
                .trim_start();
        } else {
            return rest;
        }
    }
}

fn is_only_comments(sql: &str) -> bool {
    without_leading_comments(sql).trim_end().is_empty()
}

/// The line of the first character that is not whitespace or comment.
fn first_code_line(sql: &str, start_line: usize) -> usize {
    let mut line = start_line;
    let mut rest = sql;
    loop {
        let trimmed = rest.trim_start();
        line += rest[..rest.len() - trimmed.len()].matches('\n').count();
        rest = trimmed;
        if let Some(after) = rest.strip_prefix("--") {
            match after.split_once('\n') {
                Some((_, r)) => {
                    line += 1;
                    rest = r;
                }
                None => return line,
            }
        } else if let Some(after) = rest.strip_prefix("/*") {
            match after.split_once("*/") {
                Some((comment, r)) => {
                    line += comment.matches('\n').count();
                    rest = r;
                }
                None => return line,
            }
        } else {
            return line;
        }
    }
}

pub fn split(sql: &str) -> Vec<Statement> {
    let upper = sql.to_ascii_uppercase();
    if upper.contains("CREATE TRIGGER") && !sql.contains('$') {
        // SQLite/MySQL trigger bodies contain `;` inside BEGIN ... END.
        return if is_only_comments(sql) {
            vec![]
        } else {
            vec![Statement {
                line: first_code_line(sql, 1),
                sql: sql.trim().to_string(),
            }]
        };
    }
    let chars: Vec<char> = sql.chars().collect();
    let mut out = Vec::new();
    let mut current = String::new();
    let mut start_line = 1;
    let mut line = 1;
    let mut i = 0;
    let push = |current: &mut String, start_line: usize, out: &mut Vec<Statement>| {
        if !is_only_comments(current) {
            out.push(Statement {
                line: first_code_line(current, start_line),
                sql: current.trim().to_string(),
            });
        }
        current.clear();
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\'' | '"' | '`' => {
                current.push(c);
                i += 1;
                while i < chars.len() {
                    let d = chars[i];
                    current.push(d);
                    if d == '\n' {
                        line += 1;
                    }
                    i += 1;
                    if d == c {
                        // A doubled quote is an escaped quote.
                        if i < chars.len() && chars[i] == c {
                            current.push(c);
                            i += 1;
                            continue;
                        }
                        break;
                    }
                    if d == '\\' && c == '\'' && i < chars.len() {
                        current.push(chars[i]);
                        i += 1;
                    }
                }
            }
            '-' if chars.get(i + 1) == Some(&'-') => {
                while i < chars.len() && chars[i] != '\n' {
                    current.push(chars[i]);
                    i += 1;
                }
            }
            '/' if chars.get(i + 1) == Some(&'*') => {
                while i < chars.len() {
                    if chars[i] == '\n' {
                        line += 1;
                    }
                    current.push(chars[i]);
                    if chars[i] == '/' && i > 0 && chars[i - 1] == '*' && current.len() > 2 {
                        i += 1;
                        break;
                    }
                    i += 1;
                }
            }
            '$' => {
                // $tag$ ... $tag$ (PostgreSQL dollar quoting)
                let mut j = i + 1;
                while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '_') {
                    j += 1;
                }
                if j < chars.len() && chars[j] == '$' {
                    let tag: String = chars[i..=j].iter().collect();
                    current.push_str(&tag);
                    i = j + 1;
                    let rest: String = chars[i..].iter().collect();
                    match rest.find(&tag) {
                        Some(end) => {
                            let body = &rest[..end + tag.len()];
                            line += body.matches('\n').count();
                            current.push_str(body);
                            i += body.chars().count();
                        }
                        None => {
                            line += rest.matches('\n').count();
                            current.push_str(&rest);
                            i = chars.len();
                        }
                    }
                } else {
                    current.push(c);
                    i += 1;
                }
            }
            ';' => {
                push(&mut current, start_line, &mut out);
                start_line = line;
                i += 1;
            }
            _ => {
                if c == '\n' {
                    line += 1;
                }
                current.push(c);
                i += 1;
            }
        }
    }
    push(&mut current, start_line, &mut out);
    out
}

/// A statement's code without comments, whitespace or a trailing `;`, in upper case (to
/// recognise fixed statements such as `BEGIN` however they are written).
fn shape(statement: &Statement) -> String {
    without_leading_comments(&statement.sql)
        .trim_end_matches(';')
        .split_whitespace()
        .collect::<String>()
        .to_ascii_uppercase()
}

/// For a SQLite migration that switches foreign keys off around its own transaction
/// (`PRAGMA foreign_keys = OFF; BEGIN; ...; COMMIT; PRAGMA foreign_keys = ON;`, the
/// procedure SQLite documents for table rebuilds, which dieselkit writes), the statements
/// inside the transaction. None for any other file.
pub fn foreign_keys_off_body(sql: &str) -> Option<Vec<Statement>> {
    let mut all = split(sql);
    let n = all.len();
    if n < 4 {
        return None;
    }
    let off = matches!(
        shape(&all[0]).as_str(),
        "PRAGMAFOREIGN_KEYS=OFF" | "PRAGMAFOREIGN_KEYS=0" | "PRAGMAFOREIGN_KEYS=FALSE"
    );
    let begin = matches!(
        shape(&all[1]).as_str(),
        "BEGIN"
            | "BEGINTRANSACTION"
            | "BEGINIMMEDIATE"
            | "BEGINIMMEDIATETRANSACTION"
            | "BEGINEXCLUSIVE"
            | "BEGINEXCLUSIVETRANSACTION"
            | "BEGINDEFERRED"
            | "BEGINDEFERREDTRANSACTION"
    );
    let commit = matches!(
        shape(&all[n - 2]).as_str(),
        "COMMIT" | "COMMITTRANSACTION" | "END" | "ENDTRANSACTION"
    );
    let on = matches!(
        shape(&all[n - 1]).as_str(),
        "PRAGMAFOREIGN_KEYS=ON" | "PRAGMAFOREIGN_KEYS=1" | "PRAGMAFOREIGN_KEYS=TRUE"
    );
    if !(off && begin && commit && on) {
        return None;
    }
    all.truncate(n - 2);
    all.drain(..2);
    Some(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqls(text: &str) -> Vec<(usize, String)> {
        split(text).into_iter().map(|s| (s.line, s.sql)).collect()
    }

    #[test]
    fn splits_with_lines() {
        let text = "CREATE TABLE a (id INT);\n\n-- note; not a statement\nINSERT INTO a VALUES (1);\nINSERT INTO a\n  VALUES (2)";
        assert_eq!(
            sqls(text),
            vec![
                (1, "CREATE TABLE a (id INT)".into()),
                (
                    4,
                    "-- note; not a statement\nINSERT INTO a VALUES (1)".into()
                ),
                (5, "INSERT INTO a\n  VALUES (2)".into()),
            ]
        );
    }

    #[test]
    fn keeps_quoted_semicolons() {
        let text = "INSERT INTO t VALUES ('a;b', 'it''s; fine');\nSELECT \"x;y\" FROM t;";
        assert_eq!(split(text).len(), 2);
        assert!(split(text)[0].sql.contains("it''s; fine"));
    }

    #[test]
    fn keeps_dollar_quoted_bodies() {
        let text = "CREATE FUNCTION f() RETURNS VOID AS $$\nBEGIN\n  PERFORM 1;\nEND;\n$$ LANGUAGE plpgsql;\nSELECT f();";
        let s = split(text);
        assert_eq!(s.len(), 2);
        assert_eq!(s[1].line, 6);
        assert!(s[0].sql.ends_with("LANGUAGE plpgsql"));
    }

    #[test]
    fn comments_only_is_empty() {
        assert!(split("-- nothing\n/* at all; */\n").is_empty());
    }

    #[test]
    fn sqlite_triggers_stay_whole() {
        let text = "CREATE TRIGGER t AFTER UPDATE ON a BEGIN UPDATE a SET x = 1; END;";
        assert_eq!(split(text).len(), 1);
    }

    #[test]
    fn recognises_a_foreign_keys_off_transaction() {
        let sql = "-- note\npragma Foreign_Keys=off;\nBEGIN IMMEDIATE;\nDROP TABLE a;\nALTER TABLE b RENAME TO a;\ncommit;\nPRAGMA foreign_keys = ON;\n";
        let body = foreign_keys_off_body(sql).expect("recognised");
        assert_eq!(
            body.iter()
                .map(|s| (s.line, s.sql.as_str()))
                .collect::<Vec<_>>(),
            [(4, "DROP TABLE a"), (5, "ALTER TABLE b RENAME TO a")]
        );
        assert_eq!(
            foreign_keys_off_body("BEGIN;\nDROP TABLE a;\nCOMMIT;\nPRAGMA foreign_keys = ON;"),
            None
        );
        assert_eq!(foreign_keys_off_body("PRAGMA foreign_keys = OFF;\nDROP TABLE a;\nDROP TABLE b;\nPRAGMA foreign_keys = ON;"), None);
    }
}

//! Operations to SQL, per backend. Each backend is a renderer of the same [`Op`]s; there
//! is no second code path for "initial" SQL.

mod sqlite;

use crate::diff::Op;
use crate::spec::Backend;

/// The SQL statements (without trailing `;`) that perform `op`.
pub fn statements(op: &Op, backend: Backend) -> Vec<String> {
    match backend {
        Backend::Sqlite => sqlite::statements(op),
        // Model validation refuses these backends until their renderers exist.
        Backend::Postgres | Backend::Mysql => vec![format!(
            "-- dieselkit: the {backend} renderer is not available in this version"
        )],
    }
}

/// A migration's up.sql and down.sql for a list of operations: down.sql undoes the
/// operations in reverse order.
pub fn up_and_down(ops: &[Op], backend: Backend) -> (String, String) {
    let render = |ops: &mut dyn Iterator<Item = Op>| {
        let mut text = String::new();
        for op in ops {
            for statement in statements(&op, backend) {
                text.push_str(&statement);
                text.push_str(";\n");
            }
        }
        text
    };
    let up = render(&mut ops.iter().cloned());
    let down = render(&mut ops.iter().rev().map(Op::inverse));
    (up, down)
}

/// Quote a string literal for SQL (standard doubling of single quotes).
pub fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

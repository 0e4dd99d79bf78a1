//! Our own view of the migrations directory: Diesel's layout
//! (`<version>_<name>/{up.sql,down.sql,metadata.toml}`), read with the SQL text, so we can
//! checksum, preview, lint and verify. Duplicate versions are an error here; Diesel
//! silently keeps one of them.

use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationFile {
    /// Directory name: `2024-01-15-093000_create_authors`.
    pub name: String,
    /// Diesel's version: the part before the first `_`, without `-`.
    pub version: String,
    pub dir: PathBuf,
    pub up: String,
    /// None when down.sql is missing.
    pub down: Option<String>,
    pub run_in_transaction: bool,
    /// SHA-256 of up.sql's code: comments and whitespace do not count (see [`checksum`]).
    pub checksum: String,
    /// SHA-256 of up.sql's text, for `--strict` (see [`text_checksum`]); also what 0.1
    /// recorded as the checksum.
    pub text_checksum: String,
    /// For a baseline written by `dieselkit migrate squash` (`[squash]` in metadata.toml):
    /// the versions of the other migrations it replaces (a database that applied them
    /// needs nothing of it), and the checksums recorded for the migration whose version it
    /// took, which count as its own.
    pub squash_replaces: Vec<String>,
    pub squash_checksums: Vec<String>,
    /// `[dieselkit]` in metadata.toml, for migrations dieselkit generated: what they were
    /// generated on top of and what they change. None for hand-written ones.
    pub lineage: Option<Lineage>,
}

/// Where a generated migration comes from: `parent` is the version of the newest migration
/// there was when it was generated (empty for the first), `changes` what it changes
/// ([`crate::diff::Op::changes`]: `table` or `table.column`). Two migrations with the same
/// parent were written without seeing each other (on two branches); when their changes
/// overlap, `dieselkit check` says so.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Deserialize)]
pub struct Lineage {
    #[serde(default)]
    pub parent: String,
    #[serde(default)]
    pub changes: Vec<String>,
}

impl Lineage {
    /// The `[dieselkit]` table of metadata.toml.
    pub fn to_toml(&self) -> String {
        let quoted = |s: &str| toml_edit::Value::from(s).to_string();
        format!(
            "\n# Written by dieselkit: the migration this one was generated after, and what it\n# changes (`dieselkit check` compares migrations merged from two branches).\n[dieselkit]\nparent = {}\nchanges = [{}]\n",
            quoted(&self.parent),
            self.changes
                .iter()
                .map(|c| quoted(c))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }

    /// Whether two migrations' changes overlap: the same column, or a whole table and
    /// anything in it. The overlapping names, sorted.
    pub fn overlap(&self, other: &Lineage) -> Vec<String> {
        let table = |c: &str| c.split_once('.').map_or(c, |(t, _)| t).to_string();
        let mut out = std::collections::BTreeSet::new();
        for a in &self.changes {
            for b in &other.changes {
                let whole = !a.contains('.') || !b.contains('.');
                if a == b {
                    out.insert(a.clone());
                } else if whole && table(a) == table(b) {
                    out.insert(table(a));
                }
            }
        }
        out.into_iter().collect()
    }
}

/// Diesel's version of a migration directory name.
pub fn version_of(name: &str) -> String {
    name.split('_').next().unwrap_or(name).replace('-', "")
}

/// Checksum of a migration's code: comments do not count, and any run of whitespace
/// outside quotes counts as one space, so documenting an applied migration is not an edit.
pub fn checksum(sql: &str) -> String {
    crate::digest::sha256_hex(code_only(sql).as_bytes())
}

/// The SQL without comments, with whitespace outside quotes collapsed to single spaces.
/// Quoted strings, quoted identifiers and PostgreSQL dollar-quoted bodies are kept as they
/// are.
pub(crate) fn code_only(sql: &str) -> String {
    let chars: Vec<char> = sql.chars().collect();
    let mut out = String::with_capacity(sql.len());
    let mut pending_space = false;
    let mut i = 0;
    let push = |out: &mut String, text: &[char], pending_space: &mut bool| {
        if *pending_space && !out.is_empty() {
            out.push(' ');
        }
        *pending_space = false;
        out.extend(text);
    };
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            pending_space = true;
            i += 1;
        } else if c == '-' && chars.get(i + 1) == Some(&'-') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            pending_space = true;
        } else if c == '/' && chars.get(i + 1) == Some(&'*') {
            i += 2;
            while i < chars.len() && !(chars[i - 1] == '*' && chars[i] == '/') {
                i += 1;
            }
            i += 1;
            pending_space = true;
        } else if matches!(c, '\'' | '"' | '`') {
            let start = i;
            i += 1;
            while i < chars.len() {
                if chars[i] == c {
                    if chars.get(i + 1) == Some(&c) {
                        i += 2;
                        continue;
                    }
                    break;
                }
                if chars[i] == '\\' && c == '\'' {
                    i += 1;
                }
                i += 1;
            }
            i = (i + 1).min(chars.len());
            push(&mut out, &chars[start..i], &mut pending_space);
        } else if c == '$' {
            // `$tag$ ... $tag$` (PostgreSQL dollar quoting), else a plain `$`.
            let tag_end = chars[i + 1..]
                .iter()
                .position(|d| !(d.is_alphanumeric() || *d == '_'))
                .map(|p| i + 1 + p);
            match tag_end {
                Some(end) if chars[end] == '$' => {
                    let tag: Vec<char> = chars[i..=end].to_vec();
                    let body_end = (end + 1..chars.len())
                        .find(|&j| chars[j..].starts_with(&tag))
                        .map(|j| j + tag.len())
                        .unwrap_or(chars.len());
                    push(&mut out, &chars[i..body_end], &mut pending_space);
                    i = body_end;
                }
                _ => {
                    push(&mut out, &chars[i..=i], &mut pending_space);
                    i += 1;
                }
            }
        } else {
            push(&mut out, &chars[i..=i], &mut pending_space);
            i += 1;
        }
    }
    out
}

/// Checksum of a migration's text, insensitive only to line endings, trailing whitespace
/// and trailing blank lines (editors and git settings change those without changing
/// meaning): what `--strict` compares.
pub fn text_checksum(sql: &str) -> String {
    let normalized: Vec<&str> = sql
        .split('\n')
        .map(|l| l.trim_end_matches(['\r', ' ', '\t']))
        .collect();
    let mut text = normalized.join("\n");
    while text.ends_with('\n') {
        text.pop();
    }
    crate::digest::sha256_hex(text.as_bytes())
}

fn read(path: &Path) -> Result<String> {
    fs_err::read_to_string(path).map_err(|e| Error::ReadFile {
        path: path.to_path_buf(),
        error: e,
    })
}

#[derive(serde::Deserialize)]
struct Metadata {
    /// As Diesel reads it: a migration without metadata.toml runs in a transaction, but one
    /// whose metadata.toml does not say `run_in_transaction` does not.
    #[serde(default)]
    run_in_transaction: bool,
    #[serde(default)]
    squash: SquashMetadata,
    #[serde(default)]
    dieselkit: Option<Lineage>,
}

/// `[squash]` in a baseline's metadata.toml (Diesel ignores it).
#[derive(serde::Deserialize, Default)]
struct SquashMetadata {
    #[serde(default)]
    replaces: Vec<String>,
    #[serde(default)]
    checksums: Vec<String>,
}

/// One migration from its texts: the directory `path` (its name gives the version), up.sql,
/// down.sql and metadata.toml when they exist.
pub fn parse(
    path: &Path,
    up: String,
    down: Option<String>,
    metadata: Option<String>,
) -> Result<MigrationFile> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let version = version_of(&name);
    if version.is_empty() || !version.chars().all(|c| c.is_ascii_digit()) {
        return Err(Error::Migration(format!(
            "`{}`: a migration directory name must start with a version (`2024-01-15-093000_name`)",
            path.display()
        )));
    }
    let metadata = match metadata {
        Some(text) => toml::from_str::<Metadata>(&text).map_err(|e| Error::Toml {
            path: path.join("metadata.toml"),
            message: e.to_string(),
        })?,
        None => Metadata {
            run_in_transaction: true,
            squash: SquashMetadata::default(),
            dieselkit: None,
        },
    };
    Ok(MigrationFile {
        checksum: checksum(&up),
        text_checksum: text_checksum(&up),
        name,
        version,
        dir: path.to_path_buf(),
        up,
        down,
        run_in_transaction: metadata.run_in_transaction,
        squash_replaces: metadata.squash.replaces,
        squash_checksums: metadata.squash.checksums,
        lineage: metadata.dieselkit,
    })
}

/// The migration directories under `dir` (hidden ones aside), sorted.
fn migration_dirs(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut entries: Vec<PathBuf> = fs_err::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    entries.sort();
    Ok(entries)
}

/// The versions of the migrations under `dir`, from their directory names alone (none when
/// it cannot be read; a name without a version is left to [`load`] to report).
pub fn versions(dir: &Path) -> Vec<String> {
    migration_dirs(dir)
        .unwrap_or_default()
        .iter()
        .filter_map(|p| p.file_name())
        .map(|n| version_of(&n.to_string_lossy()))
        .filter(|v| !v.is_empty() && v.chars().all(|c| c.is_ascii_digit()))
        .collect()
}

/// Every migration under `dir`, sorted by version.
pub fn load(dir: &Path) -> Result<Vec<MigrationFile>> {
    if !dir.is_dir() {
        return Err(Error::NoMigrations {
            path: dir.to_path_buf(),
        });
    }
    let mut by_version: BTreeMap<String, MigrationFile> = BTreeMap::new();
    for path in migration_dirs(dir)? {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let up_path = path.join("up.sql");
        if !up_path.is_file() {
            return Err(Error::Migration(format!(
                "`{}` has no up.sql; every migration directory needs up.sql and down.sql",
                path.display()
            )));
        }
        let down_path = path.join("down.sql");
        let meta_path = path.join("metadata.toml");
        let file = parse(
            &path,
            read(&up_path)?,
            down_path.is_file().then(|| read(&down_path)).transpose()?,
            meta_path.is_file().then(|| read(&meta_path)).transpose()?,
        )?;
        let version = file.version.clone();
        if let Some(other) = by_version.insert(version.clone(), file) {
            return Err(Error::Migration(format!(
                "two migrations share version {version}: `{}` and `{name}`; Diesel would silently run only one. Rename one with a new version (`dieselkit` uses YYYY-MM-DD-HHMMSS)",
                other.name
            )));
        }
    }
    Ok(by_version.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_ignores_comments_and_whitespace_but_not_code_or_strings() {
        let a = checksum("CREATE TABLE a (id INT);\nINSERT INTO a VALUES ('x  -- y');\n");
        for same in [
            "-- why: the report needs it\nCREATE TABLE a (id INT); -- trailing\nINSERT INTO a VALUES ('x  -- y');",
            "CREATE  TABLE a\n  (id INT);\r\n/* block\ncomment */INSERT INTO a VALUES ('x  -- y');\n\n",
        ] {
            assert_eq!(a, checksum(same), "{same}");
        }
        for different in [
            "CREATE TABLE a (id BIGINT);\nINSERT INTO a VALUES ('x  -- y');",
            "CREATE TABLE a (id INT);\nINSERT INTO a VALUES ('x -- y');",
        ] {
            assert_ne!(a, checksum(different), "{different}");
        }
        let body = "CREATE FUNCTION f() RETURNS int AS $$ SELECT  1 -- one\n $$ LANGUAGE sql;";
        assert_ne!(
            checksum(body),
            checksum(&body.replace("SELECT  1", "SELECT 1")),
            "dollar-quoted bodies count as written"
        );
        assert_eq!(checksum(body), checksum(&format!("-- note\n{body}")));
    }

    #[test]
    fn text_checksum_ignores_line_endings_and_trailing_space() {
        let a = text_checksum("CREATE TABLE a (id INT);\nDROP TABLE b;\n");
        assert_eq!(
            a,
            text_checksum("CREATE TABLE a (id INT);  \r\nDROP TABLE b;\r\n\r\n")
        );
        assert_ne!(
            a,
            text_checksum("-- a comment\nCREATE TABLE a (id INT);\nDROP TABLE b;\n")
        );
    }

    #[test]
    fn duplicate_versions_are_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        for name in ["2024-01-01-000000_a", "2024-01-01-000000_b"] {
            let d = dir.path().join(name);
            fs_err::create_dir_all(&d).expect("mkdir");
            fs_err::write(d.join("up.sql"), "SELECT 1;").expect("write");
        }
        let err = load(dir.path()).expect_err("duplicate").to_string();
        assert!(
            err.contains("two migrations share version 20240101000000"),
            "{err}"
        );
    }

    #[test]
    fn reads_metadata() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path().join("2024-01-01-000000_concurrently");
        fs_err::create_dir_all(&d).expect("mkdir");
        fs_err::write(d.join("up.sql"), "SELECT 1;").expect("write");
        fs_err::write(d.join("metadata.toml"), "run_in_transaction = false\n").expect("write");
        let all = load(dir.path()).expect("load");
        assert!(!all[0].run_in_transaction);
        assert_eq!(all[0].down, None);
    }

    /// Diesel runs a migration whose metadata.toml lacks `run_in_transaction` outside a
    /// transaction (its field defaults to false), one without metadata.toml inside; dieselkit
    /// reads both the same way.
    #[test]
    fn run_in_transaction_is_read_as_diesel_reads_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, metadata) in [
            ("2024-01-01-000000_none", None),
            (
                "2024-01-02-000000_silent",
                Some("[dieselkit]\nparent = \"\"\n"),
            ),
            ("2024-01-03-000000_yes", Some("run_in_transaction = true\n")),
        ] {
            let d = dir.path().join(name);
            fs_err::create_dir_all(&d).expect("mkdir");
            fs_err::write(d.join("up.sql"), "SELECT 1;").expect("write");
            if let Some(m) = metadata {
                fs_err::write(d.join("metadata.toml"), m).expect("write");
            }
        }
        let all = load(dir.path()).expect("load");
        let read: Vec<bool> = all.iter().map(|m| m.run_in_transaction).collect();
        assert_eq!(read, [true, false, true]);
    }

    #[test]
    fn lineage_round_trips_through_metadata_and_overlaps_by_column_or_table() {
        let lineage = Lineage {
            parent: "20240101000000".into(),
            changes: vec!["books.title".into(), "books.isbn".into()],
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path().join("2024-01-02-000000_widen");
        fs_err::create_dir_all(&d).expect("mkdir");
        fs_err::write(d.join("up.sql"), "SELECT 1;").expect("write");
        let metadata = format!("run_in_transaction = false\n{}", lineage.to_toml());
        fs_err::write(d.join("metadata.toml"), metadata).expect("write");
        let all = load(dir.path()).expect("load");
        assert!(!all[0].run_in_transaction);
        assert_eq!(all[0].lineage.as_ref(), Some(&lineage));

        let other = |changes: &[&str]| Lineage {
            parent: String::new(),
            changes: changes.iter().map(|c| c.to_string()).collect(),
        };
        assert_eq!(lineage.overlap(&other(&["books.title"])), ["books.title"]);
        assert_eq!(lineage.overlap(&other(&["books"])), ["books"]);
        assert!(lineage
            .overlap(&other(&["books.pages", "reviews"]))
            .is_empty());
        assert!(lineage.overlap(&other(&["bookshelves.title"])).is_empty());
        assert_eq!(
            other(&["reviews"]).overlap(&other(&["reviews"])),
            ["reviews"]
        );
    }
}

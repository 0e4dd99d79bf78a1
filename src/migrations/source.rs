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
    /// SHA-256 of the normalized up.sql (see [`checksum`]).
    pub checksum: String,
}

/// Diesel's version of a migration directory name.
pub fn version_of(name: &str) -> String {
    name.split('_').next().unwrap_or(name).replace('-', "")
}

/// Checksum of a migration's SQL, insensitive to line endings, trailing whitespace and
/// trailing blank lines (editors and git settings change those without changing meaning).
pub fn checksum(sql: &str) -> String {
    let normalized: Vec<&str> = sql
        .split('\n')
        .map(|l| l.trim_end_matches(['\r', ' ', '\t']))
        .collect();
    let mut text = normalized.join("\n");
    while text.ends_with('\n') {
        text.pop();
    }
    crate::write::sha256_hex(text.as_bytes())
}

fn read(path: &Path) -> Result<String> {
    fs_err::read_to_string(path).map_err(|e| Error::ReadFile {
        path: path.to_path_buf(),
        error: e,
    })
}

#[derive(serde::Deserialize)]
struct Metadata {
    #[serde(default = "yes")]
    run_in_transaction: bool,
}

fn yes() -> bool {
    true
}

/// Every migration under `dir`, sorted by version.
pub fn load(dir: &Path) -> Result<Vec<MigrationFile>> {
    if !dir.is_dir() {
        return Err(Error::NoMigrations {
            path: dir.to_path_buf(),
        });
    }
    let mut by_version: BTreeMap<String, MigrationFile> = BTreeMap::new();
    let mut entries: Vec<PathBuf> = fs_err::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    entries.sort();
    for path in entries {
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
        let version = version_of(&name);
        if version.is_empty() || !version.chars().all(|c| c.is_ascii_digit()) {
            return Err(Error::Migration(format!(
                "`{}`: a migration directory name must start with a version (`2024-01-15-093000_name`)",
                path.display()
            )));
        }
        let up = read(&up_path)?;
        let down_path = path.join("down.sql");
        let down = if down_path.is_file() {
            Some(read(&down_path)?)
        } else {
            None
        };
        let meta_path = path.join("metadata.toml");
        let run_in_transaction = if meta_path.is_file() {
            toml::from_str::<Metadata>(&read(&meta_path)?)
                .map_err(|e| Error::Toml {
                    path: meta_path.clone(),
                    message: e.to_string(),
                })?
                .run_in_transaction
        } else {
            true
        };
        let file = MigrationFile {
            checksum: checksum(&up),
            name: name.clone(),
            version: version.clone(),
            dir: path.clone(),
            up,
            down,
            run_in_transaction,
        };
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
    fn checksum_ignores_line_endings_and_trailing_space() {
        let a = checksum("CREATE TABLE a (id INT);\nDROP TABLE b;\n");
        assert_eq!(
            a,
            checksum("CREATE TABLE a (id INT);  \r\nDROP TABLE b;\r\n\r\n")
        );
        assert_ne!(a, checksum("CREATE TABLE a (id BIGINT);\nDROP TABLE b;\n"));
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
}

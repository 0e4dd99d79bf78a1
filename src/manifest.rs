//! `.dieselkit/manifest.toml`: the hash of every generated file as generated, so later
//! commands can tell a file the user edited (kept, never overwritten) from one they did
//! not touch (replaced by the new version).
//!
//! Rust files also get a hash of their layout-free form ([`layout_free_rust`]): running
//! `cargo fmt` on a generated project changes whitespace, line breaks and trailing commas,
//! and that must not turn every file into an "edited" one that dieselkit can no longer
//! update.

use crate::digest::sha256_hex;
use std::collections::BTreeMap;
use std::path::Path;

pub const PATH: &str = ".dieselkit/manifest.toml";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    /// path → sha256 of the bytes as generated
    files: BTreeMap<String, String>,
    /// path → sha256 of the layout-free form (Rust files only)
    layout_free: BTreeMap<String, String>,
    /// path → sha256 of a Rust file as rendered, before rustfmt formatted it into the bytes
    /// of `files` (so an unchanged render need not be formatted again)
    rendered: BTreeMap<String, String>,
}

fn is_rust(path: &str) -> bool {
    path.ends_with(".rs")
}

impl Manifest {
    /// The project's manifest; empty when it is missing or unreadable (then every
    /// existing file counts as edited, the safe side).
    pub fn read(project_dir: &Path) -> Manifest {
        let Ok(text) = fs_err::read_to_string(project_dir.join(PATH)) else {
            return Manifest::default();
        };
        let Ok(table) = text.parse::<toml::Table>() else {
            return Manifest::default();
        };
        let section = |name: &str| -> BTreeMap<String, String> {
            table
                .get(name)
                .and_then(|f| f.as_table())
                .map(|t| {
                    t.iter()
                        .filter_map(|(k, v)| {
                            Some((k.clone(), v.as_str()?.strip_prefix("sha256:")?.to_string()))
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        Manifest {
            files: section("files"),
            layout_free: section("layout_free"),
            rendered: section("rendered"),
        }
    }

    /// Record a file as generated: its bytes and, for a Rust file rustfmt formatted, the hash
    /// of what was rendered.
    pub fn record(&mut self, path: &str, contents: &[u8], rendered: Option<&str>) {
        match rendered {
            Some(hash) => self.rendered.insert(path.to_string(), hash.to_string()),
            None => self.rendered.remove(path),
        };
        let hash = sha256_hex(contents);
        // The same bytes as recorded: the layout-free hash recorded with them still holds.
        let same = self.files.get(path) == Some(&hash) && self.layout_free.contains_key(path);
        self.files.insert(path.to_string(), hash);
        if !is_rust(path) {
            self.layout_free.remove(path);
        } else if !same {
            let text = String::from_utf8_lossy(contents);
            self.layout_free.insert(
                path.to_string(),
                sha256_hex(layout_free_rust(&text).as_bytes()),
            );
        }
    }

    /// [`Manifest::record`] for a file dieselkit writes.
    pub fn record_file(&mut self, file: &crate::render::PlannedFile) {
        self.record(&file.key(), &file.contents, file.rendered.as_deref());
    }

    pub fn forget(&mut self, path: &str) {
        self.files.remove(path);
        self.layout_free.remove(path);
        self.rendered.remove(path);
    }

    /// What rustfmt made of `rendered` (the hash of a file as rendered) last time, if this
    /// manifest says: the first of `candidates` (the file as written, a copy of it) whose
    /// bytes are exactly the ones recorded.
    pub fn formatted(
        &self,
        path: &str,
        rendered: &str,
        candidates: &[std::path::PathBuf],
    ) -> Option<Vec<u8>> {
        if self.rendered.get(path).map(String::as_str) != Some(rendered) {
            return None;
        }
        let recorded = self.files.get(path)?;
        candidates
            .iter()
            .filter_map(|c| fs_err::read(c).ok())
            .find(|bytes| sha256_hex(bytes) == *recorded)
    }

    /// The recorded paths that name a file inside the project: relative, without `..` (the
    /// manifest is a file in the project, and a path it lists must never lead dieselkit to
    /// remove or move a file elsewhere).
    pub fn paths(&self) -> impl Iterator<Item = &String> {
        use std::path::{Component, Path};
        self.files.keys().filter(|key| {
            Path::new(key.as_str())
                .components()
                .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
        })
    }

    /// Whether `existing` is the file as dieselkit generated it, up to `cargo fmt`.
    pub fn unedited(&self, path: &str, existing: &[u8]) -> bool {
        let Some(hash) = self.files.get(path) else {
            return false;
        };
        if *hash == sha256_hex(existing) {
            return true;
        }
        match (is_rust(path), self.layout_free.get(path)) {
            (true, Some(recorded)) => {
                let text = String::from_utf8_lossy(existing);
                *recorded == sha256_hex(layout_free_rust(&text).as_bytes())
            }
            _ => false,
        }
    }

    pub fn to_text(&self) -> String {
        let mut text = format!(
            "# Written by dieselkit: the hash of every file as it wrote it, so that later commands\n\
             # can tell a file you edited (yours are never rewritten; an edited one of dieselkit's\n\
             # is saved under .dieselkit/edited/ before it is) from one you did not. For Rust\n\
             # files, changes of layout only, such as `cargo fmt`, do not count as edits.\n\n\
             dieselkit_version = \"{}\"\n\n[files]\n",
            env!("CARGO_PKG_VERSION")
        );
        let section = |text: &mut String, entries: &BTreeMap<String, String>| {
            for (path, hash) in entries {
                text.push_str(&format!(
                    "\"{}\" = \"sha256:{hash}\"\n",
                    path.replace('\\', "\\\\").replace('"', "\\\"")
                ));
            }
        };
        section(&mut text, &self.files);
        text.push_str("\n[layout_free]\n");
        section(&mut text, &self.layout_free);
        if !self.rendered.is_empty() {
            text.push_str("\n[rendered]\n");
            section(&mut text, &self.rendered);
        }
        text
    }
}

/// Rust source reduced to what `rustfmt` cannot change: whitespace outside string
/// literals is dropped, a comma right before a closing bracket is dropped, and a match arm
/// body in braces (`=> { expr }`) counts the same as one without (`=> expr,`). Two files
/// with the same layout-free form differ at most in formatting.
pub fn layout_free_rust(source: &str) -> String {
    // Tokens, as slices of `source`: string literals whole (their whitespace is content),
    // other characters one by one, whitespace dropped. A token rewritten away below becomes
    // "" (so no token moves).
    let mut tokens: Vec<&str> = Vec::new();
    let bytes = source.as_bytes();
    let mut chars = source.char_indices().peekable();
    let end_of = |chars: &mut std::iter::Peekable<std::str::CharIndices>| {
        chars.peek().map_or(source.len(), |&(i, _)| i)
    };
    while let Some((start, c)) = chars.next() {
        if c.is_whitespace() {
            continue;
        }
        // A double quote as a char literal (`'"'`) does not open a string.
        if c == '\'' && bytes.get(start + 1) == Some(&b'"') && bytes.get(start + 2) == Some(&b'\'')
        {
            chars.next();
            chars.next();
            tokens.push(&source[start..start + 3]);
            continue;
        }
        let raw_start = c == 'r' && matches!(chars.peek(), Some((_, '"')) | Some((_, '#')));
        if c == '"' || raw_start {
            let mut hashes = 0;
            if raw_start {
                while matches!(chars.peek(), Some((_, '#'))) {
                    hashes += 1;
                    chars.next();
                }
                if !matches!(chars.peek(), Some((_, '"'))) {
                    // `r#ident` or an identifier ending in `r`: not a raw string.
                    let stop = end_of(&mut chars);
                    tokens.extend((start..stop).map(|i| &source[i..i + 1]));
                    continue;
                }
                chars.next();
            }
            while let Some((_, d)) = chars.next() {
                if !raw_start && d == '\\' {
                    chars.next();
                    continue;
                }
                if d == '"' {
                    let mut closing = 0;
                    while closing < hashes && matches!(chars.peek(), Some((_, '#'))) {
                        closing += 1;
                        chars.next();
                    }
                    if closing == hashes {
                        break;
                    }
                }
            }
            let stop = end_of(&mut chars);
            tokens.push(&source[start..stop]);
        } else {
            tokens.push(&source[start..start + c.len_utf8()]);
        }
    }
    // The index of the first token after `k` that was not rewritten away.
    let next = |tokens: &[&str], k: usize| (k + 1..tokens.len()).find(|&j| !tokens[j].is_empty());
    // `=> { body }` becomes `=> body,`.
    for i in 0..tokens.len() {
        if tokens[i] != "=" || tokens.get(i + 1) != Some(&">") {
            continue;
        }
        let Some(open) = next(&tokens, i + 1).filter(|&j| tokens[j] == "{") else {
            continue;
        };
        let mut depth = 0;
        let mut close = None;
        for (j, t) in tokens.iter().enumerate().skip(open) {
            match *t {
                "{" => depth += 1,
                "}" => {
                    depth -= 1;
                    if depth == 0 {
                        close = Some(j);
                        break;
                    }
                }
                _ => {}
            }
        }
        if let Some(close) = close {
            let followed_by_comma = next(&tokens, close).is_some_and(|j| tokens[j] == ",");
            tokens[close] = if followed_by_comma { "" } else { "," };
            tokens[open] = "";
        }
    }
    // Trailing commas.
    let mut out = String::with_capacity(source.len());
    for (k, t) in tokens.iter().enumerate() {
        if *t == "," && next(&tokens, k).is_some_and(|j| matches!(tokens[j], ")" | "]" | "}")) {
            continue;
        }
        out.push_str(t);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_changes_keep_the_layout_free_form() {
        let generated = r#"const QUERY_PARAMS: &[&str] = &["page", "per_page", "sort", "title"];
fn f() {
    match sortable.iter().find(|column| **column == name) {
        Some(column) => keys.push(SortKey {
            column,
            descending,
        }),
        None => call(a, b),
    }
    errors.push(FieldError::new(name, format!("cannot filter by `{raw}`: {err}")));
}
"#;
        let formatted = r#"const QUERY_PARAMS: &[&str] = &[
    "page",
    "per_page",
    "sort",
    "title",
];
fn f() {
    match sortable.iter().find(|column| **column == name) {
        Some(column) => keys.push(SortKey { column, descending }),
        None => {
            call(a, b)
        }
    }
    errors.push(FieldError::new(
        name,
        format!("cannot filter by `{raw}`: {err}"),
    ));
}
"#;
        assert_eq!(layout_free_rust(generated), layout_free_rust(formatted));
    }

    #[test]
    fn real_edits_change_the_layout_free_form() {
        let base = "fn f() -> &'static str { \"a b\" }";
        for edited in [
            "fn f() -> &'static str { \"a  b\" }",
            "fn f() -> &'static str { \"a b\" } fn g() {}",
            "fn f() -> &'static str { r#\"a b\"# }",
            "fn f() -> &'static str { \"a c\" }",
        ] {
            assert_ne!(layout_free_rust(base), layout_free_rust(edited), "{edited}");
        }
    }

    #[test]
    fn paths_outside_the_project_are_never_listed() {
        let mut m = Manifest::default();
        for key in [
            "src/a.rs",
            "../outside.rs",
            "/etc/passwd",
            "src/../../up.rs",
            "a/b.md",
        ] {
            m.record(key, b"x", None);
        }
        let listed: Vec<&String> = m.paths().collect();
        assert_eq!(listed, ["a/b.md", "src/a.rs"]);
    }

    #[test]
    fn manifest_round_trips_and_tolerates_cargo_fmt() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut m = Manifest::default();
        m.record("src/a.rs", b"fn a() { call(x, y,) }\n", None);
        m.record("README.md", b"# hi\n", None);
        fs_err::create_dir_all(dir.path().join(".dieselkit")).expect("dir");
        fs_err::write(dir.path().join(PATH), m.to_text()).expect("write");
        let back = Manifest::read(dir.path());
        assert_eq!(back, m);
        assert!(back.unedited("src/a.rs", b"fn a() {\n    call(x, y)\n}\n"));
        assert!(!back.unedited("src/a.rs", b"fn a() { call(x, z) }\n"));
        assert!(back.unedited("README.md", b"# hi\n"));
        assert!(
            !back.unedited("README.md", b"#  hi\n"),
            "only Rust layout is ignored"
        );
        assert!(!back.unedited("src/other.rs", b""));
    }
}

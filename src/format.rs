//! Generated Rust files are formatted by rustfmt before they are written (by default when
//! rustfmt is installed; `--fmt` requires it, `--no-fmt` skips it), so the project passes
//! `cargo fmt --check` from the start. Formatting happens in memory (through
//! a temporary copy of the tree), so the manifest records the formatted bytes and nothing is
//! written when rustfmt fails.

use crate::error::{Error, Result};
use crate::render::PlannedFile;
use std::path::Path;
use std::process::Command;

/// The rustfmt to run: `RUSTFMT` if set, else `rustfmt` on PATH.
fn rustfmt_program() -> std::ffi::OsString {
    std::env::var_os("RUSTFMT").unwrap_or_else(|| "rustfmt".into())
}

/// Whether rustfmt answers `--version`.
fn available() -> bool {
    Command::new(rustfmt_program())
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Whether to run rustfmt: `--no-fmt` no, `--fmt` yes (failing later if it cannot run),
/// else yes when rustfmt answers `--version`, with a warning when it does not.
pub fn wanted(fmt: bool, no_fmt: bool, ui: &crate::ui::Ui) -> bool {
    if no_fmt {
        return false;
    }
    if fmt {
        return true;
    }
    let available = available();
    if !available {
        ui.warn(
            "rustfmt is not installed, so the generated Rust is not formatted (`cargo fmt --check` will fail until you run `cargo fmt`); install it with `rustup component add rustfmt`, or pass `--no-fmt` to silence this",
        );
    }
    available
}

/// Format every `.rs` file of `files` in place (edition 2021, the generated crates'
/// edition), recording in each its hash as rendered. `config_from` is a project whose
/// `rustfmt.toml` / `.rustfmt.toml` applies. `previous(path, hash)` gives what rustfmt made
/// of the same render last time, if known: such a file is not formatted again (on a big
/// project, `generate field` changes a few files of hundreds).
pub fn rustfmt(
    files: &mut [PlannedFile],
    config_from: Option<&Path>,
    previous: &dyn Fn(&Path, &str) -> Option<Vec<u8>>,
) -> Result<()> {
    let rust: Vec<usize> = (0..files.len())
        .filter(|&i| files[i].path.extension().is_some_and(|e| e == "rs"))
        .collect();
    // The project's rustfmt configuration, read once: part of what a file was formatted from
    // (its hash), and copied into each scratch tree.
    let configs: Vec<(&str, Vec<u8>)> = config_from
        .map(|project| {
            ["rustfmt.toml", ".rustfmt.toml"]
                .into_iter()
                .filter_map(|name| Some((name, fs_err::read(project.join(name)).ok()?)))
                .collect()
        })
        .unwrap_or_default();
    let config: Vec<u8> = configs
        .iter()
        .flat_map(|(_, bytes)| bytes.iter().copied())
        .collect();
    let mut todo = Vec::new();
    let mut to_format = vec![false; files.len()];
    for &i in &rust {
        let hash = match config.is_empty() {
            true => crate::digest::sha256_hex(&files[i].contents),
            false => crate::digest::sha256_hex(&[&config[..], b"\0", &files[i].contents].concat()),
        };
        match previous(&files[i].path, &hash) {
            Some(formatted) => files[i].contents = formatted,
            None => {
                todo.push(i);
                to_format[i] = true;
            }
        }
        files[i].rendered = Some(hash);
    }
    if todo.is_empty() {
        return Ok(());
    }
    // A file formatted already is written empty, and only where a file to format declares
    // it as a module (rustfmt reads the modules a file declares); empty is the fastest to
    // format again. On a 200-resource project that is a handful of files, not 800.
    let todo_paths: Vec<&Path> = todo.iter().map(|&i| files[i].path.as_path()).collect();
    let mut tree: Vec<(&Path, &[u8])> = Vec::new();
    let mut skipped = Vec::new();
    for &i in &rust {
        let contents: &[u8] = if to_format[i] {
            &files[i].contents
        } else if todo_paths.iter().any(|t| is_module_of(&files[i].path, t)) {
            b""
        } else {
            skipped.push(files[i].path.as_path());
            continue;
        };
        tree.push((files[i].path.as_path(), contents));
    }
    // rustfmt formats a file with the modules it declares, as `cargo fmt` does from each
    // target's root: when everything is to be formatted, naming only the roots formats every
    // reachable file once (naming every file formatted each module again for every `mod`
    // above it: 4x the time at 50 resources). Otherwise, or without a library or binary
    // root, each file to format is named.
    let roots: Vec<&Path> = rust
        .iter()
        .map(|&i| files[i].path.as_path())
        .filter(|p| is_crate_root(p))
        .collect();
    let names: Vec<&Path> =
        if todo.len() == rust.len() && roots.iter().any(|p| p.starts_with("src")) {
            roots
        } else {
            todo_paths.clone()
        };
    // rustfmt is single-threaded: the names are split in two by size (the library's root
    // holds most of the code) and formatted by two processes at once, each in a scratch
    // tree of its own, so that a module both reach is never written by both at once.
    let size = |p: &Path| {
        files
            .iter()
            .filter(|f| f.path == p || (p == Path::new("src/lib.rs") && !is_crate_root(&f.path)))
            .map(|f| f.contents.len())
            .sum::<usize>()
    };
    let shards = split_by_size(names, size);
    let formatted: Vec<Result<tempfile::TempDir>> = std::thread::scope(|scope| {
        let handles: Vec<_> = shards
            .iter()
            .filter(|names| !names.is_empty())
            .map(|names| scope.spawn(|| format_in_scratch_tree(&tree, &skipped, names, &configs)))
            .collect();
        handles
            .into_iter()
            .map(|h| crate::error::joined(h, "rustfmt"))
            .collect()
    });
    let trees = formatted.into_iter().collect::<Result<Vec<_>>>()?;
    // A file is formatted in the tree whose names reach it (in both when both do, alike).
    for &i in &todo {
        for tree in &trees {
            let out = fs_err::read(tree.path().join(&files[i].path))?;
            if out != files[i].contents {
                files[i].contents = out;
                break;
            }
        }
    }
    Ok(())
}

/// `names` in two groups of about equal `size`, biggest first.
fn split_by_size(mut names: Vec<&Path>, size: impl Fn(&Path) -> usize) -> [Vec<&Path>; 2] {
    let mut sized: Vec<(usize, &Path)> = names.drain(..).map(|n| (size(n), n)).collect();
    sized.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    let mut shards = [Vec::new(), Vec::new()];
    let mut totals = [0usize; 2];
    for (n, name) in sized {
        let k = usize::from(totals[1] < totals[0]);
        totals[k] += n;
        shards[k].push(name);
    }
    shards
}

/// Run rustfmt on `names` in a new scratch tree holding `tree` and the project's rustfmt
/// configuration files (`configs`, by name); returns the tree, formatted.
fn format_in_scratch_tree(
    tree: &[(&Path, &[u8])],
    skipped: &[&Path],
    names: &[&Path],
    configs: &[(&str, Vec<u8>)],
) -> Result<tempfile::TempDir> {
    let tmp = tempfile::tempdir()?;
    for (path, contents) in tree {
        write_under(tmp.path(), path, contents)?;
    }
    for (name, bytes) in configs {
        fs_err::write(tmp.path().join(name), bytes)?;
    }
    let program = rustfmt_program();
    let run = || {
        Command::new(&program)
            .args(["--edition", "2021"])
            .args(names)
            .current_dir(tmp.path())
            .output()
            .map_err(|e| {
                Error::usage(format!(
                    "`--fmt` needs rustfmt, which could not be started ({e}); install it with `rustup component add rustfmt`, or set `RUSTFMT` to its path"
                ))
            })
    };
    let mut output = run()?;
    if !output.status.success() && !skipped.is_empty() {
        // A module declared some other way (a `#[path]` in a team's template): every file.
        for path in skipped {
            write_under(tmp.path(), path, b"")?;
        }
        output = run()?;
    }
    if !output.status.success() {
        return Err(Error::Internal(format!(
            "rustfmt ({}) failed on the generated code: {}",
            program.to_string_lossy(),
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(tmp)
}

/// Write `contents` to `path` under `root`, creating its directory.
fn write_under(root: &Path, path: &Path, contents: &[u8]) -> Result<()> {
    let target = root.join(path);
    if let Some(dir) = target.parent() {
        fs_err::create_dir_all(dir)?;
    }
    fs_err::write(&target, contents)?;
    Ok(())
}

/// Is `child` a module that `parent` declares with a plain `mod name;` (`name.rs` or
/// `name/mod.rs` in the directory of `parent`'s modules)?
fn is_module_of(child: &Path, parent: &Path) -> bool {
    let dir = match parent.file_name().and_then(|n| n.to_str()) {
        Some("mod.rs") => parent.parent(),
        _ if is_crate_root(parent) => parent.parent(),
        _ => {
            return parent
                .parent()
                .zip(parent.file_stem())
                .is_some_and(|(d, stem)| is_module_of(child, &d.join(stem).join("mod.rs")))
        }
    }
    .unwrap_or(Path::new(""));
    match child.file_name().and_then(|n| n.to_str()) {
        Some("mod.rs") => child.parent().and_then(Path::parent) == Some(dir),
        _ => child.parent() == Some(dir),
    }
}

/// Is `path` (relative to the project) a crate root cargo compiles: the library, the main
/// binary, a build script, or a file directly in `src/bin/`, `tests/`, `benches/` or
/// `examples/`?
fn is_crate_root(path: &Path) -> bool {
    let parent = path.parent().unwrap_or(Path::new(""));
    ["src/lib.rs", "src/main.rs", "build.rs"]
        .iter()
        .any(|root| path == Path::new(root))
        || ["src/bin", "tests", "benches", "examples"]
            .iter()
            .any(|dir| parent == Path::new(dir))
}

#[cfg(test)]
mod tests {
    use super::{is_crate_root, is_module_of};
    use std::path::Path;

    /// Only a file whose render changed is formatted; one reused from last time keeps its
    /// bytes, even when declared through `#[path]` (a team's template), where the scratch
    /// tree needs every file.
    #[test]
    fn only_changed_renders_are_formatted() {
        if !super::available() {
            assert!(
                std::env::var("CI").map_or(true, |v| v != "true"),
                "rustfmt is missing"
            );
            return;
        }
        let file = |path: &str, text: &str| crate::render::PlannedFile {
            path: path.into(),
            contents: text.as_bytes().to_vec(),
            rendered: None,
        };
        let mut files = vec![
            file(
                "src/lib.rs",
                "#[path = \"other/x.rs\"]\nmod x;\npub fn  f( ){}\n",
            ),
            file("src/other/x.rs", "pub fn  g( ){}\n"),
        ];
        let x_hash = crate::digest::sha256_hex(&files[1].contents);
        let previous = |path: &Path, hash: &str| {
            (path == Path::new("src/other/x.rs") && hash == x_hash)
                .then(|| b"// as formatted last time\n".to_vec())
        };
        super::rustfmt(&mut files, None, &previous).expect("rustfmt");
        assert_eq!(
            String::from_utf8_lossy(&files[0].contents),
            "#[path = \"other/x.rs\"]\nmod x;\npub fn f() {}\n"
        );
        assert_eq!(files[1].contents, b"// as formatted last time\n");
        assert_eq!(files[1].rendered.as_deref(), Some(x_hash.as_str()));
        assert!(files[0].rendered.is_some());
    }

    #[test]
    fn a_module_is_found_where_rustc_looks_for_it() {
        for (child, parent) in [
            ("src/generated/mod.rs", "src/lib.rs"),
            ("src/schema.rs", "src/main.rs"),
            ("src/generated/routes/mod.rs", "src/generated/mod.rs"),
            (
                "src/generated/routes/author.rs",
                "src/generated/routes/mod.rs",
            ),
            ("src/routes/author.rs", "src/routes.rs"),
            ("tests/support/mod.rs", "tests/api.rs"),
        ] {
            assert!(
                is_module_of(Path::new(child), Path::new(parent)),
                "{child} in {parent}"
            );
        }
        for (child, parent) in [
            ("src/generated/routes/author.rs", "src/lib.rs"),
            ("src/generated/routes/author.rs", "src/generated/mod.rs"),
            ("src/routes.rs", "src/routes.rs"),
            ("src/models/author.rs", "src/routes.rs"),
        ] {
            assert!(
                !is_module_of(Path::new(child), Path::new(parent)),
                "{child} in {parent}"
            );
        }
    }

    /// Two rustfmt processes get about equal shares, the biggest file first, every name once.
    #[test]
    fn names_are_split_in_two_by_size() {
        let names = ["a.rs", "b.rs", "c.rs", "d.rs"].map(Path::new).to_vec();
        let size = |p: &Path| match p.to_str() {
            Some("a.rs") => 10,
            Some("b.rs") => 70,
            Some("c.rs") => 20,
            _ => 40,
        };
        let [first, second] = super::split_by_size(names, size);
        assert_eq!(first, ["b.rs"].map(Path::new));
        assert_eq!(second, ["d.rs", "c.rs", "a.rs"].map(Path::new));
        let [one, none] = super::split_by_size(vec![Path::new("x.rs")], size);
        assert_eq!((one.len(), none.len()), (1, 0));
    }

    #[test]
    fn crate_roots_are_what_cargo_compiles() {
        for root in [
            "src/lib.rs",
            "src/main.rs",
            "src/bin/seed.rs",
            "tests/api.rs",
            "build.rs",
        ] {
            assert!(is_crate_root(Path::new(root)), "{root}");
        }
        for module in [
            "src/schema.rs",
            "src/generated/mod.rs",
            "src/bin/seed/data.rs",
            "tests/support/mod.rs",
        ] {
            assert!(!is_crate_root(Path::new(module)), "{module}");
        }
    }
}

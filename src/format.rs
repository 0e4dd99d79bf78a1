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

/// Whether to run rustfmt: `--no-fmt` no, `--fmt` yes (failing later if it cannot run),
/// else yes when rustfmt answers `--version`, with a warning when it does not.
pub fn wanted(fmt: bool, no_fmt: bool, ui: &crate::ui::Ui) -> bool {
    if no_fmt {
        return false;
    }
    if fmt {
        return true;
    }
    let available = Command::new(rustfmt_program())
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !available {
        ui.warn(
            "rustfmt is not installed, so the generated Rust is not formatted (`cargo fmt --check` will fail until you run `cargo fmt`); install it with `rustup component add rustfmt`, or pass `--no-fmt` to silence this",
        );
    }
    available
}

/// Format every `.rs` file of `files` in place (edition 2021, the generated crates'
/// edition). `config_from` is a project whose `rustfmt.toml` / `.rustfmt.toml` applies.
pub fn rustfmt(files: &mut [PlannedFile], config_from: Option<&Path>) -> Result<()> {
    let rust: Vec<usize> = (0..files.len())
        .filter(|&i| files[i].path.extension().is_some_and(|e| e == "rs"))
        .collect();
    if rust.is_empty() {
        return Ok(());
    }
    let tmp = tempfile::tempdir()?;
    for &i in &rust {
        let target = tmp.path().join(&files[i].path);
        if let Some(dir) = target.parent() {
            fs_err::create_dir_all(dir)?;
        }
        fs_err::write(&target, &files[i].contents)?;
    }
    if let Some(project) = config_from {
        for name in ["rustfmt.toml", ".rustfmt.toml"] {
            if project.join(name).is_file() {
                fs_err::copy(project.join(name), tmp.path().join(name))?;
            }
        }
    }
    let program = rustfmt_program();
    let output = Command::new(&program)
        .args(["--edition", "2021"])
        .args(rust.iter().map(|&i| &files[i].path))
        .current_dir(tmp.path())
        .output()
        .map_err(|e| {
            Error::usage(format!(
                "`--fmt` needs rustfmt, which could not be started ({e}); install it with `rustup component add rustfmt`, or set `RUSTFMT` to its path"
            ))
        })?;
    if !output.status.success() {
        return Err(Error::Internal(format!(
            "rustfmt ({}) failed on the generated code: {}",
            program.to_string_lossy(),
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    for &i in &rust {
        files[i].contents = fs_err::read(tmp.path().join(&files[i].path))?;
    }
    Ok(())
}

//! The only stage that writes project files: stage everything in a temporary directory
//! next to the destination, then move it into place, so a failure never leaves a
//! half-written project. A manifest records each generated file's hash so later commands
//! can tell generated files from files the user edited.

use crate::error::{Error, Result};
use crate::render::PlannedFile;
use std::path::{Path, PathBuf};

pub const MANIFEST_PATH: &str = crate::manifest::PATH;

/// Set while files are being moved into place; the Ctrl-C handler lets that finish so an
/// interrupt never leaves a half-written project.
pub static MOVING_INTO_PLACE: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

struct MovingGuard;

impl MovingGuard {
    fn start() -> MovingGuard {
        MOVING_INTO_PLACE.store(true, std::sync::atomic::Ordering::SeqCst);
        MovingGuard
    }
}

impl Drop for MovingGuard {
    fn drop(&mut self) {
        MOVING_INTO_PLACE.store(false, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Record `files`' user-owned ones under [`crate::ownership::BASE_DIR`], as written.
pub fn write_bases(project_dir: &std::path::Path, files: &[PlannedFile]) -> Result<()> {
    for f in files {
        if crate::ownership::merged_by_update(&f.key()) {
            let target = project_dir.join(crate::ownership::BASE_DIR).join(&f.path);
            if let Some(dir) = target.parent() {
                fs_err::create_dir_all(dir)?;
            }
            fs_err::write(target, &f.contents)?;
        }
    }
    Ok(())
}

/// The manifest for a set of files (see [`crate::manifest`]).
pub fn manifest(files: &[PlannedFile]) -> PlannedFile {
    let mut m = crate::manifest::Manifest::default();
    for f in files {
        m.record_file(f);
    }
    PlannedFile {
        path: PathBuf::from(MANIFEST_PATH),
        contents: m.to_text().into_bytes(),
        rendered: None,
    }
}

fn is_nonempty_dir(path: &Path) -> bool {
    fs_err::read_dir(path)
        .map(|mut entries| entries.next().is_some())
        .unwrap_or(false)
}

/// Write `files` under `root` (which exists): each directory is created once, then the
/// files are written on up to 4 threads (creating many small files is kernel-bound).
fn write_tree(root: &Path, files: &[PlannedFile]) -> Result<()> {
    let dirs: std::collections::BTreeSet<PathBuf> = files
        .iter()
        .filter_map(|f| root.join(&f.path).parent().map(Path::to_path_buf))
        .collect();
    for dir in &dirs {
        fs_err::create_dir_all(dir)?;
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    let chunk = files.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || -> Result<()> {
                    for f in part {
                        fs_err::write(root.join(&f.path), &f.contents)?;
                    }
                    Ok(())
                })
            })
            .collect();
        handles
            .into_iter()
            .try_for_each(|h| crate::error::joined(h, "writing"))
    })
}

/// Write `files` (plus their manifest) to `dest`. An existing non-empty `dest` is refused
/// unless `force`; with `force`, generated files replace their counterparts and other
/// files in `dest` are left alone.
pub fn write_project(dest: &Path, files: &[PlannedFile], force: bool) -> Result<()> {
    if dest.exists() && !dest.is_dir() {
        return Err(Error::usage(format!(
            "destination `{}` exists and is a file; choose another name or `--output`",
            dest.display()
        )));
    }
    let occupied = is_nonempty_dir(dest);
    if occupied && !force {
        return Err(Error::DestinationExists {
            path: dest.to_path_buf(),
        });
    }
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs_err::create_dir_all(&parent)?;
    let staging = tempfile::Builder::new()
        .prefix(".dieselkit-staging-")
        .tempdir_in(&parent)
        .map_err(|e| Error::ReadFile {
            path: parent.clone(),
            error: e,
        })?;
    let mut all = files.to_vec();
    all.push(manifest(files));
    write_tree(staging.path(), &all)?;
    let _guard = MovingGuard::start();
    if !occupied {
        if dest.exists() {
            fs_err::remove_dir(dest)?;
        }
        let staged = staging.keep();
        fs_err::rename(&staged, dest)?;
        return Ok(());
    }
    // --force over an existing tree: files dieselkit generated last time (per the old
    // manifest), still unedited and not part of the new plan, are stale: remove them so an
    // old migration cannot linger beside its regenerated twin. Edited files stay.
    for stale in stale_generated_files(dest, &all) {
        fs_err::remove_file(dest.join(&stale))?;
    }
    // Move file by file (each rename is atomic).
    for f in &all {
        let target = dest.join(&f.path);
        if let Some(dir) = target.parent() {
            fs_err::create_dir_all(dir)?;
        }
        if target.is_dir() {
            return Err(Error::usage(format!(
                "`{}` is a directory where dieselkit must write a file; move it away and retry",
                target.display()
            )));
        }
        fs_err::rename(staging.path().join(&f.path), &target)?;
    }
    Ok(())
}

/// Files listed in `dest`'s manifest whose content still matches the recorded hash and
/// that `planned` does not contain.
fn stale_generated_files(dest: &Path, planned: &[PlannedFile]) -> Vec<PathBuf> {
    let manifest = crate::manifest::Manifest::read(dest);
    manifest
        .paths()
        .filter_map(|path| {
            let rel = PathBuf::from(path);
            if planned.iter().any(|p| p.path == rel) {
                return None;
            }
            let bytes = fs_err::read(dest.join(&rel)).ok()?;
            manifest.unedited(path, &bytes).then_some(rel)
        })
        .collect()
}

/// Copy the directory `from` to `to`, recursively, leaving out the entries (files or
/// directories, by name) for which `skip` is true.
pub fn copy_dir(from: &Path, to: &Path, skip: &dyn Fn(&str, bool) -> bool) -> Result<()> {
    fs_err::create_dir_all(to)?;
    for entry in fs_err::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        let is_dir = path.is_dir();
        if skip(&name, is_dir) {
            continue;
        }
        if is_dir {
            copy_dir(&path, &to.join(&name), skip)?;
        } else {
            fs_err::copy(&path, to.join(&name))?;
        }
    }
    Ok(())
}

/// The tree `--dry-run` prints: one line per file with its size.
pub fn describe_tree(dest: &Path, files: &[PlannedFile]) -> String {
    let mut all = files.to_vec();
    all.push(manifest(files));
    all.sort_by(|a, b| a.path.cmp(&b.path));
    let mut out = format!("{}/\n", dest.display());
    for f in &all {
        out.push_str(&format!(
            "  {:<56} {:>7} bytes\n",
            f.key(),
            f.contents.len()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files() -> Vec<PlannedFile> {
        vec![
            PlannedFile {
                path: "a.txt".into(),
                contents: b"one".to_vec(),
                rendered: None,
            },
            PlannedFile {
                path: "dir/b.txt".into(),
                contents: b"two".to_vec(),
                rendered: None,
            },
        ]
    }

    #[test]
    fn writes_and_refuses_existing() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dest = tmp.path().join("proj");
        write_project(&dest, &files(), false).expect("write");
        assert_eq!(
            fs_err::read_to_string(dest.join("dir/b.txt")).expect("read"),
            "two"
        );
        assert!(dest.join(MANIFEST_PATH).exists());
        let err = write_project(&dest, &files(), false).expect_err("refused");
        assert!(matches!(err, Error::DestinationExists { .. }));
        // Nothing left behind by the refused attempt.
        let leftovers: Vec<_> = fs_err::read_dir(tmp.path())
            .expect("list")
            .filter_map(|e| e.ok())
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(".dieselkit-staging")
            })
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn force_keeps_other_files() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dest = tmp.path().join("proj");
        fs_err::create_dir_all(&dest).expect("mkdir");
        fs_err::write(dest.join("mine.txt"), "keep").expect("write");
        fs_err::write(dest.join("a.txt"), "old").expect("write");
        write_project(&dest, &files(), true).expect("write");
        assert_eq!(
            fs_err::read_to_string(dest.join("mine.txt")).expect("read"),
            "keep"
        );
        assert_eq!(
            fs_err::read_to_string(dest.join("a.txt")).expect("read"),
            "one"
        );
    }

    #[test]
    fn force_removes_stale_generated_files_but_keeps_edited_ones() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dest = tmp.path().join("proj");
        let mut old = files();
        old.push(PlannedFile {
            path: "migrations/old/up.sql".into(),
            contents: b"CREATE TABLE x;".to_vec(),
            rendered: None,
        });
        old.push(PlannedFile {
            path: "edited.txt".into(),
            contents: b"generated".to_vec(),
            rendered: None,
        });
        write_project(&dest, &old, false).expect("write");
        fs_err::write(dest.join("edited.txt"), "mine now").expect("edit");
        write_project(&dest, &files(), true).expect("rewrite");
        assert!(
            !dest.join("migrations/old/up.sql").exists(),
            "stale generated file removed"
        );
        assert_eq!(
            fs_err::read_to_string(dest.join("edited.txt")).expect("read"),
            "mine now"
        );
    }

    #[test]
    fn manifest_is_sorted_and_hashed() {
        let m = String::from_utf8(manifest(&files()).contents).expect("utf8");
        let a = m.find("\"a.txt\"").expect("a");
        let b = m.find("\"dir/b.txt\"").expect("b");
        assert!(a < b);
        assert!(m.contains(&crate::digest::sha256_hex(b"one")));
    }
}

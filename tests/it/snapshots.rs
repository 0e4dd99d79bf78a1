//! Snapshots: every `--help` and the whole rendered bookstore tree (the SQL of every
//! field type on every backend is snapshotted in `backends.rs`). Review changes with `cargo insta review`.

use crate::support::{dk, example, tree};

fn help(args: &[&str]) -> String {
    let mut all = args.to_vec();
    all.push("--help");
    dk().args(all).run().success().stdout()
}

#[test]
fn help_texts() {
    for (name, args) in [
        ("help_main", vec![]),
        ("help_new_project", vec!["new-project"]),
        ("help_migrate", vec!["migrate"]),
        ("help_migrate_run", vec!["migrate", "run"]),
        ("help_migrate_revert", vec!["migrate", "revert"]),
        ("help_migrate_redo", vec!["migrate", "redo"]),
        ("help_migrate_status", vec!["migrate", "status"]),
        ("help_migrate_history", vec!["migrate", "history"]),
        ("help_migrate_current", vec!["migrate", "current"]),
        ("help_migrate_stamp", vec!["migrate", "stamp"]),
        ("help_migrate_verify", vec!["migrate", "verify"]),
        ("help_migrate_squash", vec!["migrate", "squash"]),
        ("help_completions", vec!["completions"]),
        ("help_generate", vec!["generate"]),
        ("help_generate_resource", vec!["generate", "resource"]),
        ("help_generate_field", vec!["generate", "field"]),
        ("help_generate_migration", vec!["generate", "migration"]),
        ("help_update", vec!["update"]),
        ("help_check", vec!["check"]),
        ("help_lint", vec!["lint"]),
    ] {
        insta::assert_snapshot!(name, help(&args));
    }
}

fn generate(example_file: &str) -> (tempfile::TempDir, Vec<(String, Vec<u8>)>) {
    let dir = tempfile::tempdir().expect("tempdir");
    dk().args(["new-project", "--no-fmt", "--output"])
        .args([dir.path().join("out")])
        .args(["--from"])
        .args([example(example_file)])
        .run()
        .success();
    let files = tree(&dir.path().join("out"));
    (dir, files)
}

fn concat(files: &[(String, Vec<u8>)], keep: impl Fn(&str) -> bool) -> String {
    let mut out = String::new();
    for (path, bytes) in files.iter().filter(|(p, _)| keep(p)) {
        out.push_str(&format!(
            "==> {path} <==\n{}\n",
            String::from_utf8_lossy(bytes)
        ));
    }
    out
}

#[test]
fn bookstore_tree() {
    let (_dir, files) = generate("bookstore.toml");
    insta::assert_snapshot!("bookstore_tree", concat(&files, |_| true));
}

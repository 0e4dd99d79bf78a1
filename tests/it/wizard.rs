//! The wizard on a real pseudo-terminal: it asks only what flags left out, validates at
//! the prompt, and Ctrl-C writes nothing and exits 130.

use crate::support::{tree, EPOCH};
use rexpect::process::WaitStatus;
use rexpect::session::PtySession;
use std::path::Path;
use std::process::Command;

fn wizard(dir: &Path, args: &[&str]) -> PtySession {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dieselkit"));
    cmd.args(args)
        .current_dir(dir)
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .env("NO_COLOR", "1")
        .env("TERM", "xterm");
    rexpect::session::spawn_command(cmd, Some(20_000)).expect("spawn on a pty")
}

/// Wait for a prompt, then type. The pause lets the prompt switch the terminal mode
/// first: a mode switch discards input typed before it.
fn answer(p: &mut PtySession, prompt: &str, keys: &str) {
    p.exp_string(prompt)
        .unwrap_or_else(|e| panic!("waiting for {prompt:?}: {e}"));
    std::thread::sleep(std::time::Duration::from_millis(300));
    p.send(keys).expect("send");
    p.flush().expect("flush");
}

fn exit_code(session: &PtySession) -> i32 {
    match session.process().wait().expect("wait") {
        WaitStatus::Exited(_, code) => code,
        other => panic!("dieselkit did not exit normally: {other:?}"),
    }
}

/// A `shop` project with one resource, generated without CI or seed; returns its directory.
fn shop_with(dir: &Path, resource: &str) -> std::path::PathBuf {
    crate::support::dk()
        .args([
            "new-project",
            "shop",
            "--no-ci",
            "--no-seed",
            "--resource",
            resource,
        ])
        .current_dir(dir)
        .run()
        .success();
    dir.join("shop")
}

/// The up.sql of the migration whose directory name ends with `suffix`.
fn up_sql(project: &Path, suffix: &str) -> String {
    std::fs::read_dir(project.join("migrations"))
        .expect("dir")
        .filter_map(|e| e.ok())
        .find(|e| e.file_name().to_string_lossy().ends_with(suffix))
        .map(|e| std::fs::read_to_string(e.path().join("up.sql")).expect("up"))
        .expect("migration written")
}

#[test]
fn wizard_builds_a_project_with_a_relation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut p = wizard(dir.path(), &["new-project"]);
    answer(&mut p, "Project name", "shop\n");
    answer(&mut p, "Database", "\n");
    answer(&mut p, "Resource name", "author\n");
    // Invalid input is rejected at the prompt, with the reason, and asked again.
    answer(&mut p, "Field of `author`", "name:strng\n");
    answer(&mut p, "unknown type `strng`", "name:string(100)\n");
    answer(&mut p, "Field of `author`", "\n");
    answer(&mut p, "Another resource", "book\n");
    answer(&mut p, "Field of `book`", "title:string(200)\n");
    answer(&mut p, "Field of `book`", "\n");
    // Yes/no questions take a line: `y` and Enter, and nothing spills into the next prompt.
    answer(&mut p, "belong to another resource", "y\n");
    answer(&mut p, "belongs to", "\n");
    answer(&mut p, "is deleted", "\n");
    answer(&mut p, "Another resource", "\n");
    answer(&mut p, "Options", "\n");
    p.exp_eof().expect("finishes");
    assert_eq!(exit_code(&p), 0);
    let model = std::fs::read_to_string(dir.path().join("shop/dieselkit.toml")).expect("model");
    assert!(
        model.contains(r#"fields = ["name:string(100)"]"#),
        "{model}"
    );
    assert!(
        model.contains(r#""title:string(200)", "author:references:on_delete=restrict""#),
        "{model}"
    );
}

#[test]
fn wizard_asks_only_what_flags_left_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut p = wizard(
        dir.path(),
        &[
            "new-project",
            "--backend",
            "sqlite",
            "--no-ci",
            "--resource",
            "author name:text",
        ],
    );
    // Name is the only missing answer.
    answer(&mut p, "Project name", "shop\n");
    p.exp_eof().expect("no further prompts");
    assert_eq!(exit_code(&p), 0);
    assert!(dir.path().join("shop/src/schema.rs").exists());
    assert!(
        !dir.path().join("shop/.github").exists(),
        "--no-ci respected"
    );
}

#[test]
fn ctrl_c_at_a_prompt_writes_nothing_and_exits_130() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut p = wizard(dir.path(), &["new-project"]);
    answer(&mut p, "Project name", "shop\n");
    answer(&mut p, "Database", "\n");
    p.exp_string("Resource name").expect("resource prompt");
    std::thread::sleep(std::time::Duration::from_millis(300));
    p.send_control('c').expect("ctrl-c");
    p.exp_string("nothing was written").expect("abort message");
    assert_eq!(exit_code(&p), 130);
    assert!(tree(dir.path()).is_empty(), "nothing may be written");
}

#[test]
fn generate_asks_whether_a_vanished_column_was_renamed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let project = shop_with(dir.path(), "user email:string(255) age:int?");
    let model = project.join("dieselkit.toml");
    let text = std::fs::read_to_string(&model).expect("model");
    std::fs::write(&model, text.replace("\"age:int?\"", "\"years_old:int?\"")).expect("write");
    let mut p = wizard(&project, &["generate", "migration", "-m", "rename age"]);
    answer(&mut p, "is `years_old` the column `age` renamed?", "y\n");
    p.exp_eof().expect("finishes");
    assert_eq!(exit_code(&p), 0);
    let model = std::fs::read_to_string(&model).expect("model");
    assert!(
        model.contains("years_old:int?:renamed_from=age"),
        "the answer is recorded in the model:\n{model}"
    );
    let up = up_sql(&project, "rename_age");
    assert!(
        up.contains("ALTER TABLE users RENAME COLUMN age TO years_old"),
        "{up}"
    );
}

#[test]
fn generate_asks_whether_a_vanished_table_was_renamed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let project = shop_with(dir.path(), "customer email:string(255):unique");
    let model = project.join("dieselkit.toml");
    let text = std::fs::read_to_string(&model).expect("model");
    std::fs::write(
        &model,
        text.replace("name = \"customer\"", "name = \"client\""),
    )
    .expect("write");
    let mut p = wizard(
        &project,
        &["generate", "migration", "-m", "rename customers"],
    );
    answer(
        &mut p,
        "Is table `clients` the table `customers` renamed?",
        "y\n",
    );
    p.exp_eof().expect("finishes");
    assert_eq!(exit_code(&p), 0);
    let model = std::fs::read_to_string(&model).expect("model");
    assert!(
        model.contains("renamed_from = \"customer\""),
        "the answer is recorded in the model:\n{model}"
    );
    let up = up_sql(&project, "rename_customers");
    assert!(
        up.contains("ALTER TABLE customers RENAME TO clients;"),
        "{up}"
    );
    assert!(
        up.contains("CREATE UNIQUE INDEX index_clients_on_email ON clients (email);"),
        "{up}"
    );
    assert!(project.join("src/models/client.rs").exists());
    assert!(!project.join("src/models/customer.rs").exists());
}

/// The tutorial's blog as a new user answers it: a comment belongs to a post and to a user
/// (`user:references` is the column `user_id`, no reserved word), a field named with a
/// reserved word is refused at its prompt, and when the destination turns out to be taken
/// after every question, the answers are saved for `--from` instead of thrown away.
#[test]
fn wizard_takes_several_relations_and_keeps_answers_on_a_late_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("blog")).expect("mkdir");
    std::fs::write(dir.path().join("blog/notes.txt"), "mine").expect("write");
    let mut p = wizard(dir.path(), &["new-project"]);
    answer(&mut p, "Project name", "blog\n");
    answer(&mut p, "Database", "\n");
    answer(&mut p, "Resource name", "user\n");
    answer(&mut p, "Field of `user`", "email:string(255):unique\n");
    answer(&mut p, "Field of `user`", "\n");
    answer(&mut p, "Another resource", "post\n");
    answer(&mut p, "Field of `post`", "order:int\n");
    answer(
        &mut p,
        "`order` is an SQL reserved word",
        "title:string(200)\n",
    );
    answer(&mut p, "Field of `post`", "\n");
    answer(&mut p, "belong to another resource", "y\n");
    answer(&mut p, "belongs to", "\n");
    answer(&mut p, "is deleted", "\n");
    answer(&mut p, "Another resource", "comment\n");
    answer(&mut p, "Field of `comment`", "body:text\n");
    answer(&mut p, "Field of `comment`", "\n");
    answer(&mut p, "belong to another resource", "y\n");
    // `post` is offered first (the newest), then `user` is the one left.
    answer(&mut p, "belongs to", "\n");
    answer(&mut p, "is deleted", "\n");
    answer(&mut p, "belong to yet another resource", "yes\n");
    answer(&mut p, "belongs to", "\n");
    answer(&mut p, "is deleted", "\n");
    answer(&mut p, "Another resource", "\n");
    answer(&mut p, "Options", "\n");
    p.exp_string("dieselkit-answers.toml")
        .expect("answers saved");
    p.exp_eof().expect("finishes");
    assert_ne!(exit_code(&p), 0, "the destination is not empty");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("blog/notes.txt")).expect("kept"),
        "mine"
    );
    let saved = dir.path().join("dieselkit-answers.toml");
    let answers = std::fs::read_to_string(&saved).expect("answers");
    for expected in [
        "\"post:references:on_delete=restrict\"",
        "\"user:references:on_delete=restrict\"",
        "title:string(200)",
    ] {
        assert!(answers.contains(expected), "{expected} in {answers}");
    }
    crate::support::dk()
        .args([
            "new-project",
            "--from",
            "dieselkit-answers.toml",
            "--output",
            "blog2",
        ])
        .current_dir(dir.path())
        .run()
        .success();
    let model = std::fs::read_to_string(dir.path().join("blog2/dieselkit.toml")).expect("model");
    assert!(model.contains("user:references"), "{model}");
}

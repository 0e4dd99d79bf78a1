//! CLI behaviour: bad input gets the promised message and exit code and writes nothing;
//! existing directories are refused; dry runs write nothing; output is deterministic.

use crate::support::{dk, example, tree};

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

#[test]
fn bad_field_spec_names_the_field_and_writes_nothing() {
    let dir = tmp();
    let cases: &[(&str, &str)] = &[
        ("book title:strng(3)", "unknown type `strng`"),
        ("book title:string", "`string` needs a maximum length"),
        ("book type:text", "`type` is a Rust keyword"),
        ("book select:text", "`select` is an SQL reserved word"),
        (
            "book title:text title:text",
            "column `title` is already defined by field 1",
        ),
        ("book Title:text", "try `title`"),
        (
            "book author:references",
            "references unknown resource `author`",
        ),
        ("book n:int:default=x", "`default=x` is not a valid integer"),
        ("book id:int", "generated for every table"),
        (
            "books title:text",
            "resource names are singular: use `book`",
        ),
    ];
    for (spec, message) in cases {
        dk().args(["new-project", "shop", "--resource", spec])
            .current_dir(dir.path())
            .run()
            .usage_error()
            .stderr_has(message);
    }
    assert!(tree(dir.path()).is_empty(), "nothing may be written");
}

#[test]
fn error_points_at_the_offending_part() {
    let dir = tmp();
    let run = dk()
        .args(["new-project", "shop", "--resource", "book title:strng(3)"])
        .current_dir(dir.path())
        .run()
        .usage_error();
    assert!(
        run.stderr()
            .contains("resource 1 (`book`), field 1 (`title:strng(3)`)"),
        "{}",
        run.stderr()
    );
    assert!(
        run.stderr()
            .contains("    title:strng(3)\n          ^^^^^^^^"),
        "{}",
        run.stderr()
    );
}

#[test]
fn invalid_project_name_and_missing_answers_without_a_terminal() {
    let dir = tmp();
    dk().args(["new-project", "1shop", "--resource", "a_b name:text"])
        .current_dir(dir.path())
        .run()
        .usage_error()
        .stderr_has("not a valid package name");
    dk().args(["new-project", "--resource", "author name:text"])
        .current_dir(dir.path())
        .run()
        .usage_error()
        .stderr_has("the project name is missing and there is no terminal");
    dk().args(["new-project", "shop"])
        .current_dir(dir.path())
        .run()
        .usage_error()
        .stderr_has("at least one resource is missing");
    assert!(tree(dir.path()).is_empty());
}

#[test]
fn bad_toml_names_the_file() {
    let dir = tmp();
    let file = dir.path().join("model.toml");
    std::fs::write(
        &file,
        "[project]\nname = \"shop\"\n[[resources]]\nnam = \"x\"\n",
    )
    .expect("write");
    dk().args(["new-project", "--from"])
        .args([&file])
        .current_dir(dir.path())
        .run()
        .usage_error()
        .stderr_has("model.toml` is not valid TOML")
        .stderr_has("unknown field `nam`");
    dk().args(["new-project", "--from", "missing.toml"])
        .current_dir(dir.path())
        .run()
        .failure()
        .stderr_has("cannot read `missing.toml`");
}

#[test]
fn unknown_backend_is_a_usage_error() {
    let dir = tmp();
    dk().args([
        "new-project",
        "shop",
        "--backend",
        "oracle",
        "--resource",
        "a_b name:text",
    ])
    .current_dir(dir.path())
    .run()
    .usage_error()
    .stderr_has("invalid value 'oracle'")
    .stderr_has("sqlite, postgres, mysql");
    let file = dir.path().join("model.toml");
    std::fs::write(&file, "[project]\nname = \"shop\"\nbackend = \"oracle\"\n").expect("write");
    dk().args(["new-project", "--from"])
        .args([&file])
        .current_dir(dir.path())
        .run()
        .usage_error()
        .stderr_has("unknown variant `oracle`");
    assert_eq!(tree(dir.path()).len(), 1, "only the model file");
}

#[test]
fn server_backends_generate_projects() {
    for backend in ["postgres", "mysql"] {
        let dir = tmp();
        let run = dk()
            .args(["new-project", "--backend", backend, "--dry-run", "--from"])
            .args([example("bookstore.toml")])
            .current_dir(dir.path())
            .run()
            .success();
        assert!(run.stdout().contains("src/schema.rs"));
        if backend == "postgres" {
            assert!(
                run.stdout()
                    .contains("migrations/00000000000000_diesel_initial_setup/up.sql"),
                "{}",
                run.stdout()
            );
        }
        assert!(tree(dir.path()).is_empty());
    }
}

#[test]
fn existing_directory_is_refused_without_force() {
    let dir = tmp();
    let dest = dir.path().join("bookstore");
    std::fs::create_dir(&dest).expect("mkdir");
    std::fs::write(dest.join("notes.txt"), "mine").expect("write");
    dk().args(["new-project", "--from"])
        .args([example("bookstore.toml")])
        .current_dir(dir.path())
        .run()
        .failure()
        .stderr_has("destination `./bookstore` already exists")
        .stderr_has("--force");
    assert_eq!(tree(&dest).len(), 1, "the refused run must not write");
    dk().args(["new-project", "--force", "--from"])
        .args([example("bookstore.toml")])
        .current_dir(dir.path())
        .run()
        .success();
    assert_eq!(
        std::fs::read_to_string(dest.join("notes.txt")).expect("read"),
        "mine"
    );
    assert!(dest.join("src/schema.rs").exists());
}

#[test]
fn dry_run_prints_the_tree_and_writes_nothing() {
    let dir = tmp();
    let run = dk()
        .args(["new-project", "--dry-run", "--from"])
        .args([example("bookstore.toml")])
        .current_dir(dir.path())
        .run()
        .success();
    for path in [
        "Cargo.toml",
        "src/schema.rs",
        "migrations/2023-11-14-221320_create_authors/up.sql",
        ".dieselkit/manifest.toml",
    ] {
        assert!(
            run.stdout().contains(path),
            "dry run lists {path}:\n{}",
            run.stdout()
        );
    }
    assert!(tree(dir.path()).is_empty());
}

#[test]
fn same_model_and_clock_give_identical_trees() {
    let a = tmp();
    let b = tmp();
    for dir in [&a, &b] {
        dk().args(["new-project", "--from"])
            .args([example("bookstore.toml")])
            .current_dir(dir.path())
            .run()
            .success();
    }
    let ta = tree(&a.path().join("bookstore"));
    assert!(ta.len() > 10, "a full project is generated");
    assert_eq!(ta, tree(&b.path().join("bookstore")));
}

#[test]
fn flags_and_model_file_agree() {
    let a = tmp();
    let b = tmp();
    dk().args(["new-project", "--from"])
        .args([example("bookstore.toml")])
        .current_dir(a.path())
        .run()
        .success();
    dk().args([
        "new-project",
        "bookstore",
        "--resource",
        "author name:string(100) bio:text?",
        "--resource",
        "book title:string(200) isbn:string(13):unique published_on:date? price:decimal(10,2):default=0 author:references:on_delete=cascade",
    ])
    .current_dir(b.path())
    .run()
    .success();
    assert_eq!(
        tree(&a.path().join("bookstore")),
        tree(&b.path().join("bookstore"))
    );
}

#[test]
fn generated_model_file_regenerates_the_same_project() {
    let a = tmp();
    let b = tmp();
    dk().args(["new-project", "--from"])
        .args([example("bookstore.toml")])
        .current_dir(a.path())
        .run()
        .success();
    dk().args(["new-project", "--from"])
        .args([a.path().join("bookstore/dieselkit.toml")])
        .current_dir(b.path())
        .run()
        .success();
    assert_eq!(
        tree(&a.path().join("bookstore")),
        tree(&b.path().join("bookstore"))
    );
}

#[test]
fn template_overrides_replace_single_files() {
    let dir = tmp();
    let templates = dir.path().join("house");
    std::fs::create_dir_all(&templates).expect("mkdir");
    std::fs::write(
        templates.join("README.md.tera"),
        "# {{ project.name }} (house style)\n",
    )
    .expect("write");
    std::fs::write(templates.join("CODEOWNERS"), "* @platform\n").expect("write");
    dk().args(["new-project", "--templates"])
        .args([&templates])
        .args(["--from"])
        .args([example("bookstore.toml")])
        .current_dir(dir.path())
        .run()
        .success();
    let dest = dir.path().join("bookstore");
    assert_eq!(
        std::fs::read_to_string(dest.join("README.md")).expect("read"),
        "# bookstore (house style)\n"
    );
    assert_eq!(
        std::fs::read_to_string(dest.join("CODEOWNERS")).expect("read"),
        "* @platform\n"
    );
    assert!(
        dest.join("src/main.rs").exists(),
        "other templates still apply"
    );

    std::fs::write(templates.join("README.md.tera"), "{{ no_such_key }}\n").expect("write");
    dk().args(["new-project", "--force", "--templates"])
        .args([&templates])
        .args(["--from"])
        .args([example("bookstore.toml")])
        .current_dir(dir.path())
        .run()
        .failure()
        .stderr_has("template `README.md.tera` failed to render")
        .stderr_has("no_such_key");
}

/// A team's templates on the generated/yours layout: an override of one of dieselkit's files
/// (`API.md`) is rewritten by every `generate`; an override of a file of the user's (the
/// per-resource routes file) shapes the files created for new resources and never rewrites
/// an existing one.
#[test]
fn team_templates_override_generated_and_user_files() {
    let dir = tmp();
    let templates = dir.path().join("house");
    std::fs::create_dir_all(templates.join("src/routes")).expect("mkdir");
    std::fs::write(
        templates.join("API.md.tera"),
        "# {{ project.name }} endpoints\n{% for r in resources %}- /{{ r.table }}\n{% endfor %}",
    )
    .expect("write");
    std::fs::write(
        templates.join("src/routes/__resource__.rs.tera"),
        "//! House routes for {{ resource.table }}.\n\nuse actix_web::web;\n\npub fn configure(_cfg: &mut web::ServiceConfig) {}\n",
    )
    .expect("write");
    dk().args(["new-project", "--templates"])
        .args([&templates])
        .args(["--from"])
        .args([example("bookstore.toml")])
        .current_dir(dir.path())
        .run()
        .success();
    let dest = dir.path().join("bookstore");
    let read = |path: &str| std::fs::read_to_string(dest.join(path)).expect(path);
    assert_eq!(
        read("API.md"),
        "# bookstore endpoints\n- /authors\n- /books\n"
    );
    assert!(read("src/routes/book.rs").starts_with("//! House routes for books."));
    // The user edits one of their files; the team keeps its templates in the project.
    let mine = "//! Mine now.\n\nuse actix_web::web;\n\npub fn configure(_cfg: &mut web::ServiceConfig) {}\n";
    std::fs::write(dest.join("src/routes/author.rs"), mine).expect("write");
    let project_templates = dest.join(".dieselkit/templates");
    std::fs::create_dir_all(project_templates.join("src/routes")).expect("mkdir");
    for file in ["API.md.tera", "src/routes/__resource__.rs.tera"] {
        std::fs::copy(templates.join(file), project_templates.join(file)).expect("copy");
    }
    dk().args([
        "generate",
        "resource",
        "review",
        "body:text",
        "book:references",
    ])
    .current_dir(&dest)
    .env("SOURCE_DATE_EPOCH", "1800000000")
    .run()
    .success();
    assert_eq!(
        read("API.md"),
        "# bookstore endpoints\n- /authors\n- /books\n- /reviews\n",
        "dieselkit's file is rewritten from the team's template"
    );
    assert!(read("src/routes/review.rs").starts_with("//! House routes for reviews."));
    assert_eq!(
        read("src/routes/author.rs"),
        mine,
        "the user's file is kept"
    );
    assert!(read("src/routes/mod.rs").contains("pub mod review;"));
}

#[test]
fn migrate_without_a_database_url_says_where_to_set_one() {
    let dir = tmp();
    std::fs::create_dir(dir.path().join("migrations")).expect("mkdir");
    dk().args(["migrate", "status"])
        .current_dir(dir.path())
        .run()
        .failure()
        .stderr_has("no database URL")
        .stderr_has("MIGRATION_DATABASE_URL");
    dk().args([
        "migrate",
        "status",
        "--database-url",
        "x.db",
        "--project-dir",
        "/nonexistent-dk",
    ])
    .run()
    .failure()
    .stderr_has("no migrations directory");
}

#[test]
fn completions_are_printed() {
    let run = dk().args(["completions", "bash"]).run().success();
    assert!(run.stdout().contains("new-project"));
}

fn tiny_migrations(dir: &std::path::Path) {
    for (version, table) in [
        ("2024-01-01-000000", "first"),
        ("2024-01-02-000000", "second"),
    ] {
        let m = dir
            .join("migrations")
            .join(format!("{version}_create_{table}"));
        std::fs::create_dir_all(&m).expect("mkdir");
        std::fs::write(
            m.join("up.sql"),
            format!("CREATE TABLE {table} (id INTEGER PRIMARY KEY);\n"),
        )
        .expect("up");
        std::fs::write(m.join("down.sql"), format!("DROP TABLE {table};\n")).expect("down");
    }
}

#[test]
fn migrate_url_precedence_flag_then_migration_url_then_database_url_then_env_file() {
    let dir = tmp();
    tiny_migrations(dir.path());
    std::fs::write(dir.path().join(".env"), "DATABASE_URL=from_env_file.db\n").expect(".env");
    dk().args(["migrate", "run", "-v"])
        .current_dir(dir.path())
        .run()
        .success()
        .stderr_has("from DATABASE_URL in ./.env");
    assert!(
        dir.path().join("from_env_file.db").exists(),
        "the database file is created"
    );
    dk().args(["migrate", "run", "-v"])
        .current_dir(dir.path())
        .env("DATABASE_URL", "pooled.db")
        .env("MIGRATION_DATABASE_URL", "direct.db")
        .run()
        .success()
        .stderr_has("direct.db (from environment variable MIGRATION_DATABASE_URL)");
    dk().args(["migrate", "run", "-v", "--database-url", "flag.db"])
        .current_dir(dir.path())
        .env("MIGRATION_DATABASE_URL", "direct.db")
        .run()
        .success()
        .stderr_has("flag.db (from --database-url)");
}

#[test]
fn migrate_targets_and_status() {
    let dir = tmp();
    tiny_migrations(dir.path());
    let db = ["--database-url", "app.db"];
    dk().args(["migrate", "run", "--to", "2024-01-01-000000"])
        .args(db)
        .current_dir(dir.path())
        .run()
        .success();
    let status = dk()
        .args(["migrate", "status"])
        .args(db)
        .current_dir(dir.path())
        .run()
        .success();
    assert!(
        status
            .stdout()
            .contains("2024-01-01-000000_create_first   applied"),
        "{}",
        status.stdout()
    );
    assert!(
        status
            .stdout()
            .contains("2024-01-02-000000_create_second  pending"),
        "{}",
        status.stdout()
    );
    dk().args(["migrate", "run"])
        .args(db)
        .current_dir(dir.path())
        .run()
        .success()
        .stderr_has("Applying 2024-01-02-000000_create_second");
    dk().args(["migrate", "run"])
        .args(db)
        .current_dir(dir.path())
        .run()
        .success()
        .stderr_has("up to date");
    dk().args(["migrate", "redo", "-n", "2"])
        .args(db)
        .current_dir(dir.path())
        .run()
        .success()
        .stderr_has("redid 2 migration(s)");
    dk().args(["migrate", "revert"])
        .args(db)
        .current_dir(dir.path())
        .run()
        .success()
        .stderr_has("Reverting 2024-01-02-000000_create_second");
    dk().args(["migrate", "revert", "--all"])
        .args(db)
        .current_dir(dir.path())
        .run()
        .success()
        .stderr_has("Reverting 2024-01-01-000000_create_first");
    let status = dk()
        .args(["migrate", "status"])
        .args(db)
        .current_dir(dir.path())
        .run()
        .success();
    assert_eq!(status.stdout().matches("pending").count(), 2);
    dk().args(["migrate", "run", "--to", "1999"])
        .args(db)
        .current_dir(dir.path())
        .run()
        .usage_error()
        .stderr_has("no migration has that version");
}

#[test]
fn failing_migration_names_the_migration_and_keeps_the_previous_version() {
    let dir = tmp();
    tiny_migrations(dir.path());
    std::fs::write(
        dir.path()
            .join("migrations/2024-01-02-000000_create_second/up.sql"),
        "CREATE TABLE second (id INTEGER PRIMARY KEY);\nINSERT INTO nowhere VALUES (1);\n",
    )
    .expect("write");
    let db = ["--database-url", "app.db"];
    dk().args(["migrate", "run"])
        .args(db)
        .current_dir(dir.path())
        .run()
        .failure()
        .stderr_has("migration `2024-01-02-000000_create_second` failed in")
        .stderr_has("create_second/up.sql")
        .stderr_has("rolled back")
        .stderr_has("nowhere");
    let status = dk()
        .args(["migrate", "status"])
        .args(db)
        .current_dir(dir.path())
        .run()
        .success();
    assert!(
        status.stdout().contains("create_first   applied"),
        "{}",
        status.stdout()
    );
    assert!(
        status.stdout().contains("create_second  pending"),
        "{}",
        status.stdout()
    );
    let mut m = dieselkit::migrations::Migrator::open("app.db", dir.path()).expect("open");
    assert_eq!(
        m.table_names().expect("tables"),
        ["first"],
        "the failed migration was rolled back"
    );
}

/// The small things a new user met: an upper-case project name is refused with the name to
/// use (cargo would warn about it); `generate field` with the table name suggests the
/// resource; `-q` prints nothing but errors (no SQL); `user:references` is fine.
#[test]
fn first_hour_papercuts() {
    let dir = tmp();
    dk().args(["new-project", "Blog", "--resource", "post title:text"])
        .current_dir(dir.path())
        .run()
        .usage_error()
        .stderr_has("use `blog`");
    assert!(tree(dir.path()).is_empty(), "nothing written");
    dk().args([
        "new-project",
        "blog",
        "--resource",
        "user email:string(120)",
        "--resource",
        "post title:text user:references",
    ])
    .current_dir(dir.path())
    .run()
    .success();
    let project = dir.path().join("blog");
    dk().args(["generate", "field", "users", "age:int?"])
        .current_dir(&project)
        .run()
        .usage_error()
        .stderr_has("did you mean `user`");
    let quiet = dk()
        .args(["-q", "generate", "field", "user", "age:int?"])
        .current_dir(&project)
        .run()
        .success();
    assert_eq!(quiet.stdout(), "", "-q prints no SQL");
    assert!(
        !quiet.stderr().contains("Replaying"),
        "-q prints no status: {}",
        quiet.stderr()
    );
}

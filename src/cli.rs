//! Command-line arguments (clap derive). Raw arguments only: validation happens when they
//! become a [`crate::spec::Model`] or a migration request.

use crate::spec::Backend;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "dieselkit",
    version,
    about = "Scaffold, evolve and migrate Diesel + actix-web services",
    long_about = "Scaffold, evolve and migrate Diesel + actix-web services.\n\n\
        Exit codes: 0 ok, 1 error, 2 usage or invalid input, 3 problems found, 130 aborted prompt.",
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Database to migrate [default: MIGRATION_DATABASE_URL, else DATABASE_URL, from the
    /// environment, else from the project's .env]
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// The project to work in [default: current directory]
    #[arg(long, global = true, value_name = "DIR")]
    pub project_dir: Option<PathBuf>,
    /// Print only errors
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Print more detail (where the database URL came from, each file written)
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// When to color output
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate a new Diesel + actix-web service
    #[command(name = "new-project")]
    NewProject(NewProjectArgs),
    /// Evolve the model: add resources or fields, or diff dieselkit.toml into a migration
    #[command(subcommand)]
    Generate(GenerateCommand),
    /// Apply, revert and inspect migrations
    Migrate(MigrateArgs),
    /// Rewrite dieselkit's files with this version's templates and create your missing ones;
    /// moves a 0.1 project to the current layout (generated code in src/generated/)
    Update {
        /// Fail unless the rewritten Rust can be formatted with rustfmt (by default it is
        /// formatted, with the project's rustfmt.toml, when rustfmt is installed)
        #[arg(long)]
        fmt: bool,
        /// Do not format the rewritten Rust with rustfmt
        #[arg(long, conflicts_with = "fmt")]
        no_fmt: bool,
        /// Write nothing; list what would change and exit 3 if anything would (for CI)
        #[arg(long)]
        check: bool,
        /// Write nothing; show what would change, as unified diffs
        #[arg(long, conflicts_with = "check")]
        dry_run: bool,
        /// A team's template set to take (copied into .dieselkit/templates/, so later
        /// `generate`s use it too) [default: the project's .dieselkit/templates/]
        #[arg(long, value_name = "DIR")]
        templates: Option<PathBuf>,
    },
    /// Report drift between the model, the migrations, schema.rs and the live database
    /// (exit 3 when anything differs)
    Check {
        /// Print JSON instead of text
        #[arg(long)]
        json: bool,
    },
    /// Flag dangerous operations in migrations (exit 3 on errors)
    Lint {
        /// A migrations directory or one migration's directory [default: ./migrations]
        path: Option<PathBuf>,
        /// Print JSON instead of text
        #[arg(long)]
        json: bool,
    },
    /// Print a shell completion script
    Completions {
        /// The shell to complete for
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Args)]
pub struct NewProjectArgs {
    /// Project (and crate) name; asked for when missing and a terminal is attached
    pub name: Option<String>,
    /// Database backend [default: sqlite]
    #[arg(long, value_enum)]
    pub backend: Option<Backend>,
    /// A resource and its fields: 'NAME FIELD...', e.g. 'author name:string(100) bio:text?'
    /// (repeatable; see the field-spec grammar in the README)
    #[arg(long = "resource", value_name = "SPEC")]
    pub resources: Vec<String>,
    /// Read answers and resources from a dieselkit.toml
    #[arg(long, value_name = "FILE")]
    pub from: Option<PathBuf>,
    /// Ask nothing: use defaults for every answer not given by a flag or --from
    #[arg(short, long)]
    pub yes: bool,
    /// Print the files that would be written and write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Write into an existing non-empty directory, replacing generated files
    #[arg(long)]
    pub force: bool,
    /// A directory of templates overriding the built-in ones, file by file
    /// [default: .dieselkit/templates next to the --from file, if present]
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
    /// Where to create the project [default: ./NAME]
    #[arg(long, short, value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// Do not generate src/bin/seed.rs
    #[arg(long)]
    pub no_seed: bool,
    /// Do not generate a CI workflow
    #[arg(long)]
    pub no_ci: bool,
    /// Fail unless the generated Rust can be formatted with rustfmt (by default it is
    /// formatted when rustfmt is installed; `RUSTFMT` overrides the program)
    #[arg(long)]
    pub fmt: bool,
    /// Do not format the generated Rust with rustfmt
    #[arg(long, conflicts_with = "fmt")]
    pub no_fmt: bool,
}

#[derive(Debug, Args)]
pub struct EvolveArgs {
    /// Fill existing rows of a new NOT NULL column (or one becoming NOT NULL) with an SQL
    /// expression: `RESOURCE.FIELD=SQL` (`FIELD=SQL` with `generate field`), e.g.
    /// `--backfill "user.timezone='UTC'"` (repeatable)
    #[arg(long, value_name = "FIELD=SQL")]
    pub backfill: Vec<String>,
    /// Confirm that tables or columns removed from the model are dropped, with their data
    #[arg(long)]
    pub allow_drop: bool,
    /// Fail unless the regenerated Rust can be formatted with rustfmt (by default it is
    /// formatted, with the project's rustfmt.toml, when rustfmt is installed)
    #[arg(long)]
    pub fmt: bool,
    /// Do not format the regenerated Rust with rustfmt
    #[arg(long, conflicts_with = "fmt")]
    pub no_fmt: bool,
    /// PostgreSQL: build and drop indexes of existing tables with CONCURRENTLY (no write
    /// lock on the table), each in its own migration with `run_in_transaction = false`
    #[arg(long)]
    pub concurrently: bool,
}

#[derive(Debug, Subcommand)]
pub enum GenerateCommand {
    /// Add a resource (table, model, routes, tests) and its migration
    Resource {
        /// Singular snake_case name, e.g. `review`
        name: String,
        /// Field specs, e.g. `body:text rating:smallint book:references`
        #[arg(value_name = "FIELD")]
        fields: Vec<String>,
        #[command(flatten)]
        evolve: EvolveArgs,
    },
    /// Add fields to a resource and generate their migration
    Field {
        /// The resource to extend, e.g. `author`
        resource: String,
        /// Field specs, e.g. `country:string(100)?`
        #[arg(value_name = "FIELD", required = true)]
        fields: Vec<String>,
        #[command(flatten)]
        evolve: EvolveArgs,
    },
    /// Diff dieselkit.toml against the schema the migrations produce and write the
    /// migration (after editing dieselkit.toml by hand)
    Migration {
        /// What the migration does; becomes its directory name
        #[arg(
            short,
            long,
            value_name = "MESSAGE",
            required_unless_present = "rebase"
        )]
        message: Option<String>,
        /// Write an empty up.sql/down.sql pair for hand-written SQL
        #[arg(long)]
        empty: bool,
        /// After a merge: renumber the pending migrations that are older than the newest
        /// one the database applied (merged from another branch) after the newest migration,
        /// and check on a scratch database that all of them still apply; of two migrations
        /// that collide (`dieselkit check`), set the merged one aside and write it again from
        /// dieselkit.toml
        #[arg(long, conflicts_with_all = ["message", "empty"])]
        rebase: bool,
        /// Adopt drift: write what was changed by hand on the live database (added columns
        /// and indexes) as a migration and the matching change to dieselkit.toml, and record
        /// the migration as applied there. Never drops or resets anything
        #[arg(long, conflicts_with_all = ["empty", "rebase"])]
        from_database: bool,
        #[command(flatten)]
        evolve: EvolveArgs,
    },
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Seconds to wait for another process's migration lock
    #[arg(long, global = true, value_name = "SECS", default_value_t = 60)]
    pub lock_timeout: u64,
    /// Seconds a migration's statement may wait for a table lock held by another session
    /// (PostgreSQL `lock_timeout`, MySQL `lock_wait_timeout`) before it gives up; it is
    /// retried twice, after 1 and 2 seconds
    #[arg(
        long,
        global = true,
        value_name = "SECS",
        env = "DIESELKIT_DDL_LOCK_TIMEOUT",
        default_value_t = 5
    )]
    pub ddl_lock_timeout: u64,
    #[command(subcommand)]
    pub command: MigrateCommand,
}

#[derive(Debug, Subcommand)]
pub enum MigrateCommand {
    /// Apply pending migrations (creates the database if missing)
    Run {
        /// Stop after this version (e.g. 2024-01-15-093000)
        #[arg(long, value_name = "VERSION")]
        to: Option<String>,
        /// Apply at most N pending migrations
        #[arg(short = 'n', long = "number", value_name = "N", conflicts_with = "to")]
        number: Option<usize>,
        /// Print the SQL that would run, including bookkeeping and transactions; change nothing.
        /// Needs no database when none is configured or with `--from`
        #[arg(long)]
        sql: bool,
        /// With `--sql`: write the script for a database at VERSION (every migration after
        /// it), without connecting to any database; `--from 0` means an empty database
        #[arg(long, value_name = "VERSION", requires = "sql")]
        from: Option<String>,
        /// With `--sql` and no database: the backend to write SQL for (default: the
        /// project's, from dieselkit.toml)
        #[arg(long, value_enum, value_name = "BACKEND", requires = "sql")]
        backend: Option<Backend>,
        /// Refuse pending migrations older than the newest applied one (from a merged branch),
        /// and count any change to an applied migration's text as an edit (by default
        /// comments and whitespace do not count)
        #[arg(long)]
        strict: bool,
    },
    /// Revert applied migrations (the last one by default)
    Revert {
        /// How many migrations to revert
        #[arg(short = 'n', long = "number", value_name = "N", conflicts_with_all = ["all", "to"])]
        number: Option<usize>,
        /// Revert every migration newer than this version
        #[arg(long, value_name = "VERSION", conflicts_with = "all")]
        to: Option<String>,
        /// Revert every applied migration
        #[arg(long)]
        all: bool,
        /// Print the SQL that would run; change nothing
        #[arg(long)]
        sql: bool,
    },
    /// Revert and re-apply the last migration(s)
    Redo {
        /// How many migrations to redo
        #[arg(short = 'n', long = "number", value_name = "N", conflicts_with = "all")]
        number: Option<usize>,
        /// Redo every applied migration
        #[arg(long)]
        all: bool,
    },
    /// List migrations: applied or pending, when applied, checksum state
    Status {
        /// Print JSON instead of a table
        #[arg(long)]
        json: bool,
        /// Exit 3 when an applied migration was edited or has no directory; count any change
        /// to an applied migration's text as an edit, comments and whitespace included
        #[arg(long)]
        strict: bool,
    },
    /// List applied migrations in the order they were applied
    History {
        /// Print JSON instead of a table
        #[arg(long)]
        json: bool,
    },
    /// Print the newest applied version
    Current,
    /// Mark migrations up to VERSION as applied without running them (adopt an existing
    /// database), or accept an edit to an applied migration by re-recording its checksum
    Stamp {
        /// The version to stamp up to
        #[arg(value_name = "VERSION")]
        target: String,
    },
    /// Replay every migration on a scratch database and check each down.sql restores the
    /// schema exactly (exit 3 if not)
    Verify,
    /// Replace the migrations up to VERSION with one baseline migration that builds the same
    /// schema; databases that applied them keep working
    Squash {
        /// The last migration to squash [default: the newest]
        #[arg(long, value_name = "VERSION")]
        to: Option<String>,
        /// What the baseline is called
        #[arg(
            short,
            long,
            value_name = "MESSAGE",
            default_value = "squashed baseline"
        )]
        message: String,
        /// Squash even though some of the migrations write rows (INSERT, UPDATE, DELETE),
        /// which the baseline will not repeat
        #[arg(long)]
        allow_data: bool,
    },
}

#[cfg(test)]
mod tests {
    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}

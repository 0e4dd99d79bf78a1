//! One module per subcommand: each turns arguments into calls of the library stages and
//! reports through [`crate::ui::Ui`].

pub mod advice;
pub mod check;
pub mod generate;
pub mod lint;
pub mod migrate;
pub mod new_project;

use crate::cli::{Cli, Command};
use crate::error::Result;
use crate::ui::Ui;

/// Run a parsed command line; returns the process exit code.
pub fn run(cli: Cli, ui: &Ui) -> Result<i32> {
    match cli.command {
        Command::NewProject(args) => new_project::run(args, &cli.global, ui),
        Command::Migrate(args) => migrate::run(args, &cli.global, ui),
        Command::Generate(cmd) => generate::run(cmd, &cli.global, ui),
        Command::Update {
            fmt,
            no_fmt,
            check,
            dry_run,
            templates,
        } => generate::update(
            generate::UpdateArgs {
                fmt,
                no_fmt,
                check,
                dry_run,
                templates,
            },
            &cli.global,
            ui,
        ),
        Command::Check { json } => check::run(json, &cli.global, ui),
        Command::Lint { path, json } => lint::run(path, json, &cli.global, ui),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            let mut cmd = Cli::command();
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut cmd, "dieselkit", &mut out);
            ui.data(String::from_utf8_lossy(&out));
            Ok(0)
        }
    }
}

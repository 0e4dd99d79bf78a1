//! The `dieselkit` binary: parse, call the library, turn the outcome into an exit code.

use clap::Parser;
use dieselkit::cli::Cli;
use dieselkit::ui::Ui;

fn main() {
    let cli = Cli::parse();
    let ui = Ui::new(cli.global.quiet, cli.global.verbose, cli.global.color);
    let code = match dieselkit::commands::run(cli, &ui) {
        Ok(code) => code,
        Err(e) => {
            ui.error(e.to_string());
            let mut source = std::error::Error::source(&e);
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            e.exit_code()
        }
    };
    std::process::exit(code);
}

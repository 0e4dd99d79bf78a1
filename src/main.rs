//! The `dieselkit` binary: parse, call the library, turn the outcome into an exit code.

use clap::Parser;
use dieselkit::cli::{Cli, Command};
use dieselkit::ui::Ui;

fn main() {
    let cli = Cli::parse();
    let ui = Ui::new(cli.global.quiet, cli.global.verbose, cli.global.color);
    // Ctrl-C at a prompt: put the cursor back, say nothing was written, exit 130. Files are
    // only moved into place after the last prompt, so there is nothing to clean up.
    if matches!(cli.command, Command::NewProject(_)) {
        let interrupted_ui = ui.clone();
        let _ = ctrlc::set_handler(move || {
            if dieselkit::write::MOVING_INTO_PLACE.load(std::sync::atomic::Ordering::SeqCst) {
                return;
            }
            let _ = console::Term::stderr().show_cursor();
            eprintln!();
            interrupted_ui.error("aborted; nothing was written");
            std::process::exit(dieselkit::error::exit::ABORTED);
        });
    }
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

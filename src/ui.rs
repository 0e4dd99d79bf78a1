//! All terminal output goes through here: status lines (`Creating`, `Applying`) and
//! warnings to stderr, data to stdout. Library stages never print.

use crate::cli::ColorChoice;
use console::Style;
use std::io::{IsTerminal, Write};

#[derive(Debug, Clone)]
pub struct Ui {
    quiet: bool,
    verbose: bool,
    color: bool,
}

impl Ui {
    pub fn new(quiet: bool, verbose: bool, color: ColorChoice) -> Ui {
        let color = match color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
            }
        };
        Ui {
            quiet,
            verbose,
            color,
        }
    }

    fn paint(&self, style: Style, text: &str) -> String {
        if self.color {
            style.force_styling(true).apply_to(text).to_string()
        } else {
            text.to_string()
        }
    }

    /// A right-aligned verb and a message, like cargo's `   Compiling foo`.
    pub fn status(&self, verb: &str, message: impl AsRef<str>) {
        if self.quiet {
            return;
        }
        let verb = self.paint(Style::new().green().bold(), &format!("{verb:>12}"));
        eprintln!("{verb} {}", message.as_ref());
    }

    pub fn detail(&self, verb: &str, message: impl AsRef<str>) {
        if self.verbose {
            self.status(verb, message);
        }
    }

    pub fn warn(&self, message: impl AsRef<str>) {
        let label = self.paint(Style::new().yellow().bold(), "warning");
        eprintln!("{label}: {}", message.as_ref());
    }

    pub fn error(&self, message: impl AsRef<str>) {
        let label = self.paint(Style::new().red().bold(), "error");
        eprintln!("{label}: {}", message.as_ref());
    }

    /// Plain text for the user (next steps), suppressed by `-q`.
    pub fn note(&self, message: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("{}", message.as_ref());
        }
    }

    /// Data: always printed, to stdout.
    pub fn data(&self, text: impl AsRef<str>) {
        let mut out = std::io::stdout().lock();
        // A closed pipe (`| head`) is not an error worth reporting.
        let _ = out.write_all(text.as_ref().as_bytes());
        let _ = out.flush();
    }

    pub fn bold(&self, text: &str) -> String {
        self.paint(Style::new().bold(), text)
    }
}

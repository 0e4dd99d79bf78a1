//! The one error type of dieselkit. Every variant names the thing that is wrong and, where
//! there is one, the next step for the user.

use std::path::PathBuf;

/// Exit codes promised in the README.
pub mod exit {
    pub const OK: i32 = 0;
    pub const ERROR: i32 = 1;
    pub const USAGE: i32 = 2;
    /// `check`, `lint`, `migrate verify`, `migrate status --strict` and `update` (`--check`,
    /// or merge conflicts) found something: the command prints it and returns this code (no
    /// error maps to it).
    pub const PROBLEMS: i32 = 3;
    pub const ABORTED: i32 = 130;
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad user input in a field spec, a flag or dieselkit.toml (exit 2).
    #[error(transparent)]
    Spec(#[from] crate::spec::SpecError),

    #[error("{message}")]
    Usage { message: String },

    #[error("destination `{}` already exists and is not empty; use `--force` to overwrite it, or choose another name or `--output`", path.display())]
    DestinationExists { path: PathBuf },

    #[error("{what} is missing and there is no terminal to ask for it; {hint}")]
    MissingAnswer { what: String, hint: String },

    #[error("aborted; nothing was written")]
    Aborted,

    #[error(transparent)]
    Io(#[from] std::io::Error),

    #[error("cannot read `{}`: {error}", path.display())]
    ReadFile {
        path: PathBuf,
        error: std::io::Error,
    },

    #[error("`{}` is not valid TOML: {message}", path.display())]
    Toml { path: PathBuf, message: String },

    #[error("template `{template}` failed to render: {message}")]
    Template { template: String, message: String },

    #[error("no database URL: pass `--database-url`, or set `MIGRATION_DATABASE_URL` or `DATABASE_URL` (in the environment or in `{}`)", env_file.display())]
    NoDatabaseUrl { env_file: PathBuf },

    #[error("cannot open database `{url}`: {message}")]
    DatabaseConnect { url: String, message: String },

    #[error("no migrations directory at `{}`; run this inside a dieselkit or Diesel project, or pass `--project-dir`", path.display())]
    NoMigrations { path: PathBuf },

    #[error("migration `{name}` failed in `{}`: {message}", file.display())]
    MigrationFailed {
        name: String,
        file: PathBuf,
        message: String,
    },

    #[error("{0}")]
    Migration(String),

    #[error("database error: {0}")]
    Database(#[from] diesel::result::Error),

    #[error(
        "internal error: {0}; please report this at https://github.com/dieselkit/dieselkit/issues"
    )]
    Internal(String),
}

impl Error {
    pub fn usage(message: impl Into<String>) -> Self {
        Error::Usage {
            message: message.into(),
        }
    }

    /// The exit code this error maps to.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Spec(_)
            | Error::Usage { .. }
            | Error::MissingAnswer { .. }
            | Error::Toml { .. } => exit::USAGE,
            Error::Aborted => exit::ABORTED,
            _ => exit::ERROR,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The result of a scoped worker thread: its own, or an internal error naming `what` ran
/// on it when it panicked.
pub fn joined<T>(handle: std::thread::ScopedJoinHandle<'_, Result<T>>, what: &str) -> Result<T> {
    handle
        .join()
        .unwrap_or_else(|_| Err(Error::Internal(format!("a {what} thread panicked"))))
}

//! The work behind the commands (cargo's `commands/` → `ops/` split): a command in
//! [`crate::commands`] parses its flags, calls one of these, and prints what came back.
//! Here nothing reads flags or words advice; long steps report progress through
//! [`crate::ui::Ui`], as cargo's ops do through its shell.
//!
//! - [`evolve`]: replay the migrations on a scratch database, write the migrations for a
//!   model change, regenerate the project (`generate`, `update`);
//! - [`rebase`]: `generate migration --rebase` (renumber merged migrations, set aside
//!   colliding ones);
//! - [`adopt`]: `generate migration --from-database` (drift written into the model);
//! - [`check`]: `check` (drift between model, migrations, schema.rs and database, as typed
//!   findings);
//! - [`squash`]: `migrate squash`.

pub mod adopt;
pub mod check;
pub mod evolve;
pub mod rebase;
pub mod squash;

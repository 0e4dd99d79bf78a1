//! dieselkit: scaffold, evolve and migrate Diesel + actix-web services.
//!
//! Data flows one way: answers → [`spec::Model`] → [`schema::Schema`] →
//! [`diff::diff`] → [`sql`] → [`plan`] (with [`render`]) → [`write`]. Only the last stage,
//! and [`migrations`], touch the disk or a database. [`ops`] holds the work of each command
//! over that pipeline; [`commands`] parse flags, call it and print.

pub mod cli;
pub mod commands;
pub mod dialect;
pub mod diff;
pub mod digest;
pub mod error;
pub mod format;
pub mod lint;
pub mod manifest;
pub mod migrations;
pub mod ops;
pub mod ownership;
pub mod plan;
pub mod render;
pub mod schema;
pub mod spec;
pub mod sql;
pub mod ui;
pub mod wizard;
pub mod write;

pub use error::{Error, Result};

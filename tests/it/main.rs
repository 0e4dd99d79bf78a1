//! dieselkit's one integration-test binary: CLI behaviour, snapshots, and end-to-end
//! runs that generate, build, migrate, test and serve real projects.

mod support;

mod architecture;
mod backends;
mod cli;
mod docs;
mod e2e;
mod evolve;
mod golden;
mod migrate;
mod pooler;
mod resilience;
mod rows;
mod snapshots;
mod sweep;
mod wizard;

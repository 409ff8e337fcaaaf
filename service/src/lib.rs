//! The users service: a small HTTP API over PostgreSQL that opsctl deploys to ECS.
//!
//! [`startup::Application`] wires everything together; `main.rs` only reads the settings,
//! starts logging and runs it, or runs one of the subcommands ([`migrate`], [`healthcheck`]).

#![warn(missing_docs)]

pub mod config;
pub mod credentials;
pub mod db;
pub mod domain;
pub mod error;
pub mod extract;
pub mod healthcheck;
pub mod metrics;
pub mod middleware;
pub mod migrate;
pub mod routes;
pub mod server;
pub mod startup;
pub mod telemetry;

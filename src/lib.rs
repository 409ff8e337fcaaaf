//! opsctl: deploy, wait, switch traffic, roll back and restore on Amazon ECS.
//!
//! `cli` parses, `config` resolves settings, `commands` glues, `workflows` holds the logic,
//! `aws` is the only place that touches the SDK, and `ui` the only place that prints.

pub mod aws;
pub mod cli;
pub mod commands;
pub mod config;
pub mod error;
pub mod iam;
pub mod input;
pub mod runbook;
pub mod settings;
pub mod ui;
pub mod workflows;

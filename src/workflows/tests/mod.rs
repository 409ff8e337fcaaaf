//! The workflow tests: every workflow against the in-memory AWS (`crate::aws::fake`) under
//! paused tokio time, so every failure path runs in milliseconds. One kit (`kit`) for all.

mod actor;
mod db;
mod dr;
mod kit;
mod lock;
mod native;
mod notify;
mod release;
mod rolling;
mod run;
mod runbook;
mod scale;
mod scan;
mod two_service;

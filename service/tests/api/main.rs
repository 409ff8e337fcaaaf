//! The service against a real PostgreSQL, over HTTP. One test binary (one link) with a
//! module per area.

mod helpers;

mod binary;
mod errors;
mod health;
mod middleware;
mod migrate;
mod observability;
mod pool;
mod secrets;
mod shutdown;
mod timeouts;
mod users_create;
mod users_get;
mod users_list;

//! `users-service`: serve the API, `users-service migrate` to apply the schema migrations, or
//! `users-service healthcheck` to probe a running one.

use std::process::ExitCode;

use users_service::config::Settings;
use users_service::startup::Application;
use users_service::{healthcheck, migrate, telemetry};

const USAGE: &str = "\
usage: users-service              serve the API (configured by environment variables)
       users-service migrate      apply the pending schema migrations, print them, and exit
       users-service healthcheck  exit 0 if the service on 127.0.0.1:$PORT is healthy, else 1";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] => serve(),
        ["migrate"] => migrate::run(),
        ["healthcheck"] => healthcheck::run(),
        ["-h" | "--help" | "help"] => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn serve() -> ExitCode {
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(err) => {
            // Logging is not set up yet (LOG_LEVEL may be the problem): plain stderr.
            eprintln!("users-service: invalid configuration: {err}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(&settings.log_level);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            tracing::error!(error = %err, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let app = match Application::build(settings).await {
            Ok(app) => app,
            Err(err) => {
                tracing::error!(error = %err, "startup failed");
                return ExitCode::from(err.exit_code());
            }
        };
        match app.run_until_stopped().await {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                tracing::error!(error = %err, "server failed");
                ExitCode::FAILURE
            }
        }
    })
}

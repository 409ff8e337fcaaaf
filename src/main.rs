use std::process::ExitCode;

use clap::Parser;
use opsctl::cli::Cli;
use opsctl::workflows::Interrupt;

fn main() -> ExitCode {
    if let Err(msg) = opsctl::cli::refuse_control_chars() {
        eprintln!("error: {msg}");
        eprintln!("  fix: type the argument again without them");
        return ExitCode::from(2);
    }
    let cli = Cli::parse();
    init_tracing(cli.global.verbose, cli.global.color);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let exit = runtime.block_on(async {
        let (handle, interrupt) = Interrupt::new();
        tokio::spawn(async move {
            // First Ctrl-C: stop waiting at the next safe point and report the state.
            // Second: leave at once.
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!(
                    "\ninterrupted: stopping after the call in progress (Ctrl-C again to quit now)"
                );
                handle.raise();
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(130);
                }
            }
        });
        opsctl::commands::run(cli, interrupt).await
    });
    ExitCode::from(exit.code())
}

/// Logs go to stderr: warnings by default, `-v` info (each AWS call with its answer and
/// duration), `-vv` debug (the AWS SDK's own included).
/// `RUST_LOG` overrides.
fn init_tracing(verbose: u8, color: opsctl::cli::ColorChoice) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        // The SDK's credential chain warns about every provider it tries; the error says it.
        0 => "warn,aws_config=error",
        1 => "opsctl=info,warn,aws_config=error",
        _ => "debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(opsctl::ui::colors_for(
            color,
            std::io::stderr().is_terminal(),
        ))
        .init();
}

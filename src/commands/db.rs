//! Glue for `opsctl db`: snapshot, snapshots, restore.

use std::time::Duration;

use super::load_env;
use crate::cli::{Cli, DbCommand};
use crate::error::Exit;
use crate::ui::{CliReporter, Printer};
use crate::workflows::{self, Interrupt, db};

/// How long `db snapshot --wait` and `db restore` wait unless told: snapshots and restores
/// of a large database take a while.
const TIMEOUT: Duration = Duration::from_secs(60 * 60);

pub(super) async fn run(
    cli: &Cli,
    command: &DbCommand,
    printer: &Printer,
    reporter: &CliReporter,
    interrupt: &Interrupt,
) -> anyhow::Result<Exit> {
    match command {
        DbCommand::Snapshot(args) => {
            let env = load_env(cli, &args.env).await?;
            let opts = db::SnapshotOptions {
                reason: args.reason.clone(),
                version: None,
                wait: args.wait,
                dry_run: args.dry_run,
                timeout: args.timeout.unwrap_or(TIMEOUT),
                poll: db::POLL,
                actor: workflows::actor(),
            };
            let out = db::snapshot(&env.aws, &env.config, &opts, reporter, interrupt).await?;
            Ok(printer.finish(&out, reporter))
        }
        DbCommand::Snapshots(args) => {
            let env = load_env(cli, &args.env).await?;
            let out = db::list(&env.aws, &env.config, jiff::Timestamp::now()).await?;
            Ok(printer.finish(&out, reporter))
        }
        DbCommand::Restore(args) => {
            let env = load_env(cli, &args.env).await?;
            let from = match (&args.snapshot, args.to_time, args.latest) {
                (Some(id), _, _) => db::RestoreFrom::Snapshot(id.clone()),
                (None, Some(time), _) => db::RestoreFrom::Time(time),
                (None, None, _) => db::RestoreFrom::Latest,
            };
            let opts = db::RestoreOptions {
                from,
                target: args.target.clone(),
                wait: !args.no_wait,
                dry_run: args.dry_run,
                timeout: args.timeout.unwrap_or(TIMEOUT),
                poll: db::POLL,
                actor: workflows::actor(),
            };
            let out = db::restore(&env.aws, &env.config, &opts, reporter, interrupt).await?;
            Ok(printer.finish(&out, reporter))
        }
    }
}

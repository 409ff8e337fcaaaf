//! Glue for `opsctl db`: snapshot, snapshots, copy, restore, failover.

use super::load_env;
use crate::cli::{Cli, DbCommand};
use crate::error::Exit;
use crate::settings;
use crate::ui::{CliReporter, Printer};
use crate::workflows::{Interrupt, db};

pub(super) async fn run(
    cli: &Cli,
    command: &DbCommand,
    printer: &Printer,
    reporter: &CliReporter,
    interrupt: &Interrupt,
) -> anyhow::Result<Exit> {
    match command {
        DbCommand::Snapshot(args) => {
            let env = load_env(cli, &args.env, reporter).await?;
            let opts = settings::snapshot(args, &super::actor(&env, reporter).await);
            let out = db::snapshot(&env.aws, &env.config, &opts, reporter, interrupt).await?;
            Ok(printer.finish(&out, reporter))
        }
        DbCommand::Snapshots(args) => {
            let env = load_env(cli, &args.env, reporter).await?;
            let region = if args.dr {
                Some(db::dr_region(&env.config)?)
            } else {
                None
            };
            if args.prune {
                let out = db::prune(
                    &env.aws,
                    &env.config,
                    region,
                    args.dry_run,
                    reporter,
                    interrupt,
                )
                .await?;
                return Ok(printer.finish(&out, reporter));
            }
            let out = db::list(&env.aws, &env.config, region, jiff::Timestamp::now()).await?;
            Ok(printer.finish(&out, reporter))
        }
        DbCommand::Copy(args) => {
            let env = load_env(cli, &args.env, reporter).await?;
            let opts = settings::copy(args, &env.config, &super::actor(&env, reporter).await)?;
            let out = db::copy(&env.aws, &env.config, &opts, reporter, interrupt).await?;
            Ok(printer.finish(&out, reporter))
        }
        DbCommand::Failover(args) => {
            let env = load_env(cli, &args.env, reporter).await?;
            let opts = settings::failover(args);
            let out = db::failover(&env.aws, &env.config, &opts, reporter, interrupt).await?;
            Ok(printer.finish(&out, reporter))
        }
        DbCommand::Restore(args) => {
            let env = load_env(cli, &args.env, reporter).await?;
            let opts = settings::restore(args, &super::actor(&env, reporter).await);
            let out = db::restore(&env.aws, &env.config, &opts, reporter, interrupt).await?;
            Ok(printer.finish(&out, reporter))
        }
    }
}

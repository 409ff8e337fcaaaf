//! Glue for `opsctl scale`.

use super::load_env;
use crate::cli::{Cli, ScaleArgs};
use crate::error::Exit;
use crate::settings;
use crate::ui::{CliReporter, Printer};
use crate::workflows::{Interrupt, scale, traffic};

pub(super) async fn run(
    cli: &Cli,
    args: &ScaleArgs,
    printer: &Printer,
    reporter: &CliReporter,
    interrupt: &Interrupt,
) -> anyhow::Result<Exit> {
    let mut env = load_env(cli, &args.target.env, reporter).await?;
    super::one_member(&mut env, &args.target)?;
    // A blue/green env scales its live colour unless --service names one.
    let (service, colour) = match super::subject(&env.config, &args.target)? {
        super::Subject::Colours => {
            let pair = traffic::resolve(&env.aws, &env.config).await?;
            let live = pair.live();
            (
                pair.side(live).service.clone(),
                Some(format!("{live}, the live colour")),
            )
        }
        super::Subject::One(service) => (
            service.to_owned(),
            env.config.colour_of(service).map(str::to_owned),
        ),
        super::Subject::Several(_) => {
            unreachable!("one_member narrowed the env to one service")
        }
    };
    let opts = settings::scale(args, &env.config);
    let out = scale::scale(
        &env.aws,
        &env.config,
        &service,
        colour.as_deref(),
        &opts,
        reporter,
        interrupt,
    )
    .await?;
    Ok(printer.finish(&out, reporter))
}

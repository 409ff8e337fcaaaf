//! Glue: load the config, build the AWS clients and the reporter, call a workflow, render
//! its outcome, and return the exit code.

use clap::CommandFactory;

use crate::aws::{self, Aws, AwsError};
use crate::cli::{Cli, ColourArg, Command, EnvArgs};
use crate::config::{Config, EnvConfig, Strategy};
use crate::error::{Exit, UserError};
use crate::settings;
use crate::ui::{CliReporter, Printer};
use crate::workflows::traffic::{self, Colour};
use crate::workflows::{
    self, Interrupt, deploy, inspect, notify, preflight, retire, rollback, wait,
};

mod db;
mod iam;
mod runbook;
mod scale;

/// Runs the parsed command line to its exit code, printing the result or the error.
pub async fn run(cli: Cli, interrupt: Interrupt) -> Exit {
    let g = &cli.global;
    let printer = Printer::new(
        g.output,
        g.quiet,
        g.verbose,
        g.no_progress,
        g.color,
        g.yes,
        cli.command.title(),
    );
    let reporter = CliReporter::new(&printer);
    match locked(&cli, &printer, &reporter, &interrupt).await {
        Ok(exit) => exit,
        Err(err) => {
            let (err, exit) = sort_error(err, &cli);
            printer.error(&err, exit, &reporter);
            exit
        }
    }
}

/// The one mapping from an error that ended a command to its exit code and its fix. Workflows
/// that have changed something never end here with an AWS error: they report where they left
/// things in their outcome instead. So an AWS error here means nothing was changed.
fn sort_error(err: anyhow::Error, cli: &Cli) -> (anyhow::Error, Exit) {
    let hinted = |hint: String| anyhow::Error::new(UserError::new(format!("{err:#}")).hint(hint));
    let env = cli.command.env().unwrap_or("NAME");
    match err.downcast_ref::<AwsError>() {
        Some(AwsError::NotFound(resource, _)) => (
            hinted(format!(
                "check {} of [env.{env}] in {} (or the flag that overrides it)",
                resource.setting(),
                cli.global
                    .config
                    .as_deref()
                    .unwrap_or(std::path::Path::new(crate::config::DEFAULT_PATH))
                    .display()
            )),
            Exit::BadInput,
        ),
        Some(AwsError::AccessDenied(_)) => (
            hinted(
                "check which credentials are in use (AWS_PROFILE, --profile, \
                 AWS_ACCESS_KEY_ID; aws sts get-caller-identity) and their IAM policy \
                 (opsctl iam-policy ENV prints the one opsctl needs)"
                    .into(),
            ),
            Exit::Failed,
        ),
        Some(AwsError::NoCredentials(_)) => (
            hinted(match &cli.global.profile {
                Some(profile) => format!(
                    "--profile {profile} gave no credentials: give it keys (aws configure \
                     --profile {profile}), or, for SSO, log in (aws sso login --profile {profile})"
                ),
                None => "set AWS_PROFILE (or pass --profile), or AWS_ACCESS_KEY_ID and \
                         AWS_SECRET_ACCESS_KEY; in CI, assume a role (OIDC) first"
                    .into(),
            }),
            Exit::BadInput,
        ),
        Some(AwsError::Unreachable(_)) => (
            hinted(format!(
                "check the network, and the endpoint: {}",
                cli.global
                    .endpoint_url
                    .clone()
                    .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok())
                    .map_or_else(
                        || "AWS's own for the region (no --endpoint-url or AWS_ENDPOINT_URL is set)".to_owned(),
                        |url| format!("{url} (from --endpoint-url or AWS_ENDPOINT_URL)"),
                    )
            )),
            Exit::Failed,
        ),
        _ if err.downcast_ref::<UserError>().is_some() => (err, Exit::BadInput),
        _ if err.downcast_ref::<crate::error::Interrupted>().is_some() => {
            (err, Exit::Interrupted)
        }
        _ => (err, Exit::Failed),
    }
}

struct Env {
    config: EnvConfig,
    aws: Aws,
}

/// Who is making the change (`workflows::actor`, from this process's environment).
async fn actor(env: &Env, reporter: &CliReporter) -> String {
    workflows::actor(
        &env.aws,
        workflows::named_actor(&settings::process_vars),
        reporter,
    )
    .await
}

/// What a command that changes its environment holds the deploy lock for (`deploy v1.2.4`);
/// `None` for the commands that change nothing there (reads, dry runs, one-off tasks, new
/// database instances, snapshots).
fn lock_for(command: &Command) -> Option<(&str, String)> {
    use crate::cli::DbCommand;
    match command {
        Command::Deploy(a) if !a.dry_run => {
            Some((a.target.env.as_str(), format!("deploy {}", a.version)))
        }
        Command::Rollback(a) if !a.dry_run => Some((a.target.env.as_str(), "rollback".into())),
        Command::Traffic(a) if !a.dry_run => {
            let to = match a.to {
                ColourArg::Blue => "blue",
                ColourArg::Green => "green",
            };
            Some((a.env.as_str(), format!("traffic to {to}")))
        }
        Command::Retire(a) if !a.dry_run => Some((a.env.as_str(), "retire".into())),
        Command::Promote(a) if !a.dry_run => Some((a.target.env.as_str(), "promote".into())),
        Command::Abort(a) if !a.dry_run => Some((a.target.env.as_str(), "abort".into())),
        Command::Scale(a) if !a.dry_run => Some((a.target.env.as_str(), "scale".into())),
        Command::Db {
            command: DbCommand::Failover(a),
        } if !a.dry_run => Some((a.env.as_str(), "db failover".into())),
        _ => None,
    }
}

/// Runs the command, holding its environment's deploy lock where it changes the
/// environment: taken first (refused, or waited for, while another command holds it),
/// renewed while the command works, released when it ends, whatever its outcome.
async fn locked(
    cli: &Cli,
    printer: &Printer,
    reporter: &CliReporter,
    interrupt: &Interrupt,
) -> anyhow::Result<Exit> {
    let Some((name, what)) = lock_for(&cli.command) else {
        return dispatch(cli, printer, reporter, interrupt).await;
    };
    let env = load_env(cli, name, reporter).await?;
    let want = workflows::lock::Want {
        holder: actor(&env, reporter).await,
        command: what,
        wait: cli.global.wait_for_lock.unwrap_or_default(),
    };
    let mut held =
        workflows::lock::acquire(&env.aws, &env.config, &want, reporter, interrupt).await?;
    let work = dispatch(cli, printer, reporter, interrupt);
    tokio::pin!(work);
    let mut renew = tokio::time::interval(workflows::lock::RENEW);
    renew.tick().await;
    let result = loop {
        tokio::select! {
            result = &mut work => break result,
            _ = renew.tick() => {
                if let Err(e) = workflows::lock::renew(&env.aws, &mut held).await {
                    workflows::Reporter::warn(reporter, format!(
                        "{e:#}; another command may now change {name} at the same time"
                    ));
                }
            }
        }
    };
    if let Err(e) = workflows::lock::release(&env.aws, &held).await {
        workflows::Reporter::warn(
            reporter,
            format!(
                "{e:#}; it expires by itself within {}, or run `opsctl unlock {name}`",
                humantime::format_duration(workflows::lock::LEASE)
            ),
        );
    }
    result
}

async fn load_env(cli: &Cli, name: &str, reporter: &CliReporter) -> anyhow::Result<Env> {
    let g = &cli.global;
    let config = Config::find(g.config.as_deref())?;
    let env = config.env(name)?.clone();
    if let Some(url) = &g.endpoint_url {
        check_endpoint(url)?;
    }
    if let Some(profile) = &g.profile {
        let defined = aws::sdk::defined_profiles().await.map_err(|e| {
            UserError::new(format!("the AWS config files could not be read: {e}")).hint(
                "fix the file it names (aws configure list-profiles shows what the CLI reads)",
            )
        })?;
        settings::check_profile(profile, &defined, &settings::process_vars)?;
    }
    let region = settings::region(g, &env, &settings::process_vars)?;
    let sdk = aws::sdk::sdk_config(&aws::sdk::Connection {
        profile: g.profile.clone(),
        region,
        endpoint_url: g.endpoint_url.clone(),
    })
    .await;
    if sdk.region().is_none() {
        return Err(UserError::new(format!("no AWS region for env.{name}"))
            .hint(format!(
                "set region = \"...\" in [env.{name}], pass --region, or set AWS_REGION"
            ))
            .into());
    }
    let sdk = match &env.role {
        None => sdk,
        Some(role) => assume(&env, role, sdk, reporter).await?,
    };
    Ok(Env {
        config: env,
        aws: aws::sdk::clients(&sdk),
    })
}

/// The configuration that acts as the env's role: assumed once here, so that a role that
/// cannot be assumed is bad input before anything is read or changed, and refreshed by the
/// SDK before it expires, however long the command waits. The session is named after who is
/// deploying, so CloudTrail shows the person or the CI run.
async fn assume(
    env: &EnvConfig,
    role: &crate::config::AssumedRole,
    base: aws_types::SdkConfig,
    reporter: &CliReporter,
) -> anyhow::Result<aws_types::SdkConfig> {
    let session = settings::session_name(workflows::named_actor(&settings::process_vars));
    match aws::sdk::assume_role(&base, &role.arn, role.external_id.as_deref(), &session).await {
        Ok(sdk) => {
            reporter.acting_as(&role.arn, role.account(), &session);
            Ok(sdk)
        }
        Err(aws::sdk::AssumeError::Refused(why)) => {
            let caller = aws::sdk::clients(&base)
                .identity
                .caller_arn()
                .await
                .unwrap_or_else(|_| "the caller (unknown)".into());
            Err(UserError::new(format!(
                "cannot assume {} for env.{} as {caller}: {why}",
                role.arn, env.name
            ))
            .hint(format!(
                "the role's trust policy must allow sts:AssumeRole to {caller}{}; or fix role_arn in [env.{}]",
                if role.external_id.is_some() {
                    ", with its sts:ExternalId condition equal to external_id"
                } else {
                    ""
                },
                env.name
            ))
            .into())
        }
        Err(aws::sdk::AssumeError::Failed(e)) => Err(e.into()),
    }
}

/// An endpoint URL is `http(s)://host[:port][/path]`; anything else would fail on every call.
fn check_endpoint(url: &str) -> Result<(), UserError> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let host = rest.map(|r| r.split(['/', '?']).next().unwrap_or_default());
    let port_ok = host
        .and_then(|h| {
            h.rsplit_once(':')
                .filter(|(_, p)| !p.starts_with(']') && !p.contains(']'))
        })
        .is_none_or(|(_, p)| p.parse::<u16>().is_ok());
    match host {
        Some(h) if !h.is_empty() && !h.starts_with(':') && port_ok && !h.contains(' ') => Ok(()),
        _ => Err(UserError::new(format!(
            "--endpoint-url `{}` is not a URL opsctl can send requests to",
            crate::input::escape(url)
        ))
        .hint("give a URL such as http://127.0.0.1:5000 or https://ecs.eu-west-1.amazonaws.com")),
    }
}

/// What a command acts on, decided once from the env's strategy and `--service`.
enum Subject<'a> {
    /// One service: `--service`, or a rolling env's own.
    One(&'a str),
    /// A two-service env and no `--service`: the workflow picks the colour.
    Colours,
    /// A `services = [...]` env: these of its services (all, unless `--service` names some).
    Several(Vec<crate::config::Member>),
}

fn subject<'a>(env: &'a EnvConfig, target: &'a EnvArgs) -> Result<Subject<'a>, UserError> {
    Ok(match (target.service.as_slice(), &env.strategy) {
        (named, Strategy::Several { .. }) => Subject::Several(env.select(named)?),
        ([], Strategy::Rolling { service }) => Subject::One(service),
        ([], Strategy::TwoService { .. }) => Subject::Colours,
        ([service], _) => Subject::One(service),
        (_, _) => {
            return Err(UserError::new(format!(
                "--service is given {} times, but env.{} names one service",
                target.service.len(),
                env.name
            ))
            .hint("give --service once"));
        }
    })
}

/// Deploys rolling or blue/green, as the env says (`--service` forces a rolling deploy of
/// that one service).
async fn run_deploy(
    env: &Env,
    target: &EnvArgs,
    in_place_on_live: bool,
    opts: &deploy::Options,
    reporter: &dyn workflows::Reporter,
    interrupt: &Interrupt,
) -> anyhow::Result<deploy::DeployOutcome> {
    let service = match subject(&env.config, target)? {
        Subject::Colours => {
            return deploy::two_service::deploy(&env.aws, &env.config, opts, reporter, interrupt)
                .await;
        }
        Subject::One(service) => service,
        Subject::Several(_) => unreachable!("a services env deploys through run_release"),
    };
    if env.config.two_service().is_some() && !in_place_on_live && !opts.dry_run {
        // A rolling deploy of the colour that carries the traffic is rarely meant.
        let pair = traffic::resolve(&env.aws, &env.config).await?;
        let live = pair.side(pair.live());
        if live.service == service {
            return Err(UserError::new(format!(
                "{service} is {}'s live colour ({}, {}% of the traffic): --service would roll it in place under all of the traffic",
                env.config.name, live.colour, live.weight
            ))
            .hint("deploy without --service (to the idle colour, then switch), or pass --in-place-on-live-colour if that is what you mean")
            .into());
        }
    }
    deploy::deploy(&env.aws, &env.config, service, opts, reporter, interrupt).await
}

/// Deploys or plans a release of a `services` env: the members `--service` names, or all.
/// `None` for the other envs, which `run_deploy` deploys.
async fn run_release(
    env: &Env,
    target: &EnvArgs,
    opts: &deploy::Options,
    reporter: &CliReporter,
    interrupt: &Interrupt,
) -> anyhow::Result<Option<deploy::release::ReleaseOutcome>> {
    let Subject::Several(members) = subject(&env.config, target)? else {
        return Ok(None);
    };
    deploy::release::deploy(&env.aws, &env.config, &members, opts, reporter, interrupt)
        .await
        .map(Some)
}

/// A command that acts on one service at a time, in a `services` env: the env as the
/// service `--service` names (or its only one) sees it. Other envs are left as they are.
fn one_member(env: &mut Env, target: &EnvArgs) -> Result<(), UserError> {
    let Some(all) = env.config.members() else {
        return Ok(());
    };
    let names: Vec<&str> = all.iter().map(|m| m.name.as_str()).collect();
    match env.config.select(&target.service)?.as_slice() {
        [member] => {
            env.config = env.config.for_member(member);
            Ok(())
        }
        _ => Err(UserError::new(format!(
            "env.{} has {} services, and this command acts on one at a time",
            env.config.name,
            names.len()
        ))
        .hint(format!(
            "name it with --service (one of: {})",
            names.join(", ")
        ))),
    }
}

/// The service a read-only command looks at: `--service`, the env's own, or for blue/green
/// the live colour's.
async fn live_service(env: &mut Env, target: &EnvArgs) -> anyhow::Result<String> {
    one_member(env, target)?;
    match subject(&env.config, target)? {
        Subject::One(service) => Ok(service.to_owned()),
        Subject::Colours => {
            let pair = traffic::resolve(&env.aws, &env.config).await?;
            Ok(pair.side(pair.live()).service.clone())
        }
        Subject::Several(_) => unreachable!("one_member narrowed the env to one service"),
    }
}

fn colour(arg: ColourArg) -> Colour {
    match arg {
        ColourArg::Blue => Colour::Blue,
        ColourArg::Green => Colour::Green,
    }
}

/// What every notice of a command on `env` says the same.
fn about(env: &Env, command: &str, version: Option<&str>, who: String) -> notify::About {
    notify::About {
        env: env.config.name.clone(),
        command: command.to_owned(),
        services: env
            .config
            .services()
            .into_iter()
            .map(str::to_owned)
            .collect(),
        version: version.map(str::to_owned),
        who,
        ci_run: notify::ci_run(&settings::process_vars),
    }
}

/// Runs `$work`, a command that changes the env, with its notices: start, each traffic
/// step, and its end, whatever the outcome; `$r` is the reporter it reports to. A dry run
/// sends nothing and says where they would go. (A macro: the work borrows the command's
/// settings, which an async closure's future could not be sent with.)
macro_rules! notified {
    ($env:expr, $about:expr, $dry_run:expr, $reporter:expr, |$r:ident| $work:expr) => {{
        let reporter: &CliReporter = $reporter;
        if $dry_run {
            if let Some(line) = notify::would_send(&$env.config.notify) {
                workflows::Reporter::step(reporter, "notify", line);
            }
            let $r: &dyn workflows::Reporter = reporter;
            async { $work }.await
        } else {
            let notices =
                notify::Notices::start($env.aws.notifier.clone(), &$env.config.notify, $about);
            let result = {
                let notifying = notices.reporter(reporter);
                let $r: &dyn workflows::Reporter = &notifying;
                async { $work }.await
            };
            let end = match &result {
                Ok(out) => notify::End::of(out),
                Err(e) => notify::End::of_error(e),
            };
            notices.finish(end, reporter).await;
            result
        }
    }};
}

async fn dispatch(
    cli: &Cli,
    printer: &Printer,
    reporter: &CliReporter,
    interrupt: &Interrupt,
) -> anyhow::Result<Exit> {
    match &cli.command {
        Command::Completions { shell } => {
            let mut text = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "opsctl", &mut text);
            crate::ui::print_bytes(&text);
            Ok(Exit::Ok)
        }
        Command::Man(args) => {
            match &args.out_dir {
                Some(dir) => {
                    let written = crate::ui::man::pages_to(dir).map_err(|e| {
                        UserError::new(format!(
                            "cannot write the man pages to {}: {e}",
                            dir.display()
                        ))
                        .hint("name a directory you can write to with --out-dir")
                    })?;
                    let names: Vec<String> =
                        written.iter().map(|p| p.display().to_string()).collect();
                    crate::ui::print_bytes(format!("{}\n", names.join("\n")).as_bytes());
                }
                None => crate::ui::print_bytes(&crate::ui::man::one_page()?),
            }
            Ok(Exit::Ok)
        }
        Command::Deploy(args) => {
            let env = load_env(cli, &args.target.env, reporter).await?;
            let who = actor(&env, reporter).await;
            let opts = settings::deploy(args, &env.config, &who);
            if let Some(out) = run_release(&env, &args.target, &opts, reporter, interrupt).await? {
                return Ok(printer.finish(&out, reporter));
            }
            let about = about(&env, "deploy", Some(&args.version), who);
            let out = notified!(env, about, opts.dry_run, reporter, |r| {
                run_deploy(
                    &env,
                    &args.target,
                    args.in_place_on_live_colour,
                    &opts,
                    r,
                    interrupt,
                )
                .await
            })?;
            Ok(printer.finish(&out, reporter))
        }
        Command::Plan(args) => {
            let env = load_env(cli, &args.target.env, reporter).await?;
            let opts = settings::plan(args, &env.config, &actor(&env, reporter).await);
            if let Some(out) = run_release(&env, &args.target, &opts, reporter, interrupt).await? {
                return Ok(printer.finish(&out, reporter));
            }
            if let Some(line) = workflows::notify::would_send(&env.config.notify) {
                workflows::Reporter::step(reporter, "notify", line);
            }
            let out = run_deploy(&env, &args.target, false, &opts, reporter, interrupt).await?;
            Ok(printer.finish(&out, reporter))
        }
        Command::WaitStable(args) => {
            let mut env = load_env(cli, &args.target.env, reporter).await?;
            let services = match subject(&env.config, &args.target)? {
                Subject::Several(members) => members.into_iter().map(|m| m.name).collect(),
                _ => vec![live_service(&mut env, &args.target).await?],
            };
            let out = wait::wait_stable_all(
                &env.aws,
                &env.config,
                &services,
                &settings::wait(args, &env.config),
                reporter,
                interrupt,
            )
            .await?;
            Ok(printer.finish(&out, reporter))
        }
        Command::Rollback(args) => {
            let mut env = load_env(cli, &args.target.env, reporter).await?;
            one_member(&mut env, &args.target)?;
            let opts = settings::rollback(args, &env.config);
            let out = match subject(&env.config, &args.target)? {
                Subject::Colours => {
                    rollback::two_service::rollback(
                        &env.aws,
                        &env.config,
                        &opts,
                        reporter,
                        interrupt,
                    )
                    .await?
                }
                Subject::One(service) => {
                    // A native deployment in flight is stopped and rolled back by ECS: the
                    // way back that moves no task and no weight by hand.
                    let svc = workflows::describe_one(&env.aws, &env.config, service).await?;
                    if svc.strategy.is_native()
                        && opts.to.is_none()
                        && workflows::native::in_flight(&env.aws, &env.config, service)
                            .await?
                            .is_some()
                    {
                        let out = workflows::native::act(
                            &env.aws,
                            &env.config,
                            service,
                            workflows::native::Action::Abort,
                            opts.dry_run,
                            reporter,
                            interrupt,
                        )
                        .await?;
                        return Ok(printer.finish(&out, reporter));
                    }
                    rollback::rollback(&env.aws, &env.config, service, &opts, reporter, interrupt)
                        .await?
                }
                Subject::Several(_) => unreachable!("one_member narrowed the env to one service"),
            };
            Ok(printer.finish(&out, reporter))
        }
        Command::Status(target) => {
            let env = load_env(cli, &target.env, reporter).await?;
            let services: Vec<String> = match subject(&env.config, target)? {
                Subject::One(service) => vec![service.to_owned()],
                Subject::Several(members) => members.into_iter().map(|m| m.name).collect(),
                Subject::Colours => env
                    .config
                    .services()
                    .into_iter()
                    .map(str::to_owned)
                    .collect(),
            };
            let out = inspect::status(&env.aws, &env.config, &services).await?;
            Ok(printer.finish(&out, reporter))
        }
        Command::Traffic(args) => {
            let env = load_env(cli, &args.env, reporter).await?;
            let bg = traffic::bluegreen(&env.config)?;
            let pair = traffic::resolve(&env.aws, &env.config).await?;
            let opts = settings::traffic(args, bg, colour(args.to));
            let about = about(&env, "traffic", None, actor(&env, reporter).await);
            let out = notified!(env, about, args.dry_run, reporter, |r| {
                traffic::switch(&env.aws, &env.config, &pair, &opts, r, interrupt).await
            })?;
            Ok(printer.finish(&out, reporter))
        }
        Command::Retire(args) => {
            let env = load_env(cli, &args.env, reporter).await?;
            let out = retire::retire(
                &env.aws,
                &env.config,
                args.colour.map(colour),
                args.dry_run,
                settings::retire_timeout(args, &env.config),
                reporter,
                interrupt,
            )
            .await?;
            Ok(printer.finish(&out, reporter))
        }
        Command::Promote(args) | Command::Abort(args) => {
            let mut env = load_env(cli, &args.target.env, reporter).await?;
            let service = live_service(&mut env, &args.target).await?;
            let action = if matches!(cli.command, Command::Promote(_)) {
                workflows::native::Action::Promote
            } else {
                workflows::native::Action::Abort
            };
            let out = workflows::native::act(
                &env.aws,
                &env.config,
                &service,
                action,
                args.dry_run,
                reporter,
                interrupt,
            )
            .await?;
            Ok(printer.finish(&out, reporter))
        }
        Command::History(args) => {
            let mut env = load_env(cli, &args.target.env, reporter).await?;
            let service = live_service(&mut env, &args.target).await?;
            let out = inspect::history(&env.aws, &env.config, &service, args.limit).await?;
            Ok(printer.finish(&out, reporter))
        }
        Command::Scale(args) => scale::run(cli, args, printer, reporter, interrupt).await,
        Command::Logs(args) => {
            let mut env = load_env(cli, &args.target.env, reporter).await?;
            one_member(&mut env, &args.target)?;
            let opts = settings::logs(args, jiff::Timestamp::now());
            let mut sink = |line: &workflows::logs::Line| printer.log_line(line);
            workflows::logs::logs(&env.aws, &env.config, &opts, reporter, interrupt, &mut sink)
                .await?;
            Ok(Exit::Ok)
        }
        Command::Run(args) => {
            let mut env = load_env(cli, &args.target.env, reporter).await?;
            one_member(&mut env, &args.target)?;
            let opts = settings::run(args, &actor(&env, reporter).await);
            let out =
                workflows::run::run(&env.aws, &env.config, &opts, reporter, interrupt).await?;
            Ok(printer.finish(&out, reporter))
        }
        Command::Db { command } => db::run(cli, command, printer, reporter, interrupt).await,
        Command::Runbook(args) => runbook::run(cli, args, printer, reporter, interrupt).await,
        Command::IamPolicy(args) => iam::run(cli, args, printer, reporter).await,
        Command::Lock(args) => {
            let env = load_env(cli, &args.env, reporter).await?;
            let who = actor(&env, reporter).await;
            let out = workflows::lock::freeze(&env.aws, &env.config, &who, &args.reason, reporter)
                .await?;
            Ok(printer.finish(&out, reporter))
        }
        Command::Unlock(args) => {
            let env = load_env(cli, &args.env, reporter).await?;
            let who = actor(&env, reporter).await;
            let out = workflows::lock::unlock(&env.aws, &env.config, &who).await?;
            Ok(printer.finish(&out, reporter))
        }
        Command::Check(args) => {
            let mut env = load_env(cli, &args.target.env, reporter).await?;
            one_member(&mut env, &args.target)?;
            let service = match subject(&env.config, &args.target)? {
                Subject::One(service) => service.to_owned(),
                Subject::Several(_) => unreachable!("one_member narrowed the env to one service"),
                Subject::Colours => {
                    // The preflight a deploy runs: of the idle colour, where it deploys.
                    let pair = traffic::resolve(&env.aws, &env.config).await?;
                    let (live, idle) = (pair.live(), pair.live().other());
                    workflows::Reporter::step(
                        reporter,
                        "preflight",
                        format!(
                            "{live} ({}) is live at {}; checking {idle} ({}), where a deploy goes",
                            pair.side(live).service,
                            pair.weights(),
                            pair.side(idle).service
                        ),
                    );
                    pair.side(idle).service.clone()
                }
            };
            let report = preflight::run(
                &env.aws,
                &preflight::Request {
                    env: &env.config,
                    service: &service,
                    version: args.version.as_deref(),
                    ignore_alarms: args.ignore_alarms,
                    interrupt,
                },
                reporter,
            )
            .await?;
            let out = CheckOutcome {
                env: env.config.name.clone(),
                service,
                passed: report.passed(),
                checks: report.checks,
            };
            Ok(printer.finish(&out, reporter))
        }
    }
}

/// `opsctl check ENV`.
#[derive(Debug, serde::Serialize)]
struct CheckOutcome {
    env: String,
    service: String,
    passed: bool,
    checks: Vec<workflows::Check>,
}

impl workflows::Outcome for CheckOutcome {
    /// A failed check is bad input: nothing was changed.
    fn exit(&self) -> Exit {
        if self.passed {
            Exit::Ok
        } else {
            Exit::BadInput
        }
    }
}

impl std::fmt::Display for CheckOutcome {
    /// The verdict, and the failed checks with their fixes: each check was shown as it ran,
    /// so passed ones are not listed twice (`--output json` has them all).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let failed: Vec<&workflows::Check> = self.checks.iter().filter(|c| !c.ok).collect();
        let warned: Vec<&workflows::Check> = self.checks.iter().filter(|c| c.warning).collect();
        if failed.is_empty() {
            writeln!(
                f,
                "{} ({}): all {} checks passed{}",
                self.env,
                self.service,
                self.checks.len(),
                match warned.len() {
                    0 => String::new(),
                    1 => ", 1 with a warning:".into(),
                    n => format!(", {n} with warnings:"),
                }
            )?;
            for c in warned {
                writeln!(f, "  {c}")?;
            }
            return Ok(());
        }
        writeln!(
            f,
            "{} ({}): {} of {} checks FAILED",
            self.env,
            self.service,
            failed.len(),
            self.checks.len()
        )?;
        for c in failed {
            writeln!(f, "  {c}")?;
        }
        Ok(())
    }
}

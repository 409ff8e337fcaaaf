//! `opsctl iam-policy ENV`: prints the IAM policy opsctl needs for the environment.
//!
//! Without `--account`, it reads the environment's services and their current task
//! definitions (read-only calls opsctl makes anyway: `ecs:DescribeServices`,
//! `ecs:DescribeTaskDefinition`), which give the account and partition (from the service ARN),
//! the task-definition families, the task and execution roles, the secrets, and the ECR
//! repository when the config does not name it. With `--account`, it makes no AWS call, and
//! what only the task definitions tell is a wildcard within the account.

use std::collections::BTreeSet;

use crate::aws::sdk::family_of;
use crate::cli::Output;
use crate::cli::{Cli, IamPolicyArgs};
use crate::config::{Config, EnvConfig};
use crate::error::{Exit, UserError};
use crate::iam::{self, Scope};
use crate::ui::{CliReporter, Printer, print_json};
use crate::workflows::Reporter;
use crate::workflows::preflight::{repository_of, secret_id};

/// `--output json`: the policy with what it was scoped from, in the envelope every command's
/// JSON has. The text output is the bare document, ready for `--policy-document file://`.
#[derive(serde::Serialize)]
struct PolicyOutcome {
    env: String,
    /// `services`: read from the env's services and task definitions; `account`: from
    /// `--account`, no AWS call made, what only the task definitions tell a wildcard.
    scoped_from: &'static str,
    scope: Scope,
    policy: serde_json::Value,
}

impl std::fmt::Display for PolicyOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = serde_json::to_string_pretty(&self.policy).map_err(|_| std::fmt::Error)?;
        writeln!(f, "{text}")
    }
}

impl crate::workflows::Outcome for PolicyOutcome {
    fn exit(&self) -> Exit {
        Exit::Ok
    }
}

pub(super) async fn run(
    cli: &Cli,
    args: &IamPolicyArgs,
    printer: &Printer,
    reporter: &CliReporter,
) -> anyhow::Result<Exit> {
    let (env, scope) = match &args.account {
        Some(account) => {
            let env = Config::find(cli.global.config.as_deref())?
                .env(&args.env)?
                .clone();
            let scope = offline_scope(cli, &env, account, reporter)?;
            (env, scope)
        }
        None => {
            let env = super::load_env(cli, &args.env, reporter).await?;
            let scope = looked_up_scope(&env.config, &env.aws).await?;
            (env.config, scope)
        }
    };
    let out = PolicyOutcome {
        env: env.name.clone(),
        scoped_from: if args.account.is_some() {
            "account"
        } else {
            "services"
        },
        policy: serde_json::to_value(iam::policy(&env, &scope))?,
        scope,
    };
    if printer.output == Output::Text {
        print_json(&out.policy);
        return Ok(Exit::Ok);
    }
    Ok(printer.finish(&out, reporter))
}

fn offline_scope(
    cli: &Cli,
    env: &EnvConfig,
    account: &str,
    reporter: &CliReporter,
) -> anyhow::Result<Scope> {
    if account.len() != 12 || !account.chars().all(|c| c.is_ascii_digit()) {
        crate::bad_input!(
            "pass the 12-digit account id, such as --account 123456789012",
            "--account {account} is not an AWS account id"
        );
    }
    let Some(region) = crate::settings::region(&cli.global, env, &crate::settings::process_vars)?
    else {
        crate::bad_input!(
            format!(
                "set region = \"...\" in [env.{}], or pass --region",
                env.name
            ),
            "no AWS region for env.{}",
            env.name
        );
    };
    reporter.warn(format!(
        "--account: no AWS call made; task-definition families, task roles and secrets are \
         wildcards within account {account}; without --account they are read from the service"
    ));
    Ok(Scope {
        partition: iam::partition_of(&region).to_owned(),
        region,
        account: account.to_owned(),
        families: Vec::new(),
        roles: None,
        secrets: None,
        repositories: env.repository.iter().cloned().collect(),
        native: None,
    })
}

async fn looked_up_scope(env: &EnvConfig, aws: &crate::aws::Aws) -> anyhow::Result<Scope> {
    let names: Vec<String> = env.services().into_iter().map(str::to_owned).collect();
    let services = aws.ecs.describe_services(&env.cluster, &names).await?;
    let Some((partition, _, region, account, _)) = services
        .first()
        .and_then(|s| iam::arn_parts(&s.arn))
        .map(|(p, s, r, a, res)| (p.to_owned(), s, r.to_owned(), a.to_owned(), res))
    else {
        return Err(UserError::new(format!(
            "cannot read the account from the services of env.{}",
            env.name
        ))
        .hint("pass --account ID")
        .into());
    };
    let revisions: BTreeSet<String> = services.iter().map(|s| s.task_definition.clone()).collect();
    let mut families = BTreeSet::new();
    let mut roles = BTreeSet::new();
    let mut secrets = BTreeSet::new();
    let mut repositories: BTreeSet<String> = env.repository.iter().cloned().collect();
    let configured_repository = env.repository.is_some();
    for revision in &revisions {
        if let Some(f) = family_of(revision) {
            families.insert(f.to_owned());
        }
        let td = aws.ecs.describe_task_definition(revision).await?;
        roles.extend(td.roles.iter().cloned());
        secrets.extend(
            td.secrets
                .iter()
                .filter_map(|v| secret_id(v))
                .map(secret_resource),
        );
        if !configured_repository && let Ok(c) = td.container_for(env.container.as_deref()) {
            repositories.insert(repository_of(&c.image).to_owned());
        }
    }
    Ok(Scope {
        partition,
        region,
        account,
        families: families.into_iter().collect(),
        roles: Some(roles.into_iter().collect()),
        secrets: Some(secrets.into_iter().collect()),
        repositories: repositories.into_iter().collect(),
        native: Some(services.iter().any(|s| s.strategy.is_native())),
    })
}

/// A secret ARN as an IAM resource: the full ARN ends in `-` and six random characters; a
/// partial one (the name alone) matches them with `-??????`.
fn secret_resource(arn: &str) -> String {
    let suffix = arn.rsplit_once('-').map(|(_, s)| s).unwrap_or("");
    if suffix.len() == 6 && suffix.chars().all(|c| c.is_ascii_alphanumeric()) {
        arn.to_owned()
    } else {
        format!("{arn}-??????")
    }
}

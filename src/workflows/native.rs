//! `opsctl promote ENV` and `opsctl abort ENV`: a person's (or a pipeline's) hand on a
//! service deployment ECS runs itself. `promote` answers the PAUSE hook it waits at with
//! CONTINUE; `abort` stops it and rolls it back. Both find the deployment in flight first
//! and change nothing when there is none.

use std::fmt;

use serde::Serialize;

use super::{Interrupt, Outcome, Reporter};
use crate::aws::{Aws, ServiceDeployment};
use crate::config::EnvConfig;
use crate::error::{Exit, UserError};

/// What to do to the deployment in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Answer the waiting PAUSE hook with CONTINUE.
    Promote,
    /// StopServiceDeployment with ROLLBACK.
    Abort,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Promote => "promote",
            Action::Abort => "abort",
        })
    }
}

/// How it went.
#[derive(Debug, Clone, Serialize)]
pub struct ActionOutcome {
    pub env: String,
    pub service: String,
    pub action: Action,
    pub service_deployment: String,
    /// Where the deployment was when opsctl acted.
    pub was: String,
    /// A dry run: what would be sent, nothing changed.
    pub planned: bool,
}

impl Outcome for ActionOutcome {
    fn exit(&self) -> Exit {
        Exit::Ok
    }
}

impl fmt::Display for ActionOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let done = match (self.action, self.planned) {
            (Action::Promote, true) => "would continue",
            (Action::Promote, false) => "continued",
            (Action::Abort, true) => "would stop and roll back",
            (Action::Abort, false) => "stopped; ECS is rolling back",
        };
        writeln!(
            f,
            "{} ({}): {done} service deployment {} ({}){}",
            self.env,
            self.service,
            self.service_deployment,
            self.was,
            if self.planned {
                "; nothing changed"
            } else {
                ""
            }
        )?;
        if !self.planned {
            write!(f, "follow it with: opsctl status {}", self.env)?;
        }
        Ok(())
    }
}

/// Finds the service deployment in flight on `service` and acts on it.
pub async fn act(
    aws: &Aws,
    env: &EnvConfig,
    service: &str,
    action: Action,
    dry_run: bool,
    reporter: &dyn Reporter,
    interrupt: &Interrupt,
) -> anyhow::Result<ActionOutcome> {
    let svc = super::describe_one(aws, env, service).await?;
    if !svc.strategy.is_native() {
        return Err(UserError::new(format!(
            "{service} deploys with ECS's ROLLING strategy: there is no service deployment to {action}"
        ))
        .hint(format!(
            "use `opsctl rollback {}` to go back to the previous revision",
            env.name
        ))
        .into());
    }
    let Some(d) = in_flight(aws, env, service).await? else {
        return Err(UserError::new(format!(
            "no service deployment of {service} is in flight; nothing changed"
        ))
        .hint(format!(
            "see the last one with `opsctl status {}`",
            env.name
        ))
        .into());
    };
    let hook = match action {
        Action::Promote => Some(d.awaiting_hook.clone().ok_or_else(|| {
            UserError::new(format!(
                "service deployment {} is not paused ({}); nothing to promote, nothing changed",
                d.arn,
                d.summary()
            ))
            .hint(format!(
                "promote answers a PAUSE lifecycle hook; abort it with `opsctl abort {}`",
                env.name
            ))
        })?),
        Action::Abort => None,
    };
    let mut out = ActionOutcome {
        env: env.name.clone(),
        service: service.to_owned(),
        action,
        service_deployment: d.arn.clone(),
        was: d.summary(),
        planned: dry_run,
    };
    if dry_run {
        return Ok(out);
    }
    let question = match action {
        Action::Promote => format!(
            "Continue {}'s deployment of {service} ({})?",
            env.name, out.was
        ),
        Action::Abort => format!(
            "Stop {}'s deployment of {service} ({}) and roll it back?",
            env.name, out.was
        ),
    };
    super::confirm_change(env, reporter, interrupt, &question)?;
    match hook {
        Some(hook) => {
            reporter.step("promote", format!("answering hook {hook} with CONTINUE"));
            aws.ecs
                .continue_service_deployment(&d.arn, &hook, false)
                .await?;
        }
        None => {
            reporter.step("abort", format!("stopping {} with ROLLBACK", d.arn));
            aws.ecs.stop_service_deployment(&d.arn).await?;
        }
    }
    out.planned = false;
    Ok(out)
}

/// The service's service deployment that has not ended, if any.
pub async fn in_flight(
    aws: &Aws,
    env: &EnvConfig,
    service: &str,
) -> anyhow::Result<Option<ServiceDeployment>> {
    Ok(match aws
        .ecs
        .latest_service_deployment(&env.cluster, service, jiff::Timestamp::UNIX_EPOCH)
        .await?
    {
        Some(arn) => Some(aws.ecs.describe_service_deployment(&arn).await?),
        None => None,
    }
    .filter(|d| !d.status.is_final()))
}

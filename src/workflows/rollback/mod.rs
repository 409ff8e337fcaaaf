//! Rolling rollback: back to the revision that was running before, or one named by `--to`.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use super::deploy::Revision;
use super::wait::{self, Verdict, WaitOutcome};
use super::{Interrupt, Outcome, Reporter, tags, version_of};
use crate::aws::{Aws, TaskDefinition};
use crate::config::EnvConfig;
use crate::error::{Exit, UserError};

pub mod two_service;

/// How to roll back.
#[derive(Debug, Clone)]
pub struct Options {
    /// A revision number, `family:revision`, or a version; `None` picks the previous one.
    pub to: Option<String>,
    pub dry_run: bool,
    pub no_wait: bool,
    pub timeout: Duration,
    pub poll: Duration,
}

/// How a rollback ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RollbackResult {
    RolledBack,
    Started,
    Planned,
    Failed,
    TimedOut,
    Interrupted,
}

/// What a rollback did.
#[derive(Debug, Clone, Serialize)]
pub struct RollbackOutcome {
    pub env: String,
    pub service: String,
    pub result: RollbackResult,
    pub from: Revision,
    pub to: Revision,
    /// Why this revision was chosen.
    pub chosen_because: String,
    /// What the revision it leaves is recorded as in the history: `reverted` when its deploy
    /// had succeeded, `rolled-back` otherwise.
    pub leaves_as: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait: Option<WaitOutcome>,
    pub elapsed_secs: f64,
}

impl Outcome for RollbackOutcome {
    fn exit(&self) -> Exit {
        match self.result {
            RollbackResult::RolledBack | RollbackResult::Started | RollbackResult::Planned => {
                Exit::Ok
            }
            RollbackResult::Failed => Exit::Failed,
            RollbackResult::TimedOut => Exit::TimedOut,
            RollbackResult::Interrupted => Exit::Interrupted,
        }
    }
}

impl fmt::Display for RollbackOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (from, to) = (&self.from, &self.to);
        let head = match self.result {
            RollbackResult::RolledBack => "rolled back",
            RollbackResult::Started => "rolling back (not waiting)",
            RollbackResult::Planned => "would roll back (nothing changed)",
            RollbackResult::Failed => "rollback FAILED",
            RollbackResult::TimedOut => "rollback timed out",
            RollbackResult::Interrupted => "rollback interrupted",
        };
        writeln!(
            f,
            "{head}: {} ({}) {} ({}) -> {} ({}); {}",
            self.env,
            self.service,
            from.task_definition,
            from.version,
            to.task_definition,
            to.version,
            self.chosen_because
        )?;
        if self.result == RollbackResult::Planned {
            writeln!(
                f,
                "calls:\n  ecs:UpdateService service={} taskDefinition={}\n  ecs:TagResource {}={} on {}",
                self.service,
                to.task_definition,
                tags::OUTCOME,
                self.leaves_as,
                from.task_definition
            )?;
        }
        if let Some(wait) = &self.wait
            && self.result != RollbackResult::RolledBack
        {
            write!(f, "{wait}")?;
        }
        Ok(())
    }
}

/// Rolls the service back and waits until it is stable on the older revision.
pub async fn rollback(
    aws: &Aws,
    env: &EnvConfig,
    service: &str,
    opts: &Options,
    reporter: &dyn Reporter,
    interrupt: &Interrupt,
) -> anyhow::Result<RollbackOutcome> {
    let started = Instant::now();
    let svc = crate::workflows::describe_one(aws, env, service).await?;
    let current = aws
        .ecs
        .describe_task_definition(svc.current_task_definition())
        .await?;
    let container = crate::workflows::container_of(env, &current);
    let (target, because) = choose_target(aws, &current, opts.to.as_deref(), &container).await?;
    if target.arn == current.arn {
        return Err(UserError::new(format!(
            "{service} already runs {} ({})",
            current.short(),
            version_of(&current, &container)
        ))
        .hint("name another revision or version with --to")
        .into());
    }
    let mut out = RollbackOutcome {
        env: env.name.clone(),
        service: service.to_owned(),
        result: RollbackResult::Planned,
        from: Revision::of(&current, &container),
        to: Revision::of(&target, &container),
        chosen_because: because,
        leaves_as: tags::after_rollback(current.tags.get(tags::OUTCOME).map(String::as_str)),
        wait: None,
        elapsed_secs: 0.0,
    };
    if opts.dry_run {
        out.elapsed_secs = started.elapsed().as_secs_f64();
        return Ok(out);
    }
    crate::workflows::confirm_change(
        env,
        reporter,
        interrupt,
        &format!(
            "Roll {} ({service}) back from {} to {}?",
            env.name, out.from.version, out.to.version
        ),
    )?;
    reporter.step(
        "rollback",
        format!(
            "pointing {service} at {} ({})",
            target.short(),
            out.to.version
        ),
    );
    let updated = aws
        .ecs
        .update_task_definition(&env.cluster, service, &target.arn)
        .await?;
    let left = out.leaves_as;
    let tag = BTreeMap::from([(tags::OUTCOME.to_owned(), left.to_owned())]);
    if let Err(e) = aws.ecs.tag_task_definition(&current.arn, &tag).await {
        reporter.warn(format!("could not tag {} as {left}: {e}", current.short()));
    }
    if opts.no_wait {
        out.result = RollbackResult::Started;
        out.elapsed_secs = started.elapsed().as_secs_f64();
        return Ok(out);
    }
    let waited = wait::wait(
        aws,
        &env.cluster,
        vec![wait::Target::revision(service, &target.arn, Some(&updated))],
        &wait::Options::new(opts.timeout, opts.poll),
        reporter,
        interrupt,
    )
    .await?;
    out.result = match waited.verdict() {
        Verdict::Stable => RollbackResult::RolledBack,
        Verdict::Failed => RollbackResult::Failed,
        Verdict::TimedOut => RollbackResult::TimedOut,
        Verdict::Interrupted => RollbackResult::Interrupted,
    };
    out.wait = Some(waited);
    out.elapsed_secs = started.elapsed().as_secs_f64();
    Ok(out)
}

/// Picks the revision to go back to, and says why.
async fn choose_target(
    aws: &Aws,
    current: &TaskDefinition,
    to: Option<&str>,
    container: &str,
) -> anyhow::Result<(TaskDefinition, String)> {
    let active = aws.ecs.list_task_definitions(&current.family).await?;
    let revision_of = |arn: &str| -> Option<i32> { arn.rsplit(':').next()?.parse().ok() };
    let listed = || {
        active
            .iter()
            .filter_map(|a| revision_of(a))
            .take(10)
            .map(|r| r.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };

    if let Some(to) = to {
        let number = to
            .strip_prefix(&format!("{}:", current.family))
            .unwrap_or(to)
            .parse::<i32>()
            .ok();
        if let Some(n) = number {
            let Some(arn) = active.iter().find(|a| revision_of(a) == Some(n)) else {
                return Err(UserError::new(format!(
                    "revision {n} is not an ACTIVE revision of family {}",
                    current.family
                ))
                .hint(format!("pick one of: {}", listed()))
                .into());
            };
            let td = aws.ecs.describe_task_definition(arn).await?;
            return Ok((td, format!("revision {n} as asked")));
        }
        for arn in &active {
            let td = aws.ecs.describe_task_definition(arn).await?;
            if version_of(&td, container) == to {
                return Ok((td, format!("the newest revision running {to}")));
            }
        }
        return Err(UserError::new(format!(
            "no ACTIVE revision of {} runs version {to}",
            current.family
        ))
        .hint(format!(
            "see `opsctl history` for versions, or pass a revision number ({})",
            listed()
        ))
        .into());
    }

    if let Some(previous) = current.tags.get(tags::PREVIOUS) {
        let wanted = revision_of(previous);
        if let Some(arn) = active.iter().find(|a| revision_of(a) == wanted) {
            let td = aws.ecs.describe_task_definition(arn).await?;
            return Ok((
                td,
                format!("it ran before {} was deployed", current.short()),
            ));
        }
    }
    for arn in &active {
        if revision_of(arn).is_none_or(|r| r >= current.revision) {
            continue;
        }
        let td = aws.ecs.describe_task_definition(arn).await?;
        let outcome = td.tags.get(tags::OUTCOME).map(String::as_str);
        // Failed, rolled back, reverted by hand, unfinished or never deployed: not a way back.
        if !matches!(outcome, None | Some(tags::SUCCEEDED)) {
            continue;
        }
        return Ok((
            td,
            "the newest earlier revision whose deploy succeeded and was not reverted".to_owned(),
        ));
    }
    Err(UserError::new(format!(
        "no earlier revision of {} to roll back to",
        current.family
    ))
    .hint("deploy a known-good version instead: opsctl deploy ENV --version TAG")
    .into())
}

//! `opsctl run`, and the commands a deploy runs first (`before_deploy`): one task from the
//! service's task definition, placed as the service places its tasks, with the container's
//! command overridden; its log lines streamed as they arrive, its exit code passed through.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;
use tokio::time::Instant;

use super::pace::{Pacer, Shown, Stop};
use super::{Event, Interrupt, Outcome, Reporter};
use crate::aws::{Aws, LogConfig, OneOffTask, Placement, RunRequest, TaskDefinition, tags};
use crate::config::EnvConfig;
use crate::error::{Exit, UserError};

/// How often a one-off task and its log stream are read.
pub const POLL: Duration = Duration::from_secs(2);
/// How long a one-off task may take unless `--timeout` or the command's `timeout` says.
pub const TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// How many of the last log lines an outcome keeps (the JSON result, a failed migration).
const KEEP_LINES: usize = 20;

/// `opsctl run` as the user asked it.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// `--service`: another of the env's services.
    pub service: Option<String>,
    pub container: Option<String>,
    /// Run the revision a deploy of this version would register.
    pub version: Option<String>,
    pub command: Vec<String>,
    pub logs: bool,
    pub dry_run: bool,
    pub timeout: Duration,
    pub poll: Duration,
    pub actor: String,
}

/// Everything one task needs, resolved: what `run` and a deploy's `before_deploy` share.
#[derive(Debug, Clone)]
pub struct RunPlan {
    /// What the task is, in words (`run`, or the before_deploy command's name).
    pub name: String,
    pub service: String,
    pub task_definition: TaskDefinition,
    pub container: String,
    pub command: Vec<String>,
    pub placement: Placement,
    pub tags: BTreeMap<String, String>,
    pub logs: bool,
    pub timeout: Duration,
    pub poll: Duration,
}

/// How a one-off task ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunResult {
    /// The container exited 0.
    Succeeded,
    /// The container exited with another code.
    Failed,
    /// The task stopped without its container running (`TaskFailedToStart`, ...).
    NotStarted,
    /// Stopped on request (Ctrl-C, then yes).
    Stopped,
    /// `--dry-run`: nothing changed.
    Planned,
    /// Still running at the timeout; it goes on.
    TimedOut,
    /// Ctrl-C, and the task was left running.
    Interrupted,
}

/// What a one-off task did.
#[derive(Debug, Clone, Serialize)]
pub struct RunOutcome {
    pub env: String,
    pub name: String,
    pub service: String,
    pub task_definition: String,
    pub container: String,
    pub command: Vec<String>,
    pub result: RunResult,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped_at: Option<Timestamp>,
    /// Where its output went: `group` and `stream` in CloudWatch Logs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_group: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_stream: Option<String>,
    /// The last lines it logged.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub last_lines: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub calls: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub next: Vec<String>,
    pub elapsed_secs: f64,
}

impl RunOutcome {
    /// The command as a shell would show it.
    pub fn command_line(&self) -> String {
        shell_words(&self.command)
    }

    /// For a deploy: why this task must stop it, or `None` when it succeeded.
    pub fn stops_deploy(&self) -> Option<String> {
        let what = match self.result {
            RunResult::Succeeded | RunResult::Planned => return None,
            RunResult::Failed => format!("exited {}", self.exit_code.unwrap_or(-1)),
            RunResult::NotStarted => format!(
                "never started: {}",
                self.stop_reason.as_deref().unwrap_or("no reason given")
            ),
            RunResult::Stopped => "was stopped".into(),
            RunResult::TimedOut => "did not finish in time (it goes on in ECS)".into(),
            RunResult::Interrupted => "was interrupted (it goes on in ECS)".into(),
        };
        Some(format!("{} `{}` {what}", self.name, self.command_line()))
    }
}

impl Outcome for RunOutcome {
    fn exit(&self) -> Exit {
        match self.result {
            RunResult::Succeeded | RunResult::Planned => Exit::Ok,
            RunResult::Failed => match self.exit_code {
                Some(code @ 1..=255) => Exit::Passed(code as u8),
                _ => Exit::Failed,
            },
            RunResult::NotStarted | RunResult::Stopped => Exit::Failed,
            RunResult::TimedOut => Exit::TimedOut,
            RunResult::Interrupted => Exit::Interrupted,
        }
    }
}

impl fmt::Display for RunOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (cmd, td, secs) = (
            self.command_line(),
            &self.task_definition,
            self.elapsed_secs,
        );
        let id = self
            .task_arn
            .as_deref()
            .and_then(|a| a.rsplit('/').next())
            .unwrap_or("");
        let reason = self.stop_reason.as_deref().unwrap_or("no reason given");
        match self.result {
            RunResult::Succeeded => {
                writeln!(f, "`{cmd}` exited 0 after {secs:.0}s (task {id}, {td})")?
            }
            RunResult::Failed => writeln!(
                f,
                "`{cmd}` FAILED: exit {} after {secs:.0}s (task {id}, {td}): {reason}",
                self.exit_code.unwrap_or(-1)
            )?,
            RunResult::NotStarted => writeln!(
                f,
                "`{cmd}` never started (task {id}, {td}): {}{reason}",
                self.stop_code
                    .as_deref()
                    .map(|c| format!("{c}: "))
                    .unwrap_or_default()
            )?,
            RunResult::Stopped => writeln!(f, "stopped task {id} running `{cmd}` ({td})")?,
            RunResult::Planned => {
                writeln!(
                    f,
                    "would run `{cmd}` in {} of {td} (nothing changed)\ncalls:",
                    self.container
                )?;
                for call in &self.calls {
                    writeln!(f, "  {call}")?;
                }
            }
            RunResult::TimedOut => writeln!(
                f,
                "`{cmd}` is still running after {secs:.0}s (timed out); task {id} goes on in ECS"
            )?,
            RunResult::Interrupted => {
                writeln!(f, "stopped watching `{cmd}`; task {id} goes on in ECS")?
            }
        }
        if !matches!(self.result, RunResult::Succeeded | RunResult::Planned)
            && !self.last_lines.is_empty()
        {
            writeln!(f, "  its last lines:")?;
            for line in &self.last_lines {
                writeln!(f, "    {line}")?;
            }
        }
        for n in &self.next {
            writeln!(f, "  next: {n}")?;
        }
        Ok(())
    }
}

/// `a b 'c d'`: words with spaces or quotes quoted, for showing and pasting.
pub fn shell_words(words: &[String]) -> String {
    words
        .iter()
        .map(|w| {
            if !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c))
            {
                w.clone()
            } else {
                format!("'{}'", w.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The tags of a one-off task: what it is and who ran it.
pub fn run_tags(env: &EnvConfig, name: &str, actor: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (tags::RUN.to_owned(), name.to_owned()),
        (tags::ENV.to_owned(), env.name.clone()),
        (tags::DEPLOYED_BY.to_owned(), actor.to_owned()),
    ])
}

/// `opsctl run ENV -- COMMAND`: resolves the service, its revision (or the one a deploy of
/// `--version` would register), the container and the placement; refuses bad input before any
/// call that changes something; then runs the task.
pub async fn run(
    aws: &Aws,
    env: &EnvConfig,
    opts: &RunOptions,
    reporter: &dyn Reporter,
    interrupt: &Interrupt,
) -> anyhow::Result<RunOutcome> {
    if opts.command.is_empty() || opts.command[0].trim().is_empty() {
        crate::bad_input!(
            format!(
                "put the command after `--`: opsctl run {} -- users-service migrate",
                env.name
            ),
            "no command to run"
        );
    }
    let service = service_of(aws, env, opts.service.as_deref()).await?;
    let described = super::describe_one(aws, env, &service).await?;
    let current = aws
        .ecs
        .describe_task_definition(described.current_task_definition())
        .await?;
    let container = current
        .container_for(opts.container.as_deref().or(env.container.as_deref()))
        .map_err(|e| {
            UserError::new(e.to_string()).hint("name the container with --container NAME")
        })?
        .name
        .clone();
    let mut calls = Vec::new();
    let task_definition = match &opts.version {
        None => current,
        Some(version) => {
            let repository = env.repository.clone().unwrap_or_else(|| {
                let image = current
                    .containers
                    .iter()
                    .find(|c| c.name == container)
                    .map_or("", |c| c.image.as_str());
                super::preflight::repository_of(image).to_owned()
            });
            let image = aws
                .registry
                .find_image(&repository, version)
                .await?
                .ok_or_else(|| {
                    UserError::new(format!(
                        "version {version} is not in repository {repository}"
                    ))
                    .hint("push the image first, or pick a tag the repository has")
                })?;
            let running = current
                .containers
                .iter()
                .find(|c| c.name == container)
                .is_some_and(|c| c.image == image.uri);
            if running {
                current
            } else if opts.dry_run {
                calls.push(format!(
                    "ecs:RegisterTaskDefinition copying {} with {container} on {} (tagged {}=run)",
                    current.short(),
                    image.uri,
                    tags::RUN
                ));
                current
            } else {
                reporter.step(
                    "register",
                    format!(
                        "registering a revision of {} with {version}",
                        current.family
                    ),
                );
                let mut new_tags = run_tags(env, "run", &opts.actor);
                new_tags.insert(tags::VERSION.to_owned(), version.clone());
                aws.ecs
                    .register_with_image(&current.arn, &container, &image.uri, &new_tags)
                    .await?
            }
        }
    };
    let plan = RunPlan {
        name: "run".into(),
        service,
        task_definition,
        container,
        command: opts.command.clone(),
        placement: described.placement.clone(),
        tags: run_tags(env, "run", &opts.actor),
        logs: opts.logs,
        timeout: opts.timeout,
        poll: opts.poll,
    };
    if opts.dry_run {
        let mut out = outcome(env, &plan, RunResult::Planned);
        calls.push(run_call(env, &plan));
        calls.push("then ecs:DescribeTasks until STOPPED, and logs:GetLogEvents".into());
        out.calls = calls;
        return Ok(out);
    }
    crate::workflows::confirm_change(
        env,
        reporter,
        interrupt,
        &format!(
            "Run `{}` in {} of {} ({})?",
            shell_words(&plan.command),
            plan.container,
            plan.task_definition.short(),
            env.name
        ),
    )?;
    run_task(aws, env, &plan, reporter, interrupt).await
}

impl RunOutcome {
    /// The outcome of a plan not (yet) run.
    pub fn planned(env: &EnvConfig, plan: &RunPlan) -> Self {
        outcome(env, plan, RunResult::Planned)
    }
}

/// The service `run` and `logs` act on: `--service` (one of the env's), else the env's
/// service, else a blue/green environment's live colour (what production runs).
pub async fn service_of(aws: &Aws, env: &EnvConfig, named: Option<&str>) -> anyhow::Result<String> {
    Ok(match (named, env.rolling_service()) {
        (Some(s), _) => {
            if !env.services().contains(&s) {
                crate::bad_input!(
                    format!("name one of: {}", env.services().join(", ")),
                    "--service {s} is not a service of env.{}",
                    env.name
                );
            }
            s.to_owned()
        }
        (None, Some(s)) => s.to_owned(),
        (None, None) => {
            let pair = super::traffic::resolve(aws, env).await?;
            pair.side(pair.live()).service.clone()
        }
    })
}

fn outcome(env: &EnvConfig, plan: &RunPlan, result: RunResult) -> RunOutcome {
    RunOutcome {
        env: env.name.clone(),
        name: plan.name.clone(),
        service: plan.service.clone(),
        task_definition: plan.task_definition.short(),
        container: plan.container.clone(),
        command: plan.command.clone(),
        result,
        task_arn: None,
        exit_code: None,
        stop_code: None,
        stop_reason: None,
        created_at: None,
        started_at: None,
        stopped_at: None,
        log_group: None,
        log_stream: None,
        last_lines: Vec::new(),
        calls: Vec::new(),
        next: Vec::new(),
        elapsed_secs: 0.0,
    }
}

/// The RunTask call in words.
pub fn run_call(env: &EnvConfig, plan: &RunPlan) -> String {
    let p = &plan.placement;
    let place = match (&p.launch_type, p.capacity_providers.is_empty()) {
        (_, false) => format!(
            "capacityProviderStrategy={}",
            p.capacity_providers
                .iter()
                .map(|(n, w, b)| format!("{n}:{w}:{b}"))
                .collect::<Vec<_>>()
                .join(",")
        ),
        (Some(l), true) => format!("launchType={l}"),
        (None, true) => "launchType=(cluster default)".into(),
    };
    format!(
        "ecs:RunTask cluster={} taskDefinition={} {place} subnets={} securityGroups={} \
         overrides.{}.command={}",
        env.cluster,
        plan.task_definition.short(),
        p.subnets.join(","),
        p.security_groups.join(","),
        plan.container,
        shell_words(&plan.command)
    )
}

/// Where the container's log lines are, or why opsctl cannot read them.
fn log_source(plan: &RunPlan) -> Result<Option<LogConfig>, String> {
    let log = plan
        .task_definition
        .containers
        .iter()
        .find(|c| c.name == plan.container)
        .and_then(|c| c.log.clone());
    match log {
        None => Ok(None),
        Some(l) if l.driver != "awslogs" => Err(format!(
            "{} logs with the {} driver; opsctl reads only awslogs, so no lines are shown here",
            plan.container, l.driver
        )),
        Some(l) if l.group.is_none() || l.prefix.is_none() => Err(format!(
            "{}'s awslogs configuration has no awslogs-group or awslogs-stream-prefix, so its \
             stream cannot be named",
            plan.container
        )),
        Some(l) => Ok(Some(l)),
    }
}

/// Starts the task and follows it to STOPPED, streaming its lines. Ctrl-C asks whether to
/// stop it; a timeout leaves it running and says how to find it.
pub async fn run_task(
    aws: &Aws,
    env: &EnvConfig,
    plan: &RunPlan,
    reporter: &dyn Reporter,
    interrupt: &Interrupt,
) -> anyhow::Result<RunOutcome> {
    let started = Instant::now();
    let mut out = outcome(env, plan, RunResult::Interrupted);
    let log = match log_source(plan) {
        Ok(log) => log,
        Err(why) => {
            if plan.logs {
                reporter.warn(why);
            }
            None
        }
    };
    reporter.step(
        &plan.name,
        format!(
            "starting `{}` in {} of {}",
            shell_words(&plan.command),
            plan.container,
            plan.task_definition.short()
        ),
    );
    let request = RunRequest {
        cluster: env.cluster.clone(),
        task_definition: plan.task_definition.arn.clone(),
        container: plan.container.clone(),
        command: plan.command.clone(),
        placement: plan.placement.clone(),
        started_by: format!("opsctl-{}", plan.name).chars().take(36).collect(),
        tags: plan.tags.clone(),
    };
    let mut task = aws.ecs.run_task(&request).await?;
    out.task_arn = Some(task.arn.clone());
    let stream = log
        .as_ref()
        .and_then(|l| l.stream(&plan.container, &task.id));
    out.log_group = log.as_ref().and_then(|l| l.group.clone());
    out.log_stream = stream.clone();
    reporter.step("run", format!("task {} is {}", task.id, task.last_status));
    let find = format!(
        "aws ecs describe-tasks --cluster {} --tasks {}",
        env.cluster, task.arn
    );

    let mut lines: Vec<String> = Vec::new();
    let mut token = None;
    let mut last_status = task.last_status.clone();
    let source = format!(
        "{}/{}",
        plan.container,
        task.id.chars().take(8).collect::<String>()
    );
    let shown = Shown::start(reporter, format!("task {} to stop", task.id), plan.timeout);
    let mut pacer = Pacer::new(plan.timeout, plan.poll, plan.poll * 5, interrupt);
    let stop = loop {
        // The stream exists once the container has started.
        let started = task.started_at.is_some() || task.last_status == "RUNNING";
        if let (Some(group), Some(stream)) = (out.log_group.as_deref(), stream.as_deref())
            && plan.logs
            && started
        {
            match aws.logs.stream_lines(group, stream, token.clone()).await {
                Ok((new, next)) => {
                    token = next;
                    for line in new {
                        reporter.report(Event::Log {
                            source: source.clone(),
                            at: line.at,
                            message: line.message.clone(),
                        });
                        lines.push(line.message);
                    }
                }
                Err(e) => pacer.failed("GetLogEvents", e, reporter)?,
            }
        }
        // The status after the lines it logged before it: a STOPPED comes after its last line.
        if task.last_status != last_status {
            reporter.step("run", format!("task {} is {}", task.id, task.last_status));
            last_status = task.last_status.clone();
        }
        if task.is_stopped() {
            break None;
        }
        match pacer.nap().await {
            None => {}
            Some(stop) => break Some(stop),
        }
        match aws
            .ecs
            .describe_task(&env.cluster, &task.arn, &plan.container)
            .await
        {
            Ok(Some(seen)) => {
                pacer.answered();
                task = seen;
            }
            Ok(None) => pacer.answered(),
            Err(e) => pacer.failed("DescribeTasks", e, reporter)?,
        }
    };
    drop(shown);
    out.result = match stop {
        None => ended(&task),
        Some(Stop::TimedOut) => {
            out.next = vec![
                find.clone(),
                format!(
                    "aws ecs stop-task --cluster {} --task {}   # to stop it",
                    env.cluster, task.arn
                ),
            ];
            RunResult::TimedOut
        }
        Some(Stop::Interrupted) => {
            let stop_it = reporter
                .confirm(&format!(
                    "Stop task {} (`{}`)? Otherwise it goes on in ECS.",
                    task.id,
                    shell_words(&plan.command)
                ))
                .unwrap_or(false);
            if stop_it {
                aws.ecs
                    .stop_task(&env.cluster, &task.arn, "stopped from opsctl run (Ctrl-C)")
                    .await?;
                // Read it once more, so the result carries the stop as ECS recorded it; a
                // failed read leaves the task as last seen.
                if let Ok(Some(seen)) = aws
                    .ecs
                    .describe_task(&env.cluster, &task.arn, &plan.container)
                    .await
                {
                    task = seen;
                }
                RunResult::Stopped
            } else {
                out.next = vec![find.clone()];
                RunResult::Interrupted
            }
        }
    };
    out.exit_code = task.exit_code;
    out.stop_code = task.stop_code.clone();
    out.stop_reason = task
        .container_reason
        .clone()
        .or_else(|| task.stopped_reason.clone());
    out.created_at = task.created_at;
    out.started_at = task.started_at;
    out.stopped_at = task.stopped_at;
    let keep = lines.len().saturating_sub(KEEP_LINES);
    out.last_lines = lines.split_off(keep);
    if matches!(out.result, RunResult::Failed | RunResult::NotStarted) && out.log_stream.is_some() {
        out.next.push(format!(
            "aws logs get-log-events --log-group-name {} --log-stream-name {}   # every line",
            out.log_group.as_deref().unwrap_or_default(),
            out.log_stream.as_deref().unwrap_or_default()
        ));
    }
    out.elapsed_secs = started.elapsed().as_secs_f64();
    Ok(out)
}

/// How a stopped task ended.
fn ended(task: &OneOffTask) -> RunResult {
    match task.exit_code {
        Some(0) => RunResult::Succeeded,
        Some(_) => RunResult::Failed,
        None if task.stop_code.as_deref() == Some("UserInitiated") => RunResult::Stopped,
        None => RunResult::NotStarted,
    }
}

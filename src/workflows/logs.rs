//! `opsctl logs`: the service's containers' lines from CloudWatch Logs (the task
//! definition's awslogs group and stream prefix), oldest first, each with its task; once, or
//! followed with a bounded poll.

use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;

use super::pace::{Pacer, Stop};
use super::traffic::Colour;
use super::{Interrupt, Reporter};
use crate::aws::{Aws, LogLine, LogQuery};
use crate::config::EnvConfig;
use crate::error::UserError;

/// How often `--follow` reads.
pub const POLL: Duration = Duration::from_secs(2);

/// With `--follow` in a blue/green environment, the colour's tasks are listed again every
/// this many reads (a minute at the default poll), so new tasks' lines join.
const RELIST_EVERY: u32 = 30;

/// What to read.
#[derive(Debug, Clone)]
pub struct LogsOptions {
    pub service: Option<String>,
    /// Blue/green: which colour's service, instead of `service`.
    pub colour: Option<Which>,
    pub container: Option<String>,
    /// One task's lines (its id, or the end of its ARN).
    pub task: Option<String>,
    pub start: Timestamp,
    pub end: Option<Timestamp>,
    pub pattern: Option<String>,
    /// Keep reading new lines until Ctrl-C, or `follow_for` if set.
    pub follow: bool,
    pub follow_for: Option<Duration>,
    pub poll: Duration,
}

/// A colour of a blue/green environment, named or by its traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Colour(Colour),
    /// The colour carrying the traffic.
    Live,
    /// The colour without traffic.
    Idle,
}

/// The service `--colour` names; a clear error in an environment without colours.
async fn colour_service(aws: &Aws, env: &EnvConfig, which: Which) -> anyhow::Result<String> {
    if env.two_service().is_none() {
        crate::bad_input!(
            "drop --colour, or name a service with --service",
            "env.{} is not a blue/green environment: --colour names one of its two services",
            env.name
        );
    }
    let pair = super::traffic::resolve(aws, env).await?;
    let colour = match which {
        Which::Colour(c) => c,
        Which::Live => pair.live(),
        Which::Idle => pair.live().other(),
    };
    Ok(pair.side(colour).service.clone())
}

/// One line as `logs` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Line {
    pub at: Timestamp,
    pub task: String,
    pub container: String,
    pub message: String,
}

/// Where the lines come from, as `status` and the result name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Source {
    pub service: String,
    pub container: String,
    pub group: String,
    pub stream_prefix: String,
}

/// Where the service's container logs to: its awslogs group and stream prefix, or a clear
/// error naming the driver opsctl cannot read.
pub async fn source(
    aws: &Aws,
    env: &EnvConfig,
    service: Option<&str>,
    container: Option<&str>,
) -> anyhow::Result<Source> {
    let service = super::run::service_of(aws, env, service).await?;
    let described = super::describe_one(aws, env, &service).await?;
    let td = aws
        .ecs
        .describe_task_definition(described.current_task_definition())
        .await?;
    let c = td
        .container_for(container.or(env.container.as_deref()))
        .map_err(|e| {
            UserError::new(e.to_string()).hint("name the container with --container NAME")
        })?;
    let Some(log) = &c.log else {
        return Err(UserError::new(format!(
            "{} in {} has no logConfiguration: ECS keeps none of its output",
            c.name,
            td.short()
        ))
        .hint("give the container an awslogs logConfiguration in its task definition")
        .into());
    };
    match (log.driver.as_str(), &log.group, &log.prefix) {
        ("awslogs", Some(group), Some(prefix)) => Ok(Source {
            service,
            container: c.name.clone(),
            group: group.clone(),
            stream_prefix: format!("{prefix}/{}/", c.name),
        }),
        ("awslogs", _, _) => Err(UserError::new(format!(
            "{}'s awslogs configuration in {} has no awslogs-group or awslogs-stream-prefix",
            c.name,
            td.short()
        ))
        .hint("set both options, so each task's stream has a name opsctl can find")
        .into()),
        (driver, _, _) => Err(UserError::new(format!(
            "{} in {} logs with the {driver} driver; opsctl reads CloudWatch Logs (awslogs) only",
            c.name,
            td.short()
        ))
        .hint(format!(
            "read its logs where {driver} sends them (FireLens: the destination its log router names)"
        ))
        .into()),
    }
}

/// The tasks' streams (FilterLogEvents takes 100 names at most).
fn streams_of(ids: &[String], prefix: &str) -> Vec<String> {
    ids.iter()
        .take(100)
        .map(|id| format!("{prefix}{id}"))
        .collect()
}

fn line_of(l: LogLine, container: &str) -> Line {
    // Streams are `prefix/container/task-id`.
    let task = l.stream.rsplit('/').next().unwrap_or_default().to_owned();
    Line {
        at: l.at,
        task,
        container: container.to_owned(),
        message: l.message,
    }
}

/// Reads the lines and hands each to `sink`, oldest first; with `follow`, keeps reading until
/// Ctrl-C (or `follow_for`). Returns how many lines it gave.
pub async fn logs(
    aws: &Aws,
    env: &EnvConfig,
    opts: &LogsOptions,
    reporter: &dyn Reporter,
    interrupt: &Interrupt,
    sink: &mut (dyn FnMut(&Line) + Send),
) -> anyhow::Result<usize> {
    let service = match opts.colour {
        Some(which) => Some(colour_service(aws, env, which).await?),
        None => opts.service.clone(),
    };
    let src = source(aws, env, service.as_deref(), opts.container.as_deref()).await?;
    // The two colours often share a task definition family, so its group and prefix hold
    // both services' streams: a colour's lines are its own tasks' streams.
    let streams = match (&opts.task, env.two_service()) {
        (None, Some(_)) => {
            let ids = aws.ecs.task_ids(&env.cluster, &src.service).await?;
            if ids.is_empty() {
                reporter.warn(format!(
                    "{} has no running or recently stopped tasks: no lines to read",
                    src.service
                ));
                return Ok(0);
            }
            streams_of(&ids, &src.stream_prefix)
        }
        _ => Vec::new(),
    };
    let mut query = LogQuery {
        group: src.group.clone(),
        stream_prefix: match &opts.task {
            Some(t) => format!("{}{}", src.stream_prefix, t.rsplit('/').next().unwrap_or(t)),
            None => src.stream_prefix.clone(),
        },
        streams,
        start: Some(opts.start),
        end: opts.end,
        pattern: opts.pattern.clone(),
    };
    let mut given = 0;
    let mut polls = 0u32;
    // Lines seen at the newest timestamp, so a follow's next read (from that time, inclusive)
    // does not give them twice.
    let mut newest: Option<(Timestamp, Vec<(String, String)>)> = None;
    let forever = Duration::from_secs(100 * 365 * 86_400);
    let mut pacer = Pacer::new(
        opts.follow_for.unwrap_or(forever),
        opts.poll,
        opts.poll * 5,
        interrupt,
    );
    loop {
        let mut token = None;
        loop {
            let (page, next) = match aws.logs.filter(&query, token.clone()).await {
                Ok(answer) => answer,
                Err(crate::aws::AwsError::NotFound(..)) => {
                    return Err(UserError::new(format!(
                        "log group {} (the awslogs-group of {}) does not exist",
                        src.group, src.container
                    ))
                    .hint("check the task definition's logConfiguration, and the region in use")
                    .into());
                }
                Err(e) => {
                    pacer.failed("FilterLogEvents", e, reporter)?;
                    continue;
                }
            };
            pacer.answered();
            for l in page {
                let key = (l.stream.clone(), l.message.clone());
                if let Some((at, seen)) = &newest
                    && l.at == *at
                    && seen.contains(&key)
                {
                    continue;
                }
                match &mut newest {
                    Some((at, seen)) if *at == l.at => seen.push(key),
                    _ => newest = Some((l.at, vec![key])),
                }
                sink(&line_of(l, &src.container));
                given += 1;
            }
            token = next;
            if token.is_none() {
                break;
            }
        }
        if !opts.follow {
            return Ok(given);
        }
        match pacer.nap().await {
            None => {}
            Some(Stop::TimedOut) | Some(Stop::Interrupted) => return Ok(given),
        }
        if let Some((at, _)) = &newest {
            query.start = Some(*at);
        }
        // A colour's tasks come and go while it is followed: list them again now and then.
        polls += 1;
        if !query.streams.is_empty() && polls.is_multiple_of(RELIST_EVERY) {
            match aws.ecs.task_ids(&env.cluster, &src.service).await {
                Ok(ids) if !ids.is_empty() => {
                    query.streams = streams_of(&ids, &src.stream_prefix);
                }
                Ok(_) => {}
                Err(e) => reporter.warn(format!(
                    "ListTasks failed ({e}); following the tasks listed before"
                )),
            }
        }
    }
}

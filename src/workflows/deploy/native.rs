//! A deploy to a service ECS deploys itself (`deploymentConfiguration.strategy` BLUE_GREEN,
//! LINEAR or CANARY): opsctl registers the revision and updates the service as for a rolling
//! deploy, then follows the service deployment ECS started, stage by stage, until it ends.
//! ECS owns the state machine, and its own rollback: opsctl reports where it ended.

use std::collections::BTreeSet;

use super::*;
use crate::aws::{NativeTraffic, ServiceDeployment, ServiceDeploymentStatus};
use crate::workflows::pace::Stop;
use crate::workflows::{Event, analysis};

/// How long opsctl looks for the service deployment its UpdateService started, before it
/// says it found none.
const FIND_BOUND: Duration = Duration::from_secs(60);

/// How far back of the local clock a service deployment's `createdAt` may lie and still be
/// the one this deploy started (clock skew between this machine and AWS).
const SKEW: jiff::SignedDuration = jiff::SignedDuration::from_secs(60);

/// Follows the service deployment started at `since` to its end, records the outcome on
/// `new` and in `out`.
#[allow(clippy::too_many_arguments)]
pub(super) async fn follow(
    aws: &Aws,
    env: &EnvConfig,
    service: &str,
    strategy: crate::aws::DeploymentStrategy,
    traffic: Option<&NativeTraffic>,
    new: &TaskDefinition,
    since: jiff::Timestamp,
    opts: &Options,
    reporter: &dyn Reporter,
    interrupt: &Interrupt,
    out: &mut DeployOutcome,
) {
    reporter.step(
        "wait",
        format!(
            "following ECS's {strategy} deployment of {} on {service}",
            new.short()
        ),
    );
    let _shown = Shown::start(
        reporter,
        format!("the {strategy} deployment of {service}"),
        opts.timeout,
    );
    // Which target group takes the new revision: the one without production traffic now.
    let sides = match traffic {
        Some(t) => match aws.lb.forward(&t.production_rule).await {
            Ok(fwd) => Some(Sides::of(t, &fwd.weights)),
            Err(e) => {
                reporter.warn(format!(
                    "cannot read the production rule {}: {e}; the analysis watches the alarms only",
                    t.production_rule
                ));
                None
            }
        },
        None => None,
    };
    let mut answered: BTreeSet<String> = BTreeSet::new();
    let mut rejected: Option<String> = None;
    let mut pacer = Pacer::new(opts.timeout, opts.poll, Duration::from_secs(20), interrupt);
    let started = Instant::now();
    let mut arn: Option<String> = None;
    let mut last: Option<ServiceDeployment> = None;
    let mut reached: Option<WaitUntil> = None;
    let stop = loop {
        let polled = match &arn {
            None => aws
                .ecs
                .latest_service_deployment(&env.cluster, service, since - SKEW)
                .await
                .map(|found| {
                    arn = found;
                    None
                }),
            Some(arn) => aws.ecs.describe_service_deployment(arn).await.map(Some),
        };
        match polled {
            Ok(seen) => {
                pacer.answered();
                if let Some(d) = seen {
                    if last.as_ref().is_none_or(|l| {
                        (l.status, &l.stage, l.production_weight)
                            != (d.status, &d.stage, d.production_weight)
                    }) {
                        reporter.step("stage", d.summary());
                    }
                    let over = d.status.is_final();
                    if !over
                        && let Some(until) = &opts.wait_until
                        && until.reached(&d)
                    {
                        // Before any hook is answered: `--wait-until paused` leaves it for
                        // `opsctl promote` or `opsctl abort`.
                        reached = Some(until.clone());
                        last = Some(d);
                        break None;
                    }
                    if let (Some(hook), Some(arn)) = (&d.awaiting_hook, &arn)
                        && !over
                        && answered.insert(hook.clone())
                    {
                        // opsctl's analysis answers the PAUSE hook.
                        let checks = approval(aws, env, sides.as_ref(), since).await;
                        for c in &checks {
                            reporter.report(Event::Check(c.clone()));
                        }
                        let failed: Vec<String> = checks
                            .iter()
                            .filter(|c| !c.ok)
                            .map(|c| c.detail.clone())
                            .collect();
                        out.checks.extend(checks);
                        let stage = d.stage.clone().unwrap_or_default();
                        match aws
                            .ecs
                            .continue_service_deployment(arn, hook, !failed.is_empty())
                            .await
                        {
                            Ok(()) if failed.is_empty() => {
                                reporter.step("approve", format!("{stage}: every check passed; CONTINUE"));
                            }
                            Ok(()) => {
                                reporter.step("reject", format!("{stage}: {}; ROLLBACK", failed.join("; ")));
                                rejected = Some(failed.join("; "));
                            }
                            Err(e) => reporter.warn(format!(
                                "could not answer the lifecycle hook {hook}: {e}; ECS applies the hook's timeout action"
                            )),
                        }
                    }
                    last = Some(d);
                    if over {
                        break None;
                    }
                } else if arn.is_none() && started.elapsed() > FIND_BOUND {
                    break Some(format!(
                        "ECS shows no service deployment of {service} since the update"
                    ));
                }
            }
            Err(e) => {
                let call = if arn.is_some() {
                    "DescribeServiceDeployments"
                } else {
                    "ListServiceDeployments"
                };
                if let Err(e) = pacer.failed(call, e, reporter) {
                    break Some(format!("{e:#}"));
                }
            }
        }
        match pacer.nap().await {
            None => {}
            Some(Stop::TimedOut) => break Some("timed out".into()),
            Some(Stop::Interrupted) => break Some("interrupted".into()),
        }
    };
    out.service_deployment = arn.clone();
    out.last_stage = last.as_ref().map(ServiceDeployment::summary);
    let next_status = format!("opsctl status {}", env.name);
    if let Some(until) = reached {
        // Returned early on purpose: the revision stays `in-progress` for whoever goes on.
        out.result = DeployResult::Started;
        out.reason = Some(format!(
            "reached {until}: {}",
            out.last_stage.clone().unwrap_or_default()
        ));
        out.next = match until {
            WaitUntil::Paused => vec![
                format!("opsctl promote {}   # CONTINUE: let ECS go on", env.name),
                format!("opsctl abort {}     # ROLLBACK", env.name),
            ],
            WaitUntil::Stage(_) => vec![next_status],
        };
        return;
    }
    let Some(d) = last.filter(|d| d.status.is_final()) else {
        // ECS carries on whatever opsctl does: say where it was and how to see the rest.
        let stage = arn_state(arn.as_deref(), out.last_stage.clone(), &next_status);
        let why = stop.unwrap_or_default();
        if why == "interrupted" {
            tag_outcome(aws, new, tags::INTERRUPTED, reporter).await;
        }
        out.result = match why.as_str() {
            "timed out" => DeployResult::TimedOut,
            "interrupted" => DeployResult::Interrupted,
            _ => DeployResult::Failed,
        };
        out.reason = Some(format!("{why}; {stage}"));
        out.next = vec![next_status];
        return;
    };
    let reason = d
        .rollback_reason
        .clone()
        .or_else(|| d.status_reason.clone());
    match d.status {
        ServiceDeploymentStatus::Successful => {
            tag_outcome(aws, new, tags::SUCCEEDED, reporter).await;
            out.result = DeployResult::Deployed;
        }
        ServiceDeploymentStatus::RollbackSuccessful => {
            tag_outcome(aws, new, tags::ROLLED_BACK, reporter).await;
            out.result = DeployResult::RolledBack;
            out.reason = Some(match &rejected {
                Some(why) => format!("opsctl's analysis rolled the deployment back: {why}"),
                None => format!(
                    "ECS rolled the deployment back: {}",
                    reason.unwrap_or_else(|| "no reason given".into())
                ),
            });
            out.points_at = out.from.as_ref().map(|r| r.task_definition.clone());
        }
        status => {
            tag_outcome(aws, new, tags::FAILED, reporter).await;
            out.result = DeployResult::Failed;
            out.reason = Some(format!(
                "the service deployment ended {status}{}",
                reason.map(|r| format!(": {r}")).unwrap_or_default()
            ));
            out.next = vec![next_status];
        }
    }
}

/// The target groups of a native deployment: `old` carries production traffic as it starts.
struct Sides {
    rule: String,
    old: String,
    new: String,
}

impl Sides {
    fn of(traffic: &NativeTraffic, weights: &[(String, i32)]) -> Self {
        let weight = |tg: &str| weights.iter().find(|(t, _)| t == tg).map_or(0, |(_, w)| *w);
        let [a, b] = &traffic.target_groups;
        let (old, new) = if weight(a) >= weight(b) {
            (a, b)
        } else {
            (b, a)
        };
        Sides {
            rule: traffic.production_rule.clone(),
            old: old.clone(),
            new: new.clone(),
        }
    }
}

/// The analysis at a paused stage: the env's alarms, and where the traffic is known, the new
/// target group's 5xx rate and p99 against the old one's since the deploy began. An AWS
/// error is a failed check: when opsctl cannot tell, it does not approve.
async fn approval(
    aws: &Aws,
    env: &EnvConfig,
    sides: Option<&Sides>,
    since: jiff::Timestamp,
) -> Vec<Check> {
    let mut checks = Vec::new();
    if !env.alarms.is_empty() {
        checks.push(match aws.monitoring.alarms(&env.alarms).await {
            Ok(alarms) => {
                analysis::alarms(&env.alarms, &alarms, "find out why before deploying again")
            }
            Err(e) => Check::fail(
                "alarms",
                format!("cannot read the alarms: {e}"),
                "try again",
            ),
        });
    }
    if let Some(s) = sides {
        let now = jiff::Timestamp::now().max(since + jiff::SignedDuration::from_secs(60));
        let read = |tg: String| {
            let rule = s.rule.clone();
            async move {
                aws.monitoring
                    .target_group_metrics(&rule, &tg, since, now)
                    .await
            }
        };
        match (read(s.new.clone()).await, read(s.old.clone()).await) {
            (Ok(new), Ok(old)) => checks.extend(analysis::metrics(
                &new,
                &old,
                &analysis::Limits::default(),
                "the new revision",
                "the old one",
            )),
            (Err(e), _) | (_, Err(e)) => checks.push(Check::fail(
                "metrics",
                format!("cannot read the target groups' metrics: {e}"),
                "try again",
            )),
        }
    }
    checks
}

/// Where a deployment opsctl stopped following was left.
fn arn_state(arn: Option<&str>, last: Option<String>, next: &str) -> String {
    match arn {
        Some(arn) => format!(
            "ECS carries on with service deployment {arn}{}; see it with `{next}`",
            last.map(|l| format!(" (last seen {l})"))
                .unwrap_or_default()
        ),
        None => "no service deployment was found".into(),
    }
}

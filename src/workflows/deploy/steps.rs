//! The steps every deploy strategy shares: register and update, the snapshot first, the bake,
//! and the outcome tags.

use super::*;

/// Ctrl-C pressed before the first change: stop with nothing changed. True when it was.
pub(crate) fn before_first_change(interrupt: &Interrupt, out: &mut DeployOutcome) -> bool {
    if !interrupt.is_raised() {
        return false;
    }
    out.result = DeployResult::Interrupted;
    out.reason = Some("interrupted before any change; nothing changed".into());
    true
}

/// How a roll-out step failed: before anything changed, or once the revision existed.
pub(crate) enum RollOutError {
    /// RegisterTaskDefinition failed: nothing changed.
    Register(crate::aws::AwsError),
    /// The revision was registered, but UpdateService failed: the service is as it was.
    Update {
        new: TaskDefinition,
        err: crate::aws::AwsError,
    },
    /// A `before_deploy` command of the new revision failed: the service was not changed.
    BeforeDeploy {
        new: TaskDefinition,
        run: Box<crate::workflows::run::RunOutcome>,
    },
}

impl RollOutError {
    /// Records the failure in the outcome, and tags a revision no service will run as such.
    pub(crate) fn report(self, service: &str, current: &TaskDefinition, out: &mut DeployOutcome) {
        out.result = DeployResult::Failed;
        out.points_at = Some(current.short());
        out.reason = Some(match self {
            RollOutError::Register(err) => {
                format!(
                    "{err}; nothing changed: {service} still runs {}",
                    current.short()
                )
            }
            RollOutError::Update { new, err } => {
                // Its tag says `not-deployed` from its registration on.
                format!(
                    "{err}; {} was registered but never deployed: {service} still runs {}",
                    new.short(),
                    current.short()
                )
            }
            RollOutError::BeforeDeploy { new, run } => {
                out.next.push(format!(
                    "fix it and run it again on its own: opsctl run {} --version {} -- {}",
                    out.env,
                    out.version,
                    run.command_line()
                ));
                out.next.extend(run.next.iter().cloned());
                let lines = if run.last_lines.is_empty() {
                    String::new()
                } else {
                    format!("\n  its last lines:\n    {}", run.last_lines.join("\n    "))
                };
                format!(
                    "{}; the service was not changed: {service} still runs {} ({} was registered and never deployed){lines}",
                    run.stops_deploy()
                        .unwrap_or_else(|| format!("{} failed", run.name)),
                    current.short(),
                    new.short()
                )
            }
        });
    }
}

/// The calls [`roll_out`] makes, in order, as a plan shows them: written here, beside it,
/// so that a plan cannot leave one out (a test compares them with the calls a real deploy
/// makes).
pub(crate) fn roll_out_calls(
    env: &EnvConfig,
    service: &str,
    base: &TaskDefinition,
    container: &str,
    desired: Option<i32>,
    version: &str,
) -> Vec<String> {
    let mut calls = vec![format!(
        "ecs:RegisterTaskDefinition family={} (copy of {}, image of {container} changed, tagged {}={version})",
        base.family,
        base.short(),
        tags::VERSION,
    )];
    for step in &env.before_deploy {
        calls.push(format!(
            "ecs:RunTask {} of {}:<new> in {container}: {} (then DescribeTasks until it stops; a failure stops the deploy here)",
            step.name,
            base.family,
            crate::workflows::run::shell_words(&step.command)
        ));
    }
    calls.extend([
        format!(
            "ecs:UpdateService cluster={} service={service} taskDefinition={}:<new>{}",
            env.cluster,
            base.family,
            desired
                .map(|d| format!(" desiredCount={d}"))
                .unwrap_or_default()
        ),
        format!(
            "ecs:TagResource {}={} on the new revision",
            tags::OUTCOME,
            tags::IN_PROGRESS
        ),
        format!(
            "cloudwatch:PutMetricData namespace=opsctl metric=Deployment env={} service={service} version={version}",
            env.name
        ),
    ]);
    calls
}

/// The last call of every deploy: its outcome on the revision.
pub(crate) fn outcome_call() -> String {
    format!(
        "ecs:TagResource {}=<outcome> on the new revision",
        tags::OUTCOME
    )
}

/// What the UpdateService of a deploy changes besides the revision.
pub(crate) enum Update<'a> {
    /// The native settings the service lacks (`None`: the revision only).
    Native(Option<&'a crate::aws::NativeSettings>),
    /// The desired count too (a blue/green idle colour).
    Count(i32),
}

/// `bake time and canary`: which native settings an update changes.
fn settings_names(s: &crate::aws::NativeSettings) -> String {
    [
        s.bake_minutes.map(|_| "bake time"),
        s.canary.map(|_| "canary"),
        s.linear.map(|_| "linear steps"),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" and ")
}

/// Registers a revision that copies `base` with the container's image changed, points the
/// service at it (with a new desired count, for a blue/green idle colour), and publishes the
/// deployment marker. Returns the new revision and the service as `UpdateService` left it.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn roll_out(
    aws: &Aws,
    env: &EnvConfig,
    service: &str,
    base: &TaskDefinition,
    container: &str,
    image: &str,
    update: Update<'_>,
    opts: &Options,
    reporter: &dyn Reporter,
    interrupt: &Interrupt,
) -> std::result::Result<(TaskDefinition, crate::aws::Service), RollOutError> {
    reporter.step(
        "register",
        format!("registering a new revision of {}", base.family),
    );
    let new_tags = revision_tags(&opts.version, &base.short(), &opts.actor);
    let new = aws
        .ecs
        .register_with_image(&base.arn, container, image, &new_tags)
        .await
        .map_err(RollOutError::Register)?;
    before_deploy(
        aws, env, service, &new, container, opts, reporter, interrupt,
    )
    .await?;
    let updated = match update {
        Update::Native(Some(settings)) => {
            reporter.step(
                "update",
                format!(
                    "pointing {service} at {} ({}), with its deploymentConfiguration's {}",
                    new.short(),
                    opts.version,
                    settings_names(settings)
                ),
            );
            aws.ecs
                .update_native(&env.cluster, service, &new.arn, settings)
                .await
        }
        Update::Native(None) => {
            reporter.step(
                "update",
                format!("pointing {service} at {} ({})", new.short(), opts.version),
            );
            aws.ecs
                .update_task_definition(&env.cluster, service, &new.arn)
                .await
        }
        Update::Count(count) => {
            reporter.step(
                "update",
                format!("pointing {service} at {} with {count} task(s)", new.short()),
            );
            aws.ecs
                .update_revision_and_count(&env.cluster, service, &new.arn, count)
                .await
        }
    };
    let updated = match updated {
        Ok(svc) => svc,
        Err(err) => return Err(RollOutError::Update { new, err }),
    };
    tag_outcome(aws, &new, tags::IN_PROGRESS, reporter).await;
    if let Err(e) = aws
        .monitoring
        .put_deployment_marker(&env.name, service, &opts.version)
        .await
    {
        reporter.warn(format!("could not publish the deployment marker: {e}"));
    }
    Ok((new, updated))
}

/// Runs the env's `before_deploy` commands as one-off tasks of the new revision, placed as
/// `service` places its tasks; the first that does not exit 0 stops the deploy before the
/// service is changed. The new revision is then tagged as never deployed.
#[allow(clippy::too_many_arguments)]
async fn before_deploy(
    aws: &Aws,
    env: &EnvConfig,
    service: &str,
    new: &TaskDefinition,
    container: &str,
    opts: &Options,
    reporter: &dyn Reporter,
    interrupt: &Interrupt,
) -> std::result::Result<(), RollOutError> {
    if env.before_deploy.is_empty() {
        return Ok(());
    }
    let failed = |run: crate::workflows::run::RunOutcome| RollOutError::BeforeDeploy {
        new: new.clone(),
        run: Box::new(run),
    };
    let placement = match crate::workflows::describe_one(aws, env, service).await {
        Ok(svc) => svc.placement,
        Err(e) => {
            return Err(RollOutError::Update {
                new: new.clone(),
                err: crate::aws::AwsError::Other(format!("{e:#}")),
            });
        }
    };
    for step in &env.before_deploy {
        let plan = crate::workflows::run::RunPlan {
            name: step.name.clone(),
            service: service.to_owned(),
            task_definition: new.clone(),
            container: container.to_owned(),
            command: step.command.clone(),
            placement: placement.clone(),
            tags: crate::workflows::run::run_tags(env, &step.name, &opts.actor),
            logs: true,
            timeout: step.timeout.map_or(crate::workflows::run::TIMEOUT, |t| t.0),
            poll: crate::workflows::run::POLL,
        };
        let run = match crate::workflows::run::run_task(aws, env, &plan, reporter, interrupt).await
        {
            Ok(run) => run,
            Err(e) => {
                let mut run = crate::workflows::run::RunOutcome::planned(env, &plan);
                run.result = crate::workflows::run::RunResult::NotStarted;
                run.stop_reason = Some(format!("{e:#}"));
                run
            }
        };
        if run.stops_deploy().is_some() {
            tag_outcome(aws, new, tags::NOT_DEPLOYED, reporter).await;
            return Err(failed(run));
        }
        reporter.step(&step.name, format!("`{}` exited 0", run.command_line()));
    }
    Ok(())
}

/// Names the snapshot a deploy takes first, where the env asks for one, in its plan.
pub(crate) fn plan_snapshot(env: &EnvConfig, version: &str, out: &mut DeployOutcome) {
    if let (Some(plan), Some(call)) = (out.plan.as_mut(), db::deploy_plan_call(env, version)) {
        plan.calls.insert(0, call);
    }
}

/// The database snapshot, where the env asks for one (workflows::db): before any ECS
/// change. Returns true when the deploy must stop (the snapshot is not available).
pub(crate) async fn snapshot_first(
    aws: &Aws,
    env: &EnvConfig,
    opts: &Options,
    reporter: &dyn Reporter,
    interrupt: &Interrupt,
    out: &mut DeployOutcome,
) -> bool {
    let Some(snapshot) =
        db::snapshot_before_deploy(aws, env, &opts.version, &opts.actor, reporter, interrupt).await
    else {
        return false;
    };
    let stop = snapshot.stops_deploy();
    let interrupted = snapshot.result == db::SnapshotResult::Interrupted;
    out.snapshot = Some(snapshot);
    let Some(reason) = stop else {
        return false;
    };
    out.result = if interrupted {
        DeployResult::Interrupted
    } else {
        DeployResult::Failed
    };
    out.reason = Some(reason);
    true
}

/// The tags a deploy puts on the revision it registers.
pub(crate) fn revision_tags(
    version: &str,
    previous: &str,
    actor: &str,
) -> BTreeMap<String, String> {
    BTreeMap::from([
        (tags::VERSION.to_owned(), version.to_owned()),
        (tags::PREVIOUS.to_owned(), previous.to_owned()),
        (tags::DEPLOYED_BY.to_owned(), actor.to_owned()),
        (
            tags::DEPLOYED_AT.to_owned(),
            jiff::Timestamp::now()
                .strftime("%Y-%m-%dT%H:%M:%SZ")
                .to_string(),
        ),
        // Registered, not yet deployed: what a revision whose registration answer was lost
        // (and was registered again by the retry) stays, truthfully.
        (tags::OUTCOME.to_owned(), tags::NOT_DEPLOYED.to_owned()),
    ])
}

/// Records a deploy's outcome on its revision; a failure to tag is worth a warning only.
pub(crate) async fn tag_outcome(
    aws: &Aws,
    td: &TaskDefinition,
    outcome: &str,
    reporter: &dyn Reporter,
) {
    let tags = BTreeMap::from([(tags::OUTCOME.to_owned(), outcome.to_owned())]);
    if let Err(e) = aws.ecs.tag_task_definition(&td.arn, &tags).await {
        reporter.warn(format!("could not tag {} as {outcome}: {e}", td.short()));
    }
}

pub(crate) enum Bake {
    Passed,
    Alarm(String),
    Interrupted,
}

/// How often the bake reads the alarms.
pub(super) const BAKE_POLL: Duration = Duration::from_secs(5);

/// Watches the env's alarms for the bake time, through the pacer (throttling slows it,
/// transient errors are tried again); any ALARM fails the deploy.
pub(crate) async fn bake(
    aws: &Aws,
    env: &EnvConfig,
    reporter: &dyn Reporter,
    interrupt: &Interrupt,
) -> anyhow::Result<Bake> {
    let total = env.bake.0;
    if total.is_zero() || env.alarms.is_empty() {
        return Ok(Bake::Passed);
    }
    reporter.step(
        "bake",
        format!(
            "watching {} for {}s",
            env.alarms.join(", "),
            total.as_secs()
        ),
    );
    let _shown = Shown::start(
        reporter,
        format!("the bake ({})", env.alarms.join(", ")),
        total,
    );
    let mut pacer = Pacer::new(total, BAKE_POLL, Duration::from_secs(20), interrupt);
    loop {
        match aws.monitoring.alarms(&env.alarms).await {
            Ok(alarms) => {
                pacer.answered();
                let firing = crate::aws::firing(&alarms);
                if !firing.is_empty() {
                    return Ok(Bake::Alarm(format!(
                        "alarm went into ALARM during bake: {}",
                        firing.join("; ")
                    )));
                }
                let states: Vec<String> = alarms
                    .iter()
                    .map(|a| format!("{} {}", a.name, a.state))
                    .collect();
                pacer.count_down("the bake", Some(states.join(", ")), reporter);
            }
            Err(e) => pacer.failed("DescribeAlarms", e, reporter)?,
        }
        match pacer.nap().await {
            None => {}
            Some(Stop::TimedOut) => return Ok(Bake::Passed),
            Some(Stop::Interrupted) => return Ok(Bake::Interrupted),
        }
    }
}

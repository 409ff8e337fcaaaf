//! `opsctl db failover`: a Multi-AZ failover drill, timed from the call to the instance
//! available again in its standby's zone, against the env's recovery time objective.

use super::*;

/// How to run the drill.
#[derive(Debug, Clone)]
pub struct FailoverOptions {
    /// Wait until the instance is available again, and time it.
    pub wait: bool,
    pub dry_run: bool,
    pub timeout: Duration,
    pub poll: Duration,
}

/// How a failover ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailoverResult {
    /// Available again, in the standby's zone, within the RTO if one is set.
    FailedOver,
    /// Available again, but slower than the env's RTO.
    OverRto,
    /// Started; nobody waited.
    Started,
    /// `--dry-run`: nothing changed.
    Planned,
    Failed,
    TimedOut,
    Interrupted,
}

/// What a failover did.
#[derive(Debug, Clone, Serialize)]
pub struct FailoverOutcome {
    pub env: String,
    pub instance: String,
    pub result: FailoverResult,
    /// The primary's zone before and after.
    pub from_zone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_zone: Option<String>,
    /// From the call to the instance available again.
    pub elapsed_secs: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rto_secs: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub calls: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub next: Vec<String>,
}

impl Outcome for FailoverOutcome {
    fn exit(&self) -> Exit {
        match self.result {
            FailoverResult::FailedOver | FailoverResult::Started | FailoverResult::Planned => {
                Exit::Ok
            }
            FailoverResult::OverRto | FailoverResult::Failed => Exit::Failed,
            FailoverResult::TimedOut => Exit::TimedOut,
            FailoverResult::Interrupted => Exit::Interrupted,
        }
    }
}

fn zone(z: &Option<String>) -> &str {
    z.as_deref().unwrap_or("an unknown zone")
}

impl fmt::Display for FailoverOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (instance, secs) = (&self.instance, self.elapsed_secs);
        let (from, to) = (zone(&self.from_zone), zone(&self.to_zone));
        let rto = self
            .rto_secs
            .map(|r| format!(" (RTO {}s)", r))
            .unwrap_or_default();
        match self.result {
            FailoverResult::FailedOver => writeln!(
                f,
                "{instance} failed over from {from} to {to}: available again after {secs:.0}s{rto}"
            )?,
            FailoverResult::OverRto => writeln!(
                f,
                "{instance} failed over from {from} to {to}, but took {secs:.0}s: OVER the RTO of {}s",
                self.rto_secs.unwrap_or_default()
            )?,
            FailoverResult::Started => writeln!(
                f,
                "{instance} is failing over from {from} to its standby ({}); not waiting",
                self.status.as_deref().unwrap_or("rebooting")
            )?,
            FailoverResult::Planned => {
                writeln!(
                    f,
                    "would fail {instance} over from {from} to its standby (nothing changed)\ncalls:"
                )?;
                for call in &self.calls {
                    writeln!(f, "  {call}")?;
                }
            }
            FailoverResult::Failed => writeln!(
                f,
                "failover of {instance} FAILED ({})",
                self.status.as_deref().unwrap_or("unknown")
            )?,
            FailoverResult::TimedOut => writeln!(
                f,
                "{instance} is still {} after {secs:.0}s (timed out); the failover goes on in AWS",
                self.status.as_deref().unwrap_or("unknown")
            )?,
            FailoverResult::Interrupted => writeln!(
                f,
                "stopped waiting for {instance} ({}); the failover goes on in AWS",
                self.status.as_deref().unwrap_or("unknown")
            )?,
        }
        if let Some(reason) = &self.reason {
            writeln!(f, "  reason: {reason}")?;
        }
        for n in &self.next {
            writeln!(f, "  next: {n}")?;
        }
        Ok(())
    }
}

/// `opsctl db failover ENV`: reboots the env's Multi-AZ instance with a failover to its
/// standby, and (with `wait`) times it until the instance is available in the standby's zone.
/// A single-AZ instance, or one that is not available, is refused before any call.
pub async fn failover(
    aws: &Aws,
    env: &EnvConfig,
    opts: &FailoverOptions,
    reporter: &dyn Reporter,
    interrupt: &Interrupt,
) -> anyhow::Result<FailoverOutcome> {
    let id = instance_of(env)?.to_owned();
    let Some(before) = aws.db.find_instance(&id).await? else {
        return Err(not_found(env, &id).into());
    };
    if !before.settings.multi_az {
        crate::bad_input!(
            format!(
                "a failover needs a standby: make it Multi-AZ first (aws rds modify-db-instance \
                 --db-instance-identifier {id} --multi-az --apply-immediately), or drill the \
                 restore instead (`opsctl db restore {} --latest --target NAME`)",
                env.name
            ),
            "{id} is a single-AZ instance: it has no standby to fail over to"
        );
    }
    if !before.is_available() {
        crate::bad_input!(
            "wait until the instance is available (see `opsctl status`), then run the drill",
            "{id} is {}; a failover starts only from available",
            before.status
        );
    }
    let rto = env.database.as_ref().and_then(|d| d.rto).map(|d| d.0);
    let mut out = FailoverOutcome {
        env: env.name.clone(),
        instance: id.clone(),
        result: FailoverResult::Planned,
        from_zone: before.zone.clone(),
        to_zone: None,
        elapsed_secs: 0.0,
        rto_secs: rto.map(|r| r.as_secs()),
        status: Some(before.status.clone()),
        reason: None,
        calls: Vec::new(),
        next: Vec::new(),
    };
    if opts.dry_run {
        out.calls = vec![format!(
            "rds:RebootDBInstance DBInstanceIdentifier={id} ForceFailover=true"
        )];
        if opts.wait {
            out.calls.push(format!(
                "then rds:DescribeDBInstances until {id} is available in {}",
                zone(&before.secondary_az)
            ));
        }
        return Ok(out);
    }
    crate::workflows::confirm_change(
        env,
        reporter,
        interrupt,
        &format!(
            "Fail {id} over from {} to its standby in {} ({})? Connections drop while it does.",
            zone(&before.zone),
            zone(&before.secondary_az),
            env.name
        ),
    )?;
    let started = Instant::now();
    reporter.step(
        "failover",
        format!(
            "failing {id} over from {} to {}",
            zone(&before.zone),
            zone(&before.secondary_az)
        ),
    );
    let answer = aws.db.failover(&id).await?;
    reporter.step("failover", format!("{id} is {}", answer.status));
    out.status = Some(answer.status.clone());
    let watch = format!(
        "aws rds describe-events --source-type db-instance --source-identifier {id} --duration 60"
    );
    if !opts.wait {
        out.result = FailoverResult::Started;
        out.next = vec![
            format!(
                "opsctl status {}   # the instance, and the service",
                env.name
            ),
            watch,
        ];
        out.elapsed_secs = started.elapsed().as_secs_f64();
        return Ok(out);
    }

    let shown = Shown::start(
        reporter,
        format!("{id} to be available again"),
        opts.timeout,
    );
    let mut pacer = Pacer::new(opts.timeout, opts.poll, MAX_POLL, interrupt);
    let mut last_status = Some(answer.status.clone());
    let from_zone = before.zone.clone();
    let polled = poll_until(
        "DescribeDBInstances",
        &mut pacer,
        reporter,
        || aws.db.find_instance(&id),
        |seen: DbInstance| {
            if last_status.as_deref() != Some(seen.status.as_str()) {
                reporter.step("failover", format!("{id} is {}", seen.status));
                last_status = Some(seen.status.clone());
            }
            out.status = Some(seen.status.clone());
            // Available in another zone: RDS may answer `available` from before the reboot
            // for a moment after the call, so the zone is what says it happened.
            if seen.is_available() && seen.zone != from_zone {
                out.to_zone = seen.zone.clone();
                Some(FailoverResult::FailedOver)
            } else if seen.has_failed() {
                out.reason = Some(format!("RDS reports the instance {}", seen.status));
                Some(FailoverResult::Failed)
            } else {
                None
            }
        },
    )
    .await;
    drop(shown);
    out.elapsed_secs = started.elapsed().as_secs_f64();
    out.result = match polled? {
        Polled::Settled(FailoverResult::FailedOver)
            if rto.is_some_and(|r| out.elapsed_secs > r.as_secs_f64()) =>
        {
            FailoverResult::OverRto
        }
        Polled::Settled(result) => result,
        Polled::Vanished => {
            out.reason = Some(format!("{id} disappeared"));
            FailoverResult::Failed
        }
        Polled::TimedOut => {
            out.reason = Some(format!(
                "not available in another zone within {}s",
                opts.timeout.as_secs()
            ));
            FailoverResult::TimedOut
        }
        Polled::Interrupted => FailoverResult::Interrupted,
    };
    out.next = match out.result {
        FailoverResult::FailedOver | FailoverResult::OverRto => vec![
            format!("check the service reconnected: opsctl status {}", env.name),
            watch,
        ],
        _ => vec![watch],
    };
    Ok(out)
}

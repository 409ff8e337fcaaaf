//! What a switch checks: the target colour before any change (stable, healthy, big enough), and
//! between steps target health, the alarms, and the new colour's 5xx rate and p99 against the
//! live one's.

use super::*;
use crate::workflows::analysis;

/// Checks that `colour` can take all the traffic: stable on one revision, every target
/// healthy, and at least as many tasks as the live colour wants.
pub async fn readiness(
    aws: &Aws,
    env: &EnvConfig,
    pair: &Pair,
    colour: Colour,
    reporter: &dyn Reporter,
) -> anyhow::Result<Vec<Check>> {
    let target = pair.side(colour);
    let live = pair.side(colour.other());
    let services = aws
        .ecs
        .describe_services(
            &env.cluster,
            &[target.service.clone(), live.service.clone()],
        )
        .await?;
    let find = |name: &str| {
        services
            .iter()
            .find(|s| s.name == name)
            .cloned()
            .ok_or_else(|| crate::workflows::service_not_found(env, name))
    };
    let (t, l) = (find(&target.service)?, find(&live.service)?);
    let mut checks = vec![stable_check(colour, &t)];
    let want = l.desired.max(1);
    checks.push(if t.running >= want {
        Check::pass(
            "capacity",
            format!(
                "{colour} runs {} task(s), live wants {}",
                t.running, l.desired
            ),
        )
    } else {
        Check::fail(
            "capacity",
            format!(
                "{colour} runs {} task(s) but {} carries traffic with {}",
                t.running,
                colour.other(),
                l.desired
            ),
            format!("scale {} to at least {want} first (opsctl scale)", t.name),
        )
    });
    checks.push(health_check(aws, colour, &target.target_group).await?);
    for c in &checks {
        reporter.report(Event::Check(c.clone()));
    }
    Ok(checks)
}

pub(super) fn stable_check(colour: Colour, s: &Service) -> Check {
    let primary = s.primary();
    // A colour scaled to zero is steady, but has nothing to take traffic with.
    if s.is_steady() && s.desired > 0 {
        Check::pass(
            "stable",
            format!(
                "{colour} ({}) is stable, {}/{} running",
                s.name, s.running, s.desired
            ),
        )
    } else {
        Check::fail(
            "stable",
            format!(
                "{colour} ({}) is not stable: {} deployment(s), {}/{} running{}",
                s.name,
                s.deployments.len(),
                s.running,
                s.desired,
                primary
                    .and_then(|p| p.rollout_state)
                    .map(|r| format!(", rollout {r}"))
                    .unwrap_or_default()
            ),
            format!(
                "wait for it (opsctl wait-stable ENV --service {}) or deploy to it again",
                s.name
            ),
        )
    }
}

pub(super) async fn health_check(
    aws: &Aws,
    colour: Colour,
    target_group: &str,
) -> anyhow::Result<Check> {
    let targets = aws.lb.target_health(target_group).await?;
    let tally = TargetTally::of(&targets);
    let healthy = tally.healthy;
    Ok(if tally.all_healthy() {
        Check::pass(
            "targets",
            format!("{colour}: {healthy}/{} targets healthy", tally.in_service),
        )
    } else {
        let sick: Vec<String> = targets
            .iter()
            .filter(|t| t.state.in_service() && t.state != TargetState::Healthy)
            .map(|t| format!("{} {}", t.id, t.state))
            .collect();
        Check::fail(
            "targets",
            format!(
                "{colour}: {healthy}/{} targets healthy{}",
                tally.in_service,
                if sick.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", sick.join(", "))
                }
            ),
            "look at the target group's health check and the tasks' logs",
        )
    })
}

/// The checks between two steps: target health, alarms, and the target colour's 5xx rate
/// and p99 latency against the live colour's over the step.
pub(super) async fn step_checks(
    aws: &Aws,
    env: &EnvConfig,
    pair: &Pair,
    to: Colour,
    since: Timestamp,
) -> anyhow::Result<Vec<Check>> {
    let bg = bluegreen(env)?;
    let mut checks = vec![health_check(aws, to, &pair.side(to).target_group).await?];
    checks.push(analysis::alarms(
        &env.alarms,
        &aws.monitoring.alarms(&env.alarms).await?,
        "find out why before switching again",
    ));
    let now = Timestamp::now().max(since + jiff::SignedDuration::from_secs(60));
    let new = aws
        .monitoring
        .target_group_metrics(&pair.listener, &pair.side(to).target_group, since, now)
        .await?;
    let old = aws
        .monitoring
        .target_group_metrics(
            &pair.listener,
            &pair.side(to.other()).target_group,
            since,
            now,
        )
        .await?;
    checks.extend(analysis::metrics(
        &new,
        &old,
        &analysis::Limits::from(bg),
        &to.to_string(),
        &to.other().to_string(),
    ));
    Ok(checks)
}

//! The fake's native service deployments (BLUE_GREEN, LINEAR, CANARY): stages on the paused
//! clock, ECS's own rollback of a broken revision or on an alarm, and a PAUSE hook that waits
//! for its answer.

use super::*;

/// A native service deployment: its stages follow each other every `native_stage`; a
/// revision whose image matches `fail_pattern` is rolled back by ECS after scale-up, and an
/// alarm in ALARM during the bake rolls it back too.
#[derive(Debug, Clone)]
pub(super) struct FakeNative {
    pub(super) arn: String,
    pub(super) created: Instant,
    pub(super) created_at: Timestamp,
    pub(super) from: String,
    pub(super) to: String,
    pub(super) fails: bool,
    /// Set once the deployment has ended: its status, reason and stage then stay.
    pub(super) ended: Option<ServiceDeployment>,
    /// With `Behaviour::native_pause`: when the PAUSE hook was answered, and whether with
    /// ROLLBACK.
    pub(super) answered: Option<(Instant, bool)>,
}

/// Starts a native service deployment of `to` on a service.
pub(super) fn start_native(
    s: &mut State,
    service: &str,
    to: &str,
    now: Instant,
    epoch: (Instant, Timestamp),
) {
    s.next_id += 1;
    let id = s.next_id;
    let fails = s.task_defs.iter().find(|t| t.arn == to).is_some_and(|t| {
        t.containers
            .iter()
            .any(|c| c.image.contains(&s.behaviour.fail_pattern))
    });
    let svc = s.services.get_mut(service).unwrap();
    let from = svc
        .deployments
        .iter()
        .find(|d| d.primary)
        .map(|d| d.task_definition.clone())
        .unwrap_or_default();
    svc.native.push(FakeNative {
        arn: format!("arn:aws:ecs:us-east-1:{ACCOUNT}:service-deployment/demo/{service}/sd{id}"),
        created: now,
        created_at: at(epoch, now),
        from,
        to: to.to_owned(),
        fails,
        ended: None,
        answered: None,
    });
}

/// Where a native deployment stands at `now`; the service moves to the new revision when it
/// succeeds.
pub(super) fn native_view(s: &mut State, arn: &str, now: Instant) -> Option<ServiceDeployment> {
    let stage = s.behaviour.native_stage.max(Duration::from_millis(1));
    let firing = s
        .alarms
        .values()
        .find(|a| a.is_firing())
        .map(|a| a.name.clone());
    let (name, dep) = s.services.iter_mut().find_map(|(name, svc)| {
        svc.native
            .iter_mut()
            .find(|d| d.arn == arn)
            .map(|d| (name.clone(), d))
    })?;
    if let Some(ended) = &dep.ended {
        return Some(ended.clone());
    }
    let mut steps = (now - dep.created).as_nanos() / stage.as_nanos();
    let pause = s.behaviour.native_pause && !dep.fails;
    let mut awaiting = None;
    let rejected = matches!(dep.answered, Some((_, true)));
    if pause && steps >= 1 && !rejected {
        // Paused at the traffic shift (10 % moved) until the hook is answered.
        match dep.answered {
            None => {
                steps = 1;
                awaiting = Some("pause-hook".to_owned());
            }
            Some((at, _)) => steps = 2 + (now - at).as_nanos() / stage.as_nanos(),
        }
    }
    let view = |status, stage: &str, weight: f64, reason: Option<String>| ServiceDeployment {
        arn: dep.arn.clone(),
        status,
        stage: Some(stage.to_owned()),
        status_reason: reason.clone(),
        rollback_reason: reason,
        production_weight: Some(weight),
        awaiting_hook: awaiting.clone(),
        created_at: Some(dep.created_at),
    };
    use ServiceDeploymentStatus as S;
    let (v, new_td) = match (dep.fails, steps) {
        _ if rejected => (
            view(
                S::RollbackSuccessful,
                "PRODUCTION_TRAFFIC_SHIFT",
                0.0,
                Some(
                    "rolled back on request (a PAUSE hook's ROLLBACK, or StopServiceDeployment)"
                        .into(),
                ),
            ),
            Some(dep.from.clone()),
        ),
        (false, 1) if pause => (
            view(S::InProgress, "PRODUCTION_TRAFFIC_SHIFT", 10.0, None),
            None,
        ),
        (_, 0) => (view(S::InProgress, "SCALE_UP", 0.0, None), None),
        (true, 1) => (
            view(
                S::RollbackInProgress,
                "SCALE_UP",
                0.0,
                Some("circuit breaker: tasks failed to start".into()),
            ),
            None,
        ),
        (true, _) => (
            view(
                S::RollbackSuccessful,
                "CLEAN_UP",
                0.0,
                Some("circuit breaker: tasks failed to start".into()),
            ),
            Some(dep.from.clone()),
        ),
        (false, 1) => (
            view(S::InProgress, "PRODUCTION_TRAFFIC_SHIFT", 100.0, None),
            None,
        ),
        (false, 2) => match &firing {
            Some(alarm) => (
                view(
                    S::RollbackSuccessful,
                    "BAKE_TIME",
                    0.0,
                    Some(format!("alarm {alarm} in ALARM")),
                ),
                Some(dep.from.clone()),
            ),
            None => (view(S::InProgress, "BAKE_TIME", 100.0, None), None),
        },
        (false, _) => (
            view(S::Successful, "CLEAN_UP", 100.0, None),
            Some(dep.to.clone()),
        ),
    };
    if let Some(td) = new_td {
        dep.ended = Some(v.clone());
        let svc = s.services.get_mut(&name).unwrap();
        for d in svc.deployments.iter_mut().filter(|d| d.primary) {
            d.task_definition = td.clone();
            d.state = RolloutState::Completed;
        }
    }
    Some(v)
}

//! Scaling against the in-memory AWS, under paused tokio time.

use crate::workflows::Outcome;
use std::time::Duration;

use super::kit::*;
use crate::aws::ScalingBounds;
use crate::aws::fake::FakeAws;
use crate::config::EnvConfig;
use crate::error::Exit;
use crate::workflows::Interrupt;
use crate::workflows::scale::*;
use crate::workflows::wait::Verdict;

const RESOURCE: &str = "service/demo/staging-users";

fn staging(confirm: bool) -> EnvConfig {
    env(&format!(
        r#"
[env.staging]
region = "us-east-1"
cluster = "demo"
service = "staging-users"
timeout = "2m"
confirm = {confirm}
scaling = {{ min = 1, max = 6 }}
"#
    ))
}

fn opts(count: Option<i32>, bounds: Option<(i32, i32)>) -> Options {
    Options {
        count,
        min: bounds.map(|b| b.0),
        max: bounds.map(|b| b.1),
        dry_run: false,
        no_wait: false,
        timeout: Duration::from_secs(60),
        poll: Duration::from_secs(1),
    }
}

async fn run(fake: &FakeAws, env: &EnvConfig, o: &Options) -> anyhow::Result<ScaleOutcome> {
    let (_h, interrupt) = Interrupt::new();
    scale(
        &fake.aws(),
        env,
        "staging-users",
        None,
        o,
        &Recorder::default(),
        &interrupt,
    )
    .await
}

#[tokio::test(start_paused = true)]
async fn counts_and_bounds_outside_the_env_limits_are_refused_before_any_call() {
    let fake = FakeAws::staging();
    let env = staging(false);
    for (o, says) in [
        (
            opts(Some(7), None),
            "--count 7 is outside env.staging's scaling limits 1..6",
        ),
        (
            opts(Some(0), None),
            "--count 0 is outside env.staging's scaling limits 1..6",
        ),
        (
            opts(None, Some((1, 8))),
            "autoscaling bounds 1..8 reach outside env.staging's scaling limits 1..6",
        ),
        (
            opts(Some(5), Some((2, 4))),
            "--count 5 lies outside the bounds given, 2..4",
        ),
        (
            opts(None, Some((4, 2))),
            "--min 4 and --max 2 are not a range",
        ),
        (opts(None, None), "nothing to change"),
    ] {
        let err = user_error(run(&fake, &env, &o).await.unwrap_err());
        assert!(err.message.contains(says), "{err} / {says}");
    }
    assert!(fake.calls().is_empty(), "{:?}", fake.calls());
    assert_eq!(fake.desired("staging-users"), 2);
}

#[tokio::test(start_paused = true)]
async fn an_env_without_scaling_limits_takes_any_count() {
    let fake = FakeAws::staging();
    fake.remove_scalable_target(RESOURCE);
    let env = env("[env.dev]\ncluster = \"demo\"\nservice = \"staging-users\"\n");
    let out = run(&fake, &env, &opts(Some(9), None)).await.unwrap();
    assert_eq!(out.result, ScaleResult::Scaled, "{out}");
    assert_eq!(fake.desired("staging-users"), 9);
    assert_eq!(out.bounds, BoundsChange::NoTarget);
}

#[tokio::test(start_paused = true)]
async fn count_within_the_scalable_target_keeps_its_bounds_and_waits_stable() {
    let fake = FakeAws::staging();
    let out = run(&fake, &staging(false), &opts(Some(4), None))
        .await
        .unwrap();
    assert_eq!(out.result, ScaleResult::Scaled, "{out}");
    assert_eq!(out.exit(), Exit::Ok);
    assert_eq!((out.desired_from, out.desired_to), (2, 4));
    assert_eq!(out.bounds, BoundsChange::Kept);
    assert_eq!(fake.desired("staging-users"), 4);
    assert_eq!(fake.mutating_calls(), ["ecs:UpdateService"]);
    assert_eq!(
        fake.scalable_target_of(RESOURCE),
        Some(ScalingBounds { min: 1, max: 6 })
    );
    let wait = out.wait.as_ref().unwrap();
    assert_eq!(wait.verdict(), Verdict::Stable);
    assert_eq!(wait.services[0].running, 4);
    assert!(
        out.to_string()
            .contains("scaled staging (staging-users) from 2 to 4")
    );
    assert!(out.to_string().contains("bounds 1..6 hold the count"));
}

#[tokio::test(start_paused = true)]
async fn count_without_a_scalable_target_sets_the_count_alone() {
    let fake = FakeAws::staging();
    fake.remove_scalable_target(RESOURCE);
    let out = run(&fake, &staging(false), &opts(Some(5), None))
        .await
        .unwrap();
    assert_eq!(out.result, ScaleResult::Scaled, "{out}");
    assert_eq!(out.bounds, BoundsChange::NoTarget);
    assert_eq!(out.bounds_to, None);
    assert_eq!(fake.mutating_calls(), ["ecs:UpdateService"]);
    assert_eq!(fake.scalable_target_of(RESOURCE), None, "none registered");
    assert!(out.to_string().contains("nothing will undo the count"));
}

#[tokio::test(start_paused = true)]
async fn count_outside_the_scalable_target_moves_its_bounds_first() {
    let fake = FakeAws::staging();
    fake.put_scalable_target(RESOURCE, ScalingBounds { min: 2, max: 3 });
    let out = run(&fake, &staging(false), &opts(Some(5), None))
        .await
        .unwrap();
    assert_eq!(out.result, ScaleResult::Scaled, "{out}");
    assert_eq!(out.bounds, BoundsChange::Widened);
    assert_eq!(out.bounds_from, Some(ScalingBounds { min: 2, max: 3 }));
    assert_eq!(
        fake.scalable_target_of(RESOURCE),
        Some(ScalingBounds { min: 2, max: 5 })
    );
    assert_eq!(
        fake.mutating_calls(),
        [
            "application-autoscaling:RegisterScalableTarget",
            "ecs:UpdateService"
        ],
        "bounds first, so autoscaling has nothing to undo"
    );
    assert!(
        out.to_string().contains(
            "5 lies outside autoscaling's bounds 2..3, which would undo it: bounds moved to 2..5"
        ),
        "{out}"
    );
}

#[tokio::test(start_paused = true)]
async fn min_max_and_count_set_together() {
    let fake = FakeAws::staging();
    let out = run(&fake, &staging(false), &opts(Some(3), Some((2, 5))))
        .await
        .unwrap();
    assert_eq!(out.result, ScaleResult::Scaled, "{out}");
    assert_eq!(out.bounds, BoundsChange::Set);
    assert_eq!(
        fake.scalable_target_of(RESOURCE),
        Some(ScalingBounds { min: 2, max: 5 })
    );
    assert_eq!(fake.desired("staging-users"), 3);
    assert!(out.to_string().contains("autoscaling bounds 1..6 -> 2..5"));
}

#[tokio::test(start_paused = true)]
async fn bounds_alone_move_the_count_only_when_it_falls_outside() {
    let fake = FakeAws::staging();
    let out = run(&fake, &staging(false), &opts(None, Some((1, 4))))
        .await
        .unwrap();
    assert_eq!(out.result, ScaleResult::Scaled, "{out}");
    assert_eq!((out.desired_from, out.desired_to), (2, 2));
    assert_eq!(
        fake.mutating_calls(),
        ["application-autoscaling:RegisterScalableTarget"]
    );
    assert!(out.wait.is_none(), "nothing to wait for");

    let out = run(&fake, &staging(false), &opts(None, Some((3, 5))))
        .await
        .unwrap();
    assert_eq!((out.desired_from, out.desired_to), (2, 3));
    assert_eq!(fake.desired("staging-users"), 3);
    assert!(
        out.to_string()
            .contains("moves from 2 to 3 to lie within 3..5")
    );
}

#[tokio::test(start_paused = true)]
async fn bounds_without_a_scalable_target_register_one() {
    let fake = FakeAws::staging();
    fake.remove_scalable_target(RESOURCE);
    let out = run(&fake, &staging(false), &opts(None, Some((2, 4))))
        .await
        .unwrap();
    assert_eq!(out.bounds, BoundsChange::Registered);
    assert_eq!(
        fake.scalable_target_of(RESOURCE),
        Some(ScalingBounds { min: 2, max: 4 })
    );
}

#[tokio::test(start_paused = true)]
async fn unchanged_dry_run_and_refusal_change_nothing() {
    let fake = FakeAws::staging();
    let env = staging(true);
    let out = run(&fake, &env, &opts(Some(2), None)).await.unwrap();
    assert_eq!(out.result, ScaleResult::Unchanged, "{out}");

    let mut o = opts(Some(6), Some((1, 6)));
    o.dry_run = true;
    let out = run(&fake, &env, &o).await.unwrap();
    assert_eq!(out.result, ScaleResult::Planned, "{out}");
    assert_eq!(
        out.calls[0],
        "ecs:UpdateService cluster=demo service=staging-users desiredCount=6"
    );

    let mut o = opts(Some(5), Some((2, 6)));
    o.dry_run = true;
    let out = run(&fake, &env, &o).await.unwrap();
    assert!(
        out.calls[0].starts_with(
            "application-autoscaling:RegisterScalableTarget ServiceNamespace=ecs ResourceId=service/demo/staging-users"
        ),
        "{:?}",
        out.calls
    );
    assert!(out.calls[0].ends_with("MinCapacity=2 MaxCapacity=6"));

    let (_h, interrupt) = Interrupt::new();
    let rec = Recorder::refusing();
    let err = scale(
        &fake.aws(),
        &env,
        "staging-users",
        None,
        &opts(Some(5), None),
        &rec,
        &interrupt,
    )
    .await
    .unwrap_err();
    assert!(user_error(err).message.contains("not confirmed"));
    assert_eq!(
        rec.questions.lock().unwrap()[0],
        "Scale staging (staging-users) from 2 to 5 task(s)?"
    );
    assert!(fake.mutating_calls().is_empty());
}

#[test]
fn a_colour_named_by_its_service_is_known() {
    let env = env(r#"
[env.prod]
cluster = "arn:aws:ecs:us-east-1:123456789012:cluster/demo"
confirm = true
[env.prod.bluegreen]
listener = "prod-alb:80"
blue  = { service = "prod-users-blue",  target_group = "prod-users-blue" }
green = { service = "prod-users-green", target_group = "prod-users-green" }
"#);
    assert_eq!(env.colour_of("prod-users-green"), Some("green"));
    assert_eq!(env.colour_of("prod-users-blue"), Some("blue"));
    assert_eq!(env.colour_of("prod-users"), None);
    assert_eq!(
        resource_id(&env.cluster, "prod-users-green"),
        "service/demo/prod-users-green"
    );
}

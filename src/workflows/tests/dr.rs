//! Disaster recovery against the in-memory AWS, under paused tokio time: failover drills.

use std::time::Duration;

use super::kit::*;
use crate::aws::fake::FakeAws;
use crate::config::EnvConfig;
use crate::error::Exit;
use crate::workflows::Outcome;
use crate::workflows::db::*;
use crate::workflows::{Event, Interrupt};

fn staging(rto: Option<&str>) -> EnvConfig {
    let rto = rto.map(|r| format!(", rto = \"{r}\"")).unwrap_or_default();
    env(&format!(
        r#"
[env.staging]
region = "us-east-1"
cluster = "demo"
service = "staging-users"
container = "users"
repository = "users"
confirm = false
database = {{ instance = "users-db"{rto} }}
"#
    ))
}

fn failover_opts(wait: bool) -> FailoverOptions {
    FailoverOptions {
        wait,
        dry_run: false,
        timeout: Duration::from_secs(600),
        poll: POLL,
    }
}

async fn run_failover(
    fake: &FakeAws,
    env: &EnvConfig,
    opts: &FailoverOptions,
) -> anyhow::Result<(FailoverOutcome, Recorder)> {
    let rec = Recorder::default();
    let (_h, interrupt) = Interrupt::new();
    let out = failover(&fake.aws(), env, opts, &rec, &interrupt).await?;
    Ok((out, rec))
}

#[tokio::test(start_paused = true)]
async fn a_failover_drill_moves_the_primary_to_the_standby_and_is_timed_against_the_rto() {
    let fake = FakeAws::staging();
    let (out, rec) = run_failover(&fake, &staging(Some("5m")), &failover_opts(true))
        .await
        .unwrap();
    assert_eq!(out.result, FailoverResult::FailedOver, "{out}");
    assert_eq!(out.exit(), Exit::Ok);
    assert_eq!(fake.mutating_calls(), ["rds:RebootDBInstance"]);
    assert_eq!(out.from_zone.as_deref(), Some("us-east-1a"));
    assert_eq!(out.to_zone.as_deref(), Some("us-east-1b"));
    let now = fake.db_instance("users-db").unwrap();
    assert_eq!(now.zone.as_deref(), Some("us-east-1b"));
    assert_eq!(now.secondary_az.as_deref(), Some("us-east-1a"));
    // The fake takes 40 s; the drill polls every 5 s.
    assert!(
        (40.0..=50.0).contains(&out.elapsed_secs),
        "{}",
        out.elapsed_secs
    );
    assert_eq!(out.rto_secs, Some(300));
    let text = out.to_string();
    assert!(
        text.contains("users-db failed over from us-east-1a to us-east-1b"),
        "{text}"
    );
    assert!(text.contains("(RTO 300s)"), "{text}");
    assert!(text.contains("opsctl status staging"), "{text}");
    let events = rec.events.lock().unwrap();
    assert!(
        events.iter().any(
            |e| matches!(e, Event::Step { detail, .. } if detail == "users-db is rebooting")
                || matches!(e, Event::Step { detail, .. } if detail.contains("failing users-db over"))
        ),
        "{events:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_failover_slower_than_the_rto_exits_1() {
    let fake = FakeAws::staging();
    fake.set_db(|db| db.failover_time = Duration::from_secs(400));
    let (out, _) = run_failover(&fake, &staging(Some("5m")), &failover_opts(true))
        .await
        .unwrap();
    assert_eq!(out.result, FailoverResult::OverRto, "{out}");
    assert_eq!(out.exit(), Exit::Failed);
    assert!(out.to_string().contains("OVER the RTO of 300s"), "{out}");
}

#[tokio::test(start_paused = true)]
async fn a_single_az_instance_is_refused_before_any_call() {
    let fake = FakeAws::staging();
    fake.set_db_instance("users-db", |i| {
        i.settings.multi_az = false;
        i.secondary_az = None;
    });
    let err = run_failover(&fake, &staging(None), &failover_opts(true))
        .await
        .unwrap_err();
    let err = user_error(err);
    assert!(
        err.message
            .contains("users-db is a single-AZ instance: it has no standby"),
        "{err}"
    );
    assert!(err.hint.unwrap().contains("--multi-az"));
    assert!(fake.mutating_calls().is_empty(), "{:?}", fake.calls());
}

#[tokio::test(start_paused = true)]
async fn an_instance_that_is_not_available_is_refused_and_dry_run_changes_nothing() {
    let fake = FakeAws::staging();
    fake.set_db_instance("users-db", |i| i.status = "backing-up".into());
    let err = run_failover(&fake, &staging(None), &failover_opts(true))
        .await
        .unwrap_err();
    assert!(
        user_error(err)
            .message
            .contains("users-db is backing-up; a failover starts only from available")
    );
    fake.set_db_instance("users-db", |i| i.status = "available".into());
    let mut opts = failover_opts(true);
    opts.dry_run = true;
    let (out, _) = run_failover(&fake, &staging(None), &opts).await.unwrap();
    assert_eq!(out.result, FailoverResult::Planned);
    assert_eq!(
        out.calls[0],
        "rds:RebootDBInstance DBInstanceIdentifier=users-db ForceFailover=true"
    );
    assert!(fake.mutating_calls().is_empty());
}

#[tokio::test(start_paused = true)]
async fn without_wait_the_drill_starts_and_says_how_to_follow_it() {
    let fake = FakeAws::staging();
    let (out, _) = run_failover(&fake, &staging(None), &failover_opts(false))
        .await
        .unwrap();
    assert_eq!(out.result, FailoverResult::Started);
    assert_eq!(out.exit(), Exit::Ok);
    assert!(
        out.next
            .iter()
            .any(|n| n.contains("aws rds describe-events")),
        "{:?}",
        out.next
    );
    assert_eq!(fake.db_instance("users-db").unwrap().status, "rebooting");
}

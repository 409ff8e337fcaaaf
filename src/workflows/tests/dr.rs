//! Disaster recovery against the in-memory AWS, under paused tokio time: failover drills.

use std::time::Duration;

use super::kit::*;
use crate::aws::fake::FakeAws;
use crate::aws::tags;
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

// --- cross-region copies, retention, restores in the recovery region

const DR: &str = "us-west-2";

/// Staging with a recovery region (with or without a key there) and a retention.
fn with_dr(kms_key: bool, keep: Option<u32>) -> EnvConfig {
    let key = if kms_key {
        ", kms_key = \"alias/users-db-dr\""
    } else {
        ""
    };
    let keep = keep
        .map(|k| format!("keep_snapshots = {k}\n"))
        .unwrap_or_default();
    env(&format!(
        r#"
[env.staging]
region = "us-east-1"
cluster = "demo"
service = "staging-users"
container = "users"
repository = "users"
confirm = false

[env.staging.database]
instance = "users-db"
rpo = "1h"
{keep}dr = {{ region = "{DR}", subnet_group = "users-db-dr-subnets", parameter_group = "users-pg15-dr"{key} }}
"#
    ))
}

fn copy_opts(snapshot: &str) -> CopyOptions {
    CopyOptions {
        snapshot: snapshot.into(),
        to_region: DR.into(),
        kms_key: None,
        wait: true,
        dry_run: false,
        timeout: Duration::from_secs(600),
        poll: POLL,
        actor: "tester@laptop".into(),
    }
}

/// A snapshot taken and waited for, with this reason, copied to `copy_to` where given.
fn snapshot_opts(reason: Option<&str>, copy_to: Option<&str>) -> SnapshotOptions {
    SnapshotOptions {
        reason: reason.map(str::to_owned),
        version: None,
        wait: true,
        dry_run: false,
        timeout: Duration::from_secs(600),
        poll: POLL,
        actor: "tester@laptop".into(),
        copy_to: copy_to.map(str::to_owned),
        kms_key: None,
    }
}

/// A restore of the copy `snapshot` in the recovery region into `target` there.
fn restore_in_dr(snapshot: &str, target: &str) -> RestoreOptions {
    RestoreOptions {
        from: RestoreFrom::Snapshot(snapshot.into()),
        target: target.into(),
        region: Some(DR.into()),
        wait: true,
        dry_run: false,
        timeout: Duration::from_secs(600),
        poll: POLL,
        actor: "tester@laptop".into(),
    }
}

async fn run_snapshot(
    fake: &FakeAws,
    env: &EnvConfig,
    opts: &SnapshotOptions,
) -> anyhow::Result<SnapshotOutcome> {
    let (_h, interrupt) = Interrupt::new();
    snapshot(&fake.aws(), env, opts, &Recorder::default(), &interrupt).await
}

async fn run_copy(
    fake: &FakeAws,
    env: &EnvConfig,
    opts: &CopyOptions,
) -> anyhow::Result<CopyOutcome> {
    let (_h, interrupt) = Interrupt::new();
    copy(&fake.aws(), env, opts, &Recorder::default(), &interrupt).await
}

fn user_error(e: anyhow::Error) -> crate::error::UserError {
    e.downcast::<crate::error::UserError>()
        .expect("a user error")
}

#[tokio::test(start_paused = true)]
async fn a_copy_to_the_recovery_region_is_encrypted_with_its_key_and_tagged_like_its_source() {
    let fake = FakeAws::staging();
    fake.put_db_snapshot("users-db-manual", "available", Some(100));
    fake.set_db_snapshot("users-db-manual", |s| {
        s.tags.insert("team".into(), "platform".into());
    });
    let out = run_copy(&fake, &with_dr(true, None), &copy_opts("users-db-manual"))
        .await
        .unwrap();
    assert_eq!(out.result, SnapshotResult::Available, "{out}");
    assert_eq!(out.exit(), Exit::Ok);
    assert_eq!(fake.mutating_calls(), ["rds:CopyDBSnapshot"]);
    let copy = fake.in_region(DR).db_snapshot("users-db-manual").unwrap();
    assert!(copy.is_available());
    assert_eq!(copy.kms_key.as_deref(), Some("alias/users-db-dr"));
    assert_eq!(copy.source_region.as_deref(), Some("us-east-1"));
    assert_eq!(copy.tags["team"], "platform", "the source's tags");
    assert_eq!(
        copy.tags[tags::COPIED_FROM],
        "arn:aws:rds:us-east-1:123456789012:snapshot:users-db-manual"
    );
    assert_eq!(copy.tags[tags::CREATED_BY], "tester@laptop");
    // The source is untouched, and the home region holds no copy.
    assert!(fake.db_snapshot("users-db-manual").unwrap().is_available());
    assert_eq!(
        fake.db_snapshot_ids(),
        ["rds:users-db-2027-01-08-03-00", "users-db-manual"]
    );
    let text = out.to_string();
    assert!(
        text.contains("copy of users-db-manual is available in us-west-2"),
        "{text}"
    );

    // Copying again finds the copy and changes nothing.
    let again = run_copy(&fake, &with_dr(true, None), &copy_opts("users-db-manual"))
        .await
        .unwrap();
    assert_eq!(again.result, SnapshotResult::Available);
    assert_eq!(fake.mutating_calls(), ["rds:CopyDBSnapshot"]);
}

#[tokio::test(start_paused = true)]
async fn an_encrypted_snapshot_without_a_key_of_the_target_region_is_refused_before_any_call() {
    let fake = FakeAws::staging();
    fake.put_db_snapshot("users-db-manual", "available", Some(100));
    let err = user_error(
        run_copy(&fake, &with_dr(false, None), &copy_opts("users-db-manual"))
            .await
            .unwrap_err(),
    );
    assert!(
        err.message
            .contains("is encrypted, and a copy in us-west-2 needs a KMS key of us-west-2"),
        "{}",
        err.message
    );
    assert!(err.hint.as_deref().unwrap().contains("--kms-key"));
    // A key of the wrong region, and the env's own region, are refused the same way.
    let mut opts = copy_opts("users-db-manual");
    opts.kms_key = Some("arn:aws:kms:us-east-1:123456789012:key/home".into());
    let err = user_error(
        run_copy(&fake, &with_dr(false, None), &opts)
            .await
            .unwrap_err(),
    );
    assert!(err.message.contains("is in us-east-1"), "{}", err.message);
    let mut opts = copy_opts("users-db-manual");
    opts.to_region = "us-east-1".into();
    let err = user_error(
        run_copy(&fake, &with_dr(true, None), &opts)
            .await
            .unwrap_err(),
    );
    assert!(
        err.message.contains("env.staging's own region"),
        "{}",
        err.message
    );
    assert!(fake.mutating_calls().is_empty());

    // An unencrypted snapshot needs no key.
    fake.set_db_snapshot("users-db-manual", |s| {
        s.encrypted = false;
        s.kms_key = None;
    });
    let out = run_copy(&fake, &with_dr(false, None), &copy_opts("users-db-manual"))
        .await
        .unwrap();
    assert_eq!(out.result, SnapshotResult::Available, "{out}");
    assert_eq!(out.kms_key, None);
}

#[tokio::test(start_paused = true)]
async fn a_snapshot_with_copy_to_waits_for_the_snapshot_then_copies_it() {
    let fake = FakeAws::staging();
    let opts = snapshot_opts(Some("nightly"), Some(DR));
    let out = run_snapshot(&fake, &with_dr(true, None), &opts)
        .await
        .unwrap();
    assert_eq!(out.result, SnapshotResult::Available, "{out}");
    let copy = out.copy.as_ref().expect("a copy");
    assert_eq!(copy.result, SnapshotResult::Available, "{out}");
    assert_eq!(copy.copy_id, out.snapshot_id);
    assert_eq!(
        fake.mutating_calls(),
        ["rds:CreateDBSnapshot", "rds:CopyDBSnapshot"]
    );
    let there = fake.in_region(DR).db_snapshot(&out.snapshot_id).unwrap();
    assert_eq!(there.tags[tags::REASON], "nightly");

    // Without a key for an encrypted instance nothing is made at all, not even the snapshot.
    let fake = FakeAws::staging();
    let err = run_snapshot(&fake, &with_dr(false, None), &opts)
        .await
        .unwrap_err();
    assert!(
        user_error(err)
            .message
            .contains("needs a KMS key of us-west-2")
    );
    // A key of another region is refused before the snapshot too.
    let mut wrong = opts.clone();
    wrong.kms_key = Some("arn:aws:kms:us-east-1:123456789012:key/home".into());
    let err = run_snapshot(&fake, &with_dr(false, None), &wrong)
        .await
        .unwrap_err();
    assert!(user_error(err).message.contains("is in us-east-1"));
    assert!(fake.mutating_calls().is_empty());
}

#[tokio::test(start_paused = true)]
async fn retention_keeps_the_newest_snapshots_opsctl_made_and_never_touches_others() {
    let fake = FakeAws::staging();
    for id in ["users-db-old-1", "users-db-old-2", "users-db-old-3"] {
        fake.put_db_snapshot(id, "available", Some(100));
        fake.set_db_snapshot(id, |s| {
            s.tags.insert(tags::CREATED_BY.into(), "ci".into());
        });
        tokio::time::advance(Duration::from_secs(3600)).await;
    }
    // Made by someone else (no opsctl tag), and one of ours still being made.
    fake.put_db_snapshot("users-db-by-hand", "available", Some(100));
    fake.put_db_snapshot("users-db-creating", "creating", Some(40));
    fake.set_db_snapshot("users-db-creating", |s| {
        s.tags.insert(tags::CREATED_BY.into(), "ci".into());
    });
    let env = with_dr(true, Some(2));
    let (_h, interrupt) = Interrupt::new();

    // A dry run shows the oldest and changes nothing.
    let plan = prune(
        &fake.aws(),
        &env,
        None,
        true,
        &Recorder::default(),
        &interrupt,
    )
    .await
    .unwrap();
    assert_eq!(plan.deleted, ["users-db-old-1"]);
    assert_eq!(plan.kept, ["users-db-old-3", "users-db-old-2"]);
    assert_eq!(plan.untouched, 3, "automated, by hand, still creating");
    assert!(fake.mutating_calls().is_empty());
    assert!(
        plan.to_string().contains("would delete: users-db-old-1"),
        "{plan}"
    );

    // A snapshot applies the retention: the new one and the newest old one stay.
    let opts = snapshot_opts(None, None);
    let out = run_snapshot(&fake, &env, &opts).await.unwrap();
    assert_eq!(out.result, SnapshotResult::Available);
    assert_eq!(out.pruned, ["users-db-old-2", "users-db-old-1"]);
    let left = fake.db_snapshot_ids();
    for kept in [
        "rds:users-db-2027-01-08-03-00",
        "users-db-by-hand",
        "users-db-creating",
        "users-db-old-3",
        out.snapshot_id.as_str(),
    ] {
        assert!(left.iter().any(|l| l == kept), "{kept} is gone: {left:?}");
    }
    assert_eq!(left.len(), 5, "{left:?}");

    // Without keep_snapshots, --prune is refused and changes nothing.
    let before = fake.mutating_calls().len();
    let err = prune(
        &fake.aws(),
        &with_dr(true, None),
        None,
        false,
        &Recorder::default(),
        &interrupt,
    )
    .await
    .unwrap_err();
    assert!(
        user_error(err)
            .message
            .contains("sets no snapshot retention")
    );
    assert_eq!(fake.mutating_calls().len(), before);
}

#[tokio::test(start_paused = true)]
async fn a_restore_in_the_recovery_region_uses_its_subnet_group_and_keeps_every_other_setting() {
    let fake = FakeAws::staging();
    fake.put_db_snapshot("users-db-manual", "available", Some(100));
    let env = with_dr(true, None);
    run_copy(&fake, &env, &copy_opts("users-db-manual"))
        .await
        .unwrap();
    let opts = restore_in_dr("users-db-manual", "users-db-dr");
    let (_h, interrupt) = Interrupt::new();
    let out = restore(&fake.aws(), &env, &opts, &Recorder::default(), &interrupt)
        .await
        .unwrap();
    assert_eq!(out.result, RestoreResult::Restored, "{out}");
    assert!(out.differences.is_empty(), "{:?}", out.differences);
    assert_eq!(out.region, DR);
    assert!(
        fake.db_instance("users-db-dr").is_none(),
        "not in the home region"
    );
    let made = fake.in_region(DR).db_instance("users-db-dr").unwrap();
    assert!(
        made.arn.starts_with("arn:aws:rds:us-west-2:"),
        "{}",
        made.arn
    );
    let source = fake.db_instance("users-db").unwrap().settings;
    let s = &made.settings;
    assert_eq!(s.subnet_group.as_deref(), Some("users-db-dr-subnets"));
    assert_eq!(s.parameter_group.as_deref(), Some("users-pg15-dr"));
    assert!(
        s.security_groups.is_empty(),
        "the subnet group's VPC default"
    );
    assert_eq!(s.master_secret_kms_key, None, "RDS's default key there");
    // Everything else is the source's.
    assert_eq!(s.class, source.class);
    assert_eq!(s.multi_az, source.multi_az);
    assert_eq!(s.iops, source.iops);
    assert_eq!(s.monitoring_interval, source.monitoring_interval);
    assert_eq!(s.performance_insights, source.performance_insights);
    assert_eq!(s.backup_retention_days, source.backup_retention_days);
    assert_eq!(made.tags[tags::RESTORED_FROM], "users-db-manual@us-west-2");

    // A point in time does not cross regions, and a region the env does not name is refused.
    let mut latest = opts.clone();
    latest.from = RestoreFrom::Latest;
    latest.target = "users-db-dr-2".into();
    let err = restore(&fake.aws(), &env, &latest, &Recorder::default(), &interrupt)
        .await
        .unwrap_err();
    assert!(
        user_error(err)
            .message
            .contains("point-in-time restore stays")
    );
    let mut elsewhere = opts.clone();
    elsewhere.region = Some("eu-west-1".into());
    elsewhere.target = "users-db-dr-3".into();
    let err = restore(
        &fake.aws(),
        &env,
        &elsewhere,
        &Recorder::default(),
        &interrupt,
    )
    .await
    .unwrap_err();
    assert!(user_error(err).message.contains("does not name eu-west-1"));
}

// --- an Availability Zone lost: status per zone

#[test]
fn zones_group_running_tasks_and_their_targets_by_address() {
    use crate::aws::{RunningTask, TargetHealth, TargetState};
    use crate::workflows::inspect::{ZoneView, zones};
    let task = |id: &str, zone: Option<&str>, ip: &str| RunningTask {
        id: id.into(),
        zone: zone.map(str::to_owned),
        ip: Some(ip.into()),
    };
    let target = |ip: &str, state| TargetHealth {
        id: ip.into(),
        port: Some(8080),
        state,
        reason: None,
    };
    let tasks = [
        task("a", Some("us-east-1a"), "10.0.1.4"),
        task("b", Some("us-east-1b"), "10.0.2.4"),
        task("c", Some("us-east-1b"), "10.0.2.5"),
        task("d", None, "10.0.3.4"),
    ];
    let health = [
        target("10.0.1.4", TargetState::Unhealthy),
        target("10.0.2.4", TargetState::Healthy),
        target("10.0.2.5", TargetState::Healthy),
        // No task at this address (another service's, or gone): counted nowhere.
        target("10.0.9.9", TargetState::Healthy),
    ];
    let view = |zone: &str, tasks, targets, healthy| ZoneView {
        zone: zone.into(),
        tasks,
        targets,
        healthy,
    };
    assert_eq!(
        zones(&tasks, &health),
        [
            view("unknown zone", 1, 0, 0),
            view("us-east-1a", 1, 1, 0),
            view("us-east-1b", 2, 2, 2),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn status_shows_each_zones_tasks_and_targets() {
    let fake = FakeAws::staging();
    let status = crate::workflows::inspect::status(
        &fake.aws(),
        &staging(None),
        &["staging-users".to_owned()],
    )
    .await
    .unwrap();
    let text = status.to_string();
    assert!(
        text.contains(
            "zones: us-east-1a 1 task(s), 1/1 targets healthy; us-east-1b 1 task(s), 1/1 targets healthy"
        ),
        "{text}"
    );
}

#[tokio::test(start_paused = true)]
async fn with_the_home_region_unreachable_a_copy_is_restored_as_it_is_and_says_what_it_lacks() {
    let fake = FakeAws::staging();
    fake.put_db_snapshot("users-db-manual", "available", Some(100));
    let env = with_dr(true, None);
    run_copy(&fake, &env, &copy_opts("users-db-manual"))
        .await
        .unwrap();
    // The next DescribeDBInstances (the source, in us-east-1) gets no answer.
    fake.fail(
        "rds:DescribeDBInstances",
        0,
        1,
        crate::aws::AwsError::Unreachable("DescribeDBInstances: no answer from AWS".into()),
    );
    let opts = restore_in_dr("users-db-manual", "users-db-dr");
    let (_h, interrupt) = Interrupt::new();
    let rec = Recorder::default();
    let out = restore(&fake.aws(), &env, &opts, &rec, &interrupt)
        .await
        .unwrap();
    assert_eq!(out.result, RestoreResult::Incomplete, "{out}");
    assert_eq!(
        out.exit(),
        Exit::Failed,
        "the instance is there, but not as the source was"
    );
    let made = fake.in_region(DR).db_instance("users-db-dr").unwrap();
    assert!(made.is_available());
    let source = fake.db_instance("users-db").unwrap().settings;
    assert_eq!(made.settings.class, source.class, "the snapshot's class");
    assert_eq!(made.settings.allocated_gb, source.allocated_gb);
    assert_eq!(
        made.settings.subnet_group.as_deref(),
        Some("users-db-dr-subnets")
    );
    assert!(
        !made.settings.multi_az,
        "RDS's default, not the source's Multi-AZ"
    );
    for lacking in ["multi_az", "backup_retention_days", "monitoring_interval"] {
        assert!(
            out.not_copied.iter().any(|n| n == lacking),
            "{lacking}: {:?}",
            out.not_copied
        );
    }
    assert!(!out.not_copied.iter().any(|n| n == "class"));
    let text = out.to_string();
    assert!(text.contains("with the snapshot's own settings"), "{text}");
    assert!(
        text.contains("could not be read in its own region"),
        "{text}"
    );
    assert_eq!(
        fake.mutating_calls(),
        ["rds:CopyDBSnapshot", "rds:RestoreDBInstanceFromDBSnapshot"],
        "no ModifyDBInstance with guessed settings"
    );

    // In the env's own region, a source that cannot be read stops the restore.
    fake.fail(
        "rds:DescribeDBInstances",
        0,
        1,
        crate::aws::AwsError::Unreachable("DescribeDBInstances: no answer from AWS".into()),
    );
    let home = RestoreOptions {
        region: None,
        target: "users-db-home".into(),
        ..opts.clone()
    };
    assert!(
        restore(&fake.aws(), &env, &home, &rec, &interrupt)
            .await
            .is_err()
    );
    assert!(fake.db_instance("users-db-home").is_none());
}

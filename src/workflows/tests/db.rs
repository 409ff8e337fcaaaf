//! Snapshots and restores against the in-memory AWS, under paused tokio time.

use crate::workflows::Outcome;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use super::kit::*;
use crate::aws::fake::FakeAws;
use crate::aws::fake::db::{EARLIEST_RESTORABLE, LATEST_RESTORABLE};
use crate::config::EnvConfig;
use crate::error::Exit;
use crate::workflows::db::*;
use crate::workflows::deploy;
use crate::workflows::{Event, Interrupt};

fn staging(confirm: bool, snapshot_before_deploy: bool) -> EnvConfig {
    env(&format!(
        r#"
[env.staging]
region = "us-east-1"
cluster = "demo"
service = "staging-users"
container = "users"
repository = "users"
timeout = "2m"
alarms = ["staging-users-5xx"]
bake = "10s"
confirm = {confirm}
scaling = {{ min = 1, max = 6 }}
database = {{ instance = "users-db", snapshot_before_deploy = {snapshot_before_deploy} }}
"#
    ))
}

fn snap_opts() -> SnapshotOptions {
    SnapshotOptions {
        reason: Some("before the migration, ticket #42".into()),
        version: None,
        wait: true,
        dry_run: false,
        timeout: Duration::from_secs(600),
        poll: POLL,
        actor: "tester@laptop".into(),
        copy_to: None,
        kms_key: None,
    }
}

fn restore_opts(from: RestoreFrom, target: &str) -> RestoreOptions {
    RestoreOptions {
        from,
        target: target.into(),
        region: None,
        wait: true,
        dry_run: false,
        timeout: Duration::from_secs(600),
        poll: POLL,
        actor: "tester@laptop".into(),
    }
}

async fn run_restore(
    fake: &FakeAws,
    opts: &RestoreOptions,
) -> anyhow::Result<(RestoreOutcome, Recorder)> {
    let rec = Recorder::default();
    let (_h, interrupt) = Interrupt::new();
    let out = restore(&fake.aws(), &staging(false, false), opts, &rec, &interrupt).await?;
    Ok((out, rec))
}

fn at(secs: i64) -> Timestamp {
    Timestamp::from_second(secs).unwrap()
}

#[test]
fn snapshot_names_are_instance_utc_time_and_version() {
    let t: Timestamp = "2026-06-01T12:30:05Z".parse().unwrap();
    assert_eq!(
        snapshot_name("users-db", t, None),
        "users-db-20260601123005"
    );
    assert_eq!(
        snapshot_name("users-db", t, Some("v1.2.0")),
        "users-db-20260601123005-v1-2-0"
    );
    assert_eq!(
        snapshot_name("users-db", t, Some("V2.0.0--rc.1_")),
        "users-db-20260601123005-v2-0-0-rc-1"
    );
    assert_eq!(
        snapshot_name("users-db", t, Some("..")),
        "users-db-20260601123005"
    );
}

#[test]
fn identifiers_follow_rds_rules() {
    assert_eq!(valid_identifier("Users-DB-2").unwrap(), "users-db-2");
    assert!(valid_identifier(&"a".repeat(63)).is_ok());
    for bad in [
        "",
        "1users",
        "-users",
        "users-",
        "users--db",
        "users_db",
        "users.db",
        "users db",
        &"a".repeat(64),
    ] {
        let err = valid_identifier(bad).unwrap_err();
        assert!(
            err.message.contains("not a valid RDS instance identifier"),
            "{bad}: {err}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn snapshot_waits_and_reports_percent_progress() {
    let fake = FakeAws::staging();
    let rec = Recorder::default();
    let (_h, interrupt) = Interrupt::new();
    let out = snapshot(
        &fake.aws(),
        &staging(false, false),
        &snap_opts(),
        &rec,
        &interrupt,
    )
    .await
    .unwrap();

    assert_eq!(out.result, SnapshotResult::Available, "{out}");
    assert_eq!(out.exit(), Exit::Ok);
    let digits = out.snapshot_id.strip_prefix("users-db-").unwrap();
    assert!(
        digits.len() == 14 && digits.chars().all(|c| c.is_ascii_digit()),
        "{}",
        out.snapshot_id
    );
    // 40 s to create, a poll about every 5 s: progress in several steps, in order, to 100.
    let percents = rec.percents();
    assert!(percents.len() >= 5, "{percents:?}");
    assert!(percents.windows(2).all(|w| w[0] <= w[1]), "{percents:?}");
    assert!(
        percents.iter().any(|p| (1..100).contains(p)),
        "{percents:?}"
    );
    assert_eq!(percents.last(), Some(&100));
    let events = rec.events.lock().unwrap();
    assert!(matches!(events.first(), Some(Event::Step { step, .. }) if step == "snapshot"));
    assert!(events.iter().any(|e| matches!(e, Event::WaitStart { .. })));
    assert!(matches!(events.last(), Some(Event::WaitEnd)));
    drop(events);

    assert_eq!(fake.mutating_calls(), ["rds:CreateDBSnapshot"]);
    let taken = fake.db_snapshot(&out.snapshot_id).unwrap();
    assert_eq!(taken.status, "available");
    assert_eq!(taken.tags[tags::CREATED_BY], "tester@laptop");
    assert_eq!(
        taken.tags[tags::REASON],
        "before the migration ticket 42",
        "tag values keep to what RDS accepts"
    );
    assert!(!taken.tags.contains_key(tags::VERSION));
    assert!(out.to_string().contains("is available (100 GB)"), "{out}");
}

#[tokio::test(start_paused = true)]
async fn snapshot_without_wait_returns_at_once() {
    let fake = FakeAws::staging();
    let rec = Recorder::default();
    let (_h, interrupt) = Interrupt::new();
    let mut opts = snap_opts();
    opts.wait = false;
    let out = snapshot(&fake.aws(), &staging(false, false), &opts, &rec, &interrupt)
        .await
        .unwrap();
    assert_eq!(out.result, SnapshotResult::Started);
    assert_eq!(out.exit(), Exit::Ok);
    assert!(rec.percents().is_empty());
    assert_eq!(fake.count("rds:DescribeDBSnapshots"), 0);
}

#[tokio::test(start_paused = true)]
async fn failed_snapshot_is_exit_1_and_timed_out_is_exit_4() {
    let fake = FakeAws::staging();
    fake.set_db(|d| d.snapshot_fails = true);
    let (_h, interrupt) = Interrupt::new();
    let out = snapshot(
        &fake.aws(),
        &staging(false, false),
        &snap_opts(),
        &Recorder::default(),
        &interrupt,
    )
    .await
    .unwrap();
    assert_eq!(out.result, SnapshotResult::Failed, "{out}");
    assert_eq!(out.exit(), Exit::Failed);
    assert!(out.to_string().contains("FAILED"), "{out}");

    let fake = FakeAws::staging();
    fake.set_db(|d| d.snapshot_time = Duration::from_secs(3600));
    let mut opts = snap_opts();
    opts.timeout = Duration::from_secs(60);
    let started = tokio::time::Instant::now();
    let out = snapshot(
        &fake.aws(),
        &staging(false, false),
        &opts,
        &Recorder::default(),
        &interrupt,
    )
    .await
    .unwrap();
    assert_eq!(out.result, SnapshotResult::TimedOut, "{out}");
    assert_eq!(out.exit(), Exit::TimedOut);
    assert!(started.elapsed() <= Duration::from_secs(61));
    assert!(out.to_string().contains("it goes on in AWS"), "{out}");
}

#[tokio::test(start_paused = true)]
async fn snapshot_dry_run_and_refused_confirmation_change_nothing() {
    let fake = FakeAws::staging();
    let (_h, interrupt) = Interrupt::new();
    let mut opts = snap_opts();
    opts.dry_run = true;
    let out = snapshot(
        &fake.aws(),
        &staging(true, false),
        &opts,
        &Recorder::default(),
        &interrupt,
    )
    .await
    .unwrap();
    assert_eq!(out.result, SnapshotResult::Planned);
    assert!(
        out.calls[0].starts_with("rds:CreateDBSnapshot DBInstanceIdentifier=users-db"),
        "{:?}",
        out.calls
    );
    assert!(out.to_string().contains("nothing changed"), "{out}");

    let rec = Recorder::refusing();
    let err = snapshot(
        &fake.aws(),
        &staging(true, false),
        &snap_opts(),
        &rec,
        &interrupt,
    )
    .await
    .unwrap_err();
    assert!(user_error(err).message.contains("not confirmed"));
    assert_eq!(rec.questions.lock().unwrap().len(), 1);
    assert!(fake.mutating_calls().is_empty());
}

#[tokio::test(start_paused = true)]
async fn env_without_database_is_refused_before_any_call() {
    let fake = FakeAws::staging();
    let env = env("[env.dev]\ncluster = \"demo\"\nservice = \"staging-users\"\n");
    let (_h, interrupt) = Interrupt::new();
    let err = snapshot(
        &fake.aws(),
        &env,
        &snap_opts(),
        &Recorder::default(),
        &interrupt,
    )
    .await
    .unwrap_err();
    let err = user_error(err);
    assert!(err.message.contains("names no database"), "{err}");
    assert!(err.hint.unwrap().contains("database = {"));
    assert!(fake.calls().is_empty());
}

#[tokio::test(start_paused = true)]
async fn snapshots_are_listed_newest_first_with_age() {
    let fake = FakeAws::staging();
    fake.put_db_snapshot("users-db-manual-1", "available", Some(100));
    let now = Timestamp::from_second(1_800_000_600).unwrap();
    let list = list(&fake.aws(), &staging(false, false), None, now)
        .await
        .unwrap();
    let ids: Vec<&str> = list.snapshots.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["users-db-manual-1", "rds:users-db-2027-01-08-03-00"]);
    assert_eq!(list.snapshots[0].kind, "manual");
    assert_eq!(list.snapshots[0].age_secs, Some(600));
    assert_eq!(list.snapshots[1].kind, "automated");
    let text = list.to_string();
    assert!(text.contains("2 snapshot(s), newest first"), "{text}");
    assert!(text.contains("100 GB"), "{text}");
    assert!(text.contains("10m"), "{text}");
}

#[tokio::test(start_paused = true)]
async fn restore_times_exactly_at_both_bounds_are_accepted() {
    for (time, target) in [
        (at(EARLIEST_RESTORABLE), "users-db-at-earliest"),
        (at(LATEST_RESTORABLE), "users-db-at-latest"),
    ] {
        let fake = FakeAws::staging();
        let (out, _) = run_restore(&fake, &restore_opts(RestoreFrom::Time(time), target))
            .await
            .unwrap();
        assert_eq!(out.result, RestoreResult::Restored, "{out}");
        assert_eq!(
            fake.mutating_calls(),
            ["rds:RestoreDBInstanceToPointInTime", "rds:ModifyDBInstance"]
        );
        assert_eq!(
            fake.db_instance(target).unwrap().tags[tags::RESTORED_FROM],
            format!("users-db@{time}")
        );
    }
}

#[tokio::test(start_paused = true)]
async fn restore_time_a_second_outside_the_window_is_refused_naming_both_bounds() {
    let earliest = at(EARLIEST_RESTORABLE);
    let latest = at(LATEST_RESTORABLE);
    for time in [
        earliest - SignedDuration::from_secs(1),
        latest + SignedDuration::from_secs(1),
    ] {
        let fake = FakeAws::staging();
        let err = run_restore(
            &fake,
            &restore_opts(RestoreFrom::Time(time), "users-db-old"),
        )
        .await
        .unwrap_err();
        let err = user_error(err);
        assert!(
            err.message
                .contains(&format!("restore time {time} is outside")),
            "{err}"
        );
        assert!(err.message.contains(&earliest.to_string()), "{err}");
        assert!(err.message.contains(&latest.to_string()), "{err}");
        assert!(err.hint.unwrap().contains("--latest"));
        assert!(fake.mutating_calls().is_empty(), "{:?}", fake.calls());
        assert!(fake.db_instance("users-db-old").is_none());
    }
}

#[tokio::test(start_paused = true)]
async fn restore_copies_every_setting_into_a_new_instance_and_leaves_the_source() {
    let fake = FakeAws::staging();
    let source = fake.db_instance("users-db").unwrap();
    let (out, rec) = run_restore(
        &fake,
        &restore_opts(
            RestoreFrom::Snapshot("rds:users-db-2027-01-08-03-00".into()),
            "Users-DB-Restored",
        ),
    )
    .await
    .unwrap();

    assert_eq!(out.result, RestoreResult::Restored, "{out}");
    assert_eq!(out.exit(), Exit::Ok);
    assert_eq!(
        out.target, "users-db-restored",
        "RDS identifiers are lower case"
    );
    assert_eq!(
        fake.mutating_calls(),
        [
            "rds:RestoreDBInstanceFromDBSnapshot",
            "rds:ModifyDBInstance"
        ],
        "one restore, then one modify for what the restore call does not take"
    );
    assert_eq!(
        out.set_after,
        [
            "enhanced monitoring",
            "Performance Insights",
            "Database Insights mode",
            "maintenance window",
            "storage autoscaling ceiling"
        ]
    );
    let new = fake.db_instance("users-db-restored").unwrap();
    assert_eq!(new.status, "available");
    assert_eq!(
        source.settings.differences(&new.settings),
        Vec::<String>::new(),
        "every setting of the source"
    );
    assert_eq!(new.settings, source.settings);
    for (k, v) in &source.tags {
        assert_eq!(new.tags.get(k), Some(v), "tag {k}");
    }
    assert_eq!(
        new.tags[tags::RESTORED_FROM],
        "rds:users-db-2027-01-08-03-00"
    );
    assert_eq!(new.tags[tags::CREATED_BY], "tester@laptop");
    assert_eq!(
        fake.db_instance("users-db").unwrap(),
        source,
        "the source is untouched"
    );

    let endpoint = "users-db-restored.abc.us-east-1.rds.amazonaws.com:5433";
    assert_eq!(out.endpoint.as_deref(), Some(endpoint));
    let text = out.to_string();
    assert!(text.contains(&format!("endpoint: {endpoint}")), "{text}");
    assert!(text.contains("DB_HOST=users-db-restored.abc"), "{text}");
    assert!(text.contains("opsctl deploy staging --version"), "{text}");
    assert!(text.contains("users-db is unchanged"), "{text}");
    // The restore took 30 s in the fake: the wait reported the status it saw.
    let events = rec.events.lock().unwrap();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Step { detail, .. } if detail == "users-db-restored is available")),
        "{events:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn restore_to_latest_and_without_waiting() {
    let fake = FakeAws::staging();
    let mut opts = restore_opts(RestoreFrom::Latest, "users-db-latest");
    opts.wait = false;
    let (out, _) = run_restore(&fake, &opts).await.unwrap();
    assert_eq!(out.result, RestoreResult::Started, "{out}");
    assert_eq!(
        fake.db_instance("users-db-latest").unwrap().status,
        "creating"
    );
    assert_eq!(
        fake.db_instance("users-db-latest").unwrap().tags[tags::RESTORED_FROM],
        "users-db@latest"
    );
    assert!(out.next[0].contains("aws rds wait db-instance-available"));
}

#[tokio::test(start_paused = true)]
async fn restore_dry_run_lists_the_call_with_every_setting() {
    let fake = FakeAws::staging();
    let mut opts = restore_opts(RestoreFrom::Latest, "users-db-copy");
    opts.dry_run = true;
    let (out, _) = run_restore(&fake, &opts).await.unwrap();
    assert_eq!(out.result, RestoreResult::Planned);
    let call = &out.calls[0];
    for part in [
        "rds:RestoreDBInstanceToPointInTime SourceDBInstanceIdentifier=users-db",
        "TargetDBInstanceIdentifier=users-db-copy",
        "UseLatestRestorableTime=true",
        "class=db.r6g.large",
        "subnet_group=users-db-subnets",
        "security_groups=sg-0aaa,sg-0bbb",
        "parameter_group=users-pg15",
        "option_group=users-pg15-options",
        "multi_az=true",
        "storage_type=io1",
        "iops=3000",
        "port=5433",
        "deletion_protection=true",
        "iam_auth=true",
        "log_exports=postgresql,upgrade",
        "monitoring_interval=30",
        "app=users",
    ] {
        assert!(call.contains(part), "{part} in {call}");
    }
    let later = &out.calls[2];
    assert!(
        later.starts_with("then rds:ModifyDBInstance users-db-copy ApplyImmediately=true")
            && later.contains("enhanced monitoring, Performance Insights"),
        "{later}"
    );
    assert!(fake.mutating_calls().is_empty());
}

#[tokio::test(start_paused = true)]
async fn unknown_or_unavailable_snapshots_are_refused() {
    let fake = FakeAws::staging();
    fake.put_db_snapshot("users-db-in-progress", "creating", Some(42));
    let err = run_restore(
        &fake,
        &restore_opts(
            RestoreFrom::Snapshot("users-db-in-progress".into()),
            "users-db-new",
        ),
    )
    .await
    .unwrap_err();
    let err = user_error(err);
    assert!(
        err.message
            .contains("snapshot users-db-in-progress is creating, 42%"),
        "{err}"
    );

    let err = run_restore(
        &fake,
        &restore_opts(
            RestoreFrom::Snapshot("users-db-nope".into()),
            "users-db-new",
        ),
    )
    .await
    .unwrap_err();
    let err = user_error(err);
    assert!(
        err.message.contains("snapshot users-db-nope not found"),
        "{err}"
    );
    assert!(err.hint.unwrap().contains("opsctl db snapshots staging"));
    assert!(fake.mutating_calls().is_empty());
}

#[tokio::test(start_paused = true)]
async fn invalid_or_used_target_names_are_refused_before_any_change() {
    let fake = FakeAws::staging();
    for bad in ["2-users", "users--db", "users-db-", "users_db"] {
        let err = run_restore(&fake, &restore_opts(RestoreFrom::Latest, bad))
            .await
            .unwrap_err();
        assert!(
            user_error(err)
                .message
                .contains("not a valid RDS instance identifier"),
            "{bad}"
        );
    }
    assert!(fake.calls().is_empty(), "no call at all for a bad name");

    let err = run_restore(&fake, &restore_opts(RestoreFrom::Latest, "users-db"))
        .await
        .unwrap_err();
    assert!(user_error(err).message.contains("never overwrites it"));

    run_restore(&fake, &restore_opts(RestoreFrom::Latest, "users-db-copy"))
        .await
        .unwrap();
    let err = run_restore(&fake, &restore_opts(RestoreFrom::Latest, "users-db-copy"))
        .await
        .unwrap_err();
    assert!(
        user_error(err)
            .message
            .contains("an RDS instance named users-db-copy already exists")
    );
    assert_eq!(
        fake.mutating_calls(),
        ["rds:RestoreDBInstanceToPointInTime", "rds:ModifyDBInstance"],
        "only the first restore"
    );
}

fn deploy_opts(version: &str) -> deploy::Options {
    super::kit::deploy_opts(version)
}

#[tokio::test(start_paused = true)]
async fn deploy_snapshots_the_database_first_and_names_the_snapshot() {
    let fake = FakeAws::staging();
    let rec = Recorder::default();
    let (_h, interrupt) = Interrupt::new();
    let env = staging(false, true);

    let mut plan = deploy_opts("v1.2.0");
    plan.dry_run = true;
    let out = deploy::deploy(&fake.aws(), &env, "staging-users", &plan, &rec, &interrupt)
        .await
        .unwrap();
    let calls = &out.plan.as_ref().unwrap().calls;
    assert!(
        calls[0].starts_with(
            "rds:CreateDBSnapshot DBInstanceIdentifier=users-db DBSnapshotIdentifier=users-db-<yyyymmddhhmmss>-v1-2-0"
        ),
        "{calls:?}"
    );
    assert!(out.snapshot.is_none(), "a plan takes no snapshot");

    let out = deploy::deploy(
        &fake.aws(),
        &env,
        "staging-users",
        &deploy_opts("v1.2.0"),
        &rec,
        &interrupt,
    )
    .await
    .unwrap();
    assert_eq!(out.result, deploy::DeployResult::Deployed, "{out}");
    let snap = out
        .snapshot
        .as_ref()
        .expect("the deploy names its snapshot");
    assert_eq!(snap.result, SnapshotResult::Available);
    assert!(
        snap.snapshot_id.ends_with("-v1-2-0"),
        "{}",
        snap.snapshot_id
    );
    let taken = fake.db_snapshot(&snap.snapshot_id).unwrap();
    assert_eq!(taken.tags[tags::VERSION], "v1.2.0");
    assert_eq!(taken.tags[tags::REASON], "before deploying v1.2.0");
    assert_eq!(
        fake.mutating_calls()[..2],
        ["rds:CreateDBSnapshot", "ecs:RegisterTaskDefinition"],
        "the snapshot comes before any ECS change"
    );
    assert!(
        out.to_string()
            .contains(&format!("database snapshot: {}", snap.snapshot_id)),
        "{out}"
    );
}

#[tokio::test(start_paused = true)]
async fn deploy_stops_with_exit_1_when_its_snapshot_fails() {
    let fake = FakeAws::staging();
    fake.set_db(|d| d.snapshot_fails = true);
    let (_h, interrupt) = Interrupt::new();
    let out = deploy::deploy(
        &fake.aws(),
        &staging(false, true),
        "staging-users",
        &deploy_opts("v1.2.0"),
        &Recorder::default(),
        &interrupt,
    )
    .await
    .unwrap();
    assert_eq!(out.result, deploy::DeployResult::Failed, "{out}");
    assert_eq!(out.exit(), Exit::Failed);
    assert!(
        out.reason
            .as_ref()
            .unwrap()
            .contains("nothing was deployed"),
        "{out}"
    );
    assert_eq!(
        fake.mutating_calls(),
        ["rds:CreateDBSnapshot"],
        "no ECS change"
    );
    assert!(
        fake.service_task_definition("staging-users")
            .ends_with(":2"),
        "still on the old revision"
    );
}

#[tokio::test(start_paused = true)]
async fn deploy_without_snapshot_before_deploy_takes_none() {
    let fake = FakeAws::staging();
    let (_h, interrupt) = Interrupt::new();
    let out = deploy::deploy(
        &fake.aws(),
        &staging(false, false),
        "staging-users",
        &deploy_opts("v1.2.0"),
        &Recorder::default(),
        &interrupt,
    )
    .await
    .unwrap();
    assert_eq!(out.result, deploy::DeployResult::Deployed);
    assert!(out.snapshot.is_none());
    assert_eq!(fake.count("rds:CreateDBSnapshot"), 0);
}

//! The real opsctl binary against the local AWS sandbox: database snapshots, the list, and
//! restores into new instances; scaling (ECS desired count and Application Auto Scaling
//! bounds); and the snapshot a prod deploy takes first. Everything opsctl did is read back
//! through the SDK, independently of opsctl.

mod support;

use std::collections::BTreeMap;

use aws_sdk_applicationautoscaling::types::{ScalableDimension, ServiceNamespace};
use aws_sdk_rds::types::DbInstance;
use jiff::{SignedDuration, Timestamp};
use support::Account;

async fn rds(account: &Account) -> aws_sdk_rds::Client {
    aws_sdk_rds::Client::new(&account.sdk().await)
}

async fn instance(rds: &aws_sdk_rds::Client, id: &str) -> Option<DbInstance> {
    match rds
        .describe_db_instances()
        .db_instance_identifier(id)
        .send()
        .await
    {
        Ok(out) => out.db_instances().first().cloned(),
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_db_instance_not_found_fault()) =>
        {
            None
        }
        Err(e) => panic!("DescribeDBInstances {id}: {e:?}"),
    }
}

fn tags(d: &DbInstance) -> BTreeMap<String, String> {
    d.tag_list()
        .iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_owned(),
                t.value().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// Every setting a restore copies, as RDS reports them (the zone of a Multi-AZ instance is
/// RDS's choice and not among them).
#[derive(Debug, PartialEq)]
struct Settings {
    class: Option<String>,
    engine: Option<String>,
    engine_version: Option<String>,
    subnet_group: Option<String>,
    security_groups: Vec<String>,
    parameter_groups: Vec<String>,
    option_groups: Vec<String>,
    multi_az: Option<bool>,
    network_type: Option<String>,
    storage_type: Option<String>,
    allocated_gb: Option<i32>,
    max_allocated_gb: Option<i32>,
    iops: Option<i32>,
    storage_throughput: Option<i32>,
    encrypted: Option<bool>,
    port: Option<i32>,
    deletion_protection: Option<bool>,
    publicly_accessible: Option<bool>,
    backup_retention: Option<i32>,
    backup_window: Option<String>,
    maintenance_window: Option<String>,
    copy_tags_to_snapshot: Option<bool>,
    auto_minor_version_upgrade: Option<bool>,
    iam_auth: Option<bool>,
    log_exports: Vec<String>,
    ca_certificate: Option<String>,
    license_model: Option<String>,
    monitoring_interval: Option<i32>,
    monitoring_role: Option<String>,
    performance_insights: Option<bool>,
    performance_insights_retention: Option<i32>,
    database_insights_mode: Option<String>,
}

fn settings(d: &DbInstance) -> Settings {
    let owned = |v: Option<&str>| v.map(str::to_owned);
    Settings {
        class: owned(d.db_instance_class()),
        engine: owned(d.engine()),
        engine_version: owned(d.engine_version()),
        subnet_group: d
            .db_subnet_group()
            .and_then(|g| g.db_subnet_group_name())
            .map(str::to_owned),
        security_groups: d
            .vpc_security_groups()
            .iter()
            .filter_map(|g| g.vpc_security_group_id().map(str::to_owned))
            .collect(),
        parameter_groups: d
            .db_parameter_groups()
            .iter()
            .filter_map(|g| g.db_parameter_group_name().map(str::to_owned))
            .collect(),
        option_groups: d
            .option_group_memberships()
            .iter()
            .filter_map(|g| g.option_group_name().map(str::to_owned))
            .collect(),
        multi_az: d.multi_az(),
        network_type: owned(d.network_type()),
        storage_type: owned(d.storage_type()),
        allocated_gb: d.allocated_storage(),
        max_allocated_gb: d.max_allocated_storage(),
        iops: d.iops(),
        storage_throughput: d.storage_throughput(),
        encrypted: d.storage_encrypted(),
        port: d.endpoint().and_then(|e| e.port()),
        deletion_protection: d.deletion_protection(),
        publicly_accessible: d.publicly_accessible(),
        backup_retention: d.backup_retention_period(),
        backup_window: owned(d.preferred_backup_window()),
        maintenance_window: owned(d.preferred_maintenance_window()),
        copy_tags_to_snapshot: d.copy_tags_to_snapshot(),
        auto_minor_version_upgrade: d.auto_minor_version_upgrade(),
        iam_auth: d.iam_database_authentication_enabled(),
        log_exports: d.enabled_cloudwatch_logs_exports().to_vec(),
        ca_certificate: owned(d.ca_certificate_identifier()),
        license_model: owned(d.license_model()),
        monitoring_interval: d.monitoring_interval(),
        monitoring_role: owned(d.monitoring_role_arn()),
        performance_insights: d.performance_insights_enabled(),
        performance_insights_retention: d.performance_insights_retention_period(),
        database_insights_mode: d.database_insights_mode().map(|m| m.as_str().to_owned()),
    }
}

/// Gives `users-db` a value other than RDS's default for every setting a restore must copy,
/// so that a restore that forgets one shows (the sandbox gives a restore RDS's defaults for
/// what its call does not name).
async fn dress_source(account: &Account, rds: &aws_sdk_rds::Client) {
    // A role the seed made (the sandbox checks no trust policy).
    let role = format!("arn:aws:iam::{}:role/staging-users-task", account.id);
    rds.create_option_group()
        .option_group_name("users-og15")
        .engine_name("postgres")
        .major_engine_version("15")
        .option_group_description("users")
        .send()
        .await
        .unwrap();
    rds.modify_db_instance()
        .db_instance_identifier("users-db")
        .apply_immediately(true)
        .option_group_name("users-og15")
        .multi_az(true)
        .max_allocated_storage(100)
        .monitoring_interval(30)
        .monitoring_role_arn(role)
        .enable_performance_insights(true)
        .performance_insights_retention_period(31)
        .enable_iam_database_authentication(true)
        .cloudwatch_logs_export_configuration(
            aws_sdk_rds::types::CloudwatchLogsExportConfiguration::builder()
                .enable_log_types("postgresql")
                .enable_log_types("upgrade")
                .build(),
        )
        .ca_certificate_identifier("rds-ca-ecc384-g1")
        .backup_retention_period(14)
        .preferred_backup_window("03:00-03:30")
        .preferred_maintenance_window("sun:05:00-sun:05:30")
        .copy_tags_to_snapshot(true)
        .auto_minor_version_upgrade(false)
        .network_type("DUAL")
        .database_insights_mode(aws_sdk_rds::types::DatabaseInsightsMode::Standard)
        .send()
        .await
        .unwrap();
}

/// The new instance has the source's settings and tags, plus opsctl's provenance.
fn assert_copied(source: &DbInstance, new: &DbInstance, restored_from: &str) {
    assert_eq!(settings(new), settings(source));
    assert_eq!(new.db_instance_status(), Some("available"));
    let (old_tags, new_tags) = (tags(source), tags(new));
    for (k, v) in &old_tags {
        assert_eq!(new_tags.get(k), Some(v), "tag {k} copied: {new_tags:?}");
    }
    assert_eq!(
        new_tags.get("opsctl:restored-from").map(String::as_str),
        Some(restored_from)
    );
    assert!(new_tags.contains_key("opsctl:created-by"), "{new_tags:?}");
}

/// The source instance is as it was: same state, settings, tags and endpoint.
fn assert_untouched(before: &DbInstance, after: &DbInstance) {
    assert_eq!(after.db_instance_status(), before.db_instance_status());
    assert_eq!(settings(after), settings(before));
    assert_eq!(tags(after), tags(before));
    assert_eq!(
        after.endpoint().and_then(|e| e.address()),
        before.endpoint().and_then(|e| e.address())
    );
}

fn ts(t: &aws_smithy_types::DateTime) -> Timestamp {
    Timestamp::new(t.secs(), t.subsec_nanos() as i32).unwrap()
}

#[tokio::test]
async fn snapshot_list_and_restore_it_into_a_new_instance() {
    let account = Account::seed();
    let rds = rds(&account).await;
    dress_source(&account, &rds).await;
    let before = instance(&rds, "users-db").await.unwrap();

    let run = account.opsctl(&[
        "--output",
        "json",
        "db",
        "snapshot",
        "staging",
        "--wait",
        "--reason",
        "before the migration",
    ]);
    run.expect_code(0);
    let json = run.json();
    assert_eq!(json["result"], "available");
    let id = json["snapshot_id"].as_str().unwrap().to_owned();
    let digits = id.strip_prefix("users-db-").unwrap();
    assert!(
        digits.len() == 14 && digits.chars().all(|c| c.is_ascii_digit()),
        "{id}"
    );
    // The sandbox's snapshots are available at once: progress is reported, but only as 100
    // (a line on stderr without a terminal).
    assert!(
        run.stderr.contains(&format!("snapshot {id}: 100%")),
        "{}",
        run.stderr
    );

    let out = rds
        .describe_db_snapshots()
        .db_snapshot_identifier(&id)
        .send()
        .await
        .unwrap();
    let snap = &out.db_snapshots()[0];
    assert_eq!(snap.db_instance_identifier(), Some("users-db"));
    assert_eq!(snap.snapshot_type(), Some("manual"));
    let snap_tags: BTreeMap<_, _> = snap
        .tag_list()
        .iter()
        .map(|t| (t.key().unwrap(), t.value().unwrap()))
        .collect();
    assert_eq!(snap_tags["opsctl:reason"], "before the migration");
    assert!(snap_tags.contains_key("opsctl:created-by"), "{snap_tags:?}");

    let run = account.opsctl(&["--output", "json", "db", "snapshots", "staging"]);
    run.expect_code(0);
    let list = run.json()["snapshots"].as_array().unwrap().clone();
    assert_eq!(list[0]["id"], id.as_str(), "newest first");
    assert_eq!(list[0]["kind"], "manual");
    assert_eq!(list[0]["status"], "available");
    assert_eq!(list[0]["size_gb"], 20);
    assert_eq!(list[0]["reason"], "before the migration");
    assert!(
        list.iter().any(|s| s["kind"] == "automated"),
        "automated snapshots are listed too: {list:?}"
    );
    let text = account.opsctl(&["db", "snapshots", "staging"]);
    text.expect_code(0);
    assert!(text.stdout.contains(&id), "{}", text.stdout);
    assert!(text.stdout.contains("automated"), "{}", text.stdout);

    let run = account.opsctl(&[
        "--output",
        "json",
        "db",
        "restore",
        "staging",
        "--snapshot",
        &id,
        "--target",
        "users-db-from-snapshot",
    ]);
    run.expect_code(0);
    let json = run.json();
    assert_eq!(json["result"], "restored");
    // No restore call takes these: one ModifyDBInstance set them once it was available.
    let set_after: Vec<&str> = json["set_after"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    for name in [
        "enhanced monitoring",
        "Performance Insights",
        "maintenance window",
    ] {
        assert!(set_after.contains(&name), "{name} in {set_after:?}");
    }
    assert!(json.get("differences").is_none(), "{json}");
    assert!(
        json["endpoint"]
            .as_str()
            .unwrap()
            .starts_with("users-db-from-snapshot."),
        "{json}"
    );
    assert!(!json["next"].as_array().unwrap().is_empty());

    let new = instance(&rds, "users-db-from-snapshot").await.unwrap();
    assert_copied(&before, &new, &id);
    assert_untouched(&before, &instance(&rds, "users-db").await.unwrap());

    let text = account.opsctl(&[
        "db",
        "restore",
        "staging",
        "--snapshot",
        &id,
        "--target",
        "users-db-from-snapshot",
    ]);
    text.expect_code(2);
    assert!(
        text.stderr
            .contains("an RDS instance named users-db-from-snapshot already exists"),
        "{}",
        text.stderr
    );
}

#[tokio::test]
async fn restore_to_a_point_in_time_checks_the_window_before_any_change() {
    let account = Account::seed();
    let rds = rds(&account).await;
    dress_source(&account, &rds).await;
    let before = instance(&rds, "users-db").await.unwrap();
    // The window, read independently, as AWS documents it: the automated backup's
    // RestoreWindow.
    let backups = rds
        .describe_db_instance_automated_backups()
        .db_instance_identifier("users-db")
        .send()
        .await
        .unwrap();
    let earliest = backups
        .db_instance_automated_backups()
        .iter()
        .find_map(|b| b.restore_window()?.earliest_time().map(ts))
        .expect("the sandbox keeps the instance's automated backup with its window");
    let latest = ts(before.latest_restorable_time().unwrap());
    assert!(earliest <= latest);

    for outside in [
        earliest - SignedDuration::from_hours(1),
        Timestamp::now() + SignedDuration::from_hours(1),
    ] {
        let run = account.opsctl(&[
            "db",
            "restore",
            "staging",
            "--to-time",
            &outside.to_string(),
            "--target",
            "users-db-too-early",
        ]);
        run.expect_code(2);
        assert!(
            run.stderr
                .contains("is outside the restorable window of users-db"),
            "{}",
            run.stderr
        );
        assert!(
            run.stderr.contains(&format!("earliest {earliest}")),
            "{}",
            run.stderr
        );
        assert!(run.stderr.contains("latest "), "{}", run.stderr);
    }
    assert!(instance(&rds, "users-db-too-early").await.is_none());

    let within = earliest + latest.duration_since(earliest) / 2;
    let run = account.opsctl(&[
        "--output",
        "json",
        "db",
        "restore",
        "staging",
        "--to-time",
        &within.to_string(),
        "--target",
        "users-db-pitr",
    ]);
    run.expect_code(0);
    assert_eq!(run.json()["result"], "restored");
    let new = instance(&rds, "users-db-pitr").await.unwrap();
    assert_copied(&before, &new, &format!("users-db@{within}"));

    let run = account.opsctl(&[
        "db",
        "restore",
        "staging",
        "--latest",
        "--target",
        "users-db-latest",
    ]);
    run.expect_code(0);
    assert!(
        run.stdout.contains("endpoint: users-db-latest."),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("next: "), "{}", run.stdout);
    let new = instance(&rds, "users-db-latest").await.unwrap();
    assert_copied(&before, &new, "users-db@latest");

    assert_untouched(&before, &instance(&rds, "users-db").await.unwrap());
}

#[tokio::test]
async fn restore_bad_input_and_dry_run_create_nothing() {
    let account = Account::seed();
    let rds = rds(&account).await;

    let run = account.opsctl(&[
        "db",
        "restore",
        "staging",
        "--latest",
        "--target",
        "users--copy",
    ]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("not a valid RDS instance identifier"),
        "{}",
        run.stderr
    );

    let run = account.opsctl(&[
        "db",
        "restore",
        "staging",
        "--snapshot",
        "users-db-19990101000000",
        "--target",
        "users-db-copy",
    ]);
    run.expect_code(2);
    assert!(
        run.stderr
            .contains("snapshot users-db-19990101000000 not found"),
        "{}",
        run.stderr
    );

    let run = account.opsctl(&[
        "db",
        "restore",
        "staging",
        "--latest",
        "--target",
        "users-db-copy",
        "--dry-run",
    ]);
    run.expect_code(0);
    assert!(
        run.stdout
            .contains("rds:RestoreDBInstanceToPointInTime SourceDBInstanceIdentifier=users-db"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("parameter_group=users-pg15"),
        "{}",
        run.stdout
    );

    // prod asks first; with no terminal and no --yes it refuses.
    let run = account.opsctl(&[
        "db",
        "restore",
        "prod",
        "--latest",
        "--target",
        "users-db-copy",
    ]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("no terminal to ask on"),
        "{}",
        run.stderr
    );

    let run = account.opsctl(&["db", "restore", "staging", "--target", "users-db-copy"]);
    run.expect_code(2);
    assert!(run.stderr.contains("--snapshot"), "{}", run.stderr);

    assert!(instance(&rds, "users-db-copy").await.is_none());
    let snapshots = rds
        .describe_db_snapshots()
        .db_instance_identifier("users-db")
        .snapshot_type("manual")
        .send()
        .await
        .unwrap();
    assert!(snapshots.db_snapshots().is_empty());
}

async fn service_counts(account: &Account, service: &str) -> (i32, i32) {
    account.desired_running(service).await
}

async fn bounds(account: &Account, service: &str) -> Option<(i32, i32)> {
    let aas = aws_sdk_applicationautoscaling::Client::new(&account.sdk().await);
    let out = aas
        .describe_scalable_targets()
        .service_namespace(ServiceNamespace::Ecs)
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .resource_ids(format!("service/demo/{service}"))
        .send()
        .await
        .unwrap();
    out.scalable_targets()
        .first()
        .map(|t| (t.min_capacity(), t.max_capacity()))
}

#[tokio::test]
async fn scaling_converges_out_and_back() {
    let account = Account::seed();
    let run = account.opsctl(&["--output", "json", "scale", "staging", "--count", "4"]);
    run.expect_code(0);
    let json = run.json();
    assert_eq!(json["result"], "scaled");
    assert_eq!(json["desired_from"], 2);
    assert_eq!(json["desired_to"], 4);
    assert_eq!(json["bounds"], "kept");
    assert_eq!(json["wait"]["services"][0]["verdict"], "stable");
    assert_eq!(service_counts(&account, "staging-users").await, (4, 4));
    assert_eq!(bounds(&account, "staging-users").await, Some((1, 6)));

    let run = account.opsctl(&["scale", "staging", "--count", "2"]);
    run.expect_code(0);
    assert!(
        run.stdout
            .contains("scaled staging (staging-users) from 4 to 2"),
        "{}",
        run.stdout
    );
    assert_eq!(service_counts(&account, "staging-users").await, (2, 2));
}

#[tokio::test]
async fn autoscaling_bounds_move_with_the_count() {
    let account = Account::seed();
    let run = account.opsctl(&[
        "--output", "json", "scale", "staging", "--min", "2", "--max", "3",
    ]);
    run.expect_code(0);
    assert_eq!(run.json()["bounds"], "set");
    assert_eq!(bounds(&account, "staging-users").await, Some((2, 3)));
    assert_eq!(service_counts(&account, "staging-users").await, (2, 2));

    // 5 is outside 2..3: autoscaling would undo it, so the bounds move with it, and say so.
    let run = account.opsctl(&["scale", "staging", "--count", "5"]);
    run.expect_code(0);
    assert!(
        run.stdout.contains("bounds moved to 2..5"),
        "{}",
        run.stdout
    );
    assert_eq!(bounds(&account, "staging-users").await, Some((2, 5)));
    assert_eq!(service_counts(&account, "staging-users").await, (5, 5));

    let run = account.opsctl(&[
        "scale", "staging", "--count", "3", "--min", "1", "--max", "6",
    ]);
    run.expect_code(0);
    assert_eq!(bounds(&account, "staging-users").await, Some((1, 6)));
    assert_eq!(service_counts(&account, "staging-users").await, (3, 3));

    // Outside the env's limits (1..6): refused, naming them; nothing changes.
    let run = account.opsctl(&["scale", "staging", "--count", "7"]);
    run.expect_code(2);
    assert!(
        run.stderr
            .contains("outside env.staging's scaling limits 1..6"),
        "{}",
        run.stderr
    );
    let run = account.opsctl(&["scale", "staging", "--min", "0", "--max", "8"]);
    run.expect_code(2);
    let run = account.opsctl(&["scale", "staging", "--count", "4", "--dry-run"]);
    run.expect_code(0);
    assert!(
        run.stdout
            .contains("ecs:UpdateService cluster=demo service=staging-users desiredCount=4"),
        "{}",
        run.stdout
    );
    assert_eq!(bounds(&account, "staging-users").await, Some((1, 6)));
    assert_eq!(service_counts(&account, "staging-users").await, (3, 3));
}

#[tokio::test]
async fn blue_green_scale_names_the_colour_and_asks_first() {
    let account = Account::seed();
    // Without --service, the live colour (blue, weight 100) is the one to scale.
    let run = account.opsctl(&["scale", "prod", "--count", "4", "--dry-run"]);
    run.expect_code(0);
    assert!(
        run.stdout
            .contains("prod-users-blue (blue, the live colour)"),
        "{}",
        run.stdout
    );
    account
        .opsctl(&[
            "--yes", "traffic", "prod", "--to", "green", "--steps", "100",
        ])
        .expect_code(0);
    let run = account.opsctl(&["--yes", "scale", "prod", "--count", "4"]);
    run.expect_code(0);
    assert!(
        run.stdout
            .contains("prod-users-green (green, the live colour)"),
        "{}",
        run.stdout
    );
    assert_eq!(service_counts(&account, "prod-users-green").await, (4, 4));

    let run = account.opsctl(&[
        "scale",
        "prod",
        "--service",
        "prod-users-blue",
        "--count",
        "4",
    ]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("no terminal to ask on"),
        "{}",
        run.stderr
    );
    assert_eq!(service_counts(&account, "prod-users-blue").await, (3, 3));

    let run = account.opsctl(&[
        "--yes",
        "scale",
        "prod",
        "--service",
        "prod-users-blue",
        "--count",
        "4",
    ]);
    run.expect_code(0);
    assert!(
        run.stdout.contains("scaling prod-users-blue (blue)"),
        "{}",
        run.stdout
    );
    assert_eq!(service_counts(&account, "prod-users-blue").await, (4, 4));
    assert_eq!(bounds(&account, "prod-users-blue").await, Some((2, 10)));
}

#[tokio::test]
async fn prod_deploy_snapshots_the_database_first() {
    let account = Account::seed();
    let run = account.opsctl(&[
        "--output",
        "json",
        "--yes",
        "deploy",
        "prod",
        "--service",
        "prod-users-blue",
        "--in-place-on-live-colour",
        "--version",
        "v1.2.0",
    ]);
    run.expect_code(0);
    let json = run.json();
    assert_eq!(json["result"], "deployed");
    let snapshot = &json["snapshot"];
    assert_eq!(snapshot["result"], "available");
    let id = snapshot["snapshot_id"].as_str().unwrap().to_owned();
    assert!(
        id.starts_with("users-db-") && id.ends_with("-v1-2-0"),
        "{id}"
    );

    let rds = rds(&account).await;
    let out = rds
        .describe_db_snapshots()
        .db_snapshot_identifier(&id)
        .send()
        .await
        .unwrap();
    let tags: BTreeMap<_, _> = out.db_snapshots()[0]
        .tag_list()
        .iter()
        .map(|t| (t.key().unwrap(), t.value().unwrap()))
        .collect();
    assert_eq!(tags["opsctl:version"], "v1.2.0");
    assert_eq!(tags["opsctl:reason"], "before deploying v1.2.0");

    // The plan says so too.
    let run = account.opsctl(&[
        "plan",
        "prod",
        "--service",
        "prod-users-blue",
        "--version",
        "v1.3.0",
    ]);
    run.expect_code(0);
    assert!(
        run.stdout.contains(
            "rds:CreateDBSnapshot DBInstanceIdentifier=users-db DBSnapshotIdentifier=users-db-<yyyymmddhhmmss>-v1-3-0"
        ),
        "{}",
        run.stdout
    );
}

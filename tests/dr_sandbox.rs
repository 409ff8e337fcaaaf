//! The real opsctl binary against the local AWS sandbox: disaster-recovery drills. What
//! opsctl did is read back through the SDK, independently of opsctl.

mod support;

use support::{Account, DR_REGION};

async fn zones(account: &Account) -> (Option<String>, Option<String>, Option<String>) {
    let rds = aws_sdk_rds::Client::new(&account.sdk().await);
    let out = rds
        .describe_db_instances()
        .db_instance_identifier("users-db")
        .send()
        .await
        .unwrap();
    let d = &out.db_instances()[0];
    (
        d.db_instance_status().map(str::to_owned),
        d.availability_zone().map(str::to_owned),
        d.secondary_availability_zone().map(str::to_owned),
    )
}

#[tokio::test]
async fn a_failover_drill_moves_the_primary_and_is_timed_against_the_rto() {
    let account = Account::seed_multi_az();
    let (_, primary, standby) = zones(&account).await;
    assert_eq!(primary.as_deref(), Some("us-east-1a"));
    assert_eq!(standby.as_deref(), Some("us-east-1b"));

    let run = account.opsctl(&[
        "--output", "json", "db", "failover", "prod", "--wait", "--yes",
    ]);
    run.expect_code(0);
    let json = run.json();
    assert_eq!(json["result"], "failed_over", "{json}");
    assert_eq!(json["from_zone"], "us-east-1a");
    assert_eq!(json["to_zone"], "us-east-1b");
    assert_eq!(json["rto_secs"], 300, "prod's database.rto");
    // The sandbox's failover takes a few seconds (db_failover_seconds); the drill times it
    // from the call.
    let secs = json["elapsed_secs"].as_f64().unwrap();
    assert!((1.0..120.0).contains(&secs), "{secs}");
    assert!(
        run.stderr.contains("users-db is rebooting"),
        "{}",
        run.stderr
    );

    let (status, primary, standby) = zones(&account).await;
    assert_eq!(status.as_deref(), Some("available"));
    assert_eq!(
        primary.as_deref(),
        Some("us-east-1b"),
        "the standby is the primary"
    );
    assert_eq!(standby.as_deref(), Some("us-east-1a"));
}

#[tokio::test]
async fn a_failover_of_a_single_az_instance_is_refused_before_any_call() {
    let account = Account::seed();
    let run = account.opsctl(&["db", "failover", "prod", "--wait", "--yes"]);
    run.expect_code(2);
    assert!(
        run.stderr
            .contains("users-db is a single-AZ instance: it has no standby to fail over to"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--multi-az"), "{}", run.stderr);
    let changed: Vec<String> = account
        .requests()
        .into_iter()
        .filter(|r| r.mutates())
        .map(|r| r.action)
        .collect();
    assert!(changed.is_empty(), "{changed:?}");
    let (status, primary, _) = zones(&account).await;
    assert_eq!(status.as_deref(), Some("available"));
    assert_eq!(primary.as_deref(), Some("us-east-1a"));
}

#[tokio::test]
async fn status_shows_the_recovery_position_against_the_rpo_and_where_the_logs_are() {
    let account = Account::seed_multi_az();
    let run = account.opsctl(&["--output", "json", "status", "prod"]);
    run.expect_code(0);
    let db = &run.json()["database"];
    assert_eq!(db["instance"], "users-db");
    assert_eq!(db["multi_az"], true);
    assert_eq!(db["zone"], "us-east-1a");
    assert_eq!(db["standby_zone"], "us-east-1b");
    assert_eq!(db["rpo_secs"], 3600, "prod's database.rpo");
    assert_eq!(db["within_rpo"], true, "{db}");
    // The sandbox keeps the restorable time a few seconds behind now.
    let lag = db["restorable_lag_secs"].as_i64().unwrap();
    assert!((0..600).contains(&lag), "{lag}");
    assert!(db["newest_snapshot"].as_str().is_some(), "{db}");

    let text = account.opsctl(&["status", "prod"]);
    text.expect_code(0);
    assert!(
        text.stdout
            .contains("database users-db: available, Multi-AZ (us-east-1a, standby us-east-1b)"),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("RPO 60m: within"), "{}", text.stdout);
    assert!(
        text.stdout
            .contains("logs: CloudWatch Logs /ecs/prod-users, streams users/users/TASK_ID"),
        "{}",
        text.stdout
    );
}

#[tokio::test]
async fn a_region_loss_drill_copies_a_snapshot_to_the_recovery_region_and_restores_it_there() {
    let account = Account::seed();
    account.configure(serde_json::json!({ "db_snapshot_copy_seconds": 2.0 }));

    // An encrypted database's copy needs a key of the target region: refused before anything.
    let refused = account.opsctl(&["db", "snapshot", "prod", "--copy-to", "eu-west-1", "--yes"]);
    refused.expect_code(2);
    assert!(
        refused.stderr.contains("needs a KMS key of eu-west-1"),
        "{}",
        refused.stderr
    );
    assert!(!account.requests().iter().any(|r| r.mutates()));

    // Snapshot, and copy it to us-west-2 with database.dr.kms_key.
    let (run, id) = account.snapshot_to_dr();
    let json = run.json();
    assert_eq!(json["result"], "available", "{json}");
    assert_eq!(json["copy"]["result"], "available", "{json}");
    let dr = account.rds_in(DR_REGION).await;
    let copy = dr
        .describe_db_snapshots()
        .db_snapshot_identifier(&id)
        .send()
        .await
        .unwrap()
        .db_snapshots()[0]
        .clone();
    assert_eq!(copy.status(), Some("available"));
    assert_eq!(copy.source_region(), Some("us-east-1"));
    assert!(copy.encrypted().unwrap_or(false));
    assert_eq!(
        copy.kms_key_id(),
        account.resources["dr"]["kms_key"].as_str(),
        "encrypted with the recovery region's key"
    );
    let tags: Vec<(String, String)> = copy
        .tag_list()
        .iter()
        .map(|t| (t.key().unwrap().to_owned(), t.value().unwrap().to_owned()))
        .collect();
    assert!(
        tags.iter()
            .any(|(k, v)| k == "opsctl:copied-from" && v.ends_with(&format!("snapshot:{id}"))),
        "{tags:?}"
    );

    // The copies there, and status's recovery position.
    let listed = account.opsctl(&["--output", "json", "db", "snapshots", "prod", "--dr"]);
    listed.expect_code(0);
    let rows = listed.json()["snapshots"].clone();
    assert_eq!(rows[0]["id"], id.as_str(), "{rows}");
    assert!(rows[0]["copied_from"].as_str().is_some(), "{rows}");
    // The global --region lists what any region holds: here the same copy.
    let there = account.opsctl(&[
        "--output",
        "json",
        "--region",
        DR_REGION,
        "db",
        "snapshots",
        "prod",
    ]);
    there.expect_code(0);
    assert_eq!(there.json()["region"], DR_REGION);
    assert_eq!(there.json()["snapshots"][0]["id"], id.as_str());
    let status = account.opsctl(&["--output", "json", "status", "prod"]);
    status.expect_code(0);
    let region = &status.json()["database"]["recovery_region"];
    assert_eq!(region["region"], "us-west-2");
    assert_eq!(region["newest_copy"], id.as_str(), "{region}");
    assert_eq!(region["within_rpo"], true, "{region}");
    let text = account.opsctl(&["status", "prod"]);
    assert!(
        text.stdout
            .contains(&format!("recovery region us-west-2: newest copy {id}")),
        "{}",
        text.stdout
    );

    // Restore the copy in us-west-2, into its subnet group.
    let restored = account.restore_in_dr(&id, "users-db-dr");
    restored.expect_code(0);
    let out = restored.json();
    assert_eq!(out["result"], "restored", "{out}");
    assert_eq!(out["region"], "us-west-2");
    let made = account
        .db_instance_in(DR_REGION, "users-db-dr")
        .await
        .expect("restored in us-west-2");
    assert_eq!(made.db_instance_status(), Some("available"));
    assert_eq!(
        made.db_subnet_group()
            .and_then(|g| g.db_subnet_group_name()),
        Some("users-db-dr-subnets")
    );
    assert_eq!(
        made.db_instance_class(),
        Some("db.t3.micro"),
        "the source's class"
    );
    assert!(
        made.db_instance_arn()
            .unwrap()
            .starts_with("arn:aws:rds:us-west-2:"),
        "{:?}",
        made.db_instance_arn()
    );
    assert!(
        account
            .db_instance_in("us-east-1", "users-db-dr")
            .await
            .is_none(),
        "nothing was restored in us-east-1"
    );

    // The env's region lost: its DescribeDBInstances gets no answer (every retry dropped).
    // The copy is restored with the snapshot's own settings, and the result says so.
    account.fault("rds:DescribeDBInstances", "drop", Some(4), 0);
    let lost = account.restore_in_dr(&id, "users-db-dr-2");
    account.clear_faults();
    lost.expect_code(1);
    let out = lost.json();
    assert_eq!(out["result"], "incomplete", "{out}");
    assert!(
        out["not_copied"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n == "multi_az"),
        "{out}"
    );
    assert!(
        out["reason"]
            .as_str()
            .unwrap()
            .contains("could not be read in its own region"),
        "{out}"
    );
    let made = account
        .db_instance_in(DR_REGION, "users-db-dr-2")
        .await
        .expect("restored in us-west-2");
    assert_eq!(made.db_instance_status(), Some("available"));
    assert_eq!(
        made.db_subnet_group()
            .and_then(|g| g.db_subnet_group_name()),
        Some("users-db-dr-subnets")
    );
}

#[tokio::test]
async fn retention_deletes_only_older_snapshots_opsctl_made() {
    let account = Account::seed();
    let home = aws_sdk_rds::Client::new(&account.sdk().await);
    // One made by hand, which retention never touches.
    home.create_db_snapshot()
        .db_instance_identifier("users-db")
        .db_snapshot_identifier("users-db-by-hand")
        .send()
        .await
        .unwrap();
    let config = std::env::temp_dir().join(format!("opsctl-keep-{}.toml", account.id));
    let text = support::repo_config().replace("keep_snapshots = 5", "keep_snapshots = 1");
    std::fs::write(&config, text).unwrap();

    let mut ids = Vec::new();
    for _ in 0..2 {
        let run = account.opsctl_with_config(
            &config,
            &[
                "--output", "json", "db", "snapshot", "prod", "--wait", "--yes",
            ],
        );
        run.expect_code(0);
        ids.push(run.json()["snapshot_id"].as_str().unwrap().to_owned());
        // Snapshot names hold the second they were taken.
        std::thread::sleep(std::time::Duration::from_millis(1100));
    }
    let manual = || async {
        let out = home
            .describe_db_snapshots()
            .db_instance_identifier("users-db")
            .snapshot_type("manual")
            .send()
            .await
            .unwrap();
        let mut ids: Vec<String> = out
            .db_snapshots()
            .iter()
            .filter_map(|s| s.db_snapshot_identifier().map(str::to_owned))
            .collect();
        ids.sort();
        ids
    };
    let mut expected = vec![ids[1].clone(), "users-db-by-hand".to_owned()];
    expected.sort();
    assert_eq!(
        manual().await,
        expected,
        "the first of ours went, by hand stayed"
    );

    // --prune --dry-run shows nothing more to go; without keep_snapshots it is refused.
    let plan = account.opsctl_with_config(
        &config,
        &[
            "--output",
            "json",
            "db",
            "snapshots",
            "prod",
            "--prune",
            "--dry-run",
        ],
    );
    plan.expect_code(0);
    assert_eq!(plan.json()["deleted"], serde_json::json!([]));
    assert_eq!(plan.json()["kept"], serde_json::json!([ids[1]]));
    let refused = account.opsctl(&["db", "snapshots", "staging", "--prune"]);
    refused.expect_code(2);
    assert!(
        refused.stderr.contains("keep_snapshots"),
        "{}",
        refused.stderr
    );
}

//! The real opsctl binary against the local AWS sandbox: disaster-recovery drills. What
//! opsctl did is read back through the SDK, independently of opsctl.

mod support;

use support::Account;

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

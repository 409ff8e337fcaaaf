//! The restore requests against the SDK's own model: every parameter of both restore calls is
//! either sent from the source's settings or named here as a deliberate exception, with why.

use std::collections::BTreeSet;

use aws_config::{BehaviorVersion, Region};

use super::*;
use crate::aws::fake::db::demo_settings;
use crate::aws::sdk::model::input_parameters;

/// The parameters of RestoreDBInstanceFromDBSnapshot and RestoreDBInstanceToPointInTime that
/// a restore does not send, and why. A parameter the SDK gains shows up as neither sent nor
/// listed, and the test fails until it is copied or added here.
const NOT_SENT: &[(&str, &str)] = &[
    (
        "db_capacity_reservation_identifier",
        "the source keeps running beside the restore and holds its reservation's capacity; \
         naming the reservation would fail a restore for want of it, so the copy runs on demand",
    ),
    (
        "use_latest_restorable_time",
        "the alternative to restore_time: one of the two names the point to restore",
    ),
    (
        "source_dbi_resource_id",
        "names the source another way; opsctl names it by identifier",
    ),
    (
        "source_db_instance_automated_backups_arn",
        "names the source another way (a deleted instance's retained backups)",
    ),
    (
        "db_cluster_snapshot_identifier",
        "restores a Multi-AZ DB cluster snapshot; an env's database is an instance",
    ),
    (
        "db_name",
        "the database comes with the snapshot; RDS takes DBName here only for Oracle and SQL Server",
    ),
    (
        "engine",
        "the snapshot's engine; set only to change an Oracle or SQL Server edition",
    ),
    (
        "tde_credential_arn",
        "Oracle and SQL Server transparent data encryption, with a key store password AWS never returns",
    ),
    ("tde_credential_password", "as tde_credential_arn"),
    (
        "domain",
        "Active Directory membership: the result names the source's directory and how to join",
    ),
    ("domain_fqdn", "as domain (self-managed Active Directory)"),
    ("domain_ou", "as domain (self-managed Active Directory)"),
    (
        "domain_auth_secret_arn",
        "as domain (self-managed Active Directory)",
    ),
    (
        "domain_dns_ips",
        "as domain (self-managed Active Directory)",
    ),
    (
        "domain_iam_role_name",
        "as domain (AWS Managed Microsoft AD)",
    ),
    (
        "processor_features",
        "Oracle only: the class's CPU options; other engines refuse it",
    ),
    ("use_default_processor_features", "as processor_features"),
    (
        "enable_customer_owned_ip",
        "RDS on Outposts, which an env's database is not",
    ),
    ("backup_target", "RDS on Outposts"),
    (
        "custom_iam_instance_profile",
        "RDS Custom, which an env's database is not",
    ),
    (
        "additional_storage_volumes",
        "Oracle and SQL Server additional storage volumes",
    ),
    (
        "tag_specifications",
        "tags for what the restore makes besides the instance; the instance's own go in tags",
    ),
];

/// The source of every test: no setting at its default, single-AZ (so the zone is sent) on
/// gp3 from 400 GB (so IOPS and throughput are sent).
fn full_source() -> RestoreSettings {
    let mut settings = demo_settings();
    settings.multi_az = false;
    settings.availability_zone = Some("us-east-1a".into());
    settings.storage_type = Some("gp3".into());
    settings.allocated_gb = 400;
    settings.iops = Some(12_000);
    settings.storage_throughput = Some(500);
    RestoreSettings {
        target: "users-db-restored".into(),
        settings,
        tags: BTreeMap::from([("app".to_owned(), "users".to_owned())]),
    }
}

fn client() -> aws_sdk_rds::Client {
    aws_sdk_rds::Client::from_conf(
        aws_sdk_rds::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .build(),
    )
}

fn unaccounted(call: &str, debug: &str) -> Vec<String> {
    let excepted: BTreeSet<&str> = NOT_SENT.iter().map(|(name, _)| *name).collect();
    let mut problems = Vec::new();
    let parameters = input_parameters(debug);
    assert!(parameters.len() > 40, "{call}: parsed {parameters:?}");
    for (name, set) in parameters {
        match (set, excepted.contains(name.as_str())) {
            (Some(false), false) => {
                problems.push(format!("{call}: {name} is neither sent nor in NOT_SENT"))
            }
            (Some(true), true) if name != "use_latest_restorable_time" => {
                problems.push(format!("{call}: {name} is sent and also in NOT_SENT"))
            }
            _ => {}
        }
    }
    problems
}

#[test]
fn every_parameter_of_both_restore_calls_is_sent_or_named_as_an_exception() {
    let source = full_source();
    let client = client();
    // The source is named as the adapter names it; the rest is `copy_settings`.
    let snapshot = client
        .restore_db_instance_from_db_snapshot()
        .db_snapshot_identifier("users-db-snap")
        .copy_settings(&source);
    let to_time = client
        .restore_db_instance_to_point_in_time()
        .source_db_instance_identifier("users-db")
        .restore_time(datetime(Timestamp::from_second(1_800_000_000).unwrap()))
        .copy_settings(&source);
    let mut problems = unaccounted(
        "RestoreDBInstanceFromDBSnapshot",
        &format!("{:#?}", snapshot.as_input()),
    );
    problems.extend(unaccounted(
        "RestoreDBInstanceToPointInTime",
        &format!("{:#?}", to_time.as_input()),
    ));
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // Every exception names a parameter one of the calls has, with a reason.
    let known: BTreeSet<String> = input_parameters(&format!("{:#?}", snapshot.as_input()))
        .into_iter()
        .chain(input_parameters(&format!("{:#?}", to_time.as_input())))
        .map(|(name, _)| name)
        .collect();
    for (name, why) in NOT_SENT {
        assert!(
            known.contains(*name),
            "NOT_SENT names {name}, which neither call has"
        );
        assert!(why.len() > 10, "{name} needs a reason");
    }
}

#[test]
fn what_no_restore_call_takes_goes_into_one_modify() {
    let source = full_source().settings;
    // What a restore leaves: RDS's defaults for what the call could not name.
    let restored = DbSettings {
        monitoring_interval: 0,
        monitoring_role: None,
        performance_insights: false,
        performance_insights_kms_key: None,
        performance_insights_retention_days: None,
        database_insights_mode: None,
        maintenance_window: Some("mon:00:00-mon:00:30".into()),
        max_allocated_gb: None,
        ..source.clone()
    };
    let later = source.later(&restored);
    assert_eq!(later.monitoring, Some((30, source.monitoring_role.clone())));
    assert_eq!(
        later.performance_insights,
        Some((true, Some("alias/users-db-pi".into()), Some(31)))
    );
    assert_eq!(
        later.maintenance_window.as_deref(),
        Some("sun:05:00-sun:05:30")
    );
    assert_eq!(later.max_allocated_gb, Some(500));
    assert_eq!(later.database_insights_mode.as_deref(), Some("standard"));
    // Once set, nothing is left and nothing differs.
    assert!(source.later(&source).is_empty());
    assert!(source.differences(&source).is_empty());
    assert_eq!(
        source.differences(&restored).len(),
        7,
        "{:?}",
        source.differences(&restored)
    );
}

"""RDS disaster recovery: cross-region snapshot copies, Multi-AZ failovers, the restorable
window of automated backups, and restores that keep every setting passed."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import Account, ctl, wait_until

DR_REGION = "us-west-2"
FAST_RDS = {"db_snapshot_copy_seconds": 1.0, "db_reboot_seconds": 0.3,
            "db_failover_seconds": 0.8, "db_restorable_lag_seconds": 0.5}


def client(account: Account, service: str, region: str) -> Any:
    session = boto3.session.Session(
        aws_access_key_id=account.seed["access_key_id"],
        aws_secret_access_key=account.seed["secret_access_key"],
        region_name=region,
    )
    return session.client(service, endpoint_url=account.url,
                          config=Config(retries={"total_max_attempts": 1}))


@pytest.fixture
def rds_account(account: Account) -> Account:
    account.configure(**FAST_RDS)
    return account


def code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return exc.value.response["Error"]["Code"]


def instance(rds: Any, name: str = "users-db") -> dict[str, Any]:
    return rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]


def snapshot(rds: Any, name: str) -> dict[str, Any]:
    return rds.describe_db_snapshots(DBSnapshotIdentifier=name)["DBSnapshots"][0]


# --- cross-region copies


def test_cross_region_copy_of_an_encrypted_snapshot_needs_a_key_of_the_target_region(rds_account: Account) -> None:
    rds = rds_account.client("rds")
    source = rds.create_db_snapshot(DBInstanceIdentifier="users-db",
                                    DBSnapshotIdentifier="users-db-manual",
                                    Tags=[{"Key": "made-by", "Value": "opsctl"}])["DBSnapshot"]
    assert source["Encrypted"]  # the seeded instance is encrypted
    dr = client(rds_account, "rds", DR_REGION)

    with pytest.raises(ClientError) as exc:
        dr.copy_db_snapshot(SourceDBSnapshotIdentifier=source["DBSnapshotArn"],
                            TargetDBSnapshotIdentifier="users-db-dr", SourceRegion="us-east-1")
    assert code(exc) == "InvalidParameterValue"
    assert "Must specify new KMS key for cross region encrypted snapshot copy" in str(exc.value)

    # A key of the source region is no good either.
    home_key = rds_account.client("kms").create_key()["KeyMetadata"]["Arn"]
    with pytest.raises(ClientError) as exc:
        dr.copy_db_snapshot(SourceDBSnapshotIdentifier=source["DBSnapshotArn"],
                            TargetDBSnapshotIdentifier="users-db-dr", KmsKeyId=home_key,
                            SourceRegion="us-east-1")
    assert code(exc) == "KMSKeyNotAccessibleFault"
    assert dr.describe_db_snapshots()["DBSnapshots"] == []

    key = client(rds_account, "kms", DR_REGION).create_key(Description="dr")["KeyMetadata"]["Arn"]
    copy = dr.copy_db_snapshot(SourceDBSnapshotIdentifier=source["DBSnapshotArn"],
                               TargetDBSnapshotIdentifier="users-db-dr", KmsKeyId=key,
                               CopyTags=True, SourceRegion="us-east-1")["DBSnapshot"]
    assert copy["Status"] == "creating"
    assert copy["PercentProgress"] < 100
    assert copy["DBSnapshotArn"].startswith(f"arn:aws:rds:{DR_REGION}:{rds_account.id}:snapshot:users-db-dr")
    assert copy["SourceRegion"] == "us-east-1"
    assert copy["SourceDBSnapshotIdentifier"] == source["DBSnapshotArn"]
    assert copy["KmsKeyId"] == key and copy["Encrypted"]
    assert copy["SnapshotType"] == "manual"
    tags = dr.list_tags_for_resource(ResourceName=copy["DBSnapshotArn"])["TagList"]
    assert {"Key": "made-by", "Value": "opsctl"} in tags

    # Restoring from it must wait until it is available.
    with pytest.raises(ClientError) as exc:
        dr.restore_db_instance_from_db_snapshot(DBInstanceIdentifier="users-db-dr",
                                                DBSnapshotIdentifier="users-db-dr")
    assert code(exc) == "InvalidDBSnapshotState"

    seen = [copy["PercentProgress"]]

    def done() -> bool:
        snap = snapshot(dr, "users-db-dr")
        seen.append(snap["PercentProgress"])
        return snap["Status"] == "available"

    wait_until(done, timeout=10, interval=0.1, what="the copy to be available")
    assert seen == sorted(seen) and seen[-1] == 100 and len(set(seen)) > 2, seen
    listed = dr.describe_db_snapshots(DBInstanceIdentifier="users-db")["DBSnapshots"]
    assert [s["DBSnapshotIdentifier"] for s in listed] == ["users-db-dr"]

    # The source is untouched, and the home region does not list the copy.
    after = snapshot(rds, "users-db-manual")
    assert after["Status"] == "available" and "SourceRegion" not in after
    assert after["KmsKeyId"] == source["KmsKeyId"]
    assert "users-db-dr" not in [s["DBSnapshotIdentifier"] for s in rds.describe_db_snapshots()["DBSnapshots"]]

    # The copy restores in the target region, into that region's network.
    ec2 = client(rds_account, "ec2", DR_REGION)
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.1.{i}.0/24",
                                 AvailabilityZone=f"{DR_REGION}{z}")["Subnet"]["SubnetId"]
               for i, z in ((1, "a"), (2, "b"))]
    dr.create_db_subnet_group(DBSubnetGroupName="users-dr", DBSubnetGroupDescription="dr",
                              SubnetIds=subnets)
    new = dr.restore_db_instance_from_db_snapshot(DBInstanceIdentifier="users-db-dr",
                                                  DBSnapshotIdentifier="users-db-dr",
                                                  DBSubnetGroupName="users-dr")["DBInstance"]
    assert new["AvailabilityZone"].startswith(DR_REGION)
    assert new["DBSubnetGroup"]["DBSubnetGroupName"] == "users-dr"
    assert new["KmsKeyId"] == key

    dr.delete_db_snapshot(DBSnapshotIdentifier="users-db-dr")
    assert dr.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"] == []


def test_cross_region_copy_of_an_unencrypted_snapshot_and_a_presigned_url(rds_account: Account) -> None:
    rds = rds_account.client("rds")
    rds.create_db_instance(DBInstanceIdentifier="plain-db", Engine="postgres", EngineVersion="15.7",
                           DBInstanceClass="db.t3.micro", AllocatedStorage=20,
                           MasterUsername="u", MasterUserPassword="sandbox-password",
                           DBSubnetGroupName="users-db-subnets")
    source = rds.create_db_snapshot(DBInstanceIdentifier="plain-db",
                                    DBSnapshotIdentifier="plain-snap")["DBSnapshot"]
    assert not source["Encrypted"]
    dr = client(rds_account, "rds", DR_REGION)
    rds_account.configure(db_snapshot_copy_seconds=0)
    copy = dr.copy_db_snapshot(SourceDBSnapshotIdentifier=source["DBSnapshotArn"],
                               TargetDBSnapshotIdentifier="plain-dr")["DBSnapshot"]
    assert copy["Status"] == "available" and copy["PercentProgress"] == 100
    assert not copy["Encrypted"]
    # A presigned URL (what boto3 makes of SourceRegion with a key) naming another region.
    url = ("https://rds.us-east-1.amazonaws.com/?Action=CopyDBSnapshot&DestinationRegion=eu-west-1"
           f"&SourceDBSnapshotIdentifier={source['DBSnapshotArn']}")
    with pytest.raises(ClientError) as exc:
        dr.copy_db_snapshot(SourceDBSnapshotIdentifier=source["DBSnapshotArn"],
                            TargetDBSnapshotIdentifier="plain-dr-2", PreSignedUrl=url)
    assert code(exc) == "InvalidParameterValue"
    with pytest.raises(ClientError) as exc:
        dr.copy_db_snapshot(SourceDBSnapshotIdentifier=source["DBSnapshotArn"].replace("plain-snap", "nope"),
                            TargetDBSnapshotIdentifier="plain-dr-3")
    assert code(exc) == "DBSnapshotNotFound"


# --- failover


def test_failover_is_refused_on_a_single_az_instance(rds_account: Account) -> None:
    rds = rds_account.client("rds")
    before = instance(rds)
    assert before["MultiAZ"] is False and "SecondaryAvailabilityZone" not in before
    with pytest.raises(ClientError) as exc:
        rds.reboot_db_instance(DBInstanceIdentifier="users-db", ForceFailover=True)
    assert code(exc) == "InvalidDBInstanceState"
    assert instance(rds)["DBInstanceStatus"] == "available"
    # A plain reboot works: rebooting, then available, with an event.
    assert rds.reboot_db_instance(DBInstanceIdentifier="users-db")["DBInstance"]["DBInstanceStatus"] == "rebooting"
    assert instance(rds)["DBInstanceStatus"] == "rebooting"
    with pytest.raises(ClientError) as exc:
        rds.reboot_db_instance(DBInstanceIdentifier="users-db")
    assert code(exc) == "InvalidDBInstanceState"
    wait_until(lambda: instance(rds)["DBInstanceStatus"] == "available", timeout=5,
               what="the reboot to end")
    assert instance(rds)["AvailabilityZone"] == before["AvailabilityZone"]
    messages = [e["Message"] for e in rds.describe_events(SourceIdentifier="users-db",
                                                          SourceType="db-instance")["Events"]]
    assert "DB instance restarted" in messages
    assert not [m for m in messages if "failover" in m]


def test_failover_of_a_multi_az_instance_swaps_the_zones(rds_account: Account) -> None:
    rds = rds_account.client("rds")
    rds.modify_db_instance(DBInstanceIdentifier="users-db", MultiAZ=True, ApplyImmediately=True)
    before = instance(rds)
    assert before["MultiAZ"] is True
    assert (before["AvailabilityZone"], before["SecondaryAvailabilityZone"]) == ("us-east-1a", "us-east-1b")

    started = datetime.now(timezone.utc)
    answer = rds.reboot_db_instance(DBInstanceIdentifier="users-db", ForceFailover=True)["DBInstance"]
    assert answer["DBInstanceStatus"] == "rebooting"
    wait_until(lambda: instance(rds)["DBInstanceStatus"] == "available", timeout=5,
               what="the failover to end")
    took = datetime.now(timezone.utc) - started
    assert took >= timedelta(seconds=0.7), took
    after = instance(rds)
    assert (after["AvailabilityZone"], after["SecondaryAvailabilityZone"]) == ("us-east-1b", "us-east-1a")

    events = rds.describe_events(SourceIdentifier="users-db", SourceType="db-instance")["Events"]
    messages = [e["Message"] for e in events]
    assert messages.index("Multi-AZ instance failover started") < messages.index(
        "Multi-AZ instance failover completed")
    done = next(e for e in events if e["Message"] == "Multi-AZ instance failover completed")
    begun = next(e for e in events if e["Message"] == "Multi-AZ instance failover started")
    assert done["EventCategories"] == ["failover"]
    assert done["Date"] - begun["Date"] >= timedelta(seconds=0.7)
    assert done["SourceArn"] == before["DBInstanceArn"]

    # And back.
    rds.reboot_db_instance(DBInstanceIdentifier="users-db", ForceFailover=True)
    wait_until(lambda: instance(rds)["DBInstanceStatus"] == "available", timeout=5,
               what="the second failover")
    assert instance(rds)["AvailabilityZone"] == "us-east-1a"


def test_seed_can_make_the_instance_multi_az(sandbox_url: str) -> None:
    status, body = ctl(sandbox_url, "/_sandbox/seed", {"multi_az": True})
    assert status == 200, body
    db = body["resources"]["db"]
    assert db["multi_az"] is True
    assert (db["availability_zone"], db["secondary_availability_zone"]) == ("us-east-1a", "us-east-1b")
    status, body = ctl(sandbox_url, "/_sandbox/seed", {"multi_az": "yes"})
    assert status == 400


def test_create_refuses_a_zone_for_multi_az(rds_account: Account) -> None:
    with pytest.raises(ClientError) as exc:
        rds_account.client("rds").create_db_instance(
            DBInstanceIdentifier="maz", Engine="postgres", DBInstanceClass="db.t3.micro",
            AllocatedStorage=20, MasterUsername="u", MasterUserPassword="sandbox-password",
            MultiAZ=True, AvailabilityZone="us-east-1a")
    assert code(exc) == "InvalidParameterCombination"


# --- the restorable window


def test_the_restorable_window_is_real(rds_account: Account) -> None:
    rds = rds_account.client("rds")
    # The window starts at the first automated backup, taken as the instance was created.
    first = rds.describe_db_snapshots(DBInstanceIdentifier="users-db", SnapshotType="automated")[
        "DBSnapshots"]
    created = min(s["SnapshotCreateTime"] for s in first)
    assert created >= instance(rds)["InstanceCreateTime"]
    assert instance(rds)["LatestRestorableTime"] >= created
    backups = rds.describe_db_instance_automated_backups(DBInstanceIdentifier="users-db")[
        "DBInstanceAutomatedBackups"]
    assert len(backups) == 1
    b = backups[0]
    assert b["Status"] == "active" and b["BackupRetentionPeriod"] == 7
    assert b["DBInstanceIdentifier"] == "users-db" and b["Region"] == "us-east-1"
    assert b["DbiResourceId"] == instance(rds)["DbiResourceId"]
    assert b["DBInstanceAutomatedBackupsArn"].startswith(
        f"arn:aws:rds:us-east-1:{rds_account.id}:auto-backup:ab-")
    assert b["RestoreWindow"]["EarliestTime"] == created
    first_latest = instance(rds)["LatestRestorableTime"]
    time.sleep(1.2)
    latest = instance(rds)["LatestRestorableTime"]
    assert latest > first_latest, (first_latest, latest)
    assert latest <= datetime.now(timezone.utc) - timedelta(seconds=0.4)
    window = rds.describe_db_instance_automated_backups(DBInstanceIdentifier="users-db")[
        "DBInstanceAutomatedBackups"][0]["RestoreWindow"]
    assert window["EarliestTime"] == created and window["LatestTime"] >= latest

    for outside in (created - timedelta(hours=1), datetime.now(timezone.utc) + timedelta(minutes=5)):
        with pytest.raises(ClientError) as exc:
            rds.restore_db_instance_to_point_in_time(SourceDBInstanceIdentifier="users-db",
                                                     TargetDBInstanceIdentifier="users-db-pitr",
                                                     RestoreTime=outside)
        assert code(exc) == "InvalidRestoreFault"
        assert "outside the restorable window of users-db" in str(exc.value)
    with pytest.raises(ClientError) as exc:
        rds.restore_db_instance_to_point_in_time(SourceDBInstanceIdentifier="users-db",
                                                 TargetDBInstanceIdentifier="users-db-pitr",
                                                 RestoreTime=latest, UseLatestRestorableTime=True)
    assert code(exc) == "InvalidParameterCombination"
    assert not rds.describe_db_instances(Filters=[{"Name": "db-instance-id", "Values": ["users-db-pitr"]}])["DBInstances"]

    within = created + (latest - created) / 2
    new = rds.restore_db_instance_to_point_in_time(SourceDBInstanceIdentifier="users-db",
                                                   TargetDBInstanceIdentifier="users-db-pitr",
                                                   RestoreTime=within)["DBInstance"]
    assert new["DBInstanceIdentifier"] == "users-db-pitr"
    assert "ReadReplicaSourceDBInstanceIdentifier" not in new
    assert new["DbiResourceId"] != b["DbiResourceId"]

    with pytest.raises(ClientError) as exc:
        rds.describe_db_instance_automated_backups(DBInstanceIdentifier="nope")
    assert code(exc) == "DBInstanceAutomatedBackupNotFound"


def test_no_retention_no_window_and_retained_backups(rds_account: Account) -> None:
    rds = rds_account.client("rds")
    common = dict(Engine="postgres", EngineVersion="15.7", DBInstanceClass="db.t3.micro",
                  AllocatedStorage=20, MasterUsername="u", MasterUserPassword="sandbox-password")
    rds.create_db_instance(DBInstanceIdentifier="nobackup", BackupRetentionPeriod=0, **common)
    assert "LatestRestorableTime" not in instance(rds, "nobackup")
    with pytest.raises(ClientError) as exc:
        rds.restore_db_instance_to_point_in_time(SourceDBInstanceIdentifier="nobackup",
                                                 TargetDBInstanceIdentifier="x",
                                                 UseLatestRestorableTime=True)
    assert code(exc) == "PointInTimeRestoreNotEnabled"

    rds.create_db_instance(DBInstanceIdentifier="gone", BackupRetentionPeriod=3, **common)
    resource_id = instance(rds, "gone")["DbiResourceId"]
    time.sleep(0.6)
    rds.delete_db_instance(DBInstanceIdentifier="gone", SkipFinalSnapshot=True,
                           DeleteAutomatedBackups=False)
    retained = rds.describe_db_instance_automated_backups(DbiResourceId=resource_id)[
        "DBInstanceAutomatedBackups"]
    assert [b["Status"] for b in retained] == ["retained"]
    frozen = retained[0]["RestoreWindow"]["LatestTime"]
    time.sleep(0.6)
    again = rds.describe_db_instance_automated_backups(DbiResourceId=resource_id)[
        "DBInstanceAutomatedBackups"][0]["RestoreWindow"]["LatestTime"]
    assert again == frozen
    new = rds.restore_db_instance_to_point_in_time(SourceDbiResourceId=resource_id,
                                                   TargetDBInstanceIdentifier="gone-restored",
                                                   UseLatestRestorableTime=True)["DBInstance"]
    assert new["BackupRetentionPeriod"] == 3


# --- restores keep every setting


SETTINGS = ("DBInstanceClass", "Engine", "EngineVersion", "StorageType", "AllocatedStorage",
            "Iops", "StorageThroughput", "MonitoringInterval", "MonitoringRoleArn",
            "PerformanceInsightsEnabled", "PerformanceInsightsRetentionPeriod",
            "IAMDatabaseAuthenticationEnabled", "EnabledCloudwatchLogsExports",
            "CACertificateIdentifier", "BackupRetentionPeriod", "PreferredBackupWindow",
            "PreferredMaintenanceWindow", "CopyTagsToSnapshot", "AutoMinorVersionUpgrade",
            "DeletionProtection", "MultiAZ", "PubliclyAccessible")


def settings(db: dict[str, Any]) -> dict[str, Any]:
    out = {k: db.get(k) for k in SETTINGS}
    out["OptionGroup"] = [g["OptionGroupName"] for g in db["OptionGroupMemberships"]]
    out["DBSubnetGroup"] = db["DBSubnetGroup"]["DBSubnetGroupName"]
    out["VpcSecurityGroups"] = [g["VpcSecurityGroupId"] for g in db["VpcSecurityGroups"]]
    out["DBParameterGroups"] = [g["DBParameterGroupName"] for g in db["DBParameterGroups"]]
    out["Port"] = db["Endpoint"]["Port"]
    return out


def test_modify_then_restore_keeps_every_setting(rds_account: Account) -> None:
    rds = rds_account.client("rds")
    role = rds_account.client("iam").create_role(
        RoleName="rds-monitoring", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    rds.create_option_group(OptionGroupName="users-og15", EngineName="postgres",
                            MajorEngineVersion="15", OptionGroupDescription="users")
    rds.modify_db_instance(
        DBInstanceIdentifier="users-db", ApplyImmediately=True, OptionGroupName="users-og15",
        StorageThroughput=250, Iops=4000, MonitoringInterval=30, MonitoringRoleArn=role,
        EnablePerformanceInsights=True, PerformanceInsightsRetentionPeriod=31,
        EnableIAMDatabaseAuthentication=True,
        CloudwatchLogsExportConfiguration={"EnableLogTypes": ["postgresql", "upgrade"]},
        CACertificateIdentifier="rds-ca-rsa2048-g1", BackupRetentionPeriod=14,
        PreferredBackupWindow="03:00-03:30", PreferredMaintenanceWindow="sun:05:00-sun:05:30",
        CopyTagsToSnapshot=True, AutoMinorVersionUpgrade=False, MultiAZ=True)
    source = instance(rds)
    want = settings(source)
    assert want["OptionGroup"] == ["users-og15"]
    assert want["PerformanceInsightsEnabled"] is True
    assert want["PerformanceInsightsRetentionPeriod"] == 31
    assert want["EnabledCloudwatchLogsExports"] == ["postgresql", "upgrade"]
    assert want["MultiAZ"] is True and source["SecondaryAvailabilityZone"] == "us-east-1b"
    rds.create_db_snapshot(DBInstanceIdentifier="users-db", DBSnapshotIdentifier="before-restore")

    # Every setting the restore calls take, passed as the source has it.
    passed = dict(
        DBInstanceClass=source["DBInstanceClass"], DBSubnetGroupName="users-db-subnets",
        VpcSecurityGroupIds=want["VpcSecurityGroups"], DBParameterGroupName="users-pg15",
        MultiAZ=True, Port=5432, PubliclyAccessible=False, AutoMinorVersionUpgrade=False,
        Iops=4000, StorageThroughput=250, StorageType="gp3", OptionGroupName="users-og15",
        CopyTagsToSnapshot=True, EnableIAMDatabaseAuthentication=True,
        EnableCloudwatchLogsExports=["postgresql", "upgrade"], DeletionProtection=True,
        BackupRetentionPeriod=14, PreferredBackupWindow="03:00-03:30",
        CACertificateIdentifier="rds-ca-rsa2048-g1")
    restored = {}
    rds.restore_db_instance_from_db_snapshot(DBInstanceIdentifier="from-snapshot",
                                             DBSnapshotIdentifier="before-restore", **passed)
    rds.restore_db_instance_to_point_in_time(SourceDBInstanceIdentifier="users-db",
                                             TargetDBInstanceIdentifier="to-point",
                                             UseLatestRestorableTime=True, **passed)
    # What the restore calls do not take, by one ModifyDBInstance, as opsctl does.
    for name in ("from-snapshot", "to-point"):
        rds.modify_db_instance(DBInstanceIdentifier=name, ApplyImmediately=True,
                               MonitoringInterval=30, MonitoringRoleArn=role,
                               EnablePerformanceInsights=True,
                               PerformanceInsightsRetentionPeriod=31,
                               PreferredMaintenanceWindow="sun:05:00-sun:05:30")
        restored[name] = settings(instance(rds, name))
    for name, got in restored.items():
        diff = {k: (want[k], got[k]) for k in want if want[k] != got[k]}
        assert not diff, (name, diff)


def test_restore_keeps_settings_passed_as_false_or_zero(rds_account: Account) -> None:
    rds = rds_account.client("rds")
    rds.modify_db_instance(DBInstanceIdentifier="users-db", CopyTagsToSnapshot=True,
                           AutoMinorVersionUpgrade=True, PubliclyAccessible=True,
                           EnableIAMDatabaseAuthentication=True, ApplyImmediately=True)
    rds.create_db_snapshot(DBInstanceIdentifier="users-db", DBSnapshotIdentifier="s")
    falsy = dict(CopyTagsToSnapshot=False, AutoMinorVersionUpgrade=False, PubliclyAccessible=False,
                 DeletionProtection=False, EnableIAMDatabaseAuthentication=False, MultiAZ=False)
    rds.restore_db_instance_from_db_snapshot(DBInstanceIdentifier="r1", DBSnapshotIdentifier="s", **falsy)
    rds.restore_db_instance_to_point_in_time(SourceDBInstanceIdentifier="users-db",
                                             TargetDBInstanceIdentifier="r2",
                                             UseLatestRestorableTime=True, **falsy)
    for name in ("r1", "r2"):
        db = instance(rds, name)
        assert db["CopyTagsToSnapshot"] is False
        assert db["AutoMinorVersionUpgrade"] is False
        assert db["PubliclyAccessible"] is False
        assert db["DeletionProtection"] is False
        assert db["IAMDatabaseAuthenticationEnabled"] is False
        rds.delete_db_instance(DBInstanceIdentifier=name, SkipFinalSnapshot=True)


def test_create_keeps_performance_insights_and_the_secondary_zone(rds_account: Account) -> None:
    rds = rds_account.client("rds")
    key = rds_account.client("kms").create_key()["KeyMetadata"]["Arn"]
    db = rds.create_db_instance(
        DBInstanceIdentifier="pi-db", Engine="postgres", EngineVersion="15.7",
        DBInstanceClass="db.t3.micro", AllocatedStorage=20, MasterUsername="u",
        MasterUserPassword="sandbox-password", DBSubnetGroupName="users-db-subnets",
        MultiAZ=True, EnablePerformanceInsights=True, PerformanceInsightsKMSKeyId=key,
        PerformanceInsightsRetentionPeriod=93)["DBInstance"]
    assert db["PerformanceInsightsEnabled"] is True
    assert db["PerformanceInsightsKMSKeyId"] == key
    assert db["PerformanceInsightsRetentionPeriod"] == 93
    assert db["SecondaryAvailabilityZone"] == "us-east-1b"
    assert db["DbiResourceId"] != instance(rds)["DbiResourceId"]
    rds.modify_db_instance(DBInstanceIdentifier="pi-db", EnablePerformanceInsights=False,
                           MultiAZ=False, ApplyImmediately=True)
    after = instance(rds, "pi-db")
    assert after["PerformanceInsightsEnabled"] is False
    assert "SecondaryAvailabilityZone" not in after


def test_a_restore_that_names_nothing_gets_rds_defaults_not_the_source_settings(rds_account: Account) -> None:
    rds = rds_account.client("rds")
    role = rds_account.client("iam").create_role(
        RoleName="rds-monitoring", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    rds.modify_db_instance(
        DBInstanceIdentifier="users-db", ApplyImmediately=True, MonitoringInterval=30,
        MonitoringRoleArn=role, EnablePerformanceInsights=True,
        EnableIAMDatabaseAuthentication=True,
        CloudwatchLogsExportConfiguration={"EnableLogTypes": ["postgresql"]},
        CACertificateIdentifier="rds-ca-ecc384-g1", PreferredBackupWindow="03:00-03:30",
        PreferredMaintenanceWindow="sun:05:00-sun:05:30", CopyTagsToSnapshot=True,
        AutoMinorVersionUpgrade=False, MaxAllocatedStorage=200)
    rds.create_db_snapshot(DBInstanceIdentifier="users-db", DBSnapshotIdentifier="plain")
    rds.restore_db_instance_from_db_snapshot(DBInstanceIdentifier="bare-snapshot",
                                             DBSnapshotIdentifier="plain")
    rds.restore_db_instance_to_point_in_time(SourceDBInstanceIdentifier="users-db",
                                             TargetDBInstanceIdentifier="bare-point",
                                             UseLatestRestorableTime=True)
    for name in ("bare-snapshot", "bare-point"):
        got = instance(rds, name)
        assert got["MonitoringInterval"] == 0, name
        assert got["PerformanceInsightsEnabled"] is False, name
        assert got["IAMDatabaseAuthenticationEnabled"] is False, name
        assert got.get("EnabledCloudwatchLogsExports", []) == [], name
        assert got["CACertificateIdentifier"] == "rds-ca-rsa2048-g1", name
        assert got["PreferredBackupWindow"] != "03:00-03:30", name
        assert got["PreferredMaintenanceWindow"] != "sun:05:00-sun:05:30", name
        assert got["CopyTagsToSnapshot"] is False, name
        assert got["AutoMinorVersionUpgrade"] is True, name
        assert got["DeletionProtection"] is False, name
        assert got["DBParameterGroups"][0]["DBParameterGroupName"] != "users-pg15", name
        assert got.get("MaxAllocatedStorage") in (None, got["AllocatedStorage"]), name

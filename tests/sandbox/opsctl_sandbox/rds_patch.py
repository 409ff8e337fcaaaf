"""The moto side of `rds_dr`: the only module that patches moto's RDS (and nothing else does).

* CopyDBSnapshot across regions (called in the target region with the source's ARN): the
  copy is `creating` with PercentProgress rising for `db_snapshot_copy_seconds`, then
  `available`; an encrypted source needs a KmsKeyId of the target region
  (InvalidParameterValue, as RDS answers); `SourceRegion` / `SourceDBSnapshotIdentifier` are
  set on a cross-region copy; a presigned URL, when sent, must name this region.
* RebootDBInstance: `rebooting` for `db_reboot_seconds` (`db_failover_seconds` with
  ForceFailover), then `available`; ForceFailover on a single-AZ instance is refused
  (InvalidDBInstanceState); a failover swaps AvailabilityZone and SecondaryAvailabilityZone and
  records "Multi-AZ instance failover started" / "... completed" events.
* Automated backups: DescribeDBInstanceAutomatedBackups with a real RestoreWindow,
  LatestRestorableTime advancing with time, RestoreDBInstanceToPointInTime refusing a time
  outside the window, retained backups of instances deleted with DeleteAutomatedBackups=false.
* Settings moto dropped: Performance Insights, SecondaryAvailabilityZone, a unique
  DbiResourceId, an option group set by ModifyDBInstance surviving a restore, restore
  parameters passed as false / 0, postgres option groups past version 13.
"""

from __future__ import annotations

import copy
import random
import string
import time
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs, urlparse

from moto.rds.exceptions import DBInstanceNotFoundError, RDSClientError
from moto.rds.models import DBInstance, DBSnapshot, Event, RDSBackend
from moto.rds.responses import RDSResponse

from . import config, rds_dr

_ORIG: dict[str, Any] = {}


def _now() -> float:
    return time.time()


def _cfg(backend: RDSBackend, key: str) -> float:
    return float(config.get(backend.account_id)[key])


def _event(backend: RDSBackend, resource: Any, kind: str, when: float, **fmt: str) -> None:
    categories, message = rds_dr.EVENTS[kind]
    ev = Event.__new__(Event)
    ev.source_identifier = resource.resource_id
    ev.source_type = resource.event_source_type
    ev.message = message.format(**fmt)
    ev.event_categories = list(categories)
    ev.source_arn = resource.arn
    ev.date = rds_dr.utc(when)
    backend.events.append(ev)


# --- bringing an account's region up to date


def advance(backend: RDSBackend) -> None:
    now = _now()
    st = rds_dr.state(backend.account_id, backend.region_name)
    for snap_id, cp in list(st.copies.items()):
        snap = backend.database_snapshots.get(snap_id)
        if snap is None:  # deleted while it was copied: the copy is cancelled
            del st.copies[snap_id]
            continue
        snap.percent_progress = cp.percent(now)
        snap.status = cp.status(now)
        if snap.status == "available":
            del st.copies[snap_id]
            _event(backend, snap, "DB_SNAPSHOT_COPY_FINISH", cp.done_at,
                   source=cp.source_arn, region=cp.source_region)
    for rb in rds_dr.due_reboots(st, now):
        db = backend.databases.get(rb.instance)
        if db is None:
            continue
        if rb.failover:
            old, new = db.availability_zone, db.secondary_availability_zone
            if new:
                db.availability_zone = new
                db._sandbox_secondary_az = old
        if db.status == "rebooting":
            db.status = "available"
        _event(backend, db, "DB_INSTANCE_RESTART", rb.done_at)
        if rb.failover:
            _event(backend, db, "DB_INSTANCE_FAILOVER_FINISH", rb.done_at)


def _call_action(self: Any) -> Any:
    if isinstance(self, RDSResponse):
        try:
            backend = self.backend
        except Exception:  # an unknown region or account: moto answers
            backend = None
        if backend is not None:
            advance(backend)
    return _ORIG["call_action"](self)


# --- instances: attributes moto lacks


def _random_resource_id() -> str:
    return "db-" + "".join(random.choices(string.ascii_uppercase + string.digits, k=26))


def _init(self: DBInstance, *args: Any, **kwargs: Any) -> None:
    _ORIG["init"](self, *args, **kwargs)
    self.dbi_resource_id = _random_resource_id()  # moto gives every instance the same one
    if self.publicly_accessible is None:  # RDS answers a boolean; private unless asked
        self.publicly_accessible = False
    # Settings moto's instances do not keep, with RDS's defaults.
    self.network_type = kwargs.get("network_type") or "IPV4"
    self.dedicated_log_volume = bool(kwargs.get("dedicated_log_volume"))
    self.engine_lifecycle_support = (kwargs.get("engine_lifecycle_support")
                                     or "open-source-rds-extended-support")
    if kwargs.get("database_insights_mode"):
        self.database_insights_mode = kwargs["database_insights_mode"]
    enabled = kwargs.get("enable_performance_insights")
    if enabled is None:
        enabled = kwargs.get("performance_insights_enabled")
    self.enable_performance_insights = bool(enabled)
    self.performance_insights_kms_key_id = kwargs.get("performance_insights_kms_key_id")
    self.performance_insights_retention_period = kwargs.get("performance_insights_retention_period")
    if self.performance_insights_enabled and not self.performance_insights_retention_period:
        self.performance_insights_retention_period = 7


def _get_pi(self: DBInstance) -> bool:
    return bool(self.__dict__.get("performance_insights_enabled", False))


def _set_pi(self: DBInstance, value: Any) -> None:
    self.__dict__["performance_insights_enabled"] = bool(value)
    if value and not self.__dict__.get("performance_insights_retention_period"):
        self.__dict__["performance_insights_retention_period"] = 7


def _subnet_zones(db: DBInstance) -> list[str]:
    group = getattr(db, "db_subnet_group", None)
    if group is None:
        return []
    return sorted({s["SubnetAvailabilityZone"]["Name"] for s in group.subnets})


def _secondary_az(self: DBInstance) -> str | None:
    if not self.multi_az or getattr(self, "db_cluster_identifier", None):
        return None
    primary = self.availability_zone
    kept = self.__dict__.get("_sandbox_secondary_az")
    if kept and kept != primary:
        return kept
    for zone in _subnet_zones(self):
        if zone != primary:
            return zone
    return f"{self.region}{'a' if primary.endswith('b') else 'b'}"


def _latest_restorable_time(self: DBInstance) -> datetime | None:
    if getattr(self, "db_cluster_identifier", None):
        return datetime.now(timezone.utc).replace(tzinfo=None)
    window = _window(self, None)
    return window.latest if window else None


def _first_backup(db: DBInstance) -> datetime:
    """When the instance's first automated backup was taken (moto takes it at creation, a
    moment after the instance's own creation time), else its creation."""
    times = [snap.created for snap in db.backend.database_snapshots.values()
             if snap.snapshot_type == "automated"
             and snap.db_instance_identifier == db.db_instance_identifier
             and snap.created >= db.created]
    return min(times, default=db.created)


def _window(db: DBInstance, ended: float | None) -> rds_dr.Window | None:
    lag = float(config.get(db.account_id)["db_restorable_lag_seconds"])
    return rds_dr.restore_window(_first_backup(db), int(db.backup_retention_period or 0), _now(),
                                 lag, ended)


def _check_state(db: DBInstance, what: str) -> None:
    if db.status != "available":
        raise RDSClientError(
            "InvalidDBInstanceState",
            f"Instance {db.db_instance_identifier} is not in available state (it is {db.status}); "
            f"cannot {what}.")


# --- CreateDBInstance, ModifyDBInstance


def _resp_create_db_instance(self: RDSResponse) -> Any:
    if self.params.get("MultiAZ") and self.params.get("AvailabilityZone"):
        raise RDSClientError("InvalidParameterCombination",
                             "Requesting a specific availability zone is not valid for Multi-AZ instances.")
    return _ORIG["resp.create_db_instance"](self)


def _modify_db_instance(self: RDSBackend, db_instance_identifier: str,
                        db_kwargs: dict[str, Any]) -> DBInstance:
    db = self.describe_db_instances(db_instance_identifier)[0]
    if db.status == "rebooting":
        _check_state(db, "modify it")
    database = _ORIG["modify_db_instance"](self, db_instance_identifier, db_kwargs)
    if db_kwargs.get("option_group_name"):
        database.option_group_supplied = True
    if db_kwargs.get("multi_az") is False:
        database.__dict__.pop("_sandbox_secondary_az", None)
    return database


# --- RebootDBInstance


def _resp_reboot_db_instance(self: RDSResponse) -> Any:
    from moto.core.responses import ActionResult

    database = self.backend.reboot_db_instance(self.params.get("DBInstanceIdentifier"),
                                               bool(self.params.get("ForceFailover")))
    return ActionResult({"DBInstance": database})


def _reboot_db_instance(self: RDSBackend, db_instance_identifier: str,
                        force_failover: bool = False) -> DBInstance:
    db = self.describe_db_instances(db_instance_identifier)[0]
    _check_state(db, "reboot it")
    if force_failover and not db.multi_az:
        raise RDSClientError(
            "InvalidDBInstanceState",
            f"Cannot reboot DB instance {db.db_instance_identifier} with a forced failover: "
            "it is not a Multi-AZ instance.")
    now = _now()
    key = "db_failover_seconds" if force_failover else "db_reboot_seconds"
    st = rds_dr.state(self.account_id, self.region_name)
    st.reboots[db.db_instance_identifier] = rds_dr.Reboot(
        db.db_instance_identifier, now, _cfg(self, key), force_failover)
    db.status = "rebooting"
    _event(self, db, "DB_INSTANCE_SHUTDOWN", now)
    if force_failover:
        _event(self, db, "DB_INSTANCE_FAILOVER_START", now)
    return db


# --- snapshots


def _copy_db_snapshot(self: RDSBackend, source_db_snapshot_identifier: str,
                      target_db_snapshot_identifier: str, kms_key_id: str | None = None,
                      tags: list[dict[str, str]] | None = None, copy_tags: bool | None = False,
                      **kw: Any) -> DBSnapshot:
    src_id = source_db_snapshot_identifier
    src_region = self.region_name
    if src_id.startswith("arn:"):
        parts = src_id.split(":")
        if len(parts) < 7 or parts[2] != "rds" or parts[5] != "snapshot":
            raise RDSClientError(
                "InvalidParameterValue",
                f"The parameter SourceDBSnapshotIdentifier is not a valid DB snapshot ARN: {src_id}")
        src_region = parts[3]
    source = self.get_db_snapshot(src_id)
    if source.status != "available":
        raise RDSClientError(
            "InvalidDBSnapshotState",
            f"Snapshot {source.db_snapshot_identifier} is not in available state (it is {source.status}).")
    cross = src_region != self.region_name
    if cross and source.encrypted and not kms_key_id:
        raise RDSClientError("InvalidParameterValue",
                             "Must specify new KMS key for cross region encrypted snapshot copy.")
    presigned = kw.get("pre_signed_url")
    if presigned:
        query = {k: v[-1] for k, v in parse_qs(urlparse(presigned).query).items()}
        if (query.get("DestinationRegion") != self.region_name
                or query.get("SourceDBSnapshotIdentifier", src_id) != src_id):
            raise RDSClientError("InvalidParameterValue", "PreSignedUrl could not be authenticated.")
    snap = _ORIG["copy_db_snapshot"](self, src_id, target_db_snapshot_identifier,
                                     kms_key_id=kms_key_id, tags=tags, copy_tags=copy_tags)
    if cross:
        snap.source_region = src_region
        snap.source_db_snapshot_identifier = source.arn
    seconds = _cfg(self, "db_snapshot_copy_seconds")
    now = _now()
    cp = rds_dr.Copy(now, seconds, source.arn, src_region)
    snap.percent_progress = cp.percent(now)
    snap.status = cp.status(now)
    if snap.status != "available":
        rds_dr.state(self.account_id, self.region_name).copies[snap.db_snapshot_identifier] = cp
    _event(self, snap, "DB_SNAPSHOT_COPY_START", now, source=source.arn, region=src_region)
    if snap.status == "available":
        _event(self, snap, "DB_SNAPSHOT_COPY_FINISH", now, source=source.arn, region=src_region)
    return snap


# --- restores

# Restore parameters moto ignores when false or 0 ("if value:"): the parameter's key and the
# instance attribute it sets.
_FALSY_OVERRIDES = {
    "copy_tags_to_snapshot": "copy_tags_to_snapshot",
    "deletion_protection": "deletion_protection",
    "multi_az": "multi_az",
    "publicly_accessible": "publicly_accessible",
    "backup_retention_period": "backup_retention_period",
    "auto_minor_version_upgrade": "auto_minor_version_upgrade",
    "enable_iam_database_authentication": "enable_iam_database_authentication",
    "enable_cloudwatch_logs_exports": "enabled_cloudwatch_logs_exports",
}


def _apply_falsy(db: DBInstance, overrides: Any) -> None:
    for key, attr in _FALSY_OVERRIDES.items():
        value = overrides.get(key)
        if value is not None and not value:
            setattr(db, attr, [] if isinstance(value, list) else value)


# What RDS gives a restored instance where the restore call does not name it (the API
# reference of both restore calls): moto copies the source's value instead, which would hide
# a restore that forgets a setting. The parameter's key, the attribute, RDS's default.
_RESTORE_DEFAULTS = [
    ("multi_az", "multi_az", False),
    ("publicly_accessible", "publicly_accessible", False),
    ("auto_minor_version_upgrade", "auto_minor_version_upgrade", True),
    ("copy_tags_to_snapshot", "copy_tags_to_snapshot", False),
    ("enable_iam_database_authentication", "enable_iam_database_authentication", False),
    ("enable_cloudwatch_logs_exports", "enabled_cloudwatch_logs_exports", []),
    ("deletion_protection", "deletion_protection", False),
    ("ca_certificate_identifier", "ca_certificate_identifier", "rds-ca-rsa2048-g1"),
    ("preferred_backup_window", "preferred_backup_window", "06:00-06:30"),
    ("network_type", "network_type", "IPV4"),
    ("dedicated_log_volume", "dedicated_log_volume", False),
    ("engine_lifecycle_support", "engine_lifecycle_support", "open-source-rds-extended-support"),
]

# What no restore call takes (ModifyDBInstance sets it afterwards): RDS's defaults.
_NEVER_RESTORED = [
    ("monitoring_interval", 0),
    ("monitoring_role_arn", None),
    ("performance_insights_kms_key_id", None),
    ("performance_insights_retention_period", None),
    ("database_insights_mode", None),
    ("preferred_maintenance_window", "mon:00:00-mon:00:30"),
]


def _restore_defaults(db: DBInstance, overrides: Any) -> None:
    for key, attr, default in _RESTORE_DEFAULTS:
        if overrides.get(key) is None:
            setattr(db, attr, list(default) if isinstance(default, list) else default)
    for attr, default in _NEVER_RESTORED:
        setattr(db, attr, default)
    _set_pi(db, False)
    if not overrides.get("manage_master_user_password"):
        db.manage_master_user_password = False
        db.__dict__.pop("master_user_secret", None)
    if overrides.get("multi_az") is None:
        db.__dict__.pop("_sandbox_secondary_az", None)


def _restore_from_snapshot(self: RDSBackend, from_snapshot_id: str,
                           overrides: dict[str, Any]) -> DBInstance:
    snap = self.get_db_snapshot(from_snapshot_id) if from_snapshot_id else None
    if snap is not None and snap.status != "available":
        raise RDSClientError(
            "InvalidDBSnapshotState",
            f"Snapshot {snap.db_snapshot_identifier} is not in available state (it is {snap.status}).")
    original = None
    if snap is not None and snap.database.region != self.region_name:
        # A copy from another region: its instance's zone and subnet group are not here.
        original = snap.database
        moved = copy.copy(original)
        moved.__dict__["availability_zone"] = f"{self.region_name}a"
        moved.__dict__["_db_subnet_group_name"] = None
        moved.__dict__.pop("db_subnet_group", None)
        moved.__dict__.pop("_sandbox_secondary_az", None)
        snap.database = moved
    try:
        db = _ORIG["restore_db_instance_from_db_snapshot"](self, from_snapshot_id, overrides)
    finally:
        if original is not None:
            snap.database = original
    _apply_falsy(db, overrides)
    _restore_defaults(db, overrides)
    return db


def _parse_time(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).replace(tzinfo=None) if value.tzinfo else value
    text = str(value).strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = datetime.fromtimestamp(float(text), timezone.utc)
        except ValueError:
            raise RDSClientError("InvalidParameterValue", f"Invalid RestoreTime: {text}")
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
    return parsed


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _find_source(self: RDSBackend, source_id: str | None,
                 overrides: Any) -> tuple[DBInstance, float | None]:
    if source_id:
        return self.describe_db_instances(source_id)[0], None
    resource_id = overrides.get("source_dbi_resource_id")
    arn = overrides.get("source_db_instance_automated_backups_arn")
    if not resource_id and not arn:
        raise RDSClientError(
            "InvalidParameterCombination",
            "One of SourceDBInstanceIdentifier, SourceDbiResourceId or "
            "SourceDBInstanceAutomatedBackupsArn is required.")
    for db in self.databases.values():
        if resource_id == db.dbi_resource_id or arn == _backup_arn(db):
            return db, None
    for rid, (db, ended) in rds_dr.state(self.account_id, self.region_name).retained.items():
        if resource_id == rid or arn == _backup_arn(db):
            return db, ended
    raise RDSClientError("DBInstanceAutomatedBackupNotFound",
                         f"No automated backup found for {resource_id or arn}.")


def _restore_to_point_in_time(self: RDSBackend, source_db_identifier: str | None,
                              target_db_identifier: str, overrides: dict[str, Any]) -> DBInstance:
    source, ended = _find_source(self, source_db_identifier, overrides)
    restore_time = overrides.get("restore_time")
    use_latest = overrides.get("use_latest_restorable_time")
    if restore_time and use_latest:
        raise RDSClientError("InvalidParameterCombination",
                             "Cannot specify both RestoreTime and UseLatestRestorableTime.")
    window = _window(source, ended)
    if window is None:
        raise RDSClientError(
            "PointInTimeRestoreNotEnabled",
            f"Point-in-time restore is not enabled for {source.db_instance_identifier}: its "
            "BackupRetentionPeriod is 0.")
    if restore_time:
        when = _parse_time(restore_time)
        if not window.contains(when):
            raise RDSClientError(
                "InvalidRestoreFault",
                f"Restore time {_iso(when)} is outside the restorable window of "
                f"{source.db_instance_identifier}: earliest {_iso(window.earliest)}, latest "
                f"{_iso(window.latest)}.")
    live = ended is None
    if not live and source.db_instance_identifier in self.databases:
        raise RDSClientError("InvalidParameterValue",
                             f"An instance named {source.db_instance_identifier} exists again; "
                             "restore its retained backup by SourceDBInstanceIdentifier.")
    # moto copies the source's parameter group and security groups; RDS gives a restore the
    # defaults unless the call names them. The copy it reads lacks them.
    seen = copy.copy(source)
    for key in ("db_parameter_group_name", "_db_parameter_group_name",
                "vpc_security_group_ids", "_vpc_security_group_ids"):
        seen.__dict__.pop(key, None)
    self.databases[source.db_instance_identifier] = seen
    try:
        db = _ORIG["restore_db_instance_to_point_in_time"](
            self, source.db_instance_identifier, target_db_identifier, overrides)
    finally:
        if live:
            self.databases[source.db_instance_identifier] = source
        else:
            self.databases.pop(source.db_instance_identifier, None)
    db.source_db_instance_identifier = None  # moto took the restore's source for a replica's
    _apply_falsy(db, overrides)
    _restore_defaults(db, overrides)
    return db


# --- automated backups


def _backup_arn(db: DBInstance) -> str:
    return (f"arn:{db.partition}:rds:{db.region}:{db.account_id}:auto-backup:"
            f"ab-{db.dbi_resource_id[3:].lower()}")


class _RestoreWindow:
    def __init__(self, window: rds_dr.Window):
        self.earliest_time = window.earliest
        self.latest_time = window.latest


class AutomatedBackup:
    """DescribeDBInstanceAutomatedBackups' DBInstanceAutomatedBackup, from an instance."""

    def __init__(self, db: DBInstance, window: rds_dr.Window, retained: bool):
        self.db_instance_arn = db.arn
        self.dbi_resource_id = db.dbi_resource_id
        self.region = db.region
        self.db_instance_identifier = db.db_instance_identifier
        self.restore_window = _RestoreWindow(window)
        self.allocated_storage = db.allocated_storage
        self.status = "retained" if retained else "active"
        self.port = db.port
        self.availability_zone = db.availability_zone
        group = getattr(db, "db_subnet_group", None)
        self.vpc_id = getattr(group, "vpc_id", None)
        self.instance_create_time = db.created
        self.master_username = db.master_username
        self.engine = db.engine
        self.engine_version = db.engine_version
        self.license_model = db.license_model
        self.iops = db.iops
        self.storage_throughput = db.storage_throughput
        self.option_group_name = db.option_group_name
        self.encrypted = bool(db.storage_encrypted)
        self.storage_type = db.storage_type
        self.kms_key_id = db.kms_key_id
        self.iam_database_authentication_enabled = bool(db.enable_iam_database_authentication)
        self.backup_retention_period = db.backup_retention_period
        self.preferred_backup_window = db.preferred_backup_window
        self.db_instance_automated_backups_arn = _backup_arn(db)
        self.backup_target = "region"


def _filters(raw: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for f in raw or []:
        name = f.get("Name") or f.get("name")
        values = f.get("Values") or f.get("values") or []
        if name:
            out.setdefault(name, []).extend(values)
    return out


def _describe_automated_backups(self: RDSBackend, db_instance_identifier: str | None = None,
                                dbi_resource_id: str | None = None,
                                db_instance_automated_backups_arn: str | None = None,
                                filters: Any = None, **_: Any) -> list[AutomatedBackup]:
    items: list[AutomatedBackup] = []
    for db in self.databases.values():
        if getattr(db, "db_cluster_identifier", None):
            continue
        window = _window(db, None)
        if window is not None:
            items.append(AutomatedBackup(db, window, retained=False))
    for db, ended in rds_dr.state(self.account_id, self.region_name).retained.values():
        window = _window(db, ended)
        if window is not None:
            items.append(AutomatedBackup(db, window, retained=True))
    fl = _filters(filters)
    if db_instance_identifier:
        fl.setdefault("db-instance-id", []).append(db_instance_identifier)
    if dbi_resource_id:
        fl.setdefault("dbi-resource-id", []).append(dbi_resource_id)

    def keep(b: AutomatedBackup) -> bool:
        checks = {
            "db-instance-id": {b.db_instance_identifier, b.db_instance_arn},
            "dbi-resource-id": {b.dbi_resource_id},
            "status": {b.status},
        }
        for name, values in fl.items():
            have = checks.get(name)
            if have is not None and not have & {v.lower() if name == "db-instance-id" else v
                                                for v in values}:
                return False
        return True

    items = [b for b in items if keep(b)]
    if db_instance_automated_backups_arn:
        items = [b for b in items if b.db_instance_automated_backups_arn == db_instance_automated_backups_arn]
    asked = db_instance_identifier or dbi_resource_id or db_instance_automated_backups_arn
    if asked and not items:
        raise RDSClientError("DBInstanceAutomatedBackupNotFound",
                             f"No automated backup found for {asked}.")
    return items


def _delete_db_instance(self: RDSBackend, db_instance_identifier: str,
                        final_db_snapshot_identifier: str | None = None,
                        skip_final_snapshot: bool | None = False,
                        delete_automated_backups: bool | None = True, **kw: Any) -> DBInstance:
    db = self.databases.get(db_instance_identifier)
    kept = copy.copy(db) if db is not None else None
    result = _ORIG["delete_db_instance"](self, db_instance_identifier,
                                         final_db_snapshot_identifier=final_db_snapshot_identifier,
                                         skip_final_snapshot=skip_final_snapshot,
                                         delete_automated_backups=delete_automated_backups)
    st = rds_dr.state(self.account_id, self.region_name)
    st.reboots.pop(result.db_instance_identifier, None)
    if kept is not None and delete_automated_backups is False and kept.backup_retention_period:
        kept.status = "available"
        st.retained[kept.dbi_resource_id] = (kept, _now())
    return result


def _describe_events(self: RDSBackend, *args: Any, **kwargs: Any) -> list[Any]:
    return sorted(_ORIG["describe_events"](self, *args, **kwargs), key=lambda e: e.date)


# --- option groups: moto knows postgres up to 13


_POSTGRES_MAJORS = {str(v) for v in range(14, 18)}


def _create_option_group(self: RDSBackend, option_group_kwargs: dict[str, Any]) -> Any:
    major = option_group_kwargs.get("major_engine_version")
    if option_group_kwargs.get("engine_name") == "postgres" and major in _POSTGRES_MAJORS:
        kwargs = dict(option_group_kwargs)
        kwargs["major_engine_version"] = "13"
        group = _ORIG["create_option_group"](self, kwargs)
        group.major_engine_version = major
        return group
    return _ORIG["create_option_group"](self, option_group_kwargs)


def reset() -> None:
    rds_dr.reset()


_applied = False


def apply() -> None:
    """Installs the patches (idempotent)."""
    global _applied
    if _applied:
        return
    _applied = True
    _ORIG["call_action"] = RDSResponse.call_action
    RDSResponse.call_action = _call_action
    _ORIG["init"] = DBInstance.__init__
    DBInstance.__init__ = _init
    DBInstance.enable_performance_insights = property(_get_pi, _set_pi)
    DBInstance.performance_insights_enabled = property(_get_pi)
    DBInstance.secondary_availability_zone = property(_secondary_az)
    DBInstance.latest_restorable_time = property(_latest_restorable_time)
    DBSnapshot.percent_progress = 100  # a copy under way has its own

    _ORIG["resp.create_db_instance"] = RDSResponse.create_db_instance
    RDSResponse.create_db_instance = _resp_create_db_instance
    RDSResponse.reboot_db_instance = _resp_reboot_db_instance
    for name, fn in (
        ("modify_db_instance", _modify_db_instance),
        ("reboot_db_instance", _reboot_db_instance),
        ("copy_db_snapshot", _copy_db_snapshot),
        ("restore_db_instance_from_db_snapshot", _restore_from_snapshot),
        ("restore_db_instance_to_point_in_time", _restore_to_point_in_time),
        ("describe_db_instance_automated_backups", _describe_automated_backups),
        ("delete_db_instance", _delete_db_instance),
        ("describe_events", _describe_events),
        ("create_option_group", _create_option_group),
    ):
        _ORIG[name] = getattr(RDSBackend, name)
        setattr(RDSBackend, name, fn)

//! RDS and Application Auto Scaling over the SDK: the `Database` and `AutoScaling` traits.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_applicationautoscaling::types::{ScalableDimension, ServiceNamespace};
use aws_sdk_rds::types as rds;
use aws_smithy_types::DateTime;
use jiff::Timestamp;

use super::{classify, ts};
use crate::aws::{
    AutoScaling, AwsError, AwsResult, Database, DbInstance, DbSettings, DbSnapshot, LaterSettings,
    Resource, RestoreSettings, ScalingBounds,
};

/// The settings a restore copies from the source, set the same way on either restore request
/// (from a snapshot, to a point in time), so both copy the same list. What neither takes is
/// in `LaterSettings`, and what is deliberately not sent is in `NOT_SENT` (tests).
/// Where a restored instance goes: its subnet group, security groups, parameter and option
/// groups. Every restore sends these, even one that takes the rest from its snapshot.
macro_rules! placement {
    ($request:expr, $s:expr) => {{
        let s = $s;
        $request
            .set_db_subnet_group_name(s.subnet_group.clone())
            .set_vpc_security_group_ids(non_empty(&s.security_groups))
            .set_db_parameter_group_name(s.parameter_group.clone())
            // A default option group is the one RDS gives a restore anyway (and in another
            // region or engine version, the right one).
            .set_option_group_name(
                s.option_group
                    .clone()
                    .filter(|g| !g.starts_with("default:")),
            )
    }};
}

macro_rules! copy_settings {
    ($request:expr, $r:expr) => {{
        let s = &$r.settings;
        let (iops, throughput) = if s.sends_iops() {
            (s.iops, s.storage_throughput)
        } else {
            (None, None)
        };
        placement!($request, s)
            .db_instance_class(&s.class)
            .set_availability_zone(s.availability_zone.clone().filter(|_| !s.multi_az))
            .multi_az(s.multi_az)
            .set_network_type(s.network_type.clone())
            .set_publicly_accessible(s.publicly_accessible)
            .set_port(s.port)
            .set_storage_type(s.storage_type.clone())
            .set_allocated_storage(Some(s.allocated_gb).filter(|gb| *gb > 0))
            .set_iops(iops)
            .set_storage_throughput(throughput)
            .dedicated_log_volume(s.dedicated_log_volume)
            .deletion_protection(s.deletion_protection)
            .backup_retention_period(s.backup_retention_days)
            .set_preferred_backup_window(s.backup_window.clone())
            .copy_tags_to_snapshot(s.copy_tags_to_snapshot)
            .auto_minor_version_upgrade(s.auto_minor_version_upgrade)
            .enable_iam_database_authentication(s.iam_auth)
            .set_enable_cloudwatch_logs_exports(non_empty(&s.log_exports))
            .set_ca_certificate_identifier(s.ca_certificate.clone())
            .set_license_model(s.license_model.clone())
            .set_engine_lifecycle_support(s.engine_lifecycle_support.clone())
            .set_manage_master_user_password(s.managed_master_password.then_some(true))
            .set_master_user_secret_kms_key_id(
                s.master_secret_kms_key
                    .clone()
                    .filter(|_| s.managed_master_password),
            )
            .set_tags(Some(rds_tags(&$r.tags)))
    }};
}

/// The new instance's name and settings on a restore request: the same list on both.
pub(crate) trait CopySettings {
    fn copy_settings(self, r: &RestoreSettings) -> Self;
}

impl CopySettings
    for aws_sdk_rds::operation::restore_db_instance_from_db_snapshot::builders::RestoreDBInstanceFromDBSnapshotFluentBuilder
{
    fn copy_settings(self, r: &RestoreSettings) -> Self {
        copy_settings!(self.db_instance_identifier(&r.target), r)
    }
}

/// Only where the new instance goes, and its name and tags: a restore that takes the rest from
/// its snapshot.
pub(crate) trait Placement {
    fn placement(self, r: &RestoreSettings) -> Self;
}

impl Placement
    for aws_sdk_rds::operation::restore_db_instance_from_db_snapshot::builders::RestoreDBInstanceFromDBSnapshotFluentBuilder
{
    fn placement(self, r: &RestoreSettings) -> Self {
        placement!(self.db_instance_identifier(&r.target), &r.settings)
            .set_tags(Some(rds_tags(&r.tags)))
    }
}

impl CopySettings
    for aws_sdk_rds::operation::restore_db_instance_to_point_in_time::builders::RestoreDBInstanceToPointInTimeFluentBuilder
{
    fn copy_settings(self, r: &RestoreSettings) -> Self {
        let request = self
            .target_db_instance_identifier(&r.target)
            .set_max_allocated_storage(r.settings.max_allocated_gb);
        copy_settings!(request, r)
    }
}

/// RDS over the SDK.
pub struct SdkDatabase(pub aws_sdk_rds::Client);

fn tags_of(tags: &[rds::Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_owned(),
                t.value().unwrap_or_default().to_owned(),
            ))
        })
        .collect()
}

fn rds_tags(tags: &BTreeMap<String, String>) -> Vec<rds::Tag> {
    tags.iter()
        .map(|(k, v)| rds::Tag::builder().key(k).value(v).build())
        .collect()
}

fn instance_from(d: &rds::DbInstance) -> DbInstance {
    let owned = |v: Option<&str>| v.map(str::to_owned);
    let multi_az = d.multi_az().unwrap_or(false);
    let secret = d.master_user_secret();
    let settings = DbSettings {
        class: d.db_instance_class().unwrap_or_default().to_owned(),
        availability_zone: owned(d.availability_zone()).filter(|_| !multi_az),
        subnet_group: d
            .db_subnet_group()
            .and_then(|g| g.db_subnet_group_name())
            .map(str::to_owned),
        security_groups: d
            .vpc_security_groups()
            .iter()
            .filter_map(|g| g.vpc_security_group_id().map(str::to_owned))
            .collect(),
        parameter_group: d
            .db_parameter_groups()
            .first()
            .and_then(|g| g.db_parameter_group_name())
            .map(str::to_owned),
        option_group: d
            .option_group_memberships()
            .first()
            .and_then(|g| g.option_group_name())
            .map(str::to_owned),
        multi_az,
        network_type: owned(d.network_type()),
        publicly_accessible: d.publicly_accessible(),
        // The endpoint's port is the one clients use; DbInstancePort is 0 outside clusters.
        port: d
            .endpoint()
            .and_then(|e| e.port())
            .or(d.db_instance_port())
            .filter(|p| *p > 0),
        storage_type: owned(d.storage_type()),
        allocated_gb: d.allocated_storage().unwrap_or(0),
        max_allocated_gb: d.max_allocated_storage(),
        iops: d.iops(),
        storage_throughput: d.storage_throughput(),
        dedicated_log_volume: d.dedicated_log_volume().unwrap_or(false),
        deletion_protection: d.deletion_protection().unwrap_or(false),
        backup_retention_days: d.backup_retention_period().unwrap_or(0),
        backup_window: owned(d.preferred_backup_window()),
        maintenance_window: owned(d.preferred_maintenance_window()),
        copy_tags_to_snapshot: d.copy_tags_to_snapshot().unwrap_or(false),
        auto_minor_version_upgrade: d.auto_minor_version_upgrade().unwrap_or(true),
        iam_auth: d.iam_database_authentication_enabled().unwrap_or(false),
        log_exports: d.enabled_cloudwatch_logs_exports().to_vec(),
        ca_certificate: owned(d.ca_certificate_identifier()),
        license_model: owned(d.license_model()),
        engine_lifecycle_support: owned(d.engine_lifecycle_support()),
        managed_master_password: secret.is_some(),
        master_secret_kms_key: owned(secret.and_then(|s| s.kms_key_id())),
        monitoring_interval: d.monitoring_interval().unwrap_or(0),
        monitoring_role: owned(d.monitoring_role_arn()),
        performance_insights: d.performance_insights_enabled().unwrap_or(false),
        performance_insights_kms_key: owned(d.performance_insights_kms_key_id()),
        performance_insights_retention_days: d.performance_insights_retention_period(),
        database_insights_mode: d.database_insights_mode().map(|m| m.as_str().to_owned()),
    };
    DbInstance {
        id: d.db_instance_identifier().unwrap_or_default().to_owned(),
        arn: d.db_instance_arn().unwrap_or_default().to_owned(),
        status: d.db_instance_status().unwrap_or_default().to_owned(),
        engine: d.engine().unwrap_or_default().to_owned(),
        engine_version: d.engine_version().unwrap_or_default().to_owned(),
        encrypted: d.storage_encrypted().unwrap_or(false),
        kms_key: owned(d.kms_key_id()),
        zone: owned(d.availability_zone()),
        secondary_az: owned(d.secondary_availability_zone()),
        directory: d
            .domain_memberships()
            .first()
            .and_then(|m| m.domain())
            .map(str::to_owned),
        settings,
        tags: tags_of(d.tag_list()),
        endpoint: d.endpoint().and_then(|e| e.address()).map(str::to_owned),
        earliest_restorable: None,
        latest_restorable: ts(d.latest_restorable_time()),
        created_at: ts(d.instance_create_time()),
    }
}

fn snapshot_from(s: &rds::DbSnapshot) -> DbSnapshot {
    DbSnapshot {
        id: s.db_snapshot_identifier().unwrap_or_default().to_owned(),
        arn: s.db_snapshot_arn().unwrap_or_default().to_owned(),
        instance: s.db_instance_identifier().unwrap_or_default().to_owned(),
        kind: s.snapshot_type().unwrap_or_default().to_owned(),
        status: s.status().unwrap_or_default().to_owned(),
        percent: s.percent_progress(),
        size_gb: s.allocated_storage().unwrap_or(0),
        created_at: ts(s.snapshot_create_time()),
        original_created_at: ts(s.original_snapshot_create_time()).or(ts(s.snapshot_create_time())),
        encrypted: s.encrypted().unwrap_or(false),
        kms_key: s.kms_key_id().map(str::to_owned),
        source_region: s.source_region().map(str::to_owned),
        source_snapshot: s.source_db_snapshot_identifier().map(str::to_owned),
        tags: tags_of(s.tag_list()),
    }
}

/// A RestoreDBInstanceFromDBSnapshot error, sorted: a missing snapshot, a taken name, or as
/// AWS said.
fn restore_error<R: std::fmt::Debug + 'static>(
    snapshot: &str,
    target: &str,
    e: aws_sdk_rds::error::SdkError<
        aws_sdk_rds::operation::restore_db_instance_from_db_snapshot::RestoreDBInstanceFromDBSnapshotError,
        R,
    >,
) -> AwsError {
    match e.as_service_error() {
        Some(se) if se.is_db_snapshot_not_found_fault() => {
            AwsError::not_found(Resource::DbSnapshot, format!("snapshot {snapshot}"))
        }
        Some(se) if se.is_db_instance_already_exists_fault() => {
            AwsError::AlreadyExists(format!("an instance named {target} already exists"))
        }
        _ => classify("RestoreDBInstanceFromDBSnapshot", e),
    }
}

/// The instance a RestoreDBInstanceFromDBSnapshot answer names.
fn restored(answer: Option<&rds::DbInstance>) -> AwsResult<DbInstance> {
    answer
        .map(instance_from)
        .ok_or_else(|| AwsError::Other("RestoreDBInstanceFromDBSnapshot returned nothing".into()))
}

fn datetime(t: Timestamp) -> DateTime {
    DateTime::from_secs_and_nanos(t.as_second(), t.subsec_nanosecond().max(0) as u32)
}

impl SdkDatabase {
    /// The earliest point the instance can be restored to. AWS reports the window on the
    /// instance's active automated backup; where it does not, the oldest automated snapshot
    /// marks the earliest point.
    async fn earliest_restorable(&self, id: &str) -> AwsResult<Option<Timestamp>> {
        let out = self
            .0
            .describe_db_instance_automated_backups()
            .db_instance_identifier(id)
            .send()
            .await;
        match out {
            Ok(out) => {
                let earliest = out
                    .db_instance_automated_backups()
                    .iter()
                    .filter(|b| b.status() == Some("active"))
                    .find_map(|b| ts(b.restore_window()?.earliest_time()));
                if earliest.is_some() {
                    return Ok(earliest);
                }
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_db_instance_automated_backup_not_found_fault()) => {}
            Err(e) => return Err(classify("DescribeDBInstanceAutomatedBackups", e)),
        }
        let mut items = self
            .0
            .describe_db_snapshots()
            .db_instance_identifier(id)
            .snapshot_type("automated")
            .into_paginator()
            .items()
            .send();
        let mut earliest: Option<Timestamp> = None;
        while let Some(item) = items.next().await {
            let snapshot = item.map_err(|e| classify("DescribeDBSnapshots", e))?;
            if snapshot.status() != Some("available") {
                continue;
            }
            if let Some(at) = ts(snapshot.snapshot_create_time()) {
                earliest = Some(earliest.map_or(at, |e| e.min(at)));
            }
        }
        Ok(earliest)
    }
}

#[async_trait]
impl Database for SdkDatabase {
    async fn describe_instance(&self, id: &str) -> AwsResult<DbInstance> {
        let mut instance = self.find_instance(id).await?.ok_or_else(|| {
            AwsError::not_found(Resource::DbInstance, format!("RDS instance {id}"))
        })?;
        if instance.settings.backup_retention_days > 0 {
            instance.earliest_restorable = self.earliest_restorable(id).await?;
        } else {
            // Without automated backups there is no point-in-time restore.
            instance.latest_restorable = None;
        }
        Ok(instance)
    }

    async fn find_instance(&self, id: &str) -> AwsResult<Option<DbInstance>> {
        match self
            .0
            .describe_db_instances()
            .db_instance_identifier(id)
            .send()
            .await
        {
            Ok(out) => Ok(out.db_instances().first().map(instance_from)),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_db_instance_not_found_fault()) =>
            {
                Ok(None)
            }
            Err(e) => Err(classify("DescribeDBInstances", e)),
        }
    }

    async fn create_snapshot(
        &self,
        instance: &str,
        snapshot: &str,
        tags: &BTreeMap<String, String>,
    ) -> AwsResult<DbSnapshot> {
        let out = self
            .0
            .create_db_snapshot()
            .db_instance_identifier(instance)
            .db_snapshot_identifier(snapshot)
            .set_tags(Some(rds_tags(tags)))
            .send()
            .await
            .map_err(|e| match e.as_service_error() {
                Some(se) if se.is_db_instance_not_found_fault() => {
                    AwsError::not_found(Resource::DbInstance, format!("RDS instance {instance}"))
                }
                Some(se) if se.is_db_snapshot_already_exists_fault() => {
                    AwsError::AlreadyExists(format!("a snapshot named {snapshot} already exists"))
                }
                _ => classify("CreateDBSnapshot", e),
            })?;
        out.db_snapshot()
            .map(snapshot_from)
            .ok_or_else(|| AwsError::Other("CreateDBSnapshot returned no snapshot".into()))
    }

    async fn describe_snapshot(&self, id: &str) -> AwsResult<Option<DbSnapshot>> {
        match self
            .0
            .describe_db_snapshots()
            .db_snapshot_identifier(id)
            .send()
            .await
        {
            Ok(out) => Ok(out.db_snapshots().first().map(snapshot_from)),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_db_snapshot_not_found_fault()) =>
            {
                Ok(None)
            }
            Err(e) => Err(classify("DescribeDBSnapshots", e)),
        }
    }

    async fn list_snapshots(&self, instance: &str) -> AwsResult<Vec<DbSnapshot>> {
        let mut items = self
            .0
            .describe_db_snapshots()
            .db_instance_identifier(instance)
            .into_paginator()
            .items()
            .send();
        let mut snapshots = Vec::new();
        while let Some(item) = items.next().await {
            let snapshot = item.map_err(|e| classify("DescribeDBSnapshots", e))?;
            snapshots.push(snapshot_from(&snapshot));
        }
        Ok(snapshots)
    }

    async fn restore_from_snapshot(
        &self,
        snapshot: &str,
        s: &RestoreSettings,
    ) -> AwsResult<DbInstance> {
        let out = self
            .0
            .restore_db_instance_from_db_snapshot()
            .db_snapshot_identifier(snapshot)
            .copy_settings(s)
            .send()
            .await
            .map_err(|e| restore_error(snapshot, &s.target, e))?;
        restored(out.db_instance())
    }

    async fn restore_from_snapshot_as_is(
        &self,
        snapshot: &str,
        s: &RestoreSettings,
    ) -> AwsResult<DbInstance> {
        let out = self
            .0
            .restore_db_instance_from_db_snapshot()
            .db_snapshot_identifier(snapshot)
            .placement(s)
            .send()
            .await
            .map_err(|e| restore_error(snapshot, &s.target, e))?;
        restored(out.db_instance())
    }

    async fn restore_to_time(
        &self,
        source: &str,
        time: Option<Timestamp>,
        s: &RestoreSettings,
    ) -> AwsResult<DbInstance> {
        let out = self
            .0
            .restore_db_instance_to_point_in_time()
            .source_db_instance_identifier(source)
            .set_restore_time(time.map(datetime))
            .set_use_latest_restorable_time(time.is_none().then_some(true))
            .copy_settings(s)
            .send()
            .await
            .map_err(|e| match e.as_service_error() {
                Some(se) if se.is_db_instance_not_found_fault() => {
                    AwsError::not_found(Resource::DbInstance, format!("RDS instance {source}"))
                }
                Some(se) if se.is_db_instance_already_exists_fault() => AwsError::AlreadyExists(
                    format!("an instance named {} already exists", s.target),
                ),
                Some(se) if se.is_invalid_restore_fault() => AwsError::Invalid(format!(
                    "RestoreDBInstanceToPointInTime: {}",
                    se.meta().message().unwrap_or("invalid restore")
                )),
                _ => classify("RestoreDBInstanceToPointInTime", e),
            })?;
        out.db_instance().map(instance_from).ok_or_else(|| {
            AwsError::Other("RestoreDBInstanceToPointInTime returned nothing".into())
        })
    }

    async fn copy_snapshot(
        &self,
        source_arn: &str,
        target: &str,
        kms_key: Option<&str>,
        tags: &BTreeMap<String, String>,
    ) -> AwsResult<DbSnapshot> {
        // No PreSignedUrl: outside GovCloud RDS makes its own for a cross-region copy.
        let out = self
            .0
            .copy_db_snapshot()
            .source_db_snapshot_identifier(source_arn)
            .target_db_snapshot_identifier(target)
            .set_kms_key_id(kms_key.map(str::to_owned))
            .set_tags(Some(rds_tags(tags)))
            .send()
            .await
            .map_err(|e| match e.as_service_error() {
                Some(se) if se.is_db_snapshot_not_found_fault() => {
                    AwsError::not_found(Resource::DbSnapshot, format!("snapshot {source_arn}"))
                }
                Some(se) if se.is_db_snapshot_already_exists_fault() => {
                    AwsError::AlreadyExists(format!("a snapshot named {target} already exists"))
                }
                Some(se) if se.is_kms_key_not_accessible_fault() => AwsError::Invalid(format!(
                    "CopyDBSnapshot: KMSKeyNotAccessibleFault: {}",
                    se.meta()
                        .message()
                        .unwrap_or("the key is not usable in this region")
                )),
                _ => classify("CopyDBSnapshot", e),
            })?;
        out.db_snapshot()
            .map(snapshot_from)
            .ok_or_else(|| AwsError::Other("CopyDBSnapshot returned no snapshot".into()))
    }

    async fn delete_snapshot(&self, id: &str) -> AwsResult<()> {
        self.0
            .delete_db_snapshot()
            .db_snapshot_identifier(id)
            .send()
            .await
            .map_err(|e| match e.as_service_error() {
                Some(se) if se.is_db_snapshot_not_found_fault() => {
                    AwsError::not_found(Resource::DbSnapshot, format!("snapshot {id}"))
                }
                _ => classify("DeleteDBSnapshot", e),
            })?;
        Ok(())
    }

    async fn failover(&self, id: &str) -> AwsResult<DbInstance> {
        let out = self
            .0
            .reboot_db_instance()
            .db_instance_identifier(id)
            .force_failover(true)
            .send()
            .await
            .map_err(|e| match e.as_service_error() {
                Some(se) if se.is_db_instance_not_found_fault() => {
                    AwsError::not_found(Resource::DbInstance, format!("RDS instance {id}"))
                }
                Some(se) if se.is_invalid_db_instance_state_fault() => AwsError::Invalid(format!(
                    "RebootDBInstance: {}",
                    se.meta()
                        .message()
                        .unwrap_or("the instance cannot fail over now")
                )),
                _ => classify("RebootDBInstance", e),
            })?;
        out.db_instance()
            .map(instance_from)
            .ok_or_else(|| AwsError::Other("RebootDBInstance returned nothing".into()))
    }

    async fn modify_instance(&self, id: &str, later: &LaterSettings) -> AwsResult<DbInstance> {
        let mut request = self
            .0
            .modify_db_instance()
            .db_instance_identifier(id)
            .apply_immediately(true)
            .set_preferred_maintenance_window(later.maintenance_window.clone())
            .set_max_allocated_storage(later.max_allocated_gb)
            .set_database_insights_mode(
                later
                    .database_insights_mode
                    .as_deref()
                    .map(rds::DatabaseInsightsMode::from),
            );
        if let Some((interval, role)) = &later.monitoring {
            request = request
                .monitoring_interval(*interval)
                .set_monitoring_role_arn(role.clone());
        }
        if let Some((enabled, key, days)) = &later.performance_insights {
            request = request
                .enable_performance_insights(*enabled)
                .set_performance_insights_kms_key_id(key.clone().filter(|_| *enabled))
                .set_performance_insights_retention_period(days.filter(|_| *enabled));
        }
        let out = request
            .send()
            .await
            .map_err(|e| match e.as_service_error() {
                Some(se) if se.is_db_instance_not_found_fault() => {
                    AwsError::not_found(Resource::DbInstance, format!("RDS instance {id}"))
                }
                _ => classify("ModifyDBInstance", e),
            })?;
        out.db_instance()
            .map(instance_from)
            .ok_or_else(|| AwsError::Other("ModifyDBInstance returned nothing".into()))
    }
}

fn non_empty(list: &[String]) -> Option<Vec<String>> {
    (!list.is_empty()).then(|| list.to_vec())
}

/// Application Auto Scaling over the SDK.
pub struct SdkAutoScaling(pub aws_sdk_applicationautoscaling::Client);

#[async_trait]
impl AutoScaling for SdkAutoScaling {
    async fn scalable_target(&self, resource_id: &str) -> AwsResult<Option<ScalingBounds>> {
        let out = self
            .0
            .describe_scalable_targets()
            .service_namespace(ServiceNamespace::Ecs)
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .resource_ids(resource_id)
            .send()
            .await
            .map_err(|e| classify("DescribeScalableTargets", e))?;
        Ok(out
            .scalable_targets()
            .iter()
            .find(|t| t.resource_id() == resource_id)
            .map(|t| ScalingBounds {
                min: t.min_capacity(),
                max: t.max_capacity(),
            }))
    }

    async fn set_bounds(&self, resource_id: &str, bounds: ScalingBounds) -> AwsResult<()> {
        self.0
            .register_scalable_target()
            .service_namespace(ServiceNamespace::Ecs)
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .resource_id(resource_id)
            .min_capacity(bounds.min)
            .max_capacity(bounds.max)
            .send()
            .await
            .map_err(|e| classify("RegisterScalableTarget", e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;

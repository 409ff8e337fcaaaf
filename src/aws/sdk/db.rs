//! RDS and Application Auto Scaling over the SDK: the `Database` and `AutoScaling` traits.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_applicationautoscaling::types::{ScalableDimension, ServiceNamespace};
use aws_sdk_rds::types as rds;
use aws_smithy_types::DateTime;
use jiff::Timestamp;

use super::{classify, ts};
use crate::aws::{
    AutoScaling, AwsError, AwsResult, Database, DbInstance, DbSnapshot, Resource, RestoreSettings,
    ScalingBounds,
};

/// The settings a restore copies from the source, set the same way on either restore request
/// (from a snapshot, to a point in time), so both copy the same list.
macro_rules! copy_settings {
    ($request:expr, $s:expr) => {
        $request
            .db_instance_class(&$s.class)
            .set_db_subnet_group_name($s.subnet_group.clone())
            .set_vpc_security_group_ids(non_empty(&$s.security_groups))
            .set_db_parameter_group_name($s.parameter_group.clone())
            .multi_az($s.multi_az)
            .set_storage_type($s.storage_type.clone())
            .set_allocated_storage($s.allocated_gb)
            .set_iops($s.iops)
            .set_port($s.port)
            .deletion_protection($s.deletion_protection)
            .set_publicly_accessible($s.publicly_accessible)
            .set_backup_retention_period($s.backup_retention_days)
            .set_tags(Some(rds_tags(&$s.tags)))
    };
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
    DbInstance {
        id: d.db_instance_identifier().unwrap_or_default().to_owned(),
        arn: d.db_instance_arn().unwrap_or_default().to_owned(),
        status: d.db_instance_status().unwrap_or_default().to_owned(),
        class: d.db_instance_class().unwrap_or_default().to_owned(),
        engine: d.engine().unwrap_or_default().to_owned(),
        engine_version: d.engine_version().unwrap_or_default().to_owned(),
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
        multi_az: d.multi_az().unwrap_or(false),
        storage_type: d.storage_type().map(str::to_owned),
        allocated_gb: d.allocated_storage().unwrap_or(0),
        iops: d.iops(),
        // The endpoint's port is the one clients use; DbInstancePort is 0 outside clusters.
        port: d
            .endpoint()
            .and_then(|e| e.port())
            .or(d.db_instance_port())
            .filter(|p| *p > 0),
        deletion_protection: d.deletion_protection().unwrap_or(false),
        publicly_accessible: d.publicly_accessible(),
        backup_retention_days: d.backup_retention_period().unwrap_or(0),
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
        tags: tags_of(s.tag_list()),
    }
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
        if instance.backup_retention_days > 0 {
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
        let request = self
            .0
            .restore_db_instance_from_db_snapshot()
            .db_snapshot_identifier(snapshot)
            .db_instance_identifier(&s.target);
        let out =
            copy_settings!(request, s)
                .send()
                .await
                .map_err(|e| match e.as_service_error() {
                    Some(se) if se.is_db_snapshot_not_found_fault() => {
                        AwsError::not_found(Resource::DbSnapshot, format!("snapshot {snapshot}"))
                    }
                    Some(se) if se.is_db_instance_already_exists_fault() => {
                        AwsError::AlreadyExists(format!(
                            "an instance named {} already exists",
                            s.target
                        ))
                    }
                    _ => classify("RestoreDBInstanceFromDBSnapshot", e),
                })?;
        out.db_instance().map(instance_from).ok_or_else(|| {
            AwsError::Other("RestoreDBInstanceFromDBSnapshot returned nothing".into())
        })
    }

    async fn restore_to_time(
        &self,
        source: &str,
        time: Option<Timestamp>,
        s: &RestoreSettings,
    ) -> AwsResult<DbInstance> {
        let mut request = self
            .0
            .restore_db_instance_to_point_in_time()
            .source_db_instance_identifier(source)
            .target_db_instance_identifier(&s.target);
        request = match time {
            Some(t) => request.restore_time(datetime(t)),
            None => request.use_latest_restorable_time(true),
        };
        let out =
            copy_settings!(request, s)
                .send()
                .await
                .map_err(|e| match e.as_service_error() {
                    Some(se) if se.is_db_instance_not_found_fault() => {
                        AwsError::not_found(Resource::DbInstance, format!("RDS instance {source}"))
                    }
                    Some(se) if se.is_db_instance_already_exists_fault() => {
                        AwsError::AlreadyExists(format!(
                            "an instance named {} already exists",
                            s.target
                        ))
                    }
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

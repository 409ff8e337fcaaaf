//! RDS and Application Auto Scaling in memory: snapshots that take time and report their
//! progress, restores that take time, and the services' scalable targets. Calls are recorded
//! with the rest, so tests can prove that bad input changed nothing.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;
use tokio::time::Instant;

use super::{FakeAws, at};
use crate::aws::{
    AutoScaling, AwsError, AwsResult, Database, DbInstance, DbSnapshot, Resource, RestoreSettings,
    ScalingBounds,
};

/// The fake instance's restore window: a week of backups, up to five minutes ago.
pub const EARLIEST_RESTORABLE: i64 = 1_800_000_000 - 7 * 86_400;
pub const LATEST_RESTORABLE: i64 = 1_800_000_000 - 300;

#[derive(Debug, Clone)]
struct FakeSnapshot {
    snapshot: DbSnapshot,
    /// When a snapshot in progress was started; `None` for one that stays as it was put.
    started: Option<Instant>,
}

/// RDS and Application Auto Scaling state.
#[derive(Debug, Default)]
pub struct DbState {
    instances: BTreeMap<String, DbInstance>,
    /// Instance id -> when a restore in progress becomes available.
    restoring: BTreeMap<String, Instant>,
    snapshots: BTreeMap<String, FakeSnapshot>,
    /// How long a snapshot and a restore take.
    pub snapshot_time: Duration,
    pub restore_time: Duration,
    /// Snapshots fail half way.
    pub snapshot_fails: bool,
    targets: BTreeMap<String, ScalingBounds>,
}

impl DbState {
    /// `users-db` with settings that differ from every default, so a restore that forgets
    /// one shows; and a scalable target of 1..6 for `staging-users`.
    pub fn demo() -> Self {
        let instance = DbInstance {
            id: "users-db".into(),
            arn: format!("arn:aws:rds:us-east-1:{}:db:users-db", super::ACCOUNT),
            status: "available".into(),
            class: "db.r6g.large".into(),
            engine: "postgres".into(),
            engine_version: "15.7".into(),
            subnet_group: Some("users-db-subnets".into()),
            security_groups: vec!["sg-0aaa".into(), "sg-0bbb".into()],
            parameter_group: Some("users-pg15".into()),
            multi_az: true,
            storage_type: Some("io1".into()),
            allocated_gb: 100,
            iops: Some(3000),
            port: Some(5433),
            deletion_protection: true,
            publicly_accessible: Some(false),
            backup_retention_days: 7,
            tags: BTreeMap::from([
                ("app".to_owned(), "users".to_owned()),
                ("team".to_owned(), "platform".to_owned()),
            ]),
            endpoint: Some("users-db.abc.us-east-1.rds.amazonaws.com".into()),
            earliest_restorable: Some(Timestamp::from_second(EARLIEST_RESTORABLE).unwrap()),
            latest_restorable: Some(Timestamp::from_second(LATEST_RESTORABLE).unwrap()),
            created_at: Some(Timestamp::from_second(1_700_000_000).unwrap()),
        };
        let automated = DbSnapshot {
            id: "rds:users-db-2027-01-08-03-00".into(),
            arn: String::new(),
            instance: "users-db".into(),
            kind: "automated".into(),
            status: "available".into(),
            percent: Some(100),
            size_gb: 100,
            created_at: Some(Timestamp::from_second(1_799_900_000).unwrap()),
            tags: BTreeMap::new(),
        };
        DbState {
            instances: BTreeMap::from([(instance.id.clone(), instance)]),
            restoring: BTreeMap::new(),
            snapshots: BTreeMap::from([(
                automated.id.clone(),
                FakeSnapshot {
                    snapshot: automated,
                    started: None,
                },
            )]),
            snapshot_time: Duration::from_secs(40),
            restore_time: Duration::from_secs(30),
            snapshot_fails: false,
            targets: BTreeMap::from([(
                "service/demo/staging-users".to_owned(),
                ScalingBounds { min: 1, max: 6 },
            )]),
        }
    }

    /// Moves snapshots and restores in progress forward to `now`.
    fn advance(&mut self, now: Instant) {
        let (total, fails) = (self.snapshot_time, self.snapshot_fails);
        for s in self.snapshots.values_mut() {
            let Some(started) = s.started else { continue };
            let elapsed = now.saturating_duration_since(started);
            let percent = if total.is_zero() {
                100
            } else {
                ((elapsed.as_secs_f64() / total.as_secs_f64()) * 100.0).min(100.0) as i32
            };
            if fails && percent >= 50 {
                s.snapshot.status = "failed".into();
                s.snapshot.percent = Some(50);
            } else {
                s.snapshot.percent = Some(percent);
                s.snapshot.status = if percent >= 100 {
                    "available"
                } else {
                    "creating"
                }
                .into();
            }
        }
        let done: Vec<String> = self
            .restoring
            .iter()
            .filter(|(_, ready)| now >= **ready)
            .map(|(id, _)| id.clone())
            .collect();
        for id in done {
            self.restoring.remove(&id);
            if let Some(i) = self.instances.get_mut(&id) {
                i.status = "available".into();
                i.endpoint = Some(format!("{id}.abc.us-east-1.rds.amazonaws.com"));
            }
        }
    }
}

impl FakeAws {
    /// An instance as the fake holds it now.
    pub fn db_instance(&self, id: &str) -> Option<DbInstance> {
        self.state.lock().unwrap().db.instances.get(id).cloned()
    }

    /// A snapshot as the fake holds it now.
    pub fn db_snapshot(&self, id: &str) -> Option<DbSnapshot> {
        let mut s = self.state.lock().unwrap();
        s.db.advance(Instant::now());
        s.db.snapshots.get(id).map(|f| f.snapshot.clone())
    }

    /// Puts a manual snapshot of `users-db` in the given status (it stays there).
    pub fn put_db_snapshot(&self, id: &str, status: &str, percent: Option<i32>) {
        let created_at = Some(at(self.epoch, Instant::now()));
        self.state.lock().unwrap().db.snapshots.insert(
            id.to_owned(),
            FakeSnapshot {
                snapshot: DbSnapshot {
                    id: id.to_owned(),
                    arn: String::new(),
                    instance: "users-db".into(),
                    kind: "manual".into(),
                    status: status.to_owned(),
                    percent,
                    size_gb: 100,
                    created_at,
                    tags: BTreeMap::new(),
                },
                started: None,
            },
        );
    }

    pub fn set_db(&self, f: impl FnOnce(&mut DbState)) {
        f(&mut self.state.lock().unwrap().db);
    }

    /// The scalable target of a service, by resource id.
    pub fn scalable_target_of(&self, resource_id: &str) -> Option<ScalingBounds> {
        self.state
            .lock()
            .unwrap()
            .db
            .targets
            .get(resource_id)
            .copied()
    }

    /// Registers a scalable target as someone else would (no call recorded).
    pub fn put_scalable_target(&self, resource_id: &str, bounds: ScalingBounds) {
        self.state
            .lock()
            .unwrap()
            .db
            .targets
            .insert(resource_id.to_owned(), bounds);
    }

    pub fn remove_scalable_target(&self, resource_id: &str) {
        self.state.lock().unwrap().db.targets.remove(resource_id);
    }

    fn new_instance(&self, s: &RestoreSettings, engine: &DbInstance) -> AwsResult<DbInstance> {
        let mut state = self.state.lock().unwrap();
        if state.db.instances.contains_key(&s.target) {
            return Err(AwsError::AlreadyExists(format!(
                "an instance named {} already exists",
                s.target
            )));
        }
        let instance = DbInstance {
            id: s.target.clone(),
            arn: format!("arn:aws:rds:us-east-1:{}:db:{}", super::ACCOUNT, s.target),
            status: "creating".into(),
            class: s.class.clone(),
            engine: engine.engine.clone(),
            engine_version: engine.engine_version.clone(),
            subnet_group: s.subnet_group.clone(),
            security_groups: s.security_groups.clone(),
            parameter_group: s.parameter_group.clone(),
            multi_az: s.multi_az,
            storage_type: s.storage_type.clone(),
            allocated_gb: s.allocated_gb.unwrap_or(engine.allocated_gb),
            iops: s.iops,
            port: s.port,
            deletion_protection: s.deletion_protection,
            publicly_accessible: s.publicly_accessible,
            backup_retention_days: s.backup_retention_days.unwrap_or(1),
            tags: s.tags.clone(),
            endpoint: None,
            earliest_restorable: None,
            latest_restorable: None,
            created_at: Some(at(self.epoch, Instant::now())),
        };
        let ready = Instant::now() + state.db.restore_time;
        state.db.restoring.insert(s.target.clone(), ready);
        state
            .db
            .instances
            .insert(s.target.clone(), instance.clone());
        Ok(instance)
    }
}

#[async_trait]
impl Database for FakeAws {
    async fn describe_instance(&self, id: &str) -> AwsResult<DbInstance> {
        self.find_instance(id)
            .await?
            .ok_or_else(|| AwsError::not_found(Resource::DbInstance, format!("RDS instance {id}")))
    }

    async fn find_instance(&self, id: &str) -> AwsResult<Option<DbInstance>> {
        self.record("rds:DescribeDBInstances")?;
        let mut s = self.state.lock().unwrap();
        s.db.advance(Instant::now());
        Ok(s.db.instances.get(id).cloned())
    }

    async fn create_snapshot(
        &self,
        instance: &str,
        snapshot: &str,
        tags: &BTreeMap<String, String>,
    ) -> AwsResult<DbSnapshot> {
        self.record_change("rds:CreateDBSnapshot")?;
        let now = Instant::now();
        let created_at = Some(at(self.epoch, now));
        let mut s = self.state.lock().unwrap();
        let Some(source) = s.db.instances.get(instance) else {
            return Err(AwsError::not_found(
                Resource::DbInstance,
                format!("RDS instance {instance}"),
            ));
        };
        if s.db.snapshots.contains_key(snapshot) {
            return Err(AwsError::AlreadyExists(format!(
                "a snapshot named {snapshot} already exists"
            )));
        }
        let created = DbSnapshot {
            id: snapshot.to_owned(),
            arn: format!(
                "arn:aws:rds:us-east-1:{}:snapshot:{snapshot}",
                super::ACCOUNT
            ),
            instance: instance.to_owned(),
            kind: "manual".into(),
            status: "creating".into(),
            percent: Some(0),
            size_gb: source.allocated_gb,
            created_at,
            tags: tags.clone(),
        };
        s.db.snapshots.insert(
            snapshot.to_owned(),
            FakeSnapshot {
                snapshot: created.clone(),
                started: Some(now),
            },
        );
        Ok(created)
    }

    async fn describe_snapshot(&self, id: &str) -> AwsResult<Option<DbSnapshot>> {
        self.record("rds:DescribeDBSnapshots")?;
        let mut s = self.state.lock().unwrap();
        s.db.advance(Instant::now());
        Ok(s.db.snapshots.get(id).map(|f| f.snapshot.clone()))
    }

    async fn list_snapshots(&self, instance: &str) -> AwsResult<Vec<DbSnapshot>> {
        self.record("rds:DescribeDBSnapshots")?;
        let mut s = self.state.lock().unwrap();
        s.db.advance(Instant::now());
        Ok(s.db
            .snapshots
            .values()
            .filter(|f| f.snapshot.instance == instance)
            .map(|f| f.snapshot.clone())
            .collect())
    }

    async fn restore_from_snapshot(
        &self,
        snapshot: &str,
        settings: &RestoreSettings,
    ) -> AwsResult<DbInstance> {
        self.record_change("rds:RestoreDBInstanceFromDBSnapshot")?;
        let source = {
            let mut s = self.state.lock().unwrap();
            s.db.advance(Instant::now());
            let snap = s.db.snapshots.get(snapshot).ok_or_else(|| {
                AwsError::not_found(Resource::DbSnapshot, format!("snapshot {snapshot}"))
            })?;
            if snap.snapshot.status != "available" {
                return Err(AwsError::Invalid(format!(
                    "snapshot {snapshot} is {}",
                    snap.snapshot.status
                )));
            }
            s.db.instances.get(&snap.snapshot.instance).cloned()
        };
        let source = source
            .ok_or_else(|| AwsError::not_found(Resource::DbInstance, "the snapshot's instance"))?;
        self.new_instance(settings, &source)
    }

    async fn restore_to_time(
        &self,
        source: &str,
        time: Option<Timestamp>,
        settings: &RestoreSettings,
    ) -> AwsResult<DbInstance> {
        self.record_change("rds:RestoreDBInstanceToPointInTime")?;
        let instance = self.db_instance(source).ok_or_else(|| {
            AwsError::not_found(Resource::DbInstance, format!("RDS instance {source}"))
        })?;
        if let (Some(t), Some(earliest), Some(latest)) = (
            time,
            instance.earliest_restorable,
            instance.latest_restorable,
        ) && (t < earliest || t > latest)
        {
            return Err(AwsError::Invalid(format!(
                "restore time {t} is outside the restorable window"
            )));
        }
        self.new_instance(settings, &instance)
    }
}

#[async_trait]
impl AutoScaling for FakeAws {
    async fn scalable_target(&self, resource_id: &str) -> AwsResult<Option<ScalingBounds>> {
        self.record("application-autoscaling:DescribeScalableTargets")?;
        Ok(self.scalable_target_of(resource_id))
    }

    async fn set_bounds(&self, resource_id: &str, bounds: ScalingBounds) -> AwsResult<()> {
        self.record_change("application-autoscaling:RegisterScalableTarget")?;
        self.state
            .lock()
            .unwrap()
            .db
            .targets
            .insert(resource_id.to_owned(), bounds);
        Ok(())
    }
}

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
    AutoScaling, AwsError, AwsResult, Database, DbInstance, DbSettings, DbSnapshot, LaterSettings,
    Regions, Resource, RestoreSettings, ScalingBounds,
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
    /// Instance id -> when a failover in progress ends, the standby the primary.
    failovers: BTreeMap<String, Instant>,
    snapshots: BTreeMap<String, FakeSnapshot>,
    /// How long a snapshot, a restore and a failover take.
    pub snapshot_time: Duration,
    pub restore_time: Duration,
    pub failover_time: Duration,
    /// Snapshots fail half way.
    pub snapshot_fails: bool,
    targets: BTreeMap<String, ScalingBounds>,
}

/// `users-db`'s settings: none of them a default.
pub fn demo_settings() -> DbSettings {
    DbSettings {
        class: "db.r6g.large".into(),
        availability_zone: None,
        subnet_group: Some("users-db-subnets".into()),
        security_groups: vec!["sg-0aaa".into(), "sg-0bbb".into()],
        parameter_group: Some("users-pg15".into()),
        option_group: Some("users-pg15-options".into()),
        multi_az: true,
        network_type: Some("DUAL".into()),
        publicly_accessible: Some(false),
        port: Some(5433),
        storage_type: Some("io1".into()),
        allocated_gb: 100,
        max_allocated_gb: Some(500),
        iops: Some(3000),
        storage_throughput: None,
        dedicated_log_volume: true,
        deletion_protection: true,
        backup_retention_days: 7,
        backup_window: Some("03:00-03:30".into()),
        maintenance_window: Some("sun:05:00-sun:05:30".into()),
        copy_tags_to_snapshot: true,
        auto_minor_version_upgrade: false,
        iam_auth: true,
        log_exports: vec!["postgresql".into(), "upgrade".into()],
        ca_certificate: Some("rds-ca-ecc384-g1".into()),
        license_model: Some("postgresql-license".into()),
        engine_lifecycle_support: Some("open-source-rds-extended-support-disabled".into()),
        managed_master_password: true,
        master_secret_kms_key: Some("alias/users-db-secret".into()),
        monitoring_interval: 30,
        monitoring_role: Some("arn:aws:iam::123456789012:role/rds-monitoring".into()),
        performance_insights: true,
        performance_insights_kms_key: Some("alias/users-db-pi".into()),
        performance_insights_retention_days: Some(31),
        database_insights_mode: Some("standard".into()),
    }
}

impl DbState {
    /// `users-db` with settings that differ from every default, so a restore that forgets
    /// one shows; and a scalable target of 1..6 for `staging-users`.
    pub fn demo() -> Self {
        let instance = DbInstance {
            id: "users-db".into(),
            arn: format!("arn:aws:rds:us-east-1:{}:db:users-db", super::ACCOUNT),
            status: "available".into(),
            engine: "postgres".into(),
            engine_version: "15.7".into(),
            encrypted: true,
            kms_key: Some("arn:aws:kms:us-east-1:123456789012:key/users-db".into()),
            zone: Some("us-east-1a".into()),
            secondary_az: Some("us-east-1b".into()),
            directory: None,
            settings: demo_settings(),
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
            original_created_at: Some(Timestamp::from_second(1_799_900_000).unwrap()),
            encrypted: true,
            kms_key: Some("arn:aws:kms:us-east-1:123456789012:key/users-db".into()),
            source_region: None,
            source_snapshot: None,
            tags: BTreeMap::new(),
        };
        DbState {
            instances: BTreeMap::from([(instance.id.clone(), instance)]),
            restoring: BTreeMap::new(),
            failovers: BTreeMap::new(),
            snapshots: BTreeMap::from([(
                automated.id.clone(),
                FakeSnapshot {
                    snapshot: automated,
                    started: None,
                },
            )]),
            snapshot_time: Duration::from_secs(40),
            restore_time: Duration::from_secs(30),
            failover_time: Duration::from_secs(40),
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
        let failed_over: Vec<String> = self
            .failovers
            .iter()
            .filter(|(_, ready)| now >= **ready)
            .map(|(id, _)| id.clone())
            .collect();
        for id in failed_over {
            self.failovers.remove(&id);
            if let Some(i) = self.instances.get_mut(&id) {
                i.status = "available".into();
                std::mem::swap(&mut i.zone, &mut i.secondary_az);
            }
        }
        for id in done {
            self.restoring.remove(&id);
            if let Some(i) = self.instances.get_mut(&id) {
                i.status = "available".into();
                i.endpoint = Some(format!("{id}.abc.us-east-1.rds.amazonaws.com"));
            }
        }
    }
}

impl super::State {
    /// RDS in `region` (`None`: the home region); another region starts empty, with the
    /// home region's timings.
    fn rds(&mut self, region: &Option<String>) -> &mut DbState {
        match region {
            None => &mut self.db,
            Some(r) => {
                let (snapshot_time, restore_time, failover_time) = (
                    self.db.snapshot_time,
                    self.db.restore_time,
                    self.db.failover_time,
                );
                self.dr.entry(r.clone()).or_insert_with(|| DbState {
                    snapshot_time,
                    restore_time,
                    failover_time,
                    ..DbState::default()
                })
            }
        }
    }
}

/// The fake's home region.
pub const HOME: &str = "us-east-1";

impl Regions for FakeAws {
    fn home(&self) -> Option<String> {
        Some(HOME.into())
    }

    fn database(&self, region: &str) -> std::sync::Arc<dyn Database> {
        std::sync::Arc::new(self.in_region(region))
    }

    fn secrets(&self, region: &str) -> std::sync::Arc<dyn crate::aws::Secrets> {
        std::sync::Arc::new(self.in_region(region))
    }
}

impl FakeAws {
    /// The same fake, its RDS, Secrets Manager and Parameter Store calls going to `region`.
    pub fn in_region(&self, region: &str) -> FakeAws {
        FakeAws {
            region: (region != HOME).then(|| region.to_owned()),
            ..self.clone()
        }
    }

    pub(super) fn region(&self) -> &str {
        self.region.as_deref().unwrap_or(HOME)
    }

    /// An instance as the fake holds it now.
    pub fn db_instance(&self, id: &str) -> Option<DbInstance> {
        self.state
            .lock()
            .unwrap()
            .rds(&self.region)
            .instances
            .get(id)
            .cloned()
    }

    /// A snapshot as the fake holds it now.
    pub fn db_snapshot(&self, id: &str) -> Option<DbSnapshot> {
        let mut s = self.state.lock().unwrap();
        let db = s.rds(&self.region);
        db.advance(Instant::now());
        db.snapshots.get(id).map(|f| f.snapshot.clone())
    }

    /// Puts a manual snapshot of `users-db` in the given status (it stays there).
    pub fn put_db_snapshot(&self, id: &str, status: &str, percent: Option<i32>) {
        let created_at = Some(at(self.epoch, Instant::now()));
        let arn = format!(
            "arn:aws:rds:{}:{}:snapshot:{id}",
            self.region(),
            super::ACCOUNT
        );
        self.state
            .lock()
            .unwrap()
            .rds(&self.region)
            .snapshots
            .insert(
                id.to_owned(),
                FakeSnapshot {
                    snapshot: DbSnapshot {
                        id: id.to_owned(),
                        arn,
                        instance: "users-db".into(),
                        kind: "manual".into(),
                        status: status.to_owned(),
                        percent,
                        size_gb: 100,
                        created_at,
                        original_created_at: created_at,
                        encrypted: true,
                        kms_key: Some(format!(
                            "arn:aws:kms:{}:{}:key/users-db",
                            self.region(),
                            super::ACCOUNT
                        )),
                        source_region: None,
                        source_snapshot: None,
                        tags: BTreeMap::new(),
                    },
                    started: None,
                },
            );
    }

    /// Changes a snapshot as someone else would (no call recorded).
    pub fn set_db_snapshot(&self, id: &str, f: impl FnOnce(&mut DbSnapshot)) {
        let mut s = self.state.lock().unwrap();
        let db = s.rds(&self.region);
        f(&mut db
            .snapshots
            .get_mut(id)
            .expect("the fake has that snapshot")
            .snapshot);
    }

    /// The ids of the snapshots in this fake's region, sorted.
    pub fn db_snapshot_ids(&self) -> Vec<String> {
        let mut s = self.state.lock().unwrap();
        s.rds(&self.region).snapshots.keys().cloned().collect()
    }

    /// Changes an instance as someone else would (no call recorded).
    pub fn set_db_instance(&self, id: &str, f: impl FnOnce(&mut DbInstance)) {
        let mut s = self.state.lock().unwrap();
        let db = s.rds(&self.region);
        f(db.instances
            .get_mut(id)
            .expect("the fake has that instance"));
    }

    pub fn set_db(&self, f: impl FnOnce(&mut DbState)) {
        f(self.state.lock().unwrap().rds(&self.region));
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

    /// The instance a snapshot (here, or a copy of one from the home region) was taken of.
    fn snapshot_source(&self, snapshot: &str) -> AwsResult<DbInstance> {
        let mut s = self.state.lock().unwrap();
        let db = s.rds(&self.region);
        db.advance(Instant::now());
        let snap = db.snapshots.get(snapshot).ok_or_else(|| {
            AwsError::not_found(Resource::DbSnapshot, format!("snapshot {snapshot}"))
        })?;
        if snap.snapshot.status != "available" {
            return Err(AwsError::Invalid(format!(
                "snapshot {snapshot} is {}",
                snap.snapshot.status
            )));
        }
        let instance = snap.snapshot.instance.clone();
        db.instances
            .get(&instance)
            .cloned()
            .or_else(|| s.db.instances.get(&instance).cloned())
            .ok_or_else(|| AwsError::not_found(Resource::DbInstance, "the snapshot's instance"))
    }

    /// A new instance as RDS makes one on a restore: what the call named, and RDS's defaults
    /// for what no restore call takes (`keeps_ceiling`: a point-in-time restore takes the
    /// storage autoscaling ceiling).
    fn new_instance(
        &self,
        r: &RestoreSettings,
        source: &DbInstance,
        keeps_ceiling: bool,
    ) -> AwsResult<DbInstance> {
        let mut state = self.state.lock().unwrap();
        let db = state.rds(&self.region);
        if db.instances.contains_key(&r.target) {
            return Err(AwsError::AlreadyExists(format!(
                "an instance named {} already exists",
                r.target
            )));
        }
        let defaults = DbSettings::default();
        let settings = DbSettings {
            allocated_gb: if r.settings.allocated_gb > 0 {
                r.settings.allocated_gb
            } else {
                source.settings.allocated_gb
            },
            max_allocated_gb: r.settings.max_allocated_gb.filter(|_| keeps_ceiling),
            maintenance_window: Some("mon:00:00-mon:00:30".into()),
            monitoring_interval: defaults.monitoring_interval,
            monitoring_role: defaults.monitoring_role,
            performance_insights: defaults.performance_insights,
            performance_insights_kms_key: defaults.performance_insights_kms_key,
            performance_insights_retention_days: defaults.performance_insights_retention_days,
            database_insights_mode: defaults.database_insights_mode,
            ..r.settings.clone()
        };
        let instance = DbInstance {
            id: r.target.clone(),
            arn: format!(
                "arn:aws:rds:{}:{}:db:{}",
                self.region(),
                super::ACCOUNT,
                r.target
            ),
            status: "creating".into(),
            engine: source.engine.clone(),
            engine_version: source.engine_version.clone(),
            encrypted: source.encrypted,
            kms_key: source.kms_key.clone(),
            zone: r
                .settings
                .availability_zone
                .clone()
                .or_else(|| Some("us-east-1c".into())),
            secondary_az: r.settings.multi_az.then(|| "us-east-1d".into()),
            directory: None,
            settings,
            tags: r.tags.clone(),
            endpoint: None,
            earliest_restorable: None,
            latest_restorable: None,
            created_at: Some(at(self.epoch, Instant::now())),
        };
        let ready = Instant::now() + db.restore_time;
        db.restoring.insert(r.target.clone(), ready);
        db.instances.insert(r.target.clone(), instance.clone());
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
        let db = s.rds(&self.region);
        db.advance(Instant::now());
        Ok(db.instances.get(id).cloned())
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
        let db = s.rds(&self.region);
        let Some(source) = db.instances.get(instance) else {
            return Err(AwsError::not_found(
                Resource::DbInstance,
                format!("RDS instance {instance}"),
            ));
        };
        if db.snapshots.contains_key(snapshot) {
            return Err(AwsError::AlreadyExists(format!(
                "a snapshot named {snapshot} already exists"
            )));
        }
        let created = DbSnapshot {
            id: snapshot.to_owned(),
            arn: format!(
                "arn:aws:rds:{}:{}:snapshot:{snapshot}",
                self.region(),
                super::ACCOUNT
            ),
            instance: instance.to_owned(),
            kind: "manual".into(),
            status: "creating".into(),
            percent: Some(0),
            size_gb: source.settings.allocated_gb,
            created_at,
            original_created_at: created_at,
            encrypted: source.encrypted,
            kms_key: source.kms_key.clone(),
            source_region: None,
            source_snapshot: None,
            tags: tags.clone(),
        };
        db.snapshots.insert(
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
        let db = s.rds(&self.region);
        db.advance(Instant::now());
        Ok(db.snapshots.get(id).map(|f| f.snapshot.clone()))
    }

    async fn list_snapshots(&self, instance: &str) -> AwsResult<Vec<DbSnapshot>> {
        self.record("rds:DescribeDBSnapshots")?;
        let mut s = self.state.lock().unwrap();
        let db = s.rds(&self.region);
        db.advance(Instant::now());
        Ok(db
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
        let source = self.snapshot_source(snapshot)?;
        self.new_instance(settings, &source, false)
    }

    async fn restore_from_snapshot_as_is(
        &self,
        snapshot: &str,
        settings: &RestoreSettings,
    ) -> AwsResult<DbInstance> {
        self.record_change("rds:RestoreDBInstanceFromDBSnapshot")?;
        let source = self.snapshot_source(snapshot)?;
        // What the snapshot holds comes from the original instance; the rest is RDS's
        // defaults; the call named only where the instance goes.
        let s = &source.settings;
        let as_is = RestoreSettings {
            target: settings.target.clone(),
            settings: DbSettings {
                class: s.class.clone(),
                port: s.port,
                storage_type: s.storage_type.clone(),
                allocated_gb: s.allocated_gb,
                iops: s.iops,
                storage_throughput: s.storage_throughput,
                license_model: s.license_model.clone(),
                subnet_group: settings.settings.subnet_group.clone(),
                security_groups: settings.settings.security_groups.clone(),
                parameter_group: settings.settings.parameter_group.clone(),
                option_group: settings.settings.option_group.clone(),
                ..DbSettings::default()
            },
            tags: settings.tags.clone(),
        };
        self.new_instance(&as_is, &source, false)
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
        self.new_instance(settings, &instance, true)
    }

    async fn copy_snapshot(
        &self,
        source_arn: &str,
        target: &str,
        kms_key: Option<&str>,
        tags: &BTreeMap<String, String>,
    ) -> AwsResult<DbSnapshot> {
        self.record_change("rds:CopyDBSnapshot")?;
        let now = Instant::now();
        let created_at = Some(at(self.epoch, now));
        let here = self.region().to_owned();
        let mut s = self.state.lock().unwrap();
        let source_region = source_arn.split(':').nth(3).unwrap_or(HOME).to_owned();
        let from = (source_region != HOME).then(|| source_region.clone());
        let source = s
            .rds(&from)
            .snapshots
            .values()
            .find(|f| f.snapshot.arn == source_arn);
        let Some(source) = source.map(|f| f.snapshot.clone()) else {
            return Err(AwsError::not_found(
                Resource::DbSnapshot,
                format!("snapshot {source_arn}"),
            ));
        };
        if !source.is_available() {
            return Err(AwsError::Invalid(format!(
                "CopyDBSnapshot: snapshot {} is {}",
                source.id, source.status
            )));
        }
        let cross = source_region != here;
        if cross && source.encrypted && kms_key.is_none() {
            return Err(AwsError::Invalid(
                "CopyDBSnapshot: InvalidParameterValue: Must specify new KMS key for cross region encrypted snapshot copy."
                    .into(),
            ));
        }
        if let Some(key) = kms_key
            && key.starts_with("arn:")
            && key.split(':').nth(3) != Some(here.as_str())
        {
            return Err(AwsError::Invalid(format!(
                "CopyDBSnapshot: KMSKeyNotAccessibleFault: {key}"
            )));
        }
        let db = s.rds(&self.region);
        if db.snapshots.contains_key(target) {
            return Err(AwsError::AlreadyExists(format!(
                "a snapshot named {target} already exists"
            )));
        }
        let copy = DbSnapshot {
            id: target.to_owned(),
            arn: format!("arn:aws:rds:{here}:{}:snapshot:{target}", super::ACCOUNT),
            kind: "manual".into(),
            status: "creating".into(),
            percent: Some(0),
            created_at,
            encrypted: source.encrypted,
            kms_key: kms_key.map(str::to_owned).or(source.kms_key.clone()),
            source_region: cross.then_some(source_region),
            source_snapshot: cross.then(|| source.arn.clone()),
            tags: tags.clone(),
            ..source
        };
        db.snapshots.insert(
            target.to_owned(),
            FakeSnapshot {
                snapshot: copy.clone(),
                started: Some(now),
            },
        );
        Ok(copy)
    }

    async fn delete_snapshot(&self, id: &str) -> AwsResult<()> {
        self.record_change("rds:DeleteDBSnapshot")?;
        let mut s = self.state.lock().unwrap();
        let db = s.rds(&self.region);
        match db.snapshots.get(id) {
            None => Err(AwsError::not_found(
                Resource::DbSnapshot,
                format!("snapshot {id}"),
            )),
            Some(f) if f.snapshot.kind != "manual" => Err(AwsError::Invalid(format!(
                "DeleteDBSnapshot: InvalidDBSnapshotState: {id} is an automated snapshot"
            ))),
            Some(_) => {
                db.snapshots.remove(id);
                Ok(())
            }
        }
    }

    async fn failover(&self, id: &str) -> AwsResult<DbInstance> {
        self.record_change("rds:RebootDBInstance")?;
        let mut s = self.state.lock().unwrap();
        let db = s.rds(&self.region);
        db.advance(Instant::now());
        let ready = Instant::now() + db.failover_time;
        let instance = db.instances.get_mut(id).ok_or_else(|| {
            AwsError::not_found(Resource::DbInstance, format!("RDS instance {id}"))
        })?;
        if !instance.settings.multi_az {
            return Err(AwsError::Invalid(format!(
                "RebootDBInstance: ForceFailover needs a Multi-AZ instance; {id} is single-AZ"
            )));
        }
        if !instance.is_available() {
            return Err(AwsError::Invalid(format!(
                "RebootDBInstance: instance {id} is {}",
                instance.status
            )));
        }
        instance.status = "rebooting".into();
        let answer = instance.clone();
        db.failovers.insert(id.to_owned(), ready);
        Ok(answer)
    }

    async fn modify_instance(&self, id: &str, later: &LaterSettings) -> AwsResult<DbInstance> {
        self.record_change("rds:ModifyDBInstance")?;
        let mut s = self.state.lock().unwrap();
        let db = s.rds(&self.region);
        db.advance(Instant::now());
        let instance = db.instances.get_mut(id).ok_or_else(|| {
            AwsError::not_found(Resource::DbInstance, format!("RDS instance {id}"))
        })?;
        if !instance.is_available() {
            return Err(AwsError::Invalid(format!(
                "instance {id} is {}, not available",
                instance.status
            )));
        }
        let settings = &mut instance.settings;
        if let Some((interval, role)) = &later.monitoring {
            settings.monitoring_interval = *interval;
            settings.monitoring_role = role.clone();
        }
        if let Some((enabled, key, days)) = &later.performance_insights {
            settings.performance_insights = *enabled;
            settings.performance_insights_kms_key = key.clone();
            settings.performance_insights_retention_days = *days;
        }
        if let Some(mode) = &later.database_insights_mode {
            settings.database_insights_mode = Some(mode.clone());
        }
        if let Some(window) = &later.maintenance_window {
            settings.maintenance_window = Some(window.clone());
        }
        if let Some(gb) = later.max_allocated_gb {
            settings.max_allocated_gb = Some(gb);
        }
        Ok(instance.clone())
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

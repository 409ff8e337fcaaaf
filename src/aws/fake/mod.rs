//! An in-memory AWS for workflow tests, driven by tokio's (paused) clock.
//!
//! ECS is modelled the way real ECS behaves: a new deployment becomes PRIMARY, its tasks
//! start after `task_start`, the old deployment drains, and the rollout turns COMPLETED. An
//! image whose tag contains `fail_pattern` never starts: the rollout turns FAILED and, with
//! the circuit breaker's rollback on, ECS starts a deployment back to the last good revision
//! after `rollback_delay`. Every call is recorded so tests can prove nothing was changed.
//!
//! This file is the fake's shared state, its fixtures (`staging`, `prod`) and the knobs tests
//! turn; each AWS service's calls are in a file of their own beside it.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;
use tokio::time::Instant;

use super::*;

mod cloudwatch;
pub mod db;
mod ecr;
mod ecs;
mod elb;
mod lock;
mod native;
mod notify;
pub mod run;
mod secrets;

use ecs::{advance, at, start_deployment, view};
pub use notify::{Failing, FakeNotifier};

/// How the fake ECS behaves.
#[derive(Debug, Clone)]
pub struct Behaviour {
    pub task_start: Duration,
    pub fail_pattern: String,
    /// The circuit breaker rolls back on its own.
    pub ecs_rollback: bool,
    pub rollback_delay: Duration,
    /// Rollouts never finish (for timeouts).
    pub stuck: bool,
    /// How long each stage of a native service deployment takes.
    pub native_stage: Duration,
    /// Native deployments pause at the traffic shift for a PAUSE hook's answer.
    pub native_pause: bool,
    /// Targets report unhealthy.
    pub unhealthy_targets: bool,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            task_start: Duration::from_secs(5),
            fail_pattern: "broken".into(),
            ecs_rollback: false,
            rollback_delay: Duration::from_secs(2),
            stuck: false,
            native_stage: Duration::from_secs(10),
            native_pause: false,
            unhealthy_targets: false,
        }
    }
}

#[derive(Debug, Clone)]
struct FakeDeployment {
    id: String,
    task_definition: String,
    primary: bool,
    created: Instant,
    state: RolloutState,
    reason: Option<String>,
    failed_tasks: i32,
    done_at: Option<Instant>,
}

#[derive(Debug, Clone)]
struct FakeService {
    name: String,
    desired: i32,
    deployments: Vec<FakeDeployment>,
    events: Vec<ServiceEvent>,
    target_group: String,
    strategy: DeploymentStrategy,
    /// `deploymentConfiguration`'s bake time and canary/linear steps.
    native_settings: NativeSettings,
    /// The native settings each UpdateService sent, in order (`FakeAws::native_updates`).
    native_updates: Vec<NativeSettings>,
    /// The service deployments of a native strategy, oldest first (`fake/ecs.rs`).
    native: Vec<native::FakeNative>,
}

impl FakeService {
    /// A rolling service settled on `task_definition`: one completed deployment, no events.
    fn settled(
        name: &str,
        deployment: String,
        task_definition: String,
        desired: i32,
        at: Instant,
    ) -> Self {
        FakeService {
            name: name.into(),
            desired,
            deployments: vec![FakeDeployment {
                id: deployment,
                task_definition,
                primary: true,
                created: at,
                state: RolloutState::Completed,
                reason: None,
                failed_tasks: 0,
                done_at: Some(at),
            }],
            events: Vec::new(),
            target_group: tg_arn(name),
            strategy: DeploymentStrategy::Rolling,
            native_settings: NativeSettings::default(),
            native_updates: Vec::new(),
            native: Vec::new(),
        }
    }
}

/// A call that answers with an error (`FakeAws::fail`).
struct Fault {
    call: String,
    after: usize,
    left: u32,
    error: AwsError,
}

#[derive(Default)]
struct State {
    faults: Vec<Fault>,
    services: BTreeMap<String, FakeService>,
    task_defs: Vec<TaskDefinition>,
    images: BTreeMap<(String, String), Image>,
    /// Scans of the `users` images by tag (`fake/ecr.rs`); an image not named is clean.
    scans: BTreeMap<String, ecr::FakeScan>,
    /// (region, ARN or parameter name).
    secrets: HashSet<(String, String)>,
    alarms: BTreeMap<String, Alarm>,
    /// An alarm that goes into ALARM this long after the fake was made.
    alarm_at: Option<(String, Instant)>,
    throttle: u32,
    calls: Vec<String>,
    /// The calls that change AWS, in order: each fake method that changes something says so
    /// where it records itself (`record_change`), so no list of them is kept by hand.
    changes: Vec<String>,
    next_id: u32,
    behaviour: Behaviour,
    /// When the latest rollout reached COMPLETED, to measure how fast the waiter noticed.
    completed_at: Option<Instant>,
    /// The blue/green listener: ARN and `(target group, weight)`.
    listener: Option<(String, Vec<(String, i32)>)>,
    /// Every weight set written, in order.
    weight_log: Vec<Vec<(String, i32)>>,
    /// Target groups whose targets report unhealthy, from a given time.
    unhealthy: Vec<(String, Instant)>,
    metrics: BTreeMap<String, TargetGroupMetrics>,
    /// RDS and Application Auto Scaling (`fake/db.rs`).
    db: db::DbState,
    /// RDS in other regions, by region (`fake/db.rs`).
    dr: BTreeMap<String, db::DbState>,
    /// One-off tasks and their logs (`fake/run.rs`).
    runs: run::RunState,
    /// The deploy lock's records by path (`fake/lock.rs`).
    locks: BTreeMap<String, BTreeMap<u64, String>>,
    /// Task definitions as ECS would describe them, by ARN, where a test set one; the others
    /// are described from their fields.
    documents: BTreeMap<String, serde_json::Value>,
}

/// The fake; clone freely, every clone shares the state.
#[derive(Clone)]
pub struct FakeAws {
    state: Arc<Mutex<State>>,
    epoch: (Instant, Timestamp),
    /// The region its RDS calls go to; `None`: the home region, us-east-1.
    region: Option<String>,
}

pub const ACCOUNT: &str = "123456789012";
pub const REGISTRY: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";

impl FakeAws {
    /// The staging environment of the demo: `staging-users` on revision 2 (v1.1.0) with 2
    /// tasks, images v1.0.0 to v1.3.0 and v1.4.0-broken, one secret, one alarm (OK).
    pub fn staging() -> Self {
        let fake = FakeAws {
            state: Arc::new(Mutex::new(State::default())),
            epoch: (
                Instant::now(),
                Timestamp::from_second(1_800_000_000).unwrap(),
            ),
            region: None,
        };
        {
            let mut s = fake.state.lock().unwrap();
            s.db = db::DbState::demo();
            for (n, tag) in ["v1.0.0", "v1.1.0", "v1.2.0", "v1.3.0", "v1.4.0-broken"]
                .into_iter()
                .enumerate()
            {
                s.images.insert(
                    ("users".into(), tag.into()),
                    Image {
                        uri: format!("{REGISTRY}/users:{tag}"),
                        // A digest per image, as ECR has.
                        digest: format!("sha256:{:0>64}", n + 1),
                    },
                );
            }
            let secret =
                format!("arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:users/db-AbCdEf");
            s.secrets.insert((db::HOME.to_owned(), secret.clone()));
            for (rev, version, previous) in
                [(1, "v1.0.0", None), (2, "v1.1.0", Some("staging-users:1"))]
            {
                let mut tags = BTreeMap::from([
                    (tags_key::VERSION.to_owned(), version.to_owned()),
                    (tags_key::OUTCOME.to_owned(), "succeeded".to_owned()),
                    (tags_key::DEPLOYED_BY.to_owned(), "seed".to_owned()),
                ]);
                if let Some(p) = previous {
                    tags.insert(tags_key::PREVIOUS.to_owned(), p.to_owned());
                }
                s.task_defs.push(TaskDefinition {
                    arn: td_arn("staging-users", rev),
                    family: "staging-users".into(),
                    revision: rev,
                    status: "ACTIVE".into(),
                    containers: vec![
                        Container {
                            name: "users".into(),
                            image: format!("{REGISTRY}/users:{version}"),
                            log: Some(LogConfig {
                                driver: "awslogs".into(),
                                group: Some("/ecs/staging-users".into()),
                                region: Some("us-east-1".into()),
                                prefix: Some("users".into()),
                            }),
                        },
                        Container {
                            name: "log-router".into(),
                            image: "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable"
                                .into(),
                            log: None,
                        },
                    ],
                    secrets: vec![format!("{secret}:password::")],
                    tags,
                    registered_at: None,
                    roles: Vec::new(),
                });
            }
            s.alarms.insert(
                "staging-users-5xx".into(),
                Alarm {
                    name: "staging-users-5xx".into(),
                    state: AlarmState::Ok,
                    reason: "Threshold Crossed: 0 datapoints were greater than the threshold"
                        .into(),
                },
            );
            let start = fake.epoch.0;
            s.services.insert(
                "staging-users".into(),
                FakeService {
                    events: vec![ServiceEvent {
                        id: "e0".into(),
                        at: fake.epoch.1,
                        message: "(service staging-users) has reached a steady state.".into(),
                    }],
                    ..FakeService::settled(
                        "staging-users",
                        "ecs-svc/0001".into(),
                        td_arn("staging-users", 2),
                        2,
                        start,
                    )
                },
            );
        }
        fake
    }

    /// The staging environment plus the blue/green prod pair: `prod-users-blue` live on
    /// `prod-users:2` (v1.1.0, weight 100) and `prod-users-green` on `prod-users:1` (v1.0.0,
    /// weight 0), 3 tasks each, behind one weighted listener.
    pub fn prod() -> Self {
        let fake = FakeAws::staging();
        {
            let mut s = fake.state.lock().unwrap();
            let template = s.task_defs[0].clone();
            for (rev, version) in [(1, "v1.0.0"), (2, "v1.1.0")] {
                let mut td = template.clone();
                td.family = "prod-users".into();
                td.revision = rev;
                td.arn = td_arn("prod-users", rev);
                td.containers[0].image = format!("{REGISTRY}/users:{version}");
                td.tags
                    .insert(tags_key::VERSION.to_owned(), version.to_owned());
                td.tags.remove(tags_key::PREVIOUS);
                s.task_defs.push(td);
            }
            let start = fake.epoch.0;
            for (name, rev) in [("prod-users-blue", 2), ("prod-users-green", 1)] {
                s.services.insert(
                    name.into(),
                    FakeService::settled(
                        name,
                        format!("ecs-svc/{name}"),
                        td_arn("prod-users", rev),
                        3,
                        start,
                    ),
                );
            }
            s.listener = Some((
                LISTENER.into(),
                vec![
                    (tg_arn("prod-users-blue"), 100),
                    (tg_arn("prod-users-green"), 0),
                ],
            ));
            for name in ["prod-users-5xx", "prod-users-p99"] {
                s.alarms.insert(
                    name.into(),
                    Alarm {
                        name: name.into(),
                        state: AlarmState::Ok,
                        reason: "Threshold Crossed".into(),
                    },
                );
            }
        }
        fake
    }

    /// Another service in the cluster, as staging-users is: its own family `name` on
    /// revision 1 (v1.1.0, the same containers), 2 tasks, stable.
    pub fn add_service(&self, name: &str) {
        let mut s = self.state.lock().unwrap();
        let mut td = s
            .task_defs
            .iter()
            .find(|t| t.arn == td_arn("staging-users", 2))
            .expect("the staging fixture")
            .clone();
        td.family = name.into();
        td.revision = 1;
        td.arn = td_arn(name, 1);
        td.tags.remove(tags_key::PREVIOUS);
        s.task_defs.push(td);
        let start = self.epoch.0;
        s.services.insert(
            name.into(),
            FakeService::settled(name, format!("ecs-svc/{name}"), td_arn(name, 1), 2, start),
        );
    }

    /// An image `repository:tag` in ECR.
    pub fn add_image(&self, repository: &str, tag: &str) {
        let mut s = self.state.lock().unwrap();
        let n = s.images.len() + 1;
        s.images.insert(
            (repository.into(), tag.into()),
            Image {
                uri: format!("{REGISTRY}/{repository}:{tag}"),
                digest: format!("sha256:{n:0>64}"),
            },
        );
    }

    /// The listener's weights now, as `(blue, green)`.
    pub fn weights(&self) -> (i32, i32) {
        let s = self.state.lock().unwrap();
        let (_, w) = s.listener.as_ref().expect("a listener");
        let of = |name: &str| {
            w.iter()
                .find(|(t, _)| *t == tg_arn(name))
                .map_or(0, |(_, w)| *w)
        };
        (of("prod-users-blue"), of("prod-users-green"))
    }

    /// Every weight change written, as `(blue, green)`.
    pub fn weight_log(&self) -> Vec<(i32, i32)> {
        let s = self.state.lock().unwrap();
        s.weight_log
            .iter()
            .map(|w| {
                let of = |name: &str| {
                    w.iter()
                        .find(|(t, _)| *t == tg_arn(name))
                        .map_or(0, |(_, w)| *w)
                };
                (of("prod-users-blue"), of("prod-users-green"))
            })
            .collect()
    }

    /// The service's targets turn unhealthy `after` from now.
    pub fn unhealthy_after(&self, service: &str, after: Duration) {
        self.state
            .lock()
            .unwrap()
            .unhealthy
            .push((tg_arn(service), Instant::now() + after));
    }

    /// What CloudWatch reports for the service's target group.
    pub fn set_metrics(&self, service: &str, metrics: TargetGroupMetrics) {
        self.state
            .lock()
            .unwrap()
            .metrics
            .insert(tg_arn(service), metrics);
    }

    /// Sets the service's native settings, as its deploymentConfiguration would hold them.
    pub fn set_native_settings(&self, service: &str, settings: NativeSettings) {
        self.state
            .lock()
            .unwrap()
            .services
            .get_mut(service)
            .unwrap()
            .native_settings = settings;
    }

    /// The native settings each UpdateService sent to the service, oldest first.
    pub fn native_updates(&self, service: &str) -> Vec<NativeSettings> {
        self.state.lock().unwrap().services[service]
            .native_updates
            .clone()
    }

    /// Makes the service deploy with a native ECS strategy.
    pub fn set_strategy(&self, service: &str, strategy: DeploymentStrategy) {
        self.state
            .lock()
            .unwrap()
            .services
            .get_mut(service)
            .unwrap()
            .strategy = strategy;
    }

    pub fn desired(&self, service: &str) -> i32 {
        self.state.lock().unwrap().services[service].desired
    }

    /// The traits, all backed by this fake.
    pub fn aws(&self) -> Aws {
        Aws {
            ecs: Arc::new(self.clone()),
            registry: Arc::new(self.clone()),
            secrets: Arc::new(self.clone()),
            monitoring: Arc::new(self.clone()),
            lb: Arc::new(self.clone()),
            db: Arc::new(self.clone()),
            regions: Arc::new(self.clone()),
            autoscaling: Arc::new(self.clone()),
            logs: Arc::new(self.clone()),
            locks: Arc::new(self.clone()),
            identity: Arc::new(self.clone()),
            notifier: Arc::new(FakeNotifier::default()),
        }
    }

    pub fn set_behaviour(&self, f: impl FnOnce(&mut Behaviour)) {
        f(&mut self.state.lock().unwrap().behaviour);
    }

    /// The next `n` DescribeServices calls are throttled.
    pub fn throttle(&self, n: u32) {
        self.state.lock().unwrap().throttle = n;
    }

    pub fn set_alarm(&self, name: &str, state: AlarmState) {
        let mut s = self.state.lock().unwrap();
        let alarm = s.alarms.get_mut(name).expect("known alarm");
        alarm.state = state;
        alarm.reason = format!("set to {state} by the test");
    }

    /// The alarm goes into ALARM `after` from now.
    pub fn alarm_after(&self, name: &str, after: Duration) {
        self.state.lock().unwrap().alarm_at = Some((name.into(), Instant::now() + after));
    }

    pub fn remove_secrets(&self) {
        self.state.lock().unwrap().secrets.clear();
    }

    /// Adds secret references to every revision (as a log router's `secretOptions` or
    /// `repositoryCredentials` would); they exist only where a test adds them (`add_secret`).
    pub fn reference_missing_secrets(&self, refs: &[&str]) {
        let mut s = self.state.lock().unwrap();
        for td in &mut s.task_defs {
            td.secrets.extend(refs.iter().map(|r| r.to_string()));
        }
    }

    pub fn calls(&self) -> Vec<String> {
        self.state.lock().unwrap().calls.clone()
    }

    /// The calls made that change AWS.
    pub fn mutating_calls(&self) -> Vec<String> {
        self.state.lock().unwrap().changes.clone()
    }

    pub fn count(&self, call: &str) -> usize {
        self.calls().iter().filter(|c| *c == call).count()
    }

    /// Makes the revision describe itself as `document` (ECS's JSON); a deploy's copy keeps
    /// it, with the image changed.
    pub fn set_document(&self, arn: &str, document: serde_json::Value) {
        self.state
            .lock()
            .unwrap()
            .documents
            .insert(arn.to_owned(), document);
    }

    /// The task definition the service's PRIMARY deployment runs.
    pub fn service_task_definition(&self, service: &str) -> String {
        let s = self.state.lock().unwrap();
        s.services[service]
            .deployments
            .iter()
            .find(|d| d.primary)
            .unwrap()
            .task_definition
            .clone()
    }

    pub fn task_definition(&self, arn: &str) -> TaskDefinition {
        let s = self.state.lock().unwrap();
        s.task_defs.iter().find(|t| t.arn == arn).unwrap().clone()
    }

    pub fn remove_tag(&self, arn: &str, key: &str) {
        let mut s = self.state.lock().unwrap();
        let td = s.task_defs.iter_mut().find(|t| t.arn == arn).unwrap();
        td.tags.remove(key);
    }

    pub fn revisions(&self) -> usize {
        self.state.lock().unwrap().task_defs.len()
    }

    /// When the newest rollout reached COMPLETED.
    pub fn completed_at(&self) -> Option<Instant> {
        self.state.lock().unwrap().completed_at
    }

    /// Starts a deployment as someone else would (for in-flight checks).
    /// A deployment of `family:revision` that opsctl did not start (ECS's own rollback, a
    /// console change), under way on the service.
    pub fn start_deployment_of(&self, service: &str, family: &str, revision: i32) {
        let mut s = self.state.lock().unwrap();
        let now = Instant::now();
        start_deployment(&mut s, service, &td_arn(family, revision), now, self.epoch);
    }

    pub fn start_foreign_deployment(&self, service: &str, revision: i32) {
        let mut s = self.state.lock().unwrap();
        let now = Instant::now();
        start_deployment(
            &mut s,
            service,
            &td_arn("staging-users", revision),
            now,
            self.epoch,
        );
    }

    /// Records a call, and answers it with a fault where one is set for it.
    /// Records a call that changes AWS (and may fail as a fault says).
    fn record_change(&self, call: &str) -> AwsResult<()> {
        self.state.lock().unwrap().changes.push(call.to_owned());
        self.record(call)
    }

    fn record(&self, call: &str) -> AwsResult<()> {
        let mut s = self.state.lock().unwrap();
        s.calls.push(call.to_owned());
        let seen = s.calls.iter().filter(|c| *c == call).count();
        if let Some(f) = s
            .faults
            .iter_mut()
            .find(|f| f.call == call && seen > f.after && f.left != 0)
        {
            f.left = f.left.saturating_sub(1);
            return Err(f.error.clone());
        }
        Ok(())
    }

    /// Calls of `call` after its first `after` answer `error`, `times` times (`u32::MAX`:
    /// always). Calls are named as IAM names them (`elbv2:ModifyListener`).
    pub fn fail(&self, call: &str, after: usize, times: u32, error: AwsError) {
        self.state.lock().unwrap().faults.push(Fault {
            call: call.to_owned(),
            after,
            left: times,
            error,
        });
    }
}

use super::tags as tags_key;

pub const LISTENER: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/prod-alb/50dc6c495c0c9188/f2f7dc8efc522ab2";

fn tg_arn(service: &str) -> String {
    format!("arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}:targetgroup/{service}/abc")
}

fn td_arn(family: &str, rev: i32) -> String {
    format!("arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/{family}:{rev}")
}

/// The caller the fake's credentials belong to.
pub const CALLER: &str = "arn:aws:sts::123456789012:assumed-role/deployer/ci-1234";

#[async_trait]
impl Identity for FakeAws {
    async fn caller_arn(&self) -> AwsResult<String> {
        self.record("sts:GetCallerIdentity")?;
        Ok(CALLER.to_owned())
    }
}

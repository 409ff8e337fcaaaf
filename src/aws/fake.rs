//! An in-memory AWS for workflow tests, driven by tokio's (paused) clock.
//!
//! ECS is modelled the way real ECS behaves: a new deployment becomes PRIMARY, its tasks
//! start after `task_start`, the old deployment drains, and the rollout turns COMPLETED. An
//! image whose tag contains `fail_pattern` never starts: the rollout turns FAILED and, with
//! the circuit breaker's rollback on, ECS starts a deployment back to the last good revision
//! after `rollback_delay`. Every call is recorded so tests can prove nothing was changed.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;
use tokio::time::Instant;

use super::*;

pub mod db;

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
    secrets: HashSet<String>,
    alarms: BTreeMap<String, Alarm>,
    /// An alarm that goes into ALARM this long after the fake was made.
    alarm_at: Option<(String, Instant)>,
    throttle: u32,
    calls: Vec<String>,
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
}

/// The fake; clone freely, every clone shares the state.
#[derive(Clone)]
pub struct FakeAws {
    state: Arc<Mutex<State>>,
    epoch: (Instant, Timestamp),
}

/// Calls that change something in AWS.
pub const MUTATING: &[&str] = &[
    "elbv2:ModifyListener",
    "ecs:RegisterTaskDefinition",
    "ecs:UpdateService",
    "ecs:TagResource",
    "cloudwatch:PutMetricData",
    "rds:CreateDBSnapshot",
    "rds:RestoreDBInstanceFromDBSnapshot",
    "rds:RestoreDBInstanceToPointInTime",
    "application-autoscaling:RegisterScalableTarget",
];

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
        };
        {
            let mut s = fake.state.lock().unwrap();
            s.db = db::DbState::demo();
            for tag in ["v1.0.0", "v1.1.0", "v1.2.0", "v1.3.0", "v1.4.0-broken"] {
                s.images.insert(
                    ("users".into(), tag.into()),
                    Image {
                        uri: format!("{REGISTRY}/users:{tag}"),
                        digest: format!("sha256:{:0>64}", tag.len()),
                    },
                );
            }
            let secret =
                format!("arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:users/db-AbCdEf");
            s.secrets.insert(secret.clone());
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
                        },
                        Container {
                            name: "log-router".into(),
                            image: "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable"
                                .into(),
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
                    name: "staging-users".into(),
                    desired: 2,
                    deployments: vec![FakeDeployment {
                        id: "ecs-svc/0001".into(),
                        task_definition: td_arn("staging-users", 2),
                        primary: true,
                        created: start,
                        state: RolloutState::Completed,
                        reason: None,
                        failed_tasks: 0,
                        done_at: Some(start),
                    }],
                    events: vec![ServiceEvent {
                        id: "e0".into(),
                        at: fake.epoch.1,
                        message: "(service staging-users) has reached a steady state.".into(),
                    }],
                    target_group: tg_arn("staging-users"),
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
                    FakeService {
                        name: name.into(),
                        desired: 3,
                        deployments: vec![FakeDeployment {
                            id: format!("ecs-svc/{name}"),
                            task_definition: td_arn("prod-users", rev),
                            primary: true,
                            created: start,
                            state: RolloutState::Completed,
                            reason: None,
                            failed_tasks: 0,
                            done_at: Some(start),
                        }],
                        events: Vec::new(),
                        target_group: tg_arn(name),
                    },
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
            autoscaling: Arc::new(self.clone()),
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
    /// `repositoryCredentials` would), none of which exists.
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
        self.calls()
            .into_iter()
            .filter(|c| MUTATING.contains(&c.as_str()))
            .collect()
    }

    pub fn count(&self, call: &str) -> usize {
        self.calls().iter().filter(|c| *c == call).count()
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

fn at(epoch: (Instant, Timestamp), when: Instant) -> Timestamp {
    let since = when.saturating_duration_since(epoch.0);
    epoch.1 + jiff::SignedDuration::try_from(since).unwrap()
}

fn push_event(
    s: &mut State,
    service: &str,
    when: Instant,
    epoch: (Instant, Timestamp),
    msg: String,
) {
    s.next_id += 1;
    let id = format!("e{}", s.next_id);
    let svc = s.services.get_mut(service).unwrap();
    svc.events.insert(
        0,
        ServiceEvent {
            id,
            at: at(epoch, when),
            message: msg,
        },
    );
}

fn start_deployment(
    s: &mut State,
    service: &str,
    task_definition: &str,
    now: Instant,
    epoch: (Instant, Timestamp),
) -> String {
    s.next_id += 1;
    let id = format!("ecs-svc/{:04}", s.next_id);
    let svc = s.services.get_mut(service).unwrap();
    for d in &mut svc.deployments {
        d.primary = false;
    }
    svc.deployments.insert(
        0,
        FakeDeployment {
            id: id.clone(),
            task_definition: task_definition.to_owned(),
            primary: true,
            created: now,
            state: RolloutState::InProgress,
            reason: None,
            failed_tasks: 0,
            done_at: None,
        },
    );
    let _ = epoch;
    id
}

/// Moves every rollout forward to `now`.
fn advance(s: &mut State, now: Instant, epoch: (Instant, Timestamp)) {
    let b = s.behaviour.clone();
    let names: Vec<String> = s.services.keys().cloned().collect();
    for name in names {
        loop {
            let svc = &s.services[&name];
            let Some(primary) = svc.deployments.iter().find(|d| d.primary).cloned() else {
                break;
            };
            if primary.state != RolloutState::InProgress || b.stuck {
                // A failed rollout with ECS's rollback on: start the rollback once due.
                if primary.state == RolloutState::Failed
                    && b.ecs_rollback
                    && let Some(failed_at) = primary.done_at
                    && now >= failed_at + b.rollback_delay
                {
                    let good = svc
                        .deployments
                        .iter()
                        .find(|d| !d.primary)
                        .map(|d| d.task_definition.clone());
                    if let Some(good) = good {
                        let when = failed_at + b.rollback_delay;
                        push_event(
                            s,
                            &name,
                            when,
                            epoch,
                            format!(
                                "(service {name}) (deployment {}) deployment failed: tasks failed to start.",
                                primary.id
                            ),
                        );
                        let id = start_deployment(s, &name, &good, when, epoch);
                        push_event(
                            s,
                            &name,
                            when,
                            epoch,
                            format!("(service {name}) rolling back to deployment {id}."),
                        );
                        let svc = s.services.get_mut(&name).unwrap();
                        svc.deployments.retain(|d| {
                            d.id == id || d.task_definition == good || d.id == primary.id
                        });
                        continue;
                    }
                }
                break;
            }
            let broken = s
                .task_defs
                .iter()
                .find(|t| t.arn == primary.task_definition)
                .is_some_and(|t| {
                    t.containers
                        .iter()
                        .any(|c| c.image.contains(&b.fail_pattern))
                });
            let due = primary.created + b.task_start;
            if now < due {
                break;
            }
            let desired = s.services[&name].desired;
            if broken {
                if primary.failed_tasks == 0 {
                    push_event(
                        s,
                        &name,
                        due,
                        epoch,
                        format!(
                            "(service {name}) has started {desired} tasks: (task a1) (task a2)."
                        ),
                    );
                    push_event(
                        s,
                        &name,
                        due,
                        epoch,
                        format!(
                            "(service {name}) has stopped {desired} running tasks: (task a1) (task a2)."
                        ),
                    );
                    let svc = s.services.get_mut(&name).unwrap();
                    svc.deployments
                        .iter_mut()
                        .find(|d| d.primary)
                        .unwrap()
                        .failed_tasks = desired;
                }
                let failed_at = primary.created + b.task_start * 2;
                if now < failed_at {
                    break;
                }
                let svc = s.services.get_mut(&name).unwrap();
                let d = svc.deployments.iter_mut().find(|d| d.primary).unwrap();
                d.state = RolloutState::Failed;
                d.failed_tasks = desired.max(3);
                d.reason = Some("ECS deployment circuit breaker: tasks failed to start.".into());
                d.done_at = Some(failed_at);
                continue;
            }
            push_event(
                s,
                &name,
                due,
                epoch,
                format!("(service {name}) has started {desired} tasks: (task b1) (task b2)."),
            );
            push_event(
                s,
                &name,
                due,
                epoch,
                format!("(service {name}) has reached a steady state."),
            );
            push_event(
                s,
                &name,
                due,
                epoch,
                format!(
                    "(service {name}) (deployment {}) deployment completed.",
                    primary.id
                ),
            );
            let svc = s.services.get_mut(&name).unwrap();
            svc.deployments.retain(|d| d.primary);
            let d = &mut svc.deployments[0];
            d.state = RolloutState::Completed;
            d.done_at = Some(due);
            s.completed_at = Some(due);
        }
    }
    if let Some((alarm, when)) = s.alarm_at.clone()
        && now >= when
        && let Some(a) = s.alarms.get_mut(&alarm)
    {
        a.state = AlarmState::Alarm;
        a.reason = "Threshold Crossed: 5xx above 1%".into();
    }
}

fn view(s: &State, svc: &FakeService) -> Service {
    let deployments: Vec<Deployment> = svc
        .deployments
        .iter()
        .map(|d| {
            let running = match d.state {
                RolloutState::Completed => svc.desired,
                _ if !d.primary => svc.desired,
                _ => 0,
            };
            Deployment {
                id: d.id.clone(),
                status: if d.primary {
                    DeploymentStatus::Primary
                } else {
                    DeploymentStatus::Active
                },
                task_definition: d.task_definition.clone(),
                desired: if d.primary { svc.desired } else { 0 },
                running,
                pending: if d.primary && d.state == RolloutState::InProgress {
                    svc.desired
                } else {
                    0
                },
                failed_tasks: d.failed_tasks,
                rollout_state: Some(d.state),
                rollout_reason: d.reason.clone(),
                created_at: None,
            }
        })
        .collect();
    let running: i32 = deployments.iter().map(|d| d.running).sum();
    let pending: i32 = deployments.iter().map(|d| d.pending).sum();
    let _ = s;
    Service {
        name: svc.name.clone(),
        arn: format!("arn:aws:ecs:us-east-1:{ACCOUNT}:service/demo/{}", svc.name),
        status: ServiceStatus::Active,
        desired: svc.desired,
        running,
        pending,
        task_definition: deployments
            .iter()
            .find(|d| d.is_primary())
            .map(|d| d.task_definition.clone())
            .unwrap_or_default(),
        deployments,
        events: svc.events.clone(),
        target_groups: vec![svc.target_group.clone()],
        circuit_breaker: Some(CircuitBreaker {
            enable: true,
            rollback: s.behaviour.ecs_rollback,
        }),
    }
}

#[async_trait]
impl Ecs for FakeAws {
    async fn describe_services(
        &self,
        _cluster: &str,
        services: &[String],
    ) -> AwsResult<Vec<Service>> {
        self.record("ecs:DescribeServices")?;
        let mut s = self.state.lock().unwrap();
        if s.throttle > 0 {
            s.throttle -= 1;
            return Err(AwsError::Throttled("Rate exceeded".into()));
        }
        advance(&mut s, Instant::now(), self.epoch);
        let mut out = Vec::new();
        for name in services {
            let svc = s
                .services
                .get(name)
                .ok_or_else(|| AwsError::not_found(Resource::Service, format!("service {name}")))?;
            out.push(view(&s, svc));
        }
        Ok(out)
    }

    async fn describe_task_definition(&self, task_definition: &str) -> AwsResult<TaskDefinition> {
        self.record("ecs:DescribeTaskDefinition")?;
        let s = self.state.lock().unwrap();
        s.task_defs
            .iter()
            .find(|t| t.arn == task_definition || t.short() == task_definition)
            .cloned()
            .ok_or_else(|| {
                AwsError::not_found(
                    Resource::TaskDefinition,
                    format!("task definition {task_definition}"),
                )
            })
    }

    async fn list_task_definitions(&self, family: &str) -> AwsResult<Vec<String>> {
        self.record("ecs:ListTaskDefinitions")?;
        let s = self.state.lock().unwrap();
        let mut tds: Vec<&TaskDefinition> = s
            .task_defs
            .iter()
            .filter(|t| t.family == family && t.status == "ACTIVE")
            .collect();
        tds.sort_by_key(|t| std::cmp::Reverse(t.revision));
        Ok(tds.into_iter().map(|t| t.arn.clone()).collect())
    }

    async fn register_with_image(
        &self,
        base: &str,
        container: &str,
        image: &str,
        tags: &BTreeMap<String, String>,
    ) -> AwsResult<TaskDefinition> {
        self.record("ecs:RegisterTaskDefinition")?;
        let mut s = self.state.lock().unwrap();
        let mut td = s
            .task_defs
            .iter()
            .find(|t| t.arn == base)
            .cloned()
            .ok_or_else(|| AwsError::not_found(Resource::TaskDefinition, base))?;
        let next = s
            .task_defs
            .iter()
            .filter(|t| t.family == td.family)
            .map(|t| t.revision)
            .max()
            .unwrap_or(0)
            + 1;
        td.revision = next;
        td.arn = td_arn(&td.family, next);
        td.containers
            .iter_mut()
            .find(|c| c.name == container)
            .ok_or_else(|| AwsError::Invalid(format!("no container {container}")))?
            .image = image.to_owned();
        td.tags.extend(tags.clone());
        s.task_defs.push(td.clone());
        Ok(td)
    }

    async fn update_task_definition(
        &self,
        _cluster: &str,
        service: &str,
        task_definition: &str,
    ) -> AwsResult<Service> {
        self.record("ecs:UpdateService")?;
        let mut s = self.state.lock().unwrap();
        let now = Instant::now();
        advance(&mut s, now, self.epoch);
        start_deployment(&mut s, service, task_definition, now, self.epoch);
        Ok(view(&s, &s.services[service]))
    }

    async fn update_revision_and_count(
        &self,
        _cluster: &str,
        service: &str,
        task_definition: &str,
        desired: i32,
    ) -> AwsResult<Service> {
        self.record("ecs:UpdateService")?;
        let mut s = self.state.lock().unwrap();
        let now = Instant::now();
        advance(&mut s, now, self.epoch);
        s.services.get_mut(service).unwrap().desired = desired;
        start_deployment(&mut s, service, task_definition, now, self.epoch);
        Ok(view(&s, &s.services[service]))
    }

    async fn update_desired_count(
        &self,
        _cluster: &str,
        service: &str,
        desired: i32,
    ) -> AwsResult<Service> {
        self.record("ecs:UpdateService")?;
        let mut s = self.state.lock().unwrap();
        s.services.get_mut(service).unwrap().desired = desired;
        Ok(view(&s, &s.services[service]))
    }

    async fn tag_task_definition(
        &self,
        arn: &str,
        tags: &BTreeMap<String, String>,
    ) -> AwsResult<()> {
        self.record("ecs:TagResource")?;
        let mut s = self.state.lock().unwrap();
        let td = s
            .task_defs
            .iter_mut()
            .find(|t| t.arn == arn)
            .ok_or_else(|| AwsError::not_found(Resource::TaskDefinition, arn))?;
        td.tags.extend(tags.clone());
        Ok(())
    }

    async fn stopped_tasks(
        &self,
        _cluster: &str,
        service: &str,
        _limit: usize,
    ) -> AwsResult<Vec<StoppedTask>> {
        self.record("ecs:ListTasks")?;
        let s = self.state.lock().unwrap();
        let svc = &s.services[service];
        Ok(svc
            .deployments
            .iter()
            .filter(|d| d.failed_tasks > 0)
            .map(|d| StoppedTask {
                id: "a1".into(),
                task_definition: d.task_definition.clone(),
                reason: "Essential container in task exited".into(),
                containers: vec!["users: exit 1".into()],
                stopped_at: None,
            })
            .collect())
    }
}

#[async_trait]
impl Registry for FakeAws {
    async fn find_image(&self, repository: &str, tag: &str) -> AwsResult<Option<Image>> {
        self.record("ecr:DescribeImages")?;
        let s = self.state.lock().unwrap();
        if !s.images.keys().any(|(r, _)| r == repository) {
            return Err(AwsError::not_found(
                Resource::Repository,
                format!("repository {repository}"),
            ));
        }
        Ok(s.images.get(&(repository.into(), tag.into())).cloned())
    }
}

#[async_trait]
impl Secrets for FakeAws {
    async fn secret_exists(&self, id: &str) -> AwsResult<bool> {
        self.record("secretsmanager:DescribeSecret")?;
        Ok(self.state.lock().unwrap().secrets.contains(id))
    }

    async fn parameter_exists(&self, name: &str) -> AwsResult<bool> {
        self.record("ssm:DescribeParameters")?;
        Ok(self.state.lock().unwrap().secrets.contains(name))
    }
}

#[async_trait]
impl Monitoring for FakeAws {
    async fn target_group_metrics(
        &self,
        _listener_arn: &str,
        target_group_arn: &str,
        _start: Timestamp,
        _end: Timestamp,
    ) -> AwsResult<TargetGroupMetrics> {
        self.record("cloudwatch:GetMetricData")?;
        let s = self.state.lock().unwrap();
        Ok(s.metrics.get(target_group_arn).copied().unwrap_or_default())
    }

    async fn alarms(&self, names: &[String]) -> AwsResult<Vec<Alarm>> {
        self.record("cloudwatch:DescribeAlarms")?;
        let mut s = self.state.lock().unwrap();
        advance(&mut s, Instant::now(), self.epoch);
        Ok(names
            .iter()
            .filter_map(|n| s.alarms.get(n).cloned())
            .collect())
    }

    async fn put_deployment_marker(
        &self,
        _env: &str,
        _service: &str,
        _version: &str,
    ) -> AwsResult<()> {
        self.record("cloudwatch:PutMetricData")?;
        Ok(())
    }
}

#[async_trait]
impl LoadBalancing for FakeAws {
    async fn target_health(&self, target_group_arn: &str) -> AwsResult<Vec<TargetHealth>> {
        self.record("elbv2:DescribeTargetHealth")?;
        let mut s = self.state.lock().unwrap();
        advance(&mut s, Instant::now(), self.epoch);
        let Some(svc) = s
            .services
            .values()
            .find(|svc| svc.target_group == target_group_arn)
        else {
            return Err(AwsError::not_found(Resource::TargetGroup, target_group_arn));
        };
        let view = view(&s, svc);
        let now = Instant::now();
        let sick = s.behaviour.unhealthy_targets
            || s.unhealthy
                .iter()
                .any(|(tg, at)| tg == target_group_arn && now >= *at);
        let state = if sick {
            TargetState::Unhealthy
        } else {
            TargetState::Healthy
        };
        Ok((0..view.running)
            .map(|i| TargetHealth {
                id: format!("10.0.1.{i}"),
                port: Some(8080),
                state,
                reason: None,
            })
            .collect())
    }

    async fn find_listener(&self, load_balancer: &str, port: i32) -> AwsResult<String> {
        self.record("elbv2:DescribeListeners")?;
        if load_balancer == "prod-alb" && port == 80 {
            Ok(LISTENER.into())
        } else {
            Err(AwsError::not_found(
                Resource::Listener,
                format!("listener on port {port} of {load_balancer}"),
            ))
        }
    }

    async fn target_group_arn(&self, name: &str) -> AwsResult<String> {
        self.record("elbv2:DescribeTargetGroups")?;
        let s = self.state.lock().unwrap();
        s.services
            .values()
            .find(|svc| svc.target_group == name || svc.target_group == tg_arn(name))
            .map(|svc| svc.target_group.clone())
            .ok_or_else(|| {
                AwsError::not_found(Resource::TargetGroup, format!("target group {name}"))
            })
    }

    async fn forward(&self, arn: &str) -> AwsResult<Forward> {
        self.record("elbv2:DescribeListeners")?;
        let s = self.state.lock().unwrap();
        match &s.listener {
            Some((a, weights)) if a == arn => Ok(Forward {
                arn: arn.into(),
                weights: weights.clone(),
            }),
            _ => Err(AwsError::not_found(
                Resource::Listener,
                format!("listener {arn}"),
            )),
        }
    }

    async fn set_weights(&self, arn: &str, weights: &[(String, i32)]) -> AwsResult<()> {
        self.record("elbv2:ModifyListener")?;
        let mut s = self.state.lock().unwrap();
        assert!(
            weights.iter().map(|(_, w)| w).sum::<i32>() > 0,
            "weights must never send traffic nowhere: {weights:?}"
        );
        let Some((a, current)) = s.listener.as_mut() else {
            return Err(AwsError::not_found(Resource::Listener, arn));
        };
        assert_eq!(a, arn);
        *current = weights.to_vec();
        s.weight_log.push(weights.to_vec());
        Ok(())
    }
}

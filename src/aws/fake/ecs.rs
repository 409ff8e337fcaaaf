//! The fake ECS: services whose deployments roll out on the (paused) tokio clock, as the `Behaviour` says.

use super::native::{native_view, start_native};
use super::*;

pub(super) fn at(epoch: (Instant, Timestamp), when: Instant) -> Timestamp {
    let since = when.saturating_duration_since(epoch.0);
    epoch.1 + jiff::SignedDuration::try_from(since).unwrap()
}

pub(super) fn push_event(
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

pub(super) fn start_deployment(
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
pub(super) fn advance(s: &mut State, now: Instant, epoch: (Instant, Timestamp)) {
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
            // As ECS says it: the target group by its whole ARN.
            let target_group = s.services[&name].target_group.clone();
            push_event(
                s,
                &name,
                due,
                epoch,
                format!(
                    "(service {name}) registered {desired} targets in (target-group {target_group})"
                ),
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

pub(super) fn view(s: &State, svc: &FakeService) -> Service {
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
        strategy: svc.strategy,
        native_traffic: None,
        native_settings: svc.native_settings,
        placement: Placement {
            launch_type: Some("FARGATE".into()),
            capacity_providers: Vec::new(),
            platform_version: Some("LATEST".into()),
            subnets: vec!["subnet-0a".into(), "subnet-0b".into()],
            security_groups: vec!["sg-0users".into()],
            public_ip: Some(false),
        },
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
        if services.len() > 10 {
            // As ECS answers a call that names more than it takes.
            return Err(AwsError::Other(
                "InvalidParameterException: services can have at most 10 items".into(),
            ));
        }
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

    async fn task_definition_document(
        &self,
        task_definition: &str,
    ) -> AwsResult<serde_json::Value> {
        let td = self.describe_task_definition(task_definition).await?;
        let s = self.state.lock().unwrap();
        Ok(s.documents.get(&td.arn).cloned().unwrap_or_else(|| {
            let containers: Vec<serde_json::Value> = td
                .containers
                .iter()
                .map(|c| serde_json::json!({ "name": c.name, "image": c.image }))
                .collect();
            serde_json::json!({
                "taskDefinitionArn": td.arn,
                "family": td.family,
                "revision": td.revision,
                "status": td.status,
                "containerDefinitions": containers,
            })
        }))
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
        self.record_change("ecs:RegisterTaskDefinition")?;
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
        if let Some(mut document) = s.documents.get(base).cloned() {
            document["taskDefinitionArn"] = td.arn.clone().into();
            document["revision"] = td.revision.into();
            if let Some(containers) = document["containerDefinitions"].as_array_mut() {
                for c in containers.iter_mut().filter(|c| c["name"] == container) {
                    c["image"] = image.into();
                }
            }
            s.documents.insert(td.arn.clone(), document);
        }
        s.task_defs.push(td.clone());
        Ok(td)
    }

    async fn update_task_definition(
        &self,
        _cluster: &str,
        service: &str,
        task_definition: &str,
    ) -> AwsResult<Service> {
        self.record_change("ecs:UpdateService")?;
        let mut s = self.state.lock().unwrap();
        let now = Instant::now();
        advance(&mut s, now, self.epoch);
        if s.services[service].strategy.is_native() {
            start_native(&mut s, service, task_definition, now, self.epoch);
        } else {
            start_deployment(&mut s, service, task_definition, now, self.epoch);
        }
        Ok(view(&s, &s.services[service]))
    }

    async fn update_native(
        &self,
        _cluster: &str,
        service: &str,
        task_definition: &str,
        settings: &NativeSettings,
    ) -> AwsResult<Service> {
        self.record_change("ecs:UpdateService")?;
        let mut s = self.state.lock().unwrap();
        let now = Instant::now();
        advance(&mut s, now, self.epoch);
        let svc = s.services.get_mut(service).unwrap();
        svc.native_updates.push(*settings);
        let live = &mut svc.native_settings;
        live.bake_minutes = settings.bake_minutes.or(live.bake_minutes);
        for (given, kept) in [
            (settings.canary, &mut live.canary),
            (settings.linear, &mut live.linear),
        ] {
            if let Some(step) = given {
                let was = kept.unwrap_or_default();
                *kept = Some(crate::aws::TrafficStep {
                    percent: step.percent.or(was.percent),
                    bake_minutes: step.bake_minutes.or(was.bake_minutes),
                });
            }
        }
        if svc.strategy.is_native() {
            start_native(&mut s, service, task_definition, now, self.epoch);
        } else {
            start_deployment(&mut s, service, task_definition, now, self.epoch);
        }
        Ok(view(&s, &s.services[service]))
    }

    async fn update_revision_and_count(
        &self,
        _cluster: &str,
        service: &str,
        task_definition: &str,
        desired: i32,
    ) -> AwsResult<Service> {
        self.record_change("ecs:UpdateService")?;
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
        self.record_change("ecs:UpdateService")?;
        let mut s = self.state.lock().unwrap();
        s.services.get_mut(service).unwrap().desired = desired;
        Ok(view(&s, &s.services[service]))
    }

    async fn tag_task_definition(
        &self,
        arn: &str,
        tags: &BTreeMap<String, String>,
    ) -> AwsResult<()> {
        self.record_change("ecs:TagResource")?;
        let mut s = self.state.lock().unwrap();
        let td = s
            .task_defs
            .iter_mut()
            .find(|t| t.arn == arn)
            .ok_or_else(|| AwsError::not_found(Resource::TaskDefinition, arn))?;
        td.tags.extend(tags.clone());
        Ok(())
    }

    async fn latest_service_deployment(
        &self,
        _cluster: &str,
        service: &str,
        since: Timestamp,
    ) -> AwsResult<Option<String>> {
        self.record("ecs:ListServiceDeployments")?;
        let s = self.state.lock().unwrap();
        Ok(s.services[service]
            .native
            .iter()
            .rev()
            .find(|d| d.created_at >= since)
            .map(|d| d.arn.clone()))
    }

    async fn describe_service_deployment(&self, arn: &str) -> AwsResult<ServiceDeployment> {
        self.record("ecs:DescribeServiceDeployments")?;
        let mut s = self.state.lock().unwrap();
        native_view(&mut s, arn, Instant::now()).ok_or_else(|| {
            AwsError::not_found(Resource::Other, format!("service deployment {arn}"))
        })
    }

    async fn stop_service_deployment(&self, arn: &str) -> AwsResult<()> {
        self.record_change("ecs:StopServiceDeployment")?;
        let mut s = self.state.lock().unwrap();
        let dep = s
            .services
            .values_mut()
            .flat_map(|svc| svc.native.iter_mut())
            .find(|d| d.arn == arn)
            .ok_or_else(|| AwsError::not_found(Resource::Other, arn))?;
        if dep.ended.is_some() {
            return Err(AwsError::Invalid(format!("{arn} has ended")));
        }
        // As an answer of ROLLBACK: the fake then reports it rolled back.
        dep.fails = false;
        dep.answered = Some((Instant::now(), true));
        Ok(())
    }

    async fn continue_service_deployment(
        &self,
        arn: &str,
        hook_id: &str,
        rollback: bool,
    ) -> AwsResult<()> {
        self.record_change("ecs:ContinueServiceDeployment")?;
        let mut s = self.state.lock().unwrap();
        let dep = s
            .services
            .values_mut()
            .flat_map(|svc| svc.native.iter_mut())
            .find(|d| d.arn == arn)
            .ok_or_else(|| AwsError::not_found(Resource::Other, arn))?;
        if hook_id != "pause-hook" || dep.answered.is_some() {
            return Err(AwsError::Invalid(format!(
                "hook {hook_id} is not awaiting action"
            )));
        }
        dep.answered = Some((Instant::now(), rollback));
        Ok(())
    }

    async fn run_task(&self, request: &RunRequest) -> AwsResult<OneOffTask> {
        self.record_change("ecs:RunTask")?;
        Ok(self.start_run(request))
    }

    async fn describe_task(
        &self,
        _cluster: &str,
        arn: &str,
        _container: &str,
    ) -> AwsResult<Option<OneOffTask>> {
        self.record("ecs:DescribeTasks")?;
        Ok(self.run_view(arn))
    }

    async fn stop_task(&self, _cluster: &str, arn: &str, reason: &str) -> AwsResult<()> {
        self.record_change("ecs:StopTask")?;
        self.stop_run(arn, reason);
        Ok(())
    }

    /// The fake's services have no tasks of their own; one-off tasks belong to none, as on
    /// AWS (ListTasks by service name does not list them).
    async fn task_ids(&self, _cluster: &str, _service: &str) -> AwsResult<Vec<String>> {
        self.record("ecs:ListTasks")?;
        Ok(Vec::new())
    }

    async fn running_tasks(&self, _cluster: &str, service: &str) -> AwsResult<Vec<RunningTask>> {
        self.record("ecs:ListTasks")?;
        let mut s = self.state.lock().unwrap();
        advance(&mut s, Instant::now(), self.epoch);
        let running = s
            .services
            .get(service)
            .map_or(0, |svc| view(&s, svc).running);
        // Spread over two zones in turn, at the addresses `target_health` reports.
        Ok((0..running)
            .map(|i| RunningTask {
                id: format!("task{i}"),
                zone: Some(
                    if i % 2 == 0 {
                        "us-east-1a"
                    } else {
                        "us-east-1b"
                    }
                    .into(),
                ),
                ip: Some(format!("10.0.1.{i}")),
            })
            .collect())
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
                last_lines: Vec::new(),
            })
            .collect())
    }
}

//! The domain types' rules: the container a deploy changes, target counts, unknown words,
//! "steady".

use super::*;

fn td(containers: &[&str]) -> TaskDefinition {
    TaskDefinition {
        arn: "arn:aws:ecs:eu-west-1:1:task-definition/users:7".into(),
        family: "users".into(),
        revision: 7,
        status: "ACTIVE".into(),
        containers: containers
            .iter()
            .map(|n| Container {
                name: (*n).into(),
                image: format!("{n}:1"),
                log: None,
            })
            .collect(),
        secrets: Vec::new(),
        tags: BTreeMap::new(),
        registered_at: None,
        roles: Vec::new(),
    }
}

#[test]
fn the_container_a_deploy_changes_is_named_or_the_only_one_never_the_first() {
    let one = td(&["users"]);
    assert_eq!(one.container_for(None).unwrap().name, "users");
    let two = td(&["envoy", "users"]);
    assert_eq!(two.container_for(Some("users")).unwrap().name, "users");
    let ambiguous = two.container_for(None).unwrap_err();
    assert_eq!(
        ambiguous.to_string(),
        "users:7 has 2 containers (envoy, users) and opsctl.toml does not say which one to change"
    );
    let missing = one.container_for(Some("api")).unwrap_err();
    assert_eq!(
        missing.to_string(),
        "container `api` is not in users:7 (it has: users)"
    );
}

fn target(state: &str) -> TargetHealth {
    TargetHealth {
        id: "10.0.0.1".into(),
        port: Some(8080),
        state: TargetState::from_aws(state),
        reason: None,
    }
}

#[test]
fn targets_on_their_way_out_or_unused_do_not_count() {
    let tally = TargetTally::of(&[
        target("healthy"),
        target("healthy"),
        target("draining"),
        target("unhealthy.draining"),
        target("unused"),
    ]);
    assert_eq!(
        tally,
        TargetTally {
            healthy: 2,
            in_service: 2,
            draining: 2
        }
    );
    assert!(tally.all_healthy());
    assert!(!TargetTally::of(&[target("healthy"), target("initial")]).all_healthy());
    assert!(
        !TargetTally::of(&[target("unused")]).all_healthy(),
        "none in service"
    );
}

#[test]
fn unknown_words_read_as_the_state_that_stops() {
    assert_eq!(TargetState::from_aws("new-state"), TargetState::Unavailable);
    assert_eq!(AlarmState::from_aws("ALARM"), AlarmState::Alarm);
    assert_eq!(ServiceStatus::from_aws("PAUSED"), ServiceStatus::Inactive);
    assert_eq!(DeploymentStatus::from_aws(""), DeploymentStatus::Inactive);
    assert_eq!(
        serde_json::to_string(&TargetState::UnhealthyDraining).unwrap(),
        "\"unhealthy.draining\""
    );
}

fn deployment(id: &str, td: &str, rollout: Option<RolloutState>) -> Deployment {
    Deployment {
        id: id.into(),
        status: DeploymentStatus::Primary,
        task_definition: td.into(),
        desired: 2,
        running: 2,
        pending: 0,
        failed_tasks: 0,
        rollout_state: rollout,
        rollout_reason: None,
        created_at: None,
    }
}

fn service(deployments: Vec<Deployment>, running: i32) -> Service {
    Service {
        name: "users".into(),
        arn: "arn".into(),
        status: ServiceStatus::Active,
        desired: 2,
        running,
        pending: 0,
        task_definition: "users:6".into(),
        deployments,
        events: Vec::new(),
        target_groups: Vec::new(),
        circuit_breaker: None,
        strategy: DeploymentStrategy::Rolling,
        native_traffic: None,
        native_settings: NativeSettings::default(),
        placement: Placement::default(),
    }
}

#[test]
fn steady_means_the_rollout_is_done_and_the_counts_converged() {
    let done = service(
        vec![deployment("d1", "users:7", Some(RolloutState::Completed))],
        2,
    );
    assert!(done.is_steady());
    assert_eq!(done.current_task_definition(), "users:7");
    let rolling = service(
        vec![deployment("d1", "users:7", Some(RolloutState::InProgress))],
        2,
    );
    assert!(!rolling.is_steady());
    let mut old = deployment("d0", "users:6", None);
    old.status = DeploymentStatus::Active;
    let two = service(vec![deployment("d1", "users:7", None), old], 2);
    assert!(!two.is_steady(), "no rollout state and two deployments");
    let short = service(vec![deployment("d1", "users:7", None)], 1);
    assert!(!short.is_steady(), "running below desired");
    let none = service(Vec::new(), 2);
    assert!(!none.is_steady());
    assert_eq!(none.current_task_definition(), "users:6");
}

#[test]
fn stopped_tasks_with_the_same_reason_and_exits_are_said_once() {
    let task = |id: &str, reason: &str, lines: &[&str]| StoppedTask {
        id: id.into(),
        task_definition: "users:8".into(),
        reason: reason.into(),
        containers: vec!["users: exit 1".into(), "log-router: exit 0".into()],
        stopped_at: None,
        last_lines: lines.iter().map(|l| (*l).to_owned()).collect(),
    };
    let tasks = [
        task("a1", "Essential container in task exited", &[]),
        task(
            "b2",
            "Essential container in task exited",
            &["panic: no DATABASE_URL"],
        ),
        task("c3", "Task failed ELB health checks", &[]),
    ];
    struct Shown<'a>(&'a [StoppedTask]);
    impl std::fmt::Display for Shown<'_> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            StoppedTask::write_all(self.0, f, "  ")
        }
    }
    let text = Shown(&tasks).to_string();
    assert_eq!(
        text,
        "  2 stopped tasks (a1, b2): Essential container in task exited\n\
         \x20   users: exit 1\n\
         \x20   log-router: exit 0\n\
         \x20   the last lines of b2:\n\
         \x20     panic: no DATABASE_URL\n\
         \x20 stopped task c3: Task failed ELB health checks\n\
         \x20   users: exit 1\n\
         \x20   log-router: exit 0\n",
    );
    assert_eq!(
        text.matches("log-router: exit 0").count(),
        2,
        "once per group"
    );
}

#[test]
fn arns_in_service_events_are_shortened_to_names() {
    let event = "registered 3 targets in (target-group arn:aws:elasticloadbalancing:us-east-1:199378345542:targetgroup/prod-users-green/edc96bd67cd8ed41)";
    assert_eq!(
        short_arns(event),
        "registered 3 targets in (target-group prod-users-green)"
    );
    assert_eq!(
        short_arns(
            "task arn:aws:ecs:us-east-1:1:task-definition/prod-users:3, service arn:aws:ecs:us-east-1:1:service/demo/prod-users-blue"
        ),
        "task prod-users:3, service prod-users-blue"
    );
    assert_eq!(short_arns("no arn here"), "no arn here");
}

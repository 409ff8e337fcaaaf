//! The ECS adapter against canned SDK responses: what it sends and how it reads answers.

use aws_sdk_ecs::operation::describe_services::DescribeServicesOutput;
use aws_sdk_ecs::operation::describe_task_definition::{
    DescribeTaskDefinitionError, DescribeTaskDefinitionOutput,
};
use aws_sdk_ecs::operation::register_task_definition::RegisterTaskDefinitionOutput;
use aws_sdk_ecs::types::{
    ContainerDefinition, Deployment as SdkDeployment, DeploymentRolloutState, Failure, HealthCheck,
    KeyValuePair, LogConfiguration, LogDriver, NetworkMode, RuntimePlatform, Secret,
    Service as SdkService, ServiceEvent as SdkEvent, Tag, TaskDefinition as SdkTd, Volume,
};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use aws_smithy_types::error::ErrorMetadata;

use super::convert::secret_references;
use super::*;

#[test]
fn every_kind_of_secret_reference_is_found_once() {
    let secret = |v: &str| {
        ecs::Secret::builder()
            .name("X")
            .value_from(v)
            .build()
            .unwrap()
    };
    let td = ecs::TaskDefinition::builder()
        .container_definitions(
            ecs::ContainerDefinition::builder()
                .name("users")
                .secrets(secret(
                    "arn:aws:secretsmanager:us-east-1:1:secret:db-Ab:password::",
                ))
                .repository_credentials(
                    ecs::RepositoryCredentials::builder()
                        .credentials_parameter("arn:aws:secretsmanager:us-east-1:1:secret:reg-Cd")
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .container_definitions(
            ecs::ContainerDefinition::builder()
                .name("log-router")
                .secrets(secret(
                    "arn:aws:secretsmanager:us-east-1:1:secret:db-Ab:password::",
                ))
                .log_configuration(
                    ecs::LogConfiguration::builder()
                        .log_driver(ecs::LogDriver::Awsfirelens)
                        .secret_options(secret("/logs/api-key"))
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .build();
    assert_eq!(
        secret_references(&td),
        [
            "arn:aws:secretsmanager:us-east-1:1:secret:db-Ab:password::",
            "arn:aws:secretsmanager:us-east-1:1:secret:reg-Cd",
            "/logs/api-key",
        ]
    );
}

fn base_td() -> SdkTd {
    let users = ContainerDefinition::builder()
        .name("users")
        .image("123.dkr.ecr.us-east-1.amazonaws.com/users:v1.1.0")
        .environment(KeyValuePair::builder().name("PORT").value("8080").build())
        .secrets(
            Secret::builder()
                .name("DB_CREDENTIALS")
                .value_from("arn:aws:secretsmanager:us-east-1:123:secret:users/db-AbCdEf")
                .build()
                .unwrap(),
        )
        .health_check(
            HealthCheck::builder()
                .command("CMD")
                .command("/usr/local/bin/users-service")
                .command("healthcheck")
                .build()
                .unwrap(),
        )
        .log_configuration(
            LogConfiguration::builder()
                .log_driver(LogDriver::Awslogs)
                .options("awslogs-group", "/ecs/users")
                .build()
                .unwrap(),
        )
        .build();
    let sidecar = ContainerDefinition::builder()
        .name("log-router")
        .image("public.ecr.aws/aws-observability/aws-for-fluent-bit:stable")
        .build();
    SdkTd::builder()
        .task_definition_arn("arn:aws:ecs:us-east-1:123:task-definition/users:2")
        .family("users")
        .revision(2)
        .container_definitions(users)
        .container_definitions(sidecar)
        .network_mode(NetworkMode::Awsvpc)
        .cpu("512")
        .memory("1024")
        .execution_role_arn("arn:aws:iam::123:role/users-execution")
        .task_role_arn("arn:aws:iam::123:role/users-task")
        .volumes(Volume::builder().name("tmp").build())
        .runtime_platform(RuntimePlatform::builder().build())
        .build()
}

#[tokio::test]
async fn register_copies_every_field_and_changes_only_the_image() {
    let describe = mock!(aws_sdk_ecs::Client::describe_task_definition).then_output(|| {
        DescribeTaskDefinitionOutput::builder()
            .task_definition(base_td())
            .tags(Tag::builder().key("app").value("users").build())
            .build()
    });
    let register = mock!(aws_sdk_ecs::Client::register_task_definition)
        .match_requests(|req| {
            let base = base_td();
            let containers = req.container_definitions();
            let users = &containers[0];
            let mut expected_users = base.container_definitions()[0].clone();
            expected_users.image = Some("123.dkr.ecr.us-east-1.amazonaws.com/users:v1.2.0".into());
            let tag = |k: &str| {
                req.tags()
                    .iter()
                    .find(|t| t.key() == Some(k))
                    .and_then(|t| t.value())
            };
            *users == expected_users
                && containers[1] == base.container_definitions()[1]
                && req.family() == Some("users")
                && req.cpu() == Some("512")
                && req.memory() == Some("1024")
                && req.network_mode() == Some(&NetworkMode::Awsvpc)
                && req.execution_role_arn() == base.execution_role_arn()
                && req.task_role_arn() == base.task_role_arn()
                && req.volumes() == base.volumes()
                && req.runtime_platform() == base.runtime_platform()
                && tag("app") == Some("users")
                && tag("opsctl:version") == Some("v1.2.0")
        })
        .then_output(|| {
            let mut td = base_td();
            td.revision = 3;
            td.task_definition_arn =
                Some("arn:aws:ecs:us-east-1:123:task-definition/users:3".into());
            RegisterTaskDefinitionOutput::builder()
                .task_definition(td)
                .build()
        });
    let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&describe, &register]);
    let tags = BTreeMap::from([("opsctl:version".to_owned(), "v1.2.0".to_owned())]);
    let new = SdkEcs(client)
        .register_with_image(
            "users:2",
            "users",
            "123.dkr.ecr.us-east-1.amazonaws.com/users:v1.2.0",
            &tags,
        )
        .await
        .expect("the request matched: only the image changed");
    assert_eq!(new.short(), "users:3");
    assert_eq!(register.num_calls(), 1);
}

#[tokio::test]
async fn describe_services_reads_deployments_events_and_missing_services() {
    let found = mock!(aws_sdk_ecs::Client::describe_services)
        .match_requests(|req| req.services() == ["web"])
        .then_output(|| {
            DescribeServicesOutput::builder()
                .services(
                    SdkService::builder()
                        .service_name("web")
                        .status("ACTIVE")
                        .desired_count(2)
                        .running_count(1)
                        .task_definition("arn:aws:ecs:us-east-1:123:task-definition/web:5")
                        .deployments(
                            SdkDeployment::builder()
                                .id("ecs-svc/1")
                                .status("PRIMARY")
                                .task_definition("arn:aws:ecs:us-east-1:123:task-definition/web:5")
                                .desired_count(2)
                                .running_count(1)
                                .rollout_state(DeploymentRolloutState::Failed)
                                .rollout_state_reason(
                                    "ECS deployment circuit breaker: tasks failed to start.",
                                )
                                .build(),
                        )
                        .events(
                            SdkEvent::builder()
                                .id("e1")
                                .message("(service web) has started 1 tasks.")
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
    let missing = mock!(aws_sdk_ecs::Client::describe_services)
        .match_requests(|req| req.services() == ["gone"])
        .then_output(|| {
            DescribeServicesOutput::builder()
                .failures(
                    Failure::builder()
                        .arn("arn:aws:ecs:us-east-1:123:service/demo/gone")
                        .reason("MISSING")
                        .build(),
                )
                .build()
        });
    let ecs = SdkEcs(mock_client!(
        aws_sdk_ecs,
        RuleMode::MatchAny,
        [&found, &missing]
    ));
    let web = ecs
        .describe_services("demo", &["web".to_owned()])
        .await
        .unwrap();
    let primary = web[0].primary().unwrap();
    assert_eq!(primary.rollout_state, Some(RolloutState::Failed));
    assert!(
        primary
            .rollout_reason
            .as_deref()
            .unwrap()
            .contains("circuit breaker")
    );
    assert_eq!(
        web[0].events[0].message,
        "(service web) has started 1 tasks."
    );
    let err = ecs
        .describe_services("demo", &["gone".to_owned()])
        .await
        .unwrap_err();
    assert!(
        matches!(err, AwsError::NotFound(_, ref m) if m.contains("gone")),
        "{err:?}"
    );
}

#[tokio::test]
async fn errors_are_sorted_by_code() {
    let throttled = mock!(aws_sdk_ecs::Client::describe_task_definition)
        .match_requests(|req| req.task_definition() == Some("a:1"))
        .then_error(|| {
            DescribeTaskDefinitionError::generic(
                ErrorMetadata::builder()
                    .code("ThrottlingException")
                    .message("Rate exceeded")
                    .build(),
            )
        });
    let unknown = mock!(aws_sdk_ecs::Client::describe_task_definition)
        .match_requests(|req| req.task_definition() == Some("b:9"))
        .then_error(|| {
            DescribeTaskDefinitionError::generic(
                ErrorMetadata::builder()
                    .code("ClientException")
                    .message("Unable to describe task definition.")
                    .build(),
            )
        });
    let ecs = SdkEcs(mock_client!(
        aws_sdk_ecs,
        RuleMode::MatchAny,
        [&throttled, &unknown]
    ));
    let err = ecs.describe_task_definition("a:1").await.unwrap_err();
    assert!(
        matches!(err, AwsError::Throttled(ref m) if m.contains("Rate exceeded")),
        "{err:?}"
    );
    let err = ecs.describe_task_definition("b:9").await.unwrap_err();
    assert!(
        matches!(err, AwsError::NotFound(_, ref m) if m.contains("b:9")),
        "{err:?}"
    );
}

/// A revision with every field a registration can take set, as DescribeTaskDefinition could
/// return it (but inference accelerators, which ECS no longer takes).
fn full_td() -> SdkTd {
    use aws_sdk_ecs::types::{
        Compatibility, CpuArchitecture, EphemeralStorage, IpcMode, OsFamily, PidMode,
        ProxyConfiguration, TaskDefinitionPlacementConstraint,
        TaskDefinitionPlacementConstraintType,
    };
    let mut td = base_td();
    td.placement_constraints = Some(vec![
        TaskDefinitionPlacementConstraint::builder()
            .r#type(TaskDefinitionPlacementConstraintType::MemberOf)
            .expression("attribute:ecs.os-type == linux")
            .build(),
    ]);
    td.requires_compatibilities = Some(vec![Compatibility::Fargate]);
    td.pid_mode = Some(PidMode::Task);
    td.ipc_mode = Some(IpcMode::None);
    td.proxy_configuration = Some(
        ProxyConfiguration::builder()
            .container_name("envoy")
            .build()
            .unwrap(),
    );
    td.ephemeral_storage = Some(EphemeralStorage::builder().size_in_gib(40).build());
    td.runtime_platform = Some(
        RuntimePlatform::builder()
            .cpu_architecture(CpuArchitecture::Arm64)
            .operating_system_family(OsFamily::Linux)
            .build(),
    );
    td.enable_fault_injection = Some(true);
    td
}

/// A deploy copies the live revision through the SDK's typed input: a member of
/// RegisterTaskDefinition the copy leaves unset is lost, silently, on every deploy. The members
/// are read off the input of the SDK crate this build uses, so updating the crate fails here
/// until each new member is copied (or named below with the reason it is not).
#[test]
fn every_member_of_register_task_definition_input_is_copied() {
    const NOT_COPIED: &[(&str, &str)] = &[(
        "inference_accelerators",
        "Elastic Inference is retired: ECS refuses revisions that name accelerators",
    )];
    let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, []);
    let td = full_td();
    let tags = BTreeMap::from([("app".to_owned(), "users".to_owned())]);
    let request = client.register_task_definition().copy_of(
        &td,
        td.container_definitions.clone().unwrap(),
        &tags,
    );
    let members = crate::aws::sdk::model::input_parameters(&format!("{:#?}", request.as_input()));
    assert!(
        members.iter().any(|(m, _)| m == "family") && members.len() >= 18,
        "read the input's members: {members:?}"
    );
    let mut problems = Vec::new();
    for (member, set) in &members {
        let excepted = NOT_COPIED.iter().any(|(n, _)| n == member);
        match (set, excepted) {
            (Some(false), false) => problems.push(format!(
                "{member} is not copied: a deploy would drop it (copy it in CopyOf::copy_of, \
                 and set it in full_td)"
            )),
            (Some(true), true) => problems.push(format!("{member} is copied and in NOT_COPIED")),
            _ => {}
        }
    }
    for (name, _) in NOT_COPIED {
        assert!(
            members.iter().any(|(m, _)| m == name),
            "NOT_COPIED names {name}, which the input no longer has"
        );
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

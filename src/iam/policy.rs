//! The policy builder: one function per AWS service, each granting what that service's
//! adapter calls for this environment, scoped as far as IAM allows.

use serde_json::json;

use super::{Policy, Scope, Statement, allow};
use crate::config::EnvConfig;

/// Makes an ARN in the scope's partition, region and account: `arn(service, resource)`.
type Arn<'a> = dyn Fn(&str, &str) -> String + 'a;

/// The policy for `env` within `scope`.
pub fn policy(env: &EnvConfig, scope: &Scope) -> Policy {
    let Scope {
        partition: p,
        region: r,
        account: a,
        ..
    } = scope;
    let arn = |service: &str, resource: &str| format!("arn:{p}:{service}:{r}:{a}:{resource}");
    Policy {
        version: "2012-10-17",
        statement: [
            ecs(env, scope, &arn),
            ecr(env, scope, &arn),
            pass_role(scope),
            secrets(scope),
            cloudwatch(env, &arn),
            elb(env, scope, &arn),
            rds(env, scope, &arn),
            autoscaling(env),
            logs(&arn),
            lock(env, &arn),
            sns(env),
        ]
        .concat(),
    }
}

/// ECS: the services, their task-definition families, their tasks.
fn ecs(env: &EnvConfig, scope: &Scope, arn: &Arn) -> Vec<Statement> {
    let cluster = env
        .cluster
        .rsplit_once("cluster/")
        .map_or(env.cluster.as_str(), |(_, name)| name);
    let cluster_arn = if env.cluster.starts_with("arn:") {
        env.cluster.clone()
    } else {
        arn("ecs", &format!("cluster/{cluster}"))
    };
    let service_arns: Vec<String> = env
        .services()
        .iter()
        .map(|s| {
            if s.starts_with("arn:") {
                (*s).to_owned()
            } else {
                arn("ecs", &format!("service/{cluster}/{s}"))
            }
        })
        .collect();
    // Services ECS deploys itself: their service deployments, one per deploy.
    let deployment_arns: Vec<String> = env
        .services()
        .iter()
        .map(|s| {
            let name = s.rsplit('/').next().unwrap_or(s);
            arn("ecs", &format!("service-deployment/{cluster}/{name}/*"))
        })
        .collect();
    let native = scope.native != Some(false);
    let mut service_actions = vec!["ecs:DescribeServices", "ecs:UpdateService"];
    if native {
        service_actions.push("ecs:ListServiceDeployments");
    }
    let mut st = vec![allow(
        "EcsReadAndUpdateTheServices",
        &service_actions,
        service_arns,
    )];
    if native {
        st.push(allow(
            "EcsFollowAndAnswerTheServicesDeployments",
            &[
                "ecs:DescribeServiceDeployments",
                "ecs:ContinueServiceDeployment",
                "ecs:StopServiceDeployment",
            ],
            deployment_arns,
        ));
    }
    // The revisions of the env's families (all, where the scope names none).
    let family_arns: Vec<String> = if scope.families.is_empty() {
        vec![arn("ecs", "task-definition/*")]
    } else {
        scope
            .families
            .iter()
            .map(|f| arn("ecs", &format!("task-definition/{f}:*")))
            .collect()
    };
    st.extend([
        allow(
            "EcsTaskDefinitionCallsWithoutResourceScope",
            &[
                "ecs:DescribeTaskDefinition",
                "ecs:ListTaskDefinitions",
                "ecs:RegisterTaskDefinition",
            ],
            vec!["*".into()],
        ),
        allow(
            "EcsTagTheFamiliesRevisions",
            &["ecs:TagResource"],
            family_arns.clone(),
        ),
        Statement {
            condition: Some(json!({ "ArnEquals": { "ecs:cluster": cluster_arn } })),
            ..allow(
                "EcsListTheServicesTasksInTheCluster",
                &["ecs:ListTasks"],
                vec!["*".into()],
            )
        },
        allow(
            "EcsDescribeTasksInTheCluster",
            &["ecs:DescribeTasks"],
            vec![arn("ecs", &format!("task/{cluster}/*"))],
        ),
        // `opsctl run` and `before_deploy`: one-off tasks of the families, in the cluster,
        // tagged as they start; and stopped on request.
        Statement {
            condition: Some(json!({ "ArnEquals": { "ecs:cluster": cluster_arn.clone() } })),
            ..allow(
                "EcsRunOneOffTasksOfTheFamilies",
                &["ecs:RunTask"],
                family_arns,
            )
        },
        Statement {
            condition: Some(json!({ "StringEquals": { "ecs:CreateAction": "RunTask" } })),
            ..allow(
                "EcsTagOneOffTasksAsTheyStart",
                &["ecs:TagResource"],
                vec![arn("ecs", &format!("task/{cluster}/*"))],
            )
        },
        allow(
            "EcsStopOneOffTasks",
            &["ecs:StopTask"],
            vec![arn("ecs", &format!("task/{cluster}/*"))],
        ),
    ]);
    st
}

/// CloudWatch Logs: the containers' log streams (awslogs), read by `run` and `logs`.
fn logs(arn: &Arn) -> Vec<Statement> {
    vec![allow(
        "LogsReadTheContainersStreams",
        &["logs:GetLogEvents", "logs:FilterLogEvents"],
        vec![arn("logs", "log-group:*:log-stream:*")],
    )]
}

/// Parameter Store: the environment's deploy lock records, under their one path.
fn lock(env: &EnvConfig, arn: &Arn) -> Vec<Statement> {
    let path = crate::aws::lock_path(&env.cluster, &env.name);
    vec![allow(
        "SsmKeepTheDeployLock",
        &[
            "ssm:GetParametersByPath",
            "ssm:PutParameter",
            "ssm:DeleteParameters",
        ],
        vec![
            arn("ssm", &format!("parameter{path}")),
            arn("ssm", &format!("parameter{path}/*")),
        ],
    )]
}

/// SNS: publishing the env's notices, to exactly the topics its `notify` names.
fn sns(env: &EnvConfig) -> Vec<Statement> {
    let topics: Vec<String> = env
        .notify
        .iter()
        .filter_map(|t| t.topic().map(str::to_owned))
        .collect();
    if topics.is_empty() {
        return Vec::new();
    }
    vec![allow("SnsPublishTheNotices", &["sns:Publish"], topics)]
}

/// ECR: finding versions in the repositories, and reading their scans where the env gates
/// on them (`scan`).
fn ecr(env: &EnvConfig, scope: &Scope, arn: &Arn) -> Vec<Statement> {
    let repositories: Vec<String> = if scope.repositories.is_empty() {
        vec![arn("ecr", "repository/*")]
    } else {
        scope
            .repositories
            .iter()
            .map(|repo| arn("ecr", &format!("repository/{repo}")))
            .collect()
    };
    let mut st = vec![allow(
        "EcrFindVersions",
        &["ecr:DescribeRepositories", "ecr:DescribeImages"],
        repositories.clone(),
    )];
    if env.scan.is_some() {
        st.push(allow(
            "EcrReadTheVersionsScanFindings",
            &["ecr:DescribeImageScanFindings"],
            repositories,
        ));
    }
    st
}

/// IAM: passing the task roles to ECS with each new revision.
fn pass_role(scope: &Scope) -> Vec<Statement> {
    let (p, a) = (&scope.partition, &scope.account);
    let mut st = Vec::new();
    let roles = match &scope.roles {
        None => Some(vec![format!("arn:{p}:iam::{a}:role/*")]),
        Some(roles) if roles.is_empty() => None,
        Some(roles) => Some(roles.clone()),
    };
    if let Some(roles) = roles {
        st.push(Statement {
            condition: Some(
                json!({ "StringEquals": { "iam:PassedToService": "ecs-tasks.amazonaws.com" } }),
            ),
            ..allow("PassTheTaskRolesToEcs", &["iam:PassRole"], roles)
        });
    }
    st
}

/// Secrets Manager and Parameter Store: that the referenced secrets exist.
fn secrets(scope: &Scope) -> Vec<Statement> {
    let mut st = Vec::new();
    let secrets = match &scope.secrets {
        // Not known: any in the account, in any region, since a task definition may
        // reference a secret of another region by its ARN (checked there).
        None => Some(vec![format!(
            "arn:{}:secretsmanager:*:{}:secret:*",
            scope.partition, scope.account
        )]),
        Some(s) if s.is_empty() => None,
        Some(s) => Some(s.clone()),
    };
    if let Some(secrets) = secrets {
        st.push(allow(
            "SecretsCheckTheReferencedOnesExist",
            &["secretsmanager:DescribeSecret"],
            secrets,
        ));
    }
    // Parameter Store references: only their metadata is read, and DescribeParameters has
    // no resource scope.
    st.push(allow(
        "ParameterStoreCheckTheReferencedOnesExistWithoutResourceScope",
        &["ssm:DescribeParameters"],
        vec!["*".into()],
    ));
    st
}

/// CloudWatch: the env's alarms and the deployment marker.
fn cloudwatch(env: &EnvConfig, arn: &Arn) -> Vec<Statement> {
    let mut st = Vec::new();
    if !env.alarms.is_empty() {
        st.push(allow(
            "CloudWatchReadTheAlarms",
            &["cloudwatch:DescribeAlarms"],
            env.alarms
                .iter()
                .map(|name| arn("cloudwatch", &format!("alarm:{name}")))
                .collect(),
        ));
    }
    st.push(Statement {
        condition: Some(json!({ "StringEquals": { "cloudwatch:namespace": "opsctl" } })),
        ..allow(
            "CloudWatchDeploymentMarkerWithoutResourceScope",
            &["cloudwatch:PutMetricData"],
            vec!["*".into()],
        )
    });
    st
}

/// ELBv2 (and CloudWatch's metrics for the traffic checks): target health everywhere, the
/// weighted listener of two-service environments.
fn elb(env: &EnvConfig, scope: &Scope, arn: &Arn) -> Vec<Statement> {
    let mut st = Vec::new();
    // Every waiter checks the health of the service's targets; only blue/green reads the
    // listener, its rules and target groups.
    let mut elb_reads = vec!["elasticloadbalancing:DescribeTargetHealth"];
    let native = scope.native != Some(false);
    if native && env.two_service().is_none() {
        // A native deployment's analysis reads the production rule and the target groups'
        // metrics.
        elb_reads.push("elasticloadbalancing:DescribeRules");
        st.push(allow(
            "CloudWatchNativeAnalysisWithoutResourceScope",
            &["cloudwatch:GetMetricData"],
            vec!["*".into()],
        ));
    }
    if env.two_service().is_some() {
        elb_reads.extend([
            "elasticloadbalancing:DescribeTargetGroups",
            "elasticloadbalancing:DescribeListeners",
            "elasticloadbalancing:DescribeRules",
            "elasticloadbalancing:DescribeLoadBalancers",
        ]);
    }
    st.push(allow(
        "ElbReadWithoutResourceScope",
        &elb_reads,
        vec!["*".into()],
    ));
    if let Some(bg) = env.two_service() {
        let elb = |resource: &str| arn("elasticloadbalancing", resource);
        let (listeners, rules) = if bg.listener.contains(":listener-rule/") {
            (Vec::new(), vec![bg.listener.clone()])
        } else if bg.listener.contains(":listener/") {
            // A listener's own weights: ModifyListener only.
            (vec![bg.listener.clone()], Vec::new())
        } else {
            // LOAD_BALANCER:PORT, resolved at run time: the load balancer's listeners.
            let lb = bg
                .listener
                .rsplit_once(':')
                .map_or(bg.listener.as_str(), |(n, _)| n);
            (vec![elb(&format!("listener/app/{lb}/*"))], Vec::new())
        };
        if !listeners.is_empty() {
            st.push(allow(
                "ElbSwitchTheListenerWeights",
                &["elasticloadbalancing:ModifyListener"],
                listeners,
            ));
        }
        if !rules.is_empty() {
            st.push(allow(
                "ElbSwitchTheListenerRuleWeights",
                &["elasticloadbalancing:ModifyRule"],
                rules,
            ));
        }
        st.push(allow(
            "CloudWatchTrafficChecksWithoutResourceScope",
            &["cloudwatch:GetMetricData"],
            vec!["*".into()],
        ));
    }
    st
}

/// RDS: snapshots and restores of the env's database.
fn rds(env: &EnvConfig, scope: &Scope, arn: &Arn) -> Vec<Statement> {
    let mut st = Vec::new();
    if let Some(db) = &env.database {
        let instance = &db.instance;
        st.push(allow(
            "RdsReadInstancesSnapshotsAndTags",
            &[
                "rds:DescribeDBInstances",
                "rds:DescribeDBSnapshots",
                // Every restore reads the source's restore window from its automated backups.
                "rds:DescribeDBInstanceAutomatedBackups",
            ],
            // Restores create instances whose names are chosen at run time.
            vec![
                arn("rds", "db:*"),
                arn("rds", "snapshot:*"),
                arn("rds", "auto-backup:*"),
            ],
        ));
        st.push(allow(
            "RdsFailoverDrillOfTheDatabase",
            &["rds:RebootDBInstance"],
            vec![arn("rds", &format!("db:{instance}"))],
        ));
        st.push(allow(
            "RdsSnapshotTheDatabase",
            &["rds:CreateDBSnapshot"],
            vec![
                arn("rds", &format!("db:{instance}")),
                arn("rds", &format!("snapshot:{instance}-*")),
            ],
        ));
        st.push(allow(
            "RdsTagSnapshotsAndRestoredInstances",
            &["rds:AddTagsToResource"],
            vec![
                arn("rds", &format!("snapshot:{instance}-*")),
                arn("rds", "db:*"),
            ],
        ));
        st.push(allow(
            "RdsRestoreToNewInstances",
            &[
                "rds:RestoreDBInstanceFromDBSnapshot",
                "rds:RestoreDBInstanceToPointInTime",
            ],
            vec![
                arn("rds", "db:*"),
                arn("rds", "snapshot:*"),
                arn("rds", "subgrp:*"),
                arn("rds", "pg:*"),
                arn("rds", "og:*"),
            ],
        ));
        // Once available, a restored instance gets what no restore call takes (monitoring,
        // Performance Insights, the maintenance window): only instances a restore tagged.
        st.push(Statement {
            condition: Some(json!({ "StringLike": {
                format!("aws:ResourceTag/{}", crate::aws::tags::RESTORED_FROM): "*"
            } })),
            ..allow(
                "RdsFinishRestoredInstances",
                &["rds:ModifyDBInstance"],
                vec![arn("rds", "db:*")],
            )
        });
        let (p, a, r) = (&scope.partition, &scope.account, &scope.region);
        st.push(Statement {
            condition: Some(
                json!({ "StringEquals": { "iam:PassedToService": "monitoring.rds.amazonaws.com" } }),
            ),
            ..allow(
                "PassTheMonitoringRoleToRds",
                &["iam:PassRole"],
                vec![format!("arn:{p}:iam::{a}:role/*")],
            )
        });
        // A source whose master password RDS keeps in Secrets Manager: its restore gets a
        // secret of its own, which RDS creates in the caller's name.
        st.push(allow(
            "RdsManagedMasterSecretOfRestores",
            &["secretsmanager:CreateSecret", "secretsmanager:TagResource"],
            vec![arn("secretsmanager", "secret:rds!db-*")],
        ));
        st.push(Statement {
            condition: Some(json!({ "StringEquals": {
                "kms:ViaService": format!("rds.{r}.amazonaws.com")
            } })),
            ..allow(
                "KmsForRdsRestores",
                &["kms:DescribeKey", "kms:CreateGrant"],
                vec![arn("kms", "key/*")],
            )
        });
        let made_by_opsctl = json!({ "StringLike": {
            format!("aws:ResourceTag/{}", crate::aws::tags::CREATED_BY): "*"
        } });
        let mut regions = vec![r.clone()];
        if let Some(dr) = &db.dr {
            st.extend(recovery_region(instance, &dr.region, scope));
            regions.push(dr.region.clone());
        }
        // Retention deletes only the manual snapshots opsctl made (tagged), in the env's
        // region and its recovery region.
        if db.keep_snapshots.is_some() {
            st.push(Statement {
                condition: Some(made_by_opsctl),
                ..allow(
                    "RdsRetentionDeletesOpsctlSnapshots",
                    &["rds:DeleteDBSnapshot"],
                    regions
                        .iter()
                        .map(|region| format!("arn:{p}:rds:{region}:{a}:snapshot:{instance}-*"))
                        .collect(),
                )
            });
        }
    }
    st
}

/// RDS in the recovery region (`database.dr`): copies of the env's snapshots made there,
/// read, and restored from into new instances there.
fn recovery_region(instance: &str, region: &str, scope: &Scope) -> Vec<Statement> {
    let (p, a, home) = (&scope.partition, &scope.account, &scope.region);
    let there = |resource: &str| format!("arn:{p}:rds:{region}:{a}:{resource}");
    vec![
        allow(
            "RdsRecoveryRegionCopySnapshots",
            &["rds:CopyDBSnapshot", "rds:AddTagsToResource"],
            vec![
                format!("arn:{p}:rds:{home}:{a}:snapshot:{instance}-*"),
                format!("arn:{p}:rds:{home}:{a}:snapshot:rds:{instance}-*"),
                there(&format!("snapshot:{instance}-*")),
            ],
        ),
        allow(
            "RdsRecoveryRegionRead",
            &["rds:DescribeDBSnapshots", "rds:DescribeDBInstances"],
            vec![there("db:*"), there("snapshot:*")],
        ),
        allow(
            "RdsRecoveryRegionRestoreToNewInstances",
            &[
                "rds:RestoreDBInstanceFromDBSnapshot",
                "rds:AddTagsToResource",
            ],
            vec![
                there("db:*"),
                there("snapshot:*"),
                there("subgrp:*"),
                there("pg:*"),
                there("og:*"),
            ],
        ),
        Statement {
            condition: Some(json!({ "StringLike": {
                format!("aws:ResourceTag/{}", crate::aws::tags::RESTORED_FROM): "*"
            } })),
            ..allow(
                "RdsRecoveryRegionFinishRestoredInstances",
                &["rds:ModifyDBInstance"],
                vec![there("db:*")],
            )
        },
        Statement {
            condition: Some(json!({ "StringEquals": {
                "kms:ViaService": format!("rds.{region}.amazonaws.com")
            } })),
            ..allow(
                "KmsForRdsInTheRecoveryRegion",
                &["kms:DescribeKey", "kms:CreateGrant"],
                vec![format!("arn:{p}:kms:{region}:{a}:key/*")],
            )
        },
    ]
}

/// Application Auto Scaling: the service's scalable target.
fn autoscaling(env: &EnvConfig) -> Vec<Statement> {
    let mut st = Vec::new();
    if env.scaling.is_some() {
        st.push(allow(
            "AutoScalingWithoutResourceScope",
            &[
                "application-autoscaling:DescribeScalableTargets",
                "application-autoscaling:RegisterScalableTarget",
            ],
            vec!["*".into()],
        ));
    }
    st
}

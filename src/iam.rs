//! The least-privilege IAM policy opsctl needs for one environment: every action the code
//! calls, scoped to the environment's resources as far as IAM allows. Pure: the resources
//! come from the config and a [`Scope`] the caller looked up (or was told).
//!
//! Actions IAM cannot scope to a resource are granted on `*`, each in a statement whose `Sid`
//! says so. A test derives the actions from every adapter file under `aws/sdk/`,
//! so a new AWS call without a policy entry fails it, and so does a grant that
//! no call needs.

use std::collections::BTreeSet;

use serde::{Serialize, Serializer};
use serde_json::json;

use crate::config::EnvConfig;

/// Where the environment lives, and what only its task definitions tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub partition: String,
    pub region: String,
    pub account: String,
    /// Task-definition families; empty: not known, any family in the account.
    pub families: Vec<String>,
    /// Task and execution role ARNs; `None`: not known, any role in the account.
    pub roles: Option<Vec<String>>,
    /// Secrets Manager secret ARNs the task definitions reference; `None`: not known.
    pub secrets: Option<Vec<String>>,
    /// ECR repositories versions come from; empty: not known, any in the account.
    pub repositories: Vec<String>,
}

/// The partition of a region: `aws`, `aws-cn` or `aws-us-gov`.
pub fn partition_of(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// The parts of an ARN: partition, service, region, account, resource.
pub fn arn_parts(arn: &str) -> Option<(&str, &str, &str, &str, &str)> {
    let mut it = arn.splitn(6, ':');
    if it.next()? != "arn" {
        return None;
    }
    Some((it.next()?, it.next()?, it.next()?, it.next()?, it.next()?))
}

/// An IAM policy document.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Policy {
    pub version: &'static str,
    pub statement: Vec<Statement>,
}

/// One `Allow` statement.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Statement {
    pub sid: String,
    pub effect: &'static str,
    #[serde(serialize_with = "one_or_many")]
    pub action: Vec<String>,
    #[serde(serialize_with = "one_or_many")]
    pub resource: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<serde_json::Value>,
}

fn one_or_many<S: Serializer>(items: &[String], s: S) -> Result<S::Ok, S::Error> {
    match items {
        [one] => s.serialize_str(one),
        many => many.serialize(s),
    }
}

impl Policy {
    /// Every action the policy allows, `service:Action`.
    pub fn actions(&self) -> BTreeSet<String> {
        self.statement
            .iter()
            .flat_map(|s| s.action.iter().cloned())
            .collect()
    }
}

fn allow(sid: &str, actions: &[&str], resources: Vec<String>) -> Statement {
    Statement {
        sid: sid.to_owned(),
        effect: "Allow",
        action: actions.iter().map(|a| (*a).to_owned()).collect(),
        resource: resources,
        condition: None,
    }
}

/// The policy for `env` within `scope`.
pub fn policy(env: &EnvConfig, scope: &Scope) -> Policy {
    let Scope {
        partition: p,
        region: r,
        account: a,
        ..
    } = scope;
    let arn = |service: &str, resource: &str| format!("arn:{p}:{service}:{r}:{a}:{resource}");
    let cluster = env
        .cluster
        .rsplit_once("cluster/")
        .map_or(env.cluster.as_str(), |(_, name)| name);
    let cluster_arn = if env.cluster.starts_with("arn:") {
        env.cluster.clone()
    } else {
        arn("ecs", &format!("cluster/{cluster}"))
    };
    let services = env.services();
    let service_arns: Vec<String> = services
        .iter()
        .map(|s| {
            if s.starts_with("arn:") {
                (*s).to_owned()
            } else {
                arn("ecs", &format!("service/{cluster}/{s}"))
            }
        })
        .collect();

    let mut st = vec![
        allow(
            "EcsReadAndUpdateTheServices",
            &["ecs:DescribeServices", "ecs:UpdateService"],
            service_arns,
        ),
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
            if scope.families.is_empty() {
                vec![arn("ecs", "task-definition/*")]
            } else {
                scope
                    .families
                    .iter()
                    .map(|f| arn("ecs", &format!("task-definition/{f}:*")))
                    .collect()
            },
        ),
        Statement {
            condition: Some(json!({ "ArnEquals": { "ecs:cluster": cluster_arn } })),
            ..allow(
                "EcsListStoppedTasksInTheCluster",
                &["ecs:ListTasks"],
                vec!["*".into()],
            )
        },
        allow(
            "EcsDescribeTasksInTheCluster",
            &["ecs:DescribeTasks"],
            vec![arn("ecs", &format!("task/{cluster}/*"))],
        ),
        allow(
            "EcrFindVersions",
            &["ecr:DescribeRepositories", "ecr:DescribeImages"],
            if scope.repositories.is_empty() {
                vec![arn("ecr", "repository/*")]
            } else {
                scope
                    .repositories
                    .iter()
                    .map(|repo| arn("ecr", &format!("repository/{repo}")))
                    .collect()
            },
        ),
    ];
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
    let secrets = match &scope.secrets {
        None => Some(vec![arn("secretsmanager", "secret:*")]),
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
    // Every waiter checks the health of the service's targets; only blue/green reads the
    // listener, its rules and target groups.
    let mut elb_reads = vec!["elasticloadbalancing:DescribeTargetHealth"];
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
    }
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
    Policy {
        version: "2012-10-17",
        statement: st,
    }
}

/// The IAM service prefix of an SDK crate (`aws_sdk_ecs` → `ecs`).
pub fn iam_prefix(sdk_crate: &str) -> Option<&'static str> {
    Some(match sdk_crate {
        "aws_sdk_ecs" => "ecs",
        "aws_sdk_ecr" => "ecr",
        "aws_sdk_secretsmanager" => "secretsmanager",
        "aws_sdk_ssm" => "ssm",
        "aws_sdk_cloudwatch" => "cloudwatch",
        "aws_sdk_elasticloadbalancingv2" => "elasticloadbalancing",
        "aws_sdk_rds" => "rds",
        "aws_sdk_applicationautoscaling" => "application-autoscaling",
        "aws_sdk_sts" => "sts",
        "aws_sdk_iam" => "iam",
        _ => return None,
    })
}

/// The AWS operations a source file calls through the SDK, as `service:Action` (IAM action
/// names match the operation names, case aside), with the line of each.
///
/// An operation is the first method of a call chain that ends in `.send()` (or
/// `.into_paginator()…send()`), made on a client. Which client is told by the `impl` block
/// the call is in: `impl … for SdkX` or `impl SdkX`, where `pub struct SdkX(pub
/// aws_sdk_y::Client, …)`.
pub fn sdk_calls(source: &str) -> Result<Vec<(String, usize)>, String> {
    use std::collections::BTreeMap;
    let mut wrappers: BTreeMap<String, &str> = BTreeMap::new();
    for line in source.lines() {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("pub struct ")
            && let Some((name, inner)) = rest.split_once("(pub ")
            && let Some((krate, after)) = inner.split_once("::Client")
            && (after.starts_with(')') || after.starts_with(','))
        {
            wrappers.insert(name.trim().to_owned(), krate.trim());
        }
    }
    // Byte offset of each `impl` header and the wrapper it is for.
    let mut impls: Vec<(usize, Option<String>)> = Vec::new();
    let mut offset = 0;
    for line in source.split_inclusive('\n') {
        let t = line.trim_start();
        if t.starts_with("impl ") || t.starts_with("impl<") {
            let target = t
                .trim_end_matches(['{', ' ', '\n'])
                .rsplit([' ', '<', '>'])
                .next()
                .map(str::to_owned);
            impls.push((offset, target.filter(|t| wrappers.contains_key(t))));
        }
        offset += line.len();
    }
    let bytes = source.as_bytes();
    let mut calls = Vec::new();
    let mut from = 0;
    while let Some(found) = source[from..].find(".send()") {
        let at = from + found;
        from = at + 1;
        let line = source[..at].matches('\n').count() + 1;
        // Walk the chain back: `.name(args)` segments, to the first one.
        let mut i = at;
        let mut first = None;
        loop {
            let mut j = i;
            while j > 0 && bytes[j - 1].is_ascii_whitespace() {
                j -= 1;
            }
            if j == 0 || bytes[j - 1] != b')' {
                break;
            }
            // Match the parentheses back.
            let mut depth = 0usize;
            let mut k = j;
            while k > 0 {
                k -= 1;
                match bytes[k] {
                    b')' => depth += 1,
                    b'(' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let mut s = k;
            while s > 0 && (bytes[s - 1].is_ascii_alphanumeric() || bytes[s - 1] == b'_') {
                s -= 1;
            }
            if s == 0 || bytes[s - 1] != b'.' || s == k {
                break;
            }
            first = Some(source[s..k].to_owned());
            i = s - 1;
        }
        // A chain through a macro (`copy_settings!(request, s).send()`) starts at the
        // builder's variable: the operation is then the last `self.0.OP()` before it.
        let first = first.or_else(|| {
            let before = &source[..at];
            let start = before
                .rfind("self\n")
                .into_iter()
                .chain(before.rfind("self.0"))
                .max()?;
            let rest = before[start..].trim_start_matches("self").trim_start();
            let rest = rest.strip_prefix(".0")?.trim_start().strip_prefix('.')?;
            let op: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            (!op.is_empty()).then_some(op)
        });
        let Some(op) = first else {
            return Err(format!(
                "line {line}: a .send() whose operation cannot be read"
            ));
        };
        let wrapper = impls
            .iter()
            .rev()
            .find(|(o, _)| *o < at)
            .and_then(|(_, w)| w.clone())
            .ok_or_else(|| {
                format!("line {line}: cannot tell which client `{op}` is called on (not in an `impl` of an SDK client wrapper)")
            })?;
        let krate = wrappers[&wrapper];
        let prefix = iam_prefix(krate)
            .ok_or_else(|| format!("line {line}: no IAM prefix known for {krate}"))?;
        let action: String = op
            .split('_')
            .map(|w| {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                    .unwrap_or_default()
            })
            .collect();
        calls.push((format!("{prefix}:{action}"), line));
    }
    Ok(calls)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::Config;

    fn repo_env(name: &str) -> EnvConfig {
        let config = Config::parse(Path::new("opsctl.toml"), include_str!("../opsctl.toml"))
            .expect("the repo's config parses");
        config.env(name).unwrap().clone()
    }

    fn scope() -> Scope {
        Scope {
            partition: "aws".into(),
            region: "us-east-1".into(),
            account: "123456789012".into(),
            families: vec!["prod-users".into()],
            roles: Some(vec![
                "arn:aws:iam::123456789012:role/users-task".into(),
                "arn:aws:iam::123456789012:role/users-execution".into(),
            ]),
            secrets: Some(vec![
                "arn:aws:secretsmanager:us-east-1:123456789012:secret:users-db-AbCdEf".into(),
            ]),
            repositories: vec!["users".into()],
        }
    }

    /// Case-insensitive, as IAM compares action names.
    fn allowed(policy: &Policy, action: &str) -> bool {
        policy
            .actions()
            .iter()
            .any(|a| a.eq_ignore_ascii_case(action))
    }

    /// `(file, source)` of every SDK adapter: each file under `aws/sdk/`, read from the tree
    /// so that a new adapter file cannot be missed.
    fn adapter_sources() -> Vec<(String, String)> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/aws");
        let mut files: Vec<_> = std::fs::read_dir(root.join("sdk"))
            .expect("src/aws/sdk/ exists")
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "rs"))
            .collect();
        files.sort();
        files
            .into_iter()
            .map(|p| {
                let text = std::fs::read_to_string(&p).unwrap();
                (p.display().to_string(), text)
            })
            .collect()
    }

    #[test]
    fn every_aws_call_in_the_code_is_in_the_policy() {
        let mut calls = Vec::new();
        for (file, source) in adapter_sources() {
            let found = sdk_calls(&source).unwrap_or_else(|e| panic!("{file}: {e}"));
            calls.extend(
                found
                    .into_iter()
                    .map(|(a, line)| (a, format!("{file}:{line}"))),
            );
        }
        let found: BTreeSet<&str> = calls.iter().map(|(a, _)| a.as_str()).collect();
        // The scan sees the calls it must: a scan that finds nothing proves nothing.
        for known in [
            "ecs:DescribeServices",
            "ecs:RegisterTaskDefinition",
            "ecs:ListTaskDefinitions",
            "ecr:DescribeImages",
            "secretsmanager:DescribeSecret",
            "cloudwatch:PutMetricData",
            "elasticloadbalancing:ModifyListener",
            "rds:CreateDbSnapshot",
            "rds:DescribeDbInstanceAutomatedBackups",
            "application-autoscaling:RegisterScalableTarget",
        ] {
            assert!(found.contains(known), "the scan missed {known}: {found:?}");
        }
        // Which calls an env needs depends on it (a listener or a rule): the calls are
        // covered by the policies of its kinds together, and no policy grants an action
        // that no adapter calls.
        let mut rule = repo_env("prod");
        rule.two_service_mut().unwrap().listener = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/prod-alb/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee".into();
        let policies = [
            policy(&repo_env("prod"), &scope()),
            policy(&rule, &scope()),
            policy(&repo_env("staging"), &scope()),
        ];
        for (action, at) in &calls {
            assert!(
                policies.iter().any(|p| allowed(p, action)),
                "{at} calls {action}, which the IAM policy does not allow: add it to src/iam.rs"
            );
        }
        // Granted without a call of their own: AWS checks them on a call that does something
        // on the side (passing the task's roles, tagging what a create makes).
        let implied = ["iam:PassRole", "rds:AddTagsToResource"];
        for action in policies.iter().flat_map(|p| p.actions()) {
            assert!(
                calls.iter().any(|(a, _)| a.eq_ignore_ascii_case(&action))
                    || implied.contains(&action.as_str()),
                "the policy grants {action}, which no adapter calls: remove it from src/iam.rs"
            );
        }
        assert!(!allowed(&policies[0], "elasticloadbalancing:ModifyRule"));
        assert!(!allowed(
            &policies[1],
            "elasticloadbalancing:ModifyListener"
        ));
        assert!(!allowed(
            &policies[2],
            "elasticloadbalancing:DescribeListeners"
        ));
    }

    #[test]
    fn database_and_scaling_actions_are_granted_ahead_of_their_commands() {
        let policy = policy(&repo_env("prod"), &scope());
        for action in [
            "rds:CreateDBSnapshot",
            "rds:DescribeDBSnapshots",
            "rds:DescribeDBInstances",
            "rds:RestoreDBInstanceFromDBSnapshot",
            "rds:RestoreDBInstanceToPointInTime",
            "rds:AddTagsToResource",
            "rds:DescribeDBInstanceAutomatedBackups",
            "application-autoscaling:DescribeScalableTargets",
            "application-autoscaling:RegisterScalableTarget",
        ] {
            assert!(allowed(&policy, action), "{action}");
        }
    }

    #[test]
    fn resources_are_the_environments_own() {
        let prod = serde_json::to_value(policy(&repo_env("prod"), &scope())).unwrap();
        let text = prod.to_string();
        for arn in [
            "arn:aws:ecs:us-east-1:123456789012:service/demo/prod-users-blue",
            "arn:aws:ecs:us-east-1:123456789012:service/demo/prod-users-green",
            "arn:aws:ecs:us-east-1:123456789012:task-definition/prod-users:*",
            "arn:aws:ecr:us-east-1:123456789012:repository/users",
            "arn:aws:iam::123456789012:role/users-task",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:users-db-AbCdEf",
            "arn:aws:cloudwatch:us-east-1:123456789012:alarm:prod-users-5xx",
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/prod-alb/*",
            "arn:aws:rds:us-east-1:123456789012:db:users-db",
            "arn:aws:rds:us-east-1:123456789012:snapshot:users-db-*",
        ] {
            assert!(text.contains(arn), "{arn} missing from {prod:#}");
        }
        // Everything on `*` says so in its Sid, or is held by a condition.
        for s in prod["Statement"].as_array().unwrap() {
            if s["Resource"] == "*" {
                let sid = s["Sid"].as_str().unwrap();
                assert!(
                    sid.ends_with("WithoutResourceScope") || s.get("Condition").is_some(),
                    "{s}"
                );
            }
            assert!(
                s["Sid"]
                    .as_str()
                    .unwrap()
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric())
            );
        }
        assert_eq!(prod["Version"], "2012-10-17");
    }

    #[test]
    fn a_rolling_environment_gets_no_listener_changes() {
        let staging = policy(
            &repo_env("staging"),
            &Scope {
                families: vec!["staging-users".into()],
                ..scope()
            },
        );
        assert!(!allowed(&staging, "elasticloadbalancing:ModifyListener"));
        assert!(!allowed(&staging, "cloudwatch:GetMetricData"));
        let text = serde_json::to_string(&staging).unwrap();
        assert!(text.contains("service/demo/staging-users\""), "{text}");
        assert!(!text.contains("prod-users"), "{text}");
    }

    #[test]
    fn unknown_details_become_wildcards_within_the_account() {
        let scope = Scope {
            families: Vec::new(),
            roles: None,
            secrets: None,
            repositories: Vec::new(),
            ..scope()
        };
        let text = serde_json::to_string(&policy(&repo_env("prod"), &scope)).unwrap();
        for arn in [
            "arn:aws:ecs:us-east-1:123456789012:task-definition/*",
            "arn:aws:iam::123456789012:role/*",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:*",
            "arn:aws:ecr:us-east-1:123456789012:repository/*",
        ] {
            assert!(text.contains(arn), "{arn} missing from {text}");
        }
        assert!(
            text.contains("ecs-tasks.amazonaws.com"),
            "PassRole stays tied to ECS"
        );
    }

    #[test]
    fn listener_arns_are_used_as_they_are() {
        let mut env = repo_env("prod");
        let listener = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/prod-alb/50dc6c495c0c9188/f2f7dc8efc522ab2";
        env.two_service_mut().unwrap().listener = listener.into();
        let text = serde_json::to_string(&policy(&env, &scope())).unwrap();
        assert!(text.contains(&format!("\"{listener}\"")), "{text}");
        // A listener's own weights are changed with ModifyListener; no rule is touched.
        assert!(!text.contains("ModifyRule"), "{text}");
        assert!(!text.contains(":listener-rule/"), "{text}");
    }

    #[test]
    fn the_scan_reads_chains_and_names_the_client() {
        let src = "\
pub struct SdkThing(pub aws_sdk_rds::Client);
impl Database for SdkThing {
    async fn f(&self) {
        let out = self
            .0
            .create_db_snapshot()
            .db_instance_identifier(id(\"x\"))
            .tags(Tag::builder().key(\"k\").build())
            .send()
            .await;
        let mut pages = self.0.describe_db_snapshots().into_paginator().send();
    }
}
";
        let calls = sdk_calls(src).unwrap();
        let names: Vec<&str> = calls.iter().map(|(a, _)| a.as_str()).collect();
        assert_eq!(names, ["rds:CreateDbSnapshot", "rds:DescribeDbSnapshots"]);
        assert!(sdk_calls("fn f() { client.list_things().send(); }").is_err());
    }

    #[test]
    fn partitions_and_arns() {
        assert_eq!(partition_of("cn-north-1"), "aws-cn");
        assert_eq!(partition_of("us-gov-west-1"), "aws-us-gov");
        assert_eq!(partition_of("eu-west-1"), "aws");
        assert_eq!(
            arn_parts("arn:aws:ecs:us-east-1:123456789012:service/demo/x"),
            Some(("aws", "ecs", "us-east-1", "123456789012", "service/demo/x"))
        );
        assert_eq!(arn_parts("demo"), None);
    }
}

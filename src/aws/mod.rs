//! The narrow view of AWS that workflows use: traits in domain terms, no SDK types.
//!
//! `sdk` implements them over the AWS SDK for Rust; tests implement them in memory
//! (`fake`) to show rollouts that fail, alarms that fire, throttling and timeouts.
//!
//! The domain types live beside the service they come from (`ecs`, `elb`, `cloudwatch`,
//! `rds`), each with the rules that read it; this file holds the traits.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use jiff::Timestamp;
use serde::Serialize;

/// A status word as AWS spells it; an unknown word (AWS added one) reads as the variant that
/// stops a workflow rather than one that lets it go on.
macro_rules! aws_words {
    ($(#[$doc:meta])* $name:ident, unknown = $unknown:ident, { $($variant:ident = $word:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
        pub enum $name {
            $(#[serde(rename = $word)] $variant),+
        }

        impl $name {
            /// The state AWS names `word`.
            pub fn from_aws(word: &str) -> Self {
                match word {
                    $($word => $name::$variant,)+
                    _ => $name::$unknown,
                }
            }

            /// The word AWS uses.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $word),+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

mod cloudwatch;
mod ecs;
mod elb;
mod error;
mod lock;
mod notify;
mod rds;
mod scan;
pub mod sdk;
pub mod tags;

#[cfg(test)]
pub mod fake;
#[cfg(test)]
mod tests;

pub use cloudwatch::*;
pub use ecs::*;
pub use elb::*;
pub use error::*;
pub use lock::*;
pub use notify::*;
pub use rds::*;
pub use scan::*;

/// An image found in the registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Image {
    /// `registry/repository:tag`, ready for a task definition.
    pub uri: String,
    pub digest: String,
}

/// ECS, as deploys use it.
#[async_trait]
pub trait Ecs: Send + Sync {
    /// One `DescribeServices` call for up to 10 services (events included).
    async fn describe_services(
        &self,
        cluster: &str,
        services: &[String],
    ) -> AwsResult<Vec<Service>>;
    /// A task definition by ARN or `family:revision`, with its tags.
    async fn describe_task_definition(&self, task_definition: &str) -> AwsResult<TaskDefinition>;
    /// A task definition exactly as ECS describes it (the `taskDefinition` object of
    /// DescribeTaskDefinition's answer, in ECS's own JSON), fields this build does not know
    /// included: what drift is measured on.
    async fn task_definition_document(&self, task_definition: &str)
    -> AwsResult<serde_json::Value>;
    /// ARNs of the family's ACTIVE revisions, newest first.
    async fn list_task_definitions(&self, family: &str) -> AwsResult<Vec<String>>;
    /// Registers a new revision that copies `base` in every registrable field, with only the
    /// named container's image changed, and the given tags added.
    async fn register_with_image(
        &self,
        base: &str,
        container: &str,
        image: &str,
        tags: &BTreeMap<String, String>,
    ) -> AwsResult<TaskDefinition>;
    /// Points the service at a task definition (a new deployment); returns the service after.
    async fn update_task_definition(
        &self,
        cluster: &str,
        service: &str,
        task_definition: &str,
    ) -> AwsResult<Service>;
    /// Points the service at a task definition and changes its native settings (bake time,
    /// canary, linear) in the same UpdateService; what `settings` leaves unset, and every
    /// other field of the deploymentConfiguration, stays as the service has it.
    async fn update_native(
        &self,
        cluster: &str,
        service: &str,
        task_definition: &str,
        settings: &NativeSettings,
    ) -> AwsResult<Service>;
    /// Sets the desired count; returns the service after.
    async fn update_desired_count(
        &self,
        cluster: &str,
        service: &str,
        desired: i32,
    ) -> AwsResult<Service>;
    /// Points the service at a task definition and sets its desired count in one call.
    async fn update_revision_and_count(
        &self,
        cluster: &str,
        service: &str,
        task_definition: &str,
        desired: i32,
    ) -> AwsResult<Service>;
    /// Adds or replaces tags on a task definition.
    async fn tag_task_definition(
        &self,
        arn: &str,
        tags: &BTreeMap<String, String>,
    ) -> AwsResult<()>;
    /// The newest service deployment of the service created at or after `since`
    /// (ListServiceDeployments), if there is one yet.
    async fn latest_service_deployment(
        &self,
        cluster: &str,
        service: &str,
        since: Timestamp,
    ) -> AwsResult<Option<String>>;
    /// One service deployment (one DescribeServiceDeployments call).
    async fn describe_service_deployment(&self, arn: &str) -> AwsResult<ServiceDeployment>;
    /// Stops a service deployment in flight and rolls it back (StopServiceDeployment ROLLBACK).
    async fn stop_service_deployment(&self, arn: &str) -> AwsResult<()>;
    /// Answers a PAUSE hook: carry on, or roll the deployment back.
    async fn continue_service_deployment(
        &self,
        arn: &str,
        hook_id: &str,
        rollback: bool,
    ) -> AwsResult<()>;
    /// Starts one task (RunTask) as the request says.
    async fn run_task(&self, request: &RunRequest) -> AwsResult<OneOffTask>;
    /// One task by ARN (DescribeTasks), or `None` when ECS no longer knows it.
    async fn describe_task(
        &self,
        cluster: &str,
        arn: &str,
        container: &str,
    ) -> AwsResult<Option<OneOffTask>>;
    /// Stops a task (StopTask), saying why.
    async fn stop_task(&self, cluster: &str, arn: &str, reason: &str) -> AwsResult<()>;
    /// The ids of the service's tasks, running and recently stopped (ListTasks, at most
    /// 100 of each).
    async fn task_ids(&self, cluster: &str, service: &str) -> AwsResult<Vec<String>>;
    /// The service's running tasks (at most 100) with their zone and address.
    async fn running_tasks(&self, cluster: &str, service: &str) -> AwsResult<Vec<RunningTask>>;
    /// The service's most recently stopped tasks (at most `limit`).
    async fn stopped_tasks(
        &self,
        cluster: &str,
        service: &str,
        limit: usize,
    ) -> AwsResult<Vec<StoppedTask>>;
}

/// ECR: where versions live.
#[async_trait]
pub trait Registry: Send + Sync {
    /// The image tagged `tag` in `repository`, or `None` when there is no such tag.
    /// A missing repository is `NotFound`.
    async fn find_image(&self, repository: &str, tag: &str) -> AwsResult<Option<Image>>;
    /// The scan of the image with `digest` in `repository` (DescribeImageScanFindings, every
    /// page, basic and enhanced findings alike), or `None` when the image has never been
    /// scanned (ScanNotFoundException).
    async fn scan(&self, repository: &str, digest: &str) -> AwsResult<Option<Scan>>;
}

/// Secrets Manager and Parameter Store, to check that referenced secrets exist.
#[async_trait]
pub trait Secrets: Send + Sync {
    /// Whether the secret (ARN or name) exists and is not scheduled for deletion.
    async fn secret_exists(&self, id: &str) -> AwsResult<bool>;
    /// Whether the Parameter Store parameter (name, with its leading `/` where it has one)
    /// exists. Only its metadata is read, never its value.
    async fn parameter_exists(&self, name: &str) -> AwsResult<bool>;
}

/// CloudWatch: alarms and deployment markers.
#[async_trait]
pub trait Monitoring: Send + Sync {
    /// The named alarms' states; names that do not exist are left out.
    async fn alarms(&self, names: &[String]) -> AwsResult<Vec<Alarm>>;
    /// Publishes a deployment marker (namespace `opsctl`, metric `Deployment`).
    async fn put_deployment_marker(&self, env: &str, service: &str, version: &str)
    -> AwsResult<()>;
    /// Requests, 5xx responses and p99 response time of a target group behind the load
    /// balancer that owns `listener_arn`, between `start` and `end`.
    async fn target_group_metrics(
        &self,
        listener_arn: &str,
        target_group_arn: &str,
        start: Timestamp,
        end: Timestamp,
    ) -> AwsResult<TargetGroupMetrics>;
}

/// ELBv2: target health, and the weighted listener of blue/green environments.
#[async_trait]
pub trait LoadBalancing: Send + Sync {
    /// Health of every target registered in the target group.
    async fn target_health(&self, target_group_arn: &str) -> AwsResult<Vec<TargetHealth>>;
    /// The ARN of the load balancer's listener on `port`.
    async fn find_listener(&self, load_balancer: &str, port: i32) -> AwsResult<String>;
    /// The ARN of a target group given by name (an ARN is returned as it is).
    async fn target_group_arn(&self, name: &str) -> AwsResult<String>;
    /// The forward action of a listener (its default action) or of a listener rule.
    async fn forward(&self, arn: &str) -> AwsResult<Forward>;
    /// Sets the forward action's weights, keeping every other part of the listener or rule
    /// (other actions, stickiness, conditions) as it is.
    async fn set_weights(&self, arn: &str, weights: &[(String, i32)]) -> AwsResult<()>;
}

/// RDS, as snapshots, restores and failover drills use it. Nothing here deletes an
/// instance, and only an instance a restore has just made is modified.
#[async_trait]
pub trait Database: Send + Sync {
    /// The instance with its point-in-time restore window; `NotFound` when there is none.
    async fn describe_instance(&self, id: &str) -> AwsResult<DbInstance>;
    /// The instance without its restore window (one call), or `None` when there is none.
    async fn find_instance(&self, id: &str) -> AwsResult<Option<DbInstance>>;
    /// Starts a manual snapshot of the instance, tagged.
    async fn create_snapshot(
        &self,
        instance: &str,
        snapshot: &str,
        tags: &BTreeMap<String, String>,
    ) -> AwsResult<DbSnapshot>;
    /// The snapshot, or `None` when there is none.
    async fn describe_snapshot(&self, id: &str) -> AwsResult<Option<DbSnapshot>>;
    /// Manual and automated snapshots of the instance, in any order.
    async fn list_snapshots(&self, instance: &str) -> AwsResult<Vec<DbSnapshot>>;
    /// Starts restoring the snapshot into a new instance.
    async fn restore_from_snapshot(
        &self,
        snapshot: &str,
        settings: &RestoreSettings,
    ) -> AwsResult<DbInstance>;
    /// Starts restoring the snapshot into a new instance with the snapshot's own settings and
    /// RDS's defaults, sending only where it goes: the subnet group, security groups,
    /// parameter and option groups of `settings`, and its tags (when the source instance
    /// cannot be read).
    async fn restore_from_snapshot_as_is(
        &self,
        snapshot: &str,
        settings: &RestoreSettings,
    ) -> AwsResult<DbInstance>;
    /// Starts restoring `source` as it was at `time` (`None`: the latest restorable time)
    /// into a new instance.
    async fn restore_to_time(
        &self,
        source: &str,
        time: Option<Timestamp>,
        settings: &RestoreSettings,
    ) -> AwsResult<DbInstance>;
    /// Starts copying a snapshot (by ARN, possibly of another region) into this client's
    /// region as `target`, encrypted with `kms_key` (a key of this region) where given, with
    /// exactly these tags.
    async fn copy_snapshot(
        &self,
        source_arn: &str,
        target: &str,
        kms_key: Option<&str>,
        tags: &BTreeMap<String, String>,
    ) -> AwsResult<DbSnapshot>;
    /// Deletes a manual snapshot.
    async fn delete_snapshot(&self, id: &str) -> AwsResult<()>;
    /// Reboots a Multi-AZ instance with a failover to its standby (`ForceFailover`).
    async fn failover(&self, id: &str) -> AwsResult<DbInstance>;
    /// Sets, at once, what no restore call takes on the instance a restore made.
    async fn modify_instance(&self, id: &str, later: &LaterSettings) -> AwsResult<DbInstance>;
}

/// Who the credentials belong to (STS `GetCallerIdentity`, which AWS answers for any valid
/// credentials: no IAM permission is needed).
#[async_trait]
pub trait Identity: Send + Sync {
    /// The caller's ARN: `arn:aws:iam::123456789012:user/asha`,
    /// `arn:aws:sts::123456789012:assumed-role/deployer/session`.
    async fn caller_arn(&self) -> AwsResult<String>;
}

/// RDS in the other regions an environment recovers into (`database.dr`, `db copy
/// --to-region`).
pub trait Regions: Send + Sync {
    /// The region every other client talks to, where known.
    fn home(&self) -> Option<String>;
    /// RDS in `region`, with the same credentials and endpoint.
    fn database(&self, region: &str) -> Arc<dyn Database>;
    /// Secrets Manager and Parameter Store in `region`, with the same credentials and
    /// endpoint: a task definition may reference a secret by its ARN in another region.
    fn secrets(&self, region: &str) -> Arc<dyn Secrets>;
}

/// One line a container logged (CloudWatch Logs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogLine {
    pub at: Timestamp,
    pub stream: String,
    pub message: String,
}

/// Which lines of a log group to read (FilterLogEvents).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogQuery {
    pub group: String,
    /// Streams whose names start so (`prefix/container/`, or one task's stream).
    pub stream_prefix: String,
    /// When not empty, exactly these streams (at most 100) instead of the prefix.
    pub streams: Vec<String>,
    pub start: Option<Timestamp>,
    pub end: Option<Timestamp>,
    /// A CloudWatch Logs filter pattern (`ERROR`, `"connection refused"`, ...).
    pub pattern: Option<String>,
}

/// Parameter Store, as the deploy lock keeps its records (see [`LockRecord`]).
#[async_trait]
pub trait Locks: Send + Sync {
    /// Every record under `path`, as (number, value), in no order (GetParametersByPath).
    async fn records(&self, path: &str) -> AwsResult<Vec<(u64, String)>>;
    /// Creates record `n`; `false` when it exists already (PutParameter without overwrite).
    async fn create(&self, path: &str, n: u64, value: &str) -> AwsResult<bool>;
    /// Writes record `n` again (renewal, release).
    async fn rewrite(&self, path: &str, n: u64, value: &str) -> AwsResult<()>;
    /// Deletes records that no longer matter (DeleteParameters).
    async fn delete(&self, path: &str, numbers: &[u64]) -> AwsResult<()>;
}

/// CloudWatch Logs, as `run` and `logs` read containers' output.
#[async_trait]
pub trait Logs: Send + Sync {
    /// One page of the lines matching the query, oldest first, after `token`; with the
    /// token of the next page, if there is one.
    async fn filter(
        &self,
        query: &LogQuery,
        token: Option<String>,
    ) -> AwsResult<(Vec<LogLine>, Option<String>)>;
    /// The next lines of one stream, oldest first, after `token` (from its start without);
    /// with the token to read on from. A stream that does not exist yet has no lines.
    async fn stream_lines(
        &self,
        group: &str,
        stream: &str,
        token: Option<String>,
    ) -> AwsResult<(Vec<LogLine>, Option<String>)>;
}

/// Application Auto Scaling, for the desired count of ECS services
/// (`ecs:service:DesiredCount`, resource id `service/CLUSTER/SERVICE`).
#[async_trait]
pub trait AutoScaling: Send + Sync {
    /// The service's scalable target, or `None` when none is registered.
    async fn scalable_target(&self, resource_id: &str) -> AwsResult<Option<ScalingBounds>>;
    /// Registers the scalable target with these bounds (or updates the one there is).
    async fn set_bounds(&self, resource_id: &str, bounds: ScalingBounds) -> AwsResult<()>;
}

/// The AWS services a workflow may use, behind their traits.
#[derive(Clone)]
pub struct Aws {
    pub ecs: Arc<dyn Ecs>,
    pub registry: Arc<dyn Registry>,
    pub secrets: Arc<dyn Secrets>,
    pub monitoring: Arc<dyn Monitoring>,
    pub lb: Arc<dyn LoadBalancing>,
    pub db: Arc<dyn Database>,
    /// RDS in other regions, for cross-region copies and restores.
    pub regions: Arc<dyn Regions>,
    pub autoscaling: Arc<dyn AutoScaling>,
    pub logs: Arc<dyn Logs>,
    pub locks: Arc<dyn Locks>,
    pub identity: Arc<dyn Identity>,
    pub notifier: Arc<dyn Notifier>,
}

/// ARNs in a line for people, shortened to the names they carry (`arn:aws:elasticloadbalancing:
/// …:targetgroup/prod-users-green/edc9…` → `prod-users-green`); JSON keeps them whole.
pub fn short_arns(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("arn:aws") {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, ')' | ',' | ']'))
            .unwrap_or(tail.len());
        let arn = &tail[..end];
        let resource = arn.splitn(6, ':').nth(5).unwrap_or(arn);
        let parts: Vec<&str> = resource.split('/').collect();
        out.push_str(match parts.as_slice() {
            ["targetgroup", name, ..] => name,
            ["loadbalancer" | "listener" | "listener-rule", _, name, ..] => name,
            [.., last] if parts.len() > 1 => last,
            _ => resource,
        });
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

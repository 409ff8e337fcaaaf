//! The traits of `aws` implemented over the AWS SDK for Rust. The only place SDK types live.
//!
//! One file per AWS service (`ecs`, `ecr`, `elb`, `cloudwatch`, `secrets`, `db` for RDS and
//! Application Auto Scaling), mirrored by `aws/fake/`; this file builds the clients and sorts
//! their errors.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_config::{BehaviorVersion, Region, SdkConfig, retry::RetryConfig};
use aws_sdk_ecs::error::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use jiff::Timestamp;

use super::{
    Alarm, AlarmState, Aws, AwsError, AwsResult, CircuitBreaker, Container, Deployment,
    DeploymentStatus, DeploymentStrategy, Ecs, Finding, Forward, Image, LoadBalancing, LogConfig,
    LogLine, Logs, Monitoring, NativeSettings, NativeTraffic, OneOffTask, Placement, Registry,
    Resource, RolloutState, RunRequest, RunningTask, Scan, ScanStatus, Secrets, Service,
    ServiceDeployment, ServiceDeploymentStatus, ServiceEvent, ServiceStatus, Severity, StoppedTask,
    TargetGroupMetrics, TargetHealth, TargetState, TaskDefinition, TrafficStep,
};

mod calls;
mod cloudwatch;
mod db;
mod ecr;
mod ecs;
mod elb;
mod identity;
mod lock;
mod logs;
#[cfg(test)]
mod model;
mod notify;
mod secrets;
mod sns;

pub use cloudwatch::{SdkMonitoring, lb_dimension, tg_dimension};
pub use ecr::SdkRegistry;
pub use ecs::{SdkEcs, family_of, revision_of};
pub use elb::SdkLoadBalancing;
pub use secrets::{SdkParameters, SdkSecrets};

/// Where and as whom to reach AWS: flags and environment, resolved once.
#[derive(Debug, Clone, Default)]
pub struct Connection {
    pub profile: Option<String>,
    pub region: Option<String>,
    /// Overrides every service's endpoint (`--endpoint-url`; the SDK also reads
    /// `AWS_ENDPOINT_URL` by itself).
    pub endpoint_url: Option<String>,
}

/// Loads the shared SDK configuration: the standard credential chain, and a retry policy that
/// gives up quickly so opsctl's own pacer sees throttling and slows down (see the README's
/// "Retries and timeouts").
pub async fn sdk_config(conn: &Connection) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(retry_config())
        .timeout_config(timeout_config());
    if let Some(profile) = &conn.profile {
        // A profile named on the command line is where the credentials come from, as with the
        // aws CLI: the default chain would take AWS_ACCESS_KEY_ID first and ignore it.
        let credentials = aws_config::profile::ProfileFileCredentialsProvider::builder()
            .profile_name(profile)
            .configure(
                &aws_config::provider_config::ProviderConfig::default()
                    .with_region(conn.region.clone().map(Region::new)),
            )
            .build();
        loader = loader
            .profile_name(profile)
            .credentials_provider(credentials);
    }
    if let Some(region) = &conn.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(url) = &conn.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    loader.load().await
}

/// Why a role could not be assumed.
pub enum AssumeError {
    /// STS answered no (no such role, a trust policy that does not let the caller in, a
    /// wrong external id): what it said.
    Refused(String),
    /// No answer, or no credentials to ask with: the error, sorted as any call's.
    Failed(AwsError),
}

/// `base`, acting as `role`: its credentials assumed from `base`'s now (one AssumeRole call),
/// and again by the SDK before they expire. Once per process: a command that loads its env
/// twice (the lock, then the work) gets the same session.
pub async fn assume_role(
    base: &SdkConfig,
    role: &str,
    external_id: Option<&str>,
    session: &str,
) -> Result<SdkConfig, AssumeError> {
    static ASSUMED: std::sync::Mutex<Vec<(String, SdkConfig)>> = std::sync::Mutex::new(Vec::new());
    let key = format!(
        "{role} {external_id:?} {session} {:?} {:?}",
        base.region(),
        base.endpoint_url()
    );
    if let Some((_, sdk)) = ASSUMED.lock().unwrap().iter().find(|(k, _)| *k == key) {
        return Ok(sdk.clone());
    }
    let sdk = assume_anew(base, role, external_id, session).await?;
    ASSUMED.lock().unwrap().push((key, sdk.clone()));
    Ok(sdk)
}

async fn assume_anew(
    base: &SdkConfig,
    role: &str,
    external_id: Option<&str>,
    session: &str,
) -> Result<SdkConfig, AssumeError> {
    use aws_config::sts::AssumeRoleProvider;
    use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
    let mut builder = AssumeRoleProvider::builder(role)
        .session_name(session)
        .configure(base);
    if let Some(id) = external_id {
        builder = builder.external_id(id);
    }
    let provider = builder.build().await;
    let first = provider.provide_credentials().await;
    let primed = Primed {
        first: std::sync::Mutex::new(first.as_ref().ok().cloned()),
        provider,
    };
    let sdk = base
        .to_builder()
        .credentials_provider(SharedCredentialsProvider::new(primed))
        .build();
    match first {
        Ok(_) => Ok(sdk),
        Err(e) => {
            let what = format!("AssumeRole {role}");
            let detail = causes(&e);
            Err(match sts_answer(&e) {
                StsAnswer::Said(said) => AssumeError::Refused(said),
                StsAnswer::NoCredentials => AssumeError::Failed(AwsError::NoCredentials(format!(
                    "{what}: no usable AWS credentials to assume it with ({detail})"
                ))),
                StsAnswer::None => AssumeError::Failed(AwsError::Unreachable(format!(
                    "{what}: no answer from AWS ({detail})"
                ))),
            })
        }
    }
}

/// What came of asking STS for a role's credentials.
enum StsAnswer {
    /// STS answered: `Code: message`.
    Said(String),
    /// Nothing was sent: no credentials to sign the request with.
    NoCredentials,
    /// No answer (refused, unreachable, timed out).
    None,
}

/// What STS answered to AssumeRole, found in the credentials error's causes.
fn sts_answer(e: &(dyn std::error::Error + 'static)) -> StsAnswer {
    use aws_sdk_sts::operation::assume_role::AssumeRoleError;
    type Answer =
        SdkError<AssumeRoleError, aws_smithy_runtime_api::client::orchestrator::HttpResponse>;
    let mut cause = Some(e);
    while let Some(err) = cause {
        if let Some(sdk) = err.downcast_ref::<Answer>() {
            if let Some(se) = sdk.as_service_error() {
                return StsAnswer::Said(format!(
                    "{}: {}",
                    se.code().unwrap_or("an error"),
                    se.message().unwrap_or_default()
                ));
            }
            return match sdk {
                // Neither the network nor a timeout: the request was never signed.
                SdkError::DispatchFailure(d) if !d.is_io() && !d.is_timeout() => {
                    StsAnswer::NoCredentials
                }
                _ => StsAnswer::None,
            };
        }
        cause = err.source();
    }
    StsAnswer::None
}

/// An assumed role's credentials: the ones assumed up front are used first, not assumed
/// again by the first call; after them, the provider's (which assumes anew when they near
/// their expiry).
#[derive(Debug)]
struct Primed {
    first: std::sync::Mutex<Option<aws_credential_types::Credentials>>,
    provider: aws_config::sts::AssumeRoleProvider,
}

impl aws_credential_types::provider::ProvideCredentials for Primed {
    fn provide_credentials<'a>(
        &'a self,
    ) -> aws_credential_types::provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        if let Some(first) = self.first.lock().unwrap().take() {
            return aws_credential_types::provider::future::ProvideCredentials::ready(Ok(first));
        }
        self.provider.provide_credentials()
    }
}

/// The profiles the shared config and credentials files define (`~/.aws/config` and
/// `~/.aws/credentials`, or the files `AWS_CONFIG_FILE` and `AWS_SHARED_CREDENTIALS_FILE`
/// name), read as the SDK reads them. Missing files define none; an unreadable one is an error.
pub async fn defined_profiles() -> Result<Vec<String>, String> {
    use aws_types::os_shim_internal::{Env, Fs};
    // The default file set: the files above.
    let set = aws_config::profile::load(&Fs::real(), &Env::real(), &Default::default(), None)
        .await
        .map_err(|e| e.to_string())?;
    let mut names: Vec<String> = set.profiles().map(str::to_owned).collect();
    names.sort();
    Ok(names)
}

/// Standard retries (not adaptive, whose client-side rate limiter sleeps about 18 s a retry
/// under a throttling burst): 4 attempts, backing off from 0.2 s to at most 2 s, so a burst
/// of three throttled or failed answers costs about 1.5 s. A call still failing after that
/// reaches the caller, whose pacer decides.
pub fn retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(4)
        .with_initial_backoff(std::time::Duration::from_millis(200))
        .with_max_backoff(std::time::Duration::from_secs(2))
}

/// Connect within 3 s, an answer within 30 s, a call with its retries within 60 s.
pub fn timeout_config() -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(std::time::Duration::from_secs(3))
        .read_timeout(std::time::Duration::from_secs(30))
        .operation_timeout(std::time::Duration::from_secs(60))
        .build()
}

/// A client of one service from the shared configuration, logging each call at `-v`.
macro_rules! client {
    ($krate:ident, $config:expr) => {
        $krate::Client::from_conf(
            $krate::config::Builder::from($config)
                .interceptor(calls::CallLog)
                .build(),
        )
    };
}

/// Builds every adapter from one SDK configuration.
pub fn clients(config: &SdkConfig) -> Aws {
    Aws {
        ecs: Arc::new(SdkEcs(client!(aws_sdk_ecs, config))),
        registry: Arc::new(SdkRegistry(client!(aws_sdk_ecr, config))),
        secrets: Arc::new(SdkSecrets(
            client!(aws_sdk_secretsmanager, config),
            SdkParameters(client!(aws_sdk_ssm, config)),
        )),
        monitoring: Arc::new(SdkMonitoring(client!(aws_sdk_cloudwatch, config))),
        lb: Arc::new(SdkLoadBalancing(client!(
            aws_sdk_elasticloadbalancingv2,
            config
        ))),
        db: Arc::new(db::SdkDatabase(client!(aws_sdk_rds, config))),
        regions: Arc::new(SdkRegions(config.clone())),
        autoscaling: Arc::new(db::SdkAutoScaling(client!(
            aws_sdk_applicationautoscaling,
            config
        ))),
        logs: Arc::new(logs::SdkLogs(client!(aws_sdk_cloudwatchlogs, config))),
        locks: Arc::new(lock::SdkLocks(client!(aws_sdk_ssm, config))),
        identity: Arc::new(identity::SdkIdentity(client!(aws_sdk_sts, config))),
        notifier: Arc::new(notify::SdkNotifier::new(sns::SdkSns(client!(
            aws_sdk_sns,
            config
        )))),
    }
}

/// Clients for other regions (RDS, and Secrets Manager with Parameter Store), built from the
/// same configuration.
pub struct SdkRegions(SdkConfig);

impl super::Regions for SdkRegions {
    fn home(&self) -> Option<String> {
        self.0.region().map(|r| r.to_string())
    }

    fn database(&self, region: &str) -> Arc<dyn super::Database> {
        let config = aws_sdk_rds::config::Builder::from(&self.0)
            .region(Region::new(region.to_owned()))
            .interceptor(calls::CallLog)
            .build();
        Arc::new(db::SdkDatabase(aws_sdk_rds::Client::from_conf(config)))
    }

    fn secrets(&self, region: &str) -> Arc<dyn Secrets> {
        let region = Region::new(region.to_owned());
        let secrets = aws_sdk_secretsmanager::config::Builder::from(&self.0)
            .region(region.clone())
            .interceptor(calls::CallLog)
            .build();
        let parameters = aws_sdk_ssm::config::Builder::from(&self.0)
            .region(region)
            .interceptor(calls::CallLog)
            .build();
        Arc::new(SdkSecrets(
            aws_sdk_secretsmanager::Client::from_conf(secrets),
            SdkParameters(aws_sdk_ssm::Client::from_conf(parameters)),
        ))
    }
}

/// Sorts an SDK error by its code. The message is `Call: Code: message` as AWS wrote it,
/// or, when no answer came, what the connection said.
fn classify<E, R>(what: &str, err: SdkError<E, R>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    // No answer at all. A request without credentials never left: nothing was sent anywhere.
    if let SdkError::DispatchFailure(_)
    | SdkError::TimeoutError(_)
    | SdkError::ConstructionFailure(_) = &err
    {
        let detail = causes(&err);
        return if detail.contains("credentials") {
            AwsError::NoCredentials(format!("{what}: no usable AWS credentials ({detail})"))
        } else if matches!(err, SdkError::ConstructionFailure(_)) {
            AwsError::Other(format!("{what}: the request could not be built ({detail})"))
        } else {
            AwsError::Unreachable(format!("{what}: no answer from AWS ({detail})"))
        };
    }
    let code = err.code().unwrap_or_default().to_owned();
    let text = match (code.as_str(), err.message()) {
        ("", _) => format!("{what}: {}", causes(&err)),
        (code, Some(message)) if !message.is_empty() => format!("{what}: {code}: {message}"),
        (code, _) => format!("{what}: {code}"),
    };
    let resource = match code.as_str() {
        "ClusterNotFoundException" => Some(Resource::Cluster),
        "ServiceNotFoundException" => Some(Resource::Service),
        "RepositoryNotFoundException" => Some(Resource::Repository),
        "TargetGroupNotFound" | "TargetGroupNotFoundException" => Some(Resource::TargetGroup),
        "ListenerNotFound" | "RuleNotFound" => Some(Resource::Listener),
        "LoadBalancerNotFound" => Some(Resource::LoadBalancer),
        "DBInstanceNotFound" | "DBInstanceNotFoundFault" => Some(Resource::DbInstance),
        "DBSnapshotNotFound" | "DBSnapshotNotFoundFault" => Some(Resource::DbSnapshot),
        "ResourceNotFoundException" => Some(Resource::Other),
        _ => None,
    };
    if let Some(resource) = resource {
        return AwsError::NotFound(resource, text);
    }
    match code.as_str() {
        "Throttling"
        | "ThrottlingException"
        | "TooManyRequestsException"
        | "RequestLimitExceeded"
        | "RequestThrottled"
        | "RequestThrottledException" => AwsError::Throttled(text),
        "AccessDenied"
        | "AccessDeniedException"
        | "UnauthorizedOperation"
        | "UnrecognizedClientException"
        | "InvalidClientTokenId"
        | "ExpiredToken"
        | "ExpiredTokenException" => AwsError::AccessDenied(text),
        "InvalidParameterException" | "ClientException" | "ValidationError" => {
            AwsError::Invalid(text)
        }
        _ => AwsError::Other(text),
    }
}

/// `a: b: c` from an error and its sources, skipping a cause its parent already spelled out.
fn causes(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

fn ts(t: Option<&aws_smithy_types::DateTime>) -> Option<Timestamp> {
    t.and_then(|t| Timestamp::new(t.secs(), t.subsec_nanos() as i32).ok())
}

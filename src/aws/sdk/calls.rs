//! `-v`: one log line per AWS call, with what answered and how long the call took (its
//! retries included). And, whatever the verbosity, a warning when an attempt goes
//! unanswered for [`SLOW`]: a silent endpoint would otherwise hold a command without a word
//! until the SDK's timeouts end it (see `timeout_config`).

use std::time::{Duration, Instant};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
    FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};

/// Logs every call at info (`-v`) under the target `opsctl::aws`.
#[derive(Debug)]
pub(super) struct CallLog;

#[derive(Debug, Clone)]
struct Started(Instant);

impl Storable for Started {
    type Storer = StoreReplace<Self>;
}

/// How long an attempt may go unanswered before the user is told what opsctl waits for.
pub(super) const SLOW: Duration = Duration::from_secs(5);

/// The warning of the attempt in flight, cancelled when its answer (or error) comes, or
/// when the call is dropped (its config bag with it).
#[derive(Debug, Clone)]
struct Watch(std::sync::Arc<AbortOnDrop>);

#[derive(Debug)]
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Storable for Watch {
    type Storer = StoreReplace<Self>;
}

/// The call as IAM names it (`ecs:DescribeServices`).
fn call_name(cfg: &ConfigBag) -> String {
    cfg.load::<Metadata>()
        .map(|m| format!("{}:{}", action_prefix(m.service()), m.name()))
        .unwrap_or_else(|| "an AWS call".into())
}

impl Intercept for CallLog {
    fn name(&self) -> &'static str {
        "CallLog"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return Ok(());
        };
        let call = call_name(cfg);
        let uri = context.request().uri();
        let endpoint = uri
            .split('?')
            .next()
            .unwrap_or(uri)
            .trim_end_matches('/')
            .to_owned();
        let task = runtime.spawn(async move {
            let started = Instant::now();
            let mut wait = SLOW;
            loop {
                tokio::time::sleep(wait).await;
                tracing::warn!(
                    target: "opsctl::aws",
                    "still waiting for {call} from {endpoint} ({} s without an answer); \
                     if this endpoint is wrong, check --endpoint-url / AWS_ENDPOINT_URL, the network and any HTTPS_PROXY",
                    started.elapsed().as_secs()
                );
                wait = SLOW * 2;
            }
        });
        cfg.interceptor_state()
            .store_put(Watch(std::sync::Arc::new(AbortOnDrop(task.abort_handle()))));
        Ok(())
    }

    fn read_after_attempt(
        &self,
        _context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(watch) = cfg.load::<Watch>() {
            watch.0.0.abort();
        }
        Ok(())
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        cfg.interceptor_state().store_put(Started(Instant::now()));
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(watch) = cfg.load::<Watch>() {
            watch.0.0.abort();
        }
        if !tracing::enabled!(target: "opsctl::aws", tracing::Level::INFO) {
            return Ok(());
        }
        let millis = cfg
            .load::<Started>()
            .map(|s| s.0.elapsed().as_millis())
            .unwrap_or_default();
        let call = call_name(cfg);
        let attempts = cfg.load::<RequestAttempts>().map_or(1, |a| a.attempts());
        let retries = if attempts > 1 {
            format!(" ({attempts} attempts)")
        } else {
            String::new()
        };
        let answer = match (context.response(), context.output_or_error()) {
            (Some(r), Some(Ok(_))) => r.status().as_u16().to_string(),
            (Some(r), Some(Err(e))) => match e.as_operation_error() {
                Some(error) => format!("{} {error}", r.status().as_u16()),
                None => format!("{} (unreadable answer)", r.status().as_u16()),
            },
            (None, Some(Err(e))) if e.is_timeout_error() => "timed out".into(),
            (None, Some(Err(e))) if e.is_connector_error() => {
                "no answer (connection failed)".into()
            }
            (None, Some(Err(_))) => "not sent".into(),
            _ => "no answer".into(),
        };
        tracing::info!(target: "opsctl::aws", "{call} {answer} in {millis} ms{retries}");
        Ok(())
    }
}

/// The service as IAM's actions name it (`ecs:DescribeServices`), from the SDK's service id.
fn action_prefix(service: &str) -> String {
    match service {
        "Elastic Load Balancing v2" | "ElasticLoadBalancingv2" => "elasticloadbalancing".into(),
        "Application Auto Scaling" => "application-autoscaling".into(),
        "CloudWatch Logs" => "logs".into(),
        "Secrets Manager" => "secretsmanager".into(),
        other => other.to_ascii_lowercase().replace(' ', ""),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn services_are_named_as_iam_names_them() {
        for (sdk, iam) in [
            ("ECS", "ecs"),
            ("Elastic Load Balancing v2", "elasticloadbalancing"),
            ("CloudWatch Logs", "logs"),
            ("Application Auto Scaling", "application-autoscaling"),
            ("Secrets Manager", "secretsmanager"),
            ("CloudWatch", "cloudwatch"),
        ] {
            assert_eq!(super::action_prefix(sdk), iam);
        }
    }
}

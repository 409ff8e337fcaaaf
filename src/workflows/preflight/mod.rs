//! Read-only checks before any change: the service, its container, the version's image,
//! the image's scan where the env gates on it (`scan`), the secrets the task definition
//! references, the alarms, and no rollout in flight.

use serde::Serialize;

use super::drift;
use super::{Check, Event, Interrupt, Reporter};
use crate::aws::{Aws, AwsError, Image, NoContainer, Service, TaskDefinition};
use crate::config::{DriftMode, EnvConfig, TaskDefinitionFile};

mod scan;

pub use scan::ScanSummary;

/// What to check.
pub struct Request<'a> {
    pub env: &'a EnvConfig,
    pub service: &'a str,
    /// The version to deploy; `None` skips the image check.
    pub version: Option<&'a str>,
    /// Report alarms in ALARM as warnings instead of failures.
    pub ignore_alarms: bool,
    /// Ctrl-C, which ends a wait for the image's scan.
    pub interrupt: &'a Interrupt,
}

/// What the checks found out, for the workflow that runs next.
#[derive(Debug, Clone, Serialize)]
pub struct Context {
    #[serde(skip)]
    pub service: Service,
    #[serde(skip)]
    pub current: TaskDefinition,
    pub container: String,
    pub repository: String,
    pub image: Option<Image>,
}

/// Every check's result and, when the service could be read, the context.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub checks: Vec<Check>,
    #[serde(skip)]
    pub context: Option<Context>,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.context.is_some() && self.checks.iter().all(|c| c.ok)
    }
}

fn push(checks: &mut Vec<Check>, reporter: &dyn Reporter, check: Check) {
    reporter.report(Event::Check(check.clone()));
    checks.push(check);
}

/// A service ECS deploys itself: its production listener rule must forward all traffic to one
/// of its two target groups, so that ECS has a side to shift to. Split weights mean a
/// deployment is under way, or the rule was changed by hand.
async fn native_check(aws: &Aws, service: &Service) -> Check {
    let strategy = service.strategy;
    let Some(traffic) = &service.native_traffic else {
        return Check::pass(
            "native",
            format!(
                "ECS deploys {} itself ({strategy}), behind no load balancer",
                service.name
            ),
        );
    };
    // `…:targetgroup/NAME/ID` -> `NAME`
    let name = |arn: &str| arn.split('/').nth(1).unwrap_or(arn).to_owned();
    match aws.lb.forward(&traffic.production_rule).await {
        Err(e) => Check::fail(
            "native",
            format!(
                "cannot read the production listener rule {}: {e}",
                traffic.production_rule
            ),
            "check the service's loadBalancers[].advancedConfiguration.productionListenerRule",
        ),
        Ok(fwd) => {
            let weight = |tg: &str| fwd.weights.iter().find(|(t, _)| t == tg).map(|(_, w)| *w);
            let [a, b] = &traffic.target_groups;
            match (weight(a), weight(b)) {
                (Some(wa), Some(wb)) if (wa, wb) == (100, 0) || (wa, wb) == (0, 100) => {
                    let (live, idle) = if wa == 100 { (a, b) } else { (b, a) };
                    Check::pass(
                        "native",
                        format!(
                            "ECS deploys {} itself ({strategy}); the production rule sends all traffic to {}, the new revision goes to {}",
                            service.name,
                            name(live),
                            name(idle)
                        ),
                    )
                }
                (wa, wb) => Check::fail(
                    "native",
                    format!(
                        "the production rule forwards {} to {} and {} to {}: not 100/0 between the service's two target groups",
                        wa.map_or("nothing".into(), |w| format!("{w}%")),
                        name(a),
                        wb.map_or("nothing".into(), |w| format!("{w}%")),
                        name(b)
                    ),
                    "wait for the deployment under way (opsctl status ENV), or put the rule back to 100/0",
                ),
            }
        }
    }
}

/// Runs every check it can (so one run shows every problem) and changes nothing.
pub async fn run(aws: &Aws, req: &Request<'_>, reporter: &dyn Reporter) -> anyhow::Result<Report> {
    let env = req.env;
    let mut checks = Vec::new();
    let c = &mut checks;

    let service = match aws
        .ecs
        .describe_services(&env.cluster, &[req.service.to_owned()])
        .await
    {
        Ok(mut found) if !found.is_empty() => found.remove(0),
        Ok(_) | Err(AwsError::NotFound(..)) => {
            let (message, hint) = super::service_missing(env, req.service);
            push(c, reporter, Check::fail("service", message, hint));
            return Ok(Report {
                checks,
                context: None,
            });
        }
        Err(e) => return Err(e.into()),
    };
    if service.status != crate::aws::ServiceStatus::Active {
        push(
            c,
            reporter,
            Check::fail(
                "service",
                format!("service {} is {}, not ACTIVE", service.name, service.status),
                "deploy to an active service; a deleted service must be created again",
            ),
        );
        return Ok(Report {
            checks,
            context: None,
        });
    }
    let current = aws
        .ecs
        .describe_task_definition(service.current_task_definition())
        .await?;
    push(
        c,
        reporter,
        Check::pass(
            "service",
            format!(
                "{} is ACTIVE on {}, {}/{} running, deployed by ECS with {}",
                service.name,
                current.short(),
                service.running,
                service.desired,
                service.strategy
            ),
        ),
    );
    if let Some(declared) = env.declared_strategy
        && declared != service.strategy
    {
        push(
            c,
            reporter,
            Check::fail(
                "strategy",
                format!(
                    "opsctl.toml says {declared}, but ECS deploys {} with {} (its deploymentConfiguration.strategy)",
                    service.name, service.strategy
                ),
                format!(
                    "set strategy = \"{}\" in [env.{}], or change the service's deploymentConfiguration to {declared}",
                    service
                        .strategy
                        .to_string()
                        .to_ascii_lowercase()
                        .replace('_', ""),
                    env.name
                ),
            ),
        );
    }
    if service.strategy.is_native() {
        push(c, reporter, native_check(aws, &service).await);
    }

    let container = match current.container_for(env.container.as_deref()) {
        Ok(found) => Some(found.name.clone()),
        Err(why) => {
            let hint = match why {
                NoContainer::Missing { .. } => format!(
                    "set container = \"...\" in [env.{}] to one of those",
                    env.name
                ),
                NoContainer::Ambiguous { .. } => {
                    format!("add container = \"...\" to [env.{}]", env.name)
                }
            };
            push(c, reporter, Check::fail("container", why.to_string(), hint));
            None
        }
    };
    let current_image = container
        .as_deref()
        .and_then(|name| current.image_of(name))
        .unwrap_or_default()
        .to_owned();
    if let Some(name) = &container {
        push(
            c,
            reporter,
            Check::pass("container", format!("{name} runs {current_image}")),
        );
    }
    let repository = env
        .repository
        .clone()
        .unwrap_or_else(|| repository_of(&current_image).to_owned());

    let mut image = None;
    if let Some(version) = req.version {
        match aws.registry.find_image(&repository, version).await {
            Ok(Some(found)) => {
                push(
                    c,
                    reporter,
                    Check::pass(
                        "image",
                        format!("{} ({})", found.uri, short_digest(&found.digest)),
                    ),
                );
                if let Some(gate) = &env.scan {
                    let check =
                        scan::check(aws, req, gate, &repository, version, &found, reporter).await?;
                    push(c, reporter, check);
                }
                image = Some(found);
            }
            Ok(None) => push(
                c,
                reporter,
                Check::fail(
                    "image",
                    format!("version {version} is not in ECR repository {repository}"),
                    format!(
                        "push the image first, or pick a tag that exists \
                         (aws ecr list-images --repository-name {repository})"
                    ),
                ),
            ),
            Err(AwsError::NotFound(..)) => push(
                c,
                reporter,
                Check::fail(
                    "image",
                    format!("ECR repository {repository} does not exist"),
                    format!("set repository = \"...\" in [env.{}]", env.name),
                ),
            ),
            Err(e) => return Err(e.into()),
        }
    }

    if let (Some(file), Some(name)) = (&env.task_definition, &container) {
        let check = drift_check(aws, env, file, &current, name, reporter).await?;
        push(c, reporter, check);
    }

    // Each secret once (two JSON keys of one secret are one lookup), in its own region: an
    // ARN of another region is not found in the home one.
    let home = aws.regions.home();
    let mut looked_up: Vec<(Option<&str>, SecretRef)> = Vec::new();
    let mut missing = Vec::new();
    for value_from in &current.secrets {
        let what = SecretRef::of(value_from);
        let region = arn_region(value_from).filter(|r| Some(*r) != home.as_deref());
        if looked_up.iter().any(|(r, w)| *r == region && *w == what) {
            continue;
        }
        let secrets = match region {
            Some(r) => aws.regions.secrets(r),
            None => aws.secrets.clone(),
        };
        let exists = match &what {
            SecretRef::SecretsManager(id) => secrets.secret_exists(id).await?,
            SecretRef::Parameter(name) => secrets.parameter_exists(name).await?,
        };
        if !exists {
            // A secret by its ARN without a JSON key; a parameter as the reference names it.
            let named = match &what {
                SecretRef::SecretsManager(id) => id,
                SecretRef::Parameter(_) => value_from.as_str(),
            };
            missing.push(match region {
                Some(r) => format!("{named} (in {r})"),
                None => named.to_owned(),
            });
        }
        looked_up.push((region, what));
    }
    let checked = looked_up.len();
    if missing.is_empty() {
        push(
            c,
            reporter,
            Check::pass("secrets", format!("{checked} referenced secret(s) exist")),
        );
    } else {
        push(
            c,
            reporter,
            Check::fail(
                "secrets",
                format!(
                    "secret(s) referenced by {} do not exist: {}",
                    current.short(),
                    missing.join(", ")
                ),
                "create them (Secrets Manager or Parameter Store), or fix the task definition's \
                 `secrets`, `logConfiguration.secretOptions` or `repositoryCredentials`",
            ),
        );
    }

    if !env.alarms.is_empty() {
        let alarms = aws.monitoring.alarms(&env.alarms).await?;
        let unknown: Vec<&str> = env
            .alarms
            .iter()
            .filter(|name| !alarms.iter().any(|a| &a.name == *name))
            .map(String::as_str)
            .collect();
        let firing = crate::aws::firing(&alarms);
        if !unknown.is_empty() {
            push(
                c,
                reporter,
                Check::fail(
                    "alarms",
                    format!("alarm(s) not found in CloudWatch: {}", unknown.join(", ")),
                    format!("fix `alarms` in [env.{}]", env.name),
                ),
            );
        } else if !firing.is_empty() && !req.ignore_alarms {
            push(
                c,
                reporter,
                Check::fail(
                    "alarms",
                    format!("in ALARM: {}", firing.join("; ")),
                    "deploy once the alarm is OK, or pass --ignore-alarms if the deploy is the fix",
                ),
            );
        } else if !firing.is_empty() {
            push(
                c,
                reporter,
                Check::warn(
                    "alarms",
                    format!("in ALARM but ignored: {}", firing.join("; ")),
                    "--ignore-alarms: the deploy goes ahead while they fire",
                ),
            );
        } else {
            push(
                c,
                reporter,
                Check::pass(
                    "alarms",
                    format!("{} alarm(s), none in ALARM", alarms.len()),
                ),
            );
        }
    }

    if service.deployment_in_flight() {
        let primary = service.primary();
        push(
            c,
            reporter,
            Check::fail(
                "in-flight",
                format!(
                    "a deployment is already in progress ({} deployments; primary {} {})",
                    service.deployments.len(),
                    primary.map_or("?", |d| d.id.as_str()),
                    primary
                        .and_then(|d| d.rollout_state)
                        .map(|r| r.to_string())
                        .unwrap_or_default()
                ),
                format!(
                    "wait for it with `opsctl wait-stable {}`, or roll it back with `opsctl rollback {}`",
                    env.name, env.name
                ),
            ),
        );
    } else {
        push(
            c,
            reporter,
            Check::pass("in-flight", "no deployment in progress"),
        );
    }

    let context = container.map(|container| Context {
        service,
        current,
        container,
        repository,
        image,
    });
    Ok(Report { checks, context })
}

/// Where the live revision differs from the task definition kept in the repository: every
/// field, named. `drift = "refuse"` fails the check; the default passes it with a warning.
async fn drift_check(
    aws: &Aws,
    env: &EnvConfig,
    file: &TaskDefinitionFile,
    current: &TaskDefinition,
    container: &str,
    reporter: &dyn Reporter,
) -> anyhow::Result<Check> {
    let shown = &file.shown;
    let template = match drift::read(&file.path) {
        Ok(t) => t,
        Err(why) => {
            return Ok(Check::fail(
                "drift",
                format!("cannot compare {} with {shown}: {why}", current.short()),
                format!(
                    "fix task_definition in [env.{}] (a path relative to the config file)",
                    env.name
                ),
            ));
        }
    };
    let live = aws.ecs.task_definition_document(&current.arn).await?;
    let found = drift::compare(&template, &live, container);
    if !found.unknown_fields.is_empty() {
        reporter.warn(format!(
            "{} has fields this opsctl does not know, which a deploy's copy would drop: {}; \
             upgrade opsctl before deploying",
            current.short(),
            found.unknown_fields.join(", ")
        ));
    }
    let wildcards = if found.placeholders.is_empty() {
        String::new()
    } else {
        format!(" ({} taken as any value)", found.placeholders.join(", "))
    };
    if found.differences.is_empty() {
        return Ok(Check::pass(
            "drift",
            format!("{} matches {shown}{wildcards}", current.short()),
        ));
    }
    let n = found.differences.len();
    let mut detail = format!(
        "{} differs from {shown} in {n} field{}{wildcards}:",
        current.short(),
        if n == 1 { "" } else { "s" }
    );
    for d in &found.differences {
        detail.push_str(&format!("\n                      {d}"));
    }
    Ok(match file.drift {
        DriftMode::Refuse => Check::fail(
            "drift",
            detail,
            format!(
                "a change made outside the repository would ride along with every deploy: put it \
                 into {shown} and register that, or undo it (drift = \"refuse\" in [env.{}])",
                env.name
            ),
        ),
        DriftMode::Warn => Check::warn(
            "drift",
            detail,
            format!(
                "a deploy carries the live values over; put them into {shown}, or undo them \
                 (drift = \"refuse\" in [env.{}] stops such deploys)",
                env.name
            ),
        ),
    })
}

/// The repository part of an image reference: `…/users:v1` → `users`.
pub fn repository_of(image: &str) -> &str {
    let without_digest = image.split('@').next().unwrap_or(image);
    let (registry_and_path, _) = match without_digest.rsplit_once(':') {
        Some((head, tag)) if !tag.contains('/') => (head, tag),
        _ => (without_digest, ""),
    };
    match registry_and_path.split_once('/') {
        Some((_, path)) => path,
        None => registry_and_path,
    }
}

/// Where a task definition's secret reference points.
#[derive(Debug, PartialEq, Eq)]
pub enum SecretRef<'a> {
    /// A Secrets Manager secret: its ARN without a JSON key or version suffix.
    SecretsManager(&'a str),
    /// A Parameter Store parameter: its name (from a name, or an ARN's `parameter/NAME`).
    Parameter(String),
}

impl<'a> SecretRef<'a> {
    pub fn of(value_from: &'a str) -> Self {
        if let Some(id) = secret_id(value_from) {
            return SecretRef::SecretsManager(id);
        }
        // arn:aws:ssm:REGION:ACCOUNT:parameter/NAME names `/NAME` when NAME has a path.
        match value_from
            .split_once(":parameter/")
            .filter(|(head, _)| head.starts_with("arn:") && head.contains(":ssm:"))
        {
            Some((_, name)) if name.contains('/') => SecretRef::Parameter(format!("/{name}")),
            Some((_, name)) => SecretRef::Parameter(name.to_owned()),
            None => SecretRef::Parameter(value_from.to_owned()),
        }
    }
}

/// The region of an ARN (`arn:PARTITION:SERVICE:REGION:...`); `None` for a plain name.
fn arn_region(value_from: &str) -> Option<&str> {
    let mut parts = value_from.split(':');
    (parts.next() == Some("arn"))
        .then(|| parts.nth(2))
        .flatten()
        .filter(|r| !r.is_empty())
}

/// A Secrets Manager secret ARN without the JSON-key/version suffix ECS allows; `None` for
/// anything that is not a Secrets Manager ARN.
pub fn secret_id(value_from: &str) -> Option<&str> {
    let parts: Vec<&str> = value_from.splitn(8, ':').collect();
    if parts.len() < 7 || parts[2] != "secretsmanager" {
        return None;
    }
    let end: usize = parts[..7].iter().map(|p| p.len() + 1).sum::<usize>() - 1;
    Some(&value_from[..end])
}

fn short_digest(digest: &str) -> &str {
    digest.get(..19).unwrap_or(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_references_point_to_secrets_manager_or_parameter_store() {
        let sm = "arn:aws:secretsmanager:us-east-1:1:secret:db-AbCdEf";
        assert_eq!(
            SecretRef::of(&format!("{sm}:password::")),
            SecretRef::SecretsManager(sm)
        );
        assert_eq!(
            SecretRef::of("arn:aws:ssm:us-east-1:1:parameter/team/db"),
            SecretRef::Parameter("/team/db".into())
        );
        assert_eq!(
            SecretRef::of("arn:aws:ssm:us-east-1:1:parameter/flat"),
            SecretRef::Parameter("flat".into())
        );
        assert_eq!(
            SecretRef::of("/team/db"),
            SecretRef::Parameter("/team/db".into())
        );
    }

    #[test]
    fn repository_from_image() {
        assert_eq!(
            repository_of("123.dkr.ecr.us-east-1.amazonaws.com/users:v1.0.0"),
            "users"
        );
        assert_eq!(
            repository_of("123.dkr.ecr.us-east-1.amazonaws.com/team/users@sha256:ab"),
            "team/users"
        );
        assert_eq!(repository_of("localhost:5000/users"), "users");
    }

    #[test]
    fn secret_arn_suffix_is_cut() {
        let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:users/db-AbCdEf";
        assert_eq!(secret_id(arn), Some(arn));
        assert_eq!(secret_id(&format!("{arn}:username::")), Some(arn));
        assert_eq!(secret_id("arn:aws:ssm:us-east-1:123:parameter/x"), None);
        assert_eq!(secret_id("plain-name"), None);
    }
}

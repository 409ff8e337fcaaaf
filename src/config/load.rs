//! Finding, reading and validating `opsctl.toml`: every error names the file, the line,
//! the key and what was expected.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::*;
use crate::error::UserError;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    env: BTreeMap<String, RawEnv>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEnv {
    region: Option<String>,
    cluster: String,
    service: Option<String>,
    services: Option<Vec<RawMember>>,
    container: Option<String>,
    repository: Option<String>,
    #[serde(default)]
    confirm: bool,
    timeout: Option<Dur>,
    #[serde(default)]
    alarms: Vec<String>,
    bake: Option<Dur>,
    scaling: Option<Scaling>,
    database: Option<Database>,
    bluegreen: Option<BlueGreen>,
    #[serde(default)]
    before_deploy: Vec<BeforeDeploy>,
    task_definition: Option<String>,
    drift: Option<DriftMode>,
    role_arn: Option<String>,
    external_id: Option<String>,
    strategy: Option<String>,
    scan: Option<RawScan>,
    bake_time: Option<Dur>,
    canary: Option<RawCanary>,
    linear: Option<RawLinear>,
    #[serde(default)]
    notify: Vec<toml::Table>,
}

/// `canary = { percent = 10, bake = "5m" }`: ECS's canaryConfiguration.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCanary {
    percent: Option<f64>,
    bake: Option<Dur>,
}

/// `linear = { step_percent = 25, step_bake = "2m" }`: ECS's linearConfiguration.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLinear {
    step_percent: Option<f64>,
    step_bake: Option<Dur>,
}

/// `{ name = "users-api", container = "users", wave = 2 }` as written; the wave is checked after.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMember {
    name: String,
    container: Option<String>,
    repository: Option<String>,
    wave: Option<i64>,
}

/// `scan = { fail_on = "HIGH", wait = "5m" }` as written; the severity is checked after.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScan {
    fail_on: String,
    wait: Option<Dur>,
}

/// The parsed config file.
#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    pub envs: BTreeMap<String, EnvConfig>,
}

impl Config {
    /// The config file: `explicit` (`--config`, `OPSCTL_CONFIG`) as it is; else the nearest
    /// `opsctl.toml` from the current directory up, stopping at the repository's root (the
    /// first directory holding `.git`), as git and cargo look for theirs.
    pub fn locate(explicit: Option<&Path>) -> Result<PathBuf, UserError> {
        if let Some(path) = explicit {
            return Ok(path.to_owned());
        }
        let here = std::env::current_dir()
            .map_err(|e| UserError::new(format!("cannot read the current directory: {e}")))?;
        let mut searched = Vec::new();
        for (up, dir) in here.ancestors().enumerate() {
            if dir.join(DEFAULT_PATH).is_file() {
                // Named relative to here (`../opsctl.toml`), as the user would write it.
                let mut path = PathBuf::new();
                for _ in 0..up {
                    path.push("..");
                }
                return Ok(path.join(DEFAULT_PATH));
            }
            searched.push(dir.display().to_string());
            if dir.join(".git").exists() {
                break;
            }
        }
        Err(UserError::new(format!(
            "no {DEFAULT_PATH} in {}",
            searched.join(", ")
        ))
        .hint("run opsctl inside the repository that holds opsctl.toml, pass --config PATH, or set OPSCTL_CONFIG"))
    }

    /// [`Config::locate`], then [`Config::load`].
    pub fn find(explicit: Option<&Path>) -> Result<Config, UserError> {
        Config::load(&Config::locate(explicit)?)
    }

    /// Reads and validates the file; every error names the file, and where it can, the line.
    pub fn load(path: &Path) -> Result<Config, UserError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                UserError::new(format!("no config file at {}", path.display())).hint(
                    "run opsctl from the directory holding opsctl.toml, pass --config PATH, \
                     or set OPSCTL_CONFIG",
                )
            } else {
                UserError::new(format!("cannot read {}: {e}", path.display()))
                    .hint("check the file's permissions")
            }
        })?;
        Config::parse(path, &text)
    }

    /// Parses config text that came from `path`.
    pub fn parse(path: &Path, text: &str) -> Result<Config, UserError> {
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            UserError::new(format!(
                "invalid config {}: {}",
                path.display(),
                e.to_string().trim_end()
            ))
            .hint("fix the line shown; the README's configuration reference lists every key")
        })?;
        if raw.env.is_empty() {
            return Err(
                UserError::new(format!("{} defines no environment", path.display()))
                    .hint("add a table such as [env.staging] with cluster and service"),
            );
        }
        let mut envs = BTreeMap::new();
        for (name, env) in raw.env {
            let at = |key: &str| located(path, text, &name, key);
            if !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(UserError::new(format!(
                    "{}: environment name `{name}` may use only letters, digits, - and _",
                    at("")
                ))
                .hint("rename the table"));
            }
            let declared_strategy = match env.strategy.as_deref() {
                None => None,
                Some("two-service") if env.bluegreen.is_some() => None,
                Some("two-service") => {
                    return Err(UserError::new(format!(
                        "{}: env.{name}.strategy = \"two-service\" needs a [env.{name}.bluegreen] table",
                        at("strategy")
                    ))
                    .hint("add the bluegreen table (listener, blue, green), or name the ECS strategy the service uses"));
                }
                Some(_) if env.bluegreen.is_some() => {
                    return Err(UserError::new(format!(
                        "{}: env.{name} has a bluegreen table, whose strategy is \"two-service\"",
                        at("strategy")
                    ))
                    .hint("set strategy = \"two-service\", or remove it"));
                }
                Some(word) => Some(match word {
                    "rolling" => crate::aws::DeploymentStrategy::Rolling,
                    "bluegreen" => crate::aws::DeploymentStrategy::BlueGreen,
                    "linear" => crate::aws::DeploymentStrategy::Linear,
                    "canary" => crate::aws::DeploymentStrategy::Canary,
                    other => {
                        return Err(UserError::new(format!(
                            "{}: env.{name}.strategy `{}` is not a strategy",
                            at("strategy"),
                            crate::input::escape(other)
                        ))
                        .hint("use rolling, bluegreen, linear or canary (ECS's deploymentConfiguration.strategy), or two-service with a bluegreen table"));
                    }
                }),
            };
            let strategy = match (env.service, env.services, env.bluegreen) {
                (None, None, None) => {
                    return Err(UserError::new(format!(
                        "{}: env.{name} names no service",
                        at("")
                    ))
                    .hint(format!(
                        "add service = \"...\" to [env.{name}], services = [...], or a [env.{name}.bluegreen] table"
                    )));
                }
                (Some(_), Some(_), _) => {
                    return Err(UserError::new(format!(
                        "{}: env.{name} has both `service` and `services`",
                        at("services")
                    ))
                    .hint(
                        "keep one: `service = \"...\"` for one service, or list it in `services`",
                    ));
                }
                (_, Some(_), Some(_)) => {
                    return Err(UserError::new(format!(
                        "{}: env.{name} has both `services` and a bluegreen table",
                        at("services")
                    ))
                    .hint("a blue/green environment names its two services per colour; remove `services`, or the bluegreen table"));
                }
                (Some(_), None, Some(_)) => {
                    return Err(UserError::new(format!(
                        "{}: env.{name} has both `service` and a bluegreen table",
                        at("service")
                    ))
                    .hint(
                        "a blue/green environment names its services per colour; remove `service`",
                    ));
                }
                (Some(service), None, None) => Strategy::Rolling { service },
                (None, Some(raw), None) => Strategy::Several {
                    services: members(raw, &name, &at("services"))?,
                },
                (None, None, Some(bluegreen)) => Strategy::TwoService { bluegreen },
            };
            if let Some(t) = env.timeout
                && t.0 < Duration::from_secs(1)
            {
                return Err(UserError::new(format!(
                    "{}: env.{name}.timeout is {}s: a deploy would give up at once and leave its rollback no time",
                    at("timeout"),
                    t.0.as_secs()
                ))
                .hint("use at least 1s, such as timeout = \"15m\""));
            }
            if let Some(s) = env.scaling
                && (s.min < 0 || s.max < s.min)
            {
                return Err(UserError::new(format!(
                    "{}: env.{name}.scaling: min {} and max {} are not a range",
                    at("scaling"),
                    s.min,
                    s.max
                ))
                .hint("use 0 <= min <= max"));
            }
            if let Strategy::TwoService { bluegreen: bg } = &strategy {
                validate_steps(&bg.steps).map_err(|msg| {
                    UserError::new(format!(
                        "{}: env.{name}.bluegreen.steps: {msg}",
                        at("steps")
                    ))
                    .hint("use increasing percentages that end at 100, such as [10, 50, 100]")
                })?;
                for (key, value, max) in [
                    ("max_5xx_percent", bg.max_5xx_percent, 100.0),
                    (
                        "max_p99_increase_percent",
                        bg.max_p99_increase_percent,
                        1000.0,
                    ),
                ] {
                    if !(0.0..=max).contains(&value) {
                        return Err(UserError::new(format!(
                            "{}: env.{name}.bluegreen.{key} = {value} is outside 0 to {max}",
                            at(key)
                        ))
                        .hint(format!("use a percentage from 0 to {max}")));
                    }
                }
                if bg.blue.service == bg.green.service
                    || bg.blue.target_group == bg.green.target_group
                {
                    return Err(UserError::new(format!(
                        "{}: env.{name}.bluegreen: blue and green must name different services and target groups",
                        at("blue")
                    ))
                    .hint("give each colour its own service and target group"));
                }
            }
            let mut seen = std::collections::BTreeSet::new();
            for step in &env.before_deploy {
                if step.name.trim().is_empty()
                    || step.command.is_empty()
                    || step.command[0].trim().is_empty()
                {
                    return Err(UserError::new(format!(
                        "{}: env.{name}.before_deploy: every command needs a name and a command",
                        at("before_deploy")
                    ))
                    .hint("write it as { name = \"migrate\", command = [\"users-service\", \"migrate\"] }"));
                }
                if !seen.insert(step.name.as_str()) {
                    return Err(UserError::new(format!(
                        "{}: env.{name}.before_deploy names `{}` twice",
                        at("before_deploy"),
                        step.name
                    ))
                    .hint("give each command its own name"));
                }
                if let Some(t) = step.timeout
                    && t.0 < Duration::from_secs(1)
                {
                    return Err(UserError::new(format!(
                        "{}: env.{name}.before_deploy `{}` has a timeout of {}s",
                        at("before_deploy"),
                        step.name,
                        t.0.as_secs()
                    ))
                    .hint("use at least 1s, such as timeout = \"10m\""));
                }
            }
            let task_definition = match (env.task_definition, env.drift) {
                (Some(file), _) if file.trim().is_empty() => {
                    return Err(UserError::new(format!(
                        "{}: env.{name}.task_definition is empty",
                        at("task_definition")
                    ))
                    .hint(
                        "name the task definition file kept in the repository, such as \
                           task_definition = \"service/deploy/task-definition.json\"",
                    ));
                }
                (Some(file), drift) => Some(TaskDefinitionFile {
                    // Relative to the config file, as the repository's paths are.
                    path: path.parent().unwrap_or_else(|| Path::new("")).join(&file),
                    shown: file,
                    drift: drift.unwrap_or_default(),
                }),
                (None, Some(_)) => {
                    return Err(UserError::new(format!(
                        "{}: env.{name}.drift is set, but no task_definition to measure drift against",
                        at("drift")
                    ))
                    .hint("add task_definition = \"service/deploy/task-definition.json\" (the file \
                           in the repository), or remove `drift`"));
                }
                (None, None) => None,
            };
            let role = match (env.role_arn, env.external_id) {
                (Some(arn), external_id) => {
                    if !is_role_arn(&arn) {
                        return Err(UserError::new(format!(
                            "{}: env.{name}.role_arn `{}` is not an IAM role ARN",
                            at("role_arn"),
                            crate::input::escape(&arn)
                        ))
                        .hint("write it as arn:aws:iam::ACCOUNT_ID:role/NAME (12 digits, then the role's name and path)"));
                    }
                    if let Some(id) = &external_id
                        && !is_external_id(id)
                    {
                        return Err(UserError::new(format!(
                            "{}: env.{name}.external_id must be 2 to 1224 letters, digits or +=,.@:/-",
                            at("external_id")
                        ))
                        .hint("use the external id the role's trust policy names (its sts:ExternalId condition)"));
                    }
                    Some(AssumedRole { arn, external_id })
                }
                (None, Some(_)) => {
                    return Err(UserError::new(format!(
                        "{}: env.{name}.external_id is set, but no role_arn to assume with it",
                        at("external_id")
                    ))
                    .hint("add role_arn = \"arn:aws:iam::ACCOUNT_ID:role/NAME\", or remove external_id"));
                }
                (None, None) => None,
            };
            let scan = match env.scan {
                None => None,
                Some(raw) => {
                    let words = crate::aws::Severity::RANKED.map(|s| s.as_str()).join(", ");
                    let Some(fail_on) = crate::aws::Severity::parse_threshold(&raw.fail_on) else {
                        return Err(UserError::new(format!(
                            "{}: env.{name}.scan.fail_on = \"{}\" is not a severity",
                            at("scan"),
                            crate::input::escape(&raw.fail_on)
                        ))
                        .hint(format!(
                            "use one of {words}, as ECR writes them: the least severity that \
                             refuses a version, such as fail_on = \"HIGH\""
                        )));
                    };
                    Some(ScanGate {
                        fail_on,
                        wait: raw.wait.unwrap_or(Dur(DEFAULT_SCAN_WAIT)),
                    })
                }
            };
            let native = native_settings(
                &name,
                declared_strategy,
                env.bake_time,
                env.canary,
                env.linear,
                &at,
            )?;
            let notify =
                super::notify::targets(&name, env.notify).map_err(|(i, problem, hint)| {
                    UserError::new(format!(
                        "{}: env.{name}.notify[{i}] {problem}",
                        at("notify")
                    ))
                    .hint(hint)
                })?;
            let env = EnvConfig {
                name: name.clone(),
                region: env.region,
                cluster: env.cluster,
                strategy,
                container: env.container,
                repository: env.repository,
                confirm: env.confirm,
                timeout: env.timeout.unwrap_or(Dur(Duration::from_secs(15 * 60))),
                alarms: env.alarms,
                bake: env.bake.unwrap_or(Dur(Duration::ZERO)),
                scaling: env.scaling,
                database: env.database,
                before_deploy: env.before_deploy,
                task_definition,
                role,
                declared_strategy,
                native,
                scan,
                notify,
            };
            if let Some((key, problem)) = bad_name(&env) {
                return Err(UserError::new(format!(
                    "{}: env.{name}.{key} is {problem}",
                    at(key.rsplit('.').next().unwrap_or(&key))
                ))
                .hint("name the AWS resource (its name or ARN, up to 1600 characters)"));
            }
            if let Some(dr) = env.database.as_ref().and_then(|d| d.dr.as_ref()) {
                if let Err(problem) = crate::input::parse_region(&dr.region) {
                    return Err(UserError::new(format!(
                        "{}: env.{name}.database.dr.region: {problem}",
                        at("dr")
                    ))
                    .hint("name an AWS region such as us-west-2"));
                }
                if env.region.as_deref() == Some(dr.region.as_str()) {
                    return Err(UserError::new(format!(
                        "{}: env.{name}.database.dr.region is {}, the env's own region",
                        at("dr"),
                        dr.region
                    ))
                    .hint("name another region: disaster recovery copies the database out of its region"));
                }
            }
            if let Some(keep) = env.database.as_ref().and_then(|d| d.keep_snapshots)
                && keep == 0
            {
                return Err(UserError::new(format!(
                    "{}: env.{name}.database.keep_snapshots is 0, which would delete every snapshot",
                    at("keep_snapshots")
                ))
                .hint("keep at least 1, or leave keep_snapshots out to keep them all"));
            }
            if let Some((key, value)) = control_chars(&env) {
                return Err(UserError::new(format!(
                    "{}: env.{name}.{key} holds control characters: `{}`",
                    at(key.rsplit('.').next().unwrap_or(&key)),
                    crate::input::escape(&value)
                ))
                .hint("remove them from the value"));
            }
            envs.insert(name.clone(), env);
        }
        Ok(Config {
            path: path.to_owned(),
            envs,
        })
    }

    /// The named environment, or an error that lists the ones there are.
    pub fn env(&self, name: &str) -> Result<&EnvConfig, UserError> {
        self.envs.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.envs.keys().map(String::as_str).collect();
            let mut hint = format!("use one of: {}", known.join(", "));
            if let Some(close) = known.iter().find(|k| similar(k, name)) {
                hint = format!("did you mean `{close}`? ({hint})");
            }
            UserError::new(format!(
                "unknown environment `{name}` in {}",
                self.path.display()
            ))
            .hint(hint)
        })
    }
}

/// The first resource name that is empty or longer than any AWS name or ARN (1600): which
/// key, and what is wrong with it.
fn bad_name(env: &EnvConfig) -> Option<(String, String)> {
    let mut names: Vec<(String, &str)> = vec![("cluster".into(), env.cluster.as_str())];
    if let Some(service) = env.rolling_service() {
        names.push(("service".into(), service));
    }
    for m in env.members().unwrap_or_default() {
        names.push(("services.name".into(), &m.name));
        for (key, value) in [("container", &m.container), ("repository", &m.repository)] {
            if let Some(v) = value {
                names.push((format!("services.{key}"), v));
            }
        }
    }
    let optional = [
        ("container", &env.container),
        ("repository", &env.repository),
        ("region", &env.region),
    ];
    names.extend(
        optional
            .into_iter()
            .filter_map(|(k, v)| v.as_deref().map(|v| (k.to_owned(), v))),
    );
    names.extend(env.alarms.iter().map(|a| ("alarms".to_owned(), a.as_str())));
    if let Some(db) = &env.database {
        names.push(("database.instance".into(), &db.instance));
        if let Some(dr) = &db.dr {
            names.push(("database.dr.region".into(), &dr.region));
            names.push(("database.dr.subnet_group".into(), &dr.subnet_group));
            names.extend(
                [
                    ("kms_key", &dr.kms_key),
                    ("parameter_group", &dr.parameter_group),
                    ("option_group", &dr.option_group),
                ]
                .into_iter()
                .filter_map(|(k, v)| v.as_deref().map(|v| (format!("database.dr.{k}"), v))),
            );
            names.extend(
                dr.security_groups
                    .iter()
                    .map(|g| ("database.dr.security_groups".to_owned(), g.as_str())),
            );
        }
    }
    if let Some(bg) = env.two_service() {
        names.push(("bluegreen.listener".into(), &bg.listener));
        for (colour, c) in [("blue", &bg.blue), ("green", &bg.green)] {
            names.push((format!("bluegreen.{colour}.service"), &c.service));
            names.push((format!("bluegreen.{colour}.target_group"), &c.target_group));
        }
    }
    names.into_iter().find_map(|(key, value)| {
        if value.trim().is_empty() {
            Some((key, "empty".to_owned()))
        } else if value.len() > 1600 {
            Some((key, format!("{} characters long", value.len())))
        } else {
            None
        }
    })
}

/// The first setting (dotted key, value) whose text holds a control character.
fn control_chars(env: &EnvConfig) -> Option<(String, String)> {
    fn walk(key: String, v: &serde_json::Value) -> Option<(String, String)> {
        match v {
            serde_json::Value::String(s) if s.chars().any(char::is_control) => {
                Some((key, s.clone()))
            }
            serde_json::Value::Array(items) => items.iter().find_map(|i| walk(key.clone(), i)),
            serde_json::Value::Object(map) => map.iter().find_map(|(k, v)| {
                walk(
                    if key.is_empty() {
                        k.clone()
                    } else {
                        format!("{key}.{k}")
                    },
                    v,
                )
            }),
            _ => None,
        }
    }
    walk(String::new(), &serde_json::to_value(env).ok()?)
}

/// The `services` list, checked: not empty, each name once, waves from 1.
fn members(raw: Vec<RawMember>, env: &str, at: &str) -> Result<Vec<Member>, UserError> {
    if raw.is_empty() {
        return Err(
            UserError::new(format!("{at}: env.{env}.services is empty")).hint(
                "list the services, such as services = [{ name = \"users-api\", container = \"users\" }], or name one with service = \"...\"",
            ),
        );
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for m in raw {
        if !seen.insert(m.name.clone()) {
            return Err(UserError::new(format!(
                "{at}: env.{env}.services names `{}` twice",
                crate::input::escape(&m.name)
            ))
            .hint("list each service once"));
        }
        let wave = match m.wave {
            None => 1,
            Some(w) if (1..=i64::from(u32::MAX)).contains(&w) => w as u32,
            Some(w) => {
                return Err(UserError::new(format!(
                    "{at}: env.{env}.services: `{}` has wave = {w}",
                    crate::input::escape(&m.name)
                ))
                .hint("waves count from 1 (the first to deploy); leave wave out for 1"));
            }
        };
        out.push(Member {
            name: m.name,
            container: m.container,
            repository: m.repository,
            wave,
        });
    }
    Ok(out)
}

/// Steps must increase strictly, lie in 1..=100 and end at 100.
pub fn validate_steps(steps: &[u32]) -> Result<(), String> {
    if steps.is_empty() {
        return Err("no steps given".into());
    }
    if steps.iter().any(|&s| s == 0 || s > 100) {
        return Err(format!(
            "{steps:?}: each step is a percentage from 1 to 100"
        ));
    }
    if steps.windows(2).any(|w| w[0] >= w[1]) {
        return Err(format!("{steps:?} do not increase"));
    }
    if steps.last() != Some(&100) {
        return Err(format!("{steps:?} do not end at 100"));
    }
    Ok(())
}

/// `file:line` of a key in an env table (or of the table), for errors found after parsing.
fn located(path: &Path, text: &str, env: &str, key: &str) -> String {
    let header = format!("[env.{env}]");
    let mut in_table = false;
    let mut table_line = None;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            in_table = trimmed == header || trimmed.starts_with(&format!("[env.{env}."));
            if trimmed == header {
                table_line = Some(i + 1);
            }
            continue;
        }
        if in_table && !key.is_empty() && trimmed.split(['=', ' ']).next() == Some(key) {
            return format!("{}:{}", path.display(), i + 1);
        }
    }
    match table_line {
        Some(n) => format!("{}:{n}", path.display()),
        None => path.display().to_string(),
    }
}

/// Close enough to suggest: same length ±1 and at most two differing characters, or a prefix.
fn similar(a: &str, b: &str) -> bool {
    if a.starts_with(b) || b.starts_with(a) {
        return true;
    }
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    // Levenshtein distance, small strings only.
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()] <= 2
}

/// `arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME`, as IAM writes a role's ARN.
fn is_role_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [arn_word, partition, service, region, account, resource] = parts.as_slice() else {
        return false;
    };
    let name = resource.strip_prefix("role/").unwrap_or_default();
    *arn_word == "arn"
        && partition.starts_with("aws")
        && *service == "iam"
        && region.is_empty()
        && account.len() == 12
        && account.chars().all(|c| c.is_ascii_digit())
        && !name.is_empty()
        && name.len() <= 512
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-/".contains(c))
}

/// What STS accepts as an ExternalId.
fn is_external_id(id: &str) -> bool {
    (2..=1224).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@:/-_".contains(c))
}

/// The native settings an env sets, checked against its declared strategy and the ranges ECS
/// documents (canary 0.1-100 %, linear step 3-100 %, bake times 0-1440 whole minutes).
fn native_settings(
    name: &str,
    declared: Option<crate::aws::DeploymentStrategy>,
    bake_time: Option<Dur>,
    canary: Option<RawCanary>,
    linear: Option<RawLinear>,
    at: &dyn Fn(&str) -> String,
) -> Result<crate::aws::NativeSettings, UserError> {
    use crate::aws::{DeploymentStrategy, NativeSettings, TrafficStep};
    let minutes = |key: &str, d: Option<Dur>| -> Result<Option<i32>, UserError> {
        let Some(d) = d else { return Ok(None) };
        let secs = d.0.as_secs();
        if secs % 60 != 0 || d.0.subsec_nanos() != 0 || secs / 60 > 1440 {
            return Err(UserError::new(format!(
                "{}: env.{name}.{key} = {secs}s is not a whole number of minutes from 0 to 1440",
                at(key.rsplit('.').next().unwrap_or(key))
            ))
            .hint("ECS counts bake times in whole minutes, up to 1440 (24h): write it as \"5m\""));
        }
        Ok(Some((secs / 60) as i32))
    };
    let percent = |key: &str, p: Option<f64>, low: f64| -> Result<Option<f64>, UserError> {
        match p {
            Some(p) if !(low..=100.0).contains(&p) => Err(UserError::new(format!(
                "{}: env.{name}.{key} = {p} is outside {low} to 100",
                at(key.rsplit('.').next().unwrap_or(key))
            ))
            .hint(format!("ECS takes a percentage from {low} to 100"))),
            p => Ok(p),
        }
    };
    let needs = |key: &str, fits: bool, strategy: &str| -> Result<(), UserError> {
        if fits {
            return Ok(());
        }
        let declared = declared.map_or("no strategy".to_owned(), |d| {
            let word = match d {
                DeploymentStrategy::Rolling => "rolling",
                DeploymentStrategy::BlueGreen => "bluegreen",
                DeploymentStrategy::Linear => "linear",
                DeploymentStrategy::Canary => "canary",
            };
            format!("strategy = \"{word}\"")
        });
        Err(UserError::new(format!(
            "{}: env.{name}.{key} is a setting of the {strategy} strategy, but env.{name} declares {declared}",
            at(key)
        ))
        .hint(format!(
            "set strategy = \"{}\" (as the service deploys), or remove `{key}`",
            if strategy == "native" { "canary\", \"linear\" or \"bluegreen" } else { strategy }
        )))
    };
    let mut out = NativeSettings::default();
    if bake_time.is_some() {
        needs(
            "bake_time",
            declared.is_some_and(|d| d.is_native()),
            "native",
        )?;
        out.bake_minutes = minutes("bake_time", bake_time)?;
    }
    if let Some(c) = canary {
        needs(
            "canary",
            declared == Some(DeploymentStrategy::Canary),
            "canary",
        )?;
        out.canary = Some(TrafficStep {
            percent: percent("canary.percent", c.percent, 0.1)?,
            bake_minutes: minutes("canary.bake", c.bake)?,
        });
    }
    if let Some(l) = linear {
        needs(
            "linear",
            declared == Some(DeploymentStrategy::Linear),
            "linear",
        )?;
        out.linear = Some(TrafficStep {
            percent: percent("linear.step_percent", l.step_percent, 3.0)?,
            bake_minutes: minutes("linear.step_bake", l.step_bake)?,
        });
    }
    Ok(out)
}

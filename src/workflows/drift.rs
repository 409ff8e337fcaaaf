//! Drift: where the revision a service runs differs from the task definition kept in the
//! repository. A deploy copies the live revision, so a change made by hand in the console is
//! carried into every later deploy unless someone sees it here.
//!
//! The file is the one a pipeline registers (`service/deploy/task-definition.json`), with its
//! placeholders: `${FAMILY}`, `${ACCOUNT_ID}` and `${REGION}` are read off the live revision;
//! the image of the container a deploy changes is the deploy's own and is not compared; any
//! other placeholder (`${DB_HOST}`) matches whatever value stands in its place.

use std::collections::BTreeSet;
use std::path::Path;

use serde::Serialize;
use serde_json::{Map, Value};

/// What RegisterTaskDefinition takes: the fields a revision is made of, and a deploy copies.
pub const REGISTRABLE: &[&str] = &[
    "family",
    "taskRoleArn",
    "executionRoleArn",
    "networkMode",
    "containerDefinitions",
    "volumes",
    "placementConstraints",
    "requiresCompatibilities",
    "cpu",
    "memory",
    "pidMode",
    "ipcMode",
    "proxyConfiguration",
    "inferenceAccelerators",
    "ephemeralStorage",
    "runtimePlatform",
    "enableFaultInjection",
];

/// What DescribeTaskDefinition adds about a revision, which no one registers.
const DESCRIBED_ONLY: &[&str] = &[
    "taskDefinitionArn",
    "revision",
    "status",
    "requiresAttributes",
    "compatibilities",
    "registeredAt",
    "registeredBy",
    "deregisteredAt",
    "deleteRequestedAt",
];

/// One field that differs, named by its path (`containerDefinitions[users].memory`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    pub field: String,
    /// The value in the file, as JSON; `None` where the file does not set it.
    pub file: Option<String>,
    /// The value in the live revision; `None` where it is unset.
    pub live: Option<String>,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = |v: &Option<String>| v.clone().unwrap_or_else(|| "unset".into());
        write!(
            f,
            "{}: file {}, live {}",
            self.field,
            shown(&self.file),
            shown(&self.live)
        )
    }
}

/// The comparison of a live revision with the file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Drift {
    pub differences: Vec<Difference>,
    /// The file's placeholders that stood for any value (`${DB_HOST}`).
    pub placeholders: Vec<String>,
    /// Fields of the live revision this opsctl does not know: a deploy's copy would drop them.
    pub unknown_fields: Vec<String>,
}

/// Reads and parses the file: a JSON object, as `aws ecs register-task-definition
/// --cli-input-json` takes it.
pub fn read(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read it: {e}"))?;
    let value: Value =
        serde_json::from_str(&text).map_err(|e| format!("it is not valid JSON: {e}"))?;
    if !value.is_object() {
        return Err("it is not a JSON object of task definition fields".into());
    }
    Ok(value)
}

/// Compares `live` (ECS's description of the revision) with `file`; `container` is the one
/// whose image a deploy sets.
pub fn compare(file: &Value, live: &Value, container: &str) -> Drift {
    let mut placeholders = BTreeSet::new();
    let known = known_values(live);
    let file = substitute(file, &known, &mut placeholders);
    let mut file = registrable(&file);
    let mut live_fields = registrable(live);
    for doc in [&mut file, &mut live_fields] {
        if let Some(Value::Array(containers)) = doc.get_mut("containerDefinitions") {
            for c in containers.iter_mut().filter(|c| c["name"] == container) {
                if let Some(c) = c.as_object_mut() {
                    c.remove("image");
                }
            }
        }
    }
    let mut differences = Vec::new();
    diff(
        "",
        &normal(&Value::Object(file)),
        &normal(&Value::Object(live_fields)),
        &mut differences,
    );
    let unknown_fields = live
        .as_object()
        .map(|o| {
            o.keys()
                .filter(|k| {
                    !REGISTRABLE.contains(&k.as_str()) && !DESCRIBED_ONLY.contains(&k.as_str())
                })
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    Drift {
        differences,
        placeholders: placeholders.into_iter().collect(),
        unknown_fields,
    }
}

/// The placeholders the live revision answers: its family, account and region.
fn known_values(live: &Value) -> Vec<(String, String)> {
    let mut known = Vec::new();
    if let Some(family) = live["family"].as_str() {
        known.push(("FAMILY".into(), family.to_owned()));
    }
    // arn:aws:ecs:REGION:ACCOUNT:task-definition/…
    if let Some(arn) = live["taskDefinitionArn"].as_str() {
        let parts: Vec<&str> = arn.split(':').collect();
        if parts.len() > 5 {
            known.push(("REGION".into(), parts[3].to_owned()));
            known.push(("ACCOUNT_ID".into(), parts[4].to_owned()));
        }
    }
    known
}

/// The file with known placeholders filled in; the names of the others are collected.
fn substitute(value: &Value, known: &[(String, String)], others: &mut BTreeSet<String>) -> Value {
    match value {
        Value::String(s) => {
            let mut out = s.clone();
            for (name, v) in known {
                out = out.replace(&format!("${{{name}}}"), v);
            }
            // The image is the deploy's own, not a value that stands for anything.
            for name in placeholder_names(&out)
                .into_iter()
                .filter(|n| *n != "IMAGE")
            {
                others.insert(format!("${{{name}}}"));
            }
            Value::String(out)
        }
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| substitute(v, known, others)).collect())
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), substitute(v, known, others)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn placeholder_names(s: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = s;
    while let Some(at) = rest.find("${") {
        let tail = &rest[at + 2..];
        match tail.find('}') {
            Some(end) => {
                names.push(&tail[..end]);
                rest = &tail[end + 1..];
            }
            None => break,
        }
    }
    names
}

fn registrable(doc: &Value) -> Map<String, Value> {
    doc.as_object()
        .map(|o| {
            o.iter()
                .filter(|(k, _)| REGISTRABLE.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// The key that names an item of a list, where its items are named: lists compare by name,
/// whatever their order.
fn item_key(list: &str) -> Option<&'static str> {
    Some(match list {
        "containerDefinitions" | "environment" | "secrets" | "volumes" | "ulimits" => "name",
        "resourceRequirements" => "type",
        "portMappings" => "containerPort",
        "mountPoints" => "containerPath",
        "systemControls" => "namespace",
        "dependsOn" => "containerName",
        "extraHosts" => "hostname",
        _ => return None,
    })
}

/// Values as ECS fills them in by default, which a file need not spell out.
fn is_default(key: &str, value: &Value, parent: &Map<String, Value>) -> bool {
    match (key, value) {
        ("cpu", Value::Number(n)) => n.as_u64() == Some(0),
        ("essential", Value::Bool(true)) => true,
        ("readOnly" | "readonlyRootFilesystem", Value::Bool(false)) => true,
        ("protocol", Value::String(p)) => p == "tcp",
        ("hostPort", v) => parent.get("containerPort") == Some(v),
        _ => false,
    }
}

/// Without nulls, empty lists and objects, and ECS's defaults.
fn normal(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, v)| !is_default(k, v, map))
                .map(|(k, v)| (k.clone(), normal(v)))
                .filter(|(_, v)| !is_empty(v))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(normal).collect()),
        other => other.clone(),
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// Whether a file's string, with placeholders standing for anything, matches a live one.
fn matches(pattern: &str, live: &str) -> bool {
    if !pattern.contains("${") {
        return pattern == live;
    }
    // The literal pieces between placeholders, in order.
    let mut pieces = Vec::new();
    let mut rest = pattern;
    while let Some(at) = rest.find("${") {
        pieces.push(&rest[..at]);
        rest = match rest[at..].find('}') {
            Some(end) => &rest[at + end + 1..],
            None => "",
        };
    }
    pieces.push(rest);
    let (first, last) = (pieces[0], pieces[pieces.len() - 1]);
    if !live.starts_with(first) || live.len() < first.len() + last.len() || !live.ends_with(last) {
        return false;
    }
    let mut middle = &live[first.len()..live.len() - last.len()];
    for piece in &pieces[1..pieces.len() - 1] {
        match middle.find(piece) {
            Some(at) => middle = &middle[at + piece.len()..],
            None => return false,
        }
    }
    true
}

fn shown(value: &Value) -> String {
    value.to_string()
}

fn diff(path: &str, file: &Value, live: &Value, out: &mut Vec<Difference>) {
    let field = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    match (file, live) {
        (Value::Object(f), Value::Object(l)) => {
            let keys: BTreeSet<&String> = f.keys().chain(l.keys()).collect();
            for key in keys {
                match (f.get(key), l.get(key)) {
                    (Some(fv), Some(lv)) => match (item_key(key), fv, lv) {
                        (Some(by), Value::Array(fa), Value::Array(la)) => {
                            diff_named(&field(key), by, fa, la, out)
                        }
                        _ => diff(&field(key), fv, lv, out),
                    },
                    (fv, lv) => out.push(Difference {
                        field: field(key),
                        file: fv.map(shown),
                        live: lv.map(shown),
                    }),
                }
            }
        }
        (Value::String(f), Value::String(l)) if matches(f, l) => {}
        (Value::Array(fa), Value::Array(la))
            if fa.len() == la.len()
                && fa.iter().zip(la).all(|(f, l)| {
                    let mut inner = Vec::new();
                    diff("", f, l, &mut inner);
                    inner.is_empty()
                }) => {}
        (f, l) if f == l => {}
        (f, l) => out.push(Difference {
            field: path.to_owned(),
            file: Some(shown(f)),
            live: Some(shown(l)),
        }),
    }
}

/// Lists whose items are named: compared item by item, by name.
fn diff_named(path: &str, by: &str, file: &[Value], live: &[Value], out: &mut Vec<Difference>) {
    let name = |v: &Value| match &v[by] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut names: Vec<String> = file.iter().map(name).collect();
    for l in live {
        if !names.contains(&name(l)) {
            names.push(name(l));
        }
    }
    for n in names {
        let f = file.iter().find(|v| name(v) == n);
        let l = live.iter().find(|v| name(v) == n);
        let item = format!("{path}[{n}]");
        match (f, l) {
            (Some(f), Some(l)) => diff(&item, f, l, out),
            (f, l) => out.push(Difference {
                field: item,
                file: f.map(shown),
                live: l.map(shown),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn template() -> Value {
        serde_json::from_str(include_str!("../../service/deploy/task-definition.json")).unwrap()
    }

    /// The template as ECS describes it once registered: placeholders filled in, defaults
    /// spelled out, lists reordered.
    fn described() -> Value {
        let text = include_str!("../../service/deploy/task-definition.json")
            .replace("${FAMILY}", "staging-users")
            .replace("${ACCOUNT_ID}", "871583824067")
            .replace("${REGION}", "us-east-1")
            .replace(
                "${IMAGE}",
                "871583824067.dkr.ecr.us-east-1.amazonaws.com/users:v1.1.0",
            )
            .replace("${DB_HOST}", "users-db.abc.us-east-1.rds.amazonaws.com")
            .replace(
                "${DB_SECRET_ARN}",
                "arn:aws:secretsmanager:us-east-1:871583824067:secret:users/db-AbC",
            );
        let mut live: Value = serde_json::from_str(&text).unwrap();
        // Tags are beside the revision in ECS's answer, not in it.
        live.as_object_mut().unwrap().remove("tags");
        live["taskDefinitionArn"] =
            "arn:aws:ecs:us-east-1:871583824067:task-definition/staging-users:2".into();
        live["revision"] = 2.into();
        live["status"] = "ACTIVE".into();
        live["compatibilities"] = json!(["EC2", "FARGATE"]);
        live["placementConstraints"] = json!([]);
        for c in live["containerDefinitions"].as_array_mut().unwrap() {
            c["cpu"] = 0.into();
            c["volumesFrom"] = json!([]);
            if let Some(env) = c["environment"].as_array_mut() {
                env.reverse();
            }
        }
        live
    }

    #[test]
    fn a_revision_registered_from_the_file_has_no_drift() {
        let drift = compare(&template(), &described(), "users");
        assert_eq!(drift.differences, vec![], "{drift:?}");
        assert_eq!(drift.placeholders, vec!["${DB_HOST}", "${DB_SECRET_ARN}"]);
        assert!(drift.unknown_fields.is_empty());
    }

    #[test]
    fn every_field_changed_by_hand_is_named() {
        let mut live = described();
        live["memory"] = "2048".into();
        let users = &mut live["containerDefinitions"][0];
        for e in users["environment"].as_array_mut().unwrap() {
            if e["name"] == "LOG_LEVEL" {
                e["value"] = "debug".into();
            }
        }
        users["environment"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "FEATURE_X", "value": "on"}));
        users["image"] = "somewhere/else:v9".into();
        live["containerDefinitions"][1]["image"] = "fluent-bit:latest".into();
        live["trustedExecutionConfiguration"] = json!({"enabled": true});
        let drift = compare(&template(), &live, "users");
        let shown: Vec<String> = drift.differences.iter().map(|d| d.to_string()).collect();
        assert_eq!(
            shown,
            vec![
                "containerDefinitions[users].environment[LOG_LEVEL].value: file \"info\", live \"debug\"",
                "containerDefinitions[users].environment[FEATURE_X]: file unset, live {\"name\":\"FEATURE_X\",\"value\":\"on\"}",
                "containerDefinitions[log-router].image: file \"public.ecr.aws/aws-observability/aws-for-fluent-bit:stable\", live \"fluent-bit:latest\"",
                "memory: file \"1024\", live \"2048\"",
            ],
        );
        // The deployed container's image is the deploy's; a field newer than opsctl is named.
        assert_eq!(drift.unknown_fields, vec!["trustedExecutionConfiguration"]);
    }

    #[test]
    fn a_placeholder_stands_for_any_value_but_the_text_around_it_counts() {
        assert!(matches("${DB_HOST}", "db.internal"));
        assert!(matches("postgres://${DB_HOST}:5432", "postgres://db:5432"));
        assert!(!matches("postgres://${DB_HOST}:5432", "postgres://db:6432"));
        assert!(matches("a${X}b${Y}c", "a1b2c"));
        assert!(!matches("a${X}b${Y}c", "a12c"));
    }
}

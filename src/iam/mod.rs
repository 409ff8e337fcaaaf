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

mod policy;
mod scan;

#[cfg(test)]
mod tests;

pub use policy::policy;
pub use scan::{iam_prefix, sdk_calls};

/// Where the environment lives, and what only its task definitions tell.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
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
    /// Whether a service deploys with a native ECS strategy (its service deployments, their
    /// hooks and the production rule are then read and answered); `None`: not known, granted.
    pub native: Option<bool>,
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

pub(crate) fn allow(sid: &str, actions: &[&str], resources: Vec<String>) -> Statement {
    Statement {
        sid: sid.to_owned(),
        effect: "Allow",
        action: actions.iter().map(|a| (*a).to_owned()).collect(),
        resource: resources,
        condition: None,
    }
}

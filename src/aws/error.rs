//! What can go wrong in an AWS call, sorted by what the caller can do about it, and the
//! kind of resource a "not found" is about.

use serde::Serialize;

/// The kind of named resource a [`AwsError::NotFound`] is about, and so which setting or
/// flag named it: the one place that knows how a missing resource is fixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Resource {
    Cluster,
    Service,
    TaskDefinition,
    Repository,
    LoadBalancer,
    Listener,
    TargetGroup,
    DbInstance,
    DbSnapshot,
    Secret,
    /// A scalable target, alarm or anything else opsctl does not name from its settings.
    Other,
}

impl Resource {
    /// The `opsctl.toml` key (or flag) that names a resource of this kind.
    pub fn setting(self) -> &'static str {
        match self {
            Resource::Cluster => "`cluster`",
            Resource::Service => "`service` (or the colours' `service`, or --service)",
            Resource::TaskDefinition => "--to (see `opsctl history ENV`)",
            Resource::Repository => "`repository`",
            Resource::LoadBalancer | Resource::Listener => "`bluegreen.listener`",
            Resource::TargetGroup => "the colours' `target_group`",
            Resource::DbInstance => "`database.instance`",
            Resource::DbSnapshot => "--snapshot (see `opsctl db snapshots ENV`)",
            Resource::Secret => "the task definition's secrets",
            Resource::Other => "the names in the environment's table",
        }
    }
}

/// An AWS call that failed, sorted by what the caller can do about it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AwsError {
    /// The named resource does not exist.
    #[error("{1}")]
    NotFound(Resource, String),
    /// No answer from the endpoint: not reachable, refused, or timed out.
    #[error("{0}")]
    Unreachable(String),
    /// AWS asked us to slow down; retry later.
    #[error("throttled by AWS: {0}")]
    Throttled(String),
    /// The credentials in use may not make this call.
    #[error("access denied: {0}")]
    AccessDenied(String),
    /// No credentials could be found; nothing was sent.
    #[error("{0}")]
    NoCredentials(String),
    /// The resource a create call names exists already: perhaps made by this very call, whose
    /// first answer was lost and whose retry met it.
    #[error("{0}")]
    AlreadyExists(String),
    /// AWS rejected the request as invalid.
    #[error("{0}")]
    Invalid(String),
    /// Anything else (network, service error), with the SDK's full context.
    #[error("{0}")]
    Other(String),
}

impl AwsError {
    /// `{what} not found`, of a kind of resource.
    pub fn not_found(resource: Resource, what: impl std::fmt::Display) -> Self {
        AwsError::NotFound(resource, format!("{what} not found"))
    }
}

/// Result of an AWS call.
pub type AwsResult<T> = Result<T, AwsError>;

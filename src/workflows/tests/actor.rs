//! Who a change is recorded as: the environment's names first, then the AWS caller.

use super::kit::Recorder;
use crate::aws::AwsError;
use crate::aws::fake::FakeAws;
use crate::workflows::{actor, named_actor};

fn vars(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
    move |name| {
        pairs
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    }
}

#[tokio::test]
async fn the_ci_actor_then_the_local_user_and_no_aws_call() {
    let fake = FakeAws::staging();
    let ci = named_actor(&vars(&[("GITHUB_ACTOR", "octocat"), ("USER", "runner")]));
    assert_eq!(
        actor(&fake.aws(), ci, &Recorder::default()).await,
        "octocat (GitHub Actions)"
    );
    let local = named_actor(&vars(&[("USER", "asha"), ("HOSTNAME", "laptop")]));
    assert_eq!(
        actor(&fake.aws(), local, &Recorder::default()).await,
        "asha@laptop"
    );
    let windows = named_actor(&vars(&[("USERNAME", "asha")]));
    assert_eq!(
        actor(&fake.aws(), windows, &Recorder::default()).await,
        "asha"
    );
    assert_eq!(fake.count("sts:GetCallerIdentity"), 0);
}

#[tokio::test]
async fn without_a_user_the_aws_caller_is_named() {
    let fake = FakeAws::staging();
    let none = named_actor(&vars(&[("HOSTNAME", "runner-7")]));
    assert_eq!(none, None);
    assert_eq!(
        actor(&fake.aws(), none, &Recorder::default()).await,
        "assumed-role/deployer/ci-1234 (AWS 123456789012)"
    );
    assert_eq!(fake.count("sts:GetCallerIdentity"), 1);
}

#[tokio::test]
async fn an_unknown_caller_is_unknown_not_an_error() {
    let fake = FakeAws::staging();
    fake.fail(
        "sts:GetCallerIdentity",
        0,
        1,
        AwsError::AccessDenied("GetCallerIdentity: ExpiredToken".into()),
    );
    let rec = Recorder::default();
    assert_eq!(actor(&fake.aws(), None, &rec).await, "unknown");
    // The failed call is named, and what it means.
    let warned = rec.warnings().join("\n");
    assert!(warned.contains("GetCallerIdentity"), "{warned}");
    assert!(warned.contains("`unknown`"), "{warned}");
}

//! The deploy lock against the in-memory Parameter Store, under paused tokio time.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use super::kit::*;
use crate::aws::fake::FakeAws;
use crate::aws::{LockRecord, lock_path};
use crate::config::EnvConfig;
use crate::workflows::Interrupt;
use crate::workflows::lock::*;

fn prod() -> EnvConfig {
    env(r#"
[env.prod]
region = "us-east-1"
cluster = "demo"
service = "staging-users"
container = "users"
repository = "users"
"#)
}

fn path() -> String {
    lock_path("demo", "prod")
}

fn want(holder: &str, command: &str, wait: Duration) -> Want {
    Want {
        holder: holder.into(),
        command: command.into(),
        wait,
    }
}

fn record(holder: &str, command: &str, expires_in: Option<i64>) -> LockRecord {
    let now = Timestamp::now();
    LockRecord {
        holder: holder.into(),
        command: command.into(),
        since: now - SignedDuration::from_mins(3),
        expires: expires_in.map(|s| now + SignedDuration::from_secs(s)),
        reason: None,
        released: None,
        token: "theirs".into(),
    }
}

/// `acquire` for `(holder, command, wait)`.
async fn take(
    aws: &crate::aws::Aws,
    env: &EnvConfig,
    (holder, command, wait): (&str, &str, Duration),
    rec: &Recorder,
    interrupt: &Interrupt,
) -> anyhow::Result<Held> {
    acquire(aws, env, &want(holder, command, wait), rec, interrupt).await
}

/// The record stored under `n`, parsed.
fn stored(fake: &FakeAws, n: u64) -> LockRecord {
    LockRecord::parse(&fake.lock_records(&path())[&n]).expect("a record opsctl wrote")
}

#[tokio::test(start_paused = true)]
async fn a_second_command_is_refused_naming_the_holder_and_the_lock_is_free_once_released() {
    let fake = FakeAws::staging();
    let (aws, env, (_h, interrupt)) = (fake.aws(), prod(), Interrupt::new());
    let rec = Recorder::default();
    let held = take(
        &aws,
        &env,
        ("ci@runner-7", "deploy v1.2.4", Duration::ZERO),
        &rec,
        &interrupt,
    )
    .await
    .unwrap();
    assert_eq!(held.number, 1);
    assert!(stored(&fake, 1).holds(Timestamp::now()));

    let err = take(
        &aws,
        &env,
        ("alice@laptop", "rollback", Duration::ZERO),
        &rec,
        &interrupt,
    )
    .await
    .unwrap_err();
    let err = user_error(err);
    assert!(
        err.message
            .starts_with("prod is locked by ci@runner-7 (deploy v1.2.4) since "),
        "{err}"
    );
    assert!(err.message.ends_with("; nothing changed"), "{err}");
    let hint = err.hint.unwrap();
    assert!(
        hint.contains("`opsctl unlock prod`") && hint.contains("--wait-for-lock"),
        "{hint}"
    );
    assert_eq!(
        fake.lock_records(&path()).len(),
        1,
        "the refused one wrote nothing"
    );

    release(&aws, &held).await.unwrap();
    assert!(stored(&fake, 1).released.is_some());
    let next = take(
        &aws,
        &env,
        ("alice@laptop", "rollback", Duration::ZERO),
        &rec,
        &interrupt,
    )
    .await
    .unwrap();
    assert_eq!(next.number, 2);
    assert_eq!(
        fake.lock_records(&path())
            .keys()
            .copied()
            .collect::<Vec<_>>(),
        [2],
        "older records are deleted once a new one is won"
    );
}

#[tokio::test(start_paused = true)]
async fn a_lock_whose_holder_died_is_taken_once_its_lease_is_over() {
    let fake = FakeAws::staging();
    let (aws, env, (_h, interrupt)) = (fake.aws(), prod(), Interrupt::new());
    fake.put_lock_record(
        &path(),
        4,
        &record("ci@gone", "deploy v1", Some(-1)).to_value(),
    );
    let held = take(
        &aws,
        &env,
        ("me", "deploy v2", Duration::ZERO),
        &Recorder::default(),
        &interrupt,
    )
    .await
    .unwrap();
    assert_eq!(held.number, 5);

    // A value opsctl never wrote holds nothing, but its number is not reused.
    let fake = FakeAws::staging();
    fake.put_lock_record(&path(), 9, "hand-made");
    let held = acquire(
        &fake.aws(),
        &env,
        &want("me", "deploy v2", Duration::ZERO),
        &Recorder::default(),
        &interrupt,
    )
    .await
    .unwrap();
    assert_eq!(held.number, 10);
}

#[tokio::test(start_paused = true)]
async fn a_freeze_refuses_every_change_until_it_is_unlocked_even_when_asked_to_wait() {
    let fake = FakeAws::staging();
    let (aws, env, (_h, interrupt)) = (fake.aws(), prod(), Interrupt::new());
    let rec = Recorder::default();
    let out = freeze(&aws, &env, "alice@laptop", "release freeze", &rec)
        .await
        .unwrap();
    assert_eq!(out.result, "frozen");
    let status = crate::workflows::inspect::status(&aws, &env, &["staging-users".into()])
        .await
        .unwrap();
    assert!(
        status
            .to_string()
            .contains("LOCK: prod is frozen by alice@laptop since "),
        "{status}"
    );
    assert_eq!(
        status.lock.as_ref().unwrap().reason.as_deref(),
        Some("release freeze")
    );
    assert!(
        out.to_string()
            .contains("refused until `opsctl unlock prod`"),
        "{out}"
    );
    let err = take(
        &aws,
        &env,
        ("ci", "deploy v1", Duration::from_secs(600)),
        &rec,
        &interrupt,
    )
    .await
    .unwrap_err();
    let err = user_error(err);
    assert!(
        err.message
            .contains("prod is frozen by alice@laptop since ")
            && err.message.contains(": release freeze"),
        "{err}"
    );
    assert!(err.hint.unwrap().contains("`opsctl unlock prod`"));

    // A second freeze is refused too; unlock clears it; unlock again says so.
    assert!(freeze(&aws, &env, "bob", "again", &rec).await.is_err());
    let out = unlock(&aws, &env, "bob@laptop").await.unwrap();
    assert_eq!(out.result, "unlocked");
    assert!(
        out.to_string().contains("it was: frozen by alice@laptop"),
        "{out}"
    );
    assert_eq!(stored(&fake, 1).released.unwrap().by, "bob@laptop");
    let out = unlock(&aws, &env, "bob@laptop").await.unwrap();
    assert_eq!(out.result, "not-locked");
    take(
        &aws,
        &env,
        ("ci", "deploy v1", Duration::ZERO),
        &rec,
        &interrupt,
    )
    .await
    .unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_freeze_needs_a_reason_and_changes_nothing_without_one() {
    let fake = FakeAws::staging();
    let err = freeze(&fake.aws(), &prod(), "alice", "  ", &Recorder::default())
        .await
        .unwrap_err();
    assert!(user_error(err).message.contains("needs a reason"));
    assert!(fake.calls().is_empty(), "{:?}", fake.calls());
}

#[tokio::test(start_paused = true)]
async fn wait_for_lock_waits_for_the_holder_or_gives_up_naming_it() {
    let fake = FakeAws::staging();
    let (aws, env, (_h, interrupt)) = (fake.aws(), prod(), Interrupt::new());
    let rec = Recorder::default();
    let first = take(
        &aws,
        &env,
        ("ci@runner-1", "deploy v1", Duration::ZERO),
        &rec,
        &interrupt,
    )
    .await
    .unwrap();
    let done = {
        let aws = aws.clone();
        async move {
            tokio::time::sleep(Duration::from_secs(40)).await;
            release(&aws, &first).await.unwrap();
        }
    };
    let started = tokio::time::Instant::now();
    let second = want("ci@runner-2", "deploy v2", Duration::from_secs(300));
    let (second, ()) = tokio::join!(acquire(&aws, &env, &second, &rec, &interrupt), done);
    let second = second.unwrap();
    assert_eq!(second.number, 2);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(40) && waited < Duration::from_secs(60),
        "{waited:?}"
    );
    assert!(
        rec.steps()
            .iter()
            .any(|s| s.starts_with("lock: prod is locked by ci@runner-1")
                && s.ends_with("waiting up to 5m")),
        "{:?}",
        rec.steps()
    );

    let err = take(
        &aws,
        &env,
        ("ci@runner-3", "deploy v3", Duration::from_secs(30)),
        &rec,
        &interrupt,
    )
    .await
    .unwrap_err();
    let err = user_error(err);
    assert!(
        err.message.contains("locked by ci@runner-2") && err.message.contains("(waited 30s)"),
        "{err}"
    );
}

#[tokio::test(start_paused = true)]
async fn renewal_extends_the_lease_and_notices_a_lock_that_was_cleared_or_taken() {
    let fake = FakeAws::staging();
    let (aws, env, (_h, interrupt)) = (fake.aws(), prod(), Interrupt::new());
    let rec = Recorder::default();
    let mut held = take(
        &aws,
        &env,
        ("ci", "deploy v1", Duration::ZERO),
        &rec,
        &interrupt,
    )
    .await
    .unwrap();
    let before = stored(&fake, 1).expires.unwrap();
    std::thread::sleep(Duration::from_millis(5));
    renew(&aws, &mut held).await.unwrap();
    assert!(stored(&fake, 1).expires.unwrap() > before);

    unlock(&aws, &env, "alice").await.unwrap();
    let err = renew(&aws, &mut held).await.unwrap_err();
    assert!(err.to_string().contains("cleared by alice"), "{err}");
    assert!(
        stored(&fake, 1).released.is_some(),
        "a renewal never takes back a cleared lock"
    );

    take(
        &aws,
        &env,
        ("bob", "rollback", Duration::ZERO),
        &rec,
        &interrupt,
    )
    .await
    .unwrap();
    let err = renew(&aws, &mut held).await.unwrap_err();
    assert!(err.to_string().contains("bob (rollback) took it"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn a_lock_that_cannot_be_read_is_an_error_naming_the_store_and_nothing_is_written() {
    let fake = FakeAws::staging();
    fake.fail(
        "ssm:GetParametersByPath",
        0,
        u32::MAX,
        crate::aws::AwsError::AccessDenied("GetParametersByPath: AccessDeniedException".into()),
    );
    let (_h, interrupt) = Interrupt::new();
    let err = acquire(
        &fake.aws(),
        &prod(),
        &want("ci", "deploy v1", Duration::ZERO),
        &Recorder::default(),
        &interrupt,
    )
    .await
    .unwrap_err();
    assert!(
        format!("{err:#}").contains("could not read the deploy lock"),
        "{err:#}"
    );
    assert!(matches!(
        err.downcast_ref::<crate::aws::AwsError>(),
        Some(crate::aws::AwsError::AccessDenied(_))
    ));
    assert!(fake.mutating_calls().is_empty());
}

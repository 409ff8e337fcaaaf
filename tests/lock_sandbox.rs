//! The deploy lock with the real binary against the local AWS sandbox: concurrent deploys of
//! one environment, a freeze set and cleared by hand, and waiting for the lock. What AWS
//! holds is read back through the sandbox's request log and the SDK.

mod support;

use support::Account;

fn count(account: &Account, action: &str) -> usize {
    account
        .requests()
        .iter()
        .filter(|r| r.action == action && r.status == Some(200))
        .count()
}

#[tokio::test]
async fn of_twenty_concurrent_deploys_exactly_one_runs_and_the_others_change_nothing() {
    let account = Account::seed();
    // The one that wins holds the lock for seconds, while the other nineteen start.
    account.configure(serde_json::json!({ "task_start_seconds": 8.0 }));
    account.clear_requests();
    let children: Vec<_> = (0..20)
        .map(|i| {
            let version = if i % 2 == 0 { "v1.2.0" } else { "v1.3.0" };
            account.spawn(&["deploy", "staging", "--version", version])
        })
        .collect();
    let runs: Vec<support::Run> = children
        .into_iter()
        .map(|c| c.wait_with_output().expect("opsctl ran").into())
        .collect();
    let ok: Vec<_> = runs.iter().filter(|r| r.code == 0).collect();
    let refused: Vec<_> = runs.iter().filter(|r| r.code == 2).collect();
    let all = || {
        runs.iter()
            .map(|r| format!("exit {}: {}{}", r.code, r.stdout, r.stderr))
            .collect::<Vec<_>>()
            .join("\n---\n")
    };
    assert_eq!(ok.len(), 1, "exactly one deploy runs:\n{}", all());
    assert_eq!(refused.len(), 19, "the others are refused:\n{}", all());
    for r in &refused {
        assert!(
            r.stderr.contains("staging is locked by") && r.stderr.contains("(deploy v1."),
            "the holder is named: {}",
            r.stderr
        );
        assert!(r.stderr.contains("nothing changed"), "{}", r.stderr);
        assert!(r.stderr.contains("opsctl unlock staging"), "{}", r.stderr);
    }
    // One registration and one service update in all: the refused ones changed nothing.
    assert_eq!(count(&account, "ecs:RegisterTaskDefinition"), 1);
    assert_eq!(count(&account, "ecs:UpdateService"), 1);

    // The winner released the lock: the next deploy runs.
    account
        .opsctl(&["deploy", "staging", "--version", "v1.3.0"])
        .expect_code(0);
}

#[tokio::test]
async fn a_freeze_set_by_hand_refuses_deploys_until_it_is_cleared() {
    let account = Account::seed();
    let lock = account.opsctl(&["lock", "staging", "--reason", "release freeze"]);
    lock.expect_code(0);
    assert!(
        lock.stdout.contains("staging is frozen by"),
        "{}",
        lock.stdout
    );

    account.clear_requests();
    let deploy = account.opsctl(&["deploy", "staging", "--version", "v1.2.0"]);
    deploy.expect_code(2);
    assert!(
        deploy.stderr.contains("staging is frozen by") && deploy.stderr.contains("release freeze"),
        "{}",
        deploy.stderr
    );
    let changed: Vec<_> = account
        .requests()
        .into_iter()
        .filter(|r| r.changed())
        .collect();
    assert!(
        changed.is_empty(),
        "a refused deploy changes nothing: {changed:?}"
    );
    // A dry run takes no lock, so it still shows what a deploy would do.
    account
        .opsctl(&["deploy", "staging", "--version", "v1.2.0", "--dry-run"])
        .expect_code(0);

    let status = account.opsctl(&["--output", "json", "status", "staging"]);
    status.expect_code(0);
    let json = status.json();
    assert_eq!(json["lock"]["reason"], "release freeze", "{json}");
    assert!(json["lock"]["expires"].is_null(), "a freeze has no lease");
    let text = account.opsctl(&["status", "staging"]);
    assert!(
        text.stdout.contains("LOCK: staging is frozen by"),
        "{}",
        text.stdout
    );

    let unlock = account.opsctl(&["unlock", "staging"]);
    unlock.expect_code(0);
    assert!(
        unlock.stdout.contains("unlocked staging"),
        "{}",
        unlock.stdout
    );
    let again = account.opsctl(&["unlock", "staging"]);
    again.expect_code(0);
    assert!(again.stdout.contains("was not locked"), "{}", again.stdout);
    account
        .opsctl(&["deploy", "staging", "--version", "v1.2.0"])
        .expect_code(0);
    let status = account.opsctl(&["--output", "json", "status", "staging"]);
    assert!(status.json()["lock"].is_null(), "{}", status.stdout);
}

#[tokio::test]
async fn wait_for_lock_runs_the_second_deploy_once_the_first_ends() {
    let account = Account::seed();
    let first = account.spawn(&["deploy", "staging", "--version", "v1.2.0"]);
    // Until the first holds the lock.
    let mut held = false;
    for _ in 0..100 {
        let status = account.opsctl(&["--output", "json", "status", "staging"]);
        if !status.json()["lock"].is_null() {
            held = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(held, "the first deploy took the lock");
    let second = account.opsctl(&[
        "--wait-for-lock",
        "5m",
        "deploy",
        "staging",
        "--version",
        "v1.3.0",
    ]);
    let first: support::Run = first.wait_with_output().unwrap().into();
    first.expect_code(0);
    second.expect_code(0);
    assert!(
        second.stderr.contains("staging is locked by")
            || second.stdout.contains("staging is locked by"),
        "it said what it waited for:\n{}\n{}",
        second.stdout,
        second.stderr
    );
    let ecs = aws_sdk_ecs::Client::new(&account.sdk().await);
    let svc = ecs
        .describe_services()
        .cluster("demo")
        .services("staging-users")
        .send()
        .await
        .unwrap();
    let td = svc.services()[0].task_definition().unwrap().to_owned();
    let td = ecs
        .describe_task_definition()
        .task_definition(td)
        .send()
        .await
        .unwrap();
    let image = td.task_definition().unwrap().container_definitions()[0]
        .image()
        .unwrap()
        .to_owned();
    assert!(
        image.ends_with(":v1.3.0"),
        "the second deploy ran last: {image}"
    );
}

//! Credentials from Secrets Manager, served by moto: the real binary, the real SDK calls.

use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};

use crate::helpers::{Moto, ServiceProcess, Started, TestDb, admin_parts, client, json};

const FAKE_PASSWORD: &str = "moto-test-password-8d1f";

fn aws_env(moto: &Moto) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", moto.endpoint.clone()),
        ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("HOST", "127.0.0.1".to_owned()),
        ("PORT", "0".to_owned()),
        ("DB_SSLMODE", "disable".to_owned()),
        ("DB_MIN_CONNECTIONS", "0".to_owned()),
        ("DB_MAX_CONNECTIONS", "2".to_owned()),
    ]
}

#[tokio::test]
async fn credentials_and_location_come_from_the_secret() {
    let Some(moto) = Moto::start().await else {
        eprintln!("skipped: no .venv/bin/moto_server (run `make venv` to create it)");
        return;
    };
    let db = TestDb::create().await;
    let (host, port, username, password) = admin_parts();
    let password = password.unwrap_or_else(|| FAKE_PASSWORD.to_owned());
    let config = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(&moto.endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .build();
    let secrets = aws_sdk_secretsmanager::Client::from_conf(config);
    // Host, port and database name only in the secret: the service must take them from it.
    let secret = serde_json::json!({
        "engine": "postgres",
        "username": username,
        "password": password,
        "host": host,
        "port": port,
        "dbname": db.name,
    });
    let created = secrets
        .create_secret()
        .name(format!("{}-credentials", db.name))
        .secret_string(secret.to_string())
        .send()
        .await
        .expect("create the secret in moto");
    let arn = created.arn().unwrap().to_owned();

    let mut env = aws_env(&moto);
    env.push(("DB_SECRET_ARN", arn));
    let service = ServiceProcess::start_listening(&env);
    let http = client();
    let (status, _) = json(
        http.get(format!("{}/ready", service.address()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = json(
        http.post(format!("{}/api/users", service.address()))
            .json(&serde_json::json!({"name": "Ada", "email": "ada@example.com"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(db.count_users().await, 1);
    assert!(
        !service.logs().iter().any(|line| line.contains(&password)),
        "the password appeared in the logs"
    );

    // A secret that does not exist: exit 2, naming the variable and the likely fix.
    let mut env = aws_env(&moto);
    env.push((
        "DB_SECRET_ARN",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:nope-AbCdEf".to_owned(),
    ));
    match ServiceProcess::start(&env) {
        Started::Listening(_) => panic!("started with a missing secret"),
        Started::Exited(status, output) => {
            assert_eq!(status.code(), Some(2), "{output}");
            assert!(output.contains("DB_SECRET_ARN"), "{output}");
            assert!(output.contains("does not exist"), "{output}");
        }
    }
}

//! Notifications from the real binary: a webhook on loopback receives a deploy's notices,
//! and one that fails is a warning that changes no exit code.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use support::Account;

/// A webhook on 127.0.0.1 that answers every POST with `status` and keeps the JSON bodies.
fn webhook(status: u16) -> (String, Arc<Mutex<Vec<Value>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/hooks/T000/SECRET-TOKEN",
        listener.local_addr().unwrap()
    );
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let kept = bodies.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let mut reader = BufReader::new(stream);
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                if line == "\r\n" {
                    let mut body = vec![0; length];
                    if reader.read_exact(&mut body).is_err() {
                        break;
                    }
                    if let Ok(doc) = serde_json::from_slice(&body) {
                        kept.lock().unwrap().push(doc);
                    }
                    let answer = format!(
                        "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                    );
                    let _ = reader.get_mut().write_all(answer.as_bytes());
                    break;
                }
            }
        }
    });
    (url, bodies)
}

fn config_with_webhook(account: &Account, url: &str) -> std::path::PathBuf {
    let config = std::env::temp_dir().join(format!("opsctl-notify-{}.toml", account.id));
    let text = support::repo_config().replace(
        "[env.staging]\n",
        &format!("[env.staging]\nnotify = [{{ webhook = \"{url}\" }}]\n"),
    );
    std::fs::write(&config, text).unwrap();
    config
}

#[tokio::test]
async fn a_deploy_posts_its_start_and_its_success_to_the_webhook() {
    let account = Account::seed();
    let (url, bodies) = webhook(200);
    let config = config_with_webhook(&account, &url);
    let run = account.opsctl_with_config(&config, &["deploy", "staging", "--version", "v1.2.0"]);
    run.expect_code(0);
    let docs = bodies.lock().unwrap().clone();
    let events: Vec<&str> = docs.iter().map(|d| d["event"].as_str().unwrap()).collect();
    assert_eq!(events, ["started", "succeeded"], "{docs:#?}");
    for doc in &docs {
        assert_eq!(doc["env"], "staging");
        assert_eq!(doc["command"], "deploy");
        assert_eq!(doc["version"], "v1.2.0");
        assert_eq!(doc["services"], serde_json::json!(["staging-users"]));
    }
    assert_eq!(docs[1]["exit_code"], 0, "{:#?}", docs[1]);
}

#[tokio::test]
async fn a_webhook_that_fails_is_a_warning_and_the_deploy_still_succeeds() {
    let account = Account::seed();
    let (url, bodies) = webhook(500);
    let config = config_with_webhook(&account, &url);
    let run = account.opsctl_with_config(&config, &["deploy", "staging", "--version", "v1.2.0"]);
    run.expect_code(0);
    assert!(!bodies.lock().unwrap().is_empty(), "nothing was posted");
    assert!(
        run.stderr.contains("127.0.0.1"),
        "the failed notice is not named: {}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("SECRET-TOKEN") && !run.stdout.contains("SECRET-TOKEN"),
        "the webhook's token was printed"
    );
}

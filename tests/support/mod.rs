//! The local AWS sandbox for integration tests: one server per test run (from
//! `OPSCTL_SANDBOX_URL`, as `make test` provides, or started here once per test binary), one
//! freshly seeded account per test.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;

/// The recovery region of the repo's prod (`database.dr.region`), which the seed prepares.
pub const DR_REGION: &str = "us-west-2";

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The running sandbox's base URL, e.g. `http://127.0.0.1:41234`.
/// The repository's opsctl.toml, for a test to change and write elsewhere: the paths in it
/// (`task_definition`) made absolute, so that the copy still names the repository's files.
pub fn repo_config() -> String {
    let text = std::fs::read_to_string(repo_root().join("opsctl.toml")).unwrap();
    let root = repo_root();
    text.lines()
        .map(|line| match line.split_once("task_definition = \"") {
            Some((key, rest)) => format!("{key}task_definition = \"{}/{rest}", root.display()),
            None => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

pub fn sandbox_url() -> &'static str {
    static URL: OnceLock<(String, Option<Child>)> = OnceLock::new();
    &URL.get_or_init(|| {
        if let Ok(url) = std::env::var("OPSCTL_SANDBOX_URL") {
            return (url, None);
        }
        let python = repo_root().join(".venv/bin/python");
        assert!(
            python.exists(),
            "the AWS sandbox's venv is missing: run `make venv` (or `make test`), \
             or set OPSCTL_SANDBOX_URL to a running sandbox"
        );
        // The shell reads stdin until this test process exits (the pipe closes), then stops
        // the server: no server outlives the tests.
        let server = repo_root().join("tests/sandbox/server.py");
        let script = format!(
            "'{}' '{}' --host 127.0.0.1 --port 0 & pid=$!; cat >/dev/null; kill $pid",
            python.display(),
            server.display()
        );
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the sandbox");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let url = loop {
            let line = lines
                .next()
                .expect("the sandbox printed its address")
                .expect("read the sandbox's output");
            if let Some(url) = line.strip_prefix("sandbox listening on ") {
                break url.trim().to_owned();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        (url, Some(child))
    })
    .0
}

/// A minimal HTTP/1.1 JSON call to the sandbox's control surface (loopback only). The answer
/// is read up to its Content-Length (not to the connection's close, which a busy server may
/// be slow to make); a call that gets no answer is tried once more.
pub fn control(method: &str, path: &str, body: &Value) -> Value {
    let body = body.to_string();
    let (head, payload) = match control_once(method, path, &body, Duration::from_secs(30)) {
        Ok(answer) => answer,
        Err(e) => {
            eprintln!("{method} {path}: {e}; trying again");
            control_once(method, path, &body, Duration::from_secs(60))
                .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
        }
    };
    assert!(
        head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200"),
        "{method} {path}: {head}\n{payload}"
    );
    serde_json::from_str(&payload).expect("JSON from the sandbox")
}

fn control_once(
    method: &str,
    path: &str,
    body: &str,
    timeout: Duration,
) -> std::io::Result<(String, String)> {
    let url = sandbox_url();
    let host = url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(host)?;
    stream.set_read_timeout(Some(timeout))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut reader = BufReader::new(stream);
    let mut head = String::new();
    let mut length = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Err(std::io::Error::other("the connection closed mid-answer"));
        }
        if line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            length = v.trim().parse::<usize>().ok();
        }
        head.push_str(&line);
    }
    let mut payload = Vec::new();
    match length {
        Some(n) => {
            payload.resize(n, 0);
            reader.read_exact(&mut payload)?;
        }
        None => {
            reader.read_to_end(&mut payload)?;
        }
    }
    Ok((head, String::from_utf8_lossy(&payload).into_owned()))
}

/// One seeded account of the demo environment, isolated from every other test.
pub struct Account {
    pub id: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub region: String,
    pub resources: Value,
}

impl Account {
    /// Seeds a fresh account; rollouts run fast (tasks start in 0.3 s).
    pub fn seed() -> Account {
        Account::seed_with(serde_json::json!({}))
    }

    /// Seeds a fresh account whose `users-db` is Multi-AZ (primary us-east-1a, standby
    /// us-east-1b).
    pub fn seed_multi_az() -> Account {
        Account::seed_with(serde_json::json!({ "multi_az": true }))
    }

    /// Seeds a fresh account with the native environment too (`native-users`, a service ECS
    /// deploys itself); a minute of its bake times lasts a second, and each stage long
    /// enough for a poll a second to see it.
    pub fn seed_native() -> Account {
        let account = Account::seed_with(serde_json::json!({ "native": true }));
        account.configure(serde_json::json!({
            "minute_seconds": 1.0,
            "stage_seconds": 1.5,
        }));
        account
    }

    fn seed_with(body: Value) -> Account {
        let seeded = control("POST", "/_sandbox/seed", &body);
        let account = Account {
            id: seeded["account_id"].as_str().unwrap().to_owned(),
            access_key_id: seeded["access_key_id"].as_str().unwrap().to_owned(),
            secret_access_key: seeded["secret_access_key"].as_str().unwrap().to_owned(),
            region: seeded["region"].as_str().unwrap().to_owned(),
            resources: seeded["resources"].clone(),
        };
        account.configure(serde_json::json!({
            "task_start_seconds": 0.3,
            "task_stop_seconds": 0.1,
            "rollback_delay_seconds": 1.5,
        }));
        account
    }

    /// A role in this account that `trusted`'s account may assume (with `external_id`, if
    /// given), allowed everything; returns its ARN.
    pub fn role_for(&self, trusted: &Account, name: &str, external_id: Option<&str>) -> String {
        let made = control(
            "POST",
            "/_sandbox/roles",
            &serde_json::json!({
                "account_id": self.id, "name": name, "trusted_account": trusted.id,
                "external_id": external_id,
            }),
        );
        made["role_arn"]
            .as_str()
            .expect("the role's ARN")
            .to_owned()
    }

    /// Changes the sandbox's behaviour for this account.
    pub fn configure(&self, mut changes: Value) {
        changes["account_id"] = Value::String(self.id.clone());
        control("POST", "/_sandbox/config", &changes);
    }

    /// Makes the account's requests for `action` (an IAM action, `*` wildcards allowed) go
    /// wrong: `fault` is `throttle`, `500`, `503`, `access_denied`, `drop`, `lost_answer`
    /// or `delay`; `count` of them (`None`: all) after letting `after` through.
    pub fn fault(&self, action: &str, fault: &str, count: Option<u32>, after: u32) {
        control(
            "POST",
            "/_sandbox/faults",
            &serde_json::json!({
                "account_id": self.id, "action": action, "fault": fault,
                "count": count, "after": after,
            }),
        );
    }

    /// Removes every fault of the account.
    pub fn clear_faults(&self) {
        control(
            "DELETE",
            &format!("/_sandbox/faults?account_id={}", self.id),
            &serde_json::json!({}),
        );
    }

    /// The AWS requests served for the account since it was seeded (or the log cleared).
    pub fn requests(&self) -> Vec<Request> {
        let log = control(
            "GET",
            &format!("/_sandbox/requests?account_id={}", self.id),
            &serde_json::json!({}),
        );
        log.as_array()
            .expect("a list of requests")
            .iter()
            .map(|r| Request {
                action: r["action"].as_str().unwrap_or_default().to_owned(),
                status: r["status"].as_u64().map(|s| s as u16),
                fault: r["fault"].as_str().map(str::to_owned),
            })
            .collect()
    }

    /// Empties the account's request log.
    pub fn clear_requests(&self) {
        control(
            "DELETE",
            &format!("/_sandbox/requests?account_id={}", self.id),
            &serde_json::json!({}),
        );
    }

    /// Gives the image `users:TAG` a scan (`POST /_sandbox/scan`): `body` holds `state`
    /// (`complete`, `in_progress` with `seconds`, `none`, `failed`, `unsupported`) and the
    /// `findings` / `enhanced_findings` (`{name, severity, package, version, fixed_in}`).
    pub fn set_scan(&self, tag: &str, mut body: Value) {
        body["account_id"] = Value::String(self.id.clone());
        body["tag"] = Value::String(tag.to_owned());
        control("POST", "/_sandbox/scan", &body);
    }

    /// Switches IAM enforcement on for the account, its user holding exactly these actions.
    pub fn enforce_iam(&self, allow: &[String]) {
        control(
            "POST",
            "/_sandbox/iam-enforce",
            &serde_json::json!({ "account_id": self.id, "enabled": true, "allow": allow }),
        );
    }

    /// Switches IAM enforcement on with `policy` (a policy document, as `opsctl iam-policy`
    /// prints it) as the whole of the account user's permissions: its Resources and
    /// Conditions are evaluated as AWS evaluates them.
    pub fn enforce_iam_policy(&self, policy: &Value) {
        control(
            "POST",
            "/_sandbox/iam-enforce",
            &serde_json::json!({ "account_id": self.id, "enabled": true, "policy": policy }),
        );
    }

    /// Runs the real opsctl binary against this account with the repo's opsctl.toml.
    pub fn opsctl(&self, args: &[&str]) -> Run {
        self.opsctl_with_config(&repo_root().join("opsctl.toml"), args)
    }

    pub fn opsctl_with_config(&self, config: &Path, args: &[&str]) -> Run {
        self.opsctl_with_env(config, args, &[])
    }

    /// As `opsctl_with_config`, with extra environment variables.
    pub fn opsctl_with_env(&self, config: &Path, args: &[&str], vars: &[(&str, &str)]) -> Run {
        let output = self
            .command(config, args)
            .envs(vars.iter().copied())
            .output()
            .expect("run opsctl");
        Run::from(output)
    }

    /// Starts the real binary in the background (for Ctrl-C tests), with the repo's config;
    /// its output is piped.
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        self.command(&repo_root().join("opsctl.toml"), args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start opsctl")
    }

    /// The binary with this account's credentials, the sandbox's endpoint, no progress
    /// spinners and no colour, and nothing from the machine's own AWS setup.
    fn command(&self, config: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_opsctl"));
        cmd.arg("--config")
            .arg(config)
            .args(["--no-progress", "--color", "never"])
            .args(args)
            .env("AWS_ACCESS_KEY_ID", &self.access_key_id)
            .env("AWS_SECRET_ACCESS_KEY", &self.secret_access_key)
            .env("AWS_REGION", &self.region)
            .env("AWS_ENDPOINT_URL", sandbox_url())
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("GITHUB_ACTIONS")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdin(Stdio::null());
        cmd
    }

    /// `db snapshot prod --copy-to` the recovery region, waiting for both: exit 0 expected;
    /// the run and the snapshot's id (the copy's too).
    pub fn snapshot_to_dr(&self) -> (Run, String) {
        self.configure(serde_json::json!({ "db_snapshot_copy_seconds": 1.0 }));
        let run = self.opsctl(&[
            "--output",
            "json",
            "db",
            "snapshot",
            "prod",
            "--copy-to",
            DR_REGION,
            "--wait",
            "--yes",
        ]);
        run.expect_code(0);
        let id = run.json()["snapshot_id"].as_str().unwrap().to_owned();
        (run, id)
    }

    /// `--output json db restore prod --snapshot ID --to-region` the recovery region, into
    /// `target` there.
    pub fn restore_in_dr(&self, snapshot: &str, target: &str) -> Run {
        self.opsctl(&[
            "--output",
            "json",
            "db",
            "restore",
            "prod",
            "--snapshot",
            snapshot,
            "--to-region",
            DR_REGION,
            "--target",
            target,
            "--yes",
        ])
    }

    /// RDS in `region`, for checking what opsctl did there.
    pub async fn rds_in(&self, region: &str) -> aws_sdk_rds::Client {
        let config = aws_sdk_rds::config::Builder::from(&self.sdk().await)
            .region(aws_sdk_rds::config::Region::new(region.to_owned()))
            .build();
        aws_sdk_rds::Client::from_conf(config)
    }

    /// The DB instance `id` in `region`, if there is one.
    pub async fn db_instance_in(
        &self,
        region: &str,
        id: &str,
    ) -> Option<aws_sdk_rds::types::DbInstance> {
        let out = self
            .rds_in(region)
            .await
            .describe_db_instances()
            .db_instance_identifier(id)
            .send()
            .await
            .ok()?;
        out.db_instances().first().cloned()
    }

    /// An SDK config for checking what opsctl did, independently of opsctl.
    pub async fn sdk(&self) -> aws_config::SdkConfig {
        let creds = aws_sdk_ecs::config::Credentials::new(
            &self.access_key_id,
            &self.secret_access_key,
            None,
            None,
            "sandbox",
        );
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(self.region.clone()))
            .endpoint_url(sandbox_url())
            .credentials_provider(creds)
            .load()
            .await
    }

    /// `(blue, green)` weights of the prod listener, read through the SDK.
    pub async fn weights(&self) -> (i32, i32) {
        let elb = aws_sdk_elasticloadbalancingv2::Client::new(&self.sdk().await);
        let lb = elb
            .describe_load_balancers()
            .names("prod-alb")
            .send()
            .await
            .unwrap();
        let lb_arn = lb.load_balancers()[0]
            .load_balancer_arn()
            .unwrap()
            .to_owned();
        let listeners = elb
            .describe_listeners()
            .load_balancer_arn(lb_arn)
            .send()
            .await
            .unwrap();
        let action = &listeners.listeners()[0].default_actions()[0];
        let groups = action.forward_config().unwrap().target_groups();
        let of = |name: &str| {
            groups
                .iter()
                .find(|t| t.target_group_arn().unwrap().contains(&format!("/{name}/")))
                .and_then(|t| t.weight())
                .unwrap_or(0)
        };
        (of("prod-users-blue"), of("prod-users-green"))
    }

    /// Service `name` of cluster `demo`, as DescribeServices answers it.
    pub async fn service(&self, name: &str) -> aws_sdk_ecs::types::Service {
        let ecs = aws_sdk_ecs::Client::new(&self.sdk().await);
        let out = ecs
            .describe_services()
            .cluster("demo")
            .services(name)
            .send()
            .await
            .unwrap();
        out.services()[0].clone()
    }

    /// The task definition (ARN) `service` of cluster `demo` runs.
    pub async fn service_task_definition(&self, service: &str) -> String {
        self.service(service)
            .await
            .task_definition()
            .unwrap()
            .to_owned()
    }

    /// `(desired, running)` of `service`.
    pub async fn desired_running(&self, service: &str) -> (i32, i32) {
        let s = self.service(service).await;
        (s.desired_count(), s.running_count())
    }

    /// The actions of the requests that changed something, since seeding (or the log was
    /// cleared).
    pub fn changes(&self) -> Vec<String> {
        self.requests()
            .into_iter()
            .filter(|r| r.changed())
            .map(|r| r.action)
            .collect()
    }

    /// A service as a user checks it after a command: the image tag its task definition
    /// runs, and whether it has settled (one deployment, COMPLETED, running == desired).
    pub async fn service_state(&self, service: &str) -> String {
        let ecs = aws_sdk_ecs::Client::new(&self.sdk().await);
        let s = &self.service(service).await;
        let td = ecs
            .describe_task_definition()
            .task_definition(s.task_definition().unwrap())
            .send()
            .await
            .unwrap();
        let image = td.task_definition().unwrap().container_definitions()[0]
            .image()
            .unwrap_or_default()
            .rsplit(':')
            .next()
            .unwrap_or_default()
            .to_owned();
        let settled = s.deployments().len() == 1
            && s.deployments()[0]
                .rollout_state()
                .is_none_or(|r| r.as_str() == "COMPLETED")
            && s.running_count() == s.desired_count();
        format!(
            "{service} {image} x{} {}",
            s.desired_count(),
            if settled { "settled" } else { "moving" }
        )
    }

    /// Replaces the random account id so output can be compared across runs.
    pub fn scrub(&self, text: &str) -> String {
        text.replace(&self.id, "<account>")
    }
}

/// One AWS request the sandbox served.
#[derive(Debug, Clone)]
pub struct Request {
    /// As IAM names it: `ecs:UpdateService`.
    pub action: String,
    /// `None` when the connection was dropped.
    pub status: Option<u16>,
    pub fault: Option<String>,
}

impl Request {
    /// Whether this request changes something in AWS. The deploy lock's own records are
    /// not counted: every command that changes an environment takes the lock first and
    /// releases it at its end, also when it then refuses bad input, and they are the only
    /// Parameter Store writes opsctl makes (its IAM policy grants no other).
    pub fn mutates(&self) -> bool {
        let name = self.action.split(':').nth(1).unwrap_or_default();
        // AssumeRole hands out a session; it changes nothing in the account.
        self.action != "sts:AssumeRole"
            && !["Describe", "List", "Get"]
                .iter()
                .any(|p| name.starts_with(p))
            && !self.is_lock_record()
    }

    /// A write of the deploy lock's records (Parameter Store).
    pub fn is_lock_record(&self) -> bool {
        matches!(
            self.action.as_str(),
            "ssm:PutParameter" | "ssm:DeleteParameters"
        )
    }

    /// A mutating request that AWS carried out.
    pub fn changed(&self) -> bool {
        self.mutates() && self.status == Some(200)
    }
}

/// What a run of the binary printed and how it exited.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    /// stdout as JSON (for `--output json`).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// Panics with both streams unless the exit code is as expected.
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

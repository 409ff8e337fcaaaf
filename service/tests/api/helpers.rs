//! Test harness: a throwaway database per test, the real application on a free port, the
//! real binary as a child process, a TCP proxy that can cut the database off, and moto.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{Connection, Executor};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::{AbortHandle, JoinHandle};
use users_service::config::Settings;
use users_service::startup::Application;

/// The server to create test databases on: `DATABASE_URL` when set, else the local default.
pub fn admin_url() -> url::Url {
    let raw = std::env::var("DATABASE_URL")
        .ok()
        .filter(|url| !url.trim().is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    url::Url::parse(&raw).expect("DATABASE_URL is a URL")
}

/// A database created for one test and dropped (best effort) when the value is dropped.
pub struct TestDb {
    /// The database's name.
    pub name: String,
}

impl TestDb {
    /// Creates an empty database with a random name.
    pub async fn create() -> Self {
        let name = format!("users_test_{:016x}", fastrand::u64(..));
        let mut admin = PgConnection::connect(admin_url().as_str())
            .await
            .expect("connect to PostgreSQL as admin (is it running? set DATABASE_URL)");
        admin
            .execute(sqlx::AssertSqlSafe(format!(r#"CREATE DATABASE "{name}""#)))
            .await
            .expect("create the test database");
        Self { name }
    }

    /// A URL for the test database.
    pub fn url(&self) -> String {
        let mut url = admin_url();
        url.set_path(&self.name);
        url.to_string()
    }

    /// The same URL with the host and port replaced, to go through a proxy.
    pub fn url_via(&self, port: u16) -> String {
        let mut url = admin_url();
        url.set_path(&self.name);
        url.set_host(Some("127.0.0.1")).unwrap();
        url.set_port(Some(port)).unwrap();
        url.to_string()
    }

    /// A fresh connection to the test database, for arranging and checking data.
    pub async fn connect(&self) -> PgConnection {
        PgConnection::connect(&self.url())
            .await
            .expect("connect to the test database")
    }

    /// Rows in `users`.
    pub async fn count_users(&self) -> i64 {
        let mut conn = self.connect().await;
        sqlx::query_scalar("SELECT count(*) FROM users")
            .fetch_one(&mut conn)
            .await
            .unwrap()
    }

    /// Inserts `n` users straight into the table (`user{i}@example.com`).
    pub async fn seed_users(&self, n: i64) {
        let mut conn = self.connect().await;
        sqlx::query(
            "INSERT INTO users (name, email) \
             SELECT 'User ' || g, 'user' || g || '@example.com' FROM generate_series(1, $1) AS g",
        )
        .bind(n)
        .execute(&mut conn)
        .await
        .unwrap();
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs inside the test's runtime, which cannot block on async work: use a
        // thread with its own small runtime. FORCE ends the app's remaining connections.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let mut admin = PgConnection::connect(admin_url().as_str()).await.ok()?;
                admin
                    .execute(sqlx::AssertSqlSafe(format!(
                        r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#
                    )))
                    .await
                    .ok()
            })
        })
        .join();
    }
}

/// The application running in this test's runtime, on its own database.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    /// The port it listens on.
    pub port: u16,
    /// An HTTP client that never goes through a proxy.
    pub client: reqwest::Client,
    /// Its database.
    pub db: TestDb,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
}

/// Settings shared by every test app: loopback, a free port, a small pool, rate limiting
/// off unless a test turns it on.
fn base_env(db: &TestDb) -> HashMap<String, String> {
    [
        ("DATABASE_URL", db.url()),
        ("HOST", "127.0.0.1".to_owned()),
        ("PORT", "0".to_owned()),
        ("DB_MAX_CONNECTIONS", "4".to_owned()),
        ("DB_MIN_CONNECTIONS", "0".to_owned()),
        ("DB_ACQUIRE_TIMEOUT_SECS", "2".to_owned()),
        ("RATE_LIMIT_PER_SECOND", "0".to_owned()),
        ("SHUTDOWN_TIMEOUT_SECS", "10".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// A client for talking to the apps under test.
pub fn client() -> reqwest::Client {
    // The workspace builds reqwest with rustls and no crypto provider of its own (opsctl's
    // webhooks use the one the AWS SDK brings): name it, or the client panics. A second
    // install is a harmless error.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

impl TestApp {
    /// Starts the app with the base settings.
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| Vec::new()).await
    }

    /// Starts the app with extra settings; `vars` sees the database to point at.
    pub async fn spawn_with(vars: impl FnOnce(&TestDb) -> Vec<(&'static str, String)>) -> Self {
        let db = TestDb::create().await;
        let mut env = base_env(&db);
        env.extend(vars(&db).into_iter().map(|(k, v)| (k.to_owned(), v)));
        let settings =
            Settings::from_lookup(|name| env.get(name).cloned()).expect("valid test settings");
        let app = Application::build(settings).await.expect("the app builds");
        let port = app.port();
        let (shutdown, stop) = oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until(async move {
            let _ = stop.await;
        }));
        Self {
            address: format!("http://127.0.0.1:{port}"),
            port,
            client: client(),
            db,
            shutdown: Some(shutdown),
            server: Some(server),
        }
    }

    /// `GET {path}`.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .unwrap()
    }

    /// `POST /api/users` with a JSON body.
    pub async fn post_user(&self, body: &Value) -> reqwest::Response {
        self.client
            .post(format!("{}/api/users", self.address))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Starts a graceful shutdown; the returned handle completes when the server has stopped.
    pub fn shutdown(&mut self) -> JoinHandle<std::io::Result<()>> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.server.take().expect("shutdown called once")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// The status and JSON body of a response.
pub async fn json(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text:?}"));
    (status, body)
}

/// Polls `check` every 50 ms until it holds or `timeout` passes.
pub async fn eventually<F, Fut>(timeout: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A TCP proxy to PostgreSQL that a test can cut (close every connection and refuse new
/// ones) and restore, to simulate the database going away and coming back.
pub struct TcpProxy {
    /// The port to connect to instead of the database's.
    pub port: u16,
    up: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<AbortHandle>>>,
    accept: JoinHandle<()>,
}

impl TcpProxy {
    /// Starts forwarding a free loopback port to the admin server's address.
    pub async fn start() -> Self {
        let admin = admin_url();
        let target = format!(
            "{}:{}",
            admin.host_str().unwrap(),
            admin.port().unwrap_or(5432)
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let connections = Arc::new(Mutex::new(Vec::<AbortHandle>::new()));
        let accept = tokio::spawn({
            let up = up.clone();
            let connections = connections.clone();
            async move {
                while let Ok((mut inbound, _)) = listener.accept().await {
                    if !up.load(Ordering::SeqCst) {
                        // Down: accept and close at once, like a host that resets.
                        drop(inbound);
                        continue;
                    }
                    let target = target.clone();
                    let task = tokio::spawn(async move {
                        if let Ok(mut outbound) = TcpStream::connect(target).await {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                    connections.lock().unwrap().push(task.abort_handle());
                }
            }
        });
        Self {
            port,
            up,
            connections,
            accept,
        }
    }

    /// Closes every forwarded connection and refuses new ones.
    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for connection in self.connections.lock().unwrap().drain(..) {
            connection.abort();
        }
    }

    /// Forwards again.
    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

/// The `users-service` binary running as a child process, with its stdout (JSON logs)
/// collected.
pub struct ServiceProcess {
    /// The child.
    pub child: Child,
    /// The port it listens on.
    pub port: u16,
    logs: Arc<Mutex<Vec<String>>>,
}

/// The binary under test.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_users-service")
}

/// A command for the binary with a clean environment plus `vars`: the test process's own
/// environment (AWS profiles, PG variables) must not leak into what is being tested.
pub fn command(vars: &[(&str, String)]) -> Command {
    let mut command = Command::new(binary());
    command.env_clear();
    for (name, value) in vars {
        command.env(name, value);
    }
    command
}

/// Everything a binary needs to start on loopback with a free port and the given database.
pub fn binary_env(database_url: String) -> Vec<(&'static str, String)> {
    vec![
        ("DATABASE_URL", database_url),
        ("HOST", "127.0.0.1".to_owned()),
        ("PORT", "0".to_owned()),
        ("DB_MAX_CONNECTIONS", "4".to_owned()),
        ("DB_MIN_CONNECTIONS", "0".to_owned()),
        ("RATE_LIMIT_PER_SECOND", "0".to_owned()),
    ]
}

/// What happened when starting the binary.
pub enum Started {
    /// It is listening.
    Listening(ServiceProcess),
    /// It exited first, with this status and stdout + stderr.
    Exited(ExitStatus, String),
}

impl ServiceProcess {
    /// Starts the binary with exactly `vars` and waits (up to 60 s) until it logs that it is
    /// listening, or exits.
    pub fn start(vars: &[(&str, String)]) -> Started {
        let mut child = command(vars)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the users-service binary");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (port_tx, port_rx) = mpsc::channel::<u16>();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let logs = logs.clone();
            let port_tx = port_tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if let Ok(event) = serde_json::from_str::<Value>(&line)
                        && event["message"] == "listening"
                        && let Some(port) = event["port"].as_u64()
                    {
                        let _ = port_tx.send(port as u16);
                    }
                    logs.lock().unwrap().push(line);
                }
            });
        }
        drop(port_tx);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(port) = port_rx.recv_timeout(Duration::from_millis(50)) {
                return Started::Listening(ServiceProcess { child, port, logs });
            }
            if let Some(status) = child.try_wait().unwrap() {
                // Let the reader threads drain the pipes.
                std::thread::sleep(Duration::from_millis(200));
                let output = logs.lock().unwrap().join("\n");
                return Started::Exited(status, output);
            }
            assert!(
                Instant::now() < deadline,
                "the binary neither listened nor exited within 60s"
            );
        }
    }

    /// Starts the binary and expects it to listen.
    pub fn start_listening(vars: &[(&str, String)]) -> Self {
        match Self::start(vars) {
            Started::Listening(process) => process,
            Started::Exited(status, output) => panic!("the binary exited ({status}):\n{output}"),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn address(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every line it printed so far.
    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }

    /// Sends SIGTERM, as ECS does.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
    }

    /// Waits up to `timeout` for the process to exit.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether something accepts TCP connections on `port`.
pub async fn is_listening(port: u16) -> bool {
    TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], port)))
        .await
        .is_ok()
}

/// A moto server (the local AWS emulator) on a free loopback port.
pub struct Moto {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    child: Child,
}

impl Moto {
    /// The project venv's `moto_server`, if the venv exists.
    fn executable() -> Option<PathBuf> {
        let venv = std::env::var_os("OPSCTL_SANDBOX_VENV")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv"));
        let path = venv.join("bin/moto_server");
        path.exists().then_some(path)
    }

    /// Starts moto and waits until it answers; `None` when the venv has no moto.
    pub async fn start() -> Option<Self> {
        let executable = Self::executable()?;
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            probe.local_addr().unwrap().port()
        };
        let child = Command::new(executable)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        let moto = Self {
            endpoint: format!("http://127.0.0.1:{port}"),
            child,
        };
        assert!(
            eventually(Duration::from_secs(30), || is_listening(port)).await,
            "moto_server did not start listening on {port}"
        );
        Some(moto)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The admin server's connection parts, for building a secret that reaches it.
pub fn admin_parts() -> (String, u16, String, Option<String>) {
    let url = admin_url();
    let options: PgConnectOptions = url.as_str().parse().unwrap();
    (
        options.get_host().to_owned(),
        options.get_port(),
        options.get_username().to_owned(),
        url.password().map(str::to_owned),
    )
}

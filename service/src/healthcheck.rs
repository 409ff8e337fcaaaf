//! `users-service healthcheck`: asks the running service's `/health` and exits 0 or 1.
//!
//! The container image has no curl, so the container and ECS health checks run the binary
//! itself. A plain HTTP/1.0 request over a `TcpStream` needs no runtime and no client crate.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

/// How long each step (connect, write, read) may take.
pub const TIMEOUT: Duration = Duration::from_secs(3);

/// Checks `http://127.0.0.1:{port}/health`; `Err` says why it is unhealthy.
pub fn check(port: u16, timeout: Duration) -> Result<(), String> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&addr, timeout)
        .map_err(|err| format!("cannot connect to {addr}: {err}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|()| stream.set_write_timeout(Some(timeout)))
        .map_err(|err| err.to_string())?;
    stream
        .write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\nUser-Agent: users-service-healthcheck\r\n\r\n")
        .map_err(|err| format!("cannot send the request: {err}"))?;
    // The status line is all we need; it arrives in the first bytes.
    let mut head = [0u8; 64];
    let mut len = 0;
    while len < head.len() && !head[..len].contains(&b'\n') {
        match stream.read(&mut head[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(err) => return Err(format!("cannot read the response: {err}")),
        }
    }
    let status_line = String::from_utf8_lossy(&head[..len]);
    let status_line = status_line.lines().next().unwrap_or_default();
    let mut parts = status_line.split_whitespace();
    match (parts.next(), parts.next()) {
        (Some(version), Some("200")) if version.starts_with("HTTP/1.") => Ok(()),
        _ => Err(format!("unexpected response: {status_line:?}")),
    }
}

/// The subcommand: reads `PORT` like the server does (default 8080).
pub fn run() -> std::process::ExitCode {
    let port = match std::env::var("PORT").ok().filter(|p| !p.trim().is_empty()) {
        None => 8080,
        Some(raw) => match raw.trim().parse() {
            Ok(port) => port,
            Err(_) => {
                eprintln!("unhealthy: PORT={raw:?} is not a port number");
                return std::process::ExitCode::FAILURE;
            }
        },
    };
    match check(port, TIMEOUT) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(reason) => {
            eprintln!("unhealthy: {reason}");
            std::process::ExitCode::FAILURE
        }
    }
}

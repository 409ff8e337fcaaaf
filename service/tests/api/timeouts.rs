//! Connection timeouts and the drain at shutdown, over raw TCP so that the test decides
//! exactly what is sent when.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{TestApp, is_listening};

const GET_HEALTH: &[u8] = b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n";

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(("127.0.0.1", app.port)).await.unwrap()
}

/// Reads one response (head and `Content-Length` body); `None` when the connection ends
/// first.
async fn read_response(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = find(&buf, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .map_or(0, |value| value.trim().parse::<usize>().unwrap());
            if buf.len() >= end + 4 + length {
                return Some(String::from_utf8_lossy(&buf[..end + 4 + length]).into_owned());
            }
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Waits up to `within` for the server to close the connection; how long it took.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut chunk = [0u8; 1024];
    loop {
        match tokio::time::timeout_at((started + within).into(), stream.read(&mut chunk)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

fn short_timeouts() -> Vec<(&'static str, String)> {
    vec![
        ("HTTP_HEADER_TIMEOUT_SECS", "1".to_owned()),
        ("HTTP_BODY_TIMEOUT_SECS", "1".to_owned()),
        ("HTTP_IDLE_TIMEOUT_SECS", "2".to_owned()),
    ]
}

#[tokio::test]
async fn a_client_that_trickles_its_headers_is_cut_off() {
    let app = TestApp::spawn_with(|_| short_timeouts()).await;
    let mut stream = connect(&app).await;
    let started = Instant::now();
    // One byte every 100 ms: always something new, never a whole head.
    let head = b"GET /health HTTP/1.1\r\nHost: localhost\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let mut cut = false;
    for byte in head {
        if stream.write_all(&[*byte]).await.is_err() {
            cut = true;
            break;
        }
        let mut probe = [0u8; 64];
        match tokio::time::timeout(Duration::from_millis(100), stream.read(&mut probe)).await {
            Ok(Ok(0) | Err(_)) => {
                cut = true;
                break;
            }
            Ok(Ok(n)) => panic!("answered a head that never ended: {:?}", &probe[..n]),
            Err(_) => {}
        }
    }
    let took = started.elapsed();
    assert!(cut, "still connected after {took:?}");
    assert!(
        took >= Duration::from_millis(900),
        "cut too early: {took:?}"
    );
    assert!(took < Duration::from_secs(4), "cut too late: {took:?}");
}

#[tokio::test]
async fn a_client_that_connects_and_sends_nothing_is_cut_off() {
    let app = TestApp::spawn_with(|_| short_timeouts()).await;
    let mut stream = connect(&app).await;
    let took = closed_within(&mut stream, Duration::from_secs(5))
        .await
        .expect("the silent connection was closed");
    assert!(took >= Duration::from_millis(900), "{took:?}");
}

#[tokio::test]
async fn a_body_that_never_arrives_is_408_and_the_connection_closes() {
    let app = TestApp::spawn_with(|_| short_timeouts()).await;
    let mut stream = connect(&app).await;
    let started = Instant::now();
    stream
        .write_all(
            b"POST /api/users HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
              Content-Length: 60\r\n\r\n{\"name\": \"Ada\"",
        )
        .await
        .unwrap();
    let response = read_response(&mut stream).await.expect("an answer");
    let took = started.elapsed();
    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    assert!(response.contains("request_timeout"), "{response}");
    assert!(
        response.to_ascii_lowercase().contains("connection: close"),
        "{response}"
    );
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(4),
        "{took:?}"
    );
    assert!(
        closed_within(&mut stream, Duration::from_secs(2))
            .await
            .is_some()
    );
    assert_eq!(app.db.count_users().await, 0);
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout_not_before() {
    let app = TestApp::spawn_with(|_| short_timeouts()).await;
    let mut stream = connect(&app).await;
    // Used every 700 ms for longer than the header timeout (1 s) and the idle timeout
    // (2 s): a connection in use is never cut, and idle gaps shorter than the idle timeout
    // are not a slow head.
    for _ in 0..5 {
        stream.write_all(GET_HEALTH).await.unwrap();
        let response = read_response(&mut stream).await.expect("kept alive");
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    let took = closed_within(&mut stream, Duration::from_secs(5))
        .await
        .expect("the idle connection was closed");
    // 2 s idle, 700 ms of which already passed.
    assert!(took >= Duration::from_millis(1000), "{took:?}");
}

#[tokio::test]
async fn at_shutdown_a_request_on_an_idle_keep_alive_connection_is_answered() {
    let mut app = TestApp::spawn().await;
    let mut stream = connect(&app).await;
    stream.write_all(GET_HEALTH).await.unwrap();
    let first = read_response(&mut stream).await.unwrap();
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    assert!(
        !first.to_ascii_lowercase().contains("connection: close"),
        "{first}"
    );

    let server = app.shutdown();
    let port = app.port;
    assert!(
        crate::helpers::eventually(Duration::from_secs(5), || async move {
            !is_listening(port).await
        })
        .await,
        "still accepting after the shutdown signal"
    );
    // The client did not know: it sends its next request on the pooled connection.
    stream.write_all(GET_HEALTH).await.unwrap();
    let second = read_response(&mut stream)
        .await
        .expect("the request that arrived during the drain was answered");
    assert!(second.starts_with("HTTP/1.1 200"), "{second}");
    assert!(
        second.to_ascii_lowercase().contains("connection: close"),
        "{second}"
    );
    assert!(
        closed_within(&mut stream, Duration::from_secs(2))
            .await
            .is_some()
    );
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("stopped once the connection closed")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn shutdown_is_not_held_by_slow_or_silent_clients() {
    let mut vars = short_timeouts();
    vars.push(("SHUTDOWN_TIMEOUT_SECS", "30".to_owned()));
    // The idle timeout is long here: only the drain may close these connections.
    vars.retain(|(name, _)| {
        *name != "HTTP_HEADER_TIMEOUT_SECS" && *name != "HTTP_IDLE_TIMEOUT_SECS"
    });
    let mut app = TestApp::spawn_with(|_| vars).await;
    let mut silent = connect(&app).await;
    let mut half_head = connect(&app).await;
    half_head
        .write_all(b"GET /health HTTP/1.1\r\nHost: loc")
        .await
        .unwrap();
    let mut idle = connect(&app).await;
    idle.write_all(GET_HEALTH).await.unwrap();
    read_response(&mut idle).await.unwrap();
    let mut no_body = connect(&app).await;
    no_body
        .write_all(
            b"POST /api/users HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
              Content-Length: 60\r\n\r\n",
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let started = Instant::now();
    let server = app.shutdown();
    tokio::time::timeout(Duration::from_secs(8), server)
        .await
        .expect("shutdown finished long before its 30 s timeout")
        .unwrap()
        .unwrap();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "{took:?}");
    for stream in [&mut silent, &mut half_head, &mut idle] {
        assert!(
            closed_within(stream, Duration::from_secs(1))
                .await
                .is_some()
        );
    }
    let answer = read_response(&mut no_body)
        .await
        .expect("the body-less POST was answered");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
}

#[tokio::test]
async fn idle_keep_alive_connections_are_capped_and_the_client_is_told() {
    let app = TestApp::spawn_with(|_| vec![("HTTP_MAX_IDLE_CONNECTIONS", "2".to_owned())]).await;
    let keeps = |answer: &str| !answer.to_ascii_lowercase().contains("connection: close");
    // Two connections, each left idle after a request: both kept.
    let mut idle = Vec::new();
    for _ in 0..2 {
        let mut stream = connect(&app).await;
        stream.write_all(GET_HEALTH).await.unwrap();
        let answer = read_response(&mut stream).await.expect("an answer");
        assert!(keeps(&answer), "{answer}");
        idle.push(stream);
    }
    // A third would make three idle: its response says so, and the server closes it.
    let mut third = connect(&app).await;
    third.write_all(GET_HEALTH).await.unwrap();
    let answer = read_response(&mut third).await.expect("an answer");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(!keeps(&answer), "kept past the cap: {answer}");
    assert!(
        closed_within(&mut third, Duration::from_secs(2))
            .await
            .is_some()
    );
    // The idle ones still serve: a connection in use is not idle.
    for stream in &mut idle {
        stream.write_all(GET_HEALTH).await.unwrap();
        let answer = read_response(stream).await.expect("an answer");
        assert!(keeps(&answer), "{answer}");
    }
    // One idle connection gone: a new one is kept again.
    drop(idle.pop());
    let mut kept = false;
    for _ in 0..50 {
        let mut stream = connect(&app).await;
        stream.write_all(GET_HEALTH).await.unwrap();
        if keeps(&read_response(&mut stream).await.expect("an answer")) {
            kept = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(kept, "a closed idle connection was never counted out");
}

//! The HTTP/1.1 server under the router: the accept loop, each connection's timeouts, and
//! the drain at shutdown.
//!
//! # Timeouts, per connection
//!
//! - A new connection must deliver its first request head within the header-read timeout,
//!   and so must any request once its first byte has arrived: a client that trickles its
//!   headers, or connects and sends nothing, is cut off.
//! - Between requests a keep-alive connection may stay idle for the idle timeout, which is
//!   longer than the load balancer's own (an ALB closes its idle connections after 60 s by
//!   default; a target that closed first could race a request the ALB is sending: a 502).
//! - A handler that reads a body gets it within the body-read timeout from the end of the
//!   head, or answers 408 (see [`BodyDeadline`]).
//! - At most `max_idle_connections` keep-alive connections wait between requests at once. At
//!   the cap a response says `Connection: close` and its connection ends after it: the client
//!   is told before it could reuse the connection, so no request races a close.
//!
//! hyper has one "header read timeout" that runs from the end of one response to the end of
//! the next head, so it cannot tell an idle keep-alive connection from a slow client. So the
//! phase of each connection is tracked here instead: the socket reports the first byte of a
//! head, the service the start of a request, the response body its end.
//!
//! # Shutdown
//!
//! At the signal the listener is closed at once (new connections are refused) and every
//! response carries `Connection: close`, so each connection ends after its current exchange.
//! A connection that is idle, or part-way through a head, when the signal arrives is not cut
//! at once: a request may already be on its way on it (a client picks a pooled connection
//! without knowing the server is stopping). It gets [`DRAIN_GRACE`] to arrive, and is
//! answered. In-flight requests finish, bounded by the caller's shutdown timeout.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request, Response, header};
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tower::ServiceExt;

use crate::config::HttpSettings;

/// How long, after the shutdown signal, a connection that is between requests may still
/// receive one.
pub const DRAIN_GRACE: Duration = Duration::from_secs(2);

/// When the body of the request must have arrived by; set on every request for the body
/// extractors ([`crate::extract::ApiJson`]).
#[derive(Debug, Clone, Copy)]
pub struct BodyDeadline(pub Instant);

/// Serves `router` on `listener` until `shutdown` completes, then drains: no new
/// connections, `Connection: close` on every response, idle connections closed after
/// [`DRAIN_GRACE`]. Returns `true` when every connection ended within `drain_timeout`,
/// `false` when some were abandoned.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    settings: HttpSettings,
    shutdown: impl Future<Output = ()>,
    on_shutdown: impl FnOnce(),
    drain_timeout: Duration,
) -> bool {
    let (stopping_tx, stopping) = watch::channel(false);
    let idle = Arc::new(AtomicUsize::new(0));
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    connections.spawn(connection(
                        stream,
                        peer,
                        router.clone(),
                        settings,
                        stopping.clone(),
                        idle.clone(),
                    ));
                }
                Err(err) => {
                    // Out of file descriptors, or a connection reset before it was accepted:
                    // wait a moment rather than spin.
                    tracing::warn!(error = %err, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let _ = stopping_tx.send(true);
    on_shutdown();
    let drained = tokio::time::timeout(drain_timeout, async {
        while connections.join_next().await.is_some() {}
    })
    .await
    .is_ok();
    if !drained {
        connections.abort_all();
    }
    drained
}

/// What a connection is doing, for its timeouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Phase {
    /// Waiting for a request: no byte of the next head yet.
    Waiting = 0,
    /// Part of a request head has arrived.
    Head = 1,
    /// A request is being handled or its response written.
    Busy = 2,
}

/// A connection's phase and when it began, shared by the socket, the service and the
/// connection's task. Times are nanoseconds since `start`.
struct Activity {
    start: Instant,
    phase: AtomicU8,
    since: AtomicU64,
    /// Whether a request has been handled: the first request gets the header timeout from
    /// the moment of connecting.
    served: AtomicU8,
    changed: Notify,
    /// The keep-alive connections between requests, over all connections.
    idle: Arc<AtomicUsize>,
    /// Whether this connection is counted in `idle`.
    counted_idle: AtomicBool,
    /// Whether its last response said `Connection: close`.
    closing: AtomicBool,
}

impl Activity {
    fn new(idle: Arc<AtomicUsize>) -> Self {
        Self {
            start: Instant::now(),
            phase: AtomicU8::new(Phase::Waiting as u8),
            since: AtomicU64::new(0),
            served: AtomicU8::new(0),
            changed: Notify::new(),
            idle,
            counted_idle: AtomicBool::new(false),
            closing: AtomicBool::new(false),
        }
    }

    /// Counts the connection as idle (its response is written and it stays open) or not.
    fn count_idle(&self, idle: bool) {
        if self.counted_idle.swap(idle, Ordering::AcqRel) != idle {
            if idle {
                self.idle.fetch_add(1, Ordering::AcqRel);
            } else {
                self.idle.fetch_sub(1, Ordering::AcqRel);
            }
        }
    }

    fn phase(&self) -> Phase {
        match self.phase.load(Ordering::Acquire) {
            0 => Phase::Waiting,
            1 => Phase::Head,
            _ => Phase::Busy,
        }
    }

    fn enter(&self, phase: Phase) {
        self.since
            .store(self.start.elapsed().as_nanos() as u64, Ordering::Release);
        self.phase.store(phase as u8, Ordering::Release);
    }

    fn since(&self) -> Instant {
        self.start + Duration::from_nanos(self.since.load(Ordering::Acquire))
    }

    /// Bytes arrived on the socket.
    fn on_read(&self) {
        if self.phase() == Phase::Waiting {
            self.enter(Phase::Head);
            self.count_idle(false);
            self.changed.notify_one();
        }
    }

    /// When the connection is to be closed, as things stand; `None` while a request is busy.
    fn deadline(
        &self,
        settings: &HttpSettings,
        draining_since: Option<Instant>,
    ) -> Option<Instant> {
        let own = match self.phase() {
            Phase::Busy => return None,
            Phase::Head => self.since() + settings.header_read_timeout,
            Phase::Waiting if self.served.load(Ordering::Acquire) == 0 => {
                self.since() + settings.header_read_timeout
            }
            Phase::Waiting => self.since() + settings.idle_timeout,
        };
        Some(match draining_since {
            Some(since) => own.min(since + DRAIN_GRACE),
            None => own,
        })
    }
}

impl Drop for Activity {
    fn drop(&mut self) {
        self.count_idle(false);
    }
}

/// Serves one connection until it ends or one of its timeouts passes.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    settings: HttpSettings,
    mut stopping: watch::Receiver<bool>,
    idle: Arc<AtomicUsize>,
) {
    // Responses are small; don't let Nagle hold them back waiting for more.
    let _ = stream.set_nodelay(true);
    let activity = Arc::new(Activity::new(idle));
    let io = TokioIo::new(Watched {
        inner: stream,
        activity: activity.clone(),
    });
    let service = ConnectionService {
        router,
        peer,
        activity: activity.clone(),
        body_read_timeout: settings.body_read_timeout,
        max_idle_connections: settings.max_idle_connections,
        stopping: stopping.clone(),
    };
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        // Our own timeouts above, not hyper's one.
        .header_read_timeout(None)
        .serve_connection(io, service);
    tokio::pin!(conn);
    let mut draining_since = None;
    loop {
        let deadline = activity.deadline(&settings, draining_since);
        tokio::select! {
            served = conn.as_mut() => {
                if let Err(err) = served {
                    tracing::debug!(error = %err, peer = %peer, "connection ended with an error");
                }
                return;
            }
            () = sleep_until(deadline) => {
                let now = Instant::now();
                if activity.deadline(&settings, draining_since).is_some_and(|at| at <= now) {
                    tracing::debug!(peer = %peer, phase = ?activity.phase(), "closing the connection: timed out");
                    return;
                }
            }
            () = activity.changed.notified() => {}
            changed = stopping.changed(), if draining_since.is_none() => {
                if changed.is_err() || *stopping.borrow() {
                    draining_since = Some(Instant::now());
                }
            }
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// The router, as hyper calls it for each request on one connection.
#[derive(Clone)]
struct ConnectionService {
    router: Router,
    peer: SocketAddr,
    activity: Arc<Activity>,
    body_read_timeout: Duration,
    max_idle_connections: usize,
    stopping: watch::Receiver<bool>,
}

impl hyper::service::Service<Request<Incoming>> for ConnectionService {
    type Response = Response<TrackedBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, mut req: Request<Incoming>) -> Self::Future {
        self.activity.enter(Phase::Busy);
        self.activity.served.store(1, Ordering::Release);
        let guard = BusyGuard(self.activity.clone());
        req.extensions_mut().insert(ConnectInfo(self.peer));
        req.extensions_mut()
            .insert(BodyDeadline(Instant::now() + self.body_read_timeout));
        let router = self.router.clone();
        let stopping = self.stopping.clone();
        let activity = self.activity.clone();
        let max_idle = self.max_idle_connections;
        Box::pin(async move {
            let Ok(mut response) = router.oneshot(req.map(Body::new)).await;
            // Decided as the response goes out, so the client knows before it could reuse
            // the connection.
            let full = activity.idle.load(Ordering::Acquire) >= max_idle;
            if *stopping.borrow() || full {
                activity.closing.store(true, Ordering::Release);
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            Ok(response.map(|body| TrackedBody {
                inner: body,
                _guard: guard,
            }))
        })
    }
}

/// Marks the connection as waiting again once the response is written (hyper drops the
/// body then), or dropped unwritten.
struct BusyGuard(Arc<Activity>);

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.0.enter(Phase::Waiting);
        if !self.0.closing.load(Ordering::Acquire) {
            self.0.count_idle(true);
        }
        self.0.changed.notify_one();
    }
}

/// A response body that holds the connection busy until it is dropped.
struct TrackedBody {
    inner: Body,
    _guard: BusyGuard,
}

impl hyper::body::Body for TrackedBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The socket, telling the connection's [`Activity`] when bytes arrive.
struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.on_read();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

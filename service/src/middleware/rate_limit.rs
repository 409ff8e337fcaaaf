//! Per-client rate limiting (GCRA, from `governor`).
//!
//! # Who the client is
//!
//! Behind a load balancer every connection comes from the load balancer, so the client is
//! read from `X-Forwarded-For`. Each of the `TRUSTED_PROXY_HOPS` proxies in front of the
//! service (1: the ALB) appends the address it accepted the connection from. So, reading the
//! header's comma-separated entries (all `X-Forwarded-For` headers, in order) from the right:
//! the rightmost `TRUSTED_PROXY_HOPS - 1` entries are our own inner proxies, and the next one,
//! the `TRUSTED_PROXY_HOPS`-th from the right, is the address our outermost proxy saw: the
//! client. Entries further left were sent by the client and are ignored, so a client cannot
//! pick its own bucket by sending a forged header. With 1 hop, the client is the rightmost
//! entry.
//!
//! The peer address is used instead when `TRUSTED_PROXY_HOPS` is 0, when the header has fewer
//! entries than that (the request did not come through the proxies), or when the chosen entry
//! is not an IP address.
//!
//! # Memory
//!
//! A background task drops, once a minute, the state of every client whose bucket has
//! refilled, so memory is bounded by the clients seen in the last burst period.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::{Arc, Weak};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, Reference};
use governor::{DefaultKeyedRateLimiter, NotUntil, Quota, RateLimiter};

use crate::config::RateLimitSettings;
use crate::error::ApiError;

/// How often idle clients are forgotten.
const EVICT_EVERY: Duration = Duration::from_secs(60);

/// The limiter shared by all requests. Cheap to clone.
#[derive(Clone)]
pub struct RateLimit {
    limiter: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    trusted_proxy_hops: usize,
}

impl RateLimit {
    /// A limiter for `settings`, or `None` when rate limiting is off.
    pub fn new(settings: &RateLimitSettings) -> Option<Self> {
        let per_second = NonZeroU32::new(settings.per_second)?;
        let burst = NonZeroU32::new(settings.burst.max(1)).expect("burst is at least 1");
        let quota = Quota::per_second(per_second).allow_burst(burst);
        Some(Self {
            limiter: Arc::new(RateLimiter::keyed(quota)),
            trusted_proxy_hops: settings.trusted_proxy_hops,
        })
    }

    /// Starts the task that forgets idle clients. It ends when the limiter is dropped.
    pub fn spawn_eviction(&self) {
        let limiter: Weak<DefaultKeyedRateLimiter<IpAddr>> = Arc::downgrade(&self.limiter);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(EVICT_EVERY);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(limiter) = limiter.upgrade() else {
                    break;
                };
                limiter.retain_recent();
                limiter.shrink_to_fit();
            }
        });
    }

    /// Takes one request from `client`'s bucket; `Err` holds the seconds to wait.
    fn check(&self, client: IpAddr) -> Result<(), u64> {
        // The wait is measured from a reading taken before the check: one taken after it
        // can already be past the moment the bucket refills, which made a wait of 0.
        let checked_at = self.limiter.clock().now();
        self.limiter
            .check_key(&client)
            .map_err(|not_until| retry_after_secs(&not_until, checked_at))
    }
}

/// `Retry-After` for a refusal decided at `checked_at` (or later): whole seconds, rounded
/// up so that a client that obeys it succeeds, and never 0, which would invite an
/// immediate retry that is refused again.
fn retry_after_secs<P: Reference>(not_until: &NotUntil<P>, checked_at: P) -> u64 {
    let wait = not_until.wait_time_from(checked_at);
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

/// The client's address, by the rule in the module docs.
pub fn client_ip(headers: &HeaderMap, peer: IpAddr, trusted_proxy_hops: usize) -> IpAddr {
    if trusted_proxy_hops == 0 {
        return peer;
    }
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect();
    entries
        .len()
        .checked_sub(trusted_proxy_hops)
        .and_then(|index| parse_ip(entries[index]))
        .unwrap_or(peer)
}

fn parse_ip(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|addr| addr.ip()))
}

/// Middleware: 429 with `Retry-After` once the client's bucket is empty.
pub async fn limit(State(rate_limit): State<RateLimit>, req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let client = client_ip(req.headers(), peer, rate_limit.trusted_proxy_hops);
    match rate_limit.check(client) {
        Ok(()) => next.run(req).await,
        Err(retry_after_secs) => {
            tracing::info!(client = %client, retry_after_secs, "rate limited");
            ApiError::RateLimited { retry_after_secs }.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    const PEER: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 5));

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in values {
            map.append("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn one_hop_takes_the_rightmost_entry_and_ignores_forged_ones() {
        assert_eq!(
            client_ip(&headers(&["203.0.113.7"]), PEER, 1),
            ip("203.0.113.7")
        );
        assert_eq!(
            client_ip(&headers(&["1.1.1.1, 203.0.113.7"]), PEER, 1),
            ip("203.0.113.7")
        );
        assert_eq!(
            client_ip(&headers(&["1.1.1.1", "203.0.113.7"]), PEER, 1),
            ip("203.0.113.7")
        );
        assert_eq!(
            client_ip(&headers(&["junk, 2001:db8::1"]), PEER, 1),
            ip("2001:db8::1")
        );
    }

    #[test]
    fn more_hops_skip_our_inner_proxies() {
        let h = headers(&["6.6.6.6, 203.0.113.7, 10.0.1.1"]);
        assert_eq!(client_ip(&h, PEER, 2), ip("203.0.113.7"));
        assert_eq!(client_ip(&h, PEER, 3), ip("6.6.6.6"));
    }

    #[test]
    fn falls_back_to_the_peer() {
        assert_eq!(client_ip(&headers(&[]), PEER, 1), PEER);
        assert_eq!(client_ip(&headers(&["203.0.113.7"]), PEER, 0), PEER);
        assert_eq!(client_ip(&headers(&["203.0.113.7"]), PEER, 2), PEER);
        assert_eq!(client_ip(&headers(&["1.1.1.1, unknown"]), PEER, 1), PEER);
        assert_eq!(
            client_ip(&headers(&["203.0.113.7:4711"]), PEER, 1),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn limits_each_client_separately() {
        let settings = RateLimitSettings {
            per_second: 1,
            burst: 2,
            trusted_proxy_hops: 1,
        };
        let rate_limit = RateLimit::new(&settings).unwrap();
        assert!(rate_limit.check(ip("192.0.2.1")).is_ok());
        assert!(rate_limit.check(ip("192.0.2.1")).is_ok());
        assert_eq!(rate_limit.check(ip("192.0.2.1")), Err(1));
        assert!(rate_limit.check(ip("192.0.2.2")).is_ok());
    }

    #[test]
    fn retry_after_is_measured_from_the_check_and_never_0() {
        use governor::clock::FakeRelativeClock;

        let clock = FakeRelativeClock::default();
        let quota = Quota::per_second(NonZeroU32::new(1).unwrap());
        let limiter = RateLimiter::direct_with_clock(quota, clock.clone());
        limiter.check().unwrap();
        let checked_at = clock.now();
        let refused = limiter.check().unwrap_err();
        // The moment the bucket refills passes before the answer is written (a busy
        // machine): a reading taken now says "wait 0 s".
        clock.advance(Duration::from_secs(1));
        assert_eq!(refused.wait_time_from(clock.now()), Duration::ZERO);
        assert_eq!(retry_after_secs(&refused, checked_at), 1);
        // Even measured from too late a reading, the answer is at least 1.
        assert_eq!(retry_after_secs(&refused, clock.now()), 1);
        // A fraction of a second rounds up.
        clock.advance(Duration::from_millis(1));
        limiter.check().unwrap();
        let checked_at = clock.now();
        clock.advance(Duration::from_millis(300));
        let refused = limiter.check().unwrap_err();
        assert_eq!(retry_after_secs(&refused, checked_at), 1);
    }

    #[test]
    fn zero_rate_means_off() {
        let settings = RateLimitSettings {
            per_second: 0,
            ..RateLimitSettings::default()
        };
        assert!(RateLimit::new(&settings).is_none());
    }
}

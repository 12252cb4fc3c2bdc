//! Abuse limits in front of /mcp and A2A: a global cap on requests in flight, and per client
//! (by address; loopback clients are exempt) a cap on requests in flight and a token-bucket rate. Over a limit the answer is 429 with
//! `Retry-After` and a JSON-RPC error body, so SDK clients can tell why.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

#[derive(Debug, Clone)]
pub struct LimitSettings {
    /// Requests in flight over all clients (0: no limit).
    pub max_in_flight: usize,
    /// Requests in flight per client (0: no limit).
    pub max_in_flight_per_client: u32,
    /// Sustained requests per second per client (0: no limit); bursts of twice that pass.
    pub rate_per_client: f64,
    /// Take the client's address from this header (set by a trusted Gateway), else the peer's.
    pub client_ip_header: Option<String>,
}

struct Client {
    in_flight: u32,
    tokens: f64,
    refilled: Instant,
}

pub struct Limiter {
    settings: LimitSettings,
    global: Arc<Semaphore>,
    clients: Mutex<HashMap<IpAddr, Client>>,
}

/// Why a request was turned away, and when to try again.
#[derive(Debug, PartialEq)]
pub struct Refusal {
    pub reason: &'static str,
    pub retry_after: Duration,
}

/// What a request holds while it runs; dropping it frees its slots.
pub struct Admission {
    _global: Option<OwnedSemaphorePermit>,
    limiter: Arc<Limiter>,
    client: IpAddr,
}

impl Drop for Admission {
    fn drop(&mut self) {
        if let Ok(mut clients) = self.limiter.clients.lock()
            && let Some(c) = clients.get_mut(&self.client)
        {
            c.in_flight = c.in_flight.saturating_sub(1);
        }
    }
}

/// Clients idle this long are forgotten (their bucket is full again by then anyway).
const FORGET_AFTER: Duration = Duration::from_secs(300);
/// Above this many tracked clients, idle ones are swept on the next request.
const SWEEP_ABOVE: usize = 10_000;

impl Limiter {
    pub fn new(settings: LimitSettings) -> Arc<Limiter> {
        let permits = if settings.max_in_flight == 0 { Semaphore::MAX_PERMITS } else { settings.max_in_flight };
        Arc::new(Limiter { settings, global: Arc::new(Semaphore::new(permits)), clients: Mutex::new(HashMap::new()) })
    }

    pub fn admit(self: &Arc<Self>, client: IpAddr, now: Instant) -> Result<Admission, Refusal> {
        let global = match self.settings.max_in_flight {
            0 => None,
            _ => Some(self.global.clone().try_acquire_owned().map_err(|_| Refusal {
                reason: "the server is answering as many requests as it allows at once",
                retry_after: Duration::from_secs(1),
            })?),
        };
        // Local clients (an IDE on this machine, a sidecar) are the machine's own; only the
        // global cap applies to them.
        if client.is_loopback() {
            return Ok(Admission { _global: global, limiter: self.clone(), client });
        }
        let mut clients = self
            .clients
            .lock()
            .map_err(|_| Refusal { reason: "internal error", retry_after: Duration::from_secs(1) })?;
        if clients.len() > SWEEP_ABOVE {
            clients.retain(|_, c| c.in_flight > 0 || now.duration_since(c.refilled) < FORGET_AFTER);
        }
        let rate = self.settings.rate_per_client;
        let burst = (rate * 2.0).max(1.0);
        let c = clients.entry(client).or_insert(Client { in_flight: 0, tokens: burst, refilled: now });
        if rate > 0.0 {
            c.tokens = (c.tokens + now.duration_since(c.refilled).as_secs_f64() * rate).min(burst);
            c.refilled = now;
            if c.tokens < 1.0 {
                let wait = ((1.0 - c.tokens) / rate).ceil().max(1.0);
                return Err(Refusal {
                    reason: "this client sends requests faster than the server allows",
                    retry_after: Duration::from_secs_f64(wait),
                });
            }
        }
        let cap = self.settings.max_in_flight_per_client;
        if cap > 0 && c.in_flight >= cap {
            return Err(Refusal {
                reason: "this client has as many requests in flight as the server allows",
                retry_after: Duration::from_secs(1),
            });
        }
        if rate > 0.0 {
            c.tokens -= 1.0;
        }
        c.in_flight += 1;
        Ok(Admission { _global: global, limiter: self.clone(), client })
    }

    fn client(&self, headers: &HeaderMap, peer: Option<SocketAddr>) -> IpAddr {
        let from_header = self.settings.client_ip_header.as_deref().and_then(|h| headers.get(h)).and_then(|v| {
            // X-Forwarded-For lists the original client first.
            v.to_str().ok()?.split(',').next()?.trim().parse::<IpAddr>().ok()
        });
        from_header.or(peer.map(|p| p.ip())).unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }
}

fn refused(r: &Refusal) -> Response {
    let seconds = r.retry_after.as_secs().max(1);
    let body = serde_json::json!({"jsonrpc": "2.0", "id": null,
        "error": {"code": -32000, "message": format!("Too many requests: {}; retry after {seconds} s", r.reason)}});
    let mut resp = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&seconds.to_string()) {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

pub async fn limit(State(limiter): State<Arc<Limiter>>, request: Request, next: Next) -> Response {
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
    let client = limiter.client(request.headers(), peer);
    match limiter.admit(client, Instant::now()) {
        Ok(admission) => {
            let response = next.run(request).await;
            // Streams (SSE) hold their slot until the headers are sent, not for their lifetime:
            // their length is bounded by the task or session, not by this limiter.
            drop(admission);
            response
        }
        Err(r) => {
            tracing::info!(%client, reason = r.reason, "refused: over a limit");
            refused(&r)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(max: usize, per_client: u32, rate: f64) -> Arc<Limiter> {
        Limiter::new(LimitSettings {
            max_in_flight: max,
            max_in_flight_per_client: per_client,
            rate_per_client: rate,
            client_ip_header: None,
        })
    }

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    #[test]
    fn a_client_over_its_rate_waits_and_others_do_not() {
        let l = limiter(0, 0, 2.0);
        let now = Instant::now();
        let held: Vec<_> = (0..4).map(|_| l.admit(A, now).expect("burst of twice the rate")).collect();
        let r = l.admit(A, now).err().expect("over the burst");
        assert_eq!(r.retry_after, Duration::from_secs(1));
        assert!(l.admit(B, now).is_ok(), "another client has its own bucket");
        assert!(l.admit(A, now + Duration::from_millis(600)).is_ok(), "refilled at 2/s");
        drop(held);
    }

    #[test]
    fn in_flight_caps_free_their_slot_when_the_request_ends() {
        let l = limiter(3, 2, 0.0);
        let now = Instant::now();
        let a1 = l.admit(A, now).expect("1");
        let _a2 = l.admit(A, now).expect("2");
        assert!(l.admit(A, now).is_err(), "per-client cap");
        let _b1 = l.admit(B, now).expect("global 3");
        assert!(l.admit(B, now).is_err(), "global cap");
        drop(a1);
        assert!(l.admit(A, now).is_ok(), "slot freed");
    }

    #[test]
    fn loopback_clients_meet_only_the_global_cap() {
        let l = limiter(2, 1, 1.0);
        let now = Instant::now();
        let local = IpAddr::from([127, 0, 0, 1]);
        let _a = l.admit(local, now).expect("1");
        let _b = l.admit(local, now).expect("2: no per-client cap, no rate");
        assert!(l.admit(local, now).is_err(), "the global cap still holds");
    }

    #[test]
    fn the_client_address_comes_from_the_trusted_header_when_configured() {
        let l = Limiter::new(LimitSettings {
            max_in_flight: 0,
            max_in_flight_per_client: 0,
            rate_per_client: 0.0,
            client_ip_header: Some("x-forwarded-for".into()),
        });
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_static("203.0.113.7, 10.0.0.9"));
        assert_eq!(
            l.client(&h, Some("10.0.0.9:5555".parse().expect("addr"))),
            "203.0.113.7".parse::<IpAddr>().expect("ip")
        );
        assert_eq!(
            l.client(&HeaderMap::new(), Some("10.0.0.9:5555".parse().expect("addr"))),
            "10.0.0.9".parse::<IpAddr>().expect("ip")
        );
    }
}

//! The probes against hostile servers: each ends within its own budget
//! (total, not per read), reads no more than its byte limits and classifies
//! what it met. Timings are only checked against a generous bound.

use std::time::{Duration, Instant};

use url::Url;
use why5xx_probes::dns::{self, DnsSpec};
use why5xx_probes::http::{self, HttpObservation, HttpSpec};
use why5xx_probes::tls::{self, TlsSpec};
use why5xx_probes::{FailureKind, Phase, ProbeContext};

use crate::support;

#[path = "hostile_servers.rs"]
pub mod servers;

/// Each probe's budget.
const BUDGET: Duration = Duration::from_secs(2);
/// Generous slack for a loaded machine: only "it did not hang" is asserted.
const SLACK: Duration = Duration::from_secs(5);

async fn get(url: &str, follow_redirects: u8) -> (HttpObservation, Duration) {
    support::init();
    let mut spec = HttpSpec::new(Url::parse(url).unwrap(), BUDGET);
    spec.follow_redirects = follow_redirects;
    let started = Instant::now();
    let obs = http::run(&spec, &ProbeContext::default()).await;
    let took = started.elapsed();
    assert!(took < BUDGET + SLACK, "took {took:?}: {obs:?}");
    (obs, took)
}

fn kind(obs: &HttpObservation) -> Option<FailureKind> {
    obs.failure.as_ref().map(|f| f.kind)
}

#[tokio::test]
async fn hostile_endless_body_is_read_to_the_limit_only() {
    let addr = servers::endless_body().await;
    let (obs, _) = get(&format!("http://{addr}/"), 0).await;
    assert_eq!(kind(&obs), None, "{:?}", obs.failure);
    assert_eq!(obs.status, Some(200));
    assert!(obs.body_truncated);
    assert_eq!(obs.body_bytes, http::DEFAULT_BODY_LIMIT);
    assert!(obs.body.len() <= http::DEFAULT_BODY_LIMIT);
}

#[tokio::test]
async fn hostile_dribbled_headers_time_out_in_total() {
    // One byte a second never trips a per-read timeout: only a total
    // deadline ends this.
    let addr = servers::dribbled_headers().await;
    let (obs, _) = get(&format!("http://{addr}/"), 0).await;
    let f = obs.failure.as_ref().unwrap();
    assert_eq!(f.kind, FailureKind::Timeout, "{f:?}");
    assert_eq!(f.phase, Phase::FirstByte, "{f:?}");
    assert_eq!(obs.status, None);
}

#[tokio::test]
async fn hostile_random_bytes_are_an_invalid_response() {
    let addr = servers::random_bytes().await;
    let (obs, _) = get(&format!("http://{addr}/"), 0).await;
    assert_eq!(
        kind(&obs),
        Some(FailureKind::InvalidResponse),
        "{:?}",
        obs.failure
    );
}

#[tokio::test]
async fn hostile_megabyte_of_headers_exceeds_the_limit() {
    let addr = servers::megabyte_of_headers().await;
    let (obs, _) = get(&format!("http://{addr}/"), 0).await;
    let f = obs.failure.as_ref().unwrap();
    assert_eq!(f.kind, FailureKind::LimitExceeded, "{f:?}");
    assert!(f.detail.contains("larger than"), "{f:?}");
    assert_eq!(obs.status, None);
}

#[tokio::test]
async fn hostile_redirect_loop_stops_at_the_limit() {
    let addr = servers::redirect_loop().await;
    let (obs, _) = get(&format!("http://{addr}/"), 5).await;
    assert_eq!(
        kind(&obs),
        Some(FailureKind::LimitExceeded),
        "{:?}",
        obs.failure
    );
    assert_eq!(obs.redirects.len(), 5, "{:?}", obs.redirects);
    assert_eq!(obs.status, Some(302));
}

#[tokio::test]
async fn hostile_redirect_loop_with_the_largest_setting_still_ends() {
    let addr = servers::redirect_loop().await;
    let (obs, _) = get(&format!("http://{addr}/"), u8::MAX).await;
    assert_eq!(
        kind(&obs),
        Some(FailureKind::LimitExceeded),
        "{:?}",
        obs.failure
    );
}

async fn handshake(addr: std::net::SocketAddr) -> tls::TlsObservation {
    support::init();
    let spec = TlsSpec {
        address: addr.to_string(),
        server_name: Some("localhost".to_string()),
        resolve: None,
        timeout: BUDGET,
    };
    let started = Instant::now();
    let obs = tls::run(&spec, &ProbeContext::default()).await;
    assert!(started.elapsed() < BUDGET + SLACK, "{obs:?}");
    obs
}

#[tokio::test]
async fn hostile_tls_garbage_after_client_hello_is_a_handshake_failure() {
    let addr = servers::tls_garbage().await;
    let obs = handshake(addr).await;
    let f = obs.failure.as_ref().unwrap();
    assert_eq!(f.kind, FailureKind::TlsHandshake, "{f:?}");
    assert_eq!(f.phase, Phase::Tls, "{f:?}");
    // The same through the http probe.
    let (obs, _) = get(&format!("https://{addr}/"), 0).await;
    assert_eq!(
        kind(&obs),
        Some(FailureKind::TlsHandshake),
        "{:?}",
        obs.failure
    );
}

#[tokio::test]
async fn hostile_reset_in_the_handshake_is_a_reset() {
    let addr = servers::tls_reset().await;
    let obs = handshake(addr).await;
    let f = obs.failure.as_ref().unwrap();
    assert_eq!(f.kind, FailureKind::Reset, "{f:?}");
    assert_eq!(f.phase, Phase::Tls, "{f:?}");
    let (obs, _) = get(&format!("https://{addr}/"), 0).await;
    assert_eq!(kind(&obs), Some(FailureKind::Reset), "{:?}", obs.failure);
}

async fn lookup(server: std::net::SocketAddr) -> dns::DnsObservation {
    let spec = DnsSpec {
        name: "api.hostile.example".to_string(),
        server: Some(server),
        expect: Vec::new(),
        timeout: BUDGET,
    };
    let started = Instant::now();
    let obs = dns::run(&spec, &ProbeContext::default()).await;
    assert!(started.elapsed() < BUDGET + SLACK, "{obs:?}");
    obs
}

#[tokio::test]
async fn hostile_dns_garbage_is_a_dns_error() {
    let server = servers::dns_garbage().await;
    let obs = lookup(server).await;
    let f = obs.failure.as_ref().unwrap();
    assert_eq!(f.kind, FailureKind::DnsError, "{f:?}");
    assert!(obs.addresses().next().is_none());
}

#[tokio::test]
async fn hostile_dns_truncation_with_a_silent_tcp_fallback_times_out() {
    let server = servers::dns_truncated().await;
    let obs = lookup(server).await;
    let f = obs.failure.as_ref().unwrap();
    assert_eq!(f.kind, FailureKind::Timeout, "{f:?}");
    assert!(obs.addresses().next().is_none());
}

#[test]
fn truncated_reply_sets_tc_and_echoes_the_question() {
    let mut q = vec![0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    q.extend_from_slice(b"\x03api\x07example\x00\x00\x01\x00\x01");
    let r = servers::truncated_reply(&q).unwrap();
    assert_eq!(&r[..2], &[0xab, 0xcd]);
    assert_eq!(r[2] & 0x82, 0x82, "QR and TC");
    assert_eq!(r.len(), q.len());
    assert!(servers::truncated_reply(&q[..5]).is_none());
}

#[tokio::test]
async fn hostile_redis_reply_is_bounded() {
    let addr = servers::redis_endless_reply().await;
    let spec = why5xx_probes::redis::RedisSpec::new(
        Url::parse(&format!("redis://{addr}")).unwrap(),
        BUDGET,
    );
    let started = Instant::now();
    let obs = why5xx_probes::redis::run(&spec, &ProbeContext::default()).await;
    assert!(started.elapsed() < BUDGET + SLACK, "{obs:?}");
    let f = obs.failure.as_ref().unwrap();
    assert_eq!(f.kind, FailureKind::LimitExceeded, "{f:?}");
}

#[tokio::test]
async fn hostile_postgres_message_is_bounded() {
    let addr = servers::postgres_endless_message().await;
    let spec = why5xx_probes::postgres::PostgresSpec::new(
        Url::parse(&format!("postgres://{addr}/db")).unwrap(),
        BUDGET,
    );
    let started = Instant::now();
    let obs = why5xx_probes::postgres::run(&spec, &ProbeContext::default()).await;
    assert!(started.elapsed() < BUDGET + SLACK, "{obs:?}");
    let f = obs.failure.as_ref().unwrap();
    assert_eq!(f.kind, FailureKind::LimitExceeded, "{f:?}");
}

//! Tests of the http probe.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use url::Url;
use why5xx_probes::http::{self, HttpObservation, HttpSpec};
use why5xx_probes::tls::CertProblem;
use why5xx_probes::{FailureKind, Phase, ProbeContext};

use crate::support::{self, TestCa};

const TIMEOUT: Duration = Duration::from_secs(5);
/// Slack for noisy machines when asserting that the probe respected its budget.
const SLACK: Duration = Duration::from_secs(3);

const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";

fn spec(url: &str) -> HttpSpec {
    HttpSpec::new(Url::parse(url).unwrap(), TIMEOUT)
}

async fn probe(spec: &HttpSpec) -> HttpObservation {
    http::run(spec, &ProbeContext::default()).await
}

fn kind(obs: &HttpObservation) -> Option<FailureKind> {
    obs.failure.as_ref().map(|f| f.kind)
}

/// A test CA written to a temporary directory, and a context trusting it.
fn trusted_ca() -> (TestCa, tempfile::TempDir, PathBuf) {
    let ca = TestCa::new();
    let dir = tempfile::tempdir().unwrap();
    let path = ca.write_pem(dir.path());
    (ca, dir, path)
}

/// A plain HTTP server answering by request path.
async fn routed_server(route: fn(&str) -> Vec<u8>) -> SocketAddr {
    support::tcp_server(move |mut tcp| async move {
        let head = support::read_request_head(&mut tcp).await;
        let head = String::from_utf8_lossy(&head).into_owned();
        let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
        let _ = tcp.write_all(&route(&path)).await;
        let _ = tcp.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn refused_port_is_refused() {
    support::init();
    let addr = support::refused_addr();
    let obs = probe(&spec(&format!("http://{addr}/"))).await;
    let f = obs.failure.as_ref().unwrap();
    assert_eq!(f.kind, FailureKind::Refused, "{f:?}");
    assert_eq!(f.phase, Phase::Connect);
    assert!(f.detail.contains(&addr.to_string()), "{f:?}");
    assert_eq!(obs.status, None);
}

#[tokio::test]
async fn silent_server_times_out_waiting_for_first_byte() {
    support::init();
    let addr = support::silent_server().await;
    let mut s = spec(&format!("http://{addr}/"));
    s.timeout = Duration::from_millis(500);
    let started = Instant::now();
    let obs = probe(&s).await;
    let f = obs.failure.as_ref().unwrap();
    assert_eq!(f.kind, FailureKind::Timeout, "{f:?}");
    assert_eq!(f.phase, Phase::FirstByte);
    assert!(started.elapsed() < s.timeout + SLACK);
    assert!(obs.phases.connect.is_some());
    assert_eq!(obs.phases.first_byte, None);
    assert!(obs.phases.total.as_duration() >= Duration::from_millis(400));
}

#[tokio::test]
async fn dribbling_body_is_bounded_by_the_timeout() {
    support::init();
    let addr = support::tcp_server(|mut tcp| async move {
        let _ = support::read_request_head(&mut tcp).await;
        let _ = tcp
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
            .await;
        for _ in 0..1000 {
            if tcp.write_all(b"x").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    let mut s = spec(&format!("http://{addr}/"));
    s.timeout = Duration::from_millis(800);
    let started = Instant::now();
    let obs = probe(&s).await;
    let f = obs.failure.as_ref().unwrap();
    assert_eq!(f.kind, FailureKind::Timeout, "{f:?}");
    assert_eq!(f.phase, Phase::Body);
    assert_eq!(obs.status, Some(200));
    assert!(
        obs.body_bytes > 0 && obs.body_bytes < 1000,
        "{}",
        obs.body_bytes
    );
    assert!(started.elapsed() < s.timeout + SLACK);
}

#[tokio::test]
async fn https_to_plain_http_port_is_plain_http_on_tls() {
    support::init();
    let addr = support::eager_http_server(
        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    )
    .await;
    let obs = probe(&spec(&format!("https://{addr}/"))).await;
    let f = obs.failure.as_ref().unwrap();
    assert_eq!(f.kind, FailureKind::PlainHttpOnTls, "{f:?}");
    assert_eq!(f.phase, Phase::Tls);
    assert_eq!(obs.tls, None);
}

#[tokio::test]
async fn http_to_tls_port_is_tls_on_plain_http() {
    support::init();
    let ca = TestCa::new();
    let addr = support::tls_server(ca.leaf(&["localhost"], 30), OK).await;
    let obs = probe(&spec(&format!("http://{addr}/"))).await;
    let f = obs.failure.as_ref().unwrap();
    assert_eq!(f.kind, FailureKind::TlsOnPlainHttp, "{f:?}");
    assert_eq!(obs.status, None);
}

#[tokio::test]
async fn nginx_plain_request_on_https_port_answer_is_tls_on_plain_http() {
    support::init();
    let addr = support::http_server(
        b"HTTP/1.1 400 Bad Request\r\nServer: nginx/1.22.1\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n\
<html>\r\n<head><title>400 The plain HTTP request was sent to HTTPS port</title></head>\r\n\
<body>\r\n<center><h1>400 Bad Request</h1></center>\r\n\
<center>The plain HTTP request was sent to HTTPS port</center>\r\n</body>\r\n</html>\r\n",
    )
    .await;
    let obs = probe(&spec(&format!("http://{addr}/"))).await;
    assert_eq!(kind(&obs), Some(FailureKind::TlsOnPlainHttp), "{obs:?}");
    assert_eq!(obs.status, Some(400));
    assert_eq!(obs.headers.server.as_deref(), Some("nginx/1.22.1"));
}

#[tokio::test]
async fn status_500_is_recorded_with_body_excerpt() {
    support::init();
    let addr = support::http_server(
        b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\nServer: gunicorn\r\nContent-Length: 27\r\nConnection: close\r\n\r\nTraceback: KeyError 'user'\n",
    )
    .await;
    let obs = probe(&spec(&format!("http://{addr}/health"))).await;
    assert_eq!(obs.failure, None);
    assert_eq!(obs.status, Some(500));
    assert!(obs.body_excerpt.contains("KeyError"), "{obs:?}");
    assert_eq!(obs.body_bytes, 27);
    assert!(!obs.body_truncated);
    assert_eq!(obs.headers.content_type.as_deref(), Some("text/plain"));
    assert_eq!(obs.headers.server.as_deref(), Some("gunicorn"));
    assert_eq!(obs.remote_addr, Some(addr));
    assert_eq!(obs.phases.dns, None, "no DNS for an IP literal");
    assert!(obs.phases.connect.is_some());
    assert!(obs.phases.first_byte.is_some());
    assert_eq!(obs.phases.tls, None);
}

#[tokio::test]
async fn maintenance_page_is_a_hint_from_the_body_read() {
    support::init();
    let page = support::http_server(
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/html\r\nContent-Length: 72\r\nConnection: close\r\n\r\n<html><body><h1>Down for Maintenance</h1><p>Back soon.</p></body></html>",
    )
    .await;
    let obs = probe(&spec(&format!("http://{page}/"))).await;
    assert_eq!((obs.status, obs.failure.as_ref()), (Some(503), None));
    assert!(obs.maintenance_page, "{obs:?}");
    let json = serde_json::to_string(&obs).unwrap();
    assert!(json.contains("\"maintenance_page\":true"), "{json}");

    // The words past the part read do not count.
    let mut long = spec(&format!("http://{page}/"));
    long.body_limit = 20;
    let obs = probe(&long).await;
    assert!(obs.body_truncated);
    assert!(!obs.maintenance_page, "{obs:?}");

    let error = support::http_server(
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 19\r\nConnection: close\r\n\r\nno healthy upstream",
    )
    .await;
    let obs = probe(&spec(&format!("http://{error}/"))).await;
    assert!(!obs.maintenance_page);
    let json = serde_json::to_string(&obs).unwrap();
    assert!(
        !json.contains("maintenance_page"),
        "false is not written: {json}"
    );
}

#[tokio::test]
async fn status_503_keeps_retry_after_and_via() {
    support::init();
    let addr = support::http_server(
        b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 120\r\nVia: 1.1 varnish\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    )
    .await;
    let obs = probe(&spec(&format!("http://{addr}/"))).await;
    assert_eq!(obs.failure, None);
    assert_eq!(obs.status, Some(503));
    assert_eq!(obs.headers.retry_after.as_deref(), Some("120"));
    assert_eq!(obs.headers.via.as_deref(), Some("1.1 varnish"));
}

#[tokio::test]
async fn https_with_trusted_ca_gets_the_response() {
    support::init();
    let (ca, _dir, ca_path) = trusted_ca();
    let addr = support::tls_server(ca.leaf(&["localhost", "127.0.0.1"], 30), OK).await;
    let ctx = ProbeContext::new(vec![ca_path]);
    let obs = http::run(&spec(&format!("https://{addr}/")), &ctx).await;
    assert_eq!(obs.failure, None, "{obs:?}");
    assert_eq!(obs.status, Some(200));
    assert_eq!(obs.body_excerpt, "ok");
    let tls = obs.tls.as_ref().unwrap();
    assert!(tls.verification.trusted, "{tls:?}");
    assert!(tls.hostname_match);
    assert_eq!(tls.server_name, "127.0.0.1");
    assert_eq!(tls.alpn.as_deref(), Some("http/1.1"));
    assert_eq!(obs.phases.dns, None);
    assert!(obs.phases.connect.is_some());
    assert!(obs.phases.tls.is_some());
    assert!(obs.phases.first_byte.is_some());
    assert!(obs.phases.total.0 > 0.0);
}

#[tokio::test]
async fn expired_certificate_is_rejected_before_the_request() {
    support::init();
    let (ca, _dir, ca_path) = trusted_ca();
    let leaf = ca.leaf(&["localhost", "127.0.0.1"], -3);
    let addr = support::tls_server(leaf, OK).await;
    let ctx = ProbeContext::new(vec![ca_path]);
    let obs = http::run(&spec(&format!("https://{addr}/")), &ctx).await;
    let f = obs.failure.as_ref().unwrap();
    assert_eq!(f.kind, FailureKind::CertificateRejected, "{f:?}");
    assert_eq!(f.phase, Phase::Tls);
    assert_eq!(obs.status, None, "no request to an untrusted peer");
    let tls = obs.tls.as_ref().unwrap();
    assert!(!tls.verification.trusted);
    assert_eq!(tls.verification.problem, Some(CertProblem::Expired));
    assert!(!tls.chain.is_empty());
    assert!(tls.leaf().unwrap().days_left.0 < 0);
}

#[tokio::test]
async fn self_signed_certificate_is_rejected_and_no_secret_is_sent() {
    support::init();
    // A TLS server that records whether any request reached it.
    let saw_request = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let leaf = support::self_signed_leaf(&["localhost"]);
    let cfg = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(leaf.chain, leaf.key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(cfg));
    let saw = saw_request.clone();
    let addr = support::tcp_server(move |tcp| {
        let acceptor = acceptor.clone();
        let saw = saw.clone();
        async move {
            if let Ok(mut tls) = acceptor.accept(tcp).await {
                let head = support::read_request_head(&mut tls).await;
                if !head.is_empty() {
                    saw.store(true, std::sync::atomic::Ordering::SeqCst);
                }
            }
        }
    })
    .await;
    let mut s = spec(&format!("https://localhost:{}/", addr.port()));
    s.resolve = Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
    s.headers = vec![("Authorization".into(), "Bearer s3cr3t".into())];
    let obs = probe(&s).await;
    assert_eq!(
        kind(&obs),
        Some(FailureKind::CertificateRejected),
        "{obs:?}"
    );
    let tls = obs.tls.as_ref().unwrap();
    assert_eq!(tls.verification.problem, Some(CertProblem::UnknownIssuer));
    assert!(tls.leaf().unwrap().self_signed);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!saw_request.load(std::sync::atomic::Ordering::SeqCst));
}

#[tokio::test]
async fn resolve_connects_there_keeping_host_and_sni() {
    support::init();
    let (ca, _dir, ca_path) = trusted_ca();
    let leaf = ca.leaf(&["example.test"], 30);
    // Echo the Host header back as the body.
    let cfg = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(leaf.chain, leaf.key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(cfg));
    let addr = support::tcp_server(move |tcp| {
        let acceptor = acceptor.clone();
        async move {
            if let Ok(mut tls) = acceptor.accept(tcp).await {
                let sni = tls.get_ref().1.server_name().unwrap_or("").to_string();
                let head = String::from_utf8_lossy(&support::read_request_head(&mut tls).await)
                    .into_owned();
                let host = head
                    .lines()
                    .find_map(|l| {
                        l.strip_prefix("host: ")
                            .or_else(|| l.strip_prefix("Host: "))
                    })
                    .unwrap_or("")
                    .to_string();
                let body = format!("host={host};sni={sni}");
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(resp.as_bytes()).await;
                let _ = tls.shutdown().await;
            }
        }
    })
    .await;
    let mut s = spec(&format!("https://example.test:{}/", addr.port()));
    s.resolve = Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let obs = http::run(&s, &ProbeContext::new(vec![ca_path])).await;
    assert_eq!(obs.failure, None, "{obs:?}");
    assert_eq!(obs.status, Some(200));
    assert_eq!(
        obs.body_excerpt,
        format!("host=example.test:{};sni=example.test", addr.port())
    );
    assert_eq!(obs.phases.dns, None);
    assert_eq!(obs.remote_addr, Some(addr));
    let tls = obs.tls.as_ref().unwrap();
    assert!(tls.verification.trusted, "{tls:?}");
    assert_eq!(tls.server_name, "example.test");
}

#[tokio::test]
async fn custom_headers_reach_the_server_but_not_the_observation() {
    support::init();
    let addr = support::tcp_server(|mut tcp| async move {
        let head = support::read_request_head(&mut tcp).await;
        let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
        let saw = head.contains("\r\nx-api-key: s3cr3t-value\r\n");
        let ua = head.contains("\r\nuser-agent: why5xx/");
        let accept = head.contains("\r\naccept: */*\r\n");
        let close = head.contains("\r\nconnection: close\r\n");
        let body = format!("saw={saw};ua={ua};accept={accept};close={close}");
        let resp = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = tcp.write_all(resp.as_bytes()).await;
        let _ = tcp.shutdown().await;
    })
    .await;
    let mut s = spec(&format!("http://{addr}/"));
    s.headers = vec![("X-Api-Key".into(), "s3cr3t-value".into())];
    let obs = probe(&s).await;
    assert_eq!(obs.failure, None, "{obs:?}");
    assert_eq!(obs.body_excerpt, "saw=true;ua=true;accept=true;close=true");
    let json = serde_json::to_string(&obs).unwrap();
    assert!(!json.contains("s3cr3t-value"), "{json}");
    assert!(!format!("{obs:?}").contains("s3cr3t-value"));
}

#[tokio::test]
async fn invalid_header_value_fails_without_showing_it() {
    support::init();
    let addr = support::http_server(OK).await;
    let mut s = spec(&format!("http://{addr}/"));
    s.headers = vec![("X-Token".into(), "bad\nvalue-s3cr3t".into())];
    let obs = probe(&s).await;
    let f = obs.failure.as_ref().unwrap();
    assert_eq!(f.phase, Phase::Request, "{f:?}");
    assert!(!f.detail.contains("s3cr3t"), "{f:?}");
}

#[tokio::test]
async fn body_beyond_the_limit_is_truncated() {
    support::init();
    let addr = support::tcp_server(|mut tcp| async move {
        let _ = support::read_request_head(&mut tcp).await;
        let _ = tcp
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n")
            .await;
        let _ = tcp.write_all(&vec![b'a'; 100_000]).await;
        let _ = tcp.shutdown().await;
    })
    .await;
    let mut s = spec(&format!("http://{addr}/"));
    s.body_limit = 5000;
    let obs = probe(&s).await;
    assert_eq!(obs.failure, None, "{:?}", obs.failure);
    assert_eq!(obs.body_bytes, 5000);
    assert_eq!(obs.body.len(), 5000);
    assert!(obs.body_truncated);
    assert_eq!(obs.body_excerpt.len(), http::BODY_EXCERPT);
}

#[tokio::test]
async fn body_exactly_at_the_limit_is_not_truncated() {
    support::init();
    let addr = support::http_server(
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\n0123456789",
    )
    .await;
    let mut s = spec(&format!("http://{addr}/"));
    s.body_limit = 10;
    let obs = probe(&s).await;
    assert_eq!(obs.failure, None);
    assert_eq!(obs.body_bytes, 10);
    assert!(!obs.body_truncated);
}

fn redirecting(path: &str) -> Vec<u8> {
    match path {
        "/start" => b"HTTP/1.1 302 Found\r\nLocation: /final?token=abc\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
        "/loop" => b"HTTP/1.1 302 Found\r\nLocation: /loop\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
        p if p.starts_with("/final") => b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\ndone".to_vec(),
        _ => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
    }
}

#[tokio::test]
async fn redirects_are_not_followed_by_default() {
    support::init();
    let addr = routed_server(redirecting).await;
    let obs = probe(&spec(&format!("http://{addr}/start"))).await;
    assert_eq!(obs.failure, None);
    assert_eq!(obs.status, Some(302));
    assert_eq!(
        obs.headers.location.as_deref(),
        Some("/final?token=REDACTED")
    );
    assert!(obs.redirects.is_empty());
}

#[tokio::test]
async fn redirects_are_followed_when_asked() {
    support::init();
    let addr = routed_server(redirecting).await;
    let mut s = spec(&format!("http://{addr}/start"));
    s.follow_redirects = 3;
    let obs = probe(&s).await;
    assert_eq!(obs.failure, None, "{obs:?}");
    assert_eq!(obs.status, Some(200));
    assert_eq!(obs.body_excerpt, "done");
    assert_eq!(obs.redirects.len(), 1);
    assert!(
        obs.redirects[0].ends_with("/final?token=REDACTED"),
        "{:?}",
        obs.redirects
    );
}

#[tokio::test]
async fn redirect_loop_exceeds_the_limit() {
    support::init();
    let addr = routed_server(redirecting).await;
    let mut s = spec(&format!("http://{addr}/loop"));
    s.follow_redirects = 3;
    let obs = probe(&s).await;
    assert_eq!(kind(&obs), Some(FailureKind::LimitExceeded), "{obs:?}");
    assert_eq!(obs.status, Some(302));
    assert_eq!(obs.redirects.len(), 3);
}

#[tokio::test]
async fn server_closing_after_accept_is_closed_before_response() {
    support::init();
    let addr = support::tcp_server(|tcp| async move { drop(tcp) }).await;
    let obs = probe(&spec(&format!("http://{addr}/"))).await;
    assert_eq!(
        kind(&obs),
        Some(FailureKind::ClosedBeforeResponse),
        "{obs:?}"
    );
    assert_eq!(obs.status, None);
}

#[tokio::test]
async fn server_closing_after_reading_the_request_is_closed_before_response() {
    support::init();
    let addr = support::tcp_server(|mut tcp| async move {
        let _ = support::read_request_head(&mut tcp).await;
        let _ = tcp.shutdown().await;
    })
    .await;
    let obs = probe(&spec(&format!("http://{addr}/"))).await;
    let f = obs.failure.as_ref().unwrap();
    assert_eq!(f.kind, FailureKind::ClosedBeforeResponse, "{f:?}");
    assert_eq!(f.phase, Phase::FirstByte);
}

#[tokio::test]
async fn garbage_is_an_invalid_response() {
    support::init();
    let addr = support::tcp_server(|mut tcp| async move {
        let _ = support::read_request_head(&mut tcp).await;
        let _ = tcp
            .write_all(b"\x00\x9f\x13 SSH-2.0-OpenSSH garbage \xff\xfe\r\n\r\n")
            .await;
        let _ = tcp.shutdown().await;
        let mut sink = [0u8; 1024];
        while matches!(tcp.read(&mut sink).await, Ok(n) if n > 0) {}
    })
    .await;
    let obs = probe(&spec(&format!("http://{addr}/"))).await;
    assert_eq!(kind(&obs), Some(FailureKind::InvalidResponse), "{obs:?}");
}

#[tokio::test]
async fn oversized_response_head_exceeds_the_limit() {
    support::init();
    let addr = support::tcp_server(|mut tcp| async move {
        let _ = support::read_request_head(&mut tcp).await;
        let mut head = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..2000 {
            head.extend_from_slice(format!("X-Filler-{i}: {}\r\n", "y".repeat(60)).as_bytes());
        }
        head.extend_from_slice(b"\r\n");
        let _ = tcp.write_all(&head).await;
        let _ = tcp.shutdown().await;
    })
    .await;
    let obs = probe(&spec(&format!("http://{addr}/"))).await;
    assert_eq!(kind(&obs), Some(FailureKind::LimitExceeded), "{obs:?}");
}

#[tokio::test]
async fn unresolvable_name_is_a_dns_failure() {
    support::init();
    let obs = probe(&spec("http://no-such-host.invalid/")).await;
    let f = obs.failure.as_ref().unwrap();
    assert!(
        matches!(f.kind, FailureKind::NxDomain | FailureKind::DnsError),
        "{f:?}"
    );
    assert_eq!(f.phase, Phase::Dns);
    assert!(obs.phases.dns.is_some());
}

#[tokio::test]
async fn localhost_is_resolved_and_ipv6_literals_work() {
    support::init();
    let addr = support::http_server(OK).await;
    let obs = probe(&spec(&format!("http://localhost:{}/", addr.port()))).await;
    // localhost may resolve to ::1 first where nothing listens; either way DNS ran.
    assert!(obs.phases.dns.is_some(), "{obs:?}");
    if obs.failure.is_none() {
        assert_eq!(obs.status, Some(200));
    }
    if let Ok(l6) = tokio::net::TcpListener::bind("[::1]:0").await {
        let port = l6.local_addr().unwrap().port();
        tokio::spawn(async move {
            if let Ok((mut tcp, _)) = l6.accept().await {
                let _ = support::read_request_head(&mut tcp).await;
                let _ = tcp.write_all(OK).await;
                let _ = tcp.shutdown().await;
            }
        });
        let obs = probe(&spec(&format!("http://[::1]:{port}/"))).await;
        assert_eq!(obs.failure, None, "{obs:?}");
        assert_eq!(obs.status, Some(200));
        assert_eq!(obs.phases.dns, None);
    }
}

#[test]
fn support_nginx_proxies_to_a_refused_upstream_with_502() {
    let dead = support::refused_addr();
    let nginx = support::Nginx::start(&format!(
        "server {{ listen 127.0.0.1:{{port}}; location / {{ proxy_pass http://{dead}; }} }}"
    ));
    assert_eq!(support::get_status(&nginx.url("/")), 502);
    assert!(
        nginx.error_log_text().contains("Connection refused"),
        "{}",
        nginx.error_log_text()
    );
}

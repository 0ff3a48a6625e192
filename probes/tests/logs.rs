//! Tests of the log probes: nginx error log lines produced by a real nginx
//! facing a refused, a closing, a hanging, an unresolvable, a plain-HTTP and
//! a rate-limited upstream; checked-in fixtures of nginx and application
//! logs in each language's real format; and the bounded tail reader on
//! missing, empty, huge, rotated and odd files.

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::UdpSocket;
use why5xx_probes::logs::app::{self, DependencyKind, Language, SignatureKind};
use why5xx_probes::logs::proxy_error::{self, NginxLevel, ProxyErrorKind, UpstreamPhase};
use why5xx_probes::logs::tail::{self, Tail};
use why5xx_probes::logs::{
    AppLogObservation, AppLogSpec, OffsetSource, ProxyErrorLogObservation, ProxyErrorLogSpec,
    run_app_log, run_proxy_error_log,
};
use why5xx_probes::proxy::Address;
use why5xx_probes::units::UnixTime;
use why5xx_probes::{FailureKind, ProbeContext};

use crate::support;

/// 2026-11-26T09:30:12Z, a moment after the fixtures' newest lines.
const NOW: UnixTime = UnixTime(1_795_685_412);
const WINDOW: Duration = Duration::from_secs(15 * 60);

fn fixture(name: &str) -> Tail {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/logs")
        .join(name);
    Tail::from_bytes(&std::fs::read(path).unwrap(), None)
}

fn app_fixture(name: &str) -> AppLogObservation {
    app::analyze(&fixture(name), Some(WINDOW), NOW)
}

async fn get(url: String) -> u16 {
    tokio::task::spawn_blocking(move || support::get_status(&url))
        .await
        .unwrap()
}

async fn proxy_probe(path: &Path) -> ProxyErrorLogObservation {
    let spec = ProxyErrorLogSpec {
        path: path.to_path_buf(),
        ..ProxyErrorLogSpec::default()
    };
    run_proxy_error_log(&spec, &ProbeContext::default()).await
}

fn assert_no_secret(json: &str, secrets: &[&str]) {
    for s in secrets {
        assert!(!json.contains(s), "{s} leaked: {json}");
    }
}

// ------------------------------------------------ nginx error log fixture --

#[test]
fn nginx_fixture_classifies_every_kind_in_the_window() {
    use ProxyErrorKind as K;
    let obs = proxy_error::analyze(&fixture("nginx_error.log"), WINDOW, NOW);
    assert_eq!(obs.lines_scanned, 27);
    // The 09:10:00 line is older than the window.
    assert_eq!(obs.lines_in_window, 26);
    assert_eq!(obs.first_time, Some(UnixTime(NOW.0 - 20 * 60 - 12)));
    assert_eq!(obs.last_time, Some(UnixTime(NOW.0 - 12)));
    assert!(!obs.truncated);
    assert_eq!(obs.clock.source, OffsetSource::AssumedUtc);
    let expected = [
        (K::ConnectRefused, 2),
        (K::UpstreamTimedOut, 3),
        (K::PrematurelyClosed, 1),
        (K::NoLiveUpstreams, 1),
        (K::CouldNotResolve, 2),
        (K::ResolverFailed, 1),
        (K::SslHandshakeFailed, 1),
        (K::SslPeerClosedHandshake, 1),
        (K::InvalidHeader, 2),
        (K::TooBigHeader, 1),
        (K::LimitingRequests, 1),
        (K::LimitingConnections, 1),
        (K::TooManyOpenFiles, 1),
        (K::NoSpace, 1),
        (K::WorkerConnections, 1),
        (K::UnixSocketMissing, 1),
        (K::ConnectPermissionDenied, 1),
        (K::ConnectOther, 1),
    ];
    for (kind, count) in expected {
        assert_eq!(obs.count(kind), count, "{kind:?}: {obs:#?}");
    }
    assert_eq!(obs.kinds.len(), expected.len());
    assert_eq!(
        obs.kinds[0].kind,
        K::UpstreamTimedOut,
        "most frequent first"
    );
    assert_eq!(obs.unclassified_errors, 1);
    assert!(
        obs.last_unclassified
            .as_deref()
            .unwrap()
            .contains("favicon.ico")
    );

    let refused = obs.kind(K::ConnectRefused).unwrap();
    assert_eq!(refused.by_upstream["http://127.0.0.1:3000"], 1);
    assert_eq!(refused.by_upstream["http://127.0.0.1:3001"], 1);
    assert_eq!(refused.by_phase[&UpstreamPhase::Connecting], 2);
    let last = &refused.last;
    assert_eq!(last.time, Some(UnixTime(NOW.0 - 10 * 60 - 6)));
    assert_eq!(last.level, Some(NginxLevel::Error));
    assert_eq!(last.upstream.as_deref(), Some("http://127.0.0.1:3001"));
    assert_eq!(last.server.as_deref(), Some("_"));
    let req = last.request.as_ref().unwrap();
    assert_eq!(
        (req.method.as_str(), req.path.as_str()),
        ("POST", "/api/orders")
    );
    assert_eq!(last.host.as_deref(), Some("127.0.0.1:8080"));
    assert_eq!(last.errno, Some(111));
    assert!(!last.line.contains("s3cret"), "{}", last.line);

    let timeouts = obs.kind(K::UpstreamTimedOut).unwrap();
    for phase in [
        UpstreamPhase::Connecting,
        UpstreamPhase::ReadingResponseHeader,
        UpstreamPhase::SendingRequest,
    ] {
        assert_eq!(timeouts.by_phase[&phase], 1, "{phase:?}");
    }
    let resolve = obs.kind(K::CouldNotResolve).unwrap();
    assert_eq!(resolve.by_upstream["backend.internal"], 1);
    assert_eq!(resolve.by_upstream["app.internal:3000"], 1);
    assert_eq!(resolve.last.level, Some(NginxLevel::Emerg));
    let ssl = obs.kind(K::SslHandshakeFailed).unwrap();
    assert_eq!(ssl.wrong_version_number, 1);
    assert!(ssl.last.wrong_version_number);
    assert_eq!(ssl.last.phase, Some(UpstreamPhase::SslHandshaking));
    assert_eq!(
        obs.kind(K::UnixSocketMissing)
            .unwrap()
            .last
            .upstream
            .as_deref(),
        Some("http://unix:/run/gunicorn.sock")
    );
    assert_eq!(
        obs.kind(K::ConnectPermissionDenied)
            .unwrap()
            .last
            .upstream
            .as_deref(),
        Some("fastcgi://unix:/run/php/php8.2-fpm.sock")
    );
    assert_eq!(obs.kind(K::ConnectOther).unwrap().last.errno, Some(113));
    assert_eq!(
        obs.kind(K::ResolverFailed)
            .unwrap()
            .last
            .upstream
            .as_deref(),
        Some("127.0.0.53:53")
    );
    let limit = &obs.kind(K::LimitingRequests).unwrap().last;
    assert_eq!(limit.request.as_ref().unwrap().path, "/search");
    assert_eq!(limit.upstream, None);
    assert_eq!(obs.by_level[&NginxLevel::Error], 18);
}

#[test]
fn nginx_observation_round_trips_through_json() {
    let obs = proxy_error::analyze(&fixture("nginx_error.log"), WINDOW, NOW);
    let json = serde_json::to_string(&obs).unwrap();
    assert_no_secret(&json, &["s3cret", "token=abc"]);
    let back: ProxyErrorLogObservation = serde_json::from_str(&json).unwrap();
    assert_eq!(back, obs);
    assert!(json.contains("\"connect_refused\""), "{json}");
    // A fixture with only some fields still loads.
    let minimal: ProxyErrorLogObservation = serde_json::from_str(
        r#"{"path":"/var/log/nginx/error.log","window_secs":900,"read":{"file_size":0,"bytes_read":0,"lines":0,"started_mid_file":false},
            "clock":{"utc_offset_secs":0,"source":"assumed_utc"},"lines_scanned":0,"lines_in_window":0,"truncated":false,
            "kinds":[{"kind":"connect_refused","count":3,"last":{"line":"x"}}]}"#,
    )
    .unwrap();
    assert_eq!(minimal.count(ProxyErrorKind::ConnectRefused), 3);
    let spec: ProxyErrorLogSpec = serde_json::from_str(r#"{"path":"/x.log"}"#).unwrap();
    assert_eq!(spec.window, WINDOW);
    assert_eq!(spec.max_bytes, tail::DEFAULT_MAX_BYTES);
    let spec_json = serde_json::to_string(&spec).unwrap();
    assert_eq!(
        spec_json,
        r#"{"path":"/x.log","window_secs":900,"max_bytes":1048576}"#
    );
}

fn addr(text: &str) -> Address {
    Address::parse(text).unwrap()
}

#[test]
fn apache_lines_are_classified_and_attributed() {
    use ProxyErrorKind as K;
    // Lines written by Apache 2.4.71 (see apache_error.README.md).
    let now = UnixTime(1_796_157_405); // 2026-12-01T20:36:45Z
    let obs = proxy_error::analyze(&fixture("apache_error.log"), WINDOW, now);
    assert_eq!(obs.lines_scanned, 30);
    assert_eq!(obs.lines_in_window, 30);
    let expected = [
        (K::ConnectRefused, 4),
        (K::UnixSocketMissing, 2),
        (K::CouldNotResolve, 1),
        (K::PrematurelyClosed, 2),
        (K::SslHandshakeFailed, 1),
        (K::UpstreamTimedOut, 1),
        (K::WorkerDisabled, 2),
        (K::NoLiveUpstreams, 2),
        (K::AllWorkersBusy, 1),
    ];
    for (kind, count) in expected {
        assert_eq!(obs.count(kind), count, "{kind:?}: {obs:#?}");
    }
    let total: u64 = obs.kinds.iter().map(|k| k.count).sum();
    assert_eq!(
        total, 16,
        "follow-up lines (AH01114, AH00898 reading) are not counted again"
    );
    assert_eq!(obs.unclassified_errors, 1, "only AH03490");
    let refused = |t: &str| obs.count_for(K::ConnectRefused, Some(&addr(t)));
    assert_eq!(refused("127.0.0.1:19009"), 2);
    assert_eq!(refused("http://127.0.0.1:19001/"), 1);
    assert_eq!(refused("127.0.0.1:1900"), 0);
    assert_eq!(refused("localhost:19002"), 1);
    assert_eq!(
        obs.count_for(
            K::UnixSocketMissing,
            Some(&addr("unix:/tmp/apx/missing.sock"))
        ),
        1
    );
    assert_eq!(
        obs.count_for(
            K::CouldNotResolve,
            Some(&addr("nonexistent-backend.invalid:8080"))
        ),
        1
    );
    assert_eq!(
        obs.count_for(K::SslHandshakeFailed, Some(&addr("127.0.0.1:19080"))),
        1,
        "the handshake line names no backend: the request's previous line does"
    );
    assert_eq!(
        obs.count_for(K::UpstreamTimedOut, Some(&addr("127.0.0.1:19050"))),
        1
    );
    let timed_out = obs.kind(K::UpstreamTimedOut).unwrap();
    assert_eq!(timed_out.last.errno, Some(70_007));
    assert!(timed_out.last.line.contains("AH01102"), "{timed_out:?}");
    assert_eq!(
        obs.count_for(K::WorkerDisabled, Some(&addr("127.0.0.1:19002"))),
        1
    );
    assert!(
        obs.kind(K::NoLiveUpstreams)
            .unwrap()
            .by_upstream
            .contains_key("balancer://nofo")
    );
    assert_eq!(obs.by_level[&NginxLevel::Notice], 2);
    assert_eq!(obs.last_time, Some(UnixTime(1_796_157_400)));
}

#[test]
fn apache_line_parts() {
    let l = proxy_error::parse_apache_line("[Tue Dec 01 20:35:49.526801 2026] [proxy:error] [pid 2189:tid 2249] (EAI 2)Name or service not known: [client 127.0.0.1:41084] AH00898: DNS lookup failure for: x.invalid returned by /dns").unwrap();
    assert_eq!(
        (l.module, l.level, l.thread),
        ("proxy", Some(NginxLevel::Error), "pid 2189:tid 2249")
    );
    assert_eq!(
        (l.errno, l.client, l.code),
        (None, Some("127.0.0.1:41084"), Some("AH00898"))
    );
    assert_eq!(
        l.message,
        "DNS lookup failure for: x.invalid returned by /dns"
    );
    let bare = proxy_error::parse_apache_line(
        "[Wed Oct 11 14:32:52 2000] [error] [client 1.2.3.4] no code here",
    )
    .unwrap();
    assert_eq!((bare.module, bare.level), ("", Some(NginxLevel::Error)));
    assert_eq!((bare.code, bare.message), (None, "no code here"));
    assert!(proxy_error::parse_apache_line("[Wed Oct 11 14:32 2000] x").is_none());
    assert!(proxy_error::parse_apache_line("2026/11/26 09:30:12 [error] 1#1: x").is_none());
}

#[test]
fn errors_are_attributed_to_typed_addresses() {
    use ProxyErrorKind as K;
    // Lines written by nginx 1.22 (the last two with their addresses changed).
    let obs = proxy_error::analyze(&fixture("nginx_error_ports.log"), WINDOW, NOW);
    let refused = |target: &str| obs.count_for(K::ConnectRefused, Some(&addr(target)));
    assert_eq!(obs.count_for(K::ConnectRefused, None), 7);
    assert_eq!(refused("127.0.0.1:3000"), 2, "not the lines of :30001");
    assert_eq!(refused("http://127.0.0.1:30001/"), 1);
    assert_eq!(refused("127.0.0.1:300"), 0);
    assert_eq!(refused("[::1]:3000"), 1, "IPv6 is its own family");
    assert_eq!(refused("localhost:3000"), 3, "localhost is either loopback");
    assert_eq!(refused("10.0.0.1:80"), 1, "not the line of 110.0.0.1");
    assert_eq!(refused("110.0.0.1:80"), 1);
    assert_eq!(refused("fastcgi://127.0.0.1:9000"), 1);
    assert_eq!(
        refused("127.0.0.1:9000"),
        1,
        "the scheme is not the endpoint"
    );
    // A missing unix socket is attributed to its path.
    let missing = obs.kind(K::UnixSocketMissing).unwrap();
    assert!(
        missing
            .by_upstream
            .keys()
            .all(|k| matches!(Address::parse(k), Some(Address::Unix { .. }))),
        "{missing:?}"
    );
    let sock = |p: &str| obs.count_for(K::UnixSocketMissing, Some(&addr(p)));
    assert_eq!(sock("unix:/run/gunicorn.sock"), 1);
    assert_eq!(sock("http://unix:/run/uwsgi.sock:/"), 1);
    assert_eq!(sock("unix:/run/gunicorn"), 0);
    assert_eq!(
        obs.count_for(K::UnixSocketMissing, Some(&addr("127.0.0.1:3000"))),
        0
    );
    assert_eq!(obs.count_for(K::UpstreamTimedOut, None), 0);

    // The fixture of every kind: resolution failures by host name, the
    // resolver's own address, unix sockets with permission denied.
    let obs = proxy_error::analyze(&fixture("nginx_error.log"), WINDOW, NOW);
    assert_eq!(
        obs.count_for(K::CouldNotResolve, Some(&addr("http://backend.internal/"))),
        1
    );
    assert_eq!(
        obs.count_for(K::CouldNotResolve, Some(&addr("app.internal:3000"))),
        1
    );
    assert_eq!(
        obs.count_for(K::CouldNotResolve, Some(&addr("app.internal:3001"))),
        0
    );
    assert_eq!(
        obs.count_for(
            K::ConnectPermissionDenied,
            Some(&addr("unix:/run/php/php8.2-fpm.sock"))
        ),
        1
    );
    assert_eq!(
        obs.count_for(K::UpstreamTimedOut, Some(&addr("127.0.0.1:3000"))),
        2
    );
    assert_eq!(
        obs.count_for(K::UpstreamTimedOut, Some(&addr("10.0.0.7:8080"))),
        1
    );
}

// ----------------------------------------------------- real nginx lines --

/// A port refused on 127.0.0.1 and on `::1` whose number with its last digit
/// dropped is refused too (45063 and 4506): two upstreams whose addresses
/// are prefixes of each other as text.
fn refused_port_pair() -> (u16, u16) {
    let refused = |ip: &str, port: u16| std::net::TcpStream::connect((ip, port)).is_err();
    for _ in 0..50 {
        let long = support::refused_addr().port();
        let short = long / 10;
        if short > 1024
            && refused("127.0.0.1", short)
            && refused("127.0.0.1", long)
            && refused("::1", long)
        {
            return (long, short);
        }
    }
    panic!("no pair of refused ports");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_nginx_refusals_by_endpoint() {
    let (long, short) = refused_port_pair();
    let nginx = support::Nginx::start(&format!(
        "server {{ listen 127.0.0.1:{{port}};\n\
         location /long {{ proxy_pass http://127.0.0.1:{long}; }}\n\
         location /short {{ proxy_pass http://127.0.0.1:{short}; }}\n\
         location /v6 {{ proxy_pass http://[::1]:{long}; }} }}"
    ));
    for path in ["/long", "/long", "/short", "/v6"] {
        assert_eq!(get(nginx.url(path)).await, 502, "{path}");
    }
    let obs = proxy_probe(&nginx.error_log()).await;
    let refused =
        |target: String| obs.count_for(ProxyErrorKind::ConnectRefused, Some(&addr(&target)));
    assert_eq!(refused(format!("127.0.0.1:{long}")), 2, "{obs:#?}");
    assert_eq!(refused(format!("127.0.0.1:{short}")), 1, "{obs:#?}");
    assert_eq!(refused(format!("[::1]:{long}")), 1, "{obs:#?}");
    assert_eq!(refused(format!("localhost:{long}")), 3);
    assert_eq!(obs.count_for(ProxyErrorKind::ConnectRefused, None), 4);
}

fn proxy_to(upstream: &str, extra: &str) -> String {
    format!(
        "server {{ listen 127.0.0.1:{{port}}; location / {{ {extra} proxy_pass {upstream}; }} }}"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_nginx_refused_upstream() {
    let dead = support::refused_addr();
    let nginx = support::Nginx::start(&proxy_to(&format!("http://{dead}"), ""));
    assert_eq!(get(nginx.url("/a?token=abc")).await, 502);
    assert_eq!(get(nginx.url("/b")).await, 502);
    let obs = proxy_probe(&nginx.error_log()).await;
    assert_eq!(obs.failure, None);
    let k = obs
        .kind(ProxyErrorKind::ConnectRefused)
        .unwrap_or_else(|| panic!("{obs:#?}"));
    assert!(k.count >= 2, "{obs:#?}");
    assert!(k.by_upstream[&format!("http://{dead}")] >= 2);
    assert_eq!(k.last.request.as_ref().unwrap().path, "/b");
    assert!(obs.lines_in_window >= k.count);
    assert_eq!(obs.clock.source, OffsetSource::FileMtime, "{obs:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_nginx_upstream_closes_without_answering() {
    let closer = support::tcp_server(|mut tcp| async move {
        let _ = support::read_request_head(&mut tcp).await;
        drop(tcp);
    })
    .await;
    let nginx = support::Nginx::start(&proxy_to(&format!("http://{closer}"), ""));
    assert_eq!(get(nginx.url("/")).await, 502);
    let obs = proxy_probe(&nginx.error_log()).await;
    let k = obs
        .kind(ProxyErrorKind::PrematurelyClosed)
        .unwrap_or_else(|| panic!("{obs:#?}"));
    assert!(k.count >= 1);
    assert_eq!(k.last.upstream, Some(format!("http://{closer}")));
    assert_eq!(k.last.phase, Some(UpstreamPhase::ReadingResponseHeader));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_nginx_upstream_hangs_past_read_timeout() {
    let silent = support::silent_server().await;
    let nginx = support::Nginx::start(&proxy_to(
        &format!("http://{silent}"),
        "proxy_read_timeout 1s;",
    ));
    assert_eq!(get(nginx.url("/slow")).await, 504);
    let obs = proxy_probe(&nginx.error_log()).await;
    let k = obs
        .kind(ProxyErrorKind::UpstreamTimedOut)
        .unwrap_or_else(|| panic!("{obs:#?}"));
    assert!(k.count >= 1);
    assert_eq!(k.last.errno, Some(110));
    assert_eq!(k.last.phase, Some(UpstreamPhase::ReadingResponseHeader));
    assert!(k.by_upstream.contains_key(&format!("http://{silent}")));
}

/// A DNS server on 127.0.0.1 answering every query with NXDOMAIN.
async fn nxdomain_server() -> SocketAddr {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = sock.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = [0u8; 512];
        loop {
            let Ok((n, peer)) = sock.recv_from(&mut buf).await else {
                return;
            };
            if n < 12 {
                continue;
            }
            // The question ends after the name's zero label, type and class.
            let mut end = 12;
            while end < n && buf[end] != 0 {
                end += usize::from(buf[end]) + 1;
            }
            let end = (end + 5).min(n);
            let mut answer = Vec::with_capacity(end);
            answer.extend_from_slice(&buf[..2]);
            answer.push(0x80 | (buf[2] & 0x79)); // QR, the query's opcode and RD
            answer.push(0x83); // RA, NXDOMAIN
            answer.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
            answer.extend_from_slice(&buf[12..end]);
            let _ = sock.send_to(&answer, peer).await;
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_nginx_cannot_resolve_upstream_name() {
    let dns = nxdomain_server().await;
    let nginx = support::Nginx::start(&format!(
        "server {{ listen 127.0.0.1:{{port}}; location / {{ resolver {dns} ipv6=off; \
         resolver_timeout 5s; set $backend no-such-host.invalid; proxy_pass http://$backend; }} }}"
    ));
    assert_eq!(get(nginx.url("/")).await, 502);
    let obs = proxy_probe(&nginx.error_log()).await;
    let k = obs
        .kind(ProxyErrorKind::CouldNotResolve)
        .unwrap_or_else(|| panic!("{obs:#?}"));
    assert!(k.count >= 1);
    assert_eq!(k.by_upstream.get("no-such-host.invalid"), Some(&k.count));
    assert!(k.last.line.contains("Host not found"), "{}", k.last.line);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_nginx_speaks_tls_to_a_plain_http_upstream() {
    let plain = support::eager_http_server(
        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    )
    .await;
    let nginx = support::Nginx::start(&proxy_to(&format!("https://{plain}"), ""));
    assert_eq!(get(nginx.url("/")).await, 502);
    let obs = proxy_probe(&nginx.error_log()).await;
    let k = obs
        .kind(ProxyErrorKind::SslHandshakeFailed)
        .unwrap_or_else(|| panic!("{obs:#?}"));
    assert!(k.count >= 1);
    assert!(k.wrong_version_number >= 1, "{k:#?}");
    assert_eq!(k.last.upstream, Some(format!("https://{plain}")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_nginx_rate_limits_the_second_request() {
    let up = support::http_server(
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
    )
    .await;
    let nginx = support::Nginx::start(&format!(
        "limit_req_zone $binary_remote_addr zone=one:1m rate=1r/m;\n\
         server {{ listen 127.0.0.1:{{port}}; location / {{ limit_req zone=one; proxy_pass http://{up}; }} }}"
    ));
    assert_eq!(get(nginx.url("/q?x=1")).await, 200);
    assert_eq!(get(nginx.url("/q?x=2")).await, 503);
    let obs = proxy_probe(&nginx.error_log()).await;
    assert_eq!(obs.count(ProxyErrorKind::LimitingRequests), 1, "{obs:#?}");
    let last = &obs.kind(ProxyErrorKind::LimitingRequests).unwrap().last;
    assert_eq!(last.request.as_ref().unwrap().path, "/q");
    assert_eq!(obs.count(ProxyErrorKind::ConnectRefused), 0);
}

// ------------------------------------------------------- the tail reader --

#[tokio::test]
async fn missing_file_is_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let obs = proxy_probe(&dir.path().join("nope.log")).await;
    assert_eq!(obs.failure.unwrap().kind, FailureKind::NotFound);
    let spec = AppLogSpec {
        path: dir.path().join("nope.log"),
        ..AppLogSpec::default()
    };
    let obs = run_app_log(&spec, &ProbeContext::default()).await;
    assert_eq!(obs.failure.unwrap().kind, FailureKind::NotFound);
    assert_eq!(obs.path, spec.path);
}

#[tokio::test]
async fn directory_is_a_failure_not_a_log() {
    let dir = tempfile::tempdir().unwrap();
    let obs = proxy_probe(dir.path()).await;
    let f = obs.failure.unwrap();
    assert_eq!(f.kind, FailureKind::Other);
    assert!(f.detail.contains("directory"), "{f:?}");
}

/// Set by [`unreadable_file_is_permission_denied`] when it re-runs this test
/// binary as an unprivileged user: the file that user must fail to read.
const UNREADABLE_ENV: &str = "WHY5XX_TEST_UNREADABLE_LOG";

fn assert_permission_denied(path: &Path) {
    let f = tail::read_tail(path, 1024).unwrap_err();
    assert_eq!(f.kind, FailureKind::PermissionDenied, "{f:?}");
    assert!(
        f.detail.contains("root") && f.detail.contains("adm"),
        "{f:?}"
    );
}

/// The half of [`unreadable_file_is_permission_denied`] that runs as
/// `nobody`; a no-op when run on its own.
#[test]
fn unreadable_file_child() {
    if let Some(path) = std::env::var_os(UNREADABLE_ENV) {
        assert_permission_denied(Path::new(&path));
    }
}

#[test]
fn unreadable_file_is_permission_denied() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = dir.path().join("error.log");
    std::fs::write(&path, "x\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    if !rustix::process::geteuid().is_root() {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
        assert_permission_denied(&path);
        return;
    }
    // Root reads anything: run the check again as nobody.
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "logs::unreadable_file_child", "--nocapture"])
        .env(UNREADABLE_ENV, &path)
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("1 passed"),
        "the child test did not run: {text}"
    );
}

#[tokio::test]
async fn empty_file_reads_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("error.log");
    std::fs::write(&path, "").unwrap();
    let obs = proxy_probe(&path).await;
    assert_eq!(obs.failure, None);
    assert_eq!((obs.lines_scanned, obs.read.bytes_read), (0, 0));
    assert!(obs.kinds.is_empty());
    assert!(!obs.truncated);
}

#[test]
fn reads_only_the_budget_from_the_end_and_drops_the_partial_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.log");
    let mut f = std::fs::File::create(&path).unwrap();
    for i in 0..10_000 {
        writeln!(f, "line {i:05} {}", "x".repeat(40)).unwrap();
    }
    drop(f);
    let size = std::fs::metadata(&path).unwrap().len();
    let t = tail::read_tail(&path, 4096).unwrap();
    assert_eq!(t.summary.file_size, size);
    assert!(t.summary.bytes_read <= 4096);
    assert!(t.summary.started_mid_file);
    assert!(
        t.lines[0].starts_with("line "),
        "partial first line kept: {}",
        t.lines[0]
    );
    assert_eq!(
        t.lines.last().unwrap(),
        &format!("line 09999 {}", "x".repeat(40))
    );
    // A window that starts exactly on a line keeps that line.
    let line_len = 52;
    let t = tail::read_tail(&path, line_len * 3).unwrap();
    assert_eq!(t.lines.len(), 3);
    assert!(t.lines[0].starts_with("line 09997"));
}

#[test]
fn long_lines_are_cut() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.log");
    let long = "y".repeat(tail::MAX_LINE_BYTES * 3);
    std::fs::write(&path, format!("short\n{long}\nend\n")).unwrap();
    let t = tail::read_tail(&path, tail::DEFAULT_MAX_BYTES).unwrap();
    assert_eq!(t.lines.len(), 3);
    assert_eq!(t.lines[1].len(), tail::MAX_LINE_BYTES);
    assert_eq!(t.summary.long_lines_cut, 1);
}

fn nginx_line(t: UnixTime, offset: i64, msg: &str) -> String {
    let wall = t.0 + offset;
    let days = wall.div_euclid(86_400);
    let secs = wall.rem_euclid(86_400);
    // Civil date from days (the probe's own conversion is tested in its unit tests).
    let (y, m, d) = civil(days);
    format!(
        "{y:04}/{m:02}/{d:02} {:02}:{:02}:{:02} [error] 7#7: *1 {msg}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

const REFUSED_MSG: &str = "connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: _, request: \"GET / HTTP/1.1\", upstream: \"http://127.0.0.1:3000/\", host: \"x\"";

#[tokio::test]
async fn local_time_offset_is_taken_from_the_file_mtime() {
    // nginx at UTC+05:30: its lines say 15:00 when UTC says 09:30.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("error.log");
    let now = UnixTime::now();
    let offset = 5 * 3600 + 1800;
    let text = [
        nginx_line(UnixTime(now.0 - 3600), offset, REFUSED_MSG),
        nginx_line(UnixTime(now.0 - 60), offset, REFUSED_MSG),
        nginx_line(UnixTime(now.0 - 5), offset, REFUSED_MSG),
    ]
    .join("\n");
    std::fs::write(&path, text + "\n").unwrap();
    let f = std::fs::File::options().write(true).open(&path).unwrap();
    f.set_modified(std::time::UNIX_EPOCH + Duration::from_secs((now.0 - 5) as u64))
        .unwrap();
    drop(f);
    let obs = proxy_probe(&path).await;
    assert_eq!(obs.clock.source, OffsetSource::FileMtime);
    assert_eq!(obs.clock.utc_offset_secs, offset as i32);
    // The hour-old line is outside the 15-minute window.
    assert_eq!(obs.count(ProxyErrorKind::ConnectRefused), 2, "{obs:#?}");
    assert_eq!(obs.last_time, Some(UnixTime(now.0 - 5)));
}

#[tokio::test]
async fn rotated_predecessor_is_read_when_the_log_was_just_rotated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("error.log");
    let now = UnixTime::now();
    let old = [
        nginx_line(UnixTime(now.0 - 7200), 0, REFUSED_MSG),
        nginx_line(UnixTime(now.0 - 120), 0, REFUSED_MSG),
    ]
    .join("\n");
    std::fs::write(tail::predecessor_path(&path), old + "\n").unwrap();
    std::fs::write(
        &path,
        nginx_line(UnixTime(now.0 - 30), 0, REFUSED_MSG) + "\n",
    )
    .unwrap();
    let f = std::fs::File::options().write(true).open(&path).unwrap();
    f.set_modified(std::time::UNIX_EPOCH + Duration::from_secs((now.0 - 30) as u64))
        .unwrap();
    drop(f);
    let obs = proxy_probe(&path).await;
    assert_eq!(obs.read.predecessor, Some(tail::predecessor_path(&path)));
    assert_eq!(obs.lines_scanned, 3);
    assert_eq!(obs.count(ProxyErrorKind::ConnectRefused), 2, "{obs:#?}");
    assert!(!obs.truncated);

    // Not needed when the log itself reaches back past the window.
    std::fs::write(
        &path,
        [
            nginx_line(UnixTime(now.0 - 3600), 0, REFUSED_MSG),
            nginx_line(UnixTime(now.0 - 30), 0, REFUSED_MSG),
        ]
        .join("\n")
            + "\n",
    )
    .unwrap();
    let obs = proxy_probe(&path).await;
    assert_eq!(obs.read.predecessor, None);
    assert_eq!(obs.lines_scanned, 2);
}

#[tokio::test]
async fn truncated_when_the_budget_ends_inside_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("error.log");
    let now = UnixTime::now();
    let text: Vec<String> = (0..200)
        .map(|i| nginx_line(UnixTime(now.0 - 200 + i), 0, REFUSED_MSG))
        .collect();
    std::fs::write(&path, text.join("\n") + "\n").unwrap();
    let spec = ProxyErrorLogSpec {
        path: path.clone(),
        max_bytes: 4096,
        ..ProxyErrorLogSpec::default()
    };
    let obs = run_proxy_error_log(&spec, &ProbeContext::default()).await;
    assert!(obs.truncated, "{obs:#?}");
    assert!(obs.read.bytes_read <= 4096);
    assert!(obs.count(ProxyErrorKind::ConnectRefused) < 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_truncated_while_being_written_is_read_consistently() {
    // A writer that keeps truncating and rewriting the file while the probe
    // reads it (logrotate's copytruncate): the probe never fails and never
    // returns more than the budget.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("error.log");
    let line = nginx_line(UnixTime::now(), 0, REFUSED_MSG);
    std::fs::write(&path, format!("{line}\n").repeat(2000)).unwrap();
    let writer_path = path.clone();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let writer = std::thread::spawn(move || {
        let body = format!("{line}\n").repeat(2000);
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
            let _ = std::fs::write(&writer_path, "");
            let _ = std::fs::write(&writer_path, &body);
        }
    });
    for _ in 0..50 {
        let spec = ProxyErrorLogSpec {
            path: path.clone(),
            max_bytes: 64 * 1024,
            ..ProxyErrorLogSpec::default()
        };
        let obs = run_proxy_error_log(&spec, &ProbeContext::default()).await;
        assert_eq!(obs.failure, None);
        assert!(obs.read.bytes_read <= 64 * 1024);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.join().unwrap();
}

// ------------------------------------------------------ application logs --

#[test]
fn python_traceback_last_exception_is_the_missing_variable() {
    let obs = app_fixture("python_traceback.log");
    assert_eq!(obs.exception_count, 2);
    let e = obs.last_exception.as_ref().unwrap();
    assert_eq!(e.language, Language::Python);
    assert_eq!(e.head.exception_type, "KeyError");
    assert_eq!(e.head.message, "'DATABASE_URL'");
    assert_eq!(e.location.as_deref(), Some("/srv/app/app.py:42 in orders"));
    assert_eq!(e.line, 17);
    assert_eq!(e.time, Some(UnixTime(NOW.0 - 11)));
    assert_eq!(
        e.trace.first().unwrap(),
        "Traceback (most recent call last):"
    );
    assert_eq!(e.trace.last().unwrap(), "KeyError: 'DATABASE_URL'");
    assert!(e.trace.len() <= app::MAX_TRACE_LINES + 1);
    assert_eq!(e.trace_lines, 14);
    let env = obs.signature(SignatureKind::MissingEnv).unwrap();
    assert_eq!(env.target.as_deref(), Some("DATABASE_URL"));
    let db = obs
        .signature(SignatureKind::DatabaseConnectionRefused)
        .unwrap();
    assert_eq!(db.dependency, Some(DependencyKind::Postgres));
    assert_eq!(db.target.as_deref(), Some("127.0.0.1:5432"));
    assert_eq!(obs.exception_types["psycopg2.OperationalError"], 1);
}

#[test]
fn node_uncaught_type_error() {
    let obs = app_fixture("node_error.log");
    let e = obs.last_exception.as_ref().unwrap();
    assert_eq!(e.language, Language::Node);
    assert_eq!(e.head.exception_type, "TypeError");
    assert_eq!(
        e.head.message,
        "Cannot read properties of undefined (reading 'name')"
    );
    assert_eq!(e.location.as_deref(), Some("/srv/app/server.js:27:31"));
    assert_eq!(e.trace_lines, 12);
    assert_eq!(e.trace.len(), 12);
    assert_eq!(
        obs.exception_count, 2,
        "the ECONNREFUSED error with its frame too"
    );
    let db = obs
        .signature(SignatureKind::DatabaseConnectionRefused)
        .unwrap();
    assert_eq!(db.dependency, Some(DependencyKind::Postgres));
    assert_eq!(db.target.as_deref(), Some("127.0.0.1:5432"));
}

#[test]
fn node_unhandled_rejection() {
    let obs = app_fixture("node_rejection.log");
    let e = obs.last_exception.as_ref().unwrap();
    assert_eq!(e.language, Language::Node);
    assert_eq!(e.head.exception_type, "UnhandledPromiseRejection");
    assert_eq!(e.head.message, "redis unavailable");
    assert_eq!(e.trace.last().unwrap(), "}");
}

#[test]
fn java_exception_with_root_cause() {
    let obs = app_fixture("java_exception.log");
    assert_eq!(obs.exception_count, 2);
    let e = obs.last_exception.as_ref().unwrap();
    assert_eq!(e.language, Language::Java);
    assert_eq!(e.head.exception_type, "java.lang.IllegalStateException");
    assert_eq!(e.head.message, "Failed to execute CommandLineRunner");
    let root = e.root_cause.as_ref().unwrap();
    assert_eq!(root.exception_type, "java.net.ConnectException");
    assert_eq!(root.message, "Connection refused");
    assert_eq!(
        e.location.as_deref(),
        Some("org.springframework.boot.SpringApplication.callRunner(SpringApplication.java:774)")
    );
    assert!(e.trace.iter().any(|l| l.starts_with("…")), "{:?}", e.trace);
    let pool = obs.signature(SignatureKind::PoolExhausted).unwrap();
    assert_eq!(pool.count, 1);
    let db = obs
        .signature(SignatureKind::DatabaseConnectionRefused)
        .unwrap();
    assert_eq!(db.dependency, Some(DependencyKind::Postgres));
    assert_eq!(db.target.as_deref(), Some("localhost:5432"));
    assert!(
        obs.signature(SignatureKind::ConnectionRefusedOther)
            .is_some()
    );
}

#[test]
fn go_panic_after_http_panic() {
    let obs = app_fixture("go_panic.log");
    assert_eq!(obs.exception_count, 2);
    assert_eq!(obs.exception_types["runtime error"], 1);
    let e = obs.last_exception.as_ref().unwrap();
    assert_eq!(e.language, Language::Go);
    assert_eq!(e.head.exception_type, "panic");
    assert_eq!(
        e.head.message,
        "dial tcp 127.0.0.1:5432: connect: connection refused"
    );
    assert_eq!(e.location.as_deref(), Some("/srv/app/db.go:18"));
    assert_eq!(e.trace.last().unwrap(), "exit status 2");
    let db = obs
        .signature(SignatureKind::DatabaseConnectionRefused)
        .unwrap();
    assert_eq!(db.dependencies[&DependencyKind::Postgres], 1);
    assert_eq!(db.dependencies[&DependencyKind::Redis], 1);
    assert_eq!(db.dependency, Some(DependencyKind::Postgres));
}

#[test]
fn ruby_no_method_error() {
    let obs = app_fixture("ruby_error.log");
    let e = obs.last_exception.as_ref().unwrap();
    assert_eq!(e.language, Language::Ruby);
    assert_eq!(e.head.exception_type, "NoMethodError");
    assert_eq!(e.head.message, "undefined method 'name' for nil");
    assert_eq!(
        e.location.as_deref(),
        Some("/srv/app/app.rb:10 in OrdersController#show")
    );
    assert_eq!(e.trace_lines, 7);
    let db = obs
        .signature(SignatureKind::DatabaseConnectionRefused)
        .unwrap();
    assert_eq!(db.dependency, Some(DependencyKind::Postgres));
}

#[test]
fn rust_panic() {
    let obs = app_fixture("rust_panic.log");
    let e = obs.last_exception.as_ref().unwrap();
    assert_eq!(e.language, Language::Rust);
    assert_eq!(e.head.exception_type, "panic");
    assert!(
        e.head
            .message
            .starts_with("called `Result::unwrap()` on an `Err` value")
    );
    assert_eq!(e.location.as_deref(), Some("src/db.rs:31:10"));
    assert_eq!(e.trace_lines, 3);
    assert_eq!(obs.signatures.len(), 1, "{:#?}", obs.signatures);
    assert_eq!(obs.signatures[0].kind, SignatureKind::TooManyOpenFiles);
}

#[test]
fn fatal_traces_are_told_from_caught_ones() {
    let fatal = |name: &str| {
        let obs = app_fixture(name);
        let e = obs
            .last_exception
            .unwrap_or_else(|| panic!("{name}: no exception"));
        (e.language, e.fatal)
    };
    // The process ended: a Go panic, Go's fatal error, a Rust panic, Node's
    // uncaught exception and rejection, Ruby's report from <main>, the
    // interpreter's fatal error.
    assert_eq!(fatal("go_panic.log"), (Language::Go, true));
    assert_eq!(fatal("go_fatal_error.log"), (Language::Go, true));
    assert_eq!(fatal("rust_panic.log"), (Language::Rust, true));
    assert_eq!(fatal("node_error.log"), (Language::Node, true));
    assert_eq!(fatal("node_rejection.log"), (Language::Node, true));
    assert_eq!(fatal("ruby_error.log"), (Language::Ruby, true));
    assert_eq!(fatal("python_fatal.log"), (Language::Python, true));
    // Caught and logged: the process goes on.
    assert_eq!(fatal("python_traceback.log"), (Language::Python, false));
    assert_eq!(fatal("java_exception.log"), (Language::Java, false));
    assert_eq!(fatal("node_caught.log"), (Language::Node, false));
    assert_eq!(fatal("mixed.log"), (Language::Python, false));

    // net/http recovers a handler's panic: the first trace is not fatal.
    let lines: Vec<String> = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/logs/go_panic.log"),
    )
    .unwrap()
    .lines()
    .map(str::to_string)
    .collect();
    let traces = app::find_traces(&lines);
    let ends: Vec<bool> = traces
        .iter()
        .map(|t| app::ends_process(&lines, t))
        .collect();
    assert_eq!(ends, [false, true]);
}

#[test]
fn fatal_python_error_with_its_stack() {
    let obs = app_fixture("python_fatal.log");
    let e = obs.last_exception.as_ref().unwrap();
    assert_eq!(e.head.exception_type, app::FATAL_PYTHON_ERROR);
    assert_eq!(e.head.message, "Segmentation fault");
    assert_eq!(
        e.location.as_deref(),
        Some("/srv/app/native.py:4 in read_config"),
        "the innermost frame of the application (innermost first)"
    );
    assert_eq!(e.line, 3);
    assert_eq!(e.trace_lines, 7);
    let json = serde_json::to_string(e).unwrap();
    assert!(json.contains("\"fatal\":true"), "{json}");
    let caught = app_fixture("python_traceback.log");
    let json = serde_json::to_string(caught.last_exception.as_ref().unwrap()).unwrap();
    assert!(!json.contains("fatal"), "false is not written: {json}");
}

#[test]
fn mixed_log_signatures() {
    use SignatureKind as K;
    let obs = app_fixture("mixed.log");
    let expect = [
        (K::DatabaseConnectionRefused, 3),
        (K::PoolExhausted, 1),
        (K::QueryTimeout, 1),
        (K::Deadlock, 1),
        (K::SchemaMismatch, 1),
        (K::PermissionDenied, 1),
        (K::NoSpace, 1),
        (K::TooManyOpenFiles, 1),
        (K::OutOfMemory, 1),
        (K::ExternalCallTimeout, 1),
        (K::TemplateNotFound, 1),
        (K::MissingEnv, 1),
        (K::ConnectionRefusedOther, 1),
    ];
    for (kind, count) in expect {
        let s = obs
            .signature(kind)
            .unwrap_or_else(|| panic!("{kind:?}: {obs:#?}"));
        assert_eq!(s.count, count, "{kind:?}: {s:#?}");
    }
    let refused = obs.signature(K::DatabaseConnectionRefused).unwrap();
    assert_eq!(refused.dependencies[&DependencyKind::Postgres], 2);
    assert_eq!(refused.dependencies[&DependencyKind::Redis], 1);
    assert_eq!(refused.last_line_number, 22);
    assert_eq!(refused.target.as_deref(), Some("db:5432"));
    assert!(
        refused.last_line.contains("REDACTED"),
        "{}",
        refused.last_line
    );
    let target = |k| obs.signature(k).unwrap().target.clone().unwrap_or_default();
    assert_eq!(target(K::SchemaMismatch), "orders_v2");
    assert_eq!(target(K::PermissionDenied), "/srv/app/uploads/1.png");
    assert_eq!(target(K::NoSpace), "/var/tmp/upload");
    assert_eq!(target(K::ExternalCallTimeout), "api.payments.example");
    assert_eq!(target(K::TemplateNotFound), "orders/list.html");
    assert_eq!(target(K::MissingEnv), "STRIPE_API_KEY");
    assert_eq!(target(K::ConnectionRefusedOther), "10.0.0.9:8081");
    assert_eq!(
        obs.signature(K::QueryTimeout).unwrap().dependency,
        Some(DependencyKind::Postgres)
    );

    let e = obs.last_exception.as_ref().unwrap();
    assert_eq!(e.head.exception_type, "sqlalchemy.exc.OperationalError");
    assert_eq!(
        e.location.as_deref(),
        Some("/srv/app/app.py:88 in checkout")
    );
    // Secrets in a kept trace line and a kept signature line are redacted.
    let json = serde_json::to_string(&obs).unwrap();
    assert_no_secret(&json, &["s3cret", "hunter2"]);
    assert!(json.contains("postgres://app:REDACTED@db"), "{json}");
    let back: AppLogObservation = serde_json::from_str(&json).unwrap();
    assert_eq!(back, obs);
}

#[test]
fn app_window_drops_old_lines_and_traces() {
    // Five minutes before the mixed log's newest line: the traceback (09:21)
    // and most signatures are older.
    let now = UnixTime(NOW.0 - 2 * 60 - 12 + 5 * 60); // 09:33:00
    let obs = app::analyze(
        &fixture("mixed.log"),
        Some(Duration::from_secs(5 * 60)),
        now,
    );
    assert_eq!(obs.exception_count, 0);
    assert!(obs.last_exception.is_none());
    assert_eq!(obs.lines_in_window, 1, "{obs:#?}");
    assert_eq!(obs.signatures.len(), 1);
    assert_eq!(
        obs.signatures[0].kind,
        SignatureKind::DatabaseConnectionRefused
    );
    // Without a window every line counts.
    let all = app::analyze(&fixture("mixed.log"), None, now);
    assert_eq!(all.lines_in_window, all.lines_scanned);
    assert_eq!(all.exception_count, 1);
}

#[tokio::test]
async fn app_probe_reads_a_real_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/logs/go_panic.log");
    std::fs::copy(src, &path).unwrap();
    let spec = AppLogSpec {
        path: path.clone(),
        ..AppLogSpec::default()
    };
    let obs = run_app_log(&spec, &ProbeContext::default()).await;
    assert_eq!(obs.failure, None);
    assert_eq!(obs.path, path);
    assert_eq!(obs.last_exception.unwrap().language, Language::Go);
    let spec: AppLogSpec = serde_json::from_str(r#"{"path":"/a.log","window_secs":60}"#).unwrap();
    assert_eq!(spec.window, Some(Duration::from_secs(60)));
    assert_eq!(
        serde_json::to_string(&AppLogSpec::default()).unwrap(),
        r#"{"path":"","max_bytes":1048576}"#
    );
}

#[tokio::test]
async fn a_last_line_still_being_written_is_kept() {
    // A file still being appended to when it is read: the last line has no
    // newline yet and is kept as it is.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    let mut f = tokio::fs::File::create(&path).await.unwrap();
    f.write_all(b"2026-11-26 09:30:00 ERROR a\n2026-11-26 09:30:01 ERROR MemoryErr")
        .await
        .unwrap();
    f.flush().await.unwrap();
    let t = tail::read_tail(&path, 1024).unwrap();
    assert_eq!(t.lines.len(), 2);
    assert_eq!(t.lines[1], "2026-11-26 09:30:01 ERROR MemoryErr");
}

#[tokio::test]
async fn app_probe_reads_at_most_its_budget_of_a_big_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/logs");
    let mut text = String::new();
    for name in [
        "mixed.log",
        "java_exception.log",
        "node_error.log",
        "go_panic.log",
    ] {
        text.push_str(&std::fs::read_to_string(fixtures.join(name)).unwrap());
    }
    let copies = 3 * tail::DEFAULT_MAX_BYTES as usize / text.len() + 1;
    std::fs::write(&path, text.repeat(copies)).unwrap();
    let spec = AppLogSpec {
        path,
        ..AppLogSpec::default()
    };
    let started = std::time::Instant::now();
    let obs = run_app_log(&spec, &ProbeContext::default()).await;
    eprintln!(
        "scanned {} lines in {:?}",
        obs.lines_scanned,
        started.elapsed()
    );
    assert_eq!(obs.failure, None);
    assert!(obs.read.bytes_read <= tail::DEFAULT_MAX_BYTES);
    assert!(obs.read.started_mid_file && obs.truncated);
    assert_eq!(obs.last_exception.unwrap().language, Language::Go);
    assert!(obs.exception_count > 100);
    assert!(
        obs.signatures
            .iter()
            .all(|s| s.targets.len() <= app::MAX_DISTINCT)
    );
}

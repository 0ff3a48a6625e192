//! Tests of the tls probe.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use why5xx_probes::tls::{self, CertProblem, TlsObservation, TlsSession, TlsSpec};
use why5xx_probes::{FailureKind, Phase, ProbeContext};

use crate::support::{self, TestCa};

const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";

fn spec(address: String) -> TlsSpec {
    TlsSpec {
        address,
        server_name: None,
        resolve: None,
        timeout: Duration::from_secs(5),
    }
}

/// A test CA written to a temporary directory.
fn trusted_ca() -> (TestCa, tempfile::TempDir, PathBuf) {
    let ca = TestCa::new();
    let dir = tempfile::tempdir().unwrap();
    let path = ca.write_pem(dir.path());
    (ca, dir, path)
}

fn session(obs: &TlsObservation) -> &TlsSession {
    assert_eq!(obs.failure, None, "{obs:?}");
    obs.session.as_ref().unwrap()
}

#[tokio::test]
async fn trusted_chain_is_recorded_in_full() {
    support::init();
    let (ca, _dir, ca_path) = trusted_ca();
    let addr = support::tls_server(ca.leaf(&["localhost", "127.0.0.1"], 30), OK).await;
    let ctx = ProbeContext::new(vec![ca_path]);
    let obs = tls::run(&spec(addr.to_string()), &ctx).await;
    let s = session(&obs);
    assert!(s.verification.trusted, "{s:?}");
    assert_eq!(s.verification.problem, None);
    assert_eq!(s.protocol.as_deref(), Some("TLSv1.3"));
    assert_eq!(s.alpn, None, "the tls probe offers no ALPN");
    assert_eq!(s.server_name, "127.0.0.1");
    assert!(s.hostname_match);
    assert_eq!(s.chain.len(), 2);
    let leaf = s.leaf().unwrap();
    assert!(leaf.sans.contains(&"localhost".to_string()), "{leaf:?}");
    assert!(leaf.sans.contains(&"127.0.0.1".to_string()), "{leaf:?}");
    assert!(leaf.subject.contains("localhost"), "{leaf:?}");
    assert!(leaf.issuer.contains("why5xx test CA"), "{leaf:?}");
    assert!(!leaf.self_signed);
    assert!(leaf.not_before < leaf.not_after);
    assert!(s.chain[1].self_signed, "the CA is self-signed");
    assert_eq!(obs.remote_addr, Some(addr));
    assert!(obs.connect.is_some());
    assert!(obs.handshake.is_some());
}

#[tokio::test]
async fn expired_certificate_is_observed_not_failed() {
    support::init();
    let (ca, _dir, ca_path) = trusted_ca();
    let addr = support::tls_server(ca.leaf(&["localhost"], -3), OK).await;
    let mut sp = spec(addr.to_string());
    sp.server_name = Some("localhost".into());
    let obs = tls::run(&sp, &ProbeContext::new(vec![ca_path])).await;
    let s = session(&obs);
    assert!(!s.verification.trusted);
    assert_eq!(s.verification.problem, Some(CertProblem::Expired), "{s:?}");
    assert!(s.verification.detail.is_some());
    assert!(s.leaf().unwrap().days_left.0 < 0);
    assert!(s.hostname_match);
}

#[tokio::test]
async fn certificate_expiring_soon_is_trusted_with_days_left() {
    support::init();
    let (ca, _dir, ca_path) = trusted_ca();
    let addr = support::tls_server(ca.leaf(&["localhost"], 5), OK).await;
    let mut sp = spec(format!("localhost:{}", addr.port()));
    sp.resolve = Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let obs = tls::run(&sp, &ProbeContext::new(vec![ca_path])).await;
    let s = session(&obs);
    assert!(s.verification.trusted, "{s:?}");
    let days = s.leaf().unwrap().days_left.0;
    assert!(days == 4 || days == 5, "{days}");
}

#[tokio::test]
async fn wrong_hostname_is_a_name_mismatch() {
    support::init();
    let (ca, _dir, ca_path) = trusted_ca();
    let addr = support::tls_server(ca.leaf(&["other.test"], 30), OK).await;
    let mut sp = spec(addr.to_string());
    sp.server_name = Some("shop.test".into());
    let obs = tls::run(&sp, &ProbeContext::new(vec![ca_path])).await;
    let s = session(&obs);
    assert!(!s.verification.trusted);
    assert_eq!(
        s.verification.problem,
        Some(CertProblem::NameMismatch),
        "{s:?}"
    );
    assert!(!s.hostname_match);
    assert_eq!(s.server_name, "shop.test");
}

#[tokio::test]
async fn self_signed_certificate_is_an_unknown_issuer() {
    support::init();
    let addr = support::tls_server(support::self_signed_leaf(&["localhost"]), OK).await;
    let mut sp = spec(addr.to_string());
    sp.server_name = Some("localhost".into());
    let obs = tls::run(&sp, &ProbeContext::default()).await;
    let s = session(&obs);
    assert!(!s.verification.trusted);
    assert_eq!(
        s.verification.problem,
        Some(CertProblem::UnknownIssuer),
        "{s:?}"
    );
    assert_eq!(s.chain.len(), 1);
    assert!(s.leaf().unwrap().self_signed);
    assert!(s.hostname_match);
}

#[tokio::test]
async fn test_ca_is_untrusted_without_its_ca_file() {
    support::init();
    let ca = TestCa::new();
    let addr = support::tls_server(ca.leaf(&["127.0.0.1"], 30), OK).await;
    let obs = tls::run(&spec(addr.to_string()), &ProbeContext::default()).await;
    let s = session(&obs);
    assert_eq!(s.verification.problem, Some(CertProblem::UnknownIssuer));
    assert!(s.hostname_match);
}

#[tokio::test]
async fn unreadable_ca_file_is_a_warning_not_a_failure() {
    support::init();
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate").unwrap();
    let ctx = ProbeContext::new(vec![dir.path().join("missing.pem"), garbage]);
    let toolkit = ctx.tls().await;
    let joined = toolkit.warnings.join("\n");
    assert!(joined.contains("missing.pem"), "{joined}");
    assert!(joined.contains("garbage.pem"), "{joined}");
    assert!(toolkit.root_count() > 0, "webpki roots still loaded");
    let addr = support::tls_server(support::self_signed_leaf(&["localhost"]), OK).await;
    let obs = tls::run(&spec(addr.to_string()), &ctx).await;
    assert!(obs.session.is_some(), "{obs:?}");
}

#[tokio::test]
async fn failed_toolkit_fails_handshakes_with_its_reason() {
    support::init();
    let toolkit = tls::TlsToolkit::build_failed("no trust store");
    let (client, _server) = tokio::io::duplex(1024);
    let err = toolkit
        .handshake(client, "localhost", false)
        .await
        .unwrap_err();
    assert_eq!(err.kind, FailureKind::Other);
    assert!(err.detail.contains("no trust store"), "{err:?}");
}

#[tokio::test]
async fn refused_port_is_refused() {
    support::init();
    let addr = support::refused_addr();
    let obs = tls::run(&spec(addr.to_string()), &ProbeContext::default()).await;
    let f = obs.failure.as_ref().unwrap();
    assert_eq!(f.kind, FailureKind::Refused, "{f:?}");
    assert_eq!(f.phase, Phase::Connect);
    assert_eq!(obs.session, None);
}

#[tokio::test]
async fn plain_http_server_is_plain_http_on_tls() {
    support::init();
    let addr = support::eager_http_server(
        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    )
    .await;
    let obs = tls::run(&spec(addr.to_string()), &ProbeContext::default()).await;
    let f = obs.failure.as_ref().unwrap();
    assert_eq!(f.kind, FailureKind::PlainHttpOnTls, "{f:?}");
    assert_eq!(f.phase, Phase::Tls);
}

#[tokio::test]
async fn silent_server_times_out_in_the_handshake() {
    support::init();
    let addr = support::silent_server().await;
    let mut sp = spec(addr.to_string());
    sp.timeout = Duration::from_millis(500);
    let started = Instant::now();
    let obs = tls::run(&sp, &ProbeContext::default()).await;
    let f = obs.failure.as_ref().unwrap();
    assert_eq!(f.kind, FailureKind::Timeout, "{f:?}");
    assert_eq!(f.phase, Phase::Tls);
    assert!(started.elapsed() < sp.timeout + Duration::from_secs(3));
}

#[tokio::test]
async fn ipv6_address_with_brackets() {
    support::init();
    let (ca, _dir, ca_path) = trusted_ca();
    let leaf = ca.leaf(&["::1"], 30);
    let Ok(listener) = tokio::net::TcpListener::bind("[::1]:0").await else {
        return; // no IPv6 loopback here
    };
    let port = listener.local_addr().unwrap().port();
    let cfg = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(leaf.chain, leaf.key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(cfg));
    tokio::spawn(async move {
        if let Ok((tcp, _)) = listener.accept().await {
            let _ = acceptor.accept(tcp).await;
        }
    });
    let obs = tls::run(
        &spec(format!("[::1]:{port}")),
        &ProbeContext::new(vec![ca_path]),
    )
    .await;
    let s = session(&obs);
    assert!(s.verification.trusted, "{s:?}");
    assert_eq!(s.server_name, "::1");
    assert!(s.leaf().unwrap().sans.contains(&"::1".to_string()));
}

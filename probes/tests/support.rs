//! Real servers and certificates for the probe tests: a test CA issuing
//! leaves with chosen names and validity, a rustls server, plain HTTP
//! servers with fixed answers, a listener that never answers, a refused port.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType, IsCa, KeyPair,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::{Duration, OffsetDateTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Install the ring provider once; every test calls this first.
pub fn init() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A certificate authority for tests.
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A leaf certificate chain with its key, ready for a rustls server.
pub struct Leaf {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

impl Clone for Leaf {
    fn clone(&self) -> Self {
        Self {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

fn params(
    names: &[&str],
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> CertificateParams {
    let names: Vec<String> = names.iter().map(|s| (*s).to_string()).collect();
    let mut p = CertificateParams::new(names.clone()).unwrap();
    let mut dn = DistinguishedName::new();
    dn.push(
        DnType::CommonName,
        names.first().cloned().unwrap_or_default(),
    );
    p.distinguished_name = dn;
    p.not_before = not_before;
    p.not_after = not_after;
    p
}

impl TestCa {
    pub fn new() -> Self {
        let mut p = params(
            &[],
            OffsetDateTime::now_utc() - Duration::days(30),
            OffsetDateTime::now_utc() + Duration::days(3650),
        );
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "why5xx test CA");
        p.distinguished_name = dn;
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let issuer = CertifiedIssuer::self_signed(p, KeyPair::generate().unwrap()).unwrap();
        Self { issuer }
    }

    /// The CA certificate, PEM.
    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// Write the CA certificate to `dir/ca.pem` and return the path.
    pub fn write_pem(&self, dir: &std::path::Path) -> PathBuf {
        let path = dir.join("ca.pem");
        std::fs::write(&path, self.pem()).unwrap();
        path
    }

    /// A leaf for `names`, valid from `not_before` to `not_after`.
    pub fn leaf_between(
        &self,
        names: &[&str],
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let cert = params(names, not_before, not_after)
            .signed_by(&key, &self.issuer)
            .unwrap();
        Leaf {
            chain: vec![cert.der().clone(), self.issuer.der().clone()],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        }
    }

    /// A leaf for `names` that expires `days` from now (negative: expired).
    pub fn leaf(&self, names: &[&str], days: i64) -> Leaf {
        let now = OffsetDateTime::now_utc();
        let not_before = if days < 0 {
            now + Duration::days(days - 30)
        } else {
            now - Duration::days(1)
        };
        self.leaf_between(names, not_before, now + Duration::days(days))
    }
}

/// A self-signed leaf for `names` valid for a year.
pub fn self_signed_leaf(names: &[&str]) -> Leaf {
    let key = KeyPair::generate().unwrap();
    let now = OffsetDateTime::now_utc();
    let cert = params(names, now - Duration::days(1), now + Duration::days(365))
        .self_signed(&key)
        .unwrap();
    Leaf {
        chain: vec![cert.der().clone()],
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    }
}

/// Read a request's head (up to the blank line), bounded.
async fn read_head<S: AsyncReadExt + Unpin>(s: &mut S) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 64 * 1024 {
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    buf
}

/// A TLS server on 127.0.0.1 presenting `leaf` and answering every request
/// with `response` (a whole HTTP/1.1 response, `Connection: close`).
pub async fn tls_server(leaf: Leaf, response: &'static [u8]) -> SocketAddr {
    let mut cfg = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(leaf.chain, leaf.key)
        .unwrap();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(tcp).await {
                    let _ = read_head(&mut tls).await;
                    let _ = tls.write_all(response).await;
                    let _ = tls.shutdown().await;
                }
            });
        }
    });
    addr
}

/// A plain HTTP server on 127.0.0.1 answering every request with `response`.
pub async fn http_server(response: &'static [u8]) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut tcp, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let _ = read_head(&mut tcp).await;
                let _ = tcp.write_all(response).await;
                let _ = tcp.shutdown().await;
            });
        }
    });
    addr
}

/// A server that accepts connections and then never sends a byte, keeping
/// them open until the test ends.
pub async fn silent_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held: Vec<TcpStream> = Vec::new();
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            held.push(tcp);
        }
    });
    addr
}

/// An address on 127.0.0.1 where nothing listens: bound, then closed.
pub fn refused_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

/// A TCP server on 127.0.0.1 that hands every accepted connection to `handle`.
pub async fn tcp_server<F, Fut>(handle: F) -> SocketAddr
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(handle(tcp));
        }
    });
    addr
}

/// Read a request's head (up to the blank line), bounded.
pub async fn read_request_head<S: AsyncReadExt + Unpin>(s: &mut S) -> Vec<u8> {
    read_head(s).await
}

/// A plain HTTP server that answers `response` as soon as any bytes arrive,
/// without waiting for a whole request head — the way nginx answers a TLS
/// `ClientHello` on a plain port with `400 Bad Request`.
pub async fn eager_http_server(response: &'static [u8]) -> SocketAddr {
    tcp_server(move |mut tcp| async move {
        let mut buf = [0u8; 4096];
        if matches!(tcp.read(&mut buf).await, Ok(n) if n > 0) {
            let _ = tcp.write_all(response).await;
            let _ = tcp.shutdown().await;
            // Drain what the client still sends so the close is a FIN, not a RST.
            let _ = tokio::time::timeout(std::time::Duration::from_secs(2), async {
                while matches!(tcp.read(&mut buf).await, Ok(n) if n > 0) {}
            })
            .await;
        }
    })
    .await
}

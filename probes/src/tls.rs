//! The tls probe: a rustls handshake that records the peer's certificate
//! chain even when verification fails, parsed with x509-parser (expiry,
//! subject, SANs, issuer, self-signed), with the verification outcome against
//! the webpki roots, the system store and any extra CA classified.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{Resumption, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime as PkiTime};
use rustls::{
    ClientConfig, ClientConnection, DigitallySignedStruct, ProtocolVersion, RootCertStore,
    SignatureScheme,
};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::time::timeout_at;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use x509_parser::extensions::GeneralName;

use crate::net;
use crate::units::{DaysLeft, UnixTime};
use crate::{Failure, FailureKind, Millis, Phase, ProbeContext};

/// A handshake to make.
#[derive(Debug, Clone)]
pub struct TlsSpec {
    /// `host:port` to connect to.
    pub address: String,
    /// The name to send as SNI and to verify; defaults to the host of `address`.
    pub server_name: Option<String>,
    /// Connect here instead of resolving the host.
    pub resolve: Option<IpAddr>,
    /// Budget for connect and handshake together.
    pub timeout: Duration,
}

/// Why a chain was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CertProblem {
    /// The leaf (or a chain certificate) is past its not-after.
    Expired,
    /// Not valid yet (not-before in the future).
    NotYetValid,
    /// Valid, but not for the name asked for.
    NameMismatch,
    /// Not signed by a trusted root (self-signed included).
    UnknownIssuer,
    /// Revoked.
    Revoked,
    /// Anything else; the detail says what.
    Other,
}

/// The outcome of verifying the chain for the server name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    /// Whether the chain is trusted for the name.
    pub trusted: bool,
    /// Why not, when not.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub problem: Option<CertProblem>,
    /// The verifier's words.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub detail: Option<String>,
}

/// One certificate of the peer's chain, leaf first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertInfo {
    pub subject: String,
    pub issuer: String,
    /// DNS names and IP addresses (dotted / colon form) from the SAN extension.
    pub sans: Vec<String>,
    pub not_before: UnixTime,
    pub not_after: UnixTime,
    /// Whole days from the probe's time to not-after; negative when expired.
    pub days_left: DaysLeft,
    /// Issuer equals subject and the signature verifies with its own key.
    pub self_signed: bool,
}

/// A completed TLS session as the probes saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsSession {
    /// `TLSv1.3`, `TLSv1.2`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub protocol: Option<String>,
    /// The negotiated ALPN protocol.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub alpn: Option<String>,
    /// The name verified against (the SNI).
    pub server_name: String,
    /// Whether the leaf's SANs cover `server_name` (checked on its own, so it
    /// is known even when the chain is also untrusted).
    pub hostname_match: bool,
    /// The trust decision.
    pub verification: Verification,
    /// The peer's chain, leaf first.
    pub chain: Vec<CertInfo>,
}

impl TlsSession {
    /// The leaf certificate, when the peer sent one.
    pub fn leaf(&self) -> Option<&CertInfo> {
        self.chain.first()
    }
}

/// What the handshake saw.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TlsObservation {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub remote_addr: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub connect: Option<Millis>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub handshake: Option<Millis>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub session: Option<TlsSession>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub failure: Option<Failure>,
}

/// TLS client configurations and trust roots of one run, built once.
pub struct TlsToolkit {
    /// Problems met loading trust roots (an unreadable `ca_file`).
    pub warnings: Vec<String>,
    /// The configurations, or why they could not be built.
    configs: Result<Configs, String>,
}

/// What every handshake of a run shares.
struct Configs {
    /// ALPN `http/1.1`, for the http probe.
    http: Arc<ClientConfig>,
    /// No ALPN, for the tls probe.
    plain: Arc<ClientConfig>,
    /// The real verifier, run on the captured chain after the handshake.
    verifier: Arc<WebPkiServerVerifier>,
    /// How many trust anchors were loaded.
    roots: usize,
}

impl std::fmt::Debug for TlsToolkit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("TlsToolkit");
        d.field("warnings", &self.warnings);
        match &self.configs {
            Ok(c) => d.field("roots", &c.roots),
            Err(e) => d.field("error", e),
        };
        d.finish()
    }
}

impl TlsToolkit {
    /// Load the webpki roots, the system store (`SSL_CERT_FILE` honoured) and
    /// the extra CA files, and build the client configurations.
    pub fn build(extra_ca_files: &[PathBuf]) -> Self {
        let mut warnings = Vec::new();
        let mut roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };

        let native = rustls_native_certs::load_native_certs();
        for e in &native.errors {
            warnings.push(format!("system trust store: {e}"));
        }
        let (_, ignored) = roots.add_parsable_certificates(native.certs);
        if ignored > 0 {
            warnings.push(format!(
                "system trust store: {ignored} certificate(s) could not be parsed"
            ));
        }

        for file in extra_ca_files {
            if let Err(w) = add_ca_file(&mut roots, file) {
                warnings.push(w);
            }
        }

        let configs = Configs::build(roots);
        if let Err(e) = &configs {
            warnings.push(e.clone());
        }
        Self { warnings, configs }
    }

    /// A toolkit whose construction failed; every handshake reports `reason`.
    pub fn build_failed(reason: &str) -> Self {
        Self {
            warnings: vec![reason.to_string()],
            configs: Err(format!("TLS setup failed: {reason}")),
        }
    }

    /// How many trust anchors were loaded (0 when construction failed).
    pub fn root_count(&self) -> usize {
        self.configs.as_ref().map_or(0, |c| c.roots)
    }

    /// Perform a TLS handshake over `io` for `server_name` (a DNS name or an
    /// IP address, without brackets), offering ALPN `http/1.1` when
    /// `with_alpn`. Any chain is accepted so that it can be recorded: the
    /// returned session's `verification` says whether it is trusted, and a
    /// caller about to send secrets must check it. Not bounded in time:
    /// callers wrap it in their own deadline.
    pub async fn handshake<IO>(
        &self,
        io: IO,
        server_name: &str,
        with_alpn: bool,
    ) -> Result<(TlsStream<IO>, TlsSession), Failure>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        let configs = self
            .configs
            .as_ref()
            .map_err(|e| Failure::new(FailureKind::Other, Phase::Tls, e.clone()))?;
        let name = server_name_of(server_name).ok_or_else(|| {
            Failure::new(
                FailureKind::Other,
                Phase::Tls,
                format!("{server_name:?} is not a valid TLS server name"),
            )
        })?;
        let config = if with_alpn {
            &configs.http
        } else {
            &configs.plain
        };
        let connector = TlsConnector::from(Arc::clone(config));
        let stream = connector
            .connect(name.clone(), io)
            .await
            .map_err(|e| classify_handshake_error(&e, server_name))?;
        let session = configs.session(stream.get_ref().1, &name, server_name);
        Ok((stream, session))
    }

    /// Verify `chain` (leaf first) for `server_name` against this run's
    /// trust roots, now.
    pub fn verify_chain(&self, chain: &[CertificateDer<'_>], server_name: &str) -> Verification {
        match (&self.configs, server_name_of(server_name)) {
            (Err(e), _) => untrusted(CertProblem::Other, e.clone()),
            (Ok(_), None) => untrusted(
                CertProblem::Other,
                format!("{server_name:?} is not a valid TLS server name"),
            ),
            (Ok(c), Some(name)) => c.verify(chain, &name),
        }
    }
}

/// Add every certificate of the PEM file at `path` to `roots`; the error is
/// the warning to record.
fn add_ca_file(roots: &mut RootCertStore, path: &Path) -> Result<(), String> {
    let shown = path.display();
    let iter = CertificateDer::pem_file_iter(path).map_err(|e| format!("ca_file {shown}: {e}"))?;
    let mut added = 0usize;
    for cert in iter {
        let cert = cert.map_err(|e| format!("ca_file {shown}: {e}"))?;
        roots
            .add(cert)
            .map_err(|e| format!("ca_file {shown}: {e}"))?;
        added += 1;
    }
    if added == 0 {
        return Err(format!("ca_file {shown}: no PEM certificate in it"));
    }
    Ok(())
}

impl Configs {
    fn build(roots: RootCertStore) -> Result<Self, String> {
        let provider = CryptoProvider::get_default()
            .cloned()
            .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
        let count = roots.len();
        let verifier =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
                .build()
                .map_err(|e| format!("building the certificate verifier: {e}"))?;
        let config = |alpn: bool| -> Result<Arc<ClientConfig>, String> {
            let mut cfg = ClientConfig::builder_with_provider(Arc::clone(&provider))
                .with_safe_default_protocol_versions()
                .map_err(|e| format!("building the TLS client configuration: {e}"))?
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAndRecord {
                    real: Arc::clone(&verifier),
                }))
                .with_no_client_auth();
            // A diagnosis wants the full handshake every time.
            cfg.resumption = Resumption::disabled();
            if alpn {
                cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
            }
            Ok(Arc::new(cfg))
        };
        Ok(Self {
            http: config(true)?,
            plain: config(false)?,
            verifier,
            roots: count,
        })
    }

    fn verify(&self, chain: &[CertificateDer<'_>], name: &ServerName<'_>) -> Verification {
        let Some((leaf, intermediates)) = chain.split_first() else {
            return untrusted(CertProblem::Other, "the peer sent no certificate".into());
        };
        match self
            .verifier
            .verify_server_cert(leaf, intermediates, name, &[], PkiTime::now())
        {
            Ok(_) => Verification {
                trusted: true,
                problem: None,
                detail: None,
            },
            Err(e) => untrusted(classify_rejection(&e), e.to_string()),
        }
    }

    fn session(&self, conn: &ClientConnection, name: &ServerName<'_>, shown: &str) -> TlsSession {
        let now = UnixTime::now();
        let certs = conn.peer_certificates().unwrap_or(&[]);
        let chain: Vec<CertInfo> = certs
            .iter()
            .filter_map(|c| parse_certificate(c, now))
            .collect();
        let hostname_match = chain
            .first()
            .is_some_and(|leaf| hostname_matches(&leaf.sans, shown));
        TlsSession {
            protocol: conn.protocol_version().map(protocol_name),
            alpn: conn
                .alpn_protocol()
                .map(|p| String::from_utf8_lossy(p).into_owned()),
            server_name: shown.to_string(),
            hostname_match,
            verification: self.verify(certs, name),
            chain,
        }
    }
}

fn untrusted(problem: CertProblem, detail: String) -> Verification {
    Verification {
        trusted: false,
        problem: Some(problem),
        detail: Some(detail),
    }
}

/// `name` as a rustls server name: an IP address (brackets allowed) or a DNS name.
fn server_name_of(name: &str) -> Option<ServerName<'static>> {
    let bare = name.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Some(ServerName::IpAddress(ip.into()));
    }
    ServerName::try_from(name.to_string()).ok()
}

fn protocol_name(v: ProtocolVersion) -> String {
    match v {
        ProtocolVersion::TLSv1_3 => "TLSv1.3".into(),
        ProtocolVersion::TLSv1_2 => "TLSv1.2".into(),
        ProtocolVersion::TLSv1_1 => "TLSv1.1".into(),
        ProtocolVersion::TLSv1_0 => "TLSv1.0".into(),
        other => format!("{other:?}"),
    }
}

/// Why the real verifier rejected a chain.
fn classify_rejection(e: &rustls::Error) -> CertProblem {
    use rustls::CertificateError as C;
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::Expired | C::ExpiredContext { .. } => CertProblem::Expired,
            C::NotValidYet | C::NotValidYetContext { .. } => CertProblem::NotYetValid,
            C::NotValidForName | C::NotValidForNameContext { .. } => CertProblem::NameMismatch,
            // A signature that no trusted key verifies: the certificate
            // names an issuer whose name is known (a self-signed `localhost`
            // next to a snakeoil `CN=localhost` root) but that did not sign it.
            C::UnknownIssuer
            | C::BadSignature
            | C::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
                CertProblem::UnknownIssuer
            }
            C::Revoked => CertProblem::Revoked,
            _ => CertProblem::Other,
        },
        _ => CertProblem::Other,
    }
}

/// Classify an error of `TlsConnector::connect`. tokio-rustls wraps rustls
/// errors in an `io::Error` of kind `InvalidData`.
fn classify_handshake_error(e: &io::Error, server_name: &str) -> Failure {
    let what = format!("TLS handshake with {server_name}");
    if let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        let kind = match tls {
            rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented => {
                FailureKind::CertificateRejected
            }
            _ => FailureKind::TlsHandshake,
        };
        return Failure::new(kind, Phase::Tls, format!("{what}: {tls}"));
    }
    match e.kind() {
        io::ErrorKind::UnexpectedEof => Failure::new(
            FailureKind::ClosedBeforeResponse,
            Phase::Tls,
            format!("{what}: the peer closed the connection"),
        ),
        io::ErrorKind::InvalidData => Failure::new(
            FailureKind::TlsHandshake,
            Phase::Tls,
            format!("{what}: {e}"),
        ),
        _ => Failure::from_io(e, Phase::Tls, &what),
    }
}

/// Parse one DER certificate; `days_left` is counted from `now`.
pub fn parse_certificate(der: &[u8], now: UnixTime) -> Option<CertInfo> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let mut sans = Vec::new();
    if let Ok(Some(ext)) = cert.subject_alternative_name() {
        for name in &ext.value.general_names {
            match name {
                GeneralName::DNSName(d) => sans.push((*d).to_string()),
                GeneralName::IPAddress(bytes) => sans.push(ip_text(bytes)),
                _ => {}
            }
        }
    }
    let not_before = cert.validity().not_before.timestamp();
    let not_after = cert.validity().not_after.timestamp();
    let self_signed = cert.subject() == cert.issuer() && cert.verify_signature(None).is_ok();
    Some(CertInfo {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        sans,
        not_before: UnixTime(not_before),
        not_after: UnixTime(not_after),
        days_left: DaysLeft(not_after.saturating_sub(now.0).div_euclid(86_400)),
        self_signed,
    })
}

/// An IP SAN in dotted (v4) or colon (v6) form.
fn ip_text(bytes: &[u8]) -> String {
    if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
        return IpAddr::from(v4).to_string();
    }
    if let Ok(v6) = <[u8; 16]>::try_from(bytes) {
        return IpAddr::from(v6).to_string();
    }
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Whether `sans` (DNS names and IP addresses, as in [`CertInfo::sans`])
/// cover `name`: IP names match IP SANs, DNS names match case-insensitively
/// with a leading `*.` standing for exactly one label.
pub fn hostname_matches(sans: &[String], name: &str) -> bool {
    let bare = name.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return sans
            .iter()
            .any(|s| s.parse::<IpAddr>().is_ok_and(|san| san == ip));
    }
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    sans.iter().any(|san| {
        let san = san.trim_end_matches('.').to_ascii_lowercase();
        if let Some(suffix) = san.strip_prefix("*.") {
            name.strip_suffix(suffix)
                .and_then(|head| head.strip_suffix('.'))
                .is_some_and(|label| !label.is_empty() && !label.contains('.'))
        } else {
            san == name
        }
    })
}

/// The verifier the handshake runs: it accepts every chain, so that the
/// handshake completes and the chain can be recorded and judged afterwards
/// by the real verifier, which still checks the handshake signatures.
#[derive(Debug)]
struct AcceptAndRecord {
    real: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for AcceptAndRecord {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: PkiTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.real.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.real.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.real.supported_verify_schemes()
    }
}

/// Make the handshake described by `spec`.
pub async fn run(spec: &TlsSpec, ctx: &ProbeContext) -> TlsObservation {
    let deadline = net::deadline_after(spec.timeout);
    let mut obs = TlsObservation::default();
    if let Err(f) = handshake_probe(spec, ctx, deadline, &mut obs).await {
        obs.failure = Some(f);
    }
    obs
}

async fn handshake_probe(
    spec: &TlsSpec,
    ctx: &ProbeContext,
    deadline: tokio::time::Instant,
    obs: &mut TlsObservation,
) -> Result<(), Failure> {
    let (host, port) = net::split_host_port(&spec.address, 443).ok_or_else(|| {
        Failure::new(
            FailureKind::Other,
            Phase::Local,
            format!("{:?} is not a host:port address", spec.address),
        )
    })?;
    let addrs = match (spec.resolve, host.parse::<IpAddr>()) {
        (Some(ip), _) | (None, Ok(ip)) => vec![SocketAddr::new(ip, port)],
        (None, Err(_)) => net::resolve(&host, port, deadline).await?,
    };

    let started = Instant::now();
    let (tcp, addr) = net::connect(&addrs, deadline).await?;
    obs.connect = Some(Millis::from(started.elapsed()));
    obs.remote_addr = Some(addr);

    let toolkit = timeout_at(deadline, ctx.tls())
        .await
        .map_err(|_| Failure::timeout(Phase::Tls, "loading trust roots: timed out"))?;
    let server_name = spec.server_name.as_deref().unwrap_or(&host);
    let (tapped, seen) = net::Tap::new(tcp);
    let started = Instant::now();
    let outcome = timeout_at(deadline, toolkit.handshake(tapped, server_name, false)).await;
    match outcome {
        Err(_) => Err(Failure::timeout(
            Phase::Tls,
            format!("TLS handshake with {addr}: timed out"),
        )),
        Ok(Err(f)) => Err(reclassify_handshake_failure(f, &seen)),
        Ok(Ok((mut stream, session))) => {
            obs.handshake = Some(Millis::from(started.elapsed()));
            obs.session = Some(session);
            // Say goodbye politely, but never wait for it past the deadline.
            let _ = timeout_at(deadline, stream.shutdown()).await;
            Ok(())
        }
    }
}

/// A handshake failure where the peer's first bytes were plain HTTP is an
/// `https://` URL pointed at a plain-HTTP port.
pub(crate) fn reclassify_handshake_failure(f: Failure, seen: &net::TapHandle) -> Failure {
    if seen.peer_spoke_http() {
        Failure::new(
            FailureKind::PlainHttpOnTls,
            Phase::Tls,
            format!("{}; the server answered in plain HTTP", f.detail),
        )
    } else {
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sans(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_string()).collect()
    }

    #[test]
    fn wildcards_cover_one_label() {
        let s = sans(&["*.example.com", "example.org"]);
        assert!(hostname_matches(&s, "a.example.com"));
        assert!(hostname_matches(&s, "A.Example.COM."));
        assert!(!hostname_matches(&s, "example.com"));
        assert!(!hostname_matches(&s, "a.b.example.com"));
        assert!(hostname_matches(&s, "example.org"));
        assert!(!hostname_matches(&s, "www.example.org"));
    }

    #[test]
    fn ip_names_match_ip_sans_only() {
        let s = sans(&["127.0.0.1", "::1", "localhost"]);
        assert!(hostname_matches(&s, "127.0.0.1"));
        assert!(hostname_matches(&s, "[::1]"));
        assert!(hostname_matches(&s, "0:0::1"));
        assert!(!hostname_matches(&s, "10.0.0.1"));
        assert!(!hostname_matches(&sans(&["*.0.0.1"]), "127.0.0.1"));
    }

    #[test]
    fn ip_sans_are_printed_as_addresses() {
        assert_eq!(ip_text(&[127, 0, 0, 1]), "127.0.0.1");
        let mut v6 = [0u8; 16];
        v6[15] = 1;
        assert_eq!(ip_text(&v6), "::1");
    }

    #[test]
    fn server_names() {
        assert!(matches!(
            server_name_of("127.0.0.1"),
            Some(ServerName::IpAddress(_))
        ));
        assert!(matches!(
            server_name_of("[::1]"),
            Some(ServerName::IpAddress(_))
        ));
        assert!(matches!(
            server_name_of("example.com"),
            Some(ServerName::DnsName(_))
        ));
        assert!(server_name_of("not a name").is_none());
    }

    #[test]
    fn failed_toolkit_reports_its_reason() {
        let t = TlsToolkit::build_failed("boom");
        let v = t.verify_chain(&[], "example.com");
        assert!(!v.trusted);
        assert!(v.detail.unwrap_or_default().contains("boom"));
    }
}

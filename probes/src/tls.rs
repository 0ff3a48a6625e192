//! The tls probe: a rustls handshake that records the peer's certificate
//! chain even when verification fails, parsed with x509-parser (expiry,
//! subject, SANs, issuer, self-signed), with the verification outcome against
//! the webpki roots, the system store and any extra CA classified.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::units::{DaysLeft, UnixTime};
use crate::{Failure, Millis, ProbeContext};

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
#[derive(Debug)]
pub struct TlsToolkit {
    /// Problems met loading trust roots (an unreadable `ca_file`).
    pub warnings: Vec<String>,
}

impl TlsToolkit {
    /// Load the webpki roots, the system store (`SSL_CERT_FILE` honoured) and
    /// the extra CA files, and build the client configurations.
    pub fn build(extra_ca_files: &[PathBuf]) -> Self {
        let _ = extra_ca_files;
        Self {
            warnings: Vec::new(),
        }
    }

    /// A toolkit whose construction failed; every handshake reports `reason`.
    pub fn build_failed(reason: &str) -> Self {
        Self {
            warnings: vec![reason.to_string()],
        }
    }
}

/// Make the handshake described by `spec`.
pub async fn run(spec: &TlsSpec, ctx: &ProbeContext) -> TlsObservation {
    let _ = (spec, ctx.tls().await);
    TlsObservation {
        failure: Some(Failure::new(
            crate::FailureKind::Other,
            crate::Phase::Local,
            "tls probe not built yet",
        )),
        ..TlsObservation::default()
    }
}

//! How a probe classifies what went wrong. Rules match on [`FailureKind`],
//! never on the human-readable `detail` that rides along.

use serde::{Deserialize, Serialize};

/// Where in a network exchange something happened, in the order curl's
/// `-w` timings name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Resolving the host name.
    Dns,
    /// Establishing the TCP connection.
    Connect,
    /// The TLS handshake.
    Tls,
    /// Writing the request.
    Request,
    /// Waiting for the first byte (and the headers) of the response.
    FirstByte,
    /// Reading the response body.
    Body,
    /// A local read (of `/proc`, `/sys`, a file).
    Local,
}

/// The classified kind of a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The name does not exist (NXDOMAIN).
    NxDomain,
    /// The name exists but has no record of the type asked for (NODATA).
    NoRecords,
    /// The DNS server could not answer (SERVFAIL).
    ServFail,
    /// The DNS server refused to answer (REFUSED).
    DnsRefused,
    /// Any other DNS error (malformed answer, no server reachable).
    DnsError,
    /// The peer answered the TCP SYN with a reset: nothing listens there.
    Refused,
    /// No route to the host or the network.
    Unreachable,
    /// The connection was reset after it was established.
    Reset,
    /// The peer closed the connection before a complete response.
    ClosedBeforeResponse,
    /// The step did not finish in time; the failure's `phase` says which step.
    Timeout,
    /// The TLS handshake failed (an alert, no common protocol or cipher).
    TlsHandshake,
    /// The TLS handshake worked but the certificate is not trusted for this
    /// name (expired, untrusted issuer, wrong host name).
    CertificateRejected,
    /// We spoke TLS and the server answered in plain HTTP: an `https://` URL
    /// pointed at a plain-HTTP port.
    PlainHttpOnTls,
    /// We spoke plain HTTP and the server answered with TLS: an `http://` URL
    /// pointed at a TLS port.
    TlsOnPlainHttp,
    /// The response was not valid HTTP.
    InvalidResponse,
    /// The response exceeded a hard limit (headers too large, redirect loop).
    LimitExceeded,
    /// The server answered but rejected our credentials (a database login).
    AuthenticationFailed,
    /// The server answered but said it cannot serve now (too many clients,
    /// starting up, loading, read-only).
    Unavailable,
    /// Permission was denied (reading `/proc`, a file).
    PermissionDenied,
    /// The thing looked for does not exist (a file, a mount point).
    NotFound,
    /// Anything else; `detail` says what.
    Other,
}

/// A classified failure with where it happened and a human-readable detail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// What kind of failure.
    pub kind: FailureKind,
    /// In which step.
    pub phase: Phase,
    /// What a person reads: the address, the OS error, the alert.
    pub detail: String,
}

impl Failure {
    /// A failure of `kind` in `phase`.
    pub fn new(kind: FailureKind, phase: Phase, detail: impl Into<String>) -> Self {
        Self {
            kind,
            phase,
            detail: detail.into(),
        }
    }

    /// A timeout in `phase`.
    pub fn timeout(phase: Phase, detail: impl Into<String>) -> Self {
        Self::new(FailureKind::Timeout, phase, detail)
    }

    /// Classify an I/O error from a socket operation in `phase`.
    pub fn from_io(err: &std::io::Error, phase: Phase, what: &str) -> Self {
        use std::io::ErrorKind as K;
        let kind = match err.kind() {
            K::ConnectionRefused => FailureKind::Refused,
            K::ConnectionReset | K::ConnectionAborted => FailureKind::Reset,
            K::UnexpectedEof | K::BrokenPipe => FailureKind::ClosedBeforeResponse,
            K::TimedOut => FailureKind::Timeout,
            K::HostUnreachable | K::NetworkUnreachable | K::AddrNotAvailable => {
                FailureKind::Unreachable
            }
            K::PermissionDenied => FailureKind::PermissionDenied,
            K::NotFound => FailureKind::NotFound,
            // A read budget ran out (`net::ReadBudget`).
            K::FileTooLarge => FailureKind::LimitExceeded,
            _ => FailureKind::Other,
        };
        Self::new(kind, phase, format!("{what}: {err}"))
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.detail)
    }
}

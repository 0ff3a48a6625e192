//! The http probe: one direct HTTP/1.1 request over a connection it owns,
//! timed phase by phase the way `curl -w` reports them (DNS, connect, TLS,
//! first byte, total), with failures classified, protocol mismatches told
//! apart, and every read bounded in bytes and in total time.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::tls::TlsSession;
use crate::{Failure, Millis, ProbeContext};

/// Most body bytes read by default; the rest is discarded unread.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;
/// Most header bytes accepted.
pub const HEADER_LIMIT: usize = 64 * 1024;
/// How much of the body the serialized observation carries.
pub const BODY_EXCERPT: usize = 1024;

/// One request to make.
#[derive(Debug, Clone)]
pub struct HttpSpec {
    /// `http://` or `https://` URL. May carry a password: never log it whole.
    pub url: Url,
    /// Connect to this address instead of resolving the host (curl `--resolve`).
    pub resolve: Option<IpAddr>,
    /// Extra request headers. Their values are secrets: never recorded.
    pub headers: Vec<(String, String)>,
    /// Budget for the whole exchange, all phases together.
    pub timeout: Duration,
    /// Redirects to follow; 0 (the default) follows none.
    pub follow_redirects: u8,
    /// Most body bytes to read.
    pub body_limit: usize,
}

impl HttpSpec {
    /// A GET of `url` with the defaults: no redirects, 64 KiB of body.
    pub fn new(url: Url, timeout: Duration) -> Self {
        Self {
            url,
            resolve: None,
            headers: Vec::new(),
            timeout,
            follow_redirects: 0,
            body_limit: DEFAULT_BODY_LIMIT,
        }
    }
}

/// Phase timings, each measured from the start of the exchange's own step
/// (not cumulative), like the differences of curl's `-w` variables. A phase
/// that did not happen (no DNS for an IP literal, no TLS for `http://`) is
/// absent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Phases {
    /// Name resolution.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub dns: Option<Millis>,
    /// TCP connect.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub connect: Option<Millis>,
    /// TLS handshake.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub tls: Option<Millis>,
    /// From the request written to the first response byte.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub first_byte: Option<Millis>,
    /// The whole exchange, start to the end of the body (or the failure).
    pub total: Millis,
}

/// Response headers that matter for diagnosis. Other headers are not kept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiagnosticHeaders {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub retry_after: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub server: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub content_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub location: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub via: Option<String>,
}

/// What the request saw.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HttpObservation {
    /// The address actually connected to (of the last hop when redirected).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub remote_addr: Option<SocketAddr>,
    /// Phase timings.
    pub phases: Phases,
    /// The response status, when a response came.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub status: Option<u16>,
    /// Selected response headers.
    #[serde(default)]
    pub headers: DiagnosticHeaders,
    /// Body bytes read (at most the spec's `body_limit`).
    #[serde(default)]
    pub body_bytes: usize,
    /// Whether the body was longer than what was read.
    #[serde(default)]
    pub body_truncated: bool,
    /// The start of the body, lossily decoded as UTF-8.
    #[serde(default)]
    pub body_excerpt: String,
    /// The body as read (up to `body_limit`), for rules that look inside.
    #[serde(skip)]
    pub body: Vec<u8>,
    /// The TLS session, for `https://`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub tls: Option<TlsSession>,
    /// Redirects followed, in order (their `Location`s, redacted).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub redirects: Vec<String>,
    /// What went wrong, if anything did.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub failure: Option<Failure>,
}

/// Make the request described by `spec`.
pub async fn run(spec: &HttpSpec, ctx: &ProbeContext) -> HttpObservation {
    let _ = (spec, ctx);
    HttpObservation {
        failure: Some(Failure::new(
            crate::FailureKind::Other,
            crate::Phase::Local,
            "http probe not built yet",
        )),
        ..HttpObservation::default()
    }
}

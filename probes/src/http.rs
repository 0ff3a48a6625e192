//! The http probe: one direct HTTP/1.1 request over a connection it owns,
//! timed phase by phase the way `curl -w` reports them (DNS, connect, TLS,
//! first byte, total), with failures classified, protocol mismatches told
//! apart, and every read bounded in bytes and in total time.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http::{Method, Request};
use http_body_util::{BodyExt, Empty};
use hyper::body::{Body, Incoming};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::timeout_at;
use url::{Host, Url};

use crate::tls::TlsSession;
use crate::{Failure, FailureKind, Millis, Phase, ProbeContext, net, redact, tls};

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
    /// The body read says it is a maintenance page ([`is_maintenance_page`]):
    /// a hint, not a verdict.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub maintenance_page: bool,
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
    let started = Instant::now();
    let deadline = net::deadline_after(spec.timeout);
    let mut obs = HttpObservation::default();
    let mut url = spec.url.clone();
    let mut hops: u8 = 0;
    loop {
        let hop = Hop {
            url: &url,
            // Like curl --resolve: only for the host and port it was given for.
            resolve: spec.resolve.filter(|_| same_host_port(&url, &spec.url)),
            // Header values are secrets: never send them to another origin.
            send_headers: url.origin() == spec.url.origin(),
        };
        let location = exchange(&hop, spec, ctx, deadline, &mut obs).await;
        let Some(next) = next_hop(spec, &url, location.as_deref(), &obs) else {
            break;
        };
        match next {
            Ok(next) if hops < spec.follow_redirects => {
                hops += 1;
                obs.redirects.push(redact::url(&next));
                url = next;
            }
            Ok(_) => {
                obs.failure = Some(Failure::new(
                    FailureKind::LimitExceeded,
                    Phase::FirstByte,
                    format!(
                        "more than {} redirect(s); the last went to {}",
                        spec.follow_redirects,
                        obs.headers.location.as_deref().unwrap_or("?")
                    ),
                ));
                break;
            }
            Err(f) => {
                obs.failure = Some(f);
                break;
            }
        }
    }
    obs.phases.total = Millis::from(started.elapsed());
    obs
}

/// Where to go next: `None` when the exchange is over (no redirect to
/// follow), else the next URL or why it cannot be followed.
fn next_hop(
    spec: &HttpSpec,
    url: &Url,
    location: Option<&str>,
    obs: &HttpObservation,
) -> Option<Result<Url, Failure>> {
    if spec.follow_redirects == 0 || obs.failure.is_some() {
        return None;
    }
    let status = obs.status?;
    if !matches!(status, 301 | 302 | 303 | 307 | 308) {
        return None;
    }
    let location = location?;
    Some(match url.join(location) {
        Ok(next) if matches!(next.scheme(), "http" | "https") => Ok(next),
        Ok(next) => Err(Failure::new(
            FailureKind::InvalidResponse,
            Phase::FirstByte,
            format!("redirect to unsupported scheme {:?}", next.scheme()),
        )),
        Err(e) => Err(Failure::new(
            FailureKind::InvalidResponse,
            Phase::FirstByte,
            format!("redirect to an invalid location: {e}"),
        )),
    })
}

fn same_host_port(a: &Url, b: &Url) -> bool {
    a.host_str() == b.host_str() && a.port_or_known_default() == b.port_or_known_default()
}

/// One request of the exchange (one redirect hop).
struct Hop<'a> {
    url: &'a Url,
    resolve: Option<IpAddr>,
    send_headers: bool,
}

/// One hop: fill `obs` with what this request saw, replacing what the
/// previous hop left (except the redirects). Returns the response's
/// `Location` as sent (unredacted: it is only used to follow it).
async fn exchange(
    hop: &Hop<'_>,
    spec: &HttpSpec,
    ctx: &ProbeContext,
    deadline: tokio::time::Instant,
    obs: &mut HttpObservation,
) -> Option<String> {
    let redirects = std::mem::take(&mut obs.redirects);
    *obs = HttpObservation {
        redirects,
        ..HttpObservation::default()
    };
    let mut location = None;
    if let Err(f) = exchange_inner(hop, spec, ctx, deadline, obs, &mut location).await {
        obs.failure = Some(f);
    }
    location
}

async fn exchange_inner(
    hop: &Hop<'_>,
    spec: &HttpSpec,
    ctx: &ProbeContext,
    deadline: tokio::time::Instant,
    obs: &mut HttpObservation,
    location: &mut Option<String>,
) -> Result<(), Failure> {
    let url = hop.url;
    let https = match url.scheme() {
        "https" => true,
        "http" => false,
        other => {
            return Err(Failure::new(
                FailureKind::Other,
                Phase::Local,
                format!("unsupported URL scheme {other:?}"),
            ));
        }
    };
    let (Some(host), Some(port)) = (url.host(), url.port_or_known_default()) else {
        return Err(Failure::new(
            FailureKind::Other,
            Phase::Local,
            "the URL has no host",
        ));
    };

    // DNS, unless told where to connect or given an address.
    let (addrs, tls_name) = match (hop.resolve, &host) {
        (Some(ip), _) => (vec![SocketAddr::new(ip, port)], host_name(&host)),
        (None, Host::Ipv4(ip)) => (vec![SocketAddr::new((*ip).into(), port)], ip.to_string()),
        (None, Host::Ipv6(ip)) => (vec![SocketAddr::new((*ip).into(), port)], ip.to_string()),
        (None, Host::Domain(name)) => {
            let t = Instant::now();
            let result = net::resolve(name, port, deadline).await;
            obs.phases.dns = Some(Millis::from(t.elapsed()));
            (result?, (*name).to_string())
        }
    };

    let t = Instant::now();
    let (tcp, addr) = net::connect(&addrs, deadline).await?;
    obs.phases.connect = Some(Millis::from(t.elapsed()));
    obs.remote_addr = Some(addr);
    let (tapped, seen) = net::Tap::new(tcp);

    if !https {
        let taps = Taps {
            wire: &seen,
            timing: &seen,
            https: false,
        };
        return request(hop, spec, deadline, tapped, &taps, obs, location).await;
    }

    let toolkit = timeout_at(deadline, ctx.tls())
        .await
        .map_err(|_| Failure::timeout(Phase::Tls, "loading trust roots: timed out"))?;
    let t = Instant::now();
    let (stream, session) =
        match timeout_at(deadline, toolkit.handshake(tapped, &tls_name, true)).await {
            Err(_) => {
                return Err(Failure::timeout(
                    Phase::Tls,
                    format!("TLS handshake with {addr}: timed out"),
                ));
            }
            Ok(Err(f)) => return Err(tls::reclassify_handshake_failure(f, &seen)),
            Ok(Ok(done)) => done,
        };
    obs.phases.tls = Some(Millis::from(t.elapsed()));
    let verification = session.verification.clone();
    obs.tls = Some(session);
    if !verification.trusted {
        // The request carries secret headers: like curl, never send it to an
        // unverified peer.
        let why = verification.detail.unwrap_or_else(|| "not trusted".into());
        return Err(Failure::new(
            FailureKind::CertificateRejected,
            Phase::Tls,
            format!("certificate of {tls_name} rejected: {why}"),
        ));
    }
    // Time the first byte above TLS: below it, a session ticket would count.
    let (timed, timing) = net::Tap::new(stream);
    let taps = Taps {
        wire: &seen,
        timing: &timing,
        https: true,
    };
    request(hop, spec, deadline, timed, &taps, obs, location).await
}

/// The host as it goes into SNI: bare IP or DNS name.
fn host_name(host: &Host<&str>) -> String {
    match host {
        Host::Domain(d) => (*d).to_string(),
        Host::Ipv4(ip) => ip.to_string(),
        Host::Ipv6(ip) => ip.to_string(),
    }
}

/// Aborts the spawned connection task when the exchange is over or dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What the taps of one connection saw.
#[derive(Clone, Copy)]
struct Taps<'a> {
    /// The raw bytes on the socket (below TLS).
    wire: &'a net::TapHandle,
    /// The first answer byte of the HTTP exchange (above TLS).
    timing: &'a net::TapHandle,
    /// Whether TLS is spoken.
    https: bool,
}

/// Send the GET over `io` (plain TCP or TLS, already tapped) and read the
/// response head and up to `body_limit` bytes of body.
async fn request<IO>(
    hop: &Hop<'_>,
    spec: &HttpSpec,
    deadline: tokio::time::Instant,
    io: IO,
    taps: &Taps<'_>,
    obs: &mut HttpObservation,
    location: &mut Option<String>,
) -> Result<(), Failure>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let Taps {
        wire,
        timing,
        https,
    } = *taps;
    let req = build_request(hop, spec)?;
    let (mut sender, conn) = hyper::client::conn::http1::Builder::new()
        .max_buf_size(HEADER_LIMIT)
        .handshake::<_, Empty<Bytes>>(TokioIo::new(io))
        .await
        .map_err(|e| classify_hyper(&e, Phase::Request, taps))?;
    let _conn = AbortOnDrop(tokio::spawn(async move {
        let _ = conn.await;
    }));

    let response = match timeout_at(deadline, sender.send_request(req)).await {
        Err(_) => {
            let detail = if wire.received_any() {
                "timed out reading the response head"
            } else {
                "timed out waiting for the first byte"
            };
            return Err(Failure::timeout(Phase::FirstByte, detail));
        }
        Ok(Err(e)) => return Err(classify_hyper(&e, Phase::FirstByte, taps)),
        Ok(Ok(r)) => r,
    };
    obs.phases.first_byte = timing.first_byte_delay().map(Millis::from);
    obs.status = Some(response.status().as_u16());
    *location = record_headers(response.headers(), obs);

    let body_result = read_body(response.into_body(), spec.body_limit, deadline, obs).await;
    obs.body_bytes = obs.body.len();
    obs.maintenance_page = is_maintenance_page(&obs.body);
    let excerpt = &obs.body[..obs.body.len().min(BODY_EXCERPT)];
    obs.body_excerpt = String::from_utf8_lossy(excerpt).into_owned();
    body_result.map_err(|e| match e {
        BodyError::Timeout => Failure::timeout(Phase::Body, "timed out reading the body"),
        BodyError::Hyper(e) => classify_hyper(&e, Phase::Body, taps),
    })?;

    if !https && obs.status == Some(400) && contains(&obs.body, NGINX_PLAIN_ON_TLS) {
        return Err(Failure::new(
            FailureKind::TlsOnPlainHttp,
            Phase::FirstByte,
            "400: the plain HTTP request was sent to an HTTPS port",
        ));
    }
    Ok(())
}

/// Whether a body says it is a maintenance page: `maintenance` as a word
/// (not inside `maintenance_mode` or `maintenances`), `temporarily down
/// for` or `scheduled downtime`, in any case.
pub fn is_maintenance_page(body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(body)
        .to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = text.as_bytes();
    let as_word = text.match_indices("maintenance").any(|(at, m)| {
        let before = at.checked_sub(1).map(|i| bytes[i]);
        let after = bytes.get(at + m.len()).copied();
        !before.is_some_and(word) && !after.is_some_and(word)
    });
    as_word || text.contains("temporarily down for") || text.contains("scheduled downtime")
}

/// What nginx answers to plain HTTP on a TLS port.
const NGINX_PLAIN_ON_TLS: &[u8] = b"The plain HTTP request was sent to HTTPS port";

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

const USER_AGENT: &str = concat!("why5xx/", env!("CARGO_PKG_VERSION"));

fn build_request(hop: &Hop<'_>, spec: &HttpSpec) -> Result<Request<Empty<Bytes>>, Failure> {
    let url = hop.url;
    let target = &url[url::Position::BeforePath..url::Position::AfterQuery];
    let target = if target.is_empty() { "/" } else { target };
    let host = match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        (None, _) => String::new(),
    };
    let invalid = |what: &str| Failure::new(FailureKind::Other, Phase::Request, what.to_string());
    let mut req = Request::builder()
        .method(Method::GET)
        .uri(target)
        .body(Empty::new())
        .map_err(|e| invalid(&format!("cannot build the request: {e}")))?;
    let headers = req.headers_mut();
    let fixed = [
        (header::HOST, host.as_str()),
        (header::USER_AGENT, USER_AGENT),
        (header::ACCEPT, "*/*"),
        (header::CONNECTION, "close"),
    ];
    for (name, value) in fixed {
        let value =
            HeaderValue::from_str(value).map_err(|_| invalid(&format!("invalid {name} header")))?;
        headers.insert(name, value);
    }
    if hop.send_headers {
        let mut replaced = Vec::new();
        for (name, value) in &spec.headers {
            // Never echo the value: it is a secret.
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| invalid(&format!("invalid request header name {name:?}")))?;
            let value = HeaderValue::from_str(value)
                .map_err(|_| invalid(&format!("request header {name} has an invalid value")))?;
            // A configured header replaces a default one of the same name.
            if !replaced.contains(&name) {
                headers.remove(&name);
                replaced.push(name.clone());
            }
            headers.append(name, value);
        }
    }
    Ok(req)
}

/// Keep the diagnostic headers; a `Location` is redacted (it may carry a
/// token). Returns the `Location` as sent.
fn record_headers(h: &http::HeaderMap, obs: &mut HttpObservation) -> Option<String> {
    let get = |name: header::HeaderName| -> Option<String> {
        let values: Vec<String> = h
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        (!values.is_empty()).then(|| truncate(values.join(", "), MAX_HEADER_KEPT))
    };
    obs.headers = DiagnosticHeaders {
        retry_after: get(header::RETRY_AFTER),
        server: get(header::SERVER),
        content_type: get(header::CONTENT_TYPE),
        location: None,
        via: get(header::VIA),
    };
    let location = h
        .get(header::LOCATION)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_string());
    obs.headers.location = location.as_deref().map(|l| {
        // A relative location stays relative, with secret-looking values redacted.
        let shown = Url::parse(l).map_or_else(|_| redact::text(l), |abs| redact::url(&abs));
        truncate(shown, MAX_HEADER_KEPT)
    });
    location
}

/// Most bytes of one header value kept in the observation.
const MAX_HEADER_KEPT: usize = 1024;

fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s
}

enum BodyError {
    Timeout,
    Hyper(hyper::Error),
}

/// Read at most `limit` body bytes into `obs.body`, setting
/// `obs.body_truncated` when there was more; the rest is never read.
async fn read_body(
    mut body: Incoming,
    limit: usize,
    deadline: tokio::time::Instant,
    obs: &mut HttpObservation,
) -> Result<(), BodyError> {
    loop {
        if obs.body.len() >= limit {
            // Exactly at the limit: is there more? One more frame tells.
            if body.is_end_stream() {
                return Ok(());
            }
            match timeout_at(deadline, body.frame()).await {
                Ok(None) => {}
                Ok(Some(Ok(frame))) => {
                    obs.body_truncated = frame.data_ref().is_some_and(|d| !d.is_empty());
                    if !obs.body_truncated {
                        continue;
                    }
                }
                // Could not tell, and did not read it all.
                Ok(Some(Err(_))) | Err(_) => obs.body_truncated = true,
            }
            return Ok(());
        }
        let frame = match timeout_at(deadline, body.frame()).await {
            Err(_) => return Err(BodyError::Timeout),
            Ok(None) => return Ok(()),
            Ok(Some(Err(e))) => return Err(BodyError::Hyper(e)),
            Ok(Some(Ok(frame))) => frame,
        };
        if let Ok(data) = frame.into_data() {
            let room = limit - obs.body.len();
            if data.len() > room {
                obs.body.extend_from_slice(&data[..room]);
                obs.body_truncated = true;
                return Ok(());
            }
            obs.body.extend_from_slice(&data);
        }
    }
}

/// Classify a hyper error in `phase`, looking first at what the peer sent:
/// a TLS record in answer to plain HTTP is a protocol mismatch whatever
/// hyper made of it.
fn classify_hyper(e: &hyper::Error, phase: Phase, taps: &Taps<'_>) -> Failure {
    if !taps.https && taps.wire.peer_spoke_tls() {
        return Failure::new(
            FailureKind::TlsOnPlainHttp,
            phase,
            "the server answered plain HTTP with TLS: this port speaks HTTPS",
        );
    }
    if let Some(io) = io_source(e) {
        let mut f = Failure::from_io(io, phase, "reading the response");
        if f.kind == FailureKind::Reset && !taps.timing.received_any() {
            // A server that closes with our request unread makes its kernel
            // answer with a reset instead of a FIN: whether the client sees
            // EOF or RST is timing. Either way it closed without answering.
            f.kind = FailureKind::ClosedBeforeResponse;
            f.detail = format!("the server closed the connection without answering (reset): {io}");
        }
        return f;
    }
    // `is_parse_too_large` exists only with hyper's server feature; the
    // message is hyper's own fixed text for `Parse::TooLarge`.
    let too_large = e.is_parse() && e.to_string().contains("too large");
    let kind = if too_large {
        FailureKind::LimitExceeded
    } else if e.is_parse() || e.is_parse_status() {
        FailureKind::InvalidResponse
    } else if e.is_incomplete_message() || e.is_canceled() || e.is_closed() {
        FailureKind::ClosedBeforeResponse
    } else if e.is_timeout() {
        FailureKind::Timeout
    } else {
        FailureKind::Other
    };
    let detail = match kind {
        FailureKind::LimitExceeded => format!("response head larger than {HEADER_LIMIT} bytes"),
        FailureKind::ClosedBeforeResponse if phase == Phase::Body => {
            "the server closed the connection before the end of the body".to_string()
        }
        FailureKind::ClosedBeforeResponse => {
            "the server closed the connection before a complete response".to_string()
        }
        _ => format!("invalid response: {e}"),
    };
    Failure::new(kind, phase, detail)
}

/// The I/O error at the root of a hyper error, if there is one.
fn io_source(e: &hyper::Error) -> Option<&std::io::Error> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        source = s.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::is_maintenance_page;

    #[test]
    fn maintenance_pages() {
        for yes in [
            "<html><head><title>Maintenance</title></head></html>",
            "We are down for MAINTENANCE.",
            "Site under maintenance-mode, back soon",
            "The shop is temporarily\n   down for an upgrade",
            "Scheduled downtime: 02:00-03:00 UTC",
        ] {
            assert!(is_maintenance_page(yes.as_bytes()), "{yes}");
        }
        for no in [
            "",
            "Internal Server Error",
            "<div class=\"maintenance_banner\" hidden></div>",
            "maintenances",
            "premaintenance check failed",
        ] {
            assert!(!is_maintenance_page(no.as_bytes()), "{no}");
        }
    }
}

//! The reverse proxy's error log (nginx's `error.log` or Apache httpd's
//! `error_log` format): the lines of the last `window` classified into
//! typed kinds — refused connections, upstream
//! timeouts, name resolution and TLS handshake failures, rate limiting,
//! descriptor and disk exhaustion — counted per kind and per upstream, with
//! the last occurrence of each. It does not judge what a kind means.
//! HAProxy's own log (rsyslog's file, `httplog` lines and its server
//! events) is read by the same probe: [`super::haproxy_log`] maps its
//! termination states onto the same kinds, keyed by the server's address
//! when the spec knows it ([`ProxyErrorLogSpec::servers`]).
//!
//! An nginx line looks like
//! `2026/11/26 09:30:12 [error] 1234#1234: *5 connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: _, request: "GET / HTTP/1.1", upstream: "http://127.0.0.1:3000/", host: "127.0.0.1:8080"`.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::haproxy_log;
use super::tail::{self, Tail, TailSummary};
use super::time::{self, LogClock, Stamp};
use crate::proxy::{Address, Host};
use crate::units::UnixTime;
use crate::{Failure, ProbeContext};

/// Default look-back: the last 15 minutes.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(15 * 60);

/// Most distinct upstreams counted per kind; later ones are not counted
/// per upstream (they still count for the kind).
pub const MAX_UPSTREAMS_PER_KIND: usize = 32;

/// Scan the end of a proxy error log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProxyErrorLogSpec {
    pub path: PathBuf,
    /// Only lines this recent count (serialized as `window_secs`).
    #[serde(rename = "window_secs", with = "super::secs")]
    pub window: Duration,
    /// Read at most this many bytes from the end of the file.
    pub max_bytes: u64,
    /// HAProxy's `backend/server` names with the address each forwards to
    /// (`app/app1` → `127.0.0.1:3000`), from its configuration: its log
    /// names servers, and lines are counted per address.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub servers: BTreeMap<String, String>,
}

impl Default for ProxyErrorLogSpec {
    fn default() -> Self {
        Self {
            path: PathBuf::from("/var/log/nginx/error.log"),
            window: DEFAULT_WINDOW,
            max_bytes: tail::DEFAULT_MAX_BYTES,
            servers: BTreeMap::new(),
        }
    }
}

/// nginx's log levels, least severe first (Apache's have the same names;
/// its `trace1`…`trace8` count as debug).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NginxLevel {
    Debug,
    Info,
    Notice,
    Warn,
    Error,
    Crit,
    Alert,
    Emerg,
}

impl NginxLevel {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "debug" => Self::Debug,
            "info" => Self::Info,
            "notice" => Self::Notice,
            "warn" => Self::Warn,
            "error" => Self::Error,
            "crit" => Self::Crit,
            "alert" => Self::Alert,
            "emerg" => Self::Emerg,
            t if t.starts_with("trace") => Self::Debug,
            _ => return None,
        })
    }
}

/// The kind of a proxy error line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProxyErrorKind {
    /// `connect() failed (111: Connection refused)`: nothing listens at the
    /// upstream's address.
    ConnectRefused,
    /// `connect() to unix:/run/app.sock failed (2: No such file or
    /// directory)`: the upstream's socket file does not exist.
    UnixSocketMissing,
    /// `connect() ... failed (13: Permission denied)`: to a unix socket, or
    /// to TCP where `SELinux` forbids it.
    ConnectPermissionDenied,
    /// Any other `connect() failed (NNN: ...)`; the errno is in the
    /// occurrence.
    ConnectOther,
    /// `upstream prematurely closed connection`.
    PrematurelyClosed,
    /// `upstream timed out (110: ...)`; the phase says while doing what.
    UpstreamTimedOut,
    /// `no live upstreams`: every server of the upstream block is marked
    /// failed.
    NoLiveUpstreams,
    /// `... could not be resolved` or `host not found in upstream "..."`;
    /// the name is in the occurrence's `upstream`.
    CouldNotResolve,
    /// `send() failed ... while resolving, resolver: ...`: the resolver
    /// itself could not be reached.
    ResolverFailed,
    /// `SSL_do_handshake() failed`; `wrong version number` is counted apart.
    SslHandshakeFailed,
    /// `peer closed connection in SSL handshake`.
    SslPeerClosedHandshake,
    /// `upstream sent invalid header` or `upstream sent no valid HTTP/1.0
    /// header`.
    InvalidHeader,
    /// `upstream sent too big header`.
    TooBigHeader,
    /// `limiting requests` (`limit_req` rejected a request).
    LimitingRequests,
    /// `limiting connections` (`limit_conn` rejected a request).
    LimitingConnections,
    /// `(24: Too many open files)`.
    TooManyOpenFiles,
    /// `(28: No space left on device)`.
    NoSpace,
    /// `worker_connections are not enough`.
    WorkerConnections,
    /// HAProxy: `Server app/app1 is DOWN, reason: …` — its health check
    /// took the server out; the reason is in the occurrence.
    ServerDown,
    /// HAProxy termination state `sQ`: the request waited in the queue for
    /// a free server slot longer than `timeout queue`.
    QueueTimeout,
    /// Apache put a backend worker in error state after a failed connect
    /// (`AH00959: ap_proxy_connect_backend disabling worker for (…) for 60s`)
    /// or refuses a request while the worker waits out its `retry`
    /// (`AH00940: HTTP: disabled connection for (…)`).
    WorkerDisabled,
    /// Apache found no free connection to the backend: `AH00941: failed to
    /// acquire connection for (…)` (its `max=` reached) or the balancer's
    /// `AH00934: all workers are busy`.
    AllWorkersBusy,
    /// Apache's `FastCGI` dispatch failed other than by a timeout: `AH01075:
    /// Error dispatching request to …`.
    FastcgiDispatch,
}

/// What nginx was doing with the upstream, from the line's `while ...`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpstreamPhase {
    /// `while connecting to upstream`.
    Connecting,
    /// `while SSL handshaking to upstream`.
    SslHandshaking,
    /// `while sending request to upstream`.
    SendingRequest,
    /// `while reading response header from upstream`.
    ReadingResponseHeader,
    /// `while reading upstream` (the body).
    ReadingResponseBody,
}

impl UpstreamPhase {
    fn parse(message: &str) -> Option<Self> {
        let w = &message[message.find(" while ")? + 7..];
        Some(if w.starts_with("connecting to upstream") {
            Self::Connecting
        } else if w.starts_with("SSL handshaking to upstream") {
            Self::SslHandshaking
        } else if w.starts_with("sending request to upstream") {
            Self::SendingRequest
        } else if w.starts_with("reading response header from upstream") {
            Self::ReadingResponseHeader
        } else if w.starts_with("reading upstream") {
            Self::ReadingResponseBody
        } else {
            return None;
        })
    }
}

/// A request line as logged: method and path, the query string dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestLine {
    pub method: String,
    pub path: String,
}

/// One classified line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxyErrorOccurrence {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub time: Option<UnixTime>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub level: Option<NginxLevel>,
    /// The upstream as `scheme://host:port` or `scheme://unix:/path` (its
    /// URI dropped); for [`ProxyErrorKind::CouldNotResolve`] the name that
    /// failed, for [`ProxyErrorKind::ResolverFailed`] the resolver.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub upstream: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub server: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub request: Option<RequestLine>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub host: Option<String>,
    /// The OS error number in `(NNN: ...)`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub errno: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub phase: Option<UpstreamPhase>,
    /// An `SSL_do_handshake()` failure with `wrong version number`: the
    /// peer did not answer in TLS.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub wrong_version_number: bool,
    /// HAProxy: the status it answered, and for a server taken DOWN its
    /// check's reason (`Layer4 connection problem: Connection refused`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reason: Option<String>,
    /// The line, redacted and cut to 512 characters.
    pub line: String,
}

/// One kind's lines within the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxyErrorStats {
    pub kind: ProxyErrorKind,
    pub count: u64,
    /// Lines per upstream (see [`ProxyErrorOccurrence::upstream`]).
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub by_upstream: BTreeMap<String, u64>,
    /// Lines per phase, where the line says one.
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub by_phase: BTreeMap<UpstreamPhase, u64>,
    /// Lines flagged `wrong version number`.
    #[serde(skip_serializing_if = "is_zero", default)]
    pub wrong_version_number: u64,
    /// The newest line of this kind.
    pub last: ProxyErrorOccurrence,
}

#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde passes a reference"
)]
fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// What the proxy error log probe saw.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxyErrorLogObservation {
    pub path: PathBuf,
    pub window_secs: u64,
    /// How much of the file was read.
    pub read: TailSummary,
    /// The offset applied to nginx's local timestamps.
    pub clock: LogClock,
    /// Lines read.
    pub lines_scanned: u64,
    /// Timestamped lines within the window.
    pub lines_in_window: u64,
    /// Oldest and newest timestamps among the lines read.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub first_time: Option<UnixTime>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub last_time: Option<UnixTime>,
    /// The window reaches back past the oldest line read: lines of the
    /// window may be missing.
    pub truncated: bool,
    /// Lines in the window per level.
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub by_level: BTreeMap<NginxLevel, u64>,
    /// Classified lines in the window, most frequent kind first.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub kinds: Vec<ProxyErrorStats>,
    /// Lines at `error` or above in the window that no kind matched.
    #[serde(skip_serializing_if = "is_zero", default)]
    pub unclassified_errors: u64,
    /// The newest of those, redacted and cut.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub last_unclassified: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub failure: Option<Failure>,
}

impl ProxyErrorLogObservation {
    /// The stats of `kind`, if any line of it was in the window.
    pub fn kind(&self, kind: ProxyErrorKind) -> Option<&ProxyErrorStats> {
        self.kinds.iter().find(|k| k.kind == kind)
    }

    /// Lines of `kind` in the window.
    pub fn count(&self, kind: ProxyErrorKind) -> u64 {
        self.kind(kind).map_or(0, |k| k.count)
    }

    /// Lines of `kind` in the window that concern `target` (all of them for
    /// `None`): each upstream key is parsed with [`Address::parse`] and
    /// compared with [`Address::same_endpoint`], so `127.0.0.1:3000` does not
    /// count the lines of `127.0.0.1:30001`. A key that is a bare host name
    /// (`backend.internal could not be resolved`) counts for every target
    /// on that host. Keys that parse as neither count for no target.
    pub fn count_for(&self, kind: ProxyErrorKind, target: Option<&Address>) -> u64 {
        let Some(stats) = self.kind(kind) else {
            return 0;
        };
        let Some(target) = target else {
            return stats.count;
        };
        stats
            .by_upstream
            .iter()
            .filter(|(key, _)| key_concerns(key, target))
            .map(|(_, n)| *n)
            .sum()
    }
}

/// Whether an upstream key of [`ProxyErrorStats::by_upstream`] names
/// `target`: the same endpoint, or for a bare host name, the same host.
fn key_concerns(key: &str, target: &Address) -> bool {
    if let Some(address) = Address::parse(key) {
        return address.same_endpoint(target);
    }
    let bare_name = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
    match target {
        Address::Tcp { host, .. } if bare_name => Host::parse(key).same_host(host),
        _ => false,
    }
}

/// One nginx error log line taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedLine<'a> {
    pub stamp: Stamp,
    pub level: Option<NginxLevel>,
    /// The text after `pid#tid: *conn `, up to the `, client: ` context.
    pub message: &'a str,
    pub client: Option<&'a str>,
    pub server: Option<&'a str>,
    pub request: Option<&'a str>,
    pub upstream: Option<&'a str>,
    pub host: Option<&'a str>,
}

/// The value of `key` in nginx's `, key: value` context: quoted (up to the
/// closing quote) or bare (up to the next `, `). An unterminated quote runs
/// to the end.
fn context_value<'a>(ctx: &'a str, key: &str) -> Option<&'a str> {
    let pat = format!(", {key}: ");
    let at = ctx.find(&pat)? + pat.len();
    let rest = &ctx[at..];
    if let Some(q) = rest.strip_prefix('"') {
        Some(q.find('"').map_or(q, |e| &q[..e]))
    } else {
        Some(rest.find(", ").map_or(rest, |e| &rest[..e]))
    }
}

/// Take an nginx error log line apart; `None` if it does not start with a
/// `YYYY/MM/DD HH:MM:SS` timestamp.
pub fn parse_line(line: &str) -> Option<ParsedLine<'_>> {
    let stamp = time::parse_nginx(line)?;
    let rest = line.get(19..)?.trim_start();
    let (level, rest) = match rest.strip_prefix('[').and_then(|r| r.split_once(']')) {
        Some((lvl, r)) => (NginxLevel::parse(lvl), r.trim_start()),
        None => (None, rest),
    };
    // `1234#1234: ` then optionally `*5 `.
    let rest = match rest.split_once(": ") {
        Some((pid, r))
            if pid.contains('#') && pid.bytes().all(|b| b.is_ascii_digit() || b == b'#') =>
        {
            r
        }
        _ => rest,
    };
    let rest = match rest.strip_prefix('*').and_then(|r| r.split_once(' ')) {
        Some((conn, r)) if conn.bytes().all(|b| b.is_ascii_digit()) => r,
        _ => rest,
    };
    let (message, ctx) = match rest.find(", client: ") {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    Some(ParsedLine {
        stamp,
        level,
        message,
        client: context_value(ctx, "client"),
        server: context_value(ctx, "server").filter(|s| !s.is_empty()),
        request: context_value(ctx, "request"),
        upstream: context_value(ctx, "upstream"),
        host: context_value(ctx, "host"),
    })
}

/// A classified message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classified {
    pub kind: ProxyErrorKind,
    pub errno: Option<u32>,
    pub phase: Option<UpstreamPhase>,
    pub wrong_version_number: bool,
    /// A name the message itself carries: the unresolved host, the resolver.
    pub name: Option<String>,
    /// The peer the message itself names (`connect() to unix:/run/app.sock
    /// failed`), for lines without an `upstream:` context.
    pub peer: Option<String>,
}

/// The errno of the first `(NNN: ` in `s`.
fn errno(s: &str) -> Option<u32> {
    let mut rest = s;
    while let Some(i) = rest.find('(') {
        rest = &rest[i + 1..];
        if let Some((n, _)) = rest.split_once(": ")
            && !n.is_empty()
            && n.len() <= 4
            && n.bytes().all(|b| b.is_ascii_digit())
        {
            return n.parse().ok();
        }
    }
    None
}

/// Classify the message part of an nginx error line.
pub fn classify(message: &str) -> Option<Classified> {
    use ProxyErrorKind as K;
    let m = message;
    let errno = errno(m);
    let phase = UpstreamPhase::parse(m);
    let mut name = None;
    let kind = if m.contains("Too many open files") {
        K::TooManyOpenFiles
    } else if m.contains("No space left on device") {
        K::NoSpace
    } else if m.contains("worker_connections are not enough") {
        K::WorkerConnections
    } else if m.contains("upstream timed out") {
        K::UpstreamTimedOut
    } else if m.contains("connect() ") && m.contains("failed (") {
        match errno {
            Some(111) => K::ConnectRefused,
            Some(13) => K::ConnectPermissionDenied,
            Some(2) if m.contains("connect() to unix:") => K::UnixSocketMissing,
            _ => K::ConnectOther,
        }
    } else if m.contains("upstream prematurely closed connection") {
        K::PrematurelyClosed
    } else if m.contains("no live upstreams") {
        K::NoLiveUpstreams
    } else if let Some(i) = m.find(" could not be resolved") {
        name = m[..i].rsplit(' ').next().map(str::to_string);
        K::CouldNotResolve
    } else if let Some(i) = m.find("host not found in upstream \"") {
        let rest = &m[i + 28..];
        name = rest.split('"').next().map(str::to_string);
        K::CouldNotResolve
    } else if m.contains("while resolving") {
        name = m
            .split_once("resolver: ")
            .map(|(_, r)| r.split([',', ' ']).next().unwrap_or(r).to_string());
        K::ResolverFailed
    } else if m.contains("peer closed connection in SSL handshake") {
        K::SslPeerClosedHandshake
    } else if m.contains("SSL_do_handshake() failed") {
        K::SslHandshakeFailed
    } else if m.contains("upstream sent too big header") {
        K::TooBigHeader
    } else if m.contains("upstream sent invalid header")
        || m.contains("upstream sent no valid HTTP/1.0 header")
    {
        K::InvalidHeader
    } else if m.contains("limiting requests") {
        K::LimitingRequests
    } else if m.contains("limiting connections") {
        K::LimitingConnections
    } else {
        return None;
    };
    Some(Classified {
        kind,
        errno,
        phase,
        wrong_version_number: kind == K::SslHandshakeFailed && m.contains("wrong version number"),
        name,
        peer: connect_peer(m),
    })
}

/// One Apache httpd error log line taken apart:
/// `[Wed Oct 11 14:32:52.123456 2000] [proxy:error] [pid 123:tid 456]
/// (111)Connection refused: [client 1.2.3.4:5678] AH00957: …`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApacheLine<'a> {
    pub stamp: Stamp,
    /// `proxy`, `proxy_http`, `proxy_fcgi`, `core`, …
    pub module: &'a str,
    pub level: Option<NginxLevel>,
    /// `pid 123:tid 456`: lines of one request share it.
    pub thread: &'a str,
    /// The OS (or APR) error number in `(111)Connection refused: `; `EAI`
    /// errors (`(EAI 2)…`) have none.
    pub errno: Option<u32>,
    pub client: Option<&'a str>,
    /// `AH00957`.
    pub code: Option<&'a str>,
    /// The text after the code.
    pub message: &'a str,
}

/// Take an Apache error log line apart; `None` when it does not start
/// with Apache's `[Www Mmm DD HH:MM:SS.uuuuuu YYYY]`.
pub fn parse_apache_line(line: &str) -> Option<ApacheLine<'_>> {
    let (stamp, len) = time::parse_apache(line)?;
    let mut rest = line.get(len..)?.trim_start();
    // `[proxy:error]`; Apache 2.2 wrote only the level (`[error]`).
    let (module, level) = bracket(&mut rest)
        .map(|m| match m.split_once(':') {
            Some(x) => x,
            None if NginxLevel::parse(m).is_some() => ("", m),
            None => (m, ""),
        })
        .unwrap_or_default();
    let thread = if rest.starts_with("[pid ") {
        bracket(&mut rest).unwrap_or_default()
    } else {
        ""
    };
    let mut errno = None;
    if let Some(r) = rest.strip_prefix('(')
        && let Some((n, after)) = r.split_once(')')
        && let Some((_, after)) = after.split_once(": ")
    {
        errno = n.parse().ok();
        rest = after;
    }
    let mut client = None;
    while rest.starts_with("[client ") || rest.starts_with("[remote ") {
        let inner = bracket(&mut rest).unwrap_or_default();
        if let Some(c) = inner.strip_prefix("client ") {
            client = Some(c);
        }
    }
    let code = rest
        .get(..7)
        .filter(|c| c.starts_with("AH") && c[2..].bytes().all(|b| b.is_ascii_digit()))
        .filter(|_| rest.get(7..9) == Some(": "));
    if code.is_some() {
        rest = &rest[9..];
    }
    Some(ApacheLine {
        stamp,
        module,
        level: NginxLevel::parse(level),
        thread,
        errno,
        client,
        code,
        message: rest,
    })
}

/// The inside of the `[…]` at the start of `rest`, moving past it.
fn bracket<'a>(rest: &mut &'a str) -> Option<&'a str> {
    let r = rest.strip_prefix('[')?;
    let (inner, after) = r.split_once(']')?;
    *rest = after.trim_start();
    Some(inner)
}

/// What an Apache line means here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApacheMeaning {
    /// A kind, with the backend the line names (`127.0.0.1:3000`,
    /// `unix:/run/app.sock`, the name that did not resolve, the balancer).
    Kind(ProxyErrorKind, Option<String>),
    /// A known follow-up of the line before it in the same request
    /// (`AH01114` after `AH00957`, `AH00898: Error reading from remote
    /// server` after `AH01102`): not counted again. It may name the
    /// backend the next line of the request needs.
    FollowUp(Option<String>),
    /// A known request-level summary: counted as `kind` only when no line
    /// of the same request was counted before it.
    Summary(ProxyErrorKind, Option<String>),
}

/// The APR error of an expired timeout.
const APR_TIMEUP: u32 = 70_007;

/// Classify an Apache line by its AH code (and its errno); `None` for a
/// line this probe does not know.
pub fn classify_apache(l: &ApacheLine<'_>) -> Option<ApacheMeaning> {
    use ApacheMeaning::{FollowUp, Kind, Summary};
    use ProxyErrorKind as K;
    let m = l.message;
    // The first word after `marker`, without the parentheses around it.
    let after = |marker: &str| -> Option<String> {
        let rest = &m[m.find(marker)? + marker.len()..];
        let word = rest.split_whitespace().next()?;
        let word = word.trim_start_matches('(').trim_end_matches(')');
        (!word.is_empty()).then(|| crate::redact::text(word))
    };
    let connect_kind = |unix: bool| match l.errno {
        Some(111) => K::ConnectRefused,
        Some(13) => K::ConnectPermissionDenied,
        Some(2) if unix => K::UnixSocketMissing,
        _ => K::ConnectOther,
    };
    Some(match l.code? {
        "AH00957" => Kind(connect_kind(false), after("attempt to connect to ")),
        "AH02454" => Kind(
            connect_kind(true),
            after("Unix domain socket ").map(|p| format!("unix:{p}")),
        ),
        "AH01114" | "AH01079" => Summary(K::ConnectRefused, after("connection to backend: ")),
        "AH00959" => Kind(K::WorkerDisabled, after("disabling worker for ")),
        "AH00940" => Kind(K::WorkerDisabled, after("disabled connection for ")),
        "AH00941" => Kind(
            K::AllWorkersBusy,
            after("failed to acquire connection for "),
        ),
        "AH00934" => Kind(K::AllWorkersBusy, None),
        "AH01102" => Kind(
            if l.errno == Some(APR_TIMEUP) {
                K::UpstreamTimedOut
            } else {
                K::PrematurelyClosed
            },
            m.rsplit(' ').next().map(crate::redact::text),
        ),
        "AH01075" => Kind(
            if l.errno == Some(APR_TIMEUP) {
                K::UpstreamTimedOut
            } else {
                K::FastcgiDispatch
            },
            after("dispatching request to ").map(|p| p.trim_end_matches(':').to_string()),
        ),
        "AH01167" | "AH01170" | "AH01171" => Kind(
            K::NoLiveUpstreams,
            m.split(':')
                .next()
                .filter(|b| b.starts_with("balancer"))
                .map(|_| m.split(": ").next().unwrap_or(m).to_string()),
        ),
        "AH00898" if m.starts_with("DNS lookup failure for: ") => {
            Kind(K::CouldNotResolve, after("DNS lookup failure for: "))
        }
        "AH00898" if m.starts_with("Error during SSL Handshake") => {
            Kind(K::SslHandshakeFailed, None)
        }
        "AH00898" => FollowUp(None),
        "AH01084" | "AH01097" => FollowUp(after(" failed to ")),
        _ => return None,
    })
}

/// The `X` of `connect() to X failed`: nginx names unix socket peers so.
fn connect_peer(message: &str) -> Option<String> {
    let rest = &message[message.find("connect() to ")? + 13..];
    let (peer, _) = rest.split_once(" failed")?;
    (!peer.is_empty() && !peer.contains(' ')).then(|| crate::redact::text(peer))
}

/// `http://127.0.0.1:3000/x?y` → `http://127.0.0.1:3000`;
/// `http://unix:/run/app.sock:/x` → `http://unix:/run/app.sock`.
pub fn upstream_peer(upstream: &str) -> String {
    let (scheme, rest) = upstream.split_once("://").unwrap_or(("", upstream));
    let peer = if let Some(sock) = rest.strip_prefix("unix:") {
        format!("unix:{}", sock.split(':').next().unwrap_or(sock))
    } else {
        rest.split(['/', '?']).next().unwrap_or(rest).to_string()
    };
    let peer = crate::redact::text(&peer);
    if scheme.is_empty() {
        peer
    } else {
        format!("{scheme}://{peer}")
    }
}

/// `"GET /a/b?c=d HTTP/1.1"` → `GET /a/b`; `None` for a garbled request.
pub fn request_line(request: &str) -> Option<RequestLine> {
    let mut parts = request.split(' ');
    let method = parts.next()?;
    let target = parts.next()?;
    let method_ok = !method.is_empty()
        && method.len() <= 16
        && method
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b == b'-' || b == b'_');
    if !method_ok || !(target.starts_with('/') || target.contains("://") || target == "*") {
        return None;
    }
    let path = target.split(['?', '#']).next().unwrap_or(target);
    Some(RequestLine {
        method: method.to_string(),
        path: super::truncate_chars(&crate::redact::text(path), 256),
    })
}

#[derive(Default)]
struct Acc {
    count: u64,
    by_upstream: BTreeMap<String, u64>,
    by_phase: BTreeMap<UpstreamPhase, u64>,
    wrong_version_number: u64,
    last: ProxyErrorOccurrence,
}

impl Acc {
    /// Count one line of this kind; it becomes the last.
    fn add(&mut self, o: ProxyErrorOccurrence) {
        self.count += 1;
        if let Some(u) = &o.upstream
            && (self.by_upstream.len() < MAX_UPSTREAMS_PER_KIND || self.by_upstream.contains_key(u))
        {
            *self.by_upstream.entry(u.clone()).or_default() += 1;
        }
        if let Some(ph) = o.phase {
            *self.by_phase.entry(ph).or_default() += 1;
        }
        self.wrong_version_number += u64::from(o.wrong_version_number);
        self.last = o;
    }
}

/// A HAProxy line as an occurrence of its kind: keyed by the server's
/// address when `servers` knows it, else by `backend/server` (a backend
/// without a server by `backend NAME`).
fn haproxy_occurrence(
    h: &haproxy_log::HaproxyLine,
    t: UnixTime,
    line: &str,
    servers: &BTreeMap<String, String>,
) -> Option<(ProxyErrorKind, ProxyErrorOccurrence)> {
    use haproxy_log::HaproxyEvent as E;
    let c = haproxy_log::classify(&h.event)?;
    let server_key = |b: &str, s: &str| {
        let name = format!("{b}/{s}");
        servers.get(&name).cloned().unwrap_or(name)
    };
    let mut o = ProxyErrorOccurrence {
        time: Some(t),
        phase: c.phase,
        line: super::excerpt(line),
        ..ProxyErrorOccurrence::default()
    };
    match &h.event {
        E::Request {
            frontend,
            backend,
            server,
            status,
            request,
            ..
        } => {
            o.upstream = Some(if server == haproxy_log::NOSRV {
                format!("backend {backend}")
            } else {
                server_key(backend, server)
            });
            o.server = Some(frontend.clone());
            o.status = *status;
            o.request.clone_from(request);
        }
        E::ServerDown {
            backend,
            server,
            reason,
        } => {
            o.upstream = Some(server_key(backend, server));
            o.reason = Some(reason.clone());
        }
        E::NoServerAvailable { backend } => o.upstream = Some(format!("backend {backend}")),
    }
    Some((c.kind, o))
}

/// One line of either format, classified.
struct Entry<'a> {
    stamp: Stamp,
    level: Option<NginxLevel>,
    /// The kind and its occurrence details; `None` for a line no kind
    /// matched (`known`: it is a follow-up, not an unclassified error).
    kind: Option<(Classified, Option<String>)>,
    known: bool,
    server: Option<&'a str>,
    request: Option<&'a str>,
    host: Option<&'a str>,
}

/// A stamp of either format at the start of `line`.
fn stamp_of(line: &str) -> Option<Stamp> {
    time::parse_nginx(line).or_else(|| time::parse_apache(line).map(|(s, _)| s))
}

/// What the lines of one Apache request (one `pid:tid`) said so far.
#[derive(Default)]
struct ApacheRequest {
    client: Option<String>,
    /// A kind was counted for this request.
    counted: bool,
    /// The backend the last line named.
    peer: Option<String>,
}

fn classified(kind: ProxyErrorKind, errno: Option<u32>) -> Classified {
    Classified {
        kind,
        errno,
        phase: match kind {
            ProxyErrorKind::UpstreamTimedOut => Some(UpstreamPhase::ReadingResponseHeader),
            _ => None,
        },
        wrong_version_number: false,
        name: None,
        peer: None,
    }
}

/// An Apache line as an entry; `requests` carries what earlier lines of
/// the same request said.
fn apache_entry<'a>(
    line: &'a str,
    requests: &mut HashMap<String, ApacheRequest>,
) -> Option<Entry<'a>> {
    let a = parse_apache_line(line)?;
    let meaning = classify_apache(&a);
    let req = requests.entry(a.thread.to_string()).or_default();
    if a.client.is_some() && req.client.as_deref() != a.client {
        // A new request on this thread (lines before the client is known
        // belong to the request that follows).
        if req.client.is_some() {
            *req = ApacheRequest::default();
        }
        req.client = a.client.map(str::to_string);
    }
    let mut entry = Entry {
        stamp: a.stamp,
        level: a.level,
        kind: None,
        known: meaning.is_some(),
        server: None,
        request: None,
        host: None,
    };
    match meaning {
        Some(ApacheMeaning::Kind(kind, peer)) => {
            let peer = peer.or_else(|| req.peer.clone());
            req.counted = true;
            req.peer.clone_from(&peer);
            entry.kind = Some((classified(kind, a.errno), peer));
        }
        Some(ApacheMeaning::Summary(kind, peer)) => {
            if !req.counted {
                entry.kind = Some((classified(kind, a.errno), peer.clone()));
                req.peer = peer;
            }
            // The request is over: the next line on this thread is another's.
            *req = ApacheRequest::default();
        }
        Some(ApacheMeaning::FollowUp(peer)) if peer.is_some() => req.peer = peer,
        Some(ApacheMeaning::FollowUp(_)) | None => {}
    }
    Some(entry)
}

/// An nginx line as an entry.
fn nginx_entry(line: &str) -> Option<Entry<'_>> {
    let p = parse_line(line)?;
    let kind = classify(p.message).map(|c| {
        let upstream = c
            .name
            .clone()
            .or_else(|| p.upstream.map(upstream_peer))
            .or_else(|| c.peer.clone());
        (c, upstream)
    });
    Some(Entry {
        stamp: p.stamp,
        level: p.level,
        known: kind.is_some(),
        kind,
        server: p.server,
        request: p.request,
        host: p.host,
    })
}

/// Classify the lines of `tail` that fall within `window` before `now`:
/// nginx's, Apache's and HAProxy's formats alike.
pub fn analyze(tail: &Tail, window: Duration, now: UnixTime) -> ProxyErrorLogObservation {
    analyze_with(tail, window, now, &BTreeMap::new())
}

/// A line of any proxy: nginx's and Apache's error lines as entries,
/// HAProxy's log lines as they are.
enum Line<'a> {
    Entry(Entry<'a>),
    Haproxy(haproxy_log::HaproxyLine),
}

impl Line<'_> {
    fn stamp(&self) -> Stamp {
        match self {
            Self::Entry(e) => e.stamp,
            Self::Haproxy(h) => h.stamp,
        }
    }
}

/// The timestamp of a line of any proxy.
fn line_stamp(line: &str, now: UnixTime) -> Option<Stamp> {
    stamp_of(line).or_else(|| haproxy_log::parse_line(line, now).map(|h| h.stamp))
}

/// [`analyze`], with HAProxy's `backend/server` → address map.
pub fn analyze_with(
    tail: &Tail,
    window: Duration,
    now: UnixTime,
    servers: &BTreeMap<String, String>,
) -> ProxyErrorLogObservation {
    let mut requests = HashMap::new();
    let entries: Vec<Option<Line<'_>>> = tail
        .lines
        .iter()
        .map(|l| {
            nginx_entry(l)
                .or_else(|| apache_entry(l, &mut requests))
                .map(Line::Entry)
                .or_else(|| haproxy_log::parse_line(l, now).map(Line::Haproxy))
        })
        .collect();
    let newest_wall = time::anchor_wall(entries.iter().rev().flatten().map(Line::stamp).next());
    let clock = LogClock::anchor(newest_wall, tail.mtime);
    let since = now.0 - i64::try_from(window.as_secs()).unwrap_or(i64::MAX);
    let mut obs = ProxyErrorLogObservation {
        window_secs: window.as_secs(),
        read: tail.summary.clone(),
        clock,
        lines_scanned: tail.lines.len() as u64,
        ..ProxyErrorLogObservation::default()
    };
    let mut acc: HashMap<ProxyErrorKind, Acc> = HashMap::new();
    for (line, p) in tail.lines.iter().zip(entries) {
        let Some(p) = p else { continue };
        let t = p.stamp().to_unix(clock);
        obs.first_time = Some(obs.first_time.map_or(t, |f| f.min(t)));
        obs.last_time = Some(obs.last_time.map_or(t, |l| l.max(t)));
        if t.0 < since {
            continue;
        }
        obs.lines_in_window += 1;
        let p = match p {
            Line::Entry(p) => p,
            Line::Haproxy(h) => {
                if let Some((kind, occurrence)) = haproxy_occurrence(&h, t, line, servers) {
                    acc.entry(kind).or_default().add(occurrence);
                }
                continue;
            }
        };
        if let Some(level) = p.level {
            *obs.by_level.entry(level).or_default() += 1;
        }
        let Some((c, upstream)) = p.kind else {
            if !p.known && p.level.is_some_and(|l| l >= NginxLevel::Error) {
                obs.unclassified_errors += 1;
                obs.last_unclassified = Some(super::excerpt(line));
            }
            continue;
        };
        acc.entry(c.kind).or_default().add(ProxyErrorOccurrence {
            time: Some(t),
            level: p.level,
            upstream,
            server: p.server.map(str::to_string),
            request: p.request.and_then(request_line),
            host: p.host.map(|h| super::truncate_chars(h, 256)),
            errno: c.errno,
            phase: c.phase,
            wrong_version_number: c.wrong_version_number,
            status: None,
            reason: None,
            line: super::excerpt(line),
        });
    }
    // The window reaches past what was read if the oldest line read is
    // inside it and older lines exist unread.
    obs.truncated = tail.summary.started_mid_file && obs.first_time.is_some_and(|f| f.0 >= since);
    let mut kinds: Vec<ProxyErrorStats> = acc
        .into_iter()
        .map(|(kind, a)| ProxyErrorStats {
            kind,
            count: a.count,
            by_upstream: a.by_upstream,
            by_phase: a.by_phase,
            wrong_version_number: a.wrong_version_number,
            last: a.last,
        })
        .collect();
    kinds.sort_by(|a, b| b.count.cmp(&a.count).then(a.kind.cmp(&b.kind)));
    obs.kinds = kinds;
    obs
}

/// Read the end of the log (and `<path>.1` when the log alone does not
/// cover the window) and classify it. Blocking.
pub fn scan(spec: &ProxyErrorLogSpec, now: UnixTime) -> ProxyErrorLogObservation {
    let since = now.0 - i64::try_from(spec.window.as_secs()).unwrap_or(i64::MAX);
    let mut obs = match tail::read_tail(&spec.path, spec.max_bytes) {
        Ok(mut t) => {
            tail::extend_with_predecessor(&mut t, &spec.path, spec.max_bytes, |t| {
                // The oldest line read is inside the window (or there is none).
                let clock = LogClock::anchor(
                    t.lines
                        .iter()
                        .rev()
                        .find_map(|l| line_stamp(l, now))
                        .map(|s| s.wall),
                    t.mtime,
                );
                t.lines
                    .iter()
                    .find_map(|l| line_stamp(l, now))
                    .is_none_or(|s| s.to_unix(clock).0 >= since)
            });
            analyze_with(&t, spec.window, now, &spec.servers)
        }
        Err(f) => ProxyErrorLogObservation {
            window_secs: spec.window.as_secs(),
            failure: Some(f),
            ..ProxyErrorLogObservation::default()
        },
    };
    obs.path.clone_from(&spec.path);
    obs
}

/// Run the probe: scan the log on a blocking thread. Never fails.
pub async fn run_proxy_error_log(
    spec: &ProxyErrorLogSpec,
    _ctx: &ProbeContext,
) -> ProxyErrorLogObservation {
    super::scan_blocking(
        spec,
        scan,
        |failure| ProxyErrorLogObservation {
            path: spec.path.clone(),
            window_secs: spec.window.as_secs(),
            failure: Some(failure),
            ..ProxyErrorLogObservation::default()
        },
        &spec.path,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    const REFUSED: &str = r#"2026/11/26 09:30:12 [error] 1234#1234: *5 connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: _, request: "GET /api/x?token=abc HTTP/1.1", upstream: "http://127.0.0.1:3000/api/x?token=abc", host: "127.0.0.1:8080""#;

    #[test]
    fn parses_the_context_fields() {
        let p = parse_line(REFUSED).unwrap();
        assert_eq!(p.level, Some(NginxLevel::Error));
        assert_eq!(
            p.message,
            "connect() failed (111: Connection refused) while connecting to upstream"
        );
        assert_eq!(p.client, Some("127.0.0.1"));
        assert_eq!(p.server, Some("_"));
        assert_eq!(p.request, Some("GET /api/x?token=abc HTTP/1.1"));
        assert_eq!(p.upstream, Some("http://127.0.0.1:3000/api/x?token=abc"));
        assert_eq!(p.host, Some("127.0.0.1:8080"));
        assert_eq!(
            request_line(p.request.unwrap()),
            Some(RequestLine {
                method: "GET".into(),
                path: "/api/x".into()
            })
        );
        assert_eq!(upstream_peer(p.upstream.unwrap()), "http://127.0.0.1:3000");
    }

    #[test]
    fn empty_server_and_garbled_request() {
        let l = "2026/11/26 11:09:23 [info] 5891#5891: *12 client sent invalid method while reading client request line, client: 127.0.0.1, server: , request: \"\u{16}\u{3} junk";
        let p = parse_line(l).unwrap();
        assert_eq!(p.server, None);
        assert_eq!(p.request.and_then(request_line), None);
        assert_eq!(classify(p.message), None);
    }

    #[test]
    fn unix_socket_peer() {
        assert_eq!(
            upstream_peer("http://unix:/run/app.sock:/x?y=1"),
            "http://unix:/run/app.sock"
        );
        assert_eq!(
            upstream_peer("fastcgi://unix:/run/php/php8.2-fpm.sock:"),
            "fastcgi://unix:/run/php/php8.2-fpm.sock"
        );
    }

    #[test]
    fn errno_is_the_first_parenthesised_number() {
        assert_eq!(
            errno("connect() failed (113: No route to host) while"),
            Some(113)
        );
        assert_eq!(
            errno("upstream (x) timed out (110: Connection timed out)"),
            Some(110)
        );
        assert_eq!(errno("no errno here (abc)"), None);
    }
}

//! The reverse proxy in front of the application: which nginx, haproxy or
//! Apache httpd runs here, which configuration it runs with, and what that configuration
//! says — where each location forwards to, with which timeouts, rate limits
//! and maintenance switches, where it logs, and which configuration files
//! changed after the running proxy started (a change not yet reloaded).
//!
//! Discovery ([`discover`]) reads `/proc`; the readers ([`nginx`],
//! [`haproxy`], [`apache`]) read configuration files with hard bounds and keep every
//! fact's file and line ([`Origin`]). A configuration that cannot be fully
//! parsed still yields the part that could, plus warnings naming `file:line`;
//! only a missing or unreadable main file is a [`Failure`].
//!
//! Rules read the configuration through [`ProxyModel`]
//! ([`ProxyObservation::model`]), the same whatever the proxy, and compare
//! addresses with [`Address::same_endpoint`], never as text.

pub mod apache;
pub mod discover;
mod files;
pub mod haproxy;
pub mod model;
pub mod nginx;

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use discover::{Master, discover_masters};
pub use model::{
    AccessLog, BackendEvent, Dialect, Limit, LimitKind, MaintenanceSwitch, ProxyListener,
    ProxyModel, TimeoutKind,
};

use crate::units::UnixTime;
use crate::{Failure, FailureKind, Millis, Phase, ProbeContext};

/// A file modified less than this long after the master's start time is
/// not reported as changed after the start: the start time is only known
/// to about a hundredth of a second, and file times are coarse.
pub const CHANGE_SLACK_MS: i64 = 500;

/// At most this many warnings are kept in an observation; the last one
/// says how many more there were.
pub const MAX_WARNINGS: usize = 100;

/// Which reverse proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProxyKind {
    Nginx,
    Haproxy,
    /// Apache httpd (`apache2` on Debian, `httpd` elsewhere).
    Apache,
}

impl ProxyKind {
    /// The stable name: `nginx`, `haproxy` or `apache`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Nginx => "nginx",
            Self::Haproxy => "haproxy",
            Self::Apache => "apache",
        }
    }
}

impl fmt::Display for ProxyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which proxy to look at and where its configuration is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxySpec {
    /// nginx, haproxy or Apache; detected when absent (nginx, then
    /// haproxy, then Apache: see [`observe`]).
    pub kind: Option<ProxyKind>,
    /// The main configuration file; wins over discovery.
    pub config: Option<PathBuf>,
    /// The error log; listed first by [`ProxyObservation::error_logs`].
    pub error_log: Option<PathBuf>,
    /// Look for running proxies in `/proc` and, without any, at the
    /// standard configuration paths. Off: only `config` is read.
    pub discover: bool,
}

/// Where a directive is written: the file and the 1-based line of its
/// first word.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Origin {
    pub file: PathBuf,
    pub line: u32,
}

impl Origin {
    pub fn new(file: impl Into<PathBuf>, line: u32) -> Self {
        Self {
            file: file.into(),
            line,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// A configured value with the directive that set it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Setting<T> {
    pub value: T,
    pub origin: Origin,
}

impl<T> Setting<T> {
    pub fn new(value: T, origin: Origin) -> Self {
        Self { value, origin }
    }
}

/// A host: an IP address or a name (lower-cased). Serialized as the plain
/// string it was written as (an IPv6 address without brackets); a text that
/// parses as an IP address is one. The name `*` stands for every address
/// (a `listen` or `bind` without a host).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    Ip(IpAddr),
    Name(String),
}

impl Host {
    /// An IP literal (no brackets) or else a name, lower-cased.
    pub fn parse(text: &str) -> Self {
        text.parse::<IpAddr>()
            .map_or_else(|_| Self::Name(text.to_ascii_lowercase()), Self::Ip)
    }

    /// The address, for an IP literal.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Self::Ip(ip) => Some(*ip),
            Self::Name(_) => None,
        }
    }

    /// The name, for a host written as one (`*` included).
    pub fn name(&self) -> Option<&str> {
        match self {
            Self::Ip(_) => None,
            Self::Name(n) => Some(n),
        }
    }

    /// `*`: every address.
    pub fn is_wildcard(&self) -> bool {
        self.name() == Some("*")
    }

    /// Whether both reach the same host, without resolving names: IPs
    /// compare exactly (an IPv4-mapped IPv6 address as its IPv4 address),
    /// names without regard to case or a final dot, and `localhost` matches
    /// any loopback address (it resolves to `127.0.0.1` or `::1`). The
    /// address family matters: `127.0.0.1` is not `::1`.
    pub fn same_host(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Ip(a), Self::Ip(b)) => a.to_canonical() == b.to_canonical(),
            (Self::Name(a), Self::Name(b)) => a
                .trim_end_matches('.')
                .eq_ignore_ascii_case(b.trim_end_matches('.')),
            (Self::Name(n), Self::Ip(ip)) | (Self::Ip(ip), Self::Name(n)) => {
                is_localhost(n) && ip.to_canonical().is_loopback()
            }
        }
    }
}

fn is_localhost(name: &str) -> bool {
    name.trim_end_matches('.').eq_ignore_ascii_case("localhost")
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ip(ip) => write!(f, "{ip}"),
            Self::Name(n) => f.write_str(n),
        }
    }
}

impl From<&str> for Host {
    fn from(text: &str) -> Self {
        Self::parse(text)
    }
}

impl From<IpAddr> for Host {
    fn from(ip: IpAddr) -> Self {
        Self::Ip(ip)
    }
}

impl Serialize for Host {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Host {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Ok(Self::parse(&text))
    }
}

/// Where something is reached: a host and port, a unix socket, or a text
/// holding variables that only the proxy resolves at run time.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Address {
    /// A host name or IP address (IPv6 without brackets) and a port.
    Tcp { host: Host, port: u16 },
    /// A unix domain socket.
    Unix { path: PathBuf },
    /// Not known before run time: the text as written (variables, an
    /// unparsable address).
    Unresolved { raw: String },
}

/// URL schemes a proxy writes before an upstream address, with the port
/// meant when none is written.
const SCHEMES: &[(&str, u16)] = &[
    ("http", 80),
    ("https", 443),
    ("fastcgi", 80),
    ("uwsgi", 80),
    ("suwsgi", 443),
    ("grpc", 80),
    ("grpcs", 443),
    ("scgi", 80),
    ("memcached", 11211),
];

impl Address {
    /// Parse an upstream as nginx writes it after `upstream:` in its error
    /// log, or as a forwarding target is written: `http://127.0.0.1:3000/x`,
    /// `https://[::1]:8443/`, `fastcgi://127.0.0.1:9000`, `uwsgi://app:3031`,
    /// `http://unix:/run/app.sock:/health`, `unix:/run/php.sock`,
    /// `127.0.0.1:3000`, `[::1]:3000`, `app.internal:80`. A scheme without a
    /// port means its default (http 80, https 443). `None` for text holding
    /// nginx variables, an unknown scheme, or a host and port that do not
    /// parse; without a scheme the port is required.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if text.contains('$') || text.is_empty() {
            return None;
        }
        let (default_port, rest) = match text.split_once("://") {
            Some((scheme, rest)) => {
                let port = SCHEMES
                    .iter()
                    .find(|(s, _)| s.eq_ignore_ascii_case(scheme))
                    .map(|(_, p)| *p)?;
                (Some(port), rest)
            }
            None => (None, text),
        };
        if let Some(after) = rest
            .get(..5)
            .filter(|p| p.eq_ignore_ascii_case("unix:"))
            .map(|_| &rest[5..])
        {
            // `unix:/run/app.sock:/uri`: the path ends at the first `:`.
            let path = after.split(':').next().unwrap_or(after);
            return path
                .starts_with('/')
                .then(|| Self::Unix { path: path.into() });
        }
        let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
        let (host, port) = split_host_port(authority)?;
        let port = match port {
            Some(p) => p.parse().ok()?,
            None => default_port?,
        };
        let valid = host.parse::<IpAddr>().is_ok()
            || host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
        (valid && !host.is_empty()).then(|| Self::Tcp {
            host: Host::parse(host),
            port,
        })
    }

    /// Whether both name the same endpoint: the same unix socket path, or
    /// the same port on the same host ([`Host::same_host`]). Unresolved
    /// addresses are the same as nothing. `127.0.0.1:3000` is not
    /// `127.0.0.1:30001`, nor `[::1]:3000`.
    pub fn same_endpoint(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Unix { path: a }, Self::Unix { path: b }) => a == b,
            (Self::Tcp { host: a, port: pa }, Self::Tcp { host: b, port: pb }) => {
                pa == pb && a.same_host(b)
            }
            _ => false,
        }
    }

    /// The socket address when the host is an IP address literal.
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        match self {
            Self::Tcp { host, port } => host.ip().map(|ip| SocketAddr::new(ip, *port)),
            _ => None,
        }
    }

    /// The host name when the host is a name, not an IP literal (nor `*`).
    pub fn host_name(&self) -> Option<&str> {
        match self {
            Self::Tcp { host, .. } if !host.is_wildcard() => host.name(),
            _ => None,
        }
    }
}

/// `host:port`, `[v6]:port`, `[v6]` or `host` (no port): the host without
/// brackets and the port text. `None` when brackets do not close or a bare
/// host holds more than one `:` that is not an IPv6 literal.
fn split_host_port(authority: &str) -> Option<(&str, Option<&str>)> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        return match after.strip_prefix(':') {
            Some(p) => Some((host, Some(p))),
            None if after.is_empty() => Some((host, None)),
            None => None,
        };
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => Some((host, Some(port))),
        Some(_) if authority.parse::<std::net::Ipv6Addr>().is_ok() => Some((authority, None)),
        Some(_) => None,
        None => Some((authority, None)),
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tcp {
                host: Host::Ip(IpAddr::V6(ip)),
                port,
            } => write!(f, "[{ip}]:{port}"),
            Self::Tcp {
                host: Host::Name(n),
                port,
            } if n.contains(':') => write!(f, "[{n}]:{port}"),
            Self::Tcp { host, port } => write!(f, "{host}:{port}"),
            Self::Unix { path } => write!(f, "unix:{}", path.display()),
            Self::Unresolved { raw } => f.write_str(raw),
        }
    }
}

/// The protocol the proxy speaks to its upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    Http,
    Https,
    Fastcgi,
    Uwsgi,
    /// uwsgi over TLS (`suwsgi://`).
    Uwsgis,
    Grpc,
    Grpcs,
    /// Plain TCP forwarding (haproxy `mode tcp`, an nginx `stream` server).
    Tcp,
    /// UDP datagrams forwarded (an nginx `stream` server on `listen ... udp`).
    Udp,
}

impl Protocol {
    /// Whether the proxy speaks TLS to the upstream.
    pub fn is_tls(self) -> bool {
        matches!(self, Self::Https | Self::Grpcs | Self::Uwsgis)
    }
}

/// One effective timeout: its value and the directive that set it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EffectiveTimeout {
    /// The limit; absent means no limit at all (haproxy without the
    /// timeout set).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub value: Option<Millis>,
    /// The directive that set it; absent means the proxy's built-in default.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub origin: Option<Origin>,
}

impl EffectiveTimeout {
    /// A built-in default of `ms` milliseconds.
    pub fn default_ms(ms: u64) -> Self {
        Self {
            value: Some(Millis(ms as f64)),
            origin: None,
        }
    }

    /// The value set by a directive.
    pub fn set(ms: u64, origin: Origin) -> Self {
        Self {
            value: Some(Millis(ms as f64)),
            origin: Some(origin),
        }
    }
}

/// The timeouts a proxy applies to one upstream exchange. nginx:
/// `*_connect_timeout`, `*_read_timeout`, `*_send_timeout` of the module that
/// forwards (proxy, fastcgi, uwsgi, grpc). haproxy: `timeout connect`, and
/// `timeout server` for both read and send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timeouts {
    pub connect: EffectiveTimeout,
    pub read: EffectiveTimeout,
    pub send: EffectiveTimeout,
}

impl Default for Timeouts {
    /// nginx's defaults: 60 s each.
    fn default() -> Self {
        Self {
            connect: EffectiveTimeout::default_ms(nginx::DEFAULT_TIMEOUT_MS),
            read: EffectiveTimeout::default_ms(nginx::DEFAULT_TIMEOUT_MS),
            send: EffectiveTimeout::default_ms(nginx::DEFAULT_TIMEOUT_MS),
        }
    }
}

/// One concrete place the proxy forwards requests to, with what serves it
/// and the timeouts that apply. An nginx `upstream` (or haproxy backend)
/// with three servers gives three targets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForwardTarget {
    pub protocol: Protocol,
    pub address: Address,
    /// The forwarding directive's target as written (`http://app/`,
    /// `127.0.0.1:9000`).
    pub raw: String,
    /// The `upstream` block or haproxy backend the address belongs to.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub upstream: Option<String>,
    /// Who forwards: `server shop.example.com (listen 443 ssl)` or
    /// `frontend www`.
    pub frontend: String,
    /// The nginx location (enclosing locations first, joined by ` > `).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub location: Option<String>,
    /// The forwarding directive (`proxy_pass`, haproxy `server`).
    pub origin: Origin,
    /// The upstream's `server` line, when the address came from one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub server_origin: Option<Origin>,
    /// A backup server: used only when the others are down.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub backup: bool,
    /// Marked down or disabled in the configuration.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub down: bool,
    /// Forwarded to only when a condition holds: an nginx `proxy_pass`
    /// inside `if` or `limit_except`.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub conditional: bool,
    pub timeouts: Timeouts,
    /// The `resolver` in effect (nginx), needed when the target holds
    /// variables or is re-resolved at run time.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub resolver: Option<Origin>,
}

/// One configuration file that was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigFile {
    pub path: PathBuf,
    /// Last modification, seconds since the epoch.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub modified: Option<UnixTime>,
    /// Last modification in milliseconds since the epoch, for comparing with
    /// the master's start.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub modified_ms: Option<i64>,
}

impl ConfigFile {
    /// Record `path` with its modification time now.
    pub fn stat(path: &Path) -> Self {
        let secs = files::mtime_secs(path);
        Self {
            path: path.to_path_buf(),
            modified: secs.map(|s| UnixTime(s.floor() as i64)),
            modified_ms: secs.map(|s| (s * 1000.0).floor() as i64),
        }
    }
}

/// A configuration read from disk: the model (absent when the main file
/// could not be read), every file read, and what went wrong.
#[derive(Debug, Clone, Default)]
pub struct Loaded<M> {
    pub model: Option<M>,
    pub files: Vec<ConfigFile>,
    pub warnings: Vec<String>,
    pub failure: Option<Failure>,
}

/// How the main configuration file was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfigSource {
    /// Given in the spec.
    Explicit,
    /// The running master's command line.
    Master,
    /// A standard path of a distribution or source install.
    StandardPath,
}

/// What the proxy probe saw.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProxyObservation {
    /// Which proxy; absent when none was found.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub kind: Option<ProxyKind>,
    /// The main configuration file read.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub config: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub config_source: Option<ConfigSource>,
    /// The running master the configuration belongs to.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub master: Option<Master>,
    /// How many masters of this kind run on the host.
    #[serde(skip_serializing_if = "is_zero", default)]
    pub masters_running: usize,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub nginx: Option<nginx::NginxModel>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub haproxy: Option<haproxy::HaproxyModel>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub apache: Option<apache::ApacheModel>,
    /// Every configuration file read, with its modification time.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub files: Vec<ConfigFile>,
    /// Files modified after the master started: changes not (yet) loaded.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub changed_after_start: Vec<PathBuf>,
    /// The error log given in the spec.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error_log: Option<PathBuf>,
    /// What could not be read or understood, each naming `file:line`.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub warnings: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub failure: Option<Failure>,
}

#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if passes a reference"
)]
fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl ProxyObservation {
    /// The proxy-neutral model of the configuration read ([`ProxyModel`]);
    /// `None` when none was read.
    pub fn model(&self) -> Option<ProxyModel> {
        ProxyModel::of(self)
    }

    /// Every concrete upstream address the proxy forwards to.
    pub fn forward_targets(&self) -> Vec<ForwardTarget> {
        let mut out = Vec::new();
        if let Some(m) = &self.nginx {
            out.extend(m.forward_targets());
        }
        if let Some(m) = &self.haproxy {
            out.extend(m.forward_targets());
        }
        if let Some(m) = &self.apache {
            out.extend(m.forward_targets());
        }
        out
    }

    /// The proxy's error logs, deduplicated: the spec's first, then the
    /// configuration's (main context first).
    pub fn error_logs(&self) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = self.error_log.iter().cloned().collect();
        let from_config = match (&self.nginx, &self.haproxy, &self.apache) {
            (Some(m), _, _) => m.error_logs(),
            (None, Some(m), _) => m.error_logs(),
            (None, None, Some(m)) => m.error_logs(),
            (None, None, None) => Vec::new(),
        };
        for p in from_config {
            if !out.contains(&p) {
                out.push(p);
            }
        }
        out
    }
}

/// Look at the reverse proxy `spec` describes; the `/proc` scan and the file
/// reads run on the blocking pool.
pub async fn run(spec: &ProxySpec, ctx: &ProbeContext) -> ProxyObservation {
    let _ = ctx;
    let spec = spec.clone();
    match tokio::task::spawn_blocking(move || observe(&spec)).await {
        Ok(obs) => obs,
        Err(e) => ProxyObservation {
            failure: Some(Failure::new(
                FailureKind::Other,
                Phase::Local,
                format!("proxy probe did not finish: {e}"),
            )),
            ..ProxyObservation::default()
        },
    }
}

/// The probe's work, synchronously: discovery, then the configuration.
pub fn observe(spec: &ProxySpec) -> ProxyObservation {
    let mut obs = ProxyObservation {
        error_log: spec.error_log.clone(),
        ..ProxyObservation::default()
    };
    // An explicit config still needs its running master (to tell changes
    // not yet reloaded), even with discovery off.
    let masters: Vec<Master> = if spec.discover || spec.config.is_some() {
        discover_masters()
            .into_iter()
            .filter(|m| spec.kind.is_none_or(|k| k == m.kind))
            .collect()
    } else {
        Vec::new()
    };

    let Some(choice) = choose(spec, &masters, &mut obs.warnings) else {
        obs.failure = Some(Failure::new(
            FailureKind::NotFound,
            Phase::Local,
            if spec.discover {
                "no running nginx, haproxy or Apache, and no configuration at the standard paths"
            } else {
                "no proxy configuration given and discovery is off"
            },
        ));
        return obs;
    };
    obs.kind = Some(choice.kind);
    obs.config = choice.configs.first().cloned();
    obs.config_source = Some(choice.source);
    obs.masters_running = masters.iter().filter(|m| m.kind == choice.kind).count();

    match choice.kind {
        ProxyKind::Nginx => {
            let Some(main) = choice.configs.first() else {
                return obs;
            };
            let prefix = choice
                .master
                .as_ref()
                .and_then(|m| m.prefix.clone())
                .unwrap_or_else(|| discover::default_nginx_prefix(main));
            let default_error_log = choice.master.as_ref().and_then(|m| m.error_log.clone());
            let loaded = nginx::load(main, &prefix, default_error_log);
            obs.nginx = loaded.model;
            obs.files = loaded.files;
            obs.warnings.extend(loaded.warnings);
            obs.failure = loaded.failure;
        }
        ProxyKind::Haproxy => {
            let loaded = haproxy::load(&choice.configs);
            obs.haproxy = loaded.model;
            obs.files = loaded.files;
            obs.warnings.extend(loaded.warnings);
            obs.failure = loaded.failure;
        }
        ProxyKind::Apache => {
            let Some(main) = choice.configs.first() else {
                return obs;
            };
            let start = discover::apache_start(main, choice.master.as_ref());
            let loaded = apache::load(main, &start);
            obs.apache = loaded.model;
            obs.files = loaded.files;
            obs.warnings.extend(loaded.warnings);
            obs.failure = loaded.failure;
        }
    }
    if let Some(master) = &choice.master {
        obs.changed_after_start = changed_after(&obs.files, master.started_at_ms);
    }
    obs.master = choice.master;
    if obs.warnings.len() > MAX_WARNINGS {
        let more = obs.warnings.len() - MAX_WARNINGS;
        obs.warnings.truncate(MAX_WARNINGS);
        obs.warnings.push(format!("... and {more} more warnings"));
    }
    obs
}

/// The files modified more than [`CHANGE_SLACK_MS`] after `started_at_ms`.
pub fn changed_after(files: &[ConfigFile], started_at_ms: i64) -> Vec<PathBuf> {
    files
        .iter()
        .filter(|f| {
            f.modified_ms
                .is_some_and(|m| m > started_at_ms.saturating_add(CHANGE_SLACK_MS))
        })
        .map(|f| f.path.clone())
        .collect()
}

/// The proxy and configuration chosen for a run.
struct Choice {
    kind: ProxyKind,
    configs: Vec<PathBuf>,
    source: ConfigSource,
    master: Option<Master>,
}

/// Pick the configuration: the explicit one (with the master running it,
/// else the oldest master of its kind), else the oldest master's, else the
/// first standard path that exists. When several kinds run, nginx comes
/// before haproxy and haproxy before Apache: a host running more than one
/// usually has nginx (or haproxy) at the edge and Apache behind it, and
/// the edge is what answers the users' 5xx. The others are named in a
/// warning.
fn choose(spec: &ProxySpec, masters: &[Master], warnings: &mut Vec<String>) -> Option<Choice> {
    if let Some(config) = &spec.config {
        let wanted = files::canonical(config);
        let matching = masters
            .iter()
            .filter(|m| spec.kind.is_none_or(|k| k == m.kind))
            .find(|m| m.configs.iter().any(|c| files::canonical(c) == wanted));
        let kind = spec
            .kind
            .or(matching.map(|m| m.kind))
            .unwrap_or_else(|| guess_kind(config));
        let master = matching.cloned().or_else(|| {
            // Only a lone master can be assumed to be this config's (one
            // started without -c); among several, none is.
            let mut of_kind = masters.iter().filter(|m| m.kind == kind);
            let oldest = of_kind.next()?;
            if of_kind.next().is_some() {
                return None;
            }
            warnings.push(format!(
                "no running {kind} uses {}; comparing with the oldest {kind} master (pid {}, config {})",
                config.display(),
                oldest.pid,
                oldest
                    .configs
                    .first()
                    .map_or_else(String::new, |c| c.display().to_string()),
            ));
            Some(oldest.clone())
        });
        return Some(Choice {
            kind,
            configs: vec![config.clone()],
            source: ConfigSource::Explicit,
            master,
        });
    }
    if !spec.discover {
        return None;
    }
    let running: Vec<ProxyKind> = ORDER
        .iter()
        .copied()
        .filter(|k| {
            masters
                .iter()
                .any(|m| m.kind == *k && !m.configs.is_empty())
        })
        .collect();
    if let [first, others @ ..] = running.as_slice()
        && !others.is_empty()
    {
        let others: Vec<&str> = others.iter().map(|k| k.name()).collect();
        warnings.push(format!(
            "{first} and {} run; using {first} (the edge proxy, by the order nginx, haproxy, apache)",
            others.join(", ")
        ));
    }
    for kind in ORDER {
        let mut of_kind = masters.iter().filter(|m| m.kind == kind);
        if let Some(oldest) = of_kind.next() {
            let others = of_kind.count();
            if others > 0 {
                warnings.push(format!(
                    "{} {kind} masters run; using the oldest, pid {}",
                    others + 1,
                    oldest.pid
                ));
            }
            if oldest.configs.is_empty() {
                continue;
            }
            return Some(Choice {
                kind,
                configs: oldest.configs.clone(),
                source: ConfigSource::Master,
                master: Some(oldest.clone()),
            });
        }
    }
    let kinds: &[ProxyKind] = match spec.kind {
        Some(ProxyKind::Nginx) => &[ProxyKind::Nginx],
        Some(ProxyKind::Haproxy) => &[ProxyKind::Haproxy],
        Some(ProxyKind::Apache) => &[ProxyKind::Apache],
        None => &ORDER,
    };
    for &kind in kinds {
        let candidates: &[&str] = match kind {
            ProxyKind::Nginx => discover::NGINX_STANDARD_CONFIGS,
            ProxyKind::Haproxy => discover::HAPROXY_STANDARD_CONFIGS,
            ProxyKind::Apache => discover::APACHE_STANDARD_CONFIGS,
        };
        if let Some(found) = candidates.iter().map(Path::new).find(|p| p.exists()) {
            return Some(Choice {
                kind,
                configs: vec![found.to_path_buf()],
                source: ConfigSource::StandardPath,
                master: None,
            });
        }
    }
    None
}

/// The order of preference when several kinds of proxy run (see [`choose`]).
const ORDER: [ProxyKind; 3] = [ProxyKind::Nginx, ProxyKind::Haproxy, ProxyKind::Apache];

/// nginx unless the file name says haproxy (`haproxy*`, `*.cfg`) or Apache
/// (`apache2.conf`, `httpd.conf`, or a file under `apache2/` or `httpd/`).
fn guess_kind(config: &Path) -> ProxyKind {
    let name = config
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let cfg = config
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("cfg"));
    let apache_dir = config.components().any(|c| {
        let c = c.as_os_str().to_string_lossy();
        c == "apache2" || c == "httpd"
    });
    if name.contains("haproxy") || cfg {
        ProxyKind::Haproxy
    } else if name == "apache2.conf" || name == "httpd.conf" || apache_dir {
        ProxyKind::Apache
    } else {
        ProxyKind::Nginx
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_after_uses_the_slack() {
        let f = |p: &str, ms: i64| ConfigFile {
            path: p.into(),
            modified: Some(UnixTime(ms / 1000)),
            modified_ms: Some(ms),
        };
        let files = [
            f("/a", 10_000),
            f("/b", 10_400),
            f("/c", 10_600),
            ConfigFile {
                path: "/d".into(),
                modified: None,
                modified_ms: None,
            },
        ];
        assert_eq!(changed_after(&files, 10_000), vec![PathBuf::from("/c")]);
    }

    #[test]
    fn kind_is_guessed_from_the_file_name() {
        assert_eq!(
            guess_kind(Path::new("/etc/haproxy/haproxy.cfg")),
            ProxyKind::Haproxy
        );
        assert_eq!(guess_kind(Path::new("/x/site.cfg")), ProxyKind::Haproxy);
        assert_eq!(
            guess_kind(Path::new("/etc/nginx/nginx.conf")),
            ProxyKind::Nginx
        );
        for apache in [
            "/etc/apache2/apache2.conf",
            "/etc/httpd/conf/httpd.conf",
            "/srv/x/httpd.conf",
            "/etc/apache2/sites-enabled/shop.conf",
        ] {
            assert_eq!(guess_kind(Path::new(apache)), ProxyKind::Apache, "{apache}");
        }
    }

    #[test]
    fn address_display_and_helpers() {
        let a = Address::Tcp {
            host: "::1".into(),
            port: 80,
        };
        assert_eq!(a.to_string(), "[::1]:80");
        assert_eq!(a.socket_addr(), Some("[::1]:80".parse().unwrap()));
        assert_eq!(a.host_name(), None);
        let b = Address::Tcp {
            host: "App".into(),
            port: 3000,
        };
        assert_eq!(b.host_name(), Some("app"), "names are lower-cased");
        assert_eq!(b.to_string(), "app:3000");
        let any = Address::Tcp {
            host: "*".into(),
            port: 80,
        };
        assert_eq!((any.host_name(), any.to_string().as_str()), (None, "*:80"));
        assert_eq!(
            Address::Unix {
                path: "/run/a.sock".into()
            }
            .to_string(),
            "unix:/run/a.sock"
        );
    }

    #[test]
    fn address_serializes_as_before() {
        let cases = [
            (
                r#"{"type":"tcp","host":"127.0.0.1","port":3000}"#,
                Address::Tcp {
                    host: Host::Ip([127, 0, 0, 1].into()),
                    port: 3000,
                },
            ),
            (
                r#"{"type":"tcp","host":"::1","port":80}"#,
                Address::Tcp {
                    host: Host::Ip(std::net::Ipv6Addr::LOCALHOST.into()),
                    port: 80,
                },
            ),
            (
                r#"{"type":"tcp","host":"app.internal","port":80}"#,
                Address::Tcp {
                    host: Host::Name("app.internal".into()),
                    port: 80,
                },
            ),
            (
                r#"{"type":"tcp","host":"*","port":8080}"#,
                Address::Tcp {
                    host: Host::Name("*".into()),
                    port: 8080,
                },
            ),
            (
                r#"{"type":"unix","path":"/run/a.sock"}"#,
                Address::Unix {
                    path: "/run/a.sock".into(),
                },
            ),
        ];
        for (json, address) in cases {
            assert_eq!(serde_json::to_string(&address).unwrap(), json);
            assert_eq!(serde_json::from_str::<Address>(json).unwrap(), address);
        }
    }

    fn parsed(s: &str) -> Address {
        Address::parse(s).unwrap_or_else(|| panic!("{s} does not parse"))
    }

    fn tcp(host: &str, port: u16) -> Address {
        Address::Tcp {
            host: host.into(),
            port,
        }
    }

    fn unix(path: &str) -> Address {
        Address::Unix { path: path.into() }
    }

    #[test]
    fn address_parse_forms() {
        let cases = [
            ("http://127.0.0.1:3000/path", tcp("127.0.0.1", 3000)),
            ("http://127.0.0.1:3000", tcp("127.0.0.1", 3000)),
            ("https://[::1]:8443/", tcp("::1", 8443)),
            ("https://example.com/x", tcp("example.com", 443)),
            ("HTTP://Example.COM", tcp("example.com", 80)),
            ("http://backend/", tcp("backend", 80)),
            ("fastcgi://127.0.0.1:9000", tcp("127.0.0.1", 9000)),
            ("uwsgi://app:3031", tcp("app", 3031)),
            ("grpc://127.0.0.1:50051", tcp("127.0.0.1", 50051)),
            ("grpcs://api.internal", tcp("api.internal", 443)),
            ("http://unix:/run/app.sock:/health", unix("/run/app.sock")),
            ("http://unix:/run/app.sock", unix("/run/app.sock")),
            ("uwsgi://unix:/run/uwsgi.sock:", unix("/run/uwsgi.sock")),
            (
                "unix:/run/php/php8.2-fpm.sock",
                unix("/run/php/php8.2-fpm.sock"),
            ),
            ("127.0.0.1:3000", tcp("127.0.0.1", 3000)),
            ("[::1]:3000", tcp("::1", 3000)),
            ("app.internal:80", tcp("app.internal", 80)),
            ("http://127.0.0.1:3000?x=1", tcp("127.0.0.1", 3000)),
        ];
        for (text, want) in cases {
            assert_eq!(parsed(text), want, "{text}");
        }
        for bad in [
            "",
            "http://$host:8080",
            "http://127.0.0.1:3000$request_uri",
            "$upstream",
            "app.internal",
            "127.0.0.1",
            "ftp://x:21",
            "http://host:notaport/",
            "http://[::1/",
            "http://a b:80",
            "unix:relative.sock",
            "host:70000",
        ] {
            assert_eq!(Address::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn same_endpoint_is_typed_equality() {
        let same = |a: &str, b: &str| parsed(a).same_endpoint(&parsed(b));
        // Port and host prefixes are not matches.
        assert!(same("127.0.0.1:3000", "http://127.0.0.1:3000/x"));
        assert!(!same("127.0.0.1:3000", "127.0.0.1:30001"));
        assert!(!same("127.0.0.1:30001", "127.0.0.1:3000"));
        assert!(!same("10.0.0.1:80", "110.0.0.1:80"));
        // The address family matters.
        assert!(!same("127.0.0.1:3000", "[::1]:3000"));
        assert!(same("[::1]:3000", "[0:0:0:0:0:0:0:1]:3000"));
        // An IPv4-mapped IPv6 address is its IPv4 address.
        assert!(same("[::ffff:127.0.0.1]:3000", "127.0.0.1:3000"));
        // localhost resolves to either loopback address.
        assert!(same("localhost:3000", "127.0.0.1:3000"));
        assert!(same("127.0.0.2:3000", "LOCALHOST:3000"));
        assert!(same("localhost:3000", "[::1]:3000"));
        assert!(!same("localhost:3000", "10.0.0.1:3000"));
        assert!(!same("localhost:3000", "localhost:3001"));
        // Names compare without case; the unspecified address is an IP like any.
        assert!(same("App.Internal:80", "http://app.internal/"));
        assert!(!same("0.0.0.0:3000", "127.0.0.1:3000"));
        assert!(!same("[::]:3000", "[::1]:3000"));
        // Unix sockets by path; never equal to TCP.
        assert!(same("unix:/run/a.sock", "http://unix:/run/a.sock:/x"));
        assert!(!same("unix:/run/a.sock", "unix:/run/a.sock2"));
        assert!(!same("unix:/run/a.sock", "127.0.0.1:80"));
        let unresolved = Address::Unresolved {
            raw: "http://$h".into(),
        };
        assert!(!unresolved.same_endpoint(&unresolved));
    }
}

//! The proxy-neutral view of a reverse proxy's configuration: where it
//! forwards, its rate and connection limits, its maintenance switches, its
//! logs and control socket, and the words ([`Dialect`]) advice about it is
//! written in — the same shape whether nginx or haproxy runs, so that rules
//! read one model and never the proxy's own.
//!
//! [`ProxyModel`] is computed from a [`ProxyObservation`] (its `nginx`,
//! `haproxy` or `apache` part), never stored in it: recorded observations give the same
//! model. Nothing here reads files or judges what a setting means for a 5xx.
//! A third proxy is one more [`Dialect`] variant and one more `from_*`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::apache::{self, ApacheModel};
use super::haproxy::HaproxyModel;
use super::nginx::{LimitConn, LimitReq, MaintenanceFlag, NginxModel, Return};
use super::{
    Address, EffectiveTimeout, ForwardTarget, Origin, Protocol, ProxyKind, ProxyObservation,
    Timeouts,
};

/// nginx's predefined `combined` log format.
pub const NGINX_COMBINED_FORMAT: &str = r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent""#;

/// What the proxy's configuration says, in proxy-neutral terms.
#[derive(Debug, Clone, PartialEq)]
pub struct ProxyModel {
    pub kind: ProxyKind,
    /// The main configuration file.
    pub config: Option<PathBuf>,
    /// The proxy's words for advice.
    pub dialect: Dialect,
    /// Every concrete upstream address ([`ProxyObservation::forward_targets`]).
    pub targets: Vec<ForwardTarget>,
    /// Where the proxy accepts requests: nginx `listen`, haproxy `bind`.
    pub listeners: Vec<ProxyListener>,
    /// Rate and connection limits, each directive once, at the outermost
    /// level it is written (nested levels inherit it).
    pub limits: Vec<Limit>,
    /// Switches that make the proxy answer an error on purpose.
    pub maintenance: Vec<MaintenanceSwitch>,
    /// Error log files ([`ProxyObservation::error_logs`]).
    pub error_logs: Vec<PathBuf>,
    /// Access log files, each file and format once. haproxy: none (it logs
    /// to syslog).
    pub access_logs: Vec<AccessLog>,
    /// haproxy's `stats socket` on a unix socket.
    pub stats_socket: Option<PathBuf>,
    /// What could not be read or understood ([`ProxyObservation::warnings`]).
    pub warnings: Vec<String>,
}

/// One address the proxy accepts requests on, with the names it serves
/// there: what a public endpoint probe should aim at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyListener {
    /// The host is `*` for every address; a unix socket is possible.
    pub address: Address,
    /// TLS is terminated here.
    pub tls: bool,
    /// nginx `server_name`s as written (regexes and wildcards included);
    /// empty for haproxy, which routes by rules, not names.
    pub names: Vec<String>,
    /// `server shop (listen 443 ssl)`, `frontend www`.
    pub scope: String,
    pub origin: Origin,
}

/// What a limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LimitKind {
    /// Requests per time (nginx `limit_req`).
    Rate,
    /// Concurrent connections (nginx `limit_conn`, haproxy `maxconn`).
    Connections,
}

/// One rate or connection limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    pub kind: LimitKind,
    /// The nginx shared memory zone; empty for haproxy, whose limits have none.
    pub zone: String,
    /// The rate as written in the zone (`10r/s`); absent for connection
    /// limits and for a zone not declared.
    pub rate: Option<String>,
    /// `burst=` of `limit_req`.
    pub burst: Option<u32>,
    /// The connections allowed: nginx `limit_conn ZONE N`, haproxy `maxconn N`.
    pub connections: Option<u64>,
    /// Where it applies: `http`, `server shop (listen 443 ssl)`, `server
    /// shop (listen 443 ssl), location /api/`, `global`, `defaults`,
    /// `frontend www`, `backend app, server app1`.
    pub scope: String,
    /// The limiting directive.
    pub origin: Origin,
}

/// A switch that makes the proxy answer an error status on purpose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaintenanceSwitch {
    /// The file whose presence (or, with `when_absent`, absence) switches
    /// it on; absent for a `return` that always applies.
    pub flag: Option<PathBuf>,
    /// The status is answered when the flag file is absent (`!-f`).
    pub when_absent: bool,
    pub status: u16,
    /// Where it applies, as [`Limit::scope`].
    pub scope: String,
    /// The `if` (or the `return`).
    pub origin: Origin,
}

/// One access log file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessLog {
    pub path: PathBuf,
    /// The log format's name (`combined` when none is named).
    pub format: Option<String>,
    /// The format's text, when known (defined in the configuration or
    /// predefined).
    pub pattern: Option<String>,
    /// The directive; absent for a built-in default.
    pub origin: Option<Origin>,
}

/// Which of a forwarding exchange's timeouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeoutKind {
    Connect,
    Read,
    Send,
}

impl Timeouts {
    /// The timeout of `kind`.
    pub fn get(&self, kind: TimeoutKind) -> &EffectiveTimeout {
        match kind {
            TimeoutKind::Connect => &self.connect,
            TimeoutKind::Read => &self.read,
            TimeoutKind::Send => &self.send,
        }
    }
}

/// The words of one proxy's configuration and commands, so advice names
/// the directives of the proxy that runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    Nginx,
    Haproxy,
    Apache,
}

impl From<ProxyKind> for Dialect {
    fn from(kind: ProxyKind) -> Self {
        match kind {
            ProxyKind::Nginx => Self::Nginx,
            ProxyKind::Haproxy => Self::Haproxy,
            ProxyKind::Apache => Self::Apache,
        }
    }
}

/// What went wrong between the proxy and a backend, for the status code the
/// proxy answers with ([`Dialect::status_for`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BackendEvent {
    /// The connection was refused (nothing listens, a missing socket).
    ConnectRefused,
    /// The connection did not complete in time.
    ConnectTimeout,
    /// The backend's name did not resolve.
    ResolveFailed,
    /// The TLS handshake to the backend failed (HTTPS to a plain port).
    TlsHandshakeFailed,
    /// The backend did not answer within the read timeout.
    ReadTimeout,
    /// The backend closed the connection before a complete response.
    ClosedEarly,
}

impl Dialect {
    /// The proxy's name as written in prose: `nginx`, `haproxy`, `Apache`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Nginx => "nginx",
            Self::Haproxy => "HAProxy",
            Self::Apache => "Apache",
        }
    }

    /// The status codes the proxy answers when `event` happens. nginx:
    /// 504 for timeouts, else 502. Apache (measured with 2.4, see
    /// `probes/tests/fixtures/logs/apache_error.README.md`): 503 for a
    /// refused or timed-out connect, 500 for a failed name lookup or TLS
    /// handshake, 502 for a read timeout or an early close. haproxy (its
    /// termination states): `SC` 502/503, `sC` 503/504, `sH` 504, `SH` 502.
    pub fn status_for(self, event: BackendEvent) -> &'static [u16] {
        use BackendEvent as E;
        match (self, event) {
            (Self::Nginx, E::ConnectTimeout | E::ReadTimeout) | (Self::Haproxy, E::ReadTimeout) => {
                &[504]
            }
            (Self::Nginx, _)
            | (Self::Haproxy, E::ClosedEarly)
            | (Self::Apache, E::ClosedEarly | E::ReadTimeout) => &[502],
            (Self::Haproxy, E::ConnectRefused | E::ResolveFailed | E::TlsHandshakeFailed) => {
                &[502, 503]
            }
            (Self::Haproxy, E::ConnectTimeout) => &[503, 504],
            (Self::Apache, E::ConnectRefused | E::ConnectTimeout) => &[503],
            (Self::Apache, E::ResolveFailed | E::TlsHandshakeFailed) => &[500],
        }
    }

    /// The command that checks the configuration and, if it is valid,
    /// reloads the proxy: `nginx -t && nginx -s reload`, `haproxy -c -f
    /// CONFIG && systemctl reload haproxy`.
    pub fn check_and_reload(self, config: Option<&Path>) -> String {
        match self {
            Self::Nginx => match config.filter(|c| *c != Path::new(NGINX_DEFAULT_CONFIG)) {
                None => "nginx -t && nginx -s reload".to_string(),
                Some(c) => {
                    let c = shell_word(c);
                    format!("nginx -t -c {c} && nginx -s reload -c {c}")
                }
            },
            Self::Haproxy => format!(
                "haproxy -c -f {} && systemctl reload haproxy",
                shell_word(config.unwrap_or(Path::new(HAPROXY_DEFAULT_CONFIG)))
            ),
            Self::Apache => match config
                .filter(|c| !APACHE_DEFAULT_CONFIGS.iter().any(|d| *c == Path::new(d)))
            {
                None => "apachectl configtest && apachectl graceful".to_string(),
                Some(c) => {
                    let c = shell_word(c);
                    format!("apachectl -f {c} -t && apachectl -f {c} -k graceful")
                }
            },
        }
    }

    /// The directive that forwards with `protocol`: `proxy_pass`,
    /// `fastcgi_pass`, `uwsgi_pass`, `grpc_pass`; haproxy `server`.
    pub fn forward_directive(self, protocol: Protocol) -> &'static str {
        match self {
            Self::Nginx => match protocol {
                Protocol::Http | Protocol::Https | Protocol::Tcp | Protocol::Udp => "proxy_pass",
                Protocol::Fastcgi => "fastcgi_pass",
                Protocol::Uwsgi | Protocol::Uwsgis => "uwsgi_pass",
                Protocol::Grpc | Protocol::Grpcs => "grpc_pass",
            },
            Self::Haproxy => "server",
            Self::Apache => "ProxyPass",
        }
    }

    /// The directive that sets the `kind` timeout when forwarding with
    /// `protocol`: nginx `proxy_read_timeout`, `fastcgi_connect_timeout`, ...
    /// (the stream module's `proxy_timeout` for plain TCP); haproxy `timeout
    /// connect`, and `timeout server` for read and send.
    pub fn timeout_directive(self, kind: TimeoutKind, protocol: Protocol) -> &'static str {
        use TimeoutKind::{Connect, Read, Send};
        match self {
            Self::Nginx => match (protocol, kind) {
                (Protocol::Http | Protocol::Https | Protocol::Tcp | Protocol::Udp, Connect) => {
                    "proxy_connect_timeout"
                }
                (Protocol::Http | Protocol::Https, Read) => "proxy_read_timeout",
                (Protocol::Http | Protocol::Https, Send) => "proxy_send_timeout",
                (Protocol::Fastcgi, Connect) => "fastcgi_connect_timeout",
                (Protocol::Fastcgi, Read) => "fastcgi_read_timeout",
                (Protocol::Fastcgi, Send) => "fastcgi_send_timeout",
                (Protocol::Uwsgi | Protocol::Uwsgis, Connect) => "uwsgi_connect_timeout",
                (Protocol::Uwsgi | Protocol::Uwsgis, Read) => "uwsgi_read_timeout",
                (Protocol::Uwsgi | Protocol::Uwsgis, Send) => "uwsgi_send_timeout",
                (Protocol::Grpc | Protocol::Grpcs, Connect) => "grpc_connect_timeout",
                (Protocol::Grpc | Protocol::Grpcs, Read) => "grpc_read_timeout",
                (Protocol::Grpc | Protocol::Grpcs, Send) => "grpc_send_timeout",
                (Protocol::Tcp | Protocol::Udp, Read | Send) => "proxy_timeout",
            },
            Self::Haproxy => match kind {
                Connect => "timeout connect",
                Read | Send => "timeout server",
            },
            Self::Apache => match kind {
                Connect => "connectiontimeout=",
                Read | Send => "ProxyTimeout (or the worker's timeout=)",
            },
        }
    }

    /// What applies when the configuration sets no `kind` timeout, in words.
    pub fn default_timeout_words(self, kind: TimeoutKind) -> &'static str {
        match (self, kind) {
            (Self::Nginx, _) => "nginx's default of 60 s",
            (Self::Haproxy, _) => "HAProxy's default: no limit",
            (Self::Apache, _) => "Apache's Timeout (60 s unless set; Debian ships 300)",
        }
    }

    /// The directive that limits the request rate.
    pub fn rate_limit_directive(self) -> &'static str {
        match self {
            Self::Nginx => "limit_req",
            Self::Haproxy => "http-request deny … / rate-limit sessions",
            Self::Apache => "a rate-limiting module (mod_evasive, mod_qos)",
        }
    }
}

/// The configuration `nginx -t` reads without `-c` on Debian and most
/// distributions.
const NGINX_DEFAULT_CONFIG: &str = "/etc/nginx/nginx.conf";

/// haproxy's configuration on Debian and most distributions.
const HAPROXY_DEFAULT_CONFIG: &str = "/etc/haproxy/haproxy.cfg";

/// The configurations `apachectl` reads without `-f`: Debian's and Red Hat's.
const APACHE_DEFAULT_CONFIGS: [&str; 2] =
    ["/etc/apache2/apache2.conf", "/etc/httpd/conf/httpd.conf"];

/// A path as one shell word: as is when it is plain, else single-quoted.
fn shell_word(path: &Path) -> String {
    let s = path.display().to_string();
    let plain = !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(b, b'/' | b'.' | b'_' | b'-' | b'+' | b':' | b'@' | b',')
        });
    if plain {
        s
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

impl ProxyModel {
    /// The model of what `obs` read: its nginx configuration, else its
    /// haproxy one, else its Apache one; `None` when it read none.
    pub fn of(obs: &ProxyObservation) -> Option<Self> {
        let (kind, parts) = match (&obs.nginx, &obs.haproxy, &obs.apache) {
            (Some(m), _, _) => (ProxyKind::Nginx, Parts::from_nginx(m)),
            (None, Some(m), _) => (ProxyKind::Haproxy, Parts::from_haproxy(m)),
            (None, None, Some(m)) => (ProxyKind::Apache, Parts::from_apache(m)),
            (None, None, None) => return None,
        };
        Some(Self {
            kind,
            config: obs.config.clone(),
            dialect: kind.into(),
            targets: obs.forward_targets(),
            listeners: parts.listeners,
            limits: parts.limits,
            maintenance: parts.maintenance,
            error_logs: obs.error_logs(),
            access_logs: parts.access_logs,
            stats_socket: parts.stats_socket,
            warnings: obs.warnings.clone(),
        })
    }
}

/// The parts of the model each proxy's reader gives in its own way.
#[derive(Default)]
struct Parts {
    listeners: Vec<ProxyListener>,
    limits: Vec<Limit>,
    maintenance: Vec<MaintenanceSwitch>,
    access_logs: Vec<AccessLog>,
    stats_socket: Option<PathBuf>,
}

impl Parts {
    /// Every level in nginx's order, outermost first: http, then each
    /// server followed by its locations (a nested location after its parent).
    fn from_nginx(m: &NginxModel) -> Self {
        let mut parts = Self::default();
        let mut seen = BTreeSet::new();
        let mut levels: Vec<NginxLevel<'_>> = vec![NginxLevel {
            scope: "http".to_string(),
            limit_req: &m.http_limit_req,
            limit_conn: &m.http_limit_conn,
            maintenance: &[],
            returns: &[],
        }];
        for s in &m.servers {
            let label = s.label();
            for l in &s.listen {
                parts.listeners.push(ProxyListener {
                    address: l.address.clone(),
                    tls: l.ssl,
                    names: s.server_names.clone(),
                    scope: label.clone(),
                    origin: l.origin.clone(),
                });
            }
            levels.push(NginxLevel {
                scope: label.clone(),
                limit_req: &s.limit_req,
                limit_conn: &s.limit_conn,
                maintenance: &s.maintenance,
                returns: &s.returns,
            });
            for l in &s.locations {
                levels.push(NginxLevel {
                    scope: format!("{label}, location {}", l.path()),
                    limit_req: &l.limit_req,
                    limit_conn: &l.limit_conn,
                    maintenance: &l.maintenance,
                    returns: &l.returns,
                });
            }
        }
        for level in &levels {
            for l in level.limit_req {
                if seen.insert(l.origin.clone()) {
                    parts.limits.push(rate_limit(m, l, &level.scope));
                }
            }
            for l in level.limit_conn {
                if seen.insert(l.origin.clone()) {
                    parts.limits.push(conn_limit(l, &level.scope));
                }
            }
            parts
                .maintenance
                .extend(maintenance(level.maintenance, level.returns, &level.scope));
        }
        parts.access_logs = nginx_access_logs(m);
        parts
    }

    fn from_haproxy(m: &HaproxyModel) -> Self {
        let mut parts = Self {
            stats_socket: m.stats_socket.as_ref().map(|s| s.value.clone()),
            ..Self::default()
        };
        let mut seen = BTreeSet::new();
        let mut add = |value: u64, scope: String, origin: &Origin| {
            if seen.insert(origin.clone()) {
                parts.limits.push(Limit {
                    kind: LimitKind::Connections,
                    zone: String::new(),
                    rate: None,
                    burst: None,
                    connections: Some(value),
                    scope,
                    origin: origin.clone(),
                });
            }
        };
        if let Some(g) = &m.maxconn {
            add(g.value, "global".to_string(), &g.origin);
        }
        for d in &m.defaults {
            if let Some(c) = &d.maxconn {
                let scope = d
                    .name
                    .as_ref()
                    .map_or_else(|| "defaults".to_string(), |n| format!("defaults {n}"));
                add(c.value, scope, &c.origin);
            }
        }
        for f in &m.frontends {
            for b in &f.binds {
                for a in &b.addresses {
                    parts.listeners.push(ProxyListener {
                        address: a.clone(),
                        tls: b.ssl,
                        names: Vec::new(),
                        scope: format!(
                            "{} {}",
                            if f.listen { "listen" } else { "frontend" },
                            f.name
                        ),
                        origin: b.origin.clone(),
                    });
                }
            }
            if let Some(c) = &f.maxconn {
                let kind = if f.listen { "listen" } else { "frontend" };
                add(c.value, format!("{kind} {}", f.name), &c.origin);
            }
        }
        for b in &m.backends {
            for s in &b.servers {
                if let Some(n) = s.param("maxconn").and_then(|v| v.parse().ok()) {
                    add(
                        n,
                        format!("backend {}, server {}", b.name, s.name),
                        &s.origin,
                    );
                }
            }
        }
        parts
    }
}

impl Parts {
    /// Listeners from `Listen`, each with the names of the virtual hosts
    /// on its port (the main `ServerName` when none); access logs from
    /// every `CustomLog`, formats resolved through `LogFormat`.
    fn from_apache(m: &ApacheModel) -> Self {
        let mut parts = Self::default();
        for l in &m.listens {
            let port = match &l.address {
                Address::Tcp { port, .. } => Some(*port),
                _ => None,
            };
            let on_port: Vec<_> = m
                .vhosts
                .iter()
                .filter(|v| {
                    v.addresses
                        .iter()
                        .any(|a| matches!(a, Address::Tcp { port: p, .. } if Some(*p) == port))
                })
                .collect();
            let names: Vec<String> = if on_port.is_empty() {
                m.main.server_name.iter().cloned().collect()
            } else {
                on_port
                    .iter()
                    .flat_map(|v| v.server_name.iter().chain(&v.aliases).cloned())
                    .collect()
            };
            parts.listeners.push(ProxyListener {
                address: l.address.clone(),
                tls: l.tls || on_port.iter().any(|v| v.ssl),
                names,
                scope: on_port
                    .first()
                    .map_or_else(|| "main server".to_string(), |v| v.label()),
                origin: l.origin.clone(),
            });
        }
        for s in m.servers() {
            for c in &s.custom_logs {
                let format = c.format.clone();
                let pattern = match &format {
                    Some(f) => m
                        .log_formats
                        .get(f)
                        .map(|x| x.value.clone())
                        .or_else(|| f.contains('%').then(|| f.clone())),
                    None => m
                        .log_formats
                        .get("")
                        .map(|x| x.value.clone())
                        .or_else(|| Some(apache::COMMON_LOG_FORMAT.to_string())),
                };
                if parts
                    .access_logs
                    .iter()
                    .any(|a| a.path == c.path && a.format == format)
                {
                    continue;
                }
                parts.access_logs.push(AccessLog {
                    path: c.path.clone(),
                    format,
                    pattern,
                    origin: Some(c.origin.clone()),
                });
            }
        }
        parts
    }
}

/// One nginx level's limits and switches.
struct NginxLevel<'a> {
    scope: String,
    limit_req: &'a [LimitReq],
    limit_conn: &'a [LimitConn],
    maintenance: &'a [MaintenanceFlag],
    returns: &'a [Return],
}

fn rate_limit(m: &NginxModel, l: &LimitReq, scope: &str) -> Limit {
    Limit {
        kind: LimitKind::Rate,
        zone: l.zone.clone(),
        rate: m
            .limit_req_zones
            .iter()
            .find(|z| z.name == l.zone)
            .and_then(|z| z.rate.clone()),
        burst: l.burst,
        connections: None,
        scope: scope.to_string(),
        origin: l.origin.clone(),
    }
}

fn conn_limit(l: &LimitConn, scope: &str) -> Limit {
    Limit {
        kind: LimitKind::Connections,
        zone: l.zone.clone(),
        rate: None,
        burst: None,
        connections: l.limit.map(u64::from),
        scope: scope.to_string(),
        origin: l.origin.clone(),
    }
}

/// `if (-f FILE) { return 5xx; }` (a flag holding variables cannot be
/// checked and is left out) and an unconditional `return 503`.
fn maintenance<'a>(
    flags: &'a [MaintenanceFlag],
    returns: &'a [Return],
    scope: &'a str,
) -> impl Iterator<Item = MaintenanceSwitch> + 'a {
    let switched = flags
        .iter()
        .filter(|f| f.status >= 500 && !f.flag.contains('$'))
        .map(|f| MaintenanceSwitch {
            flag: Some(PathBuf::from(&f.flag)),
            when_absent: f.when_absent,
            status: f.status,
            scope: scope.to_string(),
            origin: f.origin.clone(),
        });
    let always = returns
        .iter()
        .filter(|r| r.condition.is_none() && r.status == 503)
        .map(|r| MaintenanceSwitch {
            flag: None,
            when_absent: false,
            status: r.status,
            scope: scope.to_string(),
            origin: r.origin.clone(),
        });
    switched.chain(always)
}

/// The access log files of every level, each file and format once.
fn nginx_access_logs(m: &NginxModel) -> Vec<AccessLog> {
    let all = m.access_logs.iter().chain(m.servers.iter().flat_map(|s| {
        s.access_logs
            .iter()
            .chain(s.locations.iter().flat_map(|l| &l.access_logs))
    }));
    let mut out: Vec<AccessLog> = Vec::new();
    for a in all {
        let format = a.format.clone().unwrap_or_else(|| "combined".to_string());
        if out
            .iter()
            .any(|o| o.path == a.value && o.format.as_deref() == Some(format.as_str()))
        {
            continue;
        }
        let pattern = match m.log_formats.get(&format) {
            Some(f) => Some(f.value.clone()),
            None if format == "combined" => Some(NGINX_COMBINED_FORMAT.to_string()),
            None => None,
        };
        out.push(AccessLog {
            path: a.value.clone(),
            format: Some(format),
            pattern,
            origin: Some(a.origin.clone()),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialect_words() {
        use TimeoutKind::{Connect, Read, Send};
        let n = Dialect::from(ProxyKind::Nginx);
        let h = Dialect::from(ProxyKind::Haproxy);
        assert_eq!((n.name(), h.name()), ("nginx", "HAProxy"));
        assert_eq!(n.check_and_reload(None), "nginx -t && nginx -s reload");
        assert_eq!(
            n.check_and_reload(Some(Path::new("/etc/nginx/nginx.conf"))),
            "nginx -t && nginx -s reload"
        );
        assert_eq!(
            n.check_and_reload(Some(Path::new("/srv/my conf/nginx.conf"))),
            "nginx -t -c '/srv/my conf/nginx.conf' && nginx -s reload -c '/srv/my conf/nginx.conf'"
        );
        assert_eq!(
            h.check_and_reload(Some(Path::new("/etc/haproxy/site.cfg"))),
            "haproxy -c -f /etc/haproxy/site.cfg && systemctl reload haproxy"
        );
        assert_eq!(
            h.check_and_reload(None),
            "haproxy -c -f /etc/haproxy/haproxy.cfg && systemctl reload haproxy"
        );
        assert_eq!(n.forward_directive(Protocol::Https), "proxy_pass");
        assert_eq!(n.forward_directive(Protocol::Fastcgi), "fastcgi_pass");
        assert_eq!(n.forward_directive(Protocol::Uwsgis), "uwsgi_pass");
        assert_eq!(n.forward_directive(Protocol::Grpc), "grpc_pass");
        assert_eq!(h.forward_directive(Protocol::Http), "server");
        assert_eq!(
            n.timeout_directive(Read, Protocol::Http),
            "proxy_read_timeout"
        );
        assert_eq!(
            n.timeout_directive(Connect, Protocol::Fastcgi),
            "fastcgi_connect_timeout"
        );
        assert_eq!(
            n.timeout_directive(Send, Protocol::Uwsgi),
            "uwsgi_send_timeout"
        );
        assert_eq!(
            n.timeout_directive(Read, Protocol::Grpcs),
            "grpc_read_timeout"
        );
        assert_eq!(h.timeout_directive(Read, Protocol::Http), "timeout server");
        assert_eq!(h.timeout_directive(Send, Protocol::Tcp), "timeout server");
        assert_eq!(
            h.timeout_directive(Connect, Protocol::Http),
            "timeout connect"
        );
        assert_eq!(n.default_timeout_words(Read), "nginx's default of 60 s");
        assert_eq!(h.default_timeout_words(Read), "HAProxy's default: no limit");
        let a = Dialect::from(ProxyKind::Apache);
        assert_eq!(a.name(), "Apache");
        assert_eq!(
            a.check_and_reload(Some(Path::new("/etc/apache2/apache2.conf"))),
            "apachectl configtest && apachectl graceful"
        );
        assert_eq!(
            a.check_and_reload(Some(Path::new("/srv/x/httpd.conf"))),
            "apachectl -f /srv/x/httpd.conf -t && apachectl -f /srv/x/httpd.conf -k graceful"
        );
        assert_eq!(a.forward_directive(Protocol::Fastcgi), "ProxyPass");
        assert!(
            a.timeout_directive(Read, Protocol::Http)
                .starts_with("ProxyTimeout")
        );
        assert_eq!(
            a.timeout_directive(Connect, Protocol::Http),
            "connectiontimeout="
        );
        assert!(a.default_timeout_words(Read).contains("Timeout"));
        assert_eq!(a.status_for(BackendEvent::ConnectRefused), [503]);
        assert_eq!(a.status_for(BackendEvent::ResolveFailed), [500]);
        assert_eq!(a.status_for(BackendEvent::TlsHandshakeFailed), [500]);
        assert_eq!(a.status_for(BackendEvent::ReadTimeout), [502]);
        assert_eq!(n.status_for(BackendEvent::ConnectRefused), [502]);
        assert_eq!(n.status_for(BackendEvent::ReadTimeout), [504]);
        assert_eq!(n.rate_limit_directive(), "limit_req");
        assert!(h.rate_limit_directive().starts_with("http-request deny"));
    }

    #[test]
    fn every_nginx_timeout_directive_is_one_nginx_knows() {
        // The names follow `{module}_{kind}_timeout`.
        for p in [
            Protocol::Http,
            Protocol::Https,
            Protocol::Fastcgi,
            Protocol::Uwsgi,
            Protocol::Uwsgis,
            Protocol::Grpc,
            Protocol::Grpcs,
        ] {
            let module = Dialect::Nginx
                .forward_directive(p)
                .trim_end_matches("_pass");
            for (k, word) in [
                (TimeoutKind::Connect, "connect"),
                (TimeoutKind::Read, "read"),
                (TimeoutKind::Send, "send"),
            ] {
                assert_eq!(
                    Dialect::Nginx.timeout_directive(k, p),
                    format!("{module}_{word}_timeout")
                );
            }
        }
    }

    #[test]
    fn timeouts_by_kind() {
        let t = Timeouts::default();
        assert_eq!(t.get(TimeoutKind::Read), &t.read);
        assert_eq!(t.get(TimeoutKind::Connect), &t.connect);
        assert_eq!(t.get(TimeoutKind::Send), &t.send);
    }
}

//! The config file: raw TOML structs that reject unknown keys, a loader
//! whose every error is one line naming the file, line, column and key, and
//! a pure validation step that returns the typed [`Config`] the planner uses.
//! Nothing here touches the network or `/proc`.

pub mod thresholds;
mod values;

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;
use url::Url;

use crate::model::dep_kind::DepKind;
pub use thresholds::Thresholds;
use values::{DependencyUrl, Dur, HttpUrl, Positive, Ratio, Text};
pub use values::{parse_duration, parse_url};

/// Largest config file read; anything bigger is surely not a config.
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;
/// Most entries of all the `[[...]]` sections together: each is at least
/// one probe, and a run must stay light on a sick machine.
pub const MAX_ENTRIES: usize = 1000;
/// Most status codes in one `expect_status`.
pub const MAX_EXPECT_STATUS: usize = 100;

/// A config problem, printed as one line: `file:line:col: key: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: usize,
    pub col: usize,
    /// The dotted key the problem is at, when known (`agent.timeout`).
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file.display(), self.line, self.col)?;
        if let Some(key) = &self.key {
            write!(f, "{}: ", clip(key, MAX_KEY_SHOWN))?;
        }
        // One line, whatever the underlying message looked like, and short
        // even when it echoes a 30 KB value.
        let msg = self
            .message
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        f.write_str(&clip(&msg, MAX_MESSAGE_SHOWN))
    }
}

impl std::error::Error for ConfigError {}

/// Most characters of a key shown in an error.
const MAX_KEY_SHOWN: usize = 120;
/// Most characters of an error message shown.
const MAX_MESSAGE_SHOWN: usize = 300;

/// `s` cut to `max` characters, with `…` when it was cut.
fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

// ---------------------------------------------------------------------------
// Raw structs: exactly the keys of docs/contract.md, unknown keys rejected.

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    agent: RawAgent,
    #[serde(default)]
    endpoint: Vec<RawEndpoint>,
    #[serde(default)]
    upstream: Vec<RawUpstream>,
    proxy: Option<RawProxy>,
    #[serde(default)]
    dependency: Vec<RawDependency>,
    #[serde(default)]
    dns: Vec<RawDns>,
    #[serde(default)]
    tls: Vec<RawTls>,
    #[serde(default)]
    host: RawHost,
    #[serde(default)]
    process: Vec<RawProcess>,
    maintenance: Option<RawMaintenance>,
    #[serde(default)]
    deploy: Vec<RawDeploy>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
struct RawAgent {
    deadline: Option<Spanned<Dur>>,
    timeout: Option<Dur>,
    concurrency: Option<Spanned<u32>>,
    discover: Option<bool>,
    since: Option<Dur>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
struct RawEndpoint {
    name: Option<Spanned<Text>>,
    url: HttpUrl,
    expect_status: Option<Spanned<Vec<u16>>>,
    #[serde(default)]
    headers: BTreeMap<String, Text>,
    resolve: Option<Spanned<Text>>,
    timeout: Option<Dur>,
    tls_warn: Option<Dur>,
    ca_file: Option<Text>,
    slow: Option<Dur>,
    follow_redirects: Option<Spanned<u32>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
struct RawUpstream {
    name: Option<Spanned<Text>>,
    url: HttpUrl,
    process: Option<Text>,
    pidfile: Option<Text>,
    #[serde(default)]
    env_required: Vec<Text>,
    log: Option<Text>,
    slow: Option<Dur>,
    timeout: Option<Dur>,
    ca_file: Option<Text>,
    #[serde(default)]
    headers: BTreeMap<String, Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
struct RawProxy {
    kind: Option<Spanned<Text>>,
    config: Option<Text>,
    error_log: Option<Text>,
    access_log: Option<Text>,
    stats_socket: Option<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
struct RawDependency {
    name: Spanned<Text>,
    url: DependencyUrl,
    kind: Option<Spanned<Text>>,
    slow: Option<Dur>,
    timeout: Option<Dur>,
    ca_file: Option<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
struct RawDns {
    name: Spanned<Text>,
    server: Option<Spanned<Text>>,
    #[serde(default)]
    expect: Vec<Spanned<Text>>,
    timeout: Option<Dur>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
struct RawTls {
    address: Spanned<Text>,
    server_name: Option<Text>,
    warn: Option<Dur>,
    timeout: Option<Dur>,
    ca_file: Option<Text>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
struct RawHost {
    disks: Option<Vec<Text>>,
    disk_warn: Option<Ratio>,
    disk_critical: Option<Spanned<Ratio>>,
    memory_warn: Option<Ratio>,
    load_warn: Option<Positive>,
    fd_warn: Option<Ratio>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
struct RawProcess {
    name: Spanned<Text>,
    #[serde(rename = "match")]
    pattern: Option<Text>,
    pidfile: Option<Text>,
    min: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
struct RawMaintenance {
    #[serde(default)]
    flag_files: Vec<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
struct RawDeploy {
    path: Text,
    recent: Option<Dur>,
}

// ---------------------------------------------------------------------------
// The typed config.

/// Default hard cap on a whole run.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(10);
/// Default per-probe timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// How far back logs are read by default (`[agent] since`, `--since`).
pub const DEFAULT_SINCE: Duration = Duration::from_secs(15 * 60);
/// Default number of probes in flight.
pub const DEFAULT_CONCURRENCY: usize = 64;
/// Most redirects an endpoint may be told to follow.
pub const MAX_FOLLOW_REDIRECTS: u8 = 20;
/// Default certificate expiry warning window.
pub const DEFAULT_TLS_WARN: Duration = Duration::from_secs(14 * 86_400);

/// The validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The file it came from, if any.
    pub source: Option<PathBuf>,
    pub agent: Agent,
    pub endpoints: Vec<Endpoint>,
    pub upstreams: Vec<Upstream>,
    pub proxy: Option<Proxy>,
    pub dependencies: Vec<Dependency>,
    pub dns: Vec<DnsCheck>,
    pub tls: Vec<TlsCheck>,
    pub host: Host,
    pub processes: Vec<ProcessCheck>,
    pub maintenance_flags: Vec<PathBuf>,
    pub deploys: Vec<Deploy>,
    /// Every extra CA file named anywhere (`ca_file`): trusted for all probes.
    pub ca_files: Vec<PathBuf>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Agent {
    pub deadline: Duration,
    pub timeout: Duration,
    pub concurrency: usize,
    pub discover: bool,
    /// How far back every log is read.
    pub since: Duration,
}

/// A header to send; its value is a secret and is never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Header {
    pub name: String,
    pub value: String,
}

impl fmt::Debug for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: <redacted>", self.name)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    pub name: String,
    pub url: Url,
    /// Statuses that count as healthy; `None`: anything below 400.
    pub expect_status: Option<Vec<u16>>,
    pub headers: Vec<Header>,
    pub resolve: Option<IpAddr>,
    pub timeout: Duration,
    pub tls_warn: Duration,
    pub slow: Option<Duration>,
    /// Redirects to follow; 0 follows none.
    pub follow_redirects: u8,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Upstream {
    pub name: String,
    pub url: Url,
    pub process: Option<String>,
    pub pidfile: Option<PathBuf>,
    pub env_required: Vec<String>,
    pub log: Option<PathBuf>,
    pub slow: Option<Duration>,
    pub timeout: Duration,
    pub headers: Vec<Header>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyKind {
    Nginx,
    Haproxy,
    Apache,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Proxy {
    pub kind: Option<ProxyKind>,
    pub config: Option<PathBuf>,
    pub error_log: Option<PathBuf>,
    /// The access log; default: from the proxy's config.
    pub access_log: Option<PathBuf>,
    /// HAProxy's runtime API socket; default: the config's `stats socket`.
    pub stats_socket: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Dependency {
    pub name: String,
    pub url: Url,
    /// What it is: the `kind` key, else [`DepKind::default_for`] its URL.
    pub kind: DepKind,
    pub slow: Option<Duration>,
    pub timeout: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DnsCheck {
    pub name: String,
    pub server: Option<SocketAddr>,
    pub expect: Vec<IpAddr>,
    pub timeout: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TlsCheck {
    pub address: String,
    pub server_name: Option<String>,
    pub warn: Duration,
    pub timeout: Duration,
}

/// The `[host]` section. Judge by [`Config::thresholds`], which adds the
/// thresholds that have no key, rather than by these fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Host {
    /// Filesystems to watch; empty: every local filesystem.
    pub disks: Vec<PathBuf>,
    pub disk_warn: f64,
    pub disk_critical: f64,
    pub memory_warn: f64,
    pub load_warn: f64,
    pub fd_warn: f64,
}

impl Default for Host {
    fn default() -> Self {
        Self {
            disks: Vec::new(),
            disk_warn: thresholds::DISK_WARN,
            disk_critical: thresholds::DISK_CRITICAL,
            memory_warn: thresholds::MEMORY_WARN,
            load_warn: thresholds::LOAD_WARN,
            fd_warn: thresholds::FD_WARN,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProcessCheck {
    pub name: String,
    pub pattern: Option<String>,
    pub pidfile: Option<PathBuf>,
    pub min: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Deploy {
    pub path: PathBuf,
    pub recent: Duration,
}

impl Config {
    /// The thresholds assessment and the rules judge measurements by: the
    /// `[host]` values, the named defaults of [`thresholds`] for the rest.
    pub fn thresholds(&self) -> Thresholds {
        Thresholds::from(&self.host)
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            source: None,
            agent: Agent {
                deadline: DEFAULT_DEADLINE,
                timeout: DEFAULT_TIMEOUT,
                concurrency: DEFAULT_CONCURRENCY,
                discover: true,
                since: DEFAULT_SINCE,
            },
            endpoints: Vec::new(),
            upstreams: Vec::new(),
            proxy: None,
            dependencies: Vec::new(),
            dns: Vec::new(),
            tls: Vec::new(),
            host: Host::default(),
            processes: Vec::new(),
            maintenance_flags: Vec::new(),
            deploys: Vec::new(),
            ca_files: Vec::new(),
        }
    }
}

// ---------------------------------------------------------------------------
// Loading.

/// Read, parse and validate the config file at `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let at_start = |message: String| ConfigError {
        file: path.to_path_buf(),
        line: 1,
        col: 1,
        key: None,
        message,
    };
    let meta = std::fs::metadata(path).map_err(|e| at_start(format!("cannot read config: {e}")))?;
    if meta.is_dir() {
        return Err(at_start("is a directory, not a config file".to_string()));
    }
    if !meta.is_file() {
        // A FIFO would block the read forever, a device read without end.
        return Err(at_start(
            "not a regular file (a FIFO, socket or device)".to_string(),
        ));
    }
    if meta.len() > MAX_CONFIG_BYTES {
        return Err(at_start(format!(
            "config is {} bytes; the limit is {MAX_CONFIG_BYTES} bytes",
            meta.len()
        )));
    }
    let bytes = read_regular(path).map_err(|e| at_start(format!("cannot read config: {e}")))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let (line, col) = line_col(
            &String::from_utf8_lossy(e.as_bytes()),
            e.utf8_error().valid_up_to(),
        );
        ConfigError {
            file: path.to_path_buf(),
            line,
            col,
            key: None,
            message: "config is not UTF-8 text".to_string(),
        }
    })?;
    parse(&text, path)
}

/// Read at most [`MAX_CONFIG_BYTES`] of the regular file at `path`, opened
/// non-blocking so that a FIFO swapped in after the check cannot hang us.
fn read_regular(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let mut bytes = Vec::new();
    file.take(MAX_CONFIG_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(std::io::Error::other(format!(
            "larger than {MAX_CONFIG_BYTES} bytes"
        )));
    }
    Ok(bytes)
}

/// Parse and validate config text; `path` is only used in errors.
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let raw: RawConfig = toml::from_str(text).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        located(text, path, offset, e.message().to_string())
    })?;
    validate(raw, text, path)
}

/// An error at byte `offset` of `text`, with the key found there.
fn located(text: &str, path: &Path, offset: usize, message: String) -> ConfigError {
    let (line, col) = line_col(text, offset);
    ConfigError {
        file: path.to_path_buf(),
        line,
        col,
        key: key_at(text, offset),
        message,
    }
}

/// 1-based line and column (in characters) of byte `offset`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// The dotted key at byte `offset`: the table header above the line and
/// the key the line assigns (`endpoint.url`, `agent.timeout`).
fn key_at(text: &str, offset: usize) -> Option<String> {
    let offset = offset.min(text.len());
    let line_start = text
        .get(..offset)
        .and_then(|b| b.rfind('\n'))
        .map_or(0, |i| i + 1);
    let line_end = text
        .get(offset..)
        .and_then(|a| a.find('\n'))
        .map_or(text.len(), |i| offset + i);
    let line = text
        .get(line_start..line_end)?
        .trim()
        .trim_start_matches('\u{feff}');
    let table = text
        .get(..line_start)?
        .lines()
        .rev()
        .map(|l| l.trim().trim_start_matches('\u{feff}'))
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_string());
    if line.starts_with('[') {
        return Some(
            line.trim_matches(|c| c == '[' || c == ']')
                .trim()
                .to_string(),
        );
    }
    let key = line
        .split_once('=')
        .map(|(k, _)| k.trim().trim_matches('"').to_string())
        .filter(|k| !k.is_empty() && !k.contains(char::is_whitespace));
    match (table, key) {
        (Some(t), Some(k)) => Some(format!("{t}.{k}")),
        (None, Some(k)) => Some(k),
        (Some(t), None) => Some(t),
        (None, None) => None,
    }
}

fn validate(raw: RawConfig, text: &str, path: &Path) -> Result<Config, ConfigError> {
    let err =
        |span: std::ops::Range<usize>, message: String| located(text, path, span.start, message);
    let defaults = Config::default();

    let entries = [
        ("endpoint", raw.endpoint.len()),
        ("upstream", raw.upstream.len()),
        ("dependency", raw.dependency.len()),
        ("dns", raw.dns.len()),
        ("tls", raw.tls.len()),
        ("process", raw.process.len()),
        ("deploy", raw.deploy.len()),
    ];
    if entries.iter().map(|(_, n)| n).sum::<usize>() > MAX_ENTRIES {
        let (section, _) = entries
            .iter()
            .max_by_key(|(_, n)| *n)
            .unwrap_or(&("endpoint", 0));
        let header = format!("[[{section}]]");
        let at = text
            .match_indices(&header)
            .nth(MAX_ENTRIES / entries.len())
            .map_or(0, |(i, _)| i);
        return Err(located(
            text,
            path,
            at,
            format!("more than {MAX_ENTRIES} entries in [[...]] sections; split the config"),
        ));
    }

    let timeout = raw.agent.timeout.map_or(DEFAULT_TIMEOUT, |d| d.0);
    let deadline = match raw.agent.deadline {
        Some(d) if d.get_ref().0 < Duration::from_millis(100) => {
            return Err(err(d.span(), "deadline must be at least 100ms".to_string()));
        }
        Some(d) => d.into_inner().0,
        None => DEFAULT_DEADLINE,
    };
    let concurrency = match raw.agent.concurrency {
        Some(c) if *c.get_ref() == 0 || *c.get_ref() > 4096 => {
            return Err(err(
                c.span(),
                format!("{} is not between 1 and 4096", c.get_ref()),
            ));
        }
        Some(c) => c.into_inner() as usize,
        None => DEFAULT_CONCURRENCY,
    };
    let agent = Agent {
        deadline,
        timeout,
        concurrency,
        discover: raw.agent.discover.unwrap_or(true),
        since: raw.agent.since.map_or(DEFAULT_SINCE, |d| d.0),
    };

    let mut names = Names::default();
    let mut ca_files = Vec::new();

    let mut endpoints = Vec::new();
    for (i, e) in raw.endpoint.into_iter().enumerate() {
        let name = match &e.name {
            Some(n) => n.get_ref().0.clone(),
            None => default_name(&e.url.0, i),
        };
        names
            .check("endpoint", &name, e.name.as_ref().map(Spanned::span))
            .map_err(|(s, m)| err(s, m))?;
        if let Some(codes) = &e.expect_status
            && codes.get_ref().len() > MAX_EXPECT_STATUS
        {
            return Err(err(
                codes.span(),
                format!(
                    "{} status codes; at most {MAX_EXPECT_STATUS}",
                    codes.get_ref().len()
                ),
            ));
        }
        if let Some(codes) = &e.expect_status
            && let Some(bad) = codes.get_ref().iter().find(|c| !(100..=599).contains(*c))
        {
            return Err(err(
                codes.span(),
                format!("{bad} is not an HTTP status code"),
            ));
        }
        let resolve = match e.resolve {
            Some(r) => Some(r.get_ref().0.trim().parse::<IpAddr>().map_err(|_| {
                err(
                    r.span(),
                    format!("{:?} is not an IP address", r.get_ref().0),
                )
            })?),
            None => None,
        };
        let follow_redirects = match e.follow_redirects {
            Some(n) => u8::try_from(*n.get_ref())
                .ok()
                .filter(|n| *n <= MAX_FOLLOW_REDIRECTS)
                .ok_or_else(|| {
                    err(
                        n.span(),
                        format!(
                            "{} is not between 0 and {MAX_FOLLOW_REDIRECTS}",
                            n.get_ref()
                        ),
                    )
                })?,
            None => 0,
        };
        ca_files.extend(e.ca_file.map(|t| PathBuf::from(t.0)));
        endpoints.push(Endpoint {
            name,
            url: e.url.0,
            expect_status: e.expect_status.map(Spanned::into_inner),
            headers: headers(e.headers),
            resolve,
            timeout: e.timeout.map_or(timeout, |d| d.0),
            tls_warn: e.tls_warn.map_or(DEFAULT_TLS_WARN, |d| d.0),
            slow: e.slow.map(|d| d.0),
            follow_redirects,
        });
    }

    let mut upstreams = Vec::new();
    for (i, u) in raw.upstream.into_iter().enumerate() {
        let name = match &u.name {
            Some(n) => n.get_ref().0.clone(),
            None => default_name(&u.url.0, i),
        };
        names
            .check("upstream", &name, u.name.as_ref().map(Spanned::span))
            .map_err(|(s, m)| err(s, m))?;
        ca_files.extend(u.ca_file.map(|t| PathBuf::from(t.0)));
        upstreams.push(Upstream {
            name,
            url: u.url.0,
            process: u.process.map(|t| t.0),
            pidfile: u.pidfile.map(|t| PathBuf::from(t.0)),
            env_required: u.env_required.into_iter().map(|t| t.0).collect(),
            log: u.log.map(|t| PathBuf::from(t.0)),
            slow: u.slow.map(|d| d.0),
            timeout: u.timeout.map_or(timeout, |d| d.0),
            headers: headers(u.headers),
        });
    }

    let proxy = match raw.proxy {
        Some(p) => {
            let kind = match p.kind {
                Some(k) => Some(match k.get_ref().0.as_str() {
                    "nginx" => ProxyKind::Nginx,
                    "haproxy" => ProxyKind::Haproxy,
                    "apache" => ProxyKind::Apache,
                    other => {
                        return Err(err(
                            k.span(),
                            format!(
                                "unknown proxy kind {other:?}; expected {}",
                                one_of(["nginx", "haproxy", "apache"])
                            ),
                        ));
                    }
                }),
                None => None,
            };
            Some(Proxy {
                kind,
                config: p.config.map(|t| PathBuf::from(t.0)),
                error_log: p.error_log.map(|t| PathBuf::from(t.0)),
                access_log: p.access_log.map(|t| PathBuf::from(t.0)),
                stats_socket: p.stats_socket.map(|t| PathBuf::from(t.0)),
            })
        }
        None => None,
    };

    let mut dependencies = Vec::new();
    for d in raw.dependency {
        names
            .check("dependency", &d.name.get_ref().0, Some(d.name.span()))
            .map_err(|(s, m)| err(s, m))?;
        ca_files.extend(d.ca_file.map(|t| PathBuf::from(t.0)));
        let kind = match d.kind {
            Some(k) => DepKind::from_name(&k.get_ref().0).ok_or_else(|| {
                err(
                    k.span(),
                    format!(
                        "unknown dependency kind {:?}; expected {}",
                        k.get_ref().0,
                        one_of(DepKind::ALL.map(DepKind::as_str))
                    ),
                )
            })?,
            None => DepKind::default_for(&d.url.0),
        };
        dependencies.push(Dependency {
            name: d.name.into_inner().0,
            url: d.url.0,
            kind,
            slow: d.slow.map(|x| x.0),
            timeout: d.timeout.map_or(timeout, |x| x.0),
        });
    }

    let mut dns = Vec::new();
    for d in raw.dns {
        let name = d.name.get_ref().0.trim().trim_end_matches('.').to_string();
        if name.is_empty() || name.len() > 253 || name.contains(char::is_whitespace) {
            return Err(err(d.name.span(), format!("{name:?} is not a DNS name")));
        }
        names
            .check("dns", &name, Some(d.name.span()))
            .map_err(|(s, m)| err(s, m))?;
        let server = match d.server {
            Some(s) => Some(parse_server(&s.get_ref().0).map_err(|m| err(s.span(), m))?),
            None => None,
        };
        let mut expect = Vec::new();
        for e in d.expect {
            expect.push(e.get_ref().0.trim().parse::<IpAddr>().map_err(|_| {
                err(
                    e.span(),
                    format!("{:?} is not an IP address", e.get_ref().0),
                )
            })?);
        }
        dns.push(DnsCheck {
            name,
            server,
            expect,
            timeout: d.timeout.map_or(timeout, |x| x.0),
        });
    }

    let mut tls = Vec::new();
    for t in raw.tls {
        let address = t.address.get_ref().0.trim().to_string();
        if split_host_port(&address).is_none() {
            return Err(err(
                t.address.span(),
                format!("{address:?} is not host:port"),
            ));
        }
        names
            .check("tls", &address, Some(t.address.span()))
            .map_err(|(s, m)| err(s, m))?;
        ca_files.extend(t.ca_file.map(|x| PathBuf::from(x.0)));
        tls.push(TlsCheck {
            address,
            server_name: t.server_name.map(|x| x.0),
            warn: t.warn.map_or(DEFAULT_TLS_WARN, |x| x.0),
            timeout: t.timeout.map_or(timeout, |x| x.0),
        });
    }

    let h = raw.host;
    let mut host = defaults.host.clone();
    host.disks = h
        .disks
        .unwrap_or_default()
        .into_iter()
        .map(|t| PathBuf::from(t.0))
        .collect();
    if let Some(v) = h.disk_warn {
        host.disk_warn = v.0;
    }
    if let Some(v) = &h.disk_critical {
        host.disk_critical = v.get_ref().0;
    }
    if host.disk_warn > host.disk_critical {
        let span = h.disk_critical.map_or(0..0, |s| s.span());
        return Err(err(
            span,
            format!(
                "disk_critical ({}) is below disk_warn ({})",
                host.disk_critical, host.disk_warn
            ),
        ));
    }
    if let Some(v) = h.memory_warn {
        host.memory_warn = v.0;
    }
    if let Some(v) = h.load_warn {
        host.load_warn = v.0;
    }
    if let Some(v) = h.fd_warn {
        host.fd_warn = v.0;
    }

    let mut processes = Vec::new();
    for p in raw.process {
        names
            .check("process", &p.name.get_ref().0, Some(p.name.span()))
            .map_err(|(s, m)| err(s, m))?;
        let name = p.name.into_inner().0;
        processes.push(ProcessCheck {
            pattern: p
                .pattern
                .map(|t| t.0)
                .or_else(|| (p.pidfile.is_none()).then(|| name.clone())),
            name,
            pidfile: p.pidfile.map(|t| PathBuf::from(t.0)),
            min: p.min.unwrap_or(1),
        });
    }

    Ok(Config {
        source: Some(path.to_path_buf()),
        agent,
        endpoints,
        upstreams,
        proxy,
        dependencies,
        dns,
        tls,
        host,
        processes,
        maintenance_flags: raw
            .maintenance
            .map(|m| {
                m.flag_files
                    .into_iter()
                    .map(|t| PathBuf::from(t.0))
                    .collect()
            })
            .unwrap_or_default(),
        deploys: raw
            .deploy
            .into_iter()
            .map(|d| Deploy {
                path: PathBuf::from(d.path.0),
                recent: d.recent.map_or(Duration::from_secs(30 * 60), |x| x.0),
            })
            .collect(),
        ca_files,
    })
}

/// `"a", "b" or "c"`: the values an enum key accepts, for its error.
fn one_of<const N: usize>(values: [&str; N]) -> String {
    let quoted: Vec<String> = values.iter().map(|v| format!("{v:?}")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => quoted.concat(),
    }
}

fn headers(raw: BTreeMap<String, Text>) -> Vec<Header> {
    raw.into_iter()
        .map(|(name, value)| Header {
            name,
            value: value.0,
        })
        .collect()
}

/// A name for an unnamed endpoint or upstream: its host (and port when not
/// the scheme's default), then its position when that is taken.
pub fn default_name(url: &Url, index: usize) -> String {
    let host = url.host_str().unwrap_or("unnamed");
    let base = match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    };
    if index == 0 {
        base
    } else {
        format!("{base}-{}", index + 1)
    }
}

/// Split `host:port` (IPv6 in brackets).
pub fn split_host_port(s: &str) -> Option<(String, u16)> {
    let (host, port) = s.rsplit_once(':')?;
    let port = port.parse::<u16>().ok().filter(|p| *p != 0)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    (!host.is_empty()).then(|| (host.to_string(), port))
}

fn parse_server(s: &str) -> Result<SocketAddr, String> {
    let s = s.trim();
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, 53));
    }
    Err(format!("{s:?} is not an IP address or IP:port"))
}

/// Tracks names per section to reject duplicates (they would give two
/// probes the same id).
#[derive(Default)]
struct Names(std::collections::HashSet<(String, String)>);

impl Names {
    fn check(
        &mut self,
        section: &str,
        name: &str,
        span: Option<std::ops::Range<usize>>,
    ) -> Result<(), (std::ops::Range<usize>, String)> {
        let span = span.unwrap_or(0..0);
        if name.trim().is_empty() {
            return Err((span, "name must not be empty".to_string()));
        }
        if !self.0.insert((section.to_string(), name.to_string())) {
            return Err((
                span,
                format!("duplicate {section} name {name:?}: probe ids must be unique"),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<Config, ConfigError> {
        parse(text, Path::new("c.toml"))
    }

    fn error(text: &str) -> String {
        parse_str(text).unwrap_err().to_string()
    }

    #[test]
    fn the_example_config_parses_and_covers_every_section() {
        // As shipped: it needs no environment variable.
        let text = include_str!("../../config.example.toml");
        let cfg = parse_str(text).unwrap();
        assert_eq!(cfg.endpoints.len(), 1);
        assert_eq!(cfg.endpoints[0].headers[0].name, "Accept");
        assert_eq!(cfg.upstreams[0].env_required, ["DATABASE_URL"]);
        assert_eq!(cfg.dependencies[0].url.scheme(), "tcp");
        assert_eq!(cfg.dependencies[0].kind, DepKind::Database);
        assert_eq!(cfg.dns[0].server, Some("127.0.0.1:53".parse().unwrap()));
        assert_eq!(cfg.tls[0].warn, Duration::from_secs(14 * 86_400));
        assert_eq!(cfg.processes[0].pattern.as_deref(), Some("sidekiq"));
        assert_eq!(cfg.maintenance_flags.len(), 1);
        assert_eq!(cfg.deploys[0].recent, Duration::from_secs(1800));
        assert_eq!(
            cfg.proxy.as_ref().and_then(|p| p.kind),
            Some(ProxyKind::Nginx)
        );
        assert_eq!(cfg.ca_files.len(), 2);
    }

    #[test]
    fn the_examples_commented_secret_header_works_once_uncommented() {
        let text = include_str!("../../config.example.toml");
        let commented = text
            .lines()
            .find(|l| l.starts_with("# headers = ") && l.contains("${TOKEN}"))
            .unwrap();
        let live = text
            .lines()
            .find(|l| l.starts_with("headers = ") && l.contains("Accept"))
            .unwrap();
        let uncommented = commented.trim_start_matches("# ");
        let with_secret = text.replace(live, uncommented).replace("${TOKEN}", "t0ken");
        let cfg = parse_str(&with_secret).unwrap();
        assert_eq!(cfg.endpoints[0].headers[0].value, "Bearer t0ken");
    }

    #[test]
    fn empty_config_is_the_default() {
        let cfg = parse_str("").unwrap();
        assert_eq!(cfg.agent, Config::default().agent);
    }

    #[test]
    fn unknown_key_names_file_line_column_and_key() {
        let e = error("[agent]\ntimeout = \"5s\"\ndeadlin = \"10s\"\n");
        assert!(
            e.starts_with("c.toml:3:1: agent.deadlin: unknown field `deadlin`"),
            "{e}"
        );
        assert!(!e.contains('\n'));
    }

    #[test]
    fn bad_values_are_located() {
        let e = error("[agent]\ntimeout = \"5x\"\n");
        assert!(
            e.starts_with("c.toml:2:11: agent.timeout: invalid duration"),
            "{e}"
        );
        let e = error("[agent]\nconcurrency = \"many\"\n");
        assert!(e.starts_with("c.toml:2:15: agent.concurrency:"), "{e}");
        let e = error("[agent]\nconcurrency = 0\n");
        assert!(
            e.contains("agent.concurrency: 0 is not between 1 and 4096"),
            "{e}"
        );
        let e = error("[[endpoint]]\nurl = \"ftp://x/\"\n");
        assert!(
            e.starts_with("c.toml:2:7: endpoint.url: URL scheme `ftp`"),
            "{e}"
        );
        let e = error("[[endpoint]]\nname = \"a\"\n");
        assert!(e.contains("missing field `url`"), "{e}");
        let e = error("[host]\ndisk_warn = 1.5\n");
        assert!(e.contains("host.disk_warn: 1.5 is not a share"), "{e}");
        let e = error("[host]\ndisk_warn = 0.9\ndisk_critical = 0.5\n");
        assert!(e.starts_with("c.toml:3:17: host.disk_critical:"), "{e}");
    }

    #[test]
    fn dependency_kind_is_the_key_else_the_url_never_the_name() {
        let cfg = parse_str(
            "[[dependency]]\nname = \"feedback-api\"\nurl = \"http://feedback.internal/health\"\n\
             [[dependency]]\nname = \"primary\"\nurl = \"tcp://10.0.0.5:5432\"\n\
             [[dependency]]\nname = \"sessions\"\nurl = \"redis://127.0.0.1/0\"\n\
             [[dependency]]\nname = \"jobs\"\nurl = \"tcp://10.0.0.7:5673\"\nkind = \"queue\"\n",
        )
        .unwrap();
        let kinds: Vec<_> = cfg.dependencies.iter().map(|d| d.kind).collect();
        assert_eq!(
            kinds,
            [
                DepKind::Api,
                DepKind::Database,
                DepKind::Cache,
                DepKind::Queue
            ]
        );
    }

    #[test]
    fn unknown_dependency_kind_is_located_and_names_the_key() {
        let e = error("[[dependency]]\nname = \"pg\"\nurl = \"tcp://db:5432\"\nkind = \"sql\"\n");
        assert_eq!(
            e,
            "c.toml:4:8: dependency.kind: unknown dependency kind \"sql\"; \
             expected \"database\", \"cache\", \"api\" or \"queue\""
        );
    }

    #[test]
    fn duplicate_names_are_rejected() {
        let e = error(
            "[[upstream]]\nname = \"app\"\nurl = \"http://a/\"\n[[upstream]]\nname = \"app\"\nurl = \"http://b/\"\n",
        );
        assert!(
            e.starts_with("c.toml:5:8: upstream.name: duplicate upstream name"),
            "{e}"
        );
    }

    #[test]
    fn unset_variable_is_an_error_at_its_value() {
        let e = error(
            "[[endpoint]]\nurl = \"http://a/\"\nheaders = { Authorization = \"Bearer ${WHY5XX_TEST_SURELY_UNSET}\" }\n",
        );
        assert!(e.starts_with("c.toml:3:"), "{e}");
        assert!(e.contains("WHY5XX_TEST_SURELY_UNSET is not set"), "{e}");
    }

    #[test]
    fn garbage_and_wrong_types_do_not_panic() {
        for text in [
            "[",
            "agent = 5",
            "[[endpoint]]\nurl = 5",
            "x = \"\u{0}\"",
            "[agent]\ndeadline = \"1ms\"",
            "[[dns]]\nname = \"a b\"",
        ] {
            let e = parse_str(text).unwrap_err();
            assert!(e.line >= 1 && e.col >= 1, "{e}");
        }
    }
}

//! `why5xx init`: a starter config built from what discovery finds on this
//! host — the reverse proxy and its configuration, the upstreams it forwards
//! to (with the process listening on a local upstream's port), databases
//! and caches listening on their usual ports, the local filesystems — with
//! every key commented the way `config.example.toml` is. Discovery only
//! reads (`/proc`, the proxy's configuration); [`render`] is pure and its
//! output always passes `why5xx check-config`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use clap::Args;

use why5xx_probes::port::SocketTable;
use why5xx_probes::proxy::{self, Address, Protocol, ProxySpec};
use why5xx_probes::system;

/// At most this many endpoint suggestions are written.
pub const MAX_ENDPOINT_SUGGESTIONS: usize = 5;

/// Ports whose listener is taken for a dependency the application needs.
const DEPENDENCY_PORTS: &[(u16, &str)] = &[
    (5432, "postgres"),
    (3306, "mysql"),
    (6379, "redis"),
    (11211, "memcached"),
    (27017, "mongodb"),
    (5672, "rabbitmq"),
    (9200, "elasticsearch"),
];

#[derive(Debug, Clone, Args)]
pub struct InitArgs {
    /// Start from this proxy configuration (nginx.conf, haproxy.cfg) instead
    /// of the one discovery picks (the oldest running master).
    #[arg(long, value_name = "FILE")]
    pub proxy_config: Option<PathBuf>,
}

/// What discovery found on this host.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Discovered {
    pub host: String,
    pub proxy: Option<FoundProxy>,
    pub upstreams: Vec<FoundUpstream>,
    /// Forward targets that cannot be an `[[upstream]]` (unix sockets,
    /// `FastCGI`, addresses only known at run time), as `what (file:line)`.
    pub skipped: Vec<String>,
    /// Suggested public endpoints (written commented out).
    pub endpoints: Vec<FoundEndpoint>,
    pub ports: Vec<FoundPort>,
    /// False when some listening sockets' owners could not be seen (not root).
    pub owners_complete: bool,
    pub disks: Vec<PathBuf>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FoundProxy {
    /// `nginx` or `haproxy`.
    pub kind: String,
    pub config: Option<PathBuf>,
    pub error_log: Option<PathBuf>,
    pub master_pid: Option<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FoundUpstream {
    pub name: String,
    pub url: String,
    /// The process listening on the upstream's local port.
    pub process: Option<String>,
    /// Whether the upstream's port is on this host.
    pub local: bool,
    /// The directive it came from (`file:line`).
    pub origin: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FoundEndpoint {
    pub name: String,
    pub url: String,
    pub resolve: Option<String>,
    pub origin: String,
}

/// One listening TCP port.
#[derive(Debug, Clone, PartialEq)]
pub struct FoundPort {
    pub port: u16,
    pub addrs: Vec<IpAddr>,
    pub owners: Vec<String>,
}

/// Look at this host: the proxy, the socket table, the filesystems.
/// Blocking; never fails (what cannot be seen is left out).
pub fn discover(proxy_config: Option<&Path>) -> Discovered {
    let obs = proxy::observe(&ProxySpec {
        config: proxy_config.map(Path::to_path_buf),
        discover: true,
        ..ProxySpec::default()
    });
    let table = SocketTable::read();

    let mut ports: BTreeMap<u16, FoundPort> = BTreeMap::new();
    for l in &table.listeners {
        let p = ports.entry(l.local.port()).or_insert_with(|| FoundPort {
            port: l.local.port(),
            addrs: Vec::new(),
            owners: Vec::new(),
        });
        if !p.addrs.contains(&l.local.ip()) {
            p.addrs.push(l.local.ip());
        }
        for o in &l.owners {
            if !p.owners.contains(&o.name) {
                p.owners.push(o.name.clone());
            }
        }
    }

    let mut found = Discovered {
        host: crate::report::hostname(),
        owners_complete: table.owners_complete && table.failure.is_none(),
        disks: system::local_filesystems()
            .into_iter()
            .map(|m| m.mount_point)
            .collect(),
        ..Discovered::default()
    };

    if let Some(kind) = obs.kind {
        found.proxy = Some(FoundProxy {
            kind: kind.name().to_string(),
            config: obs.config.clone(),
            error_log: obs.error_logs().into_iter().next(),
            master_pid: obs.master.as_ref().map(|m| m.pid),
        });
    }

    let mut names: Vec<String> = Vec::new();
    let mut seen: Vec<(String, String, u16)> = Vec::new();
    for t in obs.forward_targets() {
        let origin = t.server_origin.as_ref().unwrap_or(&t.origin).to_string();
        let scheme = match t.protocol {
            Protocol::Http => "http",
            Protocol::Https => "https",
            other => {
                found
                    .skipped
                    .push(format!("{other:?} to {} ({origin})", t.address).to_lowercase());
                continue;
            }
        };
        let Address::Tcp { host, port } = &t.address else {
            found
                .skipped
                .push(format!("{scheme} to {} ({origin})", t.address));
            continue;
        };
        if host.is_wildcard() || t.down {
            continue;
        }
        let key = (scheme.to_string(), host.to_string(), *port);
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        let url = format!("{scheme}://{}/", t.address);
        let Ok(parsed) = url::Url::parse(&url) else {
            found.skipped.push(format!("{url} ({origin})"));
            continue;
        };
        let local = crate::engine::plan::local_port(&parsed).is_some();
        let process = local
            .then(|| ports.get(port).and_then(|p| p.owners.first().cloned()))
            .flatten();
        let base = t.upstream.clone().unwrap_or_else(|| t.address.to_string());
        let mut name = base.clone();
        let mut n = 1;
        while names.contains(&name) {
            n += 1;
            name = format!("{base}-{n}");
        }
        names.push(name.clone());
        found.upstreams.push(FoundUpstream {
            name,
            url,
            process,
            local,
            origin,
        });
    }

    if let Some(m) = obs.model() {
        for l in &m.listeners {
            if found.endpoints.len() >= MAX_ENDPOINT_SUGGESTIONS {
                break;
            }
            if let Some(e) = endpoint_of(l)
                && !found.endpoints.iter().any(|x| x.url == e.url)
            {
                found.endpoints.push(e);
            }
        }
    }

    found.ports = ports.into_values().collect();
    found
}

/// A public URL for one address the proxy (nginx, haproxy or Apache) listens on:
/// its first real server name (else this host's address) over TCP.
fn endpoint_of(listen: &proxy::ProxyListener) -> Option<FoundEndpoint> {
    let Address::Tcp { host, port } = &listen.address else {
        return None;
    };
    let scheme = if listen.tls { "https" } else { "http" };
    let default_port = if listen.tls { 443 } else { 80 };
    let port_part = if *port == default_port {
        String::new()
    } else {
        format!(":{port}")
    };
    let name = listen.names.iter().find(|n| {
        !n.is_empty()
            && *n != "_"
            && *n != "localhost"
            && !n.starts_with('~')
            && !n.contains('*')
            && n.parse::<IpAddr>().is_err()
    });
    let connect = match host.ip() {
        Some(ip) if !ip.is_unspecified() => ip.to_string(),
        _ => "127.0.0.1".to_string(),
    };
    let (url, resolve) = if let Some(n) = name {
        (format!("{scheme}://{n}{port_part}/"), Some(connect))
    } else {
        let h = if connect.contains(':') {
            format!("[{connect}]")
        } else {
            connect
        };
        (format!("{scheme}://{h}{port_part}/"), None)
    };
    url::Url::parse(&url).ok()?;
    Some(FoundEndpoint {
        name: name.map_or_else(|| format!("{scheme}-{port}"), Clone::clone),
        url,
        resolve,
        origin: listen.origin.to_string(),
    })
}

/// Where comments start, as in `config.example.toml`.
const COMMENT_COL: usize = 49;

/// `key = value` with a trailing comment, aligned; `commented` prefixes `# `.
fn line(out: &mut String, commented: bool, key: &str, value: &str, comment: &str) {
    let mut text = format!("{}{key} = {value}", if commented { "# " } else { "" });
    if !comment.is_empty() {
        let pad = COMMENT_COL.saturating_sub(text.chars().count() + 1).max(1);
        let _ = write!(text, "{}# {}", " ".repeat(pad), one_line(comment));
    }
    out.push_str(&text);
    out.push('\n');
}

/// A TOML basic string that reads back as `s` after why5xx's `${VAR}`
/// interpolation (`$` is written `$$`).
pub fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '$' => out.push_str("$$"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Text safe inside a `#` comment: one line, no control characters.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

fn path_str(p: &std::path::Path) -> String {
    toml_str(&p.to_string_lossy())
}

/// The starter config for what was found.
pub fn render(d: &Discovered, written_at: &str) -> String {
    let mut o = String::new();
    let summary = {
        let mut parts = Vec::new();
        if let Some(p) = &d.proxy {
            parts.push(p.kind.clone());
        }
        parts.push(format!("{} upstream(s)", d.upstreams.len()));
        parts.push(format!("{} listening port(s)", d.ports.len()));
        parts.push(format!("{} local filesystem(s)", d.disks.len()));
        parts.join(", ")
    };
    let _ = writeln!(
        o,
        "# why5xx configuration for {}, written by `why5xx init` at {written_at}.",
        one_line(&d.host)
    );
    let _ = writeln!(o, "# Found: {}.", one_line(&summary));
    o.push_str(
        "# Review it, then: why5xx check-config FILE && why5xx --config FILE\n\
         # Every key is optional unless marked \"required\"; config.example.toml and\n\
         # docs/contract.md describe them all. Durations are strings like \"250ms\", \"5s\", \"14d\".\n\
         # `${VAR}` in a string is replaced by that environment variable (`$$` is a `$`).\n\n",
    );

    o.push_str("[agent]\n");
    line(
        &mut o,
        false,
        "deadline",
        "\"10s\"",
        "hard cap on the whole run; unfinished probes are reported as timed out",
    );
    line(
        &mut o,
        false,
        "timeout",
        "\"5s\"",
        "default per-probe timeout",
    );
    line(
        &mut o,
        false,
        "concurrency",
        "64",
        "probes in flight at once (1 to 4096)",
    );
    line(
        &mut o,
        false,
        "discover",
        "true",
        "also find the reverse proxy, its upstreams and listeners at run time",
    );
    o.push('\n');

    write_endpoints(&mut o, d);
    write_upstreams(&mut o, d);
    write_proxy(&mut o, d);
    write_dependencies(&mut o, d);
    write_host(&mut o, d);
    write_examples(&mut o);
    o
}

fn write_endpoints(o: &mut String, d: &Discovered) {
    o.push_str(
        "# What users hit, usually through the reverse proxy. Probe id: endpoint:NAME.\n\
         # Uncomment one and point it at a page that must answer (a health check):\n\
         # a 404 or a redirect at \"/\" would count as a failure.\n",
    );
    let fallback = FoundEndpoint {
        name: "public".to_string(),
        url: "https://shop.example.com/health".to_string(),
        resolve: Some("127.0.0.1".to_string()),
        origin: String::new(),
    };
    let list: Vec<&FoundEndpoint> = if d.endpoints.is_empty() {
        vec![&fallback]
    } else {
        d.endpoints.iter().collect()
    };
    for (i, e) in list.into_iter().enumerate() {
        o.push_str("# [[endpoint]]\n");
        line(
            o,
            true,
            "name",
            &toml_str(&e.name),
            "default: the URL's host[:port]",
        );
        let from = if e.origin.is_empty() {
            "required: http:// or https://".to_string()
        } else {
            format!("required; from {}", e.origin)
        };
        line(o, true, "url", &toml_str(&e.url), &from);
        if let Some(r) = &e.resolve {
            line(
                o,
                true,
                "resolve",
                &toml_str(r),
                "connect here instead of resolving the host (like curl --resolve)",
            );
        }
        if i == 0 {
            line(
                o,
                true,
                "expect_status",
                "[200]",
                "default: any status below 400",
            );
            line(
                o,
                true,
                "headers",
                "{ Authorization = \"Bearer ${TOKEN}\" }",
                "sent with the request; never printed in any report",
            );
            line(o, true, "timeout", "\"5s\"", "default: agent.timeout");
            line(
                o,
                true,
                "tls_warn",
                "\"14d\"",
                "certificate expiry warning window",
            );
            line(
                o,
                true,
                "slow",
                "\"2s\"",
                "time to first byte above this is slow",
            );
            line(
                o,
                true,
                "ca_file",
                "\"/etc/ssl/private-ca.pem\"",
                "extra trusted CA",
            );
        }
    }
    o.push('\n');
}

fn write_upstreams(o: &mut String, d: &Discovered) {
    o.push_str(
        "# Application servers behind the proxy, probed directly (bypassing it).\n\
         # Probe ids: upstream:NAME, process:NAME, and port:PORT for a local one.\n",
    );
    if d.upstreams.is_empty() {
        o.push_str("# None found in the proxy's configuration; an example:\n");
        o.push_str("# [[upstream]]\n");
        line(o, true, "name", "\"app\"", "default: the URL's host[:port]");
        line(
            o,
            true,
            "url",
            "\"http://127.0.0.1:3000/health\"",
            "required",
        );
        line(
            o,
            true,
            "process",
            "\"gunicorn\"",
            "name or command-line substring of the process that should serve it",
        );
    }
    for (i, u) in d.upstreams.iter().enumerate() {
        o.push_str("[[upstream]]\n");
        line(
            o,
            false,
            "name",
            &toml_str(&u.name),
            "the proxy's name for it, else host:port",
        );
        line(
            o,
            false,
            "url",
            &toml_str(&u.url),
            &format!(
                "required; from {} (a health path is better than /)",
                u.origin
            ),
        );
        match &u.process {
            Some(p) => line(
                o,
                false,
                "process",
                &toml_str(p),
                "the process listening on its port when init ran",
            ),
            None if u.local && !d.owners_complete => line(
                o,
                true,
                "process",
                "\"...\"",
                "who listens on its port is not visible (run init as root)",
            ),
            None if u.local => line(
                o,
                true,
                "process",
                "\"...\"",
                "nothing listened on its port when init ran",
            ),
            None => {}
        }
        if i == 0 {
            line(
                o,
                true,
                "pidfile",
                "\"/run/app.pid\"",
                "or: the pidfile naming it",
            );
            line(
                o,
                true,
                "env_required",
                "[\"DATABASE_URL\"]",
                "must be set in that process's environment",
            );
            line(
                o,
                true,
                "log",
                "\"/var/log/app/error.log\"",
                "tail scanned for stack traces and errors",
            );
            line(
                o,
                true,
                "slow",
                "\"2s\"",
                "time to first byte above this is slow",
            );
        }
        o.push('\n');
    }
    for s in &d.skipped {
        let _ = writeln!(
            o,
            "# Also forwarded to (not an HTTP upstream): {}",
            one_line(s)
        );
    }
    if d.upstreams.is_empty() || !d.skipped.is_empty() {
        o.push('\n');
    }
}

fn write_proxy(o: &mut String, d: &Discovered) {
    o.push_str("# The reverse proxy.\n");
    if let Some(p) = &d.proxy {
        o.push_str("[proxy]\n");
        let how = p.master_pid.map_or_else(
            || "found at a standard path".to_string(),
            |pid| format!("running as pid {pid} when init ran"),
        );
        line(
            o,
            false,
            "kind",
            &toml_str(&p.kind),
            &format!("nginx | haproxy; {how}"),
        );
        match &p.config {
            Some(c) => line(
                o,
                false,
                "config",
                &path_str(c),
                "the main configuration file",
            ),
            None => line(
                o,
                true,
                "config",
                "\"/etc/nginx/nginx.conf\"",
                "default: the running master's -c, else the standard path",
            ),
        }
        match &p.error_log {
            Some(e) => line(
                o,
                true,
                "error_log",
                &path_str(e),
                "default: from the config (this is what it says now)",
            ),
            None => line(
                o,
                true,
                "error_log",
                "\"/var/log/nginx/error.log\"",
                "default: from the config",
            ),
        }
    } else {
        o.push_str(
            "# None found (no running nginx, haproxy or Apache, no configuration at the standard paths).\n",
        );
        o.push_str("# [proxy]\n");
        line(
            o,
            true,
            "kind",
            "\"nginx\"",
            "nginx | haproxy; detected when omitted",
        );
        line(
            o,
            true,
            "config",
            "\"/etc/nginx/nginx.conf\"",
            "default: the running master's -c, else the standard path",
        );
        line(
            o,
            true,
            "error_log",
            "\"/var/log/nginx/error.log\"",
            "default: from the config",
        );
    }
    o.push('\n');
}

fn write_dependencies(o: &mut String, d: &Discovered) {
    o.push_str("# Databases, caches and APIs the application needs. Probe id: dependency:NAME.\n");
    let upstream_ports: Vec<u16> = d
        .upstreams
        .iter()
        .filter(|u| u.local)
        .filter_map(|u| url::Url::parse(&u.url).ok()?.port_or_known_default())
        .collect();
    let mut any = false;
    for p in &d.ports {
        let Some((_, service)) = DEPENDENCY_PORTS.iter().find(|(port, _)| *port == p.port) else {
            continue;
        };
        if upstream_ports.contains(&p.port) {
            continue;
        }
        let reach = p
            .addrs
            .iter()
            .find(|ip| ip.is_loopback() || ip.is_unspecified())
            .map(|ip| match ip {
                IpAddr::V6(_) if !p.addrs.iter().any(IpAddr::is_ipv4) => "[::1]".to_string(),
                _ => "127.0.0.1".to_string(),
            })
            .or_else(|| {
                p.addrs.first().map(|ip| match ip {
                    IpAddr::V6(v6) => format!("[{v6}]"),
                    IpAddr::V4(v4) => v4.to_string(),
                })
            });
        let Some(reach) = reach else { continue };
        any = true;
        o.push_str("[[dependency]]\n");
        line(o, false, "name", &toml_str(service), "required");
        let who = if p.owners.is_empty() {
            String::new()
        } else {
            format!(" ({})", p.owners.join(", "))
        };
        line(
            o,
            false,
            "url",
            &toml_str(&format!("tcp://{reach}:{}", p.port)),
            &format!(
                "required: tcp://, http(s)://, postgres://, redis://; listening when init ran{who}"
            ),
        );
        line(
            o,
            true,
            "slow",
            "\"500ms\"",
            "connect (or first byte) above this is slow",
        );
        o.push('\n');
    }
    if !any {
        o.push_str("# [[dependency]]\n");
        line(o, true, "name", "\"postgres\"", "required");
        line(
            o,
            true,
            "url",
            "\"tcp://127.0.0.1:5432\"",
            "required: tcp://, http://, https://, postgres://, redis://",
        );
        line(
            o,
            true,
            "slow",
            "\"500ms\"",
            "connect (or first byte) above this is slow",
        );
        o.push('\n');
    }
    if !d.ports.is_empty() {
        o.push_str("# Listening here when init ran (port: addresses, processes):\n");
        for p in &d.ports {
            let addrs: Vec<String> = p.addrs.iter().map(ToString::to_string).collect();
            let owners = if p.owners.is_empty() {
                "?".to_string()
            } else {
                p.owners.join(", ")
            };
            let _ = writeln!(
                o,
                "#   {}: {} — {}",
                p.port,
                one_line(&addrs.join(", ")),
                one_line(&owners)
            );
        }
        if !d.owners_complete {
            o.push_str("#   (some owners are not visible: run init as root to see them)\n");
        }
        o.push('\n');
    }
}

fn write_host(o: &mut String, d: &Discovered) {
    o.push_str(
        "# Thresholds for the host itself. Probe ids: host:system, host:disk:PATH.\n[host]\n",
    );
    if d.disks.is_empty() {
        line(
            o,
            true,
            "disks",
            "[\"/\", \"/var/log\"]",
            "default: every mounted local filesystem",
        );
    } else {
        let list: Vec<String> = d.disks.iter().map(|p| path_str(p)).collect();
        line(
            o,
            false,
            "disks",
            &format!("[{}]", list.join(", ")),
            "the local filesystems when init ran; remove to watch every one",
        );
    }
    line(
        o,
        false,
        "disk_warn",
        "0.90",
        "share of space or inodes used",
    );
    line(
        o,
        false,
        "disk_critical",
        "0.97",
        "above this share it is critical",
    );
    line(
        o,
        false,
        "memory_warn",
        "0.90",
        "share of memory in use (1 - available/total)",
    );
    line(o, false, "load_warn", "2.0", "1-minute load per core");
    line(
        o,
        false,
        "fd_warn",
        "0.90",
        "open file descriptors over the limit",
    );
    o.push('\n');
}

fn write_examples(o: &mut String) {
    o.push_str(
        "# A DNS name that must resolve. Probe id: dns:NAME.\n\
         # [[dns]]\n",
    );
    line(o, true, "name", "\"api.internal.example\"", "required");
    line(
        o,
        true,
        "server",
        "\"127.0.0.1:53\"",
        "default: the system resolver",
    );
    line(
        o,
        true,
        "expect",
        "[\"10.0.0.5\"]",
        "addresses the answer must contain",
    );
    o.push_str(
        "\n# A TLS endpoint whose certificate to check. Probe id: tls:ADDRESS.\n# [[tls]]\n",
    );
    line(
        o,
        true,
        "address",
        "\"shop.example.com:443\"",
        "required: host:port",
    );
    line(
        o,
        true,
        "server_name",
        "\"shop.example.com\"",
        "SNI and the name to verify; default: the host of address",
    );
    line(o, true, "warn", "\"14d\"", "expiry warning window");
    o.push_str("\n# A process that must be running. Probe id: process:NAME.\n# [[process]]\n");
    line(o, true, "name", "\"worker\"", "required");
    line(
        o,
        true,
        "match",
        "\"sidekiq\"",
        "name or command-line substring; default: the name",
    );
    line(o, true, "min", "1", "at least this many must be alive");
    o.push_str(
        "\n# Files whose presence means the site is in maintenance on purpose.\n# [maintenance]\n",
    );
    line(
        o,
        true,
        "flag_files",
        "[\"/var/www/maintenance.on\"]",
        "any of these present: maintenance",
    );
    o.push_str("\n# A deployment to watch for recent changes.\n# [[deploy]]\n");
    line(
        o,
        true,
        "path",
        "\"/srv/app/current\"",
        "required: a release dir or symlink",
    );
    line(
        o,
        true,
        "recent",
        "\"30m\"",
        "a change newer than this is a recent deployment",
    );
}

/// `why5xx init`: discover, render, print.
pub fn run(args: &InitArgs) -> u8 {
    let found = discover(args.proxy_config.as_deref());
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let text = render(&found, &now);
    let mut out = std::io::stdout().lock();
    let _ = std::io::Write::write_all(&mut out, text.as_bytes());
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> crate::config::Config {
        crate::config::parse(text, Path::new("init.toml")).unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    #[test]
    fn a_plain_box_gets_a_valid_config_with_examples_commented_out() {
        let d = Discovered {
            host: "plain".to_string(),
            ..Discovered::default()
        };
        let text = render(&d, "2026-11-26T09:30:00Z");
        let cfg = parse(&text);
        assert!(cfg.endpoints.is_empty() && cfg.upstreams.is_empty());
        assert!(cfg.proxy.is_none());
        assert!(text.contains("# [[endpoint]]"), "{text}");
        assert!(text.contains("# url = \"https://shop.example.com/health\""));
        // Every key line carries a comment, as in config.example.toml.
        for l in text.lines().filter(|l| l.contains(" = ")) {
            assert!(
                l.trim_start_matches("# ").contains(" # "),
                "uncommented key: {l}"
            );
        }
    }

    #[test]
    fn found_things_become_live_entries() {
        let d = Discovered {
            host: "web-1".to_string(),
            proxy: Some(FoundProxy {
                kind: "nginx".to_string(),
                config: Some("/etc/nginx/nginx.conf".into()),
                error_log: Some("/var/log/nginx/error.log".into()),
                master_pid: Some(42),
            }),
            upstreams: vec![
                FoundUpstream {
                    name: "app".to_string(),
                    url: "http://127.0.0.1:3000/".to_string(),
                    process: Some("gunicorn".to_string()),
                    local: true,
                    origin: "/etc/nginx/nginx.conf:12".to_string(),
                },
                FoundUpstream {
                    name: "app-2".to_string(),
                    url: "https://[::1]:3001/".to_string(),
                    process: None,
                    local: true,
                    origin: "x:1".to_string(),
                },
            ],
            skipped: vec!["fastcgi to unix:/run/php.sock (x:3)".to_string()],
            endpoints: vec![FoundEndpoint {
                name: "shop.example.com".to_string(),
                url: "https://shop.example.com/".to_string(),
                resolve: Some("127.0.0.1".to_string()),
                origin: "x:2".to_string(),
            }],
            ports: vec![
                FoundPort {
                    port: 3000,
                    addrs: vec!["127.0.0.1".parse().unwrap()],
                    owners: vec!["gunicorn".to_string()],
                },
                FoundPort {
                    port: 5432,
                    addrs: vec!["::".parse().unwrap()],
                    owners: vec!["postgres".to_string()],
                },
            ],
            owners_complete: false,
            disks: vec!["/".into(), "/srv/we\"ird $dir".into()],
        };
        let text = render(&d, "now");
        let cfg = parse(&text);
        assert_eq!(cfg.upstreams.len(), 2);
        assert_eq!(cfg.upstreams[0].process.as_deref(), Some("gunicorn"));
        assert_eq!(cfg.upstreams[1].url.as_str(), "https://[::1]:3001/");
        assert!(text.contains("run init as root"), "{text}");
        assert_eq!(cfg.dependencies.len(), 1);
        assert_eq!(cfg.dependencies[0].url.as_str(), "tcp://[::1]:5432");
        assert_eq!(
            cfg.host.disks,
            [PathBuf::from("/"), PathBuf::from("/srv/we\"ird $dir")]
        );
        assert_eq!(
            cfg.proxy.unwrap().config,
            Some(PathBuf::from("/etc/nginx/nginx.conf"))
        );
        assert!(text.contains("# url = \"https://shop.example.com/\""));
        assert!(text.contains("fastcgi to unix:/run/php.sock"));
    }

    #[test]
    fn toml_strings_escape_quotes_backslashes_dollars_and_controls() {
        assert_eq!(toml_str("a\"b\\c$d\ne"), "\"a\\\"b\\\\c$$d\\ne\"");
        assert_eq!(toml_str("\u{1}"), "\"\\u0001\"");
    }
}

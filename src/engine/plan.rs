//! Turns the config (and what discovery finds) into the list of probes to
//! run, each with its stable id (`<section>:<name>`, [`ProbeId`],
//! docs/contract.md) and the role
//! that tells assessment and rules what the probe stands for.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use url::Url;
use why5xx_probes::proxy::{Address, ProxyObservation, ProxySpec};
use why5xx_probes::{
    ProbeSpec, changes, dns, environ, flags, http, logs, oom, port, postgres, process, redact,
    redis, system, tcp, tls,
};

use crate::config::{Config, Header, ProxyKind, split_host_port};
use crate::model::dep_kind::DepKind;
use crate::model::probe_id::ProbeId;

/// How far back OOM kills count.
pub const OOM_WINDOW: Duration = Duration::from_secs(60 * 60);
/// How long the process probe watches for restarts when it sees a young or
/// missing process.
pub const RESTART_WATCH: Duration = Duration::from_millis(500);

/// The probes that must run first because the others depend on what they
/// find: the reverse proxy's configuration.
pub fn plan_discovery(cfg: &Config) -> Vec<Planned> {
    let configured = cfg.proxy.as_ref();
    if configured.is_none() && !cfg.agent.discover {
        return Vec::new();
    }
    let spec = ProxySpec {
        kind: configured.and_then(|p| p.kind).map(|k| match k {
            ProxyKind::Nginx => why5xx_probes::proxy::ProxyKind::Nginx,
            ProxyKind::Haproxy => why5xx_probes::proxy::ProxyKind::Haproxy,
            ProxyKind::Apache => why5xx_probes::proxy::ProxyKind::Apache,
        }),
        config: configured.and_then(|p| p.config.clone()),
        error_log: configured.and_then(|p| p.error_log.clone()),
        discover: cfg.agent.discover,
    };
    let name = spec.kind.map_or("proxy", |k| k.name());
    vec![Planned {
        id: ProbeId::proxy(name),
        target: spec.config.as_ref().map_or_else(
            || "discovered reverse proxy".to_string(),
            |c| c.display().to_string(),
        ),
        role: Role::Proxy,
        spec: ProbeSpec::Proxy(spec),
    }]
}

/// HAProxy's runtime API, when HAProxy runs and a stats socket is known:
/// `[proxy] stats_socket`, else the config's `stats socket`.
fn haproxy_stats(cfg: &Config, p: &ProxyObservation) -> Option<Planned> {
    let configured = cfg.proxy.as_ref().and_then(|x| x.stats_socket.clone());
    let haproxy = p.kind == Some(why5xx_probes::proxy::ProxyKind::Haproxy);
    let socket = configured.or_else(|| {
        p.haproxy
            .as_ref()
            .filter(|_| haproxy)
            .and_then(|m| m.stats_socket.as_ref())
            .map(|s| s.value.clone())
    })?;
    Some(Planned {
        id: ProbeId::haproxy_stats(),
        target: socket.display().to_string(),
        role: Role::HaproxyStats,
        spec: ProbeSpec::HaproxyStats(why5xx_probes::haproxy_stats::HaproxyStatsSpec::new(
            socket,
            cfg.agent.timeout,
        )),
    })
}

/// What a probe stands for, with the config that judges it.
#[derive(Debug, Clone, PartialEq)]
pub enum Role {
    /// A public endpoint, usually through the reverse proxy.
    Endpoint {
        expect_status: Option<Vec<u16>>,
        slow: Option<Duration>,
        tls_warn: Duration,
    },
    /// An application server probed directly, bypassing the proxy.
    Upstream {
        name: String,
        slow: Option<Duration>,
        /// From the proxy's config rather than ours.
        discovered: bool,
    },
    /// A local port some upstreams should be listening on.
    Port {
        upstreams: Vec<String>,
    },
    /// The process that should serve an upstream.
    UpstreamProcess {
        upstream: String,
    },
    /// A database, cache, API or queue the application needs: `kind` from
    /// the config (or its URL's scheme or well-known port, never its name);
    /// `credentials` when its URL carries a password (a refused login is
    /// then a failure, not proof of life).
    Dependency {
        slow: Option<Duration>,
        kind: DepKind,
        credentials: bool,
    },
    Dns,
    Tls {
        warn: Duration,
    },
    /// A `[[process]]` that must have at least `min` instances.
    Process {
        min: u32,
    },
    /// Load, memory, file handles, pressure.
    System,
    Disk,
    Listeners,
    /// The reverse proxy's configuration.
    Proxy,
    /// The reverse proxy's error log.
    ProxyErrorLog,
    /// The reverse proxy's access log.
    AccessLog,
    /// HAProxy's runtime API (`show stat`).
    HaproxyStats,
    /// An upstream's application log.
    AppLog {
        upstream: String,
    },
    /// An upstream process's environment.
    Environ {
        upstream: String,
    },
    /// OOM kills in the kernel log.
    Oom,
    /// A deployment path.
    Deploy,
    /// Maintenance flag files.
    Flags,
}

/// One probe to run.
#[derive(Debug, Clone)]
pub struct Planned {
    /// Stable id, `<section>:<name>`, built by [`ProbeId`]'s constructors.
    pub id: ProbeId,
    /// What it looks at, for people; secrets redacted.
    pub target: String,
    pub role: Role,
    pub spec: ProbeSpec,
}

/// The probes for `cfg`, and for what the proxy probe found (its upstreams
/// become upstream probes, its error log a log probe).
pub fn plan(cfg: &Config, proxy: Option<&ProxyObservation>) -> Vec<Planned> {
    let mut out = Vec::new();
    let mut ids = BTreeSet::new();
    let mut push = |p: Planned, out: &mut Vec<Planned>| {
        if ids.insert(p.id.clone()) {
            out.push(p);
        }
    };

    for e in &cfg.endpoints {
        let mut spec = http::HttpSpec::new(e.url.clone(), e.timeout);
        spec.resolve = e.resolve;
        spec.headers = header_pairs(&e.headers);
        spec.follow_redirects = e.follow_redirects;
        push(
            Planned {
                id: ProbeId::endpoint(&e.name),
                target: redact::url(&e.url),
                role: Role::Endpoint {
                    expect_status: e.expect_status.clone(),
                    slow: e.slow,
                    tls_warn: e.tls_warn,
                },
                spec: ProbeSpec::Http(spec),
            },
            &mut out,
        );
    }

    // Upstreams, with the port they should listen on and their process.
    let mut ports: Vec<(u16, Vec<String>, Duration)> = Vec::new();
    for u in &cfg.upstreams {
        let mut spec = http::HttpSpec::new(u.url.clone(), u.timeout);
        spec.headers = header_pairs(&u.headers);
        push(
            Planned {
                id: ProbeId::upstream(&u.name),
                target: redact::url(&u.url),
                role: Role::Upstream {
                    name: u.name.clone(),
                    slow: u.slow,
                    discovered: false,
                },
                spec: ProbeSpec::Http(spec),
            },
            &mut out,
        );
        if let Some(port) = local_port(&u.url) {
            match ports.iter_mut().find(|(p, _, _)| *p == port) {
                Some((_, names, _)) => names.push(u.name.clone()),
                None => ports.push((port, vec![u.name.clone()], u.timeout)),
            }
        }
        if u.process.is_some() || u.pidfile.is_some() {
            let what = u
                .process
                .clone()
                .or_else(|| u.pidfile.as_ref().map(|p| p.display().to_string()))
                .unwrap_or_default();
            push(
                Planned {
                    id: ProbeId::process(&u.name),
                    target: what,
                    role: Role::UpstreamProcess {
                        upstream: u.name.clone(),
                    },
                    spec: ProbeSpec::Process(process::ProcessSpec {
                        pattern: u.process.clone(),
                        pidfile: u.pidfile.clone(),
                        watch: Some(RESTART_WATCH),
                    }),
                },
                &mut out,
            );
        }
        if !u.env_required.is_empty() {
            push(
                Planned {
                    id: ProbeId::env(&u.name),
                    target: u.env_required.join(", "),
                    role: Role::Environ {
                        upstream: u.name.clone(),
                    },
                    spec: ProbeSpec::Environ(environ::EnvironSpec {
                        pattern: u.process.clone(),
                        pidfile: u.pidfile.clone(),
                        pids: Vec::new(),
                        required: u.env_required.clone(),
                    }),
                },
                &mut out,
            );
        }
        if let Some(log) = &u.log {
            push(
                Planned {
                    id: ProbeId::app_log(&u.name),
                    target: log.display().to_string(),
                    role: Role::AppLog {
                        upstream: u.name.clone(),
                    },
                    spec: ProbeSpec::AppLog(logs::AppLogSpec {
                        path: log.clone(),
                        window: Some(cfg.agent.since),
                        ..logs::AppLogSpec::default()
                    }),
                },
                &mut out,
            );
        }
    }

    // What the proxy forwards to and nobody configured: probe it directly.
    if let Some(p) = proxy {
        for t in p.forward_targets() {
            let Address::Tcp { host, .. } = &t.address else {
                continue;
            };
            let scheme = match t.protocol {
                why5xx_probes::proxy::Protocol::Http => "http",
                why5xx_probes::proxy::Protocol::Https => "https",
                _ => continue,
            };
            let authority = t.address.to_string();
            let configured = cfg.upstreams.iter().any(|u| {
                Address::parse(u.url.as_str()).is_some_and(|a| a.same_endpoint(&t.address))
            });
            if configured || host.is_wildcard() {
                continue;
            }
            let Ok(url) = Url::parse(&format!("{scheme}://{authority}/")) else {
                continue;
            };
            let name = authority.clone();
            push(
                Planned {
                    id: ProbeId::upstream(&name),
                    target: url.to_string(),
                    role: Role::Upstream {
                        name: name.clone(),
                        slow: None,
                        discovered: true,
                    },
                    spec: ProbeSpec::Http(http::HttpSpec::new(url.clone(), cfg.agent.timeout)),
                },
                &mut out,
            );
            if let Some(port) = local_port(&url) {
                match ports.iter_mut().find(|(p, _, _)| *p == port) {
                    Some((_, names, _)) => names.push(name),
                    None => ports.push((port, vec![name], cfg.agent.timeout)),
                }
            }
        }
        let configured_log = cfg.proxy.as_ref().and_then(|x| x.error_log.clone());
        if let Some(path) = configured_log.or_else(|| p.error_logs().into_iter().next()) {
            push(
                Planned {
                    id: ProbeId::proxy_log(),
                    target: path.display().to_string(),
                    role: Role::ProxyErrorLog,
                    spec: ProbeSpec::ProxyErrorLog(logs::ProxyErrorLogSpec {
                        path,
                        window: cfg.agent.since,
                        servers: p
                            .haproxy
                            .as_ref()
                            .map(why5xx_probes::proxy::haproxy::HaproxyModel::server_addresses)
                            .unwrap_or_default(),
                        ..logs::ProxyErrorLogSpec::default()
                    }),
                },
                &mut out,
            );
        }
        if let Some(spec) = access_log_spec(cfg, p) {
            push(
                Planned {
                    id: ProbeId::access_log(),
                    target: spec.path.display().to_string(),
                    role: Role::AccessLog,
                    spec: ProbeSpec::AccessLog(spec),
                },
                &mut out,
            );
        }
        if let Some(stats) = haproxy_stats(cfg, p) {
            push(stats, &mut out);
        }
    }
    for (port, upstreams, timeout) in ports {
        push(
            Planned {
                id: ProbeId::port(port),
                target: format!("tcp port {port}"),
                role: Role::Port { upstreams },
                spec: ProbeSpec::Port(port::PortSpec {
                    port,
                    host: None,
                    timeout,
                }),
            },
            &mut out,
        );
    }

    for d in &cfg.dependencies {
        let role = Role::Dependency {
            slow: d.slow,
            kind: d.kind,
            credentials: d.url.password().is_some(),
        };
        let spec = match d.url.scheme() {
            "http" | "https" => ProbeSpec::Http(http::HttpSpec::new(d.url.clone(), d.timeout)),
            "postgres" | "postgresql" => {
                ProbeSpec::Postgres(postgres::PostgresSpec::new(d.url.clone(), d.timeout))
            }
            "redis" => ProbeSpec::Redis(redis::RedisSpec::new(d.url.clone(), d.timeout)),
            _ => ProbeSpec::Tcp(tcp::TcpSpec {
                host: d.url.host_str().unwrap_or_default().to_string(),
                port: d
                    .url
                    .port_or_known_default()
                    .unwrap_or(default_port(d.url.scheme())),
                timeout: d.timeout,
            }),
        };
        push(
            Planned {
                id: ProbeId::dependency(&d.name),
                target: redact::url(&d.url),
                role,
                spec,
            },
            &mut out,
        );
    }

    for d in &cfg.dns {
        push(
            Planned {
                id: ProbeId::dns(&d.name),
                target: match d.server {
                    Some(s) => format!("{} @{s}", d.name),
                    None => d.name.clone(),
                },
                role: Role::Dns,
                spec: ProbeSpec::Dns(dns::DnsSpec {
                    name: d.name.clone(),
                    server: d.server,
                    expect: d.expect.clone(),
                    timeout: d.timeout,
                }),
            },
            &mut out,
        );
    }

    for t in &cfg.tls {
        let server_name = t
            .server_name
            .clone()
            .or_else(|| split_host_port(&t.address).map(|(h, _)| h));
        push(
            Planned {
                id: ProbeId::tls(&t.address),
                target: t.address.clone(),
                role: Role::Tls { warn: t.warn },
                spec: ProbeSpec::Tls(tls::TlsSpec {
                    address: t.address.clone(),
                    server_name,
                    resolve: None,
                    timeout: t.timeout,
                }),
            },
            &mut out,
        );
    }

    for p in &cfg.processes {
        push(
            Planned {
                id: ProbeId::process(&p.name),
                target: p
                    .pattern
                    .clone()
                    .or_else(|| p.pidfile.as_ref().map(|f| f.display().to_string()))
                    .unwrap_or_default(),
                role: Role::Process { min: p.min },
                spec: ProbeSpec::Process(process::ProcessSpec {
                    pattern: p.pattern.clone(),
                    pidfile: p.pidfile.clone(),
                    watch: Some(RESTART_WATCH),
                }),
            },
            &mut out,
        );
    }

    for d in &cfg.deploys {
        push(
            Planned {
                id: ProbeId::deploy(&d.path),
                target: d.path.display().to_string(),
                role: Role::Deploy,
                spec: ProbeSpec::Deploy(changes::DeploySpec {
                    path: d.path.clone(),
                    recent: d.recent,
                }),
            },
            &mut out,
        );
    }

    // Maintenance flags: configured, and those the proxy's config tests for.
    let mut flag_paths = cfg.maintenance_flags.clone();
    if let Some(m) = proxy.and_then(ProxyObservation::model) {
        for path in m.maintenance.into_iter().filter_map(|s| s.flag) {
            if !flag_paths.contains(&path) {
                flag_paths.push(path);
            }
        }
    }
    if !flag_paths.is_empty() {
        push(
            Planned {
                id: ProbeId::maintenance_flags(),
                target: flag_paths
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                role: Role::Flags,
                spec: ProbeSpec::Flags(flags::FlagsSpec { paths: flag_paths }),
            },
            &mut out,
        );
    }

    // The host itself: always.
    push(
        Planned {
            id: ProbeId::system(),
            target: "load, memory, file handles, pressure".to_string(),
            role: Role::System,
            spec: ProbeSpec::System(system::SystemSpec::default()),
        },
        &mut out,
    );
    let disks: Vec<PathBuf> = if cfg.host.disks.is_empty() {
        system::local_filesystems()
            .into_iter()
            .map(|m| m.mount_point)
            .collect()
    } else {
        cfg.host.disks.clone()
    };
    for path in disks {
        push(
            Planned {
                id: ProbeId::disk(&path),
                target: path.display().to_string(),
                role: Role::Disk,
                spec: ProbeSpec::Disk(system::DiskSpec { path }),
            },
            &mut out,
        );
    }
    let mut names: Vec<String> = cfg
        .upstreams
        .iter()
        .filter_map(|u| u.process.clone())
        .chain(cfg.processes.iter().filter_map(|p| p.pattern.clone()))
        .collect();
    names.dedup();
    if cfg.agent.discover || !names.is_empty() {
        push(
            Planned {
                id: ProbeId::oom(),
                target: "kernel log: OOM kills".to_string(),
                role: Role::Oom,
                spec: ProbeSpec::Oom(oom::OomSpec {
                    window: OOM_WINDOW,
                    names,
                }),
            },
            &mut out,
        );
    }
    if cfg.agent.discover {
        push(
            Planned {
                id: ProbeId::listeners(),
                target: "listening TCP sockets".to_string(),
                role: Role::Listeners,
                spec: ProbeSpec::Listeners(port::ListenersSpec::default()),
            },
            &mut out,
        );
    }
    out
}

/// The access log to read: `[proxy] access_log`, else of those the proxy's
/// config names the one written last, read with the format the config gives it (nginx's
/// `combined` when it names none); requests as slow as the longest read
/// timeout of the proxy's targets count as slow. `HAProxy`'s log is the
/// error-log probe's (its httplog lines carry the termination state).
fn access_log_spec(cfg: &Config, p: &ProxyObservation) -> Option<logs::AccessLogSpec> {
    let model = p.model()?;
    let dialect = match model.kind {
        why5xx_probes::proxy::ProxyKind::Nginx => logs::access::FormatDialect::Nginx,
        why5xx_probes::proxy::ProxyKind::Apache => logs::access::FormatDialect::Apache,
        why5xx_probes::proxy::ProxyKind::Haproxy => return None,
    };
    let configured = cfg.proxy.as_ref().and_then(|x| x.access_log.clone());
    // Of several (per server), the one written last is where the traffic is.
    let modified = |p: &std::path::Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let known = match &configured {
        Some(path) => model.access_logs.iter().find(|a| &a.path == path),
        None => model
            .access_logs
            .iter()
            .filter(|a| modified(&a.path).is_some())
            .max_by_key(|a| modified(&a.path))
            .or_else(|| model.access_logs.first()),
    };
    let path = configured.or_else(|| known.map(|a| a.path.clone()))?;
    let format = known
        .and_then(|a| a.pattern.clone())
        .unwrap_or_else(|| match dialect {
            logs::access::FormatDialect::Nginx => logs::access::NGINX_COMBINED.to_string(),
            logs::access::FormatDialect::Apache => logs::access::APACHE_COMBINED.to_string(),
        });
    let slow_ms = model
        .targets
        .iter()
        .filter_map(|t| t.timeouts.read.value)
        .map(|m| m.0 as u64)
        .max();
    Some(logs::AccessLogSpec {
        format,
        dialect,
        window: cfg.agent.since,
        slow_ms,
        ..logs::AccessLogSpec::combined(path)
    })
}

fn header_pairs(headers: &[Header]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|h| (h.name.clone(), h.value.clone()))
        .collect()
}

fn default_port(scheme: &str) -> u16 {
    match scheme {
        "postgres" | "postgresql" => 5432,
        "redis" | "rediss" => 6379,
        _ => 0,
    }
}

/// The port of `url` when its host is this machine (loopback, `localhost`,
/// the unspecified address).
pub fn local_port(url: &Url) -> Option<u16> {
    let host = url
        .host_str()?
        .trim_start_matches('[')
        .trim_end_matches(']');
    let local = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback() || ip.is_unspecified());
    if local {
        url.port_or_known_default()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Upstream};

    fn upstream(name: &str, url: &str) -> Upstream {
        Upstream {
            name: name.to_string(),
            url: Url::parse(url).unwrap(),
            process: Some("gunicorn".to_string()),
            pidfile: None,
            env_required: Vec::new(),
            log: None,
            slow: None,
            timeout: Duration::from_secs(1),
            headers: Vec::new(),
        }
    }

    #[test]
    fn upstream_gets_port_and_process_probes_with_stable_ids() {
        let mut cfg = Config::default();
        cfg.host.disks = vec!["/".into()];
        cfg.upstreams = vec![
            upstream("app", "http://127.0.0.1:3000/health"),
            upstream("api", "http://localhost:3000/"),
        ];
        let ids: Vec<String> = plan(&cfg, None)
            .into_iter()
            .map(|p| p.id.to_string())
            .collect();
        assert_eq!(
            ids,
            [
                "upstream:app",
                "process:app",
                "upstream:api",
                "process:api",
                "port:3000",
                "host:system",
                "host:disk:/",
                "host:oom",
                "host:listeners"
            ]
        );
    }

    #[test]
    fn a_dependency_is_a_database_by_its_kind_not_its_name() {
        let cfg = crate::config::parse(
            "[agent]\ndiscover = false\n[host]\ndisks = [\"/\"]\n\
             [[dependency]]\nname = \"feedback-api\"\nurl = \"http://10.0.0.9/\"\n\
             [[dependency]]\nname = \"main\"\nurl = \"tcp://10.0.0.5:5432\"\n",
            std::path::Path::new("c.toml"),
        )
        .unwrap();
        let deps: Vec<(String, DepKind)> = plan(&cfg, None)
            .into_iter()
            .filter_map(|p| match p.role {
                Role::Dependency { kind, .. } => Some((p.id.to_string(), kind)),
                _ => None,
            })
            .collect();
        assert_eq!(
            deps,
            [
                ("dependency:feedback-api".to_string(), DepKind::Api),
                ("dependency:main".to_string(), DepKind::Database),
            ]
        );
    }

    #[test]
    fn remote_upstreams_get_no_port_probe() {
        assert_eq!(
            local_port(&Url::parse("http://10.0.0.5:3000/").unwrap()),
            None
        );
        assert_eq!(
            local_port(&Url::parse("http://[::1]:8080/").unwrap()),
            Some(8080)
        );
        assert_eq!(
            local_port(&Url::parse("https://localhost/").unwrap()),
            Some(443)
        );
    }
}

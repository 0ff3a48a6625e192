//! Turns the config (and what discovery finds) into the list of probes to
//! run, each with its stable id (`<section>:<name>`, SPEC.md) and the role
//! that tells assessment and rules what the probe stands for.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use url::Url;
use why5xx_probes::{ProbeSpec, dns, http, port, process, redact, system, tcp, tls};

use crate::config::{Config, Header, split_host_port};

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
    },
    /// A local port some upstreams should be listening on.
    Port {
        upstreams: Vec<String>,
    },
    /// The process that should serve an upstream.
    UpstreamProcess {
        upstream: String,
    },
    /// A database, cache or API the application needs.
    Dependency {
        slow: Option<Duration>,
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
}

/// One probe to run.
#[derive(Debug, Clone)]
pub struct Planned {
    /// Stable id, `<section>:<name>`.
    pub id: String,
    /// What it looks at, for people; secrets redacted.
    pub target: String,
    pub role: Role,
    pub spec: ProbeSpec,
}

/// The probes for `cfg`. `discover` adds what this host shows by itself.
pub fn plan(cfg: &Config) -> Vec<Planned> {
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
        push(
            Planned {
                id: format!("endpoint:{}", e.name),
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
                id: format!("upstream:{}", u.name),
                target: redact::url(&u.url),
                role: Role::Upstream {
                    name: u.name.clone(),
                    slow: u.slow,
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
                    id: format!("process:{}", u.name),
                    target: what,
                    role: Role::UpstreamProcess {
                        upstream: u.name.clone(),
                    },
                    spec: ProbeSpec::Process(process::ProcessSpec {
                        pattern: u.process.clone(),
                        pidfile: u.pidfile.clone(),
                    }),
                },
                &mut out,
            );
        }
    }
    for (port, upstreams, timeout) in ports {
        push(
            Planned {
                id: format!("port:{port}"),
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
        let role = Role::Dependency { slow: d.slow };
        let spec = match d.url.scheme() {
            "http" | "https" => ProbeSpec::Http(http::HttpSpec::new(d.url.clone(), d.timeout)),
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
                id: format!("dependency:{}", d.name),
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
                id: format!("dns:{}", d.name),
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
                id: format!("tls:{}", t.address),
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
                id: format!("process:{}", p.name),
                target: p
                    .pattern
                    .clone()
                    .or_else(|| p.pidfile.as_ref().map(|f| f.display().to_string()))
                    .unwrap_or_default(),
                role: Role::Process { min: p.min },
                spec: ProbeSpec::Process(process::ProcessSpec {
                    pattern: p.pattern.clone(),
                    pidfile: p.pidfile.clone(),
                }),
            },
            &mut out,
        );
    }

    // The host itself: always.
    push(
        Planned {
            id: "host:system".to_string(),
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
                id: format!("host:disk:{}", path.display()),
                target: path.display().to_string(),
                role: Role::Disk,
                spec: ProbeSpec::Disk(system::DiskSpec { path }),
            },
            &mut out,
        );
    }
    if cfg.agent.discover {
        push(
            Planned {
                id: "host:listeners".to_string(),
                target: "listening TCP sockets".to_string(),
                role: Role::Listeners,
                spec: ProbeSpec::Listeners(port::ListenersSpec::default()),
            },
            &mut out,
        );
    }
    out
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
        let ids: Vec<String> = plan(&cfg).into_iter().map(|p| p.id).collect();
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
                "host:listeners"
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

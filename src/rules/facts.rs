//! A read-only view over one run's probe results for the rules: lookups by
//! probe id and role, and each upstream gathered with everything that bears
//! on it (its direct probe, port, process, log, environment, the proxy
//! targets that point at it). It computes no verdicts.

use std::net::SocketAddr;
use std::time::Duration;

use url::Url;
use why5xx_probes::changes::DeployObservation;
use why5xx_probes::environ::EnvironObservation;
use why5xx_probes::flags::FlagsObservation;
use why5xx_probes::haproxy_stats::{HaproxyStatsObservation, ServerStat};
use why5xx_probes::http::HttpObservation;
use why5xx_probes::logs::proxy_error::ProxyErrorKind;
use why5xx_probes::logs::{AppLogObservation, ProxyErrorLogObservation};
use why5xx_probes::oom::OomObservation;
use why5xx_probes::port::{Listener, ListenersObservation, PortObservation};
use why5xx_probes::process::{ProcState, ProcessInfo, ProcessObservation};
use why5xx_probes::proxy::{Address, ForwardTarget, ProxyModel, ProxyObservation};
use why5xx_probes::system::{DiskObservation, SystemObservation};
use why5xx_probes::{FailureKind, Millis, Observation};

use crate::assess::Assessment;
use crate::config::Config;
use crate::engine::plan::Role;
use crate::engine::runner::ProbeRun;
use crate::rules::symptoms::Symptoms;

/// Everything the rules may look at.
pub struct Facts<'a> {
    pub runs: &'a [ProbeRun],
    pub assessed: &'a [Assessment],
    pub cfg: &'a Config,
    /// What users get now, computed once.
    pub symptoms: Symptoms,
    /// The proxy's configuration in proxy-neutral terms, computed once.
    pub proxy_model: Option<ProxyModel>,
}

/// An upstream with everything that bears on it.
pub struct Upstream<'a> {
    pub name: String,
    pub id: crate::model::probe_id::ProbeId,
    pub url: Url,
    pub host: String,
    pub port: u16,
    /// Where it is reached, typed: compared by family, address and port
    /// (or socket path), never as text.
    pub address: Address,
    pub slow: Option<Duration>,
    pub discovered: bool,
    /// Its `process` setting (or the pidfile), for remediation text.
    pub unit: String,
    pub http: Option<&'a HttpObservation>,
    pub port_probe: Option<(&'a str, &'a PortObservation)>,
    pub process: Option<(&'a str, &'a ProcessObservation)>,
    pub log: Option<(&'a str, &'a AppLogObservation)>,
    pub environ: Option<(&'a str, &'a EnvironObservation)>,
    /// The proxy's targets that point at this upstream's host and port.
    pub targets: Vec<ForwardTarget>,
}

impl Upstream<'_> {
    /// The direct probe's failure kind, if it failed.
    pub fn failure(&self) -> Option<FailureKind> {
        self.http.and_then(|h| h.failure.as_ref()).map(|f| f.kind)
    }

    /// Whether the direct probe got an answer below 500.
    pub fn answers(&self) -> bool {
        self.http
            .is_some_and(|h| h.failure.is_none() && h.status.is_some_and(|s| s < 500))
    }

    /// Time to first byte of the direct probe.
    pub fn ttfb(&self) -> Option<Millis> {
        self.http
            .filter(|h| h.failure.is_none())
            .and_then(|h| h.phases.first_byte)
    }

    /// Live (non-zombie) processes serving it, when a process probe ran.
    pub fn live_processes(&self) -> Option<Vec<&ProcessInfo>> {
        self.process.map(|(_, p)| {
            p.processes
                .iter()
                .filter(|x| x.state != ProcState::Zombie)
                .collect()
        })
    }

    /// What findings about this upstream are about: the address it is
    /// reached at.
    pub fn subject(&self) -> crate::model::findings::Subject {
        crate::model::findings::Subject::Upstream(self.authority())
    }

    /// `host:port` as written in reports.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl<'a> Facts<'a> {
    /// The facts of one run, with its symptoms computed.
    pub fn new(runs: &'a [ProbeRun], assessed: &'a [Assessment], cfg: &'a Config) -> Self {
        Self {
            runs,
            assessed,
            cfg,
            symptoms: Symptoms::of(runs),
            proxy_model: runs.iter().find_map(|r| match r.observation() {
                Some(Observation::Proxy(p)) if p.kind.is_some() => p.model(),
                _ => None,
            }),
        }
    }

    /// Runs with their observation, where the probe finished.
    pub fn observed(&self) -> impl Iterator<Item = (&'a ProbeRun, &'a Observation)> {
        self.runs
            .iter()
            .filter_map(|r| r.observation().map(|o| (r, o)))
    }

    /// Public endpoints with their http observation.
    pub fn endpoints(&self) -> impl Iterator<Item = (&'a ProbeRun, &'a HttpObservation)> {
        self.observed()
            .filter_map(|(r, o)| match (o, &r.planned.role) {
                (Observation::Http(h), Role::Endpoint { .. }) => Some((r, h)),
                _ => None,
            })
    }

    /// Whether anything user-facing is failing now (see [`Symptoms`]).
    pub fn something_failing(&self) -> bool {
        self.symptoms.failing
    }

    /// The reverse proxy's model.
    pub fn proxy(&self) -> Option<(&'a str, &'a ProxyObservation)> {
        self.observed().find_map(|(r, o)| match o {
            Observation::Proxy(p) if p.kind.is_some() => Some((r.planned.id.as_str(), p)),
            _ => None,
        })
    }

    /// The words of the proxy found (nginx when none was): directive names
    /// and commands for advice text.
    pub fn dialect(&self) -> why5xx_probes::proxy::Dialect {
        self.proxy()
            .and_then(|(_, p)| p.kind)
            .map_or(why5xx_probes::proxy::Dialect::Nginx, Into::into)
    }

    /// The command that checks the proxy's config and reloads it.
    pub fn reload_command(&self) -> String {
        let config = self.proxy().and_then(|(_, p)| p.config.clone());
        self.dialect().check_and_reload(config.as_deref())
    }

    /// The proxy error log.
    pub fn proxy_log(&self) -> Option<(&'a str, &'a ProxyErrorLogObservation)> {
        self.observed().find_map(|(r, o)| match o {
            Observation::ProxyErrorLog(l) if l.failure.is_none() => {
                Some((r.planned.id.as_str(), l))
            }
            _ => None,
        })
    }

    /// Count of proxy error-log lines of `kind` naming `target` (any
    /// upstream when `None`), matched as typed addresses.
    pub fn proxy_errors(&self, kind: ProxyErrorKind, target: Option<&Address>) -> u64 {
        self.proxy_log()
            .map_or(0, |(_, l)| l.count_for(kind, target))
    }

    /// HAProxy's `show stat`, when it answered.
    pub fn haproxy_stats(&self) -> Option<(&'a str, &'a HaproxyStatsObservation)> {
        self.observed().find_map(|(r, o)| match o {
            Observation::HaproxyStats(h) if h.failure.is_none() => Some((r.planned.id.as_str(), h)),
            _ => None,
        })
    }

    /// HAProxy's servers that forward to `address` (their `addr` column),
    /// with the stats probe's id.
    pub fn haproxy_servers(&self, address: &Address) -> Vec<(&'a str, &'a ServerStat)> {
        self.haproxy_stats()
            .into_iter()
            .flat_map(|(id, h)| {
                h.servers
                    .iter()
                    .filter(|s| {
                        s.addr
                            .as_deref()
                            .and_then(Address::parse)
                            .is_some_and(|a| a.same_endpoint(address))
                    })
                    .map(move |s| (id, s))
            })
            .collect()
    }

    pub fn oom(&self) -> Option<(&'a str, &'a OomObservation)> {
        self.observed().find_map(|(r, o)| match o {
            Observation::Oom(x) if x.failure.is_none() => Some((r.planned.id.as_str(), x)),
            _ => None,
        })
    }

    pub fn deploys(&self) -> impl Iterator<Item = (&'a str, &'a DeployObservation)> {
        self.observed().filter_map(|(r, o)| match o {
            Observation::Deploy(d) if d.failure.is_none() => Some((r.planned.id.as_str(), d)),
            _ => None,
        })
    }

    pub fn flags(&self) -> Option<(&'a str, &'a FlagsObservation)> {
        self.observed().find_map(|(r, o)| match o {
            Observation::Flags(f) => Some((r.planned.id.as_str(), f)),
            _ => None,
        })
    }

    pub fn system(&self) -> Option<(&'a str, &'a SystemObservation)> {
        self.observed().find_map(|(r, o)| match o {
            Observation::System(s) => Some((r.planned.id.as_str(), s)),
            _ => None,
        })
    }

    pub fn disks(&self) -> impl Iterator<Item = (&'a str, &'a DiskObservation)> {
        self.observed().filter_map(|(r, o)| match o {
            Observation::Disk(d) if d.failure.is_none() => Some((r.planned.id.as_str(), d)),
            _ => None,
        })
    }

    pub fn listeners(&self) -> Option<&'a ListenersObservation> {
        self.observed().find_map(|(_, o)| match o {
            Observation::Listeners(l) => Some(l),
            _ => None,
        })
    }

    /// Listening sockets owned by `pid`, from any socket view of the run.
    pub fn listening_of(&self, pid: u32) -> Vec<SocketAddr> {
        let mut from: Vec<&Listener> = Vec::new();
        if let Some(l) = self.listeners() {
            from.extend(l.listeners.iter());
        }
        for (_, o) in self.observed() {
            if let Observation::Port(p) = o {
                from.extend(p.listeners.iter());
            }
        }
        let mut out: Vec<SocketAddr> = from
            .iter()
            .filter(|l| l.owners.iter().any(|o| o.pid == pid))
            .map(|l| l.local)
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Every upstream — configured and discovered — with what bears on it.
    pub fn upstreams(&self) -> Vec<Upstream<'a>> {
        let targets = self
            .proxy_model
            .as_ref()
            .map(|m| m.targets.clone())
            .unwrap_or_default();
        let mut out = Vec::new();
        for r in self.runs {
            let Role::Upstream {
                name,
                slow,
                discovered,
            } = &r.planned.role
            else {
                continue;
            };
            let why5xx_probes::ProbeSpec::Http(spec) = &r.planned.spec else {
                continue;
            };
            let url = spec.url.clone();
            let host = url
                .host_str()
                .unwrap_or_default()
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string();
            let port = url.port_or_known_default().unwrap_or(0);
            let address = Address::parse(url.as_str()).unwrap_or(Address::Unresolved {
                raw: url.to_string(),
            });
            let http = match r.observation() {
                Some(Observation::Http(h)) => Some(h),
                _ => None,
            };
            let port_probe = self
                .observed()
                .find_map(|(pr, o)| match (o, &pr.planned.role) {
                    (Observation::Port(p), Role::Port { upstreams })
                        if upstreams.contains(name) =>
                    {
                        Some((pr.planned.id.as_str(), p))
                    }
                    _ => None,
                });
            let by_role =
                |want: &dyn Fn(&Role) -> bool| self.runs.iter().find(|x| want(&x.planned.role));
            let process = by_role(
                &|role| matches!(role, Role::UpstreamProcess { upstream } if upstream == name),
            )
            .and_then(|x| match x.observation() {
                Some(Observation::Process(p)) => Some((x.planned.id.as_str(), p)),
                _ => None,
            });
            let log =
                by_role(&|role| matches!(role, Role::AppLog { upstream } if upstream == name))
                    .and_then(|x| match x.observation() {
                        Some(Observation::AppLog(l)) if l.failure.is_none() => {
                            Some((x.planned.id.as_str(), l))
                        }
                        _ => None,
                    });
            let environ =
                by_role(&|role| matches!(role, Role::Environ { upstream } if upstream == name))
                    .and_then(|x| match x.observation() {
                        Some(Observation::Environ(e)) => Some((x.planned.id.as_str(), e)),
                        _ => None,
                    });
            let cfg_upstream = self.cfg.upstreams.iter().find(|u| &u.name == name);
            let unit = cfg_upstream
                .and_then(|u| {
                    u.process
                        .clone()
                        .or_else(|| u.pidfile.as_ref().map(|p| p.display().to_string()))
                })
                .unwrap_or_else(|| name.clone());
            let mine: Vec<ForwardTarget> = targets
                .iter()
                .filter(|t| t.address.same_endpoint(&address))
                .cloned()
                .collect();
            out.push(Upstream {
                name: name.clone(),
                id: r.planned.id.clone(),
                address,
                url,
                host,
                port,
                slow: *slow,
                discovered: *discovered,
                unit,
                http,
                port_probe,
                process,
                log,
                environ,
                targets: mine,
            });
        }
        out
    }
}

//! The dns probe: A and AAAA lookups of one name through the system
//! configuration or an explicit server, with NXDOMAIN, SERVFAIL, REFUSED,
//! an empty answer and a timeout told apart, and the answer compared with
//! the addresses expected. It classifies what the server said; it never
//! judges whether that is bad.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError, NoRecords};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{RData, RecordType};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::{Failure, FailureKind, Millis, Phase, ProbeContext};

/// A lookup to make.
#[derive(Debug, Clone)]
pub struct DnsSpec {
    /// The name to resolve.
    pub name: String,
    /// Ask this server (UDP, then TCP on truncation) instead of the system's.
    pub server: Option<SocketAddr>,
    /// Addresses the answer should contain; empty means no expectation.
    pub expect: Vec<IpAddr>,
    /// Budget for both lookups together.
    pub timeout: Duration,
}

/// One record type's lookup.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Lookup {
    pub addresses: Vec<IpAddr>,
    pub latency: Millis,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub failure: Option<Failure>,
}

/// What the lookups saw.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DnsObservation {
    /// `system` or the server's address.
    pub server: String,
    pub a: Lookup,
    pub aaaa: Lookup,
    /// Expected addresses absent from the answer.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub missing: Vec<IpAddr>,
    /// Addresses in the answer that were not expected (only when `expect` is set).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub unexpected: Vec<IpAddr>,
    /// The failure that decides the outcome: set when neither type gave an
    /// address (the more telling of the two failures: NXDOMAIN over NODATA).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub failure: Option<Failure>,
}

impl DnsObservation {
    /// Every address found, A then AAAA.
    pub fn addresses(&self) -> impl Iterator<Item = &IpAddr> {
        self.a.addresses.iter().chain(self.aaaa.addresses.iter())
    }
}

/// The system resolver, built once per run from `/etc/resolv.conf`.
#[derive(Debug)]
pub struct SystemResolver {
    /// Why it could not be built, if it could not.
    pub error: Option<String>,
    /// The resolver itself; `None` exactly when `error` is set.
    resolver: Option<TokioResolver>,
}

impl SystemResolver {
    /// Build from the system configuration (`/etc/resolv.conf`, `/etc/hosts`).
    /// A configuration that cannot be read or used is recorded in `error`.
    pub fn from_system() -> Self {
        match TokioResolver::builder_tokio().and_then(hickory_resolver::ResolverBuilder::build) {
            Ok(resolver) => Self {
                error: None,
                resolver: Some(resolver),
            },
            Err(e) => Self {
                error: Some(format!("system resolver from /etc/resolv.conf: {e}")),
                resolver: None,
            },
        }
    }
}

/// A resolver that asks only `server`: UDP first, TCP when the answer is
/// truncated, no search list, no hosts file, a fresh cache.
fn server_resolver(server: SocketAddr, timeout: Duration) -> Result<TokioResolver, NetError> {
    let mut udp = ConnectionConfig::udp();
    udp.port = server.port();
    let mut tcp = ConnectionConfig::tcp();
    tcp.port = server.port();
    let ns = NameServerConfig::new(server.ip(), true, vec![udp, tcp]);
    let mut opts = ResolverOpts::default();
    // Hickory's `attempts` counts retries and each one gets the whole
    // `timeout`: one retry re-asks after a quick SERVFAIL or REFUSED, while a
    // silent server uses up the budget on the first try.
    opts.attempts = 1;
    opts.timeout = timeout;
    opts.use_hosts_file = ResolveHosts::Never;
    opts.num_concurrent_reqs = 1;
    TokioResolver::builder_with_config(
        ResolverConfig::from_name_servers(vec![ns]),
        TokioRuntimeProvider::default(),
    )
    .with_options(opts)
    .build()
}

/// Resolve `spec.name`: A and AAAA at once, within `spec.timeout` together.
pub async fn run(spec: &DnsSpec, ctx: &ProbeContext) -> DnsObservation {
    let started = Instant::now();
    let deadline = started + spec.timeout;
    let (server, resolver) = if let Some(addr) = spec.server {
        let resolver =
            server_resolver(addr, spec.timeout).map_err(|e| format!("resolver for {addr}: {e}"));
        (addr.to_string(), resolver)
    } else {
        let system = ctx.resolver().await;
        let resolver = match (&system.resolver, &system.error) {
            (Some(r), _) => Ok(r.clone()),
            (None, Some(e)) => Err(e.clone()),
            (None, None) => Err("system resolver unavailable".to_owned()),
        };
        ("system".to_owned(), resolver)
    };

    let (a, aaaa) = match resolver {
        Ok(resolver) => {
            let ask = Ask {
                resolver: &resolver,
                name: &spec.name,
                server: &server,
                deadline,
                timeout: spec.timeout,
            };
            tokio::join!(ask.lookup(RecordType::A), ask.lookup(RecordType::AAAA))
        }
        Err(reason) => {
            let lookup = Lookup {
                failure: Some(Failure::new(FailureKind::DnsError, Phase::Dns, reason)),
                ..Lookup::default()
            };
            (lookup.clone(), lookup)
        }
    };
    observe(server, a, aaaa, &spec.expect)
}

/// Put the two lookups together: the deciding failure and the comparison
/// with the expected addresses.
fn observe(server: String, a: Lookup, aaaa: Lookup, expect: &[IpAddr]) -> DnsObservation {
    let mut obs = DnsObservation {
        server,
        a,
        aaaa,
        ..DnsObservation::default()
    };
    if obs.a.addresses.is_empty() && obs.aaaa.addresses.is_empty() {
        obs.failure = match (&obs.a.failure, &obs.aaaa.failure) {
            (Some(fa), Some(fb)) if telling(fb.kind) > telling(fa.kind) => Some(fb.clone()),
            (Some(f), _) | (None, Some(f)) => Some(f.clone()),
            (None, None) => None,
        };
    }
    if !expect.is_empty() {
        obs.missing = expect
            .iter()
            .filter(|ip| !obs.addresses().any(|got| got == *ip))
            .copied()
            .collect();
        let unexpected: Vec<IpAddr> = obs
            .addresses()
            .filter(|got| !expect.contains(got))
            .copied()
            .collect();
        obs.unexpected = unexpected;
    }
    obs
}

/// How much a failure says about the name: an answer from the server about
/// the name beats not hearing from it, which beats an empty answer.
fn telling(kind: FailureKind) -> u8 {
    match kind {
        FailureKind::NxDomain => 6,
        FailureKind::ServFail => 5,
        FailureKind::DnsRefused => 4,
        FailureKind::Timeout => 3,
        FailureKind::NoRecords => 1,
        _ => 2,
    }
}

/// One name asked of one resolver.
struct Ask<'a> {
    resolver: &'a TokioResolver,
    name: &'a str,
    server: &'a str,
    deadline: Instant,
    timeout: Duration,
}

impl Ask<'_> {
    /// Look up one record type, bounded by the probe's deadline.
    async fn lookup(&self, rtype: RecordType) -> Lookup {
        let started = Instant::now();
        // An address literal needs no lookup: it is its own answer.
        if let Ok(ip) = self.name.parse::<IpAddr>() {
            let wanted = matches!(
                (rtype, ip),
                (RecordType::A, IpAddr::V4(_)) | (RecordType::AAAA, IpAddr::V6(_))
            );
            return Lookup {
                addresses: if wanted { vec![ip] } else { Vec::new() },
                ..Lookup::default()
            };
        }
        let result =
            tokio::time::timeout_at(self.deadline, self.resolver.lookup(self.name, rtype)).await;
        let latency = Millis::from_duration(started.elapsed());
        let (addresses, failure) = match result {
            Err(_) => (Vec::new(), Some(self.timed_out(rtype))),
            Ok(Err(e)) => (Vec::new(), Some(self.classify(rtype, &e))),
            Ok(Ok(answer)) => {
                let mut addresses: Vec<IpAddr> = Vec::new();
                for record in answer.answers() {
                    let ip = match &record.data {
                        RData::A(a) => IpAddr::V4(a.0),
                        RData::AAAA(aaaa) => IpAddr::V6(aaaa.0),
                        _ => continue,
                    };
                    if !addresses.contains(&ip) {
                        addresses.push(ip);
                    }
                }
                let failure = addresses.is_empty().then(|| {
                    Failure::new(
                        FailureKind::NoRecords,
                        Phase::Dns,
                        format!(
                            "{}: no {rtype} record in the answer from {}",
                            self.name, self.server
                        ),
                    )
                });
                (addresses, failure)
            }
        };
        Lookup {
            addresses,
            latency,
            failure,
        }
    }

    fn timed_out(&self, rtype: RecordType) -> Failure {
        Failure::timeout(
            Phase::Dns,
            format!(
                "{} {rtype}: no answer from {} within {}",
                self.name,
                self.server,
                Millis::from_duration(self.timeout)
            ),
        )
    }

    /// Classify hickory's error by what the server answered.
    fn classify(&self, rtype: RecordType, err: &NetError) -> Failure {
        let (name, server) = (self.name, self.server);
        let (kind, detail) = match err {
            NetError::Dns(DnsError::NoRecordsFound(NoRecords { response_code, .. })) => {
                match *response_code {
                    ResponseCode::NXDomain => (
                        FailureKind::NxDomain,
                        format!("{name}: no such name (NXDOMAIN) from {server}"),
                    ),
                    ResponseCode::NoError => (
                        FailureKind::NoRecords,
                        format!("{name}: the name exists but has no {rtype} record (NODATA)"),
                    ),
                    code => response_code_failure(name, rtype, server, code),
                }
            }
            NetError::Dns(DnsError::ResponseCode(code)) => {
                response_code_failure(name, rtype, server, *code)
            }
            NetError::Timeout => return self.timed_out(rtype),
            other => (
                FailureKind::DnsError,
                format!("{name} {rtype} via {server}: {other}"),
            ),
        };
        Failure::new(kind, Phase::Dns, detail)
    }
}

/// The failure for an error response code (anything but NOERROR/NXDOMAIN).
fn response_code_failure(
    name: &str,
    rtype: RecordType,
    server: &str,
    code: ResponseCode,
) -> (FailureKind, String) {
    match code {
        ResponseCode::ServFail => (
            FailureKind::ServFail,
            format!("{name} {rtype}: {server} could not answer (SERVFAIL)"),
        ),
        ResponseCode::Refused => (
            FailureKind::DnsRefused,
            format!("{name} {rtype}: {server} refused to answer (REFUSED)"),
        ),
        ResponseCode::NXDomain => (
            FailureKind::NxDomain,
            format!("{name}: no such name (NXDOMAIN) from {server}"),
        ),
        code => (
            FailureKind::DnsError,
            format!("{name} {rtype}: {server} answered {code}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(kind: FailureKind) -> Lookup {
        Lookup {
            failure: Some(Failure::new(kind, Phase::Dns, format!("{kind:?}"))),
            ..Lookup::default()
        }
    }

    fn found(ips: &[&str]) -> Lookup {
        Lookup {
            addresses: ips.iter().map(|s| s.parse().unwrap()).collect(),
            ..Lookup::default()
        }
    }

    #[test]
    fn nxdomain_outranks_nodata_whichever_type_saw_it() {
        let obs = observe(
            "system".into(),
            failed(FailureKind::NoRecords),
            failed(FailureKind::NxDomain),
            &[],
        );
        assert_eq!(obs.failure.unwrap().kind, FailureKind::NxDomain);
        let obs = observe(
            "system".into(),
            failed(FailureKind::Timeout),
            failed(FailureKind::NoRecords),
            &[],
        );
        assert_eq!(obs.failure.unwrap().kind, FailureKind::Timeout);
    }

    #[test]
    fn one_family_answering_is_no_failure() {
        let obs = observe(
            "system".into(),
            found(&["10.0.0.5"]),
            failed(FailureKind::NoRecords),
            &[],
        );
        assert!(obs.failure.is_none());
        assert!(obs.missing.is_empty() && obs.unexpected.is_empty());
    }

    #[test]
    fn expectation_compared_both_ways() {
        let obs = observe(
            "system".into(),
            found(&["10.0.0.5", "10.0.0.6"]),
            found(&["fd00::1"]),
            &["10.0.0.5".parse().unwrap(), "10.0.0.7".parse().unwrap()],
        );
        assert_eq!(obs.missing, vec!["10.0.0.7".parse::<IpAddr>().unwrap()]);
        assert_eq!(
            obs.unexpected,
            vec![
                "10.0.0.6".parse::<IpAddr>().unwrap(),
                "fd00::1".parse().unwrap()
            ]
        );
    }
}

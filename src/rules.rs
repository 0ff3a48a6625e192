//! The troubleshooting guide as rules, in guide order: each rule reads what
//! the probes observed (never their strings) and names a cause with its
//! evidence and next steps. A reviewer who knows the guide should be able to
//! read this file top to bottom and tick the causes off.

use std::collections::HashSet;

use why5xx_probes::port::PortObservation;
use why5xx_probes::process::{ProcState, ProcessObservation};
use why5xx_probes::tls::{CertProblem, TlsSession};
use why5xx_probes::{FailureKind, Observation, Phase};

use crate::assess::Assessment;
use crate::causes::Cause;
use crate::config::Config;
use crate::findings::{Finding, Severity, Status, rank};
use crate::plan::Role;
use crate::runner::ProbeRun;

/// Everything the rules may look at.
pub struct Facts<'a> {
    pub runs: &'a [ProbeRun],
    pub assessed: &'a [Assessment],
    pub cfg: &'a Config,
}

impl<'a> Facts<'a> {
    /// The run with probe id `id`.
    pub fn get(&self, id: &str) -> Option<&'a ProbeRun> {
        self.runs.iter().find(|r| r.planned.id == id)
    }

    fn port(&self, port: u16) -> Option<&'a PortObservation> {
        match self.get(&format!("port:{port}"))?.observation() {
            Some(Observation::Port(p)) => Some(p),
            _ => None,
        }
    }

    fn process(&self, id: &str) -> Option<(&'a ProbeRun, &'a ProcessObservation)> {
        let run = self.get(id)?;
        match run.observation() {
            Some(Observation::Process(p)) => Some((run, p)),
            _ => None,
        }
    }
}

/// One rule: the cause it names and how it looks for it.
pub struct Rule {
    pub cause: Cause,
    pub check: fn(&Facts) -> Vec<Finding>,
}

/// Every rule, in guide order.
pub const RULES: &[Rule] = &[
    // ---- 502 Bad Gateway ----
    Rule {
        cause: Cause::UpstreamNotRunning,
        check: upstream_not_running,
    },
    Rule {
        cause: Cause::DnsResolutionFailure,
        check: dns_resolution_failure,
    },
    // ---- General troubleshooting checklist ----
    Rule {
        cause: Cause::TlsCertificateExpired,
        check: tls_certificates,
    },
    Rule {
        cause: Cause::DiskFull,
        check: disk_full,
    },
];

/// Whether some rule can name `cause`.
pub fn has_rules(cause: Cause) -> bool {
    RULES.iter().any(|r| r.cause == cause)
        || matches!(
            cause,
            // Named by the tls_certificates rule together with expired.
            Cause::TlsCertificateExpiring | Cause::TlsCertificateInvalid | Cause::Unclassified
        )
}

/// Run every rule and rank the findings, most likely first.
pub fn diagnose(facts: &Facts) -> Vec<Finding> {
    let mut findings: Vec<Finding> = RULES.iter().flat_map(|r| (r.check)(facts)).collect();
    findings.extend(unclassified(facts, &findings));
    rank(&mut findings);
    findings
}

// ---------------------------------------------------------------------------
// 502: the upstream is not running — nothing accepts on its port.

fn upstream_not_running(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    for u in &f.cfg.upstreams {
        let id = format!("upstream:{}", u.name);
        let Some(Observation::Http(h)) = f.get(&id).and_then(ProbeRun::observation) else {
            continue;
        };
        let Some(failure) = h
            .failure
            .as_ref()
            .filter(|x| x.kind == FailureKind::Refused)
        else {
            continue;
        };
        let port = crate::plan::local_port(&u.url);
        let port_obs = port.and_then(|p| f.port(p));
        if port_obs.is_some_and(|p| !p.listeners.is_empty()) {
            // Something listens there and still refused us: not this cause.
            continue;
        }
        let mut finding = Finding::new(
            Cause::UpstreamNotRunning,
            Severity::Critical,
            0.7,
            format!("The application server {:?} is not running: nothing accepts connections on its port", u.name),
        )
        .evidence(&id, failure.detail.clone());
        if let (Some(p), Some(_)) = (port, port_obs) {
            finding.confidence += 0.15;
            finding = finding.evidence(
                format!("port:{p}"),
                format!("no socket listens on TCP port {p}"),
            );
        }
        let unit = u.process.clone().unwrap_or_else(|| u.name.clone());
        match f.process(&format!("process:{}", u.name)) {
            Some((run, p)) => {
                let alive: Vec<_> = p
                    .processes
                    .iter()
                    .filter(|x| x.state != ProcState::Zombie)
                    .collect();
                if alive.is_empty() {
                    finding.confidence += 0.1;
                    finding = finding.evidence(
                        &run.planned.id,
                        format!("no live process matches {:?}", run.planned.target),
                    );
                    finding = finding
                        .remedy(format!("Start it: systemctl start {unit} (or however it is supervised), then confirm: curl -sS {}", u.url))
                        .remedy(format!("Find out why it stopped: journalctl -u {unit} -n 100 --no-pager; check the kernel log for OOM kills: journalctl -k | grep -i 'killed process'"));
                } else {
                    // Alive but bound to nothing on its port: failed to bind.
                    finding.title = format!(
                        "The application server {:?} is running but not listening on its port (it failed to bind)",
                        u.name
                    );
                    finding.confidence += 0.1;
                    let pids: Vec<String> = alive
                        .iter()
                        .map(|x| format!("pid {} ({})", x.pid, x.name))
                        .collect();
                    finding = finding.evidence(
                        &run.planned.id,
                        format!(
                            "alive: {}, yet nothing listens on port {}",
                            pids.join(", "),
                            port.map_or("?".to_string(), |p| p.to_string())
                        ),
                    );
                    finding = finding
                        .remedy(format!("See where it listens, if anywhere: ss -ltnp | grep -E '{}'", alive.iter().map(|x| format!("pid={}", x.pid)).collect::<Vec<_>>().join("|")))
                        .remedy(format!("Check its bind address and port settings and its startup log (journalctl -u {unit} -n 100) for 'address already in use' or a wrong PORT"));
                }
            }
            None => {
                finding = finding
                    .remedy(format!("Check whether it runs: systemctl status {unit} (or docker ps); start it and confirm with curl -sS {}", u.url))
                    .remedy(format!("Find out why it stopped: journalctl -u {unit} -n 100 --no-pager, and the kernel log for OOM kills"));
            }
        }
        out.push(finding);
    }
    out
}

// ---------------------------------------------------------------------------
// 502: a name the proxy or the application needs does not resolve.

fn dns_resolution_failure(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    for run in f.runs {
        let (failure, name) = match run.observation() {
            Some(Observation::Dns(d)) => match &d.failure {
                Some(x) => (x, run.planned.target.clone()),
                None => continue,
            },
            Some(Observation::Http(h)) => match &h.failure {
                Some(x) if x.phase == Phase::Dns => (x, run.planned.target.clone()),
                _ => continue,
            },
            Some(Observation::Tcp(t)) => match &t.failure {
                Some(x) if x.phase == Phase::Dns => (x, run.planned.target.clone()),
                _ => continue,
            },
            _ => continue,
        };
        let (confidence, what) = match failure.kind {
            FailureKind::NxDomain => (0.9, "does not exist (NXDOMAIN)"),
            FailureKind::ServFail => (0.75, "cannot be answered by the DNS server (SERVFAIL)"),
            FailureKind::DnsRefused => (0.7, "is refused by the DNS server (REFUSED)"),
            FailureKind::NoRecords => (0.6, "has no address records"),
            FailureKind::Timeout => (0.6, "gets no answer from the DNS server in time"),
            _ => (0.5, "cannot be resolved"),
        };
        out.push(
            Finding::new(Cause::DnsResolutionFailure, Severity::Critical, confidence, format!("A name needed to reach a service {what}"))
                .evidence(&run.planned.id, failure.detail.clone())
                .remedy(format!("Check the name and the resolver: dig {} ; cat /etc/resolv.conf", host_of(&name)))
                .remedy("If it is a container or service name, check that the service exists under that name now (names change in deployments); in nginx, a variable in proxy_pass needs a `resolver` directive"),
        );
    }
    out
}

fn host_of(target: &str) -> String {
    url::Url::parse(target)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| {
            target
                .split_whitespace()
                .next()
                .unwrap_or(target)
                .to_string()
        })
}

// ---------------------------------------------------------------------------
// Checklist: TLS certificates — expired, expiring, otherwise invalid.

fn tls_certificates(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    for run in f.runs {
        let (session, warn) = match (run.observation(), &run.planned.role) {
            (Some(Observation::Tls(t)), Role::Tls { warn }) => (t.session.as_ref(), *warn),
            (Some(Observation::Http(h)), Role::Endpoint { tls_warn, .. }) => {
                (h.tls.as_ref(), *tls_warn)
            }
            (Some(Observation::Http(h)), _) => (h.tls.as_ref(), crate::config::DEFAULT_TLS_WARN),
            _ => continue,
        };
        let Some(s) = session else { continue };
        if let Some(finding) = certificate_finding(&run.planned.id, &run.planned.target, s, warn) {
            out.push(finding);
        }
    }
    out
}

fn certificate_finding(
    probe: &str,
    target: &str,
    s: &TlsSession,
    warn: std::time::Duration,
) -> Option<Finding> {
    let leaf = s.leaf()?;
    let days = leaf.days_left.0;
    let when = humantime::format_rfc3339_seconds(
        std::time::UNIX_EPOCH
            + std::time::Duration::from_secs(u64::try_from(leaf.not_after.0).unwrap_or(0)),
    );
    let check = format!(
        "Check what is served: openssl s_client -connect {} -servername {} </dev/null | openssl x509 -noout -subject -enddate -ext subjectAltName",
        connect_target(target),
        s.server_name
    );
    if days < 0 || s.verification.problem == Some(CertProblem::Expired) {
        return Some(
            Finding::new(Cause::TlsCertificateExpired, Severity::Critical, 0.95, format!("The TLS certificate for {} has expired", s.server_name))
                .evidence(probe, format!("certificate {:?} expired {when} ({} day(s) ago)", leaf.subject, -days))
                .remedy("Renew it (certbot renew, or your CA's process), install it where the server's config points (nginx: ssl_certificate), then reload: nginx -t && systemctl reload nginx")
                .remedy(check),
        );
    }
    if !s.verification.trusted {
        let why = match s.verification.problem {
            Some(CertProblem::NameMismatch) => format!(
                "is not valid for the name {:?} (SANs: {})",
                s.server_name,
                leaf.sans.join(", ")
            ),
            Some(CertProblem::UnknownIssuer) if leaf.self_signed => "is self-signed".to_string(),
            Some(CertProblem::UnknownIssuer) => {
                format!("was issued by {:?}, which is not trusted here", leaf.issuer)
            }
            Some(CertProblem::NotYetValid) => "is not valid yet (check the clocks)".to_string(),
            Some(CertProblem::Revoked) => "has been revoked".to_string(),
            _ => "could not be verified".to_string(),
        };
        return Some(
            Finding::new(Cause::TlsCertificateInvalid, Severity::Critical, 0.85, format!("The TLS certificate for {} {why}", s.server_name))
                .evidence(probe, s.verification.detail.clone().unwrap_or_else(|| why.clone()))
                .remedy("Serve a certificate whose SANs cover this name, with the full chain (leaf and intermediates), issued by a CA the clients trust")
                .remedy(check),
        );
    }
    let warn_days = i64::try_from(warn.as_secs() / 86_400).unwrap_or(i64::MAX);
    if days < warn_days {
        return Some(
            Finding::new(Cause::TlsCertificateExpiring, Severity::Warning, 0.9, format!("The TLS certificate for {} expires in {days} day(s)", s.server_name))
                .evidence(probe, format!("certificate {:?} expires {when}", leaf.subject))
                .remedy("Renew it now (certbot renew --dry-run shows whether automatic renewal works), then reload the server")
                .remedy(check),
        );
    }
    None
}

/// `host:port` for openssl from a probe target (a URL or an address).
fn connect_target(target: &str) -> String {
    match url::Url::parse(target) {
        Ok(u) if u.host_str().is_some() => format!(
            "{}:{}",
            u.host_str().unwrap_or_default(),
            u.port_or_known_default().unwrap_or(443)
        ),
        _ => target.to_string(),
    }
}

// ---------------------------------------------------------------------------
// Checklist: a filesystem is full or nearly so.

fn disk_full(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    for run in f.runs {
        let Some(Observation::Disk(d)) = run.observation() else {
            continue;
        };
        if d.failure.is_some() {
            continue;
        }
        let host = &f.cfg.host;
        let (ratio, what) = if d.inodes_used_ratio > d.used_ratio {
            (d.inodes_used_ratio, "inodes")
        } else {
            (d.used_ratio, "space")
        };
        let severity = if ratio >= host.disk_critical {
            Severity::Critical
        } else if ratio >= host.disk_warn {
            Severity::Warning
        } else {
            continue;
        };
        let mount = d
            .mount_point
            .as_ref()
            .unwrap_or(&d.path)
            .display()
            .to_string();
        out.push(
            Finding::new(
                Cause::DiskFull,
                severity,
                if severity == Severity::Critical { 0.9 } else { 0.6 },
                format!("The filesystem at {mount} is {:.0}% full ({what})", ratio * 100.0),
            )
            .evidence(
                &run.planned.id,
                format!(
                    "{:.1}% of space used, {} free; {:.1}% of inodes used",
                    d.used_ratio * 100.0,
                    crate::assess::human_bytes(d.available_bytes),
                    d.inodes_used_ratio * 100.0
                ),
            )
            .remedy(format!("Find what grew: du -xh --max-depth=2 {mount} | sort -h | tail -20 (for inodes: find {mount} -xdev -type f | cut -d/ -f2-3 | sort | uniq -c | sort -n | tail)"))
            .remedy("Free space safely: rotate or compress logs (logrotate -f), clear package caches; deleted files still held open show in: lsof +L1"),
        );
    }
    out
}

// ---------------------------------------------------------------------------
// Not a guide cause: a failing probe no rule explained is still reported.

fn unclassified(f: &Facts, findings: &[Finding]) -> Vec<Finding> {
    let cited: HashSet<&str> = findings
        .iter()
        .flat_map(|x| x.evidence.iter().map(|e| e.probe.as_str()))
        .collect();
    let mut out = Vec::new();
    for (run, a) in f.runs.iter().zip(f.assessed) {
        if cited.contains(run.planned.id.as_str()) {
            continue;
        }
        let severity = match a.status {
            Status::Critical => Severity::Critical,
            Status::Warning => Severity::Warning,
            Status::Ok | Status::Unknown => continue,
        };
        out.push(
            Finding::new(Cause::Unclassified, severity, 0.3, format!("{} is failing and no rule names why", run.planned.id))
                .evidence(&run.planned.id, a.summary.clone())
                .remedy("Look at this probe's detail above; configure the upstream, its process and its log in the config so the rules can tell the cause apart"),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::facts_from_toml;

    #[test]
    fn refused_upstream_with_no_listener_and_no_process_is_not_running() {
        let found = facts_from_toml(include_str!(
            "../tests/fixtures/rules/upstream-not-running.toml"
        ));
        assert_eq!(found[0].cause, Cause::UpstreamNotRunning);
        assert!(found[0].confidence >= 0.9, "{found:?}");
        assert!(found[0].evidence.iter().any(|e| e.probe == "port:3000"));
    }

    #[test]
    fn alive_process_bound_to_nothing_failed_to_bind() {
        let found = facts_from_toml(include_str!(
            "../tests/fixtures/rules/upstream-failed-to-bind.toml"
        ));
        assert_eq!(found[0].cause, Cause::UpstreamNotRunning);
        assert!(
            found[0].title.contains("failed to bind"),
            "{}",
            found[0].title
        );
        assert!(
            found[0]
                .evidence
                .iter()
                .any(|e| e.detail.contains("pid 4121"))
        );
    }

    #[test]
    fn nxdomain_is_dns_resolution_failure() {
        let found = facts_from_toml(include_str!("../tests/fixtures/rules/dns-nxdomain.toml"));
        assert_eq!(found[0].cause, Cause::DnsResolutionFailure);
    }

    #[test]
    fn certificates_expired_expiring_invalid() {
        let found = facts_from_toml(include_str!(
            "../tests/fixtures/rules/tls-certificates.toml"
        ));
        let causes: Vec<Cause> = found.iter().map(|x| x.cause).collect();
        assert_eq!(
            causes,
            [
                Cause::TlsCertificateExpired,
                Cause::TlsCertificateInvalid,
                Cause::TlsCertificateExpiring
            ]
        );
    }

    #[test]
    fn full_disk_is_disk_full() {
        let found = facts_from_toml(include_str!("../tests/fixtures/rules/disk-full.toml"));
        assert_eq!(found[0].cause, Cause::DiskFull);
        assert_eq!(found[0].severity, Severity::Critical);
        assert_eq!(found.len(), 1, "the 50% disk is healthy: {found:?}");
    }

    #[test]
    fn healthy_host_has_no_findings() {
        let found = facts_from_toml(include_str!("../tests/fixtures/rules/healthy.toml"));
        assert!(found.is_empty(), "{found:?}");
    }
}

//! The guide's general checklist causes that carry no status code of their
//! own: TLS certificates, a recent change, a full disk — and `unclassified`,
//! the failing probe no rule explained. Rules only; no printing.

use super::prelude::*;

// ===========================================================================
// Checklist: TLS certificates — expired, expiring, otherwise invalid.

pub(crate) fn tls_certificates(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    for (run, obs) in f.observed() {
        let (session, warn) = match (obs, &run.planned.role) {
            (Observation::Tls(t), Role::Tls { warn }) => (t.session.as_ref(), *warn),
            (Observation::Http(h), Role::Endpoint { tls_warn, .. }) => (h.tls.as_ref(), *tls_warn),
            (Observation::Http(h), _) => (h.tls.as_ref(), crate::config::DEFAULT_TLS_WARN),
            _ => continue,
        };
        let Some(s) = session else { continue };
        // An upstream behind a proxy with an internal certificate is not
        // the users' certificate; only report it when it is the problem.
        if matches!(run.planned.role, Role::Upstream { .. }) && !s.verification.trusted {
            continue;
        }
        if let Some(finding) = certificate_finding(&run.planned.id, &run.planned.target, s, warn) {
            out.push(finding);
        }
    }
    out
}

pub(crate) fn certificate_finding(
    probe: &str,
    target: &str,
    s: &TlsSession,
    warn: Duration,
) -> Option<Finding> {
    let leaf = s.leaf()?;
    let cert = Subject::Certificate(s.server_name.to_ascii_lowercase());
    let days = leaf.days_left.0;
    let when = humantime::format_rfc3339_seconds(
        std::time::UNIX_EPOCH + Duration::from_secs(u64::try_from(leaf.not_after.0).unwrap_or(0)),
    );
    let check = format!(
        "Check what is served: openssl s_client -connect {} -servername {} </dev/null | openssl x509 -noout -subject -enddate -ext subjectAltName",
        connect_target(target),
        s.server_name
    );
    if days < 0 || s.verification.problem == Some(CertProblem::Expired) {
        return Some(
            Finding::new(Cause::TlsCertificateExpired, Severity::Critical, 0.95, format!("The TLS certificate for {} has expired", s.server_name))
                .about(cert)
                .evidence(probe, format!("certificate {:?} expired {when} ({} day(s) ago)", leaf.subject, -days))
                .remedy("Renew it (certbot renew, or your CA's process), install it where the serving proxy's config points (nginx ssl_certificate, HAProxy crt, Apache SSLCertificateFile), then reload that server")
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
                .about(cert)
                .evidence(probe, s.verification.detail.clone().unwrap_or_else(|| why.clone()))
                .remedy("Serve a certificate whose SANs cover this name, with the full chain (leaf and intermediates), issued by a CA the clients trust")
                .remedy(check),
        );
    }
    let warn_days = i64::try_from(warn.as_secs() / 86_400).unwrap_or(i64::MAX);
    if days < warn_days {
        return Some(
            Finding::new(Cause::TlsCertificateExpiring, Severity::Warning, 0.9, format!("The TLS certificate for {} expires in {days} day(s)", s.server_name))
                .about(cert)
                .evidence(probe, format!("certificate {:?} expires {when}", leaf.subject))
                .remedy("Renew it now (certbot renew --dry-run shows whether automatic renewal works), then reload the server")
                .remedy(check),
        );
    }
    None
}

/// `host:port` for openssl from a probe target (a URL or an address).
pub(crate) fn connect_target(target: &str) -> String {
    match url::Url::parse(target) {
        Ok(u) if u.host_str().is_some() => format!(
            "{}:{}",
            u.host_str().unwrap_or_default(),
            u.port_or_known_default().unwrap_or(443)
        ),
        _ => target.to_string(),
    }
}

// ===========================================================================
// Checklist: a deployment or configuration change just before the errors.

pub(crate) fn recent_change(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    let failing = f.something_failing();
    if let Some((pid, p)) = f.proxy()
        && !p.changed_after_start.is_empty()
    {
        let files: Vec<String> = p
            .changed_after_start
            .iter()
            .map(|x| x.display().to_string())
            .collect();
        out.push(
            Finding::new(
                Cause::RecentChange,
                if failing { Severity::Warning } else { Severity::Info },
                if failing { 0.5 } else { 0.3 },
                "The proxy's configuration changed after its master started (reloaded since, or waiting for the next reload)",
            )
            .about(Subject::Proxy)
            .evidence(pid, format!("changed since the master started{}: {}", p.master.as_ref().map(|m| format!(" ({})", clock_time(m.started_at.0))).unwrap_or_default(), files.join(", ")))
            .remedy(format!("Check the change is intended (git diff / etckeeper), then validate and reload ({}), or revert it: the next restart would apply it unannounced", f.reload_command())),
        );
    }
    for (id, d) in f.deploys() {
        if !d.changed_within_window {
            continue;
        }
        let age = d
            .age_secs
            .map_or("moments".to_string(), crate::assess::human_secs);
        // The new release is up and answers errors: the change is the lead.
        let broken: Vec<Upstream> = f
            .upstreams()
            .into_iter()
            .filter(|u| {
                u.http
                    .is_some_and(|h| h.status.is_some_and(|c| c >= 500 && c != 503))
            })
            .collect();
        let (severity, confidence) = match (broken.is_empty(), failing) {
            (false, _) => (Severity::Critical, 0.7),
            (true, true) => (Severity::Warning, 0.55),
            (true, false) => (Severity::Info, 0.3),
        };
        let mut finding = Finding::new(
            Cause::RecentChange,
            severity,
            confidence,
            format!(
                "A deployment changed {} {age} ago, just before the errors",
                d.path.display()
            ),
        )
        .about(Subject::Deploy(d.path.display().to_string()))
        .evidence(
            id,
            format!(
                "changed {age} ago{}",
                d.target
                    .as_ref()
                    .map(|t| format!(", now → {}", t.display()))
                    .unwrap_or_default()
            ),
        );
        for u in &broken {
            finding = finding.evidence(
                &u.id,
                format!(
                    "the new release answers {} directly",
                    u.http.and_then(|h| h.status).unwrap_or(0)
                ),
            );
        }
        out.push(finding.remedy(format!(
            "Roll back: point {} at the previous release and restart; then compare the two releases (git log, the release notes, migrations)",
            d.path.display()
        )));
    }
    out
}

// ===========================================================================
// Checklist: a filesystem is full or nearly so.

pub(crate) fn disk_full(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    for (id, d) in f.disks() {
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
            Finding::new(Cause::DiskFull, severity, if severity == Severity::Critical { 0.9 } else { 0.6 }, format!("The filesystem at {mount} is {:.0}% full ({what})", ratio * 100.0))
                .about(Subject::Disk(mount.clone()))
                .evidence(id, format!("{:.1}% of space used, {} free; {:.1}% of inodes used", d.used_ratio * 100.0, human_bytes(d.available_bytes), d.inodes_used_ratio * 100.0))
                .remedy(format!("Find what grew: du -xh --max-depth=2 {mount} | sort -h | tail -20 (for inodes: find {mount} -xdev -type f | cut -d/ -f2-3 | sort | uniq -c | sort -n | tail)"))
                .remedy("Free space safely: rotate or compress logs (logrotate -f), clear package caches; deleted files still held open show in: lsof +L1"),
        );
    }
    out
}

// ===========================================================================
// Not a guide cause: a failing probe no rule explained is still reported.

/// A public endpoint answering a CDN's 52x (or 507/508) that no local finding
/// explains: the code itself names where to look at the origin. Weak
/// evidence on its own — a local probe that sees the same cause says more.
pub(crate) fn edge_causes(f: &Facts, findings: &[Finding]) -> Vec<Finding> {
    let mut out = Vec::new();
    for (run, h) in f.endpoints() {
        let Some(code) = h.status else { continue };
        let Some((cause, words)) = super::symptoms::edge_meaning(code) else {
            continue;
        };
        let id = run.planned.id.as_str();
        if findings
            .iter()
            .any(|x| x.evidence.iter().any(|e| e.probe == id))
        {
            continue;
        }
        out.push(
            Finding::new(cause, Severity::Critical, 0.5, format!("{} answers {code}: {words}", run.planned.id))
                .about(Subject::Site)
                .evidence(id, format!("answers {code}{}", h.headers.server.as_deref().map(|s| format!(" (from {s})")).unwrap_or_default()))
                .remedy("Probe the origin directly from here (configure it as an [[upstream]] or let discovery find the proxy) so the rules can confirm the cause on this host")
                .remedy("Check the CDN's view of the origin: its dashboard's origin errors, the origin's firewall allow-list of the CDN's addresses, the origin's DNS record"),
        );
    }
    out
}

/// A probe that fails now (its assessment is critical) and that no finding
/// explains: cited by none standing at warning or above, nor by one the
/// precedence table demoted (its source explains the same failure).
/// Evidence probes (logs, the proxy model, flags, the kernel log) are
/// context once anything is explained.
pub(crate) fn unclassified(f: &Facts, findings: &[Finding]) -> Vec<Finding> {
    let explains = |x: &&Finding| x.severity >= Severity::Warning || !x.related.is_empty();
    let cited: HashSet<&str> = findings
        .iter()
        .filter(explains)
        .flat_map(|x| x.evidence.iter().map(|e| e.probe.as_str()))
        .collect();
    let explained_any = findings.iter().any(|x| x.severity >= Severity::Warning);
    let mut out = Vec::new();
    for (run, a) in f.runs.iter().zip(f.assessed) {
        if a.status != Status::Critical || cited.contains(run.planned.id.as_str()) {
            continue;
        }
        let context = matches!(
            run.planned.role,
            Role::ProxyErrorLog
                | Role::AccessLog
                | Role::AppLog { .. }
                | Role::Proxy
                | Role::Oom
                | Role::Flags
                | Role::Deploy
        );
        if context && explained_any {
            continue;
        }
        let severity = if context {
            Severity::Warning
        } else {
            Severity::Critical
        };
        out.push(
            Finding::new(Cause::Unclassified, severity, 0.3, format!("{} is failing and no rule names why", run.planned.id))
                .about(Subject::Probe(run.planned.id.to_string()))
                .evidence(&run.planned.id, a.summary.clone())
                .remedy("Look at this probe's detail below; configure the upstream, its process and its log so the rules can tell the cause apart"),
        );
    }
    out
}

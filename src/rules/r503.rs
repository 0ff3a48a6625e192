//! The guide's 503 Service Unavailable causes: overload, maintenance,
//! resource exhaustion, a dependency down, a deployment in progress. Rules
//! only; no printing, no self-demotion (see `precedence.rs`).

use super::prelude::*;
use why5xx_probes::proxy::LimitKind;

// ===========================================================================
// 503 Service Unavailable

/// More requests than the server can take: the proxy's rate or connection
/// limits reject requests, or the upstream's accept queue is full.
pub(crate) fn server_overload(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    let rejected =
        f.proxy_errors(Pe::LimitingRequests, None) + f.proxy_errors(Pe::LimitingConnections, None);
    let failing = saw(f, 503) || saw(f, 429);
    if rejected > 0 {
        let mut finding = Finding::new(
            Cause::ServerOverload,
            if failing {
                Severity::Critical
            } else {
                Severity::Warning
            },
            if failing { 0.85 } else { 0.5 },
            "The proxy rejects requests over its rate or connection limit",
        )
        .about(Subject::Proxy)
        .evidence(
            ProbeId::proxy_log(),
            format!("{rejected} request(s) rejected by limit_req / limit_conn in the window"),
        );
        // The limits the proxy's config sets, whichever proxy it is.
        if let (Some((pid, _)), Some(m)) = (f.proxy(), &f.proxy_model) {
            for l in m.limits.iter().take(3) {
                let what = match l.kind {
                    LimitKind::Rate => format!(
                        "rate limit {}{}{} in {}",
                        l.zone,
                        l.rate
                            .as_deref()
                            .map(|r| format!(" at {r}"))
                            .unwrap_or_default(),
                        l.burst.map(|b| format!(", burst {b}")).unwrap_or_default(),
                        l.scope
                    ),
                    LimitKind::Connections => format!(
                        "connection limit {}{} in {}",
                        l.zone,
                        l.connections
                            .map(|c| format!(" of {c}"))
                            .unwrap_or_default(),
                        l.scope
                    ),
                };
                finding = finding.evidence(pid, format!("{what} ({})", l.origin));
            }
        }
        out.push(
            finding
                .remedy("Tell a traffic spike or an abusive client from a limit set too low: count requests per client in the access log (awk '{print $1}' access.log | sort | uniq -c | sort -n | tail)")
                .remedy(format!("Raise the limit ({}) for legitimate traffic, block the abusive source, or add capacity; answer 429 with Retry-After rather than 503 (nginx: limit_req_status 429), then: {}", f.dialect().rate_limit_directive(), f.reload_command())),
        );
    }
    // HAProxy queues requests for a server at its maxconn; past `timeout
    // queue` they get 503 (`sQ`).
    if let Some((sid, stats)) = f.haproxy_stats() {
        for s in stats.servers.iter().filter(|s| s.queue_at_limit()) {
            let subject = s
                .addr
                .clone()
                .unwrap_or_else(|| format!("{}/{}", s.backend, s.server));
            let mut finding = Finding::new(
                Cause::ServerOverload,
                Impact::now_or_at_risk(saw(f, 503)).severity(),
                0.75,
                format!(
                    "HAProxy's server {}/{} is at its limit: requests wait in its queue",
                    s.backend, s.server
                ),
            )
            .about(Subject::Upstream(subject))
            .evidence(
                sid,
                format!(
                    "{}/{}: {} queued (limit {}), {} of {} sessions",
                    s.backend,
                    s.server,
                    s.qcur.unwrap_or(0),
                    s.qlimit.map_or("none".to_string(), |l| l.to_string()),
                    s.scur.unwrap_or(0),
                    s.slim.map_or("no limit".to_string(), |l| l.to_string())
                ),
            );
            let queued_out = f.proxy_errors(
                Pe::QueueTimeout,
                s.addr.as_deref().and_then(Address::parse).as_ref(),
            );
            if queued_out > 0 {
                finding.confidence += w::CONFIRMS;
                finding = finding.evidence(
                    ProbeId::proxy_log(),
                    format!("{queued_out} request(s) waited past timeout queue (sQ: 503)"),
                );
            }
            out.push(
                finding
                    .remedy(format!("Raise the server's maxconn (server {} … maxconn N) only as far as the application can serve, add servers to backend {}, or find what keeps its requests slow; then: {}", s.server, s.backend, f.reload_command()))
                    .remedy(haproxy_state_advice(f, &s.backend)),
            );
        }
    }
    // A full accept queue on an upstream's port.
    for u in f.upstreams() {
        let Some((port_id, p)) = u.port_probe else {
            continue;
        };
        for l in &p.listeners {
            if l.backlog > 0 && l.accept_queue >= l.backlog {
                out.push(
                    Finding::new(Cause::ServerOverload, if f.something_failing() { Severity::Critical } else { Severity::Warning }, 0.7, format!("The application {:?} cannot accept connections as fast as they come", u.name)).about(u.subject())
                        .evidence(port_id, format!("accept queue full on {}: {} waiting, backlog {}", l.local, l.accept_queue, l.backlog))
                        .remedy("Add workers or instances, find what blocks the workers (slow requests, a stuck dependency), and raise the listen backlog only as a buffer"),
                );
            }
        }
    }
    out
}

/// Taken offline on purpose: a maintenance flag the proxy or application
/// tests for is present, or the proxy's config returns 503 unconditionally.
/// A `Retry-After` header or a page that says "maintenance" only adds to
/// that: many servers send both on every 503, so neither names the cause by
/// itself (the http probe sets `maintenance_page`; this rule weighs it).
pub(crate) fn maintenance(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    let failing = saw(f, 503);
    let mut finding = None;
    if let Some((id, flags)) = f.flags()
        && let Some(flag) = flags.present().next()
    {
        let mut found = Finding::new(
            Cause::Maintenance,
            // On purpose: while the flag is up and users get 503, it is the
            // cause; a flag with the site still answering is a switch
            // about to bite.
            Impact::now_or_at_risk(failing).severity(),
            if failing { 0.9 } else { 0.6 },
            "The site is in maintenance mode on purpose: a maintenance flag is present",
        )
        .evidence(
            id,
            format!(
                "{} exists{}{}",
                flag.path.display(),
                flag.mtime
                    .map(|t| format!(" (since {})", clock_time(t.0)))
                    .unwrap_or_default(),
                flag.first_line
                    .as_deref()
                    .map(|l| format!(": {l}"))
                    .unwrap_or_default()
            ),
        )
        .remedy(format!("If the maintenance is over, remove the flag: rm {} (and confirm with curl -sI on the public URL)", flag.path.display()))
        .remedy("If it is not over, make the 503 say so: a Retry-After header and a status page");
        if let (Some((pid, _)), Some(m)) = (f.proxy(), &f.proxy_model) {
            for sw in m
                .maintenance
                .iter()
                .filter(|sw| sw.flag.as_deref() == Some(flag.path.as_path()) && !sw.when_absent)
            {
                found.confidence += w::HINTS;
                found = found.evidence(
                    pid,
                    format!(
                        "the proxy answers {} in {} while {} exists ({})",
                        sw.status,
                        sw.scope,
                        flag.path.display(),
                        sw.origin
                    ),
                );
            }
        }
        finding = Some(found);
    } else if let (Some((pid, _)), Some(m)) = (f.proxy(), &f.proxy_model)
        && let Some(sw) = m
            .maintenance
            .iter()
            .find(|sw| sw.flag.is_none() && sw.status == 503)
        && failing
    {
        finding = Some(
            Finding::new(
                Cause::Maintenance,
                Severity::Critical,
                0.7,
                "The proxy is configured to answer 503 for everything there: the site is switched off",
            )
            .evidence(pid, format!("returns 503 unconditionally in {} at {}", sw.scope, sw.origin))
            .remedy(format!(
                "If the downtime is over, remove it at {} and reload: {}",
                sw.origin,
                f.reload_command()
            )),
        );
    }
    let Some(mut finding) = finding else {
        return out;
    };
    // The users' side agrees: hints, never the cause by themselves.
    for (run, h) in f.endpoints() {
        if h.status != Some(503) {
            continue;
        }
        if let Some(ra) = &h.headers.retry_after {
            finding.confidence += w::HINTS;
            finding = finding.evidence(&run.planned.id, format!("503 with Retry-After: {ra}"));
        }
        if h.maintenance_page {
            finding.confidence += w::HINTS;
            finding = finding.evidence(&run.planned.id, "the page says maintenance");
        }
    }
    out.push(finding.about(Subject::Site));
    out
}

/// CPU, memory or file-descriptor limits reached: a process at its
/// descriptor limit, the host out of file handles or memory, the proxy out
/// of worker connections.
pub(crate) fn resource_exhaustion(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    let failing = f.something_failing();
    // A limit reached is lost capacity even while requests still succeed.
    let sev = Impact::now_or_at_risk(failing).severity();
    // A process at its descriptor limit.
    for u in f.upstreams() {
        let Some((pid_id, p)) = u.process else {
            continue;
        };
        for x in &p.processes {
            let (Some(open), Some(limit)) = (x.open_fds, x.fd_soft_limit) else {
                continue;
            };
            if limit == 0 || (open as f64 / limit as f64) < f.cfg.host.fd_warn {
                continue;
            }
            let mut finding = Finding::new(
                Cause::ResourceExhaustion,
                sev,
                0.8,
                format!(
                    "The application {:?} has run out of file descriptors",
                    u.name
                ),
            )
            .about(u.subject())
            .evidence(
                pid_id,
                format!(
                    "pid {} ({}) has {open} of {limit} file descriptors open",
                    x.pid, x.name
                ),
            );
            if let Some(found) = signature(f, Sig::TooManyOpenFiles) {
                finding.confidence += w::CONFIRMS;
                finding = signature_evidence(finding, Some(found));
            }
            out.push(
                finding
                    .remedy(format!("See what it holds: ls -l /proc/{}/fd | awk '{{print $NF}}' | sort | uniq -c | sort -n | tail (leaked sockets or files?)", x.pid))
                    .remedy(format!("Fix the leak; raise the limit if the load is real: LimitNOFILE= in the unit (systemctl edit {}), then restart", u.unit)),
            );
            break;
        }
    }
    if out.is_empty()
        && let Some(found) = signature(f, Sig::TooManyOpenFiles)
    {
        let finding = Finding::new(
            Cause::ResourceExhaustion,
            now_or_info(failing),
            if failing { 0.75 } else { 0.35 },
            "The application runs out of file descriptors",
        );
        out.push(signature_evidence(finding, Some(found)).remedy("Check the process's open descriptors against its limit (cat /proc/PID/limits; ls /proc/PID/fd | wc -l); fix leaks or raise LimitNOFILE"));
    }
    for (kind, what, fix) in [
        (
            Pe::TooManyOpenFiles,
            "The proxy has run out of file descriptors",
            "Raise worker_rlimit_nofile (and the unit's LimitNOFILE) for nginx, and look for connections piling up to a slow upstream",
        ),
        (
            Pe::WorkerConnections,
            "The proxy has run out of worker connections",
            "Raise worker_connections (and worker_rlimit_nofile to match), and find why connections pile up (a slow upstream keeps them open)",
        ),
    ] {
        let n = f.proxy_errors(kind, None);
        if n > 0 {
            out.push(
                Finding::new(
                    Cause::ResourceExhaustion,
                    sev,
                    if failing { 0.8 } else { 0.4 },
                    what,
                )
                .about(Subject::Proxy)
                .evidence(
                    ProbeId::proxy_log(),
                    format!("{n} × \"{}\" in the window", error_kind_words(kind)),
                )
                .remedy(fix),
            );
        }
    }
    // The whole machine ran out of memory and the kernel killed to survive
    // (a kill inside a memory cgroup is that cgroup hitting its own limit,
    // not the host: the rules about the stack's own processes cover those).
    if let Some((oid, o)) = f.oom() {
        let host_wide: Vec<_> = o
            .events
            .iter()
            .filter(|e| !matches!(e.constraint, Some(why5xx_probes::oom::OomConstraint::Memcg)))
            .collect();
        if let Some(last) = host_wide.last() {
            out.push(
                // A past kill cannot be tied to today's failing request:
                // worth a look while something fails, history otherwise.
                Finding::new(Cause::ResourceExhaustion, if failing { Severity::Warning } else { Severity::Info }, 0.5, format!("The host ran out of memory: the kernel killed {} process(es) in the last {} min", host_wide.len(), o.window_secs / 60))
                    .evidence(oid, format!("last {}: pid {} ({}), anon-rss {} kB{}", clock_time(last.at.0), last.pid, last.process, last.anon_rss_kb.unwrap_or(0), last.cgroup.as_deref().map(|c| format!(", cgroup {c}")).unwrap_or_default()))
                    .remedy("See which services were hit: journalctl -k | grep -iE 'killed process|oom-kill'; check their memory limits (MemoryMax) against their peak, or add memory"),
            );
        }
    }
    // The host itself.
    if let Some((sid, s)) = f.system() {
        if let Some(fh) = s.file_handles
            && fh.max > 0
            && fh.allocated as f64 / fh.max as f64 > f.cfg.host.fd_warn
        {
            out.push(
                Finding::new(Cause::ResourceExhaustion, sev, 0.7, "The host is running out of file handles")
                    .evidence(sid, format!("{} of {} file handles allocated", fh.allocated, fh.max))
                    .remedy("Find the process holding most descriptors (for p in /proc/[0-9]*; do echo $(ls $p/fd 2>/dev/null | wc -l) $p; done | sort -n | tail); raise fs.file-max only after"),
            );
        }
        if let Some(m) = s.memory
            && m.total_bytes > 0
        {
            let used = 1.0 - m.available_bytes as f64 / m.total_bytes as f64;
            let stalled = s.pressure.and_then(|p| p.memory_full).unwrap_or(0.0);
            let limits = f.cfg.thresholds();
            if limits.memory_low(used, Some(stalled)) {
                out.push(
                    Finding::new(Cause::ResourceExhaustion, sev, if limits.memory_stalled(stalled) { 0.75 } else { 0.6 }, "The host is running out of memory")
                        .evidence(sid, format!("{} available of {}; memory pressure (full, avg10) {stalled:.0}%", human_bytes(m.available_bytes), human_bytes(m.total_bytes)))
                        .remedy("Find the biggest processes: ps aux --sort=-rss | head; restart or limit the one that grew, add memory or instances"),
                );
            }
        }
        if let Some(l) = s.load {
            let per_core = l.one / f64::from(s.cpus.max(1));
            let stalled = s.pressure.and_then(|p| p.cpu_some).unwrap_or(0.0);
            if f.cfg.thresholds().load_high(per_core) {
                out.push(
                                        Finding::new(
                        Cause::ResourceExhaustion,
                        sev,
                        if failing || f.cfg.thresholds().cpu_stalled(stalled) { 0.55 } else { 0.35 },
                        "The host's CPUs are saturated",
                    )
                        .evidence(sid, format!("load {:.2} per core over {} core(s); CPU pressure (some, avg10) {stalled:.0}%", per_core, s.cpus))
                        .remedy("Find what burns CPU: top -o %CPU (or pidstat 1 5); scale out, or stop the runaway process"),
                );
            }
        }
    }
    out
}

/// A critical dependency is down and the application answers 503 (or the
/// dependency is simply down and nothing says how the app copes).
pub(crate) fn dependency_unavailable(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    // Whatever status the application chose: when it answers 500 for it,
    // database-error or dependency-failure absorb this (precedence table).
    for d in dependencies(f) {
        let Some(why) = &d.down else { continue };
        let failing = saw(f, 503) || f.something_failing();
        let mut finding = Finding::new(
            Cause::DependencyUnavailable,
            if failing {
                Severity::Critical
            } else {
                Severity::Warning
            },
            if saw(f, 503) { 0.8 } else { 0.6 },
            format!("A dependency is down: {} ({})", d.target, d.kind),
        )
        .about(d.subject())
        .evidence(d.id, why.clone());
        if let Some(found) = signature(f, Sig::DatabaseConnectionRefused)
            .filter(|_| d.is_database())
            .or_else(|| signature(f, Sig::ConnectionRefusedOther))
        {
            finding.confidence += w::AGREES;
            finding = signature_evidence(finding, Some(found));
        }
        out.push(
            finding
                .remedy(format!("Bring it back: check its service and log on its host; test from here: {}", probe_command(&d)))
                .remedy("Keep the application answering 503 with Retry-After while it is down, and alert on the dependency itself"),
        );
    }
    out
}

/// A deployment is under way: the release changed minutes ago and the
/// application is not (yet) healthy.
pub(crate) fn deployment_in_progress(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    for (id, d) in f.deploys() {
        if !d.changed_within_window {
            continue;
        }
        let ups = f.upstreams();
        // Not yet healthy: it does not answer HTTP at all (refused, reset,
        // timed out) or says 503. A release that answers 500 is up and
        // broken: that is the recent-change rule's case (roll back).
        let unhealthy: Vec<&Upstream> = ups
            .iter()
            .filter(|u| {
                u.http
                    .is_some_and(|h| h.failure.is_some() || h.status == Some(503))
            })
            .collect();
        let young: Vec<(&str, u64)> = ups
            .iter()
            .filter_map(|u| {
                let (pid, p) = u.process?;
                let youngest = p.processes.iter().map(|x| x.uptime_secs).min()?;
                (youngest < 120).then_some((pid, youngest))
            })
            .collect();
        let answers_5xx = ups.iter().any(|u| {
            u.http
                .is_some_and(|h| h.status.is_some_and(|c| c >= 500 && c != 503))
        });
        if unhealthy.is_empty() && (answers_5xx || young.is_empty() || !f.something_failing()) {
            continue;
        }
        let age = d
            .age_secs
            .map_or("moments".to_string(), crate::assess::human_secs);
        let mut finding = Finding::new(
            Cause::DeploymentInProgress,
            if unhealthy.is_empty() && !f.something_failing() { Severity::Warning } else { Severity::Critical },
            0.75,
            format!("A deployment is in progress: {} changed {age} ago and the new release is not healthy yet", d.path.display()),
        )
        .about(Subject::Deploy(d.path.display().to_string()))
        .evidence(id, format!("changed {age} ago{}", d.target.as_ref().map(|t| format!(", now → {}", t.display())).unwrap_or_default()));
        for u in &unhealthy {
            finding.confidence += w::AGREES;
            finding = finding.evidence(
                &u.id,
                u.http
                    .and_then(|h| {
                        h.failure
                            .as_ref()
                            .map(|x| x.detail.clone())
                            .or(h.status.map(|s| format!("answers {s}")))
                    })
                    .unwrap_or_default(),
            );
        }
        for (pid, up) in young {
            finding = finding.evidence(pid, format!("started {up}s ago"));
        }
        out.push(
            finding
                .remedy("Wait for the new instances to pass their health check, or roll back if they do not come up: point the release symlink back and restart")
                .remedy("Drain and switch in order (start new, check health, then stop old) so deploys do not drop requests"),
        );
    }
    out
}

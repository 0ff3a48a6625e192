//! The guide's 502 Bad Gateway causes: the application server crashed or is
//! not running, the proxy forwards to the wrong place or speaks the wrong
//! protocol, or a name does not resolve. Rules only; no printing, no
//! self-demotion (see `precedence.rs`).

use super::prelude::*;
use why5xx_probes::proxy::Dialect;

// ===========================================================================
// 502 Bad Gateway

/// The application server crashed: the proxy saw connections cut mid-request
/// ("upstream prematurely closed connection"), or the process keeps getting
/// a new pid (a crash loop), or a fatal panic ends its log.
pub(crate) fn upstream_crashed(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    for u in f.upstreams() {
        let authority = u.authority();
        let premature = f.proxy_errors(Pe::PrematurelyClosed, Some(&u.address));
        let cut = u.http.and_then(|h| h.failure.as_ref()).is_some_and(|x| {
            matches!(
                x.kind,
                FailureKind::ClosedBeforeResponse | FailureKind::Reset
            )
        });
        let restarts = u
            .process
            .and_then(|(_, p)| p.watch.as_ref())
            .filter(|w| w.restarted_during_run);
        // The app-log probe says whether the last trace ended the process.
        let fatal = u
            .log
            .and_then(|(_, l)| l.last_exception.as_ref())
            .filter(|e| e.fatal);
        if premature == 0 && !cut && restarts.is_none() {
            continue;
        }
        let down_now = !u.answers();
        // Crashed and back up (its supervisor restarted it): a past failure.
        let mut finding = Finding::new(
            Cause::UpstreamCrashed,
            if down_now || restarts.is_some() {
                Severity::Critical
            } else {
                Severity::Info
            },
            0.6,
            format!("The application server {:?} crashed", u.name),
        )
        .about(u.subject());
        if premature > 0 {
            finding.confidence += w::CONFIRMS;
            let last = f
                .proxy_log()
                .and_then(|(_, l)| l.kind(Pe::PrematurelyClosed))
                .map(|k| k.last.line.clone())
                .unwrap_or_default();
            finding = finding.evidence(ProbeId::proxy_log(), format!("{premature} × \"upstream prematurely closed connection\" from {authority}; last: {last}"));
        }
        if cut {
            finding.confidence += w::AGREES;
            finding = finding.evidence(
                &u.id,
                u.http
                    .and_then(|h| h.failure.as_ref())
                    .map(|x| x.detail.clone())
                    .unwrap_or_default(),
            );
        }
        if let Some(w) = restarts {
            finding.confidence += w::CONFIRMS;
            let pid_id = u.process.map_or("", |(id, _)| id);
            finding = finding.evidence(
                pid_id,
                format!(
                    "restarted while we watched: pids {:?} became {:?} within {}",
                    w.pids_before, w.pids_after, w.watched
                ),
            );
        }
        if let Some(e) = fatal {
            finding.confidence += w::HINTS;
            finding = finding.evidence(
                u.log.map_or("", |(id, _)| id),
                format!("{}: {}", e.head.exception_type, e.head.message),
            );
        }
        if down_now
            && let Some(live) = u.live_processes()
            && live.is_empty()
        {
            finding.confidence += w::HINTS;
            let pid_id = u.process.map_or("", |(id, _)| id);
            finding = finding.evidence(pid_id, "no live process now");
        }
        out.push(
            finding
                .remedy(format!("Read how it died: journalctl -u {} -n 200 --no-pager (exit status, signal, last traceback); coredumpctl list if it segfaulted", u.unit))
                .remedy(format!("Restart it (systemctl restart {}) and have the supervisor restart it on failure (Restart=on-failure); fix the crashing request", u.unit)),
        );
    }
    out
}

/// The kernel's last OOM kill of this upstream's process in the window:
/// matched by its name or pidfile pid, or — the kernel logs only a short
/// process name — by happening within seconds of the proxy seeing this
/// upstream cut a connection.
pub(crate) fn oom_event<'a>(
    f: &'a Facts,
    u: &Upstream,
) -> Option<&'a why5xx_probes::oom::OomEvent> {
    let (_, o) = f.oom()?;
    let pidfile_pid = u
        .process
        .and_then(|(_, p)| p.pidfile.as_ref())
        .and_then(|pf| pf.pid);
    let cut_at = f
        .proxy_log()
        .and_then(|(_, l)| l.kind(Pe::PrematurelyClosed))
        .filter(|k| k.by_upstream.keys().any(|x| x.contains(&u.authority())))
        .and_then(|k| k.last.time);
    o.events.iter().rev().find(|e| {
        e.matches.contains(&u.unit)
            || pidfile_pid == Some(e.pid)
            || cut_at.is_some_and(|t| (t.0 - e.at.0).abs() <= 5)
    })
}

/// Whether the kernel OOM-killed a process of this upstream in the window.
pub(crate) fn oom_killed(f: &Facts, u: &Upstream) -> bool {
    oom_event(f, u).is_some()
}

/// Nothing accepts connections where the application should listen: it was
/// not started, failed to bind its port, or was OOM-killed.
pub(crate) fn upstream_not_running(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    for u in f.upstreams() {
        if u.failure() != Some(FailureKind::Refused) {
            continue;
        }
        if u.port_probe.is_some_and(|(_, p)| !p.listeners.is_empty()) {
            continue; // something listens and still refused: not this cause
        }
        let mut finding = Finding::new(
            Cause::UpstreamNotRunning,
            Severity::Critical,
            0.7,
            format!(
                "The application server {:?} is not running: nothing accepts connections on {}",
                u.name,
                u.authority()
            ),
        )
        .about(u.subject())
        .evidence(
            &u.id,
            u.http
                .and_then(|h| h.failure.as_ref())
                .map(|x| x.detail.clone())
                .unwrap_or_default(),
        );
        if let Some((pid, p)) = u.port_probe {
            finding.confidence += w::AGREES;
            finding = finding.evidence(pid, format!("no socket listens on TCP port {}", p.port));
        }
        let refused = f.proxy_errors(Pe::ConnectRefused, Some(&u.address));
        if refused > 0 {
            finding.confidence += w::HINTS;
            finding = finding.evidence(
                ProbeId::proxy_log(),
                format!(
                    "{refused} × \"connect() failed (111: Connection refused)\" to {}",
                    u.authority()
                ),
            );
        }
        // Behind HAProxy: its health check took the server down, and
        // requests found no server (it answers 503, not 502).
        let mut backends = Vec::new();
        for (sid, s) in f.haproxy_servers(&u.address) {
            if let Some((_, stats)) = f.haproxy_stats()
                && s.down_by_check()
            {
                finding.confidence += w::CONFIRMS;
                finding = finding.evidence(sid, haproxy_down_words(stats, s));
                if !backends.contains(&s.backend) {
                    backends.push(s.backend.clone());
                }
            }
        }
        let downs = f.proxy_errors(Pe::ServerDown, Some(&u.address));
        if downs > 0 {
            finding.confidence += w::HINTS;
            let reason = f
                .proxy_log()
                .and_then(|(_, l)| l.kind(Pe::ServerDown))
                .and_then(|k| k.last.reason.clone())
                .unwrap_or_default();
            finding = finding.evidence(
                ProbeId::proxy_log(),
                format!(
                    "{downs} × \"Server … is DOWN\" for {}; last reason: {reason}",
                    u.authority()
                ),
            );
        }
        for b in &backends {
            let nosrv = haproxy_no_server(f, b);
            if nosrv > 0 {
                finding.confidence += w::HINTS;
                finding = finding.evidence(
                    ProbeId::proxy_log(),
                    format!(
                        "{nosrv} request(s) reached no server of backend {b} ({b}/<NOSRV>, SC: 503)"
                    ),
                );
            }
            finding = finding.remedy(haproxy_state_advice(f, b));
        }
        match (u.process, u.live_processes()) {
            (Some((pid_id, p)), Some(live)) if live.is_empty() => {
                finding.confidence += w::AGREES;
                let zombie = p
                    .processes
                    .iter()
                    .any(|x| x.state == why5xx_probes::process::ProcState::Zombie);
                let mut detail = format!("no live process matches {:?}", u.unit);
                if zombie {
                    detail.push_str(" (a zombie remains: it died and was not reaped)");
                }
                finding = finding.evidence(pid_id, detail);
                // Killed by the kernel for memory?
                if let (Some((oid, _)), Some(last)) = (f.oom(), oom_event(f, &u)) {
                    {
                        finding.confidence += w::HINTS;
                        finding.title = format!(
                            "The application server {:?} is not running: the kernel killed it for memory (OOM)",
                            u.name
                        );
                        finding = finding.evidence(
                            oid,
                            format!(
                                "OOM-killed {}: pid {} ({}), anon-rss {} kB{}",
                                clock_time(last.at.0),
                                last.pid,
                                last.process,
                                last.anon_rss_kb.unwrap_or(0),
                                last.cgroup
                                    .as_deref()
                                    .map(|c| format!(", cgroup {c}"))
                                    .unwrap_or_default()
                            ),
                        );
                        finding = finding.remedy(format!("It was killed for memory: compare its peak with its limit (systemctl show -p MemoryMax,MemoryPeak {0}; the cgroup's memory.max), raise the limit or cut its memory use, then start it: systemctl start {0}", u.unit));
                    }
                }
                finding = finding
                    .remedy(format!("Start it: systemctl start {} (or however it is supervised), then confirm: curl -sS {}", u.unit, u.url))
                    .remedy(format!("Find out why it stopped: journalctl -u {} -n 100 --no-pager; the kernel log for OOM kills: journalctl -k | grep -i 'killed process'", u.unit));
            }
            (Some((pid_id, _)), Some(live)) => {
                // Alive but bound to nothing on its port: it failed to bind.
                finding.confidence += w::AGREES;
                finding.title = format!(
                    "The application server {:?} is running but not listening on {} (it failed to bind or binds elsewhere)",
                    u.name,
                    u.authority()
                );
                let mut parts = Vec::new();
                for p in &live {
                    let socks = f.listening_of(p.pid);
                    if socks.is_empty() {
                        parts.push(format!("pid {} ({}) listens on no TCP port", p.pid, p.name));
                    } else {
                        parts.push(format!(
                            "pid {} ({}) listens on {}",
                            p.pid,
                            p.name,
                            socks
                                .iter()
                                .map(ToString::to_string)
                                .collect::<Vec<_>>()
                                .join(", ")
                        ));
                    }
                }
                finding = finding.evidence(pid_id, format!("alive, but {}", parts.join("; ")));
                finding = finding
                    .remedy(format!("Make it bind {}: check its bind address and port settings (PORT, --bind, listen) and its startup log for 'address already in use': journalctl -u {} -n 100", u.authority(), u.unit))
                    .remedy(format!("See what holds the port, if anything: ss -ltnp 'sport = :{}'", u.port));
            }
            _ => {
                finding = finding
                    .remedy(format!("Check whether it runs: systemctl status {} (or docker ps); start it and confirm with curl -sS {}", u.unit, u.url))
                    .remedy("Configure `process` for this upstream so why5xx can tell a stopped process from one that failed to bind");
            }
        }
        // Whether a crash or a deploy explains it better is the precedence
        // table's call; the kernel's OOM killer stopping it is what it asks.
        if oom_killed(f, &u) {
            finding = finding.mark(Mark::OomKilled);
        }
        out.push(finding);
    }
    out
}

/// The proxy forwards to the wrong host, port or socket: its target refuses
/// (or its socket file is missing) while the application answers where the
/// config says it should.
pub(crate) fn proxy_misconfiguration(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    let Some((pid, p)) = f.proxy() else {
        return out;
    };
    let ups = f.upstreams();
    let healthy: Vec<&Upstream> = ups
        .iter()
        .filter(|u| !u.discovered && u.answers())
        .collect();
    let mut seen = HashSet::new();
    let targets = f.proxy_model.as_ref().map_or(&[][..], |m| &m.targets[..]);
    for t in targets {
        if t.backup || t.down || !seen.insert(t.address.to_string()) {
            continue;
        }
        let directive = format!(
            "{} {} ({}) at {}",
            f.dialect().forward_directive(t.protocol),
            t.raw,
            t.location.as_deref().unwrap_or(&t.frontend),
            t.origin
        );
        match &t.address {
            Address::Tcp { port, .. } => {
                let authority = t.address.to_string();
                // What we know of the target: its own probe, the error log.
                let target_up = ups.iter().find(|u| u.address.same_endpoint(&t.address));
                let refused = target_up.is_some_and(|u| u.failure() == Some(FailureKind::Refused))
                    || f.proxy_errors(Pe::ConnectRefused, Some(&t.address)) > 0;
                if !refused || target_up.is_some_and(|u| !u.discovered && u.answers()) {
                    continue;
                }
                // The application answers somewhere else we were told about.
                let Some(right) = healthy
                    .iter()
                    .find(|u| !u.address.same_endpoint(&t.address))
                else {
                    continue;
                };
                let mut finding = Finding::new(
                    Cause::ProxyMisconfiguration,
                    Severity::Critical,
                    0.8,
                    format!("The proxy forwards to {authority}, where nothing listens; the application {:?} answers on {}", right.name, right.authority()),
                )
                .about(Subject::Upstream(authority.clone()))
                .evidence(pid, directive.clone())
                .evidence(&right.id, format!("answers {} directly", right.http.and_then(|h| h.status).unwrap_or(0)));
                if let Some(tu) = target_up {
                    finding = finding.evidence(
                        &tu.id,
                        tu.http
                            .and_then(|h| h.failure.as_ref())
                            .map(|x| x.detail.clone())
                            .unwrap_or_default(),
                    );
                    if let Some((port_id, _)) = tu.port_probe {
                        finding = finding
                            .evidence(port_id, format!("no socket listens on TCP port {port}"));
                    }
                }
                let n = f.proxy_errors(Pe::ConnectRefused, Some(&t.address));
                if n > 0 {
                    finding.confidence += w::AGREES;
                    finding = finding.evidence(
                        ProbeId::proxy_log(),
                        format!(
                            "{n} × \"connect() failed (111: Connection refused)\" to {authority}"
                        ),
                    );
                }
                out.push(
                    finding
                        .remedy(format!("Point the proxy at {}: edit {} (line {}), then: {}", right.authority(), t.origin.file.display(), t.origin.line, f.reload_command()))
                        .remedy("Or move the application to the address the proxy expects; keep the two in one place (an env var or a template) so they cannot drift"),
                );
            }
            Address::Unix { path } => {
                let missing = f.proxy_errors(Pe::UnixSocketMissing, Some(&t.address));
                if missing == 0 {
                    continue;
                }
                let mut finding = Finding::new(
                    Cause::ProxyMisconfiguration,
                    Severity::Critical,
                    0.7,
                    format!(
                        "The proxy forwards to the unix socket {}, which does not exist",
                        path.display()
                    ),
                )
                .about(Subject::Upstream(t.address.to_string()))
                .evidence(pid, directive.clone())
                .evidence(
                    ProbeId::proxy_log(),
                    format!(
                        "{missing} × connect() to unix socket failed (2: No such file or directory)"
                    ),
                );
                if let Some(u) = healthy.first() {
                    finding.confidence += w::CONFIRMS;
                    finding = finding.evidence(
                        &u.id,
                        format!("the application answers on {}", u.authority()),
                    );
                }
                out.push(finding.remedy(format!("Make the socket path in {} (line {}) match the one the application creates (its --bind unix:... setting), then reload", t.origin.file.display(), t.origin.line)));
            }
            Address::Unresolved { .. } => {}
        }
    }
    // The proxy may not connect where it forwards (a unix socket whose
    // owner or mode keeps the worker user out, or SELinux refusing the
    // connect), or its buffers are too small for the upstream's headers:
    // both are the proxy's settings, not the application.
    for (kind, what, fix) in [
        (
            Pe::ConnectPermissionDenied,
            "The proxy is not allowed to connect to its upstream (permission denied)",
            "For a unix socket, give the proxy's worker user access (the socket's owner, group and mode: listen.owner/listen.group/listen.mode, gunicorn --umask); for TCP under SELinux: setsebool -P httpd_can_network_connect 1",
        ),
        (
            Pe::TooBigHeader,
            "The upstream's response headers do not fit the proxy's buffer",
            "Raise the proxy's header buffer (nginx: proxy_buffer_size / fastcgi_buffer_size, e.g. 16k) or send smaller headers (large cookies)",
        ),
    ] {
        let Some(k) = f.proxy_log().and_then(|(_, l)| l.kind(kind)) else {
            continue;
        };
        let target = k.last.upstream.clone().unwrap_or_default();
        out.push(
            Finding::new(
                Cause::ProxyMisconfiguration,
                Impact::now_or_past(f.symptoms.failing).severity(),
                0.8,
                what,
            )
            .about(Subject::Upstream(target))
            .evidence(
                ProbeId::proxy_log(),
                format!(
                    "{} × \"{}\"; last: {}",
                    k.count,
                    error_kind_words(kind),
                    k.last.line
                ),
            )
            .evidence(
                pid,
                format!(
                    "the proxy's config: {}",
                    p.config
                        .as_ref()
                        .map_or_else(String::new, |c| c.display().to_string())
                ),
            )
            .remedy(fix),
        );
    }
    out
}

/// The proxy speaks HTTP to an HTTPS upstream, or HTTPS to a plain one.
pub(crate) fn tls_protocol_mismatch(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    let Some((pid, _)) = f.proxy() else {
        return out;
    };
    for u in f.upstreams() {
        for t in &u.targets {
            let proxy_tls = t.protocol.is_tls();
            let kind = u.failure();
            // What the upstream really speaks: the scheme the operator
            // configured (when it answers or shows a TLS session) or what
            // our probe in the proxy's scheme ran into.
            let upstream_tls = if u.discovered {
                match kind {
                    Some(FailureKind::TlsOnPlainHttp) => Some(true),
                    Some(FailureKind::PlainHttpOnTls) => Some(false),
                    _ => None,
                }
            } else {
                match (u.url.scheme(), kind) {
                    (_, Some(FailureKind::TlsOnPlainHttp)) => Some(true),
                    (_, Some(FailureKind::PlainHttpOnTls)) => Some(false),
                    ("https", _) if u.answers() || u.http.is_some_and(|h| h.tls.is_some()) => {
                        Some(true)
                    }
                    ("http", _) if u.answers() => Some(false),
                    _ => None,
                }
            };
            let Some(upstream_tls) = upstream_tls else {
                continue;
            };
            if upstream_tls == proxy_tls {
                continue;
            }
            let (title, fix) = if upstream_tls {
                (
                    format!(
                        "The proxy speaks plain HTTP to {}, which speaks HTTPS",
                        u.authority()
                    ),
                    match f.dialect() {
                        Dialect::Nginx => format!(
                            "Use {} https://{} at {} (and proxy_ssl_server_name on; proxy_ssl_verify with the CA), or serve plain HTTP on that port",
                            f.dialect().forward_directive(t.protocol),
                            u.authority(),
                            t.origin
                        ),
                        Dialect::Haproxy => format!(
                            "Add `ssl verify required ca-file CA.pem sni str({})` to the server line at {}, or serve plain HTTP on that port",
                            u.host, t.origin
                        ),
                        Dialect::Apache => format!(
                            "Use ProxyPass https://{} at {} with SSLProxyEngine on (and SSLProxyCACertificateFile with the CA), or serve plain HTTP on that port",
                            u.authority(),
                            t.origin
                        ),
                    },
                )
            } else {
                (
                    format!(
                        "The proxy speaks HTTPS to {}, which speaks plain HTTP",
                        u.authority()
                    ),
                    match f.dialect() {
                        Dialect::Nginx => format!(
                            "Use {} http://{} at {}, or enable TLS on the application",
                            f.dialect().forward_directive(t.protocol),
                            u.authority(),
                            t.origin
                        ),
                        Dialect::Haproxy => format!(
                            "Remove `ssl` from the server line at {}, or enable TLS on the application",
                            t.origin
                        ),
                        Dialect::Apache => format!(
                            "Use ProxyPass http://{} at {}, or enable TLS on the application",
                            u.authority(),
                            t.origin
                        ),
                    },
                )
            };
            let mut finding =
                Finding::new(Cause::TlsProtocolMismatch, Severity::Critical, 0.75, title)
                    .about(u.subject())
                    .evidence(
                        pid,
                        format!(
                            "forwards with {} ({}) at {}",
                            t.raw,
                            if proxy_tls { "TLS" } else { "plain HTTP" },
                            t.origin
                        ),
                    );
            if let Some(h) = u.http {
                let detail = match (&h.failure, &h.tls) {
                    (Some(x), _) => x.detail.clone(),
                    (None, Some(s)) => format!(
                        "answers over {}",
                        s.protocol.clone().unwrap_or_else(|| "TLS".to_string())
                    ),
                    (None, None) => "answers plain HTTP".to_string(),
                };
                finding = finding.evidence(&u.id, detail);
            }
            let log_signs = f.proxy_errors(Pe::InvalidHeader, Some(&u.address))
                + f.proxy_errors(Pe::SslPeerClosedHandshake, Some(&u.address))
                + f.proxy_log()
                    .and_then(|(_, l)| l.kind(Pe::SslHandshakeFailed))
                    .map_or(0, |k| k.wrong_version_number);
            if log_signs > 0 {
                finding.confidence += w::CONFIRMS;
                let which = if upstream_tls {
                    "upstream sent no valid HTTP header (it answered TLS)"
                } else {
                    "SSL_do_handshake() failed: wrong version number"
                };
                finding = finding.evidence(ProbeId::proxy_log(), format!("{log_signs} × {which}"));
            }
            out.push(
                finding
                    .remedy(fix)
                    .remedy(format!("Then: {}", f.reload_command())),
            );
            break;
        }
    }
    out
}

/// A name the proxy (or the application) needs does not resolve.
pub(crate) fn dns_resolution_failure(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    // The proxy said so.
    // The resolver itself not answering ("... could not be resolved
    // (110: Operation timed out)" / "resolver ... timed out") is the same
    // failure seen from the proxy.
    for k in [Pe::CouldNotResolve, Pe::ResolverFailed]
        .into_iter()
        .filter_map(|kind| f.proxy_log().and_then(|(_, l)| l.kind(kind)))
    {
        let lid = ProbeId::proxy_log();
        let name = k
            .last
            .upstream
            .clone()
            .unwrap_or_else(|| "an upstream name".to_string());
        let failing = f.something_failing() || saw(f, 502);
        let mut finding = Finding::new(
            Cause::DnsResolutionFailure,
            now_or_info(failing),
            if failing { 0.85 } else { 0.4 },
            format!("The proxy cannot resolve the upstream name {name}"),
        )
        .about(name_subject(&name))
        .evidence(
            lid,
            format!(
                "{} × \"{}\"; last: {}",
                k.count,
                error_kind_words(k.kind),
                k.last.line
            ),
        );
        if let (Some((pid, _)), Some(m)) = (f.proxy(), &f.proxy_model) {
            for t in &m.targets {
                if let Some(r) = &t.resolver {
                    finding = finding.evidence(
                        pid,
                        format!(
                            "{} at {} resolves through the resolver at {r}",
                            t.raw, t.origin
                        ),
                    );
                    break;
                }
            }
        }
        out.push(
            finding
                .remedy(format!("Check the name from the proxy's point of view: dig {} (@ the resolver the proxy uses)", name.split(':').next().unwrap_or(&name)))
                .remedy("In containers, service names change during deployments: check the service exists under that name now; in nginx a variable in proxy_pass needs a working `resolver`"),
        );
    }
    for (run, obs) in f.observed() {
        let (failure, name) = match obs {
            Observation::Dns(d) => match &d.failure {
                Some(x) => (x, run.planned.target.clone()),
                None => continue,
            },
            Observation::Http(h) => match &h.failure {
                Some(x) if x.phase == Phase::Dns => (x, host_of(&run.planned.target)),
                _ => continue,
            },
            Observation::Tcp(t) => match &t.failure {
                Some(x) if x.phase == Phase::Dns => (x, host_of(&run.planned.target)),
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
            Finding::new(Cause::DnsResolutionFailure, Severity::Critical, confidence, format!("The name {name} {what}"))
                .about(name_subject(&name))
                .evidence(&run.planned.id, failure.detail.clone())
                .remedy(format!("Check the name and the resolver: dig {} ; cat /etc/resolv.conf", name.split_whitespace().next().unwrap_or(&name)))
                .remedy("If it is a container or service name, check the service exists under that name now; in nginx a variable in proxy_pass needs a `resolver` directive"),
        );
    }
    out
}

/// One finding per name, whichever probe saw it fail: `app.internal`,
/// `app.internal:8080`, `http://App.Internal/` and `app.internal @10.0.0.2`
/// are the same subject.
fn name_subject(name: &str) -> Subject {
    let word = name.split_whitespace().next().unwrap_or(name);
    let host = url::Url::parse(word)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| word.split(':').next().unwrap_or(word).to_string());
    Subject::Name(host.trim_end_matches('.').to_ascii_lowercase())
}

pub(crate) fn host_of(target: &str) -> String {
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

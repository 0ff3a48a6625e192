//! The guide's 504 Gateway Timeout causes: a slow backend, a query waiting
//! on the database, a slow external API, a proxy timeout shorter than the
//! endpoint needs, network latency. Rules only; no printing, no
//! self-demotion (see `precedence.rs`).

use super::prelude::*;
use why5xx_probes::proxy::{Protocol, TimeoutKind};

// ===========================================================================
// 504 Gateway Timeout

/// The proxy's read timeout that applies to an upstream, the longest of
/// its targets' (a request is cut at the first that fires, but different
/// locations may differ; the longest is the most forgiving).
pub(crate) fn read_timeout(
    u: &Upstream,
) -> Option<(Millis, Option<why5xx_probes::proxy::Origin>, String)> {
    u.targets
        .iter()
        .filter_map(|t| {
            t.timeouts.read.value.map(|v| {
                (
                    v,
                    t.timeouts.read.origin.clone(),
                    t.location.clone().unwrap_or_else(|| t.frontend.clone()),
                )
            })
        })
        .max_by(|a, b| a.0.0.total_cmp(&b.0.0))
}

/// Slow answers that the proxy cut off; shared by the 504 rules.
pub(crate) fn upstream_timed_out(f: &Facts, u: &Upstream) -> u64 {
    f.proxy_errors(Pe::UpstreamTimedOut, Some(&u.address))
}

/// The application itself takes too long: its direct answer is slower than
/// its `slow` threshold (or it does not answer in time at all), and no slow
/// dependency explains it.
pub(crate) fn slow_backend(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    for u in f.upstreams() {
        let timed_out = u
            .http
            .and_then(|h| h.failure.as_ref())
            .is_some_and(|x| x.kind == FailureKind::Timeout && x.phase == Phase::FirstByte);
        let ttfb = u.ttfb();
        let limit = u
            .slow
            .map(Millis::from)
            .or_else(|| read_timeout(&u).map(|r| r.0));
        let too_slow = match (ttfb, limit) {
            (Some(t), Some(l)) => t > l,
            _ => false,
        };
        if !timed_out && !too_slow {
            continue;
        }
        // Slow but within what it legitimately needs: proxy-timeout-too-short's case.
        if !timed_out && u.slow.is_none() {
            continue;
        }
        let mut finding = Finding::new(
            Cause::SlowBackend,
            Severity::Critical,
            0.75,
            format!("The application {:?} takes too long to respond", u.name),
        )
        .about(u.subject());
        finding = match (timed_out, ttfb) {
            (true, _) => finding.evidence(
                &u.id,
                u.http
                    .and_then(|h| h.failure.as_ref())
                    .map(|x| x.detail.clone())
                    .unwrap_or_default(),
            ),
            (false, Some(t)) => finding.evidence(
                &u.id,
                format!(
                    "first byte after {t} directly (its `slow` is {})",
                    limit.unwrap_or_default()
                ),
            ),
            _ => finding,
        };
        let cut = upstream_timed_out(f, &u);
        if cut > 0 {
            finding.confidence += w::AGREES;
            finding = finding.evidence(
                ProbeId::proxy_log(),
                format!("{cut} × \"upstream timed out\" from {}", u.authority()),
            );
        }
        out.push(
            finding
                .remedy("Find the slow code path: profile the slow endpoint (py-spy dump --pid PID, clinic, async-profiler) and check its queries in the slow query log")
                .remedy("For work that legitimately takes long, answer 202 Accepted and do it in the background (the guide's asynchronous processing)"),
        );
    }
    out
}

/// Lock waits and long queries seen in `pg_stat_activity`.
pub(crate) fn postgres_waits<'a>(
    f: &'a Facts,
) -> Option<(&'a str, &'a why5xx_probes::postgres::PostgresObservation)> {
    f.observed().find_map(|(r, o)| match o {
        Observation::Postgres(p)
            if p.lock_waiting_count.unwrap_or(0) > 0 || p.long_running_count.unwrap_or(0) > 0 =>
        {
            Some((r.planned.id.as_str(), p))
        }
        _ => None,
    })
}

/// A query is locked, unindexed or the database is overloaded: sessions
/// wait on locks or run long while the application is slow or cut off.
pub(crate) fn database_query_timeout(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    let slow_app = f.symptoms.slow || signature(f, Sig::QueryTimeout).is_some();
    if let Some((id, p)) = postgres_waits(f) {
        let mut finding = Finding::new(
            Cause::DatabaseQueryTimeout,
            if slow_app {
                Severity::Critical
            } else {
                Severity::Warning
            },
            if slow_app { 0.8 } else { 0.45 },
            "Queries wait on database locks or run long",
        )
        .about(Subject::Dependency(id.to_string()));
        if let Some(w) = p.lock_waiting.first() {
            finding = finding.evidence(
                id,
                format!(
                    "{} session(s) waiting on a lock; pid {} waits {} on {} held by pid(s) {:?}: {}",
                    p.lock_waiting_count.unwrap_or(0),
                    w.pid,
                    w.query_duration.unwrap_or_default(),
                    w.wait_event.as_deref().unwrap_or("a lock"),
                    w.blocked_by,
                    w.query.as_deref().unwrap_or("")
                ),
            );
        }
        if let Some(b) = p.blocking.first() {
            finding = finding.evidence(
                id,
                format!(
                    "pid {} holds it: {}, transaction open {}",
                    b.pid,
                    b.state.as_deref().unwrap_or("?"),
                    b.transaction_duration.unwrap_or_default()
                ),
            );
        }
        if p.lock_waiting.is_empty()
            && let Some(l) = p.long_running.first()
        {
            finding = finding.evidence(
                id,
                format!(
                    "{} long-running quer(ies); pid {} for {}: {}",
                    p.long_running_count.unwrap_or(0),
                    l.pid,
                    l.query_duration.unwrap_or_default(),
                    l.query.as_deref().unwrap_or("")
                ),
            );
        }
        if let Some(found) = signature(f, Sig::QueryTimeout) {
            finding.confidence += w::AGREES;
            finding = signature_evidence(finding, Some(found));
        }
        let blocker = p
            .blocking
            .first()
            .map_or("PID".to_string(), |b| b.pid.to_string());
        out.push(
            finding
                .remedy(format!("Look at the blocker: SELECT pid, state, xact_start, query FROM pg_stat_activity WHERE pid = {blocker}; end it if it is stuck: SELECT pg_terminate_backend({blocker})"))
                .remedy("Keep transactions short, set statement_timeout and lock_timeout for the application's role, and index the slow queries (EXPLAIN ANALYZE)"),
        );
    } else if let Some(found) = signature(f, Sig::QueryTimeout) {
        let finding = Finding::new(
            Cause::DatabaseQueryTimeout,
            now_or_info(slow_app || saw(f, 500)),
            if slow_app { 0.7 } else { 0.35 },
            "Database queries time out",
        )
        .about(Subject::Dependency("database".to_string()));
        out.push(signature_evidence(finding, Some(found)).remedy("Check the database's slow query log and locks (pg_stat_activity, SHOW PROCESSLIST); add indexes or shorten transactions"));
    }
    out
}

/// A synchronous call to a slow external API: a dependency answers slower
/// than its `slow` (or not at all) while the application is slow or cut off.
pub(crate) fn external_api_latency(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    let app_slow = f.symptoms.slow;
    for d in dependencies(f) {
        if d.is_database() {
            continue;
        }
        let Some(took) = d.slow else { continue };
        let mut finding = Finding::new(
            Cause::ExternalApiLatency,
            if app_slow {
                Severity::Critical
            } else {
                Severity::Warning
            },
            if app_slow { 0.8 } else { 0.5 },
            format!(
                "A service the application calls synchronously is slow: {}",
                d.target
            ),
        )
        .about(d.subject())
        .evidence(d.id, format!("answers after {took}"));
        if let Some(found) = signature(f, Sig::ExternalCallTimeout) {
            finding.confidence += w::AGREES;
            finding = signature_evidence(finding, Some(found));
        }
        for u in f.upstreams() {
            if let Some(t) = u.ttfb().filter(|t| t.as_secs_f64() > 1.0) {
                finding =
                    finding.evidence(&u.id, format!("the application itself answers after {t}"));
            }
        }
        out.push(
            finding
                .remedy(format!("Confirm from here: {}", probe_command(&d)))
                .remedy("Put a short timeout on the call, cache or queue it, or make it asynchronous, so a slow partner cannot hold your requests past the proxy's timeout"),
        );
    }
    out
}

/// The proxy's read timeout is shorter than what the endpoint legitimately
/// needs: the application answers directly, within its own `slow`, in more
/// time than the proxy waits.
pub(crate) fn proxy_timeout_too_short(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    for u in f.upstreams() {
        let Some(t) = u.ttfb() else { continue };
        if !u.answers() {
            continue;
        }
        let Some((limit, origin, location)) = read_timeout(&u) else {
            continue;
        };
        if t <= limit {
            continue;
        }
        // With a `slow` set, anything within it is legitimate; without one,
        // only an explicitly shortened timeout is suspect.
        let legit = match u.slow {
            Some(s) => t.as_duration() <= s,
            None => origin.is_some() && limit.as_duration() < Duration::from_secs(60),
        };
        if !legit {
            continue;
        }
        let mut finding = Finding::new(
            Cause::ProxyTimeoutTooShort,
            Severity::Critical,
            if u.slow.is_some() { 0.8 } else { 0.6 },
            format!(
                "The proxy gives up on {:?} after {limit}, but it needs {t}",
                u.name
            ),
        )
        .about(u.subject())
        .evidence(
            &u.id,
            format!(
                "answers {} directly, first byte after {t}{}",
                u.http.and_then(|h| h.status).unwrap_or(0),
                u.slow
                    .map(|s| format!(" (within its `slow` of {})", Millis::from(s)))
                    .unwrap_or_default()
            ),
        );
        let pid = f.proxy().map_or("proxy", |(id, _)| id);
        let at = origin.as_ref().map_or_else(
            || {
                f.dialect()
                    .default_timeout_words(TimeoutKind::Read)
                    .to_string()
            },
            ToString::to_string,
        );
        let protocol = u.targets.first().map_or(Protocol::Http, |t| t.protocol);
        let directive = f.dialect().timeout_directive(TimeoutKind::Read, protocol);
        let reload = f.reload_command();
        finding = finding.evidence(pid, format!("{directive} {limit} for {location} ({at})"));
        let cut = upstream_timed_out(f, &u);
        if cut > 0 {
            finding.confidence += w::CONFIRMS;
            finding = finding.evidence(ProbeId::proxy_log(), format!("{cut} × \"upstream timed out (110)\" while reading the response header from {}", u.authority()));
        }
        let fix = match &origin {
            Some(o) => format!(
                "Raise {directive} for {location} above {t} (it is set at {o}), then: {reload}"
            ),
            None => format!("Set {directive} for {location} above {t}, then: {reload}"),
        };
        out.push(finding.remedy(fix).remedy(
            "Or make the endpoint answer sooner: 202 Accepted and background work for long jobs",
        ));
    }
    out
}

/// High latency between the proxy and the application: a remote upstream's
/// TCP connect (one round trip) is a large share of its answer time.
pub(crate) fn network_latency(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    for u in f.upstreams() {
        let Some(h) = u.http else { continue };
        let Some(connect) = h.phases.connect else {
            continue;
        };
        if crate::engine::plan::local_port(&u.url).is_some() || connect.0 < 100.0 {
            continue;
        }
        let ttfb = h.phases.first_byte.unwrap_or(h.phases.total);
        let share = connect.0 / ttfb.0.max(connect.0).max(1.0);
        let failing = saw(f, 504) || upstream_timed_out(f, &u) > 0;
        out.push(
            Finding::new(
                Cause::NetworkLatency,
                if failing { Severity::Critical } else { Severity::Warning },
                if share > 0.3 { 0.65 } else { 0.45 },
                format!("The network between here and {:?} is slow: one round trip takes {connect}", u.name),
            )
            .about(u.subject())
            .evidence(&u.id, format!("TCP connect {connect}, first byte {ttfb}"))
            .remedy(format!("Measure the path: mtr -rwc 20 {} ; compare with a host in the same zone", u.host))
            .remedy("Keep the proxy and the application in the same region/zone, use keepalive connections to the upstream (upstream keepalive; proxy_http_version 1.1)"),
        );
    }
    out
}

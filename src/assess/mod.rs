//! Judges each probe on its own: a status (ok, warning, critical, unknown)
//! and a one-line summary, from its observation and the config's
//! [`Thresholds`] — the same ones the rules use; no threshold is written
//! here. Naming causes is the rules' job, not this module's.

use std::fmt::Write as _;

use why5xx_probes::http::HttpObservation;
use why5xx_probes::process::{ProcState, ProcessObservation};
use why5xx_probes::system::{DiskObservation, SystemObservation};
use why5xx_probes::{FailureKind, Millis, Observation};

use crate::config::Thresholds;
use crate::engine::plan::Role;
use crate::engine::runner::{Outcome, ProbeRun};
use crate::model::findings::Status;

/// A probe's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    pub status: Status,
    pub summary: String,
}

fn verdict(status: Status, summary: impl Into<String>) -> Assessment {
    Assessment {
        status,
        summary: summary.into(),
    }
}

/// Judge one probe run by `thresholds` (a [`Thresholds`], or the `&Host`
/// of a config, which gives the same).
pub fn assess(run: &ProbeRun, thresholds: impl Into<Thresholds>) -> Assessment {
    let t = thresholds.into();
    let obs = match &run.outcome {
        Outcome::Unfinished(why) => {
            return verdict(Status::Unknown, format!("did not finish: {why}"));
        }
        Outcome::Observed(o) => o,
    };
    let role = &run.planned.role;
    match obs {
        Observation::Http(h) => http(h, role),
        Observation::Tls(t) => {
            let warn = match role {
                Role::Tls { warn } => *warn,
                _ => crate::config::DEFAULT_TLS_WARN,
            };
            if let Some(f) = &t.failure {
                return verdict(Status::Critical, f.detail.clone());
            }
            match &t.session {
                Some(s) => tls_session(s, warn),
                None => verdict(Status::Unknown, "no TLS session"),
            }
        }
        Observation::Dns(d) => {
            if let Some(f) = &d.failure {
                return verdict(Status::Critical, f.detail.clone());
            }
            let addrs: Vec<String> = d.addresses().map(ToString::to_string).collect();
            let took = if d.a.latency >= d.aaaa.latency {
                d.a.latency
            } else {
                d.aaaa.latency
            };
            if d.missing.is_empty() {
                verdict(Status::Ok, format!("{} in {took}", addrs.join(", ")))
            } else {
                let missing: Vec<String> = d.missing.iter().map(ToString::to_string).collect();
                verdict(
                    Status::Warning,
                    format!(
                        "answers {} but not the expected {}",
                        addrs.join(", "),
                        missing.join(", ")
                    ),
                )
            }
        }
        Observation::System(s) => system(s, &t),
        Observation::Disk(d) => disk(d, &t),
        Observation::Process(p) => {
            let min = match role {
                Role::Process { min } => *min,
                _ => 1,
            };
            process(p, min, &run.planned.target, &t)
        }
        Observation::Port(p) => {
            if p.listeners.is_empty() {
                let status = if matches!(role, Role::Port { .. }) {
                    Status::Critical
                } else {
                    Status::Warning
                };
                return verdict(status, format!("nothing listens on port {}", p.port));
            }
            let who: Vec<String> = p
                .listeners
                .iter()
                .map(|l| match l.owners.first() {
                    Some(o) => format!("{} ({} pid {})", l.local, o.name, o.pid),
                    None => l.local.to_string(),
                })
                .collect();
            match &p.connect {
                Some(c) if !c.accepted => verdict(
                    Status::Critical,
                    format!(
                        "listening on {} but connect failed: {}",
                        who.join(", "),
                        c.failure.as_ref().map_or("refused", |f| f.detail.as_str())
                    ),
                ),
                _ => verdict(Status::Ok, format!("listening: {}", who.join(", "))),
            }
        }
        Observation::Listeners(l) => {
            if let Some(f) = &l.failure {
                return verdict(Status::Unknown, f.detail.clone());
            }
            let mut ports: Vec<u16> = l.listeners.iter().map(|x| x.local.port()).collect();
            ports.sort_unstable();
            ports.dedup();
            let shown: Vec<String> = ports.iter().take(12).map(ToString::to_string).collect();
            let more = if ports.len() > 12 {
                format!(" and {} more", ports.len() - 12)
            } else {
                String::new()
            };
            verdict(
                Status::Ok,
                format!(
                    "{} listening port(s): {}{more}",
                    ports.len(),
                    shown.join(", ")
                ),
            )
        }
        Observation::Tcp(t) => {
            if let Some(f) = &t.failure {
                return verdict(Status::Critical, f.detail.clone());
            }
            let connect = t.connect.unwrap_or_default();
            let slow = match role {
                Role::Dependency { slow, .. } => *slow,
                _ => None,
            };
            let addr = t.remote_addr.map(|a| a.to_string()).unwrap_or_default();
            if slow.is_some_and(|s| connect.as_duration() > s) {
                verdict(
                    Status::Warning,
                    format!("connected to {addr} slowly, in {connect}"),
                )
            } else {
                verdict(Status::Ok, format!("connected to {addr} in {connect}"))
            }
        }
        Observation::Postgres(p) => postgres(
            p,
            matches!(
                role,
                Role::Dependency {
                    credentials: true,
                    ..
                }
            ),
            &t,
        ),
        Observation::Redis(r) => redis(r, &t),
        Observation::Proxy(p) => proxy(p),
        Observation::ProxyErrorLog(l) => proxy_error_log(l),
        Observation::HaproxyStats(h) => haproxy_stats(h),
        Observation::AppLog(l) => app_log(l),
        Observation::AccessLog(l) => access_log(l),
        Observation::Environ(e) => environ(e),
        Observation::Oom(o) => oom(o),
        Observation::Deploy(d) => deploy(d),
        Observation::Flags(f) => {
            if let Some(x) = &f.failure {
                return verdict(Status::Unknown, x.detail.clone());
            }
            let present: Vec<String> = f.present().map(|x| x.path.display().to_string()).collect();
            if present.is_empty() {
                verdict(Status::Ok, "no maintenance flag present")
            } else {
                verdict(
                    Status::Warning,
                    format!("maintenance flag present: {}", present.join(", ")),
                )
            }
        }
    }
}

fn postgres(
    p: &why5xx_probes::postgres::PostgresObservation,
    credentials: bool,
    t: &Thresholds,
) -> Assessment {
    let version = p
        .server_version
        .as_deref()
        .map_or_else(|| "PostgreSQL".to_string(), |v| format!("PostgreSQL {v}"));
    if let Some(f) = &p.failure {
        // Without a password in the config, a refused login still proves a live server.
        if f.kind == FailureKind::AuthenticationFailed && p.server_answered && !credentials {
            return verdict(
                Status::Ok,
                format!("{version} answers (no credentials configured, login not attempted)"),
            );
        }
        return verdict(Status::Critical, f.detail.clone());
    }
    let mut status = Status::Ok;
    let mut s = format!(
        "{version}, SELECT 1 in {}",
        p.select_one.unwrap_or_default()
    );
    if let (Some(c), Some(max)) = (p.connections, p.max_connections)
        && max > 0
    {
        let _ = write!(s, ", {c}/{max} connections");
        if t.near_conn_limit(u64::from(c), u64::from(max)) {
            status = Status::Warning;
        }
    }
    if let Some(n) = p.lock_waiting_count.filter(|n| *n > 0) {
        status = Status::Warning;
        let _ = write!(s, ", {n} session(s) waiting on locks");
    }
    if let Some(n) = p.long_running_count.filter(|n| *n > 0) {
        status = Status::Warning;
        let _ = write!(s, ", {n} long-running quer(ies)");
    }
    verdict(status, s)
}

fn redis(r: &why5xx_probes::redis::RedisObservation, t: &Thresholds) -> Assessment {
    if let Some(f) = &r.failure {
        return verdict(Status::Critical, f.detail.clone());
    }
    let version = r
        .redis_version
        .as_deref()
        .map_or_else(|| "Redis".to_string(), |v| format!("Redis {v}"));
    let mut s = format!("{version}, PONG in {}", r.ping.unwrap_or_default());
    let mut status = Status::Ok;
    if r.writes_refused == Some(true) {
        status = Status::Critical;
        s.push_str(", refusing writes (MISCONF: the last save failed)");
    }
    if let (Some(used), Some(max)) = (r.used_memory_bytes, r.maxmemory_bytes)
        && t.near_cache_memory_limit(used, max)
    {
        status = status.max(Status::Warning);
        let _ = write!(s, ", memory {} of {}", human_bytes(used), human_bytes(max));
    }
    if let (Some(c), Some(max)) = (r.connected_clients, r.maxclients)
        && t.near_conn_limit(c, max)
    {
        status = status.max(Status::Warning);
        let _ = write!(s, ", {c}/{max} clients");
    }
    verdict(status, s)
}

fn proxy(p: &why5xx_probes::proxy::ProxyObservation) -> Assessment {
    let Some(kind) = p.kind else {
        let why = p
            .failure
            .as_ref()
            .map_or("no reverse proxy found".to_string(), |f| f.detail.clone());
        return verdict(Status::Ok, why);
    };
    if let Some(f) = &p.failure {
        return verdict(Status::Unknown, f.detail.clone());
    }
    let targets = p.forward_targets();
    let config = p
        .config
        .as_ref()
        .map_or(String::new(), |c| c.display().to_string());
    let mut s = match &p.master {
        Some(m) => format!("{kind} master pid {}, config {config}", m.pid),
        None => format!("{kind} not running; config {config}"),
    };
    let _ = write!(s, ": {} upstream target(s)", targets.len());
    let mut status = Status::Ok;
    if !p.changed_after_start.is_empty() {
        status = Status::Warning;
        let files: Vec<String> = p
            .changed_after_start
            .iter()
            .map(|f| f.display().to_string())
            .collect();
        let _ = write!(
            s,
            "; changed since it started, not reloaded: {}",
            files.join(", ")
        );
    }
    if !p.warnings.is_empty() {
        let _ = write!(s, "; {} config warning(s)", p.warnings.len());
    }
    verdict(status, s)
}

/// HAProxy's `show stat`: critical when a backend has no server taking
/// requests, a warning for a server down or a queue at its limit.
fn haproxy_stats(h: &why5xx_probes::haproxy_stats::HaproxyStatsObservation) -> Assessment {
    if let Some(f) = &h.failure {
        return verdict(Status::Unknown, f.detail.clone());
    }
    let mut status = Status::Ok;
    let mut parts = Vec::new();
    for b in &h.backends {
        let servers: Vec<_> = h.servers_of(&b.name).collect();
        let down: Vec<String> = servers
            .iter()
            .filter(|s| !s.state.serves())
            .map(|s| {
                format!(
                    "{}/{} {} ({})",
                    s.backend,
                    s.server,
                    s.status,
                    s.check_words()
                )
            })
            .collect();
        if !servers.is_empty() && down.len() == servers.len() {
            status = Status::Critical;
            parts.push(format!(
                "backend {}: no server up: {}",
                b.name,
                down.join(", ")
            ));
        } else if !down.is_empty() {
            status = status.max(Status::Warning);
            parts.push(down.join(", "));
        }
        for s in &servers {
            if s.queue_at_limit() {
                status = status.max(Status::Warning);
                parts.push(format!(
                    "{}/{} at its limit: {} queued, {} of {} sessions",
                    s.backend,
                    s.server,
                    s.qcur.unwrap_or(0),
                    s.scur.unwrap_or(0),
                    s.slim.map_or("no".to_string(), |l| l.to_string())
                ));
            }
        }
    }
    if parts.is_empty() {
        return verdict(
            Status::Ok,
            format!(
                "{} server(s) up in {} backend(s)",
                h.servers.len(),
                h.backends.len()
            ),
        );
    }
    verdict(status, parts.join("; "))
}

fn proxy_error_log(l: &why5xx_probes::logs::ProxyErrorLogObservation) -> Assessment {
    if let Some(f) = &l.failure {
        return verdict(Status::Unknown, f.detail.clone());
    }
    if l.kinds.is_empty() {
        return verdict(
            Status::Ok,
            format!(
                "no upstream errors in the last {} min ({} lines read)",
                l.window_secs / 60,
                l.lines_scanned
            ),
        );
    }
    let parts: Vec<String> = l
        .kinds
        .iter()
        .take(4)
        .map(|k| {
            let who = k
                .last
                .upstream
                .as_deref()
                .map(|u| format!(" ({u})"))
                .unwrap_or_default();
            format!("{} × {}{who}", k.count, error_kind_words(k.kind))
        })
        .collect();
    verdict(
        Status::Warning,
        format!("last {} min: {}", l.window_secs / 60, parts.join(", ")),
    )
}

fn access_log(l: &why5xx_probes::logs::AccessLogObservation) -> Assessment {
    if let Some(f) = &l.failure {
        return verdict(Status::Unknown, f.detail.clone());
    }
    let window = (l.until.0 - l.since.0).max(0) / 60;
    if l.errors_5xx == 0 {
        return verdict(
            Status::Ok,
            format!("last {window} min: {} request(s), no 5xx", l.requests),
        );
    }
    // What the log says is past by the time it is read: a warning, never
    // critical on its own (the live probes say what fails now).
    verdict(
        Status::Warning,
        format!(
            "last {window} min: {} of {} request(s) 5xx ({:.1}%)",
            l.errors_5xx,
            l.requests,
            l.error_ratio * 100.0
        ),
    )
}

fn app_log(l: &why5xx_probes::logs::AppLogObservation) -> Assessment {
    if let Some(f) = &l.failure {
        return verdict(Status::Unknown, f.detail.clone());
    }
    match &l.last_exception {
        Some(e) => verdict(
            Status::Warning,
            format!(
                "{} exception(s); last: {}: {}",
                l.exception_count,
                e.head.exception_type,
                truncate(&e.head.message, 120)
            ),
        ),
        None if !l.signatures.is_empty() => verdict(
            Status::Warning,
            format!(
                "{} × {}",
                l.signatures[0].count,
                truncate(&l.signatures[0].last_line, 120)
            ),
        ),
        None => verdict(
            Status::Ok,
            format!("no errors in {} lines", l.lines_in_window),
        ),
    }
}

fn environ(e: &why5xx_probes::environ::EnvironObservation) -> Assessment {
    if let Some(f) = &e.failure {
        return verdict(Status::Unknown, f.detail.clone());
    }
    let mut missing: Vec<String> = Vec::new();
    for p in &e.processes {
        for n in p.missing.iter().chain(p.empty.iter()) {
            if !missing.contains(n) {
                missing.push(n.clone());
            }
        }
    }
    if missing.is_empty() {
        verdict(
            Status::Ok,
            format!(
                "{} set in {} process(es)",
                e.required.join(", "),
                e.processes.len()
            ),
        )
    } else {
        verdict(
            Status::Critical,
            format!("missing or empty: {}", missing.join(", ")),
        )
    }
}

fn oom(o: &why5xx_probes::oom::OomObservation) -> Assessment {
    if let Some(f) = &o.failure {
        return verdict(Status::Unknown, f.detail.clone());
    }
    if o.events.is_empty() {
        return verdict(
            Status::Ok,
            format!("no OOM kill in the last {} min", o.window_secs / 60),
        );
    }
    let last = &o.events[o.events.len() - 1];
    let watched = o.matched.iter().any(|m| m.events > 0);
    if !o.matched.is_empty() && !watched {
        // Names were given and none of them was killed: context, not alarm.
        return verdict(
            Status::Ok,
            format!(
                "{} OOM kill(s) of other processes; last: pid {} ({})",
                o.events.len(),
                last.pid,
                last.process
            ),
        );
    }
    verdict(
        Status::Warning,
        format!(
            "{} OOM kill(s); last: pid {} ({})",
            o.events.len(),
            last.pid,
            last.process
        ),
    )
}

fn deploy(d: &why5xx_probes::changes::DeployObservation) -> Assessment {
    if let Some(f) = &d.failure {
        return verdict(Status::Unknown, f.detail.clone());
    }
    let age = d.age_secs.map_or("unknown".to_string(), human_secs);
    let what = d
        .target
        .as_ref()
        .map(|t| format!(" (now {})", t.display()))
        .unwrap_or_default();
    verdict(Status::Ok, format!("last changed {age} ago{what}"))
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(max).collect::<String>())
    }
}

fn http(h: &HttpObservation, role: &Role) -> Assessment {
    if let Some(f) = &h.failure {
        let mut s = f.detail.clone();
        if f.kind == FailureKind::Timeout {
            s = format!(
                "timed out waiting for {} ({})",
                phase_name(f.phase),
                f.detail
            );
        }
        return verdict(Status::Critical, s);
    }
    let Some(code) = h.status else {
        return verdict(Status::Unknown, "no response");
    };
    let server = h
        .headers
        .server
        .as_deref()
        .map(|s| format!(" ({s})"))
        .unwrap_or_default();
    let ttfb = h.phases.first_byte.unwrap_or(h.phases.total);
    let line = format!("{code} {} in {}{server}", reason(code), h.phases.total);
    let (expect, slow) = match role {
        Role::Endpoint {
            expect_status,
            slow,
            ..
        } => (expect_status.as_deref(), *slow),
        Role::Upstream { slow, .. } | Role::Dependency { slow, .. } => (None, *slow),
        _ => (None, None),
    };
    let healthy = match expect {
        Some(codes) => codes.contains(&code),
        None => code < 400,
    };
    if !healthy {
        let status = if code >= 500 {
            Status::Critical
        } else {
            Status::Warning
        };
        let wanted = expect
            .map(|c| format!(", expected {c:?}"))
            .unwrap_or_default();
        return verdict(status, format!("{line}{wanted}"));
    }
    if let Some(limit) = slow
        && ttfb.as_duration() > limit
    {
        return verdict(
            Status::Warning,
            format!(
                "{line}: slow, first byte after {ttfb} (limit {})",
                Millis::from(limit)
            ),
        );
    }
    verdict(Status::Ok, line)
}

fn tls_session(s: &why5xx_probes::tls::TlsSession, warn: std::time::Duration) -> Assessment {
    let Some(leaf) = s.leaf() else {
        return verdict(Status::Critical, "the server sent no certificate");
    };
    let days = leaf.days_left.0;
    let proto = s.protocol.clone().unwrap_or_else(|| "TLS".to_string());
    if days < 0 {
        return verdict(
            Status::Critical,
            format!("certificate expired {} day(s) ago", -days),
        );
    }
    if !s.verification.trusted {
        return verdict(
            Status::Critical,
            format!(
                "certificate not trusted: {}",
                s.verification
                    .detail
                    .as_deref()
                    .unwrap_or("verification failed")
            ),
        );
    }
    let warn_days = i64::try_from(warn.as_secs() / 86_400).unwrap_or(i64::MAX);
    if days < warn_days {
        return verdict(
            Status::Warning,
            format!("{proto}, certificate expires in {days} day(s)"),
        );
    }
    verdict(
        Status::Ok,
        format!("{proto}, certificate valid for {days} more days"),
    )
}

fn system(s: &SystemObservation, t: &Thresholds) -> Assessment {
    let mut status = Status::Ok;
    let mut parts = Vec::new();
    let cpus = f64::from(s.cpus.max(1));
    if let Some(l) = s.load {
        let per_core = l.one / cpus;
        if t.load_high(per_core) {
            status = status.max(Status::Warning);
        }
        parts.push(format!("load {per_core:.2}/core"));
    }
    if let Some(m) = s.memory
        && m.total_bytes > 0
    {
        let used = 1.0 - m.available_bytes as f64 / m.total_bytes as f64;
        if t.memory_low(used, s.pressure.and_then(|p| p.memory_full)) {
            status = status.max(Status::Warning);
        }
        parts.push(format!("memory {:.0}% used", used * 100.0));
        if m.swap_total_bytes > 0 {
            let swap = 1.0 - m.swap_free_bytes as f64 / m.swap_total_bytes as f64;
            parts.push(format!("swap {:.0}% used", swap * 100.0));
        }
    }
    if let Some(f) = s.file_handles
        && f.max > 0
    {
        if t.near_fd_limit(f.allocated, f.max) {
            status = status.max(Status::Warning);
        }
        parts.push(format!("file handles {}/{}", f.allocated, f.max));
    }
    if let Some(p) = s.pressure
        && let Some(m) = p.memory_full
        && t.memory_stalled(m)
    {
        status = status.max(Status::Warning);
        parts.push(format!("memory pressure {m:.0}%"));
    }
    // CPU pressure alone is no warning (a busy, healthy host has it; the
    // load decides), but it is worth a word beside the load.
    if let Some(p) = s.pressure
        && let Some(c) = p.cpu_some
        && t.cpu_stalled(c)
    {
        parts.push(format!("CPU pressure {c:.0}%"));
    }
    if parts.is_empty() {
        let why = s
            .errors
            .first()
            .map_or("nothing readable".to_string(), |f| f.detail.clone());
        return verdict(Status::Unknown, why);
    }
    verdict(status, parts.join(", "))
}

fn disk(d: &DiskObservation, t: &Thresholds) -> Assessment {
    if let Some(f) = &d.failure {
        return verdict(Status::Unknown, f.detail.clone());
    }
    let status = t
        .disk_level(d.used_ratio.max(d.inodes_used_ratio))
        .map_or(Status::Ok, Status::from);
    let mut s = format!(
        "{:.0}% used, {} free",
        d.used_ratio * 100.0,
        human_bytes(d.available_bytes)
    );
    if d.inodes_total > 0 {
        let _ = write!(s, ", inodes {:.0}% used", d.inodes_used_ratio * 100.0);
    }
    verdict(status, s)
}

fn process(p: &ProcessObservation, min: u32, target: &str, t: &Thresholds) -> Assessment {
    if let Some(f) = &p.failure {
        return verdict(Status::Unknown, f.detail.clone());
    }
    let alive: Vec<_> = p
        .processes
        .iter()
        .filter(|x| x.state != ProcState::Zombie)
        .collect();
    let zombies = p.processes.len() - alive.len();
    if (alive.len() as u64) < u64::from(min) {
        let mut s = if alive.is_empty() {
            format!("no process matches {target:?}")
        } else {
            format!(
                "{} process(es) match {target:?}, at least {min} expected",
                alive.len()
            )
        };
        if zombies > 0 {
            let _ = write!(s, " ({zombies} zombie)");
        }
        if let Some(pf) = &p.pidfile
            && let Some(pid) = pf.pid
            && !pf.alive
        {
            let _ = write!(s, "; pidfile names pid {pid}, which is not running");
        }
        return verdict(Status::Critical, s);
    }
    let pids: Vec<String> = alive.iter().take(5).map(|x| x.pid.to_string()).collect();
    let youngest = alive.iter().map(|x| x.uptime_secs).min().unwrap_or(0);
    let mut status = if zombies > 0 {
        Status::Warning
    } else {
        Status::Ok
    };
    let mut s = format!(
        "{} running (pid {}), up {}",
        alive.len(),
        pids.join(", "),
        human_secs(youngest)
    );
    for x in &alive {
        if let (Some(open), Some(limit)) = (x.open_fds, x.fd_soft_limit)
            && t.near_fd_limit(open, limit)
        {
            status = Status::Warning;
            let _ = write!(
                s,
                "; pid {} has {open} of {limit} file descriptors open",
                x.pid
            );
        }
    }
    if zombies > 0 {
        let _ = write!(s, "; {zombies} zombie");
    }
    verdict(status, s)
}

/// A phase's name for people.
pub fn phase_name(p: why5xx_probes::Phase) -> &'static str {
    use why5xx_probes::Phase as P;
    match p {
        P::Dns => "DNS",
        P::Connect => "the TCP connection",
        P::Tls => "the TLS handshake",
        P::Request => "the request to be sent",
        P::FirstByte => "the first byte of the response",
        P::Body => "the response body",
        P::Local => "a local read",
    }
}

/// The standard reason phrase of a status code.
pub fn reason(code: u16) -> &'static str {
    http_reason(code).unwrap_or("")
}

fn http_reason(code: u16) -> Option<&'static str> {
    Some(match code {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => return None,
    })
}

/// `1.2 GiB`-style sizes.
pub fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// `3h 12m`-style durations.
pub fn human_secs(s: u64) -> String {
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {}s", s / 60, s % 60),
        3600..86_400 => format!("{}h {}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d {}h", s / 86_400, (s % 86_400) / 3600),
    }
}

/// A proxy error-log kind in a few words, for summaries and evidence.
pub fn error_kind_words(kind: why5xx_probes::logs::proxy_error::ProxyErrorKind) -> &'static str {
    use why5xx_probes::logs::proxy_error::ProxyErrorKind as K;
    match kind {
        K::ConnectRefused => "connect() refused",
        K::UnixSocketMissing => "unix socket missing",
        K::ConnectPermissionDenied => "connect() permission denied",
        K::ConnectOther => "connect() failed",
        K::PrematurelyClosed => "upstream prematurely closed connection",
        K::UpstreamTimedOut => "upstream timed out",
        K::NoLiveUpstreams => "no live upstreams",
        K::CouldNotResolve => "could not be resolved",
        K::ResolverFailed => "resolver unreachable",
        K::SslHandshakeFailed => "SSL handshake failed",
        K::SslPeerClosedHandshake => "peer closed SSL handshake",
        K::InvalidHeader => "upstream sent invalid header",
        K::TooBigHeader => "upstream sent too big header",
        K::LimitingRequests => "limiting requests",
        K::LimitingConnections => "limiting connections",
        K::TooManyOpenFiles => "too many open files",
        K::NoSpace => "no space left on device",
        K::WorkerConnections => "worker_connections are not enough",
        K::ServerDown => "server DOWN by its health check",
        K::QueueTimeout => "queue timeout (sQ)",
        K::WorkerDisabled => "backend worker disabled (in retry)",
        K::AllWorkersBusy => "all backend workers busy",
        K::FastcgiDispatch => "FastCGI dispatch failed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use why5xx_probes::system::{Memory, Pressure};

    fn host_with(used: f64, memory_full: f64) -> SystemObservation {
        SystemObservation {
            cpus: 1,
            memory: Some(Memory {
                total_bytes: 1000,
                available_bytes: ((1.0 - used) * 1000.0) as u64,
                ..Memory::default()
            }),
            pressure: Some(Pressure {
                memory_full: Some(memory_full),
                ..Pressure::default()
            }),
            ..SystemObservation::default()
        }
    }

    #[test]
    fn memory_is_judged_by_the_shared_thresholds() {
        let t = Thresholds::default();
        assert_eq!(system(&host_with(0.5, 0.0), &t).status, Status::Ok);
        assert_eq!(system(&host_with(0.95, 0.0), &t).status, Status::Warning);
        let stalled = system(&host_with(0.5, 30.0), &t);
        assert_eq!(stalled.status, Status::Warning);
        assert!(
            stalled.summary.contains("memory pressure 30%"),
            "{stalled:?}"
        );
        let lenient = Thresholds {
            memory_warn: 0.99,
            ..t
        };
        assert_eq!(system(&host_with(0.95, 0.0), &lenient).status, Status::Ok);
    }

    #[test]
    fn disk_status_follows_the_disk_levels() {
        let t = Thresholds::default();
        let at = |used_ratio| DiskObservation {
            used_ratio,
            ..DiskObservation::default()
        };
        assert_eq!(disk(&at(0.5), &t).status, Status::Ok);
        assert_eq!(disk(&at(0.92), &t).status, Status::Warning);
        assert_eq!(disk(&at(0.99), &t).status, Status::Critical);
    }

    #[test]
    fn sizes_and_durations_read_well() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(3 * 1024 * 1024 * 1024), "3.0 GiB");
        assert_eq!(human_secs(59), "59s");
        assert_eq!(human_secs(3 * 3600 + 120), "3h 2m");
    }
}

//! Pieces the rules share to read the facts and word evidence: the last
//! exception of an app log, log signatures, the dependencies as the rules
//! see them, clock times. It decides no cause.

use std::fmt::Write as _;

use super::prelude::*;

/// What one more agreeing sign adds to a finding's confidence. A rule
/// starts from what its strongest single sign is worth on its own (written
/// beside the rule) and adds one of these for each independent sign that
/// agrees; it never subtracts: yielding to another cause is the
/// precedence table's job.
pub(crate) mod w {
    /// A sign that adds context (a page's wording, a header, a timestamp
    /// that lines up).
    pub const HINTS: f64 = 0.05;
    /// An independent probe that saw the same thing.
    pub const AGREES: f64 = 0.1;
    /// A sign that on its own would nearly name the cause (the proxy's own
    /// log line for exactly this failure, the log signature of it).
    pub const CONFIRMS: f64 = 0.15;
}

/// Evidence line for the last exception of an app log.
pub(crate) fn exception_detail(l: &why5xx_probes::logs::AppLogObservation) -> Option<String> {
    let e = l.last_exception.as_ref()?;
    let at = e
        .location
        .as_deref()
        .map(|x| format!(" at {x}"))
        .unwrap_or_default();
    let when = e
        .time
        .map(|t| format!(" ({})", clock_time(t.0)))
        .unwrap_or_default();
    Some(format!(
        "{} exception(s) in the window; last{when}: {}: {}{at}",
        l.exception_count, e.head.exception_type, e.head.message
    ))
}

/// `HH:MM:SS` UTC of a Unix time, for evidence lines.
pub(crate) fn clock_time(t: i64) -> String {
    let s = humantime::format_rfc3339_seconds(
        std::time::UNIX_EPOCH + Duration::from_secs(u64::try_from(t).unwrap_or(0)),
    )
    .to_string();
    s.get(11..19).map_or(s.clone(), |x| format!("{x} UTC"))
}

/// The signature `kind` in any upstream's app log, with its probe id.
pub(crate) fn signature<'a>(
    f: &'a Facts,
    kind: Sig,
) -> Option<(String, &'a why5xx_probes::logs::app::SignatureStats)> {
    f.upstreams().into_iter().find_map(|u| {
        let (id, l) = u.log?;
        l.signature(kind).map(|s| (id.to_string(), s))
    })
}

pub(crate) fn signature_evidence(
    finding: Finding,
    sig: Option<(String, &why5xx_probes::logs::app::SignatureStats)>,
) -> Finding {
    match sig {
        Some((id, s)) => {
            let when = s
                .last_time
                .map(|t| format!(" (last {})", clock_time(t.0)))
                .unwrap_or_default();
            finding.evidence(id, format!("{} line(s){when}: {}", s.count, s.last_line))
        }
        None => finding,
    }
}

/// Whether the users see `code` now, through the proxy or directly.
pub(crate) fn saw(f: &Facts, code: u16) -> bool {
    f.symptoms.saw(code)
}

/// A dependency as the rules see it.
pub(crate) struct Dep<'a> {
    /// Database, cache, API or queue: from the config's `kind`, else its
    /// URL's scheme or well-known port; never its name.
    pub kind: DepKind,
    pub id: &'a str,
    pub target: &'a str,
    /// Down: refused, unreachable, DNS, auth, unavailable, timed out.
    pub down: Option<String>,
    /// Answered but slower than its `slow` (or timed out): the time.
    pub slow: Option<Millis>,
    /// An HTTP API answering 5xx.
    pub erroring: Option<u16>,
    pub obs: &'a Observation,
}

impl Dep<'_> {
    pub fn is_database(&self) -> bool {
        self.kind == DepKind::Database
    }

    /// What findings about this dependency are about.
    pub fn subject(&self) -> Subject {
        Subject::Dependency(self.id.to_string())
    }
}

pub(crate) fn dependencies<'a>(f: &'a Facts) -> Vec<Dep<'a>> {
    let mut out = Vec::new();
    for (run, obs) in f.observed() {
        let Role::Dependency {
            slow,
            kind,
            credentials,
            ..
        } = &run.planned.role
        else {
            continue;
        };
        let (slow, kind, credentials) = (*slow, *kind, *credentials);
        let (down, took, erroring) = match obs {
            Observation::Tcp(t) => (
                t.failure.as_ref().map(|x| x.detail.clone()),
                t.connect,
                None,
            ),
            Observation::Postgres(p) => {
                let down = p
                    .failure
                    .as_ref()
                    .filter(|x| {
                        !(!credentials
                            && x.kind == FailureKind::AuthenticationFailed
                            && p.server_answered)
                    })
                    .map(|x| x.detail.clone());
                (down, p.select_one.or(p.login).or(p.connect), None)
            }
            Observation::Redis(r) => (
                r.failure.as_ref().map(|x| x.detail.clone()),
                r.ping.or(r.connect),
                None,
            ),
            Observation::Http(h) => {
                let down = h
                    .failure
                    .as_ref()
                    .filter(|x| x.kind != FailureKind::Timeout || x.phase == Phase::Connect)
                    .map(|x| x.detail.clone());
                let took = match &h.failure {
                    Some(x) if x.kind == FailureKind::Timeout && x.phase != Phase::Connect => {
                        Some(h.phases.total)
                    }
                    _ => h.phases.first_byte,
                };
                (down, took, h.status.filter(|s| *s >= 500))
            }
            _ => continue,
        };
        let timed_out = match obs {
            Observation::Http(h) => h
                .failure
                .as_ref()
                .is_some_and(|x| x.kind == FailureKind::Timeout && x.phase != Phase::Connect),
            _ => false,
        };
        let slow = if timed_out {
            took
        } else {
            took.filter(|t| slow.is_some_and(|s| t.as_duration() > s))
        };
        out.push(Dep {
            id: run.planned.id.as_str(),
            target: run.planned.target.as_str(),
            kind,
            down: if timed_out { None } else { down },
            slow,
            erroring,
            obs,
        });
    }
    out
}

pub(crate) fn probe_command(d: &Dep) -> String {
    match d.obs {
        Observation::Postgres(_) => format!("pg_isready -d '{}'", d.target),
        Observation::Redis(_) => format!("redis-cli -u '{}' ping", d.target),
        Observation::Http(_) => format!(
            "curl -sS -o /dev/null -w '%{{http_code}} %{{time_total}}s\\n' '{}'",
            d.target
        ),
        _ => format!(
            "nc -vz {}",
            d.target.trim_start_matches("tcp://").replace(':', " ")
        ),
    }
}

/// HAProxy's view of a server its health check took down, for evidence:
/// `app/app1 DOWN by its health check for 12 s: L4CON Connection refused;
/// backend app has no server up (HAProxy answers 503)`.
pub(crate) fn haproxy_down_words(
    stats: &why5xx_probes::haproxy_stats::HaproxyStatsObservation,
    s: &why5xx_probes::haproxy_stats::ServerStat,
) -> String {
    let since = s
        .lastchg_secs
        .map(|n| format!(" for {n} s"))
        .unwrap_or_default();
    let mut out = format!(
        "{}/{} {} by its health check{since}: {}",
        s.backend,
        s.server,
        s.status,
        s.check_words()
    );
    let servers: Vec<_> = stats.servers_of(&s.backend).collect();
    let up = servers.iter().filter(|x| x.state.serves()).count();
    if up == 0 {
        let _ = write!(
            out,
            "; backend {} has no server up (HAProxy answers 503 No server available)",
            s.backend
        );
    } else {
        let _ = write!(
            out,
            "; backend {}: {up} of {} servers up",
            s.backend,
            servers.len()
        );
    }
    out
}

/// Requests HAProxy's log shows reaching no server of `backend`
/// (`backend/<NOSRV>` with `SC`, or `backend … has no server available!`).
pub(crate) fn haproxy_no_server(f: &Facts, backend: &str) -> u64 {
    f.proxy_log()
        .and_then(|(_, l)| l.kind(Pe::NoLiveUpstreams))
        .and_then(|k| k.by_upstream.get(&format!("backend {backend}")))
        .copied()
        .unwrap_or(0)
}

/// How to see what HAProxy thinks of its servers, in its own words: the
/// runtime API over the stats socket.
pub(crate) fn haproxy_state_advice(f: &Facts, backend: &str) -> String {
    let socket = f
        .proxy_model
        .as_ref()
        .and_then(|m| m.stats_socket.as_ref())
        .map_or_else(
            || "/run/haproxy/admin.sock".to_string(),
            |p| p.display().to_string(),
        );
    format!(
        "See what HAProxy's checks see: echo \"show servers state {backend}\" | socat stdio UNIX-CONNECT:{socket} (and echo \"show stat\" | socat stdio UNIX-CONNECT:{socket} for check_status, last_chk, lastchg); after fixing the server, HAProxy puts it back UP by itself once its check passes (rise)"
    )
}

//! The troubleshooting guide as rules, in guide order: 500, 502, 503, 504,
//! then the general checklist. Each rule reads what the probes observed
//! (typed observations, never their strings), combines the evidence that
//! tells one cause from its neighbours, and names the cause with the
//! evidence and what to do next. A reviewer who knows the guide should be
//! able to read this file top to bottom and tick the causes off.
//!
//! Confidence is built from agreeing evidence: each rule starts from what
//! its strongest single sign is worth and adds for each independent sign
//! that agrees. A rule whose cause only explains a failure that is not
//! happening now reports at `info`, never above: a healthy box is quiet.

pub mod facts;
#[cfg(test)]
pub mod fixtures;

use std::collections::HashSet;
use std::time::Duration;

use why5xx_probes::logs::app::SignatureKind as Sig;
use why5xx_probes::logs::proxy_error::ProxyErrorKind as Pe;
use why5xx_probes::proxy::Address;
use why5xx_probes::tls::{CertProblem, TlsSession};
use why5xx_probes::{FailureKind, Millis, Observation, Phase};

use crate::assess::error_kind_words;
use crate::assess::human_bytes;
use crate::engine::plan::Role;
use crate::model::causes::Cause;
use crate::model::findings::{Finding, Severity, Status, rank};
pub use crate::rules::facts::Facts;
use crate::rules::facts::Upstream;

/// One rule: the cause it names and how it looks for it.
pub struct Rule {
    pub cause: Cause,
    pub check: fn(&Facts) -> Vec<Finding>,
}

/// Every rule, in guide order.
pub const RULES: &[Rule] = &[
    // ---- 500 Internal Server Error ----
    Rule {
        cause: Cause::UnhandledException,
        check: unhandled_exception,
    },
    Rule {
        cause: Cause::DatabaseError,
        check: database_error,
    },
    Rule {
        cause: Cause::ConfigurationError,
        check: configuration_error,
    },
    Rule {
        cause: Cause::DependencyFailure,
        check: dependency_failure,
    },
    Rule {
        cause: Cause::FilesystemError,
        check: filesystem_error,
    },
    Rule {
        cause: Cause::MemoryExhaustion,
        check: memory_exhaustion,
    },
    // ---- 502 Bad Gateway ----
    Rule {
        cause: Cause::UpstreamCrashed,
        check: upstream_crashed,
    },
    Rule {
        cause: Cause::UpstreamNotRunning,
        check: upstream_not_running,
    },
    Rule {
        cause: Cause::ProxyMisconfiguration,
        check: proxy_misconfiguration,
    },
    Rule {
        cause: Cause::TlsProtocolMismatch,
        check: tls_protocol_mismatch,
    },
    Rule {
        cause: Cause::DnsResolutionFailure,
        check: dns_resolution_failure,
    },
    // ---- 503 Service Unavailable ----
    Rule {
        cause: Cause::ServerOverload,
        check: server_overload,
    },
    Rule {
        cause: Cause::Maintenance,
        check: maintenance,
    },
    Rule {
        cause: Cause::ResourceExhaustion,
        check: resource_exhaustion,
    },
    Rule {
        cause: Cause::DependencyUnavailable,
        check: dependency_unavailable,
    },
    Rule {
        cause: Cause::DeploymentInProgress,
        check: deployment_in_progress,
    },
    // ---- 504 Gateway Timeout ----
    Rule {
        cause: Cause::SlowBackend,
        check: slow_backend,
    },
    Rule {
        cause: Cause::DatabaseQueryTimeout,
        check: database_query_timeout,
    },
    Rule {
        cause: Cause::ExternalApiLatency,
        check: external_api_latency,
    },
    Rule {
        cause: Cause::ProxyTimeoutTooShort,
        check: proxy_timeout_too_short,
    },
    Rule {
        cause: Cause::NetworkLatency,
        check: network_latency,
    },
    // ---- General troubleshooting checklist ----
    Rule {
        cause: Cause::TlsCertificateExpired,
        check: tls_certificates,
    },
    Rule {
        cause: Cause::RecentChange,
        check: recent_change,
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

/// Run every rule, attach the public symptom, link related findings, add
/// what no rule explained, and rank: most likely first.
pub fn diagnose(facts: &Facts) -> Vec<Finding> {
    let mut findings: Vec<Finding> = RULES.iter().flat_map(|r| (r.check)(facts)).collect();
    for f in &mut findings {
        attach_symptoms(f, facts);
    }
    link_related(&mut findings);
    for x in &mut findings {
        x.confidence = (x.confidence.clamp(0.0, 1.0) * 100.0).round() / 100.0;
    }
    findings.extend(unclassified(facts, &findings));
    rank(&mut findings);
    findings
}

// ===========================================================================
// Shared pieces.

/// The status codes the user-facing side shows now: the public endpoints
/// and the upstreams' direct answers.
fn observed_codes(f: &Facts) -> Vec<u16> {
    let mut codes = f.public_statuses();
    for u in f.upstreams() {
        if let Some(s) = u.http.and_then(|h| h.status) {
            codes.push(s);
        }
    }
    codes
}

/// Severity for a cause that explains errors: critical when the errors are
/// happening now, info when the signs are only historical.
fn now_or_info(failing: bool) -> Severity {
    if failing {
        Severity::Critical
    } else {
        Severity::Info
    }
}

/// Cite each public endpoint that shows one of the finding's status codes
/// (or, for 504, a timeout).
fn attach_symptoms(finding: &mut Finding, f: &Facts) {
    // A checklist cause (no status code of its own) that explains a failure
    // now explains whatever 5xx the users see.
    let codes: Vec<u16> = if finding.status_codes.is_empty() {
        if finding.severity < Severity::Critical || !matches!(finding.cause, Cause::RecentChange) {
            return;
        }
        (500..=599).collect()
    } else {
        finding.status_codes.clone()
    };
    // The public endpoints first, then the upstreams answering directly.
    let answering =
        f.endpoints().chain(
            f.observed()
                .filter_map(|(r, o)| match (o, &r.planned.role) {
                    (Observation::Http(h), Role::Upstream { .. }) if h.status.is_some() => {
                        Some((r, h))
                    }
                    _ => None,
                }),
        );
    for (run, h) in answering {
        if finding.evidence.iter().any(|e| e.probe == run.planned.id) {
            continue;
        }
        let matches = match (h.status, &h.failure) {
            (Some(code), _) => codes.contains(&code),
            (None, Some(x)) => x.kind == FailureKind::Timeout && codes.contains(&504),
            (None, None) => false,
        };
        if matches {
            let what = match h.status {
                Some(code) => format!(
                    "answers {code} {}{}",
                    crate::assess::reason(code),
                    h.headers
                        .server
                        .as_deref()
                        .map(|s| format!(" (from {s})"))
                        .unwrap_or_default()
                ),
                None => "times out".to_string(),
            };
            let at = finding
                .evidence
                .iter()
                .take_while(|e| e.probe.starts_with("endpoint:"))
                .count();
            let at = if matches!(run.planned.role, Role::Endpoint { .. }) {
                0
            } else {
                at
            };
            finding.evidence.insert(
                at,
                crate::model::findings::Evidence::new(&run.planned.id, what),
            );
        }
    }
}

/// Link findings that explain each other: a deploy or config change next to
/// a crash, a full disk next to the write errors it causes.
fn link_related(findings: &mut [Finding]) {
    let present: HashSet<Cause> = findings.iter().map(|f| f.cause).collect();
    let pairs: &[(Cause, &[Cause])] = &[
        (
            Cause::DeploymentInProgress,
            &[
                Cause::UpstreamNotRunning,
                Cause::UpstreamCrashed,
                Cause::RecentChange,
            ],
        ),
        (
            Cause::RecentChange,
            &[
                Cause::UpstreamNotRunning,
                Cause::UpstreamCrashed,
                Cause::UnhandledException,
                Cause::ProxyMisconfiguration,
                Cause::ConfigurationError,
                Cause::DeploymentInProgress,
            ],
        ),
        (
            Cause::UpstreamNotRunning,
            &[
                Cause::UpstreamCrashed,
                Cause::MemoryExhaustion,
                Cause::DeploymentInProgress,
                Cause::RecentChange,
            ],
        ),
        (
            Cause::UpstreamCrashed,
            &[
                Cause::UpstreamNotRunning,
                Cause::MemoryExhaustion,
                Cause::DeploymentInProgress,
                Cause::RecentChange,
            ],
        ),
        (Cause::FilesystemError, &[Cause::DiskFull]),
        (Cause::DiskFull, &[Cause::FilesystemError]),
        (
            Cause::DatabaseError,
            &[Cause::DependencyUnavailable, Cause::DatabaseQueryTimeout],
        ),
        (Cause::DependencyUnavailable, &[Cause::DatabaseError]),
        (
            Cause::ResourceExhaustion,
            &[Cause::MemoryExhaustion, Cause::ServerOverload],
        ),
        (
            Cause::MemoryExhaustion,
            &[Cause::ResourceExhaustion, Cause::UpstreamNotRunning],
        ),
    ];
    for f in findings.iter_mut() {
        for (cause, others) in pairs {
            if f.cause == *cause {
                for o in *others {
                    if present.contains(o) && !f.related.contains(o) {
                        f.related.push(*o);
                    }
                }
            }
        }
    }
}

/// Evidence line for the last exception of an app log.
fn exception_detail(l: &why5xx_probes::logs::AppLogObservation) -> Option<String> {
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
fn clock_time(t: i64) -> String {
    let s = humantime::format_rfc3339_seconds(
        std::time::UNIX_EPOCH + Duration::from_secs(u64::try_from(t).unwrap_or(0)),
    )
    .to_string();
    s.get(11..19).map_or(s.clone(), |x| format!("{x} UTC"))
}

/// The signature `kind` in any upstream's app log, with its probe id.
fn signature<'a>(
    f: &'a Facts,
    kind: Sig,
) -> Option<(String, &'a why5xx_probes::logs::app::SignatureStats)> {
    f.upstreams().into_iter().find_map(|u| {
        let (id, l) = u.log?;
        l.signature(kind).map(|s| (id.to_string(), s))
    })
}

fn signature_evidence(
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
fn saw(f: &Facts, code: u16) -> bool {
    observed_codes(f).contains(&code)
}

/// A dependency as the rules see it.
struct Dep<'a> {
    /// Stores data (from the plan: scheme, well-known port or name).
    database: bool,
    id: &'a str,
    target: &'a str,
    /// `postgres`, `redis`, `mysql` (tcp to 3306), `http`, `tcp`.
    kind: &'static str,
    /// Down: refused, unreachable, DNS, auth, unavailable, timed out.
    down: Option<String>,
    /// Answered but slower than its `slow` (or timed out): the time.
    slow: Option<Millis>,
    /// An HTTP API answering 5xx.
    erroring: Option<u16>,
    obs: &'a Observation,
}

impl Dep<'_> {
    fn is_database(&self) -> bool {
        self.database
    }
}

fn dependencies<'a>(f: &'a Facts) -> Vec<Dep<'a>> {
    let mut out = Vec::new();
    for (run, obs) in f.observed() {
        let Role::Dependency {
            slow,
            database,
            credentials,
            ..
        } = &run.planned.role
        else {
            continue;
        };
        let (slow, database, credentials) = (*slow, *database, *credentials);
        let (kind, down, took, erroring) = match obs {
            Observation::Tcp(t) => (
                if database { "database" } else { "tcp" },
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
                (
                    "postgres",
                    down,
                    p.select_one.or(p.login).or(p.connect),
                    None,
                )
            }
            Observation::Redis(r) => (
                "redis",
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
                ("http", down, took, h.status.filter(|s| *s >= 500))
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
            database,
            down: if timed_out { None } else { down },
            slow,
            erroring,
            obs,
        });
    }
    out
}

// ===========================================================================
// 500 Internal Server Error

/// An error no handler caught: the last stack trace of the application's
/// log, while the application answers 500. More specific causes (database,
/// environment, filesystem, memory, dependency) take precedence: their rules
/// score higher on the same trace.
fn unhandled_exception(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    let failing = saw(f, 500);
    for u in f.upstreams() {
        let Some((id, l)) = u.log else { continue };
        let Some(detail) = exception_detail(l) else {
            continue;
        };
        let mut finding = Finding::new(
            Cause::UnhandledException,
            now_or_info(failing),
            if failing { 0.75 } else { 0.35 },
            format!("The application {:?} throws an unhandled exception", u.name),
        )
        .evidence(id, detail);
        if let Some(e) = &l.last_exception {
            let trace: Vec<&String> = e.trace.iter().take(4).collect();
            if !trace.is_empty() {
                finding = finding.evidence(
                    id,
                    trace
                        .iter()
                        .map(|s| s.trim())
                        .collect::<Vec<_>>()
                        .join(" | "),
                );
            }
            finding = finding.remedy(format!(
                "Read the whole trace: grep -n -A30 '{}' {} | tail -60; fix the code at {}",
                e.head
                    .exception_type
                    .rsplit('.')
                    .next()
                    .unwrap_or(&e.head.exception_type),
                l.path.display(),
                e.location
                    .as_deref()
                    .unwrap_or("the innermost application frame")
            ));
        }
        if u.answers() || u.http.and_then(|h| h.status) == Some(500) {
            finding.confidence += 0.1;
        }
        // The trace is the mechanism, not the cause, when the log also names
        // something specific (a database, the environment, the disk, memory)
        // or a dependency the application calls is failing.
        let specific = l.signatures.iter().any(|s| s.count > 0);
        let dependency_failing = dependencies(f)
            .iter()
            .any(|d| d.down.is_some() || d.erroring.is_some() || d.slow.is_some());
        if specific || dependency_failing {
            finding.confidence -= 0.3;
        }
        out.push(finding.remedy(
            "Reproduce with the failing request, and add a handler that logs the error with the request id and returns a clean error (guide: \"Debugging a 500\")",
        ));
    }
    out
}

/// Database errors behind a 500: the log names the database (refused,
/// pool exhausted, deadlock, schema mismatch), or a database dependency is
/// down while the application answers 500.
fn database_error(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    let failing = saw(f, 500);
    let deps = dependencies(f);
    let db_down: Vec<&Dep> = deps
        .iter()
        .filter(|d| d.is_database() && d.down.is_some())
        .collect();
    let signs = [
        (
            Sig::DatabaseConnectionRefused,
            "the database refuses connections",
        ),
        (Sig::PoolExhausted, "the connection pool is exhausted"),
        (Sig::Deadlock, "queries deadlock"),
        (
            Sig::SchemaMismatch,
            "the schema does not match the code (a missing table or column)",
        ),
    ];
    for (sig, words) in signs {
        let Some(found) = signature(f, sig) else {
            continue;
        };
        let mut finding = Finding::new(
            Cause::DatabaseError,
            now_or_info(failing),
            if failing { 0.8 } else { 0.4 },
            format!("Requests fail with a database error: {words}"),
        );
        finding = signature_evidence(finding, Some(found));
        for d in &db_down {
            finding.confidence += 0.1;
            finding = finding.evidence(
                d.id,
                format!(
                    "{} is down: {}",
                    d.target,
                    d.down.clone().unwrap_or_default()
                ),
            );
        }
        finding = match sig {
            Sig::SchemaMismatch => finding.remedy("Run (or finish) the pending migration for the deployed code, or roll the code back to match the schema; compare the deployed release with the last migration"),
            Sig::PoolExhausted => finding.remedy("Look for leaked or long-held connections (pg_stat_activity: state 'idle in transaction'); raise the pool size only within the database's max_connections"),
            Sig::Deadlock => finding.remedy("Find the two transactions in the database log (deadlock detected: DETAIL) and make them take locks in the same order"),
            _ => finding.remedy("Check the database is up and reachable from the application host: pg_isready -h HOST -p PORT (or the equivalent), then its log"),
        };
        out.push(finding.remedy("Check recent deployments and migrations: the guide's 500 checklist puts database connectivity right after the logs"));
        return out;
    }
    // No log signature: a database dependency down while the app answers 500.
    if failing && !saw(f, 503) {
        for d in db_down {
            out.push(
                Finding::new(Cause::DatabaseError, Severity::Critical, 0.65, format!("The database {} is down and the application answers 500", d.target))
                    .evidence(d.id, d.down.clone().unwrap_or_default())
                    .remedy(format!("Bring the database back: check its service and log on its host; test from here: {}", probe_command(d)))
                    .remedy("Make the application answer 503 with Retry-After while its database is down (graceful degradation), not 500"),
            );
        }
    }
    out
}

fn probe_command(d: &Dep) -> String {
    match d.kind {
        "postgres" => format!("pg_isready -d '{}'", d.target),
        "redis" => format!("redis-cli -u '{}' ping", d.target),
        "http" => format!(
            "curl -sS -o /dev/null -w '%{{http_code}} %{{time_total}}s\\n' '{}'",
            d.target
        ),
        _ => format!(
            "nc -vz {}",
            d.target.trim_start_matches("tcp://").replace(':', " ")
        ),
    }
}

/// Missing environment variables (read from the running process), a
/// `KeyError`-style log line naming one, or credentials the database rejects.
fn configuration_error(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    let failing = saw(f, 500) || f.something_failing();
    for u in f.upstreams() {
        let Some((id, e)) = u.environ else { continue };
        let mut missing: Vec<String> = Vec::new();
        let mut pids: Vec<String> = Vec::new();
        for p in &e.processes {
            let names: Vec<&String> = p.missing.iter().chain(p.empty.iter()).collect();
            if !names.is_empty() {
                pids.push(format!("pid {} ({})", p.pid, p.name));
            }
            for n in names {
                if !missing.contains(n) {
                    missing.push(n.clone());
                }
            }
        }
        if missing.is_empty() {
            continue;
        }
        let mut finding = Finding::new(
            Cause::ConfigurationError,
            if failing {
                Severity::Critical
            } else {
                Severity::Warning
            },
            0.8,
            format!(
                "The application {:?} runs without required environment variable(s) {}",
                u.name,
                missing.join(", ")
            ),
        )
        .evidence(
            id,
            format!(
                "{} missing or empty in {}",
                missing.join(", "),
                pids.join(", ")
            ),
        );
        if let Some((lid, s)) = signature(f, Sig::MissingEnv) {
            finding.confidence += 0.15;
            finding = finding.evidence(lid, format!("{} line(s): {}", s.count, s.last_line));
        }
        out.push(
            finding
                .remedy(format!("Set {} where the service is defined (systemctl edit {} → Environment=, or its env file / container spec), then restart it", missing.join(", "), u.unit))
                .remedy("/proc/PID/environ shows the environment at exec time: a variable exported after start needs a restart to be seen"),
        );
    }
    if out.is_empty()
        && let Some((id, s)) = signature(f, Sig::MissingEnv)
    {
        out.push(
            Finding::new(
                Cause::ConfigurationError,
                now_or_info(failing),
                if failing { 0.75 } else { 0.35 },
                format!("The application fails on a missing environment variable{}", s.target.as_deref().map(|t| format!(" {t}")).unwrap_or_default()),
            )
            .evidence(id, format!("{} line(s): {}", s.count, s.last_line))
            .remedy("Set the variable in the service's environment and restart it; list `env_required` in the why5xx config to have it checked in the running process"),
        );
    }
    // Credentials the database rejects while the application fails.
    if failing {
        for d in dependencies(f) {
            if let Observation::Postgres(p) = d.obs
                && p.failure
                    .as_ref()
                    .is_some_and(|x| x.kind == FailureKind::AuthenticationFailed)
                && d.down.is_some()
            {
                out.push(
                    Finding::new(Cause::ConfigurationError, Severity::Critical, 0.6, format!("The database rejects the configured credentials for {}", d.target))
                        .evidence(d.id, d.down.clone().unwrap_or_default())
                        .remedy("Check the user and password the application uses against the database (a rotated password, a changed pg_hba.conf)"),
                );
            }
        }
    }
    out
}

/// A third-party API or internal service fails and the application does
/// not handle it: the dependency errors or refuses while the app answers 500.
fn dependency_failure(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    let failing = saw(f, 500);
    if !failing || saw(f, 503) {
        return out;
    }
    for d in dependencies(f) {
        if d.is_database() {
            continue;
        }
        let what = match (&d.down, d.erroring) {
            (Some(why), _) => format!("{} is unreachable: {why}", d.target),
            (None, Some(code)) => format!("{} answers {code}", d.target),
            _ => continue,
        };
        let mut finding = Finding::new(Cause::DependencyFailure, Severity::Critical, 0.7, format!("A service the application calls fails, and the application turns that into 500: {}", d.target))
            .evidence(d.id, what);
        if let Some(found) = signature(f, Sig::ConnectionRefusedOther) {
            finding.confidence += 0.1;
            finding = signature_evidence(finding, Some(found));
        } else if let Some(u) = f
            .upstreams()
            .into_iter()
            .find(|u| u.log.is_some_and(|(_, l)| l.last_exception.is_some()))
            && let Some((id, l)) = u.log
            && let Some(detail) = exception_detail(l)
        {
            finding.confidence += 0.1;
            finding = finding.evidence(id, detail);
        }
        out.push(
            finding
                .remedy(format!("Check the service itself: {}", probe_command(&d)))
                .remedy("Handle its failure in the application: a timeout, a retry with backoff, and a degraded answer instead of an unhandled 500"),
        );
    }
    out
}

/// Permission errors, a full disk or a missing template behind a 500.
fn filesystem_error(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    let failing = saw(f, 500) || saw(f, 503);
    let signs = [
        (Sig::NoSpace, "writes fail: no space left on device"),
        (
            Sig::PermissionDenied,
            "a file or directory is not readable or writable by the application",
        ),
        (Sig::TemplateNotFound, "a template file is missing"),
    ];
    for (sig, words) in signs {
        let Some(found) = signature(f, sig) else {
            continue;
        };
        let target = found.1.target.clone();
        let mut finding = Finding::new(
            Cause::FilesystemError,
            now_or_info(failing),
            if failing { 0.8 } else { 0.4 },
            format!("Requests fail on the filesystem: {words}"),
        );
        finding = signature_evidence(finding, Some(found));
        if sig == Sig::NoSpace {
            for (id, d) in f.disks() {
                if d.used_ratio >= f.cfg.host.disk_warn
                    || d.inodes_used_ratio >= f.cfg.host.disk_warn
                {
                    finding.confidence += 0.1;
                    finding = finding.evidence(
                        id,
                        format!(
                            "{:.1}% full, {} free",
                            d.used_ratio.max(d.inodes_used_ratio) * 100.0,
                            human_bytes(d.available_bytes)
                        ),
                    );
                }
            }
            finding = finding.remedy("Free space on the filesystem the application writes to (see the disk-full finding), then retry the failing request");
        } else if sig == Sig::PermissionDenied {
            finding = finding.remedy(format!(
                "Check ownership and mode along the path{}: namei -l PATH; the service runs as its unit's User=",
                target.map(|t| format!(" ({t})")).unwrap_or_default()
            ));
        } else {
            finding = finding.remedy("Check the deployed release contains the template (a missing file in the build or a wrong working directory)");
        }
        out.push(finding);
    }
    if !failing {
        return out;
    }
    // Nginx itself failing to write (temp files, logs).
    let n = f.proxy_errors(Pe::NoSpace, None);
    if n > 0 && out.is_empty() {
        out.push(
            Finding::new(Cause::FilesystemError, Severity::Critical, 0.7, "The proxy cannot write its temporary or log files: no space left on device")
                .evidence("log:proxy", format!("{n} × no space left on device"))
                .remedy("Free space on the filesystem holding the proxy's temp paths and logs (df -h /var/lib/nginx /var/log/nginx)"),
        );
    }
    out
}

/// Out of memory while handling a request: the log says so, or a worker was
/// OOM-killed while the application keeps running.
fn memory_exhaustion(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    let failing = saw(f, 500) || f.something_failing();
    if let Some(found) = signature(f, Sig::OutOfMemory) {
        let mut finding = Finding::new(
            Cause::MemoryExhaustion,
            now_or_info(failing),
            if failing { 0.8 } else { 0.4 },
            "The application runs out of memory while handling requests",
        );
        finding = signature_evidence(finding, Some(found));
        if let Some((id, s)) = f.system()
            && let Some(m) = s.memory
            && m.total_bytes > 0
        {
            finding = finding.evidence(
                id,
                format!(
                    "host memory: {} available of {}",
                    human_bytes(m.available_bytes),
                    human_bytes(m.total_bytes)
                ),
            );
        }
        out.push(
            finding
                .remedy("Find the request that allocates: large uploads or unbounded queries; stream or paginate instead of loading everything")
                .remedy("Check the memory limit the service runs under (systemctl show -p MemoryMax UNIT, the container limit, ulimit -v) against its real peak"),
        );
    }
    // A worker OOM-killed while the service is still up (its master restarts it).
    if let Some((oid, o)) = f.oom() {
        for u in f.upstreams() {
            let Some(live) = u.live_processes() else {
                continue;
            };
            if live.is_empty() {
                continue; // killed and gone: that is upstream-not-running
            }
            let hits: Vec<_> = o
                .events
                .iter()
                .filter(|e| {
                    e.matches
                        .iter()
                        .any(|m| Some(m.as_str()) == u.process.map(|(_, _)| u.unit.as_str()))
                })
                .collect();
            if let Some(last) = hits.last() {
                out.push(
                    Finding::new(Cause::MemoryExhaustion, now_or_info(failing), 0.7, format!("Workers of {:?} are being killed by the kernel for memory", u.name))
                        .evidence(oid, format!("{} OOM kill(s); last {}: pid {} ({}), anon-rss {} kB", hits.len(), clock_time(last.at.0), last.pid, last.process, last.anon_rss_kb.unwrap_or(0)))
                        .remedy("Raise the memory limit or lower per-worker memory (fewer workers, max-requests recycling); find the leak with a heap profile"),
                );
            }
        }
    }
    out
}

// ===========================================================================
// 502 Bad Gateway

/// The application server crashed: the proxy saw connections cut mid-request
/// ("upstream prematurely closed connection"), or the process keeps getting
/// a new pid (a crash loop), or a fatal panic ends its log.
fn upstream_crashed(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    for u in f.upstreams() {
        let authority = u.authority();
        let premature = f.proxy_errors(Pe::PrematurelyClosed, Some(&authority));
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
        let fatal = u
            .log
            .and_then(|(_, l)| l.last_exception.as_ref())
            .filter(|e| {
                matches!(
                    e.language,
                    why5xx_probes::logs::app::Language::Go
                        | why5xx_probes::logs::app::Language::Rust
                ) || e.head.exception_type.contains("Segmentation")
            });
        if premature == 0 && !cut && restarts.is_none() {
            continue;
        }
        let down_now = !u.answers();
        // Killed by the kernel for memory is "not running" in the guide's
        // words, not a crash of the application's own making.
        let oom = oom_killed(f, &u);
        let mut finding = Finding::new(
            Cause::UpstreamCrashed,
            if down_now || restarts.is_some() {
                Severity::Critical
            } else {
                Severity::Info
            },
            0.6,
            format!("The application server {:?} crashed", u.name),
        );
        if premature > 0 {
            finding.confidence += 0.15;
            let last = f
                .proxy_log()
                .and_then(|(_, l)| l.kind(Pe::PrematurelyClosed))
                .map(|k| k.last.line.clone())
                .unwrap_or_default();
            finding = finding.evidence("log:proxy", format!("{premature} × \"upstream prematurely closed connection\" from {authority}; last: {last}"));
        }
        if cut {
            finding.confidence += 0.1;
            finding = finding.evidence(
                &u.id,
                u.http
                    .and_then(|h| h.failure.as_ref())
                    .map(|x| x.detail.clone())
                    .unwrap_or_default(),
            );
        }
        if let Some(w) = restarts {
            finding.confidence += 0.15;
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
            finding.confidence += 0.05;
            finding = finding.evidence(
                u.log.map_or("", |(id, _)| id),
                format!("{}: {}", e.head.exception_type, e.head.message),
            );
        }
        if down_now
            && let Some(live) = u.live_processes()
            && live.is_empty()
        {
            finding.confidence += 0.05;
            let pid_id = u.process.map_or("", |(id, _)| id);
            finding = finding.evidence(pid_id, "no live process now");
        }
        if oom {
            finding.confidence -= 0.25;
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
fn oom_event<'a>(f: &'a Facts, u: &Upstream) -> Option<&'a why5xx_probes::oom::OomEvent> {
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
fn oom_killed(f: &Facts, u: &Upstream) -> bool {
    oom_event(f, u).is_some()
}

/// Nothing accepts connections where the application should listen: it was
/// not started, failed to bind its port, or was OOM-killed.
fn upstream_not_running(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    let ups = f.upstreams();
    let configured_answers = ups.iter().any(|o| !o.discovered && o.answers());
    for u in f.upstreams() {
        if u.failure() != Some(FailureKind::Refused) {
            continue;
        }
        if u.port_probe.is_some_and(|(_, p)| !p.listeners.is_empty()) {
            continue; // something listens and still refused: not this cause
        }
        if u.discovered && configured_answers {
            continue; // the proxy points where nothing runs: proxy-misconfiguration
        }
        // A proxy pointed elsewhere while this answers is misconfiguration;
        // here the configured address itself refuses.
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
        .evidence(
            &u.id,
            u.http
                .and_then(|h| h.failure.as_ref())
                .map(|x| x.detail.clone())
                .unwrap_or_default(),
        );
        if let Some((pid, p)) = u.port_probe {
            finding.confidence += 0.1;
            finding = finding.evidence(pid, format!("no socket listens on TCP port {}", p.port));
        }
        let refused = f.proxy_errors(Pe::ConnectRefused, Some(&u.authority()));
        if refused > 0 {
            finding.confidence += 0.05;
            finding = finding.evidence(
                "log:proxy",
                format!(
                    "{refused} × \"connect() failed (111: Connection refused)\" to {}",
                    u.authority()
                ),
            );
        }
        match (u.process, u.live_processes()) {
            (Some((pid_id, p)), Some(live)) if live.is_empty() => {
                finding.confidence += 0.1;
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
                        finding.confidence += 0.05;
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
                finding.confidence += 0.1;
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
        // A crash just before, or a deploy in flight, explains it better —
        // unless the kernel's OOM killer is the one that stopped it.
        let crashed = f.proxy_errors(Pe::PrematurelyClosed, Some(&u.authority())) > 0;
        let deploying = f.deploys().any(|(_, d)| d.changed_within_window);
        if (crashed || deploying) && !oom_killed(f, &u) {
            finding.confidence -= 0.2;
        }
        out.push(finding);
    }
    out
}

/// The proxy forwards to the wrong host, port or socket: its target refuses
/// (or its socket file is missing) while the application answers where the
/// config says it should.
fn proxy_misconfiguration(f: &Facts) -> Vec<Finding> {
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
    for t in p.forward_targets() {
        if t.backup || t.down || !seen.insert(t.address.to_string()) {
            continue;
        }
        let directive = format!(
            "{} {} ({}) at {}",
            "proxy_pass",
            t.raw,
            t.location.as_deref().unwrap_or(&t.frontend),
            t.origin
        );
        match &t.address {
            Address::Tcp { host, port } => {
                let authority = t.address.to_string();
                // What we know of the target: its own probe, the error log.
                let target_up = ups
                    .iter()
                    .find(|u| crate::rules::facts::same_host(&u.host, host) && u.port == *port);
                let refused = target_up.is_some_and(|u| u.failure() == Some(FailureKind::Refused))
                    || f.proxy_errors(Pe::ConnectRefused, Some(&authority)) > 0;
                if !refused || target_up.is_some_and(|u| !u.discovered && u.answers()) {
                    continue;
                }
                // The application answers somewhere else we were told about.
                let Some(right) = healthy
                    .iter()
                    .find(|u| !(crate::rules::facts::same_host(&u.host, host) && u.port == *port))
                else {
                    continue;
                };
                let mut finding = Finding::new(
                    Cause::ProxyMisconfiguration,
                    Severity::Critical,
                    0.8,
                    format!("The proxy forwards to {authority}, where nothing listens; the application {:?} answers on {}", right.name, right.authority()),
                )
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
                let n = f.proxy_errors(Pe::ConnectRefused, Some(&authority));
                if n > 0 {
                    finding.confidence += 0.1;
                    finding = finding.evidence(
                        "log:proxy",
                        format!(
                            "{n} × \"connect() failed (111: Connection refused)\" to {authority}"
                        ),
                    );
                }
                out.push(
                    finding
                        .remedy(format!("Point the proxy at {}: edit {} (line {}), then: nginx -t && nginx -s reload", right.authority(), t.origin.file.display(), t.origin.line))
                        .remedy("Or move the application to the address the proxy expects; keep the two in one place (an env var or a template) so they cannot drift"),
                );
            }
            Address::Unix { path } => {
                let missing = f.proxy_errors(Pe::UnixSocketMissing, None);
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
                .evidence(pid, directive.clone())
                .evidence(
                    "log:proxy",
                    format!(
                        "{missing} × connect() to unix socket failed (2: No such file or directory)"
                    ),
                );
                if let Some(u) = healthy.first() {
                    finding.confidence += 0.15;
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
    out
}

/// The proxy speaks HTTP to an HTTPS upstream, or HTTPS to a plain one.
fn tls_protocol_mismatch(f: &Facts) -> Vec<Finding> {
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
                    format!(
                        "Use proxy_pass https://{} at {} (and proxy_ssl_server_name on; proxy_ssl_verify with the CA), or serve plain HTTP on that port",
                        u.authority(),
                        t.origin
                    ),
                )
            } else {
                (
                    format!(
                        "The proxy speaks HTTPS to {}, which speaks plain HTTP",
                        u.authority()
                    ),
                    format!(
                        "Use proxy_pass http://{} at {}, or enable TLS on the application",
                        u.authority(),
                        t.origin
                    ),
                )
            };
            let mut finding =
                Finding::new(Cause::TlsProtocolMismatch, Severity::Critical, 0.75, title).evidence(
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
            let log_signs = f.proxy_errors(Pe::InvalidHeader, Some(&u.authority()))
                + f.proxy_log()
                    .and_then(|(_, l)| l.kind(Pe::SslHandshakeFailed))
                    .map_or(0, |k| k.wrong_version_number);
            if log_signs > 0 {
                finding.confidence += 0.15;
                let which = if upstream_tls {
                    "upstream sent no valid HTTP header (it answered TLS)"
                } else {
                    "SSL_do_handshake() failed: wrong version number"
                };
                finding = finding.evidence("log:proxy", format!("{log_signs} × {which}"));
            }
            out.push(
                finding
                    .remedy(fix)
                    .remedy("Then: nginx -t && nginx -s reload"),
            );
            break;
        }
    }
    out
}

/// A name the proxy (or the application) needs does not resolve.
fn dns_resolution_failure(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut cited = HashSet::new();
    // The proxy said so.
    if let Some((lid, l)) = f.proxy_log()
        && let Some(k) = l.kind(Pe::CouldNotResolve)
    {
        let name = k
            .last
            .upstream
            .clone()
            .unwrap_or_else(|| "an upstream name".to_string());
        cited.insert(name.clone());
        let failing = f.something_failing() || saw(f, 502);
        let mut finding = Finding::new(
            Cause::DnsResolutionFailure,
            now_or_info(failing),
            if failing { 0.85 } else { 0.4 },
            format!("The proxy cannot resolve the upstream name {name}"),
        )
        .evidence(
            lid,
            format!(
                "{} × \"could not be resolved\"; last: {}",
                k.count, k.last.line
            ),
        );
        if let Some((pid, p)) = f.proxy() {
            for t in p.forward_targets() {
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
        if !cited.insert(name.clone()) {
            continue;
        }
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
                .evidence(&run.planned.id, failure.detail.clone())
                .remedy(format!("Check the name and the resolver: dig {} ; cat /etc/resolv.conf", name.split_whitespace().next().unwrap_or(&name)))
                .remedy("If it is a container or service name, check the service exists under that name now; in nginx a variable in proxy_pass needs a `resolver` directive"),
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

// ===========================================================================
// 503 Service Unavailable

/// More requests than the server can take: the proxy's rate or connection
/// limits reject requests, or the upstream's accept queue is full.
fn server_overload(f: &Facts) -> Vec<Finding> {
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
        .evidence(
            "log:proxy",
            format!("{rejected} request(s) rejected by limit_req / limit_conn in the window"),
        );
        if let Some((pid, p)) = f.proxy()
            && let Some(m) = &p.nginx
        {
            let limits: Vec<String> = m
                .servers
                .iter()
                .flat_map(|s| {
                    s.limit_req
                        .iter()
                        .chain(s.locations.iter().flat_map(|l| l.limit_req.iter()))
                })
                .map(|l| {
                    format!(
                        "limit_req zone={} burst={} at {}",
                        l.zone,
                        l.burst.unwrap_or(0),
                        l.origin
                    )
                })
                .collect();
            if let Some(first) = limits.first() {
                finding = finding.evidence(pid, first.clone());
            }
            if let Some(z) = m.limit_req_zones.first() {
                finding = finding.evidence(
                    pid,
                    format!(
                        "limit_req_zone {} rate {} at {}",
                        z.name,
                        z.rate.as_deref().unwrap_or("?"),
                        z.origin
                    ),
                );
            }
        }
        out.push(
            finding
                .remedy("Tell a traffic spike or an abusive client from a limit set too low: count requests per client in the access log (awk '{print $1}' access.log | sort | uniq -c | sort -n | tail)")
                .remedy("Raise the rate or burst for legitimate traffic, block the abusive source, or add capacity; answer 429 with Retry-After rather than 503 (limit_req_status 429)"),
        );
    }
    // A full accept queue on an upstream's port.
    for u in f.upstreams() {
        let Some((port_id, p)) = u.port_probe else {
            continue;
        };
        for l in &p.listeners {
            if l.backlog > 0 && l.accept_queue >= l.backlog {
                out.push(
                    Finding::new(Cause::ServerOverload, if f.something_failing() { Severity::Critical } else { Severity::Warning }, 0.7, format!("The application {:?} cannot accept connections as fast as they come", u.name))
                        .evidence(port_id, format!("accept queue full on {}: {} waiting, backlog {}", l.local, l.accept_queue, l.backlog))
                        .remedy("Add workers or instances, find what blocks the workers (slow requests, a stuck dependency), and raise the listen backlog only as a buffer"),
                );
            }
        }
    }
    out
}

/// Taken offline on purpose: a maintenance flag is present, the proxy
/// returns 503 by design, or the application says so with Retry-After.
fn maintenance(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    let failing = saw(f, 503);
    if let Some((id, flags)) = f.flags() {
        let present: Vec<_> = flags.present().collect();
        if let Some(flag) = present.first() {
            let mut finding = Finding::new(
                Cause::Maintenance,
                if failing {
                    Severity::Critical
                } else {
                    Severity::Warning
                },
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
            );
            if let Some((pid, p)) = f.proxy()
                && let Some(m) = &p.nginx
            {
                for s in &m.servers {
                    for mf in s
                        .maintenance
                        .iter()
                        .chain(s.locations.iter().flat_map(|l| l.maintenance.iter()))
                    {
                        if std::path::Path::new(&mf.flag) == flag.path {
                            finding.confidence += 0.05;
                            finding = finding.evidence(
                                pid,
                                format!("the proxy returns {} while {} exists", mf.status, mf.flag),
                            );
                        }
                    }
                }
            }
            out.push(
                finding
                    .remedy(format!("If the maintenance is over, remove the flag: rm {} (and confirm with curl -sI on the public URL)", flag.path.display()))
                    .remedy("If it is not over, make the 503 say so: a Retry-After header and a status page"),
            );
            return out;
        }
    }
    // The endpoint answers 503 with Retry-After and a maintenance page.
    for (run, h) in f.endpoints() {
        if h.status != Some(503) {
            continue;
        }
        let body = h.body_excerpt.to_ascii_lowercase();
        let says = body.contains("maintenance");
        if h.headers.retry_after.is_none() && !says {
            continue;
        }
        let mut finding = Finding::new(
            Cause::Maintenance,
            Severity::Critical,
            0.55,
            "The site answers 503 as planned downtime (Retry-After / a maintenance page)",
        )
        .evidence(
            &run.planned.id,
            format!(
                "503 with Retry-After: {}",
                h.headers.retry_after.as_deref().unwrap_or("(none)")
            ),
        );
        if says {
            finding.confidence += 0.2;
            finding = finding.evidence(&run.planned.id, "the body mentions maintenance");
        }
        out.push(finding.remedy("Check with whoever runs the maintenance; when it is over, turn the maintenance mode off in the application or proxy"));
    }
    out
}

/// CPU, memory or file-descriptor limits reached: a process at its
/// descriptor limit, the host out of file handles or memory, the proxy out
/// of worker connections.
fn resource_exhaustion(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    let failing = f.something_failing();
    let sev = if failing {
        Severity::Critical
    } else {
        Severity::Warning
    };
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
            .evidence(
                pid_id,
                format!(
                    "pid {} ({}) has {open} of {limit} file descriptors open",
                    x.pid, x.name
                ),
            );
            if let Some(found) = signature(f, Sig::TooManyOpenFiles) {
                finding.confidence += 0.15;
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
                .evidence(
                    "log:proxy",
                    format!("{n} × \"{}\" in the window", error_kind_words(kind)),
                )
                .remedy(fix),
            );
        }
    }
    // The kernel killed processes for memory, and no configured process
    // names say whose they were (a zero-config run): still worth knowing.
    if let Some((oid, o)) = f.oom()
        && o.matched.is_empty()
        && let Some(last) = o.events.last()
    {
        out.push(
            Finding::new(Cause::ResourceExhaustion, sev.min(Severity::Warning), 0.5, format!("The kernel killed {} process(es) for memory in the last {} min", o.events.len(), o.window_secs / 60))
                .evidence(oid, format!("last {}: pid {} ({}), anon-rss {} kB{}", clock_time(last.at.0), last.pid, last.process, last.anon_rss_kb.unwrap_or(0), last.cgroup.as_deref().map(|c| format!(", cgroup {c}")).unwrap_or_default()))
                .remedy("See which services were hit: journalctl -k | grep -iE 'killed process|oom-kill'; check their memory limits (MemoryMax) against their peak, or add memory"),
        );
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
            if used > f.cfg.host.memory_warn.max(0.95) || stalled > 20.0 {
                out.push(
                    Finding::new(Cause::ResourceExhaustion, sev, if stalled > 20.0 { 0.75 } else { 0.6 }, "The host is out of memory")
                        .evidence(sid, format!("{} available of {}; memory pressure (full, avg10) {stalled:.0}%", human_bytes(m.available_bytes), human_bytes(m.total_bytes)))
                        .remedy("Find the biggest processes: ps aux --sort=-rss | head; restart or limit the one that grew, add memory or instances"),
                );
            }
        }
        if let Some(l) = s.load {
            let per_core = l.one / f64::from(s.cpus.max(1));
            let stalled = s.pressure.and_then(|p| p.cpu_some).unwrap_or(0.0);
            if per_core > f.cfg.host.load_warn {
                out.push(
                                        Finding::new(
                        Cause::ResourceExhaustion,
                        sev,
                        if failing || stalled > 50.0 { 0.55 } else { 0.35 },
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
fn dependency_unavailable(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    let answers_500 = saw(f, 500) && !saw(f, 503);
    for d in dependencies(f) {
        let Some(why) = &d.down else { continue };
        if answers_500 {
            continue; // the 500 rules (database-error, dependency-failure) explain it
        }
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
        .evidence(d.id, why.clone());
        if let Some(found) = signature(f, Sig::DatabaseConnectionRefused)
            .filter(|_| d.is_database())
            .or_else(|| signature(f, Sig::ConnectionRefusedOther))
        {
            finding.confidence += 0.1;
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
fn deployment_in_progress(f: &Facts) -> Vec<Finding> {
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
        .evidence(id, format!("changed {age} ago{}", d.target.as_ref().map(|t| format!(", now → {}", t.display())).unwrap_or_default()));
        for u in &unhealthy {
            finding.confidence += 0.1;
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

// ===========================================================================
// 504 Gateway Timeout

/// The proxy's read timeout that applies to an upstream, the longest of
/// its targets' (a request is cut at the first that fires, but different
/// locations may differ; the longest is the most forgiving).
fn read_timeout(u: &Upstream) -> Option<(Millis, Option<why5xx_probes::proxy::Origin>, String)> {
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
fn upstream_timed_out(f: &Facts, u: &Upstream) -> u64 {
    f.proxy_errors(Pe::UpstreamTimedOut, Some(&u.authority()))
}

/// The application itself takes too long: its direct answer is slower than
/// its `slow` threshold (or it does not answer in time at all), and no slow
/// dependency explains it.
fn slow_backend(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    let slow_deps = dependencies(f).into_iter().any(|d| d.slow.is_some());
    let db_waits = postgres_waits(f).is_some();
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
            if slow_deps || db_waits { 0.5 } else { 0.75 },
            format!("The application {:?} takes too long to respond", u.name),
        );
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
            finding.confidence += 0.1;
            finding = finding.evidence(
                "log:proxy",
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
fn postgres_waits<'a>(
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
fn database_query_timeout(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    let slow_app = saw(f, 504)
        || f.upstreams().iter().any(|u| {
            u.http
                .and_then(|h| h.failure.as_ref())
                .is_some_and(|x| x.kind == FailureKind::Timeout)
                || upstream_timed_out(f, u) > 0
                || u.ttfb()
                    .is_some_and(|t| u.slow.is_some_and(|s| t.as_duration() > s))
        })
        || signature(f, Sig::QueryTimeout).is_some()
        || f.endpoints().any(|(_, h)| {
            h.failure
                .as_ref()
                .is_some_and(|x| x.kind == FailureKind::Timeout)
        });
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
        );
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
            finding.confidence += 0.1;
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
        );
        out.push(signature_evidence(finding, Some(found)).remedy("Check the database's slow query log and locks (pg_stat_activity, SHOW PROCESSLIST); add indexes or shorten transactions"));
    }
    out
}

/// A synchronous call to a slow external API: a dependency answers slower
/// than its `slow` (or not at all) while the application is slow or cut off.
fn external_api_latency(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    let app_slow = saw(f, 504)
        || f.upstreams().iter().any(|u| {
            upstream_timed_out(f, u) > 0
                || u.http
                    .and_then(|h| h.failure.as_ref())
                    .is_some_and(|x| x.kind == FailureKind::Timeout)
                || u.ttfb().is_some_and(|t| t.as_secs_f64() > 1.0)
        })
        || f.endpoints().any(|(_, h)| {
            h.failure
                .as_ref()
                .is_some_and(|x| x.kind == FailureKind::Timeout)
                || h.phases.first_byte.is_some_and(|t| t.as_secs_f64() > 1.0)
        });
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
        .evidence(d.id, format!("answers after {took}"));
        if let Some(found) = signature(f, Sig::ExternalCallTimeout) {
            finding.confidence += 0.1;
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
fn proxy_timeout_too_short(f: &Facts) -> Vec<Finding> {
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
        let at = origin
            .as_ref()
            .map_or_else(|| "nginx's default".to_string(), ToString::to_string);
        finding = finding.evidence(
            pid,
            format!("proxy_read_timeout {limit} for {location} ({at})"),
        );
        let cut = upstream_timed_out(f, &u);
        if cut > 0 {
            finding.confidence += 0.15;
            finding = finding.evidence("log:proxy", format!("{cut} × \"upstream timed out (110)\" while reading the response header from {}", u.authority()));
        }
        let fix = match &origin {
            Some(o) => format!(
                "Raise proxy_read_timeout for {location} above {t} (it is set at {o}), then: nginx -t && nginx -s reload"
            ),
            None => format!(
                "Set proxy_read_timeout for {location} above {t}, then: nginx -t && nginx -s reload"
            ),
        };
        out.push(finding.remedy(fix).remedy(
            "Or make the endpoint answer sooner: 202 Accepted and background work for long jobs",
        ));
    }
    out
}

/// High latency between the proxy and the application: a remote upstream's
/// TCP connect (one round trip) is a large share of its answer time.
fn network_latency(f: &Facts) -> Vec<Finding> {
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
            .evidence(&u.id, format!("TCP connect {connect}, first byte {ttfb}"))
            .remedy(format!("Measure the path: mtr -rwc 20 {} ; compare with a host in the same zone", u.host))
            .remedy("Keep the proxy and the application in the same region/zone, use keepalive connections to the upstream (upstream keepalive; proxy_http_version 1.1)"),
        );
    }
    out
}

// ===========================================================================
// Checklist: TLS certificates — expired, expiring, otherwise invalid.

fn tls_certificates(f: &Facts) -> Vec<Finding> {
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

fn certificate_finding(
    probe: &str,
    target: &str,
    s: &TlsSession,
    warn: Duration,
) -> Option<Finding> {
    let leaf = s.leaf()?;
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

// ===========================================================================
// Checklist: a deployment or configuration change just before the errors.

fn recent_change(f: &Facts) -> Vec<Finding> {
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
                "The proxy's configuration changed after it started and has not been reloaded",
            )
            .evidence(pid, format!("changed since the master started{}: {}", p.master.as_ref().map(|m| format!(" ({})", clock_time(m.started_at.0))).unwrap_or_default(), files.join(", ")))
            .remedy("Check the change is intended (git diff / etckeeper), validate it (nginx -t) and reload, or revert it: a reload on the next restart would apply it unannounced"),
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

fn disk_full(f: &Facts) -> Vec<Finding> {
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
                .evidence(id, format!("{:.1}% of space used, {} free; {:.1}% of inodes used", d.used_ratio * 100.0, human_bytes(d.available_bytes), d.inodes_used_ratio * 100.0))
                .remedy(format!("Find what grew: du -xh --max-depth=2 {mount} | sort -h | tail -20 (for inodes: find {mount} -xdev -type f | cut -d/ -f2-3 | sort | uniq -c | sort -n | tail)"))
                .remedy("Free space safely: rotate or compress logs (logrotate -f), clear package caches; deleted files still held open show in: lsof +L1"),
        );
    }
    out
}

// ===========================================================================
// Not a guide cause: a failing probe no rule explained is still reported.

fn unclassified(f: &Facts, findings: &[Finding]) -> Vec<Finding> {
    let cited: HashSet<&str> = findings
        .iter()
        .filter(|x| x.severity >= Severity::Warning)
        .flat_map(|x| x.evidence.iter().map(|e| e.probe.as_str()))
        .collect();
    let explained_any = findings.iter().any(|x| x.severity >= Severity::Warning);
    let mut out = Vec::new();
    for (run, a) in f.runs.iter().zip(f.assessed) {
        if cited.contains(run.planned.id.as_str()) {
            continue;
        }
        // Evidence probes (logs, proxy model, flags, OOM) that no rule used
        // are context once something else explains the failure.
        let context = matches!(
            run.planned.role,
            Role::ProxyErrorLog
                | Role::AppLog { .. }
                | Role::Proxy
                | Role::Oom
                | Role::Flags
                | Role::Deploy
        );
        if context && explained_any {
            continue;
        }
        let severity = match a.status {
            Status::Critical if !context => Severity::Critical,
            Status::Critical | Status::Warning => Severity::Warning,
            Status::Ok | Status::Unknown => continue,
        };
        out.push(
            Finding::new(Cause::Unclassified, severity, 0.3, format!("{} is failing and no rule names why", run.planned.id))
                .evidence(&run.planned.id, a.summary.clone())
                .remedy("Look at this probe's detail below; configure the upstream, its process and its log so the rules can tell the cause apart"),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::fixtures::facts_from_toml;

    #[test]
    fn refused_upstream_with_no_listener_and_no_process_is_not_running() {
        let found = facts_from_toml(include_str!(
            "../../tests/fixtures/rules/upstream-not-running.toml"
        ));
        assert_eq!(found[0].cause, Cause::UpstreamNotRunning);
        assert!(found[0].confidence >= 0.9, "{found:?}");
        assert!(found[0].evidence.iter().any(|e| e.probe == "port:3000"));
    }

    #[test]
    fn alive_process_bound_to_nothing_failed_to_bind() {
        let found = facts_from_toml(include_str!(
            "../../tests/fixtures/rules/upstream-failed-to-bind.toml"
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
        let found = facts_from_toml(include_str!("../../tests/fixtures/rules/dns-nxdomain.toml"));
        assert_eq!(found[0].cause, Cause::DnsResolutionFailure);
    }

    #[test]
    fn certificates_expired_expiring_invalid() {
        let found = facts_from_toml(include_str!(
            "../../tests/fixtures/rules/tls-certificates.toml"
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
        let found = facts_from_toml(include_str!("../../tests/fixtures/rules/disk-full.toml"));
        assert_eq!(found[0].cause, Cause::DiskFull);
        assert_eq!(found[0].severity, Severity::Critical);
        assert_eq!(found.len(), 1, "the 50% disk is healthy: {found:?}");
    }

    #[test]
    fn healthy_host_has_no_findings() {
        let found = facts_from_toml(include_str!("../../tests/fixtures/rules/healthy.toml"));
        assert!(found.is_empty(), "{found:?}");
    }
}

//! The guide's 500 Internal Server Error causes: an unhandled exception, a
//! database error, a configuration error, a failing dependency, the
//! filesystem, memory. Each rule reads the facts and returns findings; none
//! prints, and none lowers its own confidence to make room for another —
//! that is the precedence table's job (`precedence.rs`).

use super::prelude::*;

// ===========================================================================
// 500 Internal Server Error

/// An error no handler caught: the last stack trace of the application's
/// log, while the application answers 500. When something more specific
/// names the cause (a database, the environment, the disk, memory, a
/// dependency), the precedence table demotes this to a related finding: the
/// trace is then the mechanism, not the cause.
pub(crate) fn unhandled_exception(f: &Facts) -> Vec<Finding> {
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
        .about(u.subject())
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
            finding.confidence += w::AGREES;
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
pub(crate) fn database_error(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    let failing = saw(f, 500);
    let deps = dependencies(f);
    let db_down: Vec<&Dep> = deps
        .iter()
        .filter(|d| d.is_database() && d.down.is_some())
        .collect();
    // About the database that is down, when one is; else the application's
    // database as its log names it.
    let subject = db_down.first().map_or_else(
        || Subject::Dependency("database".to_string()),
        |d| d.subject(),
    );
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
        )
        .about(subject.clone());
        finding = signature_evidence(finding, Some(found));
        for d in &db_down {
            finding.confidence += w::AGREES;
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
    // No log signature: a database dependency down while the app answers
    // 500 (with 503 it is dependency-unavailable; the precedence table
    // lets this absorb that one when users get both).
    if failing {
        for d in db_down {
            out.push(
                Finding::new(Cause::DatabaseError, Severity::Critical, 0.65, format!("The database {} is down and the application answers 500", d.target))
                    .about(d.subject())
                    .evidence(d.id, d.down.clone().unwrap_or_default())
                    .remedy(format!("Bring the database back: check its service and log on its host; test from here: {}", probe_command(d)))
                    .remedy("Make the application answer 503 with Retry-After while its database is down (graceful degradation), not 500"),
            );
        }
    }
    out
}

/// Missing environment variables (read from the running process), a
/// `KeyError`-style log line naming one, or credentials the database rejects.
pub(crate) fn configuration_error(f: &Facts) -> Vec<Finding> {
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
            // A request that needs the variable fails: now, or when it comes.
            Impact::now_or_at_risk(failing).severity(),
            0.8,
            format!(
                "The application {:?} runs without required environment variable(s) {}",
                u.name,
                missing.join(", ")
            ),
        )
        .about(u.subject())
        .evidence(
            id,
            format!(
                "{} missing or empty in {}",
                missing.join(", "),
                pids.join(", ")
            ),
        );
        if let Some((lid, s)) = signature(f, Sig::MissingEnv) {
            finding.confidence += w::CONFIRMS;
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
                        .about(d.subject())
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
pub(crate) fn dependency_failure(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    // The application turns the failure into 500; with 503 it is
    // dependency-unavailable, which this absorbs when users get both.
    if !saw(f, 500) {
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
            .about(d.subject())
            .evidence(d.id, what);
        if let Some(found) = signature(f, Sig::ConnectionRefusedOther) {
            finding.confidence += w::AGREES;
            finding = signature_evidence(finding, Some(found));
        } else if let Some(u) = f
            .upstreams()
            .into_iter()
            .find(|u| u.log.is_some_and(|(_, l)| l.last_exception.is_some()))
            && let Some((id, l)) = u.log
            && let Some(detail) = exception_detail(l)
        {
            finding.confidence += w::AGREES;
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
pub(crate) fn filesystem_error(f: &Facts) -> Vec<Finding> {
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
                    finding.confidence += w::AGREES;
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
                .about(Subject::Proxy)
                .evidence(ProbeId::proxy_log(), format!("{n} × no space left on device"))
                .remedy("Free space on the filesystem holding the proxy's temp paths and logs (df -h /var/lib/nginx /var/log/nginx)"),
        );
    }
    out
}

/// Out of memory while handling a request: the log says so, or a worker was
/// OOM-killed while the application keeps running.
pub(crate) fn memory_exhaustion(f: &Facts) -> Vec<Finding> {
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
                    // Killed workers are lost capacity even while the
                    // master keeps answering.
                    Finding::new(Cause::MemoryExhaustion, Impact::now_or_at_risk(failing).severity(), 0.7, format!("Workers of {:?} are being killed by the kernel for memory", u.name))
                        .about(u.subject())
                        .evidence(oid, format!("{} OOM kill(s); last {}: pid {} ({}), anon-rss {} kB", hits.len(), clock_time(last.at.0), last.pid, last.process, last.anon_rss_kb.unwrap_or(0)))
                        .remedy("Raise the memory limit or lower per-worker memory (fewer workers, max-requests recycling); find the leak with a heap profile"),
                );
            }
        }
    }
    out
}

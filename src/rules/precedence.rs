//! Which cause yields to which: one table, read like Alertmanager's
//! `inhibit_rules`. A *source* finding (at warning or above) acts on a
//! *target* finding when both concern the same subject (or, for `Any`, the
//! same run) and the row's condition holds: it **absorbs** the target (the
//! target's evidence joins the source; the target is gone) or **demotes** it
//! (the target stays, at info, as a related finding of the source). Rules
//! never lower their own confidence to make room for another: this table
//! does, and each row says why. It runs after findings of one cause and
//! subject are merged, and before `unclassified` is decided.

use crate::model::causes::Cause;
use crate::model::findings::{Finding, Mark, Severity};

/// Which findings a row compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Equal {
    /// Source and target concern the same subject (the upstream, the
    /// dependency, the name, the deploy path).
    Subject,
    /// Any source of the run acts on any target: for causes whose subjects
    /// the config does not tie together (an application's dependency and
    /// the trace in that application's log).
    Any,
}

/// The condition under which a row applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    Always,
    /// The source's rule recorded this mark.
    SourceMarked(Mark),
    /// The target's rule did not record this mark.
    TargetUnmarked(Mark),
}

/// What the source does to the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// The target's evidence joins the source; the target is dropped.
    Absorb,
    /// The target stays, at info, listed as related to the source.
    Demote,
}

/// One row: `source` acts on `target` by `effect` when `equal` and `when` hold.
#[derive(Debug, Clone, Copy)]
pub struct Precedence {
    pub source: Cause,
    pub target: Cause,
    pub equal: Equal,
    pub when: When,
    pub effect: Effect,
    /// Why, in a line: the guide's reasoning.
    pub why: &'static str,
}

const fn row(
    source: Cause,
    target: Cause,
    equal: Equal,
    when: When,
    effect: Effect,
    why: &'static str,
) -> Precedence {
    Precedence {
        source,
        target,
        equal,
        when,
        effect,
        why,
    }
}

use Cause as C;
use Effect::{Absorb, Demote};
use Equal::{Any, Subject};
use When::{Always, SourceMarked, TargetUnmarked};

/// The precedence table, applied top to bottom.
pub const PRECEDENCE: &[Precedence] = &[
    // ---- 502: what stopped the application server ----
    row(
        C::UpstreamNotRunning,
        C::UpstreamCrashed,
        Subject,
        SourceMarked(Mark::OomKilled),
        Demote,
        "killed by the kernel for memory is 'not running' in the guide's words, not a crash of the application's own making",
    ),
    row(
        C::UpstreamCrashed,
        C::UpstreamNotRunning,
        Subject,
        TargetUnmarked(Mark::OomKilled),
        Demote,
        "it served requests and died mid-request: the crash is the cause, the refused port its consequence",
    ),
    row(
        C::ProxyMisconfiguration,
        C::UpstreamNotRunning,
        Subject,
        Always,
        Absorb,
        "the proxy points where nothing runs while the application answers elsewhere: the address is wrong, not the application",
    ),
    row(
        C::DeploymentInProgress,
        C::UpstreamNotRunning,
        Any,
        TargetUnmarked(Mark::OomKilled),
        Demote,
        "a release switched minutes ago and the new instances are not up yet: the deploy explains the refused port",
    ),
    row(
        C::DeploymentInProgress,
        C::UpstreamCrashed,
        Any,
        Always,
        Demote,
        "old instances stopping during a deploy cut connections: the deploy explains it",
    ),
    row(
        C::DeploymentInProgress,
        C::RecentChange,
        Subject,
        Always,
        Demote,
        "the same release change: still rolling out is the more specific reading",
    ),
    // ---- 500: the trace is the mechanism when something specific names the cause ----
    row(
        C::DatabaseError,
        C::UnhandledException,
        Any,
        Always,
        Demote,
        "the trace is how the database error surfaces",
    ),
    row(
        C::ConfigurationError,
        C::UnhandledException,
        Any,
        Always,
        Demote,
        "the trace is how the missing setting surfaces",
    ),
    row(
        C::FilesystemError,
        C::UnhandledException,
        Any,
        Always,
        Demote,
        "the trace is how the filesystem error surfaces",
    ),
    row(
        C::MemoryExhaustion,
        C::UnhandledException,
        Any,
        Always,
        Demote,
        "the MemoryError trace is how memory exhaustion surfaces",
    ),
    row(
        C::DependencyFailure,
        C::UnhandledException,
        Any,
        Always,
        Demote,
        "the trace is the unhandled failure of a dependency the application calls",
    ),
    row(
        C::DependencyUnavailable,
        C::UnhandledException,
        Any,
        Always,
        Demote,
        "a dependency is down: the trace is how its absence surfaces",
    ),
    row(
        C::DatabaseQueryTimeout,
        C::UnhandledException,
        Any,
        Always,
        Demote,
        "the trace is the query that timed out",
    ),
    row(
        C::ExternalApiLatency,
        C::UnhandledException,
        Any,
        Always,
        Demote,
        "the trace is the call to the slow API timing out",
    ),
    // ---- a dependency down: which section names it depends on what users get ----
    row(
        C::ConfigurationError,
        C::DatabaseError,
        Subject,
        Always,
        Absorb,
        "the database answers and rejects the login: the credentials are wrong, the database is not down",
    ),
    row(
        C::ConfigurationError,
        C::DependencyUnavailable,
        Subject,
        Always,
        Absorb,
        "the dependency answers and rejects the login: the credentials are wrong, it is not down",
    ),
    row(
        C::DatabaseError,
        C::DependencyUnavailable,
        Subject,
        Always,
        Absorb,
        "the database is down and the application turns that into 500: the guide's 500 'database unreachable'",
    ),
    row(
        C::DependencyFailure,
        C::DependencyUnavailable,
        Subject,
        Always,
        Absorb,
        "the service is down and the application turns that into 500: the guide's 500 'dependency failure'",
    ),
    // ---- 504: a slow application is slow for a reason ----
    row(
        C::DatabaseQueryTimeout,
        C::SlowBackend,
        Any,
        Always,
        Demote,
        "the application is slow because its queries wait on the database",
    ),
    row(
        C::ExternalApiLatency,
        C::SlowBackend,
        Any,
        Always,
        Demote,
        "the application is slow because a service it calls synchronously is slow",
    ),
    row(
        C::DatabaseQueryTimeout,
        C::ProxyTimeoutTooShort,
        Any,
        Always,
        Demote,
        "the time the endpoint takes is a query waiting on a lock, not a need for a longer timeout",
    ),
    row(
        C::ExternalApiLatency,
        C::ProxyTimeoutTooShort,
        Any,
        Always,
        Demote,
        "the time the endpoint takes is the slow API; a longer proxy timeout only hides it",
    ),
    // ---- the checklist ----
    row(
        C::TlsCertificateExpired,
        C::TlsCertificateExpiring,
        Subject,
        Always,
        Absorb,
        "an expired certificate is past 'expiring'",
    ),
];

/// Whether `row` applies with `source` acting on `target`.
fn applies(row: &Precedence, source: &Finding, target: &Finding) -> bool {
    let equal = match row.equal {
        Equal::Subject => source.subject == target.subject,
        Equal::Any => true,
    };
    let when = match row.when {
        When::Always => true,
        When::SourceMarked(m) => source.has(m),
        When::TargetUnmarked(m) => !target.has(m),
    };
    source.cause == row.source && target.cause == row.target && equal && when
}

/// Apply the table to `findings`. A source acts only while it stands at
/// warning or above (a demoted finding no longer demotes others).
pub fn apply(findings: &mut Vec<Finding>) {
    for row in PRECEDENCE {
        let mut i = 0;
        while i < findings.len() {
            if findings[i].cause != row.source || findings[i].severity < Severity::Warning {
                i += 1;
                continue;
            }
            let mut j = 0;
            while j < findings.len() {
                if i == j || !applies(row, &findings[i], &findings[j]) {
                    j += 1;
                    continue;
                }
                match row.effect {
                    Effect::Absorb => {
                        let target = findings.remove(j);
                        if j < i {
                            i -= 1;
                        }
                        absorb(&mut findings[i], target);
                    }
                    Effect::Demote => {
                        let source_cause = findings[i].cause;
                        let target = &mut findings[j];
                        target.severity = target.severity.min(Severity::Info);
                        if !target.related.contains(&source_cause) {
                            target.related.push(source_cause);
                        }
                        let target_cause = target.cause;
                        if !findings[i].related.contains(&target_cause) {
                            findings[i].related.push(target_cause);
                        }
                        j += 1;
                    }
                }
            }
            i += 1;
        }
    }
}

/// Fold `other` (same cause and subject, or absorbed) into `into`: every
/// line of evidence and remediation once, the worse severity, the higher
/// confidence.
pub fn absorb(into: &mut Finding, other: Finding) {
    for e in other.evidence {
        if !into.evidence.contains(&e) {
            into.evidence.push(e);
        }
    }
    for r in other.remediation {
        if !into.remediation.contains(&r) {
            into.remediation.push(r);
        }
    }
    for c in other.related {
        if c != into.cause && !into.related.contains(&c) {
            into.related.push(c);
        }
    }
    for m in other.marks {
        if !into.marks.contains(&m) {
            into.marks.push(m);
        }
    }
    if other.cause == into.cause {
        if other.confidence > into.confidence {
            into.title = other.title;
        }
        into.severity = into.severity.max(other.severity);
    }
    into.confidence = into.confidence.max(other.confidence);
}

/// Merge findings of the same cause and subject into one.
pub fn merge(findings: Vec<Finding>) -> Vec<Finding> {
    let mut out: Vec<Finding> = Vec::with_capacity(findings.len());
    for f in findings {
        match out
            .iter_mut()
            .find(|x| x.cause == f.cause && x.subject == f.subject)
        {
            Some(x) => absorb(x, f),
            None => out.push(f),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::findings::Subject as S;

    fn finding(cause: Cause, subject: S) -> Finding {
        Finding::new(cause, Severity::Critical, 0.8, cause.id()).about(subject)
    }

    #[test]
    fn every_row_is_between_two_different_causes_and_appears_once() {
        for (i, r) in PRECEDENCE.iter().enumerate() {
            assert_ne!(r.source, r.target, "row {i}");
            assert!(!r.why.is_empty());
            assert!(
                !PRECEDENCE[..i]
                    .iter()
                    .any(|x| x.source == r.source && x.target == r.target && x.when == r.when),
                "row {i} repeats"
            );
        }
    }

    #[test]
    fn a_crash_demotes_not_running_of_the_same_upstream_only() {
        let mut v = vec![
            finding(C::UpstreamCrashed, S::Upstream("127.0.0.1:3000".into())),
            finding(C::UpstreamNotRunning, S::Upstream("127.0.0.1:3000".into())),
            finding(C::UpstreamNotRunning, S::Upstream("127.0.0.1:3001".into())),
        ];
        apply(&mut v);
        assert_eq!(v[1].severity, Severity::Info);
        assert_eq!(v[1].related, [C::UpstreamCrashed]);
        assert_eq!(v[2].severity, Severity::Critical, "another upstream");
    }

    #[test]
    fn an_oom_kill_turns_the_pair_around() {
        let up = S::Upstream("127.0.0.1:3000".into());
        let mut v = vec![
            finding(C::UpstreamCrashed, up.clone()),
            finding(C::UpstreamNotRunning, up).mark(Mark::OomKilled),
        ];
        apply(&mut v);
        assert_eq!(v[0].severity, Severity::Info, "{v:?}");
        assert_eq!(v[1].severity, Severity::Critical);
    }

    #[test]
    fn absorb_moves_evidence_and_drops_the_target() {
        let a = S::Upstream("127.0.0.1:3001".into());
        let mut v = vec![
            finding(C::UpstreamNotRunning, a.clone()).evidence("port:3001", "nothing listens"),
            finding(C::ProxyMisconfiguration, a).evidence("proxy:nginx", "proxy_pass"),
        ];
        apply(&mut v);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].cause, C::ProxyMisconfiguration);
        assert!(v[0].evidence.iter().any(|e| e.probe == "port:3001"));
    }

    #[test]
    fn merge_keeps_one_finding_per_cause_and_subject() {
        let cert = S::Certificate("shop.example.com".into());
        let v = merge(vec![
            finding(C::TlsCertificateExpiring, cert.clone()).evidence("endpoint:public", "x"),
            finding(C::TlsCertificateExpiring, cert).evidence("tls:shop.example.com:443", "y"),
            finding(C::TlsCertificateExpiring, S::Certificate("other".into())),
        ]);
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].evidence.len(), 2);
    }

    #[test]
    fn a_demoted_source_no_longer_acts() {
        // Deploy demotes crashed; crashed (now info) must not demote not-running
        // of an OOM-less upstream — the deploy row does that itself.
        let up = S::Upstream("127.0.0.1:3000".into());
        let mut v = vec![
            finding(C::UpstreamCrashed, up.clone()),
            finding(C::UpstreamNotRunning, up),
        ];
        v[0].severity = Severity::Info;
        apply(&mut v);
        assert_eq!(v[1].severity, Severity::Critical);
    }
}

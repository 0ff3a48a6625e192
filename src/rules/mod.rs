//! The troubleshooting guide as rules: [`RULES`] in guide order (500, 502,
//! 503, 504, then the general checklist), one file per section. Each rule
//! reads what the probes observed (typed observations, never their strings)
//! and [`symptoms::Symptoms`] (what users get now, computed once), combines
//! the evidence that tells one cause from its neighbours, and names the
//! cause with its subject, evidence and what to do next. A reviewer who
//! knows the guide should be able to read `RULES` top to bottom and tick
//! the causes off.
//!
//! Confidence is built from agreeing evidence (the named weights in
//! `evidence.rs`); severity follows one policy (`symptoms::Impact`); which
//! cause yields to which is the precedence table (`precedence.rs`), never a
//! rule lowering its own score. How to write a rule: `docs/rules.md`. The
//! rules decide causes; they never print and never run a probe.

mod checklist;
mod evidence;
pub mod facts;
#[cfg(test)]
pub mod fixtures;
pub mod precedence;
mod r500;
mod r502;
mod r503;
mod r504;
#[cfg(test)]
mod signals;
pub mod symptoms;

use std::collections::HashSet;

use why5xx_probes::proxy::BackendEvent;
use why5xx_probes::{FailureKind, Observation};

/// What every rule file imports.
mod prelude {
    pub(crate) use std::collections::HashSet;
    pub(crate) use std::time::Duration;

    pub(crate) use why5xx_probes::logs::app::SignatureKind as Sig;
    pub(crate) use why5xx_probes::logs::proxy_error::ProxyErrorKind as Pe;
    pub(crate) use why5xx_probes::proxy::Address;
    pub(crate) use why5xx_probes::tls::{CertProblem, TlsSession};
    pub(crate) use why5xx_probes::{FailureKind, Millis, Observation, Phase};

    pub(crate) use super::evidence::*;
    pub(crate) use super::facts::{Facts, Upstream};
    pub(crate) use super::now_or_info;
    pub(crate) use super::symptoms::Impact;
    pub(crate) use crate::assess::{error_kind_words, human_bytes};
    pub(crate) use crate::engine::plan::Role;
    pub(crate) use crate::model::causes::Cause;
    pub(crate) use crate::model::dep_kind::DepKind;
    pub(crate) use crate::model::findings::{Finding, Severity, Status};
    pub(crate) use crate::model::findings::{Mark, Subject};
    pub(crate) use crate::model::probe_id::ProbeId;
}

use crate::engine::plan::Role;
use crate::model::causes::Cause;
use crate::model::findings::{Finding, Severity, rank};
pub use crate::rules::facts::Facts;

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
        check: r500::unhandled_exception,
    },
    Rule {
        cause: Cause::DatabaseError,
        check: r500::database_error,
    },
    Rule {
        cause: Cause::ConfigurationError,
        check: r500::configuration_error,
    },
    Rule {
        cause: Cause::DependencyFailure,
        check: r500::dependency_failure,
    },
    Rule {
        cause: Cause::FilesystemError,
        check: r500::filesystem_error,
    },
    Rule {
        cause: Cause::MemoryExhaustion,
        check: r500::memory_exhaustion,
    },
    // ---- 502 Bad Gateway ----
    Rule {
        cause: Cause::UpstreamCrashed,
        check: r502::upstream_crashed,
    },
    Rule {
        cause: Cause::UpstreamNotRunning,
        check: r502::upstream_not_running,
    },
    Rule {
        cause: Cause::ProxyMisconfiguration,
        check: r502::proxy_misconfiguration,
    },
    Rule {
        cause: Cause::TlsProtocolMismatch,
        check: r502::tls_protocol_mismatch,
    },
    Rule {
        cause: Cause::DnsResolutionFailure,
        check: r502::dns_resolution_failure,
    },
    // ---- 503 Service Unavailable ----
    Rule {
        cause: Cause::ServerOverload,
        check: r503::server_overload,
    },
    Rule {
        cause: Cause::Maintenance,
        check: r503::maintenance,
    },
    Rule {
        cause: Cause::ResourceExhaustion,
        check: r503::resource_exhaustion,
    },
    Rule {
        cause: Cause::DependencyUnavailable,
        check: r503::dependency_unavailable,
    },
    Rule {
        cause: Cause::DeploymentInProgress,
        check: r503::deployment_in_progress,
    },
    // ---- 504 Gateway Timeout ----
    Rule {
        cause: Cause::SlowBackend,
        check: r504::slow_backend,
    },
    Rule {
        cause: Cause::DatabaseQueryTimeout,
        check: r504::database_query_timeout,
    },
    Rule {
        cause: Cause::ExternalApiLatency,
        check: r504::external_api_latency,
    },
    Rule {
        cause: Cause::ProxyTimeoutTooShort,
        check: r504::proxy_timeout_too_short,
    },
    Rule {
        cause: Cause::NetworkLatency,
        check: r504::network_latency,
    },
    // ---- General troubleshooting checklist ----
    Rule {
        cause: Cause::TlsCertificateExpired,
        check: checklist::tls_certificates,
    },
    Rule {
        cause: Cause::RecentChange,
        check: checklist::recent_change,
    },
    Rule {
        cause: Cause::DiskFull,
        check: checklist::disk_full,
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

/// Run every rule; merge what several probes saw of one cause and subject
/// into one finding; cite the users' symptoms; let the precedence table
/// settle which cause yields to which; link related findings; add what no
/// rule explained; and rank: most likely first.
pub fn diagnose(facts: &Facts) -> Vec<Finding> {
    let mut findings = precedence::merge(RULES.iter().flat_map(|r| (r.check)(facts)).collect());
    for f in &mut findings {
        attach_symptoms(f, facts);
    }
    precedence::apply(&mut findings);
    link_related(&mut findings);
    for x in &mut findings {
        x.confidence = (x.confidence.clamp(0.0, 1.0) * 100.0).round() / 100.0;
    }
    let edge = checklist::edge_causes(facts, &findings);
    findings.extend(edge);
    findings.extend(checklist::unclassified(facts, &findings));
    rank(&mut findings);
    findings
}

/// Severity for a cause that explains errors: critical when the errors are
/// happening now, info when the signs are only historical.
pub(crate) fn now_or_info(failing: bool) -> Severity {
    symptoms::Impact::now_or_past(failing).severity()
}

/// What happens between the proxy and the backend when `cause` is the
/// cause, for the status the proxy in front answers with
/// ([`Dialect::status_for`](why5xx_probes::proxy::Dialect::status_for)).
fn backend_events(cause: Cause) -> &'static [BackendEvent] {
    use BackendEvent as E;
    match cause {
        Cause::UpstreamNotRunning | Cause::ProxyMisconfiguration => &[E::ConnectRefused],
        Cause::DnsResolutionFailure => &[E::ResolveFailed],
        Cause::TlsProtocolMismatch => &[E::TlsHandshakeFailed, E::ClosedEarly],
        Cause::UpstreamCrashed => &[E::ClosedEarly],
        Cause::SlowBackend | Cause::ProxyTimeoutTooShort => &[E::ReadTimeout],
        _ => &[],
    }
}

/// Add the codes the proxy in front answers for the finding's cause (Apache
/// answers a refused backend with 503, a failed name lookup with 500) to
/// the cause's own, so that its endpoints are cited.
fn add_proxy_codes(finding: &mut Finding, f: &Facts) {
    let dialect = f.dialect();
    for e in backend_events(finding.cause) {
        for code in dialect.status_for(*e) {
            if !finding.status_codes.contains(code) {
                finding.status_codes.push(*code);
            }
        }
    }
}

/// Cite each public endpoint that shows one of the finding's status codes
/// (or, for 504, a timeout) — the cause's own and those the proxy in front
/// answers for it.
fn attach_symptoms(finding: &mut Finding, f: &Facts) {
    add_proxy_codes(finding, f);
    // A checklist cause (no status code of its own) that explains a failure
    // now explains whatever 5xx the users see.
    // So does a cause inside the application, whatever code the
    // application chose for it: an app answering 502 or 503 because its
    // database is down still has a database cause.
    let any_5xx = finding.severity == Severity::Critical
        && (finding.status_codes.is_empty() || decided_by_evidence(finding.cause));
    let whole_range = any_5xx
        && (!finding.status_codes.is_empty() || matches!(finding.cause, Cause::RecentChange));
    let mut codes: Vec<u16> = if whole_range {
        (500..=599).collect()
    } else {
        finding.status_codes.clone()
    };
    // What a CDN in front answers for the same cause at the origin (and the
    // rarer codes of the 5xx range that name it).
    codes.extend_from_slice(symptoms::edge_codes(finding.cause));
    if codes.is_empty() {
        return;
    }
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

/// Causes inside the application or its dependencies: the status code the
/// application answers with is its own choice, so any 5xx is their symptom.
fn decided_by_evidence(cause: Cause) -> bool {
    matches!(
        cause,
        Cause::UnhandledException
            | Cause::DatabaseError
            | Cause::ConfigurationError
            | Cause::DependencyFailure
            | Cause::FilesystemError
            | Cause::MemoryExhaustion
            | Cause::DependencyUnavailable
            | Cause::DatabaseQueryTimeout
            | Cause::ExternalApiLatency
    )
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
    fn port_prefix_is_not_the_same_upstream() {
        let found = facts_from_toml(include_str!(
            "../../tests/fixtures/rules/port-prefix-collision.toml"
        ));
        assert_eq!(found[0].cause, Cause::UpstreamNotRunning);
        assert!(
            !found[0].evidence.iter().any(|e| e.probe == "log:proxy"),
            "the :30001 lines are not about :3000: {:?}",
            found[0].evidence
        );
    }

    #[test]
    fn one_name_seen_by_three_probes_is_one_finding_citing_all() {
        let found = facts_from_toml(include_str!(
            "../../tests/fixtures/rules/dns-seen-by-three-probes.toml"
        ));
        let dns: Vec<_> = found
            .iter()
            .filter(|f| f.cause == Cause::DnsResolutionFailure)
            .collect();
        assert_eq!(dns.len(), 1, "{found:?}");
        for probe in ["dns:app.internal", "upstream:app", "log:proxy"] {
            assert!(
                dns[0].evidence.iter().any(|e| e.probe == probe),
                "{probe}: {dns:?}"
            );
        }
    }

    #[test]
    fn advice_behind_haproxy_uses_haproxy_words() {
        let found = facts_from_toml(include_str!(
            "../../tests/fixtures/rules/haproxy-timeout-server-too-short.toml"
        ));
        let f = &found[0];
        assert_eq!(f.cause, Cause::ProxyTimeoutTooShort);
        let text = format!("{:?} {:?}", f.evidence, f.remediation);
        assert!(text.contains("timeout server"), "{text}");
        assert!(text.contains("haproxy -c -f"), "{text}");
        assert!(
            !text.contains("proxy_read_timeout") && !text.contains("nginx"),
            "{text}"
        );
    }

    #[test]
    fn behind_apache_a_refused_backend_is_a_503_not_overload() {
        let found = facts_from_toml(include_str!(
            "../../tests/fixtures/rules/apache-refused-503.toml"
        ));
        let f = &found[0];
        assert_eq!(f.cause, Cause::UpstreamNotRunning, "{found:?}");
        assert!(f.status_codes.contains(&503), "{f:?}");
        assert!(
            f.evidence.iter().any(|e| e.probe == "endpoint:public"),
            "{f:?}"
        );
        assert!(
            !found
                .iter()
                .any(|x| matches!(x.cause, Cause::ServerOverload | Cause::Unclassified)),
            "{found:?}"
        );
        let text = format!("{:?}", f.remediation);
        assert!(!text.contains("nginx -t"), "{text}");
    }

    #[test]
    fn behind_apache_a_dns_failure_is_a_500_not_an_exception() {
        let found = facts_from_toml(include_str!(
            "../../tests/fixtures/rules/apache-dns-500.toml"
        ));
        let f = &found[0];
        assert_eq!(f.cause, Cause::DnsResolutionFailure, "{found:?}");
        assert!(
            f.evidence.iter().any(|e| e.probe == "endpoint:public"),
            "{f:?}"
        );
        assert!(
            !found
                .iter()
                .any(|x| matches!(x.cause, Cause::UnhandledException | Cause::Unclassified)),
            "{found:?}"
        );
    }

    #[test]
    fn healthy_host_has_no_findings() {
        let found = facts_from_toml(include_str!("../../tests/fixtures/rules/healthy.toml"));
        assert!(found.is_empty(), "{found:?}");
    }
}

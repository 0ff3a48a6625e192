//! Every signal a probe classifies, and where it goes: a cause whose rule
//! reads it, or evidence only — with why (listed in `docs/rules.md`). The
//! tables are exhaustive matches, so a kind added to a classifier does not
//! compile until someone decides what it means; a test checks each claim
//! against the rules' source and the docs. It decides no cause itself.

use why5xx_probes::FailureKind as Fk;
use why5xx_probes::logs::app::SignatureKind as Sig;
use why5xx_probes::logs::proxy_error::ProxyErrorKind as Pe;

use crate::model::causes::Cause as C;

/// Where a classified signal goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// Read by name in the rules of these causes.
    Rule(&'static [C]),
    /// Read through a probe's failure as a whole (any failure of a
    /// dependency or upstream probe), by these causes' rules.
    AnyFailure(&'static [C]),
    /// Evidence only: shown in the probe table and in `unclassified`, never
    /// the basis of a named cause — the reason is in `docs/rules.md`.
    Evidence,
}

macro_rules! table {
    ($fn:ident, $all:ident, $enum:ident { $($v:ident => $use:expr,)* }) => {
        /// Where each kind goes (an exhaustive match: a new kind must be placed).
        pub fn $fn(k: $enum) -> Use {
            match k { $($enum::$v => $use,)* }
        }
        /// Every kind, with its variant name.
        pub const $all: &[($enum, &str)] = &[$(($enum::$v, stringify!($v)),)*];
    };
}

table!(proxy_error, PROXY_ERRORS, Pe {
    ConnectRefused => Use::Rule(&[C::UpstreamNotRunning, C::ProxyMisconfiguration]),
    UnixSocketMissing => Use::Rule(&[C::ProxyMisconfiguration]),
    ConnectPermissionDenied => Use::Rule(&[C::ProxyMisconfiguration]),
    ConnectOther => Use::Evidence,
    PrematurelyClosed => Use::Rule(&[C::UpstreamCrashed]),
    UpstreamTimedOut => Use::Rule(&[C::SlowBackend, C::ProxyTimeoutTooShort]),
    NoLiveUpstreams => Use::Rule(&[C::UpstreamNotRunning]),
    CouldNotResolve => Use::Rule(&[C::DnsResolutionFailure]),
    ResolverFailed => Use::Rule(&[C::DnsResolutionFailure]),
    SslHandshakeFailed => Use::Rule(&[C::TlsProtocolMismatch]),
    SslPeerClosedHandshake => Use::Rule(&[C::TlsProtocolMismatch]),
    InvalidHeader => Use::Rule(&[C::TlsProtocolMismatch]),
    TooBigHeader => Use::Rule(&[C::ProxyMisconfiguration]),
    LimitingRequests => Use::Rule(&[C::ServerOverload]),
    LimitingConnections => Use::Rule(&[C::ServerOverload]),
    TooManyOpenFiles => Use::Rule(&[C::ResourceExhaustion]),
    NoSpace => Use::Rule(&[C::FilesystemError]),
    WorkerConnections => Use::Rule(&[C::ResourceExhaustion]),
    ServerDown => Use::Rule(&[C::UpstreamNotRunning]),
    QueueTimeout => Use::Rule(&[C::ServerOverload]),
    WorkerDisabled => Use::Evidence,
    AllWorkersBusy => Use::Evidence,
    FastcgiDispatch => Use::Evidence,
});

table!(signature, SIGNATURES, Sig {
    DatabaseConnectionRefused => Use::Rule(&[C::DatabaseError, C::DependencyUnavailable]),
    PoolExhausted => Use::Rule(&[C::DatabaseError]),
    QueryTimeout => Use::Rule(&[C::DatabaseQueryTimeout]),
    Deadlock => Use::Rule(&[C::DatabaseError]),
    SchemaMismatch => Use::Rule(&[C::DatabaseError]),
    MissingEnv => Use::Rule(&[C::ConfigurationError]),
    PermissionDenied => Use::Rule(&[C::FilesystemError]),
    NoSpace => Use::Rule(&[C::FilesystemError]),
    TooManyOpenFiles => Use::Rule(&[C::ResourceExhaustion]),
    OutOfMemory => Use::Rule(&[C::MemoryExhaustion]),
    ExternalCallTimeout => Use::Rule(&[C::ExternalApiLatency]),
    TemplateNotFound => Use::Rule(&[C::FilesystemError]),
    ConnectionRefusedOther => Use::Rule(&[C::DependencyFailure, C::DependencyUnavailable]),
});

table!(failure, FAILURES, Fk {
    NxDomain => Use::Rule(&[C::DnsResolutionFailure]),
    NoRecords => Use::Rule(&[C::DnsResolutionFailure]),
    ServFail => Use::Rule(&[C::DnsResolutionFailure]),
    DnsRefused => Use::Rule(&[C::DnsResolutionFailure]),
    DnsError => Use::AnyFailure(&[C::DnsResolutionFailure]),
    Refused => Use::Rule(&[C::UpstreamNotRunning, C::ProxyMisconfiguration]),
    Unreachable => Use::AnyFailure(&[C::DependencyUnavailable, C::DependencyFailure]),
    Reset => Use::Rule(&[C::UpstreamCrashed]),
    ClosedBeforeResponse => Use::Rule(&[C::UpstreamCrashed]),
    Timeout => Use::Rule(&[C::SlowBackend, C::ExternalApiLatency, C::DnsResolutionFailure]),
    TlsHandshake => Use::Evidence,
    CertificateRejected => Use::Evidence,
    PlainHttpOnTls => Use::Rule(&[C::TlsProtocolMismatch]),
    TlsOnPlainHttp => Use::Rule(&[C::TlsProtocolMismatch]),
    InvalidResponse => Use::Evidence,
    LimitExceeded => Use::AnyFailure(&[C::DependencyUnavailable, C::DependencyFailure]),
    AuthenticationFailed => Use::Rule(&[C::ConfigurationError]),
    Unavailable => Use::AnyFailure(&[C::DependencyUnavailable, C::DatabaseError]),
    PermissionDenied => Use::Evidence,
    NotFound => Use::Evidence,
    Other => Use::Evidence,
});

#[cfg(test)]
mod tests {
    use super::*;

    /// The rules' source, where a `Rule` claim must be visible.
    fn rules_source() -> String {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/rules");
        [
            "r500.rs",
            "r502.rs",
            "r503.rs",
            "r504.rs",
            "checklist.rs",
            "evidence.rs",
        ]
        .iter()
        .map(|f| std::fs::read_to_string(dir.join(f)).unwrap())
        .collect()
    }

    fn docs() -> String {
        std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/rules.md"),
        )
        .unwrap()
    }

    fn check(prefix: &str, all: &[(Use, &str)], src: &str, docs: &str) -> Vec<String> {
        let mut wrong = Vec::new();
        for (u, name) in all {
            match u {
                Use::Rule(causes) | Use::AnyFailure(causes) => {
                    for c in *causes {
                        if !crate::rules::has_rules(*c) {
                            wrong.push(format!("{prefix}::{name}: {c} has no rule"));
                        }
                    }
                    if matches!(u, Use::Rule(_)) && !src.contains(&format!("{prefix}::{name}")) {
                        wrong.push(format!(
                            "{prefix}::{name}: claimed by a rule, but no rule reads it"
                        ));
                    }
                }
                Use::Evidence => {
                    if !docs.contains(&format!("`{prefix}::{name}`")) {
                        wrong.push(format!(
                            "{prefix}::{name}: evidence only, but docs/rules.md does not say why"
                        ));
                    }
                }
            }
        }
        wrong
    }

    #[test]
    fn every_classified_signal_reaches_a_cause_or_is_documented_as_evidence() {
        let (src, docs) = (rules_source(), docs());
        let mut wrong = check(
            "Pe",
            &PROXY_ERRORS
                .iter()
                .map(|(k, n)| (proxy_error(*k), *n))
                .collect::<Vec<_>>(),
            &src,
            &docs,
        );
        wrong.extend(check(
            "Sig",
            &SIGNATURES
                .iter()
                .map(|(k, n)| (signature(*k), *n))
                .collect::<Vec<_>>(),
            &src,
            &docs,
        ));
        wrong.extend(check(
            "FailureKind",
            &FAILURES
                .iter()
                .map(|(k, n)| (failure(*k), *n))
                .collect::<Vec<_>>(),
            &src,
            &docs,
        ));
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }
}

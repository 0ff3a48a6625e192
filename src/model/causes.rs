//! The cause ids of docs/contract.md: one per root cause the troubleshooting guide
//! names, with the guide section and the status codes it explains.

use serde::{Deserialize, Serialize};

/// A root cause the guide names. The serialized form is the stable id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cause {
    // 500
    UnhandledException,
    DatabaseError,
    ConfigurationError,
    DependencyFailure,
    FilesystemError,
    MemoryExhaustion,
    // 502
    UpstreamCrashed,
    UpstreamNotRunning,
    ProxyMisconfiguration,
    TlsProtocolMismatch,
    DnsResolutionFailure,
    // 503
    ServerOverload,
    Maintenance,
    ResourceExhaustion,
    DependencyUnavailable,
    DeploymentInProgress,
    // 504
    SlowBackend,
    DatabaseQueryTimeout,
    ExternalApiLatency,
    ProxyTimeoutTooShort,
    NetworkLatency,
    // checklist
    TlsCertificateExpired,
    TlsCertificateExpiring,
    TlsCertificateInvalid,
    RecentChange,
    DiskFull,
    /// Not in the guide: a probe failed and no rule could name why. Kept so a
    /// failure is never silently dropped from the verdict.
    Unclassified,
}

/// What the catalogue says of a cause.
pub struct CauseInfo {
    pub cause: Cause,
    pub id: &'static str,
    pub guide_section: &'static str,
    pub status_codes: &'static [u16],
    /// The guide's words, for `why5xx rules`.
    pub words: &'static str,
}

macro_rules! causes {
    ($($cause:ident, $id:literal, $section:literal, [$($code:literal),*], $words:literal;)*) => {
        /// Every cause in guide order.
        pub const CATALOGUE: &[CauseInfo] = &[
            $(CauseInfo { cause: Cause::$cause, id: $id, guide_section: $section, status_codes: &[$($code),*], words: $words },)*
        ];
    };
}

causes! {
    UnhandledException, "unhandled-exception", "500 Internal Server Error", [500], "an error not caught by any handler";
    DatabaseError, "database-error", "500 Internal Server Error", [500], "pool exhaustion, query timeouts, deadlocks, schema mismatch, database unreachable";
    ConfigurationError, "configuration-error", "500 Internal Server Error", [500], "missing or wrong environment variables, invalid config files, bad credentials";
    DependencyFailure, "dependency-failure", "500 Internal Server Error", [500], "a third-party API or internal service fails and it is not handled";
    FilesystemError, "filesystem-error", "500 Internal Server Error", [500], "permissions, full disk, missing template files";
    MemoryExhaustion, "memory-exhaustion", "500 Internal Server Error", [500], "out of memory while handling a request";
    UpstreamCrashed, "upstream-crashed", "502 Bad Gateway", [502], "the application server crashed";
    UpstreamNotRunning, "upstream-not-running", "502 Bad Gateway", [502], "not started, failed to bind its port, or killed by the OOM killer";
    ProxyMisconfiguration, "proxy-misconfiguration", "502 Bad Gateway", [502], "the proxy forwards to the wrong host, port or socket";
    TlsProtocolMismatch, "tls-protocol-mismatch", "502 Bad Gateway", [502], "proxy speaks HTTP to an HTTPS upstream, or the reverse";
    DnsResolutionFailure, "dns-resolution-failure", "502 Bad Gateway", [502], "the proxy cannot resolve the upstream's hostname";
    ServerOverload, "server-overload", "503 Service Unavailable", [503], "more requests than it can handle (spike, rate limiting, attack)";
    Maintenance, "maintenance", "503 Service Unavailable", [503], "taken offline on purpose";
    ResourceExhaustion, "resource-exhaustion", "503 Service Unavailable", [503], "CPU, memory or file-descriptor limits reached";
    DependencyUnavailable, "dependency-unavailable", "503 Service Unavailable", [503], "a critical dependency (database, cache, API) is down";
    DeploymentInProgress, "deployment-in-progress", "503 Service Unavailable", [503], "old instances stopping, new ones not yet healthy";
    SlowBackend, "slow-backend", "504 Gateway Timeout", [504], "the application takes too long to respond";
    DatabaseQueryTimeout, "database-query-timeout", "504 Gateway Timeout", [504], "a query is locked, unindexed or the database is overloaded";
    ExternalApiLatency, "external-api-latency", "504 Gateway Timeout", [504], "a synchronous call to a slow external API";
    ProxyTimeoutTooShort, "proxy-timeout-too-short", "504 Gateway Timeout", [504], "the proxy's timeout is shorter than the endpoint legitimately needs";
    NetworkLatency, "network-latency", "504 Gateway Timeout", [504], "high latency between proxy and application";
    TlsCertificateExpired, "tls-certificate-expired", "General Troubleshooting Checklist", [], "the certificate has expired";
    TlsCertificateExpiring, "tls-certificate-expiring", "General Troubleshooting Checklist", [], "the certificate expires within the warning window";
    TlsCertificateInvalid, "tls-certificate-invalid", "General Troubleshooting Checklist", [], "wrong hostname, untrusted chain, or otherwise unverifiable";
    RecentChange, "recent-change", "General Troubleshooting Checklist", [], "a deployment or configuration change just before the errors";
    DiskFull, "disk-full", "General Troubleshooting Checklist", [], "a filesystem is full or nearly so";
    Unclassified, "unclassified", "General Troubleshooting Checklist", [], "a probe failed and no rule names the cause (not a guide cause)";
}

impl Cause {
    /// The catalogue entry.
    pub fn info(self) -> &'static CauseInfo {
        CATALOGUE
            .iter()
            .find(|c| c.cause == self)
            .unwrap_or(&CATALOGUE[CATALOGUE.len() - 1])
    }

    /// The stable id, as in docs/contract.md.
    pub fn id(self) -> &'static str {
        self.info().id
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_ids_match_serde_ids_and_are_complete() {
        assert_eq!(CATALOGUE.len(), 27);
        for c in CATALOGUE {
            let json = serde_json::to_string(&c.cause).unwrap();
            assert_eq!(json, format!("\"{}\"", c.id));
        }
    }

    #[test]
    fn the_contract_names_every_cause_id() {
        let contract = include_str!("../../docs/contract.md");
        for c in CATALOGUE {
            assert!(
                contract.contains(&format!("`{}`", c.id)),
                "docs/contract.md does not name {}",
                c.id
            );
        }
    }
}

//! The dns probe: A and AAAA lookups of one name through the system
//! configuration or an explicit server, with NXDOMAIN, SERVFAIL, REFUSED,
//! an empty answer and a timeout told apart, and the answer compared with
//! the addresses expected.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{Failure, Millis, ProbeContext};

/// A lookup to make.
#[derive(Debug, Clone)]
pub struct DnsSpec {
    /// The name to resolve.
    pub name: String,
    /// Ask this server (UDP, then TCP on truncation) instead of the system's.
    pub server: Option<SocketAddr>,
    /// Addresses the answer should contain; empty means no expectation.
    pub expect: Vec<IpAddr>,
    /// Budget for both lookups together.
    pub timeout: Duration,
}

/// One record type's lookup.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Lookup {
    pub addresses: Vec<IpAddr>,
    pub latency: Millis,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub failure: Option<Failure>,
}

/// What the lookups saw.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DnsObservation {
    /// `system` or the server's address.
    pub server: String,
    pub a: Lookup,
    pub aaaa: Lookup,
    /// Expected addresses absent from the answer.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub missing: Vec<IpAddr>,
    /// Addresses in the answer that were not expected (only when `expect` is set).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub unexpected: Vec<IpAddr>,
    /// The failure that decides the outcome: set when neither type gave an
    /// address (the more telling of the two failures: NXDOMAIN over NODATA).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub failure: Option<Failure>,
}

impl DnsObservation {
    /// Every address found, A then AAAA.
    pub fn addresses(&self) -> impl Iterator<Item = &IpAddr> {
        self.a.addresses.iter().chain(self.aaaa.addresses.iter())
    }
}

/// The system resolver, built once per run from `/etc/resolv.conf`.
#[derive(Debug)]
pub struct SystemResolver {
    /// Why it could not be built, if it could not.
    pub error: Option<String>,
}

impl SystemResolver {
    /// Build from the system configuration.
    pub fn from_system() -> Self {
        Self { error: None }
    }
}

/// Resolve `spec.name`.
pub async fn run(spec: &DnsSpec, ctx: &ProbeContext) -> DnsObservation {
    let _ = (spec, ctx.resolver().await);
    DnsObservation {
        failure: Some(Failure::new(
            crate::FailureKind::Other,
            crate::Phase::Local,
            "dns probe not built yet",
        )),
        ..DnsObservation::default()
    }
}

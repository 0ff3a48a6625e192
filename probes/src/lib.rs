//! why5xx-probes: independent async probes that measure one thing each and
//! return typed observations.
//!
//! This crate knows nothing of causes, severities or output formats: a probe
//! never decides whether what it saw is bad, and it never fails — a refused
//! connection, a timeout or NXDOMAIN is a classified [`Failure`] inside its
//! observation. The agent (the `why5xx` binary) turns observations into
//! statuses and findings.

pub mod changes;
pub mod context;
pub mod dns;
pub mod environ;
pub mod failure;
pub mod flags;
pub mod http;
pub mod logs;
mod net;
pub mod oom;
pub mod port;
pub mod postgres;
pub mod process;
pub mod procfs;
pub mod proxy;
pub mod redis;
pub mod redact;
pub mod system;
pub mod tcp;
pub mod tls;
pub mod units;

use serde::{Deserialize, Serialize};

pub use context::ProbeContext;
pub use failure::{Failure, FailureKind, Phase};
pub use units::Millis;

/// What to probe: the closed set of probe kinds. Adding a probe is one module
/// and one variant here; every `match` on it in the agent then stops compiling
/// until it handles the new kind.
#[derive(Debug, Clone)]
pub enum ProbeSpec {
    /// One direct HTTP(S) request.
    Http(http::HttpSpec),
    /// A and AAAA lookups of one name.
    Dns(dns::DnsSpec),
    /// A TLS handshake and the peer's certificate chain.
    Tls(tls::TlsSpec),
    /// Load, memory, swap, file handles and pressure stall information.
    System(system::SystemSpec),
    /// Space and inodes of one filesystem.
    Disk(system::DiskSpec),
    /// Processes matched by name, command line or pidfile.
    Process(process::ProcessSpec),
    /// Who listens on one TCP port, and does it accept a connection.
    Port(port::PortSpec),
    /// Every listening TCP socket on the host with its owning process.
    Listeners(port::ListenersSpec),
    /// A TCP connection to a host and port (a database, a cache).
    Tcp(tcp::TcpSpec),
}

impl ProbeSpec {
    /// The kind's stable name, as used in reports.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Http(_) => "http",
            Self::Dns(_) => "dns",
            Self::Tls(_) => "tls",
            Self::System(_) => "system",
            Self::Disk(_) => "disk",
            Self::Process(_) => "process",
            Self::Port(_) => "port",
            Self::Listeners(_) => "listeners",
            Self::Tcp(_) => "tcp",
        }
    }

    /// The probe's own time budget; the runner also enforces it from outside.
    pub fn timeout(&self) -> std::time::Duration {
        match self {
            Self::Http(s) => s.timeout,
            Self::Dns(s) => s.timeout,
            Self::Tls(s) => s.timeout,
            Self::Port(s) => s.timeout,
            Self::Tcp(s) => s.timeout,
            Self::System(_) | Self::Disk(_) | Self::Process(_) | Self::Listeners(_) => {
                context::LOCAL_PROBE_TIMEOUT
            }
        }
    }

    /// Run the probe. It never fails: failures are observations.
    pub async fn run(&self, ctx: &ProbeContext) -> Observation {
        match self {
            Self::Http(s) => Observation::Http(http::run(s, ctx).await),
            Self::Dns(s) => Observation::Dns(dns::run(s, ctx).await),
            Self::Tls(s) => Observation::Tls(tls::run(s, ctx).await),
            Self::System(s) => Observation::System(system::run(s, ctx).await),
            Self::Disk(s) => Observation::Disk(system::run_disk(s, ctx).await),
            Self::Process(s) => Observation::Process(process::run(s, ctx).await),
            Self::Port(s) => Observation::Port(port::run(s, ctx).await),
            Self::Listeners(s) => Observation::Listeners(port::run_listeners(s, ctx).await),
            Self::Tcp(s) => Observation::Tcp(tcp::run(s, ctx).await),
        }
    }
}

/// What a probe saw, one variant per probe kind. Serialized adjacently
/// tagged: `{"kind": "http", "observations": {...}}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", content = "observations", rename_all = "snake_case")]
#[expect(
    clippy::large_enum_variant,
    reason = "one observation per probe, moved once; boxing buys nothing"
)]
pub enum Observation {
    Http(http::HttpObservation),
    Dns(dns::DnsObservation),
    Tls(tls::TlsObservation),
    System(system::SystemObservation),
    Disk(system::DiskObservation),
    Process(process::ProcessObservation),
    Port(port::PortObservation),
    Listeners(port::ListenersObservation),
    Tcp(tcp::TcpObservation),
}

impl Observation {
    /// The kind's stable name, the same as [`ProbeSpec::kind`].
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Http(_) => "http",
            Self::Dns(_) => "dns",
            Self::Tls(_) => "tls",
            Self::System(_) => "system",
            Self::Disk(_) => "disk",
            Self::Process(_) => "process",
            Self::Port(_) => "port",
            Self::Listeners(_) => "listeners",
            Self::Tcp(_) => "tcp",
        }
    }
}

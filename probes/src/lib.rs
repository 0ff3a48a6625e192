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
pub mod haproxy_stats;
pub mod http;
pub mod logs;
mod net;
pub mod oom;
pub mod port;
pub mod postgres;
pub mod process;
pub mod procfs;
pub mod proxy;
pub mod redact;
pub mod redis;
pub mod system;
pub mod tcp;
pub mod tls;
pub mod units;

use serde::{Deserialize, Serialize};

pub use context::ProbeContext;
pub use failure::{Failure, FailureKind, Phase};
pub use units::Millis;

/// Declares the closed set of probe kinds: the spec enum, the observation
/// enum, each kind's stable name and how each runs. Adding a probe is one
/// module and one line here; every `match` on the enums in the agent then
/// stops compiling until it handles the new kind.
macro_rules! probes {
    ($($(#[$doc:meta])* $variant:ident($spec:ty) -> $obs:ty = $name:literal, |$s:ident, $ctx:ident| $run:expr;)*) => {
        /// What to probe.
        #[derive(Debug, Clone)]
        pub enum ProbeSpec {
            $($(#[$doc])* $variant($spec),)*
        }

        /// What a probe saw, one variant per probe kind. Serialized adjacently
        /// tagged: `{"kind": "http", "observations": {...}}`.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "kind", content = "observations")]
        #[expect(
            clippy::large_enum_variant,
            reason = "one observation per probe, moved once; boxing buys nothing"
        )]
        pub enum Observation {
            $(#[serde(rename = $name)] $variant($obs),)*
        }

        impl ProbeSpec {
            /// The kind's stable name, as used in reports.
            pub fn kind(&self) -> &'static str {
                match self {
                    $(Self::$variant(_) => $name,)*
                }
            }

            /// Run the probe. It never fails: failures are observations.
            pub async fn run(&self, ctx: &ProbeContext) -> Observation {
                match self {
                    $(Self::$variant($s) => { let $ctx = ctx; Observation::$variant($run.await) })*
                }
            }
        }

        impl Observation {
            /// The kind's stable name, the same as [`ProbeSpec::kind`].
            pub fn kind(&self) -> &'static str {
                match self {
                    $(Self::$variant(_) => $name,)*
                }
            }
        }
    };
}

probes! {
    /// One direct HTTP(S) request.
    Http(http::HttpSpec) -> http::HttpObservation = "http", |s, ctx| http::run(s, ctx);
    /// A and AAAA lookups of one name.
    Dns(dns::DnsSpec) -> dns::DnsObservation = "dns", |s, ctx| dns::run(s, ctx);
    /// A TLS handshake and the peer's certificate chain.
    Tls(tls::TlsSpec) -> tls::TlsObservation = "tls", |s, ctx| tls::run(s, ctx);
    /// Load, memory, swap, file handles and pressure stall information.
    System(system::SystemSpec) -> system::SystemObservation = "system", |s, ctx| system::run(s, ctx);
    /// Space and inodes of one filesystem.
    Disk(system::DiskSpec) -> system::DiskObservation = "disk", |s, ctx| system::run_disk(s, ctx);
    /// Processes matched by name, command line or pidfile.
    Process(process::ProcessSpec) -> process::ProcessObservation = "process", |s, ctx| process::run(s, ctx);
    /// Who listens on one TCP port, and does it accept a connection.
    Port(port::PortSpec) -> port::PortObservation = "port", |s, ctx| port::run(s, ctx);
    /// Every listening TCP socket on the host with its owning process.
    Listeners(port::ListenersSpec) -> port::ListenersObservation = "listeners", |s, ctx| port::run_listeners(s, ctx);
    /// A TCP connection to a host and port (a database, a cache).
    Tcp(tcp::TcpSpec) -> tcp::TcpObservation = "tcp", |s, ctx| tcp::run(s, ctx);
    /// A `PostgreSQL` server: does it answer, and what waits on locks.
    Postgres(postgres::PostgresSpec) -> postgres::PostgresObservation = "postgres", |s, ctx| postgres::run(s, ctx);
    /// A Redis server: PING and INFO.
    Redis(redis::RedisSpec) -> redis::RedisObservation = "redis", |s, ctx| redis::run(s, ctx);
    /// The reverse proxy's configuration, as a model.
    Proxy(proxy::ProxySpec) -> proxy::ProxyObservation = "proxy", |s, ctx| proxy::run(s, ctx);
    /// The tail of the reverse proxy's error log, classified.
    ProxyErrorLog(logs::ProxyErrorLogSpec) -> logs::ProxyErrorLogObservation = "proxy_error_log", |s, ctx| logs::run_proxy_error_log(s, ctx);
    /// What users got in the window, from the proxy's access log.
    AccessLog(logs::AccessLogSpec) -> logs::AccessLogObservation = "access_log", |s, ctx| logs::run_access_log(s, ctx);
    /// The tail of an application's log: the last exception, error signatures.
    AppLog(logs::AppLogSpec) -> logs::AppLogObservation = "app_log", |s, ctx| logs::run_app_log(s, ctx);
    /// Which required environment variable names a process lacks.
    Environ(environ::EnvironSpec) -> environ::EnvironObservation = "environ", |s, ctx| environ::run(s, ctx);
    /// OOM kills in the kernel log.
    Oom(oom::OomSpec) -> oom::OomObservation = "oom", |s, ctx| oom::run(s, ctx);
    /// When a deployment path last changed.
    Deploy(changes::DeploySpec) -> changes::DeployObservation = "deploy", |s, ctx| changes::run(s, ctx);
    /// HAProxy's runtime API: `show stat` over its stats socket.
    HaproxyStats(haproxy_stats::HaproxyStatsSpec) -> haproxy_stats::HaproxyStatsObservation = "haproxy_stats", |s, ctx| haproxy_stats::run(s, ctx);
    /// Maintenance flag files, present or not.
    Flags(flags::FlagsSpec) -> flags::FlagsObservation = "flags", |s, ctx| flags::run(s, ctx);
}

impl ProbeSpec {
    /// The probe's own time budget; the runner also enforces it from outside.
    pub fn timeout(&self) -> std::time::Duration {
        match self {
            Self::Http(s) => s.timeout,
            Self::Dns(s) => s.timeout,
            Self::Tls(s) => s.timeout,
            Self::Port(s) => s.timeout,
            Self::Tcp(s) => s.timeout,
            Self::Postgres(s) => s.timeout,
            Self::Redis(s) => s.timeout,
            Self::HaproxyStats(s) => s.timeout,
            Self::Process(s) => context::LOCAL_PROBE_TIMEOUT + s.watch.unwrap_or_default(),
            Self::AccessLog(s) => s.budget + context::LOCAL_PROBE_TIMEOUT,
            Self::System(_)
            | Self::Disk(_)
            | Self::Listeners(_)
            | Self::Proxy(_)
            | Self::ProxyErrorLog(_)
            | Self::AppLog(_)
            | Self::Environ(_)
            | Self::Oom(_)
            | Self::Deploy(_)
            | Self::Flags(_) => context::LOCAL_PROBE_TIMEOUT,
        }
    }
}

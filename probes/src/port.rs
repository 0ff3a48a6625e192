//! The port and listeners probes: who listens on a TCP port, from
//! `/proc/net/tcp` and `tcp6` with socket inodes mapped to pids through
//! `/proc/*/fd`, and whether a connection to it is accepted.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{Failure, Millis, ProbeContext};

/// Look at one port.
#[derive(Debug, Clone)]
pub struct PortSpec {
    pub port: u16,
    /// Where to test a connection; default: the loopback address matching
    /// the listener's family, 127.0.0.1 when nothing listens.
    pub host: Option<IpAddr>,
    pub timeout: Duration,
}

/// List every listening socket.
#[derive(Debug, Clone, Default)]
pub struct ListenersSpec {}

/// The process owning a socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    pub pid: u32,
    pub name: String,
}

/// One listening TCP socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listener {
    pub local: SocketAddr,
    pub inode: u64,
    pub uid: u32,
    /// Connections waiting to be accepted now (`rx_queue` of a listener).
    pub accept_queue: u32,
    /// The accept queue's limit, the listen backlog (`tx_queue` of a listener).
    pub backlog: u32,
    /// Every process holding the socket (pre-fork servers share it).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub owners: Vec<Owner>,
}

/// The listening sockets of the host, read once per run.
#[derive(Debug, Clone, Default)]
pub struct SocketTable {
    pub listeners: Vec<Listener>,
    /// False when some `/proc/PID/fd` could not be read (not root), so some
    /// owners may be missing.
    pub owners_complete: bool,
    pub failure: Option<Failure>,
}

impl SocketTable {
    /// Read `/proc/net/tcp`, `/proc/net/tcp6` and map inodes to processes.
    pub fn read() -> Self {
        Self::default()
    }

    /// A table that could not be read at all.
    pub fn failed(reason: &str) -> Self {
        Self {
            failure: Some(Failure::new(
                crate::FailureKind::Other,
                crate::Phase::Local,
                reason,
            )),
            ..Self::default()
        }
    }
}

/// The connect test's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectTest {
    pub addr: SocketAddr,
    pub accepted: bool,
    pub latency: Millis,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub failure: Option<Failure>,
}

/// What the port probe saw.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PortObservation {
    pub port: u16,
    /// Sockets listening on the port (any address, both families).
    pub listeners: Vec<Listener>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub connect: Option<ConnectTest>,
    /// False when some owners could not be seen (not root).
    pub owners_complete: bool,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub failure: Option<Failure>,
}

/// What the listeners probe saw.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ListenersObservation {
    pub listeners: Vec<Listener>,
    pub owners_complete: bool,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub failure: Option<Failure>,
}

/// Look at `spec.port`.
pub async fn run(spec: &PortSpec, ctx: &ProbeContext) -> PortObservation {
    let _ = ctx.sockets().await;
    PortObservation {
        port: spec.port,
        ..PortObservation::default()
    }
}

/// List every listening socket.
pub async fn run_listeners(spec: &ListenersSpec, ctx: &ProbeContext) -> ListenersObservation {
    let _ = spec;
    let table = ctx.sockets().await;
    ListenersObservation {
        listeners: table.listeners.clone(),
        owners_complete: table.owners_complete,
        failure: table.failure.clone(),
    }
}

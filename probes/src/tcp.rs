//! The tcp probe: resolve a host and open a TCP connection to it, timing
//! both — what `nc -z` tells a person about a database or cache port.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::net::TcpStream;
use tokio::time::timeout_at;

use crate::{Failure, FailureKind, Millis, Phase, ProbeContext};

/// A connection to open.
#[derive(Debug, Clone)]
pub struct TcpSpec {
    pub host: String,
    pub port: u16,
    pub timeout: Duration,
}

/// What the connection attempt saw.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TcpObservation {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub remote_addr: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub dns: Option<Millis>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub connect: Option<Millis>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub failure: Option<Failure>,
}

/// Resolve `spec.host` and connect to the first address that accepts.
pub async fn run(spec: &TcpSpec, _ctx: &ProbeContext) -> TcpObservation {
    let start = Instant::now();
    let deadline = tokio::time::Instant::from_std(start + spec.timeout);
    let mut obs = TcpObservation::default();
    let host = spec.host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = if let Ok(ip) = host.parse::<IpAddr>() {
        vec![SocketAddr::new(ip, spec.port)]
    } else {
        let t = Instant::now();
        let res = timeout_at(deadline, tokio::net::lookup_host((host, spec.port))).await;
        obs.dns = Some(t.elapsed().into());
        match res {
            Err(_) => {
                obs.failure = Some(Failure::timeout(
                    Phase::Dns,
                    format!("resolving {host} timed out"),
                ));
                return obs;
            }
            Ok(Err(e)) => {
                let kind = if e.to_string().contains("not known")
                    || e.to_string().contains("No address")
                {
                    FailureKind::NxDomain
                } else {
                    FailureKind::DnsError
                };
                obs.failure = Some(Failure::new(
                    kind,
                    Phase::Dns,
                    format!("resolving {host}: {e}"),
                ));
                return obs;
            }
            Ok(Ok(a)) => a.collect(),
        }
    };
    let t = Instant::now();
    let mut last = None;
    for addr in addrs {
        match timeout_at(deadline, TcpStream::connect(addr)).await {
            Err(_) => {
                obs.connect = Some(t.elapsed().into());
                obs.failure = Some(Failure::timeout(
                    Phase::Connect,
                    format!("connect to {addr} timed out"),
                ));
                return obs;
            }
            Ok(Ok(_stream)) => {
                obs.connect = Some(t.elapsed().into());
                obs.remote_addr = Some(addr);
                return obs;
            }
            Ok(Err(e)) => {
                last = Some(Failure::from_io(
                    &e,
                    Phase::Connect,
                    &format!("connect to {addr}"),
                ));
            }
        }
    }
    obs.connect = Some(t.elapsed().into());
    obs.failure = last.or_else(|| {
        Some(Failure::new(
            FailureKind::DnsError,
            Phase::Dns,
            format!("{host} has no address"),
        ))
    });
    obs
}

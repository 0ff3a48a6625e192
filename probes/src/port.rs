//! The port and listeners probes: who listens on a TCP port, from
//! `NETLINK_SOCK_DIAG` (else `/proc/net/tcp` and `tcp6`) with socket inodes
//! mapped to pids through `/proc/*/fd`, and whether a connection to it is
//! accepted.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::net::TcpStream;

use crate::{Failure, Millis, Phase, ProbeContext, procfs};

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
    /// The accept queue's limit, the listen backlog (as `ss -lnt` shows it
    /// in Send-Q), from `NETLINK_SOCK_DIAG`: `/proc/net/tcp` does not carry
    /// it. 0 when netlink could not be used here (then it is unknown).
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
    /// List the listening sockets and map inodes to processes in one pass
    /// over `/proc/*/fd`. Blocking: run it off the async threads.
    ///
    /// The listeners come from `NETLINK_SOCK_DIAG` asking for listening
    /// sockets only: the kernel then walks its listening hash alone, where
    /// reading `/proc/net/tcp` walks every connection on the host (70 ms
    /// with 30,000 connections, and some milliseconds even when idle).
    /// `/proc/net/tcp` and `tcp6` are the fallback when netlink is not
    /// allowed here; a missing `tcp6` (IPv6 disabled) is normal.
    pub fn read() -> Self {
        let (mut raw, v6) = match diag::listeners() {
            Ok(found) => found,
            Err(e) => {
                tracing::debug!("sock_diag: {e}; reading /proc/net/tcp");
                match procfs::read_tcp_listeners(Path::new("/proc/net/tcp")) {
                    Ok(v) => (v.into_iter().map(|s| (s, 0)).collect(), false),
                    Err(e) => {
                        return Self {
                            failure: Some(Failure::from_io(&e, Phase::Local, "read /proc/net/tcp")),
                            ..Self::default()
                        };
                    }
                }
            }
        };
        if !v6 {
            match procfs::read_tcp_listeners(Path::new("/proc/net/tcp6")) {
                Ok(v) => raw.extend(v.into_iter().map(|s| (s, 0))),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => tracing::warn!("read /proc/net/tcp6: {e}"),
            }
        }
        let wanted: HashSet<u64> = raw
            .iter()
            .map(|(s, _)| s.inode)
            .filter(|i| *i != 0)
            .collect();
        let (owners, owners_complete) = match procfs::socket_owners(&wanted) {
            Ok(o) => {
                let complete = o.complete();
                (o.by_inode, complete)
            }
            Err(e) => {
                tracing::warn!("list /proc: {e}");
                (HashMap::new(), false)
            }
        };
        let mut names: HashMap<u32, Option<String>> = HashMap::new();
        let mut listeners: Vec<Listener> = raw
            .into_iter()
            .map(|(s, backlog)| {
                let owners = owners
                    .get(&s.inode)
                    .map(|pids| {
                        pids.iter()
                            .filter_map(|pid| {
                                // A process gone since the fd scan owns nothing any more.
                                let name = names
                                    .entry(*pid)
                                    .or_insert_with(|| procfs::read_comm(*pid).ok())
                                    .clone()?;
                                Some(Owner { pid: *pid, name })
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                Listener {
                    local: s.local,
                    inode: s.inode,
                    uid: s.uid,
                    accept_queue: s.rx_queue,
                    // Known to sock_diag only: 0 (unknown) from /proc/net/tcp.
                    backlog,
                    owners,
                }
            })
            .collect();
        listeners.sort_by(|a, b| {
            (a.local.port(), a.local.ip(), a.inode).cmp(&(b.local.port(), b.local.ip(), b.inode))
        });
        Self {
            listeners,
            owners_complete,
            failure: None,
        }
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

/// Look at `spec.port`: who listens on it (from the run's socket table)
/// and whether a connection to it is accepted within `spec.timeout`.
pub async fn run(spec: &PortSpec, ctx: &ProbeContext) -> PortObservation {
    let table = ctx.sockets().await;
    let listeners: Vec<Listener> = table
        .listeners
        .iter()
        .filter(|l| l.local.port() == spec.port)
        .cloned()
        .collect();
    let ip = spec.host.unwrap_or_else(|| connect_ip(&listeners));
    let connect = connect_test(SocketAddr::new(ip, spec.port), spec.timeout).await;
    PortObservation {
        port: spec.port,
        listeners,
        connect: Some(connect),
        owners_complete: table.owners_complete,
        failure: table.failure.clone(),
    }
}

/// Where to test a connection when no host is given: through loopback
/// when a listener accepts it (a wildcard or loopback address, IPv4
/// first), else a listener's own address; 127.0.0.1 when nothing listens.
pub fn connect_ip(listeners: &[Listener]) -> IpAddr {
    listeners
        .iter()
        .map(|l| {
            let ip = l.local.ip().to_canonical();
            match ip {
                IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
                other => other,
            }
        })
        .min_by_key(|ip| (!ip.is_loopback(), ip.is_ipv6(), *ip))
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

/// Connect to `addr` within `timeout`, then close the connection.
pub async fn connect_test(addr: SocketAddr, timeout: Duration) -> ConnectTest {
    let start = Instant::now();
    let result = tokio::time::timeout(timeout, TcpStream::connect(addr)).await;
    let latency = Millis::from_duration(start.elapsed());
    let failure = match result {
        Ok(Ok(stream)) => {
            drop(stream);
            None
        }
        Ok(Err(e)) => Some(Failure::from_io(
            &e,
            Phase::Connect,
            &format!("connect to {addr}"),
        )),
        Err(_) => Some(Failure::timeout(
            Phase::Connect,
            format!(
                "connect to {addr}: no answer within {}",
                Millis::from_duration(timeout)
            ),
        )),
    };
    ConnectTest {
        addr,
        accepted: failure.is_none(),
        latency,
        failure,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn listener(local: &str) -> Listener {
        Listener {
            local: local.parse().unwrap(),
            inode: 1,
            uid: 0,
            accept_queue: 0,
            backlog: 0,
            owners: Vec::new(),
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn connect_ip_prefers_loopback_and_ipv4() {
        assert_eq!(connect_ip(&[]), ip("127.0.0.1"));
        assert_eq!(connect_ip(&[listener("0.0.0.0:80")]), ip("127.0.0.1"));
        assert_eq!(connect_ip(&[listener("[::]:80")]), ip("::1"));
        assert_eq!(connect_ip(&[listener("[::1]:80")]), ip("::1"));
        assert_eq!(
            connect_ip(&[listener("[::]:80"), listener("0.0.0.0:80")]),
            ip("127.0.0.1")
        );
        // Bound to one address: that address, loopback first.
        assert_eq!(connect_ip(&[listener("10.0.0.5:80")]), ip("10.0.0.5"));
        assert_eq!(
            connect_ip(&[listener("10.0.0.5:80"), listener("127.0.0.1:80")]),
            ip("127.0.0.1")
        );
        assert_eq!(connect_ip(&[listener("127.0.0.2:80")]), ip("127.0.0.2"));
        assert_eq!(
            connect_ip(&[listener("[2001:db8::1]:80")]),
            ip("2001:db8::1")
        );
        // An IPv4-mapped IPv6 listener is reached over IPv4.
        assert_eq!(
            connect_ip(&[listener("[::ffff:10.0.0.5]:80")]),
            ip("10.0.0.5")
        );
    }
}

/// The listening TCP sockets from the kernel's `NETLINK_SOCK_DIAG`, the
/// way `ss -lnt` reads them: only the listening hash is walked, and each
/// listener's backlog (what `ss` shows as Send-Q, which `/proc/net/tcp`
/// does not carry) comes with it.
mod diag {
    use std::io;
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
    use std::time::Duration;

    use rustix::net::netlink::{self, SocketAddrNetlink};
    use rustix::net::sockopt::{Timeout, set_socket_timeout};
    use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketType};

    use crate::procfs::{RawSocket, TCP_LISTEN as TCP_LISTEN_STATE};

    /// `SOCK_DIAG_BY_FAMILY`.
    const SOCK_DIAG_BY_FAMILY: u16 = 20;
    const NLM_F_REQUEST: u16 = 0x1;
    const NLM_F_DUMP: u16 = 0x300;
    const NLMSG_ERROR: u16 = 2;
    const NLMSG_DONE: u16 = 3;
    const NLMSG_HDRLEN: usize = 16;
    /// `struct inet_diag_msg`.
    const INET_DIAG_MSG_LEN: usize = 72;
    const IPPROTO_TCP: u8 = 6;
    const TCP_LISTEN: u32 = 10;
    const AF_INET: u8 = 2;
    const AF_INET6: u8 = 10;
    /// At most this many replies are read for one family: a dump of
    /// listeners is a few datagrams even on a big server.
    const MAX_DATAGRAMS: usize = 10_000;

    /// Every IPv4 and IPv6 TCP listener with its backlog. The flag is false
    /// when the IPv6 dump failed (IPv6 disabled, or not allowed): the caller
    /// then reads `/proc/net/tcp6`. An IPv4 failure is the error.
    pub(super) fn listeners() -> io::Result<(Vec<(RawSocket, u32)>, bool)> {
        let mut out = Vec::new();
        dump(AddressFamily::INET, &mut out)?;
        let mut v6 = Vec::new();
        let v6_ok = dump(AddressFamily::INET6, &mut v6).is_ok();
        if v6_ok {
            out.extend(v6);
        }
        Ok((out, v6_ok))
    }

    fn request(family: AddressFamily) -> Vec<u8> {
        let len = NLMSG_HDRLEN + 56;
        let mut b = Vec::with_capacity(len);
        b.extend_from_slice(&(len as u32).to_ne_bytes());
        b.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
        b.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
        b.extend_from_slice(&1u32.to_ne_bytes()); // sequence
        b.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel fills it
        // struct inet_diag_req_v2: family, protocol, ext, pad, states, id.
        b.push(family.as_raw() as u8);
        b.push(IPPROTO_TCP);
        b.push(0);
        b.push(0);
        b.extend_from_slice(&(1u32 << TCP_LISTEN).to_ne_bytes());
        b.resize(len, 0); // struct inet_diag_sockid: all zero, match any
        b
    }

    fn dump(family: AddressFamily, out: &mut Vec<(RawSocket, u32)>) -> io::Result<()> {
        let fd = rustix::net::socket(
            AddressFamily::NETLINK,
            SocketType::DGRAM,
            Some(netlink::SOCK_DIAG),
        )?;
        set_socket_timeout(&fd, Timeout::Recv, Some(Duration::from_secs(1)))?;
        rustix::net::sendto(
            &fd,
            &request(family),
            SendFlags::empty(),
            &SocketAddrNetlink::new(0, 0),
        )?;
        let mut buf = vec![0u8; 64 * 1024];
        for _ in 0..MAX_DATAGRAMS {
            let (n, _) = rustix::net::recv(&fd, &mut buf[..], RecvFlags::empty())?;
            match parse(&buf[..n], out) {
                Parsed::More => {}
                Parsed::Done => return Ok(()),
                Parsed::Error(errno) => {
                    return Err(io::Error::from_raw_os_error(errno));
                }
            }
        }
        Ok(())
    }

    /// What one datagram of the dump said.
    #[derive(Debug, PartialEq, Eq)]
    pub(super) enum Parsed {
        /// Messages read; the dump goes on.
        More,
        /// The end of the dump.
        Done,
        /// The kernel refused the request (a positive errno).
        Error(i32),
    }

    fn u32_at(b: &[u8], at: usize) -> Option<u32> {
        Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
    }

    fn u16_at(b: &[u8], at: usize) -> Option<u16> {
        Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
    }

    /// One `struct inet_diag_msg`: family at 0, state at 1, the source port
    /// (big-endian) at 4, the source address at 8, `idiag_rqueue` at 56,
    /// `idiag_wqueue` (a listener's backlog) at 60, uid at 64, inode at 68.
    fn listener(p: &[u8]) -> Option<(RawSocket, u32)> {
        let port = u16::from_be_bytes(p.get(4..6)?.try_into().ok()?);
        let (ip, any) = match *p.first()? {
            AF_INET => {
                let a: [u8; 4] = p.get(8..12)?.try_into().ok()?;
                (IpAddr::from(a), IpAddr::V4(Ipv4Addr::UNSPECIFIED))
            }
            AF_INET6 => {
                let a: [u8; 16] = p.get(8..24)?.try_into().ok()?;
                (IpAddr::from(a), IpAddr::V6(Ipv6Addr::UNSPECIFIED))
            }
            _ => return None,
        };
        let sock = RawSocket {
            local: SocketAddr::new(ip, port),
            remote: SocketAddr::new(any, 0),
            state: TCP_LISTEN_STATE,
            tx_queue: 0,
            rx_queue: u32_at(p, 56)?,
            uid: u32_at(p, 64)?,
            inode: u64::from(u32_at(p, 68)?),
        };
        Some((sock, u32_at(p, 60)?))
    }

    /// Parse one datagram of `inet_diag_msg` replies into `out`.
    pub(super) fn parse(mut b: &[u8], out: &mut Vec<(RawSocket, u32)>) -> Parsed {
        while b.len() >= NLMSG_HDRLEN {
            let (Some(len), Some(kind)) = (u32_at(b, 0), u16_at(b, 4)) else {
                break;
            };
            let len = len as usize;
            if len < NLMSG_HDRLEN || len > b.len() {
                break;
            }
            let payload = &b[NLMSG_HDRLEN..len];
            match kind {
                NLMSG_DONE => return Parsed::Done,
                NLMSG_ERROR => {
                    let errno = u32_at(payload, 0).map_or(0, |e| e as i32);
                    return if errno == 0 {
                        Parsed::Done
                    } else {
                        Parsed::Error(-errno)
                    };
                }
                SOCK_DIAG_BY_FAMILY if payload.len() >= INET_DIAG_MSG_LEN => {
                    // Only listeners were asked for; the state is checked anyway.
                    if payload[1] == TCP_LISTEN_STATE
                        && let Some(l) = listener(payload)
                    {
                        out.push(l);
                    }
                }
                _ => {}
            }
            // Messages are aligned to 4 bytes.
            let next = (len + 3) & !3;
            b = b.get(next..).unwrap_or_default();
        }
        Parsed::More
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn msg(kind: u16, payload: &[u8]) -> Vec<u8> {
            let mut b = Vec::new();
            b.extend_from_slice(&((NLMSG_HDRLEN + payload.len()) as u32).to_ne_bytes());
            b.extend_from_slice(&kind.to_ne_bytes());
            b.extend_from_slice(&[0; 10]);
            b.extend_from_slice(payload);
            b
        }

        fn diag_msg(addr: SocketAddr, inode: u32, rqueue: u32, wqueue: u32) -> Vec<u8> {
            let mut p = vec![0u8; INET_DIAG_MSG_LEN];
            p[1] = 10;
            p[4..6].copy_from_slice(&addr.port().to_be_bytes());
            match addr.ip() {
                IpAddr::V4(ip) => {
                    p[0] = AF_INET;
                    p[8..12].copy_from_slice(&ip.octets());
                }
                IpAddr::V6(ip) => {
                    p[0] = AF_INET6;
                    p[8..24].copy_from_slice(&ip.octets());
                }
            }
            p[56..60].copy_from_slice(&rqueue.to_ne_bytes());
            p[60..64].copy_from_slice(&wqueue.to_ne_bytes());
            p[64..68].copy_from_slice(&33u32.to_ne_bytes());
            p[68..72].copy_from_slice(&inode.to_ne_bytes());
            p
        }

        #[test]
        fn parses_listeners_then_done() {
            let mut out = Vec::new();
            let a: SocketAddr = "127.0.0.1:8080".parse().unwrap();
            let b: SocketAddr = "[::]:443".parse().unwrap();
            let mut d = msg(SOCK_DIAG_BY_FAMILY, &diag_msg(a, 11679, 1, 128));
            d.extend(msg(SOCK_DIAG_BY_FAMILY, &diag_msg(b, 1060, 0, 4096)));
            assert_eq!(parse(&d, &mut out), Parsed::More);
            assert_eq!(parse(&msg(NLMSG_DONE, &[0; 4]), &mut out), Parsed::Done);
            assert_eq!(out.len(), 2);
            let (s, backlog) = &out[0];
            assert_eq!((s.local, s.inode, s.rx_queue, s.uid), (a, 11679, 1, 33));
            assert!(s.is_listening());
            assert_eq!(*backlog, 128);
            assert_eq!((out[1].0.local, out[1].1), (b, 4096));
        }

        #[test]
        fn an_error_reply_carries_the_errno() {
            let mut out = Vec::new();
            let err = msg(NLMSG_ERROR, &(-13i32).to_ne_bytes());
            assert_eq!(parse(&err, &mut out), Parsed::Error(13));
            assert!(out.is_empty());
        }

        #[test]
        fn truncated_input_is_ignored() {
            let mut out = Vec::new();
            assert_eq!(parse(&[1, 2, 3], &mut out), Parsed::More);
            let a: SocketAddr = "127.0.0.1:1".parse().unwrap();
            let mut d = msg(SOCK_DIAG_BY_FAMILY, &diag_msg(a, 1, 0, 5));
            d.truncate(40);
            assert_eq!(parse(&d, &mut out), Parsed::More);
            assert!(out.is_empty());
        }

        #[test]
        fn reads_this_hosts_listeners_as_proc_net_tcp_does() {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = l.local_addr().unwrap();
            let (found, _) = listeners().unwrap();
            let proc = crate::procfs::read_tcp_listeners(std::path::Path::new("/proc/net/tcp"))
                .unwrap()
                .into_iter()
                .find(|s| s.local == addr)
                .unwrap();
            let (s, backlog) = found.iter().find(|(s, _)| s.local == addr).unwrap();
            assert_eq!((s.inode, s.uid), (proc.inode, proc.uid));
            // std listens with a backlog of 128 (capped by somaxconn).
            assert!(*backlog > 0);
        }
    }
}
